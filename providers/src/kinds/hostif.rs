//! `hostif`: the host on a net (VNX's `<hostif>`): a veth pair, one end in the host's namespace
//! with the addresses, the other a port of the net's bridge.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{addresses, Ops};
use crate::lab::{nets_v4_v6, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::Result;

pub const KIND: &str = "hostif";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub bridge: String,
    /// The host's end (hashed name).
    pub ifname: String,
    /// The bridge's end.
    pub peer: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    /// The lab's namespace, where the bridge's end goes instead, as a port of an Open vSwitch
    /// bridge there (its `ovs-port` adds it; `bridge` is that bridge).
    pub peer_netns: Option<String>,
}

/// The addresses change in place.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "bridge" | "ifname" | "peer" | "peer_netns")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let host = lab.host();
        let (ifname, peer, bridge) = (self.ifname.as_str(), self.peer.as_str(), self.bridge.as_str());
        lab.clear_way(host, true, ifname, KIND, &it.name).await?;
        let alias = Some(lab.alias(KIND, &it.name));
        if let Some(netns) = &self.peer_netns {
            // In the lab's namespace everything is the lab's: a leftover end goes.
            let side = lab.side(Some(netns)).await?;
            if let Some(l) = side.link_by_name(peer).await? {
                side.del_link(l.index).await?;
            }
            let fd = crate::ns::open_bound_netns(netns)
                .ok_or_else(|| crate::Error::Other(format!("the lab's network namespace {netns} is missing")))?;
            host.add_veth(ifname, peer, Some(&fd), None, None, lab.group()).await?;
            lab.set_up_link(&side, peer, LinkChange { up: Some(true), ..Default::default() }).await?;
        } else {
            lab.clear_way(host, true, peer, KIND, &it.name).await?;
            host.add_veth(ifname, peer, None, None, None, lab.group()).await?;
            let br = lab.index_in(host, bridge).await?;
            let port = LinkChange { up: Some(true), master: Some(br), alias: alias.clone(), ..Default::default() };
            lab.set_up_link(host, peer, port).await?;
        }
        lab.set_up_link(host, ifname, LinkChange { up: Some(true), alias, ..Default::default() }).await?;
        // Only on our own interface (the host's other settings are not ours to change).
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries"), "1");
        lab.sync_addrs(host, ifname, &nets_v4_v6(&self.ipv4, &self.ipv6)?).await?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        match seeing.own(lab, it, &self.ifname) {
            None => Ok(Seen::Missing),
            Some(_) => {
                let addrs = lab.host().addrs().await?;
                Ok(addresses::seen(seeing.links, &addrs, &self.ifname, (&self.ipv4, &self.ipv6)))
            }
        }
    }

    async fn update(self, _: Self, lab: &Lab, _: &Item) -> Result<Value> {
        lab.sync_addrs(lab.host(), &self.ifname, &nets_v4_v6(&self.ipv4, &self.ipv6)?).await?;
        Ok(json!({}))
    }

    /// The host's end: it takes its peer along.
    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        lab.delete_host_end(None, &self.ifname, it).await
    }
}
