//! Cursors kept in this process's memory: the embedded default for one machine.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{CursorStore, StateError, scope_key};
use crate::bundle::Scope;

/// Cursors in memory, each expiring `ttl` after it was set (default one hour,
/// as on the reference platform). Lost when the process exits.
#[derive(Debug)]
pub struct MemoryCursors {
    ttl: Duration,
    values: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryCursors {
    /// An empty store whose values expire after `ttl`.
    pub fn new(ttl: Duration) -> MemoryCursors {
        MemoryCursors { ttl, values: Mutex::default() }
    }
}

impl Default for MemoryCursors {
    fn default() -> MemoryCursors {
        MemoryCursors::new(Duration::from_secs(3600))
    }
}

impl CursorStore for MemoryCursors {
    fn get<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        let key = scope_key(scope);
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        values.retain(|_, (_, expires)| *expires > now);
        let value = values.get(&key).map(|(v, _)| v.clone());
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(&'a self, scope: &'a Scope, value: String) -> BoxFuture<'a, Result<(), StateError>> {
        let key = scope_key(scope);
        let expires = Instant::now() + self.ttl;
        self.values.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (value, expires));
        Box::pin(async { Ok(()) })
    }
}
