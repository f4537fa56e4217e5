//! The `snapshot` scenario: what a call pays for the size of the app, with
//! the app built on every call (plain components) and built once, at build
//! time (snapshotted by `zapwasm_build::snapshot`, as `zapwasm build` does).
//!
//! The guest (`tests/guests/bench-ops`) is built twice, with 1 operation and
//! with 40; each is snapshotted, and the four components are called one
//! call after another (`triggers.op_0.operation.perform`, no I/O; the
//! 40-operation snapshot also with `op_39`, which the SDK's method lookup
//! finds first) on one thread of this process, in rounds that alternate
//! between them. Per call:
//! calls/s, CPU time (the process's, user and system, and the system part),
//! minor page faults (the process's, `getrusage`'s `ru_minflt`) and
//! user-space instructions (this thread's counter, where the machine has
//! one). The
//! baseline is the 1-operation plain component, measured in the same run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zapwasm_host::{App, Bundle, Host, Invocation};

use crate::stats;

/// The method the calls run: the first operation, which the SDK's lookup
/// (from the last operation back) reaches last.
const METHOD: &str = "triggers.op_0.operation.perform";

/// The last operation of the 40, found first: the row that shows what the
/// lookup costs.
const LAST: &str = "triggers.op_39.operation.perform";

/// Calls before timing, per component (compiles nothing: the host loaded it).
const WARM_UP: u32 = 200;

/// The components and what they are called with: (label, operations,
/// snapshotted, path, method).
type Components = Vec<(String, usize, bool, PathBuf, &'static str)>;

/// Builds the guest twice, snapshots both, and copies the four components
/// into `scratch`.
fn components(target: &Path, scratch: &Path) -> Result<Components, String> {
    let dir = scratch.join("snapshot");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for (operations, features) in [(1, vec![]), (40, vec!["bench_ops/forty"])] {
        eprintln!("building the bench_ops guest with {operations} operation(s)");
        let options = zapwasm_build::Options::new(&root)
            .packages(["bench_ops"])
            .features(features)
            .target_dir(target.join("bench-guests"))
            .quiet(true);
        let built = zapwasm_build::build_all(&options).map_err(|e| e.to_string())?;
        let built = built.first().ok_or("the build made no component")?;
        let plain = dir.join(format!("ops_{operations}.wasm"));
        std::fs::copy(&built.component, &plain).map_err(|e| e.to_string())?;
        let snapshotted = dir.join(format!("ops_{operations}.snapshot.wasm"));
        let snapshot = zapwasm_build::snapshot::snapshot_file(&plain, &snapshotted).map_err(|e| format!("{e:?}"))?;
        eprintln!(
            "  {} KiB plain, {} KiB snapshotted, snapshot in {:.2} s",
            snapshot.size_before / 1024,
            snapshot.size_after / 1024,
            snapshot.duration.as_secs_f64()
        );
        out.push((format!("{operations} op, plain"), operations, false, plain, METHOD));
        out.push((format!("{operations} op, snapshotted"), operations, true, snapshotted.clone(), METHOD));
        if operations == 40 {
            out.push((format!("{operations} op, snapshotted, op_39"), operations, true, snapshotted, LAST));
        }
    }
    Ok(out)
}

/// What one timed stretch of calls cost.
#[derive(Default, Clone, Copy)]
struct Totals {
    calls: u64,
    wall: Duration,
    cpu: Duration,
    system: Duration,
    minor_faults: u64,
    instructions: Option<u64>,
}

/// What `getrusage` says this process (all its threads) has used so far:
/// system CPU time, and minor page faults (`ru_minflt`, the pages mapped
/// in afresh).
fn usage() -> (Duration, u64) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return (Duration::ZERO, 0);
    }
    let system = Duration::new(usage.ru_stime.tv_sec as u64, usage.ru_stime.tv_usec as u32 * 1000);
    (system, usage.ru_minflt as u64)
}

/// Minor page faults this process has taken so far.
fn minor_faults() -> u64 {
    usage().1
}

/// Calls `app` one call after another for `seconds`.
async fn stretch(app: &App, method: &str, seconds: f64) -> Result<Totals, String> {
    let (started, cpu, (system, faults), instructions) =
        (Instant::now(), stats::cpu_time(), usage(), stats::instructions());
    let mut calls = 0;
    while started.elapsed().as_secs_f64() < seconds {
        call(app, method).await?;
        calls += 1;
    }
    let (system_now, faults_now) = usage();
    Ok(Totals {
        calls,
        wall: started.elapsed(),
        cpu: stats::cpu_time().saturating_sub(cpu),
        system: system_now.saturating_sub(system),
        minor_faults: faults_now.saturating_sub(faults),
        instructions: instructions.zip(stats::instructions()).map(|(before, after)| after - before),
    })
}

async fn call(app: &App, method: &str) -> Result<(), String> {
    call_with(app, method, Bundle::default()).await
}

async fn call_with(app: &App, method: &str, bundle: Bundle) -> Result<(), String> {
    let outcome = app.invoke(Invocation::local(method, bundle)).await;
    outcome.result.map(drop).map_err(|e| format!("{e:?}"))
}

/// Runs the scenario and prints its table; the figures as JSON.
pub fn run(target: &Path, scratch: &Path, seconds: f64, rounds: u32) -> Result<Value, String> {
    let components = components(target, scratch)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    stats::count_instructions_of_this_thread();
    let totals = runtime.block_on(async {
        let host = Host::builder().build().map_err(|e| e.to_string())?;
        let mut apps = Vec::new();
        for (_, _, _, path, method) in &components {
            let app = host.load_file(path).await.map_err(|e| format!("{}: {e}", path.display()))?;
            for _ in 0..WARM_UP {
                call(&app, method).await?;
            }
            apps.push((app, *method));
        }
        let mut totals = vec![(Totals::default(), Vec::new()); apps.len()];
        for round in 0..rounds {
            eprintln!("snapshot: round {} of {rounds}", round + 1);
            for ((app, method), (total, per_round)) in apps.iter().zip(totals.iter_mut()) {
                let timed = stretch(app, method, seconds).await?;
                per_round.push(timed.cpu.as_secs_f64() * 1e6 / timed.calls.max(1) as f64);
                total.calls += timed.calls;
                total.wall += timed.wall;
                total.cpu += timed.cpu;
                total.system += timed.system;
                total.minor_faults += timed.minor_faults;
                total.instructions = timed.instructions.map(|n| n + total.instructions.unwrap_or(0));
            }
        }
        Ok::<_, String>(totals)
    })?;

    let per_call = |t: &Totals| {
        let calls = t.calls.max(1) as f64;
        (
            t.calls as f64 / t.wall.as_secs_f64(),
            t.cpu.as_secs_f64() * 1e6 / calls,
            t.instructions.map(|n| n as f64 / calls),
            t.minor_faults as f64 / calls,
            t.system.as_secs_f64() * 1e6 / calls,
        )
    };
    let (_, base_cpu, base_instructions, _, _) = per_call(&totals[0].0);
    println!("\n### The app snapshotted at build time ({METHOD} unless said, one call after another, one thread)\n");
    println!(
        "| component | operations | calls/s | CPU µs/call | rounds' CPU µs/call, min-max | of which system µs/call | minor page faults/call | instructions/call | CPU vs 1 op plain |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for ((label, operations, snapshotted, _, method), (total, per_round)) in components.iter().zip(&totals) {
        let (rate, cpu, instructions, faults, system) = per_call(total);
        let low = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let high = per_round.iter().copied().fold(0.0, f64::max);
        println!(
            "| {label} | {operations} | {rate:.0} | {cpu:.1} | {low:.1}-{high:.1} | {system:.1} | {faults:.2} | {} | {:.2}x |",
            instructions.map_or_else(|| "n/a".to_string(), |n| format!("{:.0}k", n / 1000.0)),
            cpu / base_cpu
        );
        rows.push(json!({
            "component": label,
            "operations": operations,
            "snapshotted": snapshotted,
            "method": method,
            "calls": total.calls,
            "calls_per_s": rate,
            "cpu_us_per_call": cpu,
            "cpu_us_per_call_by_round": per_round,
            "system_cpu_us_per_call": system,
            "minor_faults_per_call": faults,
            "instructions_per_call": instructions,
            "instructions_vs_1_op_plain": instructions.zip(base_instructions).map(|(n, base)| n / base),
        }));
    }
    Ok(json!({ "rows": rows, "seconds_per_round": seconds, "rounds": rounds }))
}

/// The `snapshot_calls` worker, for counting instructions under callgrind
/// (which this scenario's in-process run cannot be): loads
/// `config.component` (through the compiled-component cache, which a
/// `prime` worker fills) and calls `config.side` (the method;
/// `triggers.op_0.operation.perform` when empty) `config.count` times, one
/// call after another (with `config.base_url` set, the API the bench
/// guest calls, as `http_get` calls it). Run it twice, with 1 and
/// with many calls, under `valgrind --tool=callgrind`, and take the
/// difference over the difference in calls: the instructions of one call,
/// by function.
pub async fn calls(config: &crate::workers::WorkerConfig) -> Value {
    let host = crate::workers::local_host(Some(&config.cache_dir));
    let app = match host.load_file(&config.component).await {
        Ok(app) => app,
        Err(e) => return json!({ "error": format!("{}: {e}", config.component.display()) }),
    };
    // With an API (`base_url`), as `http_get` calls the bench guest.
    let (app, bundle) = if config.base_url.is_empty() {
        (app, Bundle::default())
    } else {
        (app.with_env([("BENCH_BASE_URL", config.base_url.clone())]), crate::workers::api_bundle(&config.api_key))
    };
    let method = if config.side.is_empty() { METHOD } else { config.side.as_str() };
    let faults = minor_faults();
    // On a worker of the runtime, as the scenarios' calls run.
    let (count, method_path) = (config.count, method.to_string());
    let calls = tokio::spawn(async move {
        for _ in 0..count {
            call_with(&app, &method_path, bundle.clone()).await?;
        }
        Ok::<(), String>(())
    });
    match calls.await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return json!({ "error": why }),
        Err(e) => return json!({ "error": format!("the calls' task failed: {e}") }),
    }
    json!({ "method": method, "calls": config.count, "minor_faults": minor_faults().saturating_sub(faults) })
}
