//! Secrets, and what the host derives from them, never reach what the host
//! emits, for each auth type's own headers: a server echoes every header
//! it got back in a 400, so the secrets come back in the response body, the
//! response error and the exchange record, and the outcome must hold none
//! of them (while the server did get them).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{Value, json};
use zapwasm_host::{BufferedRun, Bundle, Invocation, Outcome, Scope};
use zapwasm_tests::{
    AUTH_BASIC, AUTH_CUSTOM, AUTH_DIGEST, AUTH_OAUTH1, AUTH_OAUTH2_PLAIN, AUTH_SESSION, CRM, HOSTILE, Received,
    Recorder, call, host, input, ok,
};

/// A server answering 400 with every header and the URI it got; with
/// `digest`, a request without Authorization gets a digest challenge first.
async fn echo(digest: bool) -> Recorder {
    Recorder::answering(move |received: &Received| {
        if digest && received.header("authorization").is_none() {
            let challenge = r#"Digest realm="echo", qop="auth", nonce="n0nce", opaque="op", algorithm=MD5"#;
            return (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)], "challenge").into_response();
        }
        let echoed = json!({"uri": received.uri, "headers": received.headers});
        (StatusCode::BAD_REQUEST, axum::Json(echoed)).into_response()
    })
    .await
}

/// Runs the auth guest's `fetch` against `server` with this authData.
async fn fetch(
    component: &str,
    server: &Recorder,
    auth_data: Value,
    env: &[(&str, &str)],
    secret_env: &[&str],
) -> Outcome {
    let mut vars = vec![("API_BASE".to_string(), server.base_url.clone())];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let app = host()
        .load_file(component)
        .await
        .expect("the auth guest loads")
        .with_env(vars)
        .with_secret_env(secret_env.iter().map(|name| name.to_string()).collect::<Vec<_>>());
    let bundle = Bundle { auth_data: auth_data.as_object().cloned().unwrap_or_default(), ..Bundle::default() };
    call(&app, "creates.fetch.operation.perform", bundle).await
}

/// The outcome holds none of `secrets`, says it censored something, and
/// failed with the 400 (the echo is in it).
fn assert_censored(what: &str, outcome: &Outcome, secrets: &[String]) {
    let everything = format!("{:?} {:?} {:?}", outcome.result, outcome.logs, outcome.http);
    assert!(everything.contains("\"status\":400") || everything.contains("status: 400"), "{what}: {everything}");
    for secret in secrets {
        assert!(!everything.contains(secret.as_str()), "{what}: {secret} leaked: {everything}");
    }
    assert!(everything.contains(":censored:"), "{what}: {everything}");
}

/// `name="value"` in an auth header.
fn param(header: &str, name: &str) -> String {
    let start = header.find(&format!("{name}=\"")).expect("the param") + name.len() + 2;
    header[start..start + header[start..].find('"').expect("a closing quote")].to_string()
}

fn authorization(server: &Recorder) -> String {
    let received = server.received();
    received.last().and_then(|r| r.header("authorization")).expect("an Authorization header").to_string()
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn basic_credentials_are_censored_as_sent() {
    let server = echo(false).await;
    let outcome = fetch(AUTH_BASIC, &server, json!({"username": "ada", "password": "s3cret-pw"}), &[], &[]).await;
    let token = base64("ada:s3cret-pw");
    assert_eq!(authorization(&server), format!("Basic {token}"), "the server got the real header");
    assert_censored("basic", &outcome, &["s3cret-pw".into(), token]);
    let sent = &outcome.http[0].request_headers;
    assert!(sent.iter().any(|(k, v)| k == "authorization" && v == "Basic :censored:"), "{sent:?}");
}

#[tokio::test]
async fn a_digest_answer_is_censored() {
    let server = echo(true).await;
    let outcome = fetch(AUTH_DIGEST, &server, json!({"username": "ada", "password": "s3cret-pw"}), &[], &[]).await;
    let answer = authorization(&server);
    let response = param(&answer, "response");
    assert_censored("digest", &outcome, &["s3cret-pw".into(), base64("ada:s3cret-pw"), response]);
}

#[tokio::test]
async fn an_api_key_is_censored_in_its_header_and_its_param() {
    let server = echo(false).await;
    let key = "k3y/with+chars&more";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key, "account": "acme"}), &[], &[]).await;
    let received = server.received();
    assert_eq!(received[0].header("x-api-key"), Some(key));
    assert!(received[0].uri.contains("k3y%2Fwith%2Bchars%26more"), "{}", received[0].uri);
    assert_censored("custom", &outcome, &[key.into(), "k3y%2Fwith%2Bchars%26more".into(), base64(&format!("{key}:"))]);
}

#[tokio::test]
async fn a_session_key_is_censored() {
    let server = echo(false).await;
    let auth = json!({"username": "ada", "password": "pw-123", "sessionKey": "sess-xyz-789"});
    let outcome = fetch(AUTH_SESSION, &server, auth, &[], &[]).await;
    assert_eq!(server.received()[0].header("x-session"), Some("sess-xyz-789"));
    assert_censored("session", &outcome, &["sess-xyz-789".into(), "pw-123".into(), base64("ada:pw-123")]);
}

#[tokio::test]
async fn a_bearer_token_is_censored() {
    let server = echo(false).await;
    let auth = json!({"access_token": "at-secret-555", "refresh_token": "rt-666"});
    let outcome = fetch(AUTH_OAUTH2_PLAIN, &server, auth, &[], &[]).await;
    assert_eq!(authorization(&server), "Bearer at-secret-555");
    assert_censored("oauth2", &outcome, &["at-secret-555".into()]);
}

#[tokio::test]
async fn an_oauth1_signature_and_its_secrets_are_censored() {
    let server = echo(false).await;
    let auth = json!({"oauth_token": "ot-token-222", "oauth_token_secret": "ots-secret-333"});
    let env = [("CLIENT_ID", "ck-consumer"), ("CLIENT_SECRET", "cs-secret-1")];
    let outcome = fetch(AUTH_OAUTH1, &server, auth, &env, &["CLIENT_SECRET"]).await;
    let header = authorization(&server);
    let signature = param(&header, "oauth_signature");
    let decoded = percent_encoding::percent_decode_str(&signature).decode_utf8_lossy().into_owned();
    assert_censored(
        "oauth1",
        &outcome,
        &["ot-token-222".into(), "ots-secret-333".into(), "cs-secret-1".into(), signature, decoded],
    );
}

#[tokio::test]
async fn a_secret_a_server_sends_back_in_a_response_header_is_censored() {
    // Servers echo what they got (a key in `X-Api-Key`, a token in a
    // `Location`); the record and its log line hold response headers too.
    let server = Recorder::answering(|received: &Received| {
        let key = received.header("x-api-key").unwrap_or_default().to_string();
        (StatusCode::BAD_REQUEST, [("x-echoed-key", key)], "{\"status\":400}").into_response()
    })
    .await;
    let key = "k3y-in-a-header";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key}), &[], &[]).await;
    assert_eq!(server.received()[0].header("x-api-key"), Some(key));
    assert_censored("a response header", &outcome, &[key.into()]);
    let answered = &outcome.http[0].response_headers;
    assert!(answered.iter().any(|(k, v)| k == "x-echoed-key" && v == ":censored:"), "{answered:?}");
}

#[tokio::test]
async fn a_secret_the_body_preview_cuts_through_is_censored_whole() {
    // The record keeps a body's first 4 KiB: a key the cut runs through
    // must not leave its head at the end of the preview.
    let server = Recorder::answering(|received: &Received| {
        let key = received.header("x-api-key").unwrap_or_default();
        (StatusCode::BAD_REQUEST, format!("{{\"status\":400}}{}{key}", "x".repeat(4096 - 14 - 10))).into_response()
    })
    .await;
    let key = "k3y-the-preview-cuts-through";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key}), &[], &[]).await;
    let preview = outcome.http[0].response_body.as_deref().unwrap_or_default();
    assert!(preview.len() >= 4096 - 10, "the preview keeps the body up to the key: {}", preview.len());
    assert_censored("a body cut through a key", &outcome, &[key.into(), key[..10].into()]);
}

#[tokio::test]
async fn a_secret_pasted_with_whitespace_around_it_is_censored_as_sent() {
    // Header values are sent trimmed: a key pasted with a space and a
    // newline around it reaches the server, and its echo, without them.
    let server = echo(false).await;
    let key = " k3y-pasted-with-spaces\n";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key}), &[], &[]).await;
    assert_eq!(server.received()[0].header("x-api-key"), Some(key.trim()));
    assert_censored("a key pasted with whitespace", &outcome, &[key.trim().into()]);
}

#[tokio::test]
async fn a_secret_a_server_sends_back_json_escaped_its_own_way_is_censored() {
    // PHP's json_encode writes `/` as `\/`; Go's encoding/json writes `&`,
    // `<` and `>` as `\u0026`, `\u003c`, `\u003e`.
    let server = Recorder::answering(|received: &Received| {
        let key = received.header("x-api-key").unwrap_or_default();
        let php = key.replace('/', "\\/");
        let go = key.replace('&', "\\u0026");
        let body = format!("{{\"status\":400,\"php\":\"{php}\",\"go\":\"{go}\"}}");
        (StatusCode::BAD_REQUEST, [("content-type", "application/json")], body).into_response()
    })
    .await;
    let key = "k3y/with+chars&more";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key}), &[], &[]).await;
    // No part of the key in any form: the response error's message quotes
    // the content as JSON, escaping it once more.
    assert_censored("JSON escapes", &outcome, &["k3y".into()]);
}

/// The hostile guest's `ssrf`: `inputData` is the request, `api_key` the
/// call's one secret.
async fn ssrf(key: &str, request: Value) -> Outcome {
    let app = host().load_file(HOSTILE).await.expect("the hostile guest loads");
    let bundle =
        Bundle { auth_data: json!({"api_key": key}).as_object().cloned().unwrap_or_default(), ..input(request) };
    call(&app, "triggers.ssrf.operation.perform", bundle).await
}

/// Everything the outcome holds, as `{:?}` writes it.
fn everything(outcome: &Outcome) -> String {
    format!("{:?} {:?} {:?}", outcome.result, outcome.logs, outcome.http)
}

#[tokio::test]
async fn a_secret_in_the_name_of_a_header_dropped_at_a_redirect_is_censored() {
    // The record names the headers a redirect to another origin left
    // behind; a name may hold the key as the request's headers do.
    let server = Recorder::start().await;
    let key = "k3y-in-a-header-name";
    let elsewhere = format!("http://localhost:{}/landed", server.port());
    let url = format!(
        "{}/redirect-to?url={}",
        server.base_url,
        percent_encoding::utf8_percent_encode(&elsewhere, percent_encoding::NON_ALPHANUMERIC)
    );
    let outcome = ssrf(key, json!({"url": url, "headers": {format!("x-token-{key}"): "1"}})).await;
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    assert_eq!(outcome.http[1].dropped_on_redirect, ["x-token-:censored:"]);
    let text = everything(&outcome);
    assert!(!text.contains(key), "{key} leaked: {text}");
}

#[tokio::test]
async fn a_secret_in_the_name_of_a_response_header_is_censored_in_the_calls_error() {
    let server = Recorder::answering(|received: &Received| {
        let name = format!("x-seen-{}", received.header("x-api-key").unwrap_or_default());
        (StatusCode::BAD_REQUEST, [(name, "yes".to_string())], "{\"status\":400}").into_response()
    })
    .await;
    let key = "k3y-in-a-name";
    let outcome = fetch(AUTH_CUSTOM, &server, json!({"api_key": key}), &[], &[]).await;
    assert_censored("a response header's name", &outcome, &[key.into()]);
    let error = format!("{:?}", outcome.result);
    assert!(error.contains("x-seen-:censored:"), "{error}");
}

#[tokio::test]
async fn a_secret_nested_in_an_auth_data_object_or_array_is_censored() {
    // authData as a session or token exchange may hand it over: a token in
    // an array of objects, beside the user it names (a safe key, at any
    // depth as at the top).
    let server = echo(false).await;
    let app = host().load_file(HOSTILE).await.expect("the hostile guest loads");
    let token = "n3sted-access-token";
    let auth =
        json!({"api_key": "k3y-at-the-top", "oauth": {"tokens": [{"access_token": token}], "user": "ada-nested"}});
    let request =
        json!({"url": format!("{}/me", server.base_url), "headers": {"x-token": token, "x-user": "ada-nested"}});
    let bundle = Bundle { auth_data: auth.as_object().cloned().unwrap_or_default(), ..input(request) };
    let outcome = call(&app, "triggers.ssrf.operation.perform", bundle).await;
    assert_eq!(server.received()[0].header("x-token"), Some(token), "the server got the token");
    assert_censored("a nested token", &outcome, &[token.into()]);
    let text = everything(&outcome);
    assert!(text.contains("ada-nested"), "a nested safe key's value is kept: {text}");
}

#[tokio::test]
async fn a_secret_a_connection_label_template_renders_is_censored() {
    // The hostile guest's label shows the API key; a service keeps the
    // label unsealed and hands it to anyone who lists connections.
    let app = host().load_file(HOSTILE).await.expect("the hostile guest loads");
    let key = "k3y-in-the-label";
    let bundle =
        Bundle { auth_data: json!({"api_key": key}).as_object().cloned().unwrap_or_default(), ..Bundle::default() };
    let invocation = Invocation::new("authentication.test", bundle, Scope::new("test", "account-1"));
    let outcome = app.connection_label(invocation).await;
    assert_eq!(ok(&outcome), json!("Hostile (:censored:)"));
}

#[tokio::test]
async fn a_secret_in_a_buffered_runs_error_is_censored() {
    // An API quoting the key in a batch item's error; the CRM hands each
    // item's message on as its run's error.
    let server = Recorder::answering(|received: &Received| {
        let message = format!("the key {} may not import contacts", received.header("x-api-key").unwrap_or_default());
        axum::Json(json!({"results": [{"error": {"code": "forbidden", "message": message}}]})).into_response()
    })
    .await;
    let app = host().load_file(CRM).await.expect("the CRM loads").with_env([("CRM_BASE_URL", server.base_url.clone())]);
    let key = "k3y-quoted-in-a-run-error";
    let auth = json!({"api_key": key}).as_object().cloned().unwrap_or_default();
    let run = BufferedRun {
        id: "r1".into(),
        input_data: json!({"email": "a@b.test"}).as_object().cloned().unwrap_or_default(),
    };
    let buffered =
        app.perform_buffer("create_contact", &Scope::new("crm", "account-1"), auth, vec![run]).await.expect("ran");
    assert_eq!(server.received()[0].header("x-api-key"), Some(key), "the server got the key");
    let error = buffered.results[0].result.as_ref().expect_err("the run failed");
    let error = format!("{error} {error:?}");
    assert!(error.contains("the key :censored: may not import contacts") && !error.contains(key), "{error}");
}
