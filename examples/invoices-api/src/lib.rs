//! `invoices-api`: a small invoicing HTTP API, held in memory, that the
//! example invoices integration (`examples/invoices`) talks to in the
//! end-to-end tests.
//!
//! It has what an invoicing vendor's API has: OAuth 2 with PKCE (an
//! authorization endpoint that approves at once, as a signed-in user would,
//! and a token endpoint with refresh), bearer tokens that expire, customers
//! to list, search and create (a duplicate email is refused), invoices with
//! line items, and each invoice's PDF.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let api = invoices_api::start("127.0.0.1:0".parse().unwrap(), invoices_api::Config::default()).await?;
//! assert!(api.base_url.starts_with("http://127.0.0.1:"));
//! assert_eq!(api.state().customers().len(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! The parts: `oauth` (the authorization and token endpoints, the bearer
//! check every other route passes), `routes` (customers, invoices, PDFs),
//! `pdf` (a one-page PDF of an invoice), and this file: [`Config`],
//! [`start`], [`RunningApi`] and the state ([`ApiState`]).

mod oauth;
mod pdf;
mod routes;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the API starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The OAuth client's ID. Default `invoices-client`.
    pub client_id: String,
    /// The OAuth client's secret. Default `invoices-secret`.
    pub client_secret: String,
}

impl Default for Config {
    fn default() -> Self {
        Config { client_id: "invoices-client".into(), client_secret: "invoices-secret".into() }
    }
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    /// Its ID, from 1.
    pub id: u64,
    /// The name on invoices.
    pub name: String,
    /// The billing email, unique.
    pub email: String,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    /// What was sold.
    pub description: String,
    /// How many.
    pub quantity: u64,
    /// The price of one, in the invoice's currency's minor unit (cents).
    pub unit_price: u64,
    /// `quantity * unit_price`.
    pub amount: u64,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invoice {
    /// Its ID, from 1.
    pub id: u64,
    /// `INV-0001`, ...
    pub number: String,
    /// The customer billed.
    pub customer_id: u64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The due date as given (`YYYY-MM-DD`), if any.
    pub due_date: Option<String>,
    /// Its lines, in the order sent.
    pub line_items: Vec<LineItem>,
    /// The sum of the lines' amounts.
    pub total: u64,
}

/// The API's data and what it saw, shared by every handler; a test reads
/// it through [`RunningApi::state`].
#[derive(Debug, Clone)]
pub struct ApiState {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    customers: Vec<Customer>,
    invoices: Vec<Invoice>,
    /// The JSON bodies of `POST /invoices`, as they arrived.
    invoice_bodies: Vec<Value>,
    /// Authorization codes not yet exchanged.
    codes: HashMap<String, oauth::Grant>,
    /// Access tokens; `false` once expired.
    access_tokens: HashMap<String, bool>,
    /// Live refresh tokens.
    refresh_tokens: Vec<String>,
    /// The `grant_type` of each token request, in order.
    token_grants: Vec<String>,
    /// Requests refused for an expired or unknown token.
    unauthorized: usize,
    /// The counter unguessable values are made from.
    issued: u64,
}

impl ApiState {
    fn new(config: Config) -> ApiState {
        let customers = [
            (1, "Acme Ltd", "billing@acme.test"),
            (2, "Globex", "ap@globex.test"),
            (3, "Initech", "finance@initech.test"),
        ]
        .into_iter()
        .map(|(id, name, email)| Customer { id, name: name.into(), email: email.into() })
        .collect();
        let inner = Inner { customers, ..Inner::default() };
        ApiState { config: Arc::new(config), inner: Arc::new(Mutex::new(inner)) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The customers, oldest first.
    pub fn customers(&self) -> Vec<Customer> {
        self.lock().customers.clone()
    }

    /// The invoices, oldest first.
    pub fn invoices(&self) -> Vec<Invoice> {
        self.lock().invoices.clone()
    }

    /// The JSON bodies `POST /invoices` received, as they arrived.
    pub fn invoice_bodies(&self) -> Vec<Value> {
        self.lock().invoice_bodies.clone()
    }

    /// The `grant_type` of each request to the token endpoint, in order.
    pub fn token_grants(&self) -> Vec<String> {
        self.lock().token_grants.clone()
    }

    /// How many requests were refused with 401 for their token.
    pub fn unauthorized(&self) -> usize {
        self.lock().unauthorized
    }

    /// Expires every access token issued so far, as time would: requests
    /// with them get 401 until the client refreshes.
    pub fn expire_access_tokens(&self) {
        for live in self.lock().access_tokens.values_mut() {
            *live = false;
        }
    }
}

/// An API serving on a tokio task. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningApi {
    /// Where clients reach it, `http://127.0.0.1:PORT`.
    pub base_url: String,
    state: ApiState,
    server: JoinHandle<()>,
}

impl RunningApi {
    /// The API's state, for tests.
    pub fn state(&self) -> &ApiState {
        &self.state
    }
}

impl Drop for RunningApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Binds `addr` (port 0 picks a free one) and serves the API on a tokio task.
pub async fn start(addr: SocketAddr, config: Config) -> io::Result<RunningApi> {
    let state = ApiState::new(config);
    let listener = TcpListener::bind(addr).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let app = routes::router(state.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(RunningApi { base_url, state, server })
}
