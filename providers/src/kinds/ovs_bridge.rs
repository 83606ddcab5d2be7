//! `ovs-bridge`: an `openvswitch` net's bridge in the lab's Open vSwitch (`ovs`), with VNX's
//! settings: STP, fail mode, OpenFlow versions, a fixed MAC (and datapath id), controllers.
//! Written and read back through OVSDB, one transaction each; the bridge carries its mark in
//! `external_ids`, and one without it is never changed or removed.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Ops;
use crate::lab::{Item, Lab, Seeing, Seen};
use crate::ovsdb::{self, set};
use crate::{Error, Result};

pub const KIND: &str = "ovs-bridge";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    pub bridge: String,
    /// `netdev` (userspace) or `system` (the kernel's).
    pub datapath: String,
    pub stp: bool,
    /// `secure` or `standalone`; Open vSwitch's default (standalone) when none.
    pub fail_mode: Option<String>,
    /// OpenFlow versions (`OpenFlow13`, …).
    pub protocols: Vec<String>,
    pub hwaddr: Option<String>,
    /// `tcp:HOST:PORT`, …
    pub controllers: Vec<String>,
    /// The MTU of the bridge's own port (VNX's `mtu` on the net; its ports get it with their
    /// links).
    pub mtu: Option<u64>,
    /// The lab's network namespace (where the bridge's own port is).
    pub netns: String,
    /// An address for the bridge's own port, on the subnet of a controller that is a node on
    /// this net: the switch reaches it in band, through its own ports (Open vSwitch's hidden
    /// in-band flows let that traffic through even in secure mode).
    pub local_addr: Option<String>,
}

/// A bridge's name and datapath make it; the rest changes in place.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "bridge" | "datapath" | "netns")
}

/// Gives the bridge's own port (a device Open vSwitch makes, a moment after the bridge) its
/// address, up.
async fn local_port(lab: &Lab, a: &Attrs) -> Result<()> {
    let Some(addr) = &a.local_addr else { return Ok(()) };
    let side = lab.side(Some(&a.netns)).await?;
    for _ in 0..250 {
        if side.link_by_name(&a.bridge).await?.is_some() {
            lab.set_up_link(&side, &a.bridge, crate::netlink::LinkChange { up: Some(true), ..Default::default() }).await?;
            return lab.sync_addrs(&side, &a.bridge, &crate::lab::nets(std::slice::from_ref(addr))?).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(Error::Other(format!("Open vSwitch did not make bridge {}'s own port", a.bridge)))
}

impl Attrs {
    /// The Bridge row's settable columns.
    fn row(&self) -> Map<String, Value> {
        let mut other = vec![];
        let dpid;
        if let Some(mac) = &self.hwaddr {
            dpid = format!("0000{}", mac.replace(':', ""));
            other.push(("hwaddr", mac.as_str()));
            other.push(("datapath-id", dpid.as_str()));
        }
        let mut row = Map::new();
        row.insert("stp_enable".into(), json!(self.stp));
        row.insert("fail_mode".into(), set(self.fail_mode.iter().map(|m| json!(m)).collect()));
        row.insert("protocols".into(), set(self.protocols.iter().map(|p| json!(p)).collect()));
        row.insert("other_config".into(), ovsdb::map(&other));
        row
    }
}

/// The bridge named `name` if it carries `mark`.
fn ours(db: &mut ovsdb::Ovsdb, name: &str, mark: &str) -> Result<Option<Value>> {
    ovsdb::marked_row(db, "Bridge", "bridge", name, mark, &["stp_enable", "fail_mode", "protocols", "other_config", "controller"])
}

/// The operation that removes the bridge `uuid` (and with it its ports, which nothing else holds).
fn remove(uuid: &Value) -> Value {
    json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["bridges", "delete", uuid]]})
}

/// The operations that give the bridge `named` (a named-uuid or a uuid reference) `controllers`
/// (a relay's as its socket in the switch's directory `dir`).
fn controller_ops(dir: &std::path::Path, bridge: &str, controllers: &[String]) -> Vec<Value> {
    let mut ops = vec![];
    let mut refs = vec![];
    for (i, c) in controllers.iter().enumerate() {
        let name = format!("c{i}");
        let target = super::ovs_relay::target(dir, c);
        ops.push(json!({"op": "insert", "table": "Controller", "row": {"target": target}, "uuid-name": name}));
        refs.push(json!(["named-uuid", name]));
    }
    ops.push(json!({"op": "update", "table": "Bridge", "where": [["name", "==", bridge]], "row": {"controller": set(refs)}}));
    ops
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let mut db = super::ovs::db(lab)?;
        let mark = lab.alias(KIND, &it.name);
        if let Some(row) = ours(&mut db, &self.bridge, &mark)? {
            // A leftover of an interrupted create: made anew.
            db.transact(vec![remove(&row["_uuid"])])?;
        }
        let mut row = self.row();
        row.insert("name".into(), json!(self.bridge));
        row.insert("datapath_type".into(), json!(self.datapath));
        row.insert("external_ids".into(), ovsdb::map(&[("vnx", &mark)]));
        row.insert("ports".into(), json!(["named-uuid", "p"]));
        let mut ops = vec![
            json!({"op": "insert", "table": "Interface", "row": {"name": self.bridge, "type": "internal", "mtu_request": set(self.mtu.iter().map(|m| json!(m)).collect())}, "uuid-name": "i"}),
            json!({"op": "insert", "table": "Port", "row": {"name": self.bridge, "interfaces": ["named-uuid", "i"]}, "uuid-name": "p"}),
            json!({"op": "insert", "table": "Bridge", "row": row, "uuid-name": "b"}),
            json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["bridges", "insert", set(vec![json!(["named-uuid", "b"])])]]}),
        ];
        ops.extend(controller_ops(&lab.ovs_dir()?, &self.bridge, &self.controllers));
        db.transact(ops)?;
        local_port(lab, &self).await?;
        Ok(json!({}))
    }

    async fn read(self, lab: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let Some(snap) = seeing.views.ovs(lab).await? else { return Ok(Seen::Missing) };
        let Some(row) = snap.marked("Bridge", "bridge", &self.bridge, &lab.alias(KIND, &it.name))? else {
            return Ok(Seen::Missing);
        };
        let strings = |v: &Value| -> Vec<String> { ovsdb::members(v).iter().filter_map(|x| x.as_str().map(String::from)).collect() };
        let mut seen = Map::new();
        seen.insert("stp".into(), json!(row["stp_enable"] == true));
        seen.insert("fail_mode".into(), json!(strings(&row["fail_mode"]).into_iter().next()));
        let mut protocols = strings(&row["protocols"]);
        protocols.sort();
        let mut want = self.protocols.clone();
        want.sort();
        // Order is not the bridge's: the same set is no drift.
        seen.insert("protocols".into(), json!(if protocols == want { self.protocols.clone() } else { protocols }));
        seen.insert("hwaddr".into(), json!(ovsdb::map_get(&row["other_config"], "hwaddr")));
        let own = snap.row("Interface", &self.bridge);
        seen.insert("mtu".into(), json!(own.and_then(|i| ovsdb::members(&i["mtu_request"]).first().and_then(|m| m.as_u64()))));
        let dir = lab.ovs_dir()?;
        let controllers: Vec<String> = ovsdb::members(&row["controller"])
            .iter()
            .filter_map(|u| snap.controller(u))
            .map(|t| super::ovs_relay::controller(&dir, t))
            .collect();
        let same = controllers.len() == self.controllers.len() && controllers.iter().all(|c| self.controllers.contains(c));
        seen.insert("controllers".into(), json!(if same { self.controllers.clone() } else { controllers }));
        Ok(Seen::Present(seen.into_iter().filter(|(_, v)| !v.is_null()).collect()))
    }

    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        let mut db = super::ovs::db(lab)?;
        if ours(&mut db, &self.bridge, &lab.alias(KIND, &it.name))?.is_none() {
            return Err(Error::Other(format!("Open vSwitch bridge {} is gone", self.bridge)));
        }
        let mut ops = vec![
            json!({"op": "update", "table": "Bridge", "where": [["name", "==", self.bridge]], "row": self.row()}),
            json!({"op": "update", "table": "Interface", "where": [["name", "==", self.bridge]], "row": {"mtu_request": set(self.mtu.iter().map(|m| json!(m)).collect())}}),
        ];
        ops.extend(controller_ops(&lab.ovs_dir()?, &self.bridge, &self.controllers));
        db.transact(ops)?;
        if self.local_addr.is_none() {
            let side = lab.side(Some(&self.netns)).await?;
            if side.link_by_name(&self.bridge).await?.is_some() {
                lab.sync_addrs(&side, &self.bridge, &[]).await?;
            }
        }
        local_port(lab, &self).await?;
        Ok(json!({}))
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        let Ok(mut db) = super::ovs::db(lab) else { return Ok(()) }; // the switch is gone, and its bridges with it
        if let Some(row) = ours(&mut db, &self.bridge, &lab.alias(KIND, &it.name))? {
            db.transact(vec![remove(&row["_uuid"])])?;
        }
        Ok(())
    }
}
