//! `vnx rootfs build|list|rm`: root filesystems for `ns` nodes, made here from Debian's archive
//! (`ops/rootfs.rs`), with the build's steps and package count as it goes.

use std::io::{BufRead, BufReader, IsTerminal};
use std::process::Stdio;

use crate::ops::rootfs;

/// Root filesystems for ns nodes, built from Debian's archive.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx rootfs build rootfs_lxc          (what VNX's tutorials name: a web server, DHCP, FRR, tcpdump)\n  vnx rootfs build mini --packages frr\n  vnx rootfs list\n  vnx rootfs rm mini\n\nA scenario names one by path (/var/lib/vnx/rootfs/NAME) or by NAME: <filesystem type=\"cow\">mini</filesystem>.\nVNX's names (/usr/share/vnx/filesystems/rootfs_lxc*) use the one built as rootfs_lxc."
)]
pub struct RootfsCmd {
    #[command(subcommand)]
    pub what: RootfsWhat,
}

/// What `vnx rootfs build` and `vnx image build` take.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Its name (letters, digits, - _ .).
    pub name: String,
    /// More packages, comma-separated (iproute2, iputils-ping, procps, tcpdump, iptables are
    /// always in).
    #[arg(long, value_delimiter = ',')]
    pub packages: Vec<String>,
    /// The Debian release.
    #[arg(long)]
    pub suite: Option<String>,
    /// A Debian mirror (default: the machine's apt sources).
    #[arg(long)]
    pub mirror: Option<String>,
    /// Build it again even if it is up to date.
    #[arg(long)]
    pub force: bool,
    /// Say the result as JSON (name, path, built or up to date, seconds).
    #[arg(long)]
    pub json: bool,
}

/// Prints built root filesystems or images (`what`), each in `store`, as a list or JSON.
pub fn print_list(all: &[(String, rootfs::Recipe)], store: &std::path::Path, json: bool, what: &str, command: &str) {
    if json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|(n, r)| serde_json::json!({"name": n, "path": store.join(n), "suite": r.suite, "packages": r.packages}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else if all.is_empty() {
        println!("No {what} in {} ({command} build NAME makes one).", store.display());
    } else {
        for (n, r) in all {
            println!("{n:<20} {} ({}, {} packages asked)", store.join(n).display(), r.suite, r.packages.len());
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum RootfsWhat {
    /// Build a Debian root filesystem with mmdebstrap (nothing to do when it is built already
    /// with the same suite and packages).
    Build(BuildArgs),
    /// List the built root filesystems.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a built root filesystem.
    Rm { name: String },
}

pub fn run(c: RootfsCmd) -> i32 {
    match c.what {
        RootfsWhat::Build(b) => build(&b),
        RootfsWhat::List { json } => {
            print_list(&rootfs::list(), &rootfs::store(), json, "root filesystems", "vnx rootfs");
            super::EXIT_OK
        }
        RootfsWhat::Rm { name } => match rootfs::remove(&name) {
            Ok(()) => {
                println!("Removed root filesystem {name}.");
                super::EXIT_OK
            }
            Err(e) => super::fail(&e),
        },
    }
}

/// The step a line of mmdebstrap's output starts, if it starts one.
fn step_of(line: &str) -> Option<&'static str> {
    let l = line.trim_start_matches("I: ");
    [
        ("setting up", "setting up"),
        ("running apt-get update", "reading the archive's package lists"),
        ("downloading packages", "downloading packages"),
        ("extracting archives", "extracting the essential packages"),
        ("installing essential packages", "installing the essential packages"),
        ("installing remaining packages", "installing the other packages"),
        ("running --customize-hook", "keeping the downloaded packages for next time"),
        ("cleaning package lists", "cleaning up"),
    ]
    .iter()
    .find(|(k, _)| l.starts_with(k))
    .map(|(_, v)| *v)
}

/// Runs mmdebstrap, showing its steps and how many packages it fetched and set up (a spinner
/// on a terminal, a line per step elsewhere); those counts, or why it failed.
pub fn run_mmdebstrap(mut cmd: std::process::Command, t0: std::time::Instant) -> Result<(usize, usize), String> {
    let mut child =
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| format!("running mmdebstrap: {e}"))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("template"));
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let (mut step, mut fetched, mut installed) = ("starting", 0usize, 0usize);
    let mut tail: Vec<String> = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("piped")).lines().map_while(Result::ok) {
        if let Some(s) = step_of(&line) {
            if s != step {
                step = s;
                if bar.is_none() {
                    eprintln!("  {:>5.1}s {step}", t0.elapsed().as_secs_f64());
                }
            }
        }
        if line.starts_with("Get:") {
            fetched += 1;
        }
        if line.starts_with("Setting up ") {
            installed += 1;
        }
        if let Some(b) = &bar {
            b.set_message(format!("{step} · {fetched} packages fetched · {installed} set up"));
        }
        tail.push(line);
        if tail.len() > 40 {
            tail.remove(0);
        }
    }
    let status = child.wait();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if status.is_ok_and(|s| s.success()) {
        return Ok((fetched, installed));
    }
    let text = tail.join("\n");
    let offline = [
        "Temporary failure resolving",
        "Could not resolve",
        "Failed to fetch",
        "Unable to connect",
        "Network is unreachable",
    ]
    .iter()
    .any(|m| text.contains(m));
    if offline {
        return Err(format!(
            "the Debian archive cannot be reached (check the network, or give a reachable mirror with --mirror):\n{}",
            tail.iter()
                .filter(|l| l.contains("Fail") || l.contains("resolv") || l.starts_with("E:"))
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    Err(format!("mmdebstrap failed; its last lines:\n{text}"))
}

fn build(b: &BuildArgs) -> i32 {
    let (name, extra, suite, mirror, force, json) =
        (b.name.as_str(), &b.packages, b.suite.as_deref(), b.mirror.as_deref(), b.force, b.json);
    let recipe = match rootfs::recipe(name, suite, extra) {
        Ok(r) => r,
        Err(e) => return super::fail(&e),
    };
    let Ok(target) = rootfs::dir(name) else { return super::fail("bad name") };
    if !force && rootfs::built(name).as_ref() == Some(&recipe) {
        return up_to_date("Root filesystem", name, &target, json);
    }
    if super::doctor::tool("mmdebstrap").is_none() {
        return super::fail(
            "building a root filesystem needs mmdebstrap: apt-get install --no-install-recommends mmdebstrap",
        );
    }
    let cache = rootfs::cache();
    let tmp = rootfs::store().join(format!(".{name}.building-{}", std::process::id()));
    for d in [&cache, &rootfs::store()] {
        if let Err(e) = std::fs::create_dir_all(d) {
            return super::fail(&format!("{}: {e}", d.display()));
        }
    }
    let t0 = std::time::Instant::now();
    eprintln!("Building root filesystem {name}: Debian {} with {}", recipe.suite, recipe.packages.join(", "));
    let (fetched, installed) = match run_mmdebstrap(rootfs::mmdebstrap(&recipe, &tmp, &cache, mirror), t0) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return super::fail(&format!("building {name}: {e}"));
        }
    };
    if let Err(e) = rootfs::finish(&tmp, &recipe) {
        let _ = std::fs::remove_dir_all(&tmp);
        return super::fail(&e);
    }
    let built = Built { fetched, installed, seconds: t0.elapsed().as_secs_f64() };
    put_in_place("root filesystem", name, &tmp, &target, built, json)
}

/// What a build did.
pub struct Built {
    pub fetched: usize,
    pub installed: usize,
    pub seconds: f64,
}

/// Says that `what` (`Root filesystem`, `Image`) `name` in `target` is up to date.
pub fn up_to_date(what: &str, name: &str, target: &std::path::Path, json: bool) -> i32 {
    if json {
        println!("{}", serde_json::json!({"name": name, "path": target, "built": false, "seconds": 0.0}));
    } else {
        println!("{what} {name} is up to date ({}).", target.display());
    }
    super::EXIT_OK
}

/// Puts the build in `work` at `target` (replacing an older one) and says so.
pub fn put_in_place(
    what: &str,
    name: &str,
    work: &std::path::Path,
    target: &std::path::Path,
    b: Built,
    json: bool,
) -> i32 {
    let _ = std::fs::remove_dir_all(target);
    if let Err(e) = std::fs::rename(work, target) {
        let _ = std::fs::remove_dir_all(work);
        return super::fail(&format!("{}: {e}", target.display()));
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"name": name, "path": target, "built": true, "seconds": b.seconds, "fetched": b.fetched})
        );
    } else {
        println!(
            "Built {what} {name} in {:.0} s ({} packages fetched, {} set up): {}",
            b.seconds,
            b.fetched,
            b.installed,
            target.display()
        );
    }
    super::EXIT_OK
}
