//! The HTTP servers the scenarios call, run by the orchestrator process (so
//! their memory is not counted in a worker's): the example CRM API, an
//! endpoint that answers the same page of contacts after one second, and
//! the soak's upstream that answers it or fails as asked.

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
    /// The soak's upstream: a base URL per injected fault (see [`FAULTS`]).
    pub fault_urls: Vec<(String, String)>,
    /// Where the soak's upstream says how many requests of each fault it
    /// received since the last look (`GET {counts_url}`, JSON).
    pub counts_url: String,
}

/// What the soak's upstream does, by the first segment of the path
/// (`GET /{fault}/contacts`): `none` answers the page of contacts; `500`
/// answers 500 with a JSON error; `429` answers 429 with `Retry-After: 1`;
/// `slow` answers the page after [`SOAK_SLOW`]; `truncated` promises the
/// page's length and closes the connection after half of it; `closed`
/// (its own port: an HTTP server cannot close a connection without
/// answering) reads the request and closes the connection.
pub const FAULTS: &[&str] = &["none", "500", "429", "slow", "truncated", "closed"];

/// How long `slow` takes to answer: past the soak's deadline.
pub const SOAK_SLOW: Duration = Duration::from_secs(2);

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
    let page_for_faults = page.clone();
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
    let (fault_urls, counts_url) = start_faults(page_for_faults).await?;
    Ok(Servers { api, slow_url, fault_urls, counts_url })
}

/// Start the soak's upstream: the axum server for every fault but
/// `closed`, and a bare listener for `closed`.
async fn start_faults(page: String) -> std::io::Result<(Vec<(String, String)>, String)> {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    let counts: Arc<Vec<AtomicUsize>> = Arc::new(FAULTS.iter().map(|_| AtomicUsize::new(0)).collect());
    let count = |counts: &Arc<Vec<AtomicUsize>>, fault: &str| {
        if let Some(i) = FAULTS.iter().position(|f| *f == fault) {
            counts[i].fetch_add(1, Ordering::SeqCst);
        }
    };
    let page = Arc::new(page);
    let handler = {
        let counts = counts.clone();
        move |Path(fault): Path<String>| {
            let (page, counts) = (page.clone(), counts.clone());
            async move {
                count(&counts, &fault);
                let json = [(header::CONTENT_TYPE, "application/json")];
                let response: Response = match fault.as_str() {
                    "500" => (StatusCode::INTERNAL_SERVER_ERROR, json, r#"{"error":"injected"}"#).into_response(),
                    "429" => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response(),
                    "slow" => {
                        tokio::time::sleep(SOAK_SLOW).await;
                        (json, page.to_string()).into_response()
                    }
                    "truncated" => {
                        let half = axum::body::Bytes::from(page.as_bytes()[..page.len() / 2].to_vec());
                        let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> =
                            vec![Ok(half), Err(std::io::Error::other("injected truncation"))];
                        let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
                        let length = [(header::CONTENT_LENGTH, page.len().to_string())];
                        (json, length, body).into_response()
                    }
                    _ => (json, page.to_string()).into_response(),
                };
                response
            }
        }
    };
    let counter = counts.clone();
    let router = Router::new().route("/{fault}/contacts", get(handler)).route(
        "/counts",
        get(move || async move {
            let taken: serde_json::Map<String, serde_json::Value> = FAULTS
                .iter()
                .zip(counter.iter())
                .map(|(f, c)| (f.to_string(), c.swap(0, Ordering::SeqCst).into()))
                .collect();
            serde_json::Value::Object(taken).to_string()
        }),
    );
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().expect("an address"))?;
    let listener = socket.listen(4_096)?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });

    // `closed`: read the request's head, then drop the connection.
    let closer = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let closed_base = format!("http://{}/closed", closer.local_addr()?);
    let counter = counts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = closer.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count(&counter, "closed");
            });
        }
    });
    let urls = FAULTS
        .iter()
        .map(|f| (f.to_string(), if *f == "closed" { closed_base.clone() } else { format!("{base}/{f}") }))
        .collect();
    Ok((urls, format!("{base}/counts")))
}

/// How many requests of each fault the soak's upstream received since the
/// last look.
pub async fn fault_counts(counts_url: &str) -> Option<serde_json::Value> {
    let text = reqwest::get(counts_url).await.ok()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}
