//! `ofp_match` and its OXM TLVs (OpenFlow 1.3.5 §7.2.3).
//!
//! # Design
//!
//! A match is kept exactly as the wire wrote it: an ordered list of
//! [`OxmField`]s, each with its identity, value and optional mask as bytes.
//! Nothing is reordered, merged or normalised, so `encode(decode(b)) == b`
//! for every canonical (zero-padded) input, and a controller's message can be
//! printed back as it was sent even when the switch will refuse it.
//!
//! Decoding is structural only: it fails when a length is inconsistent
//! (`OFPBMC_BAD_LEN`) or the match type is not `OFPMT_OXM`
//! (`OFPBMC_BAD_TYPE`). Everything else that can be wrong with a match (an
//! unknown field, a value outside the field, a mask on a field that takes
//! none, a duplicate, a missing prerequisite) is decided by
//! [`OfpMatch::validate`], which the switch runs before a match is used.
//!
//! Invariants of a decoded [`OxmField`]:
//! - [`OxmId::Basic`] holds only the 40 fields of `OFPXMC_OPENFLOW_BASIC`
//!   whose payload had exactly the length table 12 gives the field
//!   ([`wire_len`], twice that with a mask), so `value` is `wire_len` bytes
//!   and `mask`, when present, too;
//! - every other TLV (another class, an unknown basic field number, a basic
//!   field with the wrong length) is [`OxmId::Other`] or
//!   [`OxmId::Experimenter`] with its whole payload (after the experimenter
//!   id) in `value` and `mask == None`: it is carried, never interpreted.
//!
//! Values are bytes rather than integers because that is what survives a
//! round trip for every class; [`OxmField::basic`] reads a basic field as the
//! host-order `u128` that `datapath::flow::Field` uses. The byte vectors are
//! inline up to 16 bytes, so a basic field never allocates.

use datapath::flow::{self, Field};
use smallvec::SmallVec;

use crate::codec::{pad8, DecodeError, Reader, Writer};
use crate::error::{BadMatchCode, ErrorKind};

/// `OFPXMC_NXM_0`: Nicira's legacy class 0.
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// `OFPXMC_NXM_1`: Nicira's legacy class 1.
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// `OFPXMC_OPENFLOW_BASIC`: the fields of table 12.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// `OFPXMC_EXPERIMENTER`: the payload starts with an experimenter id.
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;

/// `OFPMT_STANDARD`: the deprecated fixed match of OpenFlow 1.1.
pub const OFPMT_STANDARD: u16 = 0;
/// `OFPMT_OXM`: the TLV match of OpenFlow 1.2 and later.
pub const OFPMT_OXM: u16 = 1;

/// `OFPVID_PRESENT`: the `vlan_vid` bit that says a tag is present.
pub const OFPVID_PRESENT: u16 = 0x1000;
/// `OFPVID_NONE`: `vlan_vid` of a packet without a tag.
pub const OFPVID_NONE: u16 = 0x0000;

/// Bytes of an OXM TLV header.
pub const OXM_HEADER_LEN: usize = 4;
/// Bytes of the `ofp_match` header (type and length).
pub const MATCH_HEADER_LEN: usize = 4;

/// Number of `OFPXMC_OPENFLOW_BASIC` fields OpenFlow 1.3 defines.
pub const BASIC_FIELDS: u8 = 40;

/// An OXM payload (value or mask): inline up to 16 bytes.
pub type OxmBytes = SmallVec<[u8; 16]>;

/// Bytes the value of basic field `f` takes on the wire (table 12).
///
/// Not always `bits / 8` rounded up: `IPV6_FLABEL` and `MPLS_LABEL` carry
/// 20 bits in 4 bytes. Extension fields beyond the basic class report the
/// bytes of their width.
#[must_use]
pub const fn wire_len(f: Field) -> usize {
    match f {
        Field::InPort | Field::InPhyPort => 4,
        Field::Metadata | Field::TunnelId => 8,
        Field::EthDst
        | Field::EthSrc
        | Field::ArpSha
        | Field::ArpTha
        | Field::Ipv6NdSll
        | Field::Ipv6NdTll => 6,
        Field::EthType
        | Field::VlanVid
        | Field::TcpSrc
        | Field::TcpDst
        | Field::UdpSrc
        | Field::UdpDst
        | Field::SctpSrc
        | Field::SctpDst
        | Field::ArpOp
        | Field::Ipv6Exthdr => 2,
        Field::VlanPcp
        | Field::IpDscp
        | Field::IpEcn
        | Field::IpProto
        | Field::Icmpv4Type
        | Field::Icmpv4Code
        | Field::Icmpv6Type
        | Field::Icmpv6Code
        | Field::MplsTc
        | Field::MplsBos => 1,
        Field::Ipv4Src
        | Field::Ipv4Dst
        | Field::ArpSpa
        | Field::ArpTpa
        | Field::Ipv6Flabel
        | Field::MplsLabel => 4,
        Field::Ipv6Src | Field::Ipv6Dst | Field::Ipv6NdTarget => 16,
        Field::PbbIsid => 3,
        // Extensions, not in the basic class.
        Field::TunIpv4Src | Field::TunIpv4Dst => 4,
        Field::TcpFlags => 2,
        Field::NwTtl | Field::NwFrag | Field::MplsTtl => 1,
    }
}

/// The specification's name of basic field `f` (`"OFPXMT_OFB_TCP_DST"`),
/// or `None` for an extension field.
#[must_use]
pub const fn field_name(f: Field) -> Option<&'static str> {
    Some(match f {
        Field::InPort => "OFPXMT_OFB_IN_PORT",
        Field::InPhyPort => "OFPXMT_OFB_IN_PHY_PORT",
        Field::Metadata => "OFPXMT_OFB_METADATA",
        Field::EthDst => "OFPXMT_OFB_ETH_DST",
        Field::EthSrc => "OFPXMT_OFB_ETH_SRC",
        Field::EthType => "OFPXMT_OFB_ETH_TYPE",
        Field::VlanVid => "OFPXMT_OFB_VLAN_VID",
        Field::VlanPcp => "OFPXMT_OFB_VLAN_PCP",
        Field::IpDscp => "OFPXMT_OFB_IP_DSCP",
        Field::IpEcn => "OFPXMT_OFB_IP_ECN",
        Field::IpProto => "OFPXMT_OFB_IP_PROTO",
        Field::Ipv4Src => "OFPXMT_OFB_IPV4_SRC",
        Field::Ipv4Dst => "OFPXMT_OFB_IPV4_DST",
        Field::TcpSrc => "OFPXMT_OFB_TCP_SRC",
        Field::TcpDst => "OFPXMT_OFB_TCP_DST",
        Field::UdpSrc => "OFPXMT_OFB_UDP_SRC",
        Field::UdpDst => "OFPXMT_OFB_UDP_DST",
        Field::SctpSrc => "OFPXMT_OFB_SCTP_SRC",
        Field::SctpDst => "OFPXMT_OFB_SCTP_DST",
        Field::Icmpv4Type => "OFPXMT_OFB_ICMPV4_TYPE",
        Field::Icmpv4Code => "OFPXMT_OFB_ICMPV4_CODE",
        Field::ArpOp => "OFPXMT_OFB_ARP_OP",
        Field::ArpSpa => "OFPXMT_OFB_ARP_SPA",
        Field::ArpTpa => "OFPXMT_OFB_ARP_TPA",
        Field::ArpSha => "OFPXMT_OFB_ARP_SHA",
        Field::ArpTha => "OFPXMT_OFB_ARP_THA",
        Field::Ipv6Src => "OFPXMT_OFB_IPV6_SRC",
        Field::Ipv6Dst => "OFPXMT_OFB_IPV6_DST",
        Field::Ipv6Flabel => "OFPXMT_OFB_IPV6_FLABEL",
        Field::Icmpv6Type => "OFPXMT_OFB_ICMPV6_TYPE",
        Field::Icmpv6Code => "OFPXMT_OFB_ICMPV6_CODE",
        Field::Ipv6NdTarget => "OFPXMT_OFB_IPV6_ND_TARGET",
        Field::Ipv6NdSll => "OFPXMT_OFB_IPV6_ND_SLL",
        Field::Ipv6NdTll => "OFPXMT_OFB_IPV6_ND_TLL",
        Field::MplsLabel => "OFPXMT_OFB_MPLS_LABEL",
        Field::MplsTc => "OFPXMT_OFB_MPLS_TC",
        Field::MplsBos => "OFPXMT_OFB_MPLS_BOS",
        Field::PbbIsid => "OFPXMT_OFB_PBB_ISID",
        Field::TunnelId => "OFPXMT_OFB_TUNNEL_ID",
        Field::Ipv6Exthdr => "OFPXMT_OFB_IPV6_EXTHDR",
        Field::TunIpv4Src
        | Field::TunIpv4Dst
        | Field::TcpFlags
        | Field::NwTtl
        | Field::NwFrag
        | Field::MplsTtl => return None,
    })
}

/// The basic field with OXM number `n`, if OpenFlow 1.3 defines one.
#[must_use]
pub fn basic_field(n: u8) -> Option<Field> {
    if n < BASIC_FIELDS {
        Field::from_number(n)
    } else {
        None
    }
}

/// Reads `b` (at most 16 bytes, big-endian) as an integer.
#[must_use]
pub fn bytes_to_u128(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |v, x| (v << 8) | u128::from(*x))
}

/// Writes the low `n` bytes (n ≤ 16) of `v`, big-endian.
#[must_use]
pub fn u128_to_bytes(v: u128, n: usize) -> OxmBytes {
    let all = v.to_be_bytes();
    OxmBytes::from_slice(all.get(16usize.saturating_sub(n)..).unwrap_or(&all))
}

/// Which TLV an [`OxmField`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OxmId {
    /// An `OFPXMC_OPENFLOW_BASIC` field of OpenFlow 1.3 whose payload had
    /// the field's length.
    Basic(Field),
    /// `OFPXMC_EXPERIMENTER`: `value` is the payload after the
    /// experimenter id, carried verbatim.
    Experimenter {
        /// The 7-bit `oxm_field`.
        field: u8,
        /// The `oxm_hasmask` bit as sent.
        hasmask: bool,
        /// The experimenter id.
        experimenter: u32,
    },
    /// Any other TLV (another class, a basic field number unknown to 1.3,
    /// a basic field of the wrong length): `value` is the whole payload,
    /// carried verbatim.
    Other {
        /// The `oxm_class`.
        class: u16,
        /// The 7-bit `oxm_field`.
        field: u8,
        /// The `oxm_hasmask` bit as sent.
        hasmask: bool,
    },
}

/// One OXM TLV.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OxmField {
    /// Which field.
    pub field: OxmId,
    /// The value bytes (for a basic field, exactly [`wire_len`] bytes).
    pub value: OxmBytes,
    /// The mask bytes of a basic field sent with `oxm_hasmask`.
    pub mask: Option<OxmBytes>,
}

impl OxmField {
    /// A basic field matched exactly (`value` limited to the wire bytes).
    #[must_use]
    pub fn exact(f: Field, value: u128) -> Self {
        Self {
            field: OxmId::Basic(f),
            value: u128_to_bytes(value, wire_len(f)),
            mask: None,
        }
    }

    /// A basic field matched under `mask` (sent with `oxm_hasmask`).
    #[must_use]
    pub fn masked(f: Field, value: u128, mask: u128) -> Self {
        Self {
            field: OxmId::Basic(f),
            value: u128_to_bytes(value, wire_len(f)),
            mask: Some(u128_to_bytes(mask, wire_len(f))),
        }
    }

    /// For a basic field: the field, its value and its mask (if sent) as
    /// host-order integers of the wire width.
    #[must_use]
    pub fn basic(&self) -> Option<(Field, u128, Option<u128>)> {
        match self.field {
            OxmId::Basic(f) => Some((
                f,
                bytes_to_u128(&self.value),
                self.mask.as_deref().map(bytes_to_u128),
            )),
            _ => None,
        }
    }

    /// The `(class, field, hasmask)` of the TLV header.
    #[must_use]
    pub fn header_parts(&self) -> (u16, u8, bool) {
        match self.field {
            OxmId::Basic(f) => (OFPXMC_OPENFLOW_BASIC, f.number(), self.mask.is_some()),
            OxmId::Experimenter { field, hasmask, .. } => (OFPXMC_EXPERIMENTER, field, hasmask),
            OxmId::Other {
                class,
                field,
                hasmask,
            } => (class, field, hasmask),
        }
    }

    /// Payload length (the `oxm_length` field).
    #[must_use]
    pub fn payload_len(&self) -> usize {
        let exp = match self.field {
            OxmId::Experimenter { .. } => 4,
            _ => 0,
        };
        exp + self.value.len() + self.mask.as_ref().map_or(0, SmallVec::len)
    }

    /// Encoded length, header included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        OXM_HEADER_LEN + self.payload_len()
    }

    /// Decodes one TLV from `r`.
    ///
    /// # Errors
    /// `OFPBMC_BAD_LEN` when the header or payload is truncated, or an
    /// experimenter TLV is too short for its experimenter id.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let class = r.u16().ok_or(bad_len("oxm: truncated header"))?;
        let fh = r.u8().ok_or(bad_len("oxm: truncated header"))?;
        let len = r.u8().ok_or(bad_len("oxm: truncated header"))?;
        let payload = r
            .take(usize::from(len))
            .ok_or(bad_len("oxm: payload past the end of the match"))?;
        let field = fh >> 1;
        let hasmask = fh & 1 != 0;
        match class {
            OFPXMC_OPENFLOW_BASIC => {
                if let Some(f) = basic_field(field) {
                    let w = wire_len(f);
                    if !hasmask && payload.len() == w {
                        return Ok(Self {
                            field: OxmId::Basic(f),
                            value: OxmBytes::from_slice(payload),
                            mask: None,
                        });
                    }
                    if hasmask && payload.len() == 2 * w {
                        let (v, m) = payload.split_at(w);
                        return Ok(Self {
                            field: OxmId::Basic(f),
                            value: OxmBytes::from_slice(v),
                            mask: Some(OxmBytes::from_slice(m)),
                        });
                    }
                }
                Ok(Self {
                    field: OxmId::Other {
                        class,
                        field,
                        hasmask,
                    },
                    value: OxmBytes::from_slice(payload),
                    mask: None,
                })
            }
            OFPXMC_EXPERIMENTER => {
                let (id, rest) = payload
                    .split_first_chunk::<4>()
                    .ok_or(bad_len("oxm: experimenter field without experimenter id"))?;
                Ok(Self {
                    field: OxmId::Experimenter {
                        field,
                        hasmask,
                        experimenter: u32::from_be_bytes(*id),
                    },
                    value: OxmBytes::from_slice(rest),
                    mask: None,
                })
            }
            _ => Ok(Self {
                field: OxmId::Other {
                    class,
                    field,
                    hasmask,
                },
                value: OxmBytes::from_slice(payload),
                mask: None,
            }),
        }
    }

    /// Appends the TLV.
    ///
    /// The payload must fit the 8-bit `oxm_length` (255 bytes); decoded and
    /// constructed fields always do.
    pub fn encode(&self, w: &mut Writer) {
        let (class, field, hasmask) = self.header_parts();
        w.put_u16(class);
        w.put_u8((field << 1) | u8::from(hasmask));
        w.put_u8(u8::try_from(self.payload_len()).unwrap_or(u8::MAX));
        if let OxmId::Experimenter { experimenter, .. } = self.field {
            w.put_u32(experimenter);
        }
        w.put_bytes(&self.value);
        if let Some(m) = &self.mask {
            w.put_bytes(m);
        }
    }
}

fn bad_len(what: &'static str) -> DecodeError {
    DecodeError::of(BadMatchCode::OFPBMC_BAD_LEN, what)
}

/// `ofp_match` of type `OFPMT_OXM`: the OXM TLVs in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OfpMatch {
    /// The TLVs, in the order they were sent.
    pub fields: Vec<OxmField>,
}

/// A match that passed [`OfpMatch::validate`]: the datapath match and the
/// basic fields the OpenFlow match named, in wire order.
///
/// The names matter beyond the key because storage is shared in the flow
/// key (a TCP port and an ICMP type live in the same bits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidMatch {
    /// The key/mask form.
    pub flow: flow::Match,
    /// The fields the match named.
    pub named: SmallVec<[Field; 16]>,
}

impl OfpMatch {
    /// The match that matches everything.
    #[must_use]
    pub fn catch_all() -> Self {
        Self::default()
    }

    /// Appends `f` and returns the match (a builder).
    #[must_use]
    pub fn with(mut self, f: OxmField) -> Self {
        self.fields.push(f);
        self
    }

    /// Appends an exact basic field and returns the match (a builder).
    #[must_use]
    pub fn exact(self, f: Field, value: u128) -> Self {
        self.with(OxmField::exact(f, value))
    }

    /// Appends a masked basic field and returns the match (a builder).
    #[must_use]
    pub fn masked(self, f: Field, value: u128, mask: u128) -> Self {
        self.with(OxmField::masked(f, value, mask))
    }

    /// The value of the `ofp_match.length` field (header + TLVs, no padding).
    #[must_use]
    pub fn unpadded_len(&self) -> usize {
        MATCH_HEADER_LEN + self.fields.iter().map(OxmField::encoded_len).sum::<usize>()
    }

    /// Bytes the match takes on the wire, padding included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        pad8(self.unpadded_len())
    }

    /// Decodes an `ofp_match` and its padding from `r`.
    ///
    /// # Errors
    /// `OFPBMC_BAD_TYPE` for a match type other than `OFPMT_OXM`;
    /// `OFPBMC_BAD_LEN` for a length shorter than the header, a match or
    /// its padding past the end of the input, or a truncated TLV.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = r.u16().ok_or(bad_len("match: truncated header"))?;
        let len = usize::from(r.u16().ok_or(bad_len("match: truncated header"))?);
        if ty != OFPMT_OXM {
            return Err(DecodeError::of(
                BadMatchCode::OFPBMC_BAD_TYPE,
                "match: type is not OFPMT_OXM",
            ));
        }
        let body_len = len
            .checked_sub(MATCH_HEADER_LEN)
            .ok_or(bad_len("match: length shorter than its header"))?;
        let mut body = r
            .sub(body_len)
            .ok_or(bad_len("match: length past the end of the message"))?;
        r.skip_padding(pad8(len) - len)
            .ok_or(bad_len("match: padding past the end of the message"))?;
        let mut fields = Vec::with_capacity((body_len / 4).min(48));
        while !body.is_empty() {
            fields.push(OxmField::decode(&mut body)?);
        }
        Ok(Self { fields })
    }

    /// Decodes an `ofp_match` occupying all of `b` (padding included).
    ///
    /// # Errors
    /// As [`decode`](Self::decode), and `OFPBMC_BAD_LEN` for bytes left over.
    pub fn decode_exact(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let m = Self::decode(&mut r)?;
        if r.is_empty() {
            Ok(m)
        } else {
            Err(bad_len("match: bytes after the padding"))
        }
    }

    /// Appends the match and its zero padding.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(2);
        w.put_u16(OFPMT_OXM);
        w.put_u16(0);
        for f in &self.fields {
            f.encode(w);
        }
        w.finish_len(mark);
        w.pad_from(start, 8);
    }

    /// The basic fields as `(field, value, mask)` with the mask all ones
    /// when none was sent; other TLVs are skipped.
    pub fn basic_fields(&self) -> impl Iterator<Item = (Field, u128, u128)> + '_ {
        self.fields.iter().filter_map(|f| {
            f.basic()
                .map(|(field, v, m)| (field, v, m.unwrap_or_else(|| wire_max(field))))
        })
    }

    /// The value and mask of basic field `f`, if the match names it.
    #[must_use]
    pub fn get(&self, f: Field) -> Option<(u128, u128)> {
        self.basic_fields()
            .find(|(g, _, _)| *g == f)
            .map(|(_, v, m)| (v, m))
    }

    /// Checks the match as §7.2.3 asks of a switch and returns its
    /// datapath form.
    ///
    /// The TLVs are checked in order, and for each: that it is a basic
    /// field of the right length (`OFPBMC_BAD_LEN`) that this switch knows
    /// (`OFPBMC_BAD_FIELD`; experimenter and other classes are not
    /// supported), that a mask is allowed (`OFPBMC_BAD_MASK`), that value
    /// and mask fit the field (`OFPBMC_BAD_VALUE`, `OFPBMC_BAD_MASK`), that
    /// the value has no bit set outside its mask (`OFPBMC_BAD_WILDCARDS`),
    /// and that it is not repeated (`OFPBMC_DUP_FIELD`). Then every named
    /// field's prerequisites must be met, in any order
    /// (`OFPBMC_BAD_PREREQ`).
    ///
    /// # Errors
    /// The first problem found, as an `OFPET_BAD_MATCH` error.
    pub fn validate(&self) -> Result<ValidMatch, ErrorKind> {
        let mut out = ValidMatch::default();
        let mut seen = 0u64;
        for f in &self.fields {
            let (field, value, mask) = match (f.field, f.basic()) {
                (OxmId::Basic(_), Some(b)) => b,
                (OxmId::Other { class, field, .. }, _)
                    if class == OFPXMC_OPENFLOW_BASIC && field < BASIC_FIELDS =>
                {
                    return Err(BadMatchCode::OFPBMC_BAD_LEN.into())
                }
                _ => return Err(BadMatchCode::OFPBMC_BAD_FIELD.into()),
            };
            if mask.is_some() && !field.maskable() {
                return Err(BadMatchCode::OFPBMC_BAD_MASK.into());
            }
            let max = field.max_value();
            let mask = mask.unwrap_or(max);
            if value & !max != 0 {
                return Err(BadMatchCode::OFPBMC_BAD_VALUE.into());
            }
            if mask & !max != 0 {
                return Err(BadMatchCode::OFPBMC_BAD_MASK.into());
            }
            if value & !mask != 0 {
                return Err(BadMatchCode::OFPBMC_BAD_WILDCARDS.into());
            }
            let bit = 1u64 << field.number();
            if seen & bit != 0 {
                return Err(BadMatchCode::OFPBMC_DUP_FIELD.into());
            }
            seen |= bit;
            out.flow.set_masked(field, value, mask);
            out.named.push(field);
        }
        if !flow::prerequisites_met(&out.named, &out.flow) {
            return Err(BadMatchCode::OFPBMC_BAD_PREREQ.into());
        }
        Ok(out)
    }
}

/// All ones over the wire bytes of basic field `f`.
fn wire_max(f: Field) -> u128 {
    let bits = 8 * wire_len(f);
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Strategies for property tests of everything that embeds a match.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// Any basic field of OpenFlow 1.3.
    pub fn arb_basic() -> impl Strategy<Value = Field> {
        (0..BASIC_FIELDS).prop_map(|n| basic_field(n).unwrap_or(Field::InPort))
    }

    /// A basic field with arbitrary bytes of the right length (possibly
    /// invalid values, possibly a mask on a non-maskable field).
    pub fn arb_basic_oxm() -> impl Strategy<Value = OxmField> {
        (
            arb_basic(),
            any::<u128>(),
            proptest::option::of(any::<u128>()),
        )
            .prop_map(|(f, v, m)| match m {
                Some(m) => OxmField::masked(f, v, m),
                None => OxmField::exact(f, v),
            })
    }

    /// A basic field that validates on its own (value within the field,
    /// value inside its mask, a mask only where allowed).
    pub fn arb_valid_basic_oxm(f: Field) -> impl Strategy<Value = OxmField> {
        (any::<u128>(), any::<u128>(), any::<bool>()).prop_map(move |(v, m, use_mask)| {
            let max = f.max_value();
            if use_mask && f.maskable() {
                let m = m & max;
                OxmField::masked(f, v & m, m)
            } else {
                OxmField::exact(f, v & max)
            }
        })
    }

    /// Any TLV: basic, experimenter, or of another class.
    pub fn arb_oxm() -> impl Strategy<Value = OxmField> {
        prop_oneof![
            4 => arb_basic_oxm(),
            1 => (0u8..128, any::<bool>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(field, hasmask, experimenter, v)| OxmField {
                    field: OxmId::Experimenter { field, hasmask, experimenter },
                    value: OxmBytes::from_vec(v),
                    mask: None,
                }),
            1 => (0u16..0x8000, 0u8..128, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(class, field, hasmask, v)| OxmField {
                    field: OxmId::Other { class, field, hasmask },
                    value: OxmBytes::from_vec(v),
                    mask: None,
                }),
        ]
    }

    /// Any match with up to 8 TLVs.
    pub fn arb_match() -> impl Strategy<Value = OfpMatch> {
        proptest::collection::vec(arb_oxm(), 0..8).prop_map(|fields| OfpMatch { fields })
    }

    /// A match that passes validation: eth_type first, then a few fields
    /// whose prerequisites that eth_type (and ip_proto) meet.
    pub fn arb_valid_match() -> impl Strategy<Value = OfpMatch> {
        let l2 = prop_oneof![
            Just(Vec::<Field>::new()),
            Just(vec![Field::InPort, Field::EthDst]),
            Just(vec![Field::EthSrc, Field::VlanVid, Field::Metadata]),
        ];
        let l3 = prop_oneof![
            Just(Vec::<(Field, u128)>::new()),
            Just(vec![(Field::EthType, 0x0800), (Field::IpProto, 6)]),
            Just(vec![(Field::EthType, 0x86dd), (Field::IpProto, 17)]),
            Just(vec![(Field::EthType, 0x0806)]),
        ];
        (l2, l3, any::<[u128; 4]>()).prop_map(|(l2, l3, vals)| {
            let mut m = OfpMatch::catch_all();
            for (i, f) in l2.iter().enumerate() {
                let v = vals.get(i).copied().unwrap_or(0);
                m = if *f == Field::VlanVid {
                    m.exact(*f, u128::from(OFPVID_PRESENT) | (v & 0xfff))
                } else {
                    m.exact(*f, v & f.max_value())
                };
            }
            let proto = l3.iter().find(|(f, _)| *f == Field::IpProto).map(|p| p.1);
            let eth = l3.first().map(|p| p.1);
            for (f, v) in &l3 {
                m = m.exact(*f, *v);
            }
            let v = vals.get(3).copied().unwrap_or(0);
            match (eth, proto) {
                (Some(0x0800), Some(6)) => m.exact(Field::TcpDst, v & 0xffff).masked(
                    Field::Ipv4Dst,
                    v & 0xffff_ff00,
                    0xffff_ff00,
                ),
                (Some(0x86dd), Some(17)) => m.exact(Field::UdpSrc, v & 0xffff),
                (Some(0x0806), _) => m
                    .exact(Field::ArpOp, 1)
                    .exact(Field::ArpTpa, v & 0xffff_ffff),
                _ => m,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use proptest::prelude::*;

    fn enc(m: &OfpMatch) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_inner()
    }

    fn code(m: &OfpMatch) -> Result<(), ErrorKind> {
        m.validate().map(|_| ())
    }

    #[test]
    fn encodes_the_specification_example_layout() {
        let m = OfpMatch::catch_all()
            .exact(Field::InPort, 1)
            .exact(Field::EthType, 0x0800);
        assert_eq!(
            enc(&m),
            [
                0, 1, 0, 18, // type, length
                0x80, 0, 0, 4, 0, 0, 0, 1, // in_port=1
                0x80, 0, 10, 2, 8, 0, // eth_type=0x0800
                0, 0, 0, 0, 0, 0, // padding
            ]
        );
        assert_eq!(m.encoded_len(), 24);
    }

    #[test]
    fn empty_match_is_eight_bytes() {
        assert_eq!(enc(&OfpMatch::catch_all()), [0, 1, 0, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn every_basic_field_has_the_table_12_width() {
        let cases: [(Field, usize); 6] = [
            (Field::VlanVid, 2),
            (Field::Ipv6Flabel, 4),
            (Field::PbbIsid, 3),
            (Field::Ipv6Exthdr, 2),
            (Field::MplsBos, 1),
            (Field::MplsLabel, 4),
        ];
        for (f, w) in cases {
            assert_eq!(wire_len(f), w, "{f:?}");
        }
        for n in 0..BASIC_FIELDS {
            let f = basic_field(n).unwrap();
            assert!(8 * wire_len(f) >= f.bits() as usize, "{f:?}");
            assert!(field_name(f).is_some());
        }
        assert_eq!(basic_field(40), None);
    }

    #[test]
    fn masked_field_sets_hasmask_and_doubles_length() {
        let m = OfpMatch::catch_all().masked(Field::Ipv4Src, 0x0a00_0000, 0xff00_0000);
        let b = enc(&m);
        assert_eq!(&b[4..8], &[0x80, 0, 0x17, 8]);
        assert_eq!(&b[8..16], &[10, 0, 0, 0, 0xff, 0, 0, 0]);
    }

    #[test]
    fn experimenter_and_unknown_classes_survive_a_round_trip() {
        let bytes = [
            0, 1, 0, 20, // match header
            0xff, 0xff, 0x0a, 6, 0, 0, 0x23, 0x20, 0xab, 0xcd, // experimenter
            0x00, 0x01, 0x02, 2, 0xbe, 0xef, // NXM_1 field 1
            0, 0, 0, 0, // padding
        ];
        let m = OfpMatch::decode_exact(&bytes).unwrap();
        assert_eq!(m.fields.len(), 2);
        assert!(matches!(
            m.fields[0].field,
            OxmId::Experimenter {
                field: 5,
                hasmask: false,
                experimenter: 0x2320
            }
        ));
        assert_eq!(enc(&m), bytes);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_FIELD.into()));
    }

    #[test]
    fn rejects_non_oxm_match_type_with_bad_type() {
        let bytes = [0, 0, 0, 88];
        let e = OfpMatch::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.kind(), BadMatchCode::OFPBMC_BAD_TYPE.into());
    }

    #[test]
    fn rejects_truncated_matches_with_bad_len() {
        let cases: [&[u8]; 6] = [
            &[0, 1],
            &[0, 1, 0, 3, 0, 0, 0, 0],
            &[0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0],
            &[0, 1, 0, 6, 0x80, 0],
            &[0, 1, 0, 6, 0x80, 0, 0, 0],
            &[0, 1, 0, 8, 0x80, 0, 0, 8, 0, 0, 0, 0],
        ];
        for b in cases {
            let e = OfpMatch::decode(&mut Reader::new(b)).unwrap_err();
            assert_eq!(e.kind(), BadMatchCode::OFPBMC_BAD_LEN.into(), "{b:?}");
        }
        let exp = [0, 1, 0, 10, 0xff, 0xff, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        let e = OfpMatch::decode_exact(&exp).unwrap_err();
        assert_eq!(e.kind(), BadMatchCode::OFPBMC_BAD_LEN.into());
    }

    #[test]
    fn rejects_basic_field_of_wrong_length_with_bad_len() {
        // in_port with 2 bytes of payload.
        let bytes = [0, 1, 0, 10, 0x80, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0];
        let m = OfpMatch::decode_exact(&bytes).unwrap();
        assert_eq!(enc(&m), bytes);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_LEN.into()));
    }

    #[test]
    fn rejects_unknown_basic_field_with_bad_field() {
        let bytes = [0, 1, 0, 9, 0x80, 0, 0xa0, 1, 7, 0, 0, 0, 0, 0, 0, 0];
        let m = OfpMatch::decode_exact(&bytes).unwrap();
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_FIELD.into()));
    }

    #[test]
    fn rejects_vlan_vid_above_13_bits_with_bad_value() {
        let m = OfpMatch::catch_all().exact(Field::VlanVid, 0x2000);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_VALUE.into()));
        let m = OfpMatch::catch_all().exact(Field::IpDscp, 64);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_VALUE.into()));
    }

    #[test]
    fn rejects_mask_on_non_maskable_field_with_bad_mask() {
        let m = OfpMatch::catch_all().masked(Field::EthType, 0x0800, 0xff00);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_MASK.into()));
        let m = OfpMatch::catch_all().masked(Field::VlanVid, 0x1000, 0x3000);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_MASK.into()));
    }

    #[test]
    fn rejects_value_bits_outside_mask_with_bad_wildcards() {
        let m = OfpMatch::catch_all().exact(Field::EthType, 0x0800).masked(
            Field::Ipv4Dst,
            0x0a00_0001,
            0xff00_0000,
        );
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_WILDCARDS.into()));
    }

    #[test]
    fn rejects_repeated_field_with_dup_field() {
        let m = OfpMatch::catch_all()
            .exact(Field::InPort, 1)
            .exact(Field::InPort, 2);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_DUP_FIELD.into()));
    }

    #[test]
    fn rejects_tcp_dst_without_ip_proto_with_bad_prereq() {
        let m = OfpMatch::catch_all()
            .exact(Field::EthType, 0x0800)
            .exact(Field::TcpDst, 80);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
        let ok = m.clone().exact(Field::IpProto, 6);
        assert!(ok.validate().is_ok());
        let wrong = m.exact(Field::IpProto, 17);
        assert_eq!(code(&wrong), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
    }

    #[test]
    fn rejects_arp_fields_without_arp_eth_type_with_bad_prereq() {
        let m = OfpMatch::catch_all().exact(Field::ArpOp, 1);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
        let m = OfpMatch::catch_all()
            .exact(Field::EthType, 0x0800)
            .exact(Field::ArpSpa, 1);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
    }

    #[test]
    fn rejects_vlan_pcp_without_a_present_vlan_with_bad_prereq() {
        let m = OfpMatch::catch_all().exact(Field::VlanPcp, 3);
        assert_eq!(code(&m), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
        let none = OfpMatch::catch_all()
            .exact(Field::VlanVid, u128::from(OFPVID_NONE))
            .exact(Field::VlanPcp, 3);
        assert_eq!(code(&none), Err(BadMatchCode::OFPBMC_BAD_PREREQ.into()));
        let any_tag = OfpMatch::catch_all()
            .masked(
                Field::VlanVid,
                u128::from(OFPVID_PRESENT),
                u128::from(OFPVID_PRESENT),
            )
            .exact(Field::VlanPcp, 3);
        assert!(any_tag.validate().is_ok());
    }

    #[test]
    fn prerequisites_may_follow_the_field_that_needs_them() {
        let m = OfpMatch::catch_all()
            .exact(Field::TcpDst, 443)
            .exact(Field::IpProto, 6)
            .exact(Field::EthType, 0x86dd);
        let v = m.validate().unwrap();
        assert_eq!(
            v.named.as_slice(),
            &[Field::TcpDst, Field::IpProto, Field::EthType]
        );
        assert_eq!(v.flow.get(Field::TcpDst), (443, 0xffff));
    }

    #[test]
    fn valid_match_carries_masked_values_into_the_flow_match() {
        let m = OfpMatch::catch_all()
            .exact(Field::EthType, 0x0800)
            .masked(Field::Ipv4Src, 0x0a00_0000, 0xff00_0000)
            .exact(Field::VlanVid, 0x1000 | 10);
        let v = m.validate().unwrap();
        assert_eq!(v.flow.key.ipv4_src, 0x0a00_0000);
        assert_eq!(v.flow.mask.key.ipv4_src, 0xff00_0000);
        assert_eq!(v.flow.key.vlan_tci, 0x1000 | 10);
        assert_eq!(m.get(Field::Ipv4Src), Some((0x0a00_0000, 0xff00_0000)));
        assert_eq!(m.get(Field::EthType), Some((0x0800, 0xffff)));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(m in arb_match()) {
            let b = enc(&m);
            prop_assert_eq!(b.len(), m.encoded_len());
            prop_assert_eq!(b.len() % 8, 0);
            let d = OfpMatch::decode_exact(&b).unwrap();
            prop_assert_eq!(&d, &m);
        }

        #[test]
        fn encode_inverts_decode_on_canonical_bytes(
            tlvs in proptest::collection::vec(
                (any::<u16>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..6)
        ) {
            let mut body = Vec::new();
            for (class, fh, payload) in &tlvs {
                let mut payload = payload.clone();
                if *class == OFPXMC_EXPERIMENTER && payload.len() < 4 {
                    payload.resize(4, 0);
                }
                body.extend_from_slice(&class.to_be_bytes());
                body.push(*fh);
                body.push(u8::try_from(payload.len()).unwrap());
                body.extend_from_slice(&payload);
            }
            let len = 4 + body.len();
            let mut b = vec![0, 1];
            b.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            b.extend_from_slice(&body);
            b.resize(pad8(len), 0);
            let d = OfpMatch::decode_exact(&b).unwrap();
            prop_assert_eq!(enc(&d), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = OfpMatch::decode(&mut Reader::new(&b)) {
                let _ = m.validate();
            }
        }

        #[test]
        fn any_in_range_field_without_prerequisites_validates_alone(
            f in arb_basic().prop_filter("no prerequisites", |f| f.prerequisites().is_empty())
                .prop_flat_map(arb_valid_basic_oxm)
        ) {
            let m = OfpMatch::catch_all().with(f);
            prop_assert!(m.validate().is_ok(), "{:?}", m);
        }

        #[test]
        fn generated_valid_matches_validate(m in arb_valid_match()) {
            let v = m.validate();
            prop_assert!(v.is_ok(), "{:?}: {:?}", m, v);
        }
    }
}
