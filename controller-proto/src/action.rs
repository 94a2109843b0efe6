//! OpenFlow 1.3 actions (§7.2.5): the `ofp_action_*` structures as typed
//! values, in the order the controller sent them.
//!
//! # Design
//!
//! As for matches, decoding and judging are separate steps. [`Action::decode`]
//! checks only structure: the 8-byte alignment and minimum size every action
//! shares, and the exact size of each fixed-size action (`OFPBAC_BAD_LEN`),
//! or the shape of a set-field (`OFPBAC_BAD_SET_LEN`). An action type this
//! switch does not know is kept as [`Action::Unknown`] with its body, so a
//! message can always be printed and re-encoded byte for byte.
//!
//! Judging comes in two layers:
//! - [`Action::validate`] needs nothing but the action: unknown types,
//!   experimenters, reserved ports and groups that can never be targets,
//!   push ethertypes, set-field types, lengths and values;
//! - [`check_consistency`] needs the rule's match: it walks the actions in
//!   order with a copy of the match, updating it as push/pop/set actions
//!   change the headers, and refuses (`OFPBAC_MATCH_INCONSISTENT`) an action
//!   whose headers the packet cannot have at that point — a set-field whose
//!   prerequisites are not met, a pop of a tag that is not there, a TTL
//!   action on a packet that is not IP (or not MPLS).
//!
//! A masked set-field, which OpenFlow 1.3's `OFPAT_SET_FIELD` cannot carry,
//! travels as Open vSwitch sends it: Nicira's `NXAST_REG_LOAD` experimenter
//! action, decoded into [`Action::RegLoad`] (see [`crate::nicira`]). Other
//! Nicira subtypes stay [`Action::Experimenter`] and are refused with
//! `OFPBAC_BAD_EXP_TYPE`; other experimenters with `OFPBAC_BAD_EXPERIMENTER`.
//!
//! Invariant: for every decoded action, `encode` writes exactly the bytes
//! it was decoded from when the input's padding was zero.

use datapath::flow::{self, Field};

use crate::codec::{pad8, DecodeError, Reader, Writer};
use crate::error::{BadActionCode, ErrorKind};
use crate::nicira::{RegLoad, NXAST_REG_LOAD, NX_VENDOR_ID, REG_LOAD_LEN};
use crate::oxm::{OxmField, OxmId, BASIC_FIELDS, OFPVID_PRESENT, OFPXMC_OPENFLOW_BASIC};
use crate::port::{OFPP_ANY, OFPP_IN_PORT, OFPP_MAX, OFPP_TABLE};

/// `OFPAT_OUTPUT`.
pub const OFPAT_OUTPUT: u16 = 0;
/// `OFPAT_COPY_TTL_OUT`.
pub const OFPAT_COPY_TTL_OUT: u16 = 11;
/// `OFPAT_COPY_TTL_IN`.
pub const OFPAT_COPY_TTL_IN: u16 = 12;
/// `OFPAT_SET_MPLS_TTL`.
pub const OFPAT_SET_MPLS_TTL: u16 = 15;
/// `OFPAT_DEC_MPLS_TTL`.
pub const OFPAT_DEC_MPLS_TTL: u16 = 16;
/// `OFPAT_PUSH_VLAN`.
pub const OFPAT_PUSH_VLAN: u16 = 17;
/// `OFPAT_POP_VLAN`.
pub const OFPAT_POP_VLAN: u16 = 18;
/// `OFPAT_PUSH_MPLS`.
pub const OFPAT_PUSH_MPLS: u16 = 19;
/// `OFPAT_POP_MPLS`.
pub const OFPAT_POP_MPLS: u16 = 20;
/// `OFPAT_SET_QUEUE`.
pub const OFPAT_SET_QUEUE: u16 = 21;
/// `OFPAT_GROUP`.
pub const OFPAT_GROUP: u16 = 22;
/// `OFPAT_SET_NW_TTL`.
pub const OFPAT_SET_NW_TTL: u16 = 23;
/// `OFPAT_DEC_NW_TTL`.
pub const OFPAT_DEC_NW_TTL: u16 = 24;
/// `OFPAT_SET_FIELD`.
pub const OFPAT_SET_FIELD: u16 = 25;
/// `OFPAT_PUSH_PBB`.
pub const OFPAT_PUSH_PBB: u16 = 26;
/// `OFPAT_POP_PBB`.
pub const OFPAT_POP_PBB: u16 = 27;
/// `OFPAT_EXPERIMENTER`.
pub const OFPAT_EXPERIMENTER: u16 = 0xffff;

/// `OFPG_MAX`: the highest group number.
pub const OFPG_MAX: u32 = 0xffff_ff00;
/// `OFPG_ALL`: all groups (group delete and stats).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// `OFPG_ANY`: no group (wildcard in requests).
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// `OFPCML_MAX`: the largest `max_len` that asks for buffering.
pub const OFPCML_MAX: u16 = 0xffe5;
/// `OFPCML_NO_BUFFER`: send the whole packet, unbuffered.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// Bytes of the common action header (type, length).
pub const ACTION_HEADER_LEN: usize = 4;

/// One action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `OFPAT_OUTPUT`: send out of `port`; `max_len` bytes go to the
    /// controller when `port` is `OFPP_CONTROLLER`.
    Output {
        /// Output port (or reserved `OFPP_*`).
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// `OFPAT_COPY_TTL_OUT`.
    CopyTtlOut,
    /// `OFPAT_COPY_TTL_IN`.
    CopyTtlIn,
    /// `OFPAT_SET_MPLS_TTL`.
    SetMplsTtl(u8),
    /// `OFPAT_DEC_MPLS_TTL`.
    DecMplsTtl,
    /// `OFPAT_PUSH_VLAN` with the tag's ethertype.
    PushVlan(u16),
    /// `OFPAT_POP_VLAN`.
    PopVlan,
    /// `OFPAT_PUSH_MPLS` with the new ethertype.
    PushMpls(u16),
    /// `OFPAT_POP_MPLS` with the ethertype of what follows.
    PopMpls(u16),
    /// `OFPAT_SET_QUEUE`.
    SetQueue(u32),
    /// `OFPAT_GROUP`.
    Group(u32),
    /// `OFPAT_SET_NW_TTL`.
    SetNwTtl(u8),
    /// `OFPAT_DEC_NW_TTL`.
    DecNwTtl,
    /// `OFPAT_SET_FIELD` with its single OXM.
    SetField(OxmField),
    /// `OFPAT_PUSH_PBB` with the new ethertype.
    PushPbb(u16),
    /// `OFPAT_POP_PBB`.
    PopPbb,
    /// Nicira `NXAST_REG_LOAD` (an `OFPAT_EXPERIMENTER` action): a write
    /// of a bit range of one field, how a masked set-field is sent.
    RegLoad(RegLoad),
    /// `OFPAT_EXPERIMENTER`: the experimenter id and the rest of the body.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Bytes after the experimenter id (padding included).
        data: Vec<u8>,
    },
    /// An action type OpenFlow 1.3 does not define, carried verbatim.
    Unknown {
        /// The `type` field.
        action_type: u16,
        /// Bytes after the 4-byte header.
        body: Vec<u8>,
    },
}

fn bad(code: BadActionCode, what: &'static str) -> DecodeError {
    DecodeError::of(code, what)
}

impl Action {
    /// The wire `type`.
    #[must_use]
    pub fn action_type(&self) -> u16 {
        match self {
            Action::Output { .. } => OFPAT_OUTPUT,
            Action::CopyTtlOut => OFPAT_COPY_TTL_OUT,
            Action::CopyTtlIn => OFPAT_COPY_TTL_IN,
            Action::SetMplsTtl(_) => OFPAT_SET_MPLS_TTL,
            Action::DecMplsTtl => OFPAT_DEC_MPLS_TTL,
            Action::PushVlan(_) => OFPAT_PUSH_VLAN,
            Action::PopVlan => OFPAT_POP_VLAN,
            Action::PushMpls(_) => OFPAT_PUSH_MPLS,
            Action::PopMpls(_) => OFPAT_POP_MPLS,
            Action::SetQueue(_) => OFPAT_SET_QUEUE,
            Action::Group(_) => OFPAT_GROUP,
            Action::SetNwTtl(_) => OFPAT_SET_NW_TTL,
            Action::DecNwTtl => OFPAT_DEC_NW_TTL,
            Action::SetField(_) => OFPAT_SET_FIELD,
            Action::PushPbb(_) => OFPAT_PUSH_PBB,
            Action::PopPbb => OFPAT_POP_PBB,
            Action::Experimenter { .. } | Action::RegLoad(_) => OFPAT_EXPERIMENTER,
            Action::Unknown { action_type, .. } => *action_type,
        }
    }

    /// Encoded length (a multiple of 8 for everything but a hand-built
    /// `Unknown`/`Experimenter` body of odd size).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        match self {
            Action::Output { .. } => 16,
            Action::SetField(f) => pad8(ACTION_HEADER_LEN + f.encoded_len()),
            Action::Experimenter { data, .. } => 8 + data.len(),
            Action::RegLoad(_) => REG_LOAD_LEN,
            Action::Unknown { body, .. } => ACTION_HEADER_LEN + body.len(),
            _ => 8,
        }
    }

    /// Decodes one action from `r`.
    ///
    /// # Errors
    /// `OFPBAC_BAD_LEN` when the length is not a multiple of 8, shorter than
    /// 8, past the end of the list, or not the size of the action type;
    /// `OFPBAC_BAD_SET_LEN` when a set-field's OXM does not fill its action.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = r.peek_u16_at(0).ok_or(bad(
            BadActionCode::OFPBAC_BAD_LEN,
            "action: truncated header",
        ))?;
        let len = usize::from(r.peek_u16_at(2).ok_or(bad(
            BadActionCode::OFPBAC_BAD_LEN,
            "action: truncated header",
        ))?);
        if len < 8 || !len.is_multiple_of(8) {
            return Err(bad(
                BadActionCode::OFPBAC_BAD_LEN,
                "action: length not a positive multiple of 8",
            ));
        }
        let mut a = r.sub(len).ok_or(bad(
            BadActionCode::OFPBAC_BAD_LEN,
            "action: length past the end of the list",
        ))?;
        let _ = a.skip_padding(ACTION_HEADER_LEN);
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(bad(
                    BadActionCode::OFPBAC_BAD_LEN,
                    "action: wrong length for its type",
                ))
            }
        };
        // After `fixed` succeeds every read below is within `a`; the
        // `unwrap_or` defaults are never taken.
        let act = match ty {
            OFPAT_OUTPUT => {
                fixed(16)?;
                Action::Output {
                    port: a.u32().unwrap_or(0),
                    max_len: a.u16().unwrap_or(0),
                }
            }
            OFPAT_COPY_TTL_OUT => fixed(8).map(|()| Action::CopyTtlOut)?,
            OFPAT_COPY_TTL_IN => fixed(8).map(|()| Action::CopyTtlIn)?,
            OFPAT_SET_MPLS_TTL => {
                fixed(8)?;
                Action::SetMplsTtl(a.u8().unwrap_or(0))
            }
            OFPAT_DEC_MPLS_TTL => fixed(8).map(|()| Action::DecMplsTtl)?,
            OFPAT_PUSH_VLAN => {
                fixed(8)?;
                Action::PushVlan(a.u16().unwrap_or(0))
            }
            OFPAT_POP_VLAN => fixed(8).map(|()| Action::PopVlan)?,
            OFPAT_PUSH_MPLS => {
                fixed(8)?;
                Action::PushMpls(a.u16().unwrap_or(0))
            }
            OFPAT_POP_MPLS => {
                fixed(8)?;
                Action::PopMpls(a.u16().unwrap_or(0))
            }
            OFPAT_SET_QUEUE => {
                fixed(8)?;
                Action::SetQueue(a.u32().unwrap_or(0))
            }
            OFPAT_GROUP => {
                fixed(8)?;
                Action::Group(a.u32().unwrap_or(0))
            }
            OFPAT_SET_NW_TTL => {
                fixed(8)?;
                Action::SetNwTtl(a.u8().unwrap_or(0))
            }
            OFPAT_DEC_NW_TTL => fixed(8).map(|()| Action::DecNwTtl)?,
            OFPAT_PUSH_PBB => {
                fixed(8)?;
                Action::PushPbb(a.u16().unwrap_or(0))
            }
            OFPAT_POP_PBB => fixed(8).map(|()| Action::PopPbb)?,
            OFPAT_SET_FIELD => {
                let f = OxmField::decode(&mut a).map_err(|_| {
                    bad(
                        BadActionCode::OFPBAC_BAD_SET_LEN,
                        "set_field: truncated OXM",
                    )
                })?;
                if pad8(ACTION_HEADER_LEN + f.encoded_len()) != len {
                    return Err(bad(
                        BadActionCode::OFPBAC_BAD_SET_LEN,
                        "set_field: length is not the OXM padded to 8",
                    ));
                }
                Action::SetField(f)
            }
            OFPAT_EXPERIMENTER => {
                let experimenter = a.u32().ok_or(bad(
                    BadActionCode::OFPBAC_BAD_LEN,
                    "experimenter action: truncated",
                ))?;
                let subtype = a.peek_u16_at(0);
                if experimenter == NX_VENDOR_ID && subtype == Some(NXAST_REG_LOAD) {
                    fixed(REG_LOAD_LEN)?;
                    let _ = a.u16();
                    Action::RegLoad(RegLoad {
                        ofs_nbits: a.u16().unwrap_or(0),
                        dst: a.u32().unwrap_or(0),
                        value: a.u64().unwrap_or(0),
                    })
                } else {
                    Action::Experimenter {
                        experimenter,
                        data: a.rest().to_vec(),
                    }
                }
            }
            _ => Action::Unknown {
                action_type: ty,
                body: a.rest().to_vec(),
            },
        };
        Ok(act)
    }

    /// Appends the action.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(2);
        w.put_u16(self.action_type());
        w.put_u16(0);
        match self {
            Action::Output { port, max_len } => {
                w.put_u32(*port);
                w.put_u16(*max_len);
                w.put_zeros(6);
            }
            Action::SetMplsTtl(t) | Action::SetNwTtl(t) => {
                w.put_u8(*t);
                w.put_zeros(3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e) => {
                w.put_u16(*e);
                w.put_zeros(2);
            }
            Action::SetQueue(v) | Action::Group(v) => w.put_u32(*v),
            Action::SetField(f) => {
                f.encode(w);
                w.pad_from(start, 8);
            }
            Action::Experimenter { experimenter, data } => {
                w.put_u32(*experimenter);
                w.put_bytes(data);
            }
            Action::RegLoad(l) => {
                w.put_u32(NX_VENDOR_ID);
                w.put_u16(NXAST_REG_LOAD);
                w.put_u16(l.ofs_nbits);
                w.put_u32(l.dst);
                w.put_u64(l.value);
            }
            Action::Unknown { body, .. } => w.put_bytes(body),
            Action::CopyTtlOut
            | Action::CopyTtlIn
            | Action::DecMplsTtl
            | Action::PopVlan
            | Action::DecNwTtl
            | Action::PopPbb => w.put_zeros(4),
        }
        w.finish_len(mark);
    }

    /// Checks what can be judged from the action alone (§7.2.5, §7.4.4).
    ///
    /// `in_packet_out` allows `OFPP_TABLE` as an output port, which only a
    /// PACKET_OUT may use.
    ///
    /// # Errors
    /// `OFPBAC_BAD_TYPE` (unknown type), `OFPBAC_BAD_EXPERIMENTER` (an
    /// experimenter other than Nicira), `OFPBAC_BAD_EXP_TYPE` (a Nicira
    /// action other than `NXAST_REG_LOAD`), the load's own errors (see
    /// [`RegLoad::validate`]), `OFPBAC_BAD_OUT_PORT` (port 0,
    /// `OFPP_ANY`, an unassigned reserved number, or `OFPP_TABLE` outside
    /// a packet-out), `OFPBAC_BAD_OUT_GROUP` (a reserved group number),
    /// `OFPBAC_BAD_ARGUMENT` (a push ethertype the spec does not allow),
    /// `OFPBAC_BAD_SET_TYPE` / `_LEN` / `_ARGUMENT` (set-field of an
    /// unknown or unsettable field, of the wrong length, with a mask or
    /// with a value outside the field).
    pub fn validate(&self, in_packet_out: bool) -> Result<(), ErrorKind> {
        match self {
            Action::Unknown { .. } => Err(BadActionCode::OFPBAC_BAD_TYPE.into()),
            Action::Experimenter { experimenter, .. } => Err(if *experimenter == NX_VENDOR_ID {
                BadActionCode::OFPBAC_BAD_EXP_TYPE.into()
            } else {
                BadActionCode::OFPBAC_BAD_EXPERIMENTER.into()
            }),
            Action::RegLoad(l) => l.validate().map(|_| ()),
            Action::Output { port, .. } => {
                let ok = match *port {
                    0 | OFPP_ANY => false,
                    OFPP_TABLE => in_packet_out,
                    p => p <= OFPP_MAX || p >= OFPP_IN_PORT,
                };
                if ok {
                    Ok(())
                } else {
                    Err(BadActionCode::OFPBAC_BAD_OUT_PORT.into())
                }
            }
            Action::Group(g) if *g > OFPG_MAX => Err(BadActionCode::OFPBAC_BAD_OUT_GROUP.into()),
            Action::PushVlan(e) if !matches!(*e, 0x8100 | 0x88a8) => {
                Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into())
            }
            Action::PushMpls(e) if !matches!(*e, 0x8847 | 0x8848) => {
                Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into())
            }
            Action::PushPbb(e) if *e != 0x88e7 => Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into()),
            Action::SetField(f) => validate_set_field(f).map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// Whether set-field may write `f`: every field of table 12 but the
/// ingress ports and the `ipv6_exthdr` pseudo-field, which describe how the
/// packet arrived and parsed rather than bits that can be rewritten.
#[must_use]
pub fn settable(f: Field) -> bool {
    f.is_oxm_basic() && !matches!(f, Field::InPort | Field::InPhyPort | Field::Ipv6Exthdr)
}

/// Checks a set-field's OXM on its own and returns `(field, value)`.
///
/// # Errors
/// `OFPBAC_BAD_SET_LEN` for a basic field of the wrong length,
/// `OFPBAC_BAD_SET_TYPE` for another class or an unsettable field,
/// `OFPBAC_BAD_SET_ARGUMENT` for a mask (OpenFlow 1.3 has no masked
/// set-field) or a value outside the field.
pub fn validate_set_field(f: &OxmField) -> Result<(Field, u128), ErrorKind> {
    let (field, value, mask) = match (f.field, f.basic()) {
        (OxmId::Basic(_), Some(b)) => b,
        (OxmId::Other { class, field, .. }, _)
            if class == OFPXMC_OPENFLOW_BASIC && field < BASIC_FIELDS =>
        {
            return Err(BadActionCode::OFPBAC_BAD_SET_LEN.into())
        }
        _ => return Err(BadActionCode::OFPBAC_BAD_SET_TYPE.into()),
    };
    if !settable(field) {
        return Err(BadActionCode::OFPBAC_BAD_SET_TYPE.into());
    }
    if mask.is_some() || value & !field.max_value() != 0 {
        return Err(BadActionCode::OFPBAC_BAD_SET_ARGUMENT.into());
    }
    Ok((field, value))
}

/// Decodes a list of actions filling all of `r`.
///
/// # Errors
/// The first action's decoding error.
pub fn decode_actions(r: &mut Reader<'_>) -> Result<Vec<Action>, DecodeError> {
    let mut out = Vec::with_capacity((r.remaining() / 8).min(32));
    while !r.is_empty() {
        out.push(Action::decode(r)?);
    }
    Ok(out)
}

/// Appends every action of `actions`.
pub fn encode_actions(actions: &[Action], w: &mut Writer) {
    for a in actions {
        a.encode(w);
    }
}

/// Encoded length of a list of actions.
#[must_use]
pub fn actions_len(actions: &[Action]) -> usize {
    actions.iter().map(Action::encoded_len).sum()
}

/// Validates each action of a list on its own (see [`Action::validate`]).
///
/// # Errors
/// The first action's error.
pub fn validate_actions(actions: &[Action], in_packet_out: bool) -> Result<(), ErrorKind> {
    actions.iter().try_for_each(|a| a.validate(in_packet_out))
}

/// Rank of an action in the action set's execution order (§5.10); equal
/// ranks keep their list order.
#[must_use]
pub fn action_set_rank(a: &Action) -> u8 {
    match a {
        Action::CopyTtlIn => 0,
        Action::PopVlan | Action::PopMpls(_) | Action::PopPbb => 1,
        Action::PushMpls(_) => 2,
        Action::PushPbb(_) => 3,
        Action::PushVlan(_) => 4,
        Action::CopyTtlOut => 5,
        Action::DecMplsTtl | Action::DecNwTtl => 6,
        Action::SetField(_) | Action::RegLoad(_) | Action::SetMplsTtl(_) | Action::SetNwTtl(_) => 7,
        Action::SetQueue(_) => 8,
        Action::Group(_) => 9,
        Action::Output { .. } => 10,
        Action::Experimenter { .. } | Action::Unknown { .. } => 11,
    }
}

const IP_TYPES: &[u128] = &[0x0800, 0x86dd];
const MPLS_TYPES: &[u128] = &[0x8847, 0x8848];
const PBB_TYPE: &[u128] = &[0x88e7];

fn pinned_in(m: &flow::Match, f: Field, allowed: &[u128]) -> bool {
    let (v, mask) = m.get(f);
    mask == f.max_value() && allowed.contains(&v)
}

fn vlan_present(m: &flow::Match) -> bool {
    let (v, mask) = m.get(Field::VlanVid);
    let p = u128::from(OFPVID_PRESENT);
    v & mask & p != 0
}

/// Checks that `actions`, run in order on packets of match `state`, only
/// act on headers those packets have at that point, and leaves in `state`
/// what is known of the headers afterwards (so an action set can be checked
/// after the apply-actions that precede it).
///
/// Set-fields must meet their field's prerequisites (and for `vlan_vid` /
/// `vlan_pcp` a tag must be present); `pop_vlan` needs a tag; `pop_mpls`,
/// `set_mpls_ttl`, `dec_mpls_ttl` and the TTL copies need MPLS; `pop_pbb`
/// needs PBB; `set_nw_ttl` and `dec_nw_ttl` need IPv4 or IPv6. Pushes and
/// pops update the ethertype and tag knowledge they change.
///
/// # Errors
/// `OFPBAC_MATCH_INCONSISTENT` at the first action that cannot apply.
pub fn check_consistency(actions: &[Action], state: &mut flow::Match) -> Result<(), ErrorKind> {
    let inconsistent = || Err(BadActionCode::OFPBAC_MATCH_INCONSISTENT.into());
    for a in actions {
        match a {
            Action::PushVlan(_) => {
                let p = u128::from(OFPVID_PRESENT);
                let (v, m) = state.get(Field::VlanVid);
                state.set_masked(Field::VlanVid, v | p, m | p);
            }
            Action::PopVlan => {
                if !vlan_present(state) {
                    return inconsistent();
                }
                // An inner tag may or may not follow.
                state.set_masked(Field::VlanVid, 0, 0);
                state.set_masked(Field::VlanPcp, 0, 0);
            }
            Action::PushMpls(e) => state.set(Field::EthType, u128::from(*e)),
            Action::PopMpls(e) => {
                if !pinned_in(state, Field::EthType, MPLS_TYPES) {
                    return inconsistent();
                }
                state.set(Field::EthType, u128::from(*e));
            }
            Action::SetMplsTtl(_) | Action::DecMplsTtl | Action::CopyTtlIn | Action::CopyTtlOut => {
                if !pinned_in(state, Field::EthType, MPLS_TYPES) {
                    return inconsistent();
                }
            }
            Action::SetNwTtl(_) | Action::DecNwTtl => {
                if !pinned_in(state, Field::EthType, IP_TYPES) {
                    return inconsistent();
                }
            }
            Action::PushPbb(_) => state.set(Field::EthType, 0x88e7),
            Action::PopPbb => {
                if !pinned_in(state, Field::EthType, PBB_TYPE) {
                    return inconsistent();
                }
                state.set_masked(Field::EthType, 0, 0);
            }
            Action::SetField(f) => {
                let Some((field, value, _)) = f.basic() else {
                    continue;
                };
                let needs_tag = matches!(field, Field::VlanVid | Field::VlanPcp);
                if (needs_tag && !vlan_present(state)) || !flow::prerequisites_met(&[field], state)
                {
                    return inconsistent();
                }
                if field == Field::VlanVid {
                    // Setting the VID keeps the tag present.
                    let p = u128::from(OFPVID_PRESENT);
                    state.set(field, value | p);
                } else {
                    state.set(field, value);
                }
            }
            Action::RegLoad(l) => {
                let Ok((field, value, mask)) = l.validate() else {
                    continue;
                };
                let needs_tag = matches!(field, Field::VlanVid | Field::VlanPcp);
                if (needs_tag && !vlan_present(state)) || !flow::prerequisites_met(&[field], state)
                {
                    return inconsistent();
                }
                // The written bits become known; the others stay as they were.
                let (v, m) = state.get(field);
                state.set_masked(field, (v & !mask) | value, m | mask);
            }
            Action::Output { .. }
            | Action::SetQueue(_)
            | Action::Group(_)
            | Action::Experimenter { .. }
            | Action::Unknown { .. } => {}
        }
    }
    Ok(())
}

/// Strategies for property tests of everything that carries actions.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use crate::oxm::strategies::{arb_basic, arb_basic_oxm, arb_valid_basic_oxm};
    use crate::port::{OFPP_CONTROLLER, OFPP_MAX};
    use proptest::prelude::*;

    /// Any action (possibly invalid, always well-formed on the wire).
    pub fn arb_action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (any::<u32>(), any::<u16>())
                .prop_map(|(port, max_len)| Action::Output { port, max_len }),
            Just(Action::CopyTtlOut),
            Just(Action::CopyTtlIn),
            any::<u8>().prop_map(Action::SetMplsTtl),
            Just(Action::DecMplsTtl),
            any::<u16>().prop_map(Action::PushVlan),
            Just(Action::PopVlan),
            any::<u16>().prop_map(Action::PushMpls),
            any::<u16>().prop_map(Action::PopMpls),
            any::<u32>().prop_map(Action::SetQueue),
            any::<u32>().prop_map(Action::Group),
            any::<u8>().prop_map(Action::SetNwTtl),
            Just(Action::DecNwTtl),
            arb_basic_oxm().prop_map(Action::SetField),
            any::<u16>().prop_map(Action::PushPbb),
            Just(Action::PopPbb),
            (any::<u16>(), any::<u32>(), any::<u64>()).prop_map(|(ofs_nbits, dst, value)| {
                Action::RegLoad(RegLoad {
                    ofs_nbits,
                    dst,
                    value,
                })
            }),
            (
                any::<u32>().prop_filter("not Nicira", |e| *e != NX_VENDOR_ID),
                proptest::collection::vec(any::<u8>(), 0..3)
            )
                .prop_map(|(experimenter, words)| Action::Experimenter {
                    experimenter,
                    data: words.iter().flat_map(|b| [*b; 8]).collect(),
                }),
            (28u16..0xffff, proptest::collection::vec(any::<u8>(), 0..3)).prop_map(
                |(action_type, words)| {
                    let mut body = vec![0u8; 4];
                    body.extend(words.iter().flat_map(|b| [*b; 8]));
                    Action::Unknown { action_type, body }
                }
            ),
        ]
    }

    /// An action that passes [`Action::validate`] (not necessarily
    /// consistent with a given match).
    pub fn arb_valid_action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (1u32..=OFPP_MAX, any::<u16>())
                .prop_map(|(port, max_len)| Action::Output { port, max_len }),
            Just(Action::Output {
                port: OFPP_CONTROLLER,
                max_len: OFPCML_NO_BUFFER
            }),
            prop::sample::select(vec![0x8100u16, 0x88a8]).prop_map(Action::PushVlan),
            Just(Action::PopVlan),
            any::<u32>().prop_map(Action::SetQueue),
            (0..=OFPG_MAX).prop_map(Action::Group),
            Just(Action::DecNwTtl),
            arb_basic()
                .prop_filter("settable", |f| settable(*f))
                .prop_flat_map(|f| arb_valid_basic_oxm(f).prop_map(|mut o| {
                    o.mask = None;
                    if let Some((f, v, _)) = o.basic() {
                        o = OxmField::exact(f, v & f.max_value());
                    }
                    o
                }))
                .prop_map(Action::SetField),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::port::*;
    use proptest::prelude::*;

    fn enc(a: &Action) -> Vec<u8> {
        let mut w = Writer::new();
        a.encode(&mut w);
        w.into_inner()
    }

    fn dec(b: &[u8]) -> Result<Action, DecodeError> {
        let mut r = Reader::new(b);
        let a = Action::decode(&mut r)?;
        assert!(r.is_empty());
        Ok(a)
    }

    fn bac(code: BadActionCode) -> ErrorKind {
        code.into()
    }

    #[test]
    fn output_is_sixteen_bytes() {
        let a = Action::Output {
            port: OFPP_CONTROLLER,
            max_len: OFPCML_NO_BUFFER,
        };
        assert_eq!(
            enc(&a),
            [0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn set_field_pads_its_oxm_to_eight() {
        let a = Action::SetField(OxmField::exact(Field::VlanVid, 0x1000 | 5));
        let b = enc(&a);
        assert_eq!(b, [0, 25, 0, 16, 0x80, 0, 12, 2, 0x10, 5, 0, 0, 0, 0, 0, 0]);
        assert_eq!(dec(&b).unwrap(), a);
        let a = Action::SetField(OxmField::exact(Field::Ipv6Src, 1));
        assert_eq!(enc(&a).len(), 24);
    }

    #[test]
    fn every_fixed_action_round_trips_with_its_spec_length() {
        let cases = [
            (Action::CopyTtlOut, 8),
            (Action::CopyTtlIn, 8),
            (Action::SetMplsTtl(9), 8),
            (Action::DecMplsTtl, 8),
            (Action::PushVlan(0x8100), 8),
            (Action::PopVlan, 8),
            (Action::PushMpls(0x8847), 8),
            (Action::PopMpls(0x0800), 8),
            (Action::SetQueue(3), 8),
            (Action::Group(7), 8),
            (Action::SetNwTtl(64), 8),
            (Action::DecNwTtl, 8),
            (Action::PushPbb(0x88e7), 8),
            (Action::PopPbb, 8),
        ];
        for (a, len) in cases {
            let b = enc(&a);
            assert_eq!(b.len(), len, "{a:?}");
            assert_eq!(u16::from_be_bytes([b[0], b[1]]), a.action_type());
            assert_eq!(dec(&b).unwrap(), a);
        }
    }

    #[test]
    fn rejects_lengths_that_are_not_multiples_of_eight_with_bad_len() {
        for b in [
            &[0, 11, 0, 4, 0, 0, 0, 0][..],
            &[0, 11, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 11, 0, 16, 0, 0, 0, 0][..],
            &[0, 11, 0][..],
            &[0, 0, 0, 8, 0, 0, 0, 1][..],
            &[0, 11, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert_eq!(
                dec(b).unwrap_err().kind(),
                bac(BadActionCode::OFPBAC_BAD_LEN),
                "{b:?}"
            );
        }
    }

    #[test]
    fn rejects_set_field_whose_oxm_does_not_fill_it_with_bad_set_len() {
        // OXM claims 2 bytes of payload but the action is 16 long.
        let b = [0, 25, 0, 16, 0x80, 0, 12, 2, 0x10, 5, 0, 0, 0, 0, 0, 0];
        assert!(dec(&b).is_ok());
        let long = [
            0, 25, 0, 24, 0x80, 0, 12, 2, 0x10, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            dec(&long).unwrap_err().kind(),
            bac(BadActionCode::OFPBAC_BAD_SET_LEN)
        );
        let truncated = [0, 25, 0, 8, 0x80, 0, 12, 20];
        assert_eq!(
            dec(&truncated).unwrap_err().kind(),
            bac(BadActionCode::OFPBAC_BAD_SET_LEN)
        );
    }

    #[test]
    fn unknown_and_experimenter_actions_round_trip() {
        let unk = [0, 99, 0, 8, 1, 2, 3, 4];
        let a = dec(&unk).unwrap();
        assert_eq!(
            a,
            Action::Unknown {
                action_type: 99,
                body: vec![1, 2, 3, 4]
            }
        );
        assert_eq!(enc(&a), unk);
        assert_eq!(a.validate(false), Err(bac(BadActionCode::OFPBAC_BAD_TYPE)));
        let exp = [0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0, 1, 2, 3, 4, 5, 6, 7];
        let a = dec(&exp).unwrap();
        assert_eq!(enc(&a), exp);
        assert_eq!(
            a.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_EXP_TYPE))
        );
        let other = [0xff, 0xff, 0, 16, 0, 0, 0x12, 0x34, 0, 1, 2, 3, 4, 5, 6, 7];
        let a = dec(&other).unwrap();
        assert_eq!(enc(&a), other);
        assert_eq!(
            a.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_EXPERIMENTER))
        );
    }

    /// `load:0xa0000->NXM_OF_IP_DST[8..31]` as `ovs-ofctl` sends it.
    const REG_LOAD_IP_DST: [u8; 24] = [
        0xff, 0xff, 0, 24, 0, 0, 0x23, 0x20, 0, 7, 0x02, 0x17, 0, 0, 0x10, 0x04, 0, 0, 0, 0, 0,
        0x0a, 0, 0,
    ];

    #[test]
    fn nicira_reg_load_decodes_to_its_own_variant_and_round_trips() {
        let a = dec(&REG_LOAD_IP_DST).unwrap();
        let Action::RegLoad(l) = a else {
            panic!("{a:?}")
        };
        assert_eq!(
            (l.ofs(), l.n_bits(), l.dst, l.value),
            (8, 24, 0x1004, 0xa0000)
        );
        assert_eq!(enc(&a), REG_LOAD_IP_DST);
        assert_eq!(a.encoded_len(), 24);
        assert_eq!(a.validate(false), Ok(()));
    }

    #[test]
    fn nicira_reg_load_of_the_wrong_length_is_bad_len() {
        let mut long = REG_LOAD_IP_DST.to_vec();
        long[3] = 32;
        long.extend([0; 8]);
        assert_eq!(
            dec(&long).unwrap_err().kind(),
            bac(BadActionCode::OFPBAC_BAD_LEN)
        );
        let mut short = REG_LOAD_IP_DST[..16].to_vec();
        short[3] = 16;
        assert_eq!(
            dec(&short).unwrap_err().kind(),
            bac(BadActionCode::OFPBAC_BAD_LEN)
        );
    }

    #[test]
    fn nicira_reg_load_with_bad_field_range_or_value_is_refused_with_the_set_codes() {
        let with = |f: fn(&mut [u8; 24])| {
            let mut b = REG_LOAD_IP_DST;
            f(&mut b);
            dec(&b).unwrap().validate(false)
        };
        // NXM_OF_IN_PORT is not settable; class 5 names nothing.
        assert_eq!(
            with(|b| b[12..16].copy_from_slice(&[0, 0, 0, 2])),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_TYPE))
        );
        assert_eq!(
            with(|b| b[12..16].copy_from_slice(&[0x80, 0, 2, 4])),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_ARGUMENT))
        );
        // 24 bits at offset 16 run past a 32-bit field.
        assert_eq!(
            with(|b| b[10..12].copy_from_slice(&[0x04, 0x17])),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_LEN))
        );
        // A value wider than the 24 bits written.
        assert_eq!(
            with(|b| b[19] = 1),
            Err(bac(BadActionCode::OFPBAC_BAD_ARGUMENT))
        );
    }

    #[test]
    fn reg_load_checks_prerequisites_and_records_only_the_written_bits() {
        let a = dec(&REG_LOAD_IP_DST).unwrap();
        assert_eq!(
            check_consistency(std::slice::from_ref(&a), &mut flow::Match::catch_all()),
            Err(bac(BadActionCode::OFPBAC_MATCH_INCONSISTENT))
        );
        let mut m = flow::Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set_masked(Field::Ipv4Dst, 0xc612_0005, 0x0000_00ff);
        assert!(check_consistency(&[a], &mut m).is_ok());
        assert_eq!(m.get(Field::Ipv4Dst), (0x0a00_0005, 0xffff_ffff));
    }

    #[test]
    fn rejects_reserved_output_ports_with_bad_out_port() {
        for port in [0, OFPP_ANY, OFPP_MAX + 1, OFPP_IN_PORT - 1, OFPP_TABLE] {
            let a = Action::Output { port, max_len: 0 };
            assert_eq!(
                a.validate(false),
                Err(bac(BadActionCode::OFPBAC_BAD_OUT_PORT)),
                "{port:x}"
            );
        }
        for port in [
            1,
            OFPP_MAX,
            OFPP_IN_PORT,
            OFPP_NORMAL,
            OFPP_FLOOD,
            OFPP_ALL,
            OFPP_LOCAL,
        ] {
            assert!(Action::Output { port, max_len: 0 }.validate(false).is_ok());
        }
        let table = Action::Output {
            port: OFPP_TABLE,
            max_len: 0,
        };
        assert!(table.validate(true).is_ok());
    }

    #[test]
    fn rejects_reserved_group_with_bad_out_group() {
        assert_eq!(
            Action::Group(OFPG_ALL).validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_OUT_GROUP))
        );
        assert!(Action::Group(OFPG_MAX).validate(false).is_ok());
    }

    #[test]
    fn rejects_push_vlan_with_other_ethertype_with_bad_argument() {
        assert_eq!(
            Action::PushVlan(0x0800).validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_ARGUMENT))
        );
        assert!(Action::PushVlan(0x88a8).validate(false).is_ok());
        assert_eq!(
            Action::PushMpls(0x8100).validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_ARGUMENT))
        );
        assert!(Action::PushMpls(0x8848).validate(false).is_ok());
        assert_eq!(
            Action::PushPbb(0x8100).validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_ARGUMENT))
        );
    }

    #[test]
    fn rejects_bad_set_fields_with_the_set_codes() {
        let masked = Action::SetField(OxmField::masked(Field::EthDst, 1, 1));
        assert_eq!(
            masked.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_ARGUMENT))
        );
        let big = Action::SetField(OxmField::exact(Field::VlanVid, 0x2000));
        assert_eq!(
            big.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_ARGUMENT))
        );
        let phy = Action::SetField(OxmField::exact(Field::InPhyPort, 1));
        assert_eq!(
            phy.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_TYPE))
        );
        let exp = Action::SetField(OxmField {
            field: OxmId::Experimenter {
                field: 1,
                hasmask: false,
                experimenter: 1,
            },
            value: Default::default(),
            mask: None,
        });
        assert_eq!(
            exp.validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_TYPE))
        );
        // A basic field of the wrong length.
        let b = [0, 25, 0, 16, 0x80, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            dec(&b).unwrap().validate(false),
            Err(bac(BadActionCode::OFPBAC_BAD_SET_LEN))
        );
    }

    #[test]
    fn rejects_set_tcp_dst_on_non_tcp_match_with_match_inconsistent() {
        let mut m = flow::Match::catch_all();
        m.set(Field::EthType, 0x0800);
        let acts = [Action::SetField(OxmField::exact(Field::TcpDst, 80))];
        assert_eq!(
            check_consistency(&acts, &mut m.clone()),
            Err(bac(BadActionCode::OFPBAC_MATCH_INCONSISTENT))
        );
        m.set(Field::IpProto, 6);
        assert!(check_consistency(&acts, &mut m).is_ok());
    }

    #[test]
    fn rejects_pop_vlan_without_a_tag_with_match_inconsistent() {
        let acts = [Action::PopVlan];
        assert_eq!(
            check_consistency(&acts, &mut flow::Match::catch_all()),
            Err(bac(BadActionCode::OFPBAC_MATCH_INCONSISTENT))
        );
        let pushed = [Action::PushVlan(0x8100), Action::PopVlan];
        assert!(check_consistency(&pushed, &mut flow::Match::catch_all()).is_ok());
        let twice = [Action::PushVlan(0x8100), Action::PopVlan, Action::PopVlan];
        assert!(check_consistency(&twice, &mut flow::Match::catch_all()).is_err());
    }

    #[test]
    fn rejects_ttl_actions_on_the_wrong_protocol_with_match_inconsistent() {
        for a in [Action::DecNwTtl, Action::SetNwTtl(3)] {
            assert!(check_consistency(&[a], &mut flow::Match::catch_all()).is_err());
        }
        let mut m = flow::Match::catch_all();
        m.set(Field::EthType, 0x86dd);
        assert!(check_consistency(&[Action::DecNwTtl], &mut m).is_ok());
        assert!(check_consistency(&[Action::DecMplsTtl], &mut m.clone()).is_err());
        let acts = [
            Action::PushMpls(0x8847),
            Action::DecMplsTtl,
            Action::PopMpls(0x0800),
            Action::DecNwTtl,
        ];
        assert!(check_consistency(&acts, &mut m).is_ok());
        assert_eq!(m.get(Field::EthType), (0x0800, 0xffff));
    }

    #[test]
    fn set_vlan_vid_needs_a_tag() {
        let set = Action::SetField(OxmField::exact(Field::VlanVid, 0x1000 | 7));
        assert!(
            check_consistency(std::slice::from_ref(&set), &mut flow::Match::catch_all()).is_err()
        );
        assert!(check_consistency(
            &[Action::PushVlan(0x8100), set],
            &mut flow::Match::catch_all()
        )
        .is_ok());
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(acts in proptest::collection::vec(arb_action(), 0..8)) {
            let mut w = Writer::new();
            encode_actions(&acts, &mut w);
            let b = w.into_inner();
            prop_assert_eq!(b.len(), actions_len(&acts));
            prop_assert_eq!(b.len() % 8, 0);
            let d = decode_actions(&mut Reader::new(&b)).unwrap();
            prop_assert_eq!(d, acts);
        }

        #[test]
        fn encode_inverts_decode_on_canonical_bytes(acts in proptest::collection::vec(arb_action(), 0..6)) {
            let mut w = Writer::new();
            encode_actions(&acts, &mut w);
            let b = w.into_inner();
            let d = decode_actions(&mut Reader::new(&b)).unwrap();
            let mut w2 = Writer::new();
            encode_actions(&d, &mut w2);
            prop_assert_eq!(w2.into_inner(), b);
        }

        #[test]
        fn valid_actions_validate(a in arb_valid_action()) {
            prop_assert_eq!(a.validate(false), Ok(()));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(acts) = decode_actions(&mut Reader::new(&b)) {
                for a in &acts {
                    let _ = a.validate(true);
                }
                let _ = check_consistency(&acts, &mut flow::Match::catch_all());
            }
        }
    }
}
