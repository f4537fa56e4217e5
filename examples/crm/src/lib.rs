//! The CRM integration: contacts polled and pushed by webhook, found by email,
//! created, exported by a job that finishes through a callback, and vCards
//! stored as files for later steps.
//!
//! This is the integration as the CRM's vendor would ship it, split by role:
//! - [`auth`]: connecting an account with an API key, and the connection test;
//! - [`middleware`]: the key on every request to the CRM, and the API's error
//!   bodies turned into the errors the platform acts on;
//! - [`triggers`], [`searches`], [`creates`]: the operations a user picks;
//! - [`contact`]: the Contact noun they share (input field, sample, output fields);
//! - [`hydrators`]: what a polled contact's dehydrated `details` and `vcard`
//!   turn into when a step uses them.
//!
//! The API's base URL is not built in: the operator sets `CRM_BASE_URL` in the
//! integration's environment, so one build talks to production, staging or a
//! test server.

mod auth;
mod contact;
mod creates;
mod hydrators;
mod middleware;
mod searches;
#[cfg(test)]
mod tests;
mod triggers;

use zapwasm_guest::prelude::*;

/// The integration's definition: everything the host can call.
fn app() -> App {
    App::new(env!("CARGO_PKG_VERSION"))
        .authentication(auth::authentication())
        .before_request(middleware::add_api_key)
        .after_response(middleware::raise_api_errors)
        .trigger(triggers::new_contact())
        .trigger(triggers::contact_created_hook())
        .search(searches::find_contact())
        .create(creates::create_contact())
        .create(creates::export_contact())
        .create(creates::attach_vcard())
        .hydrator(hydrators::CONTACT, hydrators::contact)
        .hydrator(hydrators::VCARD, hydrators::vcard)
}

zapwasm_guest::export_app!(app);

/// The environment variable holding the CRM API's base URL.
const BASE_URL_VAR: &str = "CRM_BASE_URL";

/// The CRM API's base URL without a trailing slash, if the operator set one.
fn configured_base_url(z: &Z) -> Option<String> {
    z.env(BASE_URL_VAR).map(|base| base.trim().trim_end_matches('/').to_string()).filter(|base| !base.is_empty())
}

/// The absolute URL of `path` (starting with `/`) on the CRM API.
fn api_url(z: &Z, path: &str) -> Result<String, ZError> {
    let base = configured_base_url(z)
        .ok_or_else(|| ZError::General(format!("{BASE_URL_VAR} is not configured for this integration")))?;
    Ok(format!("{base}{path}"))
}

/// The JSON body of a successful CRM API response.
fn json_body(response: Response) -> Result<Value, ZError> {
    match response.data {
        Some(data) => Ok(data),
        None => Err(ZError::General(format!(
            "The CRM API answered {} with a body that is not JSON ({} bytes)",
            response.status,
            response.bytes.len()
        ))),
    }
}
