//! From a [`Config`] to a running service: check it, bind the listener,
//! build the host on the state directory, load the apps, then serve until
//! told to stop, and stop gracefully (what `zapwasm serve` runs).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use zapwasm_host::{HostPattern, Policy};

use crate::config::{Config, valid_name};
use crate::crypto::{key_file, parse_key};
use crate::service::{Retention, Service, ServiceState, Settings};
use crate::{ServeError, router};

/// A service bound to its address, ready to [`run`](Server::run).
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    service: Service,
    grace: Duration,
}

fn config_error(message: impl Into<String>) -> ServeError {
    ServeError::Config(message.into())
}

fn read_secret(path: &PathBuf, what: &str) -> Result<String, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| config_error(format!("{what} {}: {e}", path.display())))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(config_error(format!("{what} {} is empty", path.display())));
    }
    Ok(text)
}

impl Server {
    /// Check `config`, bind its address, open its state, build the host and
    /// load its apps. Nothing is served until [`Server::run`].
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let listen = config.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| config_error(format!("listen: {listen:?} is not an address like 127.0.0.1:8080")))?;
        if config.dev && !listen.ip().is_loopback() {
            return Err(config_error(format!(
                "--dev listens on loopback only (127.0.0.1 or [::1]), not {listen}; without --dev set a control token"
            )));
        }
        let control_token = match (&config.control_token, &config.control_token_file) {
            (Some(token), _) if !token.trim().is_empty() => Some(token.trim().to_string()),
            (_, Some(path)) => Some(read_secret(path, "control_token_file")?),
            _ => None,
        };
        if control_token.is_none() && !config.dev {
            return Err(config_error(
                "the control API needs a token: set control_token_file or ZAPWASM_CONTROL_TOKEN (or run with --dev on loopback)",
            ));
        }
        for name in config.apps.keys() {
            if !valid_name(name) {
                return Err(config_error(format!("apps.{name}: a name is 1 to 64 letters, digits, '-' or '_'")));
            }
        }
        let state_dir = config.state_dir.clone().unwrap_or_else(|| PathBuf::from(".zapwasm"));
        std::fs::create_dir_all(&state_dir)
            .map_err(|e| config_error(format!("state_dir {}: cannot create it: {e}", state_dir.display())))?;
        let master_key = match (&config.secret_key, &config.secret_key_file) {
            (Some(key), _) => parse_key(key)?,
            (None, Some(path)) => parse_key(&read_secret(path, "secret_key_file")?)?,
            (None, None) if config.dev => key_file(&state_dir.join("secret.key"))?,
            (None, None) => {
                return Err(config_error(
                    "credentials are sealed with a master key: set secret_key_file or ZAPWASM_SECRET_KEY \
                     (`openssl rand -base64 32`), or run with --dev",
                ));
            }
        };
        let policy = policy(&config)?;
        let retention = retention(&config)?;
        // Before listening: a second process on this state directory says
        // so, rather than that its address is in use.
        let state = ServiceState::open(&state_dir, &master_key)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen { addr: listen.to_string(), source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen { addr: listen.to_string(), source })?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        match url::Url::parse(&public_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
            _ => return Err(config_error(format!("public_url: {public_url:?} is not an http(s) URL"))),
        }
        let mut builder = state.host_builder(&public_url).policy(policy).stash_url_lifetime(retention.files);
        if !config.no_cache
            && let Some(dir) = config.cache_dir.clone().or_else(default_cache_dir)
        {
            builder = builder.cache_dir(dir);
        }
        let host = builder.build().map_err(|e| ServeError::State(crate::service::with_causes(&e)))?;
        let mut settings = Settings::new(public_url);
        settings.control_token = control_token;
        let limits = &config.limits;
        let positive = |name: &str, value: Option<u64>, default: u64| match value {
            Some(0) => Err(config_error(format!("{name} must be at least 1"))),
            Some(value) => Ok(value),
            None => Ok(default),
        };
        settings.max_body_bytes = positive("limits.max_body_bytes", limits.max_body_bytes, settings.max_body_bytes)?;
        settings.max_hook_body_bytes =
            positive("limits.max_hook_body_bytes", limits.max_hook_body_bytes, settings.max_hook_body_bytes)?;
        settings.max_component_bytes =
            positive("limits.max_component_bytes", limits.max_component_bytes, settings.max_component_bytes)?;
        settings.max_calls_in_flight = positive(
            "limits.max_calls_in_flight",
            limits.max_calls_in_flight.map(|n| n as u64),
            settings.max_calls_in_flight as u64,
        )? as usize;
        settings.max_queue_depth =
            positive("limits.max_queue_depth", limits.max_queue_depth, settings.max_queue_depth)?;
        settings.workers = config.queue.workers.unwrap_or(settings.workers);
        settings.max_attempts =
            positive("queue.max_attempts", config.queue.max_attempts.map(u64::from), u64::from(settings.max_attempts))?
                as u32;
        if let Some(seconds) = config.queue.default_poll_interval_seconds {
            settings.default_poll_interval =
                Duration::from_secs(positive("queue.default_poll_interval_seconds", Some(seconds), 1)?);
        }
        settings.retention = retention;
        let service = Service::new(host, state, settings);
        for (name, app) in &config.apps {
            let env = app.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let path = app.path.to_string_lossy().into_owned();
            service.serve_app(name, &path, env, app.secret_env.clone()).await?;
        }
        let grace = Duration::from_secs(config.shutdown_grace_seconds.unwrap_or(30));
        Ok(Server { listener, addr, service, grace })
    }

    /// The address listened on (with the port taken when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Serve until `shutdown` resolves, then stop: no new connections,
    /// requests and jobs in flight finish (up to the grace period), queued
    /// work stays in the state directory for the next start.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let Server { listener, service, grace, .. } = self;
        let workers = service.start().await?;
        let app = router(service.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tokio::pin!(shutdown);
        let ended = tokio::select! {
            _ = &mut shutdown => None,
            ended = &mut server => Some(ended),
        };
        if let Some(ended) = ended {
            workers.shutdown(grace).await;
            return match ended {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ServeError::Server(e.to_string())),
                Err(e) => Err(ServeError::Server(e.to_string())),
            };
        }
        tracing::info!(grace_s = grace.as_secs(), "stopping: finishing the work in flight");
        service.begin_shutdown();
        let _ = stop.send(());
        let deadline = tokio::time::Instant::now() + grace;
        if tokio::time::timeout_at(deadline, &mut server).await.is_err() {
            tracing::warn!("requests still running at the end of the grace period are dropped");
            server.abort();
        }
        workers.shutdown(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn policy(config: &Config) -> Result<Policy, ServeError> {
    let given = &config.policy;
    let allowed_hosts = given
        .allowed_hosts
        .iter()
        .map(|p| HostPattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(config_error)?;
    let mut policy = Policy {
        allow_loopback: given.allow_loopback,
        allow_private: given.allow_private,
        allow_http: given.allow_http || given.allow_loopback,
        allowed_hosts,
        ..Policy::default()
    };
    if let Some(seconds) = given.timeout_seconds {
        policy.limits.timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| config_error(format!("policy.timeout_seconds must be a positive number, got {seconds}")))?;
    }
    if let Some(mb) = given.memory_mb {
        policy.limits.memory_bytes = mb
            .checked_mul(1 << 20)
            .filter(|b| *b > 0)
            .ok_or_else(|| config_error(format!("policy.memory_mb must be from 1 to 2^44, got {mb}")))?;
    }
    Ok(policy)
}

/// `[retention]` over the defaults: each a positive number of its unit.
fn retention(config: &Config) -> Result<Retention, ServeError> {
    let given = &config.retention;
    let mut retention = Retention::default();
    let set = |slot: &mut Duration, name: &str, value: Option<f64>, unit: f64| -> Result<(), ServeError> {
        let Some(value) = value else { return Ok(()) };
        *slot = Duration::try_from_secs_f64(value * unit)
            .ok()
            .filter(|d| !d.is_zero() && value > 0.0)
            .ok_or_else(|| config_error(format!("retention.{name} must be a positive number, got {value}")))?;
        Ok(())
    };
    const DAY: f64 = 24.0 * 3600.0;
    set(&mut retention.jobs, "jobs_days", given.jobs_days, DAY)?;
    set(&mut retention.invocations, "invocations_days", given.invocations_days, DAY)?;
    set(&mut retention.events, "events_days", given.events_days, DAY)?;
    set(&mut retention.idempotency_keys, "idempotency_hours", given.idempotency_hours, 3600.0)?;
    set(&mut retention.files, "files_days", given.files_days, DAY)?;
    set(&mut retention.interval, "prune_interval_seconds", given.prune_interval_seconds, 1.0)?;
    Ok(retention)
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("zapwasm"))
}
