/* An `ns` node's PID 1 once the node is set up (vnx's `ns::init_main` execs it): reaps
 * whatever ends up here, and nothing else. No C library: a program that maps three pages starts
 * in some 40 microseconds where glibc's start-up probes the CPU (a trap to the hypervisor in a
 * virtual machine), and a node's init that stayed a fork of vnx's node server kept that
 * server's pages, shared copy-on-write by every node (page tables, and a reverse-map walk per
 * sampled page as long as the lab for the kernel's page scanner). x86-64 only (build.rs). */

#define SYS_rt_sigprocmask 14
#define SYS_wait4 61
#define SYS_rt_sigtimedwait 128
#define SYS_prctl 157
#define PR_SET_NAME 15
#define SIG_BLOCK 0
#define WNOHANG 1
#define SIGCHLD 17

static long sys4(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

void _start(void) {
    unsigned long chld = 1UL << (SIGCHLD - 1);
    /* Named as before the exec (the file is a memfd): `vnx show` lists it by this name. */
    sys4(SYS_prctl, PR_SET_NAME, (long)"vnx-init", 0, 0);
    /* SIGCHLD blocked, so it stays pending until taken: a daemon started through nsenter
     * becomes a child here only when its parent exits, long after a wait found none. */
    sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&chld, 0, 8);
    for (;;) {
        while (sys4(SYS_wait4, -1, 0, WNOHANG, 0) > 0) {
        }
        sys4(SYS_rt_sigtimedwait, (long)&chld, 0, 0, 8);
    }
}
