//! `vnx exec` and `vnx console`: commands in running nodes.

use std::collections::HashSet;
use std::path::PathBuf;

use vnx_providers::ns::{self, Init};

use super::common;
use super::fail;
use crate::engine::exec::{filetree, script_for, Runner};
use crate::plan::desired::{filetree_of, node_order};
use crate::plan::kind;
use crate::scenario::{seq_names, Scenario};

/// Run a sequence (or a command) in the lab's nodes.
///
/// `vnx exec SCENARIO SEQ` runs, on each chosen node in order, the `<filetree>`s and then the
/// `<exec>`s of sequence SEQ (a `<cmd-seq>` expands to its steps), printing each output line
/// prefixed with the node's name. `vnx exec SCENARIO -M node -- CMD...` runs one command.
/// Fails with the first non-zero exit status.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx exec tutorial_lxc_ubuntu ls1234 -M h2\n  vnx exec lab.xml start-www\n  vnx exec lab.xml -M r1 -- ip route"
)]
pub struct ExecCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The sequence to run (omit it with `-- CMD`).
    #[arg(value_name = "SEQ")]
    pub seq: Option<String>,
    /// Only these nodes (comma-separated); all by default.
    #[arg(short = 'M', long = "nodes", value_delimiter = ',', value_name = "NODE,...")]
    pub nodes: Vec<String>,
    /// A command to run instead of a sequence.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// List the scenario's sequences: the nodes each runs on and its help text
    /// (`<seq_help>`), as VNX's `--exe-info` did; nothing is run.
    #[arg(long, conflicts_with_all = ["seq", "command"])]
    pub list: bool,
}

/// `vnx exec SCENARIO --list`: each sequence, where it runs, and its `<seq_help>`.
pub(super) fn list_sequences(s: &Scenario) -> i32 {
    let mut names: Vec<&str> = crate::scenario::validate::defined_sequences(s).into_iter().collect();
    names.sort();
    if names.is_empty() {
        println!("{} defines no sequence.", s.name.value);
        return super::EXIT_OK;
    }
    let w = names.iter().map(|n| n.len()).max().unwrap_or(0).max("SEQUENCE".len());
    println!("{:w$}  {:<24}  HELP", "SEQUENCE", "NODES");
    for seq in names {
        let nodes: Vec<&str> =
            node_order(s).into_iter().filter(|n| has_step(n, seq)).map(|n| n.name.value.as_str()).collect();
        let steps = s
            .all_sequences()
            .find(|(_, c)| c.name.value == seq)
            .map(|(_, c)| c.steps.iter().map(|st| st.value.as_str()).collect::<Vec<_>>().join(", "));
        let where_ = match (&steps, nodes.is_empty()) {
            (Some(st), _) => format!("runs {st}"),
            (None, true) => "the host".to_string(),
            (None, false) => nodes.join(","),
        };
        let help = s.help.iter().find(|h| h.seq == seq).map_or("", |h| h.text.trim());
        println!("{seq:w$}  {where_:<24}  {help}");
    }
    super::EXIT_OK
}

/// Open an interactive shell in a node, or a virtual machine's serial console.
///
/// An `ns` node: a login shell in all its namespaces (exit to leave). A virtual machine: its
/// serial console through libvirt (Ctrl+] leaves), and where its graphical console is.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  vnx console tutorial_lxc_ubuntu -M h1\n  vnx console vm-lab -M r1")]
pub struct ConsoleCmd {
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The node.
    #[arg(short = 'M', long = "node", value_name = "NODE")]
    pub node: String,
}

/// Where each node of a scenario runs commands: an `ns` node's init, a VM's agent.
fn runners(state: &vnx_state::State, name: &str) -> Result<Vec<(String, Runner)>, String> {
    Ok(crate::ops::lab::recorded_of(state, name)?
        .into_iter()
        .filter(|r| r.id.kind == kind::NODE)
        .filter_map(|r| {
            if r.provider == vnx_providers::libvirt::PROVIDER {
                return Some((r.id.name.clone(), Runner::Vm(vnx_providers::libvirt::agent_for(name, &r.id.name))));
            }
            serde_json::from_value::<Init>(r.runtime.clone()).ok().map(|i| (r.id.name.clone(), Runner::Ns(i)))
        })
        .collect())
}

/// Expands a sequence name through `<cmd-seq>`s (node ones first, then global, as VNX).
pub fn expand(s: &Scenario, seq: &str) -> Vec<String> {
    fn go(s: &Scenario, seq: &str, depth: usize, out: &mut Vec<String>) {
        if depth > 32 {
            return; // validation refuses cycles; this is a guard
        }
        match s.all_sequences().find(|(_, c)| c.name.value == seq) {
            Some((_, c)) => {
                for step in &c.steps {
                    go(s, &step.value, depth + 1, out);
                }
            }
            None => out.push(seq.to_string()),
        }
    }
    let mut out = Vec::new();
    for part in seq.split(',') {
        go(s, part.trim(), 0, &mut out);
    }
    out
}

pub fn run_exec(c: ExecCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    if let Some(code) = super::cluster::exec(&c, state_arg) {
        return code;
    }
    let (_, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let s = &t.scenario;
    if c.list {
        return list_sequences(s);
    }
    let running = match runners(&state, &s.name.value) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let wanted: HashSet<&str> = c.nodes.iter().map(String::as_str).collect();
    for w in &wanted {
        if s.node(w).is_none() {
            return fail(&format!("there is no node named {w} in {}", s.name.value));
        }
    }
    let chosen: Vec<&crate::scenario::Node> =
        node_order(s).into_iter().filter(|n| wanted.is_empty() || wanted.contains(n.name.value.as_str())).collect();
    let init_of = |n: &str| running.iter().find(|(name, _)| name == n).map(|(_, i)| i.clone()).filter(runs);
    // An ad-hoc command.
    if !c.command.is_empty() {
        let script = c.command.iter().map(|a| crate::engine::exec::shell_quote(a)).collect::<Vec<_>>().join(" ");
        let mut worst = 0;
        for n in &chosen {
            let Some(init) = init_of(&n.name.value) else {
                return fail(&not_running(&n.name.value, &s.name.value));
            };
            let name = n.name.value.clone();
            // One node: its command has vnx's stdin, stdout and stderr. Several: each line
            // prefixed with the node's name (and no stdin: there is one to share).
            let ran = if chosen.len() > 1 {
                init.run("/bin/sh", &script, |l| println!("{name} | {l}"))
            } else {
                init.run_attached("/bin/sh", &script)
            };
            match ran {
                Ok(code) if code != 0 => worst = code,
                Ok(_) => {}
                Err(e) => return fail(&e),
            }
        }
        return worst;
    }
    let Some(seq) = &c.seq else { return fail("name a sequence to run, or a command after `--`") };
    let mut ran = 0;
    for step in expand(s, seq) {
        for n in &chosen {
            if !has_step(n, &step) {
                continue;
            }
            let name = n.name.value.as_str();
            let Some(init) = init_of(name) else { return fail(&not_running(name, &s.name.value)) };
            match run_step(s, &t.dir, n, &step, &init) {
                Ok(k) => ran += k,
                Err((msg, code)) => {
                    eprintln!("error: {msg}");
                    return code;
                }
            }
        }
    }
    if ran == 0 {
        return fail(&format!("no command of sequence {seq} on the chosen nodes"));
    }
    super::EXIT_OK
}

/// Whether a node has filetrees or execs for a sequence step.
pub fn has_step(n: &crate::scenario::Node, step: &str) -> bool {
    n.filetrees.iter().any(|f| seq_names(&f.seq).any(|q| q == step))
        || n.execs.iter().any(|e| seq_names(&e.seq).any(|q| q == step))
}

/// Runs one sequence step on one running node: its filetrees, then its execs, output prefixed
/// with the node's name. Returns how many ran, or the error and the exit code to give.
pub fn run_step(
    s: &Scenario,
    dir: &std::path::Path,
    n: &crate::scenario::Node,
    step: &str,
    runner: &Runner,
) -> Result<usize, (String, i32)> {
    let basedir = n.basedir.as_ref().or(s.defaults.as_ref().and_then(|d| d.basedir.as_ref())).map(|b| b.value.clone());
    let cx = crate::scenario::validate::Context { dir: Some(dir.to_path_buf()) };
    let name = n.name.value.as_str();
    let mut ran = 0;
    let fts: Vec<_> = n.filetrees.iter().filter(|f| seq_names(&f.seq).any(|q| q == step)).collect();
    let execs: Vec<_> = n.execs.iter().filter(|e| seq_names(&e.seq).any(|q| q == step)).collect();
    let err = |m: String| (m, super::EXIT_ERROR);
    for f in fts {
        let src = crate::scenario::validate::resolve_source(&f.source.value, basedir.as_deref(), &cx)
            .map(|p| std::path::absolute(&p).unwrap_or(p).display().to_string());
        let ft = filetree_of(f, src);
        filetree(runner, &ft, |l| println!("{name} | {l}")).map_err(|e| err(format!("{name}: {e}")))?;
        eprintln!("{name} | copied {} to {}", f.source.value, f.root.value);
        ran += 1;
    }
    let shell = runner.shell(n.shell.as_deref());
    for e in execs {
        let text = if e.kind == crate::scenario::values::ExecType::File {
            std::fs::read_to_string(&e.command.value)
                .map_err(|x| err(format!("{name}: cannot read {}: {x}", e.command.value)))?
        } else {
            e.command.value.clone()
        };
        let script =
            script_for(&text, e.ostype.as_ref().map(|o| o.value.as_str()), e.user.as_ref().map(|u| u.value.as_str()))
                .map_err(|m| err(format!("{name}: {m}")))?;
        match runner.run(&shell, &script, |l| println!("{name} | {l}")) {
            Ok(0) => ran += 1,
            Ok(code) => return Err((format!("{name}: sequence {step} exited with {code}"), code)),
            Err(x) => return Err(err(x)),
        }
    }
    Ok(ran)
}

/// The init of every running node of a scenario, by name.
pub fn running_inits(state: &vnx_state::State, name: &str) -> Vec<(String, Runner)> {
    runners(state, name).unwrap_or_default().into_iter().filter(|(_, i)| runs(i)).collect()
}

/// Whether a node takes commands: an init that runs and is not frozen (a command in a
/// suspended node would hang), or a guest agent that answers.
fn runs(r: &Runner) -> bool {
    match r {
        Runner::Ns(i) => i.alive() && !vnx_providers::ns::frozen(i),
        Runner::Vm(agent) => agent.ping().is_ok(),
    }
}

fn not_running(node: &str, scenario: &str) -> String {
    format!("node {node} is not running (see vnx show {scenario}; vnx start {scenario} -M {node} starts it, vnx resume … thaws it)")
}

pub fn run_console(c: ConsoleCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    use std::os::unix::process::CommandExt;
    if let Some(code) = super::cluster::console(&c.scenario, &c.node, state_arg) {
        return code;
    }
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let t = match common::resolve(&c.scenario, Some(&state), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let name = t.scenario.name.value.clone();
    if t.scenario.node(&c.node).is_none() {
        let nodes: Vec<&str> = t.scenario.nodes.iter().map(|n| n.name.value.as_str()).collect();
        return fail(&format!("there is no node named {:?} in {name} (its nodes: {})", c.node, nodes.join(", ")));
    }
    let recorded = match crate::ops::lab::recorded_of(&state, &name) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    // A virtual machine: its serial console, through libvirt (virsh's console is a libvirt
    // stream; Ctrl+] leaves it). A graphical console is a VNC display on loopback.
    let node = recorded.iter().find(|r| r.id.kind == kind::NODE && r.id.name == c.node);
    let attrs: Option<vnx_providers::kinds::node::Attrs> = node.and_then(|r| r.typed().ok());
    if let Some(vm) = attrs.as_ref().and_then(|a| a.vm.as_ref()) {
        let uri = vnx_providers::libvirt::uri();
        let domain = vm.domain.as_str();
        if vm.display() {
            let display = std::process::Command::new("virsh").args(["-c", &uri, "domdisplay", domain]).output();
            if let Ok(d) = display {
                eprintln!(
                    "Graphical console of {}: {} (a VNC viewer on this host)",
                    c.node,
                    String::from_utf8_lossy(&d.stdout).trim()
                );
            }
        }
        eprintln!("Serial console of {} (Ctrl+] leaves it).", c.node);
        let err = std::process::Command::new("virsh").args(["-c", &uri, "console", "--force", domain]).exec();
        return fail(&format!("cannot attach to the console (virsh, from libvirt-clients): {err}"));
    }
    let running = match runners(&state, &name) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let Some((_, Runner::Ns(init))) = running.into_iter().find(|(n, i)| *n == c.node && runs(i)) else {
        return fail(&not_running(&c.node, &name));
    };
    let shell = crate::engine::exec::shell_of(&init, None);
    eprintln!("Shell in node {} (exit to leave).", c.node);
    let err = ns::command_in(&init, &shell, &["-l"]).exec();
    fail(&format!("cannot start a shell: {err}"))
}
