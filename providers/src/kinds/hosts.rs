//! `hosts`: the lab's section in the host's hosts file (VNX's `<host_mapping/>`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::noderoot::NodeRoot;
use crate::ns::Init;
use crate::{Error, Result};

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

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        section(Path::new(&self.file), &self.scenario, Some(&self.lines)).map_err(|e| Error::io(&self.file, e))?;
        for n in &self.nodes {
            if let Ok(init) = lab.init(n) {
                node_section(&init, &self.scenario, Some(&self.lines))
                    .map_err(|e| Error::io(format!("{n}'s /etc/hosts"), e))?;
            }
        }
        Ok(json!({}))
    }

    async fn read(self, _: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        let ok = self.lines.iter().all(|l| text.lines().any(|x| x == l));
        Ok(if ok { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    /// The section is written whole: writing it again is the change.
    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        self.create(lab, it).await
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        section(Path::new(&self.file), &self.scenario, None).map_err(|e| Error::io(&self.file, e))?;
        for n in &self.nodes {
            if let Ok(init) = lab.init(n) {
                let _ = node_section(&init, &self.scenario, None);
            }
        }
        Ok(())
    }
}

/// Writes (or with `None` removes) a scenario's section of the host's hosts file, between
/// `# BEGIN vnx SCENARIO` and `# END vnx SCENARIO`, keeping everything else as it was.
pub fn section(path: &Path, scenario: &str, lines: Option<&[String]>) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    // Written in place: /etc/hosts may be a bind mount that a rename cannot replace.
    std::fs::write(path, with_section(&text, scenario, lines))
}

/// The same in a node's /etc/hosts, resolved inside the node ([`NodeRoot`]).
fn node_section(init: &Init, scenario: &str, lines: Option<&[String]>) -> std::io::Result<()> {
    let root = NodeRoot::of(init)?;
    let text = match root.read("/etc/hosts") {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    root.write("/etc/hosts", with_section(&text, scenario, lines).as_bytes(), 0o644)
}

/// `text` with the scenario's section replaced by `lines` (removed with `None`).
fn with_section(text: &str, scenario: &str, lines: Option<&[String]>) -> String {
    let (begin, end) = (format!("# BEGIN vnx {scenario}"), format!("# END vnx {scenario}"));
    let mut out = String::new();
    let mut inside = false;
    for l in text.lines() {
        if l == begin {
            inside = true;
        } else if l == end {
            inside = false;
        } else if !inside {
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(lines) = lines {
        out.push_str(&begin);
        out.push('\n');
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&end);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labs_section_is_replaced_and_removed_alone() {
        let text = "127.0.0.1 localhost\n# BEGIN vnx other\n10.0.0.9 x\n# END vnx other\n";
        let lines = ["10.0.0.1 h1".to_string()];
        let with = with_section(text, "lab", Some(&lines));
        assert_eq!(with, format!("{text}# BEGIN vnx lab\n10.0.0.1 h1\n# END vnx lab\n"));
        // Written again: the same, not twice.
        assert_eq!(with_section(&with, "lab", Some(&lines)), with);
        // Removed: the host's lines and the other lab's section stay as they were.
        assert_eq!(with_section(&with, "lab", None), text);
    }
}
