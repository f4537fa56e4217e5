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
//! The rules of the pair are `zapwasm_testing::search_or_create`'s, which
//! `zapwasm test` runs too; this module reports each step as it goes.

use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{App, InputError, Invocation, OperationKind, Outcome};
use zapwasm_testing::search_or_create::{Pair, Ran, first_found, not_a_list};

use crate::args::InvokeArgs;
use crate::config::{InvokeConfig, scope};
use crate::report::{outcome_json, print_json, print_logs, print_outcome, safe, save_refreshed, usage};

/// Exit code for a search whose result is not a list (as for a failed result check).
const EXIT_NOT_A_LIST: u8 = 16;
/// Exit code for input an operation's fields refuse (as `invoke` gives).
const EXIT_INVALID_INPUT: u8 = 21;

/// Runs `search-or-create KEY` when the method words are that; `None` otherwise.
pub(crate) async fn run(app: &App, args: &InvokeArgs, config: &InvokeConfig) -> Option<ExitCode> {
    let [word, key] = &args.method[..] else { return None };
    if word != "search-or-create" {
        return None;
    }
    Some(search_or_create(app, key, args, config).await)
}

async fn search_or_create(app: &App, key: &str, args: &InvokeArgs, config: &InvokeConfig) -> ExitCode {
    let pair = match Pair::of(app, key) {
        Ok(pair) => pair,
        Err(message) => return usage(message),
    };
    let (search, create) = (&pair.search, &pair.create);
    let account = scope(args);

    let mut bundle = config.bundle.clone();
    if let Err(code) = prepare_operation(app, OperationKind::Search, search, &mut bundle, args).await {
        return code;
    }
    let searched = app.invoke(Invocation::new(pair.search_method(), bundle, account.clone())).await;
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
                eprintln!("zapwasm: {}", safe(&not_a_list(search, kind)));
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
        eprintln!("zapwasm: the search {} found a result; the create did not run", safe(search));
        return report(Ran::Search, &pair, found, &[&searched], args);
    }

    eprintln!("zapwasm: the search {} found nothing; running the create {}", safe(search), safe(create));
    // Credentials the search refreshed are the ones the create uses.
    let mut bundle = pair.create_bundle(&config.bundle, &searched);
    if !args.quiet && !args.outcome {
        print_logs(&searched.logs);
    }
    if let Err(code) = prepare_operation(app, OperationKind::Create, create, &mut bundle, args).await {
        return code;
    }
    let created = app.invoke(Invocation::new(pair.create_method(), bundle, account)).await;
    match &created.result {
        Ok(result) if created.checks.is_empty() => {
            if let Err(code) = save_refreshed(&created, args) {
                return code;
            }
            report(Ran::Create, &pair, result.value(), &[&searched, &created], args)
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

/// Prints which step ran and its result (with `--outcome`, every call's
/// outcome too); the logs of the last call unless `--quiet`.
fn report(ran: Ran, pair: &Pair, result: Value, outcomes: &[&Outcome], args: &InvokeArgs) -> ExitCode {
    let last = outcomes.last().copied();
    if !args.quiet
        && !args.outcome
        && let Some(last) = last
    {
        print_logs(&last.logs);
    }
    let mut out = zapwasm_testing::search_or_create::report(ran, pair, result);
    if args.outcome {
        out.insert("outcomes".into(), outcomes.iter().copied().map(outcome_json).collect());
    }
    print_json(&Value::Object(out));
    ExitCode::SUCCESS
}
