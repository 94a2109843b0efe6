//! IPv6 header (RFC 8200) and its extension headers: hop-by-hop and
//! destination options, routing, fragment, authentication (RFC 4302) and
//! ESP (RFC 4303, only its clear SPI and sequence number), plus
//! [`Ipv6ExtChain::walk`], the single walk of an extension chain that both
//! the flow extractor and execution use.
//!
//! # The extension walk
//!
//! The walk follows next-header values through hop-by-hop, routing,
//! fragment, destination options and AH headers and stops at anything else
//! (the upper-layer protocol), at ESP (what follows is encrypted), at "no
//! next header", at a non-first fragment (what follows is the middle of the
//! upper-layer payload) or at a header that is truncated or malformed.
//! Every step consumes at least 8 bytes, so the walk ends within
//! `len / 8 + 1` steps on any input. It records OpenFlow 1.3's
//! `ipv6_exthdr` bits: one per kind of whole header seen, plus `UNREP` when
//! a header repeats (destination options may appear twice) and `UNSEQ` when
//! a header comes out of RFC 8200's recommended order (hop-by-hop,
//! destination options, routing, fragment, AH, ESP, destination options).

use super::{get_array, get_u16, get_u32, ip_proto, set_u16, set_u32, Error, Result};
use crate::flow::{frag, ipv6_exthdr};

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    pub const PAYLOAD: usize = 40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::PAYLOAD;

view_type! {
    /// A view of an IPv6 header and its payload.
    Ipv6Packet
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Checks the fixed header and that the payload length fits the buffer.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + usize::from(self.payload_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// IP version (6 for a real IPv6 header).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW] >> 4
    }

    #[inline]
    fn ver_tc_flow(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    /// Traffic class: DSCP (6 bits) and ECN (2 bits).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20).to_be_bytes()[3]
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000f_ffff
    }

    /// Length of what follows the fixed header.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// Type of the first header after the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        get_array(self.buffer.as_ref(), field::SRC.start)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        get_array(self.buffer.as_ref(), field::DST.start)
    }

    /// Extension headers and upper-layer data, up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..field::PAYLOAD + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    fn set_ver_tc_flow(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::VER_TC_FLOW, v);
    }

    /// Sets version 6, keeping traffic class and flow label.
    #[inline]
    pub fn set_version(&mut self) {
        let v = (self.ver_tc_flow() & 0x0fff_ffff) | 0x6000_0000;
        self.set_ver_tc_flow(v);
    }

    /// Sets the traffic class.
    #[inline]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let v = (self.ver_tc_flow() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_ver_tc_flow(v);
    }

    /// Sets the flow label (low 20 bits of `label`).
    #[inline]
    pub fn set_flow_label(&mut self, label: u32) {
        let v = (self.ver_tc_flow() & 0xfff0_0000) | (label & 0x000f_ffff);
        self.set_ver_tc_flow(v);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, v);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v;
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    /// The payload up to the payload length, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = field::PAYLOAD + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[field::PAYLOAD..end]
    }
}

mod ext_field {
    pub const NEXT_HEADER: usize = 0;
    pub const LENGTH: usize = 1;
    pub const DATA: usize = 2;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const ROUTING_DATA: usize = 4;
}

/// Smallest extension header (hop-by-hop, routing, destination options, fragment).
pub const MIN_EXT_LEN: usize = 8;

view_type! {
    /// A view of a hop-by-hop or destination options header (or any header
    /// whose length byte counts 8-octet units beyond the first).
    Ipv6ExtHeader
}

impl<T: AsRef<[u8]>> Ipv6ExtHeader<T> {
    /// Checks that the buffer holds the whole header its length announces.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < MIN_EXT_LEN || b.len() < self.header_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Type of the next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NEXT_HEADER]
    }

    /// The raw length byte (8-octet units beyond the first).
    #[inline]
    pub fn header_ext_len(&self) -> u8 {
        self.buffer.as_ref()[ext_field::LENGTH]
    }

    /// Header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        (usize::from(self.header_ext_len()) + 1) * 8
    }

    /// The options (everything after the next-header and length bytes).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[ext_field::DATA..self.header_len()]
    }

    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6ExtHeader<T> {
    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::NEXT_HEADER] = v;
    }

    /// Sets the raw length byte.
    #[inline]
    pub fn set_header_ext_len(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::LENGTH] = v;
    }

    /// The options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[ext_field::DATA..end]
    }
}

view_type! {
    /// A view of a routing header.
    Ipv6RoutingHeader
}

impl<T: AsRef<[u8]>> Ipv6RoutingHeader<T> {
    /// Checks that the buffer holds the whole header its length announces.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        Ipv6ExtHeader::new_unchecked(self.buffer.as_ref()).check_len()
    }

    /// Type of the next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NEXT_HEADER]
    }

    /// Header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[ext_field::LENGTH]) + 1) * 8
    }

    /// Routing type.
    #[inline]
    pub fn routing_type(&self) -> u8 {
        self.buffer.as_ref()[ext_field::ROUTING_TYPE]
    }

    /// Segments left.
    #[inline]
    pub fn segments_left(&self) -> u8 {
        self.buffer.as_ref()[ext_field::SEGMENTS_LEFT]
    }

    /// Type-specific data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[ext_field::ROUTING_DATA..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6RoutingHeader<T> {
    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::NEXT_HEADER] = v;
    }

    /// Sets the raw length byte (8-octet units beyond the first).
    #[inline]
    pub fn set_header_ext_len(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::LENGTH] = v;
    }

    /// Sets the routing type.
    #[inline]
    pub fn set_routing_type(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::ROUTING_TYPE] = v;
    }

    /// Sets segments left.
    #[inline]
    pub fn set_segments_left(&mut self, v: u8) {
        self.buffer.as_mut()[ext_field::SEGMENTS_LEFT] = v;
    }
}

mod frag_field {
    pub const NEXT_HEADER: usize = 0;
    pub const RESERVED: usize = 1;
    pub const OFFSET_M: usize = 2;
    pub const IDENT: usize = 4;
    pub const END: usize = 8;
}

/// Length of a fragment header.
pub const FRAG_HEADER_LEN: usize = frag_field::END;

view_type! {
    /// A view of a fragment header.
    Ipv6FragmentHeader
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    /// Checks that the buffer holds the 8 bytes.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAG_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Type of the next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[frag_field::NEXT_HEADER]
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        get_u16(self.buffer.as_ref(), frag_field::OFFSET_M) & 0xfff8
    }

    /// "More fragments" flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), frag_field::OFFSET_M) & 1 != 0
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u32 {
        get_u32(self.buffer.as_ref(), frag_field::IDENT)
    }

    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[frag_field::END..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragmentHeader<T> {
    /// Sets the next header and clears the reserved byte.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        let b = self.buffer.as_mut();
        b[frag_field::NEXT_HEADER] = v;
        b[frag_field::RESERVED] = 0;
    }

    /// Sets the offset (bytes, rounded down to 8) and the M flag, clearing the reserved bits.
    #[inline]
    pub fn set_frag_offset_and_more(&mut self, offset: u16, more: bool) {
        let v = (offset & 0xfff8) | u16::from(more);
        set_u16(self.buffer.as_mut(), frag_field::OFFSET_M, v);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), frag_field::IDENT, v);
    }
}

mod ah_field {
    pub const NEXT_HEADER: usize = 0;
    pub const PAYLOAD_LEN: usize = 1;
    pub const RESERVED: usize = 2;
    pub const SPI: usize = 4;
    pub const SEQ: usize = 8;
    pub const ICV: usize = 12;
}

/// Smallest authentication header (no ICV).
pub const MIN_AH_LEN: usize = ah_field::ICV;

view_type! {
    /// A view of an authentication header.
    Ipv6AuthHeader
}

impl<T: AsRef<[u8]>> Ipv6AuthHeader<T> {
    /// Checks that the buffer holds the whole header and that its length
    /// covers at least SPI and sequence number.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < 2 {
            return Err(Error::Truncated);
        }
        if self.header_len() < MIN_AH_LEN {
            return Err(Error::Malformed);
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Type of the next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ah_field::NEXT_HEADER]
    }

    /// Header length in bytes ((payload length + 2) 4-octet units).
    #[inline]
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[ah_field::PAYLOAD_LEN]) + 2) * 4
    }

    /// Security parameters index.
    #[inline]
    pub fn spi(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ah_field::SPI)
    }

    /// Sequence number.
    #[inline]
    pub fn sequence_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ah_field::SEQ)
    }

    /// Integrity check value.
    #[inline]
    pub fn icv(&self) -> &[u8] {
        &self.buffer.as_ref()[ah_field::ICV..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6AuthHeader<T> {
    /// Sets the next header and clears the reserved bytes.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        let b = self.buffer.as_mut();
        b[ah_field::NEXT_HEADER] = v;
        set_u16(b, ah_field::RESERVED, 0);
    }

    /// Sets the header length in bytes (a multiple of 4, at least 12).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let units = u8::try_from((len / 4).saturating_sub(2)).unwrap_or(u8::MAX);
        self.buffer.as_mut()[ah_field::PAYLOAD_LEN] = units;
    }

    /// Sets the security parameters index.
    #[inline]
    pub fn set_spi(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), ah_field::SPI, v);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_sequence_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), ah_field::SEQ, v);
    }
}

/// Length of the clear part of an ESP header.
pub const ESP_HEADER_LEN: usize = 8;

view_type! {
    /// A view of the clear part of an ESP header (SPI, sequence number).
    Ipv6EspHeader
}

impl<T: AsRef<[u8]>> Ipv6EspHeader<T> {
    /// Checks that the buffer holds SPI and sequence number.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ESP_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Security parameters index.
    #[inline]
    pub fn spi(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 0)
    }

    /// Sequence number.
    #[inline]
    pub fn sequence_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 4)
    }

    /// The encrypted data.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[ESP_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6EspHeader<T> {
    /// Sets the security parameters index.
    #[inline]
    pub fn set_spi(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), 0, v);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_sequence_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), 4, v);
    }
}

/// Whether `nh` is a next-header value the extension walk acts on (walks
/// over, or records and stops at): everything but an upper-layer protocol.
#[inline]
pub const fn is_extension(nh: u8) -> bool {
    matches!(
        nh,
        ip_proto::HOPOPT
            | ip_proto::IPV6_ROUTE
            | ip_proto::IPV6_FRAG
            | ip_proto::ESP
            | ip_proto::AH
            | ip_proto::IPV6_NONXT
            | ip_proto::IPV6_DSTOPTS
    )
}

/// The outcome of walking an extension header chain (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv6ExtChain {
    /// The next-header value where the walk stopped: the upper-layer
    /// protocol; `ESP` or `IPV6_NONXT`; the next header of a non-first
    /// fragment; or the type of the header that was truncated or malformed.
    pub next_header: u8,
    /// Bytes of whole extension headers walked: the offset, from the start
    /// of the IPv6 payload, of where the walk stopped.
    pub len: usize,
    /// OpenFlow `ipv6_exthdr` bits (`crate::flow::ipv6_exthdr`).
    pub exthdr: u16,
    /// Fragment bits (`crate::flow::frag`).
    pub frag: u8,
    /// Why the walk stopped early, if it did: a header at `len` is cut
    /// short (`Truncated`) or announces an impossible length (`Malformed`).
    pub error: Option<Error>,
}

/// Order ranks of RFC 8200 section 4.1, for `UNSEQ`.
mod rank {
    pub const HOP: u8 = 1;
    pub const DEST_FIRST: u8 = 2;
    pub const ROUTER: u8 = 3;
    pub const FRAG: u8 = 4;
    pub const AUTH: u8 = 5;
    pub const ESP: u8 = 6;
    pub const DEST_LAST: u8 = 7;
}

impl Ipv6ExtChain {
    /// Walks the chain at the start of `payload` (an IPv6 payload) whose
    /// first header type is `first` (the IPv6 next-header field).
    pub fn walk(payload: &[u8], first: u8) -> Ipv6ExtChain {
        let mut c = Ipv6ExtChain {
            next_header: first,
            ..Ipv6ExtChain::default()
        };
        let mut last_rank = 0u8;
        let mut dests = 0u8;
        loop {
            let nh = c.next_header;
            let rest = payload.get(c.len..).unwrap_or(&[]);
            // Length of the header at `rest`, its next header, its bit and rank.
            let (len, next, bit, rank) = match nh {
                ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_DSTOPTS => {
                    let Some(h) = rest.first_chunk::<2>() else {
                        c.error = Some(Error::Truncated);
                        return c;
                    };
                    let len = (usize::from(h[1]) + 1) * 8;
                    let (bit, rank) = match nh {
                        ip_proto::HOPOPT => (ipv6_exthdr::HOP, rank::HOP),
                        ip_proto::IPV6_ROUTE => (ipv6_exthdr::ROUTER, rank::ROUTER),
                        _ if dests == 0 && last_rank < rank::ROUTER => {
                            (ipv6_exthdr::DEST, rank::DEST_FIRST)
                        }
                        _ => (ipv6_exthdr::DEST, rank::DEST_LAST),
                    };
                    (len, h[0], bit, rank)
                }
                ip_proto::IPV6_FRAG => (FRAG_HEADER_LEN, 0, ipv6_exthdr::FRAG, rank::FRAG),
                ip_proto::AH => {
                    let Some(h) = rest.first_chunk::<2>() else {
                        c.error = Some(Error::Truncated);
                        return c;
                    };
                    let len = (usize::from(h[1]) + 2) * 4;
                    if len < MIN_AH_LEN {
                        c.error = Some(Error::Malformed);
                        return c;
                    }
                    (len, h[0], ipv6_exthdr::AUTH, rank::AUTH)
                }
                ip_proto::ESP => (0, nh, ipv6_exthdr::ESP, rank::ESP),
                ip_proto::IPV6_NONXT => {
                    c.exthdr |= ipv6_exthdr::NONEXT;
                    return c;
                }
                _ => return c,
            };
            if rest.len() < len {
                c.error = Some(Error::Truncated);
                return c;
            }
            if nh == ip_proto::IPV6_DSTOPTS {
                if dests >= 2 {
                    c.exthdr |= ipv6_exthdr::UNREP;
                }
                dests = dests.saturating_add(1);
            } else if c.exthdr & bit != 0 {
                c.exthdr |= ipv6_exthdr::UNREP;
            }
            if rank < last_rank {
                c.exthdr |= ipv6_exthdr::UNSEQ;
            }
            last_rank = last_rank.max(rank);
            c.exthdr |= bit;
            match nh {
                ip_proto::ESP => return c,
                ip_proto::IPV6_FRAG => {
                    let f = Ipv6FragmentHeader::new_unchecked(rest);
                    c.frag |= frag::ANY;
                    c.next_header = f.next_header();
                    c.len += FRAG_HEADER_LEN;
                    if f.frag_offset() != 0 {
                        c.frag |= frag::LATER;
                        return c;
                    }
                }
                _ => {
                    c.next_header = next;
                    c.len += len;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static HEADER: [u8; 44] = [
        0x6b, 0x81, 0x23, 0x45, // version 6, tclass 0xb8, flow label 0x12345
        0x00, 0x04, 0x3b, 0x40, // payload 4, no next header, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // src
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // dst
        1, 2, 3, 4, // payload
    ];

    #[test]
    fn reads_every_field_of_a_header() {
        let p = Ipv6Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), ip_proto::IPV6_NONXT);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr()[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(p.dst_addr()[15], 2);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn writes_every_byte_of_a_header() {
        let mut buf = poisoned(44);
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..]);
        p.set_ver_tc_flow(0);
        p.set_version();
        p.set_traffic_class(0xb8);
        p.set_flow_label(0x12345);
        p.set_payload_len(4);
        p.set_next_header(ip_proto::IPV6_NONXT);
        p.set_hop_limit(64);
        p.set_src_addr(HEADER[8..24].try_into().unwrap());
        p.set_dst_addr(HEADER[24..40].try_into().unwrap());
        p.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(&buf[..], &HEADER[..]);
    }

    #[test]
    fn rejects_payload_longer_than_buffer() {
        assert_eq!(
            Ipv6Packet::new_checked(&HEADER[..39]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv6Packet::new_checked(&HEADER[..43]).unwrap_err(),
            Error::Truncated
        );
    }

    // Hop-by-hop (8 bytes) -> routing (16 bytes) -> fragment -> AH (16) -> dest opts (8) -> TCP.
    static CHAIN: [u8; 56] = [
        43, 0, 1, 4, 0, 0, 0, 0, // hop-by-hop: PadN 4
        44, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // routing type 0, 1 segment left
        51, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, // fragment: offset 0, M, ident
        60, 2, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, // AH, 16 bytes
        6, 0, 1, 4, 0, 0, 0, 0, // dest opts
    ];

    #[test]
    fn reads_each_extension_header_of_a_chain() {
        let hop = Ipv6ExtHeader::new_checked(&CHAIN[..]).unwrap();
        assert_eq!((hop.next_header(), hop.header_len()), (43, 8));
        assert_eq!(hop.options(), &[1, 4, 0, 0, 0, 0]);
        let rt = Ipv6RoutingHeader::new_checked(hop.payload()).unwrap();
        assert_eq!((rt.next_header(), rt.header_len()), (44, 16));
        assert_eq!((rt.routing_type(), rt.segments_left()), (0, 1));
        assert_eq!(rt.data().len(), 12);
        let fr = Ipv6FragmentHeader::new_checked(&CHAIN[24..]).unwrap();
        assert_eq!(fr.next_header(), 51);
        assert_eq!((fr.frag_offset(), fr.more_frags()), (0, true));
        assert_eq!(fr.ident(), 0xdead_beef);
        let ah = Ipv6AuthHeader::new_checked(fr.payload()).unwrap();
        assert_eq!((ah.next_header(), ah.header_len()), (60, 16));
        assert_eq!((ah.spi(), ah.sequence_number()), (7, 9));
        assert_eq!(ah.icv(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let dst = Ipv6ExtHeader::new_checked(&CHAIN[48..]).unwrap();
        assert_eq!(dst.next_header(), 6);
    }

    #[test]
    fn writes_every_byte_of_extension_headers() {
        let mut buf = poisoned(56);
        let mut hop = Ipv6ExtHeader::new_unchecked(&mut buf[..8]);
        hop.set_next_header(43);
        hop.set_header_ext_len(0);
        hop.options_mut().copy_from_slice(&[1, 4, 0, 0, 0, 0]);
        let mut rt = Ipv6RoutingHeader::new_unchecked(&mut buf[8..24]);
        rt.set_next_header(44);
        rt.set_header_ext_len(1);
        rt.set_routing_type(0);
        rt.set_segments_left(1);
        buf[12..24].fill(0);
        let mut fr = Ipv6FragmentHeader::new_unchecked(&mut buf[24..32]);
        fr.set_next_header(51);
        fr.set_frag_offset_and_more(0, true);
        fr.set_ident(0xdead_beef);
        let mut ah = Ipv6AuthHeader::new_unchecked(&mut buf[32..48]);
        ah.set_next_header(60);
        ah.set_header_len(16);
        ah.set_spi(7);
        ah.set_sequence_number(9);
        buf[44..48].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        let mut dst = Ipv6ExtHeader::new_unchecked(&mut buf[48..56]);
        dst.set_next_header(6);
        dst.set_header_ext_len(0);
        dst.options_mut().copy_from_slice(&[1, 4, 0, 0, 0, 0]);
        assert_eq!(&buf[..], &CHAIN[..]);
    }

    #[test]
    fn reads_and_writes_esp() {
        let bytes = [0, 0, 1, 0, 0, 0, 0, 5, 0xee];
        let esp = Ipv6EspHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!((esp.spi(), esp.sequence_number()), (256, 5));
        assert_eq!(esp.payload(), &[0xee]);
        let mut buf = poisoned(9);
        let mut e = Ipv6EspHeader::new_unchecked(&mut buf[..]);
        e.set_spi(256);
        e.set_sequence_number(5);
        buf[8] = 0xee;
        assert_eq!(buf, bytes);
        assert_eq!(
            Ipv6EspHeader::new_checked(&bytes[..7]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn walks_a_full_chain_to_the_upper_layer() {
        let c = Ipv6ExtChain::walk(&CHAIN, ip_proto::HOPOPT);
        assert_eq!(c.next_header, ip_proto::TCP);
        assert_eq!(c.len, 56);
        assert_eq!(c.error, None);
        assert_eq!(c.frag, frag::ANY);
        use ipv6_exthdr::*;
        assert_eq!(c.exthdr, HOP | ROUTER | FRAG | AUTH | DEST);
    }

    #[test]
    fn stops_at_a_later_fragment() {
        let mut chain = CHAIN;
        chain[26] = 0x05; // offset 1280 bytes (160 * 8)
        chain[27] = 0x00;
        let c = Ipv6ExtChain::walk(&chain, ip_proto::HOPOPT);
        assert_eq!(c.frag, frag::ANY | frag::LATER);
        assert_eq!(c.next_header, ip_proto::AH);
        assert_eq!(c.len, 32);
        assert_eq!(
            c.exthdr,
            ipv6_exthdr::HOP | ipv6_exthdr::ROUTER | ipv6_exthdr::FRAG
        );
    }

    #[test]
    fn reports_truncation_at_the_cut_header() {
        for cut in 0..CHAIN.len() {
            let c = Ipv6ExtChain::walk(&CHAIN[..cut], ip_proto::HOPOPT);
            assert_eq!(c.error, Some(Error::Truncated), "cut {cut}");
            assert!(c.len <= cut);
        }
        let c = Ipv6ExtChain::walk(&CHAIN[..20], ip_proto::HOPOPT);
        assert_eq!((c.len, c.next_header), (8, ip_proto::IPV6_ROUTE));
        assert_eq!(c.exthdr, ipv6_exthdr::HOP);
    }

    #[test]
    fn flags_repeats_and_bad_order() {
        // dest, hop, dest, dest, then UDP.
        let bytes = [
            0, 0, 1, 4, 0, 0, 0, 0, // dest -> hop
            60, 0, 1, 4, 0, 0, 0, 0, // hop (not first) -> dest
            60, 0, 1, 4, 0, 0, 0, 0, // dest -> dest
            17, 0, 1, 4, 0, 0, 0, 0, // third dest -> UDP
        ];
        let c = Ipv6ExtChain::walk(&bytes, ip_proto::IPV6_DSTOPTS);
        use ipv6_exthdr::*;
        assert_eq!(c.exthdr, DEST | HOP | UNSEQ | UNREP);
        assert_eq!((c.next_header, c.len), (ip_proto::UDP, 32));

        // routing then first-position dest is fine as a final dest; AH then routing is not.
        let ok = [60, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
        let c = Ipv6ExtChain::walk(&ok, ip_proto::IPV6_ROUTE);
        assert_eq!(c.exthdr, ROUTER | DEST);
        let bad = [43, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0];
        let c = Ipv6ExtChain::walk(&bad, ip_proto::AH);
        assert_eq!(c.exthdr, AUTH | ROUTER | UNSEQ);
    }

    #[test]
    fn records_esp_and_no_next_header_and_stops() {
        let c = Ipv6ExtChain::walk(&[0; 16], ip_proto::ESP);
        assert_eq!(
            (c.exthdr, c.next_header, c.len),
            (ipv6_exthdr::ESP, ip_proto::ESP, 0)
        );
        let c = Ipv6ExtChain::walk(&[], ip_proto::IPV6_NONXT);
        assert_eq!(c.exthdr, ipv6_exthdr::NONEXT);
        assert_eq!(c.error, None);
        let c = Ipv6ExtChain::walk(&[59, 0, 1, 4, 0, 0, 0, 0], ip_proto::HOPOPT);
        assert_eq!(c.exthdr, ipv6_exthdr::HOP | ipv6_exthdr::NONEXT);
        assert_eq!((c.next_header, c.len), (ip_proto::IPV6_NONXT, 8));
    }

    #[test]
    fn rejects_an_authentication_header_too_short_for_its_fields() {
        let ah = [6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Ipv6AuthHeader::new_checked(&ah[..]).unwrap_err(),
            Error::Malformed
        );
        let c = Ipv6ExtChain::walk(&ah, ip_proto::AH);
        assert_eq!(c.error, Some(Error::Malformed));
        assert_eq!(c.exthdr, 0);
    }
}
