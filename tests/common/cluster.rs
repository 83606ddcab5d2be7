//! A cluster of test hosts on this machine: each host a network, mount and PID namespace of
//! its own (a private /run with its own /run/netns, its own /var/lib/vnx, a clean /root) with
//! an `sshd` on the underlay; the underlay a bridge in a namespace of its own. The test reaches
//! the hosts with keys made for it, as `vnx apply --cluster` does: through the system's ssh.
//! The first host is the controller (`ssh: local`). Dropping the cluster kills every host's
//! PID 1, and with it every process, namespace and mount of the host.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// One host: its PID 1 and its folder (state, sshd's files).
pub struct ClusterHost {
    unshare: Child,
    pub pid: u32,
    pub name: String,
    pub underlay: String,
}

pub struct TestCluster {
    pub hosts: Vec<ClusterHost>,
    underlay: ClusterHost,
    pub dir: tempfile::TempDir,
}

/// A namespace holder: `unshare` with `flags`, running `script` before it sleeps.
fn spawn(flags: &[&str], script: &str) -> (Child, u32) {
    let mut unshare = Command::new("unshare")
        .args(flags)
        .args(["--", "sh", "-c", &format!("{script} && echo ready && exec sleep 100000")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("unshare runs");
    let mut line = String::new();
    std::io::BufReader::new(unshare.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "a test host did not start");
    // With --fork the namespaces' first process is unshare's child.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id())).unwrap_or_default();
    let pid = children.split_whitespace().next().map_or(unshare.id(), |p| p.parse().unwrap());
    (unshare, pid)
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl ClusterHost {
    /// `program` in the host (its namespaces).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "-p", "-n", "--", program]);
        c.env("NO_COLOR", "1").env_remove("VNX_STATE").env_remove("VNX_CLUSTER");
        c
    }

    pub fn sh(&self, script: &str) -> Output {
        self.command("sh").args(["-c", script]).output().unwrap()
    }

    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "{}: {script}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What vnx left here: namespaces, links but lo and the underlay, processes but PID 1
    /// and sshd, lab directories.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = vec![];
        let ns = self.sh_ok("ls /run/netns 2>/dev/null || true");
        out.extend(ns.lines().map(|l| format!("netns {l}")));
        let links = self.sh_ok("ip -o link show | awk -F': ' '{print $2}'");
        out.extend(
            links
                .lines()
                .map(|l| l.split('@').next().unwrap_or(l))
                .filter(|l| *l != "lo" && *l != "ul0")
                .map(|l| format!("link {l}")),
        );
        let procs = self.sh_ok(
            "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); echo \"${p#/proc/} $c\"; done",
        );
        out.extend(
            procs
                .lines()
                .filter(|l| !l.is_empty())
                .filter(|l| {
                    !(l.starts_with("1 ")
                        || l.contains("sshd")
                        || l.contains("[mux]")
                        || l.contains("/proc/[0-9]")
                        || l.contains("sh -c for p")
                        || l.split(' ').nth(1).is_none_or(str::is_empty))
                })
                .map(|l| format!("process {l}")),
        );
        let labs = self.sh_ok("ls /var/lib/vnx/labs 2>/dev/null || true");
        out.extend(labs.lines().map(|l| format!("lab dir {l}")));
        out.into_iter().map(|l| format!("{}: {l}", self.name)).collect()
    }
}

impl TestCluster {
    /// `n` hosts named alpha, bravo, charlie, … on 10.77.0.0/24; the first is the controller.
    pub fn new(n: usize) -> TestCluster {
        let names = ["alpha", "bravo", "charlie", "delta", "echo"];
        let dir = tempfile::Builder::new().prefix("vnxc").tempdir_in("/var/tmp").unwrap();
        let d = dir.path();
        for key in ["id", "host_key"] {
            run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(d.join(key)));
        }
        std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {}\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n",
                d.join("id").display()
            ),
        )
        .unwrap();
        let (ul, ul_pid) = spawn(&["--net"], "ip link set lo up && ip link add br0 type bridge && ip link set br0 up");
        let underlay = ClusterHost { unshare: ul, pid: ul_pid, name: "underlay".into(), underlay: String::new() };
        let mut hosts = vec![];
        for (i, name) in names.iter().take(n).enumerate() {
            let state = d.join(name);
            std::fs::create_dir_all(&state).unwrap();
            let script = format!(
                "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /var/lib/vnx && mount --bind {} /var/lib/vnx && mount -t tmpfs -o mode=0700 tmpfs /root && ip link set lo up",
                state.display()
            );
            let (child, pid) =
                spawn(&["--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private"], &script);
            let addr = format!("10.77.0.{}", i + 1);
            let host = ClusterHost { unshare: child, pid, name: name.to_string(), underlay: addr.clone() };
            let port = format!("ul-{name}");
            run_ok(Command::new("nsenter").args([
                "-t",
                &ul_pid.to_string(),
                "-n",
                "--",
                "ip",
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                "ul0",
                "netns",
                &pid.to_string(),
            ]));
            run_ok(Command::new("nsenter").args([
                "-t",
                &ul_pid.to_string(),
                "-n",
                "--",
                "ip",
                "link",
                "set",
                &port,
                "master",
                "br0",
                "up",
            ]));
            host.sh_ok(&format!("ip addr add {addr}/24 dev ul0 && ip link set ul0 up"));
            let cfg = state.join("sshd_config");
            std::fs::write(
                &cfg,
                format!(
                    "ListenAddress {addr}\nHostKey {}\nPidFile /run/sshd.pid\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nMaxSessions 4\n",
                    d.join("host_key").display(),
                    d.join("authorized_keys").display()
                ),
            )
            .unwrap();
            host.sh_ok(&format!("/usr/sbin/sshd -f {}", cfg.display()));
            hosts.push(host);
        }
        TestCluster { hosts, underlay, dir }
    }

    /// The cluster file (YAML) for these hosts, with `extra` lines appended.
    pub fn cluster_file(&self, extra: &str) -> PathBuf {
        let vnx = super::vnx_bin();
        let mut y = format!("ssh_config: {}\nhosts:\n", self.dir.path().join("ssh_config").display());
        for (i, h) in self.hosts.iter().enumerate() {
            let ssh = if i == 0 { "local".to_string() } else { format!("root@{}", h.underlay) };
            y.push_str(&format!("  - {{name: {}, ssh: '{ssh}', underlay: {}, vnx: '{vnx}'}}\n", h.name, h.underlay));
        }
        y.push_str(extra);
        let p = self.dir.path().join("cluster.yaml");
        std::fs::write(&p, y).unwrap();
        p
    }

    /// vnx on the controller (the first host).
    pub fn vnx(&self, args: &[&str]) -> Output {
        self.hosts[0].command(super::vnx_bin()).args(args).output().unwrap()
    }

    pub fn vnx_ok(&self, args: &[&str]) -> String {
        super::succeeded(args, self.vnx(args))
    }

    pub fn host(&self, name: &str) -> &ClusterHost {
        self.hosts.iter().find(|h| h.name == name).expect("a host of the cluster")
    }

    /// Sets the MTU of host `name`'s port on the underlay bridge (a smaller hop on its path).
    pub fn set_underlay_port_mtu(&self, name: &str, mtu: u32) {
        run_ok(Command::new("nsenter").args([
            "-t",
            &self.underlay.pid.to_string(),
            "-n",
            "--",
            "ip",
            "link",
            "set",
            &format!("ul-{name}"),
            "mtu",
            &mtu.to_string(),
        ]));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ClusterHost {
    fn drop(&mut self) {
        // PID 1 of the host's namespace: the kernel kills every process in it.
        let _ = nix_kill(self.pid);
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn nix_kill(pid: u32) -> std::io::Result<()> {
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().map(|_| ())
}
