//! zapwasm-state-sqlite: the state of `zapwasm-host` in one file that
//! survives restarts and crashes: cursors, pending callbacks, dedupe sets
//! and subscriptions.
//!
//! ```no_run
//! use std::sync::Arc;
//! use zapwasm_host::{Host, LocalStash, Stores};
//! use zapwasm_state_sqlite::SqliteState;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let state = Arc::new(SqliteState::open("/var/lib/zapwasm/state.sqlite3")?);
//! let stash = Arc::new(LocalStash::new("/var/lib/zapwasm/stash", "https://files.example.com/stash"));
//! let host = Host::builder().stores(Stores::of(state, stash)).build()?;
//! # drop(host); Ok(()) }
//! ```
//!
//! Why SQLite (bundled, through rusqlite) and not redb: the file can be
//! opened by more than one process at once (the service and a `zapwasm`
//! command reading the same state directory), queries by expiry and due
//! time are indexes rather than hand-kept trees, and the format is one that
//! operators can inspect with the `sqlite3` shell. The cost is a C library
//! compiled into the crate (about a minute, once), which is why it lives in
//! a crate of its own.
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL`, so
//! a write is on disk (the WAL fsynced) before the call that made it
//! returns. A process killed at any point (SIGKILL included) loses no
//! acknowledged write; the next open replays the WAL.
//!
//! Each operation runs on tokio's blocking pool. Writes hold the one
//! write connection of this handle; SQLite's own locking (with a busy
//! timeout) orders writers of other processes. Reads (a subscription, a
//! cursor, a callback, seen keys) go to read-only connections kept beside
//! it, which WAL lets read the last commit while a write and its fsync are
//! under way: a service receiving hooks reads each one's subscription, and
//! those reads no longer queue behind every write of the queue's workers. Claiming a callback is one
//! conditional `UPDATE`, so two resumes racing, in one process or in two,
//! claim it once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use zapwasm_host::{
    CallbackStore, Claim, CursorStore, DEDUPE_KEYS_KEPT, DedupeStore, PendingCallback, Scope, ScopeKey, StateError,
    Subscription, SubscriptionStore,
};

/// The schema this crate writes, in `PRAGMA user_version`. A file of a
/// newer version is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE cursors (
    scope TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    record TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX callbacks_expiry ON callbacks (expires_ms);
CREATE TABLE seen_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX seen_keys_age ON seen_keys (scope, seq);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    integration TEXT NOT NULL,
    account TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (integration, account);
";

/// State in one SQLite file. Cheap to share behind an `Arc`; one handle
/// per process is enough.
#[derive(Debug)]
pub struct SqliteState {
    path: PathBuf,
    dedupe_keys_kept: usize,
    connection: Arc<Mutex<Connection>>,
    /// Idle read-only connections, opened as reads need them.
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteState {
    /// Open (or create) the state file at `path`, keeping at most
    /// [`DEDUPE_KEYS_KEPT`] seen keys per subscription.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteState, StateError> {
        SqliteState::open_with(path, DEDUPE_KEYS_KEPT)
    }

    /// [`SqliteState::open`], keeping at most `dedupe_keys_kept` seen keys
    /// per subscription.
    pub fn open_with(path: impl AsRef<Path>, dedupe_keys_kept: usize) -> Result<SqliteState, StateError> {
        let path = path.as_ref().to_path_buf();
        let fail = |what: &str, e: rusqlite::Error| failure(format!("{what} {}: {e}", path.display()));
        let mut connection = open_durable(&path).map_err(|e| fail("cannot open", e))?;
        connection.execute_batch("PRAGMA foreign_keys = ON;").map_err(|e| fail("cannot configure", e))?;
        migrate(&mut connection).map_err(|message| failure(format!("{}: {message}", path.display())))?;
        Ok(SqliteState {
            path,
            dedupe_keys_kept: dedupe_keys_kept.max(1),
            connection: Arc::new(Mutex::new(connection)),
            readers: Arc::default(),
        })
    }

    /// The file this state lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `work` with the connection on the blocking pool.
    fn with<'a, T, F>(&'a self, work: F) -> BoxFuture<'a, Result<T, StateError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
                work(&mut connection).map_err(|e| failure(e.to_string()))
            })
            .await
            .map_err(|e| failure(format!("the state task failed: {e}")))?
        })
    }

    /// Run `work`, which only reads, on a read-only connection on the
    /// blocking pool: it sees every write answered before it started, and
    /// does not wait for a write under way.
    fn read<'a, T, F>(&'a self, work: F) -> BoxFuture<'a, Result<T, StateError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (readers, path) = (self.readers.clone(), self.path.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let idle = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let connection = match idle {
                    Some(connection) => connection,
                    None => open_reader(&path)?,
                };
                let result = work(&connection).map_err(|e| failure(e.to_string()));
                readers.lock().unwrap_or_else(|e| e.into_inner()).push(connection);
                result
            })
            .await
            .map_err(|e| failure(format!("the state task failed: {e}")))?
        })
    }
}

/// A connection to the SQLite file at `path` (created if missing) for
/// writing, as zapwasm keeps its durable files (this crate's state and
/// `zapwasm-serve`'s own): WAL with `synchronous = FULL`, so a commit is on
/// disk before it returns, and a 10 s busy timeout for the other
/// processes' writers.
pub fn open_durable(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
    Ok(connection)
}

/// A read-only connection to a file [`open_durable`] made (already in WAL
/// mode): it reads the last commit while a writer writes the next.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

/// How long a connection waits for another's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A read-only connection to the state file.
fn open_reader(path: &Path) -> Result<Connection, StateError> {
    open_read_only(path).map_err(|e| failure(format!("cannot open {} to read: {e}", path.display())))
}

fn failure(message: String) -> StateError {
    StateError { backend: "sqlite state", message }
}

/// Create the schema in a new file; refuse a file of a newer schema.
fn migrate(connection: &mut Connection) -> Result<(), String> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| e.to_string())?;
    match version {
        0 => {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(|e| e.to_string())?;
            // Another process may have created it while this one waited.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| e.to_string())?;
            if version == 0 {
                tx.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
                tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")).map_err(|e| e.to_string())?;
            }
            tx.commit().map_err(|e| e.to_string())
        }
        SCHEMA_VERSION => Ok(()),
        newer => Err(format!(
            "the state file has schema version {newer}, this zapwasm knows {SCHEMA_VERSION}: upgrade zapwasm or use another state file"
        )),
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_millis().min(i64::MAX as u128) as i64).unwrap_or(0)
}

fn to_json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// A pending callback as stored: the record without its expiry, which has
/// a column of its own (and is the one source of it).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCallback {
    scope: Scope,
    method: String,
    output_data: serde_json::Value,
    input_data: serde_json::Map<String, serde_json::Value>,
}

fn callback_from_row(id: String, record: &str, expires_ms: i64) -> rusqlite::Result<PendingCallback> {
    let stored: StoredCallback = from_json(record)?;
    Ok(PendingCallback {
        id,
        scope: stored.scope,
        method: stored.method,
        output_data: stored.output_data,
        input_data: stored.input_data,
        expires: UNIX_EPOCH + Duration::from_millis(expires_ms.max(0) as u64),
    })
}

impl CursorStore for SqliteState {
    fn cursor<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        let scope = scope.as_str().to_string();
        let now = millis(SystemTime::now());
        self.read(move |db| {
            db.query_row("SELECT value FROM cursors WHERE scope = ?1 AND expires_ms > ?2", params![scope, now], |row| {
                row.get(0)
            })
            .optional()
        })
    }

    fn set_cursor<'a>(
        &'a self,
        scope: &'a ScopeKey,
        value: String,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        let scope = scope.as_str().to_string();
        let expires = millis(expires);
        let now = millis(SystemTime::now());
        self.with(move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO cursors (scope, value, expires_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (scope) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
                params![scope, value, expires],
            )?;
            // Expired cursors of any scope go with the next write.
            tx.execute("DELETE FROM cursors WHERE expires_ms <= ?1", params![now])?;
            tx.commit()
        })
    }
}

impl CallbackStore for SqliteState {
    fn put_callback(&self, callback: PendingCallback) -> BoxFuture<'_, Result<(), StateError>> {
        self.with(move |db| {
            let stored = StoredCallback {
                scope: callback.scope.clone(),
                method: callback.method,
                output_data: callback.output_data,
                input_data: callback.input_data,
            };
            db.execute(
                "INSERT INTO callbacks (id, scope, record, expires_ms, claimed) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, record = excluded.record,
                     expires_ms = excluded.expires_ms, claimed = 0",
                params![
                    callback.id,
                    ScopeKey::of(&callback.scope).as_str(),
                    to_json(&stored)?,
                    millis(callback.expires)
                ],
            )
            .map(drop)
        })
    }

    fn claim_callback<'a>(&'a self, id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<Claim, StateError>> {
        let id = id.to_string();
        let now = millis(now);
        self.with(move |db| {
            let claimed = db
                .query_row(
                    "UPDATE callbacks SET claimed = 1 WHERE id = ?1 AND claimed = 0 AND expires_ms > ?2
                     RETURNING record, expires_ms",
                    params![id, now],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
                )
                .optional()?;
            if let Some((record, expires_ms)) = claimed {
                return Ok(Claim::Claimed(callback_from_row(id, &record, expires_ms)?));
            }
            let state = db
                .query_row("SELECT claimed FROM callbacks WHERE id = ?1", params![id], |row| row.get::<_, i64>(0))
                .optional()?;
            Ok(match state {
                None => Claim::Unknown,
                Some(0) => Claim::Expired,
                Some(_) => Claim::AlreadyClaimed,
            })
        })
    }

    fn callback<'a>(
        &'a self,
        scope: &'a ScopeKey,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingCallback>, StateError>> {
        let (scope, id, now) = (scope.as_str().to_string(), id.to_string(), millis(now));
        self.read(move |db| {
            let row = db
                .query_row(
                    "SELECT record, expires_ms FROM callbacks WHERE id = ?1 AND scope = ?2 AND expires_ms > ?3",
                    params![id, scope, now],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
                )
                .optional()?;
            row.map(|(record, expires_ms)| callback_from_row(id, &record, expires_ms)).transpose()
        })
    }
}

impl DedupeStore for SqliteState {
    fn mark_seen<'a>(
        &'a self,
        scope: &'a ScopeKey,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<bool>, StateError>> {
        let scope = scope.as_str().to_string();
        let keys = keys.to_vec();
        let kept = self.dedupe_keys_kept as i64;
        self.with(move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM seen_keys WHERE scope = ?1", params![scope], |row| {
                    row.get(0)
                })?;
            let mut new = Vec::with_capacity(keys.len());
            {
                let mut known = tx.prepare("SELECT 1 FROM seen_keys WHERE scope = ?1 AND key = ?2")?;
                let mut upsert = tx.prepare(
                    "INSERT INTO seen_keys (scope, key, seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (scope, key) DO UPDATE SET seq = excluded.seq",
                )?;
                for key in &keys {
                    seq += 1;
                    new.push(!known.exists(params![scope, key])?);
                    upsert.execute(params![scope, key, seq])?;
                }
            }
            let count: i64 =
                tx.query_row("SELECT COUNT(*) FROM seen_keys WHERE scope = ?1", params![scope], |row| row.get(0))?;
            if count > kept {
                tx.execute(
                    "DELETE FROM seen_keys WHERE scope = ?1 AND seq IN
                         (SELECT seq FROM seen_keys WHERE scope = ?1 ORDER BY seq ASC LIMIT ?2)",
                    params![scope, count - kept],
                )?;
            }
            tx.commit()?;
            Ok(new)
        })
    }

    fn seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<Vec<bool>, StateError>> {
        let scope = scope.as_str().to_string();
        let keys = keys.to_vec();
        self.read(move |db| {
            let mut known = db.prepare("SELECT 1 FROM seen_keys WHERE scope = ?1 AND key = ?2")?;
            keys.iter().map(|key| known.exists(params![scope, key])).collect()
        })
    }

    fn forget_seen<'a>(&'a self, scope: &'a ScopeKey, keys: &'a [String]) -> BoxFuture<'a, Result<(), StateError>> {
        let scope = scope.as_str().to_string();
        let keys = keys.to_vec();
        self.with(move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut forget = tx.prepare("DELETE FROM seen_keys WHERE scope = ?1 AND key = ?2")?;
                for key in &keys {
                    forget.execute(params![scope, key])?;
                }
            }
            tx.commit()
        })
    }

    fn clear_seen<'a>(&'a self, scope: &'a ScopeKey) -> BoxFuture<'a, Result<(), StateError>> {
        let scope = scope.as_str().to_string();
        self.with(move |db| db.execute("DELETE FROM seen_keys WHERE scope = ?1", params![scope]).map(drop))
    }
}

impl SubscriptionStore for SqliteState {
    fn put_subscription(&self, subscription: Subscription) -> BoxFuture<'_, Result<(), StateError>> {
        self.with(move |db| {
            db.execute(
                "INSERT INTO subscriptions (id, integration, account, record) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET integration = excluded.integration,
                     account = excluded.account, record = excluded.record",
                params![
                    subscription.id,
                    subscription.scope.integration,
                    subscription.scope.account,
                    to_json(&subscription)?
                ],
            )
            .map(drop)
        })
    }

    fn subscription<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Subscription>, StateError>> {
        let id = id.to_string();
        self.read(move |db| {
            let record = db
                .query_row("SELECT record FROM subscriptions WHERE id = ?1", params![id], |row| row.get::<_, String>(0))
                .optional()?;
            record.map(|record| from_json(&record)).transpose()
        })
    }

    fn remove_subscription<'a>(&'a self, scope: &'a Scope, id: &'a str) -> BoxFuture<'a, Result<bool, StateError>> {
        let (integration, account, id) = (scope.integration.clone(), scope.account.clone(), id.to_string());
        self.with(move |db| {
            db.execute(
                "DELETE FROM subscriptions WHERE id = ?1 AND integration = ?2 AND account = ?3",
                params![id, integration, account],
            )
            .map(|removed| removed > 0)
        })
    }

    fn subscriptions<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, Result<Vec<Subscription>, StateError>> {
        let (integration, account) = (scope.integration.clone(), scope.account.clone());
        self.read(move |db| {
            let mut query = db.prepare("SELECT record FROM subscriptions WHERE integration = ?1 AND account = ?2")?;
            let records = query.query_map(params![integration, account], |row| row.get::<_, String>(0))?;
            records.map(|record| record.and_then(|record| from_json(&record))).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_for_a_write_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let state = SqliteState::open(dir.path().join("state.sqlite3")).unwrap();
        let scope = Scope::new("app", "account");
        let subscription = Subscription {
            id: "s1".into(),
            scope: scope.clone(),
            trigger: "t".into(),
            delivery: zapwasm_host::Delivery::Hook,
            input_data: serde_json::Map::new(),
            subscribe_data: None,
            target_url: None,
        };
        state.put_subscription(subscription).await.unwrap();
        // A write that holds the write connection until the reads are done.
        let (holding, held) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        let write = state.with(move |_| {
            holding.send(()).ok();
            released.recv().ok();
            Ok(())
        });
        let reads = async {
            held.await.unwrap();
            // Bounded only so that a read that waits fails instead of hanging.
            let reads = async { (state.subscription("s1").await.unwrap(), state.subscriptions(&scope).await.unwrap()) };
            let read = tokio::time::timeout(Duration::from_secs(10), reads).await;
            release.send(()).unwrap();
            read
        };
        let (written, read) = tokio::join!(write, reads);
        written.unwrap();
        let (found, listed) = read.expect("the reads waited for the write");
        assert_eq!(found.map(|s| s.id), Some("s1".into()));
        assert_eq!(listed.len(), 1);
    }
}
