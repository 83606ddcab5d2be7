//! The operations vnx carries out on a lab, apart from how a command shows them: planning
//! ([`plan`]), converging a lab to a plan ([`converge`]: apply, destroy, modify) and changing
//! nodes' run states ([`lifecycle`]), with the lab provider and the record they share
//! ([`lab`]). A command of `cli/` parses its arguments, computes the desired resources, calls
//! one of these and renders what it returns; another caller (an agent on another host, a
//! cluster controller) calls the same.
//!
//! What an operation needs from its caller comes in [`Session`] (the state database) and as
//! a [`Steer`] (showing the plan, asking for approval, following progress): nothing here
//! prints or reads the terminal.

pub mod cluster;
pub mod converge;
pub mod image;
pub mod lab;
pub mod lifecycle;
pub mod limits;
pub mod plan;
pub mod rootfs;

pub use converge::{converge, Applied, Job, RecordText, Status, Steer};

/// The record an operation works on.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    pub state: &'a vnx_state::State,
    /// The state database's path (the lab's directories are beside it; claims name it).
    pub path: &'a std::path::Path,
}
