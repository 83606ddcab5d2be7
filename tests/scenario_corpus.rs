//! The scenario language against real VNX files: every corpus scenario validates, converts
//! XML → YAML → XML without changing its model, matches both schemas, and the corpus'
//! `<modify_vnx>` documents apply in order.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;
use vnx::scenario::{self, modify, Document, Format, Scenario};

fn read_scenario(path: &std::path::Path) -> Scenario {
    let l = scenario::load(path).unwrap();
    assert!(!l.report.has_errors(), "{}:\n{}", path.display(), l.report.render(false));
    match l.doc {
        Some(Document::Scenario(s)) => s,
        other => panic!("{}: not a scenario: {other:?}", path.display()),
    }
}

#[test]
fn validate_accepts_the_whole_corpus() {
    let c = corpus();
    let mut args: Vec<_> = files_in(&c.join("scenarios"), "xml");
    args.extend(files_in(&c.join("modify"), "xml"));
    args.extend(files_in(&root().join("examples"), "xml"));
    args.extend(files_in(&root().join("examples"), "yaml"));
    args.extend(files_in(&root().join("examples/modify"), "xml"));
    let out = Command::new(vnx_bin()).arg("validate").args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.contains(": valid")).count(), args.len(), "{stdout}");
}

#[test]
fn validate_fails_with_exit_1_on_a_broken_file() {
    let bad = root().join("tests/broken/unknown-net.xml");
    let out = Command::new(vnx_bin()).args(["validate", "--json"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v[0]["diagnostics"][0]["code"], "vnx::unknown-net");
    assert_eq!(v[0]["diagnostics"][0]["line"], 20);
    assert_eq!(v[0]["diagnostics"][0]["column"], 21);
}

#[test]
fn xml_to_yaml_to_xml_keeps_the_model() {
    for path in all_scenarios() {
        let original = read_scenario(&path);
        let yaml = scenario::write(&original, Format::Yaml);
        let (doc, diags) = scenario::parse(&yaml, Format::Yaml);
        assert!(diags.is_empty(), "{}: {diags:?}\n{yaml}", path.display());
        let Some(Document::Scenario(from_yaml)) = doc else { panic!() };
        assert_eq!(original, from_yaml, "{}: YAML changed the model", path.display());
        let xml = scenario::write(&from_yaml, Format::Xml);
        let (doc, diags) = scenario::parse(&xml, Format::Xml);
        assert!(!diags.iter().any(|d| d.is_error()), "{}: {diags:?}\n{xml}", path.display());
        let Some(Document::Scenario(back)) = doc else { panic!() };
        assert_eq!(original, back, "{}: XML → YAML → XML changed the model", path.display());
    }
}

#[test]
fn convert_command_round_trips_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = corpus().join("scenarios/tutorial_lxc_ubuntu.xml");
    let yaml = Command::new(vnx_bin()).args(["convert", "--to", "yaml"]).arg(&src).output().unwrap();
    assert!(yaml.status.success());
    let yaml_path = dir.path().join("t.yaml");
    std::fs::write(&yaml_path, &yaml.stdout).unwrap();
    let xml = Command::new(vnx_bin()).args(["convert", "--to", "xml"]).arg(&yaml_path).output().unwrap();
    assert!(xml.status.success(), "{}", String::from_utf8_lossy(&xml.stderr));
    let (doc, _) = scenario::parse(&String::from_utf8(xml.stdout).unwrap(), Format::Xml);
    assert_eq!(doc, Some(Document::Scenario(read_scenario(&src))));
}

fn names(s: &Scenario) -> (BTreeSet<String>, BTreeSet<String>) {
    (s.nodes.iter().map(|n| n.name.value.clone()).collect(), s.nets.iter().map(|n| n.name.value.clone()).collect())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn read_modify(name: &str) -> vnx::scenario::ModifyDoc {
    let l = scenario::load(&corpus().join("modify").join(name)).unwrap();
    assert!(!l.report.has_errors(), "{name}: {}", l.report.render(false));
    match l.doc {
        Some(Document::Modify(m)) => m,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn corpus_modify_documents_apply_in_order() {
    let mut s = read_scenario(&corpus().join("modify/tutorial_ubuntu_modify.xml"));
    let base_nodes = ["h1", "h2", "r1", "r2", "h3", "h4"];
    let base_nets = ["Net0", "Net1", "Net2", "Net3"];
    let with = |extra: &[&'static str], base: &[&'static str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        set(&v)
    };
    let steps: Vec<(&str, BTreeSet<String>, BTreeSet<String>, Option<bool>)> = vec![
        ("add-h5.xml", with(&["h5"], &base_nodes), set(&base_nets), None),
        ("add-net4.xml", with(&["h5"], &base_nodes), with(&["Net4"], &base_nets), None),
        ("down-net4.xml", with(&["h5"], &base_nodes), with(&["Net4"], &base_nets), Some(false)),
        ("up-net4.xml", with(&["h5"], &base_nodes), with(&["Net4"], &base_nets), None),
        ("del-net4.xml", with(&["h5"], &base_nodes), set(&base_nets), None),
        ("del-h5-shutdown.xml", set(&base_nodes), set(&base_nets), None),
    ];
    for (file, nodes, nets, net4_up) in steps {
        let out = modify::apply(&s, &read_modify(file)).unwrap_or_else(|d| panic!("{file}: {}", d.message));
        s = out.scenario;
        assert_eq!(names(&s), (nodes, nets), "after {file}");
        if let Some(n) = s.net("Net4") {
            assert_eq!(n.up, net4_up, "Net4's state after {file}");
        }
        if file == "del-h5-shutdown.xml" {
            assert_eq!(out.shutdown_first, vec!["h5".to_string()]);
        }
        let errors: Vec<_> =
            scenario::validate::scenario(&s, &Default::default()).into_iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "after {file}: {errors:?}");
    }
    // The destroy variant: h5 goes without a graceful shutdown.
    let s2 = modify::apply(&s, &read_modify("add-h5.xml")).unwrap().scenario;
    let out = modify::apply(&s2, &read_modify("del-h5-destroy.xml")).unwrap();
    assert!(out.shutdown_first.is_empty());
    assert_eq!(names(&out.scenario).0, set(&base_nodes));
}

#[test]
fn modify_errors_name_what_is_wrong() {
    let s = read_scenario(&corpus().join("modify/tutorial_ubuntu_modify.xml"));
    // Deleting a node that does not exist, adding one that does.
    let e = modify::apply(&s, &read_modify("del-h5-shutdown.xml")).unwrap_err();
    assert!(e.message.contains("no node named `h5`"), "{}", e.message);
    let s2 = modify::apply(&s, &read_modify("add-h5.xml")).unwrap().scenario;
    let e = modify::apply(&s2, &read_modify("add-h5.xml")).unwrap_err();
    assert!(e.message.contains("exists already"), "{}", e.message);
    // A net in use cannot be deleted with del="no".
    let (doc, _) = scenario::parse("<modify_vnx><del_net name=\"Net0\" del=\"no\"/></modify_vnx>", Format::Xml);
    let Some(Document::Modify(m)) = doc else { panic!() };
    let e = modify::apply(&s, &m).unwrap_err();
    assert!(e.message.contains("still in use by h1, h2, r1"), "{}", e.message);
    // del="vm" removes the nodes on it.
    let (doc, _) = scenario::parse("<modify_vnx><del_net name=\"Net0\" del=\"vm\"/></modify_vnx>", Format::Xml);
    let Some(Document::Modify(m)) = doc else { panic!() };
    let out = modify::apply(&s, &m).unwrap();
    assert_eq!(names(&out.scenario).0, set(&["r2", "h3", "h4"]));
    assert_eq!(out.shutdown_first, vec!["h1", "h2", "r1"]);
}

#[test]
fn json_schema_file_is_current_and_accepts_every_yaml_form() {
    let generated = vnx::cli::yaml_schema();
    let stored = std::fs::read_to_string(root().join("schemas/vnx-scenario.schema.json")).unwrap();
    assert_eq!(
        stored, generated,
        "schemas/vnx-scenario.schema.json is stale: run `vnx schema > schemas/vnx-scenario.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for path in all_scenarios() {
        let yaml = scenario::write(&read_scenario(&path), Format::Yaml);
        let value: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    // And it rejects what the reader rejects.
    let bad: serde_json::Value =
        serde_yaml::from_str("name: x\nversion: '2.0'\nnets: [{name: n, mode: bridge}]\n").unwrap();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn xml_schema_accepts_the_corpus_and_what_vnx_writes() {
    let xsd = root().join("schemas/vnx.xsd");
    let dir = tempfile::tempdir().unwrap();
    let mut files = files_in(&corpus().join("scenarios"), "xml");
    files.extend(files_in(&corpus().join("modify"), "xml"));
    files.extend(files_in(&root().join("examples"), "xml"));
    for path in all_scenarios() {
        let written = dir.path().join(format!("{}.written.xml", path.file_stem().unwrap().to_string_lossy()));
        std::fs::write(&written, scenario::write(&read_scenario(&path), Format::Xml)).unwrap();
        files.push(written);
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .args(&files)
        .output()
        .expect("xmllint runs (Debian package libxml2-utils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A file with an element VNX does not know fails the schema too.
    let bad = root().join("tests/broken/unknown-element.xml");
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&bad).output().unwrap();
    assert!(!out.status.success());
}

/// The README's YAML listing is `examples/two-lans.yaml` with comments: the same model.
#[test]
fn the_readme_lists_the_example_it_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let after =
        readme.split("A full example (`examples/two-lans.yaml`):").nth(1).expect("the README names the example");
    let listing = after.split("```yaml\n").nth(1).and_then(|b| b.split("\n```").next()).unwrap();
    let (doc, diags) = scenario::parse(listing, Format::Yaml);
    assert!(diags.is_empty(), "{diags:?}");
    let Some(Document::Scenario(listed)) = doc else { panic!("the listing is no scenario") };
    assert_eq!(listed, read_scenario(&root.join("examples/two-lans.yaml")));
}
