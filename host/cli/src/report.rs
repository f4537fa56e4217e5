//! How the command line reports: results on stdout, log lines and errors
//! on stderr, and one exit code per kind of error. Every command prints
//! through here, and whatever a guest or an API controls is printed through
//! [`safe`].

use std::borrow::Cow;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use zapwasm_host::{CallError, LogLine, Outcome, Status, ZError};

use crate::args::InvokeArgs;
use crate::{EXIT_CONNECT, EXIT_USAGE, dotenv};

/// Set once stdout is gone (its reader closed the pipe, as `head` does):
/// nothing more is written to it, and the command ends as it would have,
/// without a panic or an error message.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes text to stdout as it is. When the reader has closed the pipe
/// (`zapwasm describe app.wasm | head -1`) the rest is dropped quietly;
/// any other failure is reported once on stderr.
pub(crate) fn write_stdout(text: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("zapwasm: cannot write to stdout: {e}");
        }
    }
}

/// Writes one line to stdout ([`write_stdout`]).
pub(crate) fn out(line: impl std::fmt::Display) {
    write_stdout(&format!("{line}\n"));
}

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
            out(lines.join("\n"));
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
/// stderr, or all of it as JSON with --outcome, [`outcome_json`]); its
/// exit code. Credentials the host refreshed during the call are written
/// to the .env file first ([`save_refreshed`]).
pub(crate) fn print_outcome(outcome: &Outcome, args: &InvokeArgs) -> ExitCode {
    if args.outcome {
        print_json(&outcome_json(outcome));
    } else if !args.quiet {
        print_logs(&outcome.logs);
    }
    let saved = save_refreshed(outcome, args);
    match &outcome.result {
        Ok(value) => {
            if !args.outcome {
                match value.value() {
                    Value::String(text) => out(safe(&text)),
                    value => print_json(&value),
                }
            }
            if let Err(code) = saved {
                return code;
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

/// A call's outcome as `--outcome` prints it: [`Outcome::to_json`] (the
/// shape the service answers with too), and `auth_data_refreshed`, the
/// names of the authData fields the host refreshed (their values go to the
/// .env file, never to the output).
pub(crate) fn outcome_json(outcome: &Outcome) -> Value {
    let mut body = outcome.to_json();
    if let Some(auth_data) = &outcome.auth_data {
        body.insert("auth_data_refreshed".into(), auth_data.keys().cloned().collect::<Vec<_>>().into());
    }
    Value::Object(body)
}

/// The name a serde enum is written as (`info`, `guest`, ...).
fn name_of(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The .env file `invoke` reads and writes: --env-file, else `.env`.
pub(crate) fn env_file(args: &InvokeArgs) -> PathBuf {
    args.env_file.clone().unwrap_or_else(|| PathBuf::from(".env"))
}

/// Credentials the host refreshed during a call (a stale session
/// exchanged again, an OAuth 2 token refreshed) are written to the .env
/// file as `auth refresh` writes them, its other lines kept: an OAuth
/// provider may have retired the old refresh token already. stderr names
/// the fields, never their values. The exit code when the file cannot be
/// written.
pub(crate) fn save_refreshed(outcome: &Outcome, args: &InvokeArgs) -> Result<(), ExitCode> {
    let Some(auth_data) = &outcome.auth_data else { return Ok(()) };
    let path = env_file(args);
    let keys: Vec<&str> = auth_data.keys().map(String::as_str).collect();
    match dotenv::write_auth_data(&path, auth_data) {
        Ok(()) => {
            eprintln!(
                "zapwasm: the credentials were refreshed during the call; wrote the new authData ({}) to {}",
                safe(&keys.join(", ")),
                path.display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "zapwasm: the credentials were refreshed during the call, but {} cannot be written ({e}): \
                 the new authData ({}) is lost; run `auth refresh` or `auth start` again",
                path.display(),
                safe(&keys.join(", "))
            );
            Err(ExitCode::from(EXIT_CONNECT))
        }
    }
}

/// Prints a call's error on stderr; its exit code.
pub(crate) fn print_error(error: &CallError) -> ExitCode {
    eprintln!("zapwasm: {} error: {}", error.kind(), safe(&with_causes(error)));
    ExitCode::from(exit_code(error))
}

/// The exit code of a method the integration does not have (a call's
/// `no_such_method`, or a short form naming no operation).
pub(crate) const EXIT_NO_SUCH_METHOD: u8 = 20;

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
        CallError::NoSuchMethod { .. } => EXIT_NO_SUCH_METHOD,
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
    eprintln!("[{} {}] {}", name_of(&line.level), name_of(&line.source), safe(&line.message));
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
            ZError::Response {
                status: 500,
                headers: vec![],
                content: None,
                url: "https://api.test/".into(),
                message: "x".into(),
            }
            .into(),
            ZError::Check { failures: vec![] }.into(),
            CallError::Trap { message: "x".into() },
            CallError::Limit { limit: zapwasm_host::LimitKind::Result, value: "x".into() },
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
