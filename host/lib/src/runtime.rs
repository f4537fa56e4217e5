//! The one way zapwasm uses wasmtime: async, component model, a pooling
//! allocator, epoch deadlines.
//!
//! One [`Runtime`] per [`Host`](crate::Host): it owns the `Engine` (shared by
//! every app the host loads), the `Linker` with WASI and the z capabilities,
//! and the thread that advances epochs. Nothing outside this module and
//! `sandbox.rs` configures wasmtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::error::LoadError;
use crate::pool::PoolConfig;
use crate::sandbox::Sandbox;

/// How often the epoch advances. The invocation deadline is checked at each
/// tick, and a CPU-bound guest yields to the executor at each tick so other
/// invocations on the same thread keep running. Finer ticks make deadlines
/// sharper and cost a little more in the ticker thread; the checks compiled
/// into guest code cost the same either way.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, linker and epoch ticker shared by every app of one host.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Sandbox>,
    /// Whether instances come from the pooling allocator (false when the
    /// address space for the pool could not be reserved).
    pub(crate) pooling: bool,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    pub(crate) fn new(pool: &PoolConfig) -> Result<Runtime, LoadError> {
        let (engine, pooling) = match Engine::new(&engine_config(Some(pool))) {
            Ok(engine) => (engine, true),
            // The pool reserves its address space up front; on a machine with
            // a small virtual address limit (ulimit -v, some containers) that
            // fails, and on-demand allocation still works, only slower.
            Err(_) => {
                let engine = Engine::new(&engine_config(None))
                    .map_err(|e| LoadError::Engine { what: "cannot create the engine", source: e.into() })?;
                (engine, false)
            }
        };
        let mut linker = Linker::new(&engine);
        let link_error =
            |e: wasmtime::Error| LoadError::Engine { what: "cannot link the host's imports", source: e.into() };
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
        bindings::App::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s).map_err(link_error)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone())
            .map_err(|e| LoadError::Engine { what: "cannot start the epoch thread", source: e.into() })?;
        Ok(Runtime { engine, linker, pooling, ticker_stop })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(pool: Option<&PoolConfig>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if let Some(pool) = pool {
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(pool.instances)
            .total_core_instances(pool.instances.saturating_mul(pool.core_instances_per_component))
            .max_core_instances_per_component(pool.core_instances_per_component)
            .total_memories(pool.instances.saturating_mul(pool.memories_per_component))
            .max_memories_per_component(pool.memories_per_component)
            .total_tables(pool.instances.saturating_mul(pool.tables_per_component))
            .max_tables_per_component(pool.tables_per_component)
            .total_stacks(pool.instances)
            .max_memory_size(pool.max_memory_bytes)
            // Keeping the first MiB of each slot's memory and tables resident
            // avoids a madvise + page faults on every fresh instance; without it
            // the pool gets slower with two threads than with one.
            .linear_memory_keep_resident(pool.keep_resident_bytes)
            .table_keep_resident(pool.keep_resident_bytes)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    config
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("zapwasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(drop)
}
