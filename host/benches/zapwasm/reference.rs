//! `reference`: the same trigger on zapier-platform-core (the reference
//! Node runtime), driven through its app tester by `reference/bench.js`
//! against the same API: throughput at concurrency 1 and 50, time from
//! process start to first result, RSS, memory per in-flight invocation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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

/// Figures from one phase the script reported.
fn phase_figures(phase: &Value) -> Figures {
    let latencies = phase["latencies_us"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_f64).map(|us| (us * 1e3) as u64).collect())
        .unwrap_or_default();
    Figures::pooled(vec![Phase {
        latencies_ns: latencies,
        errors: phase["errors"].as_u64().unwrap_or(0),
        first_error: phase["first_error"].as_str().map(str::to_string),
        elapsed: Duration::from_secs_f64(phase["elapsed_s"].as_f64().unwrap_or(0.0)),
        peak_rss_mib: phase["peak_rss_mib"].as_f64().unwrap_or(0.0),
        cpu: None,
        instructions: None,
    }])
}

/// Run the reference, or say why it was skipped (`{"skipped": why}`).
pub fn run(base_url: &str, slow_url: &str, api_key: &str, seconds: f64) -> Value {
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
        "api_key": api_key,
        "duration_ms": (seconds * 1000.0) as u64,
        "warmup_ms": 500,
        "concurrency": [1, 50],
        "in_flight": IN_FLIGHT,
    });
    let started = Instant::now();
    let child = Command::new("node")
        .current_dir(&dir)
        .arg("bench.js")
        .arg(config.to_string())
        .env("NODE_ENV", "test")
        .env("LOGGING_ENDPOINT", format!("http://127.0.0.1:{}", closed_port()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return json!({ "skipped": format!("cannot start node: {e}") }),
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let (mut first_result, mut result) = (None, None);
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if line.starts_with("FIRST ") && first_result.is_none() {
            first_result = Some(started.elapsed());
        } else if let Some(json) = line.strip_prefix("RESULT ") {
            result = serde_json::from_str::<Value>(json).ok();
        }
    }
    let status = child.wait();
    let (Some(first_result), Some(result)) = (first_result, result) else {
        return json!({ "error": format!("the reference run failed ({status:?}); see its output above") });
    };
    let phases: Vec<Value> = result["phases"].as_array().cloned().unwrap_or_default();
    let by_concurrency = |c: u64| phases.iter().find(|p| p["concurrency"].as_u64() == Some(c)).map(phase_figures);
    let in_flight = &result["in_flight"];
    let count = in_flight["count"].as_f64().unwrap_or(1.0).max(1.0);
    let per_invocation_kib = (in_flight["peak_rss_mib"].as_f64().unwrap_or(0.0)
        - in_flight["idle_rss_mib"].as_f64().unwrap_or(0.0))
        * 1024.0
        / count;
    json!({
        "node": result["node"],
        "zapier_platform_core": result["core"],
        "first_result_ms": first_result.as_secs_f64() * 1e3,
        "c1": by_concurrency(1),
        "c50": by_concurrency(50),
        "in_flight": {
            "count": in_flight["count"],
            "completed": in_flight["completed"],
            "first_error": in_flight["first_error"],
            "elapsed_s": in_flight["elapsed_s"],
            "idle_rss_mib": in_flight["idle_rss_mib"],
            "peak_rss_mib": in_flight["peak_rss_mib"],
            "per_invocation_kib": per_invocation_kib,
        },
        "vm_hwm_mib": result["vm_hwm_mib"],
    })
}
