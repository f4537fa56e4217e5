//! `zapwasm test`, run as a process: the example CRM's committed recordings
//! replayed offline; recording against the example API (secrets censored),
//! replaying with the API gone, and a request the recording lacks failing
//! its case with a diff; the JUnit report.

use zapwasm_tests::{CRM, crm_api};

use crate::run::{stderr, zapwasm_in};
use crate::validate::root;

#[tokio::test]
async fn the_crm_examples_recordings_replay_offline() {
    let crm = root().join("examples/crm");
    let output = zapwasm_in(&crm, &["test", ".", "--component", CRM]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.lines().any(|line| line == "5 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("ok      crm/finds a contact by email"), "{stdout}");
}

const SUITE: &str = r#"{
  "base_url_env": "CRM_BASE_URL",
  "cases": [
    {"name": "finds a contact", "method": "search find_contact", "input": {"email": "contact5@example.test"},
     "expect": {"count": 1, "includes": [{"id": 5}]}},
    {"name": "creates a contact", "method": "create create_contact", "input": {"email": "rec@example.test"},
     "expect": {"includes": {"email": "rec@example.test"}}}
  ]
}"#;

#[tokio::test]
async fn record_then_replay_offline_and_a_missing_request_fails_with_a_diff() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::write(cases.join("crm.json"), SUITE).unwrap();
    std::fs::write(dir.path().join(".env"), format!("authData_api_key=demo-key\nCRM_BASE_URL={}\n", api.base_url))
        .unwrap();
    let common = ["--component", CRM, "--cases", "cases"];
    let mut record = vec!["test", ".", "--record"];
    record.extend(common);
    let output = zapwasm_in(dir.path(), &record).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.ends_with("2 passed, 0 failed\n"), "{stdout}");
    let recording = std::fs::read_to_string(cases.join("recordings/crm/finds_a_contact.json")).unwrap();
    assert!(recording.contains("/contacts/search?email=contact5%40example.test"), "{recording}");
    assert!(recording.contains(r#""x-api-key": ":censored:""#), "{recording}");
    assert!(!recording.contains("demo-key"), "the key is censored: {recording}");
    assert_eq!(api.state().contacts().len(), 26, "the create reached the real API");

    // Offline: the API gone, no .env, the same results from the recordings.
    drop(api);
    std::fs::remove_file(dir.path().join(".env")).unwrap();
    let mut replay = vec!["test", ".", "--junit", "report.xml"];
    replay.extend(common);
    let output = zapwasm_in(dir.path(), &replay).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.ends_with("2 passed, 0 failed\n"), "{stdout}");

    // A request the recording lacks: the case fails with a diff.
    std::fs::write(cases.join("crm.json"), SUITE.replace("contact5@", "contact6@")).unwrap();
    let output = zapwasm_in(dir.path(), &replay).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(8), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("FAILED  crm/finds a contact"), "{stdout}");
    assert!(stdout.contains("GET /contacts/search?email=contact6%40example.test is not in the recording"), "{stdout}");
    assert!(stdout.contains("-GET /contacts/search?email=contact5%40example.test"), "{stdout}");
    assert!(stdout.contains("+GET /contacts/search?email=contact6%40example.test"), "{stdout}");
    assert!(stdout.ends_with("1 passed, 1 failed\n"), "{stdout}");
    let report = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    assert!(report.contains(r#"tests="2" disabled="0" errors="0" failures="1""#), "{report}");
    assert!(report.contains("<failure message="), "{report}");
}

#[tokio::test]
async fn test_without_cases_or_recordings_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm_in(dir.path(), &["test", ".", "--component", CRM]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("tests/zapwasm"), "{}", stderr(&output));
    let cases = dir.path().join("tests/zapwasm");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::write(cases.join("crm.json"), SUITE).unwrap();
    let output = zapwasm_in(dir.path(), &["test", ".", "--component", CRM]).await;
    assert_eq!(output.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&output.stdout).contains("run `zapwasm test --record`"));
}
