//! The scenario model: one typed tree for the whole VNX 2.0 language (plus vnx's own
//! additions, marked as such), read from XML or YAML and written back to either.
//!
//! Field names are the YAML keys (serde), chosen from the domain: a `<vm>` is a [`Node`], an
//! `<if>` an [`Interface`], `<global>`'s children sit at the top of [`Scenario`]. The XML names
//! stay where the XML readers and writers are (`xml.rs`). Every struct keeps the span of the
//! element (or YAML mapping) it came from, and the fields that errors point at are
//! [`Spanned`].
//!
//! This layer does no I/O and holds no defaults: what the file did not say is `None`, so that
//! writing a model back says exactly what the file said. Defaults live with the code that
//! interprets the model (validation, planning).

use std::net::{IpAddr, Ipv4Addr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::span::{Span, Spanned};
use super::values::*;

/// Shorthand for the attributes every model struct carries.
macro_rules! model {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Where this was written (not part of the YAML form).
            #[serde(rename = "__span", default, skip_serializing)]
            #[schemars(skip)]
            pub span: Span,
            $($body)*
        }
    };
}

pub type Name = Spanned<String>;

model! {
    /// A whole scenario: `<vnx>`.
    #[derive(Default)]
    pub struct Scenario {
        /// `<scenario_name>`: names the lab on this host.
        pub name: Name,
        /// `<version>`: the language version, `2.0`.
        pub version: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ssh_version: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ssh_keys: Vec<Spanned<String>>,
        /// `<automac offset>`: MAC addresses computed from node and interface positions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub automac: Option<Automac>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub netconfig: Option<NetConfig>,
        /// `<vm_mgmt>`: the management network.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mgmt: Option<Mgmt>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tun_device: Option<String>,
        /// `<vm_defaults>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub defaults: Option<NodeDefaults>,
        /// `<cmd-seq>`s of `<global>`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub sequences: Vec<CmdSeq>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub extensions: Vec<Extension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vnx_cfg: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub dynamips_ext: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub olive_ext: Option<String>,
        /// `<help><seq_help>`: what each sequence does.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub help: Vec<SeqHelp>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub nets: Vec<Net>,
        /// `<vm>`s.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub nodes: Vec<Node>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub host: Option<Host>,
    }
}

model! {
    #[derive(Default)]
    pub struct Automac {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub offset: Option<Spanned<u32>>,
    }
}

model! {
    #[derive(Default)]
    pub struct NetConfig {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub promisc: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stp: Option<bool>,
    }
}

model! {
    /// `<vm_mgmt>`.
    pub struct Mgmt {
        #[serde(rename = "type")]
        pub kind: Spanned<MgmtType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub network: Option<Spanned<Ipv4Addr>>,
        /// A prefix length, 8 to 30.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mask: Option<Spanned<u8>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub offset: Option<Spanned<u32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mgmt_net: Option<MgmtNet>,
        /// `<host_mapping/>`: put every node's management address in the hosts files.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub host_mapping: bool,
    }
}

model! {
    #[derive(Default)]
    pub struct MgmtNet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub net: Option<Name>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub managed: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub config: Option<MgmtConfig>,
    }
}

model! {
    /// `<vm_defaults>`: values every node takes unless it says otherwise.
    #[derive(Default)]
    pub struct NodeDefaults {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub filesystems: Vec<Filesystem>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mem: Option<Spanned<Memory>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kernel: Option<Kernel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub shell: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub basedir: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mng_if: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub consoles: Vec<Console>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub forwarding: Option<Forwarding>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub users: Vec<User>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub exec_modes: Vec<ExecModeDefault>,
    }
}

model! {
    /// `<vm_defaults><exec_mode type subtype os>MODE</exec_mode>`.
    #[derive(Default)]
    pub struct ExecModeDefault {
        #[serde(rename = "type")]
        pub node_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subtype: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub os: Option<String>,
        pub mode: String,
    }
}

model! {
    /// `<cmd-seq seq="NAME">a,b,c</cmd-seq>`: a sequence made of other sequences.
    #[derive(Default)]
    pub struct CmdSeq {
        pub name: Name,
        pub steps: Vec<Spanned<String>>,
    }
}

model! {
    #[derive(Default)]
    pub struct Extension {
        pub conf: String,
        pub plugin: String,
    }
}

model! {
    #[derive(Default)]
    pub struct SeqHelp {
        pub seq: String,
        pub text: String,
    }
}

model! {
    /// `<net>`: a virtual network that node interfaces attach to.
    #[derive(Default)]
    pub struct Net {
        pub name: Name,
        pub mode: Spanned<NetMode>,
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        pub kind: Option<Spanned<NetType>>,
        /// `managed="no"`: the bridge exists already and is never created nor deleted by vnx.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub managed: Option<bool>,
        /// A host NIC attached to the net.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub external: Option<Spanned<String>>,
        /// VLAN id of the `external` NIC's sub-interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<Spanned<u16>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mtu: Option<Spanned<u16>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stp: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hub: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scope: Option<NetScope>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sock: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub uml_switch_binary: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub capture_file: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub capture_expression: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub capture_dev: Option<Spanned<String>>,
        /// OpenFlow controllers, `tcp:HOST:PORT`, comma-separated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub controller: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub of_version: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hwaddr: Option<Spanned<MacAddr>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fail_mode: Option<Spanned<FailMode>>,
        /// Link conditions on every interface of the net (see [`LinkConditions`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bw: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delay: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub loss: Option<Spanned<String>>,
        /// `<bw>` child: the bandwidth of a `ppp` net, in bits per second (dynamips).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ppp_bw: Option<Spanned<u64>>,
        /// vnx: `up="no"` keeps the net's links down (VNX's `down_net`); absent means up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub up: Option<bool>,
        /// `<connection>`s from this switch to others.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub connections: Vec<Connection>,
        /// YAML only, written by vnx into a cluster lab's host fragment: the net goes on, over
        /// VXLAN, on other hosts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vxlan: Option<Vxlan>,
    }
}

model! {
    /// The part of a net on other hosts: its VXLAN segment as one host sees it.
    #[derive(Default)]
    pub struct Vxlan {
        pub vni: u32,
        /// This host's underlay address.
        pub local: String,
        /// The underlay addresses of the other hosts the net is on.
        pub peers: Vec<String>,
        /// The UDP port (4789 when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
    }
}

model! {
    /// `<connection>`: a link from this switch to another net.
    #[derive(Default)]
    pub struct Connection {
        pub name: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub net: Option<Name>,
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        pub kind: Option<ConnectionType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub src_port: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub dst_port: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<Vlan>,
    }
}

model! {
    /// `<vlan trunk><tag id/>…</vlan>`.
    #[derive(Default)]
    pub struct Vlan {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trunk: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub tags: Vec<Spanned<u16>>,
    }
}

model! {
    /// `<vm>`: a node of the lab (a namespace, a container or a virtual machine).
    #[derive(Default)]
    pub struct Node {
        pub name: Name,
        /// `lxc`, `nsrouter`, `libvirt`, `uml`, `dynamips`, or vnx's own `ns`.
        #[serde(rename = "type")]
        pub node_type: Spanned<String>,
        /// vnx: which provider runs the node (`ns`, `libvirt`), overriding the type's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub provider: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subtype: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub os: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub os_subtype: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub arch: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vcpu: Option<Spanned<u32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vcpu_quota: Option<String>,
        /// Position among nodes (for automac and start order) ahead of document order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub order: Option<Spanned<u32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub exec_mode: Option<Spanned<String>>,
        /// vnx: the cluster host this node runs on, when the lab spans hosts (a pin, as EDIV's
        /// `vm_deploy_at`); a lab on one host has no use for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub host: Option<Name>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub boot: Option<Boot>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cdrom: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filesystem: Option<Filesystem>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub storage: Vec<Storage>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub shared_dirs: Vec<SharedDir>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mem: Option<Spanned<Memory>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub video: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kernel: Option<Kernel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub conf: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub shell: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub basedir: Option<Spanned<String>>,
        /// `<mng_if>no</mng_if>`: no management interface for this node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mng_if: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub consoles: Vec<Console>,
        /// `<on_boot>no</on_boot>`: not started with the lab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub on_boot: Option<bool>,
        /// `<if>`s.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub interfaces: Vec<Interface>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub routes: Vec<Route>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub forwarding: Option<Spanned<Forwarding>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub users: Vec<User>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub filetrees: Vec<Filetree>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub execs: Vec<Exec>,
        /// `<cmd-seq>`s of this node.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub sequences: Vec<CmdSeq>,
    }
}

model! {
    /// `<filesystem type>PATH</filesystem>`: the node's root filesystem or disk image.
    #[derive(Default)]
    pub struct Filesystem {
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        pub kind: Option<FsType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub loader: Option<Loader>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bus: Option<DiskBus>,
        /// In `<vm_defaults>`: which nodes this default is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vm_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subtype: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub os: Option<String>,
        pub path: Spanned<String>,
    }
}

model! {
    #[derive(Default)]
    pub struct Storage {
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        pub bus: Option<StorageBus>,
        pub path: Spanned<String>,
    }
}

model! {
    /// `<shareddir root options>SOURCE</shareddir>`: a host directory seen inside the node.
    #[derive(Default)]
    pub struct SharedDir {
        pub root: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub options: Option<String>,
        pub source: Spanned<String>,
    }
}

model! {
    #[derive(Default)]
    pub struct Kernel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub root: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub devfs: Option<Devfs>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub modules: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub initrd: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trace: Option<bool>,
        pub path: Spanned<String>,
    }
}

model! {
    /// `<console id display port>VALUE</console>`.
    #[derive(Default)]
    pub struct Console {
        pub id: Spanned<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub display: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<Spanned<u16>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub value: Option<String>,
    }
}

model! {
    /// `<if>`: a node's interface on a net.
    #[derive(Default)]
    pub struct Interface {
        pub id: Spanned<u32>,
        /// The net's name, or `lo`, `vm_mgmt`, `unconnected`.
        pub net: Name,
        /// The interface's name where the node type uses one (`name="e0/0"` for dynamips;
        /// the Linux name inside `ns` nodes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<Name>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac: Option<Spanned<MacAddr>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ipv4: Vec<Spanned<Ipv4Config>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ipv6: Vec<Spanned<Ipv6Config>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub dns: Vec<Spanned<IpAddr>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<Vlan>,
        /// Link conditions (see [`LinkConditions`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bw: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delay: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub loss: Option<Spanned<String>>,
    }
}

model! {
    /// `<route type gw>DEST</route>`.
    pub struct Route {
        #[serde(rename = "type")]
        pub family: Spanned<Family>,
        pub to: Spanned<RouteDest>,
        pub gw: Spanned<IpAddr>,
    }
}

model! {
    #[derive(Default)]
    pub struct User {
        pub username: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub group: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub groups: Vec<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ssh_keys: Vec<Spanned<String>>,
    }
}

model! {
    /// `<filetree seq root user group perms>SOURCE</filetree>`: files copied into the node when
    /// the sequence runs.
    #[derive(Default)]
    pub struct Filetree {
        /// One sequence name or several, comma-separated.
        pub seq: Spanned<String>,
        /// Where in the node: a directory when it ends in `/`, else a file path.
        pub root: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub group: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub perms: Option<Spanned<String>>,
        /// The host file or directory, relative to `basedir` or the scenario's folder.
        pub source: Spanned<String>,
    }
}

model! {
    /// `<exec seq type ostype user>COMMAND</exec>`.
    #[derive(Default)]
    pub struct Exec {
        pub seq: Spanned<String>,
        #[serde(rename = "type", default, skip_serializing_if = "is_verbatim")]
        pub kind: ExecType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ostype: Option<Spanned<OsType>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user: Option<Spanned<String>>,
        /// The command text (`verbatim`) or the path of a file holding it (`file`).
        pub command: Spanned<String>,
    }
}

/// `type` is required in XML; the YAML form defaults it to `verbatim`.
impl Default for ExecType {
    fn default() -> Self {
        ExecType::Verbatim
    }
}

fn is_verbatim(t: &ExecType) -> bool {
    *t == ExecType::Verbatim
}

model! {
    /// `<host>`: what the host (the namespace vnx runs in) takes part in.
    #[derive(Default)]
    pub struct Host {
        /// `<hostif>`s: the host's interfaces on the lab's nets.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub interfaces: Vec<HostIf>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub physical_interfaces: Vec<PhysicalIf>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub routes: Vec<Route>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub forwarding: Option<Spanned<Forwarding>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub execs: Vec<Exec>,
    }
}

model! {
    #[derive(Default)]
    pub struct HostIf {
        pub net: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<Vlan>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ipv4: Vec<Spanned<Ipv4Config>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ipv6: Vec<Spanned<Ipv6Config>>,
    }
}

model! {
    /// `<physicalif>`: the configuration a host NIC gets back when a net releases it.
    pub struct PhysicalIf {
        pub name: Name,
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        pub family: Option<Family>,
        pub ip: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mask: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub gw: Option<Spanned<IpAddr>>,
    }
}

// ---- the `<modify_vnx>` document ----

/// A `<modify_vnx>` document: changes to apply, in order, to a running scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModifyDoc {
    pub span: Span,
    pub changes: Vec<Change>,
}

/// One child of `<modify_vnx>`.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    AddNode(Node),
    DelNode { name: Name, mode: Option<DelMode>, span: Span },
    AddNet(Net),
    DelNet { name: Name, del: Option<DelNetNodes>, mode: Option<DelMode>, span: Span },
    DownNet { name: Name, span: Span },
    UpNet { name: Name, span: Span },
}

// ---- helpers over the model ----

impl Scenario {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name.value == name)
    }
    pub fn net(&self, name: &str) -> Option<&Net> {
        self.nets.iter().find(|n| n.name.value == name)
    }
    /// Every `<cmd-seq>`, global ones first, with the node that defines it.
    pub fn all_sequences(&self) -> impl Iterator<Item = (Option<&Node>, &CmdSeq)> {
        self.sequences
            .iter()
            .map(|s| (None, s))
            .chain(self.nodes.iter().flat_map(|n| n.sequences.iter().map(move |s| (Some(n), s))))
    }
}

/// The sequence names of a `seq` attribute (`"a, b"` → `a`, `b`).
pub fn seq_names(seq: &str) -> impl Iterator<Item = &str> {
    seq.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Net names an interface may use without a `<net>`.
pub const RESERVED_IF_NETS: &[&str] = &["lo", "vm_mgmt", "unconnected"];

impl Node {
    /// An interface's name in the node: `eth<id>`, or its `name` on a node written as `ns`
    /// (VNX's other types name their interfaces in the guest, not here).
    pub fn ifname(&self, iface: &Interface) -> String {
        let explicit = self.node_type.value == "ns" || self.provider.as_ref().is_some_and(|p| p.value == "ns");
        match &iface.name {
            Some(n) if explicit => n.value.clone(),
            _ => format!("eth{}", iface.id.value),
        }
    }
}
