//! What an integration may reach and spend: the operator's policy.

use std::time::Duration;

/// The operator's policy for outbound requests and per-invocation limits.
///
/// The default is what a multi-tenant platform wants: public HTTPS and HTTP
/// hosts only, nothing on loopback or private networks, and limits sized for
/// typical integration calls.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Allow requests to loopback addresses (127.0.0.0/8, ::1). Default
    /// false. For local development and tests only: on a server it exposes
    /// every service listening on localhost to third-party code.
    pub allow_loopback: bool,
    /// Allow requests to private, link-local and other non-global
    /// addresses (10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, ...).
    /// Default false: these are the platform's own network and the cloud
    /// metadata service.
    pub allow_private: bool,
    /// The hosts requests may go to. Empty (the default) means any host
    /// whose addresses are global; otherwise a URL must match one pattern.
    /// The address checks apply either way: an allowed name that resolves to
    /// a private address is still refused.
    pub allowed_hosts: Vec<HostPattern>,
    /// Allow plain `http://` to any host. Default false: credentials and
    /// data would cross the network in clear. A pattern naming `http://`
    /// allows it for that host only.
    pub allow_http: bool,
    /// Per-invocation limits.
    pub limits: Limits,
}

impl Policy {
    /// The policy for local development: the defaults plus loopback and
    /// plain http (local test servers rarely speak TLS).
    pub fn local_development() -> Policy {
        Policy { allow_loopback: true, allow_http: true, ..Policy::default() }
    }
}

/// An allow-list entry: `scheme://host[:port]`, where the host may start
/// with `*.` to match any subdomain (not the domain itself). Without a port
/// the scheme's default port is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: String,
    host: String,
    wildcard: bool,
    port: u16,
}

impl HostPattern {
    /// Parse `https://api.example.com`, `https://*.example.com`, `http://10.0.0.5:8080`.
    pub fn parse(pattern: &str) -> Result<HostPattern, String> {
        let bad = |why: &str| {
            format!("host pattern {pattern:?}: {why}; write scheme://host[:port], e.g. https://*.example.com")
        };
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(bad("only a host and a port are allowed after the scheme"));
        }
        // `[v6]:port`, `[v6]`, `host:port`, `host`.
        let bracketed = rest.starts_with('[');
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed ["))?;
            match after.strip_prefix(':') {
                Some(port) => (addr, port.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
                None if after.is_empty() => (addr, default_port),
                None => return Err(bad("unexpected text after ]")),
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
                None => (rest, default_port),
            }
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, host),
        };
        // The host as a URL writes it (lower case, international names in
        // ASCII, IP addresses in their shortest form): `matches` compares
        // it with `Url::host_str`, so a host written any other way (found
        // by fuzzing: `http://899`, which a URL reads as 0.0.3.131;
        // `https://Bücher.example`; `https://[0::1]`) would never match.
        let parsed = if bracketed { url::Host::parse(&format!("[{host}]")) } else { url::Host::parse(host) };
        let host = match parsed {
            Ok(url::Host::Domain(domain)) => domain,
            Ok(_) if wildcard => return Err(bad("a wildcard stands for subdomains, so it needs a domain")),
            Ok(url::Host::Ipv4(addr)) => addr.to_string(),
            Ok(url::Host::Ipv6(addr)) => addr.to_string(),
            Err(e) => return Err(bad(&format!("the host is not a domain or an IP address ({e})"))),
        };
        // After the host is read, so that `%2A` is a `*` too.
        if host.is_empty() || host.contains('*') {
            return Err(bad("the host is empty or has a wildcard other than a leading *."));
        }
        Ok(HostPattern { scheme, host, wildcard, port })
    }

    /// Whether a URL's scheme, host and port match.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host_ok = if self.wildcard {
            host.strip_suffix(&self.host).is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.host
        };
        scheme.eq_ignore_ascii_case(&self.scheme) && host_ok && port == self.port
    }
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<HostPattern, String> {
        HostPattern::parse(s)
    }
}

/// Limits applied to every invocation. Each breach ends that call with
/// [`CallError::Limit`](crate::CallError::Limit), naming the limit and its value.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time for the whole call, host calls included. Default 30 s,
    /// the reference platform's budget for a step.
    ///
    /// A hard bound on when the call returns: a result that comes at or
    /// after the deadline is refused as a timeout (checked where the result
    /// is final, before a pending callback is written), and the call ends
    /// with [`LimitKind::Timeout`](crate::LimitKind::Timeout) by the
    /// deadline plus:
    /// - a guest computing at the deadline: up to one epoch tick (1 ms),
    ///   when the check compiled into its code interrupts it;
    /// - a guest waiting in a host import, waiting for a thread, or moved
    ///   to the background pool
    ///   ([`PoolConfig::background_after`](crate::PoolConfig::background_after)):
    ///   2 ms, when the timer around the whole call ends the call without
    ///   waiting for the guest (HTTP requests end at the deadline on their
    ///   own);
    /// - either way, the time the caller's task then waits for a thread of
    ///   its runtime: a slice of at most one epoch tick of each guest
    ///   computing ahead of it there. Guests that compute for long move to
    ///   the background pool after 10 ms, so that queue stays short unless
    ///   hundreds of guests start computing at once.
    ///
    /// Measured (BENCHMARKS.md, "Fair under load"): 256 calls at once on 2
    /// cores, one-GET calls and four spinning guests, ended at most a few
    /// milliseconds past their deadline at p99.9, and no result came after
    /// it. The one step not cut at the deadline is the write of a pending
    /// callback to the [`CallbackStore`](crate::CallbackStore) (a call that
    /// asked for one): cutting a write halfway could leave a callback stored
    /// for a call reported as failed, so the store's latency adds to it.
    ///
    /// The epoch check costs 20-35% on CPU-bound guests, nothing while
    /// waiting on I/O.
    pub timeout: Duration,
    /// Linear memory across all of a component's memories. Default 128 MiB:
    /// integrations move JSON, not media; stashed files stream through the
    /// host, not guest memory. Counted exactly when a memory grows.
    pub memory_bytes: u64,
    /// Outbound requests per call, redirect hops included. Default 200.
    pub max_requests: u32,
    /// Outbound requests in flight at once from one call. Default 10:
    /// enough for fan-out, not enough to flood an API.
    pub max_concurrent_requests: u32,
    /// Bytes of one response body, counted as it streams in; the transfer is
    /// aborted at the cap. Default 50 MiB.
    pub response_body_bytes: u64,
    /// Bytes of one request body. Default 50 MiB.
    pub request_body_bytes: u64,
    /// Bytes of the call's result as JSON. Default 6 MiB (6,291,456), the
    /// reference platform's limit.
    pub result_bytes: u64,
    /// Bytes of log output (console, stdout, stderr) kept per call. Default
    /// 1 MiB; output past it is dropped and the call fails with a limit error.
    pub log_bytes: u64,
    /// Bytes stashed per call. Default 150 MB, the reference platform's
    /// limit for a buffered file.
    pub stash_bytes: u64,
    /// Bytes the host itself holds for one call at once: request bodies
    /// copied out of the guest while they are sent, response bodies from
    /// their first byte until the guest has them (every response of a
    /// `send-all` at once), and the call's log lines and exchange records.
    /// Buffers count by their capacity, as they grow. Default 64 MiB.
    ///
    /// The trade-off: guest memory is capped by
    /// [`memory_bytes`](Limits::memory_bytes), but a guest can ask the host
    /// to buffer for it (forty 20 MiB responses in one `send-all` under a
    /// 16 MiB guest); this caps that. A host's own memory for calls is then
    /// at most this times the calls running at once (bounded by
    /// [`PoolConfig::instances`](crate::PoolConfig::instances)), so lower it
    /// on a host running many calls at once. The default holds one response
    /// at the default [`response_body_bytes`](Limits::response_body_bytes)
    /// with room for the call's records; a call that needs several large
    /// bodies at once (a fan-out of downloads) needs it raised.
    pub host_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(30),
            memory_bytes: 128 << 20,
            max_requests: 200,
            max_concurrent_requests: 10,
            response_body_bytes: 50 << 20,
            request_body_bytes: 50 << 20,
            result_bytes: 6 << 20,
            log_bytes: 1 << 20,
            stash_bytes: 150_000_000,
            host_memory_bytes: 64 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_scheme_host_and_port() {
        let p = HostPattern::parse("https://*.example.com").unwrap();
        assert!(p.matches("https", "api.example.com", 443));
        assert!(p.matches("https", "a.b.example.com", 443));
        assert!(!p.matches("https", "example.com", 443), "the wildcard is for subdomains");
        assert!(!p.matches("https", "evilexample.com", 443));
        assert!(!p.matches("http", "api.example.com", 80));
        assert!(!p.matches("https", "api.example.com", 8443));
        let p = HostPattern::parse("http://LocalHost:8080/").unwrap();
        assert!(p.matches("http", "localhost", 8080));
        assert!(HostPattern::parse("ftp://x").is_err());
        assert!(HostPattern::parse("https://x/path").is_err());
        assert!(HostPattern::parse("https://a.*.com").is_err());
        assert!(HostPattern::parse("https://[::1]:8443").unwrap().matches("https", "[::1]", 8443));
    }

    /// Found by fuzzing (`fuzz::host_patterns_parse_and_match_their_urls`):
    /// patterns whose host a URL writes another way never matched, and
    /// hosts no URL can have were accepted.
    #[test]
    fn host_patterns_hold_the_host_as_urls_write_it() {
        let url_host = |url: &str| {
            let url = url::Url::parse(url).unwrap();
            (url.scheme().to_string(), url.host_str().unwrap().to_string(), url.port_or_known_default().unwrap())
        };
        for pattern in ["http://899", "https://B\u{fc}cher.example", "https://[0:0::1]", "https://EX%41MPLE.com:8443"] {
            let (scheme, host, port) = url_host(pattern);
            assert!(HostPattern::parse(pattern).unwrap().matches(&scheme, &host, port), "{pattern} vs {host}");
        }
        assert!(HostPattern::parse("https://*.b\u{fc}cher.example").unwrap().matches(
            "https",
            "api.xn--bcher-kva.example",
            443
        ));
        for never in [
            "https://a b.example",
            "https://x#",
            "https://[x",
            "https://[not-v6]",
            "https://*.127.0.0.1",
            "https://B\u{fc}cher.ex%2ample",
        ] {
            assert!(HostPattern::parse(never).is_err(), "{never}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use url::Url;

    use super::*;
    use crate::fuzzing;

    /// What host patterns are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "https://",
        "http://",
        "*.",
        ":443",
        ":0",
        ":65536",
        "[::1]",
        "[",
        "]",
        "xn--",
        "ü",
        "%41",
        "127.0.0.1",
        "0x7f.1",
    ];

    /// The pattern written back as text.
    fn written(pattern: &HostPattern) -> String {
        let star = if pattern.wildcard { "*." } else { "" };
        match pattern.host.contains(':') {
            true => format!("{}://[{star}{}]:{}", pattern.scheme, pattern.host, pattern.port),
            false => format!("{}://{star}{}:{}", pattern.scheme, pattern.host, pattern.port),
        }
    }

    /// `--allow-host` values and an embedder's allow-list: parsing never
    /// panics, a pattern reads back from its own text, and it matches the
    /// URL written the same way (the check `egress` makes), so no pattern
    /// is accepted that can never match.
    #[test]
    fn host_patterns_parse_and_match_their_urls() {
        fuzzing::fuzz_text("host_pattern", TOKENS, |text| {
            let Ok(pattern) = HostPattern::parse(text) else { return Ok(()) };
            prop_assert!(!pattern.host.is_empty() && !pattern.host.contains('*'));
            prop_assert!(pattern.scheme == "http" || pattern.scheme == "https");
            prop_assert_eq!(HostPattern::parse(&written(&pattern)), Ok(pattern.clone()));
            let _ = pattern.matches("https", text, 443);
            // The URL the pattern names (a subdomain of it, for a wildcard).
            let url = if pattern.wildcard { text.replacen("*.", "sub.", 1) } else { text.to_string() };
            if let Ok(url) = Url::parse(&url) {
                let (host, port) = (url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
                prop_assert!(pattern.matches(url.scheme(), host, port), "{pattern:?} does not match {url}");
            }
            Ok(())
        });
    }
}
