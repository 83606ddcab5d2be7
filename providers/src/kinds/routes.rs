//! `routes`: a node's static routes (IPv4 and IPv6, as the kernel shows them).

use serde::{Deserialize, Serialize};

pub const KIND: &str = "routes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub routes: Vec<Route>,
}

/// One route: a destination in network form (or `default`) and a gateway.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Route {
    pub to: String,
    pub gw: String,
}

/// Routes change in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}
