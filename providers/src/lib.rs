//! vnx's providers: the only code that touches the outside world.
//!
//! - [`netlink`]: links, addresses and routes of one network namespace, in-process.
//! - [`ns`]: `ns` nodes (init process, namespaces, copy-on-write root), running commands and
//!   copying files into them.
//!
//! Everything vnx creates in the kernel carries its mark: links have the interface alias
//! `vnx:<scenario>:<kind>:<name>`, node network namespaces are named `vnx-<scenario>-<node>`.

pub mod lab;
pub mod netlink;
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

/// The interface alias that marks a link as vnx's.
pub fn mark(scenario: &str, kind: &str, name: &str) -> String {
    format!("vnx:{scenario}:{kind}:{name}")
}
