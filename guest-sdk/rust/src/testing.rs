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
//! with `zapwasm test` and recorded fixtures. Only HTTP and the environment
//! are faked: the cursor, stashing, logging and callback URLs are the
//! host's imports, which a native test cannot reach (calling them panics).

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;
use zapwasm_rules::Bundle;
use zapwasm_rules::url_params::{ParamOptions, url_with_params};

use crate::app::App;
use crate::bindings::zapwasm::integration::http as wire;
use crate::error::ZError;
use crate::lifecycle::Transport;
use crate::z::{Invocation, Z};

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

/// A call of an app in a native test: the app, the fake API its requests
/// go to, and the environment `z.env` sees (only what was set here).
#[derive(Clone)]
pub struct TestCall {
    app: App,
    http: FakeHttp,
    env: Vec<(String, String)>,
}

impl TestCall {
    /// Calls of `app` whose requests go to `http`.
    pub fn new(app: App, http: &FakeHttp) -> TestCall {
        TestCall { app, http: http.clone(), env: Vec::new() }
    }

    /// Sets an environment variable for `z.env`.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> TestCall {
        self.env.push((name.into(), value.into()));
        self
    }

    /// A `Z` for a call with `bundle`: pass it to a perform or a middleware.
    pub fn z(&self, bundle: Bundle) -> Z {
        let invocation = Invocation::new(self.app.clone(), bundle, Box::new(self.http.clone()));
        Z::new(invocation.with_env(self.env.clone()))
    }

    /// Runs the method at `method_path` (a function, a shorthand request,
    /// an OAuth authorize URL) with `bundle`, as the host would, and
    /// returns its result.
    pub fn run(&self, method_path: &str, bundle: Bundle) -> Result<Value, ZError> {
        crate::export::call(&self.z(bundle), method_path)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::{Operation, Search, Trigger};
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
}
