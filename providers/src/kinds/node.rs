//! `node`: an `ns` node (its init, namespaces and root) or a virtual machine (a libvirt domain).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const KIND: &str = "node";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// `ns` or `libvirt`: who runs it.
    pub provider: String,
    pub hostname: String,
    /// The run state asked for: running, shutoff, paused, saved.
    pub run: String,
    /// `ns`: the lower layer of its root (`/` or a root filesystem).
    pub rootfs: Option<String>,
    /// `ns`: its network namespace's name (`vnx-LAB.NODE`).
    pub netns: Option<String>,
    /// A VM: its domain's definition (planned in `plan/vm.rs`, read in `lab/vm.rs`).
    pub vm: Option<Value>,
    /// A VM: its configuration drive (boot script and files).
    pub config: Option<Value>,
}

/// A node is replaced only when what it is made of changes.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "provider" | "hostname" | "rootfs" | "vm")
}
