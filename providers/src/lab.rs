//! The lab provider: builds every resource kind of a lab with [`netlink`](crate::netlink),
//! [`ns`] and, for virtual machines, [`libvirt`](crate::libvirt). What a kind's create, read,
//! update and delete do is in its module (`kinds/`); this is what they share:
//! the lab's handles (netlink sockets, directories, the node's namespaces), looked up afresh
//! at each call, and the dispatch of a call to the resource's node provider.
//!
//! Each operation is idempotent: create removes a half-built leftover first, delete of
//! something absent succeeds, so an apply that was killed can simply be run again. And no
//! call depends on an earlier one of the same process: what a node's later start needs (its
//! init, boot sequence and routes) is kept in the node's directory, not in memory, so any
//! caller (another vnx, an agent on another host) can make the next call.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::kinds::{self, boot};
use crate::netlink::{Link, LinkChange, Netlink};
use crate::ns::{self, Init};
use crate::{mark, Error, Result};

mod refresh;
#[cfg(feature = "libvirt")]
mod vm;

pub(crate) use refresh::{Seeing, Views};

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
    /// Who makes it (the resource's provider, as the planner chose it): see [`NodeProvider`].
    pub provider: String,
    /// The machine it lives on: [`LOCAL`] (the one vnx runs on) until labs span hosts.
    pub host: String,
    pub attrs: Map<String, Value>,
    pub runtime: Value,
}

/// The machine vnx runs on, as a resource's host.
pub const LOCAL: &str = "";

/// What refresh found.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    /// The object exists; the attributes it read back that differ from the item's (a
    /// provider's `refresh` returns only those: none when the object is as recorded).
    Present(Map<String, Value>),
    Missing,
}

/// What the engine asks of a provider.
pub trait Provider: Send + Sync + 'static {
    fn refresh(&self, items: &[Item]) -> impl Future<Output = Vec<Result<Seen>>> + Send;
    /// Creates; returns the runtime facts to record.
    fn create(&self, item: Item) -> impl Future<Output = Result<Value>> + Send;
    fn update(&self, old: Item, new: Item) -> impl Future<Output = Result<Value>> + Send;
    fn delete(&self, old: Item) -> impl Future<Output = Result<()>> + Send;
}

/// Who makes a node and what lives in it (its interfaces, addresses, routes, …): the registry
/// of node providers, chosen by the resource's `provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeProvider {
    /// Namespaces and veths, in-process: each kind's `kinds::Ops`. Also what is not in a
    /// node (nets, the host's side): provider `net`.
    Ns,
    /// A libvirt domain, changed through its guest agent: `lab/vm.rs`.
    Libvirt,
}

impl NodeProvider {
    /// Every node provider, by the name the planner records.
    pub const ALL: &'static [(&'static str, NodeProvider)] =
        &[("ns", NodeProvider::Ns), ("net", NodeProvider::Ns), (crate::libvirt::PROVIDER, NodeProvider::Libvirt)];

    /// The provider of a resource (an unknown name is `ns`'s, as before providers had names).
    pub fn of(it: &Item) -> NodeProvider {
        Self::ALL.iter().find(|(n, _)| *n == it.provider).map_or(NodeProvider::Ns, |(_, p)| *p)
    }
}

/// Runs a node's boot sequence (on_boot execs and filetrees); given by the caller, which knows
/// the scenario language.
pub type BootRunner = Arc<dyn Fn(&str, &Init, &boot::Attrs) -> Result<()> + Send + Sync>;

/// The files of an `ns` node's directory that carry what a later call needs.
pub(crate) mod kept {
    /// The node's init (pid and start time), while it runs.
    pub const INIT: &str = "init.json";
    /// Its boot resource's attributes: run again when the node starts again.
    pub const BOOT: &str = "boot.json";
    /// Its routes: put back when it starts again (its links went down).
    pub const ROUTES: &str = "routes.json";
    /// The links to bring up again when it starts.
    pub const LINKS_UP: &str = "links-up";
    /// In the lab's runtime directory: its nodes keep the files above ([`super::Lab::adopt`]).
    pub const ADOPTED: &str = "kept";
}

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
    /// The server that starts `ns` nodes, run at the first node start; it ends with the lab.
    starter: Mutex<Option<Arc<crate::starter::Starter>>>,
    host: Netlink,
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
    /// The inits read from nodes' `init.json`, kept only to spare reading it again: one is used
    /// only while that very process runs (pid and start time), else the file is read afresh.
    inits_read: Mutex<HashMap<String, Init>>,
    /// Netlink in the lab's own network namespace (bridges and host ends of its nets): a
    /// connection, not a fact (it is opened again when the namespace is made anew).
    lab_nl: tokio::sync::Mutex<HashMap<String, Netlink>>,
    boot: BootRunner,
}

/// Runs blocking work (a process to start or wait for) off the runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Other(e.to_string()))?
}

pub(crate) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s.split(':').filter_map(|p| u8::from_str_radix(p, 16).ok()).collect();
    v.try_into().ok()
}

/// Addresses in network form (`10.0.0.1/24`).
pub(crate) fn nets(list: &[String]) -> Result<Vec<IpNet>> {
    list.iter().map(|a| a.parse::<IpNet>().map_err(|e| Error::Other(format!("{a}: {e}")))).collect()
}

/// An interface's IPv4 and IPv6 addresses as one list, IPv4 first.
pub(crate) fn nets_v4_v6(ipv4: &[String], ipv6: &[String]) -> Result<Vec<IpNet>> {
    Ok(nets(ipv4)?.into_iter().chain(nets(ipv6)?).collect())
}

pub(crate) fn is_link_local(n: &IpNet) -> bool {
    match n.addr() {
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
        std::net::IpAddr::V4(a) => a.is_link_local(),
    }
}

impl Lab {
    /// A lab's provider: `dir` is its directory beside the state database (VM disks, capture
    /// logs), `exe` the binary nodes' inits run.
    pub fn new(scenario: &str, dir: PathBuf, exe: PathBuf, boot: BootRunner) -> Result<Lab> {
        Ok(Lab {
            scenario: scenario.to_string(),
            dir,
            run_dir: ns::run_dir(scenario)?,
            run_dir_ready: Mutex::new(false),
            group: crate::names::link_group(scenario),
            mount_template: Mutex::new(None),
            starter: Mutex::new(None),
            exe,
            host: Netlink::current()?,
            libvirt_uri: crate::libvirt::uri(),
            domain_type: std::env::var("VNX_DOMAIN_TYPE")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "auto".into()),
            #[cfg(feature = "libvirt")]
            hv: Mutex::new(None),
            #[cfg(feature = "libvirt")]
            agent_turns: Default::default(),
            inits_read: Default::default(),
            lab_nl: Default::default(),
            boot,
        })
    }

    /// The kinds of recorded resources [`Lab::adopt`] reads.
    pub const ADOPTED_KINDS: [&'static str; 3] = ["node", "boot", "routes"];

    /// Takes over a lab that an earlier vnx built, which kept its nodes' inits, boot sequences
    /// and routes in memory, from their records (`recorded`: of [`Lab::ADOPTED_KINDS`]): they
    /// go into the nodes' directories, where every call looks for them, once (the lab's
    /// runtime directory is marked then). A lab this vnx made is marked when it is.
    pub fn adopt(&self, recorded: &[Item]) -> Result<()> {
        if !self.run_dir.is_dir() || self.run_dir.join(kept::ADOPTED).exists() {
            return Ok(());
        }
        for r in recorded.iter().filter(|r| NodeProvider::of(r) == NodeProvider::Ns) {
            match r.kind.as_str() {
                "node" => {
                    let init = serde_json::from_value::<Init>(r.runtime.clone()).ok().filter(Init::alive);
                    if self.kept::<Init>(&r.name, kept::INIT).is_none() && init.is_some() {
                        self.keep(&r.name, kept::INIT, init.as_ref())?;
                    }
                }
                boot::KIND => {
                    let b: boot::Attrs = kinds::typed(r)?;
                    self.keep(&b.node, kept::BOOT, Some(&b))?;
                }
                kinds::routes::KIND => {
                    let a: kinds::routes::Attrs = kinds::typed(r)?;
                    self.keep(&a.node, kept::ROUTES, Some(&a.routes))?;
                }
                _ => {}
            }
        }
        self.mark_adopted()
    }

    fn mark_adopted(&self) -> Result<()> {
        let file = self.run_dir.join(kept::ADOPTED);
        std::fs::write(&file, "").map_err(|e| Error::io(file.display(), e))
    }

    /// Where the lab's own Open vSwitch keeps its database, sockets, pid files and logs.
    pub(crate) fn ovs_dir(&self) -> Result<PathBuf> {
        self.ensure_run_dir()?;
        Ok(self.run_dir.join("ovs"))
    }

    /// The lab's directory beside the state database.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Netlink in the host's network namespace.
    pub(crate) fn host(&self) -> &Netlink {
        &self.host
    }

    pub(crate) fn group(&self) -> u32 {
        self.group
    }

    /// A `kept` file of an `ns` node's directory, read back.
    pub(crate) fn kept<T: DeserializeOwned>(&self, node: &str, file: &str) -> Option<T> {
        let text = std::fs::read(self.ns_dir(node).ok()?.join(file)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Keeps `value` in the node's directory (`None`: forgets it). A node without a
    /// directory keeps nothing (it is shut off or gone: nothing will read it).
    pub(crate) fn keep<T: Serialize>(&self, node: &str, file: &str, value: Option<&T>) -> Result<()> {
        let path = self.ns_dir(node)?.join(file);
        match value {
            Some(v) => {
                let text = serde_json::to_vec(v).expect("json");
                match std::fs::write(&path, text) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    r => r.map_err(|e| Error::io(path.display(), e)),
                }
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path.display(), e)),
                _ => Ok(()),
            },
        }
    }

    /// The node's init, when it runs (read from its directory: whoever started it wrote it).
    pub(crate) fn init(&self, node: &str) -> Result<Init> {
        let read = self.inits_read.lock().expect("not poisoned").get(node).copied();
        if let Some(i) = read.filter(Init::alive) {
            return Ok(i);
        }
        match self.kept::<Init>(node, kept::INIT) {
            Some(i) if i.alive() => {
                self.inits_read.lock().expect("not poisoned").insert(node.to_string(), i);
                Ok(i)
            }
            _ => Err(Error::Node(format!("node {node} is not running"))),
        }
    }

    /// Keeps (or forgets) the node's init in its directory.
    pub(crate) fn keep_init(&self, node: &str, init: Option<&Init>) -> Result<()> {
        let mut read = self.inits_read.lock().expect("not poisoned");
        match init {
            Some(i) => read.insert(node.to_string(), *i),
            None => read.remove(node),
        };
        self.keep(node, kept::INIT, init)
    }

    /// The name an `ns` node's network namespace is bound to (`vnx-LAB.NODE`).
    pub(crate) fn netns_name(&self, node: &str) -> String {
        crate::names::node_netns(&self.scenario, node)
    }

    /// The node's network namespace: its init's, or the one bound to its name when the node is
    /// shut off (links, addresses and routes stay there).
    pub(crate) fn netns(&self, node: &str) -> Result<std::os::fd::OwnedFd> {
        if let Ok(init) = self.init(node) {
            return init.netns();
        }
        ns::open_bound_netns(&self.netns_name(node)).ok_or_else(|| Error::Node(format!("node {node} does not exist")))
    }

    /// How the node runs now: running, paused, shutoff; `None` when it does not exist.
    pub fn run_state(&self, node: &str) -> Option<&'static str> {
        ns::run_state(self.init(node).ok().as_ref(), &self.netns_name(node))
    }

    /// Runs the node's boot sequence, off the runtime's threads.
    pub(crate) async fn run_boot(&self, node: &str, init: Init, attrs: boot::Attrs) -> Result<()> {
        let (boot, name) = (self.boot.clone(), node.to_string());
        blocking(move || boot(&name, &init, &attrs)).await
    }

    /// A netlink socket in the node's network namespace. Not kept: a thousand nodes' sockets
    /// would hold 72 KiB of buffers each.
    pub(crate) async fn nl(&self, node: &str) -> Result<Netlink> {
        Netlink::in_netns(self.netns(node)?).await
    }

    /// The mark of a resource's links and namespaces.
    pub(crate) fn alias(&self, kind: &str, name: &str) -> String {
        mark(&self.scenario, kind, name)
    }

    /// Whether a link of the host's namespace is this resource's: it carries the resource's
    /// mark, or no mark at all but the lab's link group (a create interrupted before its
    /// alias was set). Links in the lab's and the nodes' namespaces are vnx's by where they
    /// are: vnx made those namespaces.
    pub(crate) fn ours(&self, l: &Link, kind: &str, name: &str) -> bool {
        match &l.alias {
            Some(a) => *a == self.alias(kind, name),
            None => l.group == Some(self.group),
        }
    }

    /// Makes way for a link named `link` of resource (`kind`, `name`) on `side`: removes a
    /// leftover of vnx's own; refuses, naming it, anything else of that name in the host's
    /// namespace (`in_host`).
    pub(crate) async fn clear_way(
        &self,
        side: &Netlink,
        in_host: bool,
        link: &str,
        kind: &str,
        name: &str,
    ) -> Result<()> {
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
            let fresh = !self.run_dir.is_dir();
            ns::ensure_run_dir(&self.run_dir)?;
            if fresh {
                self.mark_adopted()?;
            }
            *ready = true;
        }
        Ok(())
    }

    /// The mount namespace nodes start from, made once (after the nodes' tmpfs is mounted, so
    /// that the copy has it). Without one, nodes copy vnx's (slower in a large lab, as correct).
    pub(crate) fn mounts_from(&self) -> Result<Option<PathBuf>> {
        self.ensure_run_dir()?;
        let mut template = self.mount_template.lock().expect("not poisoned");
        if template.is_none() {
            *template = Some(ns::MountTemplate::new(&self.run_dir).inspect_err(|e| tracing::debug!("{e}")).ok());
        }
        Ok(template.as_ref().and_then(|t| t.as_ref()).map(ns::MountTemplate::path))
    }

    /// The server that starts `ns` nodes ([`crate::starter`]): run once, again if it exited.
    pub(crate) fn starter(&self) -> Result<Arc<crate::starter::Starter>> {
        let mut s = self.starter.lock().expect("not poisoned");
        match s.as_ref() {
            Some(st) if st.alive() => Ok(st.clone()),
            _ => {
                let st = Arc::new(crate::starter::Starter::start(&self.exe)?);
                *s = Some(st.clone());
                Ok(st)
            }
        }
    }

    /// Makes now, for a lab whose nodes' directory is ready (one that runs), the mount
    /// namespace its nodes start from: the first node an apply starts waits for it otherwise,
    /// and copying the machine's mounts (one per node's bound namespace) took 40-80 ms in a
    /// 10,000-node lab. For a caller with other work meanwhile (planning calls it beside the
    /// diff): nothing is made or mounted on the host.
    pub fn prepare_node_starts(&self) {
        if self.run_dir.is_dir() && ns::on_tmpfs(&self.run_dir) {
            let _ = self.mounts_from();
        }
    }

    pub(crate) async fn index_in(&self, nl: &Netlink, name: &str) -> Result<u32> {
        nl.link_by_name(name)
            .await?
            .map(|l| l.index)
            .ok_or_else(|| Error::refused(&format!("no link named {name}"), libc::ENODEV))
    }

    /// A veth pair from the host (`host_name`) into a node (`ifname`, with its MAC), after
    /// removing a half-built leftover on either side ([`Lab::clear_way`] for resource `owner`:
    /// in the host's namespace?, kind, name). Returns the node's netlink.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn veth_into_node(
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

    /// The netlink socket of the namespace a resource's links live in: the lab's, named
    /// (`host_netns`), or the host's.
    pub(crate) async fn side(&self, host_netns: Option<&str>) -> Result<Netlink> {
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

    /// Forgets the socket into the lab's namespace `name` (made anew, or removed).
    pub(crate) async fn forget_side(&self, name: &str) {
        self.lab_nl.lock().await.remove(name);
    }

    /// The index of the resource's `bridge` (on `side`), when it names one.
    pub(crate) async fn bridge_index(&self, side: &Netlink, bridge: Option<&str>) -> Result<Option<u32>> {
        match bridge {
            Some(b) => Ok(Some(self.index_in(side, b).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn set_up_link(&self, nl: &Netlink, name: &str, c: LinkChange) -> Result<()> {
        let index = self.index_in(nl, name).await?;
        nl.set_link(index, c).await
    }

    /// Gives the link `ifname` exactly the addresses `want` (its link-local ones stay).
    pub(crate) async fn sync_addrs(&self, nl: &Netlink, ifname: &str, want: &[IpNet]) -> Result<()> {
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

    /// Removes the host-side link `name` (a veth end: its peer goes along) of resource
    /// (`kind`, `name`) when it is there and vnx's.
    pub(crate) async fn delete_host_end(&self, host_netns: Option<&str>, link: &str, it: &Item) -> Result<()> {
        let side = self.side(host_netns).await?;
        if let Some(l) = side.link_by_name(link).await? {
            if host_netns.is_some() || self.ours(&l, &it.kind, &it.name) {
                side.del_link(l.index).await?;
            }
        }
        Ok(())
    }

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

/// The refusal of a link in vnx's way that is not vnx's.
fn not_ours(l: &Link) -> Error {
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

/// This provider works on the host it runs on: a resource of another is refused (it is the
/// business of that host's agent), never built here by mistake.
fn here(it: &Item) -> Result<()> {
    if it.host == LOCAL {
        return Ok(());
    }
    Err(Error::Other(format!(
        "{}.{} lives on host {}: this vnx builds what lives on its own host only",
        it.kind, it.name, it.host
    )))
}

impl Provider for Lab {
    async fn refresh(&self, items: &[Item]) -> Vec<Result<Seen>> {
        if let Some(e) = items.iter().find_map(|it| here(it).err()) {
            let why = e.to_string();
            return items.iter().map(|_| Err(Error::Other(why.clone()))).collect();
        }
        refresh::refresh(self, items).await
    }
    async fn create(&self, it: Item) -> Result<Value> {
        here(&it)?;
        match NodeProvider::of(&it) {
            NodeProvider::Libvirt => self.vm_create(&it).await,
            NodeProvider::Ns => kinds::create(self, &it).await,
        }
    }
    async fn update(&self, old: Item, new: Item) -> Result<Value> {
        here(&new)?;
        match NodeProvider::of(&new) {
            NodeProvider::Libvirt => self.vm_update(&old, &new).await,
            NodeProvider::Ns => kinds::update(self, &old, &new).await,
        }
    }
    async fn delete(&self, it: Item) -> Result<()> {
        here(&it)?;
        match NodeProvider::of(&it) {
            NodeProvider::Libvirt => self.vm_delete(&it).await,
            NodeProvider::Ns => kinds::delete(self, &it).await,
        }
    }
}
