//! What the orchestrator prepares before measuring: where things are, the
//! bench guest component, the machine's description, and worker processes.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::workers::WorkerConfig;

/// The workspace root (this crate is `host/bench/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("host/bench/ sits in the workspace").to_path_buf()
}

/// The target directory this bench binary was built into
/// (`<target>/release/deps/zapwasm-<hash>`), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.join("CACHEDIR.TAG").is_file() || dir.join("release").is_dir())
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Build the bench guest to a component with the `guest` profile, in a
/// target directory of its own, and snapshot it with its app built, as
/// `zapwasm build` does by default; the snapshot's path.
pub fn build_guest(target: &Path) -> Result<PathBuf, String> {
    let plain = build_guest_package(target, "bench")?;
    let snapshotted = plain.with_extension("snapshot.wasm");
    zapwasm_build::snapshot::snapshot_file(&plain, &snapshotted)
        .map_err(|e| format!("cannot snapshot {}: {e}", plain.display()))?;
    Ok(snapshotted)
}

/// Build the guest crate `package` (`bench`, or `fixture` for the
/// `neighbours` scenario's spinning guest) as [`build_guest`] does.
pub fn build_guest_package(target: &Path, package: &str) -> Result<PathBuf, String> {
    let guest_target = target.join("bench-guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2", "-p", package, "--target-dir"])
        .arg(&guest_target);
    // Flags meant for the host build are not for wasm.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"]
    {
        command.env_remove(var);
    }
    let status = command.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the bench guest failed (see above); a missing target needs \
                    `rustup target add wasm32-wasip2`"
            .into());
    }
    let component = guest_target.join(format!("wasm32-wasip2/guest/{package}.wasm"));
    if component.is_file() { Ok(component) } else { Err(format!("the guest build made no {}", component.display())) }
}

/// The machine the figures come from.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": model,
        "ram_gib": (ram_kib as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "loadavg_at_start": load_average(),
        "date": date(),
    })
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Run one scenario in a fresh worker process (this binary again) and
/// return what it printed after `RESULT `.
/// The stdout of a process that announces what it did in lines starting
/// with a word (`READY`, `PHASE <json>`, ...).
pub struct Announcements {
    lines: Lines<BufReader<ChildStdout>>,
    who: &'static str,
}

impl Announcements {
    pub fn new(stdout: ChildStdout, who: &'static str) -> Announcements {
        Announcements { lines: BufReader::new(stdout).lines(), who }
    }

    /// The rest of the next line starting with `prefix`; other lines are
    /// passed on to stderr. An error if the process ends first.
    pub fn expect(&mut self, prefix: &str) -> Result<String, String> {
        for line in self.lines.by_ref().map_while(Result::ok) {
            match line.strip_prefix(prefix) {
                Some(rest) => return Ok(rest.trim_start().to_string()),
                None => eprintln!("  {}: {line}", self.who),
            }
        }
        Err(format!("the {} ended before its {prefix} line; see its output above", self.who))
    }
}

/// Ask a process that takes phases on stdin (`bench.js` in interleave mode,
/// an `http_get_zapwasm` worker) for one phase, and read its `PHASE` line.
pub fn ask_phase(
    stdin: &mut ChildStdin,
    out: &mut Announcements,
    concurrency: usize,
    seconds: f64,
) -> Result<Value, String> {
    writeln!(stdin, "load {concurrency} {}", (seconds * 1000.0).round() as u64)
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("cannot ask the {} for a phase: {e}", out.who))?;
    let json = out.expect("PHASE")?;
    serde_json::from_str(&json).map_err(|e| format!("the {}'s phase is not JSON: {e}", out.who))
}

/// The bench binary again, as the worker `config` describes, its stdout
/// piped and its stderr passed through.
///
/// `ZAPWASM_BENCH_WORKER_WRAP`, when set, is a command line the worker is
/// started under (split on spaces), for profiling one: e.g.
/// `valgrind --tool=dhat --dhat-out-file=target/dhat.%p.json`.
fn worker_command(config: &WorkerConfig) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let config_json = serde_json::to_string(config).map_err(|e| e.to_string())?;
    let wrap = std::env::var("ZAPWASM_BENCH_WORKER_WRAP").unwrap_or_default();
    let mut wrap = wrap.split_whitespace();
    let mut command = match wrap.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(wrap).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command.args(["--worker", &config_json]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    Ok(command)
}

/// A worker that runs one phase at a time on command (`http_get_zapwasm`):
/// started once, it answers `load <c> <ms>` with `PHASE <json>`.
pub struct PhasedWorker {
    child: Child,
    stdin: ChildStdin,
    out: Announcements,
}

impl PhasedWorker {
    /// Start it and wait until it is warmed up (`READY`).
    pub fn start(config: &WorkerConfig) -> Result<PhasedWorker, String> {
        let mut child =
            worker_command(config)?.stdin(Stdio::piped()).spawn().map_err(|e| format!("cannot start a worker: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let out = Announcements::new(child.stdout.take().expect("piped stdout"), "worker");
        let mut worker = PhasedWorker { child, stdin, out };
        worker.out.expect("READY")?;
        Ok(worker)
    }

    /// One phase of `seconds` at `concurrency`: what the worker printed.
    pub fn phase(&mut self, concurrency: usize, seconds: f64) -> Result<Value, String> {
        ask_phase(&mut self.stdin, &mut self.out, concurrency, seconds)
    }
}

impl Drop for PhasedWorker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "done").and_then(|()| self.stdin.flush());
        let _ = self.child.wait();
    }
}

pub fn run_worker(config: &WorkerConfig) -> Result<Value, String> {
    let mut child = worker_command(config)?.spawn().map_err(|e| format!("cannot start a worker: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut result = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        match line.strip_prefix("RESULT ") {
            Some(json) => result = Some(serde_json::from_str::<Value>(json).map_err(|e| e.to_string())?),
            None => eprintln!("  worker: {line}"),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    match result {
        Some(value) if value.get("error").is_none() => Ok(value),
        Some(value) => Err(value["error"].as_str().unwrap_or("failed").to_string()),
        None => Err(format!("the {} worker ended ({status}) without a result", config.scenario)),
    }
}
