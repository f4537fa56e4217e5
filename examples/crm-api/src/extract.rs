//! Extractors that fail with the API's error shape instead of axum's
//! plain-text rejections: a JSON body, a query string, a numeric path id.
//!
//! [`crate::routes`] uses these in place of `axum::Json`, `axum::extract::Query`
//! and `axum::extract::Path`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body. The body is parsed whatever its Content-Type says
/// (clients of a small API often forget it); unreadable JSON or a value of the
/// wrong shape is a 400 `bad_request`.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request(format!("could not read the request body: {}", rejection.body_text()))
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|error| {
            if error.is_data() {
                ApiError::bad_request(format!("the JSON body has the wrong shape: {error}"))
            } else {
                ApiError::bad_request(format!("the body is not valid JSON: {error}"))
            }
        })
    }
}

/// The query string decoded into `T`; an undecodable one is a 400
/// `bad_request`.
pub(crate) struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| QueryParams(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// The single `{id}` of a route: `Some` when it is a decimal number, `None`
/// otherwise, so a handler answers 404 for `/contacts/abc` as for
/// `/contacts/999`.
pub(crate) struct PathId(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = Path::<String>::from_request_parts(parts, state).await.ok().and_then(|Path(raw)| raw.parse().ok());
        Ok(PathId(id))
    }
}
