//! A packet and byte counter pair that forwarding threads credit through a
//! shared reference (groups, buckets, meters, bands, tables).
//!
//! Relaxed atomics: each counter is an independent monotonic sum and readers
//! accept a slightly stale value.

use std::sync::atomic::{AtomicU64, Ordering};

/// Packets and bytes, creditable through `&self`.
#[derive(Debug, Default)]
pub struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    /// Zeroed counters.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// Adds `packets` and `bytes`.
    #[inline]
    pub fn credit(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Packets counted.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Bytes counted.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_accumulate() {
        let c = Counters::new();
        c.credit(2, 100);
        c.credit(1, 50);
        assert_eq!((c.packets(), c.bytes()), (3, 150));
    }
}
