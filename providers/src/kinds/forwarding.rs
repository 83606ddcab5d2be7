//! `forwarding`: whether a node forwards IPv4 and IPv6 (VNX's `<forwarding>`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{ns, Result};

pub const KIND: &str = "forwarding";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub ipv4: bool,
    pub ipv6: bool,
}

/// Sysctls, changed in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let b = |on: bool| if on { "1" } else { "0" };
        ns::set_net_sysctl(lab.netns(&self.node)?, "net/ipv4/ip_forward", b(self.ipv4))?;
        ns::set_net_sysctl(lab.netns(&self.node)?, "net/ipv6/conf/all/forwarding", b(self.ipv6))?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        if lab.netns(&self.node).is_err() {
            return Ok(Seen::Missing);
        }
        let v4 = ns::get_net_sysctl(lab.netns(&self.node)?, "net/ipv4/ip_forward")? == "1";
        let v6 = ns::get_net_sysctl(lab.netns(&self.node)?, "net/ipv6/conf/all/forwarding")? == "1";
        Ok(Seen::Present([("ipv4".to_string(), json!(v4)), ("ipv6".to_string(), json!(v6))].into_iter().collect()))
    }

    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        self.create(lab, it).await
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        if let Ok(netns) = lab.netns(&self.node) {
            ns::set_net_sysctl(netns, "net/ipv4/ip_forward", "0")?;
            ns::set_net_sysctl(lab.netns(&self.node)?, "net/ipv6/conf/all/forwarding", "0")?;
        }
        Ok(())
    }
}
