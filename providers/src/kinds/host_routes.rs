//! `host-routes`: the host's routes to the lab and its forwarding (VNX's `<host><route>`,
//! `<forwarding>`).

use serde::{Deserialize, Serialize};

pub use super::routes::Route;

pub const KIND: &str = "host-routes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub routes: Vec<Route>,
    pub forward_ipv4: bool,
    pub forward_ipv6: bool,
}

/// Changed in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}
