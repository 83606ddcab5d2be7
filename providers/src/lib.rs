//! vnx's providers: the only code that touches the outside world.
//!
//! - [`netlink`]: links, addresses and routes of one network namespace, in-process.
//! - [`ns`]: `ns` nodes (init process, namespaces, copy-on-write root), running commands and
//!   copying files into them.
//! - [`libvirt`]: virtual machines (domains, configuration drives, the guest agent); talking to
//!   libvirt needs the `libvirt` feature.
//!
//! Everything vnx creates in the kernel carries its mark: links have the interface alias
//! `vnx:<scenario>:<kind>:<name>`, node network namespaces are named `vnx-<scenario>.<node>` ([`names`]).

pub mod claim;
pub mod kinds;
pub mod lab;
pub mod libvirt;
pub mod names;
pub mod netlink;
pub mod noderoot;
pub mod ns;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("{0}")]
    Node(String),
    #[error("{0}")]
    Other(String),
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
