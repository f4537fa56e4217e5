//! `zapwasm invoke` and `zapwasm describe`, run as a process.

use serde_json::Value;
use zapwasm_tests::{CRM, FIXTURE, crm_api};

use crate::run::{crm_dir, stdout_json, zapwasm, zapwasm_in};

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

#[tokio::test]
async fn a_cursor_set_by_one_run_is_read_by_the_next_unless_state_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let set =
        zapwasm_in(dir.path(), &["invoke", FIXTURE, "trigger", "cursor", "--input", r#"{"value":"page-2"}"#, "-q"]);
    assert_eq!(stdout_json(&set.await)[0]["previous"], Value::Null);
    assert!(dir.path().join(".zapwasm/state.sqlite3").exists(), "the default state directory");
    let read = zapwasm_in(dir.path(), &["invoke", FIXTURE, "trigger", "cursor", "--input", "{}", "-q"]).await;
    assert_eq!(stdout_json(&read)[0]["previous"], "page-2");

    let elsewhere = tempfile::tempdir().unwrap();
    let args = ["invoke", FIXTURE, "trigger", "cursor", "--input", r#"{"value":"x"}"#, "-q", "--no-state"];
    stdout_json(&zapwasm_in(elsewhere.path(), &args).await);
    let again = zapwasm_in(elsewhere.path(), &args).await;
    assert_eq!(stdout_json(&again)[0]["previous"], Value::Null, "--no-state kept the cursor");
    assert!(!elsewhere.path().join(".zapwasm").exists(), "--no-state wrote a state directory");
}

#[tokio::test]
async fn dedupe_seeds_the_first_run_and_then_prints_only_new_items() {
    let api = crm_api().await;
    let dir = crm_dir(&api);
    let poll = ["invoke", CRM, "trigger", "new_contact", "--dedupe", "--allow-loopback", "-q"];
    let first = zapwasm_in(dir.path(), &poll).await;
    assert_eq!(stdout_json(&first), serde_json::json!([]));
    assert!(String::from_utf8_lossy(&first.stderr).contains("started local subscription"));
    let create = [
        "invoke",
        CRM,
        "create",
        "create_contact",
        "--input",
        r#"{"email":"dedupe@cli.test"}"#,
        "--allow-loopback",
        "-q",
    ];
    stdout_json(&zapwasm_in(dir.path(), &create).await);
    let second = stdout_json(&zapwasm_in(dir.path(), &poll).await);
    let emails: Vec<&str> = second.as_array().unwrap().iter().filter_map(|c| c["email"].as_str()).collect();
    assert_eq!(emails, ["dedupe@cli.test"]);
    assert_eq!(stdout_json(&zapwasm_in(dir.path(), &poll).await), serde_json::json!([]));
}

#[tokio::test]
async fn a_hook_is_subscribed_delivered_from_a_file_and_unsubscribed_by_hand() {
    let api = crm_api().await;
    let dir = crm_dir(&api);
    let run = |args: &[&str]| {
        let mut all = vec!["invoke", CRM];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--allow-loopback", "-q", "--hook-base-url", "http://127.0.0.1:9/hooks"]);
        let all: Vec<String> = all.into_iter().map(str::to_string).collect();
        let dir = dir.path().to_path_buf();
        async move { zapwasm_in(&dir, &all.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let subscribed = stdout_json(&run(&["subscribe", "contact_created_hook"]).await);
    let id = subscribed["id"].as_str().unwrap().to_string();
    assert_eq!(subscribed["target_url"], format!("http://127.0.0.1:9/hooks/{id}"));
    assert_eq!(api.state().hooks().len(), 1, "performSubscribe ran against the API");
    let listed = stdout_json(&run(&["subscriptions"]).await);
    assert_eq!(listed[0]["id"], id.as_str());

    let body = dir.path().join("delivery.json");
    std::fs::write(&body, r#"{"event":"contact.created","contact":{"id":7,"email":"hook@cli.test"}}"#).unwrap();
    let body = format!("@{}", body.display());
    let deliver = ["deliver", id.as_str(), "--body", body.as_str(), "--header", "Webhook-Id: delivery-1"];
    assert_eq!(stdout_json(&run(&deliver).await)[0]["email"], "hook@cli.test");
    let again = run(&deliver).await;
    assert_eq!(stdout_json(&again), serde_json::json!([]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("seen before"));

    stdout_json(&run(&["unsubscribe", id.as_str()]).await);
    assert!(api.state().hooks().is_empty(), "performUnsubscribe ran against the API");
    let gone = run(&deliver).await;
    assert_eq!(gone.status.code(), Some(5), "{}", String::from_utf8_lossy(&gone.stderr));
}

#[tokio::test]
async fn a_callback_started_by_one_run_is_resumed_by_another() {
    let api = crm_api().await;
    let dir = crm_dir(&api);
    let common = ["--allow-loopback", "-q", "--callback-base-url", "http://127.0.0.1:9/callbacks"];
    let mut start = vec!["invoke", CRM, "create", "export_contact", "--input", r#"{"contact_id":2}"#];
    start.extend_from_slice(&common);
    let started = zapwasm_in(dir.path(), &start).await;
    let output = stdout_json(&started);
    let stderr = String::from_utf8_lossy(&started.stderr);
    let id = stderr.split("COMPONENT resume ").nth(1).and_then(|rest| rest.split('`').next()).expect("the resume hint");
    let body = r#"{"export_id":1,"status":"done","contact_id":2,"lines":9}"#;
    let mut resume = vec!["invoke", CRM, "resume", id, "--body", body];
    resume.extend_from_slice(&common);
    let resumed = stdout_json(&zapwasm_in(dir.path(), &resume).await);
    assert_eq!(
        (&resumed["resumed"], &resumed["status"], &resumed["id"]),
        (&Value::Bool(true), &Value::from("done"), &output["id"])
    );
    let twice = zapwasm_in(dir.path(), &resume).await;
    assert_eq!(twice.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("already resumed"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
}

#[tokio::test]
async fn a_result_that_fails_its_checks_is_printed_and_exits_with_the_check_code() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["invoke", FIXTURE, "create", "returns", "--input", r#"{"result":[1,2]}"#, "-q", "--no-state"];
    let output = zapwasm_in(dir.path(), &args).await;
    assert_eq!(output.status.code(), Some(16), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        serde_json::json!([1, 2]),
        "the result stands"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("result check result.create-object failed"), "{stderr}");
}

#[tokio::test]
async fn invoke_applies_the_operations_input_fields() {
    let dir = tempfile::tempdir().unwrap();
    let input = r#"{"count":" 3 ","ratio":"1.5","flag":"yes","tags":"a","other":"kept"}"#;
    let output = zapwasm(&["invoke", FIXTURE, "create", "typed", "--input", input, "-q", "--no-state"], dir.path());
    assert_eq!(
        stdout_json(&output),
        serde_json::json!({"count": 3, "ratio": 1.5, "flag": true, "tags": ["a"], "other": "kept", "note": "hi",
            "extra": 7}),
        "coerced, defaulted, the dynamic field's default too"
    );

    let output = zapwasm(
        &["invoke", FIXTURE, "create", "typed", "--input", r#"{"ratio":"x","flag":"maybe"}"#, "--no-state"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(21));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in [
        "zapwasm: invalid input: count (Count) is required",
        r#"zapwasm: invalid input: ratio (Ratio) expected a number, got "x""#,
        r#"zapwasm: invalid input: flag (Flag) expected true or false, got "maybe""#,
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    assert!(output.stdout.is_empty(), "nothing ran");

    // The method path form too; and --no-input-fields sends the input as it is.
    let path = "creates.typed.operation.perform";
    let output = zapwasm(&["invoke", FIXTURE, path, "--input", r#"{"count":"4"}"#, "-q", "--no-state"], dir.path());
    assert_eq!(stdout_json(&output)["count"], 4);
    let raw = ["invoke", FIXTURE, path, "--input", r#"{"count":"4"}"#, "-q", "--no-state", "--no-input-fields"];
    assert_eq!(stdout_json(&zapwasm(&raw, dir.path())), serde_json::json!({"count": "4"}));
}
