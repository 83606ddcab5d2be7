//! Typed values of the scenario language that are written as strings: addresses with their
//! masks, route destinations, MAC addresses, memory sizes, and the small enumerations.
//! Each has one parser (`FromStr`) and one canonical spelling (`Display`) shared by the XML
//! and YAML forms.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Serde and JSON Schema for a type that is written as a string (through Display / FromStr).
macro_rules! string_serde {
    ($t:ty, $desc:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "description": $desc })
            }
        }
    };
}

/// An enumeration written as one of a fixed set of words.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }
        impl $name {
            /// Every spelling, in the order the language lists them.
            pub const ALL: &'static [&'static str] = &[$($s),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$variant),)*
                    _ => Err(match crate::scenario::diag::did_you_mean(s, Self::ALL.iter().copied()) {
                        Some(m) => format!("`{}` is not one of: {}; did you mean `{}`?", s, Self::ALL.join(", "), m),
                        None => format!("`{}` is not one of: {}", s, Self::ALL.join(", ")),
                    }),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "enum": Self::ALL })
            }
        }
    };
}

str_enum!(
    /// How a net is built (`<net mode>`).
    NetMode {
        VirtualBridge = "virtual_bridge",
        Openvswitch = "openvswitch",
        Veth = "veth",
        UmlSwitch = "uml_switch",
    }
);
/// A net built in code (the benchmark's) is a Linux bridge unless it says otherwise.
impl Default for NetMode {
    fn default() -> Self {
        NetMode::VirtualBridge
    }
}
str_enum!(
    /// `<net type>`: a shared LAN or a link between exactly two interfaces.
    NetType { Lan = "lan", Ppp = "ppp", P2p = "p2p" }
);
str_enum!(NetScope { Shared = "shared", NoShared = "no-shared" });
str_enum!(FailMode { Secure = "secure", Standalone = "standalone" });
str_enum!(
    /// `<connection type>` between two switches.
    ConnectionType { Veth = "veth", OvsPatch = "ovs-patch", Vxlan = "vxlan" }
);
str_enum!(
    /// `<vm_mgmt type>`.
    MgmtType { Private = "private", Net = "net", None = "none" }
);
str_enum!(MgmtConfig { Manual = "manual", Dhcp = "dhcp" });
str_enum!(
    /// `<filesystem type>`: `cow` writes to a copy-on-write layer of the lab's own, `direct`
    /// uses (and changes) the image itself.
    FsType { Direct = "direct", Cow = "cow", Hostfs = "hostfs" }
);
str_enum!(Loader { Legacy = "legacy", Uefi = "uefi" });
str_enum!(DiskBus { Ide = "ide", Sata = "sata" });
str_enum!(StorageBus { Usb = "usb", Ide = "ide", Sata = "sata" });
str_enum!(Boot { Network = "network", Cdrom = "cdrom", Disk = "disk" });
str_enum!(Devfs { Mount = "mount", Nomount = "nomount" });
str_enum!(
    /// `<forwarding type>`: `ip` is both families.
    Forwarding { Ip = "ip", Ipv4 = "ipv4", Ipv6 = "ipv6" }
);
str_enum!(
    /// Address family of a route (`<route type>`).
    Family { Ipv4 = "ipv4", Ipv6 = "ipv6" }
);
str_enum!(ExecType { Verbatim = "verbatim", File = "file" });
str_enum!(
    /// How a command runs in the node (`<exec ostype>`).
    OsType {
        System = "system",
        Exec = "exec",
        Xsystem = "xsystem",
        Xexec = "xexec",
        Cmd = "cmd",
        Show = "show",
        Set = "set",
        Load = "load",
    }
);
str_enum!(
    /// `<del_vm mode>` / `<del_net mode>` in a `<modify_vnx>` document.
    DelMode { Shutdown = "shutdown", Destroy = "destroy" }
);
str_enum!(
    /// `<del_net del>`: what happens to the nodes on a deleted net.
    DelNetNodes { No = "no", If = "if", Vm = "vm" }
);

impl Forwarding {
    pub fn ipv4(self) -> bool {
        matches!(self, Forwarding::Ip | Forwarding::Ipv4)
    }
    pub fn ipv6(self) -> bool {
        matches!(self, Forwarding::Ip | Forwarding::Ipv6)
    }
}

/// An `<ipv4>` of an interface: a static address with its prefix, or DHCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ipv4Config {
    Static(Ipv4Net),
    /// DHCP, optionally asking for an address (`dhcp,A.B.C.D`).
    Dhcp(Option<Ipv4Addr>),
}

/// An `<ipv6>` of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ipv6Config {
    Static(Ipv6Net),
    Dhcp,
}

/// The prefix VNX gives an IPv4 address written without one.
pub const DEFAULT_IPV4_PREFIX: u8 = 24;
/// The prefix VNX gives an IPv6 address written without one.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// A mask attribute: dotted (`255.255.255.0`) or a prefix length with a leading slash (`/24`).
pub fn parse_ipv4_mask(mask: &str) -> Result<u8, String> {
    let mask = mask.trim();
    if let Some(len) = mask.strip_prefix('/') {
        return match len.parse::<u8>() {
            Ok(n) if n <= 32 => Ok(n),
            _ => Err(format!("`{mask}` is not a prefix length from /0 to /32")),
        };
    }
    let m: Ipv4Addr = mask.parse().map_err(|_| format!("`{mask}` is not a mask (write 255.255.255.0 or /24)"))?;
    let bits = u32::from(m);
    let len = bits.leading_ones();
    if bits.checked_shl(len).unwrap_or(0) != 0 {
        return Err(format!("`{mask}` is not a contiguous mask"));
    }
    Ok(len as u8)
}

/// A prefix-length attribute for IPv6 (`/64`).
pub fn parse_ipv6_mask(mask: &str) -> Result<u8, String> {
    let mask = mask.trim();
    match mask.strip_prefix('/').map(str::parse::<u8>) {
        Some(Ok(n)) if n <= 128 => Ok(n),
        _ => Err(format!("`{mask}` is not an IPv6 prefix length (write it as /64)")),
    }
}

impl Ipv4Config {
    /// Reads an address as VNX writes it, with the `mask` attribute when there is one.
    /// Returns whether the default prefix had to be used (VNX warns then).
    pub fn parse_with_mask(text: &str, mask: Option<&str>) -> Result<(Self, bool), String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("dhcp") {
            let req = match rest.strip_prefix(',') {
                None if rest.is_empty() => None,
                Some(a) => Some(a.trim().parse().map_err(|_| format!("`{a}` is not an IPv4 address"))?),
                None => return Err(format!("`{text}` is neither an address nor `dhcp`")),
            };
            return Ok((Ipv4Config::Dhcp(req), false));
        }
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
        let (prefix, defaulted) = match (prefix, mask) {
            (Some(_), Some(_)) => {
                return Err("the prefix is given twice: in the address and in the `mask` attribute".into())
            }
            (Some(p), None) => match p.parse::<u8>() {
                Ok(n) if n <= 32 => (n, false),
                _ => return Err(format!("`/{p}` is not a prefix length from /0 to /32")),
            },
            (None, Some(m)) => (parse_ipv4_mask(m)?, false),
            (None, None) => (DEFAULT_IPV4_PREFIX, true),
        };
        Ok((Ipv4Config::Static(Ipv4Net::new(addr, prefix).expect("prefix checked")), defaulted))
    }
    pub fn net(&self) -> Option<Ipv4Net> {
        match self {
            Ipv4Config::Static(n) => Some(*n),
            Ipv4Config::Dhcp(_) => None,
        }
    }
}

impl FromStr for Ipv4Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ipv4Config::parse_with_mask(s, None).map(|(c, _)| c)
    }
}

impl fmt::Display for Ipv4Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Config::Static(n) => write!(f, "{n}"),
            Ipv4Config::Dhcp(None) => f.write_str("dhcp"),
            Ipv4Config::Dhcp(Some(a)) => write!(f, "dhcp,{a}"),
        }
    }
}
string_serde!(Ipv4Config, "an IPv4 address with its prefix (10.0.0.1/24), `dhcp` or `dhcp,A.B.C.D`");

impl Ipv6Config {
    pub fn parse_with_mask(text: &str, mask: Option<&str>) -> Result<(Self, bool), String> {
        let text = text.trim();
        if text == "dhcp" {
            return Ok((Ipv6Config::Dhcp, false));
        }
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: Ipv6Addr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        let (prefix, defaulted) = match (prefix, mask) {
            (Some(_), Some(_)) => {
                return Err("the prefix is given twice: in the address and in the `mask` attribute".into())
            }
            (Some(p), None) => match p.parse::<u8>() {
                Ok(n) if n <= 128 => (n, false),
                _ => return Err(format!("`/{p}` is not a prefix length from /0 to /128")),
            },
            (None, Some(m)) => (parse_ipv6_mask(m)?, false),
            (None, None) => (DEFAULT_IPV6_PREFIX, true),
        };
        Ok((Ipv6Config::Static(Ipv6Net::new(addr, prefix).expect("prefix checked")), defaulted))
    }
    pub fn net(&self) -> Option<Ipv6Net> {
        match self {
            Ipv6Config::Static(n) => Some(*n),
            Ipv6Config::Dhcp => None,
        }
    }
}

impl FromStr for Ipv6Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ipv6Config::parse_with_mask(s, None).map(|(c, _)| c)
    }
}

impl fmt::Display for Ipv6Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv6Config::Static(n) => write!(f, "{n}"),
            Ipv6Config::Dhcp => f.write_str("dhcp"),
        }
    }
}
string_serde!(Ipv6Config, "an IPv6 address with its prefix (2001:db8::1/64) or `dhcp`");

/// Where a route leads: `default` or a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteDest {
    Default,
    Prefix(IpNet),
}

impl RouteDest {
    pub fn is_ipv4(&self) -> Option<bool> {
        match self {
            RouteDest::Default => None,
            RouteDest::Prefix(n) => Some(matches!(n, IpNet::V4(_))),
        }
    }
}

impl FromStr for RouteDest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "default" {
            return Ok(RouteDest::Default);
        }
        if !s.contains('/') {
            return Err(format!(
                "`{s}` has no prefix length: write `{s}/32` (or /128), a prefix such as 10.1.0.0/16, or `default`"
            ));
        }
        let net: IpNet = s.parse().map_err(|_| format!("`{s}` is not `default` nor a prefix such as 10.1.0.0/16"))?;
        Ok(RouteDest::Prefix(net))
    }
}

impl fmt::Display for RouteDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteDest::Default => f.write_str("default"),
            RouteDest::Prefix(n) => write!(f, "{n}"),
        }
    }
}
string_serde!(RouteDest, "`default` or a prefix (10.1.0.0/16, 2001:db8::/32)");

/// A MAC address. VNX accepts single hex digits per field and pads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("`{s}` is not a MAC address (write six hex bytes: 02:fd:00:00:01:01)");
        let parts: Vec<&str> = s.trim().split(':').collect();
        if parts.len() != 6 {
            return Err(err());
        }
        let mut mac = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 {
                return Err(err());
            }
            mac[i] = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        Ok(MacAddr(mac))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}
string_serde!(MacAddr, "a MAC address, 02:fd:00:00:01:01");

/// A memory size, `<mem>`: a whole number of mebibytes or gibibytes (`512M`, `2G`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub mib: u64,
}

impl FromStr for Memory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let err = || format!("`{t}` is not a memory size: write a whole number ending in M or G, such as 512M");
        let (num, mult) = match t.chars().last() {
            Some('M') | Some('m') => (&t[..t.len() - 1], 1),
            Some('G') | Some('g') => (&t[..t.len() - 1], 1024),
            _ => return Err(err()),
        };
        let n: u64 = num.parse().map_err(|_| err())?;
        let mib = n.checked_mul(mult).ok_or_else(err)?;
        if mib == 0 {
            return Err(err());
        }
        Ok(Memory { mib })
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mib % 1024 == 0 {
            write!(f, "{}G", self.mib / 1024)
        } else {
            write!(f, "{}M", self.mib)
        }
    }
}
string_serde!(Memory, "a memory size ending in M or G, such as 512M");

/// Reads VNX's yes/no words (and true/false, on/off, which people write too).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        other => Err(format!("`{other}` is not `yes` or `no`")),
    }
}

/// The address family of a plain address.
pub fn family_of(a: &IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_forms() {
        let p = |t, m| Ipv4Config::parse_with_mask(t, m);
        assert_eq!(p("10.1.0.2/24", None).unwrap(), ("10.1.0.2/24".parse().unwrap(), false));
        assert_eq!(p("10.1.0.2", Some("255.255.0.0")).unwrap().0.to_string(), "10.1.0.2/16");
        assert_eq!(p("10.1.0.2", Some("/8")).unwrap().0.to_string(), "10.1.0.2/8");
        assert_eq!(p("10.1.0.2", None).unwrap(), ("10.1.0.2/24".parse().unwrap(), true));
        assert_eq!(p("dhcp", None).unwrap().0, Ipv4Config::Dhcp(None));
        assert_eq!(p("dhcp,10.0.0.9", None).unwrap().0.to_string(), "dhcp,10.0.0.9");
        assert!(p("10.1.0.2/24", Some("/24")).is_err());
        assert!(p("10.1.0.2/33", None).is_err());
        assert!(p("10.1.0.256/24", None).is_err());
        assert!(p("10.1.0.2", Some("255.0.255.0")).is_err());
        assert!(p("dhcpx", None).is_err());
    }

    #[test]
    fn ipv6_forms() {
        let p = |t, m| Ipv6Config::parse_with_mask(t, m);
        assert_eq!(p("2001:db8::1/64", None).unwrap().0.to_string(), "2001:db8::1/64");
        assert_eq!(p("2001:db8::1", Some("/48")).unwrap().0.to_string(), "2001:db8::1/48");
        assert!(p("2001:db8::1", None).unwrap().1);
        assert!(p("2001:db8::1", Some("64")).is_err());
        assert!(p("2001:zz8::1/64", None).is_err());
    }

    #[test]
    fn macs_and_memory() {
        assert_eq!("2:fd:0:0:2:1".parse::<MacAddr>().unwrap().to_string(), "02:fd:00:00:02:01");
        assert!("02:fd:00:00:02".parse::<MacAddr>().is_err());
        assert!("02:fd:00:00:02:100".parse::<MacAddr>().is_err());
        assert_eq!("512M".parse::<Memory>().unwrap().mib, 512);
        assert_eq!("2G".parse::<Memory>().unwrap().to_string(), "2G");
        assert_eq!("1024M".parse::<Memory>().unwrap().to_string(), "1G");
        assert!("512".parse::<Memory>().is_err());
        assert!("0M".parse::<Memory>().is_err());
    }

    #[test]
    fn route_destinations() {
        assert_eq!("default".parse::<RouteDest>().unwrap(), RouteDest::Default);
        assert_eq!("10.1.0.0/16".parse::<RouteDest>().unwrap().to_string(), "10.1.0.0/16");
        assert!("10.1.0.0".parse::<RouteDest>().is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(parse_ipv4_mask("255.255.255.252").unwrap(), 30);
        assert_eq!(parse_ipv4_mask("/0").unwrap(), 0);
        assert!(parse_ipv4_mask("/33").is_err());
        assert!(parse_ipv6_mask("/129").is_err());
    }
}
