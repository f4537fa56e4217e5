//! Sizing of the pooling instance allocator.

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
    /// page faults it saves; more costs resident memory per idle slot.
    pub keep_resident_bytes: usize,
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
        }
    }
}
