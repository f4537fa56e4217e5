//! `zapwasm invoke` and `zapwasm describe`, run as a process.

use std::process::{Command, Output};

use serde_json::Value;
use zapwasm_tests::{CRM, FIXTURE, crm_api, shared_dir};

const ZAPWASM: &str = env!("CARGO_BIN_EXE_zapwasm-under-test");

fn zapwasm(args: &[&str], dir: &std::path::Path) -> Output {
    let cache = shared_dir("cli-cache");
    Command::new(ZAPWASM).args(args).arg("--cache-dir").arg(cache).current_dir(dir).output().expect("the CLI runs")
}

#[tokio::test]
async fn invoke_reads_the_env_file_and_prints_json() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("authData_api_key=demo-key\nCRM_BASE_URL={}\n", api.base_url))
        .unwrap();
    let base = api.base_url.clone();
    let path = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        zapwasm(
            &[
                "invoke",
                CRM,
                "search",
                "find_contact",
                "--input",
                r#"{"email":"contact5@example.test"}"#,
                "--allow-loopback",
            ],
            &path,
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(result[0]["id"], 5);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("200 GET {base}/contacts/search?email=contact5%40example.test")), "{stderr}");
    assert!(!stderr.contains("demo-key"), "the API key must be censored: {stderr}");
}

#[tokio::test]
async fn each_error_kind_has_its_exit_code_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, code) in [("general", 10), ("halted", 11), ("expired_auth", 12), ("refresh_auth", 13), ("throttled", 14)]
    {
        let input = format!(r#"{{"kind":"{kind}"}}"#);
        let output = zapwasm(&["invoke", FIXTURE, "trigger", "errors", "--input", &input, "-q"], dir.path());
        assert_eq!(output.status.code(), Some(code), "{kind}: {}", String::from_utf8_lossy(&output.stderr));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(&format!("zapwasm: {kind} error: ")), "{stderr}");
    }
}

#[tokio::test]
async fn bad_input_is_a_usage_error_and_a_bad_file_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["invoke", FIXTURE, "trigger", "echo", "--input", "{not json"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--input: not valid JSON"));

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let output = zapwasm(&["invoke", junk.to_str().unwrap(), "trigger", "echo"], dir.path());
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a WebAssembly component"));
}

#[tokio::test]
async fn describe_lists_the_operations() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["describe", CRM], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "authentication: custom (fields: api_key)",
        "new_contact [polling]",
        "contact_created_hook [hook]",
        "find_contact",
        "export_contact",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn a_denied_request_is_explained_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = r#"{"url":"http://127.0.0.1:9/secret"}"#;
    let output = zapwasm(&["invoke", FIXTURE, "trigger", "fetch", "--input", input, "-q", "--allow-http"], dir.path());
    assert_eq!(output.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for part in ["denied by the egress policy", "loopback", "--allow-loopback"] {
        assert!(stderr.contains(part), "missing {part:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_result_keeps_the_key_order_the_integration_gave() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["invoke", FIXTURE, "trigger", "echo", "--env", "GREETING=hi", "-q"], dir.path());
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Map<String, Value> =
        serde_json::from_slice::<Vec<_>>(&output.stdout).expect("a JSON array on stdout").remove(0);
    let keys: Vec<&str> = result.keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "bundle", "env_greeting", "env_path"], "as the fixture inserted them, not sorted");
}
