//! The command line as people read it: `--help` of every command, topology maps of the
//! tutorial, and VNX's own flags walked through on a real lab.

mod common;

use clap::CommandFactory;
use common::corpus;
use common::lab::TestHost;

fn all_helps(cmd: &mut clap::Command, path: String, out: &mut Vec<(String, String)>) {
    let help = cmd.render_long_help().to_string();
    out.push((path.clone(), help));
    for sub in cmd.get_subcommands_mut() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{path} {}", sub.get_name());
        all_helps(sub, name, out);
    }
}

/// One rule for every command: what reports a result takes `--json`; what shows a plan before
/// it changes the lab asks, and takes `--auto-approve`. The exceptions are named, with why.
#[test]
fn json_and_auto_approve_follow_one_rule() {
    // Their output is not a report: a file, a stream, a terminal, or nothing but a message.
    let no_report = [
        "capture",
        "completions",
        "agent",
        "console",
        "convert",
        "exec",
        "force-unlock",
        "graph",
        "init",
        "man",
        "schema",
        "state",
        "state rm",
        // Groups of subcommands, and removals that say one line.
        "rootfs",
        "rootfs rm",
        "image",
        "image rm",
    ];
    let asks = ["apply", "destroy", "modify"];
    let mut cmd = vnx::cli::Cli::command();
    cmd.build();
    let mut checked = 0;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        for (path, c) in std::iter::once((sub.get_name().to_string(), sub))
            .chain(sub.get_subcommands().map(|s| (format!("{} {}", sub.get_name(), s.get_name()), s)))
        {
            if c.is_hide_set() || c.get_name() == "help" {
                continue;
            }
            let has = |flag: &str| c.get_arguments().any(|a| a.get_long() == Some(flag));
            if !no_report.contains(&path.as_str()) {
                assert!(has("json"), "vnx {path} reports a result but has no --json");
            }
            assert_eq!(has("auto-approve"), asks.contains(&path.as_str()), "vnx {path}: --auto-approve");
            checked += 1;
        }
    }
    assert!(checked > 25, "{checked}");
}

#[test]
fn help_of_every_command() {
    let mut cmd = vnx::cli::Cli::command().term_width(100);
    cmd.build();
    let mut helps = Vec::new();
    all_helps(&mut cmd, "vnx".into(), &mut helps);
    assert!(helps.len() > 20);
    for (path, help) in helps {
        assert!(help.len() > 40, "{path}: {help}");
        insta::assert_snapshot!(format!("help {path}").replace(' ', "_"), help);
    }
}

#[test]
fn maps_of_the_tutorial() {
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    for format in ["dot", "mermaid"] {
        let out = std::process::Command::new(common::vnx_bin())
            .args(["graph", "--format", format])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        for n in ["h1", "h2", "h3", "h4", "r1", "r2", "Net0", "Net3", "10.1.3.2/24"] {
            assert!(text.contains(n), "{format}: {n} missing");
        }
        insta::assert_snapshot!(format!("graph_{format}"), text);
    }
    // VNX's --show-map: a PNG in a file of its own, opened where there is a display; drawn by
    // vnx itself, with nothing on PATH (no Graphviz).
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::vnx_bin())
        .arg("-f")
        .arg(&file)
        .arg("--show-map")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TMPDIR", dir.path())
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("there is no display here"), "{said}");
    let path = said.split(" is in ").nth(1).and_then(|r| r.split(": open it").next()).unwrap();
    assert!(path.starts_with(dir.path().to_str().unwrap()) && path.ends_with("tutorial_lxc_ubuntu.png"), "{path}");
    let png = std::fs::read(path).unwrap();
    let (w, h) = png_size(&png);
    assert!(w > 800 && h > 500, "a picture of the tutorial: {w}x{h}");
    // --format png and svg likewise, without Graphviz.
    for (format, magic) in [("png", &b"\x89PNG"[..]), ("svg", &b"<svg"[..])] {
        let to = dir.path().join(format!("map.{format}"));
        let out = std::process::Command::new(common::vnx_bin())
            .args(["graph", "--format", format, "-o"])
            .arg(&to)
            .arg(&file)
            .env("PATH", dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&to).unwrap().starts_with(magic), "{format}");
    }
}

/// Width and height of a PNG, from its header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn vnx_flags_walk_through_the_tutorial() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    // vnx -f FILE -v --create
    let out = host.vnx(&["-f", f, "-v", "--create"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `vnx apply"), "says the new command");
    // vnx -f FILE -v -x ls12 -M h2
    let out = host.vnx_ok(&["-f", f, "-v", "-x", "ls12", "-M", "h2"]);
    assert!(out.lines().filter(|l| l.starts_with("h2 | total")).count() == 2, "{out}");
    // vnx -f FILE --show-status
    let out = host.vnx_ok(&["-f", f, "--show-status"]);
    assert!(out.contains("h1") && out.contains("running"), "{out}");
    // vnx -f FILE --shutdown -M h3, --show-status says so, --start brings it back.
    let out = host.vnx(&["-f", f, "--shutdown", "-M", "h3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `vnx shutdown"), "says the new command");
    let out = host.vnx_ok(&["-f", f, "--show-status"]);
    let h3 = out.lines().find(|l| l.trim_start().starts_with("h3")).unwrap_or_default();
    assert!(h3.contains("shutoff"), "{out}");
    host.vnx_ok(&["-f", f, "--start", "-M", "h3"]);
    assert!(host.ping_from(&name, "h1", &["10.1.2.2"]).is_empty(), "h3 is back");
    // The whole lab down, then destroyed from there.
    host.vnx_ok(&["-f", f, "--shutdown"]);
    let out = host.vnx_ok(&["-f", f, "--show-status"]);
    assert!(!out.contains("running"), "{out}");
    // vnx -f FILE -v --destroy
    host.vnx_ok(&["-f", f, "-v", "--destroy"]);
    assert!(host.vnx_ok(&["list"]).contains("No scenario"), "{name} destroyed");
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

#[test]
fn init_writes_a_starter_that_runs_and_output_prints_addresses() {
    let host = TestHost::new();
    let name = host.unique("starter");
    let file = host.dir.path().join(format!("{name}.yaml"));
    let f = file.to_str().unwrap();
    host.vnx_ok(&["init", f]);
    assert!(host.vnx(&["init", f]).status.code() == Some(1), "init never overwrites");
    let xml = host.dir.path().join("starter.xml");
    host.vnx_ok(&["init", xml.to_str().unwrap()]);
    host.vnx_ok(&["validate", f, xml.to_str().unwrap()]);
    host.vnx_ok(&["apply", f, "--auto-approve"]);
    // vnx diff: nothing since the apply; then an edited file shows the edit.
    assert_eq!(host.vnx(&["diff", &name]).status.code(), Some(0));
    let edited = std::fs::read_to_string(&file).unwrap().replace("10.0.2.10/24", "10.0.2.11/24");
    let other = host.dir.path().join("edited.yaml");
    std::fs::write(&other, edited).unwrap();
    let out = host.vnx(&["diff", &name, other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let d = String::from_utf8_lossy(&out.stdout);
    assert!(d.contains("-") && d.contains("+") && d.contains("10.0.2.11/24") && d.contains("10.0.2.10/24"), "{d}");
    let out = host.vnx_ok(&["exec", &name, "hello"]);
    assert!(out.contains("h1 | hello from h1") && out.contains("h2 | hello from h2"), "{out}");
    assert!(host.ping_from(&name, "h1", &["10.0.2.10"]).is_empty());
    // show as CSV, and one node in detail.
    let csv = host.vnx_ok(&["show", &name, "--format", "csv"]);
    assert!(csv.starts_with("scenario,node,state,pid,interface,net,addresses\n"), "{csv}");
    assert!(csv.lines().any(|l| l.contains(",h1,running,") && l.ends_with(",eth1,lan1,10.0.1.10/24")), "{csv}");
    let detail: serde_json::Value =
        serde_json::from_str(&host.vnx_ok(&["show", &name, "--node", "h1", "--json"])).unwrap();
    assert_eq!(detail["routes"][0]["gw"], "10.0.1.1");
    assert!(
        detail["processes"].as_array().unwrap().iter().any(|p| p["command"] == "vnx-init"),
        "the node's init: {detail}"
    );
    assert!(detail["journal"].as_array().unwrap().iter().any(|j| j["action"] == "create"), "{detail}");
    let text = host.vnx_ok(&["show", &name, "--node", "r1"]);
    assert!(text.contains("Interfaces:") && text.contains("eth2") && text.contains("Recent journal:"), "{text}");
    // The show table, with what changes from run to run (the unique name, pids) masked.
    host.vnx_ok(&["shutdown", &name, "-M", "h2"]);
    let mask = |table: String| -> String {
        table
            .replace(&name, "NAME")
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .map(|w| match w {
                        _ if w.len() > 2 && w.chars().all(|c| c.is_ascii_digit()) => "PID",
                        _ if w.len() == 10 && w.starts_with("vb") => "BRIDGE",
                        _ => w,
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!("show_table_starter", mask(host.vnx_ok(&["show", &name])));
    host.vnx_ok(&["start", &name, "-M", "h2"]);
    // An address removed by hand: show reads what is there and marks what differs.
    host.vnx_ok(&["exec", &name, "-M", "h1", "--", "ip", "addr", "flush", "dev", "eth1"]);
    insta::assert_snapshot!("show_drift_starter", mask(host.vnx_ok(&["show", &name])));
    let json: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["show", &name, "--json"])).unwrap();
    assert_eq!(json["drift"][0]["address"], "addresses.h1/1", "{json}");
    let h1 = json["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "h1").unwrap();
    assert!(h1["drift"] == true && h1["interfaces"][0]["addresses"] == serde_json::json!([]), "{h1}");
    let recorded: serde_json::Value =
        serde_json::from_str(&host.vnx_ok(&["show", &name, "--json", "--refresh=false"])).unwrap();
    assert_eq!(recorded["drift"], serde_json::json!([]), "--refresh=false shows the record");
    let applied: serde_json::Value =
        serde_json::from_str(&host.vnx_ok(&["apply", &name, "--auto-approve", "--json"])).unwrap();
    assert!(applied["status"] == "ok" && applied["summary"]["change"].as_u64() >= Some(1), "{applied}");
    assert_eq!(applied["plan"]["drift"][0]["address"], "addresses.h1/1", "{applied}");
    assert!(!host.vnx_ok(&["show", &name]).contains('*'), "apply puts it back");
    let vars = host.vnx_ok(&["output", &name]);
    assert!(vars.lines().any(|l| l == "H2=10.0.2.10") && vars.lines().any(|l| l == "R1_ETH2=10.0.2.1"), "{vars}");
    let json: serde_json::Value = serde_json::from_str(&host.vnx_ok(&["output", &name, "--json"])).unwrap();
    assert_eq!(json["h2"]["ipv4"], "10.0.2.10", "{json}");
    assert_eq!(json["r1"]["interfaces"]["eth2"]["ipv4"][0], "10.0.2.1/24", "{json}");
    host.vnx_ok(&["destroy", &name, "--auto-approve"]);
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

#[test]
fn a_closed_pipe_is_no_panic() {
    use std::io::Read;
    // `vnx convert big.yaml --to xml | head -c 16`: output far beyond a pipe's 64 KiB buffer.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let nets: String = (0..5000).map(|i| format!("  - {{name: net{i}, mode: virtual_bridge}}\n")).collect();
    std::fs::write(&big, format!("name: big\nversion: '2.0'\nnets:\n{nets}")).unwrap();
    let mut child = std::process::Command::new(common::vnx_bin())
        .args(["convert", "--to", "xml"])
        .arg(&big)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = child.wait();
    assert!(!err.contains("panicked"), "{err}");
}

/// Headless Chromium on `page` with `extra` arguments; its standard output.
fn chromium(page: &std::path::Path, fragment: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--hide-scrollbars", "--virtual-time-budget=3000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("chromium is installed (Debian package chromium; .ci/deps installs it)");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page measured by Chromium (`#check`) at a window of `w`×`h`: no label overlaps
/// another label or a box (a node, a net, the host), no two boxes overlap, everything is in
/// the window, and no text is under 14 px; a screenshot is kept as `shot` in
/// target/test-artifacts. Returns the number of labels and boxes.
fn check_in_chromium(page: &std::path::Path, w: u32, h: u32, shot: &str) -> (usize, usize) {
    let window = format!("--window-size={w},{h}");
    let dom = chromium(page, "#check", &["--dump-dom".into(), window.clone()]);
    let at = dom.find("<pre id=\"check\">").expect("the page measured itself") + "<pre id=\"check\">".len();
    let json = &dom[at..at + dom[at..].find("</pre>").unwrap()];
    let v: serde_json::Value = serde_json::from_str(&json.replace("&quot;", "\"")).unwrap();
    let rect = |b: &serde_json::Value| -> [f64; 4] { [0, 1, 2, 3].map(|i| b[i].as_f64().unwrap()) };
    let overlap = |a: [f64; 4], b: [f64; 4]| {
        a[0] < b[0] + b[2] - 0.5 && b[0] < a[0] + a[2] - 0.5 && a[1] < b[1] + b[3] - 0.5 && b[1] < a[1] + a[3] - 0.5
    };
    let labels: Vec<(String, [f64; 4])> =
        v["labels"].as_array().unwrap().iter().map(|l| (l["key"].to_string(), rect(&l["box"]))).collect();
    let items: Vec<(String, [f64; 4])> =
        v["items"].as_array().unwrap().iter().map(|l| (l["id"].to_string(), rect(&l["box"]))).collect();
    let view = rect(&v["view"]);
    for (i, (a, ra)) in labels.iter().enumerate() {
        for (b, rb) in labels[i + 1..].iter().chain(items.iter()) {
            assert!(!overlap(*ra, *rb), "{shot}: label {a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    for (i, (a, ra)) in items.iter().enumerate() {
        for (b, rb) in &items[i + 1..] {
            assert!(!overlap(*ra, *rb), "{shot}: {a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    for (a, r) in labels.iter().chain(items.iter()) {
        let inside = r[0] >= view[0] && r[1] >= view[1] && r[0] + r[2] <= view[2] && r[1] + r[3] <= view[3];
        assert!(inside, "{shot}: {a} {r:?} is outside the window {view:?}");
    }
    let text = v["text_min_px"].as_f64().unwrap();
    assert!(text >= 13.99, "{shot}: text at {text} px");
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join(shot);
    let _ = std::fs::remove_file(&shot);
    chromium(page, "", &[format!("--screenshot={}", shot.display()), window]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real picture ({} bytes)", png.len());
    (labels.len(), items.len())
}

/// The html map of a running lab, rendered by headless Chromium: every node and net is drawn
/// with its run state, nothing overlaps, all of it fills a projector's window with text of
/// 14 px or more; a generated 100-node lab likewise (in a window of its picture's size).
#[test]
fn html_map_renders_in_chromium() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    host.vnx_ok(&["shutdown", &name, "-M", "h4"]);
    let page = host.dir.path().join("map.html");
    std::fs::write(&page, host.vnx_ok(&["graph", &name, "--format", "html"])).unwrap();
    let dom = chromium(&page, "", &["--dump-dom".into()]);
    for n in ["h1", "h2", "h3", "r1", "r2"] {
        assert!(dom.contains(&format!(r#"data-name="{n}" data-state="running""#)), "{n} missing or not running");
    }
    assert!(dom.contains(r#"data-name="h4" data-state="shutoff""#), "h4 is shut off");
    for n in ["Net0", "Net1", "Net2", "Net3"] {
        assert!(dom.contains(&format!(r#"data-id="net:{n}""#)), "{n} missing");
    }
    assert!(dom.contains("10.1.3.2/24"), "the host's address is drawn");
    let (labels, items) = check_in_chromium(&page, 1400, 900, "tutorial_lxc_ubuntu-map.png");
    assert_eq!((labels, items), (10, 11), "every interface's label; 6 nodes, 4 nets and the host");

    // 100 nodes: a backbone, 10 routers, each with a LAN of 9 hosts.
    let mut y = String::from("name: hundred\nversion: '2.0'\nnets:\n  - {name: core, mode: virtual_bridge}\n");
    for r in 0..10 {
        y += &format!("  - {{name: lan{r}, mode: virtual_bridge}}\n");
    }
    y += "nodes:\n";
    for r in 0..10 {
        y += &format!("  - {{name: r{r}, type: ns, interfaces: [{{id: 1, net: core, ipv4: [10.0.0.{}/24]}}, {{id: 2, net: lan{r}, ipv4: [10.1.{r}.1/24]}}]}}\n", r + 1);
        for h in 0..9 {
            y += &format!(
                "  - {{name: h{r}{h}, type: ns, interfaces: [{{id: 1, net: lan{r}, ipv4: [10.1.{r}.{}/24]}}]}}\n",
                h + 10
            );
        }
    }
    let lab = host.dir.path().join("hundred.yaml");
    std::fs::write(&lab, y).unwrap();
    let page = host.dir.path().join("hundred.html");
    std::fs::write(&page, host.vnx_ok(&["graph", lab.to_str().unwrap(), "--format", "html"])).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    let attr = |name: &str| -> u32 {
        let at = html.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        html[at..at + html[at..].find('"').unwrap()].parse().unwrap()
    };
    let (w, h) = (attr("width"), attr("height"));
    let (labels, items) = check_in_chromium(&page, w + 40, h + 240, "hundred-map.png");
    assert_eq!((labels, items), (110, 111));
}

/// `vnx graph LAB --serve`: the live page on loopback, its event stream telling each node's
/// and link's state; a node shut down is seen there as shut off, its link down.
#[test]
fn the_live_map_follows_the_lab() {
    use std::io::{BufRead, Read, Write};
    let host = TestHost::new();
    let name = host.unique("live");
    let file = host.dir.path().join("live.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nversion: '2.0'\nnets: [{{name: lan, mode: virtual_bridge}}]\nnodes:\n\
             \x20 - {{name: a, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.0.0.1/24]}}]}}\n\
             \x20 - {{name: b, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.0.0.2/24]}}]}}\n"
        ),
    )
    .unwrap();
    host.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);
    // A free port on loopback, then the server on it (run where the test runs: it reads the
    // lab's state and processes, not its network).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(common::vnx_bin())
        .args(["graph", &name, "--serve", "--port", &port.to_string()])
        .env("VNX_STATE", host.state())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut said).unwrap();
    assert!(said.contains(&format!("http://127.0.0.1:{port}/")), "{said}");
    let get = |path: &str| -> std::net::TcpStream {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        c
    };
    let mut page = String::new();
    get("/").read_to_string(&mut page).unwrap();
    assert!(page.contains("EventSource('/events')") && page.contains(r#"data-id="node:b""#), "{page:.300}");
    let events = get("/events");
    events.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut events = std::io::BufReader::new(events);
    let mut next = || -> serde_json::Value {
        loop {
            let mut line = String::new();
            assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
            if let Some(data) = line.strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    let first = next();
    assert_eq!(first["nodes"]["b"], "running", "{first}");
    assert_eq!(first["links"]["b/1"], "up", "{first}");
    host.vnx_ok(&["shutdown", &name, "-M", "b"]);
    let t0 = std::time::Instant::now();
    let later = next();
    assert_eq!(later["nodes"]["b"], "shutoff", "{later}");
    assert_eq!(later["links"]["b/1"], "down", "{later}");
    assert_eq!(later["nodes"]["a"], "running", "{later}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the change took {:?}", t0.elapsed());
    let _ = server.kill();
    let _ = server.wait();

    // A plan's picture: what it adds, changes and removes, coloured.
    std::fs::write(
        &file,
        format!(
            "name: {name}\nversion: '2.0'\nnets: [{{name: lan, mode: virtual_bridge}}]\nnodes:\n\
             \x20 - {{name: a, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.0.0.9/24]}}]}}\n\
             \x20 - {{name: c, type: ns, interfaces: [{{id: 1, net: lan, ipv4: [10.0.0.3/24]}}]}}\n"
        ),
    )
    .unwrap();
    let svg = host.vnx_ok(&["plan", file.to_str().unwrap(), "--graph", "--format", "svg"]);
    assert!(svg.contains(r#"class="item node create" data-id="node:c""#), "{svg}");
    assert!(svg.contains(r#"class="item node delete" data-id="node:b""#), "{svg}");
    assert!(svg.contains(r#"class="link update" data-key="a/1""#), "{svg}");
    assert!(svg.contains(r#"class="item net " data-id="net:lan""#), "the net is unchanged: {svg}");
    let html = host.vnx_ok(&["plan", file.to_str().unwrap(), "--graph", "--format", "html"]);
    assert!(html.contains("red, dashed: removed") && html.contains(r#"data-id="node:b""#));
}

#[test]
fn plan_graph_draws_the_action_graph() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::vnx_bin())
        .args(["plan", "examples/two-lans.yaml", "--graph"])
        .env("VNX_STATE", dir.path().join("state.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dot = String::from_utf8(out.stdout).unwrap();
    // Each node is created before its interfaces; nets before the interfaces on them.
    assert!(dot.contains("create node.h1") && dot.contains("create net.lan1"));
    insta::assert_snapshot!("plan_graph_two_lans", dot);
}

/// Progress: timestamped lines on a pipe, live bars per phase on a terminal (a pseudo-terminal
/// made by script(1)), nothing but the summary with -q.
#[test]
fn progress_on_a_pipe_and_on_a_terminal() {
    let host = TestHost::new();
    let (file, name) = host.scenario_from(&corpus().join("scenarios/tutorial_lxc_ubuntu.xml"));
    let f = file.to_str().unwrap();
    // A pipe: one line per action, each with its time.
    let out = host.vnx(&["apply", f, "--auto-approve"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.contains("node.h1: created")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.starts_with("20") && line.contains('T') && line.contains("] node.h1"), "{line}");
    assert!(!err.contains('\x1b'), "no escape codes on a pipe");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Apply complete in"));
    // -q: the summary only.
    host.vnx_ok(&["shutdown", &name, "-M", "h1"]);
    let out = host.vnx(&["-q", "start", &name, "-M", "h1"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("node.h1: updated"), "-q prints no action lines");
    // A terminal: bars per phase, no timestamped lines.
    let cmd = format!(
        "VNX_STATE={} VNX_HOSTS_FILE={} nsenter --net=/run/netns/{} {} destroy {name} --auto-approve",
        host.state().display(),
        host.hosts_file().display(),
        host.netns,
        common::vnx_bin()
    );
    let out = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("destroying") && tty.contains("[="), "a destroying bar: {tty}");
    assert!(tty.contains('\x1b'), "the bar is redrawn in place");
    assert!(!tty.contains("node.h1: destroyed ("), "no per-action lines on a terminal");
    assert!(tty.contains("Destroy complete in"));
    assert_eq!(host.leftovers(), Vec::<String>::new());
}

/// `vnx doctor` on this kind of machine: what its kernel has and lacks, as the table says it
/// (tool paths and libvirt's answer masked: they vary).
#[test]
fn doctor_tells_what_this_machine_runs() {
    // Root filesystems from a store of the test's own (empty, then one built); VM images from
    // an empty one (the machine's own has what earlier runs built).
    let (store, images) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let doctor = || {
        std::process::Command::new(common::vnx_bin())
            .arg("doctor")
            .env("VNX_ROOTFS_DIR", store.path())
            .env("VNX_IMAGE_DIR", images.path())
            .output()
            .unwrap()
    };
    let out = doctor();
    let text = String::from_utf8_lossy(&out.stdout)
        .replace(store.path().to_str().unwrap(), "STORE")
        .replace(images.path().to_str().unwrap(), "IMAGES");
    assert_eq!(out.status.code(), Some(0), "{text}");
    let mini = store.path().join("mini");
    std::fs::create_dir_all(mini.join("etc")).unwrap();
    std::fs::write(mini.join(".vnx-rootfs.json"), r#"{"suite": "bookworm", "packages": ["iproute2"]}"#).unwrap();
    let listed = String::from_utf8_lossy(&doctor().stdout).into_owned();
    assert!(listed.contains("mini (bookworm)"), "{listed}");
    let masked: String = text
        .lines()
        .map(|l| {
            // A tool's detail starts with its path (after the status column's two spaces).
            let l = match l.split_once("  /") {
                Some((head, rest)) => format!("{head}  PATH{}", &rest[rest.find(':').unwrap_or(0)..]),
                None => l.to_string(),
            };
            if l.starts_with("libvirt ") {
                "libvirt  (masked)".to_string()
            } else if l.starts_with("kernel limits ") {
                // The machine's figures (threads, memory) change from run to run.
                let (head, detail) = l.split_once(" ok ").unwrap_or((&l, ""));
                assert!(detail.contains("kernel.pid_max") && detail.contains("room for about"), "{l}");
                format!("{head} ok  (masked)")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("doctor", masked);
    let json: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new(common::vnx_bin()).args(["doctor", "--json"]).output().unwrap().stdout,
    )
    .unwrap();
    assert!(json.as_array().unwrap().iter().any(|c| c["check"] == "qdisc netem" && c["status"].is_string()));
}

/// VNX's `--exe-info` (`vnx exec FILE --list`): each sequence, where it runs, its help text.
#[test]
fn exe_info_lists_sequences_with_their_help() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let out = std::process::Command::new(common::vnx_bin())
        .args(["-f", file.to_str().unwrap(), "--exe-info"])
        .env("VNX_STATE", dir.path().join("state.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!("exe_info", String::from_utf8_lossy(&out.stdout));
}

/// `vnx place`: the tutorial over two hosts; min-cut crosses fewer nets than EDIV's round
/// robin, and EDIV's cluster.conf is read with its notes.
#[test]
fn place_the_tutorial_on_two_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(
        &cluster,
        "hosts:\n  - {name: alpha, ssh: root@192.0.2.1, underlay: 192.0.2.1}\n  - {name: bravo, ssh: root@192.0.2.2, underlay: 192.0.2.2}\n",
    )
    .unwrap();
    let file = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let place = |extra: &[&str], cluster: &std::path::Path| {
        let out = std::process::Command::new(common::vnx_bin())
            .arg("place")
            .arg(&file)
            .arg("--cluster")
            .arg(cluster)
            .args(["--json"])
            .args(extra)
            .env_remove("VNX_STATE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (doc, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (min_cut, _) = place(&[], &cluster);
    let (rr, _) = place(&["--strategy", "round-robin"], &cluster);
    assert_eq!(min_cut["nodes"].as_object().unwrap().len(), 6);
    assert_eq!(min_cut["hosts"]["alpha"].as_array().unwrap().len(), 3, "balanced: {min_cut}");
    assert!(
        min_cut["cost"].as_u64() < rr["cost"].as_u64(),
        "min-cut {} vs round robin {}",
        min_cut["cost"],
        rr["cost"]
    );
    // Each net across hosts has a VNI of the range (the default 6000-6999), no two the same.
    let crossing = rr["cross_host_nets"].as_array().unwrap();
    let vnis: std::collections::BTreeSet<u64> = crossing.iter().map(|n| n["vni"].as_u64().unwrap()).collect();
    assert_eq!(vnis.len(), crossing.len(), "{rr}");
    assert!(vnis.iter().all(|v| (6000..=6999).contains(v)), "{vnis:?}");
    // EDIV's restriction rules in the cluster file hold.
    let pinned = dir.path().join("pinned.yaml");
    let text = std::fs::read_to_string(&cluster).unwrap()
        + "constraints:\n  vm_deploy_at: {h1: bravo}\n  antiaffinity: [[r1, r2]]\n";
    std::fs::write(&pinned, text).unwrap();
    let (p, _) = place(&[], &pinned);
    assert_eq!(p["nodes"]["h1"], "bravo", "{p}");
    assert_ne!(p["nodes"]["r1"], p["nodes"]["r2"], "{p}");
    let (ediv, notes) = place(&[], &corpus().join("ediv-cluster.conf"));
    assert_eq!(ediv["strategy"], "round-robin");
    assert!(notes.contains("VXLAN"), "{notes}");
}
