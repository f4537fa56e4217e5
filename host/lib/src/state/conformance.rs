//! The conformance suite every state backend passes (feature
//! `state-conformance`): expiry, scope isolation with hostile strings,
//! claim-once under concurrency, the dedupe bound, and (for durable
//! backends) durability across reopening.
//!
//! A backend crate runs it from its tests:
//!
//! ```
//! # async fn example() {
//! use std::sync::Arc;
//! use zapwasm_host::{MemoryState, conformance};
//!
//! conformance::run(|| Arc::new(MemoryState::default())).await;
//! # }
//! ```
//!
//! Each check panics with a message naming what the backend got wrong.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{
    CallbackStore, Claim, CursorStore, DEDUPE_KEYS_KEPT, DedupeStore, Delivery, PendingCallback, ScopeKey,
    Subscription, SubscriptionStore,
};
use crate::bundle::Scope;

/// What a backend implements to be checked.
pub trait Backend: CursorStore + CallbackStore + DedupeStore + SubscriptionStore {}

impl<B: CursorStore + CallbackStore + DedupeStore + SubscriptionStore> Backend for B {}

/// Every check that holds for every backend; `fresh` opens an empty one.
pub async fn run<B: Backend>(fresh: impl Fn() -> Arc<B>) {
    cursors_expire_and_stay_in_their_scope(&*fresh()).await;
    callbacks_are_claimed_once(fresh()).await;
    callbacks_expire_and_stay_in_their_scope(&*fresh()).await;
    dedupe_marks_new_keys_once_and_is_bounded(&*fresh()).await;
    subscriptions_belong_to_their_account(&*fresh()).await;
}

/// Scopes whose parts are chosen to collide under a careless encoding:
/// separators inside parts, quotes, `null` as text, empty parts, unicode.
pub fn hostile_scopes() -> Vec<Scope> {
    let scope = |i: &str, a: &str, s: Option<&str>| Scope {
        integration: i.into(),
        account: a.into(),
        subscription: s.map(Into::into),
    };
    vec![
        scope("app", "a", None),
        scope("app", "a", Some("")),
        scope("app", "a", Some("null")),
        scope("app", "a:b", None),
        scope("app:a", "b", None),
        scope("app", "a", Some("b")),
        scope("app\",\"a", "b", None),
        scope("app", "a\",\"b", None),
        scope("app", "", Some("a")),
        scope("", "app", Some("a")),
        scope("app", "a/../b", None),
        scope("app", "a\0b", None),
        scope("app", "é", None),
        scope("app", "e\u{301}", None),
        scope("APP", "a", None),
    ]
}

fn expect<T>(result: Result<T, super::StateError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// A cursor is read back in its own scope only, and not after it expired.
pub async fn cursors_expire_and_stay_in_their_scope<B: Backend>(backend: &B) {
    let now = SystemTime::now();
    let later = now + Duration::from_secs(3600);
    let scopes = hostile_scopes();
    for (i, scope) in scopes.iter().enumerate() {
        expect(backend.set_cursor(&ScopeKey::of(scope), format!("cursor-{i}"), later).await, "set a cursor");
    }
    for (i, scope) in scopes.iter().enumerate() {
        let got = expect(backend.cursor(&ScopeKey::of(scope)).await, "get a cursor");
        assert_eq!(got, Some(format!("cursor-{i}")), "the cursor of {scope:?} leaked into or from another scope");
    }
    let key = ScopeKey::of(&scopes[0]);
    expect(backend.set_cursor(&key, "replaced".into(), later).await, "replace a cursor");
    assert_eq!(expect(backend.cursor(&key).await, "get").as_deref(), Some("replaced"));
    expect(backend.set_cursor(&key, "gone".into(), now - Duration::from_secs(1)).await, "set an expired cursor");
    assert_eq!(expect(backend.cursor(&key).await, "get"), None, "an expired cursor was returned");
}

/// A pending callback expiring at `expires`, rounded down to the
/// millisecond: backends keep expiries to the millisecond at least.
fn pending(id: &str, scope: &Scope, expires: SystemTime) -> PendingCallback {
    let since_epoch = expires.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let expires = std::time::UNIX_EPOCH + Duration::from_millis(since_epoch.as_millis() as u64);
    PendingCallback {
        id: id.into(),
        scope: scope.clone(),
        method: "creates.export.operation.perform".into(),
        output_data: json!({"id": 7, "status": "started", "text": "é\n\"quoted\""}),
        input_data: json!({"contact_id": 2}).as_object().cloned().unwrap_or_default(),
        expires,
    }
}

/// Of many concurrent claims of one callback exactly one wins; later
/// claims see it claimed; what was stored comes back whole.
pub async fn callbacks_are_claimed_once<B: Backend>(backend: Arc<B>) {
    let scope = Scope::new("app", "account").subscription("zap");
    let callback = pending("cb-race", &scope, SystemTime::now() + Duration::from_secs(600));
    expect(backend.put_callback(callback.clone()).await, "put a callback");
    let claims = (0..16).map(|_| {
        let backend = backend.clone();
        tokio::spawn(async move { backend.claim_callback("cb-race", SystemTime::now()).await })
    });
    let mut won = Vec::new();
    for joined in futures::future::join_all(claims).await {
        match joined.expect("a claim task panicked") {
            Ok(Claim::Claimed(found)) => won.push(found),
            Ok(Claim::AlreadyClaimed) => {}
            Ok(other) => panic!("a concurrent claim of a pending callback got {other:?}"),
            Err(e) => panic!("claim failed: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "a pending callback must be claimed exactly once, was claimed {} times", won.len());
    assert_eq!(won[0], callback, "the claimed callback is not what was stored");
    let again = expect(backend.claim_callback("cb-race", SystemTime::now()).await, "claim again");
    assert_eq!(again, Claim::AlreadyClaimed);
}

/// An expired callback is refused as expired, an unknown one as unknown,
/// and a callback is found only in its own scope.
pub async fn callbacks_expire_and_stay_in_their_scope<B: Backend>(backend: &B) {
    let now = SystemTime::now();
    let scopes = hostile_scopes();
    for (i, scope) in scopes.iter().enumerate() {
        expect(backend.put_callback(pending(&format!("cb-{i}"), scope, now + Duration::from_secs(600))).await, "put");
    }
    for (i, scope) in scopes.iter().enumerate() {
        for (j, other) in scopes.iter().enumerate() {
            let found = expect(backend.callback(&ScopeKey::of(other), &format!("cb-{i}"), now).await, "get");
            match (i == j, found) {
                (true, Some(found)) => assert_eq!(found.scope, *scope),
                (true, None) => panic!("the callback of {scope:?} is not found in its own scope"),
                (false, Some(_)) => panic!("the callback of {scope:?} is visible to {other:?}"),
                (false, None) => {}
            }
        }
    }
    expect(
        backend.put_callback(pending("cb-old", &scopes[0], now - Duration::from_secs(1))).await,
        "put an expired callback",
    );
    assert_eq!(expect(backend.claim_callback("cb-old", now).await, "claim"), Claim::Expired);
    assert_eq!(expect(backend.claim_callback("no-such-callback", now).await, "claim"), Claim::Unknown);
    let gone = expect(backend.callback(&ScopeKey::of(&scopes[0]), "cb-old", now).await, "get");
    assert_eq!(gone, None, "an expired callback was returned");
}

/// New keys are new once (within one call and across calls), per scope;
/// the set keeps the most recently seen [`DEDUPE_KEYS_KEPT`] keys.
pub async fn dedupe_marks_new_keys_once_and_is_bounded<B: Backend>(backend: &B) {
    let keys = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let scopes = hostile_scopes();
    for scope in &scopes {
        let key = ScopeKey::of(scope);
        let first = expect(backend.mark_seen(&key, &keys(&["1", "2", "2", "3"])).await, "mark");
        assert_eq!(first, [true, true, false, true], "first poll of {scope:?}");
        let second = expect(backend.mark_seen(&key, &keys(&["4", "3", "1"])).await, "mark");
        assert_eq!(second, [true, false, false], "second poll of {scope:?}: seen keys leaked between scopes?");
    }
    let key = ScopeKey::of(&scopes[0]);
    expect(backend.clear_seen(&key).await, "clear");
    assert_eq!(expect(backend.mark_seen(&key, &keys(&["1"])).await, "mark"), [true], "clear forgot nothing");

    // Reading whether keys were seen changes nothing.
    assert_eq!(expect(backend.seen(&key, &keys(&["1", "2"])).await, "seen"), [true, false], "seen after clear");
    assert_eq!(expect(backend.seen(&key, &keys(&["2"])).await, "seen"), [false], "seen marked a key");

    // Forgetting one key of a scope leaves the others, and other scopes.
    let other = ScopeKey::of(&scopes[1]);
    expect(backend.forget_seen(&key, &keys(&["1", "never-seen"])).await, "forget");
    assert_eq!(expect(backend.mark_seen(&key, &keys(&["1"])).await, "mark"), [true], "forget kept the key");
    assert_eq!(expect(backend.mark_seen(&other, &keys(&["1"])).await, "mark"), [false], "forget reached another scope");
    let deliveries = ScopeKey::deliveries(&scopes[1]);
    assert_eq!(
        expect(backend.mark_seen(&deliveries, &keys(&["1"])).await, "mark"),
        [true],
        "a subscription's delivery IDs share a set with its seen items"
    );

    // The bound: fill past it; the oldest key is forgotten, the newest kept.
    let bounded = ScopeKey::of(&Scope::new("app", "bounded").subscription("zap"));
    let many: Vec<String> = (0..=DEDUPE_KEYS_KEPT).map(|i| format!("k{i}")).collect();
    let marked = expect(backend.mark_seen(&bounded, &many).await, "mark many");
    assert!(marked.iter().all(|new| *new), "every key of a first poll is new");
    let newest = [many[DEDUPE_KEYS_KEPT].clone()];
    assert_eq!(expect(backend.mark_seen(&bounded, &newest).await, "mark"), [false], "the newest key was forgotten");
    let oldest = [many[0].clone()];
    assert_eq!(expect(backend.mark_seen(&bounded, &oldest).await, "mark"), [true], "the set grew past its bound");
}

fn subscription(id: &str, scope: &Scope, delivery: Delivery) -> Subscription {
    Subscription {
        id: id.into(),
        scope: scope.clone().subscription(id),
        trigger: "new_contact".into(),
        delivery,
        input_data: json!({"list": "vip"}).as_object().cloned().unwrap_or_default(),
        subscribe_data: Some(json!({"id": 42})),
        target_url: Some(format!("https://hooks.example.test/hooks/{id}")),
    }
}

/// A subscription is found by its ID, listed and removed only by its own
/// account.
pub async fn subscriptions_belong_to_their_account<B: Backend>(backend: &B) {
    let scopes = hostile_scopes();
    for (i, scope) in scopes.iter().enumerate() {
        let delivery = if i % 2 == 0 { Delivery::Hook } else { Delivery::Polling { interval_seconds: 60 } };
        expect(
            backend.put_subscription(subscription(&format!("sub-{i}"), scope, delivery)).await,
            "put a subscription",
        );
    }
    for (i, scope) in scopes.iter().enumerate() {
        let id = format!("sub-{i}");
        let found = expect(backend.subscription(&id).await, "get").expect("a stored subscription");
        assert_eq!(found, subscription(&id, scope, found.delivery), "a subscription came back changed");
        let listed = expect(backend.subscriptions(scope).await, "list");
        let same_account: Vec<&Scope> =
            scopes.iter().filter(|s| s.integration == scope.integration && s.account == scope.account).collect();
        assert_eq!(listed.len(), same_account.len(), "list of {scope:?} shows another account's subscriptions");
    }
    let stranger = Scope::new("app", "someone-else");
    assert!(
        !expect(backend.remove_subscription(&stranger, "sub-0").await, "remove"),
        "another account removed a subscription"
    );
    assert!(expect(backend.subscription("sub-0").await, "get").is_some());
    assert!(expect(backend.remove_subscription(&scopes[0], "sub-0").await, "remove"), "the owner could not remove it");
    assert!(expect(backend.subscription("sub-0").await, "get").is_none(), "a removed subscription remains");
    assert!(!expect(backend.remove_subscription(&scopes[0], "sub-0").await, "remove"), "removed twice");
}

/// What a durable backend keeps across closing and reopening: `open`
/// opens the same storage each time it is called.
pub async fn survives_reopen<B: Backend>(open: impl Fn() -> Arc<B>) {
    let scope = Scope::new("app", "durable").subscription("zap");
    let key = ScopeKey::of(&scope);
    let later = SystemTime::now() + Duration::from_secs(3600);
    {
        let backend = open();
        expect(backend.set_cursor(&key, "cursor".into(), later).await, "set");
        expect(backend.put_callback(pending("cb-durable", &scope, later)).await, "put");
        expect(backend.put_callback(pending("cb-claimed", &scope, later)).await, "put");
        assert!(matches!(
            expect(backend.claim_callback("cb-claimed", SystemTime::now()).await, "claim"),
            Claim::Claimed(_)
        ));
        expect(backend.mark_seen(&key, &["a".to_string()]).await, "mark");
        expect(backend.put_subscription(subscription("sub-durable", &scope, Delivery::Hook)).await, "put");
    }
    let backend = open();
    assert_eq!(expect(backend.cursor(&key).await, "get").as_deref(), Some("cursor"), "cursor lost");
    assert!(
        matches!(expect(backend.claim_callback("cb-durable", SystemTime::now()).await, "claim"), Claim::Claimed(_)),
        "a pending callback was lost"
    );
    assert_eq!(expect(backend.claim_callback("cb-claimed", SystemTime::now()).await, "claim"), Claim::AlreadyClaimed);
    assert_eq!(expect(backend.mark_seen(&key, &["a".to_string()]).await, "mark"), [false], "the dedupe set was lost");
    assert!(expect(backend.subscription("sub-durable").await, "get").is_some(), "subscription lost");
}
