//! The Nicira extension action that carries a masked set-field in OpenFlow
//! 1.3: `NXAST_REG_LOAD`, which writes an immediate value into a run of
//! bits of one field.
//!
//! OpenFlow 1.3's `OFPAT_SET_FIELD` forbids a mask, so Open vSwitch sends
//! `set_field:VALUE/MASK->FIELD` as one `NXAST_REG_LOAD` per contiguous run
//! of mask bits (runs longer than 64 bits are split, the immediate being 64
//! bits wide), and a set-field whose mask covers the whole field as a plain
//! `OFPAT_SET_FIELD`. This module holds the wire shape ([`RegLoad`]), the
//! field naming (an NXM header where Open vSwitch has one, the OXM basic
//! header otherwise) and the split of a masked write into loads
//! ([`reg_loads_for`]); `action.rs` decodes and validates it as one
//! [`crate::action::Action`] variant and `convert.rs` maps it to the
//! pipeline model's masked set-field.
//!
//! The destination header is kept as received so an action re-encodes to
//! its own bytes; a header that names no settable field is a validation
//! error, not a decoding one, so such a message still prints.

use datapath::flow::Field;

use crate::error::{BadActionCode, ErrorKind};
use crate::oxm::{wire_len, OFPXMC_NXM_0, OFPXMC_NXM_1, OFPXMC_OPENFLOW_BASIC};

/// The Nicira experimenter id (`NX_VENDOR_ID`).
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
/// `NXAST_REG_LOAD`: load an immediate into a bit range of a field.
pub const NXAST_REG_LOAD: u16 = 7;
/// Bytes of an `nx_action_reg_load`.
pub const REG_LOAD_LEN: usize = 24;

/// `nx_action_reg_load`: writes `value` into bits `ofs .. ofs + n_bits` of
/// the field whose NXM/OXM header is `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegLoad {
    /// `(ofs << 6) | (n_bits - 1)`.
    pub ofs_nbits: u16,
    /// The destination field's NXM or OXM header (no mask bit).
    pub dst: u32,
    /// The immediate, right-aligned.
    pub value: u64,
}

/// Fields that Open vSwitch names by an NXM header in a load, with that
/// header's class, field number and name. The other basic fields go by
/// their OXM header and an `OXM_OF_` name.
const NXM_NAMES: &[(Field, u16, u8, &str)] = &[
    (Field::EthDst, OFPXMC_NXM_0, 1, "NXM_OF_ETH_DST"),
    (Field::EthSrc, OFPXMC_NXM_0, 2, "NXM_OF_ETH_SRC"),
    (Field::EthType, OFPXMC_NXM_0, 3, "NXM_OF_ETH_TYPE"),
    (Field::IpProto, OFPXMC_NXM_0, 6, "NXM_OF_IP_PROTO"),
    (Field::Ipv4Src, OFPXMC_NXM_0, 7, "NXM_OF_IP_SRC"),
    (Field::Ipv4Dst, OFPXMC_NXM_0, 8, "NXM_OF_IP_DST"),
    (Field::TcpSrc, OFPXMC_NXM_0, 9, "NXM_OF_TCP_SRC"),
    (Field::TcpDst, OFPXMC_NXM_0, 10, "NXM_OF_TCP_DST"),
    (Field::UdpSrc, OFPXMC_NXM_0, 11, "NXM_OF_UDP_SRC"),
    (Field::UdpDst, OFPXMC_NXM_0, 12, "NXM_OF_UDP_DST"),
    (Field::Icmpv4Type, OFPXMC_NXM_0, 13, "NXM_OF_ICMP_TYPE"),
    (Field::Icmpv4Code, OFPXMC_NXM_0, 14, "NXM_OF_ICMP_CODE"),
    (Field::ArpOp, OFPXMC_NXM_0, 15, "NXM_OF_ARP_OP"),
    (Field::ArpSpa, OFPXMC_NXM_0, 16, "NXM_OF_ARP_SPA"),
    (Field::ArpTpa, OFPXMC_NXM_0, 17, "NXM_OF_ARP_TPA"),
    (Field::TunnelId, OFPXMC_NXM_1, 16, "NXM_NX_TUN_ID"),
    (Field::ArpSha, OFPXMC_NXM_1, 17, "NXM_NX_ARP_SHA"),
    (Field::ArpTha, OFPXMC_NXM_1, 18, "NXM_NX_ARP_THA"),
    (Field::Ipv6Src, OFPXMC_NXM_1, 19, "NXM_NX_IPV6_SRC"),
    (Field::Ipv6Dst, OFPXMC_NXM_1, 20, "NXM_NX_IPV6_DST"),
    (Field::Icmpv6Type, OFPXMC_NXM_1, 21, "NXM_NX_ICMPV6_TYPE"),
    (Field::Icmpv6Code, OFPXMC_NXM_1, 22, "NXM_NX_ICMPV6_CODE"),
    (Field::Ipv6NdTarget, OFPXMC_NXM_1, 23, "NXM_NX_ND_TARGET"),
    (Field::Ipv6NdSll, OFPXMC_NXM_1, 24, "NXM_NX_ND_SLL"),
    (Field::Ipv6NdTll, OFPXMC_NXM_1, 25, "NXM_NX_ND_TLL"),
    (Field::Ipv6Flabel, OFPXMC_NXM_1, 27, "NXM_NX_IPV6_LABEL"),
    (Field::IpEcn, OFPXMC_NXM_1, 28, "NXM_NX_IP_ECN"),
];

/// `OXM_OF_` names of the basic fields without an NXM header.
const OXM_NAMES: &[(Field, &str)] = &[
    (Field::InPhyPort, "OXM_OF_IN_PHY_PORT"),
    (Field::Metadata, "OXM_OF_METADATA"),
    (Field::VlanVid, "OXM_OF_VLAN_VID"),
    (Field::VlanPcp, "OXM_OF_VLAN_PCP"),
    (Field::IpDscp, "OXM_OF_IP_DSCP"),
    (Field::SctpSrc, "OXM_OF_SCTP_SRC"),
    (Field::SctpDst, "OXM_OF_SCTP_DST"),
    (Field::MplsLabel, "OXM_OF_MPLS_LABEL"),
    (Field::MplsTc, "OXM_OF_MPLS_TC"),
    (Field::MplsBos, "OXM_OF_MPLS_BOS"),
    (Field::PbbIsid, "OXM_OF_PBB_ISID"),
    (Field::Ipv6Exthdr, "OXM_OF_IPV6_EXTHDR"),
];

fn header(class: u16, field: u8, len: usize) -> u32 {
    (u32::from(class) << 16) | (u32::from(field) << 9) | u32::try_from(len).unwrap_or(0)
}

/// The header a load names `f` by: its NXM header where Open vSwitch has
/// one, its OXM basic header otherwise; `None` for an extension field.
#[must_use]
pub fn load_header(f: Field) -> Option<u32> {
    if let Some(&(_, class, n, _)) = NXM_NAMES.iter().find(|e| e.0 == f) {
        return Some(header(class, n, wire_len(f)));
    }
    f.is_oxm_basic()
        .then(|| header(OFPXMC_OPENFLOW_BASIC, f.number(), wire_len(f)))
}

/// The field a load's `dst` header names: an NXM header of
/// [`load_header`]'s table or any OXM basic header, unmasked and of the
/// field's length.
#[must_use]
pub fn field_of_header(dst: u32) -> Option<Field> {
    let class = u16::try_from(dst >> 16).unwrap_or(0);
    let number = u8::try_from((dst >> 9) & 0x7f).unwrap_or(0);
    let f = if class == OFPXMC_OPENFLOW_BASIC {
        Field::from_number(number).filter(|f| f.is_oxm_basic())?
    } else {
        NXM_NAMES
            .iter()
            .find(|e| e.1 == class && e.2 == number)
            .map(|e| e.0)?
    };
    (header(class, number, wire_len(f)) == dst).then_some(f)
}

/// The name Open vSwitch prints for `f` as a load destination
/// (`NXM_OF_IP_DST`, `OXM_OF_METADATA`).
#[must_use]
pub fn load_name(f: Field) -> Option<&'static str> {
    NXM_NAMES
        .iter()
        .find(|e| e.0 == f)
        .map(|e| e.3)
        .or_else(|| OXM_NAMES.iter().find(|e| e.0 == f).map(|e| e.1))
}

/// The field a load destination name (`NXM_OF_IP_DST`) stands for.
#[must_use]
pub fn field_of_load_name(name: &str) -> Option<Field> {
    NXM_NAMES
        .iter()
        .find(|e| e.3.eq_ignore_ascii_case(name))
        .map(|e| e.0)
        .or_else(|| {
            OXM_NAMES
                .iter()
                .find(|e| e.1.eq_ignore_ascii_case(name))
                .map(|e| e.0)
        })
}

/// Bits of `f` a load can write: the field's width, except that the VLAN
/// id's presence bit is not a header bit (12 of its 13 bits).
#[must_use]
pub fn load_width(f: Field) -> u32 {
    if f == Field::VlanVid {
        12
    } else {
        f.bits()
    }
}

impl RegLoad {
    /// A load of `n_bits` bits (1 to 64) at `ofs` into the field named by `dst`.
    #[must_use]
    pub fn new(dst: u32, ofs: u32, n_bits: u32, value: u64) -> Self {
        let enc = (ofs << 6) | (n_bits.clamp(1, 64) - 1);
        RegLoad {
            ofs_nbits: u16::try_from(enc).unwrap_or(u16::MAX),
            dst,
            value,
        }
    }

    /// The first bit written.
    #[must_use]
    pub fn ofs(&self) -> u32 {
        u32::from(self.ofs_nbits >> 6)
    }

    /// How many bits are written (1 to 64).
    #[must_use]
    pub fn n_bits(&self) -> u32 {
        u32::from(self.ofs_nbits & 0x3f) + 1
    }

    /// Checks the load on its own and returns the model's masked write:
    /// `(field, value, mask)`, value and mask in the field's width.
    ///
    /// # Errors
    /// `OFPBAC_BAD_SET_TYPE` for a header that names no field,
    /// `OFPBAC_BAD_SET_ARGUMENT` for a field set-field may not write,
    /// `OFPBAC_BAD_SET_LEN` for a bit range past the field's end,
    /// `OFPBAC_BAD_ARGUMENT` for a value wider than the range — the codes
    /// Open vSwitch answers with.
    pub fn validate(&self) -> Result<(Field, u128, u128), ErrorKind> {
        let f = field_of_header(self.dst).ok_or(BadActionCode::OFPBAC_BAD_SET_TYPE)?;
        if !crate::action::settable(f) {
            return Err(BadActionCode::OFPBAC_BAD_SET_ARGUMENT.into());
        }
        let (ofs, n) = (self.ofs(), self.n_bits());
        if ofs + n > load_width(f) {
            return Err(BadActionCode::OFPBAC_BAD_SET_LEN.into());
        }
        if n < 64 && self.value >> n != 0 {
            return Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into());
        }
        let run = if n == 64 {
            u128::from(u64::MAX)
        } else {
            (1u128 << n) - 1
        };
        Ok((f, u128::from(self.value) << ofs, run << ofs))
    }
}

/// The loads that write the bits of `mask` of `f` with those of `value`,
/// as Open vSwitch sends a masked set-field: one per contiguous run of mask
/// bits within [`load_width`], runs of more than 64 bits split. Empty when
/// the mask selects no bit or `f` has no load header.
#[must_use]
pub fn reg_loads_for(f: Field, value: u128, mask: u128) -> Vec<RegLoad> {
    let Some(dst) = load_header(f) else {
        return Vec::new();
    };
    let width = load_width(f);
    let mut out = Vec::new();
    let mut bit = 0u32;
    while bit < width {
        if mask >> bit & 1 == 0 {
            bit += 1;
            continue;
        }
        let start = bit;
        while bit < width && bit - start < 64 && mask >> bit & 1 == 1 {
            bit += 1;
        }
        let n = bit - start;
        let run = if n == 64 {
            u128::from(u64::MAX)
        } else {
            (1u128 << n) - 1
        };
        let v = u64::try_from((value >> start) & run).unwrap_or(0);
        out.push(RegLoad::new(dst, start, n, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_fields_as_open_vswitch_does() {
        assert_eq!(load_header(Field::Ipv4Dst), Some(0x0000_1004));
        assert_eq!(load_header(Field::EthDst), Some(0x0000_0206));
        assert_eq!(load_header(Field::TunnelId), Some(0x0001_2008));
        assert_eq!(load_header(Field::Metadata), Some(0x8000_0408));
        assert_eq!(load_header(Field::VlanVid), Some(0x8000_0c02));
        assert_eq!(load_header(Field::TunIpv4Src), None);
        for &f in Field::ALL.iter().filter(|f| f.is_oxm_basic()) {
            if let Some(h) = load_header(f) {
                assert_eq!(field_of_header(h), Some(f), "{f:?}");
            }
            let oxm = header(OFPXMC_OPENFLOW_BASIC, f.number(), wire_len(f));
            assert_eq!(field_of_header(oxm), Some(f), "{f:?}");
        }
        // A masked header or one of the wrong length names nothing.
        assert_eq!(field_of_header(0x0000_1104), None);
        assert_eq!(field_of_header(0x0000_1005), None);
        assert_eq!(field_of_header(0x0005_1004), None);
    }

    #[test]
    fn a_masked_write_becomes_one_load_per_run_of_mask_bits() {
        let loads = reg_loads_for(Field::Ipv4Dst, 0x0a00_0001, 0xff00_ff00);
        assert_eq!(loads.len(), 2);
        assert_eq!(
            (loads[0].ofs(), loads[0].n_bits(), loads[0].value),
            (8, 8, 0)
        );
        assert_eq!(
            (loads[1].ofs(), loads[1].n_bits(), loads[1].value),
            (24, 8, 0x0a)
        );
        let all = reg_loads_for(Field::Ipv6Dst, 7, u128::MAX);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].ofs(), all[0].n_bits(), all[0].value), (0, 64, 7));
        assert_eq!((all[1].ofs(), all[1].n_bits()), (64, 64));
        assert!(reg_loads_for(Field::Ipv4Dst, 1, 0).is_empty());
        // The VLAN presence bit is not written by a load.
        assert!(reg_loads_for(Field::VlanVid, 0x1000, 0x1000).is_empty());
    }

    #[test]
    fn validation_returns_the_masked_write_and_refuses_what_open_vswitch_refuses() {
        let l = RegLoad::new(0x0000_1004, 8, 24, 0x0a_0000);
        assert_eq!(l.validate(), Ok((Field::Ipv4Dst, 0x0a00_0000, 0xffff_ff00)));
        let unknown = RegLoad::new(0x0005_0004, 0, 8, 0);
        assert_eq!(
            unknown.validate(),
            Err(BadActionCode::OFPBAC_BAD_SET_TYPE.into())
        );
        let in_phy = RegLoad::new(0x8000_0204, 0, 8, 0);
        assert_eq!(
            in_phy.validate(),
            Err(BadActionCode::OFPBAC_BAD_SET_ARGUMENT.into())
        );
        let past_end = RegLoad::new(0x0000_1004, 30, 4, 0);
        assert_eq!(
            past_end.validate(),
            Err(BadActionCode::OFPBAC_BAD_SET_LEN.into())
        );
        let too_wide = RegLoad::new(0x0000_1004, 0, 4, 0x10);
        assert_eq!(
            too_wide.validate(),
            Err(BadActionCode::OFPBAC_BAD_ARGUMENT.into())
        );
        let whole_metadata = RegLoad::new(0x8000_0408, 0, 64, u64::MAX);
        assert_eq!(
            whole_metadata.validate(),
            Ok((Field::Metadata, u128::from(u64::MAX), u128::from(u64::MAX)))
        );
    }
}
