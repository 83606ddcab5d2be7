//! What the lab commands share: finding the scenario (a file or the name of an applied one),
//! the state database, the desired resources with their diagnostics, and locks. (The lab
//! provider, refresh and the record are the operations' own: `ops::lab`.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vnx_state::State;

use crate::plan::{self, desired, Desired};
use crate::scenario::{self, validate, Diag, Document, Format, Report, Scenario, Source};

/// Options every planning command takes.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanArgs {
    /// Run nodes of type A with provider B (`lxc=ns`); repeatable. lxc and nsrouter map to ns.
    #[arg(long = "map", value_name = "TYPE=PROVIDER")]
    pub map: Vec<String>,
    /// Only this node or net, what lives in it and what it needs; repeatable.
    #[arg(long, value_name = "NODE|NET")]
    pub target: Vec<String>,
    /// Replace this node (and what lives in it) even if nothing changed; repeatable.
    #[arg(long, value_name = "NODE")]
    pub replace: Vec<String>,
    /// Read what really exists before planning (drift); `--refresh=false` trusts the record.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

/// The state database path: `--state`, else `$VNX_STATE`, else /var/lib/vnx/state.db.
pub fn state_path(arg: &Option<PathBuf>) -> PathBuf {
    arg.clone().unwrap_or_else(vnx_state::default_path)
}

pub fn open_state(path: &Path) -> Result<State, String> {
    State::open(path).map_err(|e| format!("{e}"))
}

/// Opens the state database and reads SCENARIO (a file or an applied scenario's name).
pub fn open_and_resolve(
    state_arg: &Option<PathBuf>,
    scenario: &str,
    color: bool,
) -> Result<(PathBuf, State, Target), String> {
    let path = state_path(state_arg);
    // A file is read (and refused when invalid) before the state is opened, so an invalid
    // scenario leaves no state behind.
    if Path::new(scenario).exists() {
        let t = resolve(scenario, None, color)?;
        return Ok((path.clone(), open_state(&path)?, t));
    }
    let state = open_state(&path)?;
    let t = resolve(scenario, Some(&state), color)?;
    Ok((path, state, t))
}

/// A scenario to act on.
#[derive(Clone)]
pub struct Target {
    /// Shared with the thread that writes the record's text of it ahead ([`ops::RecordText`]):
    /// a copy of a 10,000-node scenario was 27 MB.
    pub scenario: std::sync::Arc<Scenario>,
    /// The file it was read from, or the recorded scenario's source.
    pub source: String,
    pub format: Format,
    /// Where relative paths resolve.
    pub dir: PathBuf,
    /// Its text, for diagnostics.
    pub report_source: Source,
}

/// A scenario file being read, parsed and validated on a thread of its own ([`load_ahead`]).
type Ahead = (PathBuf, std::thread::JoinHandle<std::io::Result<scenario::Loaded>>);
static AHEAD: std::sync::Mutex<Option<Ahead>> = std::sync::Mutex::new(None);

/// Begins loading the scenario file `arg` names, if there is one, on a thread of its own,
/// for [`resolve`] to take: what a command does before it (opening the state, whose check
/// reads the whole database: 40-75 ms for a 10,000-node lab's) runs meanwhile, and loading a
/// 10,000-node scenario took 0.2-0.3 s.
pub fn load_ahead(arg: &str) {
    let path = PathBuf::from(arg);
    if path.is_file() {
        let p = path.clone();
        let loading = std::thread::spawn(move || scenario::load(&p));
        *AHEAD.lock().unwrap_or_else(|e| e.into_inner()) = Some((path, loading));
    }
}

/// The scenario file at `path`, loaded: by [`load_ahead`]'s thread if it began with it.
fn load(path: &Path) -> std::io::Result<scenario::Loaded> {
    let ahead = AHEAD.lock().unwrap_or_else(|e| e.into_inner()).take_if(|(p, _)| p == path);
    match ahead {
        Some((_, loading)) => loading.join().unwrap_or_else(|_| scenario::load(path)),
        None => scenario::load(path),
    }
}

/// Reads SCENARIO: a file when one exists at that path, else the name of an applied scenario.
pub fn resolve(arg: &str, state: Option<&State>, color: bool) -> Result<Target, String> {
    let path = Path::new(arg);
    if path.exists() {
        let loaded = load(path).map_err(|e| format!("cannot read {arg}: {e}"))?;
        if !loaded.report.diags.is_empty() {
            eprint!("{}", loaded.report.render(color));
        }
        if loaded.report.has_errors() {
            return Err(format!("{arg} has errors: fix them first (vnx validate {arg})"));
        }
        let Some(Document::Scenario(s)) = loaded.doc else {
            return Err(format!("{arg} is a modify document: use `vnx modify SCENARIO {arg}`"));
        };
        let ctx = validate::Context::for_file(path);
        // Absolute, so that the recorded source means the same file from any directory.
        let source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        return Ok(Target {
            scenario: std::sync::Arc::new(s),
            source: source.display().to_string(),
            format: loaded.format,
            dir: ctx.dir.unwrap_or_else(|| PathBuf::from(".")),
            report_source: loaded.report.source,
        });
    }
    let Some(state) = state else { return Err(format!("no file named {arg}")) };
    match recorded_target(state, arg)? {
        Some(t) => Ok(t),
        None => {
            let names: Vec<String> =
                state.scenarios().map_err(|e| e.to_string())?.into_iter().map(|s| s.name).collect();
            Err(if names.is_empty() {
                format!("{arg} is neither a file nor an applied scenario (none is applied on this host)")
            } else {
                format!("{arg} is neither a file nor an applied scenario (applied: {})", names.join(", "))
            })
        }
    }
}

/// The scenario recorded under `name` (the lab as it was last applied), if there is one.
pub fn recorded_target(state: &State, arg: &str) -> Result<Option<Target>, String> {
    match state.scenario(arg).map_err(|e| e.to_string())? {
        Some(row) => {
            let (doc, diags) = scenario::parse(&row.desired, Format::Yaml);
            match doc {
                Some(Document::Scenario(s)) if !diags.iter().any(Diag::is_error) => {
                    let dir =
                        Path::new(&row.source).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
                    Ok(Some(Target {
                        scenario: std::sync::Arc::new(s),
                        source: row.source,
                        format: Format::Yaml,
                        dir,
                        report_source: Source::new(format!("{arg} (recorded)"), row.desired),
                    }))
                }
                _ => Err(format!("the recorded scenario {arg} cannot be read back")),
            }
        }
        None => Ok(None),
    }
}

/// The root filesystem at `path`: an LXC container directory's `rootfs/`, or a directory with
/// `etc/`.
fn rootfs_at(path: &str) -> Option<String> {
    let p = Path::new(path);
    if p.join("rootfs").join("etc").is_dir() {
        return Some(p.join("rootfs").display().to_string());
    }
    p.join("etc").is_dir().then(|| p.display().to_string())
}

struct Fs<'a> {
    cx: validate::Context,
    /// What the kernel was found to have, each tried once.
    kernel: std::cell::RefCell<HashMap<desired::KernelFeature, bool>>,
    _p: std::marker::PhantomData<&'a ()>,
}

impl desired::HostFs for Fs<'_> {
    fn kernel_has(&self, feature: desired::KernelFeature) -> bool {
        *self.kernel.borrow_mut().entry(feature).or_insert_with(|| super::doctor::kernel_has(feature))
    }
    fn rootfs(&self, path: &str) -> Option<String> {
        // One at that path, else one built by `vnx rootfs build` (by name, or for VNX's names).
        rootfs_at(path).or_else(|| crate::ops::rootfs::resolve(path).map(|(d, _)| d.display().to_string()))
    }
    fn image(&self, path: &str) -> Option<desired::BuiltImage> {
        let (i, note) = crate::ops::image::resolve(path)?;
        Some(desired::BuiltImage {
            disk: i.disk.display().to_string(),
            kernel: i.kernel.display().to_string(),
            initrd: i.initrd.display().to_string(),
            cmdline: crate::ops::image::CMDLINE.to_string(),
            note,
        })
    }
    fn rootfs_note(&self, path: &str) -> Option<String> {
        match rootfs_at(path) {
            Some(_) => None,
            None => crate::ops::rootfs::resolve(path).and_then(|(_, note)| note),
        }
    }
    fn file(&self, path: &str) -> Option<String> {
        let p = if Path::new(path).is_absolute() { PathBuf::from(path) } else { self.cx.dir.clone()?.join(path) };
        p.is_file().then(|| std::path::absolute(&p).unwrap_or(p).display().to_string())
    }
    fn path(&self, path: &str) -> String {
        let p = if Path::new(path).is_absolute() {
            PathBuf::from(path)
        } else {
            self.cx.dir.clone().unwrap_or_default().join(path)
        };
        std::path::absolute(&p).unwrap_or(p).display().to_string()
    }
    fn source(&self, source: &str, basedir: Option<&str>) -> Option<String> {
        validate::resolve_source(source, basedir, &self.cx)
            .map(|p| std::path::absolute(&p).unwrap_or(p).display().to_string())
    }
    fn limits(&self) -> crate::plan::limits::HostLimits {
        crate::ops::limits::host()
    }
}

pub fn desired_options(args: &PlanArgs) -> Result<desired::Options, String> {
    let mut o = desired::Options::default();
    if let Some(f) = std::env::var_os("VNX_HOSTS_FILE").filter(|f| !f.is_empty()) {
        o.hosts_file = f.to_string_lossy().into_owned();
    }
    for m in &args.map {
        let (a, b) = m.split_once('=').ok_or_else(|| format!("--map {m}: write TYPE=PROVIDER, such as lxc=ns"))?;
        o.map.insert(a.trim().to_string(), b.trim().to_string());
    }
    Ok(o)
}

/// The scenario's resources, or its "not supported" diagnostics rendered.
pub fn desired_of(t: &Target, opts: &desired::Options, color: bool) -> Result<Vec<Desired>, String> {
    let fs =
        Fs { cx: validate::Context { dir: Some(t.dir.clone()) }, kernel: Default::default(), _p: Default::default() };
    let mut opts = opts.clone();
    opts.plugins = plugins_of(t, color)?;
    match desired::desired(&t.scenario, &opts, &fs) {
        Ok((d, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", Report { source: t.report_source.clone(), diags: warnings }.render(color));
            }
            Ok(d)
        }
        Err(diags) => {
            let n = diags.len();
            eprint!("{}", Report { source: t.report_source.clone(), diags }.render(color));
            Err(format!("{} cannot run here ({n} problem(s) above)", t.source))
        }
    }
}

/// The scenario's plugins' configurations (VNX's `dhcp` and `ospf`), read beside it; their
/// findings printed against their own file.
fn plugins_of(t: &Target, color: bool) -> Result<Vec<Option<scenario::plugin::Plugin>>, String> {
    let mut out = Vec::new();
    for ext in &t.scenario.extensions {
        if !scenario::plugin::KNOWN.contains(&ext.plugin.as_str()) {
            out.push(None); // the planner refuses it
            continue;
        }
        let loaded = scenario::plugin::load(&t.scenario, ext, &t.dir)?;
        if !loaded.report.diags.is_empty() {
            eprint!("{}", loaded.report.render(color));
        }
        if loaded.report.has_errors() {
            return Err(format!("{}: the {} plugin's configuration has errors", loaded.report.source.name, ext.plugin));
        }
        out.push(loaded.plugin);
    }
    Ok(out)
}

pub fn plan_options(args: &PlanArgs, destroy: bool) -> plan::Options {
    plan::Options { destroy, targets: args.target.clone(), replace: args.replace.clone() }
}

/// Takes the scenario's lock, saying so when a dead holder's lock is taken over.
pub fn lock(state: &State, scenario: &str, operation: &str, timeout: Duration) -> Result<vnx_state::LockRow, String> {
    state
        .lock(scenario, operation, timeout, |h| eprintln!("warning: taking over the lock of {} (its process is gone)", h.describe()))
        .map_err(|e| match e {
            vnx_state::Error::Locked { scenario, holder } => format!(
                "scenario {scenario} is locked by {holder}\n  wait for it (--lock-timeout 60s), or if that process is stuck: vnx force-unlock <id>"
            ),
            other => other.to_string(),
        })
}

/// Parses `30s`, `2m`, `500ms` or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (n, mult) = if let Some(v) = t.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = t.strip_suffix('m') {
        (v, 60.0)
    } else {
        (t, 1.0)
    };
    n.parse::<f64>()
        .map(|x| Duration::from_secs_f64(x * mult))
        .map_err(|_| format!("`{s}` is not a duration (30s, 2m)"))
}

/// A tokio runtime for the lab commands.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}
