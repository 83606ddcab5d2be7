//! `mgmt`: a node's management interface (VNX's `<vm_mgmt>`): a veth (`private`: a /30 with the
//! host; `net`: a port of the management bridge), or a VM's management NIC.

use serde::{Deserialize, Serialize};

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
    pub node_addr: String,
}

pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "host_name" | "ifname")
}
