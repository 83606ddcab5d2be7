//! `addresses`: the IPv4 and IPv6 addresses of a node's interface (with their prefixes).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{is_link_local, nets, Item, Lab, Seeing, Seen};
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

impl Attrs {
    /// Every address, IPv4 first.
    pub(crate) fn all(&self) -> Result<Vec<IpNet>> {
        let mut want = nets(&self.ipv4)?;
        want.extend(nets(&self.ipv6)?);
        Ok(want)
    }
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let nl = lab.nl(&self.node).await?;
        lab.sync_addrs(&nl, &self.ifname, &self.all()?).await?;
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
