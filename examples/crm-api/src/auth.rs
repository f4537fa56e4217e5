//! API-key authentication: every route, unknown ones included, needs an
//! `X-API-Key` header holding one of the configured keys, or gets a 401
//! `unauthorized`. Runs after [`crate::recording`], before routing.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::ApiState;

/// The header carrying the key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Passes `request` on when its key is known; answers 401 otherwise.
pub(crate) async fn require_api_key(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let key = request.headers().get(API_KEY_HEADER).and_then(|value| value.to_str().ok());
    match key {
        Some(key) if state.accepts_key(key) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}
