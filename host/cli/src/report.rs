//! How the command line reports: results on stdout, log lines and errors
//! on stderr, and one exit code per kind of error. Every command prints
//! through here.

use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{CallError, LogLine, Outcome, Status, ZError};

use crate::EXIT_USAGE;
use crate::args::InvokeArgs;

/// Prints a usage error; its exit code.
pub(crate) fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("zapwasm: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints a call's outcome (the result on stdout, its logs and error on
/// stderr, or all of it as JSON with --outcome); its exit code.
pub(crate) fn print_outcome(outcome: &Outcome, args: &InvokeArgs) -> ExitCode {
    if args.outcome {
        match serde_json::to_string_pretty(outcome) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("zapwasm: cannot print the outcome: {e}"),
        }
    } else if !args.quiet {
        print_logs(&outcome.logs);
    }
    match &outcome.result {
        Ok(value) => {
            if !args.outcome {
                match value.value() {
                    Value::String(text) => println!("{text}"),
                    value => println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
                }
            }
            if let Some(auth_data) = &outcome.auth_data {
                let keys: Vec<&String> = auth_data.keys().collect();
                eprintln!("zapwasm: the credentials were refreshed; new authData fields: {keys:?}");
            }
            if outcome.status == Status::Callback
                && let Some(url) = &outcome.callback_url
            {
                eprintln!(
                    "zapwasm: the call is waiting for a callback at {url}; resume it with `zapwasm invoke COMPONENT resume {}`",
                    url.rsplit('/').next().unwrap_or_default()
                );
            }
            // The result stands, but it breaks a result check: locally that
            // is an error, with the check failure's own exit code.
            if !outcome.checks.is_empty() {
                for failure in &outcome.checks {
                    eprintln!("zapwasm: result check {} failed: {}", failure.id, failure.message);
                }
                return ExitCode::from(exit_code(&ZError::Check { failures: outcome.checks.clone() }.into()));
            }
            ExitCode::SUCCESS
        }
        Err(error) => print_error(error),
    }
}

/// Prints a call's error on stderr; its exit code.
pub(crate) fn print_error(error: &CallError) -> ExitCode {
    eprintln!("zapwasm: {} error: {}", error.kind(), with_causes(error));
    ExitCode::from(exit_code(error))
}

/// The exit code of a failed call: one per kind of error, so scripts can
/// branch without reading stderr (`zapwasm invoke --help` lists them).
pub(crate) fn exit_code(error: &CallError) -> u8 {
    match error {
        CallError::Integration { error } => match error {
            ZError::General { .. } => 10,
            ZError::Halted { .. } => 11,
            ZError::ExpiredAuth { .. } => 12,
            ZError::RefreshAuth { .. } => 13,
            ZError::Throttled { .. } => 14,
            ZError::Response { .. } => 15,
            ZError::Check { .. } => 16,
            _ => 19,
        },
        CallError::NoSuchMethod { .. } => 20,
        CallError::InvalidBundle { .. } => 21,
        CallError::Trap { .. } => 30,
        CallError::Limit { .. } => 31,
        CallError::Instantiate { .. } => 32,
        CallError::State { .. } => 33,
        _ => 39,
    }
}

/// An error's message followed by each of its causes.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// Prints a call's log lines on stderr.
pub(crate) fn print_logs(lines: &[LogLine]) {
    for line in lines {
        print_log(line);
    }
}

fn print_log(line: &LogLine) {
    let level = serde_json::to_value(line.level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let source =
        serde_json::to_value(line.source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    eprintln!("[{level} {source}] {}", line.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_error_has_its_own_exit_code() {
        let errors = [
            CallError::from(ZError::general("x")),
            ZError::Halted { message: "x".into() }.into(),
            ZError::ExpiredAuth { message: "x".into() }.into(),
            ZError::RefreshAuth { message: "x".into() }.into(),
            ZError::Throttled { message: "x".into(), delay_seconds: None }.into(),
            ZError::Check { failures: vec![] }.into(),
            CallError::Trap { message: "x".into() },
            CallError::NoSuchMethod { path: "x".into(), available: vec![] },
            CallError::InvalidBundle { message: "x".into() },
            CallError::Instantiate { message: "x".into() },
            CallError::State { message: "x".into() },
        ];
        let mut codes: Vec<u8> = errors.iter().map(exit_code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(codes.iter().all(|&code| code >= 10), "0-9 are the command line's own codes");
    }
}
