//! Resources: the units the planner diffs and the engine builds. Each has a stable identity
//! (kind, name, and the host it lives on) within its scenario, a provider, attributes (JSON values, so diffing is generic
//! and the state database can store them as they are) and the resources it needs.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::Span;

/// A resource's identity within a scenario: its kind, its name, and the host it lives on
/// (one net has a bridge on each host it spans). Every resource is on the host vnx runs on
/// ([`LOCAL`]) until labs span hosts; that host is not written (plans and records read as
/// before).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResId {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// The host vnx runs on, as a resource's host.
pub const LOCAL: &str = vnx_providers::lab::LOCAL;

impl ResId {
    /// A resource on the host vnx runs on.
    pub fn new(kind: &str, name: impl Into<String>) -> Self {
        ResId { kind: kind.to_string(), name: name.into(), host: LOCAL.to_string() }
    }

    /// A resource on `host`.
    pub fn on(host: &str, kind: &str, name: impl Into<String>) -> Self {
        ResId { host: host.to_string(), ..ResId::new(kind, name) }
    }

    /// Its key in the state database.
    pub fn key(&self) -> vnx_state::Key {
        vnx_state::Key::new(&self.host, &self.kind, &self.name)
    }

    /// `KIND.NAME` or `KIND.NAME@HOST`, as [`ResId`]'s `Display` writes it.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, host) = text.rsplit_once('@').unwrap_or((text, LOCAL));
        let (kind, name) = id.split_once('.')?;
        (!kind.is_empty() && !name.is_empty()).then(|| ResId::on(host, kind, name))
    }

    /// The identity of a recorded key.
    pub fn of_key(k: vnx_state::Key) -> Self {
        ResId { kind: k.kind, name: k.name, host: k.host }
    }
}

/// `kind.name`, and `@host` on another host than vnx's.
impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)?;
        if !self.host.is_empty() {
            write!(f, "@{}", self.host)?;
        }
        Ok(())
    }
}

pub type Attrs = serde_json::Map<String, Value>;

/// Maps and sets keyed by resource, with a fast hash (foldhash: SipHash was a twentieth of a
/// 10,000-node plan's samples), seeded per process.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type IdSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

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

impl Desired {
    /// Its kind's typed attributes (`vnx_providers::kinds`).
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        vnx_providers::kinds::from_attrs(&self.id.kind, &self.id.name, &self.attrs).map_err(|e| e.to_string())
    }
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
    /// Its kind's typed attributes (`vnx_providers::kinds`), or why the record is not one.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        vnx_providers::kinds::from_attrs(&self.id.kind, &self.id.name, &self.attrs).map_err(|e| e.to_string())
    }

    pub fn from_row(r: vnx_state::ResourceRow) -> Self {
        Recorded {
            id: ResId::on(&r.host, &r.kind, r.name),
            provider: r.provider,
            attrs: match r.attrs {
                Value::Object(m) => m,
                _ => Attrs::new(),
            },
            deps: r.deps.into_iter().map(ResId::of_key).collect(),
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
    use vnx_providers::kinds;

    pub const NET: &str = kinds::net::KIND;
    pub const NODE: &str = kinds::node::KIND;
    pub const INTERFACE: &str = kinds::interface::KIND;
    pub const P2P: &str = kinds::p2p::KIND;
    pub const ADDRESSES: &str = kinds::addresses::KIND;
    pub const CONDITIONS: &str = kinds::conditions::KIND;
    pub const ROUTES: &str = kinds::routes::KIND;
    pub const FORWARDING: &str = kinds::forwarding::KIND;
    pub const HOSTIF: &str = kinds::hostif::KIND;
    pub const HOST_ROUTES: &str = kinds::host_routes::KIND;
    pub const BOOT: &str = kinds::boot::KIND;
    pub const MGMT: &str = kinds::mgmt::KIND;
    pub const HOSTS: &str = kinds::hosts::KIND;
    /// The lab's own network namespace, where the bridges of its nets live.
    pub const LAB: &str = kinds::lab::KIND;
    /// A packet capture on a net (`capture_file`).
    pub const CAPTURE: &str = kinds::capture::KIND;
    pub const VXLAN: &str = kinds::vxlan::KIND;
    /// A DHCP client on a node's interface.
    pub const DHCP: &str = kinds::dhcp::KIND;
    /// A daemon in a node, with its files (VNX's plugins).
    pub const SERVICE: &str = kinds::service::KIND;
    /// The lab's own Open vSwitch (its daemons).
    pub const OVS: &str = kinds::ovs::KIND;
    /// An `openvswitch` net's bridge.
    pub const OVS_BRIDGE: &str = kinds::ovs_bridge::KIND;
    /// A port on an `openvswitch` net's bridge, with its VLANs.
    pub const OVS_PORT: &str = kinds::ovs_port::KIND;
    /// A veth pair joining two switches.
    pub const OVS_LINK: &str = kinds::ovs_link::KIND;
    /// The way from the lab's switch to a controller outside the lab.
    pub const OVS_RELAY: &str = kinds::ovs_relay::KIND;
}

/// Whether changing `attr` of a `kind` resource forces replacing it (destroy, then create).
/// Each kind declares it beside its attributes (`vnx_providers::kinds`): the one place that says so.
pub fn forces_replacement(kind: &str, attr: &str) -> bool {
    // Each kind says it beside its attributes (`vnx_providers::kinds`); an unknown kind's
    // attributes change in place.
    vnx_providers::kinds::kind(kind).is_some_and(|k| (k.forces_replacement)(attr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_says_its_host_and_reads_back() {
        let here = ResId::new("net", "Net0");
        let there = ResId::on("b", "net", "Net0");
        assert_ne!(here, there, "one net's bridges on two hosts are two resources");
        assert_eq!(here.to_string(), "net.Net0");
        assert_eq!(there.to_string(), "net.Net0@b");
        for id in [&here, &there] {
            assert_eq!(ResId::parse(&id.to_string()).as_ref(), Some(id));
            assert_eq!(&ResId::of_key(id.key()), id);
        }
        // A local resource is written as before hosts (plans and records read the same).
        assert_eq!(serde_json::to_string(&here).unwrap(), r#"{"kind":"net","name":"Net0"}"#);
        assert_eq!(serde_json::to_string(&there).unwrap(), r#"{"kind":"net","name":"Net0","host":"b"}"#);
        assert_eq!(serde_json::from_str::<ResId>(r#"{"kind":"net","name":"Net0"}"#).unwrap(), here);
        assert_eq!(ResId::parse("node"), None);
    }
}
