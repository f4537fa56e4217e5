//! The scenarios that run inside a worker process (the bench binary started
//! again with `--worker`), one process per scenario so each has its own
//! peak RSS. A worker prints one `RESULT <json>` line on stdout.
//!
//! `http_get_zapwasm` is the exception: it serves the `reference` scenario
//! rounds of `http_get`'s zapwasm side on command, one `PHASE <json>` line
//! each, between the reference's own rounds.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zapwasm_host::{App, Bundle, Host, Invocation, Limits, Policy, PoolConfig};

use crate::stats::{self, Figures, Phase, RssSampler, TaskRecord};

/// What the orchestrator tells a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// `no_io`, `http_get`, `http_get_zapwasm`, `in_flight`, `censor`,
    /// `load`, `neighbours`, `soak`, `snapshot_calls` (the `snapshot`
    /// scenario's calls, for callgrind), or `prime` (fill the
    /// compiled-component cache).
    pub scenario: String,
    /// The bench guest component.
    pub component: PathBuf,
    /// The test fixture component, whose `spin` trigger loops forever
    /// (`neighbours`).
    #[serde(default)]
    pub fixture: PathBuf,
    /// The soak server's base URLs by injected fault (`soak`): `none`,
    /// `500`, `429`, `slow`, `truncated`, `closed`.
    #[serde(default)]
    pub fault_urls: Vec<(String, String)>,
    /// The example CRM API.
    pub base_url: String,
    /// The endpoint that answers after 1 s.
    pub slow_url: String,
    /// The API's key.
    pub api_key: String,
    /// Seconds of one timed round.
    pub seconds: f64,
    /// Rounds per measured figure (alternating with the baseline).
    pub rounds: u32,
    /// Worker threads (`no_io`).
    pub threads: usize,
    /// Invocations at once (`in_flight`).
    pub count: usize,
    /// `zapwasm` or `reqwest` (`in_flight`); the method to call
    /// (`snapshot_calls`, `triggers.op_0.operation.perform` when empty).
    pub side: String,
    /// A compiled-component cache directory.
    pub cache_dir: PathBuf,
}

/// Run the scenario `config` names and print its result.
pub fn main(config: WorkerConfig) {
    let threads = if config.scenario == "no_io" { config.threads } else { 2 };
    stats::count_instructions_of_this_thread();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .on_thread_start(stats::count_instructions_of_this_thread)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match config.scenario.as_str() {
            "no_io" => no_io(&config).await,
            "http_get" => http_get(&config).await,
            "http_get_zapwasm" => http_get_zapwasm(&config).await,
            "in_flight" => in_flight(&config).await,
            "censor" => censor(&config).await,
            "load" => load(&config).await,
            "neighbours" => crate::neighbours::run(&config).await,
            "soak" => crate::soak::run(&config).await,
            "snapshot_calls" => crate::snapshot::calls(&config).await,
            "prime" => {
                let host = local_host(Some(&config.cache_dir));
                let mut cache = vec![format!("{:?}", load_app(&host, &config).await.load_info().cache)];
                if config.fixture.is_file() {
                    let fixture = host.load_file(&config.fixture).await.map(|app| app.load_info().cache);
                    cache.push(format!("{fixture:?}"));
                }
                json!({ "cache": cache })
            }
            other => json!({ "error": format!("unknown scenario {other}") }),
        }
    });
    println!("RESULT {result}");
}

/// A host for local benchmarks: loopback allowed, the default pool
/// ([`bench_pool`]).
pub fn local_host(cache_dir: Option<&PathBuf>) -> Host {
    let mut builder = Host::builder().policy(Policy::local_development()).pool(bench_pool());
    if let Some(dir) = cache_dir {
        builder = builder.cache_dir(dir);
    }
    builder.build().expect("the host builds")
}

pub async fn load_app(host: &Host, config: &WorkerConfig) -> App {
    host.load_file(&config.component).await.expect("the bench component loads")
}

/// `tasks` tasks, each calling `call` back to back until `end` (once when
/// `end` is `None`); their records pooled into one phase.
async fn pooled<F, Fut>(tasks: usize, call: F, end: Option<Instant>) -> Phase
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut record = TaskRecord::default();
                loop {
                    let t0 = Instant::now();
                    let result = call().await;
                    record.record(t0, result);
                    if end.is_none_or(|end| Instant::now() >= end) {
                        break record;
                    }
                }
            })
        })
        .collect();
    let mut phase = Phase::default();
    for handle in handles {
        phase.absorb(handle.await.expect("a benchmark task"));
    }
    phase
}

/// `concurrency` tasks calling `call` back to back for `seconds`.
async fn drive<F, Fut>(concurrency: usize, seconds: f64, call: F) -> Phase
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let sampler = RssSampler::start();
    let cpu = stats::cpu_time();
    let instructions = stats::instructions();
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let mut phase = pooled(concurrency, call, Some(end)).await;
    phase.elapsed = started.elapsed();
    phase.cpu = Some(stats::cpu_time().saturating_sub(cpu));
    phase.instructions = instructions.zip(stats::instructions()).map(|(before, after)| after.saturating_sub(before));
    phase.peak_rss_mib = sampler.stop();
    phase
}

/// The bench guest's triggers, by method path.
pub const NO_IO: &str = "triggers.no_io.operation.perform";
const EMPTY: &str = "triggers.empty.operation.perform";
pub const HTTP_GET: &str = "triggers.http_get.operation.perform";
const HTTP_GET_RAW: &str = "triggers.http_get_raw.operation.perform";

/// A trigger call whose result must be an array of `expected` items.
async fn invoke_expecting(app: App, method: &'static str, bundle: Bundle, expected: usize) -> Result<(), String> {
    let outcome = app.invoke(Invocation::local(method, bundle)).await;
    // Count the items without building them: an embedder that stores or
    // forwards a result never parses it either.
    match outcome.result.map(|json| (json.parse::<Vec<IgnoredAny>>().map(|items| items.len()), json)) {
        Ok((Ok(items), _)) if items == expected => Ok(()),
        Ok((_, json)) => Err(format!("unexpected result {}", truncate(json.as_str()))),
        Err(error) => Err(format!("{}: {error}", error.kind())),
    }
}

pub fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

pub fn api_bundle(api_key: &str) -> Bundle {
    let mut bundle = Bundle::default();
    bundle.auth_data.insert("api_key".into(), api_key.into());
    bundle
}

/// `no_io`: a computed list, a fresh instance per call, on `threads` workers
/// (two tasks per worker), alternating round by round with the `empty`
/// trigger: the same call with no work in it, the floor under `no_io`.
async fn no_io(config: &WorkerConfig) -> Value {
    let host = local_host(Some(&config.cache_dir));
    let app = load_app(&host, config).await;
    let listing = {
        let app = app.clone();
        move || invoke_expecting(app.clone(), NO_IO, Bundle::default(), 10)
    };
    let empty = move || invoke_expecting(app.clone(), EMPTY, Bundle::default(), 0);
    drive(config.threads * 2, 0.5, listing.clone()).await;
    let (mut phases, mut empty_phases) = (Vec::new(), Vec::new());
    for _ in 0..config.rounds {
        phases.push(drive(config.threads * 2, config.seconds, listing.clone()).await);
        empty_phases.push(drive(config.threads * 2, config.seconds, empty.clone()).await);
    }
    json!({
        "threads": config.threads,
        "pooling": host.is_pooling(),
        "figures": Figures::pooled(phases),
        "empty": Figures::pooled(empty_phases),
        "vm_hwm_mib": stats::hwm_mib(),
    })
}

/// The client a direct caller would build: the host's settings (no proxy,
/// no redirects, the same timeouts and user agent, compression on).
fn direct_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("zapwasm/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("a reqwest client")
}

/// What the bench guest's `http_get` does, directly: GET, parse, take the contacts.
async fn direct_get(client: &reqwest::Client, base: &str, api_key: &str) -> Result<(), String> {
    let response = client
        .get(format!("{base}/contacts"))
        .query(&[("limit", "10")])
        .header("X-API-Key", api_key)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    let page: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    match page.get("contacts") {
        Some(Value::Array(items)) if items.len() == 10 => Ok(()),
        _ => Err(format!("unexpected page {}", truncate(&page.to_string()))),
    }
}

/// The bench app with the example API as its `BENCH_BASE_URL`, as
/// `http_get` calls it.
async fn http_get_app(host: &Host, config: &WorkerConfig) -> App {
    load_app(host, config).await.with_env([("BENCH_BASE_URL", config.base_url.clone())])
}

/// `http_get`: the trigger through the host, the same GET by reqwest, and
/// the `http_get_raw` trigger (the floor: the GET without parsing its body),
/// alternating round by round, at concurrency 1, 16 and 50.
async fn http_get(config: &WorkerConfig) -> Value {
    let host = local_host(Some(&config.cache_dir));
    let app = http_get_app(&host, config).await;
    let bundle = api_bundle(&config.api_key);
    let raw = {
        let (app, bundle) = (app.clone(), bundle.clone());
        move || invoke_expecting(app.clone(), HTTP_GET_RAW, bundle.clone(), 0)
    };
    let through_host = move || invoke_expecting(app.clone(), HTTP_GET, bundle.clone(), 10);
    let client = direct_client();
    let direct = {
        let (base, key) = (Arc::new(config.base_url.clone()), Arc::new(config.api_key.clone()));
        move || {
            let (client, base, key) = (client.clone(), base.clone(), key.clone());
            async move { direct_get(&client, &base, &key).await }
        }
    };
    // Warm both connection pools to the largest concurrency.
    drive(50, 0.5, direct.clone()).await;
    drive(50, 0.5, through_host.clone()).await;
    let mut levels = serde_json::Map::new();
    for concurrency in [1usize, 16, 50] {
        let (mut zapwasm, mut reqwest, mut unparsed) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..config.rounds {
            reqwest.push(drive(concurrency, config.seconds, direct.clone()).await);
            zapwasm.push(drive(concurrency, config.seconds, through_host.clone()).await);
            unparsed.push(drive(concurrency, config.seconds, raw.clone()).await);
        }
        levels.insert(
            concurrency.to_string(),
            json!({
                "zapwasm": Figures::pooled(zapwasm),
                "reqwest": Figures::pooled(reqwest),
                "raw": Figures::pooled(unparsed),
            }),
        );
    }
    json!({ "concurrency": levels, "vm_hwm_mib": stats::hwm_mib() })
}

/// `http_get_zapwasm`: `http_get`'s zapwasm side, one round at a time on
/// command, in one long-lived process, as the reference runs its side: after
/// a warm-up at concurrency 50 it prints `READY`, then for each stdin line
/// `load <concurrency> <milliseconds>` runs one round and prints `PHASE
/// <json>` (the round's raw record, see [`phase_json`]), until `done` or the
/// end of stdin. The `reference` scenario alternates these rounds with the
/// reference's and pools them.
async fn http_get_zapwasm(config: &WorkerConfig) -> Value {
    let host = local_host(Some(&config.cache_dir));
    let app = http_get_app(&host, config).await;
    let bundle = api_bundle(&config.api_key);
    let through_host = move || invoke_expecting(app.clone(), HTTP_GET, bundle.clone(), 10);
    drive(50, 0.5, through_host.clone()).await;
    println!("READY");
    let mut rounds = 0;
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (concurrency, millis) = match words.as_slice() {
            ["load", c, ms] => match (c.parse::<usize>(), ms.parse::<u64>()) {
                (Ok(c), Ok(ms)) => (c.max(1), ms),
                _ => return json!({ "error": format!("bad command {line:?}") }),
            },
            ["done"] => break,
            _ => return json!({ "error": format!("unknown command {line:?}") }),
        };
        let phase = drive(concurrency, millis as f64 / 1e3, through_host.clone()).await;
        println!("PHASE {}", json!({ "concurrency": concurrency, "phase": phase_json(&phase) }));
        rounds += 1;
    }
    json!({ "rounds": rounds, "pooling": host.is_pooling(), "vm_hwm_mib": stats::hwm_mib() })
}

/// A phase's raw record as JSON, for the orchestrator to pool with other
/// rounds: `latencies_ns`, `errors`, `first_error`, `elapsed_s`,
/// `peak_rss_mib`, and, where measured, `cpu_s` and `instructions`.
fn phase_json(phase: &Phase) -> Value {
    json!({
        "latencies_ns": phase.latencies_ns,
        "errors": phase.errors,
        "first_error": phase.first_error,
        "elapsed_s": phase.elapsed.as_secs_f64(),
        "peak_rss_mib": phase.peak_rss_mib,
        "cpu_s": phase.cpu.map(|cpu| cpu.as_secs_f64()),
        "instructions": phase.instructions,
    })
}

/// Reset this process's peak RSS (VmHWM) to its current RSS. Linux allows it
/// through /proc/self/clear_refs; false where it does not.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `in_flight`: `count` calls at once against the slow endpoint's hold
/// group, which answers none until all `count` have arrived (and then
/// [`HOLD_LINGER`](crate::servers::HOLD_LINGER) more), through the host or
/// by reqwest; how much memory they hold while every one of them waits.
///
/// Besides the peak RSS (VmHWM, reset just before the calls), it reports
/// the largest RSS sampled before the first call ended (every call still
/// waiting), and, taken when the endpoint held them all, a breakdown of the
/// resident set by mapping ([`stats::smaps_breakdown`]) and the bytes
/// malloc had handed out ([`stats::malloc_in_use_mib`]).
async fn in_flight(config: &WorkerConfig) -> Value {
    let count = config.count;
    let pool = in_flight_pool(count);
    let limits = Limits { timeout: Duration::from_secs(150), memory_bytes: 16 << 20, ..Limits::default() };
    let policy = Policy { limits, ..Policy::local_development() };
    let host = Host::builder().policy(policy).pool(pool.clone()).cache_dir(&config.cache_dir).build();
    let host = match host {
        Ok(host) => host,
        Err(error) => return json!({ "error": format!("the host does not build with {pool:?}: {error}") }),
    };
    let loaded = load_app(&host, config).await;
    let hold_url = crate::servers::hold_url(&config.slow_url, count);
    let app = loaded.clone().with_env([("BENCH_BASE_URL", hold_url.clone())]);
    let warm_app = loaded.with_env([("BENCH_BASE_URL", config.slow_url.clone())]);
    let bundle = api_bundle(&config.api_key);
    let client = direct_client();
    let first_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Each side's call is a future of its own type, boxed: one future type
    // for both would give every reqwest task room for the host's call.
    type Call = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;
    let call = |app: App, base: String, mark: Option<Arc<std::sync::atomic::AtomicBool>>| {
        let (side, base, key) = (config.side.clone(), Arc::new(base), Arc::new(config.api_key.clone()));
        let (bundle, client) = (bundle.clone(), client.clone());
        move || -> Call {
            let mark = mark.clone();
            let done = move |result: Result<(), String>| {
                if let Some(mark) = mark {
                    mark.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                result
            };
            if side == "reqwest" {
                let (client, base, key) = (client.clone(), base.clone(), key.clone());
                Box::pin(async move { done(direct_get(&client, &base, &key).await) })
            } else {
                let (app, bundle) = (app.clone(), bundle.clone());
                Box::pin(async move { done(invoke_expecting(app, HTTP_GET, bundle, 10).await) })
            }
        }
    };
    // One call first (to the endpoint that answers after 1 s, not the hold
    // group): the first request pays for lazy set-up (the client's pools,
    // the runtime's timers) that is not per invocation.
    if let Err(error) = call(warm_app, config.slow_url.clone(), None)().await {
        return json!({ "error": format!("the warm-up call failed: {error}") });
    }
    let idle_rss = stats::rss_mib();
    let idle_breakdown = stats::smaps_breakdown(12);
    let idle_malloc = stats::malloc_in_use_mib();
    let hwm_reset = reset_peak_rss();
    let sampler = RssSampler::with_mark(first_done.clone());
    // The breakdown when the endpoint holds every call: asked on a client of
    // its own (one connection, kept), every 50 ms until all are held.
    let watcher = {
        let (client, holding_url, first_done) =
            (direct_client(), format!("{}/holding", config.slow_url), first_done.clone());
        tokio::spawn(async move {
            while !first_done.load(std::sync::atomic::Ordering::SeqCst) {
                let held = match client.get(&holding_url).send().await {
                    Ok(response) => response.text().await.ok().and_then(|t| t.trim().parse::<usize>().ok()),
                    Err(_) => None,
                };
                if held == Some(count) {
                    return Some((stats::rss_mib(), stats::malloc_in_use_mib(), stats::smaps_breakdown(12)));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None
        })
    };
    let started = Instant::now();
    let mut phase = pooled(count, call(app, hold_url, Some(first_done)), None).await;
    phase.elapsed = started.elapsed();
    let (sampled_peak, while_waiting) = sampler.stop_with_mark();
    phase.peak_rss_mib = sampled_peak;
    let at_full_hold = watcher.await.ok().flatten();
    let hwm = stats::hwm_mib();
    let peak = if hwm_reset { hwm.max(phase.peak_rss_mib) } else { phase.peak_rss_mib };
    let completed = phase.latencies_ns.len();
    let figures = Figures::pooled(vec![phase]);
    json!({
        "side": config.side,
        "count": count,
        "completed": completed,
        "pooling": host.is_pooling(),
        "pool": { "instances": pool.instances, "max_memory_bytes": pool.max_memory_bytes,
                  "memories_per_component": pool.memories_per_component, "keep_resident_bytes": pool.keep_resident_bytes },
        "idle_rss_mib": idle_rss,
        "peak_rss_mib": peak,
        "peak_from": if hwm_reset { "VmHWM reset before the calls" } else { "VmRSS sampled every 10 ms" },
        "rss_while_all_waiting_mib": while_waiting,
        "rss_at_full_hold_mib": at_full_hold.as_ref().map(|(rss, _, _)| *rss),
        "malloc_in_use_idle_mib": idle_malloc,
        "malloc_in_use_at_full_hold_mib": at_full_hold.as_ref().and_then(|(_, malloc, _)| *malloc),
        "smaps_idle": idle_breakdown,
        "smaps_at_full_hold": at_full_hold.map(|(_, _, breakdown)| breakdown),
        "figures": figures,
    })
}

/// The pool of an in-flight run: a slot per call, 16 MiB memories.
fn in_flight_pool(count: usize) -> PoolConfig {
    PoolConfig { instances: count.max(1_000) as u32, max_memory_bytes: 16 << 20, ..bench_pool() }
}

/// The default pool, but `keep_resident_bytes` when
/// `ZAPWASM_BENCH_KEEP_RESIDENT_KIB` sets it (to measure what it costs in
/// calls/s, and what the slots of calls already ended keep at a peak).
fn bench_pool() -> PoolConfig {
    let default = PoolConfig::default();
    let keep_resident_bytes = std::env::var("ZAPWASM_BENCH_KEEP_RESIDENT_KIB")
        .ok()
        .and_then(|kib| kib.parse::<usize>().ok())
        .map_or(default.keep_resident_bytes, |kib| kib << 10);
    PoolConfig { keep_resident_bytes, ..default }
}

/// The 20 secrets the bench guest's `censor` trigger writes into its lines.
fn censor_secrets() -> serde_json::Map<String, Value> {
    (0..20)
        .map(|i| (format!("secret_{i:02}"), Value::from(format!("sk_live_{i:02}_9f8e7d6c5b4a39281706f5e4d3c2b1a0"))))
        .collect()
}

/// `censor`: 200 log lines holding 20 secrets, with those secrets as
/// authData (every one censored) and without (nothing to censor).
async fn censor(config: &WorkerConfig) -> Value {
    let host = local_host(Some(&config.cache_dir));
    let app = load_app(&host, config).await;
    let call = |with_secrets: bool| {
        let app = app.clone();
        move || {
            let app = app.clone();
            async move {
                let mut bundle = Bundle::default();
                if with_secrets {
                    bundle.auth_data = censor_secrets();
                }
                let outcome = app.invoke(Invocation::local("triggers.censor.operation.perform", bundle)).await;
                if let Err(error) = outcome.result {
                    return Err(format!("{}: {error}", error.kind()));
                }
                let leaked = outcome.logs.iter().any(|line| line.message.contains("sk_live_"));
                let censored = outcome.logs.iter().filter(|line| line.message.contains(":censored:")).count();
                match (with_secrets, outcome.logs.len(), leaked, censored) {
                    (_, lines, _, _) if lines < 200 => Err(format!("only {lines} log lines")),
                    (true, _, false, 200) | (false, _, true, 0) => Ok(()),
                    (_, _, leaked, censored) => Err(format!("leaked {leaked}, {censored} lines censored")),
                }
            }
        }
    };
    drive(1, 0.5, call(true)).await;
    drive(1, 0.5, call(false)).await;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..config.rounds {
        without.push(drive(1, config.seconds, call(false)).await);
        with.push(drive(1, config.seconds, call(true)).await);
    }
    json!({
        "with_secrets": Figures::pooled(with),
        "without_secrets": Figures::pooled(without),
        "vm_hwm_mib": stats::hwm_mib(),
    })
}

/// `load`: loading the component with an empty cache (compile), and from
/// the cache (map in), timed around `Host::load_file` and as the host
/// reports it (`LoadInfo::duration`).
async fn load(config: &WorkerConfig) -> Value {
    let dir = config.cache_dir.join(format!("load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let host = local_host(Some(&dir));
    let mut compile = Vec::new();
    let first = Instant::now();
    let app = load_app(&host, config).await;
    compile.push(first.elapsed().as_nanos() as u64);
    let first_cache = format!("{:?}", app.load_info().cache);
    drop(app);
    let (mut wall, mut reported, mut hits) = (Vec::new(), Vec::new(), 0);
    for _ in 0..300 {
        let t0 = Instant::now();
        let app = load_app(&host, config).await;
        wall.push(t0.elapsed().as_nanos() as u64);
        reported.push(app.load_info().duration.as_nanos() as u64);
        hits += u64::from(format!("{:?}", app.load_info().cache) == "Hit");
    }
    let uncached = local_host(None);
    for _ in 0..4 {
        let t0 = Instant::now();
        drop(load_app(&uncached, config).await);
        compile.push(t0.elapsed().as_nanos() as u64);
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Loads one after another: the rate is the inverse of their mean time.
    let figures = |nanos: Vec<u64>| {
        let total = Duration::from_nanos(nanos.iter().sum());
        Figures::from_latencies(nanos, 0, None, total, stats::hwm_mib())
    };
    json!({
        "first_load_cache": first_cache,
        "cache_hits": hits,
        "cached_load_file": figures(wall),
        "cached_load_info": figures(reported),
        "compile_load_file": figures(compile),
        "component_bytes": std::fs::metadata(&config.component).map(|m| m.len()).unwrap_or(0),
    })
}
