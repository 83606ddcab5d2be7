//! `vnx place`: where each node of a scenario would run on a cluster (the placement that the
//! multi-host `plan --cluster` will use), and the nets that would cross hosts.

use std::path::PathBuf;

use super::common;
use super::fail;
use crate::cluster::{file, layout, placement};

/// Show where each node of a scenario would run on a cluster of hosts.
///
/// Reads the cluster file (YAML, or EDIV's cluster.conf) and places the scenario's nodes:
/// min-cut by default (few nets across hosts, nodes balanced by weight), or EDIV's round robin
/// or weighted round robin. Nothing is built: `vnx plan --cluster` and `vnx apply --cluster` do.
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
    let l = match layout::layout(s, &cluster, strategy, &layout::Recorded::default(), false) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let on = |h: &str| -> Vec<&str> {
        s.nodes
            .iter()
            .map(|n| n.name.value.as_str())
            .filter(|n| l.placement.get(*n).map(String::as_str) == Some(h))
            .collect()
    };
    let name = s.name.value.as_str();
    let strategy_name = strategy.name();
    if c.json {
        let hosts: serde_json::Map<String, serde_json::Value> =
            cluster.hosts.iter().map(|h| (h.name.clone(), serde_json::json!(on(&h.name)))).collect();
        let doc = serde_json::json!({
            "scenario": name, "strategy": strategy_name, "nodes": l.placement, "hosts": hosts,
            "cross_host_nets": l.vnis
                .iter()
                .map(|(n, v)| serde_json::json!({"net": n, "hosts": l.spans[n], "vni": v}))
                .collect::<Vec<_>>(),
            "cost": l.cost, "notes": cluster.notes,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return super::EXIT_OK;
    }
    println!(
        "{name} over {} hosts ({strategy_name}): {} of {} nets cross hosts.",
        cluster.hosts.len(),
        l.vnis.len(),
        l.spans.len()
    );
    super::cluster::print_placement(&cluster, &l.placement);
    for (net, vni) in &l.vnis {
        let hosts = l.spans[net].iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        println!("net {net} spans {hosts} (VNI {vni})");
    }
    super::EXIT_OK
}
