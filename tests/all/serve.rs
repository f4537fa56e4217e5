//! `zapwasm serve`, run as a process on 127.0.0.1 with the example CRM and
//! its API: connecting an account, calls, a REST hook the API posts to, a
//! polling trigger, a callback the API makes, a stashed file; a SIGKILL
//! with work queued and a restart that finishes it; bad input on every
//! route; the limits, the control token, and a graceful stop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use zapwasm_tests::{CRM, FIXTURE, crm_api, shared_dir};

use crate::run::ZAPWASM;

/// A `zapwasm serve` process; SIGKILLed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`, from its first line.
    pub(crate) url: String,
    /// Its stderr (the logs).
    log: PathBuf,
    _stdout: BufReader<ChildStdout>,
}

impl Served {
    /// Start `zapwasm serve ARGS` in `dir` with `env`, and wait for its
    /// first line.
    pub(crate) async fn start(dir: &Path, args: &[String], env: &[(&str, String)]) -> Served {
        let log = unique(dir.join("serve.log"));
        let mut child = Command::new(ZAPWASM)
            .arg("serve")
            .args(args)
            .arg("--cache-dir")
            .arg(shared_dir("cli-cache"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("zapwasm serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (line, stdout) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            (line, stdout)
        })
        .await
        .unwrap();
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the first line is {line:?}; stderr: {}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        Served { url: url.to_string(), child, log, _stdout: stdout }
    }

    /// SIGKILL it, as a crash would.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path no other file has.
fn unique(path: PathBuf) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!("serve-{n}.log"))
}

pub(crate) fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The flags of a development service serving the CRM against `api`.
pub(crate) fn crm_flags(api: &crm_api::RunningApi, listen: &str) -> Vec<String> {
    args(&[
        "--dev",
        "--allow-loopback",
        "--listen",
        listen,
        "--state-dir",
        "state",
        "--app",
        &format!("crm={CRM}"),
        "--app-env",
        &format!("crm:CRM_BASE_URL={}", api.base_url),
    ])
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap()
}

/// An answer: status, headers, body as JSON (Null when it is not JSON).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error's kind, checking the answer has the error shape.
    pub(crate) fn kind(&self) -> &str {
        let message = self.body["error"]["message"].as_str();
        assert!(message.is_some_and(|m| !m.is_empty()), "no error message: {}", self.body);
        self.body["error"]["kind"].as_str().unwrap_or_else(|| panic!("not an error: {}", self.body))
    }
}

pub(crate) async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the service answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

pub(crate) async fn get(url: String) -> Answer {
    send(client().get(url)).await
}

pub(crate) async fn post(url: String, body: Value) -> Answer {
    send(client().post(url).header("content-type", "application/json").body(body.to_string())).await
}

/// Wait (up to 20 s) until `check` gives a value.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A contact created in the API, as a user would; its ID.
pub(crate) async fn create_contact(api: &crm_api::RunningApi, email: &str) -> u64 {
    let response = client()
        .post(format!("{}/contacts", api.base_url))
        .header("X-API-Key", "demo-key")
        .header("content-type", "application/json")
        .body(json!({"first_name": "New", "last_name": "Contact", "email": email}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let contact: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    contact["id"].as_u64().unwrap()
}

pub(crate) async fn connect(url: &str) -> String {
    let connected = post(
        format!("{url}/v1/apps/crm/connections"),
        json!({"auth_data": {"api_key": "demo-key"}, "account": "acme"}),
    )
    .await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    connected.body["id"].as_str().unwrap().to_string()
}

/// Subscribes the CRM's hook trigger of `app` for `connection`: the
/// subscription's ID and its target URL.
pub(crate) async fn subscribe_hook(url: &str, app: &str, connection: &str) -> (String, String) {
    let subscribed = post(
        format!("{url}/v1/apps/{app}/subscriptions"),
        json!({"trigger": "contact_created_hook", "connection": connection}),
    )
    .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    let id = subscribed.body["id"].as_str().unwrap().to_string();
    (id, subscribed.body["target_url"].as_str().unwrap().to_string())
}

/// The service embedded in this process on the state directory `dir`,
/// serving the CRM example (its API at `api`) as `crm`, `public` the URL
/// its hook and callback URLs start with. Not started.
pub(crate) async fn embedded_crm(
    dir: &Path,
    public: &str,
    api: &crm_api::RunningApi,
    settings: zapwasm_serve::Settings,
) -> zapwasm_serve::Service {
    let state = zapwasm_serve::ServiceState::open(dir, &[7u8; 32]).unwrap();
    let host = state
        .host_builder(public)
        .policy(zapwasm_host::Policy::local_development())
        .cache_dir(shared_dir("cache"))
        .build()
        .unwrap();
    let app = host.load_file(CRM).await.unwrap().with_env([("CRM_BASE_URL", api.base_url.clone())]);
    let service = zapwasm_serve::Service::new(host, state, settings);
    service.add_app("crm", app);
    service
}

/// The items of a subscription's events, after `after`.
pub(crate) async fn events(url: &str, subscription: &str, after: i64) -> Vec<Value> {
    let answer = get(format!("{url}/v1/subscriptions/{subscription}/events?after={after}&limit=1000")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["events"].as_array().unwrap().clone()
}

pub(crate) fn ids(events: &[Value]) -> Vec<u64> {
    events.iter().filter_map(|e| e["item"]["id"].as_u64()).collect()
}

fn sorted(mut ids: Vec<u64>) -> Vec<u64> {
    ids.sort();
    ids
}

/// Every file of the state directory, read whole.
fn state_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().is_file() {
            all.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    all
}

#[tokio::test]
async fn the_crm_runs_end_to_end_through_zapwasm_serve() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &crm_flags(&api, "127.0.0.1:0"), &[]).await;
    let url = served.url.clone();
    assert_eq!(get(format!("{url}/healthz")).await.body["status"], "ok");
    let apps = get(format!("{url}/v1/apps")).await;
    assert_eq!(apps.body["apps"][0]["name"], "crm", "{}", apps.body);

    // Connect: authentication.test runs; the credentials are kept sealed
    // and never answered.
    let connected = post(
        format!("{url}/v1/apps/crm/connections"),
        json!({"auth_data": {"api_key": "demo-key"}, "account": "acme"}),
    )
    .await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert_eq!(connected.body["account"], "acme");
    assert!(!connected.body["label"].as_str().unwrap().is_empty(), "{}", connected.body);
    assert!(!connected.body.to_string().contains("demo-key"));
    let connection = connected.body["id"].as_str().unwrap().to_string();
    let read = get(format!("{url}/v1/connections/{connection}")).await;
    assert_eq!((read.status, read.body["label"].clone()), (200, connected.body["label"].clone()));
    assert!(!read.body.to_string().contains("demo-key"));
    let refused = post(format!("{url}/v1/apps/crm/connections"), json!({"auth_data": {"api_key": "wrong-key"}})).await;
    assert_eq!((refused.status, refused.kind()), (422, "expired_auth"), "{}", refused.body);
    assert!(!refused.body.to_string().contains("wrong-key"), "the refused key is censored: {}", refused.body);

    // A call, and the same call again under one Idempotency-Key.
    let search = json!({"method": "search find_contact", "connection": connection, "input_data": {"email": "contact5@example.test"}});
    let found = post(format!("{url}/v1/apps/crm/invoke"), search.clone()).await;
    assert_eq!((found.status, found.body["status"].clone()), (200, json!("success")), "{}", found.body);
    assert_eq!(found.body["result"][0]["id"], 5);
    assert!(!found.body.to_string().contains("demo-key"), "logs and exchanges are censored");
    let keyed = || client().post(format!("{url}/v1/apps/crm/invoke")).header("idempotency-key", "search-1");
    let first = send(keyed().body(search.to_string())).await;
    let again = send(keyed().body(search.to_string())).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (200, Some("true")));
    assert_eq!(again.body, first.body, "the same invocation, answered again");
    let other =
        send(keyed().body(json!({"method": "search find_contact", "connection": connection}).to_string())).await;
    assert_eq!((other.status, other.kind()), (422, "idempotency_key_reused"));

    // A REST hook: subscribed with a target URL of this service, posted to
    // by the API, read as events in order.
    let (hook, target) = subscribe_hook(&url, "crm", &connection).await;
    assert_eq!(target, format!("{url}/hooks/{hook}"));
    assert_eq!(api.state().hooks()[0].url, target, "performSubscribe registered the URL");
    let ada = create_contact(&api, "ada@serve.test").await;
    let grace = create_contact(&api, "grace@serve.test").await;
    let received = eventually("two hook events", || async {
        let events = events(&url, &hook, 0).await;
        (events.len() >= 2).then_some(events)
    })
    .await;
    assert_eq!(sorted(ids(&received)), [ada, grace], "the API posts each from a task of its own, in any order");
    let seqs: Vec<i64> = received.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(ids(&events(&url, &hook, 1).await), ids(&received)[1..], "after=1 skips the first");

    // Deliveries sent one after the other are emitted in that order.
    for id in [9101, 9102, 9103, 9104] {
        let body = json!({"event": "contact.created", "contact": {"id": id, "email": format!("{id}@serve.test")}});
        assert_eq!(post(target.clone(), body).await.status, 200);
    }
    let ordered = eventually("the ordered deliveries", || async {
        let events = events(&url, &hook, 2).await;
        (events.len() >= 4).then_some(events)
    })
    .await;
    assert_eq!(ids(&ordered), [9101, 9102, 9103, 9104]);
    let seqs: Vec<i64> = ordered.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);

    // A sender's retry of one delivery (the same webhook-id) emits once.
    let delivery = json!({"event": "contact.created", "contact": {"id": 9001, "email": "retry@serve.test"}});
    for _ in 0..3 {
        let sent = send(
            client()
                .post(&target)
                .header("webhook-id", "msg-1")
                .header("x-hook-secret", "s3cret")
                .body(delivery.to_string()),
        )
        .await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(sent.header("x-hook-secret"), Some("s3cret"), "the handshake secret is echoed");
    }
    let all = eventually("the retried delivery", || async {
        let events = events(&url, &hook, 6).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ids(&events(&url, &hook, 6).await), [9001], "{all:?}");

    // A polling trigger on a short interval: each new contact once.
    let polling = post(
        format!("{url}/v1/apps/crm/subscriptions"),
        json!({"trigger": "new_contact", "connection": connection, "poll_interval_seconds": 1}),
    )
    .await;
    assert_eq!(polling.status, 201, "{}", polling.body);
    let poll = polling.body["id"].as_str().unwrap().to_string();
    assert_eq!(polling.body["poll_interval_seconds"], 1);
    assert!(events(&url, &poll, 0).await.is_empty(), "the seeding poll emits nothing");
    let kat = create_contact(&api, "kat@serve.test").await;
    eventually("the polled contact", || async { (!events(&url, &poll, 0).await.is_empty()).then_some(()) }).await;
    let lin = create_contact(&api, "lin@serve.test").await;
    eventually("the second polled contact", || async { (events(&url, &poll, 0).await.len() >= 2).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ids(&events(&url, &poll, 0).await), [kat, lin], "each new contact once, over several polls");

    // A create that waits for a callback: 202, then the API calls back and
    // the invocation has the resumed result.
    let started = post(
        format!("{url}/v1/apps/crm/invoke"),
        json!({"method": "create export_contact", "connection": connection, "input_data": {"contact_id": 2}}),
    )
    .await;
    assert_eq!((started.status, started.body["status"].clone()), (202, json!("callback")), "{}", started.body);
    let invocation = started.body["invocation"].as_str().unwrap().to_string();
    let resumed = eventually("the resumed export", || async {
        let answer = get(format!("{url}/v1/invocations/{invocation}")).await;
        (answer.body["status"] == "success").then_some(answer.body)
    })
    .await;
    assert_eq!(resumed["result"]["resumed"], true, "{resumed}");
    assert_eq!(
        (resumed["result"]["status"].clone(), resumed["result"]["contact_id"].clone()),
        (json!("done"), json!(2))
    );
    let callback_url = &api.state().exports()[0].callback_url;
    let twice = post(callback_url.clone(), json!({"status": "done"})).await;
    assert_eq!((twice.status, twice.kind()), (410, "gone"), "a callback is resumed once");

    // A stashed vCard, downloaded from this service.
    let attached = post(
        format!("{url}/v1/apps/crm/invoke"),
        json!({"method": "create attach_vcard", "connection": connection, "input_data": {"contact_id": 2}}),
    )
    .await;
    assert_eq!(attached.status, 200, "{}", attached.body);
    let file = attached.body["result"]["file"].as_str().unwrap().to_string();
    assert!(file.starts_with(&format!("{url}/files/")), "{file}");
    let download = client().get(&file).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "text/vcard");
    assert!(headers["content-disposition"].to_str().unwrap().contains(".vcf"), "{headers:?}");
    let text = download.text().await.unwrap();
    assert_eq!(headers["content-length"], text.len().to_string().as_str());
    assert!(text.starts_with("BEGIN:VCARD"), "{text}");
    let forged = get(format!("{}x", file)).await;
    assert_eq!((forged.status, forged.kind()), (404, "unknown_file"));

    // Metrics.
    let metrics = client().get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        r#"zapwasm_calls_total{app="crm",method="searches.find_contact.operation.perform",outcome="success"}"#,
        "zapwasm_call_duration_seconds_bucket",
        "zapwasm_calls_in_flight",
        "zapwasm_pending_callbacks",
        r#"zapwasm_subscriptions{kind="hook"} 1"#,
        r#"zapwasm_subscriptions{kind="polling"} 1"#,
        r#"zapwasm_deliveries_total{kind="hook",outcome="duplicate"} 2"#,
        "zapwasm_queue_depth",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    // Unsubscribed: the API's hook is gone, deliveries get 410, events 404.
    let removed = send(client().delete(format!("{url}/v1/subscriptions/{hook}"))).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(api.state().hooks().is_empty(), "performUnsubscribe ran");
    let late = post(target.clone(), delivery).await;
    assert_eq!((late.status, late.kind()), (410, "gone"));
    assert_eq!(get(format!("{url}/v1/subscriptions/{hook}/events")).await.status, 404);

    // No credential in the logs or the state files.
    let logs = served.logs();
    assert!(logs.contains("call") && !logs.contains("demo-key"), "{logs}");
    assert!(!String::from_utf8_lossy(&state_bytes(&dir.path().join("state"))).contains("demo-key"), "sealed at rest");
}

#[tokio::test]
async fn a_killed_service_loses_no_acknowledged_work_and_finishes_it_on_restart() {
    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    // The first process keeps what it receives without running it (no
    // workers): everything is queued when it is killed.
    let first =
        Served::start(dir.path(), &crm_flags(&api, "127.0.0.1:0"), &[("ZAPWASM_QUEUE_WORKERS", "0".into())]).await;
    let url = first.url.clone();
    let listen = url.strip_prefix("http://").unwrap().to_string();
    let connection = connect(&url).await;
    let (hook, _) = subscribe_hook(&url, "crm", &connection).await;
    let mut created = Vec::new();
    for n in 0..3 {
        created.push(create_contact(&api, &format!("queued{n}@serve.test")).await);
    }
    let started = post(
        format!("{url}/v1/apps/crm/invoke"),
        json!({"method": "create export_contact", "connection": connection, "input_data": {"contact_id": 3}}),
    )
    .await;
    assert_eq!(started.status, 202, "{}", started.body);
    let invocation = started.body["invocation"].as_str().unwrap().to_string();
    // Every POST of the API was acknowledged (the three hooks, the callback).
    eventually("the API's four POSTs acknowledged", || async {
        let delivered = api.state().callbacks_delivered();
        (delivered.len() >= 4).then_some(())
    })
    .await;
    assert!(
        api.state().callbacks_delivered().iter().all(|(_, status, _)| *status == 200),
        "{:?}",
        api.state().callbacks_delivered()
    );
    assert!(events(&url, &hook, 0).await.is_empty(), "nothing ran yet");
    assert_eq!(get(format!("{url}/v1/invocations/{invocation}")).await.body["status"], "resuming");
    first.kill();

    // Restarted on the same address and state: the queued work runs.
    let second = Served::start(dir.path(), &crm_flags(&api, &listen), &[]).await;
    assert_eq!(second.url, url);
    let received = eventually("the queued deliveries", || async {
        let events = events(&url, &hook, 0).await;
        (events.len() >= 3).then_some(events)
    })
    .await;
    // The API posts each event from a task of its own, so they may arrive
    // in any order; each is there once.
    assert_eq!(sorted(ids(&received)), created);
    let resumed = eventually("the queued callback", || async {
        let answer = get(format!("{url}/v1/invocations/{invocation}")).await;
        (answer.body["status"] == "success").then_some(answer.body)
    })
    .await;
    assert_eq!(
        (resumed["result"]["resumed"].clone(), resumed["result"]["contact_id"].clone()),
        (json!(true), json!(3))
    );

    // The connection and the subscription outlived the kill.
    let found =
        post(format!("{url}/v1/apps/crm/invoke"), json!({"method": "auth test", "connection": connection})).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let later = create_contact(&api, "after@serve.test").await;
    let all = eventually("a delivery after the restart", || async {
        let events = events(&url, &hook, 0).await;
        (events.len() >= 4).then_some(events)
    })
    .await;
    assert_eq!(ids(&all)[3], later);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = events(&url, &hook, 0).await;
    assert_eq!(all.len(), 4, "nothing emitted twice: {all:#?}\n{}", second.logs());
}

/// Start a service with a control token from a config file (not `--dev`).
async fn with_token(dir: &Path, extra: &str, env: &[(&str, String)]) -> Served {
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"state\"\ncontrol_token = \"test-token\"\n\
         secret_key = \"{}\"\n{extra}\n[apps.fixture]\npath = \"{FIXTURE}\"\n",
        "A".repeat(43) + "="
    );
    std::fs::write(dir.join("zapwasm.toml"), config).unwrap();
    Served::start(dir, &args(&["--config", "zapwasm.toml"]), env).await
}

pub(crate) fn authed(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("authorization", "Bearer test-token").header("content-type", "application/json")
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let served = with_token(dir.path(), "[limits]\nmax_body_bytes = 4096\nmax_hook_body_bytes = 4096", &[]).await;
    let url = served.url.clone();
    let c = client();

    // The control token.
    let missing = send(c.get(format!("{url}/v1/apps"))).await;
    assert_eq!(
        (missing.status, missing.kind(), missing.header("www-authenticate")),
        (401, "unauthorized", Some("Bearer"))
    );
    let wrong = send(c.get(format!("{url}/v1/apps")).header("authorization", "Bearer test-tokeN")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(send(authed(c.get(format!("{url}/v1/apps")))).await.status, 200);
    assert_eq!(get(format!("{url}/healthz")).await.status, 200, "health needs no token");

    let post_raw = |path: &str, body: &str| authed(c.post(format!("{url}{path}"))).body(body.to_string());
    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        ("/v1/apps/fixture/invoke", "{not json".into(), 400, "invalid_json", "not valid JSON"),
        ("/v1/apps/fixture/invoke", "".into(), 400, "bad_request", "body is required"),
        ("/v1/apps/fixture/invoke", "[1, 2]".into(), 400, "bad_request", "an array"),
        ("/v1/apps/fixture/invoke", r#"{"method": 7}"#.into(), 400, "bad_request", "\"method\" must be a string"),
        (
            "/v1/apps/fixture/invoke",
            r#"{"method": "trigger echo", "input_data": []}"#.into(),
            400,
            "bad_request",
            "\"input_data\" must be an object",
        ),
        (
            "/v1/apps/fixture/invoke",
            r#"{"method": "trigger echo", "meta": {"limit": "x"}}"#.into(),
            400,
            "bad_request",
            "\"meta\"",
        ),
        (
            "/v1/apps/fixture/invoke",
            r#"{"method": "trigger echo", "extra": 1}"#.into(),
            400,
            "bad_request",
            "unknown field \"extra\"",
        ),
        ("/v1/apps/fixture/invoke", r#"{"method": "trigger nope"}"#.into(), 404, "no_such_operation", "no trigger"),
        (
            "/v1/apps/fixture/invoke",
            r#"{"method": "triggers.nope.operation.perform"}"#.into(),
            404,
            "no_such_method",
            "no method",
        ),
        (
            "/v1/apps/fixture/invoke",
            r#"{"method": "trigger echo", "connection": "nope"}"#.into(),
            404,
            "unknown_connection",
            "no connection",
        ),
        (
            "/v1/apps/fixture/invoke",
            format!(r#"{{"method": "{}"}}"#, "x".repeat(5000)),
            413,
            "payload_too_large",
            "4096",
        ),
        ("/v1/apps/nope/invoke", r#"{"method": "trigger echo"}"#.into(), 404, "unknown_app", "no app"),
        (
            "/v1/apps/fixture/connections",
            r#"{"auth_data": "key"}"#.into(),
            400,
            "bad_request",
            "\"auth_data\" must be an object",
        ),
        ("/v1/apps/fixture/connections", r#"{"account": "a"}"#.into(), 400, "bad_request", "\"auth_data\" is required"),
        (
            "/v1/apps/fixture/subscriptions",
            r#"{"trigger": "echo"}"#.into(),
            400,
            "bad_request",
            "\"connection\" is required",
        ),
        (
            "/v1/apps/fixture/subscriptions",
            r#"{"trigger": "nope", "connection": "c"}"#.into(),
            404,
            "unknown_trigger",
            "no trigger",
        ),
        (
            "/v1/apps/fixture/subscriptions",
            r#"{"trigger": "echo", "connection": "c", "poll_interval_seconds": 0}"#.into(),
            400,
            "bad_request",
            "poll_interval_seconds",
        ),
        (
            "/v1/apps/fixture/subscriptions",
            r#"{"trigger": "echo", "connection": "nope"}"#.into(),
            404,
            "unknown_connection",
            "no connection",
        ),
        ("/v1/apps", r#"{"name": "a b", "path": "x.wasm"}"#.into(), 400, "bad_request", "\"name\""),
        ("/v1/apps", r#"{"name": "other", "path": "/nonexistent.wasm"}"#.into(), 422, "load_failed", "cannot load"),
        ("/v1/apps", format!(r#"{{"name": "fixture", "path": "{FIXTURE}"}}"#), 409, "conflict", "already"),
        ("/hooks/0123456789abcdef0123456789abcdef", "{}".into(), 410, "gone", "no subscription"),
        ("/hooks/0123456789abcdef0123456789abcdef", "x".repeat(5000), 413, "payload_too_large", "4096"),
        ("/callbacks/0123456789abcdef0123456789abcdef", "{}".into(), 404, "unknown_callback", "no callback"),
    ];
    for (path, body, status, kind, message) in cases {
        let answer = send(post_raw(path, &body)).await;
        assert_eq!((answer.status, answer.kind()), (status, kind), "POST {path} {body:.80}: {}", answer.body);
        let text = answer.body["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "POST {path}: {text:?} should say {message:?}");
    }
    for (path, status, kind) in [
        ("/v1/invocations/nope", 404, "unknown_invocation"),
        ("/v1/connections/nope", 404, "unknown_connection"),
        ("/v1/subscriptions/nope", 404, "unknown_subscription"),
        ("/v1/subscriptions/nope/events", 404, "unknown_subscription"),
        ("/v1/subscriptions/nope/events?after=x", 400, "bad_request"),
        ("/v1/subscriptions/nope/events?limit=5000", 400, "bad_request"),
        ("/v1/apps/nope", 404, "unknown_app"),
        ("/files/not-a-token", 404, "unknown_file"),
        ("/nowhere", 404, "no_route"),
    ] {
        let answer = send(authed(c.get(format!("{url}{path}")))).await;
        assert_eq!((answer.status, answer.kind()), (status, kind), "GET {path}: {}", answer.body);
    }
    let deleted = send(authed(c.delete(format!("{url}/v1/subscriptions/nope")))).await;
    assert_eq!((deleted.status, deleted.kind()), (404, "unknown_subscription"));
    let wrong_method = send(authed(c.put(format!("{url}/v1/apps")))).await;
    assert_eq!((wrong_method.status, wrong_method.kind()), (405, "method_not_allowed"));

    // Nothing was kept, and the service still works.
    let apps = send(authed(c.get(format!("{url}/v1/apps")))).await;
    assert_eq!(apps.body["apps"].as_array().unwrap().len(), 1, "{}", apps.body);
    let metrics = c.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    for line in ["zapwasm_connections 0", "zapwasm_queue_depth 0", r#"zapwasm_subscriptions{kind="hook"} 0"#] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    let echoed =
        send(post_raw("/v1/apps/fixture/invoke", r#"{"method": "trigger echo", "input_data": {"a": 1}}"#)).await;
    assert_eq!(echoed.status, 200, "{}", echoed.body);
    assert_eq!(echoed.body["status"], "success");
}

#[tokio::test]
async fn calls_past_the_limit_get_503_and_a_stop_finishes_the_call_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let served =
        with_token(dir.path(), "[policy]\ntimeout_seconds = 3", &[("ZAPWASM_MAX_CALLS_IN_FLIGHT", "1".into())]).await;
    let url = served.url.clone();
    // `spin` runs until its deadline: 3 s.
    let spin = || {
        send(
            authed(client().post(format!("{url}/v1/apps/fixture/invoke")))
                .body(json!({"method": "trigger spin"}).to_string()),
        )
    };
    let running = tokio::spawn(spin());
    eventually("the first call in flight", || async {
        let metrics = client().get(format!("{url}/metrics")).send().await.ok()?.text().await.ok()?;
        metrics.lines().any(|line| line == "zapwasm_calls_in_flight 1").then_some(())
    })
    .await;
    let refused = spin().await;
    assert_eq!((refused.status, refused.kind(), refused.header("retry-after")), (503, "overloaded", Some("1")));

    // SIGTERM while the first call runs: it is answered, then the process exits.
    let pid = served.child.id();
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let finished = running.await.unwrap();
    assert_eq!((finished.status, finished.kind()), (502, "limit"), "{}", finished.body);
    let mut served = served;
    let status = tokio::task::spawn_blocking(move || {
        let status = served.child.wait();
        (status, served)
    })
    .await
    .unwrap();
    assert!(status.0.unwrap().success());
    assert!(status.1.logs().contains("stopped"), "{}", status.1.logs());
}

#[tokio::test]
async fn serve_refuses_a_config_it_cannot_run_safely() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(ZAPWASM)
            .arg("serve")
            .args(args)
            .current_dir(dir.path())
            .env_remove("ZAPWASM_CONTROL_TOKEN")
            .output()
            .unwrap()
    };
    let no_token = run(&["--listen", "127.0.0.1:0", "--state-dir", "s"]);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("control API needs a token"));
    let public = run(&["--dev", "--listen", "0.0.0.0:0", "--state-dir", "s"]);
    assert_eq!(public.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&public.stderr).contains("loopback only"));
    std::fs::write(dir.path().join("bad.toml"), "listen = 5").unwrap();
    let bad = run(&["--config", "bad.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("listen"), "{}", String::from_utf8_lossy(&bad.stderr));
    let help = run(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for setting in [
        "control_token_file",
        "secret_key_file",
        "[policy]",
        "[limits]",
        "[queue]",
        "[retention]",
        "[apps.crm]",
        "ZAPWASM_LISTEN",
    ] {
        assert!(help.contains(setting), "--help shows {setting}");
    }
}

#[tokio::test]
async fn an_embedder_mounts_the_router_under_a_prefix_of_its_own() {
    use zapwasm_serve::Settings;

    let api = crm_api().await;
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}/zapwasm", listener.local_addr().unwrap());
    let mut settings = Settings::new(&public);
    settings.control_token = Some("embedded-token".into());
    let service = embedded_crm(dir.path(), &public, &api, settings).await;
    let workers = service.start().await.unwrap();
    let mounted = axum::Router::new()
        .route("/", axum::routing::get(|| async { "the embedder's own page" }))
        .nest("/zapwasm", zapwasm_serve::router(service.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, mounted).await });
    let auth = |request: reqwest::RequestBuilder| request.header("authorization", "Bearer embedded-token");

    let connected = send(
        auth(client().post(format!("{public}/v1/apps/crm/connections")))
            .body(r#"{"auth_data": {"api_key": "demo-key"}}"#),
    )
    .await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    let connection = connected.body["id"].as_str().unwrap();
    let body = json!({"trigger": "contact_created_hook", "connection": connection}).to_string();
    let subscribed = send(auth(client().post(format!("{public}/v1/apps/crm/subscriptions"))).body(body)).await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    let target = subscribed.body["target_url"].as_str().unwrap();
    assert!(target.starts_with(&format!("{public}/hooks/")), "hook URLs carry the prefix: {target}");
    let id = create_contact(&api, "embedded@serve.test").await;
    let hook = subscribed.body["id"].as_str().unwrap().to_string();
    let received = eventually("the embedded service's event", || {
        let (public, hook) = (public.clone(), hook.clone());
        async move {
            let answer = send(auth(client().get(format!("{public}/v1/subscriptions/{hook}/events")))).await;
            answer.body["events"].as_array().filter(|events| !events.is_empty()).cloned()
        }
    })
    .await;
    assert_eq!(ids(&received), [id]);
    assert_eq!(get(format!("{public}/v1/apps")).await.status, 401, "the token guards the mounted API");
    workers.shutdown(Duration::from_secs(5)).await;
    server.abort();
}
