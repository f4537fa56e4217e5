//! Result checks: what the host verifies about the result of every call it
//! runs, so integrations in every guest language get them.
//!
//! The platform's rules, by method:
//!
//! - a trigger's `perform` and `performList` return an array of objects
//!   (`result.trigger-array`, `result.trigger-object-items`); for a polling
//!   trigger (`operation.type` absent or `polling`) every item has the
//!   primary key (`T002`): the static `outputFields` marked
//!   `"primary": true`, all of them, or else the field `id`, none of them
//!   null; and no two items share one (`result.unique-primary-key`);
//! - a search's `perform` returns an array, or with `canPaginate: true`
//!   `{"results": [...], "paging_token": string|null}` (`result.search-array`);
//! - a create's `perform` and `performResume` return an object
//!   (`result.create-object`); its `performBuffer` returns an object with
//!   one entry for each run of `bundle.buffer` (by `meta.id`) and nothing
//!   else, each `{"outputData": {...}}` or `{"error": "..."}`
//!   (`result.buffer-shape`);
//! - dynamic `inputFields` and `outputFields` functions return an array of
//!   objects, each with a non-empty string `key` (`result.dynamic-fields`).
//!
//! Other methods (authentication, hydrators, performSubscribe,
//! performUnsubscribe, middleware) have no result checks. A check that
//! fails is a [`CheckFailure`]; the result is kept and the embedder
//! decides what a failure means.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use zapwasm_rules::method_path::{self, FieldList, MethodPath, OperationKind, OperationMethod};

use crate::bundle::Bundle;
use crate::definition::Definition;
use crate::error::CheckFailure;

/// A trigger's result is not an array.
pub(crate) const TRIGGER_ARRAY: &str = "result.trigger-array";
/// An item of a trigger's result is not an object.
pub(crate) const TRIGGER_OBJECT_ITEMS: &str = "result.trigger-object-items";
/// An item of a polling trigger's result lacks its primary key (the
/// platform's "Missing Primary Key Fields in Live Polling Results").
pub(crate) const MISSING_PRIMARY_KEY: &str = "T002";
/// Two items of a polling trigger's result share a primary key.
pub(crate) const UNIQUE_PRIMARY_KEY: &str = "result.unique-primary-key";
/// A search's result is not an array (nor a paging envelope).
pub(crate) const SEARCH_ARRAY: &str = "result.search-array";
/// A create's result is not an object.
pub(crate) const CREATE_OBJECT: &str = "result.create-object";
/// performBuffer's result is not one entry per buffered run.
pub(crate) const BUFFER_SHAPE: &str = "result.buffer-shape";
/// A dynamic field list is not an array of fields with keys.
pub(crate) const DYNAMIC_FIELDS: &str = "result.dynamic-fields";

/// Failures listed per check; the rest are counted in one more failure.
const LISTED_PER_CHECK: usize = 5;
/// Characters of a value quoted in a message.
const QUOTE_CHARS: usize = 120;
/// Characters of a string quoted whole; a longer one is left out.
const QUOTE_STRING_CHARS: usize = 64;
/// Characters of a key (a buffered run's ID) quoted whole.
const QUOTE_KEY_CHARS: usize = 200;
/// Up to this many actions of a kind, a method's action is found by trying
/// every key ([`named_action`]): under callgrind, trying one key took about
/// 300 instructions and finding the key's end and hashing it about 1,300.
const WALKED_ACTIONS: usize = 4;
/// The field that is the primary key when no output field is marked primary.
const DEFAULT_PRIMARY_KEY: &str = "id";

/// What a method's result must be.
#[derive(Debug, Clone, Copy)]
enum Target<'d> {
    /// A trigger's list of items; its operation when it polls (the items
    /// then need the primary key its static `outputFields` declare).
    Trigger { polling: Option<&'d Value> },
    /// A search's results.
    Search { can_paginate: bool },
    /// A create's one object.
    Create,
    /// performBuffer's object of runs.
    Buffer,
    /// A dynamic field list.
    Fields(&'static str),
}

/// The checks `method` of `definition` has, if any.
fn target<'d>(definition: &'d Definition, method: &str) -> Option<Target<'d>> {
    let Some(MethodPath::Operation(kind, rest)) = MethodPath::split(method) else {
        return None;
    };
    let actions = definition.json().get(kind.plural())?.as_object()?;
    let (action, named) = named_action(actions, rest)?;
    let operation = action.get("operation");
    let field_list = |list: FieldList| Some(Target::Fields(list.key()));
    match named {
        OperationMethod::Fields(list, _) => field_list(list),
        OperationMethod::Named(name) if name == FieldList::Input.key() => field_list(FieldList::Input),
        OperationMethod::Named(name) if name == FieldList::Output.key() => field_list(FieldList::Output),
        OperationMethod::Named(name) => match (kind, name) {
            (OperationKind::Trigger, method_path::PERFORM | method_path::PERFORM_LIST) => {
                let polling =
                    operation.and_then(|op| op.get("type")).and_then(Value::as_str).unwrap_or("polling") == "polling";
                Some(Target::Trigger { polling: polling.then(|| operation.unwrap_or(&Value::Null)) })
            }
            (OperationKind::Search, method_path::PERFORM) => Some(Target::Search {
                can_paginate: operation.and_then(|op| op.get("canPaginate")).and_then(Value::as_bool) == Some(true),
            }),
            (OperationKind::Create, method_path::PERFORM | method_path::PERFORM_RESUME) => Some(Target::Create),
            (OperationKind::Create, method_path::PERFORM_BUFFER) => Some(Target::Buffer),
            _ => None,
        },
    }
}

/// The action `rest` (`<key>.operation.<method>`) names, and the method:
/// the first key, in the definition's order, that `rest` names. Every call
/// looks its method up here, so with more than [`WALKED_ACTIONS`] actions
/// the key is looked up rather than every key tried: a key ends at a dot
/// of `rest` followed by `operation.`, and only those prefixes are looked
/// up (when more than one names an action, keys that themselves hold
/// `.operation.`, the keys are walked in order to find the first).
fn named_action<'d, 'p>(actions: &'d Map<String, Value>, rest: &'p str) -> Option<(&'d Value, OperationMethod<'p>)> {
    let walk = || actions.iter().find_map(|(key, action)| Some((action, method_path::operation_method(rest, key)?)));
    if actions.len() <= WALKED_ACTIONS {
        return walk();
    }
    let ends = rest.bytes().enumerate().filter(|&(at, byte)| byte == b'.' && rest[at + 1..].starts_with("operation."));
    let mut named = ends.filter_map(|(at, _)| {
        let key = &rest[..at];
        Some((actions.get(key)?, method_path::operation_method(rest, key)?))
    });
    let first = named.next()?;
    if named.next().is_none() {
        return Some(first);
    }
    walk()
}

/// The result checks of one method, found once per call: a call's result
/// is checked (and, for a trigger, first read in one pass) with what its
/// method was found to be, without looking the method up again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks<'d>(Target<'d>);

impl<'d> Checks<'d> {
    /// The checks `method` of `definition` has; `None` when it has none
    /// (its result need not be parsed).
    pub(crate) fn of(definition: &'d Definition, method: &str) -> Option<Checks<'d>> {
        target(definition, method).map(Checks)
    }

    /// Whether `text` passes these checks, known from one pass over the
    /// text without building the result: `Some(true)` only when the whole
    /// text parses as a [`Value`] and that value passes [`Checks::run`];
    /// `Some(false)` when it may not (the caller then parses it whole and
    /// runs the checks for their messages); `None` for checks that read
    /// more than a trigger's items and their primary keys (`invoke.rs`
    /// parses those results whole). A check of a trigger's items that reads
    /// other fields must change [`trigger_result_passes`].
    pub(crate) fn pass_on_text(&self, text: &str) -> Option<bool> {
        match self.0 {
            Target::Trigger { polling } => Some(trigger_result_passes(text, polling.map(primary_fields).as_deref())),
            _ => None,
        }
    }

    /// The failure of a result that is JSON text but that the checks
    /// cannot read as values: a number beyond a 64-bit float (`1e400`) or
    /// nesting deeper than serde_json reads (128 levels). Nothing of the
    /// result can be checked then, so the failure is the method's first
    /// check's (an array, an object), with what is wrong and what to do.
    pub(crate) fn unreadable(&self, error: &serde_json::Error) -> CheckFailure {
        let (id, shape) = match self.0 {
            Target::Trigger { .. } => (TRIGGER_ARRAY, "a trigger's array of objects"),
            Target::Search { .. } => (SEARCH_ARRAY, "a search's array"),
            Target::Create => (CREATE_OBJECT, "a create's object"),
            Target::Buffer => (BUFFER_SHAPE, "performBuffer's object of runs"),
            Target::Fields(_) => (DYNAMIC_FIELDS, "an array of fields"),
        };
        CheckFailure {
            id: id.to_string(),
            message: format!(
                "the result is JSON text that cannot be read as {shape} ({error}): a number must fit a 64-bit \
                 float and nesting must stay within 128 levels; write larger numbers as strings"
            ),
        }
    }

    /// The checks that `result` fails. Messages quote values of the result
    /// and the bundle, cut short only between JSON tokens (a long string is
    /// left out whole), so censoring the message afterwards leaves no part
    /// of a secret.
    pub(crate) fn run(&self, bundle: &Bundle, result: &serde_json::Value) -> Vec<CheckFailure> {
        let mut report = Report::default();
        match self.0 {
            Target::Trigger { polling } => check_trigger(&mut report, polling.map(primary_fields), result),
            Target::Search { can_paginate } => check_search(&mut report, can_paginate, result),
            Target::Create => check_create(&mut report, result),
            Target::Buffer => check_buffer(&mut report, bundle, result),
            Target::Fields(list) => check_fields(&mut report, list, result),
        }
        report.finish()
    }
}

/// The result checks of `method` that `result` fails (none for a method
/// without checks): [`Checks::run`] of the method's checks.
#[cfg(test)]
fn result_checks(
    definition: &Definition,
    method: &str,
    bundle: &Bundle,
    result: &serde_json::Value,
) -> Vec<CheckFailure> {
    Checks::of(definition, method).map_or_else(Vec::new, |checks| checks.run(bundle, result))
}

/// The primary key of an item of the trigger `trigger_key`, as one string:
/// the JSON array of the key fields' values in field order (objects' keys
/// sorted), so two items have the same string exactly when they have the
/// same key. The key fields are the trigger's static `outputFields` marked
/// `"primary": true`, or `id` when none is; `None` when the item is not an
/// object or lacks one of them (absent or null).
///
/// The primary key is what a polling trigger's new items are deduplicated by.
///
/// ```
/// use serde_json::json;
/// use zapwasm_host::{Definition, primary_key};
///
/// let definition = Definition::parse(
///     r#"{"triggers":{"row":{"operation":{"outputFields":[
///         {"key":"sheet","primary":true},{"key":"n","primary":true},{"key":"text"}]}}}}"#,
/// )
/// .unwrap();
/// let item = json!({"n": 3, "sheet": "a", "text": "x"});
/// assert_eq!(primary_key(&definition, "row", &item).as_deref(), Some(r#"["a",3]"#));
/// assert_eq!(primary_key(&definition, "row", &json!({"n": 3})), None);
/// assert_eq!(primary_key(&definition, "other", &json!({"id": 7})).as_deref(), Some("[7]"));
/// ```
pub fn primary_key(definition: &Definition, trigger_key: &str, item: &Value) -> Option<String> {
    let operation = definition
        .json()
        .get(OperationKind::Trigger.plural())
        .and_then(|triggers| triggers.get(trigger_key))
        .and_then(|trigger| trigger.get("operation"))
        .unwrap_or(&Value::Null);
    // serde_json writes UTF-8.
    String::from_utf8(key_of(&primary_fields(operation), item.as_object()?)?).ok()
}

/// The primary key fields of a trigger's operation: its static
/// `outputFields` marked primary, else `id` (a `$func` list counts as none).
pub(crate) fn primary_fields(operation: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    if let Some(fields) = operation.get("outputFields").and_then(Value::as_array) {
        for field in fields {
            let primary = field.get("primary").and_then(Value::as_bool) == Some(true);
            if let Some(key) = field.get("key").and_then(Value::as_str).filter(|key| primary && !key.is_empty())
                && !keys.contains(&key)
            {
                keys.push(key);
            }
        }
    }
    if keys.is_empty() {
        keys.push(DEFAULT_PRIMARY_KEY);
    }
    keys
}

/// The fields of `primary` that `item` lacks (absent or null).
pub(crate) fn missing_fields<'k>(primary: &[&'k str], item: &Map<String, Value>) -> Vec<&'k str> {
    primary.iter().copied().filter(|key| item.get(*key).is_none_or(Value::is_null)).collect()
}

/// The primary key of `item` (see [`primary_key`]) as JSON text.
fn key_of(primary: &[&str], item: &Map<String, Value>) -> Option<Vec<u8>> {
    let values = primary.iter().map(|key| item.get(*key).filter(|value| !value.is_null()));
    if values.clone().any(|value| value.is_none()) {
        return None;
    }
    let mut out = Vec::new();
    write_key(values.flatten(), &mut out);
    Some(out)
}

/// The primary key made of `values` (one per key field, in the fields'
/// order), appended to `out`: a JSON array with every object's keys sorted.
fn write_key<'v>(values: impl IntoIterator<Item = &'v Value>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_canonical(value, out);
    }
    out.push(b']');
}

/// `value` as JSON with every object's keys sorted.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        scalar => write_json(scalar, out),
    }
}

/// `value` as serde_json writes it. Writing a string or a scalar into a
/// vector cannot fail.
fn write_json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(out, value);
}

/// Whether a trigger's result `text` passes [`check_trigger`] with the
/// primary key fields `primary` (`None`: a hook trigger's, which has no
/// primary key), read in one pass: the items' primary key fields are
/// parsed, every other value is read and dropped. It is true only when the
/// whole text would also parse as a [`Value`]: every value goes through the
/// deserializer calls building one makes (numbers converted, nesting
/// counted), so it fails where that parse fails. It stops at the first
/// item that fails; the caller then parses the result whole for the
/// messages.
fn trigger_result_passes(text: &str, primary: Option<&[&str]>) -> bool {
    use serde::de::DeserializeSeed as _;
    let mut scan = ItemScan { primary, keys: Vec::new(), ends: Vec::new(), slots: Vec::new() };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    if Items(&mut scan).deserialize(&mut deserializer).is_err() || deserializer.end().is_err() {
        return false;
    }
    // No two keys alike: sorted, equal keys are neighbours. Sorting keeps
    // the cost O(n log n) comparisons whatever keys a guest chooses, with
    // no hashing and no allocation per key.
    let mut start = 0;
    let mut spans: Vec<&[u8]> = (scan.ends.iter())
        .map(|&end| {
            let span = &scan.keys[start..end];
            start = end;
            span
        })
        .collect();
    spans.sort_unstable();
    spans.windows(2).all(|pair| pair[0] != pair[1])
}

/// What [`trigger_result_passes`] keeps while it reads.
struct ItemScan<'f> {
    primary: Option<&'f [&'f str]>,
    /// The primary keys of the items read so far, one after another.
    keys: Vec<u8>,
    /// Where each key in `keys` ends.
    ends: Vec<usize>,
    /// The current item's primary key values, one per key field.
    slots: Vec<Option<Value>>,
}

/// The result: an array of items. Anything else is an error (the
/// visitor's default), which ends the pass.
struct Items<'s, 'f>(&'s mut ItemScan<'f>);

/// One item: an object whose primary key is present and new.
struct Item<'s, 'f>(&'s mut ItemScan<'f>);

/// A value read and checked, not kept.
struct Skip;

/// Why [`trigger_result_passes`] stopped (never shown: the caller runs the
/// checks on the whole result for their messages).
const ITEM_FAILS: &str = "an item fails the trigger's checks";

crate::json::seed_by_visitor!(Items<'_, '_>, Item<'_, '_>, Skip);

impl<'de> serde::de::Visitor<'de> for Items<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Item(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

impl<'de> serde::de::Visitor<'de> for Item<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error as _;
        let scan = self.0;
        let primary = scan.primary.unwrap_or_default();
        scan.slots.clear();
        scan.slots.resize(primary.len(), None);
        while let Some(key) = map.next_key_seed(Key)? {
            // A key given twice keeps its last value, as in a parsed object.
            match primary.iter().position(|field| *field == key) {
                Some(at) => scan.slots[at] = Some(map.next_value()?),
                None => map.next_value_seed(Skip)?,
            }
        }
        if scan.primary.is_none() {
            return Ok(());
        }
        if !scan.slots.iter().all(|slot| slot.as_ref().is_some_and(|value| !value.is_null())) {
            return Err(A::Error::custom(ITEM_FAILS));
        }
        write_key(scan.slots.iter().flatten(), &mut scan.keys);
        scan.ends.push(scan.keys.len());
        Ok(())
    }
}

impl<'de> serde::de::Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    crate::json::accept_scalars!();

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// An object's key, borrowed from the text unless it has escapes.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(key.to_owned()))
    }
}

fn check_trigger(report: &mut Report, primary: Option<Vec<&str>>, result: &Value) {
    let Value::Array(items) = result else {
        report.fail(TRIGGER_ARRAY, || {
            format!(
                "a trigger must return an array of objects, got {}: return the items as a list \
                 (an empty list when there are none, a list of one for a single item)",
                describe(result)
            )
        });
        return;
    };
    // Sized for every item at once: no rehash as it fills.
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::with_capacity(if primary.is_some() { items.len() } else { 0 });
    for (i, item) in items.iter().enumerate() {
        let Value::Object(fields) = item else {
            report.fail(TRIGGER_OBJECT_ITEMS, || {
                format!("item {i} is {}: every item a trigger returns must be an object of fields", describe(item))
            });
            continue;
        };
        let Some(primary) = &primary else { continue };
        let missing = missing_fields(primary, fields);
        if !missing.is_empty() {
            report.fail(MISSING_PRIMARY_KEY, || {
                format!(
                    "item {i} lacks the primary key field{} {} ({}): every item of a polling trigger needs its \
                     primary key, which new items are deduplicated by; return {} in every item, or mark the \
                     fields that identify an item `\"primary\": true` in the trigger's outputFields",
                    if missing.len() == 1 { "" } else { "s" },
                    names(&missing),
                    describe(item),
                    names(primary),
                )
            });
            continue;
        }
        let Some(key) = key_of(primary, fields) else { continue };
        match seen.entry(key) {
            Entry::Occupied(first) => report.fail(UNIQUE_PRIMARY_KEY, || {
                format!(
                    "items {} and {i} have the same primary key ({}): items of a polling trigger are \
                     deduplicated by their primary key, so all but one would be lost; return each item once, \
                     or mark more fields `\"primary\": true` in the trigger's outputFields",
                    *first.get(),
                    key_display(primary, fields),
                )
            }),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
}

fn check_search(report: &mut Report, can_paginate: bool, result: &Value) {
    match result {
        Value::Array(_) => {}
        Value::Object(envelope) if can_paginate => {
            match envelope.get("results") {
                Some(Value::Array(_)) => {}
                Some(other) => report.fail(SEARCH_ARRAY, || {
                    format!(
                        "a paginated search's `results` must be an array, got {}: put the page's results in \
                         `results` as a list",
                        describe(other)
                    )
                }),
                None => report.fail(SEARCH_ARRAY, || {
                    "a paginated search's result has no `results`: return {\"results\": [...], \"paging_token\": \
                     <string or null>} or an array of results"
                        .to_string()
                }),
            }
            match envelope.get("paging_token") {
                Some(Value::String(_) | Value::Null) => {}
                Some(other) => report.fail(SEARCH_ARRAY, || {
                    format!(
                        "a paginated search's `paging_token` must be a string or null, got {}: return the token \
                         of the next page, or null on the last page",
                        describe(other)
                    )
                }),
                None => report.fail(SEARCH_ARRAY, || {
                    "a paginated search's result has no `paging_token`: return the token of the next page, or \
                     null on the last page"
                        .to_string()
                }),
            }
        }
        other => report.fail(SEARCH_ARRAY, || {
            let envelope = if can_paginate {
                ", or {\"results\": [...], \"paging_token\": <string or null>} for a page"
            } else {
                ""
            };
            format!(
                "a search must return an array of results{envelope}, got {}: return the results as a list (an \
                 empty list when nothing is found)",
                describe(other)
            )
        }),
    }
}

fn check_create(report: &mut Report, result: &Value) {
    if !result.is_object() {
        report.fail(CREATE_OBJECT, || {
            let hint = if result.is_array() { " (return the one item created, not a list)" } else { "" };
            format!("a create must return an object, got {}{hint}", describe(result))
        });
    }
}

fn check_buffer(report: &mut Report, bundle: &Bundle, result: &Value) {
    const SHAPE: &str = "{\"outputData\": {...}} or {\"error\": \"...\"}";
    let Value::Object(entries) = result else {
        report.fail(BUFFER_SHAPE, || {
            format!(
                "performBuffer must return an object with an entry for each buffered run, keyed by its \
                 bundle.buffer[].meta.id, each {SHAPE}; got {}",
                describe(result)
            )
        });
        return;
    };
    let mut ids: Vec<&str> = Vec::with_capacity(bundle.buffer.len());
    for run in &bundle.buffer {
        if !run.meta.id.is_empty() && !ids.contains(&run.meta.id.as_str()) {
            ids.push(&run.meta.id);
        }
    }
    for id in &ids {
        match entries.get(*id) {
            None => report.fail(BUFFER_SHAPE, || {
                format!(
                    "the result has no entry for the buffered run {}: return an entry, {SHAPE}, for every run \
                     in bundle.buffer, keyed by its meta.id",
                    quote_key(id)
                )
            }),
            Some(value @ Value::Object(entry)) => {
                let output = entry.get("outputData").is_some_and(Value::is_object);
                let error = entry.get("error").is_some_and(Value::is_string);
                if !output && !error {
                    report.fail(BUFFER_SHAPE, || {
                        format!(
                            "the entry of the buffered run {} is {}: it must be {SHAPE} (an `outputData` object, \
                             or an `error` string)",
                            quote_key(id),
                            describe(value)
                        )
                    });
                }
            }
            Some(other) => report.fail(BUFFER_SHAPE, || {
                format!(
                    "the entry of the buffered run {} is {}: it must be an object, {SHAPE}",
                    quote_key(id),
                    describe(other)
                )
            }),
        }
    }
    let known: HashSet<&str> = ids.into_iter().collect();
    for key in entries.keys().filter(|key| !known.contains(key.as_str())) {
        report.fail(BUFFER_SHAPE, || {
            format!(
                "the result has an entry {} that is no buffered run's ID: key the entries by the meta.id of the \
                 runs in bundle.buffer, and return nothing else",
                quote_key(key)
            )
        });
    }
}

fn check_fields(report: &mut Report, list: &str, result: &Value) {
    let Value::Array(fields) = result else {
        report.fail(DYNAMIC_FIELDS, || {
            format!(
                "a dynamic {list} function must return an array of fields, got {}: return a list of field \
                 objects, each with a `key`",
                describe(result)
            )
        });
        return;
    };
    for (i, field) in fields.iter().enumerate() {
        match field {
            Value::Object(map) => match map.get("key") {
                Some(Value::String(key)) if !key.is_empty() => {}
                Some(other) => report.fail(DYNAMIC_FIELDS, || {
                    format!(
                        "{list}[{i}] has the key {}: every field's `key` must be a non-empty string, the name \
                         its value has in inputData or in the result",
                        describe(other)
                    )
                }),
                None => report.fail(DYNAMIC_FIELDS, || {
                    format!(
                        "{list}[{i}] has no `key` ({}): every field needs a non-empty string `key`, e.g. \
                         {{\"key\": \"email\", \"label\": \"Email\"}}",
                        quote(field)
                    )
                }),
            },
            other => report.fail(DYNAMIC_FIELDS, || {
                format!(
                    "{list}[{i}] is {}: every field must be an object with a string `key`, e.g. \
                     {{\"key\": \"email\", \"label\": \"Email\"}}",
                    describe(other)
                )
            }),
        }
    }
}

/// `a`, `a` and `b`, `a`, `b` and `c`: field names for a message.
fn names(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The failures of one call's checks, at most [`LISTED_PER_CHECK`] listed per check.
#[derive(Default)]
struct Report {
    failures: Vec<CheckFailure>,
    /// Failures per check ID, listed or not.
    counts: Vec<(&'static str, usize)>,
}

impl Report {
    /// Records a failure of `id`; its message is only written when listed.
    fn fail(&mut self, id: &'static str, message: impl FnOnce() -> String) {
        let count = match self.counts.iter_mut().find(|(known, _)| *known == id) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                self.counts.push((id, 1));
                1
            }
        };
        if count <= LISTED_PER_CHECK {
            self.failures.push(CheckFailure { id: id.to_string(), message: message() });
        }
    }

    /// The listed failures, and for a check that failed more often, one
    /// saying how many more.
    fn finish(mut self) -> Vec<CheckFailure> {
        for (id, count) in self.counts {
            if count > LISTED_PER_CHECK {
                let more = count - LISTED_PER_CHECK;
                let message = format!(
                    "and {more} more failure{} of this check (the first {LISTED_PER_CHECK} are listed)",
                    if more == 1 { "" } else { "s" }
                );
                self.failures.push(CheckFailure { id: id.to_string(), message });
            }
        }
        self.failures
    }
}

/// What `value` is, for a message: its type and its JSON, cut short.
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_string(),
        Value::Array(items) if items.is_empty() => return "an empty array".to_string(),
        Value::Object(map) if map.is_empty() => return "an empty object".to_string(),
        other => zapwasm_rules::text::type_name(other),
    };
    format!("{kind} {}", quote(value))
}

/// `value` as JSON for a message, at most about [`QUOTE_CHARS`]
/// characters: cut short only between tokens, `…` where it was, and a
/// string longer than [`QUOTE_STRING_CHARS`] written `"…"`. No token is
/// ever cut, so a secret in the value is either quoted whole (and
/// censored with the message) or not at all.
fn quote(value: &Value) -> String {
    let mut out = String::new();
    if !write_quote(value, &mut out) {
        out.push('…');
    }
    out
}

/// Writes `value` into `out`; false when it ran out of room.
fn write_quote(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Array(items) => {
            if !push_token(out, "[") {
                return false;
            }
            for (i, item) in items.iter().enumerate() {
                if (i > 0 && !push_token(out, ",")) || !write_quote(item, out) {
                    return false;
                }
            }
            push_token(out, "]")
        }
        Value::Object(map) => {
            if !push_token(out, "{") {
                return false;
            }
            for (i, (key, item)) in map.iter().enumerate() {
                if (i > 0 && !push_token(out, ","))
                    || !push_string(out, key)
                    || !push_token(out, ":")
                    || !write_quote(item, out)
                {
                    return false;
                }
            }
            push_token(out, "}")
        }
        Value::String(text) => push_string(out, text),
        scalar => push_token(out, &scalar.to_string()),
    }
}

/// A string token, or `"…"` for a long one.
fn push_string(out: &mut String, text: &str) -> bool {
    if text.chars().count() > QUOTE_STRING_CHARS {
        push_token(out, "\"…\"")
    } else {
        push_token(out, &Value::String(text.to_string()).to_string())
    }
}

/// Appends `token` if the quote stays within [`QUOTE_CHARS`].
fn push_token(out: &mut String, token: &str) -> bool {
    if out.chars().count() + token.chars().count() > QUOTE_CHARS {
        return false;
    }
    out.push_str(token);
    true
}

/// A key (a buffered run's ID) as a JSON string, whole; `"…"` and its
/// length when it is too long to quote.
fn quote_key(key: &str) -> String {
    let length = key.chars().count();
    if length > QUOTE_KEY_CHARS {
        format!("\"…\" ({length} characters)")
    } else {
        Value::String(key.to_string()).to_string()
    }
}

/// The values of an item's primary key fields, for a message.
fn key_display(primary: &[&str], item: &Map<String, Value>) -> String {
    let parts: Vec<String> =
        primary.iter().map(|key| format!("{key}: {}", quote(item.get(*key).unwrap_or(&Value::Null)))).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zapwasm_rules::{BufferedItem, BufferedMeta};

    use super::*;

    /// A definition with one operation of each kind the checks know.
    fn definition() -> Definition {
        let text = json!({
            "triggers": {
                "poll": {"operation": {
                    "perform": {"$func": "triggers.poll.operation.perform"},
                    "outputFields": [{"key": "id", "label": "ID"}, {"key": "name"}],
                }},
                "typed": {"operation": {
                    "type": "polling",
                    "perform": {"$func": "triggers.typed.operation.perform"},
                }},
                "pair": {"operation": {
                    "type": "polling",
                    "perform": {"$func": "triggers.pair.operation.perform"},
                    "outputFields": [
                        {"key": "list", "primary": true},
                        {"key": "id"},
                        {"key": "n", "primary": true},
                        {"$func": "triggers.pair.operation.outputFields.3"},
                    ],
                }},
                "dyn.out": {"operation": {
                    "type": "polling",
                    "perform": {"$func": "triggers.dyn.out.operation.perform"},
                    "outputFields": {"$func": "triggers.dyn.out.operation.outputFields"},
                }},
                "hook": {"operation": {
                    "type": "hook",
                    "perform": {"$func": "triggers.hook.operation.perform"},
                    "performList": {"$func": "triggers.hook.operation.performList"},
                    "performSubscribe": {"$func": "triggers.hook.operation.performSubscribe"},
                    "performUnsubscribe": {"$func": "triggers.hook.operation.performUnsubscribe"},
                    "inputFields": [{"key": "a"}, {"$func": "triggers.hook.operation.inputFields.1"}],
                }},
            },
            "searches": {
                "find": {"operation": {"perform": {"$func": "searches.find.operation.perform"}}},
                "pages": {"operation": {
                    "perform": {"url": "https://api.test/items"},
                    "canPaginate": true,
                }},
            },
            "creates": {
                "add": {"operation": {
                    "perform": {"$func": "creates.add.operation.perform"},
                    "performResume": {"$func": "creates.add.operation.performResume"},
                    "performBuffer": {"$func": "creates.add.operation.performBuffer"},
                    "inputFields": [{"$func": "creates.add.operation.inputFields.0"}],
                }},
            },
            "authentication": {"type": "custom", "test": {"$func": "authentication.test"}},
            "hydrators": {"file": {"$func": "hydrators.file"}},
            "beforeRequest": [{"$func": "beforeRequest.0"}],
        });
        Definition::parse(&text.to_string()).unwrap()
    }

    fn run(method: &str, result: Value) -> Vec<CheckFailure> {
        result_checks(&definition(), method, &Bundle::default(), &result)
    }

    fn ids(failures: &[CheckFailure]) -> Vec<&str> {
        failures.iter().map(|f| f.id.as_str()).collect()
    }

    /// The one failure there is, with this ID.
    fn one(failures: Vec<CheckFailure>, id: &str) -> String {
        assert_eq!(ids(&failures), [id], "{failures:?}");
        failures.into_iter().next().unwrap().message
    }

    fn buffered(ids: &[&str]) -> Bundle {
        let buffer = ids
            .iter()
            .map(|id| BufferedItem { input_data: Map::new(), meta: BufferedMeta { id: id.to_string() } })
            .collect();
        Bundle { buffer, ..Bundle::default() }
    }

    #[test]
    fn only_operation_methods_with_rules_have_checks() {
        let def = definition();
        for method in [
            "triggers.poll.operation.perform",
            "triggers.hook.operation.perform",
            "triggers.hook.operation.performList",
            "triggers.hook.operation.inputFields.1",
            "triggers.pair.operation.outputFields.3",
            "triggers.dyn.out.operation.perform",
            "triggers.dyn.out.operation.outputFields",
            "searches.find.operation.perform",
            "searches.pages.operation.perform",
            "creates.add.operation.perform",
            "creates.add.operation.performResume",
            "creates.add.operation.performBuffer",
            "creates.add.operation.inputFields.0",
        ] {
            assert!(Checks::of(&def, method).is_some(), "{method}");
        }
        for method in [
            "triggers.hook.operation.performSubscribe",
            "triggers.hook.operation.performUnsubscribe",
            "authentication.test",
            "hydrators.file",
            "beforeRequest.0",
            "triggers.nope.operation.perform",
            "searches.find.operation.performResume",
            "triggers.poll.operation.performResume",
            "nothing",
        ] {
            assert!(Checks::of(&def, method).is_none(), "{method}");
            assert_eq!(run(method, json!("anything")), [], "{method}");
        }
    }

    #[test]
    fn a_trigger_returns_an_array_of_objects() {
        assert_eq!(run("triggers.poll.operation.perform", json!([])), []);
        assert_eq!(run("triggers.poll.operation.perform", json!([{"id": 1}, {"id": "2", "x": [1]}])), []);
        let message = one(run("triggers.poll.operation.perform", json!({"id": 1})), TRIGGER_ARRAY);
        assert!(message.contains(r#"got an object {"id":1}"#), "{message}");
        assert!(message.contains("a list of one"), "{message}");
        one(run("triggers.hook.operation.perform", json!(null)), TRIGGER_ARRAY);
        one(run("triggers.hook.operation.performList", json!("x")), TRIGGER_ARRAY);

        let failures = run("triggers.hook.operation.performList", json!([{"a": 1}, 2, [3], null]));
        assert_eq!(ids(&failures), [TRIGGER_OBJECT_ITEMS; 3]);
        assert!(failures[0].message.starts_with("item 1 is a number 2:"), "{}", failures[0].message);
        assert!(failures[1].message.starts_with("item 2 is an array [3]:"), "{}", failures[1].message);
        assert!(failures[2].message.starts_with("item 3 is null:"), "{}", failures[2].message);
    }

    #[test]
    fn a_polling_trigger_needs_the_id_when_no_field_is_primary() {
        for trigger in ["poll", "typed", "dyn.out"] {
            let method = format!("triggers.{trigger}.operation.perform");
            assert_eq!(run(&method, json!([{"id": 1}, {"id": 2}])), [], "{trigger}");
            let failures = run(&method, json!([{"id": 1}, {"name": "no id"}, {"id": null}]));
            assert_eq!(ids(&failures), [MISSING_PRIMARY_KEY; 2], "{trigger}");
            let message = &failures[0].message;
            assert!(message.starts_with("item 1 lacks the primary key field `id` ("), "{message}");
            assert!(message.contains(r#"{"name":"no id"}"#), "{message}");
            assert!(message.contains("return `id` in every item"), "{message}");
            assert!(failures[1].message.starts_with("item 2 lacks"), "{}", failures[1].message);
        }
    }

    #[test]
    fn a_hook_trigger_needs_no_primary_key() {
        for method in ["triggers.hook.operation.perform", "triggers.hook.operation.performList"] {
            assert_eq!(run(method, json!([{"name": "a"}, {"id": 1}, {"id": 1}])), [], "{method}");
        }
    }

    #[test]
    fn primary_fields_together_are_the_key() {
        let method = "triggers.pair.operation.perform";
        let items = json!([{"list": "a", "n": 1}, {"list": "a", "n": 2}, {"list": "b", "n": 1, "id": 1}]);
        assert_eq!(run(method, items), []);
        let failures = run(method, json!([{"list": "a", "id": 1}, {"id": 2}, {"n": 0, "list": false}]));
        assert_eq!(ids(&failures), [MISSING_PRIMARY_KEY; 2]);
        assert!(failures[0].message.starts_with("item 0 lacks the primary key field `n` "), "{}", failures[0].message);
        assert!(
            failures[1].message.starts_with("item 1 lacks the primary key fields `list` and `n` "),
            "{}",
            failures[1].message
        );
        assert!(failures[1].message.contains("return `list` and `n` in every item"), "{}", failures[1].message);
    }

    #[test]
    fn primary_keys_are_unique_in_a_result() {
        let method = "triggers.poll.operation.perform";
        let message = one(run(method, json!([{"id": 1}, {"id": 2}, {"id": 1, "other": true}])), UNIQUE_PRIMARY_KEY);
        assert!(message.starts_with("items 0 and 2 have the same primary key (id: 1)"), "{message}");
        // The same value of another type is another key.
        assert_eq!(run(method, json!([{"id": 1}, {"id": "1"}, {"id": 1.5}])), []);
        let pair = "triggers.pair.operation.perform";
        let message = one(
            run(pair, json!([{"list": "a", "n": 1}, {"list": "a", "n": 2}, {"n": 1, "list": "a"}])),
            UNIQUE_PRIMARY_KEY,
        );
        assert!(message.starts_with(r#"items 0 and 2 have the same primary key (list: "a", n: 1)"#), "{message}");
        // Object values are compared whatever their keys' order.
        let message = one(run(method, json!([{"id": {"a": 1, "b": 2}}, {"id": {"b": 2, "a": 1}}])), UNIQUE_PRIMARY_KEY);
        assert!(message.starts_with("items 0 and 1"), "{message}");
        // Three of a kind: each later one is reported against the first.
        let failures = run(method, json!([{"id": 7}, {"id": 7}, {"id": 7}]));
        assert_eq!(ids(&failures), [UNIQUE_PRIMARY_KEY; 2]);
        assert!(failures[1].message.starts_with("items 0 and 2"), "{}", failures[1].message);
    }

    #[test]
    fn primary_key_is_one_injective_string() {
        let def = definition();
        assert_eq!(primary_key(&def, "poll", &json!({"id": 1, "name": "x"})).as_deref(), Some("[1]"));
        assert_eq!(primary_key(&def, "poll", &json!({"id": "1"})).as_deref(), Some(r#"["1"]"#));
        assert_eq!(primary_key(&def, "poll", &json!({"name": "x"})), None);
        assert_eq!(primary_key(&def, "poll", &json!({"id": null})), None);
        assert_eq!(primary_key(&def, "poll", &json!([1])), None);
        assert_eq!(primary_key(&def, "pair", &json!({"n": 2, "list": "a,b"})).as_deref(), Some(r#"["a,b",2]"#));
        assert_ne!(
            primary_key(&def, "pair", &json!({"list": "a\",\"b", "n": 1})),
            primary_key(&def, "pair", &json!({"list": "a", "n": "b\",1"}))
        );
        assert_eq!(primary_key(&def, "pair", &json!({"list": "a", "id": 1})), None);
        assert_eq!(
            primary_key(&def, "poll", &json!({"id": {"b": [2, {"d": 1, "c": 0}], "a": 1}})).as_deref(),
            Some(r#"[{"a":1,"b":[2,{"c":0,"d":1}]}]"#)
        );
        // A dynamic outputFields list, an unknown trigger: `id`.
        assert_eq!(primary_key(&def, "dyn.out", &json!({"id": 3})).as_deref(), Some("[3]"));
        assert_eq!(primary_key(&def, "nope", &json!({"id": true})).as_deref(), Some("[true]"));
    }

    #[test]
    fn a_search_returns_an_array() {
        assert_eq!(run("searches.find.operation.perform", json!([])), []);
        assert_eq!(run("searches.find.operation.perform", json!([{"id": 1}])), []);
        let message = one(run("searches.find.operation.perform", json!({"id": 1})), SEARCH_ARRAY);
        assert!(
            message.starts_with(r#"a search must return an array of results, got an object {"id":1}"#),
            "{message}"
        );
        assert!(!message.contains("paging_token"), "{message}");
        // The envelope is only for searches that paginate.
        one(run("searches.find.operation.perform", json!({"results": [], "paging_token": null})), SEARCH_ARRAY);
    }

    #[test]
    fn a_paginated_search_may_return_an_envelope() {
        let method = "searches.pages.operation.perform";
        assert_eq!(run(method, json!([{"id": 1}])), []);
        assert_eq!(run(method, json!({"results": [{"id": 1}], "paging_token": "p2"})), []);
        assert_eq!(run(method, json!({"results": [], "paging_token": null})), []);
        let message = one(run(method, json!("x")), SEARCH_ARRAY);
        assert!(message.contains("paging_token"), "{message}");
        let message = one(run(method, json!({"results": {"id": 1}, "paging_token": null})), SEARCH_ARRAY);
        assert!(message.starts_with("a paginated search's `results` must be an array, got an object"), "{message}");
        let message = one(run(method, json!({"results": [], "paging_token": 2})), SEARCH_ARRAY);
        assert!(message.contains("`paging_token` must be a string or null, got a number 2"), "{message}");
        let failures = run(method, json!({"items": []}));
        assert_eq!(ids(&failures), [SEARCH_ARRAY; 2]);
        assert!(failures[0].message.contains("no `results`"), "{}", failures[0].message);
        assert!(failures[1].message.contains("no `paging_token`"), "{}", failures[1].message);
    }

    #[test]
    fn a_create_returns_an_object() {
        for method in ["creates.add.operation.perform", "creates.add.operation.performResume"] {
            assert_eq!(run(method, json!({"id": 1})), [], "{method}");
            assert_eq!(run(method, json!({})), [], "{method}");
            let message = one(run(method, json!([{"id": 1}])), CREATE_OBJECT);
            assert_eq!(
                message,
                r#"a create must return an object, got an array [{"id":1}] (return the one item created, not a list)"#
            );
            let message = one(run(method, json!(null)), CREATE_OBJECT);
            assert_eq!(message, "a create must return an object, got null");
        }
    }

    #[test]
    fn perform_buffer_returns_an_entry_per_buffered_run() {
        let def = definition();
        let method = "creates.add.operation.performBuffer";
        let bundle = buffered(&["r1", "r2", "r3"]);
        let check = |result: Value| result_checks(&def, method, &bundle, &result);
        let good = json!({
            "r1": {"outputData": {"id": 1}},
            "r2": {"error": "the API refused it"},
            "r3": {"outputData": {}, "error": "both is fine"},
        });
        assert_eq!(check(good), []);
        assert_eq!(result_checks(&def, method, &buffered(&[]), &json!({})), []);

        let message = one(check(json!([{"outputData": {}}])), BUFFER_SHAPE);
        assert!(message.starts_with("performBuffer must return an object with an entry for each"), "{message}");

        let failures = check(json!({
            "r1": {"outputData": {"id": 1}},
            "r3": {"outputData": [1]},
            "r9": {"outputData": {}},
        }));
        assert_eq!(ids(&failures), [BUFFER_SHAPE; 3]);
        assert!(failures[0].message.starts_with(r#"the result has no entry for the buffered run "r2""#));
        assert!(
            failures[1].message.starts_with(r#"the entry of the buffered run "r3" is an object {"outputData":[1]}"#)
        );
        assert!(failures[2].message.starts_with(r#"the result has an entry "r9" that is no buffered run's ID"#));

        let failures = check(json!({"r1": "ok", "r2": {"error": 5}, "r3": {}}));
        assert_eq!(ids(&failures), [BUFFER_SHAPE; 3]);
        assert!(failures[0].message.contains(r#"run "r1" is a string "ok": it must be an object"#));
        assert!(failures[1].message.contains(r#"run "r2" is an object {"error":5}"#));
        assert!(failures[2].message.contains(r#"run "r3" is an empty object"#));
    }

    #[test]
    fn dynamic_fields_are_objects_with_keys() {
        for method in [
            "triggers.hook.operation.inputFields.1",
            "creates.add.operation.inputFields.0",
            "triggers.pair.operation.outputFields.3",
            "triggers.dyn.out.operation.outputFields",
        ] {
            assert_eq!(run(method, json!([])), [], "{method}");
            assert_eq!(run(method, json!([{"key": "a", "label": "A"}, {"key": "b"}])), [], "{method}");
            one(run(method, json!({"key": "a"})), DYNAMIC_FIELDS);
        }
        let message = one(run("creates.add.operation.inputFields.0", json!("x")), DYNAMIC_FIELDS);
        assert!(
            message.starts_with(r#"a dynamic inputFields function must return an array of fields, got a string "x""#)
        );
        let failures = run(
            "triggers.pair.operation.outputFields.3",
            json!([{"key": "a"}, {"label": "B"}, {"key": ""}, 3, {"key": 4}]),
        );
        assert_eq!(ids(&failures), [DYNAMIC_FIELDS; 4]);
        assert!(failures[0].message.starts_with(r#"outputFields[1] has no `key` ({"label":"B"})"#));
        assert!(failures[1].message.starts_with(r#"outputFields[2] has the key a string """#));
        assert!(failures[2].message.starts_with("outputFields[3] is a number 3"));
        assert!(failures[3].message.starts_with("outputFields[4] has the key a number 4"));
    }

    #[test]
    fn many_failures_of_a_check_are_counted_not_listed() {
        let items: Vec<Value> = (0..12).map(|i| json!({"n": i})).collect();
        let failures = run("triggers.poll.operation.perform", Value::Array(items));
        assert_eq!(failures.len(), LISTED_PER_CHECK + 1);
        assert!(failures.iter().all(|f| f.id == MISSING_PRIMARY_KEY));
        assert!(failures[4].message.starts_with("item 4 lacks"), "{}", failures[4].message);
        assert_eq!(failures[5].message, "and 7 more failures of this check (the first 5 are listed)");
    }

    #[test]
    fn quotes_are_cut_between_tokens_so_censoring_them_works() {
        // A long string is left out whole; the rest of the item is quoted.
        let item = json!({"pad": "p".repeat(QUOTE_STRING_CHARS + 1), "n": 1});
        assert_eq!(quote(&item), r#"{"pad":"…","n":1}"#);
        let short = "s".repeat(QUOTE_STRING_CHARS);
        assert_eq!(quote(&json!([short])), format!("[\"{short}\"]"));
        // Out of room: cut before the token that does not fit.
        let items: Vec<Value> = (0..100).map(|i| json!({"id": i})).collect();
        let quoted = quote(&Value::Array(items));
        assert!(quoted.starts_with(r#"[{"id":0},{"id":1},"#), "{quoted}");
        assert!(quoted.ends_with('…'), "{quoted}");
        assert!(quoted.chars().count() <= QUOTE_CHARS + 1, "{quoted}");
        let secret = "s3cr3t-key-value";
        let item = json!({"pad": "p".repeat(QUOTE_STRING_CHARS - 8), "more": "q".repeat(40), "token": secret});
        let quoted = quote(&item);
        assert!(quoted.contains(secret) || !quoted.contains("s3c"), "{quoted}");
        // A secret in a long string never shows in part.
        let failures = run("creates.add.operation.perform", json!([format!("{}{secret}", "x".repeat(60))]));
        assert_eq!(
            failures[0].message,
            r#"a create must return an object, got an array ["…"] (return the one item created, not a list)"#
        );
        // Keys are quoted whole, or not at all.
        assert_eq!(quote_key("r1"), r#""r1""#);
        assert_eq!(quote_key(&"k".repeat(QUOTE_KEY_CHARS + 1)), format!("\"…\" ({} characters)", QUOTE_KEY_CHARS + 1));
    }

    #[test]
    fn names_read_as_a_list() {
        assert_eq!(names(&["id"]), "`id`");
        assert_eq!(names(&["a", "b"]), "`a` and `b`");
        assert_eq!(names(&["a", "b", "c"]), "`a`, `b` and `c`");
    }

    #[test]
    fn a_methods_action_is_the_first_key_that_names_it_walked_or_looked_up() {
        fn walk<'d, 'p>(actions: &'d Map<String, Value>, rest: &'p str) -> Option<(&'d Value, OperationMethod<'p>)> {
            actions.iter().find_map(|(key, action)| Some((action, method_path::operation_method(rest, key)?)))
        }
        let paths = [
            "op_0.operation.perform",
            "op_39.operation.perform",
            "op_7.operation.inputFields.2",
            "op_7.operation.outputFields",
            "a.operation.b.operation.perform",
            "a.operation.perform",
            "a.operation.b",
            "op_40.operation.perform",
            "op_1.operation.",
            "op_1.perform",
            ".operation.perform",
            "op_1",
            "",
        ];
        for count in [1, WALKED_ACTIONS, WALKED_ACTIONS + 1, 40] {
            let mut actions = Map::new();
            actions.insert("a.operation.b".into(), json!({"key": "a.operation.b"}));
            for n in 0..count {
                actions.insert(format!("op_{n}"), json!({"key": n}));
            }
            actions.insert("a".into(), json!({"key": "a"}));
            for rest in paths {
                assert_eq!(named_action(&actions, rest), walk(&actions, rest), "{rest} among {count} actions");
            }
            let last = format!("op_{}.operation.perform", count - 1);
            assert_eq!(named_action(&actions, &last).map(|(action, _)| action), Some(&json!({"key": count - 1})));
        }
    }
}
