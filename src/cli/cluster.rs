//! The command line of cluster labs: `plan`/`apply --cluster FILE`, and `show`, `exec`,
//! `destroy` of a lab whose ledger is here (found by its name). Renders what
//! [`crate::ops::cluster`] returns: the layout, each host's plan and outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{common, fail, EXIT_ERROR, EXIT_OK};
use crate::cluster::agent::PlanOptions;
use crate::cluster::{channel, file, placement::Strategy};
use crate::ops::cluster::{self as ops, Ask, Ledger};

/// Where a lab runs when it spans hosts.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Spread the lab over the hosts of this cluster file (YAML, or EDIV's cluster.conf); a
    /// lab applied so is found again by its name.
    #[arg(long, env = "VNX_CLUSTER", hide_env_values = true, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Placement: static, round-robin, weighted or min-cut (default: the cluster file's).
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<String>,
    /// Move running nodes where the placement would now put them (each move replaces the node).
    #[arg(long)]
    pub rebalance: bool,
    /// Only these hosts of the cluster (comma-separated), as EDIV's -H.
    #[arg(short = 'H', long = "hosts", value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
}

/// Whether this process runs one host's part for an agent (then no ledger is followed).
fn host_only() -> bool {
    std::env::var_os("VNX_HOST_ONLY").is_some_and(|v| !v.is_empty())
}

/// The name of a lab given as a file or a name.
fn lab_name(arg: &str) -> String {
    let p = Path::new(arg);
    if p.is_file() {
        if let Ok(l) = crate::scenario::load(p) {
            if let Some(crate::scenario::Document::Scenario(s)) = l.doc {
                return s.name.value;
            }
        }
    }
    arg.to_string()
}

/// For the commands that do not span hosts yet: a note, when `arg` names a lab over a
/// cluster driven from here, that they see this machine's part of it only.
pub fn note_local_part(arg: &str, command: &str, state_arg: &Option<PathBuf>) {
    if let Some(Ok((name, ledger))) = ledger_of(arg, state_arg) {
        eprintln!(
            "note: {name} spans {} hosts: vnx {command} sees this machine's part of it only (run it on a host for that host's part)",
            ledger.hosts.len()
        );
    }
}

/// The ledger of the lab `arg` names, when it is a cluster lab driven from here.
pub fn ledger_of(arg: &str, state_arg: &Option<PathBuf>) -> Option<Result<(String, Ledger), String>> {
    if host_only() {
        return None;
    }
    let path = common::state_path(state_arg);
    if !path.exists() {
        return None;
    }
    let state = match common::open_state(&path) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    // Most states drive no cluster: then the scenario is not parsed a second time for its name.
    match state.ledgers() {
        Ok(l) if l.is_empty() => return None,
        Err(e) => return Some(Err(e.to_string())),
        Ok(_) => {}
    }
    let name = lab_name(arg);
    Ledger::read(&state, &name).transpose().map(|r| r.map(|l| (name, l)))
}

fn options(cluster: &file::Cluster, state_arg: &Option<PathBuf>) -> channel::Options {
    channel::Options { ssh_config: cluster.ssh_config.clone(), state: state_arg.clone(), doctor: false }
}

/// How a plan or apply was asked for.
pub struct How<'a> {
    pub plan: &'a common::PlanArgs,
    pub json: bool,
    /// plan: exit 2 when some host has changes.
    pub detailed_exitcode: bool,
    /// apply: `--start`.
    pub start: bool,
}

impl How<'_> {
    fn options(&self) -> PlanOptions {
        PlanOptions {
            map: self.plan.map.clone(),
            target: self.plan.target.clone(),
            replace: self.plan.replace.clone(),
            no_refresh: !self.plan.refresh,
            start: self.start,
        }
    }
}

/// `plan` and `apply` in cluster mode, when `--cluster` is given or the lab has a ledger here;
/// `None`: an ordinary lab.
pub fn plan_or_apply(
    scenario_arg: &str,
    c: &ClusterArgs,
    how: &How,
    apply: Option<&super::apply::RunArgs>,
    state_arg: &Option<PathBuf>,
    color: bool,
) -> Option<i32> {
    if host_only() {
        return None;
    }
    let ledger = match ledger_of(scenario_arg, state_arg) {
        Some(Ok((_, l))) => Some(l),
        Some(Err(e)) => return Some(fail(&e)),
        None => None,
    };
    if c.cluster.is_none() && ledger.is_none() {
        if !c.hosts.is_empty() || c.strategy.is_some() || c.rebalance {
            return Some(fail("-H, --strategy and --rebalance are for labs over a cluster: add --cluster FILE"));
        }
        return None;
    }
    let t = match target(scenario_arg, ledger.as_ref(), color) {
        Ok(t) => t,
        Err(e) => return Some(fail(&e)),
    };
    Some(run(t, c, ledger, how, apply, state_arg, &|| {}).unwrap_or_else(|e| fail(&e)))
}

/// The scenario a cluster command acts on: the file named, else the lab as its ledger
/// recorded it (never this host's own part of it, which its state records under the same name).
fn target(arg: &str, ledger: Option<&Ledger>, color: bool) -> Result<common::Target, String> {
    match ledger {
        Some(l) if !Path::new(arg).exists() => recorded(arg, l),
        _ => common::resolve(arg, None, color),
    }
}

/// The lab `name` as its ledger recorded it.
fn recorded(name: &str, l: &Ledger) -> Result<common::Target, String> {
    Ok(common::Target {
        scenario: std::sync::Arc::new(l.scenario()?),
        source: l.source.clone(),
        format: crate::scenario::Format::Yaml,
        dir: PathBuf::from(&l.dir),
        report_source: crate::scenario::Source::new(format!("{name} (recorded)"), l.scenario.clone()),
    })
}

/// Plans, and with `apply` converges, the lab `t` over its cluster; `before` runs once the
/// changes are approved, before any host applies them.
fn run(
    t: common::Target,
    c: &ClusterArgs,
    ledger: Option<Ledger>,
    how: &How,
    apply: Option<&super::apply::RunArgs>,
    state_arg: &Option<PathBuf>,
    before: &dyn Fn(),
) -> Result<i32, String> {
    let json = how.json;
    let (cluster_file, cluster_text) = match (&c.cluster, &ledger) {
        (Some(f), _) => (
            f.display().to_string(),
            crate::scenario::limits::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?,
        ),
        (None, Some(l)) => (l.cluster_file.clone(), l.cluster.clone()),
        (None, None) => unreachable!("checked by the caller"),
    };
    let cluster = file::parse(&cluster_file, &cluster_text)?;
    for n in &cluster.notes {
        eprintln!("note: {n}");
    }
    let strategy = match c.strategy.as_deref() {
        Some(s) => {
            Strategy::parse(s).ok_or(format!("--strategy {s}: write static, round-robin, weighted or min-cut"))?
        }
        None => cluster.placement,
    };
    for h in &c.hosts {
        if !cluster.hosts.iter().any(|x| x.name == *h) {
            return Err(format!("-H {h}: the cluster has no such host"));
        }
    }
    let path = common::state_path(state_arg);
    let state = common::open_state(&path)?;
    let ask = Ask {
        scenario: &t.scenario,
        dir: std::path::absolute(&t.dir).unwrap_or(t.dir.clone()).display().to_string(),
        source: t.source.clone(),
        opts: options(&cluster, state_arg),
        cluster,
        cluster_file,
        cluster_text,
        strategy,
        rebalance: c.rebalance,
        only: c.hosts.iter().cloned().collect(),
        options: how.options(),
    };
    let mut p = ops::prepare(&ask, ledger.as_ref())?;
    let plans = ops::plan(&mut p, &ask, json && apply.is_none());
    let name = t.scenario.name.value.as_str();
    // A plan's exit code: an error on any host, else (--detailed-exitcode) changes on any.
    let plan_code = || {
        if !plans.values().all(Result::is_ok) {
            EXIT_ERROR
        } else if how.detailed_exitcode && plans.values().any(|r| r.as_ref().is_ok_and(|v| v["changes"] == true)) {
            super::apply::EXIT_CHANGES
        } else {
            EXIT_OK
        }
    };
    if json && apply.is_none() {
        let mut doc = layout_json(name, &ask, &p);
        doc["hosts"] = plans
            .iter()
            .map(|(h, r)| (h.clone(), r.clone().unwrap_or_else(|e| json!({"error": e}))))
            .collect::<serde_json::Map<_, _>>()
            .into();
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(plan_code());
    }
    if !(json && apply.is_some()) {
        print_layout(name, &ask, &p);
        for (h, r) in &plans {
            println!("\n── host {h} ──");
            match r {
                Ok(v) => print!("{}", v["plan"].as_str().unwrap_or_default()),
                Err(e) => println!("error: {e}"),
            }
        }
    }
    let Some(run) = apply else { return Ok(plan_code()) };
    let unreachable: Vec<&String> = plans.iter().filter(|(_, r)| r.is_err()).map(|(h, _)| h).collect();
    if !unreachable.is_empty() {
        eprintln!(
            "warning: host(s) {} cannot take part now: the others converge, and the next apply completes the lab",
            unreachable.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if !plans.values().any(|r| r.as_ref().is_ok_and(|v| v["changes"] == true)) && ledger.is_some() {
        if !json {
            println!("\nNo changes on any host.");
        } else {
            println!("{}", json!({"command": "apply", "scenario": name, "status": "ok", "hosts": {}}));
        }
        return Ok(if unreachable.is_empty() { EXIT_OK } else { EXIT_ERROR });
    }
    if !run.auto_approve && !approve(p.involved.len())? {
        eprintln!("Apply cancelled.");
        return Ok(EXIT_ERROR);
    }
    before();
    let t0 = std::time::Instant::now();
    let quiet = json;
    let progress = move |h: &str, line: String| {
        if !quiet {
            eprintln!("[{h}] {line}");
        }
    };
    let done = ops::apply(&mut p, &ask, &state, ledger, &progress)?;
    let secs = t0.elapsed().as_secs_f64();
    let ok = done.values().all(|r| r.as_ref().is_ok_and(|v| v["status"] == "ok"));
    if json {
        let mut doc = layout_json(name, &ask, &p);
        doc["command"] = json!("apply");
        doc["status"] = json!(if ok { "ok" } else { "failed" });
        doc["seconds"] = json!((secs * 1000.0).round() / 1000.0);
        doc["hosts"] = done
            .iter()
            .map(|(h, r)| (h.clone(), r.clone().unwrap_or_else(|e| json!({"status": "unreachable", "error": e}))))
            .collect::<serde_json::Map<_, _>>()
            .into();
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        println!();
        for (h, r) in &done {
            match r {
                Ok(v) if v["status"] == "ok" => println!("{h}: ok ({})", summary(v)),
                Ok(v) => println!("{h}: failed: {}", ops::failure_of(v)),
                Err(e) => println!("{h}: not done: {e}"),
            }
        }
        if ok {
            println!("Apply complete on {} host(s) in {secs:.1}s.", done.len());
        } else {
            println!(
                "Apply incomplete after {secs:.1}s: the ledger records what each host did; apply again to finish."
            );
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_ERROR })
}

fn summary(v: &Value) -> String {
    let s = &v["summary"];
    format!("{} added, {} changed, {} destroyed", s["add"], s["change"], s["destroy"])
}

fn approve(hosts: usize) -> Result<bool, String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err("apply needs --auto-approve when no one can be asked (stdin is not a terminal)".into());
    }
    eprint!("\nApply these changes on {hosts} host(s)? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer.trim() == "yes")
}

fn layout_json(name: &str, ask: &Ask, p: &ops::Prepared) -> Value {
    let l = &p.layout;
    json!({
        "scenario": name, "strategy": ask.strategy.name(), "placement": l.placement, "mtu": p.mtu,
        "cost": l.cost,
        "cross_host_nets": l.vnis.iter().map(|(n, v)| json!({"net": n, "hosts": l.spans[n], "vni": v})).collect::<Vec<_>>(),
    })
}

fn print_layout(name: &str, ask: &Ask, p: &ops::Prepared) {
    let l = &p.layout;
    let mtu = p.mtu.map(|m| format!(", overlay MTU {m}")).unwrap_or_default();
    println!(
        "Lab {name} over {} host(s) ({}): {} of {} nets cross hosts{mtu}.",
        ask.cluster.hosts.len(),
        ask.strategy.name(),
        l.vnis.len(),
        l.spans.len()
    );
    print_placement(&ask.cluster, &l.placement);
    for (net, vni) in &l.vnis {
        let hosts: Vec<&str> = l.spans[net].iter().map(String::as_str).collect();
        println!("net {net} spans {} (VNI {vni})", hosts.join(", "));
    }
}

/// `HOST  N  nodes…`, one line per host of the cluster.
pub fn print_placement(cluster: &file::Cluster, placement: &BTreeMap<String, String>) {
    let width = cluster.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  NODES", "HOST");
    for h in &cluster.hosts {
        let nodes: Vec<&str> = placement.iter().filter(|(_, x)| **x == h.name).map(|(n, _)| n.as_str()).collect();
        println!("{:<width$}  {:>3}  {}", h.name, nodes.len(), nodes.join(" "));
    }
}

/// `vnx destroy LAB` of a cluster lab: every host the ledger names (or `-H`'s).
pub fn destroy(arg: &str, hosts: &[String], run: &super::apply::RunArgs, state_arg: &Option<PathBuf>) -> Option<i32> {
    let (name, ledger) = match ledger_of(arg, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    Some(
        (|| -> Result<i32, String> {
            let cluster = ledger.cluster()?;
            let only: BTreeSet<String> = hosts.iter().cloned().collect();
            if !run.auto_approve && !approve_destroy(&name, ledger.hosts.len())? {
                eprintln!("Destroy cancelled.");
                return Ok(EXIT_ERROR);
            }
            let state = common::open_state(&common::state_path(state_arg))?;
            let quiet = run.json;
            let progress = move |h: &str, line: String| {
                if !quiet {
                    eprintln!("[{h}] {line}");
                }
            };
            let done = ops::destroy(&state, &name, ledger, &cluster, &only, &options(&cluster, state_arg), &progress)?;
            let ok = done.values().all(|r| r.as_ref().is_ok_and(|v| v["status"] == "ok"));
            if run.json {
                let hosts: serde_json::Map<String, Value> = done
                    .iter()
                    .map(|(h, r)| (h.clone(), r.clone().unwrap_or_else(|e| json!({"status": "unreachable", "error": e}))))
                    .collect();
                let doc = json!({"command": "destroy", "scenario": name, "status": if ok {"ok"} else {"failed"}, "hosts": hosts});
                println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
            } else {
                for (h, r) in &done {
                    match r {
                        Ok(v) if v["status"] == "ok" => println!("{h}: destroyed ({})", summary(v)),
                        Ok(v) => println!("{h}: failed: {}", ops::failure_of(v)),
                        Err(e) => println!("{h}: not done: {e}"),
                    }
                }
                println!("{}", if ok { "Destroy complete." } else { "Destroy incomplete: destroy again to finish." });
            }
            Ok(if ok { EXIT_OK } else { EXIT_ERROR })
        })()
        .unwrap_or_else(|e| fail(&e)),
    )
}

fn approve_destroy(name: &str, hosts: usize) -> Result<bool, String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err("destroy needs --auto-approve when no one can be asked (stdin is not a terminal)".into());
    }
    eprint!("Destroy lab {name} on {hosts} host(s)? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer.trim() == "yes")
}

/// `vnx show LAB` of a cluster lab: each node with its host, each net with the hosts it spans.
pub fn show(arg: &str, json_out: bool, state_arg: &Option<PathBuf>) -> Option<i32> {
    let (name, ledger) = match ledger_of(arg, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    Some(
        (|| -> Result<i32, String> {
            let cluster = ledger.cluster()?;
            let parts = ops::show(&name, &ledger, &cluster, &options(&cluster, state_arg));
            let mut nodes = vec![];
            let mut nets: BTreeMap<String, Value> = BTreeMap::new();
            let mut errors = serde_json::Map::new();
            for (h, r) in &parts {
                match r {
                    Ok(v) => {
                        for n in v["nodes"].as_array().into_iter().flatten() {
                            let mut n = n.clone();
                            n["host"] = json!(h);
                            nodes.push(n);
                        }
                        for n in v["nets"].as_array().into_iter().flatten() {
                            let net = n["name"].as_str().unwrap_or_default().to_string();
                            let e = nets.entry(net.clone()).or_insert_with(|| {
                                json!({"name": net, "hosts": ledger.spans.get(&net), "vni": ledger.vnis.get(&net), "members": []})
                            });
                            let members = e["members"].as_array_mut().expect("array");
                            members.extend(n["members"].as_array().into_iter().flatten().cloned());
                        }
                    }
                    Err(e) => {
                        errors.insert(h.clone(), json!(e));
                    }
                }
            }
            nodes.sort_by(|x, y| x["name"].as_str().cmp(&y["name"].as_str()));
            if json_out {
                let doc = json!({"scenario": name, "cluster": true, "nodes": nodes, "nets": nets.values().collect::<Vec<_>>(),
                    "hosts": ledger.hosts, "unreachable": errors, "mtu": ledger.mtu});
                println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
            } else {
                println!("Lab {name} over {} host(s) ({}).", ledger.hosts.len(), ledger.strategy);
                let w = nodes.iter().filter_map(|n| n["name"].as_str()).map(str::len).max().unwrap_or(4).max(4);
                println!("{:<w$}  {:<10}  {:<10}  ADDRESSES", "NODE", "HOST", "STATE");
                for n in &nodes {
                    let addrs: Vec<String> = n["interfaces"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|i| i["addresses"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)))
                        .collect();
                    println!(
                        "{:<w$}  {:<10}  {:<10}  {}",
                        n["name"].as_str().unwrap_or("?"),
                        n["host"].as_str().unwrap_or("?"),
                        n["state"].as_str().unwrap_or("?"),
                        addrs.join(" ")
                    );
                }
                for (net, v) in &nets {
                    let hosts: Vec<&str> = v["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    let vni = v["vni"].as_u64().map(|v| format!(" (VNI {v})")).unwrap_or_default();
                    println!("net {net}: {}{vni}", hosts.join(", "));
                }
                for (h, e) in &errors {
                    println!("{h}: cannot be read: {}", e.as_str().unwrap_or_default());
                }
            }
            Ok(if errors.is_empty() { EXIT_OK } else { EXIT_ERROR })
        })()
        .unwrap_or_else(|e| fail(&e)),
    )
}

/// `vnx exec LAB …` of a cluster lab: a command on each chosen node's host (all nodes without
/// `-M`, in the scenario's order), or a sequence on every host whose nodes have a step of it
/// (in parallel, each host's output in turn); `--list` from the ledger's scenario.
pub fn exec(c: &super::exec::ExecCmd, state_arg: &Option<PathBuf>) -> Option<i32> {
    let (name, ledger) = match ledger_of(&c.scenario, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    Some(
        (|| -> Result<i32, String> {
            let s = ledger.scenario()?;
            if c.list {
                return Ok(super::exec::list_sequences(&s));
            }
            let cluster = ledger.cluster()?;
            let opts = options(&cluster, state_arg);
            let order: Vec<String> =
                crate::plan::desired::node_order(&s).into_iter().map(|n| n.name.value.clone()).collect();
            let chosen: Vec<String> = if c.nodes.is_empty() { order.clone() } else { c.nodes.clone() };
            ledger.hosts_of(&chosen)?;
            if !c.command.is_empty() {
                let mut code = EXIT_OK;
                for node in &chosen {
                    let v = ops::exec(&name, &ledger, &cluster, node, &c.command, &opts)?;
                    let out = v["stdout"].as_str().unwrap_or_default();
                    if chosen.len() > 1 {
                        out.lines().for_each(|l| println!("{node} | {l}"));
                    } else {
                        print!("{out}");
                    }
                    eprint!("{}", v["stderr"].as_str().unwrap_or_default());
                    match v["code"].as_i64().unwrap_or(1) as i32 {
                        0 => {}
                        other => code = other,
                    }
                }
                return Ok(code);
            }
            let Some(seq) = &c.seq else { return Err("name a sequence to run, or a command after `--`".into()) };
            let steps = super::exec::expand(&s, seq);
            let with_steps: Vec<String> = chosen
                .into_iter()
                .filter(|n| s.node(n).is_some_and(|node| steps.iter().any(|st| super::exec::has_step(node, st))))
                .collect();
            if with_steps.is_empty() {
                return Err(format!("no command of sequence {seq} on the chosen nodes"));
            }
            let by_host = ledger.hosts_of(&with_steps)?;
            let replies = ops::on_hosts(&cluster, &by_host, &opts, &|_, _| {}, |nodes| {
                crate::cluster::agent::Request::Sequence { lab: name.clone(), seq: seq.clone(), nodes: nodes.to_vec() }
            });
            let mut code = EXIT_OK;
            for (h, r) in replies {
                match r {
                    Ok(v) => {
                        print!("{}", v["stdout"].as_str().unwrap_or_default());
                        eprint!("{}", v["stderr"].as_str().unwrap_or_default());
                        if v["code"].as_i64() != Some(0) {
                            code = v["code"].as_i64().unwrap_or(1) as i32;
                        }
                    }
                    Err(e) => code = fail(&format!("{h}: {e}")),
                }
            }
            Ok(code)
        })()
        .unwrap_or_else(|e| fail(&e)),
    )
}

/// `vnx modify LAB DOC` of a cluster lab: the document changes the lab as its ledger recorded
/// it, and the result converges over the cluster (new nodes placed, the others where they
/// run); nodes removed with `mode="shutdown"` run their on_shutdown sequence on their hosts
/// first, once the change is approved.
pub fn modify(c: &super::apply::ModifyCmd, state_arg: &Option<PathBuf>, color: bool) -> Option<i32> {
    let (name, ledger) = match ledger_of(&c.scenario, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    Some(
        (|| -> Result<i32, String> {
            let mut t = recorded(&name, &ledger)?;
            let m = match super::apply::patched(&t, &c.patch, color) {
                Ok(m) => m,
                Err(code) => return Ok(code),
            };
            let before_scenario = std::mem::replace(&mut t.scenario, std::sync::Arc::new(m.scenario));
            t.source = format!("{} + {}", t.source, c.patch.display());
            let cluster = ledger.cluster()?;
            let opts = options(&cluster, state_arg);
            let on_shutdown: Vec<String> = m
                .shutdown_first
                .iter()
                .filter(|n| before_scenario.node(n).is_some_and(|x| super::exec::has_step(x, "on_shutdown")))
                .cloned()
                .collect();
            let before = || {
                let Ok(by_host) = ledger.hosts_of(&on_shutdown) else { return };
                if on_shutdown.is_empty() {
                    return;
                }
                let said = ops::on_hosts(&cluster, &by_host, &opts, &|_, _| {}, |nodes| {
                    crate::cluster::agent::Request::Sequence {
                        lab: name.clone(),
                        seq: "on_shutdown".into(),
                        nodes: nodes.to_vec(),
                    }
                });
                for (h, r) in said {
                    match r {
                        Ok(v) if v["code"].as_i64() == Some(0) => {
                            eprint!("{}", v["stdout"].as_str().unwrap_or_default())
                        }
                        Ok(v) => eprintln!(
                            "warning: on_shutdown on {h}: {}",
                            v["stderr"].as_str().unwrap_or_default().trim()
                        ),
                        Err(e) => eprintln!("warning: on_shutdown on {h}: {e}"),
                    }
                }
            };
            let how = How { plan: &c.plan, json: c.run.json, detailed_exitcode: false, start: false };
            run(t, &ClusterArgs::default(), Some(ledger.clone()), &how, Some(&c.run), state_arg, &before)
        })()
        .unwrap_or_else(|e| fail(&e)),
    )
}

/// `vnx start|shutdown|… LAB [-M NODES]` of a cluster lab: the command on each host that runs
/// one of the nodes (every host of the lab without `-M`), in parallel.
pub fn lifecycle(verb: &str, c: &super::lifecycle::LifecycleCmd, state_arg: &Option<PathBuf>) -> Option<i32> {
    let (name, ledger) = match ledger_of(&c.scenario, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    Some(
        (|| -> Result<i32, String> {
            let by_host = ledger.hosts_of(&c.nodes)?;
            let cluster = ledger.cluster()?;
            let opts = options(&cluster, state_arg);
            let quiet = c.json;
            let progress = move |h: &str, line: String| {
                if !quiet {
                    eprintln!("[{h}] {line}");
                }
            };
            let done = ops::on_hosts(&cluster, &by_host, &opts, &progress, |nodes| {
                crate::cluster::agent::Request::Lifecycle {
                    lab: name.clone(),
                    verb: verb.to_string(),
                    nodes: nodes.to_vec(),
                    kill: c.kill,
                }
            });
            let ok = done.values().all(|r| r.as_ref().is_ok_and(|v| v["code"] == 0));
            if c.json {
                let hosts: serde_json::Map<String, Value> = done
                    .iter()
                    .map(|(h, r)| {
                        (h.clone(), r.clone().unwrap_or_else(|e| json!({"status": "unreachable", "error": e})))
                    })
                    .collect();
                let doc =
                    json!({"command": verb, "scenario": name, "status": if ok {"ok"} else {"failed"}, "hosts": hosts});
                println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
            } else {
                for (h, r) in &done {
                    match r {
                        Ok(v) if v["code"] == 0 => {
                            let nodes: Vec<String> = v["nodes"]
                                .as_object()
                                .into_iter()
                                .flatten()
                                .map(|(n, s)| format!("{n} {}", s.as_str().unwrap_or("?")))
                                .collect();
                            println!("{h}: {verb}: {}", nodes.join(", "));
                        }
                        Ok(v) => println!("{h}: {verb} failed (exit {})", v["code"]),
                        Err(e) => println!("{h}: not done: {e}"),
                    }
                }
            }
            Ok(if ok { EXIT_OK } else { EXIT_ERROR })
        })()
        .unwrap_or_else(|e| fail(&e)),
    )
}

/// `vnx console LAB -M NODE` of a cluster lab whose node runs on an ssh host: the host's own
/// `vnx console`, on a terminal through ssh (`-t`). A node of the local host: `None`, the
/// ordinary console.
pub fn console(arg: &str, node: &str, state_arg: &Option<PathBuf>) -> Option<i32> {
    use std::os::unix::process::CommandExt;
    let (name, ledger) = match ledger_of(arg, state_arg)? {
        Ok(x) => x,
        Err(e) => return Some(fail(&e)),
    };
    let found = (|| -> Result<Option<std::process::Command>, String> {
        let host = ledger.hosts_of(&[node.to_string()])?.into_keys().next().unwrap_or_default();
        let cluster = ledger.cluster()?;
        let h = cluster.hosts.iter().find(|x| x.name == host).ok_or(format!("host `{host}` is not in the cluster"))?;
        let file::Reach::Ssh(target) = &h.reach else { return Ok(None) };
        let mut ssh = std::process::Command::new("ssh");
        if let Some(f) = &cluster.ssh_config {
            ssh.arg("-F").arg(f);
        }
        ssh.args(["-t", "--", target, h.vnx.as_deref().unwrap_or("vnx"), "console", &name, "-M", node]);
        Ok(Some(ssh))
    })();
    match found {
        Err(e) => Some(fail(&e)),
        // The local host's part is an ordinary lab here: the ordinary console.
        Ok(None) => None,
        Ok(Some(mut ssh)) => Some(fail(&format!("cannot run ssh: {}", ssh.exec()))),
    }
}
