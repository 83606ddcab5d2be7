fn main() {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`vnx … | head`)
    // instead of failing to print. Rust ignores SIGPIPE by default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(vnx::cli::main());
}
