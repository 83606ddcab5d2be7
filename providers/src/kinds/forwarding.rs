//! `forwarding`: whether a node forwards IPv4 and IPv6 (VNX's `<forwarding>`).

use serde::{Deserialize, Serialize};

pub const KIND: &str = "forwarding";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ipv4: bool,
    pub ipv6: bool,
}

/// Sysctls, changed in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}
