//! The example invoices integration (`examples/invoices`) end to end
//! against its API (`examples/invoices-api`) on 127.0.0.1: an account
//! connected with OAuth 2 and PKCE (the test plays the browser), the
//! customer dropdown fed by a hidden trigger, search-or-create both ways
//! through `zapwasm invoke`, an invoice's line items arriving as sent and
//! its PDF stashed and downloaded, and a refresh when the access token
//! expires.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use invoices_api::{Config, RunningApi};
use serde_json::{Map, Value, json};
use zapwasm_host::{App, Authorization, Bundle, Host, Invocation, LocalStash, OperationKind, Scope, Stores};
use zapwasm_tests::{host_builder, ok, shared_dir};

use crate::run::{stderr, zapwasm_in};

/// The example invoices integration, built by build.rs.
pub(crate) const INVOICES: &str = env!("INVOICES_COMPONENT");
/// Where stashed files say they are served.
const FILES: &str = "https://files.zapwasm.test/stash";
/// The redirect URI the account is connected with (the test reads the
/// redirect instead of following it).
const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

/// The API, a host with a stash and a hydration secret, and the integration configured for the API.
struct Setup {
    api: RunningApi,
    host: Host,
    app: App,
}

/// The integration's environment for `api`.
pub(crate) fn env(api: &RunningApi) -> Vec<(String, String)> {
    let config = Config::default();
    vec![
        ("INVOICES_BASE_URL".into(), api.base_url.clone()),
        ("CLIENT_ID".into(), config.client_id),
        ("CLIENT_SECRET".into(), config.client_secret),
    ]
}

async fn setup(name: &str) -> Setup {
    let api = invoices_api::start("127.0.0.1:0".parse().unwrap(), Config::default()).await.expect("the API starts");
    let stash = Arc::new(LocalStash::new(shared_dir(name), FILES));
    let host = host_builder()
        .hydration_secret(b"the invoices tests' hydration secret".to_vec())
        .stores(Stores::memory().stash(stash))
        .build()
        .unwrap();
    let app = host.load_file(INVOICES).await.expect("the invoices component loads");
    let app = app.with_env(env(&api)).with_secret_env(["CLIENT_SECRET"]);
    Setup { api, host, app }
}

fn scope() -> Scope {
    Scope::new("invoices", "account-1")
}

/// Connects an account as a user would: the authorize URL opened, the
/// provider's redirect taken back, the code exchanged. The authorization
/// and the new authData.
async fn connect(app: &App) -> (Authorization, Map<String, Value>) {
    let authorization = app.authorize(&scope(), Bundle::default(), REDIRECT).await.expect("the authorize URL renders");
    // The browser: open the URL (the provider approves at once) and read where it sends the user.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = browser.get(&authorization.url).send().await.unwrap();
    assert!(answer.status().is_redirection(), "{}: {}", answer.status(), answer.text().await.unwrap());
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query: Vec<(String, String)> = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
    let outcome = app
        .complete_authorization(&scope(), &authorization, &query, Bundle::default())
        .await
        .expect("the redirect is this authorization's");
    let auth_data = outcome.auth_data.clone().unwrap_or_else(|| panic!("no authData: {:?}", outcome.result));
    (authorization, auth_data)
}

fn bundle(auth_data: &Map<String, Value>, input: Value) -> Bundle {
    Bundle { auth_data: auth_data.clone(), input_data: input.as_object().cloned().unwrap(), ..Bundle::default() }
}

#[tokio::test]
async fn an_account_connects_with_pkce_and_a_token_refreshes_when_it_expires() {
    let Setup { api, app, .. } = setup("invoices-connect").await;
    let (authorization, auth_data) = connect(&app).await;
    let url = url::Url::parse(&authorization.url).unwrap();
    let params: Map<String, Value> = url.query_pairs().map(|(k, v)| (k.into_owned(), json!(v))).collect();
    assert_eq!(params["client_id"], "invoices-client");
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["state"], json!(authorization.state));
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].as_str().unwrap().len(), 43, "a SHA-256 digest, base64url");
    assert!(authorization.code_verifier.is_some());
    assert!(auth_data["access_token"].as_str().unwrap().starts_with("at_"), "{auth_data:?}");
    assert!(auth_data["refresh_token"].as_str().unwrap().starts_with("rt_"), "{auth_data:?}");
    assert_eq!(api.state().token_grants(), ["authorization_code"]);

    let test = app.invoke(Invocation::new("authentication.test", bundle(&auth_data, json!({})), scope())).await;
    assert_eq!(ok(&test)["email"], "owner@acme.test");
    assert!(test.auth_data.is_none(), "a live token is not refreshed");

    // The token expires: the 401 refreshes it once and the search runs again.
    api.state().expire_access_tokens();
    let search = Invocation::new(
        "searches.find_customer.operation.perform",
        bundle(&auth_data, json!({"email": "ap@globex.test"})),
        scope(),
    );
    let outcome = app.invoke(search).await;
    assert_eq!(ok(&outcome), json!([{"id": 2, "name": "Globex", "email": "ap@globex.test"}]));
    let refreshed = outcome.auth_data.clone().expect("the new authData is handed back");
    assert_ne!(refreshed["access_token"], auth_data["access_token"]);
    assert_eq!(refreshed["refresh_token"], auth_data["refresh_token"], "the refresh token is kept");
    assert_eq!(api.state().token_grants(), ["authorization_code", "refresh_token"]);
    assert_eq!(api.state().unauthorized(), 1);
    let statuses: Vec<u16> = outcome.http.iter().filter_map(|exchange| exchange.status).collect();
    assert_eq!(statuses, [401, 200, 200], "the search, the refresh, the search again");
    // The client's secret and the tokens stay out of what the host kept.
    let kept = serde_json::to_string(&outcome.http).unwrap() + &serde_json::to_string(&outcome.logs).unwrap();
    assert!(!kept.contains("invoices-secret"), "{kept}");
    assert!(!kept.contains(auth_data["refresh_token"].as_str().unwrap()), "{kept}");
}

#[tokio::test]
async fn the_customer_dropdown_is_fed_by_the_hidden_trigger_and_the_app_validates_clean() {
    let Setup { api, app, .. } = setup("invoices-dropdown").await;
    assert!(app.findings().is_empty(), "{:#?}", app.findings());
    let definition = app.definition().json();
    assert_eq!(definition["triggers"]["customer_list"]["display"]["hidden"], true);
    let field = &definition["creates"]["create_invoice"]["operation"]["inputFields"][0];
    assert_eq!(field["key"], "customer_id");
    // `trigger.id_field.label_field`, run as the platform fills a dropdown.
    let dynamic = field["dynamic"].as_str().unwrap();
    let [trigger, id, label] = dynamic.split('.').collect::<Vec<_>>()[..] else { panic!("{dynamic}") };
    let (_, auth_data) = connect(&app).await;
    let mut fill = bundle(&auth_data, json!({}));
    fill.meta.is_filling_dynamic_dropdown = true;
    let outcome = app.invoke(Invocation::new(format!("triggers.{trigger}.operation.perform"), fill, scope())).await;
    let choices: Vec<(Value, Value)> =
        ok(&outcome).as_array().unwrap().iter().map(|item| (item[id].clone(), item[label].clone())).collect();
    let expected: Vec<(Value, Value)> =
        api.state().customers().iter().rev().map(|c| (json!(c.id), json!(c.name))).collect();
    assert_eq!(choices, expected);
    assert_eq!(choices.len(), 3);
}

#[tokio::test]
async fn an_invoices_line_items_arrive_as_sent_and_its_pdf_is_stashed_and_downloaded() {
    let Setup { api, host, app } = setup("invoices-lines").await;
    let (_, auth_data) = connect(&app).await;
    let lines = json!([
        {"description": "Logo design", "quantity": 1, "unit_price": 45000},
        {"description": "Business cards (box of 100)", "quantity": 3, "unit_price": 1999},
        {"description": "Rush fee", "quantity": 1, "unit_price": 2500}
    ]);
    let mut input =
        bundle(&auth_data, json!({"customer_id": "2", "due_date": "2027-01-31", "line_items": lines.clone()}));
    app.prepare_input(OperationKind::Create, "create_invoice", &mut input, &scope()).await.expect("valid input");
    assert_eq!(input.input_data["customer_id"], 2, "coerced to the field's integer");
    assert_eq!(input.input_data["currency"], "EUR", "the field's default");
    let outcome = app.invoke(Invocation::new("creates.create_invoice.operation.perform", input, scope())).await;
    let invoice = ok(&outcome);
    assert_eq!(
        api.state().invoice_bodies(),
        [json!({"customer_id": 2, "currency": "EUR", "line_items": lines, "due_date": "2027-01-31"})]
    );
    assert_eq!(invoice["number"], "INV-0001");
    assert_eq!(invoice["total"], 45000 + 3 * 1999 + 2500);
    assert_eq!(invoice["line_items"][1]["amount"], 3 * 1999);

    // The PDF is fetched only when a step uses it: hydrated, stashed, downloaded.
    let pdf = invoice["pdf"].as_str().expect("a dehydrated file");
    assert!(pdf.starts_with("hydrate|||"), "{pdf}");
    let hydrated = app.hydrate(pdf, auth_data.clone(), scope()).await.expect("the signed value hydrates");
    let url = ok(&hydrated).as_str().expect("a URL").to_string();
    let token = url.strip_prefix(&format!("{FILES}/files/")).unwrap_or_else(|| panic!("under the base: {url}"));
    let download = host.open_stashed(token).await.expect("the token opens");
    assert_eq!(download.filename, "INV-0001.pdf");
    assert_eq!(download.content_type, "application/pdf");
    let bytes = download.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"), "{text}");
    assert!(text.contains("(Invoice INV-0001) Tj") && text.contains("(Bill to: Globex <ap@globex.test>) Tj"), "{text}");

    // A line without a quantity is the integration's error, naming the line; nothing is sent.
    let mut bad = bundle(&auth_data, json!({"customer_id": 1, "line_items": [{"description": "x", "unit_price": 1}]}));
    app.prepare_input(OperationKind::Create, "create_invoice", &mut bad, &scope()).await.unwrap();
    let outcome = app.invoke(Invocation::new("creates.create_invoice.operation.perform", bad, scope())).await;
    let error = outcome.result.expect_err("refused").to_string();
    assert!(error.contains("Line item 1 needs quantity as a whole number"), "{error}");
    assert_eq!(api.state().invoice_bodies().len(), 1);
}

/// `zapwasm invoke INVOICES search-or-create find_customer` with this email and authData.
async fn find_or_create(api: &RunningApi, dir: &Path, auth_data: &Map<String, Value>, email: &str) -> Output {
    let mut args: Vec<String> = ["invoke", INVOICES, "search-or-create", "find_customer", "--allow-loopback"]
        .into_iter()
        .map(String::from)
        .collect();
    for (key, value) in env(api) {
        args.extend(["--env".into(), format!("{key}={value}")]);
    }
    args.extend(["--secret-env".into(), "CLIENT_SECRET".into()]);
    args.extend(["--auth".into(), Value::Object(auth_data.clone()).to_string()]);
    args.extend(["--input".into(), json!({"email": email, "name": "Umbrella Corp"}).to_string()]);
    zapwasm_in(dir, &args).await
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&output.stdout), stderr(output));
    })
}

#[tokio::test]
async fn search_or_create_runs_the_create_only_when_the_search_finds_nothing() {
    let Setup { api, app, .. } = setup("invoices-search-or-create").await;
    let (_, auth_data) = connect(&app).await;
    let dir = tempfile::tempdir().unwrap();

    // Found: the search's first result; the create does not run.
    let output = find_or_create(&api, dir.path(), &auth_data, "billing@acme.test").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout_json(&output),
        json!({"ran": "search", "search": "find_customer", "create": "create_customer",
               "result": {"id": 1, "name": "Acme Ltd", "email": "billing@acme.test"}})
    );
    assert!(stderr(&output).contains("the search find_customer found a result; the create did not run"));
    assert_eq!(api.state().customers().len(), 3);

    // Not found, with an expired token: the search refreshes it, finds
    // nothing, and the create runs with the same input and the new token.
    api.state().expire_access_tokens();
    let output = find_or_create(&api, dir.path(), &auth_data, "it@umbrella.test").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout_json(&output),
        json!({"ran": "create", "search": "find_customer", "create": "create_customer",
               "result": {"id": 4, "name": "Umbrella Corp", "email": "it@umbrella.test"}})
    );
    let err = stderr(&output);
    assert!(err.contains("the search find_customer found nothing; running the create create_customer"), "{err}");
    assert!(err.contains("the credentials were refreshed"), "{err}");
    // The refreshed token is the account's now: written to the .env file, never printed.
    let saved = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    let token = saved.lines().find_map(|line| line.strip_prefix("authData_access_token=")).expect("saved");
    assert!(token.starts_with("at_") && token != auth_data["access_token"], "{saved}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(token) && !err.contains(token));
    assert_eq!(api.state().customers().len(), 4);
    assert_eq!(api.state().token_grants(), ["authorization_code", "refresh_token"], "one refresh for both calls");

    // Now the search finds it.
    let output = find_or_create(&api, dir.path(), &auth_data, "it@umbrella.test").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout_json(&output)["ran"], "search");
    assert_eq!(stdout_json(&output)["result"]["id"], 4);
    assert_eq!(api.state().customers().len(), 4);

    // A key the integration lacks is a usage error naming the keys it has.
    let output = zapwasm_in(dir.path(), &["invoke", INVOICES, "search-or-create", "find_invoice"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(r#"no search-or-create "find_invoice" in this integration; it has: find_customer"#)
    );
}

/// The example's committed `zapwasm test` cases.
fn example_cases() -> std::path::PathBuf {
    crate::validate::root().join("examples/invoices/tests/zapwasm")
}

#[tokio::test]
async fn the_examples_committed_recordings_replay_offline() {
    // No API runs, no .env: every answer comes from the recordings, secrets censored in them.
    let dir = crate::validate::root().join("examples/invoices");
    let output = zapwasm_in(&dir, &["test", ".", "--component", INVOICES]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.ends_with("10 passed, 0 failed\n"), "{stdout}");
    for case in [
        "creates an invoice with line items",
        "search-or-create finds the customer and creates nothing",
        "search-or-create creates the customer the search did not find",
    ] {
        assert!(stdout.contains(&format!("ok      invoices/{case}")), "{stdout}");
    }
    // The search-or-create that found nothing recorded both calls, the create with the same input.
    let recording = std::fs::read_to_string(
        example_cases().join("recordings/invoices/search-or-create_creates_the_customer_the_search_did_not_find.json"),
    )
    .unwrap();
    let recording: Value = serde_json::from_str(&recording).unwrap();
    let requests: Vec<(&str, &str)> = recording["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|exchange| {
            (exchange["request"]["method"].as_str().unwrap(), exchange["request"]["path"].as_str().unwrap())
        })
        .collect();
    assert_eq!(requests, [("GET", "/customers/search?email=ops%40hooli.test"), ("POST", "/customers")]);
    for entry in std::fs::read_dir(example_cases().join("recordings/invoices")).unwrap() {
        let recording = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(recording.contains(r#""authorization": "Bearer :censored:""#), "{recording}");
        for secret in ["invoices-secret", "expired-token", "\"at_", " at_", "=rt_", "\"rt_"] {
            assert!(!recording.contains(secret), "{secret} in {recording}");
        }
    }
}

#[tokio::test]
async fn a_changed_request_fails_its_case_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(cases.join("recordings/invoices")).unwrap();
    for entry in std::fs::read_dir(example_cases().join("recordings/invoices")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, cases.join("recordings/invoices").join(path.file_name().unwrap())).unwrap();
    }
    // Another email to search for, and one more box of cards on the invoice.
    let suite = std::fs::read_to_string(example_cases().join("invoices.json")).unwrap();
    let changed = suite
        .replace(r#""email": "ap@globex.test""#, r#""email": "ar@globex.test""#)
        .replace(r#""quantity": "3""#, r#""quantity": "4""#);
    assert_ne!(changed, suite);
    std::fs::write(cases.join("invoices.json"), changed).unwrap();

    let args = ["test", ".", "--component", INVOICES, "--cases", "cases"];
    let output = zapwasm_in(dir.path(), &args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(8), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("FAILED  invoices/finds a customer by email"), "{stdout}");
    assert!(stdout.contains("GET /customers/search?email=ar%40globex.test is not in the recording"), "{stdout}");
    assert!(stdout.contains("-GET /customers/search?email=ap%40globex.test"), "{stdout}");
    assert!(stdout.contains("+GET /customers/search?email=ar%40globex.test"), "{stdout}");
    assert!(stdout.contains("FAILED  invoices/creates an invoice with line items"), "{stdout}");
    assert!(stdout.contains("POST /invoices is not in the recording"), "{stdout}");
    let diff: Vec<&str> = stdout.lines().map(str::trim_start).collect();
    assert!(diff.iter().any(|line| line.starts_with('-') && line.contains(r#""quantity": 3"#)), "{stdout}");
    assert!(diff.iter().any(|line| line.starts_with('+') && line.contains(r#""quantity": 4"#)), "{stdout}");
    // The search-or-create searches for the same email: its search is not recorded either.
    assert!(stdout.contains("FAILED  invoices/search-or-create finds the customer and creates nothing"), "{stdout}");
    assert!(stdout.ends_with("7 passed, 3 failed\n"), "{stdout}");
}

#[tokio::test]
async fn a_refresh_while_recording_is_censored_and_replays_offline() {
    let Setup { api, app, .. } = setup("invoices-record-refresh").await;
    let (_, auth_data) = connect(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let suite = json!({"base_url_env": "INVOICES_BASE_URL", "env": {"CLIENT_ID": "invoices-client"}, "cases": [
        {"name": "refreshes", "method": "auth test", "auth": {"access_token": "expired-token"},
         "expect": {"includes": {"email": "owner@acme.test"}}}
    ]});
    std::fs::write(cases.join("refresh.json"), suite.to_string()).unwrap();
    let token = |key: &str| auth_data[key].as_str().unwrap().to_string();
    let dotenv = format!(
        "INVOICES_BASE_URL={}\nCLIENT_SECRET=invoices-secret\nauthData_access_token={}\nauthData_refresh_token={}\n",
        api.base_url,
        token("access_token"),
        token("refresh_token")
    );
    std::fs::write(dir.path().join(".env"), dotenv).unwrap();
    let args = |extra: &[&'static str]| {
        [["test", ".", "--component", INVOICES, "--cases", "cases"].as_slice(), extra].concat()
    };
    let output = zapwasm_in(dir.path(), &args(&["--record"])).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert_eq!(api.state().token_grants(), ["authorization_code", "refresh_token"], "the case refreshed");

    // Neither the credentials the case started with, nor the token the refresh handed out.
    let recording = std::fs::read_to_string(cases.join("recordings/refresh/refreshes.json")).unwrap();
    let refreshed: Value = serde_json::from_str(&recording).unwrap();
    assert_eq!(refreshed["env_keys"], json!(["CLIENT_SECRET"]));
    assert_eq!(refreshed["exchanges"][1]["response"]["body"]["json"]["access_token"], ":censored:");
    assert_eq!(refreshed["exchanges"][2]["request"]["headers"]["authorization"], "Bearer :censored:");
    for secret in [token("access_token"), token("refresh_token"), "invoices-secret".into(), "expired-token".into()] {
        assert!(!recording.contains(&secret), "{secret} in {recording}");
    }
    assert!(!recording.contains("\"at_") && !recording.contains(" at_"), "{recording}");

    // Offline: the API gone, no .env; the censored refresh matches as recorded.
    drop(api);
    std::fs::remove_file(dir.path().join(".env")).unwrap();
    let output = zapwasm_in(dir.path(), &args(&[])).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.ends_with("1 passed, 0 failed\n"), "{stdout}");
}

#[tokio::test]
async fn a_miss_shows_the_request_with_its_secrets_censored() {
    // A recording made before CLIENT_SECRET was censored as a secret (no
    // `env_keys`), replayed with the real secret in .env: the refresh sends
    // it, misses, and the diff shows it censored.
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(cases.join("recordings/refresh")).unwrap();
    let name = "an_expired_token_is_refreshed_and_the_call_runs_again.json";
    let mut recording: Value =
        serde_json::from_str(&std::fs::read_to_string(example_cases().join("recordings/invoices").join(name)).unwrap())
            .unwrap();
    recording.as_object_mut().unwrap().remove("env_keys");
    std::fs::write(cases.join("recordings/refresh/refreshes.json"), recording.to_string()).unwrap();
    let suite = json!({"base_url_env": "INVOICES_BASE_URL", "env": {"CLIENT_ID": "invoices-client"}, "cases": [
        {"name": "refreshes", "method": "auth test", "auth": {"access_token": "expired-token"},
         "expect": {"includes": {"email": "owner@acme.test"}}}
    ]});
    std::fs::write(cases.join("refresh.json"), suite.to_string()).unwrap();
    std::fs::write(dir.path().join(".env"), "CLIENT_SECRET=invoices-secret\n").unwrap();

    let args = ["test", ".", "--component", INVOICES, "--cases", "cases"];
    let output = zapwasm_in(dir.path(), &args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(8), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("POST /oauth/token is not in the recording"), "{stdout}");
    assert!(stdout.contains("only with its secrets censored (record the case again"), "{stdout}");
    assert!(stdout.contains("&client_secret=:censored:"), "{stdout}");
    assert!(!stdout.contains("invoices-secret") && !stderr(&output).contains("invoices-secret"), "{stdout}");
}

#[tokio::test]
async fn a_search_or_create_case_naming_no_pair_fails_naming_the_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let suite = json!({"cases": [{"name": "no such pair", "method": "search-or-create find_invoice"}]});
    std::fs::write(cases.join("pairs.json"), suite.to_string()).unwrap();
    let args = ["test", ".", "--component", INVOICES, "--cases", "cases"];
    let output = zapwasm_in(dir.path(), &args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(8), "{stdout}{}", stderr(&output));
    assert!(
        stdout.contains(r#"no search-or-create "find_invoice" in this integration; it has: find_customer"#),
        "{stdout}"
    );
}
