//! Scenario → the resources it asks for. Pure: no I/O but the existence check of a node's
//! root filesystem, which callers pass in as a function.
//!
//! Also the place that says what cannot run yet: node types and net modes without a provider
//! are refused here, with the place they are written.

use std::collections::{BTreeMap, HashMap};

use vnx_providers::kinds::{self, capture};

use super::resource::{kind, Attrs, Desired, ResId};
use crate::scenario::values::*;
use crate::scenario::{Diag, Node, Scenario, Span};

/// Choices that are not in the scenario.
#[derive(Clone, Debug)]
pub struct Options {
    /// Node type → provider (`lxc` → `ns`, …); `--map` on the command line.
    pub map: BTreeMap<String, String>,
    /// The host's hosts file, for `<host_mapping/>` (`VNX_HOSTS_FILE`, default /etc/hosts).
    pub hosts_file: String,
    /// Nodes the user shut down, paused or saved (`vnx shutdown` …): their run state. A node
    /// not named here is to be running.
    pub runs: BTreeMap<String, String>,
    /// Whether this vnx runs virtual machines (built with the `libvirt` feature).
    pub libvirt: bool,
    /// The scenario's plugins' configurations, one per `<extension>` in order (`None`: not
    /// read, or a plugin vnx does not run).
    pub plugins: Vec<Option<crate::scenario::plugin::Plugin>>,
}

impl Default for Options {
    fn default() -> Self {
        let map = [
            ("lxc", "ns"),
            ("nsrouter", "ns"),
            ("ns", "ns"),
            ("libvirt", "libvirt"),
            ("uml", "uml"),
            ("dynamips", "dynamips"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        Options {
            map,
            hosts_file: "/etc/hosts".into(),
            runs: BTreeMap::new(),
            libvirt: cfg!(feature = "libvirt"),
            plugins: vec![],
        }
    }
}

/// One resource of the desired state, its kind's typed attributes serialised.
pub(super) fn push<T: serde::Serialize>(
    out: &mut Vec<Desired>,
    k: &str,
    name: &str,
    provider: &str,
    attrs: &T,
    deps: Vec<ResId>,
    span: Span,
) {
    let attrs: Attrs = kinds::to_attrs(attrs);
    out.push(Desired { id: ResId::new(k, name), provider: provider.into(), attrs, deps, span });
}

/// A kernel feature a scenario may need, which a kernel may lack (cloud kernels lack netem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFeature {
    /// The netem qdisc: delay and loss.
    Netem,
    /// The tbf qdisc: bandwidth.
    Tbf,
    /// Open vSwitch's kernel datapath (the `openvswitch` module): bridges of the default
    /// (`system`) datapath type.
    OvsDatapath,
    /// 802.1Q VLANs: VLAN devices (`ethX.V`) and VLAN filtering on Linux bridges.
    Vlan,
}

impl KernelFeature {
    /// Its line in `vnx doctor`.
    pub fn doctor_line(self) -> &'static str {
        match self {
            KernelFeature::Netem => "qdisc netem",
            KernelFeature::Tbf => "qdisc tbf",
            KernelFeature::OvsDatapath => "Open vSwitch datapath",
            KernelFeature::Vlan => "802.1Q VLANs",
        }
    }
}

/// A built VM image's parts (it boots its own kernel).
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltImage {
    pub disk: String,
    pub kernel: String,
    pub initrd: String,
    pub cmdline: String,
    pub note: Option<String>,
}

/// What planning needs to know of the host: its files, and the kernel features a scenario
/// needs (asked only when it needs them: each is tried for real).
pub trait HostFs {
    /// Whether the kernel has `feature`.
    fn kernel_has(&self, _feature: KernelFeature) -> bool {
        true
    }
    /// The directory to use as a node's root for `<filesystem>PATH</filesystem>`, when it exists.
    fn rootfs(&self, path: &str) -> Option<String>;
    /// What to say of the root filesystem `path` resolves to, when it is not what the path says
    /// (VNX's library names are vnx's Debian build).
    fn rootfs_note(&self, _path: &str) -> Option<String> {
        None
    }
    /// A VM image built by `vnx image build` that `<filesystem>PATH</filesystem>` names: its
    /// disk, kernel and initramfs, and what to say of it.
    fn image(&self, _path: &str) -> Option<BuiltImage> {
        None
    }
    /// The host path of a filetree source, when it exists.
    fn source(&self, source: &str, basedir: Option<&str>) -> Option<String>;
    /// The absolute path of a file (a disk image, a kernel), when it exists.
    fn file(&self, path: &str) -> Option<String>;
    /// The absolute path of a file vnx will write (a capture), relative to the scenario's folder.
    fn path(&self, path: &str) -> String;
    /// The kernel's limits a lab's size meets (none known: nothing checked).
    fn limits(&self) -> super::limits::HostLimits {
        Default::default()
    }
}

/// A host with every file whose kernel lacks the features listed (tests).
#[cfg(test)]
pub(crate) struct KernelLacks(pub &'static [KernelFeature]);

#[cfg(test)]
impl HostFs for KernelLacks {
    fn kernel_has(&self, f: KernelFeature) -> bool {
        !self.0.contains(&f)
    }
    fn rootfs(&self, _: &str) -> Option<String> {
        None
    }
    fn source(&self, _: &str, _: Option<&str>) -> Option<String> {
        None
    }
    fn file(&self, path: &str) -> Option<String> {
        Some(path.to_string())
    }
    fn path(&self, path: &str) -> String {
        path.to_string()
    }
}

/// The kernel's limit on a Linux bridge's ports (BR_MAX_PORTS - 1).
pub const MAX_BRIDGE_PORTS: usize = 1023;

/// The providers that exist; any other is "not supported yet". `libvirt` needs vnx built with
/// the `libvirt` feature ([`Options::libvirt`]).
pub const SUPPORTED_PROVIDERS: &[&str] = &["ns", "libvirt"];

/// A short, stable kernel name: `prefix` + 8 hex digits of a hash of `parts`. Kernel interface
/// names have 15 characters; scenario, node and net names are longer and must not collide
/// between scenarios, so vnx never builds kernel names from them directly.
pub fn kname(prefix: &str, parts: &[&str]) -> String {
    kname_sized(prefix, parts, false)
}

/// A lab with more bridges and veths than this names them with 48 bits of hash (12 hex digits)
/// instead of 32: among 20,000 names of 32 bits, two are the same one time in twenty (a
/// 10,000-node linear lab was refused so), among 48-bit ones one in 10^5. Smaller labs keep
/// the names they always had.
pub const WIDE_NAMES_FROM: usize = 4096;

/// [`kname`], with 12 hex digits when `wide` (the prefix must then be at most 3 characters).
pub fn kname_sized(prefix: &str, parts: &[&str], wide: bool) -> String {
    let h = fnv64(parts);
    if wide {
        format!("{prefix}{:012x}", (h ^ (h >> 48)) & 0xffff_ffff_ffff)
    } else {
        format!("{prefix}{:08x}", (h ^ (h >> 32)) as u32)
    }
}

/// FNV-1a, 64 bits, of `parts` (each ended by a 0 byte): stable across builds and platforms.
fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

pub use vnx_providers::names::{lab_netns as lab_netns_name, node_netns as netns_name};

/// Nodes in VNX's order: those with a numeric `order` first (sorted), then document order.
pub fn node_order(s: &Scenario) -> Vec<&Node> {
    let mut with: Vec<&Node> = s.nodes.iter().filter(|n| n.order.is_some()).collect();
    with.sort_by_key(|n| n.order.as_ref().map(|o| o.value));
    with.extend(s.nodes.iter().filter(|n| n.order.is_none()));
    with
}

/// VNX's automac: `02:fd:UU:LL:VV:II` from the offset, the node's index and the interface id.
pub fn automac(offset: u32, node_index: usize, if_id: u32) -> MacAddr {
    MacAddr([0x02, 0xfd, (offset >> 8) as u8, offset as u8, node_index as u8, if_id as u8])
}

/// The provider that runs a node: its `provider` attribute, else the map for its type.
pub fn provider_of<'a>(n: &'a Node, opts: &'a Options) -> &'a str {
    match &n.provider {
        Some(p) => &p.value,
        None => opts.map.get(n.node_type.value.as_str()).map(String::as_str).unwrap_or(n.node_type.value.as_str()),
    }
}

/// An interface's name in its node (see [`Node::ifname`]).
pub fn ifname_in_node(node: &Node, iface: &crate::scenario::Interface) -> String {
    node.ifname(iface)
}

fn not_supported(what: String, span: Span, help: &str) -> Diag {
    Diag::error("vnx::not-supported", format!("{what} is not supported yet")).at(span, "here").help(help.to_string())
}

/// Veth ends (interfaces on Linux-bridge nets) per lab namespace, at most (as a power-of-two
/// count of namespaces makes them, on average). The kernel keeps, in each namespace, a list of
/// the namespaces its veths lead to, and walks it for every message about one of its links
/// (`peernet2id`): with every net in one namespace, each link's creation cost grew with the
/// lab (`perf record -g` of a 4000-node linear apply: `idr_for_each` 19× the samples of a
/// 1000-node one, and RTNL held meanwhile). A lab up to this size keeps the one namespace it
/// always had. (A single net's bridge cannot be split: a star of 1000 stays in one.)
pub const ENDS_PER_LAB_NAMESPACE: usize = 1024;

/// Which of the lab's namespaces each Linux-bridge net's bridge lives in: all in the first
/// (`vnxlab-LAB`, resource `lab`) up to [`ENDS_PER_LAB_NAMESPACE`] interfaces on them, else
/// spread by a hash of the net's name over a power of two of them, at most one per net
/// (`vnxlab-LAB.K`, resource `lab-K`), so that adding or removing a net moves no other (until
/// the count doubles).
struct LabShards<'a> {
    scenario: &'a str,
    count: usize,
    nets: HashMap<&'a str, usize>,
}

impl<'a> LabShards<'a> {
    /// `members`: how many interfaces a net has.
    fn of(scenario: &'a str, nets: impl Iterator<Item = &'a str>, members: impl Fn(&str) -> usize) -> LabShards<'a> {
        let names: Vec<&str> = nets.collect();
        let ends: usize = names.iter().map(|n| members(n)).sum();
        let count = ends.div_ceil(ENDS_PER_LAB_NAMESPACE).clamp(1, names.len().max(1)).next_power_of_two();
        // The net's place: the hash kernel names use, folded as theirs, stable across builds.
        let shard = |n: &str| {
            let h = fnv64(&[n]);
            if count == 1 {
                0
            } else {
                (h ^ (h >> 32)) as usize % count
            }
        };
        LabShards { scenario, count, nets: names.into_iter().map(|n| (n, shard(n))).collect() }
    }
    fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
    /// The resource of namespace `k`.
    fn resource(k: usize) -> String {
        if k == 0 {
            "lab".into()
        } else {
            format!("lab-{k}")
        }
    }
    /// The namespace of `net`'s bridge, if it is in one of the lab's.
    fn netns(&self, net: &str) -> Option<String> {
        self.nets.get(net).map(|&k| vnx_providers::names::lab_shard_netns(self.scenario, k))
    }
    /// The resource of that namespace.
    fn lab(&self, net: &str) -> Option<ResId> {
        self.nets.get(net).map(|&k| ResId::new(kind::LAB, LabShards::resource(k)))
    }
}

/// Returns the desired resources (and warnings), or the reasons the scenario cannot run here.
pub fn desired(s: &Scenario, opts: &Options, fs: &dyn HostFs) -> Result<(Vec<Desired>, Vec<Diag>), Vec<Diag>> {
    let scen = s.name.value.as_str();
    let mut out: Vec<Desired> = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    // Nets. Their bridges live in the lab's own network namespace unless the host needs them
    // (a host interface, an external NIC, a VM's tap, a bridge vnx does not manage): deleting
    // that namespace dismantles them all in one batch, where deleting bridges one by one costs
    // the kernel tens of milliseconds each.
    let lab_ns = lab_netns_name(scen);
    let mut host_side: std::collections::HashSet<&str> =
        s.host.iter().flat_map(|h| h.interfaces.iter().map(|i| i.net.value.as_str())).collect();
    for n in s.nodes.iter().filter(|n| provider_of(n, opts) != "ns") {
        host_side.extend(n.interfaces.iter().map(|i| i.net.value.as_str()));
    }
    let in_lab = |net: &crate::scenario::Net| {
        net.managed != Some(false) && net.external.is_none() && !host_side.contains(net.name.value.as_str())
    };
    let mut members: HashMap<&str, usize> = HashMap::new();
    for i in s.nodes.iter().flat_map(|n| &n.interfaces) {
        *members.entry(i.net.value.as_str()).or_default() += 1;
    }
    let lab_nets = LabShards::of(
        scen,
        s.nets.iter().filter(|n| n.mode.value == NetMode::VirtualBridge && in_lab(n)).map(|n| n.name.value.as_str()),
        |net| members.get(net).copied().unwrap_or(0),
    );
    // Open vSwitch nets' bridges and ports live in the lab's (first) namespace, with its own switch.
    let ovs_bridges = super::ovs::bridges(s);
    if !lab_nets.is_empty() || !ovs_bridges.is_empty() {
        push(&mut out, kind::LAB, "lab", "net", &kinds::lab::Attrs { netns: lab_ns.clone() }, vec![], s.name.span);
    }
    for k in 1..lab_nets.count {
        let attrs = kinds::lab::Attrs { netns: vnx_providers::names::lab_shard_netns(scen, k) };
        push(&mut out, kind::LAB, &LabShards::resource(k), "net", &attrs, vec![], s.name.span);
    }
    // Looked up per interface: by name, not by a walk of the nets (quadratic in a big lab).
    let net_named: HashMap<&str, &crate::scenario::Net> = s.nets.iter().map(|n| (n.name.value.as_str(), n)).collect();
    let mut bridges: HashMap<&str, String> = HashMap::new();
    let wide = s.nets.len() + s.nodes.iter().map(|n| n.interfaces.len()).sum::<usize>() > WIDE_NAMES_FROM;
    for net in &s.nets {
        let name = net.name.value.as_str();
        match net.mode.value {
            NetMode::VirtualBridge => {}
            NetMode::Veth => continue, // a p2p link, made below from its two ends
            NetMode::Openvswitch => {
                super::ovs::net(s, net, &ovs_bridges, &lab_ns, fs, &mut out, &mut errors);
                continue;
            }
            other => {
                errors.push(not_supported(
                    format!("net mode `{other}`"),
                    net.mode.span,
                    "use mode=\"virtual_bridge\" (Linux bridge) or mode=\"veth\" (point-to-point)",
                ));
                continue;
            }
        }
        if let (Some(v), Some(e)) = (&net.vlan, &net.external) {
            if !fs.kernel_has(KernelFeature::Vlan) {
                errors.push(super::unread::vlan_lacking(
                    format!("external=\"{}\" vlan=\"{}\" of net `{name}` needs a VLAN device", e.value, v.value),
                    v.span,
                ));
                continue;
            }
        }
        let managed = net.managed != Some(false);
        let bridge = if managed { kname_sized("vb", &[scen, name], wide) } else { name.to_string() };
        bridges.insert(name, bridge.clone());
        push(
            &mut out,
            kind::NET,
            name,
            "net",
            &kinds::net::Attrs {
                bridge: bridge.clone(),
                managed,
                mtu: net.mtu.as_ref().map(|m| m.value as u64),
                stp: net.stp.or(s.netconfig.as_ref().and_then(|c| c.stp)).unwrap_or(false),
                up: net.up != Some(false),
                external: net.external.as_ref().map(|e| match &net.vlan {
                    Some(v) => format!("{}.{}", e.value.split('.').next().unwrap_or(""), v.value),
                    None => e.value.clone(),
                }),
                host_netns: lab_nets.netns(name),
                host_addrs: None,
            },
            lab_nets.lab(name).into_iter().collect(),
            net.name.span,
        );
        // A cluster lab's net that goes on on other hosts (written by vnx into the fragment).
        if let Some(vx) = &net.vxlan {
            let attrs = kinds::vxlan::Attrs {
                ifname: kname("vx", &[scen, name]),
                bridge: Some(bridge.clone()),
                host_netns: lab_nets.netns(name),
                vni: vx.vni,
                local: Some(vx.local.clone()),
                port: vx.port.unwrap_or(4789),
                src_port: None,
                peers: {
                    let mut p = vx.peers.clone();
                    p.sort();
                    p
                },
                mtu: net.mtu.as_ref().map(|m| m.value as u64),
            };
            push(&mut out, kind::VXLAN, name, "net", &attrs, vec![ResId::new(kind::NET, name)], net.name.span);
        }
        // VNX's capture attributes: a capture on the bridge for as long as the net is there.
        if let Some(file) = &net.capture_file {
            let attrs = capture::Attrs {
                bridge: bridge.clone(),
                netns: lab_nets.netns(name),
                file: fs.path(&file.value),
                expression: net.capture_expression.as_ref().map(|e| e.value.clone()),
            };
            push(&mut out, kind::CAPTURE, name, "net", &attrs, vec![ResId::new(kind::NET, name)], file.span);
        }
    }

    // The management network first: a VM's management NIC is part of its domain.
    mgmt(s, opts, &mut out, &mut errors);
    let mgmt_of: HashMap<String, Desired> =
        out.iter().filter(|d| d.id.kind == kind::MGMT).map(|d| (d.id.name.clone(), d.clone())).collect();
    // Nodes, in VNX's order (automac follows it).
    let offset = s.automac.as_ref().map(|a| a.offset.as_ref().map_or(0, |o| o.value));
    let mut p2p_ends: BTreeMap<&str, Vec<kinds::p2p::End>> = BTreeMap::new();
    for (index, node) in node_order(s).into_iter().enumerate() {
        let nname = node.name.value.as_str();
        let provider = provider_of(node, opts);
        if !SUPPORTED_PROVIDERS.contains(&provider) {
            let span = node.provider.as_ref().map_or(node.node_type.span, |p| p.span);
            errors.push(not_supported(format!("type `{}` (provider `{provider}`), of node `{nname}`,", node.node_type.value), span,
                "run it as a namespace node with provider=\"ns\" (or --map TYPE=ns); virtual machines come with the libvirt provider"));
            continue;
        }
        if provider == "libvirt" {
            if !opts.libvirt {
                errors.push(
                    Diag::error("vnx::not-supported", format!("this build of vnx runs no virtual machine: node `{nname}`"))
                        .at(node.node_type.span, "here")
                        .help("build vnx with the libvirt feature (cargo build --release --features libvirt; needs libvirt-dev and pkg-config), or run the node as a namespace with --map libvirt=ns"),
                );
                continue;
            }
            let mgmt_nic = mgmt_of.get(nname).map(|m| {
                let m: kinds::mgmt::Attrs = m.typed().expect("built above as a mgmt");
                let tap = m.bridge.is_none().then_some(m.host_name);
                kinds::node::Nic {
                    ifname: "eth0".into(),
                    mac: m.mac,
                    bridge: m.bridge,
                    tap,
                    node_addr: m.node_addr,
                    mtu: None,
                }
            });
            super::vm::vm_node(
                s,
                node,
                index,
                opts,
                fs,
                &bridges,
                (&ovs_bridges, &lab_ns),
                mgmt_nic,
                &mut out,
                &mut errors,
                &mut warnings,
            );
            continue;
        }
        let rootfs = match &node.filesystem {
            Some(f) => match fs.rootfs(&f.path.value) {
                Some(dir) => {
                    if let Some(note) = fs.rootfs_note(&f.path.value) {
                        warnings.push(Diag::warning("vnx::rootfs", note).at(f.path.span, "this root filesystem"));
                    }
                    dir
                }
                None => {
                    let vnx = f.path.value.contains("rootfs_lxc");
                    let help = if vnx {
                        "build it: vnx rootfs build rootfs_lxc (Debian, with what VNX's tutorials start); or remove <filesystem> to say the host's root is meant".to_string()
                    } else {
                        "build one (vnx rootfs build NAME, then <filesystem>NAME</filesystem>), install one at that path, or remove <filesystem> to say the host's root is meant".to_string()
                    };
                    warnings.push(Diag::warning("vnx::rootfs", format!("root filesystem `{}` (of node `{nname}`) is not on this host: the node sees the host's files, copy-on-write (its /root, /home and SSH host keys hidden)", f.path.value))
                        .at(f.path.span, "no such directory").help(help));
                    "/".to_string()
                }
            },
            None => "/".to_string(),
        };
        super::daemons::check(node, &rootfs, fs, &mut errors, &mut warnings);
        let node_id = ResId::new(kind::NODE, nname);
        push(
            &mut out,
            kind::NODE,
            nname,
            provider,
            &kinds::node::Attrs {
                provider: provider.to_string(),
                hostname: nname.to_string(),
                rootfs: Some(rootfs),
                netns: Some(netns_name(scen, nname)),
                run: opts.runs.get(nname).map(String::as_str).unwrap_or("running").to_string(),
                vm: None,
                config: None,
            },
            vec![],
            node.name.span,
        );

        let mut addr_ids = Vec::new();
        for iface in &node.interfaces {
            let net = iface.net.value.as_str();
            if net == "lo" || net == "vm_mgmt" {
                continue;
            }
            let ifname = ifname_in_node(node, iface);
            let key = format!("{nname}/{}", iface.id.value);
            let mac = iface
                .mac
                .as_ref()
                .map(|m| m.value)
                .or_else(|| offset.map(|o| automac(o, index, iface.id.value)))
                .map(|m| m.to_string());
            let scen_net = net_named.get(net).copied();
            let link_id = match scen_net.map(|n| n.mode.value) {
                Some(NetMode::Veth) => {
                    p2p_ends.entry(net).or_default().push(kinds::p2p::End {
                        node: nname.into(),
                        ifname: ifname.clone(),
                        mac: mac.clone(),
                    });
                    ResId::new(kind::P2P, net)
                }
                _ => {
                    let bridge = bridges.get(net).cloned();
                    let mut deps = vec![node_id.clone()];
                    if bridge.is_some() {
                        deps.push(ResId::new(kind::NET, net));
                    }
                    let host_name = kname_sized("ve", &[scen, nname, &iface.id.value.to_string()], wide);
                    // On an Open vSwitch net: the lab's end is a port of its bridge.
                    if let Some(ovs) = ovs_bridges.get(net) {
                        let (tag, trunks) = super::ovs::vlans(iface.vlan.as_ref());
                        let port = kinds::ovs_port::Attrs {
                            bridge: ovs.clone(),
                            port: host_name.clone(),
                            tag,
                            trunks,
                            patch_peer: None,
                        };
                        let port_deps =
                            vec![ResId::new(kind::INTERFACE, key.clone()), ResId::new(kind::OVS_BRIDGE, net)];
                        push(&mut out, kind::OVS_PORT, &key, "net", &port, port_deps, iface.span);
                        deps.push(ResId::new(kind::LAB, "lab"));
                    }
                    push(
                        &mut out,
                        kind::INTERFACE,
                        &key,
                        "net",
                        &kinds::interface::Attrs {
                            node: nname.into(),
                            net: net.into(),
                            bridge,
                            host_name,
                            host_netns: lab_nets
                                .netns(net)
                                .or_else(|| ovs_bridges.contains_key(net).then(|| lab_ns.clone())),
                            ifname: ifname.clone(),
                            mac: mac.clone(),
                            mtu: scen_net.and_then(|n| n.mtu.as_ref()).map(|m| m.value as u64),
                            up: scen_net.is_none_or(|n| n.up != Some(false)),
                        },
                        deps,
                        iface.span,
                    );
                    ResId::new(kind::INTERFACE, key.clone())
                }
            };
            // Addresses: static ones, or a DHCP client per family (not both on one interface:
            // the static list is the interface's whole, and would take the lease away).
            let dhcp4 = iface.ipv4.iter().find_map(|a| match a.value {
                crate::scenario::values::Ipv4Config::Dhcp(req) => Some((req, a.span)),
                _ => None,
            });
            let dhcp6 = iface.ipv6.iter().find(|a| a.net().is_none()).map(|a| a.span);
            let statics = iface.ipv4.iter().any(|a| a.net().is_some()) || iface.ipv6.iter().any(|a| a.net().is_some());
            if let (Some(span), true) = (dhcp4.map(|d| d.1).or(dhcp6), statics) {
                errors.push(
                    Diag::error(
                        "vnx::dhcp",
                        format!("interface {} of node `{nname}` has both DHCP and static addresses", iface.id.value),
                    )
                    .at(span, "DHCP here")
                    .help("give the interface either `dhcp` or its static addresses"),
                );
            }
            let families = [(dhcp4.map(|(req, _)| req.map(|a| a.to_string())), "ipv4"), (dhcp6.map(|_| None), "ipv6")];
            for (requested, family) in families.into_iter().filter_map(|(r, f)| r.map(|r| (r, f))) {
                push(
                    &mut out,
                    kind::DHCP,
                    &format!("{key}/{family}"),
                    "net",
                    &kinds::dhcp::Attrs {
                        node: nname.into(),
                        ifname: ifname.clone(),
                        family: family.into(),
                        requested,
                        mac: mac.clone(),
                    },
                    vec![link_id.clone()],
                    iface.span,
                );
            }
            let v4: Vec<String> = iface.ipv4.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
            let v6: Vec<String> = iface.ipv6.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
            if !v4.is_empty() || !v6.is_empty() {
                push(
                    &mut out,
                    kind::ADDRESSES,
                    &key,
                    "net",
                    &kinds::addresses::Attrs { node: nname.into(), ifname: ifname.clone(), ipv4: v4, ipv6: v6 },
                    vec![link_id.clone()],
                    iface.span,
                );
                addr_ids.push(ResId::new(kind::ADDRESSES, key.clone()));
            }
            // Link conditions: the interface's own, else its net's.
            let pick = |own: &'_ Option<crate::scenario::Spanned<String>>,
                        of_net: Option<&'_ Option<crate::scenario::Spanned<String>>>| {
                own.as_ref().or(of_net.and_then(|o| o.as_ref())).cloned()
            };
            let (bw_at, delay_at, loss_at) = (
                pick(&iface.bw, scen_net.map(|n| &n.bw)),
                pick(&iface.delay, scen_net.map(|n| &n.delay)),
                pick(&iface.loss, scen_net.map(|n| &n.loss)),
            );
            let value = |v: &Option<crate::scenario::Spanned<String>>| v.as_ref().map(|v| v.value.clone());
            let (bw, delay, loss) = (value(&bw_at), value(&delay_at), value(&loss_at));
            // What the kernel lacks is refused here, naming the doctor line that says so.
            let lacking = [
                (KernelFeature::Netem, delay.is_some() || loss.is_some(), "delay= and loss= need"),
                (KernelFeature::Tbf, bw.is_some(), "bw= needs"),
            ]
            .into_iter()
            .find(|(f, needed, _)| *needed && !fs.kernel_has(*f));
            // Where the condition is written: on the interface, else on its net.
            let span_of = |f: KernelFeature| match f {
                KernelFeature::Netem => delay_at.as_ref().or(loss_at.as_ref()).map(|v| v.span),
                KernelFeature::Tbf => bw_at.as_ref().map(|v| v.span),
                KernelFeature::OvsDatapath | KernelFeature::Vlan => None,
            };
            if let Some((f, _, what)) = lacking {
                errors.push(
                    Diag::error(
                        "vnx::kernel-lacks",
                        format!("{what} the {} qdisc, which this machine's kernel lacks (node `{nname}`)", f.doctor_line().trim_start_matches("qdisc ")),
                    )
                    .at(span_of(f).unwrap_or(iface.span), "here")
                    .help(format!(
                        "`vnx doctor` shows it on its `{}` line; remove the condition, or run the lab on a kernel that has it",
                        f.doctor_line()
                    )),
                );
            } else if bw.is_some() || delay.is_some() || loss.is_some() {
                match tc_commands(&ifname, bw.as_deref(), delay.as_deref(), loss.as_deref()) {
                    Ok(tc) => push(
                        &mut out,
                        kind::CONDITIONS,
                        &key,
                        "net",
                        &kinds::conditions::Attrs { node: nname.into(), ifname: ifname.clone(), bw, delay, loss, tc },
                        vec![link_id.clone()],
                        iface.span,
                    ),
                    Err(e) => errors.push(
                        Diag::error("vnx::link-condition", e)
                            .at(iface.span, "here")
                            .help("see the README's section on link conditions"),
                    ),
                }
            }
        }
        if !node.routes.is_empty() {
            let routes = route_list(&node.routes);
            let mut deps = vec![node_id.clone()];
            deps.extend(addr_ids.iter().cloned());
            push(
                &mut out,
                kind::ROUTES,
                nname,
                "net",
                &kinds::routes::Attrs { node: nname.into(), routes },
                deps,
                node.routes[0].span,
            );
        }
        if let Some(f) = &node.forwarding {
            push(
                &mut out,
                kind::FORWARDING,
                nname,
                "net",
                &kinds::forwarding::Attrs { node: nname.into(), ipv4: f.ipv4(), ipv6: f.ipv6() },
                vec![node_id.clone()],
                f.span,
            );
        }
        // on_boot: run once when the node is built, after its network is configured.
        let boot_execs: Vec<&crate::scenario::Exec> =
            node.execs.iter().filter(|e| seq_names(&e.seq).any(|q| q == "on_boot")).collect();
        let basedir =
            node.basedir.as_ref().or(s.defaults.as_ref().and_then(|d| d.basedir.as_ref())).map(|b| b.value.as_str());
        let boot_files: Vec<kinds::boot::Filetree> = node
            .filetrees
            .iter()
            .filter(|f| seq_names(&f.seq).any(|q| q == "on_boot"))
            .map(|f| filetree_of(f, fs.source(&f.source.value, basedir)))
            .collect();
        if !boot_execs.is_empty() || !boot_files.is_empty() {
            let mut deps: Vec<ResId> = out
                .iter()
                .filter(|d| kinds::placement(&d.id.kind, |k| d.attrs.get(k)).node == Some(nname))
                .map(|d| d.id.clone())
                .collect();
            deps.push(node_id.clone());
            let commands: Vec<kinds::boot::Command> = boot_execs
                .iter()
                .map(|e| kinds::boot::Command {
                    command: e.command.value.clone(),
                    ostype: e.ostype.as_ref().map(|o| o.value.to_string()),
                    user: e.user.as_ref().map(|u| u.value.clone()),
                })
                .collect();
            push(
                &mut out,
                kind::BOOT,
                nname,
                "ns",
                &kinds::boot::Attrs { node: nname.into(), shell: node.shell.clone(), commands, filetrees: boot_files },
                deps,
                node.span,
            );
        }
    }
    use crate::scenario::seq_names;

    for (net, ends) in p2p_ends {
        if ends.len() != 2 {
            continue; // validation reports it
        }
        let deps = ends.iter().map(|e| ResId::new(kind::NODE, e.node.clone())).collect();
        let up = net_named.get(net).is_none_or(|n| n.up != Some(false));
        push(
            &mut out,
            kind::P2P,
            net,
            "net",
            &kinds::p2p::Attrs { a: ends[0].clone(), b: ends[1].clone(), up },
            deps,
            net_named.get(net).map_or(Span::default(), |n| n.span),
        );
    }

    // VNX's plugins: services in the nodes, and DHCP clients.
    super::services::plan(s, opts, fs, &mut out, &mut errors);

    // The host.
    if let Some(h) = &s.host {
        let mut hostifs = Vec::new();
        for hi in &h.interfaces {
            let net = hi.net.value.as_str();
            let v4: Vec<String> = hi.ipv4.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
            let v6: Vec<String> = hi.ipv6.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
            if let Some(ovs) = ovs_bridges.get(net) {
                // The host's end in the host, the other a port of the switch in the lab's namespace.
                let peer = kname("vp", &[scen, net]);
                let attrs = kinds::hostif::Attrs {
                    bridge: ovs.clone(),
                    ifname: kname("vh", &[scen, net]),
                    peer: peer.clone(),
                    ipv4: v4,
                    ipv6: v6,
                    peer_netns: Some(lab_ns.clone()),
                };
                push(&mut out, kind::HOSTIF, net, "net", &attrs, vec![ResId::new(kind::LAB, "lab")], hi.span);
                let (tag, trunks) = super::ovs::vlans(hi.vlan.as_ref());
                let port = kinds::ovs_port::Attrs { bridge: ovs.clone(), port: peer, tag, trunks, patch_peer: None };
                let deps = vec![ResId::new(kind::HOSTIF, net), ResId::new(kind::OVS_BRIDGE, net)];
                push(&mut out, kind::OVS_PORT, &format!("host/{net}"), "net", &port, deps, hi.span);
                hostifs.push(ResId::new(kind::HOSTIF, net));
                continue;
            }
            let Some(bridge) = bridges.get(net) else {
                errors.push(not_supported(
                    format!("a host interface on net `{net}` (not a bridge)"),
                    hi.net.span,
                    "attach the host to a virtual_bridge net",
                ));
                continue;
            };
            push(
                &mut out,
                kind::HOSTIF,
                net,
                "net",
                &kinds::hostif::Attrs {
                    bridge: bridge.clone(),
                    ifname: kname("vh", &[scen, net]),
                    peer: kname("vp", &[scen, net]),
                    ipv4: v4,
                    ipv6: v6,
                    peer_netns: None,
                },
                vec![ResId::new(kind::NET, net)],
                hi.span,
            );
            hostifs.push(ResId::new(kind::HOSTIF, net));
        }
        if !h.routes.is_empty() || h.forwarding.is_some() {
            let routes = route_list(&h.routes);
            let f = h.forwarding.as_ref().map(|f| f.value);
            push(
                &mut out,
                kind::HOST_ROUTES,
                "host",
                "net",
                &kinds::host_routes::Attrs {
                    routes,
                    forward_ipv4: f.is_some_and(|f| f.ipv4()),
                    forward_ipv6: f.is_some_and(|f| f.ipv6()),
                },
                hostifs,
                h.span,
            );
        }
    }

    // A Linux bridge holds at most 1023 ports ("Exchange full" on the next one).
    let mut ports: HashMap<String, usize> = HashMap::new();
    for d in out.iter().filter(|d| d.id.kind == kind::INTERFACE || d.id.kind == kind::HOSTIF || d.id.kind == kind::MGMT)
    {
        let net = match d.id.kind.as_str() {
            kind::HOSTIF => Some(d.id.name.clone()),
            kind::MGMT => d.typed::<kinds::mgmt::Attrs>().ok().and_then(|m| m.bridge).map(|_| "vm_mgmt".to_string()),
            _ => d.typed::<kinds::interface::Attrs>().ok().filter(|i| i.bridge.is_some()).map(|i| i.net),
        };
        if let Some(n) = net {
            *ports.entry(n).or_default() += 1;
        }
    }
    for (net, n) in ports {
        if n > MAX_BRIDGE_PORTS {
            let span = s.net(&net).map_or(Span::default(), |x| x.name.span);
            errors.push(Diag::error("vnx::bridge-ports", format!("net `{net}` has {n} members; a Linux bridge holds at most {MAX_BRIDGE_PORTS}"))
                .at(span, "too many members").help("split the members over several nets joined by a router node, or by a <connection> between two nets"));
        }
    }

    // Two resources must not share a kernel name in the host (a hash collision, however unlikely).
    let mut names: HashMap<&str, &ResId> = HashMap::new();
    for d in &out {
        for n in kinds::kernel_links(&d.id.kind, |k| d.attrs.get(k)) {
            if let Some(other) = names.insert(n, &d.id) {
                errors.push(
                    Diag::error(
                        "vnx::name-collision",
                        format!("{other} and {} would both use the kernel name `{n}`", d.id),
                    )
                    .at(d.span, "here")
                    .help("rename one of them"),
                );
            }
        }
    }
    let (refused, missing) = super::unread::unread(s, fs);
    errors.extend(refused);
    warnings.extend(missing);
    let (refused, tight) = super::limits::check(super::limits::Needs::of(&out), &fs.limits(), s.name.span);
    errors.extend(refused);
    warnings.extend(tight);
    // A finding about six nodes is said once, naming the six.
    if errors.is_empty() {
        Ok((out, crate::scenario::diag::said_once(warnings)))
    } else {
        Err(crate::scenario::diag::said_once(errors))
    }
}

/// A filetree for a provider: where it comes from on the host (when it exists) and where it goes.
pub fn filetree_of(f: &crate::scenario::Filetree, source: Option<String>) -> kinds::boot::Filetree {
    kinds::boot::Filetree {
        source,
        written: f.source.value.clone(),
        root: f.root.value.clone(),
        user: f.user.as_ref().map(|u| u.value.clone()),
        group: f.group.as_ref().map(|g| g.value.clone()),
        perms: f.perms.as_ref().map(|p| p.value.clone()),
    }
}

/// Routes as the kernel will show them: destinations in network form, sorted.
pub(crate) fn route_list(routes: &[crate::scenario::Route]) -> Vec<kinds::routes::Route> {
    let mut v: Vec<kinds::routes::Route> = routes
        .iter()
        .map(|r| {
            let to = match r.to.value {
                RouteDest::Default => "default".to_string(),
                RouteDest::Prefix(p) => p.trunc().to_string(),
            };
            kinds::routes::Route { to, gw: r.gw.value.to_string() }
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The `tc` commands that give an interface its link conditions: one netem qdisc for delay
/// and loss at the root, a tbf below it (or at the root alone) for the bandwidth.
pub fn tc_commands(
    ifname: &str,
    bw: Option<&str>,
    delay: Option<&str>,
    loss: Option<&str>,
) -> Result<Vec<Vec<String>>, String> {
    use crate::scenario::linkcond;
    let mut netem: Vec<String> = Vec::new();
    if let Some(d) = delay {
        let d = linkcond::parse_delay(d).map_err(|e| format!("bad delay: {e}"))?;
        netem.extend(["delay".into(), format!("{}us", d.delay_us)]);
        if let Some(j) = d.jitter_us {
            netem.push(format!("{j}us"));
            if let Some(c) = d.correlation_pct {
                netem.push(format!("{c}%"));
            }
            if let Some(dist) = d.distribution {
                netem.extend(["distribution".into(), dist]);
            }
        }
    }
    if let Some(l) = loss {
        let l = linkcond::parse_loss(l).map_err(|e| format!("bad loss: {e}"))?;
        netem.extend(["loss".into(), format!("{}%", l.pct)]);
        if let Some(c) = l.correlation_pct {
            netem.push(format!("{c}%"));
        }
    }
    let tbf = match bw {
        None => None,
        Some(b) => {
            let b = linkcond::parse_bw(b).map_err(|e| format!("bad bw: {e}"))?;
            // A burst of 10 ms of traffic (at least 1600 bytes), 50 ms of queue unless given.
            let burst = b.burst_bytes.unwrap_or((b.bits_per_sec / 8 / 100).max(1600));
            let mut v = vec![
                "tbf".to_string(),
                "rate".into(),
                format!("{}bit", b.bits_per_sec),
                "burst".into(),
                burst.to_string(),
            ];
            match (b.latency_us, b.limit_bytes) {
                (_, Some(l)) => v.extend(["limit".into(), l.to_string()]),
                (Some(l), None) => v.extend(["latency".into(), format!("{l}us")]),
                (None, None) => v.extend(["latency".into(), "50ms".into()]),
            }
            Some(v)
        }
    };
    let base = |rest: &[&str]| -> Vec<String> {
        ["qdisc", "replace", "dev", ifname].iter().chain(rest).map(|s| s.to_string()).collect()
    };
    let mut cmds = Vec::new();
    match (netem.is_empty(), tbf) {
        (true, None) => {}
        (true, Some(t)) => {
            let mut c = base(&["root", "handle", "1:"]);
            c.extend(t);
            cmds.push(c);
        }
        (false, t) => {
            let mut c = base(&["root", "handle", "1:", "netem"]);
            c.extend(netem);
            cmds.push(c);
            if let Some(t) = t {
                let mut c = base(&["parent", "1:1", "handle", "10:"]);
                c.extend(t);
                cmds.push(c);
            }
        }
    }
    Ok(cmds)
}

/// The management network (`<vm_mgmt>`), as VNX addresses it: `private` gives each node a /30
/// point-to-point link with the host (host = base+1, node = base+2, base = network + offset +
/// 4 × node index); `net` puts every node on one bridge (node = network + offset + index + 1,
/// skipping the host's address, network+1). `<host_mapping/>` writes `ADDRESS NODE` lines to
/// the host's and the nodes' hosts files.
fn mgmt(s: &Scenario, opts: &Options, out: &mut Vec<Desired>, errors: &mut Vec<Diag>) {
    let Some(m) = &s.mgmt else { return };
    let kind_ = m.kind.value;
    if kind_ == MgmtType::None {
        return;
    }
    let scen = s.name.value.as_str();
    let network = u32::from(m.network.as_ref().map_or(std::net::Ipv4Addr::new(192, 168, 0, 0), |n| n.value));
    let mask = m.mask.as_ref().map_or(24, |v| v.value);
    let offset = m.offset.as_ref().map_or(0, |v| v.value);
    let room = (1u64 << (32 - mask.clamp(1, 31) as u32)).saturating_sub(3);
    let ip = |x: u32| std::net::Ipv4Addr::from(x).to_string();
    let automac_offset = s.automac.as_ref().map(|a| a.offset.as_ref().map_or(0, |o| o.value));
    let default_mng = s.defaults.as_ref().and_then(|d| d.mng_if);
    let mut lines = Vec::new();
    let mut deps = Vec::new();
    let (bridge, host_ip) = match kind_ {
        MgmtType::Net => {
            let Some(mn) = &m.mgmt_net else { return };
            let bridge = mn.net.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| format!("{scen}-mgmt"));
            // VNX: network+1 when both network and mask are written, else 192.168.0.1.
            let host_ip = if m.network.is_some() && m.mask.is_some() {
                network + 1
            } else {
                u32::from(std::net::Ipv4Addr::new(192, 168, 0, 1))
            };
            let attrs = kinds::net::Attrs {
                bridge: bridge.clone(),
                managed: mn.managed != Some(false),
                mtu: None,
                stp: false,
                up: true,
                external: None,
                host_netns: None,
                host_addrs: Some(vec![format!("{}/{mask}", ip(host_ip))]),
            };
            push(out, kind::NET, "vm_mgmt", "net", &attrs, vec![], m.span);
            (Some(bridge), Some(host_ip))
        }
        _ => (None, None),
    };
    for (index, node) in node_order(s).into_iter().enumerate() {
        if node.mng_if.or(default_mng) == Some(false) {
            continue;
        }
        let nname = node.name.value.as_str();
        let i = index as u32;
        let (host_addr, node_addr, used) = match kind_ {
            MgmtType::Private => {
                let base = network + offset + 4 * i;
                (Some(format!("{}/30", ip(base + 1))), format!("{}/30", ip(base + 2)), offset as u64 + 4 * i as u64 + 2)
            }
            _ => {
                let mut vm = network + offset + i + 1;
                if let Some(h) = host_ip {
                    if h > network + offset && h <= vm {
                        vm += 1;
                    }
                }
                (None, format!("{}/{mask}", ip(vm)), (vm - network) as u64)
            }
        };
        if used > room {
            errors.push(
                Diag::error("vnx::mgmt", format!("the management network has no address left for node `{nname}`"))
                    .at(m.span, "too small")
                    .help("widen the mask or lower the offset"),
            );
            continue;
        }
        // `<mgmt_net config="dhcp">`: the node leases its address (from a server the user runs
        // on the management net). VNX did so for a config left out too; vnx gives the computed
        // address then, as for "manual": a lab has no DHCP server on its management net unless
        // someone put one there.
        let leases = kind_ == MgmtType::Net && m.mgmt_net.as_ref().and_then(|n| n.config) == Some(MgmtConfig::Dhcp);
        let node_addr = (!leases).then_some(node_addr);
        if let Some(a) = &node_addr {
            lines.push(format!("{} {nname}", a.split('/').next().unwrap_or_default()));
        }
        let is_vm = provider_of(node, opts) == "libvirt";
        let attrs = kinds::mgmt::Attrs {
            vm: is_vm.then_some(true),
            node: nname.into(),
            host_name: kname("vm", &[scen, nname]),
            ifname: "eth0".into(),
            mac: automac_offset.map(|o| automac(o, index, 0).to_string()),
            bridge: bridge.clone(),
            host_addr,
            node_addr,
        };
        let mut d = vec![ResId::new(kind::NODE, nname)];
        if bridge.is_some() {
            d.push(ResId::new(kind::NET, "vm_mgmt"));
        }
        deps.push(ResId::new(kind::MGMT, nname));
        let mac = attrs.mac.clone();
        push(out, kind::MGMT, nname, if is_vm { "libvirt" } else { "net" }, &attrs, d, node.span);
        // A VM's guest runs its client from its configuration drive.
        if leases && !is_vm {
            let client = kinds::dhcp::Attrs {
                node: nname.into(),
                ifname: "eth0".into(),
                family: "ipv4".into(),
                requested: None,
                mac,
            };
            push(
                out,
                kind::DHCP,
                &format!("{nname}/0/ipv4"),
                "net",
                &client,
                vec![ResId::new(kind::MGMT, nname)],
                node.span,
            );
        }
    }
    if m.host_mapping {
        let attrs = kinds::hosts::Attrs {
            file: opts.hosts_file.clone(),
            scenario: scen.into(),
            lines,
            nodes: deps.iter().map(|d| d.name.clone()).collect(),
        };
        push(out, kind::HOSTS, "host", "net", &attrs, deps, m.span);
    }
}

#[cfg(test)]
mod lab_shard_tests {
    use super::LabShards;

    #[test]
    fn wide_kernel_names_fit_the_kernel_and_differ_from_narrow_ones() {
        let narrow = super::kname("ve", &["lab", "n1", "1"]);
        let wide = super::kname_sized("ve", &["lab", "n1", "1"], true);
        assert_eq!((narrow.len(), wide.len()), (10, 14));
        assert!(wide.len() < 16, "IFNAMSIZ");
        assert_ne!(&wide[..10], narrow.as_str());
    }

    #[test]
    fn a_big_lab_spreads_its_nets_and_adding_one_moves_no_other() {
        let names: Vec<String> = (0..2000).map(|i| format!("net{i}")).collect();
        // Two interfaces a net (a linear lab).
        let small = LabShards::of("x", names.iter().take(512).map(String::as_str), |_| 2);
        assert_eq!(small.count, 1);
        assert!(names[..512].iter().all(|n| small.netns(n).as_deref() == Some("vnxlab-x")));
        let big = LabShards::of("x", names.iter().map(String::as_str), |_| 2);
        assert_eq!(big.count, 4);
        // Few nets with many members each (a star of stars) spread too, one net a namespace at most.
        assert_eq!(LabShards::of("x", names.iter().take(100).map(String::as_str), |_| 101).count, 16);
        assert_eq!(LabShards::of("x", ["one"].into_iter(), |_| 1000).count, 1);
        for k in 0..4 {
            let ns = vnx_providers::names::lab_shard_netns("x", k);
            let here = names.iter().filter(|n| big.netns(n).as_deref() == Some(ns.as_str())).count();
            assert!((350..650).contains(&here), "namespace {ns} holds {here} of 2000 nets");
        }
        let more = LabShards::of("x", names.iter().map(String::as_str).chain(["another"]), |_| 2);
        assert!(names.iter().all(|n| more.netns(n) == big.netns(n)));
        assert_eq!(big.lab("net7").map(|r| r.name.starts_with("lab")), Some(true));
    }
}
