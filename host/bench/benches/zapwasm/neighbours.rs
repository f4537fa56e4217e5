//! `neighbours`: healthy calls alone, next to ONE runaway guest (a guest
//! that loops until its deadline), and next to four, on one host with the
//! background pool (the default) and on one without it
//! (`PoolConfig::background_threads: 0`), round by round; then 256 calls at
//! once, to see how late past their deadline calls end. The targets read
//! the one-runaway phase against the alone phase of the same rounds: the
//! healthy calls' p99 next to it over their p99 alone, and how long after
//! its deadline the runaway call ended (its own time, from just before
//! `invoke` to its outcome, minus the deadline).
//!
//! The driver makes one task per call: a dispatcher keeps `lanes` calls in
//! flight, spawning a task for each as soon as one ends (a loop of calls
//! that never wait would be parked by tokio's cooperative budget, and one
//! slow call would hold its lane's next call back). What was really
//! concurrent is counted: the most calls in flight at once, and the mean
//! (the summed call time over the phase's time).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde_json::{Value, json};
use zapwasm_host::{App, Bundle, CallError, Host, Invocation, LimitKind, Outcome, Policy, PoolConfig};

use crate::stats;
use crate::workers::{self, HTTP_GET, NO_IO, WorkerConfig};

/// Every call's deadline: 300 ms, the fairness target's.
pub const DEADLINE: Duration = Duration::from_millis(300);
/// Guests spinning next to the healthy calls.
pub const SPINNERS: usize = 4;
/// Healthy no-I/O calls in flight at once.
const NO_IO_LANES: usize = 16;
/// Healthy one-GET calls in flight at once (the `http_get` scenario's top
/// level, where an earlier run measured 2,912 calls/s alone).
const HTTP_GET_LANES: usize = 50;
/// The `background_after` of the third host, against the default 10 ms.
const EARLY: Duration = Duration::from_millis(2);
/// Spinning guests next to one-GET calls in the "many spinning" phases.
const MANY_SPINNERS: usize = 64;
/// Calls in flight at once in the crowded phases.
pub const CROWD: usize = 256;

/// The host's background threads, as /proc names them.
const BACKGROUND_THREADS: &str = "zapwasm-backgro";

/// The fixture's trigger that loops forever.
const SPIN: &str = "triggers.spin.operation.perform";

/// How one call ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The expected result.
    Ok,
    /// The timeout limit.
    Timeout,
    /// Anything else.
    Error,
}

/// One call, as its task saw it.
struct Call {
    spinner: bool,
    /// From just before `invoke` to its outcome, on the calling task.
    elapsed: Duration,
    /// `Outcome::duration`: the host's own measure of the call.
    host_duration: Duration,
    ended: Ended,
    error: Option<String>,
}

/// What the tasks of one phase recorded.
#[derive(Default)]
struct Tally {
    calls: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A call to make, returning its outcome.
trait MakeCall: Fn() -> Self::Fut + Clone + Send + Sync + 'static {
    type Fut: Future<Output = Outcome> + Send + 'static;
}

impl<F, Fut> MakeCall for F
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    type Fut = Fut;
}

/// Keep `lanes` calls in flight until `end`, one task per call, then wait
/// for the last; the time that took.
async fn dispatch<F: MakeCall>(
    lanes: usize,
    end: Instant,
    tally: Arc<Tally>,
    spinner: bool,
    expected: usize,
    call: F,
) -> Duration {
    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(lanes));
    while Instant::now() < end {
        let permit = permits.clone().acquire_owned().await.expect("the semaphore is open");
        let (tally, call) = (tally.clone(), call.clone());
        tokio::spawn(async move {
            let now = tally.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            tally.most_in_flight.fetch_max(now, Ordering::Relaxed);
            let t0 = Instant::now();
            let outcome = call().await;
            let elapsed = t0.elapsed();
            tally.in_flight.fetch_sub(1, Ordering::Relaxed);
            let (ended, error) = ended(&outcome, expected);
            let record = Call { spinner, elapsed, host_duration: outcome.duration, ended, error };
            tally.calls.lock().unwrap_or_else(|e| e.into_inner()).push(record);
            drop(permit);
        });
    }
    let _all = permits.acquire_many(lanes as u32).await;
    started.elapsed()
}

fn ended(outcome: &Outcome, expected: usize) -> (Ended, Option<String>) {
    match &outcome.result {
        Ok(json) => match json.parse::<Vec<IgnoredAny>>() {
            Ok(items) if items.len() == expected => (Ended::Ok, None),
            _ => (Ended::Error, Some(format!("unexpected result {}", workers::truncate(json.as_str())))),
        },
        Err(CallError::Limit { limit: LimitKind::Timeout, .. }) => (Ended::Timeout, None),
        Err(error) => (Ended::Error, Some(format!("{}: {error}", error.kind()))),
    }
}

/// The healthy calls of a phase.
#[derive(Clone)]
struct Healthy {
    app: App,
    method: &'static str,
    bundle: Bundle,
    lanes: usize,
}

/// What one phase recorded.
#[derive(Default)]
struct Record {
    calls: Vec<Call>,
    /// The healthy dispatcher's time, the spinning one's.
    healthy_elapsed: Duration,
    spin_elapsed: Duration,
    most_in_flight: usize,
    cpu: Duration,
    /// CPU time of the hosts' background threads during the phase.
    background_cpu: Duration,
}

/// One phase: `healthy` calls (if any) next to `spinners` spinning guests
/// (if any), for `seconds`.
async fn phase(healthy: Option<&Healthy>, spinners: usize, spin: &App, seconds: f64) -> Record {
    let tally = Arc::new(Tally::default());
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let cpu = stats::cpu_time();
    let background_cpu = stats::threads_cpu_time(BACKGROUND_THREADS);
    let healthy_run = healthy.cloned().map(|h| {
        let call = move || {
            let (app, bundle) = (h.app.clone(), h.bundle.clone());
            async move { app.invoke(Invocation::local(h.method, bundle).timeout(DEADLINE)).await }
        };
        tokio::spawn(dispatch(h.lanes, end, tally.clone(), false, 10, call))
    });
    let spin_run = (spinners > 0).then(|| {
        let spin = spin.clone();
        let call = move || {
            let spin = spin.clone();
            async move { spin.invoke(Invocation::local(SPIN, Bundle::default()).timeout(DEADLINE)).await }
        };
        tokio::spawn(dispatch(spinners, end, tally.clone(), true, 0, call))
    });
    let mut record = Record::default();
    if let Some(run) = healthy_run {
        record.healthy_elapsed = run.await.expect("the healthy dispatcher");
    }
    if let Some(run) = spin_run {
        record.spin_elapsed = run.await.expect("the spinning dispatcher");
    }
    record.cpu = stats::cpu_time().saturating_sub(cpu);
    record.background_cpu = stats::threads_cpu_time(BACKGROUND_THREADS).saturating_sub(background_cpu);
    record.calls = std::mem::take(&mut *tally.calls.lock().unwrap_or_else(|e| e.into_inner()));
    record.most_in_flight = tally.most_in_flight.load(Ordering::Relaxed);
    record
}

/// The rounds of one kind of phase as one: calls pooled, times summed.
fn pooled(rounds: Vec<Record>) -> Value {
    let mut all = Record::default();
    let rounds_n = rounds.len();
    for round in rounds {
        all.calls.extend(round.calls);
        all.healthy_elapsed += round.healthy_elapsed;
        all.spin_elapsed += round.spin_elapsed;
        all.most_in_flight = all.most_in_flight.max(round.most_in_flight);
        all.cpu += round.cpu;
        all.background_cpu += round.background_cpu;
    }
    let has = |spinner: bool| all.calls.iter().any(|c| c.spinner == spinner);
    json!({
        "rounds": rounds_n,
        "healthy": has(false).then(|| figures(&all.calls, false, all.healthy_elapsed)),
        "spinners": has(true).then(|| figures(&all.calls, true, all.spin_elapsed)),
        "all": figures_all(&all.calls),
        "most_in_flight": all.most_in_flight,
        "cpu_s": all.cpu.as_secs_f64(),
        "background_cpu_s": all.background_cpu.as_secs_f64(),
    })
}

/// The value at quantile `q` of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Figures of the healthy calls or of the spinners of one phase.
fn figures(calls: &[Call], spinner: bool, elapsed: Duration) -> Value {
    let mine: Vec<&Call> = calls.iter().filter(|c| c.spinner == spinner).collect();
    let count = |e: Ended| mine.iter().filter(|c| c.ended == e).count();
    let mut ok_ms: Vec<f64> = mine.iter().filter(|c| c.ended == Ended::Ok).map(|c| ms(c.elapsed)).collect();
    ok_ms.sort_by(f64::total_cmp);
    // How far past the deadline each call ended (0 for those before it).
    let mut past: Vec<f64> = mine.iter().map(|c| ms(c.elapsed.saturating_sub(DEADLINE))).collect();
    past.sort_by(f64::total_cmp);
    let ok_after_deadline = mine.iter().filter(|c| c.ended == Ended::Ok && c.host_duration > DEADLINE).count();
    let ok_seen_after_deadline = mine.iter().filter(|c| c.ended == Ended::Ok && c.elapsed > DEADLINE).count();
    let busy: Duration = mine.iter().map(|c| c.elapsed).sum();
    json!({
        "calls": mine.len(),
        "ok": count(Ended::Ok),
        "timeouts": count(Ended::Timeout),
        "errors": count(Ended::Error),
        "first_error": mine.iter().find_map(|c| c.error.clone()),
        "elapsed_s": elapsed.as_secs_f64(),
        "ok_per_s": count(Ended::Ok) as f64 / elapsed.as_secs_f64().max(1e-9),
        "median_ms": quantile(&ok_ms, 0.5),
        "p99_ms": quantile(&ok_ms, 0.99),
        "p999_ms": quantile(&ok_ms, 0.999),
        "past_deadline_ms": {
            "p50": quantile(&past, 0.5), "p99": quantile(&past, 0.99),
            "p999": quantile(&past, 0.999), "max": past.last(),
        },
        "ok_after_deadline_host": ok_after_deadline,
        "ok_after_deadline_caller": ok_seen_after_deadline,
        "mean_in_flight": busy.as_secs_f64() / elapsed.as_secs_f64().max(1e-9),
    })
}

/// How far past the deadline the calls of a phase ended, all kinds
/// together, and the results that came after it.
fn figures_all(calls: &[Call]) -> Value {
    let mut past: Vec<f64> = calls.iter().map(|c| ms(c.elapsed.saturating_sub(DEADLINE))).collect();
    past.sort_by(f64::total_cmp);
    let mut timed_out: Vec<f64> =
        calls.iter().filter(|c| c.ended == Ended::Timeout).map(|c| ms(c.elapsed.saturating_sub(DEADLINE))).collect();
    timed_out.sort_by(f64::total_cmp);
    json!({
        "calls": calls.len(),
        "timeouts": timed_out.len(),
        "past_deadline_ms": {
            "p50": quantile(&past, 0.5), "p99": quantile(&past, 0.99),
            "p999": quantile(&past, 0.999), "max": past.last(),
        },
        "timeouts_past_deadline_ms": {
            "p50": quantile(&timed_out, 0.5), "p99": quantile(&timed_out, 0.99),
            "p999": quantile(&timed_out, 0.999), "max": timed_out.last(),
        },
        "ok_after_deadline_host": calls.iter().filter(|c| c.ended == Ended::Ok && c.host_duration > DEADLINE).count(),
    })
}

fn host_with(config: &WorkerConfig, pool: PoolConfig) -> Host {
    Host::builder()
        .policy(Policy::local_development())
        .pool(pool)
        .cache_dir(&config.cache_dir)
        .build()
        .expect("the host builds")
}

/// The scenario: for each healthy kind, `rounds` rounds of alone / next to
/// spinners with the background pool / next to spinners without it; then
/// the crowded phases.
pub async fn run(config: &WorkerConfig) -> Value {
    let with_pool = host_with(config, PoolConfig::default());
    let without_pool = host_with(config, PoolConfig { background_threads: 0, ..PoolConfig::default() });
    // The knob's other side: guests move after 2 ms instead of 10.
    let early = host_with(config, PoolConfig { background_after: EARLY, ..PoolConfig::default() });
    let mut result = serde_json::Map::new();
    result.insert("deadline_ms".into(), ms(DEADLINE).into());
    result.insert("spinners".into(), SPINNERS.into());
    result.insert("background_threads".into(), PoolConfig::default().background_threads.into());
    let mut apps = Vec::new();
    for host in [&with_pool, &without_pool, &early] {
        let bench = workers::load_app(host, config).await.with_env([("BENCH_BASE_URL", config.base_url.clone())]);
        let spin = match host.load_file(&config.fixture).await {
            Ok(app) => app,
            Err(error) => return json!({ "error": format!("the fixture does not load: {error}") }),
        };
        apps.push((bench, spin));
    }
    let kinds = [
        ("no_io", NO_IO, Bundle::default(), NO_IO_LANES),
        ("http_get", HTTP_GET, workers::api_bundle(&config.api_key), HTTP_GET_LANES),
    ];
    for (name, method, bundle, lanes) in kinds {
        let healthy = |i: usize| Healthy { app: apps[i].0.clone(), method, bundle: bundle.clone(), lanes };
        let (on, off) = (healthy(0), healthy(1));
        // Warm both hosts: connection pools, pool slots, the code's pages.
        phase(Some(&on), 0, &apps[0].1, 0.5).await;
        phase(Some(&off), 0, &apps[1].1, 0.5).await;
        let (mut alone, mut one, mut pool, mut no_pool) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..config.rounds {
            alone.push(phase(Some(&on), 0, &apps[0].1, config.seconds).await);
            one.push(phase(Some(&on), 1, &apps[0].1, config.seconds).await);
            pool.push(phase(Some(&on), SPINNERS, &apps[0].1, config.seconds).await);
            no_pool.push(phase(Some(&off), SPINNERS, &apps[1].1, config.seconds).await);
        }
        result.insert(
            name.into(),
            json!({
                "lanes": lanes, "alone": pooled(alone), "one_runaway": pooled(one),
                "pool": pooled(pool), "no_pool": pooled(no_pool),
            }),
        );
    }
    // One-GET calls on the host whose guests move after 2 ms: alone (does
    // any healthy call move? the background threads' CPU says) and next to
    // the spinners.
    {
        let on = Healthy {
            app: apps[2].0.clone(),
            method: HTTP_GET,
            bundle: workers::api_bundle(&config.api_key),
            lanes: HTTP_GET_LANES,
        };
        phase(Some(&on), 0, &apps[2].1, 0.5).await;
        let (mut alone, mut one, mut pool) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..config.rounds {
            alone.push(phase(Some(&on), 0, &apps[2].1, config.seconds).await);
            one.push(phase(Some(&on), 1, &apps[2].1, config.seconds).await);
            pool.push(phase(Some(&on), SPINNERS, &apps[2].1, config.seconds).await);
        }
        result.insert(
            "http_get_early".into(),
            json!({
                "lanes": HTTP_GET_LANES, "alone": pooled(alone), "one_runaway": pooled(one), "pool": pooled(pool),
            }),
        );
    }
    // One-GET calls next to many spinning guests, moving after 10 ms and
    // after 2 ms: what the pre-move slices cost the neighbours.
    {
        let mut many = serde_json::Map::new();
        for (i, key) in [(0, "pool"), (2, "pool_early")] {
            let on = Healthy {
                app: apps[i].0.clone(),
                method: HTTP_GET,
                bundle: workers::api_bundle(&config.api_key),
                lanes: HTTP_GET_LANES,
            };
            let mut rounds = Vec::new();
            for _ in 0..config.rounds {
                rounds.push(phase(Some(&on), MANY_SPINNERS, &apps[i].1, config.seconds).await);
            }
            many.insert(key.into(), pooled(rounds));
        }
        result.insert("many_spinners".into(), Value::Object(many));
    }
    // 256 at once: one-GET calls with four spinning among them, and 256
    // spinning; with and without the background pool.
    let mut crowd = serde_json::Map::new();
    for (i, variant) in ["pool", "no_pool"].into_iter().enumerate() {
        let gets = Healthy {
            app: apps[i].0.clone(),
            method: HTTP_GET,
            bundle: workers::api_bundle(&config.api_key),
            lanes: CROWD - SPINNERS,
        };
        let mut mixed = Vec::new();
        for _ in 0..config.rounds {
            mixed.push(phase(Some(&gets), SPINNERS, &apps[i].1, config.seconds).await);
        }
        crowd.insert(format!("mixed_{variant}"), pooled(mixed));
        let spinning = phase(None, CROWD, &apps[i].1, config.seconds).await;
        crowd.insert(format!("spinning_{variant}"), pooled(vec![spinning]));
    }
    let spinning = phase(None, CROWD, &apps[2].1, config.seconds).await;
    crowd.insert("spinning_pool_early".into(), pooled(vec![spinning]));
    result.insert("crowd".into(), Value::Object(crowd));
    result.insert("vm_hwm_mib".into(), stats::hwm_mib().into());
    Value::Object(result)
}
