//! What an integration may reach and spend: the operator's policy.

use std::time::Duration;

/// The operator's policy for outbound requests and per-invocation limits.
///
/// The default is what a multi-tenant platform wants: public HTTPS and HTTP
/// hosts only, nothing on loopback or private networks, and limits sized for
/// typical integration calls.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Allow requests to loopback addresses (127.0.0.0/8, ::1). Default
    /// false. For local development and tests only: on a server it exposes
    /// every service listening on localhost to third-party code.
    pub allow_loopback: bool,
    /// Allow requests to private, link-local and other non-global
    /// addresses (10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, ...).
    /// Default false: these are the platform's own network and the cloud
    /// metadata service.
    pub allow_private: bool,
    /// Per-invocation limits.
    pub limits: Limits,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allow_loopback: false,
            allow_private: false,
            limits: Limits::default(),
        }
    }
}

impl Policy {
    /// The policy for local development: the defaults plus loopback.
    pub fn local_development() -> Policy {
        Policy {
            allow_loopback: true,
            ..Policy::default()
        }
    }
}

/// Limits applied to every invocation. Each breach ends that call with
/// [`CallError::Limit`](crate::CallError::Limit), naming the limit and its value.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time for the whole call, host calls included. Default 30 s,
    /// the reference platform's budget for a step. Enforced by epoch
    /// interruption (checked every 10 ms of guest execution; costs 20-35% on
    /// CPU-bound guests, nothing while waiting on I/O) and by a timer around the
    /// whole call.
    pub timeout: Duration,
    /// Linear memory across all of a component's memories. Default 128 MiB:
    /// integrations move JSON, not media; stashed files stream through the
    /// host, not guest memory. Counted exactly when a memory grows.
    pub memory_bytes: u64,
    /// Outbound requests per call, redirect hops included. Default 200.
    pub max_requests: u32,
    /// Outbound requests in flight at once from one call. Default 10:
    /// enough for fan-out, not enough to flood an API.
    pub max_concurrent_requests: u32,
    /// Bytes of one response body, counted as it streams in; the transfer is
    /// aborted at the cap. Default 50 MiB.
    pub response_body_bytes: u64,
    /// Bytes of one request body. Default 50 MiB.
    pub request_body_bytes: u64,
    /// Bytes of the call's result as JSON. Default 6 MiB (6,291,456), the
    /// reference platform's limit.
    pub result_bytes: u64,
    /// Bytes of log output (console, stdout, stderr) kept per call. Default
    /// 1 MiB; output past it is dropped and the call fails with a limit error.
    pub log_bytes: u64,
    /// Bytes stashed per call. Default 150 MB, the reference platform's
    /// limit for a buffered file.
    pub stash_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(30),
            memory_bytes: 128 << 20,
            max_requests: 200,
            max_concurrent_requests: 10,
            response_body_bytes: 50 << 20,
            request_body_bytes: 50 << 20,
            result_bytes: 6 << 20,
            log_bytes: 1 << 20,
            stash_bytes: 150_000_000,
        }
    }
}
