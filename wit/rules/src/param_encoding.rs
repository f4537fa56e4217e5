//! Param encoding: how the host writes a param's key and value into a
//! query string, as JavaScript's `encodeURIComponent` (and Node's
//! `querystring.escape`) does, leaving raw the characters the request's
//! `skipEncodingChars` names.
//!
//! [`crate::url_params`] encodes every param with it, and [`crate::form`]
//! encodes form fields with it (spaces then written as `+`).
//! Vectors: `vectors/param_encoding.json`.

/// Whether `c` is left as it is by `encodeURIComponent`:
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
pub fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c)
}

/// Percent-encodes `text` as `encodeURIComponent` does (each byte of a
/// character's UTF-8 as `%XX`, upper-case hex), except the characters in
/// `keep`, which stay raw whatever they are.
///
/// ```
/// use zapwasm_rules::param_encoding::encode;
///
/// assert_eq!(encode("a b/c?é", ""), "a%20b%2Fc%3F%C3%A9");
/// assert_eq!(encode("a:b/c", ":/"), "a:b/c");
/// ```
pub fn encode(text: &str, keep: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unreserved(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xF)]));
            }
        }
    }
    out
}
