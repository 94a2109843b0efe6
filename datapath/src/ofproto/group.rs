//! The group table (OpenFlow 1.3.5, 5.6 and 6.5): group types, buckets,
//! group-mod requests, and the pipeline's handling of them.
//!
//! # Design
//!
//! A group is immutable once installed, like a rule: a modify builds a new
//! `Group` and swaps the `Arc`, keeping the group-level counters (shared
//! `Arc<Counters>`) and its creation time, with fresh per-bucket counters
//! since the buckets themselves changed.
//!
//! Invariants kept by [`Pipeline::group_mod`]:
//! - every group id is in 0..=`OFPG_MAX`;
//! - every group action in a bucket names an installed group (chaining is
//!   supported), and following group actions from any group never comes back
//!   to it (no loop), so translation's walk of a group chain terminates;
//! - an indirect group has exactly one bucket; only select buckets carry a
//!   weight; every fast-failover bucket watches a port or a group, and a
//!   watched group exists;
//! - no flow entry or group refers to a group that does not exist: deleting
//!   a group deletes the entries that forward to it (reason `GroupDelete`),
//!   and a group that another group forwards to or watches cannot be deleted
//!   on its own (`OFPGMFC_CHAINED_GROUP`); deleting `OFPG_ALL` removes all.
//!
//! Bucket liveness ([`Pipeline::bucket_live`]) follows the watched port's
//! `OFPPS_LIVE` bit and, for a watched group, whether that group has a live
//! bucket, recursively but bounded by [`MAX_WATCH_DEPTH`].

use super::action::Action;
use super::counters::Counters;
use super::error::OfError;
use super::port::{is_physical, OFPP_ANY, OFPP_LOCAL};
use super::rule::{RemovalReason, RemovedRule};
use super::Pipeline;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The highest group number (`OFPG_MAX`).
pub const OFPG_MAX: u32 = 0xffff_ff00;
/// Every group; for group-mod delete and group statistics (`OFPG_ALL`).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// No group; a wildcard in requests and "no watch group" (`OFPG_ANY`).
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// How deep `bucket_live` follows watched groups.
pub const MAX_WATCH_DEPTH: usize = 16;
/// The most buckets a group may have.
pub const MAX_BUCKETS: usize = 1024;

/// Group types (`ofp_group_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// Execute every bucket (multicast, broadcast).
    All,
    /// Execute one bucket chosen by the flow hash, weighted.
    Select,
    /// Execute the one bucket.
    Indirect,
    /// Execute the first live bucket.
    FastFailover,
}

impl GroupType {
    /// The wire number (`OFPGT_*`).
    pub const fn number(self) -> u8 {
        match self {
            GroupType::All => 0,
            GroupType::Select => 1,
            GroupType::Indirect => 2,
            GroupType::FastFailover => 3,
        }
    }

    /// The type with this wire number.
    pub const fn from_number(n: u8) -> Option<GroupType> {
        match n {
            0 => Some(GroupType::All),
            1 => Some(GroupType::Select),
            2 => Some(GroupType::Indirect),
            3 => Some(GroupType::FastFailover),
            _ => None,
        }
    }
}

/// One bucket of a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Relative weight (select groups only; 0 for the others).
    pub weight: u16,
    /// Port whose liveness decides the bucket's (fast failover); `OFPP_ANY` for none.
    pub watch_port: u32,
    /// Group whose liveness decides the bucket's (fast failover); `OFPG_ANY` for none.
    pub watch_group: u32,
    /// Actions applied to the packet's copy, as an action set would run them.
    pub actions: Vec<Action>,
}

impl Bucket {
    /// A bucket of `actions` with no weight and no watch.
    pub fn new(actions: Vec<Action>) -> Bucket {
        Bucket {
            weight: 0,
            watch_port: OFPP_ANY,
            watch_group: OFPG_ANY,
            actions,
        }
    }

    /// The groups this bucket forwards to.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions.iter().filter_map(Action::group_id)
    }
}

/// What a group mod does (`ofp_group_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupModCommand {
    /// Add a new group.
    Add,
    /// Replace the type and buckets of an existing group.
    Modify,
    /// Delete a group (`OFPG_ALL` for all).
    Delete,
}

impl GroupModCommand {
    /// The wire number (`OFPGC_*`).
    pub const fn number(self) -> u16 {
        match self {
            GroupModCommand::Add => 0,
            GroupModCommand::Modify => 1,
            GroupModCommand::Delete => 2,
        }
    }

    /// The command with this wire number.
    pub const fn from_number(n: u16) -> Option<GroupModCommand> {
        match n {
            0 => Some(GroupModCommand::Add),
            1 => Some(GroupModCommand::Modify),
            2 => Some(GroupModCommand::Delete),
            _ => None,
        }
    }
}

/// A group-table modification request (`OFPT_GROUP_MOD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMod {
    /// What to do.
    pub command: GroupModCommand,
    /// The group's type (ignored by delete).
    pub group_type: GroupType,
    /// The group (`OFPG_ALL` for delete-all).
    pub group_id: u32,
    /// The buckets (ignored by delete).
    pub buckets: Vec<Bucket>,
}

/// One installed group.
#[derive(Debug)]
pub struct Group {
    /// Its number.
    pub group_id: u32,
    /// Its type.
    pub group_type: GroupType,
    /// Its buckets, in order.
    pub buckets: Vec<Bucket>,
    /// When it was added, in ms.
    pub created_ms: u64,
    /// Packets and bytes processed by the group (kept across modifies).
    pub stats: Arc<Counters>,
    /// Packets and bytes per bucket, index for index with `buckets`.
    pub bucket_stats: Vec<Counters>,
}

impl Group {
    /// Credits the group with `packets` and `bytes`.
    pub fn credit(&self, packets: u64, bytes: u64) {
        self.stats.credit(packets, bytes);
    }

    /// Credits bucket `index` (ignored when out of range).
    pub fn credit_bucket(&self, index: usize, packets: u64, bytes: u64) {
        if let Some(c) = self.bucket_stats.get(index) {
            c.credit(packets, bytes);
        }
    }

    /// The groups this group forwards to directly.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(Bucket::groups)
    }
}

/// What a group mod changed.
#[derive(Clone, Debug, Default)]
pub struct GroupModOutcome {
    /// Groups deleted (the named one, or all of them).
    pub deleted_groups: Vec<u32>,
    /// Flow entries removed because they forwarded to a deleted group.
    pub removed: Vec<RemovedRule>,
}

impl Pipeline {
    /// Applies a group mod (OpenFlow 1.3.5, 6.5). Delete of a group that does
    /// not exist is not an error. The version moves when anything changed.
    pub fn group_mod(&mut self, gm: &GroupMod, now_ms: u64) -> Result<GroupModOutcome, OfError> {
        match gm.command {
            GroupModCommand::Add => {
                if gm.group_id > OFPG_MAX {
                    return Err(OfError::InvalidGroup);
                }
                if self.groups.contains_key(&gm.group_id) {
                    return Err(OfError::GroupExists);
                }
                if self.groups.len() >= self.max_groups {
                    return Err(OfError::OutOfGroups);
                }
                self.check_group(gm)?;
                let group = Group {
                    group_id: gm.group_id,
                    group_type: gm.group_type,
                    buckets: gm.buckets.clone(),
                    created_ms: now_ms,
                    stats: Arc::new(Counters::new()),
                    bucket_stats: gm.buckets.iter().map(|_| Counters::new()).collect(),
                };
                self.groups.insert(gm.group_id, Arc::new(group));
                self.bump();
                Ok(GroupModOutcome::default())
            }
            GroupModCommand::Modify => {
                if gm.group_id > OFPG_MAX {
                    return Err(OfError::InvalidGroup);
                }
                let Some(old) = self.groups.get(&gm.group_id) else {
                    return Err(OfError::UnknownGroup);
                };
                let (stats, created_ms) = (Arc::clone(&old.stats), old.created_ms);
                self.check_group(gm)?;
                let group = Group {
                    group_id: gm.group_id,
                    group_type: gm.group_type,
                    buckets: gm.buckets.clone(),
                    created_ms,
                    stats,
                    bucket_stats: gm.buckets.iter().map(|_| Counters::new()).collect(),
                };
                self.groups.insert(gm.group_id, Arc::new(group));
                self.bump();
                Ok(GroupModOutcome::default())
            }
            GroupModCommand::Delete => self.delete_groups(gm.group_id),
        }
    }

    /// Checks the type, buckets, watches, chained groups and loops of an add
    /// or modify against the current table.
    fn check_group(&self, gm: &GroupMod) -> Result<(), OfError> {
        if gm.buckets.len() > MAX_BUCKETS {
            return Err(OfError::OutOfBuckets);
        }
        if gm.group_type == GroupType::Indirect && gm.buckets.len() != 1 {
            return Err(OfError::InvalidGroup);
        }
        for b in &gm.buckets {
            if gm.group_type != GroupType::Select && b.weight != 0 {
                return Err(OfError::InvalidGroup);
            }
            if gm.group_type == GroupType::FastFailover {
                if b.watch_port == OFPP_ANY && b.watch_group == OFPG_ANY {
                    return Err(OfError::BadWatch);
                }
                if b.watch_port != OFPP_ANY
                    && !is_physical(b.watch_port)
                    && b.watch_port != OFPP_LOCAL
                {
                    return Err(OfError::BadWatch);
                }
                if b.watch_group != OFPG_ANY
                    && (b.watch_group == gm.group_id || !self.groups.contains_key(&b.watch_group))
                {
                    return Err(OfError::BadWatch);
                }
            }
            for a in &b.actions {
                a.check(false)?;
                if let Some(g) = a.group_id() {
                    if g == gm.group_id {
                        return Err(OfError::GroupLoop);
                    }
                    if g > OFPG_MAX || !self.groups.contains_key(&g) {
                        return Err(OfError::BadOutGroup);
                    }
                }
            }
        }
        // A modify may make a group that others chain to reach one of them.
        let direct: BTreeSet<u32> = gm.buckets.iter().flat_map(Bucket::groups).collect();
        if direct.iter().any(|&g| self.group_reaches(g, gm.group_id)) {
            return Err(OfError::GroupLoop);
        }
        Ok(())
    }

    /// Whether following group actions from `from` reaches `target`.
    fn group_reaches(&self, from: u32, target: u32) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(g) = stack.pop() {
            if g == target {
                return true;
            }
            if !seen.insert(g) {
                continue;
            }
            if let Some(group) = self.groups.get(&g) {
                stack.extend(group.groups());
            }
        }
        false
    }

    /// Deletes `group_id` (or every group for `OFPG_ALL`) and the flow
    /// entries that forward to it. A group that another group forwards to or
    /// watches is refused with `ChainedGroup`.
    fn delete_groups(&mut self, group_id: u32) -> Result<GroupModOutcome, OfError> {
        let doomed: BTreeSet<u32> = if group_id == OFPG_ALL {
            self.groups.keys().copied().collect()
        } else if self.groups.contains_key(&group_id) {
            let chained = self.groups.values().any(|g| {
                g.group_id != group_id
                    && (g.groups().any(|x| x == group_id)
                        || g.buckets.iter().any(|b| b.watch_group == group_id))
            });
            if chained {
                return Err(OfError::ChainedGroup);
            }
            BTreeSet::from([group_id])
        } else {
            BTreeSet::new()
        };
        if doomed.is_empty() {
            return Ok(GroupModOutcome::default());
        }
        for g in &doomed {
            self.groups.remove(g);
        }
        let removed = self.remove_rules_where(RemovalReason::GroupDelete, |r| {
            r.instructions.groups().any(|g| doomed.contains(&g))
        });
        self.bump();
        Ok(GroupModOutcome {
            deleted_groups: doomed.into_iter().collect(),
            removed,
        })
    }

    /// Whether `bucket` may be used: its watched port is live and its
    /// watched group has a live bucket. A bucket watching nothing is live.
    pub fn bucket_live(&self, bucket: &Bucket) -> bool {
        self.bucket_live_depth(bucket, 0)
    }

    fn bucket_live_depth(&self, bucket: &Bucket, depth: usize) -> bool {
        if bucket.watch_port != OFPP_ANY
            && !self
                .ports
                .get(&bucket.watch_port)
                .is_some_and(|p| p.is_live())
        {
            return false;
        }
        if bucket.watch_group != OFPG_ANY {
            if depth >= MAX_WATCH_DEPTH {
                return false;
            }
            let Some(g) = self.groups.get(&bucket.watch_group) else {
                return false;
            };
            return g
                .buckets
                .iter()
                .any(|b| self.bucket_live_depth(b, depth + 1));
        }
        true
    }

    /// The bucket a fast-failover group uses: the first live one.
    pub fn first_live_bucket(&self, group: &Group) -> Option<usize> {
        group.buckets.iter().position(|b| self.bucket_live(b))
    }

    /// The bucket a select group uses for a packet whose flow hash is
    /// `hash`: weighted among the live buckets of non-zero weight.
    pub fn select_bucket(&self, group: &Group, hash: u32) -> Option<usize> {
        let live: Vec<(usize, u64)> = group
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.weight != 0 && self.bucket_live(b))
            .map(|(i, b)| (i, u64::from(b.weight)))
            .collect();
        let total: u64 = live.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut pick = u64::from(hash) % total;
        for (i, w) in live {
            if pick < w {
                return Some(i);
            }
            pick -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Match;
    use crate::ofproto::flow_mod::FlowMod;
    use crate::ofproto::instruction::Instructions;
    use crate::ofproto::port::{Port, OFPP_MAX};

    fn output(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    fn gm(
        command: GroupModCommand,
        group_type: GroupType,
        group_id: u32,
        buckets: Vec<Bucket>,
    ) -> GroupMod {
        GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        }
    }

    fn add(
        p: &mut Pipeline,
        t: GroupType,
        id: u32,
        buckets: Vec<Bucket>,
    ) -> Result<GroupModOutcome, OfError> {
        p.group_mod(&gm(GroupModCommand::Add, t, id, buckets), 0)
    }

    fn to_group(g: u32) -> Bucket {
        Bucket::new(vec![Action::Group(g)])
    }

    fn watching(port: u32, group: u32, out: u32) -> Bucket {
        Bucket {
            watch_port: port,
            watch_group: group,
            ..Bucket::new(vec![output(out)])
        }
    }

    #[test]
    fn adding_an_existing_group_fails_with_group_exists() {
        let mut p = Pipeline::new();
        add(&mut p, GroupType::All, 1, vec![]).expect("add");
        assert_eq!(
            add(&mut p, GroupType::All, 1, vec![]).err(),
            Some(OfError::GroupExists)
        );
    }

    #[test]
    fn reserved_group_numbers_are_invalid() {
        let mut p = Pipeline::new();
        assert_eq!(
            add(&mut p, GroupType::All, OFPG_ALL, vec![]).err(),
            Some(OfError::InvalidGroup)
        );
        assert_eq!(
            add(&mut p, GroupType::All, OFPG_ANY, vec![]).err(),
            Some(OfError::InvalidGroup)
        );
        assert!(add(&mut p, GroupType::All, OFPG_MAX, vec![]).is_ok());
    }

    #[test]
    fn modifying_an_unknown_group_fails_with_unknown_group() {
        let mut p = Pipeline::new();
        let r = p.group_mod(&gm(GroupModCommand::Modify, GroupType::All, 3, vec![]), 0);
        assert_eq!(r.err(), Some(OfError::UnknownGroup));
    }

    #[test]
    fn an_indirect_group_has_exactly_one_bucket() {
        let mut p = Pipeline::new();
        let b = || Bucket::new(vec![output(1)]);
        assert_eq!(
            add(&mut p, GroupType::Indirect, 1, vec![]).err(),
            Some(OfError::InvalidGroup)
        );
        assert_eq!(
            add(&mut p, GroupType::Indirect, 1, vec![b(), b()]).err(),
            Some(OfError::InvalidGroup)
        );
        assert!(add(&mut p, GroupType::Indirect, 1, vec![b()]).is_ok());
    }

    #[test]
    fn only_select_buckets_carry_a_weight() {
        let mut p = Pipeline::new();
        let weighted = Bucket {
            weight: 2,
            ..Bucket::new(vec![output(1)])
        };
        assert_eq!(
            add(&mut p, GroupType::All, 1, vec![weighted.clone()]).err(),
            Some(OfError::InvalidGroup)
        );
        assert!(add(&mut p, GroupType::Select, 1, vec![weighted]).is_ok());
    }

    #[test]
    fn fast_failover_buckets_must_watch_something_that_can_exist() {
        let mut p = Pipeline::new();
        let none = watching(OFPP_ANY, OFPG_ANY, 1);
        assert_eq!(
            add(&mut p, GroupType::FastFailover, 1, vec![none]).err(),
            Some(OfError::BadWatch)
        );
        let missing_group = watching(OFPP_ANY, 9, 1);
        assert_eq!(
            add(&mut p, GroupType::FastFailover, 1, vec![missing_group]).err(),
            Some(OfError::BadWatch)
        );
        let reserved_port = watching(OFPP_MAX + 1, OFPG_ANY, 1);
        assert_eq!(
            add(&mut p, GroupType::FastFailover, 1, vec![reserved_port]).err(),
            Some(OfError::BadWatch)
        );
        assert!(add(
            &mut p,
            GroupType::FastFailover,
            1,
            vec![watching(3, OFPG_ANY, 3)]
        )
        .is_ok());
    }

    #[test]
    fn a_bucket_forwarding_to_a_missing_group_is_refused() {
        let mut p = Pipeline::new();
        assert_eq!(
            add(&mut p, GroupType::All, 1, vec![to_group(2)]).err(),
            Some(OfError::BadOutGroup)
        );
    }

    #[test]
    fn a_group_forwarding_to_itself_is_a_loop() {
        let mut p = Pipeline::new();
        add(&mut p, GroupType::All, 1, vec![]).expect("add");
        let r = p.group_mod(
            &gm(
                GroupModCommand::Modify,
                GroupType::All,
                1,
                vec![to_group(1)],
            ),
            0,
        );
        assert_eq!(r.err(), Some(OfError::GroupLoop));
    }

    #[test]
    fn chained_groups_must_not_form_a_loop() {
        let mut p = Pipeline::new();
        add(&mut p, GroupType::All, 3, vec![]).expect("3");
        add(&mut p, GroupType::All, 2, vec![to_group(3)]).expect("2 -> 3");
        add(&mut p, GroupType::Indirect, 1, vec![to_group(2)]).expect("1 -> 2");
        let v = p.version();
        let r = p.group_mod(
            &gm(
                GroupModCommand::Modify,
                GroupType::All,
                3,
                vec![to_group(1)],
            ),
            0,
        );
        assert_eq!(r.err(), Some(OfError::GroupLoop));
        assert_eq!(p.version(), v);
        assert!(
            p.group(3).is_some_and(|g| g.buckets.is_empty()),
            "the refused modify changed nothing"
        );
        let ok = p.group_mod(
            &gm(
                GroupModCommand::Modify,
                GroupType::All,
                3,
                vec![Bucket::new(vec![output(4)])],
            ),
            0,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn deleting_a_group_removes_the_flows_that_forward_to_it() {
        let mut p = Pipeline::new();
        add(&mut p, GroupType::All, 1, vec![]).expect("1");
        add(&mut p, GroupType::All, 2, vec![]).expect("2");
        p.flow_mod(
            &FlowMod::add(
                0,
                Match::catch_all(),
                1,
                Instructions::write(vec![Action::Group(1)]),
            ),
            0,
        )
        .expect("flow 1");
        p.flow_mod(
            &FlowMod::add(
                0,
                Match::catch_all(),
                2,
                Instructions::apply(vec![Action::Group(2)]),
            ),
            0,
        )
        .expect("flow 2");
        let o = p
            .group_mod(&gm(GroupModCommand::Delete, GroupType::All, 1, vec![]), 0)
            .expect("delete");
        assert_eq!(o.deleted_groups, vec![1]);
        assert_eq!(o.removed.len(), 1);
        assert_eq!(o.removed[0].reason, RemovalReason::GroupDelete);
        assert_eq!(p.rule_count(), 1);
        assert!(p.group(1).is_none());
    }

    #[test]
    fn deleting_a_missing_group_is_not_an_error_and_changes_nothing() {
        let mut p = Pipeline::new();
        let v = p.version();
        let o = p
            .group_mod(&gm(GroupModCommand::Delete, GroupType::All, 5, vec![]), 0)
            .expect("delete");
        assert!(o.deleted_groups.is_empty());
        assert_eq!(p.version(), v);
    }

    #[test]
    fn a_group_another_group_uses_cannot_be_deleted_alone() {
        let mut p = Pipeline::new();
        add(&mut p, GroupType::All, 2, vec![]).expect("2");
        add(&mut p, GroupType::All, 1, vec![to_group(2)]).expect("1 -> 2");
        add(
            &mut p,
            GroupType::FastFailover,
            3,
            vec![watching(OFPP_ANY, 2, 1)],
        )
        .expect("3 watches 2");
        let r = p.group_mod(&gm(GroupModCommand::Delete, GroupType::All, 2, vec![]), 0);
        assert_eq!(r.err(), Some(OfError::ChainedGroup));
        let all = p
            .group_mod(
                &gm(GroupModCommand::Delete, GroupType::All, OFPG_ALL, vec![]),
                0,
            )
            .expect("all");
        assert_eq!(all.deleted_groups, vec![1, 2, 3]);
        assert_eq!(p.groups().count(), 0);
    }

    #[test]
    fn bucket_liveness_follows_the_watched_port_and_group() {
        let mut p = Pipeline::new();
        p.add_port(Port::new(1, "p1", [0, 0, 0, 0, 0, 1]));
        p.add_port(Port::new(2, "p2", [0, 0, 0, 0, 0, 2]));
        add(
            &mut p,
            GroupType::FastFailover,
            10,
            vec![watching(1, OFPG_ANY, 1)],
        )
        .expect("10");
        add(
            &mut p,
            GroupType::FastFailover,
            11,
            vec![watching(OFPP_ANY, 10, 2), watching(2, OFPG_ANY, 2)],
        )
        .expect("11");
        let g11 = Arc::clone(p.group(11).expect("11"));
        assert_eq!(p.first_live_bucket(&g11), Some(0));
        assert!(p.set_port_state(1, false));
        assert!(
            !p.bucket_live(&g11.buckets[0]),
            "the watched group has no live bucket"
        );
        assert_eq!(p.first_live_bucket(&g11), Some(1));
        p.set_port_state(2, false);
        assert_eq!(p.first_live_bucket(&g11), None);
        assert!(
            !p.bucket_live(&watching(99, OFPG_ANY, 1)),
            "a missing port is not live"
        );
        assert!(
            p.bucket_live(&Bucket::new(vec![])),
            "a bucket watching nothing is live"
        );
    }

    #[test]
    fn select_picks_among_live_buckets_by_weight() {
        let mut p = Pipeline::new();
        p.add_port(Port::new(1, "p1", [0; 6]));
        p.add_port(Port::new(2, "p2", [0; 6]));
        let b = |w, port| Bucket {
            weight: w,
            watch_port: port,
            ..Bucket::new(vec![output(port)])
        };
        add(
            &mut p,
            GroupType::Select,
            1,
            vec![b(1, 1), b(3, 2), b(0, 1)],
        )
        .expect("select");
        let g = Arc::clone(p.group(1).expect("group"));
        let picks: Vec<Option<usize>> = (0..4).map(|h| p.select_bucket(&g, h)).collect();
        assert_eq!(picks, vec![Some(0), Some(1), Some(1), Some(1)]);
        p.set_port_state(2, false);
        assert!((0..8).all(|h| p.select_bucket(&g, h) == Some(0)));
        p.set_port_state(1, false);
        assert_eq!(p.select_bucket(&g, 0), None);
    }

    #[test]
    fn modify_keeps_the_group_counters_and_resets_the_bucket_counters() {
        let mut p = Pipeline::new();
        add(
            &mut p,
            GroupType::All,
            1,
            vec![Bucket::new(vec![output(1)])],
        )
        .expect("add");
        let g = Arc::clone(p.group(1).expect("group"));
        g.credit(2, 200);
        g.credit_bucket(0, 2, 200);
        g.credit_bucket(7, 1, 1);
        let two = vec![Bucket::new(vec![output(1)]), Bucket::new(vec![output(2)])];
        p.group_mod(&gm(GroupModCommand::Modify, GroupType::All, 1, two), 50)
            .expect("modify");
        let g2 = p.group(1).expect("group");
        assert_eq!(g2.stats.packets(), 2);
        assert_eq!(g2.bucket_stats.len(), 2);
        assert_eq!(g2.bucket_stats[0].packets(), 0);
        assert_eq!(g2.created_ms, 0);
    }

    #[test]
    fn a_full_group_table_refuses_new_groups() {
        let mut p = Pipeline::new();
        p.set_max_groups(1);
        add(&mut p, GroupType::All, 1, vec![]).expect("1");
        assert_eq!(
            add(&mut p, GroupType::All, 2, vec![]).err(),
            Some(OfError::OutOfGroups)
        );
    }

    #[test]
    fn group_type_numbers_round_trip() {
        for n in 0..4 {
            assert_eq!(GroupType::from_number(n).map(GroupType::number), Some(n));
        }
        assert_eq!(GroupType::from_number(4), None);
        for n in 0..3 {
            assert_eq!(
                GroupModCommand::from_number(n).map(GroupModCommand::number),
                Some(n)
            );
        }
    }
}
