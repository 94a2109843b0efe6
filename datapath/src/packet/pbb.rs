//! IEEE 802.1ah provider backbone bridging I-TAG, the 4 bytes after
//! ethertype 0x88e7: priority, drop eligibility, "use customer addresses"
//! and the 24-bit service instance id that OpenFlow matches as `pbb_isid`.
//! The encapsulated customer frame (destination and source addresses, then
//! its own type) follows.

use super::{get_u32, set_u32, Error, Result};

/// Length of the I-TAG control information.
pub const HEADER_LEN: usize = 4;

view_type! {
    /// A view of a PBB I-TAG and the customer frame after it.
    PbbITag
}

impl<T: AsRef<[u8]>> PbbITag<T> {
    /// Checks that the buffer holds the 4 bytes.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.buffer.as_ref()[0] & 0x10 != 0
    }

    /// "Use customer addresses" flag.
    #[inline]
    pub fn uca(&self) -> bool {
        self.buffer.as_ref()[0] & 0x08 != 0
    }

    /// Service instance id (24 bits).
    #[inline]
    pub fn isid(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 0) & 0x00ff_ffff
    }

    /// The encapsulated customer frame.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PbbITag<T> {
    /// Writes the whole tag.
    #[inline]
    pub fn set_tag(&mut self, pcp: u8, dei: bool, uca: bool, isid: u32) {
        let flags = ((pcp & 7) << 5) | if dei { 0x10 } else { 0 } | if uca { 0x08 } else { 0 };
        set_u32(
            self.buffer.as_mut(),
            0,
            (u32::from(flags) << 24) | (isid & 0x00ff_ffff),
        );
    }

    /// Sets the service instance id (low 24 bits), keeping the flags.
    #[inline]
    pub fn set_isid(&mut self, isid: u32) {
        let b = self.buffer.as_mut();
        let v = (get_u32(b, 0) & 0xff00_0000) | (isid & 0x00ff_ffff);
        set_u32(b, 0, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static TAG: [u8; 5] = [0xb8, 0x01, 0x02, 0x03, 0x02];

    #[test]
    fn reads_every_field() {
        let t = PbbITag::new_checked(&TAG[..]).unwrap();
        assert_eq!((t.pcp(), t.dei(), t.uca()), (5, true, true));
        assert_eq!(t.isid(), 0x010203);
        assert_eq!(t.payload(), &[2]);
    }

    #[test]
    fn writes_every_byte() {
        let mut buf = poisoned(5);
        let mut t = PbbITag::new_unchecked(&mut buf[..]);
        t.set_tag(5, true, true, 0);
        t.set_isid(0xff_010203);
        buf[4] = 2;
        assert_eq!(buf, TAG);
    }

    #[test]
    fn rejects_truncated_tag() {
        assert_eq!(
            PbbITag::new_checked(&TAG[..3]).unwrap_err(),
            Error::Truncated
        );
    }
}
