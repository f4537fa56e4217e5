//! The `zapwasm` command line, built in the benchmark's package so the
//! cold-start scenario can run it as a process (cargo exposes only a
//! package's own binaries to its benches).

fn main() -> std::process::ExitCode {
    zapwasm_cli::main()
}
