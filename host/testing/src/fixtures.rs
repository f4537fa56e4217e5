//! Recorded HTTP fixtures: a local server that stands where the API's base
//! URL was. Recording, it forwards every request to the real API and keeps
//! each exchange, secrets censored; replaying, it answers from a recording
//! and notes every request the recording lacks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What stands in for a secret in a recording, and is sent in its place
/// when the recording is replayed.
pub const CENSORED: &str = ":censored:";

/// Request headers kept in a recording: the rest (user agent, lengths,
/// encodings, connection) say nothing about what the integration asked.
const VOLATILE_REQUEST_HEADERS: &[&str] =
    &["host", "user-agent", "content-length", "accept-encoding", "connection", "transfer-encoding"];

/// Response headers not replayed: the server sets its own.
const VOLATILE_RESPONSE_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection", "content-encoding", "date", "keep-alive"];

/// The exchanges of one test case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The authData keys the case ran with: replayed as [`CENSORED`].
    pub auth_keys: Vec<String>,
    /// The environment variables censored as secrets (`CLIENT_SECRET`,
    /// ...): replayed as [`CENSORED`], so a request that sent one matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_keys: Vec<String>,
    /// What was sent and answered, in order.
    pub exchanges: Vec<Exchange>,
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The request.
    pub request: RecordedRequest,
    /// The response.
    pub response: RecordedResponse,
}

/// A request, relative to the base URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// Path and query below the base URL (`/contacts?limit=50`).
    pub path: String,
    /// Headers that matter, names lower-case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// The status.
    pub status: u16,
    /// Headers, names lower-case (one value each).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A body as readable as it can be: JSON, else text, else base64.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// JSON.
    Json(Value),
    /// UTF-8 text that is not JSON.
    Text(String),
    /// Anything else.
    Base64(String),
}

impl Body {
    fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    /// The body of these bytes.
    pub fn of(bytes: &[u8]) -> Body {
        if bytes.is_empty() {
            return Body::Empty;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => match serde_json::from_str::<Value>(text) {
                // Kept as JSON only when it writes back the same bytes' meaning.
                Ok(value) if !text.trim().is_empty() => Body::Json(value),
                _ => Body::Text(text.to_string()),
            },
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// The bytes to send.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::Json(value) => value.to_string().into_bytes(),
            Body::Text(text) => text.clone().into_bytes(),
            Body::Base64(text) => base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default(),
        }
    }

    /// The body as text lines for a diff.
    fn lines(&self) -> String {
        match self {
            Body::Empty => String::new(),
            Body::Json(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
            Body::Text(text) => text.clone(),
            Body::Base64(text) => format!("(base64) {text}"),
        }
    }
}

/// The fields of a JSON answer that hold credentials the API hands out
/// (an OAuth token endpoint's, a session exchange's), besides the case's
/// authData keys: learned as secrets while recording.
const CREDENTIAL_FIELDS: &[&str] = &["access_token", "refresh_token", "id_token", "sessionKey", "session_key"];

/// Replaces secrets in text: each value in every form the host censors
/// ([`zapwasm_host::censored_texts`]: percent-encoded as URLs, params and
/// forms write it, escaped in JSON, in base64).
#[derive(Debug, Clone, Default)]
pub struct Censor {
    secrets: Vec<String>,
}

impl Censor {
    /// A censor of these values (shorter than 3 characters are left: they
    /// would censor half the text).
    pub fn new<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Censor {
        let mut censor = Censor::default();
        for value in values {
            censor.add(value.as_ref());
        }
        censor
    }

    /// The censor of a case: every authData value (the keys the host
    /// deems safe too), every `env_secrets` value, and what the host
    /// derives from them (basic credentials), in every form.
    pub fn of_case(auth_data: &Map<String, Value>, env_secrets: &[String]) -> Censor {
        let values = auth_data.values().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let mut censor = Censor::new(values.chain(env_secrets.iter().cloned()));
        let derived = zapwasm_host::censored_texts(auth_data, env_secrets.iter().map(String::as_str));
        censor.extend(derived.into_iter().filter(|text| text != CENSORED));
        censor
    }

    /// Censors `value` too (with its encoded forms), from now on.
    fn add(&mut self, value: &str) {
        if value.chars().count() < 3 || value == CENSORED || self.secrets.iter().any(|known| known == value) {
            return;
        }
        let forms = zapwasm_host::censored_texts([], [value]);
        self.extend(std::iter::once(value.to_string()).chain(forms));
    }

    /// Censors these texts as they are, from now on.
    fn extend(&mut self, texts: impl IntoIterator<Item = String>) {
        let secrets = &mut self.secrets;
        secrets.extend(texts);
        // Longest first: a secret holding another is replaced whole.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
    }

    /// Learns the credentials a JSON answer hands out: the string values of
    /// its top-level fields named as `auth_keys` or [`CREDENTIAL_FIELDS`]
    /// (a refreshed token is censored in this answer and in every request
    /// that carries it after).
    fn learn(&mut self, body: &Body, auth_keys: &[String]) {
        let Body::Json(Value::Object(fields)) = body else { return };
        for (key, value) in fields {
            let credential = auth_keys.iter().any(|k| k == key) || CREDENTIAL_FIELDS.contains(&key.as_str());
            if let (true, Some(value)) = (credential, value.as_str()) {
                self.add(value);
            }
        }
    }

    /// The text with every secret replaced by [`CENSORED`].
    pub fn text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), CENSORED);
            }
        }
        text
    }

    /// A body with every secret replaced (in JSON, in every string).
    fn body(&self, body: Body) -> Body {
        match body {
            Body::Json(value) => Body::Json(self.json(value)),
            Body::Text(text) => Body::Text(self.text(&text)),
            other => other,
        }
    }

    fn json(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(&text)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (self.text(&k), self.json(v))).collect()),
            other => other,
        }
    }
}

/// A request as the local server received it.
fn received(parts: &axum::http::request::Parts, body: &[u8], censor: &Censor) -> RecordedRequest {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    RecordedRequest {
        method: parts.method.to_string(),
        path: censor.text(path),
        headers: headers_of(&parts.headers, VOLATILE_REQUEST_HEADERS, censor),
        body: censor.body(Body::of(body)),
    }
}

fn headers_of(headers: &HeaderMap, skip: &[&str], censor: &Censor) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_string(), censor.text(&String::from_utf8_lossy(value.as_bytes()))))
        .collect()
}

/// A request the recording lacks, with the closest one it has; both
/// censored as a recording is, and the diff's control and bidirectional
/// characters escaped (`\u001b`), so it is safe to print.
#[derive(Debug, Clone)]
pub struct Miss {
    /// What was asked, censored.
    pub request: RecordedRequest,
    /// A unified diff against the closest recorded request (or the request
    /// alone when nothing came close).
    pub diff: String,
}

#[derive(Default)]
struct ServerState {
    recording: Recording,
    /// Replaying: the censor of what a miss shows.
    censor: Censor,
    used: Vec<bool>,
    misses: Vec<Miss>,
    errors: Vec<String>,
}

/// The local server standing for the API during one case.
pub struct FixtureServer {
    /// `http://127.0.0.1:PORT`: the base URL the integration is given.
    pub base_url: String,
    state: Arc<Mutex<ServerState>>,
    server: tokio::task::JoinHandle<()>,
}

impl FixtureServer {
    /// A server forwarding to `upstream` (the real base URL, without a
    /// trailing slash) and recording, censoring with `censor`.
    pub async fn record(upstream: String, censor: Censor, auth_keys: Vec<String>) -> std::io::Result<FixtureServer> {
        let state = Arc::new(Mutex::new(ServerState {
            recording: Recording { auth_keys, ..Recording::default() },
            ..ServerState::default()
        }));
        // Redirects are the host's to follow: the proxy passes them on.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = state.clone();
        // Shared by the case's requests: a credential one answer hands out
        // is censored in the requests after it.
        let censor = Arc::new(Mutex::new(censor));
        let app = axum::Router::new().fallback(move |request: Request| {
            let (state, client, upstream, censor) = (shared.clone(), client.clone(), upstream.clone(), censor.clone());
            async move { forward(request, &state, &client, &upstream, &censor).await }
        });
        FixtureServer::serve(state, app).await
    }

    /// A server answering from `recording`.
    pub async fn replay(recording: Recording, censor: Censor) -> std::io::Result<FixtureServer> {
        let used = vec![false; recording.exchanges.len()];
        let state = Arc::new(Mutex::new(ServerState { recording, used, censor, ..ServerState::default() }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let state = shared.clone();
            async move { answer(request, &state).await }
        });
        FixtureServer::serve(state, app).await
    }

    async fn serve(state: Arc<Mutex<ServerState>>, app: axum::Router) -> std::io::Result<FixtureServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FixtureServer { base_url: format!("http://{addr}"), state, server })
    }

    /// Stops the server: what it recorded, the requests it lacked, and the
    /// errors it met forwarding.
    pub fn finish(self) -> (Recording, Vec<Miss>, Vec<String>) {
        self.server.abort();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut state.recording), std::mem::take(&mut state.misses), std::mem::take(&mut state.errors))
    }
}

/// Recording: sends the request on to the API, keeps the exchange censored.
async fn forward(
    request: Request,
    state: &Mutex<ServerState>,
    client: &reqwest::Client,
    upstream: &str,
    censor: &Mutex<Censor>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut outgoing = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !["host", "content-length", "connection"].contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let result = outgoing.body(body.to_vec()).send().await;
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            let message = format!("recording: {} {path} failed: {error}", parts.method);
            let message = censor.lock().unwrap_or_else(|e| e.into_inner()).text(&message);
            state.lock().unwrap_or_else(|e| e.into_inner()).errors.push(message.clone());
            return (StatusCode::BAD_GATEWAY, message).into_response();
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    let auth_keys = state.lock().unwrap_or_else(|e| e.into_inner()).recording.auth_keys.clone();
    let mut censor = censor.lock().unwrap_or_else(|e| e.into_inner());
    censor.learn(&Body::of(&bytes), &auth_keys);
    let censor = &*censor;
    let exchange = Exchange {
        request: received(&parts, &body, censor),
        response: RecordedResponse {
            status: status.as_u16(),
            headers: headers_of(&headers, VOLATILE_RESPONSE_HEADERS, censor),
            body: censor.body(Body::of(&bytes)),
        },
    };
    state.lock().unwrap_or_else(|e| e.into_inner()).recording.exchanges.push(exchange);
    let mut out = (status, bytes).into_response();
    copy_headers(&headers, out.headers_mut());
    out
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !VOLATILE_RESPONSE_HEADERS.contains(&name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Replaying: the first unused recorded exchange with the same method,
/// path and body; a miss otherwise.
async fn answer(request: Request, state: &Mutex<ServerState>) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut asked = received(&parts, &body, &Censor::default());
    // A censored value the integration sent form- or URL-encoded is the
    // recording's marker, which was written as it is.
    asked.path = unencoded_marker(&asked.path);
    if let Body::Text(text) = &asked.body {
        asked.body = Body::Text(unencoded_marker(text));
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let found = (0..state.recording.exchanges.len()).find(|&i| {
        let recorded = &state.recording.exchanges[i].request;
        !state.used[i] && same_request(recorded, &asked)
    });
    let Some(index) = found else {
        let shown = censored(&asked, &state.censor);
        let diff = escaped(&closest_diff(&state.recording, &shown));
        let message = format!(
            "zapwasm test: {} {} is not in the recording\n{diff}",
            escaped(&shown.method),
            escaped(&shown.path)
        );
        state.misses.push(Miss { request: shown, diff });
        return (StatusCode::NOT_IMPLEMENTED, message).into_response();
    };
    state.used[index] = true;
    let recorded = state.recording.exchanges[index].response.clone();
    let status = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (status, recorded.body.bytes()).into_response();
    for (name, value) in &recorded.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            out.headers_mut().append(name, value);
        }
    }
    out
}

/// A request with every secret `censor` knows replaced.
fn censored(request: &RecordedRequest, censor: &Censor) -> RecordedRequest {
    RecordedRequest {
        method: censor.text(&request.method),
        path: censor.text(&request.path),
        headers: request.headers.iter().map(|(name, value)| (censor.text(name), censor.text(value))).collect(),
        body: censor.body(request.body.clone()),
    }
}

/// `text` with control and bidirectional characters (but the newlines
/// between lines) written as escapes, `\r`, `\t`, `\u001b`...: what an API
/// or an integration sent cannot move the cursor, recolour or reorder a
/// terminal's text.
fn escaped(text: &str) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` with [`CENSORED`] percent-encoded (`%3Acensored%3A`, in either case) written as it is.
fn unencoded_marker(text: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(CENSORED, percent_encoding::NON_ALPHANUMERIC).to_string();
    if !text.to_ascii_lowercase().contains(&encoded.to_ascii_lowercase()) {
        return text.to_string();
    }
    text.replace(&encoded, CENSORED).replace(&encoded.to_ascii_lowercase(), CENSORED)
}

/// Whether a request is the recorded one: method, path and query, body
/// (JSON compared as JSON), and the recorded headers the integration set.
fn same_request(recorded: &RecordedRequest, asked: &RecordedRequest) -> bool {
    recorded.method == asked.method
        && recorded.path == asked.path
        && recorded.body == asked.body
        && recorded.headers.iter().all(|(name, value)| {
            // Only headers an integration sets on purpose are compared.
            !significant(name) || asked.headers.get(name) == Some(value)
        })
}

/// Headers whose difference means a different request.
fn significant(name: &str) -> bool {
    name == "authorization" || name.starts_with("x-") || name == "content-type"
}

/// A unified diff of `asked` against the closest recorded request: same
/// method and path first, then same method, then any.
fn closest_diff(recording: &Recording, asked: &RecordedRequest) -> String {
    let render = |request: &RecordedRequest| {
        let mut text = format!("{} {}\n", request.method, request.path);
        for (name, value) in request.headers.iter().filter(|(name, _)| significant(name)) {
            text.push_str(&format!("{name}: {value}\n"));
        }
        let body = request.body.lines();
        if !body.is_empty() {
            text.push('\n');
            text.push_str(&body);
            text.push('\n');
        }
        text
    };
    let base = |path: &str| path.split('?').next().unwrap_or_default().to_string();
    let requests: Vec<&RecordedRequest> = recording.exchanges.iter().map(|e| &e.request).collect();
    let closest = requests
        .iter()
        .find(|r| r.method == asked.method && base(&r.path) == base(&asked.path))
        .or_else(|| requests.iter().find(|r| r.method == asked.method))
        .or_else(|| requests.first());
    let asked_text = render(asked);
    match closest {
        Some(recorded) => {
            let recorded_text = render(recorded);
            if recorded_text == asked_text {
                // Only a secret differed: the case has one its recording
                // does not replay censored (recorded before it was set).
                return format!(
                    "it matches a recorded request only with its secrets censored (record the case again: \
                     its recording does not censor every secret this run has); sent, censored:\n{asked_text}"
                );
            }
            similar::TextDiff::from_lines(&recorded_text, &asked_text)
                .unified_diff()
                .header("recorded", "sent")
                .to_string()
        }
        None => format!("the recording has no requests; sent:\n{asked_text}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_censored_in_every_form() {
        let censor = Censor::new(["s3cret/key", "ab", "tok\"en"]);
        assert_eq!(censor.text("k=s3cret%2Fkey&x=s3cret/key"), "k=:censored:&x=:censored:");
        assert_eq!(censor.text("ab stays"), "ab stays", "too short to censor");
        let body = censor.body(Body::of(br#"{"token":"tok\"en","list":["s3cret/key"]}"#));
        assert_eq!(body, Body::Json(json!({"token": ":censored:", "list": [":censored:"]})));
    }

    #[test]
    fn credentials_an_answer_hands_out_are_censored_from_then_on() {
        let mut censor = Censor::new(["old-token"]);
        let answer = Body::of(br#"{"access_token":"new-token","token_type":"Bearer","expires_in":3600,"sid":"s-1"}"#);
        censor.learn(&answer, &["sid".to_string()]);
        assert_eq!(
            censor.body(answer),
            Body::Json(
                json!({"access_token": ":censored:", "token_type": "Bearer", "expires_in": 3600, "sid": ":censored:"})
            )
        );
        assert_eq!(censor.text("Bearer new-token, then old-token"), "Bearer :censored:, then :censored:");
        censor.learn(&Body::of(b"[\"new\"]"), &[]);
        censor.learn(&Body::of(b"access_token=form-token"), &[]);
        assert_eq!(censor.text("form-token"), "form-token", "only JSON answers are read");
    }

    #[test]
    fn an_encoded_marker_is_the_recordings_marker() {
        assert_eq!(unencoded_marker("t=%3Acensored%3A&u=%3acensored%3a"), "t=:censored:&u=:censored:");
        assert_eq!(unencoded_marker("q=%3Aother"), "q=%3Aother");
    }

    #[test]
    fn bodies_stay_readable() {
        assert_eq!(Body::of(b""), Body::Empty);
        assert_eq!(Body::of(b"{\"a\":1}"), Body::Json(json!({"a": 1})));
        assert_eq!(Body::of(b"hello"), Body::Text("hello".into()));
        let binary = Body::of(&[0xff, 0x00]);
        assert!(matches!(binary, Body::Base64(_)));
        assert_eq!(binary.bytes(), [0xff, 0x00]);
    }

    #[test]
    fn a_miss_is_diffed_against_the_closest_recorded_request() {
        let request = |path: &str, body: Body| RecordedRequest {
            method: "POST".into(),
            path: path.into(),
            headers: BTreeMap::from([("x-api-key".to_string(), CENSORED.to_string())]),
            body,
        };
        let response = RecordedResponse { status: 200, headers: BTreeMap::new(), body: Body::Empty };
        let recording = Recording {
            exchanges: vec![
                Exchange { request: request("/other", Body::Empty), response: response.clone() },
                Exchange { request: request("/contacts?x=1", Body::Json(json!({"email": "a"}))), response },
            ],
            ..Recording::default()
        };
        let asked = request("/contacts?x=2", Body::Json(json!({"email": "b"})));
        let diff = closest_diff(&recording, &asked);
        assert!(diff.contains("-POST /contacts?x=1") && diff.contains("+POST /contacts?x=2"), "{diff}");
        assert!(diff.contains("-  \"email\": \"a\"") && diff.contains("+  \"email\": \"b\""), "{diff}");
        assert!(!same_request(&recording.exchanges[1].request, &asked));
        let mut keyless = recording.exchanges[1].request.clone();
        keyless.headers.clear();
        assert!(!same_request(&recording.exchanges[1].request, &keyless), "the key header is compared");
        keyless.headers.insert("user-agent".into(), "x".into());
        assert!(same_request(&keyless, &recording.exchanges[1].request));
    }

    #[test]
    fn a_cases_censor_takes_every_form_the_host_censors() {
        let auth = json!({"username": "ada", "password": "pa55word", "token": "tok en/1"});
        let censor = Censor::of_case(auth.as_object().unwrap(), &["client+secret/1".to_string()]);
        let basic = base64::engine::general_purpose::STANDARD.encode("ada:pa55word");
        let key_colon = base64::engine::general_purpose::STANDARD.encode("tok en/1:");
        for (text, expected) in [
            (format!("Basic {basic}"), "Basic :censored:"),
            (format!("Basic {key_colon}"), "Basic :censored:"),
            ("q=tok%20en%2F1".to_string(), "q=:censored:"),
            ("q=tok+en%2F1".to_string(), "q=:censored:"),
            ("/tok%20en/1".to_string(), "/:censored:"),
            ("s=client%2Bsecret%2F1".to_string(), "s=:censored:"),
            ("s=client+secret/1".to_string(), "s=:censored:"),
            ("user ada".to_string(), "user :censored:"),
        ] {
            assert_eq!(censor.text(&text), expected, "{text}");
        }
    }

    #[tokio::test]
    async fn a_replay_miss_shows_the_request_censored_and_escaped() {
        let recorded = RecordedRequest {
            method: "POST".into(),
            path: "/oauth/token".into(),
            headers: BTreeMap::new(),
            body: Body::Text(format!("grant_type=refresh_token&client_secret={CENSORED}")),
        };
        let response = RecordedResponse { status: 200, headers: BTreeMap::new(), body: Body::Empty };
        let recording = Recording { exchanges: vec![Exchange { request: recorded, response }], ..Recording::default() };
        let auth = json!({"username": "ada", "password": "pa55word", "refresh_token": "r3fresh-1"});
        let censor = Censor::of_case(auth.as_object().unwrap(), &["client+secret/1".to_string()]);
        let server = FixtureServer::replay(recording, censor).await.unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("ada:pa55word");
        let answer = reqwest::Client::new()
            .post(format!("{}/oauth/token?refresh=r3fresh-1", server.base_url))
            .header("authorization", format!("Basic {basic}"))
            .header("x-trace", "a\tb")
            .body("grant_type=refresh_token&client_secret=client%2Bsecret%2F1&note=\u{1b}[2J\u{202e}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 501);
        let message = answer.text().await.unwrap();
        let (_, misses, _) = server.finish();
        let miss = &misses[0];
        for shown in [miss.diff.as_str(), message.as_str(), &format!("{:?}", miss.request)] {
            for secret in ["pa55word", &basic, "r3fresh-1", "client%2Bsecret%2F1", "client+secret"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        assert!(miss.diff.contains("+POST /oauth/token?refresh=:censored:"), "{}", miss.diff);
        assert!(miss.diff.contains("+authorization: Basic :censored:"), "{}", miss.diff);
        assert!(miss.diff.contains("client_secret=:censored:&note=\\u001b[2J\\u202e"), "{}", miss.diff);
        assert!(miss.diff.contains("+x-trace: a\\tb"), "{}", miss.diff);
        for text in [&miss.diff, &message] {
            assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text}");
        }
    }
}
