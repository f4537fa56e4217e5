//! The `zapwasm` command line, over the public API of `zapwasm-host` only.
//! The `zapwasm` binary and the end-to-end tests call [`main`].
//!
//! `args` parses and validates the command line,
//! `config` turns it into a bundle, a policy and a host, `dotenv` reads
//! `.env` files, `connect` runs `auth start|refresh`, and `commands` runs what was asked, printing results on
//! stdout and logs on stderr.

mod args;
mod commands;
mod config;
mod connect;
mod dotenv;

use std::process::ExitCode;

use clap::Parser;

/// Exit code for a command line that cannot be run (bad flags, unreadable input).
const EXIT_USAGE: u8 = 2;
/// Exit code for a component that cannot be loaded.
const EXIT_LOAD: u8 = 3;
/// Exit code for an account that could not be connected (`auth start|refresh`).
const EXIT_CONNECT: u8 = 4;

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
