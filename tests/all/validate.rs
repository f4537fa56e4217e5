//! `zapwasm validate` and `zapwasm build`, run as a process, and the
//! findings a host keeps for an embedder: the guest with one mistake per
//! definition check, the example CRM passing clean, crates built from
//! their directory.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zapwasm_host::Severity;
use zapwasm_tests::{CRM, INVALID, host};

use crate::run::{stderr, zapwasm};

/// The target directory the test build's guests were built in: nested
/// builds go there (the outer cargo may hold its own target's lock).
pub(crate) fn guest_target() -> PathBuf {
    Path::new(INVALID).ancestors().nth(3).expect("<target>/guests/wasm32-wasip2/release/invalid.wasm").to_path_buf()
}

/// A directory inside this checkout for crates a test creates (`zapwasm
/// init` depends on the checkout's SDK by path there), under the ignored
/// `target/` of the checkout whatever `CARGO_TARGET_DIR` says.
pub(crate) fn in_checkout() -> PathBuf {
    let dir = root().join("target").join("test-crates");
    std::fs::create_dir_all(&dir).expect("the checkout's target/ directory is writable");
    dir
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the root").to_path_buf()
}

/// Every mistake of the invalid guest, as `(id, path)`, in the definition's order.
const MISTAKES: &[(&str, &str)] = &[
    ("schema.version", "version"),
    ("D002", "authentication.fields[0].helpText"),
    ("D026", "authentication.fields[1]"),
    ("D003", "authentication.connectionLabel"),
    ("schema.key", r#"triggers["new-item"]"#),
    ("D018", r#"triggers["new-item"].display.label"#),
    ("D021", r#"triggers["new-item"].display.description"#),
    ("D010", r#"triggers["new-item"].operation.sample"#),
    ("D024", r#"triggers["new-item"].operation.sample.count"#),
    ("D023", r#"triggers["new-item"].operation.sample.created"#),
    ("D006", "triggers.item_hook.operation.performList"),
    ("D017", "triggers.item_hook.operation"),
    ("D008", "searches.find_item.display.description"),
    ("D009", "searches.find_item.operation.inputFields"),
    ("D022", "creates.bare_item.operation.inputFields"),
    ("D012", "creates.bare_item.operation.sample"),
    ("schema.field-type", "creates.update_item.operation.inputFields[0].type"),
    ("D005", "creates.update_item.operation.inputFields[0].dynamic"),
    ("D013", "creates.update_item.operation.inputFields[1].search"),
    ("D014", "creates.update_item.operation.inputFields[1].search"),
    ("D011", "creates.update_item.operation.inputFields[4].helpText"),
    ("schema.field-exclusive", "creates.update_item.operation.inputFields[6]"),
    ("schema.unique-field-keys", "creates.update_item.operation.inputFields[6].key"),
    ("D001", "creates.update_item.operation.inputFields[2]"),
    ("D004", "creates.update_item.operation.inputFields[3]"),
    ("D015", "searchOrCreates.find_item.create"),
    ("schema.request-method", "creates.update_item.operation.perform.method"),
    ("D007", "creates.update_item.operation.perform.url"),
    ("D025", "creates.update_item.operation.inputFields[5].helpText"),
];

#[tokio::test]
async fn validate_reports_each_mistake_with_its_id_severity_path_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["validate", INVALID, "--json"], dir.path());
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let findings = report["findings"].as_array().expect("findings");
    let found: Vec<(&str, &str)> =
        findings.iter().map(|f| (f["id"].as_str().unwrap(), f["path"].as_str().unwrap())).collect();
    let expected: Vec<(&str, &str)> = MISTAKES.to_vec();
    assert_eq!(found, expected);
    for finding in findings {
        assert!(matches!(finding["severity"].as_str(), Some("error" | "warning")), "{finding}");
        for part in ["message", "hint"] {
            assert!(!finding[part].as_str().unwrap_or_default().is_empty(), "{finding}");
        }
    }
    let errors = findings.iter().filter(|f| f["severity"] == "error").count();
    assert_eq!(report["errors"], errors);
    assert_eq!(report["warnings"], findings.len() - errors);
    let d005 = findings.iter().find(|f| f["id"] == "D005").unwrap();
    assert!(d005["message"].as_str().unwrap().contains("\"missing_trigger\""), "{d005}");
    assert!(d005["hint"].as_str().unwrap().contains("`item_hook`"), "{d005}");
}

#[tokio::test]
async fn validate_prints_errors_first_with_their_fixes_and_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["validate", INVALID], dir.path());
    assert_eq!(output.status.code(), Some(6));
    let text = String::from_utf8_lossy(&output.stdout);
    let severities: Vec<&str> = text.lines().filter_map(|line| line.split_whitespace().next()).collect();
    let first_warning = severities.iter().position(|s| *s == "warning").expect("warnings");
    let last_error = severities.iter().rposition(|s| *s == "error").expect("errors");
    assert!(last_error < first_warning, "errors come first:\n{text}");
    assert!(text.contains("error   D005"), "{text}");
    assert!(text.contains("        fix: "), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.ends_with("17 errors, 12 warnings"), "{last}");
}

#[tokio::test]
async fn the_example_crm_validates_clean_even_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["validate", CRM, "--strict"], dir.path());
    assert!(output.status.success(), "{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("valid, no findings\n"));
}

#[tokio::test]
async fn a_host_keeps_the_findings_for_the_embedder() {
    let host = host();
    let invalid = host.load_file(INVALID).await.unwrap();
    let findings = invalid.findings();
    assert_eq!(findings.len(), MISTAKES.len());
    assert!(findings.iter().any(|f| f.id == "D005" && f.severity == Severity::Error));
    // Loaded again (from the host's memory), the findings come along.
    assert_eq!(host.load_file(INVALID).await.unwrap().findings(), findings);
    assert_eq!(host.load_file(CRM).await.unwrap().findings(), []);
}

#[tokio::test]
async fn validate_refuses_what_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["validate", "nope.wasm"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nope.wasm: no such file or directory"), "{}", stderr(&output));
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let output = zapwasm(&["validate", junk.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(3));
    // A directory without a crate: the build says so.
    let output = zapwasm(&["validate"], dir.path());
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).contains("no readable Cargo.toml"), "{}", stderr(&output));
}

#[tokio::test]
async fn build_makes_the_component_of_a_crate_and_other_commands_build_a_directory_first() {
    let crate_dir = root().join("tests/guests/invalid");
    let dir = tempfile::tempdir().unwrap();
    let output = zapwasm(&["build", crate_dir.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let component = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(component.ends_with("wasm32-wasip2/release/invalid.snapshot.wasm"), "{component}");
    let size = std::fs::metadata(&component).unwrap().len();
    assert!(size > 100_000 && size < 2_000_000, "a guest-profile component, not a debug one: {size} bytes");
    let log = stderr(&output);
    assert!(log.contains("zapwasm: built ") && log.contains(" KiB) in "), "{log}");
    assert!(log.contains("zapwasm: snapshotted with its app built: ") && log.contains(" KiB, was "), "{log}");
    assert!(log.contains("zapwasm: precompiled in "), "{log}");
    // --no-snapshot: cargo's component as it is.
    let output = zapwasm(&["build", "--no-snapshot", crate_dir.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let plain = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(plain.ends_with("wasm32-wasip2/release/invalid.wasm"), "{plain}");
    assert!(!stderr(&output).contains("snapshotted"), "{}", stderr(&output));

    // validate and describe take the directory and build it first.
    let output = zapwasm(&["validate", crate_dir.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("zapwasm: built "), "{}", stderr(&output));
    let output = zapwasm(&["describe", crate_dir.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("update_item"));
    // Run from inside the crate, the directory is the default.
    let output = zapwasm(&["validate", "--json"], &crate_dir);
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
}
