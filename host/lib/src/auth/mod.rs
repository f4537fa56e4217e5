//! Authentication the host does itself, so secrets never pass through
//! integration code they need not: basic and digest headers, OAuth 1 request
//! signing, the refresh-and-retry of session and OAuth 2 credentials, and
//! rendering the connection label, and connecting an account (`connect`).

pub(crate) mod connect;
pub(crate) mod digest;
pub(crate) mod label;
pub(crate) mod oauth1;
pub(crate) mod refresh;

/// The methods whose result is credentials (authData fields): what their
/// call logged and exchanged is censored with what they return too.
const CREDENTIAL_METHODS: &[&str] = &[
    "authentication.sessionConfig.perform",
    "authentication.oauth2Config.getAccessToken",
    "authentication.oauth2Config.refreshAccessToken",
    "authentication.oauth1Config.getRequestToken",
    "authentication.oauth1Config.getAccessToken",
];

/// Whether `method`'s result is credentials.
pub(crate) fn returns_credentials(method: &str) -> bool {
    CREDENTIAL_METHODS.contains(&method)
}
