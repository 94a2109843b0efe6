//! Builders of whole, well-formed frames for tests and benchmarks: every
//! length field and checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6, SCTP) is
//! computed, so a frame parses back to exactly what was asked for.
//!
//! A constructor picks the protocol stack (`udp4`, `tcp6`, `nd_ns`,
//! `arp`, `vxlan4`, ...); modifiers then add VLAN tags (first call is the
//! outer tag), MPLS entries (first call is the top of the stack), IPv4
//! options, fragmentation, IPv6 extension headers or TCP details; `build`
//! writes the frame. Modifiers that do not apply to the frame's protocols
//! (a TCP flag on a UDP frame) have no effect. Builders allocate: they are
//! for setting up traffic, never for the forwarding path.

use super::checksum;
use super::icmpv6::{msg_type as icmp6_type, nd_option};
use super::mpls;
use super::sctp::SctpPacket;
use super::tcp;
use super::vxlan;
use super::{ethertype, ip_proto, MacAddr};

/// A frame under construction (see the module notes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameBuilder {
    eth_dst: MacAddr,
    eth_src: MacAddr,
    tags: Vec<(u16, u16)>,
    mpls: Vec<u32>,
    net: Net,
    pad_to: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Net {
    Ipv4(Ipv4Spec),
    Ipv6(Ipv6Spec),
    Arp {
        op: u16,
        sha: MacAddr,
        spa: [u8; 4],
        tha: MacAddr,
        tpa: [u8; 4],
    },
    Raw {
        ethertype: u16,
        bytes: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Ipv4Spec {
    src: [u8; 4],
    dst: [u8; 4],
    tos: u8,
    ttl: u8,
    ident: u16,
    flags_frag: u16,
    options: Vec<u8>,
    l4: L4,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Ipv6Spec {
    src: [u8; 16],
    dst: [u8; 16],
    tclass: u8,
    flow_label: u32,
    hop_limit: u8,
    ext: Vec<Ext>,
    l4: L4,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ext {
    Options { kind: u8, data: Vec<u8> },
    Fragment { offset: u16, more: bool, ident: u32 },
    Auth { spi: u32, seq: u32, icv: Vec<u8> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u16,
        window: u16,
        options: Vec<u8>,
        payload: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
        checksum: bool,
        payload: Vec<u8>,
    },
    Sctp {
        sport: u16,
        dport: u16,
        vtag: u32,
        payload: Vec<u8>,
    },
    Icmpv4 {
        ty: u8,
        code: u8,
        rest: u32,
        payload: Vec<u8>,
    },
    Icmpv6 {
        ty: u8,
        code: u8,
        body: Vec<u8>,
    },
    Raw {
        proto: u8,
        payload: Vec<u8>,
    },
}

impl L4 {
    fn proto(&self) -> u8 {
        match self {
            L4::Tcp { .. } => ip_proto::TCP,
            L4::Udp { .. } => ip_proto::UDP,
            L4::Sctp { .. } => ip_proto::SCTP,
            L4::Icmpv4 { .. } => ip_proto::ICMP,
            L4::Icmpv6 { .. } => ip_proto::ICMPV6,
            L4::Raw { proto, .. } => *proto,
        }
    }

    /// Writes the transport packet; `pseudo(proto, len)` gives the sum of
    /// the IP pseudo-header.
    fn emit(&self, pseudo: impl Fn(u8, usize) -> u16) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            L4::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                options,
                payload,
            } => {
                let opt_len = options.len().div_ceil(4) * 4;
                let hl = (tcp::MIN_HEADER_LEN + opt_len).min(60);
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&ack.to_be_bytes());
                let words = u16::try_from(hl / 4).unwrap_or(15);
                out.extend_from_slice(&((words << 12) | (flags & tcp::flags::MASK)).to_be_bytes());
                out.extend_from_slice(&window.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(&options[..options.len().min(40)]);
                out.resize(hl, 0);
                out.extend_from_slice(payload);
                let c = checksum::checksum_with(pseudo(ip_proto::TCP, out.len()), &out);
                out[16..18].copy_from_slice(&c.to_be_bytes());
            }
            L4::Udp {
                sport,
                dport,
                checksum: with_checksum,
                payload,
            } => {
                let len = u16::try_from(8 + payload.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(payload);
                if *with_checksum {
                    let c = checksum::checksum_with(pseudo(ip_proto::UDP, out.len()), &out);
                    out[6..8].copy_from_slice(&checksum::udp_nonzero(c).to_be_bytes());
                }
            }
            L4::Sctp {
                sport,
                dport,
                vtag,
                payload,
            } => {
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&vtag.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(payload);
                SctpPacket::new_unchecked(&mut out[..]).fill_checksum();
            }
            L4::Icmpv4 {
                ty,
                code,
                rest,
                payload,
            } => {
                out.extend_from_slice(&[*ty, *code, 0, 0]);
                out.extend_from_slice(&rest.to_be_bytes());
                out.extend_from_slice(payload);
                let c = checksum::checksum(&out);
                out[2..4].copy_from_slice(&c.to_be_bytes());
            }
            L4::Icmpv6 { ty, code, body } => {
                out.extend_from_slice(&[*ty, *code, 0, 0]);
                out.extend_from_slice(body);
                let c = checksum::checksum_with(pseudo(ip_proto::ICMPV6, out.len()), &out);
                out[2..4].copy_from_slice(&c.to_be_bytes());
            }
            L4::Raw { payload, .. } => out.extend_from_slice(payload),
        }
        out
    }
}

impl Ext {
    fn kind(&self) -> u8 {
        match self {
            Ext::Options { kind, .. } => *kind,
            Ext::Fragment { .. } => ip_proto::IPV6_FRAG,
            Ext::Auth { .. } => ip_proto::AH,
        }
    }

    fn emit(&self, next: u8, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            Ext::Options { data, .. } => {
                let total = (2 + data.len()).div_ceil(8).clamp(1, 256) * 8;
                let units = u8::try_from(total / 8 - 1).unwrap_or(u8::MAX);
                out.extend_from_slice(&[next, units]);
                out.extend_from_slice(&data[..data.len().min(total - 2)]);
                out.resize(start + total, 0);
            }
            Ext::Fragment {
                offset,
                more,
                ident,
            } => {
                out.extend_from_slice(&[next, 0]);
                out.extend_from_slice(&((offset & 0xfff8) | u16::from(*more)).to_be_bytes());
                out.extend_from_slice(&ident.to_be_bytes());
            }
            Ext::Auth { spi, seq, icv } => {
                let total = (12 + icv.len()).div_ceil(8) * 8;
                let total = total.min(1024);
                let units = u8::try_from(total / 4 - 2).unwrap_or(u8::MAX);
                out.extend_from_slice(&[next, units, 0, 0]);
                out.extend_from_slice(&spi.to_be_bytes());
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&icv[..icv.len().min(total - 12)]);
                out.resize(start + total, 0);
            }
        }
    }
}

fn be16_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl FrameBuilder {
    fn new(src_mac: MacAddr, dst_mac: MacAddr, net: Net) -> FrameBuilder {
        FrameBuilder {
            eth_dst: dst_mac,
            eth_src: src_mac,
            tags: Vec::new(),
            mpls: Vec::new(),
            net,
            pad_to: 0,
        }
    }

    fn ipv4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: impl Into<[u8; 4]>,
        dst: impl Into<[u8; 4]>,
        l4: L4,
    ) -> FrameBuilder {
        FrameBuilder::new(
            src_mac,
            dst_mac,
            Net::Ipv4(Ipv4Spec {
                src: src.into(),
                dst: dst.into(),
                tos: 0,
                ttl: 64,
                ident: 0,
                flags_frag: super::ipv4::FLAG_DF,
                options: Vec::new(),
                l4,
            }),
        )
    }

    fn ipv6(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: impl Into<[u8; 16]>,
        dst: impl Into<[u8; 16]>,
        l4: L4,
    ) -> FrameBuilder {
        FrameBuilder::new(
            src_mac,
            dst_mac,
            Net::Ipv6(Ipv6Spec {
                src: src.into(),
                dst: dst.into(),
                tclass: 0,
                flow_label: 0,
                hop_limit: 64,
                ext: Vec::new(),
                l4,
            }),
        )
    }

    fn tcp(sport: u16, dport: u16, payload: &[u8]) -> L4 {
        L4::Tcp {
            sport,
            dport,
            seq: 1,
            ack: 0,
            flags: tcp::flags::ACK,
            window: 0xffff,
            options: Vec::new(),
            payload: payload.to_vec(),
        }
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> L4 {
        L4::Udp {
            sport,
            dport,
            checksum: true,
            payload: payload.to_vec(),
        }
    }

    fn sctp(sport: u16, dport: u16, payload: &[u8]) -> L4 {
        L4::Sctp {
            sport,
            dport,
            vtag: 1,
            payload: payload.to_vec(),
        }
    }

    /// Ethernet / IPv4 / UDP.
    #[allow(clippy::too_many_arguments)]
    pub fn udp4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 4]>,
        dst_ip: impl Into<[u8; 4]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv4(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::udp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv4 / TCP (flags ACK; see [`FrameBuilder::tcp_flags`]).
    #[allow(clippy::too_many_arguments)]
    pub fn tcp4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 4]>,
        dst_ip: impl Into<[u8; 4]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv4(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::tcp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv4 / SCTP (chunks are `payload`).
    #[allow(clippy::too_many_arguments)]
    pub fn sctp4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 4]>,
        dst_ip: impl Into<[u8; 4]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv4(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::sctp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv4 / ICMP with a zero rest-of-header (see [`FrameBuilder::icmp_rest`]).
    #[allow(clippy::too_many_arguments)]
    pub fn icmp4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 4]>,
        dst_ip: impl Into<[u8; 4]>,
        icmp_type: u8,
        icmp_code: u8,
        payload: &[u8],
    ) -> FrameBuilder {
        let l4 = L4::Icmpv4 {
            ty: icmp_type,
            code: icmp_code,
            rest: 0,
            payload: payload.to_vec(),
        };
        Self::ipv4(src_mac, dst_mac, src_ip, dst_ip, l4)
    }

    /// Ethernet / IPv4 / any protocol, with `payload` as the IP payload.
    pub fn ip4_raw(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 4]>,
        dst_ip: impl Into<[u8; 4]>,
        proto: u8,
        payload: &[u8],
    ) -> FrameBuilder {
        let l4 = L4::Raw {
            proto,
            payload: payload.to_vec(),
        };
        Self::ipv4(src_mac, dst_mac, src_ip, dst_ip, l4)
    }

    /// Ethernet / IPv6 / UDP.
    #[allow(clippy::too_many_arguments)]
    pub fn udp6(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv6(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::udp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv6 / TCP (flags ACK).
    #[allow(clippy::too_many_arguments)]
    pub fn tcp6(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv6(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::tcp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv6 / SCTP.
    #[allow(clippy::too_many_arguments)]
    pub fn sctp6(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> FrameBuilder {
        Self::ipv6(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            Self::sctp(sport, dport, payload),
        )
    }

    /// Ethernet / IPv6 / ICMPv6; `body` is everything after the checksum.
    #[allow(clippy::too_many_arguments)]
    pub fn icmp6(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        icmp_type: u8,
        icmp_code: u8,
        body: &[u8],
    ) -> FrameBuilder {
        let l4 = L4::Icmpv6 {
            ty: icmp_type,
            code: icmp_code,
            body: body.to_vec(),
        };
        Self::ipv6(src_mac, dst_mac, src_ip, dst_ip, l4)
    }

    /// Ethernet / IPv6 / any next header, with `payload` after the IPv6
    /// header (and after any extension headers added later).
    pub fn ip6_raw(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        next_header: u8,
        payload: &[u8],
    ) -> FrameBuilder {
        let l4 = L4::Raw {
            proto: next_header,
            payload: payload.to_vec(),
        };
        Self::ipv6(src_mac, dst_mac, src_ip, dst_ip, l4)
    }

    /// A Neighbor Solicitation for `target`, with a source link-layer
    /// address option when `sll` is given; hop limit 255.
    pub fn nd_ns(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        target: impl Into<[u8; 16]>,
        sll: Option<MacAddr>,
    ) -> FrameBuilder {
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&target.into());
        if let Some(mac) = sll {
            body.extend_from_slice(&[nd_option::SOURCE_LL_ADDR, 1]);
            body.extend_from_slice(&mac);
        }
        Self::icmp6(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            icmp6_type::NEIGHBOR_SOLICIT,
            0,
            &body,
        )
        .ttl(255)
    }

    /// A Neighbor Advertisement for `target` with NA `flags`
    /// (`icmpv6::na_flags`), with a target link-layer address option when
    /// `tll` is given; hop limit 255.
    #[allow(clippy::too_many_arguments)]
    pub fn nd_na(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: impl Into<[u8; 16]>,
        dst_ip: impl Into<[u8; 16]>,
        target: impl Into<[u8; 16]>,
        flags: u8,
        tll: Option<MacAddr>,
    ) -> FrameBuilder {
        let mut body = vec![flags, 0, 0, 0];
        body.extend_from_slice(&target.into());
        if let Some(mac) = tll {
            body.extend_from_slice(&[nd_option::TARGET_LL_ADDR, 1]);
            body.extend_from_slice(&mac);
        }
        Self::icmp6(
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            icmp6_type::NEIGHBOR_ADVERT,
            0,
            &body,
        )
        .ttl(255)
    }

    /// An Ethernet/IPv4 ARP packet.
    #[allow(clippy::too_many_arguments)]
    pub fn arp(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        op: u16,
        sha: MacAddr,
        spa: impl Into<[u8; 4]>,
        tha: MacAddr,
        tpa: impl Into<[u8; 4]>,
    ) -> FrameBuilder {
        let net = Net::Arp {
            op,
            sha,
            spa: spa.into(),
            tha,
            tpa: tpa.into(),
        };
        FrameBuilder::new(src_mac, dst_mac, net)
    }

    /// A frame of any type/length field value followed by `bytes` (an 802.3
    /// length, an unknown ethertype, ...).
    pub fn raw(src_mac: MacAddr, dst_mac: MacAddr, ethertype: u16, bytes: &[u8]) -> FrameBuilder {
        let net = Net::Raw {
            ethertype,
            bytes: bytes.to_vec(),
        };
        FrameBuilder::new(src_mac, dst_mac, net)
    }

    /// A PBB frame: backbone addresses, an I-TAG with `isid` (priority 0,
    /// no flags), then the customer frame `inner`.
    pub fn pbb(src_mac: MacAddr, dst_mac: MacAddr, isid: u32, inner: &[u8]) -> FrameBuilder {
        let mut bytes = (isid & 0x00ff_ffff).to_be_bytes().to_vec();
        bytes.extend_from_slice(inner);
        Self::raw(src_mac, dst_mac, ethertype::PBB, &bytes)
    }

    /// An outer Ethernet / IPv4 / UDP (to port 4789, checksum zero) /
    /// VXLAN (`vni`) encapsulation of the frame `inner`.
    #[allow(clippy::too_many_arguments)]
    pub fn vxlan4(
        outer_src_mac: MacAddr,
        outer_dst_mac: MacAddr,
        outer_src_ip: impl Into<[u8; 4]>,
        outer_dst_ip: impl Into<[u8; 4]>,
        udp_sport: u16,
        vni: u32,
        inner: &[u8],
    ) -> FrameBuilder {
        let mut payload = vec![vxlan::FLAG_VNI, 0, 0, 0];
        payload.extend_from_slice(&((vni & 0x00ff_ffff) << 8).to_be_bytes());
        payload.extend_from_slice(inner);
        Self::udp4(
            outer_src_mac,
            outer_dst_mac,
            outer_src_ip,
            outer_dst_ip,
            udp_sport,
            vxlan::UDP_PORT,
            &payload,
        )
        .udp_checksum(false)
    }

    /// Adds a VLAN tag with this TPID (0x8100 or 0x88a8) and TCI; the first
    /// call adds the outer tag.
    pub fn vlan(mut self, tpid: u16, tci: u16) -> FrameBuilder {
        self.tags.push((tpid, tci));
        self
    }

    /// Adds an MPLS label stack entry (bottom-of-stack is set on the last
    /// one); the first call adds the top entry. The frame's type becomes 0x8847.
    pub fn mpls(mut self, label: u32, tc: u8, ttl: u8) -> FrameBuilder {
        self.mpls.push(mpls::lse(label, tc, false, ttl));
        self
    }

    /// Sets the IPv4 TTL or IPv6 hop limit.
    pub fn ttl(mut self, ttl: u8) -> FrameBuilder {
        match &mut self.net {
            Net::Ipv4(ip) => ip.ttl = ttl,
            Net::Ipv6(ip) => ip.hop_limit = ttl,
            _ => {}
        }
        self
    }

    /// Sets the IPv4 TOS or IPv6 traffic class.
    pub fn tos(mut self, tos: u8) -> FrameBuilder {
        match &mut self.net {
            Net::Ipv4(ip) => ip.tos = tos,
            Net::Ipv6(ip) => ip.tclass = tos,
            _ => {}
        }
        self
    }

    /// Sets the IPv6 flow label.
    pub fn flow_label(mut self, label: u32) -> FrameBuilder {
        if let Net::Ipv6(ip) = &mut self.net {
            ip.flow_label = label & 0x000f_ffff;
        }
        self
    }

    /// Sets the IPv4 identification.
    pub fn ident(mut self, ident: u16) -> FrameBuilder {
        if let Net::Ipv4(ip) = &mut self.net {
            ip.ident = ident;
        }
        self
    }

    /// Sets or clears IPv4 "don't fragment" (set by default).
    pub fn dont_fragment(mut self, df: bool) -> FrameBuilder {
        if let Net::Ipv4(ip) = &mut self.net {
            ip.flags_frag =
                (ip.flags_frag & !super::ipv4::FLAG_DF) | if df { super::ipv4::FLAG_DF } else { 0 };
        }
        self
    }

    /// Makes the packet a fragment at `offset` bytes (a multiple of 8) with
    /// "more fragments" as given: IPv4 header fields (DF cleared), or an
    /// IPv6 fragment header appended to the extension headers.
    pub fn fragment(mut self, offset: u16, more: bool) -> FrameBuilder {
        match &mut self.net {
            Net::Ipv4(ip) => {
                let mf = if more { super::ipv4::FLAG_MF } else { 0 };
                ip.flags_frag = mf | ((offset >> 3) & super::ipv4::OFFSET_MASK);
            }
            Net::Ipv6(ip) => ip.ext.push(Ext::Fragment {
                offset,
                more,
                ident: 0x0102_0304,
            }),
            _ => {}
        }
        self
    }

    /// Sets the IPv4 options (padded with zeros, end-of-options, to a
    /// multiple of 4 and limited to 40 bytes).
    pub fn ipv4_options(mut self, options: &[u8]) -> FrameBuilder {
        if let Net::Ipv4(ip) = &mut self.net {
            ip.options = options[..options.len().min(40)].to_vec();
        }
        self
    }

    /// Appends an IPv6 hop-by-hop (0), routing (43) or destination options
    /// (60) header holding `data` (what follows the next-header and length
    /// bytes), zero-padded to a multiple of 8 bytes.
    pub fn ipv6_ext(mut self, kind: u8, data: &[u8]) -> FrameBuilder {
        if let Net::Ipv6(ip) = &mut self.net {
            ip.ext.push(Ext::Options {
                kind,
                data: data.to_vec(),
            });
        }
        self
    }

    /// Appends an IPv6 authentication header.
    pub fn ipv6_auth(mut self, spi: u32, seq: u32, icv: &[u8]) -> FrameBuilder {
        if let Net::Ipv6(ip) = &mut self.net {
            ip.ext.push(Ext::Auth {
                spi,
                seq,
                icv: icv.to_vec(),
            });
        }
        self
    }

    fn l4_mut(&mut self) -> Option<&mut L4> {
        match &mut self.net {
            Net::Ipv4(ip) => Some(&mut ip.l4),
            Net::Ipv6(ip) => Some(&mut ip.l4),
            _ => None,
        }
    }

    /// Sets the 12 TCP flag bits (`tcp::flags`).
    pub fn tcp_flags(mut self, f: u16) -> FrameBuilder {
        if let Some(L4::Tcp { flags, .. }) = self.l4_mut() {
            *flags = f & tcp::flags::MASK;
        }
        self
    }

    /// Sets the TCP sequence and acknowledgment numbers.
    pub fn tcp_seq(mut self, seq_no: u32, ack_no: u32) -> FrameBuilder {
        if let Some(L4::Tcp { seq, ack, .. }) = self.l4_mut() {
            *seq = seq_no;
            *ack = ack_no;
        }
        self
    }

    /// Sets the TCP window.
    pub fn tcp_window(mut self, w: u16) -> FrameBuilder {
        if let Some(L4::Tcp { window, .. }) = self.l4_mut() {
            *window = w;
        }
        self
    }

    /// Sets the TCP options (zero-padded to a multiple of 4, at most 40 bytes).
    pub fn tcp_options(mut self, opts: &[u8]) -> FrameBuilder {
        if let Some(L4::Tcp { options, .. }) = self.l4_mut() {
            *options = opts[..opts.len().min(40)].to_vec();
        }
        self
    }

    /// Whether UDP carries a checksum (default yes; IPv4 only may omit it).
    pub fn udp_checksum(mut self, on: bool) -> FrameBuilder {
        if let Some(L4::Udp { checksum, .. }) = self.l4_mut() {
            *checksum = on;
        }
        self
    }

    /// Sets the ICMPv4 rest-of-header word (echo identifier and sequence).
    pub fn icmp_rest(mut self, r: u32) -> FrameBuilder {
        if let Some(L4::Icmpv4 { rest, .. }) = self.l4_mut() {
            *rest = r;
        }
        self
    }

    /// Pads the frame with zeros to at least `len` bytes (60 is the
    /// Ethernet minimum without FCS); length fields keep the real size.
    pub fn pad_to(mut self, len: usize) -> FrameBuilder {
        self.pad_to = len;
        self
    }

    /// Writes the frame.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.build_into(&mut out);
        out
    }

    /// Writes the frame into `out` (cleared first).
    pub fn build_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.eth_dst);
        out.extend_from_slice(&self.eth_src);
        for (tpid, tci) in &self.tags {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
        }
        let net_type = match &self.net {
            Net::Ipv4(_) => ethertype::IPV4,
            Net::Ipv6(_) => ethertype::IPV6,
            Net::Arp { .. } => ethertype::ARP,
            Net::Raw { ethertype, .. } => *ethertype,
        };
        if self.mpls.is_empty() {
            out.extend_from_slice(&net_type.to_be_bytes());
        } else {
            out.extend_from_slice(&ethertype::MPLS.to_be_bytes());
            let last = self.mpls.len() - 1;
            for (i, lse) in self.mpls.iter().enumerate() {
                let lse = if i == last { lse | mpls::BOS_BIT } else { *lse };
                out.extend_from_slice(&lse.to_be_bytes());
            }
        }
        match &self.net {
            Net::Ipv4(ip) => emit_ipv4(ip, out),
            Net::Ipv6(ip) => emit_ipv6(ip, out),
            Net::Arp {
                op,
                sha,
                spa,
                tha,
                tpa,
            } => {
                out.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
                out.extend_from_slice(&op.to_be_bytes());
                out.extend_from_slice(sha);
                out.extend_from_slice(spa);
                out.extend_from_slice(tha);
                out.extend_from_slice(tpa);
            }
            Net::Raw { bytes, .. } => out.extend_from_slice(bytes),
        }
        if out.len() < self.pad_to {
            out.resize(self.pad_to, 0);
        }
    }
}

fn emit_ipv4(ip: &Ipv4Spec, out: &mut Vec<u8>) {
    let l4 = ip
        .l4
        .emit(|proto, len| checksum::pseudo_header_v4(ip.src, ip.dst, proto, be16_len(len)));
    let hl = 20 + ip.options.len().div_ceil(4) * 4;
    let start = out.len();
    let ihl = u8::try_from(hl / 4).unwrap_or(15);
    out.extend_from_slice(&[0x40 | ihl, ip.tos]);
    out.extend_from_slice(&be16_len(hl + l4.len()).to_be_bytes());
    out.extend_from_slice(&ip.ident.to_be_bytes());
    out.extend_from_slice(&ip.flags_frag.to_be_bytes());
    out.extend_from_slice(&[ip.ttl, ip.l4.proto(), 0, 0]);
    out.extend_from_slice(&ip.src);
    out.extend_from_slice(&ip.dst);
    out.extend_from_slice(&ip.options);
    out.resize(start + hl, 0);
    let c = checksum::checksum(&out[start..]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&l4);
}

fn emit_ipv6(ip: &Ipv6Spec, out: &mut Vec<u8>) {
    let l4 = ip.l4.emit(|proto, len| {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        checksum::pseudo_header_v6(ip.src, ip.dst, proto, len)
    });
    let mut ext = Vec::new();
    for (i, e) in ip.ext.iter().enumerate() {
        let next = ip.ext.get(i + 1).map_or(ip.l4.proto(), Ext::kind);
        e.emit(next, &mut ext);
    }
    let first = ip.ext.first().map_or(ip.l4.proto(), Ext::kind);
    let vtf = 0x6000_0000 | (u32::from(ip.tclass) << 20) | ip.flow_label;
    out.extend_from_slice(&vtf.to_be_bytes());
    out.extend_from_slice(&be16_len(ext.len() + l4.len()).to_be_bytes());
    out.extend_from_slice(&[first, ip.hop_limit]);
    out.extend_from_slice(&ip.src);
    out.extend_from_slice(&ip.dst);
    out.extend_from_slice(&ext);
    out.extend_from_slice(&l4);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{
        ArpPacket, EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, SctpPacket,
        TcpPacket, UdpPacket, VlanHeader,
    };
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const A: MacAddr = [2, 0, 0, 0, 0, 1];
    const B: MacAddr = [2, 0, 0, 0, 0, 2];
    const V6A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    #[test]
    fn builds_a_udp4_frame_etherparse_reads_back_with_valid_checksums() {
        let f = FrameBuilder::udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"hello")
            .vlan(0x8100, 0x2064)
            .ttl(9)
            .tos(0x2e)
            .build();
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("no ipv4")
        };
        assert_eq!(ip.header().source(), [10, 0, 0, 1]);
        assert_eq!(ip.header().ttl(), 9);
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!("no udp")
        };
        assert_eq!((u.source_port(), u.destination_port()), (1000, 53));
        assert_eq!(u.payload(), b"hello");

        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        let tag = VlanHeader::new_checked(eth.payload()).unwrap();
        assert_eq!(tag.tci(), 0x2064);
        let ip = Ipv4Packet::new_checked(tag.payload()).unwrap();
        assert!(ip.verify_checksum());
        let pseudo = checksum::pseudo_header_v4(ip.src_addr(), ip.dst_addr(), 17, 13);
        assert!(UdpPacket::new_checked(ip.payload())
            .unwrap()
            .verify_checksum(pseudo));
    }

    #[test]
    fn builds_the_same_tcp4_bytes_as_etherparse() {
        let ours = FrameBuilder::tcp4(A, B, [192, 168, 0, 1], [192, 168, 0, 2], 4000, 80, b"xyz")
            .tcp_flags(tcp::flags::SYN | tcp::flags::ACK)
            .tcp_seq(7, 9)
            .tcp_window(1000)
            .build();
        let builder = etherparse::PacketBuilder::ethernet2(A, B)
            .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
            .tcp(4000, 80, 7, 1000)
            .syn()
            .ack(9);
        let mut theirs = Vec::new();
        builder.write(&mut theirs, b"xyz").unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn builds_the_same_udp6_bytes_as_etherparse() {
        let ours = FrameBuilder::udp6(A, B, V6A, V6B, 546, 547, b"dhcp")
            .vlan(0x88a8, 10)
            .vlan(0x8100, 20)
            .ttl(1)
            .build();
        let builder = etherparse::PacketBuilder::ethernet2(A, B)
            .double_vlan(10.try_into().unwrap(), 20.try_into().unwrap())
            .ipv6(V6A, V6B, 1)
            .udp(546, 547);
        let mut theirs = Vec::new();
        builder.write(&mut theirs, b"dhcp").unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn builds_the_same_icmp_bytes_as_etherparse() {
        let ours = FrameBuilder::icmp4(A, B, [1, 1, 1, 1], [2, 2, 2, 2], 8, 0, b"abcd")
            .icmp_rest(0x0001_0002)
            .build();
        let builder = etherparse::PacketBuilder::ethernet2(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .icmpv4_echo_request(1, 2);
        let mut theirs = Vec::new();
        builder.write(&mut theirs, b"abcd").unwrap();
        assert_eq!(ours, theirs);

        let ours6 = FrameBuilder::icmp6(A, B, V6A, V6B, 128, 0, &[0, 1, 0, 2, b'x']).build();
        let builder = etherparse::PacketBuilder::ethernet2(A, B)
            .ipv6(V6A, V6B, 64)
            .icmpv6_echo_request(1, 2);
        let mut theirs6 = Vec::new();
        builder.write(&mut theirs6, b"x").unwrap();
        assert_eq!(ours6, theirs6);
    }

    #[test]
    fn builds_the_same_arp_bytes_as_etherparse() {
        let ours =
            FrameBuilder::arp(A, [0xff; 6], 1, A, [10, 0, 0, 1], [0; 6], [10, 0, 0, 2]).build();
        let arp = etherparse::ArpPacket::new(
            etherparse::ArpHardwareId::ETHERNET,
            etherparse::EtherType::IPV4,
            etherparse::ArpOperation::REQUEST,
            &A,
            &[10, 0, 0, 1],
            &[0; 6],
            &[10, 0, 0, 2],
        )
        .unwrap();
        let builder = etherparse::PacketBuilder::ethernet2(A, [0xff; 6]).arp(arp);
        let mut theirs = Vec::new();
        builder.write(&mut theirs).unwrap();
        assert_eq!(ours, theirs);
        let a = ArpPacket::new_checked(&ours[14..]).unwrap();
        assert!(a.is_ethernet_ipv4());
    }

    #[test]
    fn builds_nd_messages_with_valid_checksums() {
        let target = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let f = FrameBuilder::nd_ns(A, B, V6A, V6B, target, Some(A)).build();
        let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.hop_limit(), 255);
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        let pseudo = checksum::pseudo_header_v6(V6A, V6B, 58, 32);
        assert!(icmp.verify_checksum(pseudo));
        assert!(icmp.is_neighbor_discovery());
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        assert!(matches!(p.transport, Some(TransportSlice::Icmpv6(_))));
    }

    #[test]
    fn builds_sctp_with_a_valid_crc() {
        let f = FrameBuilder::sctp6(A, B, V6A, V6B, 5000, 5001, &[1, 0, 0, 4]).build();
        let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
        let s = SctpPacket::new_checked(ip.payload()).unwrap();
        assert!(s.verify_checksum());
        assert_eq!((s.src_port(), s.dst_port()), (5000, 5001));
    }

    #[test]
    fn builds_ipv4_options_fragments_and_padding() {
        let f = FrameBuilder::ip4_raw(A, B, [1, 2, 3, 4], [5, 6, 7, 8], 17, &[0; 8])
            .ipv4_options(&[0x94, 0x04, 0x00])
            .fragment(1480, true)
            .pad_to(60)
            .build();
        assert_eq!(f.len(), 60);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.header_len(), 24);
        assert_eq!(ip.options(), &[0x94, 0x04, 0, 0]);
        assert_eq!((ip.frag_offset(), ip.more_frags()), (1480, true));
        assert_eq!(ip.total_len(), 32);
        assert!(ip.verify_checksum());
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        assert!(p.net.is_some());
    }

    #[test]
    fn builds_ipv6_extension_chains_etherparse_walks() {
        let f = FrameBuilder::tcp6(A, B, V6A, V6B, 1, 2, b"")
            .ipv6_ext(ip_proto::HOPOPT, &[1, 4, 0, 0, 0, 0])
            .ipv6_ext(ip_proto::IPV6_ROUTE, &[0, 0])
            .ipv6_auth(5, 6, &[0xaa; 4])
            .ipv6_ext(ip_proto::IPV6_DSTOPTS, &[])
            .build();
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!("etherparse found no tcp: {:?}", p.net)
        };
        assert_eq!((t.source_port(), t.destination_port()), (1, 2));
        let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
        let chain = crate::packet::Ipv6ExtChain::walk(ip.payload(), ip.next_header());
        assert_eq!(chain.next_header, ip_proto::TCP);
        assert_eq!(chain.len, 8 + 8 + 16 + 8);
        let tcp = TcpPacket::new_checked(&ip.payload()[chain.len..]).unwrap();
        let pseudo = checksum::pseudo_header_v6(V6A, V6B, 6, 20);
        assert!(tcp.verify_checksum(pseudo));

        let frag = FrameBuilder::udp6(A, B, V6A, V6B, 1, 2, b"")
            .fragment(0, true)
            .build();
        let p = SlicedPacket::from_ethernet(&frag).unwrap();
        let Some(NetSlice::Ipv6(ip)) = &p.net else {
            panic!("no ipv6")
        };
        assert!(ip.is_payload_fragmented());
        assert_eq!(ip.payload().ip_number, etherparse::IpNumber::UDP);
    }

    #[test]
    fn builds_mpls_stacks_and_vxlan_encapsulation() {
        let inner = FrameBuilder::udp4(A, B, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"").build();
        let f = FrameBuilder::vxlan4(B, A, [9, 9, 9, 9], [8, 8, 8, 8], 55555, 77, &inner)
            .mpls(100, 1, 64)
            .mpls(200, 0, 63)
            .build();
        assert_eq!(&f[12..14], &[0x88, 0x47]);
        assert_eq!(&f[14..18], &mpls::lse(100, 1, false, 64).to_be_bytes());
        assert_eq!(&f[18..22], &mpls::lse(200, 0, true, 63).to_be_bytes());
        let ip = Ipv4Packet::new_checked(&f[22..]).unwrap();
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((udp.dst_port(), udp.checksum()), (4789, 0));
        let vx = crate::packet::VxlanHeader::new_checked(udp.payload()).unwrap();
        assert_eq!(vx.vni(), 77);
        assert_eq!(vx.payload(), &inner[..]);
        let icmp = FrameBuilder::icmp4(A, B, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, b"").build();
        assert!(Icmpv4Packet::new_checked(&icmp[34..])
            .unwrap()
            .verify_checksum());
    }
}
