//! The `zapwasm` command line, built in the test package so the end-to-end
//! tests can run it as a process.

fn main() -> std::process::ExitCode {
    zapwasm_cli::main()
}
