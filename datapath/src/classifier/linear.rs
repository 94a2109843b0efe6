//! The reference classifier: every rule in one vector, scanned in priority
//! order. It is what the tuple-space classifier is tested against, and what
//! other modules' tests may use as an obviously-correct oracle.
//!
//! Invariant: `rules` is sorted by descending priority; among equal
//! priorities, by insertion order. Lookup examines rules in that order and
//! stops at the first match, so the mask it reports is the union of the masks
//! of the rules it examined, which is exactly what proves its answer.

use crate::flow::{FlowKey, FlowMask, Match};

/// A classifier that scans all its rules in priority order.
#[derive(Clone, Debug)]
pub struct LinearClassifier<T> {
    rules: Vec<(Match, u16, T)>,
}

impl<T> Default for LinearClassifier<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> LinearClassifier<T> {
    /// An empty classifier.
    pub fn new() -> Self {
        LinearClassifier { rules: Vec::new() }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn position(&self, m: &Match, priority: u16) -> Option<usize> {
        self.rules
            .iter()
            .position(|(rm, rp, _)| *rp == priority && rm == m)
    }

    /// Inserts; replaces and returns the value of a rule with identical
    /// (match, priority). The match's key is normalised to its mask.
    pub fn insert(&mut self, m: Match, priority: u16, value: T) -> Option<T> {
        let m = Match::new(m.key, m.mask);
        if let Some(i) = self.position(&m, priority) {
            return Some(core::mem::replace(&mut self.rules[i].2, value));
        }
        // After every rule of higher or equal priority.
        let at = self.rules.partition_point(|(_, rp, _)| *rp >= priority);
        self.rules.insert(at, (m, priority, value));
        None
    }

    /// Removes the rule with exactly this (match, priority).
    pub fn remove(&mut self, m: &Match, priority: u16) -> Option<T> {
        let m = Match::new(m.key, m.mask);
        let i = self.position(&m, priority)?;
        Some(self.rules.remove(i).2)
    }

    /// The value of the rule with exactly this (match, priority).
    pub fn get(&self, m: &Match, priority: u16) -> Option<&T> {
        let m = Match::new(m.key, m.mask);
        self.position(&m, priority).map(|i| &self.rules[i].2)
    }

    /// The value of the rule with exactly this (match, priority), mutably.
    pub fn get_mut(&mut self, m: &Match, priority: u16) -> Option<&mut T> {
        let m = Match::new(m.key, m.mask);
        let i = self.position(&m, priority)?;
        Some(&mut self.rules[i].2)
    }

    /// The highest-priority rule matching `key` (the earliest inserted among
    /// equals); ORs the mask of every rule examined into `wc`.
    pub fn lookup(&self, key: &FlowKey, wc: &mut FlowMask) -> Option<(&Match, u16, &T)> {
        for (m, p, v) in &self.rules {
            wc.union_with(&m.mask);
            if m.matches(key) {
                return Some((m, *p, v));
            }
        }
        None
    }

    /// Every rule, highest priority first.
    pub fn iter(&self) -> impl Iterator<Item = (&Match, u16, &T)> {
        self.rules.iter().map(|(m, p, v)| (m, *p, v))
    }

    /// Rules at least as specific as `m` (OpenFlow's non-strict match).
    pub fn iter_loose<'a>(&'a self, m: &'a Match) -> impl Iterator<Item = (&'a Match, u16, &'a T)> {
        self.iter().filter(move |(rm, _, _)| loose_covers(m, rm))
    }

    /// Whether a rule of `priority` could match some packet `m` matches.
    pub fn overlaps(&self, m: &Match, priority: u16) -> bool {
        self.rules
            .iter()
            .any(|(rm, rp, _)| *rp == priority && matches_intersect(m, rm))
    }

    /// Keeps the rules for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&Match, u16, &mut T) -> bool) {
        self.rules.retain_mut(|(m, p, v)| f(m, *p, v));
    }
}

/// Whether `rule` is at least as specific as `m`: its mask covers `m`'s mask
/// and it agrees with `m`'s key on `m`'s mask.
pub fn loose_covers(m: &Match, rule: &Match) -> bool {
    m.mask.is_subset_of(&rule.mask) && rule.key.eq_masked(&m.key, &m.mask)
}

/// Whether some packet matches both `a` and `b`: they agree on every bit both
/// masks examine.
pub fn matches_intersect(a: &Match, b: &Match) -> bool {
    let (ak, bk) = (a.key.as_words(), b.key.as_words());
    let (am, bm) = (a.mask.key.as_words(), b.mask.key.as_words());
    (0..ak.len()).all(|i| (ak[i] ^ bk[i]) & am[i] & bm[i] == 0)
}
