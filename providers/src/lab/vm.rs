//! The lab provider's virtual machines: a VM node is a libvirt domain; its addresses, routes
//! and forwarding are changed through the guest agent; its management link is the tap libvirt
//! makes. (Built with the `libvirt` feature; without it, VM resources fail with that reason.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use super::refresh::NodeView;
use super::{nets_v4_v6, Item, Lab, Seen, Views};
use crate::kinds::typed;
use crate::kinds::{addresses, forwarding, mgmt, node, routes};
use crate::libvirt::{self, Agent, Hypervisor, VmPaths};
use crate::netlink::{Addr, Link, LinkChange, Route};
use crate::{Error, Result};

/// How long a guest may take to boot and answer (TCG emulation is slow).
const BOOT_LIMIT: Duration = Duration::from_secs(180);
/// How long a graceful shutdown may take before the domain is stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

impl Lab {
    fn hv(&self) -> Result<Arc<Hypervisor>> {
        let mut g = self.hv.lock().expect("not poisoned");
        if let Some(h) = &*g {
            return Ok(h.clone());
        }
        let h = Arc::new(Hypervisor::connect(&self.libvirt_uri)?);
        *g = Some(h.clone());
        Ok(h)
    }

    fn vm_paths(&self, node: &str) -> Result<VmPaths> {
        Ok(VmPaths::new(&self.node_dir(node)?, &self.scenario, node))
    }

    /// The node's domain's name (as `plan/vm.rs` names it).
    fn domain_name(&self, node: &str) -> String {
        crate::names::node_netns(&self.scenario, node)
    }

    /// Runs `f` with the hypervisor and the node's domain (None when it does not exist) on a
    /// blocking thread: libvirt's calls block.
    async fn with_domain<T: Send + 'static>(
        &self,
        node: &str,
        f: impl FnOnce(&Hypervisor, Option<virt::domain::Domain>, &VmPaths) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let hv = self.hv()?;
        let (name, scen, node, paths) =
            (self.domain_name(node), self.scenario.clone(), node.to_string(), self.vm_paths(node)?);
        tokio::task::spawn_blocking(move || {
            let d = hv.domain(&name, &scen, &node)?;
            f(&hv, d, &paths)
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))?
    }

    pub(super) fn agent(&self, node: &str) -> Result<Agent> {
        Ok(Agent { socket: self.vm_paths(node)?.socket })
    }

    /// Runs a script in the guest through its agent, one request at a time per guest.
    pub(super) async fn guest(&self, node: &str, script: String) -> Result<String> {
        let turn = self.agent_turns.lock().expect("not poisoned").entry(node.to_string()).or_default().clone();
        let _turn = turn.lock().await;
        let agent = self.agent(node)?;
        tokio::task::spawn_blocking(move || agent.run(&script)).await.map_err(|e| Error::Other(e.to_string()))?
    }

    pub(super) async fn vm_create(&self, it: &Item) -> Result<Value> {
        match it.kind.as_str() {
            node::KIND => {
                let n: node::Attrs = typed(it)?;
                let vm =
                    n.vm.clone().ok_or_else(|| Error::Other(format!("node {} has no domain definition", it.name)))?;
                let paths = self.vm_paths(&it.name)?;
                // A leftover of an interrupted apply goes first.
                self.with_domain(&it.name, |hv, d, _| d.map_or(Ok(()), |d| hv.remove(&d))).await?;
                let _ = std::fs::remove_dir_all(&paths.dir);
                std::fs::create_dir_all(&paths.dir)
                    .map_err(|e| Error::Other(format!("{}: {e}", paths.dir.display())))?;
                std::fs::create_dir_all("/run/vnx").map_err(|e| Error::Other(format!("/run/vnx: {e}")))?;
                if let Some(d) = vm.disk.as_ref().filter(|d| d.kind != "direct") {
                    libvirt::make_overlay(std::path::Path::new(&d.path), &paths.disk())?;
                }
                let config = n.config.clone().unwrap_or_default();
                libvirt::make_config_iso(&config, &paths.iso())?;
                let dtype = libvirt::domain_type(&self.domain_type);
                let xml = libvirt::domain_xml(&vm, dtype, &self.scenario, &it.name, &paths);
                let hv = self.hv()?;
                tokio::task::spawn_blocking(move || hv.define(&xml).map(|_| ()))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))??;
                let mut runtime = self.vm_set_run(&it.name, &n.run).await?;
                runtime["type"] = json!(dtype);
                Ok(runtime)
            }
            mgmt::KIND => {
                self.vm_mgmt_host_side(&typed(it)?).await?;
                Ok(json!({}))
            }
            addresses::KIND => {
                let a: addresses::Attrs = typed(it)?;
                let mut script = format!("ip link set {} up\n", a.ifname);
                for n in nets_v4_v6(&a.ipv4, &a.ipv6)? {
                    script.push_str(&add_addr(&n, &a.ifname));
                }
                self.guest(&a.node, script).await?;
                Ok(json!({}))
            }
            routes::KIND => {
                let r: routes::Attrs = typed(it)?;
                self.guest(&r.node, routes_script(&[], &r.routes)).await?;
                Ok(json!({}))
            }
            forwarding::KIND => {
                let f: forwarding::Attrs = typed(it)?;
                self.guest(&f.node, forwarding_script(&f)).await?;
                Ok(json!({}))
            }
            other => Err(Error::Other(format!("no provider for virtual machine resources of kind `{other}`"))),
        }
    }

    /// The host side of a VM's private management link: the tap libvirt made, addressed.
    async fn vm_mgmt_host_side(&self, m: &mgmt::Attrs) -> Result<()> {
        let (tap, Some(addr)) = (m.host_name.as_str(), m.host_addr.as_deref()) else { return Ok(()) };
        if self.vms_running(&m.node).await? != libvirt::RUNNING {
            return Ok(()); // the tap exists only while the domain runs
        }
        let net: IpNet = addr.parse().map_err(|_| Error::Other(format!("bad address {addr}")))?;
        let index = self.index_in(&self.host, tap).await?;
        self.host.set_link(index, LinkChange { up: Some(true), ..Default::default() }).await?;
        self.sync_addrs(&self.host, tap, &[net]).await
    }

    async fn vms_running(&self, node: &str) -> Result<&'static str> {
        self.with_domain(node, |hv, d, paths| match d {
            Some(d) => hv.run_state(&d, paths),
            None => Ok(libvirt::SHUTOFF),
        })
        .await
    }

    pub(super) async fn vm_update(&self, old: &Item, new: &Item) -> Result<Value> {
        match new.kind.as_str() {
            node::KIND => {
                let (was, n): (node::Attrs, node::Attrs) = (typed(old)?, typed(new)?);
                // The configuration drive is read at boot: the next boot sees the change (the
                // running guest gets it through the agent, resource by resource).
                if was.config != n.config {
                    let config = n.config.clone().unwrap_or_default();
                    libvirt::make_config_iso(&config, &self.vm_paths(&new.name)?.iso())?;
                }
                let mut runtime = self.vm_set_run(&new.name, &n.run).await?;
                if let Some(t) = old.runtime.get("type") {
                    runtime["type"] = t.clone();
                }
                Ok(runtime)
            }
            // Setting them again is the change.
            mgmt::KIND | forwarding::KIND => self.vm_create(new).await,
            addresses::KIND => {
                let (was, a): (addresses::Attrs, addresses::Attrs) = (typed(old)?, typed(new)?);
                let ifname = a.ifname.as_str();
                let want = nets_v4_v6(&a.ipv4, &a.ipv6)?;
                let had = nets_v4_v6(&was.ipv4, &was.ipv6)?;
                // The new ones first, so the interface is never without an address; removing
                // the old primary must not take the new one (of the same subnet) along.
                let mut script =
                    "for f in /proc/sys/net/ipv4/conf/*/promote_secondaries; do echo 1 > $f; done\n".to_string();
                for n in &want {
                    script.push_str(&add_addr(n, ifname));
                }
                for n in had.iter().filter(|n| !want.contains(n)) {
                    script.push_str(&format!("ip addr del {n} dev {ifname} 2>/dev/null || true\n"));
                }
                self.guest(&a.node, script).await?;
                Ok(json!({}))
            }
            routes::KIND => {
                let (was, r): (routes::Attrs, routes::Attrs) = (typed(old)?, typed(new)?);
                self.guest(&r.node, routes_script(&was.routes, &r.routes)).await?;
                Ok(json!({}))
            }
            other => Err(Error::Other(format!(
                "{other}.{} of a virtual machine cannot change in place: its kind must say that these attributes force a replacement",
                new.name
            ))),
        }
    }

    pub(super) async fn vm_delete(&self, it: &Item) -> Result<()> {
        match it.kind.as_str() {
            node::KIND => {
                self.with_domain(&it.name, |hv, d, _| d.map_or(Ok(()), |d| hv.remove(&d))).await?;
                let paths = self.vm_paths(&it.name)?;
                let _ = std::fs::remove_dir_all(&paths.dir);
                let _ = std::fs::remove_file(&paths.socket);
                Ok(())
            }
            // With the domain gone they are gone; a running guest forgets them.
            addresses::KIND | routes::KIND | forwarding::KIND => {
                let node = crate::kinds::placement(&it.kind, |k| it.attrs.get(k)).node.unwrap_or_default().to_string();
                if self.vms_running(&node).await.ok() != Some(libvirt::RUNNING) {
                    return Ok(());
                }
                let script = match it.kind.as_str() {
                    addresses::KIND => {
                        let a: addresses::Attrs = typed(it)?;
                        nets_v4_v6(&a.ipv4, &a.ipv6)?
                            .into_iter()
                            .map(|n| format!("ip addr del {n} dev {} 2>/dev/null || true\n", a.ifname))
                            .collect()
                    }
                    routes::KIND => routes_script(&typed::<routes::Attrs>(it)?.routes, &[]),
                    _ => "echo 0 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv6/conf/all/forwarding\n"
                        .into(),
                };
                self.guest(&node, script).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Brings a VM to run state `want` (running, paused, shutoff, saved); its runtime facts.
    pub(super) async fn vm_set_run(&self, node: &str, want: &str) -> Result<Value> {
        let want = want.to_string();
        let agent = self.agent(node)?;
        self.with_domain(node, move |hv, d, paths| {
            let d = d.ok_or_else(|| Error::Node("the domain does not exist".into()))?;
            let now = hv.run_state(&d, paths)?;
            match (now, want.as_str()) {
                (n, w) if n == w => {}
                (libvirt::PAUSED, libvirt::RUNNING) => hv.resume(&d)?,
                (libvirt::RUNNING, libvirt::PAUSED) => hv.suspend(&d)?,
                (libvirt::RUNNING | libvirt::PAUSED, libvirt::SAVED) => hv.save(&d, paths)?,
                (libvirt::RUNNING | libvirt::PAUSED, libvirt::SHUTOFF) => hv.shutdown(&d, &agent, SHUTDOWN_GRACE)?,
                (libvirt::SAVED, libvirt::SHUTOFF) => {
                    let _ = std::fs::remove_file(paths.saved());
                }
                (_, w) => {
                    // Off or saved → running (then paused or saved again if asked).
                    hv.start(&d, paths)?;
                    agent.wait(BOOT_LIMIT)?;
                    match w {
                        libvirt::PAUSED => hv.suspend(&d)?,
                        libvirt::SAVED => hv.save(&d, paths)?,
                        _ => {}
                    }
                }
            }
            let state = hv.run_state(&d, paths)?;
            let boot_id = if state == libvirt::RUNNING { agent.wait(BOOT_LIMIT).ok() } else { None };
            Ok(json!({"domain": d.name().unwrap_or_default(), "run": state, "boot_id": boot_id}))
        })
        .await
    }

    /// The guest's links, addresses and routes, read through its agent once per refresh.
    pub(super) async fn vm_view(&self, node: &str, views: &Views) -> Result<Option<Arc<NodeView>>> {
        let cell = views.vms.lock().await.entry(node.to_string()).or_default().clone();
        cell.get_or_try_init(|| async {
            let out = self
                .guest(node, "echo @addr; ip -o addr show; echo @route; ip route show; ip -6 route show\n".into())
                .await
                .map_err(|e| Error::Node(format!("reading {node}'s addresses and routes: {e}")))?;
            Ok::<_, Error>(Some(Arc::new(parse_view(&out))))
        })
        .await
        .cloned()
    }

    pub(super) async fn vm_refresh(&self, it: &Item, host_links: &[Link], views: &Views) -> Result<Seen> {
        match it.kind.as_str() {
            node::KIND => {
                let state =
                    self.with_domain(&it.name, |hv, d, paths| d.map(|d| hv.run_state(&d, paths)).transpose()).await?;
                Ok(match state {
                    None => Seen::Missing,
                    Some(run) => Seen::Present([("run".to_string(), json!(run))].into_iter().collect()),
                })
            }
            mgmt::KIND => {
                let m: mgmt::Attrs = typed(it)?;
                let running = self.vms_running(&m.node).await.ok() == Some(libvirt::RUNNING);
                Ok(if !running || m.bridge.is_some() || host_links.iter().any(|l| l.name == m.host_name) {
                    Seen::Present(Map::new())
                } else {
                    Seen::Missing
                })
            }
            // A guest that is not running keeps what it had: nothing to read, nothing drifted.
            addresses::KIND | routes::KIND | forwarding::KIND => {
                let at = crate::kinds::placement(&it.kind, |k| it.attrs.get(k));
                let node = at.node.unwrap_or_default();
                if self.vms_running(node).await.ok() != Some(libvirt::RUNNING) {
                    return Ok(Seen::Present(Map::new()));
                }
                if it.kind == forwarding::KIND {
                    let out = self
                        .guest(
                            node,
                            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding\n".into(),
                        )
                        .await?;
                    let mut l = out.lines();
                    let (v4, v6) = (l.next() == Some("1"), l.next() == Some("1"));
                    return Ok(Seen::Present(
                        [("ipv4".to_string(), json!(v4)), ("ipv6".to_string(), json!(v6))].into_iter().collect(),
                    ));
                }
                let Some(view) = self.vm_view(node, views).await? else { return Ok(Seen::Missing) };
                if it.kind == addresses::KIND {
                    let a: addresses::Attrs = typed(it)?;
                    return Ok(addresses::seen(&view.links, &view.addrs, &a.ifname, (&a.ipv4, &a.ipv6)));
                }
                let r: routes::Attrs = typed(it)?;
                Ok(Seen::Present([("routes".to_string(), routes::seen(&view.routes, &r.routes))].into_iter().collect()))
            }
            _ => Ok(Seen::Present(Map::new())),
        }
    }
}

/// A resource's addresses, both families.
fn add_addr(n: &IpNet, ifname: &str) -> String {
    match n {
        IpNet::V4(_) => format!("ip addr replace {n} dev {ifname}\n"),
        IpNet::V6(_) => format!("ip -6 addr replace {n} dev {ifname} nodad\n"),
    }
}

fn routes_script(old: &[routes::Route], new: &[routes::Route]) -> String {
    let key = |r: &routes::Route| (r.to.clone(), r.gw.clone());
    let keep: Vec<_> = new.iter().map(key).collect();
    let mut script = String::new();
    for (to, gw) in old.iter().map(key).filter(|k| !keep.contains(k)) {
        let fam = if gw.contains(':') { "-6 " } else { "" };
        script.push_str(&format!("ip {fam}route del {to} via {gw} 2>/dev/null || true\n"));
    }
    for (to, gw) in keep {
        let fam = if gw.contains(':') { "-6 " } else { "" };
        script.push_str(&format!("ip {fam}route replace {to} via {gw}\n"));
    }
    script
}

fn forwarding_script(f: &forwarding::Attrs) -> String {
    format!(
        "echo {} > /proc/sys/net/ipv4/ip_forward\necho {} > /proc/sys/net/ipv6/conf/all/forwarding\n",
        u8::from(f.ipv4),
        u8::from(f.ipv6)
    )
}

/// Parses the guest's `ip -o addr show` and `ip route show` (busybox or iproute2) into the
/// shapes netlink dumps give, so the `ns` nodes' comparisons serve VMs too.
fn parse_view(out: &str) -> NodeView {
    let (mut links, mut addrs, mut routes) = (Vec::<Link>::new(), Vec::new(), Vec::new());
    let mut index_of: HashMap<String, u32> = HashMap::new();
    let mut section = "";
    for line in out.lines() {
        if let Some(sec) = line.strip_prefix('@') {
            section = if sec == "addr" { "addr" } else { "route" };
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        match section {
            "addr" if w.len() >= 4 && (w[2] == "inet" || w[2] == "inet6") => {
                let name = w[1].trim_end_matches(':').to_string();
                let next = index_of.len() as u32 + 1;
                let index = *index_of.entry(name.clone()).or_insert_with(|| {
                    links.push(Link { index: next, name: name.clone(), up: true, ..Link::default() });
                    next
                });
                if let Ok(net) = w[3].parse::<IpNet>() {
                    addrs.push(Addr { index, net, label: None });
                }
            }
            "route" if w.len() >= 3 && w[1] == "via" => {
                let dest: Option<IpNet> = if w[0] == "default" {
                    (if w[2].contains(':') { "::/0" } else { "0.0.0.0/0" }).parse().ok()
                } else {
                    w[0].parse::<IpNet>().ok().or_else(|| w[0].parse::<std::net::IpAddr>().ok().map(IpNet::from))
                };
                if let (Some(dest), Ok(gw)) = (dest, w[2].parse()) {
                    routes.push(Route { dest, gw });
                }
            }
            _ => {}
        }
    }
    NodeView { links, addrs, routes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_views_parse() {
        let out = "@addr\n1: lo    inet 127.0.0.1/8 scope host lo\n2: eth1    inet 10.1.0.2/24 scope global eth1\n2: eth1    inet6 2001:db8::2/64 scope global \n@route\ndefault via 10.1.0.1 dev eth1\n10.1.0.0/24 dev eth1 scope link  src 10.1.0.2\n2001:db8:2::/64 via 2001:db8::1 dev eth1  metric 1024\n";
        let v = parse_view(out);
        assert_eq!(v.links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["lo", "eth1"]);
        assert_eq!(v.addrs.len(), 3);
        assert_eq!(v.routes.len(), 2);
        assert_eq!(v.routes[0].dest.to_string(), "0.0.0.0/0");
        assert_eq!(v.routes[1].gw.to_string(), "2001:db8::1");
    }
}
