//! Requests that start a call: a callback's POST (performResume), a REST
//! hook's delivery (a hook trigger's perform). The embedder's receiver
//! hands the request over as it arrived; this module builds the bundle's
//! `rawRequest` and `cleanedRequest` from it (BEHAVIOUR.md, "Requests that
//! start a call").

use serde_json::{Map, Value};

/// An HTTP request as a receiver got it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The query string, without the `?`.
    pub query: String,
    /// The headers, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl IncomingRequest {
    /// A POST with a JSON body.
    pub fn json(body: &Value) -> IncomingRequest {
        IncomingRequest {
            method: "POST".into(),
            query: String::new(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The sender's ID of this delivery, which its retries repeat: the
    /// first of the headers senders use for it (`webhook-id` of Standard
    /// Webhooks, `svix-id`, `X-GitHub-Delivery`, `X-Shopify-Webhook-Id`,
    /// `X-Gitlab-Event-UUID`, `X-Delivery-Id`, `Idempotency-Key`), else the
    /// `id` of a Stripe-style event body (`{"object": "event", "id": ...}`).
    /// Used to run a delivery once however often it is sent.
    pub fn delivery_id(&self) -> Option<String> {
        const HEADERS: [&str; 7] = [
            "webhook-id",
            "svix-id",
            "x-github-delivery",
            "x-shopify-webhook-id",
            "x-gitlab-event-uuid",
            "x-delivery-id",
            "idempotency-key",
        ];
        let from_header = HEADERS.iter().find_map(|name| self.header(name)).map(str::trim).filter(|id| !id.is_empty());
        if let Some(id) = from_header {
            return Some(id.to_string());
        }
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        match (body.get("object").and_then(Value::as_str), body.get("id").and_then(Value::as_str)) {
            (Some("event"), Some(id)) if !id.is_empty() => Some(id.to_string()),
            _ => None,
        }
    }

    /// `bundle.rawRequest`: `{method, querystring, headers, content}`, the
    /// query and the body as text, header names in Camel-Case with every
    /// header but Content-Type and Content-Length prefixed `Http-`
    /// (`X-Time-GMT` becomes `Http-X-Time-Gmt`). A header sent twice keeps
    /// its values joined by `, `.
    pub fn raw_request(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let name = raw_header_name(name);
            match headers.get_mut(&name) {
                Some(Value::String(earlier)) => {
                    earlier.push_str(", ");
                    earlier.push_str(value);
                }
                _ => {
                    headers.insert(name, Value::String(value.clone()));
                }
            }
        }
        serde_json::json!({
            "method": self.method.to_ascii_uppercase(),
            "querystring": self.query,
            "headers": headers,
            "content": String::from_utf8_lossy(&self.body),
        })
    }

    /// `bundle.cleanedRequest`: the payload, parsed. A JSON body is its
    /// value; a form body (`application/x-www-form-urlencoded`) an object
    /// of its fields; an empty body the query string as an object; any
    /// other body `{"content": <text>}` with the query's fields.
    pub fn cleaned_request(&self) -> Value {
        let query = || Value::Object(zapwasm_rules::form::decode(&self.query));
        let text = String::from_utf8_lossy(&self.body);
        if text.trim().is_empty() {
            return query();
        }
        let media_type = self.header("content-type").and_then(|t| t.split(';').next()).map(str::trim);
        if media_type.is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
            return Value::Object(zapwasm_rules::form::decode(&text));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(value) => value,
            Err(_) => {
                let Value::Object(mut fields) = query() else { unreachable!("decode_form makes an object") };
                fields.insert("content".into(), Value::String(text.into_owned()));
                Value::Object(fields)
            }
        }
    }
}

/// `x-time-GMT` -> `Http-X-Time-Gmt`; `content-type` -> `Content-Type`.
fn raw_header_name(name: &str) -> String {
    let camel = name
        .trim()
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-");
    match camel.as_str() {
        "Content-Type" | "Content-Length" => camel,
        _ => format!("Http-{camel}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(headers: &[(&str, &str)], query: &str, body: &str) -> IncomingRequest {
        IncomingRequest {
            method: "post".into(),
            query: query.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn raw_requests_prefix_and_camel_case_header_names() {
        let raw = request(
            &[
                ("X-Time-GMT", "12:00"),
                ("content-type", "application/json"),
                ("CONTENT-LENGTH", "7"),
                ("x-a", "1"),
                ("X-A", "2"),
            ],
            "a=1&b=2",
            r#"{"x":1}"#,
        )
        .raw_request();
        assert_eq!(
            raw,
            json!({
                "method": "POST",
                "querystring": "a=1&b=2",
                "headers": {"Http-X-Time-Gmt": "12:00", "Content-Type": "application/json", "Content-Length": "7", "Http-X-A": "1, 2"},
                "content": "{\"x\":1}",
            })
        );
    }

    #[test]
    fn delivery_ids_come_from_the_senders_headers_or_an_event_body() {
        assert_eq!(request(&[("Webhook-Id", "msg_1")], "", "{}").delivery_id().as_deref(), Some("msg_1"));
        assert_eq!(request(&[("X-GitHub-Delivery", " d-2 ")], "", "").delivery_id().as_deref(), Some("d-2"));
        let stripe = request(&[], "", r#"{"object":"event","id":"evt_3"}"#);
        assert_eq!(stripe.delivery_id().as_deref(), Some("evt_3"));
        assert_eq!(request(&[], "", r#"{"id":"contact-4"}"#).delivery_id(), None);
        assert_eq!(request(&[("webhook-id", "  ")], "", "").delivery_id(), None);
    }

    #[test]
    fn cleaned_requests_are_the_parsed_payload() {
        assert_eq!(request(&[], "", r#"{"foo":"bar"}"#).cleaned_request(), json!({"foo": "bar"}));
        assert_eq!(request(&[], "", "[1,2]").cleaned_request(), json!([1, 2]));
        let form = request(&[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], "", "a=1&b=x+y");
        assert_eq!(form.cleaned_request(), json!({"a": "1", "b": "x y"}));
        assert_eq!(request(&[], "id=7&s=a%20b", "").cleaned_request(), json!({"id": "7", "s": "a b"}));
        assert_eq!(request(&[], "id=7", "not json").cleaned_request(), json!({"id": "7", "content": "not json"}));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// What hook deliveries and callbacks are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "\r\n",
        "\r\n\r\n",
        ": ",
        "Content-Type: application/json\r\n",
        "content-type: application/x-www-form-urlencoded; charset=utf-8\r\n",
        "X-Hook-Signature: ",
        "-",
        "--",
        "ß",
        "ǅ",
        "ﬃ",
        "?",
        "&",
        "=",
    ];

    /// A request as a receiver hands it over, read from the raw HTTP text:
    /// the request line's method and query, `Name: value` header lines, and
    /// the bytes after the blank line as the body.
    fn incoming(bytes: &[u8]) -> IncomingRequest {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|at| (at, at + 4));
        let (head, body) = match split {
            Some((end, body)) => (&bytes[..end], &bytes[body..]),
            None => (bytes, &[][..]),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut words = request_line.split(' ');
        let method = words.next().unwrap_or_default().to_string();
        let query =
            words.next().and_then(|target| target.split_once('?')).map(|(_, q)| q.to_string()).unwrap_or_default();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        IncomingRequest { method, query, headers, body: body.to_vec() }
    }

    /// Hook deliveries and callback POSTs (anyone who has the URL sends
    /// them): the bundle's `rawRequest` and `cleanedRequest` are built
    /// without panicking, the header names as the platform writes them.
    #[test]
    fn incoming_requests_become_raw_and_cleaned_requests() {
        fuzzing::fuzz("incoming", TOKENS, |input| {
            let request = incoming(&input.0);
            let raw = request.raw_request();
            prop_assert_eq!(&raw["method"], &Value::String(request.method.to_ascii_uppercase()));
            prop_assert_eq!(&raw["querystring"], &Value::String(request.query.clone()));
            prop_assert_eq!(&raw["content"], &Value::String(String::from_utf8_lossy(&request.body).into_owned()));
            let Some(headers) = raw["headers"].as_object() else { return Err(TestCaseError::fail("no headers")) };
            prop_assert!(headers.len() <= request.headers.len());
            for (name, value) in headers {
                prop_assert!(name == "Content-Type" || name == "Content-Length" || name.starts_with("Http-"), "{name}");
                prop_assert!(value.is_string());
            }
            let cleaned = request.cleaned_request();
            if String::from_utf8_lossy(&request.body).trim().is_empty() {
                prop_assert_eq!(cleaned, Value::Object(zapwasm_rules::form::decode(&request.query)));
            }
            Ok(())
        });
    }
}
