//! A search-or-create (`searchOrCreates.KEY`) run as the platform runs it:
//! the search, with the input through its input fields; when it finds
//! nothing, the create with the same input (through its own fields),
//! `bundle.meta.withSearch` set to the search's key and the credentials the
//! search refreshed. The rules are here once, for `zapwasm invoke ...
//! search-or-create KEY` (which reports each step as it goes) and for a
//! `zapwasm test` case whose method is `search-or-create KEY` ([`run`]).
//!
//! Both report the same JSON ([`report`]): `{"ran": "search"|"create",
//! "search": KEY, "create": KEY, "result": ...}`, the result being the
//! first item found or what the create returned.

use serde_json::{Map, Value, json};
use zapwasm_host::{App, Bundle, InputError, Invocation, Json, OperationKind, Outcome, Scope};

/// The step of the pair that gave the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// The search found something.
    Search,
    /// The search found nothing; the create ran.
    Create,
}

/// The search and the create a search-or-create pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The search's key.
    pub search: String,
    /// The create's key.
    pub create: String,
}

impl Pair {
    /// The pair `searchOrCreates.KEY` of `app` names; the error says what
    /// is missing (and the keys there are, for a key that is not one).
    pub fn of(app: &App, key: &str) -> Result<Pair, String> {
        let definition = app.definition();
        let Some(pairs) = definition.json().get("searchOrCreates").and_then(Value::as_object) else {
            return Err("this integration has no search-or-create (no `searchOrCreates` in its definition)".into());
        };
        let Some(entry) = pairs.get(key) else {
            let keys: Vec<&str> = pairs.keys().map(String::as_str).collect();
            return Err(format!("no search-or-create {key:?} in this integration; it has: {}", keys.join(", ")));
        };
        let part = |part: &str, kind: OperationKind| -> Result<String, String> {
            let name = entry.get(part).and_then(Value::as_str).ok_or_else(|| {
                format!("searchOrCreates.{key} has no `{part}`: `zapwasm validate` shows what to fix")
            })?;
            if definition.operation(kind, name).is_none() {
                return Err(format!(
                    "searchOrCreates.{key}.{part} names {name:?}, which is not a {} of this integration: `zapwasm validate` shows what to fix",
                    if kind == OperationKind::Search { "search" } else { "create" }
                ));
            }
            Ok(name.to_string())
        };
        Ok(Pair { search: part("search", OperationKind::Search)?, create: part("create", OperationKind::Create)? })
    }

    /// The search's method path.
    pub fn search_method(&self) -> String {
        format!("searches.{}.operation.perform", self.search)
    }

    /// The create's method path.
    pub fn create_method(&self) -> String {
        format!("creates.{}.operation.perform", self.create)
    }

    /// The create's bundle: `bundle` (as given, before the search's input
    /// fields), with the credentials the search refreshed and
    /// `meta.withSearch`.
    pub fn create_bundle(&self, bundle: &Bundle, searched: &Outcome) -> Bundle {
        let mut bundle = bundle.clone();
        if let Some(auth_data) = &searched.auth_data {
            bundle.auth_data.extend(auth_data.clone());
        }
        bundle.meta.with_search = Some(self.search.clone());
        bundle
    }
}

/// The first item a search's result holds (an array, or `{"results": [...]}`
/// when it pages); the result's JSON type when it is neither.
pub fn first_found(result: &Value) -> Result<Option<Value>, &'static str> {
    let items = match result {
        Value::Array(items) => items,
        Value::Object(object) => match object.get("results") {
            Some(Value::Array(items)) => items,
            _ => return Err("an object without a `results` array"),
        },
        Value::Null => return Err("null"),
        Value::Bool(_) => return Err("a boolean"),
        Value::Number(_) => return Err("a number"),
        Value::String(_) => return Err("a string"),
    };
    Ok(items.first().cloned())
}

/// The message for a search whose result is not a list.
pub fn not_a_list(search: &str, kind: &str) -> String {
    format!("the search {search} returned {kind}, not a list: it cannot say whether it found anything")
}

/// What a search-or-create reports: which step ran, the pair, and the result.
pub fn report(ran: Ran, pair: &Pair, result: Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("ran".into(), json!(if ran == Ran::Search { "search" } else { "create" }));
    out.insert("search".into(), json!(pair.search));
    out.insert("create".into(), json!(pair.create));
    out.insert("result".into(), result);
    out
}

/// Why [`run`] stopped before a call could give the answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stopped {
    /// The pair or the input is wrong, or the search's result is not a list.
    Invalid(String),
    /// A call failed or broke its result checks (the search's, or the
    /// dynamic input fields'), or the create did: its outcome as it is.
    Call(Box<Outcome>),
}

/// Runs `searchOrCreates.KEY` with `bundle` (through the input fields when
/// `input_fields`): the outcome of the call that gave the answer, its
/// result replaced by [`report`]'s JSON when it succeeded and passed its
/// checks; or why it stopped.
pub async fn run(app: &App, key: &str, bundle: &Bundle, scope: &Scope, input_fields: bool) -> Result<Outcome, Stopped> {
    let pair = Pair::of(app, key).map_err(Stopped::Invalid)?;
    let mut searching = bundle.clone();
    prepare(app, OperationKind::Search, &pair.search, &mut searching, scope, input_fields).await?;
    let searched = app.invoke(Invocation::new(pair.search_method(), searching, scope.clone())).await;
    let found = match &searched.result {
        Ok(result) if searched.checks.is_empty() => {
            first_found(&result.value()).map_err(|kind| Stopped::Invalid(not_a_list(&pair.search, kind)))?
        }
        _ => return Err(Stopped::Call(Box::new(searched))),
    };
    if let Some(found) = found {
        return Ok(reported(searched, Ran::Search, &pair, found));
    }
    let mut creating = pair.create_bundle(bundle, &searched);
    prepare(app, OperationKind::Create, &pair.create, &mut creating, scope, input_fields).await?;
    let created = app.invoke(Invocation::new(pair.create_method(), creating, scope.clone())).await;
    match &created.result {
        Ok(result) if created.checks.is_empty() => {
            let result = result.value();
            Ok(reported(created, Ran::Create, &pair, result))
        }
        _ => Err(Stopped::Call(Box::new(created))),
    }
}

/// The operation's input fields applied to `bundle`, when asked.
async fn prepare(
    app: &App,
    kind: OperationKind,
    key: &str,
    bundle: &mut Bundle,
    scope: &Scope,
    input_fields: bool,
) -> Result<(), Stopped> {
    if !input_fields {
        return Ok(());
    }
    match app.prepare_input(kind, key, bundle, scope).await {
        Ok(()) => Ok(()),
        Err(InputError::DynamicFields { outcome, .. }) => Err(Stopped::Call(outcome)),
        Err(other) => Err(Stopped::Invalid(format!("invalid input for {key}: {other}"))),
    }
}

/// `outcome` with its result replaced by the report.
fn reported(mut outcome: Outcome, ran: Ran, pair: &Pair, result: Value) -> Outcome {
    let text = Value::Object(report(ran, pair, result)).to_string();
    if let Ok(json) = Json::from_text(text) {
        outcome.result = Ok(json);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_result_is_a_list_or_a_page_of_results() {
        assert_eq!(first_found(&json!([{"id": 1}, {"id": 2}])), Ok(Some(json!({"id": 1}))));
        assert_eq!(first_found(&json!([])), Ok(None));
        assert_eq!(first_found(&json!({"results": [{"id": 3}], "paging_token": "x"})), Ok(Some(json!({"id": 3}))));
        assert_eq!(first_found(&json!({"results": []})), Ok(None));
        assert_eq!(first_found(&json!({"id": 1})), Err("an object without a `results` array"));
        assert_eq!(first_found(&json!(null)), Err("null"));
        assert_eq!(first_found(&json!("found")), Err("a string"));
    }
}
