//! What one invocation's store holds: WASI with nothing granted, the
//! memory cap, and the call's context for the z capabilities.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Map, Value};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::beside::Beside;
use crate::budget::HostBudget;
use crate::bundle::Scope;
use crate::capability::http::{SendFailure, Sent};
use crate::definition::Definition;
use crate::error::{CallError, LimitKind};
use crate::policy::Limits;
use crate::record::{SharedRecord, Source};
use crate::services::Services;

/// Everything a capability needs to know about the call it serves.
pub(crate) struct CallContext {
    pub(crate) method: String,
    pub(crate) scope: Scope,
    pub(crate) definition: Arc<Definition>,
    pub(crate) auth_data: Map<String, Value>,
    /// The integration's environment (for the OAuth 1 consumer key and secret).
    pub(crate) env: Arc<Vec<(String, String)>>,
    pub(crate) limits: Limits,
    pub(crate) services: Arc<Services>,
    pub(crate) record: SharedRecord,
    /// Names the call's callback URL; made on first use (most calls never ask).
    pub(crate) invocation_id: std::sync::OnceLock<String>,
    pub(crate) deadline: Instant,
    pub(crate) counters: Counters,
    /// What the host holds for this call ([`Limits::host_memory_bytes`]).
    pub(crate) budget: Arc<HostBudget>,
    /// The request the guest waits on, polled by the call's task.
    pub(crate) beside: Beside<Result<Sent, SendFailure>>,
}

/// What a call has spent of its limits so far.
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU32,
    pub(crate) stashed_bytes: AtomicU64,
}

impl CallContext {
    /// The call's unguessable ID.
    pub(crate) fn invocation_id(&self) -> &str {
        self.invocation_id.get_or_init(crate::random_id::random_id)
    }

    /// Count one outbound request against the limit.
    pub(crate) fn count_request(&self) -> Result<(), CallError> {
        let made = self.counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if made > self.limits.max_requests {
            return Err(CallError::Limit { limit: LimitKind::Requests, value: self.limits.max_requests.to_string() });
        }
        Ok(())
    }

    /// An environment value of the integration.
    pub(crate) fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A host-side failure that ends the call (a limit breach): raised as a
/// wasmtime error so the guest cannot catch it, then found again by
/// `invoke` and reported as the typed error it carries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HostAbort(pub(crate) CallError);

/// Caps linear memory across all of a component's memories.
/// (`StoreLimits` caps each memory separately; an integration could
/// otherwise multiply its allowance by declaring more memories.)
pub(crate) struct MemoryCap {
    limit: u64,
    total: u64,
    pub(crate) hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        if self.total.saturating_add(growth) > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.total += growth;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; no honest integration needs a
        // million of them.
        Ok(desired <= 1_000_000)
    }
}

/// The data of one invocation's store.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    pub(crate) call: Arc<CallContext>,
    /// Set by `z.generateCallbackUrl`.
    pub(crate) callback_url: Option<String>,
}

impl Sandbox {
    pub(crate) fn new(call: Arc<CallContext>) -> Sandbox {
        // Nothing ambient: no args, no preopened directories, no sockets, no
        // stdin; only the environment the operator configured for this
        // integration. stdout and stderr become log lines.
        let wasi = WasiCtx::builder()
            .envs(&call.env)
            .stdout(call.record.pipe(Source::Stdout))
            .stderr(call.record.pipe(Source::Stderr))
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap { limit: call.limits.memory_bytes, total: 0, hit: false },
            call,
            callback_url: None,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
