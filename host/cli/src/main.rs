//! The `zapwasm` command: run, inspect and connect integrations locally.

fn main() -> std::process::ExitCode {
    zapwasm_cli::main()
}
