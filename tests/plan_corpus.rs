//! The plans of the corpus scenarios, held still: each scenario (as it is, and with every node
//! type mapped to `ns`) planned against an empty record, its `vnx plan --json` document — or,
//! where it cannot run, its refusals — snapshot-tested. A change to how resources are built
//! (the per-kind redesign, a new attribute) shows here, byte for byte. Pure: no root, no kernel.

mod common;

use std::path::Path;

use common::corpus;
use vnx::plan::{self, desired, render};
use vnx::scenario::{self, Document, Report};

/// A host where every file the scenario names exists, at a path that does not depend on where
/// the repository is.
struct EveryFileThere;

impl desired::HostFs for EveryFileThere {
    fn rootfs(&self, path: &str) -> Option<String> {
        Some(path.to_string())
    }
    fn source(&self, source: &str, basedir: Option<&str>) -> Option<String> {
        Some(format!("{}/{source}", basedir.unwrap_or("/scenario")))
    }
    fn file(&self, path: &str) -> Option<String> {
        Some(self.path(path))
    }
    fn path(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/scenario/{path}")
        }
    }
}

/// How a corpus scenario (read from `path`) is planned: as written, or with every node type
/// run as `ns`; its plugins' configurations read beside it.
fn options_for(s: &scenario::Scenario, path: &Path, all_ns: bool) -> desired::Options {
    let mut opts = options(all_ns);
    opts.plugins = s
        .extensions
        .iter()
        .map(|e| scenario::plugin::load(s, e, path.parent().unwrap()).ok().and_then(|l| l.plugin))
        .collect();
    opts
}

fn options(all_ns: bool) -> desired::Options {
    let mut opts = desired::Options { libvirt: true, hosts_file: "/etc/hosts".into(), ..Default::default() };
    if all_ns {
        for t in ["lxc", "nsrouter", "libvirt", "uml", "dynamips"] {
            opts.map.insert(t.into(), "ns".into());
        }
    }
    opts
}

fn corpus_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus().join("scenarios")).unwrap().map(|e| e.unwrap().path()).collect();
    // The plugins' examples (their configuration files beside them are not scenarios).
    files.extend(
        std::fs::read_dir(corpus().join("plugins"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml") && !p.to_string_lossy().ends_with("-conf.xml")),
    );
    files.sort();
    files
}

/// The plan (JSON) of a scenario file, or its refusals rendered.
fn plan_of(path: &Path, all_ns: bool) -> String {
    let loaded = scenario::load(path).unwrap();
    let Some(Document::Scenario(s)) = loaded.doc else { panic!("{}: not a scenario", path.display()) };
    let opts = options_for(&s, path, all_ns);
    let name = format!("corpus/{}", path.file_name().unwrap().to_string_lossy());
    match desired::desired(&s, &opts, &EveryFileThere) {
        Ok((d, _)) => {
            let p = plan::plan(&d, &[], &plan::IdMap::default(), &plan::Options::default());
            serde_json::to_string_pretty(&render::to_json(&p, &s.name.value)).unwrap()
        }
        Err(diags) => {
            let source = scenario::Source::new(name, loaded.report.source.text.to_string());
            format!("REFUSED\n{}", Report { source, diags }.render(false))
        }
    }
}

#[test]
fn the_corpus_plans_stay_as_they_are() {
    let files = corpus_files();
    assert!(files.len() >= 15);
    let mut planned = 0;
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        for (all_ns, suffix) in [(false, ""), (true, "-all-ns")] {
            let text = plan_of(f, all_ns);
            if !text.starts_with("REFUSED") {
                planned += 1;
            }
            insta::assert_snapshot!(format!("{stem}{suffix}"), text);
        }
    }
    assert!(planned >= 20, "only {planned} of the corpus' plans are plans");
}

/// VNX's capture attributes on a bridge net become a capture of that net's bridge, after it,
/// writing where the scenario says (relative to its folder); a veth net has no bridge to watch.
#[test]
fn a_capture_file_plans_a_capture_of_its_nets_bridge() {
    let text = "name: cap\nversion: '2.0'\nnets:\n  - {name: lan, mode: virtual_bridge, capture_file: lan.pcap, capture_expression: icmp}\n\
                nodes:\n  - {name: a, type: ns, interfaces: [{id: 1, net: lan, ipv4: [10.0.0.1/24]}]}\n";
    let (Some(Document::Scenario(s)), _) = scenario::parse(text, scenario::Format::Yaml) else { panic!() };
    let (d, _) = desired::desired(&s, &desired::Options::default(), &EveryFileThere).unwrap();
    let cap = d.iter().find(|r| r.id.kind == plan::kind::CAPTURE).expect("a capture");
    let net = d.iter().find(|r| r.id.kind == plan::kind::NET).unwrap();
    let attrs: vnx_providers::kinds::capture::Attrs =
        serde_json::from_value(serde_json::Value::Object(cap.attrs.clone().into_iter().collect())).unwrap();
    assert_eq!(attrs.file, "/scenario/lan.pcap");
    assert_eq!(attrs.expression.as_deref(), Some("icmp"));
    assert_eq!(serde_json::json!(attrs.bridge), net.attrs["bridge"]);
    assert!(cap.deps.contains(&net.id));
    let veth =
        "name: cap\nversion: '2.0'\nnets:\n  - {name: l, mode: veth, type: p2p, capture_file: l.pcap}\nnodes: []\n";
    let loaded = scenario::load_str(Path::new("veth.yaml"), veth.to_string());
    assert!(loaded.report.diags.iter().any(|d| d.message.contains("nets with a bridge")), "{:?}", loaded.report.diags);
}

/// The typed contract between planner and providers: every resource the planner builds, of
/// every corpus scenario, is a registered kind whose attributes are exactly that kind's
/// `Attrs` (no key missing, none unknown: a misspelt key fails here, not at apply).
#[test]
fn every_planned_resource_is_its_kinds_attrs() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for f in corpus_files() {
        let Some(Document::Scenario(s)) = scenario::load(&f).unwrap().doc else { continue };
        for all_ns in [false, true] {
            let Ok((resources, _)) = desired::desired(&s, &options_for(&s, &f, all_ns), &EveryFileThere) else {
                continue;
            };
            for d in resources {
                let kind = vnx_providers::kinds::kind(&d.id.kind).unwrap_or_else(|| panic!("{}: no such kind", d.id));
                (kind.check)(&d.attrs).unwrap_or_else(|e| panic!("{} of {}: {e}", d.id, f.display()));
                *checked.entry(d.id.kind.clone()).or_default() += 1;
            }
        }
    }
    // What the corpus has not: a point-to-point link, link conditions, a capture, a net that
    // goes on over VXLAN (as a cluster host's fragment has it), a controller outside the lab.
    let more = "name: more\nversion: '2.0'\nnets:\n  - {name: l, mode: veth, type: p2p}\n\
                \x20 - {name: sw, mode: openvswitch, controller: 'tcp:127.0.0.1:6653'}\n\
                \x20 - {name: lan, mode: virtual_bridge, capture_file: lan.pcap, vxlan: {vni: 7, local: 10.9.0.1, peers: [10.9.0.2]}}\nnodes:\n\
                \x20 - {name: a, type: ns, interfaces: [{id: 1, net: l, ipv4: [10.0.0.1/30]}, {id: 2, net: lan, bw: 1mbit}]}\n\
                \x20 - {name: b, type: ns, interfaces: [{id: 1, net: l, ipv4: [10.0.0.2/30]}]}\n";
    let (Some(Document::Scenario(s)), diags) = scenario::parse(more, scenario::Format::Yaml) else { panic!() };
    assert!(diags.is_empty(), "{diags:?}");
    for d in desired::desired(&s, &options(false), &EveryFileThere).unwrap().0 {
        let kind = vnx_providers::kinds::kind(&d.id.kind).unwrap_or_else(|| panic!("{}: no such kind", d.id));
        (kind.check)(&d.attrs).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        *checked.entry(d.id.kind.clone()).or_default() += 1;
    }
    assert_eq!(checked.len(), vnx_providers::kinds::KINDS.len(), "every kind is checked: {checked:?}");
    // And the check can fail: a misspelt key, a missing one.
    let net = desired::desired(&s, &options(false), &EveryFileThere)
        .unwrap()
        .0
        .into_iter()
        .find(|d| d.id.kind == "net")
        .unwrap();
    let check = vnx_providers::kinds::kind("net").unwrap().check;
    let mut misspelt = net.attrs.clone();
    misspelt.insert("stpp".into(), serde_json::json!(true));
    assert!(check(&misspelt).is_err_and(|e| e.contains("stpp")));
    let mut missing = net.attrs.clone();
    missing.remove("bridge");
    assert!(check(&missing).is_err_and(|e| e.contains("bridge")));
}

/// DHCP in a virtual machine: its interfaces' `dhcp` (with the address asked for) and the
/// management net's `config="dhcp"` run the guest's dhclient from its configuration drive, and
/// the management NIC gets no computed address.
#[test]
fn a_vms_dhcp_interfaces_run_the_guests_client_at_boot() {
    let text = "<vnx><global><version>2.0</version><scenario_name>vd</scenario_name>\
        <vm_mgmt type=\"net\" network=\"10.251.0.0\" mask=\"24\"><mgmt_net net=\"vdm\" config=\"dhcp\"/></vm_mgmt></global>\
        <net name=\"lan\" mode=\"virtual_bridge\"/>\
        <vm name=\"v\" type=\"libvirt\" subtype=\"kvm\" os=\"linux\"><filesystem type=\"cow\">/img.qcow2</filesystem>\
        <if id=\"1\" net=\"lan\"><ipv4>dhcp,10.0.0.5</ipv4><ipv6>dhcp</ipv6></if></vm></vnx>";
    let (Some(Document::Scenario(s)), diags) = scenario::parse(text, scenario::Format::Xml) else { panic!() };
    assert!(diags.is_empty(), "{diags:?}");
    let (d, _) = desired::desired(&s, &options(false), &EveryFileThere).unwrap();
    let node = d.iter().find(|r| r.id.kind == plan::kind::NODE).unwrap();
    let script = node.attrs["config"]["script"].as_str().unwrap();
    assert!(script.contains("send dhcp-requested-address 10.0.0.5;"), "{script}");
    assert!(script.contains("dhclient -4 -nw -cf /run/vnx-dhclient-4-eth1.conf"), "{script}");
    assert!(script.contains("dhclient -6 -nw -cf /run/vnx-dhclient-6-eth1.conf"), "{script}");
    assert!(script.contains("dhclient -4 -nw -cf /run/vnx-dhclient-4-eth0.conf"), "{script}");
    assert!(!script.contains("10.251.0."), "no computed management address: {script}");
}

/// An Open vSwitch net that a cluster's fragment carries across hosts is refused, not built
/// without its other hosts' part.
#[test]
fn an_openvswitch_net_across_hosts_is_refused() {
    let text = "name: o\nversion: '2.0'\nnets:\n  - {name: sw, mode: openvswitch, vxlan: {vni: 7, local: 10.9.0.1, peers: [10.9.0.2]}}\n\
                nodes:\n  - {name: a, type: ns, interfaces: [{id: 1, net: sw, ipv4: [10.0.0.1/24]}]}\n";
    let (Some(Document::Scenario(s)), diags) = scenario::parse(text, scenario::Format::Yaml) else { panic!() };
    assert!(diags.is_empty(), "{diags:?}");
    let errors = desired::desired(&s, &options(false), &EveryFileThere).unwrap_err();
    assert!(errors.iter().any(|d| d.message.contains("openvswitch net `sw` across hosts")), "{errors:?}");
}
