//! ICMPv6 (RFC 4443) and the two Neighbor Discovery messages OpenFlow
//! matches (RFC 4861): Neighbor Solicitation (135) and Neighbor
//! Advertisement (136), with their target address and the source/target
//! link-layer address options.
//!
//! [`NdOptionIter`] walks the options and stops with an error at an option
//! of length zero (which would never end) or one that runs past the
//! buffer; each option it yields is whole.

use super::{checksum, get_array, get_u16, get_u32, set_u16, set_u32, Error, MacAddr, Result};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const BODY: usize = 4;
    pub const DATA: usize = 8;
}

/// Length of the header including the 4-byte message body every type has.
pub const HEADER_LEN: usize = field::DATA;

/// Message types the switch names.
pub mod msg_type {
    /// Destination unreachable.
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
}

view_type! {
    /// A view of an ICMPv6 message.
    Icmpv6Packet
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Checks that the buffer holds type, code, checksum and the 4-byte body.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The first 4 bytes of the message body, as one number.
    #[inline]
    pub fn body_word(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::BODY)
    }

    /// Everything after the first 8 bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// Whether this is a Neighbor Solicitation or Advertisement with code 0,
    /// the messages whose target and link-layer options a flow key holds.
    #[inline]
    pub fn is_neighbor_discovery(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT
        ) && self.msg_code() == 0
    }

    /// Whether the checksum over the whole buffer is right, given the IPv6
    /// pseudo-header sum.
    #[inline]
    pub fn verify_checksum(&self, pseudo: u16) -> bool {
        checksum::verify(pseudo, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the message code.
    #[inline]
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the first 4 bytes of the message body.
    #[inline]
    pub fn set_body_word(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::BODY, v);
    }

    /// Everything after the first 8 bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes and stores the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u16) {
        self.set_checksum(0);
        let c = checksum::checksum_with(pseudo, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

mod nd_field {
    use core::ops::Range;
    pub const FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: usize = 24;
}

/// Length of an NS/NA message without options.
pub const ND_LEN: usize = nd_field::OPTIONS;

/// Neighbor Advertisement flag bits (first body byte).
pub mod na_flags {
    /// Sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// Sent in response to a solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// Override an existing cache entry.
    pub const OVERRIDE: u8 = 0x20;
}

/// ND option types the switch reads.
pub mod nd_option {
    /// Source link-layer address.
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LL_ADDR: u8 = 2;
}

view_type! {
    /// A view of a Neighbor Solicitation or Advertisement message (starting
    /// at the ICMPv6 type byte).
    NdMessage
}

impl<T: AsRef<[u8]>> NdMessage<T> {
    /// Checks that the buffer holds the ICMPv6 header and the target address.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ND_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Message type (135 or 136 for a real ND message).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The NA flag byte (`na_flags::*`; reserved in an NS).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[nd_field::FLAGS]
    }

    /// Target address.
    #[inline]
    pub fn target_addr(&self) -> [u8; 16] {
        get_array(self.buffer.as_ref(), nd_field::TARGET.start)
    }

    /// The raw options area.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[nd_field::OPTIONS..]
    }

    /// Iterates over the options.
    #[inline]
    pub fn option_iter(&self) -> NdOptionIter<'_> {
        NdOptionIter::new(self.options())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NdMessage<T> {
    /// Sets the flag byte and clears the 3 reserved bytes after it.
    #[inline]
    pub fn set_flags(&mut self, flags: u8) {
        let b = self.buffer.as_mut();
        b[nd_field::FLAGS] = flags;
        b[nd_field::FLAGS + 1..nd_field::TARGET.start].fill(0);
    }

    /// Sets the target address.
    #[inline]
    pub fn set_target_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[nd_field::TARGET].copy_from_slice(&a);
    }

    /// The raw options area, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[nd_field::OPTIONS..]
    }
}

view_type! {
    /// A view of one ND option (type, length in 8-octet units, data).
    NdOption
}

impl<T: AsRef<[u8]>> NdOption<T> {
    /// Checks that the length is not zero and that the buffer holds it.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < 2 {
            return Err(Error::Truncated);
        }
        let l = self.len();
        if l == 0 {
            return Err(Error::Malformed);
        }
        if b.len() < l {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Option type.
    #[inline]
    pub fn option_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Option length in bytes (including type and length).
    #[inline]
    #[allow(clippy::len_without_is_empty)] // A checked option is never empty.
    pub fn len(&self) -> usize {
        usize::from(self.buffer.as_ref()[1]) * 8
    }

    /// Option data after type and length.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.len()]
    }

    /// The Ethernet address of a link-layer address option of 8 bytes.
    #[inline]
    pub fn link_layer_addr(&self) -> Option<MacAddr> {
        if self.len() == 8 {
            Some(get_array(self.buffer.as_ref(), 2))
        } else {
            None
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NdOption<T> {
    /// Writes an 8-byte link-layer address option of `option_type`.
    #[inline]
    pub fn set_link_layer_addr(&mut self, option_type: u8, addr: MacAddr) {
        let b = self.buffer.as_mut();
        b[0] = option_type;
        b[1] = 1;
        b[2..8].copy_from_slice(&addr);
    }
}

/// Iterator over ND options; yields each whole option, or one error (then
/// stops) at an option of length zero or one cut short. Fewer than 2
/// trailing bytes end the iteration silently, like Open vSwitch does with
/// fewer than 8.
#[derive(Debug, Clone)]
pub struct NdOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> NdOptionIter<'a> {
    /// Iterates over `options` (the bytes after the target address).
    #[inline]
    pub fn new(options: &'a [u8]) -> Self {
        NdOptionIter { rest: options }
    }
}

impl<'a> Iterator for NdOptionIter<'a> {
    type Item = Result<NdOption<&'a [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 2 {
            return None;
        }
        let opt = NdOption::new_unchecked(self.rest);
        match opt.check_len() {
            Ok(()) => {
                let len = opt.len();
                let (this, rest) = self.rest.split_at(len);
                self.rest = rest;
                Some(Ok(NdOption::new_unchecked(this)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    const SRC: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];

    // NS for fe80::2 with a source link-layer address option.
    static NS: [u8; 32] = [
        135, 0, 0, 0, // type, code, checksum (filled)
        0, 0, 0, 0, // reserved
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // target
        1, 1, 0x02, 0, 0, 0, 0, 1, // SLL option
    ];

    fn pseudo() -> u16 {
        checksum::pseudo_header_v6(SRC, DST, 58, 32)
    }

    fn with_checksum() -> [u8; 32] {
        let mut m = NS;
        let c = checksum::checksum_with(pseudo(), &m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn reads_every_field_of_a_neighbor_solicitation() {
        let m = with_checksum();
        let icmp = Icmpv6Packet::new_checked(&m[..]).unwrap();
        assert_eq!((icmp.msg_type(), icmp.msg_code()), (135, 0));
        assert!(icmp.is_neighbor_discovery());
        assert!(icmp.verify_checksum(pseudo()));
        assert_eq!(icmp.body_word(), 0);
        assert_eq!(icmp.data().len(), 24);
        let nd = NdMessage::new_checked(&m[..]).unwrap();
        assert_eq!(nd.msg_type(), 135);
        assert_eq!(nd.flags(), 0);
        assert_eq!(nd.target_addr()[15], 2);
        let opts: Vec<_> = nd.option_iter().collect();
        assert_eq!(opts.len(), 1);
        let o = opts[0].unwrap();
        assert_eq!(o.option_type(), nd_option::SOURCE_LL_ADDR);
        assert_eq!(o.link_layer_addr(), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(o.data(), &[2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn writes_every_byte_of_a_neighbor_solicitation() {
        let mut buf = poisoned(32);
        let mut icmp = Icmpv6Packet::new_unchecked(&mut buf[..]);
        icmp.set_msg_type(135);
        icmp.set_msg_code(0);
        icmp.set_body_word(0);
        let mut nd = NdMessage::new_unchecked(&mut buf[..]);
        nd.set_flags(0);
        nd.set_target_addr(NS[8..24].try_into().unwrap());
        NdOption::new_unchecked(nd.options_mut())
            .set_link_layer_addr(nd_option::SOURCE_LL_ADDR, [2, 0, 0, 0, 0, 1]);
        Icmpv6Packet::new_unchecked(&mut buf[..]).fill_checksum(pseudo());
        assert_eq!(buf, with_checksum());
    }

    #[test]
    fn stops_option_walk_at_zero_length_or_overrun() {
        let zero = [1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0];
        let v: Vec<_> = NdOptionIter::new(&zero).collect();
        assert_eq!(v, vec![Err(Error::Malformed)]);
        let over = [2, 1, 9, 9, 9, 9, 9, 9, 1, 2, 0, 0];
        let v: Vec<_> = NdOptionIter::new(&over).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].unwrap().link_layer_addr(), Some([9; 6]));
        assert_eq!(v[1], Err(Error::Truncated));
        assert_eq!(NdOptionIter::new(&[1]).count(), 0);
    }

    #[test]
    fn reads_a_long_link_layer_option_as_no_ethernet_address() {
        let long = [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let o = NdOption::new_checked(&long[..]).unwrap();
        assert_eq!(o.len(), 16);
        assert_eq!(o.link_layer_addr(), None);
    }

    #[test]
    fn rejects_truncated_messages() {
        let m = with_checksum();
        assert_eq!(
            Icmpv6Packet::new_checked(&m[..7]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            NdMessage::new_checked(&m[..23]).unwrap_err(),
            Error::Truncated
        );
        assert!(NdMessage::new_checked(&m[..24]).is_ok());
    }
}
