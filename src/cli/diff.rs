//! `vnx diff SCENARIO [FILE]`: what changed between the scenario recorded at the last apply and
//! a file (by default the file it was applied from), as a unified diff of their canonical
//! YAML forms, so layout, comments and XML-versus-YAML do not count.

use std::path::PathBuf;

use super::common;
use super::fail;
use crate::scenario::{self, Format};

/// Show how a scenario file differs from what was last applied.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit codes: 0 no difference, 1 error, 2 differences (as diff(1)).\n\nExamples:\n  vnx diff lab\n  vnx diff lab lab-v2.xml"
)]
pub struct DiffCmd {
    /// The applied scenario: its name, or the file it was applied from.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The file to compare with (default: the file the scenario was applied from).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print JSON: the scenario, the file, whether they differ, and the unified diff.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: DiffCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    super::cluster::note_local_part(&c.scenario, "diff", state_arg);
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let name = match common::resolve(&c.scenario, Some(&state), color) {
        Ok(t) => t.scenario.name.value.clone(),
        Err(e) => return fail(&e),
    };
    let row = match state.scenario(&name) {
        Ok(Some(r)) => r,
        Ok(None) => return fail(&format!("{name} is not applied on this host: nothing recorded to compare with")),
        Err(e) => return fail(&e.to_string()),
    };
    let file = c.file.map(|f| f.display().to_string()).unwrap_or_else(|| row.source.clone());
    let theirs = match common::resolve(&file, None, color) {
        Ok(t) => scenario::write(&t.scenario, Format::Yaml),
        Err(e) => return fail(&e),
    };
    let diff = similar::TextDiff::from_lines(&row.desired, &theirs);
    let same = diff.ratio() == 1.0;
    let text = diff.unified_diff().context_radius(3).header(&format!("{name} (applied)"), &file).to_string();
    if c.json {
        let doc = serde_json::json!({"scenario": name, "file": file, "differs": !same, "diff": text});
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return if same { super::EXIT_OK } else { super::apply::EXIT_CHANGES };
    }
    if same {
        eprintln!("{file} is what {name} was last applied from: no difference.");
        return super::EXIT_OK;
    }
    let paint = color && std::io::IsTerminal::is_terminal(&std::io::stdout());
    for line in text.lines() {
        let code = match line.chars().next() {
            Some('+') if !line.starts_with("+++") => "32",
            Some('-') if !line.starts_with("---") => "31",
            Some('@') => "36",
            _ => "",
        };
        if paint && !code.is_empty() {
            println!("\x1b[{code}m{line}\x1b[0m");
        } else {
            println!("{line}");
        }
    }
    super::apply::EXIT_CHANGES
}
