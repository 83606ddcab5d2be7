//! Semantic checks of a scenario that reads cleanly: names, references, addresses, routes,
//! sequences, and the rules of VNX's CheckSemantics that still make sense. Each finding is a
//! located [`Diag`] that says how to fix it.
//!
//! What this does not decide: whether a node type or net mode can run on this host. That is
//! the planner's business ("not supported yet", with the span), since it depends on the
//! providers present.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::diag::{did_you_mean, Diag};
use super::linkcond;
use super::model::*;
use super::span::{Span, Spanned};
use super::values::*;

/// Where relative paths of a scenario resolve.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The folder of the scenario file.
    pub dir: Option<PathBuf>,
}

impl Context {
    /// Relative paths resolve beside the file; a cluster host's agent, which writes the
    /// fragment of a scenario elsewhere, says where the scenario was (`VNX_SCENARIO_DIR`).
    pub fn for_file(path: &Path) -> Self {
        if let Some(d) = std::env::var_os("VNX_SCENARIO_DIR").filter(|d| !d.is_empty()) {
            return Context { dir: Some(PathBuf::from(d)) };
        }
        let dir = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
        Context { dir: dir.map(Path::to_path_buf) }
    }
}

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Whether `name` can be a Linux interface name; the reason when not.
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Err(format!("`{name}` has {} characters; Linux interface names have at most {IFNAME_MAX}", name.len()));
    }
    if name == "." || name == ".." || name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        return Err(format!("`{name}` cannot be a Linux interface name (no `/`, `:` or spaces)"));
    }
    Ok(())
}

/// A name of a scenario, node, net or sequence: one grammar for every name that becomes part of
/// a path or a kernel name ([`vnx_providers::names`], which says why).
fn check_name(what: &str, name: &Spanned<String>, out: &mut Vec<Diag>) {
    if let Err(p) = vnx_providers::names::check(&name.value) {
        out.push(
            Diag::error("vnx::bad-name", format!("the {what} name `{}` {p}", name.value))
                .at(name.span, "this name")
                .help(format!("a name is {}", vnx_providers::names::GRAMMAR)),
        );
    }
}

fn duplicates<'a>(what: &str, items: impl Iterator<Item = &'a Spanned<String>>, out: &mut Vec<Diag>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for n in items {
        if let Some(first) = seen.get(n.value.as_str()) {
            out.push(
                Diag::error("vnx::duplicate-name", format!("two {what}s are named `{}`", n.value))
                    .at(n.span, "second definition")
                    .at(*first, "first definition")
                    .help(format!("rename one of them: {what} names are unique in a scenario")),
            );
        } else {
            seen.insert(&n.value, n.span);
        }
    }
}

/// Checks a scenario. Returns errors and warnings; an empty list means it is sound.
pub fn scenario(s: &Scenario, cx: &Context) -> Vec<Diag> {
    let mut out = Vec::new();
    check_name("scenario", &s.name, &mut out);
    let v = s.version.value.as_str();
    if !(v == "2.0" || v.starts_with("2.0.")) {
        out.push(
            Diag::error("vnx::version", format!("version `{v}` is not supported"))
                .at(s.version.span, "this version")
                .help("vnx reads the VNX 2.0 language: write <version>2.0</version>"),
        );
    }
    for n in &s.nets {
        check_name("net", &n.name, &mut out);
        if let Some(vx) = &n.vxlan {
            for a in std::iter::once(&vx.local).chain(&vx.peers) {
                if a.parse::<std::net::IpAddr>().is_err() {
                    out.push(
                        Diag::error("vnx::bad-value", format!("net `{}`: vxlan address `{a}` is not an IP address", n.name.value))
                            .at(vx.span, "this segment")
                            .help("vxlan is written by vnx into a cluster host's part of a lab; its local and peers are underlay IP addresses"),
                    );
                }
            }
            if vx.vni == 0 || vx.vni >= 1 << 24 {
                out.push(
                    Diag::error(
                        "vnx::bad-value",
                        format!("net `{}`: VNI {} is outside 1–16777215", n.name.value, vx.vni),
                    )
                    .at(vx.span, "this segment"),
                );
            }
        }
    }
    for n in &s.nodes {
        check_name("node", &n.name, &mut out);
        if let Some(h) = &n.host {
            check_name("host", h, &mut out);
        }
    }
    duplicates("net", s.nets.iter().map(|n| &n.name), &mut out);
    duplicates("node", s.nodes.iter().map(|n| &n.name), &mut out);
    automac(s, &mut out);
    mgmt(s, &mut out);
    let ms = members(s);
    for net in &s.nets {
        net_rules(s, net, ms.get(net.name.value.as_str()).map_or(0, Vec::len), &mut out);
    }
    let mut orders: HashMap<u32, Span> = HashMap::new();
    let net_names: HashSet<&str> = s.nets.iter().map(|n| n.name.value.as_str()).collect();
    for node in &s.nodes {
        node_rules(s, &net_names, node, cx, &mut out);
        if let Some(o) = &node.order {
            if let Some(first) = orders.insert(o.value, o.span) {
                out.push(
                    Diag::error("vnx::duplicate-order", format!("two nodes have order {}", o.value))
                        .at(o.span, "second")
                        .at(first, "first")
                        .help("give each node its own `order` (VNX silently dropped one of them)"),
                );
            }
        }
    }
    if let Some(h) = &s.host {
        host_rules(s, h, &mut out);
    }
    shared_addresses(s, &mut out);
    gateways_forward(s, &mut out);
    sequences(s, &mut out);
    out
}

/// The classic student mistake: a node used as another's gateway that does not forward that
/// family (no `<forwarding>`): the route is there, and nothing passes. A warning naming both.
fn gateways_forward(s: &Scenario, out: &mut Vec<Diag>) {
    let mut owner: HashMap<IpAddr, &Node> = HashMap::new();
    for n in &s.nodes {
        for i in &n.interfaces {
            for a in i.ipv4.iter().filter_map(|a| a.net()) {
                owner.insert(IpAddr::V4(a.addr()), n);
            }
            for a in i.ipv6.iter().filter_map(|a| a.net()) {
                owner.insert(IpAddr::V6(a.addr()), n);
            }
        }
    }
    for n in &s.nodes {
        for r in &n.routes {
            // Dynamips routers (Cisco IOS) forward by themselves.
            let Some(gw) =
                owner.get(&r.gw.value).filter(|g| g.name.value != n.name.value && g.node_type.value != "dynamips")
            else {
                continue;
            };
            let forwards =
                gw.forwarding
                    .as_ref()
                    .is_some_and(|f| if r.gw.value.is_ipv4() { f.value.ipv4() } else { f.value.ipv6() });
            if !forwards {
                let fam = if r.gw.value.is_ipv4() { "IPv4" } else { "IPv6" };
                out.push(
                    Diag::warning(
                        "vnx::gateway-forwarding",
                        format!(
                            "node `{}` routes through `{}` ({}), which does not forward {fam}: nothing will pass",
                            n.name.value, gw.name.value, r.gw.value
                        ),
                    )
                    .at(r.gw.span, "this gateway")
                    .help(format!(
                        "add <forwarding type=\"ip\"/> to node `{}` (YAML: `forwarding: ip`)",
                        gw.name.value
                    )),
                );
            }
        }
    }
}

fn automac(s: &Scenario, out: &mut Vec<Diag>) {
    let Some(a) = &s.automac else { return };
    if let Some(off) = &a.offset {
        if off.value > 0xffff {
            out.push(
                Diag::error("vnx::automac", format!("automac offset {} does not fit two MAC bytes", off.value))
                    .at(off.span, "at most 65535")
                    .help("use an offset from 0 to 65535"),
            );
        }
    }
    if s.nodes.len() > 256 {
        out.push(
            Diag::error(
                "vnx::automac",
                format!("automac numbers nodes in one MAC byte, and there are {} nodes", s.nodes.len()),
            )
            .at(a.span, "automac is on")
            .help("remove <automac/> and give MACs explicitly, or split the lab (at most 256 nodes with automac)"),
        );
    }
    for node in &s.nodes {
        for i in &node.interfaces {
            if i.id.value > 255 {
                out.push(
                    Diag::error(
                        "vnx::automac",
                        format!("interface id {} does not fit the MAC byte automac gives it", i.id.value),
                    )
                    .at(i.id.span, "at most 255 with automac")
                    .help("use interface ids from 0 to 255"),
                );
            }
        }
    }
}

fn mgmt(s: &Scenario, out: &mut Vec<Diag>) {
    let Some(m) = &s.mgmt else { return };
    let kind = m.kind.value;
    if kind == MgmtType::None {
        if m.host_mapping {
            out.push(
                Diag::error("vnx::mgmt", "<host_mapping/> needs a management network")
                    .at(m.span, "type is none")
                    .help("remove <host_mapping/> or set type=\"private\" or \"net\""),
            );
        }
        return;
    }
    let mask = m.mask.as_ref().map_or(24, |v| v.value);
    if let Some(mk) = &m.mask {
        if !(8..=30).contains(&mk.value) {
            out.push(
                Diag::error("vnx::mgmt", format!("management mask /{} is out of range", mk.value))
                    .at(mk.span, "from 8 to 30")
                    .help("write a prefix length from 8 to 30"),
            );
        }
    }
    if let Some(off) = &m.offset {
        let room = (1u64 << (32 - mask.clamp(8, 30) as u32)).saturating_sub(3);
        if off.value as u64 > room {
            out.push(
                Diag::error("vnx::mgmt", format!("management offset {} leaves no room in a /{mask}", off.value))
                    .at(off.span, format!("at most {room}"))
                    .help("lower the offset or widen the mask"),
            );
        }
        if kind == MgmtType::Private && off.value % 4 != 0 {
            out.push(
                Diag::error("vnx::mgmt", format!("management offset {} is not a multiple of 4", off.value))
                    .at(off.span, "private management uses /30 blocks")
                    .help(format!("use {} or {}", off.value / 4 * 4, off.value / 4 * 4 + 4)),
            );
        }
    }
    match (kind, &m.mgmt_net) {
        (MgmtType::Net, None) => out.push(
            Diag::error("vnx::mgmt", "type=\"net\" management needs <mgmt_net net=\"...\"/>")
                .at(m.kind.span, "no <mgmt_net>")
                .help("add <mgmt_net net=\"BRIDGE\"/> inside <vm_mgmt>"),
        ),
        (MgmtType::Private, Some(n)) => out.push(
            Diag::error("vnx::mgmt", "<mgmt_net> is only for type=\"net\"")
                .at(n.span, "not used with private management")
                .help("remove <mgmt_net> or set type=\"net\""),
        ),
        (MgmtType::Net, Some(n)) => {
            if n.config == Some(MgmtConfig::Dhcp) && m.host_mapping {
                out.push(
                    Diag::error("vnx::mgmt", "<host_mapping/> cannot work with DHCP management addresses")
                        .at(n.span, "config=\"dhcp\"")
                        .help("use config=\"manual\" or remove <host_mapping/>"),
                );
            }
            match &n.net {
                None => out.push(
                    Diag::error("vnx::mgmt", "<mgmt_net> needs the `net` attribute")
                        .at(n.span, "which bridge?")
                        .help("write <mgmt_net net=\"BRIDGE\"/>"),
                ),
                Some(b) => {
                    if let Err(e) = check_ifname(&b.value) {
                        out.push(
                            Diag::error("vnx::ifname", format!("management bridge: {e}"))
                                .at(b.span, "too long for Linux")
                                .help("choose a bridge name of at most 15 characters"),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

fn linkconds(
    bw: &Option<Spanned<String>>,
    delay: &Option<Spanned<String>>,
    loss: &Option<Spanned<String>>,
    out: &mut Vec<Diag>,
) {
    let checks: [(&Option<Spanned<String>>, fn(&str) -> Result<(), String>, &str); 3] = [
        (bw, |s| linkcond::parse_bw(s).map(|_| ()), "bw"),
        (delay, |s| linkcond::parse_delay(s).map(|_| ()), "delay"),
        (loss, |s| linkcond::parse_loss(s).map(|_| ()), "loss"),
    ];
    for (v, parse, what) in checks {
        if let Some(v) = v {
            if let Err(e) = parse(&v.value) {
                out.push(
                    Diag::error("vnx::link-condition", format!("bad `{what}`: {e}"))
                        .at(v.span, "this value")
                        .help("see the README's section on link conditions"),
                );
            }
        }
    }
}

/// The interfaces (node, interface) on each net.
fn members(s: &Scenario) -> HashMap<&str, Vec<(&Node, &Interface)>> {
    let mut m: HashMap<&str, Vec<(&Node, &Interface)>> = HashMap::new();
    for n in &s.nodes {
        for i in &n.interfaces {
            m.entry(i.net.value.as_str()).or_default().push((n, i));
        }
    }
    m
}

const OF_VERSIONS: &[&str] =
    &["OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15", "OpenFlow16"];

/// `count`: how many interfaces are on the net.
fn net_rules(s: &Scenario, net: &Net, count: usize, out: &mut Vec<Diag>) {
    let name = net.name.value.as_str();
    if name == "lo" || name.ends_with("_Mgmt") || RESERVED_IF_NETS.contains(&name) {
        out.push(
            Diag::error("vnx::reserved-name", format!("`{name}` is a reserved net name"))
                .at(net.name.span, "reserved")
                .help("rename the net (`lo`, `vm_mgmt`, `unconnected` and names ending in _Mgmt are reserved)"),
        );
    }
    let mode = net.mode.value;
    let ovs_only: [(&str, Option<Span>); 4] = [
        ("controller", net.controller.as_ref().map(|v| v.span)),
        ("of_version", net.of_version.as_ref().map(|v| v.span)),
        ("hwaddr", net.hwaddr.as_ref().map(|v| v.span)),
        ("fail_mode", net.fail_mode.as_ref().map(|v| v.span)),
    ];
    for (attr, span) in ovs_only {
        if let (Some(span), false) = (span, mode == NetMode::Openvswitch) {
            out.push(
                Diag::error("vnx::net-attribute", format!("`{attr}` is only for openvswitch nets"))
                    .at(span, format!("net `{name}` is {mode}"))
                    .help(format!("remove `{attr}` or set mode=\"openvswitch\"")),
            );
        }
    }
    if let Some(v) = &net.of_version {
        if !OF_VERSIONS.contains(&v.value.as_str()) {
            out.push(
                Diag::error("vnx::net-attribute", format!("`{}` is not an OpenFlow version", v.value))
                    .at(v.span, "unknown version")
                    .help(format!("write one of {}", OF_VERSIONS.join(", "))),
            );
        }
    }
    if let Some(c) = &net.controller {
        for ctl in c.value.split(',') {
            let ok = ctl
                .trim()
                .strip_prefix("tcp:")
                .and_then(|r| r.rsplit_once(':'))
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                out.push(
                    Diag::error("vnx::net-attribute", format!("`{}` is not a controller address", ctl.trim()))
                        .at(c.span, "write tcp:HOST:PORT")
                        .help("controllers are written tcp:HOST:PORT, separated by commas"),
                );
            }
        }
    }
    // VNX captured only on uml_switch nets; vnx captures on a Linux bridge as well (tcpdump on
    // the bridge), which needs no device of its own: capture_dev stays uml_switch's.
    let capture = [&net.capture_file, &net.capture_expression];
    for c in capture.into_iter().flatten() {
        if !matches!(mode, NetMode::UmlSwitch | NetMode::VirtualBridge) {
            out.push(
                Diag::error("vnx::net-attribute", "capture attributes are for nets with a bridge (virtual_bridge)")
                    .at(c.span, format!("net `{name}` is {mode}"))
                    .help("capture on one end of the link instead: vnx exec LAB -M NODE -- tcpdump -i ethN -w FILE"),
            );
        }
    }
    if let Some(d) = net.capture_dev.as_ref().filter(|_| mode != NetMode::UmlSwitch) {
        out.push(
            Diag::error("vnx::net-attribute", "capture_dev is for uml_switch nets")
                .at(d.span, format!("net `{name}` is {mode}"))
                .help("capture_file captures on the net's bridge; `vnx capture LAB NET` watches it live"),
        );
    }
    if let (Some(e), None) = (&net.capture_expression, &net.capture_file) {
        out.push(
            Diag::error("vnx::net-attribute", "capture_expression needs capture_file")
                .at(e.span, "where to?")
                .help("add capture_file=\"PATH\""),
        );
    }
    if let Some(v) = &net.vlan {
        if !(1..=4094).contains(&v.value) {
            out.push(
                Diag::error("vnx::vlan", format!("VLAN id {} is out of range", v.value))
                    .at(v.span, "1 to 4094")
                    .help("VLAN ids go from 1 to 4094"),
            );
        }
    }
    if let Some(m) = &net.mtu {
        if m.value < 68 {
            out.push(
                Diag::error("vnx::mtu", format!("MTU {} is below the minimum of 68", m.value))
                    .at(m.span, "too small")
                    .help("Linux needs an MTU of at least 68 (1280 for IPv6)"),
            );
        }
    }
    if let Some(ext) = &net.external {
        let base = ext.value.split('.').next().unwrap_or("");
        let full = match &net.vlan {
            Some(v) => format!("{base}.{}", v.value),
            None => ext.value.clone(),
        };
        if let Err(e) = check_ifname(&full) {
            out.push(
                Diag::error("vnx::ifname", format!("external interface: {e}"))
                    .at(ext.span, "not a Linux interface name")
                    .help("name the host NIC as `ip link` shows it"),
            );
        }
    }
    if net.managed == Some(false) {
        if let Err(e) = check_ifname(name) {
            out.push(
                Diag::error("vnx::ifname", format!("an unmanaged net names an existing bridge: {e}"))
                    .at(net.name.span, "not a Linux bridge name")
                    .help("name the bridge as `ip link` shows it"),
            );
        }
    }
    linkconds(&net.bw, &net.delay, &net.loss, out);
    // Point-to-point nets.
    let kind = net.kind.as_ref().map(|k| k.value).unwrap_or(NetType::Lan);
    if mode == NetMode::Veth && kind != NetType::P2p {
        out.push(
            Diag::error("vnx::p2p", format!("veth net `{name}` must be type=\"p2p\""))
                .at(net.mode.span, "a veth pair links exactly two interfaces")
                .help("add type=\"p2p\" or use mode=\"virtual_bridge\""),
        );
    }
    if kind == NetType::P2p && mode != NetMode::Veth {
        out.push(
            Diag::error("vnx::p2p", format!("p2p net `{name}` must be mode=\"veth\""))
                .at(net.kind.as_ref().map_or(net.span, |k| k.span), "p2p")
                .help("set mode=\"veth\" or remove type=\"p2p\""),
        );
    }
    if matches!(kind, NetType::P2p | NetType::Ppp) && count != 2 {
        out.push(
            Diag::error("vnx::p2p", format!("{kind} net `{name}` has {count} interfaces on it, not 2"))
                .at(net.name.span, "a point-to-point net links exactly two interfaces")
                .help("attach exactly two interfaces, or make it a lan"),
        );
    }
    if net.ppp_bw.is_some() && kind == NetType::Lan {
        out.push(
            Diag::error("vnx::net-attribute", "<bw> is only for ppp nets")
                .at(net.ppp_bw.as_ref().map_or(net.span, |b| b.span), "this net is a lan")
                .help("use the `bw` attribute for a lan's bandwidth"),
        );
    }
    let mut conn_names = HashSet::new();
    for c in &net.connections {
        if !conn_names.insert(c.name.value.as_str()) {
            out.push(
                Diag::error("vnx::connection", format!("two connections are named `{}`", c.name.value))
                    .at(c.name.span, "again")
                    .help("give each connection its own name"),
            );
        }
        if let Err(e) = check_ifname(&format!("{}-0", c.name.value)) {
            out.push(
                Diag::error("vnx::ifname", format!("connection `{}`: {e}", c.name.value))
                    .at(c.name.span, "the ends are NAME-0 and NAME-1")
                    .help("use a connection name of at most 13 characters"),
            );
        }
        let kind = c.kind.unwrap_or(ConnectionType::Veth);
        if kind != ConnectionType::Veth && mode != NetMode::Openvswitch {
            out.push(
                Diag::error("vnx::connection", format!("a {kind} connection needs an openvswitch net"))
                    .at(c.span, "here")
                    .help("use type=\"veth\" on a virtual_bridge net"),
            );
        }
        match &c.net {
            Some(peer) if s.net(&peer.value).is_none() => out.push(unknown_net(s, peer)),
            Some(peer) if peer.value == name && kind != ConnectionType::Vxlan => out.push(
                Diag::error("vnx::connection", "a connection from a net to itself")
                    .at(peer.span, "same net")
                    .help("connect to another net"),
            ),
            None if kind != ConnectionType::Vxlan => out.push(
                Diag::error("vnx::connection", "the connection names no peer net")
                    .at(c.span, "needs net=\"...\"")
                    .help("add net=\"OTHER_NET\""),
            ),
            _ => {}
        }
    }
}

fn unknown_net(s: &Scenario, r: &Spanned<String>) -> Diag {
    let d = Diag::error("vnx::unknown-net", format!("there is no net named `{}`", r.value)).at(r.span, "unknown net");
    match did_you_mean(&r.value, s.nets.iter().map(|n| n.name.value.as_str())) {
        Some(m) => d.help(format!("did you mean `{m}`?")),
        None if s.nets.is_empty() => d.help("define it with <net name=\"...\" mode=\"virtual_bridge\"/>"),
        None => d.help(format!(
            "define it with <net>, or use one of: {}",
            s.nets.iter().map(|n| n.name.value.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Whether a node runs as vnx's `ns` node, where `<if name>` is the name inside it.
fn uses_if_names(node: &Node) -> bool {
    node.node_type.value == "ns" || node.provider.as_ref().is_some_and(|p| p.value == "ns")
}

/// `nets`: the names of the scenario's nets.
fn node_rules(s: &Scenario, nets: &HashSet<&str>, node: &Node, cx: &Context, out: &mut Vec<Diag>) {
    let ty = node.node_type.value.as_str();
    if ty == "libvirt" {
        for (attr, v) in [("subtype", &node.subtype), ("os", &node.os)] {
            if v.is_none() {
                out.push(
                    Diag::error("vnx::libvirt", format!("a libvirt node needs `{attr}`"))
                        .at(node.node_type.span, format!("{attr} is missing"))
                        .help(if attr == "os" {
                            "add os=\"linux\" (or freebsd, windows, ...)"
                        } else {
                            "add subtype=\"kvm\""
                        }),
                );
            }
        }
    }
    if let Some(a) = &node.arch {
        if !matches!(a.value.as_str(), "i686" | "x86_64") {
            out.push(
                Diag::error("vnx::arch", format!("arch `{}` is not i686 or x86_64", a.value))
                    .at(a.span, "unknown arch")
                    .help("write arch=\"x86_64\" or arch=\"i686\""),
            );
        }
    }
    if let Some(v) = &node.vcpu {
        if v.value == 0 {
            out.push(
                Diag::error("vnx::vcpu", "a node needs at least one vcpu")
                    .at(v.span, "0")
                    .help("write vcpu=\"1\" or more"),
            );
        }
    }
    // Interfaces.
    let mut ids: HashMap<(bool, u32), Span> = HashMap::new();
    for i in &node.interfaces {
        let is_lo = i.net.value == "lo";
        if let Some(first) = ids.insert((is_lo, i.id.value), i.id.span) {
            out.push(
                Diag::error(
                    "vnx::duplicate-interface",
                    format!("node `{}` has two interfaces with id {}", node.name.value, i.id.value),
                )
                .at(i.id.span, "second")
                .at(first, "first")
                .help("give each interface of a node its own id"),
            );
        }
        if !RESERVED_IF_NETS.contains(&i.net.value.as_str()) && !nets.contains(i.net.value.as_str()) {
            out.push(unknown_net(s, &i.net));
        }
        if let (true, Some(m)) = (is_lo, &i.mac) {
            out.push(
                Diag::error("vnx::mac", "the loopback interface has no MAC address")
                    .at(m.span, "on net lo")
                    .help("remove <mac> from this interface"),
            );
        }
        if let Some(n) = &i.name {
            if uses_if_names(node) {
                if let Err(e) = check_ifname(&n.value) {
                    out.push(
                        Diag::error("vnx::ifname", e)
                            .at(n.span, "the interface's name in the node")
                            .help("use a Linux interface name of at most 15 characters, without `/`"),
                    );
                }
            }
        }
        linkconds(&i.bw, &i.delay, &i.loss, out);
        address_rules(
            i.ipv4
                .iter()
                .map(|a| (a.net().map(IpNet::V4), a.span))
                .chain(i.ipv6.iter().map(|a| (a.net().map(IpNet::V6), a.span))),
            out,
        );
        if let Some(v) = &i.vlan {
            for t in &v.tags {
                if !(1..=4094).contains(&t.value) {
                    out.push(
                        Diag::error("vnx::vlan", format!("VLAN tag {} is out of range", t.value))
                            .at(t.span, "1 to 4094")
                            .help("VLAN ids go from 1 to 4094"),
                    );
                }
            }
        }
    }
    overlapping_subnets(node, out);
    // Routes.
    let subnets: Vec<IpNet> = node_subnets(node);
    let has_dhcp = node
        .interfaces
        .iter()
        .any(|i| i.ipv4.iter().any(|a| a.net().is_none()) || i.ipv6.iter().any(|a| a.net().is_none()));
    for r in &node.routes {
        route_rule(r, &subnets, has_dhcp, &format!("node `{}`", node.name.value), out);
    }
    // Consoles.
    let mut cids = HashSet::new();
    for c in &node.consoles {
        if !cids.insert(c.id.value) {
            out.push(
                Diag::error("vnx::console", format!("two consoles with id {}", c.id.value))
                    .at(c.id.span, "again")
                    .help("give each console its own id"),
            );
        }
    }
    // Files and commands.
    let basedir = node.basedir.as_ref().or(s.defaults.as_ref().and_then(|d| d.basedir.as_ref()));
    for f in &node.filetrees {
        if !is_absolute_in(node, &f.root.value) {
            out.push(
                Diag::error("vnx::filetree", format!("filetree root `{}` is not an absolute path", f.root.value))
                    .at(f.root.span, "where in the node")
                    .help("write an absolute path such as /var/www/ (a trailing / means a directory)"),
            );
        }
        for (what, v) in [("user", &f.user), ("group", &f.group)] {
            if let Some(v) = v {
                if v.value.is_empty() || !v.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    out.push(
                        Diag::error("vnx::filetree", format!("`{}` is not a {what} name", v.value))
                            .at(v.span, "here")
                            .help("user and group names are letters, digits, `_` and `-`"),
                    );
                }
            }
        }
        if let Some(p) = &f.perms {
            if !(p.value.len() <= 4 && !p.value.is_empty() && p.value.chars().all(|c| ('0'..='7').contains(&c))) {
                out.push(
                    Diag::error("vnx::filetree", format!("`{}` is not an octal mode", p.value))
                        .at(p.span, "here")
                        .help("write permissions in octal, such as 644 or 0755"),
                );
            }
        }
        if resolve_source(&f.source.value, basedir.map(|b| b.value.as_str()), cx).is_none() {
            out.push(Diag::warning("vnx::filetree-source", format!("`{}` does not exist (yet)", f.source.value))
                .at(f.source.span, "no such file or directory")
                .help("the sequence that copies it will fail unless the file is there when it runs; paths are relative to the scenario's folder (or <basedir>)"));
        }
    }
    for d in &node.shared_dirs {
        if !d.root.value.starts_with('/') {
            out.push(
                Diag::error("vnx::shareddir", format!("shareddir root `{}` is not absolute", d.root.value))
                    .at(d.root.span, "here")
                    .help("write an absolute path in the node, such as /shared"),
            );
        }
    }
    let allowed_ostypes: Option<&[&str]> = match (ty, node.os.as_ref().map(|o| o.value.as_str())) {
        ("libvirt", Some("windows")) => Some(&["cmd", "system", "exec"]),
        ("libvirt", Some("olive")) => Some(&["show", "set", "load", "system"]),
        ("libvirt", _) => Some(&["system", "exec", "xsystem", "xexec"]),
        ("dynamips", _) => Some(&["show", "set", "load"]),
        ("uml", _) => Some(&["system"]),
        _ => None,
    };
    for e in &node.execs {
        if let (Some(allowed), Some(o)) = (allowed_ostypes, &e.ostype) {
            if !allowed.contains(&o.value.as_str()) {
                out.push(
                    Diag::error("vnx::ostype", format!("ostype `{}` does not apply to {ty} nodes", o.value))
                        .at(o.span, "here")
                        .help(format!("use one of: {}", allowed.join(", "))),
                );
            }
        }
    }
}

/// Whether `path` is absolute in the node's own system (Windows guests write `c:\\temp`).
fn is_absolute_in(node: &Node, path: &str) -> bool {
    let windows = node.os.as_ref().is_some_and(|o| o.value == "windows");
    let b = path.as_bytes();
    path.starts_with('/')
        || (windows && b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
}

fn address_rules(addrs: impl Iterator<Item = (Option<IpNet>, Span)>, out: &mut Vec<Diag>) {
    for (net, span) in addrs {
        let Some(net) = net else { continue };
        let (is_net_addr, is_bcast) = match net {
            IpNet::V4(n) if n.prefix_len() < 31 => (n.addr() == n.network(), n.addr() == n.broadcast()),
            IpNet::V6(n) if n.prefix_len() < 127 => (n.addr() == n.network() && n.prefix_len() > 0, false),
            _ => (false, false),
        };
        if is_net_addr || is_bcast {
            let which = if is_net_addr { "network" } else { "broadcast" };
            out.push(
                Diag::error("vnx::bad-address", format!("{net} is the {which} address of its subnet"))
                    .at(span, format!("the {which} address"))
                    .help(format!("use a host address inside {}", net.trunc())),
            );
        }
        if let IpAddr::V4(a) = net.addr() {
            if a.is_multicast() || a.is_unspecified() || a.is_broadcast() {
                out.push(
                    Diag::error("vnx::bad-address", format!("{a} cannot be an interface address"))
                        .at(span, "not a host address")
                        .help("use a unicast address"),
                );
            }
        }
    }
}

fn node_subnets(node: &Node) -> Vec<IpNet> {
    node.interfaces
        .iter()
        .flat_map(|i| {
            i.ipv4
                .iter()
                .filter_map(|a| a.net().map(IpNet::V4))
                .chain(i.ipv6.iter().filter_map(|a| a.net().map(IpNet::V6)))
        })
        .collect()
}

fn overlapping_subnets(node: &Node, out: &mut Vec<Diag>) {
    let mut seen: Vec<(IpNet, &Interface, Span)> = Vec::new();
    for i in &node.interfaces {
        let addrs = i
            .ipv4
            .iter()
            .filter_map(|a| Some((IpNet::V4(a.net()?), a.span)))
            .chain(i.ipv6.iter().filter_map(|a| Some((IpNet::V6(a.net()?), a.span))));
        for (net, span) in addrs {
            for (other, oi, ospan) in &seen {
                if std::ptr::eq(*oi, i) {
                    continue;
                }
                if other.trunc().contains(&net.trunc().network()) || net.trunc().contains(&other.trunc().network()) {
                    out.push(
                        Diag::error(
                            "vnx::overlapping-subnets",
                            format!(
                                "node `{}` has overlapping subnets on two interfaces: {} (id {}) and {} (id {})",
                                node.name.value, other, oi.id.value, net, i.id.value
                            ),
                        )
                        .at(span, "overlaps")
                        .at(*ospan, "with this")
                        .help("give each interface a subnet of its own; the kernel cannot choose between them"),
                    );
                }
            }
            seen.push((net, i, span));
        }
    }
}

fn route_rule(r: &Route, subnets: &[IpNet], has_dhcp: bool, who: &str, out: &mut Vec<Diag>) {
    let fam = r.family.value;
    if family_of(&r.gw.value) != fam {
        out.push(
            Diag::error("vnx::route", format!("an {fam} route with gateway {}", r.gw.value))
                .at(r.gw.span, "wrong family")
                .help(format!("use an {fam} gateway, or type=\"{}\"", family_of(&r.gw.value))),
        );
        return;
    }
    if let Some(v4) = r.to.is_ipv4() {
        if v4 != (fam == Family::Ipv4) {
            out.push(
                Diag::error("vnx::route", format!("an {fam} route to {}", r.to.value))
                    .at(r.to.span, "wrong family")
                    .help("the destination and the route type must be of the same family"),
            );
            return;
        }
    }
    if has_dhcp {
        return; // the gateway may be on a DHCP subnet we cannot know
    }
    if !subnets.iter().any(|n| n.contains(&r.gw.value)) {
        let nets: Vec<String> = subnets
            .iter()
            .filter(|n| matches!((n, fam), (IpNet::V4(_), Family::Ipv4) | (IpNet::V6(_), Family::Ipv6)))
            .map(|n| n.trunc().to_string())
            .collect();
        out.push(
            Diag::error("vnx::unreachable-gateway", format!("gateway {} is not on any subnet of {who}", r.gw.value))
                .at(r.gw.span, "unreachable gateway")
                .help(if nets.is_empty() {
                    format!("{who} has no {fam} address; add one on the gateway's subnet")
                } else {
                    format!("the gateway must be inside one of: {}", nets.join(", "))
                }),
        );
    }
}

fn host_rules(s: &Scenario, h: &Host, out: &mut Vec<Diag>) {
    let mut subnets = Vec::new();
    for hi in &h.interfaces {
        if s.net(&hi.net.value).is_none() {
            out.push(unknown_net(s, &hi.net));
        }
        address_rules(
            hi.ipv4
                .iter()
                .map(|a| (a.net().map(IpNet::V4), a.span))
                .chain(hi.ipv6.iter().map(|a| (a.net().map(IpNet::V6), a.span))),
            out,
        );
        subnets.extend(hi.ipv4.iter().filter_map(|a| a.net().map(IpNet::V4)));
        subnets.extend(hi.ipv6.iter().filter_map(|a| a.net().map(IpNet::V6)));
    }
    for r in &h.routes {
        route_rule(r, &subnets, false, "the host", out);
    }
    let mut fams = HashSet::new();
    for p in &h.physical_interfaces {
        let fam = p.family.unwrap_or(Family::Ipv4);
        if !fams.insert((p.name.value.clone(), fam)) {
            out.push(
                Diag::error("vnx::physicalif", format!("two {fam} <physicalif> for `{}`", p.name.value))
                    .at(p.name.span, "again")
                    .help("one <physicalif> per interface and family"),
            );
        }
        let ok = match fam {
            Family::Ipv4 => p.ip.value.parse::<std::net::Ipv4Addr>().is_ok(),
            Family::Ipv6 => p.ip.value.split_once('/').is_some_and(|(a, l)| {
                a.parse::<std::net::Ipv6Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 128)
            }),
        };
        if !ok {
            out.push(
                Diag::error("vnx::physicalif", format!("`{}` is not a valid {fam} address here", p.ip.value))
                    .at(p.ip.span, "here")
                    .help(if fam == Family::Ipv6 {
                        "write the IPv6 address with its prefix, 2001:db8::1/64"
                    } else {
                        "write an IPv4 address; the mask goes in `mask`"
                    }),
            );
        }
    }
}

/// The same address twice on one net (nodes and the host together).
fn shared_addresses(s: &Scenario, out: &mut Vec<Diag>) {
    let mut all: Vec<(&str, String, IpAddr, Span)> = Vec::new();
    for n in &s.nodes {
        for i in &n.interfaces {
            for a in &i.ipv4 {
                if let Some(net) = a.net() {
                    all.push((
                        &i.net.value,
                        format!("{} (id {})", n.name.value, i.id.value),
                        IpAddr::V4(net.addr()),
                        a.span,
                    ));
                }
            }
            for a in &i.ipv6 {
                if let Some(net) = a.net() {
                    all.push((
                        &i.net.value,
                        format!("{} (id {})", n.name.value, i.id.value),
                        IpAddr::V6(net.addr()),
                        a.span,
                    ));
                }
            }
        }
    }
    if let Some(h) = &s.host {
        for hi in &h.interfaces {
            for a in &hi.ipv4 {
                if let Some(net) = a.net() {
                    all.push((&hi.net.value, "the host".into(), IpAddr::V4(net.addr()), a.span));
                }
            }
            for a in &hi.ipv6 {
                if let Some(net) = a.net() {
                    all.push((&hi.net.value, "the host".into(), IpAddr::V6(net.addr()), a.span));
                }
            }
        }
    }
    let mut seen: HashMap<(&str, IpAddr), (String, Span)> = HashMap::new();
    for (net, who, addr, span) in all {
        match seen.get(&(net, addr)) {
            Some((first, fspan)) => out.push(
                Diag::error(
                    "vnx::duplicate-address",
                    format!("{addr} is used twice on net `{net}`: by {first} and by {who}"),
                )
                .at(span, "second use")
                .at(*fspan, "first use")
                .help("give each interface on a net its own address"),
            ),
            None => {
                seen.insert((net, addr), (who, span));
            }
        }
    }
}

/// Names that a `<cmd-seq>` step may refer to: every `seq` of an exec or filetree, and every
/// cmd-seq.
pub fn defined_sequences(s: &Scenario) -> HashSet<&str> {
    let mut names: HashSet<&str> = HashSet::new();
    for n in &s.nodes {
        for e in &n.execs {
            names.extend(seq_names(&e.seq.value));
        }
        for f in &n.filetrees {
            names.extend(seq_names(&f.seq.value));
        }
    }
    if let Some(h) = &s.host {
        for e in &h.execs {
            names.extend(seq_names(&e.seq.value));
        }
    }
    for (_, c) in s.all_sequences() {
        names.insert(&c.name.value);
    }
    names
}

fn sequences(s: &Scenario, out: &mut Vec<Diag>) {
    // Sequence names follow the names' grammar too (they are typed on command lines).
    let seqs = s.nodes.iter().flat_map(|n| n.execs.iter().map(|e| &e.seq).chain(n.filetrees.iter().map(|f| &f.seq)));
    let host_seqs = s.host.iter().flat_map(|h| h.execs.iter().map(|e| &e.seq));
    for seq in seqs.chain(host_seqs) {
        for name in seq_names(&seq.value) {
            check_name("sequence", &Spanned { value: name.to_string(), span: seq.span }, out);
        }
    }
    for (_, c) in s.all_sequences() {
        check_name("sequence", &c.name, out);
    }
    let defined = defined_sequences(s);
    let mut graph: HashMap<&str, Vec<&Spanned<String>>> = HashMap::new();
    for (_, c) in s.all_sequences() {
        graph.entry(&c.name.value).or_default().extend(c.steps.iter());
        for step in &c.steps {
            if !defined.contains(step.value.as_str()) {
                // A warning, as in VNX, where such a step runs nothing; running it by name fails.
                let mut d = Diag::warning(
                    "vnx::unknown-sequence",
                    format!("sequence `{}` is defined nowhere: this step runs nothing", step.value),
                )
                .at(step.span, "unknown sequence");
                d = match did_you_mean(&step.value, defined.iter().copied()) {
                    Some(m) => d.help(format!("did you mean `{m}`?")),
                    None => d.help("a step names an <exec> or <filetree> seq, or another <cmd-seq>"),
                };
                out.push(d);
            }
        }
    }
    // Cycles: depth-first search, reporting each cycle once at the step that closes it.
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on the path, 2 = done
    fn dfs<'a>(
        n: &'a str,
        g: &HashMap<&'a str, Vec<&'a Spanned<String>>>,
        state: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
        out: &mut Vec<Diag>,
    ) {
        state.insert(n, 1);
        path.push(n);
        for step in g.get(n).into_iter().flatten() {
            match state.get(step.value.as_str()) {
                Some(1) => {
                    let from = path.iter().position(|p| *p == step.value).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[from..].to_vec();
                    cycle.push(&step.value);
                    out.push(
                        Diag::error(
                            "vnx::sequence-cycle",
                            format!("sequences call each other in a cycle: {}", cycle.join(" → ")),
                        )
                        .at(step.span, "closes the cycle")
                        .help("remove one of these steps; a sequence cannot run itself"),
                    );
                }
                None if g.contains_key(step.value.as_str()) => dfs(&step.value, g, state, path, out),
                _ => {}
            }
        }
        path.pop();
        state.insert(n, 2);
    }
    let mut names: Vec<&str> = graph.keys().copied().collect();
    names.sort();
    for n in names {
        if !state.contains_key(n) {
            dfs(n, &graph, &mut state, &mut Vec::new(), out);
        }
    }
}

/// Where a filetree source is on the host: relative paths resolve against `basedir`, else the
/// scenario's folder, then its parent (the layout of VNX's distribution, with `conf/` beside
/// the scenarios' folder). A trailing `*` (VNX globs) needs its folder to exist.
pub fn resolve_source(source: &str, basedir: Option<&str>, cx: &Context) -> Option<PathBuf> {
    let exists = |p: &Path| -> bool {
        match p.file_name().and_then(|f| f.to_str()) {
            Some(f) if f.contains('*') => p.parent().is_some_and(|d| d.is_dir()),
            _ => p.exists(),
        }
    };
    let p = Path::new(source);
    if p.is_absolute() {
        return exists(p).then(|| p.to_path_buf());
    }
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Some(b) = basedir {
        bases.push(PathBuf::from(b));
    }
    if let Some(d) = &cx.dir {
        bases.push(d.clone());
        if let Some(parent) = d.parent() {
            bases.push(if parent.as_os_str().is_empty() { PathBuf::from("..") } else { parent.to_path_buf() });
        }
    }
    bases.into_iter().map(|b| b.join(p)).find(|c| exists(c))
}

/// Checks a `<modify_vnx>` document on its own: each added node and net as in a scenario
/// (references to nets are checked when the document is applied to its scenario).
pub fn modify_doc(doc: &ModifyDoc, cx: &Context) -> Vec<Diag> {
    let mut out = Vec::new();
    let empty = Scenario::default();
    for c in &doc.changes {
        match c {
            Change::AddNode(n) => {
                check_name("node", &n.name, &mut out);
                let mut one = Vec::new();
                node_rules(&empty, &HashSet::new(), n, cx, &mut one);
                out.extend(one.into_iter().filter(|d| d.code != "vnx::unknown-net"));
            }
            Change::AddNet(n) => {
                check_name("net", &n.name, &mut out);
                net_rules(&empty, n, 0, &mut out);
                out.retain(|d| d.code != "vnx::p2p");
            }
            _ => {}
        }
    }
    out
}
