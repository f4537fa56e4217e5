//! How a JSON value is written where text is expected: a header value, a
//! form field, a curly inside a longer string.
//!
//! Params have their own variant, [`crate::url_params::param_text`], which
//! keeps null apart (a missing param is sent empty or dropped).

use serde_json::Value;

/// A scalar JSON value as the text it stands for: strings as they are,
/// null as empty, numbers and booleans (and anything else) as their JSON.
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::text::value_text;
///
/// assert_eq!(value_text(&json!("a b")), "a b");
/// assert_eq!(value_text(&json!(null)), "");
/// assert_eq!(value_text(&json!(1.5)), "1.5");
/// assert_eq!(value_text(&json!(["x"])), r#"["x"]"#);
/// ```
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
