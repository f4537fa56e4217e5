//! Result checks through a real component: the fixture's `returns`
//! operations return `inputData.result`, and the host checks it after the
//! call. A failed check is reported in `Outcome::checks`, censored, with
//! the result kept.

use serde_json::{Value, json};
use zapwasm_host::{App, BufferedItem, BufferedMeta, Bundle, CheckFailure, Status, primary_key};
use zapwasm_tests::{call, fixture, host, input, ok};

/// Calls `method` with `inputData.result = result`: the result must come
/// back unchanged; its failed checks.
async fn checks_of(app: &App, method: &str, result: Value) -> Vec<CheckFailure> {
    let outcome = call(app, method, input(json!({ "result": result }))).await;
    assert_eq!(ok(&outcome), result, "the result is kept as returned");
    assert_eq!(outcome.status, Status::Success);
    outcome.checks
}

fn ids(checks: &[CheckFailure]) -> Vec<&str> {
    checks.iter().map(|check| check.id.as_str()).collect()
}

#[tokio::test]
async fn a_polling_trigger_needs_an_array_of_objects_with_unique_primary_keys() {
    let host = host();
    let app = fixture(&host).await;
    let method = "triggers.returns.operation.perform";
    assert_eq!(checks_of(&app, method, json!([{"id": 1}, {"id": 2, "name": "b"}])).await, []);
    assert_eq!(checks_of(&app, method, json!([])).await, []);

    let checks = checks_of(&app, method, json!({"id": 1})).await;
    assert_eq!(ids(&checks), ["result.trigger-array"], "{checks:?}");
    assert!(checks[0].message.contains(r#"got an object {"id":1}"#), "{}", checks[0].message);

    let checks = checks_of(&app, method, json!([{"id": 1}, "two", {"name": "no id"}, {"id": 1}])).await;
    assert_eq!(ids(&checks), ["result.trigger-object-items", "T002", "result.unique-primary-key"], "{checks:?}");
    assert!(checks[0].message.starts_with(r#"item 1 is a string "two""#), "{}", checks[0].message);
    assert!(checks[1].message.starts_with("item 2 lacks the primary key field `id`"), "{}", checks[1].message);
    assert!(checks[2].message.starts_with("items 0 and 3 have the same primary key (id: 1)"), "{}", checks[2].message);
}

#[tokio::test]
async fn primary_output_fields_together_are_the_key() {
    let host = host();
    let app = fixture(&host).await;
    let method = "triggers.returns_pair.operation.perform";
    let rows = json!([{"list": "a", "n": 1}, {"list": "a", "n": 2}, {"list": "b", "n": 1}]);
    assert_eq!(checks_of(&app, method, rows).await, []);
    let checks =
        checks_of(&app, method, json!([{"id": 1, "list": "a"}, {"list": "b", "n": 1}, {"n": 1, "list": "b"}])).await;
    assert_eq!(ids(&checks), ["T002", "result.unique-primary-key"], "{checks:?}");
    assert!(checks[0].message.starts_with("item 0 lacks the primary key field `n`"), "{}", checks[0].message);
    assert!(checks[1].message.contains(r#"(list: "b", n: 1)"#), "{}", checks[1].message);

    // The helper the flows deduplicate by reads the same fields.
    let definition = app.definition();
    assert_eq!(primary_key(definition, "returns_pair", &json!({"n": 1, "list": "b"})).as_deref(), Some(r#"["b",1]"#));
    assert_eq!(primary_key(definition, "returns_pair", &json!({"id": 1, "list": "b"})), None);
    assert_eq!(primary_key(definition, "returns", &json!({"id": "x1"})).as_deref(), Some(r#"["x1"]"#));
}

#[tokio::test]
async fn a_hook_trigger_returns_objects_but_needs_no_primary_key() {
    let host = host();
    let app = fixture(&host).await;
    for method in ["triggers.returns_hook.operation.perform", "triggers.returns_hook.operation.performList"] {
        assert_eq!(checks_of(&app, method, json!([{"event": "x"}, {"id": 1}, {"id": 1}])).await, [], "{method}");
        let checks = checks_of(&app, method, json!([{"event": "x"}, 7])).await;
        assert_eq!(ids(&checks), ["result.trigger-object-items"], "{method}");
        let checks = checks_of(&app, method, json!({"event": "x"})).await;
        assert_eq!(ids(&checks), ["result.trigger-array"], "{method}");
    }
}

#[tokio::test]
async fn a_search_returns_an_array_or_with_can_paginate_a_page() {
    let host = host();
    let app = fixture(&host).await;
    let plain = "searches.returns.operation.perform";
    let pages = "searches.returns_pages.operation.perform";
    let page = json!({"results": [{"id": 1}], "paging_token": "next"});
    for method in [plain, pages] {
        assert_eq!(checks_of(&app, method, json!([{"id": 1}])).await, [], "{method}");
        assert_eq!(checks_of(&app, method, json!([])).await, [], "{method}");
        // Not an array; for a paginated search, not a page either (no
        // `results`, no `paging_token`).
        let checks = checks_of(&app, method, json!({"id": 1})).await;
        let expected = if method == plain { 1 } else { 2 };
        assert_eq!(ids(&checks), vec!["result.search-array"; expected], "{method}");
    }
    let checks = checks_of(&app, plain, page.clone()).await;
    assert_eq!(ids(&checks), ["result.search-array"]);
    assert_eq!(checks_of(&app, pages, page).await, []);
    assert_eq!(checks_of(&app, pages, json!({"results": [], "paging_token": null})).await, []);
    let checks = checks_of(&app, pages, json!({"results": "none", "paging_token": 3})).await;
    assert_eq!(ids(&checks), ["result.search-array"; 2], "{checks:?}");
    assert!(checks[0].message.contains("`results` must be an array"), "{}", checks[0].message);
    assert!(checks[1].message.contains("`paging_token` must be a string or null"), "{}", checks[1].message);
}

#[tokio::test]
async fn a_create_returns_an_object() {
    let host = host();
    let app = fixture(&host).await;
    for method in ["creates.returns.operation.perform", "creates.returns.operation.performResume"] {
        assert_eq!(checks_of(&app, method, json!({"id": 1})).await, [], "{method}");
        let checks = checks_of(&app, method, json!([{"id": 1}, {"id": 2}])).await;
        assert_eq!(ids(&checks), ["result.create-object"], "{method}");
        assert!(checks[0].message.contains("not a list"), "{}", checks[0].message);
    }
}

#[tokio::test]
async fn perform_buffer_answers_every_buffered_run_and_nothing_else() {
    let host = host();
    let app = fixture(&host).await;
    let method = "creates.returns.operation.performBuffer";
    let run = |id: &str| BufferedItem { input_data: Default::default(), meta: BufferedMeta { id: id.into() } };
    let buffered = |result: Value| Bundle { buffer: vec![run("r1"), run("r2")], ..input(json!({ "result": result })) };

    let good = json!({"r1": {"outputData": {"id": 1}}, "r2": {"error": "refused"}});
    let outcome = call(&app, method, buffered(good.clone())).await;
    assert_eq!(ok(&outcome), good);
    assert_eq!(outcome.checks, []);

    let bad = json!({"r1": {"outputData": "x"}, "r3": {"outputData": {}}});
    let outcome = call(&app, method, buffered(bad.clone())).await;
    assert_eq!(ok(&outcome), bad, "the result is kept");
    assert_eq!(ids(&outcome.checks), ["result.buffer-shape"; 3], "{:?}", outcome.checks);
    assert!(outcome.checks[0].message.contains(r#"buffered run "r1" is an object"#), "{:?}", outcome.checks);
    assert!(outcome.checks[1].message.contains(r#"no entry for the buffered run "r2""#), "{:?}", outcome.checks);
    assert!(
        outcome.checks[2].message.contains(r#"an entry "r3" that is no buffered run's ID"#),
        "{:?}",
        outcome.checks
    );

    let outcome = call(&app, method, buffered(json!([]))).await;
    assert_eq!(ids(&outcome.checks), ["result.buffer-shape"]);
}

#[tokio::test]
async fn dynamic_fields_are_objects_with_keys() {
    let host = host();
    let app = fixture(&host).await;
    for method in [
        "triggers.returns_hook.operation.inputFields.0",
        "searches.returns.operation.outputFields.0",
        "creates.returns.operation.inputFields.1",
    ] {
        assert_eq!(checks_of(&app, method, json!([{"key": "a", "label": "A"}])).await, [], "{method}");
        let checks = checks_of(&app, method, json!([{"key": "a"}, {"label": "No key"}, {"key": 1}])).await;
        assert_eq!(ids(&checks), ["result.dynamic-fields"; 2], "{method}");
        assert!(checks[0].message.contains("[1] has no `key`"), "{}", checks[0].message);
        let checks = checks_of(&app, method, json!({"key": "a"})).await;
        assert_eq!(ids(&checks), ["result.dynamic-fields"], "{method}");
    }
}

#[tokio::test]
async fn failed_checks_are_censored_serialized_and_absent_for_errors() {
    let host = host();
    let app = fixture(&host).await;
    let mut bundle = input(json!({"result": [{"token": "sup3r-secret-value"}]}));
    bundle.auth_data.insert("api_key".into(), "sup3r-secret-value".into());
    let outcome = call(&app, "triggers.returns.operation.perform", bundle).await;
    assert_eq!(ids(&outcome.checks), ["T002"]);
    let message = &outcome.checks[0].message;
    assert!(message.contains(r#"{"token":":censored:"}"#), "{message}");
    assert!(!message.contains("sup3r"), "{message}");
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["checks"][0]["id"], "T002");

    // A method that failed has no checks; one without rules has none either.
    let outcome = call(&app, "triggers.errors.operation.perform", input(json!({"kind": "general"}))).await;
    assert!(outcome.result.is_err());
    assert_eq!(outcome.checks, []);
    let outcome = call(&app, "triggers.echo.operation.perform", Bundle::default()).await;
    assert_eq!(outcome.checks, []);
}
