//! OAuth 2 with PKCE: `GET /oauth/authorize` (approves at once and
//! redirects back with a code, as a signed-in user's click would),
//! `POST /oauth/token` (the code with its verifier, or a refresh token, for
//! tokens), and [`require_bearer`], the check of every other route.

use std::hash::{BuildHasher, RandomState};

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ApiState;

/// How long an access token says it lives, in seconds (tests expire them by hand).
const EXPIRES_IN: u64 = 3600;

/// What an authorization code was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    redirect_uri: String,
    code_challenge: String,
}

/// An OAuth error answer (`{"error": ..., "error_description": ...}`).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

/// A fresh unguessable value with this prefix.
fn unguessable(state: &ApiState, prefix: &str) -> String {
    let mut inner = state.lock();
    inner.issued += 1;
    let hash = RandomState::new().hash_one(inner.issued);
    format!("{prefix}_{}_{hash:016x}", inner.issued)
}

/// `GET /oauth/authorize`: checks the client, the redirect URI and the
/// S256 PKCE challenge, then redirects to `redirect_uri?code=...&state=...`.
pub(crate) async fn authorize(State(state): State<ApiState>, Query(query): Query<Vec<(String, String)>>) -> Response {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if param("client_id") != state.config.client_id {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client_id");
    }
    if param("response_type") != "code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_response_type", "response_type must be code");
    }
    let redirect_uri = param("redirect_uri");
    let mut back = match url::Url::parse(&redirect_uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri must be an http(s) URL"),
    };
    if param("code_challenge_method") != "S256" || param("code_challenge").len() != 43 {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "PKCE is required: code_challenge with S256");
    }
    let code = unguessable(&state, "code");
    let grant = Grant { redirect_uri, code_challenge: param("code_challenge") };
    state.lock().codes.insert(code.clone(), grant);
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &param("state"));
    Redirect::to(back.as_str()).into_response()
}

/// `POST /oauth/token`, a form: `authorization_code` (code, redirect_uri,
/// code_verifier) or `refresh_token`, each with the client's ID and secret.
pub(crate) async fn token(State(state): State<ApiState>, body: String) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    state.lock().token_grants.push(field("grant_type").to_string());
    if field("client_id") != state.config.client_id || field("client_secret") != state.config.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "wrong client_id or client_secret");
    }
    match field("grant_type") {
        "authorization_code" => {
            let Some(grant) = state.lock().codes.remove(field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or used code");
            };
            if grant.redirect_uri != field("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri differs");
            }
            if URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier"))) != grant.code_challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code_verifier does not match");
            }
            let refresh_token = unguessable(&state, "rt");
            state.lock().refresh_tokens.push(refresh_token.clone());
            tokens(&state, Some(refresh_token))
        }
        "refresh_token" => {
            if !state.lock().refresh_tokens.iter().any(|live| live == field("refresh_token")) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh_token");
            }
            tokens(&state, None)
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "authorization_code or refresh_token"),
    }
}

/// A new access token (and the refresh token, on a code exchange).
fn tokens(state: &ApiState, refresh_token: Option<String>) -> Response {
    let access_token = unguessable(state, "at");
    state.lock().access_tokens.insert(access_token.clone(), true);
    let mut body = json!({"access_token": access_token, "token_type": "Bearer", "expires_in": EXPIRES_IN});
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    axum::Json(body).into_response()
}

/// Lets through only requests with a live `Authorization: Bearer` token;
/// others get 401 with `WWW-Authenticate: Bearer`.
pub(crate) async fn require_bearer(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let live = token.is_some_and(|token| state.lock().access_tokens.get(token) == Some(&true));
    if !live {
        state.lock().unauthorized += 1;
        let mut response =
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token expired or is unknown");
        response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}
