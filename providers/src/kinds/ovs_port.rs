//! `ovs-port`: a link's end on an `openvswitch` net's bridge (a node's interface, the host's,
//! a connection's), with its VLANs: an access port (`tag`) or a trunk (`trunks`). Re-tagging
//! is an update in place. The port carries its mark in `external_ids`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::ovsdb::{self, set};
use crate::{Error, Result};

pub const KIND: &str = "ovs-port";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub bridge: String,
    /// The device (in the lab's namespace) that becomes the port.
    pub port: String,
    /// Access VLAN.
    pub tag: Option<u16>,
    /// Trunked VLANs.
    pub trunks: Vec<u16>,
    /// A patch port's peer (`<connection type="ovs-patch">`): a port of another bridge, no device.
    pub patch_peer: Option<String>,
}

/// A port moves to another bridge or device only by being made anew there.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "bridge" | "port" | "patch_peer")
}

impl Attrs {
    fn interface(&self) -> Value {
        match &self.patch_peer {
            Some(peer) => json!({"name": self.port, "type": "patch", "options": ovsdb::map(&[("peer", peer)])}),
            None => json!({"name": self.port}),
        }
    }

    fn vlans(&self) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert("tag".into(), set(self.tag.iter().map(|t| json!(t)).collect()));
        row.insert("trunks".into(), set(self.trunks.iter().map(|t| json!(t)).collect()));
        row
    }
}

/// The port named `name` if it carries `mark`.
fn ours(db: &mut ovsdb::Ovsdb, name: &str, mark: &str) -> Result<Option<Value>> {
    ovsdb::marked_row(db, "Port", "port", name, mark, &["tag", "trunks"])
}

fn remove(db: &mut ovsdb::Ovsdb, bridge: &str, uuid: &Value) -> Result<()> {
    db.transact(vec![json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]], "mutations": [["ports", "delete", uuid]]})])?;
    Ok(())
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let mut db = super::ovs::db(lab)?;
        let mark = lab.alias(KIND, &it.name);
        if let Some(row) = ours(&mut db, &self.port, &mark)? {
            remove(&mut db, &self.bridge, &row["_uuid"])?;
        }
        let mut row = self.vlans();
        row.insert("name".into(), json!(self.port));
        row.insert("interfaces".into(), json!(["named-uuid", "i"]));
        row.insert("external_ids".into(), ovsdb::map(&[("vnx", &mark)]));
        db.transact(vec![
            json!({"op": "insert", "table": "Interface", "row": self.interface(), "uuid-name": "i"}),
            json!({"op": "insert", "table": "Port", "row": row, "uuid-name": "p"}),
            json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", self.bridge]], "mutations": [["ports", "insert", set(vec![json!(["named-uuid", "p"])])]]}),
        ])?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let Some(snap) = seeing.views.ovs(lab).await? else { return Ok(Seen::Missing) };
        let Some(row) = snap.marked("Port", "port", &self.port, &lab.alias(KIND, &it.name))? else {
            return Ok(Seen::Missing);
        };
        let nums = |v: &Value| -> Vec<u16> { ovsdb::members(v).iter().filter_map(|x| x.as_u64().map(|n| n as u16)).collect() };
        let mut trunks = nums(&row["trunks"]);
        trunks.sort();
        let mut seen = Map::new();
        seen.insert("tag".into(), json!(nums(&row["tag"]).first()));
        seen.insert("trunks".into(), json!(trunks));
        Ok(Seen::Present(seen.into_iter().filter(|(_, v)| !v.is_null()).collect()))
    }

    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        let mut db = super::ovs::db(lab)?;
        if ours(&mut db, &self.port, &lab.alias(KIND, &it.name))?.is_none() {
            return Err(Error::Other(format!("Open vSwitch port {} is gone", self.port)));
        }
        db.transact(vec![json!({"op": "update", "table": "Port", "where": [["name", "==", self.port]], "row": self.vlans()})])?;
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        let Ok(mut db) = super::ovs::db(lab) else { return Ok(()) };
        if let Some(row) = ours(&mut db, &self.port, &lab.alias(KIND, &it.name))? {
            remove(&mut db, &self.bridge, &row["_uuid"])?;
        }
        Ok(())
    }
}
