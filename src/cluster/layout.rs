//! A cluster lab's layout: where each node runs ([`super::placement`]), the hosts each net
//! spans, the VNI of each net that crosses hosts ([`super::vni`]), the overlay MTU; and from
//! it each host's fragment: an ordinary scenario of the nodes placed there and the nets they
//! use, a crossing net carrying its VXLAN segment as that host sees it. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::file::Cluster;
use super::placement::{self, Problem, Strategy};
use crate::plan::desired::{automac, node_order};
use crate::scenario::values::NetMode;
use crate::scenario::{Scenario, Spanned};

/// VXLAN over an IPv4 underlay costs 50 bytes of each packet (outer IP 20, UDP 8, VXLAN 8,
/// inner Ethernet 14).
pub const VXLAN_OVERHEAD: u32 = 50;

/// Where things go, for one scenario on one cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Node → host.
    pub placement: placement::Placement,
    /// Net → the hosts it is on (every net is on at least one).
    pub spans: BTreeMap<String, BTreeSet<String>>,
    /// The VNI of each net on more than one host.
    pub vnis: BTreeMap<String, u32>,
    /// Σ over nets of (hosts spanned − 1): the VXLAN peerings.
    pub cost: usize,
    /// The host that takes the scenario's `<host>` section (the host's own interfaces).
    pub host_section: String,
}

/// What the last apply recorded of the layout (the ledger's part that keeps it sticky).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub placement: placement::Placement,
    pub vnis: BTreeMap<String, u32>,
}

/// The placement problem of a scenario: its nodes in document order, each net with its members,
/// the cluster file's constraints with the scenario's own pins (`<vm host=>`) added.
pub fn problem(s: &Scenario, cluster: &Cluster, recorded: &Recorded, rebalance: bool) -> Result<Problem, String> {
    // A plugin's file names nodes of the whole lab: each host would need its own part of it.
    if let Some(ext) = s.extensions.first() {
        return Err(format!(
            "VNX's `{}` plugin in a lab over many hosts is not supported yet: apply the lab on one host, or start its services with the nodes' <exec> commands",
            ext.plugin
        ));
    }
    let mut constraints = cluster.constraints.clone();
    for n in &s.nodes {
        let Some(h) = &n.host else { continue };
        let node = &n.name.value;
        if !cluster.hosts.iter().any(|x| x.name == h.value) {
            let names: Vec<&str> = cluster.hosts.iter().map(|x| x.name.as_str()).collect();
            return Err(format!(
                "node `{node}` asks for host `{}` (host=), which the cluster does not have (its hosts: {})",
                h.value,
                names.join(", ")
            ));
        }
        match constraints.node_at.get(node) {
            Some(other) if *other != h.value => {
                return Err(format!(
                    "node `{node}` asks for host `{}` (host=) but the cluster file's vm_deploy_at puts it on `{other}`: keep one",
                    h.value
                ))
            }
            _ => {
                constraints.node_at.insert(node.clone(), h.value.clone());
            }
        }
    }
    Ok(Problem {
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
        constraints,
        recorded: recorded.placement.clone(),
        rebalance,
    })
}

/// Places the scenario and gives each crossing net its VNI.
pub fn layout(
    s: &Scenario,
    cluster: &Cluster,
    strategy: Strategy,
    recorded: &Recorded,
    rebalance: bool,
) -> Result<Layout, String> {
    let problem = problem(s, cluster, recorded, rebalance)?;
    let placement = placement::place(&problem, &cluster.placement_hosts(), strategy)?;
    // The machine vnx runs on takes the host's own interfaces, else the first host.
    let host_section =
        cluster.hosts.iter().find(|h| h.reach == super::file::Reach::Local).unwrap_or(&cluster.hosts[0]).name.clone();
    let host_nets: BTreeSet<&str> =
        s.host.iter().flat_map(|h| h.interfaces.iter().map(|i| i.net.value.as_str())).collect();
    let mut spans = BTreeMap::new();
    for (net, members) in &problem.nets {
        let mut hosts: BTreeSet<String> = members.iter().filter_map(|m| placement.get(m).cloned()).collect();
        if hosts.is_empty() || host_nets.contains(net.as_str()) {
            hosts.insert(host_section.clone());
        }
        spans.insert(net.clone(), hosts);
    }
    let crossing: Vec<String> = spans.iter().filter(|(_, h)| h.len() > 1).map(|(n, _)| n.clone()).collect();
    let vnis = super::vni::allocate(&crossing, cluster.vni, &recorded.vnis)?;
    let cost = spans.values().map(|h| h.len() - 1).sum();
    Ok(Layout { placement, spans, vnis, cost, host_section })
}

/// Each host's underlay address as an IP (a name is resolved here, once).
pub fn underlays(cluster: &Cluster) -> Result<BTreeMap<String, IpAddr>, String> {
    use std::net::ToSocketAddrs;
    let mut out = BTreeMap::new();
    for h in &cluster.hosts {
        let Some(u) = &h.underlay else { continue };
        let ip = match u.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => (u.as_str(), 0)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .ok_or_else(|| format!("host `{}`: underlay `{u}` does not resolve to an address", h.name))?,
        };
        out.insert(h.name.clone(), ip);
    }
    Ok(out)
}

/// Host `host`'s fragment of `s`: the nodes placed there (MACs that automac would give them in
/// the whole scenario written out, so that they stay unique across hosts), the nets they use,
/// each crossing net as a bridge with its VXLAN segment (a point-to-point net too) at the
/// overlay MTU `mtu` unless the scenario gives one. The scenario's name stays the lab's.
pub fn fragment(
    s: &Scenario,
    layout: &Layout,
    underlay: &BTreeMap<String, IpAddr>,
    host: &str,
    mtu: Option<u32>,
) -> Scenario {
    let mut f = s.clone();
    let offset = s.automac.as_ref().map(|a| a.offset.as_ref().map_or(0, |o| o.value));
    let index: BTreeMap<&str, usize> =
        node_order(s).into_iter().enumerate().map(|(i, n)| (n.name.value.as_str(), i)).collect();
    f.nodes = s
        .nodes
        .iter()
        .filter(|n| layout.placement.get(&n.name.value).map(String::as_str) == Some(host))
        .cloned()
        .map(|mut n| {
            // Placed: the host's own vnx runs it where it is.
            n.host = None;
            if let Some(o) = offset {
                let i = index[n.name.value.as_str()];
                for iface in n.interfaces.iter_mut().filter(|x| x.mac.is_none()) {
                    iface.mac = Some(Spanned::new(automac(o, i, iface.id.value), iface.id.span));
                }
            }
            n
        })
        .collect();
    // The explicit MACs carry the whole scenario's numbering now.
    if offset.is_some() && !f.nodes.is_empty() {
        f.automac = None;
    }
    if host != layout.host_section {
        f.host = None;
    }
    prune_sequences(&mut f);
    f.nets = s
        .nets
        .iter()
        .filter(|n| layout.spans.get(&n.name.value).is_some_and(|h| h.contains(host)))
        .cloned()
        .map(|mut n| {
            let Some(vni) = layout.vnis.get(&n.name.value) else { return n };
            let others = &layout.spans[&n.name.value];
            let peers = others.iter().filter(|h| *h != host).filter_map(|h| underlay.get(h)).map(|ip| ip.to_string());
            n.vxlan = Some(crate::scenario::Vxlan {
                span: n.span,
                vni: *vni,
                local: underlay.get(host).map(|ip| ip.to_string()).unwrap_or_default(),
                peers: peers.collect(),
                port: None,
            });
            if n.mode.value == NetMode::Veth {
                n.mode.value = NetMode::VirtualBridge;
                n.kind = None;
            }
            if n.mtu.is_none() {
                n.mtu = mtu.map(|m| Spanned::new(m as u16, n.span));
            }
            n
        })
        .collect();
    f
}

/// A fragment's `<cmd-seq>`s keep only the steps that something on its host defines (the
/// others run on other hosts), and go when none is left: else each host would warn of the
/// others' sequences as undefined. Each round removes something, so it ends.
fn prune_sequences(f: &mut Scenario) {
    loop {
        let defined: std::collections::HashSet<String> =
            crate::scenario::validate::defined_sequences(f).into_iter().map(String::from).collect();
        let mut changed = false;
        let seqs = f.sequences.iter_mut().chain(f.nodes.iter_mut().flat_map(|n| n.sequences.iter_mut()));
        for c in seqs {
            let before = c.steps.len();
            c.steps.retain(|st| defined.contains(&st.value));
            changed |= c.steps.len() != before;
        }
        let before = f.sequences.len() + f.nodes.iter().map(|n| n.sequences.len()).sum::<usize>();
        f.sequences.retain(|c| !c.steps.is_empty());
        for n in &mut f.nodes {
            n.sequences.retain(|c| !c.steps.is_empty());
        }
        changed |= before != f.sequences.len() + f.nodes.iter().map(|n| n.sequences.len()).sum::<usize>();
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::file;

    const CLUSTER: &str = "hosts:\n  - {name: a, ssh: local, underlay: 10.9.0.1}\n  - {name: b, ssh: root@10.9.0.2, underlay: 10.9.0.2}\n  - {name: c, ssh: root@10.9.0.3, underlay: 10.9.0.3}\nvni: {first: 100, last: 199}\nplacement: round-robin\n";

    fn lab() -> Scenario {
        let yaml = "name: l\nversion: '2.0'\nautomac: {offset: 0}\nnets:\n  - {name: lan, mode: virtual_bridge}\n  - {name: p2p, mode: veth, type: p2p}\n  - {name: alone, mode: virtual_bridge}\n\
nodes:\n  - {name: n1, type: lxc, interfaces: [{id: 1, net: lan}, {id: 2, net: p2p}]}\n  - {name: n2, type: lxc, interfaces: [{id: 1, net: lan}, {id: 2, net: p2p}]}\n  - {name: n3, type: lxc, interfaces: [{id: 1, net: lan}]}\n";
        match crate::scenario::parse(yaml, crate::scenario::Format::Yaml).0 {
            Some(crate::scenario::Document::Scenario(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_host_gets_its_nodes_and_the_nets_they_use_with_the_segment_seen_from_it() {
        let s = lab();
        let c = file::parse("c", CLUSTER).unwrap();
        let l = layout(&s, &c, Strategy::RoundRobin, &Recorded::default(), false).unwrap();
        assert_eq!(l.placement["n1"], "a");
        assert_eq!(l.placement["n2"], "b");
        assert_eq!(l.placement["n3"], "c");
        assert_eq!(l.spans["lan"].len(), 3);
        assert_eq!(l.spans["alone"], BTreeSet::from(["a".to_string()]));
        assert_eq!(l.vnis.keys().collect::<Vec<_>>(), ["lan", "p2p"]);
        assert_eq!(l.cost, 2 + 1);
        let u = underlays(&c).unwrap();
        let fb = fragment(&s, &l, &u, "b", Some(1450));
        assert_eq!(fb.nodes.iter().map(|n| n.name.value.as_str()).collect::<Vec<_>>(), ["n2"]);
        assert_eq!(fb.nets.iter().map(|n| n.name.value.as_str()).collect::<Vec<_>>(), ["lan", "p2p"]);
        let lan = fb.net("lan").unwrap();
        let vx = lan.vxlan.as_ref().unwrap();
        assert_eq!((vx.vni, vx.local.as_str()), (l.vnis["lan"], "10.9.0.2"));
        assert_eq!(vx.peers, ["10.9.0.1", "10.9.0.3"]);
        assert_eq!(lan.mtu.as_ref().unwrap().value, 1450);
        // A crossing point-to-point net becomes a bridge with its segment.
        assert_eq!(fb.net("p2p").unwrap().mode.value, NetMode::VirtualBridge);
        // MACs as the whole scenario numbers them: n2 is the second node.
        let mac = fb.nodes[0].interfaces[0].mac.as_ref().unwrap().value;
        assert_eq!(mac, automac(0, 1, 1));
        let fa = fragment(&s, &l, &u, "a", None);
        assert!(fa.net("alone").unwrap().vxlan.is_none());
        assert_ne!(fa.nodes[0].interfaces[0].mac.as_ref().unwrap().value, mac);
    }

    #[test]
    fn a_node_that_names_its_host_runs_there_and_its_fragment_does_not_say_so() {
        let mut s = lab();
        s.nodes[2].host = Some(Spanned::bare("a".to_string()));
        let c = file::parse("c", CLUSTER).unwrap();
        let l = layout(&s, &c, Strategy::RoundRobin, &Recorded::default(), false).unwrap();
        assert_eq!(l.placement["n3"], "a");
        // Even against where it runs now: a pin is asked for, not a rebalance.
        let rec = Recorded { placement: [("n3".to_string(), "c".to_string())].into(), ..Default::default() };
        assert_eq!(layout(&s, &c, Strategy::RoundRobin, &rec, false).unwrap().placement["n3"], "a");
        let f = fragment(&s, &l, &underlays(&c).unwrap(), "a", None);
        assert!(f.nodes.iter().all(|n| n.host.is_none()));

        s.nodes[2].host = Some(Spanned::bare("zulu".to_string()));
        let e = layout(&s, &c, Strategy::RoundRobin, &Recorded::default(), false).unwrap_err();
        assert!(e.contains("node `n3` asks for host `zulu`") && e.contains("a, b, c"), "{e}");
        s.nodes[2].host = Some(Spanned::bare("a".to_string()));
        let pinned = file::parse("c", &format!("{CLUSTER}constraints: {{vm_deploy_at: {{n3: b}}}}\n")).unwrap();
        let e = layout(&s, &pinned, Strategy::RoundRobin, &Recorded::default(), false).unwrap_err();
        assert!(e.contains("vm_deploy_at puts it on `b`"), "{e}");
    }

    #[test]
    fn a_lab_with_vnxs_plugins_is_refused_over_many_hosts() {
        let mut s = lab();
        s.extensions.push(crate::scenario::Extension {
            plugin: "dhcp".into(),
            conf: "d.xml".into(),
            ..Default::default()
        });
        let c = file::parse("c", CLUSTER).unwrap();
        let e = layout(&s, &c, Strategy::RoundRobin, &Recorded::default(), false).unwrap_err();
        assert!(e.contains("`dhcp` plugin in a lab over many hosts"), "{e}");
    }

    #[test]
    fn a_fragment_keeps_the_sequences_of_its_own_nodes_only() {
        let mut s = lab();
        let exec = |seq: &str| crate::scenario::Exec {
            seq: Spanned::bare(seq.to_string()),
            command: Spanned::bare("true".to_string()),
            ..Default::default()
        };
        s.nodes[0].execs.push(exec("one"));
        s.nodes[1].execs.push(exec("two"));
        let cmd = |name: &str, steps: &[&str]| crate::scenario::CmdSeq {
            name: Spanned::bare(name.to_string()),
            steps: steps.iter().map(|x| Spanned::bare(x.to_string())).collect(),
            ..Default::default()
        };
        s.sequences = vec![cmd("both", &["one", "two"]), cmd("all", &["both", "two"]), cmd("twos", &["two"])];
        let c = file::parse("c", CLUSTER).unwrap();
        let l = layout(&s, &c, Strategy::RoundRobin, &Recorded::default(), false).unwrap();
        let fa = fragment(&s, &l, &underlays(&c).unwrap(), "a", None);
        let seqs: Vec<(String, Vec<String>)> = fa
            .sequences
            .iter()
            .map(|c| (c.name.value.clone(), c.steps.iter().map(|x| x.value.clone()).collect()))
            .collect();
        assert_eq!(
            seqs,
            [("both".to_string(), vec!["one".to_string()]), ("all".to_string(), vec!["both".to_string()])]
        );
        let diags = crate::scenario::validate::scenario(&fa, &Default::default());
        assert!(!diags.iter().any(|d| d.code == "vnx::unknown-sequence"), "{diags:?}");
        let fc = fragment(&s, &l, &underlays(&c).unwrap(), "c", None);
        assert!(fc.sequences.is_empty());
    }

    #[test]
    fn a_net_that_stays_on_one_host_has_no_segment_and_keeps_its_mode() {
        let s = lab();
        let c = file::parse("c", &CLUSTER.replace("round-robin", "min-cut")).unwrap();
        let mut rec = Recorded::default();
        for n in ["n1", "n2", "n3"] {
            rec.placement.insert(n.into(), "b".into());
        }
        let l = layout(&s, &c, Strategy::MinCut, &rec, false).unwrap();
        assert!(l.vnis.is_empty(), "{l:?}");
        let fb = fragment(&s, &l, &underlays(&c).unwrap(), "b", Some(1450));
        assert!(fb.nets.iter().all(|n| n.vxlan.is_none() && n.mtu.is_none()));
        assert_eq!(fb.net("p2p").unwrap().mode.value, NetMode::Veth);
    }
}
