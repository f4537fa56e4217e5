//! The answer to a request: [`Response`], with the body as text and parsed
//! `data`, and `throw_for_status`, which raises the reference platform's
//! response error.
//!
//! [`crate::lifecycle`] builds it from what the host's `http` import
//! returned and runs the app's afterResponse middleware on it.

use crate::{Value, json};
use serde::de::DeserializeOwned;
use zapwasm_rules::form;

use crate::error::{ZError, json_parse_error};
use crate::extensions::Extensions;
use crate::request::Request;

/// The content type whose answers are parsed as a form.
const FORM_TYPE: &str = "application/x-www-form-urlencoded";

/// The answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The final URL, after redirects.
    pub url: String,
    /// Whether a redirect was followed.
    pub redirected: bool,
    /// The headers in the order received, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub content: String,
    /// The body as received.
    pub bytes: Vec<u8>,
    /// The body parsed: a form object when the content type is exactly
    /// `application/x-www-form-urlencoded`, else JSON if it parses, else
    /// `None` (always `None` for a raw request). afterResponse middleware may set it.
    pub data: Option<Value>,
    /// The request as sent (after beforeRequest).
    pub request: Request,
    /// Whether `throw_for_status` is skipped after afterResponse.
    pub skip_throw_for_status: bool,
    /// Values afterResponse middleware added for the caller, one per type
    /// (see [`Extensions`] for an example). Empty when the host answers.
    pub extensions: Extensions,
}

impl Response {
    /// Builds a response to `request` from what the server answered, parsing `data`.
    pub(crate) fn new(
        request: Request,
        status: u16,
        url: String,
        redirected: bool,
        headers: Vec<(String, String)>,
        bytes: Vec<u8>,
    ) -> Response {
        let headers: Vec<(String, String)> =
            headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        // Checking UTF-8 and copying is several times cheaper than the lossy
        // conversion, which only invalid bodies need.
        let content = match std::str::from_utf8(&bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        let data = if request.raw {
            None
        } else {
            let content_type = header(&headers, "content-type");
            parse_data(content_type.as_deref(), &content)
        };
        Response {
            status,
            url,
            redirected,
            content,
            bytes,
            data,
            skip_throw_for_status: request.skip_throw_for_status.unwrap_or(false),
            request,
            headers,
            extensions: Extensions::new(),
        }
    }

    /// The first value of header `name`, whatever its case.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Raises [`ZError::Response`] for a status from 400 to 599.
    ///
    /// Its message is the reference platform's JSON:
    /// `{"status":N,"headers":{"content-type":..,"retry-after":..},"content":..,"request":{"url":..}}`.
    pub fn throw_for_status(&self) -> Result<(), ZError> {
        if !(400..=599).contains(&self.status) {
            return Ok(());
        }
        let content = (!self.request.raw).then(|| self.content.clone());
        let url = self.request.url_with_params();
        let message = json!({
            "status": self.status,
            "headers": {
                "content-type": header(&self.headers, "content-type"),
                "retry-after": header(&self.headers, "retry-after"),
            },
            "content": content,
            "request": {"url": url},
        })
        .to_string();
        Err(ZError::Response { status: self.status, headers: self.headers.clone(), content, url, message })
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ZError> {
        serde_json::from_str(&self.content).map_err(|_| json_parse_error(&self.content))
    }
}

/// The values of header `name` (any case) joined by `, `, as fetch's `Headers.get` does.
fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> =
        headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str()).collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `response.data`: a form only for exactly the form content type, else
/// JSON if the content parses, else nothing.
pub(crate) fn parse_data(content_type: Option<&str>, content: &str) -> Option<Value> {
    if content_type.is_some_and(|value| value.trim().eq_ignore_ascii_case(FORM_TYPE)) {
        return Some(Value::Object(form::decode(content)));
    }
    crate::from_str(content).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(
            Request::get("https://api.test/items").param("q", "a b"),
            status,
            "https://api.test/items?q=a%20b".to_string(),
            false,
            headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn data_is_a_form_only_for_the_exact_form_type() {
        let form = response(200, &[("Content-Type", FORM_TYPE)], "a=1&b=2");
        assert_eq!(form.data, Some(json!({"a": "1", "b": "2"})));
        let with_charset = parse_data(Some("application/x-www-form-urlencoded; charset=utf-8"), "a=1");
        assert_eq!(with_charset, None);
        let json_in_form_dress = parse_data(Some("text/plain"), r#"{"a":1}"#);
        assert_eq!(json_in_form_dress, Some(json!({"a": 1})));
        assert_eq!(parse_data(None, "not json"), None);
        assert_eq!(parse_data(Some("application/json"), ""), None);
    }

    #[test]
    fn header_names_are_lower_cased_and_looked_up_in_any_case() {
        let response = response(200, &[("X-Thing", "1"), ("x-thing", "2")], "");
        assert_eq!(response.headers[0].0, "x-thing");
        assert_eq!(response.get_header("X-THING"), Some("1"));
        assert_eq!(header(&response.headers, "x-thing").as_deref(), Some("1, 2"));
        assert_eq!(response.get_header("missing"), None);
    }

    #[test]
    fn throw_for_status_raises_the_reference_message() {
        let response = response(404, &[("content-type", "application/json")], r#"{"status":404}"#);
        let error = response.throw_for_status().unwrap_err();
        let ZError::Response { status, content, url, message, .. } = error else {
            panic!("expected a response error, got {error:?}");
        };
        assert_eq!(status, 404);
        assert_eq!(content.as_deref(), Some(r#"{"status":404}"#));
        assert_eq!(url, "https://api.test/items?q=a%20b");
        assert_eq!(
            message,
            r#"{"status":404,"headers":{"content-type":"application/json","retry-after":null},"content":"{\"status\":404}","request":{"url":"https://api.test/items?q=a%20b"}}"#
        );
    }

    #[test]
    fn throw_for_status_passes_everything_below_400_and_above_599() {
        for status in [200, 204, 302, 399, 600] {
            assert!(response(status, &[], "").throw_for_status().is_ok());
        }
        assert!(response(500, &[], "").throw_for_status().is_err());
    }

    #[test]
    fn json_reports_unparseable_content() {
        let response = response(200, &[], "<html>");
        let error = response.json::<Value>().unwrap_err();
        assert_eq!(error, ZError::general("Error parsing response. We got: \"<html>\""));
    }
}
