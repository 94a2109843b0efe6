//! Table features as `ovs-ofctl` 3.1 prints them (`dump-table-features`
//! and the TABLE_FEATURES multipart reply in `ofp-print`).
//!
//! Open vSwitch does not print a table-features record as it came off the
//! wire. It first folds it into its own model: instructions, actions and
//! fields become bitmaps over its own registries (ids it does not know are
//! dropped), the miss and non-miss property sets are compared, and each
//! table is compared with the one before it. The output then says only what
//! changed: `(same instructions)`, `(same actions)`, `(same matching)`, a
//! whole table as `ditto`, a run of such tables as `tables A...B: ditto`.
//! Field lists use Open vSwitch's field names in its registry order, and
//! runs of names are folded: names sharing a `prefix_` become
//! `prefix_{a,b}` (recursively), and three or more consecutive numbered
//! names become `reg0...reg15`.
//!
//! So this module is shaped the same way: [`OvsTableFeatures::from_wire`]
//! builds the folded model, [`TableFeaturesPrinter`] carries the
//! previous-table and ditto state across records (and across the messages
//! of one reply), and [`FIELDS`] is Open vSwitch's field registry as seen
//! through OpenFlow 1.3: each field's name, in registry order, with the
//! OXM/NXM ids (class, field, experimenter, payload width) that decode to
//! it. A width of 0 accepts any width (the variable-length tunnel
//! metadata fields).

use controller_proto::table::{TableFeatureProp, TableFeatures, TableOxmId, TypeLenId};

/// One OXM/NXM id that Open vSwitch decodes to a field.
#[derive(Clone, Copy, Debug)]
pub struct OxmKey {
    /// OXM class (0x0000/0x0001 NXM, 0x8000 basic, 0xffff experimenter).
    pub class: u16,
    /// Field number within the class.
    pub field: u8,
    /// Experimenter ID (0 unless `class` is 0xffff).
    pub experimenter: u32,
    /// Payload width in bytes; 0 accepts any width.
    pub width: u8,
}

/// One field of Open vSwitch's registry.
#[derive(Clone, Copy, Debug)]
pub struct OvsField {
    /// The name `ovs-ofctl` prints.
    pub name: &'static str,
    /// The ids that decode to it.
    pub ids: &'static [OxmKey],
}

const fn h(class: u16, field: u8, experimenter: u32, width: u8) -> OxmKey {
    OxmKey {
        class,
        field,
        experimenter,
        width,
    }
}

#[allow(non_snake_case)]
const fn F(name: &'static str, ids: &'static [OxmKey]) -> OvsField {
    OvsField { name, ids }
}

/// Open vSwitch's fields in registry order (the order it prints them in).
pub const FIELDS: &[OvsField] = &[
    F("dp_hash", &[h(0x0001, 35, 0x00000000, 4)]),
    F("recirc_id", &[h(0x0001, 36, 0x00000000, 4)]),
    F("packet_type", &[h(0x8000, 44, 0x00000000, 4)]),
    F("conj_id", &[h(0x0001, 37, 0x00000000, 4)]),
    F(
        "tun_id",
        &[h(0x0001, 16, 0x00000000, 8), h(0x8000, 38, 0x00000000, 8)],
    ),
    F("tun_src", &[h(0x0001, 31, 0x00000000, 4)]),
    F("tun_dst", &[h(0x0001, 32, 0x00000000, 4)]),
    F("tun_ipv6_src", &[h(0x0001, 109, 0x00000000, 16)]),
    F("tun_ipv6_dst", &[h(0x0001, 110, 0x00000000, 16)]),
    F("tun_flags", &[h(0x0001, 104, 0x00000000, 2)]),
    F("tun_gbp_id", &[h(0x0001, 38, 0x00000000, 2)]),
    F("tun_gbp_flags", &[h(0x0001, 39, 0x00000000, 1)]),
    F("tun_erspan_idx", &[h(0xffff, 11, 0x00002320, 4)]),
    F("tun_erspan_ver", &[h(0xffff, 12, 0x00002320, 1)]),
    F("tun_erspan_dir", &[h(0xffff, 13, 0x00002320, 1)]),
    F("tun_erspan_hwid", &[h(0xffff, 14, 0x00002320, 1)]),
    F("tun_gtpu_flags", &[h(0xffff, 15, 0x00002320, 1)]),
    F("tun_gtpu_msgtype", &[h(0xffff, 16, 0x00002320, 1)]),
    F("tun_metadata0", &[h(0x0001, 40, 0x00000000, 0)]),
    F("tun_metadata1", &[h(0x0001, 41, 0x00000000, 0)]),
    F("tun_metadata2", &[h(0x0001, 42, 0x00000000, 0)]),
    F("tun_metadata3", &[h(0x0001, 43, 0x00000000, 0)]),
    F("tun_metadata4", &[h(0x0001, 44, 0x00000000, 0)]),
    F("tun_metadata5", &[h(0x0001, 45, 0x00000000, 0)]),
    F("tun_metadata6", &[h(0x0001, 46, 0x00000000, 0)]),
    F("tun_metadata7", &[h(0x0001, 47, 0x00000000, 0)]),
    F("tun_metadata8", &[h(0x0001, 48, 0x00000000, 0)]),
    F("tun_metadata9", &[h(0x0001, 49, 0x00000000, 0)]),
    F("tun_metadata10", &[h(0x0001, 50, 0x00000000, 0)]),
    F("tun_metadata11", &[h(0x0001, 51, 0x00000000, 0)]),
    F("tun_metadata12", &[h(0x0001, 52, 0x00000000, 0)]),
    F("tun_metadata13", &[h(0x0001, 53, 0x00000000, 0)]),
    F("tun_metadata14", &[h(0x0001, 54, 0x00000000, 0)]),
    F("tun_metadata15", &[h(0x0001, 55, 0x00000000, 0)]),
    F("tun_metadata16", &[h(0x0001, 56, 0x00000000, 0)]),
    F("tun_metadata17", &[h(0x0001, 57, 0x00000000, 0)]),
    F("tun_metadata18", &[h(0x0001, 58, 0x00000000, 0)]),
    F("tun_metadata19", &[h(0x0001, 59, 0x00000000, 0)]),
    F("tun_metadata20", &[h(0x0001, 60, 0x00000000, 0)]),
    F("tun_metadata21", &[h(0x0001, 61, 0x00000000, 0)]),
    F("tun_metadata22", &[h(0x0001, 62, 0x00000000, 0)]),
    F("tun_metadata23", &[h(0x0001, 63, 0x00000000, 0)]),
    F("tun_metadata24", &[h(0x0001, 64, 0x00000000, 0)]),
    F("tun_metadata25", &[h(0x0001, 65, 0x00000000, 0)]),
    F("tun_metadata26", &[h(0x0001, 66, 0x00000000, 0)]),
    F("tun_metadata27", &[h(0x0001, 67, 0x00000000, 0)]),
    F("tun_metadata28", &[h(0x0001, 68, 0x00000000, 0)]),
    F("tun_metadata29", &[h(0x0001, 69, 0x00000000, 0)]),
    F("tun_metadata30", &[h(0x0001, 70, 0x00000000, 0)]),
    F("tun_metadata31", &[h(0x0001, 71, 0x00000000, 0)]),
    F("tun_metadata32", &[h(0x0001, 72, 0x00000000, 0)]),
    F("tun_metadata33", &[h(0x0001, 73, 0x00000000, 0)]),
    F("tun_metadata34", &[h(0x0001, 74, 0x00000000, 0)]),
    F("tun_metadata35", &[h(0x0001, 75, 0x00000000, 0)]),
    F("tun_metadata36", &[h(0x0001, 76, 0x00000000, 0)]),
    F("tun_metadata37", &[h(0x0001, 77, 0x00000000, 0)]),
    F("tun_metadata38", &[h(0x0001, 78, 0x00000000, 0)]),
    F("tun_metadata39", &[h(0x0001, 79, 0x00000000, 0)]),
    F("tun_metadata40", &[h(0x0001, 80, 0x00000000, 0)]),
    F("tun_metadata41", &[h(0x0001, 81, 0x00000000, 0)]),
    F("tun_metadata42", &[h(0x0001, 82, 0x00000000, 0)]),
    F("tun_metadata43", &[h(0x0001, 83, 0x00000000, 0)]),
    F("tun_metadata44", &[h(0x0001, 84, 0x00000000, 0)]),
    F("tun_metadata45", &[h(0x0001, 85, 0x00000000, 0)]),
    F("tun_metadata46", &[h(0x0001, 86, 0x00000000, 0)]),
    F("tun_metadata47", &[h(0x0001, 87, 0x00000000, 0)]),
    F("tun_metadata48", &[h(0x0001, 88, 0x00000000, 0)]),
    F("tun_metadata49", &[h(0x0001, 89, 0x00000000, 0)]),
    F("tun_metadata50", &[h(0x0001, 90, 0x00000000, 0)]),
    F("tun_metadata51", &[h(0x0001, 91, 0x00000000, 0)]),
    F("tun_metadata52", &[h(0x0001, 92, 0x00000000, 0)]),
    F("tun_metadata53", &[h(0x0001, 93, 0x00000000, 0)]),
    F("tun_metadata54", &[h(0x0001, 94, 0x00000000, 0)]),
    F("tun_metadata55", &[h(0x0001, 95, 0x00000000, 0)]),
    F("tun_metadata56", &[h(0x0001, 96, 0x00000000, 0)]),
    F("tun_metadata57", &[h(0x0001, 97, 0x00000000, 0)]),
    F("tun_metadata58", &[h(0x0001, 98, 0x00000000, 0)]),
    F("tun_metadata59", &[h(0x0001, 99, 0x00000000, 0)]),
    F("tun_metadata60", &[h(0x0001, 100, 0x00000000, 0)]),
    F("tun_metadata61", &[h(0x0001, 101, 0x00000000, 0)]),
    F("tun_metadata62", &[h(0x0001, 102, 0x00000000, 0)]),
    F("tun_metadata63", &[h(0x0001, 103, 0x00000000, 0)]),
    F("metadata", &[h(0x8000, 2, 0x00000000, 8)]),
    F("in_port", &[h(0x0000, 0, 0x00000000, 2)]),
    F("in_port_oxm", &[h(0x8000, 0, 0x00000000, 4)]),
    F(
        "actset_output",
        &[h(0x8000, 43, 0x00000000, 4), h(0xffff, 43, 0x4f4e4600, 4)],
    ),
    F("pkt_mark", &[h(0x0001, 33, 0x00000000, 4)]),
    F("ct_state", &[h(0x0001, 105, 0x00000000, 4)]),
    F("ct_zone", &[h(0x0001, 106, 0x00000000, 2)]),
    F("ct_mark", &[h(0x0001, 107, 0x00000000, 4)]),
    F("ct_label", &[h(0x0001, 108, 0x00000000, 16)]),
    F("ct_nw_proto", &[h(0x0001, 119, 0x00000000, 1)]),
    F("ct_nw_src", &[h(0x0001, 120, 0x00000000, 4)]),
    F("ct_nw_dst", &[h(0x0001, 121, 0x00000000, 4)]),
    F("ct_ipv6_src", &[h(0x0001, 122, 0x00000000, 16)]),
    F("ct_ipv6_dst", &[h(0x0001, 123, 0x00000000, 16)]),
    F("ct_tp_src", &[h(0x0001, 124, 0x00000000, 2)]),
    F("ct_tp_dst", &[h(0x0001, 125, 0x00000000, 2)]),
    F("reg0", &[h(0x0001, 0, 0x00000000, 4)]),
    F("reg1", &[h(0x0001, 1, 0x00000000, 4)]),
    F("reg2", &[h(0x0001, 2, 0x00000000, 4)]),
    F("reg3", &[h(0x0001, 3, 0x00000000, 4)]),
    F("reg4", &[h(0x0001, 4, 0x00000000, 4)]),
    F("reg5", &[h(0x0001, 5, 0x00000000, 4)]),
    F("reg6", &[h(0x0001, 6, 0x00000000, 4)]),
    F("reg7", &[h(0x0001, 7, 0x00000000, 4)]),
    F("reg8", &[h(0x0001, 8, 0x00000000, 4)]),
    F("reg9", &[h(0x0001, 9, 0x00000000, 4)]),
    F("reg10", &[h(0x0001, 10, 0x00000000, 4)]),
    F("reg11", &[h(0x0001, 11, 0x00000000, 4)]),
    F("reg12", &[h(0x0001, 12, 0x00000000, 4)]),
    F("reg13", &[h(0x0001, 13, 0x00000000, 4)]),
    F("reg14", &[h(0x0001, 14, 0x00000000, 4)]),
    F("reg15", &[h(0x0001, 15, 0x00000000, 4)]),
    F("xreg0", &[h(0x8001, 0, 0x00000000, 8)]),
    F("xreg1", &[h(0x8001, 1, 0x00000000, 8)]),
    F("xreg2", &[h(0x8001, 2, 0x00000000, 8)]),
    F("xreg3", &[h(0x8001, 3, 0x00000000, 8)]),
    F("xreg4", &[h(0x8001, 4, 0x00000000, 8)]),
    F("xreg5", &[h(0x8001, 5, 0x00000000, 8)]),
    F("xreg6", &[h(0x8001, 6, 0x00000000, 8)]),
    F("xreg7", &[h(0x8001, 7, 0x00000000, 8)]),
    F("xxreg0", &[h(0x0001, 111, 0x00000000, 16)]),
    F("xxreg1", &[h(0x0001, 112, 0x00000000, 16)]),
    F("xxreg2", &[h(0x0001, 113, 0x00000000, 16)]),
    F("xxreg3", &[h(0x0001, 114, 0x00000000, 16)]),
    F(
        "eth_src",
        &[h(0x0000, 2, 0x00000000, 6), h(0x8000, 4, 0x00000000, 6)],
    ),
    F(
        "eth_dst",
        &[h(0x0000, 1, 0x00000000, 6), h(0x8000, 3, 0x00000000, 6)],
    ),
    F(
        "eth_type",
        &[h(0x0000, 3, 0x00000000, 2), h(0x8000, 5, 0x00000000, 2)],
    ),
    F("vlan_tci", &[h(0x0000, 4, 0x00000000, 2)]),
    F("vlan_vid", &[h(0x8000, 6, 0x00000000, 2)]),
    F("vlan_pcp", &[h(0x8000, 7, 0x00000000, 1)]),
    F("mpls_label", &[h(0x8000, 34, 0x00000000, 4)]),
    F("mpls_tc", &[h(0x8000, 35, 0x00000000, 1)]),
    F("mpls_bos", &[h(0x8000, 36, 0x00000000, 1)]),
    F("mpls_ttl", &[h(0x0001, 30, 0x00000000, 1)]),
    F(
        "ip_src",
        &[h(0x0000, 7, 0x00000000, 4), h(0x8000, 11, 0x00000000, 4)],
    ),
    F(
        "ip_dst",
        &[h(0x0000, 8, 0x00000000, 4), h(0x8000, 12, 0x00000000, 4)],
    ),
    F(
        "ipv6_src",
        &[h(0x0001, 19, 0x00000000, 16), h(0x8000, 26, 0x00000000, 16)],
    ),
    F(
        "ipv6_dst",
        &[h(0x0001, 20, 0x00000000, 16), h(0x8000, 27, 0x00000000, 16)],
    ),
    F(
        "ipv6_label",
        &[h(0x0001, 27, 0x00000000, 4), h(0x8000, 28, 0x00000000, 4)],
    ),
    F(
        "nw_proto",
        &[h(0x0000, 6, 0x00000000, 1), h(0x8000, 10, 0x00000000, 1)],
    ),
    F("nw_tos", &[h(0x0000, 5, 0x00000000, 1)]),
    F("ip_dscp", &[h(0x8000, 8, 0x00000000, 1)]),
    F(
        "nw_ecn",
        &[h(0x0001, 28, 0x00000000, 1), h(0x8000, 9, 0x00000000, 1)],
    ),
    F("nw_ttl", &[h(0x0001, 29, 0x00000000, 1)]),
    F("ip_frag", &[h(0x0001, 26, 0x00000000, 1)]),
    F(
        "arp_op",
        &[h(0x0000, 15, 0x00000000, 2), h(0x8000, 21, 0x00000000, 2)],
    ),
    F(
        "arp_spa",
        &[h(0x0000, 16, 0x00000000, 4), h(0x8000, 22, 0x00000000, 4)],
    ),
    F(
        "arp_tpa",
        &[h(0x0000, 17, 0x00000000, 4), h(0x8000, 23, 0x00000000, 4)],
    ),
    F(
        "arp_sha",
        &[h(0x0001, 17, 0x00000000, 6), h(0x8000, 24, 0x00000000, 6)],
    ),
    F(
        "arp_tha",
        &[h(0x0001, 18, 0x00000000, 6), h(0x8000, 25, 0x00000000, 6)],
    ),
    F(
        "tcp_src",
        &[h(0x0000, 9, 0x00000000, 2), h(0x8000, 13, 0x00000000, 2)],
    ),
    F(
        "tcp_dst",
        &[h(0x0000, 10, 0x00000000, 2), h(0x8000, 14, 0x00000000, 2)],
    ),
    F(
        "tcp_flags",
        &[
            h(0x0001, 34, 0x00000000, 2),
            h(0x8000, 42, 0x00000000, 2),
            h(0xffff, 42, 0x4f4e4600, 2),
        ],
    ),
    F(
        "udp_src",
        &[h(0x0000, 11, 0x00000000, 2), h(0x8000, 15, 0x00000000, 2)],
    ),
    F(
        "udp_dst",
        &[h(0x0000, 12, 0x00000000, 2), h(0x8000, 16, 0x00000000, 2)],
    ),
    F("sctp_src", &[h(0x8000, 17, 0x00000000, 2)]),
    F("sctp_dst", &[h(0x8000, 18, 0x00000000, 2)]),
    F(
        "icmp_type",
        &[h(0x0000, 13, 0x00000000, 1), h(0x8000, 19, 0x00000000, 1)],
    ),
    F(
        "icmp_code",
        &[h(0x0000, 14, 0x00000000, 1), h(0x8000, 20, 0x00000000, 1)],
    ),
    F(
        "icmpv6_type",
        &[h(0x0001, 21, 0x00000000, 1), h(0x8000, 29, 0x00000000, 1)],
    ),
    F(
        "icmpv6_code",
        &[h(0x0001, 22, 0x00000000, 1), h(0x8000, 30, 0x00000000, 1)],
    ),
    F(
        "nd_target",
        &[h(0x0001, 23, 0x00000000, 16), h(0x8000, 31, 0x00000000, 16)],
    ),
    F(
        "nd_sll",
        &[h(0x0001, 24, 0x00000000, 6), h(0x8000, 32, 0x00000000, 6)],
    ),
    F(
        "nd_tll",
        &[h(0x0001, 25, 0x00000000, 6), h(0x8000, 33, 0x00000000, 6)],
    ),
    F("nd_reserved", &[h(0x1000, 1, 0x00000000, 4)]),
    F("nd_options_type", &[h(0x1000, 2, 0x00000000, 1)]),
    F("nsh_flags", &[h(0xffff, 1, 0x005ad650, 1)]),
    F("nsh_mdtype", &[h(0xffff, 2, 0x005ad650, 1)]),
    F("nsh_np", &[h(0xffff, 3, 0x005ad650, 1)]),
    F("nsh_spi", &[h(0xffff, 4, 0x005ad650, 4)]),
    F("nsh_si", &[h(0xffff, 5, 0x005ad650, 1)]),
    F("nsh_c1", &[h(0xffff, 6, 0x005ad650, 4)]),
    F("nsh_c2", &[h(0xffff, 7, 0x005ad650, 4)]),
    F("nsh_c3", &[h(0xffff, 8, 0x005ad650, 4)]),
    F("nsh_c4", &[h(0xffff, 9, 0x005ad650, 4)]),
    F("nsh_ttl", &[h(0xffff, 10, 0x005ad650, 1)]),
];

/// Words in a [`FieldSet`].
const FIELD_WORDS: usize = FIELDS.len().div_ceil(64);

/// A set of [`FIELDS`] entries, by index.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FieldSet([u64; FIELD_WORDS]);

impl FieldSet {
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 != 0
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn or(&self, other: &FieldSet) -> FieldSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        r
    }

    fn and(&self, other: &FieldSet) -> FieldSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(other.0) {
            *a &= b;
        }
        r
    }

    /// The names of the members, in registry order.
    fn names(&self) -> Vec<&'static str> {
        (0..FIELDS.len())
            .filter(|i| self.contains(*i))
            .map(|i| FIELDS[i].name)
            .collect()
    }
}

/// Looks an OXM id up in [`FIELDS`]: the field's index and whether the id
/// has the mask bit. `None` for ids Open vSwitch does not know (it skips
/// them), including ones whose length does not fit the field.
pub fn lookup_oxm(id: &TableOxmId) -> Option<(usize, bool)> {
    let class = u16::try_from(id.header >> 16).ok()?;
    let field = u8::try_from(id.header >> 9 & 0x7f).ok()?;
    let hasmask = id.header >> 8 & 1 != 0;
    let mut len = usize::try_from(id.header & 0xff).ok()?;
    let experimenter = if class == TableOxmId::EXPERIMENTER_CLASS {
        len = len.checked_sub(4)?;
        id.experimenter?
    } else {
        0
    };
    if hasmask {
        if len % 2 != 0 {
            return None;
        }
        len /= 2;
    }
    FIELDS
        .iter()
        .position(|f| {
            f.ids.iter().any(|k| {
                k.class == class
                    && k.field == field
                    && k.experimenter == experimenter
                    && (if k.width == 0 {
                        len > 0
                    } else {
                        usize::from(k.width) == len
                    })
            })
        })
        .map(|i| (i, hasmask))
}

/// Open vSwitch's instructions, in its order, with their OpenFlow types.
const INSTRUCTIONS: &[(u16, &str)] = &[
    (6, "meter"),
    (4, "apply_actions"),
    (5, "clear_actions"),
    (3, "write_actions"),
    (2, "write_metadata"),
    (1, "goto_table"),
];

/// Open vSwitch's names of OpenFlow 1.3 action types, in the order it lists
/// its own actions. Types it has no action for are left out.
pub const ACTIONS: &[(u16, &str)] = &[
    (0, "output"),
    (22, "group"),
    (25, "set_field"),
    (18, "strip_vlan"),
    (17, "push_vlan"),
    (23, "mod_nw_ttl"),
    (24, "dec_ttl"),
    (15, "set_mpls_ttl"),
    (16, "dec_mpls_ttl"),
    (19, "push_mpls"),
    (20, "pop_mpls"),
    (21, "set_queue"),
];

/// The action part of one instruction set: actions as a bitmap over
/// [`ACTIONS`], and the settable fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct ActionFeatures {
    actions: u32,
    set_fields: FieldSet,
}

impl ActionFeatures {
    fn is_empty(&self) -> bool {
        self.actions == 0 && self.set_fields.is_empty()
    }
}

/// The miss or the non-miss half of a table's instruction properties.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct InstructionFeatures {
    /// Next tables, one bit per table 0..=254.
    next: [u64; 4],
    /// Bitmap over [`INSTRUCTIONS`].
    instructions: u32,
    write: ActionFeatures,
    apply: ActionFeatures,
}

impl InstructionFeatures {
    fn is_empty(&self) -> bool {
        self.next == [0; 4]
            && self.instructions == 0
            && self.write.is_empty()
            && self.apply.is_empty()
    }

    /// Equal, except that table `b_id == a_id + 1` may leave out itself
    /// from `a`'s next tables (a table can only go to later tables, so
    /// consecutive tables would otherwise never compare equal).
    fn equal(a: &Self, a_id: u8, b: &Self, b_id: u8) -> bool {
        next_equal(&a.next, a_id, &b.next, b_id)
            && a.instructions == b.instructions
            && a.write == b.write
            && a.apply == b.apply
    }
}

fn next_equal(a: &[u64; 4], a_id: u8, b: &[u64; 4], b_id: u8) -> bool {
    let bit = |m: &[u64; 4], t: usize| t < 255 && m[t / 64] >> (t % 64) & 1 != 0;
    let (a_id, b_id) = (usize::from(a_id), usize::from(b_id));
    if b_id == a_id + 1 && bit(a, b_id) && !bit(b, b_id) {
        let mut x = *a;
        x[b_id / 64] &= !(1 << (b_id % 64));
        x == *b
    } else if a_id == b_id + 1 && bit(b, a_id) && !bit(a, a_id) {
        let mut x = *b;
        x[a_id / 64] &= !(1 << (a_id % 64));
        x == *a
    } else {
        a == b
    }
}

/// One table's features as Open vSwitch models them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct OvsTableFeatures {
    table_id: u8,
    name: String,
    metadata_match: u64,
    metadata_write: u64,
    max_entries: u32,
    nonmiss: InstructionFeatures,
    miss: InstructionFeatures,
    match_: FieldSet,
    mask: FieldSet,
    wildcard: FieldSet,
}

fn instruction_bits(ids: &[TypeLenId]) -> u32 {
    let mut bits = 0;
    for id in ids {
        if let Some(i) = INSTRUCTIONS.iter().position(|(t, _)| *t == id.ty) {
            bits |= 1 << i;
        }
    }
    bits
}

fn action_bits(ids: &[TypeLenId]) -> u32 {
    let mut bits = 0;
    for id in ids {
        if let Some(i) = ACTIONS.iter().position(|(t, _)| *t == id.ty) {
            bits |= 1 << i;
        }
    }
    bits
}

/// Instruction or action ids from raw property bytes (type, length, and
/// `length - 4` more bytes each); stops at the first malformed id.
fn type_len_ids(mut data: &[u8]) -> Vec<TypeLenId> {
    let mut ids = Vec::new();
    while data.len() >= 4 {
        let ty = u16::from_be_bytes([data[0], data[1]]);
        let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
        if len < 4 || len > data.len() {
            break;
        }
        ids.push(TypeLenId::new(ty));
        data = &data[len..];
    }
    ids
}

/// OXM ids from raw property bytes; stops at the first truncated id.
fn oxm_ids(mut data: &[u8]) -> Vec<TableOxmId> {
    let mut ids = Vec::new();
    while data.len() >= 4 {
        let header = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        if header >> 16 == u32::from(TableOxmId::EXPERIMENTER_CLASS) {
            if data.len() < 8 {
                break;
            }
            let experimenter = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            ids.push(TableOxmId {
                header,
                experimenter: Some(experimenter),
            });
            data = &data[8..];
        } else {
            ids.push(TableOxmId::new(header));
            data = &data[4..];
        }
    }
    ids
}

/// Exact and masked fields of an OXM id list.
fn field_sets(ids: &[TableOxmId]) -> (FieldSet, FieldSet) {
    let mut exact = FieldSet::default();
    let mut masked = FieldSet::default();
    for id in ids {
        if let Some((i, hasmask)) = lookup_oxm(id) {
            if hasmask {
                masked.insert(i);
            } else {
                exact.insert(i);
            }
        }
    }
    (exact, masked)
}

impl OvsTableFeatures {
    /// Folds a wire record into Open vSwitch's model.
    pub fn from_wire(t: &TableFeatures) -> Self {
        let mut f = OvsTableFeatures {
            table_id: t.table_id,
            name: t.name.to_string_lossy().to_string(),
            metadata_match: t.metadata_match,
            metadata_write: t.metadata_write,
            max_entries: t.max_entries,
            ..Default::default()
        };
        for p in &t.properties {
            match p {
                TableFeatureProp::Instructions { miss, ids } => {
                    f.half(*miss).instructions = instruction_bits(ids);
                }
                TableFeatureProp::NextTables { miss, tables } => {
                    let mut next = [0u64; 4];
                    for &t in tables {
                        if t < 255 {
                            next[usize::from(t) / 64] |= 1 << (t % 64);
                        }
                    }
                    f.half(*miss).next = next;
                }
                TableFeatureProp::WriteActions { miss, ids } => {
                    f.half(*miss).write.actions = action_bits(ids);
                }
                TableFeatureProp::ApplyActions { miss, ids } => {
                    f.half(*miss).apply.actions = action_bits(ids);
                }
                TableFeatureProp::WriteSetfield { miss, ids } => {
                    f.half(*miss).write.set_fields = field_sets(ids).0;
                }
                TableFeatureProp::ApplySetfield { miss, ids } => {
                    f.half(*miss).apply.set_fields = field_sets(ids).0;
                }
                TableFeatureProp::Match(ids) => {
                    let (exact, masked) = field_sets(ids);
                    f.match_ = exact;
                    f.mask = masked;
                }
                TableFeatureProp::Wildcards(ids) => f.wildcard = field_sets(ids).0,
                TableFeatureProp::Experimenter {
                    miss: true,
                    exp_type,
                    data,
                    ..
                } => f.apply_misread_experimenter(*exp_type, data),
                TableFeatureProp::Experimenter { .. } => {}
            }
        }
        // Maskable fields are matchable and may be wildcarded; only
        // matchable fields can be wildcarded.
        f.match_ = f.match_.or(&f.mask);
        f.wildcard = f.wildcard.or(&f.mask).and(&f.match_);
        f
    }

    /// Open vSwitch reads an `OFPTFPT_EXPERIMENTER_MISS` property whose
    /// experimenter type is a standard property type as that property, with
    /// the bytes after the experimenter header as its body (its property
    /// type is the low 32 bits of experimenter and type combined). The
    /// non-miss experimenter property is ignored. Reproduced so the
    /// printouts agree.
    fn apply_misread_experimenter(&mut self, exp_type: u32, data: &[u8]) {
        let ids = || type_len_ids(data);
        match exp_type {
            0 | 1 => self.half(exp_type == 1).instructions = instruction_bits(&ids()),
            2 | 3 => {
                let mut next = [0u64; 4];
                for &t in data {
                    if t < 255 {
                        next[usize::from(t) / 64] |= 1 << (t % 64);
                    }
                }
                self.half(exp_type == 3).next = next;
            }
            4 | 5 => self.half(exp_type == 5).write.actions = action_bits(&ids()),
            6 | 7 => self.half(exp_type == 7).apply.actions = action_bits(&ids()),
            8 => {
                let (exact, masked) = field_sets(&oxm_ids(data));
                self.match_ = exact;
                self.mask = masked;
            }
            10 => self.wildcard = field_sets(&oxm_ids(data)).0,
            12 | 13 => self.half(exp_type == 13).write.set_fields = field_sets(&oxm_ids(data)).0,
            14 | 15 => self.half(exp_type == 15).apply.set_fields = field_sets(&oxm_ids(data)).0,
            _ => {}
        }
    }

    fn half(&mut self, miss: bool) -> &mut InstructionFeatures {
        if miss {
            &mut self.miss
        } else {
            &mut self.nonmiss
        }
    }

    fn same_as(&self, b: &OvsTableFeatures) -> bool {
        self.metadata_match == b.metadata_match
            && self.metadata_write == b.metadata_write
            && self.max_entries == b.max_entries
            && InstructionFeatures::equal(&self.nonmiss, self.table_id, &b.nonmiss, b.table_id)
            && InstructionFeatures::equal(&self.miss, self.table_id, &b.miss, b.table_id)
            && self.match_ == b.match_
    }
}

/// Folds a list of names the way `ovs-ofctl` prints field lists: runs of
/// names sharing a `prefix_` as `prefix_{...}` (the longest such prefix the
/// run shares, recursively), three or more consecutively numbered names as
/// `first...last`. `sep` separates the items (space at the top level,
/// comma inside braces).
pub fn fold_names(names: &[&str], sep: &str) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let name = names[i];
        // A run of names with the same first `segment_`.
        if let Some(us) = name.find('_') {
            let first = &name[..=us];
            let mut j = i + 1;
            while j < names.len() && names[j].starts_with(first) {
                j += 1;
            }
            if j - i >= 2 {
                let run = &names[i..j];
                let mut prefix = first.len();
                // Extend to the longest `_`-ended prefix all share.
                loop {
                    let rest = &run[0][prefix..];
                    let Some(next_us) = rest.find('_') else { break };
                    let cand = &run[0][..prefix + next_us + 1];
                    if run
                        .iter()
                        .all(|n| n.starts_with(cand) && n.len() > cand.len())
                    {
                        prefix = cand.len();
                    } else {
                        break;
                    }
                }
                let tails: Vec<&str> = run.iter().map(|n| &n[prefix..]).collect();
                items.push(format!(
                    "{}{{{}}}",
                    &run[0][..prefix],
                    fold_names(&tails, ",")
                ));
                i = j;
                continue;
            }
        }
        // A run of consecutive numbers on one stem.
        if let Some((stem, n)) = numbered(name) {
            let mut j = i + 1;
            let mut last = n;
            while j < names.len() {
                match numbered(names[j]) {
                    Some((s, m)) if s == stem && Some(m) == last.checked_add(1) => {
                        last = m;
                        j += 1;
                    }
                    _ => break,
                }
            }
            if j - i >= 3 {
                items.push(format!("{name}...{}", names[j - 1]));
                i = j;
                continue;
            }
        }
        items.push(name.to_string());
        i += 1;
    }
    items.join(sep)
}

/// Splits `reg12` into `("reg", 12)`.
fn numbered(name: &str) -> Option<(&str, u32)> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits == name.len() {
        return None;
    }
    let (stem, num) = name.split_at(name.len() - digits);
    Some((stem, num.parse().ok()?))
}

fn fields_text(set: &FieldSet) -> String {
    fold_names(&set.names(), " ")
}

fn action_features_text(s: &mut String, a: &ActionFeatures) {
    if a.actions != 0 {
        let names: Vec<&str> = ACTIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| a.actions >> i & 1 != 0)
            .map(|(_, (_, n))| *n)
            .collect();
        s.push_str(&format!("        actions: {}\n", names.join(" ")));
    }
    if !a.set_fields.is_empty() {
        s.push_str(&format!(
            "        supported on Set-Field: {}\n",
            fields_text(&a.set_fields)
        ));
    }
}

fn next_tables_text(next: &[u64; 4]) -> String {
    let tables: Vec<u8> = (0u8..255)
        .filter(|t| next[usize::from(*t) / 64] >> (t % 64) & 1 != 0)
        .collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < tables.len() {
        let start = tables[i];
        let mut end = start;
        while i + 1 < tables.len() && Some(tables[i + 1]) == end.checked_add(1) {
            i += 1;
            end = tables[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn instruction_features_text(
    s: &mut String,
    f: &InstructionFeatures,
    prev: Option<&InstructionFeatures>,
) {
    if f.next != [0; 4] {
        s.push_str(&format!(
            "      next tables: {}\n",
            next_tables_text(&f.next)
        ));
    }
    if f.instructions != 0 {
        if prev.is_some_and(|p| p.instructions == f.instructions) {
            s.push_str("      (same instructions)\n");
        } else {
            let names: Vec<&str> = INSTRUCTIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| f.instructions >> i & 1 != 0)
                .map(|(_, (_, n))| *n)
                .collect();
            s.push_str(&format!("      instructions: {}\n", names.join(" ")));
        }
    }
    if prev.is_some_and(|p| p.write == f.write && p.apply == f.apply)
        && !f.write.set_fields.is_empty()
    {
        s.push_str("      (same actions)\n");
    } else if f.write != f.apply {
        s.push_str("      Write-Actions features:\n");
        action_features_text(s, &f.write);
        s.push_str("      Apply-Actions features:\n");
        action_features_text(s, &f.apply);
    } else if f.write.actions != 0 || !f.write.set_fields.is_empty() {
        s.push_str("      Write-Actions and Apply-Actions features:\n");
        action_features_text(s, &f.write);
    }
}

/// Prints a sequence of table-features records, remembering the previous
/// table and the run of `ditto` tables between calls.
#[derive(Default)]
pub struct TableFeaturesPrinter {
    prev: Option<OvsTableFeatures>,
    first_ditto: Option<u8>,
    last_ditto: u8,
}

impl TableFeaturesPrinter {
    /// A printer with no previous table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one table to `s`.
    pub fn table(&mut self, s: &mut String, wire: &TableFeatures) {
        let f = OvsTableFeatures::from_wire(wire);
        let prev = self.prev.take();
        self.format(s, &f, prev.as_ref());
        self.prev = Some(f);
    }

    fn format(&mut self, s: &mut String, f: &OvsTableFeatures, prev: Option<&OvsTableFeatures>) {
        let same = prev.is_some_and(|p| f.same_as(p));
        if same && f.name.is_empty() {
            if self.first_ditto.is_none() {
                self.first_ditto = Some(f.table_id);
            }
            self.last_ditto = f.table_id;
            return;
        }
        self.finish(s);
        s.push_str(&format!("\n  table {}", f.table_id));
        if !f.name.is_empty() {
            s.push_str(&format!(" (\"{}\")", f.name));
        }
        s.push(':');
        if same {
            s.push_str(" ditto");
            return;
        }
        s.push('\n');
        if f.metadata_match != 0 || f.metadata_write != 0 {
            s.push_str(&format!(
                "    metadata: match={:#x} write={:#x}\n",
                f.metadata_match, f.metadata_write
            ));
        }
        if f.max_entries != 0 {
            s.push_str(&format!("    max_entries={}\n", f.max_entries));
        }
        let table = f.table_id;
        let same_instructions = prev.is_some_and(|p| {
            InstructionFeatures::equal(&f.nonmiss, table, &p.nonmiss, p.table_id)
                && InstructionFeatures::equal(&f.miss, table, &p.miss, p.table_id)
        });
        if same_instructions {
            if !f.nonmiss.is_empty() {
                s.push_str("    (same instructions)\n");
            }
        } else if !InstructionFeatures::equal(&f.nonmiss, table, &f.miss, table) {
            s.push_str("    instructions (other than table miss):\n");
            instruction_features_text(s, &f.nonmiss, prev.map(|p| &p.nonmiss));
            s.push_str("    instructions (table miss):\n");
            instruction_features_text(s, &f.miss, prev.map(|p| &p.miss));
        } else if !f.nonmiss.is_empty() {
            s.push_str("    instructions (table miss and others):\n");
            instruction_features_text(s, &f.nonmiss, prev.map(|p| &p.nonmiss));
        }
        if !f.match_.is_empty() {
            if prev.is_some_and(|p| p.match_ == f.match_) {
                s.push_str("    (same matching)\n");
            } else {
                s.push_str("    matching:\n");
                let masked = f.mask;
                let wild_only = f.wildcard.and(&complement(&masked));
                let exact = f.match_.and(&complement(&masked.or(&f.wildcard)));
                for (label, set) in [
                    ("arbitrary mask", masked),
                    ("exact match or wildcard", wild_only),
                    ("must exact match", exact),
                ] {
                    if !set.is_empty() {
                        s.push_str(&format!("      {label}: {}\n", fields_text(&set)));
                    }
                }
            }
        }
    }

    /// Appends the pending `ditto` line, if a run of tables is open.
    pub fn finish(&mut self, s: &mut String) {
        let Some(first) = self.first_ditto.take() else {
            return;
        };
        s.push('\n');
        if first == self.last_ditto {
            s.push_str(&format!("  table {first}: ditto\n"));
        } else {
            s.push_str(&format!("  tables {first}...{}: ditto\n", self.last_ditto));
        }
    }
}

fn complement(set: &FieldSet) -> FieldSet {
    let mut r = FieldSet::default();
    for (a, b) in r.0.iter_mut().zip(set.0) {
        *a = !b;
    }
    r
}

/// The body `ofp-print` shows for one TABLE_FEATURES reply message.
pub fn reply_text(tables: &[TableFeatures]) -> String {
    let mut p = TableFeaturesPrinter::new();
    let mut s = String::new();
    for t in tables {
        p.table(&mut s, t);
    }
    p.finish(&mut s);
    s
}

/// What `ovs-ofctl dump-table-features` prints for a whole reply (all its
/// messages): the tables with the previous-table state carried across
/// messages, without message headers.
pub fn dump_text(tables: &[TableFeatures]) -> String {
    let s = reply_text(tables);
    let mut out = s.strip_prefix('\n').unwrap_or(&s).to_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(names: &[&str]) -> String {
        fold_names(names, " ")
    }

    #[test]
    fn names_sharing_a_prefix_fold_into_braces_recursively() {
        assert_eq!(
            fold(&["eth_src", "eth_dst", "eth_type", "vlan_tci"]),
            "eth_{src,dst,type} vlan_tci"
        );
        assert_eq!(
            fold(&["tun_id", "tun_ipv6_src", "tun_ipv6_dst"]),
            "tun_{id,ipv6_{src,dst}}"
        );
        assert_eq!(
            fold(&["tun_ipv6_src", "tun_ipv6_dst"]),
            "tun_ipv6_{src,dst}"
        );
        assert_eq!(fold(&["tun_id", "tun_ipv6_src"]), "tun_{id,ipv6_src}");
        assert_eq!(
            fold(&["in_port", "in_port_oxm", "actset_output"]),
            "in_{port,port_oxm} actset_output"
        );
        assert_eq!(fold(&["ct_nw_src"]), "ct_nw_src");
    }

    #[test]
    fn three_or_more_consecutive_numbers_fold_into_a_range() {
        assert_eq!(fold(&["reg0", "reg1"]), "reg0 reg1");
        assert_eq!(
            fold(&["reg0", "reg1", "reg2", "reg4", "reg5"]),
            "reg0...reg2 reg4 reg5"
        );
        assert_eq!(fold(&["reg15", "xreg0"]), "reg15 xreg0");
        assert_eq!(
            fold(&["tun_id", "tun_metadata0", "tun_metadata1", "tun_metadata2"]),
            "tun_{id,metadata0...metadata2}"
        );
        assert_eq!(fold(&["nsh_c1", "nsh_c2"]), "nsh_{c1,c2}");
    }

    #[test]
    fn the_whole_registry_folds_as_ovs_ofctl_prints_it() {
        let all: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(
            fold(&all),
            "dp_hash recirc_id packet_type conj_id tun_{id,src,dst,ipv6_{src,dst},flags,\
             gbp_{id,flags},erspan_{idx,ver,dir,hwid},gtpu_{flags,msgtype},metadata0...metadata63} \
             metadata in_{port,port_oxm} actset_output pkt_mark ct_{state,zone,mark,label,\
             nw_{proto,src,dst},ipv6_{src,dst},tp_{src,dst}} reg0...reg15 xreg0...xreg7 \
             xxreg0...xxreg3 eth_{src,dst,type} vlan_{tci,vid,pcp} mpls_{label,tc,bos,ttl} \
             ip_{src,dst} ipv6_{src,dst,label} nw_{proto,tos} ip_dscp nw_{ecn,ttl} ip_frag \
             arp_{op,spa,tpa,sha,tha} tcp_{src,dst,flags} udp_{src,dst} sctp_{src,dst} \
             icmp_{type,code} icmpv6_{type,code} nd_{target,sll,tll,reserved,options_type} \
             nsh_{flags,mdtype,np,spi,si,c1...c4,ttl}"
        );
    }

    #[test]
    fn oxm_ids_resolve_to_ovs_names_only_with_the_right_width() {
        let name = |header: u32, exp: Option<u32>| {
            lookup_oxm(&TableOxmId {
                header,
                experimenter: exp,
            })
            .map(|(i, m)| (FIELDS[i].name, m))
        };
        assert_eq!(name(0x8000_0004, None), Some(("in_port_oxm", false)));
        assert_eq!(name(0x8000_0002, None), None, "in_port is 4 bytes");
        assert_eq!(name(0x8000_070c, None), Some(("eth_dst", true)));
        assert_eq!(
            name(0x8000_0204, None),
            None,
            "in_phy_port is unknown to Open vSwitch"
        );
        assert_eq!(
            name(0xffff_5406, Some(0x4f4e_4600)),
            Some(("tcp_flags", false))
        );
        assert_eq!(name(0x0001_5004, None), Some(("tun_metadata0", false)));
        assert_eq!(name(0xffff_5406, None), None);
    }

    #[test]
    fn next_tables_may_drop_the_following_table_and_still_be_equal() {
        let mut a = [0u64; 4];
        let mut b = [0u64; 4];
        for t in 1..10 {
            a[0] |= 1 << t;
        }
        for t in 2..10 {
            b[0] |= 1 << t;
        }
        assert!(next_equal(&a, 0, &b, 1));
        assert!(next_equal(&b, 1, &a, 0));
        assert!(!next_equal(&a, 0, &b, 2));
    }
}
