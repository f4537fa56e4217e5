//! Digest auth (`tests/all/auth.rs`): the host answers the server's
//! challenge (RFC 7616, MD5, qop=auth).

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            common::with_user_fields(Authentication::new(AuthType::Digest))
                .test(common::get)
                .connection_label("{{bundle.inputData.user}}"),
        )
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
}

zapwasm_guest::export_app!(app);
