//! VNX's plugins as resources: what a plugin's configuration (`scenario/plugin.rs`) says
//! becomes `service`s (a daemon and its files, in a node) and `dhcp` clients, planned, applied,
//! changed in place and refreshed like the rest of the lab.
//!
//! - `dhcp`: a server or a relay is dnsmasq (VNX ran ISC's dhcpd and dhcrelay; dnsmasq serves
//!   the same subnets, ranges, options and fixed hosts, and relays, from one small package);
//!   clients are ISC's dhclient, as `<ipv4>dhcp</ipv4>` is. Clients start after the lab's
//!   servers and relays, so that their first request is answered.
//! - `ospf`: FRR's zebra and ospfd (VNX ran Quagga, which Debian no longer ships).

use std::fmt::Write;
use std::net::Ipv4Addr;

use vnx_providers::kinds;

use super::desired::{push, HostFs, Options};
use super::resource::{kind, Desired, ResId};
use crate::scenario::plugin::{DhcpNode, OspfNode, Plugin, Subnet};
use crate::scenario::{Diag, Extension, Scenario};

/// FRR's daemons file for an OSPF router: zebra and ospfd, their vty on loopback only.
const FRR_DAEMONS: &str = "# written by vnx: zebra and ospfd (VNX's ospf plugin)\n\
bgpd=no\nospfd=yes\nospf6d=no\nripd=no\nripngd=no\nisisd=no\npimd=no\nldpd=no\nnhrpd=no\n\
eigrpd=no\nbabeld=no\nsharpd=no\npbrd=no\nbfdd=no\nfabricd=no\nvrrpd=no\npathd=no\n\
vtysh_enable=yes\nzebra_options=\"  -A 127.0.0.1 -s 90000000\"\nospfd_options=\"  -A 127.0.0.1\"\n";

/// Adds the resources of the scenario's plugins (`plugins[i]` read from `s.extensions[i]`).
pub fn plan(s: &Scenario, opts: &Options, fs: &dyn HostFs, out: &mut Vec<Desired>, errors: &mut Vec<Diag>) {
    for (i, ext) in s.extensions.iter().enumerate() {
        let Some(plugin) = opts.plugins.get(i).and_then(|p| p.as_ref()) else {
            let help = if crate::scenario::plugin::KNOWN.contains(&ext.plugin.as_str()) {
                "its configuration file was not read: run vnx with the scenario's file".to_string()
            } else {
                format!(
                    "vnx runs VNX's {} plugins; configure this one's service with the nodes' <exec> commands, or remove the <extension>",
                    crate::scenario::plugin::KNOWN.join(" and ")
                )
            };
            errors.push(
                Diag::error("vnx::not-supported", format!("VNX's `{}` plugin is not supported", ext.plugin))
                    .at(ext.span, "here")
                    .help(help),
            );
            continue;
        };
        match plugin {
            Plugin::Dhcp(nodes) => dhcp(s, ext, nodes, fs, out, errors),
            Plugin::Ospf(nodes) => ospf(ext, nodes, fs, out, errors),
        }
    }
}

/// The node's root directory (as planned), or an error when it is not an `ns` node.
fn root_of(out: &[Desired], node: &str, ext: &Extension, errors: &mut Vec<Diag>) -> Option<String> {
    let d = out.iter().find(|d| d.id.kind == kind::NODE && d.id.name == node)?;
    let attrs: kinds::node::Attrs = d.typed().ok()?;
    match attrs.rootfs {
        Some(r) if attrs.vm.is_none() => Some(r),
        _ => {
            errors.push(
                Diag::error(
                    "vnx::not-supported",
                    format!("VNX's `{}` plugin in a virtual machine is not supported yet: node `{node}`", ext.plugin),
                )
                .at(ext.span, "here")
                .help(
                    "run the node as a namespace (--map libvirt=ns), or configure the service with its <exec> commands",
                ),
            );
            None
        }
    }
}

/// What a service in `node` starts after: the node and its links, addresses, routes.
fn after_network(out: &[Desired], node: &str) -> Vec<ResId> {
    let of_node = |d: &Desired| match d.id.kind.as_str() {
        kind::NODE => d.id.name == node,
        kind::P2P => d.typed::<kinds::p2p::Attrs>().is_ok_and(|a| a.a.node == node || a.b.node == node),
        kind::INTERFACE => d.typed::<kinds::interface::Attrs>().is_ok_and(|a| a.node == node),
        kind::ADDRESSES => d.typed::<kinds::addresses::Attrs>().is_ok_and(|a| a.node == node),
        kind::ROUTES => d.typed::<kinds::routes::Attrs>().is_ok_and(|a| a.node == node),
        kind::FORWARDING => d.typed::<kinds::forwarding::Attrs>().is_ok_and(|a| a.node == node),
        kind::MGMT => d.typed::<kinds::mgmt::Attrs>().is_ok_and(|a| a.node == node),
        _ => false,
    };
    out.iter().filter(|d| of_node(d)).map(|d| d.id.clone()).collect()
}

fn service(
    out: &mut Vec<Desired>,
    name: &str,
    attrs: kinds::service::Attrs,
    deps: Vec<ResId>,
    ext: &Extension,
) -> ResId {
    push(out, kind::SERVICE, name, "net", &attrs, deps, ext.span);
    ResId::new(kind::SERVICE, name)
}

fn dhcp(
    s: &Scenario,
    ext: &Extension,
    nodes: &[DhcpNode],
    fs: &dyn HostFs,
    out: &mut Vec<Desired>,
    errors: &mut Vec<Diag>,
) {
    let mut daemons = Vec::new();
    for d in nodes.iter().filter(|d| !d.server.is_empty() || !d.relay.is_empty()) {
        let Some(rootfs) = root_of(out, &d.node, ext, errors) else { continue };
        let role = if d.server.is_empty() { "relay" } else { "server" };
        if let Some(e) = super::daemons::missing(
            "dnsmasq-base",
            &d.node,
            &format!("its DHCP {role}"),
            &rootfs,
            fs,
            (ext.span, "the plugin"),
        ) {
            errors.push(e);
            continue;
        }
        let conf = format!("/etc/vnx/dhcp-{role}.conf");
        let mut text = format!(
            "# written by vnx from VNX's dhcp plugin ({}): dnsmasq as a DHCP {role}, no DNS\n\
             port=0\nuser=root\npid-file=/run/vnx-dhcp-{role}.pid\nlog-facility=/var/log/vnx-dhcp-{role}.log\nlog-dhcp\n",
            ext.conf
        );
        if d.server.is_empty() {
            let node = s.nodes.iter().find(|n| n.name.value == d.node).expect("the plugin's reader checked it");
            // Relay from every address of the node but those towards the servers.
            let locals: Vec<Ipv4Addr> = node
                .interfaces
                .iter()
                .flat_map(|i| i.ipv4.iter().filter_map(|a| a.net()))
                .filter(|n| !d.relay.iter().any(|srv| n.trunc().contains(srv)))
                .map(|n| n.addr())
                .collect();
            for local in &locals {
                for server in &d.relay {
                    let _ = writeln!(text, "dhcp-relay={local},{server}");
                }
            }
        } else {
            text.push_str(&format!("dhcp-authoritative\nno-ping\ndhcp-leasefile=/run/vnx-dhcp-{role}.leases\n"));
            for (i, sub) in d.server.iter().enumerate() {
                subnet(&mut text, i, sub);
            }
        }
        let attrs = kinds::service::Attrs {
            node: d.node.clone(),
            process: "dnsmasq".into(),
            pidfile: format!("/run/vnx-dhcp-{role}.pid"),
            files: [(conf.clone(), text)].into_iter().collect(),
            start: format!("dnsmasq --conf-file={conf}"),
            stop: None,
        };
        let deps = after_network(out, &d.node);
        daemons.push(service(out, &format!("{}/dhcp-{role}", d.node), attrs, deps, ext));
    }
    for d in nodes {
        for ifname in &d.client {
            let node = s.nodes.iter().find(|n| n.name.value == d.node).expect("the plugin's reader checked it");
            let iface =
                node.interfaces.iter().find(|i| node.ifname(i) == *ifname).expect("the plugin's reader checked it");
            let Some(rootfs) = root_of(out, &d.node, ext, errors) else { continue };
            if let Some(e) = super::daemons::missing(
                "isc-dhcp-client",
                &d.node,
                "its DHCP client",
                &rootfs,
                fs,
                (ext.span, "the plugin"),
            ) {
                errors.push(e);
                continue;
            }
            let name = format!("{}/{}/ipv4", d.node, iface.id.value);
            if out.iter().any(|x| x.id.kind == kind::DHCP && x.id.name == name) {
                continue; // the scenario says <ipv4>dhcp</ipv4> too
            }
            let mut deps = after_network(out, &d.node);
            deps.extend(daemons.iter().cloned());
            // The interface's MAC as planned (its own, or automac's).
            let mac = out
                .iter()
                .find(|x| x.id.kind == kind::INTERFACE && x.id.name == format!("{}/{}", d.node, iface.id.value))
                .and_then(|x| x.typed::<kinds::interface::Attrs>().ok()?.mac);
            let attrs = kinds::dhcp::Attrs {
                node: d.node.clone(),
                ifname: ifname.clone(),
                family: "ipv4".into(),
                requested: None,
                mac,
            };
            push(out, kind::DHCP, &name, "net", &attrs, deps, ext.span);
        }
    }
}

/// One subnet of a dnsmasq server: its ranges and fixed hosts, options tagged with the subnet.
fn subnet(text: &mut String, i: usize, sub: &Subnet) {
    let (tag, mask) = (format!("s{i}"), sub.network.netmask());
    let _ = writeln!(text, "# subnet {}", sub.network);
    for (first, last) in &sub.ranges {
        let _ = writeln!(text, "dhcp-range=set:{tag},{first},{last},{mask},1h");
    }
    if sub.ranges.is_empty() {
        // Only fixed hosts (or none: VNX declared every subnet the server is on).
        let _ = writeln!(text, "dhcp-range=set:{tag},{},static,{mask},1h", sub.network.network());
    }
    if !sub.routers.is_empty() {
        let r: Vec<String> = sub.routers.iter().map(|r| r.to_string()).collect();
        let _ = writeln!(text, "dhcp-option=tag:{tag},option:router,{}", r.join(","));
    }
    let dns: Vec<String> = sub.dns.iter().filter(|a| a.is_ipv4()).map(|a| a.to_string()).collect();
    if !dns.is_empty() {
        let _ = writeln!(text, "dhcp-option=tag:{tag},option:dns-server,{}", dns.join(","));
    }
    if let Some(d) = &sub.domain {
        let _ = writeln!(text, "dhcp-option=tag:{tag},option:domain-name,{d}");
    }
    for h in &sub.hosts {
        let _ = writeln!(text, "dhcp-host={},{},{}", h.mac, h.ip, h.name);
    }
}

fn ospf(ext: &Extension, nodes: &[OspfNode], fs: &dyn HostFs, out: &mut Vec<Desired>, errors: &mut Vec<Diag>) {
    for o in nodes {
        let Some(rootfs) = root_of(out, &o.node, ext, errors) else { continue };
        if let Some(e) =
            super::daemons::missing("frr", &o.node, "its OSPF router", &rootfs, fs, (ext.span, "the plugin"))
        {
            errors.push(e);
            continue;
        }
        let mut c = format!(
            "! written by vnx from VNX's ospf plugin ({}): FRR in place of Quagga\nfrr defaults traditional\nhostname {}\n",
            ext.conf,
            o.hostname.as_deref().unwrap_or(&o.node)
        );
        if let Some(p) = &o.password {
            let _ = writeln!(c, "password {p}");
        }
        c.push_str("!\n");
        if let Some((description, address)) = &o.lo {
            c.push_str("interface lo\n");
            if !description.is_empty() {
                let _ = writeln!(c, " description {description}");
            }
            let _ = writeln!(c, " ip address {address}\n!");
        }
        for (ifname, settings) in &o.ifs {
            let _ = writeln!(c, "interface {ifname}");
            for s in settings {
                let _ = writeln!(c, " ip ospf {s}");
            }
            c.push_str("!\n");
        }
        c.push_str("router ospf\n");
        if let Some(id) = o.router_id {
            let _ = writeln!(c, " ospf router-id {id}");
        }
        for (net, area) in &o.networks {
            let _ = writeln!(c, " network {net} area {area}");
        }
        for p in &o.passive {
            let _ = writeln!(c, " passive-interface {p}");
        }
        c.push_str("!\nline vty\n!\n");
        let attrs = kinds::service::Attrs {
            node: o.node.clone(),
            process: "ospfd".into(),
            pidfile: "/run/frr/ospfd.pid".into(),
            files: [("/etc/frr/daemons".to_string(), FRR_DAEMONS.to_string()), ("/etc/frr/frr.conf".to_string(), c)]
                .into_iter()
                .collect(),
            // FRR's daemons run as frr and read their configuration as frr.
            start: "chown -R frr:frr /etc/frr && /usr/lib/frr/frrinit.sh start".into(),
            stop: Some("/usr/lib/frr/frrinit.sh stop".into()),
        };
        let deps = after_network(out, &o.node);
        service(out, &format!("{}/ospf", o.node), attrs, deps, ext);
    }
}
