//! The planner: a pure function of (desired, recorded, actual) → [`Plan`]. No I/O, no clock,
//! no randomness; the same inputs give the same plan, in the same order.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::resource::{forces_replacement, kind, Actual, Attrs, Desired, IdMap, IdSet, Recorded, ResId};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Plan the destruction of everything recorded.
    pub destroy: bool,
    /// Only these nodes or nets, and what they depend on (`--target`).
    pub targets: Vec<String>,
    /// Replace these nodes (and what lives in them) even if nothing changed (`--replace`).
    pub replace: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
    Replace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Delete,
    Create,
    Update,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrDiff {
    pub attr: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub forces: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: ResId,
    pub change: ChangeKind,
    pub diffs: Vec<AttrDiff>,
    /// Why, when not the attributes: `--replace`, a dependency replaced, an interrupted apply.
    pub reason: Option<String>,
}

/// Something changed outside vnx.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub id: ResId,
    pub deleted: bool,
    pub diffs: Vec<AttrDiff>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub index: usize,
    pub op: Op,
    pub id: ResId,
    /// Indices of the actions that must finish first.
    pub after: Vec<usize>,
    /// A delete of something that lives inside a node deleted by this plan: the kernel removes
    /// it with the node's namespaces, so only the record is removed (deleting veths one by one
    /// costs ~16 ms each under the kernel's RTNL lock).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub goes_with_node: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub drift: Vec<Drift>,
    pub changes: Vec<Change>,
    pub actions: Vec<Action>,
    /// The desired resources the actions create or update.
    #[serde(with = "as_pairs")]
    pub desired: BTreeMap<ResId, Desired>,
    /// The recorded resources the actions update or delete.
    #[serde(with = "as_pairs")]
    pub recorded: BTreeMap<ResId, Recorded>,
}

/// JSON maps need string keys: maps keyed by `ResId` travel as lists of pairs.
mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }
    pub fn deserialize<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    /// (to add, to change, to destroy), counting a replacement as one add and one destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ch in &self.changes {
            match ch.change {
                ChangeKind::Create => c.0 += 1,
                ChangeKind::Update => c.1 += 1,
                ChangeKind::Delete => c.2 += 1,
                ChangeKind::Replace => {
                    c.0 += 1;
                    c.2 += 1
                }
            }
        }
        c
    }
}

/// The order kinds are listed and built in when nothing else decides.
pub fn kind_rank(k: &str) -> usize {
    [
        kind::NET,
        kind::NODE,
        kind::MGMT,
        kind::INTERFACE,
        kind::P2P,
        kind::ADDRESSES,
        kind::CONDITIONS,
        kind::ROUTES,
        kind::FORWARDING,
        kind::HOSTIF,
        kind::HOST_ROUTES,
        kind::HOSTS,
        kind::BOOT,
    ]
    .iter()
    .position(|x| *x == k)
    .unwrap_or(99)
}

fn sort_key(id: &ResId) -> (usize, String) {
    (kind_rank(&id.kind), id.name.clone())
}

fn diff_attrs(kind: &str, old: &Attrs, new: &Attrs) -> Vec<AttrDiff> {
    // Almost always, at thousands of resources: nothing changed.
    if old == new {
        return vec![];
    }
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| AttrDiff {
            attr: k.clone(),
            old: old.get(k).cloned(),
            new: new.get(k).cloned(),
            forces: forces_replacement(kind, k),
        })
        .collect()
}

/// Whether a resource belongs to one of the targets: it is the node or net, or lives in it.
fn in_target(id: &ResId, attrs: &Attrs, targets: &[String]) -> bool {
    let at = vnx_providers::kinds::placement(&id.kind, |k| attrs.get(k));
    targets
        .iter()
        .any(|t| id.name == *t || at.node == Some(t) || at.net == Some(t) || id.name.split('/').next() == Some(t))
}

/// Plans the changes that take `recorded` (as `actual` shows it) to `desired`.
/// `actual` lacks an entry for resources that were not refreshed.
/// What is believed to exist: the record, corrected by what refresh saw.
pub struct Believed<'a> {
    /// What differs from the record (for resources whose last action ended well).
    pub drift: Vec<Drift>,
    /// The attributes as they are now of each resource refresh found changed (the others are
    /// as recorded, or missing): see [`Believed::attrs_of`].
    pub attrs: IdMap<&'a ResId, Attrs>,
    /// Resources whose last action did not end (`creating`, `updating`, `deleting`).
    pub tainted: IdSet<&'a ResId>,
    /// Resources refresh found missing.
    pub vanished: IdSet<&'a ResId>,
}

impl<'a> Believed<'a> {
    /// A recorded resource's attributes as they are now; `None` if refresh found it missing.
    pub fn attrs_of(&self, r: &'a Recorded) -> Option<&Attrs> {
        if self.vanished.contains(&r.id) {
            return None;
        }
        Some(self.attrs.get(&r.id).unwrap_or(&r.attrs))
    }

    /// A recorded resource with its attributes as refresh found them (missing or not).
    pub fn now(&self, r: &Recorded) -> Recorded {
        Recorded {
            id: r.id.clone(),
            provider: r.provider.clone(),
            attrs: self.attrs.get(&r.id).unwrap_or(&r.attrs).clone(),
            deps: r.deps.clone(),
            status: r.status.clone(),
            runtime: r.runtime.clone(),
        }
    }
}

/// The record corrected by refresh: what the plan starts from, and what `vnx show` shows.
pub fn believed<'a>(recorded: &'a [Recorded], actual: &IdMap<ResId, Actual>) -> Believed<'a> {
    let mut out =
        Believed { drift: vec![], attrs: IdMap::default(), tainted: IdSet::default(), vanished: IdSet::default() };
    for r in recorded {
        match actual.get(&r.id) {
            Some(Actual::Missing) => {
                out.drift.push(Drift { id: r.id.clone(), deleted: true, diffs: vec![] });
                out.vanished.insert(&r.id);
            }
            Some(Actual::Present(seen)) => {
                let mut now: Option<Attrs> = None;
                let mut diffs = Vec::new();
                for (k, v) in seen {
                    if r.attrs.get(k) != Some(v) {
                        diffs.push(AttrDiff {
                            attr: k.clone(),
                            old: r.attrs.get(k).cloned(),
                            new: Some(v.clone()),
                            forces: forces_replacement(&r.id.kind, k),
                        });
                        now.get_or_insert_with(|| r.attrs.clone()).insert(k.clone(), v.clone());
                    }
                }
                if !diffs.is_empty() && r.status == "ok" {
                    out.drift.push(Drift { id: r.id.clone(), deleted: false, diffs });
                }
                if let Some(now) = now {
                    out.attrs.insert(&r.id, now);
                }
            }
            None => {}
        }
        if r.status != "ok" && !out.vanished.contains(&r.id) {
            out.tainted.insert(&r.id);
        }
    }
    out
}

pub fn plan(desired: &[Desired], recorded: &[Recorded], actual: &IdMap<ResId, Actual>, opts: &Options) -> Plan {
    let mut plan = Plan::default();
    // Keyed by reference: a lab of a thousand nodes has some 6000 resources, planned each time.
    let desired: IdMap<&ResId, &Desired> =
        if opts.destroy { IdMap::default() } else { desired.iter().map(|d| (&d.id, d)).collect() };
    let recorded_map: IdMap<&ResId, &Recorded> = recorded.iter().map(|r| (&r.id, r)).collect();

    let mut b = believed(recorded, actual);
    plan.drift = std::mem::take(&mut b.drift);
    let believed = |id: &ResId| recorded_map.get(id).and_then(|r| b.attrs_of(r));
    let (tainted, vanished) = (&b.tainted, &b.vanished);

    // Targets: the named nodes and nets, what lives in them, and what they depend on.
    let selected: Option<BTreeSet<&ResId>> = (!opts.targets.is_empty()).then(|| {
        let mut sel: BTreeSet<&ResId> = BTreeSet::new();
        for (id, d) in &desired {
            if in_target(id, &d.attrs, &opts.targets) {
                sel.insert(*id);
            }
        }
        for r in recorded {
            if in_target(&r.id, &r.attrs, &opts.targets) {
                sel.insert(&r.id);
            }
        }
        let mut stack: Vec<&ResId> = sel.iter().copied().collect();
        while let Some(id) = stack.pop() {
            for dep in desired.get(id).map(|d| d.deps.as_slice()).unwrap_or_default() {
                if sel.insert(dep) {
                    stack.push(dep);
                }
            }
        }
        sel
    });
    let chosen = |id: &ResId| selected.as_ref().is_none_or(|s| s.contains(id));

    let mut changes: BTreeMap<ResId, Change> = BTreeMap::new();
    for (&id, d) in &desired {
        if !chosen(id) {
            continue;
        }
        let forced = id.kind == kind::NODE && opts.replace.iter().any(|r| *r == id.name);
        match believed(id) {
            None if recorded_map.contains_key(id) => {
                changes.insert(
                    id.clone(),
                    Change {
                        id: id.clone(),
                        change: ChangeKind::Create,
                        diffs: vec![],
                        reason: Some("it was deleted outside vnx".into()),
                    },
                );
            }
            None => {
                changes.insert(
                    id.clone(),
                    Change { id: id.clone(), change: ChangeKind::Create, diffs: vec![], reason: None },
                );
            }
            Some(old) => {
                let diffs = diff_attrs(&id.kind, old, &d.attrs);
                let (change, reason) = if tainted.contains(id) {
                    (Some(ChangeKind::Replace), Some("an apply stopped while changing it".to_string()))
                } else if forced {
                    (Some(ChangeKind::Replace), Some("--replace asked for it".to_string()))
                } else if diffs.iter().any(|d| d.forces) {
                    (Some(ChangeKind::Replace), None)
                } else if !diffs.is_empty() {
                    (Some(ChangeKind::Update), None)
                } else {
                    (None, None)
                };
                if let Some(change) = change {
                    changes.insert(id.clone(), Change { id: id.clone(), change, diffs, reason });
                }
            }
        }
    }
    for r in recorded {
        if desired.contains_key(&r.id) || !chosen(&r.id) {
            continue;
        }
        changes.insert(
            r.id.clone(),
            Change {
                id: r.id.clone(),
                change: ChangeKind::Delete,
                diffs: vec![],
                reason: vanished.contains(&r.id).then(|| "already gone; forget it".into()),
            },
        );
    }

    // A resource built anew takes what lives in it along: its dependents are replaced too.
    let mut stack: Vec<ResId> = changes
        .values()
        .filter(|c| {
            c.change == ChangeKind::Replace || (c.change == ChangeKind::Create && recorded_map.contains_key(&c.id))
        })
        .map(|c| c.id.clone())
        .collect();
    // (Made only when something is built anew: a small change to a big lab needs none.)
    let mut dependents: IdMap<&ResId, Vec<&ResId>> = IdMap::default();
    if !stack.is_empty() {
        for d in desired.values() {
            for dep in &d.deps {
                dependents.entry(dep).or_default().push(&d.id);
            }
        }
    }
    while let Some(id) = stack.pop() {
        for &dep in dependents.get(&id).into_iter().flatten() {
            if believed(dep).is_none() || !chosen(dep) {
                continue;
            }
            let entry = changes.get(dep).map(|c| c.change);
            if matches!(entry, None | Some(ChangeKind::Update)) {
                let diffs = changes.remove(dep).map(|c| c.diffs).unwrap_or_default();
                changes.insert(
                    dep.clone(),
                    Change {
                        id: dep.clone(),
                        change: ChangeKind::Replace,
                        diffs,
                        reason: Some(format!("{id} is built anew")),
                    },
                );
                stack.push(dep.clone());
            }
        }
    }

    let mut ordered: Vec<Change> = changes.into_values().collect();
    ordered.sort_by_key(|c| sort_key(&c.id));
    plan.drift.sort_by_key(|d| sort_key(&d.id));

    // Actions and their order.
    let mut index: IdMap<(Op, ResId), usize> = IdMap::default();
    let mut actions: Vec<Action> = Vec::new();
    let mut add = |op: Op, id: &ResId, actions: &mut Vec<Action>| {
        let i = actions.len();
        actions.push(Action { index: i, op, id: id.clone(), after: vec![], goes_with_node: false });
        index.insert((op, id.clone()), i);
    };
    for c in &ordered {
        match c.change {
            ChangeKind::Create => add(Op::Create, &c.id, &mut actions),
            ChangeKind::Update => add(Op::Update, &c.id, &mut actions),
            ChangeKind::Delete => add(Op::Delete, &c.id, &mut actions),
            ChangeKind::Replace => {
                add(Op::Delete, &c.id, &mut actions);
                add(Op::Create, &c.id, &mut actions);
            }
        }
    }
    let mut recorded_dependents: IdMap<&ResId, Vec<&ResId>> = IdMap::default();
    if actions.iter().any(|a| a.op == Op::Delete) {
        for r in recorded {
            for d in &r.deps {
                recorded_dependents.entry(d).or_default().push(&r.id);
            }
        }
    }
    for a in &mut actions {
        let mut after = BTreeSet::new();
        match a.op {
            Op::Create | Op::Update => {
                if a.op == Op::Create {
                    if let Some(&d) = index.get(&(Op::Delete, a.id.clone())) {
                        after.insert(d);
                    }
                }
                for dep in desired.get(&a.id).map(|d| d.deps.as_slice()).unwrap_or_default() {
                    for op in [Op::Create, Op::Update] {
                        if let Some(&d) = index.get(&(op, dep.clone())) {
                            after.insert(d);
                        }
                    }
                }
            }
            Op::Delete => {
                // Delete what depends on this first (as recorded).
                for r in recorded_dependents.get(&a.id).into_iter().flatten() {
                    if let Some(&d) = index.get(&(Op::Delete, (*r).clone())) {
                        after.insert(d);
                    }
                }
            }
        }
        a.after = after.into_iter().collect();
    }

    // Deletes of what lives in a node whose own delete is planned, or in the lab's namespace
    // when it goes: the kernel removes those with the namespace.
    let node_deleted = |n: &str| index.contains_key(&(Op::Delete, ResId::new(kind::NODE, n)));
    // The lab's namespaces that go (a big lab has several).
    let labs_deleted: HashSet<String> = recorded_map
        .values()
        .filter(|r| r.id.kind == kind::LAB && index.contains_key(&(Op::Delete, r.id.clone())))
        .filter_map(|r| r.typed::<vnx_providers::kinds::lab::Attrs>().ok().map(|a| a.netns))
        .collect();
    for a in &mut actions {
        if a.op != Op::Delete || a.id.kind == kind::NODE {
            continue;
        }
        let Some(r) = recorded_map.get(&a.id) else { continue };
        let at = vnx_providers::kinds::placement(&a.id.kind, |k| r.attrs.get(k));
        // What lives in a deleted node, or in the lab's deleted namespace; a veth pair dies
        // when either end's namespace does.
        let inside = at.host_netns.is_some_and(|n| labs_deleted.contains(n))
            || at.node.is_some_and(node_deleted)
            || at.ends.iter().any(|n| node_deleted(n));
        a.goes_with_node = inside;
    }

    for c in &ordered {
        if let Some(d) = desired.get(&c.id) {
            if c.change != ChangeKind::Delete {
                plan.desired.insert(c.id.clone(), (*d).clone());
            }
        }
        if let Some(r) = recorded_map.get(&c.id) {
            // As refresh found it: an update compares it with what is desired, and so repairs
            // what changed outside vnx (a veth taken off its bridge) instead of seeing nothing
            // to do between the record and the scenario.
            plan.recorded.insert(c.id.clone(), b.now(r));
        }
    }
    plan.changes = ordered;
    plan.actions = actions;
    plan
}
