//! Whole flows: a match plus the flow keywords of `ovs-ofctl` (`table`,
//! `priority`, `cookie`, timeouts, flags, `out_port`, `out_group`) and,
//! for additions and modifications, `actions=`.
//!
//! A [`FlowSpec`] is what one line of `add-flows` or one argument of
//! `add-flow`, `mod-flows`, `del-flows` or `dump-flows` means; it turns
//! into the OpenFlow 1.3 FLOW_MOD or flow-statistics request Open vSwitch
//! would send for it ([`FlowSpec::to_flow_mod`],
//! [`FlowSpec::to_stats_request`]), with Open vSwitch's defaults (table 0
//! for additions, every table for deletions and queries, priority 32768,
//! no buffer, any output port and group).

use crate::format::match_to_oxm as match_to_wire;
use controller_proto::action::OFPG_ANY;
use controller_proto::flow_mod::{
    FlowMod, FlowModCommand, OFPFF_CHECK_OVERLAP, OFPFF_NO_BYT_COUNTS, OFPFF_NO_PKT_COUNTS,
    OFPFF_RESET_COUNTS, OFPFF_SEND_FLOW_REM, OFP_NO_BUFFER,
};
use controller_proto::instruction::Instruction;
use controller_proto::port::OFPP_ANY;
use controller_proto::stats_flow::FlowStatsRequest;
use controller_proto::table::OFPTT_ALL;

use super::actions::parse_actions;
use super::fields;
use super::lex;
use super::protocols::{self as proto, Protocols};
use super::value::{parse_port, parse_u64};
use super::{unknown_field, MatchBuilder, ParsedMatch, SyntaxError};

/// What a flow text is for (it decides which keywords are allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowCommand {
    /// `add-flow`: actions required.
    Add,
    /// `mod-flows`.
    Modify,
    /// `mod-flows --strict`.
    ModifyStrict,
    /// `del-flows`.
    Delete,
    /// `del-flows --strict`.
    DeleteStrict,
    /// `dump-flows` / `dump-aggregate`: a selection.
    Query,
}

impl FlowCommand {
    /// The wire command (queries have none; they read as deletes would).
    pub fn wire(self) -> FlowModCommand {
        match self {
            Self::Add => FlowModCommand::OFPFC_ADD,
            Self::Modify => FlowModCommand::OFPFC_MODIFY,
            Self::ModifyStrict => FlowModCommand::OFPFC_MODIFY_STRICT,
            Self::Delete | Self::Query => FlowModCommand::OFPFC_DELETE,
            Self::DeleteStrict => FlowModCommand::OFPFC_DELETE_STRICT,
        }
    }

    fn has_actions(self) -> bool {
        matches!(self, Self::Add | Self::Modify | Self::ModifyStrict)
    }

    fn has_out_port(self) -> bool {
        matches!(self, Self::Delete | Self::DeleteStrict | Self::Query)
    }

    fn has_priority(self) -> bool {
        !matches!(self, Self::Delete | Self::Query)
    }
}

/// One parsed flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    /// What it is for.
    pub command: FlowCommand,
    /// `table=`; 255 when not given.
    pub table_id: u8,
    /// `priority=`; 32768 when not given.
    pub priority: u16,
    /// The cookie to set (additions), or to select with `cookie_mask`.
    pub cookie: u64,
    /// `cookie=V/MASK` selects flows by cookie.
    pub cookie_mask: u64,
    /// `idle_timeout=`.
    pub idle_timeout: u16,
    /// `hard_timeout=`.
    pub hard_timeout: u16,
    /// `importance=` (OpenFlow 1.4; not sent in 1.3).
    pub importance: u16,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// `out_port=`.
    pub out_port: u32,
    /// `out_group=`.
    pub out_group: u32,
    /// The match.
    pub match_: ParsedMatch,
    /// The instructions (empty for deletions and queries).
    pub instructions: Vec<Instruction>,
    /// The protocols that can express the flow.
    pub usable: Protocols,
}

/// Parses one flow for `command`.
///
/// # Errors
/// A [`SyntaxError`] naming the token: unknown keywords (with a
/// suggestion), bad values, a missing `actions=`, keywords the command does
/// not take.
pub fn parse_flow(command: FlowCommand, s: &str) -> Result<FlowSpec, SyntaxError> {
    let (match_text, actions_text) = if command.has_actions() {
        match s.find("action") {
            Some(i) => match s[i..].find('=') {
                Some(j) => (&s[..i], Some(&s[i + j + 1..])),
                None => (&s[..i], None),
            },
            None => (s, None),
        }
    } else {
        (s, None)
    };
    if command.has_actions() && actions_text.is_none() {
        return Err(SyntaxError::new(format!(
            "\"{s}\" must specify actions (actions=...)"
        )));
    }
    let mut spec = FlowSpec {
        command,
        table_id: OFPTT_ALL,
        priority: crate::format::matches::DEFAULT_PRIORITY,
        cookie: 0,
        cookie_mask: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        importance: 0,
        flags: 0,
        out_port: OFPP_ANY,
        out_group: OFPG_ANY,
        match_: ParsedMatch::default(),
        instructions: Vec::new(),
        usable: Protocols::any(),
    };
    let mut b = MatchBuilder::new();
    let mut usable = Protocols::any();
    let flag_ok = command.has_actions();
    for p in lex::pairs(match_text) {
        if let Some((t, pr)) = fields::protocol(p.key) {
            b.protocol(t, pr);
            continue;
        }
        let flag = match p.key {
            "send_flow_rem" if flag_ok => Some(OFPFF_SEND_FLOW_REM),
            "check_overlap" if flag_ok => Some(OFPFF_CHECK_OVERLAP),
            "reset_counts" if flag_ok => {
                usable.restrict(proto::OF12_UP);
                Some(OFPFF_RESET_COUNTS)
            }
            "no_packet_counts" if flag_ok => {
                usable.restrict(proto::OF13_UP);
                Some(OFPFF_NO_PKT_COUNTS)
            }
            "no_byte_counts" if flag_ok => {
                usable.restrict(proto::OF13_UP);
                Some(OFPFF_NO_BYT_COUNTS)
            }
            _ => None,
        };
        if let Some(f) = flag {
            spec.flags |= f;
            continue;
        }
        if matches!(p.key, "no_readonly_table" | "allow_hidden_fields") {
            continue;
        }
        if let Some(def) = fields::lookup(p.key) {
            if p.value.is_empty() {
                // "field" alone matches on the field's presence: a no-op.
                continue;
            }
            let (v, m) = super::parse_field_value(def, p.value, s)?;
            let masked = p.value.contains('/') && !matches!(def.syntax, fields::Syntax::TcpFlags);
            usable.restrict(field_protocols(def, masked, m));
            b.apply(def, v, m);
            continue;
        }
        let keyword_err = |what: &str| SyntaxError::new(format!("{what} in \"{s}\""));
        if p.value.is_empty()
            && matches!(
                p.key,
                "table"
                    | "priority"
                    | "cookie"
                    | "idle_timeout"
                    | "hard_timeout"
                    | "importance"
                    | "out_port"
                    | "out_group"
            )
        {
            return Err(keyword_err(&format!(
                "{} needs a value ({}=VALUE)",
                p.key, p.key
            )));
        }
        let num = |bits: u32| {
            parse_u64(p.value, bits)
                .map_err(|e| keyword_err(&format!("bad value for {}: {e}", p.key)))
        };
        match p.key {
            "table" => {
                spec.table_id = u8::try_from(num(8)?).unwrap_or(OFPTT_ALL);
                if spec.table_id != OFPTT_ALL {
                    usable.restrict(proto::TID);
                }
            }
            "out_port" if command.has_out_port() => {
                spec.out_port = parse_port(p.value)
                    .map_err(|e| keyword_err(&format!("bad value for out_port: {e}")))?;
            }
            "out_group" if command.has_out_port() => {
                usable.restrict(proto::OF11_UP);
                spec.out_group = if p.value.eq_ignore_ascii_case("any") {
                    OFPG_ANY
                } else if p.value.eq_ignore_ascii_case("all") {
                    controller_proto::action::OFPG_ALL
                } else {
                    u32::try_from(num(32)?).unwrap_or(OFPG_ANY)
                };
            }
            "priority" if command.has_priority() => {
                spec.priority = u16::try_from(num(16)?).unwrap_or(0);
            }
            "idle_timeout" if command.has_actions() => {
                spec.idle_timeout = u16::try_from(num(16)?).unwrap_or(0);
            }
            "hard_timeout" if command.has_actions() => {
                spec.hard_timeout = u16::try_from(num(16)?).unwrap_or(0);
            }
            "importance" if command == FlowCommand::Add => {
                spec.importance = u16::try_from(num(16)?).unwrap_or(0);
            }
            "cookie" => {
                if let Some((v, m)) = p.value.split_once('/') {
                    if command == FlowCommand::Add {
                        return Err(keyword_err("flow additions cannot use a cookie mask"));
                    }
                    spec.cookie = parse_u64(v, 64)
                        .map_err(|e| keyword_err(&format!("bad value for cookie: {e}")))?;
                    // ovs-ofctl(8): a mask of -1 matches the cookie exactly.
                    spec.cookie_mask = if m == "-1" {
                        u64::MAX
                    } else {
                        parse_u64(m, 64)
                            .map_err(|e| keyword_err(&format!("bad mask for cookie: {e}")))?
                    };
                    if spec.cookie_mask != 0 {
                        usable.restrict(proto::NXM_OF11_UP);
                    }
                } else {
                    if !command.has_actions() {
                        return Err(keyword_err(
                            "cookie=VALUE sets a cookie, which only add-flow and mod-flows do (select with cookie=VALUE/MASK)",
                        ));
                    }
                    spec.cookie = num(64)?;
                }
            }
            "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age" => {}
            key => {
                let extra: &[&'static str] = &[
                    "table",
                    "priority",
                    "cookie",
                    "idle_timeout",
                    "hard_timeout",
                    "out_port",
                    "out_group",
                    "send_flow_rem",
                    "check_overlap",
                    "reset_counts",
                    "no_packet_counts",
                    "no_byte_counts",
                    "actions",
                ];
                if extra.contains(&key) {
                    return Err(keyword_err(&format!(
                        "{key} does not apply to this command"
                    )));
                }
                return Err(unknown_field(key, s, extra));
            }
        }
    }
    // IPv6 with L3/L4 fields needs NXM or OXM.
    {
        let m = b.current();
        if m.key.eth_type == 0x86dd
            && (m.mask.key.nw_proto != 0
                || m.mask.key.nw_tos != 0
                || m.mask.key.tp_src != 0
                || m.mask.key.tp_dst != 0)
        {
            usable.restrict(proto::NXM_OXM_ANY);
        }
    }
    spec.match_ = b.finish();
    if let Some(a) = actions_text {
        let parsed = parse_actions(a, &spec.match_.match_, s)?;
        usable.restrict(parsed.usable.0);
        spec.instructions = parsed.instructions;
        check_actions_against_match(&spec, s)?;
    }
    spec.usable = usable;
    Ok(spec)
}

/// How well OpenFlow 1.0 and 1.1 can match a field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Support {
    /// Not at all (only NXM and OXM can).
    None,
    /// Exactly.
    Exact,
    /// Exactly or with a CIDR prefix.
    Cidr,
    /// With any mask.
    Bitwise,
}

/// Open vSwitch's (OpenFlow 1.0, OpenFlow 1.1) support for a field.
fn support(def: &fields::FieldDef) -> (Support, Support) {
    use datapath::flow::Field as F;
    use fields::Target as T;
    use Support::{Bitwise, Cidr, Exact, None};
    match def.target {
        T::Plain(F::InPort | F::EthType | F::IpProto | F::IpDscp | F::ArpOp) => (Exact, Exact),
        T::DlVlan | T::VlanPcp | T::NwTos => (Exact, Exact),
        T::Plain(F::VlanVid) | T::VlanTci => (Exact, Exact),
        T::Plain(F::EthSrc | F::EthDst) => (Exact, Bitwise),
        T::Plain(F::Ipv4Src | F::Ipv4Dst | F::ArpSpa | F::ArpTpa) => (Cidr, Bitwise),
        T::Plain(F::Metadata) => (None, Bitwise),
        T::Plain(F::MplsLabel | F::MplsTc | F::IpEcn) => (None, Exact),
        T::TpSrc | T::TpDst if def.name.starts_with("sctp") => (None, Exact),
        T::TpSrc | T::TpDst if def.name.starts_with("icmpv6") => (None, None),
        T::TpSrc | T::TpDst => (Exact, Exact),
        _ => (None, None),
    }
}

/// The protocols that can express field `def` matched under mask `m`
/// (`masked` when the text wrote a mask).
pub(crate) fn field_protocols(def: &fields::FieldDef, masked: bool, m: u128) -> u32 {
    let bits = match def.syntax {
        fields::Syntax::Dec(b) | fields::Syntax::Hex(b) => b,
        fields::Syntax::Mac => 48,
        fields::Syntax::Ipv6 => 128,
        fields::Syntax::Ipv4 | fields::Syntax::Port => 32,
        fields::Syntax::Frag | fields::Syntax::TcpFlags => 0,
    };
    // Masks are judged over the field's whole bytes, as Open vSwitch does.
    let bytes_bits = bits.div_ceil(8) * 8;
    let all = super::value::prefix_mask(bytes_bits, bytes_bits);
    let exact = !masked || m == all;
    let cidr = super::value::cidr_len(m, bytes_bits).is_some();
    let ok = |s: Support| match s {
        Support::None => false,
        Support::Exact => exact,
        Support::Cidr => exact || cidr,
        Support::Bitwise => true,
    };
    let (of10, of11) = support(def);
    let mut p = proto::NXM_OXM_ANY;
    if ok(of10) {
        p |= proto::OF10_STD_ANY;
    }
    if ok(of11) {
        p |= proto::OF11_STD;
    }
    p
}

/// Runs the codec's consistency check (the one the switch applies) so a
/// flow the switch would refuse with `OFPBAC_MATCH_INCONSISTENT` is refused
/// here with a sentence instead.
fn check_actions_against_match(spec: &FlowSpec, s: &str) -> Result<(), SyntaxError> {
    let m = &spec.match_.match_;
    if controller_proto::convert::check_instructions_against_match(&spec.instructions, m).is_ok() {
        return Ok(());
    }
    Err(SyntaxError::new(format!(
        "actions in \"{s}\" do not apply to the packets the match selects (OFPBAC_MATCH_INCONSISTENT): a set-field or pop needs its protocol in the match"
    )))
}

impl FlowSpec {
    /// The flow in canonical syntax (what `ovs-ofctl` would print for it),
    /// which [`parse_flow`] reads back to the same flow.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.table_id != OFPTT_ALL {
            s.push_str(&format!("table={},", self.table_id));
        }
        if self.cookie_mask != 0 {
            s.push_str(&format!(
                "cookie={:#x}/{:#x},",
                self.cookie, self.cookie_mask
            ));
        } else if self.cookie != 0 {
            s.push_str(&format!("cookie={:#x},", self.cookie));
        }
        if self.idle_timeout != 0 {
            s.push_str(&format!("idle_timeout={},", self.idle_timeout));
        }
        if self.hard_timeout != 0 {
            s.push_str(&format!("hard_timeout={},", self.hard_timeout));
        }
        if self.out_port != OFPP_ANY {
            s.push_str(&format!(
                "out_port={},",
                super::value::port_name(self.out_port)
            ));
        }
        if self.out_group != OFPG_ANY {
            s.push_str(&format!("out_group={},", self.out_group));
        }
        for name in crate::format::flow_flags_text(self.flags).split_whitespace() {
            s.push_str(name);
            s.push(',');
        }
        let priority = if self.command.has_priority() {
            Some(self.priority)
        } else {
            None
        };
        s.push_str(&crate::format::matches::format_match(
            &self.match_.match_,
            priority,
        ));
        if self.command.has_actions() {
            if !s.is_empty() && !s.ends_with(',') {
                s.push(' ');
            }
            s.push_str("actions=");
            s.push_str(&crate::format::actions::instructions_text(
                &self.instructions,
            ));
        }
        s.trim_end_matches(',').to_string()
    }

    /// The FLOW_MOD Open vSwitch sends for this flow in OpenFlow 1.3.
    pub fn to_flow_mod(&self) -> FlowMod {
        let command = self.command.wire();
        let is_add = self.command == FlowCommand::Add;
        let is_delete = matches!(
            self.command,
            FlowCommand::Delete | FlowCommand::DeleteStrict
        );
        let table_id = if self.table_id != OFPTT_ALL || is_delete {
            self.table_id
        } else {
            0
        };
        FlowMod {
            cookie: if is_add {
                self.cookie
            } else {
                self.cookie & self.cookie_mask
            },
            cookie_mask: self.cookie_mask,
            table_id,
            command,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            priority: self.priority,
            buffer_id: OFP_NO_BUFFER,
            out_port: self.out_port,
            out_group: self.out_group,
            flags: self.flags,
            match_: match_to_wire(&self.match_.match_),
            instructions: self.instructions.clone(),
        }
    }

    /// The flow (or aggregate) statistics request selecting this flow.
    pub fn to_stats_request(&self) -> FlowStatsRequest {
        FlowStatsRequest {
            table_id: self.table_id,
            out_port: self.out_port,
            out_group: self.out_group,
            cookie: self.cookie & self.cookie_mask,
            cookie_mask: self.cookie_mask,
            match_: match_to_wire(&self.match_.match_),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::flow::Field;

    #[test]
    fn flow_keywords_and_match_are_separated() {
        let f = parse_flow(
            FlowCommand::Add,
            "table=1,priority=100,cookie=0x5,idle_timeout=10,send_flow_rem,ip,nw_dst=198.18.0.1,actions=output:2",
        )
        .unwrap();
        assert_eq!(f.table_id, 1);
        assert_eq!(f.priority, 100);
        assert_eq!(f.cookie, 5);
        assert_eq!(f.idle_timeout, 10);
        assert_eq!(f.flags, OFPFF_SEND_FLOW_REM);
        assert_eq!(
            f.match_.match_.get(Field::Ipv4Dst),
            (0xc612_0001, 0xffff_ffff)
        );
        let fm = f.to_flow_mod();
        assert_eq!(fm.table_id, 1);
        assert_eq!(fm.buffer_id, OFP_NO_BUFFER);
    }

    #[test]
    fn additions_need_actions() {
        let e = parse_flow(FlowCommand::Add, "ip").unwrap_err();
        assert!(e.message().contains("must specify actions"), "{e}");
    }

    #[test]
    fn unknown_keyword_suggests_the_closest_name() {
        let e =
            parse_flow(FlowCommand::Add, "priority=10,nw_dts=1.2.3.4,actions=drop").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown field \"nw_dts\" in \"priority=10,nw_dts=1.2.3.4,actions=drop\"; did you mean nw_dst?"
        );
    }

    #[test]
    fn deletes_default_to_every_table_and_additions_to_table_zero() {
        let d = parse_flow(FlowCommand::Delete, "ip").unwrap().to_flow_mod();
        assert_eq!(d.table_id, OFPTT_ALL);
        let a = parse_flow(FlowCommand::Add, "ip,actions=drop")
            .unwrap()
            .to_flow_mod();
        assert_eq!(a.table_id, 0);
    }

    #[test]
    fn cookie_masks_select_and_are_refused_for_additions() {
        let d = parse_flow(FlowCommand::Delete, "cookie=0x10/0xf0").unwrap();
        assert_eq!((d.cookie, d.cookie_mask), (0x10, 0xf0));
        assert!(parse_flow(FlowCommand::Add, "cookie=1/1,actions=drop").is_err());
        let exact = parse_flow(FlowCommand::Delete, "cookie=0x5/-1").unwrap();
        assert_eq!((exact.cookie, exact.cookie_mask), (0x5, u64::MAX));
        assert!(parse_flow(FlowCommand::Delete, "cookie=0x5/-2").is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn mac() -> impl Strategy<Value = String> {
        any::<[u8; 6]>().prop_map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
    }

    fn ip4() -> impl Strategy<Value = String> {
        any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
    }

    /// One match element that needs no protocol.
    fn l2_field() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..0xff00).prop_map(|p| format!("in_port={p}")),
            mac().prop_map(|m| format!("dl_src={m}")),
            (mac(), mac()).prop_map(|(a, b)| format!("dl_dst={a}/{b}")),
            (0u16..4096).prop_map(|v| format!("dl_vlan={v}")),
            (0u8..8).prop_map(|v| format!("dl_vlan_pcp={v}")),
            any::<u16>().prop_map(|v| format!("vlan_tci=0x{v:04x}/0x{:04x}", v | 0x1000)),
            any::<u64>().prop_map(|v| format!("metadata={v:#x}")),
            (any::<u64>(), any::<u64>()).prop_map(|(v, m)| format!("tun_id={v:#x}/{m:#x}")),
        ]
    }

    fn ip_field() -> impl Strategy<Value = String> {
        prop_oneof![
            ip4().prop_map(|a| format!("nw_src={a}")),
            (ip4(), 0u32..=32).prop_map(|(a, n)| format!("nw_dst={a}/{n}")),
            (ip4(), ip4()).prop_map(|(a, m)| format!("nw_dst={a}/{m}")),
            (0u8..64).prop_map(|v| format!("ip_dscp={v}")),
            (0u8..4).prop_map(|v| format!("nw_ecn={v}")),
            any::<u8>().prop_map(|v| format!("nw_ttl={v}")),
            prop_oneof![
                Just("no"),
                Just("yes"),
                Just("first"),
                Just("later"),
                Just("not_later")
            ]
            .prop_map(|v| format!("ip_frag={v}")),
        ]
    }

    fn l4(proto: &'static str) -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u16>().prop_map(move |v| format!("{proto}_src={v}")),
            any::<u16>().prop_map(move |v| format!("{proto}_dst={v}")),
            (any::<u16>(), any::<u16>())
                .prop_map(move |(v, m)| format!("{proto}_dst={v:#x}/{m:#x}")),
        ]
    }

    fn action() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..0xff00).prop_map(|p| format!("output:{p}")),
            Just("NORMAL".to_string()),
            Just("flood".to_string()),
            Just("in_port".to_string()),
            (0u16..=0xffff).prop_map(|n| format!("controller:{n}")),
            (0u16..4096).prop_map(|v| format!("mod_vlan_vid:{v}")),
            mac().prop_map(|m| format!("mod_dl_src:{m}")),
            (0u32..1000).prop_map(|g| format!("group:{g}")),
            (0u32..8).prop_map(|q| format!("set_queue:{q}")),
            any::<u64>().prop_map(|v| format!("set_field:{v:#x}->metadata")),
            Just("push_vlan:0x88a8".to_string()),
            Just("push_mpls:0x8847".to_string()),
        ]
    }

    fn flow() -> impl Strategy<Value = String> {
        let proto = prop_oneof![
            Just(("", vec![])),
            Just(("ip", vec!["ip"])),
            Just(("tcp", vec!["ip", "tcp"])),
            Just(("udp", vec!["ip", "udp"])),
            Just(("arp", vec![])),
            Just(("ipv6", vec![])),
        ];
        (
            proto,
            proptest::collection::vec(l2_field(), 0..3),
            proptest::collection::vec(ip_field(), 0..3),
            proptest::collection::vec(prop_oneof![l4("tcp"), l4("udp")], 0..2),
            proptest::collection::vec(action(), 0..4),
            proptest::option::of(0u8..10),
            proptest::option::of(any::<u16>()),
            proptest::option::of((0u8..20, any::<u16>())),
        )
            .prop_map(|((p, kinds), l2, ip, l4s, acts, table, prio, extra)| {
                let mut parts: Vec<String> = Vec::new();
                if let Some(t) = table {
                    parts.push(format!("table={t}"));
                }
                if let Some(p) = prio {
                    parts.push(format!("priority={p}"));
                }
                if !p.is_empty() {
                    parts.push(p.to_string());
                }
                parts.extend(l2);
                if kinds.contains(&"ip") {
                    parts.extend(ip);
                }
                for f in l4s {
                    if kinds.contains(&"tcp") && f.starts_with("tcp")
                        || kinds.contains(&"udp") && f.starts_with("udp")
                    {
                        parts.push(f);
                    }
                }
                let mut a = if acts.is_empty() {
                    "drop".to_string()
                } else {
                    acts.join(",")
                };
                if let Some((goto, md)) = extra {
                    let t = table.unwrap_or(0);
                    a = format!("{a},write_metadata:{md:#x},goto_table:{}", t + 1 + goto);
                    a = a.trim_start_matches("drop,").to_string();
                }
                format!("{},actions={a}", parts.join(","))
            })
    }

    proptest! {
        #[test]
        fn printing_a_parsed_flow_is_a_fixed_point(text in flow()) {
            let f = parse_flow(FlowCommand::Add, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let printed = f.to_text();
            let again = parse_flow(FlowCommand::Add, &printed)
                .map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(again.to_text(), printed.clone());
            prop_assert_eq!(again.match_.match_, f.match_.match_);
            prop_assert_eq!(again.instructions, f.instructions);
            prop_assert_eq!((again.table_id, again.priority), (f.table_id, f.priority));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            crate::fuzzing::flow_syntax(text.as_bytes());
        }

        #[test]
        fn flow_like_text_never_panics(text in "[a-z_=,:/().0-9>x-]{0,60}") {
            crate::fuzzing::flow_syntax(text.as_bytes());
        }
    }
}
