//! One state owns a lab on a machine.
//!
//! The names a lab takes (in /run/netns, its bridges, /run/vnx/labs/LAB) are machine-wide, so two
//! state databases (`--state`, `VNX_STATE`) applying labs of one name would fight over them: the
//! second would kill and replace the first one's nodes. **Invariant: a lab's kernel objects are
//! changed only by the state that claimed it**: a claim file `/run/vnx/claims/LAB` (written whole,
//! then linked to its name, which fails if it exists, before anything of the lab is created;
//! removed when the lab is destroyed) names the
//! owning state; every command that builds, changes or reads the lab for another state is refused
//! with the owner's name. /run goes with a reboot, as the lab's namespaces and processes do.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where claims live.
pub const DIR: &str = "/run/vnx/claims";

/// What a claim file says.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// The owning state database, as an absolute path.
    pub state: PathBuf,
    /// The process that claimed the lab, and when (seconds since the epoch).
    pub pid: u32,
    pub since: u64,
}

fn file(lab: &str) -> Result<PathBuf> {
    crate::names::child(Path::new(DIR), "scenario", lab)
}

/// The state's identity: its absolute path (resolved, so two spellings of one file agree).
fn identity(state: &Path) -> PathBuf {
    std::fs::canonicalize(state).unwrap_or_else(|_| std::path::absolute(state).unwrap_or(state.to_path_buf()))
}

/// The claim on `lab`, if any.
pub fn read(lab: &str) -> Result<Option<Claim>> {
    let path = file(lab)?;
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::Other(format!("{} is not a vnx claim ({e}): remove it if no lab {lab} runs", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Other(format!("{}: {e}", path.display()))),
    }
}

fn refusal(lab: &str, c: &Claim) -> Error {
    Error::Other(format!(
        "the lab {lab} on this machine belongs to another state: {} (claimed by process {} at {} s since \
         the epoch). Use that state (--state {}), or destroy the lab with it first; if that state is \
         gone and nothing of the lab runs, remove {}",
        c.state.display(),
        c.pid,
        c.since,
        c.state.display(),
        file(lab).map(|p| p.display().to_string()).unwrap_or_default()
    ))
}

/// Refuses when another state owns `lab`.
pub fn check(lab: &str, state: &Path) -> Result<()> {
    match read(lab)? {
        Some(c) if c.state != identity(state) => Err(refusal(lab, &c)),
        _ => Ok(()),
    }
}

/// Claims `lab` for `state` (nothing to do when it already owns it); refuses when another does.
pub fn take(lab: &str, state: &Path) -> Result<()> {
    let path = file(lab)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(DIR)
        .map_err(|e| Error::Other(format!("{DIR}: {e}")))?;
    let claim = Claim {
        state: identity(state),
        pid: std::process::id(),
        since: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    // Written whole into a file without a name (O_TMPFILE), then linked to the claim's name,
    // which fails if that exists: a vnx killed midway leaves neither an empty claim (it names
    // no owner, and refused every later apply) nor a draft behind.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(DIR)
        .and_then(|mut f| {
            f.write_all(&serde_json::to_vec(&claim).expect("json"))?;
            f.sync_all()?;
            Ok(f)
        })
        .map_err(|e| Error::Other(format!("{DIR}: a claim cannot be written: {e}")))?;
    let fd =
        std::ffi::CString::new(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&written))).expect("no NUL");
    let to = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("a checked name has no NUL");
    let linked =
        unsafe { libc::linkat(libc::AT_FDCWD, fd.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW) };
    match linked {
        0 => Ok(()),
        _ => match std::io::Error::last_os_error() {
            e if e.kind() == std::io::ErrorKind::AlreadyExists => check(lab, state),
            e => Err(Error::Other(format!("{}: {e}", path.display()))),
        },
    }
}

/// Gives up `state`'s claim on `lab` (another state's claim stays).
pub fn release(lab: &str, state: &Path) {
    if check(lab, state).is_ok() {
        if let Ok(path) = file(lab) {
            let _ = std::fs::remove_file(path);
        }
    }
}
