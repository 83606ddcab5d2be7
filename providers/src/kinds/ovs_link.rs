//! `ovs-link`: a veth pair inside the lab's namespace joining two switches
//! (`<connection type="veth">`); each end becomes a port (`ovs-port`) of its net's bridge.
//! Everything in the lab's namespace is the lab's, by where it is.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::Result;

pub const KIND: &str = "ovs-link";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// The lab's network namespace.
    pub netns: String,
    /// The ends' names.
    pub a: String,
    pub b: String,
}

pub fn forces_replacement(_attr: &str) -> bool {
    true
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let side = lab.side(Some(&self.netns)).await?;
        for end in [&self.a, &self.b] {
            if let Some(l) = side.link_by_name(end).await? {
                side.del_link(l.index).await?;
            }
        }
        side.add_veth(&self.a, &self.b, None, None, None, lab.group()).await?;
        for end in [&self.a, &self.b] {
            lab.set_up_link(&side, end, LinkChange { up: Some(true), ..Default::default() }).await?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let Ok(side) = lab.side(Some(&self.netns)).await else { return Ok(Seen::Missing) };
        let both = side.link_by_name(&self.a).await?.is_some() && side.link_by_name(&self.b).await?.is_some();
        Ok(if both { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        let Ok(side) = lab.side(Some(&self.netns)).await else { return Ok(()) };
        if let Some(l) = side.link_by_name(&self.a).await? {
            side.del_link(l.index).await?;
        }
        Ok(())
    }
}
