//! The hostile-guest suite: a guest built to attack the sandbox tries every
//! attack at once, next to a well-behaved call; each attack must end with
//! the expected typed error (or reach nothing), and the host keeps serving.
//! The command line is attacked too: its terminal, and its flags.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use zapwasm_host::{App, Bundle, CallError, Host, Invocation, LimitKind, Limits, LoadError, Outcome, Policy, ZError};
use zapwasm_tests::{HOSTILE, MapResolver, Recorder, host_builder, input, non_loopback_local_address, shared_dir};

use crate::run::ZAPWASM;

/// What an attack must end with.
enum Held {
    Limit(LimitKind),
    Trap,
    /// An integration error whose message names all of these.
    Denied(Vec<&'static str>),
    /// The call succeeds and reached nothing: these fields are empty.
    ReachedNothing(&'static str),
    /// Whatever this says of the outcome.
    Check(Box<OutcomeCheck>),
}

/// A check of an attack's outcome: why it was not held, if it was not.
type OutcomeCheck = dyn Fn(&Outcome) -> Result<(), String> + Send + Sync;

/// Which host an attack runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    /// Nothing opened but plain http.
    Strict,
    /// Loopback opened, as for local development.
    Local,
    /// Private and reserved networks opened, not loopback.
    Private,
    /// Loopback and private networks opened, and `public.test` resolving
    /// to an address of this machine that is not loopback: a request that
    /// starts there starts off loopback.
    OffLoopback,
    /// Private networks opened, not loopback, and `public.test` as above.
    OffLoopbackPrivate,
}

struct Attack {
    name: String,
    method: &'static str,
    input: Value,
    auth: Value,
    held: Held,
    on: On,
}

fn attack(name: &str, method: &'static str, input: Value, held: Held) -> Attack {
    Attack { name: name.into(), method, input, auth: json!({}), held, on: On::Strict }
}

fn ssrf(name: &str, url: String, denied: &[&'static str]) -> Attack {
    attack(name, "ssrf", json!({"url": url}), Held::Denied(denied.to_vec()))
}

fn on(on: On, attack: Attack) -> Attack {
    Attack { on, ..attack }
}

fn encoded(url: &str) -> String {
    url::form_urlencoded::byte_serialize(url.as_bytes()).collect()
}

/// The secret in the authData of the attacks that carry one.
const SECRET: &str = "hostile-secret-42";

/// What the servers are: the recorder on 127.0.0.1, a second one (another
/// origin), and the one on an address of this machine that is not
/// loopback, when there is one.
struct Servers {
    recorder: Recorder,
    other: Arc<Recorder>,
    public: Option<Recorder>,
}

fn attacks(servers: &Servers) -> Vec<Attack> {
    let recorder = &servers.recorder;
    let port = recorder.port();
    let base = &recorder.base_url;
    let mut list = vec![
        attack("infinite loop", "spin", json!({}), Held::Limit(LimitKind::Timeout)),
        attack("deep recursion", "recurse", json!({}), Held::Trap),
        attack("memory growth past the cap", "memory_bomb", json!({}), Held::Limit(LimitKind::Memory)),
        attack("a huge result", "huge_result", json!({}), Held::Limit(LimitKind::Result)),
        attack("a log flood", "log_flood", json!({}), Held::Limit(LimitKind::Log)),
        attack("reading files", "read_files", json!({}), Held::ReachedNothing("reached")),
        attack("reading the host's environment", "read_env", json!({}), Held::ReachedNothing("vars")),
        attack(
            "opening sockets",
            "open_socket",
            json!({"addr": format!("127.0.0.1:{port}")}),
            Held::ReachedNothing("reached"),
        ),
    ];
    for (notation, host) in [
        ("dotted", "127.0.0.1"),
        ("decimal", "2130706433"),
        ("hex", "0x7f000001"),
        ("octal", "017700000001"),
        ("short dotted", "127.1"),
        ("IPv6 loopback", "[::1]"),
        ("IPv4-mapped IPv6", "[::ffff:127.0.0.1]"),
        ("IPv4-mapped IPv6, hex", "[::ffff:7f00:1]"),
        ("NAT64", "[64:ff9b::7f00:1]"),
    ] {
        list.push(ssrf(
            &format!("SSRF to an IP literal ({notation})"),
            format!("http://{host}:{port}/"),
            &["loopback"],
        ));
    }
    list.push(ssrf(
        "SSRF to cloud metadata 169.254.169.254",
        "http://169.254.169.254/latest/meta-data/".into(),
        &["169.254"],
    ));
    list.push(ssrf("SSRF to a private network", "http://10.0.0.1/".into(), &["10.0.0.0/8"]));
    list.push(ssrf("SSRF to IPv6 unique-local", "http://[fd00::1]/".into(), &["fc00::/7"]));
    list.push(ssrf("SSRF to IPv6 link-local", "http://[fe80::1]/".into(), &["fe80::/10"]));
    list.push(ssrf(
        "SSRF through a name resolving to 127.0.0.1",
        format!("http://internal.attacker.test:{port}/"),
        &["loopback"],
    ));
    list.push(ssrf("a scheme other than http", "file:///etc/passwd".into(), &["the scheme file: is not allowed"]));
    let metadata = "http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F";
    list.push(on(
        On::Local,
        ssrf(
            "SSRF through an allowed host redirecting to a private address",
            format!("{base}/redirect-to?url={metadata}"),
            &["169.254", "hop 1 of the request"],
        ),
    ));
    for header in ["Host", "Connection", "Proxy-Authorization", "Transfer-Encoding"] {
        list.push(on(
            On::Local,
            attack(
                &format!("the forbidden header {header}"),
                "ssrf",
                json!({"url": base, "headers": {header: "evil.test"}}),
                Held::Denied(vec!["may not be sent by an integration"]),
            ),
        ));
    }

    // 1. What reaches this machine is loopback, whatever the flags: with
    // private networks open, the unspecified addresses and their mapped
    // forms, by literal or by name, stay closed.
    for (what, host) in [
        ("0.0.0.0", "0.0.0.0".to_string()),
        ("0, short", "0".into()),
        ("0.1.2.3 in 0.0.0.0/8", "0.1.2.3".into()),
        ("::", "[::]".into()),
        ("::ffff:0.0.0.0", "[::ffff:0.0.0.0]".into()),
        ("::ffff:127.0.0.1", "[::ffff:127.0.0.1]".into()),
        ("127.0.0.1", "127.0.0.1".into()),
        ("a name resolving to 0.0.0.0", "zero.attacker.test".into()),
        ("a name resolving to ::", "unspecified.attacker.test".into()),
        ("localhost", "localhost".into()),
        ("LOCALHOST. in capitals, with the final dot", "LOCALHOST.".into()),
        ("a subdomain of localhost", "api.localhost".into()),
    ] {
        list.push(on(
            On::Private,
            ssrf(
                &format!("private networks opened, loopback reached through {what}"),
                format!("http://{host}:{port}/"),
                &["on this machine", "--allow-loopback"],
            ),
        ));
    }
    for name in ["localhost", "Foo.LocalHost."] {
        list.push(ssrf(
            &format!("{name} is loopback by definition, not a DNS failure"),
            format!("http://{name}:{port}/"),
            &["denied by the egress policy", "on this machine by definition (RFC 6761)"],
        ));
    }
    // Loopback opened: only this machine's addresses, not IPv4 loopback
    // carried to a translator or relay elsewhere.
    for (carrier, host) in [
        ("NAT64", "[64:ff9b::7f00:1]"),
        ("6to4", "[2002:7f00:1::1]"),
        ("IPv4-compatible", "[::7f00:1]"),
        ("IPv4-translated", "[::ffff:0:7f00:1]"),
    ] {
        list.push(on(
            On::Local,
            ssrf(
                &format!("loopback opened, 127.0.0.1 carried in {carrier}"),
                format!("http://{host}:{port}/"),
                &["loopback 127.0.0.0/8 (carried in"],
            ),
        ));
    }
    for (host, range) in [
        ("192.0.0.9", "Port Control Protocol anycast 192.0.0.9/32"),
        ("192.0.0.170", "NAT64/DNS64 discovery"),
        ("192.88.99.1", "6to4 relay anycast 192.88.99.0/24"),
        ("192.88.99.2", "6a44 relay anycast"),
        ("198.18.0.1", "benchmarking 198.18.0.0/15"),
        ("240.0.0.1", "reserved 240.0.0.0/4"),
        ("255.255.255.255", "limited broadcast"),
        ("[3fff::1]", "documentation 3fff::/20"),
        ("[64:ff9b:1::a00:1]", "local-use NAT64 64:ff9b:1::/48"),
        ("[100::1]", "discard-only 100::/64"),
        ("[2001:2::1]", "benchmarking 2001:2::/48"),
        ("[2001::1]", "Teredo 2001::/32"),
        ("[2001:1::1]", "Port Control Protocol anycast 2001:1::1/128"),
        ("[5f00::1]", "segment routing"),
        ("[fec0::1]", "site-local fec0::/10"),
        ("[ff02::1]", "multicast ff00::/8"),
        ("[4000::1]", "reserved by the IETF"),
    ] {
        list.push(ssrf(&format!("SSRF to the special-purpose {host}"), format!("http://{host}/"), &[range]));
    }

    // 2. A redirect off a chain that did not start on loopback never lands
    // there, whatever name leads there; the denial names the hop.
    if let Some(public) = &servers.public {
        let start = |target: &str| format!("{}/redirect-to?url={}", public_url(public), encoded(target));
        for (what, target) in [
            ("a name resolving to 127.0.0.1", format!("http://internal.attacker.test:{port}/")),
            ("a name resolving to a public and a loopback address", format!("http://mixed.attacker.test:{port}/")),
            ("localhost", format!("http://localhost:{port}/")),
            ("Localhost. with the final dot", format!("http://Localhost.:{port}/")),
            ("a subdomain of localhost", format!("http://a.localhost:{port}/")),
            ("127.0.0.1", format!("http://127.0.0.1:{port}/")),
            ("127.0.0.1 in decimal", format!("http://2130706433:{port}/")),
            ("::1", format!("http://[::1]:{port}/")),
            ("0.0.0.0", format!("http://0.0.0.0:{port}/")),
            ("::ffff:127.0.0.1", format!("http://[::ffff:127.0.0.1]:{port}/")),
        ] {
            list.push(on(
                On::OffLoopback,
                ssrf(
                    &format!("loopback opened, a redirect off loopback to {what}"),
                    start(&target),
                    &["a redirect from public.test may not land on a loopback host", "hop 1 of the request"],
                ),
            ));
        }
        let twice = format!(
            "{}/redirect-to?url={}",
            public_url(public),
            encoded(&start(&format!("http://internal.attacker.test:{port}/")))
        );
        list.push(on(
            On::OffLoopback,
            ssrf(
                "loopback opened, two redirects off loopback to a name resolving to 127.0.0.1",
                twice,
                &["may not land on a loopback host", "hop 2 of the request"],
            ),
        ));
        list.push(on(
            On::OffLoopbackPrivate,
            ssrf(
                "private networks opened, a redirect off a public server to 0.0.0.0",
                start(&format!("http://0.0.0.0:{port}/")),
                &["on this machine", "hop 1 of the request"],
            ),
        ));
        list.push(on(
            On::OffLoopbackPrivate,
            ssrf(
                "private networks opened, a redirect off a public server to a name resolving to ::",
                start(&format!("http://unspecified.attacker.test:{port}/")),
                &["on this machine", "hop 1 of the request"],
            ),
        ));
    }

    // 3. The host's own memory: forty 20 MiB responses in one send-all
    // under a 16 MiB guest.
    let fan_out = json!({"url": format!("{base}/stream/{}", 20 << 20), "count": 40});
    list.push(on(
        On::Local,
        attack(
            "forty 20 MiB responses in one send-all",
            "fan_out",
            fan_out,
            limit_named(LimitKind::HostMemory, "raise Limits::host_memory_bytes (--host-memory-mb)"),
        ),
    ));

    // 4. Credentials stay with their origin.
    let landed = format!("{}/landed", servers.other.base_url);
    for code in [307, 308] {
        list.push(on(
            On::Local,
            Attack {
                auth: json!({"api_key": SECRET}),
                ..attack(
                    &format!("credentials and the body through a {code} to another port"),
                    "ssrf",
                    json!({
                        "url": format!("{base}/redirect-to/{code}?url={}", encoded(&landed)),
                        "method": "POST",
                        "body": format!("payload with {SECRET}"),
                        "headers": credential_headers(),
                    }),
                    credentials_dropped(servers.other.clone(), "POST", true),
                )
            },
        ));
    }
    list.push(on(
        On::Local,
        Attack {
            auth: json!({"api_key": SECRET}),
            ..attack(
                "credentials through a 302 to another host on the same port",
                "ssrf",
                json!({
                    "url": format!("{base}/redirect-to?url={}", encoded(&format!("http://other.test:{port}/landed"))),
                    "headers": credential_headers(),
                }),
                credentials_dropped_at_recorder(port),
            )
        },
    ));

    // 5. What the host derives from secrets is censored: credentials in a URL.
    list.push(on(
        On::Local,
        attack(
            "credentials in the URL, sent as basic auth",
            "ssrf",
            json!({"url": format!("http://hostile-user:hostile-pass-77@127.0.0.1:{port}/anything")}),
            not_in_outcome(&["hostile-pass-77", "aG9zdGlsZS11c2VyOmhvc3RpbGUtcGFzcy03Nw==", "hostile-user:"]),
        ),
    ));

    // 6. A request's timeout covers its body.
    list.push(on(
        On::Local,
        attack(
            "a body trickling past the request's timeout",
            "ssrf",
            json!({"url": format!("{base}/slow-body/1000"), "timeout": 300}),
            Held::Check(Box::new(|outcome| {
                let message = format!("{:?}", outcome.result);
                if !message.contains("network timeout at") {
                    return Err(format!("not a network timeout: {message}"));
                }
                if outcome.duration > Duration::from_secs(3) {
                    return Err(format!("took {:?}: the body ran past the 300 ms timeout", outcome.duration));
                }
                Ok(())
            })),
        ),
    ));

    // 9. Denials and limits explain themselves.
    for url in ["gopher://127.0.0.1/", "ftp://example.com/x", "data:text/plain,x", "javascript:alert(1)"] {
        let scheme = url.split(':').next().unwrap_or_default().to_string();
        list.push(attack(
            &format!("the scheme {scheme}:"),
            "ssrf",
            json!({"url": url}),
            Held::Check(Box::new(move |outcome| {
                let message = format!("{:?}", outcome.result);
                let named = format!("the scheme {scheme}: is not allowed");
                if message.contains(&named) && message.contains("denied by the egress policy") {
                    Ok(())
                } else {
                    Err(format!("the scheme is not named: {message}"))
                }
            })),
        ));
    }
    list.push(on(
        On::Local,
        ssrf(
            "a redirect to file:",
            format!("{base}/redirect-to?url={}", encoded("file:///etc/passwd")),
            &["the scheme file: is not allowed", "hop 1 of the request"],
        ),
    ));
    list.push(on(
        On::Local,
        attack(
            "a response over the body limit",
            "ssrf",
            json!({"url": format!("{base}/stream/{}", 60 << 20)}),
            limit_named(LimitKind::ResponseBody, "raise Limits::response_body_bytes (--max-response-bytes)"),
        ),
    ));
    list
}

/// The URL of the server off loopback, by the name that resolves to it.
fn public_url(public: &Recorder) -> String {
    format!("http://public.test:{}", public.port())
}

/// Headers that carry credentials by name, by value (the authData secret)
/// or both, and one that carries none.
fn credential_headers() -> Value {
    json!({
        "Authorization": "Bearer t0ken-abc",
        "Cookie": "session=c00kie",
        "X-Api-Key": "k-123",
        "X-Session-Token": "st-456",
        "X-Custom": format!("v {SECRET}"),
        "X-Trace": "plain",
    })
}

const DROPPED: &[&str] = &["authorization", "cookie", "x-api-key", "x-session-token", "x-custom"];

/// The landing server got the request without a credential (and without
/// the body), kept `X-Trace`, and the outcome's record says what was dropped.
fn credentials_dropped(landing: Arc<Recorder>, method: &'static str, body: bool) -> Held {
    Held::Check(Box::new(move |outcome| {
        let received = landing.received();
        let Some(landed) = received.iter().rev().find(|r| r.uri == "/landed" && r.method == method) else {
            return Err(format!("nothing landed: {:?} {received:?}", outcome.result));
        };
        check_landed(outcome, landed, body)
    }))
}

/// As [`credentials_dropped`], for a landing on the recorder itself
/// (another host name, the same port).
fn credentials_dropped_at_recorder(port: u16) -> Held {
    Held::Check(Box::new(move |outcome| {
        let last = outcome.http.last().ok_or("no exchange")?;
        if !last.url.starts_with(&format!("http://other.test:{port}/landed")) {
            return Err(format!("did not land: {:?}", outcome.http));
        }
        let sent: Vec<&str> = last.request_headers.iter().map(|(k, _)| k.as_str()).collect();
        if DROPPED.iter().any(|name| sent.contains(name)) || !sent.contains(&"x-trace") {
            return Err(format!("sent {sent:?}"));
        }
        dropped_recorded(outcome, false)
    }))
}

fn check_landed(outcome: &Outcome, landed: &zapwasm_tests::Received, body: bool) -> Result<(), String> {
    if let Some(name) = DROPPED.iter().find(|name| landed.header(name).is_some()) {
        return Err(format!("{name} followed the redirect: {:?}", landed.headers));
    }
    if landed.header("x-trace") != Some("plain") {
        return Err("X-Trace was dropped too".into());
    }
    if !landed.body.is_empty() {
        return Err(format!("the body followed the redirect: {:?}", String::from_utf8_lossy(&landed.body)));
    }
    dropped_recorded(outcome, body)
}

fn dropped_recorded(outcome: &Outcome, body: bool) -> Result<(), String> {
    let hop = outcome.http.last().ok_or("no exchange")?;
    let mut dropped = hop.dropped_on_redirect.clone();
    dropped.sort();
    let mut expected: Vec<String> = DROPPED.iter().map(|s| s.to_string()).collect();
    if body {
        expected.push("body".into());
    }
    expected.sort();
    if dropped != expected {
        return Err(format!("the record says {dropped:?}, not {expected:?}"));
    }
    let said = outcome.logs.iter().any(|line| line.message.contains("not sent to this origin after the redirect"));
    if !said {
        return Err("no log line says what was dropped".into());
    }
    Ok(())
}

/// The call ends with this limit, and its message says what raises it.
fn limit_named(kind: LimitKind, raise: &'static str) -> Held {
    Held::Check(Box::new(move |outcome| match &outcome.result {
        Err(error @ CallError::Limit { limit, .. }) if *limit == kind && error.to_string().contains(raise) => Ok(()),
        other => Err(format!("expected the {} limit naming {raise:?}, got {other:?}", kind.name())),
    }))
}

/// None of these texts is anywhere in the outcome.
fn not_in_outcome(texts: &'static [&'static str]) -> Held {
    Held::Check(Box::new(move |outcome| {
        let everything = format!("{:?} {:?} {:?}", outcome.result, outcome.logs, outcome.http);
        match texts.iter().find(|text| everything.contains(*text)) {
            Some(text) => Err(format!("{text} leaked: {everything}")),
            None if outcome.result.is_err() => Err(format!("the call failed: {:?}", outcome.result)),
            None => Ok(()),
        }
    }))
}

/// The log and result limits are small so that the attacks on them meet
/// them after little work: a guest that computes past `background_after`
/// moves to the background pool, whose idle-class threads get no CPU while
/// the rest of the test binary (or the machine) keeps both cores busy, and
/// a guest that had to write 1 MiB of log or 6 MiB of result there could
/// meet its deadline first (both did, with three busy loops beside the test).
fn strict_limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(10),
        memory_bytes: 64 << 20,
        log_bytes: 64 << 10,
        result_bytes: 1 << 20,
        ..Limits::default()
    }
}

fn resolver(public: Option<std::net::IpAddr>) -> Arc<MapResolver> {
    let loopback: std::net::IpAddr = [127, 0, 0, 1].into();
    let mut names = vec![
        ("internal.attacker.test".to_string(), loopback),
        ("zero.attacker.test".into(), [0, 0, 0, 0].into()),
        ("unspecified.attacker.test".into(), std::net::Ipv6Addr::UNSPECIFIED.into()),
        ("other.test".into(), loopback),
    ];
    if let Some(public) = public {
        names.push(("public.test".into(), public));
        names.push(("mixed.attacker.test".into(), public));
        names.push(("mixed.attacker.test".into(), loopback));
    }
    Arc::new(MapResolver(names))
}

fn host_for(on: On, public: Option<std::net::IpAddr>) -> Host {
    let policy = match on {
        // Plain http is allowed so that the address checks, not the scheme
        // rule, are what each SSRF attempt meets.
        On::Strict => Policy { limits: strict_limits(), allow_http: true, ..Policy::default() },
        // A small guest: what the host buffers for it must not be bounded
        // by the guest's own memory.
        On::Local => Policy {
            limits: Limits { timeout: Duration::from_secs(10), memory_bytes: 16 << 20, ..Limits::default() },
            ..Policy::local_development()
        },
        On::Private | On::OffLoopbackPrivate => {
            Policy { limits: strict_limits(), allow_http: true, allow_private: true, ..Policy::default() }
        }
        On::OffLoopback => Policy { limits: strict_limits(), allow_private: true, ..Policy::local_development() },
    };
    host_builder().policy(policy).resolver(resolver(public)).build().unwrap()
}

fn check(attack: &Attack, outcome: &Outcome) -> Result<(), String> {
    let result = outcome.result.as_ref().map(|json| json.value());
    let ok = match (&attack.held, &result) {
        (Held::Check(check), _) => return check(outcome).map_err(|why| format!("{}: not held: {why}", attack.name)),
        (Held::Limit(kind), Err(CallError::Limit { limit, .. })) => limit == kind,
        (Held::Trap, Err(CallError::Trap { .. })) => true,
        (Held::Denied(texts), Err(CallError::Integration { error: ZError::General { message } })) => {
            texts.iter().all(|text| message.contains(text))
        }
        (Held::ReachedNothing(field), Ok(value)) => value[0][field].as_array().is_some_and(Vec::is_empty),
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("{}: not held, got {result:?}", attack.name)) }
}

async fn run(app: &App, attack: &Attack) -> Outcome {
    let method = format!("triggers.{}.operation.perform", attack.method);
    let mut bundle = input(attack.input.clone());
    bundle.auth_data = attack.auth.as_object().cloned().unwrap_or_default();
    app.invoke(Invocation::local(method, bundle)).await
}

/// `zapwasm` with these arguments: its exit code, stdout and stderr.
fn zapwasm(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("a directory");
    let output = Command::new(ZAPWASM)
        .args(args)
        .args(["--no-state", "--cache-dir"])
        .arg(shared_dir("cli-cache"))
        .current_dir(dir.path())
        .output()
        .expect("the CLI runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// Attacks on the command line: what it prints, and the flags it takes.
fn cli_attacks() -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    // 7. The guest's log lines and plain-string result reach the terminal
    // escaped: no line is forged, no escape sequence passes.
    let (code, stdout, stderr) = zapwasm(&["invoke", HOSTILE, "trigger", "terminal"]);
    let printed = format!("{stdout}{stderr}");
    let raw = ['\u{1b}', '\u{7}', '\u{9b}', '\u{7f}', '\u{202e}', '\r'];
    let forged =
        printed.lines().any(|line| line.starts_with("zapwasm: forged") || line.starts_with("zapwasm: overwritten"));
    let escaped =
        ["first\\nzapwasm: forged line", "\\u001b]0;pwned\\u0007", "\\u009b31m", "\\u202e", "stdout\\rzapwasm"];
    let result = match (raw.iter().find(|c| printed.contains(**c)), forged) {
        (Some(c), _) => Err(format!("{c:?} reached the terminal raw: {printed:?}")),
        (None, true) => Err(format!("a line was forged: {printed}")),
        (None, false) => match escaped.iter().find(|text| !printed.contains(*text)) {
            Some(missing) => Err(format!("{missing:?} is not printed escaped (exit {code:?}): {printed}")),
            None => Ok(()),
        },
    };
    results.push(("the terminal, from log lines and a plain-string result".to_string(), result));

    // 8. Every numeric flag is range-checked: a clear usage error, never a
    // panic or a limit that wraps.
    for flag in [
        "--timeout=1e18",
        "--timeout=NaN",
        "--memory-mb=18446744073709551615",
        "--host-memory-mb=0",
        "--max-concurrent-requests=0",
        "--max-requests=4294967295",
        "--max-response-bytes=18446744073709551615",
        "--auth-timeout=18446744073709551615",
        "--limit=-9223372036854775808",
    ] {
        let (code, _, stderr) = zapwasm(&["invoke", HOSTILE, "trigger", "polite", flag]);
        let name = flag.split('=').next().unwrap_or_default();
        let result =
            if code == Some(2) && stderr.contains(name) && stderr.contains("must be") && !stderr.contains("panicked") {
                Ok(())
            } else {
                Err(format!("exit {code:?}: {stderr}"))
            };
        results.push((format!("the flag {flag}"), result));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_held_while_a_polite_call_completes() {
    let public_ip = non_loopback_local_address();
    let servers = Servers {
        recorder: Recorder::start().await,
        other: Arc::new(Recorder::start().await),
        public: match public_ip {
            Some(ip) => Some(Recorder::start_on(ip).await),
            None => {
                println!("hostile-guest suite: no address but loopback on this machine, so no redirect starts off it");
                None
            }
        },
    };
    let mut apps = Vec::new();
    for kind in [On::Strict, On::Local, On::Private, On::OffLoopback, On::OffLoopbackPrivate] {
        apps.push((kind, host_for(kind, public_ip).load_file(HOSTILE).await.unwrap()));
    }
    let app = |kind: On| apps.iter().find(|(k, _)| *k == kind).map(|(_, app)| app.clone()).unwrap();
    let attacks = attacks(&servers);

    let polite = {
        let app = app(On::Strict);
        tokio::spawn(async move {
            let mut completed = 0;
            for _ in 0..20 {
                let outcome =
                    app.invoke(Invocation::local("triggers.polite.operation.perform", Bundle::default())).await;
                assert_eq!(outcome.result.expect("the polite call succeeds").value()[0]["ok"], true);
                completed += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            completed
        })
    };
    let cli = tokio::task::spawn_blocking(cli_attacks);
    // Each attack is a task of its own, as an embedder runs calls: a
    // spinning guest yields its thread at every epoch tick, but calls
    // polled in one task would wait on it each time.
    let attacks: Vec<Arc<Attack>> = attacks.into_iter().map(Arc::new).collect();
    let runs: Vec<_> = attacks
        .iter()
        .map(|attack| {
            let (attack, app) = (attack.clone(), app(attack.on));
            tokio::spawn(async move { check(&attack, &run(&app, &attack).await) })
        })
        .collect();
    let mut results = Vec::new();
    for run in runs {
        results.push(run.await.unwrap_or_else(|e| Err(format!("the attack's task failed: {e}"))));
    }
    assert_eq!(polite.await.unwrap(), 20, "the well-behaved calls all completed");

    // Malformed and foreign components are attacks on the loader.
    let strict_host = host_for(On::Strict, None);
    let bytes = std::fs::read(HOSTILE).unwrap();
    let foreign =
        wat::parse_str(r#"(component (import "evil:net/raw-socket" (instance (export "open" (func)))))"#).unwrap();
    type Expected = fn(&LoadError) -> bool;
    let loads: [(&str, Vec<u8>, Expected); 3] = [
        ("a truncated component", bytes[..bytes.len() / 3].to_vec(), |e| matches!(e, LoadError::Malformed { .. })),
        ("random bytes", b"\0asm\x0d\x00\x01\x00garbage garbage".to_vec(), |e| {
            matches!(e, LoadError::Malformed { .. })
        }),
        ("an import the host does not offer", foreign, |e| matches!(e, LoadError::UnsupportedImport { .. })),
    ];
    let mut load_results = Vec::new();
    for (name, bytes, expected) in loads {
        load_results.push(match strict_host.load_bytes(bytes).await {
            Err(e) if expected(&e) => Ok(()),
            other => Err(format!("{name}: not held, got {:?}", other.err())),
        });
    }
    let cli_results: Vec<Result<(), String>> = cli
        .await
        .unwrap()
        .into_iter()
        .map(|(name, result)| result.map_err(|why| format!("{name}: not held: {why}")))
        .collect();

    // The host still serves after all of it.
    let after = app(On::Strict).invoke(Invocation::local("triggers.polite.operation.perform", Bundle::default())).await;
    assert!(after.result.is_ok());

    let all: Vec<Result<(), String>> = results.into_iter().chain(load_results).chain(cli_results).collect();
    let held = all.iter().filter(|r| r.is_ok()).count();
    println!("hostile-guest suite: {} attacks tried, {held} held", all.len());
    let failures: Vec<&String> = all.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "attacks not held:\n{}",
        failures.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn the_environment_holds_only_what_was_configured() {
    let app = host_for(On::Strict, None).load_file(HOSTILE).await.unwrap().with_env([("ONLY_THIS", "1")]);
    let outcome = app.invoke(Invocation::local("triggers.read_env.operation.perform", Bundle::default())).await;
    let value = outcome.result.unwrap().value();
    assert_eq!(value[0]["vars"], json!(["ONLY_THIS"]));
    assert_eq!(value[0]["args"], json!([]));
}

/// The resident memory of this process, in bytes (`VmRSS`).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kib << 10
}

/// How many fan-outs run at once in the memory test.
const FAN_OUTS: u64 = 8;

/// The host's memory stays bounded while many calls each ask it to buffer
/// forty 20 MiB responses (800 MiB a call, 6.4 GiB in all, under a 16 MiB
/// guest): each call ends at its host memory budget, and the process's
/// resident memory grows by at most the calls' budgets and guest memories.
/// Measured in a process of its own (this test binary, running only
/// [`host_memory_probe`]), so no other test's memory is counted.
#[test]
fn the_hosts_memory_stays_bounded_under_many_fan_outs() {
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["hostile::host_memory_probe", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("ZAPWASM_HOST_MEMORY_PROBE", "1")
        .output()
        .expect("the probe runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The probe's line follows the test harness's `test ... ` on the same line.
    let line = stdout.lines().find_map(|line| line.find("host memory:").map(|at| &line[at..])).unwrap_or_default();
    println!("{line}");
    assert!(output.status.success(), "the probe failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
}

/// The measurement of [`the_hosts_memory_stays_bounded_under_many_fan_outs`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the_hosts_memory_stays_bounded_under_many_fan_outs, in a process of its own"]
async fn host_memory_probe() {
    if std::env::var_os("ZAPWASM_HOST_MEMORY_PROBE").is_none() {
        return;
    }
    let server = Recorder::start().await;
    let limits = Limits { memory_bytes: 16 << 20, timeout: Duration::from_secs(60), ..Limits::default() };
    let budget = limits.host_memory_bytes + limits.memory_bytes;
    let host = host_builder().policy(Policy { limits, ..Policy::local_development() }).build().unwrap();
    let app = host.load_file(HOSTILE).await.unwrap();
    let fan_out = || {
        let input = json!({"url": format!("{}/stream/{}", server.base_url, 20 << 20), "count": 40});
        Invocation::local("triggers.fan_out.operation.perform", zapwasm_tests::input(input))
    };
    // Warm: the first call compiles nothing (the cache) but fills pools.
    let small = json!({"url": format!("{}/stream/1024", server.base_url), "count": 4});
    let warm = app.invoke(Invocation::local("triggers.fan_out.operation.perform", zapwasm_tests::input(small))).await;
    assert!(warm.result.is_ok(), "{:?}", warm.result);
    let before = resident_bytes();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let calls: Vec<_> = (0..FAN_OUTS)
        .map(|_| {
            let (app, invocation) = (app.clone(), fan_out());
            tokio::spawn(async move { app.invoke(invocation).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    let growth = peak.saturating_sub(before);
    let bound = FAN_OUTS * budget + (64 << 20);
    println!(
        "host memory: {FAN_OUTS} calls each asking for 40 x 20 MiB: resident {} MiB before, {} MiB at the peak, \
         {} MiB more (bound {} MiB; unbounded it would be {} MiB)",
        before >> 20,
        peak >> 20,
        growth >> 20,
        bound >> 20,
        (FAN_OUTS * 40 * (20 << 20)) >> 20,
    );
    for outcome in &outcomes {
        assert!(
            matches!(outcome.result, Err(CallError::Limit { limit: LimitKind::HostMemory, .. })),
            "{:?}",
            outcome.result
        );
    }
    assert!(growth < bound, "the host grew by {} MiB, over {} MiB", growth >> 20, bound >> 20);
}
