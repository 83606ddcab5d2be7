//! `vnx bench TOPO --sweep 500,1000,2000`: the benchmark at several sizes, each in a process of
//! its own (its own namespace, its own peak RSS), then a table of each step's seconds and cost
//! per node at every size, so that growth shows at a glance, and an SVG plot of seconds
//! against N, one line per step.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// The steps plotted, as the benchmark names them (the pings' step is named by its count).
const STEPS: &[&str] =
    &["apply from nothing", "no-op plan with refresh", "add one node", "change one address", "destroy"];

/// One size's result: N and the benchmark's JSON.
pub struct Point {
    pub n: usize,
    pub report: Value,
}

/// Runs the benchmark at each of `sizes` (`args` are the other arguments, passed on).
pub fn run(sizes: &[usize], args: &[String]) -> Result<Vec<Point>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding vnx: {e}"))?;
    let mut points = Vec::new();
    for &n in sizes {
        eprintln!("vnx bench --sweep: N = {n}");
        let out = std::process::Command::new(&exe)
            .arg("bench")
            .args(args)
            .arg(n.to_string())
            .arg("--json")
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("running the benchmark at {n}: {e}"))?;
        let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!("the benchmark at {n} said no result ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })?;
        if report["ok"] != true {
            return Err(format!("the benchmark at {n} failed: {}", report["error"]));
        }
        points.push(Point { n, report });
    }
    Ok(points)
}

/// The seconds of `step` in a report.
fn seconds(r: &Value, step: &str) -> Option<f64> {
    r["steps"].as_array()?.iter().find(|s| s["step"].as_str().is_some_and(|n| n.starts_with(step)))?["seconds"].as_f64()
}

/// The CPU the machine spent on the apply, in a report.
fn apply_cpu(r: &Value) -> Option<f64> {
    r["apply_cpu_seconds"].as_f64()
}

/// The table: each step's seconds at every size and milliseconds per node; peak RSS.
pub fn table(points: &[Point]) -> String {
    let mut o = String::new();
    let _ = write!(o, "{:<26}", "STEP");
    for p in points {
        let _ = write!(o, " {:>16}", format!("N={}", p.n));
    }
    o.push('\n');
    for step in STEPS {
        let _ = write!(o, "{step:<26}");
        for p in points {
            match seconds(&p.report, step) {
                Some(s) => {
                    let _ = write!(o, " {:>16}", format!("{s:.2}s {:.2}ms/n", s * 1000.0 / p.n as f64));
                }
                None => {
                    let _ = write!(o, " {:>16}", "-");
                }
            }
        }
        o.push('\n');
    }
    let _ = write!(o, "{:<26}", "apply, the machine's CPU");
    for p in points {
        let _ = write!(
            o,
            " {:>16}",
            apply_cpu(&p.report).map_or("-".to_string(), |c| format!("{c:.1}s {:.2}ms/n", c * 1000.0 / p.n as f64))
        );
    }
    o.push('\n');
    let _ = write!(o, "{:<26}", "peak RSS of vnx");
    for p in points {
        let mb = p.report["peak_rss_mb"].as_f64().unwrap_or(0.0);
        let _ = write!(o, " {:>16}", format!("{mb:.0}MB {:.0}kB/n", mb * 1024.0 / p.n as f64));
    }
    o.push('\n');
    let _ = write!(o, "{:<26}", "kernel memory");
    for p in points {
        let kib = p.report["kernel_kib_per_node"].as_f64();
        let _ = write!(o, " {:>16}", kib.map_or("-".to_string(), |k| format!("{k:.0}kB/n")));
    }
    o.push('\n');
    if let (Some(a), Some(b)) = (points.first(), points.last()) {
        if let (Some(x), Some(y)) = (seconds(&a.report, STEPS[0]), seconds(&b.report, STEPS[0])) {
            let _ = writeln!(
                o,
                "apply grew {:.1}× from N={} to N={} ({:.1}× the nodes){}",
                y / x.max(1e-9),
                a.n,
                b.n,
                b.n as f64 / a.n as f64,
                apply_cpu(&a.report)
                    .zip(apply_cpu(&b.report))
                    .map_or(String::new(), |(x, y)| format!(", its CPU {:.1}×", y / x.max(1e-9)))
            );
        }
    }
    o
}

/// The plot: seconds against N, one line per step, as SVG.
pub fn plot(points: &[Point], title: &str) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 460.0, 70.0, 50.0, 40.0, 230.0);
    let max_n = points.iter().map(|p| p.n).max().unwrap_or(1) as f64;
    let max_s =
        points.iter().flat_map(|p| STEPS.iter().filter_map(|s| seconds(&p.report, s))).fold(0.0, f64::max).max(0.1);
    let x = |n: f64| left + n / max_n * (w - left - right);
    let y = |s: f64| h - bottom - s / max_s * (h - bottom - top);
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut o = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, sans-serif" font-size="13"><rect width="100%" height="100%" fill="#fff"/><text x="{left}" y="24" font-size="16" font-weight="bold">{}</text>"##,
        crate::map::esc(title)
    );
    // Axes, with five ticks each.
    let _ = write!(o, r##"<path d="M{left} {top} V{} H{}" fill="none" stroke="#333"/>"##, h - bottom, w - right);
    for i in 0..=5 {
        let (n, s) = (max_n * i as f64 / 5.0, max_s * i as f64 / 5.0);
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{:.0}</text><text x="{}" y="{:.1}" text-anchor="end">{:.1}</text><path d="M{left} {:.1} H{}" stroke="#eee"/>"##,
            x(n),
            h - bottom + 18.0,
            n,
            left - 6.0,
            y(s) + 4.0,
            s,
            y(s),
            w - right
        );
    }
    let _ = write!(
        o,
        r##"<text x="{:.1}" y="{}" text-anchor="middle">nodes (N)</text>"##,
        (left + w - right) / 2.0,
        h - 10.0
    );
    let _ = write!(
        o,
        r##"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">seconds</text>"##,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for (k, step) in STEPS.iter().enumerate() {
        let pts: Vec<String> = points
            .iter()
            .filter_map(|p| seconds(&p.report, step).map(|s| format!("{:.1},{:.1}", x(p.n as f64), y(s))))
            .collect();
        let c = colours[k % colours.len()];
        let _ = write!(o, r##"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2.5"/>"##, pts.join(" "));
        for pt in &pts {
            let (px, py) = pt.split_once(',').unwrap_or_default();
            let _ = write!(o, r##"<circle cx="{px}" cy="{py}" r="3.5" fill="{c}"/>"##);
        }
        let ly = top + 20.0 + k as f64 * 22.0;
        let _ = write!(
            o,
            r##"<rect x="{}" y="{:.1}" width="14" height="4" fill="{c}"/><text x="{}" y="{:.1}">{step}</text>"##,
            w - right + 14.0,
            ly - 4.0,
            w - right + 34.0,
            ly + 1.0
        );
    }
    o.push_str("</svg>\n");
    o
}

/// Writes the plot to `path`.
pub fn write_plot(points: &[Point], title: &str, path: &Path) -> Result<(), String> {
    std::fs::write(path, plot(points, title)).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_plot_show_each_size() {
        let rep = |a: f64| {
            serde_json::json!({"ok": true, "peak_rss_mb": 50.0, "apply_cpu_seconds": a * 1.5, "steps": [
            {"step": "apply from nothing", "seconds": a}, {"step": "no-op plan with refresh", "seconds": a / 10.0},
            {"step": "add one node (plan + apply)", "seconds": 0.2}, {"step": "change one address (plan + apply)", "seconds": 0.1},
            {"step": "destroy", "seconds": a / 3.0}]})
        };
        let points = vec![Point { n: 500, report: rep(2.0) }, Point { n: 1000, report: rep(5.0) }];
        let t = table(&points);
        assert!(t.contains("N=500") && t.contains("N=1000"), "{t}");
        assert!(t.contains("5.00s 5.00ms/n"), "{t}");
        assert!(t.contains("7.5s 7.50ms/n"), "the apply's CPU per node: {t}");
        assert!(t.contains("apply grew 2.5× from N=500 to N=1000 (2.0× the nodes), its CPU 2.5×"), "{t}");
        let svg = plot(&points, "linear");
        assert_eq!(svg.matches("<polyline").count(), STEPS.len());
        assert!(svg.contains("add one node"));
    }
}
