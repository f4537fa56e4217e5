//! Hydration and stash downloads, through real components: values a
//! trigger dehydrated leave the call signed, hydrate through their
//! hydrator (a file hydrator's file stashed and its URL returned), and are
//! refused unsigned or altered; a stash URL's token opens its file (name,
//! type, bytes) until it expires, and a forged one opens nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zapwasm_host::{
    App, Bundle, CallError, HostBuilder, HydrateError, Invocation, LocalStash, Scope, StashError, Status, Stores,
    ZError,
};
use zapwasm_tests::{CRM, FIXTURE, crm_api, host_builder, input, ok, shared_dir};

const SECRET: &[u8] = b"the hydration secret of the tests";
const FILES: &str = "https://files.zapwasm.test/stash";

fn scope() -> Scope {
    Scope::new("fixture", "account-1")
}

fn with_stash(builder: HostBuilder, dir: &Path) -> HostBuilder {
    builder.stores(Stores::memory().stash(Arc::new(LocalStash::new(dir, FILES))))
}

fn auth() -> serde_json::Map<String, Value> {
    json!({"api_key": "k-123"}).as_object().cloned().unwrap()
}

/// The `value` the fixture's `dehydrated` trigger returns for `input`.
async fn dehydrated(app: &App, input_data: Value) -> String {
    let outcome =
        app.invoke(Invocation::new("triggers.dehydrated.operation.perform", input(input_data), scope())).await;
    ok(&outcome)[0]["value"].as_str().expect("a dehydrated string").to_string()
}

/// The JSON and signature of a signed dehydrated string.
fn signed_parts(value: &str) -> (Value, String) {
    let inner = value.strip_prefix("hydrate|||").and_then(|v| v.strip_suffix("|||hydrate")).expect("markers");
    let (payload, signature) = inner.split_once(':').unwrap_or_else(|| panic!("not signed: {value}"));
    let json = serde_json::from_slice(&STANDARD.decode(payload).expect("base64")).expect("JSON");
    (json, signature.to_string())
}

fn integration_error(result: Result<zapwasm_host::Json, CallError>) -> String {
    match result {
        Err(CallError::Integration { error: ZError::General { message } }) => message,
        other => panic!("expected a general error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_value_hydrates_through_its_hydrator_with_the_dehydrated_input() {
    let host = host_builder().hydration_secret(SECRET).build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let value = dehydrated(&app, json!({"data": {"id": 7, "environment": {"KEY": "kept out"}}})).await;

    let (payload, _) = signed_parts(&value);
    assert_eq!(payload, json!({"type": "method", "method": "hydrators.echo_bundle", "bundle": {"id": 7}}));

    let outcome = app.hydrate(&value, auth(), scope()).await.expect("the signed value is accepted");
    let bundle = ok(&outcome);
    assert_eq!(bundle["inputData"], json!({"id": 7}));
    assert_eq!(bundle["authData"], json!({"api_key": "k-123"}));
}

#[tokio::test]
async fn unsigned_altered_and_foreign_values_are_refused_by_a_signing_host() {
    let host = host_builder().hydration_secret(SECRET).build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let value = dehydrated(&app, json!({"data": {"id": 7}})).await;
    let refused = |result: Result<zapwasm_host::Outcome, HydrateError>| result.expect_err("refused");

    // The unsigned form, as the guest wrote it.
    let (payload, signature) = signed_parts(&value);
    let unsigned = format!("hydrate|||{payload}|||hydrate");
    assert_eq!(refused(app.hydrate(&unsigned, auth(), scope()).await), HydrateError::Unsigned);

    // Another inputData under the same signature.
    let mut altered = payload.clone();
    altered["bundle"]["id"] = json!(8);
    let tampered = format!("hydrate|||{}:{signature}|||hydrate", STANDARD.encode(altered.to_string()));
    let error = refused(app.hydrate(&tampered, auth(), scope()).await);
    assert_eq!(error, HydrateError::BadSignature);
    assert_eq!(error.http_status(), 403);

    // The same string in another integration's scope.
    let foreign = Scope::new("another-integration", "account-1");
    assert_eq!(refused(app.hydrate(&value, auth(), foreign).await), HydrateError::BadSignature);

    // A host with another secret.
    let other = host_builder().hydration_secret("another secret").build().unwrap();
    let other_app = other.load_file(FIXTURE).await.unwrap();
    assert_eq!(refused(other_app.hydrate(&value, auth(), scope()).await), HydrateError::BadSignature);

    // A method that is no hydrator: z.dehydrate itself fails, nothing is signed.
    let method = json!({"method": "triggers.echo.operation.perform"});
    let outcome = app.invoke(Invocation::new("triggers.dehydrated.operation.perform", input(method), scope())).await;
    let error = outcome.result.expect_err("z.dehydrate of a trigger").to_string();
    assert!(error.contains("triggers.echo.operation.perform is not a hydrator"), "{error}");

    // A pointer that only passes through a result (the user's input, an
    // API's data) is not signed: only what z.dehydrate made is.
    let echoed =
        app.invoke(Invocation::new("triggers.echo.operation.perform", input(json!({"text": unsigned})), scope())).await;
    assert_eq!(ok(&echoed)[0]["bundle"]["inputData"]["text"], unsigned, "the echoed pointer was signed");
    assert_eq!(refused(app.hydrate(&unsigned, auth(), scope()).await), HydrateError::Unsigned);

    assert_eq!(refused(app.hydrate("not a value", auth(), scope()).await), HydrateError::NotDehydrated);
}

#[tokio::test]
async fn a_host_without_a_secret_hydrates_unsigned_values_and_cannot_check_signed_ones() {
    let host = host_builder().build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let value = dehydrated(&app, json!({"data": {"id": 3}})).await;
    assert_eq!(value, r#"hydrate|||{"type":"method","method":"hydrators.echo_bundle","bundle":{"id":3}}|||hydrate"#);
    let outcome = app.hydrate(&value, auth(), scope()).await.unwrap();
    assert_eq!(ok(&outcome)["inputData"], json!({"id": 3}));

    let signing = host_builder().hydration_secret(SECRET).build().unwrap();
    let signed = dehydrated(&signing.load_file(FIXTURE).await.unwrap(), json!({})).await;
    assert_eq!(app.hydrate(&signed, auth(), scope()).await.unwrap_err(), HydrateError::NoSecret);
}

#[tokio::test]
async fn the_sdk_refuses_an_over_long_value_and_a_whole_bundle() {
    let host = host_builder().build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let call = |data: Value| {
        let app = app.clone();
        async move {
            app.invoke(Invocation::new("triggers.dehydrated.operation.perform", input(json!({"data": data})), scope()))
                .await
        }
    };
    let long = call(json!({"v": "x".repeat(12_000)})).await;
    let message = integration_error(long.result);
    assert!(message.starts_with("Oops! You passed too much data ("), "{message}");
    assert!(message.contains("try slimming it down under 12000 bytes"), "{message}");

    let whole = call(json!({"authData": {}, "inputData": {"id": 1}})).await;
    assert_eq!(
        integration_error(whole.result),
        "Oops! You passed a full `bundle` - really you should pass what you want under `inputData`!"
    );
}

#[tokio::test]
async fn a_file_hydrator_stashes_its_file_and_the_url_opens_it() {
    let dir = shared_dir("hydration-file");
    let host = with_stash(host_builder().hydration_secret(SECRET), &dir).build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let value = dehydrated(
        &app,
        json!({"file": true, "method": "text_file", "data": {"text": "hello, file", "filename": "greeting.txt"}}),
    )
    .await;
    assert_eq!(signed_parts(&value).0["type"], "file");

    let outcome = app.hydrate(&value, auth(), scope()).await.unwrap();
    let url = ok(&outcome).as_str().expect("a URL").to_string();
    let token = url.strip_prefix(&format!("{FILES}/files/")).unwrap_or_else(|| panic!("under the base: {url}"));
    let download = host.open_stashed(token).await.expect("the token opens");
    assert_eq!(download.filename, "greeting.txt");
    assert_eq!(download.content_type, "text/plain");
    assert_eq!(download.length, 11);
    assert_eq!(download.bytes().await.unwrap(), b"hello, file");

    // Unnamed text gets the platform's name.
    let unnamed = dehydrated(&app, json!({"file": true, "method": "text_file", "data": {}})).await;
    let url = ok(&app.hydrate(&unnamed, auth(), scope()).await.unwrap()).as_str().unwrap().to_string();
    let download = host.open_stashed(url.rsplit('/').next().unwrap()).await.unwrap();
    assert_eq!((download.filename.as_str(), download.content_type.as_str()), ("unnamedfile.txt", "text/plain"));
}

#[tokio::test]
async fn a_file_hydrator_that_returns_no_url_fails() {
    let host = host_builder().build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let value = dehydrated(&app, json!({"file": true, "method": "echo_bundle"})).await;
    let outcome = app.hydrate(&value, auth(), scope()).await.unwrap();
    assert_eq!(outcome.status, Status::Error);
    let message = integration_error(outcome.result);
    assert!(message.contains("not the URL of a file"), "{message}");
}

#[tokio::test]
async fn files_are_stashed_only_in_creates_and_hydrators_and_within_the_cap() {
    let host = with_stash(host_builder(), &shared_dir("hydration-refused")).build().unwrap();
    let app = host.load_file(FIXTURE).await.unwrap();
    let outside =
        app.invoke(Invocation::new("triggers.stash_outside.operation.perform", Bundle::default(), scope())).await;
    assert_eq!(
        integration_error(outside.result),
        "Files can only be stashed within a create or hydration function/method."
    );

    // A hydrator may stash, but not a declared length over 150 MB.
    let value =
        dehydrated(&app, json!({"file": true, "method": "text_file", "data": {"known_length": 150_000_001}})).await;
    let outcome = app.hydrate(&value, auth(), scope()).await.unwrap();
    assert_eq!(integration_error(outcome.result), "150000001 is too big, 150000000 is the max");
}

#[tokio::test]
async fn an_expired_forged_or_foreign_token_opens_nothing() {
    let dir = shared_dir("hydration-tokens");
    let stash = |builder: HostBuilder| with_stash(builder, &dir).build().unwrap();
    let url_of = |app: App| async move {
        let outcome = app
            .invoke(Invocation::new("creates.stash.operation.perform", input(json!({"text": "secret"})), scope()))
            .await;
        ok(&outcome)["text_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
    };

    let expired_host = stash(host_builder().stash_url_lifetime(Duration::ZERO));
    let token = url_of(expired_host.load_file(FIXTURE).await.unwrap()).await;
    let error = expired_host.open_stashed(&token).await.unwrap_err();
    assert!(matches!(error, StashError::Expired), "{error:?}");
    assert_eq!(error.http_status(), 410);

    let host = stash(host_builder());
    let token = url_of(host.load_file(FIXTURE).await.unwrap()).await;
    assert_eq!(host.open_stashed(&token).await.unwrap().bytes().await.unwrap(), b"secret");
    let (id, rest) = token.split_once('.').unwrap();
    let (expires, signature) = rest.split_once('.').unwrap();
    let later: u64 = expires.parse::<u64>().unwrap() + 3600;
    for forged in [
        format!("{id}.{later}.{signature}"),
        format!("ffffffffffffffffffffffffffffffff.{expires}.{signature}"),
        format!("{id}.{expires}.{}", "A".repeat(signature.len())),
        "../../etc/passwd".to_string(),
        String::new(),
    ] {
        let error = host.open_stashed(&forged).await.unwrap_err();
        assert!(matches!(error, StashError::BadToken), "{forged}: {error:?}");
        assert_eq!(error.http_status(), 403);
    }
    // Another host, with its own random key, did not sign it.
    let other = stash(host_builder());
    assert!(matches!(other.open_stashed(&token).await, Err(StashError::BadToken)));

    // A valid token whose file is gone.
    for entry in std::fs::read_dir(dir.join(&id[..2])).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with(id) {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert!(matches!(host.open_stashed(&token).await, Err(StashError::NotFound)));
}

#[tokio::test]
async fn with_a_stash_secret_a_url_opens_in_another_process() {
    let dir = shared_dir("hydration-restart");
    let host = || with_stash(host_builder().stash_secret("the stash secret of the tests"), &dir).build().unwrap();
    let first = host();
    let app = first.load_file(FIXTURE).await.unwrap();
    let outcome =
        app.invoke(Invocation::new("creates.stash.operation.perform", input(json!({"bytes_len": 3})), scope())).await;
    let url = ok(&outcome)["bytes_url"].as_str().unwrap().to_string();
    drop(first);
    let download = host().open_stashed(url.rsplit('/').next().unwrap()).await.expect("opens after a restart");
    assert_eq!(
        (download.filename.as_str(), download.content_type.as_str()),
        ("unnamedfile", "application/octet-stream")
    );
    assert_eq!(download.bytes().await.unwrap(), [0, 0, 0]);
}

#[tokio::test]
async fn the_crm_trigger_dehydrates_each_contact_and_hydrates_it_when_asked() {
    let api = crm_api().await;
    let dir = shared_dir("hydration-crm");
    let host = with_stash(host_builder().hydration_secret(SECRET), &dir).build().unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let auth = json!({"api_key": "demo-key"}).as_object().cloned().unwrap();
    let scope = Scope::new("crm", "acct");
    let poll = Bundle { auth_data: auth.clone(), ..Bundle::default() };
    let outcome = app.invoke(Invocation::new("triggers.new_contact.operation.perform", poll, scope.clone())).await;
    let contacts = ok(&outcome);
    let contact = &contacts[0];
    let requests = api.state().requests_seen().len();
    assert_eq!(requests, 1, "the poll fetched no contact one by one");

    let details = contact["details"].as_str().expect("dehydrated details");
    assert_eq!(signed_parts(details).0["method"], "hydrators.contact");
    let hydrated = app.hydrate(details, auth.clone(), scope.clone()).await.unwrap();
    let hydrated = ok(&hydrated);
    assert_eq!(hydrated["id"], contact["id"]);
    assert_eq!(hydrated["email"], contact["email"]);

    let vcard = contact["vcard"].as_str().expect("a dehydrated vCard");
    let outcome = app.hydrate(vcard, auth, scope).await.unwrap();
    let url = ok(&outcome).as_str().unwrap().to_string();
    let download = host.open_stashed(url.rsplit('/').next().unwrap()).await.unwrap();
    assert!(download.filename.ends_with(".vcf"), "{}", download.filename);
    assert_eq!(download.content_type, "text/vcard");
    let card = String::from_utf8(download.bytes().await.unwrap()).unwrap();
    assert!(card.starts_with("BEGIN:VCARD"), "{card}");
}
