//! Broken scenarios: every file in tests/broken/ must fail validation (or, for `warn-*`,
//! pass with warnings) with located diagnostics, and the messages a user reads are
//! snapshot-tested.

use std::path::Path;

use vnx::scenario;

#[test]
fn broken_scenarios_give_located_helpful_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut distinct_errors = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        // A relative name keeps the snapshots independent of where the repository is.
        let loaded = scenario::load_str(Path::new(&format!("tests/broken/{name}")), text);
        let report = &loaded.report;
        assert!(!report.diags.is_empty(), "{name}: no diagnostic");
        for d in &report.diags {
            assert!(d.primary_span().is_some(), "{name}: `{}` is not located", d.message);
            assert!(d.help.is_some(), "{name}: `{}` says not how to fix it", d.message);
        }
        if name.starts_with("warn-") {
            assert!(!report.has_errors(), "{name}: expected only warnings");
        } else {
            assert!(report.has_errors(), "{name}: expected an error");
            distinct_errors += 1;
        }
        insta::assert_snapshot!(name.clone(), report.render(false));
    }
    assert!(distinct_errors >= 25, "only {distinct_errors} broken cases");
}
