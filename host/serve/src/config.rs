//! The configuration of `zapwasm serve`: a TOML file ([`EXAMPLE_CONFIG`]
//! is a complete one), then `ZAPWASM_*` environment variables over it,
//! then the command line's flags over both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ServeError;

/// A complete configuration, every setting with its default or an
/// example value (what `zapwasm serve --help` and the README show).
pub const EXAMPLE_CONFIG: &str = r#"# zapwasm serve --config zapwasm.toml
# Relative paths are relative to this file. Every setting can be left out.

# Where to listen. `127.0.0.1:0` takes a free port (printed on start).
listen = "127.0.0.1:8080"                    # ZAPWASM_LISTEN
# What hook, callback and file URLs start with: how the service is
# reached from outside. Default: http://<the address listened on>.
public_url = "https://zapwasm.example.com"   # ZAPWASM_PUBLIC_URL
# The state: state.sqlite3 (cursors, callbacks, dedupe, subscriptions),
# service.sqlite3 (connections, invocations, events, the queue), stash/.
state_dir = "/var/lib/zapwasm"               # ZAPWASM_STATE_DIR
# Compiled components. Default: the user's cache directory.
cache_dir = "/var/cache/zapwasm"             # ZAPWASM_CACHE_DIR
# The bearer token of the control API (/v1/*). Required unless `dev`.
control_token_file = "/etc/zapwasm/control-token"   # or control_token, ZAPWASM_CONTROL_TOKEN
# The master key (32+ random bytes, base64 or hex: `openssl rand -base64 32`):
# seals credentials at rest and signs file links. Required unless `dev`,
# which makes one in <state_dir>/secret.key.
secret_key_file = "/etc/zapwasm/secret-key"         # or secret_key, ZAPWASM_SECRET_KEY
# Local development: loopback only, no control token needed.
dev = false                                  # ZAPWASM_DEV
# How long a stop waits for calls and jobs in flight.
shutdown_grace_seconds = 30                  # ZAPWASM_SHUTDOWN_GRACE_SECONDS

[policy]            # what integrations may reach
allow_loopback = false                       # ZAPWASM_ALLOW_LOOPBACK (and plain http)
allow_private = false
allow_http = false
allowed_hosts = []                           # e.g. ["https://*.example.com"]
timeout_seconds = 30
memory_mb = 128

[limits]
max_body_bytes = 1048576                     # control API bodies
max_hook_body_bytes = 1048576                # hook deliveries and callback POSTs
max_component_bytes = 67108864               # a component uploaded to POST /v1/apps
max_calls_in_flight = 64                     # ZAPWASM_MAX_CALLS_IN_FLIGHT; then 503 + Retry-After
max_queue_depth = 100000                     # then receivers answer 503 + Retry-After

[queue]
workers = 2                                  # ZAPWASM_QUEUE_WORKERS; 0 keeps requests without running them
max_attempts = 8
default_poll_interval_seconds = 300

[retention]         # how long finished work is kept; unfinished work never goes
jobs_days = 7                                # finished queue jobs (done, given up, dropped)
invocations_days = 30                        # finished calls (GET /v1/invocations/ID) and their callbacks
events_days = 30                             # subscriptions' events (each subscription's newest is kept)
idempotency_hours = 24                       # Idempotency-Key answers
files_days = 7                               # stashed files, and how long their links open
prune_interval_seconds = 3600                # how often pruning runs (and once at start)

[apps.crm]          # served as /v1/apps/crm
path = "crm.wasm"
env = { CRM_BASE_URL = "https://api.crm.example" }
secret_env = []                              # env keys censored in logs
"#;

/// The whole configuration. Every field may be left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on. Default `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// What hook, callback and file URLs start with. Default
    /// `http://<the address listened on>`.
    pub public_url: Option<String>,
    /// The state directory. Default `.zapwasm`.
    pub state_dir: Option<PathBuf>,
    /// Where compiled components are cached. Default: the user's cache
    /// directory.
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled components.
    pub no_cache: bool,
    /// Local development: listen on loopback only, the control API needs
    /// no token, and a master key is made in the state directory.
    pub dev: bool,
    /// The control API's bearer token.
    pub control_token: Option<String>,
    /// A file holding the control token.
    pub control_token_file: Option<PathBuf>,
    /// The master key, base64 or hex.
    pub secret_key: Option<String>,
    /// A file holding the master key.
    pub secret_key_file: Option<PathBuf>,
    /// Seconds a stop waits for work in flight. Default 30.
    pub shutdown_grace_seconds: Option<u64>,
    /// What integrations may reach.
    pub policy: PolicyConfig,
    /// Body sizes and calls in flight.
    pub limits: LimitsConfig,
    /// The queue.
    pub queue: QueueConfig,
    /// How long finished work is kept.
    pub retention: RetentionConfig,
    /// The apps to serve, by name.
    pub apps: BTreeMap<String, AppConfig>,
}

/// `[policy]`: the egress policy and per-call limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// Allow loopback addresses (and plain http): development only.
    pub allow_loopback: bool,
    /// Allow private networks.
    pub allow_private: bool,
    /// Allow plain http to any host.
    pub allow_http: bool,
    /// Only these hosts (`scheme://host[:port]`, `*.` wildcards).
    pub allowed_hosts: Vec<String>,
    /// A call's wall-clock limit in seconds. Default 30.
    pub timeout_seconds: Option<f64>,
    /// A call's memory limit in MiB. Default 128.
    pub memory_mb: Option<u64>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Largest control API body. Default 1 MiB.
    pub max_body_bytes: Option<u64>,
    /// Largest hook delivery or callback POST. Default 1 MiB.
    pub max_hook_body_bytes: Option<u64>,
    /// Largest component uploaded to `POST /v1/apps`. Default 64 MiB.
    pub max_component_bytes: Option<u64>,
    /// Guest calls the control API runs at once. Default 64.
    pub max_calls_in_flight: Option<usize>,
    /// Queued deliveries before receivers answer 503. Default 100,000.
    pub max_queue_depth: Option<u64>,
}

/// `[queue]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Workers running queued deliveries, callbacks and polls. Default 2.
    pub workers: Option<usize>,
    /// Attempts before a delivery is given up. Default 8.
    pub max_attempts: Option<u32>,
    /// A polling subscription's interval when none is asked. Default 300.
    pub default_poll_interval_seconds: Option<u64>,
}

/// `[retention]`: how long finished work is kept (fractions allowed,
/// e.g. `events_days = 0.5`), pruned by a background task. Unfinished work
/// (queued jobs, unacknowledged polls, calls waiting for their callback) is
/// never pruned.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RetentionConfig {
    /// Finished queue jobs. Default 7 days.
    pub jobs_days: Option<f64>,
    /// Finished calls and their callbacks. Default 30 days.
    pub invocations_days: Option<f64>,
    /// Subscriptions' events. Default 30 days.
    pub events_days: Option<f64>,
    /// `Idempotency-Key` answers. Default 24 hours.
    pub idempotency_hours: Option<f64>,
    /// Stashed files, and how long their links open. Default 7 days.
    pub files_days: Option<f64>,
    /// How often pruning runs. Default 3600.
    pub prune_interval_seconds: Option<f64>,
}

/// `[apps.NAME]`: a component to serve as NAME.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AppConfig {
    /// The component (.wasm).
    pub path: PathBuf,
    /// The integration's environment.
    pub env: BTreeMap<String, String>,
    /// Environment keys whose values are censored in logs.
    pub secret_env: Vec<String>,
}

impl Config {
    /// The configuration in the TOML file at `path`; relative paths in it
    /// are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Config, ServeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Config(format!("cannot read {}: {e}", path.display())))?;
        let mut config = Config::from_toml(&text).map_err(|e| match e {
            ServeError::Config(message) => ServeError::Config(format!("{}: {message}", path.display())),
            other => other,
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        config.resolve(base);
        Ok(config)
    }

    /// The configuration in TOML `text` (relative paths as they are).
    pub fn from_toml(text: &str) -> Result<Config, ServeError> {
        toml::from_str(text).map_err(|e| ServeError::Config(e.to_string()))
    }

    fn resolve(&mut self, base: &Path) {
        let at = |path: &mut PathBuf| {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = base.join(&*path);
            }
        };
        for path in [
            self.state_dir.as_mut(),
            self.cache_dir.as_mut(),
            self.control_token_file.as_mut(),
            self.secret_key_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            at(path);
        }
        for app in self.apps.values_mut() {
            at(&mut app.path);
        }
    }

    /// Apply the `ZAPWASM_*` variables among `vars` over the file:
    /// `ZAPWASM_LISTEN`, `ZAPWASM_PUBLIC_URL`, `ZAPWASM_STATE_DIR`,
    /// `ZAPWASM_CACHE_DIR`, `ZAPWASM_CONTROL_TOKEN`, `ZAPWASM_SECRET_KEY`,
    /// `ZAPWASM_DEV`, `ZAPWASM_ALLOW_LOOPBACK`, `ZAPWASM_QUEUE_WORKERS`,
    /// `ZAPWASM_MAX_CALLS_IN_FLIGHT`, `ZAPWASM_SHUTDOWN_GRACE_SECONDS`.
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<(), ServeError> {
        for (key, value) in vars {
            let flag = || match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" | "" => Ok(false),
                _ => Err(ServeError::Config(format!("{key}: expected true or false, got {value:?}"))),
            };
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ServeError::Config(format!("{key}: expected a number, got {value:?}")))
            };
            match key.as_str() {
                "ZAPWASM_LISTEN" => self.listen = Some(value.clone()),
                "ZAPWASM_PUBLIC_URL" => self.public_url = Some(value.clone()),
                "ZAPWASM_STATE_DIR" => self.state_dir = Some(value.clone().into()),
                "ZAPWASM_CACHE_DIR" => self.cache_dir = Some(value.clone().into()),
                "ZAPWASM_CONTROL_TOKEN" => self.control_token = Some(value.clone()),
                "ZAPWASM_SECRET_KEY" => self.secret_key = Some(value.clone()),
                "ZAPWASM_DEV" => self.dev = flag()?,
                "ZAPWASM_ALLOW_LOOPBACK" => self.policy.allow_loopback = flag()?,
                "ZAPWASM_QUEUE_WORKERS" => self.queue.workers = Some(number()? as usize),
                "ZAPWASM_MAX_CALLS_IN_FLIGHT" => self.limits.max_calls_in_flight = Some(number()? as usize),
                "ZAPWASM_SHUTDOWN_GRACE_SECONDS" => self.shutdown_grace_seconds = Some(number()?),
                _ => {}
            }
        }
        Ok(())
    }

    /// Serve the component at `path` as `name` (`--app NAME=PATH`): an
    /// app of that name in the file keeps its environment.
    pub fn add_app(&mut self, flag: &str) -> Result<(), ServeError> {
        let (name, path) = flag
            .split_once('=')
            .filter(|(name, path)| valid_name(name) && !path.is_empty())
            .ok_or_else(|| ServeError::Config(format!("--app: expected NAME=PATH, got {flag:?}")))?;
        self.apps.entry(name.to_string()).or_default().path = PathBuf::from(path);
        Ok(())
    }

    /// Set an app's environment variable (`--app-env NAME:KEY=VALUE`).
    pub fn add_app_env(&mut self, flag: &str) -> Result<(), ServeError> {
        let bad = || ServeError::Config(format!("--app-env: expected NAME:KEY=VALUE, got {flag:?}"));
        let (name, pair) = flag.split_once(':').ok_or_else(bad)?;
        let (key, value) = pair.split_once('=').ok_or_else(bad)?;
        if !valid_name(name) || key.is_empty() {
            return Err(bad());
        }
        let app = self.apps.get_mut(name).ok_or_else(|| {
            ServeError::Config(format!("--app-env {flag:?}: no app {name:?} (give --app {name}=PATH first)"))
        })?;
        app.env.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

/// An app's name: 1 to 64 letters, digits, `-` or `_` (it is a path
/// segment of the API and the integration ID of its calls' state).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_complete_and_reads() {
        let config = Config::from_toml(EXAMPLE_CONFIG).expect("the example reads");
        assert_eq!(config.listen.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(config.queue.workers, Some(2));
        assert_eq!(config.limits.max_calls_in_flight, Some(64));
        assert_eq!(config.apps["crm"].env["CRM_BASE_URL"], "https://api.crm.example");
    }

    #[test]
    fn unknown_settings_and_wrong_types_are_refused_by_name() {
        let error = Config::from_toml("listne = \"x\"").unwrap_err().to_string();
        assert!(error.contains("listne"), "{error}");
        let error = Config::from_toml("[queue]\nworkers = \"two\"").unwrap_err().to_string();
        assert!(error.contains("workers"), "{error}");
    }

    #[test]
    fn the_environment_then_flags_go_over_the_file() {
        let mut config = Config::from_toml("listen = \"127.0.0.1:1\"\n[apps.crm]\npath = \"a.wasm\"").unwrap();
        let env = [("ZAPWASM_LISTEN", "127.0.0.1:2"), ("ZAPWASM_DEV", "true"), ("HOME", "/x")];
        config.apply_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        assert_eq!(config.listen.as_deref(), Some("127.0.0.1:2"));
        assert!(config.dev);
        assert!(config.apply_env([("ZAPWASM_DEV".to_string(), "maybe".to_string())]).is_err());
        config.add_app("crm=b.wasm").unwrap();
        config.add_app_env("crm:CRM_BASE_URL=http://127.0.0.1:9/x=y").unwrap();
        assert_eq!(config.apps["crm"].path, PathBuf::from("b.wasm"));
        assert_eq!(config.apps["crm"].env["CRM_BASE_URL"], "http://127.0.0.1:9/x=y");
        assert!(config.add_app("=b.wasm").is_err());
        assert!(config.add_app("a b=c").is_err());
        assert!(config.add_app_env("other:K=V").unwrap_err().to_string().contains("--app other=PATH"));
        assert!(config.add_app_env("crm:=V").is_err());
    }

    #[test]
    fn relative_paths_are_taken_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zapwasm.toml");
        std::fs::write(&path, "state_dir = \"state\"\n[apps.crm]\npath = \"crm.wasm\"\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.state_dir, Some(dir.path().join("state")));
        assert_eq!(config.apps["crm"].path, dir.path().join("crm.wasm"));
    }
}
