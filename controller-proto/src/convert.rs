//! Conversion between the wire structs of this crate and the datapath's
//! version-independent pipeline model (`datapath::ofproto`), so the switch
//! never works on wire structs.
//!
//! # Design
//!
//! Wire → model conversion is where a request is judged. Each function
//! runs, in order, the checks that need no switch state and returns the
//! specification's error for the first failure:
//!
//! 1. the message's own fields ([`FlowMod::validate_fields`],
//!    [`GroupMod::validate`]);
//! 2. the match ([`OfpMatch::validate`]: lengths, fields, values, masks,
//!    duplicates, prerequisites);
//! 3. the instructions and their actions on their own
//!    ([`validate_instructions`]);
//! 4. the actions against the match ([`check_consistency`]): apply-actions
//!    in list order starting from the match, then write-actions in
//!    action-set order starting from what apply-actions left.
//!
//! What needs switch state (does the group or meter exist, is the table
//! full, does an entry overlap) is the pipeline's to decide when it applies
//! the model request. A request that converts is therefore well-formed
//! OpenFlow 1.3 that the pipeline can apply or refuse as a whole.
//!
//! Model → wire conversion (stats replies, FLOW_REMOVED, PACKET_IN) cannot
//! fail. A model match has no list of named fields, and fields share
//! storage in the flow key (a TCP port and an ICMP type are the same bits),
//! so [`match_to_wire`] names each field whose prerequisites the match
//! meets, in OXM order; for every match that came from a valid OXM match
//! this gives back the same key and mask.

use datapath::dpaction::{ControllerMeta, PacketInReason as DpPacketInReason};
use datapath::flow::{self, Field};
use datapath::ofproto::{
    self as model, FlowModFlags, Group, Instructions, MeterBandType, MeterFlags, RemovedRule, Rule,
};

use crate::action::{action_set_rank, check_consistency, validate_actions, Action};
use crate::error::{
    BadActionCode, BadInstructionCode, BadRequestCode, ErrorKind, FlowModFailedCode,
    MeterModFailedCode,
};
use crate::flow_mod::{FlowMod, FlowModCommand, OFP_NO_BUFFER};
use crate::flow_removed::{FlowRemoved, FlowRemovedReason};
use crate::group_mod::{Bucket, GroupMod, GroupModCommand, GroupType};
use crate::instruction::{validate_instructions, Instruction, InstructionLimits};
use crate::meter_mod::{MeterBand, MeterBandKind, MeterConfig, MeterMod, MeterStats};
use crate::oxm::{OfpMatch, OxmField, OxmId, ValidMatch, OFPXMC_OPENFLOW_BASIC};
use crate::packet_io::{PacketIn, PacketInReason, PacketOut};
use crate::port::{OFPP_CONTROLLER, OFPP_LOCAL, OFPP_MAX};
use crate::stats_flow::{
    AggregateStatsReply, BucketCounter, FlowStats, FlowStatsRequest, GroupDesc, GroupStats,
};
use crate::table::OFPTT_ALL;

impl From<model::OfError> for ErrorKind {
    fn from(e: model::OfError) -> Self {
        let (ty, code) = e.type_code();
        ErrorKind::from_wire(ty, code)
    }
}

/// What the pipeline supports, for checks that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Number of flow tables (`goto_table` and table ids must stay below).
    pub n_tables: u8,
    /// Metadata bits `write_metadata` may write.
    pub metadata_write: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            n_tables: u8::try_from(model::N_TABLES).unwrap_or(u8::MAX),
            metadata_write: u64::MAX,
        }
    }
}

// ---------------------------------------------------------------------------
// Matches.

/// Checks a wire match and returns its datapath form with the fields it
/// named (see [`OfpMatch::validate`]).
///
/// # Errors
/// An `OFPET_BAD_MATCH` error.
pub fn match_from_wire(m: &OfpMatch) -> Result<ValidMatch, ErrorKind> {
    m.validate()
}

/// The OXM match of a datapath match: every basic field with a non-zero
/// mask whose prerequisites the match meets, in OXM order, exact when the
/// mask covers the field and masked otherwise.
///
/// Bits of shared storage that no field's prerequisites claim (which no
/// valid OXM match produces) and extension fields beyond the basic class
/// are left out.
#[must_use]
pub fn match_to_wire(m: &flow::Match) -> OfpMatch {
    let mut out = OfpMatch {
        fields: Vec::with_capacity(8),
    };
    for &f in Field::ALL {
        if !f.is_oxm_basic() {
            continue;
        }
        let (v, mask) = m.get(f);
        if mask == 0 || !flow::prerequisites_met(&[f], m) {
            continue;
        }
        out.fields.push(if mask == f.max_value() {
            OxmField::exact(f, v)
        } else {
            OxmField::masked(f, v, mask)
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Actions and instructions.

/// The model form of a wire action that passed [`Action::validate`].
///
/// # Errors
/// `OFPBAC_BAD_TYPE`, `OFPBAC_BAD_EXPERIMENTER` or a set-field error for
/// actions the model cannot hold (which validation already refuses).
pub fn action_from_wire(a: &Action) -> Result<model::Action, ErrorKind> {
    Ok(match a {
        Action::Output { port, max_len } => model::Action::Output {
            port: *port,
            max_len: *max_len,
        },
        Action::CopyTtlOut => model::Action::CopyTtlOut,
        Action::CopyTtlIn => model::Action::CopyTtlIn,
        Action::SetMplsTtl(t) => model::Action::SetMplsTtl(*t),
        Action::DecMplsTtl => model::Action::DecMplsTtl,
        Action::PushVlan(e) => model::Action::PushVlan(*e),
        Action::PopVlan => model::Action::PopVlan,
        Action::PushMpls(e) => model::Action::PushMpls(*e),
        Action::PopMpls(e) => model::Action::PopMpls(*e),
        Action::SetQueue(q) => model::Action::SetQueue(*q),
        Action::Group(g) => model::Action::Group(*g),
        Action::SetNwTtl(t) => model::Action::SetNwTtl(*t),
        Action::DecNwTtl => model::Action::DecNwTtl,
        Action::SetField(f) => {
            let (field, value) = crate::action::validate_set_field(f)?;
            model::Action::SetField {
                field,
                value,
                mask: None,
            }
        }
        Action::RegLoad(l) => {
            let (field, value, mask) = l.validate()?;
            model::Action::SetField {
                field,
                value,
                mask: Some(mask),
            }
        }
        Action::PushPbb(e) => model::Action::PushPbb(*e),
        Action::PopPbb => model::Action::PopPbb,
        Action::Experimenter { .. } => return Err(BadActionCode::OFPBAC_BAD_EXPERIMENTER.into()),
        Action::Unknown { .. } => return Err(BadActionCode::OFPBAC_BAD_TYPE.into()),
    })
}

/// The model form of a list of wire actions.
///
/// # Errors
/// As [`action_from_wire`].
pub fn actions_from_wire(actions: &[Action]) -> Result<Vec<model::Action>, ErrorKind> {
    actions.iter().map(action_from_wire).collect()
}

/// The wire form of a model action, one action for one.
///
/// A masked set-field becomes a masked `OFPAT_SET_FIELD` here (OpenFlow
/// 1.5's form); [`actions_to_wire`] sends it as OpenFlow 1.3 peers expect.
/// A set-field of an extension field (number 64 and up, which only the
/// switch's own configuration can install) is written in the basic class
/// under its extension number, which any decoder carries verbatim.
#[must_use]
pub fn action_to_wire(a: &model::Action) -> Action {
    match a {
        model::Action::Output { port, max_len } => Action::Output {
            port: *port,
            max_len: *max_len,
        },
        model::Action::CopyTtlOut => Action::CopyTtlOut,
        model::Action::CopyTtlIn => Action::CopyTtlIn,
        model::Action::SetMplsTtl(t) => Action::SetMplsTtl(*t),
        model::Action::DecMplsTtl => Action::DecMplsTtl,
        model::Action::PushVlan(e) => Action::PushVlan(*e),
        model::Action::PopVlan => Action::PopVlan,
        model::Action::PushMpls(e) => Action::PushMpls(*e),
        model::Action::PopMpls(e) => Action::PopMpls(*e),
        model::Action::SetQueue(q) => Action::SetQueue(*q),
        model::Action::Group(g) => Action::Group(*g),
        model::Action::SetNwTtl(t) => Action::SetNwTtl(*t),
        model::Action::DecNwTtl => Action::DecNwTtl,
        model::Action::SetField { field, value, mask } => {
            let mut f = match mask {
                Some(m) => OxmField::masked(*field, *value, *m),
                None => OxmField::exact(*field, *value),
            };
            if !field.is_oxm_basic() {
                f.field = OxmId::Other {
                    class: OFPXMC_OPENFLOW_BASIC,
                    field: field.number(),
                    hasmask: mask.is_some(),
                };
                if let Some(m) = f.mask.take() {
                    f.value.extend_from_slice(&m);
                }
            }
            Action::SetField(f)
        }
        model::Action::PushPbb(e) => Action::PushPbb(*e),
        model::Action::PopPbb => Action::PopPbb,
    }
}

/// The wire form of a list of model actions, as Open vSwitch sends them in
/// OpenFlow 1.3: a masked set-field of a field with a load header becomes
/// one Nicira `NXAST_REG_LOAD` per run of mask bits (nothing when the mask
/// selects no bit), so a flow added as loads is dumped as the same loads.
#[must_use]
pub fn actions_to_wire(actions: &[model::Action]) -> Vec<Action> {
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        if let model::Action::SetField {
            field,
            value,
            mask: Some(mask),
        } = a
        {
            if crate::nicira::load_header(*field).is_some() {
                out.extend(
                    crate::nicira::reg_loads_for(*field, *value, *mask)
                        .into_iter()
                        .map(Action::RegLoad),
                );
                continue;
            }
        }
        out.push(action_to_wire(a));
    }
    out
}

/// The model form of instructions that passed [`validate_instructions`]
/// (at most one of each type; the wire order is dropped, as the pipeline
/// runs them in the specification's order).
///
/// # Errors
/// `OFPBIC_UNKNOWN_INST`, `OFPBIC_BAD_EXPERIMENTER`, `OFPBIC_DUP_INST` or
/// an action's error, for instructions validation refuses anyway.
pub fn instructions_from_wire(insts: &[Instruction]) -> Result<Instructions, ErrorKind> {
    let mut out = Instructions::default();
    let dup = || Err(crate::instruction::OFPBIC_DUP_INST.into());
    for i in insts {
        match i {
            Instruction::GotoTable(t) => {
                if out.goto_table.replace(*t).is_some() {
                    return dup();
                }
            }
            Instruction::WriteMetadata { metadata, mask } => {
                if out.write_metadata.replace((*metadata, *mask)).is_some() {
                    return dup();
                }
            }
            Instruction::WriteActions(a) => {
                if out.write_actions.replace(actions_from_wire(a)?).is_some() {
                    return dup();
                }
            }
            Instruction::ApplyActions(a) => {
                if out.apply_actions.replace(actions_from_wire(a)?).is_some() {
                    return dup();
                }
            }
            Instruction::ClearActions => {
                if std::mem::replace(&mut out.clear_actions, true) {
                    return dup();
                }
            }
            Instruction::Meter(m) => {
                if out.meter.replace(*m).is_some() {
                    return dup();
                }
            }
            Instruction::Experimenter { .. } => {
                return Err(BadInstructionCode::OFPBIC_BAD_EXPERIMENTER.into())
            }
            Instruction::Unknown { .. } => {
                return Err(BadInstructionCode::OFPBIC_UNKNOWN_INST.into())
            }
        }
    }
    Ok(out)
}

/// The wire form of model instructions, in the order the pipeline runs
/// them: meter, apply-actions, clear-actions, write-actions,
/// write-metadata, goto-table.
#[must_use]
pub fn instructions_to_wire(i: &Instructions) -> Vec<Instruction> {
    let mut out = Vec::with_capacity(6);
    if let Some(m) = i.meter {
        out.push(Instruction::Meter(m));
    }
    if let Some(a) = &i.apply_actions {
        out.push(Instruction::ApplyActions(actions_to_wire(a)));
    }
    if i.clear_actions {
        out.push(Instruction::ClearActions);
    }
    if let Some(a) = &i.write_actions {
        out.push(Instruction::WriteActions(actions_to_wire(a)));
    }
    if let Some((metadata, mask)) = i.write_metadata {
        out.push(Instruction::WriteMetadata { metadata, mask });
    }
    if let Some(t) = i.goto_table {
        out.push(Instruction::GotoTable(t));
    }
    out
}

/// Checks that a flow entry's actions can apply to the packets its match
/// selects: apply-actions in order, then write-actions in action-set order
/// from the headers apply-actions left.
///
/// # Errors
/// `OFPBAC_MATCH_INCONSISTENT`.
pub fn check_instructions_against_match(
    insts: &[Instruction],
    m: &flow::Match,
) -> Result<(), ErrorKind> {
    let mut state = *m;
    for i in insts {
        if let Instruction::ApplyActions(a) = i {
            check_consistency(a, &mut state)?;
        }
    }
    for i in insts {
        if let Instruction::WriteActions(a) = i {
            let mut set: Vec<Action> = a.clone();
            set.sort_by_key(action_set_rank);
            check_consistency(&set, &mut state)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Requests: wire → model.

fn table_ok(table_id: u8, limits: &Limits) -> bool {
    table_id < limits.n_tables || table_id == OFPTT_ALL
}

/// The model request of a FLOW_MOD, fully checked (see the module
/// documentation).
///
/// A delete's instructions are ignored, as the specification says; its
/// match is still checked.
///
/// # Errors
/// `OFPET_FLOW_MOD_FAILED` (command, flags, table), `OFPET_BAD_MATCH`,
/// `OFPET_BAD_INSTRUCTION` and `OFPET_BAD_ACTION` errors, and
/// `OFPMMFC_INVALID_METER` for a reserved meter id.
pub fn flow_mod_from_wire(fm: &FlowMod, limits: &Limits) -> Result<model::FlowMod, ErrorKind> {
    fm.validate_fields()?;
    if !table_ok(fm.table_id, limits) {
        return Err(FlowModFailedCode::OFPFMFC_BAD_TABLE_ID.into());
    }
    let command = model::FlowModCommand::from_number(fm.command.0)
        .ok_or(ErrorKind::from(FlowModFailedCode::OFPFMFC_BAD_COMMAND))?;
    let flags = FlowModFlags::from_bits(fm.flags)
        .ok_or(ErrorKind::from(FlowModFailedCode::OFPFMFC_BAD_FLAGS))?;
    let valid = fm.match_.validate()?;
    let instructions = if fm.command.is_delete() {
        Instructions::drop()
    } else {
        let lim = InstructionLimits {
            table_id: fm.table_id,
            n_tables: limits.n_tables,
            metadata_write: limits.metadata_write,
        };
        validate_instructions(&fm.instructions, &lim)?;
        check_instructions_against_match(&fm.instructions, &valid.flow)?;
        instructions_from_wire(&fm.instructions)?
    };
    Ok(model::FlowMod {
        command,
        table_id: fm.table_id,
        match_: valid.flow,
        priority: fm.priority,
        cookie: fm.cookie,
        cookie_mask: fm.cookie_mask,
        idle_timeout: fm.idle_timeout,
        hard_timeout: fm.hard_timeout,
        flags,
        buffer_id: fm.buffer_id,
        out_port: fm.out_port,
        out_group: fm.out_group,
        instructions,
    })
}

/// The wire FLOW_MOD of a model request (for tests and tools that speak to
/// a switch).
#[must_use]
pub fn flow_mod_to_wire(fm: &model::FlowMod) -> FlowMod {
    FlowMod {
        cookie: fm.cookie,
        cookie_mask: fm.cookie_mask,
        table_id: fm.table_id,
        command: FlowModCommand(fm.command.number()),
        idle_timeout: fm.idle_timeout,
        hard_timeout: fm.hard_timeout,
        priority: fm.priority,
        buffer_id: fm.buffer_id,
        out_port: fm.out_port,
        out_group: fm.out_group,
        flags: fm.flags.bits(),
        match_: match_to_wire(&fm.match_),
        instructions: instructions_to_wire(&fm.instructions),
    }
}

/// The model request of a GROUP_MOD, checked (see [`GroupMod::validate`]).
///
/// # Errors
/// `OFPET_GROUP_MOD_FAILED` and `OFPET_BAD_ACTION` errors.
pub fn group_mod_from_wire(gm: &GroupMod) -> Result<model::GroupMod, ErrorKind> {
    gm.validate()?;
    let command = model::GroupModCommand::from_number(gm.command.0).ok_or(ErrorKind::from(
        crate::error::GroupModFailedCode::OFPGMFC_BAD_COMMAND,
    ))?;
    let group_type = match model::GroupType::from_number(gm.group_type.0) {
        Some(t) => t,
        // A delete ignores the type.
        None if command == model::GroupModCommand::Delete => model::GroupType::All,
        None => return Err(crate::error::GroupModFailedCode::OFPGMFC_BAD_TYPE.into()),
    };
    let buckets = gm
        .buckets
        .iter()
        .map(|b| {
            Ok(model::Bucket {
                weight: b.weight,
                watch_port: b.watch_port,
                watch_group: b.watch_group,
                actions: actions_from_wire(&b.actions)?,
            })
        })
        .collect::<Result<Vec<_>, ErrorKind>>()?;
    Ok(model::GroupMod {
        command,
        group_type,
        group_id: gm.group_id,
        buckets,
    })
}

fn bucket_to_wire(b: &model::Bucket) -> Bucket {
    Bucket {
        weight: b.weight,
        watch_port: b.watch_port,
        watch_group: b.watch_group,
        actions: actions_to_wire(&b.actions),
    }
}

/// The wire GROUP_MOD of a model request.
#[must_use]
pub fn group_mod_to_wire(gm: &model::GroupMod) -> GroupMod {
    GroupMod {
        command: GroupModCommand(gm.command.number()),
        group_type: GroupType(gm.group_type.number()),
        group_id: gm.group_id,
        buckets: gm.buckets.iter().map(bucket_to_wire).collect(),
    }
}

/// The model request of a METER_MOD.
///
/// # Errors
/// `OFPMMFC_BAD_COMMAND` for an unknown command, `OFPMMFC_BAD_FLAGS` for
/// unknown flag bits; the pipeline checks the rest (ids, units, bands).
pub fn meter_mod_from_wire(mm: &MeterMod) -> Result<model::MeterMod, ErrorKind> {
    let command = model::MeterModCommand::from_number(mm.command.0)
        .ok_or(ErrorKind::from(MeterModFailedCode::OFPMMFC_BAD_COMMAND))?;
    let flags = MeterFlags::from_bits(mm.flags)
        .ok_or(ErrorKind::from(MeterModFailedCode::OFPMMFC_BAD_FLAGS))?;
    Ok(model::MeterMod {
        command,
        flags,
        meter_id: mm.meter_id,
        bands: mm.bands.iter().map(band_from_wire).collect(),
    })
}

fn band_from_wire(b: &MeterBand) -> model::MeterBand {
    model::MeterBand {
        band_type: match b.kind {
            MeterBandKind::Drop => MeterBandType::Drop,
            MeterBandKind::DscpRemark { prec_level } => MeterBandType::DscpRemark { prec_level },
            MeterBandKind::Experimenter { experimenter, .. } => {
                MeterBandType::Experimenter { experimenter }
            }
        },
        rate: b.rate,
        burst_size: b.burst_size,
    }
}

fn band_to_wire(b: &model::MeterBand) -> MeterBand {
    MeterBand {
        rate: b.rate,
        burst_size: b.burst_size,
        kind: match b.band_type {
            MeterBandType::Drop => MeterBandKind::Drop,
            MeterBandType::DscpRemark { prec_level } => MeterBandKind::DscpRemark { prec_level },
            MeterBandType::Experimenter { experimenter } => MeterBandKind::Experimenter {
                experimenter,
                data: Vec::new(),
            },
        },
    }
}

/// A PACKET_OUT in model terms: the actions checked and converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketOutRequest<'a> {
    /// Buffered packet to send, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// The port the packet is treated as arriving on.
    pub in_port: u32,
    /// The actions (group existence is the pipeline's check).
    pub actions: Vec<model::Action>,
    /// The frame when unbuffered.
    pub data: &'a [u8],
}

/// The model form of a PACKET_OUT.
///
/// # Errors
/// `OFPBRC_BAD_PORT` for an `in_port` that is neither a port number,
/// `OFPP_LOCAL` nor `OFPP_CONTROLLER`; `OFPBRC_BAD_PACKET` for an
/// unbuffered packet-out without a frame; action errors (`OFPP_TABLE` is a
/// valid output here).
pub fn packet_out_from_wire(po: &PacketOut) -> Result<PacketOutRequest<'_>, ErrorKind> {
    let port_ok = matches!(po.in_port, 1..=OFPP_MAX | OFPP_LOCAL | OFPP_CONTROLLER);
    if !port_ok {
        return Err(BadRequestCode::OFPBRC_BAD_PORT.into());
    }
    if po.buffer_id == OFP_NO_BUFFER && po.data.is_empty() {
        return Err(BadRequestCode::OFPBRC_BAD_PACKET.into());
    }
    validate_actions(&po.actions, true)?;
    Ok(PacketOutRequest {
        buffer_id: po.buffer_id,
        in_port: po.in_port,
        actions: actions_from_wire(&po.actions)?,
        data: &po.data,
    })
}

/// The model selection of a FLOW or AGGREGATE request.
///
/// # Errors
/// `OFPBRC_BAD_TABLE_ID` for a table that does not exist (other than
/// `OFPTT_ALL`); match errors.
pub fn flow_stats_request_from_wire(
    req: &FlowStatsRequest,
    limits: &Limits,
) -> Result<model::FlowStatsRequest, ErrorKind> {
    if !table_ok(req.table_id, limits) {
        return Err(BadRequestCode::OFPBRC_BAD_TABLE_ID.into());
    }
    let valid = req.match_.validate()?;
    Ok(model::FlowStatsRequest {
        table_id: req.table_id,
        out_port: req.out_port,
        out_group: req.out_group,
        cookie: req.cookie,
        cookie_mask: req.cookie_mask,
        match_: valid.flow,
    })
}

// ---------------------------------------------------------------------------
// Replies and notifications: model → wire.

/// Splits milliseconds into the `(duration_sec, duration_nsec)` pair.
#[must_use]
pub fn duration(ms: u64) -> (u32, u32) {
    let sec = u32::try_from(ms / 1000).unwrap_or(u32::MAX);
    // Below 1000 ms times 10^6: always under 10^9, which fits a u32.
    let nsec = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
    (sec, nsec)
}

/// The `ofp_flow_stats` entry of a rule at `now_ms`.
#[must_use]
pub fn flow_stats_to_wire(rule: &Rule, now_ms: u64) -> FlowStats {
    let (duration_sec, duration_nsec) = duration(rule.duration_ms(now_ms));
    FlowStats {
        table_id: rule.table_id,
        duration_sec,
        duration_nsec,
        priority: rule.priority,
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        flags: rule.flags.bits(),
        cookie: rule.cookie,
        packet_count: rule.packet_count(),
        byte_count: rule.byte_count(),
        match_: match_to_wire(&rule.match_()),
        instructions: instructions_to_wire(&rule.instructions),
    }
}

/// The FLOW_REMOVED message of a removed rule at `now_ms`.
#[must_use]
pub fn flow_removed_to_wire(removed: &RemovedRule, now_ms: u64) -> FlowRemoved {
    let rule = &removed.rule;
    let (duration_sec, duration_nsec) = duration(rule.duration_ms(now_ms));
    FlowRemoved {
        cookie: rule.cookie,
        priority: rule.priority,
        reason: FlowRemovedReason(removed.reason.of13_code()),
        table_id: rule.table_id,
        duration_sec,
        duration_nsec,
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        packet_count: rule.packet_count(),
        byte_count: rule.byte_count(),
        match_: match_to_wire(&rule.match_()),
    }
}

/// The AGGREGATE reply of the model's sums.
#[must_use]
pub fn aggregate_to_wire(a: &model::AggregateStats) -> AggregateStatsReply {
    AggregateStatsReply {
        packet_count: a.packet_count,
        byte_count: a.byte_count,
        flow_count: a.flow_count,
    }
}

/// The `ofp_group_stats` entry of a group's counters.
#[must_use]
pub fn group_stats_to_wire(g: &model::GroupStats) -> GroupStats {
    let (duration_sec, duration_nsec) = duration(g.duration_ms);
    GroupStats {
        group_id: g.group_id,
        ref_count: g.ref_count,
        packet_count: g.packet_count,
        byte_count: g.byte_count,
        duration_sec,
        duration_nsec,
        bucket_stats: g
            .buckets
            .iter()
            .map(|&(packet_count, byte_count)| BucketCounter {
                packet_count,
                byte_count,
            })
            .collect(),
    }
}

/// The `ofp_group_desc` entry of an installed group.
#[must_use]
pub fn group_desc_to_wire(g: &Group) -> GroupDesc {
    GroupDesc {
        group_type: GroupType(g.group_type.number()),
        group_id: g.group_id,
        buckets: g.buckets.iter().map(bucket_to_wire).collect(),
    }
}

/// The `ofp_meter_stats` entry of a meter's counters.
#[must_use]
pub fn meter_stats_to_wire(m: &model::MeterStats) -> MeterStats {
    let (duration_sec, duration_nsec) = duration(m.duration_ms);
    MeterStats {
        meter_id: m.meter_id,
        flow_count: m.flow_count,
        packet_in_count: m.packet_in_count,
        byte_in_count: m.byte_in_count,
        duration_sec,
        duration_nsec,
        band_stats: m
            .bands
            .iter()
            .map(|&(p, b)| crate::meter_mod::MeterBandStats {
                packet_band_count: p,
                byte_band_count: b,
            })
            .collect(),
    }
}

/// The `ofp_meter_config` entry of an installed meter.
#[must_use]
pub fn meter_config_to_wire(m: &model::Meter) -> MeterConfig {
    MeterConfig {
        flags: m.flags.bits(),
        meter_id: m.meter_id,
        bands: m.bands.iter().map(band_to_wire).collect(),
    }
}

/// The wire METER_MOD of a model request.
#[must_use]
pub fn meter_mod_to_wire(mm: &model::MeterMod) -> MeterMod {
    MeterMod {
        command: crate::meter_mod::MeterModCommand(mm.command.number()),
        flags: mm.flags.bits(),
        meter_id: mm.meter_id,
        bands: mm.bands.iter().map(band_to_wire).collect(),
    }
}

/// The PACKET_IN for a packet the datapath hands to the controller.
///
/// The match carries the pipeline fields: `in_port` always, `metadata` and
/// `tunnel_id` when not zero. An unbuffered packet (`buffer_id` is
/// `OFP_NO_BUFFER`) is sent whole; a buffered one is cut to `max_len`.
#[must_use]
pub fn packet_in_to_wire(meta: &ControllerMeta, frame: &[u8], buffer_id: u32) -> PacketIn {
    let mut m = OfpMatch {
        fields: Vec::with_capacity(3),
    }
    .exact(Field::InPort, u128::from(meta.in_port));
    if meta.metadata != 0 {
        m = m.exact(Field::Metadata, u128::from(meta.metadata));
    }
    if meta.tunnel_id != 0 {
        m = m.exact(Field::TunnelId, u128::from(meta.tunnel_id));
    }
    let keep = if buffer_id == OFP_NO_BUFFER {
        frame.len()
    } else {
        frame.len().min(usize::from(meta.max_len))
    };
    PacketIn {
        buffer_id,
        total_len: u16::try_from(frame.len()).unwrap_or(u16::MAX),
        reason: match meta.reason {
            DpPacketInReason::NoMatch => PacketInReason::OFPR_NO_MATCH,
            DpPacketInReason::Action => PacketInReason::OFPR_ACTION,
            DpPacketInReason::InvalidTtl => PacketInReason::OFPR_INVALID_TTL,
        },
        table_id: meta.table_id,
        cookie: meta.cookie,
        match_: m,
        data: frame.get(..keep).unwrap_or(frame).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Reader, Writer};
    use crate::error::{BadMatchCode, GroupModFailedCode};
    use crate::instruction::strategies::arb_valid_instructions;
    use crate::oxm::strategies::arb_valid_match;
    use crate::port::{OFPP_ANY, OFPP_TABLE};
    use datapath::ofproto::Pipeline;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn lim() -> Limits {
        Limits::default()
    }

    fn add(m: OfpMatch, insts: Vec<Instruction>) -> FlowMod {
        FlowMod {
            priority: 10,
            match_: m,
            instructions: insts,
            ..FlowMod::default()
        }
    }

    fn out(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    fn tcp() -> OfpMatch {
        OfpMatch::catch_all()
            .exact(Field::EthType, 0x0800)
            .exact(Field::IpProto, 6)
    }

    #[test]
    fn flow_mod_becomes_the_model_request() {
        let fm = FlowMod {
            cookie: 9,
            idle_timeout: 5,
            flags: crate::flow_mod::OFPFF_SEND_FLOW_REM,
            ..add(
                tcp().exact(Field::TcpDst, 80),
                vec![
                    Instruction::GotoTable(3),
                    Instruction::ApplyActions(vec![
                        Action::SetField(OxmField::exact(Field::TcpDst, 8080)),
                        out(2),
                    ]),
                ],
            )
        };
        let m = flow_mod_from_wire(&fm, &lim()).unwrap();
        assert_eq!(m.command, model::FlowModCommand::Add);
        assert_eq!(m.cookie, 9);
        assert_eq!(m.idle_timeout, 5);
        assert!(m.flags.contains(FlowModFlags::SEND_FLOW_REM));
        assert_eq!(m.match_.get(Field::TcpDst), (80, 0xffff));
        assert_eq!(m.instructions.goto_table, Some(3));
        assert_eq!(
            m.instructions.apply_actions,
            Some(vec![
                model::Action::SetField {
                    field: Field::TcpDst,
                    value: 8080,
                    mask: None
                },
                model::Action::Output {
                    port: 2,
                    max_len: 0
                },
            ])
        );
        let mut p = Pipeline::new();
        assert!(p.flow_mod(&m, 0).is_ok());
    }

    #[test]
    fn rejects_tcp_dst_without_ip_proto_with_bad_prereq() {
        let fm = add(
            OfpMatch::catch_all()
                .exact(Field::EthType, 0x0800)
                .exact(Field::TcpDst, 80),
            vec![],
        );
        assert_eq!(
            flow_mod_from_wire(&fm, &lim()),
            Err(BadMatchCode::OFPBMC_BAD_PREREQ.into())
        );
    }

    #[test]
    fn nicira_loads_become_masked_set_fields_and_go_back_as_the_same_loads() {
        use crate::nicira::{reg_loads_for, RegLoad};
        let loads: Vec<Action> = reg_loads_for(Field::Ipv4Dst, 0x0a00_0001, 0xff00_00ff)
            .into_iter()
            .map(Action::RegLoad)
            .collect();
        assert_eq!(loads.len(), 2);
        let mut acts = loads.clone();
        acts.push(out(2));
        let fm = add(
            OfpMatch::catch_all().exact(Field::EthType, 0x0800),
            vec![Instruction::ApplyActions(acts.clone())],
        );
        let m = flow_mod_from_wire(&fm, &lim()).unwrap();
        let apply = m.instructions.apply_actions.clone().unwrap();
        assert_eq!(
            apply[..2],
            [
                model::Action::SetField {
                    field: Field::Ipv4Dst,
                    value: 0x01,
                    mask: Some(0xff)
                },
                model::Action::SetField {
                    field: Field::Ipv4Dst,
                    value: 0x0a00_0000,
                    mask: Some(0xff00_0000)
                },
            ]
        );
        assert_eq!(actions_to_wire(&apply), acts);
        let mut p = Pipeline::new();
        assert!(p.flow_mod(&m, 0).is_ok());
        // Without IPv4 in the match the load is inconsistent, as set-field is.
        let bad = add(
            OfpMatch::catch_all(),
            vec![Instruction::ApplyActions(loads)],
        );
        assert_eq!(
            flow_mod_from_wire(&bad, &lim()),
            Err(BadActionCode::OFPBAC_MATCH_INCONSISTENT.into())
        );
        // A load into an unknown header is refused before conversion.
        let unknown = add(
            OfpMatch::catch_all(),
            vec![Instruction::ApplyActions(vec![Action::RegLoad(
                RegLoad::new(0x0005_0004, 0, 8, 1),
            )])],
        );
        assert_eq!(
            flow_mod_from_wire(&unknown, &lim()),
            Err(BadActionCode::OFPBAC_BAD_SET_TYPE.into())
        );
    }

    #[test]
    fn masked_model_set_fields_without_any_mask_bit_send_nothing() {
        let a = model::Action::SetField {
            field: Field::EthDst,
            value: 0,
            mask: Some(0),
        };
        assert!(actions_to_wire(&[a]).is_empty());
        let ext = model::Action::SetField {
            field: Field::TunIpv4Src,
            value: 1,
            mask: Some(0xff),
        };
        assert!(matches!(actions_to_wire(&[ext])[..], [Action::SetField(_)]));
    }

    #[test]
    fn rejects_set_field_without_prerequisites_with_match_inconsistent() {
        let fm = add(
            OfpMatch::catch_all().exact(Field::EthType, 0x0800),
            vec![Instruction::ApplyActions(vec![Action::SetField(
                OxmField::exact(Field::UdpSrc, 53),
            )])],
        );
        assert_eq!(
            flow_mod_from_wire(&fm, &lim()),
            Err(BadActionCode::OFPBAC_MATCH_INCONSISTENT.into())
        );
    }

    #[test]
    fn write_actions_are_checked_in_action_set_order() {
        // In the action set, pop_vlan runs before push_vlan, so the pop
        // finds no tag even though the list writes the push first.
        let fm = add(
            OfpMatch::catch_all(),
            vec![Instruction::WriteActions(vec![
                Action::PushVlan(0x8100),
                Action::PopVlan,
            ])],
        );
        assert_eq!(
            flow_mod_from_wire(&fm, &lim()),
            Err(BadActionCode::OFPBAC_MATCH_INCONSISTENT.into())
        );
        let apply_then_write = add(
            OfpMatch::catch_all(),
            vec![
                Instruction::WriteActions(vec![Action::PopVlan]),
                Instruction::ApplyActions(vec![Action::PushVlan(0x8100)]),
            ],
        );
        assert!(flow_mod_from_wire(&apply_then_write, &lim()).is_ok());
    }

    #[test]
    fn rejects_duplicate_instructions_with_dup_inst() {
        let fm = add(
            OfpMatch::catch_all(),
            vec![Instruction::ClearActions, Instruction::ClearActions],
        );
        assert_eq!(
            flow_mod_from_wire(&fm, &lim()),
            Err(crate::instruction::OFPBIC_DUP_INST.into())
        );
    }

    #[test]
    fn rejects_goto_past_the_last_table_with_bad_table_id() {
        let fm = add(OfpMatch::catch_all(), vec![Instruction::GotoTable(9)]);
        let small = Limits {
            n_tables: 8,
            ..lim()
        };
        assert_eq!(
            flow_mod_from_wire(&fm, &small),
            Err(BadInstructionCode::OFPBIC_BAD_TABLE_ID.into())
        );
        let fm = FlowMod {
            table_id: 8,
            ..add(OfpMatch::catch_all(), vec![])
        };
        assert_eq!(
            flow_mod_from_wire(&fm, &small),
            Err(FlowModFailedCode::OFPFMFC_BAD_TABLE_ID.into())
        );
    }

    #[test]
    fn delete_ignores_instructions_but_checks_the_match() {
        let fm = FlowMod {
            command: FlowModCommand::OFPFC_DELETE,
            table_id: OFPTT_ALL,
            ..add(
                OfpMatch::catch_all(),
                vec![Instruction::Unknown {
                    instruction_type: 99,
                    body: vec![0; 4],
                }],
            )
        };
        let m = flow_mod_from_wire(&fm, &lim()).unwrap();
        assert_eq!(m.command, model::FlowModCommand::Delete);
        assert_eq!(m.instructions, Instructions::drop());
        let bad = FlowMod {
            match_: OfpMatch::catch_all().exact(Field::ArpOp, 1),
            ..fm
        };
        assert_eq!(
            flow_mod_from_wire(&bad, &lim()),
            Err(BadMatchCode::OFPBMC_BAD_PREREQ.into())
        );
    }

    #[test]
    fn model_errors_map_to_the_same_wire_codes() {
        for &e in model::OfError::ALL {
            assert_eq!(ErrorKind::from(e).to_wire(), e.type_code());
        }
    }

    #[test]
    fn match_to_wire_names_shared_storage_by_prerequisites() {
        let udp = OfpMatch::catch_all()
            .exact(Field::EthType, 0x86dd)
            .exact(Field::IpProto, 17)
            .exact(Field::UdpDst, 53);
        let back = match_to_wire(&udp.validate().unwrap().flow);
        assert_eq!(back.get(Field::UdpDst), Some((53, 0xffff)));
        assert_eq!(back.get(Field::TcpDst), None);
        assert_eq!(back.get(Field::Icmpv6Code), None);
        let arp = OfpMatch::catch_all().exact(Field::EthType, 0x0806).masked(
            Field::ArpTpa,
            0x0a00_0000,
            0xff00_0000,
        );
        let back = match_to_wire(&arp.validate().unwrap().flow);
        assert_eq!(back.get(Field::ArpTpa), Some((0x0a00_0000, 0xff00_0000)));
        assert_eq!(back.get(Field::Ipv4Dst), None);
    }

    #[test]
    fn group_mod_becomes_the_model_request() {
        let gm = GroupMod {
            command: GroupModCommand::OFPGC_ADD,
            group_type: GroupType::OFPGT_SELECT,
            group_id: 3,
            buckets: vec![Bucket {
                weight: 2,
                actions: vec![out(1)],
                ..Bucket::default()
            }],
        };
        let m = group_mod_from_wire(&gm).unwrap();
        assert_eq!(m.group_type, model::GroupType::Select);
        assert_eq!(m.buckets[0].weight, 2);
        assert_eq!(group_mod_to_wire(&m), gm);
        let mut p = Pipeline::new();
        assert!(p.group_mod(&m, 0).is_ok());
        let desc: Vec<GroupDesc> = p
            .group_desc()
            .iter()
            .map(|g| group_desc_to_wire(g))
            .collect();
        assert_eq!(desc[0].buckets, gm.buckets);
        let bad = GroupMod {
            group_type: GroupType(9),
            ..gm
        };
        assert_eq!(
            group_mod_from_wire(&bad),
            Err(GroupModFailedCode::OFPGMFC_BAD_TYPE.into())
        );
    }

    #[test]
    fn packet_out_allows_table_and_checks_in_port() {
        let po = PacketOut {
            buffer_id: OFP_NO_BUFFER,
            in_port: OFPP_CONTROLLER,
            actions: vec![out(OFPP_TABLE)],
            data: vec![0; 14],
        };
        let r = packet_out_from_wire(&po).unwrap();
        assert_eq!(
            r.actions,
            vec![model::Action::Output {
                port: OFPP_TABLE,
                max_len: 0
            }]
        );
        let bad_port = PacketOut {
            in_port: OFPP_ANY,
            ..po.clone()
        };
        assert_eq!(
            packet_out_from_wire(&bad_port),
            Err(BadRequestCode::OFPBRC_BAD_PORT.into())
        );
        let no_frame = PacketOut { data: vec![], ..po };
        assert_eq!(
            packet_out_from_wire(&no_frame),
            Err(BadRequestCode::OFPBRC_BAD_PACKET.into())
        );
    }

    #[test]
    fn flow_stats_and_flow_removed_describe_the_rule() {
        let fm = FlowMod {
            cookie: 0x77,
            idle_timeout: 10,
            flags: crate::flow_mod::OFPFF_SEND_FLOW_REM,
            ..add(
                tcp().exact(Field::TcpSrc, 22),
                vec![Instruction::ApplyActions(vec![out(4)])],
            )
        };
        let mut p = Pipeline::new();
        let rule = p
            .flow_mod(&flow_mod_from_wire(&fm, &lim()).unwrap(), 1_000)
            .unwrap()
            .added
            .unwrap();
        rule.credit(3, 300, 2_000);
        let s = flow_stats_to_wire(&rule, 3_500);
        assert_eq!((s.duration_sec, s.duration_nsec), (2, 500_000_000));
        assert_eq!((s.packet_count, s.byte_count), (3, 300));
        assert_eq!(s.instructions, fm.instructions);
        assert_eq!(
            s.match_.validate().unwrap().flow,
            fm.match_.validate().unwrap().flow
        );
        let removed = RemovedRule {
            rule: Arc::clone(&rule),
            reason: model::RemovalReason::IdleTimeout,
        };
        let fr = flow_removed_to_wire(&removed, 12_000);
        assert_eq!(fr.reason, FlowRemovedReason::OFPRR_IDLE_TIMEOUT);
        assert_eq!(fr.cookie, 0x77);
        assert_eq!(fr.duration_sec, 11);
        let mut w = Writer::new();
        fr.encode(&mut w);
        let b = w.into_inner();
        assert_eq!(
            FlowRemoved::decode(&mut Reader::new(&b)).unwrap().match_,
            s.match_
        );
    }

    #[test]
    fn packet_in_carries_pipeline_fields_and_cuts_buffered_frames() {
        let meta = ControllerMeta {
            reason: DpPacketInReason::Action,
            max_len: 4,
            table_id: 2,
            cookie: 5,
            metadata: 0,
            tunnel_id: 7,
            in_port: 3,
        };
        let frame = [1u8, 2, 3, 4, 5, 6];
        let p = packet_in_to_wire(&meta, &frame, OFP_NO_BUFFER);
        assert_eq!(p.data, frame);
        assert_eq!(p.total_len, 6);
        assert_eq!(p.reason, PacketInReason::OFPR_ACTION);
        assert_eq!(p.match_.get(Field::InPort), Some((3, 0xffff_ffff)));
        assert_eq!(p.match_.get(Field::Metadata), None);
        assert_eq!(
            p.match_.get(Field::TunnelId),
            Some((7, u128::from(u64::MAX)))
        );
        let buffered = packet_in_to_wire(&meta, &frame, 17);
        assert_eq!(buffered.data, &frame[..4]);
    }

    #[test]
    fn meter_mod_round_trips_through_the_model() {
        let mm = MeterMod {
            command: crate::meter_mod::MeterModCommand(0),
            flags: crate::meter_mod::OFPMF_KBPS | crate::meter_mod::OFPMF_STATS,
            meter_id: 1,
            bands: vec![MeterBand {
                rate: 1000,
                burst_size: 0,
                kind: MeterBandKind::Drop,
            }],
        };
        let m = meter_mod_from_wire(&mm).unwrap();
        assert_eq!(meter_mod_to_wire(&m), mm);
        let mut p = Pipeline::new();
        assert!(p.meter_mod(&m, 0).is_ok());
        let bad = MeterMod { flags: 0x100, ..mm };
        assert_eq!(
            meter_mod_from_wire(&bad),
            Err(MeterModFailedCode::OFPMMFC_BAD_FLAGS.into())
        );
    }

    #[test]
    fn durations_split_into_seconds_and_nanoseconds() {
        assert_eq!(duration(0), (0, 0));
        assert_eq!(duration(1_999), (1, 999_000_000));
        assert_eq!(duration(u64::MAX).0, u32::MAX);
    }

    proptest! {
        #[test]
        fn valid_matches_survive_the_model_round_trip(m in arb_valid_match()) {
            let flow = m.validate().unwrap().flow;
            let back = match_to_wire(&flow);
            let again = back.validate();
            prop_assert!(again.is_ok(), "{:?} -> {:?}: {:?}", m, back, again);
            prop_assert_eq!(again.unwrap().flow, flow);
        }

        #[test]
        fn valid_instructions_survive_the_model_round_trip(insts in arb_valid_instructions()) {
            let model = instructions_from_wire(&insts).unwrap();
            prop_assert_eq!(instructions_from_wire(&instructions_to_wire(&model)).unwrap(), model);
        }

        #[test]
        fn converted_flow_mods_convert_back_to_the_same_request(
            m in arb_valid_match(), priority: u16, cookie: u64
        ) {
            let fm = FlowMod { priority, cookie, ..add(m, vec![Instruction::ApplyActions(vec![out(1)])]) };
            let model = flow_mod_from_wire(&fm, &lim()).unwrap();
            let wire = flow_mod_to_wire(&model);
            prop_assert_eq!(flow_mod_from_wire(&wire, &lim()).unwrap(), model);
        }
    }
}
