//! The exact-match cache: a per-thread table from a whole flow key to the
//! megaflow that handles it, consulted before the megaflow lookup so that a
//! packet of a busy flow costs one hash and one key comparison.
//!
//! # Design
//!
//! Shaped like Open vSwitch's EMC (`lib/dpif-netdev.c`): [`EMC_ENTRIES`]
//! entries, each key having two candidate slots chosen by two independent
//! slices of its hash. Insertion is probabilistic (one in
//! `insert_inv_prob` misses, 100 by default, OVS's `emc-insert-inv-prob`), so
//! that a flood of short flows cannot thrash the entries of the long ones:
//! a long flow is inserted soon enough, a one-packet flow rarely is.
//!
//! Invariants:
//! - A hit is a full key comparison, never only a hash match.
//! - An entry's value is a [`FlowRef`]; the caller checks its generation
//!   against the megaflow cache, so a hit on an entry whose megaflow was
//!   removed is a miss, not a wrong forwarding decision.
//! - [`Emc::clear`] is O(1): entries carry the cache's tag at insertion, and
//!   clearing moves to a new tag.

use super::{key_eq, FlowRef, KeyHasher};
use crate::flow::FlowKey;

/// Number of entries (a power of two).
pub const EMC_ENTRIES: usize = 8192;
const MASK: u32 = 8191;
const SHIFT: u32 = 13;
/// Default inverse insertion probability (insert one miss in 100).
pub const EMC_DEFAULT_INSERT_INV_PROB: u32 = 100;

#[derive(Clone, Copy, Default)]
struct Entry {
    key: FlowKey,
    hash: u32,
    tag: u32,
    flow: FlowRef,
}

/// Counters of the exact-match cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmcStats {
    /// Entries written.
    pub inserts: u64,
    /// Live entries overwritten by another key.
    pub evictions: u64,
}

/// The exact-match cache of one thread.
pub struct Emc {
    entries: Box<[Entry]>,
    tag: u32,
    insert_inv_prob: u32,
    rng: u32,
    stats: EmcStats,
    hasher: KeyHasher,
}

impl Default for Emc {
    fn default() -> Self {
        Emc::new()
    }
}

impl core::fmt::Debug for Emc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Emc")
            .field("insert_inv_prob", &self.insert_inv_prob)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Emc {
    /// An empty cache with the default insertion probability.
    pub fn new() -> Emc {
        Emc {
            entries: vec![Entry::default(); EMC_ENTRIES].into_boxed_slice(),
            tag: 1,
            insert_inv_prob: EMC_DEFAULT_INSERT_INV_PROB,
            rng: 0x9e37_79b9,
            stats: EmcStats::default(),
            hasher: KeyHasher::new(),
        }
    }

    /// Sets the inverse insertion probability: 0 disables the cache, 1
    /// inserts on every miss, N inserts one miss in N on average.
    pub fn set_insert_inv_prob(&mut self, inv_prob: u32) {
        if inv_prob == 0 {
            self.clear();
        }
        self.insert_inv_prob = inv_prob;
    }

    /// The inverse insertion probability (0 = disabled).
    pub fn insert_inv_prob(&self) -> u32 {
        self.insert_inv_prob
    }

    /// Whether the cache is in use.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.insert_inv_prob != 0
    }

    /// Counters.
    pub fn stats(&self) -> EmcStats {
        self.stats
    }

    /// The hash of `key` ([`super::flow_hash`], with the state kept here).
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u32 {
        self.hasher.hash(key)
    }

    #[inline]
    fn slots(hash: u32) -> [usize; 2] {
        // Both slices are 13-bit values, so the conversions are lossless.
        [(hash & MASK) as usize, ((hash >> SHIFT) & MASK) as usize]
    }

    /// The megaflow recorded for `key` (whose [`super::flow_hash`] is `hash`).
    #[inline]
    pub fn lookup(&self, key: &FlowKey, hash: u32) -> Option<FlowRef> {
        for i in Self::slots(hash) {
            let e = &self.entries[i];
            if e.tag == self.tag && e.hash == hash && key_eq(&e.key, key) {
                return Some(e.flow);
            }
        }
        None
    }

    /// Records `key → flow` unconditionally (when enabled).
    pub fn insert(&mut self, key: &FlowKey, hash: u32, flow: FlowRef) {
        if !self.enabled() {
            return;
        }
        let [a, b] = Self::slots(hash);
        let tag = self.tag;
        let live = |e: &Entry| e.tag == tag;
        let victim = {
            let (ea, eb) = (&self.entries[a], &self.entries[b]);
            if live(ea) && ea.hash == hash && key_eq(&ea.key, key) {
                a
            } else if live(eb) && eb.hash == hash && key_eq(&eb.key, key) {
                b
            } else if !live(ea) {
                a
            } else if !live(eb) {
                b
            } else {
                self.stats.evictions += 1;
                // Both taken: replace the one with the smaller hash, a
                // choice that is arbitrary but spreads evenly.
                if ea.hash <= eb.hash {
                    a
                } else {
                    b
                }
            }
        };
        self.entries[victim] = Entry {
            key: *key,
            hash,
            tag,
            flow,
        };
        self.stats.inserts += 1;
    }

    /// Records `key → flow` with the configured probability.
    #[inline]
    pub fn maybe_insert(&mut self, key: &FlowKey, hash: u32, flow: FlowRef) {
        match self.insert_inv_prob {
            0 => {}
            1 => self.insert(key, hash, flow),
            n => {
                // xorshift32: a cheap per-thread random stream.
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.rng = x;
                if x.is_multiple_of(n) {
                    self.insert(key, hash, flow);
                }
            }
        }
    }

    /// Forgets `key` if it is cached.
    pub fn remove(&mut self, key: &FlowKey, hash: u32) {
        for i in Self::slots(hash) {
            let e = &mut self.entries[i];
            if e.tag == self.tag && e.hash == hash && key_eq(&e.key, key) {
                e.tag = 0;
            }
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.tag = self.tag.wrapping_add(1);
        if self.tag == 0 {
            // Tags wrapped: entries from a previous round could look live.
            for e in self.entries.iter_mut() {
                e.tag = 0;
            }
            self.tag = 1;
        }
    }

    /// Number of live entries (walks the table; for statistics).
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.tag == self.tag).count()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::flow_hash;

    fn key(n: u32) -> FlowKey {
        FlowKey {
            in_port: n,
            ipv4_dst: n.wrapping_mul(2_654_435_761),
            ..FlowKey::default()
        }
    }

    fn r(i: u32) -> FlowRef {
        FlowRef {
            index: i,
            generation: 1,
        }
    }

    #[test]
    fn a_hit_requires_the_whole_key() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(1);
        let k = key(1);
        let h = flow_hash(&k);
        emc.insert(&k, h, r(7));
        assert_eq!(emc.lookup(&k, h), Some(r(7)));
        let mut other = k;
        other.tcp_flags = 2;
        // Same hash forced, different key: still a miss.
        assert_eq!(emc.lookup(&other, h), None);
    }

    #[test]
    fn reinserting_a_key_updates_its_entry_in_place() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(1);
        let k = key(2);
        let h = flow_hash(&k);
        emc.insert(&k, h, r(1));
        emc.insert(&k, h, r(2));
        assert_eq!(emc.lookup(&k, h), Some(r(2)));
        assert_eq!(emc.len(), 1);
    }

    #[test]
    fn clear_forgets_everything_at_once() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(1);
        for n in 0..100 {
            let k = key(n);
            emc.insert(&k, flow_hash(&k), r(n));
        }
        assert!(emc.len() > 90);
        emc.clear();
        assert!(emc.is_empty());
        let k = key(3);
        assert_eq!(emc.lookup(&k, flow_hash(&k)), None);
    }

    #[test]
    fn two_way_placement_keeps_both_colliding_keys() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(1);
        // Same first slot, different second slot.
        let (ka, kb) = (key(10), key(11));
        let ha = 5;
        let hb = 5 | (9 << SHIFT);
        emc.insert(&ka, ha, r(1));
        emc.insert(&kb, hb, r(2));
        assert_eq!(emc.lookup(&ka, ha), Some(r(1)));
        assert_eq!(emc.lookup(&kb, hb), Some(r(2)));
        // A third key for the same two slots evicts one of them.
        let kc = key(12);
        emc.insert(&kc, hb, r(3));
        assert_eq!(emc.lookup(&kc, hb), Some(r(3)));
        assert_eq!(emc.stats().evictions, 1);
    }

    #[test]
    fn probabilistic_insertion_inserts_about_one_in_n() {
        let mut emc = Emc::new();
        for n in 0..5000 {
            let k = key(n);
            emc.maybe_insert(&k, flow_hash(&k), r(n));
        }
        let ins = emc.stats().inserts;
        assert!((20..=100).contains(&ins), "{ins} inserts");
    }

    #[test]
    fn a_disabled_cache_never_inserts_or_hits() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(0);
        let k = key(1);
        emc.insert(&k, flow_hash(&k), r(1));
        emc.maybe_insert(&k, flow_hash(&k), r(1));
        assert_eq!(emc.lookup(&k, flow_hash(&k)), None);
    }

    #[test]
    fn remove_forgets_one_key() {
        let mut emc = Emc::new();
        emc.set_insert_inv_prob(1);
        let (a, b) = (key(1), key(2));
        emc.insert(&a, flow_hash(&a), r(1));
        emc.insert(&b, flow_hash(&b), r(2));
        emc.remove(&a, flow_hash(&a));
        assert_eq!(emc.lookup(&a, flow_hash(&a)), None);
        assert_eq!(emc.lookup(&b, flow_hash(&b)), Some(r(2)));
    }
}
