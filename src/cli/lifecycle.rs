//! Node lifecycle: `vnx start|shutdown|reboot|reset|suspend|resume|save|restore SCENARIO -M …`.
//!
//! Each records the run state the user asks for (the state database's `node_runs`), then
//! converges the applied scenario on the chosen nodes: the run state is part of the desired
//! state, so a later `vnx apply` keeps a node that was shut down with `vnx shutdown` down, and
//! reports a node shut down behind vnx's back as drift and starts it again.

use std::path::PathBuf;

use crate::ops::{self, lifecycle::Lifecycle, lifecycle::Step};
use crate::plan::kind;

use super::apply::{interrupt_flag, locked, said, RunArgs, Terminal};
use super::common::{self, PlanArgs};
use super::fail;

/// Which lifecycle command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Start,
    Shutdown,
    Reboot,
    Reset,
    Suspend,
    Resume,
    Save,
    Restore,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Shutdown => "shutdown",
            Verb::Reboot => "reboot",
            Verb::Reset => "reset",
            Verb::Suspend => "suspend",
            Verb::Resume => "resume",
            Verb::Save => "save",
            Verb::Restore => "restore",
        }
    }

    /// The run states to converge to, in turn, and whether `on_shutdown` runs before each.
    fn steps(self, kill: bool) -> Vec<(&'static str, bool)> {
        match self {
            Verb::Start | Verb::Resume | Verb::Restore => vec![("running", false)],
            Verb::Shutdown => vec![("shutoff", !kill)],
            Verb::Reboot => vec![("shutoff", true), ("running", false)],
            Verb::Reset => vec![("shutoff", false), ("running", false)],
            Verb::Suspend => vec![("paused", false)],
            Verb::Save => vec![("saved", false)],
        }
    }
}

/// Options of every lifecycle command.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  vnx shutdown lab -M r1,r2\n  vnx start lab -M r1\n  vnx reboot lab")]
pub struct LifecycleCmd {
    /// The applied scenario: its name, or the file it was applied from.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// Only these nodes (comma-separated, repeatable); all of the scenario's without it.
    #[arg(short = 'M', long = "nodes", value_name = "NODE,...", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// shutdown: power off at once, without running the on_shutdown sequence (VNX's --kill).
    #[arg(long)]
    pub kill: bool,
    /// How long to wait for another apply on the same scenario (0: fail at once).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
    /// Print the result as JSON: each chosen node's run state, and each step's apply (as
    /// `vnx apply --json`).
    #[arg(long)]
    pub json: bool,
}

pub fn run(verb: Verb, c: LifecycleCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    if let Some(code) = super::cluster::lifecycle(verb.name(), &c, state_arg) {
        return code;
    }
    let (state_path, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let name = t.scenario.name.value.clone();
    let recorded = match crate::ops::lab::recorded_of(&state, &name) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let nodes: Vec<_> = recorded.iter().filter(|r| r.id.kind == kind::NODE).collect();
    if nodes.is_empty() {
        return fail(&format!("{name} is not applied on this host: vnx apply {} first", c.scenario));
    }
    let mut chosen = Vec::new();
    for n in &c.nodes {
        match nodes.iter().find(|r| r.id.name == *n) {
            Some(r) => chosen.push(*r),
            None => {
                let hint = crate::scenario::diag::did_you_mean(n, nodes.iter().map(|r| r.id.name.as_str()))
                    .map(|m| format!(" (did you mean {m}?)"))
                    .unwrap_or_default();
                return fail(&format!("{name} has no node {n}{hint}"));
            }
        }
    }
    if chosen.is_empty() {
        chosen = nodes.clone();
    }
    if matches!(verb, Verb::Save | Verb::Restore) {
        if let Some(r) = chosen.iter().find(|r| r.provider == "ns") {
            return fail(&format!(
                "node {} is an ns node: its processes cannot be saved to a file (that needs a checkpointing tool such as CRIU); \
                 use vnx suspend / resume to freeze it, or shutdown / start (its files are kept)",
                r.id.name
            ));
        }
    }
    let chosen: Vec<String> = chosen.iter().map(|r| r.id.name.clone()).collect();
    // The recorded scenario, not a file edited since: a lifecycle command changes run states only.
    let t = match common::resolve(&name, Some(&state), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    // No confirmation: a lifecycle command changes only the run states of the nodes it names
    // (all, without -M), as VNX's and virsh's do.
    let run = RunArgs { auto_approve: true, parallelism: 10, lock_timeout: c.lock_timeout.clone(), json: c.json };
    let rt = common::runtime();
    let steps: Vec<Step> = verb.steps(c.kill).into_iter().map(|(run, on_shutdown)| Step { run, on_shutdown }).collect();
    let desired = || {
        let args = PlanArgs { target: chosen.clone(), ..Default::default() };
        let mut opts = common::desired_options(&args)?;
        opts.runs = state.node_runs(&name).map_err(|e| e.to_string())?;
        common::desired_of(&t, &opts, color)
    };
    let on_shutdown = |nodes: &[String]| run_on_shutdown(&state, &t, nodes);
    locked(&state, &name, verb.name(), &run, || {
        let job = ops::Job {
            command: verb.name(),
            scenario: &t.scenario,
            source: &t.source,
            format: t.format,
            forget_when_empty: false,
            parallelism: run.parallelism,
            stop: interrupt_flag(&rt),
            ahead: None,
        };
        let l = Lifecycle { job, nodes: &chosen, steps: &steps, desired: &desired, on_shutdown: &on_shutdown };
        let mut terminal = Terminal::new(&run, verb.name(), color, &|| {});
        let session = ops::Session { state: &state, path: &state_path };
        let done = match rt.block_on(ops::lifecycle::run(session, &l, &mut terminal)) {
            Ok(d) => d,
            Err(e) => return fail(&e),
        };
        let mut docs = Vec::new();
        for (plan, applied) in &done {
            let c = said(verb.name(), &name, plan, &run, applied);
            docs.push(c.json);
            if c.code != super::EXIT_OK {
                print_result(run.json, &state, &name, &chosen, docs);
                return c.code;
            }
        }
        print_result(run.json, &state, &name, &chosen, docs);
        super::EXIT_OK
    })
}

/// `--json`: the chosen nodes' run states now, and each step's apply.
fn print_result(json: bool, state: &vnx_state::State, name: &str, chosen: &[String], steps: Vec<serde_json::Value>) {
    if !json {
        return;
    }
    let runs = super::show::run_states(state, name);
    let nodes: serde_json::Map<String, serde_json::Value> =
        chosen.iter().map(|n| (n.clone(), serde_json::json!(runs.get(n)))).collect();
    let doc = serde_json::json!({"scenario": name, "nodes": nodes, "steps": steps});
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
}

/// Runs the `on_shutdown` sequence on those of `nodes` that run and have one (VNX does so
/// before a shutdown or reboot, not before a reset or `--kill`).
fn run_on_shutdown(state: &vnx_state::State, t: &common::Target, nodes: &[String]) {
    for (node, init) in super::exec::running_inits(state, &t.scenario.name.value) {
        let Some(n) = t.scenario.node(&node).filter(|_| nodes.contains(&node)) else { continue };
        if super::exec::has_step(n, "on_shutdown") {
            if let Err((msg, _)) = super::exec::run_step(&t.scenario, &t.dir, n, "on_shutdown", &init) {
                eprintln!("warning: on_shutdown of {node}: {msg}");
            }
        }
    }
}
