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
}

/// Draw a scenario's topology.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx graph lab.xml --format dot | dot -Tpng > lab.png\n  vnx graph lab.xml --format mermaid\n  vnx graph lab.xml --format svg > lab.svg"
)]
pub struct GraphCmd {
    /// A scenario file or the name of an applied scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
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

pub fn run(c: GraphCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    let state = common::open_state(&common::state_path(state_arg)).ok();
    let t = match common::resolve(&c.scenario, state.as_ref(), color) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    match c.format {
        GraphFormat::Dot => print!("{}", dot(&t.scenario)),
        GraphFormat::Mermaid => print!("{}", mermaid(&t.scenario)),
        GraphFormat::Svg => {
            use std::io::Write as _;
            let child = std::process::Command::new("neato")
                .arg("-Tsvg")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::inherit())
                .spawn();
            let Ok(mut child) = child else {
                return fail("drawing SVG needs Graphviz's neato (Debian package graphviz)");
            };
            let _ = child.stdin.take().expect("piped").write_all(dot(&t.scenario).as_bytes());
            match child.wait() {
                Ok(s) if s.success() => {}
                _ => return fail("neato failed"),
            }
        }
    }
    super::EXIT_OK
}
