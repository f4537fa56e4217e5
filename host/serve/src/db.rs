//! The service's own durable state, in `service.sqlite3` next to the
//! library's `state.sqlite3`: apps loaded through the API, connections
//! (credentials sealed), invocations, the callbacks they wait for,
//! subscriptions, the events they emitted, the queue of received requests,
//! and idempotency keys.
//!
//! Same durability as the library's file: WAL with `synchronous = FULL`,
//! so a write is on disk before the statement that made it returns, and a
//! process killed at any point (SIGKILL included) loses no acknowledged
//! write. The schema's version is `PRAGMA user_version`; a newer file is
//! refused rather than misread.
//!
//! Each step that must be all or nothing is one write: a hook delivery's
//! events and its job's end; a callback accepted and its job queued; a
//! refreshed credential written with the work that got it.
//!
//! Group commit: one writer thread owns the write connection. It takes
//! every write waiting (up to [`MAX_BATCH`]) into one `BEGIN IMMEDIATE ...
//! COMMIT`, each write in its own savepoint (one that fails is rolled back
//! alone and its caller gets the error), commits once, and only then
//! answers each caller: an answered write is on disk, as before, but many
//! writes share one fsync. Reads ([`Db::read`]) go to separate read-only
//! connections, which WAL lets read the last commit beside the writer, so
//! they never wait behind a batch's fsync.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use zapwasm_host::IncomingRequest;

use crate::ServeError;

const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sealed_env BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    account TEXT NOT NULL,
    label TEXT NOT NULL,
    sealed_auth BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE invocations (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    connection TEXT,
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    invocation TEXT,
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX callbacks_invocation ON callbacks (invocation);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    connection TEXT NOT NULL,
    trigger TEXT NOT NULL,
    kind TEXT NOT NULL,
    interval_s INTEGER,
    next_poll_ms INTEGER,
    target_url TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (kind, next_poll_ms);
CREATE TABLE events (
    subscription TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    job INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (subscription, seq)
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    delivery_id TEXT,
    request TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL,
    error TEXT,
    ack_keys TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_delivery ON jobs (kind, target, delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX jobs_due ON jobs (status, not_before_ms);
CREATE INDEX jobs_target ON jobs (target, status);
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    answer TEXT,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
";

/// Version 3: the queue indexed by status and ID, so that a claim walks the
/// queued jobs oldest first and stops at the first it may take ([`CLAIM`]).
/// Indexed by `(status, not_before_ms)` it weighed every queued job and
/// sorted them: milliseconds per claim with thousands queued, inside the
/// writer's batch, where every other write waited for it.
const SCHEMA_3: &str = "
DROP INDEX jobs_due;
CREATE INDEX jobs_queue ON jobs (status, id);
";

/// Version 4: the queue's depth kept in a row of its own by triggers, so
/// that a receiver reads one row ([`QUEUE_DEPTH`]) instead of counting
/// every queued and running job: the count walked the whole queue, 0.4 ms
/// at 10,000 jobs and 4.2 ms at 100,000 (the default limit), on every
/// hook and callback received, so a service falling behind received ever
/// more slowly. The triggers run inside the write that moves a job into
/// or out of the queue, so the row is exact whatever statement does it.
const SCHEMA_4: &str = "
CREATE TABLE queue_depth (id INTEGER PRIMARY KEY CHECK (id = 0), jobs INTEGER NOT NULL);
INSERT INTO queue_depth (id, jobs) SELECT 0, COUNT(*) FROM jobs WHERE status IN ('queued', 'running');
CREATE TRIGGER queue_depth_insert AFTER INSERT ON jobs WHEN NEW.status IN ('queued', 'running')
BEGIN UPDATE queue_depth SET jobs = jobs + 1; END;
CREATE TRIGGER queue_depth_delete AFTER DELETE ON jobs WHEN OLD.status IN ('queued', 'running')
BEGIN UPDATE queue_depth SET jobs = jobs - 1; END;
CREATE TRIGGER queue_depth_update AFTER UPDATE OF status ON jobs
WHEN (OLD.status IN ('queued', 'running')) != (NEW.status IN ('queued', 'running'))
BEGIN UPDATE queue_depth SET jobs = jobs + (NEW.status IN ('queued', 'running')) - (OLD.status IN ('queued', 'running')); END;
";

/// How many jobs are queued or running (kept by `SCHEMA_4`'s triggers).
const QUEUE_DEPTH: &str = "SELECT jobs FROM queue_depth WHERE id = 0";

/// The oldest due job whose target has nothing earlier queued or running.
/// It walks the queued jobs in ID order (`jobs_queue`) and stops at the
/// first it may take: each step is two lookups in `jobs_target`, and only
/// the queued jobs of busy targets (and those not yet due) are stepped over.
const CLAIM: &str = "SELECT j.id, j.kind, j.target, j.request, j.attempts FROM jobs j INDEXED BY jobs_queue
    WHERE j.status = 'queued' AND j.not_before_ms <= ?1
      AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.target = j.target
                      AND e.status IN ('queued', 'running') AND e.id < j.id)
      AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.target = j.target AND r.status = 'running')
    ORDER BY j.id LIMIT 1";

/// Version 2: OAuth authorizations in progress (`POST
/// /v1/apps/{app}/authorizations`, the redirect back to `/oauth/callback`).
const SCHEMA_2: &str = "
CREATE TABLE authorizations (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    account TEXT,
    sealed BLOB NOT NULL,
    status TEXT NOT NULL,
    connection TEXT,
    error TEXT,
    expires_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
";

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
}

/// The milliseconds of a wall-clock time.
pub(crate) fn ms_of(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis().min(i64::MAX as u128) as i64
}

/// How many waiting writes one commit takes at most.
const MAX_BATCH: usize = 64;

/// How many idle read connections are kept for the next reads.
const READERS_KEPT: usize = 4;

/// What a callback's job answers its call with: the invocation waiting on
/// it (none for a callback of no call the service made), its status and
/// its answer; and whether the callback had expired (it was not resumed).
pub(crate) struct Answered {
    pub(crate) invocation: Option<String>,
    pub(crate) status: &'static str,
    pub(crate) answer: String,
    pub(crate) expired: bool,
}

/// What the write that ends a job does next: claim the worker's next job in
/// the same transaction, or not (the worker is stopping). Claimed with the
/// end, a worker's next job costs no commit of its own: before, each job
/// waited for two commits one after the other, its claim and its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    ClaimNext,
    Stop,
}

/// Claim the next job that is due ([`CLAIM`]), in the write under way.
fn claim_in(tx: &Connection, now: i64) -> rusqlite::Result<Option<Job>> {
    let found: Option<(i64, String, String, Option<String>, i64)> = tx
        .query_row(CLAIM, params![now], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
        .optional()?;
    let Some((id, kind, target, request, attempts)) = found else { return Ok(None) };
    tx.execute(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_ms = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    let Some(kind) = JobKind::parse(&kind) else {
        tx.execute("UPDATE jobs SET status = 'dead', error = 'unknown kind' WHERE id = ?1", params![id])?;
        return Ok(None);
    };
    let request = request.and_then(|text| serde_json::from_str(&text).ok());
    Ok(Some(Job { id, kind, target, request, attempts: attempts + 1 }))
}

/// Mark the job done, then what `then` says comes next.
fn done_then(tx: &Connection, job: i64, then: Then, now: i64) -> rusqlite::Result<Option<Job>> {
    tx.execute("UPDATE jobs SET status = 'done', error = NULL, updated_ms = ?2 WHERE id = ?1", params![job, now])?;
    then_in(tx, then, now)
}

/// The job's end is written: what `then` says comes next.
fn then_in(tx: &Connection, then: Then, now: i64) -> rusqlite::Result<Option<Job>> {
    match then {
        Then::ClaimNext => claim_in(tx, now),
        Then::Stop => Ok(None),
    }
}

/// The service's state file. Cheap to clone; the last clone dropped stops
/// the writer thread once it has answered what it took.
#[derive(Clone)]
pub(crate) struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// To the writer thread; `None` only while dropping.
    writer: Option<mpsc::UnboundedSender<Box<dyn Write>>>,
    thread: Option<thread::JoinHandle<()>>,
    /// Idle read connections.
    readers: Mutex<Vec<Connection>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once it has committed
        // and answered what it took; wait for it, so the file is closed
        // when the last `Db` is gone (a reopen finds it free).
        self.writer = None;
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// A write waiting for the writer thread: its work, run in the batch's
/// transaction, and its caller, answered once the batch's commit is done.
trait Write: Send {
    /// Run the work; whether it succeeded.
    fn run(&mut self, connection: &Connection) -> bool;
    /// The work's savepoint could not be kept: the write failed.
    fn fail(&mut self, error: String);
    /// Answer the caller, after the batch's commit (`Err`: it failed).
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, ServeError>>,
    caller: oneshot::Sender<Result<T, ServeError>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        let result = work(connection).map_err(sql);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: String) {
        self.result = Some(Err(ServeError::State(error)));
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(e)) => Err(ServeError::State(e)),
            (None, Ok(())) => Err(ServeError::State("the state write panicked; nothing of it was kept".into())),
        };
        // A caller that stopped waiting (its client went away) is not an
        // error: the write is kept all the same.
        let _ = self.caller.send(answer);
    }
}

/// The writer thread: take every write waiting (up to [`MAX_BATCH`]), run
/// them in one transaction, commit once, answer them; until every `Db` is
/// dropped.
fn write_batches(connection: Connection, mut writes: mpsc::UnboundedReceiver<Box<dyn Write>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = writes.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH
            && let Ok(next) = writes.try_recv()
        {
            batch.push(next);
        }
        commit_batch(&connection, std::mem::take(&mut batch));
    }
}

/// Run `batch` in one `BEGIN IMMEDIATE ... COMMIT`, each write in its own
/// savepoint (one that fails is rolled back alone), then answer each
/// caller with the commit's outcome: nothing is answered before the commit
/// that made it durable, and a failed commit fails every write of the batch.
fn commit_batch(connection: &Connection, batch: Vec<Box<dyn Write>>) {
    if let Err(e) = connection.execute_batch("BEGIN IMMEDIATE") {
        let error = format!("cannot start a write to the state file: {e}");
        for write in batch {
            write.answer(Err(error.clone()));
        }
        return;
    }
    let mut done: Vec<Box<dyn Write>> = Vec::with_capacity(batch.len());
    let mut writes = batch.into_iter();
    while let Some(mut write) = writes.next() {
        run_in_savepoint(connection, write.as_mut());
        done.push(write);
        if connection.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a
            // full disk): what ran in it is lost. Those callers get the
            // error; the writes not run yet go in a fresh transaction.
            let error = "the state file's transaction was rolled back by an error; nothing of it was kept".to_string();
            for write in done {
                write.answer(Err(error.clone()));
            }
            let rest: Vec<_> = writes.collect();
            if !rest.is_empty() {
                commit_batch(connection, rest);
            }
            return;
        }
    }
    let committed = connection.execute_batch("COMMIT").map_err(|e| {
        if !connection.is_autocommit() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        format!("the state file's commit failed, nothing of this write was kept: {e}")
    });
    for write in done {
        write.answer(committed.clone());
    }
}

/// Run one write in a savepoint: released when it succeeds, rolled back
/// (alone) when it fails or panics.
fn run_in_savepoint(connection: &Connection, write: &mut dyn Write) {
    if let Err(e) = connection.execute_batch("SAVEPOINT write") {
        write.fail(format!("cannot start a write to the state file: {e}"));
        return;
    }
    let ok = std::panic::catch_unwind(AssertUnwindSafe(|| write.run(connection))).unwrap_or(false);
    if ok {
        match connection.execute_batch("RELEASE write") {
            Ok(()) => return,
            Err(e) => write.fail(format!("cannot keep a write to the state file: {e}")),
        }
    }
    // Failed: undo its changes; the batch's other writes stay.
    let _ = connection.execute_batch("ROLLBACK TO write; RELEASE write");
}

/// A connection for reads only: WAL lets it read the last commit while the
/// writer writes the next.
fn open_reader(path: &Path) -> Result<Connection, ServeError> {
    zapwasm_state_sqlite::open_read_only(path).map_err(|e| ServeError::State(format!("{}: {e}", path.display())))
}

/// A request as received, kept until its job is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRequest {
    method: String,
    query: String,
    headers: Vec<(String, String)>,
    /// The body, base64: it may not be UTF-8.
    body: String,
}

impl StoredRequest {
    pub(crate) fn of(request: &IncomingRequest) -> StoredRequest {
        use base64::Engine as _;
        StoredRequest {
            method: request.method.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            body: base64::engine::general_purpose::STANDARD.encode(&request.body),
        }
    }

    pub(crate) fn incoming(&self) -> IncomingRequest {
        use base64::Engine as _;
        IncomingRequest {
            method: self.method.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: base64::engine::general_purpose::STANDARD.decode(&self.body).unwrap_or_default(),
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// Run a hook delivery (`target`: the subscription).
    Hook,
    /// Resume a callback (`target`: the callback).
    Callback,
    /// Poll a polling subscription (`target`: the subscription).
    Poll,
}

impl JobKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            JobKind::Hook => "hook",
            JobKind::Callback => "callback",
            JobKind::Poll => "poll",
        }
    }

    fn parse(name: &str) -> Option<JobKind> {
        match name {
            "hook" => Some(JobKind::Hook),
            "callback" => Some(JobKind::Callback),
            "poll" => Some(JobKind::Poll),
            _ => None,
        }
    }
}

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) id: i64,
    pub(crate) kind: JobKind,
    pub(crate) target: String,
    pub(crate) request: Option<StoredRequest>,
    /// This attempt's number, from 1: above 1, an earlier attempt may have
    /// run part of the work before it failed or the process died.
    pub(crate) attempts: i64,
}

/// A connection as stored.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionRow {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) account: String,
    pub(crate) label: String,
    pub(crate) sealed_auth: Vec<u8>,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
}

/// An invocation as stored.
#[derive(Debug, Clone)]
pub(crate) struct InvocationRow {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) connection: Option<String>,
    pub(crate) method: String,
    pub(crate) status: String,
    pub(crate) answer: Option<String>,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
}

/// A subscription as the service keeps it (the library keeps its
/// trigger, input and subscribeData).
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionRow {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) connection: String,
    pub(crate) trigger: String,
    pub(crate) kind: String,
    pub(crate) interval_s: Option<i64>,
    pub(crate) target_url: Option<String>,
    pub(crate) created_ms: i64,
}

/// A callback as the service knows it.
#[derive(Debug, Clone)]
pub(crate) struct CallbackRow {
    pub(crate) invocation: Option<String>,
    /// The scope, as JSON.
    pub(crate) scope: String,
    /// `pending`, `queued`, `resumed`, `expired` or `gone`.
    pub(crate) status: String,
}

/// One emitted item.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) seq: i64,
    pub(crate) item: String,
    pub(crate) created_ms: i64,
}

/// What became of a hook delivery offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Kept; a worker will run it. `behind`: an earlier job of its target
    /// is queued or running, so it runs after that one, claimed with its
    /// end ([`Then::ClaimNext`]): no idle worker need look for it now.
    Accepted { behind: bool },
    /// The sender's delivery ID was received before: nothing new kept.
    Duplicate,
}

/// What a POST to a callback URL found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallbackAccept {
    /// Kept and queued.
    Accepted,
    /// No callback has this ID.
    Unknown,
    /// Resumed already, or being resumed.
    Finished,
    /// Its time ran out.
    Expired,
}

/// What an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Idempotent {
    /// New: run the request, then [`Db::finish_idempotent`].
    Run,
    /// A request with this key is running now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
    /// Done before: its status and body.
    Done(u16, String),
}

/// New credentials to write with the work that got them: (connection ID,
/// sealed authData).
pub(crate) type AuthUpdate = Option<(String, Vec<u8>)>;

/// How many of each thing there are, for the metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    pub(crate) queue_depth: i64,
    pub(crate) dead_jobs: i64,
    pub(crate) pending_callbacks: i64,
    pub(crate) hook_subscriptions: i64,
    pub(crate) polling_subscriptions: i64,
    pub(crate) connections: i64,
}

fn sql(e: rusqlite::Error) -> ServeError {
    ServeError::State(e.to_string())
}

fn update_auth(tx: &Connection, auth: &AuthUpdate, now: i64) -> rusqlite::Result<()> {
    if let Some((id, sealed)) = auth {
        tx.execute("UPDATE connections SET sealed_auth = ?2, updated_ms = ?3 WHERE id = ?1", params![id, sealed, now])?;
    }
    Ok(())
}

/// Append `items` to the events of `subscription`, numbered after its last.
fn append_events(tx: &Connection, subscription: &str, job: i64, items: &[String], now: i64) -> rusqlite::Result<()> {
    let last: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE subscription = ?1",
        params![subscription],
        |row| row.get(0),
    )?;
    let mut insert =
        tx.prepare("INSERT INTO events (subscription, seq, item, job, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (offset, item) in items.iter().enumerate() {
        insert.execute(params![subscription, last + 1 + offset as i64, item, job, now])?;
    }
    Ok(())
}

impl Db {
    /// Open (or create) the file at `path`, and start its writer thread.
    pub(crate) fn open(path: &Path) -> Result<Db, ServeError> {
        Db::start(path, Db::open_writer(path)?)
    }

    /// The write connection, the schema created or upgraded.
    fn open_writer(path: &Path) -> Result<Connection, ServeError> {
        let fail = |e: rusqlite::Error| ServeError::State(format!("{}: {e}", path.display()));
        let mut connection = zapwasm_state_sqlite::open_durable(path).map_err(fail)?;
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(fail)?;
        match version {
            0..=3 => {
                if version == 0 {
                    tx.execute_batch(SCHEMA).map_err(fail)?;
                }
                if version <= 1 {
                    tx.execute_batch(SCHEMA_2).map_err(fail)?;
                }
                if version <= 2 {
                    tx.execute_batch(SCHEMA_3).map_err(fail)?;
                }
                tx.execute_batch(SCHEMA_4).map_err(fail)?;
                tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")).map_err(fail)?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(ServeError::State(format!(
                    "{}: schema version {newer} is newer than this zapwasm ({SCHEMA_VERSION}); upgrade zapwasm",
                    path.display()
                )));
            }
        }
        tx.commit().map_err(fail)?;
        Ok(connection)
    }

    /// Hand `connection` to a new writer thread.
    fn start(path: &Path, connection: Connection) -> Result<Db, ServeError> {
        let (writer, writes) = mpsc::unbounded_channel();
        let thread = thread::Builder::new()
            .name("zapwasm-state-writer".into())
            .spawn(move || write_batches(connection, writes))
            .map_err(|e| ServeError::State(format!("cannot start the state file's writer thread: {e}")))?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Some(writer),
                thread: Some(thread),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Hand `work` to the writer thread: it runs in a savepoint of the
    /// next batch (all or nothing), and its answer comes once the batch's
    /// commit is on disk. Take the receiver's answer with `.await`.
    fn submit<T, F>(&self, work: F) -> Result<oneshot::Receiver<Result<T, ServeError>>, ServeError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (caller, answer) = oneshot::channel();
        let write: Box<dyn Write> = Box::new(Pending { work: Some(work), result: None, caller });
        let stopped = || ServeError::State("the state file's writer has stopped".into());
        self.inner.writer.as_ref().ok_or_else(stopped)?.send(write).map_err(|_| stopped())?;
        Ok(answer)
    }

    /// Run `work` as one write, all or nothing, answered once durable.
    /// A read whose answer decides the write (a claim, a check-and-set)
    /// belongs in the same `work`.
    async fn write<T, F>(&self, work: F) -> Result<T, ServeError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.submit(work)?
            .await
            .map_err(|_| ServeError::State("the state file's writer stopped before it answered".into()))?
    }

    /// Run `work`, which only reads, on a read connection on the blocking
    /// pool: it sees every write answered before it started, and never
    /// waits behind the writer's commit.
    async fn read<T, F>(&self, work: F) -> Result<T, ServeError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let idle = inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let connection = match idle {
                Some(connection) => connection,
                None => open_reader(&inner.path)?,
            };
            let result = work(&connection).map_err(sql);
            let mut readers = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if readers.len() < READERS_KEPT {
                readers.push(connection);
            }
            result
        })
        .await
        .map_err(|e| ServeError::State(format!("the state read failed: {e}")))?
    }

    /// Whether the file answers and its writer runs.
    pub(crate) async fn ping(&self) -> Result<(), ServeError> {
        if self.inner.writer.as_ref().is_none_or(|writer| writer.is_closed()) {
            return Err(ServeError::State("the state file's writer has stopped".into()));
        }
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    // Apps loaded through the API, reloaded at start.

    pub(crate) async fn put_app(&self, name: String, path: String, sealed_env: Vec<u8>) -> Result<(), ServeError> {
        let now = now_ms();
        self.write(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO apps (name, path, sealed_env, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![name, path, sealed_env, now],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn apps(&self) -> Result<Vec<(String, String, Vec<u8>)>, ServeError> {
        self.read(|c| {
            let mut query = c.prepare("SELECT name, path, sealed_env FROM apps ORDER BY name")?;
            let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect()
        })
        .await
    }

    // Connections.

    pub(crate) async fn insert_connection(&self, row: ConnectionRow) -> Result<(), ServeError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO connections (id, app, account, label, sealed_auth, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![row.id, row.app, row.account, row.label, row.sealed_auth, row.created_ms, row.updated_ms],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn connection(&self, id: &str) -> Result<Option<ConnectionRow>, ServeError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, app, account, label, sealed_auth, created_ms, updated_ms FROM connections WHERE id = ?1",
                params![id],
                |row| {
                    Ok(ConnectionRow {
                        id: row.get(0)?,
                        app: row.get(1)?,
                        account: row.get(2)?,
                        label: row.get(3)?,
                        sealed_auth: row.get(4)?,
                        created_ms: row.get(5)?,
                        updated_ms: row.get(6)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    pub(crate) async fn update_auth(&self, auth: AuthUpdate) -> Result<(), ServeError> {
        let now = now_ms();
        self.write(move |tx| update_auth(tx, &auth, now)).await
    }

    pub(crate) async fn delete_connection(&self, id: &str) -> Result<bool, ServeError> {
        let id = id.to_string();
        self.write(move |c| c.execute("DELETE FROM connections WHERE id = ?1", params![id]).map(|n| n > 0)).await
    }

    // Invocations and their callbacks.

    pub(crate) async fn insert_invocation(
        &self,
        id: &str,
        app: &str,
        connection: Option<&str>,
        method: &str,
    ) -> Result<(), ServeError> {
        let (id, app, connection, method) =
            (id.to_string(), app.to_string(), connection.map(str::to_string), method.to_string());
        let now = now_ms();
        self.write(move |c| {
            c.execute(
                "INSERT INTO invocations (id, app, connection, method, status, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?5)",
                params![id, app, connection, method, now],
            )
            .map(drop)
        })
        .await
    }

    /// The call of invocation `id` ended: its status and answer, with the
    /// credentials it refreshed.
    pub(crate) async fn finish_invocation(
        &self,
        id: &str,
        status: &str,
        answer: String,
        auth: AuthUpdate,
    ) -> Result<(), ServeError> {
        let (id, status) = (id.to_string(), status.to_string());
        let now = now_ms();
        self.write(move |tx| {
            // Only a call still running: a callback POST that came first
            // moved it on, and its resume writes the answer.
            tx.execute(
                "UPDATE invocations SET status = ?2, answer = ?3, updated_ms = ?4 WHERE id = ?1 AND status = 'running'",
                params![id, status, answer, now],
            )?;
            update_auth(tx, &auth, now)
        })
        .await
    }

    pub(crate) async fn invocation(&self, id: &str) -> Result<Option<InvocationRow>, ServeError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, app, connection, method, status, answer, created_ms, updated_ms FROM invocations WHERE id = ?1",
                params![id],
                |row| {
                    Ok(InvocationRow {
                        id: row.get(0)?,
                        app: row.get(1)?,
                        connection: row.get(2)?,
                        method: row.get(3)?,
                        status: row.get(4)?,
                        answer: row.get(5)?,
                        created_ms: row.get(6)?,
                        updated_ms: row.get(7)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// A call asked for a callback (written before the library keeps it,
    /// so its URL is answered as soon as anyone can know it).
    pub(crate) async fn put_callback(
        &self,
        id: String,
        invocation: Option<String>,
        scope: String,
        expires_ms: i64,
    ) -> Result<(), ServeError> {
        let now = now_ms();
        self.write(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO callbacks (id, invocation, scope, status, expires_ms, created_ms)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
                params![id, invocation, scope, expires_ms, now],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn callback(&self, id: &str) -> Result<Option<CallbackRow>, ServeError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row("SELECT invocation, scope, status FROM callbacks WHERE id = ?1", params![id], |row| {
                Ok(CallbackRow { invocation: row.get(0)?, scope: row.get(1)?, status: row.get(2)? })
            })
            .optional()
        })
        .await
    }

    /// A POST reached callback `id`: keep it and queue its resume, once.
    pub(crate) async fn accept_callback(
        &self,
        id: &str,
        request: &StoredRequest,
    ) -> Result<CallbackAccept, ServeError> {
        let id = id.to_string();
        let request = serde_json::to_string(request).map_err(|e| ServeError::State(e.to_string()))?;
        let now = now_ms();
        self.write(move |tx| {
            let found: Option<(String, i64, Option<String>)> = tx
                .query_row(
                    "SELECT status, expires_ms, invocation FROM callbacks WHERE id = ?1",
                    params![id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let Some((status, expires_ms, invocation)) = found else { return Ok(CallbackAccept::Unknown) };
            if status != "pending" {
                return Ok(CallbackAccept::Finished);
            }
            if expires_ms <= now {
                tx.execute("UPDATE callbacks SET status = 'expired' WHERE id = ?1", params![id])?;
                return Ok(CallbackAccept::Expired);
            }
            tx.execute("UPDATE callbacks SET status = 'queued' WHERE id = ?1", params![id])?;
            tx.execute(
                "INSERT INTO jobs (kind, target, delivery_id, request, status, not_before_ms, created_ms, updated_ms)
                 VALUES ('callback', ?1, 'callback', ?2, 'queued', ?3, ?3, ?3)",
                params![id, request, now],
            )?;
            if let Some(invocation) = invocation {
                tx.execute(
                    "UPDATE invocations SET status = 'resuming', updated_ms = ?2 WHERE id = ?1 AND status IN ('running', 'callback')",
                    params![invocation, now],
                )?;
            }
            Ok(CallbackAccept::Accepted)
        })
        .await
    }

    /// Callback `id` cannot be resumed (`reason`: its app, connection or
    /// subscription is gone): the callback is `gone`, the invocation
    /// waiting for it fails with `reason`, and `job` (when a queued one
    /// found this) is done, in one transaction. Whether it was still
    /// waiting (pending or queued).
    pub(crate) async fn abandon_callback(
        &self,
        id: &str,
        job: Option<i64>,
        reason: String,
    ) -> Result<bool, ServeError> {
        let id = id.to_string();
        let now = now_ms();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE callbacks SET status = 'gone' WHERE id = ?1 AND status IN ('pending', 'queued')",
                params![id],
            )?;
            let invocation: Option<Option<String>> = tx
                .query_row("SELECT invocation FROM callbacks WHERE id = ?1", params![id], |row| row.get(0))
                .optional()?;
            if changed > 0
                && let Some(Some(invocation)) = invocation
            {
                let answer = serde_json::json!({
                    "invocation": invocation,
                    "status": "error",
                    "error": {"kind": "callback_gone", "message": reason},
                })
                .to_string();
                tx.execute(
                    "UPDATE invocations SET status = 'error', answer = ?2, updated_ms = ?3
                     WHERE id = ?1 AND status IN ('running', 'callback', 'resuming')",
                    params![invocation, answer, now],
                )?;
            }
            if let Some(job) = job {
                tx.execute(
                    "UPDATE jobs SET status = 'dropped', error = ?2, updated_ms = ?3 WHERE id = ?1",
                    params![job, reason, now],
                )?;
            }
            Ok(changed > 0)
        })
        .await
    }

    /// A callback's job ended: the callback's and the invocation's status,
    /// the answer, refreshed credentials and the job, in one transaction.
    pub(crate) async fn finish_callback(
        &self,
        job: i64,
        callback: &str,
        answered: Answered,
        auth: AuthUpdate,
        then: Then,
    ) -> Result<Option<Job>, ServeError> {
        let callback = callback.to_string();
        let Answered { invocation, status, answer, expired } = answered;
        let now = now_ms();
        self.write(move |tx| {
            let callback_status = if expired { "expired" } else { "resumed" };
            tx.execute("UPDATE callbacks SET status = ?2 WHERE id = ?1", params![callback, callback_status])?;
            if let Some(invocation) = invocation {
                tx.execute(
                    "UPDATE invocations SET status = ?2, answer = ?3, updated_ms = ?4 WHERE id = ?1",
                    params![invocation, status, answer, now],
                )?;
            }
            update_auth(tx, &auth, now)?;
            done_then(tx, job, then, now)
        })
        .await
    }

    // Subscriptions and their events.

    pub(crate) async fn insert_subscription(&self, row: SubscriptionRow) -> Result<(), ServeError> {
        let now = now_ms();
        self.write(move |c| {
            let next_poll = row.interval_s.map(|s| now + s * 1000);
            c.execute(
                "INSERT OR REPLACE INTO subscriptions
                 (id, app, connection, trigger, kind, interval_s, next_poll_ms, target_url, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    row.id,
                    row.app,
                    row.connection,
                    row.trigger,
                    row.kind,
                    row.interval_s,
                    next_poll,
                    row.target_url,
                    row.created_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>, ServeError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, app, connection, trigger, kind, interval_s, target_url, created_ms
                 FROM subscriptions WHERE id = ?1",
                params![id],
                |row| {
                    Ok(SubscriptionRow {
                        id: row.get(0)?,
                        app: row.get(1)?,
                        connection: row.get(2)?,
                        trigger: row.get(3)?,
                        kind: row.get(4)?,
                        interval_s: row.get(5)?,
                        target_url: row.get(6)?,
                        created_ms: row.get(7)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Forget subscription `id`: its row, its events, its queued work.
    pub(crate) async fn remove_subscription(&self, id: &str) -> Result<(), ServeError> {
        let id = id.to_string();
        let now = now_ms();
        self.write(move |tx| {
            tx.execute("DELETE FROM subscriptions WHERE id = ?1", params![id])?;
            tx.execute("DELETE FROM events WHERE subscription = ?1", params![id])?;
            tx.execute(
                "UPDATE jobs SET status = 'dropped', error = 'the subscription was removed', updated_ms = ?2
                 WHERE target = ?1 AND status = 'queued'",
                params![id, now],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn events(&self, subscription: &str, after: i64, limit: i64) -> Result<Vec<Event>, ServeError> {
        let subscription = subscription.to_string();
        self.read(move |c| {
            let mut query = c.prepare(
                "SELECT seq, item, created_ms FROM events WHERE subscription = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = query.query_map(params![subscription, after, limit], |row| {
                Ok(Event { seq: row.get(0)?, item: row.get(1)?, created_ms: row.get(2)? })
            })?;
            rows.collect()
        })
        .await
    }

    /// Whether an event of `subscription` holds `text` (a dehydrated
    /// value, as the item's JSON has it).
    pub(crate) async fn event_contains(&self, subscription: &str, text: &str) -> Result<bool, ServeError> {
        let (subscription, text) = (subscription.to_string(), text.to_string());
        self.read(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM events WHERE subscription = ?1 AND instr(item, ?2) > 0)",
                params![subscription, text],
                |row| row.get(0),
            )
        })
        .await
    }

    // The queue.

    /// Keep a hook delivery for a worker. A delivery whose sender's ID was
    /// received before is a duplicate, unless the earlier one failed for
    /// good: then this one is run again.
    pub(crate) async fn enqueue_hook(
        &self,
        subscription: &str,
        delivery_id: Option<String>,
        request: &StoredRequest,
    ) -> Result<Enqueued, ServeError> {
        let subscription = subscription.to_string();
        let request = serde_json::to_string(request).map_err(|e| ServeError::State(e.to_string()))?;
        let now = now_ms();
        self.write(move |tx| {
            let behind: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE target = ?1 AND status IN ('queued', 'running'))",
                params![subscription],
                |row| row.get(0),
            )?;
            let inserted = tx.execute(
                "INSERT INTO jobs (kind, target, delivery_id, request, status, not_before_ms, created_ms, updated_ms)
                 VALUES ('hook', ?1, ?2, ?3, 'queued', ?4, ?4, ?4) ON CONFLICT DO NOTHING",
                params![subscription, delivery_id, request, now],
            )?;
            if inserted > 0 {
                return Ok(Enqueued::Accepted { behind });
            }
            let retried = tx.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, request = ?3, not_before_ms = ?4, updated_ms = ?4
                 WHERE kind = 'hook' AND target = ?1 AND delivery_id = ?2 AND status = 'dead'",
                params![subscription, delivery_id, request, now],
            )?;
            Ok(if retried > 0 { Enqueued::Accepted { behind } } else { Enqueued::Duplicate })
        })
        .await
    }

    /// Claim the next job that is due, in order per target ([`CLAIM`]): a job waits
    /// while an earlier one of its target is queued or running, so a
    /// subscription's deliveries run, and emit, in the order received.
    pub(crate) async fn claim(&self) -> Result<Option<Job>, ServeError> {
        let now = now_ms();
        self.write(move |tx| claim_in(tx, now)).await
    }

    /// The job failed and is tried again after `delay`.
    pub(crate) async fn retry(
        &self,
        job: i64,
        delay: Duration,
        error: String,
        then: Then,
    ) -> Result<Option<Job>, ServeError> {
        let now = now_ms();
        let not_before = now + delay.as_millis() as i64;
        self.write(move |c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', not_before_ms = ?2, error = ?3, updated_ms = ?4 WHERE id = ?1",
                params![job, not_before, error, now],
            )?;
            then_in(c, then, now)
        })
        .await
    }

    /// The job ended without its work done (`dead`: given up; `failed`: a
    /// poll whose next one is the retry; `dropped`: nothing to do).
    pub(crate) async fn end_job(
        &self,
        job: i64,
        status: &'static str,
        error: String,
        then: Then,
    ) -> Result<Option<Job>, ServeError> {
        let now = now_ms();
        self.write(move |c| {
            c.execute(
                "UPDATE jobs SET status = ?2, error = ?3, updated_ms = ?4 WHERE id = ?1",
                params![job, status, error, now],
            )?;
            then_in(c, then, now)
        })
        .await
    }

    /// A hook delivery ran: its items become events and the job is done,
    /// in one transaction (a job that dies before it ran again, never
    /// emitting twice).
    pub(crate) async fn finish_delivery(
        &self,
        job: i64,
        subscription: &str,
        items: Vec<String>,
        auth: AuthUpdate,
        then: Then,
    ) -> Result<Option<Job>, ServeError> {
        let subscription = subscription.to_string();
        let now = now_ms();
        self.write(move |tx| {
            append_events(tx, &subscription, job, &items, now)?;
            update_auth(tx, &auth, now)?;
            done_then(tx, job, then, now)
        })
        .await
    }

    /// A poll ran: its new items become events, and the job is done with
    /// the poll's keys left to acknowledge ([`Db::acknowledged`] once the
    /// library's seen set has them; [`Db::unacknowledged`] after a crash).
    pub(crate) async fn finish_poll(
        &self,
        job: i64,
        subscription: &str,
        items: Vec<String>,
        keys: Vec<String>,
        auth: AuthUpdate,
        then: Then,
    ) -> Result<Option<Job>, ServeError> {
        let subscription = subscription.to_string();
        let keys = serde_json::to_string(&keys).map_err(|e| ServeError::State(e.to_string()))?;
        let now = now_ms();
        self.write(move |tx| {
            append_events(tx, &subscription, job, &items, now)?;
            update_auth(tx, &auth, now)?;
            tx.execute(
                "UPDATE jobs SET status = 'done', error = NULL, ack_keys = ?2, updated_ms = ?3 WHERE id = ?1",
                params![job, keys, now],
            )?;
            then_in(tx, then, now)
        })
        .await
    }

    pub(crate) async fn acknowledged(&self, job: i64) -> Result<(), ServeError> {
        self.write(move |c| c.execute("UPDATE jobs SET ack_keys = NULL WHERE id = ?1", params![job]).map(drop)).await
    }

    /// Polls whose items were kept but whose keys the library may not
    /// have marked seen: (job, subscription, keys).
    pub(crate) async fn unacknowledged(&self) -> Result<Vec<(i64, String, Vec<String>)>, ServeError> {
        self.read(|c| {
            let mut query = c.prepare("SELECT id, target, ack_keys FROM jobs WHERE ack_keys IS NOT NULL")?;
            let rows = query.query_map([], |row| {
                let keys: String = row.get(2)?;
                Ok((row.get(0)?, row.get(1)?, serde_json::from_str(&keys).unwrap_or_default()))
            })?;
            rows.collect()
        })
        .await
    }

    /// Queue a poll of every polling subscription that is due and has none
    /// queued or running; how many were queued.
    pub(crate) async fn schedule_polls(&self) -> Result<usize, ServeError> {
        let now = now_ms();
        self.write(move |tx| {
            let due: Vec<(String, i64)> = {
                let mut query = tx.prepare(
                    "SELECT id, interval_s FROM subscriptions WHERE kind = 'polling' AND next_poll_ms <= ?1",
                )?;
                let rows = query.query_map(params![now], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut queued = 0;
            for (id, interval_s) in due {
                tx.execute(
                    "UPDATE subscriptions SET next_poll_ms = ?2 WHERE id = ?1",
                    params![id, now + interval_s.max(1) * 1000],
                )?;
                let busy: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE target = ?1 AND status IN ('queued', 'running'))",
                    params![id],
                    |row| row.get(0),
                )?;
                if !busy {
                    tx.execute(
                        "INSERT INTO jobs (kind, target, status, not_before_ms, created_ms, updated_ms)
                         VALUES ('poll', ?1, 'queued', ?2, ?2, ?2)",
                        params![id, now],
                    )?;
                    queued += 1;
                }
            }
            Ok(queued)
        })
        .await
    }

    /// At start: jobs the last process was running go back to the queue
    /// (it died or was stopped mid-job: the work runs again, at least
    /// once), calls it was running are recorded as interrupted (or as
    /// waiting for their callback, when they had asked for one before it
    /// died), and idempotency keys of requests it never answered are
    /// forgotten (their clients retry). How many jobs were requeued.
    pub(crate) async fn recover(&self) -> Result<usize, ServeError> {
        let now = now_ms();
        self.write(move |tx| {
            let requeued = tx.execute(
                "UPDATE jobs SET status = 'queued', not_before_ms = ?1, updated_ms = ?1 WHERE status = 'running'",
                params![now],
            )?;
            tx.execute(
                "UPDATE invocations SET status = 'callback', updated_ms = ?1
                 WHERE status = 'running' AND EXISTS (SELECT 1 FROM callbacks c WHERE c.invocation = invocations.id)",
                params![now],
            )?;
            let interrupted = serde_json::json!({"error": {
                "kind": "interrupted",
                "message": "the service stopped while this call ran; its outcome is unknown",
            }})
            .to_string();
            tx.execute(
                "UPDATE invocations SET status = 'error', answer = ?2, updated_ms = ?1 WHERE status = 'running'",
                params![now, interrupted],
            )?;
            tx.execute("DELETE FROM idempotency WHERE status IS NULL", [])?;
            Ok(requeued)
        })
        .await
    }

    pub(crate) async fn counts(&self) -> Result<Counts, ServeError> {
        self.read(|c| {
            let count = |sql: &str| c.query_row(sql, [], |row| row.get::<_, i64>(0));
            Ok(Counts {
                queue_depth: count(QUEUE_DEPTH)?,
                dead_jobs: count("SELECT COUNT(*) FROM jobs WHERE status = 'dead'")?,
                pending_callbacks: count("SELECT COUNT(*) FROM callbacks WHERE status IN ('pending', 'queued')")?,
                hook_subscriptions: count("SELECT COUNT(*) FROM subscriptions WHERE kind = 'hook'")?,
                polling_subscriptions: count("SELECT COUNT(*) FROM subscriptions WHERE kind = 'polling'")?,
                connections: count("SELECT COUNT(*) FROM connections")?,
            })
        })
        .await
    }

    pub(crate) async fn queue_depth(&self) -> Result<i64, ServeError> {
        self.read(|c| c.query_row(QUEUE_DEPTH, [], |r| r.get(0))).await
    }

    // Idempotency keys.

    pub(crate) async fn begin_idempotent(
        &self,
        scope: String,
        key: String,
        fingerprint: String,
    ) -> Result<Idempotent, ServeError> {
        let now = now_ms();
        self.write(move |tx| {
            let found: Option<(String, Option<u16>, Option<String>)> = tx
                .query_row(
                    "SELECT fingerprint, status, answer FROM idempotency WHERE scope = ?1 AND key = ?2",
                    params![scope, key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            match found {
                None => {
                    tx.execute(
                        "INSERT INTO idempotency (scope, key, fingerprint, created_ms) VALUES (?1, ?2, ?3, ?4)",
                        params![scope, key, fingerprint, now],
                    )?;
                    Ok(Idempotent::Run)
                }
                Some((earlier, _, _)) if earlier != fingerprint => Ok(Idempotent::Mismatch),
                Some((_, Some(status), Some(answer))) => Ok(Idempotent::Done(status, answer)),
                Some(_) => Ok(Idempotent::InProgress),
            }
        })
        .await
    }

    /// Keep the answer of an idempotent request (`None`: forget the key,
    /// so a retry runs: the request failed in a way worth retrying).
    pub(crate) async fn finish_idempotent(
        &self,
        scope: String,
        key: String,
        answer: Option<(u16, String)>,
    ) -> Result<(), ServeError> {
        self.write(move |c| {
            match answer {
                Some((status, body)) => c.execute(
                    "UPDATE idempotency SET status = ?3, answer = ?4 WHERE scope = ?1 AND key = ?2",
                    params![scope, key, status, body],
                )?,
                None => c.execute("DELETE FROM idempotency WHERE scope = ?1 AND key = ?2", params![scope, key])?,
            };
            Ok(())
        })
        .await
    }
}

/// An OAuth authorization in progress, as stored.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationRow {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) account: Option<String>,
    /// The library's `Authorization` and the user's inputData, sealed.
    pub(crate) sealed: Vec<u8>,
    /// `pending`, `completing`, `connected` or `failed`.
    pub(crate) status: String,
    pub(crate) connection: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) expires_ms: i64,
    pub(crate) created_ms: i64,
}

fn authorization_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuthorizationRow> {
    Ok(AuthorizationRow {
        id: row.get(0)?,
        app: row.get(1)?,
        account: row.get(2)?,
        sealed: row.get(3)?,
        status: row.get(4)?,
        connection: row.get(5)?,
        error: row.get(6)?,
        expires_ms: row.get(7)?,
        created_ms: row.get(8)?,
    })
}

const AUTHORIZATION_COLUMNS: &str = "id, app, account, sealed, status, connection, error, expires_ms, created_ms";

impl Db {
    /// Keep an authorization just started; `state` finds it again when the
    /// provider redirects back.
    pub(crate) async fn insert_authorization(&self, row: AuthorizationRow, state: String) -> Result<(), ServeError> {
        let now = now_ms();
        self.write(move |c| {
            c.execute(
                "INSERT INTO authorizations (id, state, app, account, sealed, status, expires_ms, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?7)",
                params![row.id, state, row.app, row.account, row.sealed, row.expires_ms, now],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn authorization(&self, id: &str) -> Result<Option<AuthorizationRow>, ServeError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {AUTHORIZATION_COLUMNS} FROM authorizations WHERE id = ?1"),
                params![id],
                authorization_row,
            )
            .optional()
        })
        .await
    }

    /// Claim the pending, unexpired authorization whose state is `state`
    /// for completing it, once: `Err` with its status when it is not
    /// pending (or `expired`), `Ok(None)` when no authorization has it.
    pub(crate) async fn claim_authorization(
        &self,
        state: &str,
    ) -> Result<Option<Result<AuthorizationRow, String>>, ServeError> {
        let state = state.to_string();
        let now = now_ms();
        self.write(move |tx| {
            let found = tx
                .query_row(
                    &format!("SELECT {AUTHORIZATION_COLUMNS} FROM authorizations WHERE state = ?1"),
                    params![state],
                    authorization_row,
                )
                .optional()?;
            let Some(row) = found else { return Ok(None) };
            if row.status != "pending" {
                return Ok(Some(Err(row.status)));
            }
            if row.expires_ms <= now {
                tx.execute(
                    "UPDATE authorizations SET status = 'failed', error = 'expired', updated_ms = ?2 WHERE id = ?1",
                    params![row.id, now],
                )?;
                return Ok(Some(Err("expired".into())));
            }
            tx.execute(
                "UPDATE authorizations SET status = 'completing', updated_ms = ?2 WHERE id = ?1",
                params![row.id, now],
            )?;
            Ok(Some(Ok(row)))
        })
        .await
    }

    /// An authorization ended: connected (as `connection`), or failed with `error`.
    pub(crate) async fn finish_authorization(
        &self,
        id: &str,
        connection: Option<String>,
        error: Option<String>,
    ) -> Result<(), ServeError> {
        let id = id.to_string();
        let now = now_ms();
        let status = if connection.is_some() { "connected" } else { "failed" };
        self.write(move |c| {
            c.execute(
                "UPDATE authorizations SET status = ?2, connection = ?3, error = ?4, sealed = x'', updated_ms = ?5
                 WHERE id = ?1",
                params![id, status, connection, error, now],
            )
            .map(drop)
        })
        .await
    }
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub(crate) jobs: u64,
    pub(crate) invocations: u64,
    pub(crate) callbacks: u64,
    pub(crate) events: u64,
    pub(crate) idempotency_keys: u64,
    pub(crate) authorizations: u64,
}

/// The cut-off times of a pruning pass, in ms since the epoch: what ended
/// (or was stored) before its cut-off goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cutoffs {
    pub(crate) jobs: i64,
    pub(crate) invocations: i64,
    pub(crate) events: i64,
    pub(crate) idempotency_keys: i64,
}

impl Db {
    /// Remove what is finished and older than its cut-off, in one
    /// transaction. Never removed: jobs queued or running, or whose poll
    /// keys are not acknowledged; calls running or waiting for (or
    /// resuming from) a callback; callbacks pending before their expiry or
    /// queued; idempotency keys of requests still running; a
    /// subscription's newest event (its sequence goes on from it).
    pub(crate) async fn prune(&self, cutoffs: Cutoffs) -> Result<Pruned, ServeError> {
        self.write(move |tx| {
            let jobs = tx.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'dropped', 'failed', 'dead')
                 AND ack_keys IS NULL AND updated_ms < ?1",
                params![cutoffs.jobs],
            )?;
            let invocations = tx.execute(
                "DELETE FROM invocations WHERE status IN ('success', 'error') AND updated_ms < ?1",
                params![cutoffs.invocations],
            )?;
            // A callback resumed or expired, or one never called back whose
            // expiry is past the cut-off (its URL answers 404 from then).
            let callbacks = tx.execute(
                "DELETE FROM callbacks WHERE (status NOT IN ('pending', 'queued') AND created_ms < ?1)
                 OR (status = 'pending' AND expires_ms < ?1)",
                params![cutoffs.invocations],
            )?;
            let events = tx.execute(
                "DELETE FROM events WHERE created_ms < ?1
                 AND seq < (SELECT MAX(e.seq) FROM events e WHERE e.subscription = events.subscription)",
                params![cutoffs.events],
            )?;
            let idempotency_keys = tx.execute(
                "DELETE FROM idempotency WHERE status IS NOT NULL AND created_ms < ?1",
                params![cutoffs.idempotency_keys],
            )?;
            // Authorizations ended, or never completed and past their expiry.
            let authorizations = tx.execute(
                "DELETE FROM authorizations WHERE (status IN ('connected', 'failed') AND updated_ms < ?1)
                 OR (status = 'pending' AND expires_ms < ?1)",
                params![cutoffs.invocations],
            )?;
            Ok(Pruned {
                jobs: jobs as u64,
                invocations: invocations as u64,
                callbacks: callbacks as u64,
                events: events as u64,
                idempotency_keys: idempotency_keys as u64,
                authorizations: authorizations as u64,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::atomic::{AtomicBool, AtomicU64};

    use super::*;

    fn request(body: &str) -> StoredRequest {
        StoredRequest::of(&IncomingRequest::json(&serde_json::json!({"body": body})))
    }

    #[tokio::test]
    async fn jobs_of_one_target_run_in_order_and_a_delivery_id_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("service.sqlite3")).unwrap();
        let accepted = |behind| Enqueued::Accepted { behind };
        assert_eq!(db.enqueue_hook("s1", Some("d1".into()), &request("a")).await.unwrap(), accepted(false));
        assert_eq!(db.enqueue_hook("s1", Some("d1".into()), &request("a")).await.unwrap(), Enqueued::Duplicate);
        assert_eq!(db.enqueue_hook("s1", None, &request("b")).await.unwrap(), accepted(true), "behind s1's first");
        assert_eq!(db.enqueue_hook("s2", None, &request("c")).await.unwrap(), accepted(false));
        let first = db.claim().await.unwrap().unwrap();
        assert_eq!((first.target.as_str(), first.attempts), ("s1", 1));
        let second = db.claim().await.unwrap().unwrap();
        assert_eq!(second.target, "s2", "s1's second job waits for its first");
        assert!(db.claim().await.unwrap().is_none());
        db.finish_delivery(first.id, "s1", vec!["1".into(), "2".into()], None, Then::Stop).await.unwrap();
        let third = db.claim().await.unwrap().unwrap();
        assert_eq!(third.target, "s1");
        db.finish_delivery(third.id, "s1", vec!["3".into()], None, Then::Stop).await.unwrap();
        let events = db.events("s1", 0, 10).await.unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(db.events("s1", 2, 10).await.unwrap()[0].item, "3");
    }

    #[tokio::test]
    async fn a_running_job_is_queued_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        let db = Db::open(&path).unwrap();
        db.enqueue_hook("s1", None, &request("a")).await.unwrap();
        let job = db.claim().await.unwrap().unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.recover().await.unwrap(), 1);
        let again = db.claim().await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (job.id, 2));
        assert_eq!(again.request.unwrap().incoming().body, request("a").incoming().body);
    }

    #[tokio::test]
    async fn a_callback_is_accepted_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("service.sqlite3")).unwrap();
        db.put_callback("cb".into(), None, "{}".into(), now_ms() + 60_000).await.unwrap();
        assert_eq!(db.accept_callback("nope", &request("x")).await.unwrap(), CallbackAccept::Unknown);
        assert_eq!(db.accept_callback("cb", &request("x")).await.unwrap(), CallbackAccept::Accepted);
        assert_eq!(db.accept_callback("cb", &request("x")).await.unwrap(), CallbackAccept::Finished);
    }

    #[tokio::test]
    async fn a_callback_that_expired_before_its_job_ran_is_kept_as_expired() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("service.sqlite3")).unwrap();
        for (id, expired) in [("late", true), ("resumed", false)] {
            db.insert_invocation(id, "app", None, "m").await.unwrap();
            db.put_callback(id.into(), Some(id.into()), "{}".into(), now_ms() + 60_000).await.unwrap();
            assert_eq!(db.accept_callback(id, &request("x")).await.unwrap(), CallbackAccept::Accepted);
            let job = db.claim().await.unwrap().unwrap();
            let answered = Answered { invocation: Some(id.into()), status: "error", answer: "{}".into(), expired };
            db.finish_callback(job.id, id, answered, None, Then::Stop).await.unwrap();
            assert_eq!(db.callback(id).await.unwrap().unwrap().status, id.replace("late", "expired"));
        }
    }

    #[tokio::test]
    async fn pruning_keeps_unfinished_work_and_each_subscriptions_newest_event() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("service.sqlite3")).unwrap();
        db.enqueue_hook("s1", None, &request("a")).await.unwrap();
        db.enqueue_hook("s1", None, &request("b")).await.unwrap();
        db.enqueue_hook("s2", None, &request("c")).await.unwrap();
        let first = db.claim().await.unwrap().unwrap();
        db.finish_delivery(first.id, "s1", vec!["1".into(), "2".into()], None, Then::Stop).await.unwrap();
        let running = db.claim().await.unwrap().unwrap();
        assert_eq!(running.target, "s1");
        db.insert_invocation("done", "app", None, "m").await.unwrap();
        db.finish_invocation("done", "success", "{}".into(), None).await.unwrap();
        db.insert_invocation("waits", "app", None, "m").await.unwrap();
        db.put_callback("cb".into(), Some("waits".into()), "{}".into(), now_ms() + 60_000).await.unwrap();
        db.finish_invocation("waits", "callback", "{}".into(), None).await.unwrap();
        db.insert_invocation("runs", "app", None, "m").await.unwrap();
        assert_eq!(db.begin_idempotent("x".into(), "k1".into(), "f".into()).await.unwrap(), Idempotent::Run);
        db.finish_idempotent("x".into(), "k1".into(), Some((200, "{}".into()))).await.unwrap();
        assert_eq!(db.begin_idempotent("x".into(), "k2".into(), "f".into()).await.unwrap(), Idempotent::Run);

        // Everything finished is older than a cut-off in the future.
        let later = now_ms() + 1000;
        let cutoffs = Cutoffs { jobs: later, invocations: later, events: later, idempotency_keys: later };
        let pruned = db.prune(cutoffs).await.unwrap();
        assert_eq!(
            pruned,
            Pruned { jobs: 1, invocations: 1, callbacks: 0, events: 1, idempotency_keys: 1, authorizations: 0 },
            "the done job, the finished call, event 1 of s1 (2 is its newest), the answered key"
        );
        assert_eq!(db.queue_depth().await.unwrap(), 2, "the queued and the running job are kept");
        assert!(db.invocation("waits").await.unwrap().is_some() && db.invocation("runs").await.unwrap().is_some());
        assert!(db.callback("cb").await.unwrap().is_some(), "a pending callback before its expiry is kept");
        assert_eq!(db.begin_idempotent("x".into(), "k2".into(), "f".into()).await.unwrap(), Idempotent::InProgress);
        let events = db.events("s1", 0, 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
        db.finish_delivery(running.id, "s1", vec!["3".into()], None, Then::Stop).await.unwrap();
        assert_eq!(db.events("s1", 2, 10).await.unwrap()[0].seq, 3, "the sequence goes on");
        let none = Cutoffs { jobs: 0, invocations: 0, events: 0, idempotency_keys: 0 };
        assert_eq!(db.prune(none).await.unwrap(), Pruned::default(), "nothing is older than the epoch");
    }

    #[tokio::test]
    async fn files_of_versions_1_to_3_are_upgraded_in_place() {
        for (version, schemas) in
            [(1, vec![SCHEMA]), (2, vec![SCHEMA, SCHEMA_2]), (3, vec![SCHEMA, SCHEMA_2, SCHEMA_3])]
        {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("service.sqlite3");
            let old = Connection::open(&path).unwrap();
            for schema in schemas {
                old.execute_batch(schema).unwrap();
            }
            old.execute_batch(&format!("PRAGMA user_version = {version}")).unwrap();
            old.execute("INSERT INTO apps (name, path, sealed_env, created_ms) VALUES ('a', 'a.wasm', x'00', 1)", [])
                .unwrap();
            for status in ["queued", "running", "done"] {
                old.execute(
                    "INSERT INTO jobs (kind, target, status, not_before_ms, created_ms, updated_ms)
                     VALUES ('poll', 'old', ?1, 1, 1, 1)",
                    params![status],
                )
                .unwrap();
            }
            drop(old);
            let db = Db::open(&path).unwrap();
            assert_eq!(db.apps().await.unwrap().len(), 1, "version {version}: what it held is kept");
            assert!(db.authorization("nope").await.unwrap().is_none(), "version {version}: the table of 2 is there");
            assert_eq!(db.queue_depth().await.unwrap(), 2, "version {version}: the depth counts the jobs it held");
            db.enqueue_hook("s1", None, &request("a")).await.unwrap();
            assert_eq!(db.queue_depth().await.unwrap(), 3, "version {version}: and is kept from then on");
            assert!(db.claim().await.unwrap().is_some(), "version {version}: the claim finds its index");
            drop(db);
            let version: i64 =
                Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
            assert_eq!(version, SCHEMA_VERSION);
        }
    }

    #[tokio::test]
    async fn the_queue_depth_is_read_from_one_row_and_follows_every_move_of_a_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        let db = Db::open(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        // The plan, not a timing: the receivers' read touches no job.
        let steps = plan_of(&reader, QUEUE_DEPTH, []);
        assert!(steps.iter().all(|s| !s.contains("jobs")), "{steps:?}");
        let counted = || {
            reader
                .query_row("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
        };
        let mut steps_checked = 0;
        let mut check = async |step: &str, expected: i64| {
            let kept = db.queue_depth().await.unwrap();
            assert_eq!((kept, counted()), (expected, expected), "after {step}");
            steps_checked += 1;
        };
        // Every statement that moves a job into or out of the queue.
        for (target, delivery) in [("s1", "d1"), ("s1", "d2"), ("s2", "d3"), ("s3", "d4"), ("s4", "d5")] {
            db.enqueue_hook(target, Some(delivery.into()), &request("a")).await.unwrap();
        }
        check("five received", 5).await;
        db.enqueue_hook("s1", Some("d1".into()), &request("a")).await.unwrap();
        check("a duplicate", 5).await;
        let first = db.claim().await.unwrap().unwrap();
        check("a claim (running counts)", 5).await;
        db.finish_delivery(first.id, &first.target, vec!["{}".into()], None, Then::Stop).await.unwrap();
        check("a delivery done", 4).await;
        let second = db.claim().await.unwrap().unwrap();
        db.retry(second.id, Duration::from_secs(60), "later".into(), Then::Stop).await.unwrap();
        check("a retry", 4).await;
        let third = db.claim().await.unwrap().unwrap();
        db.end_job(third.id, "dead", "given up".into(), Then::Stop).await.unwrap();
        check("a job given up", 3).await;
        db.enqueue_hook(&third.target, delivery_of(&db, third.id).await, &request("a")).await.unwrap();
        check("a dead delivery sent again", 4).await;
        db.claim().await.unwrap().unwrap();
        check("another claim", 4).await;
        db.recover().await.unwrap();
        check("a restart requeueing what ran", 4).await;
        db.remove_subscription("s4").await.unwrap();
        check("a subscription removed", 3).await;
        let everything =
            Cutoffs { jobs: i64::MAX, invocations: i64::MAX, events: i64::MAX, idempotency_keys: i64::MAX };
        db.prune(everything).await.unwrap();
        check("pruning what ended", 3).await;
        assert_eq!(steps_checked, 11);
    }

    /// The steps of SQLite's plan for `sql` (`EXPLAIN QUERY PLAN`).
    fn plan_of(reader: &Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        let mut plan = reader.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        plan.query_map(params, |row| row.get::<_, String>(3)).unwrap().map(Result::unwrap).collect()
    }

    /// The delivery ID a job was received with.
    async fn delivery_of(db: &Db, job: i64) -> Option<String> {
        db.read(move |c| c.query_row("SELECT delivery_id FROM jobs WHERE id = ?1", params![job], |r| r.get(0)))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_claim_walks_the_queue_oldest_first_without_weighing_every_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        let db = Db::open(&path).unwrap();
        // The plan, not a timing: no sort of every queued job, the queue's
        // index walked in ID order.
        let reader = open_reader(&path).unwrap();
        let steps = plan_of(&reader, CLAIM, params![now_ms()]);
        assert!(steps.iter().any(|s| s.contains("USING INDEX jobs_queue")), "{steps:?}");
        assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "{steps:?}");
        // What it takes: a busy target's queued jobs are stepped over, a job
        // not yet due holds back the later ones of its target only.
        for (target, body) in [("s1", "a"), ("s1", "b"), ("s2", "c"), ("s3", "d"), ("s3", "e"), ("s1", "f")] {
            db.enqueue_hook(target, None, &request(body)).await.unwrap();
        }
        let s1 = db.claim().await.unwrap().unwrap();
        assert_eq!(s1.target, "s1");
        let s2 = db.claim().await.unwrap().unwrap();
        assert_eq!(s2.target, "s2", "s1's later jobs wait for its first");
        let s3 = db.claim().await.unwrap().unwrap();
        db.retry(s3.id, Duration::from_secs(60), "later".into(), Then::Stop).await.unwrap();
        assert!(db.claim().await.unwrap().is_none(), "s3's retry is not due and its next job waits for it");
        db.finish_delivery(s1.id, "s1", vec!["1".into()], None, Then::Stop).await.unwrap();
        let next = db.claim().await.unwrap().unwrap();
        assert_eq!((next.target.as_str(), next.id), ("s1", s1.id + 1), "s1's second job, not its third");
    }

    /// A `Db` whose writer's commits SQLite's commit hook counts, and
    /// refuses while `veto` is set.
    fn counted(path: &Path) -> (Db, Arc<AtomicU64>, Arc<AtomicBool>) {
        let (commits, veto) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let mut connection = Db::open_writer(path).unwrap();
        let (counter, refused) = (commits.clone(), veto.clone());
        connection
            .commit_hook(Some(move || {
                if refused.load(SeqCst) {
                    return true;
                }
                counter.fetch_add(1, SeqCst);
                false
            }))
            .unwrap();
        (Db::start(path, connection).unwrap(), commits, veto)
    }

    /// A write that holds the writer thread (after `first` ran in it) until
    /// the returned sender sends: what is submitted meanwhile waits for
    /// the next batch. The receiver says when it started.
    fn hold(
        db: &Db,
        first: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> (std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>, oneshot::Receiver<Result<(), ServeError>>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let held = db
            .submit(move |c| {
                first(c)?;
                let _ = started.send(());
                let _ = released.recv();
                Ok(())
            })
            .unwrap();
        (release, running, held)
    }

    fn insert_app(name: &'static str) -> impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static {
        move |c| {
            c.execute(
                "INSERT INTO apps (name, path, sealed_env, created_ms) VALUES (?1, 'a.wasm', x'', 1)",
                params![name],
            )
            .map(drop)
        }
    }

    async fn app_names(db: &Db) -> Vec<String> {
        db.apps().await.unwrap().into_iter().map(|(name, _, _)| name).collect()
    }

    #[tokio::test]
    async fn writes_waiting_together_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (db, commits, _) = counted(&dir.path().join("service.sqlite3"));
        let (release, _, held) = hold(&db, |_| Ok(()));
        let writes: Vec<_> = (0..50)
            .map(|i| {
                let id = format!("call-{i}");
                db.submit(move |c| {
                    c.execute(
                        "INSERT INTO invocations (id, app, method, status, created_ms, updated_ms)
                         VALUES (?1, 'app', 'm', 'running', 1, 1)",
                        params![id],
                    )
                    .map(drop)
                })
                .unwrap()
            })
            .collect();
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let kept = db.read(|c| c.query_row("SELECT COUNT(*) FROM invocations", [], |r| r.get::<_, i64>(0))).await;
        assert_eq!(kept.unwrap(), 50);
        let commits = commits.load(SeqCst);
        assert!((1..=2).contains(&commits), "51 writes in {commits} commits: the held one's batch and one more");
    }

    #[tokio::test]
    async fn a_jobs_end_claims_the_workers_next_job_in_the_same_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (db, commits, _) = counted(&dir.path().join("service.sqlite3"));
        for (target, body) in [("s1", "a"), ("s1", "b"), ("s1", "c"), ("s1", "d")] {
            db.enqueue_hook(target, None, &request(body)).await.unwrap();
        }
        let first = db.claim().await.unwrap().unwrap();
        let before = commits.load(SeqCst);
        let second = db.finish_delivery(first.id, "s1", vec!["1".into()], None, Then::ClaimNext).await.unwrap();
        let second = second.expect("the end claimed the job its own end let go");
        assert_eq!((second.target.as_str(), second.attempts), ("s1", 1));
        assert_eq!(commits.load(SeqCst) - before, 1, "the end and the claim are one commit");
        assert!(db.claim().await.unwrap().is_none(), "s1's next job runs: it is taken");
        // Every way a job ends can claim; a stopping worker claims nothing.
        let third = db.retry(second.id, Duration::ZERO, "again".into(), Then::ClaimNext).await.unwrap().unwrap();
        assert_eq!(third.id, second.id, "a retry due now is the oldest of its target again");
        let fourth = db.end_job(third.id, "dead", "given up".into(), Then::ClaimNext).await.unwrap().unwrap();
        assert!(db.end_job(fourth.id, "dead", "given up".into(), Then::Stop).await.unwrap().is_none());
        assert_eq!(db.queue_depth().await.unwrap(), 1, "the last job is left queued");
    }

    #[tokio::test]
    async fn a_failing_write_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (db, commits, _) = counted(&dir.path().join("service.sqlite3"));
        let (release, _, held) = hold(&db, |_| Ok(()));
        let a = db.submit(insert_app("a")).unwrap();
        // Writes "b", then fails on "a" (its neighbour's, not committed yet).
        let b = db
            .submit(|c| {
                insert_app("b")(c)?;
                insert_app("a")(c)
            })
            .unwrap();
        let c = db.submit(insert_app("c")).unwrap();
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        a.await.unwrap().unwrap();
        let error = b.await.unwrap().expect_err("a duplicate name fails").to_string();
        assert!(error.contains("UNIQUE"), "{error}");
        c.await.unwrap().unwrap();
        assert_eq!(app_names(&db).await, ["a", "c"], "b's own first insert went with it; a and c are kept");
        assert!(commits.load(SeqCst) <= 2, "a, b and c went in one batch");
    }

    #[tokio::test]
    async fn a_write_is_answered_by_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        let (db, commits, veto) = counted(&path);
        // Every write's own work succeeds; the commit is refused: each
        // caller must hear the commit's failure, not its work's success.
        veto.store(true, SeqCst);
        let (release, _, held) = hold(&db, insert_app("held"));
        let a = db.submit(insert_app("a")).unwrap();
        let b = db.submit(insert_app("b")).unwrap();
        release.send(()).unwrap();
        for write in [held, a, b] {
            let error = write.await.unwrap().expect_err("the commit was refused").to_string();
            assert!(error.contains("commit failed"), "{error}");
        }
        assert!(app_names(&db).await.is_empty(), "nothing of a refused commit is kept");
        veto.store(false, SeqCst);
        db.put_app("d".into(), "d.wasm".into(), vec![]).await.unwrap();
        assert_eq!(commits.load(SeqCst), 1, "answered once its commit is done");
        let seen: String =
            Connection::open(&path).unwrap().query_row("SELECT name FROM apps", [], |r| r.get(0)).unwrap();
        assert_eq!(seen, "d", "another connection sees it as soon as it is answered");
    }

    #[tokio::test]
    async fn reads_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("service.sqlite3")).unwrap();
        let (release, running, held) = hold(&db, insert_app("x"));
        running.recv().unwrap();
        // The writer is inside its transaction, "x" written, not committed.
        let read = tokio::time::timeout(Duration::from_secs(60), app_names(&db)).await;
        assert!(read.expect("a read answers while the writer holds its transaction").is_empty());
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert_eq!(app_names(&db).await, ["x"]);
        let error = db.read(insert_app("y")).await.expect_err("a read connection does not write").to_string();
        assert!(error.contains("readonly"), "{error}");
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        drop(Db::open(&path).unwrap());
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
        let error = Db::open(&path).err().expect("refused").to_string();
        assert!(error.contains("newer"), "{error}");
    }
}
