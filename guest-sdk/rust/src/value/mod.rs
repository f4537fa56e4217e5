//! The SDK's JSON: [`Value`], [`Map`] and [`json!`](crate::json!).
//!
//! The same shape and methods as serde_json's `Value` (the variants, `as_*`,
//! `is_*`, indexing with `value["key"]` and `value[0]`, comparing with
//! plain values, `json!`), so code written against serde_json reads the
//! same. What differs is inside: an object is a vector of entries in
//! insertion order ([`Map`]), with a hash index only once it is large, so
//! parsing an API's answer allocates once per object and hashes nothing,
//! and parsing and writing text are the SDK's own ([`from_str`],
//! `Value::to_string`, its `Display`). Numbers are serde_json's `Number`, and every
//! value is `Serialize` and `Deserialize`, so serde types convert with
//! [`to_value`] and [`from_value`].

mod de;
mod map;
mod ser;
mod text;

use std::fmt;

pub use serde_json::Number;

pub use self::de::{from_slice, from_str, from_value};
pub use self::map::{Entry, Iter, IterMut, Map, OccupiedEntry, VacantEntry};
pub use self::ser::to_value;
use zapwasm_rules::json::{Json, Owned, View};

/// A JSON value.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number: an integer that fits 64 bits, or a finite float.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: keys in insertion order.
    Object(Map<String, Value>),
}

static NULL: Value = Value::Null;

impl Value {
    /// The value as compact JSON text: what `to_string()` gives, written
    /// straight into the string it returns (`to_string()` goes through
    /// `Display`, which copies the text once more).
    pub(crate) fn to_json(&self) -> String {
        text::to_string(self)
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether it is `true` or `false`.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    /// Whether it is a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    /// Whether it is an integer that fits `i64`.
    pub fn is_i64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_i64())
    }

    /// Whether it is an integer that fits `u64`.
    pub fn is_u64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_u64())
    }

    /// Whether it is a number held as a float.
    pub fn is_f64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_f64())
    }

    /// Whether it is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// Whether it is an array.
    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    /// Whether it is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// `()` when it is `null`.
    pub fn as_null(&self) -> Option<()> {
        self.is_null().then_some(())
    }

    /// The boolean, when it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, when it is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `i64`, when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The number as `u64`, when it is an integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// The number as `f64`, when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }

    /// The text, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The items, when it is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The items, to change, when it is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, when it is an object.
    pub fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The entries, to change, when it is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// An object's value under a key, or an array's item at a position.
    ///
    /// ```
    /// use zapwasm_guest::json;
    ///
    /// let value = json!({"items": [{"id": 7}]});
    /// assert_eq!(value.get("items").and_then(|items| items.get(0)), Some(&json!({"id": 7})));
    /// assert_eq!(value.get("nope"), None);
    /// ```
    pub fn get<I: ValueIndex>(&self, index: I) -> Option<&Value> {
        index.index_into(self)
    }

    /// [`Value::get`], to change.
    pub fn get_mut<I: ValueIndex>(&mut self, index: I) -> Option<&mut Value> {
        index.index_into_mut(self)
    }

    /// The value at a JSON Pointer (RFC 6901): `/items/0/id`; `""` is the
    /// value itself.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let tokens = pointer.strip_prefix('/')?.split('/');
        tokens.map(unescape_token).try_fold(self, |value, token| match value {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => array_position(&token).and_then(|at| items.get(at)),
            _ => None,
        })
    }

    /// [`Value::pointer`], to change.
    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let tokens = pointer.strip_prefix('/')?.split('/');
        tokens.map(unescape_token).try_fold(self, |value, token| match value {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => array_position(&token).and_then(|at| items.get_mut(at)),
            _ => None,
        })
    }

    /// Takes the value, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

/// A JSON Pointer token with `~1` and `~0` read back.
fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// An array position as a JSON Pointer writes it: digits, no leading zero.
fn array_position(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

/// What indexes a [`Value`]: a key (`&str`, `String`) reads an object, a
/// position (`usize`) an array.
pub trait ValueIndex: private::Sealed {
    #[doc(hidden)]
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value>;
    #[doc(hidden)]
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value>;
    #[doc(hidden)]
    fn index_or_insert<'v>(&self, value: &'v mut Value) -> &'v mut Value;
}

mod private {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for str {}
    impl Sealed for String {}
    impl<T: Sealed + ?Sized> Sealed for &T {}
}

impl ValueIndex for usize {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_array()?.get(*self)
    }

    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_array_mut()?.get_mut(*self)
    }

    fn index_or_insert<'v>(&self, value: &'v mut Value) -> &'v mut Value {
        match value {
            Value::Array(items) => {
                let len = items.len();
                items.get_mut(*self).unwrap_or_else(|| panic!("index {self} out of bounds of an array of {len}"))
            }
            other => panic!("cannot index {} with a number", zapwasm_rules::text::type_name(other)),
        }
    }
}

impl ValueIndex for str {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_object()?.get(self)
    }

    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_object_mut()?.get_mut(self)
    }

    /// `null` becomes an empty object; a missing key is inserted as `null`.
    fn index_or_insert<'v>(&self, value: &'v mut Value) -> &'v mut Value {
        if value.is_null() {
            *value = Value::Object(Map::new());
        }
        match value {
            Value::Object(map) => map.entry(self).or_insert(Value::Null),
            other => panic!("cannot index {} with a key", zapwasm_rules::text::type_name(other)),
        }
    }
}

impl ValueIndex for String {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.as_str().index_into(value)
    }

    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.as_str().index_into_mut(value)
    }

    fn index_or_insert<'v>(&self, value: &'v mut Value) -> &'v mut Value {
        self.as_str().index_or_insert(value)
    }
}

impl<T: ValueIndex + ?Sized> ValueIndex for &T {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        (**self).index_into(value)
    }

    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        (**self).index_into_mut(value)
    }

    fn index_or_insert<'v>(&self, value: &'v mut Value) -> &'v mut Value {
        (**self).index_or_insert(value)
    }
}

/// `value["key"]`, `value[0]`: `null` when there is nothing there (so
/// `value["a"]["b"]` reads through missing levels).
impl<I: ValueIndex> std::ops::Index<I> for Value {
    type Output = Value;

    fn index(&self, index: I) -> &Value {
        index.index_into(self).unwrap_or(&NULL)
    }
}

/// `value["key"] = ...`: a missing key is inserted, `null` becomes an
/// object; an array position past the end, or a key into something that is
/// not an object, panics.
impl<I: ValueIndex> std::ops::IndexMut<I> for Value {
    fn index_mut(&mut self, index: I) -> &mut Value {
        index.index_or_insert(self)
    }
}

/// Compact JSON; `{:#}` is indented.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let pretty = serde_json::to_string_pretty(self).map_err(|_| fmt::Error)?;
            f.write_str(&pretty)
        } else {
            f.write_str(&text::to_string(self))
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Number(n) => write!(f, "Number({n})"),
            Value::String(text) => write!(f, "String({text:?})"),
            Value::Array(items) => {
                f.write_str("Array ")?;
                f.debug_list().entries(items).finish()
            }
            Value::Object(map) => {
                f.write_str("Object ")?;
                fmt::Debug::fmt(map, f)
            }
        }
    }
}

impl std::str::FromStr for Value {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Value, serde_json::Error> {
        from_str(text)
    }
}

macro_rules! from_integers {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Number::from(n))
            }
        }
    )*};
}
from_integers!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl From<f64> for Value {
    /// A finite float; NaN and the infinities, which JSON cannot write,
    /// are `null`.
    fn from(n: f64) -> Value {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<f32> for Value {
    fn from(n: f32) -> Value {
        Value::from(f64::from(n))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_string())
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::String(text.clone())
    }
}

impl From<std::borrow::Cow<'_, str>> for Value {
    fn from(text: std::borrow::Cow<'_, str>) -> Value {
        Value::String(text.into_owned())
    }
}

impl From<char> for Value {
    fn from(c: char) -> Value {
        Value::String(c.to_string())
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<Map<String, Value>> for Value {
    fn from(map: Map<String, Value>) -> Value {
        Value::Object(map)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(items: &[T]) -> Value {
        Value::Array(items.iter().cloned().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Value {
        Value::Null
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Value {
        Value::Object(entries.into_iter().collect())
    }
}

/// serde_json's value, converted (keys in its order).
impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(text) => Value::String(text),
            serde_json::Value::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => {
                Value::Object(Map::from_entries(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect()))
            }
        }
    }
}

/// As serde_json's value (keys in this one's order).
impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => serde_json::Value::Number(n),
            Value::String(text) => serde_json::Value::String(text),
            Value::Array(items) => serde_json::Value::Array(items.into_iter().map(Into::into).collect()),
            Value::Object(map) => serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect()),
        }
    }
}

macro_rules! eq_with {
    ($($t:ty => $as:ident),* $(,)?) => {$(
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                eq_with!(@cmp self, other, $as)
            }
        }
        impl PartialEq<Value> for $t {
            fn eq(&self, other: &Value) -> bool {
                other == self
            }
        }
        impl PartialEq<$t> for &Value {
            fn eq(&self, other: &$t) -> bool {
                *self == other
            }
        }
    )*};
    (@cmp $value:ident, $other:ident, str) => { $value.as_str() == Some(AsRef::<str>::as_ref($other)) };
    (@cmp $value:ident, $other:ident, bool) => { $value.as_bool() == Some(*$other) };
    (@cmp $value:ident, $other:ident, i64) => { $value.as_i64().is_some_and(|n| i64::try_from(*$other) == Ok(n)) };
    (@cmp $value:ident, $other:ident, u64) => { $value.as_u64().is_some_and(|n| u64::try_from(*$other) == Ok(n)) };
    (@cmp $value:ident, $other:ident, f64) => { $value.as_f64() == Some(f64::from(*$other)) };
}

eq_with!(
    str => str, String => str, bool => bool,
    i8 => i64, i16 => i64, i32 => i64, i64 => i64, isize => i64,
    u8 => u64, u16 => u64, u32 => u64, u64 => u64, usize => u64,
    f32 => f64, f64 => f64,
);

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<Value> for &str {
    fn eq(&self, other: &Value) -> bool {
        other.as_str() == Some(*self)
    }
}

impl Json for Value {
    type Map = Map<String, Value>;

    fn view(&self) -> View<'_, Value> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => View::Number(n),
            Value::String(text) => View::String(text),
            Value::Array(items) => View::Array(items),
            Value::Object(map) => View::Object(map),
        }
    }

    fn string(text: String) -> Value {
        Value::String(text)
    }

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn object(map: Map<String, Value>) -> Value {
        Value::Object(map)
    }

    fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        self.as_array_mut()
    }

    fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.as_object_mut()
    }

    fn into_owned(self) -> Owned<Value> {
        match self {
            Value::Array(items) => Owned::Array(items),
            Value::Object(map) => Owned::Object(map),
            other => Owned::Scalar(other),
        }
    }

    fn to_text(&self) -> String {
        text::to_string(self)
    }
}

/// Builds a [`Value`] from JSON written in Rust: `null`, `true`, numbers,
/// strings, `[...]`, `{"key": value, ...}`, and any Rust expression whose
/// type is `Serialize` (a variable, a call, a struct); a key is any
/// expression giving a `&str` or a `String` (a literal, a variable, a
/// call, anything in parentheses).
///
/// ```
/// use zapwasm_guest::{Value, json};
///
/// let id = 7;
/// let tags = vec!["a", "b"];
/// let key = String::from("computed");
/// let value = json!({
///     "id": id,
///     "name": format!("Contact {id}"),
///     "tags": tags,
///     "nested": {"ok": true, "none": null, "list": [1, 2.5, "three", [null]]},
///     (key.as_str()): id * 2,
///     key.to_uppercase(): "upper",
/// });
/// assert_eq!(value["nested"]["list"][1], 2.5);
/// assert_eq!(value["computed"], 14);
/// assert_eq!(value.to_string(), r#"{"id":7,"name":"Contact 7","tags":["a","b"],"nested":{"ok":true,"none":null,"list":[1,2.5,"three",[null]]},"computed":14,"COMPUTED":"upper"}"#);
/// assert_eq!(json!([]), Value::Array(vec![]));
/// ```
#[macro_export]
macro_rules! json {
    (null) => {
        $crate::Value::Null
    };
    ([]) => {
        $crate::Value::Array(::std::vec::Vec::new())
    };
    ([ $($items:tt)+ ]) => {
        $crate::Value::Array($crate::__json_items!([] $($items)+))
    };
    ({}) => {
        $crate::Value::Object($crate::Map::new())
    };
    ({ $($entries:tt)+ }) => {{
        let mut object = $crate::Map::new();
        $crate::__json_entries!(object $($entries)+);
        $crate::Value::Object(object)
    }};
    ($other:expr) => {
        $crate::value::__leaf(&$other)
    };
}

/// The items of a `json!` array: `[done...]` then the tokens left.
#[macro_export]
#[doc(hidden)]
macro_rules! __json_items {
    ([ $($done:expr,)* ]) => {
        ::std::vec![$($done,)*]
    };
    ([ $($done:expr,)* ] null $(, $($rest:tt)*)?) => {
        $crate::__json_items!([ $($done,)* $crate::Value::Null, ] $($($rest)*)?)
    };
    ([ $($done:expr,)* ] [ $($inner:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::__json_items!([ $($done,)* $crate::json!([ $($inner)* ]), ] $($($rest)*)?)
    };
    ([ $($done:expr,)* ] { $($inner:tt)* } $(, $($rest:tt)*)?) => {
        $crate::__json_items!([ $($done,)* $crate::json!({ $($inner)* }), ] $($($rest)*)?)
    };
    ([ $($done:expr,)* ] $next:expr , $($rest:tt)*) => {
        $crate::__json_items!([ $($done,)* $crate::json!($next), ] $($rest)*)
    };
    ([ $($done:expr,)* ] $last:expr) => {
        $crate::__json_items!([ $($done,)* $crate::json!($last), ])
    };
}

/// The entries of a `json!` object, inserted into `$object` one by one.
#[macro_export]
#[doc(hidden)]
macro_rules! __json_entries {
    ($object:ident) => {};
    // A key of several tokens, gathered up to its `:`.
    ($object:ident @key ($($key:tt)+) : $($rest:tt)+) => {
        $crate::__json_entry!($object ($($key)+) $($rest)+)
    };
    ($object:ident @key ($($key:tt)+) $next:tt $($rest:tt)*) => {
        $crate::__json_entries!($object @key ($($key)+ $next) $($rest)*)
    };
    ($object:ident $key:literal : $($rest:tt)+) => {
        $crate::__json_entry!($object ($key) $($rest)+)
    };
    ($object:ident ( $key:expr ) : $($rest:tt)+) => {
        $crate::__json_entry!($object ($key) $($rest)+)
    };
    ($object:ident $key:ident : $($rest:tt)+) => {
        $crate::__json_entry!($object ($key) $($rest)+)
    };
    ($object:ident $first:tt $($rest:tt)+) => {
        $crate::__json_entries!($object @key ($first) $($rest)+)
    };
}

/// One entry of a `json!` object: its key, then its value and the rest.
#[macro_export]
#[doc(hidden)]
macro_rules! __json_entry {
    ($object:ident ($key:expr) null $(, $($rest:tt)*)?) => {
        $object.insert($crate::value::__key($key), $crate::Value::Null);
        $crate::__json_entries!($object $($($rest)*)?);
    };
    ($object:ident ($key:expr) [ $($inner:tt)* ] $(, $($rest:tt)*)?) => {
        $object.insert($crate::value::__key($key), $crate::json!([ $($inner)* ]));
        $crate::__json_entries!($object $($($rest)*)?);
    };
    ($object:ident ($key:expr) { $($inner:tt)* } $(, $($rest:tt)*)?) => {
        $object.insert($crate::value::__key($key), $crate::json!({ $($inner)* }));
        $crate::__json_entries!($object $($($rest)*)?);
    };
    ($object:ident ($key:expr) $value:expr , $($rest:tt)*) => {
        $object.insert($crate::value::__key($key), $crate::json!($value));
        $crate::__json_entries!($object $($rest)*);
    };
    ($object:ident ($key:expr) $value:expr) => {
        $object.insert($crate::value::__key($key), $crate::json!($value));
    };
}

/// A `json!` key: a string, borrowed or owned.
#[doc(hidden)]
pub fn __key(key: impl Into<String>) -> String {
    key.into()
}

/// A `json!` leaf: any `Serialize` value.
#[doc(hidden)]
#[track_caller]
pub fn __leaf<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    match to_value(value) {
        Ok(value) => value,
        Err(error) => panic!("json!: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexing_reads_through_missing_levels_and_writes_insert() {
        let mut value = json!({"a": {"b": [1, {"c": "d"}]}});
        assert_eq!(value["a"]["b"][1]["c"], "d");
        assert!(value["x"]["y"][3].is_null());
        value["a"]["new"] = json!(5);
        assert_eq!(value["a"]["new"], 5);
        let mut empty = Value::Null;
        empty["k"] = json!("v");
        assert_eq!(empty, json!({"k": "v"}));
        assert_eq!(value.pointer("/a/b/1/c"), Some(&json!("d")));
        assert_eq!(value.pointer("/a/b/01"), None);
        *value.pointer_mut("/a/b/0").unwrap() = json!(2);
        assert_eq!(value["a"]["b"][0], 2);
    }

    #[test]
    fn compares_with_plain_values() {
        let value = json!({"n": 3, "f": 1.5, "s": "x", "b": true, "neg": -1});
        assert_eq!(value["n"], 3);
        assert_eq!(value["n"], 3u8);
        assert_eq!(value["n"], 3usize);
        assert_eq!(3, value["n"]);
        assert_eq!(value["f"], 1.5);
        assert_eq!(value["s"], "x");
        assert_eq!(value["s"], *"x");
        assert_eq!(value["s"], "x".to_string());
        assert_eq!(value["b"], true);
        assert_eq!(value["neg"], -1);
        assert_ne!(value["neg"], 1u64);
        assert_ne!(value["n"], "3");
    }

    /// The rules both sides run hold on this type as on the host's: every
    /// vector file of `wit/rules/vectors/`.
    #[test]
    fn the_rules_vectors_hold_on_this_value() {
        let failures: Vec<String> = zapwasm_rules::vectors::FILES
            .iter()
            .filter_map(|(file, _)| zapwasm_rules::vectors::run::<Value>(file).err())
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn converts_to_and_from_serde_json_keeping_order() {
        let ours = json!({"z": 1, "a": [true, null, {"m": "n"}], "big": 18446744073709551615u64});
        let theirs: serde_json::Value = ours.clone().into();
        assert_eq!(theirs.to_string(), ours.to_string());
        assert_eq!(Value::from(theirs), ours);
    }
}
