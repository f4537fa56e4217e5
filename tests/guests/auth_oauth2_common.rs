//! What the OAuth 2 guests (`tests/guests/auth-oauth2*`) share: tokens from
//! `/oauth/token` (with PKCE), sent as `Authorization: Bearer` by
//! beforeRequest. The guests differ in autoRefresh, and in how they write
//! the auth test and the token steps: `auth-oauth2` as functions,
//! `auth-oauth2-plain` as shorthand requests whose curlies read the code,
//! the refresh token and the client ID.

use zapwasm_guest::prelude::*;

use crate::common;

/// How the app writes its auth test and token steps.
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(dead_code, reason = "each guest uses one")]
pub enum Steps {
    /// As functions.
    Functions,
    /// As shorthand requests.
    Shorthand,
}

/// The app, with or without autoRefresh, its steps written as `steps` says.
pub fn app(auto_refresh: bool, steps: Steps) -> App {
    let authentication = Authentication::new(AuthType::OAuth2);
    let (authentication, get_access_token, refresh_access_token) = match steps {
        Steps::Functions => {
            (authentication.test(common::get), Step::Function(get_access_token), Step::Function(refresh_access_token))
        }
        Steps::Shorthand => (
            authentication.test_request(Request::get("{{process.env.API_BASE}}/me")),
            token_request(json!({
                "grant_type": "authorization_code",
                "code": "{{bundle.inputData.code}}",
                "redirect_uri": "{{bundle.inputData.redirect_uri}}",
                "code_verifier": "{{bundle.inputData.code_verifier}}",
                "client_id": "{{process.env.CLIENT_ID}}",
            })),
            token_request(json!({
                "grant_type": "refresh_token",
                "refresh_token": "{{bundle.authData.refresh_token}}",
                "client_id": "{{process.env.CLIENT_ID}}",
            })),
        ),
    };
    App::new("1.0.0")
        .authentication(
            authentication.connection_label("{{bundle.inputData.name}}").oauth2(OAuth2Config {
                authorize_url: Request::get("{{process.env.API_BASE}}/authorize")
                    .param("client_id", "{{process.env.CLIENT_ID}}")
                    .param("state", "{{bundle.inputData.state}}")
                    .param("redirect_uri", "{{bundle.inputData.redirect_uri}}")
                    .param("response_type", "code"),
                get_access_token,
                refresh_access_token: Some(refresh_access_token),
                auto_refresh,
                scope: Some("read".into()),
                enable_pkce: true,
            }),
        )
        .before_request(add_bearer)
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

/// A shorthand POST of `form` to `/oauth/token`.
fn token_request(form: Value) -> Step {
    Request::post("{{process.env.API_BASE}}/oauth/token").form(form).into()
}

/// POSTs `form` to `/oauth/token` and returns the parsed answer.
fn token(z: &Z, form: Value) -> Result<Value, ZError> {
    let request = Request::post(format!("{}/oauth/token", common::base(z)?)).form(form);
    Ok(z.request(request)?.data.unwrap_or(Value::Null))
}

/// Exchanges `inputData.code` (with the PKCE `code_verifier`, when the
/// host made one) for tokens.
fn get_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut form = json!({
        "grant_type": "authorization_code",
        "code": bundle.input_str("code"),
        "redirect_uri": bundle.input_str("redirect_uri"),
    });
    if let Some(verifier) = bundle.input_str("code_verifier") {
        form["code_verifier"] = json!(verifier);
    }
    token(z, form)
}

/// Exchanges `authData.refresh_token` for new tokens.
fn refresh_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    token(z, json!({"grant_type": "refresh_token", "refresh_token": bundle.auth_str("refresh_token")}))
}

/// Sends `authData.access_token` as a bearer token.
fn add_bearer(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(token) = bundle.auth_str("access_token") {
        request.set_header("Authorization", format!("Bearer {token}"));
    }
    Ok(request)
}
