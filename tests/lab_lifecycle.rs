//! Node lifecycle on `ns` nodes: shutdown / start / suspend / resume / reboot / reset leave
//! each node in the state `vnx show` reports, a second apply changes nothing, a node stopped
//! behind vnx's back is drift that apply repairs, and destroy of a lab with a shut-off node
//! leaves nothing.

mod common;

use common::corpus;
use common::lab::TestHost;

fn run_state(host: &TestHost, name: &str, node: &str) -> String {
    let show = host.show(name);
    let n = show["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap().clone();
    n["state"].as_str().unwrap().to_string()
}

/// `vnx plan --detailed-exitcode`: 0 when nothing would change.
fn plan_is_empty(host: &TestHost, name: &str) -> bool {
    let out = host.vnx(&["plan", name, "--detailed-exitcode"]);
    assert!(matches!(out.status.code(), Some(0 | 2)), "plan failed: {}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(2) {
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    }
    out.status.code() == Some(0)
}

/// Each node's init lives in the network namespace vnx ran in (the test host's), holding the
/// node's (its bound name's) open, its command line names the node, and what runs in the node
/// runs in the node's.
fn inits_outside_their_nodes(host: &TestHost, name: &str) {
    use std::os::unix::fs::MetadataExt;
    let ino = |path: &str| std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}")).ino();
    let host_net = ino(&format!("/run/netns/{}", host.netns));
    for (node, pid) in host.pids(name) {
        let node_net = ino(&format!("/run/netns/vnx-{name}.{node}"));
        assert_eq!(ino(&format!("/proc/{pid}/ns/net")), host_net, "{node}'s init is not in vnx's namespace");
        assert_eq!(ino(&format!("/proc/{pid}/fd/200")), node_net, "{node}'s init does not hold its namespace");
        // Forked by vnx's node server, named as a `vnx-init` run for the node was (what finds a
        // node's init by its directory, and `ps`, read this).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let want = format!("vnx-init\0--hostname\0{node}\0--dir\0/run/vnx/labs/{name}/{node}\0");
        assert_eq!(String::from_utf8_lossy(&cmdline), want, "{node}'s init's command line");
        let seen = host.vnx_ok(&["exec", name, "-M", &node, "--", "readlink", "/proc/self/ns/net"]);
        assert_eq!(seen.trim(), format!("net:[{node_net}]"), "a command in {node} ran elsewhere");
    }
}

#[test]
fn ns_node_lifecycle() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty());
    inits_outside_their_nodes(&host, &name);
    // Each veth end has one queue each way, in the node and on the lab's bridge.
    let queues = host.vnx_ok(&["exec", &name, "-M", "r1", "--", "ls", "/sys/class/net/eth2/queues"]);
    assert_eq!(queues.split_whitespace().collect::<Vec<_>>(), ["rx-0", "tx-0"], "r1's eth2");
    let lab = host.lab_ip(&name, &["-d", "link", "show", "type", "veth"]);
    let ends = lab.lines().filter(|l| l.contains("numtxqueues")).collect::<Vec<_>>();
    assert!(!ends.is_empty(), "no veth in the lab's namespace: {lab}");
    for l in ends {
        assert!(l.contains("numtxqueues 1 numrxqueues 1 "), "a lab end with more queues: {l}");
    }

    // shutdown: r2 is off, routing through it stops, and the plan keeps it that way.
    host.vnx_ok(&["shutdown", &name, "-M", "r2"]);
    assert_eq!(run_state(&host, &name, "r2"), "shutoff");
    assert_eq!(run_state(&host, &name, "r1"), "running");
    assert!(!host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty(), "h3 reachable through a shut-off r2");
    assert!(!host.ping_from(&name, "r1", &["10.1.1.2"]).is_empty(), "a shut-off r2 answers");
    let out = host.vnx(&["exec", &name, "-M", "r2", "--", "true"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("vnx start"));
    assert!(plan_is_empty(&host, &name), "apply would start a node shut down with vnx shutdown");

    // start: r2 runs again with a new init, its routes are back.
    let before = host.pids(&name);
    host.vnx_ok(&["start", &name, "-M", "r2"]);
    assert_eq!(run_state(&host, &name, "r2"), "running");
    let after = host.pids(&name);
    assert_ne!(before["r2"], after["r2"]);
    assert_eq!(before["r1"], after["r1"], "start touched another node");
    assert!(host.ping_from(&name, "h1", &["10.1.2.2", "10.1.1.2"]).is_empty());
    assert!(host.ping_from(&name, "h3", &["10.1.0.2"]).is_empty(), "r2's default route is back");
    assert!(plan_is_empty(&host, &name));
    inits_outside_their_nodes(&host, &name);

    // suspend / resume: frozen processes, refused execs, then thawed.
    host.vnx_ok(&["suspend", &name, "-M", "h3"]);
    assert_eq!(run_state(&host, &name, "h3"), "paused");
    assert!(!host.vnx(&["exec", &name, "-M", "h3", "--", "true"]).status.success());
    assert!(plan_is_empty(&host, &name));
    host.vnx_ok(&["resume", &name, "-M", "h3"]);
    assert_eq!(run_state(&host, &name, "h3"), "running");
    assert!(host.vnx_ok(&["exec", &name, "-M", "h3", "--", "hostname"]).contains("h3"));
    assert!(plan_is_empty(&host, &name));

    // reboot and reset: a new init each time, running, nothing left to do.
    for verb in ["reboot", "reset"] {
        let before = host.pids(&name)["h1"];
        host.vnx_ok(&[verb, &name, "-M", "h1"]);
        assert_eq!(run_state(&host, &name, "h1"), "running", "after {verb}");
        assert_ne!(host.pids(&name)["h1"], before, "{verb} did not restart h1");
        assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty(), "after {verb}");
        assert!(plan_is_empty(&host, &name), "after {verb}");
    }

    // save / restore need a checkpoint of processes: refused for ns nodes, saying why.
    let out = host.vnx(&["save", &name, "-M", "h1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ns node"), "{}", String::from_utf8_lossy(&out.stderr));
    // An unknown node is named.
    let out = host.vnx(&["shutdown", &name, "-M", "h9"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no node h9"));

    // A node stopped behind vnx's back is drift; apply starts it again.
    let pid = host.pids(&name)["r2"];
    nix_kill(pid);
    assert_eq!(run_state(&host, &name, "r2"), "shutoff");
    let plan = host.vnx_ok(&["plan", &name]);
    assert!(plan.contains("node.r2") && plan.contains("shutoff"), "{plan}");
    host.vnx_ok(&["apply", &name, "--auto-approve"]);
    assert_eq!(run_state(&host, &name, "r2"), "running");
    assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty());
    assert!(plan_is_empty(&host, &name));

    // Destroy with a node shut off leaves nothing.
    host.vnx_ok(&["shutdown", &name, "-M", "h4", "--kill"]);
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

fn nix_kill(pid: i64) {
    let ok = std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status().unwrap().success();
    assert!(ok);
    // The kernel tears the PID namespace down behind the signal.
    for _ in 0..200 {
        if std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z")) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A lab an earlier vnx built kept its nodes' inits, boot sequences and routes only in its
/// record (this vnx keeps them in each node's directory): such a lab is taken over from the
/// record, and a reboot then restarts the node once, runs its boot sequence and puts its route
/// back (without that, the running node looked shut off and a second init was started).
#[test]
fn a_lab_of_an_earlier_vnx_is_taken_over_from_its_record() {
    let host = TestHost::new();
    let name = host.unique("adopt");
    let text = format!(
        "name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnets:\n  - {{name: lan, mode: virtual_bridge}}\nnodes:\n  \
         - name: h1\n    type: ns\n    interfaces:\n      - {{id: 1, net: lan, ipv4: [10.0.1.10/24]}}\n    \
         routes:\n      - {{type: ipv4, to: 10.9.0.0/16, gw: 10.0.1.1}}\n    execs:\n      \
         - {{seq: on_boot, command: \"echo booted >> /var/tmp/boots\"}}\n"
    );
    let f = host.dir.path().join("adopt.yaml");
    std::fs::write(&f, text).unwrap();
    host.vnx_ok(&["apply", f.to_str().unwrap(), "--auto-approve"]);
    // As an earlier vnx left it: no kept files, no mark on the runtime directory.
    let run_dir = std::path::PathBuf::from(format!("/run/vnx/labs/{name}"));
    std::fs::remove_file(run_dir.join("kept")).unwrap();
    for file in ["init.json", "boot.json", "routes.json"] {
        std::fs::remove_file(run_dir.join("h1").join(file)).unwrap();
    }
    let before = host.pids(&name)["h1"];
    host.vnx_ok(&["reboot", &name, "-M", "h1"]);
    let after = host.pids(&name)["h1"];
    assert_ne!(before, after, "h1 was not restarted");
    // Gone, or a zombie its reaper has not collected yet.
    let stat = std::fs::read_to_string(format!("/proc/{before}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]);
    assert!(matches!(state, None | Some("Z" | "X")), "the old init of h1 still runs: {stat}");
    let boots = host.vnx_ok(&["exec", &name, "-M", "h1", "--", "cat", "/var/tmp/boots"]);
    assert_eq!(boots.lines().count(), 2, "the reboot did not run the boot sequence: {boots}");
    let routes = host.vnx_ok(&["exec", &name, "-M", "h1", "--", "ip", "route"]);
    assert!(routes.contains("10.9.0.0/16 via 10.0.1.1"), "the route is not back: {routes}");
    assert!(plan_is_empty(&host, &name));
}

/// The node server (`vnx-init --serve`) answers each request under its own id: a node that
/// cannot start with its error, one that can with its init's pid (the init: the reaper, named
/// after its node, living in the server's network namespace, holding its own, reaping the
/// node's orphans); a line that is not a request is said on stderr and skipped; the server ends
/// when its input does.
#[test]
fn the_node_server_answers_each_request_by_its_id() {
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;
    use std::process::{Command, Stdio};
    let host = TestHost::new();
    let dir = host.dir.path();
    let request = |id: u64, name: &str, rootfs: &str| {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        let r = serde_json::json!({"id": id, "hostname": name, "rootfs": rootfs, "dir": dir.join(name),
            "hosts": [], "netns": null, "mounts_from": null});
        format!("{r}\n")
    };
    let mut server = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", host.netns))
        .arg(env!("CARGO_BIN_EXE_vnx-init"))
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let lines = request(7, "bad", "/nonexistent-vnx-rootfs") + "not a request\n" + &request(8, "good", "/");
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    // Every reply is in once the server and the children it forked are gone (a node's init
    // that kept the server's stdout would hold the reader for ever: bounded here).
    let mut stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let Ok(out) = rx.recv_timeout(std::time::Duration::from_secs(60)) else {
        let _ = Command::new("pkill").args(["-9", "-f", &dir.join("good").display().to_string()]).status();
        panic!("the server's output did not end: a node's init holds it");
    };
    let mut err = String::new();
    server.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(server.wait().unwrap().success());
    assert!(err.contains("an unreadable request"), "{err}");
    let bad = out.lines().find(|l| l.starts_with("7 ")).unwrap_or_else(|| panic!("no answer to 7: {out}"));
    assert!(bad.starts_with("7 error ") && bad.contains("copy-on-write root"), "{bad}");
    let good = out.lines().find(|l| l.starts_with("8 ")).unwrap_or_else(|| panic!("no answer to 8: {out}"));
    let pid: i32 = good.strip_prefix("8 ready ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{good}"));
    // An orphan of the node's (its parent gone) is the init's to reap: no zombie stays.
    let orphan = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "-p", "-r", "-w", "--", "sh", "-c", "sleep 0.2 & echo $!"])
        .output()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let zombies: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| {
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
            rest.starts_with('Z') && rest.split(' ').nth(1) == Some(pid.to_string().as_str())
        })
        .collect();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let node_ino = std::fs::metadata(format!("/proc/{pid}/fd/200")).map(|m| m.ino());
    let own_ino = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    assert!(orphan.status.success(), "{orphan:?}");
    assert!(zombies.is_empty(), "the init left its orphans unreaped: {zombies:?}");
    // Where the reaper is built (x86-64), the init is it: a program of a few pages.
    if cfg!(target_arch = "x86_64") {
        assert!(exe.to_string_lossy().starts_with("/memfd:vnx-init"), "the init runs {exe:?}");
    }
    let want = format!("vnx-init\0--hostname\0good\0--dir\0{}\0", dir.join("good").display());
    assert_eq!(String::from_utf8_lossy(&cmdline), want);
    let host_ino = std::fs::metadata(format!("/run/netns/{}", host.netns)).unwrap().ino();
    assert_eq!(own_ino.unwrap(), host_ino, "the init is not in the server's network namespace");
    assert_ne!(node_ino.unwrap(), host_ino, "the init holds no namespace of the node's own");
}
