//! What every call of one host shares: the HTTP clients (built by `egress`
//! with the settings that enforce the policy), the policy, the stores and
//! the callback URL base. The capabilities read them through the call's
//! context ([`CallContext`](crate::sandbox::CallContext)).

use std::sync::Arc;

use crate::egress::{self, Encodings, Resolver};
use crate::policy::Policy;
use crate::state::Stores;

/// Host-wide services the capabilities use.
pub(crate) struct Services {
    /// The client for requests that accept compressed bodies (the default).
    pub(crate) http: reqwest::Client,
    /// The client for requests with `compress: false`.
    pub(crate) http_identity: reqwest::Client,
    pub(crate) policy: Arc<Policy>,
    pub(crate) stores: Stores,
    pub(crate) callback_base_url: Option<String>,
}

impl Services {
    pub(crate) fn new(
        policy: Arc<Policy>,
        resolver: Arc<dyn Resolver>,
        stores: Stores,
        callback_base_url: Option<String>,
    ) -> Result<Services, reqwest::Error> {
        Ok(Services {
            http: egress::client(&policy, &resolver, Encodings::Decompressed)?,
            http_identity: egress::client(&policy, &resolver, Encodings::Identity)?,
            policy,
            stores,
            callback_base_url,
        })
    }
}
