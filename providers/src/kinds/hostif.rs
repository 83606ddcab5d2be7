//! `hostif`: the host on a net (VNX's `<hostif>`): a veth pair, one end in the host's namespace
//! with the addresses, the other a port of the net's bridge.

use serde::{Deserialize, Serialize};

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
}

/// The addresses change in place.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "bridge" | "ifname" | "peer")
}
