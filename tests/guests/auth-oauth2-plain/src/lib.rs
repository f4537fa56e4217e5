//! OAuth 2 without autoRefresh (`tests/all/auth.rs`): the same app as
//! `auth-oauth2`, so a 401 is a plain response error, never a refresh; its
//! auth test, getAccessToken and refreshAccessToken are shorthand requests.

#[path = "../../auth_common.rs"]
mod common;
#[path = "../../auth_oauth2_common.rs"]
mod oauth2;

fn app() -> zapwasm_guest::App {
    oauth2::app(false, oauth2::Steps::Shorthand)
}

zapwasm_guest::export_app!(app);
