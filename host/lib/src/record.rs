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

use crate::censor::Censor;

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
    /// The request body as text (lossy UTF-8), cut at 4 KiB.
    pub request_body: Option<String>,
    /// The status, or `None` when no response came.
    pub status: Option<u16>,
    /// Response headers, names lower-case.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text, cut at 4 KiB.
    pub response_body: Option<String>,
    /// Why there was no response.
    pub error: Option<String>,
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
    pub(crate) log_overflow: bool,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

/// The record shared by the store's capabilities and its stdout/stderr pipes.
#[derive(Clone)]
pub(crate) struct SharedRecord {
    inner: Arc<Mutex<CallRecord>>,
    censor: Arc<Censor>,
    log_limit: u64,
}

impl SharedRecord {
    pub(crate) fn new(censor: Arc<Censor>, log_limit: u64) -> SharedRecord {
        SharedRecord { inner: Arc::default(), censor, log_limit }
    }

    pub(crate) fn censor(&self) -> &Censor {
        &self.censor
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallRecord> {
        // A poisoned lock only means another thread panicked mid-push; the
        // lines already in are still good.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep a log line. Returns false once the call's log limit is spent:
    /// the line was dropped and the call must end.
    pub(crate) fn log(&self, level: Level, source: Source, message: &str) -> bool {
        self.log_censored(level, source, self.censor.apply(message))
    }

    /// [`SharedRecord::log`] for a line built only from censored parts.
    pub(crate) fn log_censored(&self, level: Level, source: Source, message: String) -> bool {
        let mut record = self.lock();
        record.log_bytes += message.len() as u64;
        if record.log_bytes > self.log_limit {
            record.log_overflow = true;
            return false;
        }
        record.logs.push(LogLine { level, source, message });
        true
    }

    pub(crate) fn exchange(&self, exchange: HttpExchange) {
        self.lock().exchanges.push(exchange);
    }

    pub(crate) fn log_overflowed(&self) -> bool {
        self.lock().log_overflow
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
        let mut record = self.lock();
        (std::mem::take(&mut record.logs), std::mem::take(&mut record.exchanges))
    }

    /// The last line the guest wrote to stderr (its panic message, after a trap).
    pub(crate) fn last_stderr_line(&self) -> Option<String> {
        let record = self.lock();
        if !record.partial_stderr.is_empty() {
            return Some(self.censor.apply(String::from_utf8_lossy(&record.partial_stderr).trim_end()));
        }
        record.logs.iter().rev().find(|l| l.source == Source::Stderr).map(|l| l.message.clone())
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
        if !self.record.log_overflowed() {
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
        let record = SharedRecord::new(Arc::new(Censor::default()), 1 << 20);
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
            let record = SharedRecord::new(Arc::new(Censor::for_secrets(vec![SECRET.to_string()])), LOG_LIMIT);
            let source = if *stderr { Source::Stderr } else { Source::Stdout };
            for write in output.0.chunks(*write_size) {
                if !record.log_overflowed() {
                    record.write_output(source, write);
                }
            }
            let (lines, _) = record.finish();
            // After `finish`: the pending last line may be what passes the limit.
            let overflowed = record.log_overflowed();
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
