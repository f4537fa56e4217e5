//! Write zapwasm integrations in Rust.
//!
//! An integration is an app in the model of the Zapier platform
//! (authentication, triggers, searches, creates, middleware, hydrators),
//! built to a WebAssembly component for `wasm32-wasip2` that the zapwasm
//! host runs. An author writes three things:
//!
//! 1. functions `fn(&Z, &Bundle) -> Result<Value, ZError>`: they read the
//!    user's input and credentials from the [`Bundle`], call APIs with
//!    [`Z::request`], and return JSON;
//! 2. one function building the [`App`] that names them;
//! 3. one line, [`export_app!`], exporting it.
//!
//! ```no_run
//! use zapwasm_guest::prelude::*;
//!
//! /// `GET /contacts`: the newest contacts.
//! fn new_contacts(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
//!     let request = Request::get("https://api.example.com/contacts")
//!         .param("limit", bundle.meta.limit.max(1));
//!     Ok(z.request(request)?.data.unwrap_or_else(|| json!([])))
//! }
//!
//! /// `POST /contacts` with the user's input.
//! fn add_contact(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
//!     let request = Request::post("https://api.example.com/contacts")
//!         .json(Value::Object(bundle.input_data.clone()));
//!     z.request(request)?
//!         .data
//!         .ok_or_else(|| ZError::general("The API did not answer JSON"))
//! }
//!
//! /// beforeRequest: every request carries the account's key.
//! fn add_key(mut request: Request, _z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
//!     request.set_header("X-API-Key", bundle.auth_str("api_key").unwrap_or_default());
//!     Ok(request)
//! }
//!
//! fn app() -> App {
//!     App::new("1.0.0")
//!         .authentication(
//!             Authentication::new(AuthType::Custom)
//!                 .field(Field::new("api_key").label("API Key").required(true).kind("password"))
//!                 // A shorthand request: its `{{bundle.*}}` curlies are rendered,
//!                 // it goes through z.request (so `add_key` applies), and its
//!                 // parsed body is the result.
//!                 .test_request(
//!                     Request::get("https://api.example.com/me")
//!                         .param("account", "{{bundle.authData.account_id}}"),
//!                 )
//!                 .connection_label("{{bundle.inputData.name}}"),
//!         )
//!         .before_request(add_key)
//!         .trigger(
//!             Trigger::new("new_contact", "Contact")
//!                 .display("New Contact", "Triggers when a contact is added.")
//!                 .operation(
//!                     Operation::polling()
//!                         .perform(new_contacts)
//!                         .output_field(Field::new("id").kind("integer").primary(true))
//!                         .sample(json!({"id": 1, "email": "ada@example.com"})),
//!                 ),
//!         )
//!         .create(
//!             Create::new("add_contact", "Contact")
//!                 .display("Add Contact", "Adds a contact.")
//!                 .operation(
//!                     Operation::new()
//!                         .perform(add_contact)
//!                         .input_field(Field::new("email").label("Email").required(true))
//!                         .sample(json!({"id": 1, "email": "ada@example.com"})),
//!                 ),
//!         )
//! }
//!
//! zapwasm_guest::export_app!(app);
//! # fn main() {}
//! ```
//!
//! The crate is a `cdylib` depending on `zapwasm-guest`, built with
//! `cargo build --release --target wasm32-wasip2`; the `.wasm` it produces
//! is the component the host loads.
//!
//! # How a call runs
//!
//! The host calls the component's `run(method-path, bundle)`:
//! `triggers.new_contact.operation.perform` runs `new_contacts` with a fresh
//! [`Z`] and the parsed [`Bundle`]; the returned JSON goes back to the host,
//! and a [`ZError`] crosses typed. Method paths are JSON paths into the
//! definition ([`App::definition`]), where every function appears as
//! `{"$func": "<its method path>"}`.
//!
//! [`Z::request`] follows the reference platform's request lifecycle: the
//! SDK applies the defaults, body coercion, the app's requestTemplate and
//! beforeRequest middleware, the host adds auth, checks the egress policy
//! and makes the request, then the SDK runs afterResponse middleware and
//! `throw_for_status`. The SDK does no I/O except through the host's
//! imports.
//!
//! # The app, built once
//!
//! The function given to [`export_app!`] runs once per instance, not once
//! per call, and `zapwasm build` runs it at build time: the component's
//! `initialize` export builds the app, and the build snapshots the
//! instance's memory into the component, so every instance starts with the
//! app built (`--no-snapshot`, or a plain `cargo build`, leaves that to the
//! first call). What the app function computes is then shared by every
//! instance, so it must only describe the app: it must not read the clock,
//! random numbers or the environment (`z.env`, `std::env`), and it has no
//! [`Z`] to call. Read them in the functions the app runs. The snapshot
//! refuses an app function that reads any of them, naming what it read.
//! Hash maps and JSON objects are fine: the hash keys the standard library
//! draws for them are left out of the snapshot and drawn by each instance.
//!
//! # Memory
//!
//! A component built with this SDK allocates with the SDK's own `malloc`
//! (and `free`, `calloc`, `realloc`, ... under their C names, in place of
//! wasi-libc's dlmalloc, for Rust and C code alike): size-class free lists
//! made for an instance that serves one call and is then dropped whole, a
//! few dozen instructions an allocation. Memory freed during a call is
//! reused for blocks of the same size class; none is given back before the
//! call ends. Native builds (an integration's `cargo test`) keep the
//! platform's allocator.
//!
//! # Modules by role
//!
//! - [`app`](App): the [`App`] and the definition JSON, one file a noun
//!   beside it: authentication ([`Authentication`], [`AuthType`], the OAuth
//!   configs), operations ([`Trigger`], [`Search`], [`Create`],
//!   [`Operation`]) and fields ([`Field`]);
//! - [`Bundle`]: what a function receives (its shape is `zapwasm-rules`');
//! - [`Request`] and [`Response`] (with its [`Extensions`], what
//!   afterResponse middleware adds for the caller); `lifecycle`, the guest
//!   half of `z.request` between them;
//! - middleware: the app's [`BeforeRequest`] and [`AfterResponse`], run by
//!   the lifecycle;
//! - [`Z`]: HTTP, cursor, stash, console, callbacks, dehydration, hashing;
//! - [`ZError`]: the typed errors;
//! - [`value`]: the SDK's JSON, [`Value`] and [`Map`] with [`json!`],
//!   [`to_value`] and [`from_value`]: serde_json's API, objects kept as
//!   ordered vectors of entries (cheaper to parse and write than hash
//!   maps, which is most of a call's work);
//! - shorthand requests: `{{bundle.*}}` curlies in request objects;
//! - [`export_app!`]: the component's export, running what a method path
//!   names.
//!
//! The rules the host must agree on (param and form encoding, URLs with
//! params, curlies, method paths) are not here but in `zapwasm-rules`,
//! which the host uses too.
//!
//! The one recursion among them: an app's functions and middleware get a
//! [`Z`], a `Z` holds the app, and [`Z::request`] runs the app's middleware
//! (whose `Z` refuses `z.request`, so it goes one level deep).

#![warn(missing_docs)]

// The generated bindings name themselves `zapwasm_guest::bindings`, which
// must resolve inside this crate too.
extern crate self as zapwasm_guest;

mod app;
mod error;
#[doc(hidden)]
pub mod export;
mod extensions;
#[cfg(test)]
mod fake_http;
mod heap;
mod lifecycle;
mod middleware;
mod request;
mod response;
mod shorthand;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod value;
mod z;

/// The bindings of `wit/zapwasm.wit` (world `app-preinit`: the `app` world
/// and the `initialize` export), for [`export_app!`].
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/zapwasm.wit",
        world: "app-preinit",
        pub_export_macro: true,
        export_macro_name: "__export_integration",
        default_bindings_module: "zapwasm_guest::bindings",
        generate_all,
    });
}

pub use app::{
    App, AuthType, Authentication, Create, Field, OAuth1Config, OAuth2Config, Operation, Perform, Search,
    SearchOrCreate, Step, Text, Trigger,
};
pub use error::ZError;
pub use extensions::Extensions;
pub use middleware::{AfterResponse, BeforeRequest};
pub use request::{Body, Redirect, Request};
pub use response::Response;
pub use serde_json;
pub use value::{Map, Number, Value, from_slice, from_str, from_value, to_value};
pub use z::{Console, Cursor, Level, StashData, Z};
pub use zapwasm_rules::{BufferedMeta, Meta};

/// What a function receives as `bundle` (its shape is `zapwasm-rules`'),
/// on the SDK's [`Value`].
pub type Bundle = zapwasm_rules::BundleOf<Value>;

/// One run of a create in a performBuffer call (`bundle.buffer[]`).
pub type BufferedItem = zapwasm_rules::BufferedItemOf<Value>;

/// Everything an integration usually needs: `use zapwasm_guest::prelude::*;`.
pub mod prelude {
    pub use crate::{
        App, AuthType, Authentication, Body, Bundle, Create, Extensions, Field, Level, Map, Meta, OAuth1Config,
        OAuth2Config, Operation, Perform, Redirect, Request, Response, Search, SearchOrCreate, StashData, Step,
        Trigger, Value, Z, ZError, json,
    };
}
