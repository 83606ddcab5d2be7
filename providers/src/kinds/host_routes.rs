//! `host-routes`: the host's routes to the lab and its forwarding (VNX's `<host><route>`,
//! `<forwarding>`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{routes, Ops};
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::{Error, Result};

pub use super::routes::Route;

pub const KIND: &str = "host-routes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub routes: Vec<Route>,
    pub forward_ipv4: bool,
    pub forward_ipv6: bool,
}

/// Changed in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        routes::sync(lab.host(), &[], &self.routes).await?;
        // Like VNX, forwarding on the host is switched on and never reverted.
        if self.forward_ipv4 {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| Error::io("ip_forward", e))?;
        }
        if self.forward_ipv6 {
            std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
                .map_err(|e| Error::io("ipv6 forwarding", e))?;
        }
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, _: &Item, _: &Seeing<'_>) -> Result<Seen> {
        let now = routes::seen(&lab.host().routes().await?, &self.routes);
        Ok(Seen::Present([("routes".to_string(), now)].into_iter().collect()))
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        routes::sync(lab.host(), &was.routes, &self.routes).await?;
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        routes::sync(lab.host(), &self.routes, &[]).await
    }
}
