//! The control channel to a cluster host: one long-lived session per host (never one per
//! node: sshd's MaxSessions broke Mininet's cluster edition at 10 nodes), over which requests
//! of [`super::agent`]'s protocol go one at a time. `ssh:` hosts through the system's OpenSSH
//! client (the user's ~/.ssh/config, ProxyJump and agents apply; a ControlMaster makes the
//! next command's connection cheap), the `local` host in-process, a host made of namespaces on
//! this machine (the benchmark's) through `nsenter`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::agent::{self, Request};
use super::file::{ClusterHost, Reach};

/// How to reach hosts: the cluster file's `ssh_config`, and where masters' sockets live.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `ssh -F FILE`.
    pub ssh_config: Option<String>,
    /// The local host's state (the agent's `--state`).
    pub state: Option<std::path::PathBuf>,
    /// Ask each host's `vnx doctor` findings in the hello (~0.2 s: plan and apply only).
    pub doctor: bool,
}

enum Link {
    Local(agent::Host),
    /// An agent in a process of its own (ssh's, nsenter's), `target` naming the way for errors.
    Agent {
        child: Child,
        to: Option<ChildStdin>,
        from: BufReader<ChildStdout>,
        target: String,
    },
}

pub struct Channel {
    pub host: String,
    link: Link,
    /// The hello's reply: the host's facts.
    pub facts: Value,
}

/// The directory of the ssh masters' sockets (private to root).
fn control_dir() -> String {
    let d = "/run/vnx/ssh";
    let _ = std::fs::create_dir_all(d);
    let _ = std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    d.to_string()
}

/// Starts `c`, an agent's way in, with its stdin and stdout as the channel.
fn agent_process(mut c: Command, host: &str, target: String) -> Result<Link, String> {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let program = c.get_program().to_string_lossy().into_owned();
    let mut child = c.spawn().map_err(|e| format!("host `{host}`: cannot run {program}: {e}"))?;
    let to = child.stdin.take();
    let from = BufReader::new(child.stdout.take().expect("piped"));
    Ok(Link::Agent { child, to, from, target })
}

impl Channel {
    /// Opens the session and says hello (checks the protocol, learns the underlay's MTU).
    pub fn open(h: &ClusterHost, o: &Options) -> Result<Channel, String> {
        let link = match &h.reach {
            Reach::Local => Link::Local(agent::Host::this(o.state.clone())),
            Reach::Ssh(target) => {
                let mut c = Command::new("ssh");
                if let Some(f) = &o.ssh_config {
                    c.arg("-F").arg(f);
                }
                c.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5"])
                    .args(["-o", "ControlMaster=auto", "-o", "ControlPersist=60"])
                    .arg("-o")
                    .arg(format!("ControlPath={}/%C", control_dir()))
                    .args(["-T", "--", target, h.vnx.as_deref().unwrap_or("vnx"), "agent", "--stdio"]);
                agent_process(c, &h.name, format!("ssh {target}"))?
            }
            Reach::Namespaces(pid) => {
                let exe = std::env::current_exe().map_err(|e| format!("host `{}`: {e}", h.name))?;
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-n", "-m", "-p", "--"]).arg(exe).args(["agent", "--stdio"]);
                agent_process(c, &h.name, format!("the namespaces of process {pid}"))?
            }
        };
        let mut ch = Channel { host: h.name.clone(), link, facts: Value::Null };
        let hello = Request::Hello { version: agent::PROTOCOL, underlay: h.underlay.clone(), doctor: o.doctor };
        ch.facts = ch.call(&hello, &mut |_| {})?;
        Ok(ch)
    }

    /// Sends one request and waits for its reply; progress lines go to `progress`.
    pub fn call(&mut self, req: &Request, progress: &mut dyn FnMut(String)) -> Result<Value, String> {
        let host = self.host.clone();
        match &mut self.link {
            Link::Local(h) => agent::handle(h, req, progress).map_err(|e| format!("host `{host}`: {e}")),
            Link::Agent { child, to, from, target } => {
                let line = serde_json::to_string(req).expect("requests serialise");
                let lost = |child: &mut Child, target: &str| {
                    let _ = child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    let _ = child.wait();
                    let err = err.trim();
                    format!(
                        "host `{host}` cannot be reached ({target}){}",
                        if err.is_empty() { String::new() } else { format!(": {err}") }
                    )
                };
                let Some(to) = to.as_mut() else { return Err(lost(child, target)) };
                if writeln!(to, "{line}").and_then(|_| to.flush()).is_err() {
                    return Err(lost(child, target));
                }
                loop {
                    let mut reply = String::new();
                    match from.read_line(&mut reply) {
                        Ok(0) | Err(_) => return Err(lost(child, target)),
                        Ok(_) => {}
                    }
                    let v: Value = serde_json::from_str(&reply).map_err(|_| {
                        format!("host `{host}`: the agent said something else than its protocol: {}", reply.trim())
                    })?;
                    if let Some(p) = v.get("progress").and_then(Value::as_str) {
                        progress(p.to_string());
                    } else if let Some(ok) = v.get("ok") {
                        return Ok(ok.clone());
                    } else {
                        let e = v.get("error").and_then(Value::as_str).unwrap_or("an unreadable reply");
                        return Err(format!("host `{host}`: {e}"));
                    }
                }
            }
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        if let Link::Agent { child, to, .. } = &mut self.link {
            // Closing stdin ends the agent, and the session with it.
            drop(to.take());
            let _ = child.wait();
        }
    }
}
