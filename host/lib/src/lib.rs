//! zapwasm-host: runs integrations compiled to WebAssembly components, each
//! call in a fresh sandbox.
//!
//! An integration (authentication, triggers, searches, creates: the model
//! of the Zapier platform) is a component built against `wit/zapwasm.wit`,
//! usually with the `zapwasm-guest` SDK. The embedder builds one [`Host`],
//! loads [`App`]s from files or bytes, and invokes method paths with a
//! [`Bundle`]:
//!
//! ```no_run
//! use zapwasm_host::{Bundle, Host, Invocation, Policy, Scope};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let host = Host::builder().policy(Policy::local_development()).cache_dir("/tmp/zapwasm-cache").build()?;
//! let app = host.load_file("crm.wasm").await?.with_env([("CRM_BASE_URL", "http://127.0.0.1:8787")]);
//! let mut bundle = Bundle::default();
//! bundle.auth_data.insert("api_key".into(), "demo-key".into());
//! let outcome = app
//!     .invoke(Invocation::new("triggers.new_contact.operation.perform", bundle, Scope::new("crm", "account-1")))
//!     .await;
//! match outcome.result {
//!     Ok(contacts) => println!("{contacts}"),
//!     Err(error) => eprintln!("{} ({})", error, error.kind()),
//! }
//! # Ok(()) }
//! ```
//!
//! Parts, by role: `runtime` narrows wasmtime to the one way zapwasm uses it;
//! `cache` keeps compiled components on disk; `host` loads components;
//! `app` is a loaded integration; `auth/refresh` refreshes stale
//! credentials and retries once; `invoke` runs one call in a fresh store
//! (dependencies point that way: `host` -> `app` -> `auth` -> `invoke` ->
//! `sandbox` -> `services`); `sandbox` is what that store
//! holds; `capability/*` implement the z imports (only `capability/http`
//! opens connections, under `egress`); `state/*` are the backends of state
//! that outlives a call; `record` and `censor` keep what a call logged,
//! without secrets; `checks` verifies each result against the platform's
//! rules ([`Outcome::checks`]).

mod app;
mod auth;
mod beside;
mod bindings;
mod budget;
mod bundle;
mod cache;
mod capability;
mod censor;
mod checks;
mod client;
mod definition;
mod definition_checks;
mod egress;
mod error;
mod flows;
#[cfg(test)]
use zapwasm_fuzzing as fuzzing;
mod host;
mod incoming;
mod input_fields;
mod invoke;
mod json;
mod policy;
mod pool;
mod random_id;
mod record;
mod runtime;
mod sandbox;
mod services;
mod state;

pub use app::{App, LoadInfo};
pub use auth::connect::{Authorization, ConnectError};
pub use bundle::{BufferedItem, BufferedMeta, Bundle, Meta, Scope};
pub use cache::CacheUse;
pub use capability::stash::StashError;
pub use censor::censored_texts;
pub use checks::primary_key;
pub use definition::{Definition, OperationKind, OperationSummary};
pub use definition_checks::{Finding, Severity, check_definition};
pub use egress::{Resolver, SystemResolver};
pub use error::{BoxError, CallError, CheckFailure, LimitKind, LoadError, ZError, with_causes};
pub use flows::FlowError;
pub use flows::buffer::{Buffered, BufferedResult, BufferedRun};
pub use flows::callbacks::ResumeError;
pub use flows::hooks::{Delivered, Subscribed};
pub use flows::hydration::HydrateError;
pub use flows::polling::Polled;
pub use host::{Host, HostBuilder};
pub use incoming::IncomingRequest;
pub use input_fields::{DATETIME_FORMS, FieldProblem, InputError, apply_input_fields};
pub use invoke::{Invocation, Outcome, Status};
pub use json::Json;
pub use policy::{HostPattern, Limits, Policy};
pub use pool::PoolConfig;
pub use record::{HttpExchange, Level, LogLine, Source};
#[cfg(feature = "state-conformance")]
pub use state::conformance;
pub use state::{
    CALLBACK_TTL, CURSOR_TTL, CallbackStore, Claim, CursorStore, DEDUPE_KEYS_KEPT, DedupeStore, Delivery, LocalStash,
    MemoryState, PendingCallback, ScopeKey, StashStore, StashedFile, StateError, Stores, Subscription,
    SubscriptionStore, expires_after,
};
pub use state::{STASH_URL_LIFETIME, StashedBody, StashedDownload};

/// The README's Rust snippets, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
