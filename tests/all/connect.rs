//! `zapwasm invoke ... auth start|refresh`, run as a process against an
//! OAuth 2 provider and a session API on 127.0.0.1: the browser round trip
//! with state and PKCE (the test plays the browser), fields asked on stdin,
//! and credentials written to `.env` only once `authentication.test` passes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zapwasm_tests::{AUTH_BASIC, AUTH_OAUTH2, AUTH_SESSION, shared_dir};

use crate::run::ZAPWASM;

/// What the provider saw.
#[derive(Default)]
struct Seen {
    /// The query of the last `GET /authorize`.
    authorize: Vec<(String, String)>,
    /// The form of each `POST /oauth/token`.
    token_requests: Vec<Vec<(String, String)>>,
}

type Shared = Arc<Mutex<Seen>>;

/// An OAuth 2 provider and API: `/authorize` redirects to the given
/// `redirect_uri` with `code=the-code` and the given state; `/oauth/token`
/// gives `access-2`/`refresh-2` for that code only with the redirect_uri
/// and a PKCE verifier matching the authorize request's S256 challenge, and
/// `access-3` for `refresh-2`; `/session` gives `session-2` for password
/// `pw`; `/me` is `{"name": "Ada"}` for a live token or session, else 401.
struct Provider {
    base_url: String,
    seen: Shared,
}

impl Provider {
    async fn start() -> Provider {
        let seen = Shared::default();
        let app = axum::Router::new()
            .route("/authorize", axum::routing::get(authorize))
            .route("/oauth/token", axum::routing::post(token))
            .route("/session", axum::routing::post(session))
            .route("/me", axum::routing::get(me))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a local address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Provider { base_url: format!("http://{addr}"), seen }
    }

    fn authorize_param(&self, name: &str) -> Option<String> {
        param(&self.seen.lock().unwrap().authorize, name)
    }

    fn token_requests(&self) -> Vec<Vec<(String, String)>> {
        self.seen.lock().unwrap().token_requests.clone()
    }
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

async fn authorize(State(seen): State<Shared>, Query(query): Query<Vec<(String, String)>>) -> Response {
    let back = format!(
        "{}?code=the-code&state={}",
        param(&query, "redirect_uri").unwrap_or_default(),
        param(&query, "state").unwrap_or_default()
    );
    seen.lock().unwrap().authorize = query;
    Redirect::to(&back).into_response()
}

async fn token(State(seen): State<Shared>, body: String) -> Response {
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let mut seen = seen.lock().unwrap();
    seen.token_requests.push(form.clone());
    let field = |name: &str| param(&form, name).unwrap_or_default();
    let challenge = |verifier: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let granted = match field("grant_type").as_str() {
        "authorization_code" => {
            field("code") == "the-code"
                && Some(field("redirect_uri")) == param(&seen.authorize, "redirect_uri")
                && param(&seen.authorize, "code_challenge_method").as_deref() == Some("S256")
                && Some(challenge(&field("code_verifier"))) == param(&seen.authorize, "code_challenge")
        }
        "refresh_token" => field("refresh_token") == "refresh-2",
        _ => false,
    };
    match (granted, field("grant_type").as_str()) {
        (true, "authorization_code") => axum::Json(json!({"access_token": "access-2", "refresh_token": "refresh-2"})),
        (true, _) => axum::Json(json!({"access_token": "access-3"})),
        (false, _) => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response(),
    }
    .into_response()
}

async fn session(axum::Json(body): axum::Json<Value>) -> Response {
    if body["password"] == "pw" {
        axum::Json(json!({"sessionKey": "session-2"})).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "wrong password"}))).into_response()
    }
}

async fn me(headers: axum::http::HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let live = ["Bearer access-2", "Bearer access-3"].contains(&header("authorization").as_str())
        || header("x-session") == "session-2";
    if live {
        axum::Json(json!({"name": "Ada"})).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "who are you"}))).into_response()
    }
}

/// Starts `zapwasm invoke <component> auth <what> --allow-loopback ...` in
/// `dir`, with `stdin` written to its standard input.
fn spawn(component: &str, what: &str, extra: &[&str], dir: &Path, stdin: &str) -> Child {
    let mut child = Command::new(ZAPWASM)
        .args(["invoke", component, "auth", what, "--allow-loopback"])
        .args(extra)
        .arg("--cache-dir")
        .arg(shared_dir("cli-cache"))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    child
}

/// Runs it to the end: exit status and stderr.
async fn run(component: &str, what: &str, extra: &[&str], dir: &Path, stdin: &str) -> (ExitStatus, String) {
    let child = spawn(component, what, extra, dir, stdin);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().expect("the CLI ends");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn dotenv(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".env")).unwrap_or_default()
}

/// Starts `auth start` for the OAuth 2 guest and returns the process, the
/// authorize URL it printed, and a handle to the rest of its stderr.
async fn start_oauth(dir: &Path) -> (Child, String, tokio::task::JoinHandle<String>) {
    let mut child = spawn(AUTH_OAUTH2, "start", &["--redirect-port", "0", "--auth-timeout", "60"], dir, "");
    let stderr = child.stderr.take().expect("stderr");
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let rest = tokio::task::spawn_blocking(move || {
        let mut url_tx = Some(url_tx);
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("  http")
                && let Some(tx) = url_tx.take()
            {
                let _ = tx.send(line.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = url_rx.await.unwrap_or_default();
    (child, url, rest)
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("a client")
}

#[tokio::test]
async fn oauth2_start_runs_the_browser_round_trip_with_state_and_pkce_then_refresh_rotates_the_tokens() {
    let provider = Provider::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("# the API\nAPI_BASE={}\nCLIENT_ID=cid\n", provider.base_url))
        .unwrap();
    let (child, url, rest) = start_oauth(dir.path()).await;
    assert!(url.starts_with(&format!("{}/authorize?", provider.base_url)), "printed {url:?}");

    // The browser: the provider redirects it to the CLI's listener.
    let page = browser().get(&url).send().await.expect("the round trip").text().await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap().status;
    let stderr = rest.await.unwrap();
    assert!(status.success(), "stderr: {stderr}");
    assert!(page.contains("the account is connected"), "{page}");
    assert!(stderr.contains("the credentials work: connected as Ada"), "{stderr}");

    assert_eq!(provider.authorize_param("client_id").as_deref(), Some("cid"));
    assert_eq!(provider.authorize_param("response_type").as_deref(), Some("code"));
    let state = provider.authorize_param("state").unwrap_or_default();
    assert_eq!(state.len(), 32, "an unguessable state: {state:?}");
    let redirect_uri = provider.authorize_param("redirect_uri").unwrap_or_default();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/oauth/callback"),
        "{redirect_uri}"
    );
    let tokens = provider.token_requests();
    assert_eq!(tokens.len(), 1, "one code exchange");
    assert_eq!(param(&tokens[0], "code_verifier").map(|v| v.len()), Some(64));

    let written = dotenv(dir.path());
    assert!(written.starts_with(&format!("# the API\nAPI_BASE={}\nCLIENT_ID=cid\n", provider.base_url)), "{written}");
    assert!(written.contains("authData_access_token=access-2\n"), "{written}");
    assert!(written.contains("authData_refresh_token=refresh-2\n"), "{written}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(".env")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the .env file holds secrets");
    }

    let (status, stderr) = run(AUTH_OAUTH2, "refresh", &[], dir.path(), "").await;
    assert!(status.success(), "stderr: {stderr}");
    let written = dotenv(dir.path());
    assert!(written.contains("authData_access_token=access-3\n"), "{written}");
    assert!(written.contains("authData_refresh_token=refresh-2\n"), "the refresh token stays: {written}");
    assert_eq!(written.matches("authData_access_token=").count(), 1, "{written}");
}

#[tokio::test]
async fn a_redirect_with_a_forged_state_is_refused_and_nothing_is_written() {
    let provider = Provider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let before = format!("API_BASE={}\nCLIENT_ID=cid\n", provider.base_url);
    std::fs::write(dir.path().join(".env"), &before).unwrap();
    let (child, url, rest) = start_oauth(dir.path()).await;
    let no_redirects =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = no_redirects.get(&url).send().await.expect("the authorize request");
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    let callback = location.split('?').next().unwrap().to_string();

    // Anything but the callback path is not the redirect: the listener keeps waiting.
    let other = browser().get(callback.replace("/oauth/callback", "/favicon.ico")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    let forged = format!("{callback}?code=the-code&state=forged");
    let page = browser().get(&forged).send().await.unwrap().text().await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap().status;
    let stderr = rest.await.unwrap();
    assert_eq!(status.code(), Some(4), "stderr: {stderr}");
    assert!(stderr.contains("the redirect's state does not match this authorization's"), "{stderr}");
    assert!(page.contains("the authorization failed"), "{page}");
    assert!(provider.token_requests().is_empty(), "no code exchange on a forged state");
    assert_eq!(dotenv(dir.path()), before);
}

#[tokio::test]
async fn session_start_asks_the_fields_exchanges_them_and_writes_the_session() {
    let provider = Provider::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("API_BASE={}\n", provider.base_url)).unwrap();
    let (status, stderr) = run(AUTH_SESSION, "start", &[], dir.path(), "ada\npw\n").await;
    assert!(status.success(), "stderr: {stderr}");
    assert!(stderr.contains("Username (username, required): "), "{stderr}");
    assert!(stderr.contains("the credentials work: connected as ada: Ada"), "{stderr}");
    let written = dotenv(dir.path());
    for line in ["authData_username=ada\n", "authData_password=pw\n", "authData_sessionKey=session-2\n"] {
        assert!(written.contains(line), "{line:?} in {written}");
    }

    // Fields given with --auth are not asked; an empty answer keeps the current value.
    let (status, stderr) = run(AUTH_SESSION, "start", &["--auth", r#"{"username":"ada"}"#], dir.path(), "\n").await;
    assert!(status.success(), "stderr: {stderr}");
    assert!(!stderr.contains("Username (username"), "{stderr}");
    assert!(stderr.contains("Password (password, required) [keep current]: "), "{stderr}");
}

#[tokio::test]
async fn credentials_that_fail_the_test_are_not_written_and_a_missing_field_is_named() {
    let provider = Provider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let before = format!("API_BASE={}\n", provider.base_url);
    std::fs::write(dir.path().join(".env"), &before).unwrap();

    let (status, stderr) = run(AUTH_BASIC, "start", &[], dir.path(), "ada\nwrong\n").await;
    assert_eq!(status.code(), Some(15), "a response error: {stderr}");
    assert!(
        stderr.contains("authentication.test failed with the new credentials, so .env was not changed"),
        "{stderr}"
    );
    assert_eq!(dotenv(dir.path()), before);

    let (status, stderr) = run(AUTH_BASIC, "start", &[], dir.path(), "ada\n").await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the authentication field password (Password) is required"), "{stderr}");
    assert_eq!(dotenv(dir.path()), before);

    let (status, stderr) = run(AUTH_BASIC, "refresh", &[], dir.path(), "").await;
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("this integration's authentication is basic: only session auth"), "{stderr}");
}
