//! A scenario file never harms the machine it runs on: one test per class of harm that was
//! reproduced on vnx before these mechanisms existed (issue 14). Each runs where a failure would
//! otherwise harm the machine in a sandbox (`common::sandbox`: namespaces of its own and a scratch
//! /run), and each fails when the mechanism it guards is taken out.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::sandbox::Sandbox;

/// A one-node lab on one net, named `name`, with `extra` YAML appended to the node.
fn lab(name: &str, node: &str, extra: &str) -> String {
    format!(
        "name: {name}\nversion: \"2.0\"\nmgmt: {{type: none}}\nnets:\n  - {{name: lan, mode: virtual_bridge}}\n\
         nodes:\n  - name: {node}\n    type: ns\n    interfaces:\n      - {{id: 1, net: lan, ipv4: [10.9.0.1/24]}}\n{extra}"
    )
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Names that are paths (`.`, `..`, `a/b`) are refused at validation, before anything exists:
/// the sandbox's /run, its other labs and the state directory stay as they were.
#[test]
fn names_that_are_paths_are_refused() {
    let sb = Sandbox::new();
    sb.sh_ok("mkdir -p /run/vnx/labs/other && touch /run/marker /run/vnx/labs/other/keep");
    for (scen, node) in
        [("..", "h1"), (".", "h1"), ("a/b", "h1"), ("ok", ".."), ("ok", "."), ("ok", "a.b"), ("-x", "h1")]
    {
        let f = sb.file("bad.yaml", &lab(&format!("{scen:?}"), &format!("{node:?}"), ""));
        for cmd in [&["apply", f.as_str(), "--auto-approve"][..], &["destroy", f.as_str(), "--auto-approve"]] {
            let out = sb.vnx(cmd);
            assert_eq!(out.status.code(), Some(1), "{scen}/{node}: {cmd:?} was not refused: {}", stderr(&out));
            assert!(stderr(&out).contains("vnx::bad-name"), "{scen}/{node}: {}", stderr(&out));
        }
        sb.sh_ok("test -e /run/marker && test -e /run/vnx/labs/other/keep");
        assert!(!sb.state().parent().unwrap().exists(), "an invalid scenario created the state directory");
    }
    // A name that reaches vnx another way (an applied name on the command line) builds no path.
    let out = sb.vnx(&["destroy", "..", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    sb.sh_ok("test -e /run/marker && test -e /run/vnx/labs/other/keep");
}

/// Files vnx writes into a node resolve inside the node, whatever links lie on the way:
/// Debian's `/var/run -> /run`, a link a node's command made to a host folder (absolute, or
/// through the node's /proc), and a node's /etc/hosts replaced by a link to a host file.
#[test]
fn files_written_into_a_node_stay_in_it() {
    let sb = Sandbox::new();
    let host_dir = sb.dir.path().join("host-dir");
    let host_file = sb.dir.path().join("host-file");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(&host_file, "the host's\n").unwrap();
    std::fs::create_dir(sb.dir.path().join("files")).unwrap();
    std::fs::write(sb.dir.path().join("files/f"), "from the scenario\n").unwrap();
    let (hd, hf) = (host_dir.display(), host_file.display());
    let extra = format!(
        "    filetrees:\n      - {{seq: run, root: /var/run/x/, source: files/}}\n      - {{seq: web, root: /srv/www/, source: files/}}\n\
         \x20     - {{seq: magic, root: /srv/m/, source: files/}}\n\
         \x20   execs:\n      - {{seq: links, command: \"mkdir -p /srv && ln -s {hd} /srv/www && ln -s /proc/self/root{hd} /srv/m && rm -f /etc/hosts && ln -s {hf} /etc/hosts\"}}\n"
    );
    let text = lab("files", "h1", &extra).replace(
        "mgmt: {type: none}",
        "mgmt: {type: private, network: 10.250.0.0, mask: 24, offset: 0, host_mapping: true}",
    );
    let f = sb.file("files.yaml", &text);
    sb.vnx_ok(&["apply", &f, "--auto-approve"]);
    sb.vnx_ok(&["exec", "files", "run"]);
    sb.sh_ok("test ! -e /run/x");
    assert_eq!(sb.vnx_ok(&["exec", "files", "-M", "h1", "--", "cat", "/var/run/x/f"]), "from the scenario\n");
    sb.vnx_ok(&["exec", "files", "links"]);
    sb.vnx_ok(&["exec", "files", "web"]);
    assert_eq!(sb.vnx_ok(&["exec", "files", "-M", "h1", "--", "cat", "/srv/www/f"]), "from the scenario\n");
    let _ = sb.vnx(&["exec", "files", "magic"]); // refused (a magic link) or kept inside: either way…
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0, "a filetree was written into the host's folder");
    // A second node rewrites every node's /etc/hosts: h1's is a link to a host file now.
    let two = text.replace(
        "nodes:\n",
        "nodes:\n  - name: h2\n    type: ns\n    interfaces:\n      - {id: 1, net: lan, ipv4: [10.9.0.2/24]}\n",
    );
    let f2 = sb.file("files.yaml", &two);
    sb.vnx_ok(&["apply", &f2, "--auto-approve"]);
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "the host's\n", "<host_mapping/> edited a host file");
    assert!(sb.vnx_ok(&["exec", "files", "-M", "h1", "--", "cat", "/etc/hosts"]).contains("h2"));
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
    sb.vnx_ok(&["destroy", "files", "--auto-approve"]);
}

/// Reading any file costs bounded memory and stack: nested aliases, deep nesting and huge files
/// are located errors, under a 2 GiB address-space limit (before the bounds, the aliases took
/// 15.8 GB and deep XML overflowed the stack).
#[test]
fn input_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let laughs = "name: &a [x, x, x, x, x, x, x, x, x, x]\n".to_string()
        + &(b'b'..=b'k')
            .map(|c| {
                let p = (c - 1) as char;
                format!("{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n", c as char, c as char)
            })
            .collect::<String>();
    let cases = [
        ("laughs.yaml", laughs, "values"),
        // yaml-rust2 stops deep flow collections itself; block ones are vnx's bound.
        ("deep-flow.yaml", format!("name: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)), "recursion limit"),
        (
            "deep.yaml",
            (0..100).map(|i| format!("{}a:\n", "  ".repeat(i))).collect::<String>() + &"  ".repeat(100) + "x\n",
            "nested more than 64",
        ),
        ("deep.xml", format!("<vnx>{}{}</vnx>", "<a>".repeat(150_000), "</a>".repeat(150_000)), "nested"),
        ("huge.xml", format!("<vnx><!--{}--></vnx>", "x".repeat(9 << 20)), "MiB"),
    ];
    for (file, text, says) in cases {
        let p = dir.path().join(file);
        std::fs::write(&p, text).unwrap();
        let out = Command::new("prlimit")
            .args(["--as=2147483648", "--"])
            .arg(common::vnx_bin())
            .args(["validate", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}: {:?} {}", out.status, stderr(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
    }
}

/// vnx deletes or adopts only what carries its mark: an unmarked bridge or network namespace
/// with the name vnx would give is refused, named, and left as it was; one swapped in for vnx's
/// is neither adopted nor deleted by destroy.
#[test]
fn objects_vnx_did_not_make_are_left_alone() {
    let sb = Sandbox::new();
    // The host takes part in the net, so its bridge is in the host's namespace.
    let text = lab("own", "h1", "") + "host:\n  interfaces:\n    - {net: lan, ipv4: [10.9.0.254/24]}\n";
    let f = sb.file("own.yaml", &text);
    let plan: serde_json::Value = serde_json::from_str(&sb.vnx_ok(&["plan", &f, "--json"])).unwrap();
    let bridge = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "net.lan").unwrap()["after"]
        ["bridge"]
        .as_str()
        .unwrap()
        .to_string();
    sb.sh_ok(&format!("ip link add {bridge} type bridge"));
    let out = sb.vnx(&["apply", &f, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "apply over a foreign bridge: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("a link named {bridge} exists")), "{}", stderr(&out));
    sb.sh_ok(&format!("ip link show {bridge}"));
    sb.vnx_ok(&["destroy", "own", "--auto-approve"]);
    sb.sh_ok(&format!("ip link show {bridge} && ip link del {bridge}"));
    // A namespace of the node's name that vnx did not make.
    sb.sh_ok("ip netns add vnx-own.h1");
    let out = sb.vnx(&["apply", &f, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "apply over a foreign namespace: {}", stderr(&out));
    assert!(stderr(&out).contains("vnx-own.h1 exists and is not this lab's"), "{}", stderr(&out));
    sb.sh_ok("ip netns list | grep -q '^vnx-own.h1' && ip netns del vnx-own.h1");
    // Built by vnx, then its bridge swapped for another of the same name.
    sb.vnx_ok(&["apply", &f, "--auto-approve"]);
    sb.sh_ok(&format!("ip link del {bridge} && ip link add {bridge} type bridge"));
    assert_eq!(sb.vnx(&["apply", &f, "--auto-approve"]).status.code(), Some(1));
    sb.vnx_ok(&["destroy", "own", "--auto-approve"]);
    sb.sh_ok(&format!("ip link show {bridge}"));
}

/// Kernel names built from two names are injective: lab `rp-a` with node `b-c` and lab
/// `rp-a-b` with node `c` (once both `vnx-rp-a-b-c`) run side by side.
#[test]
fn names_do_not_collide() {
    let sb = Sandbox::new();
    let a = sb.file("a.yaml", &lab("rp-a", "b-c", ""));
    let b = sb.file("b.yaml", &lab("rp-a-b", "c", "").replace("10.9.0.1", "10.9.1.1"));
    sb.vnx_ok(&["apply", &a, "--auto-approve"]);
    let show = |s: &str| -> serde_json::Value { serde_json::from_str(&sb.vnx_ok(&["show", s, "--json"])).unwrap() };
    let pid_a = show("rp-a")["nodes"][0]["pid"].as_i64().unwrap();
    sb.vnx_ok(&["apply", &b, "--auto-approve"]);
    assert_eq!(show("rp-a")["nodes"][0]["pid"].as_i64(), Some(pid_a), "the second lab took the first one's node");
    assert!(sb.vnx_ok(&["plan", &a]).contains("No changes."));
    assert!(sb.vnx_ok(&["plan", &b]).contains("No changes."));
    sb.vnx_ok(&["destroy", "rp-a", "--auto-approve"]);
    assert!(sb.vnx_ok(&["plan", &b]).contains("No changes."));
    sb.vnx_ok(&["destroy", "rp-a-b", "--auto-approve"]);
}

/// One state owns a lab on a machine: another state's plan and apply of it are refused, naming
/// the owner, and the lab keeps running; once destroyed, the other state may build it.
#[test]
fn a_lab_belongs_to_one_state() {
    let sb = Sandbox::new();
    let f = sb.file("one.yaml", &lab("one", "h1", ""));
    sb.vnx_ok(&["apply", &f, "--auto-approve"]);
    let show: serde_json::Value = serde_json::from_str(&sb.vnx_ok(&["show", "one", "--json"])).unwrap();
    let other = sb.dir.path().join("other/state.db");
    for cmd in [&["plan", f.as_str()][..], &["apply", f.as_str(), "--auto-approve"]] {
        let out = sb.command(common::vnx_bin()).args(cmd).env("VNX_STATE", &other).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(&sb.state().display().to_string()), "the owner is named: {}", stderr(&out));
    }
    let again: serde_json::Value = serde_json::from_str(&sb.vnx_ok(&["show", "one", "--json"])).unwrap();
    assert_eq!(again["nodes"][0]["pid"], show["nodes"][0]["pid"]);
    assert!(sb.vnx_ok(&["plan", &f]).contains("No changes."));
    sb.vnx_ok(&["destroy", "one", "--auto-approve"]);
    let out = sb.command(common::vnx_bin()).args(["apply", &f, "--auto-approve"]).env("VNX_STATE", &other).output();
    assert!(out.unwrap().status.success());
    let out =
        sb.command(common::vnx_bin()).args(["destroy", "one", "--auto-approve"]).env("VNX_STATE", &other).output();
    assert!(out.unwrap().status.success());
}

/// In a mount namespace whose /run/netns does not reach the machine's (as under `ip netns exec`)
/// apply is refused before anything is made, with the command that works.
#[test]
fn a_private_mount_namespace_is_refused() {
    let sb = Sandbox::new();
    let f = sb.file("priv.yaml", &lab("priv", "h1", ""));
    let out = sb
        .command("unshare")
        .args(["--mount", "--propagation", "slave", "--", common::vnx_bin(), "apply", &f, "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nsenter --net="), "{}", stderr(&out));
    sb.sh_ok(
        "test -z \"$(ls /run/netns 2>/dev/null)\" && test ! -e /run/vnx/claims/priv && test ! -e /run/vnx/labs/priv",
    );
    // The same apply in the sandbox's own mount namespace works.
    sb.vnx_ok(&["apply", &f, "--auto-approve"]);
    sb.vnx_ok(&["destroy", "priv", "--auto-approve"]);
}

/// A state database or saved plan that cannot be trusted is refused with the reason: an empty
/// file, a damaged page, a plan of another version, one that does not read, one that does not
/// match what planning its scenario gives. Directories vnx makes are 0700 whatever the umask.
#[test]
fn state_that_lies_is_refused() {
    let sb = Sandbox::new();
    let f = sb.file("st.yaml", &lab("st", "h1", ""));
    // umask 000: still 0700 and 0600.
    let out = sb.sh(&format!("umask 000; exec {} apply {f} --auto-approve", common::vnx_bin()));
    assert!(out.status.success(), "{}", stderr(&out));
    let state = sb.state();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(state.parent().unwrap()), 0o700);
    assert_eq!(mode(&state), 0o600);
    // Saved plans.
    let plan = sb.dir.path().join("st.plan");
    sb.vnx_ok(&["plan", &f, "--destroy", "--out", plan.to_str().unwrap()]);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let try_plan = |v: &serde_json::Value, expect: &str| {
        std::fs::write(&plan, v.to_string()).unwrap();
        let out = sb.vnx(&["apply", plan.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{expect}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{expect}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    };
    let mut v = saved.clone();
    v["vnx_plan"] = "vnx-saved-plan/1".into();
    try_plan(&v, "another version");
    let mut v = saved.clone();
    v["plan"] = "garbage".into();
    try_plan(&v, "cannot be read");
    let mut v = saved.clone();
    v["plan"]["actions"][0]["after"] = serde_json::json!([999]);
    try_plan(&v, "no longer matches");
    // The lab still runs; the saved plan as made destroys it.
    assert!(sb.vnx_ok(&["plan", &f]).contains("No changes."));
    std::fs::write(&plan, saved.to_string()).unwrap();
    sb.vnx_ok(&["apply", plan.to_str().unwrap()]);
    // An empty database is not "nothing applied".
    let empty = sb.dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let out = sb.command(common::vnx_bin()).args(["list"]).env("VNX_STATE", &empty).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
    // A damaged page.
    sb.vnx_ok(&["apply", &f, "--auto-approve"]);
    sb.vnx_ok(&["destroy", "st", "--auto-approve"]);
    let mut bytes = std::fs::read(&state).unwrap();
    assert!(bytes.len() > 3 * 4096, "a state database of several pages");
    for b in &mut bytes[2 * 4096..3 * 4096] {
        *b = 0xa5;
    }
    std::fs::write(&state, bytes).unwrap();
    for cmd in [&["list"][..], &["show"], &["history"]] {
        let out = sb.vnx(cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?} on a damaged database: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot be trusted"), "{cmd:?}: {}", stderr(&out));
    }
}
