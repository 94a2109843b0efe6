//! One subtable of the tuple space: every rule whose mask is exactly the
//! subtable's, hashed by masked key, with the per-stage indices that let a
//! lookup stop after the metadata, L2 or L3 part of the key.
//!
//! Memory is the constraint that shapes a bucket: a table of 100,000 rules
//! holds about as many buckets, so a bucket keeps only the key words the
//! subtable's mask examines (usually two to four of the key's nineteen),
//! in the order of the mask's word list, and nothing that can be
//! recomputed from them (the hashes). The mask and its word list live once
//! per subtable, in its [`Shape`]; [`MatchRef`] puts the two halves back
//! together for callers that want the rule's match.
//!
//! Invariants:
//! - every bucket's `key` holds, for each `(i, m)` of `words`, the rule
//!   key's word `i` masked by `m`; no two buckets have the same key;
//! - a bucket's rules are sorted by strictly decreasing priority (rules in
//!   one bucket share their match, so equal priorities would be one rule);
//! - `words` lists the nonzero words of the mask stage by stage (a key word
//!   may appear in two stages with disjoint bits); `stage_ends[s]` is where
//!   stage `s` of the nonempty stages ends in `words`;
//! - `indices[s]` holds, for every bucket, the hash of its key over stages
//!   `0..=s`, counted once per bucket; the last stage has no index, the
//!   bucket table is its index;
//! - `prio_counts` counts the rules of each priority; `max_priority` is its
//!   largest key (0 when empty, and an empty subtable does not live long).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use smallvec::SmallVec;

use super::trie::{cidr_len, PrefixTrie, TrieCtx};
use crate::flow::{FlowKey, FlowMask, Match};

/// The lookup stages, in order.
pub(crate) const N_STAGES: usize = 4;

/// The bits of each stage: metadata and tunnel, L2, L3, L4. They partition
/// the key.
pub(crate) fn stage_masks() -> [FlowMask; N_STAGES] {
    let meta = FlowKey {
        in_port: u32::MAX,
        in_phy_port: u32::MAX,
        metadata: u64::MAX,
        tunnel_id: u64::MAX,
        tun_ipv4_src: u32::MAX,
        tun_ipv4_dst: u32::MAX,
        tun_tos: u8::MAX,
        tun_ttl: u8::MAX,
        tun_flags: u16::MAX,
        tun_tp_dst: u16::MAX,
        ..FlowKey::default()
    };

    let l2 = FlowKey {
        eth_dst: [u8::MAX; 6],
        eth_src: [u8::MAX; 6],
        eth_type: u16::MAX,
        vlan_tci: u16::MAX,
        vlan_tci_inner: u16::MAX,
        vlan_tpid: u16::MAX,
        mpls_lse: u32::MAX,
        pbb_isid: u32::MAX,
        ..FlowKey::default()
    };

    let l3 = FlowKey {
        arp_op: u16::MAX,
        ipv6_label: u32::MAX,
        ipv4_src: u32::MAX,
        ipv4_dst: u32::MAX,
        ipv6_src: [u8::MAX; 16],
        ipv6_dst: [u8::MAX; 16],
        nw_proto: u8::MAX,
        nw_tos: u8::MAX,
        nw_ttl: u8::MAX,
        nw_frag: u8::MAX,
        ipv6_exthdr: u16::MAX,
        ..FlowKey::default()
    };

    let l4 = FlowKey {
        nd_target: [u8::MAX; 16],
        tp_src: u16::MAX,
        tp_dst: u16::MAX,
        arp_sha: [u8::MAX; 6],
        tcp_flags: u16::MAX,
        arp_tha: [u8::MAX; 6],
        ..FlowKey::default()
    };

    [meta, l2, l3, l4].map(|key| FlowMask { key })
}

/// A prefix check the subtable makes before hashing one of its stages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrieCheck {
    /// Which of the classifier's tries.
    pub trie: usize,
    /// The subtable's prefix length on the trie's field.
    pub plen: u8,
    /// Before which of the subtable's nonempty stages to check.
    pub stage: usize,
}

/// Key words a bucket holds without a heap allocation of its own; masks
/// with more words are rare and pay for one.
const KEY_INLINE: usize = 4;

/// The rules sharing one masked key.
#[derive(Clone, Debug)]
pub(crate) struct Bucket<T> {
    /// The key's words under the mask, one per entry of the subtable's
    /// `words`, in that order.
    key: SmallVec<[u64; KEY_INLINE]>,
    /// (priority, value), strictly decreasing priority.
    pub rules: SmallVec<[(u16, T); 1]>,
}

/// What every rule of a subtable shares: its mask, and the mask's nonzero
/// words stage by stage.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    /// The mask every rule of the subtable has.
    pub mask: FlowMask,
    /// `(word index, word mask)`, the nonzero words of the mask stage by
    /// stage.
    words: SmallVec<[(usize, u64); 8]>,
    /// Where each nonempty stage ends in `words`.
    stage_ends: SmallVec<[usize; N_STAGES]>,
}

/// A rule's match as a subtable stores it: the subtable's shape and the
/// bucket's key words. [`MatchRef::to_match`] builds the full [`Match`].
#[derive(Clone, Copy)]
pub struct MatchRef<'a> {
    shape: &'a Shape,
    key: &'a [u64],
}

impl<'a> MatchRef<'a> {
    fn new<T>(shape: &'a Shape, b: &'a Bucket<T>) -> MatchRef<'a> {
        MatchRef { shape, key: &b.key }
    }

    /// The match (key masked by the mask).
    pub fn to_match(&self) -> Match {
        let mut key = FlowKey::default();
        let kw = key.as_words_mut();
        for (&(i, _), &v) in self.shape.words.iter().zip(self.key) {
            if let Some(w) = kw.get_mut(i) {
                *w |= v;
            }
        }
        Match {
            key,
            mask: self.shape.mask,
        }
    }

    /// The mask.
    pub fn mask(&self) -> &'a FlowMask {
        &self.shape.mask
    }

    /// Whether `key` agrees with the match's key on every bit of `mask`
    /// (which the caller has checked is within the match's mask).
    pub(crate) fn agrees_on(&self, key: &FlowKey, mask: &FlowMask) -> bool {
        let (kw, mw) = (key.as_words(), mask.key.as_words());
        self.shape
            .words
            .iter()
            .zip(self.key)
            .all(|(&(i, m), &v)| (v ^ kw[i]) & m & mw[i] == 0)
    }

    /// Whether some packet matches both this match and `other`.
    pub(crate) fn intersects(&self, other: &Match) -> bool {
        self.agrees_on(&other.key, &other.mask)
    }
}

impl core::fmt::Debug for MatchRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.to_match().fmt(f)
    }
}

/// The per-lookup state of every trie.
pub(crate) type TrieMemo = [TrieCtx; super::MAX_PREFIX_FIELDS];

/// All rules of one mask.
#[derive(Clone, Debug)]
pub(crate) struct Subtable<T> {
    /// The mask and its words.
    pub shape: Shape,
    indices: SmallVec<[HashTable<(u64, u32)>; N_STAGES - 1]>,
    table: HashTable<Bucket<T>>,
    prio_counts: BTreeMap<u16, u32>,
    /// The highest priority of the subtable's rules.
    pub max_priority: u16,
    /// Number of rules.
    pub n_rules: usize,
    /// Prefix checks, by stage.
    pub tries: SmallVec<[TrieCheck; 2]>,
}

impl<T> Subtable<T> {
    /// An empty subtable for `mask`, checking the prefixes of those of
    /// `tries` on which the mask is a CIDR prefix.
    pub fn new(mask: FlowMask, tries: &[PrefixTrie]) -> Subtable<T> {
        let stages = stage_masks();
        let mw = mask.key.as_words();
        let mut words = SmallVec::new();
        let mut stage_ends = SmallVec::new();
        // For each of the N_STAGES stages, its position among the nonempty ones.
        let mut position = [None; N_STAGES];
        for (s, stage) in stages.iter().enumerate() {
            let before = words.len();
            for (i, sw) in stage.key.as_words().iter().enumerate() {
                let m = mw[i] & sw;
                if m != 0 {
                    words.push((i, m));
                }
            }
            if words.len() > before {
                position[s] = Some(stage_ends.len());
                stage_ends.push(words.len());
            }
        }
        let indices = (1..stage_ends.len()).map(|_| HashTable::new()).collect();
        let mut checks = SmallVec::new();
        for (t, trie) in tries.iter().enumerate() {
            let field = trie.field();
            let Some(plen) = cidr_len(field, field.get(&mask.key)) else {
                continue;
            };
            let mut fm = FlowMask::wildcard();
            fm.set_exact(field);
            // The first stage holding bits of the field.
            let stage = stages.iter().enumerate().find_map(|(s, st)| {
                let hit = fm
                    .key
                    .as_words()
                    .iter()
                    .zip(st.key.as_words())
                    .zip(mw)
                    .any(|((f, s), m)| f & s & m != 0);
                if hit {
                    position[s]
                } else {
                    None
                }
            });
            if let Some(stage) = stage {
                checks.push(TrieCheck {
                    trie: t,
                    plen,
                    stage,
                });
            }
        }
        Subtable {
            shape: Shape {
                mask,
                words,
                stage_ends,
            },
            indices,
            table: HashTable::new(),
            prio_counts: BTreeMap::new(),
            max_priority: 0,
            n_rules: 0,
            tries: checks,
        }
    }

    /// The key words of `key` under the mask, as a bucket stores them.
    fn key_words(&self, key: &FlowKey) -> SmallVec<[u64; KEY_INLINE]> {
        let kw = key.as_words();
        self.shape.words.iter().map(|&(i, m)| kw[i] & m).collect()
    }

    /// The hashes of a bucket's key words: those of the stages before the
    /// last, and the full hash.
    fn hashes(stage_ends: &[usize], key: &[u64], hs: &RandomState) -> ([u64; N_STAGES - 1], u64) {
        let mut h = hs.build_hasher();
        let mut partial = [0u64; N_STAGES - 1];
        let mut start = 0;
        for (s, &end) in stage_ends.iter().enumerate() {
            for &w in key.get(start..end).unwrap_or_default() {
                h.write_u64(w);
            }
            if let Some(p) = partial.get_mut(s) {
                *p = h.finish();
            }
            start = end;
        }
        (partial, h.finish())
    }

    /// The full hash of a bucket's key words.
    fn hash(key: &[u64], hs: &RandomState) -> u64 {
        let mut h = hs.build_hasher();
        for &w in key {
            h.write_u64(w);
        }
        h.finish()
    }

    fn find_bucket(&self, key: &FlowKey, hs: &RandomState) -> Option<&Bucket<T>> {
        let k = self.key_words(key);
        self.table.find(Self::hash(&k, hs), |b| b.key == k)
    }

    fn find_bucket_mut(&mut self, key: &FlowKey, hs: &RandomState) -> Option<&mut Bucket<T>> {
        let k = self.key_words(key);
        self.table.find_mut(Self::hash(&k, hs), |b| b.key == k)
    }

    /// Inserts a rule of match `m` (whose mask is the subtable's and whose
    /// key is masked); returns the replaced value of an identical rule.
    pub fn insert(&mut self, m: Match, priority: u16, value: T, hs: &RandomState) -> Option<T> {
        let key = self.key_words(&m.key);
        let (partial, h) = Self::hashes(&self.shape.stage_ends, &key, hs);
        if let Some(b) = self.table.find_mut(h, |b| b.key == key) {
            match b.rules.binary_search_by(|(p, _)| priority.cmp(p)) {
                Ok(i) => return Some(core::mem::replace(&mut b.rules[i].1, value)),
                Err(i) => b.rules.insert(i, (priority, value)),
            }
        } else {
            for (index, &ph) in self.indices.iter_mut().zip(&partial) {
                match index.find_mut(ph, |e| e.0 == ph) {
                    Some(e) => e.1 += 1,
                    None => {
                        index.insert_unique(ph, (ph, 1), |e| e.0);
                    }
                }
            }
            let mut rules = SmallVec::new();
            rules.push((priority, value));
            self.table
                .insert_unique(h, Bucket { key, rules }, |b| Self::hash(&b.key, hs));
        }
        *self.prio_counts.entry(priority).or_insert(0) += 1;
        self.max_priority = self.max_priority.max(priority);
        self.n_rules += 1;
        None
    }

    /// Forgets the partial hashes of a bucket's key words.
    fn unindex(
        indices: &mut [HashTable<(u64, u32)>],
        stage_ends: &[usize],
        key: &[u64],
        hs: &RandomState,
    ) {
        let (partial, _) = Self::hashes(stage_ends, key, hs);
        for (index, &ph) in indices.iter_mut().zip(&partial) {
            if let Ok(mut e) = index.find_entry(ph, |e| e.0 == ph) {
                e.get_mut().1 -= 1;
                if e.get().1 == 0 {
                    e.remove();
                }
            }
        }
    }

    fn uncount(&mut self, priority: u16) {
        if let Some(c) = self.prio_counts.get_mut(&priority) {
            *c -= 1;
            if *c == 0 {
                self.prio_counts.remove(&priority);
            }
        }
        self.n_rules -= 1;
        self.max_priority = self.prio_counts.keys().next_back().copied().unwrap_or(0);
    }

    /// Removes the rule of match `m` (masked, of this mask) and `priority`.
    pub fn remove(&mut self, m: &Match, priority: u16, hs: &RandomState) -> Option<T> {
        let key = self.key_words(&m.key);
        let Ok(mut entry) = self
            .table
            .find_entry(Self::hash(&key, hs), |b| b.key == key)
        else {
            return None;
        };
        let b = entry.get_mut();
        let i = b.rules.binary_search_by(|(p, _)| priority.cmp(p)).ok()?;
        let (_, value) = b.rules.remove(i);
        if b.rules.is_empty() {
            let (b, _) = entry.remove();
            Self::unindex(&mut self.indices, &self.shape.stage_ends, &b.key, hs);
        }
        self.uncount(priority);
        Some(value)
    }

    /// The value of the rule of match `m` (masked, of this mask) and
    /// `priority`.
    pub fn get(&self, m: &Match, priority: u16, hs: &RandomState) -> Option<&T> {
        let b = self.find_bucket(&m.key, hs)?;
        let i = b.rules.binary_search_by(|(p, _)| priority.cmp(p)).ok()?;
        Some(&b.rules[i].1)
    }

    /// The value of the rule, mutably.
    pub fn get_mut(&mut self, m: &Match, priority: u16, hs: &RandomState) -> Option<&mut T> {
        let b = self.find_bucket_mut(&m.key, hs)?;
        let i = b.rules.binary_search_by(|(p, _)| priority.cmp(p)).ok()?;
        Some(&mut b.rules[i].1)
    }

    /// Whether some rule of the subtable has priority `priority`.
    pub fn has_priority(&self, priority: u16) -> bool {
        self.prio_counts.contains_key(&priority)
    }

    /// The bucket whose key is `key` masked by the subtable's mask.
    pub fn bucket_for(&self, key: &FlowKey, hs: &RandomState) -> Option<&Bucket<T>> {
        self.find_bucket(key, hs)
    }

    /// Every bucket, with its match.
    pub fn buckets(&self) -> impl Iterator<Item = (MatchRef<'_>, &Bucket<T>)> {
        self.table
            .iter()
            .map(|b| (MatchRef::new(&self.shape, b), b))
    }

    /// Keeps the rules for which `f` is true; calls `removed` with the key of
    /// every rule dropped.
    pub fn retain(
        &mut self,
        f: &mut impl FnMut(MatchRef<'_>, u16, &mut T) -> bool,
        removed: &mut impl FnMut(&FlowKey, u16),
        hs: &RandomState,
    ) {
        let mut gone: Vec<u16> = Vec::new();
        let indices = &mut self.indices;
        let shape = &self.shape;
        self.table.retain(|b| {
            let key = &b.key;
            b.rules.retain(|(p, v)| {
                let m = MatchRef { shape, key };
                let keep = f(m, *p, v);
                if !keep {
                    removed(&m.to_match().key, *p);
                    gone.push(*p);
                }
                keep
            });
            if b.rules.is_empty() {
                Self::unindex(indices, &shape.stage_ends, &b.key, hs);
                false
            } else {
                true
            }
        });
        for p in gone {
            self.uncount(p);
        }
    }

    /// Looks `key` up, ORing into `wc` the bits that decided the answer.
    /// `memo` caches the trie walks of this lookup across subtables.
    #[inline]
    pub fn lookup<'a>(
        &'a self,
        key: &FlowKey,
        wc: &mut FlowMask,
        hs: &RandomState,
        tries: &[PrefixTrie],
        memo: &mut TrieMemo,
    ) -> Option<(MatchRef<'a>, u16, &'a T)> {
        let kw = key.as_words();
        let mut h = hs.build_hasher();
        let mut start = 0;
        let shape = &self.shape;
        let last = shape.stage_ends.len().saturating_sub(1);
        for (s, &end) in shape.stage_ends.iter().enumerate() {
            if self.tries.iter().any(|c| c.stage == s) && rules_out(&self.tries, s, wc, tries, memo)
            {
                return None;
            }
            for &(i, m) in &shape.words[start..end] {
                h.write_u64(kw[i] & m);
            }
            if s < last {
                let ph = h.finish();
                let present = self
                    .indices
                    .get(s)
                    .is_some_and(|index| index.find(ph, |e| e.0 == ph).is_some());
                if !present {
                    // Stages 0..=s alone prove that nothing here matches.
                    or_words(wc, &shape.words[..end]);
                    return None;
                }
            }
            start = end;
        }
        or_words(wc, &shape.words);
        let hash = h.finish();
        // Every bucket holds one key word per mask word.
        let b = self.table.find(hash, |b| {
            shape
                .words
                .iter()
                .zip(&b.key)
                .all(|(&(i, m), &v)| kw[i] & m == v)
        })?;
        let (p, v) = b.rules.first()?;
        Some((MatchRef::new(shape, b), *p, v))
    }
}

#[inline]
fn or_words(wc: &mut FlowMask, words: &[(usize, u64)]) {
    let w = wc.key.as_words_mut();
    for &(i, m) in words {
        w[i] |= m;
    }
}

/// Whether the prefix checks of stage `s` prove that no rule of the
/// subtable matches; if so ORs the proof into `wc`. Any one check that rules
/// out is a proof, so those whose trie this lookup has walked already go
/// first: their answer costs no memory access, and their bits are often in
/// `wc` already. The others follow in trie order, each walked at most once
/// per lookup.
#[inline]
fn rules_out(
    checks: &[TrieCheck],
    s: usize,
    wc: &mut FlowMask,
    tries: &[PrefixTrie],
    memo: &mut TrieMemo,
) -> bool {
    // First the walked tries only, then all (a walked one answers again
    // from the memo).
    for only_walked in [true, false] {
        for check in checks.iter().filter(|c| c.stage == s) {
            if only_walked && !memo.get(check.trie).is_some_and(TrieCtx::walked) {
                continue;
            }
            if trie_rules_out(check, wc, tries, memo) {
                return true;
            }
        }
    }
    false
}

/// Whether the trie proves that no rule of the checked prefix length matches
/// `key`; if so ORs into `wc` the leading bits of the field that prove it.
#[inline]
fn trie_rules_out(
    check: &TrieCheck,
    wc: &mut FlowMask,
    tries: &[PrefixTrie],
    memo: &mut TrieMemo,
) -> bool {
    let (Some(trie), Some(slot)) = (tries.get(check.trie), memo.get_mut(check.trie)) else {
        return false;
    };
    let found = slot.answer(trie);
    if found.has_plen(check.plen) {
        return false;
    }
    // Whether a prefix of length `plen` matches depends on the first `plen`
    // bits only, and the walk's answer on the first `maskbits`; either set
    // of bits is a proof.
    let bits = found.maskbits.min(check.plen);
    trie.or_prefix(wc, bits);
    true
}

/// Checks the stage masks partition the key.
#[cfg(test)]
pub(crate) fn stages_partition_the_key() -> bool {
    let stages = stage_masks();
    let mut seen = [0u64; crate::flow::FLOW_WORDS];
    for st in &stages {
        for (acc, w) in seen.iter_mut().zip(st.key.as_words()) {
            if *acc & w != 0 {
                return false;
            }
            *acc |= w;
        }
    }
    seen.iter().all(|w| *w == u64::MAX)
}
