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
        .create(
            Create::new("fetch_each", "Item").display("Fetch Each", "GETs /me once per batch of one run.").operation(
                Operation::new().perform(common::fetch).perform_buffer(fetch_each).buffer(&[], 1).sample(json!({})),
            ),
        )
}

/// `creates.fetch_each.operation.performBuffer`: one GET of `/me` for the
/// batch, its body each run's output.
fn fetch_each(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let me = common::get(z, bundle)?;
    let mut answers = Map::new();
    for run in &bundle.buffer {
        answers.insert(run.meta.id.clone(), json!({ "outputData": me.clone() }));
    }
    Ok(Value::Object(answers))
}

zapwasm_guest::export_app!(app);

/// Sends `authData.sessionKey` as `X-Session`.
fn add_session(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(key) = bundle.auth_str("sessionKey") {
        request.set_header("X-Session", key);
    }
    Ok(request)
}
