//! The apply executor: walks a plan's action graph with at most N actions at once, through a
//! provider, and writes every start and finish to the state database before anything that
//! depends on it starts.
//!
//! Crash safety: before an action starts, its resource is recorded with the status
//! `creating`/`updating`/`deleting`; when it finishes, with `ok` (or removed). A run killed in
//! between leaves that status behind, and the next plan replaces such a resource. Every provider
//! operation is idempotent, so doing it again converges.

pub mod exec;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use vnx_providers::lab::{Item, Provider};
use vnx_state::{ResourceRow, State};

use crate::plan::{Action, Desired, Op, Plan, Recorded, ResId};

/// What happened to one action.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not started: something it needs failed, or the run was interrupted.
    Skipped(String),
}

/// Progress, for the terminal or the log.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    Started { op: Op, id: &'a ResId },
    Finished { op: Op, id: &'a ResId, took: Duration, outcome: &'a Outcome },
}

#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: BTreeMap<usize, Outcome>,
    pub interrupted: bool,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.outcomes.values().filter(|o| matches!(o, Outcome::Failed(_))).count()
    }
    pub fn skipped(&self) -> usize {
        self.outcomes.values().filter(|o| matches!(o, Outcome::Skipped(_))).count()
    }
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0 && !self.interrupted
    }
}

pub fn item_of_desired(d: &Desired) -> Item {
    Item {
        kind: d.id.kind.clone(),
        name: d.id.name.clone(),
        provider: d.provider.clone(),
        host: d.id.host.clone(),
        attrs: d.attrs.clone(),
        runtime: Value::Null,
    }
}

/// An item of a recorded resource that takes its attributes and runtime facts (to be given
/// back: see `ops::lab::refresh`).
pub fn item_lent_by(r: &mut Recorded) -> Item {
    Item {
        kind: r.id.kind.clone(),
        name: r.id.name.clone(),
        provider: r.provider.clone(),
        host: r.id.host.clone(),
        attrs: std::mem::take(&mut r.attrs),
        runtime: r.runtime.take(),
    }
}

pub fn item_of_recorded(r: &Recorded) -> Item {
    Item {
        kind: r.id.kind.clone(),
        name: r.id.name.clone(),
        provider: r.provider.clone(),
        host: r.id.host.clone(),
        attrs: r.attrs.clone(),
        runtime: r.runtime.clone(),
    }
}

fn row(scenario: &str, d: &Desired, status: &str, runtime: Value) -> ResourceRow {
    ResourceRow {
        scenario: scenario.to_string(),
        host: d.id.host.clone(),
        kind: d.id.kind.clone(),
        name: d.id.name.clone(),
        provider: d.provider.clone(),
        attrs: Value::Object(d.attrs.clone()),
        deps: d.deps.iter().map(ResId::key).collect(),
        status: status.to_string(),
        runtime,
    }
}

fn recorded_row(scenario: &str, r: &Recorded, status: &str) -> ResourceRow {
    ResourceRow {
        scenario: scenario.to_string(),
        host: r.id.host.clone(),
        kind: r.id.kind.clone(),
        name: r.id.name.clone(),
        provider: r.provider.clone(),
        attrs: Value::Object(r.attrs.clone()),
        deps: r.deps.iter().map(ResId::key).collect(),
        status: status.to_string(),
        runtime: r.runtime.clone(),
    }
}

/// An action's end: (action, journal entry, when it started, its runtime facts or error).
type Finished = (usize, i64, Instant, Result<Value, String>);

/// Actions whose prerequisites are all done.
#[derive(Default)]
struct Ready {
    /// Record-only deletes: the object went with its node or the lab's namespace.
    quick: Vec<usize>,
    /// Everything else, in the order it became ready.
    other: std::collections::VecDeque<usize>,
}

impl Ready {
    fn push(&mut self, a: &Action) {
        if a.op == Op::Delete && a.goes_with_node {
            self.quick.push(a.index);
        } else {
            self.other.push_back(a.index);
        }
    }
}

/// Carries out `plan` for `scenario`. `stop` is checked before each action starts (SIGINT).
pub async fn apply<P: Provider>(
    plan: &Plan,
    provider: &P,
    state: &State,
    scenario: &str,
    apply_id: i64,
    parallelism: usize,
    stop: &AtomicBool,
    mut progress: impl FnMut(Event),
) -> Result<Report, vnx_state::Error> {
    let n = plan.actions.len();
    let mut report = Report::default();
    let mut started: HashSet<usize> = HashSet::new();
    let mut running = FuturesUnordered::new();
    // Kahn's walk: how many prerequisites each action still waits for, and who waits on whom.
    let mut waiting: Vec<usize> = plan.actions.iter().map(|a| a.after.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in &plan.actions {
        for &d in &a.after {
            dependents[d].push(a.index);
        }
    }
    // What may start, in two queues: record-only deletes (the kernel removed the object with
    // its node or with the lab's namespace), which need no provider, and the rest. Kept apart
    // as they become ready: picking them out of one queue at every step was quadratic in the
    // lab (a lab's thousands of nets are all ready at once).
    let mut ready = Ready::default();
    for a in plan.actions.iter().filter(|a| a.after.is_empty()) {
        ready.push(a);
    }
    loop {
        // All record-only deletes that are ready go in one transaction.
        while !stop.load(Ordering::SeqCst) {
            let quick: Vec<usize> = std::mem::take(&mut ready.quick)
                .into_iter()
                .filter(|&i| !started.contains(&i) && !report.outcomes.contains_key(&i))
                .collect();
            if quick.is_empty() {
                break;
            }
            let t0 = Instant::now();
            state.transaction(|st| {
                for &i in &quick {
                    let id = &plan.actions[i].id;
                    let journal = st.journal_start(apply_id, scenario, &id.key(), "delete")?;
                    st.delete_resource(scenario, &id.key())?;
                    st.journal_finish(journal, None)?;
                }
                Ok(())
            })?;
            for &i in &quick {
                started.insert(i);
                let a = &plan.actions[i];
                progress(Event::Started { op: a.op, id: &a.id });
                progress(Event::Finished { op: a.op, id: &a.id, took: t0.elapsed(), outcome: &Outcome::Done });
                report.outcomes.insert(i, Outcome::Done);
                for &d in &dependents[i] {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        ready.push(&plan.actions[d]);
                    }
                }
            }
        }
        // Start what is ready, up to the bound. Their intents are recorded first, in one
        // transaction: a crash from here on leaves them tainted.
        let mut starting: Vec<usize> = Vec::new();
        if !stop.load(Ordering::SeqCst) {
            while running.len() + starting.len() < parallelism.max(1) {
                let Some(i) = ready.other.pop_front() else { break };
                if started.insert(i) && !report.outcomes.contains_key(&i) {
                    starting.push(i);
                }
            }
        }
        // (Nothing to start, as when a slot freed up with nothing ready: no transaction.)
        let journals = if starting.is_empty() {
            Ok(vec![])
        } else {
            state.transaction(|st| {
                let mut journals = Vec::new();
                for &i in &starting {
                    let (op, id) = (plan.actions[i].op, &plan.actions[i].id);
                    journals.push(st.journal_start(
                        apply_id,
                        scenario,
                        &id.key(),
                        &format!("{op:?}").to_lowercase(),
                    )?);
                    st.put_resource(&match op {
                        Op::Create => row(scenario, &plan.desired[id], "creating", Value::Null),
                        Op::Update => row(scenario, &plan.desired[id], "updating", plan.recorded[id].runtime.clone()),
                        Op::Delete => recorded_row(scenario, &plan.recorded[id], "deleting"),
                    })?;
                }
                Ok(journals)
            })
        }?;
        for (&action, journal) in starting.iter().zip(journals) {
            let (op, id) = (plan.actions[action].op, &plan.actions[action].id);
            let fut: std::pin::Pin<Box<dyn std::future::Future<Output = Finished> + '_>> = match op {
                Op::Create => {
                    let item = item_of_desired(&plan.desired[id]);
                    Box::pin(async move {
                        (action, journal, Instant::now(), provider.create(item).await.map_err(|e| e.to_string()))
                    })
                }
                Op::Update => {
                    let (old, new) = (item_of_recorded(&plan.recorded[id]), item_of_desired(&plan.desired[id]));
                    Box::pin(async move {
                        (action, journal, Instant::now(), provider.update(old, new).await.map_err(|e| e.to_string()))
                    })
                }
                Op::Delete => {
                    let old = item_of_recorded(&plan.recorded[id]);
                    Box::pin(async move {
                        let result = provider.delete(old).await.map(|_| Value::Null).map_err(|e| e.to_string());
                        (action, journal, Instant::now(), result)
                    })
                }
            };
            progress(Event::Started { op, id });
            running.push(fut);
        }
        if running.is_empty() {
            break;
        }
        // What finished: the first to, and any others already done, recorded in one transaction
        // before anything that waits for them starts.
        let Some(first) = running.next().await else { break };
        let mut finished = vec![first];
        while let Some(Some(f)) = running.next().now_or_never() {
            finished.push(f);
        }
        state.transaction(|st| {
            for (action, journal, _, result) in &finished {
                let a = &plan.actions[*action];
                match result {
                    Ok(runtime) => {
                        match a.op {
                            Op::Create | Op::Update => {
                                st.put_resource(&row(scenario, &plan.desired[&a.id], "ok", runtime.clone()))?
                            }
                            Op::Delete => {
                                st.delete_resource(scenario, &a.id.key())?;
                            }
                        }
                        st.journal_finish(*journal, None)?;
                    }
                    // The resource stays recorded as `creating`/`updating`/`deleting`: the
                    // truth is unknown, and the next plan replaces or removes it.
                    Err(e) => st.journal_finish(*journal, Some(e))?,
                }
            }
            Ok(())
        })?;
        for (action, _, t0, result) in finished {
            let a = &plan.actions[action];
            let outcome = match result {
                Ok(_) => {
                    for &d in &dependents[action] {
                        waiting[d] -= 1;
                        if waiting[d] == 0 {
                            ready.push(&plan.actions[d]);
                        }
                    }
                    Outcome::Done
                }
                Err(e) => {
                    // Whatever needs this, directly or not, will not happen.
                    let mut stack = dependents[action].clone();
                    while let Some(d) = stack.pop() {
                        if !report.outcomes.contains_key(&d) {
                            report.outcomes.insert(d, Outcome::Skipped(format!("{} did not happen", a.id)));
                            stack.extend(dependents[d].iter().copied());
                        }
                    }
                    Outcome::Failed(e)
                }
            };
            progress(Event::Finished { op: a.op, id: &a.id, took: t0.elapsed(), outcome: &outcome });
            report.outcomes.insert(action, outcome);
        }
    }
    if stop.load(Ordering::SeqCst) {
        report.interrupted = true;
        for a in &plan.actions {
            report.outcomes.entry(a.index).or_insert_with(|| Outcome::Skipped("interrupted".into()));
        }
    }
    Ok(report)
}
