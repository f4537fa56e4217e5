//! The API's memory: contacts, hooks and exports, the keys it accepts, and
//! what it recorded (requests received, deliveries made).
//!
//! [`ApiState`] is a cheap handle (an `Arc`) shared by the handlers in
//! [`crate::routes`], the middleware in [`crate::recording`] and
//! [`crate::auth`], and the background tasks of [`crate::delivery`]. Tests
//! get it from [`crate::RunningApi::state`] and see only read-only copies.
//! Every lock is held for a few map operations and never across an `.await`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::Config;
use crate::delivery::Outbox;
use crate::model::{CONTACT_CREATED, Contact, Export, ExportStatus, Hook, SeenRequest};
use crate::timestamp;

/// The shared state of a running API; clones share it.
///
/// The public methods are snapshots for tests: each returns a copy taken
/// under the lock, so what a test holds never changes under it.
#[derive(Debug, Clone)]
pub struct ApiState {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    api_keys: Vec<String>,
    callback_delay: Duration,
    store: Mutex<Store>,
    seen: Mutex<Vec<SeenRequest>>,
    outbox: Outbox,
}

/// The records, with the next id of each kind (ids are never reused).
#[derive(Debug, Default)]
struct Store {
    contacts: BTreeMap<u64, Contact>,
    next_contact_id: u64,
    hooks: BTreeMap<u64, Hook>,
    next_hook_id: u64,
    exports: BTreeMap<u64, Export>,
    next_export_id: u64,
}

/// The fields of a contact to create, already validated.
#[derive(Debug, Clone)]
pub(crate) struct NewContact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: Option<String>,
}

/// A contact with this email (ignoring case) exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DuplicateEmail;

/// One page of contacts, newest first.
#[derive(Debug, Clone)]
pub(crate) struct ContactPage {
    pub contacts: Vec<Contact>,
    /// Whether contacts older than the last one on this page exist.
    pub more: bool,
}

const SEED_FIRST_NAMES: [&str; 12] =
    ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Donald", "Margaret", "Linus", "Radia", "Ken", "Hedy"];
// 13 family names against 12 given names: the pair repeats only after 156 contacts.
const SEED_LAST_NAMES: [&str; 13] = [
    "Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Knuth", "Hamilton", "Torvalds", "Perlman",
    "Thompson", "Lamarr", "Ritchie",
];
const SEED_COMPANIES: [&str; 7] =
    ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"];

/// Seeded contact `id` (from 1): deterministic names, `contact{id}@example.test`,
/// created an hour apart from 2026-01-01T00:00:00Z.
fn seed_contact(id: u64) -> Contact {
    let index = (id - 1) as usize;
    Contact {
        id,
        first_name: SEED_FIRST_NAMES[index % SEED_FIRST_NAMES.len()].to_string(),
        last_name: SEED_LAST_NAMES[index % SEED_LAST_NAMES.len()].to_string(),
        email: format!("contact{id}@example.test"),
        company: Some(SEED_COMPANIES[index % SEED_COMPANIES.len()].to_string()),
        created_at: timestamp::rfc3339(timestamp::SEED_EPOCH + (id - 1) * 3600),
    }
}

/// A poisoned lock only means a panic elsewhere; the data is still usable
/// and the API must keep answering.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ApiState {
    /// A fresh state: the seeded contacts, no hooks or exports, nothing seen.
    pub(crate) fn new(config: &Config, outbox: Outbox) -> Self {
        let mut store = Store { next_contact_id: 1, next_hook_id: 1, next_export_id: 1, ..Store::default() };
        for id in 1..=config.seed_contacts as u64 {
            store.contacts.insert(id, seed_contact(id));
        }
        store.next_contact_id = config.seed_contacts as u64 + 1;
        let shared = Shared {
            api_keys: config.api_keys.clone(),
            callback_delay: config.callback_delay,
            store: Mutex::new(store),
            seen: Mutex::new(Vec::new()),
            outbox,
        };
        Self { shared: Arc::new(shared) }
    }

    /// Every contact, in id order (oldest first).
    pub fn contacts(&self) -> Vec<Contact> {
        lock(&self.shared.store).contacts.values().cloned().collect()
    }

    /// Every hook subscription, in id order.
    pub fn hooks(&self) -> Vec<Hook> {
        lock(&self.shared.store).hooks.values().cloned().collect()
    }

    /// Every export job, in id order.
    pub fn exports(&self) -> Vec<Export> {
        lock(&self.shared.store).exports.values().cloned().collect()
    }

    /// Every request received, in arrival order, including the ones refused
    /// for a missing or wrong key.
    pub fn requests_seen(&self) -> Vec<SeenRequest> {
        lock(&self.shared.seen).clone()
    }

    /// Every finished outbound POST (hook events and export callbacks) as
    /// `(url, status, body)`, in the order they finished: `status` is what
    /// the receiver answered, or 0 when no answer came; `body` is the JSON
    /// the API sent.
    pub fn callbacks_delivered(&self) -> Vec<(String, u16, String)> {
        self.shared.outbox.delivered().into_iter().map(|d| (d.url, d.status, d.body)).collect()
    }

    pub(crate) fn accepts_key(&self, key: &str) -> bool {
        self.shared.api_keys.iter().any(|known| known == key)
    }

    pub(crate) fn record_request(&self, request: SeenRequest) {
        lock(&self.shared.seen).push(request);
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.shared.outbox
    }

    pub(crate) fn callback_delay(&self) -> Duration {
        self.shared.callback_delay
    }

    pub(crate) fn contact(&self, id: u64) -> Option<Contact> {
        lock(&self.shared.store).contacts.get(&id).cloned()
    }

    /// Up to `limit` contacts with ids below `before` (all when `None`),
    /// newest first. Paging by id keeps pages stable while contacts are
    /// added: new ones get higher ids and land before the first page.
    pub(crate) fn contacts_page(&self, before: Option<u64>, limit: usize) -> ContactPage {
        let store = lock(&self.shared.store);
        let older = store.contacts.range(..before.unwrap_or(u64::MAX));
        let contacts: Vec<Contact> = older.rev().take(limit).map(|(_, contact)| contact.clone()).collect();
        let more = contacts.last().is_some_and(|last| store.contacts.range(..last.id).next().is_some());
        ContactPage { contacts, more }
    }

    /// The contacts whose email equals `email` ignoring case.
    pub(crate) fn contacts_with_email(&self, email: &str) -> Vec<Contact> {
        let store = lock(&self.shared.store);
        store.contacts.values().filter(|contact| contact.email.eq_ignore_ascii_case(email)).cloned().collect()
    }

    /// Adds a contact unless its email is taken; the check and the insert
    /// happen under one lock so two concurrent creates cannot both succeed.
    pub(crate) fn create_contact(&self, new: NewContact) -> Result<Contact, DuplicateEmail> {
        let mut store = lock(&self.shared.store);
        if store.contacts.values().any(|contact| contact.email.eq_ignore_ascii_case(&new.email)) {
            return Err(DuplicateEmail);
        }
        let id = store.next_contact_id;
        store.next_contact_id += 1;
        let contact = Contact {
            id,
            first_name: new.first_name,
            last_name: new.last_name,
            email: new.email,
            company: new.company,
            created_at: timestamp::now(),
        };
        store.contacts.insert(id, contact.clone());
        Ok(contact)
    }

    pub(crate) fn add_hook(&self, url: String, event: String) -> Hook {
        let mut store = lock(&self.shared.store);
        let id = store.next_hook_id;
        store.next_hook_id += 1;
        let hook = Hook { id, url, event };
        store.hooks.insert(id, hook.clone());
        hook
    }

    /// Whether a hook with this id existed.
    pub(crate) fn remove_hook(&self, id: u64) -> bool {
        lock(&self.shared.store).hooks.remove(&id).is_some()
    }

    /// The hooks subscribed to [`CONTACT_CREATED`].
    pub(crate) fn contact_created_hooks(&self) -> Vec<Hook> {
        lock(&self.shared.store).hooks.values().filter(|hook| hook.event == CONTACT_CREATED).cloned().collect()
    }

    /// A pending export of `contact`.
    pub(crate) fn add_export(&self, contact: &Contact, callback_url: String) -> Export {
        let mut store = lock(&self.shared.store);
        let id = store.next_export_id;
        store.next_export_id += 1;
        let export = Export { id, contact_id: contact.id, callback_url, status: ExportStatus::Pending };
        store.exports.insert(id, export.clone());
        export
    }

    pub(crate) fn finish_export(&self, id: u64) {
        if let Some(export) = lock(&self.shared.store).exports.get_mut(&id) {
            export.status = ExportStatus::Done;
        }
    }
}
