//! Errors, typed by stage: loading a component, and running a call.
//!
//! An embedder matches on these; it never parses a message.

use serde::Serialize;
use std::path::PathBuf;

/// An error the integration raised through `z.errors`, or that the request
/// pipeline raised on its behalf (throwForStatus, stale auth, throttling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ZError {
    /// `z.errors.Error`: the operation stopped; the platform may replay it.
    #[error("{message}")]
    General {
        /// The integration's message.
        message: String,
    },
    /// `z.errors.HaltedError`: the operation stopped and should not be retried,
    /// but the automation stays on.
    #[error("{message}")]
    Halted {
        /// The integration's message.
        message: String,
    },
    /// `z.errors.ExpiredAuthError`: the user must reconnect the account.
    #[error("{message}")]
    ExpiredAuth {
        /// The integration's message.
        message: String,
    },
    /// `z.errors.RefreshAuthError`: refresh the credentials, then retry.
    #[error("{message}")]
    RefreshAuth {
        /// The integration's message.
        message: String,
    },
    /// `z.errors.ThrottledError`: retry after `delay_seconds`.
    #[error("{message}")]
    Throttled {
        /// The message.
        message: String,
        /// Seconds to wait before a retry, when the API said.
        delay_seconds: Option<u64>,
    },
    /// What `response.throwForStatus()` raises for a 400-599 response.
    #[error("{message}")]
    Response {
        /// The HTTP status.
        status: u16,
        /// Response headers, names lower-case.
        headers: Vec<(String, String)>,
        /// The response body, if any.
        content: Option<String>,
        /// The request's URL, secrets censored.
        url: String,
        /// The reference platform's JSON message.
        message: String,
    },
    /// Result or definition checks that failed.
    #[error("{}", CheckFailure::join(.failures))]
    Check {
        /// Every failed check.
        failures: Vec<CheckFailure>,
    },
}

impl ZError {
    /// A general error with this message.
    pub fn general(message: impl Into<String>) -> ZError {
        ZError::General { message: message.into() }
    }

    /// The kind's name as the reference platform spells the error class.
    pub fn class(&self) -> &'static str {
        match self {
            ZError::General { .. } => "Error",
            ZError::Halted { .. } => "HaltedError",
            ZError::ExpiredAuth { .. } => "ExpiredAuthError",
            ZError::RefreshAuth { .. } => "RefreshAuthError",
            ZError::Throttled { .. } => "ThrottledError",
            ZError::Response { .. } => "ResponseError",
            ZError::Check { .. } => "CheckError",
        }
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFailure {
    /// The check's ID, e.g. `D001` or `result.create-object`.
    pub id: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl CheckFailure {
    fn join(failures: &[CheckFailure]) -> String {
        let lines: Vec<String> = failures.iter().map(|f| format!("{}: {}", f.id, f.message)).collect();
        lines.join("; ")
    }
}

/// A limit of [`Limits`](crate::Limits) that a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::timeout`](crate::Limits::timeout).
    Timeout,
    /// [`Limits::memory_bytes`](crate::Limits::memory_bytes).
    Memory,
    /// [`Limits::max_requests`](crate::Limits::max_requests).
    Requests,
    /// [`Limits::response_body_bytes`](crate::Limits::response_body_bytes).
    ResponseBody,
    /// [`Limits::request_body_bytes`](crate::Limits::request_body_bytes).
    RequestBody,
    /// [`Limits::result_bytes`](crate::Limits::result_bytes).
    Result,
    /// [`Limits::log_bytes`](crate::Limits::log_bytes).
    Log,
    /// [`Limits::stash_bytes`](crate::Limits::stash_bytes).
    Stash,
    /// [`Limits::host_memory_bytes`](crate::Limits::host_memory_bytes).
    HostMemory,
}

impl LimitKind {
    /// The limit's name in messages and on the CLI.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Timeout => "timeout",
            LimitKind::Memory => "memory",
            LimitKind::Requests => "requests",
            LimitKind::ResponseBody => "response body",
            LimitKind::RequestBody => "request body",
            LimitKind::Result => "result size",
            LimitKind::Log => "log size",
            LimitKind::Stash => "stash size",
            LimitKind::HostMemory => "host memory",
        }
    }

    /// What raises the limit: the [`Limits`](crate::Limits) field, and the
    /// `zapwasm` flag that sets it.
    pub fn raised_by(self) -> &'static str {
        match self {
            LimitKind::Timeout => "Limits::timeout (--timeout)",
            LimitKind::Memory => "Limits::memory_bytes (--memory-mb)",
            LimitKind::Requests => "Limits::max_requests (--max-requests)",
            LimitKind::ResponseBody => "Limits::response_body_bytes (--max-response-bytes)",
            LimitKind::RequestBody => "Limits::request_body_bytes (--max-request-bytes)",
            LimitKind::Result => "Limits::result_bytes (--max-result-bytes)",
            LimitKind::Log => "Limits::log_bytes (--max-log-bytes)",
            LimitKind::Stash => "Limits::stash_bytes (--max-stash-bytes)",
            LimitKind::HostMemory => "Limits::host_memory_bytes (--host-memory-mb)",
        }
    }
}

/// Why a call did not return a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallError {
    /// The integration raised a typed error.
    #[error("{}: {error}", .error.class())]
    Integration {
        /// The error.
        error: ZError,
    },
    /// The method path names nothing in the definition.
    #[error("the integration has no method at {path}; it offers: {}", .available.join(", "))]
    NoSuchMethod {
        /// The path asked for.
        path: String,
        /// Every method path the definition offers.
        available: Vec<String>,
    },
    /// The bundle is not what the method needs.
    #[error("invalid bundle: {message}")]
    InvalidBundle {
        /// What is wrong.
        message: String,
    },
    /// The integration crashed: a trap, a panic, an out-of-bounds access.
    #[error("the integration crashed: {message}")]
    Trap {
        /// The trap, and the guest's panic message when it printed one.
        message: String,
    },
    /// The call ran into one of the policy's limits.
    #[error("the call exceeded the {} limit ({value}); raise {}", .limit.name(), .limit.raised_by())]
    Limit {
        /// Which limit.
        limit: LimitKind,
        /// Its configured value, human-readable.
        value: String,
    },
    /// The host's state backend failed, so the call's effect on state
    /// (a pending callback, say) could not be kept. The integration did
    /// nothing wrong; the call may be replayed.
    #[error("the host's state failed: {message}")]
    State {
        /// What failed.
        message: String,
    },
    /// The component could not be instantiated (the pool is exhausted, or
    /// the component's start failed).
    #[error("cannot start the integration: {message}")]
    Instantiate {
        /// Why.
        message: String,
    },
}

impl CallError {
    /// A short, stable name for the kind, used in JSON and by the CLI.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Integration { error } => match error {
                ZError::General { .. } => "general",
                ZError::Halted { .. } => "halted",
                ZError::ExpiredAuth { .. } => "expired_auth",
                ZError::RefreshAuth { .. } => "refresh_auth",
                ZError::Throttled { .. } => "throttled",
                ZError::Response { .. } => "response",
                ZError::Check { .. } => "check",
            },
            CallError::NoSuchMethod { .. } => "no_such_method",
            CallError::InvalidBundle { .. } => "invalid_bundle",
            CallError::Trap { .. } => "trap",
            CallError::Limit { .. } => "limit",
            CallError::Instantiate { .. } => "instantiate",
            CallError::State { .. } => "state",
        }
    }
}

impl From<ZError> for CallError {
    fn from(error: ZError) -> CallError {
        CallError::Integration { error }
    }
}

/// An underlying error kept as the [`source`](std::error::Error::source) of
/// a zapwasm error: print the chain of sources to see every cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a component could not be loaded.
///
/// Each variant's message says what is wrong and what to do; the failure
/// underneath (the compiler's, the linker's, the file system's) is its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "not a WebAssembly component (the file does not start with the wasm magic bytes); build the integration with `cargo build --release --target wasm32-wasip2`"
    )]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the integration for the wasm32-wasip2 target, which produces a component"
    )]
    CoreModule,
    /// The component is malformed or truncated.
    #[error("the component is malformed (rebuild it, or check the file was copied whole)")]
    Malformed {
        /// What the compiler found.
        #[source]
        source: BoxError,
    },
    /// The component imports something the host does not provide.
    #[error(
        "the component needs an import zapwasm does not provide (integrations may import only the zapwasm:integration@0.1.0 interfaces and WASI 0.2)"
    )]
    UnsupportedImport {
        /// What the linker found missing.
        #[source]
        source: BoxError,
    },
    /// The component does not export the integration interface.
    #[error(
        "the component does not export zapwasm:integration/integration@0.1.0 (build it with the zapwasm-guest SDK and `export_app!`)"
    )]
    WrongWorld {
        /// What the export lookup found.
        #[source]
        source: BoxError,
    },
    /// The definition the component returned is not usable.
    #[error("the integration's definition is invalid: {message}")]
    Definition {
        /// What is wrong with it.
        message: String,
    },
    /// Calling the component's `definition()` failed.
    #[error("the integration failed to return its definition")]
    DefinitionCall {
        /// How the call failed.
        #[source]
        source: CallError,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {what}")]
    Engine {
        /// The step that failed.
        what: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The compiled-component cache could not be used.
    #[error("the compiled-component cache at {} cannot be used", .dir.display())]
    Cache {
        /// The cache directory.
        dir: PathBuf,
        /// What failed.
        #[source]
        source: BoxError,
    },
}

/// An error's message followed by each of its causes (`source()`), joined
/// by `: `: the whole story in one line, for a log or a terminal.
///
/// ```
/// let error = std::io::Error::other(std::fmt::Error);
/// assert_eq!(zapwasm_host::with_causes(&error), "an error occurred when formatting an argument");
/// ```
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}
