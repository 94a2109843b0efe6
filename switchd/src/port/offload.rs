//! virtio-net headers and what to do with the offloads they describe.
//!
//! With `PACKET_VNET_HDR` on an AF_PACKET socket and `IFF_VNET_HDR` on a
//! TAP, the kernel hands over frames as its stack built them: a TCP
//! segment of up to 64 KiB still to be cut into MSS-sized packets (GSO)
//! and a checksum still to be finished (`CHECKSUM_PARTIAL`: the field holds
//! the pseudo-header sum, the rest is summed from `csum_start` on). Keeping
//! them that way end to end is what makes a userspace switch between veths
//! fast; it only works if the header travels beside the frame and goes back
//! to the kernel with it. It travels in `PacketMeta::offload`
//! ([`OffloadMeta`]).
//!
//! # Design
//!
//! The datapath may change a frame on the way (push or pop a VLAN tag,
//! rewrite addresses or ports, updating checksums incrementally). So on
//! transmit the checksum offsets are not trusted but recomputed from the
//! frame as it is ([`prepare_tx`]): `csum_start` is the L4 header found by
//! parsing, and the pseudo-header sum the field must hold is recomputed
//! from the current addresses (an incremental update made for a full
//! checksum is wrong for a partial one). Where a port cannot take the
//! header, or a frame goes to the controller, the work is done here in
//! software: [`finish_checksum_in_place`] completes a partial checksum and
//! [`segment`] cuts a TCP or UDP GSO frame into wire-sized frames with
//! complete checksums.
//!
//! Everything here is bounds-checked and never panics on any frame; a frame
//! that cannot be understood is left as it is (and a GSO frame that cannot
//! be cut is reported, so that the caller drops it).

use datapath::buffer::OffloadMeta;
use datapath::execute::PacketIn;
use datapath::packet::checksum as csum;

/// Size of `struct virtio_net_hdr` (no `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;
/// The checksum is still to be finished (`VIRTIO_NET_HDR_F_NEEDS_CSUM`).
pub const F_NEEDS_CSUM: u8 = 1;
/// No segmentation.
pub const GSO_NONE: u8 = 0;
/// TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// UDP segmentation (`UDP_SEGMENT`).
pub const GSO_UDP_L4: u8 = 5;
/// ECN bit of the GSO type.
pub const GSO_ECN: u8 = 0x80;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const IP_TCP: u8 = 6;
const IP_UDP: u8 = 17;

/// `struct virtio_net_hdr` in host byte order (the legacy layout the
/// kernel uses for packet sockets and TAPs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`.
    pub gso_type: u8,
    /// Header bytes.
    pub hdr_len: u16,
    /// Segment payload size.
    pub gso_size: u16,
    /// Checksum start.
    pub csum_start: u16,
    /// Checksum field offset from the start.
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// Reads a header from its 10 bytes.
    pub fn from_bytes(b: &[u8; VNET_HDR_LEN]) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        }
    }

    /// The 10 bytes of the header.
    pub fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// The metadata a received frame carries (a verified checksum,
    /// `VIRTIO_NET_HDR_F_DATA_VALID`, needs nothing more and becomes "none").
    pub fn to_meta(self) -> OffloadMeta {
        OffloadMeta {
            flags: self.flags & F_NEEDS_CSUM,
            gso_type: self.gso_type,
            hdr_len: self.hdr_len,
            gso_size: self.gso_size,
            csum_start: self.csum_start,
            csum_offset: self.csum_offset,
        }
    }
}

/// Where a frame's L3 and L4 headers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L4Info {
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the TCP or UDP header.
    pub l4: usize,
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// TCP or UDP.
    pub proto: u8,
    /// Length of the L4 header (TCP data offset, or 8 for UDP).
    pub l4_hdr_len: usize,
}

fn be16(f: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]))
}

fn be32(f: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(f.get(off..off + 4)?.try_into().ok()?))
}

/// Finds the TCP or UDP header of an Ethernet frame (through any number of
/// 802.1Q/802.1ad tags and the common IPv6 extension headers); `None` for
/// anything else, a fragment, or a truncated frame.
pub fn parse_l4(f: &[u8]) -> Option<L4Info> {
    let mut off = 12;
    let mut ethertype = be16(f, off)?;
    off += 2;
    let mut tags = 0;
    while ethertype == ETH_VLAN || ethertype == ETH_QINQ {
        tags += 1;
        if tags > 4 {
            return None;
        }
        ethertype = be16(f, off + 2)?;
        off += 4;
    }
    let l3 = off;
    let (ipv6, proto, l4) = match ethertype {
        ETH_IPV4 => {
            let vihl = *f.get(l3)?;
            if vihl >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(vihl & 0xf) * 4;
            if ihl < 20 {
                return None;
            }
            // A fragment (other than a whole datagram) has no L4 to offload.
            if be16(f, l3 + 6)? & 0x3fff != 0 {
                return None;
            }
            (false, *f.get(l3 + 9)?, l3 + ihl)
        }
        ETH_IPV6 => {
            if *f.get(l3)? >> 4 != 6 {
                return None;
            }
            let mut next = *f.get(l3 + 6)?;
            let mut p = l3 + 40;
            for _ in 0..8 {
                match next {
                    0 | 43 | 60 => {
                        let n = *f.get(p)?;
                        let len = (usize::from(*f.get(p + 1)?) + 1) * 8;
                        next = n;
                        p += len;
                    }
                    _ => break,
                }
            }
            (true, next, p)
        }
        _ => return None,
    };
    let l4_hdr_len = match proto {
        IP_TCP => {
            let doff = usize::from(*f.get(l4 + 12)? >> 4) * 4;
            if doff < 20 {
                return None;
            }
            doff
        }
        IP_UDP => 8,
        _ => return None,
    };
    if f.len() < l4 + l4_hdr_len {
        return None;
    }
    Some(L4Info {
        l3,
        l4,
        ipv6,
        proto,
        l4_hdr_len,
    })
}

/// Offset of the checksum field within the L4 header.
fn check_offset(proto: u8) -> usize {
    if proto == IP_TCP {
        16
    } else {
        6
    }
}

/// The pseudo-header sum for the L4 part of `f` (length taken from the frame).
fn pseudo_sum(f: &[u8], i: &L4Info) -> Option<u16> {
    let l4_len = f.len().checked_sub(i.l4)?;
    if i.ipv6 {
        let src: [u8; 16] = f.get(i.l3 + 8..i.l3 + 24)?.try_into().ok()?;
        let dst: [u8; 16] = f.get(i.l3 + 24..i.l3 + 40)?.try_into().ok()?;
        Some(csum::pseudo_header_v6(
            src,
            dst,
            i.proto,
            u32::try_from(l4_len).ok()?,
        ))
    } else {
        let src: [u8; 4] = f.get(i.l3 + 12..i.l3 + 16)?.try_into().ok()?;
        let dst: [u8; 4] = f.get(i.l3 + 16..i.l3 + 20)?.try_into().ok()?;
        Some(csum::pseudo_header_v4(
            src,
            dst,
            i.proto,
            u16::try_from(l4_len).ok()?,
        ))
    }
}

/// What to send for a frame with offloads to a port that takes virtio-net
/// headers: the header, and the value the checksum field must hold (at
/// `patch.0`) when it differs from what the frame has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxPrep {
    /// The header to send.
    pub hdr: VirtioNetHdr,
    /// `(offset, bytes)` to write over the frame's checksum field.
    pub patch: Option<(usize, [u8; 2])>,
}

/// Prepares a frame with offloads for a virtio-net port (see the module
/// notes). `None` when the frame cannot be understood: a GSO frame must
/// then be segmented in software, a partial checksum finished.
pub fn prepare_tx(f: &[u8], m: &OffloadMeta) -> Option<TxPrep> {
    if m.is_none() {
        return Some(TxPrep {
            hdr: VirtioNetHdr::default(),
            patch: None,
        });
    }
    let i = parse_l4(f)?;
    let gso = m.gso_type & !GSO_ECN;
    match gso {
        GSO_NONE => {}
        GSO_TCPV4 if i.proto == IP_TCP && !i.ipv6 => {}
        GSO_TCPV6 if i.proto == IP_TCP && i.ipv6 => {}
        GSO_UDP_L4 if i.proto == IP_UDP => {}
        _ => return None,
    }
    if gso != GSO_NONE && m.gso_size == 0 {
        return None;
    }
    let field = i.l4 + check_offset(i.proto);
    let want = pseudo_sum(f, &i)?.to_be_bytes();
    let have = [*f.get(field)?, *f.get(field + 1)?];
    let csum_start = u16::try_from(i.l4).ok()?;
    let hdr_len = u16::try_from(i.l4 + i.l4_hdr_len).ok()?;
    Some(TxPrep {
        hdr: VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: m.gso_type,
            hdr_len,
            gso_size: m.gso_size,
            csum_start,
            csum_offset: u16::try_from(check_offset(i.proto)).ok()?,
        },
        patch: (want != have).then_some((field, want)),
    })
}

/// Completes a partial checksum in place (nothing to do for other frames
/// or frames that cannot be parsed).
pub fn finish_checksum_in_place(f: &mut [u8], m: &OffloadMeta) {
    if m.flags & F_NEEDS_CSUM == 0 {
        return;
    }
    if let Some(i) = parse_l4(f) {
        full_checksum(f, &i);
    }
}

/// Writes the complete TCP/UDP checksum of `f`.
fn full_checksum(f: &mut [u8], i: &L4Info) {
    let field = i.l4 + check_offset(i.proto);
    let Some(ps) = pseudo_sum(f, i) else { return };
    if field + 2 > f.len() {
        return;
    }
    f[field] = 0;
    f[field + 1] = 0;
    let mut c = csum::checksum_with(ps, &f[i.l4..]);
    if i.proto == IP_UDP {
        c = csum::udp_nonzero(c);
    }
    f[field..field + 2].copy_from_slice(&c.to_be_bytes());
}

/// Sets the IP length fields of a segment whose L4 part is `l4_len` bytes
/// and, for IPv4, the identification and header checksum.
fn fix_ip(seg: &mut [u8], i: &L4Info, l4_len: usize, ip_id: Option<u16>) -> Option<()> {
    if i.ipv6 {
        let plen = u16::try_from(i.l4 - i.l3 - 40 + l4_len).ok()?;
        seg.get_mut(i.l3 + 4..i.l3 + 6)?
            .copy_from_slice(&plen.to_be_bytes());
    } else {
        let tot = u16::try_from(i.l4 - i.l3 + l4_len).ok()?;
        seg.get_mut(i.l3 + 2..i.l3 + 4)?
            .copy_from_slice(&tot.to_be_bytes());
        if let Some(id) = ip_id {
            seg.get_mut(i.l3 + 4..i.l3 + 6)?
                .copy_from_slice(&id.to_be_bytes());
        }
        seg.get_mut(i.l3 + 10..i.l3 + 12)?.copy_from_slice(&[0, 0]);
        let c = csum::checksum(seg.get(i.l3..i.l4)?);
        seg.get_mut(i.l3 + 10..i.l3 + 12)?
            .copy_from_slice(&c.to_be_bytes());
    }
    Some(())
}

/// Cuts a GSO frame into frames of at most `gso_size` payload bytes with
/// complete checksums, appending them to `out` (whose buffers are reused).
/// A frame without GSO is copied with its checksum finished. Returns the
/// number of frames appended, or `None` when the frame cannot be cut (the
/// caller drops it).
pub fn segment(
    f: &[u8],
    m: &OffloadMeta,
    out: &mut Vec<Vec<u8>>,
    used: &mut usize,
) -> Option<usize> {
    let gso = m.gso_type & !GSO_ECN;
    let take = |out: &mut Vec<Vec<u8>>, used: &mut usize| -> usize {
        if *used == out.len() {
            out.push(Vec::new());
        }
        *used += 1;
        *used - 1
    };
    if gso == GSO_NONE || m.gso_size == 0 {
        let k = take(out, used);
        out[k].clear();
        out[k].extend_from_slice(f);
        finish_checksum_in_place(&mut out[k], m);
        return Some(1);
    }
    let i = parse_l4(f)?;
    let ok = match gso {
        GSO_TCPV4 => i.proto == IP_TCP && !i.ipv6,
        GSO_TCPV6 => i.proto == IP_TCP && i.ipv6,
        GSO_UDP_L4 => i.proto == IP_UDP,
        _ => false,
    };
    if !ok {
        return None;
    }
    let hdr_end = i.l4 + i.l4_hdr_len;
    let payload = f.get(hdr_end..)?;
    let mss = usize::from(m.gso_size);
    let n = payload.len().div_ceil(mss).max(1);
    let ip_id = if i.ipv6 { None } else { be16(f, i.l3 + 4) };
    let seq = if i.proto == IP_TCP {
        be32(f, i.l4 + 4)?
    } else {
        0
    };
    let tcp_flags = if i.proto == IP_TCP {
        *f.get(i.l4 + 13)?
    } else {
        0
    };
    for (k, chunk) in payload
        .chunks(mss)
        .chain(
            // An empty payload still yields one frame.
            std::iter::once(&payload[..0]).take(usize::from(payload.is_empty())),
        )
        .enumerate()
    {
        let idx = take(out, used);
        let seg = &mut out[idx];
        seg.clear();
        seg.extend_from_slice(&f[..hdr_end]);
        seg.extend_from_slice(chunk);
        let l4_len = i.l4_hdr_len + chunk.len();
        let kk = u16::try_from(k).unwrap_or(u16::MAX);
        fix_ip(seg, &i, l4_len, ip_id.map(|id| id.wrapping_add(kk)))?;
        if i.proto == IP_TCP {
            let off = u32::try_from(k * mss).ok()?;
            seg[i.l4 + 4..i.l4 + 8].copy_from_slice(&seq.wrapping_add(off).to_be_bytes());
            let last = k + 1 == n;
            let mut flags = tcp_flags;
            if !last {
                // FIN and PSH only on the last segment.
                flags &= !(0x01 | 0x08);
            }
            if k != 0 {
                // CWR only on the first.
                flags &= !0x80;
            }
            seg[i.l4 + 13] = flags;
        } else {
            let ulen = u16::try_from(l4_len).ok()?;
            seg[i.l4 + 4..i.l4 + 6].copy_from_slice(&ulen.to_be_bytes());
        }
        full_checksum(seg, &i);
    }
    Some(n)
}

/// The packet-ins a controller should see for `pi`: a GSO frame becomes
/// its segments, a partial checksum is finished (when the packet-in holds
/// the whole frame; a truncated one is left as it is).
pub fn packet_in_segments(mut pi: PacketIn) -> Vec<PacketIn> {
    let m = pi.packet_meta.offload;
    if m.is_none() {
        return vec![pi];
    }
    pi.packet_meta.offload = OffloadMeta::default();
    if pi.data.len() != pi.total_len {
        return vec![pi];
    }
    let mut segs = Vec::new();
    let mut used = 0;
    match segment(&pi.data, &m, &mut segs, &mut used) {
        Some(_) => segs
            .into_iter()
            .take(used)
            .map(|data| PacketIn {
                total_len: data.len(),
                data,
                meta: pi.meta,
                packet_meta: pi.packet_meta,
            })
            .collect(),
        None => vec![pi],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::packet::builder::FrameBuilder;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// A GSO TCP frame as the kernel hands it over: one big segment whose
    /// checksum field holds the pseudo-header sum.
    fn gso_tcp4(payload: usize, mss: u16) -> (Vec<u8>, OffloadMeta) {
        let data: Vec<u8> = (0..payload)
            .map(|i| u8::try_from(i * 7 % 251).unwrap())
            .collect();
        let mut f =
            FrameBuilder::tcp4(A, B, [198, 18, 0, 1], [198, 18, 0, 2], 1000, 2000, &data).build();
        let i = parse_l4(&f).unwrap();
        let ps = pseudo_sum(&f, &i).unwrap();
        f[i.l4 + 16..i.l4 + 18].copy_from_slice(&ps.to_be_bytes());
        // PSH|ACK|FIN
        f[i.l4 + 13] = 0x19;
        let m = OffloadMeta {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: mss,
            csum_start: u16::try_from(i.l4).unwrap(),
            csum_offset: 16,
        };
        (f, m)
    }

    fn tcp_ok(frame: &[u8]) -> (u32, u8, usize) {
        let p = SlicedPacket::from_ethernet(frame).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not ipv4")
        };
        let h = ip.header();
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        assert_eq!(usize::from(h.total_len()), frame.len() - 14);
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!("not tcp")
        };
        let want = t
            .to_header()
            .calc_checksum_ipv4_raw(h.source(), h.destination(), t.payload())
            .unwrap();
        assert_eq!(want, t.checksum());
        let flags = frame[14 + 20 + 13];
        (t.sequence_number(), flags, t.payload().len())
    }

    #[test]
    fn a_gso_frame_is_cut_into_segments_with_valid_checksums() {
        let (f, m) = gso_tcp4(4000, 1448);
        let mut out = Vec::new();
        let mut used = 0;
        assert_eq!(segment(&f, &m, &mut out, &mut used), Some(3));
        let segs: Vec<_> = out.iter().take(used).map(|s| tcp_ok(s)).collect();
        let base = segs[0].0;
        assert_eq!(segs[1].0, base + 1448);
        assert_eq!(segs[2].0, base + 2896);
        assert_eq!(segs.iter().map(|s| s.2).sum::<usize>(), 4000);
        // FIN and PSH only on the last.
        assert_eq!(segs[0].1 & 0x09, 0);
        assert_eq!(segs[2].1 & 0x09, 0x09);
    }

    #[test]
    fn a_partial_checksum_is_finished() {
        let (mut f, mut m) = gso_tcp4(100, 1448);
        m.gso_type = GSO_NONE;
        finish_checksum_in_place(&mut f, &m);
        tcp_ok(&f);
    }

    #[test]
    fn transmit_preparation_follows_the_frame_and_repairs_the_pseudo_sum() {
        let (mut f, m) = gso_tcp4(3000, 1448);
        let p = prepare_tx(&f, &m).unwrap();
        assert_eq!(p.patch, None);
        assert_eq!(
            (p.hdr.csum_start, p.hdr.csum_offset, p.hdr.hdr_len),
            (34, 16, 54)
        );
        // A rewritten destination address invalidates the pseudo sum.
        f[14 + 16] = 10;
        let p = prepare_tx(&f, &m).unwrap();
        assert!(p.patch.is_some());
        // A pushed VLAN tag moves the checksum start.
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(prepare_tx(&tagged, &m).unwrap().hdr.csum_start, 38);
    }

    #[test]
    fn garbage_never_panics() {
        let m = OffloadMeta {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            gso_size: 1,
            ..OffloadMeta::default()
        };
        let mut out = Vec::new();
        for len in 0..80 {
            for seed in 0..8u8 {
                let mut f: Vec<u8> = (0..len).map(|i: u8| i.wrapping_mul(seed)).collect();
                if len > 14 {
                    f[12] = 0x08;
                    f[13] = 0;
                }
                let _ = prepare_tx(&f, &m);
                let mut used = 0;
                let _ = segment(&f, &m, &mut out, &mut used);
                finish_checksum_in_place(&mut f, &m);
            }
        }
    }

    #[test]
    fn headers_round_trip_through_bytes() {
        let h = VirtioNetHdr {
            flags: 1,
            gso_type: 4,
            hdr_len: 74,
            gso_size: 1428,
            csum_start: 54,
            csum_offset: 16,
        };
        assert_eq!(VirtioNetHdr::from_bytes(&h.to_bytes()), h);
        assert_eq!(h.to_meta().gso_size, 1428);
    }
}
