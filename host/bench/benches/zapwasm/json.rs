//! The `json` scenario: the guest SDK's JSON type (`zapwasm_guest::Value`,
//! objects as vectors of entries) against serde_json's `Value` with
//! `preserve_order` (an `IndexMap` per object: the type the guest SDK used
//! before its own, and the one the host uses), each parsing a text and
//! writing it back, natively, one thread, in alternating rounds.
//!
//! The texts: the example API's page of 10 contacts (what the bench
//! guest's `http_get` parses on every call), a page of 1,000 contacts in
//! the same shape, and one object of 5,000 keys (where the SDK's objects
//! switch to their hash index). Natively both allocate through glibc,
//! which costs more per allocation than the guest's own allocator, so the
//! guest's gain is measured by the `http_get` instruction counts in
//! BENCHMARKS.md; this scenario shows the two types side by side in one
//! run, on any machine.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Value, json};

use crate::stats;

/// Parse and write `text` with one of the two types; the written length.
type Round = fn(&str) -> usize;

fn with_serde_json(text: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(text).expect("the bench's own JSON");
    serde_json::to_string(&value).expect("a Value always writes").len()
}

fn with_sdk(text: &str) -> usize {
    let value = zapwasm_guest::from_str(text).expect("the bench's own JSON");
    value.to_string().len()
}

/// What one side did over the rounds.
#[derive(Default)]
struct Side {
    ops: u64,
    cpu_s: f64,
    instructions: Option<u64>,
    cpu_us_by_round: Vec<f64>,
}

/// `round` on `text` for `seconds`; adds to `side`.
fn stretch(side: &mut Side, round: Round, text: &str, seconds: f64) {
    let (started, cpu, instructions) = (Instant::now(), stats::cpu_time(), stats::instructions());
    let mut ops = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        for _ in 0..16 {
            black_box(round(black_box(text)));
        }
        ops += 16;
    }
    let cpu = stats::cpu_time().saturating_sub(cpu).as_secs_f64();
    side.ops += ops;
    side.cpu_s += cpu;
    side.cpu_us_by_round.push(cpu * 1e6 / ops as f64);
    side.instructions =
        instructions.zip(stats::instructions()).map(|(before, after)| after - before + side.instructions.unwrap_or(0));
}

/// A page of `n` contacts shaped as the example API's.
fn page_of(n: usize) -> String {
    let contacts: Vec<Value> = (0..n)
        .map(|i| {
            let first_name = ["Ada", "Grace", "Hedy", "Katherine"][i % 4];
            let last_name = ["Lovelace", "Hopper", "Lamarr", "Johnson"][i % 4];
            let company = ["Initech", "Umbrella", "Hooli"][i % 3];
            json!({
                "id": i + 1,
                "first_name": first_name,
                "last_name": last_name,
                "email": format!("contact{}@example.test", i + 1),
                "company": company,
                "created_at": format!("2026-01-{:02}T{:02}:00:00Z", 1 + i % 28, i % 24),
            })
        })
        .collect();
    json!({ "contacts": contacts, "next": null }).to_string()
}

/// One object of `n` keys.
fn object_of(n: usize) -> String {
    let map: serde_json::Map<String, Value> = (0..n).map(|i| (format!("key-{i:05}"), json!(i))).collect();
    Value::Object(map).to_string()
}

/// Runs the scenario and prints its table; the figures as JSON. `page` is
/// the example API's page of 10 contacts, as the bench guest receives it.
pub fn run(page: &str, seconds: f64, rounds: u32) -> Result<Value, String> {
    stats::count_instructions_of_this_thread();
    let texts = [
        ("the API's page of 10 contacts", page.to_string()),
        ("a page of 1,000 contacts", page_of(1_000)),
        ("an object of 5,000 keys", object_of(5_000)),
    ];
    for (label, text) in &texts {
        if with_serde_json(text) != with_sdk(text) {
            return Err(format!("{label}: the two types wrote different texts"));
        }
    }
    // Short texts get the same time as long ones: the rounds are timed.
    let mut sides: Vec<[Side; 2]> = texts.iter().map(|_| Default::default()).collect();
    for round in 0..rounds {
        eprintln!("json: round {} of {rounds}", round + 1);
        for ((_, text), [theirs, ours]) in texts.iter().zip(sides.iter_mut()) {
            // Alternate which goes first, so a drift in the machine's load
            // falls on both.
            if round % 2 == 0 {
                stretch(theirs, with_serde_json, text, seconds / 2.0);
                stretch(ours, with_sdk, text, seconds / 2.0);
            } else {
                stretch(ours, with_sdk, text, seconds / 2.0);
                stretch(theirs, with_serde_json, text, seconds / 2.0);
            }
        }
    }

    println!("\n### The guest's JSON type (parse, then write back; natively, one thread)\n");
    println!(
        "| text | bytes | serde_json `Value` µs/op | SDK `Value` µs/op | rounds' SDK µs/op, min-max | CPU, SDK vs serde_json | instructions/op, serde_json | SDK |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for ((label, text), [theirs, ours]) in texts.iter().zip(&sides) {
        let per_op = |side: &Side| side.cpu_s * 1e6 / side.ops.max(1) as f64;
        let instructions = |side: &Side| side.instructions.map(|n| n as f64 / side.ops.max(1) as f64);
        let (low, high) =
            ours.cpu_us_by_round.iter().fold((f64::INFINITY, 0.0f64), |(low, high), &us| (low.min(us), high.max(us)));
        let shown = |n: Option<f64>| n.map_or_else(|| "n/a".to_string(), |n| format!("{:.1}k", n / 1000.0));
        println!(
            "| {label} | {} | {:.2} | {:.2} | {low:.2}-{high:.2} | x{:.2} | {} | {} |",
            text.len(),
            per_op(theirs),
            per_op(ours),
            per_op(ours) / per_op(theirs),
            shown(instructions(theirs)),
            shown(instructions(ours)),
        );
        rows.push(json!({
            "text": label,
            "bytes": text.len(),
            "serde_json_cpu_us_per_op": per_op(theirs),
            "sdk_cpu_us_per_op": per_op(ours),
            "sdk_cpu_us_per_op_by_round": ours.cpu_us_by_round,
            "sdk_vs_serde_json_cpu": per_op(ours) / per_op(theirs),
            "serde_json_instructions_per_op": instructions(theirs),
            "sdk_instructions_per_op": instructions(ours),
        }));
    }
    Ok(json!({ "rows": rows, "seconds_per_round": seconds, "rounds": rounds }))
}
