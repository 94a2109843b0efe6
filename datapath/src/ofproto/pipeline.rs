//! The pipeline: 255 flow tables, the group and meter tables, the port table
//! and the switch configuration, with the version number that caches use as
//! their epoch.
//!
//! # Design
//!
//! The control plane owns the pipeline behind a read-write lock. Every
//! mutation takes `&mut self` and, when it changed anything that a
//! translation could observe, increments `version` (through `bump`). A
//! mutation that turns out to change nothing (a delete that selects no rule,
//! a port-mod that sets bits already set) leaves the version alone, so caches
//! do not revalidate for nothing. Forwarding threads only read, through
//! `&self`: lookups, group and port state, and the interior-mutable counters
//! and meter buckets.
//!
//! Invariants, kept by every `&mut self` method:
//! - `tables.len() == N_TABLES` and `tables[i].id() == i`;
//! - every rule's `table_id` is the index of the table holding it, every
//!   goto-table instruction points to a later table, every meter
//!   instruction names an installed meter, and every group action (in rules
//!   and in buckets) names an installed group;
//! - a port's `LIVE` bit agrees with its link and `PORT_DOWN` (see
//!   [`Port::refresh_live`]).

use super::error::OfError;
use super::group::{Group, OFPG_MAX};
use super::instruction::Instructions;
use super::meter::Meter;
use super::port::{Port, PortMod, PortState};
use super::rule::{RemovalReason, RemovedRule, Rule};
use super::table::{Table, N_TABLES, OFPTT_ALL, OFPTT_MAX};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Fragments are processed normally (`OFPC_FRAG_NORMAL`).
pub const OFPC_FRAG_NORMAL: u16 = 0;
/// Fragments are dropped (`OFPC_FRAG_DROP`).
pub const OFPC_FRAG_DROP: u16 = 1;
/// Fragments are reassembled (`OFPC_FRAG_REASM`; not supported).
pub const OFPC_FRAG_REASM: u16 = 2;
/// The fragment-handling bits (`OFPC_FRAG_MASK`).
pub const OFPC_FRAG_MASK: u16 = 3;
/// Send packets with an invalid TTL to the controller
/// (`OFPC_INVALID_TTL_TO_CONTROLLER`, from OpenFlow 1.1/1.2; kept as an
/// extension).
pub const OFPC_INVALID_TTL_TO_CONTROLLER: u16 = 1 << 2;
/// The default `miss_send_len` (`OFP_DEFAULT_MISS_SEND_LEN`).
pub const OFP_DEFAULT_MISS_SEND_LEN: u16 = 128;

/// Default capacity of the group table.
pub const DEFAULT_MAX_GROUPS: usize = 65_536;
/// Default capacity of the meter table.
pub const DEFAULT_MAX_METERS: usize = 65_536;

/// What to do with IP fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragHandling {
    /// Process them like any packet (L4 fields of later fragments are zero).
    Normal,
    /// Drop them.
    Drop,
}

/// The switch configuration (`OFPT_SET_CONFIG` / `OFPT_GET_CONFIG_REPLY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SwitchConfig {
    /// `OFPC_*` flags.
    pub flags: u16,
    /// Bytes of a table-miss packet to send to the controller.
    pub miss_send_len: u16,
}

impl Default for SwitchConfig {
    fn default() -> SwitchConfig {
        SwitchConfig {
            flags: OFPC_FRAG_NORMAL,
            miss_send_len: OFP_DEFAULT_MISS_SEND_LEN,
        }
    }
}

impl SwitchConfig {
    /// What to do with IP fragments.
    pub fn frag_handling(&self) -> FragHandling {
        if self.flags & OFPC_FRAG_MASK == OFPC_FRAG_DROP {
            FragHandling::Drop
        } else {
            FragHandling::Normal
        }
    }

    /// Whether packets whose TTL a decrement would make invalid go to the controller.
    pub fn invalid_ttl_to_controller(&self) -> bool {
        self.flags & OFPC_INVALID_TTL_TO_CONTROLLER != 0
    }
}

/// The OpenFlow pipeline of one switch.
#[derive(Debug)]
pub struct Pipeline {
    tables: Vec<Table>,
    pub(super) groups: BTreeMap<u32, Arc<Group>>,
    pub(super) meters: BTreeMap<u32, Arc<Meter>>,
    pub(super) ports: BTreeMap<u32, Port>,
    config: SwitchConfig,
    version: u64,
    pub(super) max_groups: usize,
    pub(super) max_meters: usize,
    normal: crate::normal::Normal,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl Pipeline {
    /// A pipeline of empty tables, no group, meter or port, default configuration.
    pub fn new() -> Pipeline {
        Pipeline {
            tables: (0..=OFPTT_MAX).map(Table::new).collect(),
            groups: BTreeMap::new(),
            meters: BTreeMap::new(),
            ports: BTreeMap::new(),
            config: SwitchConfig::default(),
            version: 0,
            max_groups: DEFAULT_MAX_GROUPS,
            max_meters: DEFAULT_MAX_METERS,
            normal: crate::normal::Normal::new(),
        }
    }

    /// The version: incremented by every change a translation could observe.
    /// Caches compare it with the one they were validated at.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The cache epoch: the version plus NORMAL's generation (MAC learning
    /// moves it without the write lock). Both only grow, so the sum moves
    /// exactly when either does.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.version.wrapping_add(self.normal.generation())
    }

    /// NORMAL switching state: MAC table, per-port VLAN and flooding configuration.
    #[inline]
    pub fn normal(&self) -> &crate::normal::Normal {
        &self.normal
    }

    /// NORMAL switching state, for configuration (moves the version).
    pub fn normal_mut(&mut self) -> &mut crate::normal::Normal {
        self.bump();
        &mut self.normal
    }

    /// Records a change.
    pub(super) fn bump(&mut self) {
        self.version += 1;
    }

    /// Table `id`, if it exists (ids 0..=254).
    #[inline]
    pub fn table(&self, id: u8) -> Option<&Table> {
        self.tables.get(usize::from(id))
    }

    pub(super) fn table_mut(&mut self, id: u8) -> Option<&mut Table> {
        self.tables.get_mut(usize::from(id))
    }

    pub(super) fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    /// Every table, by id.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The tables `table_id` selects: one table, or all for `OFPTT_ALL`.
    pub(super) fn selected_tables(&self, table_id: u8) -> std::ops::Range<usize> {
        if table_id == OFPTT_ALL {
            0..N_TABLES
        } else {
            let i = usize::from(table_id);
            i..i + 1
        }
    }

    /// Number of rules in every table.
    pub fn rule_count(&self) -> usize {
        self.tables.iter().map(Table::len).sum()
    }

    /// Group `id`, if installed.
    #[inline]
    pub fn group(&self, id: u32) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    /// Every group, by id.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<Group>> + '_ {
        self.groups.values()
    }

    /// Meter `id`, if installed.
    #[inline]
    pub fn meter(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    /// Every meter, by id.
    pub fn meters(&self) -> impl Iterator<Item = &Arc<Meter>> + '_ {
        self.meters.values()
    }

    /// Port `port_no`, if it exists.
    #[inline]
    pub fn port(&self, port_no: u32) -> Option<&Port> {
        self.ports.get(&port_no)
    }

    /// Every port, by number.
    pub fn ports(&self) -> impl Iterator<Item = &Port> + '_ {
        self.ports.values()
    }

    /// The switch configuration.
    pub fn config(&self) -> &SwitchConfig {
        &self.config
    }

    /// Capacity of the group table.
    pub fn max_groups(&self) -> usize {
        self.max_groups
    }

    /// Capacity of the meter table.
    pub fn max_meters(&self) -> usize {
        self.max_meters
    }

    /// Sets the capacity of the group table (existing groups stay).
    pub fn set_max_groups(&mut self, n: usize) {
        self.max_groups = n;
    }

    /// Sets the capacity of the meter table (existing meters stay).
    pub fn set_max_meters(&mut self, n: usize) {
        self.max_meters = n;
    }

    /// Sets the capacity of table `id` (existing rules stay).
    pub fn set_table_max_entries(&mut self, id: u8, n: usize) -> Result<(), OfError> {
        let t = self.table_mut(id).ok_or(OfError::BadTable)?;
        t.max_entries = n;
        Ok(())
    }

    /// Applies a switch configuration (`OFPT_SET_CONFIG`). Fragment
    /// reassembly is not supported.
    pub fn set_config(&mut self, config: SwitchConfig) -> Result<(), OfError> {
        let known = OFPC_FRAG_MASK | OFPC_INVALID_TTL_TO_CONTROLLER;
        if config.flags & !known != 0 || config.flags & OFPC_FRAG_MASK > OFPC_FRAG_DROP {
            return Err(OfError::BadConfigFlags);
        }
        if config != self.config {
            self.config = config;
            self.bump();
        }
        Ok(())
    }

    /// Applies a table mod: sets the (deprecated) configuration bits of
    /// table `table_id`, or of every table for `OFPTT_ALL`.
    pub fn table_mod(&mut self, table_id: u8, config: u32) -> Result<(), OfError> {
        if config & !super::table::OFPTC_DEPRECATED_MASK != 0 {
            return Err(OfError::BadTableConfig);
        }
        let mut changed = false;
        for i in self.selected_tables(table_id) {
            if let Some(t) = self.tables.get_mut(i) {
                changed |= t.config != config;
                t.config = config;
            }
        }
        if changed {
            self.bump();
        }
        Ok(())
    }

    /// Adds a port, or replaces the one with the same number; returns the
    /// replaced one. `LIVE` is recomputed from the port's link and config.
    pub fn add_port(&mut self, mut port: Port) -> Option<Port> {
        port.refresh_live();
        let old = self.ports.insert(port.port_no, port);
        self.bump();
        old
    }

    /// Removes a port. Flow entries that output to it stay (outputs to a
    /// missing port drop).
    pub fn remove_port(&mut self, port_no: u32) -> Option<Port> {
        let old = self.ports.remove(&port_no);
        if old.is_some() {
            self.bump();
        }
        old
    }

    /// Applies a port mod; returns whether the port changed (the channel
    /// then sends a PORT_STATUS).
    pub fn port_mod(&mut self, pm: &PortMod) -> Result<bool, OfError> {
        let port = self.ports.get_mut(&pm.port_no).ok_or(OfError::BadPort)?;
        if port.hw_addr != pm.hw_addr {
            return Err(OfError::BadHwAddr);
        }
        if !pm.advertise.is_empty()
            && !port.supported.is_empty()
            && !port.supported.contains(pm.advertise)
        {
            return Err(OfError::BadAdvertise);
        }
        let before = port.clone();
        port.config = (port.config & !pm.mask) | (pm.config & pm.mask);
        if !pm.advertise.is_empty() {
            port.advertised = pm.advertise;
        }
        port.refresh_live();
        let changed = *port != before;
        if changed {
            self.bump();
        }
        Ok(changed)
    }

    /// Records the link state of a port; returns whether the port changed.
    /// Unknown ports are ignored.
    pub fn set_port_state(&mut self, port_no: u32, link_up: bool) -> bool {
        let Some(port) = self.ports.get_mut(&port_no) else {
            return false;
        };
        let before = port.state;
        port.state.set(PortState::LINK_DOWN, !link_up);
        port.refresh_live();
        let changed = port.state != before;
        if changed {
            self.bump();
        }
        changed
    }

    /// Sets or clears `PortState::BLOCKED` (loop prevention); returns whether it changed.
    pub fn set_port_blocked(&mut self, port_no: u32, blocked: bool) -> bool {
        let Some(port) = self.ports.get_mut(&port_no) else {
            return false;
        };
        let before = port.state;
        port.state.set(PortState::BLOCKED, blocked);
        let changed = port.state != before;
        if changed {
            self.bump();
        }
        changed
    }

    /// Checks instructions for a rule of table `table_id`: goto forward
    /// only, meter installed, actions valid, groups installed.
    pub fn check_instructions(&self, table_id: u8, ins: &Instructions) -> Result<(), OfError> {
        if let Some(t) = ins.goto_table {
            if t <= table_id || t > OFPTT_MAX {
                return Err(OfError::BadGotoTable);
            }
        }
        if let Some(m) = ins.meter {
            if !self.meters.contains_key(&m) {
                return Err(OfError::UnknownMeter);
            }
        }
        for a in ins.actions() {
            a.check(false)?;
            if let Some(g) = a.group_id() {
                if g > OFPG_MAX || !self.groups.contains_key(&g) {
                    return Err(OfError::BadOutGroup);
                }
            }
        }
        Ok(())
    }

    /// Checks the action list of a packet-out: like a rule's actions, and
    /// `OFPP_TABLE` is a valid output.
    pub fn check_packet_out_actions(
        &self,
        actions: &[super::action::Action],
    ) -> Result<(), OfError> {
        for a in actions {
            a.check(true)?;
            if let Some(g) = a.group_id() {
                if g > OFPG_MAX || !self.groups.contains_key(&g) {
                    return Err(OfError::BadOutGroup);
                }
            }
        }
        Ok(())
    }

    /// Removes, from every table, the rules `doomed` selects; does not bump
    /// the version (the caller does, once).
    pub(super) fn remove_rules_where(
        &mut self,
        reason: RemovalReason,
        mut doomed: impl FnMut(&Rule) -> bool,
    ) -> Vec<RemovedRule> {
        let mut out = Vec::new();
        for t in &mut self.tables {
            if t.is_empty() {
                continue;
            }
            out.extend(
                t.remove_where(|r| doomed(r))
                    .into_iter()
                    .map(|rule| RemovedRule { rule, reason }),
            );
        }
        out
    }

    /// Removes the rules whose idle or hard timeout has elapsed at `now_ms`
    /// (OpenFlow 1.3.5, 5.5) and returns them with their reason.
    pub fn expire(&mut self, now_ms: u64) -> Vec<RemovedRule> {
        let mut out = Vec::new();
        for t in &mut self.tables {
            if !t.has_timeouts() {
                continue;
            }
            // The reason is decided once per rule: counters may be credited
            // concurrently through other references, so asking twice could
            // give two answers.
            let mut reasons = Vec::new();
            let removed = t.remove_where(|r| match r.expiry(now_ms) {
                Some(reason) => {
                    reasons.push(reason);
                    true
                }
                None => false,
            });
            out.extend(
                removed
                    .into_iter()
                    .zip(reasons)
                    .map(|(rule, reason)| RemovedRule { rule, reason }),
            );
        }
        if !out.is_empty() {
            self.bump();
        }
        out
    }

    /// The earliest time at which a rule could expire, if any rule has a
    /// timeout: a hint for scheduling the next `expire`.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.tables
            .iter()
            .filter(|t| t.has_timeouts())
            .flat_map(Table::rules)
            .filter_map(|r| {
                let hard = (r.hard_timeout != 0).then(|| {
                    r.created_ms
                        .saturating_add(u64::from(r.hard_timeout) * 1000)
                });
                let idle = (r.idle_timeout != 0).then(|| {
                    r.stats
                        .last_used_ms()
                        .saturating_add(u64::from(r.idle_timeout) * 1000)
                });
                match (hard, idle) {
                    (Some(h), Some(i)) => Some(h.min(i)),
                    (h, i) => h.or(i),
                }
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Field, Match};
    use crate::ofproto::action::Action;
    use crate::ofproto::flow_mod::FlowMod;
    use crate::ofproto::port::{PortConfig, PortFeatures, OFPP_TABLE};
    use crate::ofproto::rule::FlowModFlags;

    fn timed(p: &mut Pipeline, tcp: u16, idle: u16, hard: u16, now: u64) -> Arc<Rule> {
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set(Field::IpProto, 6);
        m.set(Field::TcpDst, u128::from(tcp));
        let mut fm = FlowMod::add(0, m, 1, Instructions::drop());
        fm.idle_timeout = idle;
        fm.hard_timeout = hard;
        fm.flags = FlowModFlags::SEND_FLOW_REM;
        p.flow_mod(&fm, now).expect("add").added.expect("rule")
    }

    #[test]
    fn the_pipeline_is_shareable_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Pipeline>();
        shareable::<Arc<Rule>>();
    }

    #[test]
    fn a_new_pipeline_has_255_empty_tables_numbered_in_order() {
        let p = Pipeline::new();
        assert_eq!(p.tables().len(), N_TABLES);
        assert!(p
            .tables()
            .iter()
            .enumerate()
            .all(|(i, t)| usize::from(t.id()) == i && t.is_empty()));
        assert!(p.table(OFPTT_MAX).is_some());
        assert!(p.table(OFPTT_ALL).is_none());
    }

    #[test]
    fn a_table_without_a_table_miss_rule_matches_nothing() {
        let mut p = Pipeline::new();
        let mut wc = crate::flow::FlowMask::wildcard();
        let key = crate::flow::FlowKey::default();
        assert!(p.table(0).and_then(|t| t.lookup(&key, &mut wc)).is_none());
        p.flow_mod(
            &FlowMod::add(0, Match::catch_all(), 0, Instructions::drop()),
            0,
        )
        .expect("miss");
        let hit = p
            .table(0)
            .and_then(|t| t.lookup(&key, &mut wc))
            .expect("table-miss rule");
        assert!(hit.is_table_miss());
    }

    #[test]
    fn expire_removes_idle_and_hard_timed_out_rules_with_their_reasons() {
        let mut p = Pipeline::new();
        let idle = timed(&mut p, 1, 10, 0, 0);
        timed(&mut p, 2, 0, 20, 0);
        timed(&mut p, 3, 0, 0, 0);
        assert_eq!(p.next_expiry_ms(), Some(10_000));
        idle.credit(1, 64, 5_000);
        assert!(p.expire(14_999).is_empty());
        let v = p.version();
        let gone = p.expire(15_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].reason, RemovalReason::IdleTimeout);
        assert!(gone[0].notify());
        assert!(p.version() > v);
        let gone = p.expire(20_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].reason, RemovalReason::HardTimeout);
        assert_eq!(p.rule_count(), 1);
        assert!(!p.table(0).expect("table").has_timeouts());
        assert_eq!(p.next_expiry_ms(), None);
        let v = p.version();
        assert!(p.expire(1_000_000).is_empty());
        assert_eq!(p.version(), v, "expiring nothing changes nothing");
    }

    #[test]
    fn a_rule_with_both_timeouts_reports_the_hard_one_when_both_elapsed() {
        let mut p = Pipeline::new();
        timed(&mut p, 1, 5, 5, 0);
        let gone = p.expire(6_000);
        assert_eq!(gone[0].reason, RemovalReason::HardTimeout);
    }

    #[test]
    fn replacing_a_timed_rule_restarts_its_timers() {
        let mut p = Pipeline::new();
        timed(&mut p, 1, 0, 10, 0);
        timed(&mut p, 1, 0, 10, 8_000);
        assert!(p.expire(12_000).is_empty());
        assert_eq!(p.expire(18_000).len(), 1);
    }

    #[test]
    fn port_mod_checks_the_port_and_its_hardware_address() {
        let mut p = Pipeline::new();
        let mut port = Port::new(1, "p1", [2, 0, 0, 0, 0, 1]);
        port.supported = PortFeatures::RATE_1GB_FD | PortFeatures::RATE_10GB_FD;
        p.add_port(port);
        let mut pm = PortMod {
            port_no: 2,
            hw_addr: [2, 0, 0, 0, 0, 1],
            config: PortConfig::PORT_DOWN,
            mask: PortConfig::PORT_DOWN,
            advertise: PortFeatures::empty(),
        };
        assert_eq!(p.port_mod(&pm), Err(OfError::BadPort));
        pm.port_no = 1;
        pm.hw_addr = [2, 0, 0, 0, 0, 2];
        assert_eq!(p.port_mod(&pm), Err(OfError::BadHwAddr));
        pm.hw_addr = [2, 0, 0, 0, 0, 1];
        pm.advertise = PortFeatures::RATE_100GB_FD;
        assert_eq!(p.port_mod(&pm), Err(OfError::BadAdvertise));
        pm.advertise = PortFeatures::RATE_10GB_FD;
        let v = p.version();
        assert_eq!(p.port_mod(&pm), Ok(true));
        assert!(p.version() > v);
        let port = p.port(1).expect("port");
        assert!(port.config.contains(PortConfig::PORT_DOWN));
        assert!(!port.is_live(), "an administratively down port is not live");
        assert_eq!(port.advertised, PortFeatures::RATE_10GB_FD);
        let v = p.version();
        assert_eq!(p.port_mod(&pm), Ok(false));
        assert_eq!(p.version(), v, "setting bits already set changes nothing");
    }

    #[test]
    fn port_mod_changes_only_the_masked_bits() {
        let mut p = Pipeline::new();
        let mut port = Port::new(1, "p1", [0; 6]);
        port.config = PortConfig::NO_FWD;
        p.add_port(port);
        let pm = PortMod {
            port_no: 1,
            hw_addr: [0; 6],
            config: PortConfig::NO_PACKET_IN,
            mask: PortConfig::NO_PACKET_IN | PortConfig::NO_RECV,
            advertise: PortFeatures::empty(),
        };
        p.port_mod(&pm).expect("mod");
        assert_eq!(
            p.port(1).expect("port").config,
            PortConfig::NO_FWD | PortConfig::NO_PACKET_IN
        );
    }

    #[test]
    fn link_state_changes_move_liveness_and_the_version_only_when_they_change_something() {
        let mut p = Pipeline::new();
        p.add_port(Port::new(4, "p4", [0; 6]));
        let v = p.version();
        assert!(!p.set_port_state(4, true));
        assert_eq!(p.version(), v);
        assert!(p.set_port_state(4, false));
        assert!(p.version() > v);
        let port = p.port(4).expect("port");
        assert!(!port.is_live() && !port.link_up());
        assert!(p.set_port_state(4, true));
        assert!(p.port(4).expect("port").is_live());
        assert!(!p.set_port_state(99, false), "unknown ports are ignored");
        assert!(p.remove_port(4).is_some());
        assert!(p.remove_port(4).is_none());
    }

    #[test]
    fn switch_config_refuses_reassembly_and_unknown_flags() {
        let mut p = Pipeline::new();
        assert_eq!(p.config().frag_handling(), FragHandling::Normal);
        let reasm = SwitchConfig {
            flags: OFPC_FRAG_REASM,
            miss_send_len: 128,
        };
        assert_eq!(p.set_config(reasm), Err(OfError::BadConfigFlags));
        let unknown = SwitchConfig {
            flags: 0x80,
            miss_send_len: 128,
        };
        assert_eq!(p.set_config(unknown), Err(OfError::BadConfigFlags));
        let drop = SwitchConfig {
            flags: OFPC_FRAG_DROP | OFPC_INVALID_TTL_TO_CONTROLLER,
            miss_send_len: 0xffff,
        };
        let v = p.version();
        p.set_config(drop).expect("config");
        assert!(p.version() > v);
        assert_eq!(p.config().frag_handling(), FragHandling::Drop);
        assert!(p.config().invalid_ttl_to_controller());
    }

    #[test]
    fn table_mod_sets_the_deprecated_bits_of_one_or_every_table() {
        let mut p = Pipeline::new();
        assert_eq!(p.table_mod(0, 4), Err(OfError::BadTableConfig));
        p.table_mod(3, 1).expect("one");
        assert_eq!(p.table(3).map(|t| t.config), Some(1));
        assert_eq!(p.table(4).map(|t| t.config), Some(0));
        p.table_mod(OFPTT_ALL, 2).expect("all");
        assert!(p.tables().iter().all(|t| t.config == 2));
    }

    #[test]
    fn packet_out_actions_may_output_to_the_table_port() {
        let p = Pipeline::new();
        let acts = [Action::Output {
            port: OFPP_TABLE,
            max_len: 0,
        }];
        assert_eq!(p.check_packet_out_actions(&acts), Ok(()));
        assert_eq!(
            p.check_packet_out_actions(&[Action::Group(1)]),
            Err(OfError::BadOutGroup)
        );
    }
}
