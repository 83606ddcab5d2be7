//! VNX's plugins' configuration files: `<extension plugin="dhcp|ospf" conf="FILE"/>` in
//! `<global>` names a file of the plugin's own language (`dhcp.xsd`, `ospf.xsd`). Read here
//! with located errors, like a scenario, and checked against the scenario's nodes and
//! interfaces; the planner turns what they say into services in the nodes
//! (`plan/services.rs`). Every value that ends up in a daemon's configuration is parsed into
//! an address, a prefix or a name of a checked grammar, or refused: none can add a line.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::str::FromStr;

use ipnet::Ipv4Net;

use super::diag::{did_you_mean, Diag, Report, Source};
use super::model::{Extension, Node, Scenario};
use super::span::Span;
use super::values::MacAddr;
use super::xml::tree::{self, Element};

/// The plugins vnx runs.
pub const KNOWN: &[&str] = &["dhcp", "ospf"];

/// A plugin's configuration, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Plugin {
    Dhcp(Vec<DhcpNode>),
    Ospf(Vec<OspfNode>),
}

/// What the `dhcp` plugin runs in one node: a server, a relay, clients (any of them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DhcpNode {
    pub node: String,
    pub server: Vec<Subnet>,
    /// The servers a relay forwards to.
    pub relay: Vec<Ipv4Addr>,
    /// Interfaces that get their address by DHCP.
    pub client: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subnet {
    pub network: Ipv4Net,
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<IpAddr>,
    pub domain: Option<String>,
    pub hosts: Vec<FixedHost>,
}

/// A client always given the same address (`<host name mac ip/>`).
#[derive(Clone, Debug, PartialEq)]
pub struct FixedHost {
    pub name: String,
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
}

/// What the `ospf` plugin runs in one router.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OspfNode {
    pub node: String,
    pub hostname: Option<String>,
    pub password: Option<String>,
    /// (prefix, area as written: `0.0.0.0` or `0`).
    pub networks: Vec<(Ipv4Net, String)>,
    pub router_id: Option<Ipv4Addr>,
    pub passive: Vec<String>,
    /// The loopback's description and address (`<lo>`).
    pub lo: Option<(String, Ipv4Net)>,
    /// Interface settings: (interface, `ip ospf …` lines' remainders).
    pub ifs: Vec<(String, Vec<String>)>,
}

/// A plugin's configuration file, read: what it says (when it has no errors) and the findings.
pub struct Loaded {
    pub plugin: Option<Plugin>,
    pub report: Report,
}

/// Reads the configuration file of `ext` (relative to the scenario's folder `dir`).
pub fn load(s: &Scenario, ext: &Extension, dir: &Path) -> Result<Loaded, String> {
    let path =
        if Path::new(&ext.conf).is_absolute() { Path::new(&ext.conf).to_path_buf() } else { dir.join(&ext.conf) };
    let text = super::limits::read_to_string(&path)
        .map_err(|e| format!("the {} plugin's configuration {}: {e}", ext.plugin, path.display()))?;
    let (plugin, diags) = read(s, &ext.plugin, &text);
    Ok(Loaded { plugin, report: Report { source: Source::new(path.display().to_string(), text), diags } })
}

/// Reads a plugin's configuration text; `None` when it has errors.
pub fn read(s: &Scenario, plugin: &str, text: &str) -> (Option<Plugin>, Vec<Diag>) {
    let root = match tree::parse(text) {
        Ok(r) => r,
        Err(d) => return (None, vec![d]),
    };
    let mut r = Reader { s, diags: vec![] };
    let p = match plugin {
        "dhcp" => Plugin::Dhcp(r.dhcp(&root)),
        "ospf" => Plugin::Ospf(r.ospf(&root)),
        _ => return (None, vec![]),
    };
    let ok = !r.diags.iter().any(Diag::is_error);
    (ok.then_some(p), r.diags)
}

struct Reader<'a> {
    s: &'a Scenario,
    diags: Vec<Diag>,
}

impl<'a> Reader<'a> {
    fn error(&mut self, span: Span, message: String, label: &str, help: &str) {
        self.diags.push(Diag::error("vnx::plugin", message).at(span, label).help(help));
    }

    /// Refuses children and attributes the plugin's schema does not have.
    fn only(&mut self, el: &Element, children: &[&str], attrs: &[&str]) {
        for c in &el.children {
            if !children.contains(&c.name.as_str()) {
                let help = match did_you_mean(&c.name, children.iter().copied()) {
                    Some(m) => format!("did you mean <{m}>?"),
                    None if children.is_empty() => format!("<{}> has no child elements", el.name),
                    None => format!("<{}> may hold: {}", el.name, children.join(", ")),
                };
                self.error(c.name_span, format!("unknown element <{}> in <{}>", c.name, el.name), "unknown", &help);
            }
        }
        for a in &el.attrs {
            if !attrs.contains(&a.name.as_str()) && !a.name.starts_with("xmlns") && !a.name.starts_with("xsi:") {
                let help = if attrs.is_empty() {
                    format!("<{}> has no attributes", el.name)
                } else {
                    format!("<{}> has: {}", el.name, attrs.join(", "))
                };
                self.error(a.name_span, format!("unknown attribute `{}` on <{}>", a.name, el.name), "unknown", &help);
            }
        }
    }

    /// A value parsed from text, or an error at it.
    fn value<T: FromStr>(&mut self, text: &str, span: Span, what: &str, example: &str) -> Option<T> {
        match text.trim().parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    span,
                    format!("`{}` is not {what}", text.trim()),
                    "here",
                    &format!("write {what}, such as {example}"),
                );
                None
            }
        }
    }

    fn text<T: FromStr>(&mut self, el: &Element, what: &str, example: &str) -> Option<T> {
        self.only(el, &[], &[]);
        self.value(&el.text, el.text_span, what, example)
    }

    /// A name, host name or domain: letters, digits, `-`, `_`, `.`; ≤ 253.
    fn name(&mut self, el: &Element, what: &str) -> Option<String> {
        self.only(el, &[], &[]);
        let t = el.trimmed_text();
        let ok = !t.is_empty()
            && t.len() <= 253
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !t.starts_with(['-', '.']);
        if !ok {
            self.error(el.text_span, format!("`{t}` is not a {what}"), "here", "use letters, digits, `-`, `_` and `.`");
        }
        ok.then(|| t.to_string())
    }

    /// One word of printable characters (a password, an `ip ospf` setting's words).
    fn words(&mut self, el: &Element, what: &str, spaces: bool) -> Option<String> {
        self.only(el, &[], &[]);
        let t = el.trimmed_text();
        let ok = !t.is_empty()
            && t.len() <= 200
            && t.chars().all(|c| c.is_ascii_graphic() || (spaces && c == ' '))
            && !t.contains(['!', '#']);
        if !ok {
            self.error(
                el.text_span,
                format!("`{t}` is not a {what}"),
                "here",
                "printable characters on one line, without `!` or `#` (they start comments)",
            );
        }
        ok.then(|| t.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The node a `<vm name=…>` names; an error when the scenario has none such.
    fn node(&mut self, el: &Element) -> Option<&'a Node> {
        let s = self.s;
        let Some(a) = el.attr("name") else {
            self.error(
                el.name_span,
                "<vm> needs a `name`".into(),
                "here",
                "name the scenario's node: <vm name=\"r1\" …>",
            );
            return None;
        };
        let found = s.nodes.iter().find(|n| n.name.value == a.value);
        if found.is_none() {
            let help = match did_you_mean(&a.value, s.nodes.iter().map(|n| n.name.value.as_str())) {
                Some(m) => format!("did you mean `{m}`?"),
                None => "name one of the scenario's <vm>s".into(),
            };
            self.error(a.value_span, format!("the scenario has no node `{}`", a.value), "no such node", &help);
        }
        found
    }

    /// `name` as an interface of `node`, else an error (or a warning when `warn`).
    fn interface(&mut self, node: &Node, el: &Element, warn: bool) -> Option<String> {
        let name = self.name(el, "interface name")?;
        let names: Vec<String> = node.interfaces.iter().map(|i| node.ifname(i)).collect();
        if names.contains(&name) {
            return Some(name);
        }
        let message =
            format!("node `{}` has no interface {name} (its interfaces: {})", node.name.value, names.join(", "));
        let help = "interfaces are named eth<id> after the scenario's <if id=…>";
        if warn {
            self.diags.push(Diag::warning("vnx::plugin", message).at(el.text_span, "no such interface").help(help));
            Some(name)
        } else {
            self.error(el.text_span, message, "no such interface", help);
            None
        }
    }

    fn dhcp(&mut self, root: &Element) -> Vec<DhcpNode> {
        if root.name != "dhcp_conf" {
            self.error(
                root.name_span,
                format!("<{}> is not the dhcp plugin's root", root.name),
                "here",
                "the dhcp plugin's file is a <dhcp_conf>",
            );
            return vec![];
        }
        self.only(root, &["vm"], &[]);
        let mut out: Vec<DhcpNode> = Vec::new();
        for vm in root.children_named("vm") {
            self.only(vm, &["server", "relay", "client"], &["name", "type"]);
            let Some(node) = self.node(vm) else { continue };
            let mut d = DhcpNode { node: node.name.value.clone(), ..Default::default() };
            for server in vm.children_named("server") {
                self.only(server, &["subnet"], &[]);
                for sub in server.children_named("subnet") {
                    if let Some(s) = self.subnet(sub) {
                        d.server.push(s);
                    }
                }
            }
            for relay in vm.children_named("relay") {
                self.only(relay, &["toserver"], &[]);
                for to in relay.children_named("toserver") {
                    if let Some(a) = self.text(to, "an IPv4 address", "10.0.0.1") {
                        d.relay.push(a);
                    }
                }
            }
            for client in vm.children_named("client") {
                self.only(client, &["if"], &[]);
                for i in client.children_named("if") {
                    let Some(name) = self.interface(node, i, false) else { continue };
                    let iface = node.interfaces.iter().find(|x| node.ifname(x) == name).expect("found above");
                    if iface.ipv4.iter().any(|a| a.net().is_some()) {
                        self.error(
                            i.text_span,
                            format!(
                                "interface {name} of node `{}` has static IPv4 addresses and a DHCP client",
                                d.node
                            ),
                            "client here",
                            "remove its <ipv4> from the scenario, or the <if> here",
                        );
                    }
                    d.client.push(name);
                }
            }
            if !d.server.is_empty() && !d.relay.is_empty() {
                self.error(
                    vm.name_span,
                    format!("node `{}` is both a DHCP server and a relay", d.node),
                    "here",
                    "give it a <server> or a <relay>",
                );
            }
            if out.iter().any(|o| o.node == d.node) {
                self.error(
                    vm.name_span,
                    format!("node `{}` is configured twice", d.node),
                    "again",
                    "merge its <vm>s into one",
                );
            }
            out.push(d);
        }
        out
    }

    fn subnet(&mut self, el: &Element) -> Option<Subnet> {
        self.only(el, &["network", "range", "router", "dns", "domain", "host"], &[]);
        let Some(net_el) = el.children_named("network").next() else {
            self.error(
                el.name_span,
                "<subnet> needs a <network>".into(),
                "here",
                "write its prefix: <network>10.0.1.0/24</network>",
            );
            return None;
        };
        let network: Ipv4Net = self.text(net_el, "an IPv4 prefix", "10.0.1.0/24")?;
        let network = network.trunc();
        let mut s = Subnet { network, ..Default::default() };
        let inside = |r: &mut Self, a: Ipv4Addr, span: Span| {
            if !network.contains(&a) {
                r.error(span, format!("{a} is outside the subnet {network}"), "here", "write an address of the subnet");
            }
        };
        for range in el.children_named("range") {
            self.only(range, &["first", "last"], &[]);
            let (Some(f), Some(l)) = (range.children_named("first").next(), range.children_named("last").next()) else {
                self.error(
                    range.name_span,
                    "<range> needs <first> and <last>".into(),
                    "here",
                    "<range><first>10.0.1.10</first><last>10.0.1.20</last></range>",
                );
                continue;
            };
            let (Some(first), Some(last)) = (
                self.text::<Ipv4Addr>(f, "an IPv4 address", "10.0.1.10"),
                self.text::<Ipv4Addr>(l, "an IPv4 address", "10.0.1.20"),
            ) else {
                continue;
            };
            inside(self, first, f.text_span);
            inside(self, last, l.text_span);
            if first > last {
                self.error(
                    range.name_span,
                    format!("the range {first} – {last} is empty"),
                    "here",
                    "write the lower address in <first>",
                );
            }
            s.ranges.push((first, last));
        }
        for r in el.children_named("router") {
            s.routers.extend(self.text::<Ipv4Addr>(r, "an IPv4 address", "10.0.1.1"));
        }
        for d in el.children_named("dns") {
            s.dns.extend(self.text::<IpAddr>(d, "an IP address", "10.0.1.2"));
        }
        if let Some(d) = el.children_named("domain").next() {
            s.domain = self.name(d, "domain name");
        }
        for h in el.children_named("host") {
            self.only(h, &[], &["name", "mac", "ip"]);
            let attr = |r: &mut Self, name: &str| {
                let a = h.attr(name).cloned();
                if a.is_none() {
                    r.error(
                        h.name_span,
                        format!("<host> needs `{name}`"),
                        "here",
                        "<host name=\"pc\" mac=\"02:00:00:00:00:01\" ip=\"10.0.1.50\"/>",
                    );
                }
                a
            };
            let (Some(n), Some(m), Some(i)) = (attr(self, "name"), attr(self, "mac"), attr(self, "ip")) else {
                continue;
            };
            let name_ok = !n.value.is_empty()
                && n.value.len() <= 63
                && n.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !name_ok {
                self.error(
                    n.value_span,
                    format!("`{}` is not a host name", n.value),
                    "here",
                    "use letters, digits and `-`",
                );
            }
            let mac = self.value::<MacAddr>(&m.value, m.value_span, "a MAC address", "02:fd:00:00:01:01");
            let ip = self.value::<Ipv4Addr>(&i.value, i.value_span, "an IPv4 address", "10.0.1.50");
            if let Some(ip) = ip {
                inside(self, ip, i.value_span);
            }
            if let (true, Some(mac), Some(ip)) = (name_ok, mac, ip) {
                s.hosts.push(FixedHost { name: n.value.clone(), mac, ip });
            }
        }
        Some(s)
    }

    fn ospf(&mut self, root: &Element) -> Vec<OspfNode> {
        if root.name != "ospf_conf" {
            self.error(
                root.name_span,
                format!("<{}> is not the ospf plugin's root", root.name),
                "here",
                "the ospf plugin's file is an <ospf_conf>",
            );
            return vec![];
        }
        self.only(root, &["vm"], &[]);
        let mut out: Vec<OspfNode> = Vec::new();
        let mut quagga: Option<Span> = None;
        for vm in root.children_named("vm") {
            let children = ["hostname", "password", "network", "router_id", "passive_if", "binaries", "lo", "if"];
            self.only(vm, &children, &["name", "type", "subtype"]);
            let Some(node) = self.node(vm) else { continue };
            let mut o = OspfNode { node: node.name.value.clone(), ..Default::default() };
            if let Some(h) = vm.children_named("hostname").next() {
                o.hostname = self.name(h, "host name");
            }
            if let Some(p) = vm.children_named("password").next() {
                o.password = self.words(p, "password", false);
            }
            for n in vm.children_named("network") {
                let prefix: Option<Ipv4Net> = self.value(&n.text, n.text_span, "an IPv4 prefix", "10.0.0.0/16");
                let area = match n.attr("area") {
                    Some(a) if a.value.parse::<Ipv4Addr>().is_ok() || a.value.parse::<u32>().is_ok() => {
                        Some(a.value.clone())
                    }
                    Some(a) => {
                        self.error(
                            a.value_span,
                            format!("`{}` is not an OSPF area", a.value),
                            "here",
                            "write the area as 0.0.0.0 or as a number",
                        );
                        None
                    }
                    None => {
                        self.error(
                            n.name_span,
                            "<network> needs an `area`".into(),
                            "here",
                            "<network area=\"0.0.0.0\">10.0.0.0/16</network>",
                        );
                        None
                    }
                };
                if let (Some(p), Some(a)) = (prefix, area) {
                    o.networks.push((p.trunc(), a));
                }
            }
            if let Some(r) = vm.children_named("router_id").next() {
                o.router_id = self.text(r, "an IPv4 address", "1.1.1.1");
            }
            for p in vm.children_named("passive_if") {
                o.passive.extend(self.interface(node, p, true));
            }
            if let Some(b) = vm.children_named("binaries").next() {
                quagga.get_or_insert(b.name_span);
            }
            if let Some(lo) = vm.children_named("lo").next() {
                self.only(lo, &["description", "ip_address"], &[]);
                let d = lo.children_named("description").next().and_then(|d| self.words(d, "description", true));
                let a = match lo.children_named("ip_address").next() {
                    Some(a) => self.text::<Ipv4Net>(a, "an IPv4 address with its prefix length", "1.1.1.1/32"),
                    None => {
                        self.error(
                            lo.name_span,
                            "<lo> needs an <ip_address>".into(),
                            "here",
                            "<ip_address>1.1.1.1/32</ip_address>",
                        );
                        None
                    }
                };
                o.lo = a.map(|a| (d.unwrap_or_default(), a));
            }
            for i in vm.children_named("if") {
                self.only(i, &["ip_ospf"], &["name"]);
                let Some(a) = i.attr("name") else {
                    self.error(i.name_span, "<if> needs a `name`".into(), "here", "<if name=\"eth1\">");
                    continue;
                };
                let name = a.value.clone();
                if !node.interfaces.iter().any(|x| node.ifname(x) == name) {
                    self.diags.push(
                        Diag::warning("vnx::plugin", format!("node `{}` has no interface {name}", o.node))
                            .at(a.value_span, "no such interface")
                            .help("interfaces are named eth<id> after the scenario's <if id=…>"),
                    );
                }
                let settings =
                    i.children_named("ip_ospf").filter_map(|s| self.words(s, "setting of `ip ospf`", true)).collect();
                o.ifs.push((name, settings));
            }
            if out.iter().any(|x| x.node == o.node) {
                self.error(
                    vm.name_span,
                    format!("node `{}` is configured twice", o.node),
                    "again",
                    "merge its <vm>s into one",
                );
            }
            out.push(o);
        }
        if let Some(span) = quagga {
            self.diags.push(
                Diag::warning("vnx::plugin", "the ospf plugin ran Quagga, which Debian no longer ships: vnx runs FRR's zebra and ospfd instead, and <binaries> is not used")
                    .at(span, "Quagga's binaries")
                    .help("FRR reads the same commands; remove <binaries> to silence this"),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        let text = "<vnx><global><version>2.0</version><scenario_name>p</scenario_name></global>\
            <net name=\"a\" mode=\"virtual_bridge\"/>\
            <vm name=\"r1\" type=\"lxc\"><if id=\"1\" net=\"a\"><ipv4>10.0.1.1/24</ipv4></if></vm>\
            <vm name=\"h1\" type=\"lxc\"><if id=\"1\" net=\"a\"/></vm></vnx>";
        match crate::scenario::parse(text, crate::scenario::Format::Xml).0 {
            Some(crate::scenario::Document::Scenario(s)) => s,
            _ => panic!("the test scenario reads"),
        }
    }

    fn errors(plugin: &str, text: &str) -> Vec<String> {
        let (p, diags) = read(&scenario(), plugin, text);
        let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
        assert_eq!(p.is_none(), !errs.is_empty(), "a conf with errors gives no plugin");
        errs
    }

    #[test]
    fn a_dhcp_conf_reads_into_servers_relays_and_clients() {
        let (p, diags) = read(
            &scenario(),
            "dhcp",
            "<dhcp_conf><vm name=\"r1\" type=\"dhcp3-isc\"><server><subnet><network>10.0.1.0/24</network>\
             <range><first>10.0.1.10</first><last>10.0.1.20</last></range><router>10.0.1.1</router>\
             <dns>10.0.1.2</dns><domain>lab.org</domain><host name=\"pc\" mac=\"aa:bb:cc:dd:ee:ff\" ip=\"10.0.1.28\"/>\
             </subnet></server></vm><vm name=\"h1\" type=\"dhcp3\"><client><if>eth1</if></client></vm></dhcp_conf>",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Plugin::Dhcp(nodes)) = p else { panic!("a dhcp plugin") };
        assert_eq!(nodes[0].server[0].ranges, vec![("10.0.1.10".parse().unwrap(), "10.0.1.20".parse().unwrap())]);
        assert_eq!(nodes[0].server[0].hosts[0].ip, "10.0.1.28".parse::<Ipv4Addr>().unwrap());
        assert_eq!(nodes[1].client, vec!["eth1".to_string()]);
    }

    #[test]
    fn what_a_conf_gets_wrong_is_named_where_it_is() {
        let e = errors("dhcp", "<dhcp_conf><vm name=\"r9\" type=\"x\"/></dhcp_conf>");
        assert_eq!(e, vec!["the scenario has no node `r9`"]);
        let e = errors("dhcp", "<dhcp_conf><vm name=\"h1\" type=\"x\"><client><if>eth4</if></client></vm></dhcp_conf>");
        assert_eq!(e, vec!["node `h1` has no interface eth4 (its interfaces: eth1)"]);
        let e = errors("dhcp", "<dhcp_conf><vm name=\"r1\" type=\"x\"><client><if>eth1</if></client></vm></dhcp_conf>");
        assert!(e[0].contains("static IPv4 addresses and a DHCP client"), "{e:?}");
        let e = errors(
            "dhcp",
            "<dhcp_conf><vm name=\"r1\" type=\"x\"><server><subnet><network>10.0.1.0/24</network>\
             <range><first>10.0.2.10</first><last>10.0.1.5</last></range><domain>a\nb</domain></subnet></server></vm></dhcp_conf>",
        );
        assert_eq!(e.len(), 3, "{e:?}");
        let e = errors("ospf", "<ospf_conf><vm name=\"r1\" type=\"quagga\" subtype=\"x\"><network>10.0.0.0/16</network><password>a\nrouter bgp 1</password></vm></ospf_conf>");
        assert_eq!(e.len(), 2, "no area, and a password of two lines: {e:?}");
        let e = errors("ospf", "<ospf_conf><vm name=\"r1\" type=\"q\" subtype=\"x\"><if name=\"eth1\"><ip_ospf>cost 10 ! x</ip_ospf></if><metric/></vm></ospf_conf>");
        assert_eq!(e.len(), 2, "a comment sign, an unknown element: {e:?}");
    }

    #[test]
    fn an_ospf_conf_reads_and_quagga_is_said_to_be_frr() {
        let (p, diags) = read(
            &scenario(),
            "ospf",
            "<ospf_conf><vm name=\"r1\" type=\"quagga\" subtype=\"lib-install\"><hostname>r1</hostname>\
             <network area=\"0.0.0.0\">10.0.0.0/16</network><passive_if>eth1</passive_if>\
             <binaries><zebra>z</zebra><ospfd>o</ospfd></binaries></vm></ospf_conf>",
        );
        let Some(Plugin::Ospf(nodes)) = p else { panic!("an ospf plugin: {diags:?}") };
        assert_eq!(nodes[0].networks, vec![("10.0.0.0/16".parse().unwrap(), "0.0.0.0".to_string())]);
        assert_eq!(nodes[0].passive, vec!["eth1".to_string()]);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("FRR"), "{diags:?}");
    }
}
