//! The egress policy: which addresses a guest's requests may reach.
//!
//! Names are resolved by the host (through a pluggable [`Resolver`]), every
//! address is classified, and the connection goes only to the addresses that
//! passed: the HTTP client (`client.rs`) resolves through this module's
//! rules, so there is no second lookup for a rebinding DNS server to answer
//! differently. IP literals never
//! reach a resolver, so URLs are checked here too ([`check_url`]); the `url`
//! crate has already turned every IPv4 notation (decimal, octal, hex, short
//! dotted) into one address.
//!
//! Addresses are classified entry by entry against the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (`V4_RANGES`, `V6_RANGES`), the most
//! specific entry deciding. What a connect on this machine turns into a local
//! connection (127/8 and ::1, and on Linux 0.0.0.0/8 and ::, also in their
//! IPv4-mapped forms) is loopback, whatever flag opens the other ranges.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use futures::future::BoxFuture;
use url::{Host, Url};

use crate::policy::Policy;

/// Resolves host names for outbound requests. The default asks the system
/// resolver; tests and embedders with their own DNS plug in another.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host`. The port is filled in by the caller.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>>;
}

/// The system resolver (getaddrinfo, on tokio's blocking pool).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// What an address reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    /// Globally reachable.
    Global,
    /// This machine: the range's name.
    Loopback(&'static str),
    /// Any other special-purpose range (private, link-local, reserved...).
    NonGlobal(Range),
}

/// A special-purpose range an address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    /// The registry entry's name and prefix.
    pub(crate) name: &'static str,
    /// For an IPv4 address carried inside IPv6 (NAT64, 6to4, IPv4-compatible,
    /// IPv4-translated), the IPv6 range that carried it; `name` is then the
    /// IPv4 address's range.
    pub(crate) via: Option<&'static str>,
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.via {
            Some(via) => write!(f, "{} (carried in {via})", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// How a registry entry is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Globally reachable.
    Global,
    /// A connect reaches this machine.
    ThisMachine,
    /// Not to be reached by an integration unless private networks are
    /// open: private, link-local, documentation, benchmarking, reserved,
    /// and the anycast addresses of network infrastructure (PCP, TURN,
    /// AMT, AS112, DNS-SD), which the registries call globally reachable
    /// but which answer from the nearest router or relay, often the
    /// operator's own.
    Special,
    /// IPv6 carrying an IPv4 address, decided by the IPv4 address.
    Carries(Carrier),
}

/// How an IPv6 range carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// `::ffff:0:0/96`: a dual-stack socket connects to the IPv4 address
    /// itself, on this machine when it is loopback.
    Mapped,
    /// NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`): a translator or relay
    /// elsewhere reaches the IPv4 address, so its loopback is not ours; a
    /// global IPv4 address makes a global one.
    Routed,
    /// IPv4-compatible (`::/96`) and IPv4-translated (`::ffff:0:0:0/96`):
    /// deprecated or never routed, so reserved whatever they carry.
    Reserved,
}

/// One registry entry: a prefix, its length, how it is treated, its name.
struct Entry<T> {
    net: T,
    len: u8,
    kind: Kind,
    name: &'static str,
}

const fn v4(octets: [u8; 4], len: u8, kind: Kind, name: &'static str) -> Entry<u32> {
    Entry { net: u32::from_be_bytes(octets), len, kind, name }
}

const fn v6(segments: [u16; 8], len: u8, kind: Kind, name: &'static str) -> Entry<u128> {
    let mut net = 0u128;
    let mut i = 0;
    while i < 8 {
        net = (net << 16) | segments[i] as u128;
        i += 1;
    }
    Entry { net, len, kind, name }
}

use Kind::{Global as G, Special as S, ThisMachine as M};

/// The IANA IPv4 Special-Purpose Address Registry, entry by entry, and the
/// multicast block of the IPv4 address space. Anything else is global.
const V4_RANGES: &[Entry<u32>] = &[
    v4([0, 0, 0, 0], 0, G, "global"),
    v4([0, 0, 0, 0], 8, M, "\"this network\" 0.0.0.0/8"),
    v4([0, 0, 0, 0], 32, M, "\"this host\" 0.0.0.0/32"),
    v4([10, 0, 0, 0], 8, S, "private network 10.0.0.0/8"),
    v4([100, 64, 0, 0], 10, S, "shared address space 100.64.0.0/10 (CGNAT)"),
    v4([127, 0, 0, 0], 8, M, "loopback 127.0.0.0/8"),
    v4([169, 254, 0, 0], 16, S, "link-local 169.254.0.0/16 (cloud metadata)"),
    v4([172, 16, 0, 0], 12, S, "private network 172.16.0.0/12"),
    v4([192, 0, 0, 0], 24, S, "IETF protocol assignments 192.0.0.0/24"),
    v4([192, 0, 0, 0], 29, S, "IPv4 service continuity prefix 192.0.0.0/29"),
    v4([192, 0, 0, 8], 32, S, "IPv4 dummy address 192.0.0.8/32"),
    v4([192, 0, 0, 9], 32, S, "Port Control Protocol anycast 192.0.0.9/32"),
    v4([192, 0, 0, 10], 32, S, "TURN relay anycast 192.0.0.10/32"),
    v4([192, 0, 0, 170], 32, S, "NAT64/DNS64 discovery 192.0.0.170/32"),
    v4([192, 0, 0, 171], 32, S, "NAT64/DNS64 discovery 192.0.0.171/32"),
    v4([192, 0, 2, 0], 24, S, "documentation 192.0.2.0/24 (TEST-NET-1)"),
    v4([192, 31, 196, 0], 24, S, "AS112-v4 192.31.196.0/24"),
    v4([192, 52, 193, 0], 24, S, "AMT relay anycast 192.52.193.0/24"),
    v4([192, 88, 99, 0], 24, S, "deprecated 6to4 relay anycast 192.88.99.0/24"),
    v4([192, 88, 99, 2], 32, S, "6a44 relay anycast 192.88.99.2/32"),
    v4([192, 168, 0, 0], 16, S, "private network 192.168.0.0/16"),
    v4([192, 175, 48, 0], 24, S, "AS112 direct delegation 192.175.48.0/24"),
    v4([198, 18, 0, 0], 15, S, "benchmarking 198.18.0.0/15"),
    v4([198, 51, 100, 0], 24, S, "documentation 198.51.100.0/24 (TEST-NET-2)"),
    v4([203, 0, 113, 0], 24, S, "documentation 203.0.113.0/24 (TEST-NET-3)"),
    v4([224, 0, 0, 0], 4, S, "multicast 224.0.0.0/4"),
    v4([240, 0, 0, 0], 4, S, "reserved 240.0.0.0/4"),
    v4([255, 255, 255, 255], 32, S, "limited broadcast 255.255.255.255/32"),
];

/// The IANA IPv6 Special-Purpose Address Registry, entry by entry; the
/// IPv4-carrying ranges; multicast and the deprecated site-local block;
/// and, from the IPv6 address space registry, everything outside global
/// unicast 2000::/3 as reserved.
const V6_RANGES: &[Entry<u128>] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 0, S, "reserved by the IETF (outside global unicast 2000::/3)"),
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, G, "global"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, M, "loopback ::1/128"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, M, "unspecified ::/128"),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Kind::Carries(Carrier::Mapped), "IPv4-mapped ::ffff:0:0/96"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, Kind::Carries(Carrier::Reserved), "IPv4-compatible ::/96 (deprecated)"),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, Kind::Carries(Carrier::Reserved), "IPv4-translated ::ffff:0:0:0/96"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Kind::Carries(Carrier::Routed), "NAT64 64:ff9b::/96"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, S, "local-use NAT64 64:ff9b:1::/48"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, S, "discard-only 100::/64"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, S, "dummy IPv6 prefix 100:0:0:1::/64"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, S, "IETF protocol assignments 2001::/23"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, S, "Teredo 2001::/32"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, S, "Port Control Protocol anycast 2001:1::1/128"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, S, "TURN relay anycast 2001:1::2/128"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, S, "DNS-SD service registration anycast 2001:1::3/128"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, S, "benchmarking 2001:2::/48"),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, S, "AMT 2001:3::/32"),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, S, "AS112-v6 2001:4:112::/48"),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, S, "deprecated ORCHID 2001:10::/28"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, S, "ORCHIDv2 2001:20::/28"),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, S, "drone remote ID tags 2001:30::/28"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, S, "documentation 2001:db8::/32"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Kind::Carries(Carrier::Routed), "6to4 2002::/16"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, S, "AS112 direct delegation 2620:4f:8000::/48"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, S, "documentation 3fff::/20"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, S, "segment routing (SRv6) SIDs 5f00::/16"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, S, "unique local fc00::/7"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, S, "link-local fe80::/10"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, S, "deprecated site-local fec0::/10"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, S, "multicast ff00::/8"),
];

/// The most specific entry holding `ip` (every table has a /0 entry).
fn lookup<T>(ranges: &'static [Entry<T>], ip: T, bits: u32) -> &'static Entry<T>
where
    T: Copy + std::ops::BitXor<Output = T> + std::ops::Shr<u32, Output = T> + PartialEq + From<u8>,
{
    let zero = T::from(0);
    let mut best = &ranges[0];
    for entry in ranges {
        let len = u32::from(entry.len);
        let inside = len == 0 || (ip ^ entry.net) >> (bits - len) == zero;
        if inside && entry.len >= best.len {
            best = entry;
        }
    }
    best
}

pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let entry = lookup(V4_RANGES, u32::from(ip), 32);
    match entry.kind {
        Kind::ThisMachine => AddressClass::Loopback(entry.name),
        Kind::Special | Kind::Carries(_) => AddressClass::NonGlobal(Range { name: entry.name, via: None }),
        Kind::Global => AddressClass::Global,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let bits = u128::from(ip);
    let entry = lookup(V6_RANGES, bits, 128);
    let carrier = match entry.kind {
        Kind::Global => return AddressClass::Global,
        Kind::ThisMachine => return AddressClass::Loopback(entry.name),
        Kind::Special => return AddressClass::NonGlobal(Range { name: entry.name, via: None }),
        Kind::Carries(carrier) => carrier,
    };
    // 6to4 carries the IPv4 address right after its /16; the others in
    // their last 32 bits.
    let carried = if entry.len == 16 { (bits >> 80) as u32 } else { bits as u32 };
    let via = Some(entry.name);
    match (carrier, classify_v4(Ipv4Addr::from(carried))) {
        (Carrier::Mapped, class) => class,
        (Carrier::Routed, AddressClass::Global) => AddressClass::Global,
        (Carrier::Reserved, AddressClass::Global) => AddressClass::NonGlobal(Range { name: entry.name, via: None }),
        (_, AddressClass::Loopback(name)) => AddressClass::NonGlobal(Range { name, via }),
        (_, AddressClass::NonGlobal(range)) => AddressClass::NonGlobal(Range { name: range.name, via }),
    }
}

/// Whether a name is loopback by definition (RFC 6761): `localhost` and
/// its subdomains, in any case, with or without the final dot.
pub(crate) fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Which rule of the policy refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A scheme other than http and https.
    Scheme(String),
    /// The allow-list is set and nothing in it matches.
    AllowList { scheme: String, port: u16 },
    /// Plain http without permission.
    PlainHttp,
    /// An address on this machine without `allow_loopback`: the range's name.
    Loopback(&'static str),
    /// A name that is loopback by definition (`localhost`, `*.localhost`)
    /// without `allow_loopback`.
    LoopbackName,
    /// A private or reserved address.
    NonGlobal(Range),
    /// A URL without a host.
    NoHost,
    /// A redirect, in a chain that did not start on loopback, to a loopback
    /// name or address.
    RedirectToLoopback,
}

/// Where a hop came from, when a redirect led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirected {
    /// Which hop of the request it is (the first redirect is hop 1).
    pub(crate) hop: u32,
    /// The URL whose response redirected.
    pub(crate) from: String,
}

/// A request the policy refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub(crate) struct Denial {
    /// The host (the whole URL when it has none).
    pub(crate) host: String,
    pub(crate) addr: Option<IpAddr>,
    pub(crate) rule: Rule,
    /// Set when a redirect led to the refused hop.
    pub(crate) redirect: Option<Redirected>,
}

impl Denial {
    fn new(host: impl Into<String>, addr: Option<IpAddr>, rule: Rule) -> Denial {
        Denial { host: host.into(), addr, rule, redirect: None }
    }

    /// A redirected hop that reached loopback at `addr`.
    pub(crate) fn redirect_to_loopback(host: &str, addr: Option<SocketAddr>) -> Denial {
        Denial::new(host, addr.map(|a| a.ip()), Rule::RedirectToLoopback)
    }

    /// The same denial, naming the redirect that led to it.
    pub(crate) fn after(mut self, redirect: Option<Redirected>) -> Denial {
        if redirect.is_some() {
            self.redirect = redirect;
        }
        self
    }

    /// One line: which rule, which address, how to allow it, and the
    /// redirect that led there.
    pub(crate) fn message(&self) -> String {
        let target = match self.addr {
            Some(addr) if addr.to_string() != self.host.trim_matches(['[', ']']) => format!("{} ({addr})", self.host),
            _ => self.host.clone(),
        };
        let (rule, how) = match &self.rule {
            Rule::Scheme(scheme) => {
                (format!("the scheme {scheme}: is not allowed"), "only http and https URLs are sent".to_string())
            }
            Rule::AllowList { scheme, port } => (
                format!("{scheme}://{}:{port} matches no allowed host pattern", self.host),
                "add a pattern for it with --allow-host (Policy::allowed_hosts)".into(),
            ),
            Rule::PlainHttp => (
                "plain http is not allowed".into(),
                "use https, or allow http with --allow-http (Policy::allow_http) or an http:// host pattern".into(),
            ),
            Rule::Loopback(range) => (
                format!("the address is in {range}, on this machine, and loopback is closed"),
                "for local development allow it with --allow-loopback (Policy::allow_loopback)".into(),
            ),
            Rule::LoopbackName => (
                "a localhost name is on this machine by definition (RFC 6761), and loopback is closed".into(),
                "for local development allow it with --allow-loopback (Policy::allow_loopback)".into(),
            ),
            Rule::NonGlobal(range) => (
                format!("the address is in {range}"),
                "private and reserved networks are closed to integrations (--allow-private, Policy::allow_private, opens them)"
                    .into(),
            ),
            Rule::NoHost => ("the URL has no host".into(), "give an absolute http or https URL".into()),
            Rule::RedirectToLoopback => {
                let from = self
                    .redirect
                    .as_ref()
                    .and_then(|r| Url::parse(&r.from).ok())
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| "another host".into());
                (
                    format!("a redirect from {from} may not land on a loopback host"),
                    "loopback is reachable only by a request that started on it (Policy::allow_loopback)".into(),
                )
            }
        };
        let mut message = format!("request to {target} denied by the egress policy: {rule}; {how}");
        if let Some(redirect) = &self.redirect {
            message.push_str(&format!(" (hop {} of the request, redirected from {})", redirect.hop, redirect.from));
        }
        message
    }
}

/// Whether a hop may reach loopback where the policy allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// The first hop of a request, or a redirect in a chain whose first
    /// hop connected to loopback: the policy decides.
    Direct,
    /// A redirect in a chain whose first hop did not connect to loopback:
    /// never loopback, by name or by address, whatever the policy allows.
    Redirected,
}

/// Whether the policy lets this hop reach `ip`.
pub(crate) fn check_addr(policy: &Policy, host: &str, ip: IpAddr, hop: Hop) -> Result<(), Denial> {
    let deny = |rule: Rule| Err(Denial::new(host, Some(ip), rule));
    match classify(ip) {
        AddressClass::Global => Ok(()),
        AddressClass::Loopback(range) if !policy.allow_loopback => deny(Rule::Loopback(range)),
        AddressClass::Loopback(_) if hop == Hop::Redirected => deny(Rule::RedirectToLoopback),
        AddressClass::Loopback(_) => Ok(()),
        AddressClass::NonGlobal(_) if policy.allow_private => Ok(()),
        AddressClass::NonGlobal(range) => deny(Rule::NonGlobal(range)),
    }
}

/// Check what can be checked from the URL alone: the scheme, the
/// allow-list, a host that is an IP literal, and a name that is loopback
/// by definition (refused here rather than left to fail in DNS).
pub(crate) fn check_url(policy: &Policy, url: &Url, hop: Hop) -> Result<(), Denial> {
    let host = url.host_str().unwrap_or_default().to_string();
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https") {
        let named = if host.is_empty() { url.as_str().to_string() } else { host };
        return Err(Denial::new(named, None, Rule::Scheme(scheme.into())));
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let listed = policy.allowed_hosts.iter().any(|p| p.matches(scheme, &host, port));
    if !policy.allowed_hosts.is_empty() && !listed {
        return Err(Denial::new(host, None, Rule::AllowList { scheme: scheme.into(), port }));
    }
    if scheme == "http" && !policy.allow_http && !listed {
        // A loopback target is refused as loopback first: what opens it
        // for local development (`--allow-loopback`) opens plain http too.
        if !policy.allow_loopback {
            let ip = match url.host() {
                Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                Some(Host::Domain(name)) if is_localhost_name(name) => {
                    return Err(Denial::new(host, None, Rule::LoopbackName));
                }
                _ => None,
            };
            if let Some(ip) = ip
                && let AddressClass::Loopback(range) = classify(ip)
            {
                return Err(Denial::new(host, Some(ip), Rule::Loopback(range)));
            }
        }
        return Err(Denial::new(host, None, Rule::PlainHttp));
    }
    match url.host() {
        Some(Host::Ipv4(v4)) => check_addr(policy, &host, IpAddr::V4(v4), hop),
        Some(Host::Ipv6(v6)) => check_addr(policy, &host, IpAddr::V6(v6), hop),
        Some(Host::Domain(name)) if is_localhost_name(name) => {
            if !policy.allow_loopback {
                Err(Denial::new(host, None, Rule::LoopbackName))
            } else if hop == Hop::Redirected {
                Err(Denial::new(host, None, Rule::RedirectToLoopback))
            } else {
                Ok(())
            }
        }
        Some(Host::Domain(_)) => Ok(()),
        None => Err(Denial::new(url.as_str(), None, Rule::NoHost)),
    }
}

/// The policy denial somewhere in an error's chain of causes.
pub(crate) fn find_denial(error: &(dyn std::error::Error + 'static)) -> Option<Denial> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(denial) = e.downcast_ref::<Denial>() {
            return Some(denial.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    /// How each policy treats an address.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        /// Open by default.
        Global,
        /// On this machine: only `allow_loopback` opens it, never `allow_private`.
        Machine,
        /// Special-purpose: only `allow_private` opens it, never `allow_loopback`.
        Private,
    }
    use Expect::{Global, Machine, Private};

    /// Every entry of the IANA IPv4 and IPv6 Special-Purpose Address
    /// Registries (and the blocks the address space registries set apart),
    /// written from the registries rather than from `V4_RANGES` and
    /// `V6_RANGES`, with addresses at both ends of each block.
    const REGISTRY: &[(&str, &[&str], Expect)] = &[
        // IPv4 Special-Purpose Address Registry.
        ("0.0.0.0/8 this network", &["0.0.0.0", "0.1.2.3", "0.255.255.255"], Machine),
        ("0.0.0.0/32 this host", &["0.0.0.0"], Machine),
        ("10.0.0.0/8 private-use", &["10.0.0.0", "10.255.255.255"], Private),
        ("100.64.0.0/10 shared address space", &["100.64.0.0", "100.127.255.255"], Private),
        ("127.0.0.0/8 loopback", &["127.0.0.0", "127.0.0.1", "127.255.255.255"], Machine),
        ("169.254.0.0/16 link local", &["169.254.0.0", "169.254.169.254", "169.254.255.255"], Private),
        ("172.16.0.0/12 private-use", &["172.16.0.0", "172.31.255.255"], Private),
        ("192.0.0.0/24 IETF protocol assignments", &["192.0.0.0", "192.0.0.11", "192.0.0.255"], Private),
        ("192.0.0.0/29 IPv4 service continuity prefix", &["192.0.0.0", "192.0.0.7"], Private),
        ("192.0.0.8/32 IPv4 dummy address", &["192.0.0.8"], Private),
        ("192.0.0.9/32 PCP anycast", &["192.0.0.9"], Private),
        ("192.0.0.10/32 TURN anycast", &["192.0.0.10"], Private),
        ("192.0.0.170/32, 192.0.0.171/32 NAT64/DNS64 discovery", &["192.0.0.170", "192.0.0.171"], Private),
        ("192.0.2.0/24 documentation (TEST-NET-1)", &["192.0.2.0", "192.0.2.255"], Private),
        ("192.31.196.0/24 AS112-v4", &["192.31.196.0", "192.31.196.255"], Private),
        ("192.52.193.0/24 AMT", &["192.52.193.0", "192.52.193.255"], Private),
        ("192.88.99.0/24 deprecated 6to4 relay anycast", &["192.88.99.0", "192.88.99.1", "192.88.99.255"], Private),
        ("192.88.99.2/32 6a44 relay anycast", &["192.88.99.2"], Private),
        ("192.168.0.0/16 private-use", &["192.168.0.0", "192.168.255.255"], Private),
        ("192.175.48.0/24 AS112 direct delegation", &["192.175.48.0", "192.175.48.255"], Private),
        ("198.18.0.0/15 benchmarking", &["198.18.0.0", "198.19.255.255"], Private),
        ("198.51.100.0/24 documentation (TEST-NET-2)", &["198.51.100.0", "198.51.100.255"], Private),
        ("203.0.113.0/24 documentation (TEST-NET-3)", &["203.0.113.0", "203.0.113.255"], Private),
        ("240.0.0.0/4 reserved", &["240.0.0.0", "255.255.255.254"], Private),
        ("255.255.255.255/32 limited broadcast", &["255.255.255.255"], Private),
        // IPv4 address space: multicast.
        ("224.0.0.0/4 multicast", &["224.0.0.0", "239.255.255.255"], Private),
        // Around the blocks: still global.
        (
            "global IPv4",
            &[
                "1.1.1.1",
                "9.255.255.255",
                "11.0.0.0",
                "100.63.255.255",
                "100.128.0.0",
                "126.255.255.255",
                "128.0.0.0",
                "169.253.255.255",
                "172.15.255.255",
                "172.32.0.0",
                "192.0.1.0",
                "192.88.98.255",
                "192.167.255.255",
                "192.169.0.0",
                "198.17.255.255",
                "198.20.0.0",
                "223.255.255.255",
            ],
            Global,
        ),
        // IPv6 Special-Purpose Address Registry.
        ("::1/128 loopback", &["::1"], Machine),
        ("::/128 unspecified", &["::"], Machine),
        (
            "::ffff:0:0/96 IPv4-mapped, of this machine",
            &["::ffff:127.0.0.1", "::ffff:127.255.255.255", "::ffff:0.0.0.0", "::ffff:0.255.255.255"],
            Machine,
        ),
        ("::ffff:0:0/96 IPv4-mapped, of private ranges", &["::ffff:10.0.0.1", "::ffff:169.254.169.254"], Private),
        ("::ffff:0:0/96 IPv4-mapped, of global", &["::ffff:8.8.8.8"], Global),
        ("64:ff9b::/96 NAT64, of global", &["64:ff9b::808:808"], Global),
        (
            "64:ff9b::/96 NAT64, of loopback and private: the translator's, not ours",
            &["64:ff9b::7f00:1", "64:ff9b::", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe"],
            Private,
        ),
        ("64:ff9b:1::/48 local-use NAT64", &["64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"], Private),
        ("100::/64 discard-only", &["100::", "100::ffff:ffff:ffff:ffff"], Private),
        ("100:0:0:1::/64 dummy prefix", &["100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff"], Private),
        ("2001::/23 IETF protocol assignments", &["2001:100::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001::/32 Teredo", &["2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001:0:4136:e378::"], Private),
        ("2001:1::1/128 PCP anycast", &["2001:1::1"], Private),
        ("2001:1::2/128 TURN anycast", &["2001:1::2"], Private),
        ("2001:1::3/128 DNS-SD SRP anycast", &["2001:1::3"], Private),
        ("2001:2::/48 benchmarking", &["2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:3::/32 AMT", &["2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:4:112::/48 AS112-v6", &["2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:10::/28 deprecated ORCHID", &["2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:20::/28 ORCHIDv2", &["2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:30::/28 drone remote ID", &["2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2001:db8::/32 documentation", &["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("2002::/16 6to4, of global", &["2002:808:808::", "2002:808:808:ffff:ffff:ffff:ffff:ffff"], Global),
        (
            "2002::/16 6to4, of loopback and private: the relay's, not ours",
            &["2002:7f00:1::", "2002::", "2002:a00:1::", "2002:c0a8:101::1"],
            Private,
        ),
        ("2620:4f:8000::/48 AS112 direct delegation", &["2620:4f:8000::", "2620:4f:8000:ffff::"], Private),
        ("3fff::/20 documentation", &["3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("5f00::/16 SRv6 SIDs", &["5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("fc00::/7 unique-local", &["fc00::", "fd00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("fe80::/10 link-local", &["fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        // Outside the special registry: carriers and blocks the IPv6
        // address space registry keeps out of global unicast.
        ("::/96 IPv4-compatible, deprecated", &["::7f00:1", "::a00:1", "::808:808", "::0.0.0.2"], Private),
        ("::ffff:0:0:0/96 IPv4-translated", &["::ffff:0:7f00:1", "::ffff:0:808:808", "::ffff:0:0:0"], Private),
        ("fec0::/10 deprecated site-local", &["fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("ff00::/8 multicast", &["ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], Private),
        ("outside 2000::/3, reserved", &["::1:0:0:1", "1::", "4000::", "e000::", "fe00::"], Private),
        (
            "global IPv6",
            &[
                "2000::",
                "2001:200::",
                "2001:200:ffff::",
                "2001:db7:ffff::",
                "2003::",
                "2606:4700::1111",
                "2620:4f:8001::",
                "3ffe::",
                "3fff:1000::",
                "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ],
            Global,
        ),
    ];

    #[test]
    fn every_registry_entry_is_classified_and_each_flag_opens_only_its_own() {
        let closed = Policy::default();
        let loopback = Policy { allow_loopback: true, ..Policy::default() };
        let private = Policy { allow_private: true, ..Policy::default() };
        let mut failures = Vec::new();
        for (entry, addresses, expect) in REGISTRY {
            for address in *addresses {
                let ip: IpAddr = address.parse().unwrap_or_else(|_| panic!("{entry}: {address}"));
                let opened = |policy: &Policy| check_addr(policy, address, ip, Hop::Direct).is_ok();
                let got = (opened(&closed), opened(&loopback), opened(&private));
                let want = match expect {
                    Global => (true, true, true),
                    Machine => (false, true, false),
                    Private => (false, false, true),
                };
                if got != want {
                    failures.push(format!("{entry}: {address} is {:?}, want {expect:?}", classify(ip)));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_carried_address_is_named_with_its_carrier() {
        let nat64 = class("64:ff9b::7f00:1");
        assert_eq!(
            nat64,
            AddressClass::NonGlobal(Range { name: "loopback 127.0.0.0/8", via: Some("NAT64 64:ff9b::/96") })
        );
        let denial = check_addr(&Policy::local_development(), "x", "64:ff9b::7f00:1".parse().unwrap(), Hop::Direct);
        let message = denial.unwrap_err().message();
        assert!(message.contains("loopback 127.0.0.0/8 (carried in NAT64 64:ff9b::/96)"), "{message}");
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback("loopback 127.0.0.0/8"));
        assert_eq!(class("0.0.0.0"), AddressClass::Loopback("\"this host\" 0.0.0.0/32"));
        assert_eq!(
            class("2002:a00:1::"),
            AddressClass::NonGlobal(Range { name: "private network 10.0.0.0/8", via: Some("6to4 2002::/16") })
        );
    }

    #[test]
    fn ip_literals_in_every_notation_are_checked() {
        let policy = Policy::default();
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://[::1]/",
            "http://0/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://[::ffff:0.0.0.0]/",
        ] {
            let url = Url::parse(url).unwrap();
            assert!(check_url(&policy, &url, Hop::Direct).is_err(), "{url}");
        }
        let local = Policy::local_development();
        assert!(check_url(&local, &Url::parse("http://127.0.0.1:8080/").unwrap(), Hop::Direct).is_ok());
        // Private networks opened: still not this machine.
        let private = Policy { allow_private: true, allow_http: true, ..Policy::default() };
        for url in ["http://0.0.0.0:8080/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/"] {
            let denial = check_url(&private, &Url::parse(url).unwrap(), Hop::Direct).unwrap_err();
            assert!(matches!(denial.rule, Rule::Loopback(_)), "{url}: {denial:?}");
        }
    }

    #[test]
    fn loopback_names_are_loopback_not_dns_failures() {
        let url = |s: &str| Url::parse(s).unwrap();
        let closed = Policy { allow_http: true, ..Policy::default() };
        for name in ["http://localhost/", "http://LOCALHOST./", "http://a.b.localhost/", "http://x.LocalHost.:8080/"] {
            let denial = check_url(&closed, &url(name), Hop::Direct).unwrap_err();
            assert_eq!(denial.rule, Rule::LoopbackName, "{name}");
            assert!(denial.message().contains("--allow-loopback"), "{}", denial.message());
        }
        assert!(check_url(&Policy::local_development(), &url("http://localhost./"), Hop::Direct).is_ok());
        assert!(!is_localhost_name("localhost.example.com") && !is_localhost_name("notlocalhost"));
    }

    #[test]
    fn a_redirected_hop_may_not_reach_loopback_by_name_or_address() {
        let url = |s: &str| Url::parse(s).unwrap();
        let local = Policy::local_development();
        let from = Redirected { hop: 1, from: "http://api.test/start".into() };
        for target in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://a.localhost./",
            "http://[::1]/",
            "http://127.1/",
            "http://0.0.0.0/",
            "http://[::ffff:7f00:1]/",
        ] {
            let denial = check_url(&local, &url(target), Hop::Redirected).unwrap_err().after(Some(from.clone()));
            assert_eq!(denial.rule, Rule::RedirectToLoopback, "{target}");
            let message = denial.message();
            assert!(message.contains("a redirect from api.test may not land on a loopback host"), "{message}");
            assert!(message.contains("hop 1 of the request, redirected from http://api.test/start"), "{message}");
        }
        assert!(check_url(&local, &url("http://other.test/"), Hop::Redirected).is_ok());
        assert!(check_url(&local, &url("http://localhost/"), Hop::Direct).is_ok());
    }

    #[test]
    fn a_scheme_denial_names_the_scheme_and_the_url() {
        let denial = check_url(&Policy::default(), &Url::parse("file:///etc/passwd").unwrap(), Hop::Direct);
        let message = denial.unwrap_err().message();
        assert!(message.starts_with("request to file:///etc/passwd denied"), "{message}");
        assert!(message.contains("the scheme file: is not allowed"), "{message}");
    }

    #[test]
    fn plain_http_and_unlisted_hosts_are_refused() {
        let url = |s: &str| Url::parse(s).unwrap();
        let mut policy = Policy::default();
        assert!(check_url(&policy, &url("https://api.example.com/"), Hop::Direct).is_ok());
        let denial = check_url(&policy, &url("http://api.example.com/"), Hop::Direct).unwrap_err();
        assert!(denial.message().contains("--allow-http"), "{}", denial.message());
        // Plain http to loopback: the loopback rule and its flag come first.
        for local in ["http://127.0.0.1:9/", "http://[::1]/", "http://localhost:8080/"] {
            let message = check_url(&policy, &url(local), Hop::Direct).unwrap_err().message();
            assert!(message.contains("--allow-loopback") && !message.contains("--allow-http"), "{message}");
        }
        policy.allowed_hosts =
            vec!["https://*.example.com".parse().unwrap(), "http://legacy.example.org".parse().unwrap()];
        assert!(check_url(&policy, &url("https://api.example.com/x"), Hop::Direct).is_ok());
        assert!(check_url(&policy, &url("http://legacy.example.org/x"), Hop::Direct).is_ok());
        let denial = check_url(&policy, &url("https://example.net/"), Hop::Direct).unwrap_err();
        assert!(denial.message().contains("--allow-host"), "{}", denial.message());
    }
}
