//! Resource attributes are read through their kind's typed `Attrs` (`providers/src/kinds/`),
//! never by string key outside the kinds (issue 16): a misspelt key would be a silent default.
//! `CEILINGS` lets a file keep some such reads while a kind moves (none does now).

use std::path::Path;

/// Files that may still read attributes by key while a kind moves, and how many such reads.
const CEILINGS: &[(&str, usize)] = &[];

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
