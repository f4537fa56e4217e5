//! `cold_start`: process start to first result of the `zapwasm` CLI, with
//! the compiled component already in its cache and with an empty cache.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stats::Figures;

/// One run of `zapwasm invoke`: the time to its first byte of output (the
/// result), and, when run under `/usr/bin/time`, its peak RSS.
struct Run {
    first_result: Duration,
    max_rss_mib: Option<f64>,
}

/// What each run needs.
struct Invoke<'a> {
    cli: &'a Path,
    component: &'a Path,
    base_url: &'a str,
    api_key: &'a str,
    cwd: &'a Path,
}

impl Invoke<'_> {
    /// Run once with `cache_dir`. With `measure_rss`, under `/usr/bin/time`:
    /// a child's ru_maxrss counts the memory of the process it was spawned
    /// from (this one, which holds the example API), a grandchild's does not.
    fn once(&self, cache_dir: &Path, measure_rss: bool) -> Result<Run, String> {
        let rss_file = self.cwd.join("maxrss");
        let mut command = if measure_rss {
            let mut time = Command::new("/usr/bin/time");
            time.args(["-f", "%M", "-o"]).arg(&rss_file).arg(self.cli);
            time
        } else {
            Command::new(self.cli)
        };
        let started = Instant::now();
        let mut child = command
            .current_dir(self.cwd)
            .arg("invoke")
            .arg(self.component)
            .args(["trigger", "http_get", "--allow-loopback", "-q", "--cache-dir"])
            .arg(cache_dir)
            .args(["--env", &format!("BENCH_BASE_URL={}", self.base_url)])
            .args(["--auth", &json!({ "api_key": self.api_key }).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.cli.display()))?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut output = vec![0u8; 1];
        let first = stdout.read(&mut output).map_err(|e| e.to_string())?;
        let first_result = started.elapsed();
        output.truncate(first);
        stdout.read_to_end(&mut output).map_err(|e| e.to_string())?;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("zapwasm invoke exited with {status}: {}", stderr.trim()));
        }
        let max_rss_mib = measure_rss
            .then(|| std::fs::read_to_string(&rss_file).ok()?.trim().parse::<f64>().ok())
            .flatten()
            .map(|kib| kib / 1024.0);
        let result: Value = serde_json::from_slice(&output).map_err(|e| format!("the output is not JSON ({e})"))?;
        match result.as_array() {
            Some(items) if items.len() == 10 => Ok(Run { first_result, max_rss_mib }),
            _ => Err(format!("unexpected result {result}")),
        }
    }
}

/// The runs' figures; the peak RSS from the run under `/usr/bin/time`.
fn figures(runs: &[Run], rss: Option<&Run>) -> Figures {
    let total: Duration = runs.iter().map(|r| r.first_result).sum();
    let peak = rss.and_then(|r| r.max_rss_mib).unwrap_or(f64::NAN);
    Figures::from_latencies(runs.iter().map(|r| r.first_result.as_nanos() as u64).collect(), 0, None, total, peak)
}

/// `cached_runs` runs with a primed cache, `empty_runs` with a new one each,
/// and one of each under `/usr/bin/time` for the peak RSS, when it exists.
pub fn run(
    component: &Path,
    scratch: &Path,
    base_url: &str,
    api_key: &str,
    cached_runs: usize,
    empty_runs: usize,
) -> Result<Value, String> {
    let cli = Path::new(env!("CARGO_BIN_EXE_zapwasm"));
    // A directory of its own: the CLI reads `.env` from where it runs.
    let cwd = scratch.join("cold-start");
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).map_err(|e| e.to_string())?;
    let invoke = Invoke { cli, component, base_url, api_key, cwd: &cwd };
    let cache = cwd.join("cache");
    let timed = Path::new("/usr/bin/time").is_file();
    invoke.once(&cache, false)?;
    let cached = (0..cached_runs).map(|_| invoke.once(&cache, false)).collect::<Result<Vec<_>, _>>()?;
    let cached_rss = if timed { Some(invoke.once(&cache, true)?) } else { None };
    let empty = |measure_rss: bool, i: usize| {
        let fresh = cwd.join(format!("empty-{i}"));
        let run = invoke.once(&fresh, measure_rss);
        let _ = std::fs::remove_dir_all(&fresh);
        run
    };
    let empties = (0..empty_runs).map(|i| empty(false, i)).collect::<Result<Vec<_>, _>>()?;
    let empty_rss = if timed { Some(empty(true, empty_runs)?) } else { None };
    let _ = std::fs::remove_dir_all(&cwd);
    Ok(json!({
        "cli": cli.display().to_string(),
        "cached": figures(&cached, cached_rss.as_ref()),
        "empty_cache": figures(&empties, empty_rss.as_ref()),
        "peak_rss_from": if timed { "one more run under /usr/bin/time" } else { "not measured (no /usr/bin/time)" },
    }))
}
