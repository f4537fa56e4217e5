//! The embedding API's entry: [`Host`], built by [`HostBuilder`], loads
//! components into [`App`]s (compiling or mapping in the cached artifact,
//! linking, reading the definition), and keeps the last ones it loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::app::{App, LoadInfo};
use crate::bindings;
use crate::cache::{CacheUse, Cached, ComponentCache, FileStamp, FileStamps};
use crate::capability::stash::StashError;
use crate::definition::Definition;
use crate::definition_checks::{Finding, check_definition};
use crate::egress::{Resolver, SystemResolver};
use crate::error::LoadError;
use crate::invoke::{self, Loaded, Runner};
use crate::policy::Policy;
use crate::pool::PoolConfig;
use crate::runtime::Runtime;
use crate::services::{Services, Signing};
use crate::state::{STASH_URL_LIFETIME, StashedDownload, Stores};

/// Builds a [`Host`]. Every setting has a default fit for local use.
pub struct HostBuilder {
    policy: Policy,
    pool: PoolConfig,
    cache_dir: Option<PathBuf>,
    stores: Stores,
    callback_base_url: Option<String>,
    hook_base_url: Option<String>,
    resolver: Option<Arc<dyn Resolver>>,
    hydration_secret: Option<Vec<u8>>,
    stash_secret: Option<Vec<u8>>,
    stash_url_lifetime: Duration,
    user_agent: String,
}

/// The user agent a host sends unless its embedder sets one.
const DEFAULT_USER_AGENT: &str = concat!("zapwasm/", env!("CARGO_PKG_VERSION"));

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

    /// Where state that outlives a call is kept. Default: [`Stores::memory`]
    /// (everything in memory, stashed files in the temporary directory).
    pub fn stores(mut self, stores: Stores) -> HostBuilder {
        self.stores = stores;
        self
    }

    /// The base of the URLs `z.generateCallbackUrl` returns; the
    /// invocation's ID is appended. Default: none (the call gets an error).
    pub fn callback_base_url(mut self, url: impl Into<String>) -> HostBuilder {
        self.callback_base_url = Some(url.into());
        self
    }

    /// The base of REST hook target URLs ([`App::subscribe_hook`](crate::App::subscribe_hook)
    /// appends the subscription's ID): the address of the embedder's hook
    /// receiver. Default: none (subscribing a hook trigger is refused).
    pub fn hook_base_url(mut self, url: impl Into<String>) -> HostBuilder {
        self.hook_base_url = Some(url.into());
        self
    }

    /// How host names are resolved for outbound requests. Default: the
    /// system resolver. Every address is checked against the policy either way.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> HostBuilder {
        self.resolver = Some(resolver);
        self
    }

    /// Sign dehydrated values with this secret. Default: none.
    ///
    /// With a secret, every `z.dehydrate` and `z.dehydrateFile` string in a
    /// call's result leaves the call signed,
    /// `hydrate|||<base64 of the JSON>:<base64 of the HMAC-SHA1 of that base64>|||hydrate`,
    /// and [`App::hydrate`](crate::App::hydrate) refuses a string that is
    /// unsigned or whose signature does not match: whoever passes a string
    /// back (a user, a step's input) cannot make the host call a hydrator
    /// with inputData of their choosing. The HMAC key is the integration's
    /// own, HMAC-SHA256(secret, the scope's integration ID), as each app
    /// of the reference platform signs with a secret of its own: a string
    /// one integration made does not hydrate in another.
    ///
    /// Without one, strings stay as the integration wrote them, and
    /// hydrate as they come (local use, tests).
    ///
    /// Use at least 32 random bytes, the same in every process that
    /// hydrates what another made, kept across restarts.
    ///
    /// # Panics
    ///
    /// If `secret` is empty.
    pub fn hydration_secret(mut self, secret: impl Into<Vec<u8>>) -> HostBuilder {
        let secret = secret.into();
        assert!(!secret.is_empty(), "the hydration secret is empty");
        self.hydration_secret = Some(secret);
        self
    }

    /// Sign the tokens of stash URLs with this secret (HMAC-SHA256).
    /// Default: 32 random bytes made when the host is built, so a URL opens
    /// only in the process that made it, and stops opening when it exits.
    /// Set one (at least 32 random bytes, the same in every process) for
    /// URLs that outlive a restart or are served by another process.
    ///
    /// A stash URL is `<base>/files/<token>`, the token
    /// `<file ID>.<expiry, Unix seconds>.<signature>`: the ID is 128
    /// random bits, the signature (base64url) covers the ID and the expiry.
    /// [`Host::open_stashed`] opens it.
    ///
    /// # Panics
    ///
    /// If `secret` is empty.
    pub fn stash_secret(mut self, secret: impl Into<Vec<u8>>) -> HostBuilder {
        let secret = secret.into();
        assert!(!secret.is_empty(), "the stash secret is empty");
        self.stash_secret = Some(secret);
        self
    }

    /// How long a stash URL opens after `z.stashFile` made it. Default:
    /// [`STASH_URL_LIFETIME`] (7 days). A file outlives its URL in the
    /// store until the store removes it.
    pub fn stash_url_lifetime(mut self, lifetime: Duration) -> HostBuilder {
        self.stash_url_lifetime = lifetime;
        self
    }

    /// The `User-Agent` every request carries unless the integration sends
    /// its own. Default: `zapwasm/<version>`, so an API's operator sees which
    /// runtime calls it; an embedder names its own service instead (and may
    /// keep the runtime in it, e.g. `acme-automations/2.1 zapwasm/0.1.0`).
    ///
    /// [`HostBuilder::build`] fails with [`LoadError::Engine`] if the value
    /// cannot be a header value (a control character, a newline).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> HostBuilder {
        self.user_agent = user_agent.into();
        self
    }

    /// Build the host: the engine, the linker and the HTTP clients.
    pub fn build(self) -> Result<Host, LoadError> {
        let runtime = Runtime::new(&self.pool)?;
        let cache = ComponentCache::new(&runtime.engine, self.cache_dir);
        let policy = Arc::new(self.policy);
        let resolver = self.resolver.unwrap_or_else(|| Arc::new(SystemResolver));
        let signing = Signing::new(self.hydration_secret, self.stash_secret, self.stash_url_lifetime).map_err(|e| {
            LoadError::Engine { what: "the system gave no randomness for the stash key", source: e.to_string().into() }
        })?;
        let services = Services::new(
            policy.clone(),
            resolver,
            self.stores,
            self.callback_base_url,
            self.hook_base_url,
            signing,
            &self.user_agent,
        )
        .map_err(|e| LoadError::Engine { what: "cannot build the HTTP client", source: e.into() })?;
        let slots = tokio::sync::Semaphore::new(self.pool.instances as usize);
        let runner = Arc::new(Runner { runtime, services: Arc::new(services), slots });
        Ok(Host {
            inner: Arc::new(HostInner {
                runner,
                cache,
                stamps: FileStamps::default(),
                recent: Mutex::default(),
                policy,
            }),
        })
    }
}

struct HostInner {
    runner: Arc<Runner>,
    cache: ComponentCache,
    /// With a cache: which content each loaded file held.
    stamps: FileStamps,
    /// With a cache: the components this host loaded last, linked and with
    /// their definitions; loading the same bytes again shares them.
    recent: Mutex<RecentComponents>,
    policy: Arc<Policy>,
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
            stores: Stores::memory(),
            callback_base_url: None,
            hook_base_url: None,
            resolver: None,
            hydration_secret: None,
            stash_secret: None,
            stash_url_lifetime: STASH_URL_LIFETIME,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }

    /// The policy calls run under.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The stores this host keeps state in.
    pub fn stores(&self) -> &Stores {
        &self.inner.runner.services.stores
    }

    /// The stashed file a stash URL's token names, opened for streaming:
    /// what a `GET /files/{token}` receiver sends (name, content type,
    /// length, bytes). Refused, each its own [`StashError`]: a token this
    /// host did not sign or that was altered (the signature is compared in
    /// constant time), one past its expiry, one whose file is gone.
    pub async fn open_stashed(&self, token: &str) -> Result<StashedDownload, StashError> {
        crate::capability::stash::open(&self.inner.runner.services, token).await
    }

    /// Whether instances come from the pooling allocator (false when its
    /// address space could not be reserved and the host fell back to
    /// on-demand allocation).
    pub fn is_pooling(&self) -> bool {
        self.inner.runner.runtime.pooling
    }

    /// Load a component from a file (as [`Host::load_bytes`], the
    /// definition checks included).
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
            .map_err(|e| LoadError::Engine { what: "the load task failed", source: e.into() })??;
        self.finish_load(started, found).await
    }

    /// Load a component from its bytes: compile it (or map in the cached
    /// artifact), link it, read its definition, and run the definition
    /// checks on it ([`App::findings`]; a load does not fail on them).
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
        .map_err(|e| LoadError::Engine { what: "the load task failed", source: e.into() })??;
        self.finish_load(started, found).await
    }

    /// Link what `find` found and read its definition (from the cache or
    /// from the component).
    async fn finish_load(&self, started: Instant, found: Found) -> Result<App, LoadError> {
        let (digest, cached) = match found {
            Found::Recent { digest, linked } => {
                let load = LoadInfo {
                    cache: CacheUse::Hit,
                    duration: started.elapsed(),
                    digest,
                    cache_warning: None,
                    findings: linked.findings,
                };
                let loaded = Loaded::new(self.inner.runner.clone(), linked.pre, linked.definition);
                return Ok(App::new(Arc::new(loaded), load));
            }
            Found::Component { digest, cached } => (digest, cached),
        };
        let Cached { component, cache, definition: stored, mut warning } = cached;
        let pre = self
            .inner
            .runner
            .runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport { source: e.into() })?;
        let pre = bindings::AppPre::new(pre)
            .and_then(|pre| bindings::Exports::new(&pre))
            .map_err(|e| LoadError::WrongWorld { source: e.into() })?;
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
                let json = invoke::read_definition(&self.inner.runner, &pre)
                    .await
                    .map_err(|source| LoadError::DefinitionCall { source })?;
                let definition = Definition::parse(&json)?;
                if self.inner.cache.is_enabled() {
                    let inner = self.inner.clone();
                    let digest = digest.clone();
                    let _ = tokio::task::spawn_blocking(move || inner.cache.store_definition(&digest, &json)).await;
                }
                definition
            }
        };
        // Checked on every load (not kept in the cache): a newer host may
        // check more than the one that filled the cache.
        let findings: Arc<[Finding]> = check_definition(&definition).into();
        let definition = Arc::new(definition);
        if self.inner.cache.is_enabled() {
            let linked = Linked { pre: pre.clone(), definition: definition.clone(), findings: findings.clone() };
            self.inner.recent.lock().unwrap_or_else(|e| e.into_inner()).insert(&digest, linked);
        }
        let load = LoadInfo { cache, duration: started.elapsed(), digest, cache_warning: warning, findings };
        let loaded = Loaded::new(self.inner.runner.clone(), pre, definition);
        Ok(App::new(Arc::new(loaded), load))
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
            if let Ok(cached) = self.cache.load_compiled(&self.runner.runtime.engine, &digest) {
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
        let cached = self.cache.load(&self.runner.runtime.engine, bytes, &digest)?;
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
    findings: Arc<[Finding]>,
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
