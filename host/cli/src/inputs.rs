//! `invoke` honours an operation's input fields: before a trigger, search
//! or create runs (directly, by `subscribe`, or polled with `--dedupe`),
//! its static and dynamic input fields are resolved and applied to
//! `--input` (`App::prepare_input`: defaults, types, required fields).

use std::process::ExitCode;

use zapwasm_host::{App, InputError, OperationKind};
use zapwasm_rules::method_path::{self, MethodPath, OperationMethod};

use crate::args::InvokeArgs;
use crate::config::{InvokeConfig, scope};
use crate::report::print_outcome;

/// Exit code for input the operation's fields refuse (as for a call's
/// `CallError::InvalidBundle`).
const EXIT_INVALID_INPUT: u8 = 21;

/// Applies the input fields of the operation the method words name, if
/// they name one; the exit code when the input is refused.
pub(crate) async fn prepare(app: &App, args: &InvokeArgs, config: &mut InvokeConfig) -> Result<(), ExitCode> {
    if args.no_input_fields {
        return Ok(());
    }
    let Some((kind, key)) = operation(app, &args.method) else { return Ok(()) };
    match app.prepare_input(kind, &key, &mut config.bundle, &scope(args)).await {
        Ok(()) => Ok(()),
        Err(InputError::Fields(problems)) => {
            for problem in &problems {
                eprintln!("zapwasm: invalid input: {problem}");
            }
            eprintln!("zapwasm: fix --input, or pass --no-input-fields to send it as it is");
            Err(ExitCode::from(EXIT_INVALID_INPUT))
        }
        Err(InputError::DynamicFields { method, outcome }) => {
            eprintln!("zapwasm: the dynamic input fields at {method} failed");
            Err(print_outcome(&outcome, args))
        }
        Err(other) => {
            eprintln!("zapwasm: {other}");
            Err(ExitCode::from(EXIT_INVALID_INPUT))
        }
    }
}

/// The operation whose input the words give: `trigger|search|create KEY`,
/// `subscribe KEY`, or a method path to one of its performs.
fn operation(app: &App, words: &[String]) -> Option<(OperationKind, String)> {
    let kind = |word: &str| match word {
        "trigger" | "triggers" | "subscribe" => Some(OperationKind::Trigger),
        "search" | "searches" => Some(OperationKind::Search),
        "create" | "creates" => Some(OperationKind::Create),
        _ => None,
    };
    match words {
        [word, key] => Some((kind(word)?, key.clone())),
        [path] => {
            let Some(MethodPath::Operation(kind, rest)) = MethodPath::split(path) else { return None };
            let definition = app.definition();
            let operations = definition.json().get(kind.plural())?.as_object()?;
            operations.keys().find_map(|key| match method_path::operation_method(rest, key)? {
                OperationMethod::Named(
                    method_path::PERFORM
                    | method_path::PERFORM_LIST
                    | method_path::PERFORM_SUBSCRIBE
                    | method_path::PERFORM_BUFFER,
                ) => Some((kind, key.clone())),
                _ => None,
            })
        }
        _ => None,
    }
}
