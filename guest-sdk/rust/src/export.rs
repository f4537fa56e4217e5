//! Exporting an app as the component's `integration` interface:
//! [`export_app!`](crate::export_app) and the two calls it forwards to,
//! `definition()` and `run(method-path, bundle)`, and the component's
//! `initialize` export, which builds the app ahead of them.
//!
//! # The app, built once
//!
//! An instance builds the app once, on its first export call, and keeps it
//! for the rest of its life. `zapwasm build` goes further: it runs the
//! component's `initialize` export at build time, which builds the app,
//! and snapshots the instance's memory into the component, so every
//! instance starts with the app already built and a call pays nothing for
//! the size of the app. (`zapwasm build --no-snapshot`, or any plain
//! `cargo build`, gives a component that builds it on its first call; the
//! host runs both alike and never calls `initialize` itself.)
//!
//! What the app function does runs once, at build time, and what it
//! computed is in every instance. So it must describe the app and nothing
//! more: it must not read the clock, random numbers or the environment
//! (`z.env` and `std::env`), nor call anything of `z` (it has no `Z`
//! anyway); do that in the functions the app runs. The snapshot step
//! refuses a component whose app function reads any of them, naming what
//! it read. Hash maps are the exception it handles itself: the hash keys
//! every `HashMap` and JSON object takes are drawn by the standard library
//! once per instance, and the snapshot leaves them to be drawn afresh in
//! each instance (the maps the app function built keep the keys they were
//! built with).
//!
//! `run` parses the bundle, looks the method path up in the app (a
//! function, a shorthand request, or middleware, which never runs on its
//! own) without building its definition, runs it with a fresh [`Z`], and
//! returns the result as JSON text.
//! The items here are public only so the macro can reach them from the
//! author's crate.

use std::sync::Once;

use crate::Value;

use crate::Bundle;

use crate::app::{App, Handler};
use crate::bindings::zapwasm::integration::types::ZError as WitZError;
use crate::error::ZError;
use crate::lifecycle::{self, ImportedHttp, Transport};
use crate::shorthand;
use crate::z::{Invocation, Z};

/// Exports an app as the component's `zapwasm:integration/integration`
/// interface. Give it the function (or any expression callable with no
/// arguments) that builds the [`App`](crate::App); call it once, at the root
/// of a `cdylib` crate built for `wasm32-wasip2`.
///
/// ```ignore
/// use zapwasm_guest::prelude::*;
///
/// fn app() -> App {
///     App::new("1.0.0")
/// }
///
/// zapwasm_guest::export_app!(app);
/// ```
///
/// The app is built once per instance and kept (or once at build time,
/// when `zapwasm build` snapshots the component: see
/// [the app, built once](crate#the-app-built-once) for what the app
/// function must not do then). A panic is written to stderr as
/// `panicked at <location>: <message>` before the instance traps.
#[macro_export]
macro_rules! export_app {
    ($app:expr) => {
        /// The component's `integration` export, forwarding to the app.
        struct __ZapwasmIntegration;

        ::std::thread_local! {
            /// The app this instance keeps, built on first use.
            static __ZAPWASM_APP: ::std::cell::OnceCell<&'static $crate::App> =
                const { ::std::cell::OnceCell::new() };
        }

        /// The app this instance keeps; built now if it is not yet, its
        /// actions indexed when `indexed`.
        fn __zapwasm_keep(indexed: bool) -> &'static $crate::App {
            __ZAPWASM_APP.with(|kept| *kept.get_or_init(|| $crate::export::keep(($app)(), indexed)))
        }

        /// The app this instance keeps, built on first use.
        fn __zapwasm_app() -> &'static $crate::App {
            __zapwasm_keep(false)
        }

        impl $crate::bindings::Guest for __ZapwasmIntegration {
            fn initialize() {
                $crate::export::initialize(|| __zapwasm_keep(true));
            }
        }

        impl $crate::bindings::exports::zapwasm::integration::integration::Guest
            for __ZapwasmIntegration
        {
            fn definition() -> ::std::string::String {
                $crate::export::definition(__zapwasm_app())
            }

            fn run(
                method_path: ::std::string::String,
                bundle: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::string::String,
                $crate::bindings::zapwasm::integration::types::ZError,
            > {
                $crate::export::run(__zapwasm_app(), &method_path, &bundle)
            }
        }

        $crate::bindings::__export_integration!(__ZapwasmIntegration with_types_in $crate::bindings);
    };
}

/// Keeps an app for the rest of the instance's life (see
/// [`export_app!`](crate::export_app)). `indexed`: with its actions indexed
/// by key, so each call finds its method without walking them. The
/// snapshot (`initialize`) indexes them, once for every instance; an
/// instance that builds the app for its one call does not, as building the
/// index costs more than the one walk it saves.
pub fn keep(app: App, indexed: bool) -> &'static App {
    let kept = Box::leak(Box::new(app));
    if indexed {
        kept.index_actions();
    }
    kept
}

/// `initialize()`: builds the app (with `app`, which keeps it) before any
/// call, so a snapshot of the instance holds it.
pub fn initialize(app: fn() -> &'static App) {
    install_panic_hook();
    app();
}

/// `definition()`: the app's definition as JSON text.
pub fn definition(app: &App) -> String {
    install_panic_hook();
    app.definition().to_json()
}

/// `run(method-path, bundle)`: runs the method with the bundle through the
/// host's imports; the result as JSON text.
pub fn run(app: &'static App, method_path: &str, bundle: &str) -> Result<String, WitZError> {
    install_panic_hook();
    run_with(app, method_path, bundle, Box::new(ImportedHttp)).map_err(WitZError::from)
}

/// `run` with the HTTP transport given (the import, or a stand-in in tests).
pub(crate) fn run_with(
    app: &'static App,
    method_path: &str,
    bundle: &str,
    transport: Box<dyn Transport>,
) -> Result<String, ZError> {
    let bundle: Bundle =
        serde_json::from_str(bundle).map_err(|error| ZError::General(format!("Invalid bundle: {error}")))?;
    let z = Z::new(Invocation::of_kept(app, bundle, transport));
    let result = call(&z, method_path);
    // The SDK's writer (`value::text`): serde_json's text, strings scanned
    // by words; a `Value` always has a JSON text.
    let json = result.map(|value| {
        let json = value.to_json();
        discard(value);
        json
    });
    discard(z);
    json
}

/// Lets go of a call's values without freeing them one by one inside a
/// component: its instance serves this one call and the host drops its
/// whole memory afterwards, so walking the bundle and the result
/// to free each allocation is work nobody sees. (Nothing the SDK builds
/// does anything when dropped but free memory.) Elsewhere, in the SDK's
/// own tests, values are dropped as usual.
fn discard<T>(value: T) {
    if cfg!(target_family = "wasm") {
        std::mem::forget(value);
    } else {
        drop(value);
    }
}

/// Runs what `method_path` names.
pub(crate) fn call(z: &Z, method_path: &str) -> Result<Value, ZError> {
    match z.method(method_path) {
        Some(Handler::Function(perform)) => perform(z, z.bundle()),
        Some(Handler::Shorthand(request)) => lifecycle::perform_shorthand(z, request),
        Some(Handler::AuthorizeUrl(request)) => shorthand::authorize_url(z.bundle(), request),
        Some(Handler::Middleware) => {
            Err(ZError::General(format!("{method_path} is middleware: it runs inside z.request, not on its own")))
        }
        None => Err(ZError::General(format!("No method at {method_path} in this integration"))),
    }
}

/// Writes panics to stderr, which the host keeps as log lines: guests
/// build with `panic = "abort"`, so the message is all that is left.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
            match info.location() {
                Some(location) => eprintln!("panicked at {location}: {message}"),
                None => eprintln!("panicked: {message}"),
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use crate::json;

    use super::*;
    use crate::app::{Operation, Search, Trigger};
    use crate::bindings::zapwasm::integration::http as wire;
    use crate::fake_http::{FakeHttp, answer};
    use crate::request::Request;

    fn items(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
        Ok(json!([{"id": bundle.input("id").cloned().unwrap_or(Value::Null)}]))
    }

    fn by_path(request: &wire::Request) -> Result<wire::Response, ZError> {
        Ok(match request.url.rsplit('/').next().unwrap_or_default() {
            "json" => answer(request, 200, "application/json", r#"[{"id":1}]"#),
            "form" => answer(request, 200, "application/x-www-form-urlencoded", "id=1"),
            "text" => answer(request, 200, "text/plain", "hello"),
            _ => answer(request, 404, "application/json", r#"{"error":"nope"}"#),
        })
    }

    fn app() -> App {
        App::new("1.0.0")
            .trigger(Trigger::new("items", "Item").operation(Operation::polling().perform(items)))
            .search(
                Search::new("find", "Item").operation(
                    Operation::new().perform_request(
                        Request::get("https://{{bundle.authData.sub}}.api.test/{{bundle.inputData.kind}}")
                            .header("X-Key", "{{bundle.authData.key}}")
                            .param("q", "{{bundle.inputData.q}}")
                            .param("missing", "{{bundle.inputData.missing}}"),
                    ),
                ),
            )
            .before_request(|request, _z, _bundle| Ok(request))
    }

    fn run(method: &str, bundle: Value) -> (Result<String, ZError>, Vec<wire::Request>) {
        let (fake, sent) = FakeHttp::new(by_path);
        let result = run_with(keep(app(), true), method, &bundle.to_string(), Box::new(fake));
        let sent = sent.borrow().clone();
        (result, sent)
    }

    #[test]
    fn a_function_runs_with_the_bundle_and_returns_json_text() {
        let (result, _) = run("triggers.items.operation.perform", json!({"inputData": {"id": 3}}));
        assert_eq!(result.unwrap(), r#"[{"id":3}]"#);
    }

    #[test]
    fn unknown_paths_bad_bundles_and_middleware_are_general_errors() {
        let (result, _) = run("triggers.nope.operation.perform", json!({}));
        assert_eq!(
            result.unwrap_err(),
            ZError::general("No method at triggers.nope.operation.perform in this integration")
        );
        let (fake, _) = FakeHttp::new(by_path);
        let error = run_with(keep(app(), false), "triggers.items.operation.perform", "{", Box::new(fake)).unwrap_err();
        assert!(error.to_string().starts_with("Invalid bundle: "), "{error}");
        let (result, _) = run("beforeRequest.0", json!({}));
        assert!(result.unwrap_err().to_string().contains("is middleware"));
    }

    #[test]
    fn a_shorthand_request_is_rendered_sent_and_parsed() {
        let bundle = json!({
            "authData": {"sub": "acme", "key": "k"},
            "inputData": {"kind": "json", "q": "x y"},
        });
        let (result, sent) = run("searches.find.operation.perform", bundle);
        assert_eq!(result.unwrap(), r#"[{"id":1}]"#);
        let wire = &sent[0];
        assert_eq!(wire.url, "https://acme.api.test/json");
        assert!(wire.headers.contains(&("X-Key".to_string(), "k".to_string())));
        assert_eq!(
            wire.params,
            [
                ("q".to_string(), Some("x y".to_string())),
                ("missing".to_string(), Some("{{bundle.inputData.missing}}".to_string())),
            ]
        );
    }

    #[test]
    fn a_shorthand_answer_must_parse_and_succeed() {
        let bundle = |kind: &str| json!({"authData": {"sub": "a"}, "inputData": {"kind": kind}});
        let (result, _) = run("searches.find.operation.perform", bundle("form"));
        assert_eq!(result.unwrap(), r#"{"id":"1"}"#);
        let (result, _) = run("searches.find.operation.perform", bundle("text"));
        assert_eq!(
            result.unwrap_err(),
            ZError::general("Response needs to be JSON, form-urlencoded or parsed in middleware.")
        );
        let (result, _) = run("searches.find.operation.perform", bundle("other"));
        assert!(matches!(result, Err(ZError::Response { status: 404, .. })));
    }
}
