//! The megaflow cache: per-thread `(masked key, mask) → actions` entries that
//! translation built, found by tuple-space search.
//!
//! # Design
//!
//! Entries live in a slab of slots (stable indices, so a [`FlowRef`] stays
//! valid while its entry lives). Each distinct mask owns a *subtable*: a
//! `hashbrown` table of slot indices keyed by the key bits under that mask.
//! A subtable hashes and compares only the 64-bit words its mask touches, so
//! a lookup in a subtable of a few fields costs a few words, not the whole
//! key. A lookup probes subtables in rank order (most hits first, re-ranked
//! by [`MegaflowCache::rank_subtables`] with decaying counts) and stops at
//! the first hit; since entries never overlap with different actions (see
//! [`crate::cache`]), the first hit is the answer.
//!
//! Per-entry statistics are plain integers: the cache belongs to one thread.
//! The thread pushes the part not yet reported (`packets - flushed_packets`)
//! to the OpenFlow rules now and then.
//!
//! Invariants:
//! - A slot's generation changes whenever its entry is removed; every
//!   [`FlowRef`] handed out carries the generation of its entry.
//! - Every live entry is in exactly the subtable of its mask; a subtable
//!   with no entries is removed from the probe order.
//! - The number of live entries never exceeds the limit: at the limit an
//!   insertion is refused (and counted) and the caller may make room first
//!   with [`MegaflowCache::evict_one_idle`] (a clock hand: a bounded scan
//!   per insertion, so a full cache under a flood of new flows pays a
//!   little per miss instead of stalling on a sweep of the whole cache) or
//!   [`MegaflowCache::evict_idle`].
//! - Lookups and hits allocate nothing.

use super::{build_hasher, DumpedFlow, FlowRef};
use crate::dpaction::DpActions;
use crate::flow::{FlowKey, FlowMask, FLOW_WORDS};
use core::hash::{BuildHasher, Hasher};
use hashbrown::HashTable;

/// Default limit on entries (Open vSwitch's default `flow-limit`).
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;
/// Default idle time after which an entry expires (OVS's `max-idle`), ms.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;

/// One cached megaflow.
#[derive(Clone, Debug)]
pub struct Megaflow<T> {
    /// The key, with the bits outside `mask` zero.
    pub key: FlowKey,
    /// The bits translation examined.
    pub mask: FlowMask,
    /// The whole key of the packet that created the entry (revalidation
    /// translates it again).
    pub orig_key: FlowKey,
    /// What to do with the packets.
    pub actions: DpActions,
    /// What the caller keeps beside the actions (what to credit statistics to).
    pub data: T,
    /// Packets that hit the entry.
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// Packets already reported to the rules.
    pub flushed_packets: u64,
    /// Bytes already reported to the rules.
    pub flushed_bytes: u64,
    /// Time of the last hit (or of creation), ms.
    pub used_ms: u64,
    /// Time of creation, ms.
    pub created_ms: u64,
    subtable: u32,
    /// The hash of `key` in its subtable, kept so that removal does not
    /// read the key again.
    hash: u64,
}

impl<T> Megaflow<T> {
    /// Credits `n` packets of `bytes` bytes, hit at `now_ms`.
    #[inline]
    pub fn credit(&mut self, n: u64, bytes: u64, now_ms: u64) {
        self.packets += n;
        self.bytes += bytes;
        self.used_ms = self.used_ms.max(now_ms);
    }

    /// The statistics not yet reported: (packets, bytes).
    #[inline]
    pub fn unflushed(&self) -> (u64, u64) {
        (
            self.packets - self.flushed_packets,
            self.bytes - self.flushed_bytes,
        )
    }

    /// Marks every statistic as reported.
    #[inline]
    pub fn mark_flushed(&mut self) {
        self.flushed_packets = self.packets;
        self.flushed_bytes = self.bytes;
    }
}

struct Slot<T> {
    generation: u32,
    flow: Option<Megaflow<T>>,
}

struct Subtable {
    mask: FlowMask,
    /// Indices of the mask's non-zero words.
    words: [u8; FLOW_WORDS],
    n_words: u8,
    table: HashTable<u32>,
    hits: u64,
}

impl Subtable {
    #[inline]
    fn words(&self) -> &[u8] {
        &self.words[..usize::from(self.n_words)]
    }
}

/// An insertion refused because the cache holds its limit of entries; the
/// actions and data come back to the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("megaflow cache full")]
pub struct Full<T> {
    /// The actions that were to be installed.
    pub actions: DpActions,
    /// The data that was to be installed.
    pub data: T,
}

/// Counters of the megaflow cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MegaflowStats {
    /// Entries installed.
    pub installs: u64,
    /// Entries removed for any reason.
    pub removals: u64,
    /// Entries removed because they were idle.
    pub expired: u64,
    /// Insertions refused because the cache was full.
    pub refused_full: u64,
}

/// The megaflow cache of one thread; `T` is what the caller stores with each
/// entry (the rules and buckets to credit).
pub struct MegaflowCache<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    subtables: Vec<Subtable>,
    /// Live subtables, in probe order.
    order: Vec<u32>,
    /// Subtable slots no longer in use.
    free_subtables: Vec<u32>,
    len: usize,
    limit: usize,
    /// Where [`MegaflowCache::evict_one_idle`] goes on from.
    hand: usize,
    hasher: foldhash::fast::SeedableRandomState,
    stats: MegaflowStats,
}

impl<T> core::fmt::Debug for MegaflowCache<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MegaflowCache")
            .field("len", &self.len)
            .field("subtables", &self.order.len())
            .field("limit", &self.limit)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<T> Default for MegaflowCache<T> {
    fn default() -> Self {
        MegaflowCache::new()
    }
}

impl<T> MegaflowCache<T> {
    /// An empty cache with the default limit.
    pub fn new() -> MegaflowCache<T> {
        MegaflowCache {
            slots: Vec::new(),
            free: Vec::new(),
            subtables: Vec::new(),
            order: Vec::new(),
            free_subtables: Vec::new(),
            len: 0,
            limit: DEFAULT_FLOW_LIMIT,
            hand: 0,
            hasher: build_hasher(),
            stats: MegaflowStats::default(),
        }
    }

    /// Sets the limit on entries (existing entries above it stay until they
    /// are removed).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The limit on entries.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether an insertion would be refused.
    pub fn is_full(&self) -> bool {
        self.len >= self.limit
    }

    /// Number of subtables (distinct masks).
    pub fn subtable_count(&self) -> usize {
        self.order.len()
    }

    /// Counters.
    pub fn stats(&self) -> MegaflowStats {
        self.stats
    }

    #[inline]
    fn hash_masked(&self, key: &FlowKey, st: &Subtable) -> u64 {
        let mut h = self.hasher.build_hasher();
        let (kw, mw) = (key.as_words(), st.mask.key.as_words());
        for &i in st.words() {
            let i = usize::from(i);
            h.write_u64(kw[i] & mw[i]);
        }
        h.finish()
    }

    #[inline]
    fn slot_matches(slots: &[Slot<T>], idx: u32, key: &FlowKey, st: &Subtable) -> bool {
        let Some(Some(flow)) = slots.get(idx as usize).map(|s| s.flow.as_ref()) else {
            return false;
        };
        let (kw, mw, ew) = (key.as_words(), st.mask.key.as_words(), flow.key.as_words());
        st.words().iter().all(|&i| {
            let i = usize::from(i);
            kw[i] & mw[i] == ew[i]
        })
    }

    /// The entry matching `key`, counting a hit on its subtable.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey) -> Option<FlowRef> {
        for &si in &self.order {
            let st = &self.subtables[si as usize];
            let hash = self.hash_masked(key, st);
            let slots = &self.slots;
            if let Some(&idx) = st
                .table
                .find(hash, |&i| Self::slot_matches(slots, i, key, st))
            {
                let generation = self.slots[idx as usize].generation;
                self.subtables[si as usize].hits += 1;
                return Some(FlowRef {
                    index: idx,
                    generation,
                });
            }
        }
        None
    }

    /// The entry `r` refers to, if it is still there.
    #[inline]
    pub fn get(&self, r: FlowRef) -> Option<&Megaflow<T>> {
        let s = self.slots.get(r.index as usize)?;
        if s.generation == r.generation {
            s.flow.as_ref()
        } else {
            None
        }
    }

    /// The entry `r` refers to, writable.
    #[inline]
    pub fn get_mut(&mut self, r: FlowRef) -> Option<&mut Megaflow<T>> {
        let s = self.slots.get_mut(r.index as usize)?;
        if s.generation == r.generation {
            s.flow.as_mut()
        } else {
            None
        }
    }

    fn subtable_for(&mut self, mask: &FlowMask) -> u32 {
        if let Some(&si) = self
            .order
            .iter()
            .find(|&&si| self.subtables[si as usize].mask == *mask)
        {
            return si;
        }
        let mut words = [0u8; FLOW_WORDS];
        let mut n = 0u8;
        for (i, w) in mask.key.as_words().iter().enumerate() {
            if *w != 0 {
                words[usize::from(n)] = u8::try_from(i).unwrap_or(0);
                n += 1;
            }
        }
        let st = Subtable {
            mask: *mask,
            words,
            n_words: n,
            table: HashTable::new(),
            hits: 0,
        };
        let si = match self.free_subtables.pop() {
            Some(i) => {
                self.subtables[i as usize] = st;
                i as usize
            }
            None => {
                self.subtables.push(st);
                self.subtables.len() - 1
            }
        };
        let si = u32::try_from(si).unwrap_or(u32::MAX);
        // New subtables go last: they have no hits yet.
        self.order.push(si);
        si
    }

    /// Installs `key & mask → actions`, created and used at `now_ms`, and
    /// returns its handle. An entry with the same masked key and mask is
    /// replaced in place (keeping its statistics). At the limit, nothing is
    /// installed.
    pub fn insert(
        &mut self,
        key: &FlowKey,
        mask: &FlowMask,
        actions: DpActions,
        data: T,
        now_ms: u64,
    ) -> Result<FlowRef, Box<Full<T>>> {
        let si = self.subtable_for(mask);
        let st = &self.subtables[si as usize];
        let hash = self.hash_masked(key, st);
        let slots = &self.slots;
        if let Some(&idx) = st
            .table
            .find(hash, |&i| Self::slot_matches(slots, i, key, st))
        {
            let generation = self.slots[idx as usize].generation;
            if let Some(f) = self.slots[idx as usize].flow.as_mut() {
                f.actions = actions;
                f.data = data;
                f.orig_key = *key;
            }
            return Ok(FlowRef {
                index: idx,
                generation,
            });
        }
        if self.len >= self.limit {
            self.stats.refused_full += 1;
            self.drop_subtable_if_empty(si);
            return Err(Box::new(Full { actions, data }));
        }
        let flow = Megaflow {
            key: key.masked(mask),
            mask: *mask,
            orig_key: *key,
            actions,
            data,
            packets: 0,
            bytes: 0,
            flushed_packets: 0,
            flushed_bytes: 0,
            used_ms: now_ms,
            created_ms: now_ms,
            subtable: si,
            hash,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].flow = Some(flow);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    flow: Some(flow),
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let slots = &self.slots;
        let st = &mut self.subtables[si as usize];
        // The table stores only indices: growing it takes each entry's hash
        // from its slot.
        let rehash = |&i: &u32| {
            slots
                .get(i as usize)
                .and_then(|s| s.flow.as_ref())
                .map_or(0, |f| f.hash)
        };
        st.table.insert_unique(hash, idx, rehash);
        self.len += 1;
        self.stats.installs += 1;
        Ok(FlowRef {
            index: idx,
            generation: self.slots[idx as usize].generation,
        })
    }

    fn drop_subtable_if_empty(&mut self, si: u32) {
        if self.subtables[si as usize].table.is_empty() && self.order.contains(&si) {
            self.order.retain(|&s| s != si);
            self.subtables[si as usize].table = HashTable::new();
            self.free_subtables.push(si);
        }
    }

    /// Removes the entry `r` refers to and returns it.
    pub fn remove(&mut self, r: FlowRef) -> Option<Megaflow<T>> {
        let slot = self.slots.get(r.index as usize)?;
        if slot.generation != r.generation {
            return None;
        }
        let flow = slot.flow.as_ref()?;
        let si = flow.subtable;
        let hash = flow.hash;
        if let Ok(e) = self.subtables[si as usize]
            .table
            .find_entry(hash, |&i| i == r.index)
        {
            e.remove();
        }
        let slot = &mut self.slots[r.index as usize];
        let flow = slot.flow.take();
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(r.index);
        self.len -= 1;
        self.stats.removals += 1;
        self.drop_subtable_if_empty(si);
        flow
    }

    /// Handles of every live entry.
    pub fn refs(&self) -> impl Iterator<Item = FlowRef> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.flow.as_ref().map(|_| FlowRef {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: s.generation,
            })
        })
    }

    /// Every live entry with its handle.
    pub fn iter(&self) -> impl Iterator<Item = (FlowRef, &Megaflow<T>)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.flow.as_ref().map(|f| {
                (
                    FlowRef {
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                        generation: s.generation,
                    },
                    f,
                )
            })
        })
    }

    /// Every live entry, writable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Megaflow<T>> + '_ {
        self.slots.iter_mut().filter_map(|s| s.flow.as_mut())
    }

    /// Removes the entries for which `keep` says no, handing each to
    /// `removed`; returns how many went.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&mut Megaflow<T>) -> bool,
        mut removed: impl FnMut(Megaflow<T>),
    ) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            let Some(f) = s.flow.as_mut() else {
                continue;
            };
            if keep(f) {
                continue;
            }
            let r = FlowRef {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: s.generation,
            };
            if let Some(f) = self.remove(r) {
                removed(f);
                n += 1;
            }
        }
        n
    }

    /// Removes the first entry, going on from where the last call stopped
    /// and looking at no more than `scan` slots, that has not been used for
    /// `min_idle_ms` at `now_ms`, handing it to `removed`; returns whether
    /// one went.
    pub fn evict_one_idle(
        &mut self,
        now_ms: u64,
        min_idle_ms: u64,
        scan: usize,
        removed: impl FnOnce(Megaflow<T>),
    ) -> bool {
        let n = self.slots.len();
        if n == 0 {
            return false;
        }
        for _ in 0..scan.min(n) {
            let i = self.hand % n;
            self.hand = i + 1;
            let s = &self.slots[i];
            let Some(f) = s.flow.as_ref() else {
                continue;
            };
            if now_ms.saturating_sub(f.used_ms) < min_idle_ms {
                continue;
            }
            let r = FlowRef {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: s.generation,
            };
            if let Some(f) = self.remove(r) {
                self.stats.expired += 1;
                removed(f);
                return true;
            }
        }
        false
    }

    /// Removes the entries not used for `max_idle_ms` at `now_ms`, handing
    /// each to `removed` (whose unreported statistics still need a flush);
    /// returns how many went.
    pub fn evict_idle(
        &mut self,
        now_ms: u64,
        max_idle_ms: u64,
        removed: impl FnMut(Megaflow<T>),
    ) -> usize {
        let n = self.retain(|f| now_ms.saturating_sub(f.used_ms) < max_idle_ms, removed);
        self.stats.expired += n as u64;
        n
    }

    /// Removes every entry, handing each to `removed`.
    pub fn clear(&mut self, removed: impl FnMut(Megaflow<T>)) {
        self.retain(|_| false, removed);
    }

    /// Re-sorts the probe order by hits since the last ranking (most first)
    /// and halves the counts, so the order follows the recent traffic.
    pub fn rank_subtables(&mut self) {
        let subtables = &self.subtables;
        self.order
            .sort_by(|&a, &b| subtables[b as usize].hits.cmp(&subtables[a as usize].hits));
        for &si in &self.order {
            self.subtables[si as usize].hits /= 2;
        }
    }

    /// The masks of the subtables in probe order.
    pub fn masks(&self) -> impl Iterator<Item = &FlowMask> + '_ {
        self.order
            .iter()
            .map(|&si| &self.subtables[si as usize].mask)
    }

    /// Every entry as `dump-dp-flows` shows it.
    pub fn dump(&self) -> Vec<DumpedFlow> {
        self.iter()
            .map(|(_, f)| DumpedFlow {
                key: f.key,
                mask: f.mask,
                actions: f.actions.clone(),
                packets: f.packets,
                bytes: f.bytes,
                used_ms: f.used_ms,
                created_ms: f.created_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpaction::DpAction;
    use crate::flow::Field;
    use proptest::prelude::*;
    use smallvec::smallvec;

    fn key(port: u32, dst: u32, tp: u16) -> FlowKey {
        FlowKey {
            in_port: port,
            eth_type: 0x0800,
            nw_proto: 6,
            ipv4_dst: dst,
            tp_dst: tp,
            ..FlowKey::default()
        }
    }

    fn mask(fields: &[Field]) -> FlowMask {
        let mut m = FlowMask::wildcard();
        for &f in fields {
            m.set_exact(f);
        }
        m
    }

    fn out(p: u32) -> DpActions {
        smallvec![DpAction::Output(p)]
    }

    #[test]
    fn lookup_finds_an_entry_by_its_masked_bits_only() {
        let mut c = MegaflowCache::<()>::new();
        let m = mask(&[Field::InPort, Field::Ipv4Dst]);
        let r = c.insert(&key(1, 7, 80), &m, out(2), (), 5).unwrap();
        assert_eq!(c.lookup(&key(1, 7, 443)), Some(r));
        assert_eq!(c.lookup(&key(2, 7, 80)), None);
        let f = c.get(r).unwrap();
        assert_eq!(f.key, key(1, 7, 80).masked(&m));
        assert_eq!(f.orig_key, key(1, 7, 80));
        assert_eq!(f.created_ms, 5);
    }

    #[test]
    fn each_mask_gets_one_subtable() {
        let mut c = MegaflowCache::<()>::new();
        let m1 = mask(&[Field::InPort]);
        let m2 = mask(&[Field::Ipv4Dst, Field::TcpDst]);
        c.insert(&key(1, 0, 0), &m1, out(1), (), 0).unwrap();
        c.insert(&key(2, 0, 0), &m1, out(1), (), 0).unwrap();
        c.insert(&key(9, 5, 22), &m2, out(3), (), 0).unwrap();
        assert_eq!(c.subtable_count(), 2);
        assert_eq!(c.len(), 3);
        let r = c.lookup(&key(7, 5, 22)).unwrap();
        assert_eq!(c.get(r).unwrap().actions, out(3));
    }

    #[test]
    fn removal_makes_old_handles_stale_even_when_the_slot_is_reused() {
        let mut c = MegaflowCache::<()>::new();
        let m = mask(&[Field::InPort]);
        let r1 = c.insert(&key(1, 0, 0), &m, out(1), (), 0).unwrap();
        assert!(c.remove(r1).is_some());
        assert!(c.get(r1).is_none());
        assert!(c.remove(r1).is_none());
        assert_eq!(c.subtable_count(), 0);
        let r2 = c.insert(&key(2, 0, 0), &m, out(2), (), 0).unwrap();
        assert_eq!(r2.index, r1.index);
        assert_ne!(r2.generation, r1.generation);
        assert!(c.get(r1).is_none());
        assert_eq!(c.get(r2).unwrap().actions, out(2));
        assert_eq!(c.lookup(&key(1, 0, 0)), None);
    }

    #[test]
    fn reinstalling_the_same_megaflow_replaces_it_in_place() {
        let mut c = MegaflowCache::<u8>::new();
        let m = mask(&[Field::InPort]);
        let r1 = c.insert(&key(1, 0, 0), &m, out(1), 1, 0).unwrap();
        c.get_mut(r1).unwrap().credit(3, 300, 10);
        let r2 = c.insert(&key(1, 9, 9), &m, out(2), 2, 20).unwrap();
        assert_eq!(r1, r2);
        let f = c.get(r2).unwrap();
        assert_eq!((f.packets, f.data, f.actions.clone()), (3, 2, out(2)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_and_counts() {
        let mut c = MegaflowCache::<()>::new();
        c.set_limit(2);
        let m = mask(&[Field::InPort]);
        c.insert(&key(1, 0, 0), &m, out(1), (), 0).unwrap();
        c.insert(&key(2, 0, 0), &m, out(1), (), 0).unwrap();
        assert!(c.is_full());
        let other = mask(&[Field::TcpDst]);
        let refused = c.insert(&key(3, 0, 0), &other, out(7), (), 0).unwrap_err();
        assert_eq!(refused.actions, out(7));
        assert_eq!(c.stats().refused_full, 1);
        // The refused mask left no empty subtable behind.
        assert_eq!(c.subtable_count(), 1);
    }

    #[test]
    fn the_clock_hand_takes_idle_entries_one_at_a_time_and_skips_busy_ones() {
        let mut c = MegaflowCache::<u32>::new();
        let m = mask(&[Field::InPort]);
        let busy = c.insert(&key(1, 0, 0), &m, out(1), 10, 0).unwrap();
        let idle = c.insert(&key(2, 0, 0), &m, out(1), 20, 0).unwrap();
        let idle2 = c.insert(&key(3, 0, 0), &m, out(1), 30, 0).unwrap();
        c.get_mut(busy).unwrap().credit(1, 64, 1_000);
        let mut gone = Vec::new();
        assert!(c.evict_one_idle(1_000, 100, 64, |f| gone.push(f.data)));
        assert_eq!(gone, vec![20]);
        assert!(c.get(idle).is_none() && c.get(busy).is_some());
        // The hand goes on from there: the next idle entry, then none.
        assert!(c.evict_one_idle(1_000, 100, 64, |f| gone.push(f.data)));
        assert_eq!(gone, vec![20, 30]);
        assert!(c.get(idle2).is_none());
        assert!(!c.evict_one_idle(1_000, 100, 64, |f| gone.push(f.data)));
        assert_eq!(c.len(), 1);
        assert_eq!(c.stats().expired, 2);
    }

    #[test]
    fn the_clock_hand_looks_at_no_more_slots_than_it_is_allowed() {
        let mut c = MegaflowCache::<u32>::new();
        let m = mask(&[Field::InPort]);
        for i in 0..4 {
            let r = c.insert(&key(i, 0, 0), &m, out(1), i, 0).unwrap();
            if i < 3 {
                c.get_mut(r).unwrap().credit(1, 64, 1_000);
            }
        }
        // Only the fourth slot is idle: a scan of two does not reach it.
        assert!(!c.evict_one_idle(1_000, 100, 2, |_| {}));
        assert!(c.evict_one_idle(1_000, 100, 2, |_| {}));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn idle_entries_expire_and_hand_back_their_statistics() {
        let mut c = MegaflowCache::<u32>::new();
        let m = mask(&[Field::InPort]);
        let old = c.insert(&key(1, 0, 0), &m, out(1), 10, 0).unwrap();
        let busy = c.insert(&key(2, 0, 0), &m, out(1), 20, 0).unwrap();
        c.get_mut(old).unwrap().credit(1, 64, 100);
        c.get_mut(busy).unwrap().credit(1, 64, 9_000);
        let mut gone = Vec::new();
        let n = c.evict_idle(10_500, DEFAULT_MAX_IDLE_MS, |f| {
            gone.push((f.data, f.unflushed()))
        });
        assert_eq!(n, 1);
        assert_eq!(gone, vec![(10, (1, 64))]);
        assert!(c.get(busy).is_some());
        assert_eq!(c.stats().expired, 1);
    }

    #[test]
    fn ranking_puts_the_busiest_subtable_first() {
        let mut c = MegaflowCache::<()>::new();
        let m1 = mask(&[Field::InPort]);
        let m2 = mask(&[Field::TcpDst]);
        c.insert(&key(1, 0, 0), &m1, out(1), (), 0).unwrap();
        c.insert(&key(5, 0, 80), &m2, out(2), (), 0).unwrap();
        for _ in 0..10 {
            c.lookup(&key(9, 0, 80));
        }
        assert_eq!(c.masks().next(), Some(&m1));
        c.rank_subtables();
        assert_eq!(c.masks().next(), Some(&m2));
    }

    #[test]
    fn dump_reports_every_entry() {
        let mut c = MegaflowCache::<()>::new();
        let m = mask(&[Field::InPort]);
        let r = c.insert(&key(1, 0, 0), &m, out(1), (), 3).unwrap();
        c.get_mut(r).unwrap().credit(2, 128, 4);
        let d = c.dump();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].packets, d[0].bytes, d[0].used_ms, d[0].created_ms),
            (2, 128, 4, 3)
        );
        assert_eq!(d[0].mask, m);
    }

    #[test]
    fn flushed_statistics_are_not_reported_twice() {
        let mut c = MegaflowCache::<()>::new();
        let r = c
            .insert(&key(1, 0, 0), &mask(&[Field::InPort]), out(1), (), 0)
            .unwrap();
        let f = c.get_mut(r).unwrap();
        f.credit(2, 100, 1);
        assert_eq!(f.unflushed(), (2, 100));
        f.mark_flushed();
        f.credit(1, 50, 2);
        assert_eq!(f.unflushed(), (1, 50));
    }

    proptest! {
        /// The cache answers like a linear scan over its entries.
        #[test]
        fn lookup_agrees_with_a_linear_scan(
            entries in proptest::collection::vec((0u32..4, 0u32..4, 0u16..4, 0usize..4), 1..40),
            probes in proptest::collection::vec((0u32..4, 0u32..4, 0u16..4), 1..40),
            removals in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            let masks = [
                mask(&[Field::InPort]),
                mask(&[Field::Ipv4Dst]),
                mask(&[Field::InPort, Field::TcpDst]),
                mask(&[Field::InPort, Field::Ipv4Dst, Field::TcpDst]),
            ];
            let mut c = MegaflowCache::<u32>::new();
            let mut refs = Vec::new();
            for (n, &(p, d, t, mi)) in entries.iter().enumerate() {
                let k = key(p, d, t);
                // Install only on a miss, as the datapath does.
                if c.lookup(&k).is_none() {
                    let r = c.insert(&k, &masks[mi], out(1), u32::try_from(n).unwrap(), 0).unwrap();
                    refs.push(r);
                }
            }
            for i in removals {
                if !refs.is_empty() {
                    let r = refs.swap_remove(i % refs.len());
                    prop_assert!(c.remove(r).is_some());
                }
            }
            prop_assert_eq!(c.len(), refs.len());
            for (p, d, t) in probes {
                let k = key(p, d, t);
                let want: Vec<FlowRef> = c
                    .iter()
                    .filter(|(_, f)| k.eq_masked(&f.key, &f.mask))
                    .map(|(r, _)| r)
                    .collect();
                match c.lookup(&k) {
                    Some(r) => prop_assert!(want.contains(&r)),
                    None => prop_assert!(want.is_empty()),
                }
            }
        }
    }
}
