//! `ovs-relay`: the way from the lab's switch to an OpenFlow controller outside the lab (on
//! the host's loopback, on the host, anywhere the host reaches). The switch runs in the lab's
//! namespace, which routes nowhere; its bridge connects instead to a unix socket in the
//! switch's directory, where a relay (`vnx __relay`) running in the host's namespace accepts
//! each OpenFlow session and carries it to the controller's address. Its pid file names it;
//! a relay that died is missing, and apply starts it again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{Error, Result};

pub const KIND: &str = "ovs-relay";

/// How a bridge's controller reached through a relay is written in its `controllers`:
/// `relay:NAME`, turned into the relay's socket when written to the switch's database.
pub const PREFIX: &str = "relay:";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The relay's name (its socket's and pid file's), a checked name.
    pub name: String,
    /// The controller's address, `HOST:PORT` (`[ADDR]:PORT` for IPv6).
    pub to: String,
}

pub fn forces_replacement(_attr: &str) -> bool {
    true
}

/// The socket of relay `name` in the switch's directory `dir`.
pub fn socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.relay"))
}

fn pid_file(socket: &Path) -> PathBuf {
    socket.with_extension("relay.pid")
}

/// The target Open vSwitch is given for `controller`: a relay's socket, or the controller.
pub(crate) fn target(dir: &Path, controller: &str) -> String {
    match controller.strip_prefix(PREFIX) {
        Some(name) => format!("unix:{}", socket(dir, name).display()),
        None => controller.to_string(),
    }
}

/// The controller as the plan writes it, from the target in the database.
pub(crate) fn controller(dir: &Path, target: &str) -> String {
    let relays = format!("unix:{}/", dir.display());
    match target.strip_prefix(&relays).and_then(|f| f.strip_suffix(".relay")) {
        Some(name) => format!("{PREFIX}{name}"),
        None => target.to_string(),
    }
}

/// The pid of the relay on `socket` while it runs (its pid file names a live relay of it).
fn pid(socket: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(socket)).ok()?.trim().parse().ok()?;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmd);
    (cmd.contains("\0__relay\0") && cmd.contains(&*socket.to_string_lossy())).then_some(pid)
}

/// Stops the relay on `socket` and removes its files.
fn stop(socket: &Path) {
    if let Some(p) = pid(socket) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(pid_file(socket));
    let _ = std::fs::remove_file(socket);
}

/// Stops every relay of the switch directory `dir` (the switch going, whatever its bridges).
pub(crate) fn stop_all(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "relay") {
            stop(&p);
        }
    }
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let dir = lab.ovs_dir()?;
        let sock = socket(&dir, &self.name);
        stop(&sock);
        let exe = std::env::current_exe().map_err(|e| Error::io("finding the vnx binary", e))?;
        let log = std::fs::File::create(sock.with_extension("relay.log")).map_err(|e| Error::io("the relay's log", e))?;
        let mut cmd = Command::new(exe);
        cmd.arg("__relay").arg("--listen").arg(&sock).arg("--to").arg(&self.to);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        // Its own session: it outlives this vnx, as the switch does.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn().map_err(|e| Error::io("starting the controller relay", e))?;
        for _ in 0..250 {
            if pid(&sock).is_some() && sock.exists() {
                // Reaped by nobody else: its exit, much later, must not leave a zombie of this vnx.
                std::thread::spawn(move || child.wait());
                return Ok(json!({}));
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Error::Other(format!(
                    "the relay to controller {} stopped ({status}): see {}",
                    self.to,
                    sock.with_extension("relay.log").display()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        Err(Error::Other(format!("the relay to controller {} did not start", self.to)))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let dir = lab.ovs_dir()?;
        Ok(if pid(&socket(&dir, &self.name)).is_some() { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        stop(&socket(&lab.ovs_dir()?, &self.name));
        Ok(())
    }
}
