//! The one grammar of the names a scenario gives (scenario, node, net, sequence), and every
//! kernel name, mark and path vnx builds from them.
//!
//! **Invariants.**
//! - A name is 1 to [`MAX`] characters of ASCII letters, digits, `_` and `-`, not starting with
//!   `-`. So it is never `.` or `..`, holds no `/` (one path component), no `.` (the separator
//!   below), no `:` (the marks' separator), no white space and nothing a shell or `ip` reads
//!   specially.
//! - The names built here are injective: `vnx-LAB.NODE` can come from one (lab, node) pair
//!   only, since neither part can hold the `.`; a mark `vnx:LAB:KIND:NAME` likewise.
//! - Paths vnx creates or deletes for a lab are a checked name joined to one of vnx's own
//!   directories ([`child`]), never a path walked from user text.
//!
//! The scenario's validation reports a bad name with its place in the file ([`check`] gives the
//! reason); the builders here check again, so a name that reaches them another way (a state
//! database written by an older vnx, a command-line argument) is refused, not used.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The longest name.
pub const MAX: usize = 64;

/// What a name may be, said to the user.
pub const GRAMMAR: &str = "letters, digits, `_` and `-` (not first), up to 64 characters";

/// Whether `name` is a name; the reason when not.
pub fn check(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX {
        return Err(format!("has {} characters (at most {MAX})", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        let shown = if c.is_whitespace() || c.is_control() { format!("{:?}", c) } else { format!("`{c}`") };
        return Err(format!("contains {shown}"));
    }
    if name.starts_with('-') {
        return Err("starts with `-`".into());
    }
    Ok(())
}

/// `name`, checked, or an error that says which name it is and why it is refused.
pub fn checked<'a>(what: &str, name: &'a str) -> Result<&'a str> {
    check(name).map(|_| name).map_err(|e| Error::Other(format!("the {what} name {name:?} {e} (a name is {GRAMMAR})")))
}

/// The name of a node's network namespace in /run/netns (also a VM's domain name).
pub fn node_netns(lab: &str, node: &str) -> String {
    format!("vnx-{lab}.{node}")
}

/// The lab's own network namespace, holding the bridges of its nets (`vnxlab-`: no node's
/// `vnx-LAB.NODE` can be spelled so).
pub fn lab_netns(lab: &str) -> String {
    format!("vnxlab-{lab}")
}

/// The lab's `k`-th network namespace: a big lab's bridges are spread over several (the
/// first is [`lab_netns`]); `.` is outside the names' grammar, so no other lab's is spelled so.
pub fn lab_shard_netns(lab: &str, k: usize) -> String {
    if k == 0 {
        lab_netns(lab)
    } else {
        format!("vnxlab-{lab}.{k}")
    }
}

/// The mark vnx puts on what it makes in the kernel (a link's alias, a namespace's `lo`).
pub fn mark(lab: &str, kind: &str, name: &str) -> String {
    format!("vnx:{lab}:{kind}:{name}")
}

/// The link group of a lab's links: set in the request that creates a link, so a link left
/// without its alias by an interrupted create is still known as the lab's (a 32-bit hash of
/// the lab's name, never 0, the kernel's default group).
pub fn link_group(lab: &str) -> u32 {
    let h = lab.bytes().fold(0x811c9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x01000193));
    h.max(1)
}

/// `base/name` for a checked `name`: the only way vnx builds a path from a name, so every path
/// it makes or removes for a lab lies directly in one of its own directories.
pub fn child(base: &Path, what: &str, name: &str) -> Result<PathBuf> {
    Ok(base.join(checked(what, name)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in ["a", "R1", "two-lans", "lan_1", "_x", "0", &"x".repeat(64)] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a.b", "a:b", "a b", "-a", "é", "a\n", "a,b", "$x", &"x".repeat(65)] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_built_from_two_names_are_injective() {
        // The collision VNX's and vnx's old `vnx-LAB-NODE` had.
        assert_ne!(node_netns("rp-a", "b-c"), node_netns("rp-a-b", "c"));
        assert_ne!(mark("a", "net", "b"), mark("a-net", "b", ""));
        assert!(child(Path::new("/run/vnx/labs"), "scenario", "..").is_err());
        assert_eq!(child(Path::new("/x"), "node", "h1").unwrap(), Path::new("/x/h1"));
    }
}
