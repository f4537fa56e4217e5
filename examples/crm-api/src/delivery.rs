//! Outbound POSTs: `contact.created` events to hook subscribers and export
//! results to callback URLs.
//!
//! This is the only module that opens connections. Deliveries are
//! fire-and-forget tokio tasks started by [`crate::routes`]; each one is
//! recorded in the [`Outbox`] when it finishes, failed or not, and none can
//! panic. The client ignores proxy settings (tests point hooks at 127.0.0.1,
//! which a proxy from the environment would swallow) and follows no
//! redirects, so a POST goes to exactly the URL it was given.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::model::{CONTACT_CREATED, Contact, Delivery, Export, ExportStatus};
use crate::state::ApiState;
use crate::vcard;

/// How long a receiver has to answer. Long enough for a slow test machine,
/// short enough that a dead receiver does not leave tasks behind for long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for deliveries, and the record of what it delivered.
#[derive(Debug)]
pub(crate) struct Outbox {
    client: reqwest::Client,
    delivered: Mutex<Vec<Delivery>>,
}

impl Outbox {
    /// Fails only when the TLS backend cannot start.
    pub(crate) fn new() -> io::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .user_agent(concat!("crm-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(io::Error::other)?;
        Ok(Self { client, delivered: Mutex::new(Vec::new()) })
    }

    /// Every delivery so far, in the order they finished.
    pub(crate) fn delivered(&self) -> Vec<Delivery> {
        self.delivered.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// POSTs `body` as JSON to `url` and records the outcome: the status the
    /// receiver answered, or 0 when there was no answer.
    async fn post_json(&self, url: &str, body: String) {
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let status = match sent {
            // Read the answer to the end so the connection can be reused.
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                status
            }
            Err(_) => 0,
        };
        let delivery = Delivery { url: url.to_string(), status, body };
        self.delivered.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(delivery);
    }
}

/// POSTs `{"event":"contact.created","contact":..}` to every hook subscribed
/// to `contact.created`, each in its own task.
pub(crate) fn announce_contact_created(state: &ApiState, contact: &Contact) {
    let body = json!({"event": CONTACT_CREATED, "contact": contact}).to_string();
    for hook in state.contact_created_hooks() {
        let state = state.clone();
        let body = body.clone();
        tokio::spawn(async move { state.outbox().post_json(&hook.url, body).await });
    }
}

/// After the configured callback delay, marks `export` done and POSTs
/// `{"export_id","status":"done","contact_id","lines"}` to its callback URL,
/// `lines` being the number of lines of the contact's vCard.
pub(crate) fn finish_export_later(state: &ApiState, export: Export, contact: &Contact) {
    let lines = vcard::render(contact).lines().count();
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(state.callback_delay()).await;
        state.finish_export(export.id);
        let body = json!({
            "export_id": export.id,
            "status": ExportStatus::Done.as_str(),
            "contact_id": export.contact_id,
            "lines": lines,
        })
        .to_string();
        state.outbox().post_json(&export.callback_url, body).await;
    });
}
