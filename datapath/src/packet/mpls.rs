//! MPLS label stack entry (RFC 3032): label (20 bits), traffic class (3),
//! bottom-of-stack (1) and TTL (8), in one 32-bit word. The flow key keeps
//! the top entry whole in `mpls_lse`, in the same bit layout.

use super::{get_u32, set_u32, Error, Result};

/// Length of one label stack entry.
pub const HEADER_LEN: usize = 4;

/// Bit position of the label in an entry.
pub const LABEL_SHIFT: u32 = 12;
/// Bit position of the traffic class in an entry.
pub const TC_SHIFT: u32 = 9;
/// The bottom-of-stack bit of an entry.
pub const BOS_BIT: u32 = 1 << 8;

/// Builds a label stack entry from its fields (each limited to its width).
#[inline]
pub const fn lse(label: u32, tc: u8, bos: bool, ttl: u8) -> u32 {
    ((label & 0xf_ffff) << LABEL_SHIFT)
        | (((tc & 7) as u32) << TC_SHIFT)
        | if bos { BOS_BIT } else { 0 }
        | ttl as u32
}

view_type! {
    /// A view of one MPLS label stack entry.
    MplsHeader
}

impl<T: AsRef<[u8]>> MplsHeader<T> {
    /// Checks that the buffer holds the 4-byte entry.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The whole entry.
    #[inline]
    pub fn lse(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 0)
    }

    /// Label (20 bits).
    #[inline]
    pub fn label(&self) -> u32 {
        self.lse() >> LABEL_SHIFT
    }

    /// Traffic class (3 bits).
    #[inline]
    pub fn tc(&self) -> u8 {
        (self.lse() >> TC_SHIFT).to_be_bytes()[3] & 7
    }

    /// Bottom of stack.
    #[inline]
    pub fn bos(&self) -> bool {
        self.lse() & BOS_BIT != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[3]
    }

    /// What follows the entry (the next entry, or the payload after the bottom).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MplsHeader<T> {
    /// Sets the whole entry.
    #[inline]
    pub fn set_lse(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), 0, v);
    }

    /// Sets the label (low 20 bits of `label`).
    #[inline]
    pub fn set_label(&mut self, label: u32) {
        let v = (self.lse() & 0xfff) | ((label & 0xf_ffff) << LABEL_SHIFT);
        self.set_lse(v);
    }

    /// Sets the traffic class (low 3 bits of `tc`).
    #[inline]
    pub fn set_tc(&mut self, tc: u8) {
        let v = (self.lse() & !(7 << TC_SHIFT)) | (u32::from(tc & 7) << TC_SHIFT);
        self.set_lse(v);
    }

    /// Sets the bottom-of-stack bit.
    #[inline]
    pub fn set_bos(&mut self, bos: bool) {
        let v = (self.lse() & !BOS_BIT) | if bos { BOS_BIT } else { 0 };
        self.set_lse(v);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[3] = ttl;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    // Label 0x12345, TC 5, BoS, TTL 64.
    static ENTRY: [u8; 4] = [0x12, 0x34, 0x5b, 0x40];

    #[test]
    fn reads_every_field_of_an_entry() {
        let m = MplsHeader::new_checked(&ENTRY[..]).unwrap();
        assert_eq!(m.label(), 0x12345);
        assert_eq!(m.tc(), 5);
        assert!(m.bos());
        assert_eq!(m.ttl(), 64);
        assert_eq!(m.lse(), lse(0x12345, 5, true, 64));
        assert!(m.payload().is_empty());
    }

    #[test]
    fn writes_every_byte_of_an_entry() {
        let mut buf = poisoned(4);
        let mut m = MplsHeader::new_unchecked(&mut buf[..]);
        m.set_lse(0);
        m.set_label(0x12345);
        m.set_tc(5);
        m.set_bos(true);
        m.set_ttl(64);
        assert_eq!(buf, ENTRY);
        let mut m = MplsHeader::new_unchecked(&mut buf[..]);
        m.set_bos(false);
        m.set_tc(0);
        assert_eq!(m.lse(), 0x1234_5040);
    }

    #[test]
    fn rejects_truncated_entry() {
        assert_eq!(
            MplsHeader::new_checked(&ENTRY[..3]).unwrap_err(),
            Error::Truncated
        );
    }
}
