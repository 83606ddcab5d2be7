//! `vnx state rm`, `vnx force-unlock`, `vnx history` and the hidden `vnx __init`.

use crate::plan::resource::ResId;
use std::path::PathBuf;

use super::common;
use super::fail;

/// Inspect and repair the state database.
#[derive(clap::Args, Debug)]
pub struct StateCmd {
    #[command(subcommand)]
    pub command: StateSub,
}

#[derive(clap::Subcommand, Debug)]
pub enum StateSub {
    /// Forget a resource without touching it (for an object removed by hand that vnx cannot
    /// remove). Name it KIND.NAME, as plan shows it: `node.h1`, `interface.h1/1`.
    Rm {
        #[arg(value_name = "SCENARIO")]
        scenario: String,
        #[arg(value_name = "KIND.NAME", required = true)]
        resources: Vec<String>,
    },
    /// List the recorded resources of a scenario.
    List {
        #[arg(value_name = "SCENARIO")]
        scenario: String,
        /// Print JSON: each resource's address, kind, name, provider, status, attributes and
        /// dependencies.
        #[arg(long)]
        json: bool,
    },
}

/// Remove a lock left by an apply that cannot finish (its id is in the "locked" message).
#[derive(clap::Args, Debug)]
pub struct ForceUnlockCmd {
    #[arg(value_name = "ID")]
    pub id: String,
}

/// The applies of a scenario (or all), with their outcome.
#[derive(clap::Args, Debug)]
pub struct HistoryCmd {
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// The server that starts `ns` nodes (internal).
#[derive(clap::Args, Debug)]
pub struct InitCmd {
    /// Serve node starts on stdin (vnx runs this where `vnx-init` is missing).
    #[arg(long, required = true)]
    pub serve: bool,
}

pub fn run_state(c: StateCmd, state_arg: &Option<PathBuf>) -> i32 {
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match c.command {
        StateSub::Rm { scenario, resources } => {
            for r in resources {
                let Some(id) = crate::plan::resource::ResId::parse(&r) else {
                    return fail(&format!("{r}: write KIND.NAME, such as node.h1 (KIND.NAME@HOST on another host)"));
                };
                match state.delete_resource(&scenario, &id.key()) {
                    Ok(true) => println!("Forgot {r}."),
                    Ok(false) => return fail(&format!("{scenario} has no recorded {r}")),
                    Err(e) => return fail(&e.to_string()),
                }
            }
            super::EXIT_OK
        }
        StateSub::List { scenario, json: true } => match state.resources(&scenario) {
            Ok(rows) => {
                let rows: Vec<_> = rows
                    .into_iter()
                    .map(|r| {
                        let id = |k: &vnx_state::Key| ResId::of_key(k.clone()).to_string();
                        let deps: Vec<String> = r.deps.iter().map(id).collect();
                        let address = id(&vnx_state::Key::new(&r.host, &r.kind, &r.name));
                        serde_json::json!({
                            "address": address, "kind": r.kind, "name": r.name,
                            "provider": r.provider, "status": r.status, "attrs": r.attrs, "deps": deps, "runtime": r.runtime,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
                super::EXIT_OK
            }
            Err(e) => fail(&e.to_string()),
        },
        StateSub::List { scenario, json: false } => match state.resources(&scenario) {
            Ok(rows) => {
                for r in rows {
                    let id = ResId::on(&r.host, &r.kind, r.name);
                    println!("{id}\t{}\t{}", r.status, r.attrs);
                }
                super::EXIT_OK
            }
            Err(e) => fail(&e.to_string()),
        },
    }
}

pub fn run_force_unlock(c: ForceUnlockCmd, state_arg: &Option<PathBuf>) -> i32 {
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match state.force_unlock(&c.id) {
        Ok(row) => {
            println!("Removed the lock of {}: {}", row.scenario, row.describe());
            super::EXIT_OK
        }
        Err(e) => fail(&e.to_string()),
    }
}

pub fn run_history(c: HistoryCmd, state_arg: &Option<PathBuf>) -> i32 {
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match state.history(c.scenario.as_deref()) {
        Ok(rows) if c.json => {
            println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
            super::EXIT_OK
        }
        Ok(rows) => {
            println!("{:>4} {:<24} {:<8} {:<20} {:<11} SUMMARY", "ID", "STARTED", "COMMAND", "SCENARIO", "STATUS");
            for r in rows {
                println!(
                    "{:>4} {:<24} {:<8} {:<20} {:<11} {}",
                    r.id,
                    r.started,
                    r.command,
                    r.scenario,
                    r.status,
                    r.summary.unwrap_or_default()
                );
            }
            super::EXIT_OK
        }
        Err(e) => fail(&e.to_string()),
    }
}

pub fn run_init(_: InitCmd) -> ! {
    vnx_providers::starter::serve_main()
}
