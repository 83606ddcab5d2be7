//! The files a host's fragment names, sent with it: a cluster host need not have the
//! controller's files. The controller bundles what each `<filetree>` and `<exec type="file">`
//! of the fragment's nodes names (a file, a directory, or a `*` pattern's matches) and points
//! them at where the agent unpacks the bundle (`FILES/N/…`, FILES being the agent's folder for
//! the lab); the agent writes the bundle there, each path checked to stay inside it.
//!
//! Root filesystems and VM images are not sent (they are large and belong to the host): a host
//! that lacks one says so in its plan.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::scenario::values::ExecType;
use crate::scenario::{validate, Scenario};

/// The most a fragment's files may weigh in all (they travel in one request).
pub const MAX_BYTES: u64 = 64 << 20;
/// The most files one fragment may send.
pub const MAX_FILES: usize = 10_000;

/// One file of the bundle: its path below the lab's folder, its mode, its bytes (base64).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InlineFile {
    pub path: String,
    pub mode: u32,
    pub data: String,
}

struct Bundle {
    files: Vec<InlineFile>,
    bytes: u64,
}

impl Bundle {
    fn add_file(&mut self, from: &Path, to: String) -> Result<(), String> {
        let meta = std::fs::metadata(from).map_err(|e| format!("{}: {e}", from.display()))?;
        self.bytes += meta.len();
        if self.bytes > MAX_BYTES || self.files.len() >= MAX_FILES {
            return Err(format!(
                "the files the scenario's filetrees name weigh more than {} MiB or number more than {MAX_FILES}: too much to send to a cluster host",
                MAX_BYTES >> 20
            ));
        }
        let data = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        self.files.push(InlineFile { path: to, mode, data: base64::engine::general_purpose::STANDARD.encode(data) });
        Ok(())
    }

    /// `from` (a file, or a directory walked whole) as `to`.
    fn add(&mut self, from: &Path, to: String, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Err(format!("{}: directories nested deeper than 64", from.display()));
        }
        if from.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(from)
                .map_err(|e| format!("{}: {e}", from.display()))?
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            entries.sort();
            // An empty directory travels as itself (a path ending in `/`).
            if entries.is_empty() {
                self.files.push(InlineFile { path: format!("{to}/"), mode: 0o755, data: String::new() });
            }
            for name in entries {
                let name = name.to_string_lossy().into_owned();
                self.add(&from.join(&name), format!("{to}/{name}"), depth + 1)?;
            }
            Ok(())
        } else {
            self.add_file(from, to)
        }
    }
}

/// Bundles the files `f`'s nodes name (found as a local apply would find them: the node's
/// `basedir`, the scenario's folder `dir`) and points each at `remote/N/…`. A source that
/// does not resolve stays as written: the host's plan names it.
pub fn bundle(f: &mut Scenario, dir: &Path, remote: &Path) -> Result<Vec<InlineFile>, String> {
    let cx = validate::Context { dir: Some(dir.to_path_buf()) };
    let default_base = f.defaults.as_ref().and_then(|d| d.basedir.as_ref()).map(|b| b.value.clone());
    let mut b = Bundle { files: vec![], bytes: 0 };
    let mut n = 0usize;
    for node in &mut f.nodes {
        let base = node.basedir.as_ref().map(|b| b.value.clone()).or(default_base.clone());
        for ft in &mut node.filetrees {
            let Some(found) = validate::resolve_source(&ft.source.value, base.as_deref(), &cx) else { continue };
            let name = found.file_name().map(|x| x.to_string_lossy().into_owned()).unwrap_or_else(|| "source".into());
            let slot = n.to_string();
            n += 1;
            if name.contains('*') {
                // A pattern: the matches of its folder, sent under the same pattern.
                let parent = found.parent().unwrap_or(Path::new("/"));
                let entries = std::fs::read_dir(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                let mut matches: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|m| glob_match(&name, m))
                    .collect();
                matches.sort();
                for m in matches {
                    b.add(&parent.join(&m), format!("{slot}/{m}"), 0)?;
                }
            } else {
                b.add(&found, format!("{slot}/{name}"), 0)?;
            }
            ft.source.value = remote.join(&slot).join(&name).display().to_string();
        }
        for ex in node.execs.iter_mut().filter(|e| e.kind == ExecType::File) {
            let p = PathBuf::from(&ex.command.value);
            let found = if p.is_absolute() { p } else { dir.join(p) };
            if !found.is_file() {
                continue;
            }
            let slot = n.to_string();
            n += 1;
            b.add_file(&found, format!("{slot}/script"))?;
            ex.command.value = remote.join(&slot).join("script").display().to_string();
        }
    }
    // (Sources sent are absolute now: a node's basedir applies only to those left as written.)
    Ok(b.files)
}

/// `*` in a file name's pattern matches any run of characters (as VNX's filetrees allow).
fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Writes a bundle below `root` (made anew: what an earlier apply sent is gone). Every path is
/// relative and plain (no `..`, no absolute part), each file created where no link leads out.
pub fn unpack(root: &Path, files: &[InlineFile]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if root.exists() {
        std::fs::remove_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    }
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut total = 0u64;
    for f in files.iter().take(MAX_FILES + 1) {
        let rel = Path::new(&f.path);
        if f.path.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!("the bundle's path `{}` is not a plain relative path", f.path));
        }
        let to = root.join(rel);
        if f.path.ends_with('/') {
            std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(&f.data)
            .map_err(|e| format!("the bundle's file `{}` is not base64: {e}", f.path))?;
        total += data.len() as u64;
        if total > MAX_BYTES || files.len() > MAX_FILES {
            return Err(format!("the bundle is larger than {} MiB or {MAX_FILES} files", MAX_BYTES >> 20));
        }
        // A fresh tree of our own: nothing is there yet, and no link is followed.
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(f.mode & 0o777)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&to)
            .map_err(|e| format!("{}: {e}", to.display()))?;
        out.write_all(&data).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(dir: &Path) -> Scenario {
        let yaml = format!(
            "name: l\nversion: '2.0'\nnets: [{{name: lan, mode: virtual_bridge}}]\nnodes:\n  - name: n1\n    type: lxc\n    interfaces: [{{id: 1, net: lan}}]\n    filetrees:\n      - {{seq: on_boot, root: /etc/, source: conf}}\n      - {{seq: web, root: /var/www/, source: '{}/site/*.html'}}\n      - {{seq: gone, root: /x, source: nowhere}}\n    execs:\n      - {{seq: run, type: file, command: script.sh}}\n",
            dir.display()
        );
        match crate::scenario::parse(&yaml, crate::scenario::Format::Yaml).0 {
            Some(crate::scenario::Document::Scenario(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_the_nodes_name_is_bundled_pointed_at_the_agents_folder_and_unpacked_inside_it() {
        let src = tempfile::tempdir().unwrap();
        let d = src.path();
        std::fs::create_dir_all(d.join("conf/sub")).unwrap();
        std::fs::write(d.join("conf/a.conf"), "a").unwrap();
        std::fs::write(d.join("conf/sub/b.conf"), "b").unwrap();
        std::fs::create_dir_all(d.join("site")).unwrap();
        std::fs::write(d.join("site/index.html"), "<p>").unwrap();
        std::fs::write(d.join("site/notes.txt"), "no").unwrap();
        std::fs::write(d.join("script.sh"), "echo hi").unwrap();
        let mut s = lab(d);
        let remote = Path::new("/agent/files/l");
        let files = bundle(&mut s, d, remote).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["0/conf/a.conf", "0/conf/sub/b.conf", "1/index.html", "2/script"]);
        let n = &s.nodes[0];
        assert_eq!(n.filetrees[0].source.value, "/agent/files/l/0/conf");
        assert_eq!(n.filetrees[1].source.value, "/agent/files/l/1/*.html");
        assert_eq!(n.filetrees[2].source.value, "nowhere", "what does not resolve stays as written");
        assert_eq!(n.execs[0].command.value, "/agent/files/l/2/script");

        let out = tempfile::tempdir().unwrap();
        let root = out.path().join("l");
        unpack(&root, &files).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("0/conf/sub/b.conf")).unwrap(), "b");
        assert_eq!(std::fs::read_to_string(root.join("2/script")).unwrap(), "echo hi");
        // Again: the folder is made anew.
        unpack(&root, &files[..1]).unwrap();
        assert!(!root.join("2").exists());
    }

    #[test]
    fn a_bundle_cannot_write_outside_its_folder() {
        let out = tempfile::tempdir().unwrap();
        let root = out.path().join("l");
        for bad in ["../escape", "/etc/passwd", "a/../../b", "./x", ""] {
            let f = InlineFile { path: bad.into(), mode: 0o644, data: String::new() };
            assert!(unpack(&root, &[f]).is_err(), "{bad}");
        }
        assert!(!out.path().join("escape").exists());
        // A link planted in the folder is not followed: the folder is made anew first.
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(out.path(), root.join("0")).unwrap();
        let f = InlineFile { path: "0/planted".into(), mode: 0o644, data: String::new() };
        unpack(&root, &[f]).unwrap();
        assert!(!out.path().join("planted").exists());
    }

    #[test]
    fn patterns_match_as_filetrees_mean_them() {
        assert!(glob_match("*.html", "index.html"));
        assert!(!glob_match("*.html", "index.htm"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "ac"));
        assert!(glob_match("*", "anything"));
    }
}
