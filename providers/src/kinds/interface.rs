//! `interface`: a node's interface on a bridge net: a veth pair, one end in the node, the other
//! a port of the net's bridge.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{parse_mac, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::Result;

pub const KIND: &str = "interface";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub net: String,
    /// The net's bridge; none for a net without one.
    pub bridge: Option<String>,
    /// The bridge-side end's kernel name (hashed).
    pub host_name: String,
    /// The namespace of the bridge-side end (the lab's), or none: the host's.
    pub host_netns: Option<String>,
    /// Its name in the node (`eth1`).
    pub ifname: String,
    pub mac: Option<String>,
    pub mtu: Option<u64>,
    pub up: bool,
}

/// It moves between nets (bridge) and changes MAC, MTU and state in place.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "host_name" | "ifname" | "host_netns")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        let (host_name, ifname) = (self.host_name.as_str(), self.ifname.as_str());
        let mtu = self.mtu.map(|m| m as u32);
        let (up, node, mac) = (self.up, self.node.as_str(), self.mac.as_deref().and_then(parse_mac));
        if self.host_netns.is_some() {
            // The lab's end is born on its bridge and up, in one request; then it gets its
            // mark (`ip link` shows whose it is) and the node's end goes up. A leftover of an
            // interrupted apply ("File exists") takes the long way below.
            let master = lab.bridge_index(&side, self.bridge.as_deref()).await?;
            match side.add_veth_on(host_name, ifname, Some(&lab.netns(node)?), mac, mtu, master, up, lab.group()).await {
                Err(e) if e.errno() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
                Ok(()) => {
                    let mark = LinkChange { alias: Some(lab.alias(KIND, &it.name)), ..Default::default() };
                    lab.set_up_link(&side, host_name, mark).await?;
                    if up {
                        let nl = lab.nl(node).await?;
                        lab.set_up_link(&nl, ifname, LinkChange { up: Some(true), ..Default::default() }).await?;
                        // Its bridge has carrier now: applied at once, not queued (a read:
                        // failing it fails nothing).
                        if let Some(bridge) = master {
                            let _ = side.settle_link(bridge).await;
                        }
                    }
                    return Ok(json!({}));
                }
            }
        }
        let owner = (self.host_netns.is_none(), KIND, it.name.as_str());
        let nl = lab.veth_into_node(&side, owner, host_name, node, ifname, mac, mtu).await?;
        let master = lab.bridge_index(&side, self.bridge.as_deref()).await?;
        let host_end =
            LinkChange { up: Some(up), master, alias: Some(lab.alias(KIND, &it.name)), ..Default::default() };
        lab.set_up_link(&side, host_name, host_end).await?;
        lab.set_up_link(&nl, ifname, LinkChange { up: Some(up), ..Default::default() }).await?;
        if let Some(bridge) = master.filter(|_| up) {
            let _ = side.settle_link(bridge).await;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        Ok(match seeing.own(lab, it, &self.host_name) {
            None => Seen::Missing,
            Some(l) => {
                // The recorded bridge, looked up by name, is almost always the master.
                let master = l.master.and_then(|m| {
                    self.bridge
                        .as_deref()
                        .and_then(|b| seeing.by_name(b))
                        .filter(|b| b.index == m)
                        .or_else(|| seeing.links.iter().find(|x| x.index == m))
                        .map(|x| x.name.clone())
                });
                let mut m = Map::new();
                // A port of an Open vSwitch bridge has no Linux master (or the kernel
                // datapath's): the bridge is its `ovs-port`'s to read.
                if self.bridge.is_some() {
                    m.insert("bridge".into(), json!(master));
                }
                m.insert("up".into(), json!(l.up));
                Seen::Present(m)
            }
        })
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        let mut c = LinkChange::default();
        if was.bridge != self.bridge {
            c.master = Some(match &self.bridge {
                Some(b) => lab.index_in(&side, b).await?,
                None => 0,
            });
        }
        if was.mtu != self.mtu {
            c.mtu = self.mtu.map(|m| m as u32);
        }
        if was.up != self.up {
            c.up = Some(self.up);
        }
        let node_change = LinkChange {
            mtu: c.mtu,
            up: c.up,
            mac: if was.mac != self.mac { self.mac.as_deref().and_then(parse_mac) } else { None },
            ..Default::default()
        };
        lab.set_up_link(&side, &self.host_name, c).await?;
        let nl = lab.nl(&self.node).await?;
        lab.set_up_link(&nl, &self.ifname, node_change).await?;
        Ok(json!({}))
    }

    /// The host-side end: it takes its peer along.
    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        lab.delete_host_end(self.host_netns.as_deref(), &self.host_name, it).await
    }
}
