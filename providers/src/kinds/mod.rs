//! Resource kinds, one module each: the kind's typed attributes (built by the planner, read by
//! the provider: one type for both, serialised in the plan and the record), the attributes
//! that force a replacement, and, for the kinds that have moved here whole, their create, read
//! and delete.
//!
//! To add a kind: a module with `KIND`, `Attrs` and `forces_replacement` (and its calls); its
//! line in [`KINDS`]; its dispatch in `lab.rs`; the planner builds its `Attrs`
//! (`vnx::plan::desired`). Nothing else reads its attributes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub mod addresses;
pub mod boot;
pub mod capture;
pub mod conditions;
pub mod forwarding;
pub mod host_routes;
pub mod hostif;
pub mod hosts;
pub mod interface;
pub mod lab;
pub mod mgmt;
pub mod net;
pub mod node;
pub mod p2p;
pub mod routes;

/// What the planner needs to know of a kind.
pub struct Kind {
    pub name: &'static str,
    /// Whether a change of this attribute makes the resource anew (else it changes in place).
    pub forces_replacement: fn(&str) -> bool,
    /// Whether serialised attributes are this kind's `Attrs` (no key missing, none unknown).
    pub check: fn(&BTreeMap<String, Value>) -> Result<(), String>,
}

fn check_as<T: DeserializeOwned>(attrs: &BTreeMap<String, Value>) -> Result<(), String> {
    from_attrs::<T>("", "", attrs).map(|_| ()).map_err(|e| e.to_string())
}

/// A kind's registry entry, from its module: the one line a new kind adds to [`KINDS`].
macro_rules! kind {
    ($m:ident) => {
        Kind { name: $m::KIND, forces_replacement: $m::forces_replacement, check: check_as::<$m::Attrs> }
    };
}

/// Every kind, in the order a reader meets them.
pub const KINDS: &[Kind] = &[
    kind!(net),
    kind!(node),
    kind!(interface),
    kind!(p2p),
    kind!(addresses),
    kind!(conditions),
    kind!(routes),
    kind!(forwarding),
    kind!(hostif),
    kind!(host_routes),
    kind!(boot),
    kind!(mgmt),
    kind!(hosts),
    kind!(lab),
    kind!(capture),
];

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// A kind's attributes as the plan and the record keep them: an object without nulls (an
/// absent optional attribute is not written).
pub fn to_attrs<T: Serialize>(attrs: &T) -> Map<String, Value> {
    match serde_json::to_value(attrs).expect("attributes serialise") {
        Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => unreachable!("attributes are structs"),
    }
}

/// A kind's attributes read back from the plan or the record.
/// `attrs`: the serialised map (`serde_json::Map`, or the planner's `BTreeMap`), by reference.
pub fn from_attrs<'a, T: DeserializeOwned>(
    kind: &str,
    name: &str,
    attrs: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> crate::Result<T> {
    // Read in place (a refresh reads thousands: no copy of the map).
    let entries = attrs.into_iter().map(|(k, v)| (k.as_str(), v));
    T::deserialize(serde::de::value::MapDeserializer::<_, serde_json::Error>::new(entries))
        .map_err(|e| crate::Error::Other(format!("{kind}.{name}: its attributes are not a {kind}'s ({e}): plan again")))
}

/// Where a resource lives, as the planner's targets and cascades and the provider's refresh
/// need it, whatever its kind: read here, from the serialised attributes, so that no code
/// outside the kinds reads them by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement<'a> {
    /// The node it lives in (an interface, addresses, routes, … of a node).
    pub node: Option<&'a str>,
    /// A point-to-point link's two ends' nodes.
    pub ends: Vec<&'a str>,
    /// The net it is on (an interface).
    pub net: Option<&'a str>,
    /// The lab's namespace, for what lives there (its nets' bridges and ports).
    pub host_netns: Option<&'a str>,
    /// A net whose bridge is the user's (`managed="no"`).
    pub unmanaged: bool,
}

/// The placement of a resource of `kind` whose attribute `k` is `get(k)`.
pub fn placement<'a>(kind: &str, get: impl Fn(&str) -> Option<&'a Value>) -> Placement<'a> {
    let text = |k: &str| get(k).and_then(Value::as_str);
    let in_node = matches!(
        kind,
        interface::KIND
            | addresses::KIND
            | routes::KIND
            | forwarding::KIND
            | conditions::KIND
            | mgmt::KIND
            | boot::KIND
    );
    Placement {
        node: if in_node { text("node") } else { None },
        ends: if kind == p2p::KIND {
            ["a", "b"].iter().filter_map(|e| get(e).and_then(|x| x.get("node")).and_then(Value::as_str)).collect()
        } else {
            vec![]
        },
        net: if kind == interface::KIND { text("net") } else { None },
        host_netns: text("host_netns"),
        unmanaged: get("managed").and_then(Value::as_bool) == Some(false),
    }
}

/// The kernel names of the links a resource of `kind` makes beside the nodes (a bridge, a
/// veth's outer end): two resources must not share one. (Apart from [`placement`], which
/// refresh asks of every resource: this allocates.)
pub fn kernel_links<'a>(kind: &str, get: impl Fn(&str) -> Option<&'a Value>) -> Vec<&'a str> {
    let keys: &[&str] = match kind {
        net::KIND => &["bridge"],
        interface::KIND => &["host_name"],
        hostif::KIND => &["ifname", "peer"],
        _ => &[],
    };
    keys.iter().filter_map(|k| get(k).and_then(Value::as_str)).collect()
}
