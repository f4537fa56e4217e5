//! `zapwasm serve` connecting an account of an OAuth 2 app through its
//! provider (a real provider on 127.0.0.1, the test playing the browser):
//! the authorize URL with state and PKCE, the redirect back that exchanges
//! the code, the connection kept and working, and redirects refused.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zapwasm_tests::{AUTH_OAUTH2, FIXTURE};

use crate::serve::{Served, args, get, post};

/// The query of the last `GET /authorize`.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// `/authorize` redirects to `redirect_uri` with `code=the-code` and the
/// state; `/oauth/token` gives `access-2` for that code only with the same
/// redirect_uri and a verifier matching the S256 challenge; `/me` is
/// `{"name": "Ada"}` for `Bearer access-2`.
async fn provider() -> String {
    async fn authorize(State(seen): State<Seen>, Query(query): Query<Vec<(String, String)>>) -> Response {
        let back = format!(
            "{}?code=the-code&state={}",
            param(&query, "redirect_uri").unwrap_or_default(),
            param(&query, "state").unwrap_or_default()
        );
        *seen.lock().unwrap() = query;
        Redirect::to(&back).into_response()
    }
    async fn token(State(seen): State<Seen>, body: String) -> Response {
        let form: Vec<(String, String)> =
            url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let seen = seen.lock().unwrap().clone();
        let field = |name: &str| param(&form, name).unwrap_or_default();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier")));
        let granted = field("grant_type") == "authorization_code"
            && field("code") == "the-code"
            && Some(field("redirect_uri")) == param(&seen, "redirect_uri")
            && Some(challenge) == param(&seen, "code_challenge");
        if granted {
            axum::Json(json!({"access_token": "access-2", "refresh_token": "refresh-2"})).into_response()
        } else {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response()
        }
    }
    async fn me(headers: axum::http::HeaderMap) -> Response {
        if headers.get("authorization").is_some_and(|v| v == "Bearer access-2") {
            axum::Json(json!({"name": "Ada"})).into_response()
        } else {
            (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "who are you"}))).into_response()
        }
    }
    let app = axum::Router::new()
        .route("/authorize", axum::routing::get(authorize))
        .route("/oauth/token", axum::routing::post(token))
        .route("/me", axum::routing::get(me))
        .with_state(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A browser: follows the provider's redirect back to the service.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn an_oauth2_account_connects_through_the_provider_and_the_redirect_back() {
    let provider = provider().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"state\"\ndev = true\n[policy]\nallow_loopback = true\n\
         [apps.oauth]\npath = \"{AUTH_OAUTH2}\"\nenv = {{ API_BASE = \"{provider}\", CLIENT_ID = \"cid\" }}\n\
         [apps.fixture]\npath = \"{FIXTURE}\"\n"
    );
    std::fs::write(dir.path().join("zapwasm.toml"), config).unwrap();
    let served = Served::start(dir.path(), &args(&["--config", "zapwasm.toml"]), &[]).await;
    let url = served.url.clone();

    let started = post(format!("{url}/v1/apps/oauth/authorizations"), json!({"account": "ada"})).await;
    assert_eq!((started.status, started.body["status"].clone()), (201, json!("pending")), "{}", started.body);
    let id = started.body["id"].as_str().unwrap().to_string();
    assert_eq!(started.body["redirect_uri"], format!("{url}/oauth/callback"));
    let authorize_url = started.body["url"].as_str().unwrap().to_string();
    assert!(authorize_url.starts_with(&format!("{provider}/authorize?")), "{authorize_url}");
    assert!(authorize_url.contains("code_challenge_method=S256"), "PKCE: {authorize_url}");

    // The user's browser: to the provider, and back to the service.
    let back = browser().get(&authorize_url).send().await.unwrap();
    let (landed, status) = (back.url().clone(), back.status());
    let page: Value = serde_json::from_slice(&back.bytes().await.unwrap()).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["status"], "connected", "{page}");
    assert_eq!((page["connection"]["id"].clone(), page["connection"]["account"].clone()), (json!(id), json!("ada")));
    assert!(!page.to_string().contains("access-2"), "the token is never answered: {page}");
    let read = get(format!("{url}/v1/authorizations/{id}")).await;
    assert_eq!((read.body["status"].clone(), read.body["connection"].clone()), (json!("connected"), json!(id)));

    // The connection works: its token reaches the API.
    let tested = post(format!("{url}/v1/apps/oauth/invoke"), json!({"method": "auth test", "connection": id})).await;
    assert_eq!((tested.status, tested.body["result"]["name"].clone()), (200, json!("Ada")), "{}", tested.body);

    // The redirect is used once; a forged or missing state does nothing.
    let again = crate::serve::send(browser().get(landed.as_str())).await;
    assert_eq!((again.status, again.kind()), (410, "gone"), "{}", again.body);
    let forged = get(format!("{url}/oauth/callback?code=the-code&state=0123456789abcdef")).await;
    assert_eq!((forged.status, forged.kind()), (404, "unknown_authorization"));
    let missing = get(format!("{url}/oauth/callback?code=the-code")).await;
    assert_eq!((missing.status, missing.kind()), (400, "bad_request"));

    // A provider that says no: the authorization fails with its reason.
    let refused = post(format!("{url}/v1/apps/oauth/authorizations"), json!({})).await;
    let refused_id = refused.body["id"].as_str().unwrap().to_string();
    let state = url::Url::parse(refused.body["url"].as_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let denied = get(format!("{url}/oauth/callback?error=access_denied&state={state}")).await;
    assert_eq!((denied.status, denied.kind()), (403, "refused"), "{}", denied.body);
    let read = get(format!("{url}/v1/authorizations/{refused_id}")).await;
    assert_eq!(read.body["status"], "failed", "{}", read.body);
    assert!(read.body["error"].as_str().unwrap().contains("access_denied"), "{}", read.body);

    // Only OAuth 2 apps connect this way.
    let other = post(format!("{url}/v1/apps/fixture/authorizations"), json!({})).await;
    assert_eq!((other.status, other.kind()), (422, "not_oauth2"), "{}", other.body);
    assert!(!served.logs().contains("access-2"), "no token in the logs");
}
