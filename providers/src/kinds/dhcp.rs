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

    /// Whether the client still runs: its pid file names a dhclient of the node.
    fn running(&self, root: &NodeRoot) -> bool {
        let Ok(pid) = root.read(&self.file("/run", "pid")) else { return false };
        let pid = String::from_utf8_lossy(&pid).trim().to_string();
        !pid.is_empty()
            && pid.chars().all(|c| c.is_ascii_digit())
            && root.read(&format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with(b"dhclient"))
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

    /// The lease is given back (the server may hand it to another) and the client stops.
    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        let Ok(init) = lab.init(&self.node) else { return Ok(()) };
        let Ok(root) = NodeRoot::of(&init) else { return Ok(()) };
        if self.running(&root) {
            self.dhclient(&init, &["-r"])?;
        }
        Ok(())
    }
}
