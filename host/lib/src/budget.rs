//! The host's own memory for one call: every byte the host holds on a
//! call's behalf (request bodies copied out of the guest, response bodies
//! as they stream in and until the guest has them, log lines and exchange
//! records) is counted against one budget,
//! [`Limits::host_memory_bytes`](crate::Limits::host_memory_bytes). Guest
//! memory has its own cap; without this one, a guest could make the host
//! buffer what it may not hold itself (forty 20 MiB responses in one
//! `send-all` under a 16 MiB guest).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CallError, LimitKind};

/// One call's budget: its limit and what is held against it now.
#[derive(Debug)]
pub(crate) struct HostBudget {
    limit: u64,
    held: AtomicU64,
}

/// The budget is spent: the call ends with this.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exhausted {
    limit: u64,
}

impl From<Exhausted> for CallError {
    fn from(e: Exhausted) -> CallError {
        CallError::Limit { limit: LimitKind::HostMemory, value: format!("{} bytes", e.limit) }
    }
}

impl HostBudget {
    pub(crate) fn new(limit: u64) -> Arc<HostBudget> {
        Arc::new(HostBudget { limit, held: AtomicU64::new(0) })
    }

    /// Count `bytes` more, or refuse without counting them.
    fn charge(&self, bytes: u64) -> Result<(), Exhausted> {
        let mut held = self.held.load(Ordering::Relaxed);
        loop {
            let next =
                held.checked_add(bytes).filter(|next| *next <= self.limit).ok_or(Exhausted { limit: self.limit })?;
            match self.held.compare_exchange_weak(held, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => held = now,
            }
        }
    }

    /// Hold `bytes` until the returned [`Held`] is dropped.
    pub(crate) fn hold(self: &Arc<HostBudget>, bytes: u64) -> Result<Held, Exhausted> {
        self.charge(bytes)?;
        Ok(Held { budget: self.clone(), bytes })
    }

    /// Hold `bytes` for the rest of the call (what the call's record keeps).
    pub(crate) fn keep(&self, bytes: u64) -> Result<(), Exhausted> {
        self.charge(bytes)
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}

/// Bytes held against a budget, given back when this is dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<HostBudget>,
    bytes: u64,
}

impl Held {
    /// Hold `bytes` more under this hold.
    pub(crate) fn grow(&mut self, bytes: u64) -> Result<(), Exhausted> {
        self.budget.charge(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Nothing held yet, on this budget.
    pub(crate) fn empty(budget: &Arc<HostBudget>) -> Held {
        Held { budget: budget.clone(), bytes: 0 }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A buffer whose capacity is held against a budget: every growth is
/// charged before it is allocated, so what the allocator hands out never
/// exceeds what was counted.
#[derive(Debug)]
pub(crate) struct BudgetBuf {
    bytes: Vec<u8>,
    held: Held,
}

impl BudgetBuf {
    pub(crate) fn new(budget: &Arc<HostBudget>) -> BudgetBuf {
        BudgetBuf { bytes: Vec::new(), held: Held::empty(budget) }
    }

    /// Append `chunk`, growing the capacity (doubling, charged first) when
    /// it does not fit.
    pub(crate) fn extend(&mut self, chunk: &[u8]) -> Result<(), Exhausted> {
        let needed = self.bytes.len() + chunk.len();
        if needed > self.bytes.capacity() {
            let capacity = needed.max(self.bytes.capacity().saturating_mul(2)).max(8 << 10);
            // Doubling past what the budget allows would refuse a body that
            // fits: grow only to what is needed then.
            let capacity = match self.held.grow((capacity - self.bytes.capacity()) as u64) {
                Ok(()) => capacity,
                Err(_) => {
                    self.held.grow((needed - self.bytes.capacity()) as u64)?;
                    needed
                }
            };
            self.bytes.reserve_exact(capacity - self.bytes.len());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, and the hold that still counts them.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Held) {
        (self.bytes, self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_counted_until_dropped_and_refused_past_the_limit() {
        let budget = HostBudget::new(100);
        let a = budget.hold(60).unwrap();
        assert!(budget.hold(41).is_err());
        assert_eq!(budget.held(), 60, "a refused hold counts nothing");
        let b = budget.hold(40).unwrap();
        drop(a);
        assert_eq!(budget.held(), 40);
        budget.keep(50).unwrap();
        drop(b);
        assert_eq!(budget.held(), 50, "what is kept stays");
        assert!(budget.keep(u64::MAX).is_err());
    }

    #[test]
    fn a_buffer_counts_its_capacity() {
        let budget = HostBudget::new(100 << 10);
        let mut buf = BudgetBuf::new(&budget);
        for _ in 0..10 {
            buf.extend(&[7u8; 9 << 10]).unwrap();
        }
        assert_eq!(buf.len(), 90 << 10);
        assert!(budget.held() >= buf.bytes.capacity() as u64, "{} < {}", budget.held(), buf.bytes.capacity());
        assert!(buf.extend(&[7u8; 11 << 10]).is_err(), "past 100 KiB");
        let (bytes, held) = buf.into_parts();
        assert_eq!(bytes.len(), 90 << 10);
        drop(held);
        assert_eq!(budget.held(), 0);
    }
}
