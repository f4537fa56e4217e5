//! State that outlives one call, one trait per capability, so a platform can
//! swap the in-process default for a durable or distributed backend.
//!
//! | state | trait | expiry | in this crate |
//! |---|---|---|---|
//! | cursors | [`CursorStore`] | [`CURSOR_TTL`] after the last set | [`MemoryState`] |
//! | pending callbacks | [`CallbackStore`] | [`CALLBACK_TTL`] after the call | [`MemoryState`] |
//! | seen primary keys of a poll | [`DedupeStore`] | none; at most [`DEDUPE_KEYS_KEPT`] per subscription | [`MemoryState`] |
//! | hook and polling subscriptions | [`SubscriptionStore`] | none; removed by unsubscribing | [`MemoryState`] |
//! | stashed files | [`StashStore`] | URLs after [`STASH_URL_LIFETIME`] (7 days); files the backend's | [`LocalStash`] |
//!
//! The durable backend in one file is the `zapwasm-state-sqlite` crate; the
//! distributed ones live in crates of their own, so an embedder compiles
//! only the backend it uses. Every backend passes the same conformance
//! suite (the `conformance` module, feature `state-conformance`).
//!
//! Every key of a scope's state is a [`ScopeKey`], built from the whole
//! [`Scope`] with an injective encoding: one tenant can never name
//! another's state, whatever strings its guest or its API sends.
//! Expiry times are wall-clock times ([`SystemTime`]), so they mean the
//! same after a restart.

#[cfg(feature = "state-conformance")]
pub mod conformance;
mod local_stash;
mod memory;

use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use local_stash::LocalStash;
pub use memory::MemoryState;

use crate::bundle::Scope;

/// How long a cursor is kept after it was last set (the reference
/// platform keeps it about an hour).
pub const CURSOR_TTL: Duration = Duration::from_secs(60 * 60);

/// How long a pending callback waits for its POST (the reference platform
/// waits up to 30 days).
pub const CALLBACK_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How many seen primary keys a subscription's dedupe set keeps: the most
/// recently seen. When a poll would push the set past it, the keys seen
/// longest ago are forgotten; an item whose key was forgotten and that an
/// API returns again fires again. Polling endpoints return their newest
/// items first, a page of 100 or so, so keys this old are no longer on it.
pub const DEDUPE_KEYS_KEPT: usize = 10_000;

/// A state backend failed.
#[derive(Debug, thiserror::Error)]
#[error("{backend}: {message}")]
pub struct StateError {
    /// Which backend.
    pub backend: &'static str,
    /// What failed.
    pub message: String,
}

/// The key of one scope's state: the whole [`Scope`] (integration,
/// account, subscription), encoded injectively, so no choice of strings in
/// one scope produces another scope's key. Backends key every scoped
/// record by it and by nothing a guest chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeKey(String);

impl ScopeKey {
    /// The key of `scope`: a JSON array of its three parts (JSON's string
    /// encoding is injective, and `null` stands apart from every string).
    pub fn of(scope: &Scope) -> ScopeKey {
        ScopeKey(serde_json::json!([scope.integration, scope.account, scope.subscription]).to_string())
    }

    /// The key of the delivery IDs a hook subscription has received (its
    /// senders' `webhook-id` and the like): apart from [`ScopeKey::of`]
    /// the same scope, since a four-part array never equals a three-part one.
    pub fn deliveries(scope: &Scope) -> ScopeKey {
        ScopeKey(serde_json::json!([scope.integration, scope.account, scope.subscription, "deliveries"]).to_string())
    }

    /// The key as text, for backends that store it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where `z.cursor` values live.
pub trait CursorStore: Send + Sync + 'static {
    /// The cursor of a scope, if set and not expired.
    fn cursor<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<Option<String>, StateError>>;
    /// Set the cursor of a scope, kept until `expires`.
    fn set_cursor<'a>(
        &'a self,
        scope: &'a ScopeKey,
        value: String,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), StateError>>;
}

/// A call that asked for a callback (`z.generateCallbackUrl`), waiting for
/// the POST that resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCallback {
    /// The unguessable ID in the callback URL.
    pub id: String,
    /// Whose call it was: the resume runs in the same scope.
    pub scope: Scope,
    /// The method that asked for the callback, e.g.
    /// `creates.export.operation.perform`.
    pub method: String,
    /// What that method returned: `outputData` of the resume.
    pub output_data: Value,
    /// The call's inputData, the resume's too. (Its authData is not kept:
    /// the resume runs with the account's credentials of the day.)
    pub input_data: Map<String, Value>,
    /// When the callback stops being accepted.
    pub expires: SystemTime,
}

/// What claiming a callback found. Exactly one claim of a pending callback
/// gets [`Claim::Claimed`], however many race for it.
// The callback is moved out once per claim, never kept in a collection:
// boxing it would cost an allocation and buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This claim won: resume the call.
    Claimed(PendingCallback),
    /// It was claimed before (a second POST, or a concurrent one that won).
    AlreadyClaimed,
    /// It was pending, but its time ran out.
    Expired,
    /// No callback has this ID.
    Unknown,
}

/// Where pending callbacks live until their POST arrives.
pub trait CallbackStore: Send + Sync + 'static {
    /// Keep a pending callback (a new ID; an existing one is replaced).
    fn put_callback(&self, callback: PendingCallback) -> BoxFuture<'_, Result<(), StateError>>;
    /// Claim the callback `id` for resuming, once.
    fn claim_callback<'a>(&'a self, id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<Claim, StateError>>;
    /// The callback `id` of `scope` (claimed or not), if it exists and has
    /// not expired. A callback of another scope is not found.
    fn callback<'a>(
        &'a self,
        scope: &'a ScopeKey,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingCallback>, StateError>>;
}

/// The primary keys a polling subscription has seen, so a poll emits only
/// new items. Bounded: see [`DEDUPE_KEYS_KEPT`].
pub trait DedupeStore: Send + Sync + 'static {
    /// Record `keys` as seen by the subscription of `scope`; for each, in
    /// order, whether it was new. A key repeated within `keys` is new at
    /// most once.
    fn mark_seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String])
    -> BoxFuture<'a, Result<Vec<bool>, StateError>>;
    /// For each of `keys`, whether the set holds it, changing nothing (a
    /// poll reads before its items are kept, and marks after).
    fn seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<Vec<bool>, StateError>>;
    /// Forget `keys` (a delivery whose run failed, so its retry runs).
    fn forget_seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<(), StateError>>;
    /// Forget every key of the subscription (it was turned off).
    fn clear_seen<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<(), StateError>>;
}

/// How a subscription's trigger delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Delivery {
    /// A REST hook: the API posts to the subscription's target URL.
    Hook,
    /// A polling trigger, run every `interval_seconds`.
    Polling {
        /// Seconds between polls.
        interval_seconds: u64,
    },
}

/// A trigger turned on for an account: a REST hook's subscription or a
/// polling schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The unguessable ID (a hook's target URL ends with it).
    pub id: String,
    /// Whose it is; its `subscription` part is this subscription's ID.
    pub scope: Scope,
    /// The trigger's key.
    pub trigger: String,
    /// Hook or polling.
    pub delivery: Delivery,
    /// The inputData the trigger runs with.
    pub input_data: Map<String, Value>,
    /// What performSubscribe returned (hooks), for perform and performUnsubscribe.
    pub subscribe_data: Option<Value>,
    /// The URL the API posts hooks to (hooks).
    pub target_url: Option<String>,
}

/// Where subscriptions live.
pub trait SubscriptionStore: Send + Sync + 'static {
    /// Keep a subscription (an existing one of the same ID is replaced).
    fn put_subscription(&self, subscription: Subscription) -> BoxFuture<'_, Result<(), StateError>>;
    /// The subscription `id`, whoever's it is: a hook delivery knows only
    /// the ID from its URL.
    fn subscription<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Subscription>, StateError>>;
    /// Remove the subscription `id` of the account `scope` names (its
    /// integration and account); whether there was one. Another account's
    /// subscription is not removed.
    fn remove_subscription<'a>(&'a self, scope: &'a Scope, id: &'a str) -> BoxFuture<'a, Result<bool, StateError>>;
    /// Every subscription of the account `scope` names (its integration and
    /// account), in no particular order.
    fn subscriptions<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, Result<Vec<Subscription>, StateError>>;
}

/// How long a stash URL opens by default: 7 days, time for the steps of
/// an automation that use a file to run (and be replayed). Set another
/// with [`HostBuilder::stash_url_lifetime`](crate::HostBuilder::stash_url_lifetime).
pub const STASH_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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

/// The bytes of a stashed file, read as they are needed.
pub type StashedBody = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send + Sync>>;

/// A stashed file opened for reading: what a download sends.
///
/// The bytes are a reader, not a buffer: a file may be 150 MB, and a
/// download service streams it (e.g. `tokio_util::io::ReaderStream` into a
/// response body) without holding it whole.
#[non_exhaustive]
pub struct StashedDownload {
    /// The file name (a download's `Content-Disposition` filename).
    pub filename: String,
    /// The content type (its `Content-Type`).
    pub content_type: String,
    /// The length in bytes (its `Content-Length`).
    pub length: u64,
    /// The bytes.
    pub body: StashedBody,
}

impl StashedDownload {
    /// A download of `length` bytes read from `body`.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        length: u64,
        body: impl tokio::io::AsyncRead + Send + Sync + 'static,
    ) -> StashedDownload {
        StashedDownload { filename: filename.into(), content_type: content_type.into(), length, body: Box::pin(body) }
    }

    /// Read the whole file into memory: for small files and tests; a
    /// service streams [`StashedDownload::body`] instead.
    pub async fn bytes(mut self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.length).unwrap_or(0).min(1 << 20));
        tokio::io::AsyncReadExt::read_to_end(&mut self.body, &mut bytes).await?;
        Ok(bytes)
    }
}

impl std::fmt::Debug for StashedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StashedDownload")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// Where `z.stashFile` puts files, and where downloads read them from.
///
/// The host names every file by an ID of its own (128 random bits, hex)
/// and gives out the URL `<base_url>/files/<token>`, the token holding the
/// ID and an expiry under the host's signature: a URL cannot be guessed,
/// forged or used past its time, whatever the store. The embedder serves
/// `GET /files/{token}` with [`Host::open_stashed`](crate::Host::open_stashed),
/// which checks the token and calls [`StashStore::open`]. A store only
/// keeps bytes and metadata by ID.
pub trait StashStore: Send + Sync + 'static {
    /// Keep `file` for `scope` under `id` (letters, digits, `-` or `_`;
    /// a new ID each time).
    fn put<'a>(&'a self, scope: &'a ScopeKey, id: &'a str, file: StashedFile) -> BoxFuture<'a, Result<(), StateError>>;
    /// The file kept under `id`, opened for reading; `None` when there is
    /// none (never kept, or removed).
    fn open<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<StashedDownload>, StateError>>;
    /// Where this store's files are served: the host names a file
    /// `<base_url>/files/<token>` (a trailing `/` of the base is dropped).
    fn base_url(&self) -> &str;
}

/// Every store a host keeps state in, handed to
/// [`HostBuilder::stores`](crate::HostBuilder::stores) as one value, so a
/// backend crate hands a host all of its stores at once.
///
/// ```
/// use std::sync::Arc;
/// use zapwasm_host::{LocalStash, Stores};
///
/// let stores = Stores::memory()
///     .stash(Arc::new(LocalStash::new("/var/lib/zapwasm/stash", "https://files.example.com/stash")));
/// # drop(stores);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Stores {
    /// Where `z.cursor` values live.
    pub cursors: std::sync::Arc<dyn CursorStore>,
    /// Where calls waiting for a callback wait.
    pub callbacks: std::sync::Arc<dyn CallbackStore>,
    /// The primary keys polling subscriptions have seen.
    pub dedupe: std::sync::Arc<dyn DedupeStore>,
    /// Hook and polling subscriptions.
    pub subscriptions: std::sync::Arc<dyn SubscriptionStore>,
    /// Where `z.stashFile` puts files.
    pub stash: std::sync::Arc<dyn StashStore>,
}

impl Stores {
    /// Stores for one process: everything in memory ([`MemoryState`]),
    /// stashed files in a directory of the system's temporary directory
    /// ([`LocalStash`], its URLs under that directory's `file://` URL: no
    /// server answers them, [`Host::open_stashed`](crate::Host::open_stashed)
    /// opens them). Lost when the process exits.
    pub fn memory() -> Stores {
        let state = std::sync::Arc::new(MemoryState::default());
        let dir = std::env::temp_dir().join("zapwasm-stash");
        let base = url::Url::from_directory_path(&dir)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("file://{}", dir.display()));
        Stores {
            cursors: state.clone(),
            callbacks: state.clone(),
            dedupe: state.clone(),
            subscriptions: state,
            stash: std::sync::Arc::new(LocalStash::new(dir, base)),
        }
    }

    /// Every store of one backend that implements them all, with stashed
    /// files kept by `stash`.
    pub fn of<B>(backend: std::sync::Arc<B>, stash: std::sync::Arc<dyn StashStore>) -> Stores
    where
        B: CursorStore + CallbackStore + DedupeStore + SubscriptionStore,
    {
        Stores {
            cursors: backend.clone(),
            callbacks: backend.clone(),
            dedupe: backend.clone(),
            subscriptions: backend,
            stash,
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
        Stores::memory()
    }
}

/// The time `ttl` from `now`, saturating at the far future.
pub fn expires_after(now: SystemTime, ttl: Duration) -> SystemTime {
    now.checked_add(ttl).unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX as u64 * 64))
}
