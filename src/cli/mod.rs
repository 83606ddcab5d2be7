//! The `vnx` command line: one file per subcommand. Results go to stdout (with `--json`
//! where a person might script them), diagnostics and progress to stderr.
//!
//! Exit codes: 0 success, 1 error (including an invalid scenario), 2 reserved for
//! `plan --detailed-exitcode` ("changes present").

mod convert;
mod schema;
mod validate;

use clap::{Parser, Subcommand};

pub use schema::yaml_schema;
pub use validate::file_report;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for any error.
pub const EXIT_ERROR: i32 = 1;

#[derive(Parser, Debug)]
#[command(
    name = "vnx",
    version,
    about = "Virtual network labs on Linux, declared in a file and converged like infrastructure",
    long_about = "vnx builds virtual network labs (namespaces, bridges, links, virtual machines) from a \
scenario file written in VNX 2.0 XML or its YAML form. The scenario is the desired state: \
`vnx plan` shows what would change, `vnx apply` makes it so.",
    after_help = "Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode).\n\
Start with `vnx validate FILE` to check a scenario, `vnx convert FILE --to yaml` to see its YAML form."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Validate(validate::Args),
    Convert(convert::Args),
    Schema(schema::Args),
}

/// Whether stderr is a terminal that wants colour.
pub(crate) fn color_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Schema(a) => schema::run(a),
    }
}
