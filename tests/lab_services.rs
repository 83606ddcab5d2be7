//! What runs inside nodes: routing daemons (FRR) in `ns` nodes, side by side, each with its own
//! configuration, run directory, sockets and log; OSPF converging, rerouting around a link taken
//! down, and coming back.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::lab::TestHost;

/// Polls `cond` every 100 ms for at most `limit`; how long it took, or None.
fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// An example (`examples/EX.yaml` and its folder `examples/EX/`) copied into the test's folder
/// under the lab name `name`, its text changed by `edit`; the copy's path.
fn example(h: &TestHost, ex: &str, name: &str, file: &str, edit: impl Fn(String) -> String) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = h.dir.path().join(ex);
    std::fs::create_dir_all(dir.join(ex)).unwrap();
    for f in std::fs::read_dir(src.join(ex)).unwrap().flatten() {
        std::fs::copy(f.path(), dir.join(ex).join(f.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(src.join(format!("{ex}.yaml"))).unwrap();
    let text = edit(text.replace(&format!("name: {ex}\n"), &format!("name: {name}\n")));
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// examples/ospf.yaml under a unique lab name, with net p13 up or not.
fn ospf_lab(h: &TestHost, name: &str, p13_up: bool) -> String {
    let p13 = "{name: p13, mode: virtual_bridge}";
    let file = if p13_up { "ospf.yaml" } else { "ospf-p13-down.yaml" };
    example(h, "ospf", name, file, |text| {
        assert!(text.contains(p13));
        if p13_up {
            text
        } else {
            text.replace(p13, "{name: p13, mode: virtual_bridge, up: false}")
        }
    })
}

fn pings(h: &TestHost, lab: &str, node: &str, to: &str) -> bool {
    h.vnx(&["exec", lab, "-M", node, "--", "ping", "-c1", "-W1", to]).status.success()
}

/// The next hop `node` takes towards `to`.
fn via(h: &TestHost, lab: &str, node: &str, to: &str) -> String {
    let out = h.vnx(&["exec", lab, "-M", node, "--", "ip", "route", "get", to]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().skip_while(|w| *w != "via").nth(1).unwrap_or("").to_string()
}

#[test]
fn ospf_finds_every_route_reroutes_around_a_link_down_and_comes_back() {
    let h = TestHost::new();
    let lab = h.unique("ospf");
    let file = ospf_lab(&h, &lab, true);
    h.vnx_ok(&["apply", &file, "--auto-approve"]);
    // No static route between the routers: OSPF makes every host reach every other.
    let pairs = [("h1", "10.0.3.10"), ("h3", "10.0.1.10"), ("h1", "10.0.23.2"), ("h3", "10.0.12.2")];
    // Converged: every pair reaches, and r1 takes the direct link to h3's LAN (OSPF may first
    // learn the way through r2, before p13's adjacency is full: a CI run saw that).
    let took = within(Duration::from_secs(60), || {
        pairs.iter().all(|(n, a)| pings(&h, &lab, n, a)) && via(&h, &lab, "r1", "10.0.3.10") == "10.0.13.3"
    });
    let took = took.unwrap_or_else(|| {
        panic!(
            "OSPF did not converge on the direct link in 60 s: {:?}",
            h.vnx_ok(&["exec", &lab, "-M", "r1", "--", "ip", "route"])
        )
    });
    eprintln!("OSPF converged {:.1} s after the apply returned", took.as_secs_f64());

    // p13 down (an edit of the scenario, applied): r1 goes through r2, and h1 still reaches h3.
    let down = ospf_lab(&h, &lab, false);
    h.vnx_ok(&["apply", &down, "--auto-approve"]);
    let took = within(Duration::from_secs(30), || {
        via(&h, &lab, "r1", "10.0.3.10") == "10.0.12.2" && pings(&h, &lab, "h1", "10.0.3.10")
    });
    eprintln!("rerouted through r2 in {:?}", took.expect("OSPF did not reroute through r2"));
    // Back up: the direct path again.
    h.vnx_ok(&["apply", &file, "--auto-approve"]);
    let took = within(Duration::from_secs(30), || {
        via(&h, &lab, "r1", "10.0.3.10") == "10.0.13.3" && pings(&h, &lab, "h1", "10.0.3.10")
    });
    eprintln!("back on the direct link in {:?}", took.expect("OSPF did not come back to the direct link"));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
}

#[test]
fn ten_frr_routers_run_side_by_side_each_with_its_own_files() {
    let h = TestHost::new();
    let lab = h.unique("frr10");
    let dir = h.dir.path().join("frr10");
    std::fs::create_dir_all(&dir).unwrap();
    let daemons = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ospf/daemons");
    // A chain of ten routers, r{i} and r{i+1} on net c{i}, each with a LAN of its own.
    let mut y = format!("name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n");
    for i in 0..10 {
        y.push_str(&format!("  - {{name: lan{i}, mode: virtual_bridge}}\n"));
        if i < 9 {
            y.push_str(&format!("  - {{name: c{i}, mode: virtual_bridge}}\n"));
        }
    }
    y.push_str("nodes:\n");
    for i in 0..10 {
        let mut ifs = format!("      - {{id: 1, net: lan{i}, ipv4: [10.1.{i}.1/24]}}\n");
        let mut ospf_ifs = String::new();
        if i > 0 {
            ifs.push_str(&format!("      - {{id: 2, net: c{}, ipv4: [10.2.{}.2/24]}}\n", i - 1, i - 1));
            ospf_ifs.push_str("interface eth2\n ip ospf hello-interval 1\n ip ospf dead-interval 3\n!\n");
        }
        if i < 9 {
            ifs.push_str(&format!("      - {{id: 3, net: c{i}, ipv4: [10.2.{i}.1/24]}}\n"));
            ospf_ifs.push_str("interface eth3\n ip ospf hello-interval 1\n ip ospf dead-interval 3\n!\n");
        }
        let conf = format!(
            "frr defaults traditional\nhostname r{i}\nlog file /var/log/frr/frr.log\n!\n{ospf_ifs}router ospf\n ospf router-id 10.255.0.{i}\n timers throttle spf 0 50 1000\n network 10.0.0.0/8 area 0\n!\n"
        );
        std::fs::write(dir.join(format!("r{i}.conf")), conf).unwrap();
        y.push_str(&format!(
            "  - name: r{i}\n    type: ns\n    forwarding: ip\n    interfaces:\n{ifs}    filetrees:\n      - {{seq: on_boot, root: /etc/frr/daemons, source: {}}}\n      - {{seq: on_boot, root: /etc/frr/frr.conf, source: r{i}.conf}}\n    execs:\n      - {{seq: on_boot, command: chown -R frr:frr /etc/frr && /usr/lib/frr/frrinit.sh start}}\n",
            daemons.display()
        ));
    }
    let file = dir.join("frr10.yaml");
    std::fs::write(&file, y).unwrap();
    let host_run_frr = std::fs::read_dir("/run/frr").map(|d| d.count()).ok();
    h.vnx_ok(&["apply", file.to_str().unwrap(), "--auto-approve"]);

    // Each router's daemons are its own: pid files name processes of its own PID namespace
    // (zebra, ospfd), its zebra socket and vty sockets are in its own /run/frr, its log names it.
    for i in 0..10 {
        let node = format!("r{i}");
        let script =
            "for d in zebra ospfd watchfrr; do p=$(cat /run/frr/$d.pid) && echo \"$d $(cat /proc/$p/comm)\"; done; \
                      test -S /run/frr/zserv.api && test -S /run/frr/zebra.vty && echo sockets; \
                      grep -c . /var/log/frr/frr.log >/dev/null && echo log; hostname; \
                      ls /proc | grep -c '^[0-9]'";
        let out = h.vnx_ok(&["exec", &lab, "-M", &node, "--", "sh", "-c", script]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(&lines[..5], ["zebra zebra", "ospfd ospfd", "watchfrr watchfrr", "sockets", "log"], "{node}: {out}");
        assert_eq!(lines[5], node);
        // Only this router's processes are in its PID namespace (init, the shell, its daemons).
        let procs: usize = lines[6].parse().unwrap();
        assert!(procs < 15, "{node} sees {procs} processes: another router's daemons among them?");
        let vty = h.vnx_ok(&["exec", &lab, "-M", &node, "--", "vtysh", "-c", "show running-config"]);
        assert!(vty.contains(&format!("hostname {node}")), "{node}'s vtysh reaches another router: {vty}");
    }
    // The host's own /run/frr is as it was.
    assert_eq!(std::fs::read_dir("/run/frr").map(|d| d.count()).ok(), host_run_frr);
    // And they route together: r0 reaches r9's LAN over eight routers.
    let took = within(Duration::from_secs(60), || pings(&h, &lab, "r0", "10.1.9.1"));
    eprintln!("ten routers converged in {:?}", took.expect("r0 never reached r9's LAN"));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
}

/// IPv4 addresses of `ifname` in `node`.
fn v4_of(h: &TestHost, lab: &str, node: &str, ifname: &str) -> Vec<String> {
    let out = h.vnx(&["exec", lab, "-M", node, "--", "ip", "-4", "-o", "addr", "show", "dev", ifname]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1).map(String::from))
        .collect()
}

/// `<ipv4>dhcp</ipv4>` and `dhcp,A.B.C.D` on ns nodes: each client (dhclient, in the node) gets
/// a lease from a server in the lab (dnsmasq in another node), the one that asks gets its
/// address; a plan afterwards sees no drift; removing DHCP from an interface stops its client.
#[test]
fn dhcp_clients_in_nodes_lease_from_a_server_in_the_lab() {
    let h = TestHost::new();
    let lab = h.unique("dhcp");
    let server = "dnsmasq --port=0 --user=root --interface=eth1 --bind-interfaces --no-ping \
                  --dhcp-range=10.0.5.50,10.0.5.60,255.255.255.0,1h --pid-file=/run/dnsmasq.pid \
                  --dhcp-leasefile=/run/dnsmasq.leases";
    // c1's MAC is fixed: dnsmasq picks a free client's first offer by a hash of its MAC
    // (10.0.5.57 for this one), and a random MAC hashed to 10.0.5.55, c2's address, one time in
    // eleven.
    let y = |c2: &str| {
        format!(
            "name: {lab}\nversion: '2.0'\nmgmt: {{type: none}}\nnets:\n  - {{name: lan, mode: virtual_bridge}}\nnodes:\n\
             \x20 - name: srv\n    type: ns\n    interfaces: [{{id: 1, net: lan, ipv4: [10.0.5.1/24]}}]\n    execs: [{{seq: on_boot, command: '{server}'}}]\n\
             \x20 - {{name: c1, type: ns, interfaces: [{{id: 1, net: lan, mac: '02:fd:00:00:01:01', ipv4: [dhcp]}}]}}\n\
             \x20 - {{name: c2, type: ns, interfaces: [{{id: 1, net: lan, ipv4: ['{c2}']}}]}}\n"
        )
    };
    let file = h.dir.path().join("dhcp.yaml");
    std::fs::write(&file, y("dhcp,10.0.5.55")).unwrap();
    let file = file.to_str().unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    let in_range = |a: &str| {
        a.strip_prefix("10.0.5.")
            .and_then(|x| x.strip_suffix("/24"))
            .and_then(|x| x.parse::<u8>().ok())
            .is_some_and(|x| (50..=60).contains(&x))
    };
    let took = within(Duration::from_secs(30), || {
        v4_of(&h, &lab, "c1", "eth1").iter().any(|a| in_range(a)) && v4_of(&h, &lab, "c2", "eth1") == ["10.0.5.55/24"]
    });
    let took = took.unwrap_or_else(|| {
        panic!("no leases in 30 s: c1 {:?}, c2 {:?}", v4_of(&h, &lab, "c1", "eth1"), v4_of(&h, &lab, "c2", "eth1"))
    });
    eprintln!("leased in {took:?}: c1 {:?}", v4_of(&h, &lab, "c1", "eth1"));
    // vnx show and vnx output report the lease.
    let show = h.show(&lab);
    let c2 = show["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "c2").unwrap();
    assert_eq!(c2["interfaces"][0]["addresses"], serde_json::json!(["10.0.5.55/24"]), "{c2}");
    let out = h.vnx_ok(&["output", &lab]);
    assert!(out.contains("10.0.5.55"), "{out}");
    h.vnx_ok(&["exec", &lab, "-M", "c1", "--", "ping", "-c1", "-W2", "10.0.5.1"]);
    // The leases are the kernel's, not drift.
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    // c2 given a static address instead: its client goes (the lease is released), the address is set.
    std::fs::write(h.dir.path().join("dhcp.yaml"), y("10.0.5.9/24")).unwrap();
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    // (Live ones: the killed client may linger a moment as a zombie until the node's init reaps it.)
    let clients = h.vnx_ok(&[
        "exec",
        &lab,
        "-M",
        "c2",
        "--",
        "sh",
        "-c",
        "ps -eo stat=,comm= | awk '$2 == \"dhclient\" && $1 !~ /Z/' | wc -l",
    ]);
    assert_eq!(clients.trim(), "0");
    assert_eq!(v4_of(&h, &lab, "c2", "eth1"), ["10.0.5.9/24"]);
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
}

/// examples/bgp.yaml: two ASes whose border routers speak eBGP (FRR's bgpd) and announce their
/// LANs; the hosts of one reach the other's with no static route between them.
#[test]
fn the_bgp_example_joins_two_ases() {
    let h = TestHost::new();
    let lab = h.unique("bgp");
    let file = example(&h, "bgp", &lab, "bgp.yaml", |t| t);
    h.vnx_ok(&["apply", &file, "--auto-approve"]);
    let took =
        within(Duration::from_secs(60), || pings(&h, &lab, "ha", "10.2.2.10") && pings(&h, &lab, "hb", "10.1.1.10"));
    eprintln!("eBGP joined the ASes in {:?}", took.expect("the hosts never reached each other over BGP"));
    let summary = h.vnx_ok(&["exec", &lab, "-M", "a1", "--", "vtysh", "-c", "show ip route bgp"]);
    assert!(summary.contains("10.2.2.0/24"), "a1 learnt b1's LAN over BGP: {summary}");
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
}

/// A corpus scenario with a plugin (`plugins/NAME.xml` and its `NAME-conf.xml`) copied into the
/// test's folder under a unique name, its nodes mapped to `ns`: (its path, its lab name).
fn plugin_example(h: &TestHost, name: &str) -> (String, String) {
    let src = common::corpus().join("plugins");
    let (path, lab) = h.scenario_from(&src.join(format!("{name}.xml")));
    let conf = format!("{name}-conf.xml");
    std::fs::copy(src.join(&conf), path.parent().unwrap().join(&conf)).unwrap();
    (path.to_str().unwrap().to_string(), lab)
}

const MAP: [&str; 4] = ["--map", "libvirt=ns", "--map", "uml=ns"];

/// VNX's dhcp plugin (the corpus' example, nodes mapped to ns): r1 serves two subnets
/// (dnsmasq), r2 relays lan2's requests to it; h1 leases from lan1's range directly, h2 from
/// lan2's through the relay, and reaches h1 through the routers its lease names; a plan
/// afterwards has nothing to do. Then h2 given the MAC of the conf's fixed host gets the fixed
/// address; a range changed in the conf changes the server in place; a server killed by hand
/// is drift that apply restarts.
#[test]
fn the_dhcp_plugin_serves_relays_and_gives_the_fixed_host_its_address() {
    let h = TestHost::new();
    let (file, lab) = plugin_example(&h, "example_dhcp-plugin");
    let apply = |f: &str| h.vnx_ok(&[&["apply", f, "--auto-approve"][..], &MAP].concat());
    apply(&file);
    let in_range = |a: &str, net: &str, lo: u8, hi: u8| {
        a.strip_prefix(net)
            .and_then(|x| x.strip_suffix("/24"))
            .and_then(|x| x.parse::<u8>().ok())
            .is_some_and(|x| (lo..=hi).contains(&x))
    };
    let leased =
        |node: &str, net: &str, lo: u8, hi: u8| v4_of(&h, &lab, node, "eth1").iter().any(|a| in_range(a, net, lo, hi));
    let took = within(Duration::from_secs(60), || leased("h1", "10.0.1.", 10, 20) && leased("h2", "10.0.2.", 10, 20));
    let took = took.unwrap_or_else(|| {
        panic!("no leases in 60 s: h1 {:?}, h2 {:?}", v4_of(&h, &lab, "h1", "eth1"), v4_of(&h, &lab, "h2", "eth1"))
    });
    eprintln!("h1 leased directly, h2 through the relay, in {took:?}");
    let h1 = v4_of(&h, &lab, "h1", "eth1")[0].trim_end_matches("/24").to_string();
    assert!(pings(&h, &lab, "h2", &h1), "h2 reaches h1 through r2 and r1 (its lease's router)");
    let plan = h.vnx(&[&["plan", &file, "--detailed-exitcode"][..], &MAP].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // h2 with the fixed host's MAC: its new interface asks again and gets 10.0.2.28.
    let text = std::fs::read_to_string(&file).unwrap();
    let fixed =
        text.replacen("<if id=\"1\" net=\"lan2\">", "<if id=\"1\" net=\"lan2\"><mac>AA:BB:CC:DD:EE:FF</mac>", 1);
    assert_ne!(fixed, text);
    std::fs::write(&file, fixed).unwrap();
    apply(&file);
    let got = within(Duration::from_secs(60), || v4_of(&h, &lab, "h2", "eth1") == ["10.0.2.28/24"]);
    assert!(got.is_some(), "the fixed host's address: h2 has {:?}", v4_of(&h, &lab, "h2", "eth1"));

    // lan1's range changed in the conf: the server changes in place, the lab stays.
    let conf = Path::new(&file).parent().unwrap().join("example_dhcp-plugin-conf.xml");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, text.replace("<last>10.0.1.20</last>", "<last>10.0.1.30</last>")).unwrap();
    let plan = String::from_utf8_lossy(&h.vnx(&[&["plan", &file][..], &MAP].concat()).stdout).into_owned();
    assert!(plan.contains("service.r1/dhcp-server will be updated in place"), "{plan}");
    assert!(plan.contains("0 to add, 1 to change, 0 to destroy"), "{plan}");
    apply(&file);
    let conf_in_r1 = h.vnx_ok(&["exec", &lab, "-M", "r1", "--", "cat", "/etc/vnx/dhcp-server.conf"]);
    assert!(conf_in_r1.contains("dhcp-range=set:s0,10.0.1.10,10.0.1.30,255.255.255.0"), "{conf_in_r1}");

    // The server killed by hand: drift, and apply starts it again.
    h.vnx_ok(&["exec", &lab, "-M", "r1", "--", "sh", "-c", "kill $(cat /run/vnx-dhcp-server.pid)"]);
    let plan = String::from_utf8_lossy(&h.vnx(&[&["plan", &file][..], &MAP].concat()).stdout).into_owned();
    assert!(plan.contains("service.r1/dhcp-server"), "{plan}");
    apply(&file);
    let plan = h.vnx(&[&["plan", &file, "--detailed-exitcode"][..], &MAP].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
}

/// VNX's ospf plugin (the corpus' example, nodes mapped to ns) on FRR: the routers have no
/// static route to each other's LAN; OSPF gives them one and h1 reaches h2.
#[test]
fn the_ospf_plugin_runs_on_frr_and_its_routes_appear() {
    let h = TestHost::new();
    let (file, lab) = plugin_example(&h, "example_ospf-plugin");
    let out = h.vnx(&[&["apply", &file, "--auto-approve"][..], &MAP].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FRR"), "the Quagga note");
    let took = within(Duration::from_secs(90), || pings(&h, &lab, "h1", "10.0.2.2"));
    let routes = h.vnx(&["exec", &lab, "-M", "r1", "--", "vtysh", "-c", "show ip route ospf"]);
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    let took = took.unwrap_or_else(|| panic!("h1 never reached h2; r1's OSPF routes:\n{routes}"));
    eprintln!("OSPF converged in {took:?}");
    assert!(routes.contains("10.0.2.0/24"), "{routes}");
    // FRR writes nothing back: a plan has nothing to do.
    let plan = h.vnx(&[&["plan", &file, "--detailed-exitcode"][..], &MAP].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
}

/// `<mgmt_net config="dhcp">` on ns nodes: the management address is leased from a server on
/// the management net (here dnsmasq in the test's host namespace, on the bridge vnx made);
/// and `<ipv6>dhcp</ipv6>`: a DHCPv6 lease from a server in the lab.
#[test]
fn the_management_net_and_ipv6_lease_by_dhcp() {
    let h = TestHost::new();
    let lab = h.unique("mdhcp");
    let bridge = format!("vm{}", std::process::id() % 1_000_000);
    let v6server = "dnsmasq --port=0 --user=root --interface=eth1 --bind-interfaces \
                    --dhcp-range=2001:db8:5::50,2001:db8:5::60,64,1h --pid-file=/run/dnsmasq6.pid \
                    --dhcp-leasefile=/run/dnsmasq6.leases";
    let y = format!(
        "name: {lab}\nversion: '2.0'\nmgmt: {{type: net, network: 10.251.0.0, mask: 24, mgmt_net: {{net: {bridge}, config: dhcp}}}}\n\
         nets:\n  - {{name: lan, mode: virtual_bridge}}\nnodes:\n\
         \x20 - name: srv\n    type: ns\n    interfaces: [{{id: 1, net: lan, ipv6: ['2001:db8:5::1/64']}}]\n    execs: [{{seq: on_boot, command: '{v6server}'}}]\n\
         \x20 - {{name: c1, type: ns, interfaces: [{{id: 1, net: lan, ipv6: [dhcp]}}]}}\n"
    );
    let file = h.dir.path().join("mdhcp.yaml");
    std::fs::write(&file, y).unwrap();
    let file = file.to_str().unwrap();
    let out = h.vnx_ok(&["plan", file]);
    assert!(out.contains("dhcp.c1/0/ipv4") && out.contains("dhcp.srv/0/ipv4"), "management clients: {out}");
    h.vnx_ok(&["apply", file, "--auto-approve"]);
    // The management net's server: dnsmasq in the host namespace, on vnx's bridge.
    let pidfile = h.dir.path().join("mgmt-dnsmasq.pid");
    let srv = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", h.netns))
        .args(["dnsmasq", "--port=0", "--user=root", "--bind-interfaces", "--dhcp-leasefile=/dev/null"])
        .arg(format!("--interface={bridge}"))
        .arg("--dhcp-range=10.251.0.100,10.251.0.120,255.255.255.0,1h")
        .arg(format!("--pid-file={}", pidfile.display()))
        .status()
        .unwrap();
    assert!(srv.success());
    let stop = || {
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    };
    let mgmt_leased = |node: &str| v4_of(&h, &lab, node, "eth0").iter().any(|a| a.starts_with("10.251.0.1"));
    let v6_of = |node: &str| {
        let out = h
            .vnx(&["exec", &lab, "-M", node, "--", "ip", "-6", "-o", "addr", "show", "dev", "eth1", "scope", "global"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let took = within(Duration::from_secs(60), || {
        mgmt_leased("c1") && mgmt_leased("srv") && v6_of("c1").contains("2001:db8:5::")
    });
    if took.is_none() {
        stop();
        panic!(
            "c1 eth0 {:?}, srv eth0 {:?}, c1 IPv6 {}",
            v4_of(&h, &lab, "c1", "eth0"),
            v4_of(&h, &lab, "srv", "eth0"),
            v6_of("c1")
        );
    }
    let plan = h.vnx(&["plan", file, "--detailed-exitcode"]);
    stop();
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    h.vnx_ok(&["destroy", &lab, "--auto-approve"]);
    assert!(h.leftovers().is_empty(), "{:?}", h.leftovers());
}
