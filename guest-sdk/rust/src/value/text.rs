//! Writing a [`Value`] as compact JSON text: the same text as
//! `serde_json::to_string`, written with less work per byte.
//!
//! serde_json looks every byte of a string up in its escape table, one at a
//! time. Here a string is scanned eight bytes at a time (read as one
//! `u64`): a word with no byte below `0x20`, no `"` and no `\` is passed
//! over whole, and only a word holding one of them is looked at byte by
//! byte; the runs between escapes are copied at once. Escapes are
//! serde_json's (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` with
//! lower-case hex for the other control characters); nothing else is
//! escaped. Numbers are written by serde_json itself, so they are its
//! digits exactly.

use super::{Map, Value};

/// `value` as compact JSON text, byte for byte what `serde_json::to_string`
/// writes.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, value);
    // Only whole UTF-8 strings and ASCII are written.
    String::from_utf8(out).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push(b'[');
            let mut items = items.iter();
            if let Some(first) = items.next() {
                write_value(out, first);
                for item in items {
                    out.push(b',');
                    write_value(out, item);
                }
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map) {
    out.push(b'{');
    let mut entries = map.iter();
    if let Some((key, value)) = entries.next() {
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
        for (key, value) in entries {
            out.push(b',');
            write_str(out, key);
            out.push(b':');
            write_value(out, value);
        }
    }
    out.push(b'}');
}

/// A number as serde_json writes it (integers as they are, floats by its
/// shortest round-trip form, `null` for none).
fn write_number(out: &mut Vec<u8>, number: &serde_json::Number) {
    // Writing into a Vec cannot fail, and a Number always serializes.
    let _ = serde_json::to_writer(out, number);
}

/// Eight copies of `byte`.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

const ONES: u64 = splat(0x01);
const HIGHS: u64 = splat(0x80);

/// Whether any byte of `word` is below `0x20`, a `"` or a `\`. Exact: each
/// test sets a high bit only when some byte matches (a borrow starts only
/// at a matching byte), and always the first matching byte's.
#[inline]
fn needs_escape(word: u64) -> bool {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    let control = word.wrapping_sub(splat(0x20)) & !word;
    let quote = zero_byte(word ^ splat(b'"'));
    let backslash = zero_byte(word ^ splat(b'\\'));
    (control | quote | backslash) & HIGHS != 0
}

/// `text` as a JSON string, quotes included.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `start..i` is a run of bytes copied as they are, written when an
    // escape or the end comes.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        // A word with something to escape, or the last few bytes: byte by byte.
        let end = (i + 8).min(bytes.len());
        while i < end {
            let byte = bytes[i];
            if let Some(escape) = escape(byte) {
                out.extend_from_slice(&bytes[start..i]);
                write_escape(out, byte, escape);
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The letter of `\X` for `byte`, `u` for `\u00XX`, or `None` when the byte
/// is written as it is.
#[inline]
fn escape(byte: u8) -> Option<u8> {
    match byte {
        b'"' => Some(b'"'),
        b'\\' => Some(b'\\'),
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        0x00..=0x1f => Some(b'u'),
        _ => None,
    }
}

fn write_escape(out: &mut Vec<u8>, byte: u8, escape: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if escape == b'u' {
        out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xf) as usize]]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn same_as_serde_json(value: &Value) {
        let theirs = serde_json::Value::from(value.clone());
        assert_eq!(to_string(value), serde_json::to_string(&theirs).unwrap(), "{value:?}");
    }

    #[test]
    fn every_byte_below_0x80_escaped_as_serde_json_escapes_it() {
        for byte in 0u8..0x80 {
            let one = char::from(byte).to_string();
            // Alone, at each position of a word, and across word boundaries.
            for prefix in 0..17 {
                let text = format!("{}{one}{}", "a".repeat(prefix), "b".repeat(17 - prefix));
                same_as_serde_json(&Value::String(text));
            }
            same_as_serde_json(&Value::String(one.repeat(19)));
        }
    }

    #[test]
    fn non_ascii_text_is_written_as_it_is() {
        for text in ["é", "naïve café 東京 🎉", "\u{7f}\u{80}\u{2028}\u{2029}", "a\"é\\\n🎉\u{1}"] {
            for prefix in 0..9 {
                same_as_serde_json(&Value::String(format!("{}{text}", "x".repeat(prefix))));
            }
        }
    }

    #[test]
    fn values_of_every_kind_and_key_order_as_serde_json() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(0.1 + 0.2),
            json!([]),
            json!({}),
            json!([[], {}, [null], {"": ""}]),
            json!({"z": 1, "a": {"y": [1, "two", {"\"k\"": "v\u{1f}"}], "b": null}, "m": "line\nbreak"}),
        ];
        for value in &values {
            same_as_serde_json(value);
        }
    }

    #[test]
    fn many_generated_strings_as_serde_json() {
        // A fixed sequence (xorshift) of strings drawn from bytes that need
        // escaping, ASCII and multi-byte characters, of lengths 0 to 40.
        let alphabet = ['a', 'Z', ' ', '"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '€', '🎉', '/'];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let len = (next() % 41) as usize;
            let text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            same_as_serde_json(&json!({ text.clone(): [text] }));
        }
    }
}
