//! OAuth 2 with autoRefresh and PKCE (`tests/all/auth.rs`,
//! `tests/all/connect.rs`): tokens from `/oauth/token`, sent as
//! `Authorization: Bearer` by beforeRequest.

#[path = "../../auth_common.rs"]
mod common;
#[path = "../../auth_oauth2_common.rs"]
mod oauth2;

fn app() -> zapwasm_guest::App {
    oauth2::app(true, oauth2::Steps::Functions)
}

zapwasm_guest::export_app!(app);
