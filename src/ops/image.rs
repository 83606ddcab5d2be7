//! VM images built on this machine from Debian's archive (`vnx image build|list|rm`): a Debian
//! root filesystem (mmdebstrap, as `rootfs.rs`) with the cloud kernel, vnx's guest agent and an
//! init that starts it, made into an ext4 qcow2 disk; the kernel and its initramfs are kept
//! beside the disk, and libvirt boots them directly (no boot loader), the disk as the root.
//! The agent runs the configuration drive's boot script (hostname, addresses, routes,
//! filetrees, on_boot commands) and serves `vnx exec` and in-place changes, as VNX's ACED did.
//! VNX's KVM image names (`rootfs_debian*`, `rootfs_ubuntu*`, `vnx_rootfs_kvm_*`) resolve to
//! the image built as `rootfs_kvm`.

use std::path::{Path, PathBuf};

use super::rootfs::{self, Recipe};

/// Where built images live (`VNX_IMAGE_DIR` overrides it).
pub fn store() -> PathBuf {
    std::env::var_os("VNX_IMAGE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/vnx/images"))
}

/// What a guest needs: the kernel (with an initramfs), modules, the agent's tools, dhclient.
pub const PACKAGES: &[&str] = &[
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "kmod",
    "util-linux",
    "iproute2",
    "iputils-ping",
    "procps",
    "isc-dhcp-client",
    "netbase",
];

/// The name VNX's KVM image names resolve to.
pub const VNX_NAME: &str = "rootfs_kvm";

/// The guest's agent (the test guest's, which runs under Debian's sh as well).
pub const AGENT: &str = include_str!("../../images/guest-agent.sh");

/// PID 1 of a vnx image: the kernel's file systems, the virtio modules, then the agent.
pub const INIT: &str = r#"#!/bin/sh
# PID 1 of a vnx image (written by vnx image build): mounts, modules, then vnx's agent.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /config; mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run
mount -o remount,rw /
for m in virtio_net virtio_console virtio_blk isofs sr_mod; do modprobe "$m" 2>/dev/null; done
ip link set lo up
exec /usr/local/sbin/vnx-agent boot
"#;

/// The kernel command line of a vnx image.
pub const CMDLINE: &str = "root=/dev/vda rw console=ttyS0 init=/usr/local/sbin/vnx-guest-init panic=-1 quiet";

/// A built image's parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub disk: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

pub fn dir(name: &str) -> Result<PathBuf, String> {
    rootfs::check_name(name)?;
    Ok(store().join(name))
}

fn recipe_file(dir: &Path) -> PathBuf {
    dir.join("recipe.json")
}

/// The recipe of image `name` with `extra` packages.
pub fn recipe(name: &str, suite: Option<&str>, extra: &[String]) -> Result<Recipe, String> {
    let mut r = rootfs::recipe(name, suite, extra)?;
    r.packages.extend(PACKAGES.iter().map(|p| p.to_string()));
    r.packages.sort();
    r.packages.dedup();
    Ok(r)
}

pub fn built(name: &str) -> Option<Recipe> {
    let d = dir(name).ok()?;
    let r = serde_json::from_str(&std::fs::read_to_string(recipe_file(&d)).ok()?).ok()?;
    parts(&d).map(|_| r)
}

fn parts(d: &Path) -> Option<Image> {
    let i = Image { disk: d.join("disk.qcow2"), kernel: d.join("vmlinuz"), initrd: d.join("initrd.img") };
    (i.disk.is_file() && i.kernel.is_file() && i.initrd.is_file()).then_some(i)
}

pub fn list() -> Vec<(String, Recipe)> {
    rootfs::list_in(&store(), built)
}

/// The built image a `<filesystem>` of a VM names: a bare NAME, a path in the store, or one of
/// VNX's KVM image names (with a note that it is vnx's Debian).
pub fn resolve(path: &str) -> Option<(Image, Option<String>)> {
    let p = Path::new(path);
    let base = p.file_name()?.to_str()?;
    let base = base.strip_suffix(".qcow2").unwrap_or(base);
    if rootfs::check_name(base).is_ok() && (!path.contains('/') || p.starts_with(store())) {
        if let Some(i) = dir(base).ok().and_then(|d| parts(&d)) {
            return Some((i, None));
        }
    }
    let vnx = ["rootfs_debian", "rootfs_ubuntu", "vnx_rootfs_kvm", "rootfs_kvm"].iter().any(|v| base.starts_with(v));
    if vnx {
        let i = parts(&dir(VNX_NAME).ok()?)?;
        let suite = built(VNX_NAME).map(|r| r.suite).unwrap_or_default();
        return Some((
            i,
            Some(format!("VNX's image `{path}` is vnx's `{VNX_NAME}`: Debian ({suite}) with vnx's guest agent")),
        ));
    }
    None
}

/// Makes the image's parts from the built root `root` into `dir`: the agent and its init
/// written in, the kernel and initramfs copied out, the tree made an ext4 disk (mkfs.ext4
/// fills it from the directory, nothing mounted), then qcow2.
pub fn assemble(root: &Path, dir: &Path) -> Result<(), String> {
    let w = |p: &str, text: &str| -> Result<(), String> {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().expect("a parent")).map_err(|e| format!("{}: {e}", f.display()))?;
        std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))?;
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(|e| e.to_string())
    };
    w("usr/local/sbin/vnx-agent", AGENT)?;
    w("usr/local/sbin/vnx-guest-init", INIT)?;
    std::fs::write(root.join("etc/hostname"), "vnx\n").map_err(|e| e.to_string())?;
    let boot = std::fs::read_dir(root.join("boot")).map_err(|e| format!("the image's /boot: {e}"))?;
    let mut kernel = None;
    let mut initrd = None;
    for e in boot.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("vmlinuz-") {
            kernel = Some(e.path());
        } else if n.starts_with("initrd.img-") {
            initrd = Some(e.path());
        }
    }
    let (Some(kernel), Some(initrd)) = (kernel, initrd) else {
        return Err("the image has no kernel or initramfs in /boot (linux-image-cloud-amd64, initramfs-tools)".into());
    };
    std::fs::copy(&kernel, dir.join("vmlinuz")).map_err(|e| format!("copying the kernel: {e}"))?;
    std::fs::copy(&initrd, dir.join("initrd.img")).map_err(|e| format!("copying the initramfs: {e}"))?;
    let raw = dir.join("disk.raw");
    let run = |what: &str, c: &mut std::process::Command| -> Result<(), String> {
        let out = c.output().map_err(|e| format!("{what}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(())
    };
    run(
        "mkfs.ext4 (e2fsprogs)",
        std::process::Command::new("mkfs.ext4").args(["-q", "-F", "-L", "vnxroot", "-d"]).arg(root).arg(&raw).arg("2G"),
    )?;
    run(
        "qemu-img convert (qemu-utils)",
        std::process::Command::new("qemu-img").args(["convert", "-O", "qcow2"]).arg(&raw).arg(dir.join("disk.qcow2")),
    )?;
    let _ = std::fs::remove_file(&raw);
    Ok(())
}

pub fn finish(dir: &Path, recipe: &Recipe) -> Result<(), String> {
    rootfs::write_recipe(&recipe_file(dir), recipe)
}

pub fn remove(name: &str) -> Result<(), String> {
    rootfs::remove_built(&dir(name)?, built(name).is_some(), &format!("image `{name}`"), "vnx image list")
}
