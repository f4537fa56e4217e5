//! `application/x-www-form-urlencoded`: encoding a form body, decoding a
//! form answer or a `?query`.
//!
//! The guest SDK encodes `form` bodies (and object bodies under a form
//! content type) with [`encode`], and decodes form-encoded answers and a
//! URL's `?query` with [`decode`] (see [`crate::url_params::move_query_into_params`]).
//! Vectors: `vectors/form_encode.json`, `vectors/form_decode.json`.

use crate::json::{Json, JsonMap, View};
use percent_encoding::percent_decode_str;

use crate::param_encoding;
use crate::text::value_text;

/// Form-encodes an object: `key=value` pairs joined by `&`, each part
/// encoded as [`param_encoding::encode`] with spaces as `+`, arrays as
/// repeated keys, null as an empty value, nested objects as their JSON
/// text. A value that is not an object is sent as its JSON text.
///
/// ```
/// use serde_json::json;
///
/// let form = json!({"name": "Ada Lovelace", "tags": ["a", "b&c"], "none": null});
/// assert_eq!(zapwasm_rules::form::encode(&form), "name=Ada+Lovelace&tags=a&tags=b%26c&none=");
/// ```
pub fn encode<J: Json>(value: &J) -> String {
    let View::Object(fields) = value.view() else {
        return value.to_text();
    };
    let mut pairs = Vec::new();
    for (key, value) in fields.entries() {
        let values = match value.view() {
            View::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        for value in values {
            pairs.push(format!("{}={}", encode_component(key), encode_component(&value_text(value))));
        }
    }
    pairs.join("&")
}

/// Encodes one key or value of a form: as a param, spaces as `+`.
fn encode_component(text: &str) -> String {
    param_encoding::encode(text, " ").replace(' ', "+")
}

/// Decodes a form body or query string into an object: `+` as a space,
/// percent escapes decoded (invalid UTF-8 replaced), a repeated key as an
/// array of its values, a key without `=` as an empty value, empty pairs
/// skipped.
///
/// ```
/// use serde_json::{Value, json};
///
/// let fields: serde_json::Map<String, serde_json::Value> = zapwasm_rules::form::decode("a=1&b=x+y&a=2&c");
/// assert_eq!(Value::Object(fields), json!({"a": ["1", "2"], "b": "x y", "c": ""}));
/// ```
pub fn decode<M: JsonMap>(text: &str) -> M {
    let mut fields = M::default();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(key);
        let value = M::Value::string(decode_component(value));
        match fields.get_mut(&key) {
            Some(earlier) => match earlier.as_array_mut() {
                Some(values) => values.push(value),
                None => {
                    let first = std::mem::take(earlier);
                    *earlier = M::Value::array(vec![first, value]);
                }
            },
            None => {
                fields.insert(key, value);
            }
        }
    }
    fields
}

/// Decodes one key or value of a form: `+` as a space, then percent escapes.
fn decode_component(text: &str) -> String {
    percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use serde_json::{Map, Value};

    use super::*;
    use crate::fuzzing;

    /// What form bodies and queries are made of, for the mutations.
    const TOKENS: &[&str] = &["&", "=", "+", "%20", "%2B", "%26", "%3D", "a=1", "&a=2", "%E2%82%AC", "%F0%9F"];

    /// Form answers and queries (an API's, a hook sender's): decoding never
    /// panics, and what it gives survives being encoded and decoded again.
    #[test]
    fn form_bodies_decode_and_round_trip() {
        fuzzing::fuzz_text("form", TOKENS, |text| {
            let fields: Map<String, Value> = decode(text);
            let encoded = encode(&Value::Object(fields.clone()));
            prop_assert_eq!(decode::<Map<String, Value>>(&encoded), fields);
            Ok(())
        });
    }

    /// Objects of strings and lists of strings (two or more: one is a
    /// string again) come back from [`encode`] then [`decode`] as they were.
    #[test]
    fn form_objects_survive_encoding() {
        let value = prop_oneof![
            any::<String>().prop_map(Value::String),
            proptest::collection::vec(any::<String>().prop_map(Value::String), 2..4).prop_map(Value::Array),
        ];
        let object = proptest::collection::vec((any::<String>(), value), 0..6)
            .prop_map(|fields| fields.into_iter().collect::<Map<String, Value>>());
        fuzzing::run("form_objects", Vec::new(), object, |fields| {
            prop_assert_eq!(&decode::<Map<String, Value>>(&encode(&Value::Object(fields.clone()))), fields);
            Ok(())
        });
    }
}
