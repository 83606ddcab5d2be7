//! `conditions`: an interface's link conditions (VNX's bw, delay, loss) as `tc` qdiscs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{ns, Error, Result};

pub const KIND: &str = "conditions";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ifname: String,
    pub bw: Option<String>,
    pub delay: Option<String>,
    pub loss: Option<String>,
    /// The `tc` commands (arguments after `tc`) that give them.
    pub tc: Vec<Vec<String>>,
}

/// The qdiscs are replaced in place; another interface is another resource.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "node" | "ifname")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        for args in &self.tc {
            ns::run_in_netns(lab.netns(&self.node)?, "tc", args).map_err(|e| {
                let e = e.to_string();
                if e.contains("qdisc kind is unknown") && args.iter().any(|a| a == "netem") {
                    Error::Other(format!("this kernel has no netem qdisc (module sch_netem): delay and loss cannot be applied here ({e})"))
                } else {
                    Error::Other(e)
                }
            })?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        Ok(match lab.netns(&self.node) {
            Ok(_) => Seen::Present(Map::new()),
            Err(_) => Seen::Missing,
        })
    }

    /// `tc qdisc replace`: setting them again is the change.
    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        self.create(lab, it).await
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        if let Ok(netns) = lab.netns(&self.node) {
            let del = ["qdisc", "del", "dev", &self.ifname, "root"].map(String::from);
            let _ = ns::run_in_netns(netns, "tc", &del);
        }
        Ok(())
    }
}
