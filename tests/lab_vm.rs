//! Virtual machines through a real libvirtd (QEMU emulation, TCG): VMs and `ns` nodes on
//! shared nets with a router VM, sequences and filetrees in a VM, in-place address changes,
//! replacement on a memory change, the lifecycle commands, drift, and a destroy that leaves no
//! domain, file or bridge. Needs vnx built with `--features libvirt`, libvirtd and virtlogd
//! running (`.ci/run` starts them), and the test guest (built here by images/build-test-guest.sh).
//!
//! libvirt makes a VM's tap devices in its own network namespace, the machine's: these labs'
//! bridges live there too, under vnx's hashed names, and nothing routes out of them.
#![cfg(feature = "libvirt")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{corpus, root, vnx_bin};
use serde_json::Value;

/// A lab on the machine itself, with its own state and a unique scenario name; destroyed
/// (and anything of it left removed) when dropped.
struct VmHost {
    dir: tempfile::TempDir,
    name: String,
    bridges: std::cell::RefCell<Vec<String>>,
}

impl VmHost {
    fn new(base: &str) -> VmHost {
        assert!(unsafe { libc::geteuid() } == 0, "VM tests run as root");
        let out = Command::new("bash").arg(root().join("images/build-test-guest.sh")).output().unwrap();
        assert!(out.status.success(), "building the test guest: {}", String::from_utf8_lossy(&out.stderr));
        let name = format!("{base}-{}", std::process::id());
        VmHost { dir: tempfile::Builder::new().prefix("vnxv").tempdir().unwrap(), name, bridges: Default::default() }
    }

    /// The example lab, renamed, its relative paths still pointing at examples/.
    fn scenario(&self, edit: impl Fn(String) -> String) -> PathBuf {
        let text = std::fs::read_to_string(root().join("examples/vm-lab.xml")).unwrap();
        let text = text
            .replace("<scenario_name>vm-lab</scenario_name>", &format!("<scenario_name>{}</scenario_name>", self.name));
        let text = text.replace(
            "root=\"/tmp/put/\">files/vm",
            &format!("root=\"/tmp/put/\">{}", root().join("examples/files/vm").display()),
        );
        let path = self.dir.path().join("lab.xml");
        std::fs::write(&path, edit(text)).unwrap();
        path
    }

    fn vnx(&self, args: &[&str]) -> Output {
        self.vnx_with(args, &[])
    }

    /// vnx with more environment (an empty image store, …).
    fn vnx_with(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        Command::new(vnx_bin())
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .args(args)
            .env("VNX_STATE", self.dir.path().join("state/state.db"))
            .env("VNX_HOSTS_FILE", self.dir.path().join("hosts"))
            .env("VNX_DOMAIN_TYPE", "qemu")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        common::succeeded(args, self.vnx(args))
    }

    fn show(&self) -> Value {
        serde_json::from_str(&self.ok(&["show", &self.name, "--json"])).unwrap()
    }

    fn state_of(&self, node: &str) -> String {
        let show = self.show();
        show["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn plan_is_empty(&self) -> bool {
        let out = self.vnx(&["plan", &self.name, "--detailed-exitcode"]);
        if out.status.code() != Some(0) {
            eprintln!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        out.status.code() == Some(0)
    }

    fn boot_id(&self, node: &str) -> String {
        self.ok(&["exec", &self.name, "-M", node, "--", "cat", "/proc/sys/kernel/random/boot_id"]).trim().to_string()
    }

    /// Nodes that `node` cannot ping.
    fn unreachable_from(&self, node: &str, targets: &[&str]) -> Vec<String> {
        let script: String = targets
            .iter()
            .map(|t| {
                format!(
                    "ping -c1 -W2 {t} >/dev/null 2>&1 || ping -c2 -W2 {t} >/dev/null 2>&1 || echo UNREACHABLE {t}\n"
                )
            })
            .collect();
        let out = self.vnx(&["exec", &self.name, "-M", node, "--", "sh", "-c", &script]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("UNREACHABLE"))
            .map(|l| format!("{node}: {l}"))
            .collect()
    }

    /// What is left of the lab: libvirt domains, files, sockets, bridges, namespaces.
    fn leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        let domains = Command::new("virsh").args(["-c", "qemu:///system", "list", "--all", "--name"]).output().unwrap();
        for d in
            String::from_utf8_lossy(&domains.stdout).lines().filter(|d| d.starts_with(&format!("vnx-{}.", self.name)))
        {
            v.push(format!("domain: {d}"));
        }
        let labs = self.dir.path().join("state/labs").join(&self.name);
        if labs.exists() {
            v.push(format!("lab directory: {}", labs.display()));
        }
        for b in self.bridges.borrow().iter() {
            if Path::new("/sys/class/net").join(b).exists() {
                v.push(format!("bridge: {b}"));
            }
        }
        if let Ok(rd) = std::fs::read_dir("/run/netns") {
            for e in rd.flatten().filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&format!("vnx-{}.", self.name)) || n == format!("vnxlab-{}", self.name)
            }) {
                v.push(format!("netns: {}", e.file_name().to_string_lossy()));
            }
        }
        v
    }
}

impl Drop for VmHost {
    fn drop(&mut self) {
        let _ = self.vnx(&["destroy", &self.name, "--auto-approve"]);
        // Whatever an aborted test left: our domains (by their name), bridges, namespaces.
        let domains = Command::new("virsh").args(["-c", "qemu:///system", "list", "--all", "--name"]).output();
        if let Ok(d) = domains {
            for d in
                String::from_utf8_lossy(&d.stdout).lines().filter(|d| d.starts_with(&format!("vnx-{}.", self.name)))
            {
                let _ = Command::new("virsh").args(["-c", "qemu:///system", "destroy", d]).output();
                let _ = Command::new("virsh").args(["-c", "qemu:///system", "undefine", d]).output();
            }
        }
        for b in self.bridges.borrow().iter() {
            let _ = Command::new("ip").args(["link", "del", b]).output();
        }
        // Its ns nodes, names, marked links, runtime directory and claim (an apply that
        // failed before the bridges above were known leaves them too).
        common::lab::scrub(&self.name);
    }
}

#[test]
fn vms_and_ns_nodes_in_one_lab() {
    let host = VmHost::new("vmlab");
    // vm2 also gets a disk: a copy-on-write overlay of a small base image.
    let base = host.dir.path().join("base.qcow2");
    let out = Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&base).arg("16M").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let with_disk = |t: String| {
        t.replacen(
            "<mem>128M</mem>\n    <if id=\"1\" net=\"Net0\"><ipv4>10.7.0.12",
            &format!("<filesystem type=\"cow\">{}</filesystem>\n    <mem>128M</mem>\n    <if id=\"1\" net=\"Net0\"><ipv4>10.7.0.12", base.display()),
            1,
        )
    };
    let file = host.scenario(with_disk);
    let f = file.to_str().unwrap();
    host.ok(&["apply", f, "--auto-approve"]);
    for n in host.show()["nets"].as_array().unwrap() {
        host.bridges.borrow_mut().push(n["bridge"].as_str().unwrap().to_string());
    }
    for n in ["vm1", "vm2", "r1", "h1", "h2"] {
        assert_eq!(host.state_of(n), "running", "{n}");
    }

    // Every node pings every other, VMs and ns nodes alike, through the router VM.
    let all = [("vm1", "10.7.0.11"), ("vm2", "10.7.0.12"), ("r1", "10.7.1.1"), ("h1", "10.7.0.21"), ("h2", "10.7.1.2")];
    let mut failures = Vec::new();
    for (node, _) in all {
        let targets: Vec<&str> = all.iter().filter(|(n, _)| *n != node).map(|(_, a)| *a).collect();
        failures.extend(host.unreachable_from(node, &targets));
    }
    assert!(failures.is_empty(), "unreachable: {failures:?}");

    // vm2's disk is the overlay (16 MiB, 32768 sectors), made in the lab's directory.
    let sectors = host.ok(&["exec", &host.name, "-M", "vm2", "--", "sh", "-c", "cat /sys/block/vd*/size"]);
    assert!(sectors.lines().any(|l| l.trim() == "32768"), "the 16M disk: {sectors}");
    let overlay = host.dir.path().join("state/labs").join(&host.name).join("nodes/vm2/disk.qcow2");
    assert!(overlay.is_file(), "the overlay is at {}", overlay.display());

    // The boot sequence ran from the configuration drive; sequences and filetrees run in a VM.
    assert_eq!(host.ok(&["exec", &host.name, "-M", "vm1", "--", "cat", "/tmp/booted"]).trim(), "booted by vnx");
    let out = host.ok(&["exec", &host.name, "hello", "-M", "vm1"]);
    assert!(out.contains("vm1 | hello from vm1"), "{out}");
    let out = host.vnx(&["exec", &host.name, "fail", "-M", "vm1"]);
    assert_eq!(out.status.code(), Some(3), "the sequence's exit status");
    assert!(String::from_utf8_lossy(&out.stdout).contains("vm1 | failing"));
    host.ok(&["exec", &host.name, "put", "-M", "vm1"]);
    assert_eq!(
        host.ok(&["exec", &host.name, "-M", "vm1", "--", "cat", "/tmp/put/note.txt"]).trim(),
        "dropped by a filetree"
    );
    assert!(host.plan_is_empty(), "a second plan changes nothing");

    // An address changed in the scenario changes in place: same boot.
    let boot = host.boot_id("vm2");
    let moved = host.scenario(|t| with_disk(t).replace("10.7.0.12/24", "10.7.0.13/24"));
    let plan = host.ok(&["plan", moved.to_str().unwrap()]);
    assert!(plan.contains("addresses.vm2/1 will be updated in place") && !plan.contains("must be replaced"), "{plan}");
    host.ok(&["apply", moved.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(host.boot_id("vm2"), boot, "vm2 was rebooted for an address change");
    assert!(host.unreachable_from("h2", &["10.7.0.13"]).is_empty());
    assert!(host.plan_is_empty());

    // Memory: the plan says the domain is replaced, and it is (a new boot).
    let mem_kb = || -> u64 {
        let mem = host.ok(&["exec", &host.name, "-M", "vm2", "--", "sh", "-c", "grep MemTotal /proc/meminfo"]);
        mem.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = mem_kb();
    let bigger = host.scenario(|t| {
        with_disk(t).replace("10.7.0.12/24", "10.7.0.13/24").replacen(
            "<mem>128M</mem>\n    <if id=\"1\" net=\"Net0\"><ipv4>10.7.0.13",
            "<mem>160M</mem>\n    <if id=\"1\" net=\"Net0\"><ipv4>10.7.0.13",
            1,
        )
    });
    let plan = host.ok(&["plan", bigger.to_str().unwrap()]);
    assert!(plan.contains("node.vm2 must be replaced") && plan.contains("vm.mem_mib = 128 -> 160"), "{plan}");
    host.ok(&["apply", bigger.to_str().unwrap(), "--auto-approve"]);
    assert_ne!(host.boot_id("vm2"), boot);
    let after = mem_kb();
    assert!(after > before + 24 * 1024, "vm2 has 32M more now: {before} kB then {after} kB");
    assert!(host.unreachable_from("h1", &["10.7.0.13"]).is_empty());
    assert!(host.plan_is_empty());

    // Lifecycle: each command leaves the VM in the state show reports; apply changes nothing.
    for (verb, state) in [
        ("suspend", "paused"),
        ("resume", "running"),
        ("shutdown", "shutoff"),
        ("start", "running"),
        ("save", "saved"),
        ("restore", "running"),
        ("reboot", "running"),
        ("reset", "running"),
    ] {
        host.ok(&[verb, &host.name, "-M", "vm1"]);
        assert_eq!(host.state_of("vm1"), state, "after {verb}");
        assert!(host.plan_is_empty(), "after {verb}");
    }
    assert!(host.unreachable_from("vm1", &["10.7.1.2"]).is_empty(), "vm1 works after all that");

    // vnx console: the VM's serial console on a terminal (script(1) makes the pseudo-terminal);
    // a command typed there runs in the guest, Ctrl+] leaves.
    let cmd = format!(
        "VNX_STATE={} {} console {} -M vm1",
        host.dir.path().join("state/state.db").display(),
        vnx_bin(),
        host.name
    );
    let console = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(sleep 2; printf 'echo $((6*7))x\\r'; sleep 2; printf '\\035') | timeout 30 script -qec '{cmd}' /dev/null"
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&console.stdout);
    assert!(console.status.success() && text.contains("42x"), "the console ran a command in vm1: {text}");

    // A VM stopped behind vnx's back is drift; apply starts it.
    let domain = format!("vnx-{}.vm2", host.name);
    let out = Command::new("virsh").args(["-c", "qemu:///system", "destroy", &domain]).output().unwrap();
    assert!(out.status.success());
    let plan = host.ok(&["plan", &host.name]);
    assert!(plan.contains("node.vm2") && plan.contains("\"shutoff\""), "{plan}");
    host.ok(&["apply", &host.name, "--auto-approve"]);
    assert_eq!(host.state_of("vm2"), "running");
    assert!(host.plan_is_empty());

    // Destroy: no domain, file, bridge or namespace left; the base image stays.
    host.ok(&["destroy", &host.name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
    assert!(base.is_file(), "the base image is not vnx's to remove");
}

/// VNX's own VM scenarios plan with a clear message: their images are not on this machine.
#[test]
fn corpus_vm_scenarios_name_their_missing_images() {
    let host = VmHost::new("vmplan");
    for (file, image) in [
        ("simple_ubuntu.xml", "/usr/share/vnx/filesystems/rootfs_ubuntu"),
        ("tutorial_ubuntu.xml", "/usr/share/vnx/filesystems/rootfs_ubuntu-gui"),
        ("simple_debian.xml", "/usr/share/vnx/filesystems/rootfs_debian"),
    ] {
        // No image built on this machine is seen (VNX's names would use rootfs_kvm).
        let empty = host.dir.path().join("empty-store");
        let path = corpus().join("scenarios").join(file);
        let out = host.vnx_with(&["plan", path.to_str().unwrap()], &[("VNX_IMAGE_DIR", &empty)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(
            err.contains(&format!("the disk image `{image}`")) && err.contains("is not on this host"),
            "{file}: {err}"
        );
        assert!(!err.contains("not supported"), "{file}: everything else of it plans: {err}");
    }
}

/// A VM on an Open vSwitch net: its interface is a port of the lab's switch with its own
/// VLAN (its tap on a bridge of its own in the machine's namespace, linked to the switch): an
/// `ns` node on the VM's VLAN reaches it, one on another VLAN of the same subnet does not;
/// re-tagging the VM's port is one in-place change; destroy leaves no link of the lab.
#[test]
fn a_vm_is_a_port_of_an_open_vswitch_net_with_its_vlan() {
    let host = VmHost::new("vmovs");
    let scenario = |tag: u16| {
        let text = format!(
            r#"<vnx>
  <global><version>2.0</version><scenario_name>{}</scenario_name><automac/><vm_mgmt type="none"/></global>
  <net name="sw" mode="openvswitch"/>
  <vm name="vm1" type="libvirt" subtype="kvm" os="linux">
    <kernel initrd="/var/cache/vnx/test-guest/initrd.img">/var/cache/vnx/test-guest/vmlinuz</kernel>
    <mem>128M</mem>
    <if id="1" net="sw"><vlan><tag id="{tag}"/></vlan><ipv4>10.8.0.11/24</ipv4></if>
  </vm>
  <vm name="h10" type="lxc"><if id="1" net="sw"><vlan><tag id="10"/></vlan><ipv4>10.8.0.21/24</ipv4></if></vm>
  <vm name="h20" type="lxc"><if id="1" net="sw"><vlan><tag id="20"/></vlan><ipv4>10.8.0.22/24</ipv4></if></vm>
</vnx>"#,
            host.name
        );
        let path = host.dir.path().join("ovs.xml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    host.ok(&["apply", &scenario(10), "--auto-approve"]);
    assert!(host.unreachable_from("h10", &["10.8.0.11"]).is_empty(), "h10 -> vm1 on VLAN 10");
    assert!(host.unreachable_from("vm1", &["10.8.0.21"]).is_empty(), "vm1 -> h10 on VLAN 10");
    assert!(!host.unreachable_from("h20", &["10.8.0.11"]).is_empty(), "h20 (VLAN 20) reached vm1 (VLAN 10)");
    assert!(host.plan_is_empty());

    let boot = host.boot_id("vm1");
    let plan = host.ok(&["plan", &scenario(20)]);
    assert!(plan.contains("ovs-port.vm1/1 will be updated in place"), "{plan}");
    assert!(plan.contains("Plan: 0 to add, 1 to change, 0 to destroy"), "{plan}");
    host.ok(&["apply", &scenario(20), "--auto-approve"]);
    let mut moved = false;
    for _ in 0..10 {
        if host.unreachable_from("h20", &["10.8.0.11"]).is_empty() {
            moved = true;
            break;
        }
    }
    assert!(moved, "h20 -> vm1 once vm1 is on VLAN 20");
    assert_eq!(host.boot_id("vm1"), boot, "re-tagging rebooted the VM");

    host.ok(&["destroy", &host.name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
    let links = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    let mark = format!("alias vnx:{}:", host.name);
    let left: Vec<String> =
        String::from_utf8_lossy(&links.stdout).lines().filter(|l| l.contains(&mark)).map(String::from).collect();
    assert!(left.is_empty(), "links of the lab left in the machine's namespace: {left:?}");
}

/// VNX's `simple_debian.xml` on an image built here (`vnx image build rootfs_kvm`, cached on
/// the machine; VNX's image name resolves to it): the Debian guest boots under TCG, its agent
/// configures it from the configuration drive (hostname, address, the on_boot filetree and
/// exec), an `ns` node beside it pings it, a sequence runs in it, and an address changed in
/// the scenario changes in place through the agent (the same boot).
#[test]
fn simple_debian_boots_on_a_built_image() {
    let host = VmHost::new("simpledeb");
    let t0 = std::time::Instant::now();
    let out = host.vnx(&["image", "build", "rootfs_kvm"]);
    assert!(out.status.success(), "building the image: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("image: {:?} ({})", t0.elapsed(), String::from_utf8_lossy(&out.stdout).trim());
    let conf = host.dir.path().join("conf");
    std::os::unix::fs::symlink(corpus().join("conf"), &conf).unwrap();
    let scenario = |addr: &str| {
        let text = std::fs::read_to_string(corpus().join("scenarios/simple_debian.xml")).unwrap();
        let text = text
            .replace(
                "<scenario_name>simple_debian</scenario_name>",
                &format!("<scenario_name>{}</scenario_name>", host.name),
            )
            // No management net and no host address: nothing of this lab on the machine's own
            // addresses; an ns node on Net0 instead.
            .replace(
                r#"<vm_mgmt type="private" network="10.250.0.0" mask="24" offset="92">"#,
                r#"<vm_mgmt type="none">"#,
            )
            .replace("<host_mapping />", "")
            .replace("10.1.0.24/24", addr);
        let start = text.find("<host>").unwrap();
        let end = text.find("</host>").unwrap() + "</host>".len();
        let text = format!(
            "{}<vm name=\"h\" type=\"lxc\"><if id=\"1\" net=\"Net0\"><ipv4>10.1.0.30/24</ipv4></if></vm>{}",
            &text[..start],
            &text[end..]
        );
        let path = host.dir.path().join("simple_debian.xml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let file = scenario("10.1.0.24/24");
    let plan = host.vnx(&["plan", &file]);
    let said = String::from_utf8_lossy(&plan.stderr);
    assert!(said.contains("is vnx's `rootfs_kvm`"), "the plan says which image: {said}");
    let t1 = std::time::Instant::now();
    host.ok(&["apply", &file, "--auto-approve"]);
    eprintln!("boot and configuration: {:?}", t1.elapsed());
    let seen = host.ok(&[
        "exec",
        &host.name,
        "-M",
        "debian",
        "--",
        "sh",
        "-c",
        "hostname; cat /etc/debian_version; ip -4 -o addr show dev eth1; ls /root",
    ]);
    assert!(seen.starts_with("debian\n"), "the hostname: {seen}");
    assert!(seen.contains("10.1.0.24/24"), "the address: {seen}");
    assert!(seen.contains("on_boot.txt") && seen.contains("on_boot2.txt"), "the on_boot filetree and exec: {seen}");
    assert!(host.unreachable_from("h", &["10.1.0.24"]).is_empty(), "h reaches the VM");
    host.ok(&["exec", &host.name, "copyfile", "-M", "debian"]);
    let copied = host.ok(&["exec", &host.name, "-M", "debian", "--", "cat", "/root/copyfile.txt"]);
    let want = std::fs::read_to_string(corpus().join("conf/on_boot.txt")).unwrap();
    assert_eq!(copied.trim_end(), want.trim_end(), "the copyfile sequence");
    assert!(host.plan_is_empty());

    let boot = host.boot_id("debian");
    let moved = scenario("10.1.0.25/24");
    let plan = host.ok(&["plan", &moved]);
    assert!(
        plan.contains("addresses.debian/1 will be updated in place") && !plan.contains("must be replaced"),
        "{plan}"
    );
    host.ok(&["apply", &moved, "--auto-approve"]);
    assert_eq!(host.boot_id("debian"), boot, "the address change rebooted the VM");
    assert!(host.unreachable_from("h", &["10.1.0.25"]).is_empty(), "h reaches the new address");
    host.ok(&["destroy", &host.name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}
