//! `vnx-init --serve`: run by vnx once per run to start its `ns` nodes: it reads one request
//! a line on stdin and forks a child per node that makes the node's namespaces and becomes its
//! PID 1; see `vnx_providers::starter`. It links nothing it does not use, so it starts fast.

fn main() {
    // A node whose vnx went away must not linger half-started: replying to a closed pipe ends
    // it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args != ["--serve"] {
        eprintln!("vnx-init: expected --serve (vnx starts this program; it is not for people)");
        std::process::exit(2);
    }
    vnx_providers::starter::serve_main()
}
