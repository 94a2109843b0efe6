//! One subtable of the tuple space: every rule whose mask is exactly the
//! subtable's, hashed by masked key, with the per-stage indices that let a
//! lookup stop after the metadata, L2 or L3 part of the key.
//!
//! Invariants:
//! - every bucket's `m.mask` is the subtable's mask and its key is masked;
//!   no two buckets have the same key;
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

/// The rules sharing one masked key.
#[derive(Clone, Debug)]
pub(crate) struct Bucket<T> {
    /// The rules' common match.
    pub m: Match,
    /// Hash of the key over all stages.
    hash: u64,
    /// Hashes of the key over the stages before the last.
    partial: [u64; N_STAGES - 1],
    /// (priority, value), strictly decreasing priority.
    pub rules: SmallVec<[(u16, T); 1]>,
}

/// The per-lookup state of every trie.
pub(crate) type TrieMemo = [TrieCtx; super::MAX_PREFIX_FIELDS];

/// All rules of one mask.
#[derive(Clone, Debug)]
pub(crate) struct Subtable<T> {
    /// The mask every rule of the subtable has.
    pub mask: FlowMask,
    words: SmallVec<[(usize, u64); 8]>,
    stage_ends: SmallVec<[usize; N_STAGES]>,
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
            mask,
            words,
            stage_ends,
            indices,
            table: HashTable::new(),
            prio_counts: BTreeMap::new(),
            max_priority: 0,
            n_rules: 0,
            tries: checks,
        }
    }

    /// The hashes of a masked key: the partial hashes of the stages before
    /// the last, and the full hash.
    fn hashes(&self, key: &FlowKey, hs: &RandomState) -> ([u64; N_STAGES - 1], u64) {
        let kw = key.as_words();
        let mut h = hs.build_hasher();
        let mut partial = [0u64; N_STAGES - 1];
        let mut start = 0;
        for (s, &end) in self.stage_ends.iter().enumerate() {
            for &(i, m) in &self.words[start..end] {
                h.write_u64(kw[i] & m);
            }
            if let Some(p) = partial.get_mut(s) {
                *p = h.finish();
            }
            start = end;
        }
        (partial, h.finish())
    }

    fn key_eq(words: &[(usize, u64)], a: &FlowKey, b: &FlowKey) -> bool {
        let (aw, bw) = (a.as_words(), b.as_words());
        words.iter().all(|&(i, m)| (aw[i] ^ bw[i]) & m == 0)
    }

    fn find_bucket(&self, key: &FlowKey, hs: &RandomState) -> Option<&Bucket<T>> {
        let (_, h) = self.hashes(key, hs);
        self.table
            .find(h, |b| Self::key_eq(&self.words, &b.m.key, key))
    }

    fn find_bucket_mut(&mut self, key: &FlowKey, hs: &RandomState) -> Option<&mut Bucket<T>> {
        let (_, h) = self.hashes(key, hs);
        let words = &self.words;
        self.table
            .find_mut(h, |b| Self::key_eq(words, &b.m.key, key))
    }

    /// Inserts a rule of match `m` (whose mask is the subtable's and whose
    /// key is masked); returns the replaced value of an identical rule.
    pub fn insert(&mut self, m: Match, priority: u16, value: T, hs: &RandomState) -> Option<T> {
        let (partial, h) = self.hashes(&m.key, hs);
        let words = &self.words;
        if let Some(b) = self
            .table
            .find_mut(h, |b| Self::key_eq(words, &b.m.key, &m.key))
        {
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
            self.table.insert_unique(
                h,
                Bucket {
                    m,
                    hash: h,
                    partial,
                    rules,
                },
                |b| b.hash,
            );
        }
        *self.prio_counts.entry(priority).or_insert(0) += 1;
        self.max_priority = self.max_priority.max(priority);
        self.n_rules += 1;
        None
    }

    fn unindex(indices: &mut [HashTable<(u64, u32)>], partial: &[u64; N_STAGES - 1]) {
        for (index, &ph) in indices.iter_mut().zip(partial) {
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
        let (_, h) = self.hashes(&m.key, hs);
        let words = &self.words;
        let Ok(mut entry) = self
            .table
            .find_entry(h, |b| Self::key_eq(words, &b.m.key, &m.key))
        else {
            return None;
        };
        let b = entry.get_mut();
        let i = b.rules.binary_search_by(|(p, _)| priority.cmp(p)).ok()?;
        let (_, value) = b.rules.remove(i);
        if b.rules.is_empty() {
            let (b, _) = entry.remove();
            Self::unindex(&mut self.indices, &b.partial);
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

    /// Every bucket.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket<T>> {
        self.table.iter()
    }

    /// Keeps the rules for which `f` is true; calls `removed` with the key of
    /// every rule dropped.
    pub fn retain(
        &mut self,
        f: &mut impl FnMut(&Match, u16, &mut T) -> bool,
        removed: &mut impl FnMut(&FlowKey, u16),
    ) {
        let mut gone: Vec<u16> = Vec::new();
        let indices = &mut self.indices;
        self.table.retain(|b| {
            let m = b.m;
            b.rules.retain(|(p, v)| {
                let keep = f(&m, *p, v);
                if !keep {
                    removed(&m.key, *p);
                    gone.push(*p);
                }
                keep
            });
            if b.rules.is_empty() {
                Self::unindex(indices, &b.partial);
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
    ) -> Option<(&'a Match, u16, &'a T)> {
        let kw = key.as_words();
        let mut h = hs.build_hasher();
        let mut start = 0;
        let last = self.stage_ends.len().saturating_sub(1);
        for (s, &end) in self.stage_ends.iter().enumerate() {
            if self.tries.iter().any(|c| c.stage == s) && rules_out(&self.tries, s, wc, tries, memo)
            {
                return None;
            }
            for &(i, m) in &self.words[start..end] {
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
                    or_words(wc, &self.words[..end]);
                    return None;
                }
            }
            start = end;
        }
        or_words(wc, &self.words);
        let hash = h.finish();
        let b = self
            .table
            .find(hash, |b| Self::key_eq(&self.words, &b.m.key, key))?;
        let (p, v) = b.rules.first()?;
        Some((&b.m, *p, v))
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
