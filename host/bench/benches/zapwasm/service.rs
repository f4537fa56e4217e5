//! `service`: `zapwasm serve`'s own cost, against the library's figure for
//! the same work, measured side by side in one run, round by round.
//!
//! - Hook deliveries the whole way: `POST /hooks/{id}` (received, kept in
//!   `service.sqlite3`, answered), run from the queue (the CRM's
//!   `contact_created_hook` perform on the delivery), events stored, and
//!   counted only once `GET /v1/subscriptions/{id}/events` returns them;
//!   against `App::deliver_hook` called directly on the same subscriptions.
//! - Calls: `POST /v1/apps/bench/invoke` (`trigger no_io`, which touches
//!   nothing outside, so the difference is the service's: HTTP, JSON, the
//!   invocation kept durably) against `App::invoke` of the same call.
//!
//! The service runs in this process: its `Router` on a 127.0.0.1 listener,
//! over the very `Host` and loaded `App`s the library side calls, so both
//! sides share the compiled components, the instance pool and the state
//! files' disk, and the ratio is the service's work alone (a process of its
//! own would also count a second host's memory and pool). The load
//! generator (reqwest) shares the two cores with the service, as a local
//! sender would.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use zapwasm_host::{App, Bundle, IncomingRequest, Invocation, Policy, Scope, ScopeKey, Subscription};
use zapwasm_serve::{Service, ServiceState, Settings};

/// Hook subscriptions the deliveries are spread over: the queue runs one
/// subscription's deliveries in order, one at a time, so several let its
/// workers run side by side.
const SUBSCRIPTIONS: usize = 4;
/// Senders posting at once.
const HOOK_CONCURRENCY: usize = 16;
/// Concurrencies of the call comparison.
const INVOKE_CONCURRENCY: [usize; 2] = [1, 16];
const TOKEN: &str = "bench-token";

/// Run the scenario: the bench guest `component`, the CRM built here.
pub fn run(
    component: &Path,
    target: &Path,
    scratch: &Path,
    base_url: &str,
    api_key: &str,
    seconds: f64,
    rounds: u32,
) -> Result<Value, String> {
    eprintln!("building the CRM component (the hook trigger)");
    let crm = crate::setup::build_guest_package(target, "crm")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let dir = scratch.join("service");
    let _ = std::fs::remove_dir_all(&dir);
    let result =
        runtime.block_on(measure(component, &crm, &dir, &scratch.join("cache"), base_url, api_key, seconds, rounds));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What one side did in its rounds.
#[derive(Default, Clone)]
struct Tally {
    done: u64,
    elapsed: Duration,
    latencies_ns: Vec<u64>,
    /// Each round's rate, for the spread of the ratio.
    rates: Vec<f64>,
}

impl Tally {
    fn add(&mut self, done: u64, elapsed: Duration, mut latencies: Vec<u64>) {
        self.done += done;
        self.elapsed += elapsed;
        self.latencies_ns.append(&mut latencies);
        self.rates.push(done as f64 / elapsed.as_secs_f64());
    }

    fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_us(&self, p: f64) -> Option<f64> {
        if self.latencies_ns.is_empty() {
            return None;
        }
        let mut sorted = self.latencies_ns.clone();
        sorted.sort_unstable();
        let at = ((sorted.len() - 1) as f64 * p).round() as usize;
        Some(sorted[at] as f64 / 1000.0)
    }

    fn json(&self) -> Value {
        json!({
            "done": self.done,
            "seconds": self.elapsed.as_secs_f64(),
            "per_s": self.per_second(),
            "median_us": self.percentile_us(0.5),
            "p99_us": self.percentile_us(0.99),
            "rounds_per_s": self.rates,
        })
    }
}

/// Everything both sides call.
struct Bed {
    url: String,
    client: reqwest::Client,
    bench: App,
    crm: App,
    subscriptions: Vec<Subscription>,
    auth: Map<String, Value>,
    next_contact: AtomicU64,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    component: &Path,
    crm_component: &Path,
    dir: &Path,
    cache: &Path,
    base_url: &str,
    api_key: &str,
    seconds: f64,
    rounds: u32,
) -> Result<Value, String> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: &dyn std::fmt::Display| format!("{what}: {e}")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| fail("cannot listen")(&e))?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let state = ServiceState::open(dir, &[7u8; 32]).map_err(|e| fail("cannot open the state")(&e))?;
    let host = state
        .host_builder(&url)
        .policy(Policy::local_development())
        .cache_dir(cache)
        .build()
        .map_err(|e| fail("cannot build the host")(&e))?;
    let bench = host.load_file(component).await.map_err(|e| fail("cannot load the bench guest")(&e))?;
    let crm = host
        .load_file(crm_component)
        .await
        .map_err(|e| fail("cannot load the CRM")(&e))?
        .with_env([("CRM_BASE_URL", base_url.to_string())]);
    let mut settings = Settings::new(&url);
    settings.control_token = Some(TOKEN.into());
    settings.max_calls_in_flight = 1024;
    if let Some(workers) = std::env::var("ZAPWASM_BENCH_QUEUE_WORKERS").ok().and_then(|w| w.parse().ok()) {
        settings.workers = workers;
    }
    let service = Service::new(host, state, settings);
    service.add_app("bench", bench.clone());
    service.add_app("crm", crm.clone());
    let workers = service.start().await.map_err(|e| fail("cannot start the queue")(&e))?;
    let server = tokio::spawn(axum::serve(listener, zapwasm_serve::router(service.clone())).into_future());
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build().map_err(|e| e.to_string())?;

    let auth: Map<String, Value> = [("api_key".to_string(), Value::from(api_key))].into_iter().collect();
    let connected = control(&client, &format!("{url}/v1/apps/crm/connections"), json!({ "auth_data": auth })).await?;
    let connection = connected["id"].as_str().ok_or("the connection has no id")?.to_string();
    let mut subscriptions = Vec::new();
    for _ in 0..SUBSCRIPTIONS {
        let body = json!({ "trigger": "contact_created_hook", "connection": connection });
        let subscribed = control(&client, &format!("{url}/v1/apps/crm/subscriptions"), body).await?;
        let id = subscribed["id"].as_str().ok_or("the subscription has no id")?;
        subscriptions.push(service.host().subscription(id).await.map_err(|e| fail("cannot read a subscription")(&e))?);
    }
    let bed = Arc::new(Bed { url, client, bench, crm, subscriptions, auth, next_contact: AtomicU64::new(1) });

    // Warm up both sides (connections, the pool, the state files' pages).
    let warm = 0.3;
    for &c in &INVOKE_CONCURRENCY {
        invoke_round(&bed, c, warm, Side::Library).await?;
        invoke_round(&bed, c, warm, Side::Service).await?;
    }
    hook_library_round(&bed, warm).await?;
    let mut cursors = vec![0i64; SUBSCRIPTIONS];
    hook_service_round(&bed, warm, &mut cursors).await?;

    let mut invoke: Vec<[Tally; 2]> = vec![Default::default(); INVOKE_CONCURRENCY.len()];
    let mut hooks: [Tally; 2] = Default::default();
    let mut received = Tally::default();
    let mut commits = Tally::default();
    for round in 0..rounds {
        eprintln!("  service round {}/{rounds}", round + 1);
        // Alternate which side goes first.
        let order = if round % 2 == 0 { [Side::Library, Side::Service] } else { [Side::Service, Side::Library] };
        for (i, &c) in INVOKE_CONCURRENCY.iter().enumerate() {
            for side in order {
                let (done, elapsed, latencies) = invoke_round(&bed, c, seconds, side).await?;
                invoke[i][side as usize].add(done, elapsed, latencies);
            }
        }
        for side in order {
            match side {
                Side::Library => {
                    let (done, elapsed, latencies) = hook_library_round(&bed, seconds).await?;
                    hooks[0].add(done, elapsed, latencies);
                }
                Side::Service => {
                    let round = hook_service_round(&bed, seconds, &mut cursors).await?;
                    hooks[1].add(round.stored, round.stored_after, Vec::new());
                    received.add(round.accepted, round.posting, round.latencies);
                }
            }
        }
        let (done, elapsed, latencies) = commit_round(&service, seconds).await?;
        commits.add(done, elapsed, latencies);
    }
    workers.shutdown(Duration::from_secs(10)).await;
    server.abort();

    let mut table = vec![
        "| measure | concurrency | library (`Host`) | service (HTTP) | service / library | per round |".to_string(),
        "|---|---:|---:|---:|---:|---|".to_string(),
    ];
    let mut rows = |measure: &str, c: usize, library: Option<f64>, service: Option<f64>, rounds: &str, digits| {
        let cell = |v: Option<f64>| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into());
        let ratio = match (library, service) {
            (Some(l), Some(s)) if l > 0.0 => format!("{:.3}", s / l),
            _ => "-".into(),
        };
        table.push(format!("| {measure} | {c} | {} | {} | {ratio} | {rounds} |", cell(library), cell(service)));
    };
    let spread = |pair: &[Tally; 2]| {
        let ratios: Vec<String> =
            pair[0].rates.iter().zip(&pair[1].rates).map(|(l, s)| format!("{:.3}", s / l)).collect();
        ratios.join(", ")
    };
    for (i, &c) in INVOKE_CONCURRENCY.iter().enumerate() {
        let [library, service] = &invoke[i];
        let name = "invoke `trigger no_io`, calls/s";
        rows(name, c, Some(library.per_second()), Some(service.per_second()), &spread(&invoke[i]), 0);
        let (l50, s50) = (library.percentile_us(0.5), service.percentile_us(0.5));
        rows("invoke, median latency us", c, l50, s50, "", 1);
        let (l99, s99) = (library.percentile_us(0.99), service.percentile_us(0.99));
        rows("invoke, p99 latency us", c, l99, s99, "", 1);
    }
    rows(
        "hook deliveries to readable events, /s",
        HOOK_CONCURRENCY,
        Some(hooks[0].per_second()),
        Some(hooks[1].per_second()),
        &spread(&hooks),
        0,
    );
    rows("hook deliveries acknowledged (200), /s", HOOK_CONCURRENCY, None, Some(received.per_second()), "", 0);
    rows(
        "hook POST, median latency us",
        HOOK_CONCURRENCY,
        hooks[0].percentile_us(0.5),
        received.percentile_us(0.5),
        "",
        1,
    );
    rows("floor: one durable commit (`set_cursor`), /s", 1, None, Some(commits.per_second()), "", 0);
    rows("floor: one durable commit, median latency us", 1, None, commits.percentile_us(0.5), "", 1);
    let table = table.join("\n");
    println!("\n{table}\n");

    let invoke_json: Map<String, Value> = INVOKE_CONCURRENCY
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let [library, service] = &invoke[i];
            (
                format!("invoke_c{c}"),
                json!({
                    "library": library.json(),
                    "service": service.json(),
                    "ratio_per_s": service.per_second() / library.per_second(),
                }),
            )
        })
        .collect();
    Ok(json!({
        "how": "in-process: the service's Router on 127.0.0.1 over the same Host and Apps the library side calls",
        "rounds": rounds,
        "seconds_per_round": seconds,
        "invoke": invoke_json,
        "hooks": {
            "subscriptions": SUBSCRIPTIONS,
            "concurrency": HOOK_CONCURRENCY,
            "library": hooks[0].json(),
            "service_to_events": hooks[1].json(),
            "service_acknowledged": received.json(),
            "ratio_per_s": hooks[1].per_second() / hooks[0].per_second(),
        },
        "durable_commit": commits.json(),
        "table": table,
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Library = 0,
    Service = 1,
}

/// A control API request that must succeed; its body.
async fn control(client: &reqwest::Client, url: &str, body: Value) -> Result<Value, String> {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("POST {url}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {url}: {e}"))
}

/// `concurrency` loops of `work` for `seconds`: how many succeeded, the
/// time, and each one's latency.
async fn drive<F, Fut>(concurrency: usize, seconds: f64, work: F) -> Result<(u64, Duration, Vec<u64>), String>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let one = Instant::now();
                work().await?;
                latencies.push(one.elapsed().as_nanos() as u64);
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())??);
    }
    Ok((all.len() as u64, started.elapsed(), all))
}

async fn invoke_round(
    bed: &Arc<Bed>,
    concurrency: usize,
    seconds: f64,
    side: Side,
) -> Result<(u64, Duration, Vec<u64>), String> {
    let bed = bed.clone();
    match side {
        Side::Library => {
            drive(concurrency, seconds, move || {
                let bed = bed.clone();
                async move {
                    let call = Invocation::new(
                        "triggers.no_io.operation.perform",
                        Bundle::default(),
                        Scope::new("bench", "-"),
                    );
                    let outcome = bed.bench.invoke(call).await;
                    outcome.result.map(drop).map_err(|e| format!("the library's call failed: {e}"))
                }
            })
            .await
        }
        Side::Service => {
            drive(concurrency, seconds, move || {
                let bed = bed.clone();
                async move {
                    let response = bed
                        .client
                        .post(format!("{}/v1/apps/bench/invoke", bed.url))
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(r#"{"method": "trigger no_io"}"#)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = response.status();
                    let body = response.bytes().await.map_err(|e| e.to_string())?;
                    if status != 200 {
                        return Err(format!(
                            "the service's call answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        ));
                    }
                    Ok(())
                }
            })
            .await
        }
    }
}

/// The floor under every acknowledged write: one commit of the state
/// files' kind (SQLite, WAL, `synchronous = FULL`, on the same disk), one
/// at a time: the library's `set_cursor` on the service's `state.sqlite3`.
async fn commit_round(service: &Service, seconds: f64) -> Result<(u64, Duration, Vec<u64>), String> {
    let service = service.clone();
    let next = Arc::new(AtomicU64::new(0));
    drive(1, seconds, move || {
        let (service, next) = (service.clone(), next.clone());
        async move {
            let scope = ScopeKey::of(&Scope::new("bench-floor", "-"));
            let value = next.fetch_add(1, Ordering::Relaxed).to_string();
            let expires = std::time::SystemTime::now() + Duration::from_secs(3600);
            let cursors = &service.host().stores().cursors;
            cursors.set_cursor(&scope, value, expires).await.map_err(|e| format!("the commit failed: {e}"))
        }
    })
    .await
}

/// A new contact's hook delivery, as the CRM posts it.
fn delivery(bed: &Bed) -> (usize, Vec<u8>) {
    let id = bed.next_contact.fetch_add(1, Ordering::Relaxed);
    let body = json!({"event": "contact.created", "contact": {"id": id, "email": format!("c{id}@bench.test")}});
    ((id as usize) % SUBSCRIPTIONS, body.to_string().into_bytes())
}

async fn hook_library_round(bed: &Arc<Bed>, seconds: f64) -> Result<(u64, Duration, Vec<u64>), String> {
    let bed = bed.clone();
    drive(HOOK_CONCURRENCY, seconds, move || {
        let bed = bed.clone();
        async move {
            let (at, body) = delivery(&bed);
            let request = IncomingRequest {
                method: "POST".into(),
                query: String::new(),
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            };
            let delivered = bed
                .crm
                .deliver_hook(&bed.subscriptions[at], bed.auth.clone(), &request)
                .await
                .map_err(|e| format!("the library's delivery failed: {e}"))?;
            if delivered.items.len() != 1 {
                return Err(format!("a delivery emitted {} items", delivered.items.len()));
            }
            Ok(())
        }
    })
    .await
}

/// A service round: what was acknowledged while posting, and when all of
/// it was readable as events.
struct HookRound {
    accepted: u64,
    posting: Duration,
    latencies: Vec<u64>,
    stored: u64,
    stored_after: Duration,
}

async fn hook_service_round(bed: &Arc<Bed>, seconds: f64, cursors: &mut [i64]) -> Result<HookRound, String> {
    let started = Instant::now();
    let sender = bed.clone();
    let (accepted, posting, latencies) = drive(HOOK_CONCURRENCY, seconds, move || {
        let bed = sender.clone();
        async move {
            let (at, body) = delivery(&bed);
            let target = bed.subscriptions[at].target_url.clone().unwrap_or_default();
            let response = bed
                .client
                .post(target)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let answer = response.bytes().await.map_err(|e| e.to_string())?;
            if status != 200 {
                return Err(format!("a hook delivery answered {status}: {}", String::from_utf8_lossy(&answer)));
            }
            Ok(())
        }
    })
    .await?;
    // Read events until every acknowledged delivery's is there.
    let mut stored = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored < accepted {
        let mut new = 0;
        for (at, cursor) in cursors.iter_mut().enumerate() {
            let id = &bed.subscriptions[at].id;
            let url = format!("{}/v1/subscriptions/{id}/events?after={cursor}&limit=1000", bed.url);
            let response = bed.client.get(url).bearer_auth(TOKEN).send().await.map_err(|e| e.to_string())?;
            let page = response.bytes().await.map_err(|e| e.to_string())?;
            let page: Value = serde_json::from_slice(&page).map_err(|e| e.to_string())?;
            let events = page["events"].as_array().ok_or_else(|| format!("not an events page: {page}"))?;
            new += events.len() as u64;
            *cursor = page["next_after"].as_i64().unwrap_or(*cursor);
        }
        stored += new;
        if stored >= accepted {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {stored} of {accepted} deliveries became events in 120 s"));
        }
        if new == 0 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    Ok(HookRound { accepted, posting, latencies, stored, stored_after: started.elapsed() })
}
