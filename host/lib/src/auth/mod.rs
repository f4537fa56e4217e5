//! Authentication the host does itself, so secrets never pass through
//! integration code they need not: basic and digest headers, OAuth 1 request
//! signing, the refresh-and-retry of session and OAuth 2 credentials, and
//! rendering the connection label, and connecting an account (`connect`).

pub(crate) mod connect;
pub(crate) mod digest;
pub(crate) mod label;
pub(crate) mod oauth1;
pub(crate) mod refresh;
