//! The invoices integration: an invoicing app's customers and invoices, as
//! its vendor would ship it.
//!
//! - [`auth`]: OAuth 2 with PKCE and refresh (autoRefresh: a 401 refreshes
//!   the access token and the request runs again), the bearer token on
//!   every request to the API, the API's errors as typed errors;
//! - [`customers`]: the hidden trigger that feeds the customer dropdown, the
//!   search by email, the create, and the search-or-create pairing them;
//! - [`invoices`]: the create whose input has line items, each invoice's
//!   PDF dehydrated, and the hydrator that stashes the PDF when a step uses it.
//!
//! The API's base URL is the operator's: `INVOICES_BASE_URL` in the
//! integration's environment, with `CLIENT_ID` and `CLIENT_SECRET`.

mod auth;
mod customers;
mod invoices;
#[cfg(test)]
mod tests;

use zapwasm_guest::prelude::*;

/// The integration's definition: everything the host can call.
fn app() -> App {
    App::new(env!("CARGO_PKG_VERSION"))
        .authentication(auth::authentication())
        .before_request(auth::add_bearer)
        .after_response(auth::raise_api_errors)
        .trigger(customers::customer_list())
        .search(customers::find_customer())
        .create(customers::create_customer())
        .search_or_create(customers::find_or_create_customer())
        .create(invoices::create_invoice())
        .hydrator(invoices::PDF_HYDRATOR, invoices::invoice_pdf)
}

zapwasm_guest::export_app!(app);

/// The environment variable holding the API's base URL.
const BASE_URL_VAR: &str = "INVOICES_BASE_URL";

/// The API's base URL without a trailing slash.
fn base_url(z: &Z) -> Result<String, ZError> {
    z.env(BASE_URL_VAR)
        .map(|base| base.trim().trim_end_matches('/').to_string())
        .filter(|base| !base.is_empty())
        .ok_or_else(|| ZError::General(format!("{BASE_URL_VAR} is not configured for this integration")))
}

/// The absolute URL of `path` (starting with `/`) on the API.
fn api_url(z: &Z, path: &str) -> Result<String, ZError> {
    Ok(format!("{}{path}", base_url(z)?))
}

/// The JSON body of a successful response.
fn json_body(response: Response) -> Result<Value, ZError> {
    let status = response.status;
    response.data.ok_or_else(|| ZError::General(format!("The invoicing API answered {status} without JSON")))
}

/// The array under `key` of an API answer (`{"customers": [...]}`).
fn list_of(mut answer: Value, key: &str) -> Result<Value, ZError> {
    match answer.get_mut(key).map(Value::take) {
        Some(list @ Value::Array(_)) => Ok(list),
        _ => Err(ZError::General(format!("The invoicing API's answer has no {key:?} list"))),
    }
}
