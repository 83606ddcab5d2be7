// mimalloc: a 10,000-node plan is tens of thousands of small maps and strings made and freed;
// glibc's malloc was a fifth of the planning thread's samples (`perf record -g` of `vnx plan`).
// Built without asking for transparent huge pages (`no_thp`): a plan touches its ~300 MB once,
// and on this project's machine (a virtual machine whose free memory goes back to the
// hypervisor) zeroing those pages was a third of the plan's samples (`clear_page_erms` under
// `do_huge_pmd_anonymous_page`); a first touch costs ~3 ms a MB in huge pages against
// 0.4-1.1 ms in 4 KiB ones. A plan of a 10,000-node lab took 19 % less CPU without them.
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
