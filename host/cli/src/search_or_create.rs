//! `invoke COMPONENT search-or-create KEY`: the definition's
//! `searchOrCreates.KEY` run as the platform runs it. The search runs with
//! `--input` (through its input fields); when it finds nothing, the create
//! runs with the same input (through its own fields), `bundle.meta.withSearch`
//! set to the search's key. stdout says which ran:
//! `{"ran": "search"|"create", "search": KEY, "create": KEY, "result": ...}`,
//! the result being the first item found or what the create returned
//! (with `--outcome`, also `outcomes`: each call's as `invoke --outcome`
//! prints it). Credentials either call refreshed are written to the .env
//! file as `invoke` writes them, and the create runs with the search's.

use std::process::ExitCode;

use serde_json::{Map, Value, json};
use zapwasm_host::{App, InputError, Invocation, OperationKind, Outcome};

use crate::args::InvokeArgs;
use crate::config::{InvokeConfig, scope};
use crate::report::{outcome_json, print_json, print_logs, print_outcome, safe, save_refreshed, usage};

/// Exit code for a search whose result is not a list (as for a failed result check).
const EXIT_NOT_A_LIST: u8 = 16;
/// Exit code for input an operation's fields refuse (as `invoke` gives).
const EXIT_INVALID_INPUT: u8 = 21;

/// The step of the pair that gave the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// The search found something.
    Search,
    /// The search found nothing; the create ran.
    Create,
}

/// Runs `search-or-create KEY` when the method words are that; `None` otherwise.
pub(crate) async fn run(app: &App, args: &InvokeArgs, config: &InvokeConfig) -> Option<ExitCode> {
    let [word, key] = &args.method[..] else { return None };
    if word != "search-or-create" {
        return None;
    }
    Some(search_or_create(app, key, args, config).await)
}

/// The search and create a search-or-create pairs, by key.
fn pair(app: &App, key: &str) -> Result<(String, String), String> {
    let definition = app.definition();
    let Some(pairs) = definition.json().get("searchOrCreates").and_then(Value::as_object) else {
        return Err("this integration has no search-or-create (no `searchOrCreates` in its definition)".into());
    };
    let Some(entry) = pairs.get(key) else {
        let keys: Vec<&str> = pairs.keys().map(String::as_str).collect();
        return Err(format!("no search-or-create {key:?} in this integration; it has: {}", keys.join(", ")));
    };
    let part = |part: &str, kind: OperationKind| -> Result<String, String> {
        let name = entry
            .get(part)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("searchOrCreates.{key} has no `{part}`: `zapwasm validate` shows what to fix"))?;
        if definition.operation(kind, name).is_none() {
            return Err(format!(
                "searchOrCreates.{key}.{part} names {name:?}, which is not a {} of this integration: `zapwasm validate` shows what to fix",
                if kind == OperationKind::Search { "search" } else { "create" }
            ));
        }
        Ok(name.to_string())
    };
    Ok((part("search", OperationKind::Search)?, part("create", OperationKind::Create)?))
}

async fn search_or_create(app: &App, key: &str, args: &InvokeArgs, config: &InvokeConfig) -> ExitCode {
    let (search, create) = match pair(app, key) {
        Ok(pair) => pair,
        Err(message) => return usage(message),
    };
    let account = scope(args);

    let mut bundle = config.bundle.clone();
    if let Err(code) = prepare_operation(app, OperationKind::Search, &search, &mut bundle, args).await {
        return code;
    }
    let method = format!("searches.{search}.operation.perform");
    let searched = app.invoke(Invocation::new(method, bundle, account.clone())).await;
    let found = match &searched.result {
        Ok(result) if searched.checks.is_empty() => match first_found(&result.value()) {
            Ok(found) => found,
            Err(kind) => {
                if !args.quiet {
                    print_logs(&searched.logs);
                }
                if let Err(code) = save_refreshed(&searched, args) {
                    return code;
                }
                eprintln!(
                    "zapwasm: the search {} returned {kind}, not a list: it cannot say whether it found anything",
                    safe(&search)
                );
                return ExitCode::from(EXIT_NOT_A_LIST);
            }
        },
        // An error, or a result that breaks its checks: reported as `invoke search` would.
        _ => return print_outcome(&searched, args),
    };
    // Credentials the search refreshed are the account's now (and the create's).
    if let Err(code) = save_refreshed(&searched, args) {
        return code;
    }
    if let Some(found) = found {
        eprintln!("zapwasm: the search {} found a result; the create did not run", safe(&search));
        return report(Ran::Search, &search, &create, found, &[&searched], args);
    }

    eprintln!("zapwasm: the search {} found nothing; running the create {}", safe(&search), safe(&create));
    let mut bundle = config.bundle.clone();
    // Credentials the search refreshed are the ones the create uses.
    if let Some(auth_data) = &searched.auth_data {
        bundle.auth_data.extend(auth_data.clone());
    }
    bundle.meta.with_search = Some(search.clone());
    if !args.quiet && !args.outcome {
        print_logs(&searched.logs);
    }
    if let Err(code) = prepare_operation(app, OperationKind::Create, &create, &mut bundle, args).await {
        return code;
    }
    let method = format!("creates.{create}.operation.perform");
    let created = app.invoke(Invocation::new(method, bundle, account)).await;
    match &created.result {
        Ok(result) if created.checks.is_empty() => {
            if let Err(code) = save_refreshed(&created, args) {
                return code;
            }
            report(Ran::Create, &search, &create, result.value(), &[&searched, &created], args)
        }
        _ => print_outcome(&created, args),
    }
}

/// Applies the input fields of the search or the create to `bundle` (unless
/// `--no-input-fields`), as `invoke search|create KEY` does; the exit code
/// when the input is refused.
async fn prepare_operation(
    app: &App,
    kind: OperationKind,
    key: &str,
    bundle: &mut zapwasm_host::Bundle,
    args: &InvokeArgs,
) -> Result<(), ExitCode> {
    if args.no_input_fields {
        return Ok(());
    }
    match app.prepare_input(kind, key, bundle, &scope(args)).await {
        Ok(()) => Ok(()),
        Err(InputError::Fields(problems)) => {
            for problem in &problems {
                eprintln!("zapwasm: invalid input for {}: {}", safe(key), safe(&problem.to_string()));
            }
            eprintln!("zapwasm: fix --input, or pass --no-input-fields to send it as it is");
            Err(ExitCode::from(EXIT_INVALID_INPUT))
        }
        Err(InputError::DynamicFields { method, outcome }) => {
            eprintln!("zapwasm: the dynamic input fields at {} failed", safe(&method));
            Err(print_outcome(&outcome, args))
        }
        Err(other) => {
            eprintln!("zapwasm: {}", safe(&other.to_string()));
            Err(ExitCode::from(EXIT_INVALID_INPUT))
        }
    }
}

/// The first item a search's result holds (an array, or `{"results": [...]}`
/// when it pages); the result's JSON type when it is neither.
fn first_found(result: &Value) -> Result<Option<Value>, &'static str> {
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

/// Prints which step ran and its result (with `--outcome`, every call's
/// outcome too); the logs of the last call unless `--quiet`.
fn report(ran: Ran, search: &str, create: &str, result: Value, outcomes: &[&Outcome], args: &InvokeArgs) -> ExitCode {
    let last = outcomes.last().copied();
    if !args.quiet
        && !args.outcome
        && let Some(last) = last
    {
        print_logs(&last.logs);
    }
    let mut out = Map::new();
    out.insert("ran".into(), json!(if ran == Ran::Search { "search" } else { "create" }));
    out.insert("search".into(), json!(search));
    out.insert("create".into(), json!(create));
    out.insert("result".into(), result);
    if args.outcome {
        out.insert("outcomes".into(), outcomes.iter().copied().map(outcome_json).collect());
    }
    print_json(&Value::Object(out));
    ExitCode::SUCCESS
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
