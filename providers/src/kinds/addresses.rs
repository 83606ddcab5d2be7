//! `addresses`: the IPv4 and IPv6 addresses of a node's interface (with their prefixes).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{is_link_local, nets_v4_v6, Item, Lab, Seeing, Seen};
use crate::netlink::{Addr, Link};
use crate::Result;

pub const KIND: &str = "addresses";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ifname: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

/// The addresses change in place; another interface is another resource.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "ifname")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let nl = lab.nl(&self.node).await?;
        lab.sync_addrs(&nl, &self.ifname, &nets_v4_v6(&self.ipv4, &self.ipv6)?).await?;
        Ok(json!({}))
    }

    async fn read(self, _: &Lab, _: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let Some(view) = seeing.views.node_view(&self.node) else { return Ok(Seen::Missing) };
        Ok(seen(&view.links, &view.addrs, &self.ifname, (&self.ipv4, &self.ipv6)))
    }

    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        self.create(lab, it).await
    }

    /// What lives in a node goes with it; when the node still runs, undo it.
    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        if let Ok(nl) = lab.nl(&self.node).await {
            if nl.link_by_name(&self.ifname).await?.is_some() {
                lab.sync_addrs(&nl, &self.ifname, &[]).await?;
            }
        }
        Ok(())
    }
}

/// One interface's addresses as refresh reports them (link-local ones are the kernel's, not ours).
pub(crate) fn seen(links: &[Link], addrs: &[Addr], ifname: &str, (ipv4, ipv6): (&[String], &[String])) -> Seen {
    let Some(link) = links.iter().find(|l| l.name == ifname) else { return Seen::Missing };
    let have: Vec<IpNet> =
        addrs.iter().filter(|a| a.index == link.index).map(|a| a.net).filter(|n| !is_link_local(n)).collect();
    let v4: Vec<String> = have.iter().filter(|n| n.addr().is_ipv4()).map(|n| n.to_string()).collect();
    let v6: Vec<String> = have.iter().filter(|n| n.addr().is_ipv6()).map(|n| n.to_string()).collect();
    let mut m = Map::new();
    m.insert("ipv4".into(), as_recorded(v4, ipv4));
    m.insert("ipv6".into(), as_recorded(v6, ipv6));
    Seen::Present(m)
}

/// The same list as `recorded` when it holds the same items (order is the scenario's, not the
/// kernel's), else the observed list.
fn as_recorded(observed: Vec<String>, recorded: &[String]) -> Value {
    let a: BTreeSet<&String> = observed.iter().collect();
    let b: BTreeSet<&String> = recorded.iter().collect();
    if a == b {
        json!(recorded)
    } else {
        json!(observed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str) -> Link {
        Link { index, name: name.into(), up: true, ..Default::default() }
    }

    fn addr(index: u32, net: &str) -> Addr {
        Addr { index, net: net.parse().unwrap(), label: None }
    }

    #[test]
    fn the_kernels_order_and_link_local_addresses_are_not_drift() {
        let links = [link(2, "eth1"), link(3, "eth2")];
        let addrs = [addr(2, "fe80::1/64"), addr(2, "10.0.0.2/24"), addr(2, "10.0.0.1/24"), addr(3, "10.9.0.1/24")];
        let want = (["10.0.0.1/24".to_string(), "10.0.0.2/24".to_string()], []);
        let Seen::Present(m) = seen(&links, &addrs, "eth1", (&want.0, &want.1)) else { panic!("eth1 is there") };
        assert_eq!(m["ipv4"], json!(want.0), "the recorded order, not the kernel's");
        assert_eq!(m["ipv6"], json!([]), "a link-local address is the kernel's");
        // One missing: the kernel's list, which the planner shows as drift.
        let Seen::Present(m) = seen(&links, &addrs[..2], "eth1", (&want.0, &want.1)) else { panic!() };
        assert_eq!(m["ipv4"], json!(["10.0.0.2/24"]));
        assert_eq!(seen(&links, &addrs, "eth7", (&want.0, &want.1)), Seen::Missing);
    }
}
