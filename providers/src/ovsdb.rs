//! A small OVSDB client (RFC 7047): JSON-RPC over the database server's unix socket, one
//! `transact` per change (its operations applied atomically), instead of an `ovs-vsctl` process
//! per object (5–10 ms each; one transaction of 100 ports takes 75 ms). Replies are not framed
//! by newlines: values are read off the stream one after the other; the server's `echo` (its
//! inactivity probe) is answered.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Error, Result};

pub const DB: &str = "Open_vSwitch";

pub struct Ovsdb {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    next: u64,
}

impl Ovsdb {
    pub fn connect(socket: &Path) -> Result<Ovsdb> {
        let s = UnixStream::connect(socket)
            .map_err(|e| Error::io(format!("Open vSwitch's database at {}", socket.display()), e))?;
        s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| Error::io("the OVSDB socket", e))?;
        let reader = BufReader::new(s.try_clone().map_err(|e| Error::io("the OVSDB socket", e))?);
        Ok(Ovsdb { writer: s, reader, next: 1 })
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next;
        self.next += 1;
        let msg = json!({"method": method, "params": params, "id": id});
        self.writer.write_all(msg.to_string().as_bytes()).map_err(|e| Error::io("writing to OVSDB", e))?;
        loop {
            let v: Value = {
                let mut de = serde_json::Deserializer::from_reader(&mut self.reader).into_iter::<Value>();
                match de.next() {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => return Err(Error::Other(format!("reading from OVSDB: {e}"))),
                    None => return Err(Error::Other("OVSDB closed the connection".into())),
                }
            };
            if v["method"] == "echo" {
                let reply = json!({"result": v["params"], "error": null, "id": v["id"]});
                self.writer.write_all(reply.to_string().as_bytes()).map_err(|e| Error::io("writing to OVSDB", e))?;
                continue;
            }
            if v["id"] != json!(id) {
                continue; // a notification: this client monitors nothing
            }
            if !v["error"].is_null() {
                return Err(Error::Other(format!("OVSDB {method}: {}", v["error"])));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Runs `ops` in one transaction on the Open_vSwitch database; each operation's result.
    /// A transaction that writes also counts up `next_cfg`, as ovs-vsctl does: ovs-vswitchd
    /// was seen to keep a port's old trunks after an update of the Port row alone (the port
    /// dropped the VLANs it had been given back) until the next configuration number.
    pub fn transact(&mut self, ops: Vec<Value>) -> Result<Vec<Value>> {
        let n = ops.len();
        let writes = ops.iter().any(|o| o["op"] != "select");
        let mut params = vec![json!(DB)];
        params.extend(ops);
        if writes {
            params.push(
                json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]}),
            );
        }
        let result = self.call("transact", Value::Array(params))?;
        let results = result.as_array().cloned().unwrap_or_default();
        // An operation that failed has an `error`; the transaction's own error comes after them.
        if let Some(e) = results.iter().find(|r| r.get("error").is_some_and(|e| !e.is_null())) {
            return Err(Error::Other(format!(
                "OVSDB transaction: {} {}",
                e["error"],
                e.get("details").unwrap_or(&Value::Null)
            )));
        }
        if results.len() < n {
            return Err(Error::Other(format!("OVSDB transaction: {n} operations, {} results", results.len())));
        }
        Ok(results)
    }

    /// The rows of `table` with `columns` (one `select`), all of them or those named `name`.
    pub fn select(&mut self, table: &str, name: Option<&str>, columns: &[&str]) -> Result<Vec<Value>> {
        let cond: Vec<Value> = name.iter().map(|n| json!(["name", "==", n])).collect();
        let r = self.transact(vec![json!({"op": "select", "table": table, "where": cond, "columns": columns})])?;
        Ok(r[0]["rows"].as_array().cloned().unwrap_or_default())
    }
}

/// The switch's bridges, ports, interfaces and controllers, read in one transaction: what a
/// refresh reads of every bridge and port of the lab, once.
#[derive(Default)]
pub struct Snapshot {
    rows: std::collections::HashMap<(&'static str, String), Value>,
    controllers: std::collections::HashMap<String, String>,
}

impl Snapshot {
    pub fn read(db: &mut Ovsdb) -> Result<Snapshot> {
        let tables = ["Bridge", "Port", "Interface"];
        let mut ops: Vec<Value> = tables.iter().map(|t| json!({"op": "select", "table": t, "where": []})).collect();
        ops.push(json!({"op": "select", "table": "Controller", "where": [], "columns": ["_uuid", "target"]}));
        let r = db.transact(ops)?;
        let mut snap = Snapshot::default();
        for (i, t) in tables.iter().enumerate() {
            for row in r[i]["rows"].as_array().into_iter().flatten() {
                if let Some(name) = row["name"].as_str() {
                    snap.rows.insert((t, name.to_string()), row.clone());
                }
            }
        }
        for row in r[3]["rows"].as_array().into_iter().flatten() {
            if let (Some(uuid), Some(target)) = (row["_uuid"].get(1).and_then(Value::as_str), row["target"].as_str()) {
                snap.controllers.insert(uuid.to_string(), target.to_string());
            }
        }
        Ok(snap)
    }

    /// The row of `table` named `name`, as [`marked_row`] says of it.
    pub fn marked(&self, table: &'static str, what: &str, name: &str, mark: &str) -> Result<Option<&Value>> {
        let Some(row) = self.rows.get(&(table, name.to_string())) else { return Ok(None) };
        if map_get(&row["external_ids"], "vnx") != Some(mark) {
            return Err(Error::Other(format!(
                "Open vSwitch {what} {name} is not this lab's (no vnx mark): left alone"
            )));
        }
        Ok(Some(row))
    }

    /// The row of `table` named `name`, whoever's it is.
    pub fn row(&self, table: &'static str, name: &str) -> Option<&Value> {
        self.rows.get(&(table, name.to_string()))
    }

    /// The target of the controller row `uuid` (`["uuid", "…"]`).
    pub fn controller(&self, uuid: &Value) -> Option<&str> {
        self.controllers.get(uuid.get(1)?.as_str()?).map(String::as_str)
    }
}

/// The row of `table` named `name` (its `_uuid`, `external_ids` and `columns`) when it carries
/// vnx's `mark`; none when there is no such row; an error, naming `what` the row is, when one
/// of that name is not vnx's (it is left alone).
pub fn marked_row(
    db: &mut Ovsdb,
    table: &str,
    what: &str,
    name: &str,
    mark: &str,
    columns: &[&str],
) -> Result<Option<Value>> {
    let mut cols = vec!["_uuid", "name", "external_ids"];
    cols.extend_from_slice(columns);
    let Some(row) = db.select(table, Some(name), &cols)?.into_iter().next() else { return Ok(None) };
    if map_get(&row["external_ids"], "vnx") != Some(mark) {
        return Err(Error::Other(format!("Open vSwitch {what} {name} is not this lab's (no vnx mark): left alone")));
    }
    Ok(Some(row))
}

/// An OVSDB set of `items` (a bare value when there is one, as the protocol allows).
pub fn set(items: Vec<Value>) -> Value {
    json!(["set", items])
}

/// A string map.
pub fn map(pairs: &[(&str, &str)]) -> Value {
    json!(["map", pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
}

/// The members of an OVSDB set value (a bare atom is a set of one).
pub fn members(v: &Value) -> Vec<Value> {
    match v.as_array() {
        Some(a) if a.len() == 2 && a[0] == "set" => a[1].as_array().cloned().unwrap_or_default(),
        _ => vec![v.clone()],
    }
}

/// The value of `key` in an OVSDB map value.
pub fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.as_array()?.get(1)?.as_array()?.iter().find(|p| p[0] == key)?.get(1)?.as_str()
}
