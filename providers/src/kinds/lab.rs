//! `lab`: the lab's own network namespace, where the bridges of its nets live.

use serde::{Deserialize, Serialize};

pub const KIND: &str = "lab";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// `vnxlab-LAB`.
    pub netns: String,
}

/// A namespace is made, never changed.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}
