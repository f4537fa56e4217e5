//! The API over real HTTP: each test starts it on 127.0.0.1:0 and talks to it
//! with reqwest; hooks and export callbacks go to a receiver the test starts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri};
use crm_api::{Config, RunningApi};
use reqwest::Method;
use serde_json::{Value, json};

const KEY: &str = "demo-key";

async fn api_with(config: Config) -> RunningApi {
    crm_api::start("127.0.0.1:0".parse().unwrap(), config).await.expect("the API starts")
}

async fn api() -> RunningApi {
    api_with(Config::default()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A request with the demo key.
fn request(api: &RunningApi, method: Method, path: &str) -> reqwest::RequestBuilder {
    client().request(method, format!("{}{path}", api.base_url)).header("X-API-Key", KEY)
}

/// Status and JSON body of `GET path` with the demo key.
async fn get(api: &RunningApi, path: &str) -> (u16, Value) {
    json_of(request(api, Method::GET, path).send().await.unwrap()).await
}

async fn post(api: &RunningApi, path: &str, body: Value) -> (u16, Value) {
    json_of(
        request(api, Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect(&text) };
    (status, body)
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("not the error shape: {body}"))
}

/// Waits up to five seconds for `done`.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting");
}

/// A loopback server that records every request (URI and body) and answers
/// with a fixed status: stands in for a hook subscriber or a callback URL.
struct Receiver {
    base_url: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    async fn start(answer: StatusCode) -> Self {
        let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let log = received.clone();
        let app = Router::new().fallback(move |uri: Uri, body: String| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push((uri.to_string(), body));
                answer
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base_url, received }
    }

    fn received(&self) -> Vec<(String, String)> {
        self.received.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn every_route_needs_a_known_key() {
    let api = api().await;
    let routes = [
        (Method::GET, "/me"),
        (Method::GET, "/contacts"),
        (Method::GET, "/contacts/search?email=contact1@example.test"),
        (Method::GET, "/contacts/1"),
        (Method::GET, "/contacts/1/vcard"),
        (Method::POST, "/contacts"),
        (Method::GET, "/hooks"),
        (Method::POST, "/hooks"),
        (Method::DELETE, "/hooks/1"),
        (Method::POST, "/exports"),
        (Method::GET, "/rate-limited"),
        (Method::GET, "/no-such-route"),
    ];
    for (method, path) in routes {
        let url = format!("{}{path}", api.base_url);
        for key in [None, Some("wrong-key"), Some("")] {
            let mut builder = client().request(method.clone(), &url);
            if let Some(key) = key {
                builder = builder.header("X-API-Key", key);
            }
            let (status, body) = json_of(builder.send().await.unwrap()).await;
            assert_eq!(status, 401, "{method} {path} with {key:?}");
            assert_eq!(body, error("unauthorized", "Invalid or missing API key"));
        }
    }
    let (status, me) = get(&api, "/me").await;
    assert_eq!(status, 200);
    assert_eq!(me, json!({"id": 1, "name": "Acme Sales", "email": "owner@acme.test", "plan": "pro"}));
    api.shutdown().await;
}

#[tokio::test]
async fn configured_keys_replace_the_default() {
    let api = api_with(Config { api_keys: vec!["k1".into(), "k2".into()], ..Config::default() }).await;
    for (key, expected) in [("k1", 200), ("k2", 200), (KEY, 401)] {
        let response = client().get(format!("{}/me", api.base_url)).header("x-api-key", key).send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{key}");
    }
}

#[tokio::test]
async fn every_request_is_recorded_before_auth() {
    let api = api().await;
    client()
        .get(format!("{}/contacts?limit=2&cursor=abc", api.base_url))
        .header("X-Trace", "t-1")
        .send()
        .await
        .unwrap();
    get(&api, "/me").await;
    let seen = api.state().requests_seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("GET", "/contacts"));
    assert_eq!(seen[0].query, "limit=2&cursor=abc");
    assert!(seen[0].headers.contains(&("x-trace".to_string(), "t-1".to_string())), "{:?}", seen[0].headers);
    assert!(!seen[0].headers.iter().any(|(name, _)| name == "x-api-key"));
    assert_eq!((seen[1].path.as_str(), seen[1].query.as_str()), ("/me", ""));
    assert!(seen[1].headers.contains(&("x-api-key".to_string(), KEY.to_string())));
}

#[tokio::test]
async fn paging_follows_cursors_across_every_contact_without_duplicates() {
    let api = api().await;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/contacts?limit=10&cursor={cursor}"),
            None => "/contacts?limit=10".to_string(),
        };
        let (status, page) = get(&api, &path).await;
        assert_eq!(status, 200, "{page}");
        let contacts = page["contacts"].as_array().unwrap();
        sizes.push(contacts.len());
        seen.extend(contacts.iter().map(|contact| contact["id"].as_u64().unwrap()));
        if cursor.is_none() {
            // A contact created mid-way is newer than every page: it must not
            // shift the later pages.
            let (status, _) = post(&api, "/contacts", json!({"email": "late@example.test"})).await;
            assert_eq!(status, 201);
        }
        match &page["next_cursor"] {
            Value::String(next) => {
                assert_ne!(next.parse::<u64>().ok(), contacts.last().and_then(|c| c["id"].as_u64()), "opaque");
                cursor = Some(next.clone());
            }
            Value::Null => break,
            other => panic!("next_cursor is {other}"),
        }
        assert!(sizes.len() < 10, "paging never ends");
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, (1..=25).rev().collect::<Vec<u64>>(), "newest first, every seeded contact once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

#[tokio::test]
async fn limit_defaults_to_10_is_capped_at_100_and_bad_input_is_a_400() {
    let api = api_with(Config { seed_contacts: 150, ..Config::default() }).await;
    let (_, page) = get(&api, "/contacts").await;
    assert_eq!(page["contacts"].as_array().unwrap().len(), 10);
    assert_eq!(page["contacts"][0]["id"], 150);
    let (_, page) = get(&api, "/contacts?limit=500").await;
    assert_eq!(page["contacts"].as_array().unwrap().len(), 100);
    assert!(page["next_cursor"].is_string());
    let (_, last) = get(&api, &format!("/contacts?limit=100&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(last["contacts"].as_array().unwrap().len(), 50);
    assert_eq!(last["next_cursor"], Value::Null);

    for path in ["/contacts?limit=ten", "/contacts?limit=-1", "/contacts?cursor=%%%", "/contacts?cursor=bm9wZQ"] {
        let (status, body) = get(&api, path).await;
        assert_eq!((status, error_code(&body)), (400, "bad_request"), "{path}");
    }
    let empty = api_with(Config { seed_contacts: 0, ..Config::default() }).await;
    assert_eq!(get(&empty, "/contacts").await, (200, json!({"contacts": [], "next_cursor": null})));
}

#[tokio::test]
async fn search_matches_the_whole_email_ignoring_case() {
    let api = api().await;
    let (status, found) = get(&api, "/contacts/search?email=CONTACT3@Example.Test").await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(found[0]["id"], 3);
    assert_eq!(found[0]["email"], "contact3@example.test");
    assert_eq!(get(&api, "/contacts/search?email=contact3@example").await, (200, json!([])));
    for path in ["/contacts/search", "/contacts/search?email=", "/contacts/search?mail=contact3@example.test"] {
        let (status, body) = get(&api, path).await;
        assert_eq!((status, error_code(&body)), (400, "missing_email"), "{path}");
    }
}

#[tokio::test]
async fn a_contact_by_id_or_a_404() {
    let api = api().await;
    let (status, contact) = get(&api, "/contacts/3").await;
    assert_eq!(status, 200);
    let keys: HashSet<&str> = contact.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["id", "first_name", "last_name", "email", "company", "created_at"]));
    assert_eq!(contact["id"], 3);
    assert_eq!(contact["email"], "contact3@example.test");
    assert_eq!(contact["created_at"], "2026-01-01T02:00:00Z");
    assert_eq!(json!(api.state().contacts()[2]), contact);
    for path in ["/contacts/999", "/contacts/abc", "/contacts/0"] {
        let (status, body) = get(&api, path).await;
        assert_eq!((status, error_code(&body)), (404, "not_found"), "{path}");
    }
}

#[tokio::test]
async fn create_stores_the_contact_and_refuses_duplicates_and_invalid_bodies() {
    let api = api().await;
    let input =
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test", "company": "Engines"});
    let (status, created) = post(&api, "/contacts", input).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], 26);
    assert_eq!(
        (&created["first_name"], &created["last_name"], &created["email"], &created["company"]),
        (&json!("Ada"), &json!("Lovelace"), &json!("ada@example.test"), &json!("Engines"))
    );
    let created_at = created["created_at"].as_str().unwrap();
    assert!(created_at.len() == 20 && created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T', "{created_at}");
    assert_eq!(get(&api, "/contacts/26").await, (200, created.clone()));
    let stored = api.state().contacts().into_iter().find(|c| c.email == "ada@example.test").expect("stored");
    assert_eq!(stored.id, 26);

    let (status, body) = post(&api, "/contacts", json!({"email": "ADA@example.test"})).await;
    assert_eq!((status, body), (409, error("duplicate", "a contact with email ADA@example.test already exists")));

    let (status, body) = post(&api, "/contacts", json!({"first_name": "No", "last_name": "Email"})).await;
    assert_eq!((status, body), (422, error("invalid", "email is required")));

    let (status, only_email) = post(&api, "/contacts", json!({"email": "bare@example.test"})).await;
    assert_eq!(status, 201);
    assert_eq!((&only_email["first_name"], &only_email["company"]), (&json!(""), &Value::Null));

    for body in ["{not json", "", "[1,2]", r#"{"email": 5}"#] {
        let response = request(&api, Method::POST, "/contacts")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let (status, answer) = json_of(response).await;
        assert_eq!((status, error_code(&answer)), (400, "bad_request"), "{body:?}");
    }
    assert_eq!(api.state().contacts().len(), 27);
}

#[tokio::test]
async fn the_vcard_is_an_attachment_named_after_the_contact() {
    let api = api().await;
    post(&api, "/contacts", json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test"})).await;
    let response = request(&api, Method::GET, "/contacts/26/vcard").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/vcard; charset=utf-8");
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"Ada-Lovelace.vcf\"");
    let card = response.text().await.unwrap();
    assert!(card.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"), "{card}");
    assert!(card.ends_with("END:VCARD\r\n"), "{card}");
    assert!(card.contains("\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\n"), "{card}");
    assert!(card.contains("\r\nEMAIL;TYPE=INTERNET:ada@example.test\r\n"), "{card}");

    let response = request(&api, Method::GET, "/contacts/4/vcard").send().await.unwrap();
    let contact = &api.state().contacts()[3];
    let expected = format!("attachment; filename=\"{}-{}.vcf\"", contact.first_name, contact.last_name);
    assert_eq!(response.headers()["content-disposition"].to_str().unwrap(), expected);
    assert!(response.text().await.unwrap().contains("contact4@example.test"));

    let (status, body) = get(&api, "/contacts/999/vcard").await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
}

#[tokio::test]
async fn hooks_subscribe_receive_contact_created_and_unsubscribe() {
    let api = api().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let url = format!("{}/hooks/catch", receiver.base_url);
    let (status, hook) = post(&api, "/hooks", json!({"url": url})).await;
    assert_eq!(status, 201);
    assert_eq!(hook, json!({"id": 1, "url": url, "event": "contact.created"}));
    let (status, other) = post(&api, "/hooks", json!({"url": url, "event": "contact.deleted"})).await;
    assert_eq!((status, &other["event"]), (201, &json!("contact.deleted")));
    assert_eq!(get(&api, "/hooks").await, (200, json!([hook, other])));
    assert_eq!(api.state().hooks().len(), 2);
    assert_eq!(api.state().hooks()[0].url, url);

    let (_, contact) = post(&api, "/contacts", json!({"email": "hooked@example.test"})).await;
    eventually(|| !receiver.received().is_empty()).await;
    let expected = json!({"event": "contact.created", "contact": contact});
    let received = receiver.received();
    assert_eq!(received.len(), 1, "only the contact.created hook: {received:?}");
    assert_eq!(received[0].0, "/hooks/catch");
    assert_eq!(serde_json::from_str::<Value>(&received[0].1).unwrap(), expected);
    eventually(|| !api.state().callbacks_delivered().is_empty()).await;
    let (delivered_url, status, body) = api.state().callbacks_delivered().remove(0);
    assert_eq!((delivered_url.as_str(), status), (url.as_str(), 200));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);

    let delete = |id: u64| request(&api, Method::DELETE, &format!("/hooks/{id}")).send();
    let response = delete(1).await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty());
    let (status, body) = json_of(delete(1).await.unwrap()).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    assert_eq!(api.state().hooks().iter().map(|hook| hook.id).collect::<Vec<_>>(), [2]);

    post(&api, "/contacts", json!({"email": "unhooked@example.test"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "no delivery after unsubscribing");

    let (status, body) = post(&api, "/hooks", json!({"event": "contact.created"})).await;
    assert_eq!((status, body), (422, error("invalid", "url is required")));
    let (status, body) = post(&api, "/hooks", json!({"url": "ftp://example.test/x"})).await;
    assert_eq!((status, error_code(&body)), (422, "invalid"));
}

#[tokio::test]
async fn a_hook_nobody_answers_is_recorded_with_status_0() {
    let api = api().await;
    // A port that was free a moment ago: the connection is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let url = format!("http://{closed}/gone");
    post(&api, "/hooks", json!({"url": url})).await;
    let (status, _) = post(&api, "/contacts", json!({"email": "nobody@example.test"})).await;
    assert_eq!(status, 201);
    eventually(|| !api.state().callbacks_delivered().is_empty()).await;
    let (delivered_url, status, _) = api.state().callbacks_delivered().remove(0);
    assert_eq!((delivered_url, status), (url, 0));
    assert_eq!(get(&api, "/me").await.0, 200, "the API still answers");
}

#[tokio::test]
async fn an_export_posts_its_result_to_the_callback_url_after_the_delay() {
    let api = api().await;
    let receiver = Receiver::start(StatusCode::ACCEPTED).await;
    let callback_url = format!("{}/callback/abc-123", receiver.base_url);
    let (status, started) = post(&api, "/exports", json!({"contact_id": 2, "callback_url": callback_url})).await;
    assert_eq!((status, started), (202, json!({"id": 1, "status": "pending"})));
    let exports = api.state().exports();
    assert_eq!((exports.len(), exports[0].contact_id, exports[0].status), (1, 2, crm_api::ExportStatus::Pending));
    assert_eq!(exports[0].callback_url, callback_url);

    eventually(|| !receiver.received().is_empty()).await;
    let (uri, body) = receiver.received().remove(0);
    assert_eq!(uri, "/callback/abc-123");
    let expected = json!({"export_id": 1, "status": "done", "contact_id": 2, "lines": 9});
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);
    eventually(|| !api.state().callbacks_delivered().is_empty()).await;
    let (delivered_url, status, body) = api.state().callbacks_delivered().remove(0);
    assert_eq!((delivered_url, status), (callback_url, 202), "the receiver's answer is recorded");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);
    assert_eq!(api.state().exports()[0].status, "done");

    let vcard = request(&api, Method::GET, "/contacts/2/vcard").send().await.unwrap().text().await.unwrap();
    assert_eq!(vcard.lines().count(), 9);

    let (status, body) = post(&api, "/exports", json!({"contact_id": 999, "callback_url": receiver.base_url})).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    let (status, body) = post(&api, "/exports", json!({"contact_id": 2})).await;
    assert_eq!((status, error_code(&body)), (422, "invalid"));
    assert_eq!(api.state().exports().len(), 1);
}

#[tokio::test]
async fn the_rate_limited_route_always_answers_429_with_retry_after() {
    let api = api().await;
    for _ in 0..2 {
        let response = request(&api, Method::GET, "/rate-limited").send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "7");
        let (status, body) = json_of(response).await;
        assert_eq!((status, error_code(&body)), (429, "rate_limited"));
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let api = api().await;
    let (status, body) = get(&api, "/nope").await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    let (status, body) = json_of(request(&api, Method::PUT, "/me").send().await.unwrap()).await;
    assert_eq!((status, error_code(&body)), (405, "method_not_allowed"));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let api = api().await;
    let url = format!("{}/me", api.base_url);
    assert_eq!(get(&api, "/me").await.0, 200);
    api.shutdown().await;
    assert!(client().get(url).header("X-API-Key", KEY).send().await.is_err());
}

#[tokio::test]
async fn the_binary_prints_its_url_and_serves_with_the_given_keys() {
    use tokio::io::AsyncBufReadExt;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crm-api"))
        .args(["--addr", "127.0.0.1:0", "--api-key", "k1", "--api-key", "k2"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    let mut stdout = tokio::io::BufReader::new(stdout);
    let read = stdout.read_line(&mut line);
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("a line in time").unwrap();
    let base = line.strip_suffix('\n').and_then(|l| l.strip_prefix("listening on http://127.0.0.1:")).expect(&line);
    assert!(base.parse::<u16>().is_ok_and(|port| port != 0), "{line:?}");

    let me = |key: &'static str| client().get(format!("http://127.0.0.1:{base}/me")).header("X-API-Key", key).send();
    assert_eq!(me("k2").await.unwrap().status(), 200);
    assert_eq!(me(KEY).await.unwrap().status(), 401);
    child.kill().await.unwrap();
}
