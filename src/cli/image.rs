//! `vnx image build|list|rm`: VM images made here from Debian's archive (`ops/image.rs`).

use crate::ops::{image, rootfs};

/// Virtual machine images, built from Debian's archive.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx image build rootfs_kvm            (what VNX's KVM scenarios name: simple_debian.xml, tutorial_ubuntu.xml, …)\n  vnx image build deb --packages frr\n  vnx image list\n\nA scenario names one by path (/var/lib/vnx/images/NAME) or by NAME: <filesystem type=\"cow\">deb</filesystem>.\nThe image boots its own kernel; vnx's agent in it runs the scenario's configuration at boot."
)]
pub struct ImageCmd {
    #[command(subcommand)]
    pub what: ImageWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum ImageWhat {
    /// Build a bootable Debian qcow2 image with vnx's guest agent (nothing to do when it is
    /// built already with the same suite and packages).
    Build(super::rootfs::BuildArgs),
    /// List the built images.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a built image.
    Rm { name: String },
}

pub fn run(c: ImageCmd) -> i32 {
    match c.what {
        ImageWhat::Build(b) => build(&b),
        ImageWhat::List { json } => {
            super::rootfs::print_list(&image::list(), &image::store(), json, "images", "vnx image");
            super::EXIT_OK
        }
        ImageWhat::Rm { name } => match image::remove(&name) {
            Ok(()) => {
                println!("Removed image {name}.");
                super::EXIT_OK
            }
            Err(e) => super::fail(&e),
        },
    }
}

fn build(b: &super::rootfs::BuildArgs) -> i32 {
    let (name, extra, suite, mirror, force, json) =
        (b.name.as_str(), &b.packages, b.suite.as_deref(), b.mirror.as_deref(), b.force, b.json);
    let recipe = match image::recipe(name, suite, extra) {
        Ok(r) => r,
        Err(e) => return super::fail(&e),
    };
    let Ok(target) = image::dir(name) else { return super::fail("bad name") };
    if !force && image::built(name).as_ref() == Some(&recipe) {
        return super::rootfs::up_to_date("Image", name, &target, json);
    }
    for (tool, pkg) in [("mmdebstrap", "mmdebstrap"), ("mkfs.ext4", "e2fsprogs"), ("qemu-img", "qemu-utils")] {
        if super::doctor::tool(tool).is_none() && !std::path::Path::new("/sbin").join(tool).exists() {
            return super::fail(&format!(
                "building an image needs {tool}: apt-get install --no-install-recommends {pkg}"
            ));
        }
    }
    let work = image::store().join(format!(".{name}.building-{}", std::process::id()));
    let root = work.join("root");
    for d in [&rootfs::cache(), &work] {
        if let Err(e) = std::fs::create_dir_all(d) {
            return super::fail(&format!("{}: {e}", d.display()));
        }
    }
    let t0 = std::time::Instant::now();
    eprintln!("Building image {name}: Debian {} with {}", recipe.suite, recipe.packages.join(", "));
    let counts = super::rootfs::run_mmdebstrap(rootfs::mmdebstrap(&recipe, &root, &rootfs::cache(), mirror), t0);
    let (fetched, installed) = match counts {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return super::fail(&format!("building {name}: {e}"));
        }
    };
    eprintln!("  {:>5.1}s making the disk (ext4, qcow2)", t0.elapsed().as_secs_f64());
    let made = image::assemble(&root, &work).and_then(|()| image::finish(&work, &recipe));
    let _ = std::fs::remove_dir_all(&root);
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&work);
        return super::fail(&format!("building {name}: {e}"));
    }
    let built = super::rootfs::Built { fetched, installed, seconds: t0.elapsed().as_secs_f64() };
    super::rootfs::put_in_place("image", name, &work, &target, built, json)
}
