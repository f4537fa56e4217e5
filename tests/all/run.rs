//! Running the CLI under test: one way for every test module, with the
//! shared compiled-component cache and the guests' target directory.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use zapwasm_tests::shared_dir;

use crate::validate::guest_target;

pub(crate) const ZAPWASM: &str = env!("CARGO_BIN_EXE_zapwasm-under-test");

/// The CLI with `args` in `dir`: the shared cache (but for `init`, which
/// takes no cache), the guests' target directory (for what it builds),
/// stdin empty.
pub(crate) fn command<S: AsRef<str>>(args: &[S], dir: &Path) -> Command {
    let mut command = Command::new(ZAPWASM);
    command.args(args.iter().map(AsRef::as_ref));
    if args.first().map(AsRef::as_ref) != Some("init") {
        command.arg("--cache-dir").arg(shared_dir("cli-cache"));
    }
    command.env("CARGO_TARGET_DIR", guest_target()).current_dir(dir).stdin(Stdio::null());
    command
}

/// Runs the CLI in `dir` and waits for it.
pub(crate) fn zapwasm<S: AsRef<str>>(args: &[S], dir: &Path) -> Output {
    command(args, dir).output().expect("the CLI runs")
}

/// Runs the CLI on the blocking pool (a server the CLI calls may run on
/// this test's runtime). The command is made at once: the future borrows
/// nothing.
pub(crate) fn zapwasm_in<S: AsRef<str>>(dir: &Path, args: &[S]) -> impl Future<Output = Output> + use<S> {
    let mut command = command(args, dir);
    async move { tokio::task::spawn_blocking(move || command.output().expect("the CLI runs")).await.unwrap() }
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON a successful run printed.
pub(crate) fn stdout_json(output: &Output) -> Value {
    assert!(output.status.success(), "exit {:?}, stderr: {}", output.status.code(), stderr(output));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// The CRM's .env in a fresh directory.
pub(crate) fn crm_dir(api: &crm_api::RunningApi) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("authData_api_key=demo-key\nCRM_BASE_URL={}\n", api.base_url))
        .unwrap();
    dir
}
