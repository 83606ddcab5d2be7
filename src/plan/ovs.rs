//! `openvswitch` nets: the lab's own Open vSwitch (one `ovs` per lab, in the lab's namespace),
//! a bridge per net, a port per link end with its VLANs, and `<connection>`s between switches.
//! VNX's VLAN rule: `trunk="yes"` or several tags make a trunk, one tag an access port; a
//! connection is always a trunk.

use std::collections::HashMap;

use vnx_providers::kinds;

use super::desired::{kname, push, HostFs, KernelFeature};
use super::resource::{kind, Desired, ResId};
use crate::scenario::values::{ConnectionType, NetMode};
use crate::scenario::{Diag, Net, Scenario, Vlan};

/// The lab's switch's resource.
pub fn switch_id() -> ResId {
    ResId::new(kind::OVS, "switch")
}

/// (access tag, trunks) of a `<vlan>`.
pub fn vlans(v: Option<&Vlan>) -> (Option<u16>, Vec<u16>) {
    let Some(v) = v else { return (None, vec![]) };
    let mut tags: Vec<u16> = v.tags.iter().map(|t| t.value).collect();
    tags.sort();
    tags.dedup();
    if v.trunk != Some(true) && tags.len() == 1 {
        (Some(tags[0]), vec![])
    } else {
        (None, tags)
    }
}

/// The bridge of every `openvswitch` net (kernel names: hashed, as for Linux bridges).
pub fn bridges(s: &Scenario) -> HashMap<&str, String> {
    let scen = s.name.value.as_str();
    s.nets
        .iter()
        .filter(|n| n.mode.value == NetMode::Openvswitch)
        .map(|n| (n.name.value.as_str(), kname("vo", &[scen, &n.name.value])))
        .collect()
}

/// The switch, a net's bridge and its connections' links and ports. `ovs` is [`bridges`] of
/// `s`; `lab_ns` is the lab's namespace (its resource is made by the caller).
pub fn net(
    s: &Scenario,
    net: &Net,
    ovs: &HashMap<&str, String>,
    lab_ns: &str,
    fs: &dyn HostFs,
    out: &mut Vec<Desired>,
    errors: &mut Vec<Diag>,
) {
    let name = net.name.value.as_str();
    let bridge = ovs[name].clone();
    if net.managed == Some(false) {
        errors.push(
            Diag::error("vnx::not-supported", format!("an unmanaged openvswitch net (`{name}`) is not supported"))
                .at(net.span, "here")
                .help("vnx runs a switch of the lab's own and never touches bridges it did not make: remove managed=\"no\""),
        );
        return;
    }
    if let (Some(e), Some(v)) = (&net.external, &net.vlan) {
        errors.push(
            Diag::error("vnx::not-supported", format!("external=\"{}\" with vlan=\"{}\" on openvswitch net `{name}` is not supported yet", e.value, v.value))
                .at(v.span, "here")
                .help("join the NIC untagged (remove vlan=): its frames keep their tags on the switch, whose ports pick their VLANs"),
        );
        return;
    }
    if net.vxlan.is_some() {
        errors.push(
            Diag::error("vnx::not-supported", format!("openvswitch net `{name}` across hosts is not supported yet"))
                .at(net.mode.span, "an Open vSwitch net")
                .help("keep its nodes on one host (vm_deploy_at / host=), or make it a virtual_bridge net"),
        );
        return;
    }
    if fs.file("/usr/sbin/ovs-vswitchd").is_none() || fs.file("/usr/sbin/ovsdb-server").is_none() {
        errors.push(
            Diag::error("vnx::missing-daemon", format!("Open vSwitch (ovsdb-server, ovs-vswitchd) is missing from this host, for net `{name}`"))
                .at(net.mode.span, "an Open vSwitch net")
                .help("install it: apt-get install --no-install-recommends openvswitch-switch (Debian's package; vnx starts a switch of the lab's own, no service needed)"),
        );
        return;
    }
    if !out.iter().any(|d| d.id == switch_id()) {
        push(
            out,
            kind::OVS,
            "switch",
            "net",
            &kinds::ovs::Attrs { netns: lab_ns.to_string() },
            vec![ResId::new(kind::LAB, "lab")],
            net.span,
        );
    }
    let datapath = if fs.kernel_has(KernelFeature::OvsDatapath) { "system" } else { "netdev" };
    let ctl = controllers(s, net, errors);
    let mut deps = vec![switch_id()];
    for r in &ctl.relays {
        let key = format!("{name}/{}", r.name.rsplit('-').next().unwrap_or(""));
        let span = net.controller.as_ref().map_or(net.span, |c| c.span);
        push(out, kind::OVS_RELAY, &key, "net", r, vec![switch_id()], span);
        deps.push(ResId::new(kind::OVS_RELAY, key));
    }
    let attrs = kinds::ovs_bridge::Attrs {
        bridge: bridge.clone(),
        datapath: datapath.into(),
        stp: net.stp.or(s.netconfig.as_ref().and_then(|c| c.stp)).unwrap_or(false),
        fail_mode: net.fail_mode.as_ref().map(|f| f.value.to_string()),
        protocols: net
            .of_version
            .as_ref()
            .map(|v| v.value.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
            .unwrap_or_default(),
        hwaddr: net.hwaddr.as_ref().map(|m| m.value.to_string()),
        netns: lab_ns.to_string(),
        local_addr: ctl.local_addr,
        mtu: net.mtu.as_ref().map(|m| m.value as u64),
        controllers: ctl.targets,
    };
    push(out, kind::OVS_BRIDGE, name, "net", &attrs, deps, net.span);
    let scen = s.name.value.as_str();
    // A host NIC on the switch: untagged, a trunk of every VLAN (as VNX's add-port of it).
    if let Some(nic) = &net.external {
        let port =
            HostPort { key: format!("external/{name}"), external: Some(nic.value.clone()), tag: None, trunks: vec![] };
        host_port(s, net, &bridge, lab_ns, port, nic.span, out);
    }
    for c in &net.connections {
        let cname = c.name.value.as_str();
        // A connection is always a trunk of its tags (VNX), even of one; without tags, of every VLAN.
        let mut trunks: Vec<u16> = c.vlan.iter().flat_map(|v| v.tags.iter().map(|t| t.value)).collect();
        trunks.sort();
        trunks.dedup();
        if c.kind == Some(ConnectionType::Vxlan) {
            vxlan_connection(s, net, c, &bridge, trunks, lab_ns, out, errors);
            continue;
        }
        let Some(peer_net) = c.net.as_ref() else {
            errors.push(
                Diag::error("vnx::connection", format!("connection `{cname}` names no net"))
                    .at(c.name.span, "here")
                    .help("say which switch it joins: net=\"…\""),
            );
            continue;
        };
        let Some(peer_bridge) = ovs.get(peer_net.value.as_str()) else {
            errors.push(
                Diag::error(
                    "vnx::not-supported",
                    format!(
                        "connection `{cname}` to `{}`, not an openvswitch net, is not supported yet",
                        peer_net.value
                    ),
                )
                .at(peer_net.span, "here")
                .help("join two openvswitch nets"),
            );
            continue;
        };
        let key = format!("{name}/{cname}");
        let (a, b) =
            (format!("{}0", kname("vc", &[scen, name, cname])), format!("{}1", kname("vc", &[scen, name, cname])));
        let bridge_deps = |peer: &str| vec![ResId::new(kind::OVS_BRIDGE, name), ResId::new(kind::OVS_BRIDGE, peer)];
        let (patch_a, patch_b, mut deps) = match c.kind.unwrap_or(ConnectionType::Veth) {
            ConnectionType::Veth => {
                push(
                    out,
                    kind::OVS_LINK,
                    &key,
                    "net",
                    &kinds::ovs_link::Attrs {
                        netns: lab_ns.to_string(),
                        a: a.clone(),
                        b: b.clone(),
                        host_bridge: None,
                        external: None,
                        mtu: net.mtu.as_ref().map(|m| m.value as u64),
                    },
                    vec![ResId::new(kind::LAB, "lab")],
                    c.name.span,
                );
                (None, None, vec![ResId::new(kind::OVS_LINK, key.clone())])
            }
            ConnectionType::OvsPatch => (Some(b.clone()), Some(a.clone()), vec![]),
            ConnectionType::Vxlan => unreachable!("made above"),
        };
        deps.extend(bridge_deps(&peer_net.value));
        for (end, on, patch) in [(&a, &bridge, patch_a), (&b, peer_bridge, patch_b)] {
            let port = kinds::ovs_port::Attrs {
                bridge: on.clone(),
                port: end.clone(),
                tag: None,
                trunks: trunks.clone(),
                patch_peer: patch,
            };
            push(
                out,
                kind::OVS_PORT,
                &format!("{key}/{}", &end[end.len() - 1..]),
                "net",
                &port,
                deps.clone(),
                c.name.span,
            );
        }
    }
}

/// Something only the host's namespace holds, on a switch: a VM's interface or a host NIC.
pub struct HostPort {
    /// The resources' name: `NODE/ID` for a VM's interface, `external/NET` for a NIC.
    pub key: String,
    pub external: Option<String>,
    pub tag: Option<u16>,
    pub trunks: Vec<u16>,
}

/// The way onto `net`'s switch (`bridge`) for a [`HostPort`]: an `ovs-link` with a Linux bridge
/// of its own in the host's namespace (where libvirt puts a VM's tap, or the NIC joins), its
/// other end a port of the switch with the VLANs. Returns that bridge and the link's id.
pub fn host_port(
    s: &Scenario,
    net: &Net,
    bridge: &str,
    lab_ns: &str,
    p: HostPort,
    span: crate::scenario::Span,
    out: &mut Vec<Desired>,
) -> (String, ResId) {
    let base = kname("vp", &[&s.name.value, &p.key]);
    let link = kinds::ovs_link::Attrs {
        netns: lab_ns.to_string(),
        a: format!("{base}a"),
        b: format!("{base}b"),
        host_bridge: Some(base.clone()),
        external: p.external,
        mtu: net.mtu.as_ref().map(|m| m.value as u64),
    };
    let port = kinds::ovs_port::Attrs {
        bridge: bridge.to_string(),
        port: link.b.clone(),
        tag: p.tag,
        trunks: p.trunks,
        patch_peer: None,
    };
    push(out, kind::OVS_LINK, &p.key, "net", &link, vec![ResId::new(kind::LAB, "lab")], span);
    let id = ResId::new(kind::OVS_LINK, p.key.clone());
    let deps = vec![id.clone(), ResId::new(kind::OVS_BRIDGE, net.name.value.clone())];
    push(out, kind::OVS_PORT, &p.key, "net", &port, deps, span);
    (base, id)
}

/// A `<connection type="vxlan" host= dst_port= src_port=>`: a tunnel from the net's switch to
/// another host's (VNI 0, as VNX's OVS tunnel port without a key), a trunk of its tags.
#[allow(clippy::too_many_arguments)]
fn vxlan_connection(
    s: &Scenario,
    net: &Net,
    c: &crate::scenario::Connection,
    bridge: &str,
    trunks: Vec<u16>,
    lab_ns: &str,
    out: &mut Vec<Desired>,
    errors: &mut Vec<Diag>,
) {
    let (name, cname) = (net.name.value.as_str(), c.name.value.as_str());
    let mut bad = |what: String, help: &str| {
        errors.push(Diag::error("vnx::connection", what).at(c.name.span, "this connection").help(help.to_string()))
    };
    let remote = match c.host.as_deref().map(|h| h.trim().parse::<std::net::IpAddr>()) {
        Some(Ok(ip)) => ip,
        Some(Err(_)) => {
            return bad(
                format!("connection `{cname}`'s host `{}` is not an IP address", c.host.as_deref().unwrap_or("")),
                "give the other host's address: host=\"192.0.2.7\"",
            )
        }
        None => {
            return bad(
                format!("vxlan connection `{cname}` names no host"),
                "give the other host's address: host=\"192.0.2.7\"",
            )
        }
    };
    let port = |v: &Option<String>, what: &str| -> Result<Option<u16>, String> {
        match v.as_deref().map(str::trim) {
            None => Ok(None),
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .map(Some)
                .ok_or(format!("connection `{cname}`'s {what} `{p}` is not a UDP port")),
        }
    };
    let (dst, src) = match (port(&c.dst_port, "dst_port"), port(&c.src_port, "src_port")) {
        (Ok(d), Ok(s)) => (d.unwrap_or(4789), s),
        (Err(e), _) | (_, Err(e)) => return bad(e, "a number from 1 to 65535"),
    };
    // The kernel keeps one VXLAN device per VNI and UDP port in a namespace: every tunnel
    // from this host to another is VNI 0, so two need two ports.
    let earlier = s
        .nets
        .iter()
        .flat_map(|n| n.connections.iter())
        .take_while(|o| !std::ptr::eq(*o, c))
        .filter(|o| o.kind == Some(ConnectionType::Vxlan))
        .find(|o| port(&o.dst_port, "").ok().flatten().unwrap_or(4789) == dst);
    if let Some(o) = earlier {
        return bad(
            format!("vxlan connections `{}` and `{cname}` both use UDP port {dst}", o.name.value),
            "give each vxlan connection of a lab its own dst_port (the other host's connection the same one)",
        );
    }
    let key = format!("{name}/{cname}");
    let ifname = kname("vc", &[&s.name.value, name, cname]);
    let tunnel = kinds::vxlan::Attrs {
        ifname: ifname.clone(),
        bridge: None,
        host_netns: Some(lab_ns.to_string()),
        vni: 0,
        local: None,
        port: dst,
        src_port: src,
        peers: vec![remote.to_string()],
        mtu: net.mtu.as_ref().map(|m| m.value as u64),
    };
    push(out, kind::VXLAN, &key, "net", &tunnel, vec![ResId::new(kind::LAB, "lab")], c.name.span);
    let port = kinds::ovs_port::Attrs { bridge: bridge.to_string(), port: ifname, tag: None, trunks, patch_peer: None };
    let deps = vec![ResId::new(kind::VXLAN, key.clone()), ResId::new(kind::OVS_BRIDGE, name)];
    push(out, kind::OVS_PORT, &key, "net", &port, deps, c.name.span);
}

/// A net's controllers: what the bridge is given, the address of its own port when a controller
/// is a node on the net, and the relays for the others.
struct Controllers {
    targets: Vec<String>,
    local_addr: Option<String>,
    relays: Vec<kinds::ovs_relay::Attrs>,
}

/// Where each controller `tcp:HOST[:PORT]` is reached from the switch, which runs in the lab's
/// namespace (it routes nowhere): a node's address on this net in band, through the bridge's
/// own port (given the highest free address of that subnet); anything else through a relay in
/// the host's namespace (the host's loopback included), as VNX's switch in the host reached it.
fn controllers(s: &Scenario, net: &Net, errors: &mut Vec<Diag>) -> Controllers {
    let name = net.name.value.as_str();
    let mut out = Controllers { targets: vec![], local_addr: None, relays: vec![] };
    let Some(written) = &net.controller else { return out };
    let on_net: Vec<ipnet::Ipv4Net> = s
        .nodes
        .iter()
        .flat_map(|n| n.interfaces.iter())
        .filter(|i| i.net.value == name)
        .flat_map(|i| i.ipv4.iter().filter_map(|a| a.net()))
        .collect();
    let mut subnet = None;
    let list = written.value.split(',').map(str::trim).filter(|c| !c.is_empty());
    for (i, c) in list.enumerate() {
        let Some((host, port)) = tcp_target(c) else {
            errors.push(
                Diag::error("vnx::ovs", format!("controller `{c}` of net `{name}` is not tcp:HOST:PORT"))
                    .at(written.span, "here")
                    .help("write each controller as tcp:ADDRESS:PORT (6653 when no port), separated by commas"),
            );
            continue;
        };
        let in_band = host.parse::<std::net::Ipv4Addr>().ok().and_then(|ip| on_net.iter().find(|n| n.addr() == ip));
        if let Some(n) = in_band {
            subnet = Some(n.trunc());
            out.targets.push(format!("tcp:{host}:{port}"));
            continue;
        }
        let relay = format!("{}-c{i}", kname("vo", &[&s.name.value, name]));
        let to = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        out.targets.push(format!("{}{relay}", kinds::ovs_relay::PREFIX));
        out.relays.push(kinds::ovs_relay::Attrs { name: relay, to });
    }
    let Some(subnet) = subnet else { return out };
    let used: Vec<std::net::Ipv4Addr> = on_net.iter().map(|n| n.addr()).collect();
    match subnet.hosts().rev().find(|a| !used.contains(a)) {
        Some(a) => out.local_addr = Some(format!("{a}/{}", subnet.prefix_len())),
        None => errors.push(
            Diag::error(
                "vnx::ovs",
                format!("net `{name}`'s controller subnet {subnet} has no free address for the switch's own port"),
            )
            .at(net.span, "here")
            .help("widen the subnet"),
        ),
    }
    out
}

/// `tcp:HOST[:PORT]` (`tcp:[V6]:PORT`): the host (an IP address or a host name) and the port.
fn tcp_target(c: &str) -> Option<(String, u16)> {
    let rest = c.strip_prefix("tcp:")?;
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h.parse::<std::net::Ipv6Addr>().ok()?.to_string(), after.strip_prefix(':'))
        }
        None => match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => 6653,
    };
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | ':'));
    name_ok.then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::tcp_target;

    #[test]
    fn controller_targets_are_read_strictly() {
        assert_eq!(tcp_target("tcp:10.0.0.1:6633"), Some(("10.0.0.1".into(), 6633)));
        assert_eq!(tcp_target("tcp:127.0.0.1"), Some(("127.0.0.1".into(), 6653)));
        assert_eq!(tcp_target("tcp:[::1]:6654"), Some(("::1".into(), 6654)));
        assert_eq!(tcp_target("tcp:ctl.lab:6653"), Some(("ctl.lab".into(), 6653)));
        for bad in [
            "ssl:10.0.0.1:6653",
            "tcp:",
            "tcp:10.0.0.1:0",
            "tcp:10.0.0.1:99999",
            "tcp:a b:1",
            "tcp:[zz]:1",
            "tcp:x;rm:1",
        ] {
            assert_eq!(tcp_target(bad), None, "{bad}");
        }
    }
}
