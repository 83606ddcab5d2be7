//! `vnx plan`, `vnx apply`, `vnx destroy` and `vnx modify`: plan, confirm, carry out.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::common::{self, PlanArgs, Target};
use super::fail;
use crate::engine::{Event, Outcome};
use crate::ops;
use crate::plan::{render, Plan};
use crate::scenario::{self, Document, Format};

/// Exit code of an apply stopped by SIGINT.
pub const EXIT_INTERRUPTED: i32 = 130;
/// `plan --detailed-exitcode`: changes present.
pub const EXIT_CHANGES: i32 = 2;

/// Show what apply would change.
///
/// Reads the scenario, reads back what exists of the lab (refresh), and prints the changes:
/// `+` create, `-` destroy, `~` update in place, `-/+` replace, with the attributes that
/// differ. Objects changed outside vnx are listed first. Nothing is changed.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx plan lab.xml\n  vnx plan lab.yaml --json\n  vnx plan lab.xml -out lab.plan && vnx apply lab.plan\n  \
vnx plan tutorial --destroy   (an applied scenario, by name)\n\n\
Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes present (--detailed-exitcode)."
)]
pub struct PlanCmd {
    /// A scenario file, or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Plan the destruction of the whole lab.
    #[arg(long)]
    pub destroy: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan's action graph in Graphviz dot (an edge means "must finish first"); with
    /// --format, the lab's picture coloured by what the plan adds, changes and removes.
    #[arg(long, conflicts_with = "json")]
    pub graph: bool,
    /// With --graph: the lab's picture in this format (html, svg, png) instead of the action graph.
    #[arg(long, value_enum, requires = "graph")]
    pub format: Option<super::graph::GraphFormat>,
    /// Save the plan to a file that `vnx apply FILE` carries out (refused if the lab changed since).
    #[arg(long = "out", short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
}

/// Make the lab match the scenario.
///
/// Plans as `vnx plan` does, shows the plan, asks for confirmation on a terminal (or needs
/// `--auto-approve`), then carries it out, N actions at a time. A second apply of the same
/// scenario says "No changes." and touches nothing. Takes a scenario file, the name of an
/// applied scenario, or a plan saved with `vnx plan -out FILE`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx apply lab.xml --auto-approve\n  vnx apply lab.plan\n  vnx apply lab.yaml --target r1\n\n\
Exit codes: 0 success, 1 error (an action failed: the others that do not depend on it finish), 130 interrupted."
)]
pub struct ApplyCmd {
    /// A scenario file, an applied scenario's name, or a saved plan.
    #[arg(value_name = "SCENARIO|PLANFILE")]
    pub scenario: String,
    /// Start the nodes `vnx shutdown` or `vnx suspend` left off or paused (all, or the
    /// `--target`s), as VNX's `--create` brings a whole scenario up; without it, apply keeps the
    /// run state asked for.
    #[arg(long)]
    pub start: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
}

/// Remove everything of a lab.
///
/// Works from the state alone: the scenario file need not exist any more.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx destroy lab.xml --auto-approve\n  vnx destroy tutorial_lxc_ubuntu --auto-approve"
)]
pub struct DestroyCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// A lab over a cluster: only these hosts (comma-separated), as EDIV's -H.
    #[arg(short = 'H', long = "hosts", value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
}

/// Apply a VNX `<modify_vnx>` document to a running lab.
///
/// The document's changes (add_vm, del_vm, add_net, del_net, down_net, up_net) are applied to
/// the recorded scenario, the result is planned, confirmed and applied, and recorded so that
/// later plans start from it.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "A modify document always applies to the lab as it runs (the recorded scenario), never to the\nscenario file: two documents in a row build on each other, as in VNX.\n\nExamples:\n  vnx modify two-lans examples/modify/two-lans-add-lan3.xml --auto-approve\n  vnx modify two-lans examples/modify/two-lans-add-h3.xml --auto-approve"
)]
pub struct ModifyCmd {
    /// The applied scenario: its name, or its file (which then only names the lab: the
    /// document changes the lab as it runs, with every earlier modification).
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The `<modify_vnx>` document.
    #[arg(value_name = "PATCH")]
    pub patch: PathBuf,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many actions may run at once.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// How long to wait for another apply on the same scenario (0: fail at once).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
    /// Print the result as one JSON document on stdout: the plan (as `vnx plan --json`) and
    /// what was done. Needs --auto-approve (there is no one to ask).
    #[arg(long, requires = "auto_approve")]
    pub json: bool,
}

/// What an apply did: the summary line, or the document `--json` prints.
pub(super) struct Converged {
    /// The exit code.
    pub code: i32,
    pub json: serde_json::Value,
}

impl Converged {
    /// Refused before anything was done (the message is printed already).
    fn refused(code: i32) -> Self {
        Converged { code, json: serde_json::Value::Null }
    }
}

/// A plan saved to a file.
#[derive(Serialize, Deserialize)]
struct SavedPlan {
    /// [`SAVED_PLAN_VERSION`].
    vnx_plan: String,
    /// How it was planned (`--target`, `--replace`, `--map`, `--refresh`), and whether to destroy.
    args: PlanArgs,
    destroy: bool,
    scenario: String,
    source: String,
    /// The state serial the plan was made against.
    serial: i64,
    /// The scenario as desired (YAML).
    desired: String,
    plan: Plan,
}

/// The version of saved plan files: a file of another version is refused.
const SAVED_PLAN_VERSION: &str = "vnx-saved-plan/2";

/// Reads a saved plan file: `None` when `text` is not one (a scenario, then); an error when it
/// is one that cannot be trusted (another version, or not readable as one).
fn saved_plan(path: &str, text: &str) -> Option<Result<SavedPlan, String>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let version = v.get("vnx_plan")?;
    if version.as_str() != Some(SAVED_PLAN_VERSION) {
        return Some(Err(format!(
            "{path} is a saved plan of another version ({version}; this vnx reads {SAVED_PLAN_VERSION}): plan again"
        )));
    }
    Some(serde_json::from_value(v).map_err(|e| format!("{path} is a saved plan that cannot be read ({e}): plan again")))
}

pub(super) struct Planned {
    target: Target,
    plan: Plan,
    /// The lab provider the plan's refresh used (see [`ops::plan`]).
    lab: Option<vnx_providers::lab::Lab>,
    /// The scenario's text for the record, if written ahead.
    ahead: Option<ops::RecordText>,
}

/// The plan of target `t` (`destroy`: of removing it): its desired resources (their
/// diagnostics printed), then [`ops::plan`](crate::ops::plan). With `write_ahead` (an apply
/// that will record the scenario), the record's text is written meanwhile
/// ([`ops::RecordText`]), from a copy made on the desired resources' thread: on this one it
/// held planning back 11-23 ms at 10,000 nodes.
pub(super) async fn make_plan(
    t: Target,
    args: &PlanArgs,
    destroy: bool,
    write_ahead: bool,
    state: &vnx_state::State,
    state_path: &std::path::Path,
    color: bool,
) -> Result<Planned, String> {
    let name = t.scenario.name.value.clone();
    // A plan for a lab another state owns could not be carried out: say so before reading it.
    vnx_providers::claim::check(&name, state_path).map_err(|e| e.to_string())?;
    let opts = match destroy {
        true => None,
        false => {
            let mut opts = common::desired_options(args)?;
            opts.runs = state.node_runs(&name).map_err(|e| e.to_string())?;
            Some(opts)
        }
    };
    let ahead = std::sync::OnceLock::new();
    let desired = || {
        if write_ahead {
            let _ = ahead.set(ops::RecordText::ahead(std::sync::Arc::clone(&t.scenario)));
        }
        opts.as_ref().map_or(Ok(vec![]), |opts| common::desired_of(&t, opts, color))
    };
    let session = ops::Session { state, path: state_path };
    let options = common::plan_options(args, destroy);
    let (plan, lab) = ops::plan::plan(session, &name, desired, &options, args.refresh).await?;
    Ok(Planned { target: t, plan, lab, ahead: ahead.into_inner() })
}

pub fn run_plan(c: PlanCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    common::load_ahead(&c.scenario);
    let how = super::cluster::How { plan: &c.plan, json: c.json, detailed_exitcode: c.detailed_exitcode, start: false };
    if c.cluster.cluster.is_some() && (c.destroy || c.out.is_some() || c.graph) {
        return fail("--destroy, --out and --graph are not for labs over a cluster yet: vnx destroy LAB ends one");
    }
    if let Some(code) = super::cluster::plan_or_apply(&c.scenario, &c.cluster, &how, None, state_arg, color) {
        return code;
    }
    let (state_path, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let rt = common::runtime();
    let planned = match rt.block_on(make_plan(t, &c.plan, c.destroy, false, &state, &state_path, color)) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let name = planned.target.scenario.name.value.clone();
    if c.json {
        println!("{}", serde_json::to_string_pretty(&render::to_json(&planned.plan, &name)).expect("json"));
    } else if let (true, Some(format)) = (c.graph, c.format) {
        // The scenario as it will be, with what the plan removes from the lab as it is.
        let mut topo = crate::map::Topology::of(&planned.target.scenario);
        if let Ok(Some(was)) = common::recorded_target(&state, &name) {
            topo.merge(crate::map::Topology::of(&was.scenario));
        }
        let marks = crate::map::plan_marks(&planned.plan.changes);
        match super::graph::draw(&topo, format, &marks, crate::map::PLAN_LEGEND) {
            Ok(bytes) => {
                use std::io::Write as _;
                let _ = std::io::stdout().write_all(&bytes);
            }
            Err(e) => return fail(&e),
        }
    } else if c.graph {
        print!("{}", render::dot(&planned.plan, &name));
    } else {
        print!("{}", render::human(&planned.plan, std::io::stdout().is_terminal() && color));
    }
    if let Some(out) = &c.out {
        let saved = SavedPlan {
            vnx_plan: SAVED_PLAN_VERSION.into(),
            args: c.plan.clone(),
            destroy: c.destroy,
            scenario: name.clone(),
            source: planned.target.source.clone(),
            serial: state.serial(&name).unwrap_or(0),
            desired: scenario::write(&planned.target.scenario, Format::Yaml),
            plan: planned.plan.clone(),
        };
        if let Err(e) = std::fs::write(out, serde_json::to_string(&saved).expect("json")) {
            return fail(&format!("cannot write {}: {e}", out.display()));
        }
        eprintln!("Saved the plan to {}. To carry it out: vnx apply {}", out.display(), out.display());
    }
    if c.detailed_exitcode && !planned.plan.is_empty() {
        EXIT_CHANGES
    } else {
        super::EXIT_OK
    }
}

fn confirm(run: &RunArgs, what: &str) -> Result<bool, String> {
    if run.auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("{what} needs confirmation: run it on a terminal, or pass --auto-approve"));
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(answer.trim() == "yes")
}

/// Carries out a plan (after showing it and asking), recording the desired scenario first.
#[allow(clippy::too_many_arguments)]
fn converge(
    planned: Planned,
    command: &str,
    run: &RunArgs,
    state: &vnx_state::State,
    state_path: &std::path::Path,
    color: bool,
    rt: &tokio::runtime::Runtime,
    forget_when_empty: bool,
) -> i32 {
    let done = converge_with(planned, command, run, state, state_path, color, rt, forget_when_empty, &|| {});
    print_json(run, &done);
    done.code
}

/// Prints an apply's document when `--json` asked for it.
pub(super) fn print_json(run: &RunArgs, done: &Converged) {
    if run.json && !done.json.is_null() {
        println!("{}", serde_json::to_string_pretty(&done.json).expect("json"));
    }
}

/// How a command shows a converge: the plan, the question, the progress.
pub(super) struct Terminal<'a> {
    pub run: &'a RunArgs,
    pub command: &'a str,
    pub color: bool,
    pub before: &'a dyn Fn(),
    progress: Option<super::progress::Progress>,
}

impl<'a> Terminal<'a> {
    pub fn new(run: &'a RunArgs, command: &'a str, color: bool, before: &'a dyn Fn()) -> Self {
        Terminal { run, command, color, before, progress: None }
    }
}

impl ops::Steer for Terminal<'_> {
    // A plan to confirm is shown whole; an approved one in short (each creation is in the
    // progress already), whole with -v; -q: errors and the summary only.
    fn show(&mut self, plan: &Plan) {
        let paint = std::io::stdout().is_terminal() && self.color;
        if !self.run.json && (!self.run.auto_approve || super::progress::verbose()) {
            print!("{}", render::human(plan, paint));
        } else if !self.run.json && !super::progress::quiet() {
            print!("{}", render::short(plan, paint, self.command == "destroy"));
        }
    }
    fn approve(&mut self, plan: &Plan) -> Result<bool, String> {
        let yes = confirm(self.run, self.command)?;
        if !yes {
            eprintln!("{} cancelled.", self.command);
        }
        self.progress = yes.then(|| super::progress::Progress::new(plan));
        Ok(yes)
    }
    fn before(&mut self) {
        (self.before)()
    }
    fn event(&mut self, ev: Event<'_>) {
        let Some(progress) = self.progress.as_mut() else { return };
        match ev {
            Event::Started { op, id } => progress.started(op, id),
            Event::Finished { op, id, took, outcome } => progress.finished(op, id, took, outcome),
        }
    }
    fn finished(&mut self) {
        if let Some(p) = self.progress.take() {
            p.done()
        }
    }
}

/// As `converge`, running `before` once the plan is confirmed and before anything changes.
#[allow(clippy::too_many_arguments)]
pub(super) fn converge_with(
    planned: Planned,
    command: &str,
    run: &RunArgs,
    state: &vnx_state::State,
    state_path: &std::path::Path,
    color: bool,
    rt: &tokio::runtime::Runtime,
    forget_when_empty: bool,
    before: &dyn Fn(),
) -> Converged {
    let t = &planned.target;
    let name = t.scenario.name.value.clone();
    let stop = interrupt_flag(rt);
    let job = ops::Job {
        command,
        scenario: &t.scenario,
        source: &t.source,
        format: t.format,
        forget_when_empty,
        parallelism: run.parallelism,
        stop,
        ahead: planned.ahead,
    };
    let session = ops::Session { state, path: state_path };
    let mut terminal = Terminal::new(run, command, color, before);
    match rt.block_on(ops::converge(session, &job, &planned.plan, planned.lab, &mut terminal)) {
        Ok(done) => said(command, &name, &planned.plan, run, &done),
        Err(e) => Converged::refused(fail(&e)),
    }
}

/// A flag that Ctrl-C sets: the converge then starts no new action.
pub(super) fn interrupt_flag(rt: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nInterrupted: letting running actions finish, starting no new ones…");
            stop2.store(true, Ordering::SeqCst);
        }
    });
    stop
}

/// Says how a converge ended (errors, the summary line) and makes its `--json` document.
pub(super) fn said(command: &str, name: &str, plan: &Plan, run: &RunArgs, done: &ops::Applied) -> Converged {
    let (secs, summary) = (done.seconds, done.summary());
    match done.status {
        ops::Status::Cancelled => return Converged::refused(super::EXIT_ERROR),
        ops::Status::Interrupted => {
            eprintln!("Interrupted after {secs:.1}s: {summary}. The state records what exists; apply again to finish.");
            let mut c = result_of(command, name, plan, "interrupted", secs, done, run.json);
            c.code = EXIT_INTERRUPTED;
            return c;
        }
        ops::Status::Failed => {
            let (mut failed, mut skipped) = (0, 0);
            for (i, o) in &done.outcomes {
                match o {
                    Outcome::Failed(e) => {
                        failed += 1;
                        eprintln!("error: {}: {e}", plan.actions[*i].id)
                    }
                    Outcome::Skipped(why) => {
                        skipped += 1;
                        eprintln!("  not done: {} ({why})", plan.actions[*i].id)
                    }
                    Outcome::Done => {}
                }
            }
            eprintln!(
                "{} failed after {secs:.1}s: {summary}, {failed} failed, {skipped} not started.",
                capitalize(command)
            );
            return result_of(command, name, plan, "failed", secs, done, run.json);
        }
        ops::Status::Ok => {}
    }
    if !run.json && !plan.is_empty() {
        println!("{} complete in {secs:.1}s! Resources: {summary}.", capitalize(command));
    }
    result_of(command, name, plan, "ok", secs, done, run.json)
}

/// The `--json` document of an apply: the plan, the outcome, the counts, and each action that
/// failed or was not started, with why. Made only when `json` asks for it: a 10,000-node
/// lab's plan as a JSON tree is some hundred MB.
fn result_of(
    command: &str,
    scenario: &str,
    plan: &Plan,
    status: &str,
    seconds: f64,
    done: &ops::Applied,
    json: bool,
) -> Converged {
    let (outcomes, [add, change, destroy]) = (&done.outcomes, done.counts);
    let code = if status == "ok" { super::EXIT_OK } else { super::EXIT_ERROR };
    if !json {
        return Converged { code, json: serde_json::Value::Null };
    }
    let address = |i: &usize| plan.actions[*i].id.to_string();
    let failed: Vec<_> = outcomes
        .iter()
        .filter_map(|(i, o)| match o {
            Outcome::Failed(e) => Some(serde_json::json!({"address": address(i), "error": e.to_string()})),
            _ => None,
        })
        .collect();
    let not_started: Vec<_> = outcomes
        .iter()
        .filter_map(|(i, o)| match o {
            Outcome::Skipped(why) => Some(serde_json::json!({"address": address(i), "reason": why})),
            _ => None,
        })
        .collect();
    let json = serde_json::json!({
        "command": command, "scenario": scenario, "status": status, "seconds": (seconds * 1000.0).round() / 1000.0,
        "summary": {"add": add, "change": change, "destroy": destroy},
        "failed": failed, "not_started": not_started, "plan": render::to_json(plan, scenario),
    });
    Converged { code, json }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn open(state_arg: &Option<PathBuf>) -> Result<(PathBuf, vnx_state::State), String> {
    let p = common::state_path(state_arg);
    let s = common::open_state(&p)?;
    Ok((p, s))
}

/// Runs `f` under the scenario's lock.
pub(super) fn locked(state: &vnx_state::State, name: &str, op: &str, run: &RunArgs, f: impl FnOnce() -> i32) -> i32 {
    let timeout = match common::parse_duration(&run.lock_timeout) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let lock = match common::lock(state, name, op, timeout) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let code = f();
    let _ = state.unlock(&lock);
    code
}

pub fn run_apply(c: ApplyCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    common::load_ahead(&c.scenario);
    let how = super::cluster::How { plan: &c.plan, json: c.run.json, detailed_exitcode: false, start: c.start };
    if let Some(code) = super::cluster::plan_or_apply(&c.scenario, &c.cluster, &how, Some(&c.run), state_arg, color) {
        return code;
    }
    let rt = common::runtime();
    // A saved plan? It is trusted only as far as it goes: the scenario it holds is validated and
    // planned again, and only a plan equal to the saved one is carried out (never its actions
    // as written in the file).
    let text = scenario::limits::read_to_string(std::path::Path::new(&c.scenario)).ok();
    if let Some(saved) = text.as_deref().and_then(|t| saved_plan(&c.scenario, t)) {
        let saved = match saved {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        let (state_path, state) = match open(state_arg) {
            Ok(x) => x,
            Err(e) => return fail(&e),
        };
        return locked(&state, &saved.scenario.clone(), "apply", &c.run, || {
            let now = match state.serial(&saved.scenario) {
                Ok(n) => n,
                Err(e) => return fail(&e.to_string()),
            };
            if now != saved.serial {
                return fail(&format!(
                    "the saved plan is stale: the state of {} changed since it was made; plan again",
                    saved.scenario
                ));
            }
            let dir = std::path::Path::new(&saved.source).parent().unwrap_or(std::path::Path::new("."));
            let loaded = scenario::load_str(&dir.join("saved-plan.yaml"), saved.desired.clone());
            let s = match loaded.doc {
                Some(Document::Scenario(s)) if !loaded.report.has_errors() && s.name.value == saved.scenario => s,
                _ => {
                    eprint!("{}", loaded.report.render(color));
                    return fail(&format!("{} holds no valid scenario named {}", c.scenario, saved.scenario));
                }
            };
            let t = Target {
                scenario: std::sync::Arc::new(s),
                source: saved.source.clone(),
                format: Format::Yaml,
                dir: dir.to_path_buf(),
                report_source: scenario::Source::new(&c.scenario, saved.desired.clone()),
            };
            let planned = match rt.block_on(make_plan(t, &saved.args, saved.destroy, false, &state, &state_path, color))
            {
                Ok(p) => p,
                Err(e) => return fail(&e),
            };
            if planned.plan != saved.plan {
                return fail(&format!(
                    "{} no longer matches what is there (planning its scenario again gives another plan): plan again",
                    c.scenario
                ));
            }
            let run = RunArgs { auto_approve: true, ..c.run.clone() };
            let forget = saved.destroy && saved.args.target.is_empty();
            converge(planned, "apply", &run, &state, &state_path, color, &rt, forget)
        });
    }
    let (state_path, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let name = t.scenario.name.value.clone();
    locked(&state, &name, "apply", &c.run, || {
        if c.start {
            let runs = match state.node_runs(&name) {
                Ok(r) => r,
                Err(e) => return fail(&e.to_string()),
            };
            for node in runs.keys().filter(|n| c.plan.target.is_empty() || c.plan.target.contains(n)) {
                if let Err(e) = state.set_node_run(&name, node, "running") {
                    return fail(&e.to_string());
                }
            }
        }
        // Planning leaves a core idle now and then: the record's text is written meanwhile.
        match rt.block_on(make_plan(t, &c.plan, false, true, &state, &state_path, color)) {
            Ok(p) => converge(p, "apply", &c.run, &state, &state_path, color, &rt, false),
            Err(e) => fail(&e),
        }
    })
}

pub fn run_destroy(c: DestroyCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    common::load_ahead(&c.scenario);
    if let Some(code) = super::cluster::destroy(&c.scenario, &c.hosts, &c.run, state_arg) {
        return code;
    }
    let (state_path, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let name = t.scenario.name.value.clone();
    let rt = common::runtime();
    locked(&state, &name, "destroy", &c.run, || {
        match rt.block_on(make_plan(t, &c.plan, true, false, &state, &state_path, color)) {
            Ok(p) => converge(p, "destroy", &c.run, &state, &state_path, color, &rt, c.plan.target.is_empty()),
            Err(e) => fail(&e),
        }
    })
}

/// The lab `t` changed by the modify document `patch`: its findings printed, an error the exit
/// code to give.
pub(super) fn patched(
    t: &common::Target,
    patch: &std::path::Path,
    color: bool,
) -> Result<scenario::modify::Modified, i32> {
    let loaded = match scenario::load(patch) {
        Ok(l) => l,
        Err(e) => return Err(fail(&format!("cannot read {}: {e}", patch.display()))),
    };
    eprint!("{}", loaded.report.render(color));
    let Some(Document::Modify(doc)) = loaded.doc.filter(|_| !loaded.report.has_errors()) else {
        return Err(fail(&format!("{} is not a valid <modify_vnx> document", patch.display())));
    };
    let modified = match scenario::modify::apply(&t.scenario, &doc) {
        Ok(m) => m,
        Err(d) => {
            eprint!("{}", scenario::Report { source: loaded.report.source.clone(), diags: vec![d] }.render(color));
            return Err(super::EXIT_ERROR);
        }
    };
    let errors: Vec<_> =
        scenario::validate::scenario(&modified.scenario, &scenario::validate::Context { dir: Some(t.dir.clone()) })
            .into_iter()
            .filter(|d| d.is_error())
            .collect();
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("error: after {}: {}", patch.display(), d.message);
        }
        return Err(super::EXIT_ERROR);
    }
    Ok(modified)
}

pub fn run_modify(c: ModifyCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    if let Some(code) = super::cluster::modify(&c, state_arg, color) {
        return code;
    }
    let (state_path, state, mut t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    // A modify document changes the lab as it runs, as in VNX: the recorded scenario (with
    // every earlier modification), not the file, which only names the lab when it never ran.
    match common::recorded_target(&state, &t.scenario.name.value.clone()) {
        Ok(Some(recorded)) => t = recorded,
        Ok(None) => {}
        Err(e) => return fail(&e),
    }
    let modified = match patched(&t, &c.patch, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    // Nodes removed with mode="shutdown" run their on_shutdown sequence first, as in VNX
    // (which ran it on every node of the scenario; here only on those being removed).
    let before_scenario = t.scenario.clone();
    let shutdown_first = modified.shutdown_first.clone();
    let dir = t.dir.clone();
    t.scenario = std::sync::Arc::new(modified.scenario);
    t.source = format!("{} + {}", t.source, c.patch.display());
    let name = t.scenario.name.value.clone();
    let rt = common::runtime();
    let on_shutdown = || {
        let running = super::exec::running_inits(&state, &name);
        for node in &shutdown_first {
            let (Some(n), Some((_, init))) = (before_scenario.node(node), running.iter().find(|(x, _)| x == node))
            else {
                continue;
            };
            if super::exec::has_step(n, "on_shutdown") {
                if let Err((msg, _)) = super::exec::run_step(&before_scenario, &dir, n, "on_shutdown", init) {
                    eprintln!("warning: on_shutdown of {node}: {msg}");
                }
            }
        }
    };
    locked(&state, &name, "modify", &c.run, || {
        match rt.block_on(make_plan(t, &c.plan, false, false, &state, &state_path, color)) {
            Ok(p) => {
                let done = converge_with(p, "modify", &c.run, &state, &state_path, color, &rt, false, &on_shutdown);
                print_json(&c.run, &done);
                done.code
            }
            Err(e) => fail(&e),
        }
    })
}
