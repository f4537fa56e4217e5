//! Every store in this process's memory: for tests, `zapwasm invoke
//! --no-state`, and embedders that keep nothing across restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use futures::future::BoxFuture;

use super::{
    CallbackStore, Claim, CursorStore, DEDUPE_KEYS_KEPT, DedupeStore, PendingCallback, ScopeKey, StateError,
    Subscription, SubscriptionStore,
};
use crate::bundle::Scope;

/// Cursors, callbacks, dedupe sets and subscriptions in memory. Lost when
/// the process exits.
#[derive(Debug)]
pub struct MemoryState {
    dedupe_keys_kept: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    cursors: HashMap<ScopeKey, (String, SystemTime)>,
    callbacks: HashMap<String, (PendingCallback, bool)>,
    dedupe: HashMap<ScopeKey, SeenKeys>,
    subscriptions: HashMap<String, Subscription>,
}

/// One subscription's seen keys, with the order they were last seen in.
#[derive(Debug, Default)]
struct SeenKeys {
    next: u64,
    by_key: HashMap<String, u64>,
    by_age: BTreeMap<u64, String>,
}

impl SeenKeys {
    fn mark(&mut self, key: &str, kept: usize) -> bool {
        let fresh = self.next;
        self.next += 1;
        let new = match self.by_key.insert(key.to_string(), fresh) {
            Some(old) => {
                self.by_age.remove(&old);
                false
            }
            None => true,
        };
        self.by_age.insert(fresh, key.to_string());
        while self.by_key.len() > kept {
            let Some((_, oldest)) = self.by_age.pop_first() else { break };
            self.by_key.remove(&oldest);
        }
        new
    }
}

impl MemoryState {
    /// An empty state keeping at most `dedupe_keys_kept` keys per
    /// subscription (the default: [`DEDUPE_KEYS_KEPT`]).
    pub fn new(dedupe_keys_kept: usize) -> MemoryState {
        MemoryState { dedupe_keys_kept: dedupe_keys_kept.max(1), inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryState {
    fn default() -> MemoryState {
        MemoryState::new(DEDUPE_KEYS_KEPT)
    }
}

/// A future already resolved: every operation here is done under the lock.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, StateError>> {
    Box::pin(std::future::ready(Ok(value)))
}

/// Whether `scope` names the account `of` belongs to.
fn same_account(scope: &Scope, of: &Scope) -> bool {
    scope.integration == of.integration && scope.account == of.account
}

impl CursorStore for MemoryState {
    fn cursor<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        let now = SystemTime::now();
        let mut inner = self.lock();
        inner.cursors.retain(|_, (_, expires)| *expires > now);
        ready(inner.cursors.get(scope).map(|(value, _)| value.clone()))
    }

    fn set_cursor<'a>(
        &'a self,
        scope: &'a ScopeKey,
        value: String,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.lock().cursors.insert(scope.clone(), (value, expires));
        ready(())
    }
}

impl CallbackStore for MemoryState {
    fn put_callback(&self, callback: PendingCallback) -> BoxFuture<'_, Result<(), StateError>> {
        self.lock().callbacks.insert(callback.id.clone(), (callback, false));
        ready(())
    }

    fn claim_callback<'a>(&'a self, id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<Claim, StateError>> {
        let mut inner = self.lock();
        let claim = match inner.callbacks.get_mut(id) {
            None => Claim::Unknown,
            Some((_, true)) => Claim::AlreadyClaimed,
            Some((callback, _)) if callback.expires <= now => Claim::Expired,
            Some((callback, claimed)) => {
                *claimed = true;
                Claim::Claimed(callback.clone())
            }
        };
        ready(claim)
    }

    fn callback<'a>(
        &'a self,
        scope: &'a ScopeKey,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingCallback>, StateError>> {
        let inner = self.lock();
        let found = inner
            .callbacks
            .get(id)
            .map(|(callback, _)| callback)
            .filter(|callback| ScopeKey::of(&callback.scope) == *scope && callback.expires > now)
            .cloned();
        ready(found)
    }
}

impl DedupeStore for MemoryState {
    fn mark_seen<'a>(
        &'a self,
        scope: &'a ScopeKey,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<bool>, StateError>> {
        let mut inner = self.lock();
        let seen = inner.dedupe.entry(scope.clone()).or_default();
        ready(keys.iter().map(|key| seen.mark(key, self.dedupe_keys_kept)).collect())
    }

    fn seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<Vec<bool>, StateError>> {
        let inner = self.lock();
        let seen = inner.dedupe.get(scope);
        ready(keys.iter().map(|key| seen.is_some_and(|seen| seen.by_key.contains_key(key))).collect())
    }

    fn forget_seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<(), StateError>> {
        if let Some(seen) = self.lock().dedupe.get_mut(scope) {
            for key in keys {
                if let Some(age) = seen.by_key.remove(key) {
                    seen.by_age.remove(&age);
                }
            }
        }
        ready(())
    }

    fn clear_seen<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<(), StateError>> {
        self.lock().dedupe.remove(scope);
        ready(())
    }
}

impl SubscriptionStore for MemoryState {
    fn put_subscription(&self, subscription: Subscription) -> BoxFuture<'_, Result<(), StateError>> {
        self.lock().subscriptions.insert(subscription.id.clone(), subscription);
        ready(())
    }

    fn subscription<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Subscription>, StateError>> {
        ready(self.lock().subscriptions.get(id).cloned())
    }

    fn remove_subscription<'a>(&'a self, scope: &'a Scope, id: &'a str) -> BoxFuture<'a, Result<bool, StateError>> {
        let mut inner = self.lock();
        let owned = inner.subscriptions.get(id).is_some_and(|s| same_account(scope, &s.scope));
        if owned {
            inner.subscriptions.remove(id);
        }
        ready(owned)
    }

    fn subscriptions<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, Result<Vec<Subscription>, StateError>> {
        let inner = self.lock();
        ready(inner.subscriptions.values().filter(|s| same_account(scope, &s.scope)).cloned().collect())
    }
}
