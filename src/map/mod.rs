//! The lab's picture, as VNX's `--show-map` drew it: nodes, nets (each a shape of its own that
//! nodes attach to) and the host, each link labelled with its interface and addresses. One
//! layout ([`layout`], dagre's layered layout) serves every picture: SVG ([`svg`]), the HTML
//! page with its live view ([`page`]) and PNG ([`png`]); dot and mermaid are text for other
//! tools (`cli/graph.rs`).

pub mod layout;
pub mod page;
pub mod png;
pub mod svg;

use crate::plan::desired::ifname_in_node;
use crate::scenario::Scenario;

/// What a box of the picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Node,
    Net,
    Host,
}

/// A node, a net or the host: its name, and the small line under it (a node's type, a net's
/// mode).
#[derive(Clone, Debug)]
pub struct Item {
    pub shape: Shape,
    pub name: String,
    pub sub: String,
}

impl Item {
    /// Its id in the picture (`node:r1`, `net:Net0`, `host`): the DOM's and the layout's.
    pub fn id(&self) -> String {
        match self.shape {
            Shape::Node => format!("node:{}", self.name),
            Shape::Net => format!("net:{}", self.name),
            Shape::Host => "host".into(),
        }
    }
}

/// An interface: from a node (or the host) to a net, labelled with its name and addresses.
#[derive(Clone, Debug)]
pub struct Link {
    /// The node's (or `host`'s) item id, and the net's.
    pub from: String,
    pub to: String,
    /// `r1/2` for a node's interface 2, `host/Net0` for the host's.
    pub key: String,
    pub lines: Vec<String>,
}

/// The lab as the picture sees it.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    pub title: String,
    pub items: Vec<Item>,
    pub links: Vec<Link>,
}

impl Topology {
    pub fn of(s: &Scenario) -> Topology {
        let mut t = Topology { title: s.name.value.clone(), ..Default::default() };
        for n in &s.nets {
            t.items.push(Item { shape: Shape::Net, name: n.name.value.clone(), sub: n.mode.value.to_string() });
        }
        for n in &s.nodes {
            let item = Item { shape: Shape::Node, name: n.name.value.clone(), sub: n.node_type.value.to_string() };
            for i in &n.interfaces {
                if s.net(&i.net.value).is_none() {
                    continue; // lo, vm_mgmt: no net drawn
                }
                let mut lines = vec![ifname_in_node(n, i)];
                lines.extend(addrs(&i.ipv4, &i.ipv6));
                t.links.push(Link {
                    from: item.id(),
                    to: format!("net:{}", i.net.value),
                    key: format!("{}/{}", n.name.value, i.id.value),
                    lines,
                });
            }
            t.items.push(item);
        }
        if let Some(h) = &s.host {
            t.items.push(Item { shape: Shape::Host, name: "host".into(), sub: "this machine".into() });
            for i in h.interfaces.iter().filter(|i| s.net(&i.net.value).is_some()) {
                let mut lines = addrs(&i.ipv4, &i.ipv6);
                if lines.is_empty() {
                    lines.push("host".into());
                }
                t.links.push(Link {
                    from: "host".into(),
                    to: format!("net:{}", i.net.value),
                    key: format!("host/{}", i.net.value),
                    lines,
                });
            }
        }
        t
    }
}

/// An interface's addresses as written, IPv4 then IPv6 (a link's label lines, after its name).
pub fn addrs(
    v4: &[crate::scenario::Spanned<crate::scenario::values::Ipv4Config>],
    v6: &[crate::scenario::Spanned<crate::scenario::values::Ipv6Config>],
) -> Vec<String> {
    v4.iter().map(|a| a.to_string()).chain(v6.iter().map(|a| a.to_string())).collect()
}

/// How an item or a link is to be coloured: its run state in a live lab, or what a plan does
/// to it.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// Item id or link key → mark (`running`, `shutoff`, `paused`, `create`, `update`,
    /// `delete`, `replace`, …): a CSS class of the picture.
    pub of: std::collections::BTreeMap<String, String>,
}

/// Escapes text for XML and HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Topology {
    /// Adds what `other` has and this has not (a plan's picture: the recorded lab's parts that
    /// the plan removes).
    pub fn merge(&mut self, other: Topology) {
        for i in other.items {
            if !self.items.iter().any(|x| x.id() == i.id()) {
                self.items.push(i);
            }
        }
        for l in other.links {
            if !self.links.iter().any(|x| x.key == l.key) {
                self.links.push(l);
            }
        }
    }
}

/// The legend of a plan's picture.
pub const PLAN_LEGEND: &str =
    "Green: added · orange: changed in place · purple: replaced · red, dashed: removed · others unchanged";

/// What a plan does to each part of the picture: a node's or net's own resource marks its box;
/// an interface's resources (the interface, its addresses, its switch port, its conditions)
/// mark its link; anything else inside a node (routes, forwarding, services) marks the node as
/// changed. Adding, replacing and removing outrank changing.
pub fn plan_marks(changes: &[crate::plan::diff::Change]) -> Marks {
    use crate::plan::diff::ChangeKind;
    use crate::plan::resource::kind;
    let mut m = Marks::default();
    let rank = |s: &str| match s {
        "update" => 1,
        "" => 0,
        _ => 2,
    };
    for c in changes {
        let what = match c.change {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Replace => "replace",
        };
        let (k, name) = (c.id.kind.as_str(), c.id.name.as_str());
        let (target, what) = match k {
            kind::NODE => (format!("node:{name}"), what),
            kind::NET | kind::OVS_BRIDGE => (format!("net:{name}"), what),
            kind::INTERFACE | kind::ADDRESSES | kind::OVS_PORT | kind::CONDITIONS | kind::DHCP
                if name.contains('/') =>
            {
                (name.to_string(), if k == kind::INTERFACE { what } else { "update" })
            }
            kind::HOSTIF => (format!("host/{name}"), what),
            _ => match c.id.name.split('/').next() {
                Some(node) if !node.is_empty() && k != kind::LAB && k != kind::OVS => {
                    (format!("node:{node}"), "update")
                }
                _ => continue,
            },
        };
        let had = m.of.get(&target).map(String::as_str).unwrap_or("");
        if rank(what) > rank(had) {
            m.of.insert(target, what.to_string());
        }
    }
    m
}
