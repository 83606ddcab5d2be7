//! vnx's recorded state: what vnx built, kept in one SQLite database per host.
//!
//! Tables (see `MIGRATIONS`): `scenarios` (each applied scenario and its recorded desired
//! text), `serials` (per scenario, a serial that moves on every change), `resources` (identity = scenario, host, kind, name; the
//! provider; the attributes as built; a status; runtime facts such as a node's init pid),
//! `journal` (every action started and finished, with its error), `applies` (the history, with
//! each plan), `locks` (one holder per scenario) and `ledgers` (cluster labs driven from here).
//!
//! Invariants: the database is opened in WAL mode with mode 0600; every finished action is
//! written before anything that depends on it starts (the engine's job, through this API); a
//! lock whose holder process is gone from this host can be taken over.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state database {path}: {source}")]
    Db { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the state directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("state database {path} cannot be trusted: {why}")]
    Untrusted { path: PathBuf, why: String },
    #[error("scenario `{scenario}` is locked by {holder}")]
    Locked { scenario: String, holder: String },
    #[error("no lock with id {0}")]
    NoSuchLock(String),
    #[error("bad data in the state database: {0}")]
    Data(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Versioned migrations: `PRAGMA user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE scenarios (
    name        TEXT PRIMARY KEY,
    source      TEXT NOT NULL,          -- the scenario file it came from, as given
    format      TEXT NOT NULL,          -- xml | yaml
    desired     TEXT NOT NULL,          -- the recorded desired scenario (YAML)
    serial      INTEGER NOT NULL DEFAULT 0,
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL
);
CREATE TABLE resources (
    scenario    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    attrs       TEXT NOT NULL,          -- JSON: the attributes as built
    deps        TEXT NOT NULL,          -- JSON: [[kind, name], ...]
    status      TEXT NOT NULL,          -- ok | creating | updating | deleting
    runtime     TEXT NOT NULL,          -- JSON: facts of the running object (pid, ...)
    updated     TEXT NOT NULL,
    PRIMARY KEY (scenario, kind, name)
);
CREATE TABLE journal (
    id          INTEGER PRIMARY KEY,
    apply_id    INTEGER NOT NULL,
    scenario    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    action      TEXT NOT NULL,          -- create | update | delete
    started     TEXT NOT NULL,
    finished    TEXT,
    error       TEXT
);
CREATE TABLE applies (
    id          INTEGER PRIMARY KEY,
    scenario    TEXT NOT NULL,
    command     TEXT NOT NULL,          -- apply | destroy | modify
    started     TEXT NOT NULL,
    finished    TEXT,
    status      TEXT NOT NULL,          -- running | ok | failed | interrupted
    plan        TEXT NOT NULL,          -- JSON
    summary     TEXT
);
CREATE TABLE locks (
    scenario    TEXT PRIMARY KEY,
    id          TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    operation   TEXT NOT NULL,
    since       TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE node_runs (
    scenario    TEXT NOT NULL,
    node        TEXT NOT NULL,
    run         TEXT NOT NULL,          -- shutoff | paused | saved: what the user asked for
    PRIMARY KEY (scenario, node)
);
"#,
    // The serial moves on with every recorded change. In the scenario's row, each move
    // rewrote the whole row, texts included: hundreds of KB per resource at 1000 nodes.
    // (`scenarios.serial` and `scenarios.updated` stay, no longer kept up.)
    r#"
CREATE TABLE serials (
    scenario    TEXT PRIMARY KEY,
    serial      INTEGER NOT NULL,
    updated     TEXT NOT NULL
);
INSERT INTO serials (scenario, serial, updated) SELECT name, serial, updated FROM scenarios;
"#,
    // A resource lives on a host: its identity says which ('' is the host vnx runs on), so that
    // one scenario's net can have a bridge on each of several hosts. Rows keep their order.
    r#"
CREATE TABLE resources_by_host (
    scenario    TEXT NOT NULL,
    host        TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    attrs       TEXT NOT NULL,          -- JSON: the attributes as built
    deps        TEXT NOT NULL,          -- JSON: [[kind, name] or [kind, name, host], ...]
    status      TEXT NOT NULL,          -- ok | creating | updating | deleting
    runtime     TEXT NOT NULL,          -- JSON: facts of the running object (pid, ...)
    updated     TEXT NOT NULL,
    PRIMARY KEY (scenario, host, kind, name)
);
INSERT INTO resources_by_host (scenario, host, kind, name, provider, attrs, deps, status, runtime, updated)
    SELECT scenario, '', kind, name, provider, attrs, deps, status, runtime, updated FROM resources ORDER BY rowid;
DROP TABLE resources;
ALTER TABLE resources_by_host RENAME TO resources;
ALTER TABLE journal ADD COLUMN host TEXT NOT NULL DEFAULT '';
"#,
    // A cluster lab's ledger, on the machine that drives it: the cluster file, the placement,
    // the VNIs, what each host holds (JSON). Each host keeps its own part in `resources`.
    r#"
CREATE TABLE ledgers (
    scenario    TEXT PRIMARY KEY,
    ledger      TEXT NOT NULL,
    updated     TEXT NOT NULL
);
"#,
];

/// A scenario's row with its serial.
const SCENARIO_ROW: &str = "SELECT s.name, s.source, s.format, s.desired, COALESCE(x.serial, 0), s.created,
     COALESCE(x.updated, s.updated) FROM scenarios s LEFT JOIN serials x ON x.scenario = s.name";

/// A scenario as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRow {
    pub name: String,
    pub source: String,
    pub format: String,
    pub desired: String,
    pub serial: i64,
    pub created: String,
    pub updated: String,
}

/// A resource's identity within its scenario: the host it lives on (`""`: the one vnx runs
/// on), its kind and name. As a dependency it is written `[kind, name]`, or `[kind, name,
/// host]` on another host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub host: String,
    pub kind: String,
    pub name: String,
}

impl Key {
    pub fn new(host: &str, kind: &str, name: &str) -> Key {
        Key { host: host.into(), kind: kind.into(), name: name.into() }
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.host.is_empty() {
            [&self.kind, &self.name].serialize(s)
        } else {
            [&self.kind, &self.name, &self.host].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Key, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        match <[String; 2]>::try_from(v) {
            Ok([kind, name]) => Ok(Key { host: String::new(), kind, name }),
            Err(v) => match <[String; 3]>::try_from(v) {
                Ok([kind, name, host]) => Ok(Key { host, kind, name }),
                Err(v) => Err(serde::de::Error::invalid_length(v.len(), &"[kind, name] or [kind, name, host]")),
            },
        }
    }
}

/// A resource as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRow {
    pub scenario: String,
    /// The host it lives on (`""`: the one vnx runs on).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub kind: String,
    pub name: String,
    pub provider: String,
    pub attrs: Value,
    pub deps: Vec<Key>,
    pub status: String,
    pub runtime: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyRow {
    pub id: i64,
    pub scenario: String,
    pub command: String,
    pub started: String,
    pub finished: Option<String>,
    pub status: String,
    pub plan: Value,
    pub summary: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalRow {
    pub id: i64,
    pub apply_id: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub kind: String,
    pub name: String,
    pub action: String,
    pub started: String,
    pub finished: Option<String>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockRow {
    pub scenario: String,
    pub id: String,
    pub pid: i64,
    pub host: String,
    pub operation: String,
    pub since: String,
}

impl LockRow {
    pub fn describe(&self) -> String {
        format!("{} (pid {} on {}, since {}, lock id {})", self.operation, self.pid, self.host, self.since, self.id)
    }
}

/// The current time, UTC, RFC 3339 with milliseconds.
pub fn now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The database path when none is given: `$VNX_STATE`, else `/var/lib/vnx/state.db`.
pub fn default_path() -> PathBuf {
    match std::env::var_os("VNX_STATE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/var/lib/vnx/state.db"),
    }
}

/// The state files (device, inode) this process found whole ([`State::open`]).
static CHECKED: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// How much of the state's file SQLite reads through a map of it (the whole of any state seen:
/// a 10,000-node lab's, with its history, is some 70 MB).
const MMAP_SIZE: i64 = 1 << 30;

pub struct State {
    conn: Connection,
    path: PathBuf,
}

/// A text column's value as SQLite holds it (borrowed: no copy).
fn text<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

impl State {
    /// Opens (creating when needed) the database at `path` and brings its schema up to date.
    /// Opens the state database, making it (mode 0600, in a directory made 0700 whatever the
    /// umask) when there is none. **Refuses what cannot be trusted**: an existing file of zero
    /// bytes (a truncated database would otherwise read as "nothing applied", and running labs
    /// would be forgotten), a file that is not a database, and one that fails SQLite's
    /// `quick_check` (a damaged page would otherwise read as missing rows).
    pub fn open(path: &Path) -> Result<State> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
        let untrusted = |why: String| Error::Untrusted { path: path.to_path_buf(), why };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
                .map_err(|source| Error::Dir { path: dir.to_path_buf(), source })?;
        }
        match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => {
                return Err(untrusted(
                    "it is empty (0 bytes), so it records nothing, not even that nothing is applied. Restore \
                     it from a copy, or remove it if no lab of it runs"
                        .into(),
                ))
            }
            Ok(_) => {}
            Err(_) => {
                // Made here with its mode from the start (never readable by others, even briefly).
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|source| Error::Dir { path: path.to_path_buf(), source })?;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
        let db = |source| Error::Db { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(db)?;
        // Pages read from a map of the file rather than copied in by a `pread` each: a
        // 10,000-node lab's record is 15,000 pages, read whole by the check below and by each
        // plan. (Writes still go through the file.) Only a speed-up: a file that is not a
        // database is refused by the check, with its reason.
        let _ = conn.pragma_update(None, "mmap_size", MMAP_SIZE);
        // Once per file and process: a command opens the state more than once, and the check
        // reads the whole file (37 ms for a 10,000-node lab's).
        let file = std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok();
        let checked = || CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none_or(|f| !checked().contains(&f)) {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| untrusted(format!("{e} (restore it from a copy)")))?;
            if check != "ok" {
                return Err(untrusted(format!("SQLite finds it damaged ({check}); restore it from a copy")));
            }
            checked().extend(file);
        }
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let mut s = State { conn, path: path.to_path_buf() };
        s.migrate()?;
        Ok(s)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self, source: rusqlite::Error) -> Error {
        Error::Db { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| self.db(e))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(|e| Error::Db { path: self.path.clone(), source: e })?;
            tx.execute_batch(m).map_err(|e| Error::Db { path: self.path.clone(), source: e })?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| Error::Db { path: self.path.clone(), source: e })?;
            tx.commit().map_err(|e| Error::Db { path: self.path.clone(), source: e })?;
        }
        Ok(())
    }

    /// Runs `f` in one transaction (one commit for many writes); rolled back when `f` fails.
    pub fn transaction<T>(&self, f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.db(e))?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.db(e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    // ---- scenarios ----

    pub fn scenario(&self, name: &str) -> Result<Option<ScenarioRow>> {
        self.conn
            .query_row(&format!("{SCENARIO_ROW} WHERE s.name = ?1"), [name], scenario_row)
            .optional()
            .map_err(|e| self.db(e))
    }

    pub fn scenarios(&self) -> Result<Vec<ScenarioRow>> {
        let mut st = self.conn.prepare(&format!("{SCENARIO_ROW} ORDER BY s.name")).map_err(|e| self.db(e))?;
        let rows = st.query_map([], scenario_row).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.db(e))
    }

    /// Records the desired scenario (creating its row when new) and moves its serial on.
    pub fn put_scenario(&self, name: &str, source: &str, format: &str, desired: &str) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO scenarios (name, source, format, desired, serial, created, updated)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)
                 ON CONFLICT(name) DO UPDATE SET source = ?2, format = ?3, desired = ?4, updated = ?5",
                params![name, source, format, desired, t],
            )
            .map_err(|e| self.db(e))?;
        self.bump(name)
    }

    /// A cluster lab's ledger, if `scenario` is one driven from here.
    pub fn ledger(&self, scenario: &str) -> Result<Option<Value>> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT ledger FROM ledgers WHERE scenario = ?1", [scenario], |r| r.get(0))
            .optional()
            .map_err(|e| self.db(e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Data(format!("ledger of {scenario}: {e}"))))
            .transpose()
    }

    /// The names of the cluster labs driven from here.
    pub fn ledgers(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT scenario FROM ledgers ORDER BY scenario").map_err(|e| self.db(e))?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.db(e))
    }

    pub fn put_ledger(&self, scenario: &str, ledger: &Value) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO ledgers (scenario, ledger, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT(scenario) DO UPDATE SET ledger = ?2, updated = ?3",
                params![scenario, ledger.to_string(), now()],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    pub fn delete_ledger(&self, scenario: &str) -> Result<()> {
        self.conn.execute("DELETE FROM ledgers WHERE scenario = ?1", [scenario]).map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Forgets a scenario and everything recorded about it (not its history).
    pub fn delete_scenario(&self, name: &str) -> Result<()> {
        self.conn.execute("DELETE FROM resources WHERE scenario = ?1", [name]).map_err(|e| self.db(e))?;
        self.conn.execute("DELETE FROM scenarios WHERE name = ?1", [name]).map_err(|e| self.db(e))?;
        self.conn.execute("DELETE FROM serials WHERE scenario = ?1", [name]).map_err(|e| self.db(e))?;
        self.conn.execute("DELETE FROM node_runs WHERE scenario = ?1", [name]).map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The run state the user asked for, per node, where it is not `running` (`vnx shutdown`,
    /// `suspend`, `save`): the plan keeps those nodes that way until `vnx start`.
    pub fn node_runs(&self, scenario: &str) -> Result<std::collections::BTreeMap<String, String>> {
        let mut st =
            self.conn.prepare_cached("SELECT node, run FROM node_runs WHERE scenario = ?1").map_err(|e| self.db(e))?;
        let rows = st
            .query_map([scenario], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.db(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.db(e))
    }

    /// Records the run state the user asked for a node (`running` forgets it).
    pub fn set_node_run(&self, scenario: &str, node: &str, run: &str) -> Result<()> {
        if run == "running" {
            self.conn
                .execute("DELETE FROM node_runs WHERE scenario = ?1 AND node = ?2", [scenario, node])
                .map_err(|e| self.db(e))?;
        } else {
            self.conn
                .execute(
                    "INSERT INTO node_runs (scenario, node, run) VALUES (?1, ?2, ?3)
                     ON CONFLICT (scenario, node) DO UPDATE SET run = excluded.run",
                    [scenario, node, run],
                )
                .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// The scenario's serial: it moves on with every recorded change, so a saved plan can tell
    /// that the state moved on since it was made.
    pub fn serial(&self, scenario: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT serial FROM serials WHERE scenario = ?1", [scenario], |r| r.get(0))
            .optional()
            .map(|s| s.unwrap_or(0))
            .map_err(|e| self.db(e))
    }

    fn bump(&self, scenario: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO serials (scenario, serial, updated) VALUES (?1, 1, ?2)
                 ON CONFLICT(scenario) DO UPDATE SET serial = serial + 1, updated = ?2",
            )
            .and_then(|mut st| st.execute(params![scenario, now()]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    // ---- resources ----

    pub fn resources(&self, scenario: &str) -> Result<Vec<ResourceRow>> {
        self.resources_where(scenario, None)
    }

    /// A scenario's resources of these kinds only (a 10,000-node lab's 60,000 records take a
    /// quarter of a second to read in full).
    pub fn resources_of_kinds(&self, scenario: &str, kinds: &[&str]) -> Result<Vec<ResourceRow>> {
        self.resources_where(scenario, Some(kinds))
    }

    /// A scenario's resources, of `kinds` only if given (bound as parameters).
    fn resources_where(&self, scenario: &str, kinds: Option<&[&str]>) -> Result<Vec<ResourceRow>> {
        let and = match kinds {
            None => String::new(),
            Some(k) => {
                format!(" AND kind IN ({})", (2..k.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "))
            }
        };
        // In the order they were recorded, sorted here: `ORDER BY rowid` had SQLite copy the
        // rows found by the index into a sorter, which spilled to a temporary file (60,000
        // rows of a 10,000-node lab).
        let mut st = self
            .conn
            .prepare(&format!("SELECT rowid, scenario, host, kind, name, provider, attrs, deps, status, runtime FROM resources WHERE scenario = ?1{and}"))
            .map_err(|e| self.db(e))?;
        let values = std::iter::once(scenario).chain(kinds.unwrap_or_default().iter().copied());
        // The JSON columns are parsed from SQLite's own copy of their text (no String of each
        // first: three allocations and copies a row, 180,000 for a 10,000-node lab).
        let rows = st
            .query_map(rusqlite::params_from_iter(values), |r| {
                let (kind, name) = (r.get::<_, String>(3)?, r.get::<_, String>(4)?);
                let bad = |e: serde_json::Error| Error::Data(format!("{kind} {name}: {e}"));
                let attrs = serde_json::from_str::<Value>(text(r, 6)?).map_err(bad);
                let deps = serde_json::from_str::<Vec<Key>>(text(r, 7)?).map_err(bad);
                let runtime = serde_json::from_str::<Value>(text(r, 9)?).map_err(bad);
                let (scenario, host, provider, status) =
                    (r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(5)?, r.get::<_, String>(8)?);
                let row = match (attrs, deps, runtime) {
                    (Ok(attrs), Ok(deps), Ok(runtime)) => {
                        Ok(ResourceRow { scenario, host, kind, name, provider, attrs, deps, status, runtime })
                    }
                    (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                };
                Ok((r.get::<_, i64>(0)?, row))
            })
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (rowid, row) = row.map_err(|e| self.db(e))?;
            out.push((rowid, row?));
        }
        out.sort_unstable_by_key(|(rowid, _)| *rowid);
        Ok(out.into_iter().map(|(_, row)| row).collect())
    }

    /// Records a resource (insert or replace) and moves the scenario's serial on.
    pub fn put_resource(&self, r: &ResourceRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO resources (scenario, kind, name, provider, attrs, deps, status, runtime, updated, host)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(scenario, host, kind, name) DO UPDATE SET provider = ?4, attrs = ?5, deps = ?6,
                   status = ?7, runtime = ?8, updated = ?9",
            )
            .and_then(|mut st| {
                st.execute(params![
                    r.scenario,
                    r.kind,
                    r.name,
                    r.provider,
                    r.attrs.to_string(),
                    serde_json::to_string(&r.deps).expect("deps serialize"),
                    r.status,
                    r.runtime.to_string(),
                    now(),
                    r.host
                ])
            })
            .map_err(|e| self.db(e))?;
        self.bump(&r.scenario)
    }

    /// Forgets a resource; returns whether it was recorded.
    pub fn delete_resource(&self, scenario: &str, key: &Key) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM resources WHERE scenario = ?1 AND kind = ?2 AND name = ?3 AND host = ?4")
            .and_then(|mut st| st.execute(params![scenario, key.kind, key.name, key.host]))
            .map_err(|e| self.db(e))?;
        self.bump(scenario)?;
        Ok(n > 0)
    }

    // ---- applies and the journal ----

    /// Records an apply's start and its plan (JSON text).
    pub fn apply_begin(&self, scenario: &str, command: &str, plan: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO applies (scenario, command, started, status, plan) VALUES (?1, ?2, ?3, 'running', ?4)",
                params![scenario, command, now(), plan],
            )
            .map_err(|e| self.db(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn apply_end(&self, id: i64, status: &str, summary: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE applies SET finished = ?2, status = ?3, summary = ?4 WHERE id = ?1",
                params![id, now(), status, summary],
            )
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    pub fn history(&self, scenario: Option<&str>) -> Result<Vec<ApplyRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, scenario, command, started, finished, status, plan, summary FROM applies
                      WHERE ?1 IS NULL OR scenario = ?1 ORDER BY id",
            )
            .map_err(|e| self.db(e))?;
        let rows = st
            .query_map([scenario], |r| {
                Ok(ApplyRow {
                    id: r.get(0)?,
                    scenario: r.get(1)?,
                    command: r.get(2)?,
                    started: r.get(3)?,
                    finished: r.get(4)?,
                    status: r.get(5)?,
                    plan: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or(Value::Null),
                    summary: r.get(7)?,
                })
            })
            .map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.db(e))
    }

    pub fn journal_start(&self, apply_id: i64, scenario: &str, key: &Key, action: &str) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO journal (apply_id, scenario, kind, name, action, started, host)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| st.execute(params![apply_id, scenario, key.kind, key.name, action, now(), key.host]))
            .map_err(|e| self.db(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn journal_finish(&self, id: i64, error: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE journal SET finished = ?2, error = ?3 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![id, now(), error]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    pub fn journal(&self, scenario: &str, limit: usize) -> Result<Vec<JournalRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, apply_id, kind, name, action, started, finished, error, host FROM journal
                      WHERE scenario = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.db(e))?;
        let rows = st
            .query_map(params![scenario, limit as i64], |r| {
                Ok(JournalRow {
                    id: r.get(0)?,
                    apply_id: r.get(1)?,
                    kind: r.get(2)?,
                    name: r.get(3)?,
                    action: r.get(4)?,
                    started: r.get(5)?,
                    finished: r.get(6)?,
                    error: r.get(7)?,
                    host: r.get(8)?,
                })
            })
            .map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.db(e))
    }

    // ---- the lock ----

    pub fn lock_holder(&self, scenario: &str) -> Result<Option<LockRow>> {
        self.conn
            .query_row(
                "SELECT scenario, id, pid, host, operation, since FROM locks WHERE scenario = ?1",
                [scenario],
                lock_row,
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    pub fn locks(&self) -> Result<Vec<LockRow>> {
        let mut st =
            self.conn.prepare("SELECT scenario, id, pid, host, operation, since FROM locks").map_err(|e| self.db(e))?;
        let rows = st.query_map([], lock_row).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.db(e))
    }

    /// Takes the scenario's lock for `operation`, waiting up to `timeout` for its holder. A
    /// holder whose process is gone from this host loses the lock; `on_takeover` hears of it.
    pub fn lock(
        &self,
        scenario: &str,
        operation: &str,
        timeout: Duration,
        mut on_takeover: impl FnMut(&LockRow),
    ) -> Result<LockRow> {
        let me = LockRow {
            scenario: scenario.to_string(),
            id: format!(
                "{:x}-{:x}",
                std::process::id(),
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
                    & 0xffff_ffff
            ),
            pid: std::process::id() as i64,
            host: hostname(),
            operation: operation.to_string(),
            since: now(),
        };
        let deadline = Instant::now() + timeout;
        loop {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.db(e))?;
            let holder = self.lock_holder(scenario);
            let outcome = match holder {
                Err(e) => Err(e),
                Ok(Some(h)) if h.host != me.host || process_alive(h.pid) => Ok(Some(h)),
                Ok(stale) => {
                    if let Some(h) = &stale {
                        on_takeover(h);
                    }
                    self.conn
                        .execute(
                            "INSERT OR REPLACE INTO locks (scenario, id, pid, host, operation, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![me.scenario, me.id, me.pid, me.host, me.operation, me.since],
                        )
                        .map(|_| None)
                        .map_err(|e| self.db(e))
                }
            };
            match outcome {
                Ok(None) => {
                    self.conn.execute_batch("COMMIT").map_err(|e| self.db(e))?;
                    return Ok(me);
                }
                Ok(Some(h)) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    if Instant::now() >= deadline {
                        return Err(Error::Locked { scenario: scenario.to_string(), holder: h.describe() });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
    }

    /// Releases a lock this process holds.
    pub fn unlock(&self, lock: &LockRow) -> Result<()> {
        self.conn
            .execute("DELETE FROM locks WHERE scenario = ?1 AND id = ?2", params![lock.scenario, lock.id])
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// Removes a lock by id, whoever holds it (`vnx force-unlock`).
    pub fn force_unlock(&self, id: &str) -> Result<LockRow> {
        let row = self
            .conn
            .query_row("SELECT scenario, id, pid, host, operation, since FROM locks WHERE id = ?1", [id], lock_row)
            .optional()
            .map_err(|e| self.db(e))?
            .ok_or_else(|| Error::NoSuchLock(id.to_string()))?;
        self.conn.execute("DELETE FROM locks WHERE id = ?1", [id]).map_err(|e| self.db(e))?;
        Ok(row)
    }
}

fn scenario_row(r: &rusqlite::Row) -> rusqlite::Result<ScenarioRow> {
    Ok(ScenarioRow {
        name: r.get(0)?,
        source: r.get(1)?,
        format: r.get(2)?,
        desired: r.get(3)?,
        serial: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

fn lock_row(r: &rusqlite::Row) -> rusqlite::Result<LockRow> {
    Ok(LockRow {
        scenario: r.get(0)?,
        id: r.get(1)?,
        pid: r.get(2)?,
        host: r.get(3)?,
        operation: r.get(4)?,
        since: r.get(5)?,
    })
}

pub fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this host's pid namespace is alive. A zombie is not: it holds nothing
/// any more, and where no init reaps orphans (a PID namespace whose first process does not
/// wait) a killed vnx stays one, and its locks would never be taken over.
pub fn process_alive(pid: i64) -> bool {
    if pid <= 0 {
        return false;
    }
    let exists = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    exists && !zombie(pid)
}

/// Whether `pid` is a zombie (or dead), from /proc/PID/stat's state: the field after the
/// command's closing parenthesis (the command itself may hold spaces and parentheses).
fn zombie(pid: i64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    matches!(state, Some("Z" | "X" | "x"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn open() -> (tempfile::TempDir, State) {
        let d = tempfile::tempdir().unwrap();
        let s = State::open(&d.path().join("sub/state.db")).unwrap();
        (d, s)
    }

    #[test]
    fn resources_round_trip_and_serial_moves() {
        let (_d, s) = open();
        s.put_scenario("lab", "lab.xml", "xml", "name: lab").unwrap();
        let serial = s.serial("lab").unwrap();
        let r = ResourceRow {
            scenario: "lab".into(),
            host: String::new(),
            kind: "node".into(),
            name: "h1".into(),
            provider: "ns".into(),
            attrs: json!({"hostname": "h1"}),
            deps: vec![Key::new("", "net", "Net0"), Key::new("b", "net", "Net0")],
            status: "ok".into(),
            runtime: json!({"pid": 42}),
        };
        s.put_resource(&r).unwrap();
        assert_eq!(s.resources("lab").unwrap(), vec![r.clone()]);
        assert!(s.serial("lab").unwrap() > serial);
        // The same kind and name on another host is another resource.
        let on_b = ResourceRow { host: "b".into(), ..r.clone() };
        s.put_resource(&on_b).unwrap();
        assert_eq!(s.resources("lab").unwrap(), vec![r.clone(), on_b.clone()]);
        // Of some kinds only, in the same order; a quote in a kind is a value, not SQL.
        let net = ResourceRow { kind: "net".into(), name: "Net0".into(), ..r.clone() };
        s.put_resource(&net).unwrap();
        // In the order they were recorded (the key's order would put the net first).
        assert_eq!(s.resources("lab").unwrap(), vec![r.clone(), on_b.clone(), net.clone()]);
        assert_eq!(s.resources_of_kinds("lab", &["node"]).unwrap(), vec![r.clone(), on_b.clone()]);
        assert_eq!(s.resources_of_kinds("lab", &["net", "boot"]).unwrap(), vec![net.clone()]);
        assert_eq!(s.resources_of_kinds("lab", &["node' OR '1'='1"]).unwrap(), vec![]);
        assert!(s.delete_resource("lab", &Key::new("", "net", "Net0")).unwrap());
        assert!(s.delete_resource("lab", &Key::new("", "node", "h1")).unwrap());
        assert!(s.delete_resource("lab", &Key::new("b", "node", "h1")).unwrap());
        assert!(s.resources("lab").unwrap().is_empty());
    }

    /// A record whose JSON text is damaged is refused naming the resource and the column's
    /// fault, whichever JSON column it is; the good rows beside it change nothing of that.
    #[test]
    fn a_damaged_json_column_is_refused_naming_the_resource() {
        let (_d, s) = open();
        s.put_scenario("lab", "lab.xml", "xml", "name: lab").unwrap();
        for (i, column) in ["attrs", "deps", "runtime"].into_iter().enumerate() {
            let r = ResourceRow {
                scenario: "lab".into(),
                host: String::new(),
                kind: "node".into(),
                name: format!("h{i}"),
                provider: "ns".into(),
                attrs: json!({"hostname": "h"}),
                deps: vec![],
                status: "ok".into(),
                runtime: json!({}),
            };
            s.put_resource(&r).unwrap();
            s.conn.execute(&format!("UPDATE resources SET {column} = '\"cut' WHERE name = ?1"), [&r.name]).unwrap();
            let e = s.resources("lab").unwrap_err().to_string();
            assert!(e.contains(&format!("node h{i}: EOF while parsing")), "{column}: {e}");
            assert!(s.delete_resource("lab", &Key::new("", "node", &r.name)).unwrap());
        }
        assert!(s.resources("lab").unwrap().is_empty());
    }

    /// A database from before `serials` keeps each scenario's serial.
    #[test]
    fn serials_migrate_from_the_scenario_rows() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state.db");
        let conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..2] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute("INSERT INTO scenarios VALUES ('lab', 'lab.xml', 'xml', 'name: lab', 7, 'then', 'then')", [])
            .unwrap();
        drop(conn);
        let s = State::open(&path).unwrap();
        assert_eq!(s.serial("lab").unwrap(), 7);
        assert_eq!(s.scenario("lab").unwrap().unwrap().serial, 7);
        s.put_scenario("lab", "lab.xml", "xml", "name: lab").unwrap();
        assert_eq!(s.scenario("lab").unwrap().unwrap().serial, 8);
        s.delete_scenario("lab").unwrap();
        assert_eq!(s.serial("lab").unwrap(), 0);
    }

    /// A database from before hosts keeps its resources, in their order, on this host.
    #[test]
    fn resources_migrate_to_this_host() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state.db");
        let conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..3] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        for (kind, name) in [("net", "Net0"), ("node", "h1")] {
            conn.execute(
                "INSERT INTO resources VALUES ('lab', ?1, ?2, 'ns', '{}', '[[\"net\",\"Net0\"]]', 'ok', 'null', 'then')",
                [kind, name],
            )
            .unwrap();
        }
        drop(conn);
        let s = State::open(&path).unwrap();
        let rows = s.resources("lab").unwrap();
        let ids: Vec<(&str, &str, &str)> =
            rows.iter().map(|r| (r.host.as_str(), r.kind.as_str(), r.name.as_str())).collect();
        assert_eq!(ids, [("", "net", "Net0"), ("", "node", "h1")]);
        assert_eq!(rows[1].deps, [Key::new("", "net", "Net0")]);
    }

    #[test]
    fn file_is_private_and_wal() {
        use std::os::unix::fs::PermissionsExt;
        let (d, s) = open();
        let mode = std::fs::metadata(d.path().join("sub/state.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let jm: String = s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(jm, "wal");
        // Reopening runs no migration twice.
        drop(s);
        State::open(&d.path().join("sub/state.db")).unwrap();
    }

    #[test]
    fn a_zombie_holds_nothing() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i64;
        // Exited, not yet waited for: a zombie.
        while !zombie(pid) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!process_alive(pid));
        assert!(process_alive(std::process::id() as i64));
        child.wait().unwrap();
    }

    #[test]
    fn lock_excludes_then_takes_over_a_dead_holder() {
        let (d, s) = open();
        let mine = s.lock("lab", "apply", Duration::ZERO, |_| panic!("nothing to take over")).unwrap();
        let other = State::open(&d.path().join("sub/state.db")).unwrap();
        // Held by a live process (this one): a second taker fails with the holder's name.
        let err = other.lock("lab", "apply", Duration::from_millis(150), |_| {}).unwrap_err();
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
        s.unlock(&mine).unwrap();
        // A holder that is gone is taken over, with a word.
        s.conn.execute("INSERT INTO locks VALUES ('lab', 'x', 999999999, ?1, 'apply', 'then')", [hostname()]).unwrap();
        let mut heard = None;
        other.lock("lab", "apply", Duration::ZERO, |h| heard = Some(h.id.clone())).unwrap();
        assert_eq!(heard.as_deref(), Some("x"));
        // force-unlock removes any lock by id.
        let id = other.lock_holder("lab").unwrap().unwrap().id;
        other.force_unlock(&id).unwrap();
        assert!(other.lock_holder("lab").unwrap().is_none());
    }

    #[test]
    fn history_and_journal() {
        let (_d, s) = open();
        let a = s.apply_begin("lab", "apply", r#"{"changes": []}"#).unwrap();
        let j = s.journal_start(a, "lab", &Key::new("", "node", "h1"), "create").unwrap();
        s.journal_finish(j, Some("boom")).unwrap();
        s.apply_end(a, "failed", "1 failed").unwrap();
        let h = s.history(Some("lab")).unwrap();
        assert_eq!(h[0].status, "failed");
        assert_eq!(s.journal("lab", 10).unwrap()[0].error.as_deref(), Some("boom"));
    }

    #[test]
    fn now_is_rfc3339() {
        let t = now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
