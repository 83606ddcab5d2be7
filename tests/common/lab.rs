//! A test host for lab tests: its own network namespace plays "the host" (bridges, host-side
//! links, host routes live there), its own state database and lab directory, and scenario
//! names unique to the test. Dropping it destroys the lab and removes whatever is left,
//! even when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct TestHost {
    pub netns: String,
    pub dir: tempfile::TempDir,
    pub scenarios: std::cell::RefCell<Vec<String>>,
}

impl TestHost {
    pub fn new() -> TestHost {
        assert!(nix_is_root(), "lab tests run as root");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let netns = format!("vnxt-{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &netns]).output().expect("ip runs");
        assert!(out.status.success(), "ip netns add: {}", String::from_utf8_lossy(&out.stderr));
        let h = TestHost {
            netns,
            dir: tempfile::Builder::new().prefix("vnxt").tempdir().unwrap(),
            scenarios: Default::default(),
        };
        h.ip(&["link", "set", "lo", "up"]);
        h
    }

    /// The hosts file `<host_mapping/>` writes to in tests.
    pub fn hosts_file(&self) -> PathBuf {
        self.dir.path().join("hosts")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }

    /// A unique scenario name for this test.
    pub fn unique(&self, base: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{base}-{}-{n}", std::process::id());
        self.scenarios.borrow_mut().push(name.clone());
        name
    }

    /// Copies a scenario into the test's folder under a unique name (with `conf/` beside it,
    /// as in the corpus), returns its path and name.
    pub fn scenario_from(&self, src: &Path) -> (PathBuf, String) {
        let text = std::fs::read_to_string(src).unwrap();
        let start = text.find("<scenario_name>").expect("a scenario name") + "<scenario_name>".len();
        let end = text[start..].find("</scenario_name>").unwrap() + start;
        let name = self.unique(&text[start..end]);
        let text = format!("{}{}{}", &text[..start], name, &text[end..]);
        let dir = self.dir.path().join("scenarios");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = self.dir.path().join("conf");
        if !conf.exists() {
            std::os::unix::fs::symlink(super::corpus().join("conf"), &conf).unwrap();
        }
        let path = dir.join(src.file_name().unwrap());
        std::fs::write(&path, text).unwrap();
        (path, name)
    }

    /// Runs vnx in the test's "host" namespace with its state.
    pub fn vnx(&self, args: &[&str]) -> Output {
        self.vnx_with(args, &[])
    }

    /// Runs vnx as [`TestHost::vnx`] does, with more environment (an empty image store, …).
    pub fn vnx_with(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg(super::vnx_bin())
            .args(args)
            .env("VNX_STATE", self.state())
            // Never the machine's /etc/hosts.
            .env("VNX_HOSTS_FILE", self.hosts_file())
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .output()
            .expect("vnx runs")
    }

    /// Runs vnx and requires success.
    pub fn vnx_ok(&self, args: &[&str]) -> String {
        super::succeeded(args, self.vnx(args))
    }

    pub fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip").arg("-n").arg(&self.netns).args(args).output().unwrap();
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ip` in the lab's own network namespace (where the bridges of its nets live).
    pub fn lab_ip(&self, scenario: &str, args: &[&str]) -> String {
        let out = Command::new("ip").arg("-n").arg(format!("vnxlab-{scenario}")).args(args).output().unwrap();
        assert!(out.status.success(), "ip -n vnxlab-{scenario} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a shell command in the test's "host" namespace.
    pub fn host_sh(&self, script: &str) -> Output {
        Command::new("ip").args(["netns", "exec", &self.netns, "sh", "-c", script]).output().unwrap()
    }

    /// `vnx show --json` of a scenario.
    pub fn show(&self, scenario: &str) -> Value {
        serde_json::from_str(&self.vnx_ok(&["show", scenario, "--json"])).unwrap()
    }

    /// Node name → init pid, from `vnx show`.
    pub fn pids(&self, scenario: &str) -> std::collections::BTreeMap<String, i64> {
        self.show(scenario)["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].as_str().unwrap().to_string(), n["pid"].as_i64().unwrap_or(-1)))
            .collect()
    }

    /// Pings `target` from `node` (a retry forgives the first packet lost to neighbour discovery).
    pub fn ping_from(&self, scenario: &str, node: &str, targets: &[&str]) -> Vec<String> {
        let script: String = targets.iter().map(|t| format!("ping -c1 -W2 {t} >/dev/null 2>&1 || ping -c2 -i0.2 -W1 {t} >/dev/null 2>&1 || echo UNREACHABLE {t}\n")).collect();
        self.run_pings(scenario, node, &script)
    }

    /// One ping from `node` to each target, no retry: what a CI pipeline does the moment apply
    /// returns.
    pub fn ping_once_from(&self, scenario: &str, node: &str, targets: &[&str]) -> Vec<String> {
        let script: String =
            targets.iter().map(|t| format!("ping -c1 -W2 {t} >/dev/null 2>&1 || echo UNREACHABLE {t}\n")).collect();
        self.run_pings(scenario, node, &script)
    }

    fn run_pings(&self, scenario: &str, node: &str, script: &str) -> Vec<String> {
        let out = self.vnx(&["exec", scenario, "-M", node, "--", "sh", "-c", script]);
        // The script itself always succeeds: a failure is vnx exec's, and proves nothing.
        assert!(
            out.status.success(),
            "vnx exec in {node} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("UNREACHABLE"))
            .map(|l| format!("{node} -> {l}"))
            .collect()
    }

    /// Leftovers of this test in the kernel and the process table (for the "destroy leaves
    /// nothing" checks).
    pub fn leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        let links = self.ip(&["-o", "link", "show"]);
        for l in links.lines().filter(|l| !l.contains(" lo:")) {
            v.push(format!("link: {l}"));
        }
        for s in self.scenarios.borrow().iter() {
            if let Ok(rd) = std::fs::read_dir("/run/netns") {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().to_string();
                    if n.starts_with(&format!("vnx-{s}."))
                        || n == format!("vnxlab-{s}")
                        || n.starts_with(&format!("vnxlab-{s}."))
                    {
                        v.push(format!("netns: {n}"));
                    }
                }
            }
        }
        let dirs = self.node_dirs();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmd) = std::fs::read_to_string(p.path().join("cmdline")) {
                // Node inits, and anything else run from a lab's runtime directory (its switch).
                let init = (cmd.contains("__init") || cmd.contains("vnx-init"))
                    && dirs.iter().any(|d| cmd.contains(d.as_str()));
                if init || dirs.iter().skip(1).any(|d| cmd.contains(&format!("{d}/"))) {
                    v.push(format!("process: {} {}", p.file_name().to_string_lossy(), cmd.replace('\0', " ")));
                }
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in mounts.lines().filter(|m| dirs.iter().any(|d| m.contains(d.as_str()))) {
            v.push(format!("mount: {m}"));
        }
        for d in dirs.iter().skip(1) {
            if std::path::Path::new(d).exists() {
                v.push(format!("runtime directory: {d}"));
            }
        }
        v
    }

    /// Where this test's nodes keep their directories: the test's own directory, and each
    /// scenario's runtime directory (`ns` nodes' overlay layers, on a tmpfs).
    fn node_dirs(&self) -> Vec<String> {
        let mut dirs = vec![self.dir.path().display().to_string()];
        dirs.extend(self.scenarios.borrow().iter().map(|s| format!("/run/vnx/labs/{s}")));
        dirs
    }
}

fn nix_is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for s in self.scenarios.borrow().iter() {
            let _ = self.vnx(&["destroy", s, "--auto-approve"]);
        }
        // Whatever is still there: node inits of this test (their directories may be the
        // test's own), names, runtime directories and claims of its labs, then its namespace.
        kill_inits_in(&self.node_dirs()[..1]);
        for s in self.scenarios.borrow().iter() {
            scrub(s);
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
    }
}

/// Kills the node inits whose directories are under one of `dirs`.
fn kill_inits_in(dirs: &[String]) {
    let Ok(rd) = std::fs::read_dir("/proc") else { return };
    for p in rd.flatten() {
        if let Ok(cmd) = std::fs::read_to_string(p.path().join("cmdline")) {
            if (cmd.contains("__init") || cmd.contains("vnx-init")) && dirs.iter().any(|d| cmd.contains(d.as_str())) {
                let _ = Command::new("kill").arg("-9").arg(p.file_name()).output();
            }
        }
    }
}

/// Removes what lab `scenario` left on the machine after a destroy that failed (or never
/// ran): its nodes' inits, its namespace names, the links of the current namespace that
/// carry its mark, its runtime directory and its claim. Only what has the lab's (unique)
/// name is touched.
pub fn scrub(scenario: &str) {
    let run_dir = format!("/run/vnx/labs/{scenario}");
    kill_inits_in(std::slice::from_ref(&run_dir));
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(&format!("vnx-{scenario}."))
                || n == format!("vnxlab-{scenario}")
                || n.starts_with(&format!("vnxlab-{scenario}."))
            {
                let _ = Command::new("ip").args(["netns", "del", &n]).output();
            }
        }
    }
    let links = Command::new("ip").args(["-o", "link", "show"]).output();
    let mark = format!("alias vnx:{scenario}:");
    for l in links.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default().lines() {
        if l.contains(&mark) {
            if let Some(name) = l.split(": ").nth(1).map(|n| n.split('@').next().unwrap_or(n)) {
                let _ = Command::new("ip").args(["link", "del", name]).output();
            }
        }
    }
    let _ = Command::new("umount").args(["-l", &run_dir]).output();
    let _ = std::fs::remove_dir_all(&run_dir);
    let _ = std::fs::remove_file(format!("/run/vnx/claims/{scenario}"));
}
