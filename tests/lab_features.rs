//! The rest of the `ns` lab features on real kernel objects: management network and on_boot
//! (simple_lxc_ubuntu), refusals at plan time, p2p links, link conditions, unmanaged bridges,
//! external NICs, and two labs with the same names side by side.

mod common;

use common::corpus;
use common::lab::TestHost;

#[test]
fn simple_lxc_ubuntu_converges_with_management_and_on_boot() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/simple_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    let pid = host.pids(&name)["ubuntu"];
    // on_boot: the filetree landed, then the command copied it.
    let copied = std::fs::read_to_string(format!("/proc/{pid}/root/root/on_boot2.txt")).expect("on_boot ran");
    assert_eq!(copied, std::fs::read_to_string(corpus().join("conf/on_boot.txt")).unwrap());
    // The management /30 (offset 12: host .13, node .14) works from the host.
    assert!(host.host_sh("ping -c1 -W2 10.250.0.14").status.success());
    // A sequence with owner and mode.
    host.vnx_ok(&["exec", &name, "copyfile"]);
    let meta = std::fs::metadata(format!("/proc/{pid}/root/root/copyfile.txt")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o644);
    assert!(host.vnx_ok(&["plan", f]).contains("No changes."));
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

#[test]
fn what_cannot_run_is_refused_at_plan_time() {
    let host = TestHost::new();
    for (file, expect) in [
        // Its DHCP clients run (dhclient in the nodes); its switch's on_boot makes an Open
        // vSwitch bridge, which needs the kernel's datapath (a machine limit `vnx doctor`
        // names) and the package: refused before anything is built.
        ("example_lxc_vm-as-switch.xml", ovs_refusal()),
        (
            "simple_ubuntu.xml",
            if cfg!(feature = "libvirt") {
                "the disk image `/usr/share/vnx/filesystems/rootfs_ubuntu` of node `ubuntu` is not on this host"
            } else {
                "this build of vnx runs no virtual machine: node `ubuntu`"
            },
        ),
    ] {
        let (path, _) = host.scenario_from(&corpus().join("scenarios").join(file));
        // No image or root filesystem built on this machine is seen (VNX's names would use them).
        let empty = host.dir.path().join("empty-store");
        let out =
            host.vnx_with(&["plan", path.to_str().unwrap()], &[("VNX_IMAGE_DIR", &empty), ("VNX_ROOTFS_DIR", &empty)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(err.contains(expect), "{file}: {err}");
        assert!(err.contains(&format!("{file}:")), "{file}: the message names the place: {err}");
    }
    // VLANs on a Linux bridge's net, on a node's interface or an external NIC's: the kernel's
    // 802.1Q where it lacks it (a machine limit), named with its `vnx doctor` line.
    let dir = host.dir.path().join("vlans");
    std::fs::create_dir_all(&dir).unwrap();
    for (net, vlan) in [
        ("{name: lan, mode: virtual_bridge}", "vlan: {tags: [5]}, "),
        ("{name: lan, mode: virtual_bridge, external: eth0, vlan: 5}", ""),
    ] {
        let y = format!(
            "name: {}\nversion: '2.0'\nmgmt: {{type: none}}\nnets: [{net}]\nnodes:\n  - {{name: a, type: ns, interfaces: [{{id: 1, net: lan, {vlan}ipv4: [10.0.0.1/24]}}]}}\n",
            host.unique("vlan")
        );
        std::fs::write(dir.join("s.yaml"), y).unwrap();
        let out = host.vnx(&["plan", dir.join("s.yaml").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        if vlan.is_empty() && kernel_has_8021q() {
            continue; // eth0.5 can be made: nothing refused
        }
        assert_eq!(out.status.code(), Some(1), "{net}: {err}");
        let err = err.split_whitespace().collect::<Vec<_>>().join(" ").replace(" │ ", " ");
        assert!(err.contains(vlan_refusal()), "{net}: {err}");
        if !kernel_has_8021q() {
            assert!(err.contains("`802.1Q VLANs` line"), "{net}: {err}");
        }
    }
    // VNX's plugins: a mistake in a plugin's file is named where it is; a plugin vnx does not
    // run, or one in a virtual machine, is refused, not dropped (its clients would get no address).
    let dir = host.dir.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let scen = |ext: &str| {
        format!("<vnx><global><version>2.0</version><scenario_name>{}</scenario_name><vm_mgmt type=\"none\"/>{ext}</global>\
                 <net name=\"lan\" mode=\"virtual_bridge\"/><vm name=\"h1\" type=\"lxc\"><if id=\"1\" net=\"lan\"/></vm></vnx>", host.unique("plug"))
    };
    std::fs::write(
        dir.join("conf.xml"),
        "<dhcp_conf>\n  <vm name=\"h9\" type=\"dhcp3\"><client><if>eth1</if></client></vm>\n</dhcp_conf>\n",
    )
    .unwrap();
    for (ext, expect) in [
        ("<extension plugin=\"dhcp\" conf=\"conf.xml\"/>", "conf.xml:2:"),
        ("<extension plugin=\"dhcp\" conf=\"conf.xml\"/>", "the scenario has no node `h9`"),
        ("<extension plugin=\"bgp\" conf=\"conf.xml\"/>", "VNX's `bgp` plugin is not supported"),
        ("<extension plugin=\"dhcp\" conf=\"none.xml\"/>", "none.xml"),
    ] {
        std::fs::write(dir.join("s.xml"), scen(ext)).unwrap();
        let out = host.vnx(&["plan", dir.join("s.xml").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ext}: {err}");
        assert!(err.contains(expect), "{ext}: {err}");
    }
    let path = corpus().join("plugins").join("example_ospf-plugin.xml");
    let err = String::from_utf8_lossy(&host.vnx(&["plan", path.to_str().unwrap()]).stderr).into_owned();
    assert!(err.contains("VNX's `ospf` plugin in a virtual machine is not supported yet"), "{err}");
}

/// Why the corpus' vm-as-switch cannot run here: the kernel's missing Open vSwitch datapath, or
/// else the missing package.
fn ovs_refusal() -> &'static str {
    let datapath = std::path::Path::new("/sys/module/openvswitch").exists()
        || std::process::Command::new("modprobe").args(["-n", "openvswitch"]).status().is_ok_and(|s| s.success());
    if datapath {
        "Open vSwitch (/usr/bin/ovs-vsctl) is missing from this host"
    } else {
        "this machine's kernel has no Open vSwitch datapath (`vnx doctor`: Open vSwitch datapath)"
    }
}

fn kernel_has_8021q() -> bool {
    std::process::Command::new("unshare")
        .args(["--net", "sh", "-c", "ip link add d0 type dummy && ip link add link d0 name d0.5 type vlan id 5"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Why VLANs on a Linux bridge's net cannot run here: the kernel lacks 802.1Q, or else vnx
/// does not use bridge VLAN filtering yet.
fn vlan_refusal() -> &'static str {
    if kernel_has_8021q() {
        "on a virtual_bridge net (<vlan>) are not supported yet"
    } else {
        "the kernel's 802.1Q VLAN support, which this machine's kernel lacks"
    }
}

const FEATURES: &str = r#"
name: NAME
version: "2.0"
automac: {}
nets:
  - {name: link, mode: veth, type: p2p}
  - {name: lan, mode: virtual_bridge, mtu: 1400, external: vnxtdummy0}
  - {name: outside, mode: virtual_bridge, managed: false}
nodes:
  - name: a
    type: ns
    interfaces:
      - {id: 1, net: link, ipv4: [10.9.0.1/30], bw: 2mbit}
      - {id: 2, net: lan, ipv4: [10.9.1.1/24]}
      - {id: 3, net: outside, ipv4: [10.9.2.1/24], name: uplink}
  - name: b
    type: ns
    interfaces:
      - {id: 1, net: link, ipv4: [10.9.0.2/30]}
      - {id: 2, net: lan, ipv4: [10.9.1.2/24]}
"#;

#[test]
fn p2p_conditions_unmanaged_and_external_and_two_labs_side_by_side() {
    let host = TestHost::new();
    // The host's own bridge (managed="no") and a NIC to attach (external=).
    host.ip(&["link", "add", "outside", "type", "bridge"]);
    host.ip(&["link", "add", "vnxtdummy0", "type", "veth", "peer", "name", "vnxtdummy1"]);
    let mut names = Vec::new();
    for _ in 0..2 {
        let name = host.unique("feat");
        let path = host.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, FEATURES.replace("NAME", &name)).unwrap();
        host.vnx_ok(&["apply", path.to_str().unwrap(), "--auto-approve"]);
        names.push((name, path));
    }
    for (name, _) in &names {
        // The p2p link works, shaped to 2 Mbit/s (tbf) on a's side.
        assert!(host.ping_from(name, "a", &["10.9.0.2"]).is_empty());
        let tc = host.vnx_ok(&["exec", name, "-M", "a", "--", "tc", "qdisc", "show", "dev", "eth1"]);
        assert!(tc.contains("tbf") && tc.contains("rate 2Mbit"), "{tc}");
        assert!(host.ping_from(name, "b", &["10.9.1.1"]).is_empty());
        // `name` is the interface's name inside an ns node; the MTU follows the net.
        let links = host.vnx_ok(&["exec", name, "-M", "a", "--", "ip", "-o", "link"]);
        assert!(links.contains(" uplink@") && links.contains("mtu 1400"), "{links}");
    }
    // The unmanaged bridge holds both labs' interfaces; the external NIC joined a lab bridge.
    let ports = host.ip(&["-o", "link", "show", "master", "outside"]);
    assert_eq!(ports.lines().count(), 2, "{ports}");
    let dummy = host.ip(&["-o", "link", "show", "vnxtdummy0"]);
    assert!(dummy.contains(" master vb"), "{dummy}");
    // Destroying one lab leaves the other, and never the host's bridge.
    host.vnx_ok(&["destroy", &names[0].0, "--auto-approve"]);
    assert!(host.ping_from(&names[1].0, "b", &["10.9.1.1"]).is_empty());
    host.vnx_ok(&["destroy", &names[1].0, "--auto-approve"]);
    let left = host.ip(&["-o", "link", "show"]);
    assert!(left.contains("outside:") && left.contains("vnxtdummy0"), "the host's own links must stay: {left}");
    assert!(!host.ip(&["-o", "link", "show", "vnxtdummy0"]).contains("master"), "the NIC is released");
    host.ip(&["link", "del", "outside"]);
    host.ip(&["link", "del", "vnxtdummy0"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// Delay and loss need the kernel's netem qdisc: where it exists the delay shows in the
/// round-trip time; where it does not (some cloud kernels), the plan is refused, plainly.
#[test]
fn delay_is_applied_or_refused_plainly() {
    let host = TestHost::new();
    let name = host.unique("delay");
    let path = host.dir.path().join(format!("{name}.yaml"));
    let text = format!("name: {name}\nversion: '2.0'\nnets: [{{name: link, mode: veth, type: p2p}}]\nnodes:\n  - {{name: a, type: ns, interfaces: [{{id: 1, net: link, ipv4: [10.9.0.1/30], delay: 40ms}}]}}\n  - {{name: b, type: ns, interfaces: [{{id: 1, net: link, ipv4: [10.9.0.2/30]}}]}}\n");
    std::fs::write(&path, text).unwrap();
    let netem = std::process::Command::new("sh")
        .arg("-c")
        .arg("ip netns add vnxt-netem-probe && ip -n vnxt-netem-probe link add p0 type veth peer name p1 && tc -n vnxt-netem-probe qdisc add dev p0 root netem delay 1ms; r=$?; ip netns del vnxt-netem-probe; exit $r")
        .output()
        .unwrap()
        .status
        .success();
    let out = host.vnx(&["apply", path.to_str().unwrap(), "--auto-approve"]);
    if netem {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ping = host.vnx_ok(&["exec", &name, "-M", "a", "--", "ping", "-c2", "-i0.2", "-W2", "10.9.0.2"]);
        let rtt: f64 = ping
            .lines()
            .find_map(|l| l.split("time=").nth(1))
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse().ok())
            .expect("a reply");
        assert!(rtt >= 40.0, "rtt {rtt} ms: the delay is not applied");
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        // Refused at plan time, before anything is built, naming vnx doctor's line.
        assert!(
            err.contains("the netem qdisc, which this machine's kernel lacks") && err.contains("`qdisc netem`"),
            "{err}"
        );
        assert!(host.vnx(&["show", &name]).status.code() == Some(1), "nothing was applied");
    }
    if netem {
        host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    }
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

#[test]
fn del_vm_shutdown_runs_on_shutdown_and_destroy_does_not() {
    let host = TestHost::new();
    let name = host.unique("bye");
    let path = host.dir.path().join(format!("{name}.yaml"));
    let text = format!("name: {name}\nversion: '2.0'\nnets: [{{name: lan, mode: virtual_bridge}}]\nnodes:\n  - {{name: x, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.0.1/24]}}], execs: [{{seq: on_shutdown, command: 'echo bye from $(hostname)'}}]}}\n  - {{name: y, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.0.2/24]}}], execs: [{{seq: on_shutdown, command: 'echo bye from $(hostname)'}}]}}\n");
    std::fs::write(&path, text).unwrap();
    host.vnx_ok(&["apply", path.to_str().unwrap(), "--auto-approve"]);
    let patch = |body: &str| {
        let p = host.dir.path().join("patch.xml");
        std::fs::write(&p, format!("<modify_vnx>{body}</modify_vnx>")).unwrap();
        p
    };
    let out = host.vnx_ok(&[
        "modify",
        &name,
        patch(r#"<del_vm name="x" mode="shutdown"/>"#).to_str().unwrap(),
        "--auto-approve",
    ]);
    assert!(out.contains("x | bye from x"), "{out}");
    let out = host.vnx_ok(&[
        "modify",
        &name,
        patch(r#"<del_vm name="y" mode="destroy"/>"#).to_str().unwrap(),
        "--auto-approve",
    ]);
    assert!(!out.contains("bye from y"), "{out}");
    assert_eq!(host.pids(&name).len(), 0);
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// Nodes copy their mount namespace from a template without the host's /run/netns binds (a
/// lab of N nodes has N of them, and copying them into each node made starts O(N)). The
/// template must not lose the rest, and must not take the binds away from the host. It is
/// staged: its root a tmpfs of its own, the host's under /host (nodes move their roots onto
/// it rather than pivot_root each).
#[test]
fn nodes_start_from_a_mount_namespace_without_netns_binds() {
    let host = TestHost::new();
    let bind = format!("/run/netns/{}", host.netns);
    let mount_points =
        |info: &str| -> Vec<String> { info.lines().filter_map(|l| l.split(' ').nth(4)).map(String::from).collect() };
    let stage = tempfile::tempdir().unwrap();
    let template = vnx_providers::ns::MountTemplate::new(stage.path()).expect("a mount template");
    // Read from inside (a thread of this test's entering it: the template has no programs).
    let path = template.path();
    let info = std::thread::spawn(move || {
        use nix::sched::CloneFlags;
        nix::sched::unshare(CloneFlags::CLONE_FS).unwrap();
        nix::sched::setns(std::fs::File::open(&path).unwrap(), CloneFlags::CLONE_NEWNS).unwrap();
        std::fs::read_to_string("/host/proc/thread-self/mountinfo").unwrap()
    })
    .join()
    .unwrap();
    let root = info.lines().find(|l| l.split(' ').nth(4) == Some("/")).unwrap_or_default();
    assert!(root.contains(" - tmpfs "), "the template's root is a tmpfs of its own: {info}");
    // The host's mount points, as the template has them under /host.
    let inside: Vec<String> = mount_points(&info)
        .into_iter()
        .filter_map(|m| m.strip_prefix("/host").map(|r| if r.is_empty() { "/".into() } else { r.to_string() }))
        .collect();
    let outside = mount_points(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    assert!(outside.contains(&bind), "the host keeps its binds: {outside:?}");
    assert!(!inside.iter().any(|m| m.starts_with("/run/netns/")), "{inside:?}");
    // Everything else is there: the template is the host's view minus the binds (and minus
    // what other tests, running beside this one, mounted between the two reads: their labs'
    // run directories).
    let rest: Vec<&String> =
        outside.iter().filter(|m| !m.starts_with("/run/netns") && !m.starts_with("/run/vnx/labs/")).collect();
    assert!(rest.iter().all(|m| inside.contains(m)), "host {rest:?}, template {inside:?}");
}

/// A boot command that fails fails the apply, naming the node and the status (its exit status
/// is never ignored).
#[test]
fn a_failing_boot_command_fails_the_apply() {
    let host = TestHost::new();
    let name = host.unique("bootfail");
    let text = format!(
        "name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnodes:\n  - name: h1\n    type: ns\n    execs:\n      \
         - {{seq: on_boot, command: \"echo booting; exit 3\"}}\n"
    );
    let f = host.dir.path().join("bootfail.yaml");
    std::fs::write(&f, text).unwrap();
    let out = host.vnx(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("an on_boot command of h1 exited with 3"), "{err}");
    // Not recorded as done: the next plan runs it again.
    assert!(!host.vnx_ok(&["plan", f.to_str().unwrap()]).contains("No changes."));
}

/// A node's start runs the boot sequence the lab has now, whichever vnx process recorded it:
/// one removed from the scenario is not run again (the provider once kept it in memory), a
/// changed one runs as changed.
#[test]
fn a_start_runs_the_boot_sequence_of_now() {
    let host = TestHost::new();
    let name = host.unique("bootnow");
    let f = host.dir.path().join("bootnow.yaml");
    let write = |boot: &str| {
        let text =
            format!("name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnodes:\n  - name: h1\n    type: ns\n{boot}");
        std::fs::write(&f, text).unwrap();
    };
    // The node's root keeps its files across a restart (its upper layer stays).
    let booted = || host.vnx_ok(&["exec", &name, "-M", "h1", "--", "sh", "-c", "cat /var/tmp/booted || true"]);
    write("    execs:\n      - {seq: on_boot, command: \"echo one >> /var/tmp/booted\"}\n");
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(booted().trim(), "one");
    // Changed: the next start runs the new command.
    write("    execs:\n      - {seq: on_boot, command: \"echo two >> /var/tmp/booted\"}\n");
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    host.vnx_ok(&["reboot", &name, "-M", "h1"]);
    assert_eq!(booted().trim(), "one\ntwo", "a reboot ran the boot sequence as it was");
    // Removed: the next start runs none.
    write("");
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    host.vnx_ok(&["reboot", &name, "-M", "h1"]);
    assert_eq!(booted().trim(), "one\ntwo", "a reboot ran a boot sequence the scenario no longer has");
    host.vnx_ok(&["destroy", f.to_str().unwrap(), "--auto-approve"]);
}

/// `vnx exec LAB -M NODE -- CMD` passes stdin on, and keeps the node's stderr on stderr.
#[test]
fn exec_passes_stdin_and_stderr_through() {
    use std::io::Write;
    let host = TestHost::new();
    let name = host.unique("stdio");
    let f = host.dir.path().join("stdio.yaml");
    std::fs::write(
        &f,
        format!("name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnodes:\n  - {{name: h1, type: ns}}\n"),
    )
    .unwrap();
    // -q: errors and the summary only.
    let out = host.vnx(&["-q", "apply", f.to_str().unwrap(), "--auto-approve"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !stdout.contains("Plan:") && !stdout.contains("node.h1"), "{stdout}");
    assert!(stdout.contains("Apply complete") && !stderr.contains("node.h1"), "{stdout}\n{stderr}");
    let mut child = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", host.netns))
        .arg(common::vnx_bin())
        .args(["exec", &name, "-M", "h1", "--", "sh", "-c", "read v; echo got $v; echo oops >&2; exit 4"])
        .env("VNX_STATE", host.state())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"x\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got x\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    // -v in a pipe: each action said once.
    let out = host.vnx(&["-v", "destroy", &name, "--auto-approve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("node.h1: destroyed").count(), 1, "{stderr}");
    // An approved apply says the plan in short: the counts, not every attribute of what it
    // creates (a VNX tutorial's --create printed 394 lines); -v says it whole.
    let stdout = host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    assert!(stdout.contains("Plan: 1 to add") && !stdout.contains("hostname"), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let stdout = host.vnx_ok(&["-v", "destroy", &name, "--auto-approve"]);
    assert!(stdout.contains("node.h1 will be destroyed") && stdout.contains("hostname"), "{stdout}");
}

/// `vnx capture LAB NET -w FILE`: packets pinged across a net are in the capture file.
#[test]
fn capture_records_a_nets_packets() {
    let host = TestHost::new();
    let name = host.unique("capture");
    let f = host.dir.path().join("capture.yaml");
    std::fs::write(
        &f,
        format!(
            "name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnets:\n  - {{name: lan, mode: virtual_bridge}}\nnodes:\n\
             \x20 - {{name: a, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.0.1/24]}}]}}\n\
             \x20 - {{name: b, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.0.2/24]}}]}}\n"
        ),
    )
    .unwrap();
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    let pcap = host.dir.path().join("lan.pcap");
    let mut capture = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", host.netns))
        .arg(common::vnx_bin())
        .args(["capture", &name, "lan", "-w", pcap.to_str().unwrap(), "--", "-c", "2", "icmp"])
        .env("VNX_STATE", host.state())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ping until tcpdump has its two packets (it starts listening a moment after spawning).
    let mut done = None;
    for _ in 0..50 {
        host.vnx(&["exec", &name, "-M", "a", "--", "ping", "-c1", "-W1", "10.7.0.2"]);
        if let Some(s) = capture.try_wait().unwrap() {
            done = Some(s);
            break;
        }
    }
    let status = match done {
        Some(s) => s,
        None => {
            let _ = capture.kill();
            panic!("tcpdump never saw two ICMP packets on the net");
        }
    };
    assert!(status.success(), "capture: {status}");
    let read = std::process::Command::new("tcpdump").args(["-n", "-r"]).arg(&pcap).output().unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(text.contains("10.7.0.1 > 10.7.0.2: ICMP echo request"), "{text}");
    // A net the lab does not have is named in the error.
    let out = host.vnx(&["capture", &name, "wan"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its nets: lan"));
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
}

/// VNX's `capture_file` / `capture_expression`: a capture that runs with the lab. Pinged packets
/// are in the file the moment they pass (none held back when the capture stops), the filter
/// keeps out what it excludes, destroy stops tcpdump, and an existing file is never overwritten.
#[test]
fn a_nets_capture_file_runs_with_the_lab() {
    let host = TestHost::new();
    let name = host.unique("capfile");
    let pcap = host.dir.path().join("lan.pcap");
    let f = host.dir.path().join("capfile.yaml");
    std::fs::write(
        &f,
        format!(
            "name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnets:\n  - {{name: lan, mode: virtual_bridge, capture_file: lan.pcap, capture_expression: icmp}}\nnodes:\n\
             \x20 - {{name: a, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.1.1/24]}}]}}\n\
             \x20 - {{name: b, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.7.1.2/24]}}]}}\n"
        ),
    )
    .unwrap();
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    let state: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["state", "list", &name, "--json"])).unwrap();
    let capture = state.as_array().unwrap().iter().find(|r| r["address"] == "capture.lan").expect("a capture resource");
    let pid = capture["runtime"]["pid"].as_i64().expect("its tcpdump's pid");
    // Running: there, and not a zombie waiting for its reaper (PID 1 here may be slow to reap).
    let runs = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.contains("(tcpdump)") && !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
    };
    assert!(runs(), "the capture runs");
    assert!(host.vnx_ok(&["plan", &name]).contains("No changes."), "a running capture is no drift");
    host.vnx_ok(&["exec", &name, "-M", "a", "--", "ping", "-c3", "-i0.2", "10.7.1.2"]);
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert!(!runs(), "destroy stops the capture");
    let read = std::process::Command::new("tcpdump").args(["-n", "-r"]).arg(&pcap).output().unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    // Three requests and three replies, the last caught too; no ARP (the filter is icmp).
    assert_eq!(text.matches("ICMP echo request").count(), 3, "{text}");
    assert_eq!(text.matches("ICMP echo reply").count(), 3, "{text}");
    assert!(!text.contains("ARP"), "{text}");
    // The file is the user's: a second run of the lab does not overwrite it.
    let before = std::fs::read(&pcap).unwrap();
    let out = host.vnx(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never overwrites"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&pcap).unwrap(), before);
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// A node's init reaps the daemons left to it: a process started in the node whose parent
/// exits (as every daemon's does) is the init's child, and when it ends it is gone, not a
/// zombie (they stayed zombies for an hour, and FRR's stop script waited on them).
#[test]
fn a_nodes_init_reaps_the_daemons_left_to_it() {
    let host = TestHost::new();
    let name = host.unique("reap");
    let f = host.dir.path().join("reap.yaml");
    std::fs::write(
        &f,
        format!("name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnodes:\n  - {{name: h1, type: ns}}\n"),
    )
    .unwrap();
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    // A daemon: its parent (this shell) exits at once and leaves it to the init.
    let pid =
        host.vnx_ok(&["exec", &name, "-M", "h1", "--", "sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"]);
    let pid = pid.trim().to_string();
    assert!(pid.parse::<u32>().is_ok(), "{pid}");
    let ppid = host.vnx_ok(&["exec", &name, "-M", "h1", "--", "ps", "-o", "ppid=", "-p", &pid]);
    assert_eq!(ppid.trim(), "1", "the daemon is the init's");
    host.vnx_ok(&["exec", &name, "-M", "h1", "--", "kill", &pid]);
    let mut left = String::new();
    for _ in 0..50 {
        left = host
            .vnx(&["exec", &name, "-M", "h1", "--", "ps", "-o", "stat=", "-p", &pid])
            .stdout
            .iter()
            .map(|&b| b as char)
            .collect();
        if left.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(left.trim(), "", "the ended daemon is still there (a zombie: not reaped)");
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
}

/// An `ns` node on the host's own root sees none of the host's private places: its home
/// directories are empty, its SSH host keys absent; the host keeps its files.
#[test]
fn the_hosts_private_places_are_hidden_from_nodes() {
    let host = TestHost::new();
    let name = host.unique("private");
    let marker = format!("/root/.vnx-test-marker-{}", std::process::id());
    std::fs::write(&marker, "the host's\n").unwrap();
    let file = host.dir.path().join("p.yaml");
    std::fs::write(
        &file,
        format!("name: {name}\nversion: '2.0'\nnets: []\nnodes:\n  - {{name: a, type: ns, interfaces: []}}\n"),
    )
    .unwrap();
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    let seen = host.vnx_ok(&[
        "exec",
        &name,
        "-M",
        "a",
        "--",
        "sh",
        "-c",
        "ls -A /root /home; ls /etc/ssh/ssh_host_*_key 2>/dev/null; echo done",
    ]);
    let _ = std::fs::remove_file(&marker);
    assert!(!seen.contains(".vnx-test-marker"), "the node sees the host's /root: {seen}");
    assert!(!seen.contains("_key"), "the node sees the host's SSH keys: {seen}");
    assert!(seen.lines().filter(|l| !l.ends_with(':') && !l.is_empty()).all(|l| l == "done"), "{seen}");
    // The host's own are untouched, and the node can still write its /root.
    let host_keys = std::fs::read_dir("/etc/ssh").map(|d| d.flatten().count()).unwrap_or(0);
    host.vnx_ok(&["exec", &name, "-M", "a", "--", "sh", "-c", "echo mine > /root/note"]);
    // The node's init turned off IPv6 duplicate address detection in its namespace.
    let dad = host.vnx_ok(&["exec", &name, "-M", "a", "--", "cat", "/proc/sys/net/ipv6/conf/default/accept_dad"]);
    assert_eq!(dad.trim(), "0");
    assert_eq!(std::fs::read_dir("/etc/ssh").map(|d| d.flatten().count()).unwrap_or(0), host_keys);
    assert!(!std::path::Path::new("/root/note").exists(), "the node wrote the host's /root");
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
}

/// A node's /sys is the sysfs of its own network namespace, mounted the first time vnx enters
/// the node (a node no one enters costs no sysfs mount: each walks every other one).
#[test]
fn a_nodes_sys_is_its_own_and_mounted_when_entered() {
    let host = TestHost::new();
    let name = host.unique("sys");
    let file = host.dir.path().join("s.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n  - {{name: n, mode: virtual_bridge}}\nnodes:\n  - name: a\n    type: ns\n    interfaces:\n      - {{id: 1, net: n, ipv4: [10.7.0.1/24]}}\n"
        ),
    )
    .unwrap();
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    let pid = host.pids(&name)["a"];
    let sysfs_mounted = || {
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/sys") && l.contains(" - sysfs "))
    };
    assert!(!sysfs_mounted(), "a node no one entered has no sysfs mounted");
    let links = host.vnx_ok(&["exec", &name, "-M", "a", "--", "ls", "/sys/class/net"]);
    let mut links: Vec<&str> = links.split_whitespace().collect();
    links.sort();
    assert_eq!(links, ["eth1", "lo"], "the node's /sys shows its own namespace's links");
    assert!(sysfs_mounted(), "entered once, the node keeps its /sys");
    // Entered again: the same mount, not a second one over it.
    host.vnx_ok(&["exec", &name, "-M", "a", "--", "true"]);
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert_eq!(mounts.lines().filter(|l| l.contains(" - sysfs ")).count(), 1, "{mounts}");
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
}

/// A network namespace held open (as a destroy holds those it deletes, so that they die in one
/// of the kernel's cleanup batches) outlives its name until the hold is dropped, then goes
/// with its links.
#[test]
fn held_namespaces_go_when_the_hold_is_dropped() {
    let host = TestHost::new();
    let dying = TestHost::new();
    host.ip(&["link", "add", "vhold", "type", "veth", "peer", "name", "e0", "netns", &dying.netns]);
    let held = vnx_providers::ns::hold_netns([dying.netns.as_str()]);
    let out = std::process::Command::new("ip").args(["netns", "del", &dying.netns]).output().unwrap();
    assert!(out.status.success());
    let has_peer = || host.ip(&["-o", "link", "show"]).contains("vhold");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(has_peer(), "the held namespace (and its end of the pair) lives on without its name");
    drop(held);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while has_peer() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!has_peer(), "dropped, the namespace goes, and the pair with it");
}
