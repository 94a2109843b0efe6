//! ARP (and RARP) packets for Ethernet hardware and IPv4 protocol
//! addresses, the only kind OpenFlow matches on. The view reads the fixed
//! 28-byte Ethernet/IPv4 layout; [`ArpPacket::is_ethernet_ipv4`] tells
//! whether the hardware/protocol fields really announce that layout.

use super::{ethertype, get_array, get_u16, set_u16, Error, MacAddr, Result};

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
    pub const END: usize = 28;
}

/// Length of the fixed part common to every ARP packet.
pub const FIXED_LEN: usize = field::SHA;
/// Length of an Ethernet/IPv4 ARP packet.
pub const HEADER_LEN: usize = field::END;
/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// ARP operation codes.
pub mod op {
    /// Request.
    pub const REQUEST: u16 = 1;
    /// Reply.
    pub const REPLY: u16 = 2;
}

view_type! {
    /// A view of an Ethernet/IPv4 ARP packet.
    ArpPacket
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Checks that the buffer holds the 28 bytes of an Ethernet/IPv4 ARP packet.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Hardware type.
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (an ethertype).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Whether the packet announces Ethernet hardware and IPv4 protocol addresses.
    #[inline]
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == ethertype::IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }

    /// Operation.
    #[inline]
    pub fn operation(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    #[inline]
    pub fn source_hardware_addr(&self) -> MacAddr {
        get_array(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    #[inline]
    pub fn source_protocol_addr(&self) -> [u8; 4] {
        get_array(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_hardware_addr(&self) -> MacAddr {
        get_array(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    #[inline]
    pub fn target_protocol_addr(&self) -> [u8; 4] {
        get_array(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes the fixed fields of an Ethernet/IPv4 packet (types and lengths).
    #[inline]
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        set_u16(b, field::HTYPE, HTYPE_ETHERNET);
        set_u16(b, field::PTYPE, ethertype::IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::PTYPE, v);
    }

    /// Sets the hardware address length.
    #[inline]
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Sets the protocol address length.
    #[inline]
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    /// Sets the operation.
    #[inline]
    pub fn set_operation(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::OPER, v);
    }

    /// Sets the sender hardware address.
    #[inline]
    pub fn set_source_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA..field::SPA].copy_from_slice(&a);
    }

    /// Sets the sender protocol address.
    #[inline]
    pub fn set_source_protocol_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SPA..field::THA].copy_from_slice(&a);
    }

    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA..field::TPA].copy_from_slice(&a);
    }

    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::TPA..field::END].copy_from_slice(&a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::poisoned;

    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // eth/ipv4, request
        0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1, // sender
        0, 0, 0, 0, 0, 0, 10, 0, 0, 2, // target
    ];

    #[test]
    fn reads_every_field_of_a_request() {
        let a = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert!(a.is_ethernet_ipv4());
        assert_eq!(a.operation(), op::REQUEST);
        assert_eq!(a.source_hardware_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(a.source_protocol_addr(), [10, 0, 0, 1]);
        assert_eq!(a.target_hardware_addr(), [0; 6]);
        assert_eq!(a.target_protocol_addr(), [10, 0, 0, 2]);
    }

    #[test]
    fn writes_every_byte_of_a_request() {
        let mut buf = poisoned(28);
        let mut a = ArpPacket::new_unchecked(&mut buf[..]);
        a.set_ethernet_ipv4();
        a.set_operation(op::REQUEST);
        a.set_source_hardware_addr([2, 0, 0, 0, 0, 1]);
        a.set_source_protocol_addr([10, 0, 0, 1]);
        a.set_target_hardware_addr([0; 6]);
        a.set_target_protocol_addr([10, 0, 0, 2]);
        assert_eq!(&buf[..], &REQUEST[..]);
    }

    #[test]
    fn tells_other_hardware_apart() {
        let mut buf = REQUEST;
        let mut a = ArpPacket::new_unchecked(&mut buf[..]);
        a.set_hardware_type(6);
        assert!(!a.is_ethernet_ipv4());
        a.set_hardware_type(1);
        a.set_protocol_len(16);
        assert!(!a.is_ethernet_ipv4());
    }

    #[test]
    fn rejects_truncated_packet() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
    }
}
