//! Open vSwitch nets (`mode="openvswitch"`): the lab's own switch (ovsdb-server and
//! ovs-vswitchd in the lab's namespace, the userspace datapath where the kernel has none),
//! bridges, ports with VLANs, connections between switches, the host on a VLAN; VLAN
//! isolation, re-tagging in place, drift repaired, nothing left.

mod common;

use std::time::{Duration, Instant};

use common::corpus;
use common::lab::TestHost;

/// Whether `node` reaches `to`, polled for at most `limit` (a switch's learning, or its flows
/// revalidated after a change, take a moment).
fn reaches(h: &TestHost, lab: &str, node: &str, to: &str, limit: Duration) -> bool {
    let t0 = Instant::now();
    loop {
        if h.vnx(&["exec", lab, "-M", node, "--", "ping", "-c1", "-W1", to]).status.success() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
    }
}

/// `ovs-vsctl` on the lab's own switch database.
fn vsctl(lab: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ovs-vsctl")
        .arg(format!("--db=unix:/run/vnx/labs/{lab}/ovs/db.sock"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ovs-vsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The corpus' tutorial_vlan_ovs: three switches, two joined by trunks of VLANs 1,2 and 3,
/// hosts on access ports, the host on VLAN 1 of Net2.
#[test]
fn vlans_isolate_across_trunks_retag_in_place_and_drift_is_repaired() {
    let h = TestHost::new();
    let (path, lab) = h.scenario_from(&corpus().join("scenarios").join("tutorial_vlan_ovs.xml"));
    let file = path.to_str().unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    let second = Duration::from_secs(10);
    // Same VLAN across the first trunk (1,2) and across the second (3); the host on VLAN 1.
    assert!(reaches(&h, &lab, "h1", "10.1.1.3", second), "h1 -> h3: VLAN 1 over firstlink");
    assert!(reaches(&h, &lab, "h4", "10.1.1.5", second), "h4 -> h5: VLAN 3 over secondlink");
    assert!(reaches(&h, &lab, "h6", "10.1.1.7", second), "h6 -> the host: VLAN 1 of Net2");
    // Other VLANs, on the same switch or behind a trunk that does not carry theirs: no.
    let never = Duration::from_secs(2);
    assert!(!reaches(&h, &lab, "h1", "10.1.1.2", never), "h1 (VLAN 1) reached h2 (VLAN 2)");
    assert!(!reaches(&h, &lab, "h6", "10.1.1.1", never), "h6 reached h1: secondlink carries VLAN 3 only");
    assert!(!reaches(&h, &lab, "h2", "10.1.1.4", never), "h2 (VLAN 2) reached h4 (VLAN 3)");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // h2 moved to VLAN 1: one port re-tagged in place, and h1 reaches it.
    let text = std::fs::read_to_string(&path).unwrap();
    let h2 = text.find("<vm name=\"h2\"").unwrap();
    let at = h2 + text[h2..].find("<tag id='2'/>").unwrap();
    std::fs::write(&path, format!("{}<tag id='1'/>{}", &text[..at], &text[at + "<tag id='2'/>".len()..])).unwrap();
    let plan = String::from_utf8_lossy(&h.vnx(&["plan", file]).stdout).into_owned();
    assert!(plan.contains("ovs-port.h2/1 will be updated in place"), "{plan}");
    assert!(plan.contains("Plan: 0 to add, 1 to change, 0 to destroy"), "{plan}");
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert!(reaches(&h, &lab, "h1", "10.1.1.2", second), "h1 -> h2 once both are on VLAN 1");

    // Drift: h4's port removed by hand, h5's re-tagged (both on VLAN 3); the plan says so, and
    // apply puts them back as they were.
    let ports_and_tags = || vsctl(&lab, &["--bare", "--columns=name,tag,trunks", "list", "port"]);
    let before = sorted(&ports_and_tags());
    let vlan3 = vsctl(&lab, &["--bare", "--columns=name", "find", "port", "tag=3"]);
    let vlan3: Vec<&str> = vlan3.split_whitespace().collect();
    assert_eq!(vlan3.len(), 2, "h4's and h5's ports: {vlan3:?}");
    vsctl(&lab, &["del-port", vlan3[0]]);
    vsctl(&lab, &["set", "port", vlan3[1], "tag=9"]);
    let plan = String::from_utf8_lossy(&h.vnx(&["plan", file]).stdout).into_owned();
    assert!(plan.contains("Plan: 1 to add, 1 to change, 0 to destroy"), "{plan}");
    assert!(plan.contains("tag = 9 -> 3"), "{plan}");
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert_eq!(sorted(&ports_and_tags()), before);
    assert!(reaches(&h, &lab, "h4", "10.1.1.5", second), "h4 -> h5 once repaired");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
    assert!(!std::path::Path::new(&format!("/run/vnx/labs/{lab}/ovs")).exists());
}

fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split_whitespace().map(String::from).collect();
    v.sort();
    v
}

/// An SDN lab: a switch in secure mode forwards nothing until its controller, a learning switch
/// (Debian's ovs-testcontroller) started on a node of the lab, has set flows; a standalone
/// switch beside it, without a controller, forwards from the start; switches joined by an
/// Open vSwitch patch connection carrying one VLAN.
#[test]
fn a_secure_switch_forwards_once_its_controller_on_a_node_is_up() {
    let h = TestHost::new();
    let lab = h.unique("sdn");
    let y = format!(
        "name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n\
         \x20 - {{name: sw, mode: openvswitch, fail_mode: secure, controller: 'tcp:10.0.0.100:6653'}}\n\
         \x20 - name: free\n    mode: openvswitch\n    connections: [{{name: patch, net: far, type: ovs-patch, vlan: {{tags: [7]}}}}]\n\
         \x20 - {{name: far, mode: openvswitch, mtu: 1400}}\n\
         nodes:\n\
         \x20 - {{name: c, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.0.100/24]}}]}}\n\
         \x20 - {{name: h1, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.0.1/24]}}, {{id: 2, net: free, vlan: {{tags: [7]}}, ipv4: [10.0.1.1/24]}}]}}\n\
         \x20 - {{name: h2, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.0.2/24]}}, {{id: 2, net: far, vlan: {{tags: [7]}}, ipv4: [10.0.1.2/24]}}]}}\n\
         \x20 - {{name: h3, type: ns, interfaces: [{{id: 1, net: far, vlan: {{tags: [8]}}, ipv4: [10.0.1.3/24]}}]}}\n"
    );
    let file = h.dir.path().join("sdn.yaml");
    std::fs::write(&file, y).unwrap();
    let file = file.to_str().unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    // Standalone, through the patch on VLAN 7: at once; VLAN 8 is not on the patch.
    assert!(reaches(&h, &lab, "h1", "10.0.1.2", Duration::from_secs(10)), "h1 -> h2 over the patch (VLAN 7)");
    assert!(!reaches(&h, &lab, "h1", "10.0.1.3", Duration::from_secs(2)), "h1 reached h3 on VLAN 8");
    // The net's MTU: its switch's own port and the nodes' ends.
    let own = vsctl(&lab, &["--bare", "--columns=mtu", "find", "interface", "mtu_request=1400"]);
    assert_eq!(own.trim(), "1400", "the bridge's own port");
    let h3 = h.vnx_ok(&["exec", &lab, "-M", "h3", "--", "cat", "/sys/class/net/eth1/mtu"]);
    assert_eq!(h3.trim(), "1400");
    // Secure, no controller yet: nothing.
    assert!(!reaches(&h, &lab, "h1", "10.0.0.2", Duration::from_secs(3)), "a secure switch forwarded without flows");
    h.vnx_ok(&[
        "exec",
        &lab,
        "-M",
        "c",
        "--",
        "env",
        "OVS_RUNDIR=/run",
        "ovs-testcontroller",
        "--detach",
        "--pidfile=/run/ctl.pid",
        "ptcp:6653",
    ]);
    let up = reaches(&h, &lab, "h1", "10.0.0.2", Duration::from_secs(40));
    let flows = std::process::Command::new("ovs-ofctl")
        .arg("dump-flows")
        .arg(format!(
            "unix:/run/vnx/labs/{lab}/ovs/{}.mgmt",
            vsctl(&lab, &["--bare", "--columns=name", "find", "bridge", "fail_mode=secure"])
        ))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(up, "h1 never reached h2 through the controller's flows:\n{flows}");
    assert!(flows.lines().count() > 1, "flows set by the controller: {flows}");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
}

/// `<connection type="vxlan">`: two hosts (test namespaces joined by a veth, the underlay),
/// each with a lab whose switch tunnels to the other's, a trunk of VLANs 5 and 6: the same
/// VLAN reaches across, another VLAN of the same subnet does not, nor VLAN 7 (not on the
/// trunk); a port re-tagged by hand is drift; destroy leaves only the underlay.
#[test]
fn vxlan_connections_join_two_hosts_switches_with_a_trunk() {
    let (a, b) = (TestHost::new(), TestHost::new());
    a.ip(&["link", "add", "under", "type", "veth", "peer", "name", "under", "netns", &b.netns]);
    for (h, addr) in [(&a, "10.99.0.1/30"), (&b, "10.99.0.2/30")] {
        h.ip(&["addr", "add", addr, "dev", "under"]);
        h.ip(&["link", "set", "under", "up"]);
    }
    let lab = |h: &TestHost, base: &str, remote: &str, nodes: &str| {
        let lab = h.unique(base);
        let y = format!(
            "name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n\
             \x20 - name: sw\n    mode: openvswitch\n    connections: [{{name: far, type: vxlan, host: '{remote}', dst_port: '4790', src_port: '5555', vlan: {{tags: [5, 6]}}}}]\n\
             nodes:\n{nodes}"
        );
        let file = h.dir.path().join("vx.yaml");
        std::fs::write(&file, y).unwrap();
        (lab, file.to_str().unwrap().to_string())
    };
    let node = |name: &str, tag: u16, addr: &str| {
        format!("  - {{name: {name}, type: ns, interfaces: [{{id: 1, net: sw, vlan: {{tags: [{tag}]}}, ipv4: [{addr}]}}]}}\n")
    };
    let (la, fa) = lab(&a, "vxa", "10.99.0.2", &(node("a5", 5, "10.0.5.1/24") + &node("a7", 7, "10.0.7.1/24")));
    let (lb, fb) = lab(
        &b,
        "vxb",
        "10.99.0.1",
        &(node("b5", 5, "10.0.5.2/24") + &node("b6", 6, "10.0.5.3/24") + &node("b7", 7, "10.0.7.2/24")),
    );
    a.vnx_ok(&["apply", &fa, "--auto-approve"]);
    b.vnx_ok(&["apply", &fb, "--auto-approve"]);
    // The tunnel is a kernel VXLAN device on the switch, its socket on the host's underlay.
    let dev = a.lab_ip(&la, &["-d", "-o", "link", "show", "type", "vxlan"]);
    assert!(dev.contains("remote 10.99.0.2") || dev.contains("dstport 4790"), "{dev}");
    assert!(dev.contains("srcport 5555 5556") && dev.contains("dstport 4790"), "{dev}");
    assert!(reaches(&a, &la, "a5", "10.0.5.2", Duration::from_secs(10)), "a5 -> b5: VLAN 5 across the tunnel");
    let never = Duration::from_secs(2);
    assert!(!reaches(&a, &la, "a5", "10.0.5.3", never), "a5 (VLAN 5) reached b6 (VLAN 6)");
    assert!(!reaches(&a, &la, "a7", "10.0.7.2", never), "VLAN 7 crossed a trunk of 5 and 6");
    for (h, file) in [(&a, &fa), (&b, &fb)] {
        let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    }
    // Drift: the tunnel's port re-tagged by hand to carry VLAN 7 only.
    let tunnel = vsctl(&la, &["--bare", "--columns=name", "find", "port", "trunks=[5,6]"]);
    vsctl(&la, &["set", "port", tunnel.trim(), "trunks=7"]);
    let plan = String::from_utf8_lossy(&a.vnx(&["plan", &fa]).stdout).into_owned();
    assert!(plan.contains("ovs-port.sw/far will be updated in place"), "{plan}");
    assert!(plan.contains("Plan: 0 to add, 1 to change, 0 to destroy"), "{plan}");
    a.vnx_ok(&["apply", &fa, "--auto-approve"]);
    let repaired = reaches(&a, &la, "a5", "10.0.5.2", Duration::from_secs(10));
    assert!(repaired, "a5 -> b5 once repaired: {}", vsctl(&la, &["--columns=name,tag,trunks", "list", "port"]));
    for (h, l) in [(&a, &la), (&b, &lb)] {
        h.vnx_ok(&["destroy", l, "--auto-approve"]);
        let left: Vec<String> = h.leftovers().into_iter().filter(|l| !l.contains(" under@")).collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// `external=` on an Open vSwitch net: a NIC of the host (here a veth whose other end is in a
/// namespace of the test's) joins the switch untagged; a node reaches what is behind it; the
/// NIC taken off by hand is drift that apply repairs; destroy gives the NIC back, whole.
#[test]
fn an_external_nic_joins_the_switch_and_is_given_back() {
    let h = TestHost::new();
    let outside = TestHost::new();
    h.ip(&["link", "add", "nic0", "type", "veth", "peer", "name", "wire", "netns", &outside.netns]);
    h.ip(&["link", "set", "nic0", "up"]);
    outside.ip(&["addr", "add", "10.0.9.100/24", "dev", "wire"]);
    outside.ip(&["link", "set", "wire", "up"]);
    let lab = h.unique("ext");
    let y = format!(
        "name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n  - {{name: sw, mode: openvswitch, external: nic0}}\n\
         nodes:\n  - {{name: n1, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.9.1/24]}}]}}\n"
    );
    let file = h.dir.path().join("ext.yaml");
    std::fs::write(&file, y).unwrap();
    let file = file.to_str().unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert!(reaches(&h, &lab, "n1", "10.0.9.100", Duration::from_secs(10)), "n1 -> behind the NIC");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    h.ip(&["link", "set", "nic0", "nomaster"]);
    let plan = String::from_utf8_lossy(&h.vnx(&["plan", file]).stdout).into_owned();
    assert!(plan.contains("ovs-link.external/sw"), "{plan}");
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert!(h.ip(&["-o", "link", "show", "nic0"]).contains(" master "), "the NIC is back on its bridge");
    assert!(reaches(&h, &lab, "n1", "10.0.9.100", Duration::from_secs(10)), "n1 -> behind the NIC, repaired");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    let nic = h.ip(&["-o", "link", "show", "nic0"]);
    assert!(!nic.contains(" master "), "the NIC is off vnx's bridge: {nic}");
    let left: Vec<String> = h.leftovers().into_iter().filter(|l| !l.contains(" nic0@")).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A controller outside the lab, on the host's loopback (as VNX's labs ran Ryu or POX beside
/// the switch): the secure switch forwards once the controller runs; killing the relay that
/// carries its sessions is drift that apply repairs; destroy leaves no relay.
#[test]
fn a_controller_on_the_hosts_loopback_is_reached_through_a_relay() {
    let h = TestHost::new();
    let lab = h.unique("hostctl");
    let y = format!(
        "name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n\
         \x20 - {{name: sw, mode: openvswitch, fail_mode: secure, controller: 'tcp:127.0.0.1:6654'}}\n\
         nodes:\n\
         \x20 - {{name: h1, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.0.1/24]}}]}}\n\
         \x20 - {{name: h2, type: ns, interfaces: [{{id: 1, net: sw, ipv4: [10.0.0.2/24]}}]}}\n"
    );
    let file = h.dir.path().join("hostctl.yaml");
    std::fs::write(&file, y).unwrap();
    let file = file.to_str().unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert!(!reaches(&h, &lab, "h1", "10.0.0.2", Duration::from_secs(3)), "a secure switch forwarded without flows");
    // The controller, in the test's "host" namespace, on its loopback.
    let pidfile = h.dir.path().join("ctl.pid");
    // Stopped however the test ends (a failed assert must not leave it running).
    let _controller = StopOnDrop(pidfile.clone());
    let out = h.host_sh(&format!(
        "OVS_RUNDIR={0} ovs-testcontroller --detach --pidfile={1} ptcp:6654:127.0.0.1",
        h.dir.path().display(),
        pidfile.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let up = reaches(&h, &lab, "h1", "10.0.0.2", Duration::from_secs(40));
    assert!(up, "h1 never reached h2 through the host's controller");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // The relay killed: drift, restarted by apply, and the switch keeps its controller.
    let dir = format!("/run/vnx/labs/{lab}/ovs");
    let pid_of = || -> Option<String> {
        std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".relay.pid"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
    };
    let pid = pid_of().expect("the relay's pid file");
    assert!(std::process::Command::new("kill").args(["-9", pid.trim()]).status().unwrap().success());
    let plan = String::from_utf8_lossy(&h.vnx(&["plan", file]).stdout).into_owned();
    assert!(plan.contains("ovs-relay.sw/c0"), "{plan}");
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    assert_ne!(pid_of().as_deref().map(str::trim), Some(pid.trim()), "a new relay");
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
}

/// Stops the process a pid file names when dropped.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Ok(p) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill").arg(p.trim()).status();
        }
    }
}
