//! State that outlives one call, each kind behind a trait so a platform can
//! swap the embedded default for a distributed backend.
//!
//! | state | trait | embedded default |
//! |---|---|---|
//! | cursors | [`CursorStore`] | [`MemoryCursors`] |
//! | stashed files | [`StashStore`] | [`LocalStash`] |
//!
//! Every key is built from a [`Scope`]: one tenant can never name
//! another's state, whatever strings its guest sends.

mod local_stash;
mod memory_cursors;

pub use local_stash::LocalStash;
pub use memory_cursors::MemoryCursors;

use futures::future::BoxFuture;

use crate::bundle::Scope;

/// A state backend failed.
#[derive(Debug, thiserror::Error)]
#[error("{backend}: {message}")]
pub struct StateError {
    /// Which backend.
    pub backend: &'static str,
    /// What failed.
    pub message: String,
}

/// The key of a scope: injective, so no choice of strings in one scope
/// produces another scope's key.
pub(crate) fn scope_key(scope: &Scope) -> String {
    serde_json::json!([scope.integration, scope.account, scope.subscription]).to_string()
}

/// Where `z.cursor` values live. A value is kept for about an hour.
pub trait CursorStore: Send + Sync + 'static {
    /// The cursor of a scope, if set and not expired.
    fn get<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, Result<Option<String>, StateError>>;
    /// Set the cursor of a scope.
    fn set<'a>(&'a self, scope: &'a Scope, value: String) -> BoxFuture<'a, Result<(), StateError>>;
}

/// A file to stash.
#[derive(Debug, Clone)]
pub struct StashedFile {
    /// The file name, already made safe (no path separators).
    pub filename: String,
    /// The content type.
    pub content_type: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

/// Where `z.stashFile` puts files.
pub trait StashStore: Send + Sync + 'static {
    /// Store a file for a scope; returns a URL later steps can download it from.
    fn put<'a>(&'a self, scope: &'a Scope, file: StashedFile) -> BoxFuture<'a, Result<String, StateError>>;
}

/// Every store a host keeps state in, handed to
/// [`HostBuilder::stores`](crate::HostBuilder::stores) as one value. The
/// flows that span calls (callbacks, dedupe sets, subscriptions) add their
/// stores here, so a backend crate hands a host all of its stores at once.
///
/// ```
/// use std::sync::Arc;
/// use zapwasm_host::{LocalStash, MemoryCursors, Stores};
///
/// let stores = Stores::local()
///     .cursors(Arc::new(MemoryCursors::default()))
///     .stash(Arc::new(LocalStash::new("/var/lib/zapwasm/stash", "https://files.example.com/stash")));
/// # drop(stores);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Stores {
    /// Where `z.cursor` values live.
    pub cursors: std::sync::Arc<dyn CursorStore>,
    /// Where `z.stashFile` puts files.
    pub stash: std::sync::Arc<dyn StashStore>,
}

impl Stores {
    /// Stores for one process: cursors in memory ([`MemoryCursors`]),
    /// stashed files in a directory of the system's temporary directory
    /// with `file://` URLs ([`LocalStash`]).
    pub fn local() -> Stores {
        let dir = std::env::temp_dir().join("zapwasm-stash");
        let base = url::Url::from_directory_path(&dir)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("file://{}", dir.display()));
        Stores {
            cursors: std::sync::Arc::new(MemoryCursors::default()),
            stash: std::sync::Arc::new(LocalStash::new(dir, base)),
        }
    }

    /// The same stores with cursors kept in `store`.
    pub fn cursors(mut self, store: std::sync::Arc<dyn CursorStore>) -> Stores {
        self.cursors = store;
        self
    }

    /// The same stores with stashed files kept in `store`.
    pub fn stash(mut self, store: std::sync::Arc<dyn StashStore>) -> Stores {
        self.stash = store;
        self
    }
}

impl Default for Stores {
    fn default() -> Stores {
        Stores::local()
    }
}
