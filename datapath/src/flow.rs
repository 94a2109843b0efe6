//! The flow key: every header field a rule can match, in one fixed, word-aligned
//! layout, and the mask of the same shape.
//!
//! `FlowKey` is `repr(C)` without padding and a whole number of 64-bit words, so
//! that masking, hashing and comparison run word by word over `as_words()`
//! (the classifier, the megaflow cache and the exact-match cache all do).
//! Fields hold host-order integers; MAC and IPv6 addresses hold their wire bytes.
//!
//! Some storage is shared, as in Open vSwitch's `struct flow`, because the
//! prerequisites of OpenFlow make the uses exclusive:
//! - `ipv4_src`/`ipv4_dst` also hold the ARP SPA/TPA;
//! - `tp_src`/`tp_dst` hold the ICMPv4/ICMPv6 type and code (low 8 bits);
//! - `arp_sha`/`arp_tha` also hold the IPv6 ND source/target link-layer options.
//!
//! `vlan_tci` keeps the tag control information of the outer tag with the CFI
//! bit (0x1000) standing for "a tag is present"; that is exactly OpenFlow's
//! `OFPVID_PRESENT`, so `vlan_vid` reads as `vlan_tci & 0x1fff`.
//!
//! `FlowMask` has the same layout: a 1 bit means "this bit was examined".
//! A spurious 1 bit in a megaflow mask costs only cache efficiency; a missing
//! one is a correctness bug.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `OFPVID_PRESENT`: the bit of `vlan_vid` that says a tag is present.
pub const VLAN_PRESENT: u16 = 0x1000;
/// The VLAN id bits of a TCI.
pub const VLAN_VID_MASK: u16 = 0x0fff;
/// The priority bits of a TCI.
pub const VLAN_PCP_MASK: u16 = 0xe000;

/// Fragment state bits kept in `FlowKey::nw_frag`.
pub mod frag {
    /// The packet is a fragment (first or later).
    pub const ANY: u8 = 1;
    /// The packet is a fragment other than the first (no L4 header).
    pub const LATER: u8 = 2;
}

/// Tunnel flag bits kept in `FlowKey::tun_flags`.
pub mod tun_flags {
    /// The packet arrived through a tunnel; the `tun_*` fields are valid.
    pub const PRESENT: u16 = 1;
    /// The outer UDP checksum was (or should be) present.
    pub const CSUM: u16 = 2;
    /// The outer IPv4 header had DF set (or should have).
    pub const DONT_FRAGMENT: u16 = 4;
}

/// OpenFlow's `ipv6_exthdr` pseudo-field bits (`OFPIEH_*`).
pub mod ipv6_exthdr {
    /// "No next header" encountered.
    pub const NONEXT: u16 = 1 << 0;
    /// Encrypted Sec Payload header present.
    pub const ESP: u16 = 1 << 1;
    /// Authentication header present.
    pub const AUTH: u16 = 1 << 2;
    /// One or two destination-options headers present.
    pub const DEST: u16 = 1 << 3;
    /// Fragment header present.
    pub const FRAG: u16 = 1 << 4;
    /// Router header present.
    pub const ROUTER: u16 = 1 << 5;
    /// Hop-by-hop header present.
    pub const HOP: u16 = 1 << 6;
    /// Unexpected repeats encountered.
    pub const UNREP: u16 = 1 << 7;
    /// Unexpected sequencing encountered.
    pub const UNSEQ: u16 = 1 << 8;
}

/// Number of 64-bit words in a `FlowKey`.
pub const FLOW_WORDS: usize = 19;

/// Every matchable field of a packet plus its pipeline metadata.
///
/// Invariant: no padding; `size_of::<FlowKey>() == FLOW_WORDS * 8`.
#[repr(C, align(8))]
#[derive(
    Clone, Copy, Default, PartialEq, Eq, Hash, Debug, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct FlowKey {
    // word 0
    /// OpenFlow ingress port.
    pub in_port: u32,
    /// Physical ingress port (equal to `in_port` for ports of this switch).
    pub in_phy_port: u32,
    // word 1
    /// Pipeline metadata (`write_metadata`).
    pub metadata: u64,
    // word 2
    /// Tunnel id (VXLAN VNI for VXLAN ports).
    pub tunnel_id: u64,
    // word 3
    /// Outer IPv4 source of a received tunnel packet / to set on encap.
    pub tun_ipv4_src: u32,
    /// Outer IPv4 destination.
    pub tun_ipv4_dst: u32,
    // word 4
    /// Outer TOS.
    pub tun_tos: u8,
    /// Outer TTL.
    pub tun_ttl: u8,
    /// `tun_flags::*`.
    pub tun_flags: u16,
    /// ARP opcode.
    pub arp_op: u16,
    /// Outer UDP destination port of a tunnel packet.
    pub tun_tp_dst: u16,
    // words 5-6
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// Ethernet type after VLAN tags (and MPLS sees `0x8847`/`0x8848`).
    pub eth_type: u16,
    /// Outer VLAN TCI with `VLAN_PRESENT` set when a tag exists.
    pub vlan_tci: u16,
    // word 7
    /// Inner VLAN TCI of a double-tagged (802.1ad) frame, `VLAN_PRESENT` when present.
    pub vlan_tci_inner: u16,
    /// Ethertype (TPID) of the outer tag (0x8100 or 0x88a8), 0 without a tag.
    pub vlan_tpid: u16,
    /// Top MPLS label stack entry: label(20) | tc(3) | bos(1) | ttl(8).
    pub mpls_lse: u32,
    // word 8
    /// PBB I-SID (24 bits).
    pub pbb_isid: u32,
    /// IPv6 flow label (20 bits).
    pub ipv6_label: u32,
    // word 9
    /// IPv4 source, or ARP SPA.
    pub ipv4_src: u32,
    /// IPv4 destination, or ARP TPA.
    pub ipv4_dst: u32,
    // words 10-15
    /// IPv6 source.
    pub ipv6_src: [u8; 16],
    /// IPv6 destination.
    pub ipv6_dst: [u8; 16],
    /// IPv6 Neighbor Discovery target.
    pub nd_target: [u8; 16],
    // word 16
    /// IP protocol / IPv6 last next-header.
    pub nw_proto: u8,
    /// IP TOS / traffic class: DSCP(6) | ECN(2).
    pub nw_tos: u8,
    /// IP TTL / hop limit.
    pub nw_ttl: u8,
    /// `frag::*`.
    pub nw_frag: u8,
    /// TCP/UDP/SCTP source port, or ICMP type.
    pub tp_src: u16,
    /// TCP/UDP/SCTP destination port, or ICMP code.
    pub tp_dst: u16,
    // word 17
    /// ARP SHA, or ND source link-layer address.
    pub arp_sha: [u8; 6],
    /// TCP flags (12 bits).
    pub tcp_flags: u16,
    // word 18
    /// ARP THA, or ND target link-layer address.
    pub arp_tha: [u8; 6],
    /// `ipv6_exthdr::*`.
    pub ipv6_exthdr: u16,
}

const _: () = assert!(core::mem::size_of::<FlowKey>() == FLOW_WORDS * 8);

impl FlowKey {
    /// The key as 64-bit words (for masking and hashing).
    #[inline]
    pub fn as_words(&self) -> &[u64; FLOW_WORDS] {
        zerocopy::transmute_ref!(self)
    }

    /// The key as mutable 64-bit words.
    #[inline]
    pub fn as_words_mut(&mut self) -> &mut [u64; FLOW_WORDS] {
        zerocopy::transmute_mut!(self)
    }

    /// A key from 64-bit words.
    #[inline]
    pub fn from_words(words: [u64; FLOW_WORDS]) -> FlowKey {
        zerocopy::transmute!(words)
    }

    /// `self & mask`.
    #[inline]
    pub fn masked(&self, mask: &FlowMask) -> FlowKey {
        let mut out = *self;
        for (o, m) in out.as_words_mut().iter_mut().zip(mask.key.as_words()) {
            *o &= *m;
        }
        out
    }

    /// Whether `self & mask == other & mask`.
    #[inline]
    pub fn eq_masked(&self, other: &FlowKey, mask: &FlowMask) -> bool {
        let (a, b, m) = (self.as_words(), other.as_words(), mask.key.as_words());
        let mut diff = 0u64;
        for i in 0..FLOW_WORDS {
            diff |= (a[i] ^ b[i]) & m[i];
        }
        diff == 0
    }

    /// Whether a VLAN tag is present.
    #[inline]
    pub fn has_vlan(&self) -> bool {
        self.vlan_tci & VLAN_PRESENT != 0
    }

    /// Whether the packet is IPv4 (not ARP).
    #[inline]
    pub fn is_ipv4(&self) -> bool {
        self.eth_type == 0x0800
    }

    /// Whether the packet is IPv6.
    #[inline]
    pub fn is_ipv6(&self) -> bool {
        self.eth_type == 0x86dd
    }

    /// Whether the packet is IPv4 or IPv6.
    #[inline]
    pub fn is_ip(&self) -> bool {
        self.is_ipv4() || self.is_ipv6()
    }
}

/// A mask over a `FlowKey`: 1 bits are significant.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug)]
pub struct FlowMask {
    /// The mask bits, laid out as a key.
    pub key: FlowKey,
}

impl FlowMask {
    /// The mask that examines nothing.
    pub const fn wildcard() -> FlowMask {
        FlowMask {
            key: FlowKey {
                in_port: 0,
                in_phy_port: 0,
                metadata: 0,
                tunnel_id: 0,
                tun_ipv4_src: 0,
                tun_ipv4_dst: 0,
                tun_tos: 0,
                tun_ttl: 0,
                tun_flags: 0,
                arp_op: 0,
                tun_tp_dst: 0,
                eth_dst: [0; 6],
                eth_src: [0; 6],
                eth_type: 0,
                vlan_tci: 0,
                vlan_tci_inner: 0,
                vlan_tpid: 0,
                mpls_lse: 0,
                pbb_isid: 0,
                ipv6_label: 0,
                ipv4_src: 0,
                ipv4_dst: 0,
                ipv6_src: [0; 16],
                ipv6_dst: [0; 16],
                nd_target: [0; 16],
                nw_proto: 0,
                nw_tos: 0,
                nw_ttl: 0,
                nw_frag: 0,
                tp_src: 0,
                tp_dst: 0,
                arp_sha: [0; 6],
                tcp_flags: 0,
                arp_tha: [0; 6],
                ipv6_exthdr: 0,
            },
        }
    }

    /// The mask that examines every bit.
    pub fn exact() -> FlowMask {
        FlowMask {
            key: FlowKey::from_words([u64::MAX; FLOW_WORDS]),
        }
    }

    /// Adds every bit of `other` (union).
    #[inline]
    pub fn union_with(&mut self, other: &FlowMask) {
        for (a, b) in self.key.as_words_mut().iter_mut().zip(other.key.as_words()) {
            *a |= *b;
        }
    }

    /// Whether every bit of `self` is also set in `other`.
    #[inline]
    pub fn is_subset_of(&self, other: &FlowMask) -> bool {
        self.key
            .as_words()
            .iter()
            .zip(other.key.as_words())
            .all(|(a, b)| a & !b == 0)
    }

    /// Whether no bit is set.
    #[inline]
    pub fn is_wildcard(&self) -> bool {
        self.key.as_words().iter().all(|w| *w == 0)
    }

    /// Marks every bit of `field` as examined.
    #[inline]
    pub fn set_exact(&mut self, field: Field) {
        field.set(&mut self.key, field.max_value());
    }

    /// Marks the bits of `mask` of `field` as examined (union with what is there).
    #[inline]
    pub fn or_field(&mut self, field: Field, mask: u128) {
        let cur = field.get(&self.key);
        field.set(&mut self.key, cur | mask);
    }
}

/// A (key, mask) pair with `key` already masked: a rule's match.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug)]
pub struct Match {
    /// The values; bits outside `mask` are zero.
    pub key: FlowKey,
    /// The significant bits.
    pub mask: FlowMask,
}

impl Match {
    /// The match that matches every packet.
    pub fn catch_all() -> Match {
        Match::default()
    }

    /// Builds a match, zeroing `key` bits outside `mask`.
    pub fn new(key: FlowKey, mask: FlowMask) -> Match {
        Match {
            key: key.masked(&mask),
            mask,
        }
    }

    /// Whether `packet` matches.
    #[inline]
    pub fn matches(&self, packet: &FlowKey) -> bool {
        packet.eq_masked(&self.key, &self.mask)
    }

    /// Sets `field` to `value` under `mask` (both in the field's own width).
    pub fn set_masked(&mut self, field: Field, value: u128, mask: u128) {
        let m = mask & field.max_value();
        field.set(&mut self.mask.key, m);
        field.set(&mut self.key, value & m);
    }

    /// Sets `field` to exactly `value`.
    pub fn set(&mut self, field: Field, value: u128) {
        self.set_masked(field, value, field.max_value());
    }

    /// The (value, mask) of `field`.
    pub fn get(&self, field: Field) -> (u128, u128) {
        (field.get(&self.key), field.get(&self.mask.key))
    }
}

macro_rules! fields {
    ($( $(#[$doc:meta])* $name:ident = $oxm:expr, $bits:expr, $maskable:expr ;)*) => {
        /// A matchable field, numbered as OpenFlow 1.3's OXM basic class
        /// (`OFPXMC_OPENFLOW_BASIC`) numbers them; `TunIpv4Src` and later are
        /// switch extensions beyond that class.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field {
            $( $(#[$doc])* $name = $oxm, )*
        }

        impl Field {
            /// Every field, in OXM order.
            pub const ALL: &'static [Field] = &[$(Field::$name,)*];

            /// The field's width in bits.
            pub const fn bits(self) -> u32 {
                match self { $(Field::$name => $bits,)* }
            }

            /// Whether OpenFlow 1.3 allows an arbitrary mask for it.
            pub const fn maskable(self) -> bool {
                match self { $(Field::$name => $maskable,)* }
            }
        }
    };
}

fields! {
    /// Switch input port.
    InPort = 0, 32, false;
    /// Physical input port.
    InPhyPort = 1, 32, false;
    /// Metadata passed between tables.
    Metadata = 2, 64, true;
    /// Ethernet destination address.
    EthDst = 3, 48, true;
    /// Ethernet source address.
    EthSrc = 4, 48, true;
    /// Ethernet frame type.
    EthType = 5, 16, false;
    /// VLAN id with `OFPVID_PRESENT` (13 bits).
    VlanVid = 6, 13, true;
    /// VLAN priority.
    VlanPcp = 7, 3, false;
    /// IP DSCP (6 bits of ToS).
    IpDscp = 8, 6, false;
    /// IP ECN (2 bits of ToS).
    IpEcn = 9, 2, false;
    /// IP protocol.
    IpProto = 10, 8, false;
    /// IPv4 source address.
    Ipv4Src = 11, 32, true;
    /// IPv4 destination address.
    Ipv4Dst = 12, 32, true;
    /// TCP source port.
    TcpSrc = 13, 16, false;
    /// TCP destination port.
    TcpDst = 14, 16, false;
    /// UDP source port.
    UdpSrc = 15, 16, false;
    /// UDP destination port.
    UdpDst = 16, 16, false;
    /// SCTP source port.
    SctpSrc = 17, 16, false;
    /// SCTP destination port.
    SctpDst = 18, 16, false;
    /// ICMP type.
    Icmpv4Type = 19, 8, false;
    /// ICMP code.
    Icmpv4Code = 20, 8, false;
    /// ARP opcode.
    ArpOp = 21, 16, false;
    /// ARP source IPv4 address.
    ArpSpa = 22, 32, true;
    /// ARP target IPv4 address.
    ArpTpa = 23, 32, true;
    /// ARP source hardware address.
    ArpSha = 24, 48, true;
    /// ARP target hardware address.
    ArpTha = 25, 48, true;
    /// IPv6 source address.
    Ipv6Src = 26, 128, true;
    /// IPv6 destination address.
    Ipv6Dst = 27, 128, true;
    /// IPv6 flow label.
    Ipv6Flabel = 28, 20, true;
    /// ICMPv6 type.
    Icmpv6Type = 29, 8, false;
    /// ICMPv6 code.
    Icmpv6Code = 30, 8, false;
    /// Target address for ND.
    Ipv6NdTarget = 31, 128, false;
    /// Source link-layer address for ND.
    Ipv6NdSll = 32, 48, false;
    /// Target link-layer address for ND.
    Ipv6NdTll = 33, 48, false;
    /// MPLS label.
    MplsLabel = 34, 20, false;
    /// MPLS TC.
    MplsTc = 35, 3, false;
    /// MPLS BoS bit.
    MplsBos = 36, 1, false;
    /// PBB I-SID.
    PbbIsid = 37, 24, true;
    /// Logical port metadata (tunnel id).
    TunnelId = 38, 64, true;
    /// IPv6 extension header pseudo-field.
    Ipv6Exthdr = 39, 9, true;
    /// Outer IPv4 source of a tunnel (extension).
    TunIpv4Src = 64, 32, true;
    /// Outer IPv4 destination of a tunnel (extension).
    TunIpv4Dst = 65, 32, true;
    /// TCP flags (extension, OpenFlow 1.5's `OFPXMT_OFB_TCP_FLAGS`).
    TcpFlags = 66, 12, true;
    /// IP TTL / hop limit (extension, used by `dec_nw_ttl` translation).
    NwTtl = 67, 8, false;
    /// Fragment state (extension).
    NwFrag = 68, 2, true;
    /// MPLS TTL (extension, used by `dec_mpls_ttl` translation).
    MplsTtl = 69, 8, false;
}

#[inline]
fn mac_get(m: &[u8; 6]) -> u128 {
    let mut v = 0u128;
    for b in m {
        v = (v << 8) | u128::from(*b);
    }
    v
}

#[inline]
fn mac_set(m: &mut [u8; 6], v: u128) {
    let bytes = v.to_be_bytes();
    m.copy_from_slice(&bytes[10..16]);
}

// The setters below truncate on purpose: `value` is limited to the field's
// width first, so the casts keep every significant bit.
#[allow(clippy::cast_possible_truncation)]
impl Field {
    /// The all-ones value of the field's width.
    pub const fn max_value(self) -> u128 {
        let b = self.bits();
        if b == 128 {
            u128::MAX
        } else {
            (1u128 << b) - 1
        }
    }

    /// The OXM field number (basic class) or extension number.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The field with this number.
    pub fn from_number(n: u8) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.number() == n)
    }

    /// Whether OpenFlow 1.3 defines it (OXM basic class).
    pub const fn is_oxm_basic(self) -> bool {
        (self as u8) < 40
    }

    /// Reads the field from `key` as a host-order integer of its width.
    pub fn get(self, key: &FlowKey) -> u128 {
        use Field::*;
        match self {
            InPort => key.in_port.into(),
            InPhyPort => key.in_phy_port.into(),
            Metadata => key.metadata.into(),
            EthDst => mac_get(&key.eth_dst),
            EthSrc => mac_get(&key.eth_src),
            EthType => key.eth_type.into(),
            VlanVid => (key.vlan_tci & (VLAN_PRESENT | VLAN_VID_MASK)).into(),
            VlanPcp => (key.vlan_tci >> 13).into(),
            IpDscp => (key.nw_tos >> 2).into(),
            IpEcn => (key.nw_tos & 3).into(),
            IpProto => key.nw_proto.into(),
            Ipv4Src | ArpSpa => key.ipv4_src.into(),
            Ipv4Dst | ArpTpa => key.ipv4_dst.into(),
            TcpSrc | UdpSrc | SctpSrc => key.tp_src.into(),
            TcpDst | UdpDst | SctpDst => key.tp_dst.into(),
            Icmpv4Type | Icmpv6Type => (key.tp_src & 0xff).into(),
            Icmpv4Code | Icmpv6Code => (key.tp_dst & 0xff).into(),
            ArpOp => key.arp_op.into(),
            ArpSha | Ipv6NdSll => mac_get(&key.arp_sha),
            ArpTha | Ipv6NdTll => mac_get(&key.arp_tha),
            Ipv6Src => u128::from_be_bytes(key.ipv6_src),
            Ipv6Dst => u128::from_be_bytes(key.ipv6_dst),
            Ipv6Flabel => (key.ipv6_label & 0xf_ffff).into(),
            Ipv6NdTarget => u128::from_be_bytes(key.nd_target),
            MplsLabel => (key.mpls_lse >> 12).into(),
            MplsTc => ((key.mpls_lse >> 9) & 7).into(),
            MplsBos => ((key.mpls_lse >> 8) & 1).into(),
            MplsTtl => (key.mpls_lse & 0xff).into(),
            PbbIsid => (key.pbb_isid & 0xff_ffff).into(),
            TunnelId => key.tunnel_id.into(),
            Ipv6Exthdr => (key.ipv6_exthdr & 0x1ff).into(),
            TunIpv4Src => key.tun_ipv4_src.into(),
            TunIpv4Dst => key.tun_ipv4_dst.into(),
            TcpFlags => (key.tcp_flags & 0xfff).into(),
            NwTtl => key.nw_ttl.into(),
            NwFrag => (key.nw_frag & 3).into(),
        }
    }

    /// Writes `value` (limited to the field's width) into `key`, leaving
    /// the other bits of shared storage alone.
    pub fn set(self, key: &mut FlowKey, value: u128) {
        use Field::*;
        let v = value & self.max_value();
        match self {
            InPort => key.in_port = v as u32,
            InPhyPort => key.in_phy_port = v as u32,
            Metadata => key.metadata = v as u64,
            EthDst => mac_set(&mut key.eth_dst, v),
            EthSrc => mac_set(&mut key.eth_src, v),
            EthType => key.eth_type = v as u16,
            VlanVid => key.vlan_tci = (key.vlan_tci & VLAN_PCP_MASK) | v as u16,
            VlanPcp => key.vlan_tci = (key.vlan_tci & !VLAN_PCP_MASK) | ((v as u16) << 13),
            IpDscp => key.nw_tos = (key.nw_tos & 3) | ((v as u8) << 2),
            IpEcn => key.nw_tos = (key.nw_tos & !3) | v as u8,
            IpProto => key.nw_proto = v as u8,
            Ipv4Src | ArpSpa => key.ipv4_src = v as u32,
            Ipv4Dst | ArpTpa => key.ipv4_dst = v as u32,
            TcpSrc | UdpSrc | SctpSrc => key.tp_src = v as u16,
            TcpDst | UdpDst | SctpDst => key.tp_dst = v as u16,
            Icmpv4Type | Icmpv6Type => key.tp_src = (key.tp_src & 0xff00) | v as u16,
            Icmpv4Code | Icmpv6Code => key.tp_dst = (key.tp_dst & 0xff00) | v as u16,
            ArpOp => key.arp_op = v as u16,
            ArpSha | Ipv6NdSll => mac_set(&mut key.arp_sha, v),
            ArpTha | Ipv6NdTll => mac_set(&mut key.arp_tha, v),
            Ipv6Src => key.ipv6_src = v.to_be_bytes(),
            Ipv6Dst => key.ipv6_dst = v.to_be_bytes(),
            Ipv6Flabel => key.ipv6_label = (key.ipv6_label & !0xf_ffff) | v as u32,
            Ipv6NdTarget => key.nd_target = v.to_be_bytes(),
            MplsLabel => key.mpls_lse = (key.mpls_lse & 0xfff) | ((v as u32) << 12),
            MplsTc => key.mpls_lse = (key.mpls_lse & !(7 << 9)) | ((v as u32) << 9),
            MplsBos => key.mpls_lse = (key.mpls_lse & !(1 << 8)) | ((v as u32) << 8),
            MplsTtl => key.mpls_lse = (key.mpls_lse & !0xff) | v as u32,
            PbbIsid => key.pbb_isid = (key.pbb_isid & !0xff_ffff) | v as u32,
            TunnelId => key.tunnel_id = v as u64,
            Ipv6Exthdr => key.ipv6_exthdr = (key.ipv6_exthdr & !0x1ff) | v as u16,
            TunIpv4Src => key.tun_ipv4_src = v as u32,
            TunIpv4Dst => key.tun_ipv4_dst = v as u32,
            TcpFlags => key.tcp_flags = (key.tcp_flags & !0xfff) | v as u16,
            NwTtl => key.nw_ttl = v as u8,
            NwFrag => key.nw_frag = (key.nw_frag & !3) | v as u8,
        }
    }

    /// The OpenFlow 1.3 prerequisites of the field: each entry is a
    /// (field, value) that a match must pin exactly (one alternative list
    /// per conjunct; any value of a list satisfies it). Empty when none.
    pub fn prerequisites(self) -> &'static [(Field, &'static [u128])] {
        use Field::*;
        const IP: &[u128] = &[0x0800, 0x86dd];
        const V4: &[u128] = &[0x0800];
        const V6: &[u128] = &[0x86dd];
        const ARP: &[u128] = &[0x0806];
        const MPLS: &[u128] = &[0x8847, 0x8848];
        const PBB: &[u128] = &[0x88e7];
        match self {
            IpDscp | IpEcn | IpProto => &[(EthType, IP)],
            Ipv4Src | Ipv4Dst => &[(EthType, V4)],
            TcpSrc | TcpDst => &[(EthType, IP), (IpProto, &[6])],
            UdpSrc | UdpDst => &[(EthType, IP), (IpProto, &[17])],
            SctpSrc | SctpDst => &[(EthType, IP), (IpProto, &[132])],
            Icmpv4Type | Icmpv4Code => &[(EthType, V4), (IpProto, &[1])],
            ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => &[(EthType, ARP)],
            Ipv6Src | Ipv6Dst | Ipv6Flabel | Ipv6Exthdr => &[(EthType, V6)],
            Icmpv6Type | Icmpv6Code => &[(EthType, V6), (IpProto, &[58])],
            Ipv6NdTarget => &[(EthType, V6), (IpProto, &[58]), (Icmpv6Type, &[135, 136])],
            Ipv6NdSll => &[(EthType, V6), (IpProto, &[58]), (Icmpv6Type, &[135])],
            Ipv6NdTll => &[(EthType, V6), (IpProto, &[58]), (Icmpv6Type, &[136])],
            MplsLabel | MplsTc | MplsBos => &[(EthType, MPLS)],
            PbbIsid => &[(EthType, PBB)],
            VlanPcp => &[(VlanVid, &[])],
            TcpFlags => &[(EthType, IP), (IpProto, &[6])],
            _ => &[],
        }
    }
}

/// Whether the prerequisites of each of `fields` (the fields a match names)
/// are met by `m` (OpenFlow 1.3.5 section 7.2.3.6). `VlanPcp` requires
/// `VlanVid` to pin `OFPVID_PRESENT`. The fields are named explicitly because
/// some share storage in the key (a TCP port reads like an ICMP type).
pub fn prerequisites_met(fields: &[Field], m: &Match) -> bool {
    fields.iter().all(|&f| {
        f.prerequisites().iter().all(|&(pf, allowed)| {
            let (v, pm) = m.get(pf);
            if pf == Field::VlanVid && allowed.is_empty() {
                return pm & u128::from(VLAN_PRESENT) != 0 && v & u128::from(VLAN_PRESENT) != 0;
            }
            pm == pf.max_value() && allowed.contains(&v)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_through_the_key_without_touching_its_neighbours() {
        for &f in Field::ALL {
            let mut k = FlowKey::default();
            f.set(&mut k, u128::MAX);
            assert_eq!(f.get(&k), f.max_value(), "{f:?}");
            let mut m = FlowMask::wildcard();
            m.set_exact(f);
            assert_eq!(k.masked(&m), k, "{f:?} wrote outside its own bits");
            f.set(&mut k, 0);
            assert_eq!(f.get(&k), 0, "{f:?}");
        }
    }

    #[test]
    fn vlan_vid_reads_present_bit_like_openflow() {
        let k = FlowKey {
            vlan_tci: 0xa000 | VLAN_PRESENT | 100,
            ..FlowKey::default()
        };
        assert_eq!(Field::VlanVid.get(&k), 0x1000 | 100);
        assert_eq!(Field::VlanPcp.get(&k), 5);
    }

    #[test]
    fn tcp_dst_without_ip_proto_fails_prerequisites() {
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set(Field::TcpDst, 80);
        let named = [Field::EthType, Field::TcpDst, Field::IpProto];
        assert!(!prerequisites_met(&named, &m));
        m.set(Field::IpProto, 6);
        assert!(prerequisites_met(&named, &m));
    }

    #[test]
    fn masked_equality_ignores_bits_outside_mask() {
        let mut a = FlowKey::default();
        let mut b = FlowKey::default();
        a.ipv4_dst = 0xc612_0001;
        b.ipv4_dst = 0xc612_00ff;
        let mut m = FlowMask::wildcard();
        m.or_field(Field::Ipv4Dst, 0xffff_ff00);
        assert!(a.eq_masked(&b, &m));
        m.set_exact(Field::Ipv4Dst);
        assert!(!a.eq_masked(&b, &m));
    }
}
