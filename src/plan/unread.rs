//! What a scenario may say that vnx reads but does not act on (yet). Nothing is dropped
//! silently: each such element or attribute is a refusal, where the lab would be wrong without
//! it, or a warning that names what will be missing, where the lab still makes sense.
//!
//! Accepted without a word, because nothing is missing without them:
//! - `exec_mode` (a node's attribute, `<vm_defaults><exec_mode>`): how VNX carried commands into a
//!   VM; vnx carries them through its agent, whatever the mode.
//! - `os_subtype`, `<video>`, `<filesystem>`'s `bus`/`loader`/`vm_type`: details of images and
//!   displays that change nothing a lab does.
//!
//! Read, and refused with their node or net type elsewhere (desired.rs): UML's (`<kernel>`'s
//! `devfs`/`modules`/`trace`, `<tun_device>`, `uml_switch_binary`, `hub`, the `capture_*`
//! attributes of uml_switch nets), Dynamips' and Olive's (`<dynamips_ext>`, `<olive_ext>`).

use super::desired::{HostFs, KernelFeature};
use crate::scenario::{Diag, Scenario, Span, User};

/// The refusals and the warnings for what `s` says that vnx does not act on.
pub fn unread(s: &Scenario, fs: &dyn HostFs) -> (Vec<Diag>, Vec<Diag>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let missing = |code: &'static str, what: String| Diag::warning(code, what);
    if s.vnx_cfg.is_some() {
        warnings.push(
            missing("vnx::unread", "<vnx_cfg> names a VNX configuration file: vnx reads none".into())
                .at(s.name.span, "in this scenario")
                .help("vnx's settings are its command-line options and environment (vnx --help); remove <vnx_cfg>"),
        );
    }
    for k in &s.ssh_keys {
        warnings.push(
            missing("vnx::unread", format!("the SSH key `{}` is not installed in the nodes", k.value))
                .at(k.span, "not installed")
                .help("install it with a <filetree> into /root/.ssh/authorized_keys, or remove <ssh_key>"),
        );
    }
    if let Some(c) = s.netconfig.as_ref().filter(|c| c.promisc.is_some()) {
        warnings.push(
            missing("vnx::unread", "<netconfig promisc> is not applied: nodes' interfaces are not made promiscuous".into())
                .at(c.span, "here")
                .help("bridges forward every frame without it; run `ip link set IF promisc on` in an <exec> if a node needs it"),
        );
    }
    if let Some(d) = &s.defaults {
        for u in &d.users {
            warnings.push(user_missing(u, "every virtual machine"));
        }
    }
    for n in &s.nodes {
        let name = &n.name.value;
        let vm = n.node_type.value == "libvirt";
        if let Some(h) = &n.host {
            warnings.push(
                missing(
                    "vnx::unread",
                    format!("node `{name}` names host `{}`, but this lab runs on this machine alone", h.value),
                )
                .at(h.span, "used in labs over a cluster only")
                .help("apply with --cluster FILE to spread the lab over hosts, or remove host="),
            );
        }
        for d in &n.shared_dirs {
            warnings.push(
                missing(
                    "vnx::unread",
                    format!("the shared directory `{}` is not mounted at {} in node `{name}`", d.source.value, d.root.value),
                )
                .at(d.source.span, "not mounted")
                .help(if vm {
                    "copy the files in with a <filetree>, or remove <shareddir>"
                } else {
                    "an ns node without <filesystem> sees the host's files at their own paths; or copy them in with a <filetree>"
                }),
            );
        }
        for u in &n.users {
            warnings.push(user_missing(u, &format!("node `{name}`")));
        }
        for st in &n.storage {
            warnings.push(
                missing("vnx::unread", format!("the disk `{}` is not attached to node `{name}`", st.path.value))
                    .at(st.path.span, "not attached")
                    .help("vnx attaches a VM's root filesystem only; remove <storage>, or add the disk's files to the image"),
            );
        }
        if let Some(c) = &n.cdrom {
            warnings.push(
                missing("vnx::unread", format!("the CD-ROM `{c}` is not attached to node `{name}`"))
                    .at(n.name.span, "this node")
                    .help("vnx attaches a VM's root filesystem only; remove <cdrom>"),
            );
        }
        if n.vcpu_quota.is_some() {
            warnings.push(
                missing("vnx::unread", format!("vcpu_quota is not applied to node `{name}`: its CPUs are not capped"))
                    .at(n.name.span, "this node")
                    .help("remove vcpu_quota; the node's <vcpu> count is applied"),
            );
        }
        for c in &n.consoles {
            if let Some(p) = &c.port {
                warnings.push(
                    missing("vnx::unread", format!("console port {} of node `{name}` is not opened", p.value))
                        .at(p.span, "not opened")
                        .help("open the console with `vnx console SCENARIO -M NODE`; remove port="),
                );
            }
        }
        for i in &n.interfaces {
            for d in &i.dns {
                warnings.push(
                    missing(
                        "vnx::unread",
                        format!("the name server {} is not written in node `{name}`'s resolver configuration", d.value),
                    )
                    .at(d.span, "not written")
                    .help("write /etc/resolv.conf with a <filetree> or an <exec>, or remove <dns>"),
                );
            }
            if let Some(v) = i.vlan.as_ref().filter(|_| !on_ovs(s, &i.net.value)) {
                errors.push(vlan_refused(v.span, &format!("node `{name}`"), fs));
            }
        }
    }
    for net in &s.nets {
        if let Some(b) = &net.ppp_bw {
            warnings.push(
                missing(
                    "vnx::unread",
                    format!("ppp_bw is not applied to net `{}`: the link has no bandwidth limit", net.name.value),
                )
                .at(b.span, "not applied")
                .help("write the bandwidth as bw= on the net (tbf), which vnx applies"),
            );
        }
    }
    if let Some(h) = &s.host {
        for i in &h.interfaces {
            if let Some(v) = i.vlan.as_ref().filter(|_| !on_ovs(s, &i.net.value)) {
                errors.push(vlan_refused(v.span, "the host", fs));
            }
        }
        for p in &h.physical_interfaces {
            warnings.push(
                missing(
                    "vnx::unread",
                    format!(
                        "<physicalif> `{}` is not applied: vnx never reconfigures the machine's own interfaces",
                        p.name.value
                    ),
                )
                .at(p.name.span, "not applied")
                .help("the interface keeps the addresses it has; remove <physicalif>"),
            );
        }
    }
    (errors, warnings)
}

fn user_missing(u: &User, of: &str) -> Diag {
    Diag::warning("vnx::unread", format!("user `{}` is not created in {of}", u.username.value))
        .at(u.username.span, "not created")
        .help("create it with an <exec> (useradd) in an on_boot sequence, or remove <user>")
}

/// Whether `net` is an Open vSwitch net (whose ports take VLAN tags).
fn on_ovs(s: &Scenario, net: &str) -> bool {
    s.net(net).is_some_and(|n| n.mode.value == crate::scenario::values::NetMode::Openvswitch)
}

/// VLAN tags on an interface of a Linux bridge's net: without them the lab's traffic would
/// cross VLANs it must not. Bridge VLAN filtering needs the kernel's 802.1Q support: a kernel
/// without it is named as the reason; on one with it, vnx does not use it yet.
fn vlan_refused(span: Span, of: &str, fs: &dyn HostFs) -> Diag {
    let what = format!("VLAN tags on an interface of {of} on a virtual_bridge net (<vlan>)");
    if !fs.kernel_has(KernelFeature::Vlan) {
        return vlan_lacking(format!("{what} need VLAN filtering on the Linux bridge"), span);
    }
    Diag::error("vnx::not-supported", format!("{what} are not supported yet"))
        .at(span, "here")
        .help("put the net on Open vSwitch (mode=\"openvswitch\"), each VLAN on a net of its own, or remove <vlan>")
}

/// `what` needs the kernel's 802.1Q VLANs, which this machine's kernel lacks.
pub(super) fn vlan_lacking(what: String, span: Span) -> Diag {
    Diag::error("vnx::kernel-lacks", format!("{what}: the kernel's 802.1Q VLAN support, which this machine's kernel lacks"))
        .at(span, "here")
        .help(format!(
            "`vnx doctor` shows it on its `{}` line; put the net on Open vSwitch (mode=\"openvswitch\"), which tags VLANs in its own switch, or run the lab on a kernel with 802.1Q",
            KernelFeature::Vlan.doctor_line()
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, Document, Format};

    const SAYS_MUCH: &str = r#"<vnx>
  <global>
    <version>2.0</version><scenario_name>much</scenario_name>
    <ssh_key>/root/.ssh/id_rsa.pub</ssh_key>
    <vm_mgmt type="none"/>
    <netconfig promisc="on"/>
    <vnx_cfg>/etc/vnx.conf</vnx_cfg>
  </global>
  <net name="lan" mode="virtual_bridge"/>
  <net name="ppp" mode="virtual_bridge" type="ppp"><bw>256000</bw></net>
  <vm name="a" type="libvirt" subtype="kvm" os="linux" vcpu_quota="50">
    <cdrom>/tmp/x.iso</cdrom>
    <storage>/tmp/disk.img</storage>
    <shareddir root="/shared">shared</shareddir>
    <user username="ann"/>
    <console id="0" port="2000">yes</console>
    <if id="1" net="lan"><ipv4>10.0.0.1/24</ipv4><dns>10.0.0.53</dns></if>
  </vm>
  <vm name="b" type="lxc">
    <if id="1" net="lan"><vlan><tag id="5"/></vlan><ipv4>10.0.0.2/24</ipv4></if>
  </vm>
  <host><physicalif name="eth9" ip="10.9.9.9" mask="255.255.255.0"/></host>
</vnx>"#;

    #[test]
    fn every_part_vnx_does_not_act_on_is_said() {
        let (Some(Document::Scenario(s)), _) = parse(SAYS_MUCH, Format::Xml) else { panic!("a scenario") };
        let (errors, warnings) = unread(&s, &crate::plan::desired::KernelLacks(&[]));
        let said: Vec<&str> = warnings.iter().map(|d| d.message.as_str()).collect();
        for part in [
            "<vnx_cfg>",
            "SSH key `/root/.ssh/id_rsa.pub`",
            "promisc",
            "shared directory `shared`",
            "user `ann`",
            "disk `/tmp/disk.img`",
            "CD-ROM `/tmp/x.iso`",
            "vcpu_quota",
            "console port 2000",
            "name server 10.0.0.53",
            "ppp_bw",
            "<physicalif> `eth9`",
        ] {
            assert!(said.iter().any(|m| m.contains(part)), "nothing says {part}: {said:#?}");
        }
        assert_eq!(said.len(), 12, "{said:#?}");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("VLAN tags on an interface of node `b`"), "{}", errors[0].message);
        assert!(warnings.iter().chain(&errors).all(|d| d.primary_span().is_some_and(|s| !s.is_empty())));
        // On a kernel without 802.1Q the refusal names what is missing and where doctor says so.
        let (errors, _) = unread(&s, &crate::plan::desired::KernelLacks(&[KernelFeature::Vlan]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "vnx::kernel-lacks");
        assert!(errors[0].message.contains("802.1Q VLAN support"), "{}", errors[0].message);
        assert!(format!("{:?}", errors[0].help).contains("`802.1Q VLANs` line"), "{:?}", errors[0].help);
    }
}
