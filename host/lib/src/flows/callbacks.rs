//! Callbacks: a call that ran `z.generateCallbackUrl` ends with status
//! `callback` and a [`PendingCallback`] in the host's [`CallbackStore`]
//! (done by the one-call runner). When the POST to the URL arrives, the
//! receiver claims the callback ([`Host::claim_callback`], exactly once)
//! and resumes it on its app ([`App::resume`]): `performResume` runs with
//! `outputData`, `rawRequest` and `cleanedRequest`, or without one the
//! result is `{...outputData, ...cleanedRequest}` (BEHAVIOUR.md, "Flows
//! that span calls").

use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

use crate::app::App;
use crate::bundle::Bundle;
use crate::host::Host;
use crate::incoming::IncomingRequest;
use crate::invoke::{Invocation, Outcome, Status};
use crate::state::{Claim, PendingCallback, StateError};

/// Why a callback cannot be resumed. Each is a distinct answer for the
/// sender; [`ResumeError::http_status`] gives the status a receiver sends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The callback was resumed before (a repeated or concurrent POST).
    #[error("this callback was already resumed")]
    AlreadyResumed,
    /// The callback waited longer than it may (30 days).
    #[error("this callback expired")]
    Expired,
    /// No callback has this ID.
    #[error("no callback has this ID")]
    Unknown,
    /// The state backend failed; the sender may retry.
    #[error("cannot read the pending callback")]
    State(#[source] StateError),
}

impl ResumeError {
    /// The HTTP status a receiver answers with: 410 Gone for a callback
    /// already resumed or expired (the sender should stop), 404 for an
    /// unknown ID, 503 for a state failure (the sender should retry).
    pub fn http_status(&self) -> u16 {
        match self {
            ResumeError::AlreadyResumed | ResumeError::Expired => 410,
            ResumeError::Unknown => 404,
            ResumeError::State(_) => 503,
        }
    }
}

impl Host {
    /// Claim the pending callback `id` (the last segment of its URL) for
    /// resuming. Of any number of claims, in this process or another
    /// sharing the store, exactly one gets the callback; resume it with
    /// [`App::resume`] on the app of its `scope.integration`.
    pub async fn claim_callback(&self, id: &str) -> Result<PendingCallback, ResumeError> {
        match self.stores().callbacks.claim_callback(id, SystemTime::now()).await {
            Ok(Claim::Claimed(pending)) => Ok(pending),
            Ok(Claim::AlreadyClaimed) => Err(ResumeError::AlreadyResumed),
            Ok(Claim::Expired) => Err(ResumeError::Expired),
            Ok(Claim::Unknown) => Err(ResumeError::Unknown),
            Err(e) => Err(ResumeError::State(e)),
        }
    }
}

impl App {
    /// Resume a claimed callback with the request that arrived at its URL,
    /// in the callback's scope, with the account's current `auth_data`.
    pub async fn resume(
        &self,
        pending: PendingCallback,
        auth_data: Map<String, Value>,
        request: &IncomingRequest,
    ) -> Outcome {
        let cleaned = request.cleaned_request();
        let resume_method =
            pending.method.strip_suffix(".perform").map(|operation| format!("{operation}.performResume"));
        match resume_method.filter(|method| self.definition().has_method(method)) {
            Some(method) => {
                let bundle = Bundle {
                    auth_data,
                    input_data: pending.input_data,
                    output_data: Some(pending.output_data),
                    raw_request: Some(request.raw_request()),
                    cleaned_request: Some(cleaned),
                    ..Bundle::default()
                };
                self.invoke(Invocation::new(method, bundle, pending.scope)).await
            }
            None => {
                let started = Instant::now();
                let mut merged = match pending.output_data {
                    Value::Object(fields) => fields,
                    _ => Map::new(),
                };
                if let Value::Object(fields) = cleaned {
                    merged.extend(fields);
                }
                Outcome {
                    result: Ok(Value::Object(merged).into()),
                    // An object, as a create's result must be.
                    checks: Vec::new(),
                    status: Status::Success,
                    callback_url: None,
                    logs: Vec::new(),
                    http: Vec::new(),
                    duration: started.elapsed(),
                    auth_data: None,
                }
            }
        }
    }
}
