//! The one way zapwasm uses wasmtime: async, component model, a pooling
//! allocator, epoch deadlines.
//!
//! One [`Runtime`] per [`Host`](crate::Host): it owns the `Engine` (shared by
//! every app the host loads), the `Linker` with WASI and the z capabilities,
//! the thread that advances epochs, and the background pool where guests
//! that compute for long run ([`PoolConfig::background_threads`]). Nothing
//! outside this module and `sandbox.rs` configures wasmtime.

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
/// invocations on the same thread keep running: the tick is the longest
/// slice a guest holds a thread for, and how late past its deadline a
/// computing guest is interrupted. Finer ticks make deadlines sharper and
/// slices shorter, and cost the ticker thread a wake-up per tick (1,000 a
/// second here, a few microseconds each) and a computing guest a yield per
/// tick (a fiber switch and a trip through the scheduler, about 0.3% of its
/// time); the checks compiled into guest code cost the same either way. It
/// was 10 ms: four guests spinning on two cores then held each worker for
/// 10 ms at a time, and every step of their neighbours' calls queued behind
/// them.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The engine, linker and epoch ticker shared by every app of one host.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Sandbox>,
    /// Whether instances come from the pooling allocator (false when the
    /// address space for the pool could not be reserved).
    pub(crate) pooling: bool,
    /// Where guests that compute for long move to; `None` when
    /// [`PoolConfig::background_threads`] is 0.
    background: Option<Background>,
    /// Epoch ticks a guest computes on the caller's runtime before it moves
    /// ([`PoolConfig::background_after`]).
    pub(crate) background_after_ticks: u64,
    ticker_stop: Arc<AtomicBool>,
}

/// The background pool: a tokio runtime of its own, with no I/O or timer
/// driver (a moved guest awaits its requests and timers on the caller's
/// runtime, see `invoke`), its threads at the lowest OS priority
/// ([`lower_this_threads_priority`]).
struct Background(Option<tokio::runtime::Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        // The host may be dropped inside an async context, where waiting for
        // the threads is not allowed; a guest still running there is dropped
        // when its thread next looks.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
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

        let background =
            match pool.background_threads {
                0 => None,
                threads => Some(Background(Some(background_runtime(threads).map_err(|e| LoadError::Engine {
                    what: "cannot start the background threads",
                    source: e.into(),
                })?))),
            };
        let background_after_ticks =
            pool.background_after.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).clamp(1, u64::MAX as u128) as u64;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone())
            .map_err(|e| LoadError::Engine { what: "cannot start the epoch thread", source: e.into() })?;
        Ok(Runtime { engine, linker, pooling, background, background_after_ticks, ticker_stop })
    }

    /// The background pool's handle, if there is one.
    pub(crate) fn background(&self) -> Option<&tokio::runtime::Handle> {
        self.background.as_ref().and_then(|b| b.0.as_ref()).map(|runtime| runtime.handle())
    }
}

fn background_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("zapwasm-background")
        .on_thread_start(lower_this_threads_priority)
        .build()
}

/// Put the calling thread in the `SCHED_IDLE` class (Linux): it runs only
/// on a core nothing else of normal priority wants, and any such thread
/// that wakes up (a worker with an answer to read, the embedder's own work,
/// another process) preempts it at once. A lower nice value would not do
/// the second: a thread at nice 10 keeps its core until its scheduler slice
/// ends (milliseconds), and each wake-up of the I/O side would wait for
/// it. A guest past its deadline does not wait for an idle core to let go
/// of its pool slot: its caller drops it (`invoke::placed`).
///
/// Elsewhere, or if the call fails, the threads keep their priority: the
/// pool still keeps guests that compute off the caller's runtime.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: a zeroed sched_param is valid for SCHED_IDLE (its priority
    // must be 0); pid 0 is the calling thread.
    unsafe {
        let param: libc::sched_param = std::mem::zeroed();
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
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
    // The fiber stack keeps wasmtime's default size (2 MiB): only the pages
    // a call touches are resident (12 KiB for the bench guest's one-GET
    // call while it waits), and 512 KiB measured the same memory per
    // waiting call, with less room for a guest's deep recursion.
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
