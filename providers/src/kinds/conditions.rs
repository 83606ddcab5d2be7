//! `conditions`: an interface's link conditions (VNX's bw, delay, loss) as `tc` qdiscs.

use serde::{Deserialize, Serialize};

pub const KIND: &str = "conditions";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ifname: String,
    pub bw: Option<String>,
    pub delay: Option<String>,
    pub loss: Option<String>,
    /// The `tc` commands (arguments after `tc`) that give them.
    pub tc: Vec<Vec<String>>,
}

/// The qdiscs are replaced in place; another interface is another resource.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "ifname")
}
