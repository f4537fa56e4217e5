//! The durable queue's workers and the poll scheduler.
//!
//! Receivers (`POST /hooks/{id}`, `POST /callbacks/{id}`) only write the
//! request to the service's state file and answer; the guest call runs
//! here, never inside the sender's timeout. The scheduler queues a poll of
//! each polling subscription when it is due. A worker claims the oldest
//! due job whose target (subscription or callback) has nothing earlier
//! queued or running, runs it, and records its end in the same transaction
//! as what it emitted, claiming its next job in that transaction too. A
//! receiver wakes a worker only for a job no earlier one of its target
//! holds back; the rest are claimed by the ends that let them go. A job
//! that fails is tried again with backoff (1 s
//! doubling to 5 min, [`Settings::max_attempts`](crate::Settings) times); a
//! process that dies mid-job leaves it `running`, and the next start queues
//! it again: every acknowledged request runs at least once, and its events
//! are written once.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zapwasm_host::{FlowError, ResumeError, Scope, ScopeKey, Status, Subscription};

use crate::db::{Answered, Job, JobKind, Then};
use crate::service::{Service, outcome_json};

/// How often the scheduler looks for due polls, and the longest a worker
/// sleeps without being woken.
const TICK: Duration = Duration::from_millis(250);

/// The running workers and scheduler of a [`Service`].
pub struct Workers {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Stop claiming jobs and wait up to `grace` for the jobs running now
    /// to finish. A job still running then is abandoned where it is: it
    /// stays in the state file and runs again on the next start.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

pub(crate) fn start(service: Service) -> Workers {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for worker in 0..service.inner.settings.workers {
        let (service, stop) = (service.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { work(service, stop, worker).await }));
    }
    if service.inner.settings.workers > 0 {
        let (service, stop) = (service.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { schedule(service, stop).await }));
    }
    let (pruner, stop_pruning) = (service.clone(), stop.clone());
    tasks.push(tokio::spawn(async move { prune(pruner, stop_pruning).await }));
    Workers { stop, tasks }
}

/// Retention: prune what is finished, at start and then every interval.
async fn prune(service: Service, stop: CancellationToken) {
    let interval = service.inner.settings.retention.interval.max(Duration::from_secs(1));
    while !stop.is_cancelled() {
        if let Err(e) = service.prune().await {
            tracing::error!(error = %e, "cannot prune finished work; the next pass tries again");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

async fn schedule(service: Service, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match service.db().schedule_polls().await {
            Ok(0) => {}
            Ok(_) => service.inner.wake.notify_waiters(),
            Err(e) => tracing::error!(error = %e, "cannot schedule polls"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn work(service: Service, stop: CancellationToken, worker: usize) {
    // The job claimed with the last one's end, run before looking again.
    let mut next: Option<Job> = None;
    loop {
        if let Some(job) = next.take() {
            // A job claimed is run, stopping or not (within the grace); a
            // stopping worker's end claims nothing more.
            let then = if stop.is_cancelled() { Then::Stop } else { Then::ClaimNext };
            let span = tracing::info_span!("job", worker, id = job.id, kind = ?job.kind, attempt = job.attempts);
            let target = job.target.clone();
            next = tracing::Instrument::instrument(run(&service, job, then), span).await;
            // The end let the target's next job go (receivers wake no one
            // for a job behind another); this worker took another target's:
            // one more worker may find that one.
            if next.as_ref().is_some_and(|next| next.target != target) {
                service.inner.wake.notify_one();
            }
            continue;
        }
        if stop.is_cancelled() {
            break;
        }
        // Registered before looking, so a wake between the look and the
        // wait is not missed (and a receiver's `notify_one` finds it).
        let woken = service.inner.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match service.db().claim().await {
            Ok(Some(job)) => {
                next = Some(job);
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot claim a job"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = woken => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// What became of a job.
enum End {
    /// Its end is written, and with it the worker's next job claimed (if
    /// it asked and one was due).
    Done(Option<Job>),
    /// Try again later.
    Retry(String),
    /// Give up, and why.
    Dead(String),
    /// A poll that failed: the next scheduled poll is its retry.
    Failed(String),
}

/// Run `job` and write its end; the worker's next job, when `then` asked
/// for it and the end's write claimed one.
async fn run(service: &Service, job: Job, then: Then) -> Option<Job> {
    let kind = job.kind.name();
    let end = match job.kind {
        JobKind::Hook => deliver(service, &job, then).await,
        JobKind::Callback => resume(service, &job, then).await,
        JobKind::Poll => poll(service, &job, then).await,
    };
    let end = match end {
        Ok(end) => end,
        Err(e) => End::Retry(e.to_string()),
    };
    let db = service.db();
    let max_attempts = i64::from(service.inner.settings.max_attempts.max(1));
    let recorded = match end {
        End::Done(next) => {
            service.inner.metrics.delivery(kind, "done");
            Ok(next)
        }
        End::Retry(error) if job.attempts < max_attempts => {
            service.inner.metrics.delivery(kind, "retry");
            let delay =
                Duration::from_secs(1u64 << (job.attempts - 1).clamp(0, 8) as u64).min(Duration::from_secs(300));
            tracing::warn!(error = %error, retry_in_s = delay.as_secs(), "the job failed; it will be tried again");
            db.retry(job.id, delay, error, then).await
        }
        End::Retry(error) | End::Dead(error) => {
            service.inner.metrics.delivery(kind, "dead");
            tracing::error!(error = %error, "the job is given up");
            db.end_job(job.id, "dead", error, then).await
        }
        End::Failed(error) => {
            service.inner.metrics.delivery(kind, "failed");
            tracing::warn!(error = %error, "the poll failed; the next one is its retry");
            db.end_job(job.id, "failed", error, then).await
        }
    };
    recorded.unwrap_or_else(|e| {
        // The job stays `running`: the next start queues it again.
        tracing::error!(error = %e, "cannot record the end of a job");
        None
    })
}

/// The subscription, its app and its credentials, or how the job ends.
async fn subscription_parts(
    service: &Service,
    id: &str,
) -> Result<Result<(Subscription, zapwasm_host::App, Map<String, Value>), End>, crate::ServeError> {
    let subscription = match service.host().subscription(id).await {
        Ok(subscription) => subscription,
        Err(FlowError::UnknownSubscription) => {
            return Ok(Err(End::Dead("the subscription was removed".into())));
        }
        Err(e) => return Ok(Err(End::Retry(e.to_string()))),
    };
    let Some(app) = service.app(&subscription.scope.integration) else {
        return Ok(Err(End::Retry(format!("the app {:?} is not loaded", subscription.scope.integration))));
    };
    let Some((_, auth)) = service.connection(&subscription.scope.account).await? else {
        return Ok(Err(End::Dead("the subscription's connection was removed".into())));
    };
    Ok(Ok((subscription, app, auth)))
}

async fn deliver(service: &Service, job: &Job, then: Then) -> Result<End, crate::ServeError> {
    let Some(request) = job.request.as_ref().map(|r| r.incoming()) else {
        return Ok(End::Dead("the job has no request".into()));
    };
    let (subscription, app, auth) = match subscription_parts(service, &job.target).await? {
        Ok(parts) => parts,
        Err(end) => return Ok(end),
    };
    // An earlier attempt may have run and marked the delivery ID seen in
    // the library's state before this process could record it: forget it,
    // so this attempt runs (its events were never written).
    if job.attempts > 1
        && let Some(id) = request.delivery_id()
    {
        let dedupe = &service.host().stores().dedupe;
        dedupe.forget_seen(&ScopeKey::deliveries(&subscription.scope), &[id]).await.map_err(state)?;
    }
    let integration = subscription.scope.integration.clone();
    let span = tracing::info_span!("deliver", app = %integration, trigger = %subscription.trigger);
    let delivered = service.in_flight(app.deliver_hook(&subscription, auth, &request), span).await;
    let method = format!("triggers.{}.operation.perform", subscription.trigger);
    match delivered {
        Ok(delivered) => {
            for outcome in &delivered.outcomes {
                service.record(&integration, &method, outcome);
            }
            let items = delivered.items.iter().map(Value::to_string).collect();
            let auth = service.auth_update(Some(&subscription.scope.account), &delivered.outcomes)?;
            let next = service.db().finish_delivery(job.id, &subscription.id, items, auth, then).await?;
            Ok(End::Done(next))
        }
        Err(FlowError::Call(outcome)) => {
            service.record(&integration, &method, &outcome);
            let error = outcome.result.as_ref().err().map(ToString::to_string).unwrap_or_default();
            Ok(End::Retry(format!("perform failed: {error}")))
        }
        Err(FlowError::UnknownSubscription) => Ok(End::Dead("the subscription was removed".into())),
        Err(FlowError::NotSupported { reason, .. }) => Ok(End::Dead(reason)),
        Err(e) => Ok(End::Retry(e.to_string())),
    }
}

async fn resume(service: &Service, job: &Job, then: Then) -> Result<End, crate::ServeError> {
    let Some(request) = job.request.as_ref().map(|r| r.incoming()) else {
        return Ok(End::Dead("the job has no request".into()));
    };
    let Some(known) = service.db().callback(&job.target).await? else {
        return Ok(End::Dead("the callback is unknown".into()));
    };
    // Its app, connection or subscription went away after the POST was
    // accepted: the call fails with the reason rather than resume.
    if let Ok(scope) = serde_json::from_str::<Scope>(&known.scope)
        && let Some(reason) = service.callback_gone(&scope).await?
    {
        tracing::warn!(reason = %reason, "a callback is not resumed");
        service.db().abandon_callback(&job.target, Some(job.id), reason).await?;
        let _ = service.host().claim_callback(&job.target).await;
        return Ok(End::Done(None));
    }
    let pending = match service.host().claim_callback(&job.target).await {
        Ok(pending) => pending,
        // This service queues one job per callback, so a claim made by an
        // earlier attempt of this job (which then died) is its own: read
        // the callback back.
        Err(ResumeError::AlreadyResumed) if job.attempts > 1 => {
            let scope: Scope = serde_json::from_str(&known.scope).map_err(|e| state(e.to_string()))?;
            let callbacks = &service.host().stores().callbacks;
            match callbacks.callback(&ScopeKey::of(&scope), &job.target, std::time::SystemTime::now()).await {
                Ok(Some(pending)) => pending,
                Ok(None) => return Ok(End::Dead("the callback expired".into())),
                Err(e) => return Ok(End::Retry(e.to_string())),
            }
        }
        Err(ResumeError::Expired) => {
            let answer = json!({"invocation": known.invocation, "status": "error",
                "error": {"kind": "expired", "message": "the callback expired before its POST arrived"}});
            let db = service.db();
            let answered =
                Answered { invocation: known.invocation, status: "error", answer: answer.to_string(), expired: true };
            let next = db.finish_callback(job.id, &job.target, answered, None, then).await?;
            return Ok(End::Done(next));
        }
        Err(ResumeError::State(e)) => return Ok(End::Retry(e.to_string())),
        Err(e) => return Ok(End::Dead(e.to_string())),
    };
    let integration = pending.scope.integration.clone();
    let Some(app) = service.app(&integration) else {
        return Ok(End::Retry(format!("the app {integration:?} is not loaded")));
    };
    let connection = pending.scope.account.clone();
    // A call without a connection ("-") has no credentials; one with a
    // connection was checked above to still have it.
    let auth = service.connection(&connection).await?.map(|(_, auth)| auth).unwrap_or_default();
    let method = pending.method.replace(".perform", ".performResume");
    let span = tracing::info_span!("resume", app = %integration, method = %pending.method);
    let outcome = service.in_flight(app.resume(pending, auth, &request), span).await;
    service.record(&integration, &method, &outcome);
    let mut answer = outcome_json(&outcome);
    answer.insert("invocation".into(), json!(known.invocation));
    answer.insert("callback".into(), json!({"status": "resumed"}));
    let status = if outcome.status == Status::Error { "error" } else { "success" };
    let auth = service.auth_update(Some(&connection), [&outcome])?;
    let answer = Value::Object(answer).to_string();
    let answered = Answered { invocation: known.invocation, status, answer, expired: false };
    let next = service.db().finish_callback(job.id, &job.target, answered, auth, then).await?;
    Ok(End::Done(next))
}

async fn poll(service: &Service, job: &Job, then: Then) -> Result<End, crate::ServeError> {
    let (subscription, app, auth) = match subscription_parts(service, &job.target).await? {
        Ok(parts) => parts,
        Err(End::Dead(reason)) => {
            service.db().remove_subscription(&job.target).await?;
            return Ok(End::Dead(reason));
        }
        Err(end) => return Ok(end),
    };
    let integration = subscription.scope.integration.clone();
    let method = format!("triggers.{}.operation.perform", subscription.trigger);
    let span = tracing::info_span!("poll", app = %integration, trigger = %subscription.trigger);
    let polled = service.in_flight(app.poll(&subscription, auth), span).await;
    match polled {
        Ok(polled) => {
            service.record(&integration, &method, &polled.outcome);
            let items = polled.new_items.iter().map(Value::to_string).collect();
            let auth = service.auth_update(Some(&subscription.scope.account), [&polled.outcome])?;
            let db = service.db();
            let next = db.finish_poll(job.id, &subscription.id, items, polled.keys.clone(), auth, then).await?;
            // The items are kept; now the library may mark them seen. A
            // crash in between leaves the keys in the job, for the next start
            // (as does a failure here: the job is done, and the next job may
            // already be claimed, so nothing here fails the job).
            match app.acknowledge_poll(&subscription, &polled).await {
                Ok(()) => {
                    if let Err(e) = db.acknowledged(job.id).await {
                        tracing::error!(error = %e, "cannot record a poll acknowledged; the next start will");
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot acknowledge a poll; the next start will"),
            }
            Ok(End::Done(next))
        }
        Err(FlowError::Call(outcome)) => {
            service.record(&integration, &method, &outcome);
            Ok(End::Failed(outcome.result.as_ref().err().map(ToString::to_string).unwrap_or_default()))
        }
        Err(FlowError::UnknownSubscription) => {
            service.db().remove_subscription(&job.target).await?;
            Ok(End::Dead("the subscription was removed".into()))
        }
        Err(e) => Ok(End::Failed(e.to_string())),
    }
}

/// At start: the keys of polls whose items were kept before the last
/// process could have them marked seen.
pub(crate) async fn acknowledge_left_over(service: &Service) {
    let left = match service.db().unacknowledged().await {
        Ok(left) => left,
        Err(e) => return tracing::error!(error = %e, "cannot read unacknowledged polls"),
    };
    for (job, subscription, keys) in left {
        if let Ok(subscription) = service.host().subscription(&subscription).await {
            let dedupe = &service.host().stores().dedupe;
            if let Err(e) = dedupe.mark_seen(&ScopeKey::of(&subscription.scope), &keys).await {
                tracing::error!(error = %e, "cannot acknowledge a poll");
                continue;
            }
        }
        if let Err(e) = service.db().acknowledged(job).await {
            tracing::error!(error = %e, "cannot record a poll acknowledged");
        }
    }
}

fn state(e: impl std::fmt::Display) -> crate::ServeError {
    crate::ServeError::State(e.to_string())
}
