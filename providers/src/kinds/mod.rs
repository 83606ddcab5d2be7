//! Resource kinds, one module each: the kind's typed attributes (built by the planner, read by
//! the provider: one type for both, serialised in the plan and the record), the attributes
//! that force a replacement, and what the lab provider does with one: its create, read, update
//! and delete (`Ops`, on the attributes).
//!
//! To add a kind: a module with `KIND`, `Attrs`, `forces_replacement` and `impl Ops for Attrs`;
//! its name in the `kinds!` list below (that declares the module, enters it in [`KINDS`] and
//! dispatches the provider's calls to it); the planner builds its `Attrs`
//! (`vnx::plan::desired`). Nothing else reads its attributes.

use serde::de::DeserializeOwned;
use serde::Serialize;

use serde_json::{Map, Value};

use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{Error, Result};

/// What the planner needs to know of a kind.
pub struct Kind {
    pub name: &'static str,
    /// Whether a change of this attribute makes the resource anew (else it changes in place).
    pub forces_replacement: fn(&str) -> bool,
    /// Whether serialised attributes are this kind's `Attrs` (no key missing, none unknown).
    pub check: fn(&Map<String, Value>) -> std::result::Result<(), String>,
}

fn check_as<T: DeserializeOwned>(attrs: &Map<String, Value>) -> std::result::Result<(), String> {
    from_attrs::<T>("", "", attrs).map(|_| ()).map_err(|e| e.to_string())
}

/// What the lab provider does with a resource of a kind; `self` is its typed attributes, `it`
/// the resource (its name and runtime facts).
pub(crate) trait Ops: Sized {
    /// Makes it (after removing a half-built leftover of its own); the runtime facts to record.
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value>;
    /// What exists of it, in the attributes' terms (the planner compares them).
    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen>;
    /// Changes it in place from `was`. A kind whose every attribute forces a replacement keeps
    /// this refusal: the plan never asks it (it shows a replacement).
    async fn update(self, was: Self, lab: &Lab, it: &Item) -> Result<Value> {
        let _ = (was, lab);
        Err(Error::Other(format!(
            "{}.{} cannot change in place: its kind must say that these attributes force a replacement",
            it.kind, it.name
        )))
    }
    /// Removes it; what is already gone is no error.
    async fn delete(self, lab: &Lab, it: &Item) -> Result<()>;
}

/// The registry: declares each kind's module, lists it in [`KINDS`], and sends the lab
/// provider's calls on a resource to its kind's `Ops`. A new kind is one name here.
macro_rules! kinds {
    ($($m:ident),* $(,)?) => {
        $(pub mod $m;)*

        /// Every kind, in the order a reader meets them.
        pub const KINDS: &[Kind] = &[$(Kind {
            name: $m::KIND,
            forces_replacement: $m::forces_replacement,
            check: check_as::<$m::Attrs>,
        }),*];

        pub(crate) async fn create(lab: &Lab, it: &Item) -> Result<Value> {
            match it.kind.as_str() {
                $($m::KIND => typed::<$m::Attrs>(it)?.create(lab, it).await,)*
                other => Err(unknown(other)),
            }
        }

        pub(crate) async fn read(lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
            match it.kind.as_str() {
                $($m::KIND => typed::<$m::Attrs>(it)?.read(lab, it, seeing).await,)*
                // A kind of a newer vnx's record: nothing to say of it.
                _ => Ok(Seen::Present(Map::new())),
            }
        }

        pub(crate) async fn update(lab: &Lab, old: &Item, new: &Item) -> Result<Value> {
            match new.kind.as_str() {
                $($m::KIND => typed::<$m::Attrs>(new)?.update(typed(old)?, lab, new).await,)*
                other => Err(unknown(other)),
            }
        }

        pub(crate) async fn delete(lab: &Lab, it: &Item) -> Result<()> {
            match it.kind.as_str() {
                $($m::KIND => typed::<$m::Attrs>(it)?.delete(lab, it).await,)*
                other => Err(unknown(other)),
            }
        }
    };
}

kinds!(
    net,
    node,
    interface,
    p2p,
    addresses,
    conditions,
    routes,
    forwarding,
    hostif,
    host_routes,
    boot,
    mgmt,
    hosts,
    lab,
    capture,
    vxlan,
    dhcp,
    service,
    ovs,
    ovs_bridge,
    ovs_port,
    ovs_link,
    ovs_relay,
);

fn unknown(kind: &str) -> Error {
    Error::Other(format!("no provider for resources of kind `{kind}`"))
}

/// A kind's typed attributes, from an item's serialised ones.
pub(crate) fn typed<T: DeserializeOwned>(it: &Item) -> Result<T> {
    from_attrs(&it.kind, &it.name, &it.attrs)
}

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// A kind's attributes as the plan and the record keep them: an object without nulls (an
/// absent optional attribute is not written).
pub fn to_attrs<T: Serialize>(attrs: &T) -> Map<String, Value> {
    match serde_json::to_value(attrs).expect("attributes serialise") {
        Value::Object(mut m) => {
            m.retain(|_, v| !v.is_null());
            m
        }
        _ => unreachable!("attributes are structs"),
    }
}

/// A kind's attributes read back from the plan or the record.
/// `attrs`: the serialised map, by reference.
pub fn from_attrs<'a, T: DeserializeOwned>(
    kind: &str,
    name: &str,
    attrs: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Result<T> {
    // Read in place (a refresh reads thousands: no copy of the map).
    let entries = attrs.into_iter().map(|(k, v)| (k.as_str(), v));
    T::deserialize(serde::de::value::MapDeserializer::<_, serde_json::Error>::new(entries))
        .map_err(|e| Error::Other(format!("{kind}.{name}: its attributes are not a {kind}'s ({e}): plan again")))
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
        vxlan::KIND => &["ifname"],
        _ => &[],
    };
    keys.iter().filter_map(|k| get(k).and_then(Value::as_str)).collect()
}
