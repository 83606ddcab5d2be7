//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cluster;
pub mod lab;
pub mod sandbox;

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/vnx-corpus`, beside the repository (as in CI).
pub fn corpus() -> PathBuf {
    let c = root().join("../shared/vnx-corpus");
    assert!(c.is_dir(), "the VNX corpus is expected at {}", c.display());
    c
}

/// Files with the given extension in a folder, sorted.
pub fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// Every scenario (not modify document) of the corpus and of examples/.
pub fn all_scenarios() -> Vec<PathBuf> {
    let c = corpus();
    let mut v = files_in(&c.join("scenarios"), "xml");
    v.push(c.join("modify/tutorial_ubuntu_modify.xml"));
    v.extend(files_in(&root().join("examples"), "xml"));
    v.extend(files_in(&root().join("examples"), "yaml"));
    v
}

/// The path of the built `vnx` binary.
pub fn vnx_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vnx")
}

/// The stdout of a vnx run that must succeed; on failure, the exit code and both outputs.
pub fn succeeded(args: &[&str], out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "vnx {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
