//! Connecting an account: OAuth 2 with PKCE against `/oauth/authorize` and
//! `/oauth/token`, the client's ID and secret from the environment, and
//! refresh on a 401 (autoRefresh). `beforeRequest` puts the access token on
//! requests to the API only; `afterResponse` turns the API's error bodies
//! into typed errors.

use zapwasm_guest::prelude::*;

use crate::{api_url, base_url, json_body};

/// OAuth 2 with PKCE and refresh, tested with `GET /me`, labelled with the account's email.
pub(crate) fn authentication() -> Authentication {
    Authentication::new(AuthType::OAuth2).test(test_auth).connection_label("{{bundle.inputData.email}}").oauth2(
        OAuth2Config {
            authorize_url: Request::get("{{process.env.INVOICES_BASE_URL}}/oauth/authorize")
                .param("client_id", "{{process.env.CLIENT_ID}}")
                .param("state", "{{bundle.inputData.state}}")
                .param("redirect_uri", "{{bundle.inputData.redirect_uri}}")
                .param("response_type", "code"),
            get_access_token: Step::Function(get_access_token),
            refresh_access_token: Some(Step::Function(refresh_access_token)),
            auto_refresh: true,
            scope: Some("invoices customers".into()),
            enable_pkce: true,
        },
    )
}

/// `authentication.test`: the account the token belongs to.
fn test_auth(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    json_body(z.request(api_url(z, "/me")?)?)
}

/// POSTs `form` with the client's credentials to `/oauth/token`.
fn token(z: &Z, mut form: Value) -> Result<Value, ZError> {
    form["client_id"] = json!(z.env("CLIENT_ID").unwrap_or_default());
    form["client_secret"] = json!(z.env("CLIENT_SECRET").unwrap_or_default());
    json_body(z.request(Request::post(api_url(z, "/oauth/token")?).form(form))?)
}

/// `getAccessToken`: the code from the redirect, with the PKCE verifier, for tokens.
fn get_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    token(
        z,
        json!({
            "grant_type": "authorization_code",
            "code": bundle.input_str("code"),
            "redirect_uri": bundle.input_str("redirect_uri"),
            "code_verifier": bundle.input_str("code_verifier"),
        }),
    )
}

/// `refreshAccessToken`: a new access token for the refresh token.
fn refresh_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    token(z, json!({"grant_type": "refresh_token", "refresh_token": bundle.auth_str("refresh_token")}))
}

/// The access token as a bearer token, only on requests to the API (not
/// the token endpoint, which takes the client's credentials).
pub(crate) fn add_bearer(mut request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    let Ok(base) = base_url(z) else { return Ok(request) };
    let to_api =
        request.url.strip_prefix(&base).is_some_and(|rest| rest.starts_with('/') && !rest.starts_with("/oauth/"));
    if let Some(token) = bundle.auth_str("access_token").filter(|_| to_api) {
        request.set_header("Authorization", format!("Bearer {token}"));
    }
    Ok(request)
}

/// `afterResponse`: the API's `{"error", "message"}` bodies as typed
/// errors: a duplicate (409) halts the step, other client errors carry the
/// API's message. A 401 passes through: the host refreshes the token and
/// runs the request again (autoRefresh).
pub(crate) fn raise_api_errors(response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
    if response.skip_throw_for_status || response.status < 400 || response.status == 401 {
        return Ok(response);
    }
    let message = response.data.as_ref().and_then(|data| data.get("message")).and_then(Value::as_str);
    let Some(message) = message else { return Ok(response) };
    Err(match response.status {
        409 => ZError::Halted(message.to_string()),
        status => ZError::General(format!("The invoicing API refused the request ({status}): {message}")),
    })
}
