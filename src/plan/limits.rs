//! The kernel's limits a lab's size meets: process ids, namespaces, mounts in the host's
//! namespace, memory. A lab that cannot fit is refused at plan time naming the limit and how
//! to raise it; one that may not fit (the machine already uses part, maybe for this very lab)
//! gets a warning. The neighbour tables are the one limit vnx raises itself (see
//! `ops::lab::prepare_host`). **Pure**: the host's figures come through [`super::desired::HostFs`].

use crate::scenario::diag::Diag;
use crate::scenario::span::Span;

use super::resource::{kind, Desired};

/// The host's figures; `None`: unknown (not checked).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostLimits {
    /// `kernel.pid_max`, and the threads that use ids now (/proc/loadavg).
    pub pid_max: Option<u64>,
    pub threads_now: Option<u64>,
    /// `user.max_net_namespaces`, `user.max_mnt_namespaces`, `user.max_pid_namespaces`: per user.
    pub max_net_namespaces: Option<u64>,
    pub max_mnt_namespaces: Option<u64>,
    pub max_pid_namespaces: Option<u64>,
    /// `fs.mount-max` (per mount namespace), and the mounts of vnx's namespace now.
    pub mount_max: Option<u64>,
    pub mounts_now: Option<u64>,
    /// MemAvailable, in KiB.
    pub mem_available_kib: Option<u64>,
}

/// The kernel memory an `ns` node takes, in KiB (its namespaces, its init, its links' ends,
/// its mounts): measured by `vnx bench linear 10000` on this project's machine (free memory
/// before and after apply, per node), rounded up.
pub const KERNEL_KIB_PER_NODE: u64 = 820;

/// Threads an apply runs beside the lab's inits (vnx's own, the `ip`/`tc` it starts).
const APPLY_THREADS: u64 = 256;

/// What a lab of these resources takes from the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Needs {
    pub ns_nodes: u64,
    pub lab_namespaces: u64,
}

impl Needs {
    pub fn of(desired: &[Desired]) -> Needs {
        let mut n = Needs::default();
        for d in desired {
            // A node's resource is made by its node's provider (its attributes, typed, say the
            // same: reading them for 10,000 nodes was a twentieth of the desired resources' time).
            if d.id.kind == kind::NODE && d.provider == "ns" {
                n.ns_nodes += 1;
            } else if d.id.kind == kind::LAB {
                n.lab_namespaces += 1;
            }
        }
        n
    }
}

/// One limit's verdict for a lab: its sysctl, what the lab needs, what the kernel allows and
/// what is in use already.
struct Check {
    sysctl: &'static str,
    what: &'static str,
    need: u64,
    limit: Option<u64>,
    in_use: Option<u64>,
}

/// Errors for what cannot fit, warnings for what may not, at `span` (the scenario's name).
pub fn check(needs: Needs, host: &HostLimits, span: Span) -> (Vec<Diag>, Vec<Diag>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    if needs.ns_nodes == 0 {
        return (errors, warnings);
    }
    let namespaces = needs.ns_nodes + needs.lab_namespaces;
    let checks = [
        Check {
            sysctl: "kernel.pid_max",
            what: "process ids (one init per node)",
            need: needs.ns_nodes + APPLY_THREADS,
            limit: host.pid_max,
            in_use: host.threads_now,
        },
        Check {
            sysctl: "user.max_net_namespaces",
            what: "network namespaces",
            need: namespaces,
            limit: host.max_net_namespaces,
            in_use: None,
        },
        Check {
            sysctl: "user.max_mnt_namespaces",
            what: "mount namespaces",
            need: needs.ns_nodes + 1,
            limit: host.max_mnt_namespaces,
            in_use: None,
        },
        Check {
            sysctl: "user.max_pid_namespaces",
            what: "PID namespaces",
            need: needs.ns_nodes,
            limit: host.max_pid_namespaces,
            in_use: None,
        },
        Check {
            sysctl: "fs.mount-max",
            what: "mounts in the host's mount namespace (a name in /run/netns per namespace)",
            need: namespaces,
            limit: host.mount_max,
            in_use: host.mounts_now,
        },
    ];
    for c in checks {
        let Some(limit) = c.limit else { continue };
        let raise =
            |to: u64| format!("raise it for the lab's lifetime: sysctl -w {}={to} (and put it back after)", c.sysctl);
        if c.need > limit {
            errors.push(
                Diag::error(
                    "vnx::kernel-limit",
                    format!("this lab needs {} {}; the kernel allows {limit} ({})", c.need, c.what, c.sysctl),
                )
                .at(span, "this lab")
                .help(raise(c.need + c.in_use.unwrap_or(0))),
            );
        } else if let Some(used) = c.in_use.filter(|u| c.need + u > limit) {
            warnings.push(
                Diag::warning(
                    "vnx::kernel-limit",
                    format!(
                        "this lab needs {} {}, {used} are in use and the kernel allows {limit} ({}): it may not fit \
                         (unless part of it is running already)",
                        c.need, c.what, c.sysctl
                    ),
                )
                .at(span, "this lab")
                .help(raise(c.need + used)),
            );
        }
    }
    if let Some(avail) = host.mem_available_kib {
        let need = needs.ns_nodes * KERNEL_KIB_PER_NODE;
        if need > avail {
            warnings.push(
                Diag::warning(
                    "vnx::kernel-limit",
                    format!(
                        "this lab's {} nodes take about {} MiB of kernel memory; {} MiB are available",
                        needs.ns_nodes,
                        need / 1024,
                        avail / 1024
                    ),
                )
                .at(span, "this lab")
                .help("free memory, or make the lab smaller (or spread it over hosts: vnx apply --cluster)"),
            );
        }
    }
    (errors, warnings)
}

/// The largest lab of `ns` nodes these limits allow (none when nothing is known): what
/// `vnx doctor` says, with the limit that sets it.
pub fn largest_lab(host: &HostLimits) -> Option<(u64, &'static str)> {
    let free = |limit: Option<u64>, used: Option<u64>| limit.map(|l| l.saturating_sub(used.unwrap_or(0)));
    [
        (free(host.pid_max, host.threads_now).map(|f| f.saturating_sub(APPLY_THREADS)), "kernel.pid_max"),
        (host.max_net_namespaces, "user.max_net_namespaces"),
        (host.max_mnt_namespaces.map(|m| m.saturating_sub(1)), "user.max_mnt_namespaces"),
        (host.max_pid_namespaces, "user.max_pid_namespaces"),
        (free(host.mount_max, host.mounts_now), "fs.mount-max"),
        (host.mem_available_kib.map(|m| m / KERNEL_KIB_PER_NODE), "available memory"),
    ]
    .into_iter()
    .filter_map(|(n, why)| n.map(|n| (n, why)))
    .min_by_key(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostLimits {
        HostLimits {
            pid_max: Some(32768),
            threads_now: Some(300),
            max_net_namespaces: Some(96363),
            max_mnt_namespaces: Some(96363),
            max_pid_namespaces: Some(96363),
            mount_max: Some(100000),
            mounts_now: Some(30),
            mem_available_kib: Some(40 * 1024 * 1024),
        }
    }

    #[test]
    fn needs_count_namespace_nodes_and_lab_namespaces_not_virtual_machines() {
        let d = |k: &str, name: &str, provider: &str| Desired {
            id: crate::plan::resource::ResId::new(k, name),
            provider: provider.into(),
            attrs: Default::default(),
            deps: vec![],
            span: Span::default(),
        };
        let all = [
            d(kind::NODE, "a", "ns"),
            d(kind::NODE, "b", "libvirt"),
            d(kind::LAB, "lab-0", "ns"),
            d(kind::NET, "n", "ns"),
        ];
        let n = Needs::of(&all);
        assert_eq!((n.ns_nodes, n.lab_namespaces), (1, 1));
    }

    #[test]
    fn a_lab_that_fits_says_nothing() {
        let (e, w) = check(Needs { ns_nodes: 10_000, lab_namespaces: 32 }, &host(), Span::default());
        assert!(e.is_empty() && w.is_empty(), "{e:?} {w:?}");
    }

    #[test]
    fn a_lab_past_pid_max_is_refused_naming_the_sysctl() {
        let (e, _) = check(Needs { ns_nodes: 40_000, lab_namespaces: 128 }, &host(), Span::default());
        let text = format!("{e:?}");
        assert!(text.contains("kernel.pid_max") && text.contains("sysctl -w kernel.pid_max="), "{text}");
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn what_is_in_use_makes_a_warning_not_a_refusal() {
        let h = HostLimits { threads_now: Some(30_000), ..host() };
        let (e, w) = check(Needs { ns_nodes: 5_000, lab_namespaces: 16 }, &h, Span::default());
        assert!(e.is_empty(), "{e:?}");
        assert!(format!("{w:?}").contains("kernel.pid_max"), "{w:?}");
    }

    #[test]
    fn the_largest_lab_names_the_tightest_limit() {
        assert_eq!(largest_lab(&host()), Some((32768 - 300 - APPLY_THREADS, "kernel.pid_max")));
        assert_eq!(largest_lab(&HostLimits::default()), None);
    }
}
