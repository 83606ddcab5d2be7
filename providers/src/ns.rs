//! `ns` nodes: a long-lived init process in its own UTS, mount, IPC and PID namespaces, whose
//! root is a copy-on-write overlay of the host's root (or of the scenario's root filesystem),
//! holding the node's network namespace open (also bound to a name in /run/netns).
//!
//! The init itself lives in vnx's network namespace, not the node's ([`NETNS_FD`] says why);
//! whatever runs in the node enters the node's namespace by the file the init holds.
//!
//! How a node starts: a child of the lab's node server (`vnx-init --serve`, or vnx itself as
//! `vnx __init --serve`: [`crate::starter`]) makes the node's namespaces and forks the node's
//! PID 1 ([`init_main`]), which mounts the overlay, moves it onto `/` ([`stage`] says how), sets
//! the hostname and says "ready"; the intermediate replies with the init's pid and exits, so the
//! node outlives vnx. Stopping a node is killing its init: the kernel tears
//! down the PID namespace and everything in it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, pivot_root, sethostname, ForkResult, Pid};

use crate::starter::Starter;
use crate::{Error, Result};

/// The running init of a node: its pid and its start time (so a reused pid is not mistaken
/// for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Init {
    pub pid: i32,
    pub start_time: u64,
}

/// What a node is made of.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NodeSpec {
    pub hostname: String,
    /// The lower layer of the node's root: `/` (the host's) or a root filesystem directory.
    pub rootfs: PathBuf,
    /// The node's own directory: the overlay's upper and work layers live here.
    pub dir: PathBuf,
    /// Lines for the node's /etc/hosts (after localhost and its own name).
    pub hosts: Vec<String>,
    /// A network namespace to join (a node started again after a shutdown keeps its links);
    /// `None` makes a new one.
    pub netns: Option<PathBuf>,
    /// The mount namespace the node's is copied from ([`MountTemplate::path`]); `None`: vnx's.
    pub mounts_from: Option<PathBuf>,
}

/// A mount namespace to start nodes from: a private copy of vnx's without the network
/// namespaces bound under /run/netns. A node's init copies its mount namespace from here
/// rather than from the host's, where a lab of N nodes has N such binds: copying them (and
/// detaching the copies again after pivot_root) made starting the k-th node cost O(k) under
/// the kernel's namespace lock, a third of the CPU time of a 1000-node apply.
///
/// Held open by this handle only: it goes when vnx does (nodes keep their own copies).
pub struct MountTemplate(OwnedFd);

/// Where a staged mount namespace ([`stage`]) keeps the host's root.
const HOST: &str = "/host";
/// Where a node's init mounts the node's root in a staged namespace, before moving it onto `/`.
const NODE: &str = "/node";

/// Turns the calling thread's private mount namespace into a staged one: its root a small
/// tmpfs (mounted at `at`, a directory this namespace may cover) holding the host's old root at
/// [`HOST`] and an empty [`NODE`]. A node's init, in a copy, mounts the node's root at `NODE`,
/// detaches `HOST` and moves the root onto `/`: no `pivot_root` per node, which walks every
/// thread of the machine (`chroot_fs_refs`) under the task list's lock, so that starting the
/// k-th node cost O(k) (`perf record -g` of a 4000-node apply: 17× the samples of a 1000-node
/// one). What is left under the node's root is this tmpfs, with nothing of the host's.
fn stage(at: &Path) -> std::result::Result<(), String> {
    let fail = |what: &str, e: nix::Error| format!("staging the nodes' mount namespace: {what}: {e}");
    mount(Some("tmpfs"), at, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0700"))
        .map_err(|e| fail("mounting a tmpfs", e))?;
    for d in [HOST, NODE] {
        let p = at.join(&d[1..]);
        std::fs::create_dir(&p).map_err(|e| format!("staging the nodes' mount namespace: {}: {e}", p.display()))?;
    }
    pivot_root(at, &at.join(&HOST[1..])).map_err(|e| fail("pivot_root", e))?;
    std::env::set_current_dir("/").map_err(|e| format!("staging the nodes' mount namespace: chdir /: {e}"))
}

/// Unmounts, in the calling thread's (private) mount namespace, the host's network namespace
/// names: a bind held there would keep a deleted node's namespace alive. A lazy unmount takes
/// a mount's submounts with it, so /run/netns, a mount point as vnx and `ip netns` make it,
/// goes with every bind under it in one call (one call per bind took 0.2 s in a 10,000-node
/// lab, each time a node was added). Binds on a plain directory go one by one.
fn drop_netns_binds() -> Result<()> {
    let under = format!("{NETNS_DIR}/");
    // Mounted on itself too (`ip netns`, vnx): each layer, with what it holds, before mountinfo
    // is read (a lab's every node has a bind there: 28 ms to read at 10,000 nodes).
    while umount2(NETNS_DIR, MntFlags::MNT_DETACH).is_ok() {}
    // Each pass unmounts what it sees; a bind covered by a later mount shows after.
    for _ in 0..8 {
        let info =
            std::fs::read_to_string("/proc/thread-self/mountinfo").map_err(|e| Error::io("reading mountinfo", e))?;
        let binds: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| *p == NETNS_DIR || p.starts_with(&under))
            .collect();
        if binds.is_empty() {
            return Ok(());
        }
        if binds.contains(&NETNS_DIR) {
            // Mounted on itself too (`ip netns`): each layer, with what it holds.
            while umount2(NETNS_DIR, MntFlags::MNT_DETACH).is_ok() {}
        } else {
            for p in binds {
                let _ = umount2(p, MntFlags::MNT_DETACH);
            }
        }
    }
    Ok(())
}

/// A host path as a staged namespace sees it (under [`HOST`]).
fn staged(p: &Path) -> PathBuf {
    Path::new(HOST).join(p.strip_prefix("/").unwrap_or(p))
}

impl MountTemplate {
    /// Made in `at`, a directory of vnx's (the lab's runtime directory) that the template's
    /// namespace covers with its own tmpfs.
    pub fn new(at: &Path) -> Result<MountTemplate> {
        let at = at.to_path_buf();
        // A thread of its own: unsharing the mount namespace changes the calling thread only.
        let made = std::thread::spawn(move || -> Result<OwnedFd> {
            let fail =
                |what: &str, e: nix::Error| Error::Node(format!("making the nodes' mount namespace: {what}: {e}"));
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| fail("unshare", e))?;
            // From here on, nothing done in this namespace reaches the host's.
            mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
                .map_err(|e| fail("making it private", e))?;
            drop_netns_binds()?;
            // Opened first: the host's /proc is under HOST once staged.
            let ns = open_ns("/proc/thread-self/ns/mnt")?;
            stage(&at).map_err(Error::Node)?;
            Ok(ns)
        })
        .join()
        .map_err(|_| Error::Node("making the nodes' mount namespace: the thread panicked".into()))??;
        Ok(MountTemplate(made))
    }

    /// Where a node's init opens it: through this process's table of open files.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), self.0.as_raw_fd()))
    }
}

/// The start time of a process (clock ticks since boot), from /proc/PID/stat.
pub fn start_time(pid: i32) -> Option<u64> {
    start_time_of(&proc_stat(pid)?)
}

/// The text of /proc/PID/stat, read in one call: a refresh reads one per node, and
/// `read_to_string` added a `statx` and a second read to each (`perf record -g` of a
/// 10,000-node plan: reading them was a quarter of the nodes' reads).
fn proc_stat(pid: i32) -> Option<String> {
    stat_text(std::fs::File::open(format!("/proc/{pid}/stat")).ok()?)
}

/// The text of an open /proc/PID/stat ([`proc_stat`]).
fn stat_text(mut f: std::fs::File) -> Option<String> {
    use std::io::Read as _;
    // The line is some 300 bytes; a longer one (a long command name) is read on.
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        let n = f.read(&mut buf[len..]).ok()?;
        len += n;
        if n == 0 || len < buf.len() {
            break;
        }
        buf.resize(buf.len() * 2, 0);
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// The fields of a /proc/PID/stat text after the command name (field 3, the state, first).
fn stat_fields(stat: &str) -> Option<&str> {
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    stat.get(stat.rfind(')')? + 2..)
}

/// The start time in the text of a /proc/PID/stat.
fn start_time_of(stat: &str) -> Option<u64> {
    stat_fields(stat)?.split(' ').nth(19)?.parse().ok()
}

/// Where a node's init holds the node's network namespace open. The init does not live in it:
/// it makes the node's namespace, sets it up, and moves back into vnx's, so that the node's
/// namespace has no process of its own until something runs there. A machine's agents that look
/// at every process's network namespace pay per namespace that has one (this project's CI
/// machines' PID 1 spent a core of the two scanning a 10,000-node lab's, one init in each:
/// 3000 sleeping processes each in a namespace of its own cost it 205 clock ticks in 5 s, the
/// same 3000 in one namespace 12).
pub const NETNS_FD: i32 = 200;

impl Init {
    /// The path of the node's network namespace through its init: the file the init holds
    /// ([`NETNS_FD`]), or, for an init an earlier vnx started in the node's namespace, its own.
    pub fn netns_path(&self) -> String {
        let held = format!("/proc/{}/fd/{NETNS_FD}", self.pid);
        if Path::new(&held).exists() {
            held
        } else {
            format!("/proc/{}/ns/net", self.pid)
        }
    }

    /// The init's one-letter state (`S`, `T` when frozen, …) if it still runs (a zombie waiting
    /// for its reaper does not); one read of /proc/PID/stat.
    fn state(&self) -> Option<char> {
        let stat = proc_stat(self.pid)?;
        let state = stat_fields(&stat)?.chars().next()?;
        (start_time_of(&stat) == Some(self.start_time) && !matches!(state, 'Z' | 'X')).then_some(state)
    }
    /// Whether the node's init still runs.
    pub fn alive(&self) -> bool {
        self.state().is_some()
    }
    /// The node's network namespace (see [`Init::netns_path`]; one open where the init holds it).
    pub fn netns(&self) -> Result<OwnedFd> {
        match std::fs::File::open(format!("/proc/{}/fd/{NETNS_FD}", self.pid)) {
            Ok(f) => Ok(OwnedFd::from(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => open_ns(&format!("/proc/{}/ns/net", self.pid)),
            Err(e) => Err(Error::io(format!("opening the network namespace of init {}", self.pid), e)),
        }
    }
}

pub fn open_ns(path: &str) -> Result<OwnedFd> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(format!("opening {path}"), e))?;
    Ok(OwnedFd::from(f))
}

/// Starts a node through the lab's [`Starter`] (a server forking one child per node); returns
/// its init.
pub fn start(starter: &Starter, spec: &NodeSpec) -> Result<Init> {
    std::fs::create_dir_all(&spec.dir).map_err(|e| Error::Node(format!("creating {}: {e}", spec.dir.display())))?;
    // Empty: the child that starts the node appends its errors here.
    std::fs::File::create(spec.dir.join("init.log")).map_err(|e| Error::io("init log", e))?;
    let line = starter.request(spec)?;
    match line.strip_prefix("ready ").and_then(|p| p.trim().parse::<i32>().ok()) {
        Some(pid) => {
            let start_time =
                start_time(pid).ok_or_else(|| Error::Node(format!("init of {} died at once", spec.hostname)))?;
            Ok(Init { pid, start_time })
        }
        None => {
            let log = std::fs::read_to_string(spec.dir.join("init.log")).unwrap_or_default();
            let line = line.strip_prefix("error ").unwrap_or(&line);
            Err(Error::Node(format!("node {} did not start: {} {}", spec.hostname, line, log.trim())))
        }
    }
}

/// Kills a node's init (and so everything in its PID namespace) without waiting: the kernel
/// takes a few hundred milliseconds here to tear down the node's mounts (RCU grace periods),
/// which a destroy of many nodes need not wait for one by one.
pub fn kill_now(init: &Init) {
    if init.alive() {
        let _ = kill(Pid::from_raw(init.pid), Signal::SIGKILL);
    }
}

/// Stops a node: kills its init (and so everything in its PID namespace) and waits for it.
pub fn stop(init: &Init) {
    if !init.alive() {
        return;
    }
    let _ = kill(Pid::from_raw(init.pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while init.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How a node runs, as `vnx show` and the plan say it (libvirt's words).
pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const SHUTOFF: &str = "shutoff";

/// The processes of the init's PID namespace (the init included).
fn members(init: &Init) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata(format!("/proc/{}/ns/pid", init.pid)) else { return vec![] };
    let Ok(rd) = std::fs::read_dir("/proc") else { return vec![] };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/pid")).is_ok_and(|m| m.dev() == me.dev() && m.ino() == me.ino())
        })
        .collect()
}

/// Whether a running node is frozen (its init stopped by [`freeze`]).
pub fn frozen(init: &Init) -> bool {
    matches!(init.state(), Some('T' | 't'))
}

/// Freezes a node: every process of it stopped (VNX's LXC freeze). The init first, so it
/// cannot reap or start anything meanwhile.
pub fn freeze(init: &Init) {
    let _ = kill(Pid::from_raw(init.pid), Signal::SIGSTOP);
    for pid in members(init) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !frozen(init) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Thaws a frozen node.
pub fn thaw(init: &Init) {
    for pid in members(init) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
    }
    let _ = kill(Pid::from_raw(init.pid), Signal::SIGCONT);
    let deadline = Instant::now() + Duration::from_secs(2);
    while frozen(init) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// How a node runs: its init alive (and frozen or not), or shut off with its network namespace
/// kept under `netns`; `None` when neither exists.
pub fn run_state(init: Option<&Init>, netns: &str) -> Option<&'static str> {
    match init.and_then(Init::state) {
        Some('T' | 't') => Some(PAUSED),
        Some(_) => Some(RUNNING),
        None => bound_netns(netns).map(|_| SHUTOFF),
    }
}

/// The network namespace bound to /run/netns/NAME, if any.
pub fn bound_netns(name: &str) -> Option<PathBuf> {
    open_bound_netns(name).map(|_| PathBuf::from(format!("{NETNS_DIR}/{name}")))
}

/// The network namespace bound to /run/netns/NAME, opened, if any.
pub fn open_bound_netns(name: &str) -> Option<OwnedFd> {
    // A name file with nothing mounted on it is a leftover, not a namespace.
    let f = OwnedFd::from(std::fs::File::open(format!("{NETNS_DIR}/{name}")).ok()?);
    let is_ns = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE) } == libc::CLONE_NEWNET;
    is_ns.then_some(f)
}

/// `NS_GET_NSTYPE` from linux/nsfs.h: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Kills any init left over for this node directory (an apply killed between starting a
/// node and recording its pid leaves one). A fresh node has no directory: nothing to do. The
/// init's pid is in `init.pid`; without that file, every process's command line is read (it
/// names the dir), which costs O(processes).
pub fn kill_leftovers(dir: &Path) {
    if !dir.exists() {
        return;
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("init.pid")) {
        let mut w = text.split_whitespace().map(|x| x.parse::<u64>().ok());
        if let (Some(Some(pid)), Some(Some(start_time))) = (w.next(), w.next()) {
            kill_now(&Init { pid: pid as i32, start_time });
            return;
        }
    }
    let needle = format!("--dir\0{}\0", dir.display());
    let Ok(rd) = std::fs::read_dir("/proc") else { return };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd);
        if (cmd.contains("\0__init\0") || cmd.contains("vnx-init\0")) && cmd.contains(&needle) {
            if let Some(st) = start_time(pid) {
                kill_now(&Init { pid, start_time: st });
            }
        }
    }
}

/// Where `ns` nodes' directories (overlay layers, init's log and pid) live: one tmpfs per lab,
/// `/run/vnx/labs/SCENARIO`. The layers are scratch (a node built anew starts from a clean
/// upper layer, and a reboot takes the nodes' namespaces anyway), and making and removing
/// thousands of directories on a disk file system costs seconds (ext4's inode allocator) where
/// tmpfs costs nothing. A machine whose /run is a tmpfs already needs no mount of ours.
pub fn run_dir(scenario: &str) -> Result<PathBuf> {
    crate::names::child(Path::new(RUN_LABS), "scenario", scenario)
}

/// Where labs' runtime directories live.
pub const RUN_LABS: &str = "/run/vnx/labs";

/// Makes a lab's runtime directory, mounting a tmpfs of its own on it unless it is on one.
pub fn ensure_run_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Node(format!("creating {}: {e}", dir.display())))?;
    if !on_tmpfs(dir) {
        mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0700"))
            .map_err(|e| Error::Node(format!("mounting a tmpfs on {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Whether `dir` is on a tmpfs (a lab's runtime directory is, when ready).
pub fn on_tmpfs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

/// Removes a lab's runtime directory, and its tmpfs if vnx mounted one (when /run is a tmpfs
/// there is no mount of ours and the unmount just fails).
pub fn release_run_dir(dir: &Path) {
    let _ = umount2(dir, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(dir);
}

/// Removes a node's directory (its overlay layers).
pub fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

const NETNS_DIR: &str = "/run/netns";

/// Why names bound in /run/netns here would not be seen by the machine, if they would not.
///
/// `ip netns exec` runs its command in a mount namespace of its own whose mounts are slaves of
/// the machine's: a name bound there is invisible outside and vanishes with the command (an
/// apply said "complete" and every node was gone). Names reach the machine when vnx shares PID
/// 1's mount namespace, or when the mount holding /run/netns is in a peer group that PID 1's
/// namespace also has (`shared:N` in both mountinfo files).
pub fn mount_namespace_problem() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let ns = |pid: &str| std::fs::metadata(format!("/proc/{pid}/ns/mnt")).ok().map(|m| (m.dev(), m.ino()));
    if ns("self").is_some() && ns("self") == ns("1") {
        return None;
    }
    // The mountinfo files are read line by line, up to the lines sought: a lab's every node
    // has a mount there (its bound namespace), and reading both whole took 56 ms at 10,000.
    let lines_of = |path: &str| {
        let f = std::fs::File::open(path).ok();
        f.into_iter().flat_map(|f| BufReader::new(f).lines().map_while(|l| l.ok()))
    };
    fn mount_id(line: &str) -> Option<&str> {
        line.split(' ').next()
    }
    // The mount holding /run/netns: its line in this namespace's mountinfo.
    let holder = holder_mount_id()
        .map(|id| id.to_string())
        .and_then(|id| lines_of("/proc/self/mountinfo").find(|l| mount_id(l) == Some(id.as_str())));
    let mut pid1 = lines_of("/proc/1/mountinfo").peekable();
    // Nothing to compare with (no /proc/1/mountinfo to read): not a reason to refuse.
    pid1.peek()?;
    // The same mount (mount ids are never reused across namespaces: a new namespace's copies
    // get new ones), for where PID 1's namespace link cannot be read (a container's PID 1 that
    // is not dumpable), or a mount shared with PID 1's.
    let found = holder.as_deref().is_some_and(|h| {
        let groups: Vec<&str> = peer_groups(h).collect();
        pid1.any(|p| mount_id(&p) == mount_id(h) || peer_groups(&p).any(|g| groups.contains(&g)))
    });
    (!found).then(|| {
        format!(
            "vnx runs in a mount namespace of its own (as `ip netns exec` makes) whose {NETNS_DIR} does not \
             reach the machine's: the namespaces it would bind there would vanish when it exits. Enter only \
             the network namespace instead: `nsenter --net=/run/netns/NS vnx …`"
        )
    })
}

/// The id of the mount that holds /run/netns (its own, when it is a mount point), as
/// mountinfo numbers mounts: `statx` of the deepest of it and its parents that exists.
fn holder_mount_id() -> Option<u64> {
    let mut path = Path::new(NETNS_DIR);
    while !path.exists() {
        path = path.parent()?;
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_MNT_ID, &mut stx) } == 0;
    (ok && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// A mountinfo line's `shared:N` peer groups (among its optional fields).
fn peer_groups(line: &str) -> impl Iterator<Item = &str> {
    line.split(' ').skip(6).take_while(|f| *f != "-").filter_map(|f| f.strip_prefix("shared:"))
}

/// Makes /run/netns a shared mount point, as iproute2 does, so names bound there are seen by
/// every mount namespace; once per process.
fn prepare_netns_dir() -> Result<()> {
    static READY: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    if !*ready {
        share_netns_dir()?;
        *ready = true;
    }
    Ok(())
}

fn share_netns_dir() -> Result<()> {
    std::fs::create_dir_all(NETNS_DIR).map_err(|e| Error::io(NETNS_DIR.to_string(), e))?;
    // Where /run is on a disk rather than a tmpfs (as on this project's CI machines), each
    // name bound there is a file made on that disk: on ext4 without a journal, making one costs
    // a scan past every inode deleted in the last minutes (`recently_deleted`), so a lab made
    // again after a destroy paid O(nodes) per node (`perf record -g`: 29× the samples for 4× the
    // nodes). An empty /run/netns there gets a tmpfs, as it has on machines whose /run is one;
    // one with names in it is left as it is.
    let on_disk =
        nix::sys::statfs::statfs(NETNS_DIR).is_ok_and(|s| s.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC);
    let empty = std::fs::read_dir(NETNS_DIR).is_ok_and(|mut d| d.next().is_none());
    if on_disk && empty {
        mount(Some("tmpfs"), NETNS_DIR, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
            .map_err(|e| Error::io(format!("mounting a tmpfs on {NETNS_DIR}"), e))?;
    }
    let shared = mount(None::<&str>, NETNS_DIR, None::<&str>, MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>);
    if shared.is_err() {
        mount(Some(NETNS_DIR), NETNS_DIR, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| Error::io(format!("bind-mounting {NETNS_DIR}"), e))?;
        mount(None::<&str>, NETNS_DIR, None::<&str>, MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| Error::io(format!("sharing {NETNS_DIR}"), e))?;
    }
    Ok(())
}

/// Binds the init's network namespace to /run/netns/NAME (`ip netns exec NAME` works then),
/// marked with `mark` first (see [`clear_netns_name`]).
pub fn bind_netns(init: &Init, name: &str, mark: &str) -> Result<()> {
    prepare_netns_dir()?;
    let path = format!("{NETNS_DIR}/{name}");
    if netns_bound_to(init, name) {
        return Ok(());
    }
    let m = mark.to_string();
    in_netns(init.netns()?, move || crate::netlink::set_lo_alias_here(&m))?;
    clear_netns_name(name, mark)?;
    std::fs::File::create(&path).map_err(|e| Error::io(path.to_string(), e))?;
    mount(Some(init.netns_path().as_str()), path.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| Error::io(format!("binding {path}"), e))
}

/// Makes a new, empty network namespace bound to /run/netns/NAME (from a thread of its own:
/// entering a namespace changes only the calling thread), marked with `mark` before the name is
/// bound (see [`clear_netns_name`]). `sysctls` (`net/…` keys) are set in it before anything is
/// created there.
pub fn new_netns(name: &str, mark: &str, sysctls: &'static [(&'static str, &'static str)]) -> Result<()> {
    prepare_netns_dir()?;
    clear_netns_name(name, mark)?;
    let path = format!("{NETNS_DIR}/{name}");
    std::fs::File::create(&path).map_err(|e| Error::io(path.to_string(), e))?;
    let p = path.clone();
    let mark = mark.to_string();
    std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Error::io("a new network namespace", e))?;
        crate::netlink::set_lo_alias_here(&mark)?;
        for (key, value) in sysctls {
            std::fs::write(format!("/proc/sys/{key}"), value).map_err(|e| Error::io(format!("sysctl {key}"), e))?;
        }
        mount(Some("/proc/thread-self/ns/net"), p.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| Error::io(format!("binding {p}"), e))
    })
    .join()
    .map_err(|_| Error::Node("namespace thread panicked".into()))?
}

/// Whether /run/netns/NAME is the init's network namespace.
pub fn netns_bound_to(init: &Init, name: &str) -> bool {
    init.netns().is_ok_and(|fd| is_bound_to(&fd, name))
}

/// Whether /run/netns/NAME is the namespace `netns` (open already: a refresh reads it next).
pub fn is_bound_to(netns: &OwnedFd, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(a) = std::fs::metadata(format!("{NETNS_DIR}/{name}")) else { return false };
    let mut b: libc::stat = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstat(netns.as_raw_fd(), &mut b) } == 0;
    ok && a.dev() == b.st_dev && a.ino() == b.st_ino
}

/// The mark of the namespace bound to /run/netns/NAME (its `lo`'s alias), if one is bound.
pub fn netns_mark(name: &str) -> Option<Option<String>> {
    let fd = open_bound_netns(name)?;
    in_netns(fd, crate::netlink::lo_alias_here).ok()
}

/// Makes way for binding /run/netns/NAME to a namespace marked `mark`: a namespace bound there
/// with that mark is vnx's own leftover (an interrupted apply) and is unbound; one without it
/// is not vnx's, and is refused with its name. A name file with nothing bound is removed.
pub fn clear_netns_name(name: &str, mark: &str) -> Result<()> {
    match netns_mark(name) {
        None => {}
        Some(Some(m)) if m == mark => {}
        Some(found) => {
            let whose = found.map_or("it has no vnx mark".to_string(), |m| format!("it is marked {m:?}"));
            return Err(Error::Node(format!(
                "the network namespace {name} exists and is not this lab's ({whose}): vnx neither adopts \
                 nor deletes it; remove it (`ip netns del {name}`), then apply again"
            )));
        }
    }
    unbind_netns(name);
    Ok(())
}

pub fn unbind_netns(name: &str) {
    let path = format!("{NETNS_DIR}/{name}");
    let _ = umount2(path.as_str(), MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(&path);
}

/// Network namespaces held open ([`hold_netns`]): dropped, they go together.
pub struct HeldNetns {
    held: Vec<OwnedFd>,
    /// The open-files soft limit to put back, if it was raised.
    soft: Option<u64>,
}

impl Drop for HeldNetns {
    fn drop(&mut self) {
        self.held.clear();
        if let Some(soft) = self.soft {
            use nix::sys::resource::{getrlimit, setrlimit, Resource};
            if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, soft, hard);
            }
        }
    }
}

/// Holds the network namespaces bound to `names` (those bound) open until the value is
/// dropped, so that namespaces a destroy deletes die together, in one of the kernel's cleanup
/// batches. The kernel's cleanup of a batch walks every namespace still alive, and every
/// namespace id each has (`unhash_nsid`: `idr_for_each` per live namespace per dying one);
/// deaths spread over a destroy made that quadratic (`perf record -a -g` of a 10,000-node
/// destroy: the cleanup worker's `idr_for_each` and `radix_tree_next_chunk` were 13% of the
/// machine's samples, and the kernel went on for a minute and a half after vnx returned).
/// Namespaces of a batch do not walk each other. Holds as many as the open-files limit allows
/// (raising its soft limit to the hard one), keeping room for the rest of vnx's work.
pub fn hold_netns<'a>(names: impl IntoIterator<Item = &'a str>) -> HeldNetns {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let names: Vec<&str> = names.into_iter().collect();
    let (mut room, mut raised) = (0, None);
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = (names.len() as u64 + 1024).min(hard);
        let limit = if want > soft && setrlimit(Resource::RLIMIT_NOFILE, want, hard).is_ok() {
            raised = Some(soft);
            want
        } else {
            soft
        };
        room = limit.saturating_sub(1024) as usize;
    }
    HeldNetns { held: names.into_iter().take(room).filter_map(open_bound_netns).collect(), soft: raised }
}

/// A command run inside a node (all of its namespaces, its root), through nsenter. The node's
/// /sys is mounted first if it is not yet ([`ensure_sys`]).
pub fn command_in(init: &Init, program: &str, args: &[&str]) -> Command {
    if let Err(e) = ensure_sys(init) {
        tracing::debug!("the node's /sys (init {}): {e}", init.pid);
    }
    let mut cmd = Command::new("nsenter");
    cmd.arg("-t")
        .arg(init.pid.to_string())
        .args(["-m", "-u", "-i", "-p", "-r", "-w"])
        .arg(format!("--net={}", init.netns_path()))
        .arg("--")
        .arg(program)
        .args(args);
    cmd
}

/// Mounts a node's /sys (the sysfs of its network namespace) unless it is mounted already. A
/// node gets it the first time vnx enters it, not when it starts: every sysfs mount walks
/// every sysfs superblock of the machine (one per mounted namespace: `kernfs_test_super` under
/// `sb_lock`), and one per node at start made a 10,000-node apply spend ~4 s of CPU there
/// (`perf record -a -g`: 2194 samples against 19 at 1000 nodes). Nodes no one enters (most
/// of a big lab's) never pay it.
pub fn ensure_sys(init: &Init) -> Result<()> {
    let net = init.netns()?;
    let mnt = open_ns(&format!("/proc/{}/ns/mnt", init.pid))?;
    // Opened, then checked: the namespaces are the init's, not a later process's of that pid.
    if !init.alive() {
        return Err(Error::Node("the node is not running".into()));
    }
    // A thread of its own, with a filesystem context of its own (entering a mount namespace
    // needs one), which ends with the call.
    std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_FS).map_err(|e| Error::io("unshare", e))?;
        nix::sched::setns(&net, CloneFlags::CLONE_NEWNET).map_err(|e| Error::io("setns", e))?;
        // The node's root is its mount namespace's `/` (see `setup_node`): entering lands there.
        nix::sched::setns(&mnt, CloneFlags::CLONE_NEWNS).map_err(|e| Error::io("setns", e))?;
        let fs = nix::sys::statfs::statfs("/sys").map_err(|e| Error::io("/sys", e))?;
        if fs.filesystem_type() == nix::sys::statfs::SYSFS_MAGIC {
            return Ok(());
        }
        mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| Error::io("mounting /sys", e))
    })
    .join()
    .map_err(|_| Error::Node("namespace thread panicked".into()))?
}

/// Runs a shell script in a node, each output line handed to `line` (stdout and stderr both);
/// returns the exit code.
pub fn run_in(init: &Init, shell: &str, script: &str, mut line: impl FnMut(&str)) -> Result<i32> {
    let mut cmd = command_in(init, shell, &["-c", script]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::io("running nsenter", e))?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx2 = tx.clone();
    let t = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
            let _ = tx2.send(l);
        }
    });
    let stdout = child.stdout.take().expect("piped");
    let t2 = std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
            let _ = tx.send(l);
        }
    });
    for l in rx {
        line(&l);
    }
    let _ = t.join();
    let _ = t2.join();
    let status = child.wait().map_err(|e| Error::io("waiting for a command", e))?;
    Ok(status.code().unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
}

/// Runs `f` on a thread of its own that has entered the network namespace `netns`, and waits
/// for it. (A thread of its own: entering a namespace changes only the calling thread, and
/// /proc/sys/net shows the namespace of whoever opens it.)
fn in_netns<T: Send + 'static>(netns: OwnedFd, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    std::thread::spawn(move || -> Result<T> {
        nix::sched::setns(&netns, CloneFlags::CLONE_NEWNET).map_err(|e| Error::io("setns", e))?;
        f()
    })
    .join()
    .map_err(|_| Error::Node("namespace thread panicked".into()))?
}

/// Makes room in the kernel's neighbour tables (ARP and NDP) for `entries` more. Those tables
/// are shared by every network namespace and refuse new entries past `gc_thresh3` (1024 by
/// default) with "No buffer space available": in a lab of a thousand nodes, most first packets
/// are lost. Raises the limits (never lowers them). Only the initial network namespace has
/// these settings: elsewhere this does nothing. Returns the settings it changed.
pub fn ensure_neighbour_room(entries: u64) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for family in ["ipv4", "ipv6"] {
        for (key, want) in [("gc_thresh2", entries + 512), ("gc_thresh3", 2 * entries + 1024)] {
            let path = format!("/proc/sys/net/{family}/neigh/default/{key}");
            let Ok(now) = std::fs::read_to_string(&path) else { continue };
            if now.trim().parse::<u64>().is_ok_and(|n| n < want) {
                std::fs::write(&path, want.to_string()).map_err(|e| Error::io(path.to_string(), e))?;
                changed.push(format!("net.{family}.neigh.default.{key}={want}"));
            }
        }
    }
    Ok(changed)
}

/// Writes a sysctl of the node's network namespace (`net/ipv4/ip_forward`, …).
pub fn set_net_sysctl(netns: OwnedFd, key: &str, value: &str) -> Result<()> {
    let (key, value) = (key.to_string(), value.to_string());
    in_netns(netns, move || {
        std::fs::write(format!("/proc/sys/{key}"), &value).map_err(|e| Error::io(format!("sysctl {key}"), e))
    })
}

/// Reads a sysctl of the node's network namespace.
pub fn get_net_sysctl(netns: OwnedFd, key: &str) -> Result<String> {
    let key = key.to_string();
    in_netns(netns, move || {
        std::fs::read_to_string(format!("/proc/sys/{key}"))
            .map(|s| s.trim().to_string())
            .map_err(|e| Error::io(format!("sysctl {key}"), e))
    })
}

/// Runs a program inside a network namespace only (e.g. `tc`), waiting for it.
pub fn run_in_netns(netns: OwnedFd, program: &str, args: &[String]) -> Result<()> {
    let (program, args) = (program.to_string(), args.to_vec());
    in_netns(netns, move || {
        let out = Command::new(&program).args(&args).output().map_err(|e| Error::io(program.to_string(), e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Node(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())))
        }
    })
}

// ---- the init process ----

/// What goes before a reply of this process (the request's id, in a server's child).
static REPLY_TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets [`REPLY_TAG`]; once, in a server's child ([`crate::starter`]).
pub fn set_reply_tag(tag: String) {
    let _ = REPLY_TAG.set(tag);
}

/// Writes one line of reply to stdout in one call, cut to less than PIPE_BUF, so that lines
/// written by several processes to one pipe do not interleave.
pub fn reply(line: &str) {
    let mut text = format!("{}{}", REPLY_TAG.get().map_or("", String::as_str), line.replace('\n', " "));
    if text.len() > 4000 {
        let mut cut = 4000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text.push('\n');
    let _ = unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

fn init_fail(msg: String) -> ! {
    reply(&format!("error {msg}"));
    std::process::exit(1);
}

/// What a child of the node server ([`crate::starter`]) does: makes the node's network (or
/// joins `netns`), UTS, mount (a copy of `mounts_from`'s, else of vnx's), IPC and PID
/// namespaces, forks the node's PID 1 and replies with its pid on stdout ([`reply`]).
pub fn init_main(
    hostname: &str,
    rootfs: &Path,
    dir: &Path,
    hosts: &[String],
    netns: Option<&Path>,
    mounts_from: Option<&Path>,
) -> ! {
    // A session of its own: the node outlives vnx and its terminal.
    let _ = nix::unistd::setsid();
    // Opened here, in vnx's mount namespace: the node's has no /dev/null until it is set up.
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    // Where the init goes back to once the node's namespace is set up ([`NETNS_FD`]).
    let home = open_ns("/proc/thread-self/ns/net").unwrap_or_else(|e| init_fail(e.to_string()));
    let mut flags =
        CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWPID;
    match netns {
        Some(p) => {
            let fd = open_ns(&p.display().to_string()).unwrap_or_else(|e| init_fail(e.to_string()));
            nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| init_fail(format!("entering {}: {e}", p.display())));
        }
        None => flags |= CloneFlags::CLONE_NEWNET,
    }
    if let Some(p) = mounts_from {
        let fd = open_ns(&p.display().to_string()).unwrap_or_else(|e| init_fail(e.to_string()));
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNS)
            .unwrap_or_else(|e| init_fail(format!("entering the nodes' mount namespace: {e}")));
    }
    unshare(flags).unwrap_or_else(|e| init_fail(format!("making the node's namespaces: {e}")));
    if mounts_from.is_none() {
        // No template: this copy of vnx's namespace is staged here (one pivot_root per node).
        if let Err(e) = mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(|e| format!("making / private: {e}"))
            .and_then(|_| stage(dir))
        {
            init_fail(e);
        }
    }
    // Opened before the fork: the init detaches the host's root from the mount namespace they
    // share, after which `dir` would name nothing.
    let pid_file = std::fs::File::create(staged(dir).join("init.pid"));
    let host_proc = std::fs::File::open(staged(Path::new("/proc")));
    // The node's network namespace (this process's now), held by the init at NETNS_FD.
    let node_net = match &host_proc {
        Ok(p) => open_at(p, "thread-self/ns/net"),
        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
    }
    .unwrap_or_else(|e| init_fail(format!("opening the node's network namespace: {e}")));
    if unsafe { libc::dup2(node_net.as_raw_fd(), NETNS_FD) } < 0 {
        init_fail(format!("holding the node's network namespace: {}", std::io::Error::last_os_error()));
    }
    drop(node_net);
    let (r, w) = nix::unistd::pipe().unwrap_or_else(|e| init_fail(format!("pipe: {e}")));
    // Safety: this process is single-threaded here (no runtime has started).
    match unsafe { fork() } {
        Err(e) => init_fail(format!("fork: {e}")),
        Ok(ForkResult::Parent { child }) => {
            drop(w);
            let mut msg = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut msg);
            if msg.trim() == "ready" {
                // Where kill_leftovers finds this init without scanning every process.
                let st = host_proc.ok().and_then(|p| start_time_at(&p, child.as_raw())).unwrap_or(0);
                if let Ok(mut f) = pid_file {
                    let _ = writeln!(f, "{child} {st}");
                }
                reply(&format!("ready {child}"));
                std::process::exit(0);
            }
            init_fail(if msg.is_empty() { "init exited before it was ready".into() } else { msg });
        }
        Ok(ForkResult::Child) => {
            drop(r);
            // The node must not hold vnx's pipe open (its reader waits for the pipe's end):
            // stdout goes nowhere from here on.
            match &null {
                Ok(null) => unsafe { libc::dup2(null.as_raw_fd(), 1) },
                Err(_) => unsafe { libc::close(1) },
            };
            drop(null);
            let mut w = std::fs::File::from(w);
            // Set up inside the node's network namespace (its `lo`, its sysctls), then back
            // to vnx's ([`NETNS_FD`]).
            let set_up = setup_node(hostname, rootfs, dir, hosts).and_then(|()| {
                nix::sched::setns(&home, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("leaving the node's network namespace: {e}"))
            });
            if let Err(e) = set_up {
                let _ = write!(w, "{e}");
                std::process::exit(1);
            }
            drop(home);
            let _ = w.write_all(b"ready");
            drop(w);
            // Become the reaper (a program of a few pages: [`load_reaper`]); where there is none,
            // or the exec fails, this process reaps as the reaper would.
            exec_reaper(hostname, dir);
            // Still the server's fork: named as the reaper would have been.
            if let Err(e) = set_command_line(&init_command_line(hostname, dir)) {
                eprintln!("vnx-init: naming the node's init: {e}");
            }
            // Be an init: reap whatever ends up here. SIGKILL from the host stops the node.
            // Daemons started through nsenter become this process's children only when their
            // parent exits, long after it found it had none: it waits for SIGCHLD (blocked, so
            // it stays pending until taken) rather than for a child. (It slept an hour when it
            // had none, and FRR's stop script waited that hour on its daemons' zombies.)
            use nix::sys::signal::{SigSet, SigmaskHow, Signal};
            use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
            let mut chld = SigSet::empty();
            chld.add(Signal::SIGCHLD);
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None);
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => {
                        let _ = chld.wait();
                    }
                    Ok(_) | Err(_) => {}
                }
            }
        }
    }
}

/// The nodes' reaper (`src/reaper.c`, built by build.rs), in a sealed memfd of the node
/// server's that its children inherit ([`load_reaper`]).
static REAPER: std::sync::OnceLock<i32> = std::sync::OnceLock::new();

#[cfg(vnx_reaper)]
const REAPER_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/reaper"));
#[cfg(not(vnx_reaper))]
const REAPER_ELF: &[u8] = &[];

/// Puts the reaper in a memfd for the node server's children ([`REAPER`]): once, in the
/// server. Nodes' inits exec it from there (a node's mount namespace has no host files to exec).
pub fn load_reaper() {
    if REAPER_ELF.is_empty() {
        return;
    }
    let fd = unsafe { libc::memfd_create(c"vnx-init".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return;
    }
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    if f.write_all(REAPER_ELF).is_ok() && unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } == 0 {
        let _ = REAPER.set(std::os::fd::IntoRawFd::into_raw_fd(f));
    }
}

/// A node's init's command line, as a `vnx-init` run for the node had it: [`kill_leftovers`]
/// and the leftover checks find a node's init by its directory (`--dir\0DIR\0`), `ps` shows
/// the node.
fn init_command_line(hostname: &str, dir: &Path) -> [String; 5] {
    ["vnx-init", "--hostname", hostname, "--dir", &dir.display().to_string()].map(String::from)
}

/// Replaces this process (a node's init, set up) with the reaper, under the node's command line
/// ([`init_command_line`]). Returns only if that cannot be done.
fn exec_reaper(hostname: &str, dir: &Path) {
    use std::ffi::CString;
    let Some(&fd) = REAPER.get() else { return };
    let args = init_command_line(hostname, dir).map(|a| CString::new(a).unwrap_or_default());
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    unsafe { libc::syscall(libc::SYS_execveat, fd, c"".as_ptr(), argv.as_ptr(), envp.as_ptr(), libc::AT_EMPTY_PATH) };
}

/// linux/prctl.h's `struct prctl_mm_map` (104 bytes).
#[repr(C)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: *mut u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// Sets this process's command line (/proc/PID/cmdline) to `args`, as setproctitle does:
/// `PR_SET_MM_MAP` pointed at a copy on the heap (the kernel reads a command line only from
/// anonymous memory), every other field as /proc/self/stat says it is now.
fn set_command_line(args: &[String]) -> std::io::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Field N of proc(5) (1-based; the first after the command name is field 3).
    let fields: Vec<u64> =
        stat_fields(&stat).unwrap_or_default().split(' ').map(|f| f.trim().parse().unwrap_or(0)).collect();
    let field = |n: usize| fields.get(n - 3).copied().ok_or_else(|| std::io::Error::other("a short /proc/self/stat"));
    let mut line: Vec<u8> = Vec::new();
    for a in args {
        line.extend_from_slice(a.as_bytes());
        line.push(0);
    }
    // Kept for the life of the process.
    let line: &'static mut [u8] = Box::leak(line.into_boxed_slice());
    let start = line.as_ptr() as u64;
    let map = MmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk: unsafe { libc::sbrk(0) } as u64,
        start_stack: field(28)?,
        arg_start: start,
        arg_end: start + line.len() as u64,
        env_start: field(50)?,
        env_end: field(51)?,
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    let size = std::mem::size_of::<MmMap>() as libc::c_ulong;
    let r = unsafe { libc::prctl(libc::PR_SET_MM, libc::PR_SET_MM_MAP, &map as *const MmMap, size, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Opens `path` below a directory handle on the host's /proc (this process's own /proc became
/// the node's when the init pivoted the shared mount namespace).
fn open_at(proc: &std::fs::File, path: &str) -> std::io::Result<std::fs::File> {
    let c = std::ffi::CString::new(path).map_err(std::io::Error::other)?;
    let fd = unsafe { libc::openat(proc.as_raw_fd(), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// A process's start time read through a directory handle on the host's /proc.
fn start_time_at(proc: &std::fs::File, pid: i32) -> Option<u64> {
    start_time_of(&stat_text(open_at(proc, &format!("{pid}/stat")).ok()?)?)
}

fn setup_node(hostname: &str, rootfs: &Path, dir: &Path, hosts: &[String]) -> std::result::Result<(), String> {
    fn e(what: &'static str) -> impl Fn(nix::Error) -> String {
        move |err| format!("{what}: {err}")
    }
    // Nothing mounted here may reach the host (a copy of a private namespace is private, but
    // a namespace that is not the template's is the caller's to vouch for).
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(e("making / private"))?;
    // The mount namespace is staged: the host's paths are under HOST.
    let dir = staged(dir);
    let (upper, work, root) = (dir.join("upper"), dir.join("work"), PathBuf::from(NODE));
    for d in [&upper, &work] {
        std::fs::create_dir_all(d).map_err(|err| format!("{}: {err}", d.display()))?;
    }
    let lower = staged(rootfs);
    let opts = format!("lowerdir={},upperdir={},workdir={}", lower.display(), upper.display(), work.display());
    mount(Some("overlay"), &root, Some("overlay"), MsFlags::empty(), Some(opts.as_str()))
        .map_err(e("mounting the copy-on-write root"))?;
    let sub = |p: &str| root.join(p);
    let _ = std::fs::create_dir_all(sub("proc"));
    mount(
        Some("proc"),
        &sub("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(e("mounting /proc"))?;
    // Where the node's sysfs goes, mounted the first time vnx enters the node ([`ensure_sys`]).
    let _ = std::fs::create_dir_all(sub("sys"));
    let _ = std::fs::create_dir_all(sub("dev"));
    mount(
        Some(&staged(Path::new("/dev"))),
        &sub("dev"),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(e("binding /dev"))?;
    for t in ["tmp", "run"] {
        let _ = std::fs::create_dir_all(sub(t));
        mount(Some("tmpfs"), &sub(t), Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=1777"))
            .map_err(e("mounting a tmpfs"))?;
    }
    let _ = std::fs::create_dir_all(sub("run/netns"));
    if rootfs == Path::new("/") {
        hide_host_private(&root)?;
    }
    // The node's own /etc/hostname and /etc/hosts (written to its upper layer).
    let _ = std::fs::create_dir_all(sub("etc"));
    std::fs::write(sub("etc/hostname"), format!("{hostname}\n")).map_err(|err| format!("/etc/hostname: {err}"))?;
    let mut h = format!("127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for line in hosts {
        h.push_str(line);
        h.push('\n');
    }
    std::fs::write(sub("etc/hosts"), h).map_err(|err| format!("/etc/hosts: {err}"))?;
    // Into the new root: the host's leaves this namespace; the node's root goes onto `/`
    // (as switch_root does), so that whoever enters the namespace lands in it too.
    umount2(HOST, MntFlags::MNT_DETACH).map_err(e("detaching the host's root"))?;
    std::env::set_current_dir(&root).map_err(|err| format!("chdir {}: {err}", root.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(e("moving the root onto /"))?;
    nix::unistd::chroot(".").map_err(e("chroot"))?;
    std::env::set_current_dir("/").map_err(|err| format!("chdir /: {err}"))?;
    sethostname(hostname).map_err(e("sethostname"))?;
    // The loopback interface, up.
    lo_up().map_err(|err| format!("bringing lo up: {err}"))?;
    // Removing an IPv4 address must not take the others of its subnet along (in-place address
    // changes add the new one, then remove the old).
    for key in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{key}/promote_secondaries"), "1");
    }
    // No duplicate address detection on the node's links (its addresses are `nodad` already):
    // their link-local addresses stay tentative for a second or more otherwise, and the first
    // IPv6 packets across a router right after apply were lost. Written here, through the
    // node's own /proc: vnx writing it through the machine's /proc made every node's lookup
    // walk a dentry chain as long as the lab (`proc_sys_compare`, quadratic in the lab).
    match std::fs::write("/proc/sys/net/ipv6/conf/default/accept_dad", "0") {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(format!("accept_dad: {err}")),
        _ => {} // no IPv6 in this kernel: nothing to turn off
    }
    Ok(())
}

/// The host's places a node on the host's own root must not read: home directories behind
/// empty tmpfs mounts, the SSH host keys (its private ones) removed from the node's copy (a
/// whiteout in its upper layer: the host's files are untouched). A node that needs them gets
/// them from a `<filetree>`, or a root filesystem of its own.
pub const HIDDEN: &[&str] = &["/root", "/home", "/etc/ssh/ssh_host_*_key"];

fn hide_host_private(root: &Path) -> std::result::Result<(), String> {
    for (dir, mode) in [("root", "mode=0700"), ("home", "mode=0755")] {
        let p = root.join(dir);
        if p.is_dir() {
            mount(Some("tmpfs"), &p, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some(mode))
                .map_err(|err| format!("hiding the host's /{dir}: {err}"))?;
        }
    }
    if let Ok(rd) = std::fs::read_dir(root.join("etc/ssh")) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("ssh_host_") && n.ends_with("_key") {
                std::fs::remove_file(e.path()).map_err(|err| format!("hiding the host's {n}: {err}"))?;
            }
        }
    }
    Ok(())
}

/// Brings `lo` up with an ioctl (no netlink runtime in the init).
fn lo_up() -> std::io::Result<()> {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
