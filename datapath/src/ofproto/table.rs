//! One OpenFlow flow table: a classifier of `Arc<Rule>`s plus the table's
//! configuration and counters.
//!
//! Mutation goes through this type only (insert, remove, retain) so that the
//! count of rules with timeouts stays exact; expiry skips tables that have
//! none, which keeps the periodic `expire` scan cheap on the usual pipeline
//! of permanent rules. Lookups and statistics read through `&self` and are
//! safe under the pipeline's read lock.
//!
//! Table-miss (OpenFlow 1.3.5, 5.4): a table holds no implicit rule. A packet
//! that matches nothing is dropped; a controller that wants misses sent to it
//! installs a priority-0 catch-all rule (the table-miss flow entry).

use super::rule::Rule;
use crate::classifier::Classifier;
use crate::flow::{FlowKey, FlowMask, Match};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The highest table number (`OFPTT_MAX`).
pub const OFPTT_MAX: u8 = 0xfe;
/// Every table, in deletes and statistics requests (`OFPTT_ALL`).
pub const OFPTT_ALL: u8 = 0xff;
/// Number of tables of the pipeline (ids 0..=`OFPTT_MAX`).
pub const N_TABLES: usize = 255;
/// Default capacity of a table.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// The bits of a table's configuration that OpenFlow 1.3 deprecates
/// (`OFPTC_DEPRECATED_MASK`; 1.1's miss behaviour).
pub const OFPTC_DEPRECATED_MASK: u32 = 3;

/// One flow table.
#[derive(Debug)]
pub struct Table {
    id: u8,
    classifier: Classifier<Arc<Rule>>,
    timed: usize,
    /// Name reported in table features.
    pub name: String,
    /// Capacity; an add beyond it fails with `OFPFMFC_TABLE_FULL`.
    pub max_entries: usize,
    /// `OFPTC_*` bits as last set by a table mod (kept, not acted on in 1.3).
    pub config: u32,
    lookups: AtomicU64,
    matched: AtomicU64,
}

impl Table {
    /// An empty table numbered `id`.
    pub fn new(id: u8) -> Table {
        Table {
            id,
            classifier: Classifier::new(),
            timed: 0,
            name: format!("table{id}"),
            max_entries: DEFAULT_MAX_ENTRIES,
            config: 0,
            lookups: AtomicU64::new(0),
            matched: AtomicU64::new(0),
        }
    }

    /// The table's number.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.classifier.len()
    }

    /// Whether the table has no rule.
    pub fn is_empty(&self) -> bool {
        self.classifier.is_empty()
    }

    /// The highest-priority rule matching `key`; ORs into `wc` every bit the
    /// lookup examined (also on a miss). Counters are not touched: the
    /// caller credits them with [`Table::credit_lookups`].
    #[inline]
    pub fn lookup(&self, key: &FlowKey, wc: &mut FlowMask) -> Option<&Arc<Rule>> {
        self.classifier.lookup(key, wc).map(|(_, _, r)| r)
    }

    /// The rule with exactly this match and priority.
    pub fn get(&self, m: &Match, priority: u16) -> Option<&Arc<Rule>> {
        self.classifier.get(m, priority)
    }

    /// Every rule, in no particular order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> + '_ {
        self.classifier.iter().map(|(_, _, r)| r)
    }

    /// Rules at least as specific as `m` (non-strict selection).
    pub fn rules_loose<'a>(&'a self, m: &'a Match) -> impl Iterator<Item = &'a Arc<Rule>> + 'a {
        self.classifier.iter_loose(m).map(|(_, _, r)| r)
    }

    /// Whether a rule of `priority` overlaps `m`.
    pub fn overlaps(&self, m: &Match, priority: u16) -> bool {
        self.classifier.overlaps(m, priority)
    }

    /// The classifier itself (read-only).
    pub fn classifier(&self) -> &Classifier<Arc<Rule>> {
        &self.classifier
    }

    /// Adds `lookups` lookups of which `matched` found a rule.
    #[inline]
    pub fn credit_lookups(&self, lookups: u64, matched: u64) {
        self.lookups.fetch_add(lookups, Ordering::Relaxed);
        self.matched.fetch_add(matched, Ordering::Relaxed);
    }

    /// Lookups counted.
    pub fn lookup_count(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Lookups that found a rule.
    pub fn matched_count(&self) -> u64 {
        self.matched.load(Ordering::Relaxed)
    }

    /// Whether any rule has a timeout.
    pub fn has_timeouts(&self) -> bool {
        self.timed != 0
    }

    /// Inserts `rule`, returning the one with identical match and priority it replaced.
    pub(super) fn insert(&mut self, rule: Arc<Rule>) -> Option<Arc<Rule>> {
        if rule.has_timeout() {
            self.timed += 1;
        }
        let old = self.classifier.insert(rule.match_(), rule.priority, rule);
        if old.as_ref().is_some_and(|o| o.has_timeout()) {
            self.timed -= 1;
        }
        old
    }

    /// Replaces the rule with identical match and priority by `rule` (same
    /// timeouts), returning the old one; `None` (and no change) if absent.
    pub(super) fn replace(&mut self, rule: Arc<Rule>) -> Option<Arc<Rule>> {
        let slot = self.classifier.get_mut(&rule.match_(), rule.priority)?;
        let timed_delta = (isize::from(rule.has_timeout())) - isize::from(slot.has_timeout());
        let old = std::mem::replace(slot, rule);
        self.timed = self.timed.saturating_add_signed(timed_delta);
        Some(old)
    }

    /// Removes the rule with exactly this match and priority.
    pub(super) fn remove(&mut self, m: &Match, priority: u16) -> Option<Arc<Rule>> {
        let old = self.classifier.remove(m, priority);
        if old.as_ref().is_some_and(|o| o.has_timeout()) {
            self.timed -= 1;
        }
        old
    }

    /// Removes the rules for which `doomed` says yes and returns them.
    pub(super) fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&Arc<Rule>) -> bool,
    ) -> Vec<Arc<Rule>> {
        let mut out = Vec::new();
        self.classifier.retain(|_, _, r| {
            if doomed(r) {
                out.push(Arc::clone(r));
                false
            } else {
                true
            }
        });
        self.timed -= out.iter().filter(|r| r.has_timeout()).count();
        out
    }
}
