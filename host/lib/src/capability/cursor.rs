//! z.cursor: a string per scope, kept by the host's [`CursorStore`](crate::CursorStore).

use std::time::SystemTime;

use crate::bindings::zapwasm::integration::cursor::Host;
use crate::error::ZError;
use crate::sandbox::{HostAbort, Sandbox};
use crate::state::{CURSOR_TTL, ScopeKey, expires_after};

impl Host for Sandbox {
    async fn get(&mut self) -> wasmtime::Result<Option<String>> {
        let call = self.call.clone();
        call.services.stores.cursors.cursor(&ScopeKey::of(&call.scope)).await.map_err(|e| state_failure(e.to_string()))
    }

    async fn set(&mut self, value: String) -> wasmtime::Result<()> {
        let call = self.call.clone();
        let expires = expires_after(SystemTime::now(), CURSOR_TTL);
        let cursors = &call.services.stores.cursors;
        cursors.set_cursor(&ScopeKey::of(&call.scope), value, expires).await.map_err(|e| state_failure(e.to_string()))
    }
}

/// A state backend that fails ends the call with a general error the
/// platform may replay: the integration did nothing wrong.
fn state_failure(message: String) -> wasmtime::Error {
    wasmtime::Error::new(HostAbort(ZError::general(format!("cursor storage failed: {message}")).into()))
}
