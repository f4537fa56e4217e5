//! How a JSON value is written where text is expected: a header value, a
//! form field, a curly inside a longer string; and how a message names a
//! value's type.
//!
//! Params have their own variant, [`crate::url_params::param_text`], which
//! keeps null apart (a missing param is sent empty or dropped).

use crate::json::{Json, View};

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
pub fn value_text<J: Json>(value: &J) -> String {
    match value.view() {
        View::String(text) => text.to_string(),
        View::Null => String::new(),
        _ => value.to_text(),
    }
}

/// The type of a JSON value as a message names it: `null`, `a boolean`,
/// `a number`, `a string`, `an array`, `an object`.
///
/// ```
/// use serde_json::json;
/// use zapwasm_rules::text::type_name;
///
/// assert_eq!(type_name(&json!([1])), "an array");
/// assert_eq!(type_name(&json!(null)), "null");
/// ```
pub fn type_name<J: Json>(value: &J) -> &'static str {
    match value.view() {
        View::Null => "null",
        View::Bool(_) => "a boolean",
        View::Number(_) => "a number",
        View::String(_) => "a string",
        View::Array(_) => "an array",
        View::Object(_) => "an object",
    }
}
