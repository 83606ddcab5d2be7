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
    /// SVG, laid out and drawn by vnx (no Graphviz needed).
    Svg,
    /// PNG, drawn by vnx (no Graphviz needed): a picture to project.
    Png,
    /// One self-contained HTML page (no network access needed), with each node's run state when
    /// the lab is applied; a click on a node shows its interfaces and how to reach it.
    Html,
}

/// Draw a scenario's topology.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx graph lab.xml --open   (VNX's --show-map: a PNG, opened where there is a display)\n  vnx graph lab.xml --format png -o lab.png\n  vnx graph lab.xml --format svg -o lab.svg\n  vnx graph lab --format html > lab.html\n  vnx graph lab --serve   (a live page on http://127.0.0.1:8080/)\n  vnx graph lab.xml --format mermaid"
)]
pub struct GraphCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// What to draw: dot by default, png with --open.
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    /// Serve a live page of the applied lab on loopback: each node's and link's state follows
    /// the lab (a node shut down greys out within a second). Stop with Ctrl+C.
    #[arg(long, conflicts_with_all = ["format", "out", "open"])]
    pub serve: bool,
    /// The port --serve listens on (127.0.0.1 only).
    #[arg(long, default_value_t = 8080, requires = "serve")]
    pub port: u16,
    /// Write the map to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Show the map as a picture: write it to a file (--out, or a new one under the temporary
    /// directory) and open it on the desktop when there is a display (a PNG by default).
    #[arg(long)]
    pub open: bool,
}

/// The edges of the map: (node or "host", net, label).
fn edges(s: &Scenario) -> Vec<(String, String, String)> {
    let mut e = Vec::new();
    for n in &s.nodes {
        for i in &n.interfaces {
            let mut label = vec![ifname_in_node(n, i)];
            label.extend(crate::map::addrs(&i.ipv4, &i.ipv6));
            e.push((n.name.value.clone(), i.net.value.clone(), label.join("\\n")));
        }
    }
    if let Some(h) = &s.host {
        for i in &h.interfaces {
            e.push(("host".into(), i.net.value.clone(), crate::map::addrs(&i.ipv4, &i.ipv6).join("\\n")));
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

/// The legend of the page's run states.
pub const STATES_LEGEND: &str = "Green: running · yellow: paused · grey: shut off · blue: not applied";

/// The picture of `s` in `format`, marked with `marks`.
pub fn picture(s: &Scenario, format: GraphFormat, marks: &crate::map::Marks, legend: &str) -> Result<Vec<u8>, String> {
    match format {
        GraphFormat::Dot => Ok(dot(s).into_bytes()),
        GraphFormat::Mermaid => Ok(mermaid(s).into_bytes()),
        _ => draw(&crate::map::Topology::of(s), format, marks, legend),
    }
}

/// The drawing of `topo` as svg, png or html (dot and mermaid are text for other tools).
pub fn draw(
    topo: &crate::map::Topology,
    format: GraphFormat,
    marks: &crate::map::Marks,
    legend: &str,
) -> Result<Vec<u8>, String> {
    let drawing = crate::map::layout::layout(topo);
    let svg = crate::map::svg::svg(&drawing, marks);
    match format {
        GraphFormat::Svg => Ok(svg.into_bytes()),
        GraphFormat::Png => crate::map::png::png(&svg, 2.0),
        GraphFormat::Html => Ok(crate::map::page::page(topo, &svg, false, legend).into_bytes()),
        GraphFormat::Dot | GraphFormat::Mermaid => Err("dot and mermaid draw a scenario, not a plan".into()),
    }
}

/// Run states as marks: each node's, and each link's (down while its node does not run).
pub fn state_marks(s: &Scenario, states: &std::collections::BTreeMap<String, String>) -> crate::map::Marks {
    let mut m = crate::map::Marks::default();
    for (node, st) in states {
        m.of.insert(format!("node:{node}"), st.clone());
    }
    for n in &s.nodes {
        let Some(st) = states.get(&n.name.value) else { continue };
        for i in &n.interfaces {
            let link = if st == "running" { "up" } else { "down" };
            m.of.insert(format!("{}/{}", n.name.value, i.id.value), link.into());
        }
    }
    m
}

pub fn run(c: GraphCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    super::cluster::note_local_part(&c.scenario, "graph", state_arg);
    let state = common::open_state(&common::state_path(state_arg)).ok();
    let t = match common::resolve(&c.scenario, state.as_ref(), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let name = &t.scenario.name.value;
    if c.serve {
        let Some(state) = state else { return fail("--serve follows an applied lab: there is no state here") };
        return super::graph_serve::serve(&t.scenario, state, c.port);
    }
    let format = c.format.unwrap_or(if c.open { GraphFormat::Png } else { GraphFormat::Dot });
    let states = state.as_ref().map(|st| super::show::run_states(st, name)).unwrap_or_default();
    let text = match picture(&t.scenario, format, &state_marks(&t.scenario, &states), STATES_LEGEND) {
        Ok(bytes) => bytes,
        Err(e) => return fail(&e),
    };
    let out = match (&c.out, c.open) {
        (Some(f), _) => f.clone(),
        (None, false) if format == GraphFormat::Png && std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            return fail("a PNG is not for the terminal: write it to a file with -o lab.png (or use --open)");
        }
        (None, false) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&text);
            return super::EXIT_OK;
        }
        // A directory of its own (made with a random name, never one that may exist already).
        (None, true) => match tempfile::Builder::new().prefix("vnx-map-").tempdir() {
            Ok(d) => d.keep().join(format!("{name}.{}", extension(format))),
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
        println!("The map of {name} is in {} (opened on your display).", out.display());
    } else {
        println!(
            "The map of {name} is in {}: open it in an image viewer or a browser{}.",
            out.display(),
            if display { " (xdg-open, Debian package xdg-utils, is missing)" } else { " (there is no display here)" }
        );
    }
    super::EXIT_OK
}

/// The file extension of `format`.
fn extension(f: GraphFormat) -> &'static str {
    match f {
        GraphFormat::Dot => "dot",
        GraphFormat::Mermaid => "mmd",
        GraphFormat::Svg => "svg",
        GraphFormat::Png => "png",
        GraphFormat::Html => "html",
    }
}
