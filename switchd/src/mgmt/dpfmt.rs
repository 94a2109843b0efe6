//! Text forms of the management commands' output: megaflows in the style
//! of `ovs-appctl dpctl/dump-flows`, datapath actions, OpenFlow matches and
//! actions in the ovs-ofctl spelling, and the walk of `ofproto/trace`.
//!
//! # Shape
//!
//! Pure functions from the datapath's values to strings, so each form is
//! tested on its own. Megaflows keep their masks visible: a field appears
//! when any bit of it was examined, IPv4 and IPv6 addresses always with
//! their mask (`dst=198.18.0.2/255.255.255.255`), other fields with
//! `/mask` when only part of them was examined. Values of the shared key
//! storage are named by what the ethertype and protocol make them (a
//! transport port, an ICMP type, an ARP address).

use datapath::dpaction::{DpAction, PacketInReason};
use datapath::flow::{frag, Field, FlowKey, FlowMask, Match, VLAN_PRESENT};
use datapath::normal::{NormalDecision, NormalDrop};
use datapath::ofproto::{
    Action, GroupType, Instructions, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT,
    OFPP_LOCAL, OFPP_NORMAL, OFPP_TABLE,
};
use datapath::xlate::{TraceEvent, Translation, XlateError};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// The name of a reserved port, or the number.
pub fn port_name(p: u32) -> String {
    match p {
        OFPP_IN_PORT => "IN_PORT".into(),
        OFPP_TABLE => "TABLE".into(),
        OFPP_NORMAL => "NORMAL".into(),
        OFPP_FLOOD => "FLOOD".into(),
        OFPP_ALL => "ALL".into(),
        OFPP_CONTROLLER => "CONTROLLER".into(),
        OFPP_LOCAL => "LOCAL".into(),
        OFPP_ANY => "ANY".into(),
        n => n.to_string(),
    }
}

fn ip4(v: u32) -> String {
    Ipv4Addr::from(v).to_string()
}

fn ip6(v: &[u8; 16]) -> String {
    Ipv6Addr::from(*v).to_string()
}

fn frag_name(v: u8, m: u8) -> String {
    let s = match (v & m) & (frag::ANY | frag::LATER) {
        0 => "no",
        x if x == frag::ANY && m & frag::LATER != 0 => "first",
        x if x == frag::ANY => "yes",
        _ => "later",
    };
    s.to_string()
}

/// `value` or `value/mask` (hex mask) for a plain number field.
fn num_masked(v: u128, m: u128, full: u128, hex: bool) -> String {
    let val = if hex {
        format!("{v:#x}")
    } else {
        v.to_string()
    };
    if m == full {
        val
    } else {
        format!("{val}/{m:#x}")
    }
}

fn mac_masked(v: &[u8; 6], m: &[u8; 6]) -> String {
    if *m == [0xff; 6] {
        mac(v)
    } else {
        format!("{}/{}", mac(v), mac(m))
    }
}

/// A megaflow in the `dpctl/dump-flows` form (without statistics).
pub fn odp_flow(key: &FlowKey, mask: &FlowMask) -> String {
    let m = &mask.key;
    let k = key.masked(mask);
    let mut parts: Vec<String> = vec!["recirc_id(0)".into()];
    if m.tunnel_id != 0 || m.tun_ipv4_src != 0 || m.tun_ipv4_dst != 0 || m.tun_flags != 0 {
        let mut t = Vec::new();
        if m.tunnel_id != 0 {
            t.push(format!(
                "tun_id={}",
                num_masked(
                    k.tunnel_id.into(),
                    m.tunnel_id.into(),
                    u64::MAX.into(),
                    true
                )
            ));
        }
        if m.tun_ipv4_src != 0 {
            t.push(format!(
                "src={}/{}",
                ip4(k.tun_ipv4_src),
                ip4(m.tun_ipv4_src)
            ));
        }
        if m.tun_ipv4_dst != 0 {
            t.push(format!(
                "dst={}/{}",
                ip4(k.tun_ipv4_dst),
                ip4(m.tun_ipv4_dst)
            ));
        }
        if m.tun_flags != 0 {
            t.push(format!("flags={:#x}/{:#x}", k.tun_flags, m.tun_flags));
        }
        parts.push(format!("tunnel({})", t.join(",")));
    }
    if m.metadata != 0 {
        parts.push(format!(
            "metadata({})",
            num_masked(k.metadata.into(), m.metadata.into(), u64::MAX.into(), true)
        ));
    }
    if m.in_port != 0 {
        parts.push(format!("in_port({})", port_name(k.in_port)));
    }
    if m.eth_src != [0; 6] || m.eth_dst != [0; 6] {
        let mut e = Vec::new();
        if m.eth_src != [0; 6] {
            e.push(format!("src={}", mac_masked(&k.eth_src, &m.eth_src)));
        }
        if m.eth_dst != [0; 6] {
            e.push(format!("dst={}", mac_masked(&k.eth_dst, &m.eth_dst)));
        }
        parts.push(format!("eth({})", e.join(",")));
    }
    if m.vlan_tci != 0 {
        if k.vlan_tci & VLAN_PRESENT != 0 {
            let mut v = Vec::new();
            let vid_m = m.vlan_tci & 0x0fff;
            if vid_m != 0 {
                v.push(format!(
                    "vid={}",
                    num_masked((k.vlan_tci & 0xfff).into(), vid_m.into(), 0xfff, false)
                ));
            }
            let pcp_m = m.vlan_tci >> 13;
            if pcp_m != 0 {
                v.push(format!(
                    "pcp={}",
                    num_masked((k.vlan_tci >> 13).into(), pcp_m.into(), 7, false)
                ));
            }
            parts.push(format!("vlan({})", v.join(",")));
        } else {
            // Examined and absent: the packet had no tag.
            parts.push("vlan(none)".into());
        }
    }
    if m.eth_type != 0 {
        parts.push(format!("eth_type({:#06x})", k.eth_type));
    }
    if m.mpls_lse != 0 {
        parts.push(format!(
            "mpls(label={},tc={},ttl={},bos={})",
            k.mpls_lse >> 12,
            (k.mpls_lse >> 9) & 7,
            k.mpls_lse & 0xff,
            (k.mpls_lse >> 8) & 1
        ));
    }
    let ip_fields = |parts: &mut Vec<String>, label: &str, addrs: Vec<String>| {
        let mut f = addrs;
        if m.nw_proto != 0 {
            f.push(format!("proto={}", k.nw_proto));
        }
        if m.nw_tos != 0 {
            f.push(format!(
                "tos={}",
                num_masked(k.nw_tos.into(), m.nw_tos.into(), 0xff, true)
            ));
        }
        if m.nw_ttl != 0 {
            f.push(format!("ttl={}", k.nw_ttl));
        }
        if m.nw_frag != 0 {
            f.push(format!("frag={}", frag_name(k.nw_frag, m.nw_frag)));
        }
        if !f.is_empty() {
            parts.push(format!("{label}({})", f.join(",")));
        }
    };
    let l3 = if m.eth_type == 0xffff { k.eth_type } else { 0 };
    match l3 {
        ETH_IPV4 => {
            let mut a = Vec::new();
            if m.ipv4_src != 0 {
                a.push(format!("src={}/{}", ip4(k.ipv4_src), ip4(m.ipv4_src)));
            }
            if m.ipv4_dst != 0 {
                a.push(format!("dst={}/{}", ip4(k.ipv4_dst), ip4(m.ipv4_dst)));
            }
            ip_fields(&mut parts, "ipv4", a);
        }
        ETH_IPV6 => {
            let mut a = Vec::new();
            if m.ipv6_src != [0; 16] {
                a.push(format!("src={}/{}", ip6(&k.ipv6_src), ip6(&m.ipv6_src)));
            }
            if m.ipv6_dst != [0; 16] {
                a.push(format!("dst={}/{}", ip6(&k.ipv6_dst), ip6(&m.ipv6_dst)));
            }
            if m.ipv6_label != 0 {
                a.push(format!("label={:#x}", k.ipv6_label));
            }
            ip_fields(&mut parts, "ipv6", a);
        }
        ETH_ARP => {
            let mut a = Vec::new();
            if m.ipv4_src != 0 {
                a.push(format!("sip={}/{}", ip4(k.ipv4_src), ip4(m.ipv4_src)));
            }
            if m.ipv4_dst != 0 {
                a.push(format!("tip={}/{}", ip4(k.ipv4_dst), ip4(m.ipv4_dst)));
            }
            if m.arp_op != 0 {
                a.push(format!("op={}", k.arp_op));
            }
            if m.arp_sha != [0; 6] {
                a.push(format!("sha={}", mac_masked(&k.arp_sha, &m.arp_sha)));
            }
            if m.arp_tha != [0; 6] {
                a.push(format!("tha={}", mac_masked(&k.arp_tha, &m.arp_tha)));
            }
            if !a.is_empty() {
                parts.push(format!("arp({})", a.join(",")));
            }
        }
        _ => {}
    }
    if matches!(l3, ETH_IPV4 | ETH_IPV6) && m.nw_proto == 0xff && (m.tp_src != 0 || m.tp_dst != 0) {
        let icmp = (l3 == ETH_IPV4 && k.nw_proto == 1) || (l3 == ETH_IPV6 && k.nw_proto == 58);
        let (label, a, b) = match k.nw_proto {
            6 => ("tcp", "src", "dst"),
            17 => ("udp", "src", "dst"),
            132 => ("sctp", "src", "dst"),
            _ if icmp && l3 == ETH_IPV4 => ("icmp", "type", "code"),
            _ if icmp => ("icmpv6", "type", "code"),
            _ => ("l4", "src", "dst"),
        };
        let full: u128 = if icmp { 0xff } else { 0xffff };
        let mut f = Vec::new();
        if m.tp_src != 0 {
            f.push(format!(
                "{a}={}",
                num_masked(k.tp_src.into(), u128::from(m.tp_src) & full, full, false)
            ));
        }
        if m.tp_dst != 0 {
            f.push(format!(
                "{b}={}",
                num_masked(k.tp_dst.into(), u128::from(m.tp_dst) & full, full, false)
            ));
        }
        parts.push(format!("{label}({})", f.join(",")));
    }
    if m.tcp_flags != 0 {
        parts.push(format!("tcp_flags({:#x}/{:#x})", k.tcp_flags, m.tcp_flags));
    }
    if m.nd_target != [0; 16] {
        parts.push(format!("nd(target={})", ip6(&k.nd_target)));
    }
    parts.join(",")
}

fn set_field_odp(field: Field, value: u128, mask: u128) -> String {
    let full = field.max_value();
    let mut k = FlowKey::default();
    field.set(&mut k, value);
    let masked = |s: String| {
        if mask == full {
            s
        } else {
            format!("{s}/{mask:#x}")
        }
    };
    match field {
        Field::EthSrc => format!("set(eth(src={}))", masked(mac(&k.eth_src))),
        Field::EthDst => format!("set(eth(dst={}))", masked(mac(&k.eth_dst))),
        Field::Ipv4Src => format!("set(ipv4(src={}))", masked(ip4(k.ipv4_src))),
        Field::Ipv4Dst => format!("set(ipv4(dst={}))", masked(ip4(k.ipv4_dst))),
        Field::Ipv6Src => format!("set(ipv6(src={}))", masked(ip6(&k.ipv6_src))),
        Field::Ipv6Dst => format!("set(ipv6(dst={}))", masked(ip6(&k.ipv6_dst))),
        Field::NwTtl => format!("set(ipv4(ttl={value}))"),
        Field::IpDscp => format!("set(ipv4(tos={:#x}/0xfc))", value << 2),
        Field::IpEcn => format!("set(ipv4(tos={value:#x}/0x3))"),
        Field::TcpSrc => format!("set(tcp(src={}))", masked(value.to_string())),
        Field::TcpDst => format!("set(tcp(dst={}))", masked(value.to_string())),
        Field::UdpSrc => format!("set(udp(src={}))", masked(value.to_string())),
        Field::UdpDst => format!("set(udp(dst={}))", masked(value.to_string())),
        Field::VlanVid => format!("set(vlan(vid={}))", value & 0xfff),
        Field::VlanPcp => format!("set(vlan(pcp={value}))"),
        Field::TunnelId => format!("set(tunnel(tun_id={value:#x}))"),
        Field::Metadata => format!("set(metadata({}))", masked(format!("{value:#x}"))),
        other => format!(
            "set({}={})",
            field_name(other),
            masked(format!("{value:#x}"))
        ),
    }
}

/// A list of datapath actions (`drop` when empty).
pub fn dp_actions(actions: &[DpAction]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions
        .iter()
        .map(|a| match a {
            DpAction::Output(p) => port_name(*p),
            DpAction::ToController(c) => format!(
                "userspace(controller(reason={},max_len={},table={},cookie={:#x}))",
                match c.reason {
                    PacketInReason::NoMatch => "no_match",
                    PacketInReason::Action => "action",
                    PacketInReason::InvalidTtl => "invalid_ttl",
                },
                c.max_len,
                c.table_id,
                c.cookie
            ),
            DpAction::SetField { field, value, mask } => set_field_odp(*field, *value, *mask),
            DpAction::PushVlan { tpid, tci } => {
                let tp = if *tpid == 0x8100 {
                    String::new()
                } else {
                    format!("tpid={tpid:#06x},")
                };
                format!("push_vlan({tp}vid={},pcp={})", tci & 0xfff, tci >> 13)
            }
            DpAction::PopVlan => "pop_vlan".into(),
            DpAction::PushMpls { ethertype, lse } => format!(
                "push_mpls(label={},tc={},ttl={},bos={},eth_type={ethertype:#x})",
                lse >> 12,
                (lse >> 9) & 7,
                lse & 0xff,
                (lse >> 8) & 1
            ),
            DpAction::PopMpls { ethertype } => format!("pop_mpls(eth_type={ethertype:#x})"),
            DpAction::PushPbb { isid } => format!("push_pbb(isid={isid})"),
            DpAction::PopPbb => "pop_pbb".into(),
            DpAction::CopyTtlOut => "copy_ttl_out".into(),
            DpAction::CopyTtlIn => "copy_ttl_in".into(),
            DpAction::SetQueue(q) => format!("set_queue({q})"),
            DpAction::Meter(m) => format!("meter({m})"),
            DpAction::VxlanEncap { tunnel, .. } => format!(
                "vxlan_encap(vni={},src={},dst={},dst_port={})",
                tunnel.tunnel_id,
                ip4(tunnel.ipv4_src),
                ip4(tunnel.ipv4_dst),
                tunnel.tp_dst
            ),
            DpAction::VxlanDecap => "vxlan_decap".into(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The ovs-ofctl name of a field.
pub fn field_name(f: Field) -> &'static str {
    use Field::*;
    match f {
        InPort => "in_port",
        InPhyPort => "in_phy_port",
        Metadata => "metadata",
        EthDst => "dl_dst",
        EthSrc => "dl_src",
        EthType => "dl_type",
        VlanVid => "vlan_vid",
        VlanPcp => "dl_vlan_pcp",
        IpDscp => "ip_dscp",
        IpEcn => "nw_ecn",
        IpProto => "nw_proto",
        Ipv4Src => "nw_src",
        Ipv4Dst => "nw_dst",
        TcpSrc => "tcp_src",
        TcpDst => "tcp_dst",
        UdpSrc => "udp_src",
        UdpDst => "udp_dst",
        SctpSrc => "sctp_src",
        SctpDst => "sctp_dst",
        Icmpv4Type => "icmp_type",
        Icmpv4Code => "icmp_code",
        ArpOp => "arp_op",
        ArpSpa => "arp_spa",
        ArpTpa => "arp_tpa",
        ArpSha => "arp_sha",
        ArpTha => "arp_tha",
        Ipv6Src => "ipv6_src",
        Ipv6Dst => "ipv6_dst",
        Ipv6Flabel => "ipv6_label",
        Icmpv6Type => "icmpv6_type",
        Icmpv6Code => "icmpv6_code",
        Ipv6NdTarget => "nd_target",
        Ipv6NdSll => "nd_sll",
        Ipv6NdTll => "nd_tll",
        MplsLabel => "mpls_label",
        MplsTc => "mpls_tc",
        MplsBos => "mpls_bos",
        PbbIsid => "pbb_isid",
        TunnelId => "tun_id",
        Ipv6Exthdr => "ipv6_exthdr",
        TunIpv4Src => "tun_src",
        TunIpv4Dst => "tun_dst",
        TcpFlags => "tcp_flags",
        NwTtl => "nw_ttl",
        NwFrag => "nw_frag",
        MplsTtl => "mpls_ttl",
    }
}

/// A field's value in its natural notation.
fn field_value(f: Field, v: u128) -> String {
    let mut k = FlowKey::default();
    f.set(&mut k, v);
    match f {
        Field::EthSrc => mac(&k.eth_src),
        Field::EthDst => mac(&k.eth_dst),
        Field::ArpSha | Field::Ipv6NdSll => mac(&k.arp_sha),
        Field::ArpTha | Field::Ipv6NdTll => mac(&k.arp_tha),
        Field::Ipv4Src | Field::ArpSpa => ip4(k.ipv4_src),
        Field::Ipv4Dst | Field::ArpTpa => ip4(k.ipv4_dst),
        Field::Ipv6Src => ip6(&k.ipv6_src),
        Field::Ipv6Dst => ip6(&k.ipv6_dst),
        Field::Ipv6NdTarget => ip6(&k.nd_target),
        Field::InPort | Field::InPhyPort => port_name(k.in_port),
        Field::EthType | Field::Metadata | Field::TunnelId | Field::TcpFlags => format!("{v:#x}"),
        _ => v.to_string(),
    }
}

/// `value` or `value/mask` of a field in a match: addresses with a
/// contiguous IPv4 mask as `/len`, MACs with a MAC mask, others hex.
fn field_masked(f: Field, v: u128, m: u128) -> String {
    let full = f.max_value();
    if m == full {
        return field_value(f, v);
    }
    match f {
        Field::Ipv4Src | Field::Ipv4Dst | Field::ArpSpa | Field::ArpTpa => {
            #[allow(clippy::cast_possible_truncation)] // 32-bit field
            let m32 = m as u32;
            if m32.leading_ones() + m32.trailing_zeros() == 32 {
                format!("{}/{}", field_value(f, v), m32.leading_ones())
            } else {
                format!("{}/{}", field_value(f, v), ip4(m32))
            }
        }
        Field::Ipv6Src | Field::Ipv6Dst => {
            if m.leading_ones() + m.trailing_zeros() == 128 {
                format!("{}/{}", field_value(f, v), m.leading_ones())
            } else {
                format!("{}/{}", field_value(f, v), Ipv6Addr::from(m))
            }
        }
        Field::EthSrc | Field::EthDst | Field::ArpSha | Field::ArpTha => {
            format!("{}/{}", field_value(f, v), field_value(f, m))
        }
        _ => format!("{v:#x}/{m:#x}"),
    }
}

/// A match in the ovs-ofctl spelling (`ip,in_port=1,nw_dst=198.18.0.0/24`);
/// empty for the catch-all.
fn push(out: &mut Vec<String>, mt: &Match, f: Field, name: &str) {
    let (v, m) = mt.get(f);
    if m != 0 {
        out.push(format!("{name}={}", field_masked(f, v, m)));
    }
}

pub fn of_match(mt: &Match) -> String {
    let get = |f: Field| mt.get(f);
    let mut out: Vec<String> = Vec::new();
    let (et, etm) = get(Field::EthType);
    let (proto, protom) = get(Field::IpProto);
    let et = (etm == 0xffff).then_some(et);
    let proto = (protom == 0xff).then_some(proto);
    let shorthand = match (et, proto) {
        (Some(0x0800), Some(1)) => Some("icmp"),
        (Some(0x0800), Some(6)) => Some("tcp"),
        (Some(0x0800), Some(17)) => Some("udp"),
        (Some(0x0800), Some(132)) => Some("sctp"),
        (Some(0x86dd), Some(58)) => Some("icmp6"),
        (Some(0x86dd), Some(6)) => Some("tcp6"),
        (Some(0x86dd), Some(17)) => Some("udp6"),
        (Some(0x86dd), Some(132)) => Some("sctp6"),
        _ => None,
    };
    let proto_done = shorthand.is_some();
    let et_name = match et {
        _ if proto_done => shorthand,
        Some(0x0800) => Some("ip"),
        Some(0x86dd) => Some("ipv6"),
        Some(0x0806) => Some("arp"),
        _ => None,
    };
    if let Some(n) = et_name {
        out.push(n.into());
    }
    push(&mut out, mt, Field::InPort, "in_port");
    push(&mut out, mt, Field::Metadata, "metadata");
    push(&mut out, mt, Field::TunnelId, "tun_id");
    push(&mut out, mt, Field::TunIpv4Src, "tun_src");
    push(&mut out, mt, Field::TunIpv4Dst, "tun_dst");
    {
        let tci = mt.key.vlan_tci;
        let tcim = mt.mask.key.vlan_tci;
        if tcim != 0 {
            if tcim & 0x1fff == 0x1fff && tci & VLAN_PRESENT != 0 && tcim & 0xe000 == 0 {
                out.push(format!("dl_vlan={}", tci & 0xfff));
            } else if tcim == 0xffff {
                out.push(format!("vlan_tci={tci:#06x}"));
            } else {
                out.push(format!("vlan_tci={tci:#06x}/{tcim:#06x}"));
            }
        }
    }
    push(&mut out, mt, Field::EthSrc, "dl_src");
    push(&mut out, mt, Field::EthDst, "dl_dst");
    if et_name.is_none() {
        push(&mut out, mt, Field::EthType, "dl_type");
    }
    match et {
        Some(0x0800) => {
            push(&mut out, mt, Field::Ipv4Src, "nw_src");
            push(&mut out, mt, Field::Ipv4Dst, "nw_dst");
        }
        Some(0x86dd) => {
            push(&mut out, mt, Field::Ipv6Src, "ipv6_src");
            push(&mut out, mt, Field::Ipv6Dst, "ipv6_dst");
            push(&mut out, mt, Field::Ipv6Flabel, "ipv6_label");
            push(&mut out, mt, Field::Ipv6NdTarget, "nd_target");
        }
        Some(0x0806) => {
            push(&mut out, mt, Field::ArpSpa, "arp_spa");
            push(&mut out, mt, Field::ArpTpa, "arp_tpa");
            push(&mut out, mt, Field::ArpOp, "arp_op");
            push(&mut out, mt, Field::ArpSha, "arp_sha");
            push(&mut out, mt, Field::ArpTha, "arp_tha");
        }
        Some(0x8847 | 0x8848) => {
            push(&mut out, mt, Field::MplsLabel, "mpls_label");
            push(&mut out, mt, Field::MplsTc, "mpls_tc");
            push(&mut out, mt, Field::MplsBos, "mpls_bos");
        }
        _ => {}
    }
    if matches!(et, Some(0x0800 | 0x86dd)) {
        if !proto_done {
            push(&mut out, mt, Field::IpProto, "nw_proto");
        }
        let (d, dm) = get(Field::IpDscp);
        if dm != 0 {
            out.push(format!("nw_tos={}", d << 2));
        }
        push(&mut out, mt, Field::IpEcn, "nw_ecn");
        push(&mut out, mt, Field::NwTtl, "nw_ttl");
        let (fv, fm) = get(Field::NwFrag);
        if fm != 0 {
            #[allow(clippy::cast_possible_truncation)] // 2-bit field
            let s = frag_name(fv as u8, fm as u8);
            out.push(format!("nw_frag={s}"));
        }
        match proto {
            Some(1 | 58) => {
                push(&mut out, mt, Field::Icmpv4Type, "icmp_type");
                push(&mut out, mt, Field::Icmpv4Code, "icmp_code");
            }
            Some(6 | 17 | 132) => {
                push(&mut out, mt, Field::TcpSrc, "tp_src");
                push(&mut out, mt, Field::TcpDst, "tp_dst");
            }
            _ => {}
        }
        if proto == Some(6) {
            push(&mut out, mt, Field::TcpFlags, "tcp_flags");
        }
    }
    out.join(",")
}

/// The fields of one packet (every field its protocols define), as
/// `ofproto/trace` prints its `Flow:` line.
pub fn packet_flow(key: &FlowKey) -> String {
    let mut mask = FlowMask::wildcard();
    for f in [Field::InPort, Field::EthSrc, Field::EthDst, Field::EthType] {
        mask.set_exact(f);
    }
    mask.key.vlan_tci = 0xffff;
    if key.tunnel_id != 0 {
        mask.set_exact(Field::TunnelId);
    }
    if key.metadata != 0 {
        mask.set_exact(Field::Metadata);
    }
    let ip = matches!(key.eth_type, ETH_IPV4 | ETH_IPV6);
    match key.eth_type {
        ETH_IPV4 => {
            mask.set_exact(Field::Ipv4Src);
            mask.set_exact(Field::Ipv4Dst);
        }
        ETH_IPV6 => {
            mask.set_exact(Field::Ipv6Src);
            mask.set_exact(Field::Ipv6Dst);
            mask.set_exact(Field::Ipv6Flabel);
        }
        ETH_ARP => {
            for f in [
                Field::ArpSpa,
                Field::ArpTpa,
                Field::ArpOp,
                Field::ArpSha,
                Field::ArpTha,
            ] {
                mask.set_exact(f);
            }
        }
        0x8847 | 0x8848 => {
            for f in [Field::MplsLabel, Field::MplsTc, Field::MplsBos] {
                mask.set_exact(f);
            }
        }
        _ => {}
    }
    if ip {
        for f in [
            Field::IpProto,
            Field::IpDscp,
            Field::IpEcn,
            Field::NwTtl,
            Field::NwFrag,
        ] {
            mask.set_exact(f);
        }
        match key.nw_proto {
            1 | 58 => {
                mask.set_exact(Field::Icmpv4Type);
                mask.set_exact(Field::Icmpv4Code);
            }
            6 | 17 | 132 => {
                mask.set_exact(Field::TcpSrc);
                mask.set_exact(Field::TcpDst);
                if key.nw_proto == 6 {
                    mask.set_exact(Field::TcpFlags);
                }
            }
            _ => {}
        }
    }
    of_match(&Match::new(*key, mask))
}

fn action(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } => match *port {
            OFPP_CONTROLLER => format!("CONTROLLER:{max_len}"),
            p if p >= OFPP_IN_PORT => port_name(p),
            p => format!("output:{p}"),
        },
        Action::CopyTtlOut => "copy_ttl_out".into(),
        Action::CopyTtlIn => "copy_ttl_in".into(),
        Action::SetMplsTtl(t) => format!("set_mpls_ttl:{t}"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(e) => format!("push_vlan:{e:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(e) => format!("push_mpls:{e:#06x}"),
        Action::PopMpls(e) => format!("pop_mpls:{e:#06x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("set_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField { field, value, mask } => match mask {
            Some(m) if *m != field.max_value() => format!(
                "set_field:{}/{m:#x}->{}",
                field_value(*field, *value),
                field_name(*field)
            ),
            _ => format!(
                "set_field:{}->{}",
                field_value(*field, *value),
                field_name(*field)
            ),
        },
        Action::PushPbb(e) => format!("push_pbb:{e:#06x}"),
        Action::PopPbb => "pop_pbb".into(),
    }
}

/// A rule's instructions in the ovs-ofctl spelling (`drop` when none).
pub fn of_instructions(ins: &Instructions) -> String {
    let mut out: Vec<String> = Vec::new();
    if let Some(m) = ins.meter {
        out.push(format!("meter:{m}"));
    }
    if let Some(a) = &ins.apply_actions {
        out.extend(a.iter().map(action));
    }
    if ins.clear_actions {
        out.push("clear_actions".into());
    }
    if let Some(a) = &ins.write_actions {
        out.push(format!(
            "write_actions({})",
            a.iter().map(action).collect::<Vec<_>>().join(",")
        ));
    }
    if let Some((v, m)) = ins.write_metadata {
        out.push(format!("write_metadata:{v:#x}/{m:#x}"));
    }
    if let Some(t) = ins.goto_table {
        out.push(format!("goto_table:{t}"));
    }
    if out.is_empty() {
        "drop".into()
    } else {
        out.join(",")
    }
}

fn normal_text(d: &NormalDecision, port: &dyn Fn(u32) -> String) -> String {
    if let Some(reason) = d.drop {
        let why = match reason {
            NormalDrop::NoInputPort => "the packet did not come from a port",
            NormalDrop::VlanNotAdmitted => "the input port does not carry the packet's VLAN",
            NormalDrop::ReservedMulticast => "reserved 802.1D group address",
            NormalDrop::MulticastSource => "multicast source address",
            NormalDrop::LearnedOnInputPort => "the destination was learned on the input port",
            NormalDrop::NoOtherPort => "no other port in the VLAN",
        };
        return format!("dropped: {why}");
    }
    let vlan = d
        .vlan
        .filter(|v| *v != 0)
        .map_or(String::new(), |v| format!(" in VLAN {v}"));
    if d.flooded {
        let ports: Vec<String> = d.outputs.iter().map(|o| port(o.port)).collect();
        format!(
            "no learned MAC for destination{vlan}, flooding to {}",
            ports.join(",")
        )
    } else {
        let ports: Vec<String> = d.outputs.iter().map(|o| port(o.port)).collect();
        format!("forwarding to learned port {}{vlan}", ports.join(","))
    }
}

/// The `ofproto/trace` report of translating `key` on bridge `bridge`:
/// every table looked up with the rule matched (or the miss) and its
/// actions, then the final flow, the megaflow with its mask, and the
/// datapath actions. `port` names ports for the report.
pub fn trace_text(
    bridge: &str,
    key: &FlowKey,
    t: &Translation,
    port: &dyn Fn(u32) -> String,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Flow: {}", packet_flow(key));
    let _ = writeln!(s);
    let title = format!("bridge(\"{bridge}\")");
    let _ = writeln!(s, "{title}");
    let _ = writeln!(s, "{}", "-".repeat(title.len()));
    let mut final_flow = None;
    for ev in &t.trace {
        match ev {
            TraceEvent::Lookup { table_id, rule, .. } => match rule {
                Some(r) => {
                    let m = of_match(&r.match_());
                    let mut head = if m.is_empty() {
                        format!("priority={}", r.priority)
                    } else {
                        format!("{m},priority={}", r.priority)
                    };
                    if r.cookie != 0 {
                        let _ = write!(head, ",cookie={:#x}", r.cookie);
                    }
                    let _ = writeln!(s, "{table_id:>2}. {head}");
                    let _ = writeln!(s, "    {}", of_instructions(&r.instructions));
                }
                None => {
                    let _ = writeln!(s, "{table_id:>2}. No match.");
                    let _ = writeln!(s, "    drop");
                }
            },
            TraceEvent::ActionSet => {
                let _ = writeln!(s, "    -> executing the action set");
            }
            TraceEvent::Group {
                group_id,
                group_type,
                bucket,
            } => {
                let ty = match group_type {
                    GroupType::All => "all",
                    GroupType::Select => "select",
                    GroupType::Indirect => "indirect",
                    GroupType::FastFailover => "fast_failover",
                };
                let b = bucket.map_or_else(
                    || {
                        if *group_type == GroupType::All {
                            "every bucket".to_string()
                        } else {
                            "no live bucket".to_string()
                        }
                    },
                    |b| format!("bucket {b}"),
                );
                let _ = writeln!(s, "    group:{group_id} (type {ty}): {b}");
            }
            TraceEvent::Normal(d) => {
                let _ = writeln!(s, "     -> {}", normal_text(d, port));
            }
            TraceEvent::InvalidTtl => {
                let _ = writeln!(s, "     -> invalid TTL, the packet stops");
            }
            TraceEvent::NoRecv => {
                let _ = writeln!(s, "     -> the input port does not receive; dropped");
            }
            TraceEvent::FragmentDropped => {
                let _ = writeln!(s, "     -> IP fragment dropped (frag=drop)");
            }
            TraceEvent::Output { port: p, packet } => {
                final_flow = Some(*packet);
                if *p == OFPP_CONTROLLER {
                    let _ = writeln!(s, "     -> sent to the controller");
                } else {
                    let _ = writeln!(s, "     -> output to {}", port(*p));
                }
            }
            TraceEvent::OutputSkipped { port: p } => {
                let _ = writeln!(s, "     -> output to {} skipped", port(*p));
            }
            TraceEvent::Error(e) => {
                let why = match e {
                    XlateError::TooDeep => "too deep",
                    XlateError::TooManyResubmits => "too many resubmits",
                    XlateError::TooManyActions => "too many actions",
                };
                let _ = writeln!(s, "     -> translation stopped: {why}");
            }
        }
    }
    let _ = writeln!(s);
    match final_flow {
        Some(f) if f != *key => {
            let _ = writeln!(s, "Final flow: {}", packet_flow(&f));
        }
        _ => {
            let _ = writeln!(s, "Final flow: unchanged");
        }
    }
    let mega = of_match(&Match::new(*key, t.mask));
    let _ = writeln!(
        s,
        "Megaflow: recirc_id=0{}{mega}",
        if mega.is_empty() { "" } else { "," }
    );
    let _ = writeln!(s, "Datapath actions: {}", dp_actions(&t.actions));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    fn tcp_key() -> FlowKey {
        FlowKey {
            in_port: 1,
            eth_src: [2, 0, 0, 0, 0, 1],
            eth_dst: [2, 0, 0, 0, 0, 2],
            eth_type: 0x0800,
            ipv4_src: u32::from(Ipv4Addr::new(198, 18, 0, 1)),
            ipv4_dst: u32::from(Ipv4Addr::new(198, 18, 0, 2)),
            nw_proto: 6,
            nw_ttl: 64,
            tp_src: 1000,
            tp_dst: 80,
            ..FlowKey::default()
        }
    }

    #[test]
    fn a_megaflow_shows_examined_fields_with_their_masks() {
        let mut mask = FlowMask::wildcard();
        mask.set_exact(Field::InPort);
        mask.set_exact(Field::EthSrc);
        mask.set_exact(Field::EthDst);
        mask.set_exact(Field::EthType);
        mask.set_exact(Field::Ipv4Dst);
        mask.or_field(Field::NwFrag, 3);
        mask.or_field(Field::Ipv4Src, 0xffff_ff00);
        assert_eq!(
            odp_flow(&tcp_key(), &mask),
            "recirc_id(0),in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),\
             eth_type(0x0800),ipv4(src=198.18.0.0/255.255.255.0,\
             dst=198.18.0.2/255.255.255.255,frag=no)"
        );
        mask.set_exact(Field::IpProto);
        mask.set_exact(Field::TcpDst);
        assert!(odp_flow(&tcp_key(), &mask).ends_with("proto=6,frag=no),tcp(dst=80)"));
        let mut vm = FlowMask::wildcard();
        vm.set_exact(Field::VlanVid);
        assert_eq!(odp_flow(&tcp_key(), &vm), "recirc_id(0),vlan(none)");
    }

    #[test]
    fn datapath_actions_read_like_open_vswitch() {
        assert_eq!(dp_actions(&[]), "drop");
        let acts: smallvec::SmallVec<[DpAction; 4]> = smallvec![
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: 0x1000 | 10
            },
            DpAction::Output(2),
            DpAction::PopVlan,
            DpAction::SetField {
                field: Field::EthDst,
                value: 0x0200_0000_0003,
                mask: Field::EthDst.max_value()
            },
            DpAction::Output(3),
        ];
        assert_eq!(
            dp_actions(&acts),
            "push_vlan(vid=10,pcp=0),2,pop_vlan,set(eth(dst=02:00:00:00:00:03)),3"
        );
    }

    #[test]
    fn matches_and_actions_use_the_ofctl_spelling() {
        let mut m = Match::catch_all();
        assert_eq!(of_match(&m), "");
        m.set(Field::EthType, 0x0800);
        m.set(Field::IpProto, 6);
        m.set(Field::TcpDst, 80);
        m.set_masked(Field::Ipv4Dst, 0xc612_0000, 0xffff_ff00);
        m.set(Field::InPort, 3);
        assert_eq!(of_match(&m), "tcp,in_port=3,nw_dst=198.18.0.0/24,tp_dst=80");
        let ins = Instructions::apply(vec![
            Action::Output {
                port: OFPP_NORMAL,
                max_len: 0,
            },
            Action::Output {
                port: 2,
                max_len: 0,
            },
            Action::SetField {
                field: Field::Ipv4Dst,
                value: 0xc612_0001,
                mask: None,
            },
        ])
        .with_goto(2);
        assert_eq!(
            of_instructions(&ins),
            "NORMAL,output:2,set_field:198.18.0.1->nw_dst,goto_table:2"
        );
        assert_eq!(of_instructions(&Instructions::drop()), "drop");
    }

    #[test]
    fn a_packet_flow_lists_its_protocol_fields() {
        assert_eq!(
            packet_flow(&tcp_key()),
            "tcp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,\
             nw_src=198.18.0.1,nw_dst=198.18.0.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,\
             tp_src=1000,tp_dst=80,tcp_flags=0x0"
        );
    }
}
