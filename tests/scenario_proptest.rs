//! Property: any scenario model survives write → read unchanged, in XML and in YAML.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use vnx::scenario::values::*;
use vnx::scenario::*;

fn name() -> impl Strategy<Value = Spanned<String>> {
    "[A-Za-z][A-Za-z0-9_.-]{0,10}".prop_map(Spanned::bare)
}

/// Text as a user may write it: printable, with XML's and YAML's special characters, trimmed.
fn text() -> impl Strategy<Value = String> {
    "[ -~\n]{1,30}".prop_map(|s| s.trim().to_string()).prop_filter("non-empty", |s| !s.is_empty())
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

fn ipv4() -> impl Strategy<Value = Spanned<Ipv4Config>> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| Ipv4Config::Static(Ipv4Net::new(Ipv4Addr::from(a), p).unwrap())),
        opt(any::<u32>()).prop_map(|a| Ipv4Config::Dhcp(a.map(Ipv4Addr::from))),
    ]
    .prop_map(Spanned::bare)
}

fn ipv6() -> impl Strategy<Value = Spanned<Ipv6Config>> {
    prop_oneof![
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| Ipv6Config::Static(Ipv6Net::new(Ipv6Addr::from(a), p).unwrap())),
        Just(Ipv6Config::Dhcp),
    ]
    .prop_map(Spanned::bare)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<u32>().prop_map(|a| IpAddr::V4(a.into())), any::<u128>().prop_map(|a| IpAddr::V6(a.into()))]
}

fn enum_of<T: std::str::FromStr + Clone + std::fmt::Debug + 'static>(
    all: &'static [&'static str],
) -> impl Strategy<Value = T>
where
    T::Err: std::fmt::Debug,
{
    prop::sample::select(all).prop_map(|s| s.parse::<T>().unwrap())
}

fn route() -> impl Strategy<Value = Route> {
    (ip(), prop::bool::ANY, 0u8..=32).prop_map(|(gw, default, p)| {
        let family = family_of(&gw);
        let to = if default {
            RouteDest::Default
        } else {
            match gw {
                IpAddr::V4(a) => RouteDest::Prefix(Ipv4Net::new(a, p).unwrap().trunc().into()),
                IpAddr::V6(a) => RouteDest::Prefix(Ipv6Net::new(a, p * 4).unwrap().trunc().into()),
            }
        };
        Route { span: Span::default(), family: family.into(), to: to.into(), gw: gw.into() }
    })
}

fn vlan() -> impl Strategy<Value = Vlan> {
    (opt(any::<bool>()), prop::collection::vec(1u16..4095, 0..3)).prop_map(|(trunk, tags)| Vlan {
        trunk,
        tags: tags.into_iter().map(Spanned::bare).collect(),
        ..Default::default()
    })
}

fn interface() -> impl Strategy<Value = Interface> {
    (
        (0u32..300, name(), opt(name()), opt(any::<[u8; 6]>().prop_map(|m| Spanned::bare(MacAddr(m))))),
        (
            prop::collection::vec(ipv4(), 0..3),
            prop::collection::vec(ipv6(), 0..3),
            prop::collection::vec(ip().prop_map(Spanned::bare), 0..2),
        ),
        (opt(vlan()), opt(text().prop_map(Spanned::bare)), opt(text().prop_map(Spanned::bare))),
    )
        .prop_map(|((id, net, name, mac), (ipv4, ipv6, dns), (vlan, bw, delay))| Interface {
            id: Spanned::bare(id),
            net,
            name,
            mac,
            ipv4,
            ipv6,
            dns,
            vlan,
            bw,
            delay,
            ..Default::default()
        })
}

fn exec() -> impl Strategy<Value = Exec> {
    (name(), enum_of::<ExecType>(ExecType::ALL), opt(enum_of::<OsType>(OsType::ALL)), opt(name()), text()).prop_map(
        |(seq, kind, ostype, user, command)| Exec {
            seq,
            kind,
            ostype: ostype.map(Spanned::bare),
            user,
            command: Spanned::bare(command),
            ..Default::default()
        },
    )
}

fn filetree() -> impl Strategy<Value = Filetree> {
    (name(), text(), opt(name()), opt("[0-7]{3}".prop_map(Spanned::bare)), text()).prop_map(
        |(seq, root, user, perms, source)| Filetree {
            seq,
            root: Spanned::bare(format!("/{root}")),
            user,
            perms,
            source: Spanned::bare(source),
            ..Default::default()
        },
    )
}

fn node() -> impl Strategy<Value = Node> {
    (
        (
            name(),
            prop::sample::select(&["lxc", "ns", "libvirt", "nsrouter", "uml", "dynamips"][..]),
            opt(name()),
            opt(name()),
        ),
        (
            opt(1u64..100_000).prop_map(|m| m.map(|mib| Spanned::bare(Memory { mib }))),
            opt(1u32..64),
            opt(any::<bool>()),
            opt(name()),
        ),
        (prop::collection::vec(interface(), 0..4), prop::collection::vec(route(), 0..3)),
        (prop::collection::vec(exec(), 0..3), prop::collection::vec(filetree(), 0..2)),
        (opt(enum_of::<Forwarding>(Forwarding::ALL)), opt(text()), opt(enum_of::<FsType>(FsType::ALL)), text()),
        prop::collection::vec((name(), prop::collection::vec(name(), 1..3)), 0..2),
    )
        .prop_map(
            |(
                (name, ty, os, provider),
                (mem, vcpu, on_boot, host),
                (interfaces, routes),
                (execs, filetrees),
                (fwd, shell, fs, fspath),
                seqs,
            )| Node {
                name,
                node_type: Spanned::bare(ty.to_string()),
                os,
                provider,
                mem,
                vcpu: vcpu.map(Spanned::bare),
                on_boot,
                host,
                interfaces,
                routes,
                execs,
                filetrees,
                forwarding: fwd.map(Spanned::bare),
                shell,
                filesystem: Some(Filesystem { kind: fs, path: Spanned::bare(fspath), ..Default::default() }),
                sequences: seqs.into_iter().map(|(name, steps)| CmdSeq { name, steps, ..Default::default() }).collect(),
                ..Default::default()
            },
        )
}

fn net() -> impl Strategy<Value = Net> {
    (
        (name(), enum_of::<NetMode>(NetMode::ALL), opt(enum_of::<NetType>(NetType::ALL)), opt(any::<bool>())),
        (opt(1u16..4095), opt(68u16..9000), opt(any::<bool>()), opt(any::<bool>())),
        (opt(text()), opt(enum_of::<FailMode>(FailMode::ALL)), opt(any::<[u8; 6]>())),
        prop::collection::vec(
            (name(), opt(name()), opt(enum_of::<ConnectionType>(ConnectionType::ALL)), opt(vlan())),
            0..2,
        ),
    )
        .prop_map(|((name, mode, kind, managed), (vlan, mtu, stp, up), (external, fail_mode, hwaddr), conns)| {
            Net {
                span: Span::default(),
                name,
                mode: mode.into(),
                kind: kind.map(Spanned::bare),
                managed,
                external: external.map(Spanned::bare),
                vlan: vlan.map(Spanned::bare),
                mtu: mtu.map(Spanned::bare),
                stp,
                hub: None,
                scope: None,
                sock: None,
                uml_switch_binary: None,
                capture_file: None,
                capture_expression: None,
                capture_dev: None,
                controller: None,
                of_version: None,
                hwaddr: hwaddr.map(|m| Spanned::bare(MacAddr(m))),
                fail_mode: fail_mode.map(Spanned::bare),
                bw: None,
                delay: None,
                loss: None,
                up,
                ppp_bw: None,
                connections: conns
                    .into_iter()
                    .map(|(name, net, kind, vlan)| Connection { name, net, kind, vlan, ..Default::default() })
                    .collect(),
                vxlan: None,
            }
        })
}

fn mgmt() -> impl Strategy<Value = Mgmt> {
    (enum_of::<MgmtType>(MgmtType::ALL), opt(any::<u32>()), opt(8u8..=30), opt(0u32..1000), any::<bool>(), opt(name()))
        .prop_map(|(kind, network, mask, offset, host_mapping, mnet)| Mgmt {
            span: Span::default(),
            kind: kind.into(),
            network: network.map(|n| Spanned::bare(Ipv4Addr::from(n))),
            mask: mask.map(Spanned::bare),
            offset: offset.map(Spanned::bare),
            mgmt_net: mnet.map(|n| MgmtNet { net: Some(n), config: Some(MgmtConfig::Manual), ..Default::default() }),
            host_mapping,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (name(), opt(0u32..60000), opt(mgmt()), prop::collection::vec(text().prop_map(Spanned::bare), 0..2)),
        (prop::collection::vec(net(), 0..4), prop::collection::vec(node(), 0..4)),
        (
            prop::collection::vec((name(), text()), 0..2),
            opt((prop::collection::vec(route(), 0..2), opt(enum_of::<Forwarding>(Forwarding::ALL)))),
        ),
    )
        .prop_map(|((name, automac, mgmt, keys), (nets, nodes), (help, host))| Scenario {
            name,
            version: Spanned::bare("2.0".into()),
            automac: automac.map(|o| Automac { offset: Some(Spanned::bare(o)), ..Default::default() }),
            mgmt,
            ssh_keys: keys,
            nets,
            nodes,
            help: help.into_iter().map(|(seq, text)| SeqHelp { seq: seq.value, text, ..Default::default() }).collect(),
            host: host.map(|(routes, fwd)| Host { routes, forwarding: fwd.map(Spanned::bare), ..Default::default() }),
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn write_then_read_gives_the_same_model(s in scenario()) {
        for format in [Format::Xml, Format::Yaml] {
            let text = write(&s, format);
            let (doc, diags) = parse(&text, format);
            prop_assert!(!diags.iter().any(|d| d.is_error()), "{format:?}: {diags:?}\n{text}");
            prop_assert_eq!(doc, Some(Document::Scenario(s.clone())), "{:?}\n{}", format, text);
        }
    }
}

#[test]
fn equality_is_about_content() {
    // The round trip would pass trivially if models always compared equal.
    let a = Scenario { name: Spanned::bare("a".into()), ..Default::default() };
    let b = Scenario { name: Spanned::new("a".into(), Span::new(3, 4)), ..Default::default() };
    let c = Scenario { name: Spanned::bare("c".into()), ..Default::default() };
    assert_eq!(a, b);
    assert_ne!(a, c);
}
