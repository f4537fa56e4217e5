//! Stale credentials: when a call raises RefreshAuthError and the app can
//! refresh (session auth, or OAuth 2 with a refreshAccessToken), the host
//! refreshes once, retries the call once with the new authData, and hands the
//! new authData to the embedder. Nothing else is ever retried, and this
//! retry shows in the call's log.

use serde_json::{Map, Value};

use crate::error::{CallError, ZError};
use crate::invoke::{self, Env, Invocation, Loaded, Outcome};
use crate::record::{Level, LogLine, Source};

/// The method that refreshes this app's credentials, if it has one.
pub(crate) fn refresh_method(loaded: &Loaded) -> Option<&'static str> {
    let definition = &loaded.definition;
    match definition.auth_type()? {
        "session" => Some("authentication.sessionConfig.perform").filter(|m| definition.has_method(m)),
        "oauth2" => Some("authentication.oauth2Config.refreshAccessToken").filter(|m| definition.has_method(m)),
        _ => None,
    }
}

/// Run a call; on RefreshAuthError, refresh and retry it once.
///
/// An app that cannot refresh (or a call of the refresh method itself) runs
/// the call as it is: no copy of the invocation is kept for a retry, and
/// the future holds one run of a call. The refreshing path is boxed, so its
/// copy, the refresh and the retry are allocated only for apps that can
/// refresh (a waiting call's task holds its future whole: 3.3 KiB instead
/// of 6.6 with every path inline).
///
/// Written as a function returning an `async` block rather than an `async
/// fn`: an `async fn` keeps its arguments and the locals it moves them
/// into, so its future would hold the invocation twice.
pub(crate) fn invoke<'a>(
    loaded: &'a Loaded,
    env: &'a Env,
    invocation: Invocation,
) -> impl Future<Output = Outcome> + Send + 'a {
    let refreshing = refresh_method(loaded).filter(|method| *method != invocation.method);
    async move {
        match refreshing {
            None => invoke::run(loaded, env, invocation).await,
            Some(method) => Box::pin(invoke_refreshing(loaded, env, invocation, method)).await,
        }
    }
}

/// [`invoke`] for an app that refreshes with `method`.
async fn invoke_refreshing(loaded: &Loaded, env: &Env, invocation: Invocation, method: &'static str) -> Outcome {
    let first = invoke::run(loaded, env, invocation.clone()).await;
    if !matches!(&first.result, Err(CallError::Integration { error: ZError::RefreshAuth { .. } })) {
        return first;
    }
    let refreshed =
        Box::pin(refresh(loaded, env, method, invocation.clone(), invocation.bundle.auth_data.clone())).await;
    let mut logs = first.logs;
    let mut http = first.http;
    logs.extend(refreshed.logs);
    http.extend(refreshed.http);
    let Some(auth_data) = refreshed.auth_data else {
        return Outcome { result: refreshed.result, logs, http, ..first };
    };
    logs.push(host_line(format!(
        "the credentials were stale: refreshed them with {method} and retried {} once",
        invocation.method
    )));
    let mut retry = invocation;
    retry.bundle.auth_data = auth_data.clone();
    let second = Box::pin(invoke::run(loaded, env, retry)).await;
    logs.extend(second.logs);
    http.extend(second.http);
    Outcome { logs, http, auth_data: Some(auth_data), ..second }
}

/// Runs `method` (which refreshes or obtains credentials) with the
/// invocation's bundle. On success the result and [`Outcome::auth_data`]
/// are `old` (the account's authData) with the returned fields merged over
/// it; a result that is not an object is an ExpiredAuthError.
pub(crate) async fn refresh(
    loaded: &Loaded,
    env: &Env,
    method: &str,
    invocation: Invocation,
    old: Map<String, Value>,
) -> Outcome {
    let mut outcome = invoke::run(loaded, env, invocation.of_method(method)).await;
    let returned = match &outcome.result {
        Ok(json) => json.value(),
        Err(error) => {
            let line = host_line(format!("refreshing the credentials with {method} failed: {error}"));
            outcome.logs.push(line);
            return outcome;
        }
    };
    match returned {
        Value::Object(fields) => {
            // What the call logged and exchanged was censored with the new
            // credentials too (`invoke::run`, for every method that returns
            // them).
            let auth_data = merged(&old, fields);
            outcome.result = Ok(Value::Object(auth_data.clone()).into());
            outcome.auth_data = Some(auth_data);
        }
        other => {
            let message = format!("{method} must return an object of authData fields, got {other}");
            outcome.result = Err(ZError::ExpiredAuth { message }.into());
        }
    }
    outcome
}

fn merged(old: &Map<String, Value>, new: Map<String, Value>) -> Map<String, Value> {
    let mut auth_data = old.clone();
    auth_data.extend(new);
    auth_data
}

fn host_line(message: String) -> LogLine {
    LogLine { level: Level::Info, source: Source::Host, message }
}
