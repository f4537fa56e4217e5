//! Native unit tests of an integration (feature `testing`): a plain
//! `cargo test` builds a [`Z`] and a [`Bundle`], calls a perform, a
//! middleware or any method path, answers the integration's requests with
//! canned responses ([`FakeHttp`]) and asserts on what it sent ([`Sent`]).
//!
//! ```
//! use zapwasm_guest::prelude::*;
//! use zapwasm_guest::testing::{FakeHttp, Reply, TestCall};
//!
//! fn list_items(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
//!     let base = z.env("API_BASE_URL").unwrap_or_default();
//!     let response = z.request(Request::get(format!("{base}/items")).param("limit", 2))?;
//!     Ok(response.data.unwrap_or_default()["items"].clone())
//! }
//!
//! fn app() -> App {
//!     App::new("1.0.0").trigger(Trigger::new("new_item", "Item").operation(Operation::polling().perform(list_items)))
//! }
//!
//! let api = FakeHttp::new().on("GET", "https://api.test/items", Reply::json(json!({"items": [{"id": 1}]})));
//! let call = TestCall::new(app(), &api).env("API_BASE_URL", "https://api.test");
//! // A function called directly with a Z...
//! let bundle = Bundle::default();
//! assert_eq!(list_items(&call.z(bundle.clone()), &bundle).unwrap(), json!([{"id": 1}]));
//! // ...or any method path, as the host runs it (shorthand requests included).
//! assert_eq!(call.run("triggers.new_item.operation.perform", bundle).unwrap(), json!([{"id": 1}]));
//! assert_eq!(api.sent()[0].url, "https://api.test/items?limit=2");
//! ```
//!
//! Requests go through the whole guest half of `z.request` (defaults, the
//! app's requestTemplate, beforeRequest, afterResponse, throwForStatus);
//! [`Sent`] is what would cross to the host, its URL with the params
//! encoded as the host encodes them. What the host adds (auth headers for
//! basic and digest, redirects, the egress policy) is not there: test that
//! with `zapwasm test` and recorded fixtures.
//!
//! The host's other imports are answered in the test too, one state per
//! [`TestCall`] (its clones share it), for the test to read back:
//!
//! - the cursor ([`TestCall::cursor`] sets it, [`TestCall::cursor_value`] reads it);
//! - stashing ([`TestCall::stashed`]): bytes and text are kept as given, a
//!   request is sent to the [`FakeHttp`] (the request the host would make:
//!   the requestTemplate and defaults, no middleware) and its body kept;
//!   the URL returned is `https://stash.zapwasm.test/files/<n>`;
//! - log lines ([`TestCall::logs`]);
//! - callback URLs ([`TestCall::callback_urls`]),
//!   `https://callbacks.zapwasm.test/<n>`;
//! - `z.dehydrate` and `z.dehydrate_file` ([`TestCall::dehydrated`]): the
//!   pointer has the shape of the one a signing host returns,
//!   `hydrate|||<base64 of its JSON>:<signature>|||hydrate`, but its
//!   signature is [`TEST_SIGNATURE`], which no host accepts: a test
//!   pointer, never a sealed one. [`Dehydrated::read`] reads one back from
//!   a result.
//!
//! ```
//! use zapwasm_guest::prelude::*;
//! use zapwasm_guest::testing::{Dehydrated, FakeHttp, PointerKind, TestCall};
//!
//! fn report(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
//!     Ok(json!({"file": z.dehydrate_file("report", json!({"id": 7}))?}))
//! }
//! fn report_file(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
//!     Ok(json!(z.stash_file(format!("report {}", bundle.input("id").cloned().unwrap_or_default()))?))
//! }
//!
//! let app = App::new("1.0.0")
//!     .create(Create::new("report", "Report").operation(Operation::new().perform(report)))
//!     .hydrator("report", report_file);
//! let call = TestCall::new(app, &FakeHttp::new());
//! let result = call.run("creates.report.operation.perform", Bundle::default()).unwrap();
//! let expected = Dehydrated { kind: PointerKind::File, method: "hydrators.report".into(), input_data: json!({"id": 7}) };
//! assert_eq!(Dehydrated::read(result["file"].as_str().unwrap()), Some(expected.clone()));
//! assert_eq!(call.dehydrated(), [expected]);
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use crate::Bundle;
use crate::Value;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zapwasm_rules::dehydrate::{self, Kind, Pointer};
use zapwasm_rules::method_path::MethodPath;
use zapwasm_rules::stash;
use zapwasm_rules::url_params::{ParamOptions, url_with_params};

use crate::app::App;
use crate::bindings::zapwasm::integration::http as wire;
use crate::error::ZError;
use crate::lifecycle::Transport;
use crate::z::{Invocation, Level, Z};

/// A canned response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with this JSON body.
    pub fn json(body: Value) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// 200 with this text body (`text/plain`).
    pub fn text(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.into().into_bytes(),
        }
    }

    /// This status and no body.
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Vec::new() }
    }

    /// The same reply with another status.
    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

/// A request the integration sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The method, upper-case.
    pub method: String,
    /// The URL with its params, encoded as the host encodes them.
    pub url: String,
    /// The headers, as the integration set them.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl Sent {
    /// A header's value (the name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as text (empty without one).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_deref().unwrap_or_default()).into_owned()
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body.as_deref()?).ok()
    }
}

/// One canned answer: what it matches, and its replies in order (the last repeats).
#[derive(Debug)]
struct Route {
    method: String,
    url: String,
    replies: Vec<Reply>,
    used: usize,
}

#[derive(Debug, Default)]
struct State {
    routes: Vec<Route>,
    sent: Vec<Sent>,
}

/// An API that answers with canned responses and records what it was sent.
/// Cheap to clone: clones share the routes and the record.
#[derive(Debug, Clone, Default)]
pub struct FakeHttp {
    state: Rc<RefCell<State>>,
}

impl FakeHttp {
    /// An API with no canned responses yet.
    pub fn new() -> FakeHttp {
        FakeHttp::default()
    }

    /// Answer `method` requests to `url` with `reply`. A URL without `?`
    /// matches whatever the params; with one, the whole URL must match (the
    /// params encoded as in [`Sent::url`]). Several replies to the same
    /// route are given in order, the last repeating. A request no route
    /// matches fails with an error naming it.
    pub fn on(self, method: &str, url: &str, reply: Reply) -> FakeHttp {
        {
            let mut state = self.state.borrow_mut();
            let method = method.to_ascii_uppercase();
            match state.routes.iter_mut().find(|route| route.method == method && route.url == url) {
                Some(route) => route.replies.push(reply),
                None => state.routes.push(Route { method, url: url.to_string(), replies: vec![reply], used: 0 }),
            }
        }
        self
    }

    /// Every request sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.state.borrow().sent.clone()
    }

    fn answer(&self, request: &wire::Request) -> Result<wire::Response, ZError> {
        let options = ParamOptions {
            skip_encoding_chars: &request.skip_encoding_chars,
            remove_missing: request.remove_missing_params,
        };
        let full_url = url_with_params(&request.url, &request.params, &options);
        let mut state = self.state.borrow_mut();
        state.sent.push(Sent {
            method: request.method.clone(),
            url: full_url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        let without_query = full_url.split(['?', '#']).next().unwrap_or_default();
        let route = state.routes.iter_mut().find(|route| {
            route.method == request.method
                && if route.url.contains('?') { route.url == full_url } else { route.url == without_query }
        });
        let Some(route) = route else {
            return Err(ZError::general(format!("testing: no canned response for {} {full_url}", request.method)));
        };
        let reply = route.replies[route.used.min(route.replies.len() - 1)].clone();
        route.used += 1;
        Ok(wire::Response {
            status: reply.status,
            url: full_url,
            redirected: false,
            headers: reply.headers,
            body: reply.body,
        })
    }
}

impl Transport for FakeHttp {
    fn send(&self, request: &wire::Request) -> Result<wire::Response, ZError> {
        self.answer(request)
    }

    fn send_all(&self, requests: &[wire::Request]) -> Vec<Result<wire::Response, ZError>> {
        requests.iter().map(|request| self.answer(request)).collect()
    }
}

/// The signature of a test pointer: where a signing host puts its
/// HMAC, this text, which no host's check accepts.
pub const TEST_SIGNATURE: &str = "zapwasm/testing/pointer/unsigned";

/// What a dehydrated pointer's hydrator gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerKind {
    /// `z.dehydrate`: the hydrator's result is the value.
    Method,
    /// `z.dehydrate_file`: the hydrator stashes a file and returns its URL.
    File,
}

/// What a call dehydrated: the hydrator a step would call, and its inputData.
#[derive(Debug, Clone, PartialEq)]
pub struct Dehydrated {
    /// `z.dehydrate` or `z.dehydrate_file`.
    pub kind: PointerKind,
    /// The hydrator's method path, `hydrators.<name>`.
    pub method: String,
    /// The hydrator's `bundle.inputData` (an object).
    pub input_data: Value,
}

impl Dehydrated {
    /// What `pointer` names: a test pointer (or an unsigned one), the
    /// whole text. `None` for anything else, a sealed pointer included
    /// (only its host can read it).
    pub fn read(pointer: &str) -> Option<Dehydrated> {
        let payload = match dehydrate::parse(pointer)? {
            Pointer::Unsigned(payload) => payload,
            Pointer::Signed { payload, signature } if signature == TEST_SIGNATURE => {
                let json = String::from_utf8(STANDARD.decode(payload).ok()?).ok()?;
                dehydrate::payload(&json)?
            }
            Pointer::Signed { .. } => return None,
        };
        let kind = match payload.kind {
            Kind::Method => PointerKind::Method,
            Kind::File => PointerKind::File,
            _ => return None,
        };
        Some(Dehydrated {
            kind,
            method: payload.method,
            input_data: Value::from(serde_json::Value::Object(payload.bundle)),
        })
    }
}

/// A file the integration stashed.
#[derive(Debug, Clone, PartialEq)]
pub struct Stashed {
    /// The URL `z.stash_file` returned.
    pub url: String,
    /// The file's name: the one given, else from the response's
    /// Content-Disposition or the URL for a request, else `unnamedfile.txt`
    /// (text) or `unnamedfile` (bytes).
    pub filename: String,
    /// The content type: the one given, else the response's for a request,
    /// else `text/plain` (text) or `application/octet-stream` (bytes).
    pub content_type: String,
    /// The length the integration said the file has, if it said.
    pub known_length: Option<u64>,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl Stashed {
    /// The file as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// What the host's imports other than `http` hold in a test.
#[derive(Debug, Default)]
struct HostState {
    cursor: Option<String>,
    logs: Vec<(Level, String)>,
    stashed: Vec<Stashed>,
    callback_urls: Vec<String>,
    dehydrated: Vec<Dehydrated>,
}

/// The stand-in for the cursor, stash, console, callback and hydration
/// imports in a native test. Clones share the state.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeHost {
    state: Rc<RefCell<HostState>>,
    /// The method path [`TestCall::run`] runs; `None` for a function
    /// called directly with [`TestCall::z`].
    method: Option<String>,
}

impl FakeHost {
    /// The same state, for a call of `method`.
    fn for_method(&self, method: &str) -> FakeHost {
        FakeHost { state: Rc::clone(&self.state), method: Some(method.to_string()) }
    }

    /// As the host: only creates and hydrators may stash.
    fn may_stash(&self) -> Result<(), ZError> {
        match &self.method {
            Some(method) if !method.starts_with("creates.") && !method.starts_with("hydrators.") => {
                Err(ZError::general("Files can only be stashed within a create or hydration function/method."))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn cursor_get(&self) -> Option<String> {
        self.state.borrow().cursor.clone()
    }

    pub(crate) fn cursor_set(&self, value: String) {
        self.state.borrow_mut().cursor = Some(value);
    }

    pub(crate) fn log(&self, level: Level, message: String) {
        self.state.borrow_mut().logs.push((level, message));
    }

    pub(crate) fn callback_url(&self) -> String {
        let mut state = self.state.borrow_mut();
        let url = format!("https://callbacks.zapwasm.test/{}", state.callback_urls.len() + 1);
        state.callback_urls.push(url.clone());
        url
    }

    /// `z.stash_file` of bytes or text.
    pub(crate) fn stash(
        &self,
        data: Vec<u8>,
        text: bool,
        known_length: Option<u64>,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<String, ZError> {
        self.may_stash()?;
        let (filename, content_type) = stash::bytes_file(text, filename, content_type);
        Ok(self.keep(Stashed { url: String::new(), filename, content_type, known_length, data }))
    }

    /// `z.stash_file` of a request: sent to the test's API, its body kept.
    pub(crate) fn stash_request(
        &self,
        request: &wire::Request,
        http: &dyn Transport,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<String, ZError> {
        self.may_stash()?;
        let response = http.send(request)?;
        if !(200..300).contains(&response.status) {
            return Err(ZError::general(format!(
                "testing: the file to stash answered {} at {}",
                response.status, response.url
            )));
        }
        let header = |name: &str| {
            let mut headers = response.headers.iter().rev();
            headers.find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
        };
        let (filename, content_type) = stash::response_file(
            filename,
            content_type,
            header("content-disposition"),
            header("content-type"),
            &response.url,
        );
        Ok(self.keep(Stashed { url: String::new(), filename, content_type, known_length: None, data: response.body }))
    }

    fn keep(&self, mut file: Stashed) -> String {
        let mut state = self.state.borrow_mut();
        file.url = format!("https://stash.zapwasm.test/files/{}", state.stashed.len() + 1);
        let url = file.url.clone();
        state.stashed.push(file);
        url
    }

    /// The `hydration` import: the pointer checked as the host checks it
    /// (it names a hydrator), recorded, and returned as a test pointer.
    pub(crate) fn seal(&self, pointer: &str) -> Result<String, ZError> {
        let Some(Pointer::Unsigned(_)) = dehydrate::parse(pointer) else {
            return Err(ZError::general("z.dehydrate was given something that is not a dehydrated pointer"));
        };
        let Some(dehydrated) = Dehydrated::read(pointer) else {
            return Err(ZError::general("z.dehydrate was given something that is not a dehydrated pointer"));
        };
        let is_hydrator =
            matches!(MethodPath::split(&dehydrated.method), Some(MethodPath::Hydrator(name)) if !name.is_empty());
        if !is_hydrator {
            return Err(ZError::general(format!("{} is not a hydrator of this integration", dehydrated.method)));
        }
        let json = pointer.trim().strip_prefix(dehydrate::START).and_then(|rest| rest.strip_suffix(dehydrate::END));
        let payload = STANDARD.encode(json.unwrap_or_default());
        self.state.borrow_mut().dehydrated.push(dehydrated);
        Ok(format!("{}{payload}:{TEST_SIGNATURE}{}", dehydrate::START, dehydrate::END))
    }
}

/// A call of an app in a native test: the app, the fake API its requests
/// go to, the environment `z.env` sees (only what was set here), and what
/// the host's other imports hold (the cursor, stashed files, log lines,
/// callback URLs, dehydrated pointers), shared by its clones.
#[derive(Clone)]
pub struct TestCall {
    app: App,
    http: FakeHttp,
    env: Vec<(String, String)>,
    host: FakeHost,
}

impl TestCall {
    /// Calls of `app` whose requests go to `http`.
    pub fn new(app: App, http: &FakeHttp) -> TestCall {
        TestCall { app, http: http.clone(), env: Vec::new(), host: FakeHost::default() }
    }

    /// Sets the cursor `z.cursor().get()` reads, as a previous call left it.
    pub fn cursor(self, value: impl Into<String>) -> TestCall {
        self.host.cursor_set(value.into());
        self
    }

    /// The cursor as the calls left it.
    pub fn cursor_value(&self) -> Option<String> {
        self.host.cursor_get()
    }

    /// Every file stashed so far, in order.
    pub fn stashed(&self) -> Vec<Stashed> {
        self.host.state.borrow().stashed.clone()
    }

    /// Every log line so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.host.state.borrow().logs.clone()
    }

    /// Every callback URL handed out so far, in order.
    pub fn callback_urls(&self) -> Vec<String> {
        self.host.state.borrow().callback_urls.clone()
    }

    /// Everything dehydrated so far (`z.dehydrate`, `z.dehydrate_file`), in order.
    pub fn dehydrated(&self) -> Vec<Dehydrated> {
        self.host.state.borrow().dehydrated.clone()
    }

    /// Sets an environment variable for `z.env`.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> TestCall {
        self.env.push((name.into(), value.into()));
        self
    }

    /// A `Z` for a call with `bundle`: pass it to a perform or a middleware.
    pub fn z(&self, bundle: Bundle) -> Z {
        self.z_with(bundle, self.host.clone())
    }

    fn z_with(&self, bundle: Bundle, host: FakeHost) -> Z {
        let invocation = Invocation::new(self.app.clone(), bundle, Box::new(self.http.clone()));
        Z::new(invocation.with_env(self.env.clone()).with_fake(host))
    }

    /// Runs the method at `method_path` (a function, a shorthand request,
    /// an OAuth authorize URL) with `bundle`, as the host would, and
    /// returns its result. As on the host, only a create or a hydrator
    /// may stash files.
    pub fn run(&self, method_path: &str, bundle: Bundle) -> Result<Value, ZError> {
        crate::export::call(&self.z_with(bundle, self.host.for_method(method_path)), method_path)
    }
}

#[cfg(test)]
mod tests {
    use crate::json;

    use super::*;
    use crate::app::{Create, Operation, Search, Trigger};
    use crate::request::Request;

    fn get(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
        let url = format!("https://api.test/{}", bundle.input_str("path").unwrap_or_default());
        Ok(z.request(Request::get(url).param("q", "a b"))?.data.unwrap_or_default())
    }

    fn key(mut request: Request, z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
        request.set_header("X-Key", z.env("KEY").unwrap_or_else(|| "none".into()));
        Ok(request)
    }

    fn app() -> App {
        App::new("1.0.0")
            .before_request(key)
            .trigger(Trigger::new("t", "T").operation(Operation::polling().perform(get)))
            .search(
                Search::new("s", "S").operation(Operation::new().perform_request(Request::get("https://api.test/s"))),
            )
    }

    fn input(path: &str) -> Bundle {
        let mut bundle = Bundle::default();
        bundle.input_data.insert("path".into(), json!(path));
        bundle
    }

    #[test]
    fn replies_come_in_order_the_last_repeating_and_requests_are_recorded() {
        let api = FakeHttp::new().on("get", "https://api.test/items", Reply::json(json!([1]))).on(
            "GET",
            "https://api.test/items",
            Reply::json(json!([2])),
        );
        let call = TestCall::new(app(), &api).env("KEY", "k1");
        let results: Vec<Value> =
            (0..3).map(|_| call.run("triggers.t.operation.perform", input("items")).unwrap()).collect();
        assert_eq!(results, [json!([1]), json!([2]), json!([2])]);
        let sent = api.sent();
        assert_eq!(sent.len(), 3);
        assert_eq!((sent[0].method.as_str(), sent[0].url.as_str()), ("GET", "https://api.test/items?q=a%20b"));
        assert_eq!(sent[0].header("x-key"), Some("k1"), "beforeRequest ran, with the test's environment");
    }

    #[test]
    fn a_url_with_a_query_matches_whole_and_an_unmatched_request_is_named() {
        let api = FakeHttp::new().on("GET", "https://api.test/x?q=a%20b", Reply::text("yes"));
        let call = TestCall::new(app(), &api);
        assert_eq!(call.run("triggers.t.operation.perform", input("x")).unwrap(), Value::Null, "text is no JSON");
        let error = call.run("triggers.t.operation.perform", input("y")).unwrap_err();
        assert_eq!(error, ZError::general("testing: no canned response for GET https://api.test/y?q=a%20b"));
        assert_eq!(api.sent()[1].header("X-Key"), Some("none"), "the process's environment is not visible");
    }

    #[test]
    fn shorthand_requests_and_throw_for_status_run_as_in_a_component() {
        let api = FakeHttp::new().on(
            "GET",
            "https://api.test/s",
            Reply::json(json!({"error": "no"})).with_status(500).header("X-Id", "7"),
        );
        let error = TestCall::new(app(), &api).run("searches.s.operation.perform", Bundle::default()).unwrap_err();
        assert!(matches!(&error, ZError::Response { status: 500, .. }), "{error:?}");
        let body =
            Sent { method: "POST".into(), url: String::new(), headers: vec![], body: Some(b"{\"a\":1}".to_vec()) };
        assert_eq!((body.json(), body.text()), (Some(json!({"a": 1})), "{\"a\":1}".to_string()));
    }

    fn report(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
        let id = bundle.input("id").cloned().unwrap_or_default();
        Ok(json!({
            "summary": z.dehydrate("summary", json!({"id": id}))?,
            "pdf": z.dehydrate_file("hydrators.pdf", json!({"id": id, "format": "a4"}))?,
        }))
    }

    fn pdf(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
        let id = bundle.input_str("id").unwrap_or_default();
        Ok(json!(z.stash_file(Request::get(format!("https://api.test/reports/{id}.pdf")))?))
    }

    fn everything_else(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
        let before = z.cursor().get();
        z.cursor().set("page-2");
        z.console().warn("slow");
        let text = z.stash_file("hello")?;
        let named = z.stash_file_with(vec![1u8, 2], Some(2), Some("a.bin"), None)?;
        let callback = z.generate_callback_url()?;
        Ok(json!({"before": before, "text": text, "named": named, "callback": callback}))
    }

    fn with_id(id: &str) -> Bundle {
        let mut bundle = Bundle::default();
        bundle.input_data.insert("id".into(), json!(id));
        bundle
    }

    fn hydrating_app() -> App {
        App::new("1.0.0")
            .create(Create::new("report", "Report").operation(Operation::new().perform(report)))
            .create(Create::new("other", "Other").operation(Operation::new().perform(everything_else)))
            .hydrator("summary", get)
            .hydrator("pdf", pdf)
    }

    #[test]
    fn dehydrating_returns_a_test_pointer_and_records_what_it_names() {
        let call = TestCall::new(hydrating_app(), &FakeHttp::new());
        let result = call.run("creates.report.operation.perform", with_id("7")).unwrap();
        let summary = Dehydrated {
            kind: PointerKind::Method,
            method: "hydrators.summary".into(),
            input_data: json!({"id": "7"}),
        };
        let pdf = Dehydrated {
            kind: PointerKind::File,
            method: "hydrators.pdf".into(),
            input_data: json!({"id": "7", "format": "a4"}),
        };
        assert_eq!(call.dehydrated(), [summary.clone(), pdf.clone()]);
        let pointer = result["pdf"].as_str().unwrap();
        // The signed shape: base64 of the unsigned pointer's JSON, then the test signature.
        let json = r#"{"type":"file","method":"hydrators.pdf","bundle":{"id":"7","format":"a4"}}"#;
        assert_eq!(pointer, format!("hydrate|||{}:{TEST_SIGNATURE}|||hydrate", STANDARD.encode(json)));
        assert!(matches!(dehydrate::parse(pointer), Some(Pointer::Signed { .. })));
        assert_eq!(Dehydrated::read(pointer), Some(pdf));
        assert_eq!(Dehydrated::read(result["summary"].as_str().unwrap()), Some(summary));
        let sealed_elsewhere = format!("hydrate|||{}:c2lnbmF0dXJl|||hydrate", STANDARD.encode(json));
        assert_eq!(Dehydrated::read(&sealed_elsewhere), None, "only test pointers are read");
        assert_eq!(Dehydrated::read("hydrate|||{}|||hydrate"), None);
    }

    #[test]
    fn dehydrating_a_function_that_is_no_hydrator_fails_as_on_the_host() {
        let call = TestCall::new(hydrating_app(), &FakeHttp::new());
        let z = call.z(Bundle::default());
        let error = z.dehydrate("creates.other.operation.perform", json!({})).unwrap_err();
        assert_eq!(error, ZError::general("creates.other.operation.perform is not a hydrator of this integration"));
        let error = z.dehydrate("missing", json!({})).unwrap_err();
        assert!(error.to_string().contains("could not find your function"), "{error}");
        assert_eq!(call.dehydrated(), []);
    }

    #[test]
    fn a_hydrator_stashes_the_file_its_request_downloads() {
        let api = FakeHttp::new().on(
            "GET",
            "https://api.test/reports/7.pdf",
            Reply::text("%PDF-1.4")
                .header("content-type", "application/pdf")
                .header("content-disposition", "attachment; filename=\"report-7.pdf\""),
        );
        let call = TestCall::new(hydrating_app(), &api);
        let url = call.run("hydrators.pdf", with_id("7")).unwrap();
        let stashed = call.stashed();
        assert_eq!(url, json!("https://stash.zapwasm.test/files/1"));
        assert_eq!(
            (stashed[0].filename.as_str(), stashed[0].content_type.as_str(), stashed[0].text()),
            ("report-7.pdf", "application/pdf", "%PDF-1.4".to_string())
        );
        assert_eq!(api.sent()[0].header("x-key"), None, "a stashed request skips beforeRequest, as on the host");
        let error = call.run("hydrators.pdf", with_id("8")).unwrap_err();
        assert_eq!(error, ZError::general("testing: no canned response for GET https://api.test/reports/8.pdf"));
        let api = FakeHttp::new().on("GET", "https://api.test/reports/9.pdf", Reply::status(404));
        let error = TestCall::new(hydrating_app(), &api).run("hydrators.pdf", with_id("9")).unwrap_err();
        assert_eq!(error, ZError::general("testing: the file to stash answered 404 at https://api.test/reports/9.pdf"));
    }

    #[test]
    fn cursor_stash_console_and_callback_urls_answer_in_the_test() {
        let call = TestCall::new(hydrating_app(), &FakeHttp::new()).cursor("page-1");
        let result = call.run("creates.other.operation.perform", Bundle::default()).unwrap();
        assert_eq!(
            result,
            json!({
                "before": "page-1",
                "text": "https://stash.zapwasm.test/files/1",
                "named": "https://stash.zapwasm.test/files/2",
                "callback": "https://callbacks.zapwasm.test/1",
            })
        );
        assert_eq!(call.cursor_value().as_deref(), Some("page-2"));
        assert_eq!(call.logs(), [(Level::Warn, "slow".to_string())]);
        assert_eq!(call.callback_urls(), ["https://callbacks.zapwasm.test/1"]);
        let stashed = call.stashed();
        assert_eq!(
            (stashed[0].filename.as_str(), stashed[0].content_type.as_str(), stashed[0].text()),
            ("unnamedfile.txt", "text/plain", "hello".to_string())
        );
        assert_eq!(
            (stashed[1].filename.as_str(), stashed[1].content_type.as_str(), stashed[1].known_length),
            ("a.bin", "application/octet-stream", Some(2))
        );
        assert_eq!(stashed[1].data, [1, 2]);
        let stashing_trigger =
            hydrating_app().trigger(Trigger::new("t", "T").operation(Operation::polling().perform(everything_else)));
        let error = TestCall::new(stashing_trigger, &FakeHttp::new())
            .run("triggers.t.operation.perform", Bundle::default())
            .unwrap_err();
        assert_eq!(error, ZError::general("Files can only be stashed within a create or hydration function/method."));
        let fresh = TestCall::new(hydrating_app(), &FakeHttp::new());
        assert_eq!(fresh.run("creates.other.operation.perform", Bundle::default()).unwrap()["before"], Value::Null);
    }
}
