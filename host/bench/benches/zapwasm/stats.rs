//! What every scenario measures: latency percentiles, throughput, and the
//! process's resident memory (peak and sampled).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// Latencies of one phase, and what they add up to.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Calls that returned the expected result.
    pub calls: u64,
    /// Calls that failed or returned something else.
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Wall-clock seconds of the phase.
    pub elapsed_s: f64,
    /// Successful calls per second.
    pub calls_per_s: f64,
    /// Median latency, microseconds.
    pub median_us: f64,
    /// 99th-percentile latency, microseconds.
    pub p99_us: f64,
    /// Largest resident set seen during the phase (sampled every 10 ms), MiB.
    pub peak_rss_mib: f64,
    /// CPU time this process spent per successful call (user + system, all
    /// threads), microseconds: unlike the rates, not skewed by other load on
    /// the machine. None where it was not measured.
    pub cpu_us_per_call: Option<f64>,
    /// User-space instructions per successful call, thousands, counted by
    /// the CPU on every runtime thread of the worker: unlike time, the same
    /// from run to run. None where the machine gives no counter.
    pub kinstructions_per_call: Option<f64>,
}

impl Figures {
    /// Figures from latencies (nanoseconds) of the calls of a phase.
    pub fn from_latencies(
        mut latencies_ns: Vec<u64>,
        errors: u64,
        first_error: Option<String>,
        elapsed: Duration,
        peak_rss_mib: f64,
    ) -> Figures {
        latencies_ns.sort_unstable();
        let calls = latencies_ns.len() as u64;
        Figures {
            calls,
            errors,
            first_error,
            elapsed_s: elapsed.as_secs_f64(),
            calls_per_s: calls as f64 / elapsed.as_secs_f64().max(1e-9),
            median_us: percentile(&latencies_ns, 0.50) / 1e3,
            p99_us: percentile(&latencies_ns, 0.99) / 1e3,
            peak_rss_mib,
            cpu_us_per_call: None,
            kinstructions_per_call: None,
        }
    }

    /// Several phases of the same kind (rounds) as one: latencies pooled,
    /// throughput over the summed time, the largest peak.
    pub fn pooled(rounds: Vec<Phase>) -> Figures {
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut first_error = None;
        let mut elapsed = Duration::ZERO;
        let mut peak: f64 = 0.0;
        let mut cpu = Some(Duration::ZERO);
        let mut instructions = Some(0);
        for round in rounds {
            cpu = cpu.zip(round.cpu).map(|(a, b)| a + b);
            instructions = instructions.zip(round.instructions).map(|(a, b)| a + b);
            latencies.extend(round.latencies_ns);
            errors += round.errors;
            first_error = first_error.or(round.first_error);
            elapsed += round.elapsed;
            peak = peak.max(round.peak_rss_mib);
        }
        let mut figures = Figures::from_latencies(latencies, errors, first_error, elapsed, peak);
        figures.cpu_us_per_call =
            cpu.filter(|_| figures.calls > 0).map(|cpu| cpu.as_secs_f64() * 1e6 / figures.calls as f64);
        figures.kinstructions_per_call =
            instructions.filter(|_| figures.calls > 0).map(|n| n as f64 / 1e3 / figures.calls as f64);
        figures
    }
}

/// The raw record of one timed phase.
#[derive(Debug, Default)]
pub struct Phase {
    pub latencies_ns: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub peak_rss_mib: f64,
    /// CPU time of this process during the phase, when measured.
    pub cpu: Option<Duration>,
    /// User-space instructions of the counted threads during the phase.
    pub instructions: Option<u64>,
}

impl Phase {
    /// Fold in what one load-generating task recorded.
    pub fn absorb(&mut self, task: TaskRecord) {
        self.latencies_ns.extend(task.latencies_ns);
        self.errors += task.errors;
        if self.first_error.is_none() {
            self.first_error = task.first_error;
        }
    }
}

/// What one load-generating task recorded.
#[derive(Debug, Default)]
pub struct TaskRecord {
    pub latencies_ns: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl TaskRecord {
    /// Record one call that started at `started`: its latency if it
    /// succeeded, else the error.
    pub fn record(&mut self, started: Instant, result: Result<(), String>) {
        match result {
            Ok(()) => self.latencies_ns.push(started.elapsed().as_nanos() as u64),
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }
}

/// The value at quantile `q` of sorted values (nearest rank), or 0 for none.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// CPU time this process has used so far, user and system, all threads.
pub fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The instruction counters of the threads that run calls (see
/// [`count_instructions_of_this_thread`]).
static COUNTERS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Starts counting the user-space instructions of the calling thread
/// (`perf_event_open`, the CPU's own counter); [`instructions`] sums every
/// thread started this way. Call it on each thread that runs the workload:
/// the worker's main thread and, through `on_thread_start`, the runtime's.
/// Without a counter (no PMU, `perf_event_paranoid` above 2) nothing is
/// counted and the figure is left out.
pub fn count_instructions_of_this_thread() {
    // struct perf_event_attr, as of PERF_ATTR_SIZE_VER0 (64 bytes): type,
    // size, config, then sample_period, sample_type, read_format, the flag
    // bits, wakeup_events, bp_type, bp_addr.
    #[repr(C)]
    struct Attr {
        kind: u32,
        size: u32,
        config: u64,
        unused: [u64; 3],
        flags: u64,
        tail: [u64; 2],
    }
    const PERF_TYPE_HARDWARE: u32 = 0;
    const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
    const EXCLUDE_KERNEL: u64 = 1 << 5;
    const EXCLUDE_HV: u64 = 1 << 6;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
    let attr = Attr {
        kind: PERF_TYPE_HARDWARE,
        size: std::mem::size_of::<Attr>() as u32,
        config: PERF_COUNT_HW_INSTRUCTIONS,
        unused: [0; 3],
        flags: EXCLUDE_KERNEL | EXCLUDE_HV,
        tail: [0; 2],
    };
    // SAFETY: the attribute is a live, fully initialized perf_event_attr of
    // the size it states; pid 0 and cpu -1 mean this thread on any CPU.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &attr as *const Attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC) };
    if fd >= 0 {
        COUNTERS.lock().unwrap_or_else(|e| e.into_inner()).push(fd as i32);
    }
}

/// User-space instructions of the counted threads so far; None without counters.
pub fn instructions() -> Option<u64> {
    let counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
    if counters.is_empty() {
        return None;
    }
    let mut total = 0;
    for &fd in counters.iter() {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from a counter this process opened.
        let read = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
        if read != 8 {
            return None;
        }
        total += count;
    }
    Some(total)
}

/// A field of /proc/self/status in kB, as MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The resident set now, MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// The peak resident set of this process so far (VmHWM), MiB.
pub fn hwm_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Samples the resident set every 10 ms on a thread of its own until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    /// The largest sample taken before `mark` was set (see
    /// [`RssSampler::with_mark`]).
    before_mark_kib: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start() -> RssSampler {
        RssSampler::with_mark(Arc::new(AtomicBool::new(false)))
    }

    /// Sample, and keep apart the largest sample taken before `mark` is
    /// set (`in_flight`: before the first call ended, so while every call
    /// was waiting).
    pub fn with_mark(mark: Arc<AtomicBool>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new((rss_mib() * 1024.0) as u64));
        let before_mark_kib = Arc::new(AtomicU64::new(peak_kib.load(Ordering::Relaxed)));
        let thread = {
            let (stop, peak_kib, before_mark_kib) = (stop.clone(), peak_kib.clone(), before_mark_kib.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let marked = mark.load(Ordering::SeqCst);
                    let rss = (rss_mib() * 1024.0) as u64;
                    peak_kib.fetch_max(rss, Ordering::Relaxed);
                    if !marked {
                        before_mark_kib.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        RssSampler { stop, peak_kib, before_mark_kib, thread: Some(thread) }
    }

    /// Stop sampling; the largest resident set seen, MiB.
    pub fn stop(self) -> f64 {
        self.stop_with_mark().0
    }

    /// Stop sampling; the largest resident set seen, and the largest seen
    /// before the mark was set, MiB.
    pub fn stop_with_mark(mut self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak_kib.fetch_max((rss_mib() * 1024.0) as u64, Ordering::Relaxed);
        let mib = |kib: &AtomicU64| kib.load(Ordering::Relaxed) as f64 / 1024.0;
        (mib(&self.peak_kib), mib(&self.before_mark_kib))
    }
}

/// CPU time (user + system) of this process's threads whose name starts
/// with `prefix` (as /proc shows names: their first 15 bytes), e.g. the
/// host's background pool, `zapwasm-backgro`.
pub fn threads_cpu_time(prefix: &str) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Duration::ZERO };
    let mut total = 0.0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the name (which ends with the last ')'): utime and
        // stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        total += (field(11) + field(12)) / ticks;
    }
    Duration::from_secs_f64(total)
}

/// This process's resident set by kind of mapping, from /proc/self/smaps:
/// mappings grouped by what backs them (`anon`, `[heap]`, `[stack]`, or the
/// file's name) and their size, each group with its mappings' count and
/// summed RSS, largest first (the first `top` groups, the rest summed as
/// `other`). The pooling allocator's slots show up as many mappings of one
/// size (a linear memory's accessible part, a fiber stack), malloc's arenas
/// as a few large anonymous ones. Each group also has its proportional set
/// size (`pss_kib`): a page mapped N times counts 1/N in each mapping, so
/// the component's data image, the same page-cache pages mapped once per
/// instance, counts once in all (the resident set counts it per mapping).
pub fn smaps_breakdown(top: usize) -> Vec<Value> {
    use std::collections::HashMap;
    use std::io::BufRead;
    // Read a line at a time: with 10,000 instances the file is some 80 MB,
    // which read whole would be part of the resident set it measures.
    let Ok(file) = std::fs::File::open("/proc/self/smaps") else { return Vec::new() };
    // (backing, size KiB) -> (mappings, RSS KiB, PSS KiB)
    let mut groups: HashMap<(String, u64), (u64, u64, u64)> = HashMap::new();
    let mut current: Option<(String, u64)> = None;
    // The current mapping's RSS, until its PSS (the next line) closes it.
    let mut rss = 0;
    for line in std::io::BufReader::with_capacity(64 << 10, file).lines().map_while(Result::ok) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').filter(|(s, _)| u64::from_str_radix(s, 16).is_ok()) {
            // A mapping's header: range, perms, offset, dev, inode, [path].
            let size_kib =
                u64::from_str_radix(end, 16).unwrap_or(0).saturating_sub(u64::from_str_radix(start, 16).unwrap_or(0))
                    / 1024;
            let path: Vec<&str> = words.skip(4).collect();
            let backing = match path.join(" ") {
                p if p.is_empty() => "anon".to_string(),
                p => p.rsplit('/').next().unwrap_or(&p).to_string(),
            };
            current = Some((backing, size_kib));
        } else if first == "Rss:" || first == "Pss:" {
            let kib = words.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if first == "Rss:" {
                rss = kib;
            } else if let Some(key) = current.take() {
                let entry = groups.entry(key).or_default();
                entry.0 += 1;
                entry.1 += rss;
                entry.2 += kib;
            }
        }
    }
    let mut sorted: Vec<_> = groups.into_iter().filter(|(_, (_, rss, pss))| *rss > 0 || *pss > 0).collect();
    sorted.sort_by_key(|(_, (_, rss, _))| std::cmp::Reverse(*rss));
    let (rest_rss, rest_pss) = sorted.iter().skip(top).fold((0, 0), |(rss, pss), (_, (_, r, p))| (rss + r, pss + p));
    let mut out: Vec<Value> = sorted
        .into_iter()
        .take(top)
        .map(|((backing, size_kib), (mappings, rss_kib, pss_kib))| {
            serde_json::json!({
                "backing": backing, "mapping_kib": size_kib, "mappings": mappings,
                "rss_kib": rss_kib, "pss_kib": pss_kib,
            })
        })
        .collect();
    out.push(serde_json::json!({ "backing": "other", "rss_kib": rest_rss, "pss_kib": rest_pss }));
    out
}

/// The bytes this process's malloc has handed out and not had back, MiB
/// (glibc's `mallinfo2`: small blocks in use in every arena plus blocks
/// mapped on their own). Against the resident set it separates what the
/// host and its libraries hold from what malloc keeps but no one uses.
/// `None` where the C library is not glibc.
pub fn malloc_in_use_mib() -> Option<f64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no arguments and only reads malloc's state.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as f64 / (1024.0 * 1024.0))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}
