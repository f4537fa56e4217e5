//! The example CRM integration end to end: every operation method runs in
//! the sandbox against the example API on 127.0.0.1 and returns what the
//! API holds.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use zapwasm_host::{
    App, Bundle, CallError, Host, IncomingRequest, Invocation, Meta, ResumeError, Scope, Status, ZError,
};
use zapwasm_tests::{CRM, Recorder, crm_api, host, host_with, shared_dir};

async fn crm(host: &Host, api: &crm_api::RunningApi) -> App {
    host.load_file(CRM).await.expect("the example loads").with_env([("CRM_BASE_URL", api.base_url.clone())])
}

fn bundle(input: Value) -> Bundle {
    let mut bundle = Bundle { input_data: input.as_object().cloned().unwrap_or_default(), ..Bundle::default() };
    bundle.auth_data.insert("api_key".into(), "demo-key".into());
    bundle
}

async fn run(app: &App, method: &str, bundle: Bundle) -> Value {
    let outcome = app.invoke(Invocation::new(method, bundle, Scope::new("crm", "acct").subscription("zap-1"))).await;
    match outcome.result {
        Ok(json) => json.value(),
        Err(error) => panic!("{method} failed: {error:?}\nlogs: {:#?}", outcome.logs),
    }
}

#[tokio::test]
async fn auth_test_returns_the_account_and_the_key_is_sent_by_middleware() {
    let api = crm_api().await;
    let host = host();
    let app = crm(&host, &api).await;
    let me = run(&app, "authentication.test", bundle(json!({}))).await;
    assert_eq!(me["name"], "Acme Sales");
    let seen = api.state().requests_seen();
    let request = seen.iter().find(|r| r.path == "/me").expect("the API saw /me");
    assert!(request.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("x-api-key") && v == "demo-key"));
    assert_eq!(app.definition().get("authentication.connectionLabel"), Some(&json!("{{bundle.inputData.name}}")));
}

#[tokio::test]
async fn a_rejected_key_becomes_expired_auth_through_after_response() {
    let api = crm_api().await;
    let host = host();
    let app = crm(&host, &api).await;
    let mut bad = bundle(json!({}));
    bad.auth_data.insert("api_key".into(), "wrong-key".into());
    let outcome = app.invoke(Invocation::local("authentication.test", bad)).await;
    match outcome.result {
        Err(CallError::Integration { error: ZError::ExpiredAuth { message } }) => {
            assert!(message.contains("Invalid or missing API key"), "{message}");
            assert!(!message.contains("wrong-key"));
        }
        other => panic!("expected ExpiredAuthError, got {other:?}"),
    }
}

#[tokio::test]
async fn the_polling_trigger_pages_through_every_contact_with_the_cursor() {
    let api = crm_api().await;
    let host = host();
    let app = crm(&host, &api).await;
    let mut seen = HashSet::new();
    for page in 0.. {
        let mut b = bundle(json!({}));
        b.meta = Meta { page, limit: 10, ..Meta::default() };
        let contacts = run(&app, "triggers.new_contact.operation.perform", b).await;
        let contacts = contacts.as_array().expect("a list of contacts").clone();
        if contacts.is_empty() {
            break;
        }
        for contact in contacts {
            assert!(seen.insert(contact["id"].as_u64().expect("an id")), "contact {} came twice", contact["id"]);
        }
        assert!(page < 10, "paging never ended");
    }
    let expected: HashSet<u64> = api.state().contacts().iter().map(|c| c.id).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_rest_hook_subscribes_receives_lists_and_unsubscribes() {
    let api = crm_api().await;
    let host = host();
    let app = crm(&host, &api).await;
    let target = "https://hooks.zapwasm.test/catch/123/abc";
    let mut subscribe = bundle(json!({}));
    subscribe.target_url = Some(target.into());
    let subscription = run(&app, "triggers.contact_created_hook.operation.performSubscribe", subscribe).await;
    let hooks = api.state().hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, target);
    assert_eq!(subscription["id"], json!(hooks[0].id));

    let mut delivered = bundle(json!({}));
    delivered.cleaned_request =
        Some(json!({"event": "contact.created", "contact": {"id": 99, "email": "new@example.test"}}));
    delivered.subscribe_data = Some(subscription.clone());
    let items = run(&app, "triggers.contact_created_hook.operation.perform", delivered).await;
    assert_eq!(items, json!([{"id": 99, "email": "new@example.test"}]));

    let listed = run(&app, "triggers.contact_created_hook.operation.performList", bundle(json!({}))).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3));

    let mut unsubscribe = bundle(json!({}));
    unsubscribe.subscribe_data = Some(subscription);
    run(&app, "triggers.contact_created_hook.operation.performUnsubscribe", unsubscribe).await;
    assert!(api.state().hooks().is_empty());
}

#[tokio::test]
async fn search_and_create_return_what_the_api_holds() {
    let api = crm_api().await;
    let host = host();
    let app = crm(&host, &api).await;
    let found =
        run(&app, "searches.find_contact.operation.perform", bundle(json!({"email": "contact3@example.test"}))).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(found[0]["id"], 3);

    let input =
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test", "company": "Engines"});
    let created = run(&app, "creates.create_contact.operation.perform", bundle(input.clone())).await;
    let stored = api.state().contacts().into_iter().find(|c| c.email == "ada@example.test").expect("stored");
    assert_eq!(created["id"], json!(stored.id));
    assert_eq!(created["last_name"], "Lovelace");

    // The API's 409 becomes a HaltedError through afterResponse.
    let again = app.invoke(Invocation::local("creates.create_contact.operation.perform", bundle(input))).await;
    assert!(matches!(again.result, Err(CallError::Integration { error: ZError::Halted { .. } })), "{:?}", again.result);
}

#[tokio::test]
async fn a_create_waits_for_its_callback_and_resumes() {
    let api = crm_api().await;
    let receiver = Recorder::start().await;
    let host = host_with(&shared_dir("stash-callback"), &format!("{}/callback", receiver.base_url));
    let app = crm(&host, &api).await;
    let outcome = app
        .invoke(Invocation::local("creates.export_contact.operation.perform", bundle(json!({"contact_id": 2}))))
        .await;
    let output = outcome.result.clone().expect("the export starts").value();
    assert_eq!(outcome.status, Status::Callback);
    let callback_url = outcome.callback_url.expect("a callback URL");
    assert!(callback_url.starts_with(&format!("{}/callback/", receiver.base_url)));

    // The API finishes the job and POSTs to the callback URL.
    let mut delivered = None;
    for _ in 0..100 {
        delivered = receiver.received().into_iter().find(|r| r.method == "POST");
        if delivered.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = delivered.expect("the API called back");
    assert_eq!(format!("{}{}", receiver.base_url, delivered.uri), callback_url);
    let payload: Value = serde_json::from_slice(&delivered.body).unwrap();

    // The receiver claims the callback by the last segment of its URL and
    // resumes it with the request as it arrived.
    let id = callback_url.rsplit('/').next().unwrap();
    let pending = host.claim_callback(id).await.expect("a pending callback");
    assert_eq!(pending.method, "creates.export_contact.operation.perform");
    assert_eq!(pending.output_data, output);
    let request = IncomingRequest {
        method: delivered.method.clone(),
        query: String::new(),
        headers: delivered.headers.clone(),
        body: delivered.body.clone(),
    };
    let resumed = app.resume(pending, bundle(json!({})).auth_data, &request).await;
    let resumed = resumed.result.expect("performResume ran").value();
    assert_eq!(resumed["resumed"], true);
    assert_eq!(resumed["status"], "done");
    assert_eq!(resumed["id"], output["id"]);
    assert_eq!(resumed["export_id"], payload["export_id"]);

    // The same POST again, a made-up ID: each its own answer.
    let again = host.claim_callback(id).await.expect_err("claimed once");
    assert!(matches!(again, ResumeError::AlreadyResumed), "{again:?}");
    assert_eq!(again.http_status(), 410);
    let unknown = host.claim_callback("0123456789abcdef0123456789abcdef").await.expect_err("unknown");
    assert!(matches!(unknown, ResumeError::Unknown), "{unknown:?}");
    assert_eq!(unknown.http_status(), 404);
}

#[tokio::test]
async fn a_create_stashes_the_vcard_as_a_file() {
    let api = crm_api().await;
    let stash_dir = shared_dir("stash-vcard");
    let host = host_with(&stash_dir, "http://hooks.zapwasm.test/callback");
    let app = crm(&host, &api).await;
    let result = run(&app, "creates.attach_vcard.operation.perform", bundle(json!({"contact_id": 4}))).await;
    let url = result["file"].as_str().expect("a file URL");
    let token = url.strip_prefix("http://files.zapwasm.test/stash/files/").expect("under the configured base");
    let download = host.open_stashed(token).await.expect("the URL's token opens the file");
    assert!(download.filename.ends_with(".vcf"), "{}", download.filename);
    let contents = String::from_utf8(download.bytes().await.unwrap()).unwrap();
    assert!(contents.starts_with("BEGIN:VCARD"), "{contents}");
    assert!(contents.contains("contact4@example.test"));
}
