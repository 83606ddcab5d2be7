//! `node`: an `ns` node (its init, namespaces and root) or a virtual machine (a libvirt domain).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{boot, routes, Ops};
use crate::lab::{blocking, kept, Item, Lab, Seeing, Seen};
use crate::netlink::LinkChange;
use crate::ns::{self, Init, NodeSpec};
use crate::{Error, Result};

pub const KIND: &str = "node";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    /// `ns` or `libvirt`: who runs it.
    pub provider: String,
    pub hostname: String,
    /// The run state asked for: running, shutoff, paused, saved.
    pub run: String,
    /// `ns`: the lower layer of its root (`/` or a root filesystem).
    pub rootfs: Option<String>,
    /// `ns`: its network namespace's name (`vnx-LAB.NODE`).
    pub netns: Option<String>,
    /// A VM: its domain's definition (planned in `plan/vm.rs`, made in `libvirt.rs`).
    pub vm: Option<Vm>,
    /// A VM: its configuration drive (boot script and files).
    pub config: Option<Config>,
}

/// A virtual machine's domain, as vnx defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// The domain's name (`vnx-LAB.NODE`).
    pub domain: String,
    pub vcpu: u64,
    pub mem_mib: u64,
    pub arch: String,
    pub disk: Option<Disk>,
    /// A kernel (and initramfs) booted directly.
    pub kernel: Option<Kernel>,
    /// In the guest's interface order.
    pub nics: Vec<Nic>,
    pub consoles: Vec<Console>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// `cow`: a qcow2 overlay on the image; `direct`: the image itself.
    pub kind: String,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    pub path: String,
    pub initrd: Option<String>,
    pub cmdline: String,
}

/// A NIC: on a bridge, or (a private management link) on a tap of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// Its name in the guest (`eth1`), given at boot by its MAC.
    pub ifname: String,
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<String>,
    /// The management NIC's address in the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_addr: Option<String>,
    /// Its net's MTU (a net across hosts carries less than 1500): the tap's, and told to the
    /// guest's virtio driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u64>,
}

/// VNX's `<console>`: console 0 is the graphical one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    pub id: u32,
    pub display: Option<bool>,
    pub kind: Option<String>,
}

impl Vm {
    /// Whether the scenario asks for a graphical display (console 0, not switched off).
    pub fn display(&self) -> bool {
        self.consoles.iter().any(|c| c.id == 0 && c.display != Some(false))
    }
}

/// A VM's configuration drive: the script its agent runs at each boot, and boot-time
/// filetrees' files (`files/N/`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub script: String,
    pub files: Vec<ConfigFile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub n: usize,
    pub source: Option<String>,
}

/// A node is replaced only when what it is made of changes.
pub fn forces_replacement(attr: &str) -> bool {
    matches!(attr, "provider" | "hostname" | "rootfs" | "vm")
}

impl Ops for Attrs {
    async fn create(self, lab: &Lab, it: &Item) -> Result<Value> {
        let netns = self.netns.as_deref().ok_or_else(|| Error::Other(format!("node {} has no netns", it.name)))?;
        if let Some(old) = lab.kept::<Init>(&it.name, kept::INIT) {
            ns::stop(&old); // a leftover of an interrupted apply
        }
        let mounts_from = lab.mounts_from()?;
        let dir = lab.ns_dir(&it.name)?;
        ns::kill_leftovers(&dir);
        ns::remove_dir(&dir);
        let spec = NodeSpec {
            hostname: self.hostname.clone(),
            rootfs: self.rootfs.as_deref().unwrap_or("/").into(),
            dir,
            hosts: vec![],
            netns: None,
            mounts_from,
        };
        let starter = lab.starter()?;
        let init = blocking(move || ns::start(&starter, &spec)).await?;
        lab.keep_init(&it.name, Some(&init))?;
        ns::bind_netns(&init, netns, &lab.alias(KIND, &it.name))?;
        // (The node's init turned duplicate address detection off in its namespace.)
        // A node the user shut down or paused is built that way (its boot waits for a start).
        match self.run.as_str() {
            w @ (ns::SHUTOFF | ns::PAUSED) => set_run(lab, &it.name, &self, w).await,
            _ => Ok(json!(init)),
        }
    }

    async fn read(self, _: &Lab, it: &Item, seeing: &Seeing<'_>) -> Result<Seen> {
        let netns = self.netns.unwrap_or_default();
        // The refresh's batch visits every `ns` node item.
        let seen = seeing
            .views
            .nodes
            .get(&it.name)
            .ok_or_else(|| Error::Other(format!("refresh did not visit node {}", it.name)))?;
        // Shut off, its network namespace (and so its links) is kept by its name.
        let Some(run) = seen.run else { return Ok(Seen::Missing) };
        Ok(Seen::Present(
            [
                ("netns".to_string(), if seen.bound { json!(netns) } else { Value::Null }),
                ("run".to_string(), json!(run)),
            ]
            .into_iter()
            .collect(),
        ))
    }

    async fn update(self, _: Self, lab: &Lab, it: &Item) -> Result<Value> {
        if let (Ok(init), Some(netns)) = (lab.init(&it.name), &self.netns) {
            ns::bind_netns(&init, netns, &lab.alias(KIND, &it.name))?;
        }
        set_run(lab, &it.name, &self, &self.run).await
    }

    async fn delete(self, lab: &Lab, it: &Item) -> Result<()> {
        let init = lab.kept::<Init>(&it.name, kept::INIT).or_else(|| serde_json::from_value(it.runtime.clone()).ok());
        // The name bound to the init's own namespace is vnx's without asking its mark.
        let bound_to_init = matches!((&init, &self.netns), (Some(i), Some(n)) if ns::netns_bound_to(i, n));
        lab.keep_init(&it.name, None)?;
        if let Some(init) = init {
            ns::kill_now(&init);
        }
        // Unmounting waits for the kernel (an RCU grace period): on a blocking thread, so
        // that several nodes' waits overlap.
        let dir = lab.ns_dir(&it.name)?;
        let mark = lab.alias(KIND, &it.name);
        let netns = self.netns;
        blocking(move || {
            match netns {
                Some(n) if bound_to_init => ns::unbind_netns(&n),
                Some(n) => {
                    if let Err(e) = ns::clear_netns_name(&n, &mark) {
                        tracing::warn!("{e}");
                    }
                }
                None => {}
            }
            ns::kill_leftovers(&dir);
            ns::remove_dir(&dir);
            Ok(())
        })
        .await
    }
}

/// Brings a node to run state `want`. Starting a node that was shut off starts a new init in
/// its network namespace and runs its boot sequence again, as VNX does for containers.
async fn set_run(lab: &Lab, node: &str, a: &Attrs, want: &str) -> Result<Value> {
    let now = lab.run_state(node).ok_or_else(|| Error::Node(format!("node {node} does not exist")))?;
    match (now, want) {
        (n, w) if n == w => {}
        (ns::PAUSED, _) => {
            let init = lab.init(node)?;
            blocking(move || {
                ns::thaw(&init);
                Ok(())
            }).await?;
            return Box::pin(set_run(lab, node, a, want)).await;
        }
        (ns::RUNNING, ns::PAUSED) => {
            let init = lab.init(node)?;
            blocking(move || {
                ns::freeze(&init);
                Ok(())
            }).await?;
        }
        (ns::RUNNING, _) => {
            let init = lab.init(node)?;
            blocking(move || {
                ns::stop(&init);
                Ok(())
            }).await?;
            lab.keep_init(node, None)?;
            links_down(lab, node).await?;
        }
        (_, _) => {
            // Shut off → running or paused.
            let name = a.netns.clone().unwrap_or_else(|| lab.netns_name(node));
            let netns =
                ns::bound_netns(&name).ok_or_else(|| Error::Node(format!("node {node} has no network namespace")))?;
            let spec = NodeSpec {
                hostname: a.hostname.clone(),
                rootfs: a.rootfs.as_deref().unwrap_or("/").into(),
                dir: lab.ns_dir(node)?,
                hosts: vec![],
                netns: Some(netns),
                mounts_from: lab.mounts_from()?,
            };
            let starter = lab.starter()?;
            let init = blocking(move || ns::start(&starter, &spec)).await?;
            lab.keep_init(node, Some(&init))?;
            links_up(lab, node).await?;
            if let Some(attrs) = lab.kept::<boot::Attrs>(node, kept::BOOT) {
                lab.run_boot(node, init, attrs).await?;
            }
            if want == ns::PAUSED {
                blocking(move || {
                ns::freeze(&init);
                Ok(())
            }).await?;
            }
        }
    }
    Ok(match lab.init(node) {
        Ok(i) => json!(i),
        Err(_) => Value::Null,
    })
}

/// A shut-off node's links go down, as a VM's NICs do with it: it neither answers nor
/// forwards. Its addresses stay (IPv6 ones too: keep_addr_on_down); the kernel drops the
/// routes through them, which [`links_up`] puts back. The node's directory keeps the names
/// of the links to bring up again.
async fn links_down(lab: &Lab, node: &str) -> Result<()> {
    ns::set_net_sysctl(lab.netns(node)?, "net/ipv6/conf/all/keep_addr_on_down", "1")?;
    let nl = lab.nl(node).await?;
    let mut up = Vec::new();
    for l in nl.links().await?.into_iter().filter(|l| l.up && l.name != "lo") {
        nl.set_link(l.index, LinkChange { up: Some(false), ..Default::default() }).await?;
        up.push(l.name);
    }
    // One name a line (as earlier vnx wrote it: a node shut off by one is started by the next).
    let file = lab.ns_dir(node)?.join(kept::LINKS_UP);
    std::fs::write(&file, up.join("\n")).map_err(|e| Error::Node(format!("{}: {e}", file.display())))
}

async fn links_up(lab: &Lab, node: &str) -> Result<()> {
    let file = lab.ns_dir(node)?.join(kept::LINKS_UP);
    let Ok(names) = std::fs::read_to_string(&file) else { return Ok(()) };
    let nl = lab.nl(node).await?;
    for name in names.lines().filter(|n| !n.is_empty()) {
        if let Some(l) = nl.link_by_name(name).await? {
            nl.set_link(l.index, LinkChange { up: Some(true), ..Default::default() }).await?;
        }
    }
    let routes = lab.kept::<Vec<routes::Route>>(node, kept::ROUTES).unwrap_or_default();
    routes::sync(&nl, &[], &routes).await?;
    let _ = std::fs::remove_file(&file);
    Ok(())
}
