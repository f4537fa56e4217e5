//! The `zapwasm` command: run, inspect and test integrations locally.

fn main() -> std::process::ExitCode {
    zapwasm_host::cli::main()
}
