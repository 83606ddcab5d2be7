//! XML element tree → scenario model. Structural checks live here: unknown elements and
//! attributes (with "did you mean"), missing required attributes, values that do not parse,
//! elements given more often than the language allows. Each finding is a located [`Diag`];
//! reading goes on after an error so that one run reports all of them.

use std::fmt::Display;
use std::str::FromStr;

use super::tree::{Attr, Element};
use crate::scenario::diag::{did_you_mean, Diag};
use crate::scenario::model::*;
use crate::scenario::span::{Span, Spanned};
use crate::scenario::values::*;

/// Collects diagnostics while reading.
#[derive(Default)]
pub struct Cx {
    pub diags: Vec<Diag>,
}

fn is_namespace_attr(name: &str) -> bool {
    name.starts_with("xmlns") || name.starts_with("xsi:")
}

impl Cx {
    fn err(&mut self, d: Diag) {
        self.diags.push(d);
    }

    /// Reports attributes and child elements that `el` may not have.
    fn check(&mut self, el: &Element, attrs: &[&str], children: &[&str]) {
        for a in &el.attrs {
            if attrs.contains(&a.name.as_str()) || is_namespace_attr(&a.name) {
                continue;
            }
            let mut d =
                Diag::error("vnx::unknown-attribute", format!("unknown attribute `{}` on <{}>", a.name, el.name))
                    .at(a.name_span, "not an attribute of this element");
            d = match did_you_mean(&a.name, attrs.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if attrs.is_empty() => d.help(format!("<{}> takes no attributes", el.name)),
                None => d.help(format!("<{}> takes: {}", el.name, attrs.join(", "))),
            };
            self.err(d);
        }
        for c in &el.children {
            if children.contains(&c.name.as_str()) {
                continue;
            }
            let mut d = Diag::error("vnx::unknown-element", format!("unknown element <{}> in <{}>", c.name, el.name))
                .at(c.name_span, "not allowed here");
            let suggestion = did_you_mean(&c.name, children.iter().copied());
            d = match suggestion {
                Some(s) => d.help(format!("did you mean <{s}>?")),
                None if children.is_empty() => d.help(format!("<{}> holds only text", el.name)),
                None => d.help(format!(
                    "<{}> may hold: {}",
                    el.name,
                    children.iter().map(|c| format!("<{c}>")).collect::<Vec<_>>().join(", ")
                )),
            };
            self.err(d);
        }
    }

    /// Reports a child element given more than once where the language allows one.
    fn at_most_one(&mut self, el: &Element, names: &[&str]) {
        for name in names {
            let mut seen = el.children_named(name);
            if let (Some(first), Some(second)) = (seen.next(), seen.next()) {
                self.err(
                    Diag::error("vnx::duplicate-element", format!("<{}> may hold only one <{name}>", el.name))
                        .at(second.name_span, "second one here")
                        .at(first.name_span, "first one here")
                        .help(format!("keep one <{name}> and remove the other")),
                );
            }
        }
    }

    fn required<'a>(&mut self, el: &'a Element, name: &str) -> Option<&'a Attr> {
        let a = el.attr(name);
        if a.is_none() {
            self.err(
                Diag::error("vnx::missing-attribute", format!("<{}> needs a `{name}` attribute", el.name))
                    .at(el.name_span, format!("`{name}` is missing"))
                    .help(format!("add {name}=\"...\" to this <{}>", el.name)),
            );
        }
        a
    }

    fn parse_value<T: FromStr>(&mut self, value: &str, span: Span, what: &str) -> Option<Spanned<T>>
    where
        T::Err: Display,
    {
        match value.trim().parse::<T>() {
            Ok(v) => Some(Spanned::new(v, span)),
            Err(e) => {
                self.err(
                    Diag::error("vnx::bad-value", format!("bad value for {what}: {e}"))
                        .at(span, "this value")
                        .help(value_help(what)),
                );
                None
            }
        }
    }

    fn attr_str(&mut self, el: &Element, name: &str) -> Option<Spanned<String>> {
        el.attr(name).map(|a| Spanned::new(a.value.clone(), a.value_span))
    }

    fn attr_req_str(&mut self, el: &Element, name: &str) -> Option<Spanned<String>> {
        self.required(el, name).map(|a| Spanned::new(a.value.clone(), a.value_span))
    }

    fn attr_parse<T: FromStr>(&mut self, el: &Element, name: &str) -> Option<Spanned<T>>
    where
        T::Err: Display,
    {
        let a = el.attr(name)?;
        self.parse_value(&a.value, a.value_span, &format!("`{name}` of <{}>", el.name))
    }

    fn attr_req_parse<T: FromStr>(&mut self, el: &Element, name: &str) -> Option<Spanned<T>>
    where
        T::Err: Display,
    {
        let a = self.required(el, name)?;
        self.parse_value(&a.value, a.value_span, &format!("`{name}` of <{}>", el.name))
    }

    fn attr_bool(&mut self, el: &Element, name: &str) -> Option<bool> {
        let a = el.attr(name)?;
        match parse_bool(&a.value) {
            Ok(b) => Some(b),
            Err(e) => {
                self.err(
                    Diag::error("vnx::bad-value", format!("bad value for `{name}` of <{}>: {e}", el.name))
                        .at(a.value_span, "write yes or no"),
                );
                None
            }
        }
    }

    fn text(&mut self, el: &Element) -> Spanned<String> {
        Spanned::new(el.trimmed_text().to_string(), el.text_span)
    }

    /// Text that must not be empty.
    fn text_req(&mut self, el: &Element) -> Spanned<String> {
        let t = self.text(el);
        if t.value.is_empty() {
            self.err(
                Diag::error("vnx::empty-element", format!("<{}> is empty", el.name))
                    .at(el.name_span, "needs a value between its tags")
                    .help(format!("write the value as <{0}>VALUE</{0}>", el.name)),
            );
        }
        t
    }

    fn text_parse<T: FromStr>(&mut self, el: &Element) -> Option<Spanned<T>>
    where
        T::Err: Display,
    {
        let t = el.trimmed_text();
        self.parse_value(t, el.text_span, &format!("<{}>", el.name))
    }

    fn text_bool(&mut self, el: &Element) -> Option<bool> {
        match parse_bool(el.trimmed_text()) {
            Ok(b) => Some(b),
            Err(e) => {
                self.err(
                    Diag::error("vnx::bad-value", format!("bad value for <{}>: {e}", el.name))
                        .at(el.text_span, "write yes or no"),
                );
                None
            }
        }
    }

    fn only_text(&mut self, el: &Element) -> Spanned<String> {
        self.check(el, &[], &[]);
        self.text(el)
    }
}

fn value_help(what: &str) -> String {
    if what.contains("ipv4") {
        "write an IPv4 address with its prefix, such as 10.0.0.1/24, or dhcp".into()
    } else if what.contains("ipv6") {
        "write an IPv6 address with its prefix, such as 2001:db8::1/64, or dhcp".into()
    } else if what.contains("<route>") {
        "write `default` or a prefix such as 10.1.0.0/16".into()
    } else {
        format!("correct {what}")
    }
}

// ---- documents ----

/// Reads `<vnx>`.
pub fn scenario(cx: &mut Cx, root: &Element) -> Scenario {
    cx.check(root, &[], &["global", "net", "vm", "host"]);
    let mut s = Scenario { span: root.name_span, ..Default::default() };
    let globals: Vec<&Element> = root.children_named("global").collect();
    if globals.is_empty() {
        cx.err(
            Diag::error("vnx::missing-element", "the scenario has no <global>")
                .at(root.name_span, "needs <global> with <version> and <scenario_name>")
                .help("add <global><version>2.0</version><scenario_name>NAME</scenario_name></global>"),
        );
    }
    if let Some(extra) = globals.get(1) {
        cx.err(
            Diag::error("vnx::duplicate-element", "a scenario has only one <global>")
                .at(extra.name_span, "second <global>")
                .at(globals[0].name_span, "first <global>")
                .help("merge the two <global> elements into one"),
        );
    }
    if let Some(g) = globals.first() {
        global(cx, g, &mut s);
    }
    s.nets = root.children_named("net").map(|e| net(cx, e)).collect();
    s.nodes = root.children_named("vm").map(|e| node(cx, e, "vm")).collect();
    let hosts: Vec<&Element> = root.children_named("host").collect();
    if let Some(extra) = hosts.get(1) {
        cx.err(
            Diag::error("vnx::duplicate-element", "a scenario has only one <host>")
                .at(extra.name_span, "second <host>")
                .help("merge the <host> elements into one"),
        );
    }
    s.host = hosts.first().map(|e| host(cx, e));
    s
}

fn global(cx: &mut Cx, g: &Element, s: &mut Scenario) {
    const SINGLE: &[&str] = &[
        "version",
        "scenario_name",
        "ssh_version",
        "automac",
        "netconfig",
        "vm_mgmt",
        "tun_device",
        "vm_defaults",
        "vnx_cfg",
        "dynamips_ext",
        "olive_ext",
    ];
    let mut all = SINGLE.to_vec();
    all.extend(["ssh_key", "cmd-seq", "extension", "help"]);
    cx.check(g, &[], &all);
    cx.at_most_one(g, SINGLE);
    let first = |n: &str| g.children_named(n).next().cloned();
    match first("version") {
        Some(v) => s.version = cx.only_text(&v),
        None => cx.err(
            Diag::error("vnx::missing-element", "<global> has no <version>")
                .at(g.name_span, "needs <version>2.0</version>")
                .help("add <version>2.0</version> to <global>"),
        ),
    }
    match first("scenario_name") {
        Some(n) => s.name = cx.only_text(&n),
        None => cx.err(
            Diag::error("vnx::missing-element", "<global> has no <scenario_name>")
                .at(g.name_span, "needs <scenario_name>")
                .help("add <scenario_name>NAME</scenario_name> to <global>: it names the lab on this host"),
        ),
    }
    s.ssh_version = first("ssh_version").map(|e| cx.only_text(&e).value);
    s.ssh_keys = g.children_named("ssh_key").map(|e| cx.only_text(e)).collect();
    s.automac = first("automac").map(|e| {
        cx.check(&e, &["offset"], &[]);
        Automac { span: e.name_span, offset: cx.attr_parse(&e, "offset") }
    });
    s.netconfig = first("netconfig").map(|e| {
        cx.check(&e, &["promisc", "stp"], &[]);
        NetConfig { span: e.name_span, promisc: cx.attr_bool(&e, "promisc"), stp: cx.attr_bool(&e, "stp") }
    });
    s.mgmt = first("vm_mgmt").map(|e| mgmt(cx, &e));
    s.tun_device = first("tun_device").map(|e| cx.only_text(&e).value);
    s.defaults = first("vm_defaults").map(|e| defaults(cx, &e));
    s.sequences = g.children_named("cmd-seq").map(|e| cmd_seq(cx, e)).collect();
    s.extensions = g
        .children_named("extension")
        .map(|e| {
            cx.check(e, &["conf", "plugin"], &[]);
            Extension {
                span: e.name_span,
                conf: cx.attr_req_str(e, "conf").map(|v| v.value).unwrap_or_default(),
                plugin: cx.attr_req_str(e, "plugin").map(|v| v.value).unwrap_or_default(),
            }
        })
        .collect();
    s.vnx_cfg = first("vnx_cfg").map(|e| cx.only_text(&e).value);
    s.dynamips_ext = first("dynamips_ext").map(|e| cx.only_text(&e).value);
    s.olive_ext = first("olive_ext").map(|e| cx.only_text(&e).value);
    for h in g.children_named("help") {
        cx.check(h, &[], &["seq_help"]);
        for sh in h.children_named("seq_help") {
            cx.check(sh, &["seq"], &[]);
            s.help.push(SeqHelp {
                span: sh.name_span,
                seq: cx.attr_req_str(sh, "seq").map(|v| v.value).unwrap_or_default(),
                text: sh.trimmed_text().to_string(),
            });
        }
    }
}

fn mgmt(cx: &mut Cx, e: &Element) -> Mgmt {
    cx.check(e, &["type", "network", "mask", "offset"], &["mgmt_net", "host_mapping"]);
    cx.at_most_one(e, &["mgmt_net", "host_mapping"]);
    let kind = cx.attr_req_parse(e, "type").unwrap_or(Spanned::new(MgmtType::None, e.name_span));
    // `mask` is a prefix length here ("24"); accept a dotted mask too, as people write one.
    let mask = e.attr("mask").and_then(|a| {
        let v = a.value.trim();
        let parsed = if v.contains('.') {
            parse_ipv4_mask(v)
        } else {
            v.trim_start_matches('/').parse::<u8>().map_err(|_| format!("`{v}` is not a prefix length"))
        };
        match parsed {
            Ok(n) => Some(Spanned::new(n, a.value_span)),
            Err(msg) => {
                cx.err(
                    Diag::error("vnx::bad-value", format!("bad value for `mask` of <vm_mgmt>: {msg}"))
                        .at(a.value_span, "this value")
                        .help("write a prefix length from 8 to 30, such as 24"),
                );
                None
            }
        }
    });
    Mgmt {
        span: e.name_span,
        kind,
        network: cx.attr_parse(e, "network"),
        mask,
        offset: cx.attr_parse(e, "offset"),
        mgmt_net: e.children_named("mgmt_net").next().map(|m| {
            cx.check(m, &["net", "managed", "config"], &[]);
            MgmtNet {
                span: m.name_span,
                net: cx.attr_str(m, "net"),
                managed: cx.attr_bool(m, "managed"),
                config: cx.attr_parse(m, "config").map(|v| v.value),
            }
        }),
        host_mapping: e.children_named("host_mapping").next().map(|h| cx.check(h, &[], &[])).is_some(),
    }
}

fn defaults(cx: &mut Cx, e: &Element) -> NodeDefaults {
    const SINGLE: &[&str] = &["mem", "kernel", "shell", "basedir", "mng_if", "forwarding"];
    let mut all = SINGLE.to_vec();
    all.extend(["filesystem", "console", "user", "exec_mode"]);
    // `exec_mode` as an attribute is VNX 1.x; VNX 2.0 made it an element per node type.
    cx.check(e, &["exec_mode"], &all);
    cx.at_most_one(e, SINGLE);
    let first = |n: &str| e.children_named(n).next().cloned();
    let old_exec_mode = cx.attr_str(e, "exec_mode").map(|m| {
        cx.err(
            Diag::warning(
                "vnx::old-exec-mode",
                format!("exec_mode=\"{}\" on <vm_defaults> is VNX 1.x syntax: read as VNX 2.0's element", m.value),
            )
            .at(m.span, "an attribute before VNX 2.0")
            .help(format!("write <exec_mode type=\"libvirt\">{}</exec_mode> inside <vm_defaults>", m.value)),
        );
        ExecModeDefault { span: m.span, node_type: "libvirt".into(), subtype: None, os: None, mode: m.value }
    });
    NodeDefaults {
        span: e.name_span,
        filesystems: e.children_named("filesystem").map(|f| filesystem(cx, f, true)).collect(),
        mem: first("mem").and_then(|m| {
            cx.check(&m, &[], &[]);
            cx.text_parse(&m)
        }),
        kernel: first("kernel").map(|k| kernel(cx, &k)),
        shell: first("shell").map(|x| cx.only_text(&x).value),
        basedir: first("basedir").map(|x| cx.only_text(&x)),
        mng_if: first("mng_if").and_then(|x| {
            cx.check(&x, &[], &[]);
            cx.text_bool(&x)
        }),
        consoles: e.children_named("console").map(|c| console(cx, c)).collect(),
        forwarding: first("forwarding").and_then(|f| forwarding(cx, &f)).map(|f| f.value),
        users: e.children_named("user").map(|u| user(cx, u)).collect(),
        exec_modes: e
            .children_named("exec_mode")
            .map(|m| {
                cx.check(m, &["type", "subtype", "os"], &[]);
                ExecModeDefault {
                    span: m.name_span,
                    node_type: cx.attr_req_str(m, "type").map(|v| v.value).unwrap_or_default(),
                    subtype: cx.attr_str(m, "subtype").map(|v| v.value),
                    os: cx.attr_str(m, "os").map(|v| v.value),
                    mode: m.trimmed_text().to_string(),
                }
            })
            .chain(old_exec_mode)
            .collect(),
    }
}

fn cmd_seq(cx: &mut Cx, e: &Element) -> CmdSeq {
    cx.check(e, &["seq"], &[]);
    let text = cx.text_req(e);
    // Each step keeps its own place in the text, for "unknown sequence" errors.
    let mut steps = Vec::new();
    let mut pos = text.span.start;
    for part in text.value.split(',') {
        let lead = part.len() - part.trim_start().len();
        let name = part.trim();
        if !name.is_empty() {
            steps.push(Spanned::new(name.to_string(), Span::new(pos + lead, pos + lead + name.len())));
        }
        pos += part.len() + 1;
    }
    CmdSeq { span: e.name_span, name: cx.attr_req_str(e, "seq").unwrap_or_default(), steps }
}

const NET_ATTRS: &[&str] = &[
    "name",
    "mode",
    "type",
    "managed",
    "external",
    "vlan",
    "mtu",
    "stp",
    "hub",
    "scope",
    "sock",
    "uml_switch_binary",
    "capture_file",
    "capture_expression",
    "capture_dev",
    "controller",
    "of_version",
    "hwaddr",
    "fail_mode",
    "bw",
    "delay",
    "loss",
    "up",
];

/// Reads `<net>` (and `<add_net>` of a modify document).
pub fn net(cx: &mut Cx, e: &Element) -> Net {
    cx.check(e, NET_ATTRS, &["bw", "connection"]);
    cx.at_most_one(e, &["bw"]);
    Net {
        span: e.name_span,
        name: cx.attr_req_str(e, "name").unwrap_or_default(),
        mode: cx.attr_req_parse(e, "mode").unwrap_or(Spanned::new(NetMode::VirtualBridge, e.name_span)),
        kind: cx.attr_parse(e, "type"),
        managed: cx.attr_bool(e, "managed"),
        external: cx.attr_str(e, "external"),
        vlan: cx.attr_parse(e, "vlan"),
        mtu: cx.attr_parse(e, "mtu"),
        stp: cx.attr_bool(e, "stp"),
        hub: cx.attr_bool(e, "hub"),
        scope: cx.attr_parse(e, "scope").map(|v| v.value),
        sock: cx.attr_str(e, "sock").map(|v| v.value),
        uml_switch_binary: cx.attr_str(e, "uml_switch_binary").map(|v| v.value),
        capture_file: cx.attr_str(e, "capture_file"),
        capture_expression: cx.attr_str(e, "capture_expression"),
        capture_dev: cx.attr_str(e, "capture_dev"),
        controller: cx.attr_str(e, "controller"),
        of_version: cx.attr_str(e, "of_version"),
        hwaddr: cx.attr_parse(e, "hwaddr"),
        fail_mode: cx.attr_parse(e, "fail_mode"),
        bw: cx.attr_str(e, "bw"),
        delay: cx.attr_str(e, "delay"),
        loss: cx.attr_str(e, "loss"),
        up: cx.attr_bool(e, "up"),
        ppp_bw: e.children_named("bw").next().and_then(|b| {
            cx.check(b, &[], &[]);
            cx.text_parse(b)
        }),
        connections: e
            .children_named("connection")
            .map(|c| {
                cx.check(c, &["name", "net", "type", "host", "src_port", "dst_port"], &["vlan"]);
                cx.at_most_one(c, &["vlan"]);
                Connection {
                    span: c.name_span,
                    name: cx.attr_req_str(c, "name").unwrap_or_default(),
                    net: cx.attr_str(c, "net"),
                    kind: cx.attr_parse(c, "type").map(|v| v.value),
                    host: cx.attr_str(c, "host").map(|v| v.value),
                    src_port: cx.attr_str(c, "src_port").map(|v| v.value),
                    dst_port: cx.attr_str(c, "dst_port").map(|v| v.value),
                    vlan: c.children_named("vlan").next().map(|v| vlan(cx, v)),
                }
            })
            .collect(),
        // A host fragment's, which vnx writes in YAML only.
        vxlan: None,
    }
}

fn vlan(cx: &mut Cx, e: &Element) -> Vlan {
    cx.check(e, &["trunk"], &["tag"]);
    Vlan {
        span: e.name_span,
        trunk: cx.attr_bool(e, "trunk"),
        tags: e
            .children_named("tag")
            .filter_map(|t| {
                cx.check(t, &["id"], &[]);
                cx.attr_req_parse(t, "id")
            })
            .collect(),
    }
}

const NODE_ATTRS: &[&str] = &[
    "name",
    "type",
    "provider",
    "subtype",
    "os",
    "os_subtype",
    "arch",
    "vcpu",
    "vcpu_quota",
    "order",
    "exec_mode",
    "host",
];
const NODE_SINGLE: &[&str] = &[
    "boot",
    "cdrom",
    "filesystem",
    "mem",
    "video",
    "kernel",
    "conf",
    "shell",
    "basedir",
    "mng_if",
    "on_boot",
    "forwarding",
];
const NODE_MULTI: &[&str] = &["storage", "shareddir", "console", "if", "route", "user", "filetree", "exec", "cmd-seq"];

/// Reads `<vm>` (and `<add_vm>`, whose element name is given as `tag`).
pub fn node(cx: &mut Cx, e: &Element, tag: &str) -> Node {
    let _ = tag;
    let mut children = NODE_SINGLE.to_vec();
    children.extend(NODE_MULTI);
    cx.check(e, NODE_ATTRS, &children);
    cx.at_most_one(e, NODE_SINGLE);
    let first = |n: &str| e.children_named(n).next().cloned();
    Node {
        span: e.name_span,
        name: cx.attr_req_str(e, "name").unwrap_or_default(),
        node_type: cx.attr_req_str(e, "type").unwrap_or_default(),
        provider: cx.attr_str(e, "provider"),
        subtype: cx.attr_str(e, "subtype"),
        os: cx.attr_str(e, "os"),
        os_subtype: cx.attr_str(e, "os_subtype").map(|v| v.value),
        arch: cx.attr_str(e, "arch"),
        vcpu: cx.attr_parse(e, "vcpu"),
        vcpu_quota: cx.attr_str(e, "vcpu_quota").map(|v| v.value),
        order: cx.attr_parse(e, "order"),
        exec_mode: cx.attr_str(e, "exec_mode"),
        host: cx.attr_str(e, "host"),
        boot: first("boot")
            .and_then(|b| {
                cx.check(&b, &[], &[]);
                cx.text_parse(&b)
            })
            .map(|v| v.value),
        cdrom: first("cdrom").map(|x| cx.only_text(&x).value),
        filesystem: first("filesystem").map(|f| filesystem(cx, &f, false)),
        storage: e
            .children_named("storage")
            .map(|x| {
                cx.check(x, &["type"], &[]);
                Storage { span: x.name_span, bus: cx.attr_parse(x, "type").map(|v| v.value), path: cx.text_req(x) }
            })
            .collect(),
        shared_dirs: e
            .children_named("shareddir")
            .map(|x| {
                cx.check(x, &["root", "options"], &[]);
                SharedDir {
                    span: x.name_span,
                    root: cx.attr_req_str(x, "root").unwrap_or_default(),
                    options: cx.attr_str(x, "options").map(|v| v.value),
                    source: cx.text_req(x),
                }
            })
            .collect(),
        mem: first("mem").and_then(|m| {
            cx.check(&m, &[], &[]);
            cx.text_parse(&m)
        }),
        video: first("video").map(|x| cx.only_text(&x).value),
        kernel: first("kernel").map(|k| kernel(cx, &k)),
        conf: first("conf").map(|x| cx.only_text(&x).value),
        shell: first("shell").map(|x| cx.only_text(&x).value),
        basedir: first("basedir").map(|x| cx.only_text(&x)),
        mng_if: first("mng_if").and_then(|x| {
            cx.check(&x, &[], &[]);
            cx.text_bool(&x)
        }),
        consoles: e.children_named("console").map(|c| console(cx, c)).collect(),
        on_boot: first("on_boot").and_then(|x| {
            cx.check(&x, &[], &[]);
            cx.text_bool(&x)
        }),
        interfaces: e.children_named("if").map(|i| interface(cx, i)).collect(),
        routes: e.children_named("route").filter_map(|r| route(cx, r)).collect(),
        forwarding: first("forwarding").and_then(|f| forwarding(cx, &f)),
        users: e.children_named("user").map(|u| user(cx, u)).collect(),
        filetrees: e.children_named("filetree").map(|f| filetree(cx, f)).collect(),
        execs: e.children_named("exec").map(|x| exec(cx, x)).collect(),
        sequences: e.children_named("cmd-seq").map(|c| cmd_seq(cx, c)).collect(),
    }
}

fn filesystem(cx: &mut Cx, e: &Element, in_defaults: bool) -> Filesystem {
    let attrs: &[&str] =
        if in_defaults { &["type", "loader", "bus", "vm_type", "subtype", "os"] } else { &["type", "loader", "bus"] };
    cx.check(e, attrs, &[]);
    Filesystem {
        span: e.name_span,
        kind: cx.attr_parse(e, "type").map(|v| v.value),
        loader: cx.attr_parse(e, "loader").map(|v| v.value),
        bus: cx.attr_parse(e, "bus").map(|v| v.value),
        vm_type: cx.attr_str(e, "vm_type").map(|v| v.value),
        subtype: cx.attr_str(e, "subtype").map(|v| v.value),
        os: cx.attr_str(e, "os").map(|v| v.value),
        path: cx.text_req(e),
    }
}

fn kernel(cx: &mut Cx, e: &Element) -> Kernel {
    cx.check(e, &["root", "devfs", "modules", "initrd", "trace"], &[]);
    Kernel {
        span: e.name_span,
        root: cx.attr_str(e, "root").map(|v| v.value),
        devfs: cx.attr_parse(e, "devfs").map(|v| v.value),
        modules: cx.attr_str(e, "modules").map(|v| v.value),
        initrd: cx.attr_str(e, "initrd").map(|v| v.value),
        trace: cx.attr_bool(e, "trace"),
        path: cx.text_req(e),
    }
}

fn console(cx: &mut Cx, e: &Element) -> Console {
    cx.check(e, &["id", "display", "port"], &[]);
    let value = e.trimmed_text();
    Console {
        span: e.name_span,
        id: cx.attr_req_parse(e, "id").unwrap_or_default(),
        display: cx.attr_bool(e, "display"),
        port: cx.attr_parse(e, "port"),
        value: (!value.is_empty()).then(|| value.to_string()),
    }
}

fn forwarding(cx: &mut Cx, e: &Element) -> Option<Spanned<Forwarding>> {
    cx.check(e, &["type"], &[]);
    // VNX's schema requires `type`; <host><forwarding/> defaults to `ip` in VNX's code.
    match e.attr("type") {
        Some(_) => cx.attr_parse(e, "type"),
        None => Some(Spanned::new(Forwarding::Ip, e.name_span)),
    }
}

fn user(cx: &mut Cx, e: &Element) -> User {
    cx.check(e, &["username", "group"], &["group", "ssh_key"]);
    User {
        span: e.name_span,
        username: cx.attr_req_str(e, "username").unwrap_or_default(),
        group: cx.attr_str(e, "group"),
        groups: e.children_named("group").map(|g| cx.only_text(g)).collect(),
        ssh_keys: e.children_named("ssh_key").map(|k| cx.only_text(k)).collect(),
    }
}

fn addresses(cx: &mut Cx, e: &Element) -> (Vec<Spanned<Ipv4Config>>, Vec<Spanned<Ipv6Config>>) {
    let mut v4 = Vec::new();
    for a in e.children_named("ipv4") {
        cx.check(a, &["mask", "type"], &[]);
        let mask = a.attr("mask").map(|m| m.value.as_str());
        match Ipv4Config::parse_with_mask(a.trimmed_text(), mask) {
            Ok((c, defaulted)) => {
                if defaulted {
                    cx.err(
                        Diag::warning("vnx::default-mask", format!("{} has no mask: it gets /24", a.trimmed_text()))
                            .at(a.text_span, "no prefix length")
                            .help("write the prefix with the address (10.0.0.1/24) or as mask=\"255.255.255.0\""),
                    );
                }
                v4.push(Spanned::new(c, a.text_span));
            }
            Err(msg) => cx.err(
                Diag::error("vnx::bad-address", format!("bad IPv4 address: {msg}"))
                    .at(a.text_span, "this address")
                    .help("write an IPv4 address with its prefix, such as 10.0.0.1/24, or dhcp"),
            ),
        }
    }
    let mut v6 = Vec::new();
    for a in e.children_named("ipv6") {
        cx.check(a, &["mask"], &[]);
        let mask = a.attr("mask").map(|m| m.value.as_str());
        match Ipv6Config::parse_with_mask(a.trimmed_text(), mask) {
            Ok((c, _)) => v6.push(Spanned::new(c, a.text_span)),
            Err(msg) => cx.err(
                Diag::error("vnx::bad-address", format!("bad IPv6 address: {msg}"))
                    .at(a.text_span, "this address")
                    .help("write an IPv6 address with its prefix, such as 2001:db8::1/64, or dhcp"),
            ),
        }
    }
    (v4, v6)
}

fn interface(cx: &mut Cx, e: &Element) -> Interface {
    cx.check(e, &["id", "net", "name", "bw", "delay", "loss"], &["vlan", "mac", "ipv4", "ipv6", "dns"]);
    cx.at_most_one(e, &["vlan", "mac"]);
    let (ipv4, ipv6) = addresses(cx, e);
    Interface {
        span: e.name_span,
        id: cx.attr_req_parse(e, "id").unwrap_or_default(),
        net: cx.attr_req_str(e, "net").unwrap_or_default(),
        name: cx.attr_str(e, "name"),
        mac: e.children_named("mac").next().and_then(|m| {
            cx.check(m, &[], &[]);
            cx.text_parse(m)
        }),
        ipv4,
        ipv6,
        dns: e
            .children_named("dns")
            .filter_map(|d| {
                cx.check(d, &[], &[]);
                cx.text_parse(d)
            })
            .collect(),
        vlan: e.children_named("vlan").next().map(|v| vlan(cx, v)),
        bw: cx.attr_str(e, "bw"),
        delay: cx.attr_str(e, "delay"),
        loss: cx.attr_str(e, "loss"),
    }
}

fn route(cx: &mut Cx, e: &Element) -> Option<Route> {
    cx.check(e, &["type", "gw"], &[]);
    let family = cx.attr_req_parse(e, "type");
    let gw = cx.attr_req_parse(e, "gw");
    let to = cx.text_parse(e);
    Some(Route { span: e.name_span, family: family?, to: to?, gw: gw? })
}

fn filetree(cx: &mut Cx, e: &Element) -> Filetree {
    cx.check(e, &["seq", "root", "user", "group", "perms"], &[]);
    Filetree {
        span: e.name_span,
        seq: cx.attr_req_str(e, "seq").unwrap_or_default(),
        root: cx.attr_req_str(e, "root").unwrap_or_default(),
        user: cx.attr_str(e, "user"),
        group: cx.attr_str(e, "group"),
        perms: cx.attr_str(e, "perms"),
        source: cx.text_req(e),
    }
}

fn exec(cx: &mut Cx, e: &Element) -> Exec {
    cx.check(e, &["seq", "type", "ostype", "user"], &[]);
    // The command keeps its inner lines as written; only the ends are trimmed.
    Exec {
        span: e.name_span,
        seq: cx.attr_req_str(e, "seq").unwrap_or_default(),
        kind: cx.attr_req_parse(e, "type").map(|v| v.value).unwrap_or_default(),
        ostype: cx.attr_parse(e, "ostype"),
        user: cx.attr_str(e, "user"),
        command: cx.text(e),
    }
}

fn host(cx: &mut Cx, e: &Element) -> Host {
    cx.check(e, &[], &["hostif", "physicalif", "route", "forwarding", "exec"]);
    cx.at_most_one(e, &["forwarding"]);
    Host {
        span: e.name_span,
        interfaces: e
            .children_named("hostif")
            .map(|h| {
                cx.check(h, &["net"], &["vlan", "ipv4", "ipv6"]);
                let (ipv4, ipv6) = addresses(cx, h);
                HostIf {
                    span: h.name_span,
                    net: cx.attr_req_str(h, "net").unwrap_or_default(),
                    vlan: h.children_named("vlan").next().map(|v| vlan(cx, v)),
                    ipv4,
                    ipv6,
                }
            })
            .collect(),
        physical_interfaces: e
            .children_named("physicalif")
            .map(|p| {
                cx.check(p, &["name", "type", "ip", "mask", "gw"], &[]);
                PhysicalIf {
                    span: p.name_span,
                    name: cx.attr_req_str(p, "name").unwrap_or_default(),
                    family: cx.attr_parse(p, "type").map(|v| v.value),
                    ip: cx.attr_req_str(p, "ip").unwrap_or_default(),
                    mask: cx.attr_str(p, "mask"),
                    gw: cx.attr_parse(p, "gw"),
                }
            })
            .collect(),
        routes: e.children_named("route").filter_map(|r| route(cx, r)).collect(),
        forwarding: e.children_named("forwarding").next().and_then(|f| forwarding(cx, f)),
        execs: e.children_named("exec").map(|x| exec(cx, x)).collect(),
    }
}

/// Reads `<modify_vnx>`.
pub fn modify(cx: &mut Cx, root: &Element) -> ModifyDoc {
    cx.check(root, &[], &["add_vm", "del_vm", "add_net", "del_net", "down_net", "up_net"]);
    let mut changes = Vec::new();
    for c in &root.children {
        let name = |cx: &mut Cx| cx.attr_req_str(c, "name").unwrap_or_default();
        let change = match c.name.as_str() {
            "add_vm" => Change::AddNode(node(cx, c, "add_vm")),
            "add_net" => Change::AddNet(net(cx, c)),
            "del_vm" => {
                cx.check(c, &["name", "mode"], &[]);
                Change::DelNode { name: name(cx), mode: cx.attr_parse(c, "mode").map(|v| v.value), span: c.name_span }
            }
            "del_net" => {
                cx.check(c, &["name", "del", "mode"], &[]);
                Change::DelNet {
                    name: name(cx),
                    del: cx.attr_parse(c, "del").map(|v| v.value),
                    mode: cx.attr_parse(c, "mode").map(|v| v.value),
                    span: c.name_span,
                }
            }
            "down_net" => {
                cx.check(c, &["name"], &[]);
                Change::DownNet { name: name(cx), span: c.name_span }
            }
            "up_net" => {
                cx.check(c, &["name"], &[]);
                Change::UpNet { name: name(cx), span: c.name_span }
            }
            _ => continue, // reported by `check` above
        };
        changes.push(change);
    }
    ModifyDoc { span: root.name_span, changes }
}
