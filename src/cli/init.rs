//! `vnx init`: a small, commented starter scenario.

use std::path::PathBuf;

use super::fail;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum InitFormat {
    Yaml,
    Xml,
}

/// Write a small commented starter scenario (two hosts and a router on two LANs).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  vnx init lab.yaml && vnx apply lab.yaml\n  vnx init lab.xml --format xml")]
pub struct InitCmd {
    /// Where to write it (refuses to overwrite).
    #[arg(value_name = "FILE", default_value = "lab.yaml")]
    pub file: PathBuf,
    /// The form (by default from FILE's extension).
    #[arg(long, value_enum)]
    pub format: Option<InitFormat>,
}

pub const STARTER_YAML: &str = r#"# A vnx lab: two LANs joined by a router. Every node is an `ns` node (a namespace with its own
# hostname and a copy-on-write view of this machine's files): no image, no daemon.
#   vnx apply lab.yaml                 build it (shows the plan, asks first)
#   vnx exec lab -M h1 -- ping -c1 10.0.2.10
#   vnx exec lab hello                 run the `hello` sequence on every node
#   vnx destroy lab                    remove it
name: lab
version: "2.0"
automac: {}              # MAC addresses from node and interface positions, as VNX does
nets:
  - {name: lan1, mode: virtual_bridge}
  - {name: lan2, mode: virtual_bridge}
nodes:
  - name: h1
    type: ns
    interfaces:
      - {id: 1, net: lan1, ipv4: [10.0.1.10/24]}     # eth1 inside the node
    routes:
      - {type: ipv4, to: default, gw: 10.0.1.1}
    execs:
      - {seq: hello, command: "echo hello from $(hostname)"}
  - name: r1
    type: ns
    forwarding: ip       # route between its interfaces
    interfaces:
      - {id: 1, net: lan1, ipv4: [10.0.1.1/24]}
      - {id: 2, net: lan2, ipv4: [10.0.2.1/24]}
    execs:
      - {seq: hello, command: "echo hello from $(hostname)"}
  - name: h2
    type: ns
    interfaces:
      - {id: 1, net: lan2, ipv4: [10.0.2.10/24]}
    routes:
      - {type: ipv4, to: default, gw: 10.0.2.1}
    execs:
      - {seq: hello, command: "echo hello from $(hostname)"}
"#;

pub fn run(c: InitCmd) -> i32 {
    if c.file.exists() {
        return fail(&format!("{} exists already; choose another name", c.file.display()));
    }
    let xml = match c.format {
        Some(InitFormat::Xml) => true,
        Some(InitFormat::Yaml) => false,
        None => c.file.extension().is_some_and(|e| e == "xml"),
    };
    let name = c.file.file_stem().and_then(|s| s.to_str()).unwrap_or("lab").to_string();
    let yaml = STARTER_YAML
        .replace("name: lab\n", &format!("name: {name}\n"))
        .replace("vnx exec lab", &format!("vnx exec {name}"))
        .replace("vnx destroy lab", &format!("vnx destroy {name}"))
        .replace("vnx apply lab.yaml", &format!("vnx apply {}", c.file.display()));
    let text = if xml {
        let (doc, _) = crate::scenario::parse(&yaml, crate::scenario::Format::Yaml);
        match doc {
            Some(crate::scenario::Document::Scenario(s)) => crate::scenario::write(&s, crate::scenario::Format::Xml),
            _ => return fail("the starter scenario does not read back (a bug)"),
        }
    } else {
        yaml
    };
    if let Err(e) = std::fs::write(&c.file, text) {
        return fail(&format!("cannot write {}: {e}", c.file.display()));
    }
    println!("Wrote {}. Next: vnx apply {}", c.file.display(), c.file.display());
    super::EXIT_OK
}
