//! `lab`: the lab's own network namespace, where the bridges of its nets live.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{ns, Result};

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

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        lab.forget_side(&self.netns).await;
        // Only layer 2 happens here (bridges, the host ends of veths): without IPv6, no
        // link-local address and no IPv6 route per link, whose table the kernel walks at every
        // link up and down (quadratic in the lab's size otherwise).
        ns::new_netns(
            &self.netns,
            &lab.alias(KIND, &it.name),
            &[("net/ipv6/conf/default/disable_ipv6", "1"), ("net/ipv6/conf/all/disable_ipv6", "1")],
        )?;
        Ok(json!({}))
    }

    /// Only a namespace with the lab's mark is the lab's (creating it refuses another).
    async fn read(self, lab: &Lab, it: &Item, _: &Seeing<'_>) -> Result<Seen> {
        Ok(match ns::netns_mark(&self.netns) {
            Some(Some(m)) if m == lab.alias(KIND, &it.name) => Seen::Present(Map::new()),
            _ => Seen::Missing,
        })
    }

    /// The kernel dismantles the namespace, and every bridge and veth in it, in one batch.
    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        lab.forget_side(&self.netns).await;
        // Another's namespace of that name is left alone (and said so).
        ns::clear_netns_name(&self.netns, &lab.alias(KIND, &it.name))
    }
}
