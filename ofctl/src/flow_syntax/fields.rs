//! The matchable fields of the flow syntax (ovs-fields(7)): every name and
//! alias, how its value is written, whether it takes a mask, and where it
//! lands in a `datapath::flow::Match`.
//!
//! The table is data, not code: [`FIELDS`] lists each field once with its
//! canonical name (the one `set_field` prints) and its aliases, so lookups,
//! "did you mean" suggestions and the documentation of what is accepted all
//! come from one place. Fields whose storage is special in the switch's
//! flow key (`nw_tos` is the DSCP bits of the ToS byte, `dl_vlan` implies a
//! tag, `tp_src` means whichever L4 protocol the flow selects) have a
//! [`Target`] that says so; the rest write one [`Field`] directly.

use datapath::flow::Field;

/// How a field's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// An integer (decimal or `0x` hex) of the given width; printed decimal.
    Dec(u32),
    /// An integer of the given width; printed in hex.
    Hex(u32),
    /// An Ethernet address.
    Mac,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A port number or reserved port name.
    Port,
    /// `no`, `yes`, `first`, `later` or `not_later`.
    Frag,
    /// TCP flags: `+syn-ack` or an integer with a mask.
    TcpFlags,
}

/// Where a parsed value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The value (and mask) of this field, as written.
    Plain(Field),
    /// `nw_tos`: the ToS byte's DSCP bits (the low two bits are dropped).
    NwTos,
    /// `dl_vlan`: a 12-bit VLAN id, implying a tag; `0xffff` means no tag.
    DlVlan,
    /// `dl_vlan_pcp`/`vlan_pcp`: the priority, implying a tag.
    VlanPcp,
    /// `vlan_tci`: the whole 16-bit TCI with the CFI bit as "tag present".
    VlanTci,
    /// The L4 source port or ICMP type, whichever the flow's protocol has.
    TpSrc,
    /// The L4 destination port or ICMP code.
    TpDst,
}

/// One field of the syntax.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    /// The canonical name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// How values are written.
    pub syntax: Syntax,
    /// Where the value goes.
    pub target: Target,
    /// Whether `/mask` is accepted.
    pub maskable: bool,
}

const fn def(
    name: &'static str,
    aliases: &'static [&'static str],
    syntax: Syntax,
    target: Target,
    maskable: bool,
) -> FieldDef {
    FieldDef {
        name,
        aliases,
        syntax,
        target,
        maskable,
    }
}

use Syntax as S;
use Target as T;

/// Every matchable field, in the order ovs-fields(7) documents them.
pub const FIELDS: &[FieldDef] = &[
    def(
        "in_port",
        &["in_port_oxm"],
        S::Port,
        T::Plain(Field::InPort),
        false,
    ),
    def("metadata", &[], S::Hex(64), T::Plain(Field::Metadata), true),
    def(
        "tun_id",
        &["tunnel_id"],
        S::Hex(64),
        T::Plain(Field::TunnelId),
        true,
    ),
    def("tun_src", &[], S::Ipv4, T::Plain(Field::TunIpv4Src), true),
    def("tun_dst", &[], S::Ipv4, T::Plain(Field::TunIpv4Dst), true),
    def(
        "eth_src",
        &["dl_src"],
        S::Mac,
        T::Plain(Field::EthSrc),
        true,
    ),
    def(
        "eth_dst",
        &["dl_dst"],
        S::Mac,
        T::Plain(Field::EthDst),
        true,
    ),
    def(
        "eth_type",
        &["dl_type"],
        S::Hex(16),
        T::Plain(Field::EthType),
        false,
    ),
    def("vlan_tci", &[], S::Hex(16), T::VlanTci, true),
    def("dl_vlan", &[], S::Dec(16), T::DlVlan, false),
    def("vlan_vid", &[], S::Dec(13), T::Plain(Field::VlanVid), true),
    def("dl_vlan_pcp", &[], S::Dec(3), T::VlanPcp, false),
    def("vlan_pcp", &[], S::Dec(3), T::VlanPcp, false),
    def(
        "mpls_label",
        &[],
        S::Dec(20),
        T::Plain(Field::MplsLabel),
        false,
    ),
    def("mpls_tc", &[], S::Dec(3), T::Plain(Field::MplsTc), false),
    def("mpls_bos", &[], S::Dec(1), T::Plain(Field::MplsBos), false),
    def("mpls_ttl", &[], S::Dec(8), T::Plain(Field::MplsTtl), false),
    def(
        "ip_src",
        &["nw_src"],
        S::Ipv4,
        T::Plain(Field::Ipv4Src),
        true,
    ),
    def(
        "ip_dst",
        &["nw_dst"],
        S::Ipv4,
        T::Plain(Field::Ipv4Dst),
        true,
    ),
    def("ipv6_src", &[], S::Ipv6, T::Plain(Field::Ipv6Src), true),
    def("ipv6_dst", &[], S::Ipv6, T::Plain(Field::Ipv6Dst), true),
    def(
        "ipv6_label",
        &[],
        S::Hex(20),
        T::Plain(Field::Ipv6Flabel),
        true,
    ),
    def(
        "nw_proto",
        &["ip_proto"],
        S::Dec(8),
        T::Plain(Field::IpProto),
        false,
    ),
    def("nw_ttl", &[], S::Dec(8), T::Plain(Field::NwTtl), false),
    def(
        "ip_frag",
        &["nw_frag"],
        S::Frag,
        T::Plain(Field::NwFrag),
        true,
    ),
    def("nw_tos", &[], S::Dec(8), T::NwTos, false),
    def("ip_dscp", &[], S::Dec(6), T::Plain(Field::IpDscp), false),
    def(
        "nw_ecn",
        &["ip_ecn"],
        S::Dec(2),
        T::Plain(Field::IpEcn),
        false,
    ),
    def("arp_op", &[], S::Dec(16), T::Plain(Field::ArpOp), false),
    def("arp_spa", &[], S::Ipv4, T::Plain(Field::ArpSpa), true),
    def("arp_tpa", &[], S::Ipv4, T::Plain(Field::ArpTpa), true),
    def("arp_sha", &[], S::Mac, T::Plain(Field::ArpSha), true),
    def("arp_tha", &[], S::Mac, T::Plain(Field::ArpTha), true),
    def("tcp_src", &["tp_src"], S::Dec(16), T::TpSrc, true),
    def("tcp_dst", &["tp_dst"], S::Dec(16), T::TpDst, true),
    def(
        "tcp_flags",
        &[],
        S::TcpFlags,
        T::Plain(Field::TcpFlags),
        true,
    ),
    def("udp_src", &[], S::Dec(16), T::TpSrc, true),
    def("udp_dst", &[], S::Dec(16), T::TpDst, true),
    def("sctp_src", &[], S::Dec(16), T::TpSrc, true),
    def("sctp_dst", &[], S::Dec(16), T::TpDst, true),
    def("icmp_type", &[], S::Dec(8), T::TpSrc, false),
    def("icmp_code", &[], S::Dec(8), T::TpDst, false),
    def("igmp_type", &[], S::Dec(8), T::TpSrc, false),
    def("igmp_code", &[], S::Dec(8), T::TpDst, false),
    def("icmpv6_type", &[], S::Dec(8), T::TpSrc, false),
    def("icmpv6_code", &[], S::Dec(8), T::TpDst, false),
    def(
        "nd_target",
        &[],
        S::Ipv6,
        T::Plain(Field::Ipv6NdTarget),
        true,
    ),
    def("nd_sll", &[], S::Mac, T::Plain(Field::Ipv6NdSll), true),
    def("nd_tll", &[], S::Mac, T::Plain(Field::Ipv6NdTll), true),
    def("pbb_isid", &[], S::Dec(24), T::Plain(Field::PbbIsid), true),
];

/// The field called `name` (canonical or alias).
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    FIELDS
        .iter()
        .find(|d| d.name == name || d.aliases.contains(&name))
}

/// A protocol shorthand: `(name, eth_type, ip_proto)`.
pub const PROTOCOLS: &[(&str, u16, Option<u8>)] = &[
    ("ip", 0x0800, None),
    ("ipv4", 0x0800, None),
    ("ip4", 0x0800, None),
    ("icmp", 0x0800, Some(1)),
    ("igmp", 0x0800, Some(2)),
    ("tcp", 0x0800, Some(6)),
    ("udp", 0x0800, Some(17)),
    ("sctp", 0x0800, Some(132)),
    ("ipv6", 0x86dd, None),
    ("ip6", 0x86dd, None),
    ("icmp6", 0x86dd, Some(58)),
    ("tcp6", 0x86dd, Some(6)),
    ("udp6", 0x86dd, Some(17)),
    ("sctp6", 0x86dd, Some(132)),
    ("arp", 0x0806, None),
    ("rarp", 0x8035, None),
    ("mpls", 0x8847, None),
    ("mplsm", 0x8848, None),
];

/// The shorthand called `name`.
pub fn protocol(name: &str) -> Option<(u16, Option<u8>)> {
    PROTOCOLS
        .iter()
        .find(|p| p.0 == name)
        .map(|&(_, t, p)| (t, p))
}

/// The name `set_field` prints for a field (`ovs-ofctl` spelling).
pub fn set_field_name(f: Field) -> &'static str {
    match f {
        Field::InPort => "in_port",
        Field::InPhyPort => "in_phy_port",
        Field::Metadata => "metadata",
        Field::EthDst => "eth_dst",
        Field::EthSrc => "eth_src",
        Field::EthType => "eth_type",
        Field::VlanVid => "vlan_vid",
        Field::VlanPcp => "vlan_pcp",
        Field::IpDscp => "ip_dscp",
        Field::IpEcn => "nw_ecn",
        Field::IpProto => "nw_proto",
        Field::Ipv4Src => "ip_src",
        Field::Ipv4Dst => "ip_dst",
        Field::TcpSrc => "tcp_src",
        Field::TcpDst => "tcp_dst",
        Field::UdpSrc => "udp_src",
        Field::UdpDst => "udp_dst",
        Field::SctpSrc => "sctp_src",
        Field::SctpDst => "sctp_dst",
        Field::Icmpv4Type => "icmp_type",
        Field::Icmpv4Code => "icmp_code",
        Field::ArpOp => "arp_op",
        Field::ArpSpa => "arp_spa",
        Field::ArpTpa => "arp_tpa",
        Field::ArpSha => "arp_sha",
        Field::ArpTha => "arp_tha",
        Field::Ipv6Src => "ipv6_src",
        Field::Ipv6Dst => "ipv6_dst",
        Field::Ipv6Flabel => "ipv6_label",
        Field::Icmpv6Type => "icmpv6_type",
        Field::Icmpv6Code => "icmpv6_code",
        Field::Ipv6NdTarget => "nd_target",
        Field::Ipv6NdSll => "nd_sll",
        Field::Ipv6NdTll => "nd_tll",
        Field::MplsLabel => "mpls_label",
        Field::MplsTc => "mpls_tc",
        Field::MplsBos => "mpls_bos",
        Field::PbbIsid => "pbb_isid",
        Field::TunnelId => "tun_id",
        Field::Ipv6Exthdr => "ipv6_exthdr",
        Field::TunIpv4Src => "tun_src",
        Field::TunIpv4Dst => "tun_dst",
        Field::TcpFlags => "tcp_flags",
        Field::NwTtl => "nw_ttl",
        Field::NwFrag => "ip_frag",
        Field::MplsTtl => "mpls_ttl",
    }
}

/// The syntax a field's values are printed in (for `set_field`).
pub fn field_syntax(f: Field) -> Syntax {
    match f {
        Field::InPort | Field::InPhyPort => S::Port,
        Field::Metadata | Field::TunnelId => S::Hex(64),
        Field::EthDst
        | Field::EthSrc
        | Field::ArpSha
        | Field::ArpTha
        | Field::Ipv6NdSll
        | Field::Ipv6NdTll => S::Mac,
        Field::EthType => S::Hex(16),
        Field::Ipv6Flabel => S::Hex(20),
        Field::Ipv6Exthdr => S::Hex(9),
        Field::Ipv4Src
        | Field::Ipv4Dst
        | Field::ArpSpa
        | Field::ArpTpa
        | Field::TunIpv4Src
        | Field::TunIpv4Dst => S::Ipv4,
        Field::Ipv6Src | Field::Ipv6Dst | Field::Ipv6NdTarget => S::Ipv6,
        Field::NwFrag => S::Frag,
        Field::TcpFlags => S::TcpFlags,
        f => S::Dec(f.bits()),
    }
}

/// The field a `set_field`/`load` destination name writes.
pub fn settable_field(name: &str) -> Option<Field> {
    if let Some(d) = lookup(name) {
        return Some(match d.target {
            T::Plain(f) => f,
            T::NwTos => Field::IpDscp,
            T::DlVlan => Field::VlanVid,
            T::VlanPcp => Field::VlanPcp,
            T::VlanTci => return None,
            T::TpSrc | T::TpDst if d.name.starts_with("igmp") => return None,
            T::TpSrc => match d.name {
                "udp_src" => Field::UdpSrc,
                "sctp_src" => Field::SctpSrc,
                "icmp_type" => Field::Icmpv4Type,
                "icmpv6_type" => Field::Icmpv6Type,
                _ => Field::TcpSrc,
            },
            T::TpDst => match d.name {
                "udp_dst" => Field::UdpDst,
                "sctp_dst" => Field::SctpDst,
                "icmp_code" => Field::Icmpv4Code,
                "icmpv6_code" => Field::Icmpv6Code,
                _ => Field::TcpDst,
            },
        });
    }
    None
}

/// Every accepted word of a match (field names, aliases, shorthands and
/// flow keywords), for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    FIELDS
        .iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
        .chain(PROTOCOLS.iter().map(|p| p.0))
}

/// The Levenshtein distance between two words.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_across_fields_and_shorthands() {
        let mut names: Vec<&str> = all_names().collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn aliases_find_the_same_field() {
        assert_eq!(lookup("dl_src").unwrap().name, "eth_src");
        assert_eq!(lookup("nw_proto").unwrap().name, "nw_proto");
        assert_eq!(lookup("ip_proto").unwrap().name, "nw_proto");
        assert!(lookup("nw_dts").is_none());
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggest("nw_dts", all_names()), Some("nw_dst"));
        assert_eq!(suggest("xyzzy_plugh", all_names()), None);
    }
}
