//! Printing a `datapath::flow::Match` the way `ovs-ofctl` prints a match:
//! a protocol shorthand first (`tcp`, `arp`, ...), then fields in Open
//! vSwitch's fixed order, each in its own notation (decimal ports, hex
//! metadata, CIDR prefixes where the mask is one).
//!
//! The order and notations follow ovs-fields(7) output as `ovs-ofctl 3.x`
//! produces it, so text printed here can be compared with its output field
//! for field, and parsed back by [`crate::flow_syntax`] to the same match.

use datapath::flow::{Field, Match};

use crate::flow_syntax::value::{cidr_len, fmt_ipv4, fmt_ipv6, fmt_mac, port_name};
use crate::flow_syntax::TCP_FLAG_NAMES;

/// The priority OpenFlow gives a flow that does not say (`OFP_DEFAULT_PRIORITY`).
pub const DEFAULT_PRIORITY: u16 = 0x8000;

/// `%#x` as C prints it: `0` for zero, `0x..` otherwise.
pub fn c_alt_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn push(s: &mut String, name: &str, value: &str) {
    s.push_str(name);
    s.push('=');
    s.push_str(value);
    s.push(',');
}

/// `aa:bb:..` or `aa:bb:../mask` (nothing when the mask is zero).
fn eth_masked(s: &mut String, name: &str, v: u128, m: u128) {
    if m == 0 {
        return;
    }
    let mut t = fmt_mac(v);
    if m != 0xffff_ffff_ffff {
        t.push('/');
        t.push_str(&fmt_mac(m));
    }
    push(s, name, &t);
}

/// An IPv4 address, `/len` for a CIDR mask, `/a.b.c.d` otherwise.
pub fn ipv4_masked_text(v: u128, m: u128) -> String {
    let mut t = fmt_ipv4(v);
    if m != 0xffff_ffff {
        match cidr_len(m, 32) {
            Some(n) => t.push_str(&format!("/{n}")),
            None => {
                t.push('/');
                t.push_str(&fmt_ipv4(m));
            }
        }
    }
    t
}

fn ip_masked(s: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        push(s, name, &ipv4_masked_text(v, m));
    }
}

/// An IPv6 address with its mask in the same way.
pub fn ipv6_masked_text(v: u128, m: u128) -> String {
    let mut t = fmt_ipv6(v);
    if m != u128::MAX {
        match cidr_len(m, 128) {
            Some(n) => t.push_str(&format!("/{n}")),
            None => {
                t.push('/');
                t.push_str(&fmt_ipv6(m));
            }
        }
    }
    t
}

fn ipv6_masked(s: &mut String, name: &str, v: u128, m: u128) {
    if m != 0 {
        push(s, name, &ipv6_masked_text(v, m));
    }
}

/// A 16-bit field: decimal when exact, `0x../0x..` otherwise.
fn be16_masked(s: &mut String, name: &str, v: u128, m: u128) {
    if m == 0 {
        return;
    }
    if m == 0xffff {
        push(s, name, &v.to_string());
    } else {
        push(s, name, &format!("{v:#x}/{m:#x}"));
    }
}

/// A 64-bit field in `%#x` notation, with `/mask` unless exact.
fn be64_masked(s: &mut String, name: &str, v: u128, m: u128) {
    if m == 0 {
        return;
    }
    let mut t = c_alt_hex(v);
    if m != u128::from(u64::MAX) {
        t.push('/');
        t.push_str(&c_alt_hex(m));
    }
    push(s, name, &t);
}

/// TCP flags as `ovs-ofctl` prints them: `syn|ack` when every flag is
/// examined, `+syn-ack` for a partial mask.
pub fn tcp_flags_text(v: u128, m: u128) -> String {
    let name = |bit: usize| -> String {
        TCP_FLAG_NAMES
            .get(bit)
            .map_or_else(|| format!("[{:x}]", 1u32 << bit), |n| (*n).to_string())
    };
    if m == 0xfff {
        if v == 0 {
            return "0".to_string();
        }
        return (0..12)
            .filter(|b| v >> b & 1 != 0)
            .map(name)
            .collect::<Vec<_>>()
            .join("|");
    }
    if m == 0 {
        return "0/0".to_string();
    }
    (0..12)
        .filter(|b| m >> b & 1 != 0)
        .map(|b| format!("{}{}", if v >> b & 1 != 0 { '+' } else { '-' }, name(b)))
        .collect()
}

/// One VLAN tag slot (`dl_vlan`, `dl_vlan_pcp` or `vlan_tci`, with
/// `suffix` after the name for inner tags).
fn vlan_slot(s: &mut String, suffix: &str, tci: u16, tci_mask: u16) {
    if tci_mask == 0 {
        return;
    }
    let vid_mask = tci_mask & 0x0fff;
    let pcp_mask = tci_mask & 0xe000;
    let cfi = tci_mask & 0x1000;
    if cfi != 0
        && tci & 0x1000 != 0
        && (vid_mask == 0 || vid_mask == 0x0fff)
        && (pcp_mask == 0 || pcp_mask == 0xe000)
        && (vid_mask != 0 || pcp_mask != 0)
    {
        if vid_mask != 0 {
            push(s, &format!("dl_vlan{suffix}"), &(tci & 0x0fff).to_string());
        }
        if pcp_mask != 0 {
            push(s, &format!("dl_vlan_pcp{suffix}"), &(tci >> 13).to_string());
        }
    } else if tci_mask == 0xffff {
        push(s, &format!("vlan_tci{suffix}"), &format!("0x{tci:04x}"));
    } else {
        push(
            s,
            &format!("vlan_tci{suffix}"),
            &format!("0x{tci:04x}/0x{tci_mask:04x}"),
        );
    }
}

/// The match as `ovs-ofctl` prints it; `priority` is printed first unless
/// it is the default (or `None`).
pub fn format_match(m: &Match, priority: Option<u16>) -> String {
    let mut s = String::new();
    if let Some(p) = priority {
        if p != DEFAULT_PRIORITY {
            push(&mut s, "priority", &p.to_string());
        }
    }
    let (eth_type, eth_mask) = m.get(Field::EthType);
    let (proto, proto_mask) = m.get(Field::IpProto);
    let mut skip_type = false;
    let mut skip_proto = false;
    if eth_mask != 0 {
        skip_type = true;
        let name = match eth_type {
            0x0800 if proto_mask != 0 => {
                skip_proto = true;
                match proto {
                    1 => "icmp",
                    2 => "igmp",
                    6 => "tcp",
                    17 => "udp",
                    132 => "sctp",
                    _ => {
                        skip_proto = false;
                        "ip"
                    }
                }
            }
            0x0800 => "ip",
            0x86dd if proto_mask != 0 => {
                skip_proto = true;
                match proto {
                    58 => "icmp6",
                    6 => "tcp6",
                    17 => "udp6",
                    132 => "sctp6",
                    _ => {
                        skip_proto = false;
                        "ipv6"
                    }
                }
            }
            0x86dd => "ipv6",
            0x0806 => "arp",
            0x8035 => "rarp",
            0x8847 => "mpls",
            0x8848 => "mplsm",
            _ => {
                skip_type = false;
                ""
            }
        };
        if skip_type {
            s.push_str(name);
            s.push(',');
        }
    }
    let (v, mk) = m.get(Field::TunnelId);
    be64_masked(&mut s, "tun_id", v, mk);
    let (v, mk) = m.get(Field::TunIpv4Src);
    ip_masked(&mut s, "tun_src", v, mk);
    let (v, mk) = m.get(Field::TunIpv4Dst);
    ip_masked(&mut s, "tun_dst", v, mk);
    let (v, mk) = m.get(Field::Metadata);
    be64_masked(&mut s, "metadata", v, mk);
    let (v, mk) = m.get(Field::InPort);
    if mk != 0 {
        push(
            &mut s,
            "in_port",
            &port_name(u32::try_from(v).unwrap_or(u32::MAX)),
        );
    }
    vlan_slot(&mut s, "", m.key.vlan_tci, m.mask.key.vlan_tci);
    if m.mask.key.vlan_tci != 0 {
        vlan_slot(&mut s, "1", m.key.vlan_tci_inner, m.mask.key.vlan_tci_inner);
    }
    let (v, mk) = m.get(Field::EthSrc);
    eth_masked(&mut s, "dl_src", v, mk);
    let (v, mk) = m.get(Field::EthDst);
    eth_masked(&mut s, "dl_dst", v, mk);
    if !skip_type && eth_mask != 0 {
        push(&mut s, "dl_type", &format!("0x{eth_type:04x}"));
    }
    let is_arp = eth_mask != 0 && (eth_type == 0x0806 || eth_type == 0x8035);
    let is_ip6 = eth_mask != 0 && eth_type == 0x86dd;
    let is_ip4 = eth_mask != 0 && eth_type == 0x0800;
    if is_ip6 {
        let (v, mk) = m.get(Field::Ipv6Src);
        ipv6_masked(&mut s, "ipv6_src", v, mk);
        let (v, mk) = m.get(Field::Ipv6Dst);
        ipv6_masked(&mut s, "ipv6_dst", v, mk);
        let (v, mk) = m.get(Field::Ipv6Flabel);
        if mk != 0 {
            if mk == 0xf_ffff {
                push(&mut s, "ipv6_label", &format!("0x{v:05x}"));
            } else {
                push(&mut s, "ipv6_label", &format!("0x{v:05x}/0x{mk:05x}"));
            }
        }
    } else if is_arp {
        let (v, mk) = m.get(Field::ArpSpa);
        ip_masked(&mut s, "arp_spa", v, mk);
        let (v, mk) = m.get(Field::ArpTpa);
        ip_masked(&mut s, "arp_tpa", v, mk);
    } else {
        let (v, mk) = m.get(Field::Ipv4Src);
        ip_masked(&mut s, "nw_src", v, mk);
        let (v, mk) = m.get(Field::Ipv4Dst);
        ip_masked(&mut s, "nw_dst", v, mk);
    }
    if is_arp {
        let (v, mk) = m.get(Field::ArpOp);
        if mk != 0 {
            push(&mut s, "arp_op", &v.to_string());
        }
    } else if !skip_proto && proto_mask != 0 {
        push(&mut s, "nw_proto", &proto.to_string());
    }
    if is_arp {
        let (v, mk) = m.get(Field::ArpSha);
        eth_masked(&mut s, "arp_sha", v, mk);
        let (v, mk) = m.get(Field::ArpTha);
        eth_masked(&mut s, "arp_tha", v, mk);
    }
    let tos = m.key.nw_tos;
    let tos_mask = m.mask.key.nw_tos;
    if tos_mask & 0xfc != 0 {
        push(&mut s, "nw_tos", &(tos & 0xfc).to_string());
    }
    if tos_mask & 0x03 != 0 {
        push(&mut s, "nw_ecn", &(tos & 0x03).to_string());
    }
    let (v, mk) = m.get(Field::NwTtl);
    if mk != 0 {
        push(&mut s, "nw_ttl", &v.to_string());
    }
    let lse_mask = m.mask.key.mpls_lse;
    if lse_mask & 0xffff_f000 != 0 {
        push(&mut s, "mpls_label", &m.get(Field::MplsLabel).0.to_string());
    }
    if lse_mask & 0x0e00 != 0 {
        push(&mut s, "mpls_tc", &m.get(Field::MplsTc).0.to_string());
    }
    if lse_mask & 0xff != 0 {
        push(&mut s, "mpls_ttl", &m.get(Field::MplsTtl).0.to_string());
    }
    if lse_mask & 0x100 != 0 {
        push(&mut s, "mpls_bos", &m.get(Field::MplsBos).0.to_string());
    }
    let (v, mk) = m.get(Field::PbbIsid);
    if mk != 0 {
        if mk == 0xff_ffff {
            push(&mut s, "pbb_isid", &v.to_string());
        } else {
            push(&mut s, "pbb_isid", &format!("{v:#x}/{mk:#x}"));
        }
    }
    let frag = m.key.nw_frag & 3;
    match m.mask.key.nw_frag & 3 {
        3 => push(
            &mut s,
            "nw_frag",
            match frag {
                3 => "later",
                1 => "first",
                2 => "<error>",
                _ => "no",
            },
        ),
        1 => push(&mut s, "nw_frag", if frag & 1 != 0 { "yes" } else { "no" }),
        2 => push(
            &mut s,
            "nw_frag",
            if frag & 2 != 0 { "later" } else { "not_later" },
        ),
        _ => {}
    }
    let tp_src = u128::from(m.key.tp_src);
    let tp_src_m = u128::from(m.mask.key.tp_src);
    let tp_dst = u128::from(m.key.tp_dst);
    let tp_dst_m = u128::from(m.mask.key.tp_dst);
    if is_ip4 && proto == 1 {
        be16_masked(&mut s, "icmp_type", tp_src, tp_src_m);
        be16_masked(&mut s, "icmp_code", tp_dst, tp_dst_m);
    } else if is_ip4 && proto == 2 {
        be16_masked(&mut s, "igmp_type", tp_src, tp_src_m);
        be16_masked(&mut s, "igmp_code", tp_dst, tp_dst_m);
    } else if is_ip6 && proto == 58 {
        be16_masked(&mut s, "icmp_type", tp_src, tp_src_m);
        be16_masked(&mut s, "icmp_code", tp_dst, tp_dst_m);
        let (v, mk) = m.get(Field::Ipv6NdTarget);
        ipv6_masked(&mut s, "nd_target", v, mk);
        let (v, mk) = m.get(Field::Ipv6NdSll);
        eth_masked(&mut s, "nd_sll", v, mk);
        let (v, mk) = m.get(Field::Ipv6NdTll);
        eth_masked(&mut s, "nd_tll", v, mk);
    } else {
        be16_masked(&mut s, "tp_src", tp_src, tp_src_m);
        be16_masked(&mut s, "tp_dst", tp_dst, tp_dst_m);
    }
    let (v, mk) = m.get(Field::TcpFlags);
    if (is_ip4 || is_ip6) && proto == 6 && mk != 0 {
        push(&mut s, "tcp_flags", &tcp_flags_text(v, mk));
    }
    if s.ends_with(',') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_syntax::parse_match;

    fn round(s: &str) -> String {
        format_match(&parse_match(s).unwrap().match_, None)
    }

    #[test]
    fn shorthand_comes_first_and_fields_follow_in_ovs_order() {
        assert_eq!(
            round("tp_dst=80,dl_src=00:11:22:33:44:55/ff:ff:ff:00:00:00,tcp"),
            "tcp,dl_src=00:11:22:00:00:00/ff:ff:ff:00:00:00,tp_dst=80"
        );
        assert_eq!(
            round("in_port=1,ip,nw_dst=10.1.0.0/16"),
            "ip,in_port=1,nw_dst=10.1.0.0/16"
        );
    }

    #[test]
    fn vlan_tci_prints_as_dl_vlan_when_it_can() {
        assert_eq!(round("dl_vlan=5"), "dl_vlan=5");
        assert_eq!(round("vlan_vid=5"), "vlan_tci=0x0005/0x1fff");
        assert_eq!(round("dl_vlan=0xffff"), "vlan_tci=0x0000/0x1fff");
        assert_eq!(round("vlan_tci=0x1000/0x1000"), "vlan_tci=0x1000/0x1000");
    }

    #[test]
    fn zero_metadata_prints_like_c() {
        assert_eq!(round("metadata=0"), "metadata=0");
        assert_eq!(round("metadata=0x10/0xf0"), "metadata=0x10/0xf0");
    }

    #[test]
    fn tcp_flags_print_names() {
        assert_eq!(round("tcp,tcp_flags=+syn-ack"), "tcp,tcp_flags=+syn-ack");
        assert_eq!(round("tcp,tcp_flags=0x012"), "tcp,tcp_flags=syn|ack");
    }
}
