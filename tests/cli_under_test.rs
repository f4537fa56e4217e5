//! The `zapwasm` command line, for the end-to-end tests to run as a process.

fn main() -> std::process::ExitCode {
    zapwasm_host::cli::main()
}
