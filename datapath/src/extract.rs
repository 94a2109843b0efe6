//! Flow key extraction: one pass over a frame's headers that fills every
//! [`FlowKey`] field and records where each header starts ([`Layout`]), so
//! that execution rewrites fields without parsing again. This is the first
//! step of every packet on the forwarding path.
//!
//! # Design note
//!
//! Semantics follow Open vSwitch's `flow_extract` (`lib/flow.c`), so that
//! a controller written against OVS sees the same keys:
//! - up to two VLAN tags (TPID 0x8100 or 0x88a8): `vlan_tci` is the outer
//!   TCI with `VLAN_PRESENT` (0x1000) standing in the DEI bit's position, so
//!   the wire DEI is not kept; `vlan_tci_inner` likewise for the second tag;
//!   a third tag's TPID becomes `eth_type`;
//! - an 802.3 length field gives `eth_type` 0x05ff unless an LLC/SNAP header
//!   with the zero OUI carries an ethertype;
//! - MPLS: `eth_type` 0x8847/0x8848 and `mpls_lse` the top entry; nothing
//!   beyond the stack is parsed. PBB (0x88e7) sets `pbb_isid` and stops;
//! - IPv4/IPv6: `nw_tos` is the whole DSCP|ECN byte; a fragment sets
//!   `frag::ANY`, a non-first one also `frag::LATER` and then no transport
//!   field is read; IPv6 extension headers are walked once
//!   ([`Ipv6ExtChain::walk`]) into `nw_proto` and OpenFlow's `ipv6_exthdr`;
//!   IPv4 total length and IPv6 payload length bound the transport parse, so
//!   Ethernet padding is never taken for header bytes;
//! - ICMP type/code go in `tp_src`/`tp_dst`; Neighbor Solicitation and
//!   Advertisement (code 0) fill `nd_target` and, from link-layer address
//!   options, `arp_sha` (source) and `arp_tha` (target); a zero-length or
//!   overrunning option, or a repeated one, clears all three (as OVS does);
//! - ARP fields are read only for Ethernet/IPv4 ARP (and RARP).
//!
//! # Invariants
//!
//! - Extraction never fails and never panics: a truncated or malformed frame
//!   yields the key of every header up to the last whole, consistent one,
//!   and [`Layout::status`] says where and why parsing stopped. A header is
//!   used only after its full length (including options) is known to be in
//!   the frame. When a length field (IPv4 total length, IPv6 payload length)
//!   claims more bytes than the frame has, the whole headers inside are
//!   still read and the status is `Truncated` at that IP layer.
//! - Every field the frame does not set is zero, whatever the key held
//!   before: the caller reuses one key per packet.
//! - No allocation. Each header costs one bounds check (`chunk`) followed by
//!   reads at constant offsets of a fixed-size array.
//! - Offsets in [`Layout`] are positions in the frame (`l2` is 0), `u16`
//!   with [`ABSENT`] for a header that is not there; frames are parsed up to
//!   [`MAX_FRAME_LEN`] bytes, so every offset fits.

use crate::buffer::{PacketMeta, TunnelMeta};
use crate::flow::{frag, tun_flags, FlowKey, VLAN_PRESENT};
use crate::packet::icmpv6::{msg_type as icmp6_type, nd_option};
use crate::packet::ipv6::{is_extension, Ipv6ExtChain};
use crate::packet::{ethertype, ip_proto, mpls, Error};

/// The offset value of a header that is not in the frame.
pub const ABSENT: u16 = u16::MAX;
/// Frames longer than this are parsed as if cut there (no real frame is).
pub const MAX_FRAME_LEN: usize = ABSENT as usize - 1;

/// A header kind, to say where parsing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Header {
    /// Ethernet II header.
    Ethernet,
    /// A VLAN tag.
    Vlan,
    /// An MPLS label stack entry.
    Mpls,
    /// A PBB I-TAG.
    Pbb,
    /// An ARP packet.
    Arp,
    /// An IPv4 header, or the datagram its total length announces.
    Ipv4,
    /// An IPv6 header, or the payload its length announces.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Ext,
    /// A TCP header.
    Tcp,
    /// A UDP header.
    Udp,
    /// An SCTP common header.
    Sctp,
    /// An ICMPv4 header.
    Icmpv4,
    /// An ICMPv6 header.
    Icmpv6,
    /// A Neighbor Discovery message (target or options).
    Nd,
}

impl Header {
    /// Number of header kinds.
    pub const COUNT: usize = 14;

    /// A dense index in `0..COUNT`.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// How far parsing went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseStatus {
    /// Every header the key needs was whole and consistent.
    Complete,
    /// The frame ended inside this header (or inside the data a length
    /// field of this header announces).
    Truncated(Header),
    /// A length field of this header is impossible (IPv4 IHL below 5, wrong
    /// IP version, TCP data offset below 5, zero-length ND option, ...).
    Malformed(Header),
}

/// Where each header of a parsed frame starts (see the module invariants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Number of VLAN tags parsed (0 to 2); tag `i` starts (at its TPID)
    /// at `12 + 4 * i`.
    pub vlans: u8,
    /// Offset of the type/length field that names what follows the tags (or
    /// of the SNAP protocol id for an LLC/SNAP frame).
    pub ethertype: u16,
    /// Offset of the top MPLS label stack entry.
    pub mpls: u16,
    /// Offset of the network header: IPv4, IPv6, ARP, the PBB I-TAG, what
    /// follows the bottom MPLS entry, or the payload of an unknown type.
    pub l3: u16,
    /// Offset of the transport header (after IPv6 extension headers);
    /// absent for non-first fragments.
    pub l4: u16,
    /// Offset of the data after a whole TCP, UDP, SCTP or ICMP header.
    pub payload: u16,
    /// How far parsing went.
    pub status: ParseStatus,
}

#[inline(always)]
fn opt(v: u16) -> Option<usize> {
    if v == ABSENT {
        None
    } else {
        Some(usize::from(v))
    }
}

impl Layout {
    /// The layout of an empty frame: nothing present.
    pub const EMPTY: Layout = Layout {
        vlans: 0,
        ethertype: ABSENT,
        mpls: ABSENT,
        l3: ABSENT,
        l4: ABSENT,
        payload: ABSENT,
        status: ParseStatus::Truncated(Header::Ethernet),
    };

    /// Offset of the TPID of VLAN tag `i` (0 is the outer tag).
    #[inline]
    pub fn vlan_offset(&self, i: usize) -> Option<usize> {
        (i < usize::from(self.vlans)).then_some(12 + 4 * i)
    }

    /// Offset of the type field naming the network protocol.
    #[inline]
    pub fn ethertype_offset(&self) -> Option<usize> {
        opt(self.ethertype)
    }

    /// Offset of the top MPLS entry.
    #[inline]
    pub fn mpls_offset(&self) -> Option<usize> {
        opt(self.mpls)
    }

    /// Offset of the network header.
    #[inline]
    pub fn l3_offset(&self) -> Option<usize> {
        opt(self.l3)
    }

    /// Offset of the transport header.
    #[inline]
    pub fn l4_offset(&self) -> Option<usize> {
        opt(self.l4)
    }

    /// Offset of the transport payload.
    #[inline]
    pub fn payload_offset(&self) -> Option<usize> {
        opt(self.payload)
    }

    /// Whether every header was whole and consistent.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.status == ParseStatus::Complete
    }
}

/// Counters of parse outcomes, kept per forwarding thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Frames parsed.
    pub frames: u64,
    /// Frames parsed completely.
    pub complete: u64,
    /// Frames that ended inside a header.
    pub truncated: u64,
    /// Frames with an impossible length field.
    pub malformed: u64,
    /// `truncated`, by the header where the frame ended (`Header::index`).
    pub truncated_at: [u64; Header::COUNT],
    /// `malformed`, by the offending header (`Header::index`).
    pub malformed_at: [u64; Header::COUNT],
}

impl ParseStats {
    /// Counts one parsed frame.
    #[inline]
    pub fn record(&mut self, layout: &Layout) {
        self.frames += 1;
        match layout.status {
            ParseStatus::Complete => self.complete += 1,
            ParseStatus::Truncated(h) => {
                self.truncated += 1;
                self.truncated_at[h.index()] += 1;
            }
            ParseStatus::Malformed(h) => {
                self.malformed += 1;
                self.malformed_at[h.index()] += 1;
            }
        }
    }

    /// Adds `other`'s counts (e.g. another thread's).
    pub fn merge(&mut self, other: &ParseStats) {
        self.frames += other.frames;
        self.complete += other.complete;
        self.truncated += other.truncated;
        self.malformed += other.malformed;
        for i in 0..Header::COUNT {
            self.truncated_at[i] += other.truncated_at[i];
            self.malformed_at[i] += other.malformed_at[i];
        }
    }
}

/// `N` bytes at `at`, or `None` when the frame is shorter: the one bounds
/// check per header.
#[inline(always)]
fn chunk<const N: usize>(data: &[u8], at: usize) -> Option<&[u8; N]> {
    data.get(at..)?.first_chunk::<N>()
}

#[inline(always)]
fn be16(a: u8, b: u8) -> u16 {
    u16::from_be_bytes([a, b])
}

#[inline(always)]
fn be32(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// An offset as stored in [`Layout`].
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // Offsets never exceed MAX_FRAME_LEN < u16::MAX.
fn off16(x: usize) -> u16 {
    debug_assert!(x <= MAX_FRAME_LEN);
    x as u16
}

/// The status of a frame whose outer layer ended with `outer` and inner
/// layer with `inner`: the inner problem is the more precise one.
#[inline(always)]
fn worse(outer: ParseStatus, inner: ParseStatus) -> ParseStatus {
    if inner == ParseStatus::Complete {
        outer
    } else {
        inner
    }
}

/// Fills `key` from `frame` and `meta` and returns where the headers are.
///
/// `in_port` and `in_phy_port` come from `meta.in_port`; the `tun_*` fields
/// and `tunnel_id` from `meta.tunnel` when it has `tun_flags::PRESENT`;
/// `metadata` is zero. See the module notes for the header semantics.
#[inline]
pub fn flow_extract(frame: &[u8], meta: &PacketMeta, key: &mut FlowKey) -> Layout {
    *key = FlowKey::default();
    key.in_port = meta.in_port;
    key.in_phy_port = meta.in_port;
    if meta.tunnel.flags & tun_flags::PRESENT != 0 {
        fill_tunnel(&meta.tunnel, key);
    }
    let frame = frame.get(..MAX_FRAME_LEN).unwrap_or(frame);
    let mut layout = Layout::EMPTY;
    layout.status = parse_l2(frame, key, &mut layout);
    layout
}

#[inline]
fn fill_tunnel(t: &TunnelMeta, key: &mut FlowKey) {
    key.tunnel_id = t.tunnel_id;
    key.tun_ipv4_src = t.ipv4_src;
    key.tun_ipv4_dst = t.ipv4_dst;
    key.tun_tos = t.tos;
    key.tun_ttl = t.ttl;
    key.tun_flags = t.flags;
    key.tun_tp_dst = t.tp_dst;
}

#[inline(always)]
fn parse_l2(frame: &[u8], key: &mut FlowKey, lay: &mut Layout) -> ParseStatus {
    let Some(eth) = frame.first_chunk::<14>() else {
        return ParseStatus::Truncated(Header::Ethernet);
    };
    key.eth_dst.copy_from_slice(&eth[0..6]);
    key.eth_src.copy_from_slice(&eth[6..12]);
    let mut ty = be16(eth[12], eth[13]);
    // Offset of the type field that names what follows.
    let mut at = 12usize;

    if ethertype::is_vlan(ty) {
        let Some(t) = chunk::<4>(frame, at + 2) else {
            key.eth_type = ty;
            lay.ethertype = off16(at);
            return ParseStatus::Truncated(Header::Vlan);
        };
        key.vlan_tpid = ty;
        key.vlan_tci = be16(t[0], t[1]) | VLAN_PRESENT;
        ty = be16(t[2], t[3]);
        at += 4;
        lay.vlans = 1;
        if ethertype::is_vlan(ty) {
            let Some(t) = chunk::<4>(frame, at + 2) else {
                key.eth_type = ty;
                lay.ethertype = off16(at);
                return ParseStatus::Truncated(Header::Vlan);
            };
            key.vlan_tci_inner = be16(t[0], t[1]) | VLAN_PRESENT;
            ty = be16(t[2], t[3]);
            at += 4;
            lay.vlans = 2;
        }
    }

    let mut l3 = at + 2;
    if ty < ethertype::MIN {
        ty = ethertype::NONE;
        if let Some(s) = chunk::<8>(frame, l3) {
            if s[..6] == [0xaa, 0xaa, 0x03, 0, 0, 0] {
                at = l3 + 6;
                l3 += 8;
                let snap = be16(s[6], s[7]);
                if snap >= ethertype::MIN {
                    ty = snap;
                }
            }
        }
    }
    lay.ethertype = off16(at);
    key.eth_type = ty;

    match ty {
        ethertype::IPV4 => parse_ipv4(frame, l3, key, lay),
        ethertype::IPV6 => parse_ipv6(frame, l3, key, lay),
        ethertype::ARP | ethertype::RARP => parse_arp(frame, l3, key, lay),
        ethertype::MPLS | ethertype::MPLS_MCAST => parse_mpls(frame, l3, key, lay),
        ethertype::PBB => {
            lay.l3 = off16(l3);
            let Some(t) = chunk::<4>(frame, l3) else {
                return ParseStatus::Truncated(Header::Pbb);
            };
            key.pbb_isid = be32(0, t[1], t[2], t[3]);
            ParseStatus::Complete
        }
        _ => {
            lay.l3 = off16(l3);
            ParseStatus::Complete
        }
    }
}

#[inline(always)]
fn parse_ipv4(frame: &[u8], l3: usize, key: &mut FlowKey, lay: &mut Layout) -> ParseStatus {
    lay.l3 = off16(l3);
    let Some(h) = chunk::<20>(frame, l3) else {
        return ParseStatus::Truncated(Header::Ipv4);
    };
    if h[0] >> 4 != 4 {
        return ParseStatus::Malformed(Header::Ipv4);
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return ParseStatus::Malformed(Header::Ipv4);
    }
    let avail = frame.len().saturating_sub(l3);
    if avail < ihl {
        return ParseStatus::Truncated(Header::Ipv4);
    }
    let total = usize::from(be16(h[2], h[3]));
    if total < ihl {
        return ParseStatus::Malformed(Header::Ipv4);
    }
    key.nw_tos = h[1];
    key.nw_ttl = h[8];
    key.nw_proto = h[9];
    key.ipv4_src = be32(h[12], h[13], h[14], h[15]);
    key.ipv4_dst = be32(h[16], h[17], h[18], h[19]);
    let (end, status) = if total <= avail {
        (l3 + total, ParseStatus::Complete)
    } else {
        (frame.len(), ParseStatus::Truncated(Header::Ipv4))
    };
    let flags_frag = be16(h[6], h[7]);
    if flags_frag & 0x3fff != 0 {
        key.nw_frag = frag::ANY;
        if flags_frag & 0x1fff != 0 {
            key.nw_frag |= frag::LATER;
            return status;
        }
    }
    let l4 = l3 + ihl;
    lay.l4 = off16(l4);
    let seg = frame.get(l4..end).unwrap_or_default();
    worse(status, parse_l4(seg, l4, key.nw_proto, false, key, lay))
}

#[inline(always)]
fn parse_ipv6(frame: &[u8], l3: usize, key: &mut FlowKey, lay: &mut Layout) -> ParseStatus {
    lay.l3 = off16(l3);
    let Some(h) = chunk::<40>(frame, l3) else {
        return ParseStatus::Truncated(Header::Ipv6);
    };
    if h[0] >> 4 != 6 {
        return ParseStatus::Malformed(Header::Ipv6);
    }
    let vtf = be32(h[0], h[1], h[2], h[3]);
    key.nw_tos = (vtf >> 20).to_le_bytes()[0];
    key.ipv6_label = vtf & 0x000f_ffff;
    key.nw_ttl = h[7];
    key.ipv6_src.copy_from_slice(&h[8..24]);
    key.ipv6_dst.copy_from_slice(&h[24..40]);
    let start = l3 + 40;
    let plen = usize::from(be16(h[4], h[5]));
    let avail = frame.len().saturating_sub(start);
    let (end, status) = if plen <= avail {
        (start + plen, ParseStatus::Complete)
    } else {
        (frame.len(), ParseStatus::Truncated(Header::Ipv6))
    };
    let payload = frame.get(start..end).unwrap_or_default();
    let mut nh = h[6];
    let mut l4 = start;
    let mut seg = payload;
    if is_extension(nh) {
        let chain = Ipv6ExtChain::walk(payload, nh);
        key.ipv6_exthdr = chain.exthdr;
        key.nw_frag = chain.frag;
        key.nw_proto = chain.next_header;
        match chain.error {
            Some(Error::Truncated) => return ParseStatus::Truncated(Header::Ipv6Ext),
            Some(Error::Malformed) => return ParseStatus::Malformed(Header::Ipv6Ext),
            None => {}
        }
        if chain.frag & frag::LATER != 0 {
            return status;
        }
        nh = chain.next_header;
        l4 = start + chain.len;
        seg = payload.get(chain.len..).unwrap_or_default();
    } else {
        key.nw_proto = nh;
    }
    lay.l4 = off16(l4);
    worse(status, parse_l4(seg, l4, nh, true, key, lay))
}

/// Parses the transport header at the start of `seg` (bounded by the IP
/// length), which sits at frame offset `l4`.
#[inline(always)]
fn parse_l4(
    seg: &[u8],
    l4: usize,
    proto: u8,
    v6: bool,
    key: &mut FlowKey,
    lay: &mut Layout,
) -> ParseStatus {
    match proto {
        ip_proto::TCP => {
            let Some(t) = seg.first_chunk::<20>() else {
                return ParseStatus::Truncated(Header::Tcp);
            };
            let hl = usize::from(t[12] >> 4) * 4;
            if hl < 20 {
                return ParseStatus::Malformed(Header::Tcp);
            }
            if seg.len() < hl {
                return ParseStatus::Truncated(Header::Tcp);
            }
            key.tp_src = be16(t[0], t[1]);
            key.tp_dst = be16(t[2], t[3]);
            key.tcp_flags = be16(t[12], t[13]) & 0x0fff;
            lay.payload = off16(l4 + hl);
            ParseStatus::Complete
        }
        ip_proto::UDP => {
            let Some(u) = seg.first_chunk::<8>() else {
                return ParseStatus::Truncated(Header::Udp);
            };
            key.tp_src = be16(u[0], u[1]);
            key.tp_dst = be16(u[2], u[3]);
            lay.payload = off16(l4 + 8);
            ParseStatus::Complete
        }
        ip_proto::SCTP => {
            let Some(s) = seg.first_chunk::<12>() else {
                return ParseStatus::Truncated(Header::Sctp);
            };
            key.tp_src = be16(s[0], s[1]);
            key.tp_dst = be16(s[2], s[3]);
            lay.payload = off16(l4 + 12);
            ParseStatus::Complete
        }
        ip_proto::ICMP if !v6 => {
            let Some(i) = seg.first_chunk::<8>() else {
                return ParseStatus::Truncated(Header::Icmpv4);
            };
            key.tp_src = u16::from(i[0]);
            key.tp_dst = u16::from(i[1]);
            lay.payload = off16(l4 + 8);
            ParseStatus::Complete
        }
        ip_proto::ICMPV6 if v6 => {
            let Some(i) = seg.first_chunk::<8>() else {
                return ParseStatus::Truncated(Header::Icmpv6);
            };
            key.tp_src = u16::from(i[0]);
            key.tp_dst = u16::from(i[1]);
            lay.payload = off16(l4 + 8);
            let nd = matches!(
                i[0],
                icmp6_type::NEIGHBOR_SOLICIT | icmp6_type::NEIGHBOR_ADVERT
            );
            if nd && i[1] == 0 {
                parse_nd(seg, key)
            } else {
                ParseStatus::Complete
            }
        }
        _ => ParseStatus::Complete,
    }
}

/// Neighbor Discovery target and link-layer address options of an NS/NA
/// message `msg` (starting at the ICMPv6 type).
#[cold]
fn parse_nd(msg: &[u8], key: &mut FlowKey) -> ParseStatus {
    let Some(m) = msg.first_chunk::<24>() else {
        return ParseStatus::Truncated(Header::Nd);
    };
    let mut sll = [0u8; 6];
    let mut tll = [0u8; 6];
    let mut opts = msg.get(24..).unwrap_or_default();
    // Like Open vSwitch, a tail shorter than 8 bytes is ignored.
    while let Some(o) = opts.first_chunk::<8>() {
        let len = usize::from(o[1]) * 8;
        if len == 0 || len > opts.len() {
            return ParseStatus::Malformed(Header::Nd);
        }
        if len == 8 {
            let slot = match o[0] {
                nd_option::SOURCE_LL_ADDR => Some(&mut sll),
                nd_option::TARGET_LL_ADDR => Some(&mut tll),
                _ => None,
            };
            if let Some(slot) = slot {
                if *slot != [0; 6] {
                    return ParseStatus::Malformed(Header::Nd);
                }
                slot.copy_from_slice(&o[2..8]);
            }
        }
        opts = opts.get(len..).unwrap_or_default();
    }
    key.nd_target.copy_from_slice(&m[8..24]);
    key.arp_sha = sll;
    key.arp_tha = tll;
    ParseStatus::Complete
}

#[inline(always)]
fn parse_arp(frame: &[u8], l3: usize, key: &mut FlowKey, lay: &mut Layout) -> ParseStatus {
    lay.l3 = off16(l3);
    let Some(a) = chunk::<8>(frame, l3) else {
        return ParseStatus::Truncated(Header::Arp);
    };
    let eth_ipv4 = be16(a[0], a[1]) == 1 && be16(a[2], a[3]) == ethertype::IPV4;
    if !eth_ipv4 || a[4] != 6 || a[5] != 4 {
        return ParseStatus::Complete;
    }
    let Some(a) = chunk::<28>(frame, l3) else {
        return ParseStatus::Truncated(Header::Arp);
    };
    key.arp_op = be16(a[6], a[7]);
    key.arp_sha.copy_from_slice(&a[8..14]);
    key.ipv4_src = be32(a[14], a[15], a[16], a[17]);
    key.arp_tha.copy_from_slice(&a[18..24]);
    key.ipv4_dst = be32(a[24], a[25], a[26], a[27]);
    ParseStatus::Complete
}

#[inline(always)]
fn parse_mpls(frame: &[u8], at: usize, key: &mut FlowKey, lay: &mut Layout) -> ParseStatus {
    lay.mpls = off16(at);
    let Some(m) = chunk::<4>(frame, at) else {
        return ParseStatus::Truncated(Header::Mpls);
    };
    let mut lse = be32(m[0], m[1], m[2], m[3]);
    key.mpls_lse = lse;
    let mut next = at + 4;
    // Each turn moves 4 bytes further, so the walk ends with the frame.
    while lse & mpls::BOS_BIT == 0 {
        let Some(m) = chunk::<4>(frame, next) else {
            return ParseStatus::Truncated(Header::Mpls);
        };
        lse = be32(m[0], m[1], m[2], m[3]);
        next += 4;
    }
    lay.l3 = off16(next);
    ParseStatus::Complete
}

/// The fuzzing entry point (`fuzz/fuzz_targets/flow_extract.rs`): extracts
/// `data` with and without tunnel metadata, checks the invariants of the
/// module notes against the header views, and runs every view's getters
/// (and value-preserving setters) at every header offset and at each of
/// the first bytes, where none may panic once `check_len` passed.
pub fn fuzz_flow_extract(data: &[u8]) {
    fuzz::run(data);
}

mod fuzz {
    use super::*;
    use crate::flow::{FLOW_WORDS, VLAN_PRESENT};
    use crate::packet::{
        checksum, ArpPacket, EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6AuthHeader,
        Ipv6EspHeader, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6Packet, Ipv6RoutingHeader,
        LlcSnapHeader, MplsHeader, NdMessage, PbbITag, SctpPacket, TcpPacket, UdpPacket,
        VlanHeader, VxlanHeader,
    };

    pub(super) fn run(data: &[u8]) {
        let plain = PacketMeta {
            in_port: 7,
            ..PacketMeta::default()
        };
        let tunnelled = PacketMeta {
            in_port: 0xffff_fff0,
            tunnel: TunnelMeta {
                tunnel_id: 0x1234_5678_9abc,
                ipv4_src: 0x0a00_0001,
                ipv4_dst: 0x0a00_0002,
                tos: 3,
                ttl: 9,
                flags: tun_flags::PRESENT | tun_flags::CSUM,
                tp_dst: 4789,
            },
            queue_id: 1,
            ..PacketMeta::default()
        };
        let mut key = FlowKey::default();
        let lay = flow_extract(data, &plain, &mut key);
        check_key_against_views(data, &key, &lay);
        assert_eq!((key.in_port, key.in_phy_port), (7, 7));
        assert_eq!(key.tunnel_id | u64::from(key.tun_flags), 0);

        // A reused, dirty key ends up identical, and only metadata differs
        // with a tunnel.
        let mut dirty = FlowKey::from_words([u64::MAX; FLOW_WORDS]);
        let lay2 = flow_extract(data, &tunnelled, &mut dirty);
        assert_eq!(lay, lay2);
        assert_eq!(dirty.tunnel_id, tunnelled.tunnel.tunnel_id);
        assert_eq!(dirty.tun_tp_dst, 4789);
        assert_eq!(dirty.in_phy_port, tunnelled.in_port);
        let mut untunnelled = dirty;
        untunnelled.in_port = 7;
        untunnelled.in_phy_port = 7;
        untunnelled.tunnel_id = 0;
        untunnelled.tun_ipv4_src = 0;
        untunnelled.tun_ipv4_dst = 0;
        untunnelled.tun_tos = 0;
        untunnelled.tun_ttl = 0;
        untunnelled.tun_flags = 0;
        untunnelled.tun_tp_dst = 0;
        assert_eq!(untunnelled, key);

        let offsets = [lay.mpls, lay.l3, lay.l4, lay.payload].map(lay_or);
        let fixed = [12, 14, 16, 18, 20, 22];
        for at in offsets.into_iter().chain(fixed).chain(0..data.len().min(8)) {
            if let Some(bytes) = data.get(at..) {
                std::hint::black_box(exercise_views(bytes));
            }
        }
    }

    fn lay_or(v: u16) -> usize {
        opt(v).unwrap_or(0)
    }

    fn check_key_against_views(data: &[u8], key: &FlowKey, lay: &Layout) {
        assert_eq!(key.metadata, 0);
        let len = data.len().min(MAX_FRAME_LEN);
        // Offsets are ordered and inside the frame.
        let present: Vec<usize> = [lay.ethertype, lay.mpls, lay.l3, lay.l4, lay.payload]
            .into_iter()
            .filter_map(opt)
            .collect();
        assert!(present.windows(2).all(|w| w[0] < w[1]), "{lay:?}");
        assert!(present.iter().all(|&o| o <= len), "{lay:?} len {len}");
        if let (Some(t), Some(l3)) = (lay.ethertype_offset(), lay.l3_offset()) {
            assert!(t + 2 <= l3);
        }
        assert!(lay.vlans <= 2);
        assert_eq!(lay.vlans >= 1, key.vlan_tci & VLAN_PRESENT != 0);
        assert_eq!(lay.vlans == 2, key.vlan_tci_inner & VLAN_PRESENT != 0);
        assert_eq!(lay.vlans >= 1, key.vlan_tpid != 0);
        if len < 14 {
            assert_eq!(lay.status, ParseStatus::Truncated(Header::Ethernet));
            assert_eq!(key.eth_type, 0);
        }
        if key.nw_frag & frag::LATER != 0 {
            assert!(key.nw_frag & frag::ANY != 0);
            assert_eq!((key.tp_src, key.tp_dst, key.tcp_flags), (0, 0, 0));
            assert_eq!(lay.l4, ABSENT);
        }
        if key.tcp_flags != 0 {
            assert_eq!(key.nw_proto, ip_proto::TCP);
        }
        if lay.payload != ABSENT {
            assert!(lay.l4 != ABSENT && lay.status != ParseStatus::Malformed(Header::Tcp));
        }
        if !key.is_ip() {
            assert_eq!(
                (key.nw_proto, key.nw_tos, key.nw_ttl, key.nw_frag),
                (0, 0, 0, 0)
            );
            assert_eq!((key.tp_src, key.tp_dst, key.tcp_flags), (0, 0, 0));
            assert_eq!(key.ipv6_src, [0; 16]);
            assert_eq!(key.nd_target, [0; 16]);
            if key.eth_type != ethertype::ARP && key.eth_type != ethertype::RARP {
                assert_eq!((key.ipv4_src, key.ipv4_dst, key.arp_op), (0, 0, 0));
                assert_eq!(key.arp_sha, [0; 6]);
            }
        }
        if !ethertype::is_mpls(key.eth_type) {
            assert_eq!(key.mpls_lse, 0);
            assert_eq!(lay.mpls, ABSENT);
        }
        let Some(l3) = lay.l3_offset() else { return };
        let net = &data[l3..len];
        match key.eth_type {
            ethertype::IPV4 => {
                if let Ok(ip) = Ipv4Packet::new_checked(net) {
                    if ip.version() == 4 {
                        assert_eq!(key.ipv4_src, u32::from_be_bytes(ip.src_addr()));
                        assert_eq!(key.ipv4_dst, u32::from_be_bytes(ip.dst_addr()));
                        assert_eq!((key.nw_ttl, key.nw_proto), (ip.ttl(), ip.protocol()));
                        assert_eq!(key.nw_tos, ip.tos());
                        assert_eq!(key.nw_frag & frag::ANY != 0, ip.is_fragment());
                        assert_eq!(lay.l4_offset().is_some(), ip.frag_offset() == 0);
                    }
                }
            }
            ethertype::IPV6 => {
                let ip = Ipv6Packet::new_unchecked(net);
                if net.len() >= 40 && ip.version() == 6 {
                    assert_eq!(key.ipv6_src, ip.src_addr());
                    assert_eq!(key.ipv6_dst, ip.dst_addr());
                    assert_eq!(key.ipv6_label, ip.flow_label());
                    assert_eq!(
                        (key.nw_tos, key.nw_ttl),
                        (ip.traffic_class(), ip.hop_limit())
                    );
                } else {
                    assert_eq!(key.ipv6_src, [0; 16]);
                }
            }
            ethertype::ARP | ethertype::RARP => {
                if let Ok(arp) = ArpPacket::new_checked(net) {
                    if arp.is_ethernet_ipv4() {
                        assert_eq!(key.arp_op, arp.operation());
                        assert_eq!(key.arp_sha, arp.source_hardware_addr());
                        assert_eq!(key.ipv4_dst, u32::from_be_bytes(arp.target_protocol_addr()));
                    }
                }
            }
            _ => {}
        }
        let Some(l4) = lay.l4_offset() else { return };
        let seg = &data[l4..len];
        match key.nw_proto {
            ip_proto::TCP if lay.payload != ABSENT => {
                let t = TcpPacket::new_checked(seg).unwrap();
                assert_eq!((key.tp_src, key.tp_dst), (t.src_port(), t.dst_port()));
                assert_eq!(key.tcp_flags, t.flags());
                assert_eq!(lay.payload_offset(), Some(l4 + t.header_len()));
            }
            ip_proto::UDP if lay.payload != ABSENT => {
                let u = UdpPacket::new_unchecked(seg);
                assert_eq!((key.tp_src, key.tp_dst), (u.src_port(), u.dst_port()));
            }
            ip_proto::ICMPV6 if key.is_ipv6() && lay.payload != ABSENT => {
                let i = Icmpv6Packet::new_checked(seg).unwrap();
                assert_eq!(key.tp_src, u16::from(i.msg_type()));
                if !i.is_neighbor_discovery() {
                    assert_eq!(key.nd_target, [0; 16]);
                }
            }
            _ => {}
        }
    }

    /// Runs every checked view over `b`; returns a value built from all
    /// reads so that none is optimized away.
    fn exercise_views(b: &[u8]) -> u64 {
        let mut acc = 0u64;
        let mut mix = |v: u64| acc = acc.rotate_left(5) ^ v;
        if let Ok(e) = EthernetFrame::new_checked(b) {
            mix(u64::from(e.ethertype()) ^ u64::from(e.src_addr()[0]) ^ u64::from(e.dst_addr()[5]));
            mix(e.payload().len() as u64);
        }
        if let Ok(s) = LlcSnapHeader::new_checked(b) {
            mix(u64::from(s.carries_ethertype()) ^ u64::from(s.ethertype()));
            mix(u64::from(s.oui()[0] ^ s.dsap() ^ s.ssap() ^ s.control())
                ^ s.payload().len() as u64);
        }
        if let Ok(v) = VlanHeader::new_checked(b) {
            mix(u64::from(v.tci() ^ v.vid() ^ v.ethertype()) ^ u64::from(v.pcp()));
            mix(u64::from(v.dei()) ^ v.payload().len() as u64);
        }
        if let Ok(a) = ArpPacket::new_checked(b) {
            mix(u64::from(
                a.hardware_type() ^ a.protocol_type() ^ a.operation(),
            ));
            mix(u64::from(a.hardware_len() ^ a.protocol_len()) ^ u64::from(a.is_ethernet_ipv4()));
            mix(u64::from(
                a.source_hardware_addr()[0] ^ a.target_hardware_addr()[5],
            ));
            mix(u64::from(
                a.source_protocol_addr()[0] ^ a.target_protocol_addr()[3],
            ));
        }
        if let Ok(ip) = Ipv4Packet::new_checked(b) {
            mix(u64::from(ip.version()) ^ ip.header_len() as u64 ^ u64::from(ip.tos()));
            mix(u64::from(ip.dscp() ^ ip.ecn() ^ ip.ttl() ^ ip.protocol()));
            mix(u64::from(
                ip.total_len() ^ ip.ident() ^ ip.flags_frag() ^ ip.frag_offset(),
            ));
            mix(u64::from(ip.dont_frag())
                ^ u64::from(ip.more_frags())
                ^ u64::from(ip.is_fragment()));
            mix(u64::from(ip.checksum() ^ ip.compute_checksum()) ^ u64::from(ip.verify_checksum()));
            mix(u64::from(
                u32::from_be_bytes(ip.src_addr()) ^ u32::from_be_bytes(ip.dst_addr()),
            ));
            mix(ip.options().len() as u64 ^ ip.payload().len() as u64);
            let mut copy = b.to_vec();
            let mut w = Ipv4Packet::new_checked(&mut copy[..]).unwrap();
            let (tos, ttl, ff) = (w.tos(), w.ttl(), w.flags_frag());
            w.set_tos(tos);
            w.set_ttl(ttl);
            w.set_flags_frag(ff);
            w.set_src_addr(ip.src_addr());
            w.set_dst_addr(ip.dst_addr());
            w.set_ttl_update_checksum(ttl.wrapping_sub(1));
            w.set_ttl_update_checksum(ttl);
            assert_eq!(w.verify_checksum(), ip.verify_checksum());
            // The checksum may flip between the two encodings of zero.
            copy[10..12].copy_from_slice(&b[10..12]);
            assert_eq!(
                copy, b,
                "rewriting an IPv4 header with its own values changed it"
            );
        }
        if let Ok(ip) = Ipv6Packet::new_checked(b) {
            mix(u64::from(
                ip.version() ^ ip.traffic_class() ^ ip.next_header() ^ ip.hop_limit(),
            ));
            mix(u64::from(ip.flow_label()) ^ u64::from(ip.payload_len()));
            mix(u64::from(ip.src_addr()[0] ^ ip.dst_addr()[15]) ^ ip.payload().len() as u64);
            let c = Ipv6ExtChain::walk(ip.payload(), ip.next_header());
            assert!(c.len <= ip.payload().len());
            mix(c.len as u64 ^ u64::from(c.exthdr) ^ u64::from(c.frag));
        }
        if let Some(&first) = b.first() {
            let c = Ipv6ExtChain::walk(b, first);
            assert!(c.len <= b.len());
            if c.frag & frag::LATER != 0 {
                assert!(c.frag & frag::ANY != 0);
            }
            mix(c.len as u64 ^ u64::from(c.next_header));
        }
        if let Ok(h) = Ipv6ExtHeader::new_checked(b) {
            mix(u64::from(h.next_header() ^ h.header_ext_len()) ^ h.header_len() as u64);
            mix(h.options().len() as u64 ^ h.payload().len() as u64);
        }
        if let Ok(h) = Ipv6RoutingHeader::new_checked(b) {
            mix(u64::from(
                h.next_header() ^ h.routing_type() ^ h.segments_left(),
            ));
            mix(h.header_len() as u64 ^ h.data().len() as u64);
        }
        if let Ok(h) = Ipv6FragmentHeader::new_checked(b) {
            mix(u64::from(h.next_header()) ^ u64::from(h.frag_offset()) ^ u64::from(h.ident()));
            mix(u64::from(h.more_frags()) ^ h.payload().len() as u64);
        }
        if let Ok(h) = Ipv6AuthHeader::new_checked(b) {
            mix(u64::from(h.next_header()) ^ h.header_len() as u64 ^ u64::from(h.spi()));
            mix(u64::from(h.sequence_number()) ^ h.icv().len() as u64);
        }
        if let Ok(h) = Ipv6EspHeader::new_checked(b) {
            mix(u64::from(h.spi() ^ h.sequence_number()) ^ h.payload().len() as u64);
        }
        if let Ok(t) = TcpPacket::new_checked(b) {
            mix(u64::from(
                t.src_port() ^ t.dst_port() ^ t.flags() ^ t.window_len(),
            ));
            mix(u64::from(t.seq_number() ^ t.ack_number()) ^ t.header_len() as u64);
            let f = [
                t.fin(),
                t.syn(),
                t.rst(),
                t.psh(),
                t.ack(),
                t.urg(),
                t.ece(),
                t.cwr(),
                t.ns(),
            ];
            mix(f.iter().filter(|x| **x).count() as u64);
            mix(u64::from(t.checksum() ^ t.urgent_at()) ^ u64::from(t.verify_checksum(0)));
            mix(t.options().len() as u64 ^ t.payload().len() as u64);
            let mut copy = b.to_vec();
            let mut w = TcpPacket::new_checked(&mut copy[..]).unwrap();
            let hl = w.header_len();
            w.set_header_len(hl);
            w.set_flags(t.flags());
            w.set_src_port(t.src_port());
            w.set_dst_port(t.dst_port());
            assert_eq!(
                copy, b,
                "rewriting a TCP header with its own values changed it"
            );
        }
        if let Ok(u) = UdpPacket::new_checked(b) {
            mix(u64::from(
                u.src_port() ^ u.dst_port() ^ u.len() ^ u.checksum(),
            ));
            mix(u64::from(u.is_empty()) ^ u.payload().len() as u64);
            mix(u64::from(u.verify_checksum(checksum::pseudo_header_v4(
                [0; 4],
                [0; 4],
                17,
                u.len(),
            ))));
        }
        if let Ok(s) = SctpPacket::new_checked(b) {
            mix(u64::from(s.src_port() ^ s.dst_port()) ^ u64::from(s.verification_tag()));
            mix(u64::from(s.checksum())
                ^ u64::from(s.verify_checksum())
                ^ s.payload().len() as u64);
        }
        if let Ok(i) = Icmpv4Packet::new_checked(b) {
            mix(u64::from(i.msg_type() ^ i.msg_code()) ^ u64::from(i.checksum()));
            mix(u64::from(i.rest_of_header()) ^ u64::from(i.echo_ident() ^ i.echo_seq_no()));
            mix(u64::from(i.verify_checksum()) ^ i.data().len() as u64);
        }
        if let Ok(i) = Icmpv6Packet::new_checked(b) {
            mix(u64::from(i.msg_type() ^ i.msg_code()) ^ u64::from(i.checksum()));
            mix(u64::from(i.body_word()) ^ u64::from(i.is_neighbor_discovery()));
            mix(u64::from(i.verify_checksum(0)) ^ i.data().len() as u64);
        }
        if let Ok(nd) = NdMessage::new_checked(b) {
            mix(u64::from(nd.msg_type() ^ nd.flags() ^ nd.target_addr()[0]));
            for o in nd.option_iter() {
                match o {
                    Ok(o) => {
                        mix(u64::from(o.option_type()) ^ o.len() as u64 ^ o.data().len() as u64);
                        mix(o.link_layer_addr().map_or(0, |m| u64::from(m[0])));
                    }
                    Err(e) => mix(e as u64),
                }
            }
        }
        if let Ok(m) = MplsHeader::new_checked(b) {
            mix(u64::from(m.lse() ^ m.label()) ^ u64::from(m.tc() ^ m.ttl()) ^ u64::from(m.bos()));
            mix(m.payload().len() as u64);
        }
        if let Ok(v) = VxlanHeader::new_checked(b) {
            mix(u64::from(v.flags()) ^ u64::from(v.vni()) ^ u64::from(v.vni_valid()));
            mix(v.payload().len() as u64);
        }
        if let Ok(p) = PbbITag::new_checked(b) {
            mix(u64::from(p.pcp()) ^ u64::from(p.dei()) ^ u64::from(p.uca()) ^ u64::from(p.isid()));
            mix(p.payload().len() as u64);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{ipv6_exthdr, FLOW_WORDS};
    use crate::packet::builder::FrameBuilder;
    use crate::packet::icmpv6::na_flags;
    use crate::packet::tcp::flags as tcpf;
    use crate::packet::MacAddr;
    use proptest::prelude::*;

    const A: MacAddr = [0x02, 0, 0, 0, 0, 0x0a];
    const B: MacAddr = [0x02, 0, 0, 0, 0, 0x0b];
    const IP_A: [u8; 4] = [10, 1, 2, 3];
    const IP_B: [u8; 4] = [192, 168, 7, 9];
    const V6A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa];
    const V6B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb];

    fn meta() -> PacketMeta {
        PacketMeta {
            in_port: 3,
            ..PacketMeta::default()
        }
    }

    fn extract(frame: &[u8]) -> (FlowKey, Layout) {
        let mut key = FlowKey::from_words([0x5a5a_5a5a_5a5a_5a5a; FLOW_WORDS]);
        let lay = flow_extract(frame, &meta(), &mut key);
        fuzz_flow_extract(frame);
        (key, lay)
    }

    #[test]
    fn extracts_every_field_of_a_tcp4_frame() {
        let f = FrameBuilder::tcp4(A, B, IP_A, IP_B, 40000, 443, b"GET /")
            .tcp_flags(tcpf::SYN | tcpf::ECE | tcpf::CWR)
            .tos(0xb9)
            .ttl(17)
            .build();
        let (k, lay) = extract(&f);
        let expected = FlowKey {
            in_port: 3,
            in_phy_port: 3,
            eth_dst: B,
            eth_src: A,
            eth_type: 0x0800,
            ipv4_src: 0x0a01_0203,
            ipv4_dst: 0xc0a8_0709,
            nw_proto: 6,
            nw_tos: 0xb9,
            nw_ttl: 17,
            tp_src: 40000,
            tp_dst: 443,
            tcp_flags: 0x0c2,
            ..FlowKey::default()
        };
        assert_eq!(k, expected);
        assert_eq!(lay.status, ParseStatus::Complete);
        assert_eq!(
            (
                lay.vlans,
                lay.ethertype,
                lay.mpls,
                lay.l3,
                lay.l4,
                lay.payload
            ),
            (0, 12, ABSENT, 14, 34, 54)
        );
        assert_eq!(lay.vlan_offset(0), None);
    }

    #[test]
    fn extracts_a_vlan_tag_keeping_present_instead_of_the_wire_dei() {
        // PCP 5, DEI set, VID 100.
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 68, 67, b"")
            .vlan(0x8100, 0xb064)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.vlan_tci, 0xb064);
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 68, 67, b"")
            .vlan(0x8100, 0xa064)
            .build();
        let (k2, _) = extract(&f);
        assert_eq!(k2.vlan_tci, 0xa000 | VLAN_PRESENT | 100);
        assert_eq!(k2.vlan_tpid, 0x8100);
        assert_eq!(k2.vlan_tci_inner, 0);
        assert_eq!((k2.eth_type, k2.tp_src, k2.tp_dst), (0x0800, 68, 67));
        assert_eq!((lay.vlans, lay.ethertype, lay.l3, lay.l4), (1, 16, 18, 38));
        assert_eq!(lay.vlan_offset(0), Some(12));
    }

    #[test]
    fn extracts_outer_and_inner_tags_of_a_double_tagged_frame() {
        let f = FrameBuilder::tcp6(A, B, V6A, V6B, 1, 2, b"")
            .vlan(0x88a8, 0x2000 | 10)
            .vlan(0x8100, 0x6000 | 20)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.vlan_tpid, 0x88a8);
        assert_eq!(k.vlan_tci, 0x2000 | VLAN_PRESENT | 10);
        assert_eq!(k.vlan_tci_inner, 0x6000 | VLAN_PRESENT | 20);
        assert_eq!(k.eth_type, 0x86dd);
        assert_eq!((k.ipv6_src, k.ipv6_dst), (V6A, V6B));
        assert_eq!((lay.vlans, lay.ethertype, lay.l3, lay.l4), (2, 20, 22, 62));
        assert_eq!(
            (lay.vlan_offset(0), lay.vlan_offset(1)),
            (Some(12), Some(16))
        );
        assert!(lay.is_complete());
    }

    #[test]
    fn stops_after_two_tags_and_reports_the_third_tpid_as_eth_type() {
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, b"")
            .vlan(0x88a8, 1)
            .vlan(0x8100, 2)
            .vlan(0x8100, 3)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.eth_type, 0x8100);
        assert_eq!((k.ipv4_src, k.tp_src), (0, 0));
        assert_eq!((lay.vlans, lay.l3), (2, 22));
        assert!(lay.is_complete());
    }

    #[test]
    fn extracts_ipv4_with_options_and_skips_them() {
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 5000, 6000, b"abc")
            .ipv4_options(&[0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00])
            .build();
        let (k, lay) = extract(&f);
        assert_eq!((k.tp_src, k.tp_dst, k.nw_proto), (5000, 6000, 17));
        assert_eq!((lay.l3, lay.l4, lay.payload), (14, 42, 50));
        assert!(lay.is_complete());
    }

    #[test]
    fn marks_a_first_ipv4_fragment_and_keeps_its_ports() {
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, &[0; 32])
            .fragment(0, true)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.nw_frag, frag::ANY);
        assert_eq!((k.tp_src, k.tp_dst), (1, 2));
        assert_eq!(lay.l4, 34);
    }

    #[test]
    fn marks_a_later_ipv4_fragment_and_reads_no_transport_field() {
        let f = FrameBuilder::ip4_raw(A, B, IP_A, IP_B, 6, &[0x12; 40])
            .fragment(1480, false)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.nw_frag, frag::ANY | frag::LATER);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst, k.tcp_flags), (6, 0, 0, 0));
        assert_eq!((lay.l3, lay.l4, lay.payload), (14, ABSENT, ABSENT));
        assert!(lay.is_complete());
    }

    #[test]
    fn leaves_dont_fragment_packets_unfragmented() {
        let f = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        assert_eq!(extract(&f).0.nw_frag, 0);
    }

    #[test]
    fn extracts_ipv6_traffic_class_flow_label_and_hop_limit() {
        let f = FrameBuilder::tcp6(A, B, V6A, V6B, 22, 40001, b"ssh")
            .tos((0x2e << 2) | 1)
            .flow_label(0xabcde)
            .ttl(3)
            .tcp_flags(tcpf::PSH | tcpf::ACK)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.eth_type, 0x86dd);
        assert_eq!((k.nw_tos, k.ipv6_label, k.nw_ttl), (0xb9, 0xabcde, 3));
        assert_eq!(
            (k.nw_proto, k.tp_src, k.tp_dst, k.tcp_flags),
            (6, 22, 40001, 0x18)
        );
        assert_eq!((k.ipv6_exthdr, k.nw_frag), (0, 0));
        assert_eq!((lay.l3, lay.l4, lay.payload), (14, 54, 74));
    }

    #[test]
    fn walks_an_ipv6_extension_chain_to_the_transport_header() {
        let f = FrameBuilder::udp6(A, B, V6A, V6B, 53, 53, b"q")
            .ipv6_ext(ip_proto::HOPOPT, &[5, 2, 0, 0, 1, 0])
            .ipv6_ext(ip_proto::IPV6_DSTOPTS, &[])
            .ipv6_ext(ip_proto::IPV6_ROUTE, &[0, 0])
            .ipv6_auth(1, 2, &[0; 4])
            .ipv6_ext(ip_proto::IPV6_DSTOPTS, &[])
            .build();
        let (k, lay) = extract(&f);
        use ipv6_exthdr::*;
        assert_eq!(k.ipv6_exthdr, HOP | DEST | ROUTER | AUTH);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (17, 53, 53));
        assert_eq!(lay.l4, 54 + 8 + 8 + 8 + 16 + 8);
        assert!(lay.is_complete());
    }

    #[test]
    fn flags_repeated_and_misordered_ipv6_extension_headers() {
        let f = FrameBuilder::udp6(A, B, V6A, V6B, 1, 2, b"")
            .ipv6_ext(ip_proto::IPV6_ROUTE, &[0, 0])
            .ipv6_ext(ip_proto::HOPOPT, &[])
            .ipv6_ext(ip_proto::IPV6_ROUTE, &[0, 0])
            .build();
        let (k, _) = extract(&f);
        use ipv6_exthdr::*;
        assert_eq!(k.ipv6_exthdr, ROUTER | HOP | UNSEQ | UNREP);
        assert_eq!(k.tp_dst, 2);
    }

    #[test]
    fn records_esp_and_no_next_header_as_the_last_protocol() {
        let f = FrameBuilder::ip6_raw(A, B, V6A, V6B, ip_proto::ESP, &[0; 16])
            .ipv6_ext(ip_proto::HOPOPT, &[])
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.ipv6_exthdr, ipv6_exthdr::HOP | ipv6_exthdr::ESP);
        assert_eq!((k.nw_proto, k.tp_src), (ip_proto::ESP, 0));
        assert_eq!(lay.l4, 62);
        let f = FrameBuilder::ip6_raw(A, B, V6A, V6B, ip_proto::IPV6_NONXT, &[]).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.ipv6_exthdr, k.nw_proto), (ipv6_exthdr::NONEXT, 59));
        assert!(lay.is_complete());
    }

    #[test]
    fn marks_ipv6_first_and_later_fragments() {
        let first = FrameBuilder::tcp6(A, B, V6A, V6B, 7, 8, &[0; 24])
            .fragment(0, true)
            .build();
        let (k, lay) = extract(&first);
        assert_eq!(k.nw_frag, frag::ANY);
        assert_eq!(k.ipv6_exthdr, ipv6_exthdr::FRAG);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (6, 7, 8));
        assert_eq!(lay.l4, 62);

        let later = FrameBuilder::ip6_raw(A, B, V6A, V6B, ip_proto::TCP, &[0xff; 24])
            .fragment(1232, false)
            .build();
        let (k, lay) = extract(&later);
        assert_eq!(k.nw_frag, frag::ANY | frag::LATER);
        assert_eq!((k.nw_proto, k.tp_src, k.tcp_flags), (6, 0, 0));
        assert_eq!(lay.l4, ABSENT);
        assert!(lay.is_complete());
    }

    #[test]
    fn extracts_a_neighbor_solicitation_target_and_source_link_address() {
        let target = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];
        let f = FrameBuilder::nd_ns(A, [0x33, 0x33, 0xff, 0, 0, 0x42], V6A, V6B, target, Some(A))
            .build();
        let (k, lay) = extract(&f);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (58, 135, 0));
        assert_eq!(k.nd_target, target);
        assert_eq!((k.arp_sha, k.arp_tha), (A, [0; 6]));
        assert_eq!(k.nw_ttl, 255);
        assert!(lay.is_complete());
    }

    #[test]
    fn extracts_a_neighbor_advertisement_target_link_address() {
        let target = V6A;
        let flags = na_flags::SOLICITED | na_flags::OVERRIDE;
        let f = FrameBuilder::nd_na(A, B, V6A, V6B, target, flags, Some(B)).build();
        let (k, _) = extract(&f);
        assert_eq!((k.tp_src, k.nd_target), (136, target));
        assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], B));
        let bare = FrameBuilder::nd_na(A, B, V6A, V6B, target, flags, None).build();
        let (k, _) = extract(&bare);
        assert_eq!((k.nd_target, k.arp_tha), (target, [0; 6]));
    }

    #[test]
    fn clears_nd_fields_on_a_bad_option_like_open_vswitch() {
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&V6B);
        body.extend_from_slice(&[nd_option::SOURCE_LL_ADDR, 1, 1, 2, 3, 4, 5, 6]);
        body.extend_from_slice(&[nd_option::SOURCE_LL_ADDR, 1, 9, 9, 9, 9, 9, 9]);
        let dup = FrameBuilder::icmp6(A, B, V6A, V6B, 135, 0, &body).build();
        let (k, lay) = extract(&dup);
        assert_eq!(lay.status, ParseStatus::Malformed(Header::Nd));
        assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
        assert_eq!(k.tp_src, 135);

        let mut body = vec![0u8; 4];
        body.extend_from_slice(&V6B);
        body.extend_from_slice(&[nd_option::TARGET_LL_ADDR, 0, 1, 2, 3, 4, 5, 6]);
        let zero = FrameBuilder::icmp6(A, B, V6A, V6B, 136, 0, &body).build();
        let (k, lay) = extract(&zero);
        assert_eq!(lay.status, ParseStatus::Malformed(Header::Nd));
        assert_eq!(k.nd_target, [0; 16]);

        // Unknown options of any size and a short tail are skipped.
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&V6B);
        body.extend_from_slice(&[14, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&[nd_option::SOURCE_LL_ADDR, 1, 1, 2, 3, 4, 5, 6, 0xff, 0xff]);
        let ok = FrameBuilder::icmp6(A, B, V6A, V6B, 135, 0, &body).build();
        let (k, lay) = extract(&ok);
        assert!(lay.is_complete());
        assert_eq!((k.nd_target, k.arp_sha), (V6B, [1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn ignores_nd_fields_of_other_icmpv6_messages() {
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&V6B);
        body.extend_from_slice(&[nd_option::SOURCE_LL_ADDR, 1, 1, 2, 3, 4, 5, 6]);
        for (ty, code) in [(135, 1), (134, 0), (128, 0)] {
            let f = FrameBuilder::icmp6(A, B, V6A, V6B, ty, code, &body).build();
            let (k, lay) = extract(&f);
            assert_eq!((k.tp_src, k.tp_dst), (u16::from(ty), u16::from(code)));
            assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
            assert!(lay.is_complete());
        }
        let short = FrameBuilder::icmp6(A, B, V6A, V6B, 135, 0, &[0; 12]).build();
        let (k, lay) = extract(&short);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Nd));
        assert_eq!((k.tp_src, k.nd_target), (135, [0; 16]));
    }

    #[test]
    fn extracts_icmp_type_and_code_into_the_port_fields() {
        let f = FrameBuilder::icmp4(A, B, IP_A, IP_B, 3, 4, &[0; 28]).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (1, 3, 4));
        assert_eq!(lay.payload, 42);
        let f = FrameBuilder::icmp6(A, B, V6A, V6B, 129, 0, &[0, 1, 0, 1]).build();
        let (k, _) = extract(&f);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (58, 129, 0));
        // ICMPv4's protocol number inside IPv6 is not ICMP.
        let f = FrameBuilder::ip6_raw(A, B, V6A, V6B, 1, &[8, 0, 0, 0, 0, 0, 0, 0]).build();
        assert_eq!(extract(&f).0.tp_src, 0);
    }

    #[test]
    fn extracts_sctp_ports() {
        let f = FrameBuilder::sctp4(A, B, IP_A, IP_B, 2905, 36412, &[]).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.nw_proto, k.tp_src, k.tp_dst), (132, 2905, 36412));
        assert_eq!(lay.payload, 46);
        let cut = &f[..40];
        let (k, lay) = extract(cut);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Sctp));
        assert_eq!(k.tp_src, 0);
    }

    #[test]
    fn extracts_ethernet_ipv4_arp_fields() {
        let f = FrameBuilder::arp(A, [0xff; 6], 2, A, IP_A, B, IP_B).build();
        let (k, lay) = extract(&f);
        assert_eq!(k.eth_type, 0x0806);
        assert_eq!(k.arp_op, 2);
        assert_eq!((k.ipv4_src, k.ipv4_dst), (0x0a01_0203, 0xc0a8_0709));
        assert_eq!((k.arp_sha, k.arp_tha), (A, B));
        assert_eq!((k.nw_proto, k.tp_src), (0, 0));
        assert_eq!((lay.l3, lay.l4), (14, ABSENT));
        assert!(lay.is_complete());
    }

    #[test]
    fn ignores_arp_fields_of_other_hardware_or_protocols() {
        let mut f = FrameBuilder::arp(A, B, 1, A, IP_A, B, IP_B).build();
        f[15] = 6; // hardware type 6 (IEEE 802)
        let (k, lay) = extract(&f);
        assert_eq!((k.arp_op, k.ipv4_src, k.arp_sha), (0, 0, [0; 6]));
        assert!(lay.is_complete());
        let (k, lay) = extract(&f[..22]);
        assert_eq!(k.arp_op, 0);
        assert!(lay.is_complete());
        let (_, lay) = extract(&f[..21]);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Arp));
        let good = FrameBuilder::arp(A, B, 1, A, IP_A, B, IP_B).build();
        let (_, lay) = extract(&good[..41]);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Arp));
    }

    #[test]
    fn extracts_the_top_mpls_entry_and_parses_nothing_beyond() {
        let f = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1, 2, b"")
            .vlan(0x8100, 5)
            .mpls(1000, 3, 64)
            .mpls(2000, 0, 63)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(k.eth_type, 0x8847);
        assert_eq!(k.mpls_lse, mpls::lse(1000, 3, false, 64));
        assert_eq!((k.ipv4_src, k.nw_proto, k.tp_src), (0, 0, 0));
        assert_eq!(
            (lay.ethertype, lay.mpls, lay.l3, lay.l4),
            (16, 18, 26, ABSENT)
        );
        assert!(lay.is_complete());
        let (k, lay) = extract(&f[..24]);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Mpls));
        assert_eq!(
            (k.mpls_lse, lay.l3),
            (mpls::lse(1000, 3, false, 64), ABSENT)
        );
    }

    #[test]
    fn extracts_the_pbb_service_instance() {
        let inner = FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        let f = FrameBuilder::pbb(B, A, 0xabcdef, &inner).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.eth_type, k.pbb_isid), (0x88e7, 0xabcdef));
        assert_eq!((k.ipv4_src, lay.l3), (0, 14));
        let (k, lay) = extract(&f[..17]);
        assert_eq!(
            (lay.status, k.pbb_isid),
            (ParseStatus::Truncated(Header::Pbb), 0)
        );
    }

    #[test]
    fn reads_802_3_length_frames_as_type_05ff_unless_snap_names_a_type() {
        let stp = FrameBuilder::raw(A, B, 38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]).build();
        let (k, lay) = extract(&stp);
        assert_eq!(k.eth_type, 0x05ff);
        assert_eq!((lay.ethertype, lay.l3), (12, 14));
        let arp = FrameBuilder::arp(A, B, 1, A, IP_A, B, IP_B).build();
        let mut snap = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06];
        snap.extend_from_slice(&arp[14..]);
        let f = FrameBuilder::raw(A, B, 36, &snap).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.eth_type, k.arp_op, k.ipv4_dst), (0x0806, 1, 0xc0a8_0709));
        assert_eq!((lay.ethertype, lay.l3), (20, 22));
        let short = FrameBuilder::raw(A, B, 3, &[0xaa, 0xaa, 0x03]).build();
        assert_eq!(extract(&short).0.eth_type, 0x05ff);
    }

    #[test]
    fn keeps_unknown_ethertypes_at_layer_two() {
        let f = FrameBuilder::raw(A, B, 0x88cc, &[1, 2, 3]).build();
        let (k, lay) = extract(&f);
        assert_eq!((k.eth_type, k.eth_src, k.eth_dst), (0x88cc, A, B));
        assert_eq!((lay.l3, lay.l4), (14, ABSENT));
        assert!(lay.is_complete());
    }

    #[test]
    fn fills_tunnel_fields_only_when_the_metadata_is_present() {
        let f = FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        let mut m = PacketMeta {
            in_port: 9,
            ..PacketMeta::default()
        };
        m.tunnel = TunnelMeta {
            tunnel_id: 5000,
            ipv4_src: 1,
            ipv4_dst: 2,
            tos: 3,
            ttl: 4,
            flags: tun_flags::CSUM,
            tp_dst: 4789,
        };
        let mut k = FlowKey::default();
        flow_extract(&f, &m, &mut k);
        assert_eq!(
            (k.in_port, k.in_phy_port, k.tunnel_id, k.tun_tp_dst),
            (9, 9, 0, 0)
        );
        m.tunnel.flags |= tun_flags::PRESENT;
        flow_extract(&f, &m, &mut k);
        assert_eq!((k.tunnel_id, k.tun_ipv4_src, k.tun_ipv4_dst), (5000, 1, 2));
        assert_eq!((k.tun_tos, k.tun_ttl, k.tun_tp_dst), (3, 4, 4789));
        assert_eq!(k.tun_flags, tun_flags::PRESENT | tun_flags::CSUM);
        assert_eq!(k.metadata, 0);
    }

    #[test]
    fn clears_every_field_of_a_reused_key() {
        let tcp = FrameBuilder::tcp6(A, B, V6A, V6B, 1, 2, b"")
            .vlan(0x8100, 7)
            .build();
        let arp = FrameBuilder::arp(A, B, 1, A, IP_A, B, IP_B).build();
        let mut k = FlowKey::default();
        flow_extract(&tcp, &meta(), &mut k);
        flow_extract(&arp, &meta(), &mut k);
        let mut fresh = FlowKey::default();
        flow_extract(&arp, &meta(), &mut fresh);
        assert_eq!(k, fresh);
        assert_eq!((k.vlan_tci, k.ipv6_src, k.tp_src), (0, [0; 16], 0));
    }

    #[test]
    fn trims_ethernet_padding_by_the_ip_total_length() {
        // A bare IPv4 header claiming TCP, padded to the Ethernet minimum:
        // the padding must not be read as a TCP header.
        let f = FrameBuilder::ip4_raw(A, B, IP_A, IP_B, 6, &[])
            .pad_to(80)
            .build();
        let (k, lay) = extract(&f);
        assert_eq!(lay.status, ParseStatus::Truncated(Header::Tcp));
        assert_eq!((k.nw_proto, k.tp_src, k.ipv4_src), (6, 0, 0x0a01_0203));
        let u = FrameBuilder::udp6(A, B, V6A, V6B, 1, 2, b"")
            .pad_to(80)
            .build();
        let (k, lay) = extract(&u);
        assert!(lay.is_complete());
        assert_eq!(k.tp_dst, 2);
    }

    #[test]
    fn rejects_impossible_ipv4_lengths_keeping_the_layer_two_key() {
        let good = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        for (at, byte, why) in [
            (14, 0x44, "ihl 4"),
            (14, 0x65, "version 6"),
            (17, 19, "total 19"),
        ] {
            let mut f = good.clone();
            f[at] = byte;
            let (k, lay) = extract(&f);
            assert_eq!(lay.status, ParseStatus::Malformed(Header::Ipv4), "{why}");
            assert_eq!((k.eth_type, k.eth_src), (0x0800, A), "{why}");
            assert_eq!((k.ipv4_src, k.nw_ttl, k.nw_proto), (0, 0, 0), "{why}");
            assert_eq!(lay.l3, 14);
        }
        let mut f = good.clone();
        f[46] = 0x40; // TCP data offset 4
        let (k, lay) = extract(&f);
        assert_eq!(lay.status, ParseStatus::Malformed(Header::Tcp));
        assert_eq!((k.nw_proto, k.tp_src), (6, 0));
        let mut f = FrameBuilder::tcp6(A, B, V6A, V6B, 1, 2, b"").build();
        f[14] = 0x45;
        let (k, lay) = extract(&f);
        assert_eq!(lay.status, ParseStatus::Malformed(Header::Ipv6));
        assert_eq!(k.ipv6_src, [0; 16]);
    }

    #[test]
    fn keeps_every_whole_header_of_a_tcp_frame_cut_at_any_length() {
        let full = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1234, 80, b"payload")
            .vlan(0x8100, 0x0123)
            .tcp_options(&[2, 4, 5, 0xb4])
            .tcp_flags(tcpf::SYN)
            .build();
        let (fk, flay) = extract(&full);
        assert!(flay.is_complete());
        let (eth, vlan, ip, tcp) = (14, 18, 38, 62);
        for n in 0..full.len() {
            let (k, lay) = extract(&full[..n]);
            let expected_at = match n {
                _ if n < eth => Header::Ethernet,
                _ if n < vlan => Header::Vlan,
                _ if n < ip => Header::Ipv4,
                _ if n < tcp => Header::Tcp,
                _ => Header::Ipv4,
            };
            assert_eq!(
                lay.status,
                ParseStatus::Truncated(expected_at),
                "cut at {n}"
            );
            let whole = |h: usize| n >= h;
            assert_eq!(k.in_port, 3);
            assert_eq!(k.eth_src, if whole(eth) { A } else { [0; 6] }, "{n}");
            let eth_type = match n {
                _ if n < eth => 0,
                _ if n < vlan => 0x8100,
                _ => 0x0800,
            };
            assert_eq!(k.eth_type, eth_type, "{n}");
            assert_eq!(k.vlan_tci, if whole(vlan) { fk.vlan_tci } else { 0 }, "{n}");
            let ipf = (k.ipv4_src, k.ipv4_dst, k.nw_ttl, k.nw_proto);
            let full_ipf = (fk.ipv4_src, fk.ipv4_dst, fk.nw_ttl, fk.nw_proto);
            assert_eq!(ipf, if whole(ip) { full_ipf } else { (0, 0, 0, 0) }, "{n}");
            let l4f = (k.tp_src, k.tp_dst, k.tcp_flags);
            let full_l4f = (fk.tp_src, fk.tp_dst, fk.tcp_flags);
            assert_eq!(l4f, if whole(tcp) { full_l4f } else { (0, 0, 0) }, "{n}");
            assert_eq!(lay.payload_offset(), whole(tcp).then_some(tcp), "{n}");
        }
    }

    #[test]
    fn never_reports_a_cut_ip_frame_as_complete() {
        let frames = [
            FrameBuilder::udp6(A, B, V6A, V6B, 1, 2, b"x")
                .ipv6_ext(ip_proto::HOPOPT, &[])
                .fragment(0, true)
                .ipv6_auth(1, 1, &[])
                .build(),
            FrameBuilder::nd_ns(A, B, V6A, V6B, V6B, Some(A)).build(),
            FrameBuilder::icmp4(A, B, IP_A, IP_B, 8, 0, b"ping")
                .vlan(0x88a8, 1)
                .vlan(0x8100, 2)
                .build(),
        ];
        for f in &frames {
            assert!(extract(f).1.is_complete());
            for n in 0..f.len() {
                let (_, lay) = extract(&f[..n]);
                assert!(
                    matches!(lay.status, ParseStatus::Truncated(_)),
                    "{n}: {lay:?}"
                );
            }
        }
    }

    #[test]
    fn counts_parse_outcomes_by_header() {
        let f = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        let mut s = ParseStats::default();
        for n in [f.len(), 10, 40] {
            let (_, lay) = extract(&f[..n]);
            s.record(&lay);
        }
        let mut bad = f.clone();
        bad[14] = 0x41;
        s.record(&extract(&bad).1);
        assert_eq!(
            (s.frames, s.complete, s.truncated, s.malformed),
            (4, 1, 2, 1)
        );
        assert_eq!(s.truncated_at[Header::Ethernet.index()], 1);
        assert_eq!(s.truncated_at[Header::Tcp.index()], 1);
        assert_eq!(s.malformed_at[Header::Ipv4.index()], 1);
        let mut total = ParseStats::default();
        total.merge(&s);
        total.merge(&s);
        assert_eq!(
            (total.frames, total.truncated_at[Header::Tcp.index()]),
            (8, 2)
        );
    }

    #[test]
    fn parses_frames_longer_than_an_offset_can_say_as_if_cut() {
        let mut f = FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, b"").build();
        f.resize(MAX_FRAME_LEN + 100, 0);
        let (k, lay) = extract(&f);
        assert_eq!(k.tp_dst, 2);
        assert!(lay.is_complete());
    }

    fn corpus_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/flow_extract")
    }

    /// The frames of the fuzzing seed corpus, by file name.
    fn seed_frames() -> Vec<(&'static str, Vec<u8>)> {
        let target = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let inner = FrameBuilder::tcp4(A, B, IP_A, IP_B, 1, 2, b"in").build();
        vec![
            (
                "tcp4",
                FrameBuilder::tcp4(A, B, IP_A, IP_B, 40000, 80, b"GET").build(),
            ),
            (
                "udp4_vlan_padded",
                FrameBuilder::udp4(A, B, IP_A, IP_B, 68, 67, b"")
                    .vlan(0x8100, 0x2064)
                    .pad_to(60)
                    .build(),
            ),
            (
                "qinq_tcp6",
                FrameBuilder::tcp6(A, B, V6A, V6B, 22, 2222, b"x")
                    .vlan(0x88a8, 10)
                    .vlan(0x8100, 20)
                    .build(),
            ),
            (
                "ipv4_options_first_fragment",
                FrameBuilder::udp4(A, B, IP_A, IP_B, 9, 9, &[7; 16])
                    .ipv4_options(&[0x94, 4, 0, 0])
                    .fragment(0, true)
                    .build(),
            ),
            (
                "ipv4_later_fragment",
                FrameBuilder::ip4_raw(A, B, IP_A, IP_B, 17, &[1; 16])
                    .fragment(8, false)
                    .build(),
            ),
            (
                "ipv6_ext_chain_udp",
                FrameBuilder::udp6(A, B, V6A, V6B, 53, 53, b"q")
                    .ipv6_ext(ip_proto::HOPOPT, &[5, 2, 0, 0, 1, 0])
                    .ipv6_ext(ip_proto::IPV6_ROUTE, &[0, 1, 0, 0, 0, 0])
                    .fragment(0, true)
                    .ipv6_auth(1, 2, &[0; 4])
                    .ipv6_ext(ip_proto::IPV6_DSTOPTS, &[])
                    .build(),
            ),
            (
                "ipv6_later_fragment",
                FrameBuilder::ip6_raw(A, B, V6A, V6B, 6, &[0; 16])
                    .fragment(64, true)
                    .build(),
            ),
            (
                "nd_ns_sll",
                FrameBuilder::nd_ns(A, B, V6A, V6B, target, Some(A)).build(),
            ),
            (
                "nd_na_tll",
                FrameBuilder::nd_na(A, B, V6A, V6B, target, na_flags::SOLICITED, Some(B)).build(),
            ),
            (
                "arp_request",
                FrameBuilder::arp(A, [0xff; 6], 1, A, IP_A, [0; 6], IP_B).build(),
            ),
            (
                "mpls_stack",
                FrameBuilder::udp4(A, B, IP_A, IP_B, 1, 2, b"")
                    .mpls(16, 0, 64)
                    .mpls(17, 1, 63)
                    .build(),
            ),
            (
                "vxlan_tcp4",
                FrameBuilder::vxlan4(B, A, IP_B, IP_A, 50000, 42, &inner).build(),
            ),
            ("pbb", FrameBuilder::pbb(A, B, 0x123456, &inner).build()),
            ("llc_snap_arp", {
                let arp = FrameBuilder::arp(A, B, 2, A, IP_A, B, IP_B).build();
                let mut snap = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06];
                snap.extend_from_slice(&arp[14..]);
                FrameBuilder::raw(A, B, 36, &snap).build()
            }),
            (
                "sctp4",
                FrameBuilder::sctp4(A, B, IP_A, IP_B, 2905, 2905, &[0, 0, 0, 4]).build(),
            ),
            (
                "icmp4_echo",
                FrameBuilder::icmp4(A, B, IP_A, IP_B, 8, 0, b"ping").build(),
            ),
        ]
    }

    /// Rewrites the seed corpus from `seed_frames` (run with `--ignored`
    /// after changing the frames).
    #[test]
    #[ignore]
    fn writes_the_seed_corpus() {
        let dir = corpus_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (name, frame) in seed_frames() {
            std::fs::write(dir.join(name), frame).unwrap();
        }
    }

    #[test]
    fn runs_the_fuzz_checks_over_the_seed_corpus() {
        let mut n = 0;
        for entry in std::fs::read_dir(corpus_dir()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            fuzz_flow_extract(&bytes);
            for cut in 0..bytes.len() {
                fuzz_flow_extract(&bytes[..cut]);
            }
            n += 1;
        }
        assert!(n >= 12, "only {n} corpus files");
        for (name, frame) in seed_frames() {
            let (_, lay) = extract(&frame);
            assert!(lay.is_complete(), "{name}: {lay:?}");
        }
    }

    proptest! {
        #[test]
        fn extraction_of_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..160)) {
            fuzz_flow_extract(&data);
        }

        #[test]
        fn extraction_behind_valid_headers_never_panics(
            kind in 0usize..6,
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            // Valid outer headers, then random bytes, to reach the deep parsers.
            let mut f = match kind {
                0 => FrameBuilder::ip4_raw(A, B, IP_A, IP_B, 6, &[]).build(),
                1 => FrameBuilder::ip6_raw(A, B, V6A, V6B, 0, &[]).build(),
                2 => FrameBuilder::ip6_raw(A, B, V6A, V6B, 58, &[]).build(),
                3 => FrameBuilder::raw(A, B, 0x8847, &[]).build(),
                4 => FrameBuilder::raw(A, B, 0x0806, &[]).vlan(0x88a8, 1).build(),
                _ => FrameBuilder::ip6_raw(A, B, V6A, V6B, 44, &[]).build(),
            };
            f.extend_from_slice(&tail);
            // Make the IP length fields cover the tail.
            let tail_len = u16::try_from(tail.len()).unwrap();
            if kind == 0 {
                f[16..18].copy_from_slice(&(20 + tail_len).to_be_bytes());
            } else if matches!(kind, 1 | 2 | 5) {
                f[18..20].copy_from_slice(&tail_len.to_be_bytes());
            }
            fuzz_flow_extract(&f);
            if kind == 2 && tail.len() >= 2 {
                // Force an ND message to exercise the option walk.
                f[54] = 135;
                f[55] = 0;
                fuzz_flow_extract(&f);
            }
        }

        #[test]
        fn agrees_with_etherparse_on_frames_it_builds(
            src in any::<[u8; 6]>(),
            dst in any::<[u8; 6]>(),
            vlans in proptest::collection::vec(0u16..4096, 0..=2),
            v6 in any::<bool>(),
            src4 in any::<[u8; 4]>(),
            dst4 in any::<[u8; 4]>(),
            src6 in any::<[u8; 16]>(),
            dst6 in any::<[u8; 16]>(),
            ttl in any::<u8>(),
            tcp in any::<bool>(),
            sport in any::<u16>(),
            dport in any::<u16>(),
            flag_bits in 0u8..=255,
            payload in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            use etherparse::{LinkExtSlice, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
            let eth = PacketBuilder::ethernet2(src, dst);
            let mut frame = Vec::new();
            macro_rules! finish {
                ($step:expr) => {{
                    let ip = if v6 { $step.ipv6(src6, dst6, ttl) } else { $step.ipv4(src4, dst4, ttl) };
                    if tcp {
                        let mut t = ip.tcp(sport, dport, 12345, 1000);
                        if flag_bits & 1 != 0 { t = t.fin(); }
                        if flag_bits & 2 != 0 { t = t.syn(); }
                        if flag_bits & 4 != 0 { t = t.rst(); }
                        if flag_bits & 8 != 0 { t = t.psh(); }
                        if flag_bits & 16 != 0 { t = t.ack(7); }
                        if flag_bits & 32 != 0 { t = t.urg(1); }
                        if flag_bits & 64 != 0 { t = t.ece(); }
                        if flag_bits & 128 != 0 { t = t.cwr(); }
                        t.write(&mut frame, &payload).unwrap();
                    } else {
                        ip.udp(sport, dport).write(&mut frame, &payload).unwrap();
                    }
                }};
            }
            match vlans.as_slice() {
                [] => finish!(eth),
                [a] => finish!(eth.single_vlan((*a).try_into().unwrap())),
                [a, b, ..] => finish!(eth.double_vlan((*a).try_into().unwrap(), (*b).try_into().unwrap())),
            }
            let mut key = FlowKey::default();
            let lay = flow_extract(&frame, &meta(), &mut key);
            prop_assert!(lay.is_complete());
            let p = SlicedPacket::from_ethernet(&frame).unwrap();
            let Some(LinkSlice::Ethernet2(e)) = &p.link else { panic!("no ethernet") };
            prop_assert_eq!((key.eth_src, key.eth_dst), (e.source(), e.destination()));
            let tags: Vec<_> = p.link_exts.iter().filter_map(|x| match x {
                LinkExtSlice::Vlan(v) => Some(v),
                _ => None,
            }).collect();
            prop_assert_eq!(usize::from(lay.vlans), tags.len());
            if let Some(outer) = tags.first() {
                prop_assert_eq!(key.vlan_tpid, u16::from(e.ether_type()));
                prop_assert_eq!(key.vlan_tci & 0x0fff, outer.vlan_identifier().value());
                prop_assert_eq!(key.vlan_tci >> 13, u16::from(outer.priority_code_point().value()));
            }
            if let Some(inner) = tags.get(1) {
                prop_assert_eq!(key.vlan_tci_inner & 0x0fff, inner.vlan_identifier().value());
            }
            match p.net.as_ref().unwrap() {
                NetSlice::Ipv4(ip) => {
                    let h = ip.header();
                    prop_assert_eq!(key.eth_type, 0x0800);
                    prop_assert_eq!(key.ipv4_src, u32::from_be_bytes(h.source()));
                    prop_assert_eq!(key.ipv4_dst, u32::from_be_bytes(h.destination()));
                    prop_assert_eq!((key.nw_ttl, key.nw_proto), (h.ttl(), h.protocol().0));
                    prop_assert_eq!(lay.l4_offset(), Some(usize::from(lay.l3) + usize::from(h.ihl()) * 4));
                }
                NetSlice::Ipv6(ip) => {
                    let h = ip.header();
                    prop_assert_eq!(key.eth_type, 0x86dd);
                    prop_assert_eq!((key.ipv6_src, key.ipv6_dst), (h.source(), h.destination()));
                    prop_assert_eq!((key.nw_ttl, key.nw_tos), (h.hop_limit(), h.traffic_class()));
                    prop_assert_eq!(key.ipv6_label, h.flow_label().value());
                    prop_assert_eq!(key.nw_proto, h.next_header().0);
                }
                NetSlice::Arp(_) => panic!("no arp was built"),
            }
            match p.transport.as_ref().unwrap() {
                TransportSlice::Tcp(t) => {
                    prop_assert_eq!((key.tp_src, key.tp_dst), (t.source_port(), t.destination_port()));
                    let bits = [t.fin(), t.syn(), t.rst(), t.psh(), t.ack(), t.urg(), t.ece(), t.cwr(), t.ns()];
                    let flags = bits.iter().enumerate().fold(0u16, |f, (i, b)| f | (u16::from(*b) << i));
                    prop_assert_eq!(key.tcp_flags, flags);
                    prop_assert_eq!(lay.payload_offset(), Some(frame.len() - payload.len()));
                }
                TransportSlice::Udp(u) => {
                    prop_assert_eq!((key.tp_src, key.tp_dst), (u.source_port(), u.destination_port()));
                    prop_assert_eq!(key.tcp_flags, 0);
                    prop_assert_eq!(lay.payload_offset(), Some(frame.len() - payload.len()));
                }
                other => panic!("unexpected transport {other:?}"),
            }
        }
    }
}
