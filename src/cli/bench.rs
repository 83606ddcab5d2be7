//! `vnx bench`: generated labs of `ns` nodes, timed step by step in-process.
//!
//! The benchmark runs in a network namespace of its own (it plays the host, and vanishes with
//! the process) with a state database of its own, so it leaves nothing behind. With `--hosts`,
//! the same lab is also spread over hosts made of namespaces ([`cluster`]).

mod cluster;
mod sweep;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use vnx_providers::ns::Init;

use super::common::{self, Target};
use super::fail;
use crate::engine;
use crate::ops;
use crate::plan::{kind, Options};
use crate::scenario::values::{Ipv4Config, NetMode, NetType};
use crate::scenario::{Format, Interface, Net, Node, Scenario, Source, Spanned};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Topo {
    /// N nodes in a chain, each neighbour pair on a net of its own (Mininet's linear).
    Linear,
    /// N nodes on one net.
    Star,
    /// A tree of routers: DEPTH levels, FANOUT children each, a net per parent.
    Tree,
    /// N nodes, a point-to-point link between every pair.
    Mesh,
}

/// Measure vnx on a generated lab: apply from nothing, a no-op plan with refresh, adding a
/// node, changing an address, destroy; peak RSS and kernel objects.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx bench linear 100\n  vnx bench star 1000 --ovs   (Open vSwitch bridges: the lab's own switch)\n  vnx bench linear 1000 --json\n  vnx bench tree 3 --fanout 4\n  vnx bench linear 100 --mininet   (also times Mininet's linear,N when `mn` is installed)\n  vnx bench linear 1000 --hosts 3  (also over 3 hosts made of namespaces: the cost of distribution)"
)]
pub struct BenchCmd {
    #[arg(value_enum)]
    pub topo: Topo,
    /// Nodes (linear, star, mesh) or depth (tree); with --sweep, none.
    #[arg(required_unless_present = "sweep")]
    pub n: Option<usize>,
    /// Children per router (tree).
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
    /// Actions at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Also run Mininet's `mn --topo linear,N --switch lxbr --controller none --test none`.
    #[arg(long)]
    pub mininet: bool,
    #[arg(long)]
    pub json: bool,
    /// Print the generated scenario (YAML) and stop: to apply it yourself, or to profile.
    #[arg(long)]
    pub emit: bool,
    /// Before starting, wait up to this long for the kernel to finish dismantling earlier
    /// labs' network namespaces, which slows any apply meanwhile (0: start at once).
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub settle: u64,
    /// Also spread the lab over this many hosts made of namespaces on this machine (as `vnx
    /// apply --cluster` does), and compare placements' VXLAN segments on every topology.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub hosts: usize,
    /// The placement of the run over hosts: min-cut, round-robin, weighted.
    #[arg(long, default_value = "min-cut", value_name = "STRATEGY")]
    pub strategy: String,
    /// Make the lab's bridges Open vSwitch bridges (`mode="openvswitch"`, the lab's own switch)
    /// instead of Linux bridges.
    #[arg(long)]
    pub ovs: bool,
    /// Run the benchmark at each of these sizes (N is then ignored), print each step's cost per
    /// node at every size, and write a plot of seconds against N (--plot).
    #[arg(long, value_delimiter = ',', value_name = "N,N,…", conflicts_with_all = ["emit", "hosts", "mininet"])]
    pub sweep: Vec<usize>,
    /// Where --sweep writes its plot (SVG).
    #[arg(long, value_name = "FILE", default_value = "vnx-bench-sweep.svg")]
    pub plot: PathBuf,
}

/// The generated scenario with Open vSwitch bridges in place of Linux bridges.
fn on_ovs(mut s: Scenario) -> Scenario {
    for n in s.nets.iter_mut().filter(|n| n.mode.value == NetMode::VirtualBridge) {
        n.mode.value = NetMode::Openvswitch;
    }
    s
}

fn addr(net: usize, host: u32) -> String {
    format!("10.{}.{}.{host}/24", 100 + net / 256, net % 256)
}

fn ipv4(a: &str) -> Spanned<Ipv4Config> {
    Spanned::bare(a.parse().expect("generated address"))
}

fn node(name: &str) -> Node {
    Node { name: Spanned::bare(name.into()), node_type: Spanned::bare("ns".into()), ..Default::default() }
}

fn iface(id: u32, net: &str, a: &str) -> Interface {
    Interface { id: Spanned::bare(id), net: Spanned::bare(net.into()), ipv4: vec![ipv4(a)], ..Default::default() }
}

fn net(name: &str, p2p: bool) -> Net {
    Net {
        name: Spanned::bare(name.into()),
        mode: Spanned::bare(if p2p { NetMode::Veth } else { NetMode::VirtualBridge }),
        kind: p2p.then(|| Spanned::bare(NetType::P2p)),
        ..Default::default()
    }
}

/// The generated scenario, and the (node, address) pairs to ping to check it works.
pub fn generate(name: &str, topo: Topo, n: usize, fanout: usize) -> (Scenario, Vec<(String, String)>) {
    let mut s =
        Scenario { name: Spanned::bare(name.into()), version: Spanned::bare("2.0".into()), ..Default::default() };
    let mut pings = Vec::new();
    match topo {
        Topo::Linear => {
            for i in 0..n {
                let mut nd = node(&format!("n{i}"));
                if i > 0 {
                    nd.interfaces.push(iface(1, &format!("l{}", i - 1), &addr(i - 1, 2)));
                }
                if i + 1 < n {
                    s.nets.push(net(&format!("l{i}"), false));
                    nd.interfaces.push(iface(2, &format!("l{i}"), &addr(i, 1)));
                    pings.push((format!("n{i}"), addr(i, 2).trim_end_matches("/24").to_string()));
                }
                s.nodes.push(nd);
            }
        }
        Topo::Star => {
            s.nets.push(net("star", false));
            for i in 0..n {
                let a = format!("10.{}.{}.{}/16", 100, (i + 1) / 250, (i + 1) % 250 + 1);
                let mut nd = node(&format!("n{i}"));
                nd.interfaces.push(Interface { ipv4: vec![ipv4(&a)], ..iface(1, "star", "10.0.0.1/16") });
                if i > 0 {
                    pings.push(("n0".into(), a.trim_end_matches("/16").to_string()));
                }
                s.nodes.push(nd);
            }
        }
        Topo::Tree => {
            // Level by level: node k's children are fanout*k+1 ..; each parent has a net.
            let total: usize = (0..n).map(|d| fanout.pow(d as u32)).sum();
            for k in 0..total {
                let mut nd = node(&format!("n{k}"));
                let first_child = fanout * k + 1;
                if first_child < total {
                    s.nets.push(net(&format!("t{k}"), false));
                    nd.interfaces.push(iface(1, &format!("t{k}"), &addr(k, 1)));
                }
                if k > 0 {
                    let parent = (k - 1) / fanout;
                    let host = (k - first_of(parent, fanout)) as u32 + 2;
                    nd.interfaces.push(iface(2, &format!("t{parent}"), &addr(parent, host)));
                    pings.push((format!("n{parent}"), addr(parent, host).trim_end_matches("/24").to_string()));
                }
                s.nodes.push(nd);
            }
        }
        Topo::Mesh => {
            let mut link = 0;
            for i in 0..n {
                s.nodes.push(node(&format!("n{i}")));
            }
            for i in 0..n {
                for j in i + 1..n {
                    let l = format!("m{i}x{j}");
                    s.nets.push(net(&l, true));
                    let a = format!("10.{}.{}.{}/30", 100 + link / 64, (link % 64) * 4 / 256, (link * 4) % 256 + 1);
                    let b = format!("10.{}.{}.{}/30", 100 + link / 64, (link % 64) * 4 / 256, (link * 4) % 256 + 2);
                    let id_i = s.nodes[i].interfaces.len() as u32 + 1;
                    s.nodes[i].interfaces.push(iface(id_i, &l, &a));
                    let id_j = s.nodes[j].interfaces.len() as u32 + 1;
                    s.nodes[j].interfaces.push(iface(id_j, &l, &b));
                    pings.push((format!("n{i}"), b.trim_end_matches("/30").to_string()));
                    link += 1;
                }
            }
        }
    }
    (s, pings)
}

fn first_of(parent: usize, fanout: usize) -> usize {
    fanout * parent + 1
}

fn peak_rss_kb() -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss
}

/// vnx's resident memory now, in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// The CPU time the machine has spent so far, all cores, in seconds: what a step cost the
/// machine, the kernel's work for the lab with vnx's own. Wall-clock time hides it where the
/// cores wait (RTNL), and it is what grows when a lab does.
fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = busy_ticks(stat.lines().next()?)?;
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// The busy clock ticks of `/proc/stat`'s `cpu` line: user, nice, system, irq and softirq (not
/// idle, I/O wait, or steal, which is the hypervisor's).
fn busy_ticks(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let f: Vec<u64> = fields.map(|v| v.parse().ok()).collect::<Option<_>>()?;
    Some(f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)?)
}

/// Approves every plan and shows nothing (the bench prints its own table).
struct Quiet;

impl ops::Steer for Quiet {
    fn show(&mut self, _: &crate::plan::Plan) {}
    fn approve(&mut self, _: &crate::plan::Plan) -> Result<bool, String> {
        Ok(true)
    }
    fn event(&mut self, _: engine::Event<'_>) {}
}

struct Bench {
    state_path: PathBuf,
    state: vnx_state::State,
    parallelism: usize,
}

impl Bench {
    fn target(s: &Scenario) -> Target {
        Target {
            scenario: std::sync::Arc::new(s.clone()),
            source: "bench".into(),
            format: Format::Yaml,
            dir: PathBuf::from("."),
            report_source: Source::new("bench", ""),
        }
    }

    /// Plan (with refresh) and apply, as `vnx apply` does ([`ops::plan`], [`ops::converge`]);
    /// returns (planning time, total time, changes).
    async fn converge(&self, s: &Scenario, destroy: bool, apply: bool) -> Result<(Duration, Duration, usize), String> {
        let t0 = Instant::now();
        let name = s.name.value.clone();
        // As `vnx apply` does, on the desired resources' thread: the record's text written in
        // planning's idle time, from the target's scenario. The target (a copy: `vnx apply` has
        // the scenario it read) only for as long as the desired resources and that text take.
        let ahead = std::sync::OnceLock::new();
        let desired = || {
            if destroy {
                return Ok(vec![]);
            }
            let t = Bench::target(s);
            if apply {
                let _ = ahead.set(ops::RecordText::ahead(std::sync::Arc::clone(&t.scenario)));
            }
            common::desired_of(&t, &Default::default(), false)
        };
        let session = ops::Session { state: &self.state, path: &self.state_path };
        let (p, lab) =
            ops::plan::plan(session, &name, desired, &Options { destroy, ..Default::default() }, true).await?;
        let ahead = ahead.into_inner();
        let planned = t0.elapsed();
        if !apply || p.is_empty() {
            return Ok((planned, t0.elapsed(), p.changes.len()));
        }
        let job = ops::Job {
            command: if destroy { "destroy" } else { "apply" },
            scenario: s,
            source: "bench",
            format: Format::Yaml,
            forget_when_empty: destroy,
            parallelism: self.parallelism,
            stop: Default::default(),
            ahead,
        };
        let applied = ops::converge(session, &job, &p, lab, &mut Quiet).await?;
        if applied.status != ops::Status::Ok {
            let first = applied.outcomes.iter().find_map(|(i, o)| match o {
                engine::Outcome::Failed(e) => Some(format!("{}: {e}", p.actions[*i].id)),
                _ => None,
            });
            return Err(format!("the apply failed: {}", first.unwrap_or_else(|| applied.status.as_str().into())));
        }
        Ok((planned, t0.elapsed(), p.changes.len()))
    }

    fn ping_all(&self, name: &str, pings: &[(String, String)]) -> Result<(), String> {
        let inits: std::collections::HashMap<String, Init> = crate::ops::lab::recorded_of(&self.state, name)?
            .into_iter()
            .filter(|r| r.id.kind == kind::NODE)
            .filter_map(|r| serde_json::from_value(r.runtime.clone()).ok().map(|i| (r.id.name.clone(), i)))
            .collect();
        let failures = std::sync::Mutex::new(Vec::new());
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..16 {
                sc.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((node, target)) = pings.get(i) else { break };
                    let Some(init) = inits.get(node) else { continue };
                    let ok = std::process::Command::new("nsenter")
                        .arg(format!("--net={}", init.netns_path()))
                        .args(["ping", "-c1", "-W2", target])
                        .output()
                        .is_ok_and(|o| o.status.success());
                    if !ok {
                        failures.lock().unwrap().push(format!("{node} -> {target}"));
                    }
                });
            }
        });
        // A ping that timed out under load gets one more, unhurried, try.
        let f: Vec<String> = failures
            .into_inner()
            .unwrap()
            .into_iter()
            .filter(|f| {
                let (node, target) = f.split_once(" -> ").unwrap_or_default();
                let Some(init) = inits.get(node) else { return true };
                !std::process::Command::new("nsenter")
                    .arg(format!("--net={}", init.netns_path()))
                    .args(["ping", "-c3", "-i0.5", "-W3", target])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .collect();
        if f.is_empty() {
            Ok(())
        } else {
            Err(format!("{} of {} pings failed, e.g. {}", f.len(), pings.len(), f[0]))
        }
    }
}

/// Links in the benchmark's host namespace (a netlink dump: /sys shows another namespace).
/// Links in the host's namespace and in the lab's own (loopbacks not counted).
async fn lab_links(scenario: &str) -> (usize, usize) {
    let count = |nl: vnx_providers::Result<vnx_providers::netlink::Netlink>| async move {
        match nl {
            Ok(nl) => nl.links().await.map(|l| l.len().saturating_sub(1)).unwrap_or(0),
            Err(_) => 0,
        }
    };
    let host = count(vnx_providers::netlink::Netlink::current()).await;
    // Every namespace of the lab's (a big lab has several), until one is missing.
    let mut lab = 0;
    for k in 0.. {
        match vnx_providers::ns::open_bound_netns(&vnx_providers::names::lab_shard_netns(scenario, k)) {
            Some(fd) => lab += count(vnx_providers::netlink::Netlink::in_netns(fd).await).await,
            None => break,
        }
    }
    (host, lab)
}

pub fn run(c: BenchCmd) -> i32 {
    if !c.sweep.is_empty() {
        return run_sweep(&c);
    }
    let n = c.n.unwrap_or(0);
    if c.emit {
        let (s, _) = generate(&format!("{:?}{}", c.topo, n).to_lowercase(), c.topo, n, c.fanout);
        let s = if c.ovs { on_ovs(s) } else { s };
        print!("{}", crate::scenario::write(&s, crate::scenario::Format::Yaml));
        return super::EXIT_OK;
    }
    let name = format!("bench{}", std::process::id());
    let (s, pings) = generate(&name, c.topo, n, c.fanout);
    let s = if c.ovs { on_ovs(s) } else { s };
    if c.ovs && c.hosts > 0 {
        return fail("--ovs and --hosts: a lab over many hosts on Open vSwitch is not measured yet");
    }
    let Some(strategy) = crate::cluster::placement::Strategy::parse(&c.strategy) else {
        return fail(&format!("--strategy {}: write min-cut, round-robin or weighted", c.strategy));
    };
    // Before leaving the initial network namespace, the only one with these settings.
    crate::ops::lab::prepare_host(&s);
    // A network namespace of our own plays the host: nothing reaches the real one.
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        eprintln!("error: cannot create the benchmark's network namespace (run as root): {e}");
        return super::EXIT_ERROR;
    }
    let dir = std::env::temp_dir().join(format!("vnx-bench-{}", std::process::id()));
    let state_path = dir.join("state.db");
    let state = match common::open_state(&state_path) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let b = Bench { state_path, state, parallelism: c.parallelism };
    // A lab vnx would refuse is refused before any waiting.
    if let Err(e) = common::desired_of(&Bench::target(&s), &Default::default(), false) {
        let _ = std::fs::remove_dir_all(&dir);
        return fail(&e);
    }
    wait_for_netns_cleanup(Duration::from_secs(c.settle));
    let label = match c.topo {
        Topo::Tree => format!("tree {} (fanout {}, {} nodes)", n, c.fanout, s.nodes.len()),
        t => format!("{t:?} {}", n).to_lowercase(),
    };
    eprintln!("vnx bench: {label}: {} nodes, {} nets", s.nodes.len(), s.nets.len());
    let rt = common::runtime();
    let mut rows: Vec<(String, f64, String)> = Vec::new();
    let mut kernel_kib_per_node = None;
    let mut apply_cpu = None;
    // Changed in place for the steps that add a node and change an address, and put back after
    // (copies of a 10,000-node scenario would count in vnx's peak memory).
    let mut s = s;
    let result: Result<(), String> = rt.block_on(async {
        let s = &mut s;
        let before = (crate::ops::limits::host().mem_available_kib, rss_kib());
        let cpu0 = machine_cpu_seconds();
        let (_, t, n) = b.converge(s, false, true).await?;
        apply_cpu = cpu0.zip(machine_cpu_seconds()).map(|(a, b)| b - a);
        let after = (crate::ops::limits::host().mem_available_kib, rss_kib());
        // What the machine gave the lab: the memory gone, but for what vnx itself grew by.
        if let ((Some(b), Some(rb)), (Some(a), Some(ra))) = (before, after) {
            let lab = b.saturating_sub(a).saturating_sub(ra.saturating_sub(rb));
            kernel_kib_per_node = Some(lab as f64 / s.nodes.len().max(1) as f64);
        }
        let (host, lab) = lab_links(&name).await;
        let objects = format!(
            "{n} resources, {host} links in the host, {lab} in the lab's namespaces, {} node namespaces, {} kB of memory a node, {} CPU-seconds of the machine",
            s.nodes.len(),
            kernel_kib_per_node.map_or("?".into(), |k| format!("{k:.0}")),
            apply_cpu.map_or("?".into(), |c| format!("{c:.1}"))
        );
        rows.push(("apply from nothing".into(), t.as_secs_f64(), objects));
        let t0 = Instant::now();
        b.ping_all(&name, &pings)?;
        rows.push((format!("check: {} pings", pings.len()), t0.elapsed().as_secs_f64(), "all answered".into()));
        let (planned, _, n) = b.converge(s, false, false).await?;
        if n != 0 {
            return Err(format!("the no-op plan has {n} changes"));
        }
        rows.push(("no-op plan with refresh".into(), planned.as_secs_f64(), "no changes".into()));
        // Add one node on the first net (or on its own for a mesh).
        let mut extra = node("added");
        let first_net = s.nets.first().map(|n| n.name.value.clone()).unwrap_or_default();
        if c.topo != Topo::Mesh && !first_net.is_empty() {
            let a = if c.topo == Topo::Star { "10.200.0.1/16".to_string() } else { addr(0, 250) };
            extra.interfaces.push(iface(1, &first_net, &a));
        }
        s.nodes.push(extra);
        let (_, t, n) = b.converge(s, false, true).await?;
        rows.push(("add one node (plan + apply)".into(), t.as_secs_f64(), format!("{n} changes")));
        // Change one address.
        let mut old_addrs = None;
        if let Some(i) = s.nodes[0].interfaces.first_mut() {
            let old = i.ipv4[0].to_string();
            let new = old.replacen(".1/", ".9/", 1).replacen(".2/", ".9/", 1);
            old_addrs = Some(std::mem::replace(&mut i.ipv4, vec![ipv4(&new)]));
        }
        let (_, t, n) = b.converge(s, false, true).await?;
        rows.push(("change one address (plan + apply)".into(), t.as_secs_f64(), format!("{n} changes")));
        let (_, t, n) = b.converge(s, true, true).await?;
        rows.push(("destroy".into(), t.as_secs_f64(), format!("{n} resources")));
        // The generated lab again, for what follows (over hosts).
        s.nodes.pop();
        if let (Some(i), Some(a)) = (s.nodes[0].interfaces.first_mut(), old_addrs) {
            i.ipv4 = a;
        }
        Ok(())
    });
    // Nothing of the lab may stay: namespaces, mounts, processes, links.
    let result = result.and_then(|()| {
        let t0 = Instant::now();
        let mut left = leftovers(&name);
        // The benchmark's host namespace is its own: any link in it is the lab's.
        let (host_links, _) = rt.block_on(lab_links(&name));
        if host_links > 0 {
            left.push(format!("{host_links} links in the host"));
        }
        match left {
            left if left.is_empty() => {
                rows.push((
                    "check: nothing left".into(),
                    t0.elapsed().as_secs_f64(),
                    "no namespace, mount, process or link".into(),
                ));
                Ok(())
            }
            left => Err(format!("the destroy left {}", left.join(", "))),
        }
    });
    // Whatever happened, nothing stays: destroy what is recorded.
    if result.is_err() {
        let _ = rt.block_on(b.converge(&s, true, true));
    }
    // Over hosts: the same lab, once the kernel has taken the single-host one apart.
    let mut spread = None;
    let mut result = result;
    if c.hosts > 0 && result.is_ok() {
        wait_for_netns_cleanup(Duration::from_secs(c.settle));
        eprintln!("vnx bench: {label} over {} hosts ({})", c.hosts, strategy.name());
        match cluster::run(&s, c.hosts, strategy, &dir) {
            Ok(r) => rows.extend(r),
            Err(e) => result = Err(e),
        }
        match cluster::segments_table(n.max(s.nodes.len()), c.fanout, c.hosts) {
            Ok(t) => spread = Some(t),
            Err(e) => result = Err(e),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let step = |prefix: &str| rows.iter().find(|r| r.0.starts_with(prefix)).map(|r| r.1);
    let overhead = match (step("apply from nothing over"), step("apply from nothing")) {
        (Some(over), Some(one)) => Some(over / one.max(1e-9)),
        _ => None,
    };
    let rss_mb = peak_rss_kb() as f64 / 1024.0;
    let mut mininet = None;
    if c.mininet && c.topo == Topo::Linear {
        mininet = run_mininet(n);
    }
    if c.json {
        let steps: Vec<serde_json::Value> =
            rows.iter().map(|(s, t, d)| json!({"step": s, "seconds": t, "detail": d})).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "topology": label, "nodes": s.nodes.len(), "nets": s.nets.len(), "parallelism": c.parallelism,
                "steps": steps, "peak_rss_mb": rss_mb, "kernel_kib_per_node": kernel_kib_per_node, "apply_cpu_seconds": apply_cpu, "mininet_seconds": mininet, "ok": result.is_ok(),
                "error": result.as_ref().err(), "hosts": c.hosts, "distribution_overhead": overhead,
                "segments": spread,
            }))
            .expect("json")
        );
    } else {
        println!("{label}: {} nodes, {} nets, parallelism {}", s.nodes.len(), s.nets.len(), c.parallelism);
        println!("{:<36} {:>10}  {}", "STEP", "SECONDS", "");
        for (step, t, d) in &rows {
            println!("{step:<36} {t:>10.3}  {d}");
        }
        println!("{:<36} {:>10.1}  MB", "peak RSS of vnx", rss_mb);
        if let Some(o) = overhead {
            println!(
                "{:<36} {:>10.2}× (apply over {} hosts / on one; the same kernel does both)",
                "distribution overhead", o, c.hosts
            );
        }
        if let Some(t) = &spread {
            println!("\nVXLAN over {} hosts: crossing nets / VXLAN devices, min-cut against round-robin", c.hosts);
            println!(
                "{:<10} {:>6} {:>6}  {:>16}  {:>16}  {:>8}",
                "TOPOLOGY", "NODES", "NETS", "MIN-CUT", "ROUND-ROBIN", "FEWER"
            );
            for r in t {
                let pair = |k: &str| format!("{} / {}", r[k]["crossing_nets"], r[k]["vxlan_devices"]);
                let fewer = match (r["fewer"].as_f64(), r["round_robin"]["vxlan_devices"].as_u64()) {
                    (Some(f), _) => format!("{f:.0}×"),
                    (None, Some(0)) => "-".to_string(),
                    (None, _) => "all".to_string(),
                };
                println!(
                    "{:<10} {:>6} {:>6}  {:>16}  {:>16}  {:>8}",
                    r["topology"].as_str().unwrap_or("?"),
                    r["nodes"].as_u64().unwrap_or(0),
                    r["nets"].as_u64().unwrap_or(0),
                    pair("min_cut"),
                    pair("round_robin"),
                    fewer
                );
            }
        }
        if let Some(m) = mininet {
            let ours: f64 = rows.iter().filter(|r| r.0 == "apply from nothing" || r.0 == "destroy").map(|r| r.1).sum();
            println!(
                "{:<36} {:>10.3}  (vnx up + down: {ours:.3} s, {:.1}× faster)",
                "mininet linear up + down",
                m,
                m / ours.max(1e-9)
            );
        }
    }
    match result {
        Ok(()) => super::EXIT_OK,
        Err(e) => fail(&e),
    }
}

/// `--sweep`: each size in a process of its own, then the table and the plot.
fn run_sweep(c: &BenchCmd) -> i32 {
    let topo = format!("{:?}", c.topo).to_lowercase();
    let mut args = vec![
        topo.clone(),
        "--fanout".into(),
        c.fanout.to_string(),
        "--parallelism".into(),
        c.parallelism.to_string(),
        "--settle".into(),
        c.settle.to_string(),
    ];
    if c.ovs {
        args.push("--ovs".into());
    }
    // Each run gets its size after these: `vnx bench TOPO [options] N`.
    let points = match sweep::run(&c.sweep, &args) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let title = format!("vnx bench {topo}{}: seconds against N", if c.ovs { " --ovs" } else { "" });
    if c.json {
        let v: Vec<serde_json::Value> = points.iter().map(|p| json!({"n": p.n, "report": p.report})).collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        print!("{}", sweep::table(&points));
    }
    if let Err(e) = sweep::write_plot(&points, &title, &c.plot) {
        return fail(&e);
    }
    eprintln!("The plot is in {}.", c.plot.display());
    super::EXIT_OK
}

/// Waits (up to `limit`) until the kernel has finished dismantling the network namespaces of
/// earlier labs. Deleting a namespace returns at once and the kernel takes it apart afterwards
/// in its `netns` workqueue, for tens of seconds after a 1000-node destroy, holding RTNL for
/// long stretches: a lab applied meanwhile waits for it (a 100-node apply took 2 to 17 s instead
/// of 0.6). That is an earlier lab's cost, not this one's, so the benchmark starts on a quiet
/// kernel: no worker busy with that queue (`kworker/…+netns`, "+" while it runs work) for a
/// second.
fn wait_for_netns_cleanup(limit: Duration) {
    let busy = || {
        std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.starts_with("kworker/") && c.trim_end().ends_with("+netns"))
        })
    };
    let t0 = Instant::now();
    let mut quiet_since = Instant::now();
    let mut said = false;
    while !limit.is_zero() && t0.elapsed() < limit && quiet_since.elapsed() < Duration::from_secs(1) {
        if busy() {
            if !said {
                eprintln!("vnx bench: waiting for the kernel to finish dismantling earlier labs' namespaces…");
                said = true;
            }
            quiet_since = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if said {
        eprintln!("vnx bench: waited {:.1} s", t0.elapsed().as_secs_f64());
    }
}

fn run_mininet(n: usize) -> Option<f64> {
    let t0 = Instant::now();
    let out = std::process::Command::new("mn")
        .args(["--topo", &format!("linear,{n}"), "--switch", "lxbr", "--controller", "none", "--test", "none"])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(t0.elapsed().as_secs_f64()),
        Ok(o) => {
            eprintln!("mininet failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or_default());
            None
        }
        Err(_) => {
            eprintln!("mininet is not installed (Debian package mininet)");
            None
        }
    }
}

/// What a lab left on the machine after its destroy: names in /run/netns, mounts of the
/// machine's namespace that name it, processes running from its directory, its runtime
/// directory (links in the benchmark's host namespace are counted by the caller). Polled a while: the kernel finishes killing nodes after destroy returns.
fn leftovers(scenario: &str) -> Vec<String> {
    let run_dir = vnx_providers::ns::run_dir(scenario).map(|d| d.display().to_string()).unwrap_or_default();
    // The names of the lab's namespaces: its nodes', its own, its own's shards.
    let (nodes, lab) = (vnx_providers::names::node_netns(scenario, ""), vnx_providers::names::lab_netns(scenario));
    let shards = format!("{lab}.");
    let in_run_dir = format!("{run_dir}/");
    let look = || {
        let mut left = Vec::new();
        let ours = |n: &str| n.starts_with(&nodes) || n == lab || n.starts_with(&shards);
        let names = std::fs::read_dir("/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| ours(&e.file_name().to_string_lossy()))
            .count();
        if names > 0 {
            left.push(format!("{names} names in /run/netns"));
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounts = mounts.lines().filter(|l| l.contains(&run_dir) || l.contains(&nodes) || l.contains(&lab)).count();
        if mounts > 0 {
            left.push(format!("{mounts} mounts"));
        }
        let procs = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&in_run_dir))
            })
            .count();
        if procs > 0 {
            left.push(format!("{procs} processes"));
        }
        if std::path::Path::new(&run_dir).exists() {
            left.push(format!("the directory {run_dir}"));
        }
        left
    };
    let t0 = Instant::now();
    let mut left = look();
    while !left.is_empty() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        left = look();
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ticks_count_work_not_waiting() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        assert_eq!(busy_ticks("cpu  100 2 30 5000 40 6 7 800 0 0"), Some(100 + 2 + 30 + 6 + 7));
        assert_eq!(busy_ticks("cpu0 100 2 30 5000 40 6 7 800 0 0"), None, "one core's line is not the machine's");
        assert_eq!(busy_ticks("cpu  100 2"), None);
        assert!(machine_cpu_seconds().is_some_and(|s| s > 0.0));
    }
}
