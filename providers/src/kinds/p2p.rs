//! `p2p`: a point-to-point link (VNX's `veth` net): one veth pair, an end in each node.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{parse_mac, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::Result;

pub const KIND: &str = "p2p";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub a: End,
    pub b: End,
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub node: String,
    pub ifname: String,
    pub mac: Option<String>,
}

/// A veth pair is made whole: any change makes it anew.
pub fn forces_replacement(_attr: &str) -> bool {
    true
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let (ea, eb) = (&self.a, &self.b);
        let (ia, ib) = (ea.ifname.as_str(), eb.ifname.as_str());
        let (nla, nlb) = (lab.nl(&ea.node).await?, lab.nl(&eb.node).await?);
        lab.clear_way(&nla, false, ia, KIND, &it.name).await?;
        lab.clear_way(&nlb, false, ib, KIND, &it.name).await?;
        let fd_b = lab.netns(&eb.node)?;
        nla.add_veth(ia, ib, Some(&fd_b), eb.mac.as_deref().and_then(parse_mac), None, lab.group()).await?;
        let alias = Some(lab.alias(KIND, &it.name));
        let a_end = LinkChange {
            up: Some(self.up),
            mac: ea.mac.as_deref().and_then(parse_mac),
            alias: alias.clone(),
            ..Default::default()
        };
        lab.set_up_link(&nla, ia, a_end).await?;
        lab.set_up_link(&nlb, ib, LinkChange { up: Some(self.up), alias, ..Default::default() }).await?;
        Ok(json!({}))
    }

    async fn read(self, _: &Lab, _: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let Some(view) = seeing.views.node_view(&self.a.node) else { return Ok(Seen::Missing) };
        let there = view.links.iter().any(|l| l.name == self.a.ifname);
        Ok(if there { Seen::Present(Map::new()) } else { Seen::Missing })
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        if let Ok(nl) = lab.nl(&self.a.node).await {
            if let Some(l) = nl.link_by_name(&self.a.ifname).await? {
                nl.del_link(l.index).await?;
            }
        }
        Ok(())
    }
}
