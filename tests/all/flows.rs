//! Flows that span calls, through real components: a callback kept by the
//! call that asked for it, claimed once, resumed with the default merge
//! when the create has no performResume, refused when expired, and kept in
//! the store a host is given (so a restarted host resumes it).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use zapwasm_host::{
    Bundle, CallbackStore, IncomingRequest, Invocation, MemoryState, ResumeError, Scope, ScopeKey, Status, Stores,
};
use zapwasm_state_sqlite::SqliteState;
use zapwasm_tests::{FIXTURE, host_builder, input};

#[tokio::test]
async fn a_callback_without_perform_resume_merges_the_payload_over_the_output() {
    let host = host_builder().callback_base_url("https://hooks.example.test/callbacks").build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let scope = Scope::new("fixture", "account-1").subscription("zap-1");
    let outcome =
        app.invoke(Invocation::new("creates.callback.operation.perform", input(json!({"n": 1})), scope.clone())).await;
    assert_eq!(outcome.status, Status::Callback);
    let url = outcome.callback_url.clone().unwrap();
    let id = url.strip_prefix("https://hooks.example.test/callbacks/").expect("the URL is under the base");
    assert_eq!(id.len(), 32, "an unguessable ID: {id}");

    // The store holds it, for this scope only.
    let now = SystemTime::now();
    let kept = host.stores().callbacks.callback(&ScopeKey::of(&scope), id, now).await.unwrap();
    let kept = kept.expect("the pending callback is stored");
    assert_eq!(kept.output_data, json!({"callback_url": url}));
    assert_eq!(kept.input_data, input(json!({"n": 1})).input_data);
    assert!(kept.expires > now + Duration::from_secs(29 * 24 * 3600), "kept 30 days");
    let stranger = Scope::new("fixture", "account-2").subscription("zap-1");
    assert_eq!(host.stores().callbacks.callback(&ScopeKey::of(&stranger), id, now).await.unwrap(), None);

    let pending = host.claim_callback(id).await.unwrap();
    let payload = IncomingRequest::json(&json!({"status": "done", "callback_url": "overridden"}));
    let resumed = app.resume(pending, Default::default(), &payload).await;
    assert_eq!(resumed.result.unwrap().value(), json!({"callback_url": "overridden", "status": "done"}));
    assert!(matches!(host.claim_callback(id).await, Err(ResumeError::AlreadyResumed)));
}

#[tokio::test]
async fn an_expired_callback_is_refused_as_expired() {
    let state = Arc::new(MemoryState::default());
    let host = host_builder().stores(Stores::of(state.clone(), Stores::memory().stash)).build().unwrap();
    let pending = zapwasm_host::PendingCallback {
        id: "expired-callback".into(),
        scope: Scope::new("fixture", "account-1"),
        method: "creates.callback.operation.perform".into(),
        output_data: json!({}),
        input_data: Default::default(),
        expires: SystemTime::now() - Duration::from_secs(1),
    };
    state.put_callback(pending).await.unwrap();
    let error = host.claim_callback("expired-callback").await.expect_err("expired");
    assert!(matches!(error, ResumeError::Expired), "{error:?}");
    assert_eq!(error.http_status(), 410);
}

#[tokio::test]
async fn a_host_restarted_on_the_same_state_file_resumes_the_callback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    let stores = || Stores::of(Arc::new(SqliteState::open(&path).unwrap()), Stores::memory().stash);
    let id = {
        let host = host_builder().stores(stores()).callback_base_url("https://hooks.example.test/cb").build().unwrap();
        let app = host.load_file(FIXTURE).await.unwrap();
        let outcome = app.invoke(Invocation::local("creates.callback.operation.perform", Bundle::default())).await;
        assert_eq!(outcome.status, Status::Callback);
        outcome.callback_url.unwrap().rsplit('/').next().unwrap().to_string()
    };
    let host = host_builder().stores(stores()).build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let pending = host.claim_callback(&id).await.expect("the callback outlived its host");
    let resumed = app.resume(pending, Default::default(), &IncomingRequest::json(&json!({"ok": true}))).await;
    assert_eq!(resumed.result.unwrap().value()["ok"], true);
}
