//! The machine's kernel limits that a lab's size meets, read from /proc (see `plan::limits`
//! for what is checked against them).

use crate::plan::limits::HostLimits;

fn number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The host's limits and what is in use of them now.
pub fn host() -> HostLimits {
    // /proc/loadavg's fourth field: runnable/total scheduling entities (threads), each with an id.
    let threads_now = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().nth(3)?.split_once('/')?.1.parse().ok());
    let mounts_now = std::fs::read_to_string("/proc/self/mountinfo").ok().map(|m| m.lines().count() as u64);
    let mem_available_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines().find_map(|l| l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim().parse().ok())
    });
    HostLimits {
        pid_max: number("/proc/sys/kernel/pid_max"),
        threads_now,
        max_net_namespaces: number("/proc/sys/user/max_net_namespaces"),
        max_mnt_namespaces: number("/proc/sys/user/max_mnt_namespaces"),
        max_pid_namespaces: number("/proc/sys/user/max_pid_namespaces"),
        mount_max: number("/proc/sys/fs/mount-max"),
        mounts_now,
        mem_available_kib,
    }
}
