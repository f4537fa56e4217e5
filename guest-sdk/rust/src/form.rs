//! `application/x-www-form-urlencoded` and query strings: encoding a form
//! body, decoding a form answer or a `?query`, and encoding param values the
//! way the host does (so the URL a response error names is the URL sent).
//!
//! Used by [`crate::lifecycle`] (request bodies, `?query` moved into params,
//! the URL with params) and [`crate::response`] (form-encoded answers).

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::request::value_text;

/// Whether `c` is left as it is by JavaScript's `encodeURIComponent` (and
/// Node's `querystring.escape`).
fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c)
}

/// Percent-encodes `text` as `encodeURIComponent` does, leaving the
/// characters in `keep` raw. This is the host's encoding of param values.
pub(crate) fn encode_component(text: &str, keep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unreserved(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// Encodes a form field: as [`encode_component`], spaces as `+`.
fn encode_form_component(text: &str) -> String {
    encode_component(text, " ").replace(' ', "+")
}

/// Form-encodes an object: `key=value` pairs joined by `&`, spaces as `+`,
/// arrays as repeated keys, null as an empty value, nested objects as their
/// JSON text. A value that is not an object is sent as its JSON text.
pub(crate) fn encode_form(value: &Value) -> String {
    let Value::Object(fields) = value else {
        return value.to_string();
    };
    let mut pairs = Vec::new();
    for (key, value) in fields {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values {
            pairs.push(format!("{}={}", encode_form_component(key), encode_form_component(&value_text(value))));
        }
    }
    pairs.join("&")
}

/// Decodes a form body or query string into an object: `+` as a space,
/// percent escapes decoded, a repeated key as an array of its values, a key
/// without `=` as an empty value.
pub(crate) fn decode_form(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(key);
        let value = Value::String(decode_component(value));
        match fields.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(earlier) => {
                let first = earlier.take();
                *earlier = Value::Array(vec![first, value]);
            }
            None => {
                fields.insert(key, value);
            }
        }
    }
    fields
}

fn decode_component(text: &str) -> String {
    percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_encode_spaces_as_plus_and_arrays_as_repeated_keys() {
        let form = json!({"name": "Ada Lovelace", "tags": ["a", "b&c"], "n": 1, "none": null});
        assert_eq!(encode_form(&form), "name=Ada+Lovelace&tags=a&tags=b%26c&n=1&none=");
    }

    #[test]
    fn forms_decode_with_repeated_keys_as_arrays() {
        let fields = decode_form("a=1&b=x+y&a=2&c&d=%C3%A9");
        assert_eq!(Value::Object(fields), json!({"a": ["1", "2"], "b": "x y", "c": "", "d": "é"}));
    }

    #[test]
    fn components_encode_like_encode_uri_component() {
        assert_eq!(encode_component("a b/c?é", ""), "a%20b%2Fc%3F%C3%A9");
        assert_eq!(encode_component("a:b/c", ":/"), "a:b/c");
    }
}
