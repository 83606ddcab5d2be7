//! Netlink sockets made in other network namespaces, by one long-lived thread.
//!
//! A socket belongs to the network namespace of the thread that makes it, and entering a
//! namespace changes only the calling thread. vnx made each node's socket on a new thread that
//! entered the node's namespace and ended: a thread for every interface, address and route it
//! made (`perf record -a -g` of a 10,000-node apply: 900 samples in `clone3`, half of them the
//! kernel zeroing new threads' stacks). One thread now enters the namespace, makes the socket
//! and goes back to its own namespace, for each request in turn. Should it ever fail to go
//! back, it stops, and each socket is made on a thread of its own as before.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::{mpsc, OnceLock};

use nix::sched::{setns, CloneFlags};

use crate::{Error, Result};

/// A namespace, and where to send the socket made in it.
type Job = (OwnedFd, tokio::sync::oneshot::Sender<Result<OwnedFd>>);

static MAKER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();

/// A NETLINK_ROUTE socket (non-blocking, close-on-exec) in the network namespace `netns`.
pub async fn route_socket_in(netns: OwnedFd) -> Result<OwnedFd> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = match MAKER.get_or_init(start) {
        Some(maker) => match maker.send((netns, tx)) {
            Ok(()) => None,
            Err(mpsc::SendError(job)) => Some(job),
        },
        None => Some((netns, tx)),
    };
    if let Some((netns, tx)) = job {
        std::thread::spawn(move || {
            let _ = tx.send(make_in(&netns));
        });
    }
    rx.await.map_err(|_| Error::Other("the thread making netlink sockets ended".into()))?
}

/// Starts the thread; `None` when it cannot be (each socket then gets a thread of its own).
fn start() -> Option<mpsc::Sender<Job>> {
    let (tx, jobs) = mpsc::channel::<Job>();
    let home = crate::ns::open_ns("/proc/thread-self/ns/net").ok()?;
    std::thread::Builder::new()
        .name("vnx-netns-sock".into())
        .spawn(move || {
            for (netns, reply) in jobs {
                let made = make_in(&netns);
                // Back before answering: a thread sitting in a node's namespace keeps it alive
                // after the node is destroyed. Without a way back, stop (the senders then fall
                // back to a thread each, which ends with its socket).
                let back = setns(home.as_fd(), CloneFlags::CLONE_NEWNET);
                let _ = reply.send(made);
                if back.is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some(tx)
}

/// Enters `netns` (this thread only) and makes the socket there.
fn make_in(netns: &OwnedFd) -> Result<OwnedFd> {
    setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::netlink("entering the node's network namespace", e))?;
    let fd = unsafe {
        libc::socket(libc::PF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)
    };
    if fd < 0 {
        return Err(Error::netlink("opening a netlink socket", std::io::Error::last_os_error()));
    }
    // SAFETY: a descriptor just made by socket(2), owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each socket is made in the namespace asked for, and the maker goes back to its own
    /// before it answers (sitting in a node's namespace would keep it alive after a destroy).
    #[tokio::test]
    async fn sockets_are_made_in_the_namespace_asked_for() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let ino = |fd: &OwnedFd| nix::sys::stat::fstat(fd).unwrap().st_ino;
        let ns_of_socket = |fd: &OwnedFd| {
            // SIOCGSKNS: a descriptor of the socket's network namespace.
            let ns = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(fd), 0x894C) };
            assert!(ns >= 0, "SIOCGSKNS: {}", std::io::Error::last_os_error());
            ino(&unsafe { OwnedFd::from_raw_fd(ns) })
        };
        let open = |path: &str| crate::ns::open_ns(path).unwrap();
        let home = ino(&open("/proc/self/ns/net"));
        // Another namespace, made by a thread of its own and held by a descriptor.
        let other = std::thread::spawn(move || {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).unwrap();
            open("/proc/thread-self/ns/net")
        })
        .join()
        .unwrap();
        assert_ne!(ino(&other), home);
        for _ in 0..3 {
            let socket = route_socket_in(other.try_clone().unwrap()).await.unwrap();
            assert_eq!(ns_of_socket(&socket), ino(&other));
            assert_eq!(ns_of_socket(&route_socket_in(open("/proc/self/ns/net")).await.unwrap()), home);
        }
        route_socket_in(other.try_clone().unwrap()).await.unwrap();
        let maker = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|t| t.unwrap().path())
            .find(|t| std::fs::read_to_string(t.join("comm")).unwrap().trim() == "vnx-netns-sock")
            .expect("the maker thread");
        assert_eq!(
            ino(&open(maker.join("ns/net").to_str().unwrap())),
            home,
            "the maker stayed in the node's namespace"
        );
    }
}
