//! Virtual machines through libvirt: domains from a node's `vm` attributes, the configuration
//! drive (an ISO the guest's agent runs at boot), the agent channel, and run states.
//!
//! Every domain vnx defines is named `vnx-SCENARIO-NODE` and carries vnx's ownership mark (a
//! `<metadata>` element naming scenario and node); vnx never touches a domain without it. A
//! VM's files (disk overlay, configuration ISO, saved state, console log) live in its
//! directory in the lab's directory; its agent socket in /run/vnx. Destroy removes them all.
//!
//! The agent protocol (see images/guest-agent.sh): one line each way over the virtio-serial
//! port `org.vnx.agent.0`: `PING <id>` → `PONG <id> <boot id>`; `EXEC <id> <base64 script>` →
//! `DONE <id> <status> <base64 output>`. Replies to other ids are skipped.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kinds::node::{Config, Vm};
use crate::{Error, Result};

/// The XML namespace of vnx's ownership mark in a domain's metadata.
/// The provider name of virtual machine nodes and their resources.
pub const PROVIDER: &str = "libvirt";

pub const MARK_NS: &str = "https://vnx.dev/xmlns/node/1";

/// libvirt's domain type: `kvm` where KVM works, else `qemu` (TCG, emulation).
pub fn domain_type(choice: &str) -> &'static str {
    match choice {
        "kvm" => "kvm",
        "qemu" | "tcg" => "qemu",
        _ => {
            // KVM inside a virtual machine (nested) often hangs guests at boot: there, and
            // without a usable /dev/kvm, emulate. VNX_DOMAIN_TYPE=kvm forces KVM.
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let nested =
                cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
            let kvm = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
            if kvm && !nested {
                "kvm"
            } else {
                "qemu"
            }
        }
    }
}

/// Where a VM's files are.
#[derive(Clone, Debug)]
pub struct VmPaths {
    pub dir: PathBuf,
    pub socket: PathBuf,
}

impl VmPaths {
    pub fn new(node_dir: &Path, scenario: &str, node: &str) -> VmPaths {
        // A socket path has 107 bytes at most: a short hash name in /run/vnx.
        let socket = PathBuf::from("/run/vnx").join(format!("{}.agent", crate::short_hash(&[scenario, node])));
        VmPaths { dir: node_dir.to_path_buf(), socket }
    }
    pub fn disk(&self) -> PathBuf {
        self.dir.join("disk.qcow2")
    }
    pub fn iso(&self) -> PathBuf {
        self.dir.join("config.iso")
    }
    pub fn saved(&self) -> PathBuf {
        self.dir.join("saved.state")
    }
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;").replace('"', "&quot;")
}

/// The libvirt domain XML of a VM node (`vm` is the node's `vm` attribute).
pub fn domain_xml(vm: &Vm, dtype: &str, scenario: &str, node: &str, paths: &VmPaths) -> String {
    let mut x = String::new();
    let name = if vm.domain.is_empty() { node } else { vm.domain.as_str() };
    x.push_str(&format!("<domain type='{dtype}'>\n  <name>{}</name>\n", esc(name)));
    x.push_str(&format!(
        "  <metadata><vnx:node xmlns:vnx='{MARK_NS}' scenario='{}' node='{}'/></metadata>\n",
        esc(scenario),
        esc(node)
    ));
    x.push_str(&format!("  <memory unit='MiB'>{}</memory>\n  <vcpu>{}</vcpu>\n", vm.mem_mib, vm.vcpu));
    x.push_str(&format!("  <os>\n    <type arch='{}' machine='pc'>hvm</type>\n", esc(&vm.arch)));
    if let Some(k) = &vm.kernel {
        x.push_str(&format!("    <kernel>{}</kernel>\n", esc(&k.path)));
        if let Some(i) = &k.initrd {
            x.push_str(&format!("    <initrd>{}</initrd>\n", esc(i)));
        }
        x.push_str(&format!("    <cmdline>{}</cmdline>\n", esc(&k.cmdline)));
    }
    x.push_str("    <boot dev='hd'/>\n  </os>\n  <features><acpi/></features>\n");
    x.push_str(
        "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n",
    );
    // QEMU runs as root and vnx's files keep their owners (no relabelling of base images).
    x.push_str("  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>\n  <devices>\n");
    if let Some(d) = &vm.disk {
        let (file, format) = match d.kind.as_str() {
            "direct" => (d.path.clone(), image_format(Path::new(&d.path))),
            _ => (paths.disk().display().to_string(), "qcow2".to_string()),
        };
        x.push_str(&format!(
            "    <disk type='file' device='disk'><driver name='qemu' type='{format}'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>\n",
            esc(&file)
        ));
    }
    x.push_str(&format!(
        "    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/><target dev='vdz' bus='virtio'/><readonly/></disk>\n",
        esc(&paths.iso().display().to_string())
    ));
    for n in &vm.nics {
        let mac = n.mac.as_deref().unwrap_or_default();
        let mtu = n.mtu.map(|m| format!("<mtu size='{m}'/>")).unwrap_or_default();
        match (n.bridge.as_deref(), n.tap.as_deref()) {
            (Some(b), _) => x.push_str(&format!(
                "    <interface type='bridge'><source bridge='{}'/><mac address='{mac}'/><model type='virtio'/>{mtu}</interface>\n",
                esc(b)
            )),
            (None, Some(t)) => x.push_str(&format!(
                "    <interface type='ethernet'><target dev='{}' managed='yes'/><mac address='{mac}'/><model type='virtio'/></interface>\n",
                esc(t)
            )),
            _ => {}
        }
    }
    x.push_str(&format!(
        "    <serial type='pty'><log file='{}' append='on'/><target port='0'/></serial>\n    <console type='pty'><target type='serial' port='0'/></console>\n",
        esc(&paths.console_log().display().to_string())
    ));
    x.push_str(&format!(
        "    <channel type='unix'><source mode='bind' path='{}'/><target type='virtio' name='org.vnx.agent.0'/></channel>\n",
        esc(&paths.socket.display().to_string())
    ));
    // VNX's console 0 is the graphical one: a VNC display on loopback when the scenario asks.
    if vm.display() {
        x.push_str(
            "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n    <video><model type='vga'/></video>\n",
        );
    }
    x.push_str("    <memballoon model='none'/>\n  </devices>\n</domain>\n");
    x
}

/// The format of a disk image, as qemu-img sees it (raw when it cannot tell).
fn image_format(path: &Path) -> String {
    let out = Command::new("qemu-img").args(["info", "--output=json"]).arg(path).output();
    out.ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["format"].as_str().map(String::from))
        .unwrap_or_else(|| "raw".into())
}

/// Makes the copy-on-write overlay of a base image.
pub fn make_overlay(base: &Path, overlay: &Path) -> Result<()> {
    let _ = std::fs::remove_file(overlay);
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", &image_format(base), "-b"])
        .arg(base)
        .arg(overlay)
        .output()
        .map_err(|e| Error::io("qemu-img (Debian package qemu-utils)", e))?;
    if !out.status.success() {
        return Err(Error::Other(format!("qemu-img create: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// Builds the configuration drive: boot.sh and the files of boot-time filetrees
/// (`files/N/`), as an ISO 9660 image labelled VNXCONFIG.
pub fn make_config_iso(config: &Config, iso: &Path) -> Result<()> {
    let stage = iso.with_extension("d");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(stage.join("files")).map_err(|e| Error::Other(format!("{}: {e}", stage.display())))?;
    std::fs::write(stage.join("boot.sh"), &config.script).map_err(|e| Error::io("boot.sh", e))?;
    for f in &config.files {
        let dst = stage.join("files").join(f.n.to_string());
        std::fs::create_dir_all(&dst).map_err(|e| Error::Other(format!("{}: {e}", dst.display())))?;
        let Some(src) = f.source.as_deref() else { continue };
        let src = if Path::new(src).is_dir() { format!("{src}/.") } else { src.to_string() };
        let ok = Command::new("cp").arg("-a").arg(&src).arg(&dst).status().is_ok_and(|s| s.success());
        if !ok {
            return Err(Error::Other(format!("copying {src} onto the configuration drive failed")));
        }
    }
    let tmp = iso.with_extension("tmp");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-V", "VNXCONFIG", "-J", "-r", "-o"])
        .arg(&tmp)
        .arg(&stage)
        .output()
        .map_err(|e| Error::io("xorriso (Debian package xorriso) builds configuration drives", e))?;
    let _ = std::fs::remove_dir_all(&stage);
    if !out.status.success() {
        return Err(Error::Other(format!("xorriso: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    std::fs::rename(&tmp, iso).map_err(|e| Error::Other(format!("{}: {e}", iso.display())))
}

/// The agent of a scenario's VM node.
pub fn agent_for(scenario: &str, node: &str) -> Agent {
    Agent { socket: VmPaths::new(Path::new("/"), scenario, node).socket }
}

/// The guest agent, reached through the domain's virtio-serial channel.
#[derive(Clone, Debug)]
pub struct Agent {
    pub socket: PathBuf,
}

/// A request id unique to this process and moment: replies are matched to requests by it.
fn request_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}-{n}-{t}", std::process::id())
}

impl Agent {
    /// Sends `VERB ID REST` and returns the rest of the reply `ANSWER ID …`, skipping replies
    /// to other requests (a request whose client gave up, a PING during boot say, may still be
    /// answered later, into another client's connection).
    fn request(&self, verb: &str, rest: &str, answer: &str, timeout: Duration) -> Result<String> {
        let id = request_id();
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| Error::Node(format!("the guest agent ({}): {e}", self.socket.display())))?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| Error::Node(e.to_string()))?;
        stream.write_all(format!("{verb} {id} {rest}\n").as_bytes()).map_err(|e| Error::io("to the agent", e))?;
        let mut lines = BufReader::new(stream);
        loop {
            let mut reply = String::new();
            lines.read_line(&mut reply).map_err(|e| Error::io("from the agent", e))?;
            if reply.is_empty() {
                return Err(Error::Node("the guest agent closed the channel".into()));
            }
            let mut w = reply.trim_end().splitn(3, ' ');
            if (w.next(), w.next()) == (Some(answer), Some(id.as_str())) {
                return Ok(w.next().unwrap_or_default().to_string());
            }
        }
    }

    /// The guest's boot id, once its agent answers.
    pub fn ping(&self) -> Result<String> {
        self.request("PING", "", "PONG", Duration::from_secs(3))
    }

    /// Waits until the agent answers (the guest booted and its boot script ran); its boot id.
    pub fn wait(&self, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.ping() {
                Ok(id) => return Ok(id),
                Err(e) if Instant::now() > deadline => {
                    return Err(Error::Node(format!("the guest's agent did not answer in {}s: {e}", limit.as_secs())))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Runs a shell script in the guest: its exit status and output (stdout and stderr).
    pub fn exec(&self, script: &str, timeout: Duration) -> Result<(i32, String)> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let reply = self.request("EXEC", &b64.encode(script), "DONE", timeout)?;
        let (code, out) = reply.split_once(' ').unwrap_or((reply.as_str(), ""));
        let out = b64.decode(out.trim()).map_err(|e| Error::Other(format!("agent output: {e}")))?;
        Ok((code.parse().unwrap_or(1), String::from_utf8_lossy(&out).into_owned()))
    }

    /// Runs a script that must succeed.
    pub fn run(&self, script: &str) -> Result<String> {
        match self.exec(script, Duration::from_secs(120))? {
            (0, out) => Ok(out),
            (code, out) => Err(Error::Node(format!("in the guest, `{script}` exited {code}: {}", out.trim()))),
        }
    }
}

/// How a domain runs, in vnx's words.
pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const SHUTOFF: &str = "shutoff";
pub const SAVED: &str = "saved";

#[cfg(feature = "libvirt")]
pub use hv::Hypervisor;

/// libvirt's URI: `VNX_LIBVIRT_URI` (`--libvirt-uri`), else qemu:///system.
pub fn uri() -> String {
    std::env::var("VNX_LIBVIRT_URI").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "qemu:///system".into())
}

/// How a VM node runs now, asked of libvirt (`VNX_LIBVIRT_URI`); `None` when its domain does
/// not exist or libvirt cannot be asked.
pub fn run_state_of(scenario: &str, node: &str, vm: &Vm, node_dir: &Path) -> Option<&'static str> {
    #[cfg(feature = "libvirt")]
    {
        // One connection for every node a command asks about (`vnx show` asks for each).
        static HV: std::sync::OnceLock<Option<Hypervisor>> = std::sync::OnceLock::new();
        let hv = HV.get_or_init(|| Hypervisor::connect(&uri()).ok()).as_ref()?;
        let d = hv.domain(&vm.domain, scenario, node).ok()??;
        hv.run_state(&d, &VmPaths::new(node_dir, scenario, node)).ok()
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (scenario, node, vm, node_dir);
        None
    }
}

#[cfg(feature = "libvirt")]
mod hv {
    use super::*;
    use virt::connect::Connect;
    use virt::domain::{Domain, DomainState};
    use virt::enumutil::Enum;

    /// A connection to libvirt.
    pub struct Hypervisor {
        conn: Connect,
    }

    fn err(what: &str) -> impl Fn(virt::error::Error) -> Error + '_ {
        move |e| Error::Other(format!("libvirt: {what}: {}", e.message()))
    }

    impl Hypervisor {
        pub fn connect(uri: &str) -> Result<Hypervisor> {
            virt::error::clear_error_callback();
            let conn = Connect::open(Some(uri)).map_err(|e| {
                Error::Other(format!(
                    "cannot connect to libvirt at {uri}: {} (is libvirtd running? start it with `libvirtd -d` and `virtlogd -d`; --libvirt-uri chooses another)",
                    e.message()
                ))
            })?;
            Ok(Hypervisor { conn })
        }

        /// The domain named `name`, if it exists and carries vnx's mark for this node.
        pub fn domain(&self, name: &str, scenario: &str, node: &str) -> Result<Option<Domain>> {
            let Ok(d) = self.conn.lookup_domain_by_name(name) else { return Ok(None) };
            let xml = d.xml_desc(0).map_err(err("reading a domain"))?;
            let mark = format!("scenario='{}' node='{}'", esc(scenario), esc(node));
            let mark2 = format!("scenario=\"{}\" node=\"{}\"", esc(scenario), esc(node));
            if xml.contains(MARK_NS) && (xml.contains(&mark) || xml.contains(&mark2)) {
                Ok(Some(d))
            } else {
                Err(Error::Other(format!("a libvirt domain named {name} exists and is not vnx's (no ownership mark)")))
            }
        }

        /// Defines the domain (replacing a definition of ours).
        pub fn define(&self, xml: &str) -> Result<Domain> {
            self.conn.define_domain_xml(xml).map_err(err("defining a domain"))
        }

        pub fn run_state(&self, d: &Domain, paths: &VmPaths) -> Result<&'static str> {
            let (state, _) = d.state().map_err(err("reading a domain's state"))?;
            Ok(match state {
                Enum::Known(DomainState::Running) | Enum::Known(DomainState::Blocked) => RUNNING,
                Enum::Known(DomainState::Paused) | Enum::Known(DomainState::PMSuspended) => PAUSED,
                _ if paths.saved().exists() => SAVED,
                _ => SHUTOFF,
            })
        }

        pub fn start(&self, d: &Domain, paths: &VmPaths) -> Result<()> {
            if paths.saved().exists() {
                let p = paths.saved().display().to_string();
                self.conn.restore_domain(&p).map_err(err("restoring a saved domain"))?;
                let _ = std::fs::remove_file(paths.saved());
                return Ok(());
            }
            if !d.is_active().unwrap_or(false) {
                d.create().map_err(err("starting a domain"))?;
            }
            Ok(())
        }

        /// Powers off: asks the guest's agent first, then pulls the plug after `grace`.
        pub fn shutdown(&self, d: &Domain, agent: &Agent, grace: Duration) -> Result<()> {
            if !d.is_active().unwrap_or(false) {
                return Ok(());
            }
            let _ = agent.exec("sync; (sleep 0.2; poweroff -f) >/dev/null 2>&1 &", Duration::from_secs(3));
            let deadline = Instant::now() + grace;
            while d.is_active().unwrap_or(false) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            self.kill(d)
        }

        pub fn kill(&self, d: &Domain) -> Result<()> {
            if d.is_active().unwrap_or(false) {
                d.destroy().map_err(err("stopping a domain"))?;
            }
            Ok(())
        }

        pub fn suspend(&self, d: &Domain) -> Result<()> {
            d.suspend().map_err(err("suspending a domain"))
        }

        pub fn resume(&self, d: &Domain) -> Result<()> {
            d.resume().map_err(err("resuming a domain"))
        }

        /// Saves the running domain's memory to the lab's directory and stops it.
        pub fn save(&self, d: &Domain, paths: &VmPaths) -> Result<()> {
            let p =
                std::ffi::CString::new(paths.saved().display().to_string()).map_err(|e| Error::Other(e.to_string()))?;
            // virt 0.5 has no wrapper for virDomainSave.
            let r = unsafe { virt::sys::virDomainSave(d.as_ptr(), p.as_ptr()) };
            if r < 0 {
                return Err(Error::Other(format!(
                    "libvirt: saving a domain: {}",
                    virt::error::Error::last_error().message()
                )));
            }
            Ok(())
        }

        /// Stops and undefines the domain.
        pub fn remove(&self, d: &Domain) -> Result<()> {
            self.kill(d)?;
            d.undefine().map_err(err("undefining a domain"))
        }
    }
}

#[cfg(test)]
mod domain_tests {
    use super::*;
    use crate::kinds::node::{Nic, Vm};

    #[test]
    fn a_nic_on_a_net_of_smaller_mtu_says_so_to_the_guest() {
        let nic = |mtu| Nic {
            ifname: "eth1".into(),
            mac: Some("02:00:00:00:00:01".into()),
            bridge: Some("vb1".into()),
            tap: None,
            node_addr: None,
            mtu,
        };
        let vm = Vm {
            domain: "vnx-l.n".into(),
            vcpu: 1,
            mem_mib: 128,
            arch: "x86_64".into(),
            disk: None,
            kernel: None,
            nics: vec![nic(Some(1450)), nic(None)],
            consoles: vec![],
        };
        let xml = domain_xml(&vm, "qemu", "l", "n", &VmPaths::new(Path::new("/tmp/x"), "l", "n"));
        assert_eq!(xml.matches("<mtu size='1450'/>").count(), 1, "{xml}");
    }
}
