//! The egress policy: which addresses a guest's requests may reach.
//!
//! Names are resolved by the host (through a pluggable [`Resolver`]), every
//! address is classified, and the connection goes only to the addresses that
//! passed: reqwest is given this module's resolver, so there is no second
//! lookup for a rebinding DNS server to answer differently. IP literals never
//! reach a resolver, so URLs are checked here too ([`check_url`]); the `url`
//! crate has already turned every IPv4 notation (decimal, octal, hex, short
//! dotted) into one address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

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

/// Why an address is not global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    Global,
    Loopback,
    /// Private, link-local, reserved...: the range's name.
    NonGlobal(&'static str),
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
    /// A loopback address without `allow_loopback`.
    Loopback,
    /// A private or reserved address: the range's name.
    NonGlobal(&'static str),
    /// A URL without a host.
    NoHost,
    /// A redirect from this host to a loopback host.
    RedirectToLoopback { from: String },
}

/// A request the policy refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub(crate) struct Denial {
    pub(crate) host: String,
    pub(crate) addr: Option<IpAddr>,
    pub(crate) rule: Rule,
}

impl Denial {
    /// One line: which rule, which address, how to allow it.
    pub(crate) fn message(&self) -> String {
        let target = match self.addr {
            Some(addr) if addr.to_string() != self.host.trim_matches(['[', ']']) => format!("{} ({addr})", self.host),
            _ => self.host.clone(),
        };
        let (rule, how) = match &self.rule {
            Rule::Scheme(scheme) => (format!("the scheme {scheme}: is not allowed"), "use an http or https URL".to_string()),
            Rule::AllowList { scheme, port } => (
                format!("{scheme}://{}:{port} matches no allowed host pattern", self.host),
                "add a pattern for it with --allow-host (Policy::allowed_hosts)".into(),
            ),
            Rule::PlainHttp => (
                "plain http is not allowed".into(),
                "use https, or allow http with --allow-http (Policy::allow_http) or an http:// host pattern".into(),
            ),
            Rule::Loopback => (
                "loopback addresses are closed".into(),
                "for local development allow them with --allow-loopback (Policy::allow_loopback)".into(),
            ),
            Rule::NonGlobal(range) => (
                format!("the address is in {range}"),
                "private and reserved networks are closed to integrations (--allow-private, Policy::allow_private, opens them)"
                    .into(),
            ),
            Rule::NoHost => ("the URL has no host".into(), "give an absolute http or https URL".into()),
            Rule::RedirectToLoopback { from } => (
                format!("a redirect from {from} may not land on a loopback host"),
                "loopback is reachable only by a request made to it directly (Policy::allow_loopback)".into(),
            ),
        };
        format!("request to {target} denied by the egress policy: {rule}; {how}")
    }
}

pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        (127, _, _) => return AddressClass::Loopback,
        (0, _, _) => "the unspecified network 0.0.0.0/8",
        (10, _, _) => "private network 10.0.0.0/8",
        (172, 16..=31, _) => "private network 172.16.0.0/12",
        (192, 168, _) => "private network 192.168.0.0/16",
        (169, 254, _) => "link-local 169.254.0.0/16 (cloud metadata)",
        (100, 64..=127, _) => "shared address space 100.64.0.0/10 (CGNAT)",
        (192, 0, 0) => "IETF protocol assignments 192.0.0.0/24",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation range",
        (198, 18..=19, _) => "benchmarking range 198.18.0.0/15",
        (224..=239, _, _) => "multicast 224.0.0.0/4",
        (240..=255, _, _) => "reserved 240.0.0.0/4 (with broadcast)",
        _ => return AddressClass::Global,
    };
    AddressClass::NonGlobal(class)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    let seg = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that
    // decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() {
        return classify_v4(Ipv4Addr::from(((seg[6] as u32) << 16) | seg[7] as u32));
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(Ipv4Addr::from(((seg[6] as u32) << 16) | seg[7] as u32));
    }
    if seg[0] == 0x2002 {
        return classify_v4(Ipv4Addr::from(((seg[1] as u32) << 16) | seg[2] as u32));
    }
    let class = match seg[0] {
        0 if ip.is_unspecified() => "the unspecified address ::",
        0x64 if seg[1] == 0xff9b && seg[2] == 1 => "local-use NAT64 64:ff9b:1::/48",
        0x100 if seg[1..4] == [0, 0, 0] => "discard-only 100::/64",
        0x2001 if seg[1] == 0xdb8 => "documentation 2001:db8::/32",
        0x2001 if seg[1] < 0x200 => "IETF protocol assignments 2001::/23",
        s if s & 0xfe00 == 0xfc00 => "unique local fc00::/7",
        s if s & 0xffc0 == 0xfe80 => "link-local fe80::/10",
        s if s & 0xffc0 == 0xfec0 => "site-local fec0::/10",
        s if s & 0xff00 == 0xff00 => "multicast ff00::/8",
        _ => return AddressClass::Global,
    };
    AddressClass::NonGlobal(class)
}

/// Whether the policy lets a request reach `ip`.
pub(crate) fn check_addr(policy: &Policy, host: &str, ip: IpAddr) -> Result<(), Denial> {
    let deny = |rule: Rule| Err(Denial { host: host.to_string(), addr: Some(ip), rule });
    match classify(ip) {
        AddressClass::Global => Ok(()),
        AddressClass::Loopback if policy.allow_loopback => Ok(()),
        AddressClass::Loopback => deny(Rule::Loopback),
        AddressClass::NonGlobal(_) if policy.allow_private => Ok(()),
        AddressClass::NonGlobal(range) => deny(Rule::NonGlobal(range)),
    }
}

/// Check what can be checked from the URL alone: the scheme, and a host
/// that is an IP literal.
pub(crate) fn check_url(policy: &Policy, url: &Url) -> Result<(), Denial> {
    let host = url.host_str().unwrap_or_default().to_string();
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https") {
        return Err(Denial { host, addr: None, rule: Rule::Scheme(scheme.into()) });
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let listed = policy.allowed_hosts.iter().any(|p| p.matches(scheme, &host, port));
    if !policy.allowed_hosts.is_empty() && !listed {
        return Err(Denial { host, addr: None, rule: Rule::AllowList { scheme: scheme.into(), port } });
    }
    if scheme == "http" && !policy.allow_http && !listed {
        return Err(Denial { host, addr: None, rule: Rule::PlainHttp });
    }
    match url.host() {
        Some(Host::Ipv4(v4)) => check_addr(policy, &host, IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => check_addr(policy, &host, IpAddr::V6(v6)),
        Some(Host::Domain(_)) => Ok(()),
        None => Err(Denial { host, addr: None, rule: Rule::NoHost }),
    }
}

/// Whether a URL names a loopback host: `localhost` (and its subdomains,
/// RFC 6761) or a loopback IP literal.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(v4)) => classify_v4(v4) == AddressClass::Loopback,
        Some(Host::Ipv6(v6)) => classify_v6(v6) == AddressClass::Loopback,
        None => false,
    }
}

/// A redirect may not land on a loopback host unless the request started on
/// one (wit/BEHAVIOUR.md, "The request lifecycle" step 11; "Where zapwasm differs on purpose"). The
/// address checks apply to every hop anyway; this keeps loopback closed to
/// redirects even where the policy opens it for local development.
pub(crate) fn check_redirect(started_on_loopback: bool, from: &Url, next: &Url) -> Result<(), Denial> {
    if started_on_loopback || !is_loopback_host(next) {
        return Ok(());
    }
    let host = next.host_str().unwrap_or_default().to_string();
    Err(Denial {
        host,
        addr: None,
        rule: Rule::RedirectToLoopback { from: from.host_str().unwrap_or_default().into() },
    })
}

/// Which encodings a client asks for: `compress` (the default) accepts
/// gzip, deflate and brotli; without it the body comes as the server sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encodings {
    Decompressed,
    Identity,
}

/// The HTTP client every guest request goes through, with the settings that
/// enforce egress: proxy environment variables ignored (a proxy would
/// connect on our behalf to addresses nobody checked), no automatic
/// redirects (each hop is checked by hand, in `capability/http`), and the
/// policy resolver as the only way a name becomes an address.
pub(crate) fn client(
    policy: &Arc<Policy>,
    resolver: &Arc<dyn Resolver>,
    encodings: Encodings,
) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PolicyResolver { resolver: resolver.clone(), policy: policy.clone() }))
        .user_agent(concat!("zapwasm/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .pool_idle_timeout(std::time::Duration::from_secs(60));
    let builder = match encodings {
        Encodings::Decompressed => builder,
        Encodings::Identity => builder.no_gzip().no_brotli().no_deflate(),
    };
    builder.build()
}

/// The resolver reqwest uses: resolve, keep the allowed addresses, refuse
/// when none is left.
struct PolicyResolver {
    resolver: Arc<dyn Resolver>,
    policy: Arc<Policy>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let ips = resolver.resolve(&host).await?;
            let mut allowed = Vec::new();
            let mut first_denial = None;
            for ip in ips {
                match check_addr(&policy, &host, ip) {
                    Ok(()) => allowed.push(SocketAddr::new(ip, 0)),
                    Err(denial) => {
                        first_denial.get_or_insert(denial);
                    }
                }
            }
            // One forbidden address is enough to refuse: a name that mixes
            // public and private answers is a rebinding attempt.
            if let Some(denial) = first_denial {
                return Err(Box::new(denial) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
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

    #[test]
    fn classifies_the_ranges() {
        assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("64:ff9b::a00:1"), AddressClass::NonGlobal("private network 10.0.0.0/8"));
        for s in
            ["10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "255.255.255.255"]
        {
            assert!(matches!(class(s), AddressClass::NonGlobal(_)), "{s}");
        }
        for s in ["fd00::1", "fe80::1", "ff02::1", "::", "2001:db8::1", "::ffff:192.168.0.1"] {
            assert!(matches!(class(s), AddressClass::NonGlobal(_)), "{s}");
        }
        assert_eq!(class("93.184.216.34"), AddressClass::Global);
        assert_eq!(class("2606:4700::1111"), AddressClass::Global);
    }

    #[test]
    fn ip_literals_in_every_notation_are_checked() {
        let policy = Policy::default();
        for url in ["http://2130706433/", "http://0x7f.1/", "http://017700000001/", "http://127.1/", "http://[::1]/"] {
            let url = Url::parse(url).unwrap();
            assert!(check_url(&policy, &url).is_err(), "{url}");
        }
        assert!(check_url(&Policy::local_development(), &Url::parse("http://127.0.0.1:8080/").unwrap()).is_ok());
    }

    #[test]
    fn a_redirect_may_not_land_on_loopback_unless_it_started_there() {
        let url = |s: &str| Url::parse(s).unwrap();
        let api = url("http://api.test/");
        for target in
            ["http://127.0.0.1:8080/", "http://localhost/", "http://a.localhost./", "http://[::1]/", "http://127.1/"]
        {
            let denial = check_redirect(false, &api, &url(target)).unwrap_err();
            assert_eq!(denial.rule, Rule::RedirectToLoopback { from: "api.test".into() }, "{target}");
        }
        assert!(check_redirect(false, &api, &url("http://other.test/")).is_ok());
        assert!(check_redirect(true, &url("http://127.0.0.1/"), &url("http://localhost/")).is_ok());
        assert!(is_loopback_host(&url("http://127.0.0.1/")) && !is_loopback_host(&url("http://api.test/")));
    }

    #[test]
    fn plain_http_and_unlisted_hosts_are_refused() {
        let url = |s: &str| Url::parse(s).unwrap();
        let mut policy = Policy::default();
        assert!(check_url(&policy, &url("https://api.example.com/")).is_ok());
        let denial = check_url(&policy, &url("http://api.example.com/")).unwrap_err();
        assert!(denial.message().contains("--allow-http"), "{}", denial.message());
        policy.allowed_hosts =
            vec!["https://*.example.com".parse().unwrap(), "http://legacy.example.org".parse().unwrap()];
        assert!(check_url(&policy, &url("https://api.example.com/x")).is_ok());
        assert!(check_url(&policy, &url("http://legacy.example.org/x")).is_ok());
        let denial = check_url(&policy, &url("https://example.net/")).unwrap_err();
        assert!(denial.message().contains("--allow-host"), "{}", denial.message());
    }
}
