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
