//! The report: one table row per measured figure, the targets met or
//! missed, and the same figures as JSON in `target/zapwasm-bench.json`.

use serde_json::{Map, Value, json};

/// Everything the scenarios returned, keyed by scenario.
#[derive(Default)]
pub struct Results {
    pub scenarios: Map<String, Value>,
    pub targets: Vec<Target>,
    rows: Vec<Row>,
    /// Tables of their own (`neighbours`, `soak`), printed after the main one.
    extra: Vec<String>,
}

/// One target, with what was measured.
pub struct Target {
    pub name: &'static str,
    pub goal: String,
    pub measured: Option<String>,
    pub met: Option<bool>,
}

struct Row {
    scenario: &'static str,
    variant: String,
    figures: Value,
    baseline: String,
    ratio: String,
}

/// A number at `path` in `value` (`a.b.c`).
pub fn num(value: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(value, |v, key| v.get(key))?.as_f64()
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

impl Results {
    fn row(
        &mut self,
        scenario: &'static str,
        variant: impl Into<String>,
        figures: &Value,
        baseline: impl Into<String>,
        ratio: impl Into<String>,
    ) {
        self.rows.push(Row {
            scenario,
            variant: variant.into(),
            figures: figures.clone(),
            baseline: baseline.into(),
            ratio: ratio.into(),
        });
    }

    fn target(
        &mut self,
        name: &'static str,
        goal: impl Into<String>,
        measured: Option<f64>,
        unit: &str,
        met: impl Fn(f64) -> bool,
    ) {
        self.targets.push(Target {
            name,
            goal: goal.into(),
            measured: measured.map(|m| format!("{m:.2}{unit}")),
            met: measured.map(met),
        });
    }

    /// Add the ratios, the table rows and the targets from the raw results.
    pub fn derive(&mut self) {
        let s = self.scenarios.clone();
        let get = |key: &str| s.get(key).cloned().unwrap_or(Value::Null);

        let no_io = get("no_io");
        if !no_io.is_null() {
            let one = num(&no_io, "threads_1.calls_per_s");
            let two = num(&no_io, "threads_2.calls_per_s");
            let scaling = ratio(two, one);
            self.merge("no_io", json!({ "baseline": "the 1-thread run", "scaling_2_over_1": scaling }));
            self.row("no_io", "1 worker thread", &no_io["threads_1"], "-", "-");
            self.row(
                "no_io",
                "2 worker threads",
                &no_io["threads_2"],
                "1 thread",
                format!("x{} throughput", fmt(scaling, 2)),
            );
            for (threads, key) in [(1, "threads_1"), (2, "threads_2")] {
                let empty = &no_io[format!("empty_{key}")];
                if !empty.is_null() {
                    let share = ratio(num(&no_io, &format!("{key}.calls_per_s")), num(empty, "calls_per_s"));
                    self.row(
                        "no_io",
                        format!("{threads} thread(s), the empty trigger (floor)"),
                        empty,
                        format!("no_io, {threads} thread(s)"),
                        format!("no_io runs at x{} of it", fmt(share, 2)),
                    );
                }
            }
            self.target("no_io_2_threads", "no_io >= 100,000 calls/s on 2 threads", two, " calls/s", |v| {
                v >= 100_000.0
            });
        }

        let http = get("http_get");
        if !http.is_null() {
            for c in ["1", "16", "50"] {
                let level = &http["concurrency"][c];
                let lat = ratio(num(level, "zapwasm.median_us"), num(level, "reqwest.median_us"));
                let thr = ratio(num(level, "zapwasm.calls_per_s"), num(level, "reqwest.calls_per_s"));
                let raw_lat = ratio(num(level, "raw.median_us"), num(level, "reqwest.median_us"));
                let raw_thr = ratio(num(level, "raw.calls_per_s"), num(level, "reqwest.calls_per_s"));
                self.merge(
                    "http_get",
                    json!({ format!("c{c}"): {
                    "zapwasm": level["zapwasm"], "reqwest": level["reqwest"], "raw": level["raw"],
                    "latency_ratio": lat, "throughput_ratio": thr,
                    "raw_latency_ratio": raw_lat, "raw_throughput_ratio": raw_thr } }),
                );
                self.row("http_get", format!("c={c} reqwest (baseline)"), &level["reqwest"], "-", "-");
                self.row(
                    "http_get",
                    format!("c={c} zapwasm"),
                    &level["zapwasm"],
                    format!("reqwest c={c}"),
                    format!("latency x{}, throughput x{}", fmt(lat, 2), fmt(thr, 2)),
                );
                if !level["raw"].is_null() {
                    self.row(
                        "http_get",
                        format!("c={c} zapwasm, raw GET, body not parsed (floor)"),
                        &level["raw"],
                        format!("reqwest c={c}"),
                        format!("latency x{}, throughput x{}", fmt(raw_lat, 2), fmt(raw_thr, 2)),
                    );
                }
            }
            if let Some(Value::Object(m)) = self.scenarios.get_mut("http_get") {
                m.remove("concurrency");
                m.insert("baseline".into(), "direct reqwest, same client settings, same process".into());
            }
            let h = self.scenarios["http_get"].clone();
            self.target(
                "http_get_latency_c1",
                "http_get median latency <= 1.2x direct reqwest's at c=1",
                num(&h, "c1.latency_ratio"),
                "x",
                |v| v <= 1.2,
            );
            self.target(
                "http_get_throughput_c16",
                "http_get throughput >= 0.7x direct reqwest's at c=16",
                num(&h, "c16.throughput_ratio"),
                "x",
                |v| v >= 0.7,
            );
        }

        // The reference against zapwasm's rounds that alternated with its
        // own (`cN_zapwasm`), not against `http_get`: both sides met the
        // same load on the machine.
        let reference = get("reference");
        if reference.get("c1").is_some() {
            for c in ["1", "50"] {
                let theirs = &reference[format!("c{c}")];
                let ours = &reference[format!("c{c}_zapwasm")];
                let r = ratio(num(ours, "calls_per_s"), num(theirs, "calls_per_s"));
                self.merge("reference", json!({ format!("zapwasm_throughput_ratio_c{c}"): r }));
                self.row("reference", format!("c={c} zapier-platform-core (baseline)"), theirs, "-", "-");
                let compared = match ours["error"].as_str() {
                    Some(why) => format!("zapwasm failed: {why}"),
                    None => format!("zapwasm x{} throughput", fmt(r, 1)),
                };
                self.row(
                    "reference",
                    format!("c={c} zapwasm, alternating with the reference"),
                    ours,
                    format!("zapier-platform-core c={c}"),
                    compared,
                );
            }
            let r50 = num(&self.scenarios["reference"], "zapwasm_throughput_ratio_c50");
            self.target(
                "reference_throughput_c50",
                ">= 25x the reference's throughput at c=50 (round by round)",
                r50,
                "x",
                |v| v >= 25.0,
            );
        } else if !reference.is_null() {
            let why = reference.get("skipped").or(reference.get("error")).cloned().unwrap_or(Value::Null);
            self.row("reference", format!("skipped: {}", why.as_str().unwrap_or("?")), &Value::Null, "-", "-");
        }

        let cold = get("cold_start");
        if !cold.is_null() {
            let ref_first = num(&reference, "first_result_ms");
            let cached_ms = num(&cold, "cached.median_us").map(|us| us / 1e3);
            let speedup = ratio(ref_first, cached_ms);
            self.merge(
                "cold_start",
                json!({ "reference_first_result_ms": ref_first, "reference_over_cached": speedup }),
            );
            self.row(
                "cold_start",
                "CLI, cached component",
                &cold["cached"],
                "reference start to first result",
                format!("x{} faster", fmt(speedup, 1)),
            );
            let empty_speedup = ratio(ref_first, num(&cold, "empty_cache.median_us").map(|us| us / 1e3));
            self.row(
                "cold_start",
                "CLI, empty cache",
                &cold["empty_cache"],
                "reference start to first result",
                format!("x{} faster", fmt(empty_speedup, 1)),
            );
            if let Some(ms) = ref_first {
                self.row("cold_start", "reference start to first result", &json!({ "median_us": ms * 1e3 }), "-", "-");
            }
            let load = &cold["load"];
            if !load.is_null() {
                let compile = num(load, "compile_load_file.median_us");
                self.row(
                    "cold_start",
                    "Host::load_file, cache hit",
                    &load["cached_load_file"],
                    "Host::load_file, compiling",
                    format!("x{} faster", fmt(ratio(compile, num(load, "cached_load_file.median_us")), 0)),
                );
                self.row("cold_start", "LoadInfo::duration, cache hit", &load["cached_load_info"], "-", "-");
                self.row("cold_start", "Host::load_file, compiling", &load["compile_load_file"], "-", "-");
            }
        }

        let flight = get("in_flight");
        if !flight.is_null() {
            // Memory per truly waiting call: (peak - idle) over the calls
            // the slow endpoint held at once, every call of the run held
            // until the last arrived.
            let per = |f: &Value| num(f, "per_waiting_kib");
            let ref_flight = reference.get("in_flight").filter(|r| !r.is_null()).cloned().unwrap_or(Value::Null);
            let vs_reqwest = ratio(per(&flight["zapwasm_10000"]), per(&flight["reqwest_10000"]));
            let vs_reference = ratio(per(&flight["zapwasm_1000"]), per(&ref_flight));
            self.merge(
                "in_flight",
                json!({ "reference_1000": ref_flight, "per_waiting_vs_reqwest": vs_reqwest,
                        "per_waiting_zapwasm_over_reference": vs_reference }),
            );
            let detail = |f: &Value| {
                format!(
                    "{} of {} done; held at once {} (all arrived in {} ms{}); {} KiB per waiting call ({} sampled before the first answer)",
                    f["completed"],
                    f["count"],
                    f["held_at_once"],
                    fmt(num(f, "all_arrived_after_ms"), 0),
                    if f["hold_safety_fired"] == true { ", SAFETY TIMEOUT FIRED" } else { "" },
                    fmt(per(f), 1),
                    fmt(num(f, "per_waiting_sampled_kib"), 1),
                )
            };
            for (key, label) in [
                ("reqwest_10000", "10,000 reqwest (baseline)"),
                ("zapwasm_10000", "10,000 zapwasm"),
                ("zapwasm_1000", "1,000 zapwasm"),
            ] {
                let f = &flight[key];
                if f.is_null() {
                    continue;
                }
                let figures = json!({
                    "median_us": f["figures"]["median_us"], "p99_us": f["figures"]["p99_us"],
                    "calls_per_s": f["figures"]["calls_per_s"], "peak_rss_mib": f["peak_rss_mib"],
                });
                let (baseline, r) = match key {
                    "zapwasm_10000" => {
                        ("10,000 reqwest".to_string(), format!("{}; x{} reqwest's", detail(f), fmt(vs_reqwest, 1)))
                    }
                    "zapwasm_1000" => (
                        "1,000 on the reference".to_string(),
                        format!("{}; x{} the reference's", detail(f), fmt(vs_reference, 2)),
                    ),
                    _ => ("-".to_string(), detail(f)),
                };
                self.row("in_flight", label, &figures, baseline, r);
            }
            if !ref_flight.is_null() {
                let figures = json!({ "peak_rss_mib": ref_flight["peak_rss_mib"] });
                self.row("in_flight", "1,000 on the reference", &figures, "-", detail(&ref_flight));
            }
            let mut t = vec![
                "What one truly waiting call holds, KiB (the resident set when the endpoint held every call, less the idle one, over the calls held; from /proc/self/smaps and glibc's mallinfo2):".to_string(),
                String::new(),
                "| run | per call at full hold | fiber stack | linear memory (anonymous) | data image (page cache, counted per mapping) | heap and other anonymous (malloc, pool tables) | files, other | malloc handed out (not all of it touched) | per call at full hold, shared pages counted once (PSS) |".into(),
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|".into(),
            ];
            for (key, label) in [
                ("zapwasm_10000", "10,000 zapwasm"),
                ("zapwasm_1000", "1,000 zapwasm"),
                ("reqwest_10000", "10,000 reqwest"),
            ] {
                if let Some(b) = breakdown(&flight[key]) {
                    let k = |v: Option<f64>| fmt(v, 1);
                    t.push(format!(
                        "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        k(b.total),
                        k(Some(b.fiber)),
                        k(Some(b.memory)),
                        k(Some(b.image)),
                        k(Some(b.anon)),
                        k(Some(b.files)),
                        k(b.malloc),
                        k(Some(b.pss)),
                    ));
                }
            }
            self.extra.push(t.join("\n"));
            self.target(
                "memory_per_waiting_call_vs_reference",
                "memory per truly waiting call <= the reference's (1,000 each)",
                vs_reference,
                "x",
                |v| v <= 1.0,
            );
            let f = &flight["zapwasm_10000"];
            self.target(
                "in_flight_10000_memory",
                "10,000 truly waiting calls (all held at once, all completed) in <= 1 GiB peak RSS",
                num(f, "peak_rss_mib"),
                " MiB",
                |v| v <= 1024.0,
            );
            let all_held =
                f["held_at_once"] == f["count"] && f["completed"] == f["count"] && f["hold_safety_fired"] != true;
            if let Some(t) = self.targets.last_mut() {
                t.met = t.met.map(|m| m && all_held);
            }
        }

        let neighbours = get("neighbours");
        if neighbours.get("http_get").is_some() {
            self.neighbours(&neighbours);
        }
        let soak = get("soak");
        if soak.get("runs").is_some() {
            self.soak(&soak);
        }

        let censor = get("censor");
        if !censor.is_null() {
            let lat = ratio(num(&censor, "with_secrets.median_us"), num(&censor, "without_secrets.median_us"));
            self.merge("censor", json!({ "baseline": "the same call with no secrets", "latency_ratio": lat }));
            self.row("censor", "200 lines, no secrets (baseline)", &censor["without_secrets"], "-", "-");
            self.row(
                "censor",
                "200 lines, 20 secrets",
                &censor["with_secrets"],
                "no secrets",
                format!("latency x{}", fmt(lat, 2)),
            );
        }
    }

    /// `neighbours`: rows for the healthy calls alone and next to the
    /// spinners, a table of its own, and the targets of "Fair under load".
    fn neighbours(&mut self, n: &Value) {
        let spinners = n["spinners"].as_u64().unwrap_or(0);
        let as_row = |f: &Value| {
            json!({
                "median_us": num(f, "median_ms").map(|v| v * 1e3),
                "p99_us": num(f, "p99_ms").map(|v| v * 1e3),
                "calls_per_s": f["ok_per_s"],
            })
        };
        for kind in ["no_io", "http_get"] {
            let k = &n[kind];
            let alone = &k["alone"]["healthy"];
            let lanes = &k["lanes"];
            self.row("neighbours", format!("{kind} c={lanes}, alone (baseline)"), &as_row(alone), "-", "-");
            let one = &k["one_runaway"];
            if !one.is_null() {
                let p99 = ratio(num(&one["healthy"], "p99_ms"), num(alone, "p99_ms"));
                let thr = ratio(num(&one["healthy"], "ok_per_s"), num(alone, "ok_per_s"));
                self.row(
                    "neighbours",
                    format!("{kind} c={lanes}, next to ONE runaway guest, background pool"),
                    &as_row(&one["healthy"]),
                    format!("{kind} alone, same rounds"),
                    format!(
                        "p99 x{}, throughput x{}, {} timeouts; the runaway ended {} / {} ms (p50 / max) after its deadline",
                        fmt(p99, 3),
                        fmt(thr, 2),
                        one["healthy"]["timeouts"].as_u64().unwrap_or(0),
                        fmt(num(&one["spinners"], "past_deadline_ms.p50"), 1),
                        fmt(num(&one["spinners"], "past_deadline_ms.max"), 1),
                    ),
                );
                self.merge(
                    "neighbours",
                    json!({ format!("{kind}_one_runaway_p99_ratio"): p99, format!("{kind}_one_runaway_throughput_ratio"): thr }),
                );
            }
            for (variant, label) in [("pool", "background pool"), ("no_pool", "no background pool")] {
                let next = &k[variant]["healthy"];
                let thr = ratio(num(next, "ok_per_s"), num(alone, "ok_per_s"));
                let p99 = ratio(num(next, "p99_ms"), num(alone, "p99_ms"));
                self.row(
                    "neighbours",
                    format!("{kind} c={lanes}, next to {spinners} spinning, {label}"),
                    &as_row(next),
                    format!("{kind} alone"),
                    format!(
                        "throughput x{}, p99 x{}, {} timeouts",
                        fmt(thr, 2),
                        fmt(p99, 2),
                        next["timeouts"].as_u64().unwrap_or(0)
                    ),
                );
                self.merge(
                    "neighbours",
                    json!({ format!("{kind}_{variant}_throughput_ratio"): thr, format!("{kind}_{variant}_p99_ratio"): p99 }),
                );
            }
        }

        let mut t = vec![
            format!(
                "Fair under load (deadline {} ms; spinners loop until it):",
                fmt(num(n, "deadline_ms"), 0)
            ),
            String::new(),
            "| phase | healthy ok/s | median ms | p99 ms | p99.9 ms | healthy timeouts / errors | results after the deadline | spinners: timeouts of calls | spinners past deadline p50 / p99 / p99.9 / max ms | in flight: healthy, spinners (mean); most | CPU s (background threads) |".into(),
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|".into(),
        ];
        let mut phases: Vec<(String, Value)> = Vec::new();
        for kind in ["no_io", "http_get"] {
            let lanes = &n[kind]["lanes"];
            phases.push((format!("{kind} c={lanes} alone"), n[kind]["alone"].clone()));
            if n[kind].get("one_runaway").is_some() {
                phases
                    .push((format!("{kind} c={lanes} + ONE runaway, background pool"), n[kind]["one_runaway"].clone()));
            }
            phases.push((format!("{kind} c={lanes} + {spinners} spinning, background pool"), n[kind]["pool"].clone()));
            phases.push((
                format!("{kind} c={lanes} + {spinners} spinning, no background pool"),
                n[kind]["no_pool"].clone(),
            ));
        }
        if n.get("http_get_early").is_some() {
            let lanes = &n["http_get_early"]["lanes"];
            phases.push((format!("http_get c={lanes} alone, moving after 2 ms"), n["http_get_early"]["alone"].clone()));
            if n["http_get_early"].get("one_runaway").is_some() {
                phases.push((
                    format!("http_get c={lanes} + ONE runaway, moving after 2 ms"),
                    n["http_get_early"]["one_runaway"].clone(),
                ));
            }
            phases.push((
                format!("http_get c={lanes} + {spinners} spinning, moving after 2 ms"),
                n["http_get_early"]["pool"].clone(),
            ));
        }
        if n.get("many_spinners").is_some() {
            for (key, label) in [("pool", "moving after 10 ms"), ("pool_early", "moving after 2 ms")] {
                phases.push((
                    format!("http_get c=50 + 64 spinning, background pool, {label}"),
                    n["many_spinners"][key].clone(),
                ));
            }
        }
        for (key, label) in [
            ("mixed_pool", "256 at once: one-GET + 4 spinning, background pool"),
            ("mixed_no_pool", "256 at once: one-GET + 4 spinning, no background pool"),
            ("spinning_pool", "256 at once, all spinning, background pool"),
            ("spinning_no_pool", "256 at once, all spinning, no background pool"),
            ("spinning_pool_early", "256 at once, all spinning, background pool, moving after 2 ms"),
        ] {
            phases.push((label.into(), n["crowd"][key].clone()));
        }
        let mut late_results = 0;
        for (label, p) in &phases {
            let h = &p["healthy"];
            let sp = &p["spinners"];
            late_results += p["all"]["ok_after_deadline_host"].as_u64().unwrap_or(0);
            let past = |f: &Value| {
                format!(
                    "{} / {} / {} / {}",
                    fmt(num(f, "past_deadline_ms.p50"), 1),
                    fmt(num(f, "past_deadline_ms.p99"), 1),
                    fmt(num(f, "past_deadline_ms.p999"), 1),
                    fmt(num(f, "past_deadline_ms.max"), 1)
                )
            };
            t.push(format!(
                "| {label} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {}, {}; {} | {} ({}) |",
                fmt(num(h, "ok_per_s"), 0),
                fmt(num(h, "median_ms"), 2),
                fmt(num(h, "p99_ms"), 2),
                fmt(num(h, "p999_ms"), 2),
                h["timeouts"].as_u64().map_or("-".into(), |v| v.to_string()),
                h["errors"].as_u64().map_or("-".into(), |v| v.to_string()),
                p["all"]["ok_after_deadline_host"],
                if sp.is_null() { "-".into() } else { format!("{} of {}", sp["timeouts"], sp["calls"]) },
                if sp.is_null() { "-".into() } else { past(sp) },
                fmt(num(h, "mean_in_flight"), 1),
                fmt(num(sp, "mean_in_flight"), 1),
                p["most_in_flight"],
                fmt(num(p, "cpu_s"), 1),
                fmt(num(p, "background_cpu_s"), 1),
            ));
        }
        t.push(String::new());
        t.push(format!(
            "256 at once, every call (one-GET + spinning, background pool): past the deadline p99 / p99.9 / max {} / {} / {} ms; timeouts among them {} of {}",
            fmt(num(&n["crowd"]["mixed_pool"], "all.past_deadline_ms.p99"), 1),
            fmt(num(&n["crowd"]["mixed_pool"], "all.past_deadline_ms.p999"), 1),
            fmt(num(&n["crowd"]["mixed_pool"], "all.past_deadline_ms.max"), 1),
            n["crowd"]["mixed_pool"]["all"]["timeouts"],
            n["crowd"]["mixed_pool"]["all"]["calls"],
        ));
        // Checks of "Fair under load", printed with the table (the targets
        // are the one-runaway figures below).
        let h = &n["http_get"];
        let thr = ratio(num(&h["pool"]["healthy"], "ok_per_s"), num(&h["alone"]["healthy"], "ok_per_s"));
        let p99 = ratio(num(&h["pool"]["healthy"], "p99_ms"), num(&h["alone"]["healthy"], "p99_ms"));
        let healthy_timeouts: u64 =
            ["no_io", "http_get"].iter().filter_map(|k| n[*k]["pool"]["healthy"]["timeouts"].as_u64()).sum();
        t.push(format!(
            "Next to 4 spinning guests (background pool), one-GET calls kept {}% of their throughput alone, p99 x{}; healthy timeouts (no_io and one-GET): {healthy_timeouts}; results returned after their deadline, every phase: {late_results}.",
            fmt(thr.map(|r| r * 100.0), 1),
            fmt(p99, 2),
        ));
        let early = &n["http_get_early"];
        if early.get("one_runaway").is_some() {
            t.push(format!(
                "Moving after 2 ms instead of 10: one-GET calls' p99 next to ONE runaway x{} of alone (same rounds), the runaway ended at most {} ms after its deadline.",
                fmt(ratio(num(&early["one_runaway"]["healthy"], "p99_ms"), num(&early["alone"]["healthy"], "p99_ms")), 3),
                fmt(num(&early["one_runaway"]["spinners"], "past_deadline_ms.max"), 1),
            ));
        }
        self.extra.push(t.join("\n"));

        let one = &h["one_runaway"];
        let p99_one = ratio(num(&one["healthy"], "p99_ms"), num(&h["alone"]["healthy"], "p99_ms"));
        self.target(
            "runaway_neighbour_p99",
            "one runaway guest raises one-GET calls' p99 (c=50) by <= 10% (p99 next to it / alone, same rounds)",
            p99_one,
            "x",
            |v| v <= 1.10,
        );
        self.target(
            "runaway_end_after_deadline",
            "the runaway call ends <= 50 ms after its deadline (its latest, same run)",
            num(&one["spinners"], "past_deadline_ms.max"),
            " ms",
            |v| v <= 50.0,
        );
    }

    /// `soak`: the confusion table, the resident set and its slope, calls
    /// not accounted for.
    fn soak(&mut self, s: &Value) {
        let mut t = vec![format!(
            "Soak ({} ms deadline; about 3% injected faults; `upstream_received` in the JSON is what the upstream saw):",
            fmt(num(s, "deadline_ms"), 0)
        )];
        for run in s["runs"].as_array().into_iter().flatten() {
            let lanes = &run["lanes"];
            let mut outcomes: Vec<String> = Vec::new();
            for cell in run["confusion"].as_array().into_iter().flatten() {
                let o = cell["outcome"].as_str().unwrap_or("?").to_string();
                if !outcomes.contains(&o) {
                    outcomes.push(o);
                }
            }
            t.push(String::new());
            t.push(format!(
                "{} calls, {lanes} in flight, keep_resident_bytes {} KiB: {} calls/s; not accounted for {}; faultless ok median / p99 {} / {} ms",
                run["calls"],
                run["keep_resident_kib"],
                fmt(num(run, "calls_per_s"), 0),
                run["not_accounted_for"],
                fmt(num(run, "ok_median_ms"), 1),
                fmt(num(run, "ok_p99_ms"), 1),
            ));
            t.push(String::new());
            t.push(format!("| injected \\ outcome | injected | {} |", outcomes.join(" | ")));
            t.push(format!("|---|---:|{}", "---:|".repeat(outcomes.len())));
            for fault in crate::servers::FAULTS {
                let cells: Vec<String> = outcomes
                    .iter()
                    .map(|o| {
                        run["confusion"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|c| c["fault"] == *fault && c["outcome"] == o.as_str())
                            .map_or("".into(), |c| c["calls"].to_string())
                    })
                    .collect();
                t.push(format!("| {fault} | {} | {} |", run["injected"][*fault], cells.join(" | ")));
            }
            let rss: Vec<String> = run["rss_mib"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| format!("{} at {}k", fmt(num(r, "mib"), 1), r["calls"].as_u64().unwrap_or(0) / 1000))
                .collect();
            t.push(String::new());
            t.push(format!(
                "RSS MiB: {} before, {}; slope 50k-100k {} KiB per 1,000 calls; {} after the host was dropped",
                fmt(num(run, "rss_before_mib"), 1),
                rss.join(", "),
                fmt(num(run, "rss_slope_kib_per_1000_calls"), 1),
                fmt(num(run, "rss_after_drop_mib"), 1),
            ));
            if let Some(examples) = run["examples"].as_object() {
                for (key, example) in examples {
                    t.push(format!("- {key}: {}", example.as_str().unwrap_or("?")));
                }
            }
        }
        self.extra.push(t.join("\n"));
    }

    fn merge(&mut self, key: &str, extra: Value) {
        let entry = self.scenarios.entry(key.to_string()).or_insert_with(|| json!({}));
        if let (Value::Object(m), Value::Object(extra)) = (entry, extra) {
            m.extend(extra);
        }
    }

    /// The table as Markdown, then the targets.
    pub fn print(&self) {
        println!();
        println!(
            "| scenario | variant | median us | p99 us | calls/s | CPU us/call | k instr/call | peak RSS MiB | baseline | ratio |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---|---|");
        for row in &self.rows {
            let f = &row.figures;
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                row.variant,
                fmt(num(f, "median_us"), 1),
                fmt(num(f, "p99_us"), 1),
                fmt(num(f, "calls_per_s"), 0),
                fmt(num(f, "cpu_us_per_call"), 1),
                fmt(num(f, "kinstructions_per_call"), 0),
                fmt(num(f, "peak_rss_mib"), 1),
                row.baseline,
                row.ratio
            );
        }
        for table in &self.extra {
            println!();
            println!("{table}");
        }
        println!();
        println!("| target | measured | met |");
        println!("|---|---:|---|");
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            println!("| {} | {} | {met} |", t.goal, t.measured.as_deref().unwrap_or("-"));
        }
    }

    /// The JSON document: one object per scenario, plus the machine and targets.
    pub fn to_json(&self, machine: Value, command: &str) -> Value {
        let mut doc = self.scenarios.clone();
        doc.insert("machine".into(), machine);
        doc.insert("command".into(), command.into());
        doc.insert(
            "targets".into(),
            self.targets
                .iter()
                .map(|t| json!({ "name": t.name, "goal": t.goal, "measured": t.measured, "met": t.met }))
                .collect(),
        );
        Value::Object(doc)
    }
}

/// A waiting call's share of the resident set, by kind, KiB.
struct Breakdown {
    total: Option<f64>,
    fiber: f64,
    memory: f64,
    image: f64,
    anon: f64,
    files: f64,
    malloc: Option<f64>,
    /// All of it with shared pages counted once (PSS, over every mapping).
    pss: f64,
}

/// An in-flight run's resident set at full hold, less its idle one, over
/// the calls held, by kind: groups of mappings with one mapping per call
/// (or more) are the pool's (a 2 MiB one is a fiber stack, smaller ones
/// the accessible part of a linear memory, a `.cwasm` file the component's
/// data image mapped copy-on-write); the rest of the anonymous memory is
/// malloc's and the pool's tables. What malloc handed out (mallinfo2) is
/// shown beside it: it counts capacity never touched, so it can exceed the
/// resident growth.
fn breakdown(f: &Value) -> Option<Breakdown> {
    let held = num(f, "held_at_once").filter(|h| *h > 0.0)?;
    let (full, idle) = (f["smaps_at_full_hold"].as_array()?, f["smaps_idle"].as_array()?);
    let sum = |groups: &[Value], pick: &dyn Fn(&Value) -> bool| -> f64 {
        groups.iter().filter(|g| pick(g)).filter_map(|g| num(g, "rss_kib")).sum()
    };
    let per_call = |g: &Value| num(g, "mappings").is_some_and(|m| m >= held);
    let backing = |g: &Value| g["backing"].as_str().unwrap_or("").to_string();
    let is_anon = |g: &Value| matches!(backing(g).as_str(), "anon" | "[heap]" | "other");
    let fiber = sum(full, &|g| per_call(g) && is_anon(g) && num(g, "mapping_kib").is_some_and(|k| k >= 2048.0));
    let memory = sum(full, &|g| per_call(g) && is_anon(g) && num(g, "mapping_kib").is_some_and(|k| k < 2048.0));
    let image = sum(full, &|g| per_call(g) && backing(g).contains(".cwasm"));
    let anon = sum(full, &|g| !per_call(g) && is_anon(g)) - sum(idle, &|g| is_anon(g));
    let files = sum(full, &|g| !per_call(g) && !is_anon(g)) - sum(idle, &|g| !is_anon(g));
    let malloc = num(f, "malloc_in_use_at_full_hold_mib")
        .zip(num(f, "malloc_in_use_idle_mib"))
        .map(|(full, idle)| (full - idle) * 1024.0);
    let total =
        num(f, "rss_at_full_hold_mib").zip(num(f, "idle_rss_mib")).map(|(full, idle)| (full - idle) * 1024.0 / held);
    let pss = |groups: &[Value]| groups.iter().filter_map(|g| num(g, "pss_kib")).sum::<f64>();
    let pss = (pss(full) - pss(idle)) / held;
    Some(Breakdown {
        total,
        fiber: fiber / held,
        memory: memory / held,
        image: image / held,
        anon: anon / held,
        files: files / held,
        malloc: malloc.map(|m| m / held),
        pss,
    })
}
