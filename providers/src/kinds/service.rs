//! `service`: a daemon in an `ns` node, with the files it reads (VNX's plugins: a DHCP server
//! or relay on dnsmasq, OSPF on FRR). Its files are written into the node's root (resolved
//! inside it, as every file vnx writes into a node), then its start command runs in the node;
//! it is up while its pid file names a live process of its name. Drift is a stopped daemon or
//! a file changed by hand; a change rewrites the files and starts the daemon again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::noderoot::NodeRoot;
use crate::{ns, Error, Result};

pub const KIND: &str = "service";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    /// The daemon's process name (`dnsmasq`, `ospfd`): what its pid file must name.
    pub process: String,
    /// Its pid file in the node.
    pub pidfile: String,
    /// The files it reads, written into the node: absolute path → content.
    pub files: BTreeMap<String, String>,
    /// What starts it (`sh -c`, in the node).
    pub start: String,
    /// What stops it (`sh -c`, in the node); else it is sent SIGTERM.
    pub stop: Option<String>,
}

/// A service moves to another node only by being made anew there; the rest changes in place.
pub fn forces_replacement(attr: &str) -> bool {
    attr == "node"
}

/// How long a daemon may take to write its pid file, or to go.
const WAIT_MS: u64 = 10_000;

impl Attrs {
    /// Its pid (in the node's PID namespace) while it runs.
    fn pid(&self, root: &NodeRoot) -> Option<String> {
        root.live_pid(&self.pidfile, &self.process)
    }

    fn sh(&self, init: &ns::Init, script: &str) -> Result<()> {
        let out = ns::command_in(init, "sh", &["-c", script]).output().map_err(|e| Error::io("running a command in the node", e))?;
        if !out.status.success() {
            let mut why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if why.is_empty() {
                why = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            return Err(Error::Node(format!("`{script}` in node {} failed ({}): {why}", self.node, out.status)));
        }
        Ok(())
    }

    fn wait(&self, root: &NodeRoot, up: bool) -> bool {
        for _ in 0..WAIT_MS / 50 {
            if self.pid(root).is_some() == up {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    fn write_files(&self, root: &NodeRoot) -> Result<()> {
        for (path, text) in &self.files {
            if let Some(dir) = std::path::Path::new(path).parent() {
                root.create_dir_all(&dir.to_string_lossy()).map_err(|e| Error::io(format!("making {} in node {}", dir.display(), self.node), e))?;
            }
            root.write(path, text.as_bytes(), 0o644).map_err(|e| Error::io(format!("writing {path} in node {}", self.node), e))?;
        }
        Ok(())
    }

    fn up(&self, init: &ns::Init, root: &NodeRoot) -> Result<()> {
        self.write_files(root)?;
        self.sh(init, &self.start)?;
        if !self.wait(root, true) {
            return Err(Error::Node(format!(
                "{} did not start in node {} (no live {} named by {} after {} s)",
                self.process,
                self.node,
                self.process,
                self.pidfile,
                WAIT_MS / 1000
            )));
        }
        Ok(())
    }

    fn down(&self, init: &ns::Init, root: &NodeRoot) -> Result<()> {
        if let Some(stop) = &self.stop {
            let _ = self.sh(init, stop);
        }
        if let Some(pid) = self.pid(root) {
            let _ = ns::command_in(init, "kill", &[&pid]).status();
        }
        if !self.wait(root, false) {
            return Err(Error::Node(format!("{} in node {} did not stop", self.process, self.node)));
        }
        Ok(())
    }
}

/// The node's init and root, when the node runs.
fn node(lab: &Lab, name: &str) -> Option<(ns::Init, NodeRoot)> {
    let init = lab.init(name).ok()?;
    let root = NodeRoot::of(&init).ok()?;
    Some((init, root))
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let init = lab.init(&self.node)?;
        let root = NodeRoot::of(&init).map_err(|e| Error::io("the node's root", e))?;
        // A daemon of an interrupted create first goes: the one started here must read these files.
        self.down(&init, &root)?;
        self.up(&init, &root)?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let Some((_, root)) = node(lab, &self.node) else { return Ok(Seen::Missing) };
        if self.pid(&root).is_none() {
            return Ok(Seen::Missing);
        }
        let files: BTreeMap<&String, String> = self
            .files
            .keys()
            .filter_map(|p| Some((p, String::from_utf8_lossy(&root.read(p).ok()?).into_owned())))
            .collect();
        Ok(Seen::Present(Map::from_iter([("files".to_string(), json!(files))])))
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let init = lab.init(&self.node)?;
        let root = NodeRoot::of(&init).map_err(|e| Error::io("the node's root", e))?;
        was.down(&init, &root)?;
        for gone in was.files.keys().filter(|p| !self.files.contains_key(*p)) {
            let _ = root.remove(gone);
        }
        self.up(&init, &root)?;
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        let Some((init, root)) = node(lab, &self.node) else { return Ok(()) };
        self.down(&init, &root)?;
        for path in self.files.keys() {
            let _ = root.remove(path);
        }
        Ok(())
    }
}
