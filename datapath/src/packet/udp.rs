//! UDP header (RFC 768). The view covers one whole datagram so that the
//! checksum is computed over header and data; over IPv4 a zero checksum
//! means "none", and a computed zero is sent as all ones.

use super::{checksum, get_u16, set_u16, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;

view_type! {
    /// A view of a UDP datagram.
    UdpPacket
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Checks the header and that the length field (at least 8) fits the buffer.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let l = usize::from(self.len());
        if l < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < l {
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

    /// Length of header and data.
    #[inline]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Whether the length field says there is no data.
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field (0: none, over IPv4).
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Datagram data, up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..usize::from(self.len())]
    }

    /// Whether the checksum over the datagram is right (or absent, when
    /// zero), given the pseudo-header sum.
    #[inline]
    pub fn verify_checksum(&self, pseudo: u16) -> bool {
        self.checksum() == 0
            || checksum::verify(pseudo, &self.buffer.as_ref()[..usize::from(self.len())])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
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

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Datagram data up to the length field, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = usize::from(self.len());
        &mut self.buffer.as_mut()[field::PAYLOAD..l]
    }

    /// Computes and stores the checksum over the datagram (never zero).
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u16) {
        self.set_checksum(0);
        let l = usize::from(self.len());
        let c = checksum::checksum_with(pseudo, &self.buffer.as_ref()[..l]);
        self.set_checksum(checksum::udp_nonzero(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static DGRAM: [u8; 12] = [
        0x13, 0x89, 0x00, 0x35, // 5001 -> 53
        0x00, 0x0c, 0x00, 0x00, // length 12, checksum (filled)
        1, 2, 3, 4,
    ];

    fn pseudo() -> u16 {
        checksum::pseudo_header_v4([192, 0, 2, 1], [192, 0, 2, 2], 17, 12)
    }

    fn with_checksum() -> [u8; 12] {
        let mut d = DGRAM;
        let c = checksum::checksum_with(pseudo(), &d);
        d[6..8].copy_from_slice(&checksum::udp_nonzero(c).to_be_bytes());
        d
    }

    #[test]
    fn reads_every_field_of_a_datagram() {
        let d = with_checksum();
        let u = UdpPacket::new_checked(&d[..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len()), (5001, 53, 12));
        assert!(!u.is_empty());
        assert_eq!(u.payload(), &[1, 2, 3, 4]);
        assert!(u.verify_checksum(pseudo()));
        assert_ne!(u.checksum(), 0);
    }

    #[test]
    fn writes_every_byte_of_a_datagram() {
        let mut buf = poisoned(12);
        let mut u = UdpPacket::new_unchecked(&mut buf[..]);
        u.set_src_port(5001);
        u.set_dst_port(53);
        u.set_len(12);
        u.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        u.fill_checksum(pseudo());
        assert_eq!(buf, with_checksum());
    }

    #[test]
    fn accepts_a_missing_checksum() {
        let mut d = with_checksum();
        d[6] = 0;
        d[7] = 0;
        assert!(UdpPacket::new_checked(&d[..])
            .unwrap()
            .verify_checksum(pseudo()));
    }

    #[test]
    fn rejects_truncated_and_short_length_fields() {
        let d = with_checksum();
        assert_eq!(
            UdpPacket::new_checked(&d[..7]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            UdpPacket::new_checked(&d[..11]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = d;
        bad[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&bad[..]).unwrap_err(),
            Error::Malformed
        );
    }
}
