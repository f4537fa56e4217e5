//! z.console: leveled log lines into the call's record.

use crate::bindings::zapwasm::integration::console::{Host, Level as WitLevel};
use crate::record::{Level, Source};
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    async fn log(&mut self, level: WitLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        self.call.record.log(level, Source::Console, &message);
        Ok(())
    }
}
