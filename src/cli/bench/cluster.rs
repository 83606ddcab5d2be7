//! `vnx bench … --hosts H`: the same generated lab spread over H hosts made on this machine,
//! next to the single-host run, and what placement does to the VXLAN segments of every
//! topology of the bench.
//!
//! Each host is a network, mount and PID namespace of its own (a private /run and /var/lib/vnx,
//! as a machine of its own has), joined to the others by an underlay bridge in a namespace of
//! its own; the controller reaches each host's agent through `nsenter` instead of ssh (one
//! session per host either way). The same kernel does every host's work here, so the figure
//! is the cost of distribution itself: placement, fragments, parallel agents, VXLAN.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::cluster::channel;
use crate::cluster::file::{Cluster, ClusterHost, Reach};
use crate::cluster::layout::{self, Recorded};
use crate::cluster::placement::{Constraints, Strategy};
use crate::ops::cluster::{self as ops, Ask, Ledger};
use crate::scenario::Scenario;

use super::{generate, Topo};

/// The underlay's addresses: a private /24 that only these namespaces hold.
const UNDERLAY: &str = "10.250.77";

/// A process holding namespaces; killing it (the namespaces' first process) ends everything
/// in them.
struct Holder {
    child: Child,
    pid: u32,
}

impl Holder {
    fn spawn(flags: &[&str], script: &str) -> Result<Holder, String> {
        use std::io::BufRead;
        let mut child = Command::new("unshare")
            .args(flags)
            .args(["--", "sh", "-c", &format!("{script} && echo ready && exec sleep 1000000")])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run unshare (util-linux): {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        std::io::BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err("a benchmark host did not start".into());
        }
        // With --fork the namespaces' first process is unshare's child.
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap_or_default();
        let pid = children.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(child.id());
        Ok(Holder { child, pid })
    }

    /// `sh -c script` in the holder's namespaces.
    fn sh(&self, script: &str) -> Result<String, String> {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-n", "-m", "-p", "--", "sh", "-c", script])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{script}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), nix::sys::signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hosts made of namespaces on this machine, on one underlay.
struct NsCluster {
    hosts: Vec<(String, Holder)>,
    _underlay: Holder,
}

impl NsCluster {
    fn new(n: usize) -> Result<NsCluster, String> {
        let underlay =
            Holder::spawn(&["--net"], "ip link set lo up && ip link add br0 type bridge && ip link set br0 up")?;
        let mut hosts = Vec::new();
        for i in 1..=n {
            let name = format!("host{i}");
            let h = Holder::spawn(
                &["--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private"],
                "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /var/lib/vnx && mount -t tmpfs -o mode=0700 tmpfs /var/lib/vnx && ip link set lo up",
            )?;
            underlay.sh(&format!(
                "ip link add ul-{i} type veth peer name ul0 netns {} && ip link set ul-{i} master br0 up",
                h.pid
            ))?;
            h.sh(&format!("ip addr add {UNDERLAY}.{i}/24 dev ul0 && ip link set ul0 up"))?;
            hosts.push((name, h));
        }
        Ok(NsCluster { hosts, _underlay: underlay })
    }

    fn cluster(&self, strategy: Strategy) -> Cluster {
        cluster_of(self.hosts.iter().map(|(_, h)| Reach::Namespaces(h.pid)).collect(), strategy)
    }

    /// What is left on the hosts: namespaces, links but lo and the underlay, nodes' inits and
    /// agents (but the looking shell itself, whose text names them).
    fn leftovers(&self) -> Vec<String> {
        let mut out = vec![];
        for (name, h) in &self.hosts {
            let seen = h.sh(
                "ls /run/netns 2>/dev/null | sed 's/^/netns /'; \
                 ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -vx -e lo -e ul0 | sed 's/^/link /'; \
                 for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = $$ ] && continue; c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case \"$c\" in *vnx-init*|*'vnx agent'*) echo \"process $c\";; esac; done",
            );
            match seen {
                Ok(s) => out.extend(s.lines().filter(|l| !l.is_empty()).map(|l| format!("{name}: {l}"))),
                Err(e) => out.push(format!("{name}: cannot be read: {e}")),
            }
        }
        out
    }
}

/// A cluster of equal hosts `host1`… reached each its way, on the underlay's addresses, with
/// every VNI.
fn cluster_of(reach: Vec<Reach>, strategy: Strategy) -> Cluster {
    Cluster {
        hosts: reach
            .into_iter()
            .enumerate()
            .map(|(i, reach)| ClusterHost {
                name: format!("host{}", i + 1),
                reach,
                underlay: Some(format!("{UNDERLAY}.{}", i + 1)),
                weight: 1.0,
                max_nodes: None,
                mem: None,
                vnx: None,
            })
            .collect(),
        vni: (1, (1 << 24) - 1),
        placement: strategy,
        constraints: Constraints::default(),
        notes: vec![],
        ssh_config: None,
    }
}

/// One step's row: what, seconds, detail.
pub type Row = (String, f64, String);

/// Crossing nets and VXLAN devices (one per host a crossing net is on) of a layout.
fn segments(l: &layout::Layout) -> (usize, usize) {
    (l.vnis.len(), l.vnis.keys().map(|n| l.spans[n].len()).sum())
}

/// Applies `s` over `hosts` namespace hosts with `strategy`, checks a ping across every net
/// that crosses hosts (50 at most), plans again (no change), destroys, and checks that nothing
/// is left. Rows as the single-host run's.
pub fn run(s: &Scenario, hosts: usize, strategy: Strategy, dir: &Path) -> Result<Vec<Row>, String> {
    let nc = NsCluster::new(hosts)?;
    let cluster = nc.cluster(strategy);
    let state = super::common::open_state(&dir.join("cluster.db"))?;
    let name = s.name.value.clone();
    let ask = Ask {
        scenario: s,
        dir: ".".into(),
        source: "bench".into(),
        cluster: cluster.clone(),
        cluster_file: "bench".into(),
        cluster_text: String::new(),
        strategy,
        rebalance: false,
        only: BTreeSet::new(),
        opts: channel::Options::default(),
        options: Default::default(),
    };
    let failed = |what: &str, r: &BTreeMap<String, Result<serde_json::Value, String>>| {
        let bad: Vec<String> = r
            .iter()
            .filter_map(|(h, x)| match x {
                Ok(v) if v["status"] == "ok" || v.get("status").is_none() => None,
                Ok(v) => Some(format!("{h}: {}", ops::failure_of(v))),
                Err(e) => Some(format!("{h}: {e}")),
            })
            .collect();
        (!bad.is_empty()).then(|| format!("{what} over {hosts} hosts failed: {}", bad.join("; ")))
    };
    let mut rows = Vec::new();
    let result = (|| -> Result<(), String> {
        let t0 = Instant::now();
        let mut p = ops::prepare(&ask, None)?;
        let plans = ops::plan(&mut p, &ask, false);
        if let Some(e) = failed("the plan", &plans) {
            return Err(e);
        }
        let done = ops::apply(&mut p, &ask, &state, None, &|_, _| {})?;
        if let Some(e) = failed("the apply", &done) {
            return Err(e);
        }
        let (crossing, devices) = segments(&p.layout);
        rows.push((
            format!("apply from nothing over {hosts} hosts"),
            t0.elapsed().as_secs_f64(),
            format!("{} placement: {crossing} nets cross hosts, {devices} VXLAN devices", strategy.name()),
        ));
        let ledger = Ledger::read(&state, &name)?.ok_or("the apply left no ledger")?;
        let t0 = Instant::now();
        let checked = ping_across(s, &ledger, &cluster)?;
        rows.push((format!("check: {checked} pings across hosts"), t0.elapsed().as_secs_f64(), "all answered".into()));
        let t0 = Instant::now();
        let mut p = ops::prepare(&ask, Some(&ledger))?;
        let plans = ops::plan(&mut p, &ask, false);
        if let Some(e) = failed("the no-op plan", &plans) {
            return Err(e);
        }
        if plans.values().any(|r| r.as_ref().is_ok_and(|v| v["changes"] == true)) {
            return Err("the no-op plan over the hosts has changes".into());
        }
        rows.push((format!("no-op plan over {hosts} hosts"), t0.elapsed().as_secs_f64(), "no changes".into()));
        Ok(())
    })();
    // Whatever happened, destroy what the ledger knows, and look for leftovers.
    let t0 = Instant::now();
    if let Ok(Some(ledger)) = Ledger::read(&state, &name) {
        let done = ops::destroy(&state, &name, ledger, &cluster, &BTreeSet::new(), &ask.opts, &|_, _| {})?;
        if let (Ok(()), Some(e)) = (&result, failed("the destroy", &done)) {
            return Err(e);
        }
    }
    result?;
    rows.push((format!("destroy over {hosts} hosts"), t0.elapsed().as_secs_f64(), String::new()));
    let left = nc.leftovers();
    if !left.is_empty() {
        return Err(format!("left behind on the hosts: {}", left.join(", ")));
    }
    Ok(rows)
}

/// Pings, for each net that crosses hosts (at most 50, spread over them), from a node on one
/// host to a node's address on another. How many.
fn ping_across(s: &Scenario, ledger: &Ledger, cluster: &Cluster) -> Result<usize, String> {
    let crossing: Vec<&String> = ledger.vnis.keys().collect();
    let step = crossing.len().div_ceil(50).max(1);
    let mut n = 0;
    for net in crossing.into_iter().step_by(step) {
        let members: Vec<(&str, &str, String)> = s
            .nodes
            .iter()
            .flat_map(|node| {
                node.interfaces.iter().filter(|i| i.net.value == *net).filter_map(move |i| {
                    let a = i.ipv4.first()?.value.to_string();
                    let host = ledger.placement.get(&node.name.value)?;
                    Some((node.name.value.as_str(), host.as_str(), a.split('/').next()?.to_string()))
                })
            })
            .collect();
        let Some((from, from_host, _)) = members.first() else { continue };
        let Some((_, _, to)) = members.iter().find(|m| m.1 != *from_host) else { continue };
        let argv: Vec<String> = ["ping", "-c1", "-W3", to].iter().map(|x| x.to_string()).collect();
        let v = ops::exec(&s.name.value, ledger, cluster, from, &argv, &channel::Options::default())?;
        if v["code"] != 0 {
            return Err(format!("{from} ({from_host}) cannot ping {to} across net {net}"));
        }
        n += 1;
    }
    Ok(n)
}

/// For each topology of the bench near `n` nodes, the crossing nets and VXLAN devices of
/// min-cut and round-robin over `hosts` hosts (placement only: nothing is built).
pub fn segments_table(n: usize, fanout: usize, hosts: usize) -> Result<Vec<serde_json::Value>, String> {
    let cluster = cluster_of(vec![Reach::Local; hosts], Strategy::MinCut);
    // A tree of as many levels as give n nodes or more; a mesh of at most 40 (it has n² links).
    let fanout = fanout.max(2);
    let mut depth = 1;
    while (0..depth).map(|d| fanout.pow(d as u32)).sum::<usize>() < n {
        depth += 1;
    }
    let mut out = vec![];
    for (topo, size) in [(Topo::Linear, n), (Topo::Star, n), (Topo::Tree, depth), (Topo::Mesh, n.min(40))] {
        let (s, _) = generate("segments", topo, size, fanout);
        let of = |strategy| layout::layout(&s, &cluster, strategy, &Recorded::default(), false).map(|l| segments(&l));
        let (mc, rr) = (of(Strategy::MinCut)?, of(Strategy::RoundRobin)?);
        out.push(serde_json::json!({
            "topology": format!("{topo:?}").to_lowercase(), "nodes": s.nodes.len(), "nets": s.nets.len(),
            "min_cut": {"crossing_nets": mc.0, "vxlan_devices": mc.1},
            "round_robin": {"crossing_nets": rr.0, "vxlan_devices": rr.1},
            "fewer": if mc.1 == 0 { None } else { Some(rr.1 as f64 / mc.1 as f64) },
        }));
    }
    Ok(out)
}
