//! Planning: the desired resources against the record and what really exists.

use vnx_providers::lab::Lab;

use crate::plan::{self, Actual, Desired, IdMap, Plan, Recorded, ResId};

use super::{lab, Session};

/// The plan that takes lab `name` from what is recorded (and, with `refresh`, what exists)
/// to the resources `desired` returns (none: destroy it, as `options` says). `desired` runs
/// on a thread of its own while the record is read and refreshed, which does not need it (a
/// 10,000-node lab's desired resources take a fifth of a second, its refresh half a second:
/// the refresh's single-threaded parts run beside the desired resources rather than after
/// them). With the plan comes the lab provider refresh read the lab with, if it ran:
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
    let runtime = tokio::runtime::Handle::current();
    // The refresh is async: this thread waits on it where the runtime has threads to spare.
    let (desired, read) = if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| {
            std::thread::scope(|sc| {
                let desired = sc.spawn(|| {
                    let t = std::time::Instant::now();
                    let d = desired();
                    tracing::debug!("planning: the desired resources {:?}", t.elapsed());
                    d
                });
                let read = runtime.block_on(read(s, name, refresh));
                (desired.join().unwrap_or_else(|_| Err("computing the desired resources failed".into())), read)
            })
        })
    } else {
        (desired(), read(s, name, refresh).await)
    };
    // The scenario's own errors come first: they are what the user fixes.
    let desired = desired?;
    let (recorded, actual, lab) = read?;
    let t1 = std::time::Instant::now();
    // The diff has one thread: beside it, a lab that runs gets what starting a node needs
    // (most applies to a running lab start one), 40-80 ms at 10,000 nodes that came after it.
    let plan = std::thread::scope(|sc| {
        if let Some(lab) = lab.as_ref().filter(|_| !options.destroy) {
            sc.spawn(|| lab.prepare_node_starts());
        }
        plan::plan(&desired, &recorded, &actual, options)
    });
    tracing::debug!("planning took: reading the record and refresh {:?}, diff {:?}", t1 - t0, t1.elapsed());
    // Freed beside what comes next: a 10,000-node lab's 60,000 desired, recorded and refreshed
    // resources took 0.1 s to free, before the plan could be shown.
    std::thread::spawn(move || drop((desired, recorded, actual)));
    Ok((plan, lab))
}

/// The record, as refresh found it, and the lab provider refresh used.
type Read = (Vec<Recorded>, IdMap<ResId, Actual>, Option<Lab>);

/// The record, and what refresh found of it.
async fn read(s: Session<'_>, name: &str, refresh: bool) -> Result<Read, String> {
    let t0 = std::time::Instant::now();
    let mut recorded = lab::recorded_of(s.state, name)?;
    tracing::debug!("planning: the record {:?}", t0.elapsed());
    if !refresh || recorded.is_empty() {
        return Ok((recorded, Default::default(), None));
    }
    let t1 = std::time::Instant::now();
    let lab = lab::lab(name, s.path, &recorded)?;
    tracing::debug!("planning: the lab provider {:?}", t1.elapsed());
    let actual = lab::refresh(&lab, &mut recorded).await?;
    tracing::debug!("planning: the refresh {:?}", t1.elapsed());
    Ok((recorded, actual, Some(lab)))
}
