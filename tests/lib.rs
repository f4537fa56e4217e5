//! Support for the end-to-end tests: the built components, hosts set up for
//! loopback, the example API, and a recording HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use zapwasm_host::{
    App, Bundle, Host, HostBuilder, Invocation, LocalStash, Outcome, Policy, PoolConfig, Scope, Stores,
};

/// The example CRM integration, built by build.rs.
pub const CRM: &str = env!("CRM_COMPONENT");
/// The test fixture guest, built by build.rs.
pub const FIXTURE: &str = env!("FIXTURE_COMPONENT");
/// The hostile guest, built by build.rs.
pub const HOSTILE: &str = env!("HOSTILE_COMPONENT");
/// The guest with one mistake per definition check, built by build.rs.
pub const INVALID: &str = env!("INVALID_COMPONENT");

/// A directory that lives as long as the test binary.
pub fn shared_dir(name: &str) -> PathBuf {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    let root = ROOT.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let dir = root.path().join(name);
    std::fs::create_dir_all(&dir).expect("create a test directory");
    dir
}

/// A host builder for tests: loopback allowed, a small pool, the shared
/// compiled-component cache.
pub fn host_builder() -> HostBuilder {
    Host::builder()
        .policy(Policy::local_development())
        .pool(PoolConfig { instances: 32, ..PoolConfig::default() })
        .cache_dir(shared_dir("cache"))
}

/// A host for tests with a stash in `stash_dir` and callbacks under `callback_base`.
pub fn host_with(stash_dir: &Path, callback_base: &str) -> Host {
    host_builder()
        .stores(Stores::memory().stash(Arc::new(LocalStash::new(stash_dir, "http://files.zapwasm.test/stash"))))
        .callback_base_url(callback_base)
        .build()
        .expect("the test host builds")
}

/// A host for tests with the defaults.
pub fn host() -> Host {
    host_builder().callback_base_url("http://hooks.zapwasm.test/callback").build().expect("the test host builds")
}

/// The fixture guest, loaded.
pub async fn fixture(host: &Host) -> App {
    host.load_file(FIXTURE).await.expect("the fixture loads")
}

/// A bundle with this inputData.
pub fn input(value: Value) -> Bundle {
    Bundle { input_data: value.as_object().cloned().unwrap_or_default(), ..Bundle::default() }
}

/// Run a method with a bundle in the default scope.
pub async fn call(app: &App, method: &str, bundle: Bundle) -> Outcome {
    app.invoke(Invocation::new(method, bundle, Scope::new("test", "account-1"))).await
}

/// The example API, started on 127.0.0.1 with its default config.
pub async fn crm_api() -> crm_api::RunningApi {
    crm_api::start("127.0.0.1:0".parse().expect("an address"), crm_api::Config::default())
        .await
        .expect("the example API starts")
}

/// What a [`Recorder`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The method.
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `body` encoded as `coding` (`gzip`, `deflate`, `br`) says; as is for any other.
fn encode(coding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).expect("gzip into memory");
            encoder.finish().expect("gzip into memory")
        }
        "deflate" => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).expect("deflate into memory");
            encoder.finish().expect("deflate into memory")
        }
        "br" => {
            let mut encoded = Vec::new();
            let mut encoder = brotli::CompressorWriter::new(&mut encoded, 4096, 5, 22);
            encoder.write_all(body).expect("brotli into memory");
            drop(encoder);
            encoded
        }
        _ => body.to_vec(),
    }
}

/// An HTTP server on 127.0.0.1 that records every request exactly and
/// answers by path:
/// - `/status/<code>`: that status, body `{"status": code}`, with `Retry-After: 7` on 429;
/// - `/slow/<ms>`: 200 after that many milliseconds;
/// - `/redirect/<n>`: 302 to `/redirect/<n-1>`, and `/redirect/0` is 200;
/// - `/redirect-to?url=<percent-encoded URL>`: 302 to that URL;
/// - `/redirect-to/<code>?url=<percent-encoded URL>`: that status (a 307, a 308...) to that URL;
/// - `/gzip`: `{"gzipped": true}`, gzip-encoded when the request accepts gzip;
/// - `/encoded/<coding>/<n>`: `{"coding": "<coding>", "pad": "<n x's>"}`,
///   encoded with `gzip`, `deflate` (zlib) or `br` when the request
///   accepts that coding;
/// - `/bytes/<n>`: n bytes of `x`, text/plain;
/// - `/stream/<n>`: n bytes of `x`, text/plain, streamed from one static buffer;
///   `/stream/<n>/gzip` the same, labelled gzip-encoded;
/// - `/slow-body/<ms>`: the headers at once, then a 10-byte body, a byte
///   every `ms` milliseconds;
/// - anything else: 200 with `{"ok": true}`.
///
/// [`Recorder::answering`] starts one that records the same way but answers
/// with a function of what it received.
pub struct Recorder {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Start one.
    pub async fn start() -> Recorder {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        Recorder::serve(received.clone(), axum::Router::new().fallback(answer).with_state(received)).await
    }

    /// Start one that answers every request with `answer(<what it received>)`.
    pub async fn answering<F>(answer: F) -> Recorder
    where
        F: Fn(&Received) -> Response + Clone + Send + Sync + 'static,
    {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let (log, answer) = (log.clone(), answer.clone());
            async move { answer(&record(&log, request).await.0) }
        });
        Recorder::serve(received, app).await
    }

    /// Start one (answering as [`Recorder::start`]) on another address of
    /// this machine, e.g. [`non_loopback_local_address`].
    pub async fn start_on(ip: std::net::IpAddr) -> Recorder {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = axum::Router::new().fallback(answer).with_state(received.clone());
        Recorder::serve_on(received, app, ip).await
    }

    async fn serve(received: Arc<Mutex<Vec<Received>>>, app: axum::Router) -> Recorder {
        Recorder::serve_on(received, app, [127, 0, 0, 1].into()).await
    }

    async fn serve_on(received: Arc<Mutex<Vec<Received>>>, app: axum::Router, ip: std::net::IpAddr) -> Recorder {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind a local address");
        let addr: SocketAddr = listener.local_addr().expect("a local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { base_url: format!("http://{addr}"), received, _server: server }
    }

    /// `<METHOD> <path and query>` of everything received so far.
    pub fn requests(&self) -> Vec<String> {
        self.received().iter().map(|r| format!("{} {}", r.method, r.uri)).collect()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base_url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("a port in the base URL")
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the recorder lock").clone()
    }
}

/// Keeps what a request carried; hands back its parts for answering.
async fn record(received: &Mutex<Vec<Received>>, request: Request) -> (Received, axum::http::request::Parts) {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let entry = Received {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: lower_headers(&parts.headers),
        body: body.to_vec(),
    };
    received.lock().expect("the recorder lock").push(entry.clone());
    (entry, parts)
}

async fn answer(State(received): State<Arc<Mutex<Vec<Received>>>>, request: Request) -> Response {
    let (entry, parts) = record(&received, request).await;
    let path = parts.uri.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["status", code] => {
            let code: u16 = code.parse().unwrap_or(500);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, axum::Json(json!({"status": code}))).into_response();
            if code == 429 {
                response.headers_mut().insert("retry-after", "7".parse().expect("a header value"));
            }
            response
        }
        ["slow", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            axum::Json(json!({"slow": true})).into_response()
        }
        ["redirect-to"] => {
            let target = parts.uri.query().and_then(|q| q.strip_prefix("url=")).unwrap_or("/");
            let target = percent_decode(target);
            (StatusCode::FOUND, [("location", target)]).into_response()
        }
        ["redirect-to", code] => {
            let target = parts.uri.query().and_then(|q| q.strip_prefix("url=")).unwrap_or("/");
            let status =
                code.parse().ok().and_then(|code| StatusCode::from_u16(code).ok()).unwrap_or(StatusCode::FOUND);
            (status, [("location", percent_decode(target))]).into_response()
        }
        ["redirect", n] => match n.parse::<u32>().unwrap_or(0) {
            0 => axum::Json(json!({"redirected": true})).into_response(),
            n => (StatusCode::FOUND, [("location", format!("/redirect/{}", n - 1))]).into_response(),
        },
        ["gzip"] => {
            let body = json!({"gzipped": true}).to_string();
            if entry.header("accept-encoding").is_some_and(|accepted| accepted.contains("gzip")) {
                ([("content-type", "application/json"), ("content-encoding", "gzip")], encode("gzip", body.as_bytes()))
                    .into_response()
            } else {
                ([("content-type", "application/json")], body).into_response()
            }
        }
        ["encoded", coding, n] => {
            let body = json!({"coding": coding, "pad": "x".repeat(n.parse().unwrap_or(0))}).to_string();
            if !entry.header("accept-encoding").is_some_and(|accepted| accepted.contains(coding)) {
                return ([("content-type", "application/json")], body).into_response();
            }
            let encoded = encode(coding, body.as_bytes());
            let coding = coding.to_string();
            ([("content-type", "application/json".to_string()), ("content-encoding", coding)], encoded).into_response()
        }
        ["bytes", n] => ([("content-type", "text/plain")], "x".repeat(n.parse().unwrap_or(0))).into_response(),
        ["stream", n] => streamed(n.parse().unwrap_or(0), 64 << 10, Duration::ZERO),
        ["stream", n, "gzip"] => {
            // Said to be gzip, streamed (so no length ahead): `/stream/0/gzip`
            // is an encoded answer that turns out to have no body.
            let mut response = streamed(n.parse().unwrap_or(0), 64 << 10, Duration::ZERO);
            response.headers_mut().insert("content-encoding", axum::http::HeaderValue::from_static("gzip"));
            response
        }
        ["slow-body", ms] => streamed(10, 1, Duration::from_millis(ms.parse().unwrap_or(0))),
        _ => axum::Json(json!({"ok": true})).into_response(),
    }
}

/// A body of `len` bytes of `x`, sent in chunks of `chunk` bytes (at most
/// 64 KiB) of one static buffer (the server allocates nothing per byte, so
/// a test measuring the host's memory measures the host), the first chunk
/// with the headers and each next one `pause` later.
fn streamed(len: usize, chunk: usize, pause: Duration) -> Response {
    static CHUNK: [u8; 64 << 10] = [b'x'; 64 << 10];
    let chunk = chunk.clamp(1, CHUNK.len());
    let chunks = futures::stream::unfold(len, move |left| async move {
        if left == 0 {
            return None;
        }
        let n = left.min(chunk);
        let chunk = Bytes::from_static(&CHUNK[..n]);
        if !pause.is_zero() && left < len {
            tokio::time::sleep(pause).await;
        }
        Some((Ok::<_, std::convert::Infallible>(chunk), left - n))
    });
    ([("content-type", "text/plain")], axum::body::Body::from_stream(chunks)).into_response()
}

fn lower_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok())) {
            (b'%', Some(hex)) if u8::from_str_radix(hex, 16).is_ok() => {
                out.push(u8::from_str_radix(hex, 16).unwrap_or_default());
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A resolver that answers from a fixed table (and fails for other names):
/// how the tests make a name resolve to 127.0.0.1.
pub struct MapResolver(pub Vec<(String, std::net::IpAddr)>);

impl zapwasm_host::Resolver for MapResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> futures::future::BoxFuture<'a, std::io::Result<Vec<std::net::IpAddr>>> {
        let found: Vec<std::net::IpAddr> =
            self.0.iter().filter(|(name, _)| name.eq_ignore_ascii_case(host)).map(|(_, ip)| *ip).collect();
        Box::pin(async move {
            if found.is_empty() {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no such host: {host}")))
            } else {
                Ok(found)
            }
        })
    }
}

/// A server that requires HTTP Digest authentication (RFC 7616, MD5,
/// qop=auth) and really checks the response hash: 401 with a challenge
/// without credentials or with wrong ones, 200 `{"user": ...}` when the
/// digest matches.
pub struct DigestServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    _server: tokio::task::JoinHandle<()>,
}

/// The realm and nonce the digest server challenges with.
pub const DIGEST_REALM: &str = "zapwasm-test";
const DIGEST_NONCE: &str = "5f1e3c0a9b7d";

impl DigestServer {
    /// Start one accepting `username`/`password`.
    pub async fn start(username: &'static str, password: &'static str) -> DigestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a local address");
        let app = axum::Router::new().fallback(move |request: Request| async move {
            let method = request.method().to_string();
            let uri = request.uri().to_string();
            let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if digest_is_valid(header, &method, &uri, username, password) {
                axum::Json(json!({"user": username})).into_response()
            } else {
                let challenge =
                    format!(r#"Digest realm="{DIGEST_REALM}", qop="auth", nonce="{DIGEST_NONCE}", opaque="abc123", algorithm=MD5"#);
                (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)], "unauthorized").into_response()
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        DigestServer { base_url: format!("http://{addr}"), _server: server }
    }
}

fn digest_is_valid(header: &str, method: &str, uri: &str, username: &str, password: &str) -> bool {
    let Some(params) = header.strip_prefix("Digest ") else { return false };
    let get = |key: &str| -> Option<String> {
        params.split(", ").find_map(|part| {
            let (k, v) = part.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let md5 = |text: String| format!("{:x}", md5::compute(text));
    let (Some(user), Some(nonce), Some(req_uri), Some(nc), Some(cnonce), Some(response)) =
        (get("username"), get("nonce"), get("uri"), get("nc"), get("cnonce"), get("response"))
    else {
        return false;
    };
    let ha1 = md5(format!("{username}:{DIGEST_REALM}:{password}"));
    let ha2 = md5(format!("{method}:{uri}"));
    let expected = md5(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    user == username
        && nonce == DIGEST_NONCE
        && req_uri == uri
        && get("qop").as_deref() == Some("auth")
        && response == expected
}

/// The z.request lifecycle guest, built by build.rs.
pub const LIFECYCLE: &str = env!("LIFECYCLE_COMPONENT");
/// The basic-auth guest, built by build.rs.
pub const AUTH_BASIC: &str = env!("AUTH_BASIC_COMPONENT");
/// The digest-auth guest, built by build.rs.
pub const AUTH_DIGEST: &str = env!("AUTH_DIGEST_COMPONENT");
/// The session-auth guest, built by build.rs.
pub const AUTH_SESSION: &str = env!("AUTH_SESSION_COMPONENT");
/// The OAuth 2 (autoRefresh) guest, built by build.rs.
pub const AUTH_OAUTH2: &str = env!("AUTH_OAUTH2_COMPONENT");
/// The OAuth 2 guest without autoRefresh, built by build.rs.
pub const AUTH_OAUTH2_PLAIN: &str = env!("AUTH_OAUTH2_PLAIN_COMPONENT");
/// The custom-auth (API key) guest, built by build.rs.
pub const AUTH_CUSTOM: &str = env!("AUTH_CUSTOM_COMPONENT");
/// The OAuth 1 guest, built by build.rs.
pub const AUTH_OAUTH1: &str = env!("AUTH_OAUTH1_COMPONENT");

/// The result of a call that must have succeeded.
pub fn ok(outcome: &Outcome) -> Value {
    outcome
        .result
        .as_ref()
        .unwrap_or_else(|error| panic!("the call failed: {error:?}; logs: {:?}", outcome.logs))
        .value()
}

/// The integration error of a call that must have raised one.
pub fn z_error(outcome: Outcome) -> zapwasm_host::ZError {
    match outcome.result {
        Err(zapwasm_host::CallError::Integration { error }) => error,
        other => panic!("expected an integration error, got {other:?}"),
    }
}

/// An IPv4 address of this machine that is not loopback (an interface's),
/// from the kernel's table of local addresses, checked by binding it;
/// `None` on a machine with loopback only. A connection to it stays on this
/// machine, but the host classes it by its range (private, documentation,
/// global), not as loopback: how the tests make a request start off
/// loopback without leaving the machine.
pub fn non_loopback_local_address() -> Option<std::net::IpAddr> {
    let table = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let mut last = None;
    for line in table.lines() {
        let line = line.trim();
        if let Some(ip) = line.strip_prefix("|-- ") {
            last = ip.parse::<std::net::Ipv4Addr>().ok();
        } else if line.starts_with("/32 host LOCAL")
            && let Some(ip) = last.take()
            && !ip.is_loopback()
            && std::net::TcpListener::bind((ip, 0)).is_ok()
        {
            return Some(ip.into());
        }
    }
    None
}
