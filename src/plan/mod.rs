//! Planning: the scenario turned into resources (`desired`), compared with what was recorded
//! and what refresh saw (`diff`), and shown (`render`).
//!
//! **Boundary: no I/O.** Everything here is a pure function of its arguments, tested with
//! plain tables.

pub mod daemons;
pub mod desired;
pub mod diff;
pub mod limits;
pub mod ovs;
pub mod render;
pub mod resource;
pub mod services;
pub mod unread;
pub mod vm;

pub use diff::{believed, plan, Action, Change, ChangeKind, Drift, Op, Options, Plan};
pub use resource::{kind, Actual, Attrs, Desired, IdMap, IdSet, Recorded, ResId};

#[cfg(test)]
mod tests;
