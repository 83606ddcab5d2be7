//! `vnx doctor`: what this machine can run, in one table. Each kernel feature is tried for real
//! in a network namespace of its own (made and gone with the probe), never assumed from a
//! kernel version: cloud kernels lack netem, Open vSwitch's datapath, 802.1Q or GRE.

use std::process::{Command, Stdio};

use serde_json::json;

use super::EXIT_ERROR;

/// Check what this machine can run: kernel features, tools, virtualisation, libvirt.
///
/// Each line is `ok`, `missing` (what needs it cannot run here) or `note`; the detail says what
/// it means for a lab. Exits 1 when something every lab needs is missing.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  vnx doctor\n  vnx doctor --json")]
pub struct DoctorCmd {
    /// One object per check, as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One check's finding.
struct Line {
    name: &'static str,
    status: &'static str,
    detail: String,
    /// Every lab needs it.
    essential: bool,
}

/// Runs `script` with `sh` in a new network namespace of its own; whether it succeeded.
fn probe(script: &str) -> bool {
    Command::new("unshare")
        .args(["--net", "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The path of program `name` on PATH.
pub fn tool(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// Whether the kernel has a qdisc (`netem delay 1ms`): one is added to `lo` in a namespace
/// of its own. Planning asks it of what a scenario needs; doctor of all.
fn qdisc(q: &str) -> bool {
    tool("tc").is_some() && probe(&format!("tc qdisc add dev lo root {q}"))
}

/// Whether the kernel has `feature`, tried as `vnx doctor` does.
pub fn kernel_has(feature: crate::plan::desired::KernelFeature) -> bool {
    use crate::plan::desired::KernelFeature;
    match feature {
        KernelFeature::Netem => qdisc("netem delay 1ms"),
        KernelFeature::Tbf => qdisc("tbf rate 1mbit burst 32kb latency 50ms"),
        KernelFeature::OvsDatapath => {
            std::path::Path::new("/sys/module/openvswitch").exists()
                || Command::new("modprobe")
                    .args(["-n", "openvswitch"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        }
        KernelFeature::Vlan => {
            tool("ip").is_some() && probe("ip link add d0 type dummy && ip link add link d0 name d0.5 type vlan id 5")
        }
    }
}

/// A note of what `command` built in `store` (`meanwhile`: what happens while there is none).
fn builds(
    name: &'static str,
    built: &[(String, crate::ops::rootfs::Recipe)],
    store: &std::path::Path,
    command: &str,
    meanwhile: &str,
) -> Line {
    let detail = if built.is_empty() {
        format!("none built in {}: {meanwhile}{command} build NAME makes one", store.display())
    } else {
        format!(
            "{} (in {}; {command} list)",
            built.iter().map(|(n, r)| format!("{n} ({})", r.suite)).collect::<Vec<_>>().join(", "),
            store.display()
        )
    };
    Line { name, status: "note", detail, essential: false }
}

fn line(name: &'static str, ok: bool, yes: &str, no: &str, essential: bool) -> Line {
    Line { name, status: if ok { "ok" } else { "missing" }, detail: if ok { yes } else { no }.to_string(), essential }
}

fn checks() -> Vec<Line> {
    let mut v = Vec::new();
    let netns = probe("true");
    v.push(line(
        "network namespaces",
        netns,
        "nodes and labs get network namespaces of their own",
        "unshare --net fails: vnx needs root and a kernel with network namespaces",
        true,
    ));
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let overlay = filesystems.lines().any(|l| l.trim_end().ends_with("overlay"));
    v.push(line(
        "overlayfs",
        overlay,
        "ns nodes' copy-on-write roots",
        "no overlay file system: ns nodes cannot have copy-on-write roots",
        true,
    ));
    let have_ip = tool("ip").is_some();
    use crate::plan::desired::KernelFeature;
    v.push(line(
        KernelFeature::Tbf.doctor_line(),
        kernel_has(KernelFeature::Tbf),
        "link conditions: bw",
        "bw= cannot be applied here",
        false,
    ));
    v.push(line(
        KernelFeature::Netem.doctor_line(),
        kernel_has(KernelFeature::Netem),
        "link conditions: delay, loss",
        "the kernel has no netem qdisc: delay= and loss= cannot be applied here",
        false,
    ));
    let link = |spec: &str| have_ip && probe(&format!("ip link add {spec}"));
    v.push(line(
        "VXLAN",
        link("vx0 type vxlan id 42 dstport 4789 local 127.0.0.1"),
        "links between hosts",
        "no VXLAN devices: labs cannot span hosts",
        false,
    ));
    v.push(line(
        KernelFeature::Vlan.doctor_line(),
        kernel_has(KernelFeature::Vlan),
        "VLAN devices",
        "no 802.1Q devices: VLANs on Linux bridges and external=ethX with vlan= cannot be used",
        false,
    ));
    v.push(line(
        "GRE",
        link("gt0 type gretap local 127.0.0.1 remote 127.0.0.2"),
        "GRE tunnels",
        "no GRE devices",
        false,
    ));
    let ovs = kernel_has(crate::plan::desired::KernelFeature::OvsDatapath);
    v.push(line(
        crate::plan::desired::KernelFeature::OvsDatapath.doctor_line(),
        ovs,
        "the kernel datapath of Open vSwitch",
        "no openvswitch module: openvswitch nets use Open vSwitch's userspace datapath (netdev)",
        false,
    ));
    let kvm = std::path::Path::new("/dev/kvm").exists();
    let dtype = vnx_providers::libvirt::domain_type("auto");
    v.push(Line {
        name: "KVM",
        status: if dtype == "kvm" { "ok" } else { "note" },
        detail: match (kvm, dtype) {
            (_, "kvm") => "/dev/kvm works: virtual machines run with KVM".into(),
            (true, _) => "/dev/kvm exists, but vnx runs in a virtual machine, where nested KVM guests hang: \
                 virtual machines are emulated (TCG, slow); VNX_DOMAIN_TYPE=kvm forces KVM"
                .into(),
            (false, _) => "no /dev/kvm: virtual machines are emulated (TCG, slow)".into(),
        },
        essential: false,
    });
    v.push(libvirt_line());
    for (t, why, essential) in [
        ("nsenter", "commands in nodes (util-linux)", true),
        ("tc", "link conditions (iproute2)", false),
        ("ip", "the tests and `ip netns exec` (iproute2)", false),
        ("qemu-img", "virtual machines' overlay disks (qemu-utils)", false),
        ("xorriso", "virtual machines' configuration drives (xorriso)", false),
        ("tcpdump", "vnx capture (tcpdump)", false),
        ("ovs-vswitchd", "openvswitch nets: each lab's own switch (openvswitch-switch)", false),
    ] {
        let found = tool(t);
        v.push(Line {
            name: t,
            status: if found.is_some() { "ok" } else { "missing" },
            detail: match found {
                Some(p) => format!("{p}: {why}"),
                None => format!("not installed: needed for {why}"),
            },
            essential,
        });
    }
    v.push(builds(
        "root filesystems",
        &crate::ops::rootfs::list(),
        &crate::ops::rootfs::store(),
        "vnx rootfs",
        "ns nodes run on the host's root (its /root, /home, SSH keys hidden); ",
    ));
    v.push(builds("VM images", &crate::ops::image::list(), &crate::ops::image::store(), "vnx image", ""));
    v.push(limits_line(&crate::ops::limits::host()));
    let mounts = vnx_providers::ns::mount_namespace_problem();
    v.push(Line {
        name: "mount namespace",
        status: if mounts.is_none() { "ok" } else { "missing" },
        detail: mounts.unwrap_or_else(|| "names bound in /run/netns reach the whole machine".into()),
        essential: true,
    });
    v
}

/// How big a lab of `ns` nodes the kernel's limits allow, and each limit.
fn limits_line(h: &crate::plan::limits::HostLimits) -> Line {
    let show = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let all = format!(
        "kernel.pid_max {} ({} threads now), user.max_net_namespaces {}, user.max_mnt_namespaces {}, \
         user.max_pid_namespaces {}, fs.mount-max {} ({} mounts now), {} MiB available; the neighbour tables \
         vnx raises itself",
        show(h.pid_max),
        show(h.threads_now),
        show(h.max_net_namespaces),
        show(h.max_mnt_namespaces),
        show(h.max_pid_namespaces),
        show(h.mount_max),
        show(h.mounts_now),
        show(h.mem_available_kib.map(|k| k / 1024)),
    );
    let detail = match crate::plan::limits::largest_lab(h) {
        Some((n, why)) => format!("room for about {n} ns nodes (set by {why}): {all}"),
        None => all,
    };
    Line { name: "kernel limits", status: "ok", detail, essential: false }
}

#[cfg(feature = "libvirt")]
fn libvirt_line() -> Line {
    let uri = vnx_providers::libvirt::uri();
    match vnx_providers::libvirt::Hypervisor::connect(&uri) {
        Ok(_) => Line { name: "libvirt", status: "ok", detail: format!("{uri} answers"), essential: false },
        Err(e) => Line { name: "libvirt", status: "missing", detail: e.to_string(), essential: false },
    }
}

#[cfg(not(feature = "libvirt"))]
fn libvirt_line() -> Line {
    Line {
        name: "libvirt",
        status: "missing",
        detail: "this vnx was built without virtual machines: `cargo build --release --features libvirt`".into(),
        essential: false,
    }
}

/// Each check's status by its name (`{"VXLAN": "ok", …}`): what a cluster host's agent tells
/// its controller in the hello of a plan or apply.
pub fn facts() -> serde_json::Value {
    checks().into_iter().map(|l| (l.name.to_string(), json!(l.status))).collect::<serde_json::Map<_, _>>().into()
}

pub fn run(c: DoctorCmd) -> i32 {
    let lines = checks();
    if c.json {
        let v: Vec<_> = lines
            .iter()
            .map(|l| json!({"check": l.name, "status": l.status, "detail": l.detail, "essential": l.essential}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        let w = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
        println!("{:w$}  {:7}  DETAIL", "CHECK", "STATUS");
        for l in &lines {
            println!("{:w$}  {:7}  {}", l.name, l.status, l.detail);
        }
    }
    if lines.iter().any(|l| l.essential && l.status == "missing") {
        EXIT_ERROR
    } else {
        super::EXIT_OK
    }
}
