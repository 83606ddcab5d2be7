//! `vnx-init --hostname NAME --rootfs DIR --dir DIR [--host LINE]... [--netns PATH]
//! [--mounts-from PATH]`: started by
//! vnx to make an `ns` node's namespaces and become its PID 1; see `vnx_providers::ns`. It
//! parses its few arguments by hand and links nothing it does not use, so it starts in about a
//! millisecond.

use std::path::PathBuf;

fn main() {
    // A node whose vnx went away must not linger half-started: writing "ready" to a closed
    // pipe ends it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let (mut hostname, mut rootfs, mut dir, mut hosts) = (None, None, None, Vec::new());
    let (mut netns, mut mounts_from) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--hostname", Some(v)) => hostname = Some(v),
            ("--rootfs", Some(v)) => rootfs = Some(PathBuf::from(v)),
            ("--dir", Some(v)) => dir = Some(PathBuf::from(v)),
            ("--host", Some(v)) => hosts.push(v),
            ("--netns", Some(v)) => netns = Some(PathBuf::from(v)),
            ("--mounts-from", Some(v)) => mounts_from = Some(PathBuf::from(v)),
            (other, _) => {
                eprintln!("vnx-init: unexpected argument `{other}` (vnx starts this program; it is not for people)");
                std::process::exit(2);
            }
        }
    }
    let (Some(hostname), Some(rootfs), Some(dir)) = (hostname, rootfs, dir) else {
        eprintln!("vnx-init: --hostname, --rootfs and --dir are needed");
        std::process::exit(2);
    };
    vnx_providers::ns::init_main(&hostname, &rootfs, &dir, &hosts, netns.as_deref(), mounts_from.as_deref())
}
