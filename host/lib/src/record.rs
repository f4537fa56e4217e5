//! What a call leaves behind besides its result: log lines and HTTP exchanges.
//!
//! The guest's stdout and stderr, `z.console` and the request pipeline all
//! write into one [`CallRecord`]; every text is censored before it is kept.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::budget::HostBudget;
use crate::censor::Censor;
use crate::error::{CallError, LimitKind};

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// `z.console.debug`.
    Debug,
    /// `z.console.log` / `info`, and the guest's stdout.
    Info,
    /// `z.console.warn`.
    Warn,
    /// `z.console.error`, and the guest's stderr.
    Error,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Source {
    /// `z.console`.
    Console,
    /// The guest's standard output.
    Stdout,
    /// The guest's standard error.
    Stderr,
    /// The request pipeline: one line per HTTP exchange.
    Http,
    /// The host itself (a refresh, a retry).
    Host,
}

/// One log line of a call, secrets censored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The level.
    pub level: Level,
    /// Where it came from.
    pub source: Source,
    /// The text.
    pub message: String,
}

/// One HTTP request the host made for the guest, and its answer, secrets censored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpExchange {
    /// The method.
    pub method: String,
    /// The URL with params.
    pub url: String,
    /// Request headers sent.
    pub request_headers: Vec<(String, String)>,
    /// The request body as text (lossy UTF-8), cut at 4 KiB (or past a
    /// secret the cut would run through).
    pub request_body: Option<String>,
    /// The status, or `None` when no response came.
    pub status: Option<u16>,
    /// Response headers, names lower-case.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text, cut as the request body is.
    pub response_body: Option<String>,
    /// Why there was no response.
    pub error: Option<String>,
    /// What the host did not send on this hop because a redirect led to
    /// another origin: the names of the credential headers it dropped, and
    /// `body` when it dropped the body of a 307 or 308.
    pub dropped_on_redirect: Vec<String>,
    /// Time from sending to the end of the body.
    pub duration: Duration,
}

/// Bodies kept in an exchange record are cut here: the record is for
/// reading, and a full download would double the call's memory.
pub(crate) const BODY_PREVIEW_BYTES: usize = 4096;

#[derive(Default)]
pub(crate) struct CallRecord {
    pub(crate) logs: Vec<LogLine>,
    pub(crate) exchanges: Vec<HttpExchange>,
    log_bytes: u64,
    /// The limit the record ran into (the log limit, or the host's memory
    /// budget): the call must end with it.
    overflow: Option<CallError>,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

/// The record shared by the store's capabilities and its stdout/stderr pipes.
#[derive(Clone)]
pub(crate) struct SharedRecord {
    inner: Arc<Mutex<CallRecord>>,
    censor: Arc<Censor>,
    /// Values the host derived from secrets during this call (a digest
    /// answer, an OAuth 1 signature, credentials from a URL), censored
    /// like the secrets themselves.
    derived: Arc<Mutex<Derived>>,
    log_limit: u64,
    /// What the record keeps counts against the call's host memory.
    budget: Arc<HostBudget>,
}

#[derive(Default)]
struct Derived {
    values: Vec<String>,
    censor: Option<Arc<Censor>>,
}

/// What one exchange record holds, roughly, in bytes.
fn exchange_bytes(exchange: &HttpExchange) -> u64 {
    let pairs = |pairs: &[(String, String)]| pairs.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>();
    let text = exchange.method.len()
        + exchange.url.len()
        + pairs(&exchange.request_headers)
        + pairs(&exchange.response_headers)
        + exchange.request_body.as_ref().map_or(0, String::len)
        + exchange.response_body.as_ref().map_or(0, String::len)
        + exchange.error.as_ref().map_or(0, String::len)
        + exchange.dropped_on_redirect.iter().map(|d| d.len() + 24).sum::<usize>();
    (text + std::mem::size_of::<HttpExchange>()) as u64
}

impl SharedRecord {
    pub(crate) fn new(censor: Arc<Censor>, log_limit: u64, budget: Arc<HostBudget>) -> SharedRecord {
        SharedRecord { inner: Arc::default(), censor, derived: Arc::default(), log_limit, budget }
    }

    /// The text with every secret, and every value derived from one so
    /// far, replaced.
    pub(crate) fn censor_text(&self, text: &str) -> String {
        let censored = self.censor.apply(text);
        let derived = self.derived_censor();
        match derived {
            Some(derived) => derived.apply(&censored),
            None => censored,
        }
    }

    /// The censor of the values derived so far, if any.
    fn derived_censor(&self) -> Option<Arc<Censor>> {
        self.derived.lock().unwrap_or_else(|e| e.into_inner()).censor.clone()
    }

    /// Censor these values from now on: the host derived them from
    /// secrets (they and their encodings are as secret as the source).
    pub(crate) fn add_derived(&self, values: impl IntoIterator<Item = String>) {
        let mut derived = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        let before = derived.values.len();
        for value in values {
            if value.len() >= 3 && !derived.values.contains(&value) {
                derived.values.push(value);
            }
        }
        if derived.values.len() != before {
            derived.censor = Some(Arc::new(Censor::for_secrets(derived.values.clone())));
        }
    }

    /// Where a text kept in part is cut: at `at`, or past a secret (or a
    /// value derived from one) that runs across `at`, so that it is
    /// censored whole rather than kept in part.
    pub(crate) fn cut_at(&self, text: &[u8], at: usize) -> usize {
        let derived = self.derived_censor();
        let cut = self.censor.cut_at(text, at);
        derived.map_or(cut, |derived| derived.cut_at(text, at).max(cut))
    }

    /// Whether a text holds a secret of the call, or a value derived from one.
    pub(crate) fn holds_secret(&self, text: &str) -> bool {
        let derived = self.derived_censor();
        self.censor.finds(text) || derived.is_some_and(|derived| derived.finds(text))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallRecord> {
        // A poisoned lock only means another thread panicked mid-push; the
        // lines already in are still good.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep a log line. Returns false once the call's log limit or host
    /// memory is spent: the line was dropped and the call must end
    /// ([`SharedRecord::overflow`] says with what).
    pub(crate) fn log(&self, level: Level, source: Source, message: &str) -> bool {
        self.log_censored(level, source, self.censor_text(message))
    }

    /// [`SharedRecord::log`] for a line built only from censored parts.
    pub(crate) fn log_censored(&self, level: Level, source: Source, message: String) -> bool {
        let mut record = self.lock();
        if record.overflow.is_some() {
            return false;
        }
        record.log_bytes += message.len() as u64;
        if record.log_bytes > self.log_limit {
            record.overflow =
                Some(CallError::Limit { limit: LimitKind::Log, value: format!("{} bytes", self.log_limit) });
            return false;
        }
        let size = (message.len() + std::mem::size_of::<LogLine>()) as u64;
        if let Err(exhausted) = self.budget.keep(size) {
            record.overflow = Some(exhausted.into());
            return false;
        }
        record.logs.push(LogLine { level, source, message });
        true
    }

    /// Keep an exchange record (built from censored parts); past the host
    /// memory budget it is dropped and the call must end.
    pub(crate) fn exchange(&self, exchange: HttpExchange) {
        let mut record = self.lock();
        match self.budget.keep(exchange_bytes(&exchange)) {
            Ok(()) => record.exchanges.push(exchange),
            Err(exhausted) => {
                record.overflow.get_or_insert(exhausted.into());
            }
        }
    }

    /// Whether the record ran into a limit (the call must end).
    pub(crate) fn overflowed(&self) -> bool {
        self.lock().overflow.is_some()
    }

    /// The limit the record ran into, if any.
    pub(crate) fn overflow(&self) -> Option<CallError> {
        self.lock().overflow.clone()
    }

    /// Take everything recorded; output still lacking a newline becomes a line.
    pub(crate) fn finish(&self) -> (Vec<LogLine>, Vec<HttpExchange>) {
        for source in [Source::Stdout, Source::Stderr] {
            let rest = {
                let mut record = self.lock();
                let partial = match source {
                    Source::Stdout => &mut record.partial_stdout,
                    _ => &mut record.partial_stderr,
                };
                std::mem::take(partial)
            };
            if !rest.is_empty() {
                self.log(level_of(source), source, &String::from_utf8_lossy(&rest));
            }
        }
        let (mut logs, mut exchanges) = {
            let mut record = self.lock();
            (std::mem::take(&mut record.logs), std::mem::take(&mut record.exchanges))
        };
        // A value derived during the call (credentials in a URL) may have
        // been logged before the host derived it: censor what was kept
        // again with everything derived by the end.
        let derived = self.derived_censor();
        if let Some(derived) = derived {
            derived.apply_to_records(&mut logs, &mut exchanges);
        }
        (logs, exchanges)
    }

    /// The last line the guest wrote to stderr (its panic message, after a trap).
    pub(crate) fn last_stderr_line(&self) -> Option<String> {
        let partial = {
            let record = self.lock();
            if record.partial_stderr.is_empty() {
                return record.logs.iter().rev().find(|l| l.source == Source::Stderr).map(|l| l.message.clone());
            }
            String::from_utf8_lossy(&record.partial_stderr).trim_end().to_string()
        };
        Some(self.censor_text(&partial))
    }

    fn write_output(&self, source: Source, bytes: &[u8]) {
        let lines: Vec<Vec<u8>> = {
            let mut record = self.lock();
            let partial = match source {
                Source::Stdout => &mut record.partial_stdout,
                _ => &mut record.partial_stderr,
            };
            // What was pending holds no newline: look only in what is new
            // (found by fuzzing: a long line written a byte at a time was
            // scanned whole on every write, quadratic in its length).
            let mut from = partial.len();
            partial.extend_from_slice(bytes);
            let mut lines = Vec::new();
            while let Some(end) = partial[from..].iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = partial.drain(..=from + end).collect();
                line.pop();
                lines.push(line);
                from = 0;
            }
            // A guest printing without newlines must not grow this forever.
            if partial.len() as u64 > self.log_limit {
                lines.push(std::mem::take(partial));
            }
            lines
        };
        for line in lines {
            if !self.log(level_of(source), source, &String::from_utf8_lossy(&line)) {
                break;
            }
        }
    }

    /// The guest's stdout or stderr, as a WASI output stream.
    pub(crate) fn pipe(&self, source: Source) -> OutputPipe {
        OutputPipe { record: self.clone(), source }
    }
}

fn level_of(source: Source) -> Level {
    if source == Source::Stderr { Level::Error } else { Level::Info }
}

/// stdout or stderr of one call: bytes become log lines.
#[derive(Clone)]
pub(crate) struct OutputPipe {
    record: SharedRecord,
    source: Source,
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for OutputPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        // Past the log limit the output is dropped; the epoch check ends the
        // call within a tick and `invoke` reports the log limit. (An error
        // here would leave the guest waiting in WASI's flush instead.)
        if !self.record.overflowed() {
            self.record.write_output(self.source, buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// Found by fuzzing (`fuzz::guest_output_becomes_censored_log_lines`):
    /// each write scanned the whole pending line again, so a line written a
    /// byte at a time took time quadratic in its length (64 KiB: 3 s in a
    /// debug build; at the default 1 MiB log limit, minutes).
    #[test]
    fn a_long_line_written_a_byte_at_a_time_takes_linear_time() {
        let record = SharedRecord::new(Arc::new(Censor::default()), 1 << 20, HostBudget::new(u64::MAX));
        let started = Instant::now();
        for _ in 0..(256 << 10) {
            record.write_output(Source::Stdout, b"1");
        }
        record.write_output(Source::Stdout, b"\nnext\n");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        let (lines, _) = record.finish();
        let lengths: Vec<usize> = lines.iter().map(|line| line.message.len()).collect();
        assert_eq!(lengths, [256 << 10, 4]);
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{self, Input};

    /// A secret the censor knows, as an authData value would be.
    const SECRET: &str = "tok-3f9a-secret";

    /// What guest output is made of, for the mutations.
    const TOKENS: &[&str] = &["\n", "\r\n", SECRET, "tok-3f9a-", "secret\n", "tok%2D3f9a%2Dsecret"];

    /// The log limit of these records: small, so long inputs pass it, but
    /// larger than most inputs, so long lines stay pending.
    const LOG_LIMIT: u64 = 48 * 1024;

    /// What a guest writes to stdout and stderr, in writes of any size:
    /// every line is kept without its newline and without the secret, the
    /// log limit holds, and below it the lines are the output as written.
    #[test]
    fn guest_output_becomes_censored_log_lines() {
        let seeds = fuzzing::corpus("guest_output");
        let write_size = prop_oneof![Just(1usize), 1usize..64, 64usize..4096];
        let strategy = (fuzzing::inputs(&seeds, TOKENS), write_size, any::<bool>());
        let seeds = seeds.into_iter().flat_map(|seed| [(seed.clone(), 4096, false), (seed, 1, true)]).collect();
        type Case = (Input, usize, bool);
        fuzzing::run("guest_output", seeds, strategy, |(output, write_size, stderr): &Case| {
            let record = SharedRecord::new(
                Arc::new(Censor::for_secrets(vec![SECRET.to_string()])),
                LOG_LIMIT,
                HostBudget::new(u64::MAX),
            );
            let source = if *stderr { Source::Stderr } else { Source::Stdout };
            for write in output.0.chunks(*write_size) {
                if !record.overflowed() {
                    record.write_output(source, write);
                }
            }
            let (lines, _) = record.finish();
            // After `finish`: the pending last line may be what passes the limit.
            let overflowed = record.overflowed();
            let kept: usize = lines.iter().map(|line| line.message.len()).sum();
            prop_assert!(kept as u64 <= LOG_LIMIT);
            for line in &lines {
                prop_assert!(line.source == source && line.level == level_of(source));
                prop_assert!(!line.message.contains('\n') && !line.message.contains(SECRET), "{:?}", line.message);
            }
            let text = output.text();
            if !overflowed && !text.contains("tok") {
                let mut expected: Vec<&str> = text.split('\n').collect();
                if expected.last() == Some(&"") {
                    expected.pop();
                }
                let messages: Vec<&str> = lines.iter().map(|line| line.message.as_str()).collect();
                prop_assert_eq!(messages, expected);
            }
            Ok(())
        });
    }
}
