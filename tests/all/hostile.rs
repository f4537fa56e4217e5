//! The hostile-guest suite: a guest built to attack the sandbox tries every
//! attack at once, next to a well-behaved call; each attack must end with
//! the expected typed error (or reach nothing), and the host keeps serving.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use zapwasm_host::{App, Bundle, CallError, Host, Invocation, LimitKind, Limits, LoadError, Policy, ZError};
use zapwasm_tests::{HOSTILE, MapResolver, Recorder, host_builder, input};

/// What an attack must end with.
enum Held {
    Limit(LimitKind),
    Trap,
    /// An integration error whose message names this.
    Denied(&'static str),
    /// The call succeeds and reached nothing: these fields are empty.
    ReachedNothing(&'static str),
}

struct Attack {
    name: String,
    method: &'static str,
    input: Value,
    held: Held,
    /// Run on the host that allows loopback (for attacks that need a first hop to a local server).
    on_local_host: bool,
}

fn attack(name: &str, method: &'static str, input: Value, held: Held) -> Attack {
    Attack { name: name.into(), method, input, held, on_local_host: false }
}

fn attacks(recorder: &Recorder) -> Vec<Attack> {
    let port = recorder.base_url.rsplit(':').next().unwrap_or("80").to_string();
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
    let ssrf =
        |name: &str, url: String, denied: &'static str| attack(name, "ssrf", json!({"url": url}), Held::Denied(denied));
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
        list.push(ssrf(&format!("SSRF to an IP literal ({notation})"), format!("http://{host}:{port}/"), "loopback"));
    }
    list.push(ssrf(
        "SSRF to cloud metadata 169.254.169.254",
        "http://169.254.169.254/latest/meta-data/".into(),
        "169.254",
    ));
    list.push(ssrf("SSRF to a private network", "http://10.0.0.1/".into(), "10.0.0.0/8"));
    list.push(ssrf("SSRF to IPv6 unique-local", "http://[fd00::1]/".into(), "fc00::/7"));
    list.push(ssrf("SSRF to IPv6 link-local", "http://[fe80::1]/".into(), "fe80::/10"));
    list.push(ssrf(
        "SSRF through a name resolving to 127.0.0.1",
        format!("http://internal.attacker.test:{port}/"),
        "loopback",
    ));
    list.push(ssrf("a scheme other than http", "file:///etc/passwd".into(), "scheme"));
    let metadata = "http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F";
    list.push(Attack {
        on_local_host: true,
        ..ssrf(
            "SSRF through an allowed host redirecting to a private address",
            format!("{}/redirect-to?url={metadata}", recorder.base_url),
            "169.254",
        )
    });
    for header in ["Host", "Connection", "Proxy-Authorization", "Transfer-Encoding"] {
        list.push(Attack {
            on_local_host: true,
            ..attack(
                &format!("the forbidden header {header}"),
                "ssrf",
                json!({"url": recorder.base_url, "headers": {header: "evil.test"}}),
                Held::Denied("may not be sent by an integration"),
            )
        });
    }
    list
}

fn strict_host() -> Host {
    let limits = Limits { timeout: Duration::from_secs(10), memory_bytes: 64 << 20, ..Limits::default() };
    host_builder()
        // Plain http is allowed so that the address checks, not the scheme
        // rule, are what each SSRF attempt meets.
        .policy(Policy { limits, allow_http: true, ..Policy::default() })
        .resolver(Arc::new(MapResolver(vec![("internal.attacker.test".into(), [127, 0, 0, 1].into())])))
        .build()
        .unwrap()
}

fn local_host() -> Host {
    let limits = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
    host_builder().policy(Policy { limits, ..Policy::local_development() }).build().unwrap()
}

fn check(attack: &Attack, result: &Result<Value, CallError>) -> Result<(), String> {
    let ok = match (&attack.held, result) {
        (Held::Limit(kind), Err(CallError::Limit { limit, .. })) => limit == kind,
        (Held::Trap, Err(CallError::Trap { .. })) => true,
        (Held::Denied(text), Err(CallError::Integration { error: ZError::General { message } })) => {
            message.contains(text)
        }
        (Held::ReachedNothing(field), Ok(value)) => value[0][field].as_array().is_some_and(Vec::is_empty),
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("{}: not held, got {result:?}", attack.name)) }
}

async fn run(app: &App, attack: &Attack) -> Result<Value, CallError> {
    let method = format!("triggers.{}.operation.perform", attack.method);
    app.invoke(Invocation::local(method, input(attack.input.clone()))).await.result.map(|json| json.value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_held_while_a_polite_call_completes() {
    let recorder = Recorder::start().await;
    let strict = strict_host().load_file(HOSTILE).await.unwrap();
    let local = local_host().load_file(HOSTILE).await.unwrap();
    let attacks = attacks(&recorder);

    let polite = {
        let app = strict.clone();
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
    let runs = attacks.iter().map(|attack| {
        let app = if attack.on_local_host { &local } else { &strict };
        async move { check(attack, &run(app, attack).await) }
    });
    let results = futures::future::join_all(runs).await;
    assert_eq!(polite.await.unwrap(), 20, "the well-behaved calls all completed");

    // Malformed and foreign components are attacks on the loader.
    let strict_host = strict_host();
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

    // The host still serves after all of it.
    let after = strict.invoke(Invocation::local("triggers.polite.operation.perform", Bundle::default())).await;
    assert!(after.result.is_ok());

    let all: Vec<Result<(), String>> = results.into_iter().chain(load_results).collect();
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
    let app = strict_host().load_file(HOSTILE).await.unwrap().with_env([("ONLY_THIS", "1")]);
    let outcome = app.invoke(Invocation::local("triggers.read_env.operation.perform", Bundle::default())).await;
    let value = outcome.result.unwrap().value();
    assert_eq!(value[0]["vars"], json!(["ONLY_THIS"]));
    assert_eq!(value[0]["args"], json!([]));
}
