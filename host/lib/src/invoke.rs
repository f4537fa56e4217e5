//! Running one call: a fresh store and instance, the deadline, the memory
//! cap, and turning whatever happened into a typed [`Outcome`].
//!
//! This is the bottom of the call path: [`App`](crate::App) (in `app.rs`)
//! and the refresh-and-retry step (`auth/refresh.rs`) call [`run`] with a
//! [`Loaded`] component and its [`Env`]; nothing here knows the public `App`
//! or the `Host` that loaded the component.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::Value;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::{self, WitZError};
use crate::budget::HostBudget;
use crate::bundle::{Bundle, Scope};
use crate::censor::Censor;
use crate::checks::Checks;
use crate::definition::Definition;
use crate::error::{CallError, CheckFailure, LimitKind, ZError};
use crate::json::Json;
use crate::record::{HttpExchange, LogLine, SharedRecord};
use crate::runtime::Runtime;
use crate::sandbox::{CallContext, HostAbort, Sandbox};
use crate::services::Services;
use crate::state::{CALLBACK_TTL, PendingCallback, expires_after};

/// How long past the deadline the whole-call timer fires: two epoch ticks.
/// A guest computing at its deadline is interrupted at the next tick, with
/// a cleaner trap; the timer ends the call of a guest stuck in a host
/// import, waiting for a thread of the caller's runtime, or moved to the
/// background pool, without waiting for it (a moved guest is interrupted
/// when its thread next runs it, and lets go of its pool slot then). It
/// was 250 ms, which was how late such calls ended.
const DEADLINE_GRACE: Duration = Duration::from_millis(2);

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

impl Outcome {
    /// The outcome as JSON, in the one shape the CLI (`--outcome`) and the
    /// service answer with: `status` (`success`, `callback`, `error`), then
    /// `result` (the result itself) and `checks` (`[{"id", "message"}]`), or
    /// `error` (`{"kind", "message"}`, the message with its causes);
    /// `callback_url` when the call waits for one; the censored `logs`
    /// (`{"level", "source", "message"}`) and `http` exchanges (each with
    /// `duration_ms`); and `duration_ms`. Durations are milliseconds as a
    /// number, to the microsecond. Refreshed credentials are not in it:
    /// where they go is the embedder's decision.
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        let status = match self.status {
            Status::Success => "success",
            Status::Callback => "callback",
            Status::Error => "error",
        };
        body.insert("status".into(), status.into());
        match &self.result {
            Ok(result) => {
                body.insert("result".into(), result.value());
                body.insert("checks".into(), serde_json::to_value(&self.checks).unwrap_or_default());
            }
            Err(error) => {
                body.insert(
                    "error".into(),
                    serde_json::json!({"kind": error.kind(), "message": crate::error::with_causes(error)}),
                );
            }
        }
        if let Some(url) = &self.callback_url {
            body.insert("callback_url".into(), url.clone().into());
        }
        body.insert("logs".into(), serde_json::to_value(&self.logs).unwrap_or_default());
        let http: Vec<Value> = self
            .http
            .iter()
            .map(|exchange| {
                let mut value = serde_json::to_value(exchange).unwrap_or_default();
                if let Some(fields) = value.as_object_mut() {
                    fields.remove("duration");
                    fields.insert("duration_ms".into(), millis(exchange.duration));
                }
                value
            })
            .collect();
        body.insert("http".into(), http.into());
        body.insert("duration_ms".into(), millis(self.duration));
        body
    }
}

/// A duration in milliseconds, to the microsecond, as a JSON number.
fn millis(duration: Duration) -> Value {
    let ms = (duration.as_micros() as f64) / 1000.0;
    serde_json::Number::from_f64(ms).map(Value::Number).unwrap_or(Value::Null)
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

    /// The censor of the account with this authData, as its calls censor
    /// with (the last one built is shared, [`Loaded::censor_for`]): its
    /// secrets and the app's secret environment values.
    pub(crate) fn account_censor(&self, env: &Env, auth_data: &serde_json::Map<String, Value>) -> Arc<Censor> {
        self.censor_for(Censor::secrets(auth_data, env.secret_values()))
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

impl Env {
    /// The values of the variables marked secret.
    fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().filter(|(k, _)| self.secret.contains(k)).map(|(_, v)| v.as_str())
    }
}

/// What to call. Owned: the guest's future may move to the background pool.
enum Entry {
    Definition,
    Run { method: String, bundle: String },
}

/// The deadline `timeout` after `start`; a timeout too long to add (an
/// embedder's `Duration::MAX`) is a deadline a century away rather than a
/// panic.
fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start.checked_add(timeout).unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Call `definition()` on a fresh instance.
pub(crate) async fn read_definition(runner: &Arc<Runner>, pre: &bindings::Exports) -> Result<String, CallError> {
    let limits = runner.services.policy.limits.clone();
    let budget = HostBudget::new(limits.host_memory_bytes);
    let record = SharedRecord::new(Arc::new(Censor::default()), limits.log_bytes, budget.clone());
    let deadline = deadline_after(Instant::now(), limits.timeout);
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
        budget,
        beside: Default::default(),
    };
    call_guest(runner, pre, Arc::new(call), Entry::Definition).await.0
}

/// Run one call of `loaded` in a fresh instance.
#[allow(clippy::manual_async_fn, reason = "an `async fn` would hold the invocation twice")]
pub(crate) fn run<'a>(
    loaded: &'a Loaded,
    env: &'a Env,
    mut invocation: Invocation,
) -> impl Future<Output = Outcome> + Send + 'a {
    // An async block, not an `async fn`: the future holds the invocation
    // once (an `async fn` keeps its arguments and the locals they move to).
    async move {
        let started = Instant::now();
        let runner = &loaded.runner;
        let mut limits = runner.services.policy.limits.clone();
        if let Some(t) = invocation.timeout {
            limits.timeout = limits.timeout.min(t);
        }
        let censor = loaded.account_censor(env, &invocation.bundle.auth_data);
        let budget = HostBudget::new(limits.host_memory_bytes);
        let record = SharedRecord::new(censor, limits.log_bytes, budget.clone());
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
        let deadline = deadline_after(started, limits.timeout);
        let result_limit = limits.result_bytes;
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
            budget,
            beside: Default::default(),
        });

        let (result, callback_url) =
            call_guest(runner, &loaded.pre, call.clone(), Entry::Run { method: invocation.method.clone(), bundle })
                .await;
        // Parsed only for a method with checks: most results are only passed on.
        let method_checks = Checks::of(&loaded.definition, &invocation.method);
        let mut passed = false;
        let result = result.and_then(|text| {
            if text.len() as u64 > result_limit {
                return Err(CallError::Limit { limit: LimitKind::Result, value: format!("{result_limit} bytes") });
            }
            // A result that passes its checks needs no tree built: where the
            // checks can tell that from the text (a trigger's items and
            // their primary keys), they read it in one pass, as a parse
            // reads it, so text that passes is JSON and is not read again.
            passed = method_checks.is_some_and(|checks| checks.pass_on_text(&text) == Some(true));
            if passed {
                return Ok(Json::already_read(text));
            }
            Json::from_text(text).map_err(|e| CallError::Trap {
                message: format!("the integration returned a result that is not JSON: {e}"),
            })
        });
        let result = match (result, record.overflow()) {
            (Ok(_), Some(overflow)) => Err(overflow),
            (other, _) => other.map_err(|e| censor_error(e, &record)),
        };
        let mut checks = match (&result, method_checks) {
            (Ok(json), Some(method_checks)) if !passed => result_checks(method_checks, &invocation.bundle, json)
                .into_iter()
                .map(|failure| CheckFailure { id: failure.id, message: record.censor_text(&failure.message) })
                .collect(),
            _ => Vec::new(),
        };
        // The deadline bounds the host's work on the result too (the checks
        // above may parse it): checked once more where the result is final,
        // before a pending callback is written, so a call refused as late
        // leaves nothing behind. The write itself is not cut at the deadline.
        let result = refuse_late(result, deadline, Instant::now(), || timeout_error(call.limits.timeout));
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
        // Credentials arrive with the result of the method that hands them
        // out: what its call logged and exchanged before (the token
        // endpoint's answer among them) is censored with them at `finish`,
        // whether the embedder called it directly or through a flow.
        if crate::auth::returns_credentials(&invocation.method)
            && let Ok(json) = &result
            && let Value::Object(fields) = json.value()
        {
            record.add_derived(Censor::secrets(&fields, []));
        }
        let (logs, http) = record.finish();
        let status = match (&result, &callback_url) {
            (Err(_), _) => Status::Error,
            (Ok(_), Some(_)) => Status::Callback,
            (Ok(_), None) => Status::Success,
        };
        Outcome { result, checks, status, callback_url, logs, http, duration: started.elapsed(), auth_data: None }
    }
}

/// The result checks of `method` on `json`, parsed whole, so the messages
/// quote the values as they are: for a result the one pass
/// ([`Checks::pass_on_text`], in [`run`]) did not pass, or whose checks
/// read more than it does.
fn result_checks(checks: Checks<'_>, bundle: &Bundle, json: &Json) -> Vec<CheckFailure> {
    match json.parse() {
        Ok(value) => checks.run(bundle, &value),
        Err(error) => vec![checks.unreadable(&error)],
    }
}

/// Instantiate and call; classify whatever went wrong.
///
/// The call holds a pool slot from here until its instance is dropped. Its
/// guest runs on the caller's task until it has computed for
/// [`PoolConfig::background_after`](crate::PoolConfig::background_after),
/// then moves to the background pool (see [`placed`]). The caller's timer
/// ends the call at its deadline plus [`DEADLINE_GRACE`] wherever the guest
/// is, and a result that comes after the deadline is refused
/// ([`refuse_late`]).
async fn call_guest(
    runner: &Arc<Runner>,
    pre: &bindings::Exports,
    call: Arc<CallContext>,
    entry: Entry,
) -> (Result<String, CallError>, Option<String>) {
    let (deadline, timeout) = (call.deadline, call.limits.timeout);
    let slot = Slot::acquire(runner).await;
    let placement = Arc::new(Placement::default());
    let guest: Guest = Box::pin(execute(runner.clone(), pre.clone(), call, entry, slot, placement.clone()));
    await_guest(guest, placement, runner.runtime.background(), deadline, timeout).await
}

/// Wait for `guest` until `deadline` plus [`DEADLINE_GRACE`]; its result
/// only if it came before the deadline.
async fn await_guest(
    guest: Guest,
    placement: Arc<Placement>,
    background: Option<&tokio::runtime::Handle>,
    deadline: Instant,
    timeout: Duration,
) -> (Result<String, CallError>, Option<String>) {
    let budget = deadline.saturating_duration_since(Instant::now()) + DEADLINE_GRACE;
    match tokio::time::timeout(budget, placed(guest, placement, background)).await {
        Err(_elapsed) => (Err(timeout_error(timeout)), None),
        Ok((result, callback_url)) => {
            (refuse_late(result, deadline, Instant::now(), || timeout_error(timeout)), callback_url)
        }
    }
}

/// A guest's run, owned, so that it can move to another thread pool.
type Guest = Pin<Box<dyn Future<Output = (Result<String, CallError>, Option<String>)> + Send>>;

/// The store and instance of one call, from instantiation to the result.
async fn execute(
    runner: Arc<Runner>,
    pre: bindings::Exports,
    call: Arc<CallContext>,
    entry: Entry,
    // Dropped after the store (declared before it): the instance is back in
    // the pool before another call may take its slot.
    _slot: Slot,
    placement: Arc<Placement>,
) -> (Result<String, CallError>, Option<String>) {
    let deadline = call.deadline;
    let record = call.record.clone();
    let memory_limit = call.limits.memory_bytes;
    let timeout_value = call.limits.timeout;
    let context = call.clone();
    let mut store = Store::new(&runner.runtime.engine, Sandbox::new(call));
    store.limiter(|sandbox| &mut sandbox.memory);
    store.set_epoch_deadline(1);
    // At every epoch tick the guest is found running: past the deadline,
    // with a limit spent, or given up by its caller, interrupt; after
    // `move_after` such ticks, move to the background pool; otherwise yield
    // to the executor so a CPU-bound guest does not starve the calls
    // sharing its thread.
    let move_after = runner.runtime.background().map(|_| runner.runtime.background_after_ticks);
    let mut ticks = 0;
    let on_tick = placement.clone();
    store.epoch_deadline_callback(move |store| {
        let stop = Instant::now() >= deadline
            || store.data().call.record.overflowed()
            || on_tick.abandoned.load(Ordering::Relaxed);
        if stop {
            return Ok(UpdateDeadline::Interrupt);
        }
        ticks += 1;
        if Some(ticks) == move_after {
            on_tick.move_asked.store(true, Ordering::Relaxed);
            return Ok(UpdateDeadline::YieldCustom(1, Box::pin(HandOff(false))));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    // The requests the guest waits on are polled here, beside it.
    let outcome = context
        .beside
        .drive(async {
            let instance = pre.instantiate(&mut store).await.map_err(|e| (true, e))?;
            call_entry(&pre, &mut store, &instance, entry).await.map_err(|e| (false, e))
        })
        .await;
    let result = match outcome {
        Ok(Ok(json)) => Ok(json),
        Ok(Err(error)) => Err(CallError::from(ZError::from(error as WitZError))),
        Err((instantiating, error)) => {
            Err(classify(&error, instantiating, &store, &record, memory_limit, || timeout_error(timeout_value)))
        }
    };
    (result, store.data().callback_url.clone())
}

/// The timeout limit error.
fn timeout_error(timeout: Duration) -> CallError {
    CallError::Limit { limit: LimitKind::Timeout, value: format!("{} s", timeout.as_secs_f64()) }
}

/// The deadline is a hard bound on when a call returns: a result that comes
/// at or after it is refused as a timeout. Without this a guest that
/// yielded at an epoch tick just before its deadline, and was resumed after
/// it, could finish before the next tick and return its result late (by as
/// long as it waited for a thread).
fn refuse_late<T>(
    result: Result<T, CallError>,
    deadline: Instant,
    now: Instant,
    timeout: impl FnOnce() -> CallError,
) -> Result<T, CallError> {
    match result {
        Ok(_) if now >= deadline => Err(timeout()),
        other => other,
    }
}

/// A pool slot held by a call's guest (a permit of [`Runner::slots`]), given
/// back when the guest's future is dropped, wherever that is: a guest that
/// moved to the background pool may outlive its caller by up to an epoch
/// tick of its thread, and its instance is in the pool until then.
struct Slot(Option<Arc<Runner>>);

impl Slot {
    async fn acquire(runner: &Arc<Runner>) -> Slot {
        match runner.slots.acquire().await {
            Ok(permit) => {
                permit.forget();
                Slot(Some(runner.clone()))
            }
            // The semaphore is never closed.
            Err(_) => Slot(None),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(runner) = &self.0 {
            runner.slots.add_permits(1);
        }
    }
}

/// Where a call's guest runs, shared by its epoch callback and its caller.
#[derive(Default)]
struct Placement {
    /// Set by the epoch callback: the guest has computed long enough to move.
    move_asked: AtomicBool,
    /// Set when the caller of a moved guest stops waiting (its deadline):
    /// interrupt at the next tick.
    abandoned: AtomicBool,
}

/// Run `guest` on the caller's task until it asks to move, then on the
/// background pool, waiting for its result.
///
/// Guests that compute for long thus leave the caller's runtime, whose
/// threads drive the I/O and the short steps of every other call; a moved
/// guest is polled with the caller's runtime entered, so the requests it
/// spawns and the timers it sets stay there. Dropping this future (the
/// caller's deadline) drops the guest: on the caller's thread, unless a
/// background thread is running it at that moment, and then that thread
/// interrupts it at its next epoch tick (it is marked abandoned). Either
/// way a moved guest never waits for an idle core to let go of its pool
/// slot.
async fn placed(
    mut guest: Guest,
    placement: Arc<Placement>,
    background: Option<&tokio::runtime::Handle>,
) -> (Result<String, CallError>, Option<String>) {
    let done = std::future::poll_fn(|cx| match guest.as_mut().poll(cx) {
        Poll::Ready(done) => Poll::Ready(Some(done)),
        Poll::Pending if placement.move_asked.load(Ordering::Relaxed) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await;
    if let Some(done) = done {
        return done;
    }
    let Some(background) = background else { return guest.await };
    let moved = Arc::new(Moved { guest: std::sync::Mutex::new(Some(guest)), placement });
    let _abandon = Abandon(moved.clone());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let on_background = Entered { runtime: tokio::runtime::Handle::current(), moved };
    background.spawn(async move {
        if let Some(done) = on_background.await {
            let _ = sender.send(done);
        }
    });
    receiver.await.unwrap_or_else(|_| {
        (Err(CallError::Trap { message: "the call's background task ended without a result".into() }), None)
    })
}

/// A guest that moved to the background pool: the pool's task polls it,
/// its caller drops it if it gives up (see [`placed`]).
struct Moved {
    guest: std::sync::Mutex<Option<Guest>>,
    placement: Arc<Placement>,
}

/// When the caller stops waiting, however that happens: mark the guest
/// abandoned, and drop it here if no background thread is running it.
struct Abandon(Arc<Moved>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.placement.abandoned.store(true, Ordering::Relaxed);
        let taken = match self.0.guest.try_lock() {
            Ok(mut guest) => guest.take(),
            Err(_) => None,
        };
        drop(taken);
    }
}

/// A moved guest, polled with the caller's runtime entered: what it spawns
/// and the timers it sets belong to that runtime, whose I/O driver is not
/// behind guests that compute. `None` if its caller dropped it.
struct Entered {
    runtime: tokio::runtime::Handle,
    moved: Arc<Moved>,
}

impl Future for Entered {
    type Output = Option<(Result<String, CallError>, Option<String>)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _entered = self.runtime.enter();
        let mut slot = self.moved.guest.lock().unwrap_or_else(|e| e.into_inner());
        let Some(guest) = slot.as_mut() else { return Poll::Ready(None) };
        match guest.as_mut().poll(cx) {
            Poll::Ready(done) => {
                let finished = slot.take();
                drop(slot);
                drop(finished);
                Poll::Ready(Some(done))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The yield at which a guest moves: pending once, so that the caller's
/// poll returns and hands the guest over, and ready when polled again, on
/// the background pool.
struct HandOff(bool);

impl Future for HandOff {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Call `entry` on a fresh `instance`.
async fn call_entry(
    pre: &bindings::Exports,
    store: &mut Store<Sandbox>,
    instance: &wasmtime::component::Instance,
    entry: Entry,
) -> wasmtime::Result<Result<String, WitZError>> {
    Ok(match entry {
        Entry::Definition => Ok(pre.definition(&mut *store, instance)?.call_async(&mut *store, ()).await?.0),
        Entry::Run { method, bundle } => {
            pre.run(&mut *store, instance)?.call_async(&mut *store, (method.as_str(), bundle.as_str())).await?.0
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
    if let Some(overflow) = record.overflow() {
        return overflow;
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
fn censor_error(error: CallError, record: &SharedRecord) -> CallError {
    let c = |s: String| record.censor_text(&s);
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
                    headers: headers.into_iter().map(|(k, v)| (c(k), c(v))).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The results a trigger's checks see: items with and without their
    /// primary keys, duplicates, keys spelled with escapes, values a full
    /// parse refuses (a number beyond `f64`) in a key and elsewhere.
    const TRIGGER_RESULTS: &[&str] = &[
        "[]",
        r#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#,
        r#"[{"id":1},{"id":1}]"#,
        r#"[{"id":1,"deep":{"a":[1,{"b":"c"}]}},{"name":"no id"}]"#,
        r#"[{"id":null},{"id":{"b":1,"a":2}},{"id":{"a":2,"b":1}}]"#,
        r#"[{"i\u0064":7},{"id":7}]"#,
        r#"[{"id":1,"id":null}]"#,
        r#"[{"id":null,"id":3},{"id":3}]"#,
        r#"[1,"two",null,[{"id":1}]]"#,
        r#"{"id":1}"#,
        r#""text""#,
        "null",
        r#"[{"sheet":"s","n":1,"text":"x"},{"sheet":"s","n":2},{"sheet":"s","n":1}]"#,
        r#"[{"sheet":"s"},{"n":1,"sheet":null}]"#,
        r#"[{"id":1,"big":1e400}]"#,
        r#"[{"id":1e400}]"#,
        r#"[{"id":18446744073709551616},{"id":18446744073709551617}]"#,
        r#"[{"id":"a\"b"},{"id":"a\u0022b"}]"#,
        r#"[{"id":1},{"id":1.0},{"id":"1"}]"#,
        r#" [ {"id" : [1, {"z":null,"a":true}]} , {"id":[1,{"a":true,"z":null}]} ] "#,
        r#"[{"text":"x","n":2,"sheet":"s","n":3},{"sheet":"s","n":2}]"#,
    ];

    #[test]
    fn a_trigger_result_read_in_one_pass_passes_the_checks_exactly_when_the_whole_does() {
        let definition = Definition::parse(
            r#"{"triggers":{
                "row":{"operation":{"outputFields":[
                    {"key":"sheet","primary":true},{"key":"n","primary":true},{"key":"text"}]}},
                "plain":{"operation":{"perform":{"$func":"triggers.plain.operation.perform"}}},
                "hook":{"operation":{"type":"hook"}}}}"#,
        )
        .unwrap();
        let deep = format!("[{{\"id\":1,\"deep\":{}{}}}]", "[".repeat(200), "]".repeat(200));
        let bundle = Bundle::default();
        let mut passed = 0;
        for method in
            ["triggers.row.operation.perform", "triggers.plain.operation.perform", "triggers.hook.operation.perform"]
        {
            let method_checks = Checks::of(&definition, method).unwrap();
            for text in TRIGGER_RESULTS.iter().copied().chain([deep.as_str()]) {
                let whole: Result<Value, _> = serde_json::from_str(text);
                let expected = match &whole {
                    Ok(value) => method_checks.run(&bundle, value),
                    Err(error) => vec![method_checks.unreadable(error)],
                };
                let passes = whole.is_ok() && expected.is_empty();
                assert_eq!(method_checks.pass_on_text(text), Some(passes), "{method}: {text}");
                passed += usize::from(passes);
                // The failures reported are the whole result's, messages and all.
                let json = Json::from_text(text.to_string()).unwrap();
                assert_eq!(result_checks(method_checks, &bundle, &json), expected, "{method}: {text}");
            }
        }
        // Both answers are exercised.
        assert!(passed > 5, "{passed}");
        // Other methods read more than a trigger's items.
        let fields_list = Checks::of(&definition, "triggers.row.operation.inputFields").unwrap();
        assert_eq!(fields_list.pass_on_text("[]"), None);
    }

    /// Results made of the pieces the checks turn on (key fields spelled
    /// with and without escapes, given twice, null, equal values written
    /// differently, objects in either key order, numbers beyond `f64`,
    /// items that are not objects): the one pass passes exactly the results
    /// that parse whole and pass the full checks.
    #[test]
    fn the_one_pass_agrees_with_the_full_checks_on_generated_results() {
        use proptest::prelude::*;
        let definition = Definition::parse(
            r#"{"triggers":{
                "row":{"operation":{"outputFields":[
                    {"key":"sheet","primary":true},{"key":"n","primary":true}]}},
                "plain":{},
                "hook":{"operation":{"type":"hook"}}}}"#,
        )
        .unwrap();
        let keys = [r#""id""#, r#""i\u0064""#, r#""sheet""#, r#""n""#, r#""text""#];
        let values = [
            "null",
            "0",
            "1",
            "1.0",
            r#""1""#,
            r#""a\"b""#,
            r#""a\u0022b""#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":2,"b":1}"#,
            "1e400",
            r#"[1,{"z":null}]"#,
        ];
        let entry = (prop::sample::select(keys.to_vec()), prop::sample::select(values.to_vec()));
        let object = prop::collection::vec(entry, 0..5).prop_map(|entries| {
            let entries: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{{{}}}", entries.join(","))
        });
        let item = prop_oneof![8 => object, 1 => prop::sample::select(values.to_vec()).prop_map(String::from)];
        let result = prop::collection::vec(item, 0..6).prop_map(|items| format!(" [{}] ", items.join(" , ")));
        let bundle = Bundle::default();
        let mut passed = [0usize; 3];
        for (at, method) in
            ["triggers.row.operation.perform", "triggers.plain.operation.perform", "triggers.hook.operation.perform"]
                .into_iter()
                .enumerate()
        {
            let checks = Checks::of(&definition, method).unwrap();
            // A runner per method: one counts its cases across runs.
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let outcome = runner.run(&result, |text| {
                let whole: Result<Value, _> = serde_json::from_str(&text);
                let passes = whole.is_ok_and(|value| checks.run(&bundle, &value).is_empty());
                prop_assert_eq!(checks.pass_on_text(&text), Some(passes), "{}: {}", method, text);
                Ok(())
            });
            assert!(outcome.is_ok(), "{outcome:?}");
            passed[at] = (0..200)
                .filter_map(|_| result.new_tree(&mut runner).ok())
                .map(|tree| proptest::strategy::ValueTree::current(&tree))
                .filter(|text| checks.pass_on_text(text) == Some(true))
                .count();
        }
        // Every method sees results that pass and results that fail.
        assert!(passed.iter().all(|&n| n > 0 && n < 200), "{passed:?}");
    }

    /// JSON text a `Value` cannot hold fails the checks with what is wrong,
    /// not as if the result were `null`.
    #[test]
    fn a_result_the_checks_cannot_read_says_why() {
        let definition = Definition::parse(r#"{"triggers":{"row":{}},"creates":{"add":{}}}"#).unwrap();
        let bundle = Bundle::default();
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for (method, text, id) in [
            ("triggers.row.operation.perform", r#"[{"id":1,"big":1e400}]"#, "result.trigger-array"),
            ("creates.add.operation.perform", r#"{"id":1e400}"#, "result.create-object"),
            ("creates.add.operation.perform", deep.as_str(), "result.create-object"),
        ] {
            let checks = Checks::of(&definition, method).unwrap();
            let failures = result_checks(checks, &bundle, &Json::from_text(text.to_string()).unwrap());
            assert_eq!(failures.len(), 1, "{method}: {failures:?}");
            assert_eq!(failures[0].id, id);
            let message = &failures[0].message;
            assert!(message.contains("cannot be read") && message.contains("line 1"), "{message}");
            assert!(!message.contains("got null"), "{message}");
        }
    }

    fn is_timeout<T: std::fmt::Debug>(result: &Result<T, CallError>) -> bool {
        matches!(result, Err(CallError::Limit { limit: LimitKind::Timeout, .. }))
    }

    /// Late results: a guest that resumes after its deadline and
    /// finishes before any epoch tick or timer looks. The guest here holds
    /// its thread past the deadline and then returns in the same poll, so
    /// neither the epoch check nor the whole-call timer can end it: only
    /// the check where the result is final does.
    #[tokio::test]
    async fn a_result_that_comes_after_the_deadline_is_a_timeout() {
        let deadline = Instant::now() + Duration::from_millis(5);
        let late: Guest = Box::pin(async {
            std::thread::sleep(Duration::from_millis(20));
            (Ok("[]".to_string()), None)
        });
        let (result, _) = await_guest(late, Arc::default(), None, deadline, Duration::from_millis(5)).await;
        assert!(is_timeout(&result), "{result:?}");

        let deadline = Instant::now() + Duration::from_secs(60);
        let in_time: Guest = Box::pin(async { (Ok("[]".to_string()), None) });
        let (result, _) = await_guest(in_time, Arc::default(), None, deadline, Duration::from_secs(60)).await;
        assert_eq!(result.ok().as_deref(), Some("[]"));
    }

    /// Errors that come late are what happened, and stay; only results are
    /// refused.
    #[test]
    fn only_results_are_refused_after_the_deadline() {
        let now = Instant::now();
        let timeout = || timeout_error(Duration::from_secs(1));
        assert!(is_timeout(&refuse_late(Ok(()), now, now, timeout)));
        assert!(refuse_late(Ok(()), now + Duration::from_millis(1), now, timeout).is_ok());
        let error = CallError::Trap { message: "trapped".into() };
        assert!(matches!(
            refuse_late::<()>(Err(error), now, now + Duration::from_secs(1), timeout),
            Err(CallError::Trap { .. })
        ));
    }
}
#[cfg(test)]
mod future_size {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, B, F: Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// An embedder's task holds a waiting call's future whole, so its size
    /// is memory per call in flight. An `async fn` taking the invocation
    /// by value keeps it twice, and the refresh path inline kept three runs
    /// of a call: 8.3 KiB in all, where 2.4 is what it needs.
    #[test]
    fn a_calls_future_holds_one_run_of_a_call() {
        let size = future_size::<&crate::App, Invocation, _>(crate::App::invoke);
        assert!(size <= 4096, "App::invoke's future is {size} bytes; see auth::refresh::invoke");
    }
}
