//! TCP header (RFC 9293): ports, sequence numbers, the 12 flag bits
//! OpenFlow's `tcp_flags` matches (the 9 defined flags plus 3 reserved),
//! options and checksum. The view covers one whole segment, so that the
//! checksum is computed over header and data.

use super::{checksum, get_u16, get_u32, set_u16, set_u32, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFF_FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// TCP flag bits, as the low 12 bits of the offset/flags word.
pub mod flags {
    /// No more data from sender.
    pub const FIN: u16 = 0x001;
    /// Synchronize sequence numbers.
    pub const SYN: u16 = 0x002;
    /// Reset the connection.
    pub const RST: u16 = 0x004;
    /// Push function.
    pub const PSH: u16 = 0x008;
    /// Acknowledgment field significant.
    pub const ACK: u16 = 0x010;
    /// Urgent pointer field significant.
    pub const URG: u16 = 0x020;
    /// ECN echo.
    pub const ECE: u16 = 0x040;
    /// Congestion window reduced.
    pub const CWR: u16 = 0x080;
    /// ECN nonce (historic).
    pub const NS: u16 = 0x100;
    /// All 12 bits OpenFlow's `tcp_flags` covers.
    pub const MASK: u16 = 0x0fff;
}

view_type! {
    /// A view of a TCP segment.
    TcpPacket
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Checks the fixed header and that the data offset (at least 5 words)
    /// fits the buffer.
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
        Ok(())
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset times 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFF_FLAGS] >> 4) * 4
    }

    /// The 12 flag bits (`flags::*`).
    #[inline]
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OFF_FLAGS) & flags::MASK
    }

    /// FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    /// SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    /// RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    /// PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }

    /// ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    /// URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }

    /// ECE flag.
    #[inline]
    pub fn ece(&self) -> bool {
        self.flags() & flags::ECE != 0
    }

    /// CWR flag.
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags() & flags::CWR != 0
    }

    /// NS flag.
    #[inline]
    pub fn ns(&self) -> bool {
        self.flags() & flags::NS != 0
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// Options.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// Segment data.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Whether the checksum over the whole buffer is right, given the sum of
    /// the pseudo-header ([`checksum::pseudo_header_v4`] or `_v6`).
    #[inline]
    pub fn verify_checksum(&self, pseudo: u16) -> bool {
        checksum::verify(pseudo, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ, v);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::ACK, v);
    }

    /// Sets the header length in bytes (rounded down to 4, limited to 60),
    /// keeping the flags.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let words = u16::try_from(len.min(60) / 4).unwrap_or(15);
        let v = (words << 12) | self.flags();
        set_u16(self.buffer.as_mut(), field::OFF_FLAGS, v);
    }

    /// Sets the 12 flag bits, keeping the data offset.
    #[inline]
    pub fn set_flags(&mut self, f: u16) {
        let b = self.buffer.as_mut();
        let v = (get_u16(b, field::OFF_FLAGS) & !flags::MASK) | (f & flags::MASK);
        set_u16(b, field::OFF_FLAGS, v);
    }

    /// Sets the window size.
    #[inline]
    pub fn set_window_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::WINDOW, v);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent_at(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT, v);
    }

    /// Options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..hl]
    }

    /// Segment data, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }

    /// Computes and stores the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u16) {
        self.set_checksum(0);
        let c = checksum::checksum_with(pseudo, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    // SYN with MSS option, ports 12345 -> 80.
    static SYN: [u8; 26] = [
        0x30, 0x39, 0x00, 0x50, // ports
        0x00, 0x00, 0x10, 0x00, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0x61, 0x02, 0x72, 0x10, // offset 6, NS, SYN, window
        0x00, 0x00, 0x00, 0x00, // checksum (filled), urgent
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0xab, 0xcd, // data
    ];
    const PSEUDO_SRC: [u8; 4] = [10, 0, 0, 1];
    const PSEUDO_DST: [u8; 4] = [10, 0, 0, 2];

    fn pseudo() -> u16 {
        checksum::pseudo_header_v4(PSEUDO_SRC, PSEUDO_DST, 6, 26)
    }

    fn with_checksum() -> [u8; 26] {
        let mut s = SYN;
        let c = checksum::checksum_with(pseudo(), &s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
        s
    }

    #[test]
    fn reads_every_field_of_a_syn() {
        let s = with_checksum();
        let t = TcpPacket::new_checked(&s[..]).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (12345, 80));
        assert_eq!((t.seq_number(), t.ack_number()), (0x1000, 0));
        assert_eq!(t.header_len(), 24);
        assert_eq!(t.flags(), flags::NS | flags::SYN);
        assert!(t.syn() && t.ns());
        assert!(!(t.fin() || t.rst() || t.psh() || t.ack() || t.urg() || t.ece() || t.cwr()));
        assert_eq!(t.window_len(), 0x7210);
        assert_eq!(t.urgent_at(), 0);
        assert_eq!(t.options(), &[2, 4, 5, 0xb4]);
        assert_eq!(t.payload(), &[0xab, 0xcd]);
        assert!(t.verify_checksum(pseudo()));
    }

    #[test]
    fn writes_every_byte_of_a_syn() {
        let mut buf = poisoned(26);
        let mut t = TcpPacket::new_unchecked(&mut buf[..]);
        t.set_src_port(12345);
        t.set_dst_port(80);
        t.set_seq_number(0x1000);
        t.set_ack_number(0);
        t.set_header_len(24);
        t.set_flags(flags::NS | flags::SYN);
        t.set_window_len(0x7210);
        t.set_urgent_at(0);
        t.options_mut().copy_from_slice(&[2, 4, 5, 0xb4]);
        t.payload_mut().copy_from_slice(&[0xab, 0xcd]);
        t.fill_checksum(pseudo());
        assert_eq!(buf, with_checksum());
    }

    #[test]
    fn rejects_truncated_and_short_data_offsets() {
        let s = with_checksum();
        assert_eq!(
            TcpPacket::new_checked(&s[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&s[..23]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = s;
        bad[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
    }
}
