//! Merging one request's JSON parts over another's, as the reference
//! runtime does: lodash's `_.merge`, which its `requestMerge` uses to put
//! a request over the app's requestTemplate, and its `requestClean` to put
//! a URL's own query over the request's params.
//!
//! [`crate::url_params::compose`] merges params with it; the guest SDK
//! merges a request's object body over its template's with it.
//! Vectors: `vectors/merge.json`.

use crate::json::{Json, JsonMap, Owned};

/// Merges `over` into `under`, `over` winning, as lodash's `_.merge` does
/// with JSON: keys of `under` keep their place and new keys of `over` come
/// after them; two objects under one key merge key by key, two arrays item
/// by item (an item of `over` merged over the item at its index, the rest
/// of the longer one kept); anything else is replaced by `over`'s value,
/// null included.
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::merge::merge;
///
/// let mut under = json!({"a": 1, "list": ["x", "y", "z"], "o": {"k": 1}}).as_object().cloned().unwrap();
/// merge(&mut under, json!({"list": ["1"], "o": {"j": 2}, "b": 2}).as_object().cloned().unwrap());
/// assert_eq!(
///     serde_json::Value::Object(under),
///     json!({"a": 1, "list": ["1", "y", "z"], "o": {"k": 1, "j": 2}, "b": 2})
/// );
/// ```
pub fn merge<M: JsonMap>(under: &mut M, over: M) {
    for (key, value) in over {
        match under.get_mut(&key) {
            Some(existing) => merge_value(existing, value),
            None => {
                under.insert(key, value);
            }
        }
    }
}

/// `over` merged into the value `under` (see [`merge`]).
fn merge_value<J: Json>(under: &mut J, over: J) {
    match over.into_owned() {
        Owned::Object(over) => match under.as_object_mut() {
            Some(under) => merge(under, over),
            None => *under = J::object(over),
        },
        Owned::Array(over) => match under.as_array_mut() {
            Some(under) => {
                for (index, item) in over.into_iter().enumerate() {
                    match under.get_mut(index) {
                        Some(existing) => merge_value(existing, item),
                        None => under.push(item),
                    }
                }
            }
            None => *under = J::array(over),
        },
        Owned::Scalar(over) => *under = over,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_scalar_replaces_whatever_was_there_and_null_replaces_too() {
        let mut under = object(json!({"a": [1, 2], "b": {"k": 1}, "c": "x"}));
        merge(&mut under, object(json!({"a": "one", "b": 2, "c": null})));
        assert_eq!(Value::Object(under), json!({"a": "one", "b": 2, "c": null}));
    }

    #[test]
    fn an_array_or_object_over_something_else_replaces_it() {
        let mut under = object(json!({"a": "x", "b": [1]}));
        merge(&mut under, object(json!({"a": ["1", "2"], "b": {"k": 1}})));
        assert_eq!(Value::Object(under), json!({"a": ["1", "2"], "b": {"k": 1}}));
    }

    #[test]
    fn objects_inside_arrays_merge_too() {
        let mut under = object(json!({"items": [{"a": 1}, {"b": 2}]}));
        merge(&mut under, object(json!({"items": [{"c": 3}]})));
        assert_eq!(Value::Object(under), json!({"items": [{"a": 1, "c": 3}, {"b": 2}]}));
    }
}
