//! Values read through serde: `Deserialize` for [`Value`] and [`Map`]
//! (how [`from_str`] parses text), and [`from_value`], reading any
//! `Deserialize` type out of a [`Value`].
//!
//! Parsing builds each object at its final size: its entries are gathered
//! on one scratch stack kept for the whole parse (a nested object's entries
//! on top of its parent's, taken off when it ends), then moved into the
//! object's vector in one allocation. Keys keep the text's order; a later
//! duplicate key replaces the earlier one's value, as serde_json reads it.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Error, Number};

use super::{Map, Value};

/// `text` as a [`Value`]; the same value and errors as serde_json's
/// `from_str`.
///
/// ```
/// let value = zapwasm_guest::from_str(r#"{"id": 7, "tags": ["a"]}"#).unwrap();
/// assert_eq!(value["tags"][0], "a");
/// assert!(zapwasm_guest::from_str("{").is_err());
/// ```
pub fn from_str(text: &str) -> Result<Value, Error> {
    let scratch = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Tree { scratch: &scratch }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// `bytes` (UTF-8 JSON text) as a [`Value`].
pub fn from_slice(bytes: &[u8]) -> Result<Value, Error> {
    let scratch = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Tree { scratch: &scratch }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A `Deserialize` type read out of `value`, as serde_json's `from_value`
/// reads it (`null` is `None`, a string a unit variant, a one-key object
/// any other variant).
///
/// ```
/// use serde::Deserialize;
/// use zapwasm_guest::{from_value, json};
///
/// #[derive(Deserialize)]
/// struct Page { items: Vec<u64>, next: Option<String> }
///
/// let page: Page = from_value(json!({"items": [1, 2], "next": null})).unwrap();
/// assert_eq!((page.items, page.next), (vec![1, 2], None));
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(value)
}

/// Builds one value, gathering object entries on `scratch`.
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
        let entries: Vec<(String, Value)> = self.scratch.borrow_mut().drain(start..).collect();
        gathered?;
        Ok(Value::Object(Map::from_entries(entries)))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        let scratch = RefCell::new(Vec::new());
        Tree { scratch: &scratch }.deserialize(deserializer)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Map, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Object(map) => Ok(map),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a JSON object")),
        }
    }
}

/// What `value` is, for serde's type errors.
fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => de::Unexpected::Unsigned(u),
            (_, Some(i), _) => de::Unexpected::Signed(i),
            (_, _, f) => de::Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(text) => de::Unexpected::Str(text),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// Reading a `Deserialize` type out of a value, taking it apart.
impl<'de> Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(text) => visitor.visit_string(text),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(map) => {
                let mut entries = MapDeserializer::new(map.into_iter());
                let value = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (variant, data) = match self {
            Value::String(variant) => (variant, None),
            Value::Object(map) if map.len() == 1 => {
                let Some((variant, data)) = map.into_iter().next() else {
                    return Err(de::Error::custom("an enum as an object of one key"));
                };
                (variant, Some(data))
            }
            other => return Err(de::Error::invalid_type(unexpected(&other), &"a string or an object of one key")),
        };
        visitor.visit_enum(Variant { variant, data })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected(&other), &"null")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::String(text) => visitor.visit_byte_buf(text.into_bytes()),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

/// An enum's variant name and its data, if any.
struct Variant {
    variant: String,
    data: Option<Value>,
}

/// An enum variant's data, if any.
struct VariantData(Option<Value>);

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = VariantData;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantData), Error> {
        let name = seed.deserialize(Value::String(self.variant))?;
        Ok((name, VariantData(self.data)))
    }
}

impl<'de> VariantAccess<'de> for VariantData {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self.0.unwrap_or(Value::Null))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.0.unwrap_or(Value::Null).deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        self.0.unwrap_or(Value::Null).deserialize_map(visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn text_parses_to_the_value_serde_json_reads() {
        let texts = [
            r#"{"contacts":[{"id":25,"first_name":"Ada","tags":["a","b"],"nested":{"z":1,"a":{"deep":[{}]}}},{"id":-3,"f":1.5e3,"n":null,"t":true}],"total":2}"#,
            r#"[1, "two", 3.25, false, null, {"b": 1, "a": 2, "b": 3}, [], {}]"#,
            r#""a string with \"quotes\" and \u00e9""#,
            "18446744073709551615",
            " 42 ",
        ];
        for text in texts {
            let ours = from_str(text).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::Value::from(ours.clone()), theirs, "{text}");
            // Keys in the text's order, as serde_json with preserve_order.
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
            assert_eq!(from_slice(text.as_bytes()).unwrap(), ours);
        }
    }

    #[test]
    fn bad_text_is_an_error() {
        for bad in ["", "{", r#"{"a":1,}"#, r#"{"a":{"b":[1,2}}"#, "[1] [2]", r#"{"a" 1}"#] {
            assert!(from_str(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "{bad:?}");
        }
        assert_eq!(from_str(r#"{"after":"errors"}"#).unwrap(), crate::json!({"after": "errors"}));
    }

    #[test]
    fn a_large_object_with_duplicates_parses_in_order() {
        let mut text = String::from("{");
        for i in 0..5_000 {
            text.push_str(&format!("\"k{}\":{i},", i % 4_000));
        }
        text.push_str("\"end\":true}");
        let ours = from_str(&text).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert_eq!(ours["k3"], 4_003);
    }

    #[test]
    fn serde_types_read_out_of_values_as_serde_json_reads_them() {
        #[derive(Debug, PartialEq, Deserialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(u8, String),
            Struct { side: f64 },
        }
        #[derive(Debug, PartialEq, Deserialize)]
        struct Record {
            id: u64,
            name: Option<String>,
            missing: Option<String>,
            tags: Vec<String>,
            shapes: Vec<Shape>,
            pair: (i8, char),
            #[serde(default)]
            absent: bool,
        }
        let text = r#"{"id":18446744073709551615,"name":null,"tags":["a"],"shapes":["Unit",{"Newtype":3},{"Tuple":[1,"x"]},{"Struct":{"side":0.5}}],"pair":[-8,"é"],"extra":1}"#;
        let ours: Record = from_value(from_str(text).unwrap()).unwrap();
        let theirs: Record = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        let wrong = from_value::<Record>(from_str(r#"{"id":"seven"}"#).unwrap()).unwrap_err();
        assert!(wrong.to_string().contains("invalid type: string \"seven\", expected u64"), "{wrong}");
    }
}
