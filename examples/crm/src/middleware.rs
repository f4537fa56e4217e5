//! What happens around every request the integration makes: the API key goes
//! on the way out, and the CRM's error bodies become the errors the platform
//! acts on when the answer comes back.
//!
//! The SDK runs these for every `z.request`, including the ones in
//! [`crate::auth`], [`crate::triggers`], [`crate::searches`] and [`crate::creates`].

use zapwasm_guest::prelude::*;

use crate::configured_base_url;

/// The header the CRM API reads the key from.
pub(crate) const API_KEY_HEADER: &str = "X-API-Key";

/// `beforeRequest`: sends the connected account's API key with every request
/// to the CRM API.
///
/// The key goes only to the configured `CRM_BASE_URL`, so a URL taken from
/// user input or an API answer never receives it. An existing `X-API-Key` is
/// replaced rather than doubled.
pub(crate) fn add_api_key(mut request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    let Some(key) = bundle.auth_str("api_key").filter(|key| !key.is_empty()) else {
        return Ok(request);
    };
    let Some(base) = configured_base_url(z) else {
        return Ok(request);
    };
    if !is_under(&request.url, &base) {
        return Ok(request);
    }
    request.set_header(API_KEY_HEADER, key);
    Ok(request)
}

/// Whether `url` is `base` itself or a path, query or fragment below it
/// (`https://api.test` must not match `https://api.test.evil`).
fn is_under(url: &str, base: &str) -> bool {
    url.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

/// `afterResponse`: turns the CRM's error body (`{"error":{"code","message"}}`)
/// into a typed error, unless the request asked to see every status itself.
/// Other responses pass through unchanged.
pub(crate) fn raise_api_errors(response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
    if response.skip_throw_for_status {
        return Ok(response);
    }
    match api_error(&response) {
        Some(error) => Err(error),
        None => Ok(response),
    }
}

/// The error a CRM API error response stands for, or `None` when `response`
/// is not one (a success, or a body not in the API's error shape).
///
/// - 401: the key was revoked or is wrong; only the user can fix that, so
///   expired auth (the platform asks them to reconnect).
/// - 409: a duplicate; retrying can never succeed, and the automation should
///   not be turned off for it, so halted.
/// - anything else: a general error carrying the API's message and code.
pub(crate) fn api_error(response: &Response) -> Option<ZError> {
    if response.status < 400 {
        return None;
    }
    let error = response.data.as_ref()?.get("error")?;
    let code = error.get("code")?.as_str()?;
    let message = error.get("message")?.as_str()?;
    Some(match response.status {
        401 => ZError::ExpiredAuth(format!(
            "Your CRM API key was rejected: {message}. Reconnect the account with a valid key."
        )),
        409 => ZError::Halted(message.to_string()),
        _ => ZError::General(format!("{message} ({code})")),
    })
}
