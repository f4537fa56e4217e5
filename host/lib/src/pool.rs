//! Sizing of the pooling instance allocator, and the background pool where
//! guests that compute run.

use std::time::Duration;

/// How many instances the pooling allocator holds, and how big each may be.
///
/// The pool reserves virtual address space for every slot when the host
/// starts (`instances` x (`max_memory_bytes` rounded up to the engine's memory
/// reservation, 4 GiB on 64-bit hosts, plus guard pages)), and in exchange a
/// fresh instance costs about 6 us instead of 17 us, with no mmap per call. When
/// the reservation fails the host falls back to on-demand allocation.
///
/// `instances` also bounds how many invocations run at once: a call that
/// finds every slot taken waits for one (see [`HostBuilder::pool`](crate::HostBuilder::pool)).
///
/// # Memory under sustained load
///
/// A slot that served a call keeps, until its next call, the pages that
/// call dirtied in the first `keep_resident_bytes` of each linear memory
/// and table (the next call finds them zeroed in place, without page
/// faults); the pages above that are given back to the OS when the call
/// ends, and so are the fiber stacks. A new call takes the free slot its
/// component used most recently; when its component has none, a slot never
/// used before while fewer than 100 used slots are free (wasmtime's
/// `max_unused_warm_slots`), else the least recently used free one. So
/// the pool's share of the resident set is about
///
/// > slots used so far x (what one call dirties of each memory, up to
/// > `keep_resident_bytes`, plus its tables)
///
/// where the slots used so far follow the most calls that were alive at
/// once. wasmtime splits the slots in one shard per core (up to 16), and a
/// thread takes slots from its own shard first, so the count is the sum of
/// each shard's peak, which reaches new highs now and then as calls spread
/// unevenly over the threads: the resident set climbs in steps and levels
/// off (after 100,000-200,000 calls at 256 at once, BENCHMARKS.md, "Fair
/// under load"). It cannot pass `instances` x `memories_per_component` x
/// `keep_resident_bytes` (1,000 x 2 x 1 MiB by default), plus the tables.
///
/// To size it: the plateau is about the most calls you run at once times
/// what one call of your guests dirties (measure a plateau, or read the
/// guests' memory use; the bench guest's one-GET call dirties about 140
/// KiB, so 256 at once keep about 35 MiB). Cap it with
/// `instances` (calls beyond it wait for a slot, which also caps the calls
/// at once) or `keep_resident_bytes` (the pages above it are faulted in and
/// given back on every call, a few microseconds each).
///
/// # Memory per waiting call
///
/// A call waiting on an import (a request in flight) holds, besides its
/// share of the host's heap (its store, instance, WASI context, records,
/// the connection): the pages its guest touched of its fiber stack and of
/// its linear memory, and its tables' touched pages. Only touched pages are
/// resident, so the sizes reserved here (`max_memory_bytes`, the fiber
/// stack's 2 MiB, wasmtime's default) cost address space, not memory, and
/// `keep_resident_bytes` acts between calls, not during one: in the
/// benchmark's `in_flight` (every call of a run held waiting at once), a
/// 512 KiB fiber stack instead of 2 MiB, and `keep_resident_bytes` at 64
/// KiB instead of 1 MiB, each left the memory per waiting call where it
/// was (160 KiB for the bench guest's one-GET call then, 127.5 since; BENCHMARKS.md,
/// "Memory per truly waiting call", has the breakdown). When many waiting
/// calls end together, though, each ended call's slot keeps what it
/// dirtied for its next call, which raises the peak above the waiting
/// calls' own memory: 14 KiB per call for that guest (the tables' pages its
/// call initialised and a few pages of linear memory), all of it given
/// back with `keep_resident_bytes` at 4 KiB or less (10,000 calls: a
/// 1,219 MiB peak at 1 MiB or 64 KiB, 1,081 MiB at 0), at the cost of page
/// faults in every fresh instance (at 4 KiB the bench guest's no_io call
/// ran at x0.6 the calls/s on one thread and x0.2-0.26 on two).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Component instances alive at once. Default 1,000: each slot costs
    /// address space, not memory, until it is used.
    pub instances: u32,
    /// Core instances one component may create. Default 8: a Rust or
    /// JavaScript guest uses 2-4 (the program, shims, an adapter).
    pub core_instances_per_component: u32,
    /// Linear memories one component may create. Default 2.
    pub memories_per_component: u32,
    /// Tables one component may create. Default 4.
    pub tables_per_component: u32,
    /// The most one linear memory may grow to. Default 256 MiB. The
    /// per-invocation cap ([`Limits::memory_bytes`](crate::Limits::memory_bytes)) is
    /// enforced separately, across all of a component's memories; this is
    /// the ceiling the pool is sized for.
    pub max_memory_bytes: usize,
    /// Bytes of each memory and table kept resident between uses of a slot.
    /// Default 1 MiB: re-zeroing it by hand is cheaper than the madvise and
    /// page faults it saves; more costs resident memory per idle slot (see
    /// "Memory under sustained load" above).
    pub keep_resident_bytes: usize,
    /// Threads of the background pool: where a call's guest moves once it
    /// has computed for [`background_after`](PoolConfig::background_after),
    /// so that guests that compute cannot delay the I/O and the short steps
    /// of the other calls. Default: the machine's cores.
    ///
    /// The threads run in Linux's `SCHED_IDLE` class: they get the cores
    /// nothing else wants, and any other thread that wakes up (a worker
    /// with an answer to read, the embedder's own work) takes the core at
    /// once. What a moved guest awaits (its HTTP requests, its timers)
    /// still runs on the caller's runtime; only its computing moves. A
    /// moved guest past its deadline is dropped by its caller (or
    /// interrupted within an epoch tick if it is running), so it never
    /// holds its pool slot waiting for an idle core.
    ///
    /// The cost: a call that computes for long gets only the CPU time the
    /// rest of the host leaves idle, so on a host kept busy by calls that
    /// wait on I/O (or by other processes) it can reach its deadline where
    /// it would have finished; the move costs a task spawn, once per call
    /// that moves. The threads idle until a guest moves. The OS sees their
    /// time as the process's: in a container with a CPU quota it counts
    /// against the quota, and on a machine shared with other sessions it
    /// spends this session's share (Linux autogroups), so there a smaller
    /// value caps what spinning guests take. `0` turns the pool off: every
    /// guest runs on the caller's runtime to the end, yielding at every
    /// epoch tick, and four guests spinning on two cores took half the
    /// throughput of their one-GET neighbours (BENCHMARKS.md, "Fair under
    /// load").
    pub background_threads: usize,
    /// How long a call's guest computes on the caller's runtime before it
    /// moves to the background pool. Default 10 ms, counted in epoch ticks
    /// (1 ms) that found the guest running: far more than the whole guest
    /// time of a call that mostly waits on I/O (0.1-0.5 ms for a call
    /// making one request), so those never move, and short enough that a
    /// guest spinning from the start holds a worker of the caller's runtime
    /// for about 10 ms (in 1 ms slices) before it moves.
    ///
    /// Lower moves CPU-heavy calls out of the way sooner, but a call whose
    /// thread is preempted by the OS under load counts the ticks it spends
    /// preempted too, so too low a value moves healthy calls on a busy
    /// machine; higher lets each spinning guest take more of the caller's
    /// runtime before it moves.
    pub background_after: Duration,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            instances: 1_000,
            core_instances_per_component: 8,
            memories_per_component: 2,
            tables_per_component: 4,
            max_memory_bytes: 256 << 20,
            keep_resident_bytes: 1 << 20,
            background_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            background_after: Duration::from_millis(10),
        }
    }
}
