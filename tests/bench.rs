//! `vnx bench` runs end to end on small labs of every topology, checks the lab with pings,
//! and leaves nothing behind; a star past the bridge port limit is refused with the reason.

mod common;

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    // No waiting for a quiet kernel: other tests make and delete namespaces all along.
    Command::new(common::vnx_bin()).arg("bench").args(args).args(["--settle", "0"]).output().unwrap()
}

#[test]
fn small_benchmarks_run_and_leave_nothing() {
    for args in [
        &["linear", "6", "--json"][..],
        &["star", "5", "--json"],
        &["tree", "3", "--fanout", "2", "--json"],
        &["mesh", "4", "--json"],
    ] {
        let out = bench(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        let steps: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(steps.len(), 6, "{steps:?}");
        assert!(steps[1].starts_with("check:"), "{steps:?}");
        assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0);
        let left = std::fs::read_dir("/run/netns")
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("vnx-bench")).count())
            .unwrap_or(0);
        assert_eq!(left, 0, "{args:?} left namespaces");
    }
}

#[test]
fn a_star_past_the_bridge_limit_is_refused_with_the_reason() {
    let out = bench(&["star", "1500"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds at most 1023"), "{err}");
}
