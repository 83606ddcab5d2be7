//! `vxlan`: the part of a net that is on other hosts of a cluster lab: a VXLAN device on the
//! net's bridge, flooding to every peer host (an all-zeros forwarding entry each: head-end
//! replication, so the underlay needs no multicast and no switch to configure) and learning
//! where each MAC is from what arrives.
//!
//! The device is made in the host's namespace, where the underlay address is, and born in the
//! bridge's (the lab's): its UDP socket stays with the underlay.
//!
//! An Open vSwitch net's `<connection type="vxlan">` is one too: a device with one peer (the
//! connection's `host`), no bridge (its `ovs-port` puts it on the switch) and no local address
//! (the host's routes choose it). A kernel device rather than OVS's own tunnel port: the lab's
//! switch runs in the lab's namespace, which routes nowhere, and the userspace datapath's
//! tunnels would need routes of their own.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::{ns, Error, Result};

pub const KIND: &str = "vxlan";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The device's kernel name (hashed).
    pub ifname: String,
    /// The net's Linux bridge; none: an Open vSwitch port (made by its `ovs-port`).
    pub bridge: Option<String>,
    /// The lab's namespace when the bridge lives there; none: the host's.
    pub host_netns: Option<String>,
    pub vni: u32,
    /// This host's underlay address (the source of the tunnel's packets); none: the route's.
    pub local: Option<String>,
    /// The UDP port, the same on every host.
    pub port: u16,
    /// The one UDP source port of the tunnel's packets (VNX's `src_port`); none: the kernel's
    /// range, spread by flow.
    pub src_port: Option<u16>,
    /// The other hosts' underlay addresses, sorted.
    pub peers: Vec<String>,
    pub mtu: Option<u64>,
}

/// Peers and the MTU change in place (a host joining the net adds a peer, nothing else).
pub fn forces_replacement(attr: &str) -> bool {
    !matches!(attr, "peers" | "mtu")
}

fn ip(text: &str) -> Result<IpAddr> {
    text.parse().map_err(|_| Error::Other(format!("`{text}` is not an IP address")))
}

impl Attrs {
    fn peer_ips(&self) -> Result<Vec<IpAddr>> {
        self.peers.iter().map(|p| ip(p)).collect()
    }
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let host = lab.host();
        let side = lab.side(self.host_netns.as_deref()).await?;
        lab.clear_way(&side, self.host_netns.is_none(), &self.ifname, KIND, &it.name).await?;
        let local = self.local.as_deref().map(ip).transpose()?;
        // The underlay link: the one holding the local address (its MTU bounds the overlay's).
        let underlay = match local {
            Some(local) => {
                let link = host.addrs().await?.into_iter().find(|a| a.net.addr() == local).map(|a| a.index);
                let Some(link) = link else {
                    return Err(Error::Other(format!(
                        "the underlay address {local} of net `{}` is on no interface of this host: check the host's `underlay` in the cluster file",
                        it.name
                    )));
                };
                Some(link)
            }
            None => None,
        };
        let netns = match &self.host_netns {
            Some(name) => Some(
                ns::open_bound_netns(name)
                    .ok_or_else(|| Error::Other(format!("the lab's network namespace {name} is missing")))?,
            ),
            None => None,
        };
        let mtu = self.mtu.map(|m| m as u32);
        let tunnel = crate::netlink::Vxlan { vni: self.vni, local, port: self.port, src_port: self.src_port, underlay };
        host.add_vxlan(&self.ifname, &tunnel, mtu, netns.as_ref(), lab.group()).await?;
        let master = match &self.bridge {
            Some(bridge) => Some(lab.index_in(&side, bridge).await?),
            None => None,
        };
        let port = LinkChange { up: Some(true), master, alias: Some(lab.alias(KIND, &it.name)), ..Default::default() };
        lab.set_up_link(&side, &self.ifname, port).await?;
        let index = lab.index_in(&side, &self.ifname).await?;
        for peer in self.peer_ips()? {
            side.add_flood_peer(index, peer).await?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let Some(l) = seeing.own(lab, it, &self.ifname) else { return Ok(Seen::Missing) };
        let side = lab.side(self.host_netns.as_deref()).await?;
        let mut peers: Vec<String> = side.flood_peers(l.index).await?.iter().map(IpAddr::to_string).collect();
        peers.sort();
        let mut m = Map::new();
        m.insert("peers".into(), json!(peers));
        if self.mtu.is_some() {
            m.insert("mtu".into(), json!(l.mtu));
        }
        Ok(Seen::Present(m))
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let side = lab.side(self.host_netns.as_deref()).await?;
        let index = lab.index_in(&side, &self.ifname).await?;
        if was.mtu != self.mtu {
            side.set_link(index, LinkChange { mtu: self.mtu.map(|m| m as u32), ..Default::default() }).await?;
        }
        // What the device has (drift included), not what the record says it had.
        let have = side.flood_peers(index).await?;
        let want = self.peer_ips()?;
        for p in want.iter().filter(|p| !have.contains(p)) {
            side.add_flood_peer(index, *p).await?;
        }
        for p in have.iter().filter(|p| !want.contains(p)) {
            side.del_flood_peer(index, *p).await?;
        }
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        lab.delete_host_end(self.host_netns.as_deref(), &self.ifname, it).await
    }
}
