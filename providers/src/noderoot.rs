//! Files inside a node, reached from the host with the node's root as the root of resolution.
//!
//! **Invariant: every file vnx reads or writes inside a node goes through a [`NodeRoot`].**
//! A path walk through `/proc/PID/root/...` follows the node's symlinks with the *host's* root:
//! Debian's own `/var/run -> /run`, a link a node's command made (`ln -s /etc /srv/www`) or an
//! `/etc/hosts` replaced by a link would send vnx's writes into the host. Here each path is
//! resolved by `openat2(2)` with `RESOLVE_IN_ROOT` (absolute links and `..` stop at the node's
//! root) and `RESOLVE_NO_MAGICLINKS` (the node's `/proc/self/root` and the like lead nowhere),
//! and every new entry is made relative to a parent directory resolved that way.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::ns::Init;

/// A directory used as a root: a node's (`/proc/PID/root`) or any directory (a VM's staging).
pub struct NodeRoot {
    root: OwnedFd,
}

fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// The path relative to the root, its `..` and `.` left to the kernel's resolution.
fn relative(path: &str) -> PathBuf {
    let p = Path::new(path).components().filter(|c| !matches!(c, Component::RootDir | Component::CurDir)).collect();
    p
}

impl NodeRoot {
    /// The root of a running `ns` node.
    pub fn of(init: &Init) -> std::io::Result<NodeRoot> {
        NodeRoot::at(Path::new(&format!("/proc/{}/root", init.pid)))
    }

    /// A directory of the host, used as a root.
    pub fn at(dir: &Path) -> std::io::Result<NodeRoot> {
        let f = File::options().read(true).custom_flags(libc::O_PATH | libc::O_DIRECTORY).open(dir)?;
        Ok(NodeRoot { root: f.into() })
    }

    fn open(&self, path: &Path, flags: OFlag, mode: u32) -> std::io::Result<OwnedFd> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(Mode::from_bits_truncate(mode))
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.root.as_fd(), path, how).map_err(io)
    }

    /// A directory inside the root, resolved in it.
    fn dir(&self, path: &Path) -> std::io::Result<OwnedFd> {
        self.open(path, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
    }

    /// The parent directory of `path` (resolved in the root) and `path`'s last component.
    fn parent_of<'p>(&self, path: &'p Path) -> std::io::Result<(OwnedFd, &'p std::ffi::OsStr)> {
        let name =
            path.file_name().ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
        Ok((self.dir(path.parent().unwrap_or(Path::new("")))?, name))
    }

    /// Whether something is at `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.open(&relative(path), OFlag::O_PATH, 0).is_ok()
    }

    /// Whether `path` is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        self.dir(&relative(path)).is_ok()
    }

    /// Makes the directory `path` and its missing parents (mode 0755).
    pub fn create_dir_all(&self, path: &str) -> std::io::Result<()> {
        let rel = relative(path);
        let mut at = PathBuf::new();
        for c in rel.components() {
            at.push(c);
            if self.dir(&at).is_ok() {
                continue;
            }
            let (parent, name) = self.parent_of(&at)?;
            match nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(io(e)),
            }
            self.dir(&at)?; // what is there now must be a directory, inside the root
        }
        Ok(())
    }

    /// The whole file at `path`.
    pub fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        let mut f = File::from(self.open(&relative(path), OFlag::O_RDONLY, 0)?);
        let mut v = Vec::new();
        f.read_to_end(&mut v)?;
        Ok(v)
    }

    /// Writes `bytes` to `path` in place (created with `mode`, truncated if it exists: a bind
    /// mount such as a node's /etc/hosts cannot be replaced by a rename).
    pub fn write(&self, path: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC;
        let mut f = File::from(self.open(&relative(path), flags, mode)?);
        f.write_all(bytes)
    }

    /// The pid (in the node's PID namespace) named by the pid file `pidfile` while it is a live
    /// process called `name` (not a zombie); read through the node's own /proc.
    pub fn live_pid(&self, pidfile: &str, name: &str) -> Option<String> {
        let pid = self.read(pidfile).ok()?;
        let pid = String::from_utf8_lossy(&pid).trim().to_string();
        if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let status = self.read(&format!("/proc/{pid}/status")).ok()?;
        let status = String::from_utf8_lossy(&status);
        let live = status.lines().any(|l| l.strip_prefix("Name:").is_some_and(|n| n.trim() == name))
            && !status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
        live.then_some(pid)
    }

    /// Removes the file (not a directory) at `path`; what is not there is no error.
    pub fn remove(&self, path: &str) -> std::io::Result<()> {
        let rel = relative(path);
        let (parent, name) = match self.parent_of(&rel) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match nix::unistd::unlinkat(parent.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::Error::ENOENT) => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// Copies the host's `from` (a file, a directory with everything in it, or a symlink,
    /// copied as a link) to `to` inside the root. Directories are made as needed.
    pub fn copy_in(&self, from: &Path, to: &str) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(from)?;
        let rel = relative(to);
        if meta.is_dir() {
            self.create_dir_all(to)?;
            for e in std::fs::read_dir(from)? {
                let e = e?;
                let child = rel.join(e.file_name());
                self.copy_in(&e.path(), &child.to_string_lossy())?;
            }
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(from)?;
            let (parent, name) = self.parent_of(&rel)?;
            let _ = nix::unistd::unlinkat(parent.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
            nix::unistd::symlinkat(&target, parent.as_fd(), name).map_err(io)?;
        } else {
            let mut src = File::open(from)?;
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC;
            let mode = meta.permissions().mode() & 0o7777;
            let mut dst = File::from(self.open(&rel, flags, mode)?);
            std::io::copy(&mut src, &mut dst)?;
            // The source's mode, whatever the umask or an existing file's mode.
            nix::sys::stat::fchmod(dst.as_fd(), Mode::from_bits_truncate(mode)).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Absolute links and `..` inside the root stay inside it. (Magic links need a /proc in the
    /// root: the lab tests cover them in a real node.)
    #[test]
    fn writes_stay_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("etc")).unwrap();
        // A link to the "host's" directory by absolute path, one by `..`.
        std::os::unix::fs::symlink(host.path(), r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", r.join("up")).unwrap();
        std::os::unix::fs::symlink(host.path().join("hosts"), r.join("etc/hosts")).unwrap();
        // As in a node whose root is a copy of the host's, the same path exists inside.
        let inside = r.join(host.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        let nr = NodeRoot::at(r).unwrap();
        nr.create_dir_all("/abs/x").unwrap();
        nr.write("/abs/x/f", b"1", 0o644).unwrap();
        nr.write("/up/g", b"2", 0o644).unwrap();
        nr.write("/etc/hosts", b"3", 0o644).unwrap();
        // Nothing reached the host directory; all of it is under the root.
        assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
        assert_eq!(std::fs::read(inside.join("x/f")).unwrap(), b"1");
        assert_eq!(std::fs::read(r.join("g")).unwrap(), b"2");
        assert_eq!(nr.read("/etc/hosts").unwrap(), b"3");
        // A copied tree lands inside too, links copied as links.
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), "A").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("l")).unwrap();
        nr.copy_in(src.path(), "/abs/tree").unwrap();
        assert_eq!(std::fs::read(inside.join("tree/a")).unwrap(), b"A");
        assert_eq!(std::fs::read_link(inside.join("tree/l")).unwrap(), Path::new("/etc/passwd"));
        assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
    }
}
