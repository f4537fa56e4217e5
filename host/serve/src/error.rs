//! The one error shape of every answer that is not a success:
//! `{"error": {"kind": "<kind>", "message": "<text>"}}`, with a status
//! that fits, and what the caller needs besides (a call's censored logs,
//! `Retry-After`). Every handler and extractor fails with an [`ApiError`],
//! so no plain-text rejection of axum reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An answer that is not a success.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    /// Seconds the client should wait before trying again (503, 429).
    pub(crate) retry_after: Option<u64>,
    /// Fields added next to `error` (a failed call's `invocation`, `logs`).
    pub(crate) extra: Vec<(String, Value)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, kind, message: message.into(), retry_after: None, extra: Vec::new() }
    }

    /// 400: a body, query or value the service cannot use.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400: a body that is not JSON.
    pub(crate) fn invalid_json(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 404: no such thing.
    pub(crate) fn not_found(kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, kind, message)
    }

    /// 410: it was here and is not any more (a removed subscription, a
    /// resumed or expired callback): a sender should stop.
    pub(crate) fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, "gone", message)
    }

    /// 401: the control token is missing or wrong.
    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs the control token: send `Authorization: Bearer <token>`",
        )
    }

    /// 413: a body over the limit.
    pub(crate) fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than this route takes ({limit} bytes)"),
        )
    }

    /// 503 with `Retry-After`: too much in flight, try again shortly.
    pub(crate) fn overloaded(message: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message);
        error.retry_after = Some(1);
        error
    }

    /// 503 with `Retry-After`: the service's state failed; nothing was kept.
    pub(crate) fn state(error: impl std::fmt::Display) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            format!("the service's state failed ({error}); nothing was kept, try again"),
        );
        error.retry_after = Some(1);
        error
    }

    /// 409: the request conflicts with one before it.
    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// The same error with `key: value` next to `error`.
    pub(crate) fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.push((key.to_string(), value));
        self
    }

    /// The body as JSON.
    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!({"kind": self.kind, "message": self.message}));
        for (key, value) in &self.extra {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
