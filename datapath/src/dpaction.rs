//! Datapath actions: the flat, already-decided list that translation produces
//! and that execution runs on a packet (Open vSwitch's third form of actions,
//! after wire actions and the version-independent pipeline model).
//!
//! Everything a pipeline walk decided is resolved here: tables, goto, groups
//! (select buckets chosen by the flow hash, which is why select groups put the
//! hashed fields in the megaflow mask), action-set ordering and field values.
//! Set actions carry the final values for the packet's flow, so one list is
//! valid for every packet of its megaflow. A list of actions is cached in the
//! megaflow cache, so this type is cheap to clone and compare.

use crate::buffer::TunnelMeta;
use crate::flow::Field;
use smallvec::SmallVec;

/// Why a packet goes to the controller (OpenFlow `ofp_packet_in_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketInReason {
    /// No matching flow (table-miss flow entry).
    NoMatch,
    /// Action explicitly output to the controller.
    Action,
    /// Packet has an invalid TTL.
    InvalidTtl,
}

/// What a `ToController` action tells the channel about the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ControllerMeta {
    /// Why.
    pub reason: PacketInReason,
    /// Bytes of the packet to send (`OFPCML_NO_BUFFER` = 0xffff means all, unbuffered).
    pub max_len: u16,
    /// Table of the rule that sent it.
    pub table_id: u8,
    /// Cookie of that rule (all ones when none).
    pub cookie: u64,
    /// Pipeline metadata at that point.
    pub metadata: u64,
    /// Tunnel id at that point.
    pub tunnel_id: u64,
    /// The packet's `in_port`.
    pub in_port: u32,
}

/// One datapath action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DpAction {
    /// Send a copy of the packet (as modified so far) out of a datapath port.
    Output(u32),
    /// Hand a copy of the packet to the controller channel.
    ToController(ControllerMeta),
    /// Set the bits of `mask` of `field` to `value` in the packet headers
    /// (checksums updated incrementally).
    SetField {
        /// Field to rewrite.
        field: Field,
        /// New value (field width).
        value: u128,
        /// Bits to rewrite (field width); all ones for a plain set.
        mask: u128,
    },
    /// Push a VLAN tag with this TPID and TCI (the CFI/present bit is not written to the wire).
    PushVlan {
        /// 0x8100 or 0x88a8.
        tpid: u16,
        /// Tag control information.
        tci: u16,
    },
    /// Remove the outer VLAN tag.
    PopVlan,
    /// Push an MPLS label stack entry; `ethertype` is 0x8847 or 0x8848.
    PushMpls {
        /// New ethertype.
        ethertype: u16,
        /// Label stack entry (label, tc, bos, ttl).
        lse: u32,
    },
    /// Pop the top MPLS label; the frame's ethertype becomes `ethertype`.
    PopMpls {
        /// Ethertype of what follows.
        ethertype: u16,
    },
    /// Push a PBB (802.1ah) I-TAG service instance.
    PushPbb {
        /// I-SID to put in the new tag.
        isid: u32,
    },
    /// Pop the PBB encapsulation.
    PopPbb,
    /// Copy TTL from the next-to-outermost to the outermost header.
    CopyTtlOut,
    /// Copy TTL from the outermost to the next-to-outermost header.
    CopyTtlIn,
    /// Select the egress queue for following outputs.
    SetQueue(u32),
    /// Apply a meter; the packet stops here when a band drops it.
    Meter(u32),
    /// Encapsulate in outer Ethernet/IPv4/UDP/VXLAN using the tunnel
    /// metadata, before outputting to the underlay port.
    VxlanEncap {
        /// Outer header values.
        tunnel: TunnelMeta,
        /// Outer Ethernet source.
        eth_src: [u8; 6],
        /// Outer Ethernet destination.
        eth_dst: [u8; 6],
        /// Write an outer UDP checksum.
        udp_csum: bool,
    },
    /// Remove an outer VXLAN encapsulation, filling the tunnel metadata.
    VxlanDecap,
}

/// A translated action list. Empty means drop.
pub type DpActions = SmallVec<[DpAction; 4]>;

impl DpAction {
    /// Whether this action sends the packet somewhere.
    pub fn is_output(&self) -> bool {
        matches!(self, DpAction::Output(_) | DpAction::ToController(_))
    }
}
