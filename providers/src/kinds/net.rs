//! `net`: a net's Linux bridge (VNX's `virtual_bridge`), in the lab's namespace, or in the
//! host's when the host takes part.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{nets, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::{Error, Result};

pub const KIND: &str = "net";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The bridge's kernel name (hashed), or the user's bridge when not managed.
    pub bridge: String,
    /// vnx makes and removes the bridge (`managed="no"`: the user's, only used).
    pub managed: bool,
    pub mtu: Option<u64>,
    pub stp: bool,
    pub up: bool,
    /// A host NIC (or `NIC.VLAN`) made a port of the bridge.
    pub external: Option<String>,
    /// The lab's namespace when the bridge lives there; none: the host's.
    pub host_netns: Option<String>,
    /// The host's addresses on the bridge (the management net's).
    pub host_addrs: Option<Vec<String>>,
}

/// The MTU, STP and up state change in place: nodes on the net are not touched.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "bridge" | "managed" | "host_netns")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        let bridge = self.bridge.as_str();
        let existing = side.link_by_name(bridge).await?;
        if !self.managed {
            if existing.is_none() {
                return Err(Error::Other(format!(
                    "bridge {bridge} does not exist (the net is managed=\"no\": vnx never creates it)"
                )));
            }
        } else {
            if existing.is_some() {
                lab.clear_way(&side, self.host_netns.is_none(), bridge, KIND, &it.name).await?;
            }
            side.add_bridge(bridge, self.mtu.map(|m| m as u32), self.stp, lab.group()).await?;
            let change = LinkChange { up: Some(self.up), alias: Some(lab.alias(KIND, &it.name)), ..Default::default() };
            lab.set_up_link(&side, bridge, change).await?;
        }
        if let Some(ext) = &self.external {
            let br = lab.index_in(&side, bridge).await?;
            lab.set_up_link(&side, ext, LinkChange { up: Some(true), master: Some(br), ..Default::default() }).await?;
        }
        if let Some(addrs) = &self.host_addrs {
            let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{bridge}/promote_secondaries"), "1");
            lab.sync_addrs(&side, bridge, &nets(addrs)?).await?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        Ok(match seeing.own(lab, it, &self.bridge) {
            None => Seen::Missing,
            Some(l) => {
                let mut m = Map::new();
                m.insert("up".into(), json!(l.up));
                if self.mtu.is_some() {
                    m.insert("mtu".into(), json!(l.mtu));
                }
                Seen::Present(m)
            }
        })
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        let bridge = self.bridge.as_str();
        let index = lab.index_in(&side, bridge).await?;
        if was.mtu != self.mtu || was.up != self.up {
            let mtu = self.mtu.map(|m| m as u32);
            side.set_link(index, LinkChange { mtu, up: Some(self.up), ..Default::default() }).await?;
        }
        if was.stp != self.stp {
            side.set_bridge_stp(index, self.stp).await?;
        }
        if was.host_addrs != self.host_addrs {
            lab.sync_addrs(&side, bridge, &nets(self.host_addrs.as_deref().unwrap_or_default())?).await?;
        }
        if was.external != self.external {
            if let Some(old_ext) = &was.external {
                if let Some(l) = side.link_by_name(old_ext).await? {
                    side.set_link(l.index, LinkChange { master: Some(0), ..Default::default() }).await?;
                }
            }
            if let Some(ext) = &self.external {
                let change = LinkChange { up: Some(true), master: Some(index), ..Default::default() };
                lab.set_up_link(&side, ext, change).await?;
            }
        }
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        if let Some(ext) = &self.external {
            if let Some(l) = side.link_by_name(ext).await? {
                side.set_link(l.index, LinkChange { master: Some(0), ..Default::default() }).await?;
            }
        }
        if self.managed {
            if let Some(l) = side.link_by_name(&self.bridge).await? {
                // Not vnx's: left alone (refresh shows it as missing, so the plan said so).
                if self.host_netns.is_some() || lab.ours(&l, KIND, &it.name) {
                    side.del_link(l.index).await?;
                }
            }
        }
        Ok(())
    }
}
