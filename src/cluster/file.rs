//! The cluster file: the hosts a lab may span, how to reach each, its underlay address (the
//! one VXLAN uses), its share of the nodes; the VNI range; the placement strategy. YAML, or
//! EDIV's `cluster.conf` (INI), read with notes on what vnx does differently.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::placement::{Constraints, Host, Strategy};

/// A cluster, as read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub hosts: Vec<ClusterHost>,
    /// VNIs vnx may give the nets that cross hosts.
    pub vni: (u32, u32),
    pub placement: Strategy,
    /// Pins and (anti-)affinities, as EDIV's restriction file gave them.
    pub constraints: Constraints,
    /// What an EDIV file said that vnx does otherwise (shown to the user).
    pub notes: Vec<String>,
    /// An ssh configuration file for reaching the hosts (`ssh -F`), else the user's.
    pub ssh_config: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterHost {
    pub name: String,
    pub reach: Reach,
    /// The address VXLAN uses on this host (an IP address or a name that resolves to one).
    pub underlay: Option<String>,
    pub weight: f64,
    pub max_nodes: Option<usize>,
    /// Memory for nodes, MiB.
    pub mem: Option<u64>,
    /// The vnx command on the host (default `vnx`, found on the host's PATH).
    pub vnx: Option<String>,
}

/// How vnx reaches a host.
#[derive(Clone, Debug, PartialEq)]
pub enum Reach {
    /// The machine vnx runs on: operations in-process.
    Local,
    /// `user@address`, through the system's `ssh` (the user's ssh configuration applies).
    Ssh(String),
    /// The network, mount and PID namespaces of a process of this machine (`vnx bench
    /// --hosts`'s hosts): the agent runs there through `nsenter`. Not written in cluster files.
    Namespaces(u32),
}

impl Cluster {
    /// The hosts as placement sees them.
    pub fn placement_hosts(&self) -> Vec<Host> {
        self.hosts.iter().map(|h| Host { name: h.name.clone(), weight: h.weight, max_nodes: h.max_nodes }).collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlCluster {
    hosts: Vec<YamlHost>,
    #[serde(default)]
    vni: Option<YamlVni>,
    #[serde(default)]
    placement: Option<String>,
    #[serde(default)]
    constraints: YamlConstraints,
    #[serde(default)]
    ssh_config: Option<String>,
}

/// EDIV's restriction rules, by their names.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlConstraints {
    #[serde(default)]
    vm_deploy_at: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    net_deploy_at: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    affinity: Vec<Vec<String>>,
    #[serde(default)]
    antiaffinity: Vec<Vec<String>>,
    #[serde(default)]
    net_deploy_together: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlHost {
    name: String,
    ssh: String,
    #[serde(default)]
    underlay: Option<String>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    max_nodes: Option<usize>,
    #[serde(default)]
    mem: Option<u64>,
    #[serde(default)]
    vnx: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlVni {
    first: u32,
    last: u32,
}

/// VXLAN's default VNI range when the file gives none.
pub const DEFAULT_VNI: (u32, u32) = (6000, 6999);

/// Reads a cluster file's text (`what` names it in messages): EDIV's INI when it has a
/// `[cluster]` section, else YAML.
pub fn parse(what: &str, text: &str) -> Result<Cluster, String> {
    let cluster = if text.lines().any(|l| l.trim() == "[cluster]") { ediv(what, text)? } else { yaml(what, text)? };
    check(what, &cluster)?;
    Ok(cluster)
}

fn yaml(what: &str, text: &str) -> Result<Cluster, String> {
    let y: YamlCluster = serde_yaml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
    let placement = match y.placement.as_deref() {
        None => Strategy::MinCut,
        Some(p) => Strategy::parse(p)
            .ok_or_else(|| format!("{what}: placement `{p}`: write static, round-robin, weighted or min-cut"))?,
    };
    let hosts = y
        .hosts
        .into_iter()
        .map(|h| ClusterHost {
            reach: if h.ssh == "local" { Reach::Local } else { Reach::Ssh(h.ssh) },
            name: h.name,
            underlay: h.underlay,
            weight: h.weight.unwrap_or(1.0),
            max_nodes: h.max_nodes,
            mem: h.mem,
            vnx: h.vnx,
        })
        .collect();
    let c = y.constraints;
    let constraints = Constraints {
        node_at: c.vm_deploy_at,
        net_at: c.net_deploy_at,
        affinity: c.affinity,
        antiaffinity: c.antiaffinity,
        net_together: c.net_deploy_together,
    };
    let vni = y.vni.map_or(DEFAULT_VNI, |v| (v.first, v.last));
    Ok(Cluster { hosts, vni, placement, constraints, notes: vec![], ssh_config: y.ssh_config })
}

/// EDIV's `cluster.conf`: `[vlan]` becomes the VNI range, `[cluster]`'s `host =` lines and each
/// host's section the hosts (`host_name` reached as root over SSH, `cpu` its weight,
/// `max_vms` its `max_nodes`).
fn ediv(what: &str, text: &str) -> Result<Cluster, String> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = vec![];
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or_default().trim();
        if l.is_empty() {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_string(), vec![]));
            continue;
        }
        let (k, v) = l.split_once('=').ok_or_else(|| format!("{what}:{}: `{l}` is not KEY = VALUE", i + 1))?;
        let section = sections.last_mut().ok_or_else(|| format!("{what}:{}: a key before any [section]", i + 1))?;
        section.1.push((k.trim().to_string(), v.trim().to_string()));
    }
    let section = |name: &str| sections.iter().find(|(n, _)| n == name).map(|(_, kv)| kv.as_slice()).unwrap_or(&[]);
    let get = |kv: &[(String, String)], k: &str| kv.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let num = |s: &str, v: String| v.parse::<u64>().map_err(|_| format!("{what}: {s} = {v}: not a number"));
    let mut notes = vec![];
    let vlan = section("vlan");
    let vni = match (get(vlan, "first"), get(vlan, "last")) {
        (Some(f), Some(l)) => {
            notes.push(format!(
                "[vlan] {f}-{l} is used as the VNI range: vnx joins the hosts' halves of a net with VXLAN over \
                 each host's underlay address, not with VLANs on a trunk switch"
            ));
            (num("first", f)? as u32, num("last", l)? as u32)
        }
        _ => DEFAULT_VNI,
    };
    let cluster = section("cluster");
    let placement = match get(cluster, "default_segmentation").as_deref() {
        None => Strategy::MinCut,
        Some("RoundRobin") => Strategy::RoundRobin,
        Some("WeightedRoundRobin") => Strategy::Weighted,
        Some("DynamicWeightedRoundRobin") => {
            notes.push("DynamicWeightedRoundRobin (chosen by load average) is read as weighted".into());
            Strategy::Weighted
        }
        Some(other) => return Err(format!("{what}: default_segmentation = {other}: EDIV's are RoundRobin, WeightedRoundRobin, DynamicWeightedRoundRobin")),
    };
    if !section("db").is_empty() {
        notes.push("[db] is not used: vnx records the lab on each host and its ledger on this one".into());
    }
    if get(cluster, "mgmt_network").is_some() {
        notes.push("mgmt_network is not used: each scenario's <vm_mgmt> says its management network".into());
    }
    let mut hosts = vec![];
    for name in cluster.iter().filter(|(k, _)| k == "host").map(|(_, v)| v) {
        let kv = section(name);
        let address = get(kv, "host_name").unwrap_or_else(|| name.clone());
        if let Some(ifn) = get(kv, "if_name") {
            notes.push(format!(
                "[{name}] if_name = {ifn} is not used: VXLAN goes over the underlay address ({address})"
            ));
        }
        let max = get(kv, "max_vms").map(|v| num("max_vms", v)).transpose()?;
        hosts.push(ClusterHost {
            name: name.clone(),
            reach: Reach::Ssh(format!("root@{address}")),
            underlay: Some(address),
            weight: get(kv, "cpu").map(|v| num("cpu", v)).transpose()?.map_or(1.0, |c| c as f64),
            max_nodes: max.filter(|m| *m > 0).map(|m| m as usize),
            mem: get(kv, "mem").map(|v| num("mem", v)).transpose()?,
            vnx: None,
        });
    }
    Ok(Cluster { hosts, vni, placement, constraints: Constraints::default(), notes, ssh_config: None })
}

/// What must hold whatever the form.
fn check(what: &str, c: &Cluster) -> Result<(), String> {
    if c.hosts.is_empty() {
        return Err(format!("{what}: no host: list at least one under `hosts:`"));
    }
    let mut seen = BTreeSet::new();
    for h in &c.hosts {
        vnx_providers::names::check(&h.name).map_err(|e| format!("{what}: host name `{}`: {e}", h.name))?;
        if !seen.insert(h.name.as_str()) {
            return Err(format!("{what}: host `{}` is listed twice", h.name));
        }
        if !(h.weight > 0.0 && h.weight.is_finite()) {
            return Err(format!("{what}: host `{}`: weight must be a positive number", h.name));
        }
        if let Reach::Ssh(s) = &h.reach {
            if s.is_empty() || s.starts_with('-') || s.chars().any(char::is_whitespace) {
                return Err(format!("{what}: host `{}`: ssh `{s}`: write USER@ADDRESS (or `local`)", h.name));
            }
        }
        if c.hosts.len() > 1 && h.underlay.is_none() {
            return Err(format!(
                "{what}: host `{}` has no `underlay:` address: VXLAN between the hosts needs one",
                h.name
            ));
        }
    }
    if c.hosts.iter().filter(|h| h.reach == Reach::Local).count() > 1 {
        return Err(format!("{what}: more than one host is `local`"));
    }
    for h in c.constraints.node_at.values().chain(c.constraints.net_at.values()) {
        if !c.hosts.iter().any(|x| x.name == *h) {
            return Err(format!("{what}: constraints name host `{h}`, which is not under `hosts:`"));
        }
    }
    let (first, last) = c.vni;
    if first == 0 || first > last || last > 0xff_ffff {
        return Err(format!("{what}: vni {first}-{last}: a range within 1-16777215, first ≤ last"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_yaml_form_reads() {
        let c = parse(
            "cluster.yaml",
            "hosts:\n  - {name: alpha, ssh: root@192.168.250.1, underlay: 192.168.250.1, weight: 1}\n  \
             - {name: bravo, ssh: root@192.168.250.2, underlay: 192.168.250.2, max_nodes: 40}\n  \
             - {name: here, ssh: local, underlay: 192.168.250.3}\nvni: {first: 6000, last: 6099}\nplacement: min-cut\n",
        )
        .unwrap();
        assert_eq!(c.hosts.len(), 3);
        assert_eq!(c.hosts[0].reach, Reach::Ssh("root@192.168.250.1".into()));
        assert_eq!(c.hosts[1].max_nodes, Some(40));
        assert_eq!(c.hosts[2].reach, Reach::Local);
        assert_eq!((c.vni, c.placement), ((6000, 6099), Strategy::MinCut));
        assert!(c.notes.is_empty());
        let c = parse(
            "c.yaml",
            "hosts:\n  - {name: a, ssh: local, underlay: 10.0.0.1}\n  - {name: b, ssh: root@b, underlay: 10.0.0.2}\n\
             constraints:\n  vm_deploy_at: {r1: b}\n  antiaffinity: [[r1, r2]]\n  net_deploy_together: [Net0]\n",
        )
        .unwrap();
        assert_eq!(c.constraints.node_at["r1"], "b");
        assert_eq!(c.constraints.antiaffinity, [["r1".to_string(), "r2".to_string()]]);
        assert_eq!(c.constraints.net_together, ["Net0"]);
    }

    #[test]
    fn edivs_cluster_conf_reads_with_notes() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vnx-corpus/ediv-cluster.conf"))
                .unwrap();
        let c = parse("cluster.conf", &text).unwrap();
        let names: Vec<&str> = c.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["host1", "host2", "host3"]);
        assert_eq!(c.hosts[0].reach, Reach::Ssh("root@host1.domain.org".into()));
        assert_eq!((c.hosts[0].weight, c.hosts[1].weight), (200.0, 100.0));
        assert_eq!(c.hosts[0].max_nodes, None, "max_vms = 0 is unlimited");
        assert_eq!(c.hosts[0].mem, Some(8192));
        assert_eq!((c.vni, c.placement), ((1000, 1039), Strategy::RoundRobin));
        assert!(c.notes.iter().any(|n| n.contains("VXLAN")), "{:?}", c.notes);
        assert!(c.notes.iter().any(|n| n.contains("if_name = eth1")), "{:?}", c.notes);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = [
            ("hosts: []\n", "no host"),
            (
                "hosts:\n  - {name: a, ssh: local, underlay: z}\n  - {name: a, ssh: root@x, underlay: x}\n",
                "listed twice",
            ),
            ("hosts:\n  - {name: a, ssh: root@x}\n  - {name: b, ssh: root@y, underlay: y}\n", "no `underlay:`"),
            ("hosts:\n  - {name: ../a, ssh: local}\n", "host name"),
            ("hosts:\n  - {name: a, ssh: local, speed: 3}\n", "unknown field `speed`"),
            ("hosts:\n  - {name: a, ssh: -oProxyCommand=x}\n", "USER@ADDRESS"),
            ("hosts:\n  - {name: a, ssh: local, weight: 0}\n", "weight"),
            ("hosts:\n  - {name: a, ssh: local}\nvni: {first: 10, last: 5}\n", "vni 10-5"),
            ("hosts:\n  - {name: a, ssh: local}\nplacement: random\n", "placement `random`"),
            ("hosts:\n  - {name: a, ssh: local}\nconstraints: {vm_deploy_at: {h1: b}}\n", "host `b`"),
            ("hosts:\n  - {name: a, ssh: local}\nconstraints: {affinty: []}\n", "unknown field `affinty`"),
        ];
        for (text, says) in bad {
            let e = parse("c.yaml", text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
