//! zapwasm-serve: the platform half of zapwasm as an HTTP service, on one
//! machine with its state embedded (`zapwasm serve` runs it; an embedder
//! mounts [`router`] in its own axum app).
//!
//! ```no_run
//! use zapwasm_serve::{Service, ServiceState, Settings};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let state = ServiceState::open("/var/lib/zapwasm", &[7u8; 32])?; // the master key: 32+ random bytes
//! let host = state.host_builder("https://zapwasm.example.com").build()?;
//! let app = host.load_file("crm.wasm").await?.with_env([("CRM_BASE_URL", "https://api.crm.example")]);
//! let mut settings = Settings::new("https://zapwasm.example.com");
//! settings.control_token = Some("a long random token".into());
//! let service = Service::new(host, state, settings);
//! service.add_app("crm", app);
//! let workers = service.start().await?; // the queue and the poll scheduler
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, zapwasm_serve::router(service)).await?;
//! # workers.shutdown(std::time::Duration::from_secs(30)).await; Ok(()) }
//! ```
//!
//! What it serves (JSON in and out; every error `{"error": {"kind",
//! "message"}}` with a fitting status):
//!
//! - the control API, behind a bearer token: apps (`/v1/apps`),
//!   connections (credentials checked with `authentication.test`, sealed at
//!   rest, never answered), calls (`/v1/apps/{app}/invoke`, honouring
//!   `Idempotency-Key`; a call that asked for a callback answers 202 and
//!   `/v1/invocations/{id}` gives its result once resumed), subscriptions
//!   (REST hooks and polling) and their events, in order, with sequence
//!   numbers; dehydrated values hydrated for the call they came from
//!   (`/v1/hydrate`); OAuth 2 accounts connected through their provider
//!   (`/v1/apps/{app}/authorizations`, the redirect back to
//!   `/oauth/callback`);
//! - the receivers senders call: `POST /hooks/{id}` and `POST
//!   /callbacks/{id}` keep the request durably, answer, and leave the guest
//!   call to the queue's workers (`queue`), so it never runs inside the
//!   sender's timeout; `GET /files/{token}` streams stashed files;
//! - `GET /healthz` and `GET /metrics` (Prometheus text).
//!
//! Parts: `service` ([`Service`], [`ServiceState`], [`Settings`]), `routes`
//! ([`router`]), `queue` (the workers, [`Workers`]), `db` (the service's
//! SQLite file), `crypto` (sealing with keys derived from the master key),
//! `metrics`, `config` ([`Config`], [`EXAMPLE_CONFIG`]) and `server`
//! ([`Server`]: a config to a running service).

mod config;
mod crypto;
mod db;
mod error;
mod metrics;
mod queue;
mod routes;
mod server;
mod service;

pub use config::{AppConfig, Config, EXAMPLE_CONFIG, LimitsConfig, PolicyConfig, QueueConfig, RetentionConfig};
pub use queue::Workers;
pub use routes::router;
pub use server::Server;
pub use service::{Retention, Service, ServiceState, Settings};

/// Why the service cannot start or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration cannot be used; the message says which setting.
    #[error("{0}")]
    Config(String),
    /// The state (a state file, the state directory) failed.
    #[error("the service's state failed: {0}")]
    State(String),
    /// Sealing or opening a secret failed.
    #[error("{0}")]
    Crypto(String),
    /// An app cannot be loaded.
    #[error("cannot load the app {app}: {message}")]
    Load {
        /// The app's name.
        app: String,
        /// Why, with its causes.
        message: String,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the server failed: {0}")]
    Server(String),
}
