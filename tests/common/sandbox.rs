//! A sandbox for tests whose failure could harm the machine (the safety tests): a network, mount
//! and PID namespace of its own, with a scratch tmpfs on /run. vnx runs there as on a machine of
//! its own (its PID 1 is the sandbox's, so vnx's mount-namespace check holds), and what a bug
//! would delete or write in /run (other labs, /run/netns, /run itself) is the sandbox's.
//! Dropping it kills its PID 1, and with it every process, namespace and mount inside.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

pub struct Sandbox {
    unshare: Child,
    /// The sandbox's PID 1, as the machine sees it.
    pub pid: u32,
    /// A folder of the machine's for the test (state databases, scenario files).
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let mut unshare = Command::new("unshare")
            .args(["--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--"])
            .args([
                "sh",
                "-c",
                "mount -t tmpfs -o mode=0755 tmpfs /run && ip link set lo up && echo ready && exec sleep 100000",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare runs");
        let mut line = String::new();
        std::io::BufReader::new(unshare.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the sandbox did not start");
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id())).unwrap();
        let pid = children.split_whitespace().next().expect("the sandbox's init").parse().unwrap();
        // Not in /tmp: nodes have a /tmp of their own, and the tests link node paths to this one.
        let dir = tempfile::Builder::new().prefix("vnxs").tempdir_in("/var/tmp").unwrap();
        Sandbox { unshare, pid, dir }
    }

    /// The default state database of vnx runs here.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }

    /// `program` inside the sandbox (its namespaces; the machine's files but for /run).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "-p", "-n", "--", program]);
        c.env("VNX_STATE", self.state()).env("VNX_HOSTS_FILE", self.dir.path().join("hosts")).env("NO_COLOR", "1");
        c
    }

    pub fn vnx(&self, args: &[&str]) -> Output {
        self.command(super::vnx_bin()).args(args).output().unwrap()
    }

    pub fn vnx_ok(&self, args: &[&str]) -> String {
        super::succeeded(args, self.vnx(args))
    }

    pub fn sh(&self, script: &str) -> Output {
        self.command("sh").args(["-c", script]).output().unwrap()
    }

    /// Runs a shell script that must succeed; its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes a scenario file in the test's folder; its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // PID 1 of a PID namespace takes every process of it along.
        let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).output();
        let _ = self.unshare.wait();
    }
}
