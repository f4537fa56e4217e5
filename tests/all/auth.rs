//! Each auth type against real servers on 127.0.0.1: basic (the header the
//! server receives), digest (a server that really checks the digest),
//! session and OAuth 2 with autoRefresh (a 401 refreshes once and retries
//! once, visibly), and connection labels.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use zapwasm_host::{App, Bundle, Invocation, Outcome, Scope, Source, ZError};
use zapwasm_tests::{
    AUTH_BASIC, AUTH_DIGEST, AUTH_OAUTH2, AUTH_SESSION, DigestServer, Received, Recorder, call, host, ok, z_error,
};

async fn load(component: &str, base_url: &str) -> App {
    host().load_file(component).await.expect("the auth guest loads").with_env([("API_BASE", base_url.to_string())])
}

fn bundle(auth_data: Value, input_data: Value) -> Bundle {
    Bundle {
        auth_data: auth_data.as_object().cloned().unwrap_or_default(),
        input_data: input_data.as_object().cloned().unwrap_or_default(),
        ..Bundle::default()
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn label(outcome: &Outcome) -> &str {
    ok(outcome).as_str().expect("a label is a string")
}

fn host_lines(outcome: &Outcome) -> Vec<&str> {
    outcome.logs.iter().filter(|line| line.source == Source::Host).map(|line| line.message.as_str()).collect()
}

fn statuses(outcome: &Outcome) -> Vec<Option<u16>> {
    outcome.http.iter().map(|exchange| exchange.status).collect()
}

const FETCH: &str = "creates.fetch.operation.perform";

#[tokio::test]
async fn basic_auth_sends_the_header_over_the_apps_own() {
    let server = Recorder::start().await;
    let app = load(AUTH_BASIC, &server.base_url).await;
    let outcome = call(&app, FETCH, bundle(json!({"username": "ada", "password": "s3cret"}), json!({}))).await;
    assert_eq!(ok(&outcome), &json!({"data": {"ok": true}}));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].uri, "/me");
    assert_eq!(received[0].header("authorization"), Some("Basic YWRhOnMzY3JldA=="));
    assert_eq!(received[0].headers.iter().filter(|(name, _)| name == "authorization").count(), 1);
}

#[tokio::test]
async fn basic_auth_connection_label_renders_the_test_result_and_auth_data() {
    let server = Recorder::start().await;
    let app = load(AUTH_BASIC, &server.base_url).await;
    let invocation =
        Invocation::new("authentication.test", bundle(json!({"username": "ada", "password": "pw"}), json!({})))
            .scope(Scope::new("test", "account-1"));
    let outcome = app.connection_label(invocation).await;
    assert_eq!(label(&outcome), "ada (true)");
    assert_eq!(server.received().len(), 1, "the label runs the auth test once");
}

#[tokio::test]
async fn digest_auth_answers_the_challenge_the_server_verifies() {
    let server = DigestServer::start("ada", "s3cret").await;
    let app = load(AUTH_DIGEST, &server.base_url).await;
    let outcome =
        call(&app, FETCH, bundle(json!({"username": "ada", "password": "s3cret"}), json!({"path": "/me?x=1"}))).await;
    assert_eq!(ok(&outcome), &json!({"data": {"user": "ada"}}));
    assert_eq!(statuses(&outcome), [Some(401), Some(200)], "the challenge, then the answer");

    let invocation =
        Invocation::new("authentication.test", bundle(json!({"username": "ada", "password": "s3cret"}), json!({})))
            .scope(Scope::new("test", "account-1"));
    assert_eq!(label(&app.connection_label(invocation).await), "ada");
}

#[tokio::test]
async fn digest_auth_with_a_wrong_password_ends_in_a_401_response_error() {
    let server = DigestServer::start("ada", "s3cret").await;
    let app = load(AUTH_DIGEST, &server.base_url).await;
    let outcome = call(&app, FETCH, bundle(json!({"username": "ada", "password": "wrong"}), json!({}))).await;
    assert_eq!(statuses(&outcome), [Some(401), Some(401)], "one answer to the challenge, no more");
    let ZError::Response { status, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 401);
}

/// An API with sessions and OAuth 2 tokens: `POST /session` gives
/// `session-2`, `POST /oauth/token` gives `access-2`/`refresh-2`; `/me`
/// answers 200 `{"name":"Ada"}` only for `X-Session: session-2` or
/// `Authorization: Bearer access-2`, else 401; `/never` is always 401.
struct TokenApi {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl TokenApi {
    async fn start() -> TokenApi {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
                let headers: Vec<(String, String)> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                let entry = Received {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    headers,
                    body: body.to_vec(),
                };
                let fresh = entry.header("x-session") == Some("session-2")
                    || entry.header("authorization") == Some("Bearer access-2");
                log.lock().expect("the log lock").push(entry);
                match parts.uri.path() {
                    "/session" => axum::Json(json!({"sessionKey": "session-2"})).into_response(),
                    "/oauth/token" => {
                        axum::Json(json!({"access_token": "access-2", "refresh_token": "refresh-2"})).into_response()
                    }
                    "/me" if fresh => axum::Json(json!({"name": "Ada"})).into_response(),
                    _ => (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "stale"}))).into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a local address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenApi { base_url: format!("http://{addr}"), received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the log lock").clone()
    }

    fn requests(&self) -> Vec<String> {
        self.received().iter().map(|r| format!("{} {}", r.method, r.uri)).collect()
    }
}

#[tokio::test]
async fn session_auth_refreshes_once_on_a_401_and_retries_once() {
    let api = TokenApi::start().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({}))).await;
    assert_eq!(ok(&outcome), &json!({"data": {"name": "Ada"}}));
    assert_eq!(api.requests(), ["GET /me", "POST /session", "GET /me"]);
    let received = api.received();
    assert_eq!(received[0].header("x-session"), Some("session-1"));
    assert_eq!(
        serde_json::from_slice::<Value>(&received[1].body).expect("a JSON body"),
        json!({"username": "ada", "password": "pw"})
    );
    assert_eq!(received[2].header("x-session"), Some("session-2"));
    assert_eq!(statuses(&outcome), [Some(401), Some(200), Some(200)], "every exchange is in the outcome");
    assert_eq!(
        host_lines(&outcome),
        ["the credentials were stale: refreshed them with authentication.sessionConfig.perform and retried \
             creates.fetch.operation.perform once"]
    );
    assert_eq!(
        outcome.auth_data,
        Some(object(json!({"username": "ada", "password": "pw", "sessionKey": "session-2"})))
    );
}

#[tokio::test]
async fn session_auth_never_refreshes_twice() {
    let api = TokenApi::start().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({"path": "/never"}))).await;
    assert_eq!(api.requests(), ["GET /never", "POST /session", "GET /never"]);
    assert!(matches!(z_error(outcome), ZError::RefreshAuth { .. }));
}

#[tokio::test]
async fn session_auth_perform_gets_a_token_and_the_label_renders() {
    let api = TokenApi::start().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let outcome = call(
        &app,
        "authentication.sessionConfig.perform",
        bundle(json!({"username": "ada", "password": "pw"}), json!({})),
    )
    .await;
    assert_eq!(ok(&outcome), &json!({"sessionKey": "session-2"}));
    assert_eq!(api.requests(), ["POST /session"]);

    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"username": "ada", "password": "pw", "sessionKey": "session-2"}), json!({})),
    )
    .scope(Scope::new("test", "account-1"));
    assert_eq!(label(&app.connection_label(invocation).await), "ada: Ada");
}

#[tokio::test]
async fn oauth2_auto_refresh_refreshes_once_on_a_401_and_retries_once() {
    let api = TokenApi::start().await;
    let app = load(AUTH_OAUTH2, &api.base_url).await;
    let auth = json!({"access_token": "access-1", "refresh_token": "refresh-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({}))).await;
    assert_eq!(ok(&outcome), &json!({"data": {"name": "Ada"}}));
    assert_eq!(api.requests(), ["GET /me", "POST /oauth/token", "GET /me"]);
    let received = api.received();
    assert_eq!(received[0].header("authorization"), Some("Bearer access-1"));
    assert_eq!(received[1].header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(std::str::from_utf8(&received[1].body), Ok("grant_type=refresh_token&refresh_token=refresh-1"));
    assert_eq!(received[2].header("authorization"), Some("Bearer access-2"));
    assert_eq!(statuses(&outcome), [Some(401), Some(200), Some(200)]);
    assert_eq!(
        host_lines(&outcome),
        ["the credentials were stale: refreshed them with authentication.oauth2Config.refreshAccessToken and \
             retried creates.fetch.operation.perform once"]
    );
    assert_eq!(outcome.auth_data, Some(object(json!({"access_token": "access-2", "refresh_token": "refresh-2"}))));
}

#[tokio::test]
async fn oauth2_get_access_token_exchanges_the_code() {
    let api = TokenApi::start().await;
    let app = load(AUTH_OAUTH2, &api.base_url).await;
    let outcome = call(
        &app,
        "authentication.oauth2Config.getAccessToken",
        bundle(json!({}), json!({"code": "c0de", "redirect_uri": "http://127.0.0.1:9/cb"})),
    )
    .await;
    assert_eq!(ok(&outcome), &json!({"access_token": "access-2", "refresh_token": "refresh-2"}));
    let received = api.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        std::str::from_utf8(&received[0].body),
        Ok("grant_type=authorization_code&code=c0de&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb")
    );

    let invocation = Invocation::new("authentication.test", bundle(json!({"access_token": "access-2"}), json!({})))
        .scope(Scope::new("test", "account-1"));
    assert_eq!(label(&app.connection_label(invocation).await), "Ada");
}

#[tokio::test]
async fn a_stale_session_raises_refresh_auth_even_with_skip_throw_for_status() {
    let api = TokenApi::start().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, "creates.fetch_skip.operation.perform", bundle(auth, json!({}))).await;
    // Had the 401 reached the guest, the result would be {"status": 401, ...}.
    assert_eq!(ok(&outcome), &json!({"status": 200, "data": {"name": "Ada"}}));
    assert_eq!(api.requests(), ["GET /me", "POST /session", "GET /me"]);
    assert_eq!(host_lines(&outcome).len(), 1);
}

#[tokio::test]
async fn a_401_is_not_stale_auth_for_basic() {
    let server = Recorder::start().await;
    let app = load(AUTH_BASIC, &server.base_url).await;
    let outcome = call(
        &app,
        "creates.fetch_skip.operation.perform",
        bundle(json!({"username": "ada", "password": "pw"}), json!({"path": "/status/401"})),
    )
    .await;
    assert_eq!(ok(&outcome), &json!({"status": 401, "data": {"status": 401}}));
    assert_eq!(server.received().len(), 1);
    assert!(host_lines(&outcome).is_empty(), "nothing is refreshed or retried");
    assert_eq!(outcome.auth_data, None);
}
