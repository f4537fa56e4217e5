//! The HTTP servers the scenarios call, run by the orchestrator process (so
//! their memory is not counted in a worker's): the example CRM API, the
//! slow endpoint (the same page of contacts, after one second at
//! `/contacts`, or held until all of a run's requests have arrived at
//! `/hold/{n}/contacts`), and the soak's upstream that answers it or fails
//! as asked.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
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
    /// The slow endpoint's base URL (`GET {slow_url}/contacts` answers after
    /// 1 s; [`hold_url`] gives the base whose requests are held).
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

/// The longest the slow endpoint holds a request of a group that never
/// fills (`/hold/{n}`): a safety net, far above the time any side takes to
/// start its calls (10,000 calls through zapwasm start in about 3 s, 1,000
/// through the reference's app tester in about 10 s). When it fires the
/// group is released and [`HoldReport::safety_fired`] says so.
pub const HOLD_SAFETY: Duration = Duration::from_secs(90);

/// How long the slow endpoint keeps a full hold group before answering it:
/// time for the caller to sample its resident set with every call waiting.
pub const HOLD_LINGER: Duration = Duration::from_secs(1);

/// The slow endpoint's hold group: requests to `/hold/{n}/contacts` are
/// held until `n` of them have arrived since the last report, then all
/// answered together.
struct Hold {
    /// Requests held now, the most held at once, all that arrived.
    now: AtomicUsize,
    most: AtomicUsize,
    arrived: AtomicUsize,
    /// Whether the group was released by [`HOLD_SAFETY`] instead of by its
    /// last request.
    safety_fired: AtomicBool,
    /// When the first request of the group arrived, and how long after it
    /// the last arrived (or the safety timeout fired).
    first_at: Mutex<Option<Instant>>,
    full_after: Mutex<Option<Duration>>,
    /// `true` once the group is released.
    release: tokio::sync::watch::Sender<bool>,
}

impl Hold {
    fn new() -> Hold {
        Hold {
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            safety_fired: AtomicBool::new(false),
            first_at: Mutex::new(None),
            full_after: Mutex::new(None),
            release: tokio::sync::watch::channel(false).0,
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn full(&self) {
        let first = *Hold::lock(&self.first_at);
        Hold::lock(&self.full_after).get_or_insert_with(|| first.map_or(Duration::ZERO, |t| t.elapsed()));
    }

    /// Hold one request until `n` have arrived and [`HOLD_LINGER`] has
    /// passed (or [`HOLD_SAFETY`]).
    async fn hold(&self, n: usize) {
        let mut released = self.release.subscribe();
        Hold::lock(&self.first_at).get_or_insert_with(Instant::now);
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let arrived = self.arrived.fetch_add(1, Ordering::SeqCst) + 1;
        if arrived == n {
            self.full();
            tokio::time::sleep(HOLD_LINGER).await;
            self.release.send_replace(true);
        }
        if tokio::time::timeout(HOLD_SAFETY, released.wait_for(|r| *r)).await.is_err() {
            self.safety_fired.store(true, Ordering::SeqCst);
            self.full();
            self.release.send_replace(true);
        }
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    /// What the group did since the last report, and a fresh group.
    fn report(&self) -> HoldReport {
        let report = HoldReport {
            most_held: self.most.swap(0, Ordering::SeqCst) as u64,
            arrived: self.arrived.swap(0, Ordering::SeqCst) as u64,
            safety_fired: self.safety_fired.swap(false, Ordering::SeqCst),
            full_after_ms: Hold::lock(&self.full_after).take().map(|d| d.as_secs_f64() * 1e3),
        };
        *Hold::lock(&self.first_at) = None;
        self.release.send_replace(false);
        report
    }
}

/// What the slow endpoint's hold group did: how many requests it held at
/// once (the calls truly waiting together), how many arrived, whether the
/// safety timeout released it, and how long after its first request the
/// last arrived (the time the side took to start all its calls).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct HoldReport {
    pub most_held: u64,
    pub arrived: u64,
    pub safety_fired: bool,
    pub full_after_ms: Option<f64>,
}

/// The hold group's report since the last one (a fresh group after it).
pub async fn hold_report(slow_url: &str) -> Option<HoldReport> {
    let text = reqwest::get(format!("{slow_url}/held")).await.ok()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

/// The base URL whose `/contacts` the slow endpoint holds until `n`
/// requests have arrived.
pub fn hold_url(slow_url: &str, n: usize) -> String {
    format!("{slow_url}/hold/{n}")
}

/// The API's page of 10 contacts, as the bench guest's `http_get` gets it.
pub async fn contacts_page(base_url: &str) -> Result<String, String> {
    let response = reqwest::Client::new()
        .get(format!("{base_url}/contacts?limit=10"))
        .header(crm_api::API_KEY_HEADER, API_KEY)
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .map_err(|e| format!("GET {base_url}/contacts: {e}"))?;
    response.text().await.map_err(|e| format!("GET {base_url}/contacts: {e}"))
}

/// Start the example API and the slow endpoint on 127.0.0.1.
pub async fn start() -> std::io::Result<Servers> {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let api = crm_api::start(localhost, crm_api::Config::default()).await?;
    // The slow endpoint answers what the API answers, so the trigger's
    // result is the same.
    let page = contacts_page(&api.base_url).await.map_err(std::io::Error::other)?;
    let page_for_faults = page.clone();
    let hold = Arc::new(Hold::new());
    let (held, holding) = (hold.clone(), hold.clone());
    let json = || [(header::CONTENT_TYPE, "application/json")];
    let slow_page = page.clone();
    let slow = Router::new()
        .route(
            "/contacts",
            get(move || {
                let page = slow_page.clone();
                async move {
                    tokio::time::sleep(SLOW_DELAY).await;
                    (json(), page)
                }
            }),
        )
        // Held until `n` requests have arrived: every call of an in-flight
        // run is waiting at once before any is answered.
        .route(
            "/hold/{n}/contacts",
            get(move |Path(n): Path<usize>| {
                let (page, hold) = (page.clone(), hold.clone());
                async move {
                    hold.hold(n).await;
                    (json(), page)
                }
            }),
        )
        // How many requests are held now (the caller's cue that all are).
        .route("/holding", get(move || async move { holding.now.load(Ordering::SeqCst).to_string() }))
        .route("/held", get(move || async move { serde_json::to_string(&held.report()).unwrap_or_default() }));
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
