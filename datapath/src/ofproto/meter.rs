//! The meter table (OpenFlow 1.3.5, 5.7 and 7.3.4.4): meter configuration,
//! meter-mod requests, and token-bucket rate limiting.
//!
//! # Design
//!
//! A meter's configuration is immutable once installed; its run-time state
//! (one token bucket per band) sits behind a `Mutex` so that forwarding
//! threads, which hold only a read lock on the pipeline, can charge packets
//! through `&self`. The lock is held for a few arithmetic operations per
//! packet and never across anything else.
//!
//! Each band owns a bucket measured in thousandths of its unit, so that one
//! millisecond of time always adds exactly `rate` tokens:
//! - `KBPS`: the unit is the kilobit, a token is one bit, a packet costs
//!   `8 * len` tokens;
//! - `PKTPS`: the unit is the packet, a token is a thousandth of a packet, a
//!   packet costs 1000 tokens.
//!
//! A bucket holds at most `burst_size * 1000` tokens when `BURST` is set, and
//! one second's worth (`rate * 1000`) otherwise; it starts full. A packet is
//! charged to every band whose bucket covers it; a band whose bucket does not
//! is *exceeded*. If any band is exceeded, the one with the highest rate
//! applies (OpenFlow: "the band with the highest configured rate that is
//! lower than the current measured rate"): drop, or raise the DSCP drop
//! precedence. Time only moves forward: an earlier `now_ms` than the last one
//! adds no tokens.

use super::counters::Counters;
use super::error::OfError;
use super::rule::{RemovalReason, RemovedRule};
use super::Pipeline;
use smallvec::SmallVec;
use std::sync::{Arc, Mutex, PoisonError};

/// The highest meter number of an ordinary meter (`OFPM_MAX`).
pub const OFPM_MAX: u32 = 0xffff_0000;
/// The virtual meter of the slow datapath (`OFPM_SLOWPATH`).
pub const OFPM_SLOWPATH: u32 = 0xffff_fffd;
/// The virtual meter of packets sent to the controller (`OFPM_CONTROLLER`).
pub const OFPM_CONTROLLER: u32 = 0xffff_fffe;
/// Every meter; for meter-mod delete and meter statistics (`OFPM_ALL`).
pub const OFPM_ALL: u32 = 0xffff_ffff;

/// The most bands a meter may have.
pub const MAX_BANDS: usize = 8;

flag_set! {
    /// Meter configuration flags (`ofp_meter_flags`).
    MeterFlags: u16 {
        /// Rates and bursts are in kilobits (per second).
        KBPS = 1 << 0;
        /// Rates and bursts are in packets (per second).
        PKTPS = 1 << 1;
        /// Use each band's `burst_size`.
        BURST = 1 << 2;
        /// Collect statistics.
        STATS = 1 << 3;
    }
}

/// What a band does to the packets that exceed its rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeterBandType {
    /// Drop them (`OFPMBT_DROP`).
    Drop,
    /// Raise their DSCP drop precedence by `prec_level` (`OFPMBT_DSCP_REMARK`).
    DscpRemark {
        /// Drop precedence levels to add.
        prec_level: u8,
    },
    /// An experimenter band (`OFPMBT_EXPERIMENTER`); never installed.
    Experimenter {
        /// The experimenter id.
        experimenter: u32,
    },
}

/// One band of a meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MeterBand {
    /// What the band does.
    pub band_type: MeterBandType,
    /// Rate above which the band applies (kb/s or packets/s).
    pub rate: u32,
    /// Burst size (kilobits or packets), used with `MeterFlags::BURST`.
    pub burst_size: u32,
}

/// What a meter mod does (`ofp_meter_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeterModCommand {
    /// Add a new meter.
    Add,
    /// Replace an existing meter's configuration.
    Modify,
    /// Delete a meter (`OFPM_ALL` for all).
    Delete,
}

impl MeterModCommand {
    /// The wire number (`OFPMC_*`).
    pub const fn number(self) -> u16 {
        match self {
            MeterModCommand::Add => 0,
            MeterModCommand::Modify => 1,
            MeterModCommand::Delete => 2,
        }
    }

    /// The command with this wire number.
    pub const fn from_number(n: u16) -> Option<MeterModCommand> {
        match n {
            0 => Some(MeterModCommand::Add),
            1 => Some(MeterModCommand::Modify),
            2 => Some(MeterModCommand::Delete),
            _ => None,
        }
    }
}

/// A meter-table modification request (`OFPT_METER_MOD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterMod {
    /// What to do.
    pub command: MeterModCommand,
    /// Flags (ignored by delete).
    pub flags: MeterFlags,
    /// The meter (`OFPM_ALL` for delete-all).
    pub meter_id: u32,
    /// The bands (ignored by delete).
    pub bands: Vec<MeterBand>,
}

/// What a meter decided for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeterVerdict {
    /// Within every band's rate: carry on.
    Pass,
    /// A drop band applies.
    Drop,
    /// A DSCP-remark band applies: raise the drop precedence by this much.
    RemarkDscp(u8),
}

#[derive(Debug)]
struct Buckets {
    /// The time of the last refill, `None` before the first packet.
    last_ms: Option<u64>,
    /// Tokens per band.
    tokens: SmallVec<[u64; 2]>,
}

/// One installed meter.
#[derive(Debug)]
pub struct Meter {
    /// Its number.
    pub meter_id: u32,
    /// Its flags.
    pub flags: MeterFlags,
    /// Its bands, in the order configured.
    pub bands: Vec<MeterBand>,
    /// When it was added, in ms.
    pub created_ms: u64,
    /// Packets and bytes that went through the meter (kept across modifies).
    pub stats: Arc<Counters>,
    /// Packets and bytes each band applied to, index for index with `bands`.
    pub band_stats: Vec<Counters>,
    buckets: Mutex<Buckets>,
}

impl Meter {
    fn new(mm: &MeterMod, created_ms: u64, stats: Arc<Counters>) -> Meter {
        let mut m = Meter {
            meter_id: mm.meter_id,
            flags: mm.flags,
            bands: mm.bands.clone(),
            created_ms,
            stats,
            band_stats: mm.bands.iter().map(|_| Counters::new()).collect(),
            buckets: Mutex::new(Buckets {
                last_ms: None,
                tokens: SmallVec::new(),
            }),
        };
        let full = m.bands.iter().map(|b| m.capacity(b)).collect();
        m.buckets
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .tokens = full;
        m
    }

    /// Tokens a band's bucket holds at most.
    fn capacity(&self, band: &MeterBand) -> u64 {
        let burst = if self.flags.contains(MeterFlags::BURST) {
            band.burst_size
        } else {
            band.rate
        };
        u64::from(burst) * 1000
    }

    /// Tokens one packet of `len` bytes costs.
    fn cost(&self, len: u32) -> u64 {
        if self.flags.contains(MeterFlags::PKTPS) {
            1000
        } else {
            u64::from(len) * 8
        }
    }

    /// Charges one packet of `len` bytes at `now_ms` and says what to do with it.
    pub fn apply(&self, len: u32, now_ms: u64) -> MeterVerdict {
        self.stats.credit(1, u64::from(len));
        if self.bands.is_empty() {
            return MeterVerdict::Pass;
        }
        let cost = self.cost(len);
        let mut exceeded: Option<usize> = None;
        {
            let mut st = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            let elapsed = match st.last_ms {
                Some(last) => now_ms.saturating_sub(last),
                None => 0,
            };
            st.last_ms = Some(st.last_ms.map_or(now_ms, |l| l.max(now_ms)));
            for (i, band) in self.bands.iter().enumerate() {
                let cap = self.capacity(band);
                let Some(tokens) = st.tokens.get_mut(i) else {
                    continue;
                };
                let refill = u64::from(band.rate).saturating_mul(elapsed);
                *tokens = tokens.saturating_add(refill).min(cap);
                if *tokens >= cost {
                    *tokens -= cost;
                } else if exceeded.is_none_or(|e| band.rate > self.bands[e].rate) {
                    exceeded = Some(i);
                }
            }
        }
        let Some(i) = exceeded else {
            return MeterVerdict::Pass;
        };
        if let Some(c) = self.band_stats.get(i) {
            c.credit(1, u64::from(len));
        }
        match self.bands[i].band_type {
            MeterBandType::Drop => MeterVerdict::Drop,
            MeterBandType::DscpRemark { prec_level } => MeterVerdict::RemarkDscp(prec_level),
            // Never installed (refused with BAD_BAND); treat as no band.
            MeterBandType::Experimenter { .. } => MeterVerdict::Pass,
        }
    }
}

/// What a meter mod changed.
#[derive(Clone, Debug, Default)]
pub struct MeterModOutcome {
    /// Meters deleted.
    pub deleted_meters: Vec<u32>,
    /// Flow entries removed because they used a deleted meter.
    pub removed: Vec<RemovedRule>,
}

/// Whether `id` may name an installed meter.
pub const fn is_valid_meter_id(id: u32) -> bool {
    (id != 0 && id <= OFPM_MAX) || id == OFPM_SLOWPATH || id == OFPM_CONTROLLER
}

fn check_meter(mm: &MeterMod) -> Result<(), OfError> {
    let unit =
        mm.flags.intersects(MeterFlags::KBPS) as u8 + mm.flags.intersects(MeterFlags::PKTPS) as u8;
    if unit != 1 {
        return Err(OfError::BadMeterFlags);
    }
    if mm.bands.len() > MAX_BANDS {
        return Err(OfError::OutOfBands);
    }
    for b in &mm.bands {
        match b.band_type {
            MeterBandType::Experimenter { .. } => return Err(OfError::BadBand),
            MeterBandType::DscpRemark { prec_level } if prec_level == 0 || prec_level > 63 => {
                return Err(OfError::BadBandValue)
            }
            _ => {}
        }
        if b.rate == 0 {
            return Err(OfError::BadRate);
        }
        if mm.flags.contains(MeterFlags::BURST) && b.burst_size == 0 {
            return Err(OfError::BadBurst);
        }
    }
    Ok(())
}

impl Pipeline {
    /// Applies a meter mod (OpenFlow 1.3.5, 6.6 and 7.3.4.4). Deleting a
    /// meter deletes the flow entries that use it (reason `MeterDelete`);
    /// delete of a meter that does not exist is not an error. The version
    /// moves when anything changed.
    pub fn meter_mod(&mut self, mm: &MeterMod, now_ms: u64) -> Result<MeterModOutcome, OfError> {
        match mm.command {
            MeterModCommand::Add => {
                if !is_valid_meter_id(mm.meter_id) {
                    return Err(OfError::InvalidMeter);
                }
                if self.meters.contains_key(&mm.meter_id) {
                    return Err(OfError::MeterExists);
                }
                check_meter(mm)?;
                if self.meters.len() >= self.max_meters {
                    return Err(OfError::OutOfMeters);
                }
                let meter = Meter::new(mm, now_ms, Arc::new(Counters::new()));
                self.meters.insert(mm.meter_id, Arc::new(meter));
                self.bump();
                Ok(MeterModOutcome::default())
            }
            MeterModCommand::Modify => {
                if !is_valid_meter_id(mm.meter_id) {
                    return Err(OfError::InvalidMeter);
                }
                let Some(old) = self.meters.get(&mm.meter_id) else {
                    return Err(OfError::UnknownMeter);
                };
                check_meter(mm)?;
                let meter = Meter::new(mm, old.created_ms, Arc::clone(&old.stats));
                self.meters.insert(mm.meter_id, Arc::new(meter));
                self.bump();
                Ok(MeterModOutcome::default())
            }
            MeterModCommand::Delete => {
                let doomed: Vec<u32> = if mm.meter_id == OFPM_ALL {
                    self.meters.keys().copied().collect()
                } else if self.meters.contains_key(&mm.meter_id) {
                    vec![mm.meter_id]
                } else if is_valid_meter_id(mm.meter_id) {
                    Vec::new()
                } else {
                    return Err(OfError::InvalidMeter);
                };
                if doomed.is_empty() {
                    return Ok(MeterModOutcome::default());
                }
                for m in &doomed {
                    self.meters.remove(m);
                }
                let removed = self.remove_rules_where(RemovalReason::MeterDelete, |r| {
                    r.instructions.meter.is_some_and(|m| doomed.contains(&m))
                });
                self.bump();
                Ok(MeterModOutcome {
                    deleted_meters: doomed,
                    removed,
                })
            }
        }
    }

    /// Runs one packet of `pkt_len` bytes through meter `meter_id` at
    /// `now_ms`. A meter that does not exist lets the packet pass (a cache
    /// can only meet one before it revalidates after the meter's deletion,
    /// which also deleted the flows that used it).
    pub fn meter_apply(&self, meter_id: u32, pkt_len: u32, now_ms: u64) -> MeterVerdict {
        match self.meters.get(&meter_id) {
            Some(m) => m.apply(pkt_len, now_ms),
            None => MeterVerdict::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Match;
    use crate::ofproto::flow_mod::FlowMod;
    use crate::ofproto::instruction::Instructions;

    fn band(band_type: MeterBandType, rate: u32, burst_size: u32) -> MeterBand {
        MeterBand {
            band_type,
            rate,
            burst_size,
        }
    }

    fn mm(
        command: MeterModCommand,
        flags: MeterFlags,
        meter_id: u32,
        bands: Vec<MeterBand>,
    ) -> MeterMod {
        MeterMod {
            command,
            flags,
            meter_id,
            bands,
        }
    }

    fn pipeline_with(flags: MeterFlags, bands: Vec<MeterBand>) -> Pipeline {
        let mut p = Pipeline::new();
        p.meter_mod(&mm(MeterModCommand::Add, flags, 1, bands), 0)
            .expect("add");
        p
    }

    #[test]
    fn a_packet_rate_meter_passes_its_burst_then_drops_until_tokens_return() {
        let p = pipeline_with(
            MeterFlags::PKTPS | MeterFlags::BURST,
            vec![band(MeterBandType::Drop, 10, 5)],
        );
        let at0: Vec<MeterVerdict> = (0..6).map(|_| p.meter_apply(1, 64, 0)).collect();
        assert_eq!(&at0[..5], &[MeterVerdict::Pass; 5]);
        assert_eq!(at0[5], MeterVerdict::Drop);
        assert_eq!(
            p.meter_apply(1, 64, 99),
            MeterVerdict::Drop,
            "99 ms give 0.99 packet"
        );
        assert_eq!(p.meter_apply(1, 64, 100), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 64, 100), MeterVerdict::Drop);
        let m = p.meter(1).expect("meter");
        assert_eq!(m.stats.packets(), 9);
        assert_eq!(m.band_stats[0].packets(), 3);
    }

    #[test]
    fn a_kilobit_meter_charges_by_packet_length() {
        // 8 kb/s is one byte per millisecond; a burst of 8 kb is 1000 bytes.
        let p = pipeline_with(
            MeterFlags::KBPS | MeterFlags::BURST,
            vec![band(MeterBandType::Drop, 8, 8)],
        );
        assert_eq!(p.meter_apply(1, 500, 0), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 500, 0), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 500, 0), MeterVerdict::Drop);
        assert_eq!(p.meter_apply(1, 500, 499), MeterVerdict::Drop);
        assert_eq!(p.meter_apply(1, 500, 500), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 100, 500), MeterVerdict::Drop);
        assert_eq!(
            p.meter_apply(1, 1, 10_000),
            MeterVerdict::Pass,
            "the bucket refills, capped"
        );
        assert_eq!(p.meter_apply(1, 999, 10_000), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 1, 10_000), MeterVerdict::Drop);
    }

    #[test]
    fn without_the_burst_flag_a_band_allows_one_second_of_traffic() {
        let p = pipeline_with(MeterFlags::PKTPS, vec![band(MeterBandType::Drop, 3, 1)]);
        let v: Vec<MeterVerdict> = (0..4).map(|_| p.meter_apply(1, 64, 7)).collect();
        assert_eq!(
            v,
            vec![
                MeterVerdict::Pass,
                MeterVerdict::Pass,
                MeterVerdict::Pass,
                MeterVerdict::Drop
            ]
        );
    }

    #[test]
    fn the_exceeded_band_with_the_highest_rate_applies() {
        let p = pipeline_with(
            MeterFlags::PKTPS | MeterFlags::BURST,
            vec![
                band(MeterBandType::DscpRemark { prec_level: 1 }, 5, 1),
                band(MeterBandType::Drop, 10, 2),
            ],
        );
        assert_eq!(p.meter_apply(1, 64, 0), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 64, 0), MeterVerdict::RemarkDscp(1));
        assert_eq!(p.meter_apply(1, 64, 0), MeterVerdict::Drop);
        let m = p.meter(1).expect("meter");
        assert_eq!(m.band_stats[0].packets(), 1);
        assert_eq!(m.band_stats[1].packets(), 1);
    }

    #[test]
    fn time_going_backwards_adds_no_tokens_and_does_not_panic() {
        let p = pipeline_with(
            MeterFlags::PKTPS | MeterFlags::BURST,
            vec![band(MeterBandType::Drop, 1000, 1)],
        );
        assert_eq!(p.meter_apply(1, 64, 1000), MeterVerdict::Pass);
        assert_eq!(p.meter_apply(1, 64, 10), MeterVerdict::Drop);
        assert_eq!(p.meter_apply(1, 64, 1000), MeterVerdict::Drop);
        assert_eq!(p.meter_apply(1, 64, 1001), MeterVerdict::Pass);
    }

    #[test]
    fn an_unknown_meter_lets_packets_pass() {
        let p = Pipeline::new();
        assert_eq!(p.meter_apply(42, 64, 0), MeterVerdict::Pass);
    }

    #[test]
    fn meter_mod_refuses_bad_ids_flags_rates_bursts_and_bands() {
        let mut p = Pipeline::new();
        let drop = |rate, burst| band(MeterBandType::Drop, rate, burst);
        let add = |p: &mut Pipeline, flags, id, bands| {
            p.meter_mod(&mm(MeterModCommand::Add, flags, id, bands), 0)
                .err()
        };
        assert_eq!(
            add(&mut p, MeterFlags::PKTPS, 0, vec![drop(1, 0)]),
            Some(OfError::InvalidMeter)
        );
        assert_eq!(
            add(&mut p, MeterFlags::PKTPS, OFPM_MAX + 1, vec![drop(1, 0)]),
            Some(OfError::InvalidMeter)
        );
        assert_eq!(
            add(&mut p, MeterFlags::PKTPS, OFPM_ALL, vec![drop(1, 0)]),
            Some(OfError::InvalidMeter)
        );
        assert_eq!(
            add(&mut p, MeterFlags::STATS, 1, vec![drop(1, 0)]),
            Some(OfError::BadMeterFlags)
        );
        assert_eq!(
            add(
                &mut p,
                MeterFlags::KBPS | MeterFlags::PKTPS,
                1,
                vec![drop(1, 0)]
            ),
            Some(OfError::BadMeterFlags)
        );
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, 1, vec![drop(0, 0)]),
            Some(OfError::BadRate)
        );
        assert_eq!(
            add(
                &mut p,
                MeterFlags::KBPS | MeterFlags::BURST,
                1,
                vec![drop(5, 0)]
            ),
            Some(OfError::BadBurst)
        );
        let exp = band(MeterBandType::Experimenter { experimenter: 7 }, 5, 0);
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, 1, vec![exp]),
            Some(OfError::BadBand)
        );
        let remark0 = band(MeterBandType::DscpRemark { prec_level: 0 }, 5, 0);
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, 1, vec![remark0]),
            Some(OfError::BadBandValue)
        );
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, 1, vec![drop(1, 0); MAX_BANDS + 1]),
            Some(OfError::OutOfBands)
        );
        assert_eq!(p.version(), 0, "refused requests change nothing");
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, OFPM_CONTROLLER, vec![drop(1, 0)]),
            None
        );
        assert_eq!(add(&mut p, MeterFlags::KBPS, 1, vec![drop(1, 0)]), None);
        assert_eq!(
            add(&mut p, MeterFlags::KBPS, 1, vec![drop(1, 0)]),
            Some(OfError::MeterExists)
        );
        let modify = p.meter_mod(&mm(MeterModCommand::Modify, MeterFlags::KBPS, 2, vec![]), 0);
        assert_eq!(modify.err(), Some(OfError::UnknownMeter));
    }

    #[test]
    fn modify_replaces_the_bands_and_keeps_the_meter_counters() {
        let mut p = pipeline_with(MeterFlags::PKTPS, vec![band(MeterBandType::Drop, 1, 0)]);
        p.meter_apply(1, 100, 0);
        let bands = vec![
            band(MeterBandType::Drop, 1000, 0),
            band(MeterBandType::Drop, 2000, 0),
        ];
        p.meter_mod(
            &mm(MeterModCommand::Modify, MeterFlags::PKTPS, 1, bands),
            10,
        )
        .expect("modify");
        let m = p.meter(1).expect("meter");
        assert_eq!(m.bands.len(), 2);
        assert_eq!(m.stats.packets(), 1);
        assert_eq!(m.created_ms, 0);
    }

    #[test]
    fn deleting_a_meter_removes_the_flows_that_use_it() {
        let mut p = pipeline_with(MeterFlags::PKTPS, vec![band(MeterBandType::Drop, 1, 0)]);
        p.meter_mod(&mm(MeterModCommand::Add, MeterFlags::PKTPS, 2, vec![]), 0)
            .expect("2");
        let metered = |m| Instructions::drop().with_meter(m);
        p.flow_mod(&FlowMod::add(0, Match::catch_all(), 1, metered(1)), 0)
            .expect("flow 1");
        p.flow_mod(&FlowMod::add(0, Match::catch_all(), 2, metered(2)), 0)
            .expect("flow 2");
        let o = p
            .meter_mod(
                &mm(MeterModCommand::Delete, MeterFlags::empty(), 1, vec![]),
                0,
            )
            .expect("delete");
        assert_eq!(o.deleted_meters, vec![1]);
        assert_eq!(o.removed.len(), 1);
        assert_eq!(o.removed[0].reason, RemovalReason::MeterDelete);
        assert_eq!(p.rule_count(), 1);
        let v = p.version();
        let none = p
            .meter_mod(
                &mm(MeterModCommand::Delete, MeterFlags::empty(), 9, vec![]),
                0,
            )
            .expect("absent");
        assert!(none.deleted_meters.is_empty());
        assert_eq!(p.version(), v);
        let all = p
            .meter_mod(
                &mm(
                    MeterModCommand::Delete,
                    MeterFlags::empty(),
                    OFPM_ALL,
                    vec![],
                ),
                0,
            )
            .expect("all");
        assert_eq!(all.deleted_meters, vec![2]);
        assert_eq!(p.rule_count(), 0);
    }

    #[test]
    fn a_meter_without_bands_never_acts() {
        let p = pipeline_with(MeterFlags::PKTPS, vec![]);
        assert!((0..100).all(|_| p.meter_apply(1, 1500, 0) == MeterVerdict::Pass));
    }
}
