//! Definition checks: what can be judged from an app definition alone,
//! before anything runs. [`Host`](crate::Host) runs them on every load
//! ([`App::findings`](crate::App::findings)); `zapwasm validate` prints them.
//!
//! Two families, each finding with an ID, a severity, the JSON path it is
//! about and a hint:
//!
//! - the schema (`schema.*`), what the platform refuses to take at all:
//!   operation keys (`^[a-zA-Z]+[a-zA-Z0-9_]*$`, equal to their `key`
//!   property, not twice in one object), the parts an operation needs
//!   (noun, display, operation, perform), label and description of every
//!   visible operation, field keys and types, request methods, the
//!   authentication type and its parts, buffer settings, the references
//!   between operations (a dynamic dropdown's trigger, a search field's
//!   search, search-or-create's search and create, and its key being its
//!   search's);
//! - the platform's publishing checks `D001`-`D026` that need nothing but
//!   the definition (those about live runs, accounts and the listing
//!   cannot be judged here). A rule the platform words "must" or "requires"
//!   is an error; one it words "should", "recommended" or "discouraged" a
//!   warning.
//!
//! Keys repeat only within one object: the same key in two kinds (a
//! trigger and a create both `contact`) is allowed, as on the platform,
//! since every reference names its kind (a dynamic dropdown a trigger, a
//! search field a search) and a search-or-create must even share its
//! search's key. A key twice in one object is found in the definition's
//! text ([`Definition::duplicate_keys`]): the parsed JSON keeps only the
//! last, so the first operation would silently vanish.
//!
//! Where zapwasm differs on purpose: a create may have `perform` beside
//! `performBuffer` (a host that does not buffer, like the command line,
//! runs `perform`), and a `buffer.groupedBy` field may be optional (a
//! missing value groups as null), so neither is reported.
//!
//! The checks never fail and never panic: whatever JSON object a guest
//! returns, the answer is a list of findings.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use zapwasm_rules::method_path::{OperationKind, SHORTHAND_SLOTS};

use crate::checks::{missing_fields, primary_fields};
use crate::definition::Definition;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The platform refuses the definition, or the feature does not work.
    Error,
    /// Allowed, but worse for users; the platform recommends otherwise.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so `{:<7}` lines severities up.
        f.pad(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One thing a definition check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The check: `D001`-`D026` for the platform's publishing checks,
    /// `schema.*` for its schema.
    pub id: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Where, as a JSON path into the definition
    /// (`triggers.new_contact.operation.inputFields[0].dynamic`; a key that
    /// is not a plain name is quoted, `triggers["a.b"]`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// Every finding of the definition checks, in the order of the definition
/// (the app, its authentication, then each operation).
///
/// ```
/// use zapwasm_host::{Definition, Severity, check_definition};
///
/// let definition = Definition::parse(
///     r#"{"version":"1.0.0","triggers":{"new-item":{"key":"new-item","noun":"Item",
///         "display":{"label":"New Item","description":"Triggers when an item is added."},
///         "operation":{"perform":{"$func":"triggers.new-item.operation.perform"},"sample":{"id":1}}}}}"#,
/// )
/// .unwrap();
/// let findings = check_definition(&definition);
/// assert_eq!(findings[0].id, "schema.key");
/// assert_eq!(findings[0].severity, Severity::Error);
/// assert_eq!(findings[0].path, r#"triggers["new-item"]"#);
/// ```
pub fn check_definition(definition: &Definition) -> Vec<Finding> {
    let mut checker = Checker { json: definition.json(), findings: Vec::new() };
    for path in definition.duplicate_keys() {
        checker.error(
            DUPLICATE_KEY,
            path.clone(),
            "this key appears more than once in its object; the JSON keeps only the last".into(),
            "give each entry its own key".into(),
        );
    }
    checker.app();
    checker.authentication();
    for kind in OperationKind::ALL {
        if let Some(Value::Object(operations)) = checker.json.get(kind.plural()) {
            for (key, operation) in operations {
                checker.operation(kind, key, operation);
            }
        }
    }
    checker.search_or_creates();
    checker.requests();
    checker.dangerous_uris(definition.json(), String::new());
    checker.findings
}

/// A key repeated within one JSON object.
const DUPLICATE_KEY: &str = "schema.duplicate-key";

/// What an operation, trigger, search or create key must look like.
fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    let mut letters = 0;
    for c in chars.by_ref() {
        if c.is_ascii_alphabetic() {
            letters += 1;
            continue;
        }
        if letters == 0 || !(c.is_ascii_digit() || c == '_') {
            return false;
        }
        break;
    }
    letters > 0 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The field types the platform knows.
const FIELD_TYPES: &[&str] =
    &["string", "text", "integer", "number", "boolean", "datetime", "file", "password", "copy", "code", "json"];

/// The request methods the platform knows.
const METHODS: &[&str] = &["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"];

/// The authentication types.
const AUTH_TYPES: &[&str] = &["basic", "custom", "digest", "oauth1", "oauth2", "session"];

/// Pairs of field properties that cannot be used together (the second is
/// ignored, or the two mean opposite things).
const EXCLUSIVE_FIELD_PROPERTIES: &[(&str, &str)] = &[
    ("children", "list"),
    ("children", "dict"),
    ("children", "type"),
    ("children", "placeholder"),
    ("children", "helpText"),
    ("children", "default"),
    ("dict", "list"),
    ("dynamic", "dict"),
    ("dynamic", "choices"),
];

/// Words kept lower-case inside a title (D018).
const MINOR_WORDS: &[&str] = &[
    "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of", "off", "on", "per",
    "to", "up", "via", "with", "from", "into", "over", "vs",
];

/// `path.key`, or `path["key"]` for a key that is not a plain name.
fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}

/// `path[index]`.
fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A string value, when it is a non-empty string.
fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str).filter(|text| !text.trim().is_empty())
}

/// Whether a value is a function marker (`{"$func": ...}`).
fn is_function(value: &Value) -> bool {
    value.get("$func").is_some()
}

/// Lower-case letters and digits only: `API-Key` and `api_key` are `apikey`.
fn squashed(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

struct Checker<'d> {
    json: &'d Value,
    findings: Vec<Finding>,
}

impl<'d> Checker<'d> {
    fn push(&mut self, id: &'static str, severity: Severity, path: String, message: String, hint: String) {
        self.findings.push(Finding { id, severity, path, message, hint });
    }

    fn error(&mut self, id: &'static str, path: String, message: String, hint: String) {
        self.push(id, Severity::Error, path, message, hint);
    }

    fn warning(&mut self, id: &'static str, path: String, message: String, hint: String) {
        self.push(id, Severity::Warning, path, message, hint);
    }

    /// The keys of the operations of a kind.
    fn keys(&self, plural: &str) -> Vec<&'d str> {
        match self.json.get(plural) {
            Some(Value::Object(map)) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The app as a whole: its version, and D016 (only a static hook).
    fn app(&mut self) {
        let version = self.json.get("version");
        let valid = version.and_then(Value::as_str).is_some_and(|v| {
            let parts: Vec<&str> = v.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !valid {
            let found = version.map_or_else(|| "none".to_string(), Value::to_string);
            self.error(
                "schema.version",
                "version".into(),
                format!("the version must be three numbers, `MAJOR.MINOR.PATCH`; found {found}"),
                "set the app's version to e.g. \"1.0.0\"".into(),
            );
        }
        let operations: Vec<(&str, &Value)> = ["triggers", "searches", "creates"]
            .iter()
            .filter_map(|plural| self.json.get(*plural)?.as_object())
            .flat_map(|map| map.iter().map(|(key, value)| (key.as_str(), value)))
            .collect();
        if let [(key, trigger)] = operations[..]
            && self.json.get("triggers").and_then(|t| t.get(key)).is_some()
            && is_static_hook(trigger)
        {
            self.error(
                "D016",
                child("triggers", key),
                "the integration is one static webhook, which Webhooks by Zapier already offers".into(),
                "add performSubscribe and performUnsubscribe to the hook, or more triggers, searches or creates".into(),
            );
        }
    }

    fn authentication(&mut self) {
        let Some(auth) = self.json.get("authentication") else { return };
        let path = "authentication";
        let kind = auth.get("type").and_then(Value::as_str);
        match kind {
            Some(kind) if AUTH_TYPES.contains(&kind) => {}
            _ => self.error(
                "schema.auth-type",
                child(path, "type"),
                format!("the authentication type must be one of {}", AUTH_TYPES.join(", ")),
                "set `type`, e.g. \"custom\" for an API key".into(),
            ),
        }
        if auth.get("test").is_none() {
            self.error(
                "schema.required",
                child(path, "test"),
                "authentication needs a `test`: a request or function that succeeds only with good credentials".into(),
                "add a test, e.g. a GET of the API's `/me`".into(),
            );
        }
        let needs: &[(&str, &[&str])] = match kind {
            Some("oauth2") => &[("oauth2Config", &["authorizeUrl", "getAccessToken"])],
            Some("oauth1") => &[("oauth1Config", &["getRequestToken", "authorizeUrl", "getAccessToken"])],
            Some("session") => &[("sessionConfig", &["perform"])],
            _ => &[],
        };
        for (config, parts) in needs {
            for part in *parts {
                if auth.get(*config).and_then(|c| c.get(*part)).is_none() {
                    self.error(
                        "schema.required",
                        child(&child(path, config), part),
                        format!("{} authentication needs `{config}.{part}`", kind.unwrap_or_default()),
                        format!("add `{part}` to `{config}`"),
                    );
                }
            }
        }
        let fields_path = child(path, "fields");
        let fields = auth.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
        self.fields(&fields_path, &fields, FieldUse::Auth);
        for (i, field) in fields.iter().enumerate() {
            self.auth_field(&item(&fields_path, i), field);
        }
        if !matches!(kind, Some("basic" | "digest")) {
            match auth.get("connectionLabel") {
                None => self.warning(
                    "D003",
                    child(path, "connectionLabel"),
                    "no connection label: users cannot tell their connected accounts apart".into(),
                    "set a label from the test's result, e.g. \"{{bundle.inputData.email}}\"".into(),
                ),
                Some(Value::String(label)) if !label.contains("{{") => self.warning(
                    "D003",
                    child(path, "connectionLabel"),
                    format!("the connection label {label:?} is the same for every account"),
                    "use the test's result in it, e.g. \"{{bundle.inputData.name}} ({{bundle.inputData.email}})\""
                        .into(),
                ),
                _ => {}
            }
        }
    }

    /// D002 and D026 for one authentication field.
    fn auth_field(&mut self, path: &str, field: &Value) {
        let key = field.get("key").and_then(Value::as_str).unwrap_or_default();
        let squashed_key = squashed(key);
        let computed = field.get("computed").and_then(Value::as_bool) == Some(true);
        let secret = field.get("type").and_then(Value::as_str) == Some("password")
            || ["key", "token", "secret"].iter().any(|word| squashed_key.contains(word));
        if secret && !computed {
            let help = field.get("helpText").and_then(Value::as_str).unwrap_or_default();
            if !has_markdown_link(help) {
                self.warning(
                    "D002",
                    child(path, "helpText"),
                    format!("the help text of `{key}` does not link to where users find it"),
                    "add a Markdown link, e.g. \"Find it under [API settings](https://app.example.com/settings/api).\""
                        .into(),
                );
            }
        }
        let domain_like = ["domain", "host", "url", "instance", "server"].iter().any(|w| squashed_key.contains(w));
        if (domain_like || field.get("inputFormat").is_some()) && !computed {
            self.warning(
                "D026",
                path.to_string(),
                format!("`{key}` lets the user choose where requests go"),
                "check the value before building URLs from it (e.g. only letters, digits and dashes for a \
                 subdomain) and raise a clear error otherwise"
                    .into(),
            );
        }
    }

    fn operation(&mut self, kind: OperationKind, key: &'d str, action: &'d Value) {
        let path = child(kind.plural(), key);
        if !is_plain_key(key) {
            self.error(
                "schema.key",
                path.clone(),
                format!("the key {key:?} must start with a letter and hold only letters, digits and `_`"),
                format!("rename it, e.g. {:?}", suggested_key(key)),
            );
        }
        if !action.is_object() {
            self.error(
                "schema.required",
                path,
                format!("a {} must be an object", kind.singular_name()),
                "define it with key, noun, display and operation".into(),
            );
            return;
        }
        match action.get("key").and_then(Value::as_str) {
            Some(inner) if inner == key => {}
            inner => self.error(
                "schema.matching-key",
                child(&path, "key"),
                format!(
                    "its `key` ({}) must equal the key it is listed under ({key:?})",
                    match inner {
                        Some(inner) => format!("{inner:?}"),
                        None => "missing".into(),
                    }
                ),
                format!("set `key` to {key:?}"),
            ),
        }
        if text(action, "noun").is_none() {
            self.error(
                "schema.required",
                child(&path, "noun"),
                "a noun is required (`Contact`, `Invoice`): the editor builds its texts from it".into(),
                "set the noun".into(),
            );
        }
        let display = action.get("display").unwrap_or(&Value::Null);
        let hidden = display.get("hidden").and_then(Value::as_bool) == Some(true);
        let display_path = child(&path, "display");
        if !hidden {
            for part in ["label", "description"] {
                if text(display, part).is_none() {
                    self.error(
                        "schema.display",
                        child(&display_path, part),
                        format!("a visible {} needs a {part}", kind.singular_name()),
                        format!("set display.{part}, or mark the {} hidden", kind.singular_name()),
                    );
                }
            }
            if let Some(label) = text(display, "label") {
                let titled = title_case(label);
                if titled != label {
                    self.warning(
                        "D018",
                        child(&display_path, "label"),
                        format!("the label {label:?} is not in title case"),
                        format!("use {titled:?}"),
                    );
                }
            }
            if kind == OperationKind::Trigger
                && let Some(description) = text(display, "description")
            {
                let trimmed = description.trim();
                if !trimmed.starts_with("Triggers when ") || !trimmed.ends_with('.') {
                    self.error(
                        "D021",
                        child(&display_path, "description"),
                        format!("a trigger's description must start with \"Triggers when\" and end with \".\"; got {description:?}"),
                        "e.g. \"Triggers when a contact is added.\"".into(),
                    );
                }
            }
        }
        if let Some(description) = display.get("description").and_then(Value::as_str) {
            self.markdown(&child(&display_path, "description"), description);
        }
        let Some(operation) = action.get("operation").filter(|o| o.is_object()) else {
            self.error(
                "schema.required",
                child(&path, "operation"),
                format!("a {} needs an operation", kind.singular_name()),
                "add an operation with its perform".into(),
            );
            return;
        };
        let op_path = child(&path, "operation");
        self.operation_body(kind, hidden, &op_path, operation);
    }

    fn operation_body(&mut self, kind: OperationKind, hidden: bool, path: &str, operation: &'d Value) {
        let has = |slot: &str| operation.get(slot).is_some_and(|v| !v.is_null());
        let trigger_type = operation.get("type").and_then(Value::as_str);
        let hook = kind == OperationKind::Trigger && trigger_type == Some("hook");
        let polling = kind == OperationKind::Trigger && !hook;
        if kind == OperationKind::Trigger && !matches!(trigger_type, None | Some("polling" | "hook")) {
            self.error(
                "schema.trigger-type",
                child(path, "type"),
                "a trigger's type is \"polling\" or \"hook\"".into(),
                "set type to \"polling\" or \"hook\"".into(),
            );
        }
        let buffered = kind == OperationKind::Create && (has("performBuffer") || has("buffer"));
        if !has("perform") && !buffered {
            self.error(
                "schema.required",
                child(path, "perform"),
                format!("the {} has no perform", kind.singular_name()),
                "add a perform function or request".into(),
            );
        }
        if hook {
            if !has("performList") {
                self.error(
                    "D006",
                    child(path, "performList"),
                    "a hook trigger needs performList, so users can test it without waiting for a webhook".into(),
                    "add performList returning recent items shaped like the hook's payload".into(),
                );
            }
            if !has("performSubscribe") || !has("performUnsubscribe") {
                self.warning(
                    "D017",
                    path.to_string(),
                    "without performSubscribe and performUnsubscribe this is a static webhook, which users must set \
                     up by hand"
                        .into(),
                    "add performSubscribe and performUnsubscribe (a REST hook), or make it a polling trigger".into(),
                );
            }
        }
        if kind == OperationKind::Create {
            self.buffer(path, operation);
        }
        let input_path = child(path, "inputFields");
        let inputs = operation.get("inputFields").and_then(Value::as_array).cloned().unwrap_or_default();
        self.fields(&input_path, &inputs, FieldUse::Input);
        self.input_fields(kind, &input_path, &inputs);
        let output_path = child(path, "outputFields");
        let outputs = operation.get("outputFields").and_then(Value::as_array).cloned().unwrap_or_default();
        self.fields(&output_path, &outputs, FieldUse::Output);
        if kind == OperationKind::Search && inputs.is_empty() {
            self.error(
                "D009",
                input_path.clone(),
                "a search needs at least one input field to search by".into(),
                "add the field users search by (an email, a name, an ID)".into(),
            );
        }
        if kind == OperationKind::Create && !inputs.iter().any(|f| f.is_object() && !is_function(f)) {
            self.warning(
                "D022",
                input_path,
                "the create has no static input fields, so Zap templates cannot fill any in".into(),
                "add the fields every account has as static input fields".into(),
            );
        }
        let sample_path = child(path, "sample");
        match operation.get("sample") {
            Some(Value::Object(sample)) if !sample.is_empty() => {
                if polling {
                    let primary = primary_fields(operation);
                    let missing = missing_fields(&primary, sample);
                    if !missing.is_empty() {
                        self.error(
                            "D010",
                            sample_path.clone(),
                            format!(
                                "the sample lacks the primary key field{} {}, which the deduper needs",
                                if missing.len() == 1 { "" } else { "s" },
                                backticked(&missing)
                            ),
                            "add it to the sample, or mark the fields that identify an item `primary` in outputFields"
                                .into(),
                        );
                    }
                }
                self.sample(&sample_path, sample, &outputs);
            }
            Some(Value::Object(_)) | None if !hidden => self.error(
                "D012",
                sample_path,
                format!(
                    "a visible {} needs a sample: users map fields from it when a test returns nothing",
                    kind.singular_name()
                ),
                "add a sample shaped exactly like a real result".into(),
            ),
            Some(Value::Object(_)) | None => {}
            Some(_) => self.error(
                "schema.sample",
                sample_path,
                "the sample must be an object (one item, not a list)".into(),
                format!("give one item as it comes from the {}", kind.singular_name()),
            ),
        }
    }

    /// performBuffer and buffer go together; groupedBy names input fields.
    fn buffer(&mut self, path: &str, operation: &Value) {
        let buffer = operation.get("buffer").filter(|b| !b.is_null());
        let perform_buffer = operation.get("performBuffer").filter(|b| !b.is_null());
        match (buffer, perform_buffer) {
            (Some(_), None) => self.error(
                "schema.buffer",
                child(path, "performBuffer"),
                "`buffer` is set but there is no performBuffer to take the buffered runs".into(),
                "add performBuffer, or remove buffer".into(),
            ),
            (None, Some(_)) => self.error(
                "schema.buffer",
                child(path, "buffer"),
                "performBuffer needs `buffer`: how runs are grouped and how many go in one call".into(),
                "add buffer: {\"groupedBy\": [...], \"limit\": N}".into(),
            ),
            _ => {}
        }
        let Some(buffer) = buffer else { return };
        let buffer_path = child(path, "buffer");
        let limit_ok = buffer.get("limit").and_then(Value::as_u64).is_some_and(|limit| limit >= 1);
        if !limit_ok {
            self.error(
                "schema.buffer",
                child(&buffer_path, "limit"),
                "buffer.limit must be a whole number of at least 1".into(),
                "set how many runs one performBuffer call takes".into(),
            );
        }
        let inputs: Vec<&str> = operation
            .get("inputFields")
            .and_then(Value::as_array)
            .map(|fields| fields.iter().filter_map(|f| f.get("key").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        match buffer.get("groupedBy").and_then(Value::as_array) {
            Some(grouped) => {
                for (i, field) in grouped.iter().enumerate() {
                    let name = field.as_str().unwrap_or_default();
                    if !inputs.contains(&name) {
                        self.error(
                            "schema.buffer",
                            item(&child(&buffer_path, "groupedBy"), i),
                            format!("buffer.groupedBy names {field}, which is not a static input field"),
                            format!("group by input fields ({})", backticked(&inputs)),
                        );
                    }
                }
            }
            None => self.error(
                "schema.buffer",
                child(&buffer_path, "groupedBy"),
                "buffer.groupedBy must be a list of input field keys (it may be empty)".into(),
                "set groupedBy, e.g. [] to buffer every run together".into(),
            ),
        }
    }

    /// What every field list checks: keys, types, exclusive properties,
    /// unique keys (children included), redundant help text, links.
    fn fields(&mut self, path: &str, fields: &[Value], usage: FieldUse) {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            let field_path = item(path, i);
            if is_function(field) {
                continue;
            }
            if !field.is_object() {
                self.error(
                    "schema.field",
                    field_path,
                    "a field must be an object with a key (or a function giving fields)".into(),
                    "write it as {\"key\": \"...\", \"label\": \"...\"}".into(),
                );
                continue;
            }
            self.field(&field_path, field);
            let mut keyed: Vec<(String, &Value)> = vec![(field_path.clone(), field)];
            if usage == FieldUse::Input
                && let Some(children) = field.get("children").and_then(Value::as_array)
            {
                let children_path = child(&field_path, "children");
                for (j, sub) in children.iter().enumerate() {
                    let sub_path = item(&children_path, j);
                    if sub.is_object() {
                        self.field(&sub_path, sub);
                    }
                    keyed.push((sub_path, sub));
                }
            }
            if usage == FieldUse::Output {
                continue;
            }
            for (where_, field) in keyed {
                let Some(key) = field.get("key").and_then(Value::as_str) else { continue };
                if let Some((first, _)) = seen.iter().find(|(_, k)| k == key) {
                    self.error(
                        "schema.unique-field-keys",
                        child(&where_, "key"),
                        format!("the key {key:?} is already used by {first}"),
                        "give each field of the list its own key (children included)".into(),
                    );
                } else {
                    seen.push((where_, key.to_string()));
                }
            }
        }
    }

    /// One field's own rules.
    fn field(&mut self, path: &str, field: &Value) {
        let key = text(field, "key");
        if key.is_none() {
            self.error(
                "schema.field",
                child(path, "key"),
                "a field needs a non-empty string key".into(),
                "set the key inputData will carry the value under".into(),
            );
        }
        if let Some(kind) = field.get("type")
            && !kind.as_str().is_some_and(|kind| FIELD_TYPES.contains(&kind))
        {
            self.error(
                "schema.field-type",
                child(path, "type"),
                format!("the field type {kind} is unknown"),
                format!("use one of {}", FIELD_TYPES.join(", ")),
            );
        }
        for (first, second) in EXCLUSIVE_FIELD_PROPERTIES {
            let set = |name: &str| field.get(name).is_some_and(|v| !(v.is_null() || v == &Value::Bool(false)));
            if set(first) && set(second) {
                self.error(
                    "schema.field-exclusive",
                    path.to_string(),
                    format!("`{first}` and `{second}` cannot be used together"),
                    format!("keep one of `{first}` and `{second}`"),
                );
            }
        }
        if let (Some(label), Some(help)) = (text(field, "label"), text(field, "helpText"))
            && normalized(label) == normalized(help)
        {
            self.warning(
                "D011",
                child(path, "helpText"),
                format!("the help text repeats the label {label:?}"),
                "say what is not obvious (the format, where to find the value), or remove the help text".into(),
            );
        }
        if let Some(help) = field.get("helpText").and_then(Value::as_str) {
            self.markdown(&child(path, "helpText"), help);
        }
        if let Some(dynamic) = field.get("dynamic") {
            self.dynamic(&child(path, "dynamic"), dynamic);
        }
        if let Some(search) = field.get("search") {
            self.search_reference(path, field, search);
        }
    }

    /// D001 and D004 on an operation's static input fields.
    fn input_fields(&mut self, kind: OperationKind, path: &str, fields: &[Value]) {
        for (i, field) in fields.iter().enumerate() {
            let Some(key) = field.get("key").and_then(Value::as_str) else { continue };
            let field_path = item(path, i);
            let squashed_key = squashed(key);
            const SECRETS: &[&str] = &[
                "apikey",
                "apitoken",
                "apisecret",
                "accesstoken",
                "authtoken",
                "secretkey",
                "clientsecret",
                "password",
            ];
            if SECRETS.iter().any(|secret| squashed_key.contains(secret))
                || field.get("type").and_then(Value::as_str) == Some("password")
            {
                self.error(
                    "D001",
                    field_path.clone(),
                    format!("the {} asks for a credential (`{key}`) in its input fields", kind.singular_name()),
                    "move it to the authentication fields: they are censored in logs and tested once per account"
                        .into(),
                );
            }
            let id_like = key == "id" || key.ends_with("_id") || key.ends_with("Id") || key.ends_with("ID");
            let picked = field.get("dynamic").is_some() || field.get("choices").is_some();
            if id_like && !picked && field.get("search").is_none() && field.get("children").is_none() {
                self.warning(
                    "D004",
                    field_path,
                    format!("`{key}` asks users to paste an ID"),
                    "add a dynamic dropdown: `dynamic: \"<trigger>.id.<label field>\"`".into(),
                );
            }
        }
    }

    /// A dynamic dropdown: `trigger.id_field[.label_field]`, the trigger existing (D005).
    fn dynamic(&mut self, path: &str, dynamic: &Value) {
        let Some(reference) = dynamic.as_str() else {
            self.error(
                "schema.dynamic",
                path.to_string(),
                "a dynamic dropdown is a string `trigger_key.id_field.label_field`".into(),
                "e.g. \"new_contact.id.name\"".into(),
            );
            return;
        };
        let parts: Vec<&str> = reference.split('.').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.trim().is_empty()) {
            self.error(
                "schema.dynamic",
                path.to_string(),
                format!("{reference:?} is not `trigger_key.id_field.label_field`"),
                "name the trigger, the field holding the value, and the field to show".into(),
            );
            return;
        }
        let triggers = self.keys("triggers");
        if !triggers.contains(&parts[0]) {
            self.error(
                "D005",
                path.to_string(),
                format!("the dynamic dropdown uses the trigger {:?}, which does not exist", parts[0]),
                format!("use one of the triggers: {}", backticked(&triggers)),
            );
        }
    }

    /// A search-powered field: `search_key.field`, the search existing
    /// (D013), and a dynamic dropdown beside it (D014).
    fn search_reference(&mut self, path: &str, field: &Value, search: &Value) {
        let search_path = child(path, "search");
        let Some((key, output)) = search.as_str().and_then(|s| s.split_once('.')) else {
            self.error(
                "schema.search",
                search_path,
                format!("{search} is not `search_key.field`"),
                "e.g. \"find_contact.id\"".into(),
            );
            return;
        };
        let searches = self.keys("searches");
        if key.trim().is_empty() || output.trim().is_empty() {
            self.error(
                "schema.search",
                search_path.clone(),
                format!("{search} is not `search_key.field`"),
                "e.g. \"find_contact.id\"".into(),
            );
        } else if !searches.contains(&key) {
            self.error(
                "D013",
                search_path.clone(),
                format!("the field is filled by the search {key:?}, which does not exist"),
                format!("use one of the searches: {}", backticked(&searches)),
            );
        }
        if field.get("dynamic").is_none() {
            self.warning(
                "D014",
                search_path,
                "a search-powered field needs a dynamic dropdown too, or the editor shows no \"Add a Search Step\""
                    .into(),
                "add `dynamic` (a hidden trigger returning [] will do)".into(),
            );
        }
    }

    /// D023 and D024: the sample against the output fields and ISO 8601.
    fn sample(&mut self, path: &str, sample: &Map<String, Value>, outputs: &[Value]) {
        let mut datetime_keys = Vec::new();
        for field in outputs {
            let Some(key) = field.get("key").and_then(Value::as_str) else { continue };
            if key.contains("[]") {
                continue;
            }
            let value = lookup(sample, key);
            let required = field.get("required").and_then(Value::as_bool) == Some(true);
            let kind = field.get("type").and_then(Value::as_str);
            if kind == Some("datetime") {
                datetime_keys.push(key);
            }
            match value {
                None | Some(Value::Null) if required => self.warning(
                    "D024",
                    path.to_string(),
                    format!("the required output field `{key}` is not in the sample"),
                    format!("add `{key}` to the sample"),
                ),
                Some(value) if !value.is_null() => {
                    if let Some(kind) = kind
                        && !matches_type(value, kind)
                    {
                        self.warning(
                            "D024",
                            child(path, key),
                            format!("`{key}` is {value} in the sample, but its output field says {kind}"),
                            format!("make the sample's value a {kind}, or fix the field's type"),
                        );
                    }
                }
                _ => {}
            }
        }
        self.dates(path, &Value::Object(sample.clone()), &datetime_keys);
    }

    /// D023 over a sample's strings: ISO 8601, with a timezone when there is a time.
    fn dates(&mut self, path: &str, value: &Value, datetime_keys: &[&str]) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let key_path = child(path, key);
                    if let Value::String(text) = value {
                        let declared = datetime_keys.contains(&key.as_str());
                        if (declared || looks_like_date(text)) && !is_iso_8601(text) {
                            self.warning(
                                "D023",
                                key_path,
                                format!("{text:?} is not an ISO 8601 date, or has a time without a timezone"),
                                "write e.g. \"2023-08-01\" or \"2023-08-01T06:50:30Z\"".into(),
                            );
                        }
                    } else {
                        self.dates(&key_path, value, &[]);
                    }
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    if let Value::String(text) = value {
                        if looks_like_date(text) && !is_iso_8601(text) {
                            self.warning(
                                "D023",
                                item(path, i),
                                format!("{text:?} is not an ISO 8601 date, or has a time without a timezone"),
                                "write e.g. \"2023-08-01\" or \"2023-08-01T06:50:30Z\"".into(),
                            );
                        }
                    } else {
                        self.dates(&item(path, i), value, &[]);
                    }
                }
            }
            _ => {}
        }
    }

    /// D008: links in Markdown text are links or in backticks.
    fn markdown(&mut self, path: &str, text: &str) {
        if let Some(problem) = markdown_problem(text) {
            self.error(
                "D008",
                path.to_string(),
                problem,
                "write links as [text](https://...), or put a URL meant as an example in backticks".into(),
            );
        }
    }

    /// D015 and the schema's search-or-create references.
    fn search_or_creates(&mut self) {
        let Some(Value::Object(entries)) = self.json.get("searchOrCreates") else { return };
        let searches = self.keys("searches");
        let creates = self.keys("creates");
        for (key, entry) in entries {
            let path = child("searchOrCreates", key);
            if !is_plain_key(key) {
                self.error(
                    "schema.key",
                    path.clone(),
                    format!("the key {key:?} must start with a letter and hold only letters, digits and `_`"),
                    format!("rename it, e.g. {:?}", suggested_key(key)),
                );
            }
            let refs: [(&str, &[&str], bool); 4] = [
                ("key", &searches, true),
                ("search", &searches, true),
                ("create", &creates, true),
                ("update", &creates, false),
            ];
            for (part, known, required) in refs {
                let value = entry.get(part).and_then(Value::as_str);
                match value {
                    Some(name) if known.contains(&name) => {}
                    None if !required => {}
                    _ => {
                        let kind = if known == &searches[..] { "search" } else { "create" };
                        self.error(
                            "D015",
                            child(&path, part),
                            format!(
                                "`{part}` must name an existing {kind}; found {}",
                                value.map_or_else(|| "nothing".into(), |v| format!("{v:?}"))
                            ),
                            format!("use one of the {kind} keys: {}", backticked(known)),
                        );
                    }
                }
            }
            // The platform finds the pair by its search's key.
            let search = entry.get("search").and_then(Value::as_str);
            if let Some(search) = search.filter(|search| searches.contains(search) && searches.contains(&key.as_str()))
                && search != key
            {
                self.error(
                    "schema.search-or-create-key",
                    child(&path, "key"),
                    format!("a search-or-create's key must be its search's key {search:?}; found {key:?}"),
                    format!("key it as {search:?} (here and in `searchOrCreates`), or pair it with the search {key:?}"),
                );
            }
        }
    }

    /// Shorthand requests and the request template: methods, and D007.
    fn requests(&mut self) {
        let mut found = Vec::new();
        collect_requests(self.json, String::new(), None, &mut found);
        if let Some(template) = self.json.get("requestTemplate").filter(|t| t.is_object()) {
            found.push(("requestTemplate".to_string(), template));
        }
        for (path, request) in found {
            if let Some(method) = request.get("method") {
                let valid = method.as_str().is_some_and(|m| METHODS.contains(&m));
                if !valid {
                    let upper = method.as_str().map(str::to_ascii_uppercase);
                    let hint = match upper {
                        Some(upper) if METHODS.contains(&upper.as_str()) => format!("write it as {upper:?}"),
                        _ => format!("use one of {}", METHODS.join(", ")),
                    };
                    self.error(
                        "schema.request-method",
                        child(&path, "method"),
                        format!("the request method {method} is not one the platform sends"),
                        hint,
                    );
                }
            }
            if let Some(url) = request.get("url").and_then(Value::as_str)
                && url.trim_start().to_ascii_lowercase().starts_with("http://")
            {
                self.warning(
                    "D007",
                    child(&path, "url"),
                    format!("{url:?} is plain http: credentials and data travel unencrypted"),
                    "use https".into(),
                );
            }
        }
        if let Some(url) = self.json.pointer("/authentication/oauth2Config/authorizeUrl").and_then(Value::as_str)
            && url.trim_start().to_ascii_lowercase().starts_with("http://")
        {
            self.warning(
                "D007",
                "authentication.oauth2Config.authorizeUrl".into(),
                format!("{url:?} is plain http"),
                "use https".into(),
            );
        }
    }

    /// D025 over every string of the definition.
    fn dangerous_uris(&mut self, value: &Value, path: String) {
        match value {
            Value::String(text) => {
                if let Some(scheme) = dangerous_uri(text) {
                    self.error(
                        "D025",
                        path,
                        format!("a `{scheme}` URI can run code in the user's browser"),
                        "link only to http(s) URLs".into(),
                    );
                }
            }
            Value::Object(map) => {
                for (key, value) in map {
                    self.dangerous_uris(value, child(&path, key));
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    self.dangerous_uris(value, item(&path, i));
                }
            }
            _ => {}
        }
    }
}

/// Which list a field is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldUse {
    Auth,
    Input,
    Output,
}

trait SingularName {
    fn singular_name(self) -> &'static str;
}

impl SingularName for OperationKind {
    fn singular_name(self) -> &'static str {
        match self {
            OperationKind::Trigger => "trigger",
            OperationKind::Search => "search",
            _ => "create",
        }
    }
}

/// Whether a trigger is a hook without subscribe or unsubscribe.
fn is_static_hook(trigger: &Value) -> bool {
    let Some(operation) = trigger.get("operation") else { return false };
    operation.get("type").and_then(Value::as_str) == Some("hook")
        && (operation.get("performSubscribe").is_none() || operation.get("performUnsubscribe").is_none())
}

/// Request objects in shorthand slots, with their paths.
fn collect_requests<'v>(value: &'v Value, path: String, slot: Option<&str>, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) => {
            if slot.is_some_and(|slot| SHORTHAND_SLOTS.contains(&slot)) && map.get("url").is_some_and(Value::is_string)
            {
                out.push((path, value));
                return;
            }
            for (key, value) in map {
                if key == "requestTemplate" && path.is_empty() {
                    continue;
                }
                collect_requests(value, child(&path, key), Some(key), out);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect_requests(value, item(&path, i), None, out);
            }
        }
        _ => {}
    }
}

/// A value of the sample by an output field key (`a__b` reads `a.b`).
fn lookup<'v>(sample: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if let Some(value) = sample.get(key) {
        return Some(value);
    }
    let mut parts = key.split("__");
    let first = sample.get(parts.next()?)?;
    parts.try_fold(first, |value, part| value.get(part))
}

/// Whether a sample value fits an output field type.
fn matches_type(value: &Value, kind: &str) -> bool {
    match kind {
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "string" | "text" | "password" | "copy" | "code" | "datetime" | "file" => value.is_string(),
        _ => true,
    }
}

/// `a`, `b` and `c` as "`a`, `b`, `c`".
fn backticked(items: &[&str]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items.iter().map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}

/// A key made plain: other characters become `_`, a leading digit gets a letter.
fn suggested_key(key: &str) -> String {
    let mut out: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'k');
    }
    out
}

/// Lower-case, without surrounding space and final punctuation.
fn normalized(text: &str) -> String {
    text.trim().trim_end_matches(['.', ':', '!']).trim().to_lowercase()
}

/// The label in title case: each word capitalized, but the minor words
/// inside it; a word already holding a capital (`iPhone`, `CRM`) kept.
fn title_case(label: &str) -> String {
    let words: Vec<&str> = label.split(' ').collect();
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let bare = word.trim_start_matches(|c: char| !c.is_alphanumeric());
            let lower = bare.to_lowercase();
            let minor =
                i != 0 && i != last && MINOR_WORDS.contains(&lower.trim_end_matches(|c: char| !c.is_alphanumeric()));
            if minor || word.chars().any(char::is_uppercase) {
                return word.to_string();
            }
            let prefix_len = word.len() - bare.len();
            let mut chars = bare.chars();
            match chars.next() {
                Some(first) => format!("{}{}{}", &word[..prefix_len], first.to_uppercase(), chars.as_str()),
                None => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether Markdown text has a Markdown link to an http(s) URL.
fn has_markdown_link(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let target = &rest[at + 2..];
        if target.starts_with("http://") || target.starts_with("https://") {
            return true;
        }
        rest = target;
    }
    false
}

/// What is wrong with the links of Markdown text, if anything: a bracket
/// link not closed (`[Google(https://...)`) or a bare URL.
fn markdown_problem(text: &str) -> Option<String> {
    // Code spans are examples: what is inside is not a link.
    let mut plain = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
        }
        plain.push(' ');
    }
    // Blank out well-formed links `[text](target)` and autolinks `<url>`.
    let mut cleaned = String::with_capacity(plain.len());
    let mut rest = plain.as_str();
    while let Some(open) = rest.find(['[', '<']) {
        cleaned.push_str(&rest[..open]);
        let after = &rest[open..];
        let closed = if after.starts_with('[') {
            after.find("](").and_then(|mid| {
                let label = &after[1..mid];
                (!label.contains('[')).then_some(mid)?;
                after[mid..].find(')').map(|end| mid + end + 1)
            })
        } else {
            after.find('>').filter(|end| !after[1..*end].contains(' ')).map(|end| end + 1)
        };
        match closed {
            Some(end) => {
                cleaned.push(' ');
                rest = &after[end..];
            }
            None => {
                cleaned.push_str(&after[..1]);
                rest = &after[1..];
            }
        }
    }
    cleaned.push_str(rest);
    if let Some(open) = cleaned.find('[')
        && cleaned[open..].contains("(http")
    {
        let snippet: String = cleaned[open..].chars().take(60).collect();
        return Some(format!("a broken Markdown link: {:?}", snippet.trim()));
    }
    let lower = cleaned.to_ascii_lowercase();
    let bare = ["https://", "http://"].iter().filter_map(|scheme| lower.find(scheme)).min()?;
    let url: String = cleaned[bare..].chars().take_while(|c| !c.is_whitespace()).collect();
    Some(format!("a bare URL: {url}"))
}

/// The dangerous scheme a URI starts with (`javascript:`, `vbscript:`,
/// `data:`), looking through whitespace and control characters a browser
/// skips; also inside a Markdown link's target.
fn dangerous_uri(text: &str) -> Option<&'static str> {
    const SCHEMES: &[&str] = &["javascript:", "vbscript:", "data:"];
    let squeezed: String =
        text.chars().filter(|c| !c.is_whitespace() && !c.is_control()).flat_map(char::to_lowercase).collect();
    let starts = |at: &str| SCHEMES.iter().copied().find(|scheme| at.starts_with(scheme));
    if let Some(scheme) = starts(&squeezed) {
        return Some(scheme);
    }
    let mut rest = squeezed.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(scheme) = starts(rest) {
            return Some(scheme);
        }
    }
    let mut rest = squeezed.as_str();
    while let Some(at) = rest.find("href=") {
        rest = rest[at + 5..].trim_start_matches(['"', '\'']);
        if let Some(scheme) = starts(rest) {
            return Some(scheme);
        }
    }
    None
}

/// `YYYY-MM-DD`, alone or followed by a time with a timezone
/// (`T06:50:30Z`, `T06:50:30.5-0500`, `T06:50+02:00`); `T` or a space.
fn is_iso_8601(text: &str) -> bool {
    let bytes = text.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let date =
        digits(0..4) && bytes.get(4) == Some(&b'-') && digits(5..7) && bytes.get(7) == Some(&b'-') && digits(8..10);
    if !date {
        return false;
    }
    let month = (bytes[5] - b'0') * 10 + (bytes[6] - b'0');
    let day = (bytes[8] - b'0') * 10 + (bytes[9] - b'0');
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    if bytes.len() == 10 {
        return true;
    }
    if !(matches!(bytes[10], b'T' | b't' | b' ') && digits(11..13) && bytes.get(13) == Some(&b':') && digits(14..16)) {
        return false;
    }
    let mut at = 16;
    if bytes.get(at) == Some(&b':') {
        if !digits(at + 1..at + 3) {
            return false;
        }
        at += 3;
        if matches!(bytes.get(at), Some(b'.' | b',')) {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return false;
            }
        }
    }
    match &bytes[at..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', zone @ ..] => {
            let hours_minutes = |h: &[u8], m: &[u8]| h.iter().chain(m).all(u8::is_ascii_digit);
            match zone {
                [h1, h2] => hours_minutes(&[*h1, *h2], &[]),
                [h1, h2, m1, m2] => hours_minutes(&[*h1, *h2], &[*m1, *m2]),
                [h1, h2, b':', m1, m2] => hours_minutes(&[*h1, *h2], &[*m1, *m2]),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a string looks like a date meant for people or machines: it
/// starts like ISO (`2023-08-01...`), is numbers with slashes
/// (`08/01/2023`), or names a month beside a day and a four-digit year
/// (`01 Aug 2023`, `Aug 1, 2023 06:50`).
fn looks_like_date(text: &str) -> bool {
    let text = text.trim();
    if text.len() > 40 {
        return false;
    }
    let bytes = text.as_bytes();
    if bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
    {
        return true;
    }
    let slashed: Vec<&str> = text.split_whitespace().next().unwrap_or_default().split('/').collect();
    if slashed.len() == 3
        && slashed.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit()))
        && slashed.iter().any(|p| p.len() == 4)
    {
        return true;
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let is_month = |w: &str| {
        w.len() >= 3 && MONTHS.iter().any(|m| w.starts_with(m) && w.chars().all(|c| c.is_alphabetic() || c == '.'))
    };
    let is_number =
        |w: &str, len: std::ops::RangeInclusive<usize>| len.contains(&w.len()) && w.chars().all(|c| c.is_ascii_digit());
    let year = words.iter().any(|w| is_number(w, 4..=4));
    // The month stands next to the day or the year: "May I help? 12 of
    // 2023" names no date.
    let month_by_number = words.iter().enumerate().any(|(i, w)| {
        is_month(w)
            && [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| words.get(j))
                .any(|n| is_number(n, 1..=2) || is_number(n, 4..=4))
    });
    let day = words.iter().any(|w| is_number(w, 1..=2));
    month_by_number && year && day
}

/// The paths of keys repeated within one object of a JSON text, which a
/// parse into a map silently keeps only the last of.
pub(crate) fn duplicate_keys(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // A text that fails to parse is refused by the definition reader anyway.
    let _ = Scan { path: String::new(), found: &mut found }.deserialize(&mut deserializer);
    found
}

/// A pass over a JSON value that notes repeated keys, keeping nothing else.
struct Scan<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

crate::json::seed_by_visitor!(Scan<'_>);

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    crate::json::accept_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq.next_element_seed(Scan { path: item(&self.path, index), found: &mut *self.found })?.is_some() {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child(&self.path, &key);
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(Scan { path, found: &mut *self.found })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A definition every check passes: the base the tests break one rule of.
    fn clean() -> Value {
        json!({
            "version": "1.0.0",
            "authentication": {
                "type": "custom",
                "fields": [{"key": "api_key", "label": "API Key", "type": "password",
                    "helpText": "Find it under [Settings](https://app.example.com/settings)."}],
                "test": {"$func": "authentication.test"},
                "connectionLabel": "{{bundle.inputData.email}}"
            },
            "triggers": {
                "new_contact": {"key": "new_contact", "noun": "Contact",
                    "display": {"label": "New Contact", "description": "Triggers when a contact is added."},
                    "operation": {"type": "polling", "perform": {"$func": "triggers.new_contact.operation.perform"},
                        "outputFields": [{"key": "id", "type": "integer"}, {"key": "created", "type": "datetime"}],
                        "sample": {"id": 1, "name": "Ada", "created": "2023-08-01T06:50:30Z"}}},
                "hook": {"key": "hook", "noun": "Contact",
                    "display": {"label": "New Contact (Instant)", "description": "Triggers when a contact is added."},
                    "operation": {"type": "hook", "perform": {"$func": "triggers.hook.operation.perform"},
                        "performList": {"$func": "triggers.hook.operation.performList"},
                        "performSubscribe": {"url": "https://api.example.com/hooks", "method": "POST"},
                        "performUnsubscribe": {"$func": "triggers.hook.operation.performUnsubscribe"},
                        "sample": {"id": 1}}}
            },
            "searches": {
                "find_contact": {"key": "find_contact", "noun": "Contact",
                    "display": {"label": "Find Contact", "description": "Finds a contact by email."},
                    "operation": {"perform": {"url": "https://api.example.com/search", "params": {"q": "{{bundle.inputData.email}}"}},
                        "inputFields": [{"key": "email", "label": "Email", "required": true}],
                        "sample": {"id": 1}}}
            },
            "creates": {
                "update_contact": {"key": "update_contact", "noun": "Contact",
                    "display": {"label": "Update Contact", "description": "Updates a contact."},
                    "operation": {"perform": {"$func": "creates.update_contact.operation.perform"},
                        "inputFields": [
                            {"key": "contact_id", "label": "Contact", "type": "integer",
                             "dynamic": "new_contact.id.name", "search": "find_contact.id"},
                            {"key": "name", "label": "Name", "helpText": "The full name, e.g. `Ada Lovelace`."},
                            {"$func": "creates.update_contact.operation.inputFields.2"}
                        ],
                        "sample": {"id": 1}}},
            },
            "searchOrCreates": {
                "find_contact": {"key": "find_contact", "display": {"label": "Find or Create Contact", "description": "x"},
                    "search": "find_contact", "create": "update_contact"}
            }
        })
    }

    fn findings(json: &Value) -> Vec<Finding> {
        check_definition(&Definition::parse(&json.to_string()).expect("a definition"))
    }

    /// `(id, path)` of each finding.
    fn found(json: &Value) -> Vec<(&'static str, String)> {
        findings(json).into_iter().map(|f| (f.id, f.path)).collect()
    }

    /// The clean definition with `edit` applied: its findings.
    fn with(edit: impl FnOnce(&mut Value)) -> Vec<(&'static str, String)> {
        let mut json = clean();
        edit(&mut json);
        found(&json)
    }

    fn one(id: &'static str, path: &str) -> Vec<(&'static str, String)> {
        vec![(id, path.to_string())]
    }

    #[test]
    fn the_clean_definition_has_no_findings() {
        assert_eq!(findings(&clean()), []);
    }

    #[test]
    fn versions_are_three_numbers() {
        assert_eq!(with(|d| d["version"] = json!("1.0")), one("schema.version", "version"));
        assert_eq!(with(|d| d["version"] = json!(1)), one("schema.version", "version"));
    }

    #[test]
    fn keys_are_plain_names_equal_to_their_key_property() {
        assert!(is_plain_key("a") && is_plain_key("newContact_2") && is_plain_key("ab1_"));
        assert!(!is_plain_key("") && !is_plain_key("1a") && !is_plain_key("_a") && !is_plain_key("a-b"));
        assert!(!is_plain_key("a.b") && !is_plain_key("é"));
        let found = with(|d| {
            let trigger = d["triggers"]["new_contact"].clone();
            d["triggers"]["new-contact"] = trigger;
        });
        assert_eq!(
            found,
            vec![
                ("schema.key", r#"triggers["new-contact"]"#.to_string()),
                ("schema.matching-key", r#"triggers["new-contact"].key"#.to_string())
            ]
        );
        let finding = findings(&{
            let mut d = clean();
            d["creates"]["a b"] = json!({});
            d
        })
        .remove(0);
        assert_eq!(finding.hint, r#"rename it, e.g. "a_b""#);
    }

    #[test]
    fn a_key_twice_in_one_object_is_found_in_the_text() {
        let text = r#"{"version":"1.0.0","triggers":{"a":{"key":"a"},"b":{"x":1,"x":2},"a":{"key":"a"}}}"#;
        let definition = Definition::parse(text).unwrap();
        assert_eq!(definition.duplicate_keys(), ["triggers.b.x", "triggers.a"]);
        let found: Vec<_> = check_definition(&definition).into_iter().filter(|f| f.id == DUPLICATE_KEY).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(duplicate_keys(r#"[{"k":1},{"k":2,"j":[{"z":1,"z":1}]}]"#), ["[1].j[0].z"]);
        assert!(duplicate_keys("{not json").is_empty());
    }

    #[test]
    fn visible_operations_need_label_description_and_sample() {
        let found = with(|d| {
            d["triggers"]["new_contact"]["display"] = json!({"label": ""});
            d["triggers"]["new_contact"]["operation"].as_object_mut().unwrap().remove("sample");
        });
        assert_eq!(
            found,
            vec![
                ("schema.display", "triggers.new_contact.display.label".to_string()),
                ("schema.display", "triggers.new_contact.display.description".to_string()),
                ("D012", "triggers.new_contact.operation.sample".to_string()),
            ]
        );
        // Hidden: none of them.
        let found = with(|d| {
            d["triggers"]["new_contact"]["display"] = json!({"hidden": true});
            d["triggers"]["new_contact"]["operation"].as_object_mut().unwrap().remove("sample");
        });
        assert_eq!(found, []);
        assert_eq!(
            with(|d| d["searches"]["find_contact"]["operation"]["sample"] = json!([{"id": 1}])),
            one("schema.sample", "searches.find_contact.operation.sample")
        );
    }

    #[test]
    fn operations_need_noun_operation_and_perform() {
        let found = with(|d| {
            d["creates"]["update_contact"].as_object_mut().unwrap().remove("noun");
            d["searches"]["find_contact"]["operation"].as_object_mut().unwrap().remove("perform");
            d["triggers"]["hook"].as_object_mut().unwrap().remove("operation");
        });
        assert_eq!(
            found,
            vec![
                ("schema.required", "triggers.hook.operation".to_string()),
                ("schema.required", "searches.find_contact.operation.perform".to_string()),
                ("schema.required", "creates.update_contact.noun".to_string()),
            ]
        );
        assert_eq!(
            with(|d| d["triggers"]["hook"]["operation"]["type"] = json!("webhook")),
            vec![("schema.trigger-type", "triggers.hook.operation.type".to_string())]
        );
    }

    #[test]
    fn field_types_keys_and_exclusive_properties() {
        let found = with(|d| {
            let fields = &mut d["creates"]["update_contact"]["operation"]["inputFields"];
            fields[1]["type"] = json!("strng");
            fields.as_array_mut().unwrap().push(json!({"label": "No key"}));
            fields.as_array_mut().unwrap().push(json!("name"));
            fields.as_array_mut().unwrap().push(json!({"key": "name", "label": "Again"}));
            fields.as_array_mut().unwrap().push(json!({"key": "tags", "label": "Tags", "list": true, "dict": true}));
        });
        let path = "creates.update_contact.operation.inputFields";
        assert_eq!(
            found,
            vec![
                ("schema.field-type", format!("{path}[1].type")),
                ("schema.field", format!("{path}[3].key")),
                ("schema.field", format!("{path}[4]")),
                ("schema.unique-field-keys", format!("{path}[5].key")),
                ("schema.field-exclusive", format!("{path}[6]")),
            ]
        );
        let finding = findings(&{
            let mut d = clean();
            d["creates"]["update_contact"]["operation"]["inputFields"][1]["type"] = json!("strng");
            d
        })
        .remove(0);
        assert_eq!(finding.severity, Severity::Error);
        assert!(
            finding.hint.contains("string, text, integer, number, boolean, datetime, file, password, copy, code, json")
        );
    }

    #[test]
    fn children_share_their_parents_key_space() {
        let found = with(|d| {
            d["creates"]["update_contact"]["operation"]["inputFields"][1] = json!({"key": "lines", "children": [{"key": "name"}, {"key": "contact_id", "dynamic": "new_contact.id"}]});
        });
        assert_eq!(
            found,
            one("schema.unique-field-keys", "creates.update_contact.operation.inputFields[1].children[1].key")
        );
    }

    #[test]
    fn request_methods_are_the_platforms() {
        let found = with(|d| {
            d["triggers"]["hook"]["operation"]["performSubscribe"]["method"] = json!("post");
            d["requestTemplate"] = json!({"method": "FETCH", "headers": {}});
        });
        assert_eq!(
            found,
            vec![
                ("schema.request-method", "triggers.hook.operation.performSubscribe.method".to_string()),
                ("schema.request-method", "requestTemplate.method".to_string()),
            ]
        );
        let hints: Vec<String> = findings(&{
            let mut d = clean();
            d["triggers"]["hook"]["operation"]["performSubscribe"]["method"] = json!("post");
            d
        })
        .into_iter()
        .map(|f| f.hint)
        .collect();
        assert_eq!(hints, [r#"write it as "POST""#]);
    }

    #[test]
    fn authentication_has_a_known_type_a_test_and_its_config() {
        let found = with(|d| {
            d["authentication"]["type"] = json!("oauth2");
            d["authentication"].as_object_mut().unwrap().remove("test");
            d["authentication"]["oauth2Config"] = json!({"authorizeUrl": {"url": "http://auth.example.com"}});
        });
        assert_eq!(
            found,
            vec![
                ("schema.required", "authentication.test".to_string()),
                ("schema.required", "authentication.oauth2Config.getAccessToken".to_string()),
                ("D007", "authentication.oauth2Config.authorizeUrl.url".to_string()),
            ]
        );
        assert_eq!(
            with(|d| d["authentication"]["type"] = json!("apikey")),
            one("schema.auth-type", "authentication.type")
        );
    }

    #[test]
    fn buffers_need_perform_buffer_and_known_grouping_fields() {
        let found = with(|d| {
            let op = &mut d["creates"]["update_contact"]["operation"];
            op["buffer"] = json!({"groupedBy": ["name", "nope"], "limit": 0});
        });
        let path = "creates.update_contact.operation";
        assert_eq!(
            found,
            vec![
                ("schema.buffer", format!("{path}.performBuffer")),
                ("schema.buffer", format!("{path}.buffer.limit")),
                ("schema.buffer", format!("{path}.buffer.groupedBy[1]")),
            ]
        );
        let found = with(|d| {
            d["creates"]["update_contact"]["operation"]["performBuffer"] = json!({"$func": "x"});
        });
        assert_eq!(found, one("schema.buffer", &format!("{path}.buffer")));
        // perform beside performBuffer, optional grouping fields: zapwasm runs both.
        let found = with(|d| {
            let op = &mut d["creates"]["update_contact"]["operation"];
            op["performBuffer"] = json!({"$func": "x"});
            op["buffer"] = json!({"groupedBy": ["name"], "limit": 10});
        });
        assert_eq!(found, []);
    }

    #[test]
    fn d001_credentials_belong_in_authentication() {
        let found = with(|d| {
            let fields = d["creates"]["update_contact"]["operation"]["inputFields"].as_array_mut().unwrap();
            fields.push(json!({"key": "apiKey", "label": "API Key"}));
            fields.push(json!({"key": "pin", "label": "PIN", "type": "password"}));
        });
        let path = "creates.update_contact.operation.inputFields";
        assert_eq!(found, vec![("D001", format!("{path}[3]")), ("D001", format!("{path}[4]"))]);
    }

    #[test]
    fn d002_secret_auth_fields_link_to_where_they_are_found() {
        let found =
            with(|d| d["authentication"]["fields"][0]["helpText"] = json!("Found under API Details in settings."));
        assert_eq!(found, one("D002", "authentication.fields[0].helpText"));
        let found = with(|d| d["authentication"]["fields"][0] = json!({"key": "token", "label": "Token"}));
        assert_eq!(found, one("D002", "authentication.fields[0].helpText"));
        let computed = with(|d| d["authentication"]["fields"][0] = json!({"key": "token", "computed": true}));
        assert_eq!(computed, []);
    }

    #[test]
    fn d003_connection_labels_name_the_account() {
        let found = with(|d| {
            d["authentication"].as_object_mut().unwrap().remove("connectionLabel");
        });
        assert_eq!(found, one("D003", "authentication.connectionLabel"));
        assert_eq!(
            with(|d| d["authentication"]["connectionLabel"] = json!("Slack")),
            one("D003", "authentication.connectionLabel")
        );
        assert_eq!(with(|d| d["authentication"]["connectionLabel"] = json!({"$func": "x"})), []);
        let basic = with(|d| {
            d["authentication"] = json!({"type": "basic", "test": {"url": "https://x.test/me"}});
        });
        assert_eq!(basic, []);
    }

    #[test]
    fn d004_id_fields_have_dynamic_dropdowns() {
        let found = with(|d| {
            let fields = d["creates"]["update_contact"]["operation"]["inputFields"].as_array_mut().unwrap();
            fields.push(json!({"key": "owner_id", "label": "Owner"}));
            fields.push(json!({"key": "teamId", "label": "Team", "choices": ["a"]}));
        });
        assert_eq!(found, one("D004", "creates.update_contact.operation.inputFields[3]"));
    }

    #[test]
    fn d005_dynamic_dropdowns_name_a_trigger() {
        let path = "creates.update_contact.operation.inputFields[0].dynamic";
        let found =
            with(|d| d["creates"]["update_contact"]["operation"]["inputFields"][0]["dynamic"] = json!("nope.id.name"));
        assert_eq!(found, one("D005", path));
        let found =
            with(|d| d["creates"]["update_contact"]["operation"]["inputFields"][0]["dynamic"] = json!("new_contact"));
        assert_eq!(found, one("schema.dynamic", path));
        let found = with(|d| d["creates"]["update_contact"]["operation"]["inputFields"][0]["dynamic"] = json!(7));
        assert_eq!(found, one("schema.dynamic", path));
    }

    #[test]
    fn d006_and_d017_hooks_poll_for_samples_and_subscribe() {
        let found = with(|d| {
            let op = d["triggers"]["hook"]["operation"].as_object_mut().unwrap();
            op.remove("performList");
            op.remove("performUnsubscribe");
        });
        assert_eq!(
            found,
            vec![
                ("D006", "triggers.hook.operation.performList".to_string()),
                ("D017", "triggers.hook.operation".to_string())
            ]
        );
        let severities: Vec<Severity> = findings(&{
            let mut d = clean();
            d["triggers"]["hook"]["operation"].as_object_mut().unwrap().remove("performSubscribe");
            d
        })
        .into_iter()
        .map(|f| f.severity)
        .collect();
        assert_eq!(severities, [Severity::Warning]);
    }

    #[test]
    fn d007_request_urls_are_https() {
        let found =
            with(|d| d["searches"]["find_contact"]["operation"]["perform"]["url"] = json!("http://api.example.com/s"));
        assert_eq!(found, one("D007", "searches.find_contact.operation.perform.url"));
    }

    #[test]
    fn d008_links_are_markdown_or_backticked() {
        assert_eq!(markdown_problem("See [Google](https://google.com) or `https://x.test`."), None);
        assert_eq!(markdown_problem("See <https://google.com>."), None);
        assert!(markdown_problem("See [Google(https://google.com)").unwrap().starts_with("a broken Markdown link"));
        assert_eq!(markdown_problem("See https://google.com now").unwrap(), "a bare URL: https://google.com");
        assert_eq!(markdown_problem("Use [brackets] freely."), None);
        let found = with(|d| {
            d["creates"]["update_contact"]["display"]["description"] = json!("Updates a contact, see https://x.test.")
        });
        assert_eq!(found, one("D008", "creates.update_contact.display.description"));
    }

    #[test]
    fn d009_searches_have_a_field_to_search_by() {
        let found = with(|d| {
            d["searches"]["find_contact"]["operation"].as_object_mut().unwrap().remove("inputFields");
        });
        assert_eq!(found, one("D009", "searches.find_contact.operation.inputFields"));
    }

    #[test]
    fn d010_polling_samples_carry_the_primary_key() {
        let found = with(|d| d["triggers"]["new_contact"]["operation"]["sample"] = json!({"contact_id": 4}));
        assert_eq!(found, one("D010", "triggers.new_contact.operation.sample"));
        // Marked primary fields replace `id`; hooks are not deduplicated.
        let found = with(|d| {
            let op = &mut d["triggers"]["new_contact"]["operation"];
            op["outputFields"] = json!([{"key": "repo", "primary": true}, {"key": "number", "primary": true}]);
            op["sample"] = json!({"repo": "a/b", "number": 1});
            d["triggers"]["hook"]["operation"]["sample"] = json!({"name": "no id"});
        });
        assert_eq!(found, []);
        let message = findings(&{
            let mut d = clean();
            d["triggers"]["new_contact"]["operation"]["outputFields"] =
                json!([{"key": "repo", "primary": true}, {"key": "number", "primary": true}]);
            d["triggers"]["new_contact"]["operation"]["sample"] = json!({"id": 4});
            d
        })
        .remove(0)
        .message;
        assert!(message.contains("fields `repo`, `number`"), "{message}");
    }

    #[test]
    fn d011_help_text_says_more_than_the_label() {
        let found =
            with(|d| d["searches"]["find_contact"]["operation"]["inputFields"][0]["helpText"] = json!("email."));
        assert_eq!(found, one("D011", "searches.find_contact.operation.inputFields[0].helpText"));
    }

    #[test]
    fn d013_and_d014_search_fields_name_a_search_and_have_a_dropdown() {
        let path = "creates.update_contact.operation.inputFields[0]";
        let found =
            with(|d| d["creates"]["update_contact"]["operation"]["inputFields"][0]["search"] = json!("nope.id"));
        assert_eq!(found, one("D013", &format!("{path}.search")));
        let found = with(|d| {
            d["creates"]["update_contact"]["operation"]["inputFields"][0].as_object_mut().unwrap().remove("dynamic");
        });
        assert_eq!(found, one("D014", &format!("{path}.search")));
        let found =
            with(|d| d["creates"]["update_contact"]["operation"]["inputFields"][0]["search"] = json!("find_contact"));
        assert_eq!(found, one("schema.search", &format!("{path}.search")));
    }

    #[test]
    fn d015_search_or_create_names_a_search_and_a_create() {
        let found = with(|d| {
            d["searchOrCreates"]["find_contact"]["create"] = json!("nope");
            d["searchOrCreates"]["find_contact"]["update"] = json!("nope");
            d["searchOrCreates"]["other"] =
                json!({"key": "other", "search": "find_contact", "create": "update_contact"});
        });
        assert_eq!(
            found,
            vec![
                ("D015", "searchOrCreates.find_contact.create".to_string()),
                ("D015", "searchOrCreates.find_contact.update".to_string()),
                ("D015", "searchOrCreates.other.key".to_string()),
            ]
        );
    }

    #[test]
    fn a_search_or_create_is_keyed_by_its_search() {
        let found = with(|d| {
            d["searches"]["other_search"] = d["searches"]["find_contact"].clone();
            d["searches"]["other_search"]["key"] = json!("other_search");
            d["searchOrCreates"]["find_contact"]["search"] = json!("other_search");
        });
        assert_eq!(found, one("schema.search-or-create-key", "searchOrCreates.find_contact.key"));
        assert!(!with(|_| {}).iter().any(|(id, _)| *id == "schema.search-or-create-key"));
    }

    #[test]
    fn d016_an_app_is_more_than_one_static_hook() {
        let app = json!({"version": "1.0.0", "triggers": {"hook": {"key": "hook", "noun": "Item",
            "display": {"label": "New Item", "description": "Triggers when an item is added."},
            "operation": {"type": "hook", "perform": {"$func": "p"}, "performList": {"$func": "l"}, "sample": {"id": 1}}}}});
        assert_eq!(
            found(&app),
            vec![("D016", "triggers.hook".to_string()), ("D017", "triggers.hook.operation".to_string())]
        );
    }

    #[test]
    fn d018_labels_are_title_case() {
        assert_eq!(title_case("new contact in a list"), "New Contact in a List");
        assert_eq!(title_case("find an iPhone by ID"), "Find an iPhone by ID");
        assert_eq!(title_case("of mice and men"), "Of Mice and Men");
        let finding = findings(&{
            let mut d = clean();
            d["triggers"]["new_contact"]["display"]["label"] = json!("new contact");
            d
        })
        .remove(0);
        assert_eq!(
            (finding.id, finding.severity, finding.hint.as_str()),
            ("D018", Severity::Warning, r#"use "New Contact""#)
        );
    }

    #[test]
    fn d021_trigger_descriptions_start_with_triggers_when() {
        for bad in ["Whenever there's a new contact, this goes?", "Triggers whenever there's a new contact."] {
            let found = with(|d| d["triggers"]["new_contact"]["display"]["description"] = json!(bad));
            assert_eq!(found, one("D021", "triggers.new_contact.display.description"), "{bad}");
        }
    }

    #[test]
    fn d022_creates_have_static_input_fields() {
        let found = with(|d| {
            d["creates"]["update_contact"]["operation"]["inputFields"] = json!([{"$func": "x"}]);
            d["searchOrCreates"] = json!(null);
        });
        assert_eq!(found, one("D022", "creates.update_contact.operation.inputFields"));
    }

    #[test]
    fn d023_sample_dates_are_iso_8601_with_a_timezone() {
        for good in ["2023-08-01", "2023-08-01T06:50:30-0500", "2023-09-15T09:59:59Z", "2023-09-15T09:59:59.123+02:00"]
        {
            assert!(is_iso_8601(good), "{good}");
        }
        for bad in ["01 Aug 2023", "01 Aug 2023 06:50:30", "2023-08-01T06:50:30", "2023-13-01", "2023-08-01T06:50Zx"] {
            assert!(!is_iso_8601(bad), "{bad}");
            assert!(looks_like_date(bad), "{bad}");
        }
        assert!(looks_like_date("08/01/2023") && looks_like_date("Aug 1, 2023"));
        assert!(!looks_like_date("Analytical Engines") && !looks_like_date("May I help? 12 of 2023 items"));
        let found = with(|d| {
            let sample = &mut d["triggers"]["new_contact"]["operation"]["sample"];
            sample["created"] = json!("yesterday");
            sample["nested"] = json!({"at": "01 Aug 2023"});
        });
        assert_eq!(
            found,
            vec![
                ("D023", "triggers.new_contact.operation.sample.created".to_string()),
                ("D023", "triggers.new_contact.operation.sample.nested.at".to_string()),
            ]
        );
    }

    #[test]
    fn d024_samples_respect_output_fields() {
        let found = with(|d| {
            let op = &mut d["triggers"]["new_contact"]["operation"];
            op["outputFields"] = json!([{"key": "id", "type": "integer"}, {"key": "email", "type": "string", "required": true},
                {"key": "owner__name", "type": "string"}]);
            op["sample"] = json!({"id": "1", "owner": {"name": 5}});
        });
        let path = "triggers.new_contact.operation.sample";
        assert_eq!(
            found,
            vec![("D024", format!("{path}.id")), ("D024", path.to_string()), ("D024", format!("{path}.owner__name"))]
        );
    }

    #[test]
    fn d025_no_script_uris_anywhere() {
        assert_eq!(dangerous_uri("javascript:alert('XSS');//"), Some("javascript:"));
        assert_eq!(dangerous_uri(" Java\tScript:alert(1)"), Some("javascript:"));
        assert_eq!(dangerous_uri("See [this](javascript:alert(1))."), Some("javascript:"));
        assert_eq!(dangerous_uri("https://example.com"), None);
        let found = with(|d| {
            d["searches"]["find_contact"]["operation"]["inputFields"][0]["helpText"] = json!("[x](vbscript:msgbox)")
        });
        assert_eq!(found, one("D025", "searches.find_contact.operation.inputFields[0].helpText"));
    }

    #[test]
    fn d026_domain_fields_are_flagged_for_validation() {
        let found = with(|d| {
            let fields = d["authentication"]["fields"].as_array_mut().unwrap();
            fields.push(json!({"key": "subdomain", "label": "Subdomain"}));
            fields.push(json!({"key": "region", "label": "Region", "inputFormat": "https://{{input}}.example.com"}));
        });
        assert_eq!(
            found,
            vec![("D026", "authentication.fields[1]".to_string()), ("D026", "authentication.fields[2]".to_string())]
        );
    }

    #[test]
    fn anything_is_checked_without_a_panic() {
        for text in [
            "{}",
            r#"{"triggers":[]}"#,
            r#"{"triggers":{"a":1}}"#,
            r#"{"triggers":{"a":{"operation":[]}}}"#,
            r#"{"authentication":7}"#,
            r#"{"searchOrCreates":{"x":null}}"#,
            r#"{"creates":{"c":{"operation":{"buffer":1,"inputFields":[1,null]}}}}"#,
        ] {
            let _ = check_definition(&Definition::parse(text).unwrap());
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing;

    /// What Markdown, URIs, dates and titles are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "[",
        "](",
        ")",
        "`",
        "<",
        ">",
        "https://",
        "http://",
        "javascript:",
        "data:",
        "href=",
        "2023-08-01",
        "T06:50:30",
        "Z",
        "+05:00",
        "-0500",
        ".123",
        "Aug",
        "01",
        "/",
        " ",
        "\t",
        "é",
        "ß",
        "{{",
    ];

    /// The text scanners of the definition checks read what a guest wrote
    /// (descriptions, help texts, labels, sample values, URLs): they
    /// answer, never panic; a title-cased label stays the same words and
    /// is title case already.
    #[test]
    fn definition_texts_are_scanned_or_passed() {
        fuzzing::fuzz_text("definition_text", TOKENS, |text| {
            let _ = markdown_problem(text);
            let _ = has_markdown_link(text);
            let _ = dangerous_uri(text);
            let _ = looks_like_date(text);
            if is_iso_8601(text) {
                prop_assert!(text.trim().starts_with(|c: char| c.is_ascii_digit()));
            }
            let titled = title_case(text);
            prop_assert_eq!(titled.split(' ').count(), text.split(' ').count());
            if text.is_ascii() {
                prop_assert_eq!(title_case(&titled), titled);
            }
            Ok(())
        });
    }
}
