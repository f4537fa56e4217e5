//! An operation's input fields, applied to the user's input before the
//! operation runs, as the platform does: the fields resolved (static ones
//! from the definition, dynamic ones by running their functions with the
//! bundle), each field's `default` used when no value is given, values
//! coerced to the field's type (`"3"` for an integer field is `3`), and
//! required fields checked. Keys no field declares pass through as given.
//!
//! A `datetime` field is sent as ISO 8601 (RFC 3339). It takes the forms
//! listed in [`DATETIME_FORMS`]: a date (`2026-12-06`, midnight UTC), a
//! date and time without an offset (`2026-12-06 13:00`, UTC), ISO 8601
//! with an offset (kept as given), a Unix timestamp (seconds; milliseconds
//! from 12 digits on), `now`, `today`, `tomorrow`, `yesterday`, and times
//! relative to now (`+3d`, `-2h`, `in 3 days`, `2 hours ago`; units s, m,
//! h, d, w). The time zone of a value without an offset is UTC: the host
//! knows no user's zone.
//!
//! [`apply_input_fields`] is the rule on a list of fields;
//! [`App::prepare_input`] resolves the fields of an operation and applies
//! them to a bundle. `zapwasm invoke` runs it before every operation.

use std::fmt;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use zapwasm_rules::method_path::{self, FieldList, OperationKind};

use crate::app::App;
use crate::bundle::{Bundle, Scope};
use crate::invoke::{Invocation, Outcome};

/// One input the fields refused: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FieldProblem {
    /// The field's key.
    pub key: String,
    /// Its label, when it has one.
    pub label: Option<String>,
    /// What is wrong (`is required`, `expected an integer, got "abc"`).
    pub problem: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => write!(f, "{} ({label}) {}", self.key, self.problem),
            None => write!(f, "{} {}", self.key, self.problem),
        }
    }
}

/// Why an operation's input could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input breaks the fields: every problem, one per field.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldProblem>),
    /// A dynamic input fields function failed; its outcome.
    #[error("the dynamic input fields at {method} failed")]
    DynamicFields {
        /// The function's method path.
        method: String,
        /// Its outcome (with the error, the logs and the HTTP exchanges).
        outcome: Box<Outcome>,
    },
}

impl App {
    /// The input fields of an operation, in order: the static ones from
    /// the definition, and for each dynamic entry the fields its function
    /// returns when run with `bundle` in `scope` (entries that are not
    /// field objects with a key are skipped; the call's result checks
    /// report them).
    pub async fn input_fields(
        &self,
        kind: OperationKind,
        key: &str,
        bundle: &Bundle,
        scope: &Scope,
    ) -> Result<Vec<Value>, InputError> {
        let operation = method_path::operation(kind, key);
        let entries = self
            .definition()
            .json()
            .get(kind.plural())
            .and_then(|operations| operations.get(key))
            .and_then(|action| action.pointer("/operation/inputFields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut fields = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            if entry.get("$func").is_none() {
                fields.push(entry);
                continue;
            }
            let method = method_path::fields_entry(&operation, FieldList::Input, index);
            let outcome = self.invoke(Invocation::new(method.clone(), bundle.clone(), scope.clone())).await;
            match outcome.result.as_ref().map(|result| result.value()) {
                Ok(Value::Array(dynamic)) => {
                    fields.extend(dynamic.into_iter().filter(|field| field.get("key").is_some_and(Value::is_string)))
                }
                Ok(_) => {}
                Err(_) => return Err(InputError::DynamicFields { method, outcome: Box::new(outcome) }),
            }
        }
        Ok(fields)
    }

    /// Makes `bundle.inputData` ready for an operation: its input fields
    /// resolved ([`App::input_fields`]) and applied ([`apply_input_fields`]).
    /// `inputDataRaw` keeps what was given. An operation the definition
    /// does not have is left alone (the call reports it).
    pub async fn prepare_input(
        &self,
        kind: OperationKind,
        key: &str,
        bundle: &mut Bundle,
        scope: &Scope,
    ) -> Result<(), InputError> {
        let fields = self.input_fields(kind, key, bundle, scope).await?;
        if bundle.input_data_raw.is_empty() {
            bundle.input_data_raw = bundle.input_data.clone();
        }
        let problems = apply_input_fields(&fields, &mut bundle.input_data);
        if problems.is_empty() { Ok(()) } else { Err(InputError::Fields(problems)) }
    }
}

/// Applies input fields to inputData: each field's `default` where no
/// value is given (absent, null or empty), values coerced to the field's
/// `type` (and to lists with `list: true`), required fields checked. Every
/// problem is returned, one per field; values that could not be coerced
/// are left as given.
///
/// ```
/// use serde_json::json;
/// use zapwasm_host::apply_input_fields;
///
/// let fields = [json!({"key": "count", "type": "integer", "required": true}),
///               json!({"key": "send", "type": "boolean", "default": "yes"})];
/// let mut input = json!({"count": " 3 "}).as_object().cloned().unwrap();
/// assert!(apply_input_fields(&fields, &mut input).is_empty());
/// assert_eq!(serde_json::Value::Object(input), json!({"count": 3, "send": true}));
/// ```
pub fn apply_input_fields(fields: &[Value], input: &mut Map<String, Value>) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    for field in fields {
        let Some(key) = field.get("key").and_then(Value::as_str).filter(|key| !key.is_empty()) else {
            continue;
        };
        let label = field.get("label").and_then(Value::as_str).filter(|l| !l.is_empty()).map(str::to_string);
        let problem = |problem: String| FieldProblem { key: key.to_string(), label: label.clone(), problem };
        let given = input.get(key).filter(|value| !is_empty(value)).cloned();
        let value = match given {
            Some(value) => value,
            None => match field.get("default").filter(|value| !is_empty(value)) {
                Some(default) => default.clone(),
                None => {
                    if field.get("required").and_then(Value::as_bool) == Some(true)
                        && field.get("computed").and_then(Value::as_bool) != Some(true)
                    {
                        problems.push(problem("is required".into()));
                    }
                    continue;
                }
            },
        };
        // Line items (`children`) are a list of objects; their own fields
        // are checked by the integration.
        if field.get("children").is_some() {
            input.insert(key.to_string(), value);
            continue;
        }
        let kind = field.get("type").and_then(Value::as_str).unwrap_or("string");
        let list = field.get("list").and_then(Value::as_bool) == Some(true);
        let coerced = if list {
            let items = match value.clone() {
                Value::Array(items) => items,
                Value::String(text) if text.trim_start().starts_with('[') => {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Array(items)) => items,
                        _ => vec![Value::String(text)],
                    }
                }
                other => vec![other],
            };
            items.into_iter().map(|item| coerce(kind, item)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        } else {
            coerce(kind, value.clone())
        };
        match coerced {
            Ok(value) => {
                input.insert(key.to_string(), value);
            }
            Err(message) => {
                problems.push(problem(message));
                input.insert(key.to_string(), value);
            }
        }
    }
    problems
}

/// Whether a value counts as not given.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// One value coerced to a field type, or why it cannot be.
fn coerce(kind: &str, value: Value) -> Result<Value, String> {
    let got = || format!("got {}", quoted(&value));
    match kind {
        "integer" => match &value {
            Value::Number(number) if number.is_i64() || number.is_u64() => Ok(value),
            Value::Number(number) => match number.as_f64() {
                Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Ok(Value::from(float as i64)),
                _ => Err(format!("expected a whole number, {}", got())),
            },
            Value::String(text) => {
                text.trim().parse::<i64>().map(Value::from).map_err(|_| format!("expected a whole number, {}", got()))
            }
            _ => Err(format!("expected a whole number, {}", got())),
        },
        "number" => match &value {
            Value::Number(_) => Ok(value),
            Value::String(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|float| {
                    // A whole number stays an integer in the JSON.
                    if float.fract() == 0.0 && float.abs() < 9.0e15 {
                        Some(Value::from(float as i64))
                    } else {
                        Number::from_f64(float).map(Value::Number)
                    }
                })
                .ok_or_else(|| format!("expected a number, {}", got())),
            _ => Err(format!("expected a number, {}", got())),
        },
        "boolean" => match &value {
            Value::Bool(_) => Ok(value),
            Value::Number(number) if number.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
            Value::Number(number) if number.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "on" | "t" => Ok(Value::Bool(true)),
                "false" | "no" | "n" | "0" | "off" | "f" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, {}", got())),
            },
            _ => Err(format!("expected true or false, {}", got())),
        },
        "json" => match &value {
            Value::String(text) => serde_json::from_str(text).map_err(|e| format!("expected JSON, {} ({e})", got())),
            _ => Ok(value),
        },
        "datetime" => {
            let read = match &value {
                Value::String(text) => read_datetime(text, Utc::now()),
                Value::Number(number) => number.as_f64().and_then(from_timestamp),
                _ => None,
            };
            read.map(Value::String).ok_or_else(|| format!("expected a date and time ({DATETIME_FORMS}), {}", got()))
        }
        // Text of every other kind: numbers and booleans as their JSON
        // text; a list or an object given programmatically is left alone.
        _ => match &value {
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(value.to_string())),
            _ => Ok(value),
        },
    }
}

/// The forms a `datetime` field takes, as error messages and help list them.
pub const DATETIME_FORMS: &str = "2026-12-06, 2026-12-06 13:00, ISO 8601 with an offset like \
     2026-12-06T13:00:00+01:00, a Unix timestamp, now, today, tomorrow, yesterday, +3d, -2h, in 3 days, \
     2 hours ago";

/// A `datetime` field's text as ISO 8601 (RFC 3339), `now` being the time
/// the relative forms count from; `None` when it is none of
/// [`DATETIME_FORMS`].
fn read_datetime(text: &str, now: DateTime<Utc>) -> Option<String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let midnight = |days: i64| {
        let date = now.date_naive().checked_add_signed(Duration::try_days(days)?)?;
        Some(iso(date.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset()))
    };
    match lower.as_str() {
        "now" => return Some(iso(now.fixed_offset())),
        "today" => return midnight(0),
        "tomorrow" => return midnight(1),
        "yesterday" => return midnight(-1),
        _ => {}
    }
    if let Some(offset) = relative(&lower) {
        return now.checked_add_signed(offset).map(|time| iso(time.fixed_offset()));
    }
    if !lower.is_empty() && lower.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) {
        return lower.parse::<f64>().ok().and_then(from_timestamp);
    }
    // ISO 8601 with a space or a `T`, seconds optional, `Z` or an offset.
    let text = match text.as_bytes().get(10) {
        Some(b' ' | b't') => format!("{}T{}", &text[..10], &text[11..]),
        _ => text.to_string(),
    };
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => text,
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(time) = DateTime::<FixedOffset>::parse_from_str(&text, format) {
            return Some(iso(time));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(&text, format) {
            return Some(iso(time.and_utc().fixed_offset()));
        }
    }
    let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()?;
    Some(iso(date.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset()))
}

/// `+3d`, `-2h`, `in 3 days`, `2 hours ago` (lower case): the time from now.
fn relative(text: &str) -> Option<Duration> {
    let (negative, rest) = if let Some(rest) = text.strip_prefix("in ") {
        (false, rest)
    } else if let Some(rest) = text.strip_suffix(" ago") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix('+') {
        (false, rest)
    } else {
        (true, text.strip_prefix('-')?)
    };
    let rest = rest.trim();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let count: i64 = rest[..digits].parse().ok()?;
    let unit = rest[digits..].trim();
    let duration = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::try_seconds(count),
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::try_minutes(count),
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::try_hours(count),
        "d" | "day" | "days" => Duration::try_days(count),
        "w" | "week" | "weeks" => Duration::try_weeks(count),
        _ => None,
    }?;
    Some(if negative { -duration } else { duration })
}

/// A Unix timestamp as ISO 8601: seconds, or milliseconds from 12 digits
/// on (1e11 seconds is past the year 5000).
fn from_timestamp(timestamp: f64) -> Option<String> {
    if !timestamp.is_finite() {
        return None;
    }
    let millis = if timestamp.abs() >= 1e11 { timestamp } else { timestamp * 1000.0 };
    if millis.abs() > 8.0e15 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(millis.round() as i64).map(|time| iso(time.fixed_offset()))
}

/// ISO 8601 as RFC 3339 writes it: `Z` for UTC, fractions of a second only
/// when there are some.
fn iso(time: DateTime<FixedOffset>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A value quoted for a message, cut short.
fn quoted(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 { format!("{}...", text.chars().take(40).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn apply(fields: Value, input: Value) -> (Value, Vec<String>) {
        let mut input = input.as_object().cloned().unwrap();
        let problems = apply_input_fields(fields.as_array().unwrap(), &mut input);
        (Value::Object(input), problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn values_are_coerced_to_their_types() {
        let fields = json!([
            {"key": "i", "type": "integer"}, {"key": "n", "type": "number"}, {"key": "b", "type": "boolean"},
            {"key": "s", "type": "string"}, {"key": "j", "type": "json"}, {"key": "w", "type": "integer"},
            {"key": "f", "type": "number"}, {"key": "untyped"}
        ]);
        let input = json!({"i": "42", "n": "2.5", "b": "no", "s": 7, "j": "{\"a\":[1]}", "w": 3.0, "f": "4",
            "untyped": true, "extra": "kept"});
        let (input, problems) = apply(fields, input);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            input,
            json!({"i": 42, "n": 2.5, "b": false, "s": "7", "j": {"a": [1]}, "w": 3, "f": 4, "untyped": "true",
                "extra": "kept"})
        );
    }

    #[test]
    fn defaults_fill_what_is_not_given_and_required_fields_are_named() {
        let fields = json!([
            {"key": "email", "label": "Email", "required": true},
            {"key": "count", "type": "integer", "default": "5"},
            {"key": "token", "required": true, "computed": true},
            {"key": "name", "required": true, "default": "anon"}
        ]);
        let (input, problems) = apply(fields, json!({"email": "", "count": null}));
        assert_eq!(problems, ["email (Email) is required"]);
        assert_eq!(input, json!({"email": "", "count": 5, "name": "anon"}));
    }

    #[test]
    fn every_value_that_does_not_fit_is_named_and_left_as_given() {
        let fields = json!([
            {"key": "i", "label": "Count", "type": "integer"}, {"key": "b", "type": "boolean"},
            {"key": "j", "type": "json"}, {"key": "n", "type": "number"}, {"key": "s", "type": "string"}
        ]);
        let (input, problems) = apply(fields, json!({"i": "4.5", "b": "maybe", "j": "{", "n": [], "s": {"a": 1}}));
        assert_eq!(problems.len(), 4, "a list or an object for a text field is left alone: {problems:?}");
        assert_eq!(problems[0], r#"i (Count) expected a whole number, got "4.5""#);
        assert!(problems[1].starts_with(r#"b expected true or false, got "maybe""#));
        assert!(problems[2].starts_with(r#"j expected JSON, got "{" ("#), "{}", problems[2]);
        assert_eq!(input["i"], "4.5");
    }

    #[test]
    fn datetimes_are_read_in_every_form_and_sent_as_iso_8601() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T12:30:45Z").unwrap().with_timezone(&Utc);
        for (given, sent) in [
            ("2026-12-06", "2026-12-06T00:00:00Z"),
            ("2026-12-06 13:00", "2026-12-06T13:00:00Z"),
            ("2026-12-06T13:00:05", "2026-12-06T13:00:05Z"),
            (" 2026-12-06T13:00:00+01:00 ", "2026-12-06T13:00:00+01:00"),
            ("2026-12-06 13:00-0500", "2026-12-06T13:00:00-05:00"),
            ("2026-12-06T13:00:00.250Z", "2026-12-06T13:00:00.250Z"),
            ("1796558400", "2026-12-06T12:00:00Z"),
            ("1796558400000", "2026-12-06T12:00:00Z"),
            ("now", "2026-12-06T12:30:45Z"),
            ("Today", "2026-12-06T00:00:00Z"),
            ("tomorrow", "2026-12-07T00:00:00Z"),
            ("yesterday", "2026-12-05T00:00:00Z"),
            ("+3d", "2026-12-09T12:30:45Z"),
            ("-2h", "2026-12-06T10:30:45Z"),
            ("in 90 minutes", "2026-12-06T14:00:45Z"),
            ("1 week ago", "2026-11-29T12:30:45Z"),
        ] {
            assert_eq!(read_datetime(given, now).as_deref(), Some(sent), "{given}");
            // What is sent reads back as itself.
            assert_eq!(read_datetime(sent, now).as_deref(), Some(sent), "{sent}");
        }
        for unreadable in ["", "next friday", "2026-13-01", "2026-12-06 25:00", "+3 fortnights", "+d", "1e400"] {
            assert_eq!(read_datetime(unreadable, now), None, "{unreadable}");
        }
        let fields = json!([{"key": "at", "label": "When", "type": "datetime"}, {"key": "ts", "type": "datetime"}]);
        let (input, problems) = apply(fields.clone(), json!({"at": "2026-12-06", "ts": 1796558400}));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(input, json!({"at": "2026-12-06T00:00:00Z", "ts": "2026-12-06T12:00:00Z"}));
        let (_, problems) = apply(fields, json!({"at": "soon"}));
        assert_eq!(problems, [format!(r#"at (When) expected a date and time ({DATETIME_FORMS}), got "soon""#)]);
    }

    #[test]
    fn list_fields_take_lists_and_coerce_each_item() {
        let fields = json!([{"key": "ids", "type": "integer", "list": true}, {"key": "tags", "list": true},
            {"key": "lines", "children": [{"key": "sku"}]}]);
        let (input, problems) = apply(fields, json!({"ids": ["1", 2], "tags": "one", "lines": [{"sku": 1}]}));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(input, json!({"ids": [1, 2], "tags": ["one"], "lines": [{"sku": 1}]}));
        let (input, _) = apply(json!([{"key": "ids", "type": "integer", "list": true}]), json!({"ids": "[3,4]"}));
        assert_eq!(input["ids"], json!([3, 4]));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// Field properties and values, for the mutations.
    const TOKENS: &[&str] = &[
        "\"type\":\"integer\"",
        "\"type\":\"number\"",
        "\"type\":\"boolean\"",
        "\"type\":\"json\"",
        "\"type\":\"datetime\"",
        "\"2026-12-06 13:00\"",
        "\"+3d\"",
        "\"list\":true",
        "\"required\":true",
        "\"default\":",
        "\"children\":[]",
        "\"1e400\"",
        "\"-0\"",
        "\"9007199254740993\"",
        "null",
    ];

    /// Input fields (from a guest's definition or dynamic fields function)
    /// and a user's input: applied without a panic, a problem at most per
    /// field, and applying them again changes no value but `json` ones
    /// (their text is parsed once).
    #[test]
    fn input_fields_apply_to_any_input() {
        fuzzing::fuzz_text("input_fields", TOKENS, |text| {
            let Ok(case) = serde_json::from_str::<Value>(text) else { return Ok(()) };
            let fields = case.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut input = case.get("input").and_then(Value::as_object).cloned().unwrap_or_default();
            let problems = apply_input_fields(&fields, &mut input);
            prop_assert!(problems.len() <= fields.len());
            let has_json = fields.iter().any(|f| f.get("type").and_then(Value::as_str) == Some("json"));
            let once = input.clone();
            let _ = apply_input_fields(&fields, &mut input);
            if !has_json {
                prop_assert_eq!(input, once);
            }
            Ok(())
        });
    }
}
