//! Netlink, in-process: links, addresses and routes of one network namespace through one
//! socket, with requests built from `netlink-packet-route` messages (no `ip` fork per object).
//!
//! A [`Netlink`] is bound to the namespace its socket was opened in: [`Netlink::current`] for
//! the namespace vnx runs in ("the host"), [`Netlink::in_netns`] for a node's.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use futures::StreamExt;
use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::{Error, Result};

/// A route netlink socket and the future that drives it (to spawn on the runtime).
fn connect() -> Result<(impl std::future::Future<Output = ()>, netlink_proto::ConnectionHandle<RouteNetlinkMessage>)> {
    let (conn, handle, _) = netlink_proto::new_connection(netlink_proto::sys::protocols::NETLINK_ROUTE)
        .map_err(|e| nl_err("opening a netlink socket", e))?;
    Ok((conn, handle))
}

/// A link as a dump shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// `bridge`, `veth`, … (None for plain devices).
    pub kind: Option<String>,
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    /// The link group: vnx creates its links in the lab's group ([`crate::names::link_group`]),
    /// its mark from the first request, before the alias is set.
    pub group: Option<u32>,
    pub up: bool,
}

/// An address as a dump shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Addr {
    pub index: u32,
    pub net: IpNet,
    /// IPv4 addresses carry their interface's name.
    pub label: Option<String>,
}

/// A route of the main table, as a dump shows it (gateway routes only).
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub dest: IpNet,
    pub gw: IpAddr,
}

/// A VXLAN device's tunnel.
#[derive(Clone, Debug)]
pub struct Vxlan {
    pub vni: u32,
    /// The source address; none: the route's.
    pub local: Option<IpAddr>,
    /// The UDP destination port.
    pub port: u16,
    /// One fixed UDP source port; none: the kernel's range.
    pub src_port: Option<u16>,
    /// The underlay link (its MTU bounds the device's).
    pub underlay: Option<u32>,
}

/// How a change to an existing link reads.
#[derive(Clone, Debug, Default)]
pub struct LinkChange {
    pub up: Option<bool>,
    /// `Some(0)` detaches from any bridge.
    pub master: Option<u32>,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub alias: Option<String>,
    pub name: Option<String>,
    pub netns_fd: Option<i32>,
}

#[derive(Clone)]
pub struct Netlink {
    handle: netlink_proto::ConnectionHandle<RouteNetlinkMessage>,
    /// A socket runs one dump at a time (a second one fails with EBUSY).
    dump: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn nl_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::netlink(what, e)
}

/// A veth end's queues: one each way. The kernel gives a veth as many as the machine has
/// possible CPUs, each a sysfs directory of its own with its files and events: creating a pair
/// with one took 225 µs instead of 350 µs here (2 CPUs; 2000 pairs by `ip -batch`, alternated),
/// under RTNL, which every link of a lab waits for. A lab's links carry little traffic, and
/// one queue is what a bridge or a tap has.
const ONE_QUEUE: [LinkAttribute; 2] = [LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)];

impl Netlink {
    /// A socket in the namespace this thread is in. Needs a tokio runtime.
    pub fn current() -> Result<Netlink> {
        let (conn, handle) = connect()?;
        tokio::spawn(conn);
        Ok(Netlink { handle, dump: Default::default() })
    }

    /// A socket in the network namespace `netns` (a file descriptor of /proc/PID/ns/net or of a
    /// /run/netns file), made there by [`crate::netns_socket`]: the calling thread never
    /// changes namespace.
    pub async fn in_netns(netns: OwnedFd) -> Result<Netlink> {
        let fd = crate::netns_socket::route_socket_in(netns).await?;
        // SAFETY: a netlink socket's descriptor, handed over whole. (This panics if the runtime
        // cannot watch it: only past fs.epoll.max_user_watches, millions.)
        let socket = unsafe { netlink_sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) };
        let (conn, handle, _) =
            netlink_proto::from_socket_with_codec::<RouteNetlinkMessage, _, netlink_proto::NetlinkCodec>(socket);
        tokio::spawn(conn);
        Ok(Netlink { handle, dump: Default::default() })
    }

    async fn request(&self, payload: RouteNetlinkMessage, flags: u16, what: &str) -> Result<Vec<RouteNetlinkMessage>> {
        let _one_dump = if flags & NLM_F_DUMP == NLM_F_DUMP { Some(self.dump.lock().await) } else { None };
        let mut msg = NetlinkMessage::from(payload);
        msg.header.flags = NLM_F_REQUEST | flags;
        let mut stream = self.handle.request(msg, netlink_sys::SocketAddr::new(0, 0)).map_err(|e| nl_err(what, e))?;
        let mut out = Vec::new();
        while let Some(m) = stream.next().await {
            match m.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    let errno = e.code.map(|c| -c.get()).unwrap_or(0);
                    return Err(Error::refused(what, errno));
                }
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every link of the namespace.
    pub async fn links(&self) -> Result<Vec<Link>> {
        Ok(links_of(self.request(Dump::Links.request(), NLM_F_DUMP, "listing links").await?))
    }

    /// One link, asked for by name (no dump).
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::GetLink(m), 0, &format!("looking up {name}")).await {
            Ok(msgs) => Ok(msgs.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Has the kernel apply the link's pending carrier change now: asking for one link (not a
    /// dump) does (`linkwatch_sync_dev`). A bridge's carrier change is not urgent to the
    /// kernel: it queues it and takes a hundred such a second, and walks the whole queue,
    /// interrupts off, at every urgent change (any veth's). Left queued, a 10,000-net lab's
    /// bridges made that walk 3 s of an apply's CPU (`perf record -g`: `__linkwatch_run_queue`
    /// under `linkwatch_event`, 28× the samples for 10× the lab), and stayed "state UNKNOWN"
    /// for a minute and a half after it.
    pub async fn settle_link(&self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        self.request(RouteNetlinkMessage::GetLink(m), 0, "reading a link").await.map(|_| ())
    }

    async fn new_link(&self, msg: LinkMessage, what: &str) -> Result<()> {
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, what).await.map(|_| ())
    }

    /// Creates a Linux bridge (down; `set_link` brings it up) in link group `group`.
    pub async fn add_bridge(&self, name: &str, mtu: Option<u32>, stp: bool, group: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.push(LinkAttribute::Group(group));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let stp = if stp { 1 } else { 0 };
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::StpState(stp.into())])),
        ]));
        self.new_link(m, &format!("creating bridge {name}")).await
    }

    /// Sets a bridge's STP state.
    pub async fn set_bridge_stp(&self, index: u32, stp: bool) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::StpState(if stp { 1u32.into() } else { 0u32.into() })])),
        ]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_ACK, "setting STP").await.map(|_| ())
    }

    /// Creates a veth pair in link group `group`: `name` here, `peer` in the namespace
    /// `peer_netns` (or here).
    pub async fn add_veth(
        &self,
        name: &str,
        peer: &str,
        peer_netns: Option<&OwnedFd>,
        peer_mac: Option<[u8; 6]>,
        mtu: Option<u32>,
        group: u32,
    ) -> Result<()> {
        self.add_veth_on(name, peer, peer_netns, peer_mac, mtu, None, false, group).await
    }

    /// Creates a veth pair whose end here is already on the bridge `master` and, with `up`, up:
    /// one request where adding, enslaving and bringing up would take three (each under RTNL).
    /// (The peer cannot be born up: the kernel opens it before it is paired, ENOTCONN.)
    #[allow(clippy::too_many_arguments)]
    pub async fn add_veth_on(
        &self,
        name: &str,
        peer: &str,
        peer_netns: Option<&OwnedFd>,
        peer_mac: Option<[u8; 6]>,
        mtu: Option<u32>,
        master: Option<u32>,
        up: bool,
        group: u32,
    ) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.into()));
        p.attributes.push(LinkAttribute::Group(group));
        if let Some(fd) = peer_netns {
            p.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        if let Some(mac) = peer_mac {
            p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = mtu {
            p.attributes.push(LinkAttribute::Mtu(mtu));
        }
        p.attributes.extend(ONE_QUEUE);
        let mut m = LinkMessage::default();
        if up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.push(LinkAttribute::Group(group));
        m.attributes.extend(ONE_QUEUE);
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(master) = master {
            m.attributes.push(LinkAttribute::Controller(master));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.new_link(m, &format!("creating veth pair {name}/{peer}")).await
    }

    /// Changes an existing link.
    pub async fn set_link(&self, index: u32, c: LinkChange) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        if let Some(up) = c.up {
            m.header.change_mask = LinkFlags::Up;
            if up {
                m.header.flags = LinkFlags::Up;
            }
        }
        if let Some(master) = c.master {
            m.attributes.push(LinkAttribute::Controller(master));
        }
        if let Some(mtu) = c.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = c.mac {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(alias) = c.alias {
            m.attributes.push(LinkAttribute::IfAlias(alias));
        }
        if let Some(name) = c.name {
            m.attributes.push(LinkAttribute::IfName(name));
        }
        if let Some(fd) = c.netns_fd {
            m.attributes.push(LinkAttribute::NetNsFd(fd));
        }
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK, &format!("changing link {index}")).await.map(|_| ())
    }

    pub async fn del_link(&self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK, "deleting a link").await {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Creates a VXLAN device (learning on, UDP port `port`) sending from `local` over the
    /// link `underlay`, in link group `group`, born in the namespace `netns`: its socket stays in
    /// this namespace (where the underlay is) while the device joins a bridge there.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_vxlan(
        &self,
        name: &str,
        tunnel: &Vxlan,
        mtu: Option<u32>,
        netns: Option<&OwnedFd>,
        group: u32,
    ) -> Result<()> {
        use netlink_packet_route::link::InfoVxlan;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.push(LinkAttribute::Group(group));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(fd) = netns {
            m.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        let mut data = vec![InfoVxlan::Id(tunnel.vni), InfoVxlan::Port(tunnel.port), InfoVxlan::Learning(true)];
        match tunnel.local {
            Some(IpAddr::V4(a)) => data.push(InfoVxlan::Local(a)),
            Some(IpAddr::V6(a)) => data.push(InfoVxlan::Local6(a)),
            None => {}
        }
        if let Some(link) = tunnel.underlay {
            data.push(InfoVxlan::Link(link));
        }
        // The kernel picks a source port in [low, high): one port is [p, p + 1).
        if let Some(p) = tunnel.src_port {
            data.push(InfoVxlan::PortRange((p, p.saturating_add(1))));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Vxlan),
            LinkInfo::Data(InfoData::Vxlan(data)),
        ]));
        self.new_link(m, &format!("creating VXLAN device {name} (VNI {})", tunnel.vni)).await
    }

    /// The all-zeros forwarding entry of a VXLAN device towards `peer`: frames to flood (and
    /// to unknown MACs) are sent to it too (head-end replication, no multicast needed).
    fn flood_entry(index: u32, peer: IpAddr) -> netlink_packet_route::neighbour::NeighbourMessage {
        use netlink_packet_route::neighbour::*;
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = index;
        m.header.state = NeighbourState::Permanent;
        m.header.flags = NeighbourFlags::Own;
        m.attributes.push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
        m.attributes.push(NeighbourAttribute::Destination(match peer {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
        m
    }

    /// Adds `peer` to the hosts a VXLAN device floods to.
    pub async fn add_flood_peer(&self, index: u32, peer: IpAddr) -> Result<()> {
        let m = Self::flood_entry(index, peer);
        let flags = NLM_F_ACK | NLM_F_CREATE | netlink_packet_core::NLM_F_APPEND;
        match self.request(RouteNetlinkMessage::NewNeighbour(m), flags, &format!("adding VXLAN peer {peer}")).await {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Removes `peer` from the hosts a VXLAN device floods to.
    pub async fn del_flood_peer(&self, index: u32, peer: IpAddr) -> Result<()> {
        let m = Self::flood_entry(index, peer);
        match self
            .request(RouteNetlinkMessage::DelNeighbour(m), NLM_F_ACK, &format!("removing VXLAN peer {peer}"))
            .await
        {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The hosts a VXLAN device floods to (its all-zeros forwarding entries), sorted.
    pub async fn flood_peers(&self, index: u32) -> Result<Vec<IpAddr>> {
        use netlink_packet_route::neighbour::*;
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = index;
        let msgs = self.request(RouteNetlinkMessage::GetNeighbour(m), NLM_F_DUMP, "listing VXLAN peers").await?;
        let mut peers: Vec<IpAddr> = msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) if n.header.ifindex == index => Some(n),
                _ => None,
            })
            .filter(|n| {
                n.attributes
                    .iter()
                    .any(|a| matches!(a, NeighbourAttribute::LinkLayerAddress(l) if l.iter().all(|b| *b == 0)))
            })
            .filter_map(|n| {
                n.attributes.iter().find_map(|a| match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(x)) => Some(IpAddr::V4(*x)),
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(x)) => Some(IpAddr::V6(*x)),
                    // A bridge-family entry's address is not parsed by family: its length says.
                    NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => match b.len() {
                        4 => Some(IpAddr::from(<[u8; 4]>::try_from(&b[..]).ok()?)),
                        16 => Some(IpAddr::from(<[u8; 16]>::try_from(&b[..]).ok()?)),
                        _ => None,
                    },
                    _ => None,
                })
            })
            .collect();
        peers.sort();
        peers.dedup();
        Ok(peers)
    }

    /// Addresses of the namespace (all links).
    pub async fn addrs(&self) -> Result<Vec<Addr>> {
        Ok(addrs_of(self.request(Dump::Addrs.request(), NLM_F_DUMP, "listing addresses").await?))
    }

    fn addr_msg(index: u32, net: IpNet) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.prefix_len = net.prefix_len();
        m.header.scope = AddressScope::Universe;
        match net.addr() {
            IpAddr::V4(a) => {
                m.header.family = AddressFamily::Inet;
                m.attributes.push(AddressAttribute::Local(IpAddr::V4(a)));
                m.attributes.push(AddressAttribute::Address(IpAddr::V4(a)));
                if net.prefix_len() < 31 {
                    if let IpNet::V4(n) = net {
                        m.attributes.push(AddressAttribute::Broadcast(n.broadcast()));
                    }
                }
            }
            IpAddr::V6(a) => {
                m.header.family = AddressFamily::Inet6;
                // No duplicate address detection: the address works at once.
                m.header.flags = AddressHeaderFlags::Nodad;
                m.attributes.push(AddressAttribute::Address(IpAddr::V6(a)));
                m.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        m
    }

    /// Adds an address (replacing it if present).
    pub async fn add_addr(&self, index: u32, net: IpNet) -> Result<()> {
        self.request(
            RouteNetlinkMessage::NewAddress(Self::addr_msg(index, net)),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &format!("adding address {net}"),
        )
        .await
        .map(|_| ())
    }

    pub async fn del_addr(&self, index: u32, net: IpNet) -> Result<()> {
        match self
            .request(
                RouteNetlinkMessage::DelAddress(Self::addr_msg(index, net)),
                NLM_F_ACK,
                &format!("removing address {net}"),
            )
            .await
        {
            // Gone already: the address (EADDRNOTAVAIL), or the link with it.
            Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV | libc::ENXIO | libc::ENOENT)) => {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn route_msg(dest: IpNet, gw: IpAddr) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = if dest.addr().is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        m.header.destination_prefix_length = dest.prefix_len();
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Static;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        let ra = |ip: IpAddr| match ip {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        if dest.prefix_len() > 0 {
            m.attributes.push(RouteAttribute::Destination(ra(dest.network())));
        }
        m.attributes.push(RouteAttribute::Gateway(ra(gw)));
        m
    }

    /// Adds (or replaces) a route through a gateway.
    pub async fn add_route(&self, dest: IpNet, gw: IpAddr) -> Result<()> {
        self.request(
            RouteNetlinkMessage::NewRoute(Self::route_msg(dest, gw)),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &format!("adding route to {dest} via {gw}"),
        )
        .await
        .map(|_| ())
    }

    pub async fn del_route(&self, dest: IpNet, gw: IpAddr) -> Result<()> {
        match self
            .request(
                RouteNetlinkMessage::DelRoute(Self::route_msg(dest, gw)),
                NLM_F_ACK,
                &format!("removing route to {dest}"),
            )
            .await
        {
            // Gone already: the route (ESRCH), or the link it went through.
            Err(e) if matches!(e.errno(), Some(libc::ESRCH | libc::ENODEV | libc::ENXIO | libc::ENOENT)) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Gateway routes of the main table, both families.
    pub async fn routes(&self) -> Result<Vec<Route>> {
        let mut out = routes_of(self.request(Dump::Routes4.request(), NLM_F_DUMP, "listing routes").await?);
        out.extend(routes_of(self.request(Dump::Routes6.request(), NLM_F_DUMP, "listing routes").await?));
        Ok(out)
    }
}

/// The dumps vnx reads.
#[derive(Clone, Copy)]
enum Dump {
    Links,
    /// Only the bridges and their ports, in the bridge family's short form (name, index,
    /// flags, master, MTU): no peer namespace's id to look up, no per-family settings. Asking
    /// for their VLANs (compressed: a range is one entry) makes the kernel list the bridges
    /// themselves, not only their ports.
    Bridged,
    Addrs,
    Addrs4,
    Addrs6,
    Routes4,
    Routes6,
}

impl Dump {
    fn request(self) -> RouteNetlinkMessage {
        let routes = |family| {
            let mut m = RouteMessage::default();
            m.header.address_family = family;
            RouteNetlinkMessage::GetRoute(m)
        };
        match self {
            Dump::Links => {
                // Without each link's counters (most of a link's message, and unused here).
                let mut m = LinkMessage::default();
                m.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
                RouteNetlinkMessage::GetLink(m)
            }
            Dump::Bridged => {
                let mut m = LinkMessage::default();
                m.header.interface_family = AddressFamily::Bridge;
                m.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::BrvlanCompressed]));
                RouteNetlinkMessage::GetLink(m)
            }
            Dump::Addrs => RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            Dump::Addrs4 | Dump::Addrs6 => {
                let mut m = AddressMessage::default();
                m.header.family = if matches!(self, Dump::Addrs4) { AddressFamily::Inet } else { AddressFamily::Inet6 };
                RouteNetlinkMessage::GetAddress(m)
            }
            Dump::Routes4 => routes(AddressFamily::Inet),
            Dump::Routes6 => routes(AddressFamily::Inet6),
        }
    }
}

fn links_of(msgs: Vec<RouteNetlinkMessage>) -> Vec<Link> {
    msgs.into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
            _ => None,
        })
        .collect()
}

fn addrs_of(msgs: Vec<RouteNetlinkMessage>) -> Vec<Addr> {
    let mut out = Vec::new();
    for m in msgs {
        if let RouteNetlinkMessage::NewAddress(a) = m {
            let ip = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let ip = ip.or_else(|| {
                a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            let label = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Label(l) => Some(l.clone()),
                _ => None,
            });
            if let Some(ip) = ip {
                if let Ok(net) = IpNet::new(ip, a.header.prefix_len) {
                    out.push(Addr { index: a.header.index, net, label });
                }
            }
        }
    }
    out
}

/// The gateway routes of the main table among `msgs`.
fn routes_of(msgs: Vec<RouteNetlinkMessage>) -> Vec<Route> {
    let mut out = Vec::new();
    for msg in msgs {
        let RouteNetlinkMessage::NewRoute(r) = msg else { continue };
        if r.header.table != RouteHeader::RT_TABLE_MAIN {
            continue;
        }
        let addr = |a: &RouteAddress| match a {
            RouteAddress::Inet(x) => Some(IpAddr::V4(*x)),
            RouteAddress::Inet6(x) => Some(IpAddr::V6(*x)),
            _ => None,
        };
        let gw = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Gateway(g) => addr(g),
            _ => None,
        });
        let dst = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Destination(d) => addr(d),
            _ => None,
        });
        let Some(gw) = gw else { continue };
        let base = dst.unwrap_or(if r.header.address_family == AddressFamily::Inet {
            IpAddr::V4(0.into())
        } else {
            IpAddr::V6(0.into())
        });
        if let Ok(dest) = IpNet::new(base, r.header.destination_prefix_length) {
            out.push(Route { dest, gw });
        }
    }
    out
}

/// What a refresh reads of one namespace.
#[derive(Clone, Debug, Default)]
pub struct NsView {
    pub links: Vec<Link>,
    pub addrs: Vec<Addr>,
    pub routes: Vec<Route>,
}

/// Runs `f` over `jobs` on up to `threads` threads of its own, which end with the call: a
/// thread that entered a node's namespace ([`NsReader::enter`]) never goes on to other work.
/// The results come in no particular order.
pub fn in_threads<J: Send, R: Send>(jobs: Vec<J>, threads: usize, f: impl Fn(J) -> R + Sync) -> Vec<R> {
    let threads = jobs.len().clamp(1, threads.max(1));
    let jobs = std::sync::Mutex::new(jobs.into_iter());
    let out = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| loop {
                let Some(job) = jobs.lock().expect("not poisoned").next() else { break };
                let r = f(job);
                out.lock().expect("not poisoned").push(r);
            });
        }
    });
    out.into_inner().expect("not poisoned")
}

/// A plain blocking route netlink socket in another namespace, for reading many namespaces
/// in a batch ([`in_threads`]). A tokio connection per namespace would cost a task and 72 KiB of
/// buffers each, which at a thousand nodes was most of vnx's memory.
pub struct NsReader {
    sock: netlink_sys::Socket,
}

impl NsReader {
    /// Moves the calling thread into `netns` (it stays there) and opens a socket there.
    pub fn enter(netns: std::os::fd::BorrowedFd) -> Result<NsReader> {
        nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| nl_err("entering a network namespace", e))?;
        // Not bound: the kernel gives the socket its address on the first request (a bind and
        // a getsockname less for each of a lab's thousands of nodes).
        let sock = netlink_sys::Socket::new(netlink_proto::sys::protocols::NETLINK_ROUTE)
            .map_err(|e| nl_err("opening a netlink socket", e))?;
        Ok(NsReader { sock })
    }

    /// Every link (a link dump holds the kernel's RTNL lock: see [`NsReader::links_named`]).
    pub fn links(&self) -> Result<Vec<Link>> {
        blocking_links(&self.sock)
    }

    /// The bridges and their ports, if that finds every link named `wanted`; else every link.
    /// A lab's namespace holds its nets' bridges and their veth ends: dumping only those, in
    /// the bridge family's short form (name, index, flags, master, MTU), took 5 ms instead of
    /// 12 for a namespace of 900 links (a full dump looks up, for each veth end, its peer
    /// namespace's id by walking the namespace's list of them, and writes each link's
    /// per-family settings). One dump: asked for VLANs, the kernel lists the bridges in that
    /// form too, which took 4 ms instead of 8.5 for the two dumps (bridges in full, then ports)
    /// it replaced, on a 10,000-node lab's namespaces of 900-1000 links.
    pub fn bridges_and_ports(&self, wanted: &[String]) -> Result<Vec<Link>> {
        let mut links: Vec<Link> = Vec::new();
        blocking_dump_raw(&self.sock, Dump::Bridged, |m| {
            links.extend(link_of_bytes(m));
            Ok(())
        })?;
        let links = bridged(links);
        let names: std::collections::HashSet<&str> = links.iter().map(|l| l.name.as_str()).collect();
        if wanted.iter().all(|w| names.contains(w.as_str())) {
            Ok(links)
        } else {
            self.links()
        }
    }

    /// Every address. One dump per family: a dump of all families at once holds the kernel's
    /// RTNL lock, each family's own dump does not (recent kernels: seen on 6.18), so these run
    /// beside another thread's link dump rather than wait for it.
    pub fn addrs(&self) -> Result<Vec<Addr>> {
        let mut addrs = blocking_addrs(&self.sock, Dump::Addrs4)?;
        addrs.retain(|a| a.net.addr().is_ipv4());
        let mut v6 = blocking_addrs(&self.sock, Dump::Addrs6)?;
        // A kernel without a family's own dump answers with every family's.
        v6.retain(|a| a.net.addr().is_ipv6());
        addrs.append(&mut v6);
        Ok(addrs)
    }

    /// The gateway routes of the main tables, IPv4 and IPv6.
    pub fn routes(&self) -> Result<Vec<Route>> {
        let mut routes = routes_of(blocking_dump(&self.sock, Dump::Routes4)?);
        routes.extend(routes_of(blocking_dump(&self.sock, Dump::Routes6)?));
        Ok(routes)
    }

    /// The links named `wanted` (only their names and indexes), found among `addrs` when an
    /// IPv4 address names each (its label is its link's name); else every link, dumped.
    pub fn links_named(&self, addrs: &[Addr], wanted: &[String]) -> Result<Vec<Link>> {
        let known: Vec<Link> = wanted
            .iter()
            .filter_map(|n| addrs.iter().find(|a| a.label.as_ref() == Some(n)))
            .map(|a| Link { index: a.index, name: a.label.clone().unwrap_or_default(), ..Link::default() })
            .collect();
        if !wanted.is_empty() && known.len() == wanted.len() {
            Ok(known)
        } else {
            self.links()
        }
    }
}

/// The alias of this thread's network namespace's `lo` (index 1 in every namespace): the mark
/// vnx puts on a namespace it makes ([`set_lo_alias_here`]) before it binds a name to it.
pub fn lo_alias_here() -> Result<Option<String>> {
    let mut m = LinkMessage::default();
    m.header.index = 1;
    let replies = blocking_request(RouteNetlinkMessage::GetLink(m), "reading lo")?;
    Ok(replies.iter().find_map(|r| link_of_bytes(r)).and_then(|l| l.alias))
}

/// Sets the alias of this thread's network namespace's `lo`.
pub fn set_lo_alias_here(alias: &str) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = 1;
    m.attributes.push(LinkAttribute::IfAlias(alias.into()));
    blocking_request(RouteNetlinkMessage::SetLink(m), "marking lo").map(|_| ())
}

/// One request through a new blocking socket in this thread's namespace, acknowledged: the
/// answer's messages (bytes, header included) before the acknowledgement.
fn blocking_request(payload: RouteNetlinkMessage, what: &str) -> Result<Vec<Vec<u8>>> {
    let mut sock = netlink_sys::Socket::new(netlink_proto::sys::protocols::NETLINK_ROUTE)
        .map_err(|e| nl_err("opening a netlink socket", e))?;
    sock.bind_auto().map_err(|e| nl_err("binding a netlink socket", e))?;
    let mut out = Vec::new();
    exchange(&sock, payload, NLM_F_ACK, what, |kind, m| {
        if kind == NLMSG_ERROR {
            return Ok(true); // the acknowledgement (an error fails the exchange)
        }
        out.push(m.to_vec());
        Ok(false)
    })?;
    Ok(out)
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// Sends `payload` (with `flags` beside NLM_F_REQUEST) and hands each message of the answer
/// (its type, its bytes with the header) to `each` until it says the answer is complete. A
/// netlink error message fails the exchange with its errno; an acknowledgement (errno 0) is
/// handed on like any other message. The one reader of netlink answers' framing.
fn exchange(
    sock: &netlink_sys::Socket,
    payload: RouteNetlinkMessage,
    flags: u16,
    what: &str,
    mut each: impl FnMut(u16, &[u8]) -> Result<bool>,
) -> Result<()> {
    let mut msg = NetlinkMessage::from(payload);
    msg.header.flags = NLM_F_REQUEST | flags;
    msg.header.sequence_number = 1;
    msg.finalize();
    let mut buf = vec![0u8; msg.header.length as usize];
    msg.serialize(&mut buf);
    sock.send(&buf, 0).map_err(|e| nl_err(&format!("sending {what}"), e))?;
    // A buffer of 32 KiB or more makes the kernel fill 32 KiB per read (it sizes a dump's
    // messages by the largest read so far); each read resumes the dump from its start.
    let mut data: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        data.clear();
        sock.recv(&mut data, 0).map_err(|e| nl_err(&format!("reading {what}"), e))?;
        let mut at = 0;
        while at + 16 <= data.len() {
            let len = u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(data[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < 16 || at + len > data.len() {
                return Err(Error::netlink(what, "a truncated message"));
            }
            let m = &data[at..at + len];
            if kind == NLMSG_ERROR {
                // struct nlmsgerr: a negative errno (0 is an acknowledgement).
                let code = m.get(16..20).map_or(0, |c| i32::from_ne_bytes(c.try_into().expect("4 bytes")));
                if code != 0 {
                    return Err(Error::refused(what, -code));
                }
            }
            if each(kind, m)? {
                return Ok(());
            }
            at += (len + 3) & !3;
        }
    }
}

fn blocking_dump(sock: &netlink_sys::Socket, dump: Dump) -> Result<Vec<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    blocking_dump_raw(sock, dump, |m| {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(m).map_err(|e| nl_err("parsing a dump", e))?;
        if let NetlinkPayload::InnerMessage(inner) = m.payload {
            out.push(inner);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Every link of the socket's namespace, each read straight from its message's bytes:
/// netlink-packet-route parses all of a link's attributes (a bridge port has forty), which for
/// a lab's thousands of links took twice as long as the kernel took to dump them.
fn blocking_links(sock: &netlink_sys::Socket) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    blocking_dump_raw(sock, Dump::Links, |m| {
        out.extend(link_of_bytes(m));
        Ok(())
    })?;
    Ok(out)
}

/// The addresses of an address dump, each read straight from its message's bytes (as
/// [`blocking_links`]): a refresh dumps each node's addresses, and the full parse of each
/// message (every attribute into a vector of its own) was a fifth of the reading threads'
/// own time at 10,000 nodes.
fn blocking_addrs(sock: &netlink_sys::Socket, dump: Dump) -> Result<Vec<Addr>> {
    let mut out = Vec::new();
    blocking_dump_raw(sock, dump, |m| {
        out.extend(addr_of_bytes(m));
        Ok(())
    })?;
    Ok(out)
}

/// Sends `dump`'s request and hands each message of the answer (its bytes, header included)
/// to `each`, until the dump is done.
fn blocking_dump_raw(sock: &netlink_sys::Socket, dump: Dump, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    exchange(sock, dump.request(), NLM_F_DUMP, "dump", |kind, m| match kind {
        NLMSG_DONE => Ok(true),
        NLMSG_ERROR => Ok(false),
        _ => each(m).map(|_| false),
    })
}

/// The (type, value) of each netlink attribute in `buf` (aligned `struct nlattr`s).
fn nl_attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16::from_ne_bytes(buf.get(0..2)?.try_into().ok()?) as usize;
        // Without the nested and byte-order flags.
        let kind = u16::from_ne_bytes(buf.get(2..4)?.try_into().ok()?) & 0x3fff;
        let value = buf.get(4..len)?;
        buf = buf.get((len + 3) & !3..).unwrap_or_default();
        Some((kind, value))
    })
}

/// The links of a bridge-family dump ([`Dump::Bridged`]) as a link dump gives them: there a
/// bridge is its own master, and a bridge that is also a port comes twice (as a port first).
fn bridged(links: Vec<Link>) -> Vec<Link> {
    let mut seen = std::collections::HashSet::new();
    links
        .into_iter()
        .filter(|l| seen.insert(l.index))
        .map(|l| if l.master == Some(l.index) { Link { master: None, ..l } } else { l })
        .collect()
}

/// The type of the netlink message whose bytes (header included) are `m`.
fn nl_type(m: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(m.get(4..6)?.try_into().ok()?))
}

/// A string attribute's value, up to its terminating NUL.
fn nl_text(v: &[u8]) -> String {
    String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or_default()).into_owned()
}

/// A link from an RTM_NEWLINK message's bytes (netlink header included).
fn link_of_bytes(m: &[u8]) -> Option<Link> {
    const RTM_NEWLINK: u16 = 16;
    const IFLA_ADDRESS: u16 = 1;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MTU: u16 = 4;
    const IFLA_MASTER: u16 = 10;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_IFALIAS: u16 = 20;
    const IFLA_GROUP: u16 = 27;
    const IFLA_INFO_KIND: u16 = 1;
    if nl_type(m)? != RTM_NEWLINK {
        return None;
    }
    // struct ifinfomsg after the 16-byte header: family, pad, type (u16), index, flags, change.
    let u32_at = |b: &[u8], at: usize| b.get(at..at + 4).map(|x| u32::from_ne_bytes(x.try_into().expect("4 bytes")));
    let mut link = Link { index: u32_at(m, 20)?, up: u32_at(m, 24)? & libc::IFF_UP as u32 != 0, ..Link::default() };
    for (kind, v) in nl_attrs(m.get(32..)?) {
        match kind {
            IFLA_ADDRESS => link.mac = v.try_into().ok(),
            IFLA_IFNAME => link.name = nl_text(v),
            IFLA_MTU => link.mtu = u32_at(v, 0),
            IFLA_MASTER => link.master = u32_at(v, 0),
            IFLA_IFALIAS => link.alias = Some(nl_text(v)),
            IFLA_GROUP => link.group = u32_at(v, 0),
            IFLA_LINKINFO => link.kind = nl_attrs(v).find(|(k, _)| *k == IFLA_INFO_KIND).map(|(_, v)| nl_text(v)),
            _ => {}
        }
    }
    Some(link)
}

/// An address from an RTM_NEWADDR message's bytes (netlink header included): its local
/// address (a point-to-point link's peer address is IFA_ADDRESS), else IFA_ADDRESS, as
/// [`addrs_of`] reads it.
fn addr_of_bytes(m: &[u8]) -> Option<Addr> {
    const RTM_NEWADDR: u16 = 20;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    if nl_type(m)? != RTM_NEWADDR {
        return None;
    }
    // struct ifaddrmsg after the 16-byte header: family, prefix length, flags, scope, index.
    let prefix = *m.get(17)?;
    let index = u32::from_ne_bytes(m.get(20..24)?.try_into().ok()?);
    let ip = |v: &[u8]| -> Option<IpAddr> {
        match v.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(v).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(v).ok()?)),
            _ => None,
        }
    };
    let (mut local, mut address, mut label) = (None, None, None);
    for (kind, v) in nl_attrs(m.get(24..)?) {
        match kind {
            IFA_LOCAL => local = ip(v),
            IFA_ADDRESS => address = ip(v),
            IFA_LABEL => label = Some(nl_text(v)),
            _ => {}
        }
    }
    let net = IpNet::new(local.or(address)?, prefix).ok()?;
    Some(Addr { index, net, label })
}

fn link_of(l: LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        alias: None,
        kind: None,
        master: None,
        mac: None,
        mtu: None,
        group: None,
        up: l.header.flags.contains(LinkFlags::Up),
    };
    for a in l.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::IfAlias(a) => link.alias = Some(a),
            LinkAttribute::Controller(m) => link.master = Some(m),
            LinkAttribute::Mtu(m) => link.mtu = Some(m),
            LinkAttribute::Group(g) => link.group = Some(g),
            LinkAttribute::Address(mac) if mac.len() == 6 => link.mac = Some(mac.try_into().expect("6 bytes")),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(m: RouteNetlinkMessage) -> Vec<u8> {
        let mut msg = NetlinkMessage::from(m);
        msg.finalize();
        let mut buf = vec![0u8; msg.header.length as usize];
        msg.serialize(&mut buf);
        buf
    }

    /// The lean reading of an address's bytes agrees with netlink-packet-route's full parse:
    /// the local address before the peer's, the label, the prefix, IPv4 and IPv6.
    #[test]
    fn addr_of_bytes_reads_what_addrs_of_reads() {
        let msg = |family, prefix, attributes| {
            let mut a = AddressMessage::default();
            a.header.family = family;
            a.header.prefix_len = prefix;
            a.header.index = 7;
            a.attributes = attributes;
            RouteNetlinkMessage::NewAddress(a)
        };
        let v4: IpAddr = "10.0.0.1".parse().expect("ip");
        let peer: IpAddr = "10.0.0.2".parse().expect("ip");
        let v6: IpAddr = "fd00::1".parse().expect("ip");
        let cases = [
            msg(
                AddressFamily::Inet,
                24,
                vec![
                    AddressAttribute::Address(peer),
                    AddressAttribute::Local(v4),
                    AddressAttribute::Label("eth1".into()),
                ],
            ),
            msg(AddressFamily::Inet6, 64, vec![AddressAttribute::Address(v6)]),
        ];
        for m in cases {
            let lean = addr_of_bytes(&bytes_of(m.clone())).expect("an address");
            assert_eq!(Some(&lean), addrs_of(vec![m]).first());
        }
        let lean = addr_of_bytes(&bytes_of(msg(AddressFamily::Inet, 24, vec![AddressAttribute::Local(v4)])));
        assert_eq!(lean.map(|a| (a.index, a.net.to_string())), Some((7, "10.0.0.1/24".to_string())));
    }

    /// A bridge-family dump read as a link dump: a bridge (its own master there) has none,
    /// a port keeps its bridge, and a bridge that is also a port is listed once, as a port.
    #[test]
    fn bridged_reads_bridges_as_link_dumps_give_them() {
        let link = |index, name: &str, master| Link { index, name: name.into(), master, ..Link::default() };
        let dump =
            vec![link(2, "br0", Some(2)), link(3, "ve0", Some(2)), link(4, "br1", Some(2)), link(4, "br1", Some(4))];
        let got: Vec<_> = bridged(dump).into_iter().map(|l| (l.index, l.master)).collect();
        assert_eq!(got, vec![(2, None), (3, Some(2)), (4, Some(2))]);
    }

    /// The lean reading of a link's bytes agrees with netlink-packet-route's full parse.
    #[test]
    fn link_of_bytes_reads_what_link_of_reads() {
        let mut l = LinkMessage::default();
        l.header.index = 42;
        l.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        l.attributes = vec![
            LinkAttribute::Mtu(1400),
            LinkAttribute::IfName("vnx-br-net0".into()),
            LinkAttribute::Address(vec![2, 0xfd, 0, 0, 0, 7]),
            LinkAttribute::Controller(9),
            LinkAttribute::IfAlias("vnx:lab/net0".into()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::HelloTime(200)])),
            ]),
            LinkAttribute::TxQueueLen(1000),
            LinkAttribute::Group(0x5678),
        ];
        let bytes = bytes_of(RouteNetlinkMessage::NewLink(l.clone()));
        let lean = link_of_bytes(&bytes).expect("a link");
        assert_eq!(lean, link_of(l));
        assert_eq!(lean.name, "vnx-br-net0");
        assert_eq!((lean.index, lean.up, lean.mtu, lean.master), (42, true, Some(1400), Some(9)));
        assert_eq!(lean.kind.as_deref(), Some("bridge"));
        assert_eq!(lean.group, Some(0x5678));
        // A link down, without the optional attributes.
        let mut down = LinkMessage::default();
        down.header.index = 3;
        down.attributes = vec![LinkAttribute::IfName("eth1".into())];
        let lean = link_of_bytes(&bytes_of(RouteNetlinkMessage::NewLink(down.clone()))).expect("a link");
        assert_eq!(lean, link_of(down));
        assert!(!lean.up && lean.kind.is_none() && lean.master.is_none());
        // Not a link: skipped.
        assert!(link_of_bytes(&bytes_of(RouteNetlinkMessage::NewAddress(AddressMessage::default()))).is_none());
    }

    #[test]
    fn nl_attrs_stops_at_a_truncated_attribute() {
        // Two attributes, the second claiming more bytes than there are.
        let buf = [8u8, 0, 3, 0, b'a', b'b', 0, 0, 12, 0, 4, 0, 1, 2];
        let got: Vec<(u16, &[u8])> = nl_attrs(&buf).collect();
        assert_eq!(got, vec![(3, &b"ab\0\0"[..])]);
    }
}
