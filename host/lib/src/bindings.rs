//! Host bindings generated from `wit/zapwasm.wit`.
//!
//! Kept in their own module: the WIT `z-error` type and the world's import
//! traits would otherwise collide with the embedding API's names. Nothing
//! here is public; `error.rs` converts the WIT types into the public ones.

wasmtime::component::bindgen!({
    world: "app",
    path: "../../wit/zapwasm.wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::{ComponentExportIndex, Func, Instance, InstancePre, TypedFunc};
use wasmtime::{AsContextMut, Result};

pub(crate) use zapwasm::integration::types::{
    CheckFailure as WitCheckFailure, ResponseError as WitResponseError, ThrottledError as WitThrottled,
    ZError as WitZError,
};

use crate::error::{CheckFailure, ZError};
use crate::sandbox::Sandbox;

/// An instance's `run(method-path, bundle) -> result<string, z-error>`.
pub(crate) type RunFunc<'a> = TypedFunc<(&'a str, &'a str), (Result<String, WitZError>,)>;

/// A linked component, ready to instantiate, and where its two exports are.
///
/// The generated bindings look both exports up and check their types on
/// every instance; a component's export types never change, so the first
/// instance checks them and every later one takes them by index.
#[derive(Clone)]
pub(crate) struct Exports {
    pre: InstancePre<Sandbox>,
    definition: ComponentExportIndex,
    run: ComponentExportIndex,
    checked: Arc<AtomicBool>,
}

impl Exports {
    /// The exports of a component that implements the `app` world
    /// (`AppPre::new` has checked it does).
    pub(crate) fn new(pre: &AppPre<Sandbox>) -> Result<Exports> {
        let pre = pre.instance_pre().clone();
        let component = pre.component();
        let interface = component
            .get_export_index(None, "zapwasm:integration/integration@0.1.0")
            .ok_or_else(|| wasmtime::format_err!("no exported instance `zapwasm:integration/integration@0.1.0`"))?;
        let function = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| wasmtime::format_err!("`zapwasm:integration/integration` exports no `{name}`"))
        };
        let (definition, run) = (function("definition")?, function("run")?);
        Ok(Exports { pre, definition, run, checked: Arc::default() })
    }

    /// A fresh instance in `store`.
    pub(crate) async fn instantiate(&self, store: &mut wasmtime::Store<Sandbox>) -> Result<Instance> {
        self.pre.instantiate_async(store).await
    }

    /// `definition()` of `instance`.
    pub(crate) fn definition(
        &self,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<TypedFunc<(), (String,)>> {
        self.check(&mut store, instance)?;
        let func = self.func(store, instance, &self.definition)?;
        // SAFETY: `check` has checked the type of this export.
        Ok(unsafe { TypedFunc::new_unchecked(func) })
    }

    /// `run(method-path, bundle)` of `instance`.
    pub(crate) fn run<'a>(&self, mut store: impl AsContextMut, instance: &Instance) -> Result<RunFunc<'a>> {
        self.check(&mut store, instance)?;
        let func = self.func(store, instance, &self.run)?;
        // SAFETY: `check` has checked the type of this export.
        Ok(unsafe { TypedFunc::new_unchecked(func) })
    }

    /// Checks both exports' types, on the component's first instance.
    fn check(&self, mut store: impl AsContextMut, instance: &Instance) -> Result<()> {
        if !self.checked.load(Ordering::Relaxed) {
            instance.get_typed_func::<(), (String,)>(&mut store, &self.definition)?;
            instance.get_typed_func::<(&str, &str), (Result<String, WitZError>,)>(&mut store, &self.run)?;
            self.checked.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn func(&self, store: impl AsContextMut, instance: &Instance, index: &ComponentExportIndex) -> Result<Func> {
        instance
            .get_func(store, index)
            .ok_or_else(|| wasmtime::format_err!("the component lost an export it had when loaded"))
    }
}

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
