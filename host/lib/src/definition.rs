//! The app definition an integration returns from `definition()`.
//!
//! Zapier's shape (`authentication`, `triggers`, `searches`, `creates`,
//! `hydrators`, `beforeRequest`, ...). A function appears as
//! `{"$func": "<method path>"}`; a shorthand request as a request object.
//! The host reads it to know which method paths exist, the auth type, and
//! what to show in `zapwasm describe`.

use serde_json::{Map, Value};

use crate::error::LoadError;

/// Keys whose value may be a shorthand request object instead of a function.
const REQUEST_SLOTS: &[&str] = &[
    "perform",
    "performList",
    "performSubscribe",
    "performUnsubscribe",
    "performResume",
    "performBuffer",
    "test",
    "getAccessToken",
    "refreshAccessToken",
    "authorizeUrl",
];

/// A parsed app definition.
#[derive(Debug, Clone)]
pub struct Definition {
    json: Value,
    methods: Vec<String>,
}

/// Which kind of operation a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationKind {
    /// `triggers`.
    Trigger,
    /// `searches`.
    Search,
    /// `creates`.
    Create,
}

impl OperationKind {
    /// The definition's key for this kind (`triggers`, ...).
    pub fn plural(self) -> &'static str {
        match self {
            OperationKind::Trigger => "triggers",
            OperationKind::Search => "searches",
            OperationKind::Create => "creates",
        }
    }
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
        let mut methods = Vec::new();
        collect_methods(&json, &mut Vec::new(), &mut methods);
        methods.sort();
        Ok(Definition { json, methods })
    }

    /// A definition with nothing in it (used while the real one is read).
    pub(crate) fn empty() -> Definition {
        Definition { json: Value::Object(Map::new()), methods: Vec::new() }
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
        self.methods.iter().any(|m| m == path)
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
        for kind in [OperationKind::Trigger, OperationKind::Search, OperationKind::Create] {
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
            REQUEST_SLOTS.iter().filter(|m| operation.contains_key(**m)).map(|m| m.to_string()).collect()
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

fn collect_methods(value: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if is_function(map) || is_shorthand_request(path, map) {
                out.push(path.join("."));
                return;
            }
            for (key, child) in map {
                path.push(key.clone());
                collect_methods(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_methods(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn is_function(map: &Map<String, Value>) -> bool {
    map.get("$func").is_some_and(Value::is_string)
}

fn is_shorthand_request(path: &[String], map: &Map<String, Value>) -> bool {
    let slot = path.last().map(String::as_str).unwrap_or_default();
    REQUEST_SLOTS.contains(&slot) && map.get("url").is_some_and(Value::is_string)
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
