//! The request an integration makes: [`Request`], its [`Body`] and
//! [`Redirect`] mode, built with chained methods and kept in the reference
//! platform's JSON shape (so a shorthand request in the definition is the
//! same object an author would write in JavaScript).
//!
//! What happens to a request once it is handed to `z.request` lives in
//! [`crate::lifecycle`]; the answer is a [`crate::Response`].

use crate::{Map, Value};
use serde::{Deserialize, Serialize};
use zapwasm_rules::text::value_text;
use zapwasm_rules::url_params::{self, ParamOptions};

/// An HTTP request, as `z.request` takes it.
///
/// ```
/// use zapwasm_guest::{Request, json};
///
/// let request = Request::post("https://api.example.com/contacts")
///     .header("X-Trace", "1")
///     .param("notify", true)
///     .json(json!({"email": "ada@example.com"}));
/// assert_eq!(request.method, "POST");
/// assert_eq!(request.get_header("x-trace"), Some("1"));
/// ```
///
/// Fields left at their defaults take the platform's: method GET, follow
/// up to 20 redirects, decompress, no timeout beyond the call's deadline, the
/// host's size limit, throwForStatus on, throttling raised early.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RequestJson", into = "RequestJson")]
pub struct Request {
    /// The HTTP method; empty means GET. Upper-cased when sent.
    pub method: String,
    /// The absolute URL. A `?query` in it is moved into `params` when sent.
    pub url: String,
    /// Headers in order, names as given. An empty value drops the header when sent.
    pub headers: Vec<(String, String)>,
    /// Query parameters in order. Arrays become repeated keys; null is sent as an empty value.
    pub params: Map<String, Value>,
    /// The body. A [`Body::Json`] object is JSON-encoded, or form-encoded when
    /// the content type says `application/x-www-form-urlencoded`.
    pub body: Option<Body>,
    /// Shortcut: JSON-encode this as the body, with `application/json; charset=utf-8`.
    pub json: Option<Value>,
    /// Shortcut: form-encode this as the body, with `application/x-www-form-urlencoded`.
    pub form: Option<Value>,
    /// Send the body with a GET too (dropped otherwise).
    pub allow_get_body: bool,
    /// What to do with a redirect.
    pub redirect: Redirect,
    /// Maximum redirect hops (default 20).
    pub follow: Option<u32>,
    /// Accept gzip/deflate/br and decode the body (default true).
    pub compress: Option<bool>,
    /// Timeout in milliseconds; 0 or unset means only the call's deadline applies.
    pub timeout: Option<u64>,
    /// Maximum response body bytes; 0 or unset means the host's limit.
    pub size: Option<u64>,
    /// Leave the response body unparsed: `data` stays `None`.
    pub raw: bool,
    /// Don't raise for a 4xx/5xx status (default: the app's flag, else false).
    pub skip_throw_for_status: Option<bool>,
    /// Raise ThrottledError on a 429 before afterResponse (default: the app's flag, else true).
    pub throw_for_throttling_early: Option<bool>,
    /// Characters to leave unencoded in param values.
    pub skip_encoding_chars: Option<String>,
    /// Drop params whose value is missing (null, empty, or an unrendered
    /// curly) instead of sending them empty.
    pub remove_missing_values_from_params: bool,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Text, sent as UTF-8.
    Text(String),
    /// Bytes, sent as they are.
    Bytes(Vec<u8>),
    /// A JSON value: an object or array is JSON-encoded (form-encoded under a
    /// form content type), a string is sent as text, null means no body.
    Json(Value),
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::Text(text)
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::Text(text.to_string())
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::Bytes(bytes.to_vec())
    }
}

impl From<Value> for Body {
    fn from(value: Value) -> Body {
        Body::Json(value)
    }
}

/// What to do with a 3xx answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Redirect {
    /// Follow up to `follow` hops (each checked against the egress policy).
    #[default]
    Follow,
    /// Return the 3xx response as it is.
    Manual,
    /// A redirect is an error.
    Error,
}

impl Request {
    /// A request with this method and URL.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Request {
        Request { method: method.into(), url: url.into(), ..Request::default() }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// A PUT request.
    pub fn put(url: impl Into<String>) -> Request {
        Request::new("PUT", url)
    }

    /// A PATCH request.
    pub fn patch(url: impl Into<String>) -> Request {
        Request::new("PATCH", url)
    }

    /// A DELETE request.
    pub fn delete(url: impl Into<String>) -> Request {
        Request::new("DELETE", url)
    }

    /// A HEAD request.
    pub fn head(url: impl Into<String>) -> Request {
        Request::new("HEAD", url)
    }

    /// Adds a header (a second one of the same name is sent too; see [`Request::set_header`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a header, replacing every header of that name whatever its case.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.into()));
    }

    /// Removes every header of that name, whatever its case.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// The first header of that name, whatever its case.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Sets a query parameter (strings, numbers, booleans, null, arrays).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<Value>) -> Request {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Sends `value` as JSON (`application/json; charset=utf-8`).
    pub fn json(mut self, value: Value) -> Request {
        self.json = Some(value);
        self
    }

    /// Sends `value` (an object) form-encoded (`application/x-www-form-urlencoded`).
    pub fn form(mut self, value: Value) -> Request {
        self.form = Some(value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Body>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Sends the body with a GET too.
    pub fn allow_get_body(mut self, allow: bool) -> Request {
        self.allow_get_body = allow;
        self
    }

    /// Sets the redirect mode.
    pub fn redirect(mut self, redirect: Redirect) -> Request {
        self.redirect = redirect;
        self
    }

    /// Sets the maximum number of redirects followed.
    pub fn follow(mut self, hops: u32) -> Request {
        self.follow = Some(hops);
        self
    }

    /// Accept compressed answers and decode them (default true).
    pub fn compress(mut self, compress: bool) -> Request {
        self.compress = Some(compress);
        self
    }

    /// Sets a timeout in milliseconds (0: only the call's deadline).
    pub fn timeout(mut self, milliseconds: u64) -> Request {
        self.timeout = Some(milliseconds);
        self
    }

    /// Sets the maximum response body size in bytes (0: the host's limit).
    pub fn size(mut self, bytes: u64) -> Request {
        self.size = Some(bytes);
        self
    }

    /// Leaves the response body unparsed.
    pub fn raw(mut self, raw: bool) -> Request {
        self.raw = raw;
        self
    }

    /// Don't raise for a 4xx/5xx status: the caller looks at `response.status` itself.
    pub fn skip_throw_for_status(mut self, skip: bool) -> Request {
        self.skip_throw_for_status = Some(skip);
        self
    }

    /// Raise ThrottledError on a 429 before afterResponse (true), or let afterResponse see it.
    pub fn throw_for_throttling_early(mut self, early: bool) -> Request {
        self.throw_for_throttling_early = Some(early);
        self
    }

    /// Characters to leave unencoded in param values.
    pub fn skip_encoding_chars(mut self, chars: impl Into<String>) -> Request {
        self.skip_encoding_chars = Some(chars.into());
        self
    }

    /// Drop params whose value is missing instead of sending them empty.
    pub fn remove_missing_values_from_params(mut self, remove: bool) -> Request {
        self.remove_missing_values_from_params = remove;
        self
    }
}

impl Request {
    /// The URL with the params appended as the host appends them (missing
    /// values empty or dropped, values encoded like `encodeURIComponent`),
    /// before the host's URL parser normalizes it: the URL a response
    /// error names.
    pub(crate) fn url_with_params(&self) -> String {
        let options = ParamOptions {
            skip_encoding_chars: self.skip_encoding_chars.as_deref().unwrap_or_default(),
            remove_missing: self.remove_missing_values_from_params,
        };
        url_params::url_with_params(&self.url, &url_params::pairs(&self.params), &options)
    }
}

/// `z.request("https://...")`: a request with the URL and the default method.
impl From<&str> for Request {
    fn from(url: &str) -> Request {
        Request { url: url.to_string(), ..Request::default() }
    }
}

/// `z.request(url)`: a request with the URL and the default method.
impl From<String> for Request {
    fn from(url: String) -> Request {
        Request { url, ..Request::default() }
    }
}

/// `z.request(&url)`: a request with the URL and the default method.
impl From<&String> for Request {
    fn from(url: &String) -> Request {
        Request::from(url.as_str())
    }
}

/// The reference platform's request object, with only the keys that are set.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RequestJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    method: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    headers: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    params: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<Value>,
    #[serde(skip_serializing_if = "is_false")]
    allow_get_body: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<Redirect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    follow: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compress: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    raw: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_throw_for_status: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    throw_for_throttling_early: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_encoding_chars: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remove_missing_values_from: Option<RemoveMissingValuesFrom>,
}

/// `removeMissingValuesFrom`.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct RemoveMissingValuesFrom {
    params: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl From<Request> for RequestJson {
    fn from(request: Request) -> RequestJson {
        let mut headers = Map::new();
        for (name, value) in request.headers {
            // An object cannot repeat a key: repeated headers are joined, as fetch does.
            let joined = match headers.get(&name).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier}, {value}"),
                None => value,
            };
            headers.insert(name, Value::String(joined));
        }
        RequestJson {
            url: request.url,
            method: request.method,
            headers,
            params: request.params,
            body: request.body.map(|body| match body {
                Body::Text(text) => Value::String(text),
                Body::Bytes(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                Body::Json(value) => value,
            }),
            json: request.json,
            form: request.form,
            allow_get_body: request.allow_get_body,
            redirect: (request.redirect != Redirect::Follow).then_some(request.redirect),
            follow: request.follow,
            compress: request.compress,
            timeout: request.timeout,
            size: request.size,
            raw: request.raw,
            skip_throw_for_status: request.skip_throw_for_status,
            throw_for_throttling_early: request.throw_for_throttling_early,
            skip_encoding_chars: request.skip_encoding_chars,
            remove_missing_values_from: request
                .remove_missing_values_from_params
                .then_some(RemoveMissingValuesFrom { params: true }),
        }
    }
}

impl From<RequestJson> for Request {
    fn from(json: RequestJson) -> Request {
        Request {
            method: json.method,
            url: json.url,
            headers: json.headers.into_iter().map(|(name, value)| (name, value_text(&value))).collect(),
            params: json.params,
            body: json.body.and_then(|body| match body {
                Value::Null => None,
                Value::String(text) => Some(Body::Text(text)),
                other => Some(Body::Json(other)),
            }),
            json: json.json,
            form: json.form,
            allow_get_body: json.allow_get_body,
            redirect: json.redirect.unwrap_or_default(),
            follow: json.follow,
            compress: json.compress,
            timeout: json.timeout,
            size: json.size,
            raw: json.raw,
            skip_throw_for_status: json.skip_throw_for_status,
            throw_for_throttling_early: json.throw_for_throttling_early,
            skip_encoding_chars: json.skip_encoding_chars,
            remove_missing_values_from_params: json.remove_missing_values_from.is_some_and(|remove| remove.params),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn only_set_keys_are_serialized() {
        let request = Request::get("https://api.test/me");
        assert_eq!(crate::to_value(&request).unwrap(), json!({"url": "https://api.test/me", "method": "GET"}));
    }

    #[test]
    fn the_reference_shape_round_trips() {
        let shape = json!({
            "url": "https://api.test/{{bundle.inputData.id}}",
            "method": "POST",
            "headers": {"X-Key": "{{bundle.authData.key}}"},
            "params": {"a": 1, "b": ["x", "y"]},
            "body": {"name": "n"},
            "allowGetBody": true,
            "redirect": "manual",
            "follow": 3,
            "compress": false,
            "timeout": 1000,
            "size": 10,
            "raw": true,
            "skipThrowForStatus": true,
            "throwForThrottlingEarly": false,
            "skipEncodingChars": ":",
            "removeMissingValuesFrom": {"params": true},
        });
        let request: Request = crate::from_value(shape.clone()).unwrap();
        assert_eq!(request.redirect, Redirect::Manual);
        assert_eq!(request.body, Some(Body::Json(json!({"name": "n"}))));
        assert!(request.remove_missing_values_from_params);
        assert_eq!(crate::to_value(&request).unwrap(), shape);
    }

    #[test]
    fn header_values_of_other_types_become_text() {
        let request: Request = crate::from_value(json!({"url": "u", "headers": {"a": 1, "b": null}})).unwrap();
        assert_eq!(request.headers, [("a".to_string(), "1".to_string()), ("b".to_string(), String::new())]);
    }

    #[test]
    fn set_header_replaces_whatever_the_case() {
        let mut request = Request::get("u").header("content-type", "text/plain");
        request.set_header("Content-Type", "application/json");
        assert_eq!(request.headers, [("Content-Type".to_string(), "application/json".to_string())]);
    }
}
