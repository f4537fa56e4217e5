//! Each auth type against real servers on 127.0.0.1: basic (the header the
//! server receives), digest (a server that really checks the digest),
//! session and OAuth 2 with autoRefresh (a 401 refreshes once and retries
//! once, visibly), OAuth 2 without autoRefresh (a 401 is a plain error),
//! custom API-key auth, OAuth 1 (a server that recomputes the HMAC-SHA1
//! signature), and connection labels.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use zapwasm_host::{App, Bundle, Invocation, Outcome, Scope, Source, ZError};
use zapwasm_tests::{
    AUTH_BASIC, AUTH_CUSTOM, AUTH_DIGEST, AUTH_OAUTH1, AUTH_OAUTH2, AUTH_OAUTH2_PLAIN, AUTH_SESSION, DigestServer,
    Received, Recorder, call, host, ok, z_error,
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

fn label(outcome: &Outcome) -> String {
    ok(outcome).as_str().expect("a label is a string").to_string()
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
    assert_eq!(ok(&outcome), json!({"data": {"ok": true}}));
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
    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"username": "ada", "password": "pw"}), json!({})),
        Scope::new("test", "account-1"),
    );
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
    assert_eq!(ok(&outcome), json!({"data": {"user": "ada"}}));
    assert_eq!(statuses(&outcome), [Some(401), Some(200)], "the challenge, then the answer");

    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"username": "ada", "password": "s3cret"}), json!({})),
        Scope::new("test", "account-1"),
    );
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
pub(crate) async fn token_api() -> Recorder {
    Recorder::answering(|request: &Received| {
        let fresh = request.header("x-session") == Some("session-2")
            || request.header("authorization") == Some("Bearer access-2");
        match request.uri.split('?').next().unwrap_or_default() {
            "/session" => axum::Json(json!({"sessionKey": "session-2"})).into_response(),
            "/oauth/token" => {
                axum::Json(json!({"access_token": "access-2", "refresh_token": "refresh-2"})).into_response()
            }
            "/me" if fresh => axum::Json(json!({"name": "Ada"})).into_response(),
            _ => (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "stale"}))).into_response(),
        }
    })
    .await
}

#[tokio::test]
async fn session_auth_refreshes_once_on_a_401_and_retries_once() {
    let api = token_api().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({}))).await;
    assert_eq!(ok(&outcome), json!({"data": {"name": "Ada"}}));
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
async fn a_buffered_create_sends_each_batch_after_a_refresh_with_the_refreshed_credentials() {
    let api = token_api().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = object(json!({"username": "ada", "password": "pw", "sessionKey": "session-1"}));
    let runs = ["r1", "r2", "r3"].map(|id| zapwasm_host::BufferedRun { id: id.into(), input_data: Map::new() });
    let scope = Scope::new("test", "account-1");
    let buffered = app.perform_buffer("fetch_each", &scope, auth, runs.into()).await.expect("ran");
    assert_eq!(buffered.outcomes.len(), 3, "one performBuffer call per run (limit 1)");
    for result in &buffered.results {
        assert_eq!(result.result.as_ref().expect("each run answered"), &json!({"name": "Ada"}), "{}", result.id);
    }
    // Refreshed once, by the first batch; the others sent what it got (an
    // API that rotates its tokens would refuse the old ones outright).
    assert_eq!(api.requests(), ["GET /me", "POST /session", "GET /me", "GET /me", "GET /me"]);
    let sessions: Vec<_> = api.received().iter().map(|r| r.header("x-session").map(str::to_string)).collect();
    assert_eq!(sessions[3..], [Some("session-2".to_string()), Some("session-2".to_string())]);
    let refreshed = buffered.outcomes.iter().filter(|outcome| outcome.auth_data.is_some()).count();
    assert_eq!(refreshed, 1, "the embedder gets the new credentials once, from the batch that refreshed");
}

#[tokio::test]
async fn session_auth_never_refreshes_twice() {
    let api = token_api().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({"path": "/never"}))).await;
    assert_eq!(api.requests(), ["GET /never", "POST /session", "GET /never"]);
    assert!(matches!(z_error(outcome), ZError::RefreshAuth { .. }));
}

#[tokio::test]
async fn session_auth_perform_as_a_shorthand_request_gets_a_token_and_the_label_renders() {
    let api = token_api().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let outcome = call(
        &app,
        "authentication.sessionConfig.perform",
        bundle(json!({"username": "ada", "password": "pw"}), json!({})),
    )
    .await;
    assert_eq!(ok(&outcome), json!({"sessionKey": "session-2"}), "the result is the parsed body");
    assert_eq!(api.requests(), ["POST /session"]);
    // `{{process.env.API_BASE}}` in the URL, `{{bundle.authData.*}}` in the body.
    let session = &api.received()[0];
    assert_eq!(session.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(std::str::from_utf8(&session.body), Ok(r#"{"username":"ada","password":"pw"}"#));

    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"username": "ada", "password": "pw", "sessionKey": "session-2"}), json!({})),
        Scope::new("test", "account-1"),
    );
    assert_eq!(label(&app.connection_label(invocation).await), "ada: Ada");
}

#[tokio::test]
async fn oauth2_auto_refresh_refreshes_once_on_a_401_and_retries_once() {
    let api = token_api().await;
    let app = load(AUTH_OAUTH2, &api.base_url).await;
    let auth = json!({"access_token": "access-1", "refresh_token": "refresh-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({}))).await;
    assert_eq!(ok(&outcome), json!({"data": {"name": "Ada"}}));
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

/// The tokens a call returned (called directly, not through a flow) are
/// censored in what it logged and exchanged: the token endpoint's answer.
fn assert_tokens_censored(outcome: &Outcome) {
    let kept = format!("{:?} {:?}", outcome.logs, outcome.http);
    assert!(kept.contains(":censored:"), "{kept}");
    for token in ["access-2", "refresh-2", "access-1", "refresh-1"] {
        assert!(!kept.contains(token), "{token} kept raw: {kept}");
    }
}

#[tokio::test]
async fn oauth2_get_access_token_exchanges_the_code() {
    let api = token_api().await;
    let app = load(AUTH_OAUTH2, &api.base_url).await;
    let outcome = call(
        &app,
        "authentication.oauth2Config.getAccessToken",
        bundle(json!({}), json!({"code": "c0de", "redirect_uri": "http://127.0.0.1:9/cb"})),
    )
    .await;
    assert_eq!(ok(&outcome), json!({"access_token": "access-2", "refresh_token": "refresh-2"}));
    assert_tokens_censored(&outcome);
    let received = api.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        std::str::from_utf8(&received[0].body),
        Ok("grant_type=authorization_code&code=c0de&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb")
    );

    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"access_token": "access-2"}), json!({})),
        Scope::new("test", "account-1"),
    );
    assert_eq!(label(&app.connection_label(invocation).await), "Ada");
}

#[tokio::test]
async fn oauth2_shorthand_steps_render_the_code_the_refresh_token_and_the_client_id() {
    let api = token_api().await;
    let app = host()
        .load_file(AUTH_OAUTH2_PLAIN)
        .await
        .expect("the OAuth 2 guest loads")
        .with_env([("API_BASE", api.base_url.clone()), ("CLIENT_ID", "cid".into())]);
    let input = json!({"code": "c0de", "redirect_uri": "http://127.0.0.1:9/cb", "code_verifier": "v-1"});
    let outcome = call(&app, "authentication.oauth2Config.getAccessToken", bundle(json!({}), input)).await;
    assert_eq!(ok(&outcome), json!({"access_token": "access-2", "refresh_token": "refresh-2"}));
    let outcome = call(
        &app,
        "authentication.oauth2Config.refreshAccessToken",
        bundle(json!({"access_token": "access-1", "refresh_token": "refresh-1"}), json!({})),
    )
    .await;
    assert_eq!(ok(&outcome), json!({"access_token": "access-2", "refresh_token": "refresh-2"}));
    assert_tokens_censored(&outcome);
    let invocation = Invocation::new(
        "authentication.test",
        bundle(json!({"access_token": "access-2"}), json!({})),
        Scope::new("test", "account-1"),
    );
    assert_eq!(label(&app.connection_label(invocation).await), "Ada", "the shorthand test's result labels it");

    assert_eq!(api.requests(), ["POST /oauth/token", "POST /oauth/token", "GET /me"]);
    let received = api.received();
    assert_eq!(received[0].header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        std::str::from_utf8(&received[0].body),
        Ok("grant_type=authorization_code&code=c0de&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier=v-1\
            &client_id=cid")
    );
    assert_eq!(
        std::str::from_utf8(&received[1].body),
        Ok("grant_type=refresh_token&refresh_token=refresh-1&client_id=cid")
    );
    assert_eq!(received[2].header("authorization"), Some("Bearer access-2"), "beforeRequest adds the token");
}

#[tokio::test]
async fn a_stale_session_raises_refresh_auth_even_with_skip_throw_for_status() {
    let api = token_api().await;
    let app = load(AUTH_SESSION, &api.base_url).await;
    let auth = json!({"username": "ada", "password": "pw", "sessionKey": "session-1"});
    let outcome = call(&app, "creates.fetch_skip.operation.perform", bundle(auth, json!({}))).await;
    // Had the 401 reached the guest, the result would be {"status": 401, ...}.
    assert_eq!(ok(&outcome), json!({"status": 200, "data": {"name": "Ada"}}));
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
    assert_eq!(ok(&outcome), json!({"status": 401, "data": {"status": 401}}));
    assert_eq!(server.received().len(), 1);
    assert!(host_lines(&outcome).is_empty(), "nothing is refreshed or retried");
    assert_eq!(outcome.auth_data, None);
}

#[tokio::test]
async fn oauth2_without_auto_refresh_makes_a_401_a_plain_response_error() {
    let api = token_api().await;
    let app = load(AUTH_OAUTH2_PLAIN, &api.base_url).await;
    let auth = json!({"access_token": "access-1", "refresh_token": "refresh-1"});
    let outcome = call(&app, FETCH, bundle(auth, json!({}))).await;
    assert_eq!(api.requests(), ["GET /me"], "no refresh and no retry");
    assert_eq!(statuses(&outcome), [Some(401)]);
    assert!(host_lines(&outcome).is_empty(), "nothing is refreshed: {:?}", outcome.logs);
    assert_eq!(outcome.auth_data, None);
    let ZError::Response { status, message, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&message).expect("the message is JSON"),
        json!({
            "status": 401,
            "headers": {"content-type": "application/json", "retry-after": null},
            "content": r#"{"error":"stale"}"#,
            "request": {"url": format!("{}/me", api.base_url)},
        }),
        "throwForStatus's message"
    );
}

const API_KEY: &str = "k-live-0123456789";

/// An API answering `/me` with `{"name":"Ada"}` only when [`API_KEY`] is
/// both the `api_key` query parameter and the `X-Api-Key` header; else 401.
async fn api_key_server() -> Recorder {
    Recorder::answering(|request: &Received| {
        let (path, query) = request.uri.split_once('?').unwrap_or((&request.uri, ""));
        let in_query = query.split('&').any(|pair| pair == format!("api_key={API_KEY}"));
        if path == "/me" && in_query && request.header("x-api-key") == Some(API_KEY) {
            axum::Json(json!({"name": "Ada"})).into_response()
        } else {
            (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad key"}))).into_response()
        }
    })
    .await
}

#[tokio::test]
async fn api_key_auth_sends_the_key_in_the_query_and_a_header_and_keeps_it_out_of_the_logs() {
    let server = api_key_server().await;
    let app = load(AUTH_CUSTOM, &server.base_url).await;
    let auth = json!({"api_key": API_KEY, "account": "acme"});
    let outcome = call(&app, FETCH, bundle(auth, json!({"path": "/me?x=1"}))).await;
    assert_eq!(ok(&outcome), json!({"data": {"name": "Ada"}}));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].uri, format!("/me?x=1&api_key={API_KEY}"), "beforeRequest's param");
    assert_eq!(received[0].header("x-api-key"), Some(API_KEY), "the requestTemplate's rendered curly");
    let recorded = format!("{:?} {:?}", outcome.logs, outcome.http);
    assert!(!recorded.contains(API_KEY), "the key is censored everywhere: {recorded}");
    assert!(recorded.contains("api_key=:censored:"), "{recorded}");
}

#[tokio::test]
async fn api_key_auth_test_passes_with_the_key_fails_without_and_the_label_renders() {
    let server = api_key_server().await;
    let app = load(AUTH_CUSTOM, &server.base_url).await;
    let auth = json!({"api_key": API_KEY, "account": "acme"});
    let outcome = call(&app, "authentication.test", bundle(auth.clone(), json!({}))).await;
    assert_eq!(ok(&outcome), json!({"name": "Ada"}));

    let invocation = Invocation::new("authentication.test", bundle(auth, json!({})), Scope::new("test", "account-1"));
    assert_eq!(label(&app.connection_label(invocation).await), "acme: Ada");

    let wrong = json!({"api_key": "k-wrong", "account": "acme"});
    let outcome = call(&app, "authentication.test", bundle(wrong, json!({}))).await;
    assert_eq!(statuses(&outcome), [Some(401)], "custom auth never refreshes");
    let ZError::Response { status, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 401);
    assert_eq!(server.received().len(), 3);
}

const CONSUMER_KEY: &str = "consumer-key-1";
const CONSUMER_SECRET: &str = "consumer-secret-1";
const OAUTH_TOKEN: &str = "token-1";
const OAUTH_TOKEN_SECRET: &str = "token-secret-1";

/// RFC 3986 percent-encoding (RFC 5849 section 3.6): unreserved characters stay.
fn rfc3986(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Checks an RFC 5849 HMAC-SHA1 signature from what the server received:
/// the Authorization header's fields, the query, a form body, and the Host
/// header; `token` is the token (and its secret) the request must carry.
fn oauth1_check(request: &Received, token: Option<(&str, &str)>) -> Result<(), String> {
    use base64::Engine as _;
    use hmac::Mac as _;

    let header = request.header("authorization").ok_or("no Authorization header")?;
    let fields = header.strip_prefix("OAuth ").ok_or_else(|| format!("not an OAuth header: {header}"))?;
    let mut oauth = Vec::new();
    for field in fields.split(", ") {
        let (key, value) = field.split_once('=').ok_or_else(|| format!("a field without '=': {field}"))?;
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or("an unquoted value")?;
        let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
        oauth.push((decode(key), decode(value)));
    }
    let get = |key: &str| oauth.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let expect = |key: &str, wanted: Option<&str>| {
        if get(key) == wanted { Ok(()) } else { Err(format!("{key} is {:?}, not {wanted:?}", get(key))) }
    };
    expect("oauth_consumer_key", Some(CONSUMER_KEY))?;
    expect("oauth_signature_method", Some("HMAC-SHA1"))?;
    expect("oauth_version", Some("1.0"))?;
    expect("oauth_token", token.map(|(token, _)| token))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
    let timestamp: u64 = get("oauth_timestamp").and_then(|t| t.parse().ok()).ok_or("no timestamp")?;
    if timestamp.abs_diff(now) > 300 || get("oauth_nonce").is_none_or(str::is_empty) {
        return Err("a stale timestamp or no nonce".into());
    }
    let signature = get("oauth_signature").ok_or("no signature")?;

    let (path, query) = request.uri.split_once('?').unwrap_or((&request.uri, ""));
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if request.header("content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
        params.extend(url::form_urlencoded::parse(&request.body).into_owned());
    }
    params.extend(oauth.iter().filter(|(key, _)| key != "oauth_signature").cloned());
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (rfc3986(k), rfc3986(v))).collect();
    encoded.sort();
    let normalized: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base_uri = format!("http://{}{path}", request.header("host").ok_or("no Host header")?);
    let base = format!("{}&{}&{}", request.method, rfc3986(&base_uri), rfc3986(&normalized.join("&")));
    let key = format!("{}&{}", rfc3986(CONSUMER_SECRET), rfc3986(token.map_or("", |(_, secret)| secret)));
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(base.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if signature == expected { Ok(()) } else { Err(format!("signature {signature}, expected {expected} over {base}")) }
}

/// An OAuth 1 API that verifies every signature: `/oauth/request_token`
/// (signed by the consumer alone) answers a form with a temporary token;
/// `/oauth/access_token` (signed with the temporary token, the form holding
/// `oauth_verifier=verifier-1`) answers [`OAUTH_TOKEN`];
/// `/me` and `/notes` (signed with [`OAUTH_TOKEN`]) answer JSON; a bad
/// signature is a 401 saying why.
async fn oauth1_server() -> Recorder {
    Recorder::answering(|request: &Received| {
        let path = request.uri.split('?').next().unwrap_or_default();
        let token = match path {
            "/oauth/request_token" => None,
            "/oauth/access_token" => Some(("temp-1", "temp-secret")),
            _ => Some((OAUTH_TOKEN, OAUTH_TOKEN_SECRET)),
        };
        if let Err(why) = oauth1_check(request, token) {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": why }))).into_response();
        }
        match path {
            "/oauth/request_token" => (
                [("content-type", "application/x-www-form-urlencoded")],
                "oauth_token=temp-1&oauth_token_secret=temp-secret&oauth_callback_confirmed=true",
            )
                .into_response(),
            "/oauth/access_token" if std::str::from_utf8(&request.body) == Ok("oauth_verifier=verifier-1") => (
                [("content-type", "application/x-www-form-urlencoded")],
                format!("oauth_token={OAUTH_TOKEN}&oauth_token_secret={OAUTH_TOKEN_SECRET}"),
            )
                .into_response(),
            "/oauth/access_token" => (StatusCode::UNAUTHORIZED, "a wrong verifier").into_response(),
            "/me" => axum::Json(json!({"name": "Ada"})).into_response(),
            _ => axum::Json(json!({"created": true})).into_response(),
        }
    })
    .await
}

async fn oauth1_app(base_url: &str, consumer_secret: &str) -> App {
    host()
        .load_file(AUTH_OAUTH1)
        .await
        .expect("the OAuth 1 guest loads")
        .with_env([
            ("API_BASE", base_url.to_string()),
            ("CLIENT_ID", CONSUMER_KEY.to_string()),
            ("CLIENT_SECRET", consumer_secret.to_string()),
        ])
        .with_secret_env(["CLIENT_SECRET"])
}

#[tokio::test]
async fn oauth1_signs_every_request_with_hmac_sha1_as_the_server_recomputes_it() {
    let server = oauth1_server().await;
    let app = oauth1_app(&server.base_url, CONSUMER_SECRET).await;
    let auth = json!({"oauth_token": OAUTH_TOKEN, "oauth_token_secret": OAUTH_TOKEN_SECRET});

    let outcome = call(&app, FETCH, bundle(auth.clone(), json!({"path": "/me?q=a%20b&x=1"}))).await;
    assert_eq!(ok(&outcome), json!({"data": {"name": "Ada"}}));
    let form = json!({"text": "hello world", "tag": "a&b=c/é"});
    let outcome = call(&app, "creates.note.operation.perform", bundle(auth.clone(), form)).await;
    assert_eq!(ok(&outcome), json!({"data": {"created": true}}), "the signature covers the query and the form");
    let outcome = call(
        &app,
        "authentication.oauth1Config.getRequestToken",
        bundle(json!({}), json!({"redirect_uri": "http://127.0.0.1:9/cb"})),
    )
    .await;
    assert_eq!(
        ok(&outcome),
        json!({"oauth_token": "temp-1", "oauth_token_secret": "temp-secret", "oauth_callback_confirmed": "true"})
    );
    let invocation = Invocation::new("authentication.test", bundle(auth, json!({})), Scope::new("test", "account-1"));
    assert_eq!(label(&app.connection_label(invocation).await), "Ada");

    assert_eq!(
        server.requests(),
        ["GET /me?q=a%20b&x=1", "POST /notes?via=zapwasm", "POST /oauth/request_token", "GET /me"]
    );
    assert!(server.received().iter().all(|r| r.header("authorization").is_some_and(|h| h.starts_with("OAuth "))));
}

#[tokio::test]
async fn oauth1_signed_with_a_wrong_secret_is_refused_by_the_server() {
    let server = oauth1_server().await;
    let app = oauth1_app(&server.base_url, "not-the-consumer-secret").await;
    let auth = json!({"oauth_token": OAUTH_TOKEN, "oauth_token_secret": OAUTH_TOKEN_SECRET});
    let ZError::Response { status, .. } = z_error(call(&app, FETCH, bundle(auth, json!({}))).await) else {
        panic!("expected a response error")
    };
    assert_eq!(status, 401);

    let app = oauth1_app(&server.base_url, CONSUMER_SECRET).await;
    let wrong_token_secret = json!({"oauth_token": OAUTH_TOKEN, "oauth_token_secret": "guessed"});
    let ZError::Response { status, .. } = z_error(call(&app, FETCH, bundle(wrong_token_secret, json!({}))).await)
    else {
        panic!("expected a response error")
    };
    assert_eq!(status, 401);
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn oauth1_connects_through_the_request_token_the_authorize_url_and_the_access_token() {
    let server = oauth1_server().await;
    let app = oauth1_app(&server.base_url, CONSUMER_SECRET).await;
    let authorization =
        app.authorize(&Scope::local(), Bundle::default(), "http://127.0.0.1:9/cb").await.expect("authorize");
    assert_eq!(authorization.url, format!("{}/authorize?oauth_token=temp-1", server.base_url));
    assert_eq!(authorization.redirect_uri, "http://127.0.0.1:9/cb");
    assert_eq!(authorization.code_verifier, None, "PKCE is OAuth 2's");

    let pairs = |items: &[(&str, &str)]| items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let forged = pairs(&[("oauth_token", "someone-else"), ("oauth_verifier", "verifier-1")]);
    let refused = app.complete_authorization(&Scope::local(), &authorization, &forged, Bundle::default()).await;
    assert!(matches!(refused, Err(zapwasm_host::ConnectError::StateMismatch)), "{refused:?}");

    let back = pairs(&[("oauth_token", "temp-1"), ("oauth_verifier", "verifier-1")]);
    let outcome =
        app.complete_authorization(&Scope::local(), &authorization, &back, Bundle::default()).await.expect("complete");
    let tokens = object(json!({"oauth_token": OAUTH_TOKEN, "oauth_token_secret": OAUTH_TOKEN_SECRET}));
    assert_eq!(outcome.auth_data, Some(tokens.clone()), "the request token is not kept");
    assert_eq!(server.requests(), ["POST /oauth/request_token", "POST /oauth/access_token"]);
    let request_token = &server.received()[0];
    assert_eq!(std::str::from_utf8(&request_token.body), Ok("oauth_callback=http%3A%2F%2F127.0.0.1%3A9%2Fcb"));

    let invocation = Invocation::local("authentication.test", bundle(Value::Object(tokens), json!({})));
    assert_eq!(label(&app.connection_label(invocation).await), "Ada");
}
