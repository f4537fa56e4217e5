//! The flows that span calls, built on the state traits: a callback
//! resumed days after the call that asked for it (`callbacks`), REST hooks
//! subscribed, delivered and unsubscribed (`hooks`), polling triggers that
//! emit only what they have not seen (`polling`), buffered creates
//! (`buffer`). Each adds its steps to [`App`](crate::App) or
//! [`Host`](crate::Host); an embedder's receiver (or `zapwasm serve`) only
//! wires them to HTTP and a scheduler.
//!
//! Every step that keeps state writes it before it reports success, so a
//! step acknowledged to a sender survives a restart of the process.

pub(crate) mod buffer;
pub(crate) mod callbacks;
pub(crate) mod hooks;
pub(crate) mod hydration;
pub(crate) mod polling;

use crate::invoke::Outcome;
use crate::state::StateError;

/// Why a flow's step could not run. A call the step made that failed is
/// [`FlowError::Call`], with its whole outcome (error, logs, exchanges).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// No subscription has this ID, or it belongs to another account: it
    /// was removed, or never existed. A hook receiver answers 410 Gone, which
    /// tells a REST hook sender to drop the hook.
    #[error("no subscription has this ID (it was removed, or never existed)")]
    UnknownSubscription,
    /// The trigger or create named cannot run this flow.
    #[error("{key}: {reason}")]
    NotSupported {
        /// The operation's key, e.g. `triggers.new_contact`.
        key: String,
        /// Why, and what would fix it.
        reason: String,
    },
    /// The host lacks a setting the flow needs.
    #[error("this host has no {setting} configured; set HostBuilder::{setting}")]
    NotConfigured {
        /// The builder setting, e.g. `hook_base_url`.
        setting: &'static str,
    },
    /// A call the flow made failed; its outcome says how.
    #[error("{}", describe_failed_call(.0))]
    Call(Box<Outcome>),
    /// The state backend failed; nothing was kept, the step may be retried.
    #[error("the host's state failed")]
    State(#[source] StateError),
}

impl FlowError {
    /// The HTTP status a receiver answers with: 410 for an unknown
    /// subscription, 400 for a flow the integration does not support, 502
    /// for a failed call (the integration or its API failed), 503 for a
    /// missing setting or a state failure (retry later).
    pub fn http_status(&self) -> u16 {
        match self {
            FlowError::UnknownSubscription => 410,
            FlowError::NotSupported { .. } => 400,
            FlowError::Call(_) => 502,
            FlowError::NotConfigured { .. } | FlowError::State(_) => 503,
        }
    }
}

impl From<StateError> for FlowError {
    fn from(error: StateError) -> FlowError {
        FlowError::State(error)
    }
}

fn describe_failed_call(outcome: &Outcome) -> String {
    match &outcome.result {
        Err(error) => format!("the integration's call failed: {error}"),
        Ok(_) => "the integration's call failed".to_string(),
    }
}

/// The outcome of a call a flow depends on: its result parsed, or the
/// call as a [`FlowError::Call`].
fn require_success(outcome: Outcome) -> Result<(serde_json::Value, Outcome), FlowError> {
    match &outcome.result {
        Ok(json) => Ok((json.value(), outcome)),
        Err(_) => Err(FlowError::Call(Box::new(outcome))),
    }
}

/// A new subscription of `account` (its integration and account) to
/// `trigger`: an unguessable ID, and the scope that carries it, so the
/// subscription's cursor and seen keys are its own.
fn new_subscription(
    account: &crate::bundle::Scope,
    trigger: &str,
    delivery: crate::state::Delivery,
    input_data: serde_json::Map<String, serde_json::Value>,
) -> crate::state::Subscription {
    let id = crate::random_id::random_id();
    crate::state::Subscription {
        scope: crate::bundle::Scope::new(&account.integration, &account.account).subscription(&id),
        id,
        trigger: trigger.to_string(),
        delivery,
        input_data,
        subscribe_data: None,
        target_url: None,
    }
}
