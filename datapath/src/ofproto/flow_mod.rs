//! Flow-table modification requests and their outcome (OpenFlow 1.3.5, 6.4
//! and 7.3.4.1), and the flow statistics requests that share their filters.
//!
//! The request is the version-independent form of `OFPT_FLOW_MOD`; the
//! pipeline applies it with [`Pipeline::flow_mod`]. The outcome says what
//! changed so that the channel can send FLOW_REMOVED messages and release a
//! buffered packet.
//!
//! # Semantics (OpenFlow 1.3.5, 6.4)
//!
//! - **Add** inserts a rule; one with identical match and priority is
//!   replaced, its duration restarting and its counters carried over unless
//!   `RESET_COUNTS`. `CHECK_OVERLAP` refuses the add when a rule of the same
//!   priority could match a common packet (an identical one included). A
//!   new rule in a full table is refused; a replacement is not.
//! - **Modify** (non-strict: every rule at least as specific as the match;
//!   strict: the rule with identical match and priority), filtered by
//!   cookie under `cookie_mask`, replaces the instructions and keeps the
//!   cookie, timeouts, flags and duration; counters are kept unless
//!   `RESET_COUNTS`. When nothing is selected nothing happens: OpenFlow 1.3
//!   does not add.
//! - **Delete** selects like modify, plus the `out_port` and `out_group`
//!   filters, in one table or every table (`OFPTT_ALL`), and returns the
//!   removed rules with reason `Delete`.
//!
//! Validation happens before any change, so a refused request changes
//! nothing (and does not move the version).

use super::error::OfError;
use super::group::OFPG_ANY;
use super::instruction::Instructions;
use super::port::{OFPP_ANY, OFP_NO_BUFFER};
use super::rule::{FlowModFlags, RemovalReason, RemovedRule, Rule, RuleStats};
use super::table::{OFPTT_ALL, OFPTT_MAX};
use super::Pipeline;
use crate::flow::Match;
use std::sync::Arc;

/// What a flow mod does (`ofp_flow_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowModCommand {
    /// Add a flow entry, replacing one with identical match and priority.
    Add,
    /// Modify the entries the match covers (non-strict).
    Modify,
    /// Modify the entry with exactly this match and priority.
    ModifyStrict,
    /// Delete the entries the match covers (non-strict).
    Delete,
    /// Delete the entry with exactly this match and priority.
    DeleteStrict,
}

impl FlowModCommand {
    /// The wire number (`OFPFC_*`).
    pub const fn number(self) -> u8 {
        match self {
            FlowModCommand::Add => 0,
            FlowModCommand::Modify => 1,
            FlowModCommand::ModifyStrict => 2,
            FlowModCommand::Delete => 3,
            FlowModCommand::DeleteStrict => 4,
        }
    }

    /// The command with this wire number.
    pub const fn from_number(n: u8) -> Option<FlowModCommand> {
        match n {
            0 => Some(FlowModCommand::Add),
            1 => Some(FlowModCommand::Modify),
            2 => Some(FlowModCommand::ModifyStrict),
            3 => Some(FlowModCommand::Delete),
            4 => Some(FlowModCommand::DeleteStrict),
            _ => None,
        }
    }

    /// Whether the command selects by exact match and priority.
    pub const fn is_strict(self) -> bool {
        matches!(
            self,
            FlowModCommand::ModifyStrict | FlowModCommand::DeleteStrict
        )
    }
}

/// A flow-table modification request (`OFPT_FLOW_MOD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMod {
    /// What to do.
    pub command: FlowModCommand,
    /// Table to change; `OFPTT_ALL` only for deletes.
    pub table_id: u8,
    /// The match (for deletes and non-strict modifies: the selection).
    pub match_: Match,
    /// Priority (ignored by non-strict modify and delete).
    pub priority: u16,
    /// Cookie of a new entry; with `cookie_mask`, a filter for modify/delete.
    pub cookie: u64,
    /// Bits of `cookie` that modify/delete entries must match; 0 for no filter.
    pub cookie_mask: u64,
    /// Idle timeout in seconds (add).
    pub idle_timeout: u16,
    /// Hard timeout in seconds (add).
    pub hard_timeout: u16,
    /// Flags.
    pub flags: FlowModFlags,
    /// Buffered packet to run through the pipeline afterwards, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// Delete only entries that output to this port; `OFPP_ANY` for no filter.
    pub out_port: u32,
    /// Delete only entries that forward to this group; `OFPG_ANY` for no filter.
    pub out_group: u32,
    /// Instructions of the new or modified entries.
    pub instructions: Instructions,
}

impl FlowMod {
    /// An add of `instructions` at `priority` in `table_id`, with no cookie,
    /// timeouts, flags or buffer.
    pub fn add(table_id: u8, match_: Match, priority: u16, instructions: Instructions) -> FlowMod {
        FlowMod {
            command: FlowModCommand::Add,
            table_id,
            match_,
            priority,
            cookie: 0,
            cookie_mask: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: FlowModFlags::empty(),
            buffer_id: OFP_NO_BUFFER,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            instructions,
        }
    }

    /// A non-strict delete of every entry `match_` covers in `table_id`
    /// (`OFPTT_ALL` for every table), without other filters.
    pub fn delete(table_id: u8, match_: Match) -> FlowMod {
        FlowMod {
            command: FlowModCommand::Delete,
            ..FlowMod::add(table_id, match_, 0, Instructions::drop())
        }
    }

    /// A request with `command` and otherwise the fields of `self` (builder style).
    pub fn with_command(mut self, command: FlowModCommand) -> FlowMod {
        self.command = command;
        self
    }

    /// Whether `rule` passes the cookie filter.
    pub fn cookie_matches(&self, rule: &Rule) -> bool {
        (rule.cookie ^ self.cookie) & self.cookie_mask == 0
    }
}

/// What a flow mod changed.
#[derive(Clone, Debug, Default)]
pub struct FlowModOutcome {
    /// The entry an add inserted.
    pub added: Option<Arc<Rule>>,
    /// The entry with identical match and priority that the add replaced
    /// (OpenFlow 1.3 sends no FLOW_REMOVED for it).
    pub replaced: Option<Arc<Rule>>,
    /// The new versions of the entries a modify changed.
    pub modified: Vec<Arc<Rule>>,
    /// The entries a delete removed, with reason `Delete`.
    pub removed: Vec<RemovedRule>,
}

/// The selection of a flow or aggregate statistics request
/// (`ofp_flow_stats_request`): non-strict match plus the delete filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStatsRequest {
    /// Table to read, or `OFPTT_ALL`.
    pub table_id: u8,
    /// Only entries that output to this port; `OFPP_ANY` for all.
    pub out_port: u32,
    /// Only entries that forward to this group; `OFPG_ANY` for all.
    pub out_group: u32,
    /// Cookie value to require under `cookie_mask`.
    pub cookie: u64,
    /// Cookie bits to compare; 0 for all entries.
    pub cookie_mask: u64,
    /// Only entries at least as specific as this match.
    pub match_: Match,
}

impl Default for FlowStatsRequest {
    fn default() -> FlowStatsRequest {
        FlowStatsRequest {
            table_id: OFPTT_ALL,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::catch_all(),
        }
    }
}

/// The reply of an aggregate statistics request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregateStats {
    /// Packets of the selected entries (entries without packet counts excluded).
    pub packet_count: u64,
    /// Bytes of the selected entries (entries without byte counts excluded).
    pub byte_count: u64,
    /// Number of selected entries.
    pub flow_count: u32,
}

impl Pipeline {
    /// Applies a flow mod at `now_ms` (see the module documentation).
    pub fn flow_mod(&mut self, fm: &FlowMod, now_ms: u64) -> Result<FlowModOutcome, OfError> {
        match fm.command {
            FlowModCommand::Add => self.add_flow(fm, now_ms),
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => self.modify_flows(fm, now_ms),
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => Ok(self.delete_flows(fm)),
        }
    }

    fn add_flow(&mut self, fm: &FlowMod, now_ms: u64) -> Result<FlowModOutcome, OfError> {
        if fm.table_id > OFPTT_MAX {
            return Err(OfError::BadTableId);
        }
        self.check_instructions(fm.table_id, &fm.instructions)?;
        let m = Match::new(fm.match_.key, fm.match_.mask);
        let table = self.table_mut(fm.table_id).ok_or(OfError::BadTableId)?;
        if fm.flags.contains(FlowModFlags::CHECK_OVERLAP) && table.overlaps(&m, fm.priority) {
            return Err(OfError::Overlap);
        }
        let existing = table.get(&m, fm.priority).cloned();
        if existing.is_none() && table.len() >= table.max_entries {
            return Err(OfError::TableFull);
        }
        let stats = match &existing {
            Some(old) if !fm.flags.contains(FlowModFlags::RESET_COUNTS) => {
                old.stats.touch(now_ms);
                Arc::clone(&old.stats)
            }
            _ => Arc::new(RuleStats::new(now_ms)),
        };
        let rule = Arc::new(Rule {
            packed_match: super::rule::PackedMatch::new(&m),
            priority: fm.priority,
            cookie: fm.cookie,
            table_id: fm.table_id,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            instructions: fm.instructions.clone(),
            created_ms: now_ms,
            stats,
        });
        let replaced = table.insert(Arc::clone(&rule));
        self.bump();
        Ok(FlowModOutcome {
            added: Some(rule),
            replaced,
            ..FlowModOutcome::default()
        })
    }

    fn modify_flows(&mut self, fm: &FlowMod, now_ms: u64) -> Result<FlowModOutcome, OfError> {
        if fm.table_id > OFPTT_MAX {
            return Err(OfError::BadTableId);
        }
        self.check_instructions(fm.table_id, &fm.instructions)?;
        let m = Match::new(fm.match_.key, fm.match_.mask);
        let reset = fm.flags.contains(FlowModFlags::RESET_COUNTS);
        let table = self.table_mut(fm.table_id).ok_or(OfError::BadTableId)?;
        let selected: Vec<Arc<Rule>> = if fm.command.is_strict() {
            table
                .get(&m, fm.priority)
                .into_iter()
                .filter(|r| fm.cookie_matches(r))
                .cloned()
                .collect()
        } else {
            table
                .rules_loose(&m)
                .filter(|r| fm.cookie_matches(r))
                .cloned()
                .collect()
        };
        let mut modified = Vec::with_capacity(selected.len());
        for old in selected {
            let new = Arc::new(old.with_instructions(fm.instructions.clone(), reset, now_ms));
            if table.replace(Arc::clone(&new)).is_some() {
                modified.push(new);
            }
        }
        if !modified.is_empty() {
            self.bump();
        }
        Ok(FlowModOutcome {
            modified,
            ..FlowModOutcome::default()
        })
    }

    fn delete_flows(&mut self, fm: &FlowMod) -> FlowModOutcome {
        let m = Match::new(fm.match_.key, fm.match_.mask);
        let selects = |r: &Rule| {
            fm.cookie_matches(r)
                && (fm.out_port == OFPP_ANY || r.instructions.outputs_to(fm.out_port))
                && (fm.out_group == OFPG_ANY || r.instructions.forwards_to_group(fm.out_group))
        };
        let mut removed = Vec::new();
        for i in self.selected_tables(fm.table_id) {
            let Some(table) = self.tables_mut().get_mut(i) else {
                continue;
            };
            let doomed: Vec<(Match, u16)> = if fm.command.is_strict() {
                table
                    .get(&m, fm.priority)
                    .filter(|r| selects(r))
                    .map(|r| (r.match_(), r.priority))
                    .into_iter()
                    .collect()
            } else {
                table
                    .rules_loose(&m)
                    .filter(|r| selects(r))
                    .map(|r| (r.match_(), r.priority))
                    .collect()
            };
            for (dm, dp) in doomed {
                if let Some(rule) = table.remove(&dm, dp) {
                    removed.push(RemovedRule {
                        rule,
                        reason: RemovalReason::Delete,
                    });
                }
            }
        }
        if !removed.is_empty() {
            self.bump();
        }
        FlowModOutcome {
            removed,
            ..FlowModOutcome::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Field;
    use crate::ofproto::action::Action;
    use crate::ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};
    use crate::ofproto::meter::{MeterBand, MeterBandType, MeterFlags, MeterMod, MeterModCommand};
    use crate::ofproto::port::{OFPP_CONTROLLER, OFPP_TABLE};
    use crate::ofproto::table::Table;

    fn out(port: u32) -> Instructions {
        Instructions::apply(vec![Action::Output { port, max_len: 0 }])
    }

    fn ip_dst(addr: u32, prefix: u32) -> Match {
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        m.set_masked(Field::Ipv4Dst, u128::from(addr), u128::from(mask));
        m
    }

    fn tcp_dst(port: u16) -> Match {
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set(Field::IpProto, 6);
        m.set(Field::TcpDst, u128::from(port));
        m
    }

    fn add(p: &mut Pipeline, table: u8, m: Match, prio: u16, ins: Instructions) -> Arc<Rule> {
        let o = p
            .flow_mod(&FlowMod::add(table, m, prio, ins), 0)
            .expect("add");
        o.added.expect("added")
    }

    #[test]
    fn add_inserts_a_rule_and_moves_the_version() {
        let mut p = Pipeline::new();
        let v = p.version();
        let r = add(&mut p, 0, tcp_dst(80), 10, out(1));
        assert!(p.version() > v);
        assert_eq!(p.table(0).map(Table::len), Some(1));
        assert!(Arc::ptr_eq(
            p.table(0)
                .and_then(|t| t.get(&tcp_dst(80), 10))
                .expect("rule"),
            &r
        ));
        assert_eq!(r.table_id, 0);
    }

    #[test]
    fn add_of_identical_match_and_priority_replaces_and_keeps_counters() {
        let mut p = Pipeline::new();
        let old = add(&mut p, 0, tcp_dst(80), 10, out(1));
        old.credit(5, 500, 100);
        let o = p
            .flow_mod(&FlowMod::add(0, tcp_dst(80), 10, out(2)), 2000)
            .expect("replace");
        let new = o.added.expect("added");
        assert!(Arc::ptr_eq(&o.replaced.expect("replaced"), &old));
        assert!(o.removed.is_empty(), "a replacement is not a removal");
        assert_eq!(p.table(0).map(Table::len), Some(1));
        assert_eq!(new.packet_count(), 5);
        assert_eq!(new.byte_count(), 500);
        assert_eq!(new.created_ms, 2000, "the duration restarts");
        assert!(new.instructions.outputs_to(2));
    }

    #[test]
    fn add_with_reset_counts_starts_from_zero() {
        let mut p = Pipeline::new();
        let old = add(&mut p, 0, tcp_dst(80), 10, out(1));
        old.credit(5, 500, 100);
        let mut fm = FlowMod::add(0, tcp_dst(80), 10, out(2));
        fm.flags = FlowModFlags::RESET_COUNTS;
        let new = p.flow_mod(&fm, 10).expect("replace").added.expect("added");
        assert_eq!(new.packet_count(), 0);
    }

    #[test]
    fn check_overlap_refuses_a_rule_of_the_same_priority_that_could_match_a_common_packet() {
        let mut p = Pipeline::new();
        add(&mut p, 0, ip_dst(0x0a00_0000, 8), 10, out(1));
        let mut fm = FlowMod::add(0, ip_dst(0x0a01_0000, 16), 10, out(2));
        fm.flags = FlowModFlags::CHECK_OVERLAP;
        let v = p.version();
        assert_eq!(p.flow_mod(&fm, 0).err(), Some(OfError::Overlap));
        assert_eq!(p.version(), v, "a refused request changes nothing");
        fm.priority = 11;
        assert!(
            p.flow_mod(&fm, 0).is_ok(),
            "another priority does not overlap"
        );
        let mut disjoint = FlowMod::add(0, ip_dst(0x0b00_0000, 8), 10, out(2));
        disjoint.flags = FlowModFlags::CHECK_OVERLAP;
        assert!(p.flow_mod(&disjoint, 0).is_ok());
        let mut same = FlowMod::add(0, ip_dst(0x0a00_0000, 8), 10, out(3));
        same.flags = FlowModFlags::CHECK_OVERLAP;
        assert_eq!(p.flow_mod(&same, 0).err(), Some(OfError::Overlap));
    }

    #[test]
    fn a_full_table_refuses_new_rules_but_accepts_replacements() {
        let mut p = Pipeline::new();
        p.set_table_max_entries(1, 2).expect("table 1");
        add(&mut p, 1, tcp_dst(1), 1, out(1));
        add(&mut p, 1, tcp_dst(2), 1, out(1));
        let full = p.flow_mod(&FlowMod::add(1, tcp_dst(3), 1, out(1)), 0);
        assert_eq!(full.err(), Some(OfError::TableFull));
        assert!(p
            .flow_mod(&FlowMod::add(1, tcp_dst(2), 1, out(2)), 0)
            .is_ok());
        assert!(p
            .flow_mod(&FlowMod::add(0, tcp_dst(3), 1, out(1)), 0)
            .is_ok());
    }

    #[test]
    fn add_to_table_255_is_a_bad_table_id() {
        let mut p = Pipeline::new();
        let r = p.flow_mod(&FlowMod::add(OFPTT_ALL, tcp_dst(1), 1, out(1)), 0);
        assert_eq!(r.err(), Some(OfError::BadTableId));
        let m = p.flow_mod(
            &FlowMod::add(OFPTT_ALL, tcp_dst(1), 1, out(1)).with_command(FlowModCommand::Modify),
            0,
        );
        assert_eq!(m.err(), Some(OfError::BadTableId));
    }

    #[test]
    fn goto_must_point_to_a_later_table() {
        let mut p = Pipeline::new();
        let back = FlowMod::add(3, tcp_dst(1), 1, Instructions::drop().with_goto(3));
        assert_eq!(p.flow_mod(&back, 0).err(), Some(OfError::BadGotoTable));
        let beyond = FlowMod::add(3, tcp_dst(1), 1, Instructions::drop().with_goto(255));
        assert_eq!(p.flow_mod(&beyond, 0).err(), Some(OfError::BadGotoTable));
        let fwd = FlowMod::add(3, tcp_dst(1), 1, Instructions::drop().with_goto(254));
        assert!(p.flow_mod(&fwd, 0).is_ok());
    }

    #[test]
    fn actions_naming_a_missing_group_or_a_bad_port_are_refused() {
        let mut p = Pipeline::new();
        let g = FlowMod::add(
            0,
            tcp_dst(1),
            1,
            Instructions::write(vec![Action::Group(7)]),
        );
        assert_eq!(p.flow_mod(&g, 0).err(), Some(OfError::BadOutGroup));
        let gm = GroupMod {
            command: GroupModCommand::Add,
            group_type: GroupType::All,
            group_id: 7,
            buckets: vec![Bucket::new(vec![Action::Output {
                port: 1,
                max_len: 0,
            }])],
        };
        p.group_mod(&gm, 0).expect("group");
        assert!(p.flow_mod(&g, 0).is_ok());
        let table = FlowMod::add(0, tcp_dst(2), 1, out(OFPP_TABLE));
        assert_eq!(p.flow_mod(&table, 0).err(), Some(OfError::BadOutPort));
        assert!(p
            .flow_mod(&FlowMod::add(0, tcp_dst(2), 1, out(OFPP_CONTROLLER)), 0)
            .is_ok());
    }

    #[test]
    fn a_meter_instruction_needs_an_installed_meter() {
        let mut p = Pipeline::new();
        let fm = FlowMod::add(0, tcp_dst(1), 1, out(1).with_meter(4));
        assert_eq!(p.flow_mod(&fm, 0).err(), Some(OfError::UnknownMeter));
        let mm = MeterMod {
            command: MeterModCommand::Add,
            flags: MeterFlags::PKTPS,
            meter_id: 4,
            bands: vec![MeterBand {
                band_type: MeterBandType::Drop,
                rate: 10,
                burst_size: 0,
            }],
        };
        p.meter_mod(&mm, 0).expect("meter");
        assert!(p.flow_mod(&fm, 0).is_ok());
    }

    #[test]
    fn modify_replaces_instructions_and_keeps_cookie_timeouts_duration_and_counters() {
        let mut p = Pipeline::new();
        let mut fm = FlowMod::add(0, tcp_dst(80), 10, out(1));
        fm.cookie = 0xabc;
        fm.idle_timeout = 30;
        fm.flags = FlowModFlags::SEND_FLOW_REM;
        let old = p.flow_mod(&fm, 100).expect("add").added.expect("rule");
        old.credit(3, 300, 150);
        let mut md = FlowMod::add(0, tcp_dst(80), 0, out(2)).with_command(FlowModCommand::Modify);
        md.cookie = 0x999;
        let o = p.flow_mod(&md, 5000).expect("modify");
        assert_eq!(o.modified.len(), 1);
        let new = p
            .table(0)
            .and_then(|t| t.get(&tcp_dst(80), 10))
            .expect("rule")
            .clone();
        assert!(Arc::ptr_eq(&new, &o.modified[0]));
        assert!(new.instructions.outputs_to(2));
        assert_eq!(new.cookie, 0xabc);
        assert_eq!(new.idle_timeout, 30);
        assert_eq!(new.flags, FlowModFlags::SEND_FLOW_REM);
        assert_eq!(new.created_ms, 100);
        assert_eq!(new.packet_count(), 3);
        old.credit(1, 100, 200);
        assert_eq!(
            new.packet_count(),
            4,
            "credits through a stale reference still count"
        );
    }

    #[test]
    fn modify_that_selects_nothing_adds_nothing() {
        let mut p = Pipeline::new();
        let v = p.version();
        let md = FlowMod::add(0, tcp_dst(80), 10, out(2)).with_command(FlowModCommand::Modify);
        let o = p.flow_mod(&md, 0).expect("modify");
        assert!(o.modified.is_empty() && o.added.is_none());
        assert_eq!(p.rule_count(), 0);
        assert_eq!(p.version(), v);
    }

    #[test]
    fn modify_strict_changes_only_the_rule_with_that_match_and_priority() {
        let mut p = Pipeline::new();
        add(&mut p, 0, tcp_dst(80), 10, out(1));
        add(&mut p, 0, tcp_dst(80), 20, out(1));
        add(&mut p, 0, ip_dst(0, 0), 10, out(1));
        let md =
            FlowMod::add(0, tcp_dst(80), 20, out(9)).with_command(FlowModCommand::ModifyStrict);
        assert_eq!(p.flow_mod(&md, 0).expect("modify").modified.len(), 1);
        let t = p.table(0).expect("table");
        assert!(t
            .get(&tcp_dst(80), 20)
            .expect("20")
            .instructions
            .outputs_to(9));
        assert!(t
            .get(&tcp_dst(80), 10)
            .expect("10")
            .instructions
            .outputs_to(1));
        let loose = FlowMod::add(0, ip_dst(0, 0), 0, out(7)).with_command(FlowModCommand::Modify);
        assert_eq!(p.flow_mod(&loose, 0).expect("modify").modified.len(), 3);
    }

    #[test]
    fn modify_and_delete_honour_the_cookie_mask() {
        let mut p = Pipeline::new();
        for (i, cookie) in [0x1_01u64, 0x1_02, 0x2_01].into_iter().enumerate() {
            let mut fm = FlowMod::add(0, tcp_dst(u16::try_from(i).unwrap_or(0)), 1, out(1));
            fm.cookie = cookie;
            p.flow_mod(&fm, 0).expect("add");
        }
        let mut md =
            FlowMod::add(0, Match::catch_all(), 0, out(5)).with_command(FlowModCommand::Modify);
        md.cookie = 0x1_00;
        md.cookie_mask = 0xf_00;
        assert_eq!(p.flow_mod(&md, 0).expect("modify").modified.len(), 2);
        let mut del = FlowMod::delete(0, Match::catch_all());
        del.cookie = 0x2_00;
        del.cookie_mask = 0xf_00;
        let removed = p.flow_mod(&del, 0).expect("delete").removed;
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].rule.cookie, 0x2_01);
        assert_eq!(removed[0].reason, RemovalReason::Delete);
    }

    #[test]
    fn delete_removes_the_rules_at_least_as_specific_as_the_match() {
        let mut p = Pipeline::new();
        add(&mut p, 0, ip_dst(0x0a00_0000, 8), 1, out(1));
        add(&mut p, 0, ip_dst(0x0a01_0000, 16), 2, out(1));
        add(&mut p, 0, ip_dst(0x0b00_0000, 8), 3, out(1));
        add(&mut p, 0, Match::catch_all(), 0, out(OFPP_CONTROLLER));
        let o = p
            .flow_mod(&FlowMod::delete(0, ip_dst(0x0a00_0000, 8)), 0)
            .expect("delete");
        assert_eq!(o.removed.len(), 2);
        assert_eq!(p.table(0).map(Table::len), Some(2));
    }

    #[test]
    fn delete_strict_needs_the_exact_match_and_priority() {
        let mut p = Pipeline::new();
        add(&mut p, 0, tcp_dst(80), 10, out(1));
        let mut del = FlowMod::delete(0, tcp_dst(80)).with_command(FlowModCommand::DeleteStrict);
        del.priority = 11;
        assert!(p.flow_mod(&del, 0).expect("delete").removed.is_empty());
        del.match_ = ip_dst(0, 0);
        del.priority = 10;
        assert!(p.flow_mod(&del, 0).expect("delete").removed.is_empty());
        del.match_ = tcp_dst(80);
        assert_eq!(p.flow_mod(&del, 0).expect("delete").removed.len(), 1);
        assert_eq!(p.rule_count(), 0);
    }

    #[test]
    fn delete_filters_by_out_port_and_out_group() {
        let mut p = Pipeline::new();
        let gm = GroupMod {
            command: GroupModCommand::Add,
            group_type: GroupType::All,
            group_id: 1,
            buckets: vec![],
        };
        p.group_mod(&gm, 0).expect("group");
        add(&mut p, 0, tcp_dst(1), 1, out(1));
        add(
            &mut p,
            0,
            tcp_dst(2),
            1,
            Instructions::write(vec![Action::Output {
                port: 2,
                max_len: 0,
            }]),
        );
        add(
            &mut p,
            0,
            tcp_dst(3),
            1,
            Instructions::apply(vec![Action::Group(1)]),
        );
        let mut del = FlowMod::delete(0, Match::catch_all());
        del.out_port = 2;
        let removed = p.flow_mod(&del, 0).expect("delete").removed;
        assert_eq!(removed.len(), 1);
        assert!(removed[0].rule.instructions.outputs_to(2));
        del.out_port = OFPP_ANY;
        del.out_group = 1;
        let removed = p.flow_mod(&del, 0).expect("delete").removed;
        assert_eq!(removed.len(), 1);
        assert!(removed[0].rule.instructions.forwards_to_group(1));
        assert_eq!(p.rule_count(), 1);
    }

    #[test]
    fn delete_in_every_table_with_table_all() {
        let mut p = Pipeline::new();
        for t in [0u8, 5, 254] {
            add(&mut p, t, tcp_dst(80), 1, out(1));
        }
        let o = p
            .flow_mod(&FlowMod::delete(OFPTT_ALL, Match::catch_all()), 0)
            .expect("delete");
        assert_eq!(o.removed.len(), 3);
        assert_eq!(p.rule_count(), 0);
    }

    #[test]
    fn removed_rules_say_whether_the_controller_wants_to_hear() {
        let mut p = Pipeline::new();
        let mut fm = FlowMod::add(0, tcp_dst(1), 1, out(1));
        fm.flags = FlowModFlags::SEND_FLOW_REM;
        p.flow_mod(&fm, 0).expect("add");
        add(&mut p, 0, tcp_dst(2), 1, out(1));
        let removed = p
            .flow_mod(&FlowMod::delete(0, Match::catch_all()), 0)
            .expect("delete")
            .removed;
        assert_eq!(removed.iter().filter(|r| r.notify()).count(), 1);
    }

    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        fn pool(i: usize) -> Match {
            match i % 6 {
                0 => Match::catch_all(),
                1 => {
                    let mut m = Match::catch_all();
                    m.set(Field::EthType, 0x0800);
                    m
                }
                n => tcp_dst(u16::try_from(n).unwrap_or(0)),
            }
        }

        #[derive(Clone, Debug)]
        enum Op {
            Add(usize, u16, u32, u16),
            ModifyStrict(usize, u16, u32),
            Modify(usize, u32),
            Delete(usize),
            DeleteStrict(usize, u16),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => (0..6usize, 0..3u16, 1..5u32, 0..2u16).prop_map(|(m, p, o, t)| Op::Add(m, p, o, t)),
                1 => (0..6usize, 0..3u16, 1..5u32).prop_map(|(m, p, o)| Op::ModifyStrict(m, p, o)),
                1 => (0..6usize, 1..5u32).prop_map(|(m, o)| Op::Modify(m, o)),
                1 => (0..6usize).prop_map(Op::Delete),
                1 => (0..6usize, 0..3u16).prop_map(|(m, p)| Op::DeleteStrict(m, p)),
            ]
        }

        /// Whether `rule` is at least as specific as `sel`.
        fn covers(sel: &Match, rule: &Match) -> bool {
            sel.mask.is_subset_of(&rule.mask) && rule.key.eq_masked(&sel.key, &sel.mask)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn flow_mods_agree_with_a_map_of_match_and_priority(ops in proptest::collection::vec(op(), 1..40)) {
                let mut p = Pipeline::new();
                // (match index, priority) -> (output port, idle timeout)
                let mut model: BTreeMap<(usize, u16), (u32, u16)> = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Add(m, prio, port, idle) => {
                            let mut fm = FlowMod::add(0, pool(m), prio, out(port));
                            fm.idle_timeout = idle;
                            p.flow_mod(&fm, 0).expect("add");
                            model.insert((m, prio), (port, idle));
                        }
                        Op::ModifyStrict(m, prio, port) => {
                            let fm = FlowMod::add(0, pool(m), prio, out(port)).with_command(FlowModCommand::ModifyStrict);
                            p.flow_mod(&fm, 0).expect("modify");
                            if let Some(e) = model.get_mut(&(m, prio)) {
                                e.0 = port;
                            }
                        }
                        Op::Modify(m, port) => {
                            let fm = FlowMod::add(0, pool(m), 0, out(port)).with_command(FlowModCommand::Modify);
                            p.flow_mod(&fm, 0).expect("modify");
                            for (&(rm, _), e) in model.iter_mut() {
                                if covers(&pool(m), &pool(rm)) {
                                    e.0 = port;
                                }
                            }
                        }
                        Op::Delete(m) => {
                            p.flow_mod(&FlowMod::delete(0, pool(m)), 0).expect("delete");
                            model.retain(|&(rm, _), _| !covers(&pool(m), &pool(rm)));
                        }
                        Op::DeleteStrict(m, prio) => {
                            let mut fm = FlowMod::delete(0, pool(m)).with_command(FlowModCommand::DeleteStrict);
                            fm.priority = prio;
                            p.flow_mod(&fm, 0).expect("delete");
                            model.remove(&(m, prio));
                        }
                    }
                    let t = p.table(0).expect("table");
                    prop_assert_eq!(t.len(), model.len());
                    for (&(m, prio), &(port, _)) in &model {
                        let r = t.get(&pool(m), prio);
                        prop_assert!(r.is_some_and(|r| r.instructions.outputs_to(port)));
                    }
                    prop_assert_eq!(t.has_timeouts(), model.values().any(|&(_, idle)| idle != 0));
                }
            }
        }
    }

    #[test]
    fn command_numbers_round_trip() {
        for n in 0..=4 {
            let c = FlowModCommand::from_number(n).expect("command");
            assert_eq!(c.number(), n);
        }
        assert_eq!(FlowModCommand::from_number(5), None);
    }
}
