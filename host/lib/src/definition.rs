//! The app definition an integration returns from `definition()`.
//!
//! Zapier's shape (`authentication`, `triggers`, `searches`, `creates`,
//! `hydrators`, `beforeRequest`, ...). A function appears as
//! `{"$func": "<method path>"}`; a shorthand request as a request object
//! (the method-path grammar is `zapwasm_rules::method_path`).
//! The host reads it to know which method paths exist, the auth type, and
//! what to show in `zapwasm describe`.

use serde_json::{Map, Value};
use zapwasm_rules::method_path;

use crate::error::LoadError;

/// Which kind of operation a key belongs to (`triggers`, `searches`,
/// `creates`): a rule the guest SDK shares, so the type is `zapwasm-rules'`.
pub use zapwasm_rules::method_path::OperationKind;

/// A parsed app definition.
#[derive(Debug, Clone)]
pub struct Definition {
    json: Value,
    methods: Vec<String>,
    /// Paths of keys the text repeated within one object: the parse kept
    /// only the last, so the definition checks report them from here.
    duplicate_keys: Vec<String>,
}

/// One trigger, search or create, as `describe` shows it.
#[derive(Debug, Clone)]
pub struct OperationSummary {
    /// Trigger, search or create.
    pub kind: OperationKind,
    /// The key.
    pub key: String,
    /// The noun.
    pub noun: String,
    /// `display.label`.
    pub label: String,
    /// `display.description`.
    pub description: String,
    /// `operation.type` (`polling`, `hook`) for triggers.
    pub trigger_type: Option<String>,
    /// The operation's method names that exist (`perform`, `performList`, ...).
    pub methods: Vec<String>,
}

impl Definition {
    /// Parse the JSON text `definition()` returned.
    pub fn parse(text: &str) -> Result<Definition, LoadError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| LoadError::Definition { message: format!("not JSON: {e}") })?;
        if !json.is_object() {
            return Err(LoadError::Definition { message: "the definition must be a JSON object".into() });
        }
        let mut methods = method_path::methods(&json);
        methods.sort();
        let duplicate_keys = crate::definition_checks::duplicate_keys(text);
        Ok(Definition { json, methods, duplicate_keys })
    }

    /// A definition with nothing in it (used while the real one is read).
    pub(crate) fn empty() -> Definition {
        Definition { json: Value::Object(Map::new()), methods: Vec::new(), duplicate_keys: Vec::new() }
    }

    /// The definition as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Every method path the host can run: functions and shorthand requests.
    pub fn methods(&self) -> &[String] {
        &self.methods
    }

    /// Whether `path` names a function or a shorthand request.
    pub fn has_method(&self, path: &str) -> bool {
        // `methods` is sorted (`parse`): every call asks this once.
        self.methods.binary_search_by(|m| m.as_str().cmp(path)).is_ok()
    }

    /// The JSON paths of keys the definition's text held twice in one
    /// object (`triggers.new_item`): the parsed JSON keeps only the last.
    pub fn duplicate_keys(&self) -> &[String] {
        &self.duplicate_keys
    }

    /// The value at a dotted path (`triggers.new_contact.operation`).
    pub fn get(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(&self.json, |value, key| match value {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// `authentication.type`, when the app has authentication.
    pub fn auth_type(&self) -> Option<&str> {
        self.get("authentication.type").and_then(Value::as_str)
    }

    /// Whether a 401 means "refresh the credentials": session auth, or oauth2
    /// with `autoRefresh`.
    pub fn refreshes_on_401(&self) -> bool {
        match self.auth_type() {
            Some("session") => true,
            Some("oauth2") => {
                self.get("authentication.oauth2Config.autoRefresh").and_then(Value::as_bool) == Some(true)
            }
            _ => false,
        }
    }

    /// The triggers, searches and creates.
    pub fn operations(&self) -> Vec<OperationSummary> {
        let mut out = Vec::new();
        for kind in OperationKind::ALL {
            let Some(Value::Object(ops)) = self.json.get(kind.plural()) else {
                continue;
            };
            for (key, op) in ops {
                out.push(summarize(kind, key, op));
            }
        }
        out
    }

    /// The summary of one operation.
    pub fn operation(&self, kind: OperationKind, key: &str) -> Option<OperationSummary> {
        self.json.get(kind.plural())?.get(key).map(|op| summarize(kind, key, op))
    }
}

fn summarize(kind: OperationKind, key: &str, op: &Value) -> OperationSummary {
    let text = |path: &[&str]| -> String {
        path.iter().try_fold(op, |v, k| v.get(*k)).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    let methods = match op.get("operation") {
        Some(Value::Object(operation)) => {
            method_path::SHORTHAND_SLOTS.iter().filter(|m| operation.contains_key(**m)).map(|m| m.to_string()).collect()
        }
        _ => Vec::new(),
    };
    OperationSummary {
        kind,
        key: key.to_string(),
        noun: text(&["noun"]),
        label: text(&["display", "label"]),
        description: text(&["display", "description"]),
        trigger_type: op.pointer("/operation/type").and_then(Value::as_str).map(str::to_string),
        methods,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_and_shorthand_requests() {
        let def = Definition::parse(
            r#"{"authentication":{"type":"session","test":{"url":"https://x/me"}},
                "triggers":{"a":{"operation":{"type":"polling","perform":{"$func":"triggers.a.operation.perform"},
                  "inputFields":[{"key":"x"},{"$func":"triggers.a.operation.inputFields.1"}]}}},
                "beforeRequest":[{"$func":"beforeRequest.0"}]}"#,
        )
        .unwrap();
        assert_eq!(
            def.methods(),
            [
                "authentication.test",
                "beforeRequest.0",
                "triggers.a.operation.inputFields.1",
                "triggers.a.operation.perform"
            ]
        );
        assert!(def.refreshes_on_401());
        assert_eq!(def.operations()[0].methods, ["perform"]);
    }

    #[test]
    fn rejects_non_objects() {
        assert!(Definition::parse("[1]").is_err());
        assert!(Definition::parse("{").is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// A definition's keys and markers, for the mutations.
    const TOKENS: &[&str] = &[
        "\"$func\":",
        "{\"$func\":\"triggers.a.operation.perform\"}",
        "\"url\":\"https://api.test/x\"",
        "\"authentication\":",
        "\"type\":\"oauth2\"",
        "\"type\":\"session\"",
        "\"autoRefresh\":true",
        "\"triggers\":",
        "\"operation\":",
        "\"perform\":",
        "\"performList\":",
        "\"display\":",
        "\"inputFields\":",
    ];

    /// The definition a guest returns (and the copy the cache keeps): it
    /// parses or is refused, never panics, and what it lists holds up
    /// (methods sorted and found, each operation found again by its key).
    #[test]
    fn definitions_parse_or_are_refused() {
        fuzzing::fuzz("definition", TOKENS, |input| {
            let text = input.text();
            let definition = match Definition::parse(&text) {
                Ok(definition) => definition,
                Err(_) => {
                    prop_assert!(serde_json::from_str::<Value>(&text).map_or(true, |json| !json.is_object()));
                    return Ok(());
                }
            };
            prop_assert!(definition.json().is_object());
            prop_assert!(definition.methods().is_sorted());
            for method in definition.methods() {
                prop_assert!(definition.has_method(method));
            }
            let _ = definition.auth_type();
            let _ = definition.refreshes_on_401();
            // The checks every load runs take whatever the guest returned.
            let _ = crate::definition_checks::check_definition(&definition);
            for summary in definition.operations() {
                let again = definition.operation(summary.kind, &summary.key);
                prop_assert!(again.is_some_and(|again| again.methods == summary.methods && again.noun == summary.noun));
            }
            Ok(())
        });
    }
}
