//! The guest half of `z.request`, in the reference platform's order:
//!
//! 1. defaults and body coercion ([`prepare`]): the method upper-cased, the
//!    params composed (the template's, the request's, then the URL's own
//!    query), the app's requestTemplate (rendered) merged under the request,
//!    `json`/`form`/object bodies encoded, GET bodies dropped,
//!    `skipThrowForStatus` and `throwForThrottlingEarly` resolved;
//! 2. the app's beforeRequest middleware, in order, then [`finalize`]
//!    (a text body labelled `text/plain;charset=UTF-8`);
//! 3. the host's `http` import ([`to_wire`], [`Transport`]): auth, params
//!    encoding, egress policy, I/O, redirects, logging, the 401 and 429 checks;
//! 4. the [`Response`] built, the app's afterResponse middleware in order,
//!    then `throw_for_status` unless skipped.
//!
//! This is the SDK's one recursion: [`Z::request`] calls [`send`], which
//! hands the app's middleware a [`Z`] ([`crate::middleware`]), whose
//! `z.request` is refused so the recursion is one level deep.
//!
//! The steps before and after the import are plain functions, tested
//! natively; only [`ImportedHttp`] calls the import.

use crate::Value;
use zapwasm_rules::{form, merge, url_params};

use crate::app::Flags;
use crate::bindings::zapwasm::integration::http as wire;
use crate::error::ZError;
use crate::request::{Body, Redirect, Request};
use crate::response::Response;
use crate::shorthand::{reject_curlies, rendered};
use crate::z::Z;

/// `application/json; charset=utf-8`.
const JSON_TYPE: &str = "application/json; charset=utf-8";
/// `application/x-www-form-urlencoded`.
const FORM_TYPE: &str = "application/x-www-form-urlencoded";
/// What node-fetch labels a string body with when it has no content type.
const TEXT_TYPE: &str = "text/plain;charset=UTF-8";
/// Redirect hops followed when the request does not say.
const DEFAULT_FOLLOW: u32 = 20;

/// Sends wire requests: the host's `http` import, or a stand-in in tests.
pub(crate) trait Transport {
    /// Sends one request.
    fn send(&self, request: &wire::Request) -> Result<wire::Response, ZError>;
    /// Sends several at once; results in the same order.
    fn send_all(&self, requests: &[wire::Request]) -> Vec<Result<wire::Response, ZError>>;
}

/// The host's `http` import.
pub(crate) struct ImportedHttp;

impl Transport for ImportedHttp {
    fn send(&self, request: &wire::Request) -> Result<wire::Response, ZError> {
        wire::send(request).map_err(ZError::from)
    }

    fn send_all(&self, requests: &[wire::Request]) -> Vec<Result<wire::Response, ZError>> {
        wire::send_all(requests).into_iter().map(|result| result.map_err(ZError::from)).collect()
    }
}

/// Who wrote the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The author called `z.request`: platform curlies are refused.
    Author,
    /// A shorthand request from the definition, already rendered.
    Shorthand,
}

/// Runs requests through the whole lifecycle; results in the same order.
/// Several requests go to the host together, so it sends them in parallel.
pub(crate) fn send(z: &Z, requests: Vec<Request>, origin: Origin) -> Vec<Result<Response, ZError>> {
    let app = z.app();
    let middleware_z = z.for_middleware();
    let template = rendered_template(z);
    let prepared: Vec<Result<Request, ZError>> = requests
        .into_iter()
        .map(|request| {
            let request = before_host(request, origin, template.as_ref(), &app.flags)?;
            // The recursion: middleware gets a `Z` (one that refuses z.request).
            let request = app.middleware.before_request(request, &middleware_z, z.bundle())?;
            Ok(finalize(request))
        })
        .collect();
    let wires: Vec<wire::Request> = prepared.iter().flatten().map(to_wire).collect();
    let transport = z.transport();
    let mut answers = match wires.as_slice() {
        [] => Vec::new(),
        [one] => vec![transport.send(one)],
        many => transport.send_all(many),
    }
    .into_iter();
    prepared
        .into_iter()
        .map(|request| {
            let request = request?;
            let answer = answers
                .next()
                .unwrap_or_else(|| Err(ZError::general("the host answered fewer requests than were sent")))?;
            let response = app.middleware.after_response(from_wire(answer, request), &middleware_z, z.bundle())?;
            if !response.skip_throw_for_status {
                response.throw_for_status()?;
            }
            Ok(response)
        })
        .collect()
}

/// The message when a shorthand request's answer has no parsed data.
const UNPARSED_RESPONSE: &str = "Response needs to be JSON, form-urlencoded or parsed in middleware.";

/// Runs a shorthand request from the definition: renders it against the
/// call's bundle and environment, sends it through the whole lifecycle
/// with throwForStatus on, and returns the parsed body.
pub(crate) fn perform_shorthand(z: &Z, request: &Request) -> Result<Value, ZError> {
    let mut request = rendered(z.bundle(), request)?;
    request.skip_throw_for_status = Some(false);
    let response = send(z, vec![request], Origin::Shorthand)
        .pop()
        .unwrap_or_else(|| Err(ZError::general("the request was not sent")))?;
    response.data.ok_or_else(|| ZError::general(UNPARSED_RESPONSE))
}

/// A request made by the host outside `z.request` (`z.stash_file` of a
/// request): the curly check, the template and the defaults, but no
/// middleware.
pub(crate) fn host_request(z: &Z, request: Request) -> Result<wire::Request, ZError> {
    let template = rendered_template(z);
    let request = before_host(request, Origin::Author, template.as_ref(), &z.app().flags)?;
    Ok(to_wire(&finalize(request)))
}

/// Step 1 for one request: the curly check (for the author's requests),
/// then [`prepare`] with the rendered template and the app's flags.
fn before_host(
    request: Request,
    origin: Origin,
    template: Option<&Result<Request, ZError>>,
    flags: &Flags,
) -> Result<Request, ZError> {
    if origin == Origin::Author {
        reject_curlies(&request)?;
    }
    let template = template.map(|rendered| rendered.as_ref().map_err(Clone::clone)).transpose()?;
    Ok(prepare(request, template, flags))
}

/// The app's requestTemplate with its curlies rendered against the call's bundle.
fn rendered_template(z: &Z) -> Option<Result<Request, ZError>> {
    Some(rendered(z.bundle(), z.app().request_template.as_ref()?))
}

/// Step 1: defaults and body coercion, with the (rendered) template merged
/// under the request and the app's flags as defaults.
pub(crate) fn prepare(mut request: Request, template: Option<&Request>, flags: &Flags) -> Request {
    request.method = method_of(&request);
    sugar_body(&mut request);
    // The URL and params as the reference runtime composes them: the
    // template's params, the request's, then the URL's own query.
    url_params::compose(template.map(|t| (t.url.as_str(), &t.params)), &mut request.url, &mut request.params);
    if let Some(template) = template {
        merge_template(&mut request, template);
    }
    coerce_body(&mut request);
    drop_empty_headers(&mut request);
    request.skip_throw_for_status =
        Some(request.skip_throw_for_status.or(flags.skip_throw_for_status).unwrap_or(false));
    request.throw_for_throttling_early =
        Some(request.throw_for_throttling_early.or(flags.throw_for_throttling_early).unwrap_or(true));
    request
}

/// After beforeRequest: encodes whatever body the middleware left unencoded
/// and drops emptied headers, by the same rules as [`prepare`]; then labels
/// a text body that has no content type, as the reference runtime's fetch
/// does when it sends a string (so beforeRequest, as there, does not see
/// the label).
pub(crate) fn finalize(mut request: Request) -> Request {
    request.method = method_of(&request);
    sugar_body(&mut request);
    coerce_body(&mut request);
    drop_empty_headers(&mut request);
    if matches!(request.body, Some(Body::Text(_))) && request.get_header("content-type").is_none() {
        request.set_header("content-type", TEXT_TYPE);
    }
    request
}

/// The upper-cased method, GET when empty.
fn method_of(request: &Request) -> String {
    let method = request.method.trim();
    if method.is_empty() { "GET".to_string() } else { method.to_ascii_uppercase() }
}

/// `form` and `json` become the body (when there is none) with their content type.
fn sugar_body(request: &mut Request) {
    if request.body.is_none()
        && let Some(form) = request.form.take()
    {
        request.body = Some(Body::Json(form));
        request.set_header("content-type", FORM_TYPE);
    }
    if request.body.is_none()
        && let Some(json) = request.json.take()
    {
        request.body = Some(Body::Json(json));
        request.set_header("content-type", JSON_TYPE);
    }
}

/// Merges the template's headers and body under the request's (its URL
/// and params are [`url_params::compose`]'s): the request wins, headers
/// compared by name in any case, two object bodies merged as the reference
/// runtime merges them ([`merge::merge`]).
fn merge_template(request: &mut Request, template: &Request) {
    let mut template = template.clone();
    sugar_body(&mut template);
    let mut headers: Vec<(String, String)> =
        template.headers.into_iter().filter(|(name, _)| request.get_header(name).is_none()).collect();
    headers.append(&mut request.headers);
    request.headers = headers;
    request.body = match (template.body, request.body.take()) {
        (Some(Body::Json(Value::Object(mut under))), Some(Body::Json(Value::Object(over)))) => {
            merge::merge(&mut under, over);
            Some(Body::Json(Value::Object(under)))
        }
        (under, None) => under,
        (_, over) => over,
    };
}

/// The content type's media type (before `;`), trimmed.
fn media_type(request: &Request) -> Option<String> {
    request
        .get_header("content-type")
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// Whether a body counts as empty, as lodash's `isEmpty` judges it.
fn is_empty_body(body: Option<&Body>) -> bool {
    match body {
        None => true,
        Some(Body::Text(text)) => text.is_empty(),
        Some(Body::Bytes(bytes)) => bytes.is_empty(),
        Some(Body::Json(Value::String(text))) => text.is_empty(),
        Some(Body::Json(Value::Array(items))) => items.is_empty(),
        Some(Body::Json(Value::Object(fields))) => fields.is_empty(),
        Some(Body::Json(_)) => true,
    }
}

/// GET and HEAD drop the body (unless allowed and not empty); a JSON body
/// is form-encoded under a form content type, else JSON-encoded with the
/// JSON content type if none is set.
fn coerce_body(request: &mut Request) {
    let bodiless = matches!(request.method.as_str(), "GET" | "HEAD");
    if bodiless && (!request.allow_get_body || is_empty_body(request.body.as_ref())) {
        request.body = None;
    }
    let Some(Body::Json(value)) = request.body.take_if(|body| matches!(body, Body::Json(_))) else {
        return;
    };
    request.body = match value {
        Value::Null => None,
        Value::String(text) => Some(Body::Text(text)),
        value => match media_type(request) {
            Some(media) if media == FORM_TYPE => Some(Body::Text(form::encode(&value))),
            Some(_) => Some(Body::Text(value.to_json())),
            None => {
                request.set_header("content-type", JSON_TYPE);
                Some(Body::Text(value.to_json()))
            }
        },
    };
}

/// A header whose value is empty is not sent.
fn drop_empty_headers(request: &mut Request) {
    request.headers.retain(|(_, value)| !value.is_empty());
}

/// The request as the `http` import takes it.
pub(crate) fn to_wire(request: &Request) -> wire::Request {
    wire::Request {
        method: method_of(request),
        url: request.url.clone(),
        params: url_params::pairs(&request.params),
        headers: request.headers.clone(),
        body: request.body.as_ref().map(|body| match body {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Bytes(bytes) => bytes.clone(),
            Body::Json(value) => value.to_string().into_bytes(),
        }),
        redirect: match request.redirect {
            Redirect::Follow => wire::RedirectMode::Follow,
            Redirect::Manual => wire::RedirectMode::Manual,
            Redirect::Error => wire::RedirectMode::Error,
        },
        follow: request.follow.unwrap_or(DEFAULT_FOLLOW),
        compress: request.compress.unwrap_or(true),
        timeout_ms: request.timeout.unwrap_or(0),
        size: request.size.unwrap_or(0),
        skip_encoding_chars: request.skip_encoding_chars.clone().unwrap_or_default(),
        remove_missing_params: request.remove_missing_values_from_params,
        throw_for_throttling_early: request.throw_for_throttling_early.unwrap_or(true),
    }
}

/// The response to `request` from what the import returned.
pub(crate) fn from_wire(answer: wire::Response, request: Request) -> Response {
    Response::new(request, answer.status, answer.url, answer.redirected, answer.headers, answer.body)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::json;

    use super::*;

    use crate::Bundle;

    use crate::app::App;
    use crate::fake_http::{FakeHttp, answer};
    use crate::z::{Invocation, Z};

    fn text_body(request: &Request) -> &str {
        match &request.body {
            Some(Body::Text(text)) => text,
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    #[test]
    fn defaults_upper_case_the_method_and_resolve_the_flags() {
        let prepared = prepare(Request::new("post", "https://api.test"), None, &Flags::default());
        assert_eq!(prepared.method, "POST");
        assert_eq!(prepared.skip_throw_for_status, Some(false));
        assert_eq!(prepared.throw_for_throttling_early, Some(true));
        let prepared = prepare(Request::from("https://api.test"), None, &Flags::default());
        assert_eq!(prepared.method, "GET");
        let flags = Flags { skip_throw_for_status: Some(true), throw_for_throttling_early: Some(false) };
        let prepared = prepare(Request::get("u"), None, &flags);
        assert_eq!(prepared.skip_throw_for_status, Some(true));
        assert_eq!(prepared.throw_for_throttling_early, Some(false));
        let prepared = prepare(Request::get("u").skip_throw_for_status(false), None, &flags);
        assert_eq!(prepared.skip_throw_for_status, Some(false));
    }

    #[test]
    fn json_becomes_the_body_with_the_json_content_type() {
        let prepared = prepare(Request::post("u").json(json!({"a": 1})), None, &Flags::default());
        assert_eq!(text_body(&prepared), r#"{"a":1}"#);
        assert_eq!(prepared.get_header("Content-Type"), Some(JSON_TYPE));
        assert_eq!(prepared.json, None);
    }

    #[test]
    fn form_becomes_the_body_urlencoded_with_spaces_as_plus() {
        let prepared =
            prepare(Request::post("u").form(json!({"name": "Ada Lovelace", "n": 2})), None, &Flags::default());
        assert_eq!(text_body(&prepared), "name=Ada+Lovelace&n=2");
        assert_eq!(prepared.get_header("content-type"), Some(FORM_TYPE));
    }

    #[test]
    fn an_object_body_is_json_unless_the_content_type_says_form() {
        let prepared = prepare(Request::post("u").body(json!({"a": [1, 2]})), None, &Flags::default());
        assert_eq!(text_body(&prepared), r#"{"a":[1,2]}"#);
        assert_eq!(prepared.get_header("content-type"), Some(JSON_TYPE));

        let prepared = prepare(
            Request::post("u").header("Content-Type", "application/x-www-form-urlencoded").body(json!({"a": "b c"})),
            None,
            &Flags::default(),
        );
        assert_eq!(text_body(&prepared), "a=b+c");

        let prepared = prepare(
            Request::post("u").header("Content-Type", "application/vnd.api+json").body(json!({"a": 1})),
            None,
            &Flags::default(),
        );
        assert_eq!(text_body(&prepared), r#"{"a":1}"#);
        assert_eq!(prepared.get_header("content-type"), Some("application/vnd.api+json"));

        let text = prepare(Request::post("u").body("raw"), None, &Flags::default());
        assert_eq!(text_body(&text), "raw");
        assert_eq!(text.get_header("content-type"), None);
    }

    #[test]
    fn get_drops_the_body_unless_allowed() {
        let prepared = prepare(Request::get("u").json(json!({"a": 1})), None, &Flags::default());
        assert_eq!(prepared.body, None);
        let allowed = prepare(Request::get("u").json(json!({"a": 1})).allow_get_body(true), None, &Flags::default());
        assert_eq!(text_body(&allowed), r#"{"a":1}"#);
        let head = prepare(Request::head("u").body("x"), None, &Flags::default());
        assert_eq!(head.body, None);
    }

    #[test]
    fn a_query_in_the_url_moves_into_params_decoded_after_them_and_winning() {
        let prepared = prepare(
            Request::get("https://api.test/x?a=1&b=two+words&c=%2F&a=3#top").param("b", "mine").param("d", 4),
            None,
            &Flags::default(),
        );
        assert_eq!(prepared.url, "https://api.test/x#top");
        // Compared as text: the order is what goes on the wire.
        assert_eq!(
            Value::Object(prepared.params).to_string(),
            json!({"b": "two words", "d": 4, "a": ["1", "3"], "c": "/"}).to_string()
        );
    }

    #[test]
    fn params_go_template_then_request_then_url_query() {
        let template = Request::new("", "").param("tp", 1).param("shared", "template");
        let request =
            Request::get("https://host/path?x=1 2&y=/&z=a b&shared=url").param("w", 3).param("shared", "mine");
        let prepared = prepare(request, Some(&template), &Flags::default());
        assert_eq!(finalize(prepared).url_with_params(), "https://host/path?tp=1&shared=url&w=3&x=1%202&y=%2F&z=a%20b");
    }

    #[test]
    fn a_text_body_without_a_content_type_is_labelled_when_sent_not_before() {
        let prepared = prepare(Request::post("u").body("raw text"), None, &Flags::default());
        assert_eq!(prepared.get_header("content-type"), None, "beforeRequest sees no label");
        let sent = finalize(prepared);
        assert_eq!(text_body(&sent), "raw text");
        assert_eq!(sent.get_header("content-type"), Some(TEXT_TYPE));

        let json_string = finalize(prepare(Request::post("u").body(json!("text")), None, &Flags::default()));
        assert_eq!(json_string.get_header("content-type"), Some(TEXT_TYPE));
        let typed = finalize(prepare(
            Request::post("u").header("Content-Type", "text/csv").body("a,b"),
            None,
            &Flags::default(),
        ));
        assert_eq!(typed.get_header("content-type"), Some("text/csv"));
        let bytes = finalize(prepare(Request::post("u").body(vec![1u8]), None, &Flags::default()));
        assert_eq!(bytes.get_header("content-type"), None, "bytes are not labelled");
        let json = finalize(prepare(Request::post("u").json(json!({"a": 1})), None, &Flags::default()));
        assert_eq!(json.get_header("content-type"), Some(JSON_TYPE));
    }

    #[test]
    fn the_template_merges_under_the_request() {
        let template = Request::new("", "")
            .header("x-api-key", "template-key")
            .header("Accept", "application/json")
            .header("X-Dropped", "template")
            .param("api_version", "2")
            .param("shared", "template")
            .body(json!({"outer": {"a": 1, "b": 1}, "t": true}));
        let request = Request::post("https://api.test/x")
            .header("X-API-Key", "request-key")
            .header("x-dropped", "")
            .param("shared", "request")
            .body(json!({"outer": {"b": 2}, "r": true}));
        let prepared = prepare(request, Some(&template), &Flags::default());
        assert_eq!(
            prepared.headers,
            [
                ("Accept".to_string(), "application/json".to_string()),
                ("X-API-Key".to_string(), "request-key".to_string()),
                ("content-type".to_string(), JSON_TYPE.to_string()),
            ]
        );
        assert_eq!(Value::Object(prepared.params.clone()), json!({"api_version": "2", "shared": "request"}));
        let body: Value = serde_json::from_str(text_body(&prepared)).unwrap();
        assert_eq!(body, json!({"outer": {"a": 1, "b": 2}, "t": true, "r": true}));

        let with_url =
            prepare(Request::new("", ""), Some(&Request::new("", "https://api.test/base")), &Flags::default());
        assert_eq!(with_url.url, "https://api.test/base");
    }

    #[test]
    fn the_wire_request_carries_the_options_with_their_defaults() {
        let prepared = prepare(Request::post("u").body(vec![1u8, 2]), None, &Flags::default());
        let wire = to_wire(&prepared);
        assert_eq!(wire.method, "POST");
        assert_eq!(wire.body, Some(vec![1, 2]));
        assert_eq!(wire.redirect, wire::RedirectMode::Follow);
        assert_eq!(wire.follow, 20);
        assert!(wire.compress);
        assert_eq!((wire.timeout_ms, wire.size), (0, 0));
        assert!(wire.throw_for_throttling_early);
        assert!(!wire.remove_missing_params);

        let custom = Request::get("u")
            .redirect(Redirect::Manual)
            .follow(2)
            .compress(false)
            .timeout(500)
            .size(1024)
            .skip_encoding_chars(":")
            .remove_missing_values_from_params(true)
            .throw_for_throttling_early(false);
        let wire = to_wire(&custom);
        assert_eq!(wire.redirect, wire::RedirectMode::Manual);
        assert_eq!((wire.follow, wire.compress, wire.timeout_ms, wire.size), (2, false, 500, 1024));
        assert_eq!(wire.skip_encoding_chars, ":");
        assert!(wire.remove_missing_params);
        assert!(!wire.throw_for_throttling_early);
    }

    fn echo_json(request: &wire::Request) -> Result<wire::Response, ZError> {
        let status = if request.url.ends_with("/missing") { 404 } else { 200 };
        Ok(answer(request, status, "application/json", r#"{"ok":true}"#))
    }

    fn mark_request(request: Request, _z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
        Ok(request.header("X-Order", "first"))
    }

    fn mark_again(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
        let order = format!("{},second", request.get_header("x-order").unwrap_or_default());
        request.set_header("X-Order", order);
        let key = bundle.auth_str("key").unwrap_or_default().to_string();
        Ok(request.header("X-Key", key))
    }

    fn request_inside(request: Request, z: &Z, _bundle: &Bundle) -> Result<Request, ZError> {
        z.request("https://api.test/nested")?;
        Ok(request)
    }

    fn tag_response(mut response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
        response.data = Some(json!({"tagged": response.data.take()}));
        Ok(response)
    }

    fn z_for(app: App, bundle: Value) -> (Z, Rc<RefCell<Vec<wire::Request>>>) {
        let (fake, sent) = FakeHttp::new(echo_json);
        let bundle: Bundle = crate::from_value(bundle).unwrap();
        (Z::new(Invocation::new(app, bundle, Box::new(fake))), sent)
    }

    #[test]
    fn middleware_runs_in_order_around_the_host() {
        let app = App::new("1")
            .request_template(Request::new("", "").header("X-Template", "{{bundle.authData.key}}"))
            .before_request(mark_request)
            .before_request(mark_again)
            .after_response(tag_response);
        let (z, sent) = z_for(app, json!({"authData": {"key": "k1"}}));
        let response = z.request("https://api.test/items?page=2").unwrap();
        assert_eq!(response.data, Some(json!({"tagged": {"ok": true}})));
        assert_eq!(response.request.get_header("x-order"), Some("first,second"));
        let sent = sent.borrow();
        let wire = &sent[0];
        assert_eq!(wire.url, "https://api.test/items");
        assert_eq!(wire.params, [("page".to_string(), Some("2".to_string()))]);
        let header = |name: &str| {
            wire.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone())
        };
        assert_eq!(header("x-template").as_deref(), Some("k1"));
        assert_eq!(header("x-key").as_deref(), Some("k1"));
    }

    #[test]
    fn middleware_cannot_make_requests() {
        let app = App::new("1").before_request(request_inside);
        let (z, _) = z_for(app, json!({}));
        assert_eq!(
            z.request("https://api.test/x").unwrap_err(),
            ZError::general("z.request is not available inside middleware")
        );
    }

    #[test]
    fn errors_raise_unless_skipped() {
        let (z, _) = z_for(App::new("1"), json!({}));
        let error = z.request("https://api.test/missing").unwrap_err();
        assert!(matches!(error, ZError::Response { status: 404, .. }), "{error:?}");
        let response = z.request(Request::get("https://api.test/missing").skip_throw_for_status(true)).unwrap();
        assert_eq!(response.status, 404);
        let (z, _) = z_for(App::new("1").skip_throw_for_status(true), json!({}));
        assert_eq!(z.request("https://api.test/missing").unwrap().status, 404);
    }

    #[test]
    fn curlies_in_a_plain_request_are_refused_before_sending() {
        let (z, sent) = z_for(App::new("1"), json!({}));
        let error = z.request("https://api.test/{{bundle.inputData.id}}").unwrap_err();
        assert!(error.to_string().starts_with("z.request() no longer supports {{bundle.*}}"), "{error}");
        assert!(sent.borrow().is_empty());
    }

    #[test]
    fn request_all_keeps_the_order_and_each_result() {
        let (z, sent) = z_for(App::new("1"), json!({}));
        let results = z.request_all(vec![
            Request::get("https://api.test/a"),
            Request::get("https://api.test/{{bundle.x}}"),
            Request::get("https://api.test/missing"),
        ]);
        assert_eq!(sent.borrow().len(), 2);
        assert!(results[0].is_ok());
        assert!(results[1].as_ref().unwrap_err().to_string().contains(r#"in attribute "url""#));
        assert!(matches!(results[2], Err(ZError::Response { status: 404, .. })));
    }
}
