//! Scenario model → VNX 2.0 XML, in the schema's element order, two-space indented.

use quick_xml::escape::escape;

use crate::scenario::model::*;
use crate::scenario::values::*;

/// An XML text writer that keeps indentation and escaping in one place.
struct W {
    out: String,
    depth: usize,
}

type Attrs = Vec<(&'static str, Option<String>)>;

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}
fn s<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

impl W {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
    fn tag(&mut self, name: &str, attrs: &Attrs) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            if let Some(v) = v {
                self.out.push_str(&format!(" {k}=\"{}\"", escape(v.as_str())));
            }
        }
    }
    fn open(&mut self, name: &str, attrs: Attrs) {
        self.indent();
        self.tag(name, &attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }
    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }
    /// `<name attrs>text</name>`, or `<name attrs/>` without text.
    fn leaf(&mut self, name: &str, attrs: Attrs, text: Option<&str>) {
        self.indent();
        self.tag(name, &attrs);
        match text {
            Some(t) if !t.is_empty() => self.out.push_str(&format!(">{}</{name}>\n", escape(t))),
            _ => self.out.push_str("/>\n"),
        }
    }
    fn text(&mut self, name: &str, text: &str) {
        self.leaf(name, vec![], Some(text));
    }
    fn opt_text(&mut self, name: &str, text: &Option<impl ToString>) {
        if let Some(t) = text {
            self.text(name, &t.to_string());
        }
    }
}

/// Writes a scenario as VNX 2.0 XML.
pub fn scenario_to_xml(sc: &Scenario) -> String {
    let mut w = W { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), depth: 0 };
    w.open(
        "vnx",
        vec![
            ("xmlns:xsi", Some("http://www.w3.org/2001/XMLSchema-instance".into())),
            ("xsi:noNamespaceSchemaLocation", Some("vnx.xsd".into())),
        ],
    );
    w.open("global", vec![]);
    w.text("version", &sc.version);
    w.text("scenario_name", &sc.name);
    w.opt_text("ssh_version", &sc.ssh_version);
    for k in &sc.ssh_keys {
        w.text("ssh_key", k);
    }
    if let Some(a) = &sc.automac {
        w.leaf("automac", vec![("offset", s(&a.offset))], None);
    }
    if let Some(n) = &sc.netconfig {
        w.leaf("netconfig", vec![("promisc", n.promisc.map(on_off)), ("stp", n.stp.map(on_off))], None);
    }
    if let Some(m) = &sc.mgmt {
        mgmt(&mut w, m);
    }
    w.opt_text("tun_device", &sc.tun_device);
    if let Some(d) = &sc.defaults {
        defaults(&mut w, d);
    }
    for c in &sc.sequences {
        cmd_seq(&mut w, c);
    }
    for e in &sc.extensions {
        w.leaf("extension", vec![("conf", Some(e.conf.clone())), ("plugin", Some(e.plugin.clone()))], None);
    }
    w.opt_text("vnx_cfg", &sc.vnx_cfg);
    w.opt_text("dynamips_ext", &sc.dynamips_ext);
    w.opt_text("olive_ext", &sc.olive_ext);
    if !sc.help.is_empty() {
        w.open("help", vec![]);
        for h in &sc.help {
            w.leaf("seq_help", vec![("seq", Some(h.seq.clone()))], Some(&h.text));
        }
        w.close("help");
    }
    w.close("global");
    for n in &sc.nets {
        net(&mut w, "net", n);
    }
    for n in &sc.nodes {
        node(&mut w, "vm", n);
    }
    if let Some(h) = &sc.host {
        host(&mut w, h);
    }
    w.close("vnx");
    w.out
}

/// Writes a `<modify_vnx>` document.
pub fn modify_to_xml(doc: &ModifyDoc) -> String {
    let mut w = W { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), depth: 0 };
    w.open("modify_vnx", vec![]);
    for c in &doc.changes {
        match c {
            Change::AddNode(n) => node(&mut w, "add_vm", n),
            Change::AddNet(n) => net(&mut w, "add_net", n),
            Change::DelNode { name, mode, .. } => {
                w.leaf("del_vm", vec![("name", Some(name.value.clone())), ("mode", s(mode))], None)
            }
            Change::DelNet { name, del, mode, .. } => {
                w.leaf("del_net", vec![("name", Some(name.value.clone())), ("del", s(del)), ("mode", s(mode))], None)
            }
            Change::DownNet { name, .. } => w.leaf("down_net", vec![("name", Some(name.value.clone()))], None),
            Change::UpNet { name, .. } => w.leaf("up_net", vec![("name", Some(name.value.clone()))], None),
        }
    }
    w.close("modify_vnx");
    w.out
}

fn mgmt(w: &mut W, m: &Mgmt) {
    let attrs = vec![
        ("type", Some(m.kind.to_string())),
        ("network", s(&m.network)),
        ("mask", s(&m.mask)),
        ("offset", s(&m.offset)),
    ];
    if m.mgmt_net.is_none() && !m.host_mapping {
        return w.leaf("vm_mgmt", attrs, None);
    }
    w.open("vm_mgmt", attrs);
    if let Some(n) = &m.mgmt_net {
        w.leaf(
            "mgmt_net",
            vec![("net", s(&n.net)), ("managed", n.managed.map(yes_no)), ("config", s(&n.config))],
            None,
        );
    }
    if m.host_mapping {
        w.leaf("host_mapping", vec![], None);
    }
    w.close("vm_mgmt");
}

fn defaults(w: &mut W, d: &NodeDefaults) {
    w.open("vm_defaults", vec![]);
    for f in &d.filesystems {
        filesystem(w, f);
    }
    w.opt_text("mem", &d.mem);
    if let Some(k) = &d.kernel {
        kernel(w, k);
    }
    w.opt_text("shell", &d.shell);
    w.opt_text("basedir", &d.basedir);
    w.opt_text("mng_if", &d.mng_if.map(yes_no));
    for c in &d.consoles {
        console(w, c);
    }
    if let Some(f) = d.forwarding {
        w.leaf("forwarding", vec![("type", Some(f.to_string()))], None);
    }
    for u in &d.users {
        user(w, u);
    }
    for m in &d.exec_modes {
        w.leaf(
            "exec_mode",
            vec![("type", Some(m.node_type.clone())), ("subtype", m.subtype.clone()), ("os", m.os.clone())],
            Some(&m.mode),
        );
    }
    w.close("vm_defaults");
}

fn cmd_seq(w: &mut W, c: &CmdSeq) {
    let steps: Vec<&str> = c.steps.iter().map(|s| s.value.as_str()).collect();
    w.leaf("cmd-seq", vec![("seq", Some(c.name.value.clone()))], Some(&steps.join(",")));
}

fn net(w: &mut W, tag: &str, n: &Net) {
    let attrs = vec![
        ("name", Some(n.name.value.clone())),
        ("mode", Some(n.mode.to_string())),
        ("type", s(&n.kind)),
        ("managed", n.managed.map(yes_no)),
        ("external", s(&n.external)),
        ("vlan", s(&n.vlan)),
        ("mtu", s(&n.mtu)),
        ("stp", n.stp.map(on_off)),
        ("hub", n.hub.map(yes_no)),
        ("scope", s(&n.scope)),
        ("sock", n.sock.clone()),
        ("uml_switch_binary", n.uml_switch_binary.clone()),
        ("capture_file", s(&n.capture_file)),
        ("capture_expression", s(&n.capture_expression)),
        ("capture_dev", s(&n.capture_dev)),
        ("controller", s(&n.controller)),
        ("of_version", s(&n.of_version)),
        ("hwaddr", s(&n.hwaddr)),
        ("fail_mode", s(&n.fail_mode)),
        ("bw", s(&n.bw)),
        ("delay", s(&n.delay)),
        ("loss", s(&n.loss)),
        ("up", n.up.map(yes_no)),
    ];
    if n.ppp_bw.is_none() && n.connections.is_empty() {
        return w.leaf(tag, attrs, None);
    }
    w.open(tag, attrs);
    w.opt_text("bw", &n.ppp_bw);
    for c in &n.connections {
        let attrs = vec![
            ("name", Some(c.name.value.clone())),
            ("net", s(&c.net)),
            ("type", s(&c.kind)),
            ("host", c.host.clone()),
            ("src_port", c.src_port.clone()),
            ("dst_port", c.dst_port.clone()),
        ];
        match &c.vlan {
            None => w.leaf("connection", attrs, None),
            Some(v) => {
                w.open("connection", attrs);
                vlan(w, v);
                w.close("connection");
            }
        }
    }
    w.close(tag);
}

fn vlan(w: &mut W, v: &Vlan) {
    let attrs = vec![("trunk", v.trunk.map(yes_no))];
    if v.tags.is_empty() {
        return w.leaf("vlan", attrs, None);
    }
    w.open("vlan", attrs);
    for t in &v.tags {
        w.leaf("tag", vec![("id", Some(t.to_string()))], None);
    }
    w.close("vlan");
}

fn node(w: &mut W, tag: &str, n: &Node) {
    w.open(
        tag,
        vec![
            ("name", Some(n.name.value.clone())),
            ("type", Some(n.node_type.value.clone())),
            ("provider", s(&n.provider)),
            ("subtype", s(&n.subtype)),
            ("os", s(&n.os)),
            ("os_subtype", n.os_subtype.clone()),
            ("arch", s(&n.arch)),
            ("vcpu", s(&n.vcpu)),
            ("vcpu_quota", n.vcpu_quota.clone()),
            ("order", s(&n.order)),
            ("exec_mode", s(&n.exec_mode)),
            ("host", s(&n.host)),
        ],
    );
    w.opt_text("boot", &n.boot);
    w.opt_text("cdrom", &n.cdrom);
    if let Some(f) = &n.filesystem {
        filesystem(w, f);
    }
    for st in &n.storage {
        w.leaf("storage", vec![("type", s(&st.bus))], Some(&st.path));
    }
    for d in &n.shared_dirs {
        w.leaf(
            "shareddir",
            vec![("root", Some(d.root.value.clone())), ("options", d.options.clone())],
            Some(&d.source),
        );
    }
    w.opt_text("mem", &n.mem);
    w.opt_text("video", &n.video);
    if let Some(k) = &n.kernel {
        kernel(w, k);
    }
    w.opt_text("conf", &n.conf);
    w.opt_text("shell", &n.shell);
    w.opt_text("basedir", &n.basedir);
    w.opt_text("mng_if", &n.mng_if.map(yes_no));
    for c in &n.consoles {
        console(w, c);
    }
    w.opt_text("on_boot", &n.on_boot.map(yes_no));
    for i in &n.interfaces {
        interface(w, i);
    }
    for r in &n.routes {
        route(w, r);
    }
    if let Some(f) = &n.forwarding {
        w.leaf("forwarding", vec![("type", Some(f.to_string()))], None);
    }
    for u in &n.users {
        user(w, u);
    }
    for f in &n.filetrees {
        w.leaf(
            "filetree",
            vec![
                ("seq", Some(f.seq.value.clone())),
                ("root", Some(f.root.value.clone())),
                ("user", s(&f.user)),
                ("group", s(&f.group)),
                ("perms", s(&f.perms)),
            ],
            Some(&f.source),
        );
    }
    for e in &n.execs {
        exec(w, e);
    }
    for c in &n.sequences {
        cmd_seq(w, c);
    }
    w.close(tag);
}

fn filesystem(w: &mut W, f: &Filesystem) {
    w.leaf(
        "filesystem",
        vec![
            ("type", s(&f.kind)),
            ("loader", s(&f.loader)),
            ("bus", s(&f.bus)),
            ("vm_type", f.vm_type.clone()),
            ("subtype", f.subtype.clone()),
            ("os", f.os.clone()),
        ],
        Some(&f.path),
    );
}

fn kernel(w: &mut W, k: &Kernel) {
    w.leaf(
        "kernel",
        vec![
            ("root", k.root.clone()),
            ("devfs", s(&k.devfs)),
            ("modules", k.modules.clone()),
            ("initrd", k.initrd.clone()),
            ("trace", k.trace.map(on_off)),
        ],
        Some(&k.path),
    );
}

fn console(w: &mut W, c: &Console) {
    w.leaf(
        "console",
        vec![("id", Some(c.id.to_string())), ("display", c.display.map(yes_no)), ("port", s(&c.port))],
        c.value.as_deref(),
    );
}

fn user(w: &mut W, u: &User) {
    let attrs = vec![("username", Some(u.username.value.clone())), ("group", s(&u.group))];
    if u.groups.is_empty() && u.ssh_keys.is_empty() {
        return w.leaf("user", attrs, None);
    }
    w.open("user", attrs);
    for g in &u.groups {
        w.text("group", g);
    }
    for k in &u.ssh_keys {
        w.text("ssh_key", k);
    }
    w.close("user");
}

fn addresses(
    w: &mut W,
    v4: &[crate::scenario::span::Spanned<Ipv4Config>],
    v6: &[crate::scenario::span::Spanned<Ipv6Config>],
) {
    for a in v4 {
        w.text("ipv4", &a.to_string());
    }
    for a in v6 {
        w.text("ipv6", &a.to_string());
    }
}

fn interface(w: &mut W, i: &Interface) {
    let attrs = vec![
        ("id", Some(i.id.to_string())),
        ("net", Some(i.net.value.clone())),
        ("name", s(&i.name)),
        ("bw", s(&i.bw)),
        ("delay", s(&i.delay)),
        ("loss", s(&i.loss)),
    ];
    if i.vlan.is_none() && i.mac.is_none() && i.ipv4.is_empty() && i.ipv6.is_empty() && i.dns.is_empty() {
        return w.leaf("if", attrs, None);
    }
    w.open("if", attrs);
    if let Some(v) = &i.vlan {
        vlan(w, v);
    }
    w.opt_text("mac", &i.mac);
    addresses(w, &i.ipv4, &i.ipv6);
    for d in &i.dns {
        w.text("dns", &d.to_string());
    }
    w.close("if");
}

fn route(w: &mut W, r: &Route) {
    w.leaf(
        "route",
        vec![("type", Some(r.family.to_string())), ("gw", Some(r.gw.to_string()))],
        Some(&r.to.to_string()),
    );
}

fn exec(w: &mut W, e: &Exec) {
    w.leaf(
        "exec",
        vec![
            ("seq", Some(e.seq.value.clone())),
            ("type", Some(e.kind.to_string())),
            ("ostype", s(&e.ostype)),
            ("user", s(&e.user)),
        ],
        Some(&e.command),
    );
}

fn host(w: &mut W, h: &Host) {
    w.open("host", vec![]);
    for i in &h.interfaces {
        w.open("hostif", vec![("net", Some(i.net.value.clone()))]);
        if let Some(v) = &i.vlan {
            vlan(w, v);
        }
        addresses(w, &i.ipv4, &i.ipv6);
        w.close("hostif");
    }
    for p in &h.physical_interfaces {
        w.leaf(
            "physicalif",
            vec![
                ("name", Some(p.name.value.clone())),
                ("type", s(&p.family)),
                ("ip", Some(p.ip.value.clone())),
                ("mask", s(&p.mask)),
                ("gw", s(&p.gw)),
            ],
            None,
        );
    }
    for r in &h.routes {
        route(w, r);
    }
    if let Some(f) = &h.forwarding {
        w.leaf("forwarding", vec![("type", Some(f.to_string()))], None);
    }
    for e in &h.execs {
        exec(w, e);
    }
    w.close("host");
}
