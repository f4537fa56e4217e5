//! Basic auth (`tests/all/auth.rs`): the host sets `Authorization: Basic`,
//! overwriting the header this app's beforeRequest sets.

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            common::with_user_fields(Authentication::new(AuthType::Basic))
                .test(common::get)
                .connection_label("{{bundle.authData.username}} ({{bundle.inputData.ok}})"),
        )
        .before_request(app_authorization)
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

zapwasm_guest::export_app!(app);

/// Sets an Authorization header the host must overwrite.
fn app_authorization(mut request: Request, _z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
    request.set_header("Authorization", "Bearer set-by-the-app");
    Ok(request)
}
