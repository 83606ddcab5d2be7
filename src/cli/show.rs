//! `vnx show` (alias `status`) and `vnx list`: what runs on this host.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::{json, Value};
use vnx_providers::ns::Init;

use super::common;
use super::fail;
use crate::plan::{kind, render, Drift, Recorded};
use vnx_providers::kinds;

/// Show the labs on this host, or one lab's nodes and nets.
///
/// Without SCENARIO: every applied scenario with its node count. With it: each node (running
/// or not, its init pid, interfaces and addresses) and each net (its bridge and members).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  vnx show\n  vnx show tutorial_lxc_ubuntu\n  vnx show lab.xml --json")]
pub struct ShowCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// One node in detail: interfaces, routes, processes, recent journal.
    #[arg(long, value_name = "NAME", requires = "scenario")]
    pub node: Option<String>,
    /// How to print it.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ShowFormat,
    /// Print JSON (same as --format json).
    #[arg(long)]
    pub json: bool,
    /// Read what really exists (addresses, links, run states) and mark what differs from the
    /// scenario; `--refresh=false` shows the record only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum ShowFormat {
    Table,
    Json,
    /// One line per interface: scenario,node,state,pid,interface,net,addresses.
    Csv,
}

/// List the applied scenarios.
#[derive(clap::Args, Debug)]
pub struct ListCmd {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A node's run state (running, paused, shutoff, saved, or missing when it is gone) and its
/// init's pid (`ns` nodes). `lab_dir` is the lab's directory (where VMs keep saved states).
fn node_run(r: &Recorded, lab_dir: &std::path::Path) -> (&'static str, Option<i32>) {
    let Some(n) = typed::<kinds::node::Attrs>(r) else { return ("missing", None) };
    if let Some(vm) = &n.vm {
        let dir = lab_dir.join("nodes").join(&r.id.name);
        let scenario = lab_dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        return (vnx_providers::libvirt::run_state_of(&scenario, &r.id.name, vm, &dir).unwrap_or("missing"), None);
    }
    let init = serde_json::from_value::<Init>(r.runtime.clone()).ok();
    let run = vnx_providers::ns::run_state(init.as_ref(), n.netns.as_deref().unwrap_or_default()).unwrap_or("missing");
    (run, init.filter(Init::alive).map(|i| i.pid))
}

/// The global addresses an interface of a node holds now (a DHCP lease), read in the node's
/// network namespace `netns`.
fn leased(netns: &str, ifname: &str) -> Vec<String> {
    let Some(fd) = vnx_providers::ns::open_bound_netns(netns) else { return vec![] };
    // NsReader enters the namespace on the calling thread: a thread of its own.
    let read = std::thread::spawn(move || {
        let r = vnx_providers::netlink::NsReader::enter(std::os::fd::AsFd::as_fd(&fd)).ok()?;
        Some((r.links().ok()?, r.addrs().ok()?))
    })
    .join()
    .ok()
    .flatten();
    let Some((links, addrs)) = read else { return vec![] };
    let Some(link) = links.iter().find(|l| l.name == ifname) else { return vec![] };
    addrs
        .iter()
        .filter(|a| a.index == link.index)
        .filter(|a| !matches!(a.net.addr(), std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .map(|a| a.net.to_string())
        .collect()
}

/// A recorded resource's typed attributes (`None` for a record of another shape).
fn typed<T: serde::de::DeserializeOwned>(r: &Recorded) -> Option<T> {
    r.typed().ok()
}

/// Each recorded node's run state (empty when the scenario is not applied).
pub fn run_states(state: &vnx_state::State, scenario: &str) -> std::collections::BTreeMap<String, String> {
    let lab_dir = crate::ops::lab::lab_dir(state.path(), scenario).unwrap_or_default();
    crate::ops::lab::recorded_of(state, scenario)
        .unwrap_or_default()
        .iter()
        .filter(|r| r.id.kind == kind::NODE)
        .map(|r| (r.id.name.clone(), node_run(r, &lab_dir).0.to_string()))
        .collect()
}

/// The lab as it is now: the record corrected by what refresh reads, and what differs from
/// the record (what vnx built from the scenario). Resources found missing are left out.
fn now_of(
    state: &vnx_state::State,
    name: &str,
    mut recorded: Vec<Recorded>,
) -> Result<(Vec<Recorded>, Vec<Drift>), String> {
    if recorded.is_empty() {
        return Ok((recorded, vec![]));
    }
    let actual = common::runtime().block_on(async {
        let lab = crate::ops::lab::lab(name, state.path(), &recorded)?;
        crate::ops::lab::refresh(&lab, &mut recorded).await
    })?;
    let b = crate::plan::believed(&recorded, &actual);
    let now =
        recorded.iter().filter(|r| r.id.kind == kind::NODE || !b.vanished.contains(&r.id)).map(|r| b.now(r)).collect();
    Ok((now, b.drift))
}

/// Whether a drift entry concerns this node (its own resources are named NODE or NODE/...).
fn drift_of_node(drift: &[Drift], node: &str) -> bool {
    drift.iter().any(|d| d.id.name == node || d.id.name.strip_prefix(node).is_some_and(|r| r.starts_with('/')))
}

/// One scenario's nodes and nets, as JSON.
pub fn describe(recorded: &[Recorded], name: &str, lab_dir: &std::path::Path) -> Value {
    let of = |k: &'static str| recorded.iter().filter(move |r| r.id.kind == k);
    let nets: Vec<(&Recorded, kinds::net::Attrs)> =
        of(kind::NET).filter_map(|r| Some((r, typed::<kinds::net::Attrs>(r)?))).collect();
    let nodes: Vec<(&Recorded, kinds::node::Attrs)> =
        of(kind::NODE).filter_map(|r| Some((r, typed::<kinds::node::Attrs>(r)?))).collect();
    let interfaces: Vec<(&Recorded, kinds::interface::Attrs)> =
        of(kind::INTERFACE).filter_map(|r| Some((r, typed::<kinds::interface::Attrs>(r)?))).collect();
    let addresses: Vec<(&Recorded, kinds::addresses::Attrs)> =
        of(kind::ADDRESSES).filter_map(|r| Some((r, typed::<kinds::addresses::Attrs>(r)?))).collect();
    let dhcp: Vec<kinds::dhcp::Attrs> = of(kind::DHCP).filter_map(typed::<kinds::dhcp::Attrs>).collect();
    // A VM's NICs are part of its node (its domain's definition): bridge → net.
    let net_of_bridge: std::collections::HashMap<&str, &str> =
        nets.iter().map(|(r, n)| (n.bridge.as_str(), r.id.name.as_str())).collect();
    let vm_nics: Vec<(String, String, String)> = nodes
        .iter()
        .flat_map(|(r, n)| {
            n.vm.iter().flat_map(|v| &v.nics).filter_map(|nic| {
                let net = net_of_bridge.get(nic.bridge.as_deref()?)?;
                Some((r.id.name.clone(), nic.ifname.clone(), net.to_string()))
            })
        })
        .collect();
    // Nodes by name (the record keeps creation order).
    let mut node_rows: Vec<&(&Recorded, kinds::node::Attrs)> = nodes.iter().collect();
    node_rows.sort_by(|a, b| a.0.id.name.cmp(&b.0.id.name));
    let node_values: Vec<Value> = node_rows
        .into_iter()
        .map(|(r, n)| {
            let node = r.id.name.as_str();
            let (run, pid) = node_run(r, lab_dir);
            // Each interface: on a bridge net (an interface resource), or a VM's or a
            // point-to-point end known only by its addresses.
            let mut rows: Vec<(String, Option<String>, Vec<String>)> = interfaces
                .iter()
                .filter(|(_, i)| i.node == node)
                .map(|(ir, i)| {
                    let mut all: Vec<String> = addresses
                        .iter()
                        .find(|(ar, _)| ar.id.name == ir.id.name)
                        .map(|(_, a)| a.ipv4.iter().chain(&a.ipv6).cloned().collect())
                        .unwrap_or_default();
                    // On DHCP: what the node's interface holds now (the lease), else "dhcp".
                    if dhcp.iter().any(|d| d.node == node && d.ifname == i.ifname) {
                        let leased = n.netns.as_deref().map(|ns| leased(ns, &i.ifname)).unwrap_or_default();
                        all.extend(if leased.is_empty() { vec!["dhcp".to_string()] } else { leased });
                    }
                    (i.ifname.clone(), Some(i.net.clone()), all)
                })
                .collect();
            for (ar, a) in addresses.iter().filter(|(_, a)| a.node == node) {
                if interfaces.iter().any(|(ir, _)| ir.id.name == ar.id.name) {
                    continue;
                }
                let vm_net =
                    vm_nics.iter().find(|(n, ifname, _)| n == node && *ifname == a.ifname).map(|x| x.2.clone());
                rows.push((a.ifname.clone(), vm_net, a.ipv4.iter().chain(&a.ipv6).cloned().collect()));
            }
            // In interface order (eth2 before eth10), whatever order the record gives.
            rows.sort_by_key(|(ifname, _, _)| (ifname.len(), ifname.clone()));
            let ifaces: Vec<Value> = rows
                .into_iter()
                .map(|(ifname, net, all)| json!({"name": ifname, "net": net, "addresses": all}))
                .collect();
            json!({"name": node, "state": run, "pid": pid, "netns": n.netns, "interfaces": ifaces, "status": r.status})
        })
        .collect();
    let net_values: Vec<Value> = nets
        .iter()
        .map(|(r, n)| {
            let mut members: Vec<String> = interfaces
                .iter()
                .filter(|(_, i)| i.net == r.id.name)
                .map(|(ir, _)| ir.id.name.clone())
                .chain(
                    vm_nics
                        .iter()
                        .filter(|x| x.2 == r.id.name)
                        .map(|(node, ifname, _)| format!("{node}/{}", ifname.trim_start_matches("eth"))),
                )
                .collect();
            members.sort();
            // Where the bridge is, for tcpdump or Wireshark (`vnx capture` finds both itself).
            let netns = n.host_netns.clone().unwrap_or_else(|| "host".into());
            let capture = of(kind::CAPTURE)
                .find(|c| c.id.name == r.id.name)
                .and_then(typed::<kinds::capture::Attrs>)
                .map(|c| c.file);
            json!({"name": r.id.name, "bridge": n.bridge, "netns": netns, "up": n.up, "members": members, "capture": capture})
        })
        .collect();
    json!({"scenario": name, "nodes": node_values, "nets": net_values, "resources": recorded.len()})
}

pub fn run_show(c: ShowCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let json = c.json || c.format == ShowFormat::Json;
    let Some(arg) = c.scenario else { return run_list(ListCmd { json }, state_arg) };
    if c.node.is_none() {
        if let Some(code) = super::cluster::show(&arg, json, state_arg) {
            return code;
        }
    }
    let name = match common::resolve(&arg, Some(&state), color) {
        Ok(t) => t.scenario.name.value.clone(),
        Err(e) => return fail(&e),
    };
    let recorded = match crate::ops::lab::recorded_of(&state, &name) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let (recorded, drift) = if c.refresh {
        match now_of(&state, &name, recorded) {
            Ok(x) => x,
            Err(e) => return fail(&e),
        }
    } else {
        (recorded, vec![])
    };
    let mut d = describe(&recorded, &name, &crate::ops::lab::lab_dir(state.path(), &name).unwrap_or_default());
    for n in d["nodes"].as_array_mut().into_iter().flatten() {
        let changed = drift_of_node(&drift, n["name"].as_str().unwrap_or_default());
        n["drift"] = json!(changed);
    }
    d["drift"] = render::drift_json(&drift);
    if let Some(node) = &c.node {
        return show_node(&state, &recorded, &d, &name, node, json);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&d).expect("json"));
        return super::EXIT_OK;
    }
    if c.format == ShowFormat::Csv {
        println!("scenario,node,state,pid,interface,net,addresses");
        for n in d["nodes"].as_array().into_iter().flatten() {
            let pid = n["pid"].as_i64().map(|p| p.to_string()).unwrap_or_default();
            let ifaces = n["interfaces"].as_array().cloned().unwrap_or_default();
            if ifaces.is_empty() {
                println!("{name},{},{},{pid},,,", n["name"].as_str().unwrap_or(""), n["state"].as_str().unwrap_or(""));
            }
            for i in ifaces {
                let addrs: Vec<&str> =
                    i["addresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                println!(
                    "{name},{},{},{pid},{},{},{}",
                    n["name"].as_str().unwrap_or(""),
                    n["state"].as_str().unwrap_or(""),
                    i["name"].as_str().unwrap_or(""),
                    i["net"].as_str().unwrap_or(""),
                    addrs.join(" ")
                );
            }
        }
        return super::EXIT_OK;
    }
    if recorded.is_empty() {
        println!("{name}: nothing is built (apply it first)");
        return super::EXIT_OK;
    }
    println!("Scenario {name}\n");
    println!("{:<14} {:<9} {:<8} INTERFACES", "NODE", "STATE", "PID");
    for n in d["nodes"].as_array().into_iter().flatten() {
        let ifaces: Vec<String> = n["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let addrs: Vec<&str> =
                    i["addresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                format!(
                    "{}@{} {}",
                    i["name"].as_str().unwrap_or("?"),
                    i["net"].as_str().unwrap_or("-"),
                    addrs.join(" ")
                )
            })
            .collect();
        let pid = n["pid"].as_i64().map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        // `*`: something of this node differs from the scenario (listed below the tables).
        let mark = if n["drift"] == json!(true) { "*" } else { "" };
        println!(
            "{:<14} {:<9} {:<8} {}",
            format!("{}{mark}", n["name"].as_str().unwrap_or("")),
            n["state"].as_str().unwrap_or(""),
            pid,
            ifaces.join("; ").trim()
        );
    }
    let ns_width = d["nets"].as_array().into_iter().flatten().filter_map(|n| n["netns"].as_str()).map(str::len).max();
    let w = ns_width.unwrap_or(0).max("NAMESPACE".len());
    println!("\n{:<14} {:<12} {:<w$} MEMBERS", "NET", "BRIDGE", "NAMESPACE");
    for n in d["nets"].as_array().into_iter().flatten() {
        let m: Vec<&str> = n["members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let (name, bridge, netns) =
            (n["name"].as_str().unwrap_or(""), n["bridge"].as_str().unwrap_or(""), n["netns"].as_str().unwrap_or(""));
        let capture = n["capture"].as_str().map(|f| format!("  (capturing into {f})")).unwrap_or_default();
        println!("{name:<14} {bridge:<12} {netns:<w$} {}{capture}", m.join(" "));
    }
    if !drift.is_empty() {
        let color = color && std::io::stdout().is_terminal();
        print!("\n{}", render::drift_human(&drift, color));
        println!("\n* differs from the scenario: `vnx apply {name}` puts it back, `vnx plan {name}` shows how");
    }
    super::EXIT_OK
}

pub fn run_list(c: ListCmd, state_arg: &Option<PathBuf>) -> i32 {
    let state = match common::open_state(&common::state_path(state_arg)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let scenarios = match state.scenarios() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let mut rows = Vec::new();
    for s in &scenarios {
        let recorded = match crate::ops::lab::recorded_of(&state, &s.name) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        let nodes: Vec<&Recorded> = recorded.iter().filter(|r| r.id.kind == kind::NODE).collect();
        let lab_dir = crate::ops::lab::lab_dir(state.path(), &s.name).unwrap_or_default();
        let running = nodes.iter().filter(|n| node_run(n, &lab_dir).0 == "running").count();
        rows.push(json!({"name": s.name, "source": s.source, "nodes": nodes.len(), "running": running, "resources": recorded.len(), "updated": s.updated}));
    }
    if c.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
    } else if rows.is_empty() {
        println!("No scenario is applied on this host.");
    } else {
        println!("{:<24} {:<10} {:<10} SOURCE", "SCENARIO", "NODES", "RESOURCES");
        for r in rows {
            println!(
                "{:<24} {:<10} {:<10} {}",
                r["name"].as_str().unwrap_or(""),
                format!("{}/{}", r["running"], r["nodes"]),
                r["resources"],
                r["source"].as_str().unwrap_or("")
            );
        }
    }
    super::EXIT_OK
}

/// Print each node's addresses as shell variables, for `eval`.
///
/// One line per address: `NODE_IFNAME=ADDRESS` (IPv4 first), plus `NODE=ADDRESS` for each
/// node's first address. Names are upper-cased with `-` and `.` turned into `_`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  eval \"$(vnx output lab)\" && ping -c1 $H2")]
pub struct OutputCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// Each node's interfaces and their IPv4 and IPv6 addresses, as JSON.
    #[arg(long)]
    pub json: bool,
}

fn var(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

pub fn run_output(c: OutputCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    super::cluster::note_local_part(&c.scenario, "output", state_arg);
    let (_, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let recorded = match crate::ops::lab::recorded_of(&state, &t.scenario.name.value) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let d = describe(
        &recorded,
        &t.scenario.name.value,
        &crate::ops::lab::lab_dir(state.path(), &t.scenario.name.value).unwrap_or_default(),
    );
    // NODE_IF (first IPv4 address) and NODE_IF_IPV6, and NODE / NODE_IPV6 (the node's first).
    let ip_of = |a: &str| a.split('/').next().unwrap_or_default().to_string();
    let mut json = serde_json::Map::new();
    for n in d["nodes"].as_array().into_iter().flatten() {
        let node = n["name"].as_str().unwrap_or_default();
        let (mut first4, mut first6) = (None, None);
        let mut ifs = serde_json::Map::new();
        for i in n["interfaces"].as_array().into_iter().flatten() {
            let ifname = i["name"].as_str().unwrap_or_default();
            let addrs: Vec<&str> = i["addresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let (v6, v4): (Vec<&str>, Vec<&str>) = addrs.into_iter().partition(|a| a.contains(':'));
            if let Some(a) = v4.first() {
                println_unless(c.json, format!("{}_{}={}", var(node), var(ifname), ip_of(a)));
                first4.get_or_insert(ip_of(a));
            }
            if let Some(a) = v6.first() {
                println_unless(c.json, format!("{}_{}_IPV6={}", var(node), var(ifname), ip_of(a)));
                first6.get_or_insert(ip_of(a));
            }
            ifs.insert(ifname.into(), json!({"ipv4": v4, "ipv6": v6}));
        }
        if let Some(ip) = &first4 {
            println_unless(c.json, format!("{}={ip}", var(node)));
        }
        if let Some(ip) = &first6 {
            println_unless(c.json, format!("{}_IPV6={ip}", var(node)));
        }
        json.insert(node.into(), json!({"ipv4": first4, "ipv6": first6, "interfaces": ifs}));
    }
    if c.json {
        println!("{}", serde_json::to_string_pretty(&Value::Object(json)).expect("json"));
    }
    super::EXIT_OK
}

fn println_unless(quiet: bool, line: String) {
    if !quiet {
        println!("{line}");
    }
}

/// `vnx show SCENARIO --node NAME`.
fn show_node(
    state: &vnx_state::State,
    recorded: &[Recorded],
    d: &Value,
    scenario: &str,
    node: &str,
    json: bool,
) -> i32 {
    let Some(n) = d["nodes"].as_array().into_iter().flatten().find(|n| n["name"] == node) else {
        return fail(&format!("{scenario} has no node named {node}"));
    };
    let routes = recorded
        .iter()
        .find(|r| r.id.kind == kind::ROUTES && r.id.name == node)
        .and_then(typed::<kinds::routes::Attrs>)
        .map_or(json!([]), |r| json!(r.routes));
    // The node's processes: those in its init's PID namespace.
    let mut processes = Vec::new();
    if let Some(pid) = n["pid"].as_i64() {
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(p) = e.file_name().to_str().and_then(|x| x.parse::<i64>().ok()) else { continue };
            if ns.is_some() && std::fs::read_link(format!("/proc/{p}/ns/pid")).ok() == ns {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                processes.push(json!({"pid": p, "command": comm.trim()}));
            }
        }
    }
    let journal: Vec<Value> = state
        .journal(scenario, 500)
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j.name == node || j.name.starts_with(&format!("{node}/")))
        .take(10)
        .map(|j| json!({"kind": j.kind, "name": j.name, "action": j.action, "started": j.started, "finished": j.finished, "error": j.error}))
        .collect();
    let detail = json!({
        "node": node, "state": n["state"], "pid": n["pid"], "netns": n["netns"], "interfaces": n["interfaces"],
        "routes": routes, "processes": processes, "journal": journal,
        "drift": d["drift"].as_array().into_iter().flatten()
            .filter(|x| x["name"].as_str().is_some_and(|r| r == node || r.starts_with(&format!("{node}/"))))
            .collect::<Vec<_>>(),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&detail).expect("json"));
        return super::EXIT_OK;
    }
    println!(
        "Node {node} of {scenario}: {} (pid {}), netns {}",
        n["state"].as_str().unwrap_or("?"),
        n["pid"],
        n["netns"].as_str().unwrap_or("-")
    );
    println!("\nInterfaces:");
    for i in n["interfaces"].as_array().into_iter().flatten() {
        let addrs: Vec<&str> = i["addresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!(
            "  {:<8} on {:<12} {}",
            i["name"].as_str().unwrap_or("?"),
            i["net"].as_str().unwrap_or("-"),
            addrs.join(" ")
        );
    }
    println!("\nRoutes:");
    for r in routes.as_array().into_iter().flatten() {
        println!("  {} via {}", r["to"].as_str().unwrap_or("?"), r["gw"].as_str().unwrap_or("?"));
    }
    println!("\nProcesses:");
    for p in &processes {
        println!("  {:>7} {}", p["pid"], p["command"].as_str().unwrap_or(""));
    }
    println!("\nRecent journal:");
    for j in &journal {
        let err = j["error"].as_str().map(|e| format!("  ERROR {e}")).unwrap_or_default();
        println!(
            "  {} {} {}.{}{err}",
            j["started"].as_str().unwrap_or(""),
            j["action"].as_str().unwrap_or(""),
            j["kind"].as_str().unwrap_or(""),
            j["name"].as_str().unwrap_or("")
        );
    }
    super::EXIT_OK
}
