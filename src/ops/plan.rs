//! Planning: the desired resources against the record and what really exists.

use vnx_providers::lab::Lab;

use crate::plan::{self, Desired, Plan};

use super::{lab, Session};

/// The plan that takes lab `name` from what is recorded (and, with `refresh`, what exists)
/// to the resources `desired` returns (none: destroy it, as `options` says). `desired` runs
/// on a thread of its own while the record is read (a 10,000-node lab's take a fifth of a
/// second each). With the plan comes the lab provider refresh read the lab with, if it ran:
/// [`converge`](super::converge) carries the plan out with it rather than make another.
pub async fn plan(
    s: Session<'_>,
    name: &str,
    desired: impl FnOnce() -> Result<Vec<Desired>, String> + Send,
    options: &plan::Options,
    refresh: bool,
) -> Result<(Plan, Option<Lab>), String> {
    // A plan for a lab another state owns could not be carried out: say so now.
    vnx_providers::claim::check(name, s.path).map_err(|e| e.to_string())?;
    let t0 = std::time::Instant::now();
    let (desired, recorded) = std::thread::scope(|sc| {
        let desired = sc.spawn(|| {
            let t = std::time::Instant::now();
            let d = desired();
            tracing::debug!("planning: the desired resources {:?}", t.elapsed());
            d
        });
        let recorded = lab::recorded_of(s.state, name);
        tracing::debug!("planning: the record {:?}", t0.elapsed());
        (desired.join().unwrap_or_else(|_| Err("computing the desired resources failed".into())), recorded)
    });
    let (desired, mut recorded) = (desired?, recorded?);
    let t1 = std::time::Instant::now();
    let (actual, lab) = if refresh && !recorded.is_empty() {
        let lab = lab::lab(name, s.path, &recorded)?;
        tracing::debug!("planning: the lab provider {:?}", t1.elapsed());
        (lab::refresh(&lab, &mut recorded).await?, Some(lab))
    } else {
        Default::default()
    };
    let t2 = std::time::Instant::now();
    let plan = plan::plan(&desired, &recorded, &actual, options);
    tracing::debug!("planning took: reading the record {:?}, refresh {:?}, diff {:?}", t1 - t0, t2 - t1, t2.elapsed());
    // Freed beside what comes next: a 10,000-node lab's 60,000 desired, recorded and refreshed
    // resources took 0.1 s to free, before the plan could be shown.
    std::thread::spawn(move || drop((desired, recorded, actual)));
    Ok((plan, lab))
}
