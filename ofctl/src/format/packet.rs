//! A frame printed as `ovs-ofctl` prints the packet of a PACKET_IN or
//! PACKET_OUT: the flow Open vSwitch would extract from it (every field the
//! packet's protocols have, exactly), then the transport checksum.
//!
//! The switch's own parser (`datapath::extract`) reads the frame; which
//! fields are shown follows Open vSwitch's rules for a packet's flow, not
//! what the switch parsed: an MPLS packet shows its label stack entry and
//! nothing inside, a later fragment shows no ports.

use datapath::buffer::PacketMeta;
use datapath::extract::flow_extract;
use datapath::flow::{Field, FlowKey, FlowMask, Match};

use super::matches::format_match;

/// The flow of `frame` as a match with every relevant field exact.
pub fn packet_match(frame: &[u8]) -> (Match, FlowKey, Option<usize>) {
    let mut key = FlowKey::default();
    let layout = flow_extract(frame, &PacketMeta::default(), &mut key);
    let mut mask = FlowMask::wildcard();
    mask.set_exact(Field::EthSrc);
    mask.set_exact(Field::EthDst);
    mask.set_exact(Field::EthType);
    mask.key.vlan_tci = 0xffff;
    if key.vlan_tci & 0x1000 != 0 {
        mask.key.vlan_tci_inner = 0xffff;
    }
    let later = key.nw_frag & 2 != 0;
    match key.eth_type {
        0x0800 | 0x86dd => {
            if key.eth_type == 0x0800 {
                mask.set_exact(Field::Ipv4Src);
                mask.set_exact(Field::Ipv4Dst);
            } else {
                mask.set_exact(Field::Ipv6Src);
                mask.set_exact(Field::Ipv6Dst);
                mask.set_exact(Field::Ipv6Flabel);
            }
            mask.set_exact(Field::IpProto);
            mask.key.nw_tos = 0xff;
            mask.set_exact(Field::NwTtl);
            mask.key.nw_frag = 3;
            if !later {
                mask.key.tp_src = 0xffff;
                mask.key.tp_dst = 0xffff;
                if key.nw_proto == 6 {
                    mask.set_exact(Field::TcpFlags);
                }
                if key.eth_type == 0x86dd && key.nw_proto == 58 && matches!(key.tp_src, 135 | 136) {
                    mask.set_exact(Field::Ipv6NdTarget);
                    mask.set_exact(Field::ArpSha);
                    mask.set_exact(Field::ArpTha);
                }
            }
        }
        0x0806 | 0x8035 => {
            mask.set_exact(Field::ArpSpa);
            mask.set_exact(Field::ArpTpa);
            mask.set_exact(Field::ArpOp);
            mask.set_exact(Field::ArpSha);
            mask.set_exact(Field::ArpTha);
        }
        0x8847 | 0x8848 => mask.key.mpls_lse = u32::MAX,
        _ => {}
    }
    (Match::new(key, mask), key, layout.l4_offset())
}

fn be16_at(frame: &[u8], at: usize) -> Option<u16> {
    frame
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// The packet's flow and checksum as one line (no newline).
pub fn packet_text(frame: &[u8]) -> String {
    let (m, key, l4) = packet_match(frame);
    let mut s = format_match(&m, None);
    let ip = key.eth_type == 0x0800 || key.eth_type == 0x86dd;
    if let (true, Some(l4)) = (ip && key.nw_frag & 2 == 0, l4) {
        let avail = frame.len().saturating_sub(l4);
        let csum = match key.nw_proto {
            6 if avail >= 20 => be16_at(frame, l4 + 16).map(|c| format!(" tcp_csum:{c:x}")),
            17 if avail >= 8 => be16_at(frame, l4 + 6).map(|c| format!(" udp_csum:{c:x}")),
            132 if avail >= 12 => frame.get(l4 + 8..l4 + 12).map(|b| {
                format!(
                    " sctp_csum:{:x}",
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
                )
            }),
            1 if key.eth_type == 0x0800 && avail >= 8 => {
                be16_at(frame, l4 + 2).map(|c| format!(" icmp_csum:{c:x}"))
            }
            58 if key.eth_type == 0x86dd && avail >= 4 => {
                be16_at(frame, l4 + 2).map(|c| format!(" icmp6_csum:{c:x}"))
            }
            _ => None,
        };
        if let Some(c) = csum {
            s.push_str(&c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ethertype_prints_the_ethernet_header_only() {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x12, 0x34];
        f.extend_from_slice(&[0; 46]);
        assert_eq!(
            packet_text(&f),
            "vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_type=0x1234"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for n in 0..80 {
            let f: Vec<u8> = (0..n)
                .map(|i: u32| u8::try_from((i * 37 + 11) % 256).unwrap_or(0))
                .collect();
            let _ = packet_text(&f);
        }
    }
}
