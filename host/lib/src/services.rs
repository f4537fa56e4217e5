//! What every call of one host shares: the HTTP clients (built by `egress`
//! with the settings that enforce the policy), the policy, the stores, the
//! callback URL base and the keys the host signs with. The capabilities read them through the call's
//! context ([`CallContext`](crate::sandbox::CallContext)).

use std::sync::Arc;
use std::time::Duration;

use crate::client::{ClientError, Clients};
use crate::egress::Resolver;
use crate::policy::Policy;
use crate::state::Stores;

/// Host-wide services the capabilities use.
pub(crate) struct Services {
    /// The HTTP clients, one per kind of hop.
    pub(crate) http: Clients,
    pub(crate) policy: Arc<Policy>,
    pub(crate) stores: Stores,
    pub(crate) callback_base_url: Option<String>,
    /// The base of REST hook target URLs.
    pub(crate) hook_base_url: Option<String>,
    pub(crate) signing: Signing,
}

/// The keys a host signs with, and how long a stash URL opens. One key per
/// purpose: a signature made for one can never pass for the other.
pub(crate) struct Signing {
    /// Signs dehydrated values (`flows/hydration`); `None`: they stay unsigned.
    pub(crate) hydration: Option<Vec<u8>>,
    /// Signs the tokens of stash URLs (`capability/stash`).
    pub(crate) stash: Vec<u8>,
    /// How long a stash URL opens.
    pub(crate) stash_url_lifetime: Duration,
}

impl Signing {
    /// The keys: the secrets the embedder set; for stash URLs without one,
    /// 32 random bytes of this process (its URLs stop opening when it exits).
    pub(crate) fn new(
        hydration: Option<Vec<u8>>,
        stash: Option<Vec<u8>>,
        stash_url_lifetime: Duration,
    ) -> Result<Signing, getrandom::Error> {
        let stash = match stash {
            Some(secret) => secret,
            None => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key)?;
                key
            }
        };
        Ok(Signing { hydration, stash, stash_url_lifetime })
    }
}

impl Services {
    pub(crate) fn new(
        policy: Arc<Policy>,
        resolver: Arc<dyn Resolver>,
        stores: Stores,
        callback_base_url: Option<String>,
        hook_base_url: Option<String>,
        signing: Signing,
        user_agent: &str,
    ) -> Result<Services, ClientError> {
        Ok(Services {
            http: Clients::new(&policy, &resolver, user_agent)?,
            policy,
            stores,
            callback_base_url,
            hook_base_url,
            signing,
        })
    }
}
