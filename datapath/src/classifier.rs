//! The OpenFlow flow-table classifier: prioritized wildcard rules, looked up
//! by packet key, reporting the mask of every bit the lookup examined so that
//! the megaflow cache can install the widest entry that is still exact.
//!
//! # Design
//!
//! **Tuple space search.** Rules are grouped by mask: one subtable per
//! distinct mask, each a hash table from masked key to the rules with exactly
//! that masked key (several rules can share one match at different
//! priorities). Looking a packet up in a subtable is one hash of the packet's
//! key under the subtable's mask, so a lookup costs O(number of distinct
//! masks), whatever the number of rules. Hashes are keyed with a per-process
//! random seed: packet headers are chosen by whoever sends the packets.
//!
//! **Priority order and early exit.** Subtables are kept sorted by the
//! highest priority of their rules (ties broken by the mask itself, so the
//! order depends only on the rule set). A lookup walks them in that order and
//! stops as soon as the best rule found so far has a priority at least the
//! next subtable's highest: nothing further could win. Among rules of equal
//! priority matching the same packet the one in the earlier subtable wins,
//! which OpenFlow leaves unspecified but which is deterministic here.
//!
//! **The mask a lookup reports.** The caller's `wc` receives every bit the
//! answer depends on. The invariant: any packet equal to the looked-up one on
//! the bits of `wc` gets the same answer (the same rule, or no rule). A
//! spurious 1 bit in `wc` is safe (the megaflow is merely narrower than it
//! could be); a missing 1 bit is a bug (a packet that differs there could be
//! forwarded by the wrong rule from the cache). Each subtable consulted
//! contributes the bits that decided its own answer; subtables skipped by
//! the early exit contribute nothing, because no packet could make them win.
//!
//! **Staged lookup.** A subtable's mask is cut into up to four stages:
//! metadata and tunnel fields, L2, L3, L4 (`subtable::stage_masks`). The
//! hash is computed incrementally, and after every stage but the last the
//! partial hash is looked up in an index of the partial hashes of the
//! subtable's rules. A miss there proves that no rule of the subtable agrees
//! with the packet on the stages so far, so only those stages' bits go into
//! `wc`: a packet whose in_port or EtherType rules a subtable out does not
//! unwildcard its L4 ports. (A collision of partial hashes only makes the
//! lookup go on to the next stage; it never causes a wrong answer.)
//!
//! **Prefix tracking.** For each prefix field (by default the IPv4 and IPv6
//! addresses) a binary trie records the prefix of every rule whose mask on that
//! field is a CIDR prefix. Before hashing the stage that holds the field, a
//! subtable whose mask on the field is a /L prefix asks the trie (walked at
//! most once per lookup and field) whether any rule prefix of length L
//! matches the packet. If none does, no rule of the subtable can match; the
//! proof needs only the first min(L, bits the walk read) bits of the field
//! (whether a /L prefix matches depends on the first L bits alone, and the
//! walk's answer on the bits it read), so that is all `wc` receives, and
//! none of the subtable's other bits. A packet that only needs a /8
//! decision thus gets an 8-bit (or so) mask rather than a 32-bit one. When
//! a stage has several prefix checks, those whose trie this lookup already
//! walked go first: any one that rules out is a proof, it costs no memory
//! access, and its bits are usually in `wc` already (a source /16 plus
//! destination /32 subtable after a destination /24 one is ruled out by the
//! destination answer, without walking the source trie). The tries keep a
//! shortcut table over their first bits so that a walk costs about one
//! memory read however many prefixes there are.
//!
//! **Costs.** Lookup allocates nothing, touches each subtable at most once
//! and walks each trie at most once. Insertion and removal are O(1) hash
//! operations, O(log) priority bookkeeping, a trie update (amortized O(prefix
//! length) with its shortcut), and an O(number of subtables) reordering when
//! a subtable's highest priority changes. [`Classifier::iter_loose`] scans the subtables
//! whose mask covers the query's; [`Classifier::overlaps`] looks the query
//! up directly in subtables whose mask it covers and scans the others that
//! hold a rule of the priority asked about.
//!
//! **Memory.** A subtable stores its mask once; each of its hash-table
//! entries holds only the key words that mask examines (a few of the key's
//! nineteen) and the rules, and no hashes (they are recomputed from the key
//! words when the table grows or an entry goes). Lookups and iteration
//! therefore hand out a [`MatchRef`], which rebuilds the full [`Match`] on
//! request; the pipeline's callers only want the rule.
//!
//! [`linear::LinearClassifier`] is the obviously-correct reference the tests
//! compare against.

pub mod linear;
mod subtable;
mod trie;

use foldhash::fast::RandomState;
use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::flow::{Field, FlowKey, FlowMask, Match};
pub use subtable::MatchRef;
use subtable::{Subtable, TrieMemo};
use trie::{PrefixTrie, TrieCtx};

/// The prefix fields tracked by [`Classifier::new`].
pub const DEFAULT_PREFIX_FIELDS: &[Field] = &[
    Field::Ipv4Src,
    Field::Ipv4Dst,
    Field::Ipv6Src,
    Field::Ipv6Dst,
];

/// The largest number of prefix fields a classifier tracks.
pub const MAX_PREFIX_FIELDS: usize = 4;

/// A set of prioritized (match, priority) → value rules.
///
/// Priorities are OpenFlow's: higher wins. A rule is identified by its match
/// and priority; inserting the same pair again replaces the value.
#[derive(Clone, Debug)]
pub struct Classifier<T> {
    /// In lookup order: highest `max_priority` first, then by mask.
    subtables: Vec<Subtable<T>>,
    /// Position of each mask's subtable in `subtables`.
    positions: HashMap<FlowMask, usize, RandomState>,
    tries: SmallVec<[PrefixTrie; 4]>,
    hash_state: RandomState,
    n_rules: usize,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The order of subtables: higher top priority first, then by mask words.
fn order_key(
    st: &Subtable<impl Sized>,
) -> (core::cmp::Reverse<u16>, &[u64; crate::flow::FLOW_WORDS]) {
    (
        core::cmp::Reverse(st.max_priority),
        st.shape.mask.key.as_words(),
    )
}

impl<T> Classifier<T> {
    /// An empty classifier tracking prefixes of the IPv4 and IPv6 addresses.
    pub fn new() -> Self {
        Self::with_prefix_fields(DEFAULT_PREFIX_FIELDS)
    }

    /// An empty classifier tracking prefixes of `fields` (duplicates are
    /// ignored, and fields past the first [`MAX_PREFIX_FIELDS`]).
    pub fn with_prefix_fields(fields: &[Field]) -> Self {
        let mut tries: SmallVec<[PrefixTrie; 4]> = SmallVec::new();
        for &f in fields {
            if tries.len() < MAX_PREFIX_FIELDS && !tries.iter().any(|t| t.field() == f) {
                tries.push(PrefixTrie::new(f));
            }
        }
        Classifier {
            subtables: Vec::new(),
            positions: HashMap::with_hasher(RandomState::default()),
            tries,
            hash_state: RandomState::default(),
            n_rules: 0,
        }
    }

    /// The fields whose prefixes are tracked.
    pub fn prefix_fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.tries.iter().map(PrefixTrie::field)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.n_rules
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// Number of distinct masks among the rules (the cost of a lookup).
    pub fn n_subtables(&self) -> usize {
        self.subtables.len()
    }

    /// Moves the subtable at `i` to its place in lookup order, or drops it
    /// when it became empty, and fixes `positions`.
    fn reposition(&mut self, i: usize) {
        if self.subtables[i].n_rules == 0 {
            let st = self.subtables.remove(i);
            self.positions.remove(&st.shape.mask);
            self.fix_positions(i..self.subtables.len());
            return;
        }
        let st = self.subtables.remove(i);
        let key = order_key(&st);
        let j = self.subtables.partition_point(|o| order_key(o) < key);
        self.subtables.insert(j, st);
        self.fix_positions(i.min(j)..i.max(j) + 1);
    }

    fn fix_positions(&mut self, range: core::ops::Range<usize>) {
        for k in range {
            if let Some(st) = self.subtables.get(k) {
                self.positions.insert(st.shape.mask, k);
            }
        }
    }

    fn trie_insert(tries: &mut [PrefixTrie], st: &Subtable<T>, key: &FlowKey) {
        for check in &st.tries {
            if let Some(trie) = tries.get_mut(check.trie) {
                let v = trie.key_value(key);
                trie.insert(v, check.plen);
            }
        }
    }

    fn trie_remove(tries: &mut [PrefixTrie], st: &Subtable<T>, key: &FlowKey) {
        for check in &st.tries {
            if let Some(trie) = tries.get_mut(check.trie) {
                let v = trie.key_value(key);
                trie.remove(v, check.plen);
            }
        }
    }

    /// Inserts; replaces and returns the value of a rule with identical
    /// (match, priority). Key bits outside the mask are ignored.
    pub fn insert(&mut self, m: Match, priority: u16, value: T) -> Option<T> {
        let m = Match::new(m.key, m.mask);
        let i = match self.positions.get(&m.mask) {
            Some(&i) => i,
            None => {
                self.subtables.push(Subtable::new(m.mask, &self.tries));
                let i = self.subtables.len() - 1;
                self.positions.insert(m.mask, i);
                i
            }
        };
        let st = &mut self.subtables[i];
        let was_empty = st.n_rules == 0;
        let old_max = st.max_priority;
        let replaced = st.insert(m, priority, value, &self.hash_state);
        if replaced.is_none() {
            self.n_rules += 1;
            Self::trie_insert(&mut self.tries, &self.subtables[i], &m.key);
            if was_empty || self.subtables[i].max_priority != old_max {
                self.reposition(i);
            }
        }
        replaced
    }

    /// Removes the rule with exactly this (match, priority) (strict).
    pub fn remove(&mut self, m: &Match, priority: u16) -> Option<T> {
        let m = Match::new(m.key, m.mask);
        let &i = self.positions.get(&m.mask)?;
        let st = &mut self.subtables[i];
        let old_max = st.max_priority;
        let value = st.remove(&m, priority, &self.hash_state)?;
        self.n_rules -= 1;
        Self::trie_remove(&mut self.tries, &self.subtables[i], &m.key);
        let st = &self.subtables[i];
        if st.n_rules == 0 || st.max_priority != old_max {
            self.reposition(i);
        }
        Some(value)
    }

    /// The value of the rule with exactly this (match, priority) (strict).
    pub fn get(&self, m: &Match, priority: u16) -> Option<&T> {
        let m = Match::new(m.key, m.mask);
        let &i = self.positions.get(&m.mask)?;
        self.subtables[i].get(&m, priority, &self.hash_state)
    }

    /// The value of the rule with exactly this (match, priority), mutably.
    pub fn get_mut(&mut self, m: &Match, priority: u16) -> Option<&mut T> {
        let m = Match::new(m.key, m.mask);
        let &i = self.positions.get(&m.mask)?;
        self.subtables[i].get_mut(&m, priority, &self.hash_state)
    }

    /// Highest-priority rule matching `key`; ORs into `wc` every bit it
    /// examined (also when there is no match: the bits that proved no rule
    /// matches). Allocates nothing.
    pub fn lookup(&self, key: &FlowKey, wc: &mut FlowMask) -> Option<(MatchRef<'_>, u16, &T)> {
        let mut memo: TrieMemo = [TrieCtx::default(); MAX_PREFIX_FIELDS];
        for (ctx, trie) in memo.iter_mut().zip(&self.tries) {
            *ctx = TrieCtx::start(trie, key);
        }
        let mut best: Option<(MatchRef<'_>, u16, &T)> = None;
        for st in &self.subtables {
            if let Some((_, p, _)) = best {
                if p >= st.max_priority {
                    break;
                }
            }
            if let Some(hit) = st.lookup(key, wc, &self.hash_state, &self.tries, &mut memo) {
                if best.is_none_or(|(_, p, _)| hit.1 > p) {
                    best = Some(hit);
                }
            }
        }
        best
    }

    /// Every rule, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (MatchRef<'_>, u16, &T)> {
        self.subtables.iter().flat_map(|st| {
            st.buckets()
                .flat_map(|(m, b)| b.rules.iter().map(move |(p, v)| (m, *p, v)))
        })
    }

    /// Non-strict: rules whose match is at least as specific as `m` (rule
    /// mask ⊇ `m.mask`, rule key agrees with `m.key` on `m.mask`), in no
    /// particular order. OpenFlow's modify/delete.
    pub fn iter_loose<'a>(
        &'a self,
        m: &'a Match,
    ) -> impl Iterator<Item = (MatchRef<'a>, u16, &'a T)> {
        self.subtables
            .iter()
            .filter(move |st| m.mask.is_subset_of(&st.shape.mask))
            .flat_map(move |st| {
                st.buckets()
                    .filter(move |(rm, _)| rm.agrees_on(&m.key, &m.mask))
                    .flat_map(|(rm, b)| b.rules.iter().map(move |(p, v)| (rm, *p, v)))
            })
    }

    /// Whether a rule of this same priority could match some packet `m`
    /// matches (`OFPFF_CHECK_OVERLAP`). A rule identical to `m` counts.
    pub fn overlaps(&self, m: &Match, priority: u16) -> bool {
        let m = Match::new(m.key, m.mask);
        self.subtables
            .iter()
            .take_while(|st| st.max_priority >= priority)
            .filter(|st| st.has_priority(priority))
            .any(|st| {
                if st.shape.mask.is_subset_of(&m.mask) {
                    // A rule intersects `m` only if it equals `m`'s key on
                    // the whole subtable mask: one bucket to look at.
                    st.bucket_for(&m.key, &self.hash_state)
                        .is_some_and(|b| b.rules.iter().any(|(p, _)| *p == priority))
                } else {
                    st.buckets().any(|(rm, b)| {
                        rm.intersects(&m) && b.rules.iter().any(|(p, _)| *p == priority)
                    })
                }
            })
    }

    /// Keeps the rules for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(MatchRef<'_>, u16, &mut T) -> bool) {
        let mut dropped = 0usize;
        let hs = &self.hash_state;
        for st in &mut self.subtables {
            let tries = &mut self.tries;
            let checks = st.tries.clone();
            st.retain(
                &mut f,
                &mut |key: &FlowKey, _p| {
                    dropped += 1;
                    for check in &checks {
                        if let Some(trie) = tries.get_mut(check.trie) {
                            let v = trie.key_value(key);
                            trie.remove(v, check.plen);
                        }
                    }
                },
                hs,
            );
        }
        self.n_rules -= dropped;
        if dropped > 0 {
            self.subtables.retain(|st| st.n_rules > 0);
            self.subtables
                .sort_by(|a, b| order_key(a).cmp(&order_key(b)));
            self.positions.clear();
            self.fix_positions(0..self.subtables.len());
        }
    }
}

#[cfg(test)]
mod tests;
