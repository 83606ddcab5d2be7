//! Root filesystems built from Debian's archive (`vnx rootfs build`): a small one, built once
//! per machine (a second build is nothing to do), under the VNX tutorial's `lxc` nodes: the
//! lab routes and pings as on the host's root, and no host file is visible in a node.

mod common;

use common::corpus;
use common::lab::TestHost;

const ROOTFS: &str = "vnx-test-mini";

#[test]
fn the_tutorial_runs_on_a_built_root_filesystem_that_hides_the_host() {
    let host = TestHost::new();
    // Built once per machine (about 30 s from the archive), then up to date. In the machine's
    // own network namespace: the archive cannot be reached from the test host's.
    let build = |name: &str| {
        std::process::Command::new(common::vnx_bin())
            .args(["rootfs", "build", name])
            .env("VNX_STATE", host.state())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = build(ROOTFS);
    assert!(out.status.success(), "building: {}", String::from_utf8_lossy(&out.stderr));
    let again = common::succeeded(&["rootfs", "build", ROOTFS], build(ROOTFS));
    assert!(again.contains("is up to date"), "{again}");
    // An archive that cannot be reached is said as such, and leaves nothing.
    let out = host.vnx(&["rootfs", "build", "vnx-test-offline", "--mirror", "http://127.0.0.1:9/debian"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the Debian archive cannot be reached"), "{err}");
    assert!(!host.vnx_ok(&["rootfs", "list"]).contains("vnx-test-offline"));
    let list = host.vnx_ok(&["rootfs", "list", "--json"]);
    assert!(list.contains(&format!("\"name\": \"{ROOTFS}\"")), "{list}");

    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let text = std::fs::read_to_string(&file).unwrap().replace("/usr/share/vnx/filesystems/rootfs_lxc", ROOTFS);
    std::fs::write(&file, text).unwrap();
    let marker = format!("/etc/vnx-host-marker-{}", std::process::id());
    std::fs::write(&marker, "only the host's\n").unwrap();
    let applied = host.vnx(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    let seen = host.vnx(&["exec", &name, "-M", "h1", "--", "sh", "-c", &format!("test -e {marker} && echo VISIBLE; cat /etc/debian_version; ip -4 -o addr show dev eth1; ping -c1 -W2 10.1.2.2 >/dev/null && echo PING-OK")]);
    let _ = std::fs::remove_file(&marker);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let seen = String::from_utf8_lossy(&seen.stdout).into_owned();
    assert!(!seen.contains("VISIBLE"), "a host file is visible in the node: {seen}");
    assert!(seen.contains("10.1.0.2/24"), "ip works: {seen}");
    assert!(seen.contains("PING-OK"), "h1 reaches h3 through r1 and r2: {seen}");
    // The node's root is the built one (Debian's), not the host's through an overlay.
    let root = host.vnx_ok(&["exec", &name, "-M", "r1", "--", "sh", "-c", "ls /var/lib/vnx 2>/dev/null; echo end"]);
    assert_eq!(root.trim(), "end", "the node sees the host's /var/lib/vnx: {root}");
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
}
