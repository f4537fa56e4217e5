//! Stale credentials: when a call raises RefreshAuthError and the app can
//! refresh (session auth, or OAuth 2 with a refreshAccessToken), the host
//! refreshes once, retries the call once with the new authData, and hands the
//! new authData to the embedder. Nothing else is ever retried, and this
//! retry shows in the call's log.

use serde_json::{Map, Value};

use crate::error::{CallError, ZError};
use crate::host::App;
use crate::invoke::{self, Invocation, Outcome};
use crate::record::{Level, LogLine, Source};

/// The method that refreshes this app's credentials, if it has one.
pub(crate) fn refresh_method(app: &App) -> Option<&'static str> {
    let definition = app.definition();
    match definition.auth_type()? {
        "session" => Some("authentication.sessionConfig.perform").filter(|m| definition.has_method(m)),
        "oauth2" => Some("authentication.oauth2Config.refreshAccessToken").filter(|m| definition.has_method(m)),
        _ => None,
    }
}

/// Run a call; on RefreshAuthError, refresh and retry it once.
pub(crate) async fn invoke(app: &App, invocation: Invocation) -> Outcome {
    let first = invoke::run(app, invocation.clone()).await;
    let stale = matches!(&first.result, Err(CallError::Integration { error: ZError::RefreshAuth { .. } }));
    let Some(method) = refresh_method(app).filter(|m| stale && *m != invocation.method) else {
        return first;
    };
    let refresh = Invocation { method: method.into(), ..invocation.clone() };
    let refreshed = invoke::run(app, refresh).await;
    let mut logs = first.logs;
    let mut http = first.http;
    logs.extend(refreshed.logs);
    http.extend(refreshed.http);
    let fields = match refreshed.result {
        Ok(Value::Object(fields)) => fields,
        Ok(other) => {
            let message = format!("{method} must return an object of authData fields, got {other}");
            return Outcome { result: Err(ZError::ExpiredAuth { message }.into()), logs, http, ..first };
        }
        Err(error) => {
            logs.push(host_line(format!("refreshing the credentials with {method} failed: {error}")));
            return Outcome { result: Err(error), logs, http, ..first };
        }
    };
    let auth_data = merged(&invocation.bundle.auth_data, fields);
    logs.push(host_line(format!(
        "the credentials were stale: refreshed them with {method} and retried {} once",
        invocation.method
    )));
    let mut retry = invocation;
    retry.bundle.auth_data = auth_data.clone();
    let second = invoke::run(app, retry).await;
    logs.extend(second.logs);
    http.extend(second.http);
    Outcome { logs, http, auth_data: Some(auth_data), ..second }
}

fn merged(old: &Map<String, Value>, new: Map<String, Value>) -> Map<String, Value> {
    let mut auth_data = old.clone();
    auth_data.extend(new);
    auth_data
}

fn host_line(message: String) -> LogLine {
    LogLine { level: Level::Info, source: Source::Host, message }
}
