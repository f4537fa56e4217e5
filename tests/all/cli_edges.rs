//! `zapwasm invoke` and `describe` at their edges, run as a process:
//! datetime inputs, `--prompt`, credentials refreshed during a call written
//! back to `.env` (and censored), a stdout closed early, one exit code per
//! error kind, middleware, `--outcome`'s JSON, input and output fields in
//! `describe`, the loopback hint, and `zapwasm.toml`.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use zapwasm_tests::{AUTH_OAUTH2, AUTH_SESSION, CRM, FIXTURE, Recorder, crm_api, shared_dir};

use crate::auth::token_api;
use crate::run::{ZAPWASM, command, crm_dir, stderr, stdout_json, zapwasm_in};

#[tokio::test]
async fn a_datetime_input_is_sent_as_iso_8601_and_a_bad_one_names_the_forms() {
    let dir = tempfile::tempdir().unwrap();
    for (given, sent) in [
        ("2026-12-06", "2026-12-06T00:00:00Z"),
        ("2026-12-06 13:00", "2026-12-06T13:00:00Z"),
        ("2026-12-06T13:00:00+01:00", "2026-12-06T13:00:00+01:00"),
        ("1796558400", "2026-12-06T12:00:00Z"),
    ] {
        let input = json!({"count": 1, "when": given}).to_string();
        let output =
            zapwasm_in(dir.path(), &["invoke", FIXTURE, "create", "typed", "--input", &input, "-q", "--no-state"]);
        assert_eq!(stdout_json(&output.await)["when"], sent, "{given}");
    }
    // `now` is read as the time of the call.
    let output = zapwasm_in(
        dir.path(),
        &["invoke", FIXTURE, "create", "typed", "--input", r#"{"count":1,"when":"now"}"#, "-q", "--no-state"],
    );
    let now = stdout_json(&output.await)["when"].as_str().unwrap().to_string();
    assert!(now.len() >= 20 && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");

    let input = r#"{"count":1,"when":"next tuesday-ish"}"#;
    let output = zapwasm_in(dir.path(), &["invoke", FIXTURE, "create", "typed", "--input", input, "--no-state"]).await;
    assert_eq!(output.status.code(), Some(21), "{}", stderr(&output));
    let stderr = stderr(&output);
    assert!(stderr.contains("zapwasm: invalid input: when (When) expected a date and time ("), "{stderr}");
    for form in ["2026-12-06 13:00", "a Unix timestamp", "now", "+3d", r#"got "next tuesday-ish""#] {
        assert!(stderr.contains(form), "missing {form:?} in {stderr}");
    }
    assert!(output.stdout.is_empty(), "nothing ran");
}

#[tokio::test]
async fn prompt_without_a_terminal_is_refused_naming_the_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm_in(dir.path(), &["invoke", CRM, "create", "attach_vcard", "--prompt", "--no-state"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let stderr = stderr(&output);
    assert!(stderr.contains("--prompt asks on a terminal, and stdin is not one"), "{stderr}");
    assert!(stderr.contains("contact_id (Contact)"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// `--prompt` on a pseudo-terminal (util-linux `script` gives the command
/// one): the dynamic dropdown runs its trigger against the CRM API and
/// lists the contacts by email; answering `1` picks the first one's ID.
#[tokio::test]
async fn prompt_on_a_terminal_offers_a_dynamic_dropdowns_choices() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let api = crm_api().await;
    let dir = crm_dir(&api);
    // The first contact new_contact lists, as the dropdown will show it.
    let listed =
        zapwasm_in(dir.path(), &["invoke", CRM, "trigger", "new_contact", "--allow-loopback", "-q", "--no-state"]);
    let listed = stdout_json(&listed.await);
    let first = &listed[0];
    let (first_id, first_email) = (first["id"].clone(), first["email"].as_str().unwrap().to_string());

    let cache = shared_dir("cli-cache");
    let line = format!(
        "{ZAPWASM} invoke {CRM} create attach_vcard --prompt --allow-loopback -q --no-state --cache-dir {}",
        cache.display()
    );
    let path = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--command", &line, "/dev/null"])
            .current_dir(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script runs");
        // The answer waits in the terminal's input until the question reads it.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"1\n").unwrap();
        let output = child.wait_with_output().expect("script ends");
        drop(stdin);
        output
    })
    .await
    .unwrap();
    // The terminal mixes stdout and stderr, with CR LF line ends.
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("contact_id (Contact) (integer, required)"), "{text}");
    assert!(text.contains("Pick a contact, or map the ID from a Find Contact step."), "the help text: {text}");
    assert!(text.contains(&format!("  1. {first_email} [{first_id}]")), "the first choice: {text}");
    let result: Value = serde_json::from_str(&text[text.find("{\n").expect("the result's JSON")..]).unwrap();
    assert_eq!(result["contact_id"], first_id, "{text}");
}

/// A stale session refreshed during `invoke` (sessionConfig.perform, then
/// the call retried once) lands in `.env` in place of the old key, the
/// file's other lines and comments kept; stderr says so without the new
/// key, and the new key appears nowhere in the printed logs or exchanges.
#[tokio::test]
async fn a_session_refreshed_during_invoke_is_written_back_to_the_env_file() {
    let api = token_api().await;
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let before = format!(
        "# the API\nAPI_BASE={}\n\n# the account\nauthData_username=ada\nauthData_password=pw\nauthData_sessionKey=session-1\n",
        api.base_url
    );
    std::fs::write(&env, &before).unwrap();
    let output = zapwasm_in(dir.path(), &["invoke", AUTH_SESSION, "create", "fetch", "--allow-loopback", "--no-state"]);
    let output = output.await;
    assert_eq!(stdout_json(&output), json!({"data": {"name": "Ada"}}));
    assert_eq!(api.requests(), ["GET /me", "POST /session", "GET /me"]);
    let stderr = stderr(&output);
    assert!(
        stderr.contains("zapwasm: the credentials were refreshed during the call; wrote the new authData (username, password, sessionKey) to .env"),
        "{stderr}"
    );
    assert!(stderr.contains("200 POST"), "the exchange is logged: {stderr}");
    assert!(!stderr.contains("session-"), "a session key was printed: {stderr}");
    let after = std::fs::read_to_string(&env).unwrap();
    assert_eq!(after, before.replace("session-1", "session-2"), "only the key changed, in place");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&env).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // The next run uses it: no refresh. With --outcome, every exchange of
    // a refreshing run is printed: the new key is censored in all of them.
    std::fs::write(&env, &before).unwrap();
    let output = zapwasm_in(dir.path(), &["invoke", AUTH_SESSION, "create", "fetch", "--allow-loopback", "--outcome"]);
    let output = output.await;
    let outcome = stdout_json(&output);
    assert_eq!(outcome["auth_data_refreshed"], json!(["username", "password", "sessionKey"]));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), self::stderr(&output));
    assert!(!printed.contains("session-2") && !printed.contains("session-1"), "a session key was printed: {printed}");
    let session = outcome["http"].as_array().unwrap().iter().find(|e| e["url"].as_str().unwrap().ends_with("/session"));
    assert_eq!(session.unwrap()["response_body"], r#"{"sessionKey":":censored:"}"#);
    let again = zapwasm_in(dir.path(), &["invoke", AUTH_SESSION, "create", "fetch", "--allow-loopback", "-q"]).await;
    assert_eq!(stdout_json(&again), json!({"data": {"name": "Ada"}}));
    assert!(!self::stderr(&again).contains("refreshed"), "{}", self::stderr(&again));
    assert_eq!(api.requests().len(), 7, "the second run refreshed, the third did not: {:?}", api.requests());
}

/// OAuth 2 with autoRefresh: the refreshed access and refresh tokens are
/// written to `.env`, and neither token appears in what is printed.
#[tokio::test]
async fn an_oauth2_token_refreshed_during_invoke_is_written_back_to_the_env_file() {
    let api = token_api().await;
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let before = format!(
        "API_BASE={}\nauthData_access_token=access-1 # expires hourly\nauthData_refresh_token=refresh-1\n",
        api.base_url
    );
    std::fs::write(&env, &before).unwrap();
    let output = zapwasm_in(
        dir.path(),
        &["invoke", AUTH_OAUTH2, "create", "fetch", "--allow-loopback", "--no-state", "--outcome"],
    )
    .await;
    let outcome = stdout_json(&output);
    assert_eq!(outcome["result"], json!({"data": {"name": "Ada"}}));
    assert_eq!(api.requests(), ["GET /me", "POST /oauth/token", "GET /me"]);
    let after = std::fs::read_to_string(&env).unwrap();
    assert_eq!(
        after,
        format!("API_BASE={}\nauthData_access_token=access-2\nauthData_refresh_token=refresh-2\n", api.base_url)
    );
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    for token in ["access-2", "refresh-2", "access-1", "refresh-1"] {
        assert!(!printed.contains(token), "{token} was printed: {printed}");
    }
    assert!(stderr(&output).contains("wrote the new authData (access_token, refresh_token) to .env"));
}

/// `zapwasm describe ... | head -1` and `invoke ... | head -c 10`: the
/// reader is gone before the command writes, and the command ends as it
/// would have, without a panic or a message.
#[tokio::test]
async fn a_stdout_closed_early_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["describe", CRM],
        vec!["invoke", FIXTURE, "trigger", "echo", "-q", "--no-state"],
        vec!["invoke", FIXTURE, "trigger", "echo", "--outcome", "--no-state"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = command(&args, dir.path());
        command.stdin(Stdio::null()).stdout(writer).stderr(Stdio::piped());
        let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("stdout"), "{args:?}: {stderr}");
    }
}

/// A method the integration lacks fails with one exit code and one kind,
/// whether it is named by a short form or a path.
#[tokio::test]
async fn a_missing_method_fails_alike_whatever_the_spelling() {
    let dir = tempfile::tempdir().unwrap();
    for words in [
        vec!["trigger", "nope"],
        vec!["triggers.nope.operation.perform"],
        vec!["create", "nope"],
        vec!["subscribe", "nope"],
        vec!["trigger", "nope", "--dedupe"],
    ] {
        let mut args = vec!["invoke", FIXTURE];
        args.extend(&words);
        args.push("--no-state");
        let output = zapwasm_in(dir.path(), &args).await;
        assert_eq!(output.status.code(), Some(20), "{words:?}: {}", stderr(&output));
        let stderr = stderr(&output);
        assert!(stderr.starts_with("zapwasm: no_such_method error: "), "{words:?}: {stderr}");
        assert!(stderr.contains("nope"), "{stderr}");
    }
}

/// Middleware runs inside z.request: `describe` does not offer it, and
/// invoking it is refused, saying why.
#[tokio::test]
async fn middleware_is_not_an_invocable_method() {
    let dir = tempfile::tempdir().unwrap();
    for path in ["beforeRequest.0", "afterResponse.0"] {
        let output = zapwasm_in(dir.path(), &["invoke", CRM, path, "--no-state"]).await;
        assert_eq!(output.status.code(), Some(20), "{}", stderr(&output));
        let stderr = stderr(&output);
        assert!(stderr.contains(&format!("{path} is middleware")), "{stderr}");
        assert!(stderr.contains("cannot be invoked on its own"), "{stderr}");
    }
    let output = zapwasm_in(dir.path(), &["invoke", CRM, "triggers.nope.operation.perform", "--no-state"]).await;
    let stderr = stderr(&output);
    assert!(stderr.contains("triggers.new_contact.operation.perform"), "the methods offered: {stderr}");
    assert!(!stderr.contains("beforeRequest") && !stderr.contains("afterResponse"), "{stderr}");
    let described = zapwasm_in(dir.path(), &["describe", CRM]).await;
    let text = String::from_utf8_lossy(&described.stdout);
    assert!(!text.contains("beforeRequest") && !text.contains("afterResponse"), "{text}");
}

/// `--outcome` prints the result as the result, an error as `{kind,
/// message}`, durations as milliseconds: no serde enum or Duration shapes.
#[tokio::test]
async fn the_outcome_json_uses_plain_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm_in(
        dir.path(),
        &["invoke", FIXTURE, "trigger", "echo", "--env", "GREETING=hi", "--outcome", "--no-state"],
    );
    let outcome = stdout_json(&output.await);
    assert_eq!(outcome["status"], "success");
    assert_eq!(outcome["result"][0]["env_greeting"], "hi", "the result itself: {outcome}");
    assert_eq!(outcome["checks"], json!([]));
    assert!(outcome["duration_ms"].is_number(), "{outcome}");
    assert!(outcome["logs"].is_array());

    let api = Recorder::start().await;
    let input = json!({"url": format!("{}/status/500", api.base_url)}).to_string();
    let output = zapwasm_in(
        dir.path(),
        &["invoke", FIXTURE, "trigger", "fetch", "--input", &input, "--allow-loopback", "--outcome", "--no-state"],
    )
    .await;
    assert_eq!(output.status.code(), Some(15), "{}", stderr(&output));
    let outcome: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["error"]["kind"], "response", "{outcome}");
    assert!(outcome["error"]["message"].as_str().unwrap().contains("500"), "{outcome}");
    assert!(outcome.get("result").is_none());
    let exchange = &outcome["http"][0];
    assert_eq!((&exchange["method"], &exchange["status"]), (&json!("GET"), &json!(500)));
    assert!(exchange["duration_ms"].is_number(), "{exchange}");
    let text = String::from_utf8_lossy(&output.stdout);
    for shape in [r#""Ok""#, r#""Err""#, r#""secs""#, r#""nanos""#] {
        assert!(!text.contains(shape), "{shape} in {text}");
    }
}

#[tokio::test]
async fn describe_shows_each_operations_input_and_output_fields() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm_in(dir.path(), &["describe", CRM]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "      input:  contact_id (Contact; integer; required; dynamic new_contact.id.email)",
        "      input:  email (Email; string; required)",
        "      output: id (Contact ID; integer)",
        "              created_at (Created At; datetime)",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    let output = zapwasm_in(dir.path(), &["describe", FIXTURE]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    for part in [
        "count (Count; integer; required)",
        r#"note (Note; string; default "hi")"#,
        "when (When; datetime)",
        "(fields from creates.typed.operation.inputFields.6, resolved when the operation runs)",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
}

/// Plain http to loopback names `--allow-loopback` (which opens plain
/// http to loopback too), not `--allow-http`, which would not be enough.
#[tokio::test]
async fn a_loopback_denial_suggests_allow_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["http://127.0.0.1:9/x", "http://localhost:9/x", "https://127.0.0.1:9/x"] {
        let input = json!({ "url": url }).to_string();
        let output =
            zapwasm_in(dir.path(), &["invoke", FIXTURE, "trigger", "fetch", "--input", &input, "-q", "--no-state"]);
        let output = output.await;
        assert_eq!(output.status.code(), Some(10));
        let stderr = stderr(&output);
        assert!(stderr.contains("--allow-loopback") && !stderr.contains("--allow-http"), "{url}: {stderr}");
    }
}

/// `zapwasm.toml` beside the component holds its egress settings and
/// limits; flags override it; a bad file is refused naming the key.
#[tokio::test]
async fn zapwasm_toml_beside_the_component_sets_egress_and_limits() {
    let api = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("fixture.wasm");
    std::fs::copy(FIXTURE, &component).unwrap();
    let component = component.to_str().unwrap().to_string();
    let input = json!({"url": format!("{}/ok", api.base_url)}).to_string();
    let fetch = |extra: &[&str]| {
        let mut args = vec!["invoke", component.as_str(), "trigger", "fetch", "--input", input.as_str(), "-q"];
        args.push("--no-state");
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let dir = dir.path().to_path_buf();
        async move { zapwasm_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let denied = fetch(&[]).await;
    assert_eq!(denied.status.code(), Some(10), "loopback is closed without the file: {}", stderr(&denied));

    let settings = dir.path().join("zapwasm.toml");
    std::fs::write(&settings, "[egress]\nallow_loopback = true\n\n[limits]\nmax_requests = 5\n").unwrap();
    assert_eq!(stdout_json(&fetch(&[]).await)[0]["status"], 200, "the file opened loopback");

    // A flag overrides a limit of the file.
    std::fs::write(&settings, "[egress]\nallow_loopback = true\n[limits]\nmax_requests = 1\n").unwrap();
    let input_two = json!({"url": format!("{}/redirect/1", api.base_url)}).to_string();
    let two = |extra: &'static [&'static str]| {
        let mut args = vec!["invoke", component.as_str(), "trigger", "fetch", "--input", input_two.as_str()];
        args.extend_from_slice(&["-q", "--no-state"]);
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let dir = dir.path().to_path_buf();
        async move { zapwasm_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let limited = two(&[]).await;
    assert_eq!(limited.status.code(), Some(31), "a redirect hop over the file's limit: {}", stderr(&limited));
    stdout_json(&two(&["--max-requests", "2"]).await);

    // A bad file: the file and the key named, usage exit.
    for (text, named) in [
        ("[limits]\nmax_requests = 0\n", "limits.max_requests must be between 1 and"),
        ("[egress]\nallow_loopbak = true\n", "allow_loopbak"),
        ("[limits]\ntimeout = \"long\"\n", "timeout"),
    ] {
        std::fs::write(&settings, text).unwrap();
        let output = fetch(&[]).await;
        assert_eq!(output.status.code(), Some(2), "{text}: {}", stderr(&output));
        let stderr = stderr(&output);
        assert!(stderr.contains("zapwasm.toml: ") && stderr.contains(named), "{text}: {stderr}");
    }

    // --config names another file.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[egress]\nallow_loopback = true\n").unwrap();
    let output = fetch(&["--config", other.to_str().unwrap()]).await;
    assert_eq!(stdout_json(&output)[0]["status"], 200);
}
