//! Flow entries: an immutable description shared as `Arc<Rule>`, plus atomic
//! statistics that forwarding threads credit without any lock but the
//! pipeline's read lock.
//!
//! A rule never changes after it is inserted, except for its counters. A
//! modify builds a new `Rule` with the new instructions and swaps it into the
//! classifier; the new rule shares the old one's `Arc<RuleStats>` (unless
//! `reset_counts` is asked), so packets that a cache credits to a reference
//! still pointing at the old rule are counted in the new one too. This is why
//! translation can hand out `Arc<Rule>`s freely: a reference is a snapshot of
//! the rule's behaviour and a live handle on its counters.
//!
//! A rule keeps its match packed ([`PackedMatch`]: only the words its mask
//! examines), as a large table holds many rules that examine two or three
//! of the flow key's words, and the classifier keeps its own copy for
//! lookups; [`Rule::match_`] unpacks it.
//!
//! Counters use relaxed atomics: each is an independent monotonic sum, and
//! readers (statistics replies, expiry) tolerate a value a few packets old.
//! `last_used_ms` only moves forward (`fetch_max`), so credits pushed late by
//! a slow thread never make a rule look idle longer than it was.

use super::instruction::Instructions;
use crate::flow::{FlowKey, FlowMask, Match, FLOW_WORDS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

flag_set! {
    /// Flags of a flow entry (`ofp_flow_mod_flags`).
    FlowModFlags: u16 {
        /// Send a flow-removed message when the entry expires or is deleted.
        SEND_FLOW_REM = 1 << 0;
        /// Refuse to add the entry if it overlaps one of the same priority.
        CHECK_OVERLAP = 1 << 1;
        /// Reset the counters of the entry being replaced or modified.
        RESET_COUNTS = 1 << 2;
        /// Do not keep a packet count.
        NO_PKT_COUNTS = 1 << 3;
        /// Do not keep a byte count.
        NO_BYT_COUNTS = 1 << 4;
    }
}

/// The live counters of a rule.
#[derive(Debug, Default)]
pub struct RuleStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    last_used_ms: AtomicU64,
}

impl RuleStats {
    /// Counters at zero, last used at `now_ms` (idle time starts at creation).
    pub fn new(now_ms: u64) -> RuleStats {
        RuleStats {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last_used_ms: AtomicU64::new(now_ms),
        }
    }

    /// Adds `packets` and `bytes` seen at `used_ms`.
    #[inline]
    pub fn credit(&self, packets: u64, bytes: u64, used_ms: u64) {
        if packets != 0 {
            self.packets.fetch_add(packets, Ordering::Relaxed);
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            self.last_used_ms.fetch_max(used_ms, Ordering::Relaxed);
        }
    }

    /// Marks the rule as used at `used_ms` without counting packets.
    pub fn touch(&self, used_ms: u64) {
        self.last_used_ms.fetch_max(used_ms, Ordering::Relaxed);
    }

    /// Packets counted so far.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// When a packet last matched (or the rule was created), in ms.
    pub fn last_used_ms(&self) -> u64 {
        self.last_used_ms.load(Ordering::Relaxed)
    }
}

// Every word of a key has its bit in `PackedMatch::present`.
const _: () = assert!(FLOW_WORDS <= 32);

/// A match stored by the words its mask examines only: a catch-all takes
/// no heap, a match on two fields of different words 32 bytes of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedMatch {
    /// Bit `i` set: word `i` of the mask is not zero.
    present: u32,
    /// For each present word, in order: the key word, then the mask word.
    words: Box<[u64]>,
}

impl PackedMatch {
    /// Packs `m` (its key is masked on the way).
    pub fn new(m: &Match) -> PackedMatch {
        let keys = m.key.as_words();
        let masks = m.mask.key.as_words();
        let mut present = 0u32;
        let mut words = Vec::new();
        for (i, (k, mk)) in keys.iter().zip(masks).enumerate() {
            if *mk != 0 {
                present |= 1 << i;
                words.push(k & mk);
                words.push(*mk);
            }
        }
        PackedMatch {
            present,
            words: words.into_boxed_slice(),
        }
    }

    /// The match.
    pub fn unpack(&self) -> Match {
        let mut key = [0u64; FLOW_WORDS];
        let mut mask = [0u64; FLOW_WORDS];
        let mut pairs = self.words.chunks_exact(2);
        for i in 0..FLOW_WORDS {
            if self.present & (1 << i) == 0 {
                continue;
            }
            if let (Some(pair), Some(k), Some(mk)) = (pairs.next(), key.get_mut(i), mask.get_mut(i))
            {
                *k = pair[0];
                *mk = pair[1];
            }
        }
        Match {
            key: FlowKey::from_words(key),
            mask: FlowMask {
                key: FlowKey::from_words(mask),
            },
        }
    }

    /// Whether the match examines nothing.
    pub fn is_catch_all(&self) -> bool {
        self.present == 0
    }
}

/// One flow entry.
#[derive(Debug)]
pub struct Rule {
    /// The match (`key` already masked), packed; see [`Rule::match_`].
    pub(crate) packed_match: PackedMatch,
    /// Priority; higher wins.
    pub priority: u16,
    /// Opaque controller-issued identifier.
    pub cookie: u64,
    /// The table the rule lives in.
    pub table_id: u8,
    /// Seconds without a hit before removal; 0 for none.
    pub idle_timeout: u16,
    /// Seconds after creation before removal; 0 for none.
    pub hard_timeout: u16,
    /// `SEND_FLOW_REM` etc. (`CHECK_OVERLAP` and `RESET_COUNTS` act only at insertion).
    pub flags: FlowModFlags,
    /// What a matching packet does.
    pub instructions: Instructions,
    /// When the rule was added (its duration starts here), in ms.
    pub created_ms: u64,
    /// Counters, possibly shared with the rule this one replaced.
    pub stats: Arc<RuleStats>,
}

impl Rule {
    /// A rule with no cookie, timeouts or flags, created at `now_ms`.
    pub fn new(
        table_id: u8,
        match_: Match,
        priority: u16,
        instructions: Instructions,
        now_ms: u64,
    ) -> Rule {
        Rule {
            packed_match: PackedMatch::new(&match_),
            priority,
            cookie: 0,
            table_id,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: FlowModFlags::empty(),
            instructions,
            created_ms: now_ms,
            stats: Arc::new(RuleStats::new(now_ms)),
        }
    }

    /// The rule with new instructions (a modify): same identity, timeouts,
    /// flags, cookie and duration; counters shared unless `reset_counts`.
    pub fn with_instructions(
        &self,
        instructions: Instructions,
        reset_counts: bool,
        now_ms: u64,
    ) -> Rule {
        Rule {
            packed_match: self.packed_match.clone(),
            priority: self.priority,
            cookie: self.cookie,
            table_id: self.table_id,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            instructions,
            created_ms: self.created_ms,
            stats: if reset_counts {
                Arc::new(RuleStats::new(now_ms))
            } else {
                Arc::clone(&self.stats)
            },
        }
    }

    /// The match (`key` already masked).
    pub fn match_(&self) -> Match {
        self.packed_match.unpack()
    }

    /// Credits `packets` and `bytes` matched at `now_ms`.
    #[inline]
    pub fn credit(&self, packets: u64, bytes: u64, now_ms: u64) {
        self.stats.credit(packets, bytes, now_ms);
    }

    /// The packet count as reported: all ones under `NO_PKT_COUNTS`.
    pub fn packet_count(&self) -> u64 {
        if self.flags.contains(FlowModFlags::NO_PKT_COUNTS) {
            u64::MAX
        } else {
            self.stats.packets()
        }
    }

    /// The byte count as reported: all ones under `NO_BYT_COUNTS`.
    pub fn byte_count(&self) -> u64 {
        if self.flags.contains(FlowModFlags::NO_BYT_COUNTS) {
            u64::MAX
        } else {
            self.stats.bytes()
        }
    }

    /// Time since creation, in ms.
    pub fn duration_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.created_ms)
    }

    /// Whether the rule is a table-miss entry (priority 0, matches everything).
    pub fn is_table_miss(&self) -> bool {
        self.priority == 0 && self.packed_match.is_catch_all()
    }

    /// Why the rule has expired at `now_ms`, if it has. The hard timeout is
    /// checked first, as it does not depend on traffic.
    pub fn expiry(&self, now_ms: u64) -> Option<RemovalReason> {
        if self.hard_timeout != 0
            && now_ms
                >= self
                    .created_ms
                    .saturating_add(u64::from(self.hard_timeout) * 1000)
        {
            return Some(RemovalReason::HardTimeout);
        }
        if self.idle_timeout != 0
            && now_ms
                >= self
                    .stats
                    .last_used_ms()
                    .saturating_add(u64::from(self.idle_timeout) * 1000)
        {
            return Some(RemovalReason::IdleTimeout);
        }
        None
    }

    /// Whether the rule has any timeout.
    pub fn has_timeout(&self) -> bool {
        self.idle_timeout != 0 || self.hard_timeout != 0
    }
}

/// Why a flow entry left its table (`ofp_flow_removed_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemovalReason {
    /// The idle timeout elapsed (`OFPRR_IDLE_TIMEOUT`).
    IdleTimeout,
    /// The hard timeout elapsed (`OFPRR_HARD_TIMEOUT`).
    HardTimeout,
    /// A flow-mod delete removed it (`OFPRR_DELETE`).
    Delete,
    /// Its group was deleted (`OFPRR_GROUP_DELETE`).
    GroupDelete,
    /// Its meter was deleted (`OFPRR_METER_DELETE` of OpenFlow 1.4).
    MeterDelete,
}

impl RemovalReason {
    /// The OpenFlow 1.3 reason code. 1.3 has no meter-delete reason; such
    /// removals report `OFPRR_DELETE`.
    pub const fn of13_code(self) -> u8 {
        match self {
            RemovalReason::IdleTimeout => 0,
            RemovalReason::HardTimeout => 1,
            RemovalReason::Delete | RemovalReason::MeterDelete => 2,
            RemovalReason::GroupDelete => 3,
        }
    }
}

/// A rule that left its table, and why; the channel sends a FLOW_REMOVED for
/// it when [`RemovedRule::notify`] says so.
#[derive(Clone, Debug)]
pub struct RemovedRule {
    /// The rule as it was (its counters stay readable).
    pub rule: Arc<Rule>,
    /// Why it was removed.
    pub reason: RemovalReason,
}

impl RemovedRule {
    /// Whether the controller asked to hear about this removal (`SEND_FLOW_REM`).
    pub fn notify(&self) -> bool {
        self.rule.flags.contains(FlowModFlags::SEND_FLOW_REM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(idle: u16, hard: u16, now: u64) -> Rule {
        let mut r = Rule::new(0, Match::catch_all(), 1, Instructions::drop(), now);
        r.idle_timeout = idle;
        r.hard_timeout = hard;
        r
    }

    #[test]
    fn hard_timeout_counts_from_creation_regardless_of_traffic() {
        let r = rule(0, 2, 1000);
        r.credit(1, 60, 2900);
        assert_eq!(r.expiry(2999), None);
        assert_eq!(r.expiry(3000), Some(RemovalReason::HardTimeout));
    }

    #[test]
    fn idle_timeout_counts_from_last_use() {
        let r = rule(1, 0, 0);
        assert_eq!(r.expiry(999), None);
        r.credit(1, 60, 500);
        assert_eq!(r.expiry(1499), None);
        assert_eq!(r.expiry(1500), Some(RemovalReason::IdleTimeout));
    }

    #[test]
    fn late_credits_never_move_last_use_backwards() {
        let r = rule(1, 0, 0);
        r.credit(1, 60, 800);
        r.credit(1, 60, 300);
        assert_eq!(r.stats.last_used_ms(), 800);
        assert_eq!(r.packet_count(), 2);
        assert_eq!(r.byte_count(), 120);
    }

    #[test]
    fn modified_rule_shares_counters_unless_reset() {
        let r = rule(0, 0, 0);
        r.credit(3, 300, 10);
        let kept = r.with_instructions(Instructions::drop(), false, 20);
        r.credit(1, 100, 30);
        assert_eq!(kept.packet_count(), 4);
        let reset = r.with_instructions(Instructions::drop(), true, 20);
        assert_eq!(reset.packet_count(), 0);
        assert_eq!(reset.created_ms, 0);
    }

    #[test]
    fn disabled_counters_report_all_ones() {
        let mut r = rule(0, 0, 0);
        r.flags = FlowModFlags::NO_PKT_COUNTS | FlowModFlags::NO_BYT_COUNTS;
        r.credit(1, 1, 1);
        assert_eq!(r.packet_count(), u64::MAX);
        assert_eq!(r.byte_count(), u64::MAX);
    }

    #[test]
    fn a_packed_match_unpacks_to_the_match_it_was_made_from() {
        use crate::flow::{Field, FlowMask};
        let mut ip = Match::catch_all();
        ip.set(Field::EthType, 0x0800);
        ip.set_masked(Field::Ipv4Dst, 0xc613_0a07, 0xffff_ff00);
        ip.set(Field::UdpDst, 53);
        let mut key = FlowKey::default();
        key.as_words_mut()
            .iter_mut()
            .enumerate()
            .for_each(|(i, w)| {
                *w = u64::try_from(i)
                    .unwrap_or(0)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            });
        let exact = Match::new(key, FlowMask::exact());
        for m in [Match::catch_all(), ip, exact] {
            let p = PackedMatch::new(&m);
            assert_eq!(p.unpack(), m);
            assert_eq!(p.is_catch_all(), m.mask.is_wildcard());
        }
        let r = Rule::new(0, ip, 5, Instructions::drop(), 0);
        assert_eq!(r.match_(), ip);
        assert!(!r.is_table_miss());
        assert!(Rule::new(0, Match::catch_all(), 0, Instructions::drop(), 0).is_table_miss());
    }

    #[test]
    fn meter_delete_reports_delete_in_openflow_1_3() {
        assert_eq!(RemovalReason::MeterDelete.of13_code(), 2);
        assert_eq!(RemovalReason::GroupDelete.of13_code(), 3);
    }
}
