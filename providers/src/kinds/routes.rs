//! `routes`: a node's static routes (IPv4 and IPv6, as the kernel shows them).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{kept, Item, Lab, Seeing, Seen};
use crate::netlink::Netlink;
use crate::{ns, Error, Result};

pub const KIND: &str = "routes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub node: String,
    pub routes: Vec<Route>,
}

/// One route: a destination in network form (or `default`) and a gateway.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Route {
    pub to: String,
    pub gw: String,
}

/// Routes change in place.
pub fn forces_replacement(_attr: &str) -> bool {
    false
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, _: &Item) -> Result<Value> {
        let nl = lab.nl(&self.node).await?;
        // Kept for the node's next start (its links go down when it shuts off, and the kernel
        // drops the routes through them).
        lab.keep(&self.node, kept::ROUTES, Some(&self.routes))?;
        sync(&nl, &[], &self.routes).await?;
        Ok(json!({}))
    }

    async fn read(self, _: &Lab, _: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        // A shut-off node's routes went with its links; they come back when it starts.
        let node = seeing.views.nodes.get(&self.node);
        if node.is_some_and(|n| n.run == Some(ns::SHUTOFF)) {
            return Ok(Seen::Present(Map::new()));
        }
        let Some(view) = node.and_then(|n| n.view.clone()) else { return Ok(Seen::Missing) };
        Ok(Seen::Present([("routes".to_string(), seen(&view.routes, &self.routes))].into_iter().collect()))
    }

    async fn update(self, was: Self, lab: &Lab, _: &Item) -> Result<Value> {
        let nl = lab.nl(&self.node).await?;
        lab.keep(&self.node, kept::ROUTES, Some(&self.routes))?;
        sync(&nl, &was.routes, &self.routes).await?;
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, _: &Item) -> Result<()> {
        if let Ok(nl) = lab.nl(&self.node).await {
            sync(&nl, &self.routes, &[]).await?;
        }
        lab.keep::<()>(&self.node, kept::ROUTES, None)
    }
}

/// A route in the kernel's terms: destination (`default` made explicit) and gateway.
fn route_of(r: &Route) -> Result<(IpNet, IpAddr)> {
    let to = r.to.as_str();
    let gw: IpAddr = r.gw.parse().map_err(|e| Error::Other(format!("gateway {}: {e}", r.gw)))?;
    let dest = if to == "default" {
        if gw.is_ipv4() {
            "0.0.0.0/0".parse().expect("literal")
        } else {
            "::/0".parse().expect("literal")
        }
    } else {
        to.parse().map_err(|e| Error::Other(format!("{to}: {e}")))?
    };
    Ok((dest, gw))
}

fn route_key(dest: &IpNet, gw: &IpAddr) -> String {
    let to = if dest.prefix_len() == 0 { "default".to_string() } else { dest.trunc().to_string() };
    json!({"to": to, "gw": gw.to_string()}).to_string()
}

/// Changes the routes of `nl`'s namespace from `old` to `new`.
pub(crate) async fn sync(nl: &Netlink, old: &[Route], new: &[Route]) -> Result<()> {
    let new_keys: BTreeSet<String> =
        new.iter().filter_map(|r| route_of(r).ok()).map(|(d, g)| route_key(&d, &g)).collect();
    for r in old {
        let (d, g) = route_of(r)?;
        if !new_keys.contains(&route_key(&d, &g)) {
            nl.del_route(d, g).await?;
        }
    }
    for r in new {
        let (d, g) = route_of(r)?;
        nl.add_route(d, g).await?;
    }
    Ok(())
}

/// The recorded routes as the kernel shows them: all of them when all are there.
pub(crate) fn seen(routes: &[crate::netlink::Route], recorded: &[Route]) -> Value {
    let have: BTreeSet<String> = routes.iter().map(|r| route_key(&r.dest, &r.gw)).collect();
    let want: BTreeSet<String> =
        recorded.iter().filter_map(|r| route_of(r).ok()).map(|(d, g)| route_key(&d, &g)).collect();
    // Only our routes count: a route someone else added is not drift, ours missing is.
    if want.is_subset(&have) {
        json!(recorded)
    } else {
        let present: Vec<Route> = recorded
            .iter()
            .filter(|r| route_of(r).is_ok_and(|(d, g)| have.contains(&route_key(&d, &g))))
            .cloned()
            .collect();
        json!(present)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(to: &str, gw: &str) -> Route {
        Route { to: to.into(), gw: gw.into() }
    }

    fn kernel(dest: &str, gw: &str) -> crate::netlink::Route {
        crate::netlink::Route { dest: dest.parse().unwrap(), gw: gw.parse().unwrap() }
    }

    #[test]
    fn default_and_networks_read_as_the_kernel_shows_them() {
        assert_eq!(route_of(&r("default", "10.0.0.1")).unwrap().0.to_string(), "0.0.0.0/0");
        assert_eq!(route_of(&r("default", "fd00::1")).unwrap().0.to_string(), "::/0");
        assert!(route_of(&r("10.1.0.0/16", "nowhere")).is_err());
        // A host part in the scenario's network is the kernel's network all the same.
        let (d, g) = route_of(&r("10.1.2.3/16", "10.0.0.1")).unwrap();
        assert_eq!(route_key(&d, &g), route_key(&"10.1.0.0/16".parse().unwrap(), &g));
    }

    #[test]
    fn only_our_missing_routes_are_drift() {
        let ours = [r("default", "10.0.0.1"), r("10.2.0.0/16", "10.0.0.2")];
        let all = [kernel("0.0.0.0/0", "10.0.0.1"), kernel("10.2.0.0/16", "10.0.0.2"), kernel("10.9.0.0/16", "10.0.0.9")];
        assert_eq!(seen(&all, &ours), json!(ours), "someone else's route is not drift");
        assert_eq!(seen(&all[1..], &ours), json!([ours[1]]), "our default route is missing");
    }
}
