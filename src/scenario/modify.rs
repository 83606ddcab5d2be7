//! `<modify_vnx>` documents applied to a scenario model: a pure function, no I/O.
//!
//! The result is the scenario the lab should converge to; the planner then works out what to
//! create and destroy. Matches VNX's `--modify` (add after the last node or net; `del_net
//! del="no"` refuses a net still in use, `del="if"` removes the interfaces on it, `del="vm"`
//! the nodes on it), with one difference: `down_net`/`up_net` are recorded in the scenario
//! (`up="no"`) so that later plans keep the net down instead of forgetting it.

use super::diag::Diag;
use super::model::*;
use super::values::{DelMode, DelNetNodes};

/// A scenario after a modify document, and the nodes to stop gracefully (running their
/// `on_shutdown` sequence) before they are removed.
#[derive(Clone, Debug, PartialEq)]
pub struct Modified {
    pub scenario: Scenario,
    pub shutdown_first: Vec<String>,
}

/// Applies every change in order. Stops at the first change that cannot apply.
pub fn apply(base: &Scenario, doc: &ModifyDoc) -> Result<Modified, Diag> {
    let mut s = base.clone();
    let mut shutdown_first = Vec::new();
    for change in &doc.changes {
        match change {
            Change::AddNode(n) => {
                if let Some(existing) = s.node(&n.name) {
                    return Err(Diag::error("vnx::modify", format!("node `{}` exists already", n.name.value))
                        .at(n.name.span, "cannot add it again")
                        .help(format!(
                            "delete it first with <del_vm name=\"{}\"/>, or choose another name",
                            existing.name.value
                        )));
                }
                s.nodes.push(n.clone());
            }
            Change::AddNet(n) => {
                if s.net(&n.name).is_some() {
                    return Err(Diag::error("vnx::modify", format!("net `{}` exists already", n.name.value))
                        .at(n.name.span, "cannot add it again")
                        .help("choose another name"));
                }
                s.nets.push(n.clone());
            }
            Change::DelNode { name, mode, .. } => {
                let Some(pos) = s.nodes.iter().position(|n| n.name.value == name.value) else {
                    return Err(no_such("node", name, s.nodes.iter().map(|n| n.name.value.as_str())));
                };
                if mode.unwrap_or(DelMode::Shutdown) == DelMode::Shutdown {
                    shutdown_first.push(name.value.clone());
                }
                s.nodes.remove(pos);
            }
            Change::DelNet { name, del, mode, .. } => {
                let Some(pos) = s.nets.iter().position(|n| n.name.value == name.value) else {
                    return Err(no_such("net", name, s.nets.iter().map(|n| n.name.value.as_str())));
                };
                let on_net = |n: &Node| n.interfaces.iter().any(|i| i.net.value == name.value);
                match del.unwrap_or(DelNetNodes::No) {
                    DelNetNodes::No => {
                        let users: Vec<&str> =
                            s.nodes.iter().filter(|n| on_net(n)).map(|n| n.name.value.as_str()).collect();
                        let host_uses =
                            s.host.as_ref().is_some_and(|h| h.interfaces.iter().any(|i| i.net.value == name.value));
                        if !users.is_empty() || host_uses {
                            let who = if users.is_empty() { "the host".to_string() } else { users.join(", ") };
                            return Err(Diag::error("vnx::modify", format!("net `{}` is still in use by {who}", name.value))
                                .at(name.span, "in use")
                                .help("remove its interfaces first, or use del=\"if\" (drop the interfaces) or del=\"vm\" (drop the nodes)"));
                        }
                    }
                    DelNetNodes::If => {
                        for n in &mut s.nodes {
                            n.interfaces.retain(|i| i.net.value != name.value);
                        }
                        if let Some(h) = &mut s.host {
                            h.interfaces.retain(|i| i.net.value != name.value);
                        }
                    }
                    DelNetNodes::Vm => {
                        let graceful = mode.unwrap_or(DelMode::Shutdown) == DelMode::Shutdown;
                        for n in s.nodes.iter().filter(|n| on_net(n)) {
                            if graceful {
                                shutdown_first.push(n.name.value.clone());
                            }
                        }
                        s.nodes.retain(|n| !on_net(n));
                        if let Some(h) = &mut s.host {
                            h.interfaces.retain(|i| i.net.value != name.value);
                        }
                    }
                }
                s.nets.remove(pos);
            }
            Change::DownNet { name, .. } | Change::UpNet { name, .. } => {
                let up = matches!(change, Change::UpNet { .. });
                let Some(net) = s.nets.iter_mut().find(|n| n.name.value == name.value) else {
                    let names: Vec<String> = s.nets.iter().map(|n| n.name.value.clone()).collect();
                    return Err(no_such("net", name, names.iter().map(String::as_str)));
                };
                net.up = if up { None } else { Some(false) };
            }
        }
    }
    Ok(Modified { scenario: s, shutdown_first })
}

fn no_such<'a>(what: &str, name: &Name, existing: impl Iterator<Item = &'a str>) -> Diag {
    let existing: Vec<&str> = existing.collect();
    let d = Diag::error("vnx::modify", format!("there is no {what} named `{}`", name.value))
        .at(name.span, format!("unknown {what}"));
    match super::diag::did_you_mean(&name.value, existing.iter().copied()) {
        Some(m) => d.help(format!("did you mean `{m}`?")),
        None => d.help(format!("the scenario's {what}s are: {}", existing.join(", "))),
    }
}
