//! `addresses`: the IPv4 and IPv6 addresses of a node's interface (with their prefixes).

use serde::{Deserialize, Serialize};

pub const KIND: &str = "addresses";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ifname: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

/// The addresses change in place; another interface is another resource.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "ifname")
}
