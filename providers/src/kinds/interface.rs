//! `interface`: a node's interface on a bridge net: a veth pair, one end in the node, the other
//! a port of the net's bridge.

use serde::{Deserialize, Serialize};

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
