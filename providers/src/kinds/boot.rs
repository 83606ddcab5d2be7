//! `boot`: a node's `on_boot` sequence (filetrees, then commands), run when it starts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const KIND: &str = "boot";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    /// The node's `<shell>`, else bash, else sh.
    pub shell: Option<String>,
    pub commands: Vec<Command>,
    /// The filetrees to copy first (as `engine::exec::filetree` reads them).
    pub filetrees: Vec<Value>,
}

/// One `<exec>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub command: String,
    pub ostype: Option<String>,
    /// Only when given: a plan of a scenario without users stays as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Changed in place: it runs at the node's next start.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}
