//! `crm-api`: a small but realistic CRM HTTP API, held in memory, that the
//! example zapwasm integration (`examples/crm`) talks to in the demo and the
//! end-to-end tests.
//!
//! It has what an integration meets in the wild: API-key auth, cursor
//! paging, search, creates that can conflict, a file download, REST hooks it
//! POSTs events to, a job that reports back to a callback URL, and a
//! throttled route. Every request is recorded so tests can check exactly what
//! arrived, and every delivery so they can check what went out.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let api = crm_api::start("127.0.0.1:0".parse().unwrap(), crm_api::Config::default()).await?;
//! assert!(api.base_url.starts_with("http://127.0.0.1:"));
//! assert_eq!(api.state().contacts().len(), 25);
//! api.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The parts, by role:
//! - `routes`: the router and handlers; `extract` and `error` keep every
//!   failure in the one JSON error shape.
//! - `recording` then `auth`: the middleware every request passes, in that
//!   order, so even refused requests are recorded.
//! - `state`: the records and what was recorded ([`ApiState`]); `model`: the
//!   record types.
//! - `delivery`: the only code that opens connections (hook events, export
//!   callbacks); `vcard` and `timestamp`: formats.
//! - This file: [`Config`], [`start`] and [`RunningApi`]; `main.rs` is the
//!   `crm-api` binary on top.

mod auth;
mod delivery;
mod error;
mod extract;
mod model;
mod recording;
mod routes;
mod state;
mod timestamp;
mod vcard;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::API_KEY_HEADER;
pub use model::{CONTACT_CREATED, Contact, Export, ExportStatus, Hook, SeenRequest};
pub use state::ApiState;

/// How long [`RunningApi::shutdown`] lets open connections finish before it
/// drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the API starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The keys `X-API-Key` may hold. Default `["demo-key"]`, the key of the
    /// demo and the tests; empty refuses every request.
    pub api_keys: Vec<String>,
    /// How many contacts exist at start, ids `1..=seed_contacts`, each with
    /// deterministic names and `contact{id}@example.test`. Default 25: three
    /// pages at the default page size, so paging has a short last page.
    pub seed_contacts: usize,
    /// How long an export takes before its callback is POSTed. Default
    /// 200 ms: long enough that a caller sees the job pending, short enough
    /// for tests. Zero posts as soon as the task runs.
    pub callback_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { api_keys: vec!["demo-key".to_string()], seed_contacts: 25, callback_delay: Duration::from_millis(200) }
    }
}

/// An API serving on a tokio task; stop it with [`RunningApi::shutdown`].
/// Dropping it leaves the server running until the runtime ends.
#[derive(Debug)]
pub struct RunningApi {
    /// Where clients reach it, `http://127.0.0.1:PORT` (loopback when bound
    /// to an unspecified address such as 0.0.0.0).
    pub base_url: String,
    /// The address actually bound, with the port chosen when 0 was asked.
    pub addr: SocketAddr,
    state: ApiState,
    stop: oneshot::Sender<()>,
    server: JoinHandle<io::Result<()>>,
}

impl RunningApi {
    /// The API's state, for tests: contacts, hooks, exports, the requests
    /// seen and the callbacks delivered, as snapshots.
    pub fn state(&self) -> &ApiState {
        &self.state
    }

    /// Stops accepting connections, lets open ones finish for up to five
    /// seconds, then drops the rest. Deliveries already under way continue
    /// on their own tasks.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
            server.abort();
        }
    }
}

/// Binds `addr` (port 0 picks a free one) and serves the API on a tokio
/// task. Fails when the address cannot be bound or the delivery client
/// cannot be built.
pub async fn start(addr: SocketAddr, config: Config) -> io::Result<RunningApi> {
    let outbox = delivery::Outbox::new()?;
    let state = ApiState::new(&config, outbox);
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{}", reachable(addr));
    let (stop, stopped) = oneshot::channel::<()>();
    let app = routes::router(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningApi { base_url, addr, state, stop, server })
}

/// `addr` with an unspecified IP (0.0.0.0, ::) replaced by loopback, which is
/// where a client on this machine reaches it.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}
