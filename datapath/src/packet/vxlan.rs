//! VXLAN header (RFC 7348): flags with the "VNI valid" bit and the 24-bit
//! VXLAN network identifier, carried in UDP to port 4789. Encapsulation and
//! decapsulation are execution's; this is the header they read and write.

use super::{get_u32, set_u32, Error, Result};

mod field {
    pub const FLAGS: usize = 0;
    pub const VNI: usize = 4;
    pub const PAYLOAD: usize = 8;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// IANA UDP port of VXLAN.
pub const UDP_PORT: u16 = 4789;
/// The "I" flag: the VNI is valid.
pub const FLAG_VNI: u8 = 0x08;

view_type! {
    /// A view of a VXLAN header and the inner frame after it.
    VxlanHeader
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Checks that the buffer holds the 8-byte header.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The flags byte.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Whether the "VNI valid" flag is set (a receiver drops the packet otherwise).
    #[inline]
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_VNI != 0
    }

    /// The VXLAN network identifier (24 bits).
    #[inline]
    pub fn vni(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VNI) >> 8
    }

    /// The inner Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanHeader<T> {
    /// Writes the whole header: the "VNI valid" flag, `vni` (low 24 bits)
    /// and zero reserved fields.
    #[inline]
    pub fn set_header(&mut self, vni: u32) {
        let b = self.buffer.as_mut();
        set_u32(b, field::FLAGS, u32::from(FLAG_VNI) << 24);
        set_u32(b, field::VNI, (vni & 0x00ff_ffff) << 8);
    }

    /// Sets the flags byte.
    #[inline]
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::FLAGS] = flags;
    }

    /// Sets the VNI (low 24 bits), keeping the reserved byte after it.
    #[inline]
    pub fn set_vni(&mut self, vni: u32) {
        let b = self.buffer.as_mut();
        let v = ((vni & 0x00ff_ffff) << 8) | (get_u32(b, field::VNI) & 0xff);
        set_u32(b, field::VNI, v);
    }

    /// The inner frame, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static HDR: [u8; 9] = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xee];

    #[test]
    fn reads_every_field() {
        let v = VxlanHeader::new_checked(&HDR[..]).unwrap();
        assert!(v.vni_valid());
        assert_eq!(v.flags(), FLAG_VNI);
        assert_eq!(v.vni(), 0x123456);
        assert_eq!(v.payload(), &[0xee]);
    }

    #[test]
    fn writes_every_byte() {
        let mut buf = poisoned(9);
        let mut v = VxlanHeader::new_unchecked(&mut buf[..]);
        v.set_header(0xab_123456);
        v.payload_mut()[0] = 0xee;
        assert_eq!(buf, HDR);
        let mut v = VxlanHeader::new_unchecked(&mut buf[..]);
        v.set_flags(0);
        v.set_vni(7);
        assert!(!v.vni_valid());
        assert_eq!(v.vni(), 7);
    }

    #[test]
    fn rejects_truncated_header() {
        assert_eq!(
            VxlanHeader::new_checked(&HDR[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
