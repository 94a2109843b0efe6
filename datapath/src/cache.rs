//! The per-thread flow caches in front of translation: the exact-match cache
//! ([`emc`]) and the megaflow cache ([`megaflow`]).
//!
//! # Design
//!
//! A forwarding thread looks a packet's [`FlowKey`] up first in the EMC, a
//! small direct-mapped table keyed by the whole key, then in the megaflow
//! cache, a tuple-space set of `(masked key, mask) → actions` entries built by
//! translation, and only on a miss of both runs the OpenFlow pipeline.
//!
//! Invariants:
//! - Both caches belong to one thread and are never shared: no locks, no
//!   atomics on the hit path, and lookups never allocate.
//! - An EMC entry refers to a megaflow by [`FlowRef`], a slot index plus the
//!   slot's generation. Removing a megaflow bumps its slot's generation, so an
//!   EMC entry left pointing at a removed (or removed and reused) slot is
//!   detected at lookup and treated as a miss; the EMC never needs to be
//!   searched when a megaflow goes away.
//! - Megaflows of one cache do not overlap with different actions: an entry
//!   is installed only for a packet that missed every entry, with the mask of
//!   every bit translation examined, and revalidation keeps an entry only if
//!   translating its key again examines no bit outside its mask and yields
//!   the same actions. Two overlapping entries therefore always agree, and the
//!   lookup order between subtables only affects speed.
//! - Hashes are keyed per process from foldhash's random seed, so keys
//!   crafted to collide cannot be precomputed offline: subtables hash their
//!   few masked words with foldhash itself; the EMC hashes the whole key
//!   with independent folded multiplies of word pairs under seeds drawn
//!   from it ([`flow_hash`]), which costs a third of hashing the key's 152
//!   bytes through foldhash's byte path.

pub mod emc;
pub mod megaflow;

use crate::dpaction::DpActions;
use crate::flow::{FlowKey, FlowMask};
use core::hash::BuildHasher;

/// A handle on a megaflow entry: its slot and the slot's generation when the
/// handle was made. A handle whose generation no longer matches is stale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowRef {
    /// Slot index.
    pub index: u32,
    /// Generation of the slot the handle refers to.
    pub generation: u32,
}

/// One megaflow as reported by `dump-dp-flows`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpedFlow {
    /// The masked key.
    pub key: FlowKey,
    /// The bits that were examined.
    pub mask: FlowMask,
    /// The datapath actions.
    pub actions: DpActions,
    /// Packets that hit it.
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// Time of the last hit (ms), or of creation when never hit.
    pub used_ms: u64,
    /// Time it was installed (ms).
    pub created_ms: u64,
}

/// The per-process hasher of the caches.
#[inline]
pub(crate) fn build_hasher() -> foldhash::fast::SeedableRandomState {
    foldhash::fast::SeedableRandomState::with_seed(0, foldhash::SharedSeed::global_random())
}

/// Per-process random seeds of the whole-key hash.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    seeds: [u64; 4],
}

impl KeyHasher {
    /// Seeds drawn from foldhash's per-process random seed.
    pub(crate) fn new() -> KeyHasher {
        let b = build_hasher();
        KeyHasher {
            seeds: [0u64, 1, 2, 3].map(|i| b.hash_one(i) | 1),
        }
    }

    /// The hash of a whole key: each pair of words goes through its own
    /// folded multiply (128-bit product, halves XORed) with seeds that
    /// differ per pair position, so the nine multiplies are independent and
    /// pipeline; their sum goes through a last one with the odd word.
    #[inline]
    pub(crate) fn hash(&self, key: &FlowKey) -> u32 {
        #[inline(always)]
        fn fold_mul(a: u64, b: u64) -> u64 {
            let p = u128::from(a) * u128::from(b);
            #[allow(clippy::cast_possible_truncation)] // the two halves, on purpose
            let (lo, hi) = (p as u64, (p >> 64) as u64);
            lo ^ hi
        }
        let w = key.as_words();
        let [s0, s1, s2, s3] = self.seeds;
        let mut acc = s2;
        let mut lane = s0;
        for pair in w.chunks_exact(2) {
            // A seed per pair position, so that moving words between
            // positions changes the hash.
            acc = acc.wrapping_add(fold_mul(pair[0] ^ lane, pair[1] ^ s1));
            lane = lane.wrapping_add(0x9e37_79b9_7f4a_7c15);
        }
        let last = w[crate::flow::FLOW_WORDS - 1];
        let x = fold_mul(acc ^ s3, last ^ s0 ^ s1);
        // Fold the high half in so both halves matter.
        #[allow(clippy::cast_possible_truncation)] // the low 32 bits, on purpose
        let folded = (x ^ (x >> 32)) as u32;
        folded
    }
}

/// The hash of a whole flow key, as the exact-match cache indexes it
/// (stable within a process).
#[inline]
pub fn flow_hash(key: &FlowKey) -> u32 {
    static HASHER: std::sync::OnceLock<KeyHasher> = std::sync::OnceLock::new();
    HASHER.get_or_init(KeyHasher::new).hash(key)
}

/// Whether two keys are equal, comparing all words without branching.
#[inline]
pub(crate) fn key_eq(a: &FlowKey, b: &FlowKey) -> bool {
    let (a, b) = (a.as_words(), b.as_words());
    let mut diff = 0u64;
    for i in 0..crate::flow::FLOW_WORDS {
        diff |= a[i] ^ b[i];
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_hash_is_stable_within_a_process_and_sees_every_word() {
        let a = FlowKey::default();
        assert_eq!(flow_hash(&a), flow_hash(&a));
        let mut seen = std::collections::HashSet::new();
        seen.insert(flow_hash(&a));
        for i in 0..crate::flow::FLOW_WORDS {
            let mut k = a;
            k.as_words_mut()[i] = 1;
            assert!(
                seen.insert(flow_hash(&k)),
                "word {i} does not change the hash"
            );
            for bit in [0, 31, 63] {
                let mut k = a;
                k.as_words_mut()[i] = 1 << bit;
                assert_ne!(flow_hash(&k), flow_hash(&a), "word {i} bit {bit}");
            }
        }
    }
}
