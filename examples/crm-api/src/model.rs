//! The records the API serves and keeps: contacts, hook subscriptions, export
//! jobs, and the requests and deliveries it recorded for tests.
//!
//! These are plain data. [`crate::state`] owns them behind a lock and hands
//! out copies; [`crate::routes`] serializes them as the JSON the spec names.

use serde::Serialize;

/// The event the API emits when a contact is created; the default event of a
/// hook subscription.
pub const CONTACT_CREATED: &str = "contact.created";

/// A contact: `{"id","first_name","last_name","email","company","created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// The primary key, assigned in creation order from 1.
    pub id: u64,
    /// The given name; empty when the creator sent none.
    pub first_name: String,
    /// The family name; empty when the creator sent none.
    pub last_name: String,
    /// The email, unique across contacts ignoring case, stored as sent.
    pub email: String,
    /// The company; `null` in JSON when the creator sent none.
    pub company: Option<String>,
    /// When the contact was created, RFC 3339 in UTC (`2026-01-01T00:00:00Z`).
    pub created_at: String,
}

/// A REST hook subscription: `{"id","url","event"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    /// The subscription's id, used to unsubscribe (`DELETE /hooks/{id}`).
    pub id: u64,
    /// Where the API POSTs the event.
    pub url: String,
    /// The event subscribed to; only [`CONTACT_CREATED`] is ever emitted.
    pub event: String,
}

/// An export job started by `POST /exports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    /// The job's id.
    pub id: u64,
    /// The contact exported.
    pub contact_id: u64,
    /// Where the API POSTs the result when the job is done.
    pub callback_url: String,
    /// Where the job is.
    pub status: ExportStatus,
}

/// The state of an [`Export`]; serialized in lower case (`"pending"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    /// Accepted; the result is not posted yet.
    Pending,
    /// Finished; the result has been (or is being) posted to the callback URL.
    Done,
}

impl ExportStatus {
    /// The status as it appears in JSON: `pending` or `done`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
        }
    }
}

/// Lets tests write `assert_eq!(export.status, "done")`.
impl PartialEq<&str> for ExportStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One request as the API received it, recorded before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method, upper case (`GET`).
    pub method: String,
    /// The path, still percent-encoded as sent (`/contacts/3`).
    pub path: String,
    /// The raw query string without the `?`, empty when there was none.
    pub query: String,
    /// The headers in the order received, names lower case; values that are
    /// not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
}

/// One outbound POST (a hook event or an export callback), recorded when it
/// finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The URL posted to.
    pub url: String,
    /// The status the receiver answered; 0 when no answer came (refused
    /// connection, timeout, invalid URL).
    pub status: u16,
    /// The JSON body the API sent.
    pub body: String,
}
