//! z.console: leveled log lines into the call's record.

use crate::bindings::zapwasm::integration::console::{Host, Level as WitLevel};
use crate::error::{CallError, LimitKind};
use crate::record::{Level, Source};
use crate::sandbox::{HostAbort, Sandbox};

impl Host for Sandbox {
    async fn log(&mut self, level: WitLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        if self.call.record.log(level, Source::Console, &message) {
            return Ok(());
        }
        // The record ran into the log limit or the host's memory budget.
        let error = self.call.record.overflow().unwrap_or_else(|| CallError::Limit {
            limit: LimitKind::Log,
            value: format!("{} bytes", self.call.limits.log_bytes),
        });
        Err(wasmtime::Error::new(HostAbort(error)))
    }
}
