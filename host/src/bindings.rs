//! Host bindings generated from `wit/zapwasm.wit`.
//!
//! Kept in their own module: the WIT `z-error` type and the world's import
//! traits would otherwise collide with the embedding API's names. Nothing
//! here is public; `error.rs` converts the WIT types into the public ones.

wasmtime::component::bindgen!({
    world: "app",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub(crate) use zapwasm::integration::types::{
    CheckFailure as WitCheckFailure, ResponseError as WitResponseError, ThrottledError as WitThrottled,
    ZError as WitZError,
};

use crate::error::{CheckFailure, ZError};

impl From<ZError> for WitZError {
    fn from(error: ZError) -> WitZError {
        match error {
            ZError::General { message } => WitZError::General(message),
            ZError::Halted { message } => WitZError::Halted(message),
            ZError::ExpiredAuth { message } => WitZError::ExpiredAuth(message),
            ZError::RefreshAuth { message } => WitZError::RefreshAuth(message),
            ZError::Throttled { message, delay_seconds } => {
                WitZError::Throttled(WitThrottled { message, delay_seconds })
            }
            ZError::Response { status, headers, content, url, message } => {
                WitZError::Response(WitResponseError { status, headers, content, url, message })
            }
            ZError::Check { failures } => WitZError::Check(
                failures.into_iter().map(|f| WitCheckFailure { id: f.id, message: f.message }).collect(),
            ),
        }
    }
}

impl From<WitZError> for ZError {
    fn from(error: WitZError) -> ZError {
        match error {
            WitZError::General(message) => ZError::General { message },
            WitZError::Halted(message) => ZError::Halted { message },
            WitZError::ExpiredAuth(message) => ZError::ExpiredAuth { message },
            WitZError::RefreshAuth(message) => ZError::RefreshAuth { message },
            WitZError::Throttled(t) => ZError::Throttled { message: t.message, delay_seconds: t.delay_seconds },
            WitZError::Response(r) => ZError::Response {
                status: r.status,
                headers: r.headers,
                content: r.content,
                url: r.url,
                message: r.message,
            },
            WitZError::Check(failures) => ZError::Check {
                failures: failures.into_iter().map(|f| CheckFailure { id: f.id, message: f.message }).collect(),
            },
        }
    }
}
