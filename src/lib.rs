//! vnx: virtual network labs on Linux, declared in a file and converged like infrastructure.
//!
//! See `ARCHITECTURE.md` for the code map. The library holds the scenario language
//! ([`scenario`]) and the command line ([`cli`]); the state database and the providers are
//! crates of their own (`state/`, `providers/`).

pub mod cli;
pub mod cluster;
pub mod engine;
pub mod map;
pub mod ops;
pub mod plan;
pub mod scenario;
