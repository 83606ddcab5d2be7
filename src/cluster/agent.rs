//! `vnx agent --stdio`: what a cluster host runs for the machine that drives a cluster lab,
//! over one SSH session (or in-process for the `local` host). A small versioned protocol of
//! JSON lines: a request per line; the reply is zero or more `{"progress": TEXT}` lines and
//! one `{"ok": VALUE}` or `{"error": TEXT}`. The first request is `hello` (versions, the
//! host's facts).
//!
//! Each operation is the host's ordinary vnx on its fragment (a scenario of its own nodes and
//! nets), run as a child process with the agent's state: the host keeps an ordinary lab that
//! can be inspected or cleaned on its own (`vnx show LAB`, `vnx destroy LAB` there).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::files::{self, InlineFile};

/// The lifecycle commands an agent runs for its controller.
pub const LIFECYCLE_VERBS: &[&str] = &["start", "shutdown", "reboot", "reset", "suspend", "resume", "save", "restore"];

/// The longest request line an agent reads (a fragment and its files, base64).
const MAX_REQUEST: u64 = files::MAX_BYTES * 2 + (16 << 20);

/// The protocol's version: a controller and an agent that differ refuse each other.
pub const PROTOCOL: u32 = 1;

/// How long a host's apply waits for one still running there (of a controller that was
/// killed or lost its connection: that apply goes on to its end).
const LOCK_WAIT: &str = "120s";

/// A request, as it travels (`{"op": "plan", …}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The protocol version and the host's underlay address (whose link's MTU the reply gives);
    /// with `doctor`, the host's `vnx doctor` findings too.
    Hello {
        version: u32,
        underlay: Option<String>,
        #[serde(default)]
        doctor: bool,
    },
    /// Plan the fragment (YAML); `dir`: where its relative paths resolve; `files`: what its
    /// filetrees name, unpacked in the lab's folder of files first ([`super::files`]).
    Plan {
        fragment: String,
        dir: String,
        json: bool,
        #[serde(default)]
        files: Vec<InlineFile>,
        #[serde(default)]
        options: PlanOptions,
    },
    /// Converge the host's part of the lab to the fragment.
    Apply {
        fragment: String,
        dir: String,
        #[serde(default)]
        files: Vec<InlineFile>,
        #[serde(default)]
        options: PlanOptions,
    },
    Show {
        lab: String,
    },
    Exec {
        lab: String,
        node: String,
        argv: Vec<String>,
    },
    /// Run sequence `seq` on these nodes of the host's part (in the scenario's node order).
    Sequence {
        lab: String,
        seq: String,
        nodes: Vec<String>,
    },
    /// A lifecycle command (`start`, `shutdown`, …) on these nodes of the host's part.
    Lifecycle {
        lab: String,
        verb: String,
        nodes: Vec<String>,
        kill: bool,
    },
    Destroy {
        lab: String,
    },
    /// Whether a packet of `size` bytes with DF set reaches each peer (the MTU preflight).
    Probe {
        peers: Vec<String>,
        size: u32,
    },
}

/// The planning options a host's plan and apply take (`vnx plan`'s `--map`, `--target`,
/// `--replace`, `--refresh`), the targets already narrowed to what the host holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_refresh: bool,
    /// apply's `--start`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start: bool,
}

impl PlanOptions {
    /// As command-line arguments of the host's vnx.
    fn args(&self) -> Vec<String> {
        let mut out = vec![];
        for (flag, values) in [("--map", &self.map), ("--target", &self.target), ("--replace", &self.replace)] {
            for v in values {
                out.push(format!("{flag}={v}"));
            }
        }
        if self.no_refresh {
            out.push("--refresh=false".into());
        }
        out
    }
}

/// How the agent runs its host's vnx.
#[derive(Clone, Debug)]
pub struct Host {
    pub exe: PathBuf,
    /// The agent's `--state`, passed on.
    pub state: Option<PathBuf>,
}

impl Host {
    /// This vnx, with the state it was given.
    pub fn this(state: Option<PathBuf>) -> Host {
        Host { exe: std::env::current_exe().unwrap_or_else(|_| "vnx".into()), state }
    }

    fn state_dir(&self) -> PathBuf {
        let p = self.state.clone().unwrap_or_else(vnx_state::default_path);
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_else(|| ".".into());
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// Where the files sent with fragments are unpacked, a folder per lab.
    pub fn files_dir(&self) -> PathBuf {
        self.state_dir().join("files")
    }

    /// Writes the files sent with lab `lab`'s fragment into its folder (made anew).
    fn unpack(&self, lab: &str, sent: &[InlineFile]) -> Result<(), String> {
        let root = vnx_providers::names::child(&self.files_dir(), "scenario", lab).map_err(|e| e.to_string())?;
        if sent.is_empty() {
            if root.exists() {
                std::fs::remove_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
            }
            return Ok(());
        }
        files::unpack(&root, sent)
    }

    /// The host's vnx with `args`; stdout captured, stderr lines given to `progress`.
    fn vnx(&self, args: &[&str], dir: Option<&str>, progress: &mut dyn FnMut(String)) -> Result<(i32, String), String> {
        let mut c = Command::new(&self.exe);
        if let Some(s) = &self.state {
            c.arg("--state").arg(s);
        }
        c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).env("NO_COLOR", "1");
        // Its own part only: a ledger here (the local host of a cluster) is not followed again.
        c.env("VNX_HOST_ONLY", "1").env_remove("VNX_CLUSTER");
        if let Some(d) = dir {
            c.env("VNX_SCENARIO_DIR", d);
        }
        let mut child = c.spawn().map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
        for line in BufReader::new(child.stderr.take().expect("piped")).lines().map_while(Result::ok) {
            progress(line);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        Ok((status.code().unwrap_or(128 + 9), out.join().unwrap_or_default()))
    }

    /// The host's vnx with `args`: its exit code, stdout, and stderr kept whole.
    fn vnx_quiet(&self, args: &[&str], dir: Option<&str>) -> Result<(i32, String, String), String> {
        let mut err = String::new();
        let (code, out) = self.vnx(args, dir, &mut |l| {
            err.push_str(&l);
            err.push('\n');
        })?;
        Ok((code, out, err))
    }

    /// Whether this host's state records lab `lab`.
    fn holds(&self, lab: &str) -> Result<bool, String> {
        let path = self.state.clone().unwrap_or_else(vnx_state::default_path);
        if !path.exists() {
            return Ok(false);
        }
        let state = vnx_state::State::open(&path).map_err(|e| e.to_string())?;
        Ok(state.scenario(lab).map_err(|e| e.to_string())?.is_some())
    }

    /// Writes the fragment where the agent keeps them (beside its state), named by its lab.
    fn fragment_file(&self, fragment: &str) -> Result<PathBuf, String> {
        let lab = lab_of(fragment)?;
        let dir = self.state_dir().join("fragments");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = vnx_providers::names::child(&dir, "scenario", &lab).map_err(|e| e.to_string())?;
        let path = path.with_extension("yaml");
        std::fs::write(&path, fragment).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// The lab a fragment is of (its `name:`), checked against the name grammar.
fn lab_of(fragment: &str) -> Result<String, String> {
    let v: serde_yaml::Value = serde_yaml::from_str(fragment).map_err(|e| format!("the fragment is not YAML: {e}"))?;
    let name = v.get("name").and_then(|n| n.as_str()).ok_or("the fragment has no name")?;
    vnx_providers::names::check(name).map_err(|e| format!("lab name `{name}`: {e}"))?;
    Ok(name.to_string())
}

fn json_of(code: i32, out: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(out).map_err(|_| format!("{what} gave no result (exit {code}): {}", out.trim()))
}

/// Carries out one request on this host.
pub fn handle(host: &Host, req: &Request, progress: &mut dyn FnMut(String)) -> Result<Value, String> {
    match req {
        Request::Hello { version, underlay, doctor } => {
            if *version != PROTOCOL {
                return Err(format!("this host's vnx speaks protocol {PROTOCOL}, the controller {version}: install the same vnx on both"));
            }
            let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
            let link = match underlay {
                Some(u) => Some(underlay_link(u)?),
                None => None,
            };
            Ok(json!({
                "protocol": PROTOCOL, "vnx": env!("CARGO_PKG_VERSION"), "hostname": hostname,
                "underlay": link.map(|(name, mtu)| json!({"link": name, "mtu": mtu})),
                "files_dir": host.files_dir(),
                "doctor": doctor.then(crate::cli::doctor::facts),
            }))
        }
        Request::Plan { fragment, dir, json, files, options } => {
            let file = host.fragment_file(fragment)?;
            host.unpack(&lab_of(fragment)?, files)?;
            let f = file.to_string_lossy();
            let extra = options.args();
            let mut args = vec!["plan", &f, "--detailed-exitcode"];
            if *json {
                args.push("--json");
            }
            args.extend(extra.iter().map(String::as_str));
            let (code, out, errors) = host.vnx_quiet(&args, Some(dir))?;
            if code != 0 && code != 2 {
                return Err(format!("plan failed:\n{}{}", errors, out).trim_end().to_string());
            }
            let plan = if *json { json_of(code, &out, "plan")? } else { Value::String(out) };
            Ok(json!({"changes": code == 2, "plan": plan, "messages": errors}))
        }
        Request::Apply { fragment, dir, files, options } => {
            let file = host.fragment_file(fragment)?;
            host.unpack(&lab_of(fragment)?, files)?;
            let f = file.to_string_lossy();
            let extra = options.args();
            let mut args = vec!["apply", &f, "--auto-approve", "--json", "--lock-timeout", LOCK_WAIT];
            args.extend(extra.iter().map(String::as_str));
            if options.start {
                args.push("--start");
            }
            let (code, out) = host.vnx(&args, Some(dir), progress)?;
            json_of(code, &out, "apply")
        }
        Request::Destroy { lab } => {
            if !host.holds(lab)? {
                return Ok(json!({"status": "ok", "absent": true, "summary": {"add": 0, "change": 0, "destroy": 0}}));
            }
            let (code, out) =
                host.vnx(&["destroy", lab, "--auto-approve", "--json", "--lock-timeout", LOCK_WAIT], None, progress)?;
            let r = json_of(code, &out, "destroy")?;
            if r.get("status").and_then(Value::as_str) == Some("ok") {
                let dir = host.state_dir().join("fragments");
                if let Ok(p) = vnx_providers::names::child(&dir, "scenario", lab) {
                    let _ = std::fs::remove_file(p.with_extension("yaml"));
                }
                host.unpack(lab, &[])?;
            }
            Ok(r)
        }
        Request::Show { lab } => {
            let mut errors = String::new();
            let (code, out) = host.vnx(&["show", lab, "--format", "json"], None, &mut |l| errors.push_str(&l))?;
            if code != 0 {
                return Err(errors);
            }
            json_of(code, &out, "show")
        }
        Request::Exec { lab, node, argv } => {
            let mut args = vec!["exec", lab.as_str(), "-M", node.as_str(), "--"];
            args.extend(argv.iter().map(String::as_str));
            let (code, out, err) = host.vnx_quiet(&args, None)?;
            Ok(json!({"code": code, "stdout": out, "stderr": err}))
        }
        Request::Sequence { lab, seq, nodes } => {
            let list = nodes.join(",");
            let mut args = vec!["exec", lab.as_str(), seq.as_str()];
            if !nodes.is_empty() {
                args.extend(["-M", list.as_str()]);
            }
            let (code, out, err) = host.vnx_quiet(&args, None)?;
            Ok(json!({"code": code, "stdout": out, "stderr": err}))
        }
        Request::Lifecycle { lab, verb, nodes, kill } => {
            if !LIFECYCLE_VERBS.contains(&verb.as_str()) {
                return Err(format!("`{verb}` is not a lifecycle command ({})", LIFECYCLE_VERBS.join(", ")));
            }
            let list = nodes.join(",");
            let mut args = vec![verb.as_str(), lab.as_str(), "--json", "--lock-timeout", LOCK_WAIT];
            if !nodes.is_empty() {
                args.extend(["-M", list.as_str()]);
            }
            if *kill {
                args.push("--kill");
            }
            let (code, out, err) = host.vnx_quiet(&args, None)?;
            if code != 0 && out.trim().is_empty() {
                return Err(err.trim_end().to_string());
            }
            let mut v = json_of(code, &out, verb)?;
            v["code"] = json!(code);
            Ok(v)
        }
        Request::Probe { peers, size } => {
            let payload = size.saturating_sub(28).to_string();
            let reached: serde_json::Map<String, Value> = peers
                .iter()
                .map(|p| {
                    let ok = Command::new("ping")
                        .args(["-M", "do", "-s", &payload, "-c", "1", "-W", "2", "-n", "-q", p])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    (p.clone(), Value::Bool(ok))
                })
                .collect();
            Ok(Value::Object(reached))
        }
    }
}

/// The link holding the underlay address `addr`, and its MTU (read through netlink, in this
/// process's network namespace).
fn underlay_link(addr: &str) -> Result<(String, u32), String> {
    let ip: std::net::IpAddr = addr.parse().map_err(|_| format!("the underlay `{addr}` is not an IP address"))?;
    let here = std::fs::File::open("/proc/self/ns/net").map_err(|e| format!("/proc/self/ns/net: {e}"))?;
    // NsReader enters the namespace on the calling thread: a thread of its own, for the read.
    let read = std::thread::scope(|s| {
        s.spawn(|| {
            let r = vnx_providers::netlink::NsReader::enter(std::os::fd::AsFd::as_fd(&here))?;
            Ok::<_, vnx_providers::Error>((r.addrs()?, r.links()?))
        })
        .join()
    });
    let (addrs, links) =
        read.map_err(|_| "reading the host's links panicked".to_string())?.map_err(|e| e.to_string())?;
    let index = addrs.iter().find(|a| a.net.addr() == ip).map(|a| a.index).ok_or_else(|| {
        format!("the underlay address {addr} is on no interface of this host: check `underlay:` in the cluster file")
    })?;
    let link = links.iter().find(|l| l.index == index).ok_or_else(|| format!("the link of {addr} went away"))?;
    Ok((link.name.clone(), link.mtu.unwrap_or(1500)))
}

/// Serves requests from stdin until it closes. Nothing else is written to stdout.
pub fn serve_stdio(host: &Host) -> i32 {
    let out = std::sync::Mutex::new(std::io::stdout());
    let say = |v: Value| {
        let mut o = out.lock().expect("not poisoned");
        let _ = writeln!(o, "{v}");
        let _ = o.flush();
    };
    let mut input = BufReader::new(std::io::stdin().lock());
    loop {
        // Bounded: a line longer than any request is refused, not held whole.
        let mut raw = Vec::new();
        match std::io::Read::take(&mut input, MAX_REQUEST + 1).read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if raw.len() as u64 > MAX_REQUEST {
            say(json!({ "error": format!("a request longer than {} MiB", MAX_REQUEST >> 20) }));
            break;
        }
        let line = String::from_utf8_lossy(&raw);
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Err(e) => Err(format!("not a request of protocol {PROTOCOL}: {e}")),
            Ok(req) => handle(host, &req, &mut |p| say(json!({ "progress": p }))),
        };
        say(match reply {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "error": e }),
        });
    }
    0
}
