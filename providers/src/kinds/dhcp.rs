//! `dhcp`: a DHCP client on a node's interface (`<ipv4>dhcp</ipv4>`, `dhcp,A.B.C.D`,
//! `<ipv6>dhcp</ipv6>`): ISC's dhclient, started in the node (its own root and /run, so its
//! configuration, leases, pid file and `/etc/resolv.conf` are the node's), where it keeps
//! renewing the lease. The leased address is the kernel's, as dhclient set it: no other
//! resource claims it, so refresh does not call it drift.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::noderoot::NodeRoot;
use crate::{ns, Error, Result};

pub const KIND: &str = "dhcp";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ifname: String,
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// The address asked for (`dhcp,A.B.C.D`).
    pub requested: Option<String>,
    /// The interface's MAC, when the scenario sets it: what a server knows the client by (its
    /// fixed hosts), so a new one asks anew.
    pub mac: Option<String>,
}

/// A client is started anew on any change.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}

impl Attrs {
    /// The client's files in the node, one set per interface and family.
    fn file(&self, dir: &str, ext: &str) -> String {
        format!("{dir}/dhclient-{}-{}.{ext}", self.family, self.ifname)
    }

    fn flag(&self) -> &'static str {
        if self.family == "ipv6" {
            "-6"
        } else {
            "-4"
        }
    }

    /// dhclient with these arguments, in the node.
    fn dhclient(&self, init: &ns::Init, args: &[&str]) -> Result<()> {
        let (conf, pid, leases) = (self.file("/run", "conf"), self.file("/run", "pid"), self.file("/run", "leases"));
        let mut all = vec![self.flag(), "-cf", &conf, "-pf", &pid, "-lf", &leases];
        all.extend(args);
        all.push(&self.ifname);
        let out = ns::command_in(init, "dhclient", &all).output().map_err(|e| Error::io("running dhclient", e))?;
        if !out.status.success() {
            return Err(Error::Node(format!(
                "dhclient on {} of node {}: {}",
                self.ifname,
                self.node,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// The client's pid (in the node's PID namespace) while it runs.
    fn pid(&self, root: &NodeRoot) -> Option<String> {
        root.live_pid(&self.file("/run", "pid"), "dhclient")
    }

    fn running(&self, root: &NodeRoot) -> bool {
        self.pid(root).is_some()
    }
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let init = lab.init(&self.node)?;
        let root = NodeRoot::of(&init).map_err(|e| Error::io("the node's root", e))?;
        // The requested address is an IPv4 address (the scenario's parser made sure of it).
        let conf = match &self.requested {
            Some(a) => format!("send dhcp-requested-address {a};\n"),
            None => String::new(),
        };
        root.write(&self.file("/run", "conf"), conf.as_bytes(), 0o644).map_err(|e| Error::io("dhclient's configuration", e))?;
        // -nw: into the background at once; the lease comes when a server answers.
        self.dhclient(&init, &["-nw"])?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let Ok(init) = lab.init(&self.node) else { return Ok(Seen::Missing) };
        let Ok(root) = NodeRoot::of(&init) else { return Ok(Seen::Missing) };
        if self.running(&root) {
            Ok(Seen::Present(Map::new()))
        } else {
            Ok(Seen::Missing)
        }
    }

    /// The client stops and its leased address goes. Not `dhclient -r`: its script flushes
    /// the interface's addresses when it gets to run, which may be after the static addresses
    /// that replace the lease were set (nothing orders this delete before their create); the
    /// lease's own address is removed here instead, and the server lets it expire.
    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        let Ok(init) = lab.init(&self.node) else { return Ok(()) };
        let Ok(root) = NodeRoot::of(&init) else { return Ok(()) };
        if let Some(pid) = self.pid(&root) {
            let _ = ns::command_in(&init, "kill", &[&pid]).status();
            for _ in 0..50 {
                if !self.running(&root) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let leases = root.read(&self.file("/run", "leases")).unwrap_or_default();
        let leased = String::from_utf8_lossy(&leases)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("fixed-address ")?.strip_suffix(';')?.parse::<std::net::IpAddr>().ok())
            .next_back();
        if let Some(ip) = leased {
            let nl = lab.nl(&self.node).await?;
            if let Some(link) = nl.link_by_name(&self.ifname).await? {
                for a in nl.addrs().await?.into_iter().filter(|a| a.index == link.index && a.net.addr() == ip) {
                    nl.del_addr(link.index, a.net).await?;
                }
            }
        }
        Ok(())
    }
}
