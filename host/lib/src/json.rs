//! A call's result as the JSON text the integration returned.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// JSON text, checked to hold exactly one JSON value.
///
/// A call's result stays the text the integration wrote. Checking that text
/// costs a fraction of building a [`Value`] from it (no allocation or
/// hashing per key), and most embedders only store or forward a result: a
/// queue, an HTTP answer, a file. [`Json::value`] builds the tree when it is
/// needed; serializing a `Json` with serde_json writes the text unchanged
/// (reading it once more, to hand serde_json its `RawValue`).
#[derive(Clone)]
pub struct Json(
    /// One JSON value, no whitespace around it.
    Box<str>,
);

/// What serde_json reads as whitespace between tokens.
const WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

impl Json {
    /// `text` if it is one JSON value (whitespace around it is dropped).
    pub fn from_text(text: String) -> Result<Json, serde_json::Error> {
        RawValue::from_string(text).map(|raw| Json(raw.into()))
    }

    /// `text`, which a scan reading it as serde_json reads a value (every
    /// token, then nothing but whitespace to its end) has read whole:
    /// not read again to check it (the result checks' one pass,
    /// [`Checks::pass_on_text`](crate::checks::Checks::pass_on_text)).
    pub(crate) fn already_read(text: String) -> Json {
        let value = text.trim_matches(WHITESPACE);
        if value.len() == text.len() { Json(text.into_boxed_str()) } else { Json(value.into()) }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON as a [`Value`]; `null` for the rare JSON text a `Value`
    /// cannot hold (a number beyond a 64-bit float, nesting deeper than
    /// 128 levels), which [`Json::parse`] reports as an error.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The JSON as any type it deserializes to.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Json {
        // Writing a Value never fails: its keys are strings.
        Json(serde_json::to_string(&value).map_or_else(|_| "null".into(), String::into_boxed_str))
    }
}

impl From<&str> for Json {
    /// A JSON string holding `text`.
    fn from(text: &str) -> Json {
        Json::from(Value::String(text.to_string()))
    }
}

impl Serialize for Json {
    /// The text unchanged, through serde_json's `RawValue` (which reads it
    /// once more: serde_json makes a `RawValue` from no text unread).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl PartialEq for Json {
    /// Equal when they hold the same JSON value, however it is spelled.
    fn eq(&self, other: &Json) -> bool {
        self.as_str() == other.as_str() || self.value() == other.value()
    }
}

impl PartialEq<Value> for Json {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scalar methods of a `serde::de::Visitor` whose `Value` is `()`
/// and that reads every JSON scalar without keeping it: a scan of JSON
/// text that checks it parses (numbers converted as a `Value` converts
/// them) and looks only at its structure.
macro_rules! accept_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }

        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }

        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }

        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    };
}
pub(crate) use accept_scalars;

/// `DeserializeSeed` for scan types whose `Visitor` (with `Value = ()`)
/// reads any JSON value: the seed hands the deserializer to itself as the
/// visitor.
macro_rules! seed_by_visitor {
    ($($scan:ty),+ $(,)?) => {
        $(
            impl<'de> serde::de::DeserializeSeed<'de> for $scan {
                type Value = ();

                fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
                    deserializer.deserialize_any(self)
                }
            }
        )+
    };
}
pub(crate) use seed_by_visitor;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_checked_and_kept_as_written() {
        let json = Json::from_text(r#" [{"b":1,"a":"x"}] "#.to_string()).unwrap();
        assert_eq!(json.as_str(), r#"[{"b":1,"a":"x"}]"#);
        assert_eq!(json.value(), json!([{"b": 1, "a": "x"}]));
        assert_eq!(serde_json::to_string(&json!({"r": json})).unwrap(), r#"{"r":[{"b":1,"a":"x"}]}"#);
        for bad in ["", "[1,", "{} {}", "nul", r#"{"a":1}x"#] {
            assert!(Json::from_text(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_read_already_is_kept_as_written_without_the_whitespace_around_it() {
        for (text, kept) in [(r#"[{"b":1}]"#, r#"[{"b":1}]"#), (" \t\r\n[1, 2]\n ", "[1, 2]"), ("\"x \"", "\"x \"")] {
            let json = Json::already_read(text.to_string());
            assert_eq!(json.as_str(), kept);
            assert_eq!(json, Json::from_text(text.to_string()).unwrap());
            assert_eq!(serde_json::to_string(&json).unwrap(), kept);
        }
    }

    #[test]
    fn equal_by_value() {
        let spaced = Json::from_text(r#"{ "a" : [1, 2] }"#.to_string()).unwrap();
        assert_eq!(spaced, Json::from(json!({"a": [1, 2]})));
        assert_eq!(spaced, json!({"a": [1, 2]}));
        assert_ne!(spaced, json!({"a": [2, 1]}));
        assert_eq!(Json::from("hi").as_str(), r#""hi""#);
    }
}
