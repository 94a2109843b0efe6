//! IPv4 header (RFC 791): options, fragmentation fields and the header
//! checksum, which execution keeps right with incremental updates
//! ([`super::checksum::update_u16`]) when it rewrites TTL, TOS or addresses.
//!
//! `check_len` validates IHL and total length against the buffer, so once
//! it passes, `options()` and `payload()` are in bounds. The buffer may be
//! longer than the total length (Ethernet padding); `payload()` stops at the
//! total length.

use super::{checksum, get_array, get_u16, set_u16, Error, Result};

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;
/// Length of the largest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

/// "Don't fragment" flag in the flags/offset word.
pub const FLAG_DF: u16 = 0x4000;
/// "More fragments" flag in the flags/offset word.
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset bits (units of 8 bytes) in the flags/offset word.
pub const OFFSET_MASK: u16 = 0x1fff;

view_type! {
    /// A view of an IPv4 header and its payload.
    Ipv4Packet
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks the fixed header, the IHL (at least 5, within the buffer) and
    /// the total length (at least the header length, within the buffer).
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < hl {
            return Err(Error::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hl {
            return Err(Error::Malformed);
        }
        if len < total {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// IP version (4 for a real IPv4 header).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL times 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The whole TOS byte: DSCP (6 bits) and ECN (2 bits).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// Explicit congestion notification.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 3
    }

    /// Total length of header and payload.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The raw flags and fragment offset word.
    #[inline]
    pub fn flags_frag(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLG_OFF)
    }

    /// "Don't fragment" flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// "More fragments" flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & OFFSET_MASK) << 3
    }

    /// Whether this is a fragment (first or later) of a larger datagram.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        get_array(self.buffer.as_ref(), field::SRC.start)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        get_array(self.buffer.as_ref(), field::DST.start)
    }

    /// The options (between the fixed header and the header length).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The header checksum computed over the header (with the field as it is:
    /// zero it first to get the value to store).
    #[inline]
    pub fn compute_checksum(&self) -> u16 {
        checksum::checksum(&self.buffer.as_ref()[..self.header_len()])
    }

    /// Whether the header checksum is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(0, &self.buffer.as_ref()[..self.header_len()])
    }

    /// The payload, up to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (rounded down to 4,
    /// limited to 60).
    #[inline]
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        let ihl = u8::try_from(header_len.min(MAX_HEADER_LEN) / 4).unwrap_or(15);
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ihl;
    }

    /// Sets the TOS byte.
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets the DSCP (low 6 bits of `dscp`), keeping ECN.
    #[inline]
    pub fn set_dscp(&mut self, dscp: u8) {
        let tos = (dscp << 2) | self.ecn();
        self.set_tos(tos);
    }

    /// Sets the ECN (low 2 bits of `ecn`), keeping DSCP.
    #[inline]
    pub fn set_ecn(&mut self, ecn: u8) {
        let tos = (self.tos() & !3) | (ecn & 3);
        self.set_tos(tos);
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    /// Sets the raw flags and fragment offset word.
    #[inline]
    pub fn set_flags_frag(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::FLG_OFF, v);
    }

    /// Sets the "don't fragment" flag.
    #[inline]
    pub fn set_dont_frag(&mut self, on: bool) {
        let v = (self.flags_frag() & !FLAG_DF) | if on { FLAG_DF } else { 0 };
        self.set_flags_frag(v);
    }

    /// Sets the "more fragments" flag.
    #[inline]
    pub fn set_more_frags(&mut self, on: bool) {
        let v = (self.flags_frag() & !FLAG_MF) | if on { FLAG_MF } else { 0 };
        self.set_flags_frag(v);
    }

    /// Sets the fragment offset in bytes (rounded down to a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let v = (self.flags_frag() & !OFFSET_MASK) | ((bytes >> 3) & OFFSET_MASK);
        self.set_flags_frag(v);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    /// The options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..hl]
    }

    /// Computes and stores the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = self.compute_checksum();
        self.set_checksum(c);
    }

    /// Sets the TTL and updates the checksum incrementally (the TTL shares a
    /// 16-bit word with the protocol).
    #[inline]
    pub fn set_ttl_update_checksum(&mut self, ttl: u8) {
        let old = u16::from_be_bytes([self.ttl(), self.protocol()]);
        let new = u16::from_be_bytes([ttl, self.protocol()]);
        self.set_ttl(ttl);
        let c = checksum::update_u16(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// The payload up to the total length, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, total) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[hl..total]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    // IHL 6 (one 4-byte option: router alert), DSCP 46 ECN 1, MF, offset 0, TTL 64, UDP.
    static HEADER: [u8; 28] = [
        0x46, 0xb9, 0x00, 0x1c, // ver/ihl, tos, total 28
        0x12, 0x34, 0x20, 0x00, // ident, MF
        0x40, 0x11, 0x00, 0x00, // ttl, udp, checksum (filled below)
        10, 0, 0, 1, // src
        10, 0, 0, 2, // dst
        0x94, 0x04, 0x00, 0x00, // router alert option
        0xde, 0xad, 0xbe, 0xef, // payload
    ];

    fn with_checksum() -> [u8; 28] {
        let mut h = HEADER;
        let c = checksum::checksum(&h[..24]);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    #[test]
    fn reads_every_field_of_a_header_with_options() {
        let h = with_checksum();
        let p = Ipv4Packet::new_checked(&h[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!((p.tos(), p.dscp(), p.ecn()), (0xb9, 46, 1));
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!((p.ttl(), p.protocol()), (64, 17));
        assert_eq!(p.src_addr(), [10, 0, 0, 1]);
        assert_eq!(p.dst_addr(), [10, 0, 0, 2]);
        assert_eq!(p.options(), &[0x94, 0x04, 0, 0]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(p.verify_checksum());
        assert_eq!(p.flags_frag(), 0x2000);
    }

    #[test]
    fn writes_every_byte_of_a_header_with_options() {
        let mut buf = poisoned(28);
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_version_and_header_len(24);
        p.set_tos(0);
        p.set_dscp(46);
        p.set_ecn(1);
        p.set_total_len(28);
        p.set_ident(0x1234);
        p.set_flags_frag(0);
        p.set_more_frags(true);
        p.set_dont_frag(false);
        p.set_frag_offset(0);
        p.set_ttl(64);
        p.set_protocol(17);
        p.set_src_addr([10, 0, 0, 1]);
        p.set_dst_addr([10, 0, 0, 2]);
        p.options_mut().copy_from_slice(&[0x94, 0x04, 0, 0]);
        p.payload_mut().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        p.fill_checksum();
        assert_eq!(buf, with_checksum());
    }

    #[test]
    fn keeps_the_checksum_right_across_a_ttl_rewrite() {
        let mut h = with_checksum();
        let mut p = Ipv4Packet::new_checked(&mut h[..]).unwrap();
        p.set_ttl_update_checksum(63);
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
    }

    #[test]
    fn reads_later_fragment_offset_in_bytes() {
        let mut h = with_checksum();
        let mut p = Ipv4Packet::new_checked(&mut h[..]).unwrap();
        p.set_frag_offset(1480);
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.more_frags());
        p.set_more_frags(false);
        assert!(p.is_fragment());
        p.set_frag_offset(0);
        assert!(!p.is_fragment());
    }

    #[test]
    fn rejects_truncated_and_inconsistent_lengths() {
        let h = with_checksum();
        assert_eq!(
            Ipv4Packet::new_checked(&h[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&h[..22]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&h[..27]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = h;
        bad[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
        let mut bad = h;
        bad[3] = 20;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
        let mut padded = h.to_vec();
        padded.extend_from_slice(&[0; 10]);
        let p = Ipv4Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload().len(), 4);
    }
}
