//! A misbehaving guest ends its own call with a typed error; the host and
//! the next call go on.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use serde_json::{Value, json};
use zapwasm_host::{
    Bundle, CallError, CursorStore, Invocation, Level, LimitKind, Limits, Policy, Scope, ScopeKey, Source, StateError,
    Stores,
};
use zapwasm_tests::{call, fixture, host, host_builder, input};

async fn assert_next_call_works(app: &zapwasm_host::App) {
    let outcome = call(app, "triggers.echo.operation.perform", input(json!({"n": 1}))).await;
    let result = outcome.result.expect("a well-behaved call after a failed one succeeds").value();
    assert_eq!(result[0]["bundle"]["inputData"]["n"], 1);
}

#[tokio::test]
async fn a_panicking_guest_ends_with_a_trap_naming_the_panic() {
    let host = host();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.panic.operation.perform", Bundle::default()).await;
    match outcome.result {
        Err(CallError::Trap { message }) => assert!(message.contains("fixture panic: kaboom"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_next_call_works(&app).await;
}

#[tokio::test]
async fn an_endless_loop_ends_at_the_deadline() {
    let host = host();
    let app = fixture(&host).await;
    let started = Instant::now();
    let outcome = app
        .invoke(
            Invocation::local("triggers.spin.operation.perform", Bundle::default()).timeout(Duration::from_millis(500)),
        )
        .await;
    match outcome.result {
        Err(CallError::Limit { limit: LimitKind::Timeout, value }) => assert_eq!(value, "0.5 s"),
        other => panic!("expected the timeout limit, got {other:?}"),
    }
    // Generous: the point is that it ended, not how fast.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_next_call_works(&app).await;
}

#[tokio::test]
async fn a_loop_does_not_stop_other_calls_on_the_same_host() {
    let host = host();
    let app = fixture(&host).await;
    let spinning = app.invoke(
        Invocation::local("triggers.spin.operation.perform", Bundle::default()).timeout(Duration::from_secs(2)),
    );
    let polite = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        call(&app, "triggers.echo.operation.perform", input(json!({"n": 1}))).await
    };
    let (spun, polite) = tokio::join!(spinning, polite);
    assert!(polite.result.is_ok(), "{:?}", polite.result);
    assert!(matches!(spun.result, Err(CallError::Limit { limit: LimitKind::Timeout, .. })));
}

/// A cursor store that answers after a second: a host import that
/// outlasts the call's deadline.
struct SlowCursors;

impl CursorStore for SlowCursors {
    fn cursor<'a>(&'a self, _scope: &'a ScopeKey) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(None)
        })
    }

    fn set_cursor<'a>(
        &'a self,
        _scope: &'a ScopeKey,
        _value: String,
        _expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A guest waiting in a host import that answers after the deadline does
/// not get to finish and return its result then: the call ends with the
/// timeout without waiting for the import (which answers after a second;
/// the deadline is 100 ms). The refusal of a result that comes late is
/// tested at its seam, `invoke::tests`.
#[tokio::test]
async fn a_call_waiting_past_its_deadline_returns_a_timeout_not_a_late_result() {
    let host = host_builder().stores(Stores::memory().cursors(Arc::new(SlowCursors))).build().unwrap();
    let app = fixture(&host).await;
    let started = Instant::now();
    let invocation = Invocation::new("triggers.cursor.operation.perform", Bundle::default(), Scope::new("test", "a"))
        .timeout(Duration::from_millis(100));
    let outcome = app.invoke(invocation).await;
    match outcome.result {
        Err(CallError::Limit { limit: LimitKind::Timeout, value }) => assert_eq!(value, "0.1 s"),
        other => panic!("expected the timeout limit, got {other:?}"),
    }
    // Not a timing target: ending before the import answered is the point.
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

/// More guests spinning than the host has threads: each moves to the
/// background pool, each ends with the timeout, and a call that waits
/// meanwhile is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_spinning_guests_end_at_their_deadline_and_leave_room_for_others() {
    let host = host();
    let app = fixture(&host).await;
    let spinners: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let spin = Invocation::local("triggers.spin.operation.perform", Bundle::default())
                    .timeout(Duration::from_millis(500));
                app.invoke(spin).await.result
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let polite = call(&app, "triggers.echo.operation.perform", input(json!({"n": 1}))).await;
    assert!(polite.result.is_ok(), "{:?}", polite.result);
    for spinner in spinners {
        let result = spinner.await.unwrap();
        assert!(matches!(result, Err(CallError::Limit { limit: LimitKind::Timeout, .. })), "{result:?}");
    }
    assert_next_call_works(&app).await;
}

#[tokio::test]
async fn memory_growth_past_the_cap_ends_with_the_memory_limit() {
    let policy =
        Policy { limits: Limits { memory_bytes: 32 << 20, ..Limits::default() }, ..Policy::local_development() };
    let host = host_builder().policy(policy).build().unwrap();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.grow.operation.perform", Bundle::default()).await;
    match outcome.result {
        Err(CallError::Limit { limit: LimitKind::Memory, value }) => assert_eq!(value, "32 MiB"),
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert_next_call_works(&app).await;
}

#[tokio::test]
async fn a_result_over_the_limit_is_refused() {
    let host = host();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.big_result.operation.perform", Bundle::default()).await;
    assert!(matches!(outcome.result, Err(CallError::Limit { limit: LimitKind::Result, .. })), "{:?}", outcome.result);
}

#[tokio::test]
async fn output_becomes_log_lines_and_the_environment_is_only_what_was_configured() {
    let host = host();
    let app = fixture(&host).await.with_env([("GREETING", "hello")]);
    let outcome = call(&app, "triggers.logs.operation.perform", Bundle::default()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let has = |level: Level, source: Source, text: &str| {
        outcome.logs.iter().any(|l| l.level == level && l.source == source && l.message == text)
    };
    assert!(has(Level::Info, Source::Stdout, "to stdout"), "{:?}", outcome.logs);
    assert!(has(Level::Error, Source::Stderr, "to stderr"), "{:?}", outcome.logs);
    assert!(has(Level::Info, Source::Console, "info line"), "{:?}", outcome.logs);
    assert!(has(Level::Warn, Source::Console, "warn line"), "{:?}", outcome.logs);

    let echoed = call(&app, "triggers.echo.operation.perform", Bundle::default()).await.result.unwrap().value();
    assert_eq!(echoed[0]["env_greeting"], "hello");
    assert_eq!(echoed[0]["env_path"], Value::Null, "the host's own environment must not leak in");
}

#[tokio::test]
async fn cursors_are_kept_per_scope() {
    let host = host();
    let app = fixture(&host).await;
    let set = |account: &str, value: &str| {
        Invocation::new(
            "triggers.cursor.operation.perform",
            input(json!({"value": value})),
            Scope::new("test", account).subscription("sub-1"),
        )
    };
    let first = app.invoke(set("alice", "a1")).await.result.unwrap().value();
    assert_eq!(first[0]["previous"], Value::Null);
    let second = app.invoke(set("alice", "a2")).await.result.unwrap().value();
    assert_eq!(second[0]["previous"], "a1");
    let other = app.invoke(set("bob", "b1")).await.result.unwrap().value();
    assert_eq!(other[0]["previous"], Value::Null, "another account never sees alice's cursor");
}

#[tokio::test]
async fn an_unknown_method_lists_what_exists() {
    let host = host();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.nope.operation.perform", Bundle::default()).await;
    match outcome.result {
        Err(CallError::NoSuchMethod { path, available }) => {
            assert_eq!(path, "triggers.nope.operation.perform");
            assert!(available.iter().any(|m| m == "triggers.echo.operation.perform"));
        }
        other => panic!("expected no such method, got {other:?}"),
    }
}

#[tokio::test]
async fn files_can_only_be_stashed_in_creates() {
    let host = host();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.stash_outside.operation.perform", Bundle::default()).await;
    let text = format!("{:?}", outcome.result);
    assert!(text.contains("Files can only be stashed within a create or hydration function/method."), "{text}");
}

#[tokio::test]
async fn secrets_never_appear_in_logs_exchanges_or_errors() {
    let server = zapwasm_tests::Recorder::start().await;
    let host = host();
    let app = fixture(&host).await.with_env([("SIGNING_SECRET", "env-secret-42")]).with_secret_env(["SIGNING_SECRET"]);
    let mut bundle =
        input(json!({"url": format!("{}/status/404?key=tok%2Fen-9f8e7d&sig=env-secret-42", server.base_url)}));
    bundle.auth_data.insert("api_key".into(), "tok/en-9f8e7d".into());
    bundle.auth_data.insert("username".into(), "ann".into());
    let outcome = call(&app, "triggers.fetch.operation.perform", bundle).await;
    let error = outcome.result.expect_err("the 404 raises");
    let everything = format!("{error:?} {:?} {:?}", outcome.logs, outcome.http);
    for secret in ["tok/en-9f8e7d", "tok%2Fen-9f8e7d", "env-secret-42"] {
        assert!(!everything.contains(secret), "{secret} leaked: {everything}");
    }
    assert!(everything.contains(":censored:"));
    // The server did receive the real values: censoring is for what the host emits.
    assert!(server.received()[0].uri.contains("tok%2Fen-9f8e7d"));
}
