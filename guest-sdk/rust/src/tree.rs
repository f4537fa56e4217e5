//! Parsing JSON text into a [`Value`] with each object's map built at its
//! final size.
//!
//! serde_json's own `Value` grows every object from empty, one insert at a
//! time: a six-key object has its hash table and entry list reallocated
//! and rehashed twice on the way. Here an object's entries are gathered
//! first on one scratch stack kept for the whole parse (a nested object's
//! entries on top of its parent's, taken off when it ends), and the map is
//! made with room for all of them. The result is the
//! same `Value`, keys in the order the text has them, a later duplicate key
//! replacing an earlier one's value as serde_json does.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `text` as a [`Value`]; the same result and errors as `serde_json::from_str`.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let scratch = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Tree { scratch: &scratch }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Builds one JSON value.
#[derive(Clone, Copy)]
struct Tree<'s> {
    /// Entries of the objects being parsed, innermost last.
    scratch: &'s RefCell<Vec<(String, Value)>>,
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.scratch.borrow().len();
        let mut gather = || -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(self)?;
                self.scratch.borrow_mut().push((key, value));
            }
            Ok(())
        };
        let gathered = gather();
        // Take this object's entries off the stack, whatever happened.
        let mut scratch = self.scratch.borrow_mut();
        let mut object = Map::with_capacity(scratch.len() - start);
        for (key, value) in scratch.drain(start..) {
            object.insert(key, value);
        }
        gathered?;
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_as_serde_json() {
        let texts = [
            r#"{"contacts":[{"id":25,"first_name":"Ada","tags":["a","b"],"nested":{"z":1,"a":{"deep":[{}]}}},{"id":-3,"f":1.5e3,"n":null,"t":true}],"total":2}"#,
            r#"[1, "two", 3.25, false, null, {"b": 1, "a": 2, "b": 3}, [], {}]"#,
            r#""a string with \"quotes\" and \u00e9""#,
            "18446744073709551615",
            " 42 ",
        ];
        for text in texts {
            let ours = parse(text).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            // Keys in the text's order, as serde_json with preserve_order.
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
    }

    #[test]
    fn bad_text_is_an_error() {
        for bad in ["", "{", r#"{"a":1,}"#, r#"{"a":{"b":[1,2}}"#, "[1] [2]", r#"{"a" 1}"#] {
            assert!(parse(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse(r#"{"after":"errors"}"#).unwrap(), serde_json::json!({"after": "errors"}));
    }
}
