//! `ovs`: the lab's own Open vSwitch: an `ovsdb-server` and an `ovs-vswitchd` running in the
//! lab's network namespace, their database, sockets, pid files and logs in the lab's runtime
//! directory. Each lab has its own, so vnx never sees, let alone changes, a bridge of the
//! machine's Open vSwitch (nor of another lab's), needs no system service started, and the
//! lab's bridges' ports (the host ends of its veths) are where its switch is. Without the
//! kernel's datapath (this machine's kernel has no openvswitch module) its bridges use the
//! userspace one (`netdev`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::ovsdb::{self, Ovsdb};
use crate::{Error, Result};

pub const KIND: &str = "ovs";

/// Debian's schema of the Open_vSwitch database.
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The lab's network namespace, where the daemons run.
    pub netns: String,
}

/// Daemons are started anew, never changed.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}

/// The database's socket in `dir`.
pub fn socket(dir: &Path) -> PathBuf {
    dir.join("db.sock")
}

/// The lab's switch database, connected.
pub(crate) fn db(lab: &Lab) -> Result<Ovsdb> {
    Ovsdb::connect(&socket(&lab.ovs_dir()?))
}

const DAEMONS: [&str; 2] = ["ovs-vswitchd", "ovsdb-server"];

/// The pid of `daemon` while it runs (its pid file names a live process of its name).
fn pid(dir: &Path, daemon: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join(format!("{daemon}.pid"))).ok()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    // comm is cut at 15 characters: "ovs-vswitchd", "ovsdb-server" fit.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let zombie = stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
    (comm.trim() == daemon && !zombie).then_some(pid)
}

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::io(format!("running {what} (is Debian's openvswitch-switch installed?)"), e))?;
    if !out.status.success() {
        return Err(Error::Other(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// `program` in the namespace `netns`, with Open vSwitch's directories set to `dir`.
fn in_netns(netns: &str, dir: &Path, program: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{netns}")).arg("--").arg(program);
    for var in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
        c.env(var, dir);
    }
    c
}

/// Stops the daemons: SIGTERM (ovs-vswitchd takes a few seconds to take its userspace
/// datapath down), SIGKILL after 10 s.
fn stop(dir: &Path) {
    use nix::sys::signal::{kill, Signal};
    super::ovs_relay::stop_all(dir);
    for d in DAEMONS {
        let Some(p) = pid(dir, d) else { continue };
        let p = nix::unistd::Pid::from_raw(p);
        let _ = kill(p, Signal::SIGTERM);
        let gone = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            pid(dir, d).is_none()
        });
        if !gone {
            let _ = kill(p, Signal::SIGKILL);
        }
    }
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let dir = lab.ovs_dir()?;
        // What an interrupted create left goes first: the database is made anew.
        stop(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let db = dir.join("conf.db");
        run("ovsdb-tool create", Command::new("ovsdb-tool").arg("create").arg(&db).arg(SCHEMA))?;
        let file = |name: &str| dir.join(name).display().to_string();
        run(
            "ovsdb-server",
            in_netns(&self.netns, &dir, "ovsdb-server")
                .arg(&db)
                .arg(format!("--remote=punix:{}", socket(&dir).display()))
                .arg(format!("--pidfile={}", file("ovsdb-server.pid")))
                .arg(format!("--log-file={}", file("ovsdb-server.log")))
                .arg("--detach"),
        )?;
        // The root row (what `ovs-vsctl init` makes): TSO in the userspace datapath, without
        // which TCP over veth ports fails on bad checksums.
        let mut conn = Ovsdb::connect(&socket(&dir))?;
        conn.transact(vec![json!({
            "op": "insert", "table": "Open_vSwitch",
            "row": {"other_config": ovsdb::map(&[("userspace-tso-enable", "true")])}
        })])?;
        run(
            "ovs-vswitchd",
            in_netns(&self.netns, &dir, "ovs-vswitchd")
                .arg(format!("unix:{}", socket(&dir).display()))
                .arg(format!("--pidfile={}", file("ovs-vswitchd.pid")))
                .arg(format!("--log-file={}", file("ovs-vswitchd.log")))
                .arg("--detach"),
        )?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let dir = lab.ovs_dir()?;
        Ok(if DAEMONS.iter().all(|d| pid(&dir, d).is_some()) { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        let dir = lab.ovs_dir()?;
        stop(&dir);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir.display(), e)),
            _ => Ok(()),
        }
    }
}
