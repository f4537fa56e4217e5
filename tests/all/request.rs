//! z.request, step by step as wit/BEHAVIOUR.md's "The request lifecycle" lists it, and
//! shorthand requests: the lifecycle guest sends requests built from
//! inputData, and each test checks what a real server on 127.0.0.1
//! received and what the guest got back.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use zapwasm_host::{
    App, Bundle, CallError, Host, Invocation, Level, LimitKind, Limits, LoadError, Meta, Outcome, Policy, Scope,
    Source, ZError,
};
use zapwasm_tests::{
    LIFECYCLE, MapResolver, Received, Recorder, call, host, host_builder, input, non_loopback_local_address, ok,
    z_error,
};

async fn lifecycle() -> App {
    lifecycle_on(&host()).await
}

async fn lifecycle_on(host: &Host) -> App {
    host.load_file(LIFECYCLE).await.expect("the lifecycle guest loads")
}

/// Runs `creates.<create>.operation.perform` with this inputData.
async fn run(create: &str, input_data: Value) -> Outcome {
    let app = lifecycle().await;
    call(&app, &format!("creates.{create}.operation.perform"), input(input_data)).await
}

/// Sends one request object through z.request; the result or error, and what the server received.
async fn send(server: &Recorder, request: Value) -> (Outcome, Vec<Received>) {
    send_with(&lifecycle().await, server, request).await
}

/// As [`send`], with the lifecycle guest loaded on a host of the test's own.
async fn send_with(app: &App, server: &Recorder, request: Value) -> (Outcome, Vec<Received>) {
    let outcome = call(app, "creates.send.operation.perform", input(json!({ "request": request }))).await;
    (outcome, server.received())
}

fn only(received: &[Received]) -> &Received {
    assert_eq!(received.len(), 1, "exactly one request reaches the server: {received:?}");
    &received[0]
}

fn body_text(received: &Received) -> &str {
    std::str::from_utf8(&received.body).expect("a UTF-8 body")
}

#[tokio::test]
async fn params_are_encoded_once_with_arrays_repeated_and_missing_values_empty() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({
            "url": format!("{}/params", server.base_url),
            // Keys in alphabetical order, so the order the server sees does not
            // depend on how a JSON object keeps its keys.
            "params": {
                "a_reserved": "a b:$/?#[]@&+,;=^`\\é",
                "b_tags": ["x", "y z"],
                "c_null": null,
                "d_empty": "",
                "e_curly": "{{left.over}}",
                "f_number": 5,
                "g_bool": true,
            },
        }),
    )
    .await;
    ok(&outcome);
    assert_eq!(
        only(&received).uri,
        "/params?a_reserved=a%20b%3A%24%2F%3F%23%5B%5D%40%26%2B%2C%3B%3D%5E%60%5C%C3%A9\
         &b_tags=x&b_tags=y%20z&c_null=&d_empty=&e_curly=&f_number=5&g_bool=true"
    );
}

#[tokio::test]
async fn remove_missing_values_from_params_drops_them_and_skip_encoding_chars_stay_raw() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({
            "url": format!("{}/params", server.base_url),
            "params": {"a": "1", "b_null": null, "c_empty": "", "d_curly": "{{gone}}", "e_kept": "x:y,z w"},
            "removeMissingValuesFrom": {"params": true},
            "skipEncodingChars": ":,",
        }),
    )
    .await;
    ok(&outcome);
    assert_eq!(only(&received).uri, "/params?a=1&e_kept=x:y,z%20w");
}

#[tokio::test]
async fn a_query_in_the_url_moves_into_params_after_them_and_is_encoded_once() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({
            "url": format!("{}/search?q=a%20b&x=1", server.base_url),
            "params": {"y": "c d"},
        }),
    )
    .await;
    ok(&outcome);
    assert_eq!(only(&received).uri, "/search?y=c%20d&q=a%20b&x=1");
}

#[tokio::test]
async fn params_go_template_then_request_then_url_query_the_urls_value_winning() {
    let server = Recorder::start().await;
    let app = lifecycle().await.with_env([("TEMPLATE_TP", "1".to_string())]);
    // The reference runtime's example, raw spaces in the URL included.
    let request = json!({"url": format!("{}/path?x=1 2&y=/&z=a b", server.base_url), "params": {"w": 3}});
    let (outcome, received) = send_with(&app, &server, request).await;
    ok(&outcome);
    assert_eq!(only(&received).uri, "/path?tp=1&w=3&x=1%202&y=%2F&z=a%20b");

    // A key in several places: the URL's query over the request's params
    // over the template's, each key where it first appeared.
    let request = json!({
        "url": format!("{}/path?w=url&tp=url", server.base_url),
        "params": {"w": 3, "tp": "request", "r": "request"},
    });
    let (outcome, received) = send_with(&app, &server, request).await;
    ok(&outcome);
    assert_eq!(received[1].uri, "/path?tp=url&w=url&r=request");
    let request = json!({"url": format!("{}/path", server.base_url), "params": {"tp": "request"}});
    let (outcome, received) = send_with(&app, &server, request).await;
    ok(&outcome);
    assert_eq!(received[2].uri, "/path?tp=request");
}

#[tokio::test]
async fn a_string_body_without_a_content_type_is_sent_as_utf8_text() {
    let server = Recorder::start().await;
    let url = format!("{}/text", server.base_url);
    let (outcome, received) = send(&server, json!({"method": "POST", "url": url, "body": "raw text"})).await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.header("content-type"), Some("text/plain;charset=UTF-8"));
    assert_eq!(request.body, b"raw text");

    // A content type of the request's own is kept.
    let request = json!({"method": "POST", "url": url, "body": "a,b", "headers": {"Content-Type": "text/csv"}});
    let (outcome, received) = send(&server, request).await;
    ok(&outcome);
    let types: Vec<&str> =
        received[1].headers.iter().filter(|(name, _)| name == "content-type").map(|(_, v)| v.as_str()).collect();
    assert_eq!(types, ["text/csv"]);
    assert_eq!(received[1].body, b"a,b");
}

#[tokio::test]
async fn after_response_hands_typed_values_to_the_caller_in_extensions() {
    let server = Recorder::start().await;
    let (outcome, _) = send(&server, json!({"url": format!("{}/x", server.base_url)})).await;
    // The lifecycle guest's afterResponse middlewares each push their mark
    // into one typed value; the create reads it back from the response.
    assert_eq!(ok(&outcome)["after_marks"], json!(["a1", "a2"]));
}

#[tokio::test]
async fn json_shortcut_sets_the_body_and_its_content_type_and_the_method_is_upper_cased() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({"method": "post", "url": format!("{}/items", server.base_url), "json": {"name": "Ada Lovelace"}}),
    )
    .await;
    assert_eq!(ok(&outcome)["method"], "POST");
    let request = only(&received);
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body_text(request), r#"{"name":"Ada Lovelace"}"#);
}

#[tokio::test]
async fn form_shortcut_encodes_spaces_as_plus() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({"method": "POST", "url": format!("{}/items", server.base_url), "form": {"a_name": "Ada Lovelace", "b_op": "x&y=z"}}),
    )
    .await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(body_text(request), "a_name=Ada+Lovelace&b_op=x%26y%3Dz");
}

#[tokio::test]
async fn an_object_body_without_a_content_type_is_sent_as_json() {
    let server = Recorder::start().await;
    let (outcome, received) =
        send(&server, json!({"method": "patch", "url": format!("{}/items/1", server.base_url), "body": {"k": "v"}}))
            .await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.method, "PATCH");
    assert_eq!(request.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body_text(request), r#"{"k":"v"}"#);
}

#[tokio::test]
async fn get_drops_the_body_unless_allow_get_body() {
    let server = Recorder::start().await;
    let url = format!("{}/items", server.base_url);
    let (outcome, received) = send(&server, json!({"url": url, "body": {"k": "v"}})).await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.method, "GET");
    assert!(request.body.is_empty(), "a GET sends no body: {:?}", body_text(request));

    let (outcome, received) = send(&server, json!({"url": url, "body": {"k": "v"}, "allowGetBody": true})).await;
    ok(&outcome);
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].method, "GET");
    assert_eq!(body_text(&received[1]), r#"{"k":"v"}"#);
}

#[tokio::test]
async fn header_names_and_values_are_trimmed_and_empty_ones_dropped() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({
            "url": format!("{}/h", server.base_url),
            "headers": {" X-Spaced ": "  padded value  ", "X-Empty": ""},
        }),
    )
    .await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.header("x-spaced"), Some("padded value"));
    assert_eq!(request.header("x-empty"), None);
}

#[tokio::test]
async fn middleware_runs_in_order_before_and_after() {
    let server = Recorder::start().await;
    let (outcome, received) = send(&server, json!({"url": format!("{}/m", server.base_url)})).await;
    assert_eq!(only(&received).header("x-order"), Some("b1,b2"), "beforeRequest middlewares in the order added");
    assert_eq!(ok(&outcome)["headers"]["x-after"], "a1,a2", "afterResponse middlewares in the order added");
}

#[tokio::test]
async fn skip_throw_for_status_hands_back_the_error_response_after_middleware() {
    let server = Recorder::start().await;
    let url = format!("{}/status/404", server.base_url);
    let (outcome, _) = send(&server, json!({"url": url, "skipThrowForStatus": true})).await;
    let result = ok(&outcome);
    assert_eq!(result["status"], 404);
    assert_eq!(result["data"], json!({"status": 404}));
    assert_eq!(result["headers"]["x-after"], "a1,a2");

    let (outcome, received) = send(&server, json!({"url": url})).await;
    assert_eq!(received.len(), 2);
    let ZError::Response { status, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 404);
}

#[tokio::test]
async fn throttling_raised_late_reaches_after_response_then_throw_for_status() {
    let server = Recorder::start().await;
    let url = format!("{}/status/429", server.base_url);
    let (outcome, _) =
        send(&server, json!({"url": url, "throwForThrottlingEarly": false, "skipThrowForStatus": true})).await;
    let result = ok(&outcome);
    assert_eq!(result["status"], 429);
    assert_eq!(result["headers"]["retry-after"], "7");
    assert_eq!(result["headers"]["x-after"], "a1,a2");

    let (outcome, _) = send(&server, json!({"url": url, "throwForThrottlingEarly": false})).await;
    let ZError::Response { status, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_redirect_is_followed_and_marked() {
    let server = Recorder::start().await;
    let (outcome, received) = send(&server, json!({"url": format!("{}/redirect/2", server.base_url)})).await;
    let result = ok(&outcome);
    assert_eq!(result["status"], 200);
    assert_eq!(result["redirected"], true);
    assert_eq!(result["url"], format!("{}/redirect/0", server.base_url));
    assert_eq!(result["data"], json!({"redirected": true}));
    let uris: Vec<&str> = received.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["/redirect/2", "/redirect/1", "/redirect/0"]);
    // One log line per exchange: `<status> <METHOD> <url>`.
    let heads: Vec<&str> = outcome
        .logs
        .iter()
        .filter(|line| line.source == Source::Http)
        .map(|line| line.message.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        heads,
        [
            format!("302 GET {}/redirect/2", server.base_url),
            format!("302 GET {}/redirect/1", server.base_url),
            format!("200 GET {}/redirect/0", server.base_url),
        ]
    );
    assert_eq!(outcome.http.len(), 3);
}

#[tokio::test]
async fn redirect_manual_returns_the_3xx_and_error_mode_raises() {
    let server = Recorder::start().await;
    let url = format!("{}/redirect/1", server.base_url);
    let (outcome, received) = send(&server, json!({"url": url, "redirect": "manual"})).await;
    let result = ok(&outcome);
    assert_eq!(result["status"], 302);
    assert_eq!(result["redirected"], false);
    assert_eq!(result["headers"]["location"], "/redirect/0");
    assert_eq!(received.len(), 1);

    let (outcome, received) = send(&server, json!({"url": url, "redirect": "error"})).await;
    assert_eq!(received.len(), 2, "error mode makes no second hop");
    assert_eq!(
        z_error(outcome),
        ZError::general(format!("uri requested responds with a redirect, redirect mode is set to error: {url}"))
    );

    let url = format!("{}/redirect/3", server.base_url);
    let (outcome, _) = send(&server, json!({"url": url, "follow": 1})).await;
    assert_eq!(
        z_error(outcome),
        ZError::general(format!("maximum redirect reached at: {}/redirect/2", server.base_url))
    );
}

/// A server answering fixed bodies with chosen content types.
async fn typed_server() -> String {
    async fn answer(request: axum::extract::Request) -> axum::response::Response {
        let (content_type, body) = match request.uri().path() {
            "/form" => ("application/x-www-form-urlencoded", "a=1&b=two+words"),
            "/form-charset" => ("application/x-www-form-urlencoded; charset=utf-8", "a=1"),
            "/json-as-text" => ("text/plain", r#"{"a":1}"#),
            _ => ("text/plain", "just text"),
        };
        (StatusCode::OK, [("content-type", content_type)], body).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("a local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(answer)).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn response_data_is_a_form_only_for_the_exact_type_else_json_else_absent() {
    let base = typed_server().await;
    let cases = [
        ("/form", json!({"a": "1", "b": "two words"}), true),
        ("/form-charset", Value::Null, false),
        ("/json-as-text", json!({"a": 1}), true),
        ("/text", Value::Null, false),
    ];
    for (path, data, has_data) in cases {
        let outcome = run("send", json!({"request": {"url": format!("{base}{path}")}})).await;
        let result = ok(&outcome);
        assert_eq!(result["data"], data, "{path}");
        assert_eq!(result["has_data"], has_data, "{path}");
    }
}

#[tokio::test]
async fn request_all_sends_in_parallel_each_through_the_whole_pipeline() {
    let server = Recorder::start().await;
    let requests: Vec<Value> = (1..=3)
        .map(|i| json!({"url": format!("{}/slow/1000", server.base_url), "params": {"n": i}}))
        .chain([json!({"url": format!("{}/status/500", server.base_url)})])
        .collect();
    let outcome = run("send_all", json!({ "requests": requests })).await;
    let result = ok(&outcome);
    let results = result["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for (i, result) in results.iter().take(3).enumerate() {
        assert_eq!(result["status"], 200, "{result}");
        assert_eq!(result["url"], format!("{}/slow/1000?n={}", server.base_url, i + 1));
        assert_eq!(result["headers"]["x-after"], "a1,a2");
    }
    assert!(
        results[3]["error"].as_str().is_some_and(|e| e.starts_with(r#"{"status":500"#)),
        "the 500 raises its own response error: {}",
        results[3]
    );
    let received = server.received();
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|r| r.header("x-order") == Some("b1,b2")));
    let mut uris: Vec<&str> = received.iter().map(|r| r.uri.as_str()).collect();
    uris.sort();
    assert_eq!(uris, ["/slow/1000?n=1", "/slow/1000?n=2", "/slow/1000?n=3", "/status/500"]);
    assert!(
        outcome.duration < Duration::from_millis(2500),
        "three 1 s requests in parallel took {:?}",
        outcome.duration
    );
    assert_eq!(outcome.logs.iter().filter(|line| line.source == Source::Http).count(), 4);
}

/// The reference runtime's message for a platform curly in a plain
/// z.request, naming the string and where it was.
fn curly_error(value: &str, attribute: &str) -> ZError {
    ZError::general(format!(
        "z.request() no longer supports {{{{bundle.*}}}} or {{{{process.*}}}} as of v17 unless it's used in a \
         shorthand request defined by the integration. Use the values from bundle in your code instead. \
         Value in violation: \"{value}\" in attribute \"{attribute}\"."
    ))
}

#[tokio::test]
async fn curlies_in_a_plain_request_are_an_error_naming_the_attribute() {
    let server = Recorder::start().await;
    let url = format!("{}/items", server.base_url);
    let in_url = format!("{url}/{{{{bundle.inputData.id}}}}");
    let cases = [
        (
            json!({"url": url, "params": {"a": "ok", "x": "{{bundle.inputData.id}}"}}),
            "{{bundle.inputData.id}}",
            "params.x",
        ),
        (json!({ "url": in_url }), in_url.as_str(), "url"),
        (json!({"url": url, "headers": {"X-Key": "k {{process.env.KEY}}"}}), "k {{process.env.KEY}}", "headers.X-Key"),
        (
            json!({"method": "POST", "url": url, "json": {"a": {"b": ["x", "{{bundle.authData.token}}"]}}}),
            "{{bundle.authData.token}}",
            "body.a.b.1",
        ),
    ];
    for (request, value, attribute) in cases {
        let (outcome, received) = send(&server, request).await;
        assert_eq!(z_error(outcome), curly_error(value, attribute));
        assert!(received.is_empty(), "nothing is sent ({attribute})");
    }
}

#[tokio::test]
async fn a_shorthand_request_renders_curlies_with_raw_values_for_whole_strings() {
    let server = Recorder::start().await;
    let outcome = run(
        "shorthand",
        json!({
            "base": server.base_url,
            "path": "things",
            "name": "Ada",
            "q": "a b",
            "count": 3,
            "tags": ["x", "y"],
        }),
    )
    .await;
    assert_eq!(ok(&outcome), json!({"ok": true}), "the result is the parsed body");
    let received = server.received();
    let request = only(&received);
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/things?q=a%20b&missing=");
    assert_eq!(request.header("x-name"), Some("Ada"));
    assert_eq!(request.header("x-order"), Some("b1,b2"), "a shorthand request goes through the middleware");
    assert_eq!(request.header("content-type"), Some("application/json; charset=utf-8"));
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    assert_eq!(body, json!({"count": 3, "tags": ["x", "y"], "greeting": "Hi Ada"}));
}

#[tokio::test]
async fn a_shorthand_request_refuses_an_object_inside_a_string() {
    let server = Recorder::start().await;
    let outcome =
        run("shorthand", json!({"base": server.base_url, "path": "things", "name": ["a", "b"], "q": "x"})).await;
    assert_eq!(z_error(outcome), ZError::general("Cannot reliably interpolate objects or arrays into a string"));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_shorthand_request_raises_for_non_2xx_and_for_an_unparsed_body() {
    let server = Recorder::start().await;
    let outcome = run("shorthand", json!({"base": server.base_url, "path": "status/404", "name": "n"})).await;
    let ZError::Response { status, .. } = z_error(outcome) else { panic!("expected a response error") };
    assert_eq!(status, 404);

    let base = typed_server().await;
    let outcome = run("shorthand", json!({"base": base, "path": "text", "name": "n"})).await;
    assert_eq!(
        z_error(outcome),
        ZError::general("Response needs to be JSON, form-urlencoded or parsed in middleware.")
    );
}

#[tokio::test]
async fn z_hash_gives_hex_digests() {
    let outcome = run("hash", json!({"text": "abc"})).await;
    assert_eq!(
        ok(&outcome),
        json!({
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
            "md5": "900150983cd24fb0d6963f7d28e17f72",
        })
    );
}

#[tokio::test]
async fn z_json_parse_reports_the_first_100_characters() {
    let outcome = run("json_parse", json!({"text": r#"{"a": [1, 2]}"#})).await;
    assert_eq!(ok(&outcome), json!({"parsed": {"a": [1, 2]}}));
    let text = format!("<html>{}</html>", "x".repeat(200));
    let outcome = run("json_parse", json!({ "text": text })).await;
    assert_eq!(z_error(outcome), ZError::general(format!("Error parsing response. We got: \"{}\"", &text[..100])));
}

#[tokio::test]
async fn the_request_template_merges_headers_case_insensitively_the_request_winning_and_empty_dropping() {
    let server = Recorder::start().await;
    let (outcome, received) = send(
        &server,
        json!({
            "url": format!("{}/t", server.base_url),
            "headers": {"x-override": "request", "x-dropped": ""},
        }),
    )
    .await;
    ok(&outcome);
    let request = only(&received);
    assert_eq!(request.header("x-template"), Some("from-template"));
    let overrides: Vec<&str> =
        request.headers.iter().filter(|(name, _)| name == "x-override").map(|(_, value)| value.as_str()).collect();
    assert_eq!(overrides, ["request"]);
    assert_eq!(request.header("x-dropped"), None, "a falsy value drops the template's header");
}

#[tokio::test]
async fn compress_asks_for_gzip_and_decodes_it_and_compress_false_asks_for_nothing() {
    let server = Recorder::start().await;
    let url = format!("{}/gzip", server.base_url);
    let (outcome, received) = send(&server, json!({ "url": url })).await;
    let accepted = only(&received).header("accept-encoding").unwrap_or_default().to_string();
    assert!(accepted.contains("gzip"), "compress (the default) accepts gzip: {accepted:?}");
    let result = ok(&outcome);
    assert_eq!(result["content"], r#"{"gzipped":true}"#, "the gzip body the server sent is decoded");
    assert_eq!(result["data"], json!({"gzipped": true}));

    let (outcome, received) = send(&server, json!({"url": url, "compress": false})).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].header("accept-encoding"), None, "compress: false accepts no encoding");
    assert_eq!(ok(&outcome)["data"], json!({"gzipped": true}));
}

#[tokio::test]
async fn gzip_deflate_and_brotli_are_decoded_and_lose_the_headers_of_the_encoded_body() {
    let server = Recorder::start().await;
    for coding in ["gzip", "deflate", "br"] {
        let url = format!("{}/encoded/{coding}/2000", server.base_url);
        let (outcome, _) = send(&server, json!({ "url": url })).await;
        let result = ok(&outcome);
        assert_eq!(result["data"], json!({"coding": coding, "pad": "x".repeat(2000)}), "{coding}");
        assert_eq!(result["headers"]["content-encoding"], Value::Null, "{coding}: the body is decoded");
        assert_eq!(result["headers"]["content-length"], Value::Null, "{coding}: the encoded length is gone");
    }
    assert_eq!(server.received().len(), 3);
    for (at, coding) in ["gzip", "deflate", "br"].iter().enumerate() {
        let accepted = server.received()[at].header("accept-encoding").unwrap_or_default().to_string();
        assert!(accepted.contains(coding), "compress (the default) accepts {coding}: {accepted:?}");
    }

    // An integration that turns compression off and asks for an encoding
    // itself gets the body as the server sent it.
    let url = format!("{}/encoded/br/2000", server.base_url);
    let (outcome, _) =
        send(&server, json!({"url": url, "compress": false, "headers": {"Accept-Encoding": "br"}})).await;
    let result = ok(&outcome);
    assert_eq!(result["headers"]["content-encoding"], "br");
    assert!(!result["content"].as_str().unwrap_or_default().contains("xxxx"), "not decoded: {result}");
}

#[tokio::test]
async fn an_encoded_body_is_held_to_the_size_limit_by_its_decoded_size() {
    // A megabyte of one letter gzips to about a kilobyte: the limit applies
    // to what decoding yields, and decoding stops there.
    let server = Recorder::start().await;
    let url = format!("{}/encoded/gzip/1000000", server.base_url);
    let (outcome, _) = send(&server, json!({"url": url, "size": 100_000})).await;
    assert_eq!(z_error(outcome), ZError::general(format!("content size at {url} over limit: 100000")));

    // An encoded response without a body (a HEAD's) is an empty body.
    let url = format!("{}/encoded/gzip/10", server.base_url);
    let (outcome, received) = send(&server, json!({"url": url, "method": "HEAD"})).await;
    assert_eq!(received[1].method, "HEAD");
    let result = ok(&outcome);
    assert_eq!(result["headers"]["content-encoding"], "gzip", "a HEAD answer's headers are kept: {result}");
    assert_eq!(result["content"], "");

    // Nor is one streamed without a length that turns out to have no byte.
    let (outcome, _) = send(&server, json!({"url": format!("{}/stream/0/gzip", server.base_url)})).await;
    assert_eq!(ok(&outcome)["content"], "");
    // One that has bytes but not gzip's is an error that says so.
    let url = format!("{}/stream/10/gzip", server.base_url);
    let (outcome, _) = send(&server, json!({ "url": url })).await;
    let ZError::General { message } = z_error(outcome) else { panic!("a general error") };
    assert!(message.starts_with(&format!("reading the response of {url} failed: ")), "{message}");
}

#[tokio::test]
async fn https_is_refused_when_the_servers_certificate_is_not_from_a_known_authority() {
    // A TLS server on 127.0.0.1 whose certificate is self-signed: the
    // request reaches its handshake, and the client refuses the certificate.
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("a certificate");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key.into())
        .expect("a server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("the client connects");
        acceptor.accept(stream).await.map(drop).map_err(|e| e.to_string())
    });
    let url = format!("https://127.0.0.1:{port}/secret");
    let (outcome, _) = send(&Recorder::start().await, json!({ "url": url })).await;
    let ZError::General { message } = z_error(outcome) else { panic!("a general error") };
    assert!(message.starts_with(&format!("request to {url} failed: ")), "{message}");
    assert!(message.contains("invalid peer certificate: UnknownIssuer"), "{message}");
    let handshake = server.await.expect("the server's task");
    assert!(handshake.is_err(), "no TLS session was made: {handshake:?}");
}

#[tokio::test]
async fn a_request_slower_than_its_timeout_fails_and_one_within_it_succeeds() {
    let server = Recorder::start().await;
    let slow = format!("{}/slow/3000", server.base_url);
    let (outcome, received) = send(&server, json!({"url": slow, "timeout": 200})).await;
    assert_eq!(received.len(), 1, "the request was sent");
    assert!(outcome.duration < Duration::from_millis(2000), "the call ended at the timeout: {:?}", outcome.duration);
    assert_eq!(outcome.http.len(), 1);
    assert_eq!(outcome.http[0].status, None);
    assert_eq!(outcome.http[0].error.as_deref(), Some("timed out"));
    assert_eq!(z_error(outcome), ZError::general(format!("network timeout at: {slow}")));

    let quick = format!("{}/slow/100", server.base_url);
    let (outcome, _) = send(&server, json!({"url": quick, "timeout": 5000})).await;
    assert_eq!(ok(&outcome)["data"], json!({"slow": true}));
}

/// The request a call waits on is dropped with the call when its caller
/// gives up: the server sees the connection closed, not kept open until
/// the call's deadline by a request nobody awaits.
#[tokio::test]
async fn a_request_waiting_when_its_caller_gives_up_is_dropped_with_the_call() {
    use tokio::io::AsyncReadExt;
    // A server that reads the request and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let url = format!("http://127.0.0.1:{}/never", listener.local_addr().expect("its address").port());
    let closed = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("the request's connection");
        let mut buffer = vec![0; 4096];
        let mut read = 0;
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return read,
                Ok(n) => read += n,
            }
        }
    });
    let app = lifecycle().await;
    let invocation = Invocation::new(
        "creates.send.operation.perform",
        input(json!({ "request": { "url": url } })),
        Scope::new("test", "a"),
    )
    .timeout(Duration::from_secs(60));
    let gave_up = tokio::time::timeout(Duration::from_millis(500), app.invoke(invocation)).await;
    assert!(gave_up.is_err(), "the call was still waiting on its request");
    let read = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the connection is closed once the caller has given up, long before the call's deadline")
        .expect("the server's task");
    assert!(read > 0, "the request was sent before the caller gave up");
}

#[tokio::test]
async fn a_body_over_size_is_an_error_and_one_at_size_is_whole() {
    // node-fetch, which the reference documents `size` from, rejects a body
    // over the limit ("content size at <url> over limit: <size>"); it never truncates.
    let server = Recorder::start().await;
    let url = format!("{}/bytes/100", server.base_url);
    let (outcome, _) = send(&server, json!({"url": url, "size": 99})).await;
    assert_eq!(z_error(outcome), ZError::general(format!("content size at {url} over limit: 99")));

    let (outcome, _) = send(&server, json!({"url": url, "size": 100})).await;
    assert_eq!(ok(&outcome)["content"], "x".repeat(100));
}

#[tokio::test]
async fn size_zero_means_the_hosts_limit_which_ends_the_call() {
    let server = Recorder::start().await;
    let limits = Limits { response_body_bytes: 64, ..Limits::default() };
    let host = host_builder().policy(Policy { limits, ..Policy::local_development() }).build().expect("a host");
    let app = lifecycle_on(&host).await;
    let (outcome, _) = send_with(&app, &server, json!({"url": format!("{}/bytes/64", server.base_url)})).await;
    assert_eq!(ok(&outcome)["content"], "x".repeat(64));
    for size in [0, 1000] {
        let (outcome, _) =
            send_with(&app, &server, json!({"url": format!("{}/bytes/65", server.base_url), "size": size})).await;
        assert!(
            matches!(outcome.result, Err(CallError::Limit { limit: LimitKind::ResponseBody, .. })),
            "size {size}: {:?}",
            outcome.result
        );
    }
}

#[tokio::test]
async fn raw_leaves_the_body_unparsed_with_its_content_kept() {
    let server = Recorder::start().await;
    let (outcome, _) = send(&server, json!({"url": format!("{}/anything", server.base_url), "raw": true})).await;
    let result = ok(&outcome);
    assert_eq!(result["has_data"], false, "a raw response has no data: {result}");
    assert_eq!(result["content"], r#"{"ok":true}"#);
    assert_eq!(result["status"], 200);
}

/// A host whose policy lists `api.test` (resolved to 127.0.0.1), and
/// 127.0.0.1 and localhost themselves, on the recorder's port, so that only
/// the redirect rule can refuse what the tests send.
async fn api_test_host(server: &Recorder) -> App {
    let port = server.port();
    let pattern = |host: &str| format!("http://{host}:{port}").parse().expect("a host pattern");
    let loopback: std::net::IpAddr = [127, 0, 0, 1].into();
    let host = host_builder()
        .policy(Policy {
            allowed_hosts: vec![pattern("api.test"), pattern("127.0.0.1"), pattern("localhost"), pattern("[::1]")],
            ..Policy::local_development()
        })
        .resolver(Arc::new(MapResolver(vec![("api.test".into(), loopback), ("localhost".into(), loopback)])))
        .build()
        .expect("a host");
    lifecycle_on(&host).await
}

#[tokio::test]
async fn a_redirect_that_lands_on_a_loopback_host_is_an_error() {
    let server = Recorder::start().await;
    let app = api_test_host(&server).await;
    let port = server.port();

    // The first request, and a redirect within api.test, are allowed.
    let (outcome, received) =
        send_with(&app, &server, json!({"url": format!("http://api.test:{port}/redirect/1")})).await;
    assert_eq!(ok(&outcome)["data"], json!({"redirected": true}));
    assert_eq!(received.len(), 2);
    // So is loopback asked for directly.
    let (outcome, _) = send_with(&app, &server, json!({"url": format!("http://127.0.0.1:{port}/direct")})).await;
    assert_eq!(ok(&outcome)["data"], json!({"ok": true}));
    // A chain that connected to loopback first (api.test is 127.0.0.1) may
    // go on within it, whatever names lead there.
    for target in [format!("http://127.0.0.1:{port}/landed"), format!("http://localhost:{port}/landed")] {
        let request = json!({"url": format!("http://api.test:{port}/redirect-to"), "params": {"url": target}});
        let (outcome, _) = send_with(&app, &server, request).await;
        assert_eq!(ok(&outcome)["data"], json!({"ok": true}), "{target}");
    }

    // A chain that started off loopback may not land on it, by a name that
    // resolves there or by any literal.
    let Some(ip) = non_loopback_local_address() else {
        eprintln!("skipped the redirects from off loopback: this machine has no address but loopback");
        return;
    };
    let public = Recorder::start_on(ip).await;
    let loopback: std::net::IpAddr = [127, 0, 0, 1].into();
    let host = host_builder()
        .policy(Policy { allow_private: true, ..Policy::local_development() })
        .resolver(Arc::new(MapResolver(vec![
            ("public.test".into(), ip),
            ("api.test".into(), loopback),
            ("localhost".into(), loopback),
        ])))
        .build()
        .expect("a host");
    let app = lifecycle_on(&host).await;
    let start = format!("http://public.test:{}/redirect-to", public.port());
    for (target, host) in [
        (format!("http://127.0.0.1:{port}/landed"), "127.0.0.1".to_string()),
        (format!("http://localhost:{port}/landed"), "localhost".into()),
        (format!("http://[::1]:{port}/landed"), "[::1]".into()),
        (format!("http://0.0.0.0:{port}/landed"), "0.0.0.0".into()),
        (format!("http://api.test:{port}/landed"), "api.test (127.0.0.1)".into()),
    ] {
        let before = server.received().len();
        let request = json!({"url": start, "params": {"url": target}});
        let (outcome, received) = send_with(&app, &server, request).await;
        assert_eq!(received.len(), before, "{target}: nothing reaches loopback");
        let from = public.received().last().expect("the first hop reached the public server").uri.clone();
        assert_eq!(
            z_error(outcome),
            ZError::general(format!(
                "request to {host} denied by the egress policy: a redirect from public.test may not land on a \
                 loopback host; loopback is reachable only by a request that started on it (Policy::allow_loopback) \
                 (hop 1 of the request, redirected from http://public.test:{}{from})",
                public.port()
            )),
            "{target}"
        );
    }
}

#[tokio::test]
async fn a_redirect_from_loopback_to_loopback_is_followed_when_loopback_is_allowed() {
    // wit/BEHAVIOUR.md, "Where zapwasm differs on purpose": the reference
    // runtime refuses every redirect onto loopback; a host whose policy
    // opens loopback (local development) follows one that started there.
    let server = Recorder::start().await;
    let app = api_test_host(&server).await;
    let port = server.port();
    let target = format!("http://localhost:{port}/landed");
    let request = json!({"url": format!("http://127.0.0.1:{port}/redirect-to"), "params": {"url": target}});
    let (outcome, received) = send_with(&app, &server, request).await;
    let result = ok(&outcome);
    assert_eq!(result["redirected"], true);
    assert_eq!(result["url"], target);
    let uris: Vec<&str> = received.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, [format!("/redirect-to?url=http%3A%2F%2Flocalhost%3A{port}%2Flanded").as_str(), "/landed"]);
}

#[tokio::test]
async fn the_user_agent_is_zapwasms_or_the_embedders_and_an_integrations_own_header_wins() {
    let server = Recorder::start().await;
    let url = format!("{}/ua", server.base_url);
    ok(&send(&server, json!({ "url": url })).await.0);
    let host = host_builder().user_agent("acme-automations/2.1 zapwasm").build().expect("a host");
    let app = lifecycle_on(&host).await;
    ok(&send_with(&app, &server, json!({ "url": url })).await.0);
    let (outcome, received) =
        send_with(&app, &server, json!({"url": url, "headers": {"User-Agent": "my-integration/1"}})).await;
    ok(&outcome);
    let agents: Vec<Vec<&str>> = received
        .iter()
        .map(|r| r.headers.iter().filter(|(name, _)| name == "user-agent").map(|(_, v)| v.as_str()).collect())
        .collect();
    assert_eq!(
        agents,
        [
            vec![concat!("zapwasm/", env!("CARGO_PKG_VERSION"))],
            vec!["acme-automations/2.1 zapwasm"],
            vec!["my-integration/1"]
        ]
    );

    // One that cannot be a header value is refused when the host is built.
    let Err(refused) = host_builder().user_agent("acme\nX-Injected: 1").build() else {
        panic!("a user agent with a newline is refused")
    };
    assert!(matches!(refused, LoadError::Engine { what: "cannot build the HTTP client", .. }), "{refused:?}");
    let why = std::error::Error::source(&refused).map(ToString::to_string).unwrap_or_default();
    assert_eq!(why, r#"the user agent "acme\nX-Injected: 1" is not a valid header value"#);
}

/// A bundle with every part a shorthand request's curlies may read.
fn hook_bundle() -> Bundle {
    let object = |value: Value| value.as_object().cloned().expect("an object");
    Bundle {
        auth_data: object(json!({"account": "acme", "api_key": "k-12345"})),
        input_data: object(json!({"event": "new contact"})),
        meta: Meta { page: 2, ..Meta::default() },
        subscribe_data: Some(json!({"id": "hook-7"})),
        target_url: Some("https://hooks.zapwasm.test/abc?x=1".into()),
        ..Bundle::default()
    }
}

#[tokio::test]
async fn shorthand_subscribe_and_unsubscribe_render_every_kind_of_curly_everywhere() {
    let server = Recorder::start().await;
    let app = lifecycle().await.with_env([("API_BASE", server.base_url.clone()), ("REGION", "eu-west".into())]);
    let outcome = call(&app, "triggers.hook.operation.performSubscribe", hook_bundle()).await;
    assert_eq!(ok(&outcome), json!({"ok": true}), "the result is the parsed body");
    let outcome = call(&app, "triggers.hook.operation.performUnsubscribe", hook_bundle()).await;
    assert_eq!(ok(&outcome), json!({"ok": true}));

    let received = server.received();
    assert_eq!(received.len(), 2);
    let subscribe = &received[0];
    assert_eq!(subscribe.method, "POST");
    assert_eq!(
        subscribe.uri, "/hooks/acme?page=2&event=new%20contact",
        "authData in the URL, meta and inputData in params"
    );
    assert_eq!(subscribe.header("x-key"), Some("k-12345"), "authData in a header");
    assert_eq!(subscribe.header("x-region"), Some("eu-west"), "process.env in a header");
    assert_eq!(subscribe.header("x-template"), Some("from-template"), "the requestTemplate is merged");
    assert_eq!(
        serde_json::from_slice::<Value>(&subscribe.body).expect("a JSON body"),
        json!({
            "target_url": "https://hooks.zapwasm.test/abc?x=1",
            "replaces": "hook-7",
            "page": 2,
            "note": "new contact for acme in eu-west",
        }),
        "targetUrl, subscribeData, meta (raw: a number), and text around curlies in the body"
    );
    let unsubscribe = &received[1];
    assert_eq!(unsubscribe.method, "DELETE");
    assert_eq!(unsubscribe.uri, "/hooks/hook-7?target=https%3A%2F%2Fhooks.zapwasm.test%2Fabc%3Fx%3D1");
}

#[tokio::test]
async fn shorthand_perform_list_and_a_search_perform_render_their_curlies() {
    // Lists answer arrays, as a trigger's and a search's results must be.
    let server = Recorder::answering(|request: &Received| {
        let id = if request.uri.starts_with("/hooks") { 1 } else { 2 };
        axum::Json(json!([{ "id": id }])).into_response()
    })
    .await;
    let app = lifecycle().await.with_env([("API_BASE", server.base_url.clone()), ("REGION", "eu-west".into())]);
    let mut bundle = hook_bundle();
    bundle.meta.limit = 5;
    let outcome = call(&app, "triggers.hook.operation.performList", bundle).await;
    assert_eq!(ok(&outcome), json!([{"id": 1}]), "the result is the parsed body");
    let outcome = call(&app, "searches.find.operation.perform", input(json!({"q": "Ada L"}))).await;
    assert_eq!(ok(&outcome), json!([{"id": 2}]));

    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].uri, "/hooks/acme/recent?limit=5", "authData in the URL, meta in a param");
    assert_eq!(received[0].header("x-key"), Some("k-12345"));
    assert_eq!(received[0].header("x-order"), Some("b1,b2"), "through the middleware");
    assert_eq!(received[1].uri, "/items?q=Ada%20L&key=eu-west", "inputData and process.env in params");
}

#[tokio::test]
async fn z_console_lines_keep_their_level_and_source_in_order_secrets_censored() {
    let outcome = call(
        &lifecycle().await,
        "creates.console.operation.perform",
        Bundle { auth_data: hook_bundle().auth_data, ..Bundle::default() },
    )
    .await;
    assert_eq!(ok(&outcome), json!({"logged": 5}));
    let lines: Vec<(Level, Source, &str)> =
        outcome.logs.iter().map(|line| (line.level, line.source, line.message.as_str())).collect();
    assert_eq!(
        lines,
        [
            (Level::Info, Source::Console, "log line"),
            (Level::Debug, Source::Console, "debug line"),
            (Level::Info, Source::Console, "info line"),
            (Level::Warn, Source::Console, "warn line"),
            (Level::Error, Source::Console, "error line :censored:"),
        ]
    );
}
