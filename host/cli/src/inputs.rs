//! `invoke` honours an operation's input fields: before a trigger, search
//! or create runs (directly, by `subscribe`, or polled with `--dedupe`),
//! its static and dynamic input fields are resolved (`App::input_fields`),
//! the missing required ones asked for with `--prompt` (`prompt`), and
//! applied to `--input` (`apply_input_fields`: defaults, types, required
//! fields), as `App::prepare_input` does.

use std::process::ExitCode;

use zapwasm_host::{App, InputError, OperationKind, apply_input_fields};
use zapwasm_rules::method_path::{self, MethodPath, OperationMethod};

use crate::EXIT_USAGE;
use crate::args::InvokeArgs;
use crate::config::{InvokeConfig, scope};
use crate::report::{print_outcome, safe};

/// Exit code for input the operation's fields refuse (as for a call's
/// `CallError::InvalidBundle`).
const EXIT_INVALID_INPUT: u8 = 21;

/// Applies the input fields of the operation the method words name, if
/// they name one (asking for the missing required ones first with
/// --prompt); the exit code when the input is refused.
pub(crate) async fn prepare(app: &App, args: &InvokeArgs, config: &mut InvokeConfig) -> Result<(), ExitCode> {
    if args.no_input_fields {
        return Ok(());
    }
    let Some((kind, key)) = operation(app, &args.method) else {
        if args.prompt {
            eprintln!("zapwasm: --prompt asks for an operation's input fields: name one (`create KEY`, ...)");
            return Err(ExitCode::from(EXIT_USAGE));
        }
        return Ok(());
    };
    let bundle = &mut config.bundle;
    let fields = match app.input_fields(kind, &key, bundle, &scope(args)).await {
        Ok(fields) => fields,
        Err(error) => return Err(refused(error, args)),
    };
    if args.prompt {
        crate::prompt::ask(app, args, &fields, bundle).await?;
    }
    // As `App::prepare_input` does: inputDataRaw keeps what was given.
    if bundle.input_data_raw.is_empty() {
        bundle.input_data_raw = bundle.input_data.clone();
    }
    let problems = apply_input_fields(&fields, &mut bundle.input_data);
    if problems.is_empty() { Ok(()) } else { Err(refused(InputError::Fields(problems), args)) }
}

/// Reports input that was refused; its exit code.
fn refused(error: InputError, args: &InvokeArgs) -> ExitCode {
    match error {
        InputError::Fields(problems) => {
            for problem in &problems {
                eprintln!("zapwasm: invalid input: {}", safe(&problem.to_string()));
            }
            eprintln!("zapwasm: fix --input, or pass --no-input-fields to send it as it is");
            ExitCode::from(EXIT_INVALID_INPUT)
        }
        InputError::DynamicFields { method, outcome } => {
            eprintln!("zapwasm: the dynamic input fields at {} failed", safe(&method));
            print_outcome(&outcome, args)
        }
        other => {
            eprintln!("zapwasm: {}", safe(&other.to_string()));
            ExitCode::from(EXIT_INVALID_INPUT)
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
