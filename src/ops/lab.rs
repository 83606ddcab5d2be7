//! The lab provider and the record, as every operation uses them: the recorded resources,
//! the provider for a lab, refresh, and the lab's directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vnx_providers::lab::{Item, Lab, Provider, Seen};
use vnx_state::State;

use crate::plan::{Actual, IdMap, Recorded, ResId};

/// A lab's own directory (node layers, saved states): beside the state database.
pub fn lab_dir(state_path: &Path, scenario: &str) -> Result<PathBuf, String> {
    vnx_providers::names::child(&state_path.parent().unwrap_or(Path::new(".")).join("labs"), "scenario", scenario)
        .map_err(|e| e.to_string())
}

/// What the host must allow before a scenario is applied: room in the kernel's neighbour
/// tables for two entries per interface (each end of a link learns the other).
pub fn prepare_host(s: &crate::scenario::Scenario) {
    let interfaces: usize = s.nodes.iter().map(|n| n.interfaces.len()).sum();
    match vnx_providers::ns::ensure_neighbour_room(2 * interfaces as u64) {
        Ok(changed) if !changed.is_empty() => {
            tracing::info!("raised the kernel's neighbour table limits for this lab: {}", changed.join(", "))
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("could not raise the kernel's neighbour table limits: {e}"),
    }
}

/// Removes a lab's directories once nothing of it is left: its directory beside the state
/// database and its runtime directory (the `ns` nodes' tmpfs).
pub fn remove_lab_dirs(state_path: &Path, scenario: &str) {
    vnx_providers::claim::release(scenario, state_path);
    // Paths of a name outside the grammar are never built, so never removed.
    if let Ok(dir) = lab_dir(state_path, scenario) {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Ok(dir) = vnx_providers::ns::run_dir(scenario) {
        vnx_providers::ns::release_run_dir(&dir);
    }
}

pub fn recorded_of(state: &State, scenario: &str) -> Result<Vec<Recorded>, String> {
    Ok(state.resources(scenario).map_err(|e| e.to_string())?.into_iter().map(Recorded::from_row).collect())
}

/// What the lab provider takes over of a lab's record (see [`lab`]): its nodes' inits, boot
/// sequences and routes only.
pub fn recorded_for_lab(state: &State, scenario: &str) -> Result<Vec<Recorded>, String> {
    let rows = state.resources_of_kinds(scenario, &Lab::ADOPTED_KINDS).map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(Recorded::from_row).collect())
}

/// The lab provider for a scenario (`recorded`: what is recorded of it, for a lab an earlier
/// vnx built: see [`Lab::adopt`]).
pub fn lab(scenario: &str, state_path: &Path, recorded: &[Recorded]) -> Result<Lab, String> {
    // Another state's lab of this name is not this state's to read or change.
    vnx_providers::claim::check(scenario, state_path).map_err(|e| e.to_string())?;
    // Only what the lab reads: converting the 6000 resources of a 1000-node lab costs 10 ms.
    let items: Vec<Item> = recorded
        .iter()
        .filter(|r| Lab::ADOPTED_KINDS.contains(&r.id.kind.as_str()))
        .map(crate::engine::item_of_recorded)
        .collect();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the vnx binary: {e}"))?;
    // Nodes start faster with vnx-init, installed beside vnx; `vnx __init` does the same.
    let init = exe.with_file_name("vnx-init");
    let exe = if init.is_file() { init } else { exe };
    let boot: vnx_providers::lab::BootRunner = Arc::new(|node, init, attrs| {
        crate::engine::exec::run_boot(node, init, attrs).map_err(vnx_providers::Error::Other)
    });
    let lab = Lab::new(scenario, lab_dir(state_path, scenario)?, exe, boot).map_err(|e| e.to_string())?;
    lab.adopt(&items).map_err(|e| e.to_string())?;
    Ok(lab)
}

/// Reads back what exists of the recorded resources: what differs from its record (or that
/// it is missing) for each resource that does not stand as recorded. Their attributes are lent to the
/// provider's items and given back (a copy of a 10,000-node lab's was 20–60 ms).
pub async fn refresh<P: Provider>(provider: &P, recorded: &mut [Recorded]) -> Result<IdMap<ResId, Actual>, String> {
    let t0 = std::time::Instant::now();
    let items: Vec<Item> = recorded.iter_mut().map(crate::engine::item_lent_by).collect();
    let t1 = std::time::Instant::now();
    let seen = provider.refresh(&items).await;
    for (r, it) in recorded.iter_mut().zip(items) {
        (r.attrs, r.runtime) = (it.attrs, it.runtime);
    }
    let t2 = std::time::Instant::now();
    // A resource found as recorded has no entry (the planner believes its record): most of a
    // lab's, whose 60,000 ids, copied, took 15-35 ms at 10,000 nodes.
    let mut out = IdMap::default();
    for (r, s) in recorded.iter().zip(seen) {
        match s.map_err(|e| format!("refreshing {}: {e}", r.id))? {
            Seen::Present(m) if m.is_empty() => {}
            Seen::Missing => _ = out.insert(r.id.clone(), Actual::Missing),
            Seen::Present(m) => _ = out.insert(r.id.clone(), Actual::Present(m)),
        }
    }
    tracing::debug!("refresh: items {:?}, reading {:?}, results {:?}", t1 - t0, t2 - t1, t2.elapsed());
    Ok(out)
}
