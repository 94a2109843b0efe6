//! Tables on the wire: OFPT_TABLE_MOD (§7.3.3), the TABLE statistics body
//! (§7.3.5.5) and TABLE_FEATURES with every property type (§7.3.5.18).
//!
//! Table features are the largest structures OpenFlow has (a full reply
//! from a 255-table switch runs to hundreds of kilobytes, which is why it is
//! split over several multipart messages). Each `ofp_table_features` is a
//! length-prefixed record holding a list of TLV properties, each padded to
//! 8 bytes with a length that excludes the padding. Decoding cuts a
//! sub-reader per record and per property so no property can read into its
//! neighbour, and lists are built by pushing elements as they are read —
//! never pre-sized from a count on the wire.
//!
//! The id lists inside properties are kept at the wire's level of detail
//! (type + raw extra bytes for instructions and actions, OXM headers for
//! fields) so that experimenter entries and unusual but legal lengths
//! survive a round trip.

use crate::codec::{pad8, DecodeError, Reader, Writer};
use crate::error::{ofp_number, TableFeaturesFailedCode};
use crate::header::{expect_end, FixedStr, OrBadLen};

/// `OFPTT_MAX`: the last usable table number.
pub const OFPTT_MAX: u8 = 0xfe;
/// `OFPTT_ALL`: wildcard table in requests and TABLE_MOD.
pub const OFPTT_ALL: u8 = 0xff;

/// `OFPTC_DEPRECATED_MASK`: the only `config` bits 1.3 defines (all
/// deprecated).
pub const OFPTC_DEPRECATED_MASK: u32 = 3;

/// `OFP_MAX_TABLE_NAME_LEN`.
pub const OFP_MAX_TABLE_NAME_LEN: usize = 32;

/// Body length of OFPT_TABLE_MOD.
pub const TABLE_MOD_BODY_LEN: usize = 8;
/// Length of `ofp_table_stats`.
pub const TABLE_STATS_LEN: usize = 24;
/// Length of the fixed part of `ofp_table_features`.
pub const TABLE_FEATURES_LEN: usize = 64;

/// OFPT_TABLE_MOD.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TableMod {
    /// Table to configure, or `OFPTT_ALL`.
    pub table_id: u8,
    /// `OFPTC_*` bits.
    pub config: u32,
}

impl TableMod {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table_id = r.u8().or_bad_len("table mod: truncated")?;
        r.skip_padding(3).or_bad_len("table mod: truncated")?;
        let config = r.u32().or_bad_len("table mod: truncated")?;
        Ok(Self { table_id, config })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u8(self.table_id);
        w.put_zeros(3);
        w.put_u32(self.config);
    }
}

/// `ofp_table_stats`: one table's counters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TableStats {
    /// Table number.
    pub table_id: u8,
    /// Number of active entries.
    pub active_count: u32,
    /// Packets looked up in the table.
    pub lookup_count: u64,
    /// Packets that hit an entry.
    pub matched_count: u64,
}

impl TableStats {
    /// Decodes one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table_id = r.u8().or_bad_len("table stats: truncated")?;
        r.skip_padding(3).or_bad_len("table stats: truncated")?;
        Ok(Self {
            table_id,
            active_count: r.u32().or_bad_len("table stats: truncated")?,
            lookup_count: r.u64().or_bad_len("table stats: truncated")?,
            matched_count: r.u64().or_bad_len("table stats: truncated")?,
        })
    }

    /// Appends one entry.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u8(self.table_id);
        w.put_zeros(3);
        w.put_u32(self.active_count);
        w.put_u64(self.lookup_count);
        w.put_u64(self.matched_count);
    }
}

ofp_number! {
    /// `ofp_table_feature_prop_type`.
    pub struct TableFeaturePropType(u16) {
        OFPTFPT_INSTRUCTIONS = 0,
        OFPTFPT_INSTRUCTIONS_MISS = 1,
        OFPTFPT_NEXT_TABLES = 2,
        OFPTFPT_NEXT_TABLES_MISS = 3,
        OFPTFPT_WRITE_ACTIONS = 4,
        OFPTFPT_WRITE_ACTIONS_MISS = 5,
        OFPTFPT_APPLY_ACTIONS = 6,
        OFPTFPT_APPLY_ACTIONS_MISS = 7,
        OFPTFPT_MATCH = 8,
        OFPTFPT_WILDCARDS = 10,
        OFPTFPT_WRITE_SETFIELD = 12,
        OFPTFPT_WRITE_SETFIELD_MISS = 13,
        OFPTFPT_APPLY_SETFIELD = 14,
        OFPTFPT_APPLY_SETFIELD_MISS = 15,
        OFPTFPT_EXPERIMENTER = 0xfffe,
        OFPTFPT_EXPERIMENTER_MISS = 0xffff,
    }
}

/// An instruction or action id in a table-features list: the
/// type, and whatever follows the 4-byte type/length header (empty for
/// standard ids, the experimenter ID and more for experimenter ones).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TypeLenId {
    /// `OFPIT_*` or `OFPAT_*` value.
    pub ty: u16,
    /// Bytes after the header; the id's length is `4 + extra.len()`.
    pub extra: Vec<u8>,
}

impl TypeLenId {
    /// A standard 4-byte id.
    pub fn new(ty: u16) -> Self {
        Self {
            ty,
            extra: Vec::new(),
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = r.u16().or_bad_len("table features: id header")?;
        let len = usize::from(r.u16().or_bad_len("table features: id header")?);
        let extra_len = len.checked_sub(4).ok_or(DecodeError::of(
            TableFeaturesFailedCode::OFPTFFC_BAD_LEN,
            "table features: id shorter than its header",
        ))?;
        let extra = r
            .take(extra_len)
            .or_bad_len("table features: id overruns")?
            .to_vec();
        Ok(Self { ty, extra })
    }

    fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(2);
        w.put_u16(self.ty);
        w.put_u16(0);
        w.put_bytes(&self.extra);
        let _ = w.finish_len(mark);
    }
}

/// An OXM id in a table-features list: the 32-bit OXM header, followed
/// for the experimenter class (0xffff) by the experimenter ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TableOxmId {
    /// The OXM header (class, field, hasmask, length).
    pub header: u32,
    /// Present exactly when the class is `OFPXMC_EXPERIMENTER`.
    pub experimenter: Option<u32>,
}

impl TableOxmId {
    /// The OXM class of experimenter fields.
    pub const EXPERIMENTER_CLASS: u16 = 0xffff;

    /// A basic-class id from its header.
    pub fn new(header: u32) -> Self {
        Self {
            header,
            experimenter: None,
        }
    }

    fn is_experimenter_header(header: u32) -> bool {
        header >> 16 == u32::from(Self::EXPERIMENTER_CLASS)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let header = r.u32().or_bad_len("table features: oxm id")?;
        let experimenter = if Self::is_experimenter_header(header) {
            Some(r.u32().or_bad_len("table features: oxm experimenter id")?)
        } else {
            None
        };
        Ok(Self {
            header,
            experimenter,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.put_u32(self.header);
        if Self::is_experimenter_header(self.header) {
            w.put_u32(self.experimenter.unwrap_or(0));
        }
    }
}

/// One table-features property.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum TableFeatureProp {
    /// `OFPTFPT_INSTRUCTIONS` / `_MISS`: instructions the table supports.
    Instructions {
        /// True for the table-miss variant.
        miss: bool,
        /// Supported instructions.
        ids: Vec<TypeLenId>,
    },
    /// `OFPTFPT_NEXT_TABLES` / `_MISS`: tables reachable by goto-table.
    NextTables {
        /// True for the table-miss variant.
        miss: bool,
        /// Table numbers.
        tables: Vec<u8>,
    },
    /// `OFPTFPT_WRITE_ACTIONS` / `_MISS`.
    WriteActions {
        /// True for the table-miss variant.
        miss: bool,
        /// Supported actions.
        ids: Vec<TypeLenId>,
    },
    /// `OFPTFPT_APPLY_ACTIONS` / `_MISS`.
    ApplyActions {
        /// True for the table-miss variant.
        miss: bool,
        /// Supported actions.
        ids: Vec<TypeLenId>,
    },
    /// `OFPTFPT_MATCH`: fields the table can match on.
    Match(Vec<TableOxmId>),
    /// `OFPTFPT_WILDCARDS`: fields that may be wildcarded.
    Wildcards(Vec<TableOxmId>),
    /// `OFPTFPT_WRITE_SETFIELD` / `_MISS`.
    WriteSetfield {
        /// True for the table-miss variant.
        miss: bool,
        /// Settable fields.
        ids: Vec<TableOxmId>,
    },
    /// `OFPTFPT_APPLY_SETFIELD` / `_MISS`.
    ApplySetfield {
        /// True for the table-miss variant.
        miss: bool,
        /// Settable fields.
        ids: Vec<TableOxmId>,
    },
    /// `OFPTFPT_EXPERIMENTER` / `_MISS`.
    Experimenter {
        /// True for the table-miss variant.
        miss: bool,
        /// Experimenter ID.
        experimenter: u32,
        /// Experimenter-defined type.
        exp_type: u32,
        /// Experimenter-defined data.
        data: Vec<u8>,
    },
}

impl TableFeatureProp {
    /// The property's wire type.
    pub fn prop_type(&self) -> TableFeaturePropType {
        use TableFeaturePropType as T;
        let pick = |miss: bool, hit: T, on_miss: T| if miss { on_miss } else { hit };
        match self {
            Self::Instructions { miss, .. } => {
                pick(*miss, T::OFPTFPT_INSTRUCTIONS, T::OFPTFPT_INSTRUCTIONS_MISS)
            }
            Self::NextTables { miss, .. } => {
                pick(*miss, T::OFPTFPT_NEXT_TABLES, T::OFPTFPT_NEXT_TABLES_MISS)
            }
            Self::WriteActions { miss, .. } => pick(
                *miss,
                T::OFPTFPT_WRITE_ACTIONS,
                T::OFPTFPT_WRITE_ACTIONS_MISS,
            ),
            Self::ApplyActions { miss, .. } => pick(
                *miss,
                T::OFPTFPT_APPLY_ACTIONS,
                T::OFPTFPT_APPLY_ACTIONS_MISS,
            ),
            Self::Match(_) => T::OFPTFPT_MATCH,
            Self::Wildcards(_) => T::OFPTFPT_WILDCARDS,
            Self::WriteSetfield { miss, .. } => pick(
                *miss,
                T::OFPTFPT_WRITE_SETFIELD,
                T::OFPTFPT_WRITE_SETFIELD_MISS,
            ),
            Self::ApplySetfield { miss, .. } => pick(
                *miss,
                T::OFPTFPT_APPLY_SETFIELD,
                T::OFPTFPT_APPLY_SETFIELD_MISS,
            ),
            Self::Experimenter { miss, .. } => {
                pick(*miss, T::OFPTFPT_EXPERIMENTER, T::OFPTFPT_EXPERIMENTER_MISS)
            }
        }
    }

    /// Decodes one property, padding included.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use TableFeaturePropType as T;
        let ty = T(r.u16().or_bad_len("table features: property header")?);
        let len = usize::from(r.u16().or_bad_len("table features: property header")?);
        let body_len = len.checked_sub(4).ok_or(DecodeError::of(
            TableFeaturesFailedCode::OFPTFFC_BAD_LEN,
            "table features: property shorter than its header",
        ))?;
        let mut b = r
            .sub(body_len)
            .or_bad_len("table features: property overruns")?;
        r.skip_padding(pad8(len) - len)
            .or_bad_len("table features: property padding")?;
        let miss = ty.0 & 1 == 1;
        let prop = match ty {
            T::OFPTFPT_INSTRUCTIONS | T::OFPTFPT_INSTRUCTIONS_MISS => Self::Instructions {
                miss,
                ids: type_len_ids(&mut b)?,
            },
            T::OFPTFPT_NEXT_TABLES | T::OFPTFPT_NEXT_TABLES_MISS => Self::NextTables {
                miss,
                tables: b.rest().to_vec(),
            },
            T::OFPTFPT_WRITE_ACTIONS | T::OFPTFPT_WRITE_ACTIONS_MISS => Self::WriteActions {
                miss,
                ids: type_len_ids(&mut b)?,
            },
            T::OFPTFPT_APPLY_ACTIONS | T::OFPTFPT_APPLY_ACTIONS_MISS => Self::ApplyActions {
                miss,
                ids: type_len_ids(&mut b)?,
            },
            T::OFPTFPT_MATCH => Self::Match(oxm_ids(&mut b)?),
            T::OFPTFPT_WILDCARDS => Self::Wildcards(oxm_ids(&mut b)?),
            T::OFPTFPT_WRITE_SETFIELD | T::OFPTFPT_WRITE_SETFIELD_MISS => Self::WriteSetfield {
                miss,
                ids: oxm_ids(&mut b)?,
            },
            T::OFPTFPT_APPLY_SETFIELD | T::OFPTFPT_APPLY_SETFIELD_MISS => Self::ApplySetfield {
                miss,
                ids: oxm_ids(&mut b)?,
            },
            T::OFPTFPT_EXPERIMENTER | T::OFPTFPT_EXPERIMENTER_MISS => Self::Experimenter {
                miss,
                experimenter: b.u32().or_bad_len("table features: experimenter")?,
                exp_type: b.u32().or_bad_len("table features: experimenter")?,
                data: b.rest().to_vec(),
            },
            _ => {
                return Err(DecodeError::of(
                    TableFeaturesFailedCode::OFPTFFC_BAD_TYPE,
                    "table features: unknown property type",
                ))
            }
        };
        Ok(prop)
    }

    /// Appends the property, padding included.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(2);
        w.put_u16(self.prop_type().0);
        w.put_u16(0);
        match self {
            Self::Instructions { ids, .. }
            | Self::WriteActions { ids, .. }
            | Self::ApplyActions { ids, .. } => ids.iter().for_each(|id| id.encode(w)),
            Self::NextTables { tables, .. } => w.put_bytes(tables),
            Self::Match(ids)
            | Self::Wildcards(ids)
            | Self::WriteSetfield { ids, .. }
            | Self::ApplySetfield { ids, .. } => ids.iter().for_each(|id| id.encode(w)),
            Self::Experimenter {
                experimenter,
                exp_type,
                data,
                ..
            } => {
                w.put_u32(*experimenter);
                w.put_u32(*exp_type);
                w.put_bytes(data);
            }
        }
        let _ = w.finish_len(mark);
        w.pad_from(start, 8);
    }
}

fn type_len_ids(b: &mut Reader<'_>) -> Result<Vec<TypeLenId>, DecodeError> {
    let mut ids = Vec::new();
    while !b.is_empty() {
        ids.push(TypeLenId::decode(b)?);
    }
    Ok(ids)
}

fn oxm_ids(b: &mut Reader<'_>) -> Result<Vec<TableOxmId>, DecodeError> {
    let mut ids = Vec::new();
    while !b.is_empty() {
        ids.push(TableOxmId::decode(b)?);
    }
    Ok(ids)
}

/// `ofp_table_features`: one table's capabilities (in a reply) or desired
/// configuration (in a request).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct TableFeatures {
    /// Table number.
    pub table_id: u8,
    /// Table name.
    pub name: FixedStr<OFP_MAX_TABLE_NAME_LEN>,
    /// Metadata bits the table can match.
    pub metadata_match: u64,
    /// Metadata bits the table can write.
    pub metadata_write: u64,
    /// `OFPTC_*` bits.
    pub config: u32,
    /// Maximum number of entries supported.
    pub max_entries: u32,
    /// Properties in wire order.
    pub properties: Vec<TableFeatureProp>,
}

impl TableFeatures {
    /// Decodes one record.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.peek_u16_at(0).or_bad_len("table features: truncated")?);
        if len < TABLE_FEATURES_LEN {
            return Err(DecodeError::of(
                TableFeaturesFailedCode::OFPTFFC_BAD_LEN,
                "table features: length below 64",
            ));
        }
        let mut b = r.sub(len).or_bad_len("table features: record overruns")?;
        let _ = b.u16();
        let table_id = b.u8().or_bad_len("table features: truncated")?;
        b.skip_padding(5).or_bad_len("table features: truncated")?;
        let name = FixedStr::read(&mut b).or_bad_len("table features: truncated")?;
        let metadata_match = b.u64().or_bad_len("table features: truncated")?;
        let metadata_write = b.u64().or_bad_len("table features: truncated")?;
        let config = b.u32().or_bad_len("table features: truncated")?;
        let max_entries = b.u32().or_bad_len("table features: truncated")?;
        let mut properties = Vec::new();
        while !b.is_empty() {
            properties.push(TableFeatureProp::decode(&mut b)?);
        }
        expect_end(&b, "table features: trailing bytes")?;
        Ok(Self {
            table_id,
            name,
            metadata_match,
            metadata_write,
            config,
            max_entries,
            properties,
        })
    }

    /// Appends one record.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_u8(self.table_id);
        w.put_zeros(5);
        self.name.write(w);
        w.put_u64(self.metadata_match);
        w.put_u64(self.metadata_write);
        w.put_u32(self.config);
        w.put_u32(self.max_entries);
        for p in &self.properties {
            p.encode(w);
        }
        let _ = w.finish_len(mark);
    }

    /// Encoded length of this record.
    pub fn encoded_len(&self) -> usize {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::port::tests::arb_name;
    use proptest::prelude::*;

    pub(crate) fn arb_table_mod() -> impl Strategy<Value = TableMod> {
        (any::<u8>(), any::<u32>()).prop_map(|(table_id, config)| TableMod { table_id, config })
    }

    pub(crate) fn arb_table_stats() -> impl Strategy<Value = TableStats> {
        (any::<u8>(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
            |(table_id, active_count, lookup_count, matched_count)| TableStats {
                table_id,
                active_count,
                lookup_count,
                matched_count,
            },
        )
    }

    fn arb_type_len_id() -> impl Strategy<Value = TypeLenId> {
        prop_oneof![
            (0u16..30).prop_map(TypeLenId::new),
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(ty, extra)| TypeLenId { ty, extra }),
        ]
    }

    fn arb_oxm_id() -> impl Strategy<Value = TableOxmId> {
        prop_oneof![
            (0u32..0xffff_0000).prop_map(TableOxmId::new),
            (any::<u16>(), any::<u32>()).prop_map(|(low, e)| TableOxmId {
                header: 0xffff_0000 | u32::from(low),
                experimenter: Some(e)
            }),
        ]
    }

    fn arb_prop() -> impl Strategy<Value = TableFeatureProp> {
        let ids = || proptest::collection::vec(arb_type_len_id(), 0..4);
        let oxms = || proptest::collection::vec(arb_oxm_id(), 0..4);
        prop_oneof![
            (any::<bool>(), ids())
                .prop_map(|(miss, ids)| TableFeatureProp::Instructions { miss, ids }),
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..10))
                .prop_map(|(miss, tables)| TableFeatureProp::NextTables { miss, tables }),
            (any::<bool>(), ids())
                .prop_map(|(miss, ids)| TableFeatureProp::WriteActions { miss, ids }),
            (any::<bool>(), ids())
                .prop_map(|(miss, ids)| TableFeatureProp::ApplyActions { miss, ids }),
            oxms().prop_map(TableFeatureProp::Match),
            oxms().prop_map(TableFeatureProp::Wildcards),
            (any::<bool>(), oxms())
                .prop_map(|(miss, ids)| TableFeatureProp::WriteSetfield { miss, ids }),
            (any::<bool>(), oxms())
                .prop_map(|(miss, ids)| TableFeatureProp::ApplySetfield { miss, ids }),
            (
                any::<bool>(),
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..9)
            )
                .prop_map(|(miss, experimenter, exp_type, data)| {
                    TableFeatureProp::Experimenter {
                        miss,
                        experimenter,
                        exp_type,
                        data,
                    }
                }),
        ]
    }

    pub(crate) fn arb_table_features() -> impl Strategy<Value = TableFeatures> {
        (
            any::<u8>(),
            arb_name(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_prop(), 0..5),
        )
            .prop_map(
                |(
                    table_id,
                    name,
                    metadata_match,
                    metadata_write,
                    config,
                    max_entries,
                    properties,
                )| {
                    TableFeatures {
                        table_id,
                        name,
                        metadata_match,
                        metadata_write,
                        config,
                        max_entries,
                        properties,
                    }
                },
            )
    }

    #[test]
    fn property_lengths_exclude_padding() {
        let p = TableFeatureProp::NextTables {
            miss: true,
            tables: vec![1, 2, 3],
        };
        let mut w = Writer::new();
        p.encode(&mut w);
        assert_eq!(w.as_slice(), &[0, 3, 0, 7, 1, 2, 3, 0]);
    }

    #[test]
    fn experimenter_oxm_ids_carry_their_experimenter() {
        let p = TableFeatureProp::Match(vec![
            TableOxmId::new(0x8000_0004),
            TableOxmId {
                header: 0xffff_0108,
                experimenter: Some(0x4f4e_4600),
            },
        ]);
        let mut w = Writer::new();
        p.encode(&mut w);
        assert_eq!(
            w.as_slice(),
            &[0, 8, 0, 16, 0x80, 0, 0, 4, 0xff, 0xff, 1, 8, 0x4f, 0x4e, 0x46, 0]
        );
    }

    #[test]
    fn rejects_unknown_property_type_with_bad_type() {
        let bytes = [0, 9, 0, 4, 0, 0, 0, 0];
        let e = TableFeatureProp::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (13, 2));
    }

    #[test]
    fn rejects_record_shorter_than_fixed_part() {
        let mut bytes = vec![0u8; 64];
        bytes[1] = 60;
        let e = TableFeatures::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (13, 3));
    }

    #[test]
    fn table_mod_and_stats_have_their_specified_sizes() {
        let mut w = Writer::new();
        TableMod {
            table_id: 1,
            config: 3,
        }
        .encode(&mut w);
        assert_eq!(w.len(), TABLE_MOD_BODY_LEN);
        let mut w = Writer::new();
        TableStats::default().encode(&mut w);
        assert_eq!(w.len(), TABLE_STATS_LEN);
        assert_eq!(TableFeatures::default().encoded_len(), TABLE_FEATURES_LEN);
    }

    proptest! {
        #[test]
        fn table_features_round_trip(t in arb_table_features()) {
            let mut w = Writer::new();
            t.encode(&mut w);
            prop_assert_eq!(w.len() % 8, 0);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(TableFeatures::decode(&mut r).unwrap(), t);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn table_mod_and_stats_round_trip(m in arb_table_mod(), s in arb_table_stats()) {
            let mut w = Writer::new();
            m.encode(&mut w);
            s.encode(&mut w);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(TableMod::decode(&mut r).unwrap(), m);
            prop_assert_eq!(TableStats::decode(&mut r).unwrap(), s);
        }
    }
}
