//! Zero-copy views of every header the switch parses or rewrites, the
//! Internet checksum arithmetic, and builders that make well-formed frames
//! for tests and benchmarks.
//!
//! Each header has a view `XxxPacket<T: AsRef<[u8]>>` (or `XxxHeader`) that
//! wraps a byte buffer starting at that header and reads its fields at fixed
//! offsets, in network byte order, returning host-order integers and
//! byte arrays for addresses. Setters exist when `T: AsMut<[u8]>`, so the
//! same type serves parsing (`&[u8]`) and in-place rewriting (`&mut [u8]`).
//! Field offsets live in each submodule's private `field` module.
//!
//! # Safety contract
//!
//! A view is built with `new_unchecked` (no check at all) or `new_checked`,
//! which runs `check_len`. **Once `check_len` has succeeded on a buffer, no
//! getter or setter of that view panics**, whatever the bytes say: every
//! variable length a getter uses (IPv4 IHL and total length, TCP data offset,
//! IPv6 payload length, extension header lengths, ND option lengths) is one
//! `check_len` validated against the buffer. Accessors on an unchecked view
//! may panic when the buffer is too short; the flow extractor never builds
//! one without checking the length itself first. `check_len` reports
//! [`Error::Truncated`] when the buffer ends before the header (or before the
//! length a header field announces) and [`Error::Malformed`] when a length
//! field contradicts itself (IPv4 IHL below 5, TCP data offset below 5,...).
//! Setters change only the bytes of their field; they never resize the buffer.
//!
//! Views do not check semantic validity (IP version, checksums, ARP
//! hardware type): that is the caller's decision, made through getters such
//! as `version()` and `verify_checksum()`.
//!
//! The views are shaped after smoltcp's `wire` module; unlike it there is no
//! `Repr` layer, because the switch never needs a decoded copy of a header:
//! the flow key is its decoded form (see [`crate::extract`]).

macro_rules! view_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buffer` without checking its length; accessors may
            /// panic if it is too short (see the module's safety contract).
            #[inline]
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps `buffer` after `check_len` succeeded on it.
            #[inline]
            pub fn new_checked(buffer: T) -> $crate::packet::Result<Self> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Gives the buffer back.
            #[inline]
            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// The whole underlying buffer.
            #[inline]
            pub fn as_bytes(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }
    };
}

pub mod arp;
pub mod builder;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod pbb;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use arp::ArpPacket;
pub use builder::FrameBuilder;
pub use ethernet::{EthernetFrame, LlcSnapHeader};
pub use icmpv4::Icmpv4Packet;
pub use icmpv6::{Icmpv6Packet, NdMessage, NdOption, NdOptionIter};
pub use ipv4::Ipv4Packet;
pub use ipv6::{
    Ipv6AuthHeader, Ipv6EspHeader, Ipv6ExtChain, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6Packet,
    Ipv6RoutingHeader,
};
pub use mpls::MplsHeader;
pub use pbb::PbbITag;
pub use sctp::SctpPacket;
pub use tcp::TcpPacket;
pub use udp::UdpPacket;
pub use vlan::VlanHeader;
pub use vxlan::VxlanHeader;

/// Why a buffer cannot be viewed as a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the header, or before the length it announces.
    #[error("buffer too short for the header")]
    Truncated,
    /// A length field is inconsistent (below the header's minimum, or
    /// larger than the enclosing length).
    #[error("header length fields are inconsistent")]
    Malformed,
}

/// Result of a view constructor or length check.
pub type Result<T> = core::result::Result<T, Error>;

/// A MAC address as its six wire bytes.
pub type MacAddr = [u8; 6];

/// Ethertypes the switch knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP (same layout as ARP).
    pub const RARP: u16 = 0x8035;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MCAST: u16 = 0x8848;
    /// IEEE 802.1ah provider backbone bridging I-TAG.
    pub const PBB: u16 = 0x88e7;
    /// Smallest value of the type/length field that is an ethertype; below
    /// it the field is an IEEE 802.3 length.
    pub const MIN: u16 = 0x0600;
    /// The ethertype the flow key records for an 802.3 frame without a
    /// SNAP ethertype (Open vSwitch's `FLOW_DL_TYPE_NONE`).
    pub const NONE: u16 = 0x05ff;

    /// Whether `t` is a VLAN tag protocol identifier (802.1Q or 802.1ad).
    #[inline]
    pub const fn is_vlan(t: u16) -> bool {
        t == VLAN || t == QINQ
    }

    /// Whether `t` announces an MPLS label stack.
    #[inline]
    pub const fn is_mpls(t: u16) -> bool {
        t == MPLS || t == MPLS_MCAST
    }
}

/// IP protocol numbers (IPv4 protocol, IPv6 next header) the switch knows.
pub mod ip_proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 fragment header.
    pub const IPV6_FRAG: u8 = 44;
    /// Encapsulating security payload.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 destination options.
    pub const IPV6_DSTOPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Reads a big-endian `u16` at `at` (panics if out of bounds; callers check lengths first).
#[inline(always)]
pub(crate) fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at`.
#[inline(always)]
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Copies `N` bytes at `at` into an array.
#[inline(always)]
pub(crate) fn get_array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// Writes a big-endian `u16` at `at`.
#[inline(always)]
pub(crate) fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`.
#[inline(always)]
pub(crate) fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The high byte of a `u16`.
#[inline(always)]
pub(crate) const fn hi(v: u16) -> u8 {
    v.to_be_bytes()[0]
}

#[cfg(test)]
pub(crate) mod testutil {
    /// A buffer of `n` bytes of 0xa5, so that a byte a constructor forgot
    /// to write shows up in a comparison with the expected bytes.
    pub fn poisoned(n: usize) -> Vec<u8> {
        vec![0xa5; n]
    }
}
