//! The `zapwasm` command line, over the public API of `zapwasm-host` only.
//! The `zapwasm` binary and the end-to-end tests call [`main`].
//!
//! `args` parses and validates the command line,
//! `config` turns it into a bundle, a policy and a host, `dotenv` reads
//! `.env` files, `connect` runs `auth start|refresh`, `flows` drives the flows that span
//! calls (subscribe, deliver, resume, dedupe), `report` prints results,
//! logs and errors and picks exit codes, and `commands` runs what was asked, printing results on
//! stdout and logs on stderr.

mod args;
mod commands;
mod component;
mod config;
mod connect;
mod dotenv;
mod flows;
mod init;
mod inputs;
mod prompt;
#[cfg(test)]
use zapwasm_fuzzing as fuzzing;
mod report;
mod search_or_create;
mod settings;
mod testcmd;
mod validate;

use std::process::ExitCode;

use clap::Parser;

/// Exit code for a command line that cannot be run (bad flags, unreadable input).
const EXIT_USAGE: u8 = 2;
/// Exit code for a component that cannot be loaded.
const EXIT_LOAD: u8 = 3;
/// Exit code for an account that could not be connected (`auth start|refresh`).
const EXIT_CONNECT: u8 = 4;
/// Exit code for a flow's step that was refused: an unknown subscription
/// or callback, a trigger that cannot run the flow.
const EXIT_FLOW: u8 = 5;
/// Exit code for a definition with errors (`zapwasm validate`).
const EXIT_INVALID: u8 = 6;
/// Exit code for a crate that did not build (`zapwasm build`, or a
/// directory given to another command).
const EXIT_BUILD: u8 = 7;
/// Exit code for test cases that failed (`zapwasm test`).
const EXIT_TESTS_FAILED: u8 = 8;
/// Exit code for a failure of the state in `--state-dir` (as for a call's
/// [`zapwasm_host::CallError::State`]).
const EXIT_STATE: u8 = 33;

/// Run the command line of this process and return its exit code.
pub fn main() -> ExitCode {
    let args = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("zapwasm: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(commands::run(args))
}
