//! Daemons a node's commands start: an `ns` node runs the programs of its root (the host's, or
//! its `<filesystem>`), so a node whose `on_boot` starts FRR on a root without FRR would fail
//! mid-apply with "not found". The plan says so first, naming the Debian package; a daemon of
//! another sequence (run later, by hand) is a warning.

use super::desired::{HostFs, KernelFeature};
use crate::scenario::{seq_names, Diag, Node, Span};

/// A daemon recognised in commands: what names it, the file its root must have, its package.
struct Daemon {
    what: &'static str,
    words: &'static [&'static str],
    file: &'static str,
    package: &'static str,
}

const DAEMONS: &[Daemon] = &[
    Daemon {
        what: "FRR",
        words: &["frrinit.sh", "/usr/lib/frr/", "vtysh"],
        file: "/usr/lib/frr/frrinit.sh",
        package: "frr",
    },
    Daemon { what: "dnsmasq", words: &["dnsmasq"], file: "/usr/sbin/dnsmasq", package: "dnsmasq-base" },
    Daemon { what: "dhclient", words: &["dhclient"], file: "/sbin/dhclient", package: "isc-dhcp-client" },
    Daemon { what: "the Apache web server", words: &["apache2"], file: "/usr/sbin/apache2", package: "apache2" },
    Daemon {
        what: "Open vSwitch",
        words: &["ovs-vsctl", "ovs-ofctl"],
        file: "/usr/bin/ovs-vsctl",
        package: "openvswitch-switch",
    },
];

/// How a message names a node's root.
fn root_of(rootfs: &str) -> String {
    if rootfs == "/" {
        "this host".to_string()
    } else {
        format!("its root filesystem {rootfs}")
    }
}

/// How to get a package onto a node's root.
fn install(rootfs: &str, package: &str) -> String {
    if rootfs == "/" {
        format!("install it: apt-get install --no-install-recommends {package} (Debian's package)")
    } else {
        format!("install Debian's `{package}` package into {rootfs}")
    }
}

/// Whether `text` names `word` as a word of a command (not inside a longer name).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
        (word.starts_with('/') || edge(before)) && (word.ends_with('/') || edge(after))
    })
}

/// The errors (on_boot) and warnings (other sequences) for daemons `node`'s execs start that
/// its root `rootfs` lacks.
pub fn check(node: &Node, rootfs: &str, fs: &dyn HostFs, errors: &mut Vec<Diag>, warnings: &mut Vec<Diag>) {
    let name = &node.name.value;
    // An interface on DHCP runs dhclient in the node.
    let dhcp = node.interfaces.iter().flat_map(|i| {
        i.ipv4
            .iter()
            .filter(|a| a.net().is_none())
            .map(|a| a.span)
            .chain(i.ipv6.iter().filter(|a| a.net().is_none()).map(|a| a.span))
    });
    if let Some(span) = dhcp.into_iter().next() {
        errors.extend(missing("isc-dhcp-client", name, "its DHCP client", rootfs, fs, (span, "DHCP here")));
    }
    for d in DAEMONS {
        let Some(e) = node.execs.iter().find(|e| d.words.iter().any(|w| names(&e.command.value, w))) else { continue };
        // A bridge of Open vSwitch's default datapath needs the kernel's: a machine limit,
        // which installing the package does not lift (the userspace one, netdev, needs none).
        let ovs = d.package == "openvswitch-switch";
        if ovs && !e.command.value.contains("netdev") && !fs.kernel_has(KernelFeature::OvsDatapath) {
            let msg = format!(
                "this machine's kernel has no Open vSwitch datapath (`vnx doctor`: {}), which the Open vSwitch commands of node `{name}` need",
                KernelFeature::OvsDatapath.doctor_line()
            );
            let help = "run the node where the openvswitch module loads, or make its bridges with datapath_type=netdev (Open vSwitch's userspace datapath)";
            if seq_names(&e.seq.value).any(|s| s == "on_boot") {
                errors.push(Diag::error("vnx::kernel", msg).at(e.command.span, "here").help(help));
            } else {
                warnings.push(Diag::warning("vnx::kernel", msg).at(e.command.span, "here").help(help));
            }
            continue;
        }
        let path = format!("{}{}", rootfs.trim_end_matches('/'), d.file);
        if fs.file(&path).is_some() {
            continue;
        }
        let on_boot = node.execs.iter().any(|e| {
            seq_names(&e.seq.value).any(|s| s == "on_boot") && d.words.iter().any(|w| names(&e.command.value, w))
        });
        let (root, help) = (root_of(rootfs), install(rootfs, d.package));
        // Worded so that one finding about several nodes reads right ("for nodes `a`, `b`").
        let msg = format!("{} ({}) is missing from {root}, for node `{name}`", d.what, d.file);
        if on_boot {
            errors.push(
                Diag::error("vnx::missing-daemon", format!("{msg} (started on boot)"))
                    .at(e.command.span, "started here")
                    .help(help),
            );
        } else {
            warnings.push(
                Diag::warning("vnx::missing-daemon", format!("{msg} (sequence `{}` will fail)", e.seq.value))
                    .at(e.command.span, "started here")
                    .help(help),
            );
        }
    }
}

/// An error when `rootfs` lacks the daemon of `package` that node `name` runs (`why`), pointing
/// at what asks for it (`at`: its place and label).
pub fn missing(package: &str, name: &str, why: &str, rootfs: &str, fs: &dyn HostFs, at: (Span, &str)) -> Option<Diag> {
    let d = DAEMONS.iter().find(|d| d.package == package).expect("a listed daemon");
    let path = format!("{}{}", rootfs.trim_end_matches('/'), d.file);
    fs.file(&path).is_none().then(|| {
        Diag::error(
            "vnx::missing-daemon",
            format!("{} ({}) is missing from {}, for node `{name}` ({why})", d.what, d.file, root_of(rootfs)),
        )
        .at(at.0, at.1)
        .help(install(rootfs, d.package))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with only the files listed.
    struct Has(&'static [&'static str]);

    impl HostFs for Has {
        fn rootfs(&self, _: &str) -> Option<String> {
            None
        }
        fn source(&self, _: &str, _: Option<&str>) -> Option<String> {
            None
        }
        fn file(&self, path: &str) -> Option<String> {
            self.0.contains(&path).then(|| path.to_string())
        }
        fn path(&self, path: &str) -> String {
            path.to_string()
        }
    }

    fn node(execs: &[(&str, &str)]) -> Node {
        Node {
            name: crate::scenario::Spanned::bare("r1".into()),
            execs: execs
                .iter()
                .map(|(seq, cmd)| crate::scenario::Exec {
                    seq: crate::scenario::Spanned::bare(seq.to_string()),
                    command: crate::scenario::Spanned::bare(cmd.to_string()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn open_vswitch_bridges_without_the_kernels_datapath_are_a_machine_limit() {
        let (mut errors, mut warnings) = (vec![], vec![]);
        check(
            &node(&[("on_boot", "ovs-vsctl add-br sw")]),
            "/",
            &crate::plan::desired::KernelLacks(&[KernelFeature::OvsDatapath]),
            &mut errors,
            &mut warnings,
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("no Open vSwitch datapath (`vnx doctor`"), "{:?}", errors[0]);
        // The userspace datapath needs none; with the kernel's, nothing to say either.
        let (mut errors, mut warnings) = (vec![], vec![]);
        let netdev = node(&[("on_boot", "ovs-vsctl add-br sw -- set bridge sw datapath_type=netdev")]);
        check(
            &netdev,
            "/",
            &crate::plan::desired::KernelLacks(&[KernelFeature::OvsDatapath]),
            &mut errors,
            &mut warnings,
        );
        check(
            &node(&[("on_boot", "ovs-vsctl add-br sw")]),
            "/",
            &Has(&["/usr/bin/ovs-vsctl"]),
            &mut errors,
            &mut warnings,
        );
        assert!(errors.is_empty() && warnings.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_daemon_started_on_boot_that_the_root_lacks_is_refused_naming_its_package() {
        let n = node(&[("on_boot", "/usr/lib/frr/frrinit.sh start"), ("www", "service apache2 start")]);
        let (mut errors, mut warnings) = (vec![], vec![]);
        check(&n, "/", &Has(&[]), &mut errors, &mut warnings);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("FRR")
                && errors[0].help.as_deref().unwrap_or("").contains("apt-get install --no-install-recommends frr"),
            "{:?}",
            errors[0]
        );
        assert_eq!(warnings.len(), 1, "a daemon of another sequence is a warning");
        assert!(warnings[0].message.contains("apache2"));
        // Present: nothing to say; in a root filesystem: looked for there.
        let (mut errors, mut warnings) = (vec![], vec![]);
        check(&n, "/", &Has(&["/usr/lib/frr/frrinit.sh", "/usr/sbin/apache2"]), &mut errors, &mut warnings);
        assert!(errors.is_empty() && warnings.is_empty());
        check(&n, "/srv/rootfs", &Has(&["/usr/lib/frr/frrinit.sh"]), &mut errors, &mut warnings);
        assert!(errors[0].message.contains("/srv/rootfs"), "{:?}", errors[0]);
    }

    #[test]
    fn daemons_are_named_as_words_only() {
        assert!(names("chown -R frr:frr /etc/frr && /usr/lib/frr/frrinit.sh start", "frrinit.sh"));
        assert!(names("service apache2 start", "apache2"));
        assert!(!names("echo apache2-doc", "apache2"));
        assert!(!names("ls /etc/mydnsmasq.conf", "dnsmasq"));
        assert!(names("vtysh -c 'show ip route'", "vtysh"));
    }
}
