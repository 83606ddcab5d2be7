//! VNX's dynamic-scenario test: the corpus' `<modify_vnx>` documents applied one after
//! another to a running lab. After each step the lab matches the scenario, the pings that
//! should work work, and no node the step does not name was restarted.

mod common;

use std::collections::BTreeSet;

use common::corpus;
use common::lab::TestHost;

fn names(v: &serde_json::Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["name"] != "vm_mgmt")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn corpus_modify_sequence_on_a_running_lab() {
    let host = TestHost::new();
    let hosts_file = host.hosts_file();
    let (file, name) = host.scenario_from(&corpus().join("modify/tutorial_ubuntu_modify.xml"));
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    // host_mapping: every node's management address in the hosts file.
    let hosts = std::fs::read_to_string(&hosts_file).unwrap();
    assert!(hosts.contains("10.250.0.202 h1") && hosts.contains("10.250.0.222 h4"), "{hosts}");
    // The management /30 links work from the host.
    assert!(host.host_sh("ping -c1 -W2 10.250.0.202").status.success());

    let base_nodes = ["h1", "h2", "r1", "r2", "h3", "h4"];
    let base_nets = ["Net0", "Net1", "Net2", "Net3"];
    let mut pids = host.pids(&name);
    let steps: &[(&str, &[&str], &[&str], &[&str])] = &[
        // (document, nodes after, nets after, nodes the step may restart)
        ("add-h5.xml", &["h1", "h2", "r1", "r2", "h3", "h4", "h5"], &base_nets, &["h5"]),
        ("add-net4.xml", &["h1", "h2", "r1", "r2", "h3", "h4", "h5"], &["Net0", "Net1", "Net2", "Net3", "Net4"], &[]),
        ("down-net4.xml", &["h1", "h2", "r1", "r2", "h3", "h4", "h5"], &["Net0", "Net1", "Net2", "Net3", "Net4"], &[]),
        ("up-net4.xml", &["h1", "h2", "r1", "r2", "h3", "h4", "h5"], &["Net0", "Net1", "Net2", "Net3", "Net4"], &[]),
        ("del-net4.xml", &["h1", "h2", "r1", "r2", "h3", "h4", "h5"], &base_nets, &[]),
        ("del-h5-shutdown.xml", &base_nodes, &base_nets, &["h5"]),
    ];
    for (doc, nodes, nets, restarted) in steps {
        host.vnx_ok(&["modify", &name, corpus().join("modify").join(doc).to_str().unwrap(), "--auto-approve"]);
        let show = host.show(&name);
        assert_eq!(names(&show, "nodes"), set(nodes), "nodes after {doc}");
        assert_eq!(names(&show, "nets"), set(nets), "nets after {doc}");
        let now = host.pids(&name);
        for (node, pid) in &pids {
            if !restarted.contains(&node.as_str()) && now.contains_key(node) {
                assert_eq!(now[node], *pid, "{node} was restarted by {doc}");
            }
        }
        // Routing across the lab still works; h5 (when there) is reachable from h1.
        let mut targets = vec!["10.1.2.2", "10.1.1.2"];
        if nodes.contains(&"h5") {
            targets.push("10.1.2.4");
        }
        let failures = host.ping_from(&name, "h1", &targets);
        assert!(failures.is_empty(), "after {doc}: {failures:?}");
        if *doc == "down-net4.xml" || *doc == "up-net4.xml" {
            let bridge = show["nets"].as_array().unwrap().iter().find(|n| n["name"] == "Net4").unwrap()["bridge"]
                .as_str()
                .unwrap()
                .to_string();
            let link = host.lab_ip(&name, &["-o", "link", "show", &bridge]);
            let up = link.contains(",UP") || link.contains("<UP");
            assert_eq!(up, *doc == "up-net4.xml", "Net4 after {doc}: {link}");
        }
        pids = now;
    }
    // The recorded scenario is the modified one: a plan from it changes nothing.
    assert!(host.vnx_ok(&["plan", &name]).contains("No changes."));
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
    let hosts = std::fs::read_to_string(&hosts_file).unwrap();
    assert!(!hosts.contains(&name), "hosts entries left: {hosts}");
}

/// Two modify documents in a row, the second using what the first added, the way VNX users
/// grow a lab: with the scenario's file as the first argument, and VNX's `-f FILE --modify`.
/// Each applies to the lab as it runs (the recorded scenario), not to the file.
#[test]
fn modify_documents_apply_to_the_running_lab_one_after_another() {
    let host = TestHost::new();
    let examples = common::root().join("examples");
    for legacy in [false, true] {
        let name = host.unique("grow");
        let text = std::fs::read_to_string(examples.join("two-lans.yaml")).unwrap();
        let file = host.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, text.replace("name: two-lans", &format!("name: {name}"))).unwrap();
        std::fs::create_dir_all(host.dir.path().join("files/www")).unwrap();
        let f = file.to_str().unwrap();
        host.vnx_ok(&["apply", f, "--auto-approve"]);
        for doc in ["two-lans-add-lan3.xml", "two-lans-add-h3.xml"] {
            let patch = examples.join("modify").join(doc);
            let p = patch.to_str().unwrap();
            if legacy {
                host.vnx_ok(&["-f", f, "--modify", p]);
            } else {
                host.vnx_ok(&["modify", f, p, "--auto-approve"]);
            }
        }
        let show = host.show(&name);
        assert!(names(&show, "nodes").contains("h3"), "{show}");
        assert!(names(&show, "nets").contains("lan3"), "{show}");
        // The file is as it was; the lab has both changes.
        assert!(!std::fs::read_to_string(&file).unwrap().contains("lan3"));
        host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    }
}
