//! A plan as people read it (Terraform's style) and as scripts read it (`--json`).

use std::fmt::Write;

use serde_json::Value;

use serde::Serialize;

use super::diff::{AttrDiff, ChangeKind, Drift, Op, Plan};
use super::resource::Attrs;

/// The version of the `--json` format; changes that break readers bump it.
pub const FORMAT_VERSION: &str = "1.0";

fn show(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(v) => v.to_string(),
    }
}

/// Values longer than this are summarised in the human form (`--json` has them whole).
const LONG: usize = 160;

/// A value as the human form shows it: long objects and strings summarised.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    if text.len() <= LONG {
        return text;
    }
    match v {
        Value::Object(m) => format!(
            "{{ {} }} ({} characters; vnx plan --json shows them)",
            m.keys().cloned().collect::<Vec<_>>().join(", "),
            text.len()
        ),
        _ => format!("({} characters; vnx plan --json shows them)", text.len()),
    }
}

fn attrs_block(out: &mut String, sign: &str, attrs: &Attrs) {
    let width = attrs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in attrs {
        let _ = writeln!(out, "      {sign} {k:width$} = {}", brief(v));
    }
}

/// The changed leaves of two values, as `path = old -> new` (objects are walked key by key).
fn leaf_diffs(
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<(String, Option<Value>, Option<Value>)>,
) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if a.get(k) != b.get(k) {
                    leaf_diffs(&format!("{path}.{k}"), a.get(k), b.get(k), out);
                }
            }
        }
        _ => out.push((path.to_string(), old.cloned(), new.cloned())),
    }
}

/// What changed outside vnx, as the plan shows it (and `vnx show`).
pub fn drift_human(drift: &[Drift], color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", paint(color, "1", "Changed outside vnx:"));
    for d in drift {
        if d.deleted {
            let _ = writeln!(out, "  # {} has been deleted", d.id);
        } else {
            let _ = writeln!(out, "  # {} has changed", d.id);
            for a in &d.diffs {
                let _ = writeln!(out, "      ~ {} = {} -> {}", a.attr, show(&a.old), show(&a.new));
            }
        }
    }
    out
}

/// The drift as `--json` shows it, in the plan's `drift` and in `vnx show`.
pub fn drift_json(drift: &[Drift]) -> Value {
    serde_json::to_value(drift.iter().map(DriftJson::of).collect::<Vec<_>>()).expect("json")
}

/// `s` in ANSI colour `code` when `color`.
fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// How each form of the plan says a change: its sign, its words, its colour.
fn change_words(k: ChangeKind) -> (&'static str, &'static str, &'static str) {
    match k {
        ChangeKind::Create => ("+", "will be created", "32"),
        ChangeKind::Update => ("~", "will be updated in place", "33"),
        ChangeKind::Delete => ("-", "will be destroyed", "31"),
        ChangeKind::Replace => ("-/+", "must be replaced", "35"),
    }
}

/// What every form of the plan opens with: what changed outside vnx, and "No changes." when
/// there are none (then nothing follows: `true`).
fn opening(plan: &Plan, color: bool) -> (String, bool) {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(&drift_human(&plan.drift, color));
        out.push('\n');
    }
    if plan.changes.is_empty() {
        let _ = writeln!(out, "{}", paint(color, "1;32", "No changes.") + " The lab matches the scenario.");
    }
    (out, plan.changes.is_empty())
}

/// The human form. `color` adds ANSI colours for terminals.
pub fn human(plan: &Plan, color: bool) -> String {
    let paint = |code: &str, s: &str| paint(color, code, s);
    let (mut out, done) = opening(plan, color);
    if done {
        return out;
    }
    let _ = writeln!(out, "vnx will perform the following actions:\n");
    for c in &plan.changes {
        let (sign, verb, code) = change_words(c.change);
        let why = c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        let _ = writeln!(out, "  # {} {verb}{why}", c.id);
        let _ = writeln!(out, "{} {} \"{}\" {{", paint(code, &format!("{sign:>3}")), c.id.kind, c.id.name);
        match c.change {
            ChangeKind::Create => {
                if let Some(d) = plan.desired.get(&c.id) {
                    attrs_block(&mut out, "+", &d.attrs);
                }
            }
            ChangeKind::Delete => {
                if let Some(r) = plan.recorded.get(&c.id) {
                    attrs_block(&mut out, "-", &r.attrs);
                }
            }
            ChangeKind::Update | ChangeKind::Replace => {
                for a in &c.diffs {
                    let forces = if a.forces { paint("31", " # forces replacement") } else { String::new() };
                    let mut leaves = Vec::new();
                    leaf_diffs(&a.attr, a.old.as_ref(), a.new.as_ref(), &mut leaves);
                    for (path, old, new) in leaves {
                        let (o, n) = (
                            old.map(|v| brief(&v)).unwrap_or_else(|| show(&None)),
                            new.map(|v| brief(&v)).unwrap_or_else(|| show(&None)),
                        );
                        let _ = writeln!(out, "      ~ {path} = {o} -> {n}{forces}");
                    }
                }
            }
        }
        let _ = writeln!(out, "    }}\n");
    }
    let (add, change, destroy) = plan.counts();
    let _ = writeln!(out, "{}", paint("1", &format!("Plan: {add} to add, {change} to change, {destroy} to destroy.")));
    out
}

/// The plan in short, for an apply nobody confirms (`--auto-approve`): what changed outside
/// vnx, each update, replacement and destruction on one line (creations are what the progress
/// says anyway; destructions too when `destroying` is all the plan does), and the counts.
/// `vnx plan` shows every attribute.
pub fn short(plan: &Plan, color: bool, destroying: bool) -> String {
    let (mut out, done) = opening(plan, color);
    if done {
        return out;
    }
    let said = |c: &&super::diff::Change| match c.change {
        ChangeKind::Create => false,
        ChangeKind::Delete => !destroying,
        _ => true,
    };
    for c in plan.changes.iter().filter(said) {
        let (sign, verb, code) = change_words(c.change);
        let why = c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        let _ = writeln!(out, "{} {} {verb}{why}", paint(color, code, &format!("{sign:>3}")), c.id);
    }
    let (add, change, destroy) = plan.counts();
    let _ = writeln!(
        out,
        "{}",
        paint(color, "1", &format!("Plan: {add} to add, {change} to change, {destroy} to destroy."))
    );
    out
}

/// The JSON form (`vnx plan --json`).
pub fn to_json(plan: &Plan, scenario: &str) -> Value {
    serde_json::to_value(PlanJson::of(plan, scenario)).expect("a plan serializes")
}

/// The JSON form as text, written straight from the plan: a 1000-node lab's plan is 3 MB of
/// JSON, and a `Value` tree of it first cost some 20 MB more at the peak of an apply.
pub fn to_json_text(plan: &Plan, scenario: &str) -> String {
    serde_json::to_string(&PlanJson::of(plan, scenario)).expect("a plan serializes")
}

// The fields of each part in alphabetical order: the order `Value` maps print in.
#[derive(Serialize)]
struct PlanJson<'a> {
    actions: Vec<ActionJson<'a>>,
    changes: Vec<ChangeJson<'a>>,
    drift: Vec<DriftJson<'a>>,
    format_version: &'static str,
    scenario: &'a str,
    summary: SummaryJson,
}

#[derive(Serialize)]
struct ActionJson<'a> {
    address: String,
    after: &'a [usize],
    index: usize,
    op: Op,
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    actions: &'static [&'static str],
    address: String,
    after: Option<&'a Attrs>,
    before: Option<&'a Attrs>,
    diffs: &'a [AttrDiff],
    kind: &'a str,
    name: &'a str,
    reason: &'a Option<String>,
}

#[derive(Serialize)]
struct DriftJson<'a> {
    address: String,
    deleted: bool,
    diffs: &'a [AttrDiff],
    kind: &'a str,
    name: &'a str,
}

impl<'a> DriftJson<'a> {
    fn of(d: &'a Drift) -> Self {
        DriftJson { address: d.id.to_string(), deleted: d.deleted, diffs: &d.diffs, kind: &d.id.kind, name: &d.id.name }
    }
}

#[derive(Serialize)]
struct SummaryJson {
    add: usize,
    change: usize,
    destroy: usize,
}

impl<'a> PlanJson<'a> {
    fn of(plan: &'a Plan, scenario: &'a str) -> PlanJson<'a> {
        let (add, change, destroy) = plan.counts();
        let actions_of = |k: ChangeKind| -> &'static [&'static str] {
            match k {
                ChangeKind::Create => &["create"],
                ChangeKind::Update => &["update"],
                ChangeKind::Delete => &["delete"],
                ChangeKind::Replace => &["delete", "create"],
            }
        };
        PlanJson {
            actions: plan
                .actions
                .iter()
                .map(|a| ActionJson { address: a.id.to_string(), after: &a.after, index: a.index, op: a.op })
                .collect(),
            changes: plan
                .changes
                .iter()
                .map(|c| ChangeJson {
                    actions: actions_of(c.change),
                    address: c.id.to_string(),
                    after: plan.desired.get(&c.id).filter(|_| c.change != ChangeKind::Delete).map(|d| &d.attrs),
                    before: plan.recorded.get(&c.id).map(|r| &r.attrs),
                    diffs: &c.diffs,
                    kind: &c.id.kind,
                    name: &c.id.name,
                    reason: &c.reason,
                })
                .collect(),
            drift: plan.drift.iter().map(DriftJson::of).collect(),
            format_version: FORMAT_VERSION,
            scenario,
            summary: SummaryJson { add, change, destroy },
        }
    }
}

/// The plan's action graph in Graphviz dot: one vertex per action, an edge from each action to
/// those that wait for it.
pub fn dot(plan: &Plan, scenario: &str) -> String {
    let mut o = format!(
        "digraph \"plan {scenario}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
    );
    for a in &plan.actions {
        let (verb, color) = match a.op {
            Op::Create => ("create", "#d9ead3"),
            Op::Update => ("update", "#fff2cc"),
            Op::Delete => ("delete", "#f4cccc"),
        };
        o.push_str(&format!("  a{} [label=\"{verb} {}\", style=filled, fillcolor=\"{color}\"];\n", a.index, a.id));
    }
    for a in &plan.actions {
        for b in &a.after {
            o.push_str(&format!("  a{b} -> a{};\n", a.index));
        }
    }
    o.push_str("}\n");
    o
}
