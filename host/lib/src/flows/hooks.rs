//! REST hooks: a trigger the API pushes to. Subscribing stores the
//! subscription, then runs `performSubscribe` with a target URL unique to
//! it (the embedder's receiver answers that URL) and keeps what it
//! returned as `subscribeData`; a delivery to the URL runs `perform` with
//! the request (once per item when the body is a JSON array); unsubscribing
//! runs `performUnsubscribe` and removes the subscription (BEHAVIOUR.md,
//! "Flows that span calls").

use serde_json::{Map, Value};

use super::{FlowError, new_subscription, require_success};
use crate::app::App;
use crate::bundle::{Bundle, Meta, Scope};
use crate::host::Host;
use crate::incoming::IncomingRequest;
use crate::invoke::{Invocation, Outcome};
use crate::state::{Delivery, ScopeKey, Subscription};

/// A subscription made, with the call that made it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Subscribed {
    /// The subscription as stored.
    pub subscription: Subscription,
    /// The call that subscribed (`performSubscribe`, or a polling
    /// trigger's first poll).
    pub outcome: Outcome,
}

/// What a hook delivery did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Delivered {
    /// The items the trigger emitted, in order.
    pub items: Vec<Value>,
    /// The calls of `perform`, one per payload (a JSON array body is one
    /// payload per element).
    pub outcomes: Vec<Outcome>,
    /// The sender's delivery ID ([`IncomingRequest::delivery_id`]) was seen
    /// before: nothing ran.
    pub duplicate: bool,
}

impl Host {
    /// The subscription `id` (the last segment of its hook URL), whoever's
    /// it is: a receiver knows only the ID. Run its deliveries on the app of
    /// `subscription.scope.integration`.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, FlowError> {
        self.stores().subscriptions.subscription(id).await?.ok_or(FlowError::UnknownSubscription)
    }
}

impl App {
    /// Subscribe the REST hook trigger `trigger` (its key) for `account`
    /// (its integration and account; a subscription ID is made). The
    /// subscription is stored first, so a sender that calls the target URL
    /// while `performSubscribe` is still running finds it; if
    /// `performSubscribe` fails, it is removed and the call is the error.
    pub async fn subscribe_hook(
        &self,
        trigger: &str,
        account: &Scope,
        input_data: Map<String, Value>,
        auth_data: Map<String, Value>,
    ) -> Result<Subscribed, FlowError> {
        self.require_trigger(trigger, TriggerKind::Hook)?;
        let services = self.services();
        let base = services.hook_base_url.as_deref().ok_or(FlowError::NotConfigured { setting: "hook_base_url" })?;
        let mut subscription = new_subscription(account, trigger, Delivery::Hook, input_data);
        subscription.target_url = Some(format!("{}/{}", base.trim_end_matches('/'), subscription.id));
        let stores = &services.stores;
        stores.subscriptions.put_subscription(subscription.clone()).await?;
        let method = format!("triggers.{trigger}.operation.performSubscribe");
        let outcome = self
            .invoke(Invocation::new(method, hook_bundle(&subscription, auth_data), subscription.scope.clone()))
            .await;
        let (subscribe_data, outcome) = match require_success(outcome) {
            Ok(done) => done,
            Err(failed) => {
                stores.subscriptions.remove_subscription(&subscription.scope, &subscription.id).await?;
                return Err(failed);
            }
        };
        subscription.subscribe_data = Some(subscribe_data);
        stores.subscriptions.put_subscription(subscription.clone()).await?;
        Ok(Subscribed { subscription, outcome })
    }

    /// Run a delivery to a hook subscription: `perform` with the request as
    /// `rawRequest` and `cleanedRequest`, once per element when the body is
    /// a JSON array. A delivery whose sender's ID
    /// ([`IncomingRequest::delivery_id`]) this subscription has seen runs
    /// nothing and says so; a failed run forgets the ID, so the sender's
    /// retry runs.
    pub async fn deliver_hook(
        &self,
        subscription: &Subscription,
        auth_data: Map<String, Value>,
        request: &IncomingRequest,
    ) -> Result<Delivered, FlowError> {
        if subscription.delivery != Delivery::Hook {
            return Err(FlowError::NotSupported {
                key: format!("triggers.{}", subscription.trigger),
                reason: "this subscription polls; it takes no hook deliveries".into(),
            });
        }
        let dedupe = &self.services().stores.dedupe;
        let deliveries = ScopeKey::deliveries(&subscription.scope);
        let delivery_id = request.delivery_id().map(|id| vec![id]);
        if let Some(id) = &delivery_id
            && dedupe.mark_seen(&deliveries, id).await? == [false]
        {
            return Ok(Delivered { items: Vec::new(), outcomes: Vec::new(), duplicate: true });
        }
        let payloads = match request.cleaned_request() {
            Value::Array(items) => items,
            payload => vec![payload],
        };
        let raw_request = request.raw_request();
        let method = format!("triggers.{}.operation.perform", subscription.trigger);
        let mut delivered = Delivered { items: Vec::new(), outcomes: Vec::new(), duplicate: false };
        for payload in payloads {
            let mut bundle = hook_bundle(subscription, auth_data.clone());
            bundle.raw_request = Some(raw_request.clone());
            bundle.cleaned_request = Some(payload);
            let outcome = self.invoke(Invocation::new(&method, bundle, subscription.scope.clone())).await;
            match require_success(outcome) {
                Ok((result, outcome)) => {
                    delivered.items.extend(items_of(result));
                    delivered.outcomes.push(outcome);
                }
                Err(failed) => {
                    if let Some(id) = &delivery_id {
                        dedupe.forget_seen(&deliveries, id).await?;
                    }
                    return Err(failed);
                }
            }
        }
        Ok(delivered)
    }

    /// Sample items of a hook trigger, for a user setting it up:
    /// `performList` with `meta.isLoadingSample`.
    pub async fn hook_samples(
        &self,
        trigger: &str,
        scope: &Scope,
        input_data: Map<String, Value>,
        auth_data: Map<String, Value>,
    ) -> Result<(Vec<Value>, Outcome), FlowError> {
        self.require_trigger(trigger, TriggerKind::Hook)?;
        let bundle = Bundle {
            auth_data,
            input_data,
            meta: Meta { is_loading_sample: true, ..Meta::default() },
            ..Bundle::default()
        };
        let method = format!("triggers.{trigger}.operation.performList");
        let (result, outcome) = require_success(self.invoke(Invocation::new(method, bundle, scope.clone())).await)?;
        Ok((items_of(result), outcome))
    }

    /// Turn a subscription of `account` off: for a hook, run
    /// `performUnsubscribe` (when the trigger has one) with `subscribeData`;
    /// then remove the subscription and forget what it had seen. When
    /// `performUnsubscribe` fails the subscription is kept (the API may
    /// still be sending), and the call is the error: try again later.
    /// Another account's subscription is [`FlowError::UnknownSubscription`].
    pub async fn unsubscribe(
        &self,
        account: &Scope,
        id: &str,
        auth_data: Map<String, Value>,
    ) -> Result<Option<Outcome>, FlowError> {
        let stores = &self.services().stores;
        let subscription = stores
            .subscriptions
            .subscription(id)
            .await?
            .filter(|s| s.scope.integration == account.integration && s.scope.account == account.account)
            .ok_or(FlowError::UnknownSubscription)?;
        let method = format!("triggers.{}.operation.performUnsubscribe", subscription.trigger);
        let outcome = if subscription.delivery == Delivery::Hook && self.definition().has_method(&method) {
            let call = Invocation::new(method, hook_bundle(&subscription, auth_data), subscription.scope.clone());
            Some(require_success(self.invoke(call).await)?.1)
        } else {
            None
        };
        if !stores.subscriptions.remove_subscription(&subscription.scope, id).await? {
            return Err(FlowError::UnknownSubscription);
        }
        stores.dedupe.clear_seen(&ScopeKey::of(&subscription.scope)).await?;
        stores.dedupe.clear_seen(&ScopeKey::deliveries(&subscription.scope)).await?;
        Ok(outcome)
    }

    /// The trigger `key`, if it is of `kind`; else why not.
    pub(crate) fn require_trigger(&self, key: &str, kind: TriggerKind) -> Result<(), FlowError> {
        let not = |reason: String| FlowError::NotSupported { key: format!("triggers.{key}"), reason };
        let Some(operation) = self.definition().get(&format!("triggers.{key}.operation")) else {
            return Err(not("the integration has no such trigger".into()));
        };
        let is_hook = operation.get("type").and_then(Value::as_str) == Some("hook");
        match kind {
            TriggerKind::Hook if !is_hook => Err(not("this trigger polls; subscribe it as a polling trigger".into())),
            TriggerKind::Polling if is_hook => Err(not("this trigger is a REST hook; subscribe it as a hook".into())),
            _ if !self.definition().has_method(&format!("triggers.{key}.operation.perform")) => {
                Err(not("the trigger has no perform".into()))
            }
            _ => Ok(()),
        }
    }
}

/// How a trigger delivers its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TriggerKind {
    Hook,
    Polling,
}

/// The bundle of a hook subscription's calls: its input, `subscribeData`
/// and `targetUrl`.
fn hook_bundle(subscription: &Subscription, auth_data: Map<String, Value>) -> Bundle {
    Bundle {
        auth_data,
        input_data: subscription.input_data.clone(),
        subscribe_data: subscription.subscribe_data.clone(),
        target_url: subscription.target_url.clone(),
        ..Bundle::default()
    }
}

/// The items of a trigger's result: the elements of an array, or an object
/// as one item (the result checks report the object).
pub(crate) fn items_of(result: Value) -> Vec<Value> {
    match result {
        Value::Array(items) => items,
        Value::Object(_) => vec![result],
        _ => Vec::new(),
    }
}
