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

/// Waits (at most 60 s) until `cond` holds or `run` has ended; whether `cond` held.
fn until(run: &mut std::process::Child, cond: impl Fn() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < end && run.try_wait().unwrap().is_none() {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn a_killed_agent_and_a_killed_controller_leave_a_lab_the_next_apply_completes() {
    let c = TestCluster::new(3);
    let cluster = c.cluster_file("placement: round-robin\n");
    let cluster = cluster.to_str().unwrap().to_string();
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let file = file.to_str().unwrap().to_string();
    let lab = "tutorial_lxc_ubuntu";
    let apply = |c: &TestCluster| {
        c.hosts[0]
            .command(common::vnx_bin())
            .args(["apply", &file, "--cluster", &cluster, "--auto-approve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // A host's part is being applied (its vnx runs on its fragment).
    let applying = |h: &str| !c.host(h).sh("pgrep -f '[a]pply .*fragments/'").stdout.is_empty();
    // The agent on bravo dies while bravo builds its part: its vnx loses the agent, its output
    // with it, and stops where it is.
    let mut run = apply(&c);
    let hit = until(&mut run, || applying("bravo"));
    c.host("bravo").sh("pkill -KILL -f '[a]gent --stdio'");
    let first = run.wait().unwrap();
    // Whether the kill landed before bravo's apply ended is timing: said, not asserted (on
    // one CI run bravo's apply finished and answered between the pgrep and the kill).
    eprintln!("bravo's agent killed while its apply ran: {hit}; the first apply succeeded: {}", first.success());
    // The controller dies in the next apply, while the hosts apply.
    let mut run = apply(&c);
    until(&mut run, || ["alpha", "bravo", "charlie"].iter().any(|h| applying(h)));
    c.hosts[0].sh("pkill -KILL -f -- '[-]-cluster'");
    let _ = run.wait();
    // Whatever each left behind, the next apply completes the lab.
    let out = c.vnx_ok(&["apply", &file, "--cluster", &cluster, "--auto-approve"]);
    assert!(out.contains("Apply complete on 3 host(s)") || out.contains("No changes on any host"), "{out}");
    let failures = all_pairs_fail(&c, lab);
    assert!(failures.is_empty(), "unreachable across hosts: {failures:?}");
    c.vnx_ok(&["destroy", lab, "--auto-approve"]);
    assert_eq!(leftovers(&c), Vec::<String>::new());
}

fn state_of(c: &TestCluster, lab: &str, node: &str) -> String {
    let show: Value = serde_json::from_str(&c.vnx_ok(&["show", lab, "--format", "json"])).unwrap();
    let n = show["nodes"].as_array().unwrap().iter().find(|x| x["name"] == node).cloned();
    n.map_or("absent".into(), |n| n["state"].as_str().unwrap_or("?").to_string())
}

/// A cluster lab is driven by its name from the machine that applied it: the files its nodes
/// name travel with each host's part (the scenario sits where no other host can read it),
/// sequences and lifecycle commands reach the nodes' hosts, a modify document changes the lab as
/// it runs, and a plan by name sees no change.
#[test]
fn a_cluster_lab_is_driven_by_its_name_and_its_files_travel_with_it() {
    let c = TestCluster::new(3);
    let cluster = c.cluster_file("placement: round-robin\n");
    let cluster = cluster.to_str().unwrap();
    let lab = "tutorial_lxc_ubuntu";
    // The scenario and its files in the controller's private /run: not on any other host.
    let corpus = corpus();
    c.hosts[0].sh_ok(&format!(
        "mkdir -p /run/lab/scenarios /run/lab/conf && cp {0}/scenarios/tutorial_lxc_ubuntu.xml /run/lab/scenarios/ && cp -r {0}/conf/tutorial_ubuntu /run/lab/conf/",
        corpus.display()
    ));
    assert!(c.host("bravo").sh("test -e /run/lab").status.code() != Some(0));
    let file = "/run/lab/scenarios/tutorial_lxc_ubuntu.xml";
    c.vnx_ok(&["apply", file, "--cluster", cluster, "--auto-approve"]);

    // h3 runs on bravo (round robin); its start-www filetree came from alpha's /run.
    assert!(c.host("bravo").sh_ok("ls /run/netns").contains("h3"));
    let _ = c.vnx(&["exec", lab, "start-www", "-M", "h3"]);
    let page = c.vnx_ok(&["exec", lab, "-M", "h3", "--", "cat", "/var/www/html/index.html"]);
    let want = std::fs::read_to_string(corpus.join("conf/tutorial_ubuntu/h3/index.html")).unwrap();
    assert_eq!(page, want);
    // A sequence runs where its nodes are: ls1234 is h2's (bravo).
    let out = c.vnx_ok(&["exec", lab, "ls1234"]);
    assert!(out.lines().any(|l| l.starts_with("h2 | ")), "{out}");
    let none = c.vnx(&["exec", lab, "no-such-seq"]);
    assert!(!none.status.success());

    // Lifecycle commands by name: h2 (bravo) down, then up again and reachable.
    c.vnx_ok(&["shutdown", lab, "-M", "h2"]);
    assert_eq!(state_of(&c, lab, "h2"), "shutoff");
    assert_eq!(state_of(&c, lab, "h1"), "running");
    c.vnx_ok(&["start", lab, "-M", "h2"]);
    assert_eq!(state_of(&c, lab, "h2"), "running");
    c.vnx_ok(&["exec", lab, "-M", "h1", "--", "ping", "-c1", "-W5", "10.1.0.3"]);

    // A modify document on the running lab: h5 joins Net2 on some host and is reached from h1.
    let add = corpus.join("modify/add-h5.xml");
    c.vnx_ok(&["modify", lab, add.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(state_of(&c, lab, "h5"), "running");
    c.vnx_ok(&["exec", lab, "-M", "h1", "--", "ping", "-c1", "-W5", "10.1.2.4"]);
    let by_name = c.vnx(&["plan", lab, "--detailed-exitcode"]);
    assert_eq!(by_name.status.code(), Some(0), "{}", String::from_utf8_lossy(&by_name.stdout));
    let del = corpus.join("modify/del-h5-destroy.xml");
    c.vnx_ok(&["modify", lab, del.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(state_of(&c, lab, "h5"), "absent");

    c.vnx_ok(&["destroy", lab, "--auto-approve"]);
    assert_eq!(leftovers(&c), Vec::<String>::new());
    for h in &c.hosts {
        assert_eq!(h.sh_ok("ls /var/lib/vnx/files 2>/dev/null || true").trim(), "", "{}: files left", h.name);
    }
}
