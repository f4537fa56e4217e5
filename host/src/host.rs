//! The embedding API: [`Host`], built by [`HostBuilder`], loads [`App`]s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::bindings;
use crate::cache::{CacheUse, ComponentCache, error_chain};
use crate::definition::Definition;
use crate::egress::{PolicyResolver, Resolver, SystemResolver};
use crate::error::LoadError;
use crate::invoke::{self, Invocation, Outcome};
use crate::policy::Policy;
use crate::pool::PoolConfig;
use crate::runtime::Runtime;
use crate::sandbox::Sandbox;
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
        Ok(Host { inner: Arc::new(HostInner { runtime, cache, policy, services, slots }) })
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
    pub async fn load_file(&self, path: impl AsRef<Path>) -> Result<App, LoadError> {
        let path = path.as_ref();
        let bytes =
            tokio::fs::read(path).await.map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        self.load_bytes(bytes).await
    }

    /// Load a component from its bytes: compile it (or map in the cached
    /// artifact), link it, and read its definition.
    pub async fn load_bytes(&self, bytes: impl Into<Vec<u8>>) -> Result<App, LoadError> {
        let started = Instant::now();
        let bytes: Vec<u8> = bytes.into();
        let digest = hex::encode(Sha256::digest(&bytes));
        let inner = self.inner.clone();
        // Compiling is CPU work for tens of milliseconds: keep it off the
        // async workers.
        let (component, cache) = tokio::task::spawn_blocking({
            let digest = digest.clone();
            move || inner.cache.load(&inner.runtime.engine, &bytes, &digest)
        })
        .await
        .map_err(|e| LoadError::Engine(format!("the compile task failed: {e}")))??;
        let pre = self
            .inner
            .runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport(error_chain(&e)))?;
        let pre = bindings::AppPre::new(pre).map_err(|e| LoadError::WrongWorld(error_chain(&e)))?;
        let definition_json =
            invoke::read_definition(&self.inner, &pre).await.map_err(|e| LoadError::Definition(e.to_string()))?;
        let definition = Definition::parse(&definition_json)?;
        let load = LoadInfo { cache, duration: started.elapsed(), digest };
        Ok(App {
            loaded: Arc::new(Loaded { host: self.inner.clone(), pre, definition: Arc::new(definition), load }),
            env: Arc::default(),
            secret_env: Arc::default(),
        })
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
}

pub(crate) struct Loaded {
    pub(crate) host: Arc<HostInner>,
    pub(crate) pre: bindings::AppPre<Sandbox>,
    pub(crate) definition: Arc<Definition>,
    load: LoadInfo,
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
        let Ok(result) = &outcome.result else { return outcome };
        let auth_data = outcome.auth_data.clone().unwrap_or_else(|| test.bundle.auth_data.clone());
        match self.definition().get("authentication.connectionLabel") {
            Some(serde_json::Value::String(template)) => {
                outcome.result = Ok(crate::auth::label::render(template, result, &auth_data).into());
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
                outcome.result = Ok(serde_json::Value::String(String::new()));
                outcome
            }
        }
    }
}
