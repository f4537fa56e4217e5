//! Session auth (`tests/all/auth.rs`): sessionConfig.perform, a shorthand
//! request, POSTs the fields to `/session` for a `sessionKey`, which
//! beforeRequest sends as `X-Session`.

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            common::with_user_fields(Authentication::new(AuthType::Session))
                // Exchanges username and password for `{"sessionKey": ...}`.
                .session_perform_request(Request::post("{{process.env.API_BASE}}/session").json(json!({
                    "username": "{{bundle.authData.username}}",
                    "password": "{{bundle.authData.password}}",
                })))
                .test(common::get)
                .connection_label("{{bundle.authData.username}}: {{bundle.inputData.name}}"),
        )
        .before_request(add_session)
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

zapwasm_guest::export_app!(app);

/// Sends `authData.sessionKey` as `X-Session`.
fn add_session(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(key) = bundle.auth_str("sessionKey") {
        request.set_header("X-Session", key);
    }
    Ok(request)
}
