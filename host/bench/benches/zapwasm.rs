//! zapwasm's benchmark suite: the host side by side with direct
//! reqwest and with the reference Node runtime, on this machine, in one run.
//!
//! ```text
//! cargo bench -p zapwasm-bench --bench zapwasm                    # every scenario
//! cargo bench -p zapwasm-bench --bench zapwasm -- no_io censor    # some
//! ```
//!
//! The binary is an orchestrator and, started again with `--worker`, the
//! worker of one scenario. The orchestrator builds the bench guest
//! (`tests/guests/bench`) to a component, starts the example CRM API and a
//! slow endpoint on 127.0.0.1 on its own runtime, then runs each scenario in
//! a fresh worker process so every peak RSS is that scenario's alone. It
//! prints a Markdown table and the targets, and writes the same figures to
//! `target/zapwasm-bench.json`.
//!
//! Parts, by role: `workers` runs the in-process scenarios (`no_io`,
//! `http_get`, `in_flight`, `censor`, the cached load), `neighbours` the
//! healthy calls next to spinning guests and the calls 256 at once, `soak`
//! the 100,000 calls against a failing upstream; `json` the guest SDK's
//! JSON type against serde_json's; `cold_start` times
//! the `zapwasm` CLI; `reference` drives zapier-platform-core through
//! `benches/reference/bench.js`, round by round with one-round `http_get`
//! workers for zapwasm's side of the comparison; `servers` are what the
//! scenarios call; `stats` measures; `report` compares and prints; `setup`
//! finds and builds what the rest needs.
//!
//! Without `--bench` (e.g. under `cargo test --benches`) it only says how to
//! run it: CI builds the benchmark but times nothing. `ZAPWASM_BENCH_SECONDS`
//! (default 2) and `ZAPWASM_BENCH_ROUNDS` (default 3) set each timed round and
//! how many rounds, alternating with the baseline, make one figure. For
//! profiling a worker, `ZAPWASM_BENCH_WORKER_WRAP` starts workers under a
//! command (`valgrind --tool=dhat ...`) and `ZAPWASM_BENCH_IN_FLIGHT=N`
//! makes `in_flight` one run of N calls through the host.

#[path = "zapwasm/cold_start.rs"]
mod cold_start;
#[path = "zapwasm/json.rs"]
mod json;
#[path = "zapwasm/neighbours.rs"]
mod neighbours;
#[path = "zapwasm/reference.rs"]
mod reference;
#[path = "zapwasm/report.rs"]
mod report;
#[path = "zapwasm/servers.rs"]
mod servers;
#[path = "zapwasm/service.rs"]
mod service;
#[path = "zapwasm/setup.rs"]
mod setup;
#[path = "zapwasm/snapshot.rs"]
mod snapshot;
#[path = "zapwasm/soak.rs"]
mod soak;
#[path = "zapwasm/stats.rs"]
mod stats;
#[path = "zapwasm/workers.rs"]
mod workers;

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::report::Results;
use crate::workers::WorkerConfig;

/// The command BENCHMARKS.md gives.
const COMMAND: &str = "cargo bench -p zapwasm-bench --bench zapwasm";

/// The scenarios, in the order they run.
const SCENARIOS: &[&str] = &[
    "no_io",
    "http_get",
    "censor",
    "in_flight",
    "cold_start",
    "reference",
    "neighbours",
    "soak",
    "service",
    "snapshot",
    "json",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--worker") {
        let config = args.get(at + 1).and_then(|json| serde_json::from_str::<WorkerConfig>(json).ok());
        let Some(config) = config else {
            eprintln!("--worker needs the worker's configuration as JSON");
            return ExitCode::from(2);
        };
        workers::main(config);
        return ExitCode::SUCCESS;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("zapwasm benchmark: nothing timed outside `cargo bench`; run `{COMMAND}`");
        return ExitCode::SUCCESS;
    }
    let wanted: Vec<&str> = args.iter().filter(|a| !a.starts_with('-')).map(String::as_str).collect();
    if let Some(unknown) = wanted.iter().find(|w| !SCENARIOS.contains(w)) {
        eprintln!("unknown scenario {unknown}; the scenarios are {}", SCENARIOS.join(", "));
        return ExitCode::from(2);
    }
    let selected: Vec<&str> = SCENARIOS.iter().copied().filter(|s| wanted.is_empty() || wanted.contains(s)).collect();
    match orchestrate(&selected) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("zapwasm benchmark: {why}");
            ExitCode::FAILURE
        }
    }
}

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v: &f64| *v > 0.0).unwrap_or(default)
}

fn orchestrate(selected: &[&str]) -> Result<(), String> {
    let seconds = env_number("ZAPWASM_BENCH_SECONDS", 2.0);
    let rounds = env_number("ZAPWASM_BENCH_ROUNDS", 3.0) as u32;
    let target = setup::target_dir();
    eprintln!("building the bench guest component");
    let component = setup::build_guest(&target)?;
    let fixture = if selected.contains(&"neighbours") {
        eprintln!("building the fixture guest component (the spinning guest)");
        setup::build_guest_package(&target, "fixture")?
    } else {
        Default::default()
    };
    let machine = setup::machine();
    eprintln!("machine: {machine}");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let servers = runtime.block_on(servers::start()).map_err(|e| format!("cannot start the servers: {e}"))?;
    let base_url = servers.api.base_url.clone();
    eprintln!("example API at {base_url}, slow endpoint at {}", servers.slow_url);

    let scratch = target.join("bench-scratch");
    let cache_dir = scratch.join("cache");
    std::fs::create_dir_all(&cache_dir).map_err(|e| e.to_string())?;
    let worker = |scenario: &str| WorkerConfig {
        scenario: scenario.into(),
        component: component.clone(),
        fixture: fixture.clone(),
        fault_urls: servers.fault_urls.clone(),
        base_url: base_url.clone(),
        slow_url: servers.slow_url.clone(),
        api_key: servers::API_KEY.into(),
        seconds,
        rounds,
        threads: 1,
        count: 0,
        side: "zapwasm".into(),
        cache_dir: cache_dir.clone(),
    };
    let run = |name: &str, config: WorkerConfig| -> Value {
        eprintln!("running {name}");
        setup::run_worker(&config).unwrap_or_else(|why| {
            eprintln!("{name} failed: {why}");
            json!({ "error": why })
        })
    };

    // A worker that had to compile the component would count the compiler's
    // memory in its RSS: compile it into the shared cache first.
    let _ = setup::run_worker(&worker("prime"));

    let mut results = Results::default();
    for &scenario in selected {
        let value = match scenario {
            "no_io" => json!({
                "threads_1": run("no_io, 1 thread", WorkerConfig { threads: 1, ..worker("no_io") }),
                "threads_2": run("no_io, 2 threads", WorkerConfig { threads: 2, ..worker("no_io") }),
            }),
            "http_get" => run("http_get", worker("http_get")),
            "censor" => run("censor", worker("censor")),
            "neighbours" => run("neighbours", worker("neighbours")),
            "soak" => {
                runtime.block_on(servers::fault_counts(&servers.counts_url));
                let mut result = run("soak", worker("soak"));
                // What the upstream received, against what was sent.
                if let Some(counts) = runtime.block_on(servers::fault_counts(&servers.counts_url)) {
                    result["upstream_received"] = counts;
                }
                result
            }
            "in_flight" => {
                let flight = |count: usize, side: &str| {
                    let config = WorkerConfig { count, side: side.into(), ..worker("in_flight") };
                    runtime.block_on(servers::hold_report(&servers.slow_url));
                    let mut result = run(&format!("in_flight, {count} by {side}"), config);
                    with_hold(&mut result, runtime.block_on(servers::hold_report(&servers.slow_url)));
                    result
                };
                // `ZAPWASM_BENCH_IN_FLIGHT=N`: one run of N through the host
                // only (for profiling a worker; the report has no targets).
                match env_number("ZAPWASM_BENCH_IN_FLIGHT", 0.0) as usize {
                    0 => json!({
                        "zapwasm_10000": flight(10_000, "zapwasm"),
                        "reqwest_10000": flight(10_000, "reqwest"),
                        "zapwasm_1000": flight(reference::IN_FLIGHT, "zapwasm"),
                    }),
                    count => json!({ format!("zapwasm_{count}"): flight(count, "zapwasm") }),
                }
            }
            "cold_start" => {
                eprintln!("running cold_start");
                let mut cold = cold_start::run(&component, &scratch, &base_url, servers::API_KEY, 15, 6)
                    .unwrap_or_else(|why| json!({ "error": why }));
                cold["load"] = run("cold_start, Host::load_file", worker("load"));
                cold
            }
            "reference" => {
                eprintln!("running reference (zapier-platform-core)");
                runtime.block_on(servers::hold_report(&servers.slow_url));
                // zapwasm's side of each round: one long-lived worker, as the
                // reference is one long-lived process.
                let mut zapwasm = setup::PhasedWorker::start(&worker("http_get_zapwasm"));
                let zapwasm_round = |concurrency: usize| match &mut zapwasm {
                    Ok(worker) => worker.phase(concurrency, seconds),
                    Err(why) => Err(why.clone()),
                };
                let mut result =
                    reference::run(&base_url, &servers.slow_url, servers::API_KEY, seconds, rounds, zapwasm_round);
                drop(zapwasm);
                if let Some(flight) = result.get_mut("in_flight") {
                    with_hold(flight, runtime.block_on(servers::hold_report(&servers.slow_url)));
                }
                result
            }
            "service" => {
                eprintln!("running service (zapwasm serve in-process, against the library)");
                service::run(&component, &target, &scratch, &base_url, servers::API_KEY, seconds, rounds)
                    .unwrap_or_else(|why| json!({ "error": why }))
            }
            "snapshot" => {
                eprintln!("running snapshot (the app built per call, or once at build time)");
                snapshot::run(&target, &scratch, seconds, rounds).unwrap_or_else(|why| json!({ "error": why }))
            }
            "json" => {
                eprintln!("running json (the guest SDK's JSON type against serde_json's)");
                let page = runtime.block_on(servers::contacts_page(&base_url));
                page.and_then(|page| json::run(&page, seconds, rounds)).unwrap_or_else(|why| json!({ "error": why }))
            }
            _ => continue,
        };
        results.scenarios.insert(scenario.to_string(), flatten_no_io(scenario, value));
    }
    runtime.block_on(servers.api.shutdown());

    results.derive();
    results.print();
    let mut machine = machine;
    machine["loadavg_at_end"] = setup::load_average().into();
    let doc = results.to_json(machine, COMMAND);
    let path = target.join("zapwasm-bench.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("\nfigures written to {}", path.display());
    Ok(())
}

/// Add to an in-flight result what the slow endpoint's hold group saw: how
/// many calls it held at once, whether its safety timeout fired; and the
/// memory per truly waiting call, (peak RSS - idle RSS) / calls held at
/// once (`per_waiting_kib`), and the same from the largest RSS sampled
/// before the first call ended (`per_waiting_sampled_kib`).
fn with_hold(result: &mut Value, report: Option<servers::HoldReport>) {
    let Some(report) = report else { return };
    result["held_at_once"] = report.most_held.into();
    result["arrived"] = report.arrived.into();
    result["hold_safety_fired"] = report.safety_fired.into();
    result["all_arrived_after_ms"] = report.full_after_ms.into();
    if report.most_held == 0 {
        return;
    }
    let held = report.most_held as f64;
    let idle = report::num(result, "idle_rss_mib");
    if let (Some(peak), Some(idle)) = (report::num(result, "peak_rss_mib"), idle) {
        result["per_waiting_kib"] = ((peak - idle) * 1024.0 / held).into();
    }
    if let (Some(waiting), Some(idle)) = (report::num(result, "rss_while_all_waiting_mib"), idle) {
        result["per_waiting_sampled_kib"] = ((waiting - idle) * 1024.0 / held).into();
    }
}

/// A no_io worker reports `{threads, pooling, figures, ..}`: keep the
/// figures under `threads_N` and the rest beside them.
fn flatten_no_io(scenario: &str, value: Value) -> Value {
    if scenario != "no_io" {
        return value;
    }
    let mut out = serde_json::Map::new();
    for key in ["threads_1", "threads_2"] {
        let worker = &value[key];
        match worker.get("figures") {
            Some(figures) => {
                out.insert(key.into(), figures.clone());
                out.insert(format!("empty_{key}"), worker["empty"].clone());
                out.insert("pooling".into(), worker["pooling"].clone());
            }
            None => {
                out.insert(key.into(), worker.clone());
            }
        }
    }
    Value::Object(out)
}
