//! The lab provider: builds every resource kind of an `ns` lab (nets, nodes, interfaces, p2p
//! links, addresses, link conditions, routes, forwarding, host interfaces and routes) with
//! [`netlink`](crate::netlink) and [`ns`](crate::ns). Each operation is idempotent: create
//! removes a half-built leftover first, delete of something absent succeeds, so an apply that
//! was killed can simply be run again.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::kinds::routes::{self, Route};
use crate::kinds::{
    addresses, boot, capture, conditions, forwarding, host_routes, hostif, hosts, interface, lab, mgmt, net, node, p2p,
};
use crate::netlink::{LinkChange, Netlink};
use crate::noderoot::NodeRoot;
use crate::ns::{self, Init, NodeSpec};
use crate::{mark, Error, Result};

#[cfg(feature = "libvirt")]
mod vm;

/// Without the libvirt feature, VM resources fail saying so.
#[cfg(not(feature = "libvirt"))]
mod vm {
    use super::{Item, Lab, Seen, Views};
    use crate::{Error, Result};
    use serde_json::Value;

    fn no() -> Error {
        Error::Other("this vnx was built without virtual machines: build it with --features libvirt".into())
    }
    impl Lab {
        pub(super) async fn vm_create(&self, _: &Item) -> Result<Value> {
            Err(no())
        }
        pub(super) async fn vm_update(&self, _: &Item, _: &Item) -> Result<Value> {
            Err(no())
        }
        pub(super) async fn vm_delete(&self, _: &Item) -> Result<()> {
            Err(no())
        }
        pub(super) async fn vm_refresh(&self, _: &Item, _: &[crate::netlink::Link], _: &Views) -> Result<Seen> {
            Err(no())
        }
    }
}

/// A resource as the provider sees it: kind, name, attributes, and runtime facts.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: String,
    pub name: String,
    /// Who makes it: `net` and `ns` here, `libvirt` in `lab/vm.rs` (the resource's provider,
    /// as the planner chose it).
    pub provider: String,
    pub attrs: Map<String, Value>,
    pub runtime: Value,
}

/// What refresh found.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Present(Map<String, Value>),
    Missing,
}

/// What the engine asks of a provider.
pub trait Provider: Send + Sync + 'static {
    fn refresh(&self, items: Vec<Item>) -> impl Future<Output = Vec<Result<Seen>>> + Send;
    /// Creates; returns the runtime facts to record.
    fn create(&self, item: Item) -> impl Future<Output = Result<Value>> + Send;
    fn update(&self, old: Item, new: Item) -> impl Future<Output = Result<Value>> + Send;
    fn delete(&self, old: Item) -> impl Future<Output = Result<()>> + Send;
}

/// Runs a node's boot sequence (on_boot execs and filetrees); given by the caller, which knows
/// the scenario language.
pub type BootRunner = Arc<dyn Fn(&str, &Init, &boot::Attrs) -> Result<()> + Send + Sync>;

pub struct Lab {
    scenario: String,
    dir: PathBuf,
    /// Where `ns` nodes' directories live ([`ns::run_dir`]), and whether it is ready.
    run_dir: PathBuf,
    run_dir_ready: Mutex<bool>,
    /// The link group of the lab's links ([`crate::names::link_group`]).
    group: u32,
    /// Made at the first node start; `Some(None)`: it could not be made.
    mount_template: Mutex<Option<Option<ns::MountTemplate>>>,
    exe: PathBuf,
    host: Netlink,
    inits: Mutex<HashMap<String, Init>>,
    /// Each node's network namespace name (it outlives a shutdown of the node).
    netns_names: Mutex<HashMap<String, String>>,
    /// Each node's boot resource attributes: run again when a node starts again.
    boots: Mutex<HashMap<String, boot::Attrs>>,
    /// Each node's gateway routes: put back when a node starts again (its links went down).
    routes: Mutex<HashMap<String, Vec<Route>>>,
    /// Virtual machine nodes: their `vm` attributes (domain name, NICs, …). Read by
    /// `lab/vm.rs`, whose libvirt calls exist only with the `libvirt` feature.
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    vms: Mutex<HashMap<String, Value>>,
    /// libvirt's URI (`VNX_LIBVIRT_URI`, default qemu:///system) and domain type
    /// (`VNX_DOMAIN_TYPE`: auto, kvm, qemu).
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    libvirt_uri: String,
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    domain_type: String,
    #[cfg(feature = "libvirt")]
    hv: Mutex<Option<Arc<crate::libvirt::Hypervisor>>>,
    /// One request at a time per guest agent: QEMU's channel socket serves one client.
    #[cfg(feature = "libvirt")]
    agent_turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Netlink in the lab's own network namespace (bridges and host ends of its nets).
    lab_nl: tokio::sync::Mutex<HashMap<String, Netlink>>,
    boot: BootRunner,
}

/// A kind's typed attributes (the kinds of `kinds/`), from an item's serialised ones.
fn typed<T: serde::de::DeserializeOwned>(it: &Item) -> Result<T> {
    crate::kinds::from_attrs(&it.kind, &it.name, &it.attrs)
}

/// Runs blocking work (a process to start or wait for) off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Other(e.to_string()))?
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s.split(':').filter_map(|p| u8::from_str_radix(p, 16).ok()).collect();
    v.try_into().ok()
}

fn nets(list: &[String]) -> Result<Vec<IpNet>> {
    list.iter().map(|a| a.parse::<IpNet>().map_err(|e| Error::Other(format!("{a}: {e}")))).collect()
}

/// The same list as `recorded` when it holds the same items (order is the scenario's, not the
/// kernel's), else the observed list.
fn as_recorded(observed: Vec<String>, recorded: &[String]) -> Value {
    let a: BTreeSet<&String> = observed.iter().collect();
    let b: BTreeSet<&String> = recorded.iter().collect();
    if a == b {
        json!(recorded)
    } else {
        json!(observed)
    }
}

fn route_of(r: &Route) -> Result<(IpNet, IpAddr)> {
    let to = r.to.as_str();
    let gw: IpAddr = r.gw.parse().map_err(|e| Error::Other(format!("gateway {}: {e}", r.gw)))?;
    let dest = if to == "default" {
        if gw.is_ipv4() {
            "0.0.0.0/0".parse().expect("literal")
        } else {
            "::/0".parse().expect("literal")
        }
    } else {
        to.parse().map_err(|e| Error::Other(format!("{to}: {e}")))?
    };
    Ok((dest, gw))
}

fn route_key(dest: &IpNet, gw: &IpAddr) -> String {
    let to = if dest.prefix_len() == 0 { "default".to_string() } else { dest.trunc().to_string() };
    json!({"to": to, "gw": gw.to_string()}).to_string()
}

impl Lab {
    /// The kinds of recorded resources [`Lab::new`] reads (others it ignores).
    pub const RECORDED_KINDS: [&'static str; 3] = ["node", "boot", "routes"];

    /// `recorded` gives the nodes that exist already (their init pids), their boot sequences
    /// and routes: see [`Lab::RECORDED_KINDS`].
    pub fn new(scenario: &str, dir: PathBuf, exe: PathBuf, recorded: &[Item], boot: BootRunner) -> Result<Lab> {
        let (mut inits, mut netns_names, mut boots, mut routes) =
            (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        let mut vms = HashMap::new();
        for r in recorded {
            match r.kind.as_str() {
                "node" if r.provider == crate::libvirt::PROVIDER => {
                    vms.insert(r.name.clone(), r.attrs["vm"].clone());
                }
                "node" => {
                    if let Ok(init) = serde_json::from_value::<Init>(r.runtime.clone()) {
                        inits.insert(r.name.clone(), init);
                    }
                    if let Some(n) = typed::<node::Attrs>(r)?.netns {
                        netns_names.insert(r.name.clone(), n);
                    }
                }
                boot::KIND => {
                    let b: boot::Attrs = typed(r)?;
                    boots.insert(b.node.clone(), b);
                }
                routes::KIND => {
                    let a: routes::Attrs = typed(r)?;
                    routes.insert(a.node, a.routes);
                }
                _ => {}
            }
        }
        Ok(Lab {
            scenario: scenario.to_string(),
            dir,
            run_dir: ns::run_dir(scenario)?,
            run_dir_ready: Mutex::new(false),
            group: crate::names::link_group(scenario),
            mount_template: Mutex::new(None),
            exe,
            host: Netlink::current()?,
            inits: Mutex::new(inits),
            netns_names: Mutex::new(netns_names),
            boots: Mutex::new(boots),
            routes: Mutex::new(routes),
            vms: Mutex::new(vms),
            libvirt_uri: crate::libvirt::uri(),
            domain_type: std::env::var("VNX_DOMAIN_TYPE")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "auto".into()),
            #[cfg(feature = "libvirt")]
            hv: Mutex::new(None),
            #[cfg(feature = "libvirt")]
            agent_turns: Default::default(),
            lab_nl: Default::default(),
            boot,
        })
    }

    fn init(&self, node: &str) -> Result<Init> {
        let init = self.inits.lock().expect("not poisoned").get(node).copied();
        match init {
            Some(i) if i.alive() => Ok(i),
            _ => Err(Error::Node(format!("node {node} is not running"))),
        }
    }

    /// The node's network namespace: its init's, or the one bound to its name when the node is
    /// shut off (links, addresses and routes stay there).
    fn netns(&self, node: &str) -> Result<std::os::fd::OwnedFd> {
        if let Ok(init) = self.init(node) {
            return init.netns();
        }
        let name = self.netns_names.lock().expect("not poisoned").get(node).cloned();
        name.as_deref().and_then(ns::open_bound_netns).ok_or_else(|| Error::Node(format!("node {node} does not exist")))
    }

    /// How the node runs now: running, paused, shutoff; `None` when it does not exist.
    pub fn run_state(&self, node: &str) -> Option<&'static str> {
        let name = self.netns_names.lock().expect("not poisoned").get(node).cloned().unwrap_or_default();
        ns::run_state(self.init(node).ok().as_ref(), &name)
    }

    /// Brings a node to run state `want`. Starting a node that was shut off starts a new init in
    /// its network namespace and runs its boot sequence again, as VNX does for containers.
    async fn set_run(&self, node: &str, a: &node::Attrs, want: &str) -> Result<Value> {
        let now = self.run_state(node).ok_or_else(|| Error::Node(format!("node {node} does not exist")))?;
        match (now, want) {
            (n, w) if n == w => {}
            (ns::PAUSED, _) => {
                let init = self.init(node)?;
                tokio::task::spawn_blocking(move || ns::thaw(&init)).await.map_err(|e| Error::Other(e.to_string()))?;
                return Box::pin(self.set_run(node, a, want)).await;
            }
            (ns::RUNNING, ns::PAUSED) => {
                let init = self.init(node)?;
                tokio::task::spawn_blocking(move || ns::freeze(&init))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
            }
            (ns::RUNNING, _) => {
                let init = self.init(node)?;
                tokio::task::spawn_blocking(move || ns::stop(&init)).await.map_err(|e| Error::Other(e.to_string()))?;
                self.inits.lock().expect("not poisoned").remove(node);
                self.links_down(node).await?;
            }
            (_, _) => {
                // Shut off → running or paused.
                let netns = self
                    .netns_names
                    .lock()
                    .expect("not poisoned")
                    .get(node)
                    .and_then(|n| ns::bound_netns(n))
                    .ok_or_else(|| Error::Node(format!("node {node} has no network namespace")))?;
                let spec = NodeSpec {
                    hostname: a.hostname.clone(),
                    rootfs: a.rootfs.as_deref().unwrap_or("/").into(),
                    dir: self.ns_dir(node)?,
                    hosts: vec![],
                    netns: Some(netns),
                    mounts_from: self.mounts_from()?,
                };
                let exe = self.exe.clone();
                let init = tokio::task::spawn_blocking(move || ns::start(&exe, &spec))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))??;
                self.inits.lock().expect("not poisoned").insert(node.to_string(), init);
                self.links_up(node).await?;
                let boot_attrs = self.boots.lock().expect("not poisoned").get(node).cloned();
                if let Some(attrs) = boot_attrs {
                    let (boot, name) = (self.boot.clone(), node.to_string());
                    tokio::task::spawn_blocking(move || boot(&name, &init, &attrs))
                        .await
                        .map_err(|e| Error::Other(e.to_string()))??;
                }
                if want == ns::PAUSED {
                    tokio::task::spawn_blocking(move || ns::freeze(&init))
                        .await
                        .map_err(|e| Error::Other(e.to_string()))?;
                }
            }
        }
        Ok(match self.init(node) {
            Ok(i) => json!(i),
            Err(_) => Value::Null,
        })
    }

    /// A shut-off node's links go down, as a VM's NICs do with it: it neither answers nor
    /// forwards. Its addresses stay (IPv6 ones too: keep_addr_on_down); the kernel drops the
    /// routes through them, which [`Lab::links_up`] puts back. The file `links-up` in the node's
    /// directory names the links to bring up again.
    async fn links_down(&self, node: &str) -> Result<()> {
        ns::set_net_sysctl(self.netns(node)?, "net/ipv6/conf/all/keep_addr_on_down", "1")?;
        let nl = self.nl(node).await?;
        let mut up = Vec::new();
        for l in nl.links().await?.into_iter().filter(|l| l.up && l.name != "lo") {
            nl.set_link(l.index, LinkChange { up: Some(false), ..Default::default() }).await?;
            up.push(l.name);
        }
        let file = self.ns_dir(node)?.join("links-up");
        std::fs::write(&file, up.join("\n")).map_err(|e| Error::Node(format!("{}: {e}", file.display())))
    }

    async fn links_up(&self, node: &str) -> Result<()> {
        let file = self.ns_dir(node)?.join("links-up");
        let Ok(names) = std::fs::read_to_string(&file) else { return Ok(()) };
        let nl = self.nl(node).await?;
        for name in names.lines().filter(|n| !n.is_empty()) {
            if let Some(l) = nl.link_by_name(name).await? {
                nl.set_link(l.index, LinkChange { up: Some(true), ..Default::default() }).await?;
            }
        }
        let routes = self.routes.lock().expect("not poisoned").get(node).cloned().unwrap_or_default();
        self.sync_routes(&nl, &[], &routes).await?;
        let _ = std::fs::remove_file(&file);
        Ok(())
    }

    /// A netlink socket in the node's network namespace. Not kept: a thousand nodes' sockets
    /// would hold 72 KiB of buffers each.
    async fn nl(&self, node: &str) -> Result<Netlink> {
        Netlink::in_netns(self.netns(node)?).await
    }

    fn alias(&self, kind: &str, name: &str) -> String {
        mark(&self.scenario, kind, name)
    }

    /// Whether a link of the host's namespace is this resource's: it carries the resource's
    /// mark, or no mark at all but the lab's link group (a create interrupted before its
    /// alias was set). Links in the lab's and the nodes' namespaces are vnx's by where they
    /// are: vnx made those namespaces.
    fn ours(&self, l: &crate::netlink::Link, kind: &str, name: &str) -> bool {
        match &l.alias {
            Some(a) => *a == self.alias(kind, name),
            None => l.group == Some(self.group),
        }
    }

    /// Makes way for a link named `link` of resource (`kind`, `name`) on `side`: removes a
    /// leftover of vnx's own; refuses, naming it, anything else of that name in the host's
    /// namespace (`in_host`).
    async fn clear_way(&self, side: &Netlink, in_host: bool, link: &str, kind: &str, name: &str) -> Result<()> {
        let Some(l) = side.link_by_name(link).await? else { return Ok(()) };
        if in_host && !self.ours(&l, kind, name) {
            return Err(not_ours(&l));
        }
        side.del_link(l.index).await
    }

    /// A virtual machine's directory (disk overlay, configuration drive, saved state): on disk,
    /// beside the state database.
    pub fn node_dir(&self, node: &str) -> Result<PathBuf> {
        crate::names::child(&self.dir.join("nodes"), "node", node)
    }

    /// An `ns` node's directory, in the lab's runtime directory (a tmpfs: see [`ns::run_dir`]).
    pub fn ns_dir(&self, node: &str) -> Result<PathBuf> {
        crate::names::child(&self.run_dir, "node", node)
    }

    fn ensure_run_dir(&self) -> Result<()> {
        let mut ready = self.run_dir_ready.lock().expect("not poisoned");
        if !*ready {
            ns::ensure_run_dir(&self.run_dir)?;
            *ready = true;
        }
        Ok(())
    }

    /// The mount namespace nodes start from, made once (after the nodes' tmpfs is mounted, so
    /// that the copy has it). Without one, nodes copy vnx's (slower in a large lab, as correct).
    fn mounts_from(&self) -> Result<Option<PathBuf>> {
        self.ensure_run_dir()?;
        let mut template = self.mount_template.lock().expect("not poisoned");
        if template.is_none() {
            *template = Some(ns::MountTemplate::new().inspect_err(|e| tracing::debug!("{e}")).ok());
        }
        Ok(template.as_ref().and_then(|t| t.as_ref()).map(ns::MountTemplate::path))
    }

    async fn index_in(&self, nl: &Netlink, name: &str) -> Result<u32> {
        nl.link_by_name(name).await?.map(|l| l.index).ok_or_else(|| Error::Netlink(format!("no link named {name}")))
    }

    /// A veth pair from the host (`host_name`) into a node (`ifname`, with its MAC), after
    /// removing a half-built leftover on either side ([`Lab::clear_way`] for resource `owner`:
    /// in the host's namespace?, kind, name). Returns the node's netlink.
    #[allow(clippy::too_many_arguments)]
    async fn veth_into_node(
        &self,
        side: &Netlink,
        owner: (bool, &str, &str),
        host_name: &str,
        node: &str,
        ifname: &str,
        mac: Option<[u8; 6]>,
        mtu: Option<u32>,
    ) -> Result<Netlink> {
        let (in_host, kind, name) = owner;
        self.clear_way(side, in_host, host_name, kind, name).await?;
        let nl = self.nl(node).await?;
        self.clear_way(&nl, false, ifname, kind, name).await?;
        side.add_veth(host_name, ifname, Some(&self.netns(node)?), mac, mtu, self.group).await?;
        Ok(nl)
    }

    /// Where a net's bridge or an interface's host end lives: the lab's own network namespace
    /// (`host_netns`), or the host's.
    /// The netlink socket of the namespace a resource's links live in: the lab's, named, or
    /// the host's.
    async fn side(&self, host_netns: Option<&str>) -> Result<Netlink> {
        let Some(name) = host_netns else { return Ok(self.host.clone()) };
        let mut cache = self.lab_nl.lock().await;
        if let Some(n) = cache.get(name) {
            return Ok(n.clone());
        }
        let fd = ns::open_bound_netns(name)
            .ok_or_else(|| Error::Other(format!("the lab's network namespace {name} is missing")))?;
        let n = Netlink::in_netns(fd).await?;
        cache.insert(name.to_string(), n.clone());
        Ok(n)
    }

    /// The index of the resource's `bridge` (on `side`), when it names one.
    async fn bridge_index(&self, side: &Netlink, bridge: Option<&str>) -> Result<Option<u32>> {
        match bridge {
            Some(b) => Ok(Some(self.index_in(side, b).await?)),
            None => Ok(None),
        }
    }

    async fn sync_addrs(&self, nl: &Netlink, ifname: &str, want: &[IpNet]) -> Result<()> {
        let index = self.index_in(nl, ifname).await?;
        let have: Vec<IpNet> = nl
            .addrs()
            .await?
            .into_iter()
            .filter(|a| a.index == index)
            .map(|a| a.net)
            .filter(|n| !is_link_local(n))
            .collect();
        // Add before removing: removing a subnet's last address makes the kernel drop the
        // routes through it, which an in-place change must not do.
        for n in want {
            if !have.contains(n) {
                nl.add_addr(index, *n).await?;
            }
        }
        for n in &have {
            if !want.contains(n) {
                nl.del_addr(index, *n).await?;
            }
        }
        Ok(())
    }

    async fn sync_routes(&self, nl: &Netlink, old: &[Route], new: &[Route]) -> Result<()> {
        let new_keys: BTreeSet<String> =
            new.iter().filter_map(|r| route_of(r).ok()).map(|(d, g)| route_key(&d, &g)).collect();
        for r in old {
            let (d, g) = route_of(r)?;
            if !new_keys.contains(&route_key(&d, &g)) {
                nl.del_route(d, g).await?;
            }
        }
        for r in new {
            let (d, g) = route_of(r)?;
            nl.add_route(d, g).await?;
        }
        Ok(())
    }

    async fn read_routes(&self, nl: &Netlink, recorded: &[Route]) -> Result<Value> {
        Ok(routes_seen(&nl.routes().await?, recorded))
    }
}

/// One interface's addresses as refresh reports them (link-local ones are the kernel's, not ours).
fn addrs_seen(
    links: &[crate::netlink::Link],
    addrs: &[crate::netlink::Addr],
    ifname: &str,
    (ipv4, ipv6): (&[String], &[String]),
) -> Seen {
    let Some(link) = links.iter().find(|l| l.name == ifname) else { return Seen::Missing };
    let have: Vec<IpNet> =
        addrs.iter().filter(|a| a.index == link.index).map(|a| a.net).filter(|n| !is_link_local(n)).collect();
    let v4: Vec<String> = have.iter().filter(|n| n.addr().is_ipv4()).map(|n| n.to_string()).collect();
    let v6: Vec<String> = have.iter().filter(|n| n.addr().is_ipv6()).map(|n| n.to_string()).collect();
    let mut m = Map::new();
    m.insert("ipv4".into(), as_recorded(v4, ipv4));
    m.insert("ipv6".into(), as_recorded(v6, ipv6));
    Seen::Present(m)
}

/// What a refresh read, each thing once: the lab's namespace and every `ns` node up front, in
/// one batch ([`Lab::prefetch_views`]); VM guests lazily, through their agents.
#[derive(Default)]
struct Views {
    /// The lab's namespace (by name) and its links, sorted by name.
    lab: Option<(String, Arc<NodeView>)>,
    nodes: HashMap<String, NodeSeen>,
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    vms: tokio::sync::Mutex<HashMap<String, VmView>>,
}

/// A VM guest's view, read once (by the first item that needs it).
type VmView = Arc<tokio::sync::OnceCell<Option<Arc<NodeView>>>>;

impl Views {
    /// What was read of an `ns` node's links, addresses and routes.
    fn node_view(&self, node: &str) -> Option<Arc<NodeView>> {
        self.nodes.get(node).and_then(|n| n.view.clone())
    }
}

/// One `ns` node as a refresh found it.
#[derive(Default)]
struct NodeSeen {
    /// Running, paused, shut off; `None`: gone.
    run: Option<&'static str>,
    /// Its namespace is still bound to its name (a shut-off node's always is).
    bound: bool,
    /// Its links and addresses, and its routes if asked: `None` if they could not be read.
    view: Option<Arc<NodeView>>,
}

impl NodeSeen {
    /// How the node with this `init` (if it has one) and namespace name runs.
    fn of(init: Option<&Init>, netns: &str) -> NodeSeen {
        let run = ns::run_state(init, netns);
        let bound = match init {
            Some(i) if run.is_some_and(|r| r != ns::SHUTOFF) => ns::netns_bound_to(i, netns),
            _ => true,
        };
        NodeSeen { run, bound, view: None }
    }
}

/// What a refresh read of one node: its links and addresses, or its routes.
type NodeView = crate::netlink::NsView;

/// The recorded routes as the kernel shows them: all of them when all are there.
fn routes_seen(routes: &[crate::netlink::Route], recorded: &[Route]) -> Value {
    {
        let have: BTreeSet<String> = routes.iter().map(|r| route_key(&r.dest, &r.gw)).collect();
        let want: BTreeSet<String> =
            recorded.iter().filter_map(|r| route_of(r).ok()).map(|(d, g)| route_key(&d, &g)).collect();
        // Only our routes count: a route someone else added is not drift, ours missing is.
        if want.is_subset(&have) {
            json!(recorded)
        } else {
            let present: Vec<Route> = recorded
                .iter()
                .filter(|r| route_of(r).is_ok_and(|(d, g)| have.contains(&route_key(&d, &g))))
                .cloned()
                .collect();
            json!(present)
        }
    }
}

impl Lab {
    async fn set_up_link(&self, nl: &Netlink, name: &str, c: LinkChange) -> Result<()> {
        let index = self.index_in(nl, name).await?;
        nl.set_link(index, c).await
    }

    fn tc(&self, node: &str, cmds: &[Vec<String>]) -> Result<()> {
        for args in cmds {
            ns::run_in_netns(self.netns(node)?, "tc", args).map_err(|e| {
                let e = e.to_string();
                if e.contains("qdisc kind is unknown") && args.iter().any(|a| a == "netem") {
                    Error::Other(format!("this kernel has no netem qdisc (module sch_netem): delay and loss cannot be applied here ({e})"))
                } else {
                    Error::Other(e)
                }
            })?;
        }
        Ok(())
    }

    /// Whether the resource is a virtual machine's (lab/vm.rs builds those): its provider says.
    fn is_vm_item(&self, it: &Item) -> bool {
        it.provider == crate::libvirt::PROVIDER
    }

    async fn create_inner(&self, it: &Item) -> Result<Value> {
        if self.is_vm_item(it) {
            return self.vm_create(it).await;
        }
        match it.kind.as_str() {
            capture::KIND => {
                let attrs = typed::<capture::Attrs>(it)?;
                let logs = self.dir.join("captures");
                let net = it.name.clone();
                blocking(move || capture::create(&net, &attrs, &logs)).await
            }
            lab::KIND => {
                let a: lab::Attrs = typed(it)?;
                let name = a.netns.as_str();
                self.lab_nl.lock().await.remove(name);
                // Only layer 2 happens here (bridges, the host ends of veths): without IPv6,
                // no link-local address and no IPv6 route per link, whose table the kernel
                // walks at every link up and down (quadratic in the lab's size otherwise).
                ns::new_netns(
                    name,
                    &self.alias(&it.kind, &it.name),
                    &[("net/ipv6/conf/default/disable_ipv6", "1"), ("net/ipv6/conf/all/disable_ipv6", "1")],
                )?;
                Ok(json!({}))
            }
            net::KIND => {
                let n: net::Attrs = typed(it)?;
                let side = self.side(n.host_netns.as_deref()).await?;
                let bridge = n.bridge.as_str();
                let existing = side.link_by_name(bridge).await?;
                if !n.managed {
                    if existing.is_none() {
                        return Err(Error::Other(format!(
                            "bridge {bridge} does not exist (the net is managed=\"no\": vnx never creates it)"
                        )));
                    }
                } else {
                    if existing.is_some() {
                        self.clear_way(&side, n.host_netns.is_none(), bridge, "net", &it.name).await?;
                    }
                    side.add_bridge(bridge, n.mtu.map(|m| m as u32), n.stp, self.group).await?;
                    self.set_up_link(
                        &side,
                        bridge,
                        LinkChange { up: Some(n.up), alias: Some(self.alias("net", &it.name)), ..Default::default() },
                    )
                    .await?;
                }
                if let Some(ext) = &n.external {
                    let br = self.index_in(&side, bridge).await?;
                    self.set_up_link(&side, ext, LinkChange { up: Some(true), master: Some(br), ..Default::default() })
                        .await?;
                }
                if let Some(addrs) = &n.host_addrs {
                    let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{bridge}/promote_secondaries"), "1");
                    self.sync_addrs(&side, bridge, &nets(addrs)?).await?;
                }
                Ok(json!({}))
            }
            mgmt::KIND => {
                let m: mgmt::Attrs = typed(it)?;
                let (host_name, ifname) = (m.host_name.as_str(), m.ifname.as_str());
                let nl = self
                    .veth_into_node(
                        &self.host,
                        (true, "mgmt", &it.name),
                        host_name,
                        &m.node,
                        ifname,
                        m.mac.as_deref().and_then(parse_mac),
                        None,
                    )
                    .await?;
                let master = self.bridge_index(&self.host, m.bridge.as_deref()).await?;
                self.set_up_link(
                    &self.host,
                    host_name,
                    LinkChange {
                        up: Some(true),
                        master,
                        alias: Some(self.alias("mgmt", &it.name)),
                        ..Default::default()
                    },
                )
                .await?;
                if let Some(h) = &m.host_addr {
                    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{host_name}/autoconf"), "0");
                    self.sync_addrs(&self.host, host_name, &nets(std::slice::from_ref(h))?).await?;
                }
                self.set_up_link(&nl, ifname, LinkChange { up: Some(true), ..Default::default() }).await?;
                self.sync_addrs(&nl, ifname, &nets(std::slice::from_ref(&m.node_addr))?).await?;
                Ok(json!({}))
            }
            hosts::KIND => {
                let a: hosts::Attrs = typed(it)?;
                hosts_section(Path::new(&a.file), &a.scenario, Some(&a.lines))
                    .map_err(|e| Error::Other(format!("{}: {e}", a.file)))?;
                for n in &a.nodes {
                    if let Ok(init) = self.init(n) {
                        node_hosts_section(&init, &a.scenario, Some(&a.lines))
                            .map_err(|e| Error::Other(format!("{n}'s /etc/hosts: {e}")))?;
                    }
                }
                Ok(json!({}))
            }
            node::KIND => {
                let n: node::Attrs = typed(it)?;
                let netns = n.netns.as_deref().ok_or_else(|| Error::Other(format!("node {} has no netns", it.name)))?;
                if let Some(old) = self.inits.lock().expect("not poisoned").remove(&it.name) {
                    ns::stop(&old); // a leftover of an interrupted apply
                }
                let mounts_from = self.mounts_from()?;
                let dir = self.ns_dir(&it.name)?;
                ns::kill_leftovers(&dir);
                ns::remove_dir(&dir);
                let spec = NodeSpec {
                    hostname: n.hostname.clone(),
                    rootfs: n.rootfs.as_deref().unwrap_or("/").into(),
                    dir,
                    hosts: vec![],
                    netns: None,
                    mounts_from,
                };
                let exe = self.exe.clone();
                let init = tokio::task::spawn_blocking(move || ns::start(&exe, &spec))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))??;
                self.inits.lock().expect("not poisoned").insert(it.name.clone(), init);
                ns::bind_netns(&init, netns, &self.alias("node", &it.name))?;
                // No duplicate address detection on the node's links (its addresses are `nodad`
                // already): their link-local addresses stay tentative for a second or more
                // otherwise, and the first IPv6 packets across a router right after apply were
                // lost while a router's could not be used.
                ns::set_net_sysctl(init.netns()?, "net/ipv6/conf/default/accept_dad", "0")?;
                self.netns_names.lock().expect("not poisoned").insert(it.name.clone(), netns.to_string());
                // A node the user shut down or paused is built that way (its boot waits for a start).
                match n.run.as_str() {
                    w @ (ns::SHUTOFF | ns::PAUSED) => self.set_run(&it.name, &n, w).await,
                    _ => Ok(json!(init)),
                }
            }
            interface::KIND => {
                let i: interface::Attrs = typed(it)?;
                let side = self.side(i.host_netns.as_deref()).await?;
                let (host_name, ifname) = (i.host_name.as_str(), i.ifname.as_str());
                let mtu = i.mtu.map(|m| m as u32);
                let up = i.up;
                if i.host_netns.is_some() {
                    // The lab's end is born on its bridge and up, in one request; then it gets
                    // its mark (`ip link` shows whose it is) and the node's end goes up. A
                    // leftover of an interrupted apply ("File exists") takes the long way below.
                    let master = self.bridge_index(&side, i.bridge.as_deref()).await?;
                    let node = i.node.as_str();
                    let mac = i.mac.as_deref().and_then(parse_mac);
                    match side
                        .add_veth_on(host_name, ifname, Some(&self.netns(node)?), mac, mtu, master, up, self.group)
                        .await
                    {
                        Err(Error::Netlink(e)) if e.contains("File exists") => {}
                        Err(e) => return Err(e),
                        Ok(()) => {
                            let mark =
                                LinkChange { alias: Some(self.alias("interface", &it.name)), ..Default::default() };
                            self.set_up_link(&side, host_name, mark).await?;
                            if up {
                                let nl = self.nl(node).await?;
                                self.set_up_link(&nl, ifname, LinkChange { up: Some(true), ..Default::default() })
                                    .await?;
                            }
                            return Ok(json!({}));
                        }
                    }
                }
                let owner = (i.host_netns.is_none(), "interface", it.name.as_str());
                let (node, mac) = (i.node.as_str(), i.mac.as_deref().and_then(parse_mac));
                let nl = self.veth_into_node(&side, owner, host_name, node, ifname, mac, mtu).await?;
                let master = self.bridge_index(&side, i.bridge.as_deref()).await?;
                self.set_up_link(
                    &side,
                    host_name,
                    LinkChange {
                        up: Some(up),
                        master,
                        alias: Some(self.alias("interface", &it.name)),
                        ..Default::default()
                    },
                )
                .await?;
                self.set_up_link(&nl, ifname, LinkChange { up: Some(up), ..Default::default() }).await?;
                Ok(json!({}))
            }
            p2p::KIND => {
                let p: p2p::Attrs = typed(it)?;
                let (ea, eb) = (&p.a, &p.b);
                let (ia, ib) = (ea.ifname.as_str(), eb.ifname.as_str());
                let (nla, nlb) = (self.nl(&ea.node).await?, self.nl(&eb.node).await?);
                self.clear_way(&nla, false, ia, "p2p", &it.name).await?;
                self.clear_way(&nlb, false, ib, "p2p", &it.name).await?;
                let fd_b = self.netns(&eb.node)?;
                nla.add_veth(ia, ib, Some(&fd_b), eb.mac.as_deref().and_then(parse_mac), None, self.group).await?;
                let up = p.up;
                self.set_up_link(
                    &nla,
                    ia,
                    LinkChange {
                        up: Some(up),
                        mac: ea.mac.as_deref().and_then(parse_mac),
                        alias: Some(self.alias("p2p", &it.name)),
                        ..Default::default()
                    },
                )
                .await?;
                self.set_up_link(
                    &nlb,
                    ib,
                    LinkChange { up: Some(up), alias: Some(self.alias("p2p", &it.name)), ..Default::default() },
                )
                .await?;
                Ok(json!({}))
            }
            addresses::KIND => {
                let a: addresses::Attrs = typed(it)?;
                let nl = self.nl(&a.node).await?;
                let mut want = nets(&a.ipv4)?;
                want.extend(nets(&a.ipv6)?);
                self.sync_addrs(&nl, &a.ifname, &want).await?;
                Ok(json!({}))
            }
            conditions::KIND => {
                let a: conditions::Attrs = typed(it)?;
                self.tc(&a.node, &a.tc)?;
                Ok(json!({}))
            }
            routes::KIND => {
                let r: routes::Attrs = typed(it)?;
                let nl = self.nl(&r.node).await?;
                self.routes.lock().expect("not poisoned").insert(r.node.clone(), r.routes.clone());
                self.sync_routes(&nl, &[], &r.routes).await?;
                Ok(json!({}))
            }
            forwarding::KIND => {
                let a: forwarding::Attrs = typed(it)?;
                let b = |on: bool| if on { "1" } else { "0" };
                ns::set_net_sysctl(self.netns(&a.node)?, "net/ipv4/ip_forward", b(a.ipv4))?;
                ns::set_net_sysctl(self.netns(&a.node)?, "net/ipv6/conf/all/forwarding", b(a.ipv6))?;
                Ok(json!({}))
            }
            hostif::KIND => {
                let h: hostif::Attrs = typed(it)?;
                let (ifname, peer, bridge) = (h.ifname.as_str(), h.peer.as_str(), h.bridge.as_str());
                self.clear_way(&self.host, true, ifname, "hostif", &it.name).await?;
                self.clear_way(&self.host, true, peer, "hostif", &it.name).await?;
                self.host.add_veth(ifname, peer, None, None, None, self.group).await?;
                let br = self.index_in(&self.host, bridge).await?;
                self.set_up_link(
                    &self.host,
                    peer,
                    LinkChange {
                        up: Some(true),
                        master: Some(br),
                        alias: Some(self.alias("hostif", &it.name)),
                        ..Default::default()
                    },
                )
                .await?;
                self.set_up_link(
                    &self.host,
                    ifname,
                    LinkChange { up: Some(true), alias: Some(self.alias("hostif", &it.name)), ..Default::default() },
                )
                .await?;
                // Only on our own interface (the host's other settings are not ours to change).
                let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries"), "1");
                let mut want = nets(&h.ipv4)?;
                want.extend(nets(&h.ipv6)?);
                self.sync_addrs(&self.host, ifname, &want).await?;
                Ok(json!({}))
            }
            host_routes::KIND => {
                let h: host_routes::Attrs = typed(it)?;
                self.sync_routes(&self.host, &[], &h.routes).await?;
                // Like VNX, forwarding on the host is switched on and never reverted.
                if h.forward_ipv4 {
                    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
                        .map_err(|e| Error::Other(format!("ip_forward: {e}")))?;
                }
                if h.forward_ipv6 {
                    std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
                        .map_err(|e| Error::Other(format!("ipv6 forwarding: {e}")))?;
                }
                Ok(json!({}))
            }
            boot::KIND => {
                let attrs: boot::Attrs = typed(it)?;
                let node = attrs.node.clone();
                self.boots.lock().expect("not poisoned").insert(node.clone(), attrs.clone());
                // A node built shut off boots when it starts.
                let Ok(init) = self.init(&node) else { return Ok(json!({})) };
                let boot = self.boot.clone();
                tokio::task::spawn_blocking(move || boot(&node, &init, &attrs))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))??;
                Ok(json!({}))
            }
            other => Err(Error::Other(format!("no provider for resources of kind `{other}`"))),
        }
    }

    async fn update_inner(&self, old: &Item, new: &Item) -> Result<Value> {
        if self.is_vm_item(new) {
            return self.vm_update(old, new).await;
        }
        match new.kind.as_str() {
            net::KIND => {
                let (was, n): (net::Attrs, net::Attrs) = (typed(old)?, typed(new)?);
                let side = self.side(n.host_netns.as_deref()).await?;
                let bridge = n.bridge.as_str();
                let index = self.index_in(&side, bridge).await?;
                if was.mtu != n.mtu || was.up != n.up {
                    let mtu = n.mtu.map(|m| m as u32);
                    side.set_link(index, LinkChange { mtu, up: Some(n.up), ..Default::default() }).await?;
                }
                if was.stp != n.stp {
                    side.set_bridge_stp(index, n.stp).await?;
                }
                if was.host_addrs != n.host_addrs {
                    self.sync_addrs(&side, bridge, &nets(n.host_addrs.as_deref().unwrap_or_default())?).await?;
                }
                if was.external != n.external {
                    if let Some(old_ext) = &was.external {
                        if let Some(l) = side.link_by_name(old_ext).await? {
                            side.set_link(l.index, LinkChange { master: Some(0), ..Default::default() }).await?;
                        }
                    }
                    if let Some(ext) = &n.external {
                        self.set_up_link(
                            &side,
                            ext,
                            LinkChange { up: Some(true), master: Some(index), ..Default::default() },
                        )
                        .await?;
                    }
                }
                Ok(json!({}))
            }
            node::KIND => {
                let n: node::Attrs = typed(new)?;
                if let (Ok(init), Some(netns)) = (self.init(&new.name), &n.netns) {
                    ns::bind_netns(&init, netns, &self.alias("node", &new.name))?;
                }
                self.set_run(&new.name, &n, &n.run).await
            }
            interface::KIND => {
                let (was, i): (interface::Attrs, interface::Attrs) = (typed(old)?, typed(new)?);
                let side = self.side(i.host_netns.as_deref()).await?;
                let mut c = LinkChange::default();
                if was.bridge != i.bridge {
                    c.master = Some(match &i.bridge {
                        Some(b) => self.index_in(&side, b).await?,
                        None => 0,
                    });
                }
                if was.mtu != i.mtu {
                    c.mtu = i.mtu.map(|m| m as u32);
                }
                if was.up != i.up {
                    c.up = Some(i.up);
                }
                let node_change = LinkChange {
                    mtu: c.mtu,
                    up: c.up,
                    mac: if was.mac != i.mac { i.mac.as_deref().and_then(parse_mac) } else { None },
                    ..Default::default()
                };
                self.set_up_link(&side, &i.host_name, c).await?;
                let nl = self.nl(&i.node).await?;
                self.set_up_link(&nl, &i.ifname, node_change).await?;
                Ok(json!({}))
            }
            addresses::KIND => {
                let a: addresses::Attrs = typed(new)?;
                let nl = self.nl(&a.node).await?;
                let mut want = nets(&a.ipv4)?;
                want.extend(nets(&a.ipv6)?);
                self.sync_addrs(&nl, &a.ifname, &want).await?;
                Ok(json!({}))
            }
            hostif::KIND => {
                let h: hostif::Attrs = typed(new)?;
                let mut want = nets(&h.ipv4)?;
                want.extend(nets(&h.ipv6)?);
                self.sync_addrs(&self.host, &h.ifname, &want).await?;
                Ok(json!({}))
            }
            routes::KIND => {
                let (was, r): (routes::Attrs, routes::Attrs) = (typed(old)?, typed(new)?);
                let nl = self.nl(&r.node).await?;
                self.routes.lock().expect("not poisoned").insert(r.node.clone(), r.routes.clone());
                self.sync_routes(&nl, &was.routes, &r.routes).await?;
                Ok(json!({}))
            }
            host_routes::KIND => {
                let (was, h): (host_routes::Attrs, host_routes::Attrs) = (typed(old)?, typed(new)?);
                self.sync_routes(&self.host, &was.routes, &h.routes).await?;
                Ok(json!({}))
            }
            "conditions" | "forwarding" | "hosts" => self.create_inner(new).await,
            mgmt::KIND => {
                let (was, m): (mgmt::Attrs, mgmt::Attrs) = (typed(old)?, typed(new)?);
                let host_name = m.host_name.as_str();
                if was.bridge != m.bridge {
                    let master = match &m.bridge {
                        Some(b) => self.index_in(&self.host, b).await?,
                        None => 0,
                    };
                    self.set_up_link(&self.host, host_name, LinkChange { master: Some(master), ..Default::default() })
                        .await?;
                }
                if was.host_addr != m.host_addr {
                    let want: Vec<String> = m.host_addr.iter().cloned().collect();
                    self.sync_addrs(&self.host, host_name, &nets(&want)?).await?;
                }
                if was.node_addr != m.node_addr {
                    let nl = self.nl(&m.node).await?;
                    self.sync_addrs(&nl, &m.ifname, &nets(std::slice::from_ref(&m.node_addr))?).await?;
                }
                if was.mac != m.mac {
                    let nl = self.nl(&m.node).await?;
                    self.set_up_link(
                        &nl,
                        &m.ifname,
                        LinkChange { mac: m.mac.as_deref().and_then(parse_mac), ..Default::default() },
                    )
                    .await?;
                }
                Ok(json!({}))
            }
            boot::KIND => {
                // Boot commands run when the node starts; new ones wait for its next start.
                let b: boot::Attrs = typed(new)?;
                self.boots.lock().expect("not poisoned").insert(b.node.clone(), b);
                Ok(json!({}))
            }
            // The plan never updates a kind whose every attribute forces a replacement
            // (`kinds::*::forces_replacement`): one that gets here is a kind that lies.
            other => Err(Error::Other(format!(
                "{other}.{} cannot change in place: its kind must say that these attributes force a replacement",
                new.name
            ))),
        }
    }

    async fn delete_inner(&self, it: &Item) -> Result<()> {
        if self.is_vm_item(it) {
            return self.vm_delete(it).await;
        }
        match it.kind.as_str() {
            capture::KIND => {
                let runtime = it.runtime.clone();
                blocking(move || capture::delete(&runtime)).await
            }
            // The kernel dismantles the namespace, and every bridge and veth in it, in one batch.
            lab::KIND => {
                let a: lab::Attrs = typed(it)?;
                let name = a.netns.as_str();
                self.lab_nl.lock().await.remove(name);
                // Another's namespace of that name is left alone (and said so).
                ns::clear_netns_name(name, &self.alias(&it.kind, &it.name))
            }
            net::KIND => {
                let n: net::Attrs = typed(it)?;
                let side = self.side(n.host_netns.as_deref()).await?;
                if let Some(ext) = &n.external {
                    if let Some(l) = side.link_by_name(ext).await? {
                        side.set_link(l.index, LinkChange { master: Some(0), ..Default::default() }).await?;
                    }
                }
                if n.managed {
                    if let Some(l) = side.link_by_name(&n.bridge).await? {
                        // Not vnx's: left alone (refresh shows it as missing, so the plan said so).
                        if n.host_netns.is_some() || self.ours(&l, "net", &it.name) {
                            side.del_link(l.index).await?;
                        }
                    }
                }
                Ok(())
            }
            node::KIND => {
                let init = self
                    .inits
                    .lock()
                    .expect("not poisoned")
                    .remove(&it.name)
                    .or_else(|| serde_json::from_value(it.runtime.clone()).ok());
                let netns = typed::<node::Attrs>(it)?.netns;
                // The name bound to the init's own namespace is vnx's without asking its mark.
                let bound_to_init = matches!((&init, &netns), (Some(i), Some(n)) if ns::netns_bound_to(i, n));
                if let Some(init) = init {
                    ns::kill_now(&init);
                }
                // Unmounting waits for the kernel (an RCU grace period): on a blocking thread, so
                // that several nodes' waits overlap.
                let dir = self.ns_dir(&it.name)?;
                let mark = self.alias(&it.kind, &it.name);
                tokio::task::spawn_blocking(move || {
                    match netns {
                        Some(n) if bound_to_init => ns::unbind_netns(&n),
                        Some(n) => {
                            if let Err(e) = ns::clear_netns_name(&n, &mark) {
                                tracing::warn!("{e}");
                            }
                        }
                        None => {}
                    }
                    ns::kill_leftovers(&dir);
                    ns::remove_dir(&dir)
                })
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
                Ok(())
            }
            hosts::KIND => {
                let a: hosts::Attrs = typed(it)?;
                hosts_section(Path::new(&a.file), &a.scenario, None)
                    .map_err(|e| Error::Other(format!("{}: {e}", a.file)))?;
                for n in &a.nodes {
                    if let Ok(init) = self.init(n) {
                        let _ = node_hosts_section(&init, &a.scenario, None);
                    }
                }
                Ok(())
            }
            interface::KIND | hostif::KIND | mgmt::KIND => {
                // The host-side end: it takes its peer along.
                let (host_netns, name) = match it.kind.as_str() {
                    interface::KIND => {
                        let i: interface::Attrs = typed(it)?;
                        (i.host_netns, i.host_name)
                    }
                    hostif::KIND => (None, typed::<hostif::Attrs>(it)?.ifname),
                    _ => (None, typed::<mgmt::Attrs>(it)?.host_name),
                };
                let side = self.side(host_netns.as_deref()).await?;
                if let Some(l) = side.link_by_name(&name).await? {
                    if host_netns.is_some() || self.ours(&l, &it.kind, &it.name) {
                        side.del_link(l.index).await?;
                    }
                }
                Ok(())
            }
            p2p::KIND => {
                let p: p2p::Attrs = typed(it)?;
                if let Ok(nl) = self.nl(&p.a.node).await {
                    if let Some(l) = nl.link_by_name(&p.a.ifname).await? {
                        nl.del_link(l.index).await?;
                    }
                }
                Ok(())
            }
            // What lives in a node goes with it; when the node still runs, undo it.
            addresses::KIND => {
                let a: addresses::Attrs = typed(it)?;
                if let Ok(nl) = self.nl(&a.node).await {
                    if nl.link_by_name(&a.ifname).await?.is_some() {
                        self.sync_addrs(&nl, &a.ifname, &[]).await?;
                    }
                }
                Ok(())
            }
            routes::KIND => {
                let r: routes::Attrs = typed(it)?;
                if let Ok(nl) = self.nl(&r.node).await {
                    self.sync_routes(&nl, &r.routes, &[]).await?;
                }
                Ok(())
            }
            host_routes::KIND => {
                let h: host_routes::Attrs = typed(it)?;
                self.sync_routes(&self.host, &h.routes, &[]).await
            }
            conditions::KIND => {
                let a: conditions::Attrs = typed(it)?;
                if let Ok(netns) = self.netns(&a.node) {
                    let _ = ns::run_in_netns(
                        netns,
                        "tc",
                        &["qdisc".into(), "del".into(), "dev".into(), a.ifname.clone(), "root".into()],
                    );
                }
                Ok(())
            }
            forwarding::KIND => {
                let a: forwarding::Attrs = typed(it)?;
                if let Ok(netns) = self.netns(&a.node) {
                    ns::set_net_sysctl(netns, "net/ipv4/ip_forward", "0")?;
                    ns::set_net_sysctl(self.netns(&a.node)?, "net/ipv6/conf/all/forwarding", "0")?;
                }
                Ok(())
            }
            "boot" => Ok(()),
            other => Err(Error::Other(format!("no provider for resources of kind `{other}`"))),
        }
    }

    /// Reads, in one batch, the `ns` nodes the items name (how each runs, its links and
    /// addresses, its routes where it has some) and the links of the lab's own namespace. Two
    /// threads visit them, the lab's namespace first (the longest dump); checking that a node
    /// still runs is done there too, beside the kernel's dumps, rather than once per item after.
    async fn prefetch_views(&self, items: &[Item]) -> Views {
        struct Visit {
            node: String,
            init: Option<Init>,
            netns: String,
            /// The links the items look up (read with the addresses), if any item needs them.
            links: Option<Vec<String>>,
            routes: bool,
        }
        let mut visits: std::collections::BTreeMap<String, Visit> = Default::default();
        for it in items.iter().filter(|it| !self.is_vm_item(it)) {
            // An item of another shape is not read (no reason to panic).
            let (node, link) = match it.kind.as_str() {
                node::KIND => (it.name.clone(), None),
                addresses::KIND => match typed::<addresses::Attrs>(it) {
                    Ok(a) => (a.node, Some(a.ifname)),
                    Err(_) => continue,
                },
                routes::KIND => match crate::kinds::placement(&it.kind, |k| it.attrs.get(k)).node {
                    Some(n) => (n.to_string(), None),
                    None => continue,
                },
                p2p::KIND => match typed::<p2p::Attrs>(it) {
                    Ok(p) => (p.a.node, Some(p.a.ifname)),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if node.is_empty() {
                continue;
            }
            let v = visits.entry(node.clone()).or_insert_with(|| Visit {
                init: self.inits.lock().expect("not poisoned").get(&node).copied(),
                netns: self.netns_names.lock().expect("not poisoned").get(&node).cloned().unwrap_or_default(),
                node,
                links: None,
                routes: false,
            });
            if it.kind == "node" {
                // The node's own record says best which init and namespace are its.
                v.init = serde_json::from_value(it.runtime.clone()).ok();
                v.netns = typed::<node::Attrs>(it).ok().and_then(|n| n.netns).unwrap_or_default();
            }
            if let Some(l) = link {
                v.links.get_or_insert_with(Vec::new).push(l);
            }
            v.routes |= it.kind == "routes";
        }
        let lab_netns = items
            .iter()
            .find_map(|it| crate::kinds::placement(&it.kind, |k| it.attrs.get(k)).host_netns)
            .map(String::from);
        enum Job {
            Lab(String),
            Node(Visit),
        }
        enum Read {
            Lab(String, Option<NodeView>),
            Node(String, NodeSeen),
        }
        // First: the lab's namespace, the longest dump.
        let jobs: Vec<Job> = lab_netns.into_iter().map(Job::Lab).chain(visits.into_values().map(Job::Node)).collect();
        let read = |job: Job| match job {
            Job::Lab(name) => {
                let links = ns::open_bound_netns(&name).and_then(|fd| {
                    crate::netlink::NsReader::enter(std::os::fd::AsFd::as_fd(&fd)).and_then(|r| r.links()).ok()
                });
                Read::Lab(name, links.map(|links| NodeView { links, ..NodeView::default() }))
            }
            Job::Node(v) => {
                let mut seen = NodeSeen::of(v.init.as_ref(), &v.netns);
                let fd = match seen.run {
                    None => None,
                    Some(ns::SHUTOFF) => ns::open_bound_netns(&v.netns),
                    Some(_) => v.init.and_then(|i| i.netns().ok()),
                };
                if let Some(fd) = fd.filter(|_| v.links.is_some() || v.routes) {
                    let view = crate::netlink::NsReader::enter(std::os::fd::AsFd::as_fd(&fd)).and_then(|r| {
                        let mut view = NodeView::default();
                        if let Some(wanted) = &v.links {
                            view.addrs = r.addrs()?;
                            view.links = r.links_named(&view.addrs, wanted)?;
                        }
                        if v.routes {
                            view.routes = r.routes()?;
                        }
                        Ok(view)
                    });
                    seen.view = view.ok().map(Arc::new);
                }
                Read::Node(v.node, seen)
            }
        };
        let reads = tokio::task::spawn_blocking(move || crate::netlink::in_threads(jobs, 2, read)).await;
        let mut views = Views::default();
        for r in reads.unwrap_or_default() {
            match r {
                Read::Lab(name, view) => {
                    views.lab = view.map(|mut v| {
                        v.links.sort_by(|x, y| x.name.cmp(&y.name));
                        (name, Arc::new(v))
                    })
                }
                Read::Node(node, seen) => {
                    views.nodes.insert(node, seen);
                }
            }
        }
        views
    }

    async fn refresh_one(&self, it: &Item, host_links: &[crate::netlink::Link], views: &Views) -> Result<Seen> {
        if self.is_vm_item(it) {
            return self.vm_refresh(it, host_links, views).await;
        }
        let place = crate::kinds::placement(&it.kind, |k| it.attrs.get(k));
        // A net or interface of the lab's own namespace is read from that namespace's links.
        let host_links = match place.host_netns {
            None => host_links,
            Some(name) => match &views.lab {
                Some((lab, v)) if lab == name => &v.links[..],
                _ => return Ok(Seen::Missing),
            },
        };
        // Both lists are sorted by name (a lab has thousands of links).
        let by_name = |n: &str| host_links.binary_search_by(|l| l.name.as_str().cmp(n)).ok().map(|i| &host_links[i]);
        // What vnx made itself: in the host's namespace, only a link with the resource's mark
        // is it (any other is missing, and creating it is refused); an unmanaged net's bridge
        // is the user's.
        let in_host = place.host_netns.is_none();
        let unmanaged = place.unmanaged;
        let own = |n: &str| by_name(n).filter(|l| !in_host || unmanaged || self.ours(l, &it.kind, &it.name));
        match it.kind.as_str() {
            capture::KIND => Ok(if capture::read(&it.runtime) { Seen::Present(Map::new()) } else { Seen::Missing }),
            // Only a namespace with the lab's mark is the lab's (creating it refuses another).
            lab::KIND => Ok(match ns::netns_mark(&typed::<lab::Attrs>(it)?.netns) {
                Some(Some(m)) if m == self.alias(&it.kind, &it.name) => Seen::Present(Map::new()),
                _ => Seen::Missing,
            }),
            net::KIND => {
                let n: net::Attrs = typed(it)?;
                Ok(match own(&n.bridge) {
                    None => Seen::Missing,
                    Some(l) => {
                        let mut m = Map::new();
                        m.insert("up".into(), json!(l.up));
                        if n.mtu.is_some() {
                            m.insert("mtu".into(), json!(l.mtu));
                        }
                        Seen::Present(m)
                    }
                })
            }
            node::KIND => {
                let netns = typed::<node::Attrs>(it)?.netns.unwrap_or_default();
                // prefetch_views visits every `ns` node item.
                let seen = views
                    .nodes
                    .get(&it.name)
                    .ok_or_else(|| Error::Other(format!("refresh did not visit node {}", it.name)))?;
                // Shut off, its network namespace (and so its links) is kept by its name.
                let Some(run) = seen.run else { return Ok(Seen::Missing) };
                Ok(Seen::Present(
                    [
                        ("netns".to_string(), if seen.bound { json!(netns) } else { Value::Null }),
                        ("run".to_string(), json!(run)),
                    ]
                    .into_iter()
                    .collect(),
                ))
            }
            mgmt::KIND => Ok(match own(&typed::<mgmt::Attrs>(it)?.host_name) {
                None => Seen::Missing,
                Some(_) => Seen::Present(Map::new()),
            }),
            hosts::KIND => {
                let h: hosts::Attrs = typed(it)?;
                let text = std::fs::read_to_string(&h.file).unwrap_or_default();
                let ok = h.lines.iter().all(|l| text.lines().any(|x| x == l));
                Ok(if ok { Seen::Present(Map::new()) } else { Seen::Missing })
            }
            interface::KIND => {
                let i: interface::Attrs = typed(it)?;
                Ok(match own(&i.host_name) {
                    None => Seen::Missing,
                    Some(l) => {
                        // The recorded bridge, looked up by name, is almost always the master.
                        let master = l.master.and_then(|m| {
                            i.bridge
                                .as_deref()
                                .and_then(by_name)
                                .filter(|b| b.index == m)
                                .or_else(|| host_links.iter().find(|x| x.index == m))
                                .map(|x| x.name.clone())
                        });
                        let mut m = Map::new();
                        m.insert("bridge".into(), json!(master));
                        m.insert("up".into(), json!(l.up));
                        Seen::Present(m)
                    }
                })
            }
            hostif::KIND => {
                let h: hostif::Attrs = typed(it)?;
                match own(&h.ifname) {
                    None => Ok(Seen::Missing),
                    Some(_) => Ok(addrs_seen(host_links, &self.host.addrs().await?, &h.ifname, (&h.ipv4, &h.ipv6))),
                }
            }
            p2p::KIND => {
                let p: p2p::Attrs = typed(it)?;
                let Some(view) = views.node_view(&p.a.node) else { return Ok(Seen::Missing) };
                let there = view.links.iter().any(|l| l.name == p.a.ifname);
                Ok(if there { Seen::Present(Map::new()) } else { Seen::Missing })
            }
            addresses::KIND => {
                let a: addresses::Attrs = typed(it)?;
                let Some(view) = views.node_view(&a.node) else { return Ok(Seen::Missing) };
                Ok(addrs_seen(&view.links, &view.addrs, &a.ifname, (&a.ipv4, &a.ipv6)))
            }
            routes::KIND => {
                let r: routes::Attrs = typed(it)?;
                // A shut-off node's routes went with its links; they come back when it starts.
                let node = views.nodes.get(&r.node);
                if node.is_some_and(|n| n.run == Some(ns::SHUTOFF)) {
                    return Ok(Seen::Present(Map::new()));
                }
                let Some(view) = node.and_then(|n| n.view.clone()) else { return Ok(Seen::Missing) };
                Ok(Seen::Present([("routes".to_string(), routes_seen(&view.routes, &r.routes))].into_iter().collect()))
            }
            host_routes::KIND => {
                let h: host_routes::Attrs = typed(it)?;
                Ok(Seen::Present(
                    [("routes".to_string(), self.read_routes(&self.host, &h.routes).await?)].into_iter().collect(),
                ))
            }
            forwarding::KIND => {
                let node = typed::<forwarding::Attrs>(it)?.node;
                if self.netns(&node).is_err() {
                    return Ok(Seen::Missing);
                }
                let v4 = ns::get_net_sysctl(self.netns(&node)?, "net/ipv4/ip_forward")? == "1";
                let v6 = ns::get_net_sysctl(self.netns(&node)?, "net/ipv6/conf/all/forwarding")? == "1";
                Ok(Seen::Present(
                    [("ipv4".to_string(), json!(v4)), ("ipv6".to_string(), json!(v6))].into_iter().collect(),
                ))
            }
            conditions::KIND => Ok(match self.netns(&typed::<conditions::Attrs>(it)?.node) {
                Ok(_) => Seen::Present(Map::new()),
                Err(_) => Seen::Missing,
            }),
            boot::KIND => Ok(match self.netns(&typed::<boot::Attrs>(it)?.node) {
                Ok(_) => Seen::Present(Map::new()),
                Err(_) => Seen::Missing,
            }),
            _ => Ok(Seen::Present(Map::new())),
        }
    }
}

/// The refusal of a link in vnx's way that is not vnx's.
fn not_ours(l: &crate::netlink::Link) -> Error {
    let whose = match &l.alias {
        Some(a) => format!("it is marked {a:?}"),
        None => "it has no vnx mark".to_string(),
    };
    Error::Other(format!(
        "a link named {} exists in the host's namespace and is not this lab's ({whose}): vnx neither \
         adopts nor deletes it; remove it (`ip link del {}`) or rename it, then apply again",
        l.name, l.name
    ))
}

/// Writes (or with `None` removes) a scenario's section of the host's hosts file, between
/// `# BEGIN vnx SCENARIO` and `# END vnx SCENARIO`, keeping everything else as it was.
pub fn hosts_section(path: &Path, scenario: &str, lines: Option<&[String]>) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    // Written in place: /etc/hosts may be a bind mount that a rename cannot replace.
    std::fs::write(path, with_hosts_section(&text, scenario, lines))
}

/// The same in a node's /etc/hosts, resolved inside the node ([`NodeRoot`]).
fn node_hosts_section(init: &Init, scenario: &str, lines: Option<&[String]>) -> std::io::Result<()> {
    let root = NodeRoot::of(init)?;
    let text = match root.read("/etc/hosts") {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    root.write("/etc/hosts", with_hosts_section(&text, scenario, lines).as_bytes(), 0o644)
}

/// `text` with the scenario's section replaced by `lines` (removed with `None`).
fn with_hosts_section(text: &str, scenario: &str, lines: Option<&[String]>) -> String {
    let (begin, end) = (format!("# BEGIN vnx {scenario}"), format!("# END vnx {scenario}"));
    let mut out = String::new();
    let mut inside = false;
    for l in text.lines() {
        if l == begin {
            inside = true;
        } else if l == end {
            inside = false;
        } else if !inside {
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(lines) = lines {
        out.push_str(&begin);
        out.push('\n');
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&end);
        out.push('\n');
    }
    out
}

fn is_link_local(n: &IpNet) -> bool {
    match n.addr() {
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(a) => a.is_link_local(),
    }
}

impl Lab {
    /// Waits (up to `limit`) until no link of the host carries one of these marks: links that
    /// die with a node's namespace go asynchronously, after the node's init is gone.
    pub async fn settle(&self, kind: &str, names: &[String], limit: std::time::Duration) {
        let marks: BTreeSet<String> = names.iter().map(|n| self.alias(kind, n)).collect();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            let Ok(links) = self.host.links().await else { return };
            if !links.iter().any(|l| l.alias.as_ref().is_some_and(|a| marks.contains(a))) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Provider for Lab {
    async fn refresh(&self, items: Vec<Item>) -> Vec<Result<Seen>> {
        // One dump of the host's links serves every host-side resource.
        let host_links = match self.host.links().await {
            Ok(mut l) => {
                l.sort_by(|x, y| x.name.cmp(&y.name));
                l
            }
            Err(e) => return items.iter().map(|_| Err(Error::Netlink(e.to_string()))).collect(),
        };
        let t0 = std::time::Instant::now();
        let views = self.prefetch_views(&items).await;
        let t1 = std::time::Instant::now();
        let futs = items.iter().map(|it| self.refresh_one(it, &host_links, &views));
        let seen = futures::future::join_all(futs).await;
        tracing::debug!("refresh: nodes' dumps {:?}, the rest {:?}", t1 - t0, t1.elapsed());
        seen
    }
    async fn create(&self, item: Item) -> Result<Value> {
        self.create_inner(&item).await
    }
    async fn update(&self, old: Item, new: Item) -> Result<Value> {
        self.update_inner(&old, &new).await
    }
    async fn delete(&self, old: Item) -> Result<()> {
        self.delete_inner(&old).await
    }
}
