//! [`Service`]: a [`Host`], the apps it serves by name, and the state of
//! both (the library's `state.sqlite3`, the service's `service.sqlite3`,
//! stashed files), shared by the router's handlers and the queue's
//! workers.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::Instrument;
use zapwasm_host::{
    App, CallError, CallbackStore, Claim, Host, HostBuilder, LocalStash, Outcome, PendingCallback, Scope, ScopeKey,
    StateError, Status, Stores, ZError,
};
use zapwasm_state_sqlite::SqliteState;

use crate::ServeError;
use crate::crypto::Keys;
use crate::db::{AuthUpdate, ConnectionRow, Db, ms_of};
use crate::error::ApiError;
use crate::metrics::{CallLabels, DurationLabels, Metrics};

tokio::task_local! {
    /// The service invocation a call runs for, so the callback it asks for
    /// is linked to it the moment the library keeps it.
    pub(crate) static INVOCATION: String;
}

/// The state of a service in one directory: the library's state file
/// (`state.sqlite3`, [`SqliteState`]), the service's own
/// (`service.sqlite3`: connections, invocations, events, the queue),
/// stashed files (`stash/`), and the keys derived from the master key.
#[derive(Clone)]
pub struct ServiceState {
    dir: PathBuf,
    /// `<dir>/lock`, locked for as long as any clone of this state lives:
    /// one process per state directory.
    _lock: Arc<std::fs::File>,
    pub(crate) db: Db,
    library: Arc<SqliteState>,
    pub(crate) keys: Arc<Keys>,
}

impl ServiceState {
    /// Open (or create) the state in `dir`, sealing credentials with keys
    /// derived from `master_key` (at least 32 random bytes, the same on
    /// every start: credentials and file links sealed under another key
    /// do not open). The directory is locked (`<dir>/lock`) for as long as
    /// the state (any clone of it) lives: opening a directory another
    /// process (or another state in this one) holds fails with
    /// [`ServeError::Config`] naming that process.
    pub fn open(dir: impl AsRef<Path>, master_key: &[u8]) -> Result<ServiceState, ServeError> {
        let dir = dir.as_ref().to_path_buf();
        if master_key.len() < crate::crypto::MIN_KEY_BYTES {
            return Err(ServeError::Config(format!(
                "the master key has {} bytes; use at least {}",
                master_key.len(),
                crate::crypto::MIN_KEY_BYTES
            )));
        }
        std::fs::create_dir_all(dir.join("stash"))
            .map_err(|e| ServeError::Config(format!("cannot create the state directory {}: {e}", dir.display())))?;
        let lock = lock_dir(&dir)?;
        let library = SqliteState::open(dir.join("state.sqlite3")).map_err(|e| ServeError::State(e.to_string()))?;
        let db = Db::open(&dir.join("service.sqlite3"))?;
        Ok(ServiceState {
            dir,
            _lock: Arc::new(lock),
            db,
            library: Arc::new(library),
            keys: Arc::new(Keys::derive(master_key)),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A host builder wired to this state for a service answering at
    /// `public_url`: the stores (the library's state file; stashed files in
    /// `stash/`, served at `<public_url>/files/<token>`; callbacks also
    /// recorded in the service's file, so their URLs are answered), hook
    /// URLs under `<public_url>/hooks`, callback URLs under
    /// `<public_url>/callbacks`, and the stash and hydration secrets derived
    /// from the master key (file links outlive a restart). Set the policy,
    /// pool and cache on it, build, and hand the host to [`Service::new`].
    pub fn host_builder(&self, public_url: &str) -> HostBuilder {
        let public_url = public_url.trim_end_matches('/');
        let stash = Arc::new(LocalStash::new(self.dir.join("stash"), public_url));
        let mut stores = Stores::of(self.library.clone(), stash);
        stores.callbacks = Arc::new(TrackedCallbacks { inner: self.library.clone(), db: self.db.clone() });
        Host::builder()
            .stores(stores)
            .hook_base_url(format!("{public_url}/hooks"))
            .callback_base_url(format!("{public_url}/callbacks"))
            .stash_secret(self.keys.stash.clone())
            .hydration_secret(self.keys.hydration.clone())
    }
}

/// Lock `<dir>/lock` (an advisory lock of the OS, released when the
/// process ends however it ends, SIGKILL included), or say which process
/// holds it: two services on one state directory would run each queued
/// job twice.
fn lock_dir(dir: &Path) -> Result<std::fs::File, ServeError> {
    use std::io::{Read, Seek, Write};
    let path = dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| ServeError::State(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if !holder.is_empty() && holder.bytes().all(|b| b.is_ascii_digit()) {
                format!(" (process {holder})")
            } else {
                String::new()
            };
            return Err(ServeError::Config(format!(
                "the state directory {} is in use by another zapwasm serve{holder}: one process per state \
                 directory; stop that one, or give this one another state_dir",
                dir.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(ServeError::State(format!("cannot lock {}: {e}", path.display())));
        }
    }
    // Which process holds it, for the message above (the lock, not this
    // text, is what keeps a second process out).
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(file)
}

/// Remove the stashed files under `stash` (`<xx>/<id>.data` and
/// `<xx>/<id>.json`, `LocalStash`'s layout) written before `before`, and
/// partial writes as old; how many files were removed. The metadata goes
/// first: a file without it is not served, so a pass cut short leaves
/// nothing half served.
fn prune_files(stash: &Path, before: SystemTime) -> u64 {
    let old = |path: &Path| {
        std::fs::symlink_metadata(path).and_then(|m| m.modified()).is_ok_and(|modified| modified < before)
    };
    let mut removed = 0;
    let Ok(folders) = std::fs::read_dir(stash) else { return 0 };
    for folder in folders.flatten() {
        if !folder.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(folder.path()) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json.partial") && old(&path) {
                let _ = std::fs::remove_file(&path);
            } else if let Some(id) = name.strip_suffix(".json")
                && old(&path)
            {
                if std::fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
                let _ = std::fs::remove_file(folder.path().join(format!("{id}.data")));
            } else if let Some(id) = name.strip_suffix(".data")
                && old(&path)
                && !folder.path().join(format!("{id}.json")).exists()
            {
                // Bytes whose metadata never came (a write cut short).
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    removed
}

/// The library's callback store, with each pending callback also written
/// to the service's file (first): the receiver answers a callback's URL
/// from there, linked to the invocation that asked for it.
struct TrackedCallbacks {
    inner: Arc<SqliteState>,
    db: Db,
}

impl CallbackStore for TrackedCallbacks {
    fn put_callback(&self, callback: PendingCallback) -> BoxFuture<'_, Result<(), StateError>> {
        // Read here, on the call's task, where the invocation is set.
        let invocation = INVOCATION.try_with(Clone::clone).ok();
        Box::pin(async move {
            let scope = serde_json::to_string(&callback.scope).unwrap_or_default();
            self.db
                .put_callback(callback.id.clone(), invocation, scope, ms_of(callback.expires))
                .await
                .map_err(|e| StateError { backend: "zapwasm-serve", message: e.to_string() })?;
            self.inner.put_callback(callback).await
        })
    }

    fn claim_callback<'a>(&'a self, id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<Claim, StateError>> {
        self.inner.claim_callback(id, now)
    }

    fn callback<'a>(
        &'a self,
        scope: &'a ScopeKey,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<PendingCallback>, StateError>> {
        self.inner.callback(scope, id, now)
    }
}

/// What a service allows and how it works; [`Settings::new`] gives the
/// defaults, then set fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Where the service is reached from outside, without a trailing `/`:
    /// hook, callback and file URLs start with it.
    pub public_url: String,
    /// The bearer token of the control API (`/v1/*`); `None` leaves it
    /// open (`--dev` on loopback only).
    pub control_token: Option<String>,
    /// Largest control API body, in bytes. Default 1 MiB.
    pub max_body_bytes: u64,
    /// Largest hook delivery or callback POST, in bytes. Default 1 MiB.
    pub max_hook_body_bytes: u64,
    /// Guest calls the control API runs at once; past it, 503 with
    /// `Retry-After`. Default 64.
    pub max_calls_in_flight: usize,
    /// Queued deliveries past which receivers answer 503 with
    /// `Retry-After` (senders retry later). Default 100,000.
    pub max_queue_depth: u64,
    /// Queue workers. 0 receives and keeps requests without running them
    /// (another start runs them). Default 2.
    pub workers: usize,
    /// Attempts of a queued delivery or callback before it is given up
    /// (`dead`). Default 8, backing off from 1 s to 5 min.
    pub max_attempts: u32,
    /// Largest component uploaded to `POST /v1/apps`, in bytes (its
    /// base64 body may be a third larger). Default 64 MiB.
    pub max_component_bytes: u64,
    /// A polling subscription's interval when the request names none.
    /// Default 5 minutes.
    pub default_poll_interval: Duration,
    /// How long finished work is kept, and how often it is pruned.
    pub retention: Retention,
}

/// How long the service keeps what is finished (a background task prunes
/// it every [`Retention::interval`]). Work not finished is never pruned:
/// queued or running jobs, polls whose keys are not acknowledged, calls
/// running or waiting for their callback, pending callbacks before their
/// expiry, idempotency keys of requests still running. An event is pruned
/// only once it is older than [`Retention::events`] (every reader had that
/// long to read it), and a subscription's newest event is kept, so its
/// sequence numbers go on where they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Finished queue jobs (done, given up, dropped, failed polls) after
    /// their end. Default 7 days.
    pub jobs: Duration,
    /// Finished calls (`GET /v1/invocations/{id}`), their callbacks and
    /// ended OAuth authorizations after their end. Default 30 days.
    pub invocations: Duration,
    /// Subscriptions' events after they were stored. Default 30 days.
    pub events: Duration,
    /// `Idempotency-Key` answers after the request. Default 24 hours.
    pub idempotency_keys: Duration,
    /// Stashed files after they were written. Default
    /// [`STASH_URL_LIFETIME`](zapwasm_host::STASH_URL_LIFETIME) (7 days),
    /// the host's default link lifetime: a host whose links open longer
    /// (`HostBuilder::stash_url_lifetime`) needs at least as long here, or
    /// a link that opens points to a pruned file. [`Server`](crate::Server)
    /// sets the host's link lifetime to this.
    pub files: Duration,
    /// How often the pruning runs (and once at start). Default 1 hour.
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        Retention {
            jobs: DAY * 7,
            invocations: DAY * 30,
            events: DAY * 30,
            idempotency_keys: DAY,
            files: zapwasm_host::STASH_URL_LIFETIME,
            interval: Duration::from_secs(3600),
        }
    }
}

impl Settings {
    /// The defaults, for a service reached at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Settings {
        Settings {
            public_url: public_url.into().trim_end_matches('/').to_string(),
            control_token: None,
            max_body_bytes: 1 << 20,
            max_hook_body_bytes: 1 << 20,
            max_component_bytes: 64 << 20,
            max_calls_in_flight: 64,
            max_queue_depth: 100_000,
            workers: 2,
            max_attempts: 8,
            default_poll_interval: Duration::from_secs(300),
            retention: Retention::default(),
        }
    }
}

/// The service: a host, its apps by name, their state. Cheap to clone;
/// mount it with [`router`](crate::router), run its queue with
/// [`Service::start`].
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) host: Host,
    pub(crate) state: ServiceState,
    pub(crate) settings: Settings,
    token_digest: Option<[u8; 32]>,
    apps: RwLock<BTreeMap<String, ServedApp>>,
    pub(crate) metrics: Metrics,
    pub(crate) calls: tokio::sync::Semaphore,
    pub(crate) wake: tokio::sync::Notify,
    stopping: AtomicBool,
}

/// An app the service serves, and where it was loaded from.
#[derive(Clone)]
pub(crate) struct ServedApp {
    pub(crate) app: App,
    pub(crate) path: Option<String>,
}

impl Service {
    /// A service over `host` (built from [`ServiceState::host_builder`]
    /// of `state`, so its URLs and stores are the service's).
    pub fn new(host: Host, state: ServiceState, settings: Settings) -> Service {
        let token_digest = settings.control_token.as_deref().map(|t| Sha256::digest(t.as_bytes()).into());
        let calls = tokio::sync::Semaphore::new(settings.max_calls_in_flight.max(1));
        Service {
            inner: Arc::new(Inner {
                host,
                state,
                token_digest,
                apps: RwLock::default(),
                metrics: Metrics::new(),
                calls,
                wake: tokio::sync::Notify::new(),
                stopping: AtomicBool::new(false),
                settings,
            }),
        }
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    /// Serve `app` as `name` (its calls' scopes name it as the
    /// integration). An app of the same name is replaced.
    pub fn add_app(&self, name: impl Into<String>, app: App) {
        self.insert_app(name.into(), ServedApp { app, path: None });
    }

    fn insert_app(&self, name: String, app: ServedApp) {
        self.inner.apps.write().unwrap_or_else(|e| e.into_inner()).insert(name, app);
    }

    /// Load the component at `path` as `name`, with its environment, and
    /// keep it in the service's state (its environment sealed), so a
    /// restart serves it again.
    pub async fn load_app(
        &self,
        name: &str,
        path: &str,
        env: Vec<(String, String)>,
        secret_env: Vec<String>,
    ) -> Result<(), ServeError> {
        let app = self.open_app(name, path, env.clone(), secret_env.clone()).await?;
        let record = json!({"env": env, "secret_env": secret_env}).to_string();
        let sealed = self.inner.state.keys.seal(&format!("app:{name}"), record.as_bytes())?;
        self.inner.state.db.put_app(name.to_string(), path.to_string(), sealed).await?;
        self.insert_app(name.to_string(), app);
        Ok(())
    }

    /// Keep `component` (a component's bytes, uploaded) in the state
    /// directory (`apps/<name>-<digest>.wasm`, written whole or not at all)
    /// and load it as [`Service::load_app`] does, so a restart serves it
    /// again.
    pub async fn load_app_bytes(
        &self,
        name: &str,
        component: &[u8],
        env: Vec<(String, String)>,
        secret_env: Vec<String>,
    ) -> Result<(), ServeError> {
        let digest = hex::encode(&Sha256::digest(component)[..8]);
        // Kept by its absolute path: a restart from another directory finds it.
        let dir = std::path::absolute(self.inner.state.dir.join("apps"))
            .map_err(|e| ServeError::State(format!("cannot resolve the state directory: {e}")))?;
        let path = dir.join(format!("{name}-{digest}.wasm"));
        let bytes = component.to_vec();
        let written = path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let partial = written.with_extension("wasm.partial");
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&partial, &written)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(|e| ServeError::State(format!("the upload task failed: {e}")))?
        .map_err(|e| ServeError::State(format!("cannot keep the uploaded component {}: {e}", path.display())))?;
        let loaded = self.load_app(name, &path.to_string_lossy(), env, secret_env).await;
        if loaded.is_err() {
            // Nothing refers to a component that did not load.
            let _ = std::fs::remove_file(&path);
        }
        loaded
    }

    /// Load the component at `path` and serve it as `name` for this run
    /// only (the config's apps, which the config names again on the next
    /// start).
    pub async fn serve_app(
        &self,
        name: &str,
        path: &str,
        env: Vec<(String, String)>,
        secret_env: Vec<String>,
    ) -> Result<(), ServeError> {
        let app = self.open_app(name, path, env, secret_env).await?;
        self.insert_app(name.to_string(), app);
        Ok(())
    }

    async fn open_app(
        &self,
        name: &str,
        path: &str,
        env: Vec<(String, String)>,
        secret_env: Vec<String>,
    ) -> Result<ServedApp, ServeError> {
        let app = self
            .inner
            .host
            .load_file(path)
            .await
            .map_err(|e| ServeError::Load { app: name.to_string(), message: with_causes(&e) })?
            .with_env(env)
            .with_secret_env(secret_env);
        Ok(ServedApp { app, path: Some(path.to_string()) })
    }

    /// Load the apps kept by [`Service::load_app`] before a restart (those
    /// not served already).
    async fn restore_apps(&self) -> Result<(), ServeError> {
        for (name, path, sealed) in self.inner.state.db.apps().await? {
            if self.app(&name).is_some() {
                continue;
            }
            let record: Value = serde_json::from_slice(&self.inner.state.keys.open(&format!("app:{name}"), &sealed)?)
                .map_err(|e| ServeError::State(e.to_string()))?;
            let env: Vec<(String, String)> = serde_json::from_value(record["env"].clone()).unwrap_or_default();
            let secret_env: Vec<String> = serde_json::from_value(record["secret_env"].clone()).unwrap_or_default();
            match self.open_app(&name, &path, env, secret_env).await {
                Ok(app) => self.insert_app(name, app),
                // One app that no longer loads does not keep the others down.
                Err(e) => tracing::error!(app = %name, error = %e, "an app kept from before does not load"),
            }
        }
        Ok(())
    }

    /// The app served as `name`.
    pub fn app(&self, name: &str) -> Option<App> {
        self.served(name).map(|served| served.app)
    }

    pub(crate) fn served(&self, name: &str) -> Option<ServedApp> {
        self.inner.apps.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub(crate) fn apps(&self) -> Vec<(String, ServedApp)> {
        self.inner.apps.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Get ready and run the queue: the work of a process that died is
    /// recovered (running jobs queued again, polls' keys acknowledged,
    /// interrupted calls recorded), the apps kept in the state loaded, and
    /// the workers and the poll scheduler started. Stop them with
    /// [`Workers::shutdown`](crate::Workers::shutdown).
    pub async fn start(&self) -> Result<crate::Workers, ServeError> {
        self.restore_apps().await?;
        let requeued = self.inner.state.db.recover().await?;
        if requeued > 0 {
            tracing::info!(requeued, "work interrupted by the last stop is queued again");
        }
        crate::queue::acknowledge_left_over(self).await;
        Ok(crate::queue::start(self.clone()))
    }

    /// Prune what is finished and older than [`Settings::retention`]
    /// allows (the background task runs this every
    /// [`Retention::interval`]), counting it in `zapwasm_pruned_total`.
    pub(crate) async fn prune(&self) -> Result<(), ServeError> {
        let retention = &self.inner.settings.retention;
        let now = SystemTime::now();
        let cutoff = |keep: Duration| ms_of(now.checked_sub(keep).unwrap_or(std::time::UNIX_EPOCH));
        let cutoffs = crate::db::Cutoffs {
            jobs: cutoff(retention.jobs),
            invocations: cutoff(retention.invocations),
            events: cutoff(retention.events),
            idempotency_keys: cutoff(retention.idempotency_keys),
        };
        let pruned = self.db().prune(cutoffs).await?;
        let stash = self.inner.state.dir.join("stash");
        let files = tokio::task::spawn_blocking({
            let before = now.checked_sub(retention.files).unwrap_or(std::time::UNIX_EPOCH);
            move || prune_files(&stash, before)
        })
        .await
        .map_err(|e| ServeError::State(format!("the pruning task failed: {e}")))?;
        let metrics = &self.inner.metrics;
        for (kind, count) in [
            ("jobs", pruned.jobs),
            ("invocations", pruned.invocations),
            ("callbacks", pruned.callbacks),
            ("events", pruned.events),
            ("idempotency_keys", pruned.idempotency_keys),
            ("authorizations", pruned.authorizations),
            ("files", files),
        ] {
            metrics.pruned(kind, count);
        }
        tracing::debug!(?pruned, files, "pruned");
        Ok(())
    }

    /// Why a callback asked for in `scope` can no longer be resumed, if
    /// it cannot: its app is no longer served, its connection or its
    /// subscription was deleted. Resuming it anyway would run the call
    /// without its credentials, or for an automation that is gone.
    pub(crate) async fn callback_gone(&self, scope: &Scope) -> Result<Option<String>, ServeError> {
        if self.served(&scope.integration).is_none() {
            return Ok(Some(format!(
                "the app {:?} that asked for this callback is no longer served",
                scope.integration
            )));
        }
        // A call made without a connection runs in the app's shared scope "-".
        if scope.account != "-" && self.db().connection(&scope.account).await?.is_none() {
            return Ok(Some("the connection of the call that asked for this callback was deleted".into()));
        }
        if let Some(subscription) = &scope.subscription
            && self.db().subscription(subscription).await?.is_none()
        {
            return Ok(Some("the subscription of the call that asked for this callback was deleted".into()));
        }
        Ok(None)
    }

    /// Say the service is stopping: `/healthz` answers 503 from now on, so
    /// a load balancer sends no new requests.
    pub fn begin_shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake.notify_waiters();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.state.db
    }

    /// Whether `token` is the control token (compared in constant time, as
    /// digests, so neither its content nor its length leaks through time).
    pub(crate) fn control_token_matches(&self, token: Option<&str>) -> bool {
        let Some(expected) = &self.inner.token_digest else { return true };
        let Some(token) = token else { return false };
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        subtle::ConstantTimeEq::ct_eq(&given[..], &expected[..]).into()
    }

    /// The connection `id` and its credentials, opened.
    pub(crate) async fn connection(&self, id: &str) -> Result<Option<(ConnectionRow, Map<String, Value>)>, ServeError> {
        let Some(row) = self.db().connection(id).await? else { return Ok(None) };
        let plain = self.inner.state.keys.open(&format!("connection:{}", row.id), &row.sealed_auth)?;
        let auth: Map<String, Value> = serde_json::from_slice(&plain).map_err(|e| ServeError::State(e.to_string()))?;
        Ok(Some((row, auth)))
    }

    /// `auth` sealed for connection `id`.
    pub(crate) fn seal_auth(&self, id: &str, auth: &Map<String, Value>) -> Result<Vec<u8>, ServeError> {
        let plain = serde_json::to_vec(auth).map_err(|e| ServeError::State(e.to_string()))?;
        self.inner.state.keys.seal(&format!("connection:{id}"), &plain)
    }

    /// The credentials a call refreshed, sealed to be written back with
    /// the call's own record.
    pub(crate) fn auth_update<'a>(
        &self,
        connection: Option<&str>,
        outcomes: impl IntoIterator<Item = &'a Outcome>,
    ) -> Result<AuthUpdate, ServeError> {
        let (Some(id), Some(auth)) = (connection, outcomes.into_iter().filter_map(|o| o.auth_data.as_ref()).last())
        else {
            return Ok(None);
        };
        Ok(Some((id.to_string(), self.seal_auth(id, auth)?)))
    }

    /// Run `work` (one or more guest calls of `app`) counted as in flight,
    /// in a span; count each outcome after with [`Service::record`].
    pub(crate) async fn in_flight<T>(&self, work: impl Future<Output = T>, span: tracing::Span) -> T {
        let metrics = &self.inner.metrics;
        metrics.in_flight.inc();
        let value = work.instrument(span).await;
        metrics.in_flight.dec();
        value
    }

    /// Count a call's outcome.
    pub(crate) fn record(&self, app: &str, method: &str, outcome: &Outcome) {
        let metrics = &self.inner.metrics;
        let result = match (&outcome.result, outcome.status) {
            (Err(error), _) => error.kind().to_string(),
            (Ok(_), Status::Callback) => "callback".to_string(),
            (Ok(_), _) => "success".to_string(),
        };
        let labels = CallLabels { app: app.to_string(), method: method.to_string(), outcome: result.clone() };
        metrics.calls.get_or_create(&labels).inc();
        metrics
            .call_seconds
            .get_or_create(&DurationLabels { app: app.to_string(), method: method.to_string() })
            .observe(outcome.duration.as_secs_f64());
        tracing::info!(app, method, outcome = %result, duration_ms = outcome.duration.as_millis() as u64, "call");
    }
}

pub(crate) use zapwasm_host::with_causes;

/// A call's outcome as the API answers it: `status`, then `result` and
/// `checks` or `error`, then the censored `logs` and `http` exchanges and
/// `duration_ms`.
pub(crate) fn outcome_json(outcome: &Outcome) -> Map<String, Value> {
    let mut body = outcome.to_json();
    if let (Err(error), Some(Value::Object(fields))) = (&outcome.result, body.get_mut("error")) {
        fields.insert("detail".into(), serde_json::to_value(error).unwrap_or_default());
    }
    body
}

/// The status a failed call is answered with: 422 for the integration's
/// own errors (the call ran, the app said no), 429 for throttling, 404 for
/// a method the app lacks, 400 for a bad bundle, 502 for a crash or a
/// limit, 503 when the integration could not start or the state failed.
pub(crate) fn call_error_status(error: &CallError) -> (u16, Option<u64>) {
    match error {
        CallError::Integration { error: ZError::Throttled { delay_seconds, .. } } => {
            (429, Some(delay_seconds.map(|s| s.max(1)).unwrap_or(60)))
        }
        CallError::Integration { .. } => (422, None),
        CallError::NoSuchMethod { .. } => (404, None),
        CallError::InvalidBundle { .. } => (400, None),
        CallError::Trap { .. } | CallError::Limit { .. } => (502, None),
        CallError::Instantiate { .. } | CallError::State { .. } => (503, Some(1)),
        _ => (500, None),
    }
}

/// A failed call as an [`ApiError`]: the error's kind and message, with
/// the outcome (censored logs and exchanges) next to it.
pub(crate) fn call_error(outcome: &Outcome) -> Option<ApiError> {
    let error = outcome.result.as_ref().err()?;
    let (status, retry_after) = call_error_status(error);
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut api = ApiError::new(status, error.kind(), error.to_string());
    api.retry_after = retry_after;
    for (key, value) in outcome_json(outcome) {
        if key != "error" {
            api.extra.push((key, value));
        }
    }
    api.extra.push(("detail".into(), serde_json::to_value(error).unwrap_or_default()));
    Some(api)
}
