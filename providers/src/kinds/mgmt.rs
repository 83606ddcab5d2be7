//! `mgmt`: a node's management interface (VNX's `<vm_mgmt>`): a veth (`private`: a /30 with the
//! host; `net`: a port of the management bridge), or a VM's management NIC.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{nets, parse_mac, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::Result;

pub const KIND: &str = "mgmt";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// A VM's (its domain carries the NIC).
    pub vm: Option<bool>,
    pub node: String,
    /// The host's end (hashed name), or a VM's tap.
    pub host_name: String,
    pub ifname: String,
    pub mac: Option<String>,
    /// `net`: the management bridge.
    pub bridge: Option<String>,
    /// `private`: the host's address on the /30.
    pub host_addr: Option<String>,
    /// The node's address; none when it leases one (`<mgmt_net config="dhcp">`: a `dhcp`
    /// client on the interface).
    pub node_addr: Option<String>,
}

pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "host_name" | "ifname")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let host = lab.host();
        let (host_name, ifname) = (self.host_name.as_str(), self.ifname.as_str());
        let mac = self.mac.as_deref().and_then(parse_mac);
        let nl = lab.veth_into_node(host, (true, KIND, &it.name), host_name, &self.node, ifname, mac, None).await?;
        let master = lab.bridge_index(host, self.bridge.as_deref()).await?;
        let host_end =
            LinkChange { up: Some(true), master, alias: Some(lab.alias(KIND, &it.name)), ..Default::default() };
        lab.set_up_link(host, host_name, host_end).await?;
        if let Some(h) = &self.host_addr {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{host_name}/autoconf"), "0");
            lab.sync_addrs(host, host_name, &nets(std::slice::from_ref(h))?).await?;
        }
        lab.set_up_link(&nl, ifname, LinkChange { up: Some(true), ..Default::default() }).await?;
        if let Some(a) = &self.node_addr {
            lab.sync_addrs(&nl, ifname, &nets(std::slice::from_ref(a))?).await?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        Ok(match seeing.own(lab, it, &self.host_name) {
            None => Seen::Missing,
            Some(_) => Seen::Present(Map::new()),
        })
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let (host, host_name) = (lab.host(), self.host_name.as_str());
        if was.bridge != self.bridge {
            let master = match &self.bridge {
                Some(b) => lab.index_in(host, b).await?,
                None => 0,
            };
            lab.set_up_link(host, host_name, LinkChange { master: Some(master), ..Default::default() }).await?;
        }
        if was.host_addr != self.host_addr {
            let want: Vec<String> = self.host_addr.iter().cloned().collect();
            lab.sync_addrs(host, host_name, &nets(&want)?).await?;
        }
        if was.node_addr != self.node_addr {
            let nl = lab.nl(&self.node).await?;
            let want: Vec<String> = self.node_addr.iter().cloned().collect();
            lab.sync_addrs(&nl, &self.ifname, &nets(&want)?).await?;
        }
        if was.mac != self.mac {
            let nl = lab.nl(&self.node).await?;
            let change = LinkChange { mac: self.mac.as_deref().and_then(parse_mac), ..Default::default() };
            lab.set_up_link(&nl, &self.ifname, change).await?;
        }
        Ok(json!({}))
    }

    /// The host's end: it takes its peer along.
    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        lab.delete_host_end(None, &self.host_name, it).await
    }
}
