//! OFPT_FLOW_MOD (§7.3.4.2): add, modify or delete flow entries.
//!
//! The body is a 40-byte fixed part, an `ofp_match` padded to 8, and the
//! instructions up to the end of the message. Decoding is structural (see
//! [`crate::oxm`], [`crate::instruction`]); the flow-mod-level checks that
//! need no switch state (command, flags, table id) are in
//! [`FlowMod::validate_fields`], and everything that needs the pipeline
//! (match prerequisites against the actions, table count) is done where
//! the request is turned into the datapath model, in [`crate::convert`].

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::{ofp_number, ErrorKind, FlowModFailedCode};
use crate::instruction::{decode_instructions, encode_instructions, instructions_len, Instruction};
use crate::oxm::OfpMatch;

/// `OFP_NO_BUFFER`: the packet is not buffered in the switch.
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;

/// Bytes of the fixed part of the body (before the match).
pub const FLOW_MOD_FIXED_LEN: usize = 40;

/// `OFPFF_SEND_FLOW_REM`: send FLOW_REMOVED when the entry goes.
pub const OFPFF_SEND_FLOW_REM: u16 = 1 << 0;
/// `OFPFF_CHECK_OVERLAP`: refuse an add that overlaps an entry.
pub const OFPFF_CHECK_OVERLAP: u16 = 1 << 1;
/// `OFPFF_RESET_COUNTS`: reset the counters of modified entries.
pub const OFPFF_RESET_COUNTS: u16 = 1 << 2;
/// `OFPFF_NO_PKT_COUNTS`: the entry need not count packets.
pub const OFPFF_NO_PKT_COUNTS: u16 = 1 << 3;
/// `OFPFF_NO_BYT_COUNTS`: the entry need not count bytes.
pub const OFPFF_NO_BYT_COUNTS: u16 = 1 << 4;
/// Every flag OpenFlow 1.3 defines.
pub const OFPFF_ALL: u16 = 0x1f;

ofp_number! {
    /// `ofp_flow_mod_command`.
    pub struct FlowModCommand(u8) {
        OFPFC_ADD = 0,
        OFPFC_MODIFY = 1,
        OFPFC_MODIFY_STRICT = 2,
        OFPFC_DELETE = 3,
        OFPFC_DELETE_STRICT = 4,
    }
}

impl FlowModCommand {
    /// Whether the command deletes entries.
    #[must_use]
    pub fn is_delete(self) -> bool {
        matches!(self, Self::OFPFC_DELETE | Self::OFPFC_DELETE_STRICT)
    }

    /// Whether the command matches strictly (priority and exact match).
    #[must_use]
    pub fn is_strict(self) -> bool {
        matches!(self, Self::OFPFC_MODIFY_STRICT | Self::OFPFC_DELETE_STRICT)
    }
}

/// OFPT_FLOW_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowMod {
    /// Opaque controller-issued identifier.
    pub cookie: u64,
    /// Cookie bits that must match for modify/delete (0: none).
    pub cookie_mask: u64,
    /// Table to put the entry in (`OFPTT_ALL` for delete: all tables).
    pub table_id: u8,
    /// What to do.
    pub command: FlowModCommand,
    /// Idle time before discarding, seconds (0: none).
    pub idle_timeout: u16,
    /// Max time before discarding, seconds (0: none).
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Buffered packet to apply to, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// For delete: entries must output to this port (`OFPP_ANY`: any).
    pub out_port: u32,
    /// For delete: entries must output to this group (`OFPG_ANY`: any).
    pub out_group: u32,
    /// `OFPFF_*`.
    pub flags: u16,
    /// The match.
    pub match_: OfpMatch,
    /// The instructions, in wire order.
    pub instructions: Vec<Instruction>,
}

impl Default for FlowMod {
    fn default() -> Self {
        Self {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: FlowModCommand::OFPFC_ADD,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: OFP_NO_BUFFER,
            out_port: crate::port::OFPP_ANY,
            out_group: crate::action::OFPG_ANY,
            flags: 0,
            match_: OfpMatch::default(),
            instructions: Vec::new(),
        }
    }
}

impl FlowMod {
    /// Decodes the body (everything after the 8-byte header) from `r`,
    /// consuming all of it.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part; the match's and the
    /// instructions' decoding errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fixed = r
            .take(FLOW_MOD_FIXED_LEN)
            .ok_or(DecodeError::bad_len("flow_mod: truncated"))?;
        let mut f = Reader::new(fixed);
        // `fixed` is exactly FLOW_MOD_FIXED_LEN bytes; the reads cannot fail.
        let cookie = f.u64().unwrap_or(0);
        let cookie_mask = f.u64().unwrap_or(0);
        let table_id = f.u8().unwrap_or(0);
        let command = FlowModCommand(f.u8().unwrap_or(0));
        let idle_timeout = f.u16().unwrap_or(0);
        let hard_timeout = f.u16().unwrap_or(0);
        let priority = f.u16().unwrap_or(0);
        let buffer_id = f.u32().unwrap_or(0);
        let out_port = f.u32().unwrap_or(0);
        let out_group = f.u32().unwrap_or(0);
        let flags = f.u16().unwrap_or(0);
        let match_ = OfpMatch::decode(r)?;
        let instructions = decode_instructions(r)?;
        Ok(Self {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            match_,
            instructions,
        })
    }

    /// Decodes a whole body.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(body))
    }

    /// Length of the encoded body.
    #[must_use]
    pub fn body_len(&self) -> usize {
        FLOW_MOD_FIXED_LEN + self.match_.encoded_len() + instructions_len(&self.instructions)
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.reserve(self.body_len());
        w.put_u64(self.cookie);
        w.put_u64(self.cookie_mask);
        w.put_u8(self.table_id);
        w.put_u8(self.command.0);
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u16(self.priority);
        w.put_u32(self.buffer_id);
        w.put_u32(self.out_port);
        w.put_u32(self.out_group);
        w.put_u16(self.flags);
        w.put_zeros(2);
        self.match_.encode(w);
        encode_instructions(&self.instructions, w);
    }

    /// Checks the fields that need no switch state.
    ///
    /// # Errors
    /// `OFPFMFC_BAD_COMMAND` for an unknown command, `OFPFMFC_BAD_FLAGS`
    /// for flag bits 1.3 does not define, `OFPFMFC_BAD_TABLE_ID` for
    /// `OFPTT_ALL` outside a delete.
    pub fn validate_fields(&self) -> Result<(), ErrorKind> {
        if !self.command.is_known() {
            return Err(FlowModFailedCode::OFPFMFC_BAD_COMMAND.into());
        }
        if self.flags & !OFPFF_ALL != 0 {
            return Err(FlowModFailedCode::OFPFMFC_BAD_FLAGS.into());
        }
        if self.table_id == crate::table::OFPTT_ALL && !self.command.is_delete() {
            return Err(FlowModFailedCode::OFPFMFC_BAD_TABLE_ID.into());
        }
        Ok(())
    }
}

/// Strategies for property tests.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use crate::instruction::strategies::arb_instructions;
    use crate::oxm::strategies::arb_match;
    use proptest::prelude::*;

    /// Any flow mod (well-formed on the wire, possibly invalid).
    pub fn arb_flow_mod() -> impl Strategy<Value = FlowMod> {
        (
            (any::<u64>(), any::<u64>(), any::<u8>(), any::<u8>()),
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>()),
            (any::<u32>(), any::<u32>(), any::<u16>()),
            arb_match(),
            arb_instructions(),
        )
            .prop_map(
                |(
                    (cookie, cookie_mask, table_id, command),
                    (idle_timeout, hard_timeout, priority, buffer_id),
                    (out_port, out_group, flags),
                    match_,
                    instructions,
                )| FlowMod {
                    cookie,
                    cookie_mask,
                    table_id,
                    command: FlowModCommand(command),
                    idle_timeout,
                    hard_timeout,
                    priority,
                    buffer_id,
                    out_port,
                    out_group,
                    flags,
                    match_,
                    instructions,
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::arb_flow_mod;
    use super::*;
    use crate::action::Action;
    use crate::codec::testutil::{check_golden, message};
    use crate::oxm::OxmField;
    use datapath::flow::Field;
    use proptest::prelude::*;

    fn enc(m: &FlowMod) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_inner()
    }

    #[test]
    fn fixed_part_is_forty_bytes_then_match() {
        let fm = FlowMod {
            cookie: 0x0102_0304_0506_0708,
            table_id: 1,
            priority: 100,
            ..FlowMod::default()
        };
        let b = enc(&fm);
        assert_eq!(b.len(), 48);
        assert_eq!(&b[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(b[16], 1);
        assert_eq!(b[17], 0);
        assert_eq!(&b[22..24], &[0, 100]);
        assert_eq!(&b[24..28], &[0xff; 4]);
        assert_eq!(&b[40..48], &[0, 1, 0, 4, 0, 0, 0, 0]);
        assert_eq!(FlowMod::decode_body(&b).unwrap(), fm);
    }

    #[test]
    fn rejects_truncated_fixed_part_with_bad_request_bad_len() {
        let b = enc(&FlowMod::default());
        let e = FlowMod::decode_body(&b[..39]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BAD_LEN);
        let e = FlowMod::decode_body(&b[..44]).unwrap_err();
        assert_eq!(e.kind(), crate::error::BadMatchCode::OFPBMC_BAD_LEN.into());
    }

    #[test]
    fn five_oxms_and_two_instructions_round_trip() {
        let fm = FlowMod {
            match_: OfpMatch::catch_all()
                .exact(Field::InPort, 1)
                .exact(Field::EthType, 0x0800)
                .exact(Field::IpProto, 6)
                .masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000)
                .exact(Field::TcpDst, 80),
            instructions: vec![
                Instruction::ApplyActions(vec![Action::Output {
                    port: 2,
                    max_len: 0,
                }]),
                Instruction::GotoTable(1),
            ],
            ..FlowMod::default()
        };
        let b = enc(&fm);
        assert_eq!(b.len(), fm.body_len());
        assert_eq!(FlowMod::decode_body(&b).unwrap(), fm);
    }

    #[test]
    fn rejects_unknown_command_with_bad_command() {
        let fm = FlowMod {
            command: FlowModCommand(5),
            ..FlowMod::default()
        };
        assert_eq!(
            fm.validate_fields(),
            Err(FlowModFailedCode::OFPFMFC_BAD_COMMAND.into())
        );
    }

    #[test]
    fn rejects_undefined_flags_with_bad_flags() {
        let fm = FlowMod {
            flags: 0x20,
            ..FlowMod::default()
        };
        assert_eq!(
            fm.validate_fields(),
            Err(FlowModFailedCode::OFPFMFC_BAD_FLAGS.into())
        );
    }

    #[test]
    fn rejects_add_to_all_tables_with_bad_table_id() {
        let fm = FlowMod {
            table_id: 0xff,
            ..FlowMod::default()
        };
        assert_eq!(
            fm.validate_fields(),
            Err(FlowModFailedCode::OFPFMFC_BAD_TABLE_ID.into())
        );
        let del = FlowMod {
            command: FlowModCommand::OFPFC_DELETE,
            ..fm
        };
        assert!(del.validate_fields().is_ok());
    }

    fn golden(name: &str, fm: &FlowMod) {
        let b = message(14, 0x10, |w| fm.encode(w));
        check_golden(name, &b);
        assert_eq!(FlowMod::decode_body(&b[8..]).unwrap(), *fm);
    }

    #[test]
    fn golden_flow_mod_add_with_five_fields_and_two_instructions() {
        let fm = FlowMod {
            cookie: 0x1234,
            table_id: 0,
            idle_timeout: 10,
            priority: 100,
            flags: OFPFF_SEND_FLOW_REM,
            match_: OfpMatch::catch_all()
                .exact(Field::InPort, 1)
                .exact(Field::EthType, 0x0800)
                .exact(Field::IpProto, 6)
                .masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000)
                .exact(Field::TcpDst, 80),
            instructions: vec![
                Instruction::ApplyActions(vec![
                    Action::SetField(OxmField::exact(Field::EthDst, 0x0200_0000_0001)),
                    Action::Output {
                        port: 2,
                        max_len: 0,
                    },
                ]),
                Instruction::GotoTable(1),
            ],
            ..FlowMod::default()
        };
        golden("flow_mod_add", &fm);
    }

    #[test]
    fn golden_flow_mod_with_every_instruction_and_action() {
        let fm = FlowMod {
            table_id: 2,
            command: FlowModCommand::OFPFC_MODIFY,
            hard_timeout: 300,
            priority: 7,
            flags: OFPFF_CHECK_OVERLAP | OFPFF_RESET_COUNTS,
            match_: OfpMatch::catch_all().exact(Field::EthType, 0x0800).masked(
                Field::VlanVid,
                0x1000,
                0x1000,
            ),
            instructions: vec![
                Instruction::Meter(5),
                Instruction::ApplyActions(vec![
                    Action::PopVlan,
                    Action::PushVlan(0x88a8),
                    Action::SetField(OxmField::exact(Field::VlanVid, 0x1000 | 42)),
                    Action::SetNwTtl(9),
                    Action::DecNwTtl,
                    Action::PushMpls(0x8847),
                    Action::SetMplsTtl(64),
                    Action::DecMplsTtl,
                    Action::PopMpls(0x0800),
                    Action::SetQueue(3),
                    Action::Output {
                        port: crate::port::OFPP_CONTROLLER,
                        max_len: 128,
                    },
                ]),
                Instruction::ClearActions,
                Instruction::WriteActions(vec![
                    Action::Group(4),
                    Action::Output {
                        port: crate::port::OFPP_IN_PORT,
                        max_len: 0,
                    },
                ]),
                Instruction::WriteMetadata {
                    metadata: 0xab,
                    mask: 0xff,
                },
                Instruction::GotoTable(9),
            ],
            ..FlowMod::default()
        };
        golden("flow_mod_all_instructions", &fm);
    }

    #[test]
    fn golden_flow_mod_with_masked_and_wide_fields() {
        let fm = FlowMod {
            table_id: 3,
            priority: 0x8000,
            match_: OfpMatch::catch_all()
                .masked(Field::Metadata, 0x100, 0xf00)
                .masked(Field::EthSrc, 0x0000_5e00_0000, 0xffff_ff00_0000)
                .exact(Field::EthType, 0x86dd)
                .exact(Field::IpProto, 58)
                .masked(
                    Field::Ipv6Src,
                    0x2001_0db8_u128 << 96,
                    0xffff_ffff_u128 << 96,
                )
                .masked(Field::Ipv6Flabel, 0x12345, 0xfffff)
                .exact(Field::Icmpv6Type, 135)
                .exact(Field::Ipv6NdTarget, 0xfe80_u128 << 112 | 1)
                .masked(Field::TunnelId, 0x50, 0xff),
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: crate::port::OFPP_NORMAL,
                max_len: 0,
            }])],
            ..FlowMod::default()
        };
        golden("flow_mod_masked_fields", &fm);
    }

    #[test]
    fn golden_flow_mod_delete_strict_with_out_port() {
        let fm = FlowMod {
            cookie: 0xff00,
            cookie_mask: 0xffff,
            table_id: crate::table::OFPTT_ALL,
            command: FlowModCommand::OFPFC_DELETE_STRICT,
            priority: 5,
            out_port: 3,
            match_: OfpMatch::catch_all()
                .exact(Field::EthType, 0x0806)
                .exact(Field::ArpOp, 2)
                .exact(Field::ArpSpa, 0xc0a8_0001)
                .masked(Field::ArpTha, 0xffff_ffff_ffff, 0xffff_ffff_ffff),
            ..FlowMod::default()
        };
        golden("flow_mod_delete_strict", &fm);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(fm in arb_flow_mod()) {
            let b = enc(&fm);
            prop_assert_eq!(b.len(), fm.body_len());
            prop_assert_eq!(FlowMod::decode_body(&b).unwrap(), fm);
        }

        #[test]
        fn encode_inverts_decode_on_canonical_bytes(fm in arb_flow_mod()) {
            let b = enc(&fm);
            prop_assert_eq!(enc(&FlowMod::decode_body(&b).unwrap()), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = FlowMod::decode_body(&b);
        }

        #[test]
        fn damaged_encodings_never_panic_the_decoder_or_the_checks(
            fm in arb_flow_mod(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = enc(&fm);
            for (at, x) in &flips {
                let i = at.index(b.len());
                b[i] ^= x;
            }
            b.truncate(cut.index(b.len() + 1));
            if let Ok(d) = FlowMod::decode_body(&b) {
                let _ = d.validate_fields();
                let _ = crate::convert::flow_mod_from_wire(&d, &crate::convert::Limits::default());
                prop_assert_eq!(d.body_len(), b.len());
            }
        }
    }
}
