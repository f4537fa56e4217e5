//! `invoke --prompt`: asks on the terminal for each required input field
//! that `--input` lacks (and that has no default), before the fields are
//! applied. Each question shows the field's label, key, type and help
//! text, all escaped ([`safe`]); a field with choices lists them numbered,
//! and a dynamic dropdown (`dynamic: "TRIGGER.ID.LABEL"`) first runs its
//! trigger with the current credentials (`bundle.meta.isFillingDynamicDropdown`)
//! and offers its items: the label shown, the value from the ID field.
//! The answer is a choice's number or a value typed as it is.
//!
//! Plain line reading on stdin: one question, one line. Prompting needs a
//! terminal; without one `--prompt` is refused, naming the fields --input
//! must give.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{App, Bundle, DATETIME_FORMS, Invocation};

use crate::EXIT_USAGE;
use crate::args::InvokeArgs;
use crate::config::scope;
use crate::report::{safe, save_refreshed};

/// The most choices listed: a dropdown's first page is what the platform
/// shows too.
const MAX_CHOICES: usize = 100;
/// How many empty or unreadable answers a required field takes before
/// `--prompt` gives up.
const TRIES: usize = 3;

/// One choice of a dropdown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    /// What the field gets.
    pub value: Value,
    /// What is shown.
    pub label: String,
}

/// The required fields `input` does not give and that have no default
/// (computed fields and dynamic-fields functions excluded).
pub(crate) fn missing<'a>(fields: &'a [Value], input: &serde_json::Map<String, Value>) -> Vec<&'a Value> {
    let empty = |value: Option<&Value>| match value {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        _ => false,
    };
    fields
        .iter()
        .filter(|field| {
            let key = field.get("key").and_then(Value::as_str).unwrap_or_default();
            !key.is_empty()
                && field.get("required").and_then(Value::as_bool) == Some(true)
                && field.get("computed").and_then(Value::as_bool) != Some(true)
                && empty(input.get(key))
                && empty(field.get("default"))
        })
        .collect()
}

/// A field named for a message: `key (Label)`.
fn name(field: &Value) -> String {
    let key = field.get("key").and_then(Value::as_str).unwrap_or("?");
    match field.get("label").and_then(Value::as_str).filter(|label| !label.is_empty() && *label != key) {
        Some(label) => format!("{key} ({label})"),
        None => key.to_string(),
    }
}

/// Asks for each missing required field and puts the answers in the
/// bundle's inputData (and inputDataRaw: they are what the user gave).
pub(crate) async fn ask(app: &App, args: &InvokeArgs, fields: &[Value], bundle: &mut Bundle) -> Result<(), ExitCode> {
    let missing = missing(fields, &bundle.input_data);
    if !std::io::stdin().is_terminal() {
        let names: Vec<String> = missing.iter().map(|field| name(field)).collect();
        let which = if names.is_empty() {
            String::new()
        } else {
            format!(" (the required fields missing now: {})", names.join(", "))
        };
        return Err(fail(format!(
            "--prompt asks on a terminal, and stdin is not one: give the input fields with --input instead{which}"
        )));
    }
    let mut lines = std::io::stdin().lock().lines();
    for field in missing {
        let key = field.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
        show(field);
        let choices = choices_of(app, args, field, bundle).await?;
        show_choices(&choices);
        let mut answer = None;
        for _ in 0..TRIES {
            eprint!("{}> ", safe(&key));
            let _ = std::io::stderr().flush();
            let line = match lines.next() {
                Some(Ok(line)) => line,
                Some(Err(e)) => return Err(fail(format!("cannot read the answer for {}: {e}", name(field)))),
                None => return Err(fail(format!("no answer for {}: stdin ended", name(field)))),
            };
            match read_answer(line.trim(), &choices) {
                Some(value) => {
                    answer = Some(value);
                    break;
                }
                None => eprintln!("  {} is required: type a value{}", safe(&name(field)), pick_hint(&choices)),
            }
        }
        let Some(value) = answer else {
            return Err(fail(format!("no answer for {}: give it with --input", name(field))));
        };
        bundle.input_data_raw.insert(key.clone(), value.clone());
        bundle.input_data.insert(key, value);
    }
    Ok(())
}

/// Prints a field's question on stderr.
fn show(field: &Value) {
    let text = |name: &str| field.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
    let kind = text("type").unwrap_or("string");
    let list = if field.get("list").and_then(Value::as_bool) == Some(true) { ", a list" } else { "" };
    eprintln!();
    eprintln!("{} ({kind}{list}, required)", safe(&name(field)));
    if let Some(help) = text("helpText") {
        eprintln!("  {}", safe(help));
    }
    if kind == "datetime" {
        eprintln!("  a date and time: {DATETIME_FORMS}");
    }
}

/// Lists a field's choices on stderr, numbered from 1.
fn show_choices(choices: &[Choice]) {
    for (index, choice) in choices.iter().enumerate() {
        let value = match &choice.value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let shown = if choice.label == value { value } else { format!("{} [{value}]", choice.label) };
        eprintln!("  {:>3}. {}", index + 1, safe(&shown));
    }
}

fn pick_hint(choices: &[Choice]) -> String {
    if choices.is_empty() { String::new() } else { format!(", or pick 1-{}", choices.len()) }
}

/// An answer: a choice's number picks it; other text is the value as
/// typed; nothing is no answer.
pub(crate) fn read_answer(answer: &str, choices: &[Choice]) -> Option<Value> {
    if answer.is_empty() {
        return None;
    }
    if let Ok(number) = answer.parse::<usize>()
        && let Some(choice) = number.checked_sub(1).and_then(|index| choices.get(index))
    {
        return Some(choice.value.clone());
    }
    Some(Value::String(answer.to_string()))
}

/// The choices a field offers: its static `choices`, or its dynamic
/// dropdown's trigger run now. A trigger that fails is reported and the
/// value is typed instead.
async fn choices_of(app: &App, args: &InvokeArgs, field: &Value, bundle: &mut Bundle) -> Result<Vec<Choice>, ExitCode> {
    if let Some(choices) = field.get("choices") {
        return Ok(static_choices(choices));
    }
    let Some(dynamic) = field.get("dynamic").and_then(Value::as_str) else { return Ok(Vec::new()) };
    let mut parts = dynamic.split('.');
    let (Some(trigger), Some(id)) = (parts.next(), parts.next()) else {
        eprintln!("zapwasm: the dropdown {} cannot be read (TRIGGER.ID.LABEL): type the value", safe(dynamic));
        return Ok(Vec::new());
    };
    let label = parts.next().unwrap_or(id);
    let mut dropdown = bundle.clone();
    dropdown.meta.is_filling_dynamic_dropdown = true;
    let method = format!("triggers.{trigger}.operation.perform");
    let outcome = app.invoke(Invocation::new(method.clone(), dropdown, scope(args))).await;
    // A stale session or token refreshed by this call is the account's now.
    save_refreshed(&outcome, args)?;
    if let Some(auth_data) = &outcome.auth_data {
        bundle.auth_data = auth_data.clone();
    }
    match &outcome.result {
        Ok(result) => {
            let choices = dynamic_choices(&result.value(), id, label);
            if choices.is_empty() {
                eprintln!("zapwasm: the dropdown's trigger {} listed nothing: type the value", safe(&method));
            }
            Ok(choices)
        }
        Err(error) => {
            eprintln!(
                "zapwasm: the dropdown's trigger {} failed ({} error: {}): type the value",
                safe(&method),
                error.kind(),
                safe(&zapwasm_host::with_causes(error))
            );
            Ok(Vec::new())
        }
    }
}

/// A dynamic dropdown's choices from its trigger's result: each object
/// item with a value at `id` (the label from `label`, else the value),
/// in the trigger's order, at most [`MAX_CHOICES`].
pub(crate) fn dynamic_choices(result: &Value, id: &str, label: &str) -> Vec<Choice> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    result
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            let value = item.get(id).filter(|value| !value.is_null())?.clone();
            let shown = item.get(label).filter(|shown| !shown.is_null()).map(text).unwrap_or_else(|| text(&value));
            Some(Choice { value, label: shown })
        })
        .take(MAX_CHOICES)
        .collect()
}

/// A field's static `choices`: a list of values, of `{value, label}`
/// objects, or an object of value to label.
pub(crate) fn static_choices(choices: &Value) -> Vec<Choice> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match choices {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::Object(_) => {
                    let value = item.get("value")?.clone();
                    let label = item.get("label").map(text).unwrap_or_else(|| text(&value));
                    Some(Choice { value, label })
                }
                Value::Null => None,
                value => Some(Choice { value: value.clone(), label: text(value) }),
            })
            .take(MAX_CHOICES)
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(value, label)| Choice { value: Value::String(value.clone()), label: text(label) })
            .take(MAX_CHOICES)
            .collect(),
        _ => Vec::new(),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("zapwasm: {}", safe(&message));
    ExitCode::from(EXIT_USAGE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_dynamic_dropdown_lists_its_triggers_items() {
        let result = json!([
            {"id": 7, "email": "ada@example.test"},
            {"id": 8},
            {"email": "no-id@example.test"},
            "not an object",
            {"id": "x9", "email": null}
        ]);
        assert_eq!(
            dynamic_choices(&result, "id", "email"),
            [
                Choice { value: json!(7), label: "ada@example.test".into() },
                Choice { value: json!(8), label: "8".into() },
                Choice { value: json!("x9"), label: "x9".into() },
            ]
        );
        assert!(dynamic_choices(&json!({"id": 1}), "id", "email").is_empty(), "not a list");
        let many: Vec<Value> = (0..150).map(|id| json!({"id": id})).collect();
        assert_eq!(dynamic_choices(&Value::Array(many), "id", "id").len(), MAX_CHOICES);
    }

    #[test]
    fn static_choices_come_in_three_shapes() {
        let labels = |choices: Vec<Choice>| choices.into_iter().map(|c| (c.value, c.label)).collect::<Vec<_>>();
        assert_eq!(labels(static_choices(&json!(["a", 2]))), [(json!("a"), "a".into()), (json!(2), "2".into())]);
        assert_eq!(
            labels(static_choices(&json!([{"value": "lo", "label": "Low"}, {"label": "no value"}]))),
            [(json!("lo"), "Low".into())]
        );
        assert_eq!(labels(static_choices(&json!({"hi": "High"}))), [(json!("hi"), "High".into())]);
    }

    #[test]
    fn an_answer_is_a_choice_number_or_the_value_typed() {
        let choices = [Choice { value: json!(7), label: "ada".into() }];
        assert_eq!(read_answer("1", &choices), Some(json!(7)));
        assert_eq!(read_answer("2", &choices), Some(json!("2")), "no such choice: the value typed");
        assert_eq!(read_answer("0", &choices), Some(json!("0")));
        assert_eq!(read_answer("ada", &choices), Some(json!("ada")));
        assert_eq!(read_answer("", &choices), None);
    }

    #[test]
    fn only_required_fields_without_a_value_or_default_are_asked() {
        let fields = json!([
            {"key": "a", "required": true},
            {"key": "b", "required": true, "default": "x"},
            {"key": "c", "required": true, "computed": true},
            {"key": "d"},
            {"key": "e", "required": true},
            {"key": "f", "required": true}
        ]);
        let input = json!({"e": "given", "f": ""});
        let asked: Vec<&str> = missing(fields.as_array().unwrap(), input.as_object().unwrap())
            .into_iter()
            .filter_map(|field| field["key"].as_str())
            .collect();
        assert_eq!(asked, ["a", "f"]);
    }
}
