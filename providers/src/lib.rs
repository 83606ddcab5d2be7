//! vnx's providers: the only code that touches the outside world.
//!
//! - [`kinds`]: the resource kinds, one module each: typed attributes (shared with the
//!   planner), the attributes that force a replacement, and the kind's create, read, update and
//!   delete (`kinds::Ops`). The `kinds!` registry in `kinds/mod.rs` lists them. A new kind is a
//!   module there, its name in the registry, the planner's code that builds its attributes, and
//!   its tests.
//! - [`lab`]: the lab provider ([`lab::Lab`], the [`lab::Provider`] trait the engine drives):
//!   what the kinds share, and the dispatch of each call to the resource's node provider
//!   ([`lab::NodeProvider`]: `ns` → the kind, `libvirt` → `lab/vm.rs`). Stateless between calls:
//!   what a later call needs is read back from the machine.
//! - [`netlink`]: links, addresses and routes of one network namespace, in-process.
//! - [`ns`]: `ns` nodes (init process, namespaces, copy-on-write root), running commands and
//!   copying files into them; [`starter`]: the server that forks their inits.
//! - [`libvirt`]: virtual machines (domains, configuration drives, the guest agent); talking to
//!   libvirt needs the `libvirt` feature.
//!
//! Everything vnx creates in the kernel carries its mark: links have the interface alias
//! `vnx:<scenario>:<kind>:<name>`, node network namespaces are named `vnx-<scenario>.<node>` ([`names`]).
//! Errors keep their cause ([`Error`]: the errno, the operation, the object).

pub mod claim;
pub mod kinds;
pub mod lab;
pub mod libvirt;
pub mod names;
pub mod netlink;
pub mod netns_socket;
pub mod noderoot;
pub mod ns;
pub mod ovsdb;
pub mod starter;

/// What went wrong, with its cause: the kernel's errno where it gave one (callers decide on
/// it, never on the text), the operation and the object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink request (or the socket's set-up) failed: `op` says what was asked.
    #[error("netlink: {op}: {why}")]
    Netlink {
        op: String,
        /// The kernel's answer, when it refused the request.
        errno: Option<i32>,
        why: String,
    },
    /// A file or process operation on `object` (a path, a node's namespace) failed.
    #[error("{object}: {source}")]
    Io {
        object: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Node(String),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The kernel refused netlink request `op` with `errno`.
    pub fn refused(op: &str, errno: i32) -> Error {
        let why = std::io::Error::from_raw_os_error(errno).to_string();
        Error::Netlink { op: op.to_string(), errno: Some(errno), why }
    }

    /// Netlink request `op` failed on vnx's side (a socket, a message it could not read).
    pub fn netlink(op: &str, why: impl std::fmt::Display) -> Error {
        Error::Netlink { op: op.to_string(), errno: None, why: why.to_string() }
    }

    /// An operation on `object` failed with `source`.
    pub fn io(object: impl std::fmt::Display, source: impl Into<std::io::Error>) -> Error {
        Error::Io { object: object.to_string(), source: source.into() }
    }

    /// The errno behind the error, if the system gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink { errno, .. } => *errno,
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub use names::mark;

/// A short stable name from `parts`: 12 hex digits of an FNV-1a hash.
pub fn short_hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn errors_keep_their_errno_and_say_what_failed() {
        let e = Error::refused("adding link vb1", libc::EEXIST);
        assert_eq!(e.errno(), Some(libc::EEXIST));
        assert!(e.to_string().starts_with("netlink: adding link vb1: File exists"), "{e}");
        let e = Error::io("/etc/hosts", std::io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.errno(), Some(libc::EACCES));
        assert!(e.to_string().starts_with("/etc/hosts: Permission denied"), "{e}");
        assert_eq!(Error::netlink("parsing a dump", "a truncated message").errno(), None);
    }
}
