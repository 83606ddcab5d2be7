//! Builds the nodes' reaper (`src/reaper.c`: a static program without a C library) where the
//! target is x86-64 Linux and a C compiler is at hand; without it, a node's init stays the
//! fork of vnx's node server that set it up (`cfg(vnx_reaper)` unset).

fn main() {
    println!("cargo:rustc-check-cfg=cfg(vnx_reaper)");
    println!("cargo:rerun-if-changed=src/reaper.c");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch != "x86_64" || os != "linux" {
        return;
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("reaper");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = std::process::Command::new(cc)
        .args(["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie", "-o"])
        .arg(&out)
        .arg("src/reaper.c")
        .status()
        .is_ok_and(|s| s.success());
    if built {
        println!("cargo:rustc-cfg=vnx_reaper");
    } else {
        println!("cargo:warning=the nodes' reaper (src/reaper.c) was not built: nodes' inits stay forks of vnx-init");
    }
}
