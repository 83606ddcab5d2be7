//! Nodes' inits started by one forking server per vnx run, not one program run per node.
//!
//! Running a program costs this machine about a millisecond: `posix_spawn` of `vnx-init` and
//! waiting for it took 1150 µs, of a static C program that does nothing 700 µs, where `fork` of a
//! small process took 210 µs. Most of it is the dynamic loader and glibc's probe of the CPU at
//! every start (`cpuid`, which traps to the hypervisor in a virtual machine): `perf record -a -g`
//! of a 10,000-node apply found `handle_amd`, `init_cpu_features` and the loader's relocations in
//! `vnx-init` beside `execve` and the exits. So vnx runs `vnx-init --serve` once ([`Starter`]) and
//! the server forks a child per node, which does what a `vnx-init` run did ([`ns::init_main`]).
//!
//! The protocol: vnx writes one JSON line per node ([`Request`]) to the server's stdin; each child
//! answers on the server's stdout with one line, `ID ready PID` or `ID error MESSAGE`, written in
//! one call of less than PIPE_BUF bytes, so that children's lines never interleave
//! ([`ns::reply`]). The server ends when its stdin does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::ns::{self, NodeSpec};
use crate::{Error, Result};

/// One node to start.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub spec: NodeSpec,
}

/// Replies awaited, by request id; `None` once the server has gone.
type Waiting = Arc<Mutex<Option<HashMap<u64, mpsc::Sender<String>>>>>;

/// vnx's end of a running server.
pub struct Starter {
    stdin: Mutex<Option<ChildStdin>>,
    waiting: Waiting,
    next: AtomicU64,
    child: Mutex<Child>,
}

impl Starter {
    /// Runs the server: `exe --serve` (`vnx-init`), or `exe __init --serve` (vnx itself).
    pub fn start(exe: &Path) -> Result<Starter> {
        let mut cmd = Command::new(exe);
        if exe.file_name().is_none_or(|n| n != "vnx-init") {
            cmd.arg("__init");
        }
        cmd.arg("--serve").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| Error::Node(format!("starting {}: {e}", exe.display())))?;
        let stdout = child.stdout.take().expect("piped");
        let waiting: Waiting = Arc::new(Mutex::new(Some(HashMap::new())));
        let w = waiting.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                let Some((id, rest)) = line.split_once(' ') else { continue };
                let Ok(id) = id.parse::<u64>() else { continue };
                let tx = w.lock().unwrap_or_else(|p| p.into_inner()).as_mut().and_then(|m| m.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send(rest.to_string());
                }
            }
            // The server is gone: whoever still waits gets an error (its sender dropped).
            w.lock().unwrap_or_else(|p| p.into_inner()).take();
        });
        Ok(Starter {
            stdin: Mutex::new(child.stdin.take()),
            waiting,
            next: AtomicU64::new(1),
            child: Mutex::new(child),
        })
    }

    /// Whether the server still answers.
    pub fn alive(&self) -> bool {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Asks for a node and waits for its answer: `ready PID` or `error MESSAGE`.
    pub fn request(&self, spec: &NodeSpec) -> Result<String> {
        let gone = || Error::Node("the server starting nodes (vnx-init --serve) has exited".into());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).as_mut().ok_or_else(gone)?.insert(id, tx);
        let mut line = serde_json::to_string(&Request { id, spec: spec.clone() })
            .map_err(|e| Error::Node(format!("a node's request: {e}")))?;
        line.push('\n');
        let sent = match self.stdin.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).map_err(|e| Error::io("writing to vnx-init --serve", e)),
            None => Err(gone()),
        };
        if let Err(e) = sent {
            if let Some(m) = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                m.remove(&id);
            }
            return Err(e);
        }
        rx.recv().map_err(|_| gone())
    }
}

impl Drop for Starter {
    /// Ends the server (its stdin closed) and waits for it, so nothing of vnx's outlives it.
    fn drop(&mut self) {
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).wait();
    }
}

/// The server (`vnx-init --serve`): forks a child per request line until its stdin ends. It is
/// single-threaded, so a fork copies only it. It reaps its children, and answers for a child
/// that ended without success (killed, or panicked before it could say why): its caller would
/// wait for ever otherwise. (A child that answered and then failed is answered twice; vnx
/// takes the first answer.)
pub fn serve_main() -> ! {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    // Nothing vnx's own caller left open reaches the nodes.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    ns::load_reaper();
    let mut children: HashMap<i32, u64> = HashMap::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Woken by a request, or every 100 ms to reap.
        let mut fds = [libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 }];
        if unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) } > 0 {
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted) {
                break;
            }
            pending.extend_from_slice(&buf[..n.max(0) as usize]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Some((pid, id)) = fork_for(&line[..end]) {
                    children.insert(pid, id);
                }
            }
        }
        loop {
            let (pid, why) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, 0)) => (pid, None),
                Ok(WaitStatus::Exited(pid, code)) => (pid, Some(format!("ended with status {code}"))),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Some(format!("was killed ({sig})"))),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            if let (Some(id), Some(why)) = (children.remove(&pid.as_raw()), why) {
                ns::reply(&format!("{id} error the process starting the node {why}"));
            }
        }
    }
    std::process::exit(0)
}

/// Forks a child for one request line; returns its pid and the request's id.
fn fork_for(line: &[u8]) -> Option<(i32, u64)> {
    let req: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            // Without an id no one can be answered: say it where vnx's errors go.
            eprintln!("vnx-init --serve: an unreadable request: {e}");
            return None;
        }
    };
    // Safety: this process is single-threaded.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => child_main(req),
        Ok(nix::unistd::ForkResult::Parent { child }) => Some((child.as_raw(), req.id)),
        Err(e) => {
            ns::reply(&format!("{} error fork: {e}", req.id));
            None
        }
    }
}

/// A child of the server: becomes what `vnx-init` was for one node.
fn child_main(req: Request) -> ! {
    use std::os::fd::AsRawFd;
    ns::set_reply_tag(format!("{} ", req.id));
    // The requests are the server's: the node gets nothing to read. Its errors go to its log.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
    let log = std::fs::OpenOptions::new().append(true).create(true).open(req.spec.dir.join("init.log"));
    if let Ok(log) = log {
        unsafe { libc::dup2(log.as_raw_fd(), 2) };
    }
    let s = &req.spec;
    ns::init_main(&s.hostname, &s.rootfs, &s.dir, &s.hosts, s.netns.as_deref(), s.mounts_from.as_deref())
}
