//! Shorthand requests: a request object in the definition in place of a
//! function, with `{{bundle.*}}` and `{{process.env.*}}` curlies rendered at
//! call time; and the check that a plain `z.request` holds none.
//!
//! [`crate::export`] runs a shorthand request through [`perform`];
//! [`crate::lifecycle`] renders the app's requestTemplate with [`Curlies`]
//! and refuses curlies in a plain request with [`reject_curlies`].

use serde_json::{Map, Value};

use crate::error::ZError;
use crate::lifecycle::{self, Origin};
use crate::request::{Body, Request, value_text};
use crate::z::Z;

/// Where a string sits in a request: decides what a missing value becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The URL: a missing value renders as "".
    Url,
    /// A header value: a missing value renders as "".
    Header,
    /// A param: a missing value keeps the curly's text, which the host sends
    /// empty or drops (`removeMissingValuesFrom.params`).
    Param,
    /// The body: a missing value renders as "".
    Body,
}

/// What a curly's expression stands for.
enum Lookup {
    /// Not a `bundle.` or `process.env.` expression: left as written.
    Foreign,
    /// Ours, but nothing is there.
    Missing,
    /// The value.
    Found(Value),
}

/// A curly in a text: its byte range and trimmed expression.
struct Curly<'t> {
    start: usize,
    end: usize,
    expression: &'t str,
}

/// Every `{{...}}` in `text`, in order.
fn curlies(text: &str) -> Vec<Curly<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        found.push(Curly { start: open, end: close + 2, expression: text[open + 2..close].trim() });
        from = close + 2;
    }
    found
}

const INTERPOLATION_ERROR: &str = "Cannot reliably interpolate objects or arrays into a string";

/// Renders curlies against a bundle (as JSON) and an environment.
pub(crate) struct Curlies<'a> {
    bundle: &'a Value,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Curlies<'a> {
    /// Curlies looked up in `bundle` (the bundle's JSON) and `env`.
    pub(crate) fn new(bundle: &'a Value, env: &'a dyn Fn(&str) -> Option<String>) -> Curlies<'a> {
        Curlies { bundle, env }
    }

    fn lookup(&self, expression: &str) -> Lookup {
        if let Some(name) = expression.strip_prefix("process.env.") {
            return match (self.env)(name) {
                Some(value) => Lookup::Found(Value::String(value)),
                None => Lookup::Missing,
            };
        }
        let path = if expression == "bundle" {
            ""
        } else if let Some(path) = expression.strip_prefix("bundle.") {
            path
        } else {
            return Lookup::Foreign;
        };
        let found = path.split('.').filter(|key| !key.is_empty()).try_fold(self.bundle, |value, key| match value {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        });
        match found {
            Some(value) => Lookup::Found(value.clone()),
            None => Lookup::Missing,
        }
    }

    /// Renders one string. A curly that is the whole string gives its raw
    /// value (any type); inside a longer string values become text, and an
    /// object or array is an error.
    pub(crate) fn render(&self, text: &str, place: Place) -> Result<Value, ZError> {
        let found = curlies(text);
        if let [only] = found.as_slice()
            && only.start == 0
            && only.end == text.len()
        {
            return Ok(match self.lookup(only.expression) {
                Lookup::Found(value) => value,
                Lookup::Missing if place != Place::Param => Value::String(String::new()),
                Lookup::Missing | Lookup::Foreign => Value::String(text.to_string()),
            });
        }
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for curly in found {
            out.push_str(&text[from..curly.start]);
            let written = &text[curly.start..curly.end];
            match self.lookup(curly.expression) {
                Lookup::Found(Value::Object(_) | Value::Array(_)) => {
                    return Err(ZError::general(INTERPOLATION_ERROR));
                }
                Lookup::Found(value) => out.push_str(&value_text(&value)),
                Lookup::Missing if place != Place::Param => {}
                Lookup::Missing | Lookup::Foreign => out.push_str(written),
            }
            from = curly.end;
        }
        out.push_str(&text[from..]);
        Ok(Value::String(out))
    }

    /// Renders a string that must stay a string (the URL, a header value).
    fn render_text(&self, text: &str, place: Place) -> Result<String, ZError> {
        match self.render(text, place)? {
            Value::Object(_) | Value::Array(_) => Err(ZError::general(INTERPOLATION_ERROR)),
            value => Ok(value_text(&value)),
        }
    }

    /// Renders every string inside a JSON value.
    fn render_json(&self, value: &Value, place: Place) -> Result<Value, ZError> {
        Ok(match value {
            Value::String(text) => self.render(text, place)?,
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.render_json(item, place)).collect::<Result<_, _>>()?)
            }
            Value::Object(fields) => Value::Object(
                fields.iter().map(|(key, item)| Ok((key.clone(), self.render_json(item, place)?))).collect::<Result<
                    Map<_, _>,
                    ZError,
                >>(
                )?,
            ),
            other => other.clone(),
        })
    }

    /// The request with its URL, header values, params and body rendered.
    pub(crate) fn render_request(&self, request: &Request) -> Result<Request, ZError> {
        let mut rendered = request.clone();
        rendered.url = self.render_text(&request.url, Place::Url)?;
        for (_, value) in &mut rendered.headers {
            *value = self.render_text(value, Place::Header)?;
        }
        for (_, value) in &mut rendered.params {
            *value = self.render_json(value, Place::Param)?;
        }
        rendered.body = match &request.body {
            Some(Body::Text(text)) => Some(match self.render(text, Place::Body)? {
                Value::String(text) => Body::Text(text),
                other => Body::Json(other),
            }),
            Some(Body::Json(value)) => Some(Body::Json(self.render_json(value, Place::Body)?)),
            other => other.clone(),
        };
        for value in [&mut rendered.json, &mut rendered.form].into_iter().flatten() {
            *value = self.render_json(value, Place::Body)?;
        }
        Ok(rendered)
    }
}

/// The first `{{bundle.*}}` or `{{process.*}}` curly in a string, as the
/// reference platform detects them (other `{{..}}` may be the API's own
/// templates, so they pass).
fn platform_curly(text: &str) -> Option<&str> {
    curlies(text)
        .into_iter()
        .find(|curly| curly.expression.starts_with("bundle.") || curly.expression.starts_with("process."))
        .map(|curly| &text[curly.start..curly.end])
}

fn curly_in_json(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => platform_curly(text),
        Value::Array(items) => items.iter().find_map(curly_in_json),
        Value::Object(fields) => fields.values().find_map(curly_in_json),
        _ => None,
    }
}

/// Refuses a plain `z.request` whose URL, headers, params or body hold a
/// platform curly: only shorthand requests are rendered.
pub(crate) fn reject_curlies(request: &Request) -> Result<(), ZError> {
    let found = platform_curly(&request.url)
        .or_else(|| request.headers.iter().find_map(|(_, value)| platform_curly(value)))
        .or_else(|| request.params.values().find_map(curly_in_json))
        .or_else(|| match &request.body {
            Some(Body::Text(text)) => platform_curly(text),
            Some(Body::Json(value)) => curly_in_json(value),
            _ => None,
        })
        .or_else(|| request.json.as_ref().and_then(curly_in_json))
        .or_else(|| request.form.as_ref().and_then(curly_in_json));
    match found {
        Some(curly) => Err(ZError::General(format!(
            "z.request no longer replaces {{{{curlies}}}}: found \"{curly}\" in the request. \
             Use values from bundle directly."
        ))),
        None => Ok(()),
    }
}

/// The message when a shorthand request's answer has no parsed data.
const UNPARSED_RESPONSE: &str = "Response needs to be JSON, form-urlencoded or parsed in middleware.";

/// Runs a shorthand request: renders it against the call's bundle and
/// environment, sends it through `z.request` with throwForStatus on, and
/// returns the parsed body.
pub(crate) fn perform(z: &Z, request: &Request) -> Result<Value, ZError> {
    let mut request = rendered(z, request)?;
    request.skip_throw_for_status = Some(false);
    let response = lifecycle::send(z, vec![request], Origin::Shorthand)
        .pop()
        .unwrap_or_else(|| Err(ZError::general("the request was not sent")))?;
    response.data.ok_or_else(|| ZError::general(UNPARSED_RESPONSE))
}

/// The request with its curlies rendered against the call's bundle and
/// environment.
pub(crate) fn rendered(z: &Z, request: &Request) -> Result<Request, ZError> {
    let bundle = z.bundle_json();
    let env = |name: &str| std::env::var(name).ok();
    Curlies::new(&bundle, &env).render_request(request)
}

/// Renders an OAuth `authorizeUrl` against the call's bundle and
/// environment into the URL the user is sent to, its params appended and
/// encoded as the host encodes a request's. Nothing is sent.
pub(crate) fn authorize_url(z: &Z, request: &Request) -> Result<Value, ZError> {
    let mut request = rendered(z, request)?;
    lifecycle::move_query_into_params(&mut request);
    Ok(Value::String(lifecycle::url_with_params(&request)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundle() -> Value {
        json!({
            "authData": {"key": "secret", "sub": "acme"},
            "inputData": {"id": 7, "tags": ["a", "b"], "obj": {"x": 1}, "name": "Ada L", "none": null},
            "meta": {"page": 2},
            "subscribeData": {"id": "hook-1"},
            "targetUrl": "https://hooks.test/1",
        })
    }

    fn env(name: &str) -> Option<String> {
        (name == "CLIENT_ID").then(|| "client-1".to_string())
    }

    fn render(text: &str, place: Place) -> Result<Value, ZError> {
        let bundle = bundle();
        Curlies::new(&bundle, &env).render(text, place)
    }

    #[test]
    fn a_whole_string_curly_takes_the_raw_value() {
        assert_eq!(render("{{bundle.inputData.id}}", Place::Body).unwrap(), json!(7));
        assert_eq!(render("{{ bundle.inputData.tags }}", Place::Body).unwrap(), json!(["a", "b"]));
        assert_eq!(render("{{bundle.inputData.obj}}", Place::Param).unwrap(), json!({"x": 1}));
        assert_eq!(render("{{bundle.meta.page}}", Place::Param).unwrap(), json!(2));
        assert_eq!(render("{{bundle.inputData.none}}", Place::Body).unwrap(), Value::Null);
    }

    #[test]
    fn curlies_inside_a_longer_string_become_text() {
        assert_eq!(
            render("https://{{bundle.authData.sub}}.api.test/items/{{bundle.inputData.id}}", Place::Url).unwrap(),
            json!("https://acme.api.test/items/7")
        );
        assert_eq!(
            render("{{bundle.subscribeData.id}} -> {{bundle.targetUrl}}", Place::Body).unwrap(),
            json!("hook-1 -> https://hooks.test/1")
        );
    }

    #[test]
    fn an_object_inside_a_longer_string_is_an_error() {
        for text in ["id: {{bundle.inputData.obj}}", "tags {{bundle.inputData.tags}}"] {
            assert_eq!(
                render(text, Place::Body).unwrap_err(),
                ZError::general("Cannot reliably interpolate objects or arrays into a string")
            );
        }
    }

    #[test]
    fn process_env_is_the_integrations_environment() {
        assert_eq!(render("{{process.env.CLIENT_ID}}", Place::Param).unwrap(), json!("client-1"));
        assert_eq!(render("id={{process.env.CLIENT_ID}}", Place::Url).unwrap(), json!("id=client-1"));
        assert_eq!(render("{{process.env.NOPE}}", Place::Header).unwrap(), json!(""));
    }

    #[test]
    fn missing_values_are_empty_except_in_params() {
        assert_eq!(render("a{{bundle.inputData.nope}}b", Place::Url).unwrap(), json!("ab"));
        assert_eq!(render("{{bundle.inputData.nope}}", Place::Body).unwrap(), json!(""));
        assert_eq!(render("{{bundle.inputData.nope}}", Place::Param).unwrap(), json!("{{bundle.inputData.nope}}"));
        assert_eq!(
            render("x{{bundle.authData.nope.deeper}}", Place::Param).unwrap(),
            json!("x{{bundle.authData.nope.deeper}}")
        );
    }

    #[test]
    fn other_curlies_are_left_alone() {
        assert_eq!(render("Hi {{name}}", Place::Body).unwrap(), json!("Hi {{name}}"));
        assert_eq!(render("{{123__chef}}", Place::Url).unwrap(), json!("{{123__chef}}"));
    }

    #[test]
    fn a_request_renders_url_headers_params_and_body() {
        let bundle = bundle();
        let request = Request::post("https://{{bundle.authData.sub}}.api.test/x")
            .header("Authorization", "Bearer {{bundle.authData.key}}")
            .param("id", "{{bundle.inputData.id}}")
            .param("gone", "{{bundle.inputData.gone}}")
            .body(json!({"tags": "{{bundle.inputData.tags}}", "name": "{{bundle.inputData.name}}"}));
        let rendered = Curlies::new(&bundle, &env).render_request(&request).unwrap();
        assert_eq!(rendered.url, "https://acme.api.test/x");
        assert_eq!(rendered.headers[0].1, "Bearer secret");
        assert_eq!(rendered.params["id"], json!(7));
        assert_eq!(rendered.params["gone"], json!("{{bundle.inputData.gone}}"));
        assert_eq!(rendered.body, Some(Body::Json(json!({"tags": ["a", "b"], "name": "Ada L"}))));
        let whole = Request::post("u").body("{{bundle.inputData.obj}}");
        let rendered = Curlies::new(&bundle, &env).render_request(&whole).unwrap();
        assert_eq!(rendered.body, Some(Body::Json(json!({"x": 1}))));
    }

    #[test]
    fn a_plain_request_with_curlies_is_refused() {
        let error = reject_curlies(&Request::get("https://api.test/{{bundle.inputData.id}}")).unwrap_err();
        assert_eq!(
            error,
            ZError::general(
                "z.request no longer replaces {{curlies}}: found \"{{bundle.inputData.id}}\" in the request. \
                 Use values from bundle directly."
            )
        );
        let in_header = Request::get("u").header("X", "{{ process.env.KEY }}");
        assert!(reject_curlies(&in_header).is_err());
        let in_body = Request::post("u").json(json!({"a": ["{{bundle.authData.k}}"]}));
        assert!(reject_curlies(&in_body).is_err());
        let in_params = Request::get("u").param("a", "{{bundle.inputData.a}}");
        assert!(reject_curlies(&in_params).is_err());
        let api_template = Request::post("u").body("Hello {{name}}");
        assert!(reject_curlies(&api_template).is_ok());
    }
}
