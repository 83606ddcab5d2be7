//! `vnx place`: where each node of a scenario would run on a cluster (the placement that the
//! multi-host `plan --cluster` will use), and the nets that would cross hosts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::common;
use super::fail;
use crate::cluster::{file, placement};

/// Show where each node of a scenario would run on a cluster of hosts.
///
/// Reads the cluster file (YAML, or EDIV's cluster.conf) and places the scenario's nodes:
/// min-cut by default (few nets across hosts, nodes balanced by weight), or EDIV's round robin
/// or weighted round robin. Nothing is built (running labs over many hosts is not there yet).
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx place lab.xml --cluster cluster.yaml\n  vnx place lab.xml --cluster /etc/ediv/cluster.conf --strategy round-robin --json\n\n\
cluster.yaml:\n  hosts:\n    - {name: alpha, ssh: root@192.168.250.1, underlay: 192.168.250.1, weight: 1}\n    \
- {name: bravo, ssh: root@192.168.250.2, underlay: 192.168.250.2, max_nodes: 50}\n  vni: {first: 6000, last: 6099}\n  placement: min-cut\n  \
constraints:          # EDIV's restriction rules\n    vm_deploy_at: {r1: alpha}\n    affinity: [[h1, h2]]\n    antiaffinity: [[r1, r2]]\n    \
net_deploy_at: {Net3: bravo}\n    net_deploy_together: [Net0]"
)]
pub struct PlaceCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The cluster file.
    #[arg(long, env = "VNX_CLUSTER", hide_env_values = true, value_name = "FILE")]
    pub cluster: PathBuf,
    /// static, round-robin, weighted or min-cut (default: the cluster file's, else min-cut).
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: PlaceCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    let text = match crate::scenario::limits::read_to_string(&c.cluster) {
        Ok(t) => t,
        Err(e) => return fail(&format!("cannot read {}: {e}", c.cluster.display())),
    };
    let cluster = match file::parse(&c.cluster.display().to_string(), &text) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    for n in &cluster.notes {
        eprintln!("note: {n}");
    }
    let strategy = match c.strategy.as_deref().map(|s| placement::Strategy::parse(s).ok_or(s)) {
        None => cluster.placement,
        Some(Ok(s)) => s,
        Some(Err(s)) => return fail(&format!("--strategy {s}: write static, round-robin, weighted or min-cut")),
    };
    let state = common::open_state(&common::state_path(state_arg)).ok();
    let t = match common::resolve(&c.scenario, state.as_ref(), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let s = &t.scenario;
    let problem = placement::Problem {
        nodes: s.nodes.iter().map(|n| n.name.value.clone()).collect(),
        nets: s
            .nets
            .iter()
            .map(|net| {
                let members = s
                    .nodes
                    .iter()
                    .filter(|n| n.interfaces.iter().any(|i| i.net.value == net.name.value))
                    .map(|n| n.name.value.clone())
                    .collect();
                (net.name.value.clone(), members)
            })
            .collect(),
        constraints: cluster.constraints.clone(),
        ..Default::default()
    };
    let placed = match placement::place(&problem, &cluster.placement_hosts(), strategy) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let crossing: Vec<(&str, BTreeSet<&str>)> = problem
        .nets
        .iter()
        .map(|(net, m)| {
            (net.as_str(), m.iter().filter_map(|n| placed.get(n).map(String::as_str)).collect::<BTreeSet<_>>())
        })
        .filter(|(_, hosts)| hosts.len() > 1)
        .collect();
    let crossing_names: Vec<String> = crossing.iter().map(|(n, _)| n.to_string()).collect();
    let vnis = match crate::cluster::vni::allocate(&crossing_names, cluster.vni, &Default::default()) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    let on = |h: &str| -> Vec<&str> {
        problem.nodes.iter().filter(|n| placed.get(*n).map(String::as_str) == Some(h)).map(String::as_str).collect()
    };
    let name = s.name.value.as_str();
    let strategy_name = strategy.name();
    if c.json {
        let hosts: serde_json::Map<String, serde_json::Value> =
            cluster.hosts.iter().map(|h| (h.name.clone(), serde_json::json!(on(&h.name)))).collect();
        let doc = serde_json::json!({
            "scenario": name, "strategy": strategy_name, "nodes": placed, "hosts": hosts,
            "cross_host_nets": crossing
                .iter()
                .map(|(n, h)| serde_json::json!({"net": n, "hosts": h, "vni": vnis.get(*n)}))
                .collect::<Vec<_>>(),
            "cost": placement::cost(&placed, &problem.nets), "notes": cluster.notes,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return super::EXIT_OK;
    }
    println!(
        "{name} over {} hosts ({strategy_name}): {} of {} nets cross hosts.",
        cluster.hosts.len(),
        crossing.len(),
        problem.nets.len()
    );
    let width = cluster.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  NODES", "HOST");
    for h in &cluster.hosts {
        let nodes = on(&h.name);
        println!("{:<width$}  {:>3}  {}", h.name, nodes.len(), nodes.join(" "));
    }
    for (net, hosts) in &crossing {
        let hosts = hosts.iter().copied().collect::<Vec<_>>().join(", ");
        println!("net {net} spans {hosts} (VNI {})", vnis[*net]);
    }
    super::EXIT_OK
}
