//! Converging a lab: carrying out a plan (apply, destroy, modify, a lifecycle step), with the
//! scenario recorded first, the lab claimed for this state, every action journalled, and the
//! record of a lab with nothing left forgotten.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use crate::engine::{self, Event, Outcome};
use crate::plan::{render, Op, Plan};
use crate::scenario::{self, Format, Scenario};

use super::{lab, Session};

/// What a caller decides and sees while a plan is carried out.
pub trait Steer {
    /// The plan, once it is known that it can run here (also when it is empty).
    fn show(&mut self, plan: &Plan);
    /// Whether to carry out this (non-empty) plan.
    fn approve(&mut self, plan: &Plan) -> Result<bool, String>;
    /// Approved, just before anything changes (modify's `on_shutdown` sequences run here).
    fn before(&mut self) {}
    /// An action started or finished.
    fn event(&mut self, ev: Event<'_>);
    /// The last action finished.
    fn finished(&mut self) {}
}

/// What to converge.
pub struct Job<'a> {
    /// apply, destroy, modify, or a lifecycle verb: recorded in the history.
    pub command: &'a str,
    /// The scenario the lab becomes (recorded before anything is done), its source and format.
    pub scenario: &'a Scenario,
    pub source: &'a str,
    pub format: Format,
    /// Forget the lab when it is left with nothing (a whole destroy).
    pub forget_when_empty: bool,
    /// How many actions at once.
    pub parallelism: usize,
    /// Set by the caller to start no new action (Ctrl-C): running ones finish.
    pub stop: Arc<AtomicBool>,
    /// The scenario's text for the record, if the caller started writing it ahead.
    pub ahead: Option<RecordText>,
}

/// The scenario's text as the record keeps it (YAML), written ahead of converge on a thread of
/// its own at the lowest priority: it takes time the machine would otherwise leave idle
/// (planning's diff runs on one core), and is ready, or nearly, when converge records it. At
/// 10,000 nodes it takes 65 ms, which converge otherwise waited for before the first action.
pub struct RecordText(std::sync::Mutex<Option<std::thread::JoinHandle<String>>>);

impl RecordText {
    pub fn ahead(scenario: std::sync::Arc<Scenario>) -> RecordText {
        let writing = std::thread::spawn(move || {
            // This thread only: Linux gives each thread its own nice value.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
            scenario::write(&scenario, Format::Yaml)
        });
        RecordText(std::sync::Mutex::new(Some(writing)))
    }

    /// The text (once: `None` after, or if the thread failed).
    fn take(&self) -> Option<String> {
        self.0.lock().ok()?.take()?.join().ok()
    }
}

impl Job<'_> {
    /// The scenario's text for the record: written ahead, else now.
    fn record_text(&self) -> String {
        self.ahead.as_ref().and_then(RecordText::take).unwrap_or_else(|| scenario::write(self.scenario, Format::Yaml))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Some action failed or could not start.
    Failed,
    /// Stopped (by [`Job::stop`]) before every action ran.
    Interrupted,
    /// Not approved: nothing was done.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Cancelled => "cancelled",
        }
    }
}

/// What a converge did.
pub struct Applied {
    pub status: Status,
    pub seconds: f64,
    /// Each action's outcome, by its index in the plan.
    pub outcomes: BTreeMap<usize, Outcome>,
    /// Resources added, changed, destroyed.
    pub counts: [usize; 3],
}

impl Applied {
    fn nothing(status: Status) -> Applied {
        Applied { status, seconds: 0.0, outcomes: Default::default(), counts: [0, 0, 0] }
    }

    /// `N added, N changed, N destroyed`.
    pub fn summary(&self) -> String {
        let [a, c, d] = self.counts;
        format!("{a} added, {c} changed, {d} destroyed")
    }
}

/// Carries out `plan` on the lab of `job.scenario`, with the lab provider that planning
/// refreshed with, if any (else one is made). An error is a refusal or a failure before any
/// action (nothing was done, or the history says what); a failed action is in the result.
pub async fn converge(
    s: Session<'_>,
    job: &Job<'_>,
    plan: &Plan,
    planned_lab: Option<vnx_providers::lab::Lab>,
    steer: &mut dyn Steer,
) -> Result<Applied, String> {
    let name = job.scenario.name.value.as_str();
    if !plan.is_empty() {
        if let Some(why) = vnx_providers::ns::mount_namespace_problem() {
            return Err(why);
        }
    }
    steer.show(plan);
    // The scenario recorded (as YAML, with the format it was read in).
    let record = |yaml: &str| {
        let format = if job.format == Format::Xml { "xml" } else { "yaml" };
        s.state.put_scenario(name, job.source, format, yaml).map_err(|e| e.to_string())
    };
    if plan.is_empty() {
        if job.forget_when_empty {
            let _ = s.state.delete_scenario(name);
            lab::remove_lab_dirs(s.path, name);
        } else {
            record(&job.record_text())?;
        }
        return Ok(Applied::nothing(Status::Ok));
    }
    if !steer.approve(plan)? {
        return Ok(Applied::nothing(Status::Cancelled));
    }
    steer.before();
    // The lab is this state's from here on (refused when another state owns it).
    vnx_providers::claim::take(name, s.path).map_err(|e| e.to_string())?;
    let journaling = Instant::now();
    // The scenario is written out (a 10,000-node one in 65 ms) on a thread of its own while
    // the plan is journalled, the lab provider made and, in a lab that runs, what starting a
    // node needs made ahead; the scenario is recorded before any action.
    let (apply_id, lab, preparing) = std::thread::scope(|sc| {
        let yaml = (!job.forget_when_empty).then(|| sc.spawn(|| job.record_text()));
        let apply_id =
            s.state.apply_begin(name, job.command, &render::to_json_text(plan, name)).map_err(|e| e.to_string())?;
        let preparing = Instant::now();
        lab::prepare_host(job.scenario);
        let lab = match planned_lab {
            Some(lab) => Ok(lab),
            None => lab::recorded_for_lab(s.state, name).and_then(|recorded| lab::lab(name, s.path, &recorded)),
        };
        if let (Ok(lab), true) = (&lab, starts_ns_nodes(plan)) {
            lab.prepare_node_starts();
        }
        if let Some(yaml) = yaml {
            let yaml = yaml.join().map_err(|_| "writing the scenario out failed".to_string());
            if let Err(e) = yaml.and_then(|y| record(&y)) {
                let _ = s.state.apply_end(apply_id, "failed", &e);
                return Err(e);
            }
        }
        Ok::<_, String>((apply_id, lab, preparing))
    })?;
    tracing::debug!(
        "before the actions: journalling the plan {:?}, the lab provider, node starts and recording the scenario {:?}",
        preparing - journaling,
        preparing.elapsed()
    );
    let t0 = Instant::now();
    let report = async {
        let lab = lab?;
        let dying = dying_netns(plan);
        let held = vnx_providers::ns::hold_netns(dying.iter().map(String::as_str));
        let report =
            engine::apply(plan, &lab, s.state, name, apply_id, job.parallelism, &job.stop, |ev| steer.event(ev))
                .await
                .map_err(|e| e.to_string());
        steer.finished();
        drop(held);
        let report = report?;
        // Interfaces and management links removed with their nodes leave the host a moment
        // later (the kernel cleans a namespace up after its last user): wait for them.
        for kind in [crate::plan::kind::INTERFACE, crate::plan::kind::MGMT] {
            let gone: Vec<String> = plan
                .actions
                .iter()
                .filter(|a| a.goes_with_node && a.id.kind == kind)
                .map(|a| a.id.name.clone())
                .collect();
            if !gone.is_empty() {
                lab.settle(kind, &gone, std::time::Duration::from_secs(5)).await;
            }
        }
        Ok::<_, String>(report)
    }
    .await;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = s.state.apply_end(apply_id, "failed", &e);
            return Err(e);
        }
    };
    let mut counts = [0, 0, 0];
    for (i, o) in &report.outcomes {
        if *o == Outcome::Done {
            counts[match plan.actions[*i].op {
                Op::Create => 0,
                Op::Update => 1,
                Op::Delete => 2,
            }] += 1;
        }
    }
    let status = if report.interrupted {
        Status::Interrupted
    } else if !report.ok() {
        Status::Failed
    } else {
        Status::Ok
    };
    tracing::debug!("the actions {:?}", t0.elapsed());
    let done = Applied { status, seconds: t0.elapsed().as_secs_f64(), outcomes: report.outcomes, counts };
    let _ = s.state.apply_end(apply_id, status.as_str(), &done.summary());
    if status == Status::Ok && job.forget_when_empty && s.state.resources(name).map(|r| r.is_empty()).unwrap_or(false) {
        let _ = s.state.delete_scenario(name);
        lab::remove_lab_dirs(s.path, name);
    }
    Ok(done)
}

/// Whether `plan` starts `ns` nodes (creates them, or updates one that may start).
fn starts_ns_nodes(plan: &Plan) -> bool {
    plan.actions.iter().any(|a| {
        a.id.kind == crate::plan::kind::NODE
            && a.op != Op::Delete
            && plan.desired.get(&a.id).is_some_and(|d| d.provider == "ns")
    })
}

/// The network namespaces of the nodes and lab namespaces `plan` deletes for good (not to
/// make them anew: a namespace held past its delete keeps its links, whose names the new one
/// takes). Held open through the actions ([`vnx_providers::ns::hold_netns`]).
fn dying_netns(plan: &Plan) -> Vec<String> {
    use vnx_providers::kinds;
    let created: crate::plan::IdSet<&crate::plan::ResId> =
        plan.actions.iter().filter(|a| a.op == Op::Create).map(|a| &a.id).collect();
    plan.actions
        .iter()
        .filter(|a| a.op == Op::Delete && !created.contains(&a.id))
        .filter_map(|a| plan.recorded.get(&a.id))
        .filter_map(|r| match r.id.kind.as_str() {
            kinds::node::KIND => r.typed::<kinds::node::Attrs>().ok()?.netns,
            kinds::lab::KIND => r.typed::<kinds::lab::Attrs>().ok().map(|l| l.netns),
            _ => None,
        })
        .collect()
}
