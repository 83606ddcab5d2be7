//! A lab over many hosts, driven from this machine: the layout ([`crate::cluster::layout`]),
//! one channel per host ([`crate::cluster::channel`]), each host's fragment planned, applied,
//! shown or destroyed there by its agent, all hosts in parallel; and the ledger (this
//! machine's record of the cluster lab: the cluster file, the placement, the VNIs, what each
//! host did last). Prints nothing: progress goes to the caller's callback.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cluster::agent::{PlanOptions, Request};
use crate::cluster::channel::{self, Channel};
use crate::cluster::file::{self, Cluster};
use crate::cluster::files::{self, InlineFile};
use crate::cluster::layout::{self, Layout, VXLAN_OVERHEAD};
use crate::cluster::placement::Strategy;
use crate::scenario::{self, Format, Scenario};

/// The ledger's version: a ledger of another is refused.
pub const LEDGER_VERSION: u32 = 1;

/// What this machine keeps of a cluster lab.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    pub version: u32,
    /// The cluster file as read (its text: the hosts stay known if the file changes or goes).
    pub cluster_file: String,
    pub cluster: String,
    pub strategy: String,
    /// Node → host.
    pub placement: BTreeMap<String, String>,
    pub vnis: BTreeMap<String, u32>,
    /// Net → the hosts it is on.
    pub spans: BTreeMap<String, BTreeSet<String>>,
    pub mtu: Option<u32>,
    /// Each host that holds (or was to hold) part of the lab: how its last operation ended.
    pub hosts: BTreeMap<String, HostRecord>,
    /// The whole scenario as last applied (YAML): what `vnx apply LAB`, `modify` and the
    /// lifecycle commands start from, as a lab on one host starts from its record.
    pub scenario: String,
    /// Where its relative paths resolve, and where it came from.
    pub dir: String,
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// `applying`, `ok`, `failed`, `unreachable`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ledger {
    pub fn read(state: &vnx_state::State, lab: &str) -> Result<Option<Ledger>, String> {
        let Some(v) = state.ledger(lab).map_err(|e| e.to_string())? else { return Ok(None) };
        let l: Ledger = serde_json::from_value(v).map_err(|e| format!("the ledger of {lab} cannot be read: {e}"))?;
        if l.version != LEDGER_VERSION {
            return Err(format!("the ledger of {lab} is of version {} (this vnx reads {LEDGER_VERSION})", l.version));
        }
        Ok(Some(l))
    }

    pub fn write(&self, state: &vnx_state::State, lab: &str) -> Result<(), String> {
        state.put_ledger(lab, &serde_json::to_value(self).expect("json")).map_err(|e| e.to_string())
    }

    pub fn cluster(&self) -> Result<Cluster, String> {
        file::parse(&self.cluster_file, &self.cluster)
    }

    /// The scenario as last applied.
    pub fn scenario(&self) -> Result<Scenario, String> {
        match scenario::parse(&self.scenario, Format::Yaml) {
            (Some(scenario::Document::Scenario(s)), diags) if !diags.iter().any(scenario::Diag::is_error) => Ok(s),
            _ => Err("the ledger's scenario cannot be read back: apply the scenario's file again".into()),
        }
    }

    /// The hosts that run these nodes (all of the lab's when none is named), each with its
    /// nodes; a node the lab does not have is an error that names the lab's nodes.
    pub fn hosts_of(&self, nodes: &[String]) -> Result<BTreeMap<String, Vec<String>>, String> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if nodes.is_empty() {
            for h in self.hosts.keys() {
                out.entry(h.clone()).or_default();
            }
            return Ok(out);
        }
        for n in nodes {
            let Some(h) = self.placement.get(n) else {
                let all: Vec<&str> = self.placement.keys().map(String::as_str).collect();
                return Err(format!("the lab has no node `{n}` (its nodes: {})", all.join(", ")));
            };
            out.entry(h.clone()).or_default().push(n.clone());
        }
        Ok(out)
    }

    fn recorded(&self) -> layout::Recorded {
        layout::Recorded { placement: self.placement.clone(), vnis: self.vnis.clone() }
    }
}

/// Channels to hosts, opened in parallel; a host that cannot be reached keeps its error.
pub struct Hosts {
    pub channels: BTreeMap<String, Result<Channel, String>>,
}

impl Hosts {
    pub fn connect(cluster: &Cluster, names: &BTreeSet<String>, opts: &channel::Options) -> Hosts {
        let channels = std::thread::scope(|s| {
            let handles: Vec<_> = cluster
                .hosts
                .iter()
                .filter(|h| names.contains(&h.name))
                .map(|h| (h.name.clone(), s.spawn(move || Channel::open(h, opts))))
                .collect();
            handles.into_iter().map(|(n, j)| (n, j.join().unwrap_or_else(|_| Err("panicked".into())))).collect()
        });
        Hosts { channels }
    }

    /// `f` on every reachable host of `names`, in parallel; an unreachable one gives its error.
    pub fn each<T: Send>(
        &mut self,
        names: &BTreeSet<String>,
        f: impl Fn(&mut Channel) -> Result<T, String> + Sync,
    ) -> BTreeMap<String, Result<T, String>> {
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .channels
                .iter_mut()
                .filter(|(n, _)| names.contains(*n))
                .map(|(n, ch)| {
                    let name = n.clone();
                    (
                        name,
                        s.spawn(move || match ch {
                            Ok(ch) => f(ch),
                            Err(e) => Err(e.clone()),
                        }),
                    )
                })
                .collect();
            handles.into_iter().map(|(n, j)| (n, j.join().unwrap_or_else(|_| Err("panicked".into())))).collect()
        })
    }

    pub fn facts(&self, host: &str) -> Option<&Value> {
        self.channels.get(host).and_then(|c| c.as_ref().ok()).map(|c| &c.facts)
    }
}

/// What a cluster command is asked.
pub struct Ask<'a> {
    pub scenario: &'a Scenario,
    /// Where the scenario's relative paths resolve (on this machine: the files its filetrees
    /// name are sent with each fragment; images are looked for at the same paths on each host).
    pub dir: String,
    /// Where the scenario came from (a file, or a file and the modify documents applied to it).
    pub source: String,
    pub cluster: Cluster,
    pub cluster_file: String,
    pub cluster_text: String,
    pub strategy: Strategy,
    pub rebalance: bool,
    /// `-H`: only these hosts (all when empty).
    pub only: BTreeSet<String>,
    /// `--map`, `--target`, `--replace`, `--refresh` as the user gave them.
    pub options: PlanOptions,
    pub opts: channel::Options,
}

/// The lab laid out and each involved host connected, with its fragment.
pub struct Prepared {
    pub layout: Layout,
    pub mtu: Option<u32>,
    pub hosts: Hosts,
    /// Host → its fragment; none: the host's part is to go.
    pub fragments: BTreeMap<String, Option<Fragment>>,
    /// The hosts the operation goes to.
    pub involved: BTreeSet<String>,
}

/// One host's part: an ordinary scenario (YAML), the files it names, its planning options.
pub struct Fragment {
    pub yaml: String,
    pub files: Vec<InlineFile>,
    pub options: PlanOptions,
}

/// Lays the lab out (sticky to the ledger's placement), connects the hosts that hold or will
/// hold part of it, computes the overlay MTU from their underlays and checks it between every
/// pair (the preflight), and writes each host's fragment.
pub fn prepare(ask: &Ask, ledger: Option<&Ledger>) -> Result<Prepared, String> {
    let recorded = ledger.map(Ledger::recorded).unwrap_or_default();
    if let Some(l) = ledger {
        if let Some(h) = l.hosts.keys().find(|h| !ask.cluster.hosts.iter().any(|x| x.name == **h)) {
            return Err(format!(
                "host `{h}` holds part of lab {} but is not in the cluster file: add it back, or destroy the lab first",
                ask.scenario.name.value
            ));
        }
    }
    let layout = layout::layout(ask.scenario, &ask.cluster, ask.strategy, &recorded, ask.rebalance)?;
    let underlays = layout::underlays(&ask.cluster)?;
    let placed: BTreeSet<String> = layout.spans.values().flatten().cloned().collect();
    let had: BTreeSet<String> = ledger.map(|l| l.hosts.keys().cloned().collect()).unwrap_or_default();
    // Targets narrow the hosts too: those that hold a node or net named (or what lives in them).
    let targets: BTreeSet<&String> = ask.options.target.iter().chain(&ask.options.replace).collect();
    for t in &targets {
        if !layout.placement.contains_key(*t) && !layout.spans.contains_key(*t) {
            return Err(format!("--target/--replace {t}: the lab has no such node or net"));
        }
    }
    let holds = |h: &String, names: &[String]| {
        names.iter().any(|t| layout.placement.get(t) == Some(h) || layout.spans.get(t).is_some_and(|s| s.contains(h)))
    };
    let involved: BTreeSet<String> = placed
        .union(&had)
        .filter(|h| ask.only.is_empty() || ask.only.contains(*h))
        .filter(|h| ask.options.target.is_empty() || holds(h, &ask.options.target))
        .cloned()
        .collect();
    let opts = channel::Options { doctor: true, ..ask.opts.clone() };
    let mut hosts = Hosts::connect(&ask.cluster, &involved, &opts);
    // The overlay MTU: what the smallest underlay of the hosts that share a net carries.
    let crossing: BTreeSet<String> = layout.vnis.keys().flat_map(|n| layout.spans[n].iter().cloned()).collect();
    // A host whose kernel cannot make VXLAN devices can hold no net that crosses.
    let no_vxlan: Vec<&String> =
        crossing.iter().filter(|h| hosts.facts(h).is_some_and(|f| f["doctor"]["VXLAN"] == "missing")).collect();
    if let Some(h) = no_vxlan.first() {
        let nets: Vec<&str> =
            layout.vnis.keys().filter(|n| layout.spans[*n].contains(*h)).map(String::as_str).collect();
        return Err(format!(
            "host `{h}` cannot make VXLAN devices (its `vnx doctor` says so), yet nets {} would cross to it: pin their nodes to one host (vm_deploy_at, net_deploy_at), or use a kernel with VXLAN there",
            nets.join(", ")
        ));
    }
    let underlay_mtu = |h: &str| hosts.facts(h).and_then(|f| f["underlay"]["mtu"].as_u64()).map(|m| m as u32);
    let least = crossing.iter().filter_map(|h| underlay_mtu(h)).min();
    let mtu = least.map(|m| m - VXLAN_OVERHEAD);
    if let (Some(least), Some(overlay)) = (least, mtu) {
        for net in ask.scenario.nets.iter().filter(|n| layout.vnis.contains_key(&n.name.value)) {
            if let Some(m) = &net.mtu {
                if m.value as u32 > overlay {
                    return Err(format!(
                        "net `{}` asks for MTU {}, but it crosses hosts over an underlay of MTU {least}, which carries at most {overlay} (VXLAN takes {VXLAN_OVERHEAD}): lower the net's mtu, or raise the underlay's",
                        net.name.value, m.value
                    ));
                }
            }
        }
        preflight(&mut hosts, &crossing, &underlays, least)?;
    }
    let mut fragments = BTreeMap::new();
    let lab = &ask.scenario.name.value;
    for h in &involved {
        let mut f = layout::fragment(ask.scenario, &layout, &underlays, h, mtu);
        if f.nodes.is_empty() && f.nets.is_empty() && f.host.is_none() {
            fragments.insert(h.clone(), None);
            continue;
        }
        // The files go where the host's agent unpacks them (a host not reached gets none).
        let sent = match hosts.facts(h).and_then(|f| f["files_dir"].as_str()) {
            Some(d) => files::bundle(&mut f, std::path::Path::new(&ask.dir), &std::path::Path::new(d).join(lab))?,
            None => vec![],
        };
        // Each host is given the targets it holds.
        let mine = |names: &[String]| names.iter().filter(|t| holds(h, std::slice::from_ref(t))).cloned().collect();
        let options = PlanOptions {
            target: mine(&ask.options.target),
            replace: mine(&ask.options.replace),
            ..ask.options.clone()
        };
        fragments.insert(h.clone(), Some(Fragment { yaml: scenario::write(&f, Format::Yaml), files: sent, options }));
    }
    Ok(Prepared { layout, mtu, hosts, fragments, involved })
}

/// Every host that shares a net with others sends a packet of the underlay's MTU, DF set, to
/// each of them: a path that carries less (a smaller link between them) fails here, by name,
/// instead of as large packets that vanish in the lab.
fn preflight(
    hosts: &mut Hosts,
    crossing: &BTreeSet<String>,
    underlays: &BTreeMap<String, IpAddr>,
    size: u32,
) -> Result<(), String> {
    let reachable: BTreeSet<String> =
        crossing.iter().filter(|h| hosts.channels.get(*h).is_some_and(Result::is_ok)).cloned().collect();
    let results = hosts.each(&reachable, |ch| {
        let peers: Vec<String> = reachable
            .iter()
            .filter(|p| **p != ch.host)
            .filter_map(|p| underlays.get(p))
            .map(IpAddr::to_string)
            .collect();
        ch.call(&Request::Probe { peers, size }, &mut |_| {})
    });
    let mut bad = vec![];
    for (h, r) in results {
        let r = r?;
        for (peer, ok) in r.as_object().into_iter().flatten() {
            if ok != &Value::Bool(true) {
                let name = underlays.iter().find(|(_, ip)| ip.to_string() == *peer).map_or(peer.as_str(), |(n, _)| n);
                bad.push(format!("{h} → {name} ({peer})"));
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the underlay does not carry {size}-byte packets (the smallest underlay link's MTU) between: {}. VXLAN's packets would be dropped: give every underlay link and hop the same MTU, or check that the hosts reach each other",
        bad.join(", ")
    ))
}

/// Each host's plan: its agent's reply (`changes`, `plan`), or the error.
pub fn plan(p: &mut Prepared, ask: &Ask, json: bool) -> BTreeMap<String, Result<Value, String>> {
    let fragments = &p.fragments;
    let dir = ask.dir.clone();
    p.hosts.each(&p.involved, |ch| match &fragments[&ch.host] {
        Some(f) => ch.call(
            &Request::Plan {
                fragment: f.yaml.clone(),
                dir: dir.clone(),
                json,
                files: f.files.clone(),
                options: f.options.clone(),
            },
            &mut |_| {},
        ),
        None => Ok(json!({"changes": true, "plan": "Its part of the lab is to be destroyed (no node or net left on it).\n", "destroy": true})),
    })
}

/// Converges every involved host to its fragment (a host left with nothing destroys its
/// part), in parallel; records the ledger before (so that a killed controller leaves the hosts
/// known) and after. `progress(host, line)`.
pub fn apply(
    p: &mut Prepared,
    ask: &Ask,
    state: &vnx_state::State,
    ledger: Option<Ledger>,
    progress: &(dyn Fn(&str, String) + Sync),
) -> Result<BTreeMap<String, Result<Value, String>>, String> {
    let lab = ask.scenario.name.value.clone();
    let mut l = ledger.unwrap_or_default();
    l.version = LEDGER_VERSION;
    l.cluster_file = ask.cluster_file.clone();
    l.cluster = ask.cluster_text.clone();
    l.strategy = ask.strategy.name().to_string();
    l.placement = p.layout.placement.clone();
    l.vnis = p.layout.vnis.clone();
    l.spans = p.layout.spans.clone();
    l.mtu = p.mtu;
    l.scenario = scenario::write(ask.scenario, Format::Yaml);
    l.dir = ask.dir.clone();
    l.source = ask.source.clone();
    for h in &p.involved {
        l.hosts.insert(h.clone(), HostRecord { status: "applying".into(), error: None });
    }
    l.write(state, &lab)?;
    let fragments = &p.fragments;
    let dir = ask.dir.clone();
    let results = p.hosts.each(&p.involved, |ch| {
        let host = ch.host.clone();
        let mut say = |line: String| progress(&host, line);
        match &fragments[&ch.host] {
            Some(f) => {
                let req = Request::Apply {
                    fragment: f.yaml.clone(),
                    dir: dir.clone(),
                    files: f.files.clone(),
                    options: f.options.clone(),
                };
                ch.call(&req, &mut say)
            }
            None => ch.call(&Request::Destroy { lab: lab.clone() }, &mut say),
        }
    });
    for (h, r) in &results {
        let rec = match r {
            Ok(v) if v["status"] == "ok" => HostRecord { status: "ok".into(), error: None },
            Ok(v) => HostRecord { status: "failed".into(), error: Some(failure_of(v)) },
            Err(e) => HostRecord { status: "unreachable".into(), error: Some(e.clone()) },
        };
        // A host whose part is gone holds nothing more.
        if rec.status == "ok" && fragments[h].is_none() {
            l.hosts.remove(h);
        } else {
            l.hosts.insert(h.clone(), rec);
        }
    }
    l.write(state, &lab)?;
    Ok(results)
}

/// What went wrong on a host, from its apply's result.
pub fn failure_of(v: &Value) -> String {
    let failed: Vec<String> = v["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("{}: {}", f["address"].as_str().unwrap_or("?"), f["error"].as_str().unwrap_or("?")))
        .collect();
    if failed.is_empty() {
        format!("status {}", v["status"])
    } else {
        failed.join("; ")
    }
}

/// Destroys the lab's part on each host the ledger names (or those of `only`) of `cluster`
/// (the ledger's: [`Ledger::cluster`]); forgets the ledger when no host holds anything.
pub fn destroy(
    state: &vnx_state::State,
    lab: &str,
    ledger: Ledger,
    cluster: &Cluster,
    only: &BTreeSet<String>,
    opts: &channel::Options,
    progress: &(dyn Fn(&str, String) + Sync),
) -> Result<BTreeMap<String, Result<Value, String>>, String> {
    let by_host: BTreeMap<String, Vec<String>> =
        ledger.hosts.keys().filter(|h| only.is_empty() || only.contains(*h)).map(|h| (h.clone(), vec![])).collect();
    let results = on_hosts(cluster, &by_host, opts, progress, |_| Request::Destroy { lab: lab.to_string() });
    let mut l = ledger;
    for (h, r) in &results {
        match r {
            Ok(v) if v["status"] == "ok" => {
                l.hosts.remove(h);
            }
            Ok(v) => {
                l.hosts.insert(h.clone(), HostRecord { status: "failed".into(), error: Some(failure_of(v)) });
            }
            Err(e) => {
                l.hosts.insert(h.clone(), HostRecord { status: "unreachable".into(), error: Some(e.clone()) });
            }
        }
    }
    if l.hosts.is_empty() {
        state.delete_ledger(lab).map_err(|e| e.to_string())?;
    } else {
        l.write(state, lab)?;
    }
    Ok(results)
}

/// Each host's `vnx show` of its part.
pub fn show(
    lab: &str,
    ledger: &Ledger,
    cluster: &Cluster,
    opts: &channel::Options,
) -> BTreeMap<String, Result<Value, String>> {
    let by_host = ledger.hosts.keys().map(|h| (h.clone(), vec![])).collect();
    on_hosts(cluster, &by_host, opts, &|_, _| {}, |_| Request::Show { lab: lab.to_string() })
}

/// Runs a command in `node`, on the host it was placed on: `{code, stdout, stderr}`.
pub fn exec(
    lab: &str,
    ledger: &Ledger,
    cluster: &Cluster,
    node: &str,
    argv: &[String],
    opts: &channel::Options,
) -> Result<Value, String> {
    let by_host = ledger.hosts_of(&[node.to_string()])?;
    let request = |_: &[String]| Request::Exec { lab: lab.to_string(), node: node.to_string(), argv: argv.to_vec() };
    let replies = on_hosts(cluster, &by_host, opts, &|_, _| {}, request);
    replies.into_values().next().unwrap_or_else(|| Err(format!("node `{node}` is on no host")))
}

/// A request on each host of `by_host` (host → its nodes) of `cluster`, in parallel: what
/// `make` builds of the host's nodes. Each host's reply, or why it gave none.
pub fn on_hosts(
    cluster: &Cluster,
    by_host: &BTreeMap<String, Vec<String>>,
    opts: &channel::Options,
    progress: &(dyn Fn(&str, String) + Sync),
    make: impl Fn(&[String]) -> Request + Sync,
) -> BTreeMap<String, Result<Value, String>> {
    let names: BTreeSet<String> = by_host.keys().cloned().collect();
    let mut hosts = Hosts::connect(cluster, &names, opts);
    hosts.each(&names, |ch| {
        let host = ch.host.clone();
        ch.call(&make(&by_host[&host]), &mut |line| progress(&host, line))
    })
}
