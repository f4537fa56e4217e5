//! The outermost middleware: records every request (method, path, query,
//! headers) in [`ApiState`] before anything can refuse it, so tests can
//! assert exactly what the API received, a request [`crate::auth`] turns
//! away included.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::model::SeenRequest;
use crate::state::ApiState;

/// Records `request`, then passes it on unchanged.
pub(crate) async fn record_request(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    state.record_request(SeenRequest {
        method: request.method().as_str().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().unwrap_or_default().to_string(),
        headers,
    });
    next.run(request).await
}
