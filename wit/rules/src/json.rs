//! The JSON data model the rules are written on.
//!
//! The two sides of the boundary hold JSON in different types: the host in
//! `serde_json::Value` (what its embedders and its HTTP stack speak), the
//! guest in the SDK's own `Value`, whose objects are vectors of entries
//! rather than hash maps (cheaper to build for the small objects API
//! responses are made of). The rules are written once, on the traits here,
//! and hold for both; both types share `serde_json::Number`, so numbers
//! read and write the same on either side.
//!
//! [`Json`] is a value, [`JsonMap`] an object: a map from keys to values
//! that keeps the order its keys were first inserted in.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use serde_json::Number;

/// A JSON value of either side, seen through a borrow.
#[derive(Debug)]
pub enum View<'v, J: Json> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(&'v Number),
    /// A string.
    String(&'v str),
    /// An array.
    Array(&'v [J]),
    /// An object.
    Object(&'v J::Map),
}

/// A JSON value taken apart by value: what a rule that consumes values
/// needs to tell arrays and objects from the rest.
#[derive(Debug)]
pub enum Owned<J: Json> {
    /// An array's items.
    Array(Vec<J>),
    /// An object.
    Object(J::Map),
    /// Any other value, as it was.
    Scalar(J),
}

/// A JSON value: `serde_json::Value` on the host, the SDK's `Value` in the
/// guest.
pub trait Json: Clone + PartialEq + Debug + Default + Serialize + DeserializeOwned + 'static {
    /// Its objects.
    type Map: JsonMap<Value = Self>;

    /// What the value is, borrowed.
    fn view(&self) -> View<'_, Self>;
    /// A string value.
    fn string(text: String) -> Self;
    /// An array value.
    fn array(items: Vec<Self>) -> Self;
    /// An object value.
    fn object(map: Self::Map) -> Self;
    /// The items, when the value is an array.
    fn as_array_mut(&mut self) -> Option<&mut Vec<Self>>;
    /// The entries, when the value is an object.
    fn as_object_mut(&mut self) -> Option<&mut Self::Map>;
    /// The value taken apart.
    fn into_owned(self) -> Owned<Self>;
    /// Compact JSON text, as `serde_json::to_string` writes it.
    fn to_text(&self) -> String;

    /// The text, when the value is a string.
    fn as_str(&self) -> Option<&str> {
        match self.view() {
            View::String(text) => Some(text),
            _ => None,
        }
    }
}

/// A JSON object: keys in the order they were first inserted.
pub trait JsonMap:
    Clone
    + PartialEq
    + Debug
    + Default
    + Serialize
    + DeserializeOwned
    + IntoIterator<Item = (String, Self::Value)>
    + FromIterator<(String, Self::Value)>
    + 'static
{
    /// Its values.
    type Value: Json<Map = Self>;

    /// The value under `key`.
    fn get(&self, key: &str) -> Option<&Self::Value>;
    /// The value under `key`, to change.
    fn get_mut(&mut self, key: &str) -> Option<&mut Self::Value>;
    /// Sets `key` to `value`: a new key goes last, a present one keeps its
    /// place. The value it replaces, if any.
    fn insert(&mut self, key: String, value: Self::Value) -> Option<Self::Value>;
    /// Takes `key` out, the keys after it keeping their order.
    fn remove(&mut self, key: &str) -> Option<Self::Value>;
    /// The entries in order.
    fn entries(&self) -> impl Iterator<Item = (&str, &Self::Value)>;
    /// How many entries.
    fn len(&self) -> usize;
    /// Whether it has no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Json for serde_json::Value {
    type Map = serde_json::Map<String, serde_json::Value>;

    fn view(&self) -> View<'_, Self> {
        match self {
            serde_json::Value::Null => View::Null,
            serde_json::Value::Bool(b) => View::Bool(*b),
            serde_json::Value::Number(n) => View::Number(n),
            serde_json::Value::String(s) => View::String(s),
            serde_json::Value::Array(items) => View::Array(items),
            serde_json::Value::Object(map) => View::Object(map),
        }
    }

    fn string(text: String) -> Self {
        serde_json::Value::String(text)
    }

    fn array(items: Vec<Self>) -> Self {
        serde_json::Value::Array(items)
    }

    fn object(map: Self::Map) -> Self {
        serde_json::Value::Object(map)
    }

    fn as_array_mut(&mut self) -> Option<&mut Vec<Self>> {
        self.as_array_mut()
    }

    fn as_object_mut(&mut self) -> Option<&mut Self::Map> {
        self.as_object_mut()
    }

    fn into_owned(self) -> Owned<Self> {
        match self {
            serde_json::Value::Array(items) => Owned::Array(items),
            serde_json::Value::Object(map) => Owned::Object(map),
            other => Owned::Scalar(other),
        }
    }

    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl JsonMap for serde_json::Map<String, serde_json::Value> {
    type Value = serde_json::Value;

    fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.get(key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut serde_json::Value> {
        self.get_mut(key)
    }

    fn insert(&mut self, key: String, value: serde_json::Value) -> Option<serde_json::Value> {
        self.insert(key, value)
    }

    fn remove(&mut self, key: &str) -> Option<serde_json::Value> {
        self.shift_remove(key)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.iter().map(|(key, value)| (key.as_str(), value))
    }

    fn len(&self) -> usize {
        self.len()
    }
}
