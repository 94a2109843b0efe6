//! OpenFlow 1.3 instructions (§7.2.4): what a flow entry does when it
//! matches, in the order the controller sent them.
//!
//! Like actions, instructions are decoded structurally ([`Instruction::decode`]:
//! `OFPBIC_BAD_LEN`, or the embedded actions' own errors) and judged
//! separately ([`validate_instructions`]): unknown and experimenter types,
//! duplicate types, `goto_table` targets, metadata bits the pipeline cannot
//! write, meter ids, and every embedded action. The wire order is kept;
//! the pipeline runs instructions in the specification's order (meter,
//! apply-actions, clear-actions, write-actions, write-metadata, goto-table)
//! whatever order they arrived in, which is why a type may appear only once.

use crate::action::{decode_actions, encode_actions, validate_actions, Action};
use crate::codec::{DecodeError, Reader, Writer};
use crate::error::{BadInstructionCode, ErrorKind, MeterModFailedCode};
use crate::meter_mod::{OFPM_CONTROLLER, OFPM_MAX, OFPM_SLOWPATH};

/// `OFPIT_GOTO_TABLE`.
pub const OFPIT_GOTO_TABLE: u16 = 1;
/// `OFPIT_WRITE_METADATA`.
pub const OFPIT_WRITE_METADATA: u16 = 2;
/// `OFPIT_WRITE_ACTIONS`.
pub const OFPIT_WRITE_ACTIONS: u16 = 3;
/// `OFPIT_APPLY_ACTIONS`.
pub const OFPIT_APPLY_ACTIONS: u16 = 4;
/// `OFPIT_CLEAR_ACTIONS`.
pub const OFPIT_CLEAR_ACTIONS: u16 = 5;
/// `OFPIT_METER`.
pub const OFPIT_METER: u16 = 6;
/// `OFPIT_EXPERIMENTER`.
pub const OFPIT_EXPERIMENTER: u16 = 0xffff;

/// `OFPBIC_DUP_INST`: an instruction type appears more than once.
///
/// OpenFlow 1.3.5 allows each instruction type once per flow entry but its
/// `ofp_bad_instruction_code` stops at `OFPBIC_EPERM` (8); this is the code
/// OpenFlow 1.4 gave the error (9), so a repeat is reported precisely
/// rather than as a generic length or type problem.
pub const OFPBIC_DUP_INST: BadInstructionCode = BadInstructionCode(9);

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `OFPIT_GOTO_TABLE`: continue in a later table.
    GotoTable(u8),
    /// `OFPIT_WRITE_METADATA`: `metadata = (metadata & !mask) | (value & mask)`.
    WriteMetadata {
        /// Value to write.
        metadata: u64,
        /// Bits to write.
        mask: u64,
    },
    /// `OFPIT_WRITE_ACTIONS`: merge into the action set.
    WriteActions(Vec<Action>),
    /// `OFPIT_APPLY_ACTIONS`: run now, in order.
    ApplyActions(Vec<Action>),
    /// `OFPIT_CLEAR_ACTIONS`: empty the action set.
    ClearActions,
    /// `OFPIT_METER`: apply a meter first.
    Meter(u32),
    /// `OFPIT_EXPERIMENTER`: carried verbatim.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Bytes after the experimenter id.
        data: Vec<u8>,
    },
    /// An instruction type OpenFlow 1.3 does not define, carried verbatim.
    Unknown {
        /// The `type` field.
        instruction_type: u16,
        /// Bytes after the 4-byte header.
        body: Vec<u8>,
    },
}

fn bad_len(what: &'static str) -> DecodeError {
    DecodeError::of(BadInstructionCode::OFPBIC_BAD_LEN, what)
}

impl Instruction {
    /// The wire `type`.
    #[must_use]
    pub fn instruction_type(&self) -> u16 {
        match self {
            Instruction::GotoTable(_) => OFPIT_GOTO_TABLE,
            Instruction::WriteMetadata { .. } => OFPIT_WRITE_METADATA,
            Instruction::WriteActions(_) => OFPIT_WRITE_ACTIONS,
            Instruction::ApplyActions(_) => OFPIT_APPLY_ACTIONS,
            Instruction::ClearActions => OFPIT_CLEAR_ACTIONS,
            Instruction::Meter(_) => OFPIT_METER,
            Instruction::Experimenter { .. } => OFPIT_EXPERIMENTER,
            Instruction::Unknown {
                instruction_type, ..
            } => *instruction_type,
        }
    }

    /// Encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        match self {
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                8 + crate::action::actions_len(a)
            }
            Instruction::Experimenter { data, .. } => 8 + data.len(),
            Instruction::Unknown { body, .. } => 4 + body.len(),
            Instruction::GotoTable(_) | Instruction::ClearActions | Instruction::Meter(_) => 8,
        }
    }

    /// Decodes one instruction from `r`.
    ///
    /// # Errors
    /// `OFPBIC_BAD_LEN` for a length that is not a positive multiple of 8,
    /// runs past the list, or is not the size of a fixed-size instruction;
    /// an embedded action's decoding error.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = r
            .peek_u16_at(0)
            .ok_or(bad_len("instruction: truncated header"))?;
        let len = usize::from(
            r.peek_u16_at(2)
                .ok_or(bad_len("instruction: truncated header"))?,
        );
        if len < 8 || !len.is_multiple_of(8) {
            return Err(bad_len("instruction: length not a positive multiple of 8"));
        }
        let mut b = r
            .sub(len)
            .ok_or(bad_len("instruction: length past the end of the list"))?;
        let _ = b.skip_padding(4);
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(bad_len("instruction: wrong length for its type"))
            }
        };
        // Reads below stay within `b` once `fixed` has passed.
        Ok(match ty {
            OFPIT_GOTO_TABLE => {
                fixed(8)?;
                Instruction::GotoTable(b.u8().unwrap_or(0))
            }
            OFPIT_WRITE_METADATA => {
                fixed(24)?;
                let _ = b.skip_padding(4);
                Instruction::WriteMetadata {
                    metadata: b.u64().unwrap_or(0),
                    mask: b.u64().unwrap_or(0),
                }
            }
            OFPIT_WRITE_ACTIONS | OFPIT_APPLY_ACTIONS => {
                let _ = b.skip_padding(4);
                let acts = decode_actions(&mut b)?;
                if ty == OFPIT_WRITE_ACTIONS {
                    Instruction::WriteActions(acts)
                } else {
                    Instruction::ApplyActions(acts)
                }
            }
            OFPIT_CLEAR_ACTIONS => fixed(8).map(|()| Instruction::ClearActions)?,
            OFPIT_METER => {
                fixed(8)?;
                Instruction::Meter(b.u32().unwrap_or(0))
            }
            OFPIT_EXPERIMENTER => Instruction::Experimenter {
                experimenter: b.u32().unwrap_or(0),
                data: b.rest().to_vec(),
            },
            _ => Instruction::Unknown {
                instruction_type: ty,
                body: b.rest().to_vec(),
            },
        })
    }

    /// Appends the instruction.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(2);
        w.put_u16(self.instruction_type());
        w.put_u16(0);
        match self {
            Instruction::GotoTable(t) => {
                w.put_u8(*t);
                w.put_zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                w.put_zeros(4);
                w.put_u64(*metadata);
                w.put_u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                w.put_zeros(4);
                encode_actions(a, w);
            }
            Instruction::ClearActions => w.put_zeros(4),
            Instruction::Meter(m) => w.put_u32(*m),
            Instruction::Experimenter { experimenter, data } => {
                w.put_u32(*experimenter);
                w.put_bytes(data);
            }
            Instruction::Unknown { body, .. } => w.put_bytes(body),
        }
        w.finish_len(mark);
    }

    /// The actions of an apply-actions or write-actions instruction.
    #[must_use]
    pub fn actions(&self) -> Option<&[Action]> {
        match self {
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => Some(a),
            _ => None,
        }
    }
}

/// Decodes a list of instructions filling all of `r`.
///
/// # Errors
/// The first instruction's decoding error.
pub fn decode_instructions(r: &mut Reader<'_>) -> Result<Vec<Instruction>, DecodeError> {
    let mut out = Vec::with_capacity((r.remaining() / 8).clamp(1, 4));
    while !r.is_empty() {
        out.push(Instruction::decode(r)?);
    }
    Ok(out)
}

/// Appends every instruction of `insts`.
pub fn encode_instructions(insts: &[Instruction], w: &mut Writer) {
    for i in insts {
        i.encode(w);
    }
}

/// Encoded length of a list of instructions.
#[must_use]
pub fn instructions_len(insts: &[Instruction]) -> usize {
    insts.iter().map(Instruction::encoded_len).sum()
}

/// What the pipeline supports, for [`validate_instructions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstructionLimits {
    /// The table the flow entry goes into (`goto_table` must go further).
    pub table_id: u8,
    /// Number of tables (`goto_table` must stay below it).
    pub n_tables: u8,
    /// Metadata bits `write_metadata` may write.
    pub metadata_write: u64,
}

impl InstructionLimits {
    /// Limits for table `table_id` of a pipeline of `n_tables` tables that
    /// writes every metadata bit.
    #[must_use]
    pub const fn new(table_id: u8, n_tables: u8) -> Self {
        Self {
            table_id,
            n_tables,
            metadata_write: u64::MAX,
        }
    }
}

/// Checks a flow entry's instructions (§7.2.4) and their actions.
///
/// # Errors
/// In the order found: `OFPBIC_UNKNOWN_INST` (a type 1.3 does not define),
/// `OFPBIC_BAD_EXPERIMENTER` (no experimenter instructions are
/// supported), `OFPBIC_DUP_INST` (a type repeated), `OFPBIC_BAD_TABLE_ID`
/// (`goto_table` not to a later existing table),
/// `OFPBIC_UNSUP_METADATA` / `OFPBIC_UNSUP_METADATA_MASK` (bits the
/// pipeline cannot write), `OFPMMFC_INVALID_METER` (meter id 0, or
/// beyond `OFPM_MAX` other than the slow-path and controller meters), and
/// any action's error from [`Action::validate`].
pub fn validate_instructions(
    insts: &[Instruction],
    limits: &InstructionLimits,
) -> Result<(), ErrorKind> {
    let mut seen = 0u8;
    for i in insts {
        let bit = match i {
            Instruction::Unknown { .. } => {
                return Err(BadInstructionCode::OFPBIC_UNKNOWN_INST.into())
            }
            Instruction::Experimenter { .. } => {
                return Err(BadInstructionCode::OFPBIC_BAD_EXPERIMENTER.into())
            }
            Instruction::GotoTable(_) => 1,
            Instruction::WriteMetadata { .. } => 2,
            Instruction::WriteActions(_) => 4,
            Instruction::ApplyActions(_) => 8,
            Instruction::ClearActions => 16,
            Instruction::Meter(_) => 32,
        };
        if seen & bit != 0 {
            return Err(OFPBIC_DUP_INST.into());
        }
        seen |= bit;
        match i {
            Instruction::GotoTable(t) if *t <= limits.table_id || *t >= limits.n_tables => {
                return Err(BadInstructionCode::OFPBIC_BAD_TABLE_ID.into())
            }
            Instruction::WriteMetadata { metadata, mask } => {
                if metadata & !limits.metadata_write != 0 {
                    return Err(BadInstructionCode::OFPBIC_UNSUP_METADATA.into());
                }
                if mask & !limits.metadata_write != 0 {
                    return Err(BadInstructionCode::OFPBIC_UNSUP_METADATA_MASK.into());
                }
            }
            Instruction::Meter(m)
                if *m == 0 || (*m > OFPM_MAX && !matches!(*m, OFPM_SLOWPATH | OFPM_CONTROLLER)) =>
            {
                return Err(MeterModFailedCode::OFPMMFC_INVALID_METER.into())
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                validate_actions(a, false)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Strategies for property tests of messages that carry instructions.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use crate::action::strategies::{arb_action, arb_valid_action};
    use proptest::prelude::*;

    /// Any instruction (possibly invalid, always well-formed on the wire).
    pub fn arb_instruction() -> impl Strategy<Value = Instruction> {
        prop_oneof![
            any::<u8>().prop_map(Instruction::GotoTable),
            (any::<u64>(), any::<u64>())
                .prop_map(|(metadata, mask)| Instruction::WriteMetadata { metadata, mask }),
            proptest::collection::vec(arb_action(), 0..4).prop_map(Instruction::WriteActions),
            proptest::collection::vec(arb_action(), 0..4).prop_map(Instruction::ApplyActions),
            Just(Instruction::ClearActions),
            any::<u32>().prop_map(Instruction::Meter),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..2)).prop_map(
                |(experimenter, words)| Instruction::Experimenter {
                    experimenter,
                    data: words.iter().flat_map(|b| [*b; 8]).collect(),
                }
            ),
            (7u16..0xffff, proptest::collection::vec(any::<u8>(), 0..2)).prop_map(
                |(instruction_type, words)| {
                    let mut body = vec![0u8; 4];
                    body.extend(words.iter().flat_map(|b| [*b; 8]));
                    Instruction::Unknown {
                        instruction_type,
                        body,
                    }
                }
            ),
        ]
    }

    /// Up to 6 instructions (any types, repeats allowed).
    pub fn arb_instructions() -> impl Strategy<Value = Vec<Instruction>> {
        proptest::collection::vec(arb_instruction(), 0..6)
    }

    /// Instructions that pass [`validate_instructions`] for table 0 of 8.
    pub fn arb_valid_instructions() -> impl Strategy<Value = Vec<Instruction>> {
        (
            proptest::option::of(1u8..8),
            proptest::option::of((any::<u64>(), any::<u64>())),
            proptest::option::of(proptest::collection::vec(arb_valid_action(), 0..4)),
            proptest::option::of(proptest::collection::vec(arb_valid_action(), 0..4)),
            any::<bool>(),
            proptest::option::of(1..=OFPM_MAX),
        )
            .prop_map(|(goto, md, wa, aa, clear, meter)| {
                let mut v = Vec::new();
                if let Some(m) = meter {
                    v.push(Instruction::Meter(m));
                }
                if let Some(a) = aa {
                    v.push(Instruction::ApplyActions(a));
                }
                if clear {
                    v.push(Instruction::ClearActions);
                }
                if let Some(a) = wa {
                    v.push(Instruction::WriteActions(a));
                }
                if let Some((metadata, mask)) = md {
                    v.push(Instruction::WriteMetadata { metadata, mask });
                }
                if let Some(t) = goto {
                    v.push(Instruction::GotoTable(t));
                }
                v
            })
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::error::BadActionCode;
    use crate::meter_mod::OFPM_ALL;
    use proptest::prelude::*;

    fn enc(insts: &[Instruction]) -> Vec<u8> {
        let mut w = Writer::new();
        encode_instructions(insts, &mut w);
        w.into_inner()
    }

    fn dec(b: &[u8]) -> Result<Vec<Instruction>, DecodeError> {
        decode_instructions(&mut Reader::new(b))
    }

    fn bic(c: BadInstructionCode) -> ErrorKind {
        c.into()
    }

    const LIM: InstructionLimits = InstructionLimits::new(0, 8);

    #[test]
    fn encodes_each_instruction_with_its_spec_layout() {
        assert_eq!(enc(&[Instruction::GotoTable(3)]), [0, 1, 0, 8, 3, 0, 0, 0]);
        assert_eq!(
            enc(&[Instruction::WriteMetadata {
                metadata: 1,
                mask: 0xff
            }]),
            [0, 2, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff]
        );
        assert_eq!(
            enc(&[Instruction::ApplyActions(vec![Action::PopVlan])]),
            [0, 4, 0, 16, 0, 0, 0, 0, 0, 18, 0, 8, 0, 0, 0, 0]
        );
        assert_eq!(enc(&[Instruction::ClearActions]), [0, 5, 0, 8, 0, 0, 0, 0]);
        assert_eq!(enc(&[Instruction::Meter(9)]), [0, 6, 0, 8, 0, 0, 0, 9]);
    }

    #[test]
    fn wire_order_is_preserved() {
        let insts = vec![
            Instruction::GotoTable(2),
            Instruction::ApplyActions(vec![]),
            Instruction::Meter(1),
        ];
        assert_eq!(dec(&enc(&insts)).unwrap(), insts);
    }

    #[test]
    fn rejects_bad_lengths_with_bad_len() {
        for b in [
            &[0, 1, 0, 4, 0, 0, 0, 0][..],
            &[0, 1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 2, 0, 8, 0, 0, 0, 0][..],
            &[0, 5, 0, 16, 0, 0, 0, 0, 0, 18, 0, 8, 0, 0, 0, 0][..],
            &[0, 4, 0, 24, 0, 0, 0, 0][..],
            &[0, 4, 0][..],
        ] {
            assert_eq!(
                dec(b).unwrap_err().kind(),
                bic(BadInstructionCode::OFPBIC_BAD_LEN),
                "{b:?}"
            );
        }
    }

    #[test]
    fn embedded_action_errors_are_action_errors() {
        let b = [0, 4, 0, 16, 0, 0, 0, 0, 0, 18, 0, 16, 0, 0, 0, 0];
        assert_eq!(
            dec(&b).unwrap_err().kind(),
            BadActionCode::OFPBAC_BAD_LEN.into()
        );
    }

    #[test]
    fn rejects_unknown_instruction_with_unknown_inst() {
        let b = [0, 7, 0, 8, 0, 0, 0, 0];
        let i = dec(&b).unwrap();
        assert_eq!(enc(&i), b);
        assert_eq!(
            validate_instructions(&i, &LIM),
            Err(bic(BadInstructionCode::OFPBIC_UNKNOWN_INST))
        );
    }

    #[test]
    fn rejects_experimenter_instruction_with_bad_experimenter() {
        let b = [0xff, 0xff, 0, 8, 0, 0, 0x23, 0x20];
        let i = dec(&b).unwrap();
        assert_eq!(enc(&i), b);
        assert_eq!(
            validate_instructions(&i, &LIM),
            Err(bic(BadInstructionCode::OFPBIC_BAD_EXPERIMENTER))
        );
    }

    #[test]
    fn rejects_repeated_instruction_type_with_dup_inst() {
        let i = [
            Instruction::ApplyActions(vec![]),
            Instruction::ApplyActions(vec![]),
        ];
        assert_eq!(validate_instructions(&i, &LIM), Err(OFPBIC_DUP_INST.into()));
        assert_eq!(ErrorKind::from(OFPBIC_DUP_INST).to_wire(), (3, 9));
    }

    #[test]
    fn rejects_goto_backwards_or_past_the_last_table_with_bad_table_id() {
        let lim = InstructionLimits::new(3, 8);
        for t in [0, 3, 8, 255] {
            assert_eq!(
                validate_instructions(&[Instruction::GotoTable(t)], &lim),
                Err(bic(BadInstructionCode::OFPBIC_BAD_TABLE_ID)),
                "{t}"
            );
        }
        assert!(validate_instructions(&[Instruction::GotoTable(4)], &lim).is_ok());
        assert!(validate_instructions(&[Instruction::GotoTable(7)], &lim).is_ok());
    }

    #[test]
    fn rejects_unwritable_metadata_with_unsup_metadata_codes() {
        let lim = InstructionLimits {
            metadata_write: 0xffff,
            ..LIM
        };
        let i = [Instruction::WriteMetadata {
            metadata: 0x1_0000,
            mask: 0xffff,
        }];
        assert_eq!(
            validate_instructions(&i, &lim),
            Err(bic(BadInstructionCode::OFPBIC_UNSUP_METADATA))
        );
        let i = [Instruction::WriteMetadata {
            metadata: 1,
            mask: 0x1_ffff,
        }];
        assert_eq!(
            validate_instructions(&i, &lim),
            Err(bic(BadInstructionCode::OFPBIC_UNSUP_METADATA_MASK))
        );
    }

    #[test]
    fn rejects_reserved_meter_ids_with_invalid_meter() {
        for m in [0, OFPM_MAX + 1, OFPM_ALL] {
            assert_eq!(
                validate_instructions(&[Instruction::Meter(m)], &LIM),
                Err(MeterModFailedCode::OFPMMFC_INVALID_METER.into())
            );
        }
        for m in [1, OFPM_MAX, OFPM_CONTROLLER, OFPM_SLOWPATH] {
            assert!(validate_instructions(&[Instruction::Meter(m)], &LIM).is_ok());
        }
    }

    #[test]
    fn embedded_actions_are_validated() {
        let i = [Instruction::WriteActions(vec![Action::PushVlan(0x0800)])];
        assert_eq!(
            validate_instructions(&i, &LIM),
            Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into())
        );
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(insts in arb_instructions()) {
            let b = enc(&insts);
            prop_assert_eq!(b.len(), instructions_len(&insts));
            prop_assert_eq!(dec(&b).unwrap(), insts);
        }

        #[test]
        fn encode_inverts_decode_on_canonical_bytes(insts in arb_instructions()) {
            let b = enc(&insts);
            prop_assert_eq!(enc(&dec(&b).unwrap()), b);
        }

        #[test]
        fn valid_instructions_validate(insts in arb_valid_instructions()) {
            prop_assert_eq!(validate_instructions(&insts, &LIM), Ok(()));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(i) = dec(&b) {
                let _ = validate_instructions(&i, &LIM);
                prop_assert_eq!(enc(&i).len(), b.len());
            }
        }
    }
}
