//! Components snapshotted with their app built (`zapwasm_build::snapshot`,
//! what `zapwasm build` does by default): they load and run like the plain
//! ones and answer the same, and nothing an instance should draw for
//! itself (hash keys, random bytes, the time, the environment) is frozen
//! into the snapshot.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use zapwasm_build::snapshot::{SnapshotError, snapshot_file};
use zapwasm_host::{App, Bundle, CallError, Host, Invocation, Meta, Scope, ZError};
use zapwasm_tests::{CRM, FIXTURE, call, crm_api, host, input, ok};

/// The component at `plain`, snapshotted once per test run.
fn snapshotted(plain: &'static str) -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static DONE: OnceLock<std::sync::Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let mut done = DONE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = done.iter().find(|(p, _)| *p == plain) {
        return Box::leak(path.clone().into_boxed_path());
    }
    let name = Path::new(plain).file_stem().and_then(|s| s.to_str()).expect("a file name");
    let output = dir.path().join(format!("{name}.snapshot.wasm"));
    let snapshot = snapshot_file(Path::new(plain), &output).unwrap_or_else(|e| panic!("{plain} snapshots: {e:?}"));
    assert_eq!(snapshot.component, output);
    assert_eq!(snapshot.size_before, std::fs::metadata(plain).unwrap().len());
    assert_eq!(snapshot.size_after, std::fs::metadata(&output).unwrap().len());
    done.push((plain, output.clone()));
    Box::leak(output.into_boxed_path())
}

/// The fixture's `entropy` trigger: what one fresh instance drew.
async fn entropy(app: &App) -> Value {
    let items = ok(&call(app, "triggers.entropy.operation.perform", input(json!({}))).await);
    items[0].clone()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn a_plain_and_a_snapshotted_component_both_load_and_run() {
    let host = host();
    let plain = host.load_file(FIXTURE).await.expect("the plain fixture loads");
    let snapshot = host.load_file(snapshotted(FIXTURE)).await.expect("the snapshotted fixture loads");
    assert_eq!(plain.definition().json(), snapshot.definition().json());
    for app in [&plain, &snapshot] {
        let echoed = ok(&call(app, "triggers.echo.operation.perform", input(json!({"n": 7}))).await);
        assert_eq!(echoed[0]["bundle"]["inputData"]["n"], 7);
        let error = call(app, "triggers.errors.operation.perform", input(json!({"kind": "halted"}))).await;
        assert!(matches!(error.result, Err(CallError::Integration { error: ZError::Halted { .. } })));
    }
}

#[tokio::test]
async fn instances_of_a_snapshot_draw_their_own_hash_keys_random_bytes_and_time() {
    let host = host();
    let plain = host.load_file(FIXTURE).await.expect("the plain fixture loads");
    // Made before the calls below: a clock read frozen into it would be
    // older than what they see.
    let path = snapshotted(FIXTURE);
    let snapshot = host.load_file(path).await.expect("the snapshotted fixture loads");
    for app in [&plain, &snapshot] {
        let before = now_ms();
        let (first, second) = (entropy(app).await, entropy(app).await);
        for drawn in [&first, &second] {
            assert!(drawn["now_ms"].as_u64().expect("a time") >= before, "a frozen clock: {drawn}");
            assert_eq!(drawn["random"].as_str().map(str::len), Some(32));
        }
        assert_ne!(first["hash"], second["hash"], "two instances hash with the same keys");
        assert_ne!(first["random"], second["random"], "two instances drew the same random bytes");
    }
    // The environment is the app's, read at call time: one snapshot, two
    // environments.
    let hello = host.load_file(path).await.unwrap().with_env([("GREETING", "hello")]);
    let bonjour = host.load_file(path).await.unwrap().with_env([("GREETING", "bonjour")]);
    assert_eq!(entropy(&hello).await["greeting"], "hello");
    assert_eq!(entropy(&bonjour).await["greeting"], "bonjour");
}

/// `created_at` is the API's clock, in seconds: the one value two runs may
/// not share.
fn without_timestamps(mut value: Value) -> Value {
    match &mut value {
        Value::Object(object) => {
            object.remove("created_at");
            for (_, child) in object.iter_mut() {
                *child = without_timestamps(child.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_timestamps(item.take());
            }
        }
        _ => {}
    }
    value
}

/// The example CRM's calls, in order, each as its result (or error) JSON.
async fn crm_calls(host: &Host, component: &Path) -> Vec<Value> {
    let api = crm_api().await;
    let app =
        host.load_file(component).await.expect("the CRM loads").with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let bundle = |input: Value| {
        let mut bundle = Bundle { input_data: input.as_object().cloned().unwrap_or_default(), ..Bundle::default() };
        bundle.auth_data.insert("api_key".into(), "demo-key".into());
        bundle
    };
    let mut page = bundle(json!({}));
    page.meta = Meta { page: 0, limit: 5, ..Meta::default() };
    let mut subscribe = bundle(json!({}));
    subscribe.target_url = Some("https://hooks.example.test/zap-1".into());
    let mut wrong_key = bundle(json!({}));
    wrong_key.auth_data.insert("api_key".into(), "wrong-key".into());
    let ada = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test", "company": "Engines"});
    let calls = [
        ("authentication.test", bundle(json!({}))),
        ("authentication.test", wrong_key),
        ("triggers.new_contact.operation.perform", page),
        ("triggers.contact_created_hook.operation.performSubscribe", subscribe),
        ("searches.find_contact.operation.perform", bundle(json!({"email": "contact3@example.test"}))),
        ("searches.find_contact.operation.perform", bundle(json!({"email": ""}))),
        ("creates.create_contact.operation.perform", bundle(ada.clone())),
        ("creates.create_contact.operation.perform", bundle(ada)),
        ("hydrators.contact", bundle(json!({"id": 2}))),
    ];
    let mut results = vec![app.definition().json().clone()];
    for (method, bundle) in calls {
        let outcome =
            app.invoke(Invocation::new(method, bundle, Scope::new("crm", "acct").subscription("zap-1"))).await;
        results.push(match outcome.result {
            Ok(json) => json!({"ok": without_timestamps(json.value())}),
            Err(error) => json!({"error": format!("{error:?}")}),
        });
    }
    results
}

#[tokio::test]
async fn a_snapshotted_crm_answers_its_calls_as_the_plain_one() {
    let host = host();
    let plain = crm_calls(&host, Path::new(CRM)).await;
    let snapshot = crm_calls(&host, snapshotted(CRM)).await;
    assert_eq!(plain.len(), snapshot.len());
    for (plain, snapshot) in plain.iter().zip(&snapshot) {
        assert_eq!(plain, snapshot);
    }
    assert!(plain.iter().filter(|result| result.get("ok").is_some()).count() >= 6, "{plain:#?}");
    assert!(plain.iter().any(|result| result.get("error").is_some()), "{plain:#?}");
}

#[test]
fn components_the_snapshot_cannot_take_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = |name: &str, wat: &str| {
        let plain = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&plain, wat::parse_str(wat).unwrap()).unwrap();
        snapshot_file(&plain, &dir.path().join(format!("{name}.snapshot.wasm"))).unwrap_err()
    };

    let error = snapshot("empty", "(component)");
    assert!(matches!(error, SnapshotError::NoInitExport), "{error:?}");
    assert!(error.to_string().contains("--no-snapshot"), "{error}");

    // An app function that reads the clock while the app is built.
    let error = snapshot(
        "clock",
        r#"(component
            (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock (export "now" (func (result u64)))))
            (core func $now (canon lower (func $clock "now")))
            (core module $app
                (import "clock" "now" (func $now (result i64)))
                (func (export "initialize") (drop (call $now))))
            (core instance $app (instantiate $app (with "clock" (instance (export "now" (func $now))))))
            (func (export "initialize") (canon lift (core func $app "initialize"))))"#,
    );
    match &error {
        SnapshotError::ImportAtBuild { import } => assert_eq!(import, "wasi:clocks/monotonic-clock@0.2.0#now"),
        other => panic!("expected the import named, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("must not read the clock, random numbers or the environment"), "{message}");

    let error = snapshot_file(&dir.path().join("missing.wasm"), &dir.path().join("out.wasm")).unwrap_err();
    assert!(matches!(error, SnapshotError::Io { .. }), "{error:?}");
}
