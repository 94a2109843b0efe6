//! The packet description `ctl trace` takes: comma-separated `field=value`
//! pairs and protocol shorthands in the ovs-ofctl spelling
//! (`in_port=1,dl_src=02:00:00:00:00:01,tcp,nw_dst=198.18.0.1,tp_dst=80`),
//! turned into the [`FlowKey`] of one packet.
//!
//! # Shape
//!
//! This describes a packet, not a flow match: every field takes a plain
//! value (no masks), and what is not given is zero, except that an IP
//! packet's TTL defaults to 64 (so a `dec_ttl` in the traced pipeline does
//! not see an expired packet). Shorthands (`ip`, `tcp`, `udp6`, `arp`, ...)
//! set the ethertype and protocol; a transport field without a protocol
//! that carries it is refused, as is a field given twice. Every error is
//! one line starting with the field's name.

use datapath::flow::{frag, FlowKey, VLAN_PRESENT};
use datapath::ofproto::OFPP_LOCAL;
use std::net::{Ipv4Addr, Ipv6Addr};

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;

fn bad(field: &str, v: &str, what: &str) -> String {
    format!("{field}: \"{}\" is not {what}", v.escape_debug())
}

fn num<T: TryFrom<u64>>(field: &str, v: &str, what: &str) -> Result<T, String> {
    let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        v.parse::<u64>().ok()
    };
    n.and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| bad(field, v, what))
}

fn mac(field: &str, v: &str) -> Result<[u8; 6], String> {
    crate::container::parse_mac(v).map_err(|_| bad(field, v, "a MAC address"))
}

fn ipv4(field: &str, v: &str) -> Result<u32, String> {
    v.parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| bad(field, v, "an IPv4 address"))
}

fn ipv6(field: &str, v: &str) -> Result<[u8; 16], String> {
    v.parse::<Ipv6Addr>()
        .map(|a| a.octets())
        .map_err(|_| bad(field, v, "an IPv6 address"))
}

/// Parses a packet description. `port_by_name` resolves an `in_port` given
/// by name (`LOCAL` is always known).
pub fn parse_packet(
    text: &str,
    port_by_name: impl Fn(&str) -> Option<u32>,
) -> Result<FlowKey, String> {
    let mut k = FlowKey::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut ttl_given = false;
    let mut l4_fields: Vec<&str> = Vec::new();
    let text = text.trim();
    if text.is_empty() {
        return Err("flow: the packet description is empty".into());
    }
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err("flow: empty item between commas".into());
        }
        let (f, v) = match item.split_once('=') {
            Some((f, v)) => (f.trim(), v.trim()),
            None => (item, ""),
        };
        let canon = canonical(f);
        if seen.contains(&canon) {
            return Err(if canon == "proto" {
                format!("{f}: a protocol is already given")
            } else {
                format!("{f}: given twice")
            });
        }
        seen.push(canon);
        if v.is_empty() {
            let (et, proto) = match f {
                "ip" => (ETH_IPV4, None),
                "ipv6" => (ETH_IPV6, None),
                "arp" => (ETH_ARP, None),
                "icmp" => (ETH_IPV4, Some(1)),
                "tcp" => (ETH_IPV4, Some(6)),
                "udp" => (ETH_IPV4, Some(17)),
                "sctp" => (ETH_IPV4, Some(132)),
                "icmp6" => (ETH_IPV6, Some(58)),
                "tcp6" => (ETH_IPV6, Some(6)),
                "udp6" => (ETH_IPV6, Some(17)),
                "sctp6" => (ETH_IPV6, Some(132)),
                _ if is_field(f) => return Err(format!("{f}: needs a value ({f}=VALUE)")),
                _ => return Err(format!("{f}: unknown field or protocol")),
            };
            k.eth_type = et;
            if let Some(p) = proto {
                k.nw_proto = p;
            }
            continue;
        }
        match f {
            "in_port" => {
                k.in_port = if v == "LOCAL" {
                    OFPP_LOCAL
                } else if v.bytes().all(|b| b.is_ascii_digit()) {
                    num(f, v, "a port number")?
                } else {
                    port_by_name(v)
                        .ok_or_else(|| format!("in_port: no port named \"{}\"", v.escape_debug()))?
                };
                k.in_phy_port = k.in_port;
            }
            "dl_src" | "eth_src" => k.eth_src = mac(f, v)?,
            "dl_dst" | "eth_dst" => k.eth_dst = mac(f, v)?,
            "dl_type" | "eth_type" => k.eth_type = num(f, v, "an ethertype")?,
            "dl_vlan" | "vlan_vid" => {
                let vid: u16 = num(f, v, "a VLAN id (0-4095)")?;
                if vid > 4095 {
                    return Err(bad(f, v, "a VLAN id (0-4095)"));
                }
                k.vlan_tci = (k.vlan_tci & 0xe000) | VLAN_PRESENT | vid;
                k.vlan_tpid = 0x8100;
            }
            "dl_vlan_pcp" | "vlan_pcp" => {
                let pcp: u16 = num(f, v, "a VLAN priority (0-7)")?;
                if pcp > 7 {
                    return Err(bad(f, v, "a VLAN priority (0-7)"));
                }
                k.vlan_tci = (k.vlan_tci & 0x1fff) | (pcp << 13) | VLAN_PRESENT;
                k.vlan_tpid = 0x8100;
            }
            "vlan_tci" => {
                k.vlan_tci = num(f, v, "a VLAN TCI")?;
                k.vlan_tpid = if k.vlan_tci & VLAN_PRESENT != 0 {
                    0x8100
                } else {
                    0
                };
            }
            "nw_src" | "ip_src" => k.ipv4_src = ipv4(f, v)?,
            "nw_dst" | "ip_dst" => k.ipv4_dst = ipv4(f, v)?,
            "arp_spa" => k.ipv4_src = ipv4(f, v)?,
            "arp_tpa" => k.ipv4_dst = ipv4(f, v)?,
            "arp_sha" => k.arp_sha = mac(f, v)?,
            "arp_tha" => k.arp_tha = mac(f, v)?,
            "arp_op" => k.arp_op = num(f, v, "an ARP opcode")?,
            "ipv6_src" => k.ipv6_src = ipv6(f, v)?,
            "ipv6_dst" => k.ipv6_dst = ipv6(f, v)?,
            "ipv6_label" => {
                let l: u32 = num(f, v, "a flow label (20 bits)")?;
                if l > 0xf_ffff {
                    return Err(bad(f, v, "a flow label (20 bits)"));
                }
                k.ipv6_label = l;
            }
            "nw_proto" | "ip_proto" => k.nw_proto = num(f, v, "an IP protocol (0-255)")?,
            "nw_tos" => {
                let t: u8 = num(f, v, "a TOS value (0-255)")?;
                k.nw_tos = (k.nw_tos & 3) | (t & 0xfc);
            }
            "ip_dscp" => {
                let d: u8 = num(f, v, "a DSCP value (0-63)")?;
                if d > 63 {
                    return Err(bad(f, v, "a DSCP value (0-63)"));
                }
                k.nw_tos = (k.nw_tos & 3) | (d << 2);
            }
            "nw_ecn" | "ip_ecn" => {
                let e: u8 = num(f, v, "an ECN value (0-3)")?;
                if e > 3 {
                    return Err(bad(f, v, "an ECN value (0-3)"));
                }
                k.nw_tos = (k.nw_tos & !3) | e;
            }
            "nw_ttl" => {
                k.nw_ttl = num(f, v, "a TTL (0-255)")?;
                ttl_given = true;
            }
            "nw_frag" => {
                k.nw_frag = match v {
                    "no" => 0,
                    "first" => frag::ANY,
                    "later" => frag::ANY | frag::LATER,
                    _ => return Err(bad(f, v, "a fragment state (no, first, later)")),
                }
            }
            "tp_src" | "tcp_src" | "udp_src" | "sctp_src" => {
                k.tp_src = num(f, v, "a port (0-65535)")?;
                l4_fields.push(f);
            }
            "tp_dst" | "tcp_dst" | "udp_dst" | "sctp_dst" => {
                k.tp_dst = num(f, v, "a port (0-65535)")?;
                l4_fields.push(f);
            }
            "icmp_type" | "icmpv6_type" => {
                let t: u8 = num(f, v, "an ICMP type (0-255)")?;
                k.tp_src = t.into();
                l4_fields.push(f);
            }
            "icmp_code" | "icmpv6_code" => {
                let c: u8 = num(f, v, "an ICMP code (0-255)")?;
                k.tp_dst = c.into();
                l4_fields.push(f);
            }
            "tcp_flags" => {
                let fl: u16 = num(f, v, "TCP flags (12 bits)")?;
                if fl > 0xfff {
                    return Err(bad(f, v, "TCP flags (12 bits)"));
                }
                k.tcp_flags = fl;
                l4_fields.push(f);
            }
            "metadata" => k.metadata = num(f, v, "a 64-bit value")?,
            "tun_id" | "tunnel_id" => k.tunnel_id = num(f, v, "a 64-bit value")?,
            "mpls_label" => {
                let l: u32 = num(f, v, "an MPLS label (20 bits)")?;
                if l > 0xf_ffff {
                    return Err(bad(f, v, "an MPLS label (20 bits)"));
                }
                k.mpls_lse = (k.mpls_lse & 0xfff) | (l << 12);
            }
            _ => return Err(format!("{f}: unknown field")),
        }
    }
    // Prerequisites of what was given.
    let ip = k.eth_type == ETH_IPV4 || k.eth_type == ETH_IPV6;
    for f in &l4_fields {
        let ok = match *f {
            "icmp_type" | "icmp_code" => k.eth_type == ETH_IPV4 && k.nw_proto == 1,
            "icmpv6_type" | "icmpv6_code" => k.eth_type == ETH_IPV6 && k.nw_proto == 58,
            "tcp_flags" => ip && k.nw_proto == 6,
            _ => ip && matches!(k.nw_proto, 6 | 17 | 132),
        };
        if !ok {
            return Err(format!(
                "{f}: needs a protocol that carries it (tcp, udp, sctp, icmp, ...)"
            ));
        }
    }
    for (f, need) in [
        ("nw_src", ETH_IPV4),
        ("nw_dst", ETH_IPV4),
        ("ip_src", ETH_IPV4),
        ("ip_dst", ETH_IPV4),
        ("arp_spa", ETH_ARP),
        ("arp_tpa", ETH_ARP),
        ("arp_sha", ETH_ARP),
        ("arp_tha", ETH_ARP),
        ("arp_op", ETH_ARP),
        ("ipv6_src", ETH_IPV6),
        ("ipv6_dst", ETH_IPV6),
        ("ipv6_label", ETH_IPV6),
    ] {
        if seen.iter().any(|s| *s == canonical(f)) && text_has(text, f) && k.eth_type != need {
            return Err(format!(
                "{f}: needs dl_type=0x{need:04x} (or the matching shorthand)"
            ));
        }
    }
    for f in [
        "nw_proto", "ip_proto", "nw_tos", "ip_dscp", "nw_ecn", "ip_ecn", "nw_ttl", "nw_frag",
    ] {
        if text_has(text, f) && !ip {
            return Err(format!("{f}: needs an IP packet (ip, ipv6, tcp, ...)"));
        }
    }
    if ip && !ttl_given {
        k.nw_ttl = 64;
    }
    Ok(k)
}

/// Whether `text` names field `f` (as `f=...`).
fn text_has(text: &str, f: &str) -> bool {
    text.split(',')
        .any(|item| item.split_once('=').is_some_and(|(n, _)| n.trim() == f))
}

/// Aliases share one name, so a field given twice under two names is caught.
fn canonical(f: &str) -> &str {
    match f {
        "eth_src" => "dl_src",
        "eth_dst" => "dl_dst",
        "eth_type" => "dl_type",
        "vlan_vid" => "dl_vlan",
        "vlan_pcp" => "dl_vlan_pcp",
        "ip_src" | "arp_spa" => "nw_src",
        "ip_dst" | "arp_tpa" => "nw_dst",
        "ip_proto" => "nw_proto",
        "ip_ecn" => "nw_ecn",
        "ip_dscp" => "nw_tos",
        "tcp_src" | "udp_src" | "sctp_src" | "icmp_type" | "icmpv6_type" => "tp_src",
        "tcp_dst" | "udp_dst" | "sctp_dst" | "icmp_code" | "icmpv6_code" => "tp_dst",
        "tunnel_id" => "tun_id",
        "ip" | "ipv6" | "arp" | "icmp" | "tcp" | "udp" | "sctp" | "icmp6" | "tcp6" | "udp6"
        | "sctp6" => "proto",
        other => other,
    }
}

fn is_field(f: &str) -> bool {
    matches!(
        f,
        "in_port"
            | "dl_src"
            | "eth_src"
            | "dl_dst"
            | "eth_dst"
            | "dl_type"
            | "eth_type"
            | "dl_vlan"
            | "vlan_vid"
            | "dl_vlan_pcp"
            | "vlan_pcp"
            | "vlan_tci"
            | "nw_src"
            | "nw_dst"
            | "ip_src"
            | "ip_dst"
            | "arp_spa"
            | "arp_tpa"
            | "arp_sha"
            | "arp_tha"
            | "arp_op"
            | "ipv6_src"
            | "ipv6_dst"
            | "ipv6_label"
            | "nw_proto"
            | "ip_proto"
            | "nw_tos"
            | "ip_dscp"
            | "nw_ecn"
            | "ip_ecn"
            | "nw_ttl"
            | "nw_frag"
            | "tp_src"
            | "tp_dst"
            | "tcp_src"
            | "tcp_dst"
            | "udp_src"
            | "udp_dst"
            | "sctp_src"
            | "sctp_dst"
            | "icmp_type"
            | "icmp_code"
            | "icmpv6_type"
            | "icmpv6_code"
            | "tcp_flags"
            | "metadata"
            | "tun_id"
            | "tunnel_id"
            | "mpls_label"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<FlowKey, String> {
        parse_packet(s, |n| (n == "veth1").then_some(5))
    }

    #[test]
    fn a_tcp_packet_description_fills_the_key() {
        let k = p("in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_dst=80").unwrap();
        assert_eq!(k.in_port, 1);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(k.nw_proto, 6);
        assert_eq!(k.ipv4_dst, u32::from(Ipv4Addr::new(198, 18, 0, 2)));
        assert_eq!(k.tp_dst, 80);
        assert_eq!(k.nw_ttl, 64);
        assert_eq!(k.eth_src, [2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn ports_are_found_by_name_and_vlans_set_the_present_bit() {
        let k = p("in_port=veth1,dl_vlan=10,dl_vlan_pcp=3").unwrap();
        assert_eq!(k.in_port, 5);
        assert_eq!(k.vlan_tci, VLAN_PRESENT | 10 | (3 << 13));
        assert_eq!(p("in_port=LOCAL").unwrap().in_port, OFPP_LOCAL);
    }

    #[test]
    fn mistakes_name_the_field() {
        let cases = [
            ("in_port=1,nw_dst=300.1.1.1,ip", "nw_dst:"),
            ("in_port=1,tp_dst=80", "tp_dst:"),
            ("in_port=1,ip,tp_dst=80", "tp_dst:"),
            ("in_port=nosuch", "in_port:"),
            ("in_port=1,in_port=2", "in_port:"),
            ("in_port=1,color=red", "color:"),
            ("dl_src=zz", "dl_src:"),
            ("in_port=1,nw_dst=198.18.0.1", "nw_dst:"),
            ("in_port", "in_port:"),
            ("", "flow:"),
            ("in_port=1,,ip", "flow:"),
            ("dl_vlan=5000", "dl_vlan:"),
            ("tcp,udp", "udp:"),
        ];
        for (s, field) in cases {
            let e = p(s).unwrap_err();
            assert!(e.starts_with(field) && !e.contains('\n'), "{s}: {e}");
        }
    }
}
