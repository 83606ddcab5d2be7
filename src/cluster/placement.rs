//! Placement: which host each node of a scenario runs on. A pure function of the scenario's
//! nodes and nets, the hosts, the constraints and the placement already recorded.
//!
//! - `static`: every node is pinned (EDIV's `vm_deploy_at`, `net_deploy_at`, or `<vm host=>`).
//! - `round-robin`: nodes in document order to host *i mod H* (EDIV's), after the pins.
//! - `weighted`: each host's quota is its share of the weights, nodes dealt in contiguous
//!   blocks in document order (EDIV's weighted round robin).
//! - `min-cut` (the default): nodes balanced by weight while few nets cross hosts. A net is a
//!   hyperedge whose cost is the number of hosts it spans minus one (also the number of VXLAN
//!   peers each of its hosts needs); a greedy seed is refined by Fiduccia–Mattheyses moves.
//!
//! Constraints hold for every strategy: pins, `affinity` (these nodes on one host),
//! `antiaffinity` (on different hosts), `net_deploy_together` (every node of the net on one
//! host; EDIV read it and, through a bug, ignored it), each host's `max_nodes`. **Sticky**: a
//! node already placed stays where it is unless `rebalance` (so editing a lab moves nothing
//! that did not change); a pin that moves it wins, and the plan shows the move as a
//! replacement. The same input always gives the same placement.

use std::collections::{BTreeMap, BTreeSet};

/// A host that can take nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    pub name: String,
    /// Its share of the nodes, relative to the others' (default 1).
    pub weight: f64,
    /// At most this many nodes.
    pub max_nodes: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Static,
    RoundRobin,
    Weighted,
    MinCut,
}

impl Strategy {
    const ALL: [(Strategy, &'static str); 4] = [
        (Strategy::Static, "static"),
        (Strategy::RoundRobin, "round-robin"),
        (Strategy::Weighted, "weighted"),
        (Strategy::MinCut, "min-cut"),
    ];

    /// The strategy a cluster file or `--strategy` names.
    pub fn parse(s: &str) -> Option<Strategy> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(st, _)| *st)
    }

    /// Its name, as `parse` reads it.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(st, _)| *st == self).map(|(_, n)| *n).expect("every strategy is listed")
    }
}

/// EDIV's restriction rules, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    /// Node → host (`vm_deploy_at`, `<vm host=>`).
    pub node_at: BTreeMap<String, String>,
    /// Net → host: every node on the net there (`net_deploy_at`).
    pub net_at: BTreeMap<String, String>,
    /// Each set on one host.
    pub affinity: Vec<Vec<String>>,
    /// Each set's nodes on pairwise different hosts.
    pub antiaffinity: Vec<Vec<String>>,
    /// Every node of these nets on one host.
    pub net_together: Vec<String>,
}

/// What to place.
#[derive(Clone, Debug, Default)]
pub struct Problem {
    /// The nodes, in document order.
    pub nodes: Vec<String>,
    /// Each net and the nodes on it.
    pub nets: Vec<(String, Vec<String>)>,
    pub constraints: Constraints,
    /// Where each node runs now (from the lab's record).
    pub recorded: BTreeMap<String, String>,
    /// Move running nodes if that places better.
    pub rebalance: bool,
}

pub type Placement = BTreeMap<String, String>;

/// What crosses hosts: Σ over nets of (hosts it spans − 1).
pub fn cost(placement: &Placement, nets: &[(String, Vec<String>)]) -> usize {
    nets.iter()
        .map(|(_, members)| {
            let hosts: BTreeSet<&String> = members.iter().filter_map(|m| placement.get(m)).collect();
            hosts.len().saturating_sub(1)
        })
        .sum()
}

/// Nodes that must go together, and where they must or may go.
struct Group {
    nodes: Vec<usize>,
    /// The host it must be on (a pin), or stays on (sticky).
    fixed: Option<usize>,
}

/// Places every node, or says which rule cannot hold.
pub fn place(p: &Problem, hosts: &[Host], strategy: Strategy) -> Result<Placement, String> {
    if hosts.is_empty() {
        return Err("the cluster has no host".into());
    }
    let host_ix = |h: &str, why: &str| {
        hosts
            .iter()
            .position(|x| x.name == h)
            .ok_or_else(|| format!("{why} names host `{h}`, which the cluster does not have"))
    };
    let ix: BTreeMap<&str, usize> = p.nodes.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let node_ix = |n: &str, why: &str| {
        ix.get(n).copied().ok_or_else(|| format!("{why} names node `{n}`, which the scenario does not have"))
    };
    let members = |net: &str| p.nets.iter().find(|(n, _)| n == net).map(|(_, m)| m.as_slice());

    // Groups: nodes that must share a host (union-find).
    let mut parent: Vec<usize> = (0..p.nodes.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let join = |parent: &mut Vec<usize>, set: &[usize]| {
        for w in set.windows(2) {
            let (a, b) = (root(parent, w[0]), root(parent, w[1]));
            parent[a.max(b)] = a.min(b);
        }
    };
    for set in &p.constraints.affinity {
        let set = set.iter().map(|n| node_ix(n, "an affinity rule")).collect::<Result<Vec<_>, _>>()?;
        join(&mut parent, &set);
    }
    for net in &p.constraints.net_together {
        let m = members(net)
            .ok_or_else(|| format!("net_deploy_together names net `{net}`, which the scenario does not have"))?;
        let set = m.iter().map(|n| node_ix(n, "a net")).collect::<Result<Vec<_>, _>>()?;
        join(&mut parent, &set);
    }
    // Pins, by node (a net's pin pins each of its nodes).
    let mut pins: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let pin =
        |pins: &mut BTreeMap<usize, (usize, String)>, node: usize, host: usize, why: String| -> Result<(), String> {
            match pins.get(&node) {
                Some((h, other)) if *h != host => Err(format!(
                    "node `{}` is pinned to two hosts: `{}` ({other}) and `{}` ({why})",
                    p.nodes[node], hosts[*h].name, hosts[host].name
                )),
                _ => {
                    pins.insert(node, (host, why));
                    Ok(())
                }
            }
        };
    for (n, h) in &p.constraints.node_at {
        pin(&mut pins, node_ix(n, "vm_deploy_at")?, host_ix(h, "vm_deploy_at")?, format!("vm_deploy_at {n}"))?;
    }
    for (net, h) in &p.constraints.net_at {
        let m =
            members(net).ok_or_else(|| format!("net_deploy_at names net `{net}`, which the scenario does not have"))?;
        let h = host_ix(h, "net_deploy_at")?;
        for n in m {
            pin(&mut pins, node_ix(n, "a net")?, h, format!("net_deploy_at {net}"))?;
        }
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..p.nodes.len() {
        by_root.entry(root(&mut parent, i)).or_default().push(i);
    }
    let mut groups = Vec::new();
    for nodes in by_root.into_values() {
        let mut fixed: Option<(usize, String)> = None;
        for n in &nodes {
            if let Some((h, why)) = pins.get(n) {
                if let Some((f, other)) = &fixed {
                    if f != h {
                        return Err(format!(
                            "nodes that must share a host are pinned apart: `{}` ({other}) and `{}` ({why})",
                            hosts[*f].name, hosts[*h].name
                        ));
                    }
                }
                fixed = Some((*h, why.clone()));
            }
        }
        // Sticky: a group not pinned stays where its first placed node runs.
        let sticky = || {
            nodes
                .iter()
                .find_map(|n| p.recorded.get(&p.nodes[*n]))
                .and_then(|h| hosts.iter().position(|x| x.name == *h))
        };
        let fixed = fixed.map(|(h, _)| h).or_else(|| if p.rebalance { None } else { sticky() });
        groups.push(Group { nodes, fixed });
    }
    let anti: Vec<Vec<usize>> = p
        .constraints
        .antiaffinity
        .iter()
        .map(|set| set.iter().map(|n| node_ix(n, "an antiaffinity rule")).collect::<Result<Vec<_>, _>>())
        .collect::<Result<_, _>>()?;

    let mut at: Vec<Option<usize>> = vec![None; p.nodes.len()];
    let mut load = vec![0usize; hosts.len()];
    let fits = |at: &[Option<usize>], load: &[usize], g: &Group, h: usize| {
        let room = hosts[h].max_nodes.is_none_or(|m| load[h] + g.nodes.len() <= m);
        let apart = anti.iter().all(|set| {
            let mine = set.iter().filter(|n| g.nodes.contains(n)).count();
            let there = set.iter().filter(|n| !g.nodes.contains(n) && at[**n] == Some(h)).count();
            mine <= 1 && (mine == 0 || there == 0)
        });
        room && apart
    };
    let put = |at: &mut [Option<usize>], load: &mut [usize], g: &Group, h: usize| {
        for n in &g.nodes {
            at[*n] = Some(h);
        }
        load[h] += g.nodes.len();
    };
    let (fixed, free): (Vec<&Group>, Vec<&Group>) = groups.iter().partition(|g| g.fixed.is_some());
    for g in fixed {
        let h = g.fixed.expect("fixed");
        if !fits(&at, &load, g, h) {
            return Err(format!(
                "host `{}` cannot take `{}` (max_nodes or an antiaffinity rule)",
                hosts[h].name, p.nodes[g.nodes[0]]
            ));
        }
        put(&mut at, &mut load, g, h);
    }
    let n = p.nodes.len();
    let total_w: f64 = hosts.iter().map(|h| h.weight.max(0.0)).sum::<f64>().max(f64::MIN_POSITIVE);
    // Each host's share of the nodes, whole (the rounding left goes to the last host).
    let mut quota: Vec<usize> =
        hosts.iter().map(|h| (h.weight.max(0.0) / total_w * n as f64).round() as usize).collect();
    let given: usize = quota.iter().sum();
    if let Some(last) = quota.last_mut() {
        *last = (*last + n).saturating_sub(given);
    }
    let unplaced = |g: &Group| format!("no host can take `{}` (max_nodes, pins or antiaffinity)", p.nodes[g.nodes[0]]);
    match strategy {
        Strategy::Static => {
            if let Some(g) = free.first() {
                return Err(format!("static placement: node `{}` is pinned to no host", p.nodes[g.nodes[0]]));
            }
        }
        Strategy::RoundRobin => {
            let mut next = 0;
            for g in &free {
                let h = (0..hosts.len()).map(|k| (next + k) % hosts.len()).find(|h| fits(&at, &load, g, *h));
                let h = h.ok_or_else(|| unplaced(g))?;
                put(&mut at, &mut load, g, h);
                next = h + 1;
            }
        }
        Strategy::Weighted => {
            // Contiguous blocks: fill host 0 to its quota, then host 1, …
            let mut h = 0;
            for g in &free {
                while h < hosts.len() && load[h] >= quota[h] {
                    h += 1;
                }
                let pick = (h..hosts.len()).chain(0..h).find(|x| fits(&at, &load, g, *x)).ok_or_else(|| unplaced(g))?;
                put(&mut at, &mut load, g, pick);
            }
        }
        Strategy::MinCut => min_cut(p, hosts, &quota, &groups, &mut at, &mut load, &fits, &put)?,
    }
    Ok(at
        .iter()
        .enumerate()
        .map(|(i, h)| (p.nodes[i].clone(), hosts[h.expect("every node placed")].name.clone()))
        .collect())
}

/// Whether a group may go on a host, given where nodes are and each host's load.
type Fits<'a> = dyn Fn(&[Option<usize>], &[usize], &Group, usize) -> bool + 'a;
/// Puts a group on a host.
type Put<'a> = dyn Fn(&mut [Option<usize>], &mut [usize], &Group, usize) + 'a;

/// The greedy seed (each free group, neighbours first, to the host that adds the least cost
/// and is under its quota), then Fiduccia–Mattheyses-style sweeps: each free group moved where
/// it lowers the cost most while the balance holds.
#[allow(clippy::too_many_arguments)]
fn min_cut(
    p: &Problem,
    hosts: &[Host],
    quota: &[usize],
    groups: &[Group],
    at: &mut [Option<usize>],
    load: &mut [usize],
    fits: &Fits,
    put: &Put,
) -> Result<(), String> {
    let ix: BTreeMap<&str, usize> = p.nodes.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let nets: Vec<Vec<usize>> =
        p.nets.iter().map(|(_, m)| m.iter().filter_map(|n| ix.get(n.as_str()).copied()).collect()).collect();
    let mut nets_of: Vec<Vec<usize>> = vec![vec![]; p.nodes.len()];
    for (k, m) in nets.iter().enumerate() {
        for n in m {
            nets_of[*n].push(k);
        }
    }
    // The cost of the nets touching `g` if it were on `h` (only placed nodes count).
    let cost_at = |at: &[Option<usize>], g: &Group, h: Option<usize>| -> usize {
        let touched: BTreeSet<usize> = g.nodes.iter().flat_map(|n| nets_of[*n].iter().copied()).collect();
        touched
            .iter()
            .map(|k| {
                let spans: BTreeSet<usize> =
                    nets[*k].iter().filter_map(|n| if g.nodes.contains(n) { h } else { at[*n] }).collect();
                spans.len().saturating_sub(1)
            })
            .sum()
    };
    // Balance: a host may go up to its quota plus a tenth (at least one node).
    let cap: Vec<usize> = quota.iter().map(|q| q + (q / 10).max(1)).collect();
    // Seed: groups in depth-first order over the nets (a region grows from one node through
    // its nets, so each host fills with a connected piece: document order, breadth-first in a
    // generated tree, spread every host over the whole tree's width); each to the cheapest
    // host under its quota (ties: the emptiest relative to its quota, then the first).
    let rank = depth_first(p.nodes.len(), &nets, &nets_of);
    let mut free: Vec<usize> = (0..groups.len()).filter(|i| groups[*i].fixed.is_none()).collect();
    free.sort_by_key(|gi| groups[*gi].nodes.iter().map(|n| rank[*n]).min());
    for &gi in &free {
        let g = &groups[gi];
        let choose = |limit: &[usize]| {
            (0..hosts.len())
                .filter(|h| load[*h] + g.nodes.len() <= limit[*h] && fits(at, load, g, *h))
                .min_by_key(|h| (cost_at(at, g, Some(*h)), (load[*h] * 1000) / limit[*h].max(1), *h))
        };
        let h = choose(quota).or_else(|| choose(&cap)).or_else(|| (0..hosts.len()).find(|h| fits(at, load, g, *h)));
        let h =
            h.ok_or_else(|| format!("no host can take `{}` (max_nodes, pins or antiaffinity)", p.nodes[g.nodes[0]]))?;
        put(at, load, g, h);
    }
    // Refinement: sweeps over the free groups, each moved to the host that lowers the cost
    // most while the balance holds; at most 8 sweeps (bounded work on any lab), fewer when one
    // moves nothing.
    for _ in 0..8 {
        let mut moved = false;
        for &gi in &free {
            let g = &groups[gi];
            let from = at[g.nodes[0]].expect("placed");
            let now = cost_at(at, g, Some(from));
            let mut best: Option<(usize, usize)> = None; // (cost after, to)
            for to in (0..hosts.len()).filter(|t| *t != from) {
                if load[to] + g.nodes.len() > cap[to] {
                    continue;
                }
                load[from] -= g.nodes.len();
                let ok = fits(at, load, g, to);
                load[from] += g.nodes.len();
                let after = cost_at(at, g, Some(to));
                if ok && after < now && best.is_none_or(|(b, _)| after < b) {
                    best = Some((after, to));
                }
            }
            if let Some((_, to)) = best {
                load[from] -= g.nodes.len();
                put(at, load, g, to);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    Ok(())
}

/// Each node's position in a depth-first walk of the hypergraph (a node, then through each of
/// its nets in turn, their members in document order), components in document order. An
/// explicit stack: bounded memory on any lab.
fn depth_first(n: usize, nets: &[Vec<usize>], nets_of: &[Vec<usize>]) -> Vec<usize> {
    let mut rank = vec![usize::MAX; n];
    let mut next = 0;
    let mut stack = Vec::new();
    for start in 0..n {
        if rank[start] != usize::MAX {
            continue;
        }
        stack.push(start);
        while let Some(v) = stack.pop() {
            if rank[v] != usize::MAX {
                continue;
            }
            rank[v] = next;
            next += 1;
            // Pushed in reverse, so the first net's first member is visited first.
            for k in nets_of[v].iter().rev() {
                for m in nets[*k].iter().rev() {
                    if rank[*m] == usize::MAX {
                        stack.push(*m);
                    }
                }
            }
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(names: &[&str]) -> Vec<Host> {
        names.iter().map(|n| Host { name: n.to_string(), weight: 1.0, max_nodes: None }).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Two routers' LANs: a1..a3 on lan-a with r1, b1..b3 on lan-b with r2, r1 and r2 on a
    /// core net.
    fn two_lans() -> Problem {
        Problem {
            nodes: s(&["a1", "b1", "a2", "b2", "a3", "b3", "r1", "r2"]),
            nets: vec![
                ("lan-a".into(), s(&["a1", "a2", "a3", "r1"])),
                ("lan-b".into(), s(&["b1", "b2", "b3", "r2"])),
                ("core".into(), s(&["r1", "r2"])),
            ],
            ..Default::default()
        }
    }

    fn on<'a>(pl: &'a Placement, host: &str) -> Vec<&'a str> {
        pl.iter().filter(|(_, h)| *h == host).map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn round_robin_deals_in_document_order() {
        let pl = place(&two_lans(), &hosts(&["x", "y"]), Strategy::RoundRobin).unwrap();
        assert_eq!(on(&pl, "x"), ["a1", "a2", "a3", "r1"]);
        assert_eq!(on(&pl, "y"), ["b1", "b2", "b3", "r2"]);
        let pl = place(&two_lans(), &hosts(&["x", "y", "z"]), Strategy::RoundRobin).unwrap();
        assert_eq!(on(&pl, "x"), ["a1", "b2", "r1"]);
    }

    #[test]
    fn weighted_gives_each_host_its_share_in_blocks() {
        let mut hs = hosts(&["x", "y"]);
        hs[0].weight = 3.0;
        let pl = place(&two_lans(), &hs, Strategy::Weighted).unwrap();
        assert_eq!(on(&pl, "x"), ["a1", "a2", "a3", "b1", "b2", "b3"]);
        assert_eq!(on(&pl, "y"), ["r1", "r2"]);
    }

    #[test]
    fn min_cut_keeps_each_lan_on_one_host() {
        let hs = hosts(&["x", "y"]);
        // In this order round robin splits both LANs.
        let interleaved = Problem { nodes: s(&["a1", "a2", "b1", "b2", "a3", "b3", "r1", "r2"]), ..two_lans() };
        let pl = place(&interleaved, &hs, Strategy::MinCut).unwrap();
        assert_eq!(cost(&pl, &interleaved.nets), 1, "{pl:?}");
        assert_eq!(on(&pl, "x").len(), 4, "balanced: {pl:?}");
        let rr = place(&interleaved, &hs, Strategy::RoundRobin).unwrap();
        assert_eq!(cost(&rr, &interleaved.nets), 3, "{rr:?}");
        // The same input, the same placement.
        assert_eq!(
            place(&interleaved, &hs, Strategy::MinCut).unwrap(),
            place(&interleaved, &hs, Strategy::MinCut).unwrap()
        );
    }

    #[test]
    fn min_cut_on_a_chain_cuts_it_once_per_host_boundary() {
        let nodes: Vec<String> = (0..30).map(|i| format!("n{i}")).collect();
        let nets = (0..29).map(|i| (format!("l{i}"), vec![nodes[i].clone(), nodes[i + 1].clone()])).collect();
        let p = Problem { nodes, nets, ..Default::default() };
        let pl = place(&p, &hosts(&["x", "y", "z"]), Strategy::MinCut).unwrap();
        assert!(cost(&pl, &p.nets) <= 3, "a chain over 3 hosts needs 2 cuts, got {}: {pl:?}", cost(&pl, &p.nets));
        for h in ["x", "y", "z"] {
            let n = on(&pl, h).len();
            assert!((8..=12).contains(&n), "{h} has {n} nodes");
        }
    }

    /// VXLAN devices: one per host each crossing net is on.
    fn devices(pl: &Placement, nets: &[(String, Vec<String>)]) -> usize {
        nets.iter().map(|(_, m)| m.iter().map(|n| &pl[n]).collect::<BTreeSet<_>>().len()).filter(|h| *h > 1).sum()
    }

    #[test]
    fn min_cut_cuts_a_tree_written_level_by_level_into_connected_pieces() {
        // A binary tree of 1023 nodes in breadth-first order, a net per parent and its children
        // (vnx bench's tree).
        let nodes: Vec<String> = (0..1023).map(|i| format!("n{i}")).collect();
        let nets: Vec<(String, Vec<String>)> = (0..511)
            .map(|k| (format!("t{k}"), vec![nodes[k].clone(), nodes[2 * k + 1].clone(), nodes[2 * k + 2].clone()]))
            .collect();
        let p = Problem { nodes, nets, ..Default::default() };
        let hs = hosts(&["x", "y", "z"]);
        let (mc, rr) = (place(&p, &hs, Strategy::MinCut).unwrap(), place(&p, &hs, Strategy::RoundRobin).unwrap());
        let (d_mc, d_rr) = (devices(&mc, &p.nets), devices(&rr, &p.nets));
        assert!(d_mc * 5 <= d_rr, "min-cut {d_mc} VXLAN devices, round robin {d_rr}");
        for h in ["x", "y", "z"] {
            let n = on(&mc, h).len();
            assert!((300..=380).contains(&n), "{h} has {n} nodes");
        }
    }

    #[test]
    fn pins_affinity_antiaffinity_and_nets_together_hold_for_every_strategy() {
        let mut p = two_lans();
        p.constraints.node_at.insert("a1".into(), "y".into());
        p.constraints.affinity.push(s(&["b1", "b2"]));
        p.constraints.antiaffinity.push(s(&["r1", "r2"]));
        p.constraints.net_together.push("lan-a".into());
        for st in [Strategy::RoundRobin, Strategy::Weighted, Strategy::MinCut] {
            let pl = place(&p, &hosts(&["x", "y"]), st).unwrap();
            assert_eq!(pl["a1"], "y", "{st:?}");
            for n in ["a2", "a3", "r1"] {
                assert_eq!(pl[n], "y", "{st:?}: lan-a together");
            }
            assert_eq!(pl["b1"], pl["b2"], "{st:?}");
            assert_ne!(pl["r1"], pl["r2"], "{st:?}");
        }
        let mut q = two_lans();
        q.constraints.net_at.insert("lan-b".into(), "x".into());
        q.constraints.node_at.insert("b1".into(), "y".into());
        assert!(place(&q, &hosts(&["x", "y"]), Strategy::MinCut).unwrap_err().contains("pinned to two hosts"));
        let err = place(&two_lans(), &hosts(&["x"]), Strategy::Static).unwrap_err();
        assert!(err.contains("`a1` is pinned to no host"), "{err}");
        let mut r = two_lans();
        r.constraints.node_at.insert("a1".into(), "nowhere".into());
        assert!(place(&r, &hosts(&["x"]), Strategy::MinCut).unwrap_err().contains("`nowhere`"));
    }

    #[test]
    fn max_nodes_is_a_hard_limit() {
        let mut hs = hosts(&["x", "y"]);
        hs[0].max_nodes = Some(2);
        for st in [Strategy::RoundRobin, Strategy::Weighted, Strategy::MinCut] {
            let pl = place(&two_lans(), &hs, st).unwrap();
            assert!(on(&pl, "x").len() <= 2, "{st:?}: {pl:?}");
        }
        hs[1].max_nodes = Some(2);
        assert!(place(&two_lans(), &hs, Strategy::MinCut).is_err());
    }

    #[test]
    fn placed_nodes_stay_unless_asked_to_rebalance() {
        let hs = hosts(&["x", "y"]);
        let first = place(&two_lans(), &hs, Strategy::MinCut).unwrap();
        // An edit adds a node on lan-a: nothing placed moves.
        let mut p = two_lans();
        p.nodes.push("a4".into());
        p.nets[0].1.push("a4".into());
        // Recorded the other way round from what min-cut would choose.
        p.recorded = first.iter().map(|(n, h)| (n.clone(), if h == "x" { "y".into() } else { "x".into() })).collect();
        let second = place(&p, &hs, Strategy::MinCut).unwrap();
        for (n, h) in &p.recorded {
            assert_eq!(&second[n], h, "{n} moved");
        }
        assert_eq!(second["a4"], second["a1"], "the new node joins its LAN");
        // A recorded host that is gone is no anchor; --rebalance frees everything.
        p.rebalance = true;
        let third = place(&p, &hs, Strategy::MinCut).unwrap();
        assert_eq!(cost(&third, &p.nets), 1);
    }
}

#[cfg(test)]
mod scale {
    use super::*;

    /// Ten thousand nodes in a chain and on one big net, over four hosts: placed, balanced,
    /// with few cuts (the work is bounded: a few sweeps).
    #[test]
    fn ten_thousand_nodes_are_placed() {
        let nodes: Vec<String> = (0..10_000).map(|i| format!("n{i}")).collect();
        let mut nets: Vec<(String, Vec<String>)> =
            (0..9_999).map(|i| (format!("l{i}"), vec![nodes[i].clone(), nodes[i + 1].clone()])).collect();
        nets.push(("mgmt".into(), nodes.iter().step_by(100).cloned().collect()));
        let p = Problem { nodes, nets, ..Default::default() };
        let hosts: Vec<Host> =
            ["w", "x", "y", "z"].iter().map(|n| Host { name: n.to_string(), weight: 1.0, max_nodes: None }).collect();
        let pl = place(&p, &hosts, Strategy::MinCut).unwrap();
        assert_eq!(pl.len(), 10_000);
        for h in &hosts {
            let n = pl.values().filter(|x| **x == h.name).count();
            assert!((2_400..=2_800).contains(&n), "{} has {n}", h.name);
        }
        assert!(cost(&pl, &p.nets) <= 10, "{} cuts", cost(&pl, &p.nets));
    }
}
