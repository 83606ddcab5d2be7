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
    let mounts_now = mounts_listed()
        .or_else(|| std::fs::read_to_string("/proc/self/mountinfo").ok().map(|m| m.lines().count() as u64));
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

/// How many mounts vnx's mount namespace holds, by `listmount(2)` (Linux 6.8): their ids only.
/// /proc/self/mountinfo renders each mount's paths and options as text, and a lab's every node
/// has a mount there (its name in /run/netns): reading it took 27-28 ms of every plan at
/// 10,000 nodes. `None` where the call is missing or refused (then mountinfo is read).
fn mounts_listed() -> Option<u64> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        /// `struct mnt_id_req` (include/uapi/linux/mount.h), its first version.
        #[repr(C)]
        struct MntIdReq {
            size: u32,
            spare: u32,
            mnt_id: u64,
            /// The last id already listed: the next call goes on after it.
            param: u64,
        }
        const SYS_LISTMOUNT: libc::c_long = 458;
        /// Every mount of the caller's namespace, below its root.
        const LSMT_ROOT: u64 = u64::MAX;
        let mut ids = vec![0u64; 4096];
        let (mut count, mut last) = (0u64, 0u64);
        loop {
            let req =
                MntIdReq { size: std::mem::size_of::<MntIdReq>() as u32, spare: 0, mnt_id: LSMT_ROOT, param: last };
            let n = unsafe { libc::syscall(SYS_LISTMOUNT, &req, ids.as_mut_ptr(), ids.len(), 0u32) };
            if n < 0 {
                return None;
            }
            let got = &ids[..n as usize];
            count += got.len() as u64;
            match got.last() {
                Some(&id) if got.len() == ids.len() => last = id,
                _ => return Some(count),
            }
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    None
}

#[cfg(test)]
mod tests {
    /// The listed count is mountinfo's (nothing mounts or unmounts in this test's namespace
    /// meanwhile: it has one of its own).
    #[test]
    fn mounts_listed_counts_what_mountinfo_lists() {
        let Some(listed) = super::mounts_listed() else {
            eprintln!("skipped: listmount(2) is not there (Linux before 6.8) or refused");
            return;
        };
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        assert_eq!(listed, info.lines().count() as u64);
    }
}
