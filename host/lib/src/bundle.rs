//! The bundle a method receives (its shape is one of the rules both sides
//! of the boundary share, in `zapwasm-rules`), and the scope its state
//! lives in.

use serde::{Deserialize, Serialize};

pub use zapwasm_rules::{BufferedItem, BufferedMeta, Bundle, Meta};

/// Whose state a call touches. Cursor, stash and callback state are keyed
/// by all three parts, so one tenant can never name another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The integration (app) ID.
    pub integration: String,
    /// The connected account.
    pub account: String,
    /// The subscription (an automation's step), when there is one.
    pub subscription: Option<String>,
}

impl Scope {
    /// A scope for an integration and account, with no subscription.
    pub fn new(integration: impl Into<String>, account: impl Into<String>) -> Scope {
        Scope { integration: integration.into(), account: account.into(), subscription: None }
    }

    /// The one scope of local use (`local`/`local`): the command line and
    /// tests, where one user owns all the state. See [`Invocation::local`](crate::Invocation::local).
    pub fn local() -> Scope {
        Scope::new("local", "local")
    }

    /// The same scope for one subscription.
    pub fn subscription(mut self, subscription: impl Into<String>) -> Scope {
        self.subscription = Some(subscription.into());
        self
    }
}
