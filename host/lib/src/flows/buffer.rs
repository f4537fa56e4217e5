//! Buffered creates: a create with `performBuffer` takes many runs in one
//! call. Runs are grouped by the values of the operation's `groupedBy`
//! input fields, each group sent in calls of at most `limit` runs with
//! `bundle.groupedBy` and `bundle.buffer[{inputData, meta{id}}]`, and each
//! run gets the answer keyed by its ID: `{"outputData": ...}` or
//! `{"error": "..."}`, the error's text censored (BEHAVIOUR.md, "Flows
//! that span calls").
//!
//! Collecting runs over time (the platform waits a while for a buffer to
//! fill) is the embedder's: this takes the runs it collected.

use serde_json::{Map, Value};

use super::FlowError;
use crate::app::App;
use crate::bundle::{BufferedItem, BufferedMeta, Bundle, Scope};
use crate::censor::Censor;
use crate::error::{CallError, CheckFailure, ZError};
use crate::invoke::{Invocation, Outcome};

/// One run of a buffered create.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferedRun {
    /// The run's ID, unique among the runs given at once (an idempotency
    /// ID: `bundle.buffer[].meta.id`).
    pub id: String,
    /// The run's inputData.
    pub input_data: Map<String, Value>,
}

/// What one run got.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BufferedResult {
    /// The run's ID.
    pub id: String,
    /// Its `outputData`, or its error: the one the integration answered
    /// for it, the failed call's, or a check failure
    /// (`result.buffer-shape`) when the answer for it is missing or
    /// malformed.
    pub result: Result<Value, CallError>,
}

/// What [`App::perform_buffer`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Buffered {
    /// One result per run, in the order the runs were given.
    pub results: Vec<BufferedResult>,
    /// The calls of `performBuffer`, one per batch.
    pub outcomes: Vec<Outcome>,
}

impl App {
    /// Run the buffered create `create` (its key) for `runs`, in batches by
    /// its `buffer` settings (`groupedBy`, `limit`). A batch whose call
    /// refreshed the credentials hands them to the batches after it; the
    /// embedder keeps the newest (`auth_data` of the last outcome that has
    /// one).
    pub async fn perform_buffer(
        &self,
        create: &str,
        scope: &Scope,
        mut auth_data: Map<String, Value>,
        runs: Vec<BufferedRun>,
    ) -> Result<Buffered, FlowError> {
        let method = format!("creates.{create}.operation.performBuffer");
        let not = |reason: String| FlowError::NotSupported { key: format!("creates.{create}"), reason };
        if !self.definition().has_method(&method) {
            return Err(not("the create has no performBuffer".into()));
        }
        let settings = self.definition().get(&format!("creates.{create}.operation.buffer"));
        let grouped_by: Vec<String> = settings
            .and_then(|b| b.get("groupedBy"))
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let limit =
            settings.and_then(|b| b.get("limit")).and_then(Value::as_u64).filter(|l| *l > 0).ok_or_else(|| {
                not("the create's operation.buffer has no positive limit (set it with Operation::buffer)".into())
            })?;
        let mut ids = std::collections::HashSet::new();
        if let Some(twice) = runs.iter().find(|run| !ids.insert(run.id.as_str())) {
            return Err(not(format!("the run ID {:?} is given twice; each run needs its own", twice.id)));
        }

        let mut buffered = Buffered { results: Vec::with_capacity(runs.len()), outcomes: Vec::new() };
        let mut answers: std::collections::HashMap<String, Result<Value, CallError>> = Default::default();
        for (group, members) in groups(&runs, &grouped_by) {
            for batch in members.chunks(limit as usize) {
                let bundle = Bundle {
                    auth_data: auth_data.clone(),
                    grouped_by: group.clone(),
                    buffer: batch
                        .iter()
                        .map(|run| BufferedItem {
                            input_data: run.input_data.clone(),
                            meta: BufferedMeta { id: run.id.clone() },
                        })
                        .collect(),
                    ..Bundle::default()
                };
                let outcome = self.invoke(Invocation::new(&method, bundle, scope.clone())).await;
                let answer = outcome.result.as_ref().map(|json| json.value());
                // A run's error is the integration's text: censored as the
                // call's errors are, with the censor of the authData the
                // call ended with (refreshed, if it was).
                if let Some(refreshed) = &outcome.auth_data {
                    // The batches after a refresh send what it got: an API
                    // that rotates its tokens refuses the old ones outright.
                    auth_data.clone_from(refreshed);
                }
                let censor = self.account_censor(&auth_data);
                for run in batch {
                    let result = match &answer {
                        Ok(answer) => answer_for(answer, &run.id, &censor),
                        Err(error) => Err((*error).clone()),
                    };
                    answers.insert(run.id.clone(), result);
                }
                buffered.outcomes.push(outcome);
            }
        }
        for run in runs {
            let result = answers.remove(&run.id).unwrap_or_else(|| Err(shape_error(&run.id, "was not sent")));
            buffered.results.push(BufferedResult { id: run.id, result });
        }
        Ok(buffered)
    }
}

/// The runs grouped by the values of the `grouped_by` fields (a missing
/// field counts as `null`), groups in the order their first run came.
fn groups<'a>(runs: &'a [BufferedRun], grouped_by: &[String]) -> Vec<(Map<String, Value>, Vec<&'a BufferedRun>)> {
    let mut groups: Vec<(Map<String, Value>, Vec<&BufferedRun>)> = Vec::new();
    for run in runs {
        let values: Map<String, Value> = grouped_by
            .iter()
            .map(|key| (key.clone(), run.input_data.get(key).cloned().unwrap_or(Value::Null)))
            .collect();
        match groups.iter_mut().find(|(group, _)| *group == values) {
            Some((_, members)) => members.push(run),
            None => groups.push((values, vec![run])),
        }
    }
    groups
}

/// The answer of `performBuffer` for the run `id`; the text of its error
/// censored with `censor`.
fn answer_for(answer: &Value, id: &str, censor: &Censor) -> Result<Value, CallError> {
    let Some(entry) = answer.as_object().and_then(|answers| answers.get(id)) else {
        let what = if answer.is_object() { "has no entry for it" } else { "is not an object keyed by run ID" };
        return Err(shape_error(id, what));
    };
    match (entry.get("outputData"), entry.get("error")) {
        (Some(output), None) => Ok(output.clone()),
        (None, Some(Value::String(message))) => {
            Err(CallError::Integration { error: ZError::General { message: censor.apply(message) } })
        }
        _ => Err(shape_error(id, "is neither {\"outputData\": ...} nor {\"error\": \"...\"}")),
    }
}

fn shape_error(id: &str, what: &str) -> CallError {
    let message = format!("performBuffer's answer for run {id:?} {what}");
    CallError::Integration {
        error: ZError::Check { failures: vec![CheckFailure { id: "result.buffer-shape".into(), message }] },
    }
}
