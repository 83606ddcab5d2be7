//! `boot`: a node's `on_boot` sequence (filetrees, then commands), run when it starts.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{kept, Item, Lab, Seeing, Seen};
use crate::Result;

pub const KIND: &str = "boot";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    /// The node's `<shell>`, else bash, else sh.
    pub shell: Option<String>,
    pub commands: Vec<Command>,
    /// The filetrees to copy first.
    pub filetrees: Vec<Filetree>,
}

/// One `<filetree>`: a host path copied into the node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filetree {
    /// The host path it stands for, absolute; none when it is not on this host.
    pub source: Option<String>,
    /// The source as the scenario wrote it (for messages).
    pub written: String,
    /// Where in the node.
    pub root: String,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Octal mode (`755`).
    pub perms: Option<String>,
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

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        // Kept for the node's next start, which runs it again.
        lab.keep(&self.node, kept::BOOT, Some(&self))?;
        // A node built shut off boots when it starts.
        let Ok(init) = lab.init(&self.node) else { return Ok(json!({})) };
        let node = self.node.clone();
        lab.run_boot(&node, init, self).await?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        Ok(match lab.netns(&self.node) {
            Ok(_) => Seen::Present(Map::new()),
            Err(_) => Seen::Missing,
        })
    }

    /// Boot commands run when the node starts; new ones wait for its next start.
    async fn update(self, _: Self, lab: &Lab, _: &Item) -> Result<Value> {
        lab.keep(&self.node, kept::BOOT, Some(&self))?;
        Ok(json!({}))
    }

    /// What it did stays (files, a daemon it started); its next start does not run it.
    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        lab.keep::<()>(&self.node, kept::BOOT, None)
    }
}
