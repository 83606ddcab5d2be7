//! Virtual machine nodes (`type="libvirt"`): their desired resources. The node itself carries
//! the domain's definition (`vm`: CPUs, memory, disk, kernel, NICs) and the configuration drive
//! (`config`: the boot script and the files it copies), which vnx builds as an ISO the guest's
//! agent runs at boot. Addresses, routes and forwarding are resources of their own, as on `ns`
//! nodes, so that changing them is done in place through the agent.

use vnx_providers::kinds;

use vnx_providers::kinds::node::{Config, ConfigFile, Console, Disk, Kernel, Nic, Vm};

use super::desired::{automac, filetree_of, kname, route_list, HostFs, Options};
use super::resource::{kind, Attrs, Desired, ResId};
use crate::scenario::{seq_names, Diag, Node, Scenario};

/// The guest's kernel command line for direct kernel boot (the serial console is ttyS0).
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 panic=-1";

/// One of a VM's resources (provider `libvirt`), its kind's typed attributes serialised.
fn push<T: serde::Serialize>(out: &mut Vec<Desired>, k: &str, name: &str, attrs: &T, deps: Vec<ResId>, node: &Node) {
    let attrs: Attrs = kinds::to_attrs(attrs);
    out.push(Desired { id: ResId::new(k, name), provider: "libvirt".into(), attrs, deps, span: node.name.span });
}

/// Single-quotes a word for the guest's shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The resources of one VM node, or why it cannot run here.
#[allow(clippy::too_many_arguments)]
pub fn vm_node(
    s: &Scenario,
    node: &Node,
    index: usize,
    opts: &Options,
    fs: &dyn HostFs,
    bridges: &std::collections::HashMap<&str, String>,
    ovs: (&std::collections::HashMap<&str, String>, &str),
    mgmt_nic: Option<Nic>,
    out: &mut Vec<Desired>,
    errors: &mut Vec<Diag>,
    warnings: &mut Vec<Diag>,
) {
    let scen = s.name.value.as_str();
    let nname = node.name.value.as_str();
    let node_id = ResId::new(kind::NODE, nname);
    let automac_offset = s.automac.as_ref().map(|a| a.offset.as_ref().map_or(0, |o| o.value));
    // The disk: a qcow2 overlay on the image (cow) or the image itself (direct).
    // A file at that path is the disk; else an image built by `vnx image build` (its disk, and
    // its own kernel to boot, unless the node names one).
    let built =
        node.filesystem.as_ref().filter(|f| fs.file(&f.path.value).is_none()).and_then(|f| fs.image(&f.path.value));
    if let (Some(b), Some(f)) = (&built, &node.filesystem) {
        if let Some(note) = &b.note {
            warnings.push(Diag::warning("vnx::image", note.clone()).at(f.path.span, "this image"));
        }
    }
    let disk = node.filesystem.as_ref().and_then(|f| match fs.file(&f.path.value).or(built.as_ref().map(|b| b.disk.clone())) {
        Some(path) => Some(Disk { kind: f.kind.map(|k| k.to_string()).unwrap_or_else(|| "cow".into()), path }),
        None => {
            errors.push(
                Diag::error("vnx::image", format!("the disk image `{}` of node `{nname}` is not on this host", f.path.value))
                    .at(f.path.span, "no such file")
                    .help("build one: vnx image build rootfs_kvm (VNX's KVM image names use it), or vnx image build NAME and <filesystem>NAME</filesystem>; or point <filesystem> at an image that exists"),
            );
            None
        }
    });
    let kernel = node.kernel.as_ref().and_then(|k| {
        let found = |p: &str, what: &str, errors: &mut Vec<Diag>| {
            let f = fs.file(p);
            if f.is_none() {
                errors.push(
                    Diag::error("vnx::image", format!("the {what} `{p}` of node `{nname}` is not on this host"))
                        .at(k.path.span, "no such file")
                        .help("images/build-test-guest.sh builds a small kernel and initramfs for tests"),
                );
            }
            f
        };
        let path = found(&k.path.value, "kernel", errors)?;
        let initrd = match &k.initrd {
            Some(i) => Some(found(i, "initrd", errors)?),
            None => None,
        };
        Some(Kernel { path, initrd, cmdline: DEFAULT_CMDLINE.into() })
    });
    let kernel = kernel.or_else(|| {
        built.as_ref().filter(|_| node.kernel.is_none()).map(|b| Kernel {
            path: b.kernel.clone(),
            initrd: Some(b.initrd.clone()),
            cmdline: b.cmdline.clone(),
        })
    });
    if node.filesystem.is_none() && node.kernel.is_none() {
        errors.push(
            Diag::error(
                "vnx::image",
                format!("node `{nname}` has neither a <filesystem> disk image nor a <kernel> to boot"),
            )
            .at(node.name.span, "a virtual machine needs one")
            .help("add <filesystem type=\"cow\">IMAGE</filesystem>, or <kernel initrd=\"INITRD\">KERNEL</kernel>"),
        );
    }
    // NICs, in the guest's interface order; each renamed by its MAC to eth<id> at boot.
    let mut nics: Vec<Nic> = Vec::new();
    let mut deps = vec![];
    if let Some(m) = mgmt_nic {
        nics.push(m);
    }
    for iface in &node.interfaces {
        let net = iface.net.value.as_str();
        if net == "lo" || net == "vm_mgmt" {
            continue;
        }
        let bridge = match (bridges.get(net), ovs.0.get(net), s.net(net)) {
            (Some(b), _, _) => {
                deps.push(ResId::new(kind::NET, net));
                b.clone()
            }
            // An Open vSwitch net: the tap joins a bridge of its own, linked to a switch port
            // with the interface's VLANs.
            (None, Some(switch), Some(n)) => {
                let (tag, trunks) = super::ovs::vlans(iface.vlan.as_ref());
                let key = format!("{nname}/{}", iface.id.value);
                let port = super::ovs::HostPort { key, external: None, tag, trunks };
                let (bridge, link) = super::ovs::host_port(s, n, switch, ovs.1, port, iface.span, out);
                deps.push(link);
                bridge
            }
            _ => {
                errors.push(
                    Diag::error(
                        "vnx::not-supported",
                        format!(
                            "interface {} of virtual machine `{nname}`: only virtual_bridge and openvswitch nets are supported for VMs yet",
                            iface.id.value
                        ),
                    )
                    .at(iface.span, "here")
                    .help("put the VM on a net with mode=\"virtual_bridge\" or \"openvswitch\""),
                );
                continue;
            }
        };
        let mac = iface
            .mac
            .as_ref()
            .map(|m| m.value.to_string())
            .or_else(|| automac_offset.map(|o| automac(o, index, iface.id.value).to_string()))
            .unwrap_or_else(|| {
                let h = kname("", &[scen, nname, &iface.id.value.to_string()]);
                format!("02:fe:{}:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6], &h[6..8])
            });
        nics.push(Nic {
            ifname: format!("eth{}", iface.id.value),
            mac: Some(mac),
            bridge: Some(bridge),
            tap: None,
            node_addr: None,
            mtu: s.net(net).and_then(|n| n.mtu.as_ref()).map(|m| m.value as u64),
        });
        if iface.bw.is_some() || iface.delay.is_some() || iface.loss.is_some() {
            errors.push(
                Diag::error(
                    "vnx::not-supported",
                    format!("link conditions on virtual machine `{nname}`'s interfaces are not supported yet"),
                )
                .at(iface.span, "here")
                .help("put the conditions on an ns node's interface"),
            );
        }
    }
    deps.sort();
    deps.dedup();
    // The configuration drive: the guest's agent runs boot.sh at every boot.
    let basedir =
        node.basedir.as_ref().or(s.defaults.as_ref().and_then(|d| d.basedir.as_ref())).map(|b| b.value.as_str());
    let mut script =
        format!("# written by vnx for node {nname} of {scen}\nhostname {0}\necho {0} > /etc/hostname\n", sh(nname));
    script.push_str("# NICs are named by their MAC: first out of the way, then eth<id>.\n");
    script.push_str("i=0; for d in /sys/class/net/*; do n=${d##*/}; [ \"$n\" = lo ] && continue; ip link set \"$n\" name vnxtmp$i; i=$((i+1)); done\n");
    for n in &nics {
        let (mac, ifname) = (n.mac.as_deref().unwrap_or_default(), n.ifname.as_str());
        script.push_str(&format!(
            "for d in /sys/class/net/*; do [ \"$(cat $d/address)\" = {mac} ] && ip link set \"${{d##*/}}\" name {ifname}; done; ip link set {ifname} up\n"
        ));
    }
    let mut files = Vec::new();
    for iface in &node.interfaces {
        let ifname = format!("eth{}", iface.id.value);
        for a in iface.ipv4.iter().filter_map(|a| a.net()) {
            script.push_str(&format!("ip addr add {a} dev {ifname}\n"));
        }
        for a in iface.ipv6.iter().filter_map(|a| a.net()) {
            script.push_str(&format!("ip -6 addr add {a} dev {ifname} nodad\n"));
        }
        // DHCP: the guest's dhclient, in the background (the lease comes when a server answers).
        for a in &iface.ipv4 {
            if let crate::scenario::values::Ipv4Config::Dhcp(requested) = a.value {
                script.push_str(&dhclient(&ifname, "-4", requested));
            }
        }
        if iface.ipv6.iter().any(|a| a.net().is_none()) {
            script.push_str(&dhclient(&ifname, "-6", None));
        }
    }
    if let Some(m) = nics.first().filter(|n| n.ifname == "eth0") {
        match &m.node_addr {
            Some(a) => script.push_str(&format!("ip addr add {a} dev eth0\n")),
            // <mgmt_net config="dhcp">
            None if m.bridge.is_some() => script.push_str(&dhclient("eth0", "-4", None)),
            None => {}
        }
    }
    if let Some(f) = &node.forwarding {
        script.push_str(&format!(
            "echo {} > /proc/sys/net/ipv4/ip_forward\necho {} > /proc/sys/net/ipv6/conf/all/forwarding\n",
            u8::from(f.ipv4()),
            u8::from(f.ipv6())
        ));
    }
    for r in route_list(&node.routes) {
        let (to, gw) = (r.to.as_str(), r.gw.as_str());
        let fam = if gw.contains(':') { "-6 " } else { "" };
        script.push_str(&format!("ip {fam}route replace {to} via {gw}\n"));
    }
    for (i, f) in node.filetrees.iter().filter(|f| seq_names(&f.seq).any(|q| q == "on_boot")).enumerate() {
        let ft = filetree_of(f, fs.source(&f.source.value, basedir));
        script.push_str(&format!("mkdir -p {0} && cp -a /config/files/{i}/. {0}\n", sh(&f.root.value)));
        files.push(ConfigFile { n: i, source: ft.source });
    }
    // Processed as every command is (VNX's continuations and `;`), with its ostype and user.
    for e in node.execs.iter().filter(|e| seq_names(&e.seq).any(|q| q == "on_boot")) {
        let (ostype, user) = (e.ostype.as_ref().map(|o| o.value.as_str()), e.user.as_ref().map(|u| u.value.as_str()));
        match crate::engine::exec::script_for(&e.command.value, ostype, user) {
            Ok(cmd) => script.push_str(&format!("sh -c {}\n", sh(&cmd))),
            Err(why) => errors.push(
                Diag::error("vnx::ostype", format!("an on_boot command of node `{nname}`: {why}"))
                    .at(e.span, "here")
                    .help(
                        "on_boot commands of virtual machines run at boot, with no display: use ostype system or exec",
                    ),
            ),
        }
    }
    script.push_str("touch /run/vnx-boot-done\n");
    let vm = Vm {
        domain: vnx_providers::names::node_netns(scen, nname),
        vcpu: node.vcpu.as_ref().map_or(1, |v| v.value as u64),
        mem_mib: node.mem.as_ref().map_or(256, |m| m.value.mib),
        arch: node.arch.as_ref().map_or("x86_64".to_string(), |a| a.value.clone()),
        disk,
        kernel,
        nics,
        consoles: node
            .consoles
            .iter()
            .map(|c| Console { id: c.id.value, display: c.display, kind: c.value.clone() })
            .collect(),
    };
    push(
        out,
        kind::NODE,
        nname,
        &kinds::node::Attrs {
            provider: "libvirt".into(),
            hostname: nname.into(),
            run: opts.runs.get(nname).map(String::as_str).unwrap_or("running").into(),
            rootfs: None,
            netns: None,
            vm: Some(vm),
            config: Some(Config { script, files }),
        },
        deps,
        node,
    );
    // Addresses, routes and forwarding: changed in place through the agent.
    let mut addr_ids = Vec::new();
    for iface in &node.interfaces {
        let v4: Vec<String> = iface.ipv4.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
        let v6: Vec<String> = iface.ipv6.iter().filter_map(|a| a.net()).map(|n| n.to_string()).collect();
        if v4.is_empty() && v6.is_empty() {
            continue;
        }
        let key = format!("{nname}/{}", iface.id.value);
        push(
            out,
            kind::ADDRESSES,
            &key,
            &kinds::addresses::Attrs {
                node: nname.into(),
                ifname: format!("eth{}", iface.id.value),
                ipv4: v4,
                ipv6: v6,
            },
            vec![node_id.clone()],
            node,
        );
        addr_ids.push(ResId::new(kind::ADDRESSES, key));
    }
    if !node.routes.is_empty() {
        let mut d = vec![node_id.clone()];
        d.extend(addr_ids);
        let routes = kinds::routes::Attrs { node: nname.into(), routes: route_list(&node.routes) };
        push(out, kind::ROUTES, nname, &routes, d, node);
    }
    if let Some(f) = &node.forwarding {
        push(
            out,
            kind::FORWARDING,
            nname,
            &kinds::forwarding::Attrs { node: nname.into(), ipv4: f.ipv4(), ipv6: f.ipv6() },
            vec![node_id],
            node,
        );
    }
}

/// The boot script's lines that start the guest's DHCP client on `ifname` (`-4` or `-6`),
/// asking for `requested` when given (`dhcp,A.B.C.D`).
fn dhclient(ifname: &str, family: &str, requested: Option<std::net::Ipv4Addr>) -> String {
    let conf = format!("/run/vnx-dhclient{family}-{ifname}.conf");
    let ask = requested.map(|a| format!("send dhcp-requested-address {a};")).unwrap_or_default();
    format!(
        "echo '{ask}' > {conf}\nif command -v dhclient >/dev/null; then dhclient {family} -nw -cf {conf} -pf /run/vnx-dhclient{family}-{ifname}.pid -lf /run/vnx-dhclient{family}-{ifname}.leases {ifname}; else echo 'vnx: this image has no dhclient: {ifname} gets no address' >&2; fi\n"
    )
}
