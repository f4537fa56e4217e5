//! Every kind of z error crosses the boundary typed.

use serde_json::json;
use zapwasm_host::{CallError, ZError};
use zapwasm_tests::{Recorder, call, fixture, host, input};

async fn raise(kind: &str, url: Option<String>) -> CallError {
    let host = host();
    let app = fixture(&host).await;
    let outcome = call(&app, "triggers.errors.operation.perform", input(json!({"kind": kind, "url": url}))).await;
    outcome.result.expect_err("the fixture raises")
}

fn integration_error(error: CallError) -> ZError {
    match error {
        CallError::Integration { error } => error,
        other => panic!("expected an integration error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_z_error_kind_arrives_typed() {
    type Expected = fn(&ZError) -> bool;
    let cases: [(&str, Expected); 5] = [
        ("general", |e| matches!(e, ZError::General { .. })),
        ("halted", |e| matches!(e, ZError::Halted { .. })),
        ("expired_auth", |e| matches!(e, ZError::ExpiredAuth { .. })),
        ("refresh_auth", |e| matches!(e, ZError::RefreshAuth { .. })),
        ("throttled", |e| matches!(e, ZError::Throttled { delay_seconds: Some(42), .. })),
    ];
    for (kind, expected) in cases {
        let error = integration_error(raise(kind, None).await);
        assert!(expected(&error), "{kind}: got {error:?}");
    }
}

#[tokio::test]
async fn throw_for_status_raises_a_response_error_with_the_exact_message() {
    let server = Recorder::start().await;
    let url = format!("{}/status/404", server.base_url);
    let error = integration_error(raise("response", Some(url.clone())).await);
    let ZError::Response { status, content, url: error_url, message, headers } = error else {
        panic!("expected a response error, got {error:?}");
    };
    assert_eq!(status, 404);
    assert_eq!(error_url, url);
    assert_eq!(content.as_deref(), Some(r#"{"status":404}"#));
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"));
    assert_eq!(
        message,
        format!(
            r#"{{"status":404,"headers":{{"content-type":"application/json","retry-after":null}},"content":"{{\"status\":404}}","request":{{"url":"{url}"}}}}"#
        )
    );
}

#[tokio::test]
async fn a_429_raises_throttled_with_the_retry_after_delay() {
    let server = Recorder::start().await;
    let host = host();
    let app = fixture(&host).await;
    let bundle = input(json!({"url": format!("{}/status/429", server.base_url)}));
    let error = integration_error(call(&app, "triggers.fetch.operation.perform", bundle).await.result.unwrap_err());
    assert_eq!(
        error,
        ZError::Throttled { message: "The server returned 429 (Too Many Requests)".into(), delay_seconds: Some(7) }
    );
}

#[tokio::test]
async fn kinds_are_distinct() {
    let kinds = [
        CallError::from(ZError::general("x")),
        ZError::Halted { message: "x".into() }.into(),
        ZError::ExpiredAuth { message: "x".into() }.into(),
        ZError::RefreshAuth { message: "x".into() }.into(),
        ZError::Throttled { message: "x".into(), delay_seconds: None }.into(),
        CallError::Trap { message: "x".into() },
        CallError::NoSuchMethod { path: "x".into(), available: vec![] },
    ];
    let mut names: Vec<&str> = kinds.iter().map(CallError::kind).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), kinds.len());
}
