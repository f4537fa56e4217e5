//! Running one call: a fresh store and instance, the deadline, the memory
//! cap, and turning whatever happened into a typed [`Outcome`].
//!
//! This is the bottom of the call path: [`App`](crate::App) (in `app.rs`)
//! and the refresh-and-retry step (`auth/refresh.rs`) call [`run`] with a
//! [`Loaded`] component and its [`Env`]; nothing here knows the public `App`
//! or the `Host` that loaded the component.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::Value;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::{self, WitZError};
use crate::bundle::{Bundle, Scope};
use crate::censor::Censor;
use crate::checks;
use crate::definition::Definition;
use crate::error::{CallError, CheckFailure, LimitKind, ZError};
use crate::json::Json;
use crate::record::{HttpExchange, LogLine, SharedRecord};
use crate::runtime::Runtime;
use crate::sandbox::{CallContext, HostAbort, Sandbox};
use crate::services::Services;
use crate::state::{CALLBACK_TTL, PendingCallback, expires_after};

/// How long past the deadline the whole-call timer fires. The epoch check
/// inside guest code normally ends a call first, with a cleaner trap; the
/// timer catches a call stuck in a host import.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// One call to make: a method path, its bundle, and whose state it uses.
///
/// A call cannot be made without saying whose it is: [`Invocation::new`]
/// takes the [`Scope`] whose cursor, stashed files and callbacks the call
/// uses. [`Invocation::local`] names the one local scope, for the command
/// line and tests; a multi-tenant embedder never uses it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Invocation {
    /// The method path, e.g. `triggers.new_contact.operation.perform`.
    pub method: String,
    /// The bundle.
    pub bundle: Bundle,
    /// Whose cursor, stash and callbacks the call uses.
    pub scope: Scope,
    /// A deadline shorter than the policy's, for this call only.
    pub timeout: Option<Duration>,
}

impl Invocation {
    /// A call of `method` with `bundle`, using the state of `scope`.
    pub fn new(method: impl Into<String>, bundle: Bundle, scope: Scope) -> Invocation {
        Invocation { method: method.into(), bundle, scope, timeout: None }
    }

    /// A call in the local scope ([`Scope::local`]): every local call
    /// shares its cursors, stashed files and callbacks. For one user on one
    /// machine (the command line, tests), never for tenants.
    pub fn local(method: impl Into<String>, bundle: Bundle) -> Invocation {
        Invocation::new(method, bundle, Scope::local())
    }

    /// The same call with a shorter deadline (the policy's is the most).
    pub fn timeout(mut self, timeout: Duration) -> Invocation {
        self.timeout = Some(timeout);
        self
    }

    /// The same call of another method, with the same bundle and scope.
    pub(crate) fn of_method(&self, method: &str) -> Invocation {
        Invocation { method: method.into(), ..self.clone() }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// It returned a result.
    Success,
    /// It returned a result and asked for a callback: the step waits for a
    /// POST to the callback URL, which runs performResume.
    Callback,
    /// It failed.
    Error,
}

/// What a call produced: its result or typed error, and what it did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Outcome {
    /// The result, as the JSON text the integration returned (checked to be
    /// JSON; [`Json::value`] parses it), or why there is none.
    pub result: Result<Json, CallError>,
    /// Result checks that failed (the rules of what each method returns:
    /// a trigger an array of objects with unique primary keys, a search an
    /// array, a create an object, ...; IDs like `T002` or
    /// `result.create-object`). The result is kept: an embedder decides
    /// whether they are errors (the CLI's invoke and test treat them as
    /// errors, a service logs them). Always empty when `result` is an error.
    pub checks: Vec<CheckFailure>,
    /// Success, callback or error.
    pub status: Status,
    /// The callback URL, when the call asked for one.
    pub callback_url: Option<String>,
    /// Log lines, secrets censored.
    pub logs: Vec<LogLine>,
    /// HTTP exchanges, secrets censored.
    pub http: Vec<HttpExchange>,
    /// Wall-clock time of the call.
    pub duration: Duration,
    /// New authData, when the host refreshed stale credentials during the
    /// call: store it in place of the old.
    pub auth_data: Option<serde_json::Map<String, Value>>,
}

/// What every call of one host shares: the engine and linker, the
/// services the capabilities use, and one permit per pool slot (a call
/// waits for a slot rather than fail when every instance is in use).
pub(crate) struct Runner {
    pub(crate) runtime: Runtime,
    pub(crate) services: Arc<Services>,
    pub(crate) slots: tokio::sync::Semaphore,
}

/// A component linked and ready to run, with its definition.
pub(crate) struct Loaded {
    pub(crate) runner: Arc<Runner>,
    pub(crate) pre: bindings::Exports,
    pub(crate) definition: Arc<Definition>,
    /// The censor of the last call, by its secrets: calls of the same
    /// account in a row share one instead of each building its automaton.
    last_censor: std::sync::Mutex<Option<(Vec<String>, Arc<Censor>)>>,
}

impl Loaded {
    pub(crate) fn new(runner: Arc<Runner>, pre: bindings::Exports, definition: Arc<Definition>) -> Loaded {
        Loaded { runner, pre, definition, last_censor: Default::default() }
    }

    /// The censor for `secrets` (from [`Censor::secrets`]).
    fn censor_for(&self, secrets: Vec<String>) -> Arc<Censor> {
        if secrets.is_empty() {
            return Arc::new(Censor::default());
        }
        let lock = || self.last_censor.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, censor)) = lock().as_ref()
            && *known == secrets
        {
            return censor.clone();
        }
        // Built outside the lock: calls of other accounts do not wait on it.
        let censor = Arc::new(Censor::for_secrets(secrets.clone()));
        *lock() = Some((secrets, censor.clone()));
        censor
    }
}

/// The environment an app's calls see (wasi:cli/environment), and which of
/// its variables are secret (censored like authData).
#[derive(Debug, Default)]
pub(crate) struct Env {
    pub(crate) vars: Arc<Vec<(String, String)>>,
    pub(crate) secret: Vec<String>,
}

enum Entry<'a> {
    Definition,
    Run { method: &'a str, bundle: &'a str },
}

/// Call `definition()` on a fresh instance.
pub(crate) async fn read_definition(runner: &Runner, pre: &bindings::Exports) -> Result<String, CallError> {
    let limits = runner.services.policy.limits.clone();
    let record = SharedRecord::new(Arc::new(Censor::default()), limits.log_bytes);
    let deadline = Instant::now() + limits.timeout;
    let call = CallContext {
        method: "definition".into(),
        scope: Scope::new("", ""),
        definition: Arc::new(Definition::empty()),
        auth_data: Default::default(),
        env: Arc::default(),
        limits,
        services: runner.services.clone(),
        record,
        invocation_id: Default::default(),
        deadline,
        counters: Default::default(),
    };
    let _slot = runner.slots.acquire().await;
    call_guest(runner, pre, Arc::new(call), Entry::Definition).await.0
}

/// Run one call of `loaded` in a fresh instance.
pub(crate) async fn run(loaded: &Loaded, env: &Env, mut invocation: Invocation) -> Outcome {
    let started = Instant::now();
    let runner = &loaded.runner;
    let mut limits = runner.services.policy.limits.clone();
    if let Some(t) = invocation.timeout {
        limits.timeout = limits.timeout.min(t);
    }
    let secret_values: Vec<&str> =
        env.vars.iter().filter(|(k, _)| env.secret.contains(k)).map(|(_, v)| v.as_str()).collect();
    let censor = loaded.censor_for(Censor::secrets(&invocation.bundle.auth_data, secret_values));
    let record = SharedRecord::new(censor.clone(), limits.log_bytes);
    let fail = |error: CallError, record: &SharedRecord| {
        let (logs, http) = record.finish();
        Outcome {
            result: Err(error),
            checks: Vec::new(),
            status: Status::Error,
            callback_url: None,
            logs,
            http,
            duration: started.elapsed(),
            auth_data: None,
        }
    };
    if !loaded.definition.has_method(&invocation.method) {
        let available = loaded.definition.methods().to_vec();
        return fail(CallError::NoSuchMethod { path: invocation.method, available }, &record);
    }
    let bundle = match serde_json::to_string(&invocation.bundle) {
        Ok(json) => json,
        Err(e) => {
            return fail(CallError::InvalidBundle { message: e.to_string() }, &record);
        }
    };
    let deadline = started + limits.timeout;
    let result_limit = limits.result_bytes;
    let log_limit = limits.log_bytes;
    let call = Arc::new(CallContext {
        method: invocation.method.clone(),
        scope: invocation.scope,
        definition: loaded.definition.clone(),
        // Taken, not moved: the rest of the bundle is still read (the
        // result checks, a pending callback).
        auth_data: std::mem::take(&mut invocation.bundle.auth_data),
        env: env.vars.clone(),
        limits,
        services: runner.services.clone(),
        record: record.clone(),
        invocation_id: Default::default(),
        deadline,
        counters: Default::default(),
    });

    let _slot = runner.slots.acquire().await;
    let (result, callback_url) =
        call_guest(runner, &loaded.pre, call.clone(), Entry::Run { method: &invocation.method, bundle: &bundle }).await;
    let result = result.and_then(|json| {
        if json.len() as u64 > result_limit {
            return Err(CallError::Limit { limit: LimitKind::Result, value: format!("{result_limit} bytes") });
        }
        Json::from_text(json).map_err(|e| CallError::Trap {
            message: format!("the integration returned a result that is not JSON: {e}"),
        })
    });
    let result = match result {
        Ok(_) if record.log_overflowed() => {
            Err(CallError::Limit { limit: LimitKind::Log, value: format!("{log_limit} bytes") })
        }
        other => other.map_err(|e| censor_error(e, &censor)),
    };
    // Parsed only for a method with checks: most results are only passed on.
    let mut checks = match &result {
        Ok(json) if checks::has_checks(&loaded.definition, &invocation.method) => {
            checks::result_checks(&loaded.definition, &invocation.method, &invocation.bundle, &json.value())
                .into_iter()
                .map(|failure| CheckFailure { id: failure.id, message: censor.apply(&failure.message) })
                .collect()
        }
        _ => Vec::new(),
    };
    // A call that asked for a callback waits for it in the store; one that
    // cannot be stored could never be resumed, so it fails.
    let result = match (result, call.invocation_id.get()) {
        (Ok(json), Some(id)) if callback_url.is_some() => {
            let pending = PendingCallback {
                id: id.clone(),
                scope: call.scope.clone(),
                method: invocation.method.clone(),
                output_data: json.value(),
                input_data: invocation.bundle.input_data,
                expires: expires_after(SystemTime::now(), CALLBACK_TTL),
            };
            match runner.services.stores.callbacks.put_callback(pending).await {
                Ok(()) => Ok(json),
                Err(e) => Err(CallError::State { message: format!("cannot keep the pending callback: {e}") }),
            }
        }
        (other, _) => other,
    };
    if result.is_err() {
        checks.clear();
    }
    let (logs, http) = record.finish();
    let status = match (&result, &callback_url) {
        (Err(_), _) => Status::Error,
        (Ok(_), Some(_)) => Status::Callback,
        (Ok(_), None) => Status::Success,
    };
    Outcome { result, checks, status, callback_url, logs, http, duration: started.elapsed(), auth_data: None }
}

/// Instantiate and call; classify whatever went wrong.
async fn call_guest(
    runner: &Runner,
    pre: &bindings::Exports,
    call: Arc<CallContext>,
    entry: Entry<'_>,
) -> (Result<String, CallError>, Option<String>) {
    let deadline = call.deadline;
    let record = call.record.clone();
    let memory_limit = call.limits.memory_bytes;
    let timeout_value = call.limits.timeout;
    let mut store = Store::new(&runner.runtime.engine, Sandbox::new(call));
    store.limiter(|sandbox| &mut sandbox.memory);
    store.set_epoch_deadline(1);
    // At every epoch tick: past the deadline, or with the log limit spent,
    // interrupt; otherwise yield to the executor so a CPU-bound guest does
    // not starve the calls sharing its thread.
    store.epoch_deadline_callback(move |store| {
        let stop = Instant::now() >= deadline || store.data().call.record.log_overflowed();
        Ok(if stop { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
    });
    let budget = deadline.saturating_duration_since(Instant::now()) + DEADLINE_GRACE;
    let outcome = tokio::time::timeout(budget, async {
        let instance = pre.instantiate(&mut store).await.map_err(|e| (true, e))?;
        call_entry(pre, &mut store, &instance, entry).await.map_err(|e| (false, e))
    })
    .await;
    let timeout =
        || CallError::Limit { limit: LimitKind::Timeout, value: format!("{} s", timeout_value.as_secs_f64()) };
    let result = match outcome {
        Err(_elapsed) => Err(timeout()),
        Ok(Ok(Ok(json))) => Ok(json),
        Ok(Ok(Err(error))) => Err(CallError::from(ZError::from(error as WitZError))),
        Ok(Err((instantiating, error))) => Err(classify(&error, instantiating, &store, &record, memory_limit, timeout)),
    };
    (result, store.data().callback_url.clone())
}

/// Call `entry` on a fresh `instance`.
async fn call_entry(
    pre: &bindings::Exports,
    store: &mut Store<Sandbox>,
    instance: &wasmtime::component::Instance,
    entry: Entry<'_>,
) -> wasmtime::Result<Result<String, WitZError>> {
    Ok(match entry {
        Entry::Definition => Ok(pre.definition(&mut *store, instance)?.call_async(&mut *store, ()).await?.0),
        Entry::Run { method, bundle } => {
            pre.run(&mut *store, instance)?.call_async(&mut *store, (method, bundle)).await?.0
        }
    })
}

fn classify(
    error: &wasmtime::Error,
    instantiating: bool,
    store: &Store<Sandbox>,
    record: &SharedRecord,
    memory_limit: u64,
    timeout: impl Fn() -> CallError,
) -> CallError {
    if let Some(HostAbort(call_error)) = error.downcast_ref::<HostAbort>() {
        return call_error.clone();
    }
    if record.log_overflowed() {
        return CallError::Limit {
            limit: LimitKind::Log,
            value: format!("{} bytes", store.data().call.limits.log_bytes),
        };
    }
    if store.data().memory.hit {
        return CallError::Limit { limit: LimitKind::Memory, value: format!("{} MiB", memory_limit >> 20) };
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return timeout();
    }
    if instantiating {
        return CallError::Instantiate { message: crate::cache::error_chain(error) };
    }
    let trap = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.to_string(),
    };
    let message = match record.last_stderr_line().filter(|l| l.contains("panicked")) {
        Some(panic) => format!("{panic} ({trap})"),
        None => trap,
    };
    CallError::Trap { message }
}

/// Errors carry text from the integration: censor it like the logs.
fn censor_error(error: CallError, censor: &Censor) -> CallError {
    let c = |s: String| censor.apply(&s);
    match error {
        CallError::Integration { error } => CallError::Integration {
            error: match error {
                ZError::General { message } => ZError::General { message: c(message) },
                ZError::Halted { message } => ZError::Halted { message: c(message) },
                ZError::ExpiredAuth { message } => ZError::ExpiredAuth { message: c(message) },
                ZError::RefreshAuth { message } => ZError::RefreshAuth { message: c(message) },
                ZError::Throttled { message, delay_seconds } => {
                    ZError::Throttled { message: c(message), delay_seconds }
                }
                ZError::Response { status, headers, content, url, message } => ZError::Response {
                    status,
                    headers: headers.into_iter().map(|(k, v)| (k, c(v))).collect(),
                    content: content.map(c),
                    url: c(url),
                    message: c(message),
                },
                ZError::Check { failures } => ZError::Check {
                    failures: failures
                        .into_iter()
                        .map(|f| crate::error::CheckFailure { id: f.id, message: c(f.message) })
                        .collect(),
                },
            },
        },
        CallError::Trap { message } => CallError::Trap { message: c(message) },
        CallError::InvalidBundle { message } => CallError::InvalidBundle { message: c(message) },
        other => other,
    }
}
