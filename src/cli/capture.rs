//! `vnx capture LAB NET`: tcpdump on a net by its scenario name. A net's bridge has a hashed
//! kernel name and most live in the lab's own network namespace, so vnx finds both from the
//! record and runs tcpdump there (it replaces vnx: its output, its exit status, Ctrl-C).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use super::{common, fail};

/// Capture the packets of a net, by its scenario name (tcpdump on its bridge).
///
/// Arguments after `--` go to tcpdump (a filter, `-c N`, `-n`, …).
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx capture two-lans lan1\n  vnx capture two-lans lan2 -w lan2.pcap -- -c 100 icmp6\n  \
vnx capture two-lans lan1 -- -n -e arp"
)]
pub struct CaptureCmd {
    /// The applied scenario (its name or file).
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The net to capture on.
    #[arg(value_name = "NET")]
    pub net: String,
    /// Write the packets to this pcap file (for Wireshark) instead of printing them.
    #[arg(short = 'w', long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// tcpdump's own arguments.
    #[arg(last = true, value_name = "TCPDUMP ARGS")]
    pub tcpdump: Vec<String>,
}

pub fn run(c: CaptureCmd, state_arg: &Option<PathBuf>, color: bool) -> i32 {
    super::cluster::note_local_part(&c.scenario, "capture", state_arg);
    let (_, state, t) = match common::open_and_resolve(state_arg, &c.scenario, color) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let lab = t.scenario.name.value.clone();
    let recorded = match crate::ops::lab::recorded_of(&state, &lab) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    use crate::plan::kind;
    // A point-to-point link has no bridge to watch.
    if recorded.iter().any(|r| r.id.kind == kind::P2P && r.id.name == c.net) {
        return fail(&format!(
            "net {} is a point-to-point link without a bridge: capture on one end, \
             `vnx exec {lab} -M NODE -- tcpdump -i ethN`",
            c.net
        ));
    }
    let nets: Vec<_> = recorded.iter().filter(|r| r.id.kind == kind::NET).collect();
    let Some(net) = nets.iter().find(|r| r.id.name == c.net) else {
        let names: Vec<&str> = nets.iter().map(|r| r.id.name.as_str()).collect();
        return fail(&format!("{lab} has no net named {} (its nets: {})", c.net, names.join(", ")));
    };
    let net: vnx_providers::kinds::net::Attrs = match net.typed() {
        Ok(n) => n,
        Err(e) => return fail(&e.to_string()),
    };
    let bridge = net.bridge.as_str();
    let mut cmd = match net.host_netns.as_deref() {
        Some(ns) => {
            let mut cmd = std::process::Command::new("nsenter");
            cmd.arg(format!("--net=/run/netns/{ns}")).arg("tcpdump");
            cmd
        }
        None => std::process::Command::new("tcpdump"),
    };
    cmd.args(["-i", bridge]);
    if let Some(w) = &c.write {
        // Packets to the file as they come (and a file a reader can follow), none held in the
        // kernel's ring when the capture stops.
        cmd.args(["--immediate-mode", "-U", "-w"]).arg(w);
    }
    cmd.args(&c.tcpdump);
    eprintln!(
        "vnx: capturing on net {} (bridge {bridge}){}",
        c.net,
        c.write.as_ref().map_or(String::new(), |w| format!(" into {}", w.display()))
    );
    let err = cmd.exec();
    fail(&format!("cannot run tcpdump: {err} (install it: apt-get install tcpdump)"))
}
