//! Ethernet II frame header (destination, source, type/length) and the
//! IEEE 802.2 LLC/SNAP header that carries an ethertype inside an 802.3
//! frame whose type/length field is a length.

use super::{get_array, get_u16, set_u16, Error, MacAddr, Result};

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const PAYLOAD: usize = 14;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD;

view_type! {
    /// A view of an Ethernet II frame.
    EthernetFrame
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks that the buffer holds the 14-byte header.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Length of the header.
    #[inline]
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        get_array(self.buffer.as_ref(), field::DST.start)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        get_array(self.buffer.as_ref(), field::SRC.start)
    }

    /// Type/length field: an ethertype when `>= ethertype::MIN`, an 802.3
    /// length otherwise.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr);
    }

    /// Sets the type/length field.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, t);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

mod snap_field {
    pub const DSAP: usize = 0;
    pub const SSAP: usize = 1;
    pub const CONTROL: usize = 2;
    pub const OUI: core::ops::Range<usize> = 3..6;
    pub const ETHERTYPE: usize = 6;
    pub const PAYLOAD: usize = 8;
}

/// Length of an LLC header followed by a SNAP header.
pub const LLC_SNAP_LEN: usize = snap_field::PAYLOAD;

view_type! {
    /// A view of an 802.2 LLC header with a SNAP extension (the payload of
    /// an 802.3 frame).
    LlcSnapHeader
}

impl<T: AsRef<[u8]>> LlcSnapHeader<T> {
    /// Checks that the buffer holds the 8 bytes of LLC and SNAP.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < LLC_SNAP_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Destination service access point.
    #[inline]
    pub fn dsap(&self) -> u8 {
        self.buffer.as_ref()[snap_field::DSAP]
    }

    /// Source service access point.
    #[inline]
    pub fn ssap(&self) -> u8 {
        self.buffer.as_ref()[snap_field::SSAP]
    }

    /// LLC control byte.
    #[inline]
    pub fn control(&self) -> u8 {
        self.buffer.as_ref()[snap_field::CONTROL]
    }

    /// SNAP organization code.
    #[inline]
    pub fn oui(&self) -> [u8; 3] {
        get_array(self.buffer.as_ref(), snap_field::OUI.start)
    }

    /// SNAP protocol id (an ethertype when the OUI is zero).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), snap_field::ETHERTYPE)
    }

    /// Whether this is SNAP (DSAP = SSAP = 0xaa, UI control) with the
    /// zero OUI, i.e. the protocol id is an ethertype.
    #[inline]
    pub fn carries_ethertype(&self) -> bool {
        self.dsap() == 0xaa && self.ssap() == 0xaa && self.control() == 0x03 && self.oui() == [0; 3]
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[snap_field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LlcSnapHeader<T> {
    /// Writes an LLC/SNAP header carrying `ethertype` with the zero OUI.
    #[inline]
    pub fn set_snap_ethertype(&mut self, ethertype: u16) {
        let b = self.buffer.as_mut();
        b[snap_field::DSAP] = 0xaa;
        b[snap_field::SSAP] = 0xaa;
        b[snap_field::CONTROL] = 0x03;
        b[snap_field::OUI].fill(0);
        set_u16(b, snap_field::ETHERTYPE, ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static FRAME: [u8; 18] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x00, // IPv4
        0xaa, 0xbb, 0xcc, 0xdd, // payload
    ];

    #[test]
    fn reads_every_field_of_a_static_frame() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(f.src_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(f.ethertype(), 0x0800);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn writes_every_byte_of_the_header() {
        let mut buf = poisoned(18);
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        f.set_dst_addr([2, 0, 0, 0, 0, 2]);
        f.set_src_addr([2, 0, 0, 0, 0, 1]);
        f.set_ethertype(0x0800);
        f.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(&buf[..], &FRAME[..]);
    }

    #[test]
    fn rejects_truncated_header() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).unwrap_err(),
            Error::Truncated
        );
        assert!(EthernetFrame::new_checked(&FRAME[..14]).is_ok());
    }

    #[test]
    fn recognizes_snap_carrying_an_ethertype() {
        let bytes = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06, 0xff];
        let s = LlcSnapHeader::new_checked(&bytes[..]).unwrap();
        assert!(s.carries_ethertype());
        assert_eq!(s.ethertype(), 0x0806);
        assert_eq!(s.payload(), &[0xff]);
        let mut buf = poisoned(8);
        LlcSnapHeader::new_unchecked(&mut buf[..]).set_snap_ethertype(0x0806);
        assert_eq!(&buf[..], &bytes[..8]);
        let stp = [0x42, 0x42, 0x03, 0, 0, 0, 0, 0];
        assert!(!LlcSnapHeader::new_checked(&stp[..])
            .unwrap()
            .carries_ethertype());
        assert_eq!(
            LlcSnapHeader::new_checked(&stp[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
