//! `vnx graph`: the lab's topology as VNX's `--show-map` drew it: nodes, nets, the interfaces
//! between them with their addresses, and the host.

use std::fmt::Write;
use std::path::PathBuf;

use super::common;
use super::fail;
use crate::plan::desired::ifname_in_node;
use crate::scenario::Scenario;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    /// SVG, drawn by Graphviz's `neato` (Debian package graphviz).
    Svg,
    /// One self-contained HTML page (no network access needed), with each node's run state when
    /// the lab is applied.
    Html,
}

/// Draw a scenario's topology.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx graph lab.xml --open   (VNX's --show-map)\n  vnx graph lab.xml --format dot | dot -Tpng > lab.png\n  vnx graph lab.xml --format mermaid\n  vnx graph lab.xml --format svg -o lab.svg\n  vnx graph lab --format html > lab.html"
)]
pub struct GraphCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// What to draw: dot by default, html with --open.
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    /// Write the map to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Show the map as a picture: write it to a file (--out, or a new one under the temporary
    /// directory) and open it in the desktop's browser when there is a display.
    #[arg(long)]
    pub open: bool,
}

fn addrs(
    v4: &[crate::scenario::Spanned<crate::scenario::values::Ipv4Config>],
    v6: &[crate::scenario::Spanned<crate::scenario::values::Ipv6Config>],
) -> Vec<String> {
    v4.iter().map(|a| a.to_string()).chain(v6.iter().map(|a| a.to_string())).collect()
}

/// The edges of the map: (node or "host", net, label).
fn edges(s: &Scenario) -> Vec<(String, String, String)> {
    let mut e = Vec::new();
    for n in &s.nodes {
        for i in &n.interfaces {
            let mut label = vec![ifname_in_node(n, i)];
            label.extend(addrs(&i.ipv4, &i.ipv6));
            e.push((n.name.value.clone(), i.net.value.clone(), label.join("\\n")));
        }
    }
    if let Some(h) = &s.host {
        for i in &h.interfaces {
            e.push(("host".into(), i.net.value.clone(), addrs(&i.ipv4, &i.ipv6).join("\\n")));
        }
    }
    e
}

fn id(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>())
}

pub fn dot(s: &Scenario) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "graph \"{}\" {{", s.name.value);
    let _ = writeln!(o, "  overlap=false; splines=true;");
    let _ = writeln!(o, "  node [fontname=\"Helvetica\", fontsize=10];");
    for n in &s.nets {
        let _ = writeln!(
            o,
            "  {} [label=\"{}\\n({})\", shape=ellipse, style=filled, fillcolor=\"#d9ead3\"];",
            id("net", &n.name.value),
            n.name.value,
            n.mode.value
        );
    }
    for n in &s.nodes {
        let _ = writeln!(
            o,
            "  {} [label=\"{}\\n{}\", shape=box, style=filled, fillcolor=\"#cfe2f3\"];",
            id("node", &n.name.value),
            n.name.value,
            n.node_type.value
        );
    }
    if s.host.is_some() {
        let _ = writeln!(o, "  host [label=\"host\", shape=box3d, style=filled, fillcolor=\"#fce5cd\"];");
    }
    for (from, net, label) in edges(s) {
        let from = if from == "host" { from } else { id("node", &from) };
        let _ = writeln!(o, "  {from} -- {} [label=\"{label}\", fontsize=8];", id("net", &net));
    }
    o.push_str("}\n");
    o
}

pub fn mermaid(s: &Scenario) -> String {
    let mut o = String::from("graph LR\n");
    for n in &s.nets {
        let _ = writeln!(o, "  {}((\"{}\"))", id("net", &n.name.value), n.name.value);
    }
    for n in &s.nodes {
        let _ = writeln!(o, "  {}[\"{}\"]", id("node", &n.name.value), n.name.value);
    }
    if s.host.is_some() {
        o.push_str("  host{{\"host\"}}\n");
    }
    for (from, net, label) in edges(s) {
        let from = if from == "host" { from } else { id("node", &from) };
        let _ = writeln!(o, "  {from} ---|\"{}\"| {}", label.replace("\\n", " "), id("net", &net));
    }
    o
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The map as one HTML page with an inline SVG: nets in a row across the middle, nodes on one
/// net below it, nodes on several (routers) above, each over the average place of its nets.
/// `states` gives each node's run state when the lab is applied.
pub fn html(s: &Scenario, states: &std::collections::BTreeMap<String, String>) -> String {
    const NET_W: f64 = 150.0;
    const NODE_W: f64 = 110.0;
    let net_x: std::collections::BTreeMap<&str, f64> =
        s.nets.iter().enumerate().map(|(i, n)| (n.name.value.as_str(), 40.0 + i as f64 * (NET_W + 60.0))).collect();
    let edges = edges(s);
    // (name, type, row, x)
    let mut boxes: Vec<(String, String, usize, f64)> = Vec::new();
    let mut owners: Vec<(String, String)> =
        s.nodes.iter().map(|n| (n.name.value.clone(), n.node_type.value.to_string())).collect();
    if s.host.is_some() {
        owners.push(("host".into(), "host".into()));
    }
    for (name, ty) in owners {
        let xs: Vec<f64> =
            edges.iter().filter(|e| e.0 == name).filter_map(|e| net_x.get(e.1.as_str())).copied().collect();
        let x = if xs.is_empty() { 40.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 + (NET_W - NODE_W) / 2.0 };
        let row = if xs.len() > 1 || name == "host" { 0 } else { 2 };
        boxes.push((name, ty, row, x));
    }
    // No two boxes of a row overlap: push them right in order.
    boxes.sort_by(|a, b| (a.2, a.3).partial_cmp(&(b.2, b.3)).expect("finite"));
    for i in 1..boxes.len() {
        if boxes[i].2 == boxes[i - 1].2 && boxes[i].3 < boxes[i - 1].3 + NODE_W + 20.0 {
            boxes[i].3 = boxes[i - 1].3 + NODE_W + 20.0;
        }
    }
    let row_y = |row: usize| 30.0 + row as f64 * 130.0;
    let width =
        boxes.iter().map(|b| b.3 + NODE_W).chain(net_x.values().map(|x| x + NET_W)).fold(400.0, f64::max) + 40.0;
    let mut svg = String::new();
    for (name, _, row, x) in &boxes {
        for (_, net, label) in edges.iter().filter(|e| &e.0 == name) {
            let Some(nx) = net_x.get(net.as_str()) else { continue };
            let (x1, y1) = (x + NODE_W / 2.0, row_y(*row) + if *row == 0 { 50.0 } else { 0.0 });
            let (x2, y2) = (nx + NET_W / 2.0, row_y(1) + if *row == 0 { 0.0 } else { 36.0 });
            let _ = write!(svg, r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#777"/>"##);
            // Near the node's end, so labels of neighbouring lines do not meet in the middle.
            let (lx, ly) = (x1 + (x2 - x1) * 0.3 + 4.0, y1 + (y2 - y1) * 0.3);
            for (k, part) in label.split("\\n").enumerate() {
                let _ =
                    write!(svg, r##"<text class="addr" x="{lx}" y="{}">{}</text>"##, ly + k as f64 * 11.0, esc(part));
            }
        }
    }
    for n in &s.nets {
        let x = net_x[n.name.value.as_str()];
        let _ = write!(
            svg,
            r##"<g class="net" data-name="{0}"><rect x="{x}" y="{1}" width="{NET_W}" height="36" rx="18" fill="#d9ead3" stroke="#6a8f5f"/><text x="{2}" y="{3}" text-anchor="middle">{0}</text><text class="small" x="{2}" y="{4}" text-anchor="middle">{5}</text></g>"##,
            esc(&n.name.value),
            row_y(1),
            x + NET_W / 2.0,
            row_y(1) + 16.0,
            row_y(1) + 29.0,
            esc(&n.mode.value.to_string())
        );
    }
    for (name, ty, row, x) in &boxes {
        let state = states.get(name).map(String::as_str).unwrap_or(if name == "host" { "" } else { "not applied" });
        let fill = match state {
            "running" => "#b6d7a8",
            "paused" => "#ffe599",
            "shutoff" | "missing" => "#d9d9d9",
            _ if name == "host" => "#fce5cd",
            _ => "#cfe2f3",
        };
        let y = row_y(*row);
        let _ = write!(
            svg,
            r##"<g class="node" data-name="{0}" data-state="{1}"><rect x="{x}" y="{y}" width="{NODE_W}" height="50" rx="4" fill="{fill}" stroke="#555"/><text x="{2}" y="{3}" text-anchor="middle">{0}</text><text class="small" x="{2}" y="{4}" text-anchor="middle">{5}{6}</text></g>"##,
            esc(name),
            esc(state),
            x + NODE_W / 2.0,
            y + 20.0,
            y + 38.0,
            esc(ty),
            if state.is_empty() { String::new() } else { format!(" · {}", esc(state)) }
        );
    }
    let height = row_y(2) + 90.0;
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — vnx map</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 16px; color: #222; }}
svg text {{ font-size: 13px; }} svg text.small {{ font-size: 10px; fill: #444; }} svg text.addr {{ font-size: 9px; fill: #333; }}
</style></head>
<body><h1>{title}</h1>
<p>{nodes} nodes, {nets} nets. Green: running, yellow: paused, grey: shut off, blue: not applied.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{svg}</svg>
</body></html>
"##,
        title = esc(&s.name.value),
        nodes = s.nodes.len(),
        nets = s.nets.len(),
    )
}

pub fn run(c: GraphCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    super::cluster::note_local_part(&c.scenario, "graph", state_arg);
    let state = common::open_state(&common::state_path(state_arg)).ok();
    let t = match common::resolve(&c.scenario, state.as_ref(), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let format = c.format.unwrap_or(if c.open { GraphFormat::Html } else { GraphFormat::Dot });
    let name = &t.scenario.name.value;
    let text = match format {
        GraphFormat::Html => {
            let states = state.as_ref().map(|st| super::show::run_states(st, name)).unwrap_or_default();
            html(&t.scenario, &states)
        }
        GraphFormat::Dot => dot(&t.scenario),
        GraphFormat::Mermaid => mermaid(&t.scenario),
        GraphFormat::Svg => match svg(&dot(&t.scenario)) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        },
    };
    let out = match (&c.out, c.open) {
        (Some(f), _) => f.clone(),
        (None, false) => {
            print!("{text}");
            return super::EXIT_OK;
        }
        // A directory of its own (made with a random name, never one that may exist already).
        (None, true) => match tempfile::Builder::new().prefix("vnx-map-").tempdir() {
            Ok(d) => d.keep().join(format!("{name}.{}", if format == GraphFormat::Svg { "svg" } else { "html" })),
            Err(e) => return fail(&format!("cannot make a directory for the map: {e}")),
        },
    };
    if let Err(e) = std::fs::write(&out, text) {
        return fail(&format!("cannot write {}: {e}", out.display()));
    }
    if !c.open {
        return super::EXIT_OK;
    }
    let display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    let opened = display
        && std::process::Command::new("xdg-open")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok();
    if opened {
        println!("The map of {name} is in {} (opened in your browser).", out.display());
    } else {
        println!(
            "The map of {name} is in {}: open it in a browser{}.",
            out.display(),
            if display { " (xdg-open, Debian package xdg-utils, is missing)" } else { " (there is no display here)" }
        );
    }
    super::EXIT_OK
}

/// The map drawn by Graphviz's `neato`, as SVG.
fn svg(dot: &str) -> Result<String, String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("neato")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|_| "drawing SVG needs Graphviz's neato (Debian package graphviz)".to_string())?;
    let _ = child.stdin.take().expect("piped").write_all(dot.as_bytes());
    match child.wait_with_output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        _ => Err("neato failed".into()),
    }
}
