//! Dehydration: the string `z.dehydrate` and `z.dehydrateFile` return in
//! place of a value, and how it is read back.
//!
//! A dehydrated value is a pointer to a hydrator call the platform makes
//! later, when (and if) a step needs the value:
//!
//! ```text
//! hydrate|||{"type":"method","method":"hydrators.contact","bundle":{"id":7}}|||hydrate
//! ```
//!
//! `type` is `method` (`z.dehydrate`: the hydrator's result is the value)
//! or `file` (`z.dehydrateFile`: the hydrator stashes a file and returns its
//! URL); `bundle` is what the hydrator receives as `bundle.inputData`.
//!
//! The rules, the reference platform's:
//!
//! - inputData `null` is `{}`; any other value that is not an object is
//!   refused ([`DehydrateError::NotAnObject`]; the platform would turn an
//!   array or a string into an object of its indices);
//! - inputData holding a truthy `inputData` is a whole bundle passed by
//!   mistake, refused ([`DehydrateError::WholeBundle`]);
//! - its `environment` key is dropped (the platform keeps the environment
//!   out of pointers);
//! - the payload's JSON text (between the markers) holds at most
//!   [`MAX_PAYLOAD_CHARS`] characters, counted as JavaScript counts a
//!   string's length (UTF-16 code units: one for most characters, two for
//!   an emoji), else [`DehydrateError::TooLong`].
//!
//! A host that signs pointers rewrites the payload as
//! `hydrate|||<base64 of the JSON>:<base64 signature>|||hydrate`
//! ([`Pointer::Signed`]); the signature is the host's business, this module
//! only tells the two forms apart. The guest SDK writes pointers with
//! [`dehydrate`] and hands them to the host to seal; the host reads one
//! back with [`parse`]. Vectors: `vectors/dehydrate.json`,
//! `vectors/hydrate_parse.json`.
//!
//! ```
//! use serde_json::json;
//! use zapwasm_rules::dehydrate::{self, Kind, Pointer};
//!
//! let pointer = dehydrate::dehydrate(Kind::Method, "hydrators.contact", &json!({"id": 7})).unwrap();
//! assert_eq!(pointer, r#"hydrate|||{"type":"method","method":"hydrators.contact","bundle":{"id":7}}|||hydrate"#);
//! let Some(Pointer::Unsigned(payload)) = dehydrate::parse(&pointer) else { panic!() };
//! assert_eq!(payload.method, "hydrators.contact");
//! assert_eq!(payload.bundle["id"], 7);
//! ```

use std::fmt;

use serde_json::{Map, Value};

use crate::json::{Json, JsonMap, View};

/// What a pointer starts with.
pub const START: &str = "hydrate|||";
/// What a pointer ends with.
pub const END: &str = "|||hydrate";
/// The most characters (UTF-16 code units) the payload's JSON may hold:
/// the reference platform's limit, which keeps a signed pointer within an
/// HTTP header once base64 adds its third.
pub const MAX_PAYLOAD_CHARS: usize = 12_000;
/// The most UTF-8 bytes a payload within [`MAX_PAYLOAD_CHARS`] can take
/// (a UTF-16 code unit is at most three bytes): how far past a
/// [`START`] a reader looks for the payload's end.
const MAX_PAYLOAD_BYTES: usize = 3 * MAX_PAYLOAD_CHARS;

/// What a pointer's hydrator gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `z.dehydrate`: the hydrator's result is the value.
    Method,
    /// `z.dehydrateFile`: the hydrator stashes a file and returns its URL.
    File,
}

impl Kind {
    /// The payload's `type`: `method` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Method => "method",
            Kind::File => "file",
        }
    }

    /// The kind a payload's `type` names.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "method" => Some(Kind::Method),
            "file" => Some(Kind::File),
            _ => None,
        }
    }
}

/// What a pointer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// `type`.
    pub kind: Kind,
    /// `method`: the method path of the hydrator, e.g. `hydrators.contact`.
    pub method: String,
    /// `bundle`: the hydrator's `bundle.inputData`.
    pub bundle: Map<String, Value>,
}

/// Why a value cannot be dehydrated. Its text is the reference platform's
/// message where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DehydrateError {
    /// inputData holds a truthy `inputData`: a whole bundle was passed.
    WholeBundle,
    /// inputData is neither an object nor null.
    NotAnObject {
        /// The JSON type it is (`array`, `string`, ...).
        found: &'static str,
    },
    /// The payload's JSON holds more than [`MAX_PAYLOAD_CHARS`] characters.
    TooLong {
        /// How many it holds (UTF-16 code units).
        length: usize,
    },
}

impl fmt::Display for DehydrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DehydrateError::WholeBundle => f.write_str(
                "Oops! You passed a full `bundle` - really you should pass what you want under `inputData`!",
            ),
            DehydrateError::NotAnObject { found } => {
                write!(f, "The inputData of a dehydrated value must be an object, not {found}")
            }
            // The platform says "bytes" for what it counts in characters;
            // its wording is kept so authors find it in its docs.
            DehydrateError::TooLong { length } => write!(
                f,
                "Oops! You passed too much data ({length} bytes) to your dehydration function - try slimming it \
                 down under {MAX_PAYLOAD_CHARS} bytes (usually by just passing the needed IDs)."
            ),
        }
    }
}

impl std::error::Error for DehydrateError {}

/// The unsigned pointer to `method` of `kind` with `input_data` as its
/// hydrator's inputData (see the module's rules).
pub fn dehydrate<J: Json>(kind: Kind, method: &str, input_data: &J) -> Result<String, DehydrateError> {
    let mut bundle = match input_data.view() {
        View::Null => J::Map::default(),
        View::Object(fields) => fields.clone(),
        _ => return Err(DehydrateError::NotAnObject { found: crate::text::type_name(input_data) }),
    };
    if bundle.get("inputData").is_some_and(truthy) {
        return Err(DehydrateError::WholeBundle);
    }
    bundle.remove("environment");
    let mut payload = J::Map::default();
    payload.insert("type".into(), J::string(kind.as_str().to_string()));
    payload.insert("method".into(), J::string(method.to_string()));
    payload.insert("bundle".into(), J::object(bundle));
    let json = J::object(payload).to_text();
    let length = utf16_len(&json);
    if length > MAX_PAYLOAD_CHARS {
        return Err(DehydrateError::TooLong { length });
    }
    Ok(format!("{START}{json}{END}"))
}

/// A pointer read back: the form a guest writes, or the form a signing
/// host rewrites it to.
#[derive(Debug, Clone, PartialEq)]
pub enum Pointer<'t> {
    /// `hydrate|||{...}|||hydrate`.
    Unsigned(Payload),
    /// `hydrate|||<payload>:<signature>|||hydrate`, both parts standard
    /// base64 (the payload's JSON, and the host's signature of that base64
    /// text). Neither is checked here.
    Signed {
        /// The base64 of the payload's JSON, as written.
        payload: &'t str,
        /// The base64 of the signature, as written.
        signature: &'t str,
    },
}

/// `text` (whitespace around it ignored) as one pointer, unsigned or
/// signed; `None` when it is anything else: other text around the markers,
/// an unsigned payload that is not JSON of the payload's shape (an object
/// with `type` `method` or `file`, a string `method` and an object
/// `bundle`; other keys are ignored) or holds more than
/// [`MAX_PAYLOAD_CHARS`] characters.
pub fn parse(text: &str) -> Option<Pointer<'_>> {
    let inner = text.trim().strip_prefix(START)?.strip_suffix(END)?;
    if inner.starts_with('{') {
        let (length, payload) = leading_payload(inner)?;
        return (length == inner.len()).then_some(Pointer::Unsigned(payload));
    }
    let (payload, signature) = inner.split_once(':')?;
    (is_base64(payload) && is_base64(signature)).then_some(Pointer::Signed { payload, signature })
}

/// The payload of an unsigned pointer's JSON text (what is between the
/// markers), if it has the payload's shape and length (as [`parse`]).
pub fn payload(json: &str) -> Option<Payload> {
    let (length, payload) = leading_payload(json)?;
    (length == json.len()).then_some(payload)
}

/// The payload's JSON at the start of `text`, if there is one: its length
/// in bytes, and what it holds. Reads no further than the longest payload
/// allowed.
fn leading_payload(text: &str) -> Option<(usize, Payload)> {
    if !text.starts_with('{') {
        return None;
    }
    let window = &text[..text.floor_char_boundary(MAX_PAYLOAD_BYTES.min(text.len()))];
    let mut values = serde_json::Deserializer::from_str(window).into_iter::<Value>();
    let Some(Ok(Value::Object(mut fields))) = values.next() else { return None };
    let length = values.byte_offset();
    if utf16_len(&text[..length]) > MAX_PAYLOAD_CHARS {
        return None;
    }
    let kind = fields.get("type").and_then(Value::as_str).and_then(Kind::parse)?;
    let Some(Value::String(method)) = fields.remove("method") else { return None };
    let Some(Value::Object(bundle)) = fields.remove("bundle") else { return None };
    Some((length, Payload { kind, method, bundle }))
}

/// JavaScript's `length` of `text`: its UTF-16 code units.
fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Whether JavaScript would find `value` truthy.
fn truthy<J: Json>(value: &J) -> bool {
    match value.view() {
        View::Null => false,
        View::Bool(b) => b,
        View::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        View::String(s) => !s.is_empty(),
        View::Array(_) | View::Object(_) => true,
    }
}

/// Standard base64 with padding, not empty.
fn is_base64(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_limit_counts_the_payload_in_utf16_code_units() {
        let overhead =
            dehydrate(Kind::Method, "hydrators.x", &json!({"v": ""})).unwrap().len() - START.len() - END.len();
        let fits = "x".repeat(MAX_PAYLOAD_CHARS - overhead);
        let pointer = dehydrate(Kind::Method, "hydrators.x", &json!({ "v": fits })).unwrap();
        assert_eq!(pointer.len(), MAX_PAYLOAD_CHARS + START.len() + END.len());
        assert!(matches!(parse(&pointer), Some(Pointer::Unsigned(_))));
        let over = "x".repeat(MAX_PAYLOAD_CHARS - overhead + 1);
        let error = dehydrate(Kind::Method, "hydrators.x", &json!({ "v": over })).unwrap_err();
        assert_eq!(error, DehydrateError::TooLong { length: MAX_PAYLOAD_CHARS + 1 });
        // An emoji is two code units, as JavaScript counts it.
        let emoji = "😀".repeat((MAX_PAYLOAD_CHARS - overhead) / 2 + 1);
        assert!(matches!(
            dehydrate(Kind::Method, "hydrators.x", &json!({ "v": emoji })),
            Err(DehydrateError::TooLong { .. })
        ));
    }
}
