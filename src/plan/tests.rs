//! Table tests of the planner, and the property that a plan, once applied, leaves nothing to do.

use super::resource::IdMap;

use proptest::prelude::*;
use serde_json::json;

use super::diff::{plan, ChangeKind, Op, Options};
use super::resource::{kind, Actual, Attrs, Desired, Recorded, ResId};
use crate::scenario::Span;

fn attrs(v: serde_json::Value) -> Attrs {
    v.as_object().unwrap().clone().into_iter().collect()
}

fn d(k: &str, name: &str, a: serde_json::Value, deps: &[(&str, &str)]) -> Desired {
    Desired {
        id: ResId::new(k, name),
        provider: "net".into(),
        attrs: attrs(a),
        deps: deps.iter().map(|(k, n)| ResId::new(k, *n)).collect(),
        span: Span::default(),
    }
}

fn rec(x: &Desired) -> Recorded {
    Recorded {
        id: x.id.clone(),
        provider: x.provider.clone(),
        attrs: x.attrs.clone(),
        deps: x.deps.clone(),
        status: "ok".into(),
        runtime: json!(null),
    }
}

/// A small lab: a net, a node, its interface on the net, its addresses and routes.
fn lab() -> Vec<Desired> {
    vec![
        d(kind::NET, "Net0", json!({"bridge": "vb1", "managed": true, "stp": false, "up": true}), &[]),
        d(kind::NODE, "h1", json!({"provider": "ns", "hostname": "h1", "rootfs": "/", "netns": "vnx-x.h1"}), &[]),
        d(
            kind::INTERFACE,
            "h1/1",
            json!({"node": "h1", "net": "Net0", "bridge": "vb1", "host_name": "ve1", "ifname": "eth1", "up": true}),
            &[(kind::NODE, "h1"), (kind::NET, "Net0")],
        ),
        d(
            kind::ADDRESSES,
            "h1/1",
            json!({"node": "h1", "ifname": "eth1", "ipv4": ["10.0.0.1/24"], "ipv6": []}),
            &[(kind::INTERFACE, "h1/1")],
        ),
        d(
            kind::ROUTES,
            "h1",
            json!({"node": "h1", "routes": [{"to": "default", "gw": "10.0.0.254"}]}),
            &[(kind::NODE, "h1"), (kind::ADDRESSES, "h1/1")],
        ),
        d(kind::FORWARDING, "h1", json!({"node": "h1", "ipv4": true, "ipv6": false}), &[(kind::NODE, "h1")]),
        d(
            kind::CONDITIONS,
            "h1/1",
            json!({"node": "h1", "ifname": "eth1", "delay": "10ms"}),
            &[(kind::INTERFACE, "h1/1")],
        ),
        d(
            kind::HOSTIF,
            "Net0",
            json!({"bridge": "vb1", "ifname": "vh1", "peer": "vp1", "ipv4": ["10.0.0.254/24"], "ipv6": []}),
            &[(kind::NET, "Net0")],
        ),
        d(
            kind::HOST_ROUTES,
            "host",
            json!({"routes": [], "forward_ipv4": false, "forward_ipv6": false}),
            &[(kind::HOSTIF, "Net0")],
        ),
        d(
            kind::MGMT,
            "h1",
            json!({"node": "h1", "host_name": "vm1", "ifname": "eth0", "host_addr": "10.250.0.1/30", "node_addr": "10.250.0.2/30"}),
            &[(kind::NODE, "h1")],
        ),
    ]
}

fn changes(p: &super::Plan) -> Vec<(String, ChangeKind)> {
    p.changes.iter().map(|c| (c.id.to_string(), c.change)).collect()
}

fn with(desired: &[Desired], id: (&str, &str), f: impl Fn(&mut Attrs)) -> Vec<Desired> {
    let mut v = desired.to_vec();
    for x in &mut v {
        if x.id == ResId::new(id.0, id.1) {
            f(&mut x.attrs);
        }
    }
    v
}

#[test]
fn everything_is_created_in_dependency_order() {
    let p = plan(&lab(), &[], &IdMap::default(), &Options::default());
    assert_eq!(p.changes.len(), 10);
    assert!(p.changes.iter().all(|c| c.change == ChangeKind::Create));
    // Each action comes after the creation of what it needs.
    let pos = |k: &str, n: &str| p.actions.iter().find(|a| a.id == ResId::new(k, n)).unwrap().index;
    let after = |k: &str, n: &str| p.actions[pos(k, n)].after.clone();
    assert!(after(kind::INTERFACE, "h1/1").contains(&pos(kind::NODE, "h1")));
    assert!(after(kind::INTERFACE, "h1/1").contains(&pos(kind::NET, "Net0")));
    assert!(after(kind::ROUTES, "h1").contains(&pos(kind::ADDRESSES, "h1/1")));
    assert!(after(kind::HOST_ROUTES, "host").contains(&pos(kind::HOSTIF, "Net0")));
    assert_eq!(p.counts(), (10, 0, 0));
}

#[test]
fn nothing_to_do_when_recorded_matches() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let p = plan(&lab(), &recorded, &IdMap::default(), &Options::default());
    assert!(p.is_empty(), "{:?}", changes(&p));
}

#[test]
fn in_place_updates_touch_one_resource() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let table: Vec<((&str, &str), &str, serde_json::Value)> = vec![
        ((kind::NET, "Net0"), "mtu", json!(9000)),
        ((kind::NET, "Net0"), "stp", json!(true)),
        ((kind::NET, "Net0"), "up", json!(false)),
        ((kind::INTERFACE, "h1/1"), "bridge", json!("vb2")),
        ((kind::INTERFACE, "h1/1"), "mac", json!("02:fd:00:00:00:01")),
        ((kind::ADDRESSES, "h1/1"), "ipv4", json!(["10.0.0.9/24"])),
        ((kind::ROUTES, "h1"), "routes", json!([])),
        ((kind::FORWARDING, "h1"), "ipv6", json!(true)),
        ((kind::CONDITIONS, "h1/1"), "delay", json!("20ms")),
        ((kind::HOSTIF, "Net0"), "ipv4", json!(["10.0.0.253/24"])),
        ((kind::HOST_ROUTES, "host"), "forward_ipv4", json!(true)),
        ((kind::MGMT, "h1"), "node_addr", json!("10.250.0.6/30")),
        ((kind::NODE, "h1"), "netns", json!("other")),
    ];
    for (id, attr, value) in table {
        let desired = with(&lab(), id, |a| {
            a.insert(attr.into(), value.clone());
        });
        let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
        assert_eq!(changes(&p), vec![(format!("{}.{}", id.0, id.1), ChangeKind::Update)], "{}.{} {attr}", id.0, id.1);
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions[0].op, Op::Update);
    }
}

#[test]
fn replacement_takes_what_lives_inside_along() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    // A node's root filesystem cannot change in place: the node and everything in it is rebuilt.
    let desired = with(&lab(), (kind::NODE, "h1"), |a| {
        a.insert("rootfs".into(), json!("/srv/rootfs"));
    });
    let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
    let c = changes(&p);
    for id in
        ["node.h1", "interface.h1/1", "addresses.h1/1", "routes.h1", "forwarding.h1", "conditions.h1/1", "mgmt.h1"]
    {
        assert!(c.contains(&(id.to_string(), ChangeKind::Replace)), "{id} in {c:?}");
    }
    assert!(!c.iter().any(|(id, _)| id.starts_with("net.") || id.starts_with("hostif.")), "{c:?}");
    let node = p.changes.iter().find(|x| x.id.to_string() == "node.h1").unwrap();
    assert!(node.diffs.iter().any(|d| d.attr == "rootfs" && d.forces));
    // Deletes go inside-out, creates outside-in.
    let idx =
        |op: Op, k: &str, n: &str| p.actions.iter().find(|a| a.op == op && a.id == ResId::new(k, n)).unwrap().index;
    assert!(p.actions[idx(Op::Delete, kind::NODE, "h1")].after.contains(&idx(Op::Delete, kind::INTERFACE, "h1/1")));
    assert!(p.actions[idx(Op::Create, kind::NODE, "h1")].after.contains(&idx(Op::Delete, kind::NODE, "h1")));
    assert!(p.actions[idx(Op::Create, kind::INTERFACE, "h1/1")].after.contains(&idx(Op::Create, kind::NODE, "h1")));
    assert_eq!(p.counts(), (7, 0, 7));
}

#[test]
fn net_changes_do_not_restart_nodes() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let desired = with(&lab(), (kind::NET, "Net0"), |a| {
        a.insert("mtu".into(), json!(1400));
        a.insert("stp".into(), json!(true));
    });
    let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
    assert_eq!(changes(&p), vec![("net.Net0".into(), ChangeKind::Update)]);
}

#[test]
fn removed_resources_are_destroyed_inside_out() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let desired: Vec<Desired> = lab()
        .into_iter()
        .filter(|x| {
            vnx_providers::kinds::placement(&x.id.kind, |k| x.attrs.get(k)).node != Some("h1")
                && x.id.kind != kind::NODE
        })
        .collect();
    let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
    assert_eq!(p.counts(), (0, 0, 7));
    let idx = |k: &str, n: &str| p.actions.iter().find(|a| a.id == ResId::new(k, n)).unwrap().index;
    assert!(p.actions[idx(kind::NODE, "h1")].after.contains(&idx(kind::INTERFACE, "h1/1")));
    assert!(p.actions[idx(kind::INTERFACE, "h1/1")].after.contains(&idx(kind::ADDRESSES, "h1/1")));
}

#[test]
fn destroy_plans_everything_recorded() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let p = plan(&lab(), &recorded, &IdMap::default(), &Options { destroy: true, ..Default::default() });
    assert_eq!(p.counts(), (0, 0, 10));
    // The net goes last: after the interface and the host interface on it.
    let idx = |k: &str, n: &str| p.actions.iter().find(|a| a.id == ResId::new(k, n)).unwrap().index;
    let net = &p.actions[idx(kind::NET, "Net0")];
    assert!(net.after.contains(&idx(kind::INTERFACE, "h1/1")) && net.after.contains(&idx(kind::HOSTIF, "Net0")));
}

#[test]
fn drift_is_shown_and_repaired() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let mut actual = IdMap::default();
    // A link deleted by hand, an address changed by hand, a node's netns name removed.
    actual.insert(ResId::new(kind::INTERFACE, "h1/1"), Actual::Missing);
    actual.insert(
        ResId::new(kind::ADDRESSES, "h1/1"),
        Actual::Present(attrs(json!({"ipv4": ["10.0.0.7/24"], "ipv6": []}))),
    );
    actual.insert(ResId::new(kind::NODE, "h1"), Actual::Present(attrs(json!({"netns": null}))));
    let p = plan(&lab(), &recorded, &actual, &Options::default());
    let drift: Vec<(String, bool)> = p.drift.iter().map(|d| (d.id.to_string(), d.deleted)).collect();
    assert_eq!(
        drift,
        vec![("node.h1".into(), false), ("interface.h1/1".into(), true), ("addresses.h1/1".into(), false)]
    );
    let c = changes(&p);
    assert!(c.contains(&("node.h1".into(), ChangeKind::Update)), "{c:?}");
    assert!(c.contains(&("interface.h1/1".into(), ChangeKind::Create)), "{c:?}");
    // What lived on the deleted link is built again with it.
    assert!(c.contains(&("addresses.h1/1".into(), ChangeKind::Replace)), "{c:?}");
    assert!(c.contains(&("conditions.h1/1".into(), ChangeKind::Replace)), "{c:?}");
}

#[test]
fn an_interrupted_apply_leaves_resources_to_replace() {
    let mut recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    recorded[2].status = "creating".into(); // interface.h1/1
    let p = plan(&lab(), &recorded, &IdMap::default(), &Options::default());
    let c = changes(&p);
    assert!(c.contains(&("interface.h1/1".into(), ChangeKind::Replace)), "{c:?}");
    assert!(p
        .changes
        .iter()
        .find(|x| x.id.to_string() == "interface.h1/1")
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .contains("stopped"));
}

#[test]
fn target_and_replace_options() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let p = plan(&lab(), &recorded, &IdMap::default(), &Options { replace: vec!["h1".into()], ..Default::default() });
    assert!(changes(&p).contains(&("node.h1".into(), ChangeKind::Replace)));
    // --target h1 from nothing: h1, what lives in it, and what it needs (the net).
    let p = plan(&lab(), &[], &IdMap::default(), &Options { targets: vec!["h1".into()], ..Default::default() });
    let c: Vec<String> = changes(&p).into_iter().map(|x| x.0).collect();
    assert!(
        c.contains(&"node.h1".into()) && c.contains(&"net.Net0".into()) && c.contains(&"routes.h1".into()),
        "{c:?}"
    );
    assert!(!c.contains(&"host-routes.host".into()), "{c:?}");
}

#[test]
fn the_plan_renders_in_terraforms_style() {
    let recorded: Vec<Recorded> = lab().iter().map(rec).collect();
    let desired = with(&lab(), (kind::ADDRESSES, "h1/1"), |a| {
        a.insert("ipv4".into(), json!(["10.0.0.9/24"]));
    });
    let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
    let out = super::render::human(&p, false);
    insta::assert_snapshot!(out);
    let j = super::render::to_json(&p, "lab");
    assert_eq!(j["format_version"], "1.0");
    assert_eq!(j["summary"]["change"], 1);
    assert_eq!(j["changes"][0]["actions"], json!(["update"]));
    assert_eq!(j["changes"][0]["before"]["ipv4"], json!(["10.0.0.1/24"]), "{j}");
    // The text apply records is the same document.
    let text: serde_json::Value = serde_json::from_str(&super::render::to_json_text(&p, "lab")).unwrap();
    assert_eq!(text, j);
}

#[test]
fn the_create_plan_renders() {
    let p = plan(&lab()[..2], &[], &IdMap::default(), &Options::default());
    insta::assert_snapshot!(super::render::human(&p, false));
}

/// Applies a plan to the record, as a perfect apply would.
fn simulate(p: &super::Plan, recorded: &[Recorded]) -> Vec<Recorded> {
    let mut out: std::collections::BTreeMap<ResId, Recorded> =
        recorded.iter().map(|r| (r.id.clone(), r.clone())).collect();
    for a in &p.actions {
        match a.op {
            Op::Delete => {
                out.remove(&a.id);
            }
            Op::Create | Op::Update => {
                out.insert(a.id.clone(), rec(&p.desired[&a.id]));
            }
        }
    }
    out.into_values().collect()
}

proptest! {
    /// Whatever was recorded, applying the plan reaches a record with nothing left to do.
    #[test]
    fn applying_a_plan_converges(keep in prop::collection::vec(any::<bool>(), 10), old in prop::collection::vec(any::<bool>(), 10),
                                 tweak in prop::collection::vec(0u8..4, 10), status in prop::collection::vec(0u8..6, 10)) {
        let base = lab();
        let desired: Vec<Desired> = base.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x.clone()).collect();
        let recorded: Vec<Recorded> = base.iter().zip(old.iter().zip(tweak.iter().zip(&status))).filter(|(_, (o, _))| **o).map(|(x, (_, (t, s)))| {
            let mut r = rec(x);
            match t {
                1 => { r.attrs.insert("mtu".into(), json!(1400)); }
                2 => { r.attrs.insert("rootfs".into(), json!("/old")); r.attrs.insert("ifname".into(), json!("old0")); }
                _ => {}
            }
            if *s == 0 { r.status = "creating".into(); }
            r
        }).collect();
        let p = plan(&desired, &recorded, &IdMap::default(), &Options::default());
        let after = simulate(&p, &recorded);
        let again = plan(&desired, &after, &IdMap::default(), &Options::default());
        prop_assert!(again.is_empty(), "left: {:?}", changes(&again));
        // Every action's prerequisites come earlier in some order: the graph has no cycle.
        let mut done = std::collections::HashSet::new();
        let mut progress = true;
        while progress {
            progress = false;
            for a in &p.actions {
                if !done.contains(&a.index) && a.after.iter().all(|x| done.contains(x)) {
                    done.insert(a.index);
                    progress = true;
                }
            }
        }
        prop_assert_eq!(done.len(), p.actions.len());
    }
}
