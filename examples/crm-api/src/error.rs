//! The one error shape of every 4xx answer:
//! `{"error":{"code":"<code>","message":"<text>"}}`.
//!
//! Handlers in [`crate::routes`], the key check in [`crate::auth`] and the
//! extractors in [`crate::extract`] all fail with an [`ApiError`], so no axum
//! plain-text rejection ever reaches a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A 4xx answer: a status, a stable machine-readable code, a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400 `bad_request`: a body, query or cursor the API cannot read.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 `missing_email`: a search without `email`.
    pub(crate) fn missing_email() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "missing_email", "the email query parameter is required")
    }

    /// 401 `unauthorized`: no `X-API-Key`, or one the API does not know.
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid or missing API key")
    }

    /// 404 `not_found`: an unknown record or route.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed`: a known path with a method it does not take.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
    }

    /// 409 `duplicate`: a contact with this email exists already.
    pub(crate) fn duplicate_email(email: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "duplicate", format!("a contact with email {email} already exists"))
    }

    /// 413 `payload_too_large`: a body over the API's limit.
    pub(crate) fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    }

    /// 422 `invalid`: a readable body missing a required field.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 429 `rate_limited`: `GET /rate-limited`, always (the route adds
    /// `Retry-After`).
    pub(crate) fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests; retry later")
    }
}

impl ApiError {
    /// The error object of the answer, `{"code","message"}` (also one entry
    /// of a batch's results).
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({"code": self.code, "message": self.message})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.body()}))).into_response()
    }
}
