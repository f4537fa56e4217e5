//! Polling with dedupe: a polling trigger turned on for an account runs
//! `perform` on a schedule, and each poll emits only the items whose
//! primary key the subscription has not seen (every outputField marked
//! `primary`, together; else `id`). Starting a subscription runs one poll
//! with `meta.isPopulatingDedupe` that only seeds the seen set. The
//! subscription's scope carries its ID, so `z.cursor` persists between its
//! polls (BEHAVIOUR.md, "Flows that span calls").
//!
//! A poll reads the seen set and reports the new items; the keys are
//! marked seen by [`App::acknowledge_poll`] once the embedder has kept the
//! items. A process that dies between the two emits those items again on
//! the next poll (at least once), never loses them.

use std::time::Duration;

use serde_json::{Map, Value};

use super::hooks::{Subscribed, TriggerKind, items_of};
use super::{FlowError, new_subscription, require_success};
use crate::app::App;
use crate::bundle::{Bundle, Meta, Scope};
use crate::checks::primary_key;
use crate::error::{CallError, CheckFailure, ZError};
use crate::invoke::{Invocation, Outcome};
use crate::state::{Delivery, ScopeKey, Subscription};

/// What one poll found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Polled {
    /// The items not seen before, in the order the trigger returned them
    /// (empty for the seeding poll).
    pub new_items: Vec<Value>,
    /// The primary key of every item of the poll, in order: what
    /// [`App::acknowledge_poll`] marks seen.
    pub keys: Vec<String>,
    /// Whether this was the seeding poll (`meta.isPopulatingDedupe`).
    pub seeding: bool,
    /// The call of `perform`.
    pub outcome: Outcome,
}

impl App {
    /// Turn the polling trigger `trigger` on for `account`: store the
    /// subscription (polled every `interval` by the embedder's scheduler)
    /// and run its seeding poll, whose items are marked seen and not
    /// emitted. When the seeding poll fails the subscription is removed and
    /// the call is the error.
    pub async fn start_polling(
        &self,
        trigger: &str,
        account: &Scope,
        input_data: Map<String, Value>,
        auth_data: Map<String, Value>,
        interval: Duration,
    ) -> Result<Subscribed, FlowError> {
        self.require_trigger(trigger, TriggerKind::Polling)?;
        let delivery = Delivery::Polling { interval_seconds: interval.as_secs().max(1) };
        let subscription = new_subscription(account, trigger, delivery, input_data);
        let subscriptions = &self.services().stores.subscriptions;
        subscriptions.put_subscription(subscription.clone()).await?;
        let seeded = match self.poll_as(&subscription, auth_data, true).await {
            Ok(polled) => self.acknowledge_poll(&subscription, &polled).await.map(|()| polled),
            Err(failed) => Err(failed),
        };
        match seeded {
            Ok(polled) => Ok(Subscribed { subscription, outcome: polled.outcome }),
            Err(failed) => {
                subscriptions.remove_subscription(&subscription.scope, &subscription.id).await?;
                Err(failed)
            }
        }
    }

    /// One poll of a polling subscription: `perform`, and the items whose
    /// primary key the subscription has not seen. Mark them seen with
    /// [`App::acknowledge_poll`] once they are kept. A result that is not a
    /// list of items each with a primary key fails the poll (check `T002`
    /// for a missing key): its outcome is the error.
    pub async fn poll(&self, subscription: &Subscription, auth_data: Map<String, Value>) -> Result<Polled, FlowError> {
        self.poll_as(subscription, auth_data, false).await
    }

    /// Mark the keys of `polled` seen by `subscription`.
    pub async fn acknowledge_poll(&self, subscription: &Subscription, polled: &Polled) -> Result<(), FlowError> {
        let dedupe = &self.services().stores.dedupe;
        dedupe.mark_seen(&ScopeKey::of(&subscription.scope), &polled.keys).await?;
        Ok(())
    }

    async fn poll_as(
        &self,
        subscription: &Subscription,
        auth_data: Map<String, Value>,
        seeding: bool,
    ) -> Result<Polled, FlowError> {
        if !matches!(subscription.delivery, Delivery::Polling { .. }) {
            return Err(FlowError::NotSupported {
                key: format!("triggers.{}", subscription.trigger),
                reason: "this subscription is a REST hook; it is not polled".into(),
            });
        }
        let bundle = Bundle {
            auth_data,
            input_data: subscription.input_data.clone(),
            meta: Meta { is_populating_dedupe: seeding, ..Meta::default() },
            ..Bundle::default()
        };
        let method = format!("triggers.{}.operation.perform", subscription.trigger);
        let outcome = self.invoke(Invocation::new(method, bundle, subscription.scope.clone())).await;
        let (result, outcome) = require_success(outcome)?;
        let items = match result {
            Value::Array(items) => items,
            other => {
                let shape = if other.is_object() { "an object" } else { "not a list" };
                let failure = format!("a polling trigger returns a list of items; this one returned {shape}");
                return Err(failed_check(outcome, "result.trigger-array", failure));
            }
        };
        let mut keys = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match primary_key(self.definition(), &subscription.trigger, item) {
                Some(key) => keys.push(key),
                None => {
                    let failure = format!(
                        "item {index} has no primary key (the outputFields marked primary, else `id`), so it \
                         cannot be told apart from items seen before"
                    );
                    return Err(failed_check(outcome, "T002", failure));
                }
            }
        }
        let new_items = if seeding {
            Vec::new()
        } else {
            let seen = self.services().stores.dedupe.seen(&ScopeKey::of(&subscription.scope), &keys).await?;
            // A key twice in one poll is new once, at its first place.
            let mut this_poll = std::collections::HashSet::new();
            items_of(Value::Array(items))
                .into_iter()
                .zip(keys.iter().zip(seen))
                .filter(|(_, (key, seen))| !seen && this_poll.insert(key.as_str()))
                .map(|(item, _)| item)
                .collect()
        };
        Ok(Polled { new_items, keys, seeding, outcome })
    }
}

/// The poll's outcome turned into the failed result check.
fn failed_check(mut outcome: Outcome, id: &str, message: String) -> FlowError {
    let failure = CheckFailure { id: id.to_string(), message };
    outcome.result = Err(CallError::Integration { error: ZError::Check { failures: vec![failure] } });
    outcome.status = crate::invoke::Status::Error;
    FlowError::Call(Box::new(outcome))
}
