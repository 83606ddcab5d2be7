//! Running sequences in nodes: `<exec>` commands and `<filetree>` copies, as VNX does them
//! (all filetrees of a node first, then its execs, each in document order).

use std::path::{Path, PathBuf};

use vnx_providers::kinds::boot::Filetree;
use vnx_providers::libvirt::Agent;
use vnx_providers::noderoot::NodeRoot;
use vnx_providers::ns::{self, Init};

/// Where a node's commands run: an `ns` node's init (through nsenter), or a virtual machine's
/// guest agent.
#[derive(Clone, Debug)]
pub enum Runner {
    Ns(Init),
    Vm(Agent),
}

impl Runner {
    /// Runs a script with `shell`; each output line to `line`; the exit status.
    pub fn run(&self, shell: &str, script: &str, mut line: impl FnMut(&str)) -> Result<i32, String> {
        match self {
            Runner::Ns(init) => ns::run_in(init, shell, script, line).map_err(|e| e.to_string()),
            Runner::Vm(agent) => {
                let (code, out) = agent.exec(script, std::time::Duration::from_secs(600)).map_err(|e| e.to_string())?;
                out.lines().for_each(&mut line);
                Ok(code)
            }
        }
    }

    /// Runs a script with `shell` attached to vnx's own standard input, output and error (an
    /// `ns` node's command reads what vnx is given and writes where vnx writes); a VM's agent
    /// has no stdin and one output, which goes to stdout. The exit status.
    pub fn run_attached(&self, shell: &str, script: &str) -> Result<i32, String> {
        match self {
            Runner::Ns(init) => {
                let status = ns::command_in(init, shell, &["-c", script])
                    .status()
                    .map_err(|e| format!("running nsenter: {e}"))?;
                use std::os::unix::process::ExitStatusExt;
                Ok(status.code().unwrap_or(128 + status.signal().unwrap_or(0)))
            }
            Runner::Vm(_) => self.run(shell, script, |l| println!("{l}")),
        }
    }

    /// The shell for commands: `<shell>` if given, else bash where the node has it, else sh.
    pub fn shell(&self, shell: Option<&str>) -> String {
        match self {
            Runner::Ns(init) => shell_of(init, shell),
            Runner::Vm(_) => shell.unwrap_or("/bin/sh").to_string(),
        }
    }
}

/// VNX's command processing: backslash-newline continuations joined, lines trimmed, empty and
/// `#` lines dropped, `;` ended.
pub fn process_command(text: &str) -> String {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| if l.ends_with(';') || l.ends_with('&') { l.to_string() } else { format!("{l};") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The script to run for an `<exec>` of this `ostype` in an `ns` node, as `user` when given
/// (VNX ran every command as root; `runuser` is util-linux's, in every Debian system).
pub fn script_for(command: &str, ostype: Option<&str>, user: Option<&str>) -> Result<String, String> {
    let body = match (process_command(command), user) {
        (body, Some(u)) if u != "root" => format!("runuser -u {} -- sh -c {}", shell_quote(u), shell_quote(&body)),
        (body, _) => body,
    };
    match ostype.unwrap_or("system") {
        "system" | "cmd" => Ok(body),
        // Start and do not wait.
        "exec" => Ok(format!("( {body} ) </dev/null >/dev/null 2>&1 &")),
        other => Err(format!("ostype `{other}` does not apply to ns nodes (use system, exec or cmd)")),
    }
}

/// The shell that runs commands in a node: `<shell>` if given, else bash, else sh.
pub fn shell_of(init: &Init, shell: Option<&str>) -> String {
    if let Some(s) = shell {
        return s.to_string();
    }
    if NodeRoot::of(init).is_ok_and(|r| r.exists("/bin/bash")) {
        "/bin/bash".into()
    } else {
        "/bin/sh".into()
    }
}

/// The host paths a filetree source stands for (a trailing `*` means every entry of the
/// folder; VNX kept only the first match, which loses files).
fn expand(source: &Path) -> Vec<PathBuf> {
    match source.file_name().and_then(|f| f.to_str()) {
        Some(pat) if pat.contains('*') => {
            let (pre, post) = pat.split_once('*').unwrap_or((pat, ""));
            let dir = source.parent().unwrap_or(Path::new("."));
            let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            v.retain(|p| {
                p.file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with(pre) && f.ends_with(post))
            });
            v.sort();
            v
        }
        _ => vec![source.to_path_buf()],
    }
}

/// Copies a filetree into a node and applies its owner and mode: into an `ns` node's root
/// (resolved in it: [`NodeRoot`]); into a VM as a tar archive its agent unpacks at `/`.
pub fn filetree(runner: &Runner, ft: &Filetree, mut say: impl FnMut(&str)) -> Result<(), String> {
    // A VM's files are staged in a folder of the host's first, then sent packed.
    let stage = match runner {
        Runner::Vm(_) => Some(tempfile::tempdir().map_err(|e| format!("a staging folder: {e}"))?),
        Runner::Ns(_) => None,
    };
    let node = match (runner, &stage) {
        (_, Some(stage)) => NodeRoot::at(stage.path()),
        (Runner::Ns(init), None) => NodeRoot::of(init),
        (Runner::Vm(_), None) => unreachable!("a VM's files are staged"),
    }
    .map_err(|e| format!("the node's root: {e}"))?;
    let written = ft.written.as_str();
    let source = ft.source.as_deref().ok_or_else(|| format!("filetree source `{written}` does not exist"))?;
    let root = if ft.root.is_empty() { "/" } else { ft.root.as_str() };
    let sources = expand(Path::new(source));
    if sources.is_empty() {
        return Err(format!("filetree source `{written}` matches nothing"));
    }
    let copy =
        |from: &Path, to: &str| node.copy_in(from, to).map_err(|e| format!("copying {} to {to}: {e}", from.display()));
    let mut targets = Vec::new();
    // A glob stands for several entries: its root is a directory even without a final `/`.
    if root.ends_with('/') || source.contains('*') || sources.len() > 1 || Path::new(source).is_dir() {
        // A directory: the source's contents (or the matches) go inside it.
        node.create_dir_all(root).map_err(|e| format!("{root}: {e}"))?;
        let dir = root.trim_end_matches('/');
        for s in &sources {
            if s.is_dir() && !source.contains('*') {
                for e in std::fs::read_dir(s).map_err(|e| format!("{}: {e}", s.display()))?.flatten() {
                    let to = format!("{dir}/{}", e.file_name().to_string_lossy());
                    copy(&e.path(), &to)?;
                    targets.push(to);
                }
            } else {
                let to = format!("{dir}/{}", s.file_name().unwrap_or_default().to_string_lossy());
                copy(s, &to)?;
                targets.push(to);
            }
        }
    } else {
        if let Some(parent) = Path::new(root).parent() {
            node.create_dir_all(&parent.to_string_lossy()).map_err(|e| format!("{root}: {e}"))?;
        }
        copy(&sources[0], root)?;
        targets.push(root.to_string());
    }
    let (user, group, perms) = (ft.user.as_deref(), ft.group.as_deref(), ft.perms.as_deref());
    let mut script = String::new();
    for t in &targets {
        let q = shell_quote(t);
        match (user, group) {
            (Some(u), Some(g)) => script.push_str(&format!("chown -R {u}:{g} {q}\n")),
            (Some(u), None) => script.push_str(&format!("chown -R {u} {q}\n")),
            (None, Some(g)) => script.push_str(&format!("chgrp -R {g} {q}\n")),
            _ => {}
        }
        if let Some(p) = perms {
            script.push_str(&format!("chmod -R {p} {q}\n"));
        }
    }
    if let Some(stage) = &stage {
        // The staged tree, packed: the agent unpacks it at the guest's root.
        use base64::Engine as _;
        let tar = std::process::Command::new("tar")
            .args(["-c", "--owner=0", "--group=0", "-C"])
            .arg(stage.path())
            .arg(".")
            .output()
            .map_err(|e| format!("tar: {e}"))?;
        if !tar.status.success() {
            return Err(format!("packing the filetree {root}: {}", String::from_utf8_lossy(&tar.stderr).trim()));
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&tar.stdout);
        script = format!("echo {b64} | base64 -d | tar -x -C /\n{script}");
    }
    if !script.is_empty() {
        let code = runner.run("/bin/sh", &script, |l| say(l))?;
        if code != 0 {
            return Err(format!("setting owner and mode of {root} failed ({code})"));
        }
    }
    Ok(())
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs a node's boot sequence (the `boot` resource): filetrees, then commands.
pub fn run_boot(node: &str, init: &Init, attrs: &vnx_providers::kinds::boot::Attrs) -> Result<(), String> {
    let runner = Runner::Ns(*init);
    for ft in &attrs.filetrees {
        filetree(&runner, ft, |l| eprintln!("{node} | {l}"))?;
    }
    let shell = runner.shell(attrs.shell.as_deref());
    for c in &attrs.commands {
        let script = script_for(&c.command, c.ostype.as_deref(), c.user.as_deref())?;
        let code = runner.run(&shell, &script, |l| eprintln!("{node} | {l}"))?;
        if code != 0 {
            return Err(format!("an on_boot command of {node} exited with {code}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_processed_as_vnx_does() {
        assert_eq!(
            process_command("  chmod 644 /x\n\n  # note\n  service a start  \n"),
            "chmod 644 /x;\nservice a start;"
        );
        assert_eq!(process_command("echo a \\\n b"), "echo a   b;");
        assert_eq!(script_for("sleep 1", Some("exec"), None).unwrap(), "( sleep 1; ) </dev/null >/dev/null 2>&1 &");
        assert!(script_for("x", Some("xsystem"), None).is_err());
        assert_eq!(script_for("id -un", None, Some("ann")).unwrap(), "runuser -u 'ann' -- sh -c 'id -un;'");
        assert_eq!(script_for("id -un", None, Some("root")).unwrap(), "id -un;");
    }
}
