//! Root filesystems for `ns` nodes, built on this machine from Debian's archive with
//! mmdebstrap (Debian's tool for it): `vnx rootfs build|list|rm`. Each lives in
//! [`store`]`/NAME`, a plain directory tree that `<filesystem>` names (by path or by NAME) and
//! that nodes see copy-on-write; its recipe (suite, packages) is kept beside it, so building it
//! again is nothing to do, and the downloaded packages are kept in a cache for the next build.
//! VNX's library names (`rootfs_lxc`, `rootfs_lxc_ubuntu64`, …) resolve to the rootfs built
//! under the name `rootfs_lxc`, a Debian with what VNX's tutorials start inside.

use std::path::{Path, PathBuf};

/// Where built root filesystems live (`VNX_ROOTFS_DIR` overrides it).
pub fn store() -> PathBuf {
    std::env::var_os("VNX_ROOTFS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/vnx/rootfs"))
}

/// Where downloaded packages are kept between builds.
pub fn cache() -> PathBuf {
    store().join(".cache")
}

/// What every node needs: a shell, addresses and routes, ping, processes, captures.
pub const BASE: &[&str] = &["iproute2", "iputils-ping", "procps", "tcpdump", "iptables", "netbase"];

/// The name VNX's library rootfs names resolve to, and what its tutorials start inside it: a
/// web server, a DHCP server and client (ISC's, as VNX's), routing daemons, tcpdump.
pub const VNX_NAME: &str = "rootfs_lxc";
pub const VNX_EXTRA: &[&str] =
    &["apache2", "isc-dhcp-server", "isc-dhcp-client", "frr", "dnsmasq-base", "net-tools", "traceroute"];

/// The Debian release built by default.
pub const SUITE: &str = "bookworm";

/// A built root filesystem's recipe, kept in `NAME/.vnx-rootfs.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recipe {
    pub suite: String,
    pub packages: Vec<String>,
}

/// A root filesystem's name: one path component of letters, digits, `-`, `_` and `.`, not
/// starting with a dot.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a root filesystem name (letters, digits, - _ . ; at most 64; not starting with a dot)"
        ))
    }
}

/// A package name as Debian spells them.
fn check_package(p: &str) -> Result<(), String> {
    let ok = p.len() >= 2
        && p.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{p}` is not a Debian package name"))
    }
}

/// The recipe of `name` with `extra` packages (VNX's name brings what its tutorials need).
pub fn recipe(name: &str, suite: Option<&str>, extra: &[String]) -> Result<Recipe, String> {
    check_name(name)?;
    let mut packages: Vec<String> = BASE.iter().map(|p| p.to_string()).collect();
    if name == VNX_NAME {
        packages.extend(VNX_EXTRA.iter().map(|p| p.to_string()));
    }
    for p in extra {
        check_package(p)?;
        packages.push(p.clone());
    }
    packages.sort();
    packages.dedup();
    let suite = suite.unwrap_or(SUITE).to_string();
    if !suite.chars().all(|c| c.is_ascii_lowercase() || c == '-') || suite.is_empty() {
        return Err(format!("`{suite}` is not a Debian suite (bookworm, trixie, …)"));
    }
    Ok(Recipe { suite, packages })
}

/// The directory of `name` in the store.
pub fn dir(name: &str) -> Result<PathBuf, String> {
    check_name(name)?;
    Ok(store().join(name))
}

fn recipe_file(dir: &Path) -> PathBuf {
    dir.join(".vnx-rootfs.json")
}

/// The recipe `name` was built with, when it is built.
pub fn built(name: &str) -> Option<Recipe> {
    let d = dir(name).ok()?;
    serde_json::from_str(&std::fs::read_to_string(recipe_file(&d)).ok()?).ok()
}

/// Every built root filesystem: name and recipe.
pub fn list() -> Vec<(String, Recipe)> {
    list_in(&store(), built)
}

/// What `built` says is built among the entries of `store`, by name.
pub fn list_in(store: &Path, built: impl Fn(&str) -> Option<Recipe>) -> Vec<(String, Recipe)> {
    let Ok(rd) = std::fs::read_dir(store) else { return vec![] };
    let mut v: Vec<(String, Recipe)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            built(&name).map(|r| (name, r))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The built root filesystem a `<filesystem>` path names, when the path itself is not one:
/// a bare NAME, a path under the store, or one of VNX's library names (`…/rootfs_lxc*`,
/// `…/vnx_rootfs_lxc*`), which resolve to [`VNX_NAME`]. With a note for VNX's names.
pub fn resolve(path: &str) -> Option<(PathBuf, Option<String>)> {
    let base = Path::new(path).file_name()?.to_str()?;
    if check_name(base).is_ok()
        && built(base).is_some()
        && (!path.contains('/') || Path::new(path).starts_with(store()))
    {
        return Some((store().join(base), None));
    }
    let vnx = base.starts_with("rootfs_lxc") || base.starts_with("vnx_rootfs_lxc");
    if vnx && built(VNX_NAME).is_some() {
        let note = format!(
            "VNX's root filesystem `{path}` is vnx's `{VNX_NAME}`: Debian ({}), not Ubuntu, built with {}",
            built(VNX_NAME).map(|r| r.suite).unwrap_or_default(),
            VNX_EXTRA.join(", ")
        );
        return Some((store().join(VNX_NAME), Some(note)));
    }
    None
}

/// The mmdebstrap command that builds `recipe` into `target`, keeping downloaded packages in
/// `cache` (mmdebstrap's documented way: sync them in before, out after).
pub fn mmdebstrap(recipe: &Recipe, target: &Path, cache: &Path, mirror: Option<&str>) -> std::process::Command {
    let mut c = std::process::Command::new("mmdebstrap");
    c.arg("--variant=minbase")
        .arg("--mode=root")
        .arg("--format=directory")
        .arg("--verbose")
        .arg(format!("--include={}", recipe.packages.join(",")))
        .arg("--skip=download/empty")
        .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/")
        .arg(format!("--setup-hook=sync-in {} /var/cache/apt/archives/", cache.display()))
        .arg(format!("--customize-hook=sync-out /var/cache/apt/archives {}", cache.display()))
        .arg(&recipe.suite)
        .arg(target);
    if let Some(m) = mirror {
        c.arg(m);
    }
    c
}

/// Marks `dir` as built with `recipe`.
pub fn finish(dir: &Path, recipe: &Recipe) -> Result<(), String> {
    write_recipe(&recipe_file(dir), recipe)
}

/// Writes a build's recipe to `file` (a root filesystem's, an image's).
pub fn write_recipe(file: &Path, recipe: &Recipe) -> Result<(), String> {
    std::fs::write(file, serde_json::to_string_pretty(recipe).expect("json"))
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Removes the built root filesystem `name` (only a directory that has a recipe: vnx's).
pub fn remove(name: &str) -> Result<(), String> {
    remove_built(&dir(name)?, built(name).is_some(), &format!("root filesystem `{name}`"), "vnx rootfs list")
}

/// Removes `dir`, the build `what`, when `is_built` (a directory with vnx's recipe); else says
/// there is none and which command lists them.
pub fn remove_built(dir: &Path, is_built: bool, what: &str, list: &str) -> Result<(), String> {
    if !is_built {
        return Err(format!("there is no {what} ({list} shows them)"));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_packages_are_checked() {
        assert!(check_name("mini").is_ok() && check_name("rootfs_lxc").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b", "x;rm"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(recipe("mini", None, &["frr".into()]).unwrap().packages.contains(&"frr".to_string()));
        assert!(recipe("mini", None, &["--no".into()]).is_err());
        assert!(recipe("mini", Some("../x"), &[]).is_err());
        let vnx = recipe(VNX_NAME, None, &[]).unwrap();
        assert!(vnx.packages.contains(&"apache2".to_string()) && vnx.packages.contains(&"isc-dhcp-server".to_string()));
    }
}
