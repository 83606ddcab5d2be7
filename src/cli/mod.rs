//! The `vnx` command line: one file per subcommand. Results go to stdout (with `--json`
//! where a person might script them), diagnostics and progress to stderr.
//!
//! Exit codes: 0 success, 1 error (including an invalid scenario), 2 reserved for
//! `plan --detailed-exitcode` ("changes present").

mod admin;
mod apply;
mod bench;
mod capture;
mod cluster;
mod common;
mod convert;
mod diff;
pub(crate) mod doctor;
mod exec;
mod graph;
mod graph_serve;
mod image;
mod init;
mod legacy;
mod lifecycle;
mod place;
mod progress;
mod relay;
mod rootfs;
mod schema;
mod show;
mod validate;

use std::path::PathBuf;

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
    after_help = "Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode), 130 interrupted.\n\
Every command that reports a result prints it as one JSON document on stdout with --json (messages stay on stderr).\n\
apply, destroy and modify show the plan and ask before they change the lab (--auto-approve does not ask);\n\
the lifecycle commands (start, shutdown, ...), exec and state rm change only what they name, and do not ask.\nVNX's command line works too: vnx -f FILE --create, -x SEQ, --show-status, --destroy.\n\
Start with `vnx validate FILE` to check a scenario, `vnx convert FILE --to yaml` to see its YAML form."
)]
pub struct Cli {
    /// The state database (default /var/lib/vnx/state.db).
    #[arg(long, global = true, env = "VNX_STATE", hide_env_values = true, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Say only errors and the summary (no progress).
    #[arg(short, long, global = true, env = "VNX_QUIET", hide_env_values = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: -v logs each action, -vv debug details (VNX_LOG=FILTER chooses freely).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// libvirt's URI, for virtual machines (default qemu:///system).
    #[arg(long, global = true, env = "VNX_LIBVIRT_URI", hide_env_values = true, value_name = "URI")]
    pub libvirt_uri: Option<String>,
    /// libvirt domain type for virtual machines: kvm, qemu (emulation, TCG), or auto (kvm when
    /// /dev/kvm works outside a virtual machine, else qemu).
    #[arg(long, global = true, env = "VNX_DOMAIN_TYPE", hide_env_values = true, value_name = "TYPE", value_parser = ["auto", "kvm", "qemu"])]
    pub domain_type: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Validate(validate::Args),
    Plan(apply::PlanCmd),
    Apply(apply::ApplyCmd),
    Destroy(apply::DestroyCmd),
    #[command(visible_alias = "status")]
    Show(show::ShowCmd),
    List(show::ListCmd),
    Output(show::OutputCmd),
    Doctor(doctor::DoctorCmd),
    Rootfs(rootfs::RootfsCmd),
    Image(image::ImageCmd),
    Capture(capture::CaptureCmd),
    Exec(exec::ExecCmd),
    Console(exec::ConsoleCmd),
    Modify(apply::ModifyCmd),
    /// Start nodes that were shut down (their boot sequence runs again).
    Start(lifecycle::LifecycleCmd),
    /// Shut nodes down: on_shutdown runs, then they stop; their links and files are kept.
    Shutdown(lifecycle::LifecycleCmd),
    /// Shut nodes down (with on_shutdown) and start them again.
    Reboot(lifecycle::LifecycleCmd),
    /// Power nodes off at once (no on_shutdown) and start them again.
    Reset(lifecycle::LifecycleCmd),
    /// Freeze nodes: every process stopped where it is.
    Suspend(lifecycle::LifecycleCmd),
    /// Thaw suspended nodes.
    Resume(lifecycle::LifecycleCmd),
    /// Save virtual machines to a file in the lab's directory and stop them.
    Save(lifecycle::LifecycleCmd),
    /// Start saved virtual machines from their saved state.
    Restore(lifecycle::LifecycleCmd),
    History(admin::HistoryCmd),
    State(admin::StateCmd),
    ForceUnlock(admin::ForceUnlockCmd),
    Graph(graph::GraphCmd),
    Place(place::PlaceCmd),
    Diff(diff::DiffCmd),
    Init(init::InitCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  vnx completions bash > /etc/bash_completion.d/vnx")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  vnx man > /usr/local/share/man/man1/vnx.1")]
    Man,
    Bench(bench::BenchCmd),
    Convert(convert::Args),
    Schema(schema::Args),
    #[command(name = "__init", hide = true)]
    NodeInit(admin::InitCmd),
    #[command(name = "__relay", hide = true)]
    Relay(relay::RelayCmd),
    Agent(AgentCmd),
}

/// Serve a cluster controller on stdin and stdout (what `vnx apply --cluster` runs on each host
/// over ssh): this host's part of cluster labs, planned, applied, shown and destroyed here.
#[derive(clap::Args, Debug)]
pub struct AgentCmd {
    /// Read requests from stdin, answer on stdout (the only transport).
    #[arg(long, required = true)]
    pub stdio: bool,
}

/// Prints an error and gives the exit code for it.
pub(crate) fn fail(msg: &str) -> i32 {
    eprintln!("error: {msg}");
    EXIT_ERROR
}

/// Whether stderr is a terminal that wants colour.
pub(crate) fn color_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    // VNX's command line, mapped onto the new commands.
    let mut raw: Vec<String> = std::env::args().collect();
    if let Some(t) = legacy::translate(&raw[1..]) {
        match t {
            Ok(new) => {
                eprintln!("vnx: VNX's `{}` is `vnx {}` now", raw[1..].join(" "), new.join(" "));
                raw.truncate(1);
                raw.extend(new);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    // Terraform's single-dash `-out FILE` works too.
    let args = raw.into_iter().map(|a| {
        if a == "-out" {
            "--out".to_string()
        } else if let Some(v) = a.strip_prefix("-out=") {
            format!("--out={v}")
        } else {
            a
        }
    });
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    progress::init(cli.quiet, cli.verbose);
    // The providers read these (set before any thread starts).
    if let Some(u) = &cli.libvirt_uri {
        std::env::set_var("VNX_LIBVIRT_URI", u);
    }
    if let Some(t) = &cli.domain_type {
        std::env::set_var("VNX_DOMAIN_TYPE", t);
    }
    let color = color_stderr();
    let st = &cli.state;
    match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Plan(a) => apply::run_plan(a, st, color),
        Command::Apply(a) => apply::run_apply(a, st, color),
        Command::Destroy(a) => apply::run_destroy(a, st, color),
        Command::Show(a) => show::run_show(a, st, color),
        Command::List(a) => show::run_list(a, st),
        Command::Exec(a) => exec::run_exec(a, st, color),
        Command::Console(a) => exec::run_console(a, st, color),
        Command::Modify(a) => apply::run_modify(a, st, color),
        Command::Start(a) => lifecycle::run(lifecycle::Verb::Start, a, st, color),
        Command::Shutdown(a) => lifecycle::run(lifecycle::Verb::Shutdown, a, st, color),
        Command::Reboot(a) => lifecycle::run(lifecycle::Verb::Reboot, a, st, color),
        Command::Reset(a) => lifecycle::run(lifecycle::Verb::Reset, a, st, color),
        Command::Suspend(a) => lifecycle::run(lifecycle::Verb::Suspend, a, st, color),
        Command::Resume(a) => lifecycle::run(lifecycle::Verb::Resume, a, st, color),
        Command::Save(a) => lifecycle::run(lifecycle::Verb::Save, a, st, color),
        Command::Restore(a) => lifecycle::run(lifecycle::Verb::Restore, a, st, color),
        Command::History(a) => admin::run_history(a, st),
        Command::State(a) => admin::run_state(a, st),
        Command::ForceUnlock(a) => admin::run_force_unlock(a, st),
        Command::Graph(a) => graph::run(a, st, color),
        Command::Place(a) => place::run(a, st, color),
        Command::Diff(a) => diff::run(a, st, color),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "vnx", &mut std::io::stdout());
            EXIT_OK
        }
        Command::Man => {
            use clap::CommandFactory;
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => EXIT_OK,
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Bench(a) => bench::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Schema(a) => schema::run(a),
        Command::NodeInit(a) => admin::run_init(a),
        Command::Relay(a) => relay::run(a),
        Command::Agent(_) => crate::cluster::agent::serve_stdio(&crate::cluster::agent::Host::this(cli.state.clone())),
        Command::Init(a) => init::run(a),
        Command::Output(a) => show::run_output(a, st, color),
        Command::Doctor(a) => doctor::run(a),
        Command::Rootfs(a) => rootfs::run(a),
        Command::Image(a) => image::run(a),
        Command::Capture(a) => capture::run(a, st, color),
    }
}
