//! IEEE 802.1Q / 802.1ad VLAN tag: the four bytes that follow a tag
//! protocol identifier (0x8100 customer tag, 0x88a8 service tag), i.e. the
//! tag control information and the type of what follows. A double-tagged
//! (QinQ) frame is an Ethernet header whose type is 0x88a8 (or 0x8100),
//! then a `VlanHeader` whose type is 0x8100, then a second `VlanHeader`.

use super::{get_u16, set_u16, Error, Result};

mod field {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const PAYLOAD: usize = 4;
}

/// Length of the tag body (after the TPID).
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Length of a whole tag as inserted into a frame (TPID + TCI).
pub const TAG_LEN: usize = 4;

/// Priority code point bits of a TCI.
pub const PCP_MASK: u16 = 0xe000;
/// Drop eligible indicator (formerly CFI) bit of a TCI.
pub const DEI_MASK: u16 = 0x1000;
/// VLAN identifier bits of a TCI.
pub const VID_MASK: u16 = 0x0fff;

view_type! {
    /// A view of a VLAN tag body: TCI and the type of what follows.
    VlanHeader
}

impl<T: AsRef<[u8]>> VlanHeader<T> {
    /// Checks that the buffer holds the 4 bytes.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The whole tag control information.
    #[inline]
    pub fn tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        super::hi(self.tci()) >> 5
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & DEI_MASK != 0
    }

    /// VLAN identifier (12 bits).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & VID_MASK
    }

    /// Type of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanHeader<T> {
    /// Sets the whole tag control information.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        set_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    /// Sets the priority code point (low 3 bits of `pcp`).
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = (self.tci() & !PCP_MASK) | (u16::from(pcp & 7) << 13);
        self.set_tci(tci);
    }

    /// Sets the drop eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, dei: bool) {
        let tci = (self.tci() & !DEI_MASK) | if dei { DEI_MASK } else { 0 };
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier (low 12 bits of `vid`).
    #[inline]
    pub fn set_vid(&mut self, vid: u16) {
        let tci = (self.tci() & !VID_MASK) | (vid & VID_MASK);
        self.set_tci(tci);
    }

    /// Sets the type of what follows.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, t);
    }

    /// Everything after the tag, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;
    use crate::packet::{ethertype, EthernetFrame};

    // 802.1ad outer tag (PCP 3, VID 100) then 802.1Q inner tag (PCP 5, DEI, VID 200), then IPv4.
    static QINQ: [u8; 22] = [
        0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, // macs
        0x88, 0xa8, // S-tag TPID
        0x60, 0x64, // PCP 3, VID 100
        0x81, 0x00, // C-tag TPID
        0xb0, 0xc8, // PCP 5, DEI, VID 200
        0x08, 0x00, // IPv4
    ];

    #[test]
    fn reads_two_stacked_tags() {
        let eth = EthernetFrame::new_checked(&QINQ[..]).unwrap();
        assert_eq!(eth.ethertype(), ethertype::QINQ);
        let outer = VlanHeader::new_checked(eth.payload()).unwrap();
        assert_eq!((outer.pcp(), outer.dei(), outer.vid()), (3, false, 100));
        assert_eq!(outer.ethertype(), ethertype::VLAN);
        let inner = VlanHeader::new_checked(outer.payload()).unwrap();
        assert_eq!((inner.pcp(), inner.dei(), inner.vid()), (5, true, 200));
        assert_eq!(inner.tci(), 0xb0c8);
        assert_eq!(inner.ethertype(), ethertype::IPV4);
        assert!(inner.payload().is_empty());
    }

    #[test]
    fn writes_every_byte_of_a_tag() {
        let mut buf = poisoned(4);
        let mut v = VlanHeader::new_unchecked(&mut buf[..]);
        v.set_tci(0);
        v.set_pcp(5);
        v.set_dei(true);
        v.set_vid(200);
        v.set_ethertype(0x0800);
        assert_eq!(&buf[..], &QINQ[18..22]);
        let mut v = VlanHeader::new_unchecked(&mut buf[..]);
        v.set_dei(false);
        v.set_pcp(0);
        v.set_vid(0xffff);
        assert_eq!(v.tci(), 0x0fff);
    }

    #[test]
    fn rejects_truncated_tag() {
        assert_eq!(
            VlanHeader::new_checked(&QINQ[14..17]).unwrap_err(),
            Error::Truncated
        );
    }
}
