//! `reference`: the same trigger on zapier-platform-core (the reference
//! Node runtime), driven through its app tester by `reference/bench.js`
//! against the same API: throughput at concurrency 1 and 50, time from
//! process start to first result, RSS, memory per truly waiting call (its
//! 1,000 calls held by the slow endpoint until all have arrived).
//!
//! The throughputs are compared with zapwasm's measured alongside, not with
//! the `http_get` scenario's: the load on a shared machine moves from minute
//! to minute, so for each round and each concurrency the reference runs one
//! timed phase (`bench.js` waits for it on stdin) and zapwasm one round in
//! its `http_get_zapwasm` worker (also one process for all rounds, also
//! waiting on stdin), the side that goes first alternating from round to
//! round, and each side's rounds are pooled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::setup::{Announcements, ask_phase};
use crate::stats::{Figures, Phase};

/// Invocations the reference keeps in flight at once. Fewer than zapwasm's
/// 10,000: the app tester spends ~10 ms of CPU per call, so 10,000 would
/// take minutes; zapwasm is measured at this count too, for the ratio.
pub const IN_FLIGHT: usize = 1_000;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference")
}

fn works(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A loopback port nothing listens on: the reference's log endpoint, so a
/// log upload, were one attempted, would fail here instead of leaving the machine.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9)
}

/// Install zapier-platform-core on first use.
fn ensure_installed(dir: &Path) -> Result<(), String> {
    if dir.join("node_modules/zapier-platform-core/package.json").is_file() {
        return Ok(());
    }
    eprintln!("reference: npm install in {} (first use)", dir.display());
    let status = Command::new("npm")
        .current_dir(dir)
        .args(["install", "--no-audit", "--no-fund", "--no-package-lock"])
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("npm install failed ({status})")) }
}

/// The concurrencies compared, each timed in every round.
const CONCURRENCY: [usize; 2] = [1, 50];

/// A phase's raw record from JSON: a load phase the script reported
/// (latencies in `latencies_us`) or a zapwasm worker's round (in
/// `latencies_ns`, with `cpu_s` and `instructions` where measured).
fn phase(value: &Value) -> Phase {
    let latencies = match value.get("latencies_ns").and_then(Value::as_array) {
        Some(items) => items.iter().filter_map(Value::as_u64).collect(),
        None => value["latencies_us"]
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_f64).map(|us| (us * 1e3) as u64).collect())
            .unwrap_or_default(),
    };
    Phase {
        latencies_ns: latencies,
        errors: value["errors"].as_u64().unwrap_or(0),
        first_error: value["first_error"].as_str().map(str::to_string),
        elapsed: Duration::from_secs_f64(value["elapsed_s"].as_f64().unwrap_or(0.0)),
        peak_rss_mib: value["peak_rss_mib"].as_f64().unwrap_or(0.0),
        cpu: value["cpu_s"].as_f64().map(Duration::from_secs_f64),
        instructions: value["instructions"].as_u64(),
    }
}

/// Run the reference, or say why it was skipped (`{"skipped": why}`).
/// `zapwasm_round(concurrency)` runs one round of zapwasm's `http_get` at
/// that concurrency in its worker and returns what the worker reported
/// (its raw record under `phase`); it is called `rounds` times per
/// concurrency, between the reference's phases of `seconds` each.
pub fn run(
    base_url: &str,
    slow_url: &str,
    api_key: &str,
    seconds: f64,
    rounds: u32,
    mut zapwasm_round: impl FnMut(usize) -> Result<Value, String>,
) -> Value {
    if !works("node") || !works("npm") {
        return json!({ "skipped": "node and npm are needed for the reference runtime (zapier-platform-core); install Node.js 18 or later to compare" });
    }
    let dir = reference_dir();
    if let Err(why) = ensure_installed(&dir) {
        return json!({ "skipped": why });
    }
    let config = json!({
        "base_url": base_url,
        "slow_url": slow_url,
        "hold_url": crate::servers::hold_url(slow_url, IN_FLIGHT),
        "api_key": api_key,
        "warmup_ms": 500,
        "concurrency": CONCURRENCY,
        "in_flight": IN_FLIGHT,
        "interleave": true,
    });
    let started = Instant::now();
    let child = Command::new("node")
        .current_dir(&dir)
        .arg("bench.js")
        .arg(config.to_string())
        .env("NODE_ENV", "test")
        .env("LOGGING_ENDPOINT", format!("http://127.0.0.1:{}", closed_port()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return json!({ "skipped": format!("cannot start node: {e}") }),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut script = Announcements::new(child.stdout.take().expect("piped stdout"), "reference");

    let mut first_result = None;
    let mut theirs: Vec<Vec<Phase>> = CONCURRENCY.iter().map(|_| Vec::new()).collect();
    let mut ours: Vec<Result<Vec<Phase>, String>> = CONCURRENCY.iter().map(|_| Ok(Vec::new())).collect();
    let mut measure = || -> Result<Value, String> {
        script.expect("FIRST")?;
        first_result = Some(started.elapsed());
        script.expect("READY")?;
        for round in 0..rounds {
            for (at, &concurrency) in CONCURRENCY.iter().enumerate() {
                let first = if round % 2 == 0 { "the reference" } else { "zapwasm" };
                eprintln!("reference: round {} of {rounds} at c={concurrency}, {first} first", round + 1);
                // A failed round spoils the side's figure: keep the first failure.
                let mut run_ours = || {
                    let outcome = zapwasm_round(concurrency).map(|result| phase(&result["phase"]));
                    match (&mut ours[at], outcome) {
                        (Ok(phases), Ok(phase)) => phases.push(phase),
                        (side @ Ok(_), Err(why)) => *side = Err(why),
                        (Err(_), _) => {}
                    }
                };
                if round % 2 == 1 {
                    run_ours();
                }
                theirs[at].push(phase(&ask_phase(&mut stdin, &mut script, concurrency, seconds)?));
                if round % 2 == 0 {
                    run_ours();
                }
            }
        }
        writeln!(stdin, "done").and_then(|()| stdin.flush()).map_err(|e| e.to_string())?;
        let json = script.expect("RESULT")?;
        serde_json::from_str::<Value>(&json).map_err(|e| format!("the script's result is not JSON: {e}"))
    };
    let outcome = measure();
    drop(stdin);
    if outcome.is_err() {
        // Ended early: the script may be in the middle of a phase.
        let _ = child.kill();
    }
    let status = child.wait();
    let (result, first_result) = match (outcome, first_result) {
        (Ok(result), Some(first_result)) => (result, first_result),
        (outcome, _) => {
            let why = outcome.err().unwrap_or_default();
            return json!({ "error": format!("the reference run failed ({status:?}): {why}") });
        }
    };
    let in_flight = &result["in_flight"];
    let mut out = json!({
        "node": result["node"],
        "zapier_platform_core": result["core"],
        "first_result_ms": first_result.as_secs_f64() * 1e3,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "in_flight": {
            "count": in_flight["count"],
            "completed": in_flight["completed"],
            "first_error": in_flight["first_error"],
            "elapsed_s": in_flight["elapsed_s"],
            "idle_rss_mib": in_flight["idle_rss_mib"],
            "peak_rss_mib": in_flight["peak_rss_mib"],
            "rss_while_all_waiting_mib": in_flight["rss_while_all_waiting_mib"],
        },
        "vm_hwm_mib": result["vm_hwm_mib"],
    });
    // `c50`: the reference's rounds at c=50 pooled; `c50_zapwasm`: zapwasm's
    // rounds that alternated with them.
    for ((concurrency, theirs), ours) in CONCURRENCY.iter().zip(theirs).zip(ours) {
        out[format!("c{concurrency}")] = json!(Figures::pooled(theirs));
        out[format!("c{concurrency}_zapwasm")] = match ours {
            Ok(phases) => json!(Figures::pooled(phases)),
            Err(why) => json!({ "error": why }),
        };
    }
    out
}
