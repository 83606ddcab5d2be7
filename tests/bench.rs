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
        assert_eq!(steps.len(), 7, "{steps:?}");
        assert!(steps[1].starts_with("check:"), "{steps:?}");
        // The bench's own check that the destroy left no namespace, mount, process or link.
        assert_eq!(steps[6], "check: nothing left", "{steps:?}");
        assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0);
        assert!(v["kernel_kib_per_node"].is_number(), "{v}");
        // The machine's CPU for the apply (counted in 10 ms ticks: a small lab's may be 0), no more
        // than all cores for the whole apply.
        let cpu = v["apply_cpu_seconds"].as_f64().unwrap_or(-1.0);
        let apply = v["steps"][0]["seconds"].as_f64().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!(cpu >= 0.0 && cpu <= apply * cores + 0.05, "{args:?}: CPU {cpu} s for a {apply} s apply");
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

/// `--hosts`: the lab again over hosts made of namespaces, pinged across them, planned with no
/// change and destroyed with nothing left on any host (the bench checks that itself); and the
/// VXLAN segments of each placement on every topology.
#[test]
fn a_benchmark_over_hosts_runs_and_compares_placements() {
    let out = bench(&["linear", "12", "--hosts", "3", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let steps: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    for want in ["apply from nothing over 3 hosts", "no-op plan over 3 hosts", "destroy over 3 hosts"] {
        assert!(steps.contains(&want), "{steps:?}");
    }
    assert!(
        steps.iter().any(|s| s.starts_with("check: 2 pings across hosts")),
        "a chain over 3 hosts crosses twice: {steps:?}"
    );
    assert!(v["distribution_overhead"].as_f64().unwrap() > 0.0);
    let seg = v["segments"].as_array().unwrap();
    let linear = seg.iter().find(|r| r["topology"] == "linear").unwrap();
    assert_eq!(linear["min_cut"]["crossing_nets"], 2, "{linear}");
    assert_eq!(linear["round_robin"]["crossing_nets"], 11, "{linear}");
    assert_eq!(seg.len(), 4);
}

/// `--sweep`: the benchmark at each size, a table of cost per node, and the plot.
#[test]
fn a_sweep_tables_and_plots_each_size() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("sweep.svg");
    let out = bench(&["linear", "--sweep", "4,8", "--plot", plot.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("N=4") && text.contains("N=8") && text.contains("ms/n"), "{text}");
    assert!(text.contains("apply grew") && text.contains("(2.0× the nodes)"), "{text}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 5, "{svg:.300}");
}
