//! The errors an integration raises: the reference platform's `z.errors`,
//! typed, and their conversion to and from the WIT `z-error` the host sees.
//!
//! Every fallible SDK call returns [`ZError`], so an author's functions use
//! `?` throughout and the host receives the kind it acts on (retry, halt, ask
//! the user to reconnect, refresh, back off). [`crate::response`] raises
//! [`ZError::Response`] from `throw_for_status`; the host raises the others
//! it owns (throttling, stale auth, policy denials) through the imports.

use std::fmt;

use zapwasm_rules::curly::InterpolationError;

use crate::bindings::zapwasm::integration::types as wit;

/// An error an integration raises, as the platform acts on it.
///
/// The variants are the reference platform's `z.errors`:
/// ```
/// use zapwasm_guest::ZError;
///
/// fn needs_email(email: Option<&str>) -> Result<&str, ZError> {
///     email.ok_or_else(|| ZError::halted("Email is required"))
/// }
/// assert_eq!(needs_email(None).unwrap_err().to_string(), "Email is required");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZError {
    /// `z.errors.Error`: stops the operation; the platform may replay it.
    General(String),
    /// `z.errors.HaltedError`: stops the operation but never turns the automation off.
    Halted(String),
    /// `z.errors.ExpiredAuthError`: the user must reconnect the account by hand.
    ExpiredAuth(String),
    /// `z.errors.RefreshAuthError`: refresh the credentials (oauth2, session) and retry.
    RefreshAuth(String),
    /// `z.errors.ThrottledError`: retry the operation after a delay.
    Throttled {
        /// What happened.
        message: String,
        /// Seconds to wait before retrying, when known.
        delay_seconds: Option<u64>,
    },
    /// What [`crate::Response::throw_for_status`] raises for a 4xx or 5xx answer.
    Response {
        /// The HTTP status, 400-599.
        status: u16,
        /// The response headers, names lower-case.
        headers: Vec<(String, String)>,
        /// The response body as text (`None` for a raw response).
        content: Option<String>,
        /// The request's URL, params included.
        url: String,
        /// The reference platform's message: JSON naming status, headers, content and URL.
        message: String,
    },
    /// Result or definition checks that failed: `(check ID, message)` pairs.
    Check(Vec<(String, String)>),
}

impl ZError {
    /// A general error (`z.errors.Error`).
    pub fn general(message: impl Into<String>) -> ZError {
        ZError::General(message.into())
    }

    /// A halted error (`z.errors.HaltedError`).
    pub fn halted(message: impl Into<String>) -> ZError {
        ZError::Halted(message.into())
    }

    /// An expired-auth error (`z.errors.ExpiredAuthError`).
    pub fn expired_auth(message: impl Into<String>) -> ZError {
        ZError::ExpiredAuth(message.into())
    }

    /// A refresh-auth error (`z.errors.RefreshAuthError`).
    pub fn refresh_auth(message: impl Into<String>) -> ZError {
        ZError::RefreshAuth(message.into())
    }

    /// A throttled error (`z.errors.ThrottledError`), retried after `delay_seconds` when given.
    pub fn throttled(message: impl Into<String>, delay_seconds: Option<u64>) -> ZError {
        ZError::Throttled { message: message.into(), delay_seconds }
    }

    /// The error's message; for check failures, each `id: message` joined by `; `.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// What `z.JSON.parse` raises for text that is not JSON: the message quotes
/// the first 100 characters.
pub(crate) fn json_parse_error(text: &str) -> ZError {
    let preview: String = text.chars().take(100).collect();
    ZError::General(format!("Error parsing response. We got: \"{preview}\""))
}

impl fmt::Display for ZError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZError::General(message)
            | ZError::Halted(message)
            | ZError::ExpiredAuth(message)
            | ZError::RefreshAuth(message)
            | ZError::Throttled { message, .. }
            | ZError::Response { message, .. } => f.write_str(message),
            ZError::Check(failures) => {
                for (i, (id, message)) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{id}: {message}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ZError {}

/// A shorthand request's curly that cannot be rendered stops the call as
/// the reference platform does: a general error with the same message.
impl From<InterpolationError> for ZError {
    fn from(error: InterpolationError) -> ZError {
        ZError::General(error.to_string())
    }
}

impl From<ZError> for wit::ZError {
    fn from(error: ZError) -> wit::ZError {
        match error {
            ZError::General(message) => wit::ZError::General(message),
            ZError::Halted(message) => wit::ZError::Halted(message),
            ZError::ExpiredAuth(message) => wit::ZError::ExpiredAuth(message),
            ZError::RefreshAuth(message) => wit::ZError::RefreshAuth(message),
            ZError::Throttled { message, delay_seconds } => {
                wit::ZError::Throttled(wit::ThrottledError { message, delay_seconds })
            }
            ZError::Response { status, headers, content, url, message } => {
                wit::ZError::Response(wit::ResponseError { status, headers, content, url, message })
            }
            ZError::Check(failures) => wit::ZError::Check(
                failures.into_iter().map(|(id, message)| wit::CheckFailure { id, message }).collect(),
            ),
        }
    }
}

impl From<wit::ZError> for ZError {
    fn from(error: wit::ZError) -> ZError {
        match error {
            wit::ZError::General(message) => ZError::General(message),
            wit::ZError::Halted(message) => ZError::Halted(message),
            wit::ZError::ExpiredAuth(message) => ZError::ExpiredAuth(message),
            wit::ZError::RefreshAuth(message) => ZError::RefreshAuth(message),
            wit::ZError::Throttled(throttled) => {
                ZError::Throttled { message: throttled.message, delay_seconds: throttled.delay_seconds }
            }
            wit::ZError::Response(response) => ZError::Response {
                status: response.status,
                headers: response.headers,
                content: response.content,
                url: response.url,
                message: response.message,
            },
            wit::ZError::Check(failures) => {
                ZError::Check(failures.into_iter().map(|failure| (failure.id, failure.message)).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_the_wit_type() {
        let errors = [
            ZError::general("g"),
            ZError::halted("h"),
            ZError::expired_auth("e"),
            ZError::refresh_auth("r"),
            ZError::throttled("t", Some(7)),
            ZError::Response {
                status: 404,
                headers: vec![("content-type".into(), "text/plain".into())],
                content: Some("nope".into()),
                url: "https://api.test/x".into(),
                message: "{}".into(),
            },
            ZError::Check(vec![("D001".into(), "bad".into())]),
        ];
        for error in errors {
            let back = ZError::from(wit::ZError::from(error.clone()));
            assert_eq!(back, error);
        }
    }

    #[test]
    fn a_parse_error_quotes_the_first_hundred_characters() {
        let text = "x".repeat(150);
        assert_eq!(
            json_parse_error(&text).to_string(),
            format!("Error parsing response. We got: \"{}\"", "x".repeat(100))
        );
    }

    #[test]
    fn check_failures_display_with_their_ids() {
        let error = ZError::Check(vec![("D001".into(), "first".into()), ("D002".into(), "second".into())]);
        assert_eq!(error.to_string(), "D001: first; D002: second");
    }
}
