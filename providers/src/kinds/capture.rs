//! `capture`: a packet capture on a net's bridge for as long as the lab runs (VNX's
//! `capture_file` and `capture_expression` net attributes): `tcpdump` in the bridge's network
//! namespace, detached, writing to the file the scenario names.
//!
//! The file is created here, never overwritten (as in VNX, an existing capture file is an
//! error) and never through a symbolic link: vnx runs as root, and the path comes from a
//! scenario file.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Ops;
use crate::lab::{blocking, Item, Lab, Seeing, Seen};

use crate::ns::Init;
use crate::{Error, Result};

pub const KIND: &str = "capture";

/// What the planner asks for; the resource is named after its net.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The net's bridge.
    pub bridge: String,
    /// The network namespace the bridge is in (the lab's), or none for the host's.
    pub netns: Option<String>,
    /// The pcap file, absolute.
    pub file: String,
    /// A pcap filter (tcpdump's expression), or everything.
    pub expression: Option<String>,
}

/// Every attribute: a running tcpdump cannot change what it captures.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}

/// What the record keeps: the tcpdump process (pid and start time: a pid alone may be reused).
pub type Runtime = Init;

/// Starts the capture and returns once tcpdump listens (packets from then on are in the
/// file). `logs` is a directory of the lab's own, for tcpdump's messages.
pub fn create(net: &str, a: &Attrs, logs: &Path) -> Result<Value> {
    let fail = |what: String| Error::Other(format!("capture on net {net}: {what}"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&a.file)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                fail(format!("{} exists: vnx never overwrites a file (move it away, or name another)", a.file))
            }
            _ => fail(format!("cannot create {}: {e}", a.file)),
        })?;
    // The file is vnx's until tcpdump writes to it: a capture that does not start leaves none
    // (one left would refuse the next apply).
    start(net, a, file, logs).inspect_err(|_| {
        let _ = std::fs::remove_file(&a.file);
    })
}

/// Starts tcpdump writing to `file`, and waits until it listens.
fn start(net: &str, a: &Attrs, file: std::fs::File, logs: &Path) -> Result<Value> {
    let fail = |what: String| Error::Other(format!("capture on net {net}: {what}"));
    std::fs::create_dir_all(logs).map_err(|e| fail(format!("cannot make {}: {e}", logs.display())))?;
    let log_path = crate::names::child(logs, "net", net).map_err(|e| fail(e.to_string()))?.with_extension("log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| fail(format!("cannot write {}: {e}", log_path.display())))?;
    let mut cmd = match &a.netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{ns}")).arg("--").arg("tcpdump");
            c
        }
        None => Command::new("tcpdump"),
    };
    // Each packet written as it comes (--immediate-mode: not held in the kernel's ring for up
    // to a second, where stopping the capture would lose it; -U: not in stdio's buffer), to
    // the file opened above, on stdout.
    cmd.args(["-i", &a.bridge, "--immediate-mode", "-U", "-w", "-"]);
    if let Some(e) = &a.expression {
        cmd.arg(e);
    }
    cmd.stdin(Stdio::null()).stdout(file).stderr(log);
    // A session of its own: Ctrl-C at vnx's terminal is not the capture's end.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run tcpdump: {e} (apt-get install tcpdump)")))?;
    let pid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut said = String::new();
        let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut said));
        if said.contains("listening on") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(fail(format!("tcpdump {status}: {}", said.trim())));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("tcpdump did not start listening in 10 s: {}", said.trim())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let start_time = crate::ns::start_time(pid).ok_or_else(|| fail("tcpdump ended as it started".into()))?;
    Ok(serde_json::to_value(Runtime { pid, start_time }).expect("json"))
}

/// Whether the capture still runs.
pub fn read(runtime: &Value) -> bool {
    serde_json::from_value::<Runtime>(runtime.clone()).is_ok_and(|p| p.alive())
}

/// Stops the capture (the file stays: it is the user's), waiting for tcpdump to end.
pub fn delete(runtime: &Value) -> Result<()> {
    let Ok(p) = serde_json::from_value::<Runtime>(runtime.clone()) else { return Ok(()) };
    if !p.alive() {
        return Ok(());
    }
    unsafe { libc::kill(p.pid, libc::SIGTERM) };
    let start = Instant::now();
    while p.alive() {
        match start.elapsed() {
            t if t > Duration::from_secs(6) => {
                return Err(Error::Other(format!("tcpdump (pid {}) does not end", p.pid)));
            }
            t if t > Duration::from_secs(3) => unsafe {
                libc::kill(p.pid, libc::SIGKILL);
            },
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let logs = lab.dir().join("captures");
        let net = it.name.clone();
        blocking(move || create(&net, &self, &logs)).await
    }

    async fn read(self, _: &Lab, it: &Item, _: &Seeing<'_>) -> Result<Seen> {
        Ok(if read(&it.runtime) { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, _: &Lab, it: &Item) -> Result<()> {
        let runtime = it.runtime.clone();
        blocking(move || delete(&runtime)).await
    }
}
