// mimalloc: a 10,000-node plan is tens of thousands of small maps and strings made and freed;
// glibc's malloc was a fifth of the planning thread's samples (`perf record -g` of `vnx plan`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`vnx … | head`)
    // instead of failing to print. Rust ignores SIGPIPE by default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // glibc gives each thread that allocates a heap ("arena") of its own, up to 8 per core, and
    // keeps them: Rust's allocations go to mimalloc, but SQLite and the other C code still use
    // glibc's malloc from tokio's workers and refresh's reader threads. Two arenas are enough.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    std::process::exit(vnx::cli::main());
}
