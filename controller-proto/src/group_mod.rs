//! OFPT_GROUP_MOD (§7.3.4.3) and the `ofp_bucket` it shares with the
//! GROUP_DESC multipart reply.
//!
//! Buckets are length-prefixed and decoded from a sub-reader of exactly
//! their length, so a bucket's actions can never run into the next bucket.
//! Structural errors in a bucket are `OFPGMFC_BAD_BUCKET`, as Open vSwitch
//! reports them; [`GroupMod::validate`] adds the checks that need no switch
//! state (type, command, group id, bucket count and weights, watches).

use crate::action::{
    actions_len, decode_actions, encode_actions, validate_actions, Action, OFPG_ALL, OFPG_ANY,
    OFPG_MAX,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::error::{ofp_number, ErrorKind, GroupModFailedCode};
use crate::port::OFPP_ANY;

/// Bytes of a bucket before its actions.
pub const BUCKET_FIXED_LEN: usize = 16;
/// Bytes of the GROUP_MOD body before the buckets.
pub const GROUP_MOD_FIXED_LEN: usize = 8;

ofp_number! {
    /// `ofp_group_mod_command`.
    pub struct GroupModCommand(u16) {
        OFPGC_ADD = 0,
        OFPGC_MODIFY = 1,
        OFPGC_DELETE = 2,
    }
}

ofp_number! {
    /// `ofp_group_type`.
    pub struct GroupType(u8) {
        OFPGT_ALL = 0,
        OFPGT_SELECT = 1,
        OFPGT_INDIRECT = 2,
        OFPGT_FF = 3,
    }
}

/// `ofp_bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Relative weight (select groups only).
    pub weight: u16,
    /// Port whose liveness gates the bucket (fast failover), or `OFPP_ANY`.
    pub watch_port: u32,
    /// Group whose liveness gates the bucket (fast failover), or `OFPG_ANY`.
    pub watch_group: u32,
    /// The bucket's actions.
    pub actions: Vec<Action>,
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            weight: 0,
            watch_port: OFPP_ANY,
            watch_group: OFPG_ANY,
            actions: Vec::new(),
        }
    }
}

fn bad_bucket(what: &'static str) -> DecodeError {
    DecodeError::of(GroupModFailedCode::OFPGMFC_BAD_BUCKET, what)
}

impl Bucket {
    /// Decodes one bucket from `r`.
    ///
    /// # Errors
    /// `OFPGMFC_BAD_BUCKET` for a length shorter than the fixed part, not a
    /// multiple of 8, or past the end; the actions' decoding errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(
            r.peek_u16_at(0)
                .ok_or(bad_bucket("bucket: truncated header"))?,
        );
        if len < BUCKET_FIXED_LEN || !len.is_multiple_of(8) {
            return Err(bad_bucket("bucket: bad length"));
        }
        let mut b = r
            .sub(len)
            .ok_or(bad_bucket("bucket: length past the end of the list"))?;
        let _ = b.skip_padding(2);
        // At least BUCKET_FIXED_LEN bytes: the reads below succeed.
        let weight = b.u16().unwrap_or(0);
        let watch_port = b.u32().unwrap_or(0);
        let watch_group = b.u32().unwrap_or(0);
        let _ = b.skip_padding(4);
        let actions = decode_actions(&mut b)?;
        Ok(Self {
            weight,
            watch_port,
            watch_group,
            actions,
        })
    }

    /// Encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        BUCKET_FIXED_LEN + actions_len(&self.actions)
    }

    /// Appends the bucket.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_u16(self.weight);
        w.put_u32(self.watch_port);
        w.put_u32(self.watch_group);
        w.put_zeros(4);
        encode_actions(&self.actions, w);
        w.finish_len(mark);
    }
}

/// Decodes buckets filling all of `r`.
///
/// # Errors
/// The first bucket's error.
pub fn decode_buckets(r: &mut Reader<'_>) -> Result<Vec<Bucket>, DecodeError> {
    let mut out = Vec::with_capacity((r.remaining() / 32).clamp(1, 16));
    while !r.is_empty() {
        out.push(Bucket::decode(r)?);
    }
    Ok(out)
}

/// Appends every bucket.
pub fn encode_buckets(buckets: &[Bucket], w: &mut Writer) {
    for b in buckets {
        b.encode(w);
    }
}

/// Encoded length of a list of buckets.
#[must_use]
pub fn buckets_len(buckets: &[Bucket]) -> usize {
    buckets.iter().map(Bucket::encoded_len).sum()
}

/// OFPT_GROUP_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupMod {
    /// What to do.
    pub command: GroupModCommand,
    /// The group's type.
    pub group_type: GroupType,
    /// The group.
    pub group_id: u32,
    /// The buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// Decodes the body from `r`, consuming all of it.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part; the buckets' errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let short = || DecodeError::bad_len("group_mod: truncated");
        let command = GroupModCommand(r.u16().ok_or_else(short)?);
        let group_type = GroupType(r.u8().ok_or_else(short)?);
        r.skip_padding(1).ok_or_else(short)?;
        let group_id = r.u32().ok_or_else(short)?;
        let buckets = decode_buckets(r)?;
        Ok(Self {
            command,
            group_type,
            group_id,
            buckets,
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
        GROUP_MOD_FIXED_LEN + buckets_len(&self.buckets)
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.reserve(self.body_len());
        w.put_u16(self.command.0);
        w.put_u8(self.group_type.0);
        w.put_u8(0);
        w.put_u32(self.group_id);
        encode_buckets(&self.buckets, w);
    }

    /// Checks what needs no switch state.
    ///
    /// # Errors
    /// `OFPGMFC_BAD_COMMAND` (unknown command), `OFPGMFC_INVALID_GROUP`
    /// (a reserved group id, `OFPG_ALL` outside a delete, buckets in a
    /// delete, an indirect group without exactly one bucket),
    /// `OFPGMFC_BAD_TYPE` (unknown type), `OFPGMFC_BAD_BUCKET` (a weight in
    /// a group that is not select), `OFPGMFC_BAD_WATCH` (a fast-failover
    /// bucket that watches nothing), and the buckets' action errors.
    pub fn validate(&self) -> Result<(), ErrorKind> {
        let invalid = || Err(GroupModFailedCode::OFPGMFC_INVALID_GROUP.into());
        if !self.command.is_known() {
            return Err(GroupModFailedCode::OFPGMFC_BAD_COMMAND.into());
        }
        if self.command == GroupModCommand::OFPGC_DELETE {
            if self.group_id > OFPG_MAX && self.group_id != OFPG_ALL {
                return invalid();
            }
            return if self.buckets.is_empty() {
                Ok(())
            } else {
                invalid()
            };
        }
        if self.group_id > OFPG_MAX {
            return invalid();
        }
        if !self.group_type.is_known() {
            return Err(GroupModFailedCode::OFPGMFC_BAD_TYPE.into());
        }
        if self.group_type == GroupType::OFPGT_INDIRECT && self.buckets.len() != 1 {
            return invalid();
        }
        for b in &self.buckets {
            if b.weight != 0 && self.group_type != GroupType::OFPGT_SELECT {
                return Err(GroupModFailedCode::OFPGMFC_BAD_BUCKET.into());
            }
            if self.group_type == GroupType::OFPGT_FF
                && b.watch_port == OFPP_ANY
                && b.watch_group == OFPG_ANY
            {
                return Err(GroupModFailedCode::OFPGMFC_BAD_WATCH.into());
            }
            validate_actions(&b.actions, false)?;
        }
        Ok(())
    }
}

/// Strategies for property tests.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use crate::action::strategies::arb_action;
    use proptest::prelude::*;

    /// Any bucket.
    pub fn arb_bucket() -> impl Strategy<Value = Bucket> {
        (
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_action(), 0..4),
        )
            .prop_map(|(weight, watch_port, watch_group, actions)| Bucket {
                weight,
                watch_port,
                watch_group,
                actions,
            })
    }

    /// Up to 4 buckets.
    pub fn arb_buckets() -> impl Strategy<Value = Vec<Bucket>> {
        proptest::collection::vec(arb_bucket(), 0..4)
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::codec::testutil::{check_golden, message};
    use proptest::prelude::*;

    fn enc(m: &GroupMod) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_inner()
    }

    fn gm(group_type: GroupType, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod {
            command: GroupModCommand::OFPGC_ADD,
            group_type,
            group_id: 1,
            buckets,
        }
    }

    fn out(port: u32) -> Bucket {
        Bucket {
            actions: vec![Action::Output { port, max_len: 0 }],
            ..Bucket::default()
        }
    }

    #[test]
    fn bucket_layout_is_sixteen_bytes_then_actions() {
        let m = gm(GroupType::OFPGT_ALL, vec![out(3)]);
        let b = enc(&m);
        assert_eq!(&b[..8], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&b[8..12], &[0, 32, 0, 0]);
        assert_eq!(&b[12..20], &[0xff; 8]);
        assert_eq!(b.len(), 8 + 32);
        assert_eq!(GroupMod::decode_body(&b).unwrap(), m);
    }

    #[test]
    fn rejects_bucket_lengths_that_do_not_fit_with_bad_bucket() {
        let m = gm(GroupType::OFPGT_ALL, vec![out(3)]);
        let good = enc(&m);
        for (at, v) in [(9usize, 8u8), (9, 33), (9, 48)] {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(
                GroupMod::decode_body(&b).unwrap_err().kind(),
                GroupModFailedCode::OFPGMFC_BAD_BUCKET.into(),
                "{v}"
            );
        }
        assert_eq!(
            GroupMod::decode_body(&good[..9]).unwrap_err().kind(),
            GroupModFailedCode::OFPGMFC_BAD_BUCKET.into()
        );
        assert_eq!(
            GroupMod::decode_body(&good[..7]).unwrap_err().kind(),
            ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn rejects_unknown_type_with_bad_type() {
        assert_eq!(
            gm(GroupType(4), vec![]).validate(),
            Err(GroupModFailedCode::OFPGMFC_BAD_TYPE.into())
        );
    }

    #[test]
    fn rejects_unknown_command_with_bad_command() {
        let m = GroupMod {
            command: GroupModCommand(3),
            ..gm(GroupType::OFPGT_ALL, vec![])
        };
        assert_eq!(
            m.validate(),
            Err(GroupModFailedCode::OFPGMFC_BAD_COMMAND.into())
        );
    }

    #[test]
    fn rejects_indirect_without_one_bucket_with_invalid_group() {
        let invalid = Err(GroupModFailedCode::OFPGMFC_INVALID_GROUP.into());
        assert_eq!(gm(GroupType::OFPGT_INDIRECT, vec![]).validate(), invalid);
        assert_eq!(
            gm(GroupType::OFPGT_INDIRECT, vec![out(1), out(2)]).validate(),
            invalid
        );
        assert!(gm(GroupType::OFPGT_INDIRECT, vec![out(1)])
            .validate()
            .is_ok());
    }

    #[test]
    fn rejects_reserved_group_ids_with_invalid_group() {
        let m = GroupMod {
            group_id: OFPG_ALL,
            ..gm(GroupType::OFPGT_ALL, vec![])
        };
        assert_eq!(
            m.validate(),
            Err(GroupModFailedCode::OFPGMFC_INVALID_GROUP.into())
        );
        let del = GroupMod {
            command: GroupModCommand::OFPGC_DELETE,
            ..m
        };
        assert!(del.validate().is_ok());
        let del_with_buckets = GroupMod {
            buckets: vec![out(1)],
            ..del
        };
        assert_eq!(
            del_with_buckets.validate(),
            Err(GroupModFailedCode::OFPGMFC_INVALID_GROUP.into())
        );
    }

    #[test]
    fn rejects_weight_outside_select_with_bad_bucket() {
        let b = Bucket {
            weight: 5,
            ..out(1)
        };
        assert_eq!(
            gm(GroupType::OFPGT_ALL, vec![b.clone()]).validate(),
            Err(GroupModFailedCode::OFPGMFC_BAD_BUCKET.into())
        );
        assert!(gm(GroupType::OFPGT_SELECT, vec![b]).validate().is_ok());
    }

    #[test]
    fn rejects_fast_failover_bucket_without_watch_with_bad_watch() {
        assert_eq!(
            gm(GroupType::OFPGT_FF, vec![out(1)]).validate(),
            Err(GroupModFailedCode::OFPGMFC_BAD_WATCH.into())
        );
        let watched = Bucket {
            watch_port: 1,
            ..out(1)
        };
        assert!(gm(GroupType::OFPGT_FF, vec![watched]).validate().is_ok());
    }

    #[test]
    fn bucket_actions_are_validated() {
        let b = Bucket {
            actions: vec![Action::Output {
                port: 0,
                max_len: 0,
            }],
            ..Bucket::default()
        };
        assert_eq!(
            gm(GroupType::OFPGT_ALL, vec![b]).validate(),
            Err(crate::error::BadActionCode::OFPBAC_BAD_OUT_PORT.into())
        );
    }

    #[test]
    fn golden_group_mod_select_with_two_weighted_buckets() {
        let m = GroupMod {
            command: GroupModCommand::OFPGC_ADD,
            group_type: GroupType::OFPGT_SELECT,
            group_id: 7,
            buckets: vec![
                Bucket {
                    weight: 3,
                    ..out(1)
                },
                Bucket {
                    weight: 1,
                    actions: vec![
                        Action::SetField(crate::oxm::OxmField::exact(
                            datapath::flow::Field::Ipv4Dst,
                            0x0a00_0002,
                        )),
                        Action::Output {
                            port: 2,
                            max_len: 0,
                        },
                    ],
                    ..Bucket::default()
                },
            ],
        };
        let b = message(15, 0x40, |w| m.encode(w));
        check_golden("group_mod_select", &b);
        assert_eq!(GroupMod::decode_body(&b[8..]).unwrap(), m);
    }

    #[test]
    fn golden_group_mod_fast_failover_with_watches() {
        let m = GroupMod {
            command: GroupModCommand::OFPGC_MODIFY,
            group_type: GroupType::OFPGT_FF,
            group_id: 8,
            buckets: vec![
                Bucket {
                    watch_port: 1,
                    ..out(1)
                },
                Bucket {
                    watch_group: 7,
                    actions: vec![Action::Group(7)],
                    ..Bucket::default()
                },
            ],
        };
        let b = message(15, 0x41, |w| m.encode(w));
        check_golden("group_mod_fast_failover", &b);
        assert_eq!(GroupMod::decode_body(&b[8..]).unwrap(), m);
    }

    #[test]
    fn golden_group_mod_delete_all() {
        let m = GroupMod {
            command: GroupModCommand::OFPGC_DELETE,
            group_type: GroupType::OFPGT_ALL,
            group_id: OFPG_ALL,
            buckets: vec![],
        };
        let b = message(15, 0x42, |w| m.encode(w));
        check_golden("group_mod_delete_all", &b);
        assert_eq!(GroupMod::decode_body(&b[8..]).unwrap(), m);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(command: u16, ty: u8, group_id: u32, buckets in arb_buckets()) {
            let m = GroupMod { command: GroupModCommand(command), group_type: GroupType(ty), group_id, buckets };
            let b = enc(&m);
            prop_assert_eq!(b.len(), m.body_len());
            let d = GroupMod::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &m);
            prop_assert_eq!(enc(&d), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(m) = GroupMod::decode_body(&b) {
                let _ = m.validate();
            }
        }

        #[test]
        fn damaged_encodings_never_panic_the_decoder_or_the_checks(
            ty: u8, buckets in arb_buckets(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let m = GroupMod { command: GroupModCommand::OFPGC_ADD, group_type: GroupType(ty), group_id: 1, buckets };
            let mut b = enc(&m);
            for (at, x) in &flips {
                let i = at.index(b.len());
                b[i] ^= x;
            }
            b.truncate(cut.index(b.len() + 1));
            if let Ok(d) = GroupMod::decode_body(&b) {
                let _ = crate::convert::group_mod_from_wire(&d);
                prop_assert_eq!(d.body_len(), b.len());
            }
        }
    }
}
