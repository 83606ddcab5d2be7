//! `hosts`: the lab's section in the host's hosts file (VNX's `<host_mapping/>`).

use serde::{Deserialize, Serialize};

pub const KIND: &str = "hosts";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The hosts file (`VNX_HOSTS_FILE`, default /etc/hosts).
    pub file: String,
    pub scenario: String,
    /// `ADDRESS NODE` lines.
    pub lines: Vec<String>,
    /// The nodes whose own hosts files get the lines too.
    pub nodes: Vec<String>,
}

/// The section is rewritten in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}
