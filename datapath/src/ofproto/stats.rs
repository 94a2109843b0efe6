//! Statistics queries of the pipeline, the model side of the multipart
//! requests (OpenFlow 1.3.5, 7.3.5): flow, aggregate, table, group, group
//! description, meter and meter configuration.
//!
//! Replies are snapshots built under the caller's read lock; counters are
//! read with relaxed loads and may be a few packets behind the caches, which
//! push their counts at revalidation and periodic flushes.

use super::flow_mod::{AggregateStats, FlowStatsRequest};
use super::group::OFPG_ANY;
use super::group::{Group, OFPG_ALL};
use super::meter::{Meter, OFPM_ALL};
use super::port::OFPP_ANY;
use super::rule::Rule;
use super::table::Table;
use super::Pipeline;
use std::sync::Arc;

/// Counters of one table (`ofp_table_stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableStats {
    /// The table.
    pub table_id: u8,
    /// Rules in it.
    pub active_count: u32,
    /// Packets looked up in it.
    pub lookup_count: u64,
    /// Packets that matched a rule in it.
    pub matched_count: u64,
}

/// Counters of one group (`ofp_group_stats`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStats {
    /// The group.
    pub group_id: u32,
    /// Flow entries and groups that forward to it directly.
    pub ref_count: u32,
    /// Packets processed.
    pub packet_count: u64,
    /// Bytes processed.
    pub byte_count: u64,
    /// Time since the group was added, in ms.
    pub duration_ms: u64,
    /// (packets, bytes) per bucket.
    pub buckets: Vec<(u64, u64)>,
}

/// Counters of one meter (`ofp_meter_stats`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterStats {
    /// The meter.
    pub meter_id: u32,
    /// Flow entries that use it.
    pub flow_count: u32,
    /// Packets that went through it.
    pub packet_in_count: u64,
    /// Bytes that went through it.
    pub byte_in_count: u64,
    /// Time since the meter was added, in ms.
    pub duration_ms: u64,
    /// (packets, bytes) each band applied to.
    pub bands: Vec<(u64, u64)>,
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Pipeline {
    fn selected_rules<'a>(
        &'a self,
        req: &'a FlowStatsRequest,
    ) -> impl Iterator<Item = &'a Arc<Rule>> + 'a {
        self.selected_tables(req.table_id)
            .filter_map(move |i| self.tables().get(i))
            .flat_map(move |t| t.rules_loose(&req.match_))
            .filter(move |r| {
                (r.cookie ^ req.cookie) & req.cookie_mask == 0
                    && (req.out_port == OFPP_ANY || r.instructions.outputs_to(req.out_port))
                    && (req.out_group == OFPG_ANY
                        || r.instructions.forwards_to_group(req.out_group))
            })
    }

    /// The rules a flow statistics request selects (non-strict match plus
    /// filters), by table then in classifier order. Each rule carries its
    /// counters, duration and instructions.
    pub fn flow_stats(&self, req: &FlowStatsRequest) -> Vec<Arc<Rule>> {
        self.selected_rules(req).cloned().collect()
    }

    /// The sums over the rules a request selects. Rules that keep no packet
    /// (or byte) count contribute nothing to that sum.
    pub fn aggregate_stats(&self, req: &FlowStatsRequest) -> AggregateStats {
        let mut agg = AggregateStats::default();
        for r in self.selected_rules(req) {
            let (p, b) = (r.packet_count(), r.byte_count());
            if p != u64::MAX {
                agg.packet_count = agg.packet_count.wrapping_add(p);
            }
            if b != u64::MAX {
                agg.byte_count = agg.byte_count.wrapping_add(b);
            }
            agg.flow_count = agg.flow_count.saturating_add(1);
        }
        agg
    }

    /// Counters of every table.
    pub fn table_stats(&self) -> Vec<TableStats> {
        self.tables()
            .iter()
            .map(|t: &Table| TableStats {
                table_id: t.id(),
                active_count: saturating_u32(t.len()),
                lookup_count: t.lookup_count(),
                matched_count: t.matched_count(),
            })
            .collect()
    }

    /// Counters of group `group_id`, or of every group for `OFPG_ALL`.
    pub fn group_stats(&self, group_id: u32, now_ms: u64) -> Vec<GroupStats> {
        self.groups
            .values()
            .filter(|g| group_id == OFPG_ALL || g.group_id == group_id)
            .map(|g| {
                let flows = self
                    .tables()
                    .iter()
                    .flat_map(Table::rules)
                    .filter(|r| r.instructions.forwards_to_group(g.group_id))
                    .count();
                let groups = self
                    .groups
                    .values()
                    .filter(|o| o.groups().any(|x| x == g.group_id))
                    .count();
                GroupStats {
                    group_id: g.group_id,
                    ref_count: saturating_u32(flows + groups),
                    packet_count: g.stats.packets(),
                    byte_count: g.stats.bytes(),
                    duration_ms: now_ms.saturating_sub(g.created_ms),
                    buckets: g
                        .bucket_stats
                        .iter()
                        .map(|c| (c.packets(), c.bytes()))
                        .collect(),
                }
            })
            .collect()
    }

    /// Every group's description (type and buckets), by id.
    pub fn group_desc(&self) -> Vec<Arc<Group>> {
        self.groups.values().cloned().collect()
    }

    /// Counters of meter `meter_id`, or of every meter for `OFPM_ALL`.
    pub fn meter_stats(&self, meter_id: u32, now_ms: u64) -> Vec<MeterStats> {
        self.meters
            .values()
            .filter(|m| meter_id == OFPM_ALL || m.meter_id == meter_id)
            .map(|m| {
                let flows = self
                    .tables()
                    .iter()
                    .flat_map(Table::rules)
                    .filter(|r| r.instructions.meter == Some(m.meter_id))
                    .count();
                MeterStats {
                    meter_id: m.meter_id,
                    flow_count: saturating_u32(flows),
                    packet_in_count: m.stats.packets(),
                    byte_in_count: m.stats.bytes(),
                    duration_ms: now_ms.saturating_sub(m.created_ms),
                    bands: m
                        .band_stats
                        .iter()
                        .map(|c| (c.packets(), c.bytes()))
                        .collect(),
                }
            })
            .collect()
    }

    /// Configuration of meter `meter_id`, or of every meter for `OFPM_ALL`.
    pub fn meter_config(&self, meter_id: u32) -> Vec<Arc<Meter>> {
        self.meters
            .values()
            .filter(|m| meter_id == OFPM_ALL || m.meter_id == meter_id)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Field, Match};
    use crate::ofproto::action::Action;
    use crate::ofproto::flow_mod::FlowMod;
    use crate::ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};
    use crate::ofproto::instruction::Instructions;
    use crate::ofproto::meter::{MeterFlags, MeterMod, MeterModCommand};
    use crate::ofproto::rule::FlowModFlags;
    use crate::ofproto::table::OFPTT_ALL;

    fn eth(t: u16) -> Match {
        let mut m = Match::catch_all();
        m.set(Field::EthType, u128::from(t));
        m
    }

    fn setup() -> Pipeline {
        let mut p = Pipeline::new();
        let g = GroupMod {
            command: GroupModCommand::Add,
            group_type: GroupType::All,
            group_id: 1,
            buckets: vec![Bucket::new(vec![Action::Output {
                port: 3,
                max_len: 0,
            }])],
        };
        p.group_mod(&g, 0).expect("group 1");
        let g2 = GroupMod {
            group_id: 2,
            buckets: vec![Bucket::new(vec![Action::Group(1)])],
            ..g
        };
        p.group_mod(&g2, 0).expect("group 2");
        let m = MeterMod {
            command: MeterModCommand::Add,
            flags: MeterFlags::PKTPS,
            meter_id: 5,
            bands: vec![],
        };
        p.meter_mod(&m, 0).expect("meter");
        let out = |port| Instructions::apply(vec![Action::Output { port, max_len: 0 }]);
        let mut a = FlowMod::add(0, eth(0x0800), 1, out(1));
        a.cookie = 0x10;
        let mut b = FlowMod::add(0, eth(0x86dd), 1, out(2).with_meter(5));
        b.cookie = 0x20;
        b.flags = FlowModFlags::NO_BYT_COUNTS;
        let mut c = FlowMod::add(
            1,
            eth(0x0800),
            1,
            Instructions::write(vec![Action::Group(1)]),
        );
        c.cookie = 0x11;
        for fm in [a, b, c] {
            let r = p.flow_mod(&fm, 0).expect("add").added.expect("rule");
            r.credit(2, 200, 1);
        }
        p
    }

    #[test]
    fn flow_stats_select_by_table_match_cookie_and_output() {
        let p = setup();
        assert_eq!(p.flow_stats(&FlowStatsRequest::default()).len(), 3);
        let t0 = FlowStatsRequest {
            table_id: 0,
            ..FlowStatsRequest::default()
        };
        assert_eq!(p.flow_stats(&t0).len(), 2);
        let v4 = FlowStatsRequest {
            match_: eth(0x0800),
            ..FlowStatsRequest::default()
        };
        assert_eq!(p.flow_stats(&v4).len(), 2);
        let cookie = FlowStatsRequest {
            cookie: 0x10,
            cookie_mask: 0xf0,
            ..FlowStatsRequest::default()
        };
        assert_eq!(p.flow_stats(&cookie).len(), 2);
        let port = FlowStatsRequest {
            out_port: 2,
            ..FlowStatsRequest::default()
        };
        assert_eq!(p.flow_stats(&port).len(), 1);
        let group = FlowStatsRequest {
            out_group: 1,
            table_id: OFPTT_ALL,
            ..FlowStatsRequest::default()
        };
        assert_eq!(p.flow_stats(&group)[0].table_id, 1);
    }

    #[test]
    fn aggregate_stats_skip_counts_a_rule_does_not_keep() {
        let p = setup();
        let agg = p.aggregate_stats(&FlowStatsRequest::default());
        assert_eq!(agg.flow_count, 3);
        assert_eq!(agg.packet_count, 6);
        assert_eq!(agg.byte_count, 400);
    }

    #[test]
    fn table_stats_count_rules_and_lookups() {
        let p = setup();
        if let Some(t) = p.table(0) {
            t.credit_lookups(10, 7);
        }
        let s = p.table_stats();
        assert_eq!(s.len(), 255);
        assert_eq!(s[0].active_count, 2);
        assert_eq!((s[0].lookup_count, s[0].matched_count), (10, 7));
        assert_eq!(s[1].active_count, 1);
    }

    #[test]
    fn group_stats_count_the_flows_and_groups_forwarding_to_a_group() {
        let p = setup();
        if let Some(g) = p.group(1) {
            g.credit(4, 400);
            g.credit_bucket(0, 4, 400);
        }
        let s = p.group_stats(1, 3000);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].ref_count, 2);
        assert_eq!((s[0].packet_count, s[0].byte_count), (4, 400));
        assert_eq!(s[0].buckets, vec![(4, 400)]);
        assert_eq!(s[0].duration_ms, 3000);
        assert_eq!(p.group_stats(OFPG_ALL, 0).len(), 2);
        assert_eq!(p.group_desc().len(), 2);
    }

    #[test]
    fn meter_stats_count_the_flows_using_a_meter() {
        let p = setup();
        p.meter_apply(5, 100, 0);
        let s = p.meter_stats(OFPM_ALL, 10);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].flow_count, 1);
        assert_eq!((s[0].packet_in_count, s[0].byte_in_count), (1, 100));
        assert_eq!(p.meter_config(5).len(), 1);
        assert!(p.meter_config(6).is_empty());
    }
}
