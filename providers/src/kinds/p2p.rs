//! `p2p`: a point-to-point link (VNX's `veth` net): one veth pair, an end in each node.

use serde::{Deserialize, Serialize};

pub const KIND: &str = "p2p";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub a: End,
    pub b: End,
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub node: String,
    pub ifname: String,
    pub mac: Option<String>,
}

/// A veth pair is made whole: any change makes it anew.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}
