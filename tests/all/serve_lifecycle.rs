//! `zapwasm serve` over its lifetime, as processes on 127.0.0.1: apps
//! loaded through the API (by path and uploaded) served again after a
//! SIGKILL, one process per state directory, callbacks whose app or
//! connection went away, retention pruning what is finished (never what
//! is queued), and dehydrated values hydrated for the call they came from.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};
use std::future::IntoFuture;
use zapwasm_tests::{CRM, FIXTURE, crm_api};

use crate::run::ZAPWASM;
use crate::serve::{
    Served, args, client, connect, create_contact, crm_flags, embedded_crm, events, eventually, get, ids, post, send,
    subscribe_hook,
};

/// The flags of a development service with no app of its own.
fn bare_flags(api: &crm_api::RunningApi, listen: &str) -> Vec<String> {
    let mut flags = crm_flags(api, listen);
    // Drop `--app crm=...` and `--app-env crm:...`: apps come through the API.
    flags.truncate(flags.len() - 4);
    flags
}

#[tokio::test]
async fn apps_loaded_through_the_api_by_path_and_by_upload_are_served_again_after_a_kill() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let first = Served::start(dir.path(), &bare_flags(&api, "127.0.0.1:0"), &[]).await;
    let url = first.url.clone();
    let listen = url.strip_prefix("http://").unwrap().to_string();
    assert_eq!(get(format!("{url}/v1/apps")).await.body["apps"], json!([]));
    let env = json!({"CRM_BASE_URL": api.base_url});
    let by_path = post(format!("{url}/v1/apps"), json!({"name": "crm", "path": CRM, "env": env})).await;
    assert_eq!(by_path.status, 201, "{}", by_path.body);
    let bytes = std::fs::read(CRM).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let uploaded =
        post(format!("{url}/v1/apps"), json!({"name": "uploaded", "component": encoded, "env": env, "secret_env": []}))
            .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    assert_eq!(uploaded.body["digest"], by_path.body["digest"], "the same component");
    for (body, kind, says) in [
        (json!({"name": "x", "component": "not base64!"}), "bad_request", "base64"),
        (json!({"name": "x", "path": CRM, "component": encoded}), "bad_request", "not both"),
        (json!({"name": "x"}), "bad_request", "is required"),
        (json!({"name": "x", "component": "AGFzbQ=="}), "load_failed", "uploaded component"),
    ] {
        let refused = post(format!("{url}/v1/apps"), body).await;
        assert_eq!(refused.kind(), kind, "{}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(says), "{}", refused.body);
    }

    // Both work: a call each, and a hook on the uploaded one.
    let connection = connect(&url).await;
    let other =
        post(format!("{url}/v1/apps/uploaded/connections"), json!({"auth_data": {"api_key": "demo-key"}})).await;
    assert_eq!(other.status, 201, "{}", other.body);
    let uploaded_connection = other.body["id"].as_str().unwrap().to_string();
    let search = |connection: &str| json!({"method": "search find_contact", "connection": connection, "input_data": {"email": "contact5@example.test"}});
    for (app, connection) in [("crm", &connection), ("uploaded", &uploaded_connection)] {
        let found = post(format!("{url}/v1/apps/{app}/invoke"), search(connection)).await;
        assert_eq!((found.status, found.body["result"][0]["id"].clone()), (200, json!(5)), "{app}: {}", found.body);
    }
    let (hook, _) = subscribe_hook(&url, "uploaded", &uploaded_connection).await;
    let before = create_contact(&api, "before-kill@serve.test").await;
    eventually("the event before the kill", || async { (!events(&url, &hook, 0).await.is_empty()).then_some(()) })
        .await;
    first.kill();

    // Restarted on the same state directory and flags: both apps are back,
    // from where they were kept, and the subscription still receives.
    let second = Served::start(dir.path(), &bare_flags(&api, &listen), &[]).await;
    let apps = get(format!("{url}/v1/apps")).await;
    let names: Vec<&str> = apps.body["apps"].as_array().unwrap().iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["crm", "uploaded"], "{}", apps.body);
    let kept = apps.body["apps"][1]["path"].as_str().unwrap();
    assert!(Path::new(kept).starts_with(dir.path().join("state")), "the upload is kept in the state directory: {kept}");
    for (app, connection) in [("crm", &connection), ("uploaded", &uploaded_connection)] {
        let found = post(format!("{url}/v1/apps/{app}/invoke"), search(connection)).await;
        assert_eq!((found.status, found.body["result"][0]["id"].clone()), (200, json!(5)), "{app}: {}", found.body);
    }
    let after = create_contact(&api, "after-kill@serve.test").await;
    let received = eventually("the event after the restart", || async {
        let events = events(&url, &hook, 0).await;
        (events.len() >= 2).then_some(events)
    })
    .await;
    assert_eq!(ids(&received), [before, after], "{}", second.logs());
}

#[tokio::test]
async fn a_second_service_on_a_state_directory_in_use_fails_at_start() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let first = Served::start(dir.path(), &bare_flags(&api, "127.0.0.1:0"), &[]).await;
    // Even on the same address: the state directory is what it names.
    let listen = first.url.strip_prefix("http://").unwrap().to_string();
    let second =
        Command::new(ZAPWASM).arg("serve").args(bare_flags(&api, &listen)).current_dir(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is in use by another zapwasm serve"), "{stderr}");
    assert!(stderr.contains(&format!("process {}", first.child.id())), "names the holder: {stderr}");
    assert_eq!(get(format!("{}/healthz", first.url)).await.status, 200, "the first one goes on");
    // The lock goes with the process, however it ends.
    first.kill();
    let third = Served::start(dir.path(), &bare_flags(&api, "127.0.0.1:0"), &[]).await;
    assert_eq!(get(format!("{}/healthz", third.url)).await.status, 200);
}

/// A development service from a config file in `dir` (`extra` appended;
/// the fixture app unless `app` is false).
async fn from_config(dir: &Path, listen: &str, extra: &str, app: bool, env: &[(&str, String)]) -> Served {
    let mut config = format!("listen = \"{listen}\"\nstate_dir = \"state\"\ndev = true\n{extra}\n");
    if app {
        config.push_str(&format!("[apps.fixture]\npath = \"{FIXTURE}\"\n"));
    }
    std::fs::write(dir.join("zapwasm.toml"), config).unwrap();
    Served::start(dir, &args(&["--config", "zapwasm.toml"]), env).await
}

/// Call the fixture's `create callback` (with `connection`, if any): its
/// invocation and callback URL.
async fn asks_for_a_callback(url: &str, connection: Option<&str>) -> (String, String) {
    let mut body = json!({"method": "create callback"});
    if let Some(connection) = connection {
        body["connection"] = connection.into();
    }
    let started = post(format!("{url}/v1/apps/fixture/invoke"), body).await;
    assert_eq!((started.status, started.body["status"].clone()), (202, json!("callback")), "{}", started.body);
    let invocation = started.body["invocation"].as_str().unwrap().to_string();
    (invocation, started.body["result"]["callback_url"].as_str().unwrap().to_string())
}

async fn fixture_connection(url: &str) -> String {
    let connected = post(format!("{url}/v1/apps/fixture/connections"), json!({"auth_data": {"token": "t"}})).await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    connected.body["id"].as_str().unwrap().to_string()
}

/// The invocation, once it succeeded or failed.
async fn invocation_ended(url: &str, invocation: &str) -> Value {
    eventually("the invocation's end", || async {
        let answer = get(format!("{url}/v1/invocations/{invocation}")).await;
        (answer.body["status"] == "error" || answer.body["status"] == "success").then_some(answer.body)
    })
    .await
}

#[tokio::test]
async fn a_callback_whose_connection_or_app_is_gone_fails_its_call_and_answers_410() {
    let dir = tempfile::tempdir().unwrap();
    // No workers: what is accepted stays queued.
    let no_workers = [("ZAPWASM_QUEUE_WORKERS", "0".to_string())];
    let first = from_config(dir.path(), "127.0.0.1:0", "", true, &no_workers).await;
    let url = first.url.clone();
    let listen = url.strip_prefix("http://").unwrap().to_string();

    // The connection is deleted before the POST: 410, the call fails.
    let connection = fixture_connection(&url).await;
    let (invocation, callback) = asks_for_a_callback(&url, Some(&connection)).await;
    assert_eq!(send(client().delete(format!("{url}/v1/connections/{connection}"))).await.status, 200);
    let refused = post(callback.clone(), json!({"status": "done"})).await;
    assert_eq!((refused.status, refused.kind()), (410, "gone"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("connection"), "{}", refused.body);
    let failed = get(format!("{url}/v1/invocations/{invocation}")).await.body;
    assert_eq!((failed["status"].clone(), failed["error"]["kind"].clone()), (json!("error"), json!("callback_gone")));
    assert!(failed["error"]["message"].as_str().unwrap().contains("connection of the call"), "{failed}");
    let again = post(callback, json!({"status": "done"})).await;
    assert_eq!((again.status, again.kind()), (410, "gone"), "{}", again.body);

    // The connection is deleted after the POST was accepted, before a
    // worker resumes it: the worker fails the call instead.
    let connection = fixture_connection(&url).await;
    let (accepted_first, callback) = asks_for_a_callback(&url, Some(&connection)).await;
    let queued = post(callback, json!({"status": "done"})).await;
    assert_eq!((queued.status, queued.body["status"].clone()), (200, json!("queued")), "{}", queued.body);
    assert_eq!(send(client().delete(format!("{url}/v1/connections/{connection}"))).await.status, 200);
    // And one without a connection, for the app removed below.
    let (orphan, orphan_callback) = asks_for_a_callback(&url, None).await;
    first.kill();

    let second = from_config(dir.path(), &listen, "", true, &[]).await;
    let failed = invocation_ended(&url, &accepted_first).await;
    assert_eq!(failed["error"]["kind"], "callback_gone", "{failed}\n{}", second.logs());
    assert!(failed["error"]["message"].as_str().unwrap().contains("connection of the call"), "{failed}");
    assert_eq!(get(format!("{url}/v1/invocations/{orphan}")).await.body["status"], "callback");
    second.kill();

    // Started again without the app: its callback is refused, its call fails.
    let third = from_config(dir.path(), &listen, "", false, &[]).await;
    let refused = post(orphan_callback, json!({"status": "done"})).await;
    assert_eq!((refused.status, refused.kind()), (410, "gone"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("no longer served"), "{}", refused.body);
    let failed = get(format!("{}/v1/invocations/{orphan}", third.url)).await.body;
    assert_eq!((failed["status"].clone(), failed["error"]["kind"].clone()), (json!("error"), json!("callback_gone")));
}

/// The value of the metric line `name` (with its labels), once it shows.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics(url: &str) -> String {
    client().get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn retention_prunes_what_is_finished_and_never_what_is_queued() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    // Seconds where an operator would keep days: events 4.3 s, the rest
    // under 2 s, pruned every second.
    let settings = format!(
        "[policy]\nallow_loopback = true\n\
         [retention]\njobs_days = 0.00002\ninvocations_days = 0.00002\nevents_days = 0.00005\n\
         idempotency_hours = 0.0005\nfiles_days = 0.00002\nprune_interval_seconds = 1\n\
         [apps.crm]\npath = \"{CRM}\"\nenv = {{ CRM_BASE_URL = \"{}\" }}\n",
        api.base_url
    );
    let no_workers = [("ZAPWASM_QUEUE_WORKERS", "0".to_string())];
    let first = from_config(dir.path(), "127.0.0.1:0", &settings, false, &no_workers).await;
    let url = first.url.clone();
    let listen = url.strip_prefix("http://").unwrap().to_string();
    let connection = connect(&url).await;
    let (hook, target) = subscribe_hook(&url, "crm", &connection).await;
    for id in [7001, 7002, 7003] {
        let body = json!({"event": "contact.created", "contact": {"id": id, "email": format!("{id}@serve.test")}});
        assert_eq!(post(target.clone(), body).await.status, 200);
    }
    // A call under an Idempotency-Key, and a stashed file.
    let keyed = send(
        client()
            .post(format!("{url}/v1/apps/crm/invoke"))
            .header("idempotency-key", "k-1")
            .body(json!({"method": "auth test", "connection": connection}).to_string()),
    )
    .await;
    assert_eq!(keyed.status, 200, "{}", keyed.body);
    let invocation = keyed.body["invocation"].as_str().unwrap().to_string();
    let attached = post(
        format!("{url}/v1/apps/crm/invoke"),
        json!({"method": "create attach_vcard", "connection": connection, "input_data": {"contact_id": 2}}),
    )
    .await;
    assert_eq!(attached.status, 200, "{}", attached.body);
    let file = attached.body["result"]["file"].as_str().unwrap().to_string();

    // Finished things go: the key, the calls, the file.
    let text = eventually("the key, the calls and the file pruned", || async {
        let text = metrics(&url).await;
        let pruned = |kind: &str| metric(&text, &format!("zapwasm_pruned_total{{kind=\"{kind}\"}}")).unwrap_or(0.0);
        (pruned("idempotency_keys") >= 1.0 && pruned("invocations") >= 2.0 && pruned("files") >= 1.0).then_some(text)
    })
    .await;
    assert_eq!(metric(&text, "zapwasm_queue_depth"), Some(3.0), "queued deliveries are never pruned");
    assert_eq!(get(format!("{url}/v1/invocations/{invocation}")).await.status, 404);
    assert_eq!(client().get(&file).send().await.unwrap().status(), 404, "the file is gone with its link");
    let replayed = send(
        client()
            .post(format!("{url}/v1/apps/crm/invoke"))
            .header("idempotency-key", "k-1")
            .body(json!({"method": "auth test", "connection": connection}).to_string()),
    )
    .await;
    assert_eq!(replayed.status, 200);
    assert_ne!(replayed.body["invocation"], keyed.body["invocation"], "the key was forgotten: a new call ran");
    first.kill();

    // Restarted with workers: every queued delivery runs.
    let second = from_config(dir.path(), &listen, &settings, false, &[]).await;
    // Three events were written (sequence 3 reached); what is readable is
    // their tail in order (the oldest may be pruned already on a slow run).
    let received = eventually("the queued deliveries", || async {
        let events = events(&url, &hook, 0).await;
        (events.last().is_some_and(|e| e["seq"] == 3)).then_some(events)
    })
    .await;
    assert!([7001, 7002, 7003].ends_with(&ids(&received)), "{received:?}\n{}", second.logs());
    // Then the events are pruned but the newest, and the sequence goes on.
    eventually("the old events pruned", || async {
        let events = events(&url, &hook, 0).await;
        (events.len() == 1).then_some(())
    })
    .await;
    assert_eq!(events(&url, &hook, 0).await[0]["seq"], 3);
    let body = json!({"event": "contact.created", "contact": {"id": 7004, "email": "7004@serve.test"}});
    assert_eq!(post(target, body).await.status, 200);
    let next = eventually("the next event", || async {
        let events = events(&url, &hook, 3).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!((next[0]["seq"].clone(), ids(&next)), (json!(4), vec![7004]));
    let text = eventually("the done jobs pruned", || async {
        let text = metrics(&url).await;
        (metric(&text, "zapwasm_pruned_total{kind=\"jobs\"}")? >= 3.0).then_some(text)
    })
    .await;
    assert!(metric(&text, "zapwasm_pruned_total{kind=\"events\"}").is_some_and(|n| n >= 2.0), "{text}");
}

#[tokio::test]
async fn a_dehydrated_value_hydrates_only_through_the_call_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let served = from_config(dir.path(), "127.0.0.1:0", "", true, &[]).await;
    let url = served.url.clone();
    let mine = fixture_connection(&url).await;
    let made = post(
        format!("{url}/v1/apps/fixture/invoke"),
        json!({"method": "trigger dehydrated", "connection": mine, "input_data": {"data": {"id": 7}}}),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let value = made.body["result"][0]["value"].as_str().unwrap().to_string();
    let invocation = made.body["invocation"].as_str().unwrap().to_string();

    let hydrated = post(format!("{url}/v1/hydrate"), json!({"value": value, "invocation": invocation})).await;
    assert_eq!((hydrated.status, hydrated.body["status"].clone()), (200, json!("success")), "{}", hydrated.body);
    assert_eq!(hydrated.body["result"]["inputData"], json!({"id": 7}), "{}", hydrated.body);
    assert_eq!(hydrated.body["result"]["authData"], json!({"token": "t"}), "the call's own connection");

    // Another tenant's call does not hold the value: refused, nothing runs.
    let theirs = post(format!("{url}/v1/apps/fixture/connections"), json!({"auth_data": {"token": "other"}})).await;
    let theirs = theirs.body["id"].as_str().unwrap().to_string();
    let other = post(
        format!("{url}/v1/apps/fixture/invoke"),
        json!({"method": "trigger dehydrated", "connection": theirs, "input_data": {"data": {"id": 8}}}),
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.body);
    let other = other.body["invocation"].as_str().unwrap().to_string();
    for (body, status, kind) in [
        (json!({"value": value, "invocation": other}), 404, "unknown_value"),
        (json!({"value": value, "invocation": "nope"}), 404, "unknown_value"),
        (json!({"value": value, "subscription": "nope"}), 404, "unknown_value"),
        (json!({"value": value}), 400, "bad_request"),
        (json!({"value": value, "invocation": invocation, "subscription": "s"}), 400, "bad_request"),
        (json!({"value": "hydrate", "invocation": invocation}), 400, "not_hydratable"),
    ] {
        let refused = post(format!("{url}/v1/hydrate"), body.clone()).await;
        assert_eq!((refused.status, refused.kind()), (status, kind), "{body}: {}", refused.body);
    }
}

#[tokio::test]
async fn a_callback_of_a_deleted_subscription_answers_410_and_is_not_resumed() {
    use zapwasm_host::{PendingCallback, Scope};
    use zapwasm_serve::Settings;

    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = embedded_crm(dir.path(), &url, &api, Settings::new(&url)).await;
    let workers = service.start().await.unwrap();
    let server = tokio::spawn(axum::serve(listener, zapwasm_serve::router(service.clone())).into_future());

    let connection = connect(&url).await;
    let (subscription, _) = subscribe_hook(&url, "crm", &connection).await;
    // A call of the subscription (a delivery's perform) asked for a
    // callback: what the library keeps when one does.
    let callbacks = &service.host().stores().callbacks;
    let pending = |id: &str| PendingCallback {
        id: id.into(),
        scope: Scope::new("crm", &connection).subscription(&subscription),
        method: "triggers.contact_created_hook.operation.perform".into(),
        output_data: json!({}),
        input_data: Default::default(),
        expires: std::time::SystemTime::now() + std::time::Duration::from_secs(60),
    };
    callbacks.put_callback(pending("0123456789abcdef0123456789abcdef")).await.unwrap();
    let removed = send(client().delete(format!("{url}/v1/subscriptions/{subscription}"))).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let refused = post(format!("{url}/callbacks/0123456789abcdef0123456789abcdef"), json!({"status": "done"})).await;
    assert_eq!((refused.status, refused.kind()), (410, "gone"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("subscription"), "{}", refused.body);
    let claimed = service.host().claim_callback("0123456789abcdef0123456789abcdef").await;
    assert!(claimed.is_err(), "spent, so nothing else resumes it: {claimed:?}");
    workers.shutdown(std::time::Duration::from_secs(5)).await;
    server.abort();
}
