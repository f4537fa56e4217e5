//! Custom auth with an API key (`tests/all/auth.rs`): the app sends the key
//! itself, in the query string from its beforeRequest middleware and in
//! `X-Api-Key` from its requestTemplate's curly.

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            Authentication::new(AuthType::Custom)
                .field(Field::new("api_key").label("API Key").required(true).kind("password"))
                .field(Field::new("account").label("Account").required(true))
                .test(common::get)
                .connection_label("{{bundle.authData.account}}: {{bundle.inputData.name}}"),
        )
        .request_template(Request::new("", "").header("X-Api-Key", "{{bundle.authData.api_key}}"))
        .before_request(add_key_param)
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

zapwasm_guest::export_app!(app);

/// Sends `authData.api_key` as the `api_key` query parameter.
fn add_key_param(request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    let key = bundle.auth_str("api_key").unwrap_or_default().to_string();
    Ok(request.param("api_key", key))
}
