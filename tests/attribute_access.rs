//! Resource attributes are read through their kind's typed `Attrs` (`providers/src/kinds/`),
//! not by string key (issue 16). The kinds still read by key are being moved; this ratchet
//! holds each file to at most the string-keyed reads it has now, and every other file to none,
//! so the count only goes down. Lower a ceiling when a kind moves; delete the line at zero.

use std::path::Path;

/// Files that still read attributes by key, and how many such reads each may have.
const CEILINGS: &[(&str, usize)] = &[
    ("providers/src/lab.rs", 5),
    ("providers/src/lab/vm.rs", 27),
    ("src/plan/desired.rs", 5),
    ("src/plan/diff.rs", 3),
    ("src/plan/tests.rs", 1),
];

/// How attribute maps are read by key in this code base.
const KEYED: &[&str] = &[
    "req(a, \"",
    "req(o, \"",
    "s(a, \"",
    "s(o, \"",
    "s(&it.attrs, \"",
    "attrs.get(\"",
    "a.get(\"",
    "o.get(\"",
    "strings(a, \"",
    "contains_key(\"",
    "a[\"",
];

fn keyed_reads(text: &str) -> usize {
    text.lines().filter(|l| KEYED.iter().any(|k| l.contains(k))).count()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn attributes_are_read_by_key_only_where_they_still_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["src", "providers/src", "state/src"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 30);
    let mut over = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        // A kind's own module reads its own attributes as it likes.
        if rel.starts_with("providers/src/kinds/") {
            continue;
        }
        let n = keyed_reads(&std::fs::read_to_string(f).unwrap());
        let ceiling = CEILINGS.iter().find(|(p, _)| *p == rel).map_or(0, |c| c.1);
        if n > ceiling {
            over.push(format!("{rel}: {n} string-keyed attribute reads (at most {ceiling}): use the kind's Attrs"));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}
