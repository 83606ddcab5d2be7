//! Resources: the units the planner diffs and the engine builds. Each has a stable identity
//! (kind, name) within its scenario, a provider, attributes (JSON values, so diffing is generic
//! and the state database can store them as they are) and the resources it needs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::Span;

/// A resource's identity within a scenario.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResId {
    pub kind: String,
    pub name: String,
}

impl ResId {
    pub fn new(kind: &str, name: impl Into<String>) -> Self {
        ResId { kind: kind.to_string(), name: name.into() }
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

pub type Attrs = BTreeMap<String, Value>;

/// What the scenario asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    pub id: ResId,
    pub provider: String,
    pub attrs: Attrs,
    pub deps: Vec<ResId>,
    /// Where in the scenario it comes from.
    #[serde(skip)]
    pub span: Span,
}

/// What the state database says was built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub id: ResId,
    pub provider: String,
    pub attrs: Attrs,
    pub deps: Vec<ResId>,
    /// `ok`, or `creating` / `updating` / `deleting` when an apply stopped in the middle.
    pub status: String,
    /// Facts of the running object (a node's init pid, …), not compared.
    pub runtime: Value,
}

impl Recorded {
    pub fn from_row(r: vnx_state::ResourceRow) -> Self {
        Recorded {
            id: ResId::new(&r.kind, r.name),
            provider: r.provider,
            attrs: match r.attrs {
                Value::Object(m) => m.into_iter().collect(),
                _ => Attrs::new(),
            },
            deps: r.deps.into_iter().map(|(k, n)| ResId::new(&k, n)).collect(),
            status: r.status,
            runtime: r.runtime,
        }
    }
}

/// What refresh found.
#[derive(Clone, Debug, PartialEq)]
pub enum Actual {
    /// The object exists with these attributes (only those the provider can read back).
    Present(Attrs),
    Missing,
}

/// The resource kinds, in the order a reader meets them.
pub mod kind {
    pub const NET: &str = "net";
    pub const NODE: &str = "node";
    pub const INTERFACE: &str = "interface";
    pub const P2P: &str = "p2p";
    pub const ADDRESSES: &str = "addresses";
    pub const CONDITIONS: &str = "conditions";
    pub const ROUTES: &str = "routes";
    pub const FORWARDING: &str = "forwarding";
    pub const HOSTIF: &str = "hostif";
    pub const HOST_ROUTES: &str = "host-routes";
    pub const BOOT: &str = "boot";
    pub const MGMT: &str = "mgmt";
    pub const HOSTS: &str = "hosts";
    /// The lab's own network namespace, where the bridges of its nets live.
    pub const LAB: &str = "lab";
    /// A packet capture on a net (`capture_file`).
    pub const CAPTURE: &str = vnx_providers::kinds::capture::KIND;
}

/// Whether changing `attr` of a `kind` resource forces replacing it (destroy, then create).
/// Every attribute not listed here is updated in place. This is the one table that says so.
pub fn forces_replacement(kind: &str, attr: &str) -> bool {
    match kind {
        // A net's mtu, stp and up state change in place: nodes on it are not touched.
        kind::NET => matches!(attr, "bridge" | "managed" | "host_netns"),
        // A node is replaced only when what it is made of changes.
        kind::NODE => matches!(attr, "provider" | "hostname" | "rootfs" | "vm"),
        // An interface moves between nets (bridge) and changes MAC, MTU, state in place.
        kind::INTERFACE => matches!(attr, "node" | "host_name" | "ifname" | "host_netns"),
        kind::LAB => true,
        kind::P2P => true,
        kind::HOSTIF => matches!(attr, "bridge" | "ifname" | "peer"),
        kind::MGMT => matches!(attr, "node" | "host_name" | "ifname"),
        kind::ADDRESSES | kind::CONDITIONS => matches!(attr, "node" | "ifname"),
        kind::CAPTURE => vnx_providers::kinds::capture::forces_replacement(attr),
        // Addresses, routes, forwarding and link conditions change in place.
        _ => false,
    }
}
