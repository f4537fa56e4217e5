//! Native unit tests: the integration's functions and middleware called
//! with a `Z` whose requests a fake CRM API answers with canned responses
//! (`zapwasm_guest::testing`), checking what they sent and what they made
//! of the answers. The end-to-end tests (`tests/all/crm.rs`) run the built
//! component against the real example API.

use zapwasm_guest::prelude::*;
use zapwasm_guest::testing::{FakeHttp, Reply, TestCall};

use crate::{app, creates, middleware};

const BASE: &str = "https://crm.test/api";

/// A call of the CRM app against `api`, with `CRM_BASE_URL` set.
fn call(api: &FakeHttp) -> TestCall {
    TestCall::new(app(), api).env("CRM_BASE_URL", format!("{BASE}/"))
}

/// A bundle with this account key and inputData.
fn bundle(input: Value) -> Bundle {
    let mut bundle = Bundle::default();
    bundle.auth_data.insert("api_key".into(), json!("key-1"));
    bundle.input_data = input.as_object().cloned().unwrap_or_default();
    bundle
}

#[test]
fn the_api_key_goes_only_to_the_crm() {
    let z = call(&FakeHttp::new()).z(bundle(json!({})));
    let ours = middleware::add_api_key(Request::get(format!("{BASE}/contacts")), &z, &bundle(json!({}))).unwrap();
    assert_eq!(ours.get_header(middleware::API_KEY_HEADER), Some("key-1"));
    for elsewhere in ["https://crm.test/api.evil/x", "https://other.test/api/contacts"] {
        let theirs = middleware::add_api_key(Request::get(elsewhere), &z, &bundle(json!({}))).unwrap();
        assert_eq!(theirs.get_header(middleware::API_KEY_HEADER), None, "{elsewhere}");
    }
}

#[test]
fn find_contact_searches_by_email_with_the_key() {
    let api = FakeHttp::new().on(
        "GET",
        &format!("{BASE}/contacts/search"),
        Reply::json(json!([{"id": 5, "email": "a@b.test"}])),
    );
    let found = call(&api).run("searches.find_contact.operation.perform", bundle(json!({"email": " a@b.test "})));
    assert_eq!(found.unwrap(), json!([{"id": 5, "email": "a@b.test"}]));
    let sent = api.sent();
    assert_eq!(sent[0].url, format!("{BASE}/contacts/search?email=a%40b.test"), "trimmed and encoded");
    assert_eq!(sent[0].header("x-api-key"), Some("key-1"), "beforeRequest ran");
    let missing = call(&api).run("searches.find_contact.operation.perform", bundle(json!({"email": ""})));
    assert_eq!(missing.unwrap_err(), ZError::General("Email is required to find a contact".into()));
    assert_eq!(api.sent().len(), 1, "nothing sent without an email");
}

#[test]
fn api_errors_become_the_errors_the_platform_acts_on() {
    let error =
        |status: u16, code: &str| Reply::json(json!({"error": {"code": code, "message": "no"}})).with_status(status);
    let api = FakeHttp::new()
        .on("POST", &format!("{BASE}/contacts"), error(409, "duplicate"))
        .on("POST", &format!("{BASE}/contacts"), error(401, "bad_key"))
        .on("POST", &format!("{BASE}/contacts"), error(500, "boom"));
    let create = || call(&api).run("creates.create_contact.operation.perform", bundle(json!({"email": "a@b.test"})));
    assert_eq!(create().unwrap_err(), ZError::Halted("no".into()));
    assert!(matches!(create().unwrap_err(), ZError::ExpiredAuth(message) if message.contains("Reconnect")));
    assert_eq!(create().unwrap_err(), ZError::General("no (boom)".into()));
    assert_eq!(api.sent()[0].json(), Some(json!({"email": "a@b.test"})), "only the fields given");
}

#[test]
fn a_buffer_of_runs_is_one_batch_answered_per_run() {
    let api = FakeHttp::new().on(
        "POST",
        &format!("{BASE}/contacts/batch"),
        Reply::json(json!({"results": [{"contact": {"id": 1}}, {"error": {"message": "duplicate"}}]})),
    );
    let mut buffered = bundle(json!({}));
    buffered.buffer = zapwasm_guest::from_value(json!([
        {"inputData": {"email": "a@b.test", "company": "A"}, "meta": {"id": "run-1"}},
        {"inputData": {"email": "b@b.test", "company": "A"}, "meta": {"id": "run-2"}},
    ]))
    .unwrap();
    let answer = call(&api).run("creates.create_contact.operation.performBuffer", buffered).unwrap();
    assert_eq!(answer, json!({"run-1": {"outputData": {"id": 1}}, "run-2": {"error": "duplicate"}}));
    let body = api.sent()[0].json().unwrap();
    assert_eq!(body["contacts"][1], json!({"email": "b@b.test", "company": "A"}));
}

#[test]
fn unsubscribing_a_hook_the_crm_forgot_counts_as_done() {
    let api = FakeHttp::new().on("DELETE", &format!("{BASE}/hooks/9"), Reply::json(json!({})).with_status(404));
    let mut unsubscribe = bundle(json!({}));
    unsubscribe.subscribe_data = Some(json!({"id": 9}));
    let result = call(&api).run("triggers.contact_created_hook.operation.performUnsubscribe", unsubscribe);
    assert_eq!(result.unwrap(), json!({"deleted": true, "id": 9}));
}

#[test]
fn the_export_resumes_with_what_the_crm_posted_back() {
    let mut resumed = bundle(json!({}));
    resumed.output_data = Some(json!({"id": 3, "status": "pending"}));
    resumed.cleaned_request = Some(json!({"status": "done", "lines": 9}));
    let z = call(&FakeHttp::new()).z(resumed.clone());
    let result = creates::finish_export(&z, &resumed).unwrap();
    assert_eq!(result, json!({"id": 3, "status": "done", "lines": 9, "resumed": true}));
}
