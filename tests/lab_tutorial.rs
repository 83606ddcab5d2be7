//! The canonical VNX tutorial (`tutorial_lxc_ubuntu.xml`) as an `ns` lab on real kernel
//! objects: routing over IPv4 and IPv6, the host's interface, sequences, filetrees, in-place
//! changes, drift, and a destroy that leaves nothing.

mod common;

use common::corpus;
use common::lab::TestHost;

const ALL_V4: &[(&str, &str)] = &[
    ("h1", "10.1.0.2"),
    ("h2", "10.1.0.3"),
    ("r1", "10.1.1.1"),
    ("r2", "10.1.2.1"),
    ("h3", "10.1.2.2"),
    ("h4", "10.1.2.3"),
];
const ALL_V6: &[(&str, &str)] = &[
    ("h1", "2001:db8::2"),
    ("h2", "2001:db8::3"),
    ("r1", "2001:db8:1::1"),
    ("r2", "2001:db8:2::1"),
    ("h3", "2001:db8:2::2"),
    ("h4", "2001:db8:2::3"),
];

#[test]
fn tutorial_lxc_ubuntu_runs_as_ns_nodes() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let file = file.to_str().unwrap();
    host.vnx_ok(&["apply", file, "--auto-approve"]);

    // Every node pings every other node, over IPv4 and IPv6, through r1 and r2.
    let mut failures = Vec::new();
    for (node, _) in ALL_V4 {
        let targets: Vec<&str> = ALL_V4.iter().chain(ALL_V6).filter(|(n, _)| n != node).map(|(_, a)| *a).collect();
        failures.extend(host.ping_from(&name, node, &targets));
    }
    assert!(failures.is_empty(), "unreachable: {failures:?}");

    // The host's interface on Net3 reaches h3 (through r1, with the host's routes). Over IPv6
    // the scenario gives r2 no route back to Net3, so the host reaches r1 only.
    let out = host.host_sh("(ping -c1 -W2 10.1.2.2 || ping -c2 -W1 10.1.2.2) && (ping -c1 -W2 2001:db8:3::1 || ping -c2 -W1 2001:db8:3::1)");
    assert!(out.status.success(), "host → h3: {}", String::from_utf8_lossy(&out.stdout));

    // Each node has its own hostname.
    assert_eq!(host.vnx_ok(&["exec", &name, "-M", "r2", "--", "hostname"]).trim(), "r2");

    // ls1234 on h2 runs ls1, ls2, ls3, ls4: four listings.
    let out = host.vnx_ok(&["exec", &name, "ls1234", "-M", "h2"]);
    // (/bin is a link to usr/bin on merged-/usr systems: its listing is that one line.)
    let totals = out.lines().filter(|l| l.starts_with("h2 | total ")).count();
    let bin = out.lines().any(|l| l.starts_with("h2 | ") && l.contains("/bin -> usr/bin"));
    assert!(totals == 4 || (totals == 3 && bin), "{out}");
    assert!(out.contains("drwxrwxrwt") && out.contains(" share"), "the /tmp and /usr listings: {out}");

    // start-www copies the files into h3's /var/www/html, not the host's.
    let out = host.vnx(&["exec", &name, "start-www", "-M", "h3"]);
    let _ = out; // apache2 is not installed here: the files matter, not the service.
    let pid = host.pids(&name)["h3"];
    let in_h3 = std::fs::read_to_string(format!("/proc/{pid}/root/var/www/html/index.html")).expect("index.html in h3");
    let expected = std::fs::read_to_string(corpus().join("conf/tutorial_ubuntu/h3/index.html")).unwrap();
    assert_eq!(in_h3, expected);
    let host_copy = std::fs::read_to_string("/var/www/html/index.html").unwrap_or_default();
    assert_ne!(host_copy, expected, "the file leaked into the host's /var/www/html");

    // A second apply changes nothing.
    let out = host.vnx_ok(&["plan", file, "--detailed-exitcode"]);
    assert!(out.contains("No changes."), "{out}");

    // Destroy leaves nothing behind.
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
    assert!(host.vnx_ok(&["list"]).contains("No scenario"));
}

#[test]
fn one_change_touches_one_thing_and_drift_is_repaired() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    let pids = host.pids(&name);

    // Change h4's address: one in-place change, no node restarted.
    let text = std::fs::read_to_string(&file).unwrap().replace("10.1.2.3/24", "10.1.2.33/24");
    std::fs::write(&file, text).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["plan", f, "--json"])).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{plan:#}");
    assert_eq!(changes[0]["address"], "addresses.h4/1");
    assert_eq!(changes[0]["actions"], serde_json::json!(["update"]));
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert_eq!(host.pids(&name), pids, "a node was restarted");
    assert!(host.ping_from(&name, "h1", &["10.1.2.33"]).is_empty());

    // Change one route: one in-place change.
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        r#"<route type="ipv4" gw="10.1.0.1">default</route>"#,
        r#"<route type="ipv4" gw="10.1.0.1">10.1.0.0/16</route>"#,
        1,
    );
    std::fs::write(&file, text).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["plan", f, "--json"])).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["changes"][0]["address"], "routes.h1");
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert_eq!(host.pids(&name), pids);

    // Take a veth's host end (in the lab's namespace) off its bridge by hand: refresh reads
    // bridges' ports only, then every link when one is not among them; the bridge changed, and
    // apply puts it back in place.
    let links = host.lab_ip(&name, &["-o", "link", "show", "type", "veth"]);
    let victim = links
        .lines()
        .find(|l| l.contains(&format!("vnx:{name}:interface:h2/1")))
        .expect("h2's host link has vnx's mark");
    let ifname = victim.split(": ").nth(1).unwrap().split('@').next().unwrap().to_string();
    host.lab_ip(&name, &["link", "set", &ifname, "nomaster"]);
    let plan: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["plan", f, "--json"])).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["changes"][0]["address"], "interface.h2/1");
    assert_eq!(plan["changes"][0]["actions"], serde_json::json!(["update"]), "{plan:#}");
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert!(host.ping_from(&name, "h2", &["10.1.0.1", "10.1.2.2"]).is_empty());
    assert_eq!(host.pids(&name), pids);

    // Delete a veth by hand: plan reports it, apply repairs it.
    host.lab_ip(&name, &["link", "del", &ifname]);
    let out = host.vnx_ok(&["plan", f]);
    assert!(out.contains("interface.h2/1 has been deleted"), "{out}");
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert!(host.ping_from(&name, "h2", &["10.1.0.1", "10.1.2.2"]).is_empty());
    assert!(host.vnx_ok(&["plan", f]).contains("No changes."));

    // Take a net's bridge (in the lab's namespace) down by hand: refresh reads the bridges
    // with their ports, in one dump; the net changed, and apply brings it up.
    let bridges = host.lab_ip(&name, &["-o", "link", "show", "type", "bridge"]);
    let bridge = bridges.lines().next().expect("a bridge").split(": ").nth(1).unwrap().to_string();
    host.lab_ip(&name, &["link", "set", &bridge, "down"]);
    let plan: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["plan", f, "--json"])).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan:#}");
    assert!(plan["changes"][0]["address"].as_str().unwrap().starts_with("net."), "{plan:#}");
    assert_eq!(plan["changes"][0]["actions"], serde_json::json!(["update"]), "{plan:#}");
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert!(host.vnx_ok(&["plan", f]).contains("No changes."));
    assert_eq!(host.pids(&name), pids);

    // Delete a node's namespace name by hand: drift, repaired without restarting the node.
    let ns = format!("vnx-{name}.h3");
    let out = std::process::Command::new("ip").args(["netns", "del", &ns]).output().unwrap();
    assert!(out.status.success());
    let out = host.vnx_ok(&["plan", f]);
    assert!(out.contains("node.h3 has changed"), "{out}");
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    assert!(std::path::Path::new(&format!("/run/netns/{ns}")).exists());
    assert_eq!(host.pids(&name), pids);

    host.vnx_ok(&["destroy", f, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

#[test]
fn tutorial_nsrouter_converges() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_nsrouter.xml"));
    let f = file.to_str().unwrap();
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    let failures = host.ping_from(&name, "h1", &["10.1.0.1", "10.1.1.2", "10.1.2.2"]);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(host.vnx_ok(&["plan", f]).contains("No changes."));
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// The tutorial the VNX way: `-f FILE --create`, `-x SEQ`, `--modify` twice (the second uses
/// the net the first added), `--shutdown`, `--create` again, `--destroy`; each step's effect
/// checked in the kernel.
#[test]
fn tutorial_the_vnx_way() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    let running = |n: &str| std::path::Path::new(&format!("/proc/{}", host.pids(&name)[n])).exists();
    host.vnx_ok(&["-f", f, "-v", "--create"]);
    assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty(), "the lab does not carry traffic");
    // -x: h2's ls1 lists its /tmp.
    let out = host.vnx_ok(&["-f", f, "-x", "ls1", "-M", "h2"]);
    assert!(out.contains("h2 |"), "{out}");
    // --modify twice: a net, then a node on it.
    let h5 = host.dir.path().join("add-h5-net4.xml");
    std::fs::write(
        &h5,
        "<modify_vnx><add_vm name=\"h5\" type=\"lxc\"><if id=\"1\" net=\"Net4\"><ipv4>10.1.4.5/24</ipv4></if></add_vm></modify_vnx>",
    )
    .unwrap();
    host.vnx_ok(&["-f", f, "--modify", corpus().join("modify/add-net4.xml").to_str().unwrap()]);
    host.vnx_ok(&["-f", f, "--modify", h5.to_str().unwrap()]);
    let addrs = host.vnx_ok(&["exec", &name, "-M", "h5", "--", "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(addrs.contains("10.1.4.5/24"), "{addrs}");
    // --shutdown: every node off, its namespace kept.
    host.vnx_ok(&["-f", f, "--shutdown"]);
    let show = host.show(&name);
    let states: Vec<&str> = show["nodes"].as_array().unwrap().iter().map(|n| n["state"].as_str().unwrap()).collect();
    assert!(states.iter().all(|s| *s == "shutoff"), "{states:?}");
    // --create again brings the file's scenario up: every node started; what only the modify
    // documents added (h5, Net4) goes, since the file is the desired state.
    host.vnx_ok(&["-f", f, "--create"]);
    for n in ["h1", "h2", "r1", "r2", "h3", "h4"] {
        assert!(running(n), "{n} is not running after --create");
    }
    assert!(!host.pids(&name).contains_key("h5"));
    assert!(host.ping_from(&name, "h1", &["10.1.2.2", "2001:db8:2::2"]).is_empty());
    host.vnx_ok(&["-f", f, "--destroy"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// The moment apply returns, the lab carries traffic: every pair pings, IPv4 and IPv6, once,
/// with no retry and no sleep (a CI pipeline runs its tests right after apply).
#[test]
fn the_lab_carries_traffic_when_apply_returns() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    let mut failures = Vec::new();
    for (node, _) in ALL_V4 {
        let targets: Vec<&str> = ALL_V4.iter().chain(ALL_V6).filter(|(n, _)| n != node).map(|(_, a)| *a).collect();
        failures.extend(host.ping_once_from(&name, node, &targets));
    }
    assert!(failures.is_empty(), "unreachable right after apply: {failures:?}");
    // `vnx output` gives both families.
    let vars = host.vnx_ok(&["output", &name]);
    assert!(vars.lines().any(|l| l == "H1_IPV6=2001:db8::2") && vars.lines().any(|l| l == "H1=10.1.0.2"), "{vars}");
    let json: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["output", &name, "--json"])).unwrap();
    assert_eq!(json["r2"]["interfaces"]["eth2"]["ipv6"][0], "2001:db8:2::1/64", "{json}");
}
