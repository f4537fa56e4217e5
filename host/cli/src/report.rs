//! How the command line reports: results on stdout, log lines and errors
//! on stderr, and one exit code per kind of error. Every command prints
//! through here, and whatever a guest or an API controls is printed through
//! [`safe`].

use std::borrow::Cow;
use std::process::ExitCode;

use serde_json::Value;
use zapwasm_host::{CallError, LogLine, Outcome, Status, ZError};

use crate::EXIT_USAGE;
use crate::args::InvokeArgs;

/// Text a guest, an API or a file controls, made safe to print on a
/// terminal: control characters (C0, DEL, C1) and the characters that
/// reorder or break lines (bidirectional overrides and isolates, line and
/// paragraph separators) are written as escapes (`\n`, `\r`, `\t`,
/// `\u001b`...). A newline cannot forge a line that looks like the host's
/// own, and an ANSI or OSC sequence cannot move the cursor, recolour,
/// retitle or clear the terminal. The escapes are JSON's, so JSON text
/// (whose strings serde already escapes below U+0020) stays valid.
pub(crate) fn safe(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Prints JSON on stdout, each line through [`safe`] (serde leaves DEL,
/// C1 controls and bidirectional overrides raw inside strings).
pub(crate) fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(json) => {
            let lines: Vec<Cow<'_, str>> = json.split('\n').map(safe).collect();
            println!("{}", lines.join("\n"));
        }
        Err(e) => eprintln!("zapwasm: cannot print JSON: {e}"),
    }
}

/// Prints a usage error; its exit code.
pub(crate) fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("zapwasm: {}", safe(&message.to_string()));
    ExitCode::from(EXIT_USAGE)
}

/// Prints a call's outcome (the result on stdout, its logs and error on
/// stderr, or all of it as JSON with --outcome); its exit code.
pub(crate) fn print_outcome(outcome: &Outcome, args: &InvokeArgs) -> ExitCode {
    if args.outcome {
        print_json(outcome);
    } else if !args.quiet {
        print_logs(&outcome.logs);
    }
    match &outcome.result {
        Ok(value) => {
            if !args.outcome {
                match value.value() {
                    Value::String(text) => println!("{}", safe(&text)),
                    value => print_json(&value),
                }
            }
            if let Some(auth_data) = &outcome.auth_data {
                let keys: Vec<&String> = auth_data.keys().collect();
                eprintln!(
                    "zapwasm: the credentials were refreshed; new authData fields: {}",
                    safe(&format!("{keys:?}"))
                );
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
                    eprintln!("zapwasm: result check {} failed: {}", safe(&failure.id), safe(&failure.message));
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
    eprintln!("zapwasm: {} error: {}", error.kind(), safe(&with_causes(error)));
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

pub(crate) use zapwasm_host::with_causes;

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
    eprintln!("[{level} {source}] {}", safe(&line.message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_control_the_terminal() {
        assert!(matches!(safe("plain text, é, 日本"), Cow::Borrowed(_)));
        assert_eq!(safe("a\nzapwasm: forged\r\tx"), "a\\nzapwasm: forged\\r\\tx");
        assert_eq!(safe("\u{1b}[2J\u{1b}]0;pwned\u{7}"), "\\u001b[2J\\u001b]0;pwned\\u0007");
        assert_eq!(safe("\u{9b}31m\u{7f}\u{202e}abc\u{2066}\u{2028}"), "\\u009b31m\\u007f\\u202eabc\\u2066\\u2028");
        // JSON stays JSON: the escapes are JSON's, and read back as the text.
        let text = "\u{9b}\u{7f}\u{202e}\n";
        let json = serde_json::to_string(text).unwrap();
        assert_eq!(serde_json::from_str::<String>(&safe(&json)).unwrap(), text);
    }

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
