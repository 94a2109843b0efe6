//! The OXM match Open vSwitch writes for a match in OpenFlow 1.3, and the
//! lenient reading of any OXM match back into the switch's model.
//!
//! Open vSwitch writes each field only where its protocol makes it
//! meaningful (L4 ports only under a matched `ip_proto`, ND fields only for
//! a neighbour solicitation or advertisement with code 0), and writes the
//! fields OpenFlow 1.3 lacks in Nicira or ONF classes inside the same
//! match: `nw_ttl`, `ip_frag`, `mpls_ttl`, `tun_src`/`tun_dst` as
//! `NXM_NX_*`, `tcp_flags` as the ONF experimenter field. Sending exactly
//! those bytes is what makes a flow mean the same to an Open vSwitch
//! switch as it does to `ovs-ofctl`; a strict OpenFlow 1.3 switch refuses
//! the extension fields with `OFPBMC_BAD_FIELD`, as it should.

use controller_proto::oxm::{u128_to_bytes, OfpMatch, OxmBytes, OxmField, OxmId};
use datapath::flow::{Field, Match};

/// `OFPXMC_NXM_1`, the class of Nicira's extension fields.
pub const NXM_1: u16 = 0x0001;
/// The ONF experimenter id (`ONF_EXPERIMENTER_ID`).
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
/// `NXM_NX_IP_FRAG`.
pub const NXM_IP_FRAG: u8 = 26;
/// `NXM_NX_IP_TTL`.
pub const NXM_IP_TTL: u8 = 29;
/// `NXM_NX_MPLS_TTL`.
pub const NXM_MPLS_TTL: u8 = 30;
/// `NXM_NX_TUN_IPV4_SRC`.
pub const NXM_TUN_IPV4_SRC: u8 = 31;
/// `NXM_NX_TUN_IPV4_DST`.
pub const NXM_TUN_IPV4_DST: u8 = 32;
/// `NXM_NX_TCP_FLAGS`.
pub const NXM_TCP_FLAGS: u8 = 34;
/// `ONFOXM_ET_TCP_FLAGS`.
pub const ONF_TCP_FLAGS: u8 = 42;

fn all_ones(bytes: usize) -> u128 {
    if bytes >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * bytes)) - 1
    }
}

/// Appends basic field `f` with value `v` under mask `m` (`m` over the
/// field's wire bytes): exact when all ones, masked when partial, nothing
/// when zero.
fn put(out: &mut OfpMatch, f: Field, v: u128, m: u128) {
    let full = all_ones(controller_proto::oxm::wire_len(f));
    if m == 0 {
        return;
    }
    if m & full == full {
        out.fields.push(OxmField::exact(f, v));
    } else {
        out.fields.push(OxmField::masked(f, v & m, m));
    }
}

/// Appends an extension field of `class`/`field`, `len` bytes.
fn put_ext(out: &mut OfpMatch, class: u16, field: u8, len: usize, v: u128, m: u128) {
    let full = all_ones(len);
    if m == 0 {
        return;
    }
    let hasmask = m & full != full;
    let mut value: OxmBytes = u128_to_bytes(v & m, len);
    if hasmask {
        value.extend_from_slice(&u128_to_bytes(m, len));
    }
    out.fields.push(OxmField {
        field: OxmId::Other {
            class,
            field,
            hasmask,
        },
        value,
        mask: None,
    });
}

fn put_onf(out: &mut OfpMatch, field: u8, len: usize, v: u128, m: u128) {
    let full = all_ones(len);
    if m == 0 {
        return;
    }
    let hasmask = m & full != full;
    let mut value: OxmBytes = u128_to_bytes(v & m, len);
    if hasmask {
        value.extend_from_slice(&u128_to_bytes(m, len));
    }
    out.fields.push(OxmField {
        field: OxmId::Experimenter {
            field,
            hasmask,
            experimenter: ONF_EXPERIMENTER,
        },
        value,
        mask: None,
    });
}

/// The OXM match Open vSwitch writes for `m` in OpenFlow 1.3.
pub fn match_to_oxm(m: &Match) -> OfpMatch {
    let mut out = OfpMatch::catch_all();
    let k = &m.key;
    let w = &m.mask.key;
    put(&mut out, Field::InPort, k.in_port.into(), w.in_port.into());
    put(
        &mut out,
        Field::EthSrc,
        m.get(Field::EthSrc).0,
        m.get(Field::EthSrc).1,
    );
    put(
        &mut out,
        Field::EthDst,
        m.get(Field::EthDst).0,
        m.get(Field::EthDst).1,
    );
    put(
        &mut out,
        Field::EthType,
        k.eth_type.into(),
        w.eth_type.into(),
    );
    let vid = k.vlan_tci & 0x1fff;
    let vid_mask = w.vlan_tci & 0x1fff;
    if vid_mask == 0x1fff {
        out.fields.push(OxmField::exact(Field::VlanVid, vid.into()));
    } else if vid_mask != 0 {
        out.fields.push(OxmField::masked(
            Field::VlanVid,
            (vid & vid_mask).into(),
            vid_mask.into(),
        ));
    }
    if vid != 0 && w.vlan_tci >> 13 != 0 {
        out.fields
            .push(OxmField::exact(Field::VlanPcp, (k.vlan_tci >> 13).into()));
    }
    let eth_type = if w.eth_type != 0 { k.eth_type } else { 0 };
    if eth_type == 0x8847 || eth_type == 0x8848 {
        if w.mpls_lse & 0x0e00 != 0 {
            out.fields
                .push(OxmField::exact(Field::MplsTc, m.get(Field::MplsTc).0));
        }
        if w.mpls_lse & 0x100 != 0 {
            out.fields
                .push(OxmField::exact(Field::MplsBos, m.get(Field::MplsBos).0));
        }
        if w.mpls_lse & 0xffff_f000 != 0 {
            out.fields
                .push(OxmField::exact(Field::MplsLabel, m.get(Field::MplsLabel).0));
        }
        if w.mpls_lse & 0xff != 0 {
            put_ext(
                &mut out,
                NXM_1,
                NXM_MPLS_TTL,
                1,
                (k.mpls_lse & 0xff).into(),
                0xff,
            );
        }
    }
    if eth_type == 0x0800 || eth_type == 0x86dd {
        put_ip(&mut out, m, eth_type);
    } else if eth_type == 0x0806 || eth_type == 0x8035 {
        if w.arp_op != 0 {
            out.fields
                .push(OxmField::exact(Field::ArpOp, k.arp_op.into()));
        }
        put(
            &mut out,
            Field::ArpSpa,
            k.ipv4_src.into(),
            w.ipv4_src.into(),
        );
        put(
            &mut out,
            Field::ArpTpa,
            k.ipv4_dst.into(),
            w.ipv4_dst.into(),
        );
        put(
            &mut out,
            Field::ArpSha,
            m.get(Field::ArpSha).0,
            m.get(Field::ArpSha).1,
        );
        put(
            &mut out,
            Field::ArpTha,
            m.get(Field::ArpTha).0,
            m.get(Field::ArpTha).1,
        );
    } else if eth_type == 0x88e7 {
        put(
            &mut out,
            Field::PbbIsid,
            m.get(Field::PbbIsid).0,
            m.get(Field::PbbIsid).1,
        );
    }
    put(
        &mut out,
        Field::TunnelId,
        k.tunnel_id.into(),
        w.tunnel_id.into(),
    );
    put_ext(
        &mut out,
        NXM_1,
        NXM_TUN_IPV4_SRC,
        4,
        k.tun_ipv4_src.into(),
        w.tun_ipv4_src.into(),
    );
    put_ext(
        &mut out,
        NXM_1,
        NXM_TUN_IPV4_DST,
        4,
        k.tun_ipv4_dst.into(),
        w.tun_ipv4_dst.into(),
    );
    put(
        &mut out,
        Field::Metadata,
        k.metadata.into(),
        w.metadata.into(),
    );
    out
}

fn put_ip(out: &mut OfpMatch, m: &Match, eth_type: u16) {
    let k = &m.key;
    let w = &m.mask.key;
    if eth_type == 0x0800 {
        put(out, Field::Ipv4Src, k.ipv4_src.into(), w.ipv4_src.into());
        put(out, Field::Ipv4Dst, k.ipv4_dst.into(), w.ipv4_dst.into());
    } else {
        put(
            out,
            Field::Ipv6Src,
            m.get(Field::Ipv6Src).0,
            m.get(Field::Ipv6Src).1,
        );
        put(
            out,
            Field::Ipv6Dst,
            m.get(Field::Ipv6Dst).0,
            m.get(Field::Ipv6Dst).1,
        );
    }
    let frag_mask = w.nw_frag & 3;
    if frag_mask != 0 {
        let fm = if frag_mask == 3 { 0xff } else { frag_mask };
        put_ext(
            out,
            NXM_1,
            NXM_IP_FRAG,
            1,
            (k.nw_frag & 3).into(),
            fm.into(),
        );
    }
    if w.nw_tos & 0xfc != 0 {
        out.fields
            .push(OxmField::exact(Field::IpDscp, (k.nw_tos >> 2).into()));
    }
    if w.nw_tos & 3 != 0 {
        out.fields
            .push(OxmField::exact(Field::IpEcn, (k.nw_tos & 3).into()));
    }
    if w.nw_ttl != 0 {
        put_ext(out, NXM_1, NXM_IP_TTL, 1, k.nw_ttl.into(), 0xff);
    }
    if eth_type == 0x86dd {
        let (v, mk) = m.get(Field::Ipv6Flabel);
        if mk != 0 {
            // The label takes four bytes on the wire; the mask covers 20 bits.
            if mk == 0xf_ffff {
                out.fields.push(OxmField::exact(Field::Ipv6Flabel, v));
            } else {
                out.fields
                    .push(OxmField::masked(Field::Ipv6Flabel, v & mk, mk));
            }
        }
    }
    if w.nw_proto == 0 {
        return;
    }
    out.fields
        .push(OxmField::exact(Field::IpProto, k.nw_proto.into()));
    let (src, dst) = (u128::from(k.tp_src), u128::from(k.tp_dst));
    let (src_m, dst_m) = (u128::from(w.tp_src), u128::from(w.tp_dst));
    match k.nw_proto {
        6 => {
            put(out, Field::TcpSrc, src, src_m);
            put(out, Field::TcpDst, dst, dst_m);
            let (v, mk) = m.get(Field::TcpFlags);
            if mk != 0 {
                let mk16 = if mk == 0xfff { 0xffff } else { mk };
                put_onf(out, ONF_TCP_FLAGS, 2, v, mk16);
            }
        }
        17 => {
            put(out, Field::UdpSrc, src, src_m);
            put(out, Field::UdpDst, dst, dst_m);
        }
        132 => {
            put(out, Field::SctpSrc, src, src_m);
            put(out, Field::SctpDst, dst, dst_m);
        }
        1 if eth_type == 0x0800 => {
            if src_m != 0 {
                out.fields
                    .push(OxmField::exact(Field::Icmpv4Type, src & 0xff));
            }
            if dst_m != 0 {
                out.fields
                    .push(OxmField::exact(Field::Icmpv4Code, dst & 0xff));
            }
        }
        58 if eth_type == 0x86dd => {
            if src_m != 0 {
                out.fields
                    .push(OxmField::exact(Field::Icmpv6Type, src & 0xff));
            }
            if dst_m != 0 {
                out.fields
                    .push(OxmField::exact(Field::Icmpv6Code, dst & 0xff));
            }
            let nd = k.tp_dst == 0 && (k.tp_src == 135 || k.tp_src == 136);
            if nd {
                let (v, mk) = m.get(Field::Ipv6NdTarget);
                put(out, Field::Ipv6NdTarget, v, mk);
                if k.tp_src == 135 {
                    let (v, mk) = m.get(Field::ArpSha);
                    put(out, Field::Ipv6NdSll, v, mk);
                } else {
                    let (v, mk) = m.get(Field::ArpTha);
                    put(out, Field::Ipv6NdTll, v, mk);
                }
            }
        }
        _ => {}
    }
}

fn split_payload(f: &OxmField, hasmask: bool) -> (u128, Option<u128>) {
    let b = &f.value;
    if hasmask {
        let half = b.len() / 2;
        (
            controller_proto::oxm::bytes_to_u128(&b[..half]),
            Some(controller_proto::oxm::bytes_to_u128(&b[half..])),
        )
    } else {
        (controller_proto::oxm::bytes_to_u128(b), None)
    }
}

/// The switch's match for a wire match, built field by field without
/// judging it (a match the switch would refuse still prints), reading the
/// Nicira and ONF extension fields [`match_to_oxm`] writes. ICMP types and
/// codes land in the 16-bit L4 port storage, as Open vSwitch keeps them.
pub fn match_from_oxm(m: &OfpMatch) -> Match {
    let mut out = Match::catch_all();
    for f in &m.fields {
        if let Some((field, v, mask)) = f.basic() {
            let max = all_ones(controller_proto::oxm::wire_len(field));
            let mask = mask.unwrap_or(max);
            match field {
                Field::Icmpv4Type | Field::Icmpv6Type => {
                    out.set_masked(Field::TcpSrc, v, widen_u8_mask(mask));
                }
                Field::Icmpv4Code | Field::Icmpv6Code => {
                    out.set_masked(Field::TcpDst, v, widen_u8_mask(mask));
                }
                _ => out.set_masked(field, v & mask, mask),
            }
            continue;
        }
        match f.field {
            OxmId::Other {
                class: NXM_1,
                field,
                hasmask,
            } => {
                let (v, mk) = split_payload(f, hasmask);
                let target = match field {
                    NXM_IP_FRAG => Some((Field::NwFrag, 0xff)),
                    NXM_IP_TTL => Some((Field::NwTtl, 0xff)),
                    NXM_MPLS_TTL => Some((Field::MplsTtl, 0xff)),
                    NXM_TUN_IPV4_SRC => Some((Field::TunIpv4Src, 0xffff_ffff)),
                    NXM_TUN_IPV4_DST => Some((Field::TunIpv4Dst, 0xffff_ffff)),
                    NXM_TCP_FLAGS => Some((Field::TcpFlags, 0xffff)),
                    _ => None,
                };
                if let Some((t, full)) = target {
                    let mk = mk.unwrap_or(full);
                    out.set_masked(t, v & mk, mk);
                }
            }
            OxmId::Experimenter {
                field: ONF_TCP_FLAGS,
                hasmask,
                experimenter: ONF_EXPERIMENTER,
            } => {
                let (v, mk) = split_payload(f, hasmask);
                let mk = mk.unwrap_or(0xffff);
                out.set_masked(Field::TcpFlags, v & mk, mk);
            }
            _ => {}
        }
    }
    out
}

fn widen_u8_mask(m: u128) -> u128 {
    if m & 0xff == 0xff {
        0xffff
    } else {
        m & 0xff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_syntax::parse_match;

    #[test]
    fn extension_fields_round_trip_through_their_classes() {
        for text in [
            "tcp,nw_ttl=5,ip_frag=later,tcp_flags=+syn-ack,tun_src=1.2.3.4",
            "mpls,mpls_label=5,mpls_ttl=9",
            "icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=02:00:00:00:00:01",
            "udp6,ipv6_label=0x12345,udp_dst=53",
            "dl_vlan=5,dl_vlan_pcp=3,metadata=0x10/0xf0",
        ] {
            let m = parse_match(text).unwrap().match_;
            let back = match_from_oxm(&match_to_oxm(&m));
            assert_eq!(
                crate::format::matches::format_match(&back, None),
                crate::format::matches::format_match(&m, None),
                "{text}"
            );
        }
    }

    #[test]
    fn l4_ports_need_a_matched_protocol_and_nd_needs_code_zero() {
        let m = parse_match("icmp6,icmp_type=135,icmp_code=2,nd_target=fe80::1").unwrap();
        let oxm = match_to_oxm(&m.match_);
        assert!(oxm.get(Field::Ipv6NdTarget).is_none());
    }
}
