//! SCTP common header (RFC 9260): ports, verification tag and the CRC32c
//! checksum, which, unlike the Internet checksum, cannot be updated
//! incrementally: execution recomputes it with [`crc32c`] after rewriting a
//! port.

use super::{get_u16, get_u32, set_u16, set_u32, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const VTAG: usize = 4;
    pub const CHECKSUM: usize = 8;
    pub const CHUNKS: usize = 12;
}

/// Length of the common header.
pub const HEADER_LEN: usize = field::CHUNKS;

/// CRC32c (Castagnoli, reflected polynomial 0x82f63b78) lookup table.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0u32;
    while i < 256 {
        let mut c = i;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i as usize] = c;
        i += 1;
    }
    table
};

/// CRC32c of `data` (initial value all ones, final inversion), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        let idx = usize::from(crc.to_le_bytes()[0] ^ b);
        crc = (crc >> 8) ^ CRC32C_TABLE[idx];
    }
    !crc
}

view_type! {
    /// A view of an SCTP packet (common header and chunks).
    SctpPacket
}

impl<T: AsRef<[u8]>> SctpPacket<T> {
    /// Checks that the buffer holds the 12-byte common header.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
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

    /// Verification tag.
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VTAG)
    }

    /// Checksum field, as the CRC32c value it holds (the wire stores it
    /// little-endian).
    #[inline]
    pub fn checksum(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::CHECKSUM).swap_bytes()
    }

    /// The chunks.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::CHUNKS..]
    }

    /// The CRC32c of the whole packet with a zero checksum field.
    pub fn compute_checksum(&self) -> u32 {
        let b = self.buffer.as_ref();
        let mut crc = !0u32;
        let zero = [0u8; 4];
        let parts: [&[u8]; 3] = [&b[..field::CHECKSUM], &zero, &b[field::CHUNKS..]];
        for part in parts {
            for &x in part {
                let idx = usize::from(crc.to_le_bytes()[0] ^ x);
                crc = (crc >> 8) ^ CRC32C_TABLE[idx];
            }
        }
        !crc
    }

    /// Whether the checksum is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        self.compute_checksum() == self.checksum()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SctpPacket<T> {
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

    /// Sets the verification tag.
    #[inline]
    pub fn set_verification_tag(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::VTAG, v);
    }

    /// Sets the checksum field to a CRC32c value.
    #[inline]
    pub fn set_checksum(&mut self, crc: u32) {
        set_u32(self.buffer.as_mut(), field::CHECKSUM, crc.swap_bytes());
    }

    /// The chunks, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::CHUNKS..]
    }

    /// Computes and stores the checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let c = self.compute_checksum();
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    #[test]
    fn computes_the_standard_crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    static PKT: [u8; 16] = [
        0x0b, 0x59, 0x0b, 0x59, // 2905 -> 2905
        0x00, 0x00, 0x00, 0x2a, // vtag 42
        0x00, 0x00, 0x00, 0x00, // checksum (filled)
        0x0e, 0x00, 0x00, 0x04, // SHUTDOWN COMPLETE chunk
    ];

    fn with_checksum() -> [u8; 16] {
        let mut p = PKT;
        let c = crc32c(&p);
        p[8..12].copy_from_slice(&c.to_le_bytes());
        p
    }

    #[test]
    fn reads_every_field() {
        let p = with_checksum();
        let s = SctpPacket::new_checked(&p[..]).unwrap();
        assert_eq!((s.src_port(), s.dst_port()), (2905, 2905));
        assert_eq!(s.verification_tag(), 42);
        assert_eq!(s.payload(), &[0x0e, 0, 0, 4]);
        assert!(s.verify_checksum());
        assert_eq!(s.checksum(), crc32c(&PKT));
    }

    #[test]
    fn writes_every_byte() {
        let mut buf = poisoned(16);
        let mut s = SctpPacket::new_unchecked(&mut buf[..]);
        s.set_src_port(2905);
        s.set_dst_port(2905);
        s.set_verification_tag(42);
        s.payload_mut().copy_from_slice(&[0x0e, 0, 0, 4]);
        s.fill_checksum();
        assert_eq!(buf, with_checksum());
    }

    #[test]
    fn rejects_truncated_header() {
        assert_eq!(
            SctpPacket::new_checked(&PKT[..11]).unwrap_err(),
            Error::Truncated
        );
    }
}
