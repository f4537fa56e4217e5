//! The HTTP servers the scenarios call, run by the orchestrator process (so
//! their memory is not counted in a worker's): the example CRM API, and an
//! endpoint that answers the same page of contacts after one second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;

/// The API key the scenarios use (the example API's default).
pub const API_KEY: &str = "demo-key";

/// How long the slow endpoint waits before it answers.
pub const SLOW_DELAY: Duration = Duration::from_secs(1);

/// The servers, running on the orchestrator's runtime.
pub struct Servers {
    /// The example CRM API.
    pub api: crm_api::RunningApi,
    /// The slow endpoint's base URL (`GET {slow_url}/contacts` answers after 1 s).
    pub slow_url: String,
}

/// Requests the slow endpoint holds now, and the most it held at once.
#[derive(Default)]
struct Waiting {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// The most requests the slow endpoint held at once since the last call.
pub async fn most_waiting(slow_url: &str) -> Option<u64> {
    let text = reqwest::get(format!("{slow_url}/most-waiting")).await.ok()?.text().await.ok()?;
    text.trim().parse().ok()
}

/// Start the example API and the slow endpoint on 127.0.0.1.
pub async fn start() -> std::io::Result<Servers> {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let api = crm_api::start(localhost, crm_api::Config::default()).await?;
    // The slow endpoint answers what the API answers, so the trigger's
    // result is the same.
    let page = reqwest::Client::new()
        .get(format!("{}/contacts?limit=10", api.base_url))
        .header(crm_api::API_KEY_HEADER, API_KEY)
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .map_err(std::io::Error::other)?
        .text()
        .await
        .map_err(std::io::Error::other)?;
    let waiting = Arc::new(Waiting::default());
    let counter = waiting.clone();
    let slow = Router::new()
        .route(
            "/contacts",
            get(move || {
                let (page, waiting) = (page.clone(), waiting.clone());
                async move {
                    let now = waiting.now.fetch_add(1, Ordering::SeqCst) + 1;
                    waiting.most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(SLOW_DELAY).await;
                    waiting.now.fetch_sub(1, Ordering::SeqCst);
                    ([(header::CONTENT_TYPE, "application/json")], page)
                }
            }),
        )
        // How many requests waited at once since the last look: how many
        // invocations were really in flight together.
        .route("/most-waiting", get(move || async move { counter.most.swap(0, Ordering::SeqCst).to_string() }));
    // 10,000 clients connect at once: a deep accept queue (the kernel caps
    // it at net.core.somaxconn) keeps their SYNs from being dropped and
    // retried a second later.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(localhost)?;
    let listener = socket.listen(16_384)?;
    let slow_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, slow).await });
    Ok(Servers { api, slow_url })
}
