//! What the OAuth 2 guests (`tests/guests/auth-oauth2*`) share: tokens from
//! `/oauth/token` (with PKCE), sent as `Authorization: Bearer` by
//! beforeRequest; the guests differ in autoRefresh.

use zapwasm_guest::prelude::*;

use crate::common;

/// The app, with or without autoRefresh.
pub fn app(auto_refresh: bool) -> App {
    App::new("1.0.0")
        .authentication(
            Authentication::new(AuthType::OAuth2)
                .test(common::get)
                .connection_label("{{bundle.inputData.name}}")
                .oauth2(OAuth2Config {
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
