//! Labs over many hosts, on a cluster of test hosts on this machine (`common::cluster`: each
//! host its own network, mount and PID namespaces with an sshd on an underlay bridge; the
//! controller is the first host, the others reached over real ssh).

mod common;

use common::cluster::TestCluster;
use common::corpus;
use serde_json::Value;

const TUTORIAL_V4: &[(&str, &str)] = &[
    ("h1", "10.1.0.2"),
    ("h2", "10.1.0.3"),
    ("r1", "10.1.1.1"),
    ("r2", "10.1.2.1"),
    ("h3", "10.1.2.2"),
    ("h4", "10.1.2.3"),
];
const TUTORIAL_V6: &[&str] =
    &["2001:db8::2", "2001:db8::3", "2001:db8:1::1", "2001:db8:2::1", "2001:db8:2::2", "2001:db8:2::3"];

/// Every node of the tutorial pings every address of the others (each through its host).
fn all_pairs_fail(c: &TestCluster, lab: &str) -> Vec<String> {
    let mut failures = vec![];
    for (node, own) in TUTORIAL_V4 {
        let targets: Vec<&str> =
            TUTORIAL_V4.iter().map(|(_, a)| *a).chain(TUTORIAL_V6.iter().copied()).filter(|a| a != own).collect();
        let script = format!(
            "for a in {}; do ping -c1 -W2 $a >/dev/null 2>&1 || ping -c2 -W1 $a >/dev/null 2>&1 || echo $a; done",
            targets.join(" ")
        );
        let out = c.vnx(&["exec", lab, "-M", node, "--", "sh", "-c", &script]);
        assert!(out.status.success(), "exec on {node}: {}", String::from_utf8_lossy(&out.stderr));
        failures.extend(String::from_utf8_lossy(&out.stdout).lines().map(|a| format!("{node} → {a}")));
    }
    failures
}

fn leftovers(c: &TestCluster) -> Vec<String> {
    c.hosts.iter().flat_map(|h| h.leftovers()).collect()
}

#[test]
fn the_tutorial_over_three_hosts_pings_across_them_and_leaves_nothing() {
    let c = TestCluster::new(3);
    let cluster = c.cluster_file("placement: round-robin\n");
    let cluster = cluster.to_str().unwrap();
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let file = file.to_str().unwrap();
    let lab = "tutorial_lxc_ubuntu";

    let plan = c.vnx_ok(&["plan", file, "--cluster", cluster]);
    assert!(plan.contains("── host bravo ──") && plan.contains("VNI 6000"), "{plan}");
    let out = c.vnx_ok(&["apply", file, "--cluster", cluster, "--auto-approve"]);
    assert!(out.contains("Apply complete on 3 host(s)"), "{out}");

    // Round robin puts h1, h2, r1 on three hosts: Net0 spans them all.
    let show: Value = serde_json::from_str(&c.vnx_ok(&["show", lab, "--format", "json"])).unwrap();
    let host_of = |n: &str| {
        show["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .map(|x| x["host"].as_str().unwrap().to_string())
    };
    assert_eq!(host_of("h1").as_deref(), Some("alpha"));
    assert_eq!(host_of("h2").as_deref(), Some("bravo"));
    assert_eq!(host_of("r1").as_deref(), Some("charlie"));
    let net0 = show["nets"].as_array().unwrap().iter().find(|n| n["name"] == "Net0").unwrap();
    assert_eq!(net0["hosts"].as_array().unwrap().len(), 3, "{net0}");
    assert!(net0["vni"].as_u64().is_some(), "{net0}");
    // The node of another host really runs there: its namespace is in that host's /run/netns.
    assert!(c.host("bravo").sh_ok("ls /run/netns").contains("h2"));
    assert!(!c.host("alpha").sh_ok("ls /run/netns").contains("h2"));

    let failures = all_pairs_fail(&c, lab);
    assert!(failures.is_empty(), "unreachable across hosts: {failures:?}");

    // A second apply changes nothing anywhere.
    let again = c.vnx_ok(&["apply", file, "--cluster", cluster, "--auto-approve"]);
    assert!(again.contains("No changes on any host"), "{again}");

    c.vnx_ok(&["destroy", lab, "--auto-approve"]);
    assert_eq!(leftovers(&c), Vec::<String>::new());
    assert!(!c.vnx(&["show", lab]).status.success(), "the ledger is gone with the lab");
}

#[test]
fn an_underlay_that_carries_less_than_its_links_say_is_caught_before_anything_is_built() {
    let c = TestCluster::new(2);
    let cluster = c.cluster_file("placement: round-robin\n");
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    // A hop between the hosts that carries 1400 bytes while every host's link says 1500.
    c.set_underlay_port_mtu("bravo", 1400);
    let out = c.vnx(&["apply", file.to_str().unwrap(), "--cluster", cluster.to_str().unwrap(), "--auto-approve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("does not carry 1500-byte packets") && err.contains("bravo"), "{err}");
    assert_eq!(leftovers(&c), Vec::<String>::new());
}

fn placement(c: &TestCluster, lab: &str) -> Vec<(String, String)> {
    let show: Value = serde_json::from_str(&c.vnx_ok(&["show", lab, "--format", "json"])).unwrap();
    show["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap().to_string(), n["host"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_host_that_cannot_be_reached_fails_alone_and_the_next_apply_completes_the_lab() {
    let c = TestCluster::new(3);
    let cluster = c.cluster_file("placement: round-robin\n");
    let cluster = cluster.to_str().unwrap();
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let file = file.to_str().unwrap();
    let lab = "tutorial_lxc_ubuntu";
    c.host("bravo").sh_ok("kill $(cat /run/sshd.pid)");
    let out = c.vnx(&["apply", file, "--cluster", cluster, "--auto-approve"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("bravo: not done: host `bravo` cannot be reached"), "{stdout}\n{stderr}");
    assert!(stdout.contains("alpha: ok") && stdout.contains("charlie: ok"), "{stdout}");
    // The others built their part: h1 (alpha) is up.
    assert!(c.host("alpha").sh_ok("ls /run/netns").contains("h1"));
    assert!(!c.host("bravo").sh_ok("ls /run/netns 2>/dev/null || true").contains("h2"));

    c.host("bravo").sh_ok(&format!("/usr/sbin/sshd -f {}", c.path().join("bravo/sshd_config").display()));
    let out = c.vnx_ok(&["apply", file, "--cluster", cluster, "--auto-approve"]);
    assert!(out.contains("Apply complete on 3 host(s)"), "{out}");
    assert!(out.contains("alpha: ok (0 added, 0 changed, 0 destroyed)"), "only bravo had work left: {out}");
    let failures = all_pairs_fail(&c, lab);
    assert!(failures.is_empty(), "unreachable across hosts: {failures:?}");
    c.vnx_ok(&["destroy", lab, "--auto-approve"]);
    assert_eq!(leftovers(&c), Vec::<String>::new());
}

#[test]
fn placement_is_sticky_and_min_cut_crosses_less_than_round_robin() {
    let c = TestCluster::new(3);
    let cluster = c.cluster_file("");
    let cluster = cluster.to_str().unwrap();
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let file = file.to_str().unwrap();
    let lab = "tutorial_lxc_ubuntu";
    let cost = |strategy: &str| {
        let v: Value =
            serde_json::from_str(&c.vnx_ok(&["plan", file, "--cluster", cluster, "--strategy", strategy, "--json"]))
                .unwrap();
        v["cost"].as_u64().unwrap()
    };
    let (min_cut, round_robin) = (cost("min-cut"), cost("round-robin"));
    assert!(min_cut < round_robin, "min-cut {min_cut}, round-robin {round_robin}");

    c.vnx_ok(&["apply", file, "--cluster", cluster, "--auto-approve"]);
    let before = placement(&c, lab);
    // Another strategy asked of a running lab moves nothing...
    let out = c.vnx_ok(&["apply", file, "--cluster", cluster, "--strategy", "round-robin", "--auto-approve"]);
    assert!(out.contains("No changes on any host"), "{out}");
    assert_eq!(placement(&c, lab), before);
    // ...unless asked to rebalance: then nodes move, each a replacement on its hosts.
    let plan = c.vnx_ok(&["plan", file, "--cluster", cluster, "--strategy", "round-robin", "--rebalance"]);
    assert!(plan.contains("will be destroyed") && plan.contains("will be created"), "{plan}");
    c.vnx_ok(&["destroy", lab, "--auto-approve"]);
    assert_eq!(leftovers(&c), Vec::<String>::new());
}
