//! Changing nodes' run states (start, shutdown, reboot, …): each step records the run state
//! asked of the chosen nodes, then plans and converges only them.

use crate::engine::Event;
use crate::plan::{self, Desired, Plan};

use super::{converge, plan as planning, Applied, Job, Session, Status, Steer};

/// One step: the run state to reach, and whether the nodes' `on_shutdown` sequences run first.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub run: &'static str,
    pub on_shutdown: bool,
}

/// A lifecycle command on some nodes of an applied lab.
pub struct Lifecycle<'a> {
    /// How the lab's scenario is recorded (its verb is `job.command`).
    pub job: Job<'a>,
    pub nodes: &'a [String],
    pub steps: &'a [Step],
    /// The lab's desired resources with the run states recorded now.
    pub desired: &'a dyn Fn() -> Result<Vec<Desired>, String>,
    /// Runs the `on_shutdown` sequences of these nodes (those that run and have one).
    pub on_shutdown: &'a dyn Fn(&[String]),
}

/// Each step's plan and what it did, up to the first that did not end well.
pub async fn run(s: Session<'_>, l: &Lifecycle<'_>, steer: &mut dyn Steer) -> Result<Vec<(Plan, Applied)>, String> {
    let name = l.job.scenario.name.value.as_str();
    let mut done = Vec::new();
    for step in l.steps {
        for n in l.nodes {
            s.state.set_node_run(name, n, step.run).map_err(|e| e.to_string())?;
        }
        // Read from the record (node runs) as each step set them: not beside it.
        let desired = (l.desired)()?;
        let options = plan::Options { targets: l.nodes.to_vec(), ..Default::default() };
        // From the record (no refresh): a lifecycle command changes run states only, which the
        // record follows step by step.
        let (plan, lab) = planning::plan(s, name, move || Ok(desired), &options, false).await?;
        let shutdown_first = || (l.on_shutdown)(l.nodes);
        let mut step_steer = Before { inner: steer, before: step.on_shutdown.then_some(&shutdown_first) };
        let applied = converge(s, &l.job, &plan, lab, &mut step_steer).await?;
        let ok = applied.status == Status::Ok;
        done.push((plan, applied));
        if !ok {
            break;
        }
    }
    Ok(done)
}

/// A caller's steer, with something of the operation's own to run before a step's changes.
struct Before<'a, 'b> {
    inner: &'a mut dyn Steer,
    before: Option<&'b dyn Fn()>,
}

impl Steer for Before<'_, '_> {
    fn show(&mut self, plan: &Plan) {
        self.inner.show(plan)
    }
    fn approve(&mut self, plan: &Plan) -> Result<bool, String> {
        self.inner.approve(plan)
    }
    fn before(&mut self) {
        if let Some(f) = self.before {
            f();
        }
        self.inner.before()
    }
    fn event(&mut self, ev: Event<'_>) {
        self.inner.event(ev)
    }
    fn finished(&mut self) {
        self.inner.finished()
    }
}
