//! Resource kinds, one module each: the kind's typed attributes (built by the planner, read by
//! the provider: one type for both, serialised in the plan and the record), the attributes
//! that force a replacement, and its create, read and delete.
//!
//! The kinds that still live in `lab.rs` move here one by one (issue 16); a new kind starts
//! here. To add one: a module with `KIND`, `Attrs`, `forces_replacement` and its calls; a line
//! in `lab.rs`'s dispatch and in `vnx::plan::resource::forces_replacement`; the planner builds
//! its `Attrs`.

pub mod capture;
