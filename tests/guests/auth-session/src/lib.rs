//! Session auth (`tests/all/auth.rs`): sessionConfig.perform POSTs the
//! fields to `/session` for a `sessionKey`, which beforeRequest sends as
//! `X-Session`.

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            common::with_user_fields(Authentication::new(AuthType::Session))
                .session_perform(session)
                .test(common::get)
                .connection_label("{{bundle.authData.username}}: {{bundle.inputData.name}}"),
        )
        .before_request(add_session)
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

zapwasm_guest::export_app!(app);

/// Exchanges username and password for `{"sessionKey": ...}`.
fn session(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let request = Request::post(format!("{}/session", common::base(z)?)).json(json!({
        "username": bundle.auth_str("username"),
        "password": bundle.auth_str("password"),
    }));
    let data = z.request(request)?.data.unwrap_or(Value::Null);
    Ok(json!({ "sessionKey": data["sessionKey"] }))
}

/// Sends `authData.sessionKey` as `X-Session`.
fn add_session(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(key) = bundle.auth_str("sessionKey") {
        request.set_header("X-Session", key);
    }
    Ok(request)
}
