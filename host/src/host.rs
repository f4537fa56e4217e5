//! The embedding API: [`Host`], built by [`HostBuilder`], loads [`App`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::bindings;
use crate::cache::{CacheUse, Cached, ComponentCache, FileStamp, FileStamps, error_chain};
use crate::censor::Censor;
use crate::definition::Definition;
use crate::egress::{PolicyResolver, Resolver, SystemResolver};
use crate::error::LoadError;
use crate::invoke::{self, Invocation, Outcome};
use crate::policy::Policy;
use crate::pool::PoolConfig;
use crate::runtime::Runtime;
use crate::state::{CursorStore, LocalStash, MemoryCursors, StashStore};

/// Builds a [`Host`]. Every setting has a default fit for local use.
pub struct HostBuilder {
    policy: Policy,
    pool: PoolConfig,
    cache_dir: Option<PathBuf>,
    cursors: Option<Arc<dyn CursorStore>>,
    stash: Option<Arc<dyn StashStore>>,
    callback_base_url: Option<String>,
    resolver: Option<Arc<dyn Resolver>>,
}

impl HostBuilder {
    /// The egress policy and per-call limits. Default: [`Policy::default`].
    pub fn policy(mut self, policy: Policy) -> HostBuilder {
        self.policy = policy;
        self
    }

    /// The pooling allocator's size. Default: [`PoolConfig::default`].
    pub fn pool(mut self, pool: PoolConfig) -> HostBuilder {
        self.pool = pool;
        self
    }

    /// Where compiled components are cached. Default: none (every load compiles).
    ///
    /// With a cache the host also keeps the last 16 components it loaded
    /// linked in memory, and remembers which content each loaded file held:
    /// loading an unchanged file or the same bytes again is then a lookup.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> HostBuilder {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Where `z.cursor` values live. Default: [`MemoryCursors`].
    pub fn cursors(mut self, store: Arc<dyn CursorStore>) -> HostBuilder {
        self.cursors = Some(store);
        self
    }

    /// Where `z.stashFile` puts files. Default: a [`LocalStash`] in the
    /// system's temporary directory, with `file://` URLs.
    pub fn stash(mut self, store: Arc<dyn StashStore>) -> HostBuilder {
        self.stash = Some(store);
        self
    }

    /// The base of the URLs `z.generateCallbackUrl` returns; the
    /// invocation's ID is appended. Default: none (the call gets an error).
    pub fn callback_base_url(mut self, url: impl Into<String>) -> HostBuilder {
        self.callback_base_url = Some(url.into());
        self
    }

    /// How host names are resolved for outbound requests. Default: the
    /// system resolver. Every address is checked against the policy either way.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> HostBuilder {
        self.resolver = Some(resolver);
        self
    }

    /// Build the host: the engine, the linker and the HTTP clients.
    pub fn build(self) -> Result<Host, LoadError> {
        let runtime = Runtime::new(&self.pool)?;
        let cache = ComponentCache::new(&runtime.engine, self.cache_dir);
        let policy = Arc::new(self.policy);
        let resolver = self.resolver.unwrap_or_else(|| Arc::new(SystemResolver));
        let client = |compress: bool| {
            let builder = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(PolicyResolver { resolver: resolver.clone(), policy: policy.clone() }))
                .user_agent(concat!("zapwasm/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(60));
            let builder = if compress { builder } else { builder.no_gzip().no_brotli().no_deflate() };
            builder.build().map_err(|e| LoadError::Engine(format!("cannot build the HTTP client: {e}")))
        };
        let stash = match self.stash {
            Some(stash) => stash,
            None => {
                let dir = std::env::temp_dir().join("zapwasm-stash");
                let base = url::Url::from_directory_path(&dir)
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| format!("file://{}", dir.display()));
                Arc::new(LocalStash::new(dir, base))
            }
        };
        let services = Arc::new(Services {
            http: client(true)?,
            http_identity: client(false)?,
            policy: policy.clone(),
            cursors: self.cursors.unwrap_or_else(|| Arc::new(MemoryCursors::default())),
            stash,
            callback_base_url: self.callback_base_url,
        });
        let slots = tokio::sync::Semaphore::new(self.pool.instances as usize);
        Ok(Host {
            inner: Arc::new(HostInner {
                runtime,
                cache,
                stamps: FileStamps::default(),
                recent: Mutex::default(),
                policy,
                services,
                slots,
            }),
        })
    }
}

/// Host-wide services the capabilities use.
pub(crate) struct Services {
    pub(crate) http: reqwest::Client,
    pub(crate) http_identity: reqwest::Client,
    pub(crate) policy: Arc<Policy>,
    pub(crate) cursors: Arc<dyn CursorStore>,
    pub(crate) stash: Arc<dyn StashStore>,
    pub(crate) callback_base_url: Option<String>,
}

pub(crate) struct HostInner {
    pub(crate) runtime: Runtime,
    cache: ComponentCache,
    /// With a cache: which content each loaded file held.
    stamps: FileStamps,
    /// With a cache: the components this host loaded last, linked and with
    /// their definitions; loading the same bytes again shares them.
    recent: Mutex<RecentComponents>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) services: Arc<Services>,
    /// One permit per pool slot: a call waits for a slot rather than fail
    /// when every instance is in use.
    pub(crate) slots: tokio::sync::Semaphore,
}

/// Runs integrations. One per process: it owns the engine every app shares.
/// Cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl Host {
    /// A builder with the defaults.
    pub fn builder() -> HostBuilder {
        HostBuilder {
            policy: Policy::default(),
            pool: PoolConfig::default(),
            cache_dir: None,
            cursors: None,
            stash: None,
            callback_base_url: None,
            resolver: None,
        }
    }

    /// The policy calls run under.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Whether instances come from the pooling allocator (false when its
    /// address space could not be reserved and the host fell back to
    /// on-demand allocation).
    pub fn is_pooling(&self) -> bool {
        self.inner.runtime.pooling
    }

    /// Load a component from a file.
    ///
    /// With a cache directory, a file loaded before and unchanged since
    /// (same inode, length, mtime and ctime) is not read again.
    pub async fn load_file(&self, path: impl AsRef<Path>) -> Result<App, LoadError> {
        let started = Instant::now();
        // An unchanged file this host loaded lately costs a stat and a
        // lookup: done here, without a round trip to the blocking pool.
        if let Some(found) = self.inner.find_recent_file(path.as_ref()) {
            return self.finish_load(started, found).await;
        }
        let path = path.as_ref().to_path_buf();
        let inner = self.inner.clone();
        let found = tokio::task::spawn_blocking(move || inner.find_file(&path))
            .await
            .map_err(|e| LoadError::Engine(format!("the load task failed: {e}")))??;
        self.finish_load(started, found).await
    }

    /// Load a component from its bytes: compile it (or map in the cached
    /// artifact), link it, and read its definition.
    pub async fn load_bytes(&self, bytes: impl Into<Vec<u8>>) -> Result<App, LoadError> {
        let started = Instant::now();
        let bytes: Vec<u8> = bytes.into();
        let inner = self.inner.clone();
        // Hashing and compiling are CPU work (compiling for tens of
        // milliseconds): keep them off the async workers.
        let found = tokio::task::spawn_blocking(move || {
            let digest = hex::encode(Sha256::digest(&bytes));
            inner.find(digest, &bytes)
        })
        .await
        .map_err(|e| LoadError::Engine(format!("the load task failed: {e}")))??;
        self.finish_load(started, found).await
    }

    /// Link what `find` found and read its definition (from the cache or
    /// from the component).
    async fn finish_load(&self, started: Instant, found: Found) -> Result<App, LoadError> {
        let (digest, cached) = match found {
            Found::Recent { digest, linked } => {
                let load = LoadInfo { cache: CacheUse::Hit, duration: started.elapsed(), digest, cache_warning: None };
                let loaded = Loaded::new(self.inner.clone(), linked.pre, linked.definition, load);
                return Ok(App { loaded: Arc::new(loaded), env: Arc::default(), secret_env: Arc::default() });
            }
            Found::Component { digest, cached } => (digest, cached),
        };
        let Cached { component, cache, definition: stored, mut warning } = cached;
        let pre = self
            .inner
            .runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport(error_chain(&e)))?;
        let pre = bindings::AppPre::new(pre)
            .and_then(|pre| bindings::Exports::new(&pre))
            .map_err(|e| LoadError::WrongWorld(error_chain(&e)))?;
        let stored = stored.and_then(|text| match Definition::parse(&text) {
            Ok(definition) => Some(definition),
            Err(e) => {
                warning = Some(format!("the cached definition of {digest} is unusable ({e}); read again"));
                None
            }
        });
        let definition = match stored {
            Some(definition) => definition,
            None => {
                let json = invoke::read_definition(&self.inner, &pre)
                    .await
                    .map_err(|e| LoadError::Definition(e.to_string()))?;
                let definition = Definition::parse(&json)?;
                if self.inner.cache.is_enabled() {
                    let inner = self.inner.clone();
                    let digest = digest.clone();
                    let _ = tokio::task::spawn_blocking(move || inner.cache.store_definition(&digest, &json)).await;
                }
                definition
            }
        };
        let definition = Arc::new(definition);
        if self.inner.cache.is_enabled() {
            let linked = Linked { pre: pre.clone(), definition: definition.clone() };
            self.inner.recent.lock().unwrap_or_else(|e| e.into_inner()).insert(&digest, linked);
        }
        let load = LoadInfo { cache, duration: started.elapsed(), digest, cache_warning: warning };
        let loaded = Loaded::new(self.inner.clone(), pre, definition, load);
        Ok(App { loaded: Arc::new(loaded), env: Arc::default(), secret_env: Arc::default() })
    }
}

/// What a load found before linking.
enum Found {
    /// The same bytes, loaded by this host a moment ago.
    Recent { digest: String, linked: Linked },
    /// A compiled component, from the cache or the compiler.
    Component { digest: String, cached: Cached },
}

impl HostInner {
    /// The app of `path` still held, when the file is unchanged since it
    /// was loaded (its stamp matches).
    fn find_recent_file(&self, path: &Path) -> Option<Found> {
        let before = FileStamp::of(&std::fs::metadata(path).ok()?)?;
        let digest = self.stamps.digest(path, &before)?;
        let linked = self.recently_loaded(&digest)?;
        Some(Found::Recent { digest, linked })
    }

    /// `find` for a file, skipping the read and the hash when the file is
    /// unchanged since this host last loaded it. Blocking.
    fn find_file(&self, path: &Path) -> Result<Found, LoadError> {
        let read_error = |source| LoadError::Read { path: path.to_path_buf(), source };
        let stamp = |file: &std::fs::File| file.metadata().ok().as_ref().and_then(FileStamp::of);
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let before = if self.cache.is_enabled() { stamp(&file) } else { None };
        if let Some(digest) = before.as_ref().and_then(|before| self.stamps.digest(path, before)) {
            if let Some(linked) = self.recently_loaded(&digest) {
                return Ok(Found::Recent { digest, linked });
            }
            if let Ok(cached) = self.cache.load_compiled(&self.runtime.engine, &digest) {
                return Ok(Found::Component { digest, cached });
            }
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(read_error)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let (Some(before), Some(after)) = (&before, stamp(&file)) {
            self.stamps.remember(path, before, &after, &digest);
        }
        self.find(digest, &bytes)
    }

    /// An app of these bytes still held, the artifact on disk, or the
    /// compiler's output. Blocking.
    fn find(&self, digest: String, bytes: &[u8]) -> Result<Found, LoadError> {
        if let Some(linked) = self.recently_loaded(&digest) {
            return Ok(Found::Recent { digest, linked });
        }
        let cached = self.cache.load(&self.runtime.engine, bytes, &digest)?;
        Ok(Found::Component { digest, cached })
    }

    fn recently_loaded(&self, digest: &str) -> Option<Linked> {
        if !self.cache.is_enabled() {
            return None;
        }
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).get(digest)
    }
}

/// A component linked, with its definition: what loads of the same bytes share.
#[derive(Clone)]
struct Linked {
    pre: bindings::Exports,
    definition: Arc<Definition>,
}

/// The components a host loaded last, so loading one again (an embedder
/// that loads per request, a reload of an unchanged file) costs a lookup
/// instead of mapping the artifact in, linking and parsing the definition
/// (~0.3 ms). Each entry keeps its compiled code mapped and its metadata in
/// memory (a few hundred KiB for a 300 KB component) until it is pushed out.
#[derive(Default)]
struct RecentComponents {
    uses: u64,
    by_digest: HashMap<String, (u64, Linked)>,
}

impl RecentComponents {
    /// Components kept at most; the least recently loaded goes first.
    const MOST: usize = 16;

    fn get(&mut self, digest: &str) -> Option<Linked> {
        self.uses += 1;
        let (used, linked) = self.by_digest.get_mut(digest)?;
        *used = self.uses;
        Some(linked.clone())
    }

    fn insert(&mut self, digest: &str, linked: Linked) {
        self.uses += 1;
        if self.by_digest.len() >= Self::MOST && !self.by_digest.contains_key(digest) {
            let oldest = self.by_digest.iter().min_by_key(|(_, (used, _))| *used).map(|(d, _)| d.clone());
            if let Some(oldest) = oldest {
                self.by_digest.remove(&oldest);
            }
        }
        self.by_digest.insert(digest.to_string(), (self.uses, linked));
    }
}

/// How a component was loaded.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Whether the compiled-component cache was used.
    pub cache: CacheUse,
    /// Time to compile or map in, link, and read the definition.
    pub duration: Duration,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Why an entry of the cache was not used, when one was there but
    /// damaged (the component was compiled again, or its definition read
    /// again, and the entry replaced).
    pub cache_warning: Option<String>,
}

pub(crate) struct Loaded {
    pub(crate) host: Arc<HostInner>,
    pub(crate) pre: bindings::Exports,
    pub(crate) definition: Arc<Definition>,
    load: LoadInfo,
    /// The censor of the last call, by its secrets: calls of the same
    /// account in a row share one instead of each building its automaton.
    last_censor: Mutex<Option<(Vec<String>, Arc<Censor>)>>,
}

impl Loaded {
    fn new(host: Arc<HostInner>, pre: bindings::Exports, definition: Arc<Definition>, load: LoadInfo) -> Loaded {
        Loaded { host, pre, definition, load, last_censor: Mutex::default() }
    }

    /// The censor for `secrets` (from [`Censor::secrets`]).
    pub(crate) fn censor_for(&self, secrets: Vec<String>) -> Arc<Censor> {
        if secrets.is_empty() {
            return Arc::new(Censor::default());
        }
        let lock = || self.last_censor.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, censor)) = lock().as_ref()
            && *known == secrets
        {
            return censor.clone();
        }
        // Built outside the lock: calls of other accounts do not wait on it.
        let censor = Arc::new(Censor::for_secrets(secrets.clone()));
        *lock() = Some((secrets, censor.clone()));
        censor
    }
}

/// A loaded integration, ready to run. Cheap to clone; share it across tasks.
#[derive(Clone)]
pub struct App {
    pub(crate) loaded: Arc<Loaded>,
    pub(crate) env: Arc<Vec<(String, String)>>,
    pub(crate) secret_env: Arc<Vec<String>>,
}

impl App {
    /// The integration's definition.
    pub fn definition(&self) -> &Definition {
        &self.loaded.definition
    }

    /// How it was loaded.
    pub fn load_info(&self) -> &LoadInfo {
        &self.loaded.load
    }

    /// The same app with this environment (what the guest reads through
    /// wasi:cli/environment). Nothing else of the host's environment is visible.
    pub fn with_env<K: Into<String>, V: Into<String>>(mut self, env: impl IntoIterator<Item = (K, V)>) -> App {
        self.env = Arc::new(env.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// Mark environment variables as secret: their values are censored in
    /// every log line, exchange record and error.
    pub fn with_secret_env<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> App {
        self.secret_env = Arc::new(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Run one method in a fresh instance. When it raises
    /// RefreshAuthError and the app can refresh its credentials (session
    /// auth, or OAuth 2 with refreshAccessToken), the host refreshes once and
    /// retries once; [`Outcome::auth_data`] then holds the new authData.
    pub async fn invoke(&self, invocation: Invocation) -> Outcome {
        crate::auth::refresh::invoke(self, invocation).await
    }

    /// The connection label of an account: runs `authentication.test`, then
    /// renders `connectionLabel` (a template over the test result and
    /// authData, or a function given the test result as inputData). The
    /// result is the label as a JSON string.
    pub async fn connection_label(&self, invocation: Invocation) -> Outcome {
        let test = Invocation { method: "authentication.test".into(), ..invocation };
        let mut outcome = self.invoke(test.clone()).await;
        let Ok(result) = outcome.result.as_ref().map(crate::Json::value) else { return outcome };
        let auth_data = outcome.auth_data.clone().unwrap_or_else(|| test.bundle.auth_data.clone());
        match self.definition().get("authentication.connectionLabel") {
            Some(serde_json::Value::String(template)) => {
                outcome.result =
                    Ok(serde_json::Value::from(crate::auth::label::render(template, &result, &auth_data)).into());
                outcome
            }
            Some(_) if self.definition().has_method("authentication.connectionLabel") => {
                let mut bundle = test.bundle;
                bundle.auth_data = auth_data;
                bundle.input_data = result.as_object().cloned().unwrap_or_default();
                let label = Invocation { method: "authentication.connectionLabel".into(), bundle, ..test };
                let mut labelled = self.invoke(label).await;
                let mut logs = outcome.logs;
                logs.append(&mut labelled.logs);
                let mut http = outcome.http;
                http.append(&mut labelled.http);
                Outcome { logs, http, auth_data: outcome.auth_data.or(labelled.auth_data), ..labelled }
            }
            _ => {
                outcome.result = Ok(crate::Json::from(""));
                outcome
            }
        }
    }
}
