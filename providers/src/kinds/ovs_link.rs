//! `ovs-link`: a veth pair whose end `b` becomes a port (`ovs-port`) of a switch in the lab's
//! namespace. Either both ends are there, joining two switches (`<connection type="veth">`),
//! or end `a` is in the host's namespace on a Linux bridge of the link's own (`host_bridge`):
//! the way onto the switch for what only the host's namespace can hold, a virtual machine's
//! tap (libvirt makes it there) or a host NIC (`external=`). Each interface of a VM gets its
//! own link, so each keeps its own VLANs on the switch.
//!
//! In the lab's namespace everything is the lab's, by where it is; in the host's, the bridge
//! and end `a` carry the resource's mark, and a NIC is only lent: it leaves the bridge when
//! the link goes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::{Error, Result};

pub const KIND: &str = "ovs-link";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The lab's network namespace.
    pub netns: String,
    /// The ends' names.
    pub a: String,
    pub b: String,
    /// End `a`'s Linux bridge in the host's namespace; none: `a` is in the lab's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_bridge: Option<String>,
    /// A host NIC that joins `host_bridge` (VNX's `external=` on an Open vSwitch net).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
    /// The net's MTU, on the host-side bridge and both ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u64>,
}

pub fn forces_replacement(_attr: &str) -> bool {
    true
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let side = lab.side(Some(&self.netns)).await?;
        let ends: &[&String] = if self.host_bridge.is_some() { &[&self.b] } else { &[&self.a, &self.b] };
        for end in ends {
            if let Some(l) = side.link_by_name(end).await? {
                side.del_link(l.index).await?;
            }
        }
        let mtu = self.mtu.map(|m| m as u32);
        let Some(bridge) = &self.host_bridge else {
            side.add_veth(&self.a, &self.b, None, None, mtu, lab.group()).await?;
            for end in [&self.a, &self.b] {
                lab.set_up_link(&side, end, LinkChange { up: Some(true), ..Default::default() }).await?;
            }
            return Ok(json!({}));
        };
        let host = lab.host();
        let alias = Some(lab.alias(KIND, &it.name));
        for name in [bridge, &self.a] {
            lab.clear_way(host, true, name, KIND, &it.name).await?;
        }
        if let Some(nic) = &self.external {
            if host.link_by_name(nic).await?.is_none() {
                return Err(Error::Other(format!("the host has no interface {nic} (external= of net `{}`)", it.name)));
            }
        }
        host.add_bridge(bridge, mtu, false, lab.group()).await?;
        lab.set_up_link(host, bridge, LinkChange { up: Some(true), alias: alias.clone(), ..Default::default() }).await?;
        let fd = crate::ns::open_bound_netns(&self.netns)
            .ok_or_else(|| Error::Other(format!("the lab's network namespace {} is missing", self.netns)))?;
        host.add_veth(&self.a, &self.b, Some(&fd), None, mtu, lab.group()).await?;
        let br = lab.index_in(host, bridge).await?;
        let a = LinkChange { up: Some(true), master: Some(br), alias, ..Default::default() };
        lab.set_up_link(host, &self.a, a).await?;
        lab.set_up_link(&side, &self.b, LinkChange { up: Some(true), ..Default::default() }).await?;
        if let Some(nic) = &self.external {
            lab.set_up_link(host, nic, LinkChange { up: Some(true), master: Some(br), ..Default::default() }).await?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let Ok(side) = lab.side(Some(&self.netns)).await else { return Ok(Seen::Missing) };
        let b = side.link_by_name(&self.b).await?.is_some();
        let present = match &self.host_bridge {
            None => b && side.link_by_name(&self.a).await?.is_some(),
            Some(bridge) => {
                let host = lab.host();
                let ours = |l: Option<crate::netlink::Link>| l.is_some_and(|l| lab.ours(&l, KIND, &it.name));
                let br = host.link_by_name(bridge).await?;
                let br_index = br.as_ref().map(|l| l.index);
                let a = host.link_by_name(&self.a).await?;
                let a_on_bridge = a.as_ref().is_some_and(|l| l.master.is_some() && l.master == br_index);
                // A NIC taken off the bridge by hand is drift too.
                let nic_on_bridge = match &self.external {
                    None => true,
                    Some(nic) => host.link_by_name(nic).await?.is_some_and(|l| l.master.is_some() && l.master == br_index),
                };
                b && ours(br) && a_on_bridge && ours(a) && nic_on_bridge
            }
        };
        Ok(if present { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        let Some(bridge) = &self.host_bridge else {
            let Ok(side) = lab.side(Some(&self.netns)).await else { return Ok(()) };
            if let Some(l) = side.link_by_name(&self.a).await? {
                side.del_link(l.index).await?;
            }
            return Ok(());
        };
        let host = lab.host();
        if let Some(nic) = &self.external {
            if let Some(l) = host.link_by_name(nic).await? {
                let br = host.link_by_name(bridge).await?.map(|b| b.index);
                if br.is_some() && l.master == br {
                    host.set_link(l.index, LinkChange { master: Some(0), ..Default::default() }).await?;
                }
            }
        }
        lab.delete_host_end(None, &self.a, it).await?;
        lab.delete_host_end(None, bridge, it).await
    }
}
