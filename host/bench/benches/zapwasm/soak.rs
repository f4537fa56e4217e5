//! `soak`: 100,000 one-GET calls against an upstream that fails about 3% of
//! the time (500s, 429s, closed connections, slow and truncated answers),
//! at 32 and then 256 calls in flight, one task per call: how each injected
//! fault ended (the confusion table), the resident set at 10k, 50k and
//! 100k calls and its slope, and any call not accounted for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde_json::{Value, json};
use zapwasm_host::{App, CallError, Host, Invocation, LimitKind, Outcome, Policy, PoolConfig};

use crate::stats;
use crate::workers::{self, HTTP_GET, WorkerConfig};

/// Calls per soak run.
pub const CALLS: usize = 100_000;
/// The runs: calls in flight, and the pool's `keep_resident_bytes` (each
/// run on a fresh host, dropped after it).
const RUNS: [(usize, usize); 3] = [(32, 1 << 20), (256, 1 << 20), (256, 64 << 10)];
/// Every call's deadline: past the `slow` fault's answer time.
const DEADLINE: Duration = Duration::from_secs(1);
/// Completed calls at which the resident set is read.
const RSS_AT: [usize; 3] = [10_000, 50_000, 100_000];

/// The fault injected into call `i`: about 3% of calls, the five faults
/// alike, spread by a fixed hash so every run injects the same.
fn fault_of(i: usize) -> usize {
    // splitmix64
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let r = z % 10_000;
    if r < 300 { 1 + (r % 5) as usize } else { 0 }
}

/// The kind of outcome, for the confusion table.
fn outcome_kind(outcome: &Outcome) -> String {
    match &outcome.result {
        Ok(json) => match json.parse::<Vec<IgnoredAny>>() {
            Ok(items) if items.len() == 10 => "ok".into(),
            _ => "ok, wrong result".into(),
        },
        Err(CallError::Limit { limit: LimitKind::Timeout, .. }) => "timeout".into(),
        Err(error) => error.kind().into(),
    }
}

#[derive(Default)]
struct Tally {
    /// (injected fault, outcome kind) -> calls.
    confusion: Mutex<BTreeMap<(usize, String), usize>>,
    /// Latencies of successful calls without a fault, microseconds.
    ok_us: Mutex<Vec<u64>>,
    completed: AtomicUsize,
    rss: Mutex<Vec<(usize, f64)>>,
    /// Examples of unexpected outcomes.
    examples: Mutex<BTreeMap<String, String>>,
}

/// One soak run: `CALLS` calls, `lanes` in flight, one task per call.
async fn soak(apps: &[App], bundle: &zapwasm_host::Bundle, lanes: usize) -> Value {
    let tally = Arc::new(Tally::default());
    let permits = Arc::new(tokio::sync::Semaphore::new(lanes));
    let rss_before = stats::rss_mib();
    let started = Instant::now();
    for i in 0..CALLS {
        let permit = permits.clone().acquire_owned().await.expect("the semaphore is open");
        let fault = fault_of(i);
        let (app, bundle, tally) = (apps[fault].clone(), bundle.clone(), tally.clone());
        // Not kept: a finished task's handle would keep its memory, and
        // the resident set is what is measured. A task that panicked
        // records nothing and shows as not accounted for.
        drop(tokio::spawn(async move {
            let t0 = Instant::now();
            let outcome = app.invoke(Invocation::local(HTTP_GET, bundle).timeout(DEADLINE)).await;
            let elapsed = t0.elapsed();
            let kind = outcome_kind(&outcome);
            if fault == 0 && kind == "ok" {
                tally.ok_us.lock().unwrap_or_else(|e| e.into_inner()).push(elapsed.as_micros() as u64);
            }
            if kind != "ok" {
                let example = match &outcome.result {
                    Err(error) => format!("{error}"),
                    Ok(json) => workers::truncate(json.as_str()),
                };
                let key = format!("{} -> {kind}", crate::servers::FAULTS[fault]);
                tally.examples.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(example);
            }
            *tally.confusion.lock().unwrap_or_else(|e| e.into_inner()).entry((fault, kind)).or_default() += 1;
            let done = tally.completed.fetch_add(1, Ordering::SeqCst) + 1;
            if RSS_AT.contains(&done) {
                tally.rss.lock().unwrap_or_else(|e| e.into_inner()).push((done, stats::rss_mib()));
            }
            drop(permit);
        }));
    }
    let _all = permits.acquire_many(lanes as u32).await;
    let elapsed = started.elapsed();
    let confusion = std::mem::take(&mut *tally.confusion.lock().unwrap_or_else(|e| e.into_inner()));
    let recorded: usize = confusion.values().sum();
    let mut injected = vec![0usize; crate::servers::FAULTS.len()];
    for i in 0..CALLS {
        injected[fault_of(i)] += 1;
    }
    let table: Vec<Value> = confusion
        .iter()
        .map(|((fault, kind), n)| json!({ "fault": crate::servers::FAULTS[*fault], "outcome": kind, "calls": n }))
        .collect();
    let mut rss = std::mem::take(&mut *tally.rss.lock().unwrap_or_else(|e| e.into_inner()));
    rss.sort_by_key(|(at, _)| *at);
    let at = |n: usize| rss.iter().find(|(at, _)| *at == n).map(|(_, mib)| *mib);
    // KiB per 1,000 calls between 50k and 100k, when the pool should have
    // settled.
    let slope = at(50_000).zip(at(100_000)).map(|(a, b)| (b - a) * 1024.0 / 50.0);
    let mut ok_us = std::mem::take(&mut *tally.ok_us.lock().unwrap_or_else(|e| e.into_inner()));
    ok_us.sort_unstable();
    let q = |q: f64| {
        let rank = ((q * ok_us.len() as f64).ceil() as usize).clamp(1, ok_us.len().max(1));
        ok_us.get(rank - 1).map(|us| *us as f64 / 1e3)
    };
    json!({
        "lanes": lanes,
        "calls": CALLS,
        "recorded": recorded,
        "not_accounted_for": CALLS.saturating_sub(recorded),
        "injected": crate::servers::FAULTS.iter().zip(&injected).map(|(f, n)| (f.to_string(), Value::from(*n))).collect::<serde_json::Map<_, _>>(),
        "confusion": table,
        "examples": std::mem::take(&mut *tally.examples.lock().unwrap_or_else(|e| e.into_inner())),
        "elapsed_s": elapsed.as_secs_f64(),
        "calls_per_s": CALLS as f64 / elapsed.as_secs_f64(),
        "ok_median_ms": q(0.5),
        "ok_p99_ms": q(0.99),
        "rss_before_mib": rss_before,
        "rss_mib": rss.iter().map(|(at, mib)| json!({ "calls": at, "mib": mib })).collect::<Vec<_>>(),
        "rss_slope_kib_per_1000_calls": slope,
    })
}

/// The scenario: for each run a fresh host with the defaults (but loopback
/// allowed, and the run's `keep_resident_bytes`), the one-GET trigger
/// against each fault's URL.
pub async fn run(config: &WorkerConfig) -> Value {
    let mut runs = Vec::new();
    for (lanes, keep_resident_bytes) in RUNS {
        let pool = PoolConfig { keep_resident_bytes, ..PoolConfig::default() };
        let host = Host::builder()
            .policy(Policy::local_development())
            .pool(pool)
            .cache_dir(&config.cache_dir)
            .build()
            .expect("the host builds");
        let bench = workers::load_app(&host, config).await;
        let mut apps = Vec::new();
        for fault in crate::servers::FAULTS {
            let Some((_, url)) = config.fault_urls.iter().find(|(f, _)| f == fault) else {
                return json!({ "error": format!("no URL for the fault {fault}") });
            };
            apps.push(bench.clone().with_env([("BENCH_BASE_URL", url.clone())]));
        }
        let bundle = workers::api_bundle(&config.api_key);
        eprintln!("  soak: {CALLS} calls, {lanes} in flight, keep_resident_bytes {keep_resident_bytes}");
        let mut run = soak(&apps, &bundle, lanes).await;
        run["keep_resident_kib"] = (keep_resident_bytes >> 10).into();
        run["pooling"] = host.is_pooling().into();
        runs.push(run);
        drop((apps, bench, host));
        // Let the pool's mappings go before the next run measures.
        tokio::time::sleep(Duration::from_millis(200)).await;
        runs.last_mut().expect("a run")["rss_after_drop_mib"] = stats::rss_mib().into();
    }
    json!({
        "deadline_ms": DEADLINE.as_secs_f64() * 1e3,
        "runs": runs,
        "vm_hwm_mib": stats::hwm_mib(),
    })
}
