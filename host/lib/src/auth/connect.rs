//! Connecting an account: what a platform (or `zapwasm invoke auth start`)
//! walks through before an integration has working authData.
//!
//! Fields-only types (basic, digest, custom) need nothing from the host:
//! the user's fields are the authData. Session auth exchanges them with
//! [`App::refresh_credentials`]. OAuth is a round trip through the user's
//! browser:
//!
//! 1. [`App::authorize`] renders `authorizeUrl` with a fresh `state` and the
//!    `redirect_uri` (for OAuth 2 with `enablePkce`, also a code challenge;
//!    for OAuth 1, after `getRequestToken`). Send the user to
//!    [`Authorization::url`] and keep the [`Authorization`].
//! 2. The provider redirects the user to `redirect_uri`;
//!    [`App::complete_authorization`] checks the redirect's query against the
//!    [`Authorization`] (state, provider errors), runs `getAccessToken`, and
//!    returns the new authData in [`Outcome::auth_data`].

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::refresh;
use crate::bundle::{Bundle, Scope};
use crate::error::CallError;
use crate::invoke::{Invocation, Outcome};
use crate::random_id::random_id;

/// One authorization in progress: where to send the user, and what the
/// redirect back must match. Keep it (server side) until the redirect
/// arrives; it holds the PKCE verifier and OAuth 1's request token secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The URL to send the user to: the rendered `authorizeUrl`.
    pub url: String,
    /// The `redirect_uri` the provider sends the user back to.
    pub redirect_uri: String,
    /// The unguessable `state` the redirect must carry back (OAuth 2).
    pub state: String,
    /// The PKCE code verifier (OAuth 2 with `enablePkce`); its S256
    /// challenge is in [`Authorization::url`].
    pub code_verifier: Option<String>,
    /// OAuth 1: what `getRequestToken` returned (`oauth_token`,
    /// `oauth_token_secret`, ...), needed again by `getAccessToken`.
    pub request_token: Map<String, Value>,
}

/// Why an authorization cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The integration's authentication is not of a type this step is for.
    #[error("this integration's authentication is {found}: {wanted}")]
    WrongType {
        /// The type the definition declares (`none` without authentication).
        found: String,
        /// What the step needs, as a sentence.
        wanted: &'static str,
    },
    /// An integration call of the flow failed.
    #[error("{method} failed")]
    Call {
        /// The method path.
        method: String,
        /// What happened.
        #[source]
        error: CallError,
    },
    /// `authorizeUrl` did not render to an http(s) URL.
    #[error("authentication authorizeUrl rendered {0:?}, which is not an http(s) URL: check its url and curlies")]
    BadAuthorizeUrl(String),
    /// The provider redirected back with an `error`.
    #[error("the provider refused the authorization: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The `error` parameter, e.g. `access_denied`.
        error: String,
        /// The `error_description` parameter, when given.
        description: Option<String>,
    },
    /// The redirect's `state` is missing or not this authorization's: it may
    /// be forged (CSRF) or belong to an older attempt.
    #[error("the redirect's state does not match this authorization's: start the authorization again")]
    StateMismatch,
    /// The redirect lacks a parameter the flow needs.
    #[error("the redirect has no `{0}` parameter: the provider did not complete the authorization")]
    Missing(&'static str),
}

impl App {
    /// Starts an OAuth authorization: renders `authorizeUrl` with
    /// `inputData.state` (fresh, unguessable) and `inputData.redirect_uri`
    /// over the bundle's own inputData (the user's fields). With
    /// `enablePkce`, `code_challenge` and `code_challenge_method=S256` are
    /// added to the URL. For OAuth 1, `getRequestToken` runs first and its
    /// result is in inputData (`oauth_token`, ...) while the URL renders.
    ///
    /// `scope` is the account being connected: the calls of the flow use its state.
    pub async fn authorize(
        &self,
        scope: &Scope,
        bundle: Bundle,
        redirect_uri: &str,
    ) -> Result<Authorization, ConnectError> {
        let (config, is_oauth1) = match self.definition().auth_type() {
            Some("oauth2") => ("authentication.oauth2Config", false),
            Some("oauth1") => ("authentication.oauth1Config", true),
            other => return Err(wrong_type(other, "only OAuth 1 and OAuth 2 authorize through the browser")),
        };
        let mut bundle = bundle;
        let state = random_id();
        bundle.input_data.insert("state".into(), state.clone().into());
        bundle.input_data.insert("redirect_uri".into(), redirect_uri.into());
        let mut request_token = Map::new();
        if is_oauth1 {
            let method = format!("{config}.getRequestToken");
            let outcome = self.invoke(Invocation::new(&method, bundle.clone(), scope.clone())).await;
            request_token = match outcome.result.map(|json| json.value()) {
                Ok(Value::Object(token)) => token,
                Ok(other) => return Err(not_an_object(method, &other)),
                Err(error) => return Err(ConnectError::Call { method, error }),
            };
            bundle.input_data.extend(request_token.clone());
        }
        let method = format!("{config}.authorizeUrl");
        let outcome = self.invoke(Invocation::new(&method, bundle, scope.clone())).await;
        let mut url = match outcome.result.map(|json| json.value()) {
            Ok(Value::String(url)) => url,
            Ok(other) => return Err(ConnectError::BadAuthorizeUrl(other.to_string())),
            Err(error) => return Err(ConnectError::Call { method, error }),
        };
        let parsed = url::Url::parse(&url).map_err(|_| ConnectError::BadAuthorizeUrl(url.clone()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConnectError::BadAuthorizeUrl(url));
        }
        let pkce = !is_oauth1
            && self.definition().get("authentication.oauth2Config.enablePkce").and_then(Value::as_bool) == Some(true);
        let code_verifier = pkce.then(code_verifier);
        if let Some(verifier) = &code_verifier {
            let separator = if parsed.query().is_some() { '&' } else { '?' };
            url = format!("{url}{separator}code_challenge={}&code_challenge_method=S256", code_challenge(verifier));
        }
        Ok(Authorization { url, redirect_uri: redirect_uri.into(), state, code_verifier, request_token })
    }

    /// Finishes an authorization from the query of the redirect back to
    /// `redirect_uri` (decoded pairs): checks it, then runs `getAccessToken`
    /// with inputData holding the bundle's inputData, `code`, `state`,
    /// `redirect_uri` and `code_verifier` (OAuth 2), or the request token
    /// and `oauth_verifier` (OAuth 1, whose request token is also the call's
    /// authData so the host signs with it). On success the result and
    /// [`Outcome::auth_data`] are the bundle's authData with the returned
    /// fields merged over it (OAuth 1's request token is not kept). The redirect is also the call's `rawRequest`
    /// and `cleanedRequest`, as a webhook's request is. `scope` is the
    /// account being connected, as for [`App::authorize`].
    pub async fn complete_authorization(
        &self,
        scope: &Scope,
        authorization: &Authorization,
        redirect_query: &[(String, String)],
        bundle: Bundle,
    ) -> Result<Outcome, ConnectError> {
        let param = |name: &str| redirect_query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(error) = param("error") {
            return Err(ConnectError::Refused { error, description: param("error_description") });
        }
        let account = bundle.auth_data.clone();
        let mut bundle = bundle;
        let (raw, cleaned) = redirect_request(redirect_query);
        bundle.raw_request = Some(raw);
        bundle.cleaned_request = Some(cleaned);
        let input = &mut bundle.input_data;
        input.insert("redirect_uri".into(), authorization.redirect_uri.clone().into());
        let method = match self.definition().auth_type() {
            Some("oauth2") => {
                if param("state").as_deref() != Some(authorization.state.as_str()) {
                    return Err(ConnectError::StateMismatch);
                }
                input.insert("code".into(), param("code").ok_or(ConnectError::Missing("code"))?.into());
                input.insert("state".into(), authorization.state.clone().into());
                if let Some(verifier) = &authorization.code_verifier {
                    input.insert("code_verifier".into(), verifier.clone().into());
                }
                "authentication.oauth2Config.getAccessToken"
            }
            Some("oauth1") => {
                let token = authorization.request_token.get("oauth_token").and_then(Value::as_str);
                if param("oauth_token").is_some_and(|back| Some(back.as_str()) != token) {
                    return Err(ConnectError::StateMismatch);
                }
                let verifier = param("oauth_verifier").ok_or(ConnectError::Missing("oauth_verifier"))?;
                input.extend(authorization.request_token.clone());
                input.insert("oauth_verifier".into(), verifier.into());
                bundle.auth_data.extend(authorization.request_token.clone());
                "authentication.oauth1Config.getAccessToken"
            }
            other => return Err(wrong_type(other, "only OAuth 1 and OAuth 2 authorize through the browser")),
        };
        let (loaded, env) = self.parts();
        Ok(refresh::refresh(loaded, env, method, Invocation::new(method, bundle, scope.clone()), account).await)
    }

    /// Obtains fresh credentials now: session auth runs
    /// `sessionConfig.perform` (with the user's fields as authData), OAuth 2
    /// runs `refreshAccessToken`. On success the result and
    /// [`Outcome::auth_data`] are the old authData with the new fields
    /// merged over it.
    pub async fn refresh_credentials(&self, invocation: Invocation) -> Result<Outcome, ConnectError> {
        let (loaded, env) = self.parts();
        let Some(method) = refresh::refresh_method(loaded) else {
            return Err(wrong_type(
                self.definition().auth_type(),
                "only session auth (sessionConfig.perform) and OAuth 2 with refreshAccessToken refresh credentials",
            ));
        };
        let account = invocation.bundle.auth_data.clone();
        Ok(refresh::refresh(loaded, env, method, invocation, account).await)
    }
}

/// The redirect as a webhook request: `rawRequest` with the query string
/// as text, `cleanedRequest` with it as an object.
fn redirect_request(query: &[(String, String)]) -> (Value, Value) {
    let text = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    let object: Map<String, Value> = query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let raw = serde_json::json!({"method": "GET", "querystring": text, "headers": {}, "content": ""});
    let cleaned = serde_json::json!({"method": "GET", "querystring": object, "headers": {}, "content": {}});
    (raw, cleaned)
}

fn wrong_type(found: Option<&str>, wanted: &'static str) -> ConnectError {
    ConnectError::WrongType { found: found.unwrap_or("none").to_string(), wanted }
}

fn not_an_object(method: String, value: &Value) -> ConnectError {
    let message = format!("{method} must return an object (oauth_token, oauth_token_secret), got {value}");
    ConnectError::Call { method, error: crate::error::ZError::general(message).into() }
}

/// A PKCE code verifier (RFC 7636 section 4.1): 64 characters from the
/// unreserved set, 256 random bits.
fn code_verifier() -> String {
    format!("{}{}", random_id(), random_id())
}

/// The S256 code challenge of a verifier: BASE64URL(SHA256(verifier)), unpadded.
pub(crate) fn code_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = code_verifier();
        assert_eq!(verifier.len(), 64);
        assert_ne!(verifier, code_verifier());
    }
}
