//! Crash safety: an apply killed with SIGKILL at 20 points of a real lab's apply, then applied
//! again, converges every time, with nothing leaked and nothing built twice. Also a saved plan
//! that went stale is refused, and a second apply meets the lock.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::corpus;
use common::lab::TestHost;

/// The running inits of the scenario's nodes (their directories are in its runtime directory).
fn count_inits(scenario: &str) -> usize {
    let dir = format!("/run/vnx/labs/{scenario}/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    (c.contains("\0__init\0") || c.contains("vnx-init\0")) && c.contains(&dir)
                })
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn sigkill_at_twenty_points_then_apply_converges() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    // How long a whole apply takes here, to spread the kills over it: measured warm (the first
    // apply on a fresh machine pays for cold caches, and kills spread over its time landed
    // after the later, faster applies had ended).
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    let t0 = std::time::Instant::now();
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    let mut full = t0.elapsed();
    let links_when_built = host.ip(&["-o", "link", "show"]).lines().count();
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    // How long an apply takes before its first action: about a plan's time.
    let t0 = std::time::Instant::now();
    host.vnx_ok(&["plan", f]);
    let before_actions = t0.elapsed().min(full);
    let mut report = Vec::new();
    // How many kills landed while an action was under way (the point of the test).
    let mut mid_action = 0;
    for i in 0..20u64 {
        // Kill points: two while it plans, the others spread over its actions (and one a
        // little past its usual end).
        let at = match i {
            0 | 1 => before_actions.mul_f64(0.3 + 0.4 * i as f64),
            _ => {
                let span = full.saturating_sub(before_actions).mul_f64(1.1);
                before_actions.mul_f64(0.8) + span.mul_f64((i - 2) as f64 / 17.0)
            }
        }
        .max(Duration::from_millis(2));
        let mut child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", host.netns))
            .arg(common::vnx_bin())
            .args(["apply", f, "--auto-approve"])
            .env("VNX_STATE", host.state())
            .env("VNX_HOSTS_FILE", host.hosts_file())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        // nsenter execs vnx, so the child's pid is vnx's.
        let _ = Command::new("kill").arg("-9").arg(child.id().to_string()).output();
        let status = child.wait().unwrap();
        // Where the kill landed: resources the killed apply had started and not finished.
        let list = host.vnx(&["state", "list", &name]);
        let in_flight = String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| matches!(l.split('\t').nth(1), Some("creating" | "updating" | "deleting")))
            .count();
        if !status.success() && in_flight > 0 {
            mid_action += 1;
        }
        // Ended before the kill: applies run faster now than measured; aim the next ones earlier.
        if status.success() {
            full = full.mul_f64(0.8);
        }
        // The next apply converges.
        host.vnx_ok(&["apply", f, "--auto-approve"]);
        let plan = host.vnx_ok(&["plan", f]);
        assert!(plan.contains("No changes."), "kill {i} at {at:?}: not converged:\n{plan}");
        assert_eq!(count_inits(&name), 6, "kill {i} at {at:?}: node inits");
        assert_eq!(host.ip(&["-o", "link", "show"]).lines().count(), links_when_built, "kill {i} at {at:?}: links");
        assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty(), "kill {i}: lab does not work");
        host.vnx_ok(&["destroy", &name, "--auto-approve"]);
        assert_eq!(host.leftovers(), Vec::<String>::new(), "kill {i} at {at:?}: leaked");
        report.push(format!("{:?}", at));
    }
    eprintln!("killed at: {}; {mid_action} of 20 in the middle of an action", report.join(", "));
    assert!(mid_action >= 5, "only {mid_action} of 20 kills landed while an action was under way");
}

#[test]
fn stale_saved_plans_are_refused_and_the_lock_names_its_holder() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_nsrouter.xml"));
    let f = file.to_str().unwrap();
    let planfile = host.dir.path().join("lab.plan");
    let pf = planfile.to_str().unwrap();
    // -out, as Terraform spells it.
    host.vnx_ok(&["plan", f, "-out", pf]);
    host.vnx_ok(&["apply", pf]);
    assert!(host.vnx_ok(&["plan", f]).contains("No changes."));
    // A plan made, then the state moves on: the saved plan is refused.
    let text = std::fs::read_to_string(&file).unwrap().replace("10.1.0.3/24", "10.1.0.33/24");
    std::fs::write(&file, text).unwrap();
    host.vnx_ok(&["plan", f, "--out", pf]);
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    let out = host.vnx(&["apply", pf]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale"), "{}", String::from_utf8_lossy(&out.stderr));

    // A lock held by a live process: apply fails at once and names it.
    let st = vnx_state::State::open(&host.state()).unwrap();
    let lock = st.lock(&name, "apply", Duration::ZERO, |_| {}).unwrap();
    let out = host.vnx(&["apply", f, "--auto-approve"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("pid {}", std::process::id())) && err.contains(&lock.id), "{err}");
    // force-unlock removes it.
    host.vnx_ok(&["force-unlock", &lock.id]);
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    // A lock whose holder is gone is taken over with a warning.
    let dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    let mut dead = dead;
    dead.wait().unwrap();
    let db = rusqlite::Connection::open(host.state()).unwrap();
    db.execute(
        "INSERT OR REPLACE INTO locks VALUES (?1, 'deadbeef', ?2, ?3, 'apply', 'then')",
        rusqlite::params![name, dead_pid, vnx_state::hostname()],
    )
    .unwrap();
    drop(db);
    let out = host.vnx(&["apply", f, "--auto-approve"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("taking over the lock"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
}
