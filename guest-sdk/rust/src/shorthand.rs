//! Shorthand requests: a request object in the definition in place of a
//! function, with `{{bundle.*}}` and `{{process.env.*}}` curlies rendered at
//! call time; and the check that a plain `z.request` holds none.
//!
//! How one string renders is a rule the host shares
//! ([`zapwasm_rules::curly`]); this module applies it to the parts of a
//! [`Request`]. [`crate::lifecycle`] renders the app's requestTemplate and
//! shorthand requests with [`rendered`] and refuses curlies in a plain
//! request with [`reject_curlies`]; [`crate::export`] turns an OAuth
//! `authorizeUrl` into a URL with [`authorize_url`].

use crate::Bundle;
use crate::Value;
use zapwasm_rules::curly::{CurlyInRequest, Place, Renderer};
use zapwasm_rules::url_params;

use crate::error::ZError;
use crate::request::{Body, Request};

/// The request with its curlies rendered against `bundle` and the
/// integration's environment.
pub(crate) fn rendered(bundle: &Bundle, request: &Request) -> Result<Request, ZError> {
    let bundle = crate::to_value(bundle).unwrap_or(Value::Null);
    let env = |name: &str| std::env::var(name).ok();
    render_request(&Renderer::new(&bundle, &env), request)
}

/// The request with its URL, header values, params and body (and `json`
/// and `form`) rendered, each by its place's rule.
fn render_request(renderer: &Renderer<'_, Value>, request: &Request) -> Result<Request, ZError> {
    let mut rendered = request.clone();
    rendered.url = renderer.render_text(&request.url, Place::Url)?;
    for (_, value) in &mut rendered.headers {
        *value = renderer.render_text(value, Place::Header)?;
    }
    for (_, value) in &mut rendered.params {
        *value = renderer.render_json(value, Place::Param)?;
    }
    rendered.body = match &request.body {
        Some(Body::Text(text)) => Some(match renderer.render(text, Place::Body)? {
            Value::String(text) => Body::Text(text),
            other => Body::Json(other),
        }),
        Some(Body::Json(value)) => Some(Body::Json(renderer.render_json(value, Place::Body)?)),
        other => other.clone(),
    };
    for value in [&mut rendered.json, &mut rendered.form].into_iter().flatten() {
        *value = renderer.render_json(value, Place::Body)?;
    }
    Ok(rendered)
}

/// Refuses a plain `z.request` whose URL, headers, params or body hold a
/// platform curly: only shorthand requests are rendered (other `{{..}}`
/// may be the API's own templates, so they pass). The parts are looked at
/// as the reference runtime looks at them, after `form` or `json` became
/// the body: `url`, `headers.<name>`, `params.<key>...`, `body...`; the
/// error names the first string found and its attribute.
pub(crate) fn reject_curlies(request: &Request) -> Result<(), ZError> {
    let body = match (&request.body, &request.form, &request.json) {
        (Some(Body::Text(text)), _, _) => CurlyInRequest::in_text("body", text),
        (Some(Body::Json(value)), _, _) | (None, Some(value), _) | (None, None, Some(value)) => {
            CurlyInRequest::in_value("body", value)
        }
        (Some(Body::Bytes(_)), _, _) | (None, None, None) => None,
    };
    let found = CurlyInRequest::in_text("url", &request.url)
        .or_else(|| {
            request.headers.iter().find_map(|(name, value)| CurlyInRequest::in_text(&format!("headers.{name}"), value))
        })
        .or_else(|| {
            request.params.iter().find_map(|(key, value)| CurlyInRequest::in_value(&format!("params.{key}"), value))
        })
        .or(body);
    match found {
        Some(found) => Err(ZError::General(found.to_string())),
        None => Ok(()),
    }
}

/// Renders an OAuth `authorizeUrl` against `bundle` and the environment
/// into the URL the user is sent to, its params appended and encoded as
/// the host encodes a request's. Nothing is sent.
pub(crate) fn authorize_url(bundle: &Bundle, request: &Request) -> Result<Value, ZError> {
    let mut request = rendered(bundle, request)?;
    url_params::move_query_into_params(&mut request.url, &mut request.params);
    Ok(Value::String(request.url_with_params()))
}

#[cfg(test)]
mod tests {
    use crate::json;

    use super::*;

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

    // How single strings render is the rules crate's, checked by its
    // vectors (`wit/rules/vectors/curly_render.json`).

    #[test]
    fn a_request_renders_url_headers_params_and_body() {
        let bundle = bundle();
        let request = Request::post("https://{{bundle.authData.sub}}.api.test/x")
            .header("Authorization", "Bearer {{bundle.authData.key}}")
            .param("id", "{{bundle.inputData.id}}")
            .param("gone", "{{bundle.inputData.gone}}")
            .body(json!({"tags": "{{bundle.inputData.tags}}", "name": "{{bundle.inputData.name}}"}));
        let rendered = render_request(&Renderer::new(&bundle, &env), &request).unwrap();
        assert_eq!(rendered.url, "https://acme.api.test/x");
        assert_eq!(rendered.headers[0].1, "Bearer secret");
        assert_eq!(rendered.params["id"], json!(7));
        assert_eq!(rendered.params["gone"], json!("{{bundle.inputData.gone}}"));
        assert_eq!(rendered.body, Some(Body::Json(json!({"tags": ["a", "b"], "name": "Ada L"}))));
        let whole = Request::post("u").body("{{bundle.inputData.obj}}");
        let rendered = render_request(&Renderer::new(&bundle, &env), &whole).unwrap();
        assert_eq!(rendered.body, Some(Body::Json(json!({"x": 1}))));
    }

    #[test]
    fn a_plain_request_with_curlies_is_refused_naming_the_value_and_its_attribute() {
        let attribute = |request: Request| match reject_curlies(&request) {
            Err(ZError::General(message)) => {
                let (_, tail) = message.split_once("Value in violation: ").expect("the value is named");
                tail.to_string()
            }
            other => panic!("expected the curly error, got {other:?}"),
        };
        let error = reject_curlies(&Request::get("https://api.test/{{bundle.inputData.id}}")).unwrap_err();
        assert_eq!(
            error,
            ZError::general(
                "z.request() no longer supports {{bundle.*}} or {{process.*}} as of v17 unless it's used in a \
                 shorthand request defined by the integration. Use the values from bundle in your code instead. \
                 Value in violation: \"https://api.test/{{bundle.inputData.id}}\" in attribute \"url\"."
            )
        );
        assert_eq!(
            attribute(Request::get("u").header("X-Key", "{{ process.env.KEY }}")),
            r#""{{ process.env.KEY }}" in attribute "headers.X-Key"."#
        );
        assert_eq!(
            attribute(Request::post("u").json(json!({"a": ["ok", "{{bundle.authData.k}}"]}))),
            r#""{{bundle.authData.k}}" in attribute "body.a.1"."#
        );
        assert_eq!(
            attribute(Request::post("u").form(json!({"f": "{{bundle.inputData.f}}"}))),
            r#""{{bundle.inputData.f}}" in attribute "body.f"."#
        );
        assert_eq!(
            attribute(Request::post("u").body("id={{bundle.inputData.id}}")),
            r#""id={{bundle.inputData.id}}" in attribute "body"."#
        );
        assert_eq!(
            attribute(Request::get("u").param("a", "ok").param("x", "{{bundle.inputData.x}}")),
            r#""{{bundle.inputData.x}}" in attribute "params.x"."#
        );
        let api_template = Request::post("u").body("Hello {{name}}");
        assert!(reject_curlies(&api_template).is_ok());
    }
}
