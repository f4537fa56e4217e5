//! z.generateCallbackUrl: a URL unique to this invocation.

use crate::bindings::WitZError;
use crate::bindings::zapwasm::integration::callback::Host;
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    async fn generate_url(&mut self) -> wasmtime::Result<Result<String, WitZError>> {
        let Some(base) = &self.call.services.callback_base_url else {
            return Ok(Err(WitZError::General(
                "this host has no callback URL configured; set HostBuilder::callback_base_url (or --callback-base-url)"
                    .into(),
            )));
        };
        let url = format!("{}/{}", base.trim_end_matches('/'), self.call.invocation_id());
        self.callback_url = Some(url.clone());
        Ok(Ok(url))
    }
}
