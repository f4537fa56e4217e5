//! Flows that span calls, through real components and the example CRM API
//! on 127.0.0.1: a callback kept by the call that asked for it, claimed
//! once, resumed with the default merge when the create has no
//! performResume, refused when expired, and kept in the store a host is
//! given (so a restarted host resumes it); REST hooks subscribed, delivered
//! by the API and unsubscribed; polling with dedupe; buffered creates.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use zapwasm_host::{
    Bundle, CallbackStore, FlowError, IncomingRequest, Invocation, MemoryState, ResumeError, Scope, ScopeKey, Status,
    Stores,
};
use zapwasm_state_sqlite::SqliteState;
use zapwasm_tests::{CRM, FIXTURE, crm_api, host_builder, input};

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

/// What a platform's receiver does with hook deliveries: look the
/// subscription up by the last segment of the URL, run the delivery, keep
/// the items. Answers 410 for an unknown subscription, as senders expect.
#[derive(Clone)]
struct HookReceiver {
    host: zapwasm_host::Host,
    app: zapwasm_host::App,
    events: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    statuses: Arc<std::sync::Mutex<Vec<u16>>>,
}

impl HookReceiver {
    /// Bind 127.0.0.1, build the host with its hook base URL, load the
    /// CRM against `api`, and serve.
    async fn start(api: &crm_api::RunningApi) -> HookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/hooks", listener.local_addr().unwrap());
        let host = host_builder().hook_base_url(base).build().unwrap();
        let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
        let receiver = HookReceiver { host, app, events: Arc::default(), statuses: Arc::default() };
        let router = axum::Router::new()
            .route("/hooks/{id}", axum::routing::post(HookReceiver::deliver))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    async fn deliver(
        axum::extract::State(receiver): axum::extract::State<HookReceiver>,
        axum::extract::Path(id): axum::extract::Path<String>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let request = IncomingRequest {
            method: "POST".into(),
            query: String::new(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string())).collect(),
            body: body.to_vec(),
        };
        let delivered = match receiver.host.subscription(&id).await {
            Ok(subscription) => receiver.app.deliver_hook(&subscription, api_key(), &request).await,
            Err(error) => Err(error),
        };
        let status = match delivered {
            Ok(delivered) => {
                receiver.events.lock().unwrap().extend(delivered.items);
                200
            }
            Err(error) => error.http_status(),
        };
        receiver.statuses.lock().unwrap().push(status);
        axum::http::StatusCode::from_u16(status).unwrap()
    }

    async fn wait_for_events(&self, count: usize) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            if self.events.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.events.lock().unwrap().clone()
    }
}

fn api_key() -> serde_json::Map<String, serde_json::Value> {
    json!({"api_key": "demo-key"}).as_object().cloned().unwrap()
}

/// A contact created in the example API, as a user would.
async fn create_contact(api: &crm_api::RunningApi, email: &str, company: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}/contacts", api.base_url))
        .header("X-API-Key", "demo-key")
        .header("Content-Type", "application/json")
        .body(json!({"first_name": "New", "last_name": "Contact", "email": email, "company": company}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_hook_trigger_subscribes_receives_from_the_api_and_unsubscribes() {
    let api = crm_api().await;
    let receiver = HookReceiver::start(&api).await;
    let account = Scope::new("crm", "account-1");
    let subscribed = receiver
        .app
        .subscribe_hook("contact_created_hook", &account, Default::default(), api_key())
        .await
        .expect("subscribed");
    let subscription = subscribed.subscription;
    let target = subscription.target_url.clone().unwrap();
    assert!(target.ends_with(&format!("/hooks/{}", subscription.id)), "{target}");
    assert_eq!(subscription.id.len(), 32, "an unguessable ID");
    let hooks = api.state().hooks();
    assert_eq!(hooks.len(), 1, "performSubscribe registered the target URL with the API");
    assert_eq!(hooks[0].url, target);
    assert_eq!(subscription.subscribe_data.as_ref().unwrap()["id"], json!(hooks[0].id));
    let stored = receiver.host.subscription(&subscription.id).await.expect("stored");
    assert_eq!(stored, subscription);

    // The API posts each new contact to the hook; the receiver runs perform.
    let ada = create_contact(&api, "ada@hooks.test", "Analytical").await;
    let grace = create_contact(&api, "grace@hooks.test", "Navy").await;
    let events = receiver.wait_for_events(2).await;
    let emails: Vec<&str> = events.iter().filter_map(|e| e["email"].as_str()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(emails.contains(&"ada@hooks.test") && emails.contains(&"grace@hooks.test"), "{emails:?}");
    assert!(events.contains(&ada) && events.contains(&grace));

    // Samples come from performList.
    let (samples, _) = receiver
        .app
        .hook_samples("contact_created_hook", &account, Default::default(), api_key())
        .await
        .expect("samples");
    assert!(!samples.is_empty());

    // Another account cannot turn it off; its own account can.
    let stranger = Scope::new("crm", "account-2");
    let refused = receiver.app.unsubscribe(&stranger, &subscription.id, api_key()).await.expect_err("not theirs");
    assert!(matches!(refused, FlowError::UnknownSubscription), "{refused:?}");
    receiver.app.unsubscribe(&account, &subscription.id, api_key()).await.expect("unsubscribed");
    assert!(api.state().hooks().is_empty(), "performUnsubscribe deleted the API's hook");
    let gone = receiver.host.subscription(&subscription.id).await.expect_err("removed");
    assert_eq!(gone.http_status(), 410);

    // A delivery to the removed subscription gets 410.
    let response = reqwest::Client::new()
        .post(&target)
        .header("Content-Type", "application/json")
        .body(json!({"contact": ada}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
}

#[tokio::test]
async fn a_hook_delivery_runs_once_per_item_and_once_per_delivery_id() {
    let api = crm_api().await;
    let receiver = HookReceiver::start(&api).await;
    let account = Scope::new("crm", "account-1");
    let subscription = receiver
        .app
        .subscribe_hook("contact_created_hook", &account, Default::default(), api_key())
        .await
        .expect("subscribed")
        .subscription;
    let contact = |id: u64| json!({"event": "contact.created", "contact": {"id": id, "email": format!("{id}@x.test")}});
    let mut batch = IncomingRequest::json(&json!([contact(1), contact(2), contact(3)]));
    batch.headers.push(("webhook-id".into(), "msg_1".into()));
    let first = receiver.app.deliver_hook(&subscription, api_key(), &batch).await.expect("delivered");
    assert_eq!(first.outcomes.len(), 3, "perform ran once per element of the array");
    let ids: Vec<&serde_json::Value> = first.items.iter().map(|item| &item["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(first.outcomes[0].result.as_ref().unwrap().value(), json!([contact(1)["contact"]]));

    let again = receiver.app.deliver_hook(&subscription, api_key(), &batch).await.expect("delivered");
    assert!(again.duplicate && again.items.is_empty() && again.outcomes.is_empty(), "a retried delivery ran again");

    // Without a delivery ID every delivery runs.
    let plain = IncomingRequest::json(&contact(4));
    for _ in 0..2 {
        let delivered = receiver.app.deliver_hook(&subscription, api_key(), &plain).await.expect("delivered");
        assert_eq!(delivered.items.len(), 1);
    }
    let raw = receiver.app.deliver_hook(&subscription, api_key(), &plain).await.unwrap().outcomes;
    assert!(raw[0].result.is_ok());
}

/// The `id` of each item.
fn ids(items: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    items.iter().map(|item| &item["id"]).collect()
}

#[tokio::test]
async fn a_polling_trigger_seeds_then_emits_only_new_contacts_in_order() {
    let api = crm_api().await;
    let host = host_builder().build().unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let account = Scope::new("crm", "account-1");
    let subscribed = app
        .start_polling("new_contact", &account, Default::default(), api_key(), Duration::from_secs(60))
        .await
        .expect("started");
    let subscription = subscribed.subscription;
    assert!(!subscribed.outcome.result.unwrap().value().as_array().unwrap().is_empty(), "the seed saw contacts");

    let nothing = app.poll(&subscription, api_key()).await.expect("polled");
    assert!(nothing.new_items.is_empty(), "the seeding poll's items came again: {:?}", nothing.new_items);
    app.acknowledge_poll(&subscription, &nothing).await.unwrap();

    let first = create_contact(&api, "first@poll.test", "A").await;
    let second = create_contact(&api, "second@poll.test", "B").await;
    let polled = app.poll(&subscription, api_key()).await.expect("polled");
    assert_eq!(ids(&polled.new_items), [&second["id"], &first["id"]], "newest first, as the API returned them");
    // Not acknowledged: the next poll emits them again (at least once).
    let repeated = app.poll(&subscription, api_key()).await.expect("polled");
    assert_eq!(repeated.new_items.len(), 2);
    app.acknowledge_poll(&subscription, &repeated).await.unwrap();
    let after = app.poll(&subscription, api_key()).await.expect("polled");
    assert!(after.new_items.is_empty(), "{:?}", after.new_items);

    // A second account's subscription has its own seen set.
    let other = app
        .start_polling(
            "new_contact",
            &Scope::new("crm", "account-2"),
            Default::default(),
            api_key(),
            Duration::from_secs(60),
        )
        .await
        .expect("started");
    let third = create_contact(&api, "third@poll.test", "C").await;
    for subscription in [&subscription, &other.subscription] {
        let polled = app.poll(subscription, api_key()).await.expect("polled");
        assert_eq!(ids(&polled.new_items), [&third["id"]]);
    }

    // Turned off, the subscription and its seen set are gone.
    assert!(app.unsubscribe(&account, &subscription.id, api_key()).await.unwrap().is_none());
    assert!(matches!(host.subscription(&subscription.id).await, Err(FlowError::UnknownSubscription)));
    let hook =
        app.start_polling("contact_created_hook", &account, Default::default(), api_key(), Duration::from_secs(60));
    assert!(matches!(hook.await, Err(FlowError::NotSupported { .. })), "a hook trigger is not polled");
}

#[tokio::test]
async fn a_buffered_create_groups_runs_and_maps_each_answer_back() {
    let api = crm_api().await;
    let host = host_builder().build().unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let run = |id: &str, email: &str, company: &str| zapwasm_host::BufferedRun {
        id: id.into(),
        input_data: json!({"email": email, "company": company, "first_name": id}).as_object().cloned().unwrap(),
    };
    let page = reqwest::Client::new()
        .get(format!("{}/contacts?limit=1", api.base_url))
        .header("X-API-Key", "demo-key")
        .send()
        .await
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&page.bytes().await.unwrap()).unwrap();
    let existing = page["contacts"][0]["email"].as_str().unwrap().to_string();
    let runs = vec![
        run("r1", "one@buffer.test", "Acme"),
        run("r2", "two@buffer.test", "Globex"),
        run("r3", &existing, "Acme"),
        run("r4", "four@buffer.test", "Acme"),
    ];
    let buffered =
        app.perform_buffer("create_contact", &Scope::new("crm", "account-1"), api_key(), runs).await.expect("ran");
    assert_eq!(buffered.outcomes.len(), 2, "one performBuffer call per company");
    let ids: Vec<&str> = buffered.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2", "r3", "r4"], "results in the order of the runs");
    assert_eq!(buffered.results[0].result.as_ref().unwrap()["email"], "one@buffer.test");
    assert_eq!(buffered.results[1].result.as_ref().unwrap()["company"], "Globex");
    let duplicate = buffered.results[2].result.as_ref().expect_err("a duplicate email fails its own run");
    assert!(duplicate.to_string().contains("already exists"), "{duplicate}");
    assert_eq!(buffered.results[3].result.as_ref().unwrap()["email"], "four@buffer.test");
    let recorded = api.state().requests_seen();
    let batches: Vec<_> = recorded.iter().filter(|r| r.path == "/contacts/batch").collect();
    assert_eq!(batches.len(), 2);

    let twice = vec![run("same", "a@b.test", "A"), run("same", "c@d.test", "A")];
    let refused = app.perform_buffer("create_contact", &Scope::new("crm", "a"), api_key(), twice).await;
    assert!(matches!(refused, Err(FlowError::NotSupported { .. })));
    let unbuffered = app.perform_buffer("export_contact", &Scope::new("crm", "a"), api_key(), vec![]).await;
    assert!(matches!(unbuffered, Err(FlowError::NotSupported { .. })));
}

/// Set for [`callback_host_process`] in a child process: the state file, the
/// API's base URL and the callback base URL, separated by newlines.
const CALLBACK_CHILD: &str = "ZAPWASM_TEST_CALLBACK_CHILD";

/// Run by [`a_callback_is_resumed_after_its_host_was_killed`] as a child
/// process: starts the export on a host with its state in a SQLite file,
/// prints the callback URL, and waits to be killed.
#[tokio::test]
#[ignore = "a child process of a_callback_is_resumed_after_its_host_was_killed"]
async fn callback_host_process() {
    let Ok(spec) = std::env::var(CALLBACK_CHILD) else { return };
    let [path, api, callbacks] = spec.lines().collect::<Vec<_>>()[..] else { panic!("bad {CALLBACK_CHILD}") };
    let stores = Stores::of(Arc::new(SqliteState::open(path).unwrap()), Stores::memory().stash);
    let host = host_builder().stores(stores).callback_base_url(callbacks).build().unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api)]);
    let mut bundle = input(json!({"contact_id": 3}));
    bundle.auth_data = api_key();
    let outcome =
        app.invoke(Invocation::new("creates.export_contact.operation.perform", bundle, Scope::new("crm", "a"))).await;
    assert_eq!(outcome.status, Status::Callback, "{:?}", outcome.result);
    println!("callback {}", outcome.callback_url.unwrap());
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_callback_is_resumed_after_its_host_was_killed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    let api = crm_api().await;
    let callbacks = zapwasm_tests::Recorder::start().await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "flows::callback_host_process", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(CALLBACK_CHILD, format!("{}\n{}\n{}/callbacks", path.display(), api.base_url, callbacks.base_url))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read on the blocking pool: this runtime serves the API the child
    // calls. The test harness may print the test's name before the line.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let url = tokio::task::spawn_blocking(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.split_once("callback ").map(|(_, url)| url.trim().to_string()))
    })
    .await
    .unwrap()
    .expect("the child started the export");
    child.kill().expect("SIGKILL the host process");
    child.wait().unwrap();

    // The API calls back while no host runs; the receiver kept the request.
    let mut posted = None;
    for _ in 0..200 {
        posted = callbacks.received().into_iter().find(|r| r.method == "POST");
        if posted.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let posted = posted.expect("the API called back");
    assert_eq!(format!("{}{}", callbacks.base_url, posted.uri), url);

    let stores = Stores::of(Arc::new(SqliteState::open(&path).unwrap()), Stores::memory().stash);
    let host = host_builder().stores(stores).build().unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let pending = host.claim_callback(url.rsplit('/').next().unwrap()).await.expect("the callback outlived its host");
    assert_eq!(pending.scope, Scope::new("crm", "a"));
    let request =
        IncomingRequest { method: "POST".into(), query: String::new(), headers: posted.headers, body: posted.body };
    let resumed = app.resume(pending, api_key(), &request).await.result.expect("resumed").value();
    assert_eq!((resumed["resumed"].clone(), resumed["status"].clone()), (json!(true), json!("done")));
    assert_eq!(resumed["contact_id"], 3);
}

#[tokio::test]
async fn tenants_with_hostile_names_never_see_each_others_state() {
    let host = host_builder().callback_base_url("https://hooks.example.test/callbacks").build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    // Accounts chosen to collide under a careless key encoding.
    let tenants: Vec<Scope> = zapwasm_host::conformance::hostile_scopes()
        .into_iter()
        .map(|scope| Scope::new(scope.integration, scope.account))
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    let mut subscriptions = Vec::new();
    let mut callbacks = Vec::new();
    for (i, tenant) in tenants.iter().enumerate() {
        let input = json!({"value": format!("cursor-of-{i}")}).as_object().cloned().unwrap();
        let started = app.start_polling("cursor", tenant, input, Default::default(), Duration::from_secs(60));
        subscriptions.push(started.await.expect("started").subscription);
        let outcome =
            app.invoke(Invocation::new("creates.callback.operation.perform", Bundle::default(), tenant.clone()));
        let url = outcome.await.callback_url.expect("a callback URL");
        callbacks.push(url.rsplit('/').next().unwrap().to_string());
    }
    let now = SystemTime::now();
    for (i, tenant) in tenants.iter().enumerate() {
        // Its poll reads its own cursor, and its own seen set (the item was seen at the seed).
        let polled = app.poll(&subscriptions[i], Default::default()).await.expect("polled");
        assert_eq!(polled.outcome.result.unwrap().value()[0]["previous"], format!("cursor-of-{i}"), "{tenant:?}");
        assert!(polled.new_items.is_empty(), "{tenant:?} saw another's seen set");
        let listed = host.stores().subscriptions.subscriptions(tenant).await.unwrap();
        assert_eq!(listed.iter().map(|s| &s.id).collect::<Vec<_>>(), [&subscriptions[i].id], "{tenant:?}");
        for (j, other) in tenants.iter().enumerate().filter(|(j, _)| *j != i) {
            let theirs = host.stores().callbacks.callback(&ScopeKey::of(other), &callbacks[i], now).await.unwrap();
            assert_eq!(theirs, None, "{other:?} sees the callback of {tenant:?}");
            let refused = app.unsubscribe(tenant, &subscriptions[j].id, Default::default()).await;
            assert!(
                matches!(refused, Err(FlowError::UnknownSubscription)),
                "{tenant:?} removed {other:?}'s subscription"
            );
        }
        let own = host.stores().callbacks.callback(&ScopeKey::of(tenant), &callbacks[i], now).await.unwrap();
        assert_eq!(own.expect("its own callback").scope, *tenant);
    }
}
