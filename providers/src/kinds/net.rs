//! `net`: a net's Linux bridge (VNX's `virtual_bridge`), in the lab's namespace, or in the
//! host's when the host takes part.

use serde::{Deserialize, Serialize};

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
