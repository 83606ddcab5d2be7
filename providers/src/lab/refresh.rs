//! Refresh: what exists of a lab's resources. The host's links are read once, the lab's
//! namespace and every `ns` node the items name once each, in one batch on two threads
//! ([`prefetch`]); each resource's kind then reads its part ([`crate::kinds::Ops::read`]).
//! VM guests are read lazily, through their agents, once per refresh.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::{Item, Lab, NodeProvider, Seen};
use crate::kinds::{self, addresses, node, p2p, routes};
use crate::netlink::Link;
use crate::ns::{self, Init};
use crate::{Error, Result};

/// What a kind's read sees of the namespace its links live in, and the batch.
pub(crate) struct Seeing<'a> {
    /// The links of the host's namespace, or of the lab's for a resource there; sorted by name.
    pub links: &'a [Link],
    pub views: &'a Views,
    /// The links are the host's (where only a link with the resource's mark is its).
    in_host: bool,
    /// A net whose bridge is the user's (`managed="no"`).
    unmanaged: bool,
}

impl<'a> Seeing<'a> {
    /// The link of that name (a lab has thousands: binary search).
    pub fn by_name(&self, n: &str) -> Option<&'a Link> {
        self.links.binary_search_by(|l| l.name.as_str().cmp(n)).ok().map(|i| &self.links[i])
    }

    /// The link of that name if it is what vnx made for `it`: in the host's namespace, only a
    /// link with the resource's mark is (any other is missing, and creating it is refused); an
    /// unmanaged net's bridge is the user's.
    pub fn own(&self, lab: &Lab, it: &Item, n: &str) -> Option<&'a Link> {
        self.by_name(n).filter(|l| !self.in_host || self.unmanaged || lab.ours(l, &it.kind, &it.name))
    }
}

/// What a refresh read, each thing once: the lab's namespace and every `ns` node up front, in
/// one batch ([`prefetch`]); VM guests lazily, through their agents.
#[derive(Default)]
pub(crate) struct Views {
    /// The lab's namespaces (by name) and their links, sorted by name.
    labs: HashMap<String, Arc<NodeView>>,
    pub nodes: HashMap<String, NodeSeen>,
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    pub vms: tokio::sync::Mutex<HashMap<String, VmView>>,
    /// The lab's switch's database, read once (by the first bridge or port): none when the
    /// switch is not running.
    ovs: tokio::sync::OnceCell<Option<Arc<crate::ovsdb::Snapshot>>>,
}

/// A VM guest's view, read once (by the first item that needs it).
pub(crate) type VmView = Arc<tokio::sync::OnceCell<Option<Arc<NodeView>>>>;

impl Views {
    /// The lab's switch's bridges and ports, read in one request for the whole refresh.
    pub async fn ovs(&self, lab: &Lab) -> Result<Option<Arc<crate::ovsdb::Snapshot>>> {
        let snap = self
            .ovs
            .get_or_try_init(|| async {
                match kinds::ovs::db(lab) {
                    Ok(mut db) => crate::ovsdb::Snapshot::read(&mut db).map(|s| Some(Arc::new(s))),
                    Err(_) => Ok(None), // no switch: its bridges and ports are missing
                }
            })
            .await?;
        Ok(snap.clone())
    }

    /// What was read of an `ns` node's links, addresses and routes.
    pub fn node_view(&self, node: &str) -> Option<Arc<NodeView>> {
        self.nodes.get(node).and_then(|n| n.view.clone())
    }
}

/// One `ns` node as a refresh found it.
#[derive(Default)]
pub(crate) struct NodeSeen {
    /// Running, paused, shut off; `None`: gone.
    pub run: Option<&'static str>,
    /// Its namespace is still bound to its name (a shut-off node's always is).
    pub bound: bool,
    /// Its links and addresses, and its routes if asked: `None` if they could not be read.
    pub view: Option<Arc<NodeView>>,
}

impl NodeSeen {
    /// How the node with this `init` (if it has one) and namespace name runs, and its
    /// namespace, open (the init's if it runs, else the one bound to the name, if any).
    fn of(init: Option<&Init>, netns: &str) -> (NodeSeen, Option<OwnedFd>) {
        let run = ns::run_state(init, netns);
        let (bound, fd) = match (init, run) {
            (_, None) => (true, None),
            (_, Some(ns::SHUTOFF)) => (true, ns::open_bound_netns(netns)),
            // Opened once: to compare with the bound one, then to read.
            (Some(i), Some(_)) => match i.netns() {
                Ok(fd) => (ns::is_bound_to(&fd, netns), Some(fd)),
                Err(_) => (false, None),
            },
            (None, Some(_)) => (true, None),
        };
        (NodeSeen { run, bound, view: None }, fd)
    }
}

/// What a refresh read of one node: its links and addresses, or its routes.
pub(crate) type NodeView = crate::netlink::NsView;

pub(super) async fn refresh(lab: &Lab, items: &[Item]) -> Vec<Result<Seen>> {
    // One dump of the host's links serves every host-side resource.
    let t_host = std::time::Instant::now();
    let host_links = match lab.host().links().await {
        Ok(mut l) => {
            l.sort_by(|x, y| x.name.cmp(&y.name));
            l
        }
        Err(e) => {
            let (errno, why) = (e.errno(), e.to_string());
            let op = "reading the host's links";
            return items.iter().map(|_| Err(Error::Netlink { op: op.into(), errno, why: why.clone() })).collect();
        }
    };
    let t0 = std::time::Instant::now();
    tracing::debug!("refresh: the host's links {:?}", t_host.elapsed());
    let views = prefetch(lab, items).await;
    let t1 = std::time::Instant::now();
    // Most reads only look at what was prefetched (60,000 at 10,000 nodes took 0.1 s on one
    // thread): the two halves of a large batch are read on two threads, on a runtime that has
    // threads to spare.
    let runtime = tokio::runtime::Handle::current();
    let seen = if items.len() >= 2048 && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        let (first, second) = items.split_at(items.len() / 2);
        let (host_links, views) = (&host_links, &views);
        tokio::task::block_in_place(|| {
            std::thread::scope(|sc| {
                let other = sc.spawn(|| runtime.block_on(read_in_order(lab, second, host_links, views)));
                let mut seen = runtime.block_on(read_in_order(lab, first, host_links, views));
                seen.extend(other.join().expect("a refresh thread panicked"));
                seen
            })
        })
    } else {
        read_in_order(lab, items, &host_links, &views).await
    };
    tracing::debug!("refresh: nodes' dumps {:?}, the rest {:?}", t1 - t0, t1.elapsed());
    seen
}

/// What exists of each item, in their order. A window of reads at a time: most finish at
/// their first poll (what they read was prefetched), and a future per item at once (1.4 kB
/// each) was 80 MB at 10,000 nodes. (A loop, not `stream::iter(..).buffered(..)`: a closure
/// there is not `Send` enough.)
async fn read_in_order(lab: &Lab, items: &[Item], host_links: &[Link], views: &Views) -> Vec<Result<Seen>> {
    let (mut seen, mut window) = (Vec::with_capacity(items.len()), futures::stream::FuturesOrdered::new());
    let mut next = items.iter();
    loop {
        while window.len() < 64 {
            let Some(it) = next.next() else { break };
            window.push_back(read_one(lab, it, host_links, views));
        }
        match futures::StreamExt::next(&mut window).await {
            Some(r) => seen.push(r),
            None => break,
        }
    }
    seen
}

/// What exists of one item: only what differs from its record is kept (the planner asks no
/// more): a 10,000-node lab's 60,000 read-back attribute maps were most of a plan's peak memory.
/// A map left empty is dropped here, not after the batch: emptied by `retain`, a map of two
/// entries still held 1.6 kB (a 640-byte node when full), 40 MB and more of new memory at
/// 10,000 nodes; freed, the next item's map reuses it.
async fn read_one(lab: &Lab, it: &Item, host_links: &[Link], views: &Views) -> Result<Seen> {
    read_all_of(lab, it, host_links, views).await.map(|seen| match seen {
        Seen::Present(mut m) => {
            m.retain(|k, v| it.attrs.get(k) != Some(v));
            Seen::Present(if m.is_empty() { Default::default() } else { m })
        }
        missing => missing,
    })
}

async fn read_all_of(lab: &Lab, it: &Item, host_links: &[Link], views: &Views) -> Result<Seen> {
    if NodeProvider::of(it) == NodeProvider::Libvirt {
        return lab.vm_refresh(it, host_links, views).await;
    }
    let place = kinds::placement(&it.kind, |k| it.attrs.get(k));
    // A net or interface of the lab's own namespace is read from that namespace's links.
    let links = match place.host_netns {
        None => host_links,
        Some(name) => match views.labs.get(name) {
            Some(v) => &v.links[..],
            None => return Ok(Seen::Missing),
        },
    };
    let seeing = Seeing { links, views, in_host: place.host_netns.is_none(), unmanaged: place.unmanaged };
    kinds::read(lab, it, &seeing).await
}

/// Reads, in one batch, the `ns` nodes the items name (how each runs, its links and
/// addresses, its routes where it has some) and the links of the lab's own namespace. Two
/// threads visit them, the lab's namespace first (the longest dump); checking that a node
/// still runs is done there too, beside the kernel's dumps, rather than once per item after.
async fn prefetch(lab: &Lab, items: &[Item]) -> Views {
    struct Visit {
        node: String,
        init: Option<Init>,
        /// Its node item was in the batch (its record says best which init is its).
        recorded: bool,
        netns: String,
        /// The links the items look up (read with the addresses), if any item needs them.
        links: Option<Vec<String>>,
        routes: bool,
    }
    let t0 = std::time::Instant::now();
    let mut visits: std::collections::BTreeMap<String, Visit> = Default::default();
    for it in items.iter().filter(|it| NodeProvider::of(it) == NodeProvider::Ns) {
        // An item of another shape is not read (no reason to panic).
        let (node, link) = match it.kind.as_str() {
            node::KIND => (it.name.clone(), None),
            addresses::KIND => match kinds::typed::<addresses::Attrs>(it) {
                Ok(a) => (a.node, Some(a.ifname)),
                Err(_) => continue,
            },
            routes::KIND => match kinds::placement(&it.kind, |k| it.attrs.get(k)).node {
                Some(n) => (n.to_string(), None),
                None => continue,
            },
            p2p::KIND => match kinds::typed::<p2p::Attrs>(it) {
                Ok(p) => (p.a.node, Some(p.a.ifname)),
                Err(_) => continue,
            },
            _ => continue,
        };
        if node.is_empty() {
            continue;
        }
        let v = visits.entry(node.clone()).or_insert_with(|| Visit {
            init: None,
            recorded: false,
            netns: lab.netns_name(&node),
            node,
            links: None,
            routes: false,
        });
        if it.kind == node::KIND {
            v.init = serde_json::from_value(it.runtime.clone()).ok();
            v.recorded = true;
            v.netns = kinds::typed::<node::Attrs>(it).ok().and_then(|n| n.netns).unwrap_or_default();
        }
        if let Some(l) = link {
            v.links.get_or_insert_with(Vec::new).push(l);
        }
        v.routes |= it.kind == routes::KIND;
    }
    // A node whose own item is not in the batch: its init as its directory says.
    for v in visits.values_mut().filter(|v| !v.recorded) {
        v.init = lab.kept(&v.node, super::kept::INIT);
    }
    // The lab's namespaces, each with the links its resources look up there.
    let mut lab_netns: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for it in items {
        let get = |k: &str| it.attrs.get(k);
        if let Some(name) = kinds::placement(&it.kind, get).host_netns {
            let names = kinds::kernel_links(&it.kind, get).into_iter().map(String::from);
            lab_netns.entry(name.to_string()).or_default().extend(names);
        }
    }
    enum Job {
        Lab(String, Vec<String>),
        Node(Visit),
    }
    enum Read {
        Lab(String, Option<NodeView>),
        Node(String, NodeSeen),
    }
    // The lab's namespaces' link dumps (the longest, each under RTNL) spread among the nodes'
    // reads (which do not take it), the first one first: two threads taking two lab dumps at
    // once only took turns on RTNL (`perf record -g` of a 10,000-node plan: 10 % of the
    // samples spinning on it in `rtnl_dump_ifinfo`).
    let every = (visits.len() / lab_netns.len().max(1)).max(1);
    let mut jobs: Vec<Job> = Vec::with_capacity(visits.len() + lab_netns.len());
    let mut labs = lab_netns.into_iter();
    for (i, v) in visits.into_values().enumerate() {
        if i % every == 0 {
            jobs.extend(labs.next().map(|(name, wanted)| Job::Lab(name, wanted)));
        }
        jobs.push(Job::Node(v));
    }
    jobs.extend(labs.map(|(name, wanted)| Job::Lab(name, wanted)));
    let read = |job: Job| match job {
        Job::Lab(name, wanted) => {
            let links = ns::open_bound_netns(&name).and_then(|fd| {
                crate::netlink::NsReader::enter(std::os::fd::AsFd::as_fd(&fd))
                    .and_then(|r| r.bridges_and_ports(&wanted))
                    .ok()
            });
            Read::Lab(name, links.map(|links| NodeView { links, ..NodeView::default() }))
        }
        Job::Node(v) => {
            let (mut seen, fd) = NodeSeen::of(v.init.as_ref(), &v.netns);
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
    tracing::debug!("refresh: the batch's {} jobs {:?}", jobs.len(), t0.elapsed());
    let reads = tokio::task::spawn_blocking(move || crate::netlink::in_threads(jobs, 2, read)).await;
    let mut views = Views::default();
    for r in reads.unwrap_or_default() {
        match r {
            Read::Lab(name, view) => {
                if let Some(mut v) = view {
                    v.links.sort_by(|x, y| x.name.cmp(&y.name));
                    views.labs.insert(name, Arc::new(v));
                }
            }
            Read::Node(node, seen) => {
                views.nodes.insert(node, seen);
            }
        }
    }
    views
}
