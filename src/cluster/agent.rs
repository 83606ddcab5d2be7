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

/// The protocol's version: a controller and an agent that differ refuse each other.
pub const PROTOCOL: u32 = 1;

/// A request, as it travels (`{"op": "plan", …}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The protocol version and the host's underlay address (whose link's MTU the reply gives).
    Hello {
        version: u32,
        underlay: Option<String>,
    },
    /// Plan the fragment (YAML); `dir`: where its relative paths resolve.
    Plan {
        fragment: String,
        dir: String,
        json: bool,
    },
    /// Converge the host's part of the lab to the fragment.
    Apply {
        fragment: String,
        dir: String,
    },
    Show {
        lab: String,
    },
    Exec {
        lab: String,
        node: String,
        argv: Vec<String>,
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
        p.parent().map(Path::to_path_buf).unwrap_or_else(|| ".".into())
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
        Request::Hello { version, underlay } => {
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
            }))
        }
        Request::Plan { fragment, dir, json } => {
            let file = host.fragment_file(fragment)?;
            let f = file.to_string_lossy();
            let mut args = vec!["plan", &f, "--detailed-exitcode"];
            if *json {
                args.push("--json");
            }
            let mut errors = String::new();
            let (code, out) = host.vnx(&args, Some(dir), &mut |l| {
                errors.push_str(&l);
                errors.push('\n');
            })?;
            if code != 0 && code != 2 {
                return Err(format!("plan failed:\n{}{}", errors, out).trim_end().to_string());
            }
            let plan = if *json { json_of(code, &out, "plan")? } else { Value::String(out) };
            Ok(json!({"changes": code == 2, "plan": plan, "messages": errors}))
        }
        Request::Apply { fragment, dir } => {
            let file = host.fragment_file(fragment)?;
            let (code, out) =
                host.vnx(&["apply", &file.to_string_lossy(), "--auto-approve", "--json"], Some(dir), progress)?;
            json_of(code, &out, "apply")
        }
        Request::Destroy { lab } => {
            if !host.holds(lab)? {
                return Ok(json!({"status": "ok", "absent": true, "summary": {"add": 0, "change": 0, "destroy": 0}}));
            }
            let (code, out) = host.vnx(&["destroy", lab, "--auto-approve", "--json"], None, progress)?;
            let r = json_of(code, &out, "destroy")?;
            if r.get("status").and_then(Value::as_str) == Some("ok") {
                let dir = host.state_dir().join("fragments");
                if let Ok(p) = vnx_providers::names::child(&dir, "scenario", lab) {
                    let _ = std::fs::remove_file(p.with_extension("yaml"));
                }
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
            let mut err = String::new();
            let (code, out) = host.vnx(&args, None, &mut |l| {
                err.push_str(&l);
                err.push('\n');
            })?;
            Ok(json!({"code": code, "stdout": out, "stderr": err}))
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

/// The link holding the underlay address `addr`, and its MTU.
fn underlay_link(addr: &str) -> Result<(String, u32), String> {
    let out = Command::new("ip").args(["-j", "address", "show"]).output().map_err(|e| format!("ip: {e}"))?;
    let links: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("ip -j address: {e}"))?;
    for l in links.as_array().into_iter().flatten() {
        let has = l["addr_info"].as_array().into_iter().flatten().any(|a| a["local"].as_str() == Some(addr));
        if has {
            return Ok((l["ifname"].as_str().unwrap_or("?").to_string(), l["mtu"].as_u64().unwrap_or(1500) as u32));
        }
    }
    Err(format!("the underlay address {addr} is on no interface of this host: check `underlay:` in the cluster file"))
}

/// Serves requests from stdin until it closes. Nothing else is written to stdout.
pub fn serve_stdio(host: &Host) -> i32 {
    let stdin = std::io::stdin();
    let out = std::sync::Mutex::new(std::io::stdout());
    let say = |v: Value| {
        let mut o = out.lock().expect("not poisoned");
        let _ = writeln!(o, "{v}");
        let _ = o.flush();
    };
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
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
