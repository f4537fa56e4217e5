//! z.dehydrate: a pointer the integration made, sealed by the host (signed
//! when it has a hydration secret), so only the integration's own pointers
//! hydrate; text that merely passes through a result is never signed.

use crate::bindings::WitZError;
use crate::bindings::zapwasm::integration::hydration::Host;
use crate::flows::hydration;
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    async fn seal(&mut self, pointer: String) -> wasmtime::Result<Result<String, WitZError>> {
        let call = &self.call;
        let key = call.services.signing.hydration.as_deref();
        Ok(hydration::seal(&pointer, &call.definition, key, &call.scope.integration).map_err(WitZError::General))
    }
}
