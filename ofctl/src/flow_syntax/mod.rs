//! The flow syntax of ovs-fields(7) and ovs-actions(7): matches, packets,
//! whole flows, groups and meters, parsed into the switch's own types.
//!
//! # Shape
//!
//! Text is split into `key=value` pairs by [`lex`] exactly as `ovs-ofctl`
//! splits it. A match is built directly into a `datapath::flow::Match`
//! (the switch's key/mask model) plus the list of fields the text named,
//! because storage is shared in the flow key (a TCP port and an ICMP type
//! are the same bits) and prerequisites are judged over the named fields.
//! Generic L4 names (`tp_src`, `icmp_type`) are resolved once the whole
//! match is read, so `tp_dst=80,tcp` and `tcp,tp_dst=80` mean the same.
//!
//! Like `ovs-ofctl`, a match that names a field its protocol does not have
//! (`tp_dst=80` without `tcp`) is normalised: the field is dropped and
//! [`ParsedMatch::dropped`] says which, for the caller to warn about.
//! [`parse_packet`] instead reads exact values of one packet, where a
//! shorthand such as `tcp` implies `eth_type` and `ip_proto`.
//!
//! Every error is a [`SyntaxError`] whose message names the offending token,
//! the text it was found in, and what was expected.

pub mod actions;
pub mod fields;
pub mod flow;
pub mod group;
pub mod lex;
pub mod protocols;
pub mod value;

use datapath::flow::{Field, FlowKey, Match, VLAN_PRESENT};

use fields::{FieldDef, Syntax, Target};

pub use actions::{parse_action_list, parse_actions, ParsedActions};
pub use flow::{parse_flow, FlowCommand, FlowSpec};
pub use protocols::Protocols;

/// A flow-syntax error: one sentence naming the token and the expectation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

impl SyntaxError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// A parsed match: the switch's key/mask form and the fields it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedMatch {
    /// The match.
    pub match_: Match,
    /// The fields the text named (shorthands name `eth_type` and
    /// `ip_proto`), after generic names were resolved, in first-mention
    /// order and without repeats.
    pub named: Vec<Field>,
    /// Fields written in the text that the match's protocol does not have,
    /// and which were therefore dropped (`ovs-ofctl` normalisation), by
    /// canonical name.
    pub dropped: Vec<&'static str>,
}

/// The TCP flag names, bit 0 first.
pub const TCP_FLAG_NAMES: &[&str] = &["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];

/// Builds a match field by field. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct MatchBuilder {
    m: Match,
    named: Vec<Field>,
    /// Generic L4 values, resolved by [`finish`](Self::finish):
    /// (is source, value, mask, field name as written).
    l4: Vec<(bool, u128, u128, &'static str)>,
    /// Names written, for normalisation messages.
    written: Vec<(&'static str, Field)>,
}

fn name_field(named: &mut Vec<Field>, f: Field) {
    if !named.contains(&f) {
        named.push(f);
    }
}

impl MatchBuilder {
    /// An empty (catch-all) builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a protocol shorthand (`tcp`, `arp`, ...).
    pub fn protocol(&mut self, eth_type: u16, ip_proto: Option<u8>) {
        self.m.set(Field::EthType, eth_type.into());
        name_field(&mut self.named, Field::EthType);
        if let Some(p) = ip_proto {
            self.m.set(Field::IpProto, p.into());
            name_field(&mut self.named, Field::IpProto);
        }
    }

    /// Applies `def=text`; `ctx` is the whole input, for messages.
    ///
    /// # Errors
    /// A value the field cannot take, or a mask on a field that takes none.
    pub fn field(
        &mut self,
        def: &'static FieldDef,
        text: &str,
        ctx: &str,
    ) -> Result<(), SyntaxError> {
        let (value, mask) = parse_field_value(def, text, ctx)?;
        self.apply(def, value, mask);
        Ok(())
    }

    /// Applies an already parsed value and mask.
    pub fn apply(&mut self, def: &'static FieldDef, value: u128, mask: u128) {
        match def.target {
            Target::Plain(f) => {
                self.m.set_masked(f, value, mask);
                name_field(&mut self.named, f);
                self.written.push((def.name, f));
            }
            Target::NwTos => {
                self.m.set(Field::IpDscp, value >> 2);
                name_field(&mut self.named, Field::IpDscp);
                self.written.push((def.name, Field::IpDscp));
            }
            Target::DlVlan => {
                if value == 0xffff {
                    self.m.set_masked(Field::VlanVid, 0, 0x1fff);
                } else {
                    let v = value & 0xfff;
                    self.m
                        .set_masked(Field::VlanVid, v | u128::from(VLAN_PRESENT), 0x1fff);
                }
                name_field(&mut self.named, Field::VlanVid);
                self.written.push((def.name, Field::VlanVid));
            }
            Target::VlanPcp => {
                let (v, m) = self.m.get(Field::VlanVid);
                let present = u128::from(VLAN_PRESENT);
                self.m.set_masked(Field::VlanVid, v | present, m | present);
                self.m.set(Field::VlanPcp, value);
                name_field(&mut self.named, Field::VlanVid);
                name_field(&mut self.named, Field::VlanPcp);
                self.written.push((def.name, Field::VlanPcp));
            }
            Target::VlanTci => {
                self.m
                    .set_masked(Field::VlanVid, value & 0x1fff, mask & 0x1fff);
                self.m.set_masked(Field::VlanPcp, value >> 13, mask >> 13);
                if mask & 0x1fff != 0 {
                    name_field(&mut self.named, Field::VlanVid);
                }
                if mask >> 13 != 0 {
                    name_field(&mut self.named, Field::VlanPcp);
                }
                self.written.push((def.name, Field::VlanVid));
            }
            Target::TpSrc | Target::TpDst => {
                let src = def.target == Target::TpSrc;
                // ICMP types and codes are kept in the 16-bit port storage.
                let mask = if def.syntax == Syntax::Dec(8) && mask == 0xff {
                    0xffff
                } else {
                    mask
                };
                self.m
                    .set_masked(if src { Field::TcpSrc } else { Field::TcpDst }, value, mask);
                self.l4.retain(|e| e.0 != src);
                self.l4.push((src, value, mask, def.name));
            }
        }
    }

    /// The fields named so far (generic L4 names not yet resolved).
    pub fn named(&self) -> &[Field] {
        &self.named
    }

    /// The match so far.
    pub fn current(&self) -> &Match {
        &self.m
    }

    /// Resolves generic names, normalises as `ovs-ofctl` does and returns
    /// the match.
    pub fn finish(mut self) -> ParsedMatch {
        let (eth_type, _) = self.m.get(Field::EthType);
        let eth_known = self.m.get(Field::EthType).1 != 0;
        let (proto, proto_mask) = self.m.get(Field::IpProto);
        let proto = if proto_mask != 0 { Some(proto) } else { None };
        let is_ip4 = eth_known && eth_type == 0x0800;
        let is_ip6 = eth_known && eth_type == 0x86dd;
        let is_arp = eth_known && (eth_type == 0x0806 || eth_type == 0x8035);
        let is_mpls = eth_known && (eth_type == 0x8847 || eth_type == 0x8848);
        // Which field a generic L4 value is.
        for &(src, _, _, _) in &self.l4 {
            let f = match (is_ip4, is_ip6, proto) {
                (true, _, Some(1)) => Some(if src {
                    Field::Icmpv4Type
                } else {
                    Field::Icmpv4Code
                }),
                (_, true, Some(58)) => Some(if src {
                    Field::Icmpv6Type
                } else {
                    Field::Icmpv6Code
                }),
                (true, _, Some(6)) | (_, true, Some(6)) => {
                    Some(if src { Field::TcpSrc } else { Field::TcpDst })
                }
                (true, _, Some(17)) | (_, true, Some(17)) => {
                    Some(if src { Field::UdpSrc } else { Field::UdpDst })
                }
                (true, _, Some(132)) | (_, true, Some(132)) => {
                    Some(if src { Field::SctpSrc } else { Field::SctpDst })
                }
                _ => None,
            };
            if let Some(f) = f {
                name_field(&mut self.named, f);
            }
        }
        // Normalisation (what may be matched given eth_type and ip_proto).
        let tp_src_value = self.m.get(Field::TcpSrc).0;
        let may_nw_addr = is_ip4 || is_arp;
        let may_tp = (is_ip4 && matches!(proto, Some(1 | 6 | 17 | 132)))
            || (is_ip6 && matches!(proto, Some(6 | 17 | 58 | 132)));
        let icmp6 = is_ip6 && proto == Some(58);
        let may_sha = is_arp || (icmp6 && tp_src_value == 135);
        let may_tha = is_arp || (icmp6 && tp_src_value == 136);
        let may_nd = icmp6 && (tp_src_value == 135 || tp_src_value == 136);
        let mut dropped = Vec::new();
        let clear = |m: &mut Match, f: Field, ok: bool, gone: &mut Vec<Field>| {
            if !ok && m.get(f).1 != 0 {
                m.set_masked(f, 0, 0);
                gone.push(f);
            }
        };
        let mut gone: Vec<Field> = Vec::new();
        let m = &mut self.m;
        clear(m, Field::Ipv4Src, may_nw_addr, &mut gone);
        clear(m, Field::Ipv4Dst, may_nw_addr, &mut gone);
        clear(m, Field::TcpSrc, may_tp, &mut gone);
        clear(m, Field::TcpDst, may_tp, &mut gone);
        clear(m, Field::IpProto, is_ip4 || is_ip6, &mut gone);
        clear(m, Field::ArpOp, is_arp, &mut gone);
        clear(m, Field::IpDscp, is_ip4 || is_ip6, &mut gone);
        clear(m, Field::IpEcn, is_ip4 || is_ip6, &mut gone);
        clear(m, Field::NwTtl, is_ip4 || is_ip6, &mut gone);
        clear(m, Field::ArpSha, may_sha, &mut gone);
        clear(m, Field::ArpTha, may_tha, &mut gone);
        clear(m, Field::Ipv6Src, is_ip6, &mut gone);
        clear(m, Field::Ipv6Dst, is_ip6, &mut gone);
        clear(m, Field::Ipv6Flabel, is_ip6, &mut gone);
        clear(m, Field::Ipv6NdTarget, may_nd, &mut gone);
        clear(m, Field::MplsLabel, is_mpls, &mut gone);
        clear(m, Field::MplsTc, is_mpls, &mut gone);
        clear(m, Field::MplsBos, is_mpls, &mut gone);
        clear(m, Field::MplsTtl, is_mpls, &mut gone);
        clear(
            m,
            Field::PbbIsid,
            eth_known && eth_type == 0x88e7,
            &mut gone,
        );
        // Report by the names written, and forget named fields whose bits
        // were cleared.
        for g in &gone {
            for &(name, f) in &self.written {
                if shares_storage(f, *g) && !dropped.contains(&name) {
                    dropped.push(name);
                }
            }
            for &(src, _, _, name) in &self.l4 {
                let f = if src { Field::TcpSrc } else { Field::TcpDst };
                if f == *g && !dropped.contains(&name) {
                    dropped.push(name);
                }
            }
        }
        let m = self.m;
        self.named.retain(|&f| m.get(f).1 != 0);
        ParsedMatch {
            match_: m,
            named: self.named,
            dropped,
        }
    }
}

/// Whether two fields live in the same bits of the flow key.
fn shares_storage(a: Field, b: Field) -> bool {
    let mut k = FlowKey::default();
    a.set(&mut k, a.max_value());
    b.get(&k) != 0
}

/// Parses the value (and mask) of one field.
///
/// # Errors
/// A message naming the field, the text and what was expected.
pub fn parse_field_value(
    def: &FieldDef,
    text: &str,
    ctx: &str,
) -> Result<(u128, u128), SyntaxError> {
    let err =
        |why: String| SyntaxError::new(format!("bad value for {} in \"{ctx}\": {why}", def.name));
    let (v, m) = match def.syntax {
        Syntax::Frag => {
            let (v, m) = match text {
                "no" => (0, 1),
                "yes" => (1, 1),
                "first" => (1, 3),
                "later" => (3, 3),
                "not_later" => (0, 2),
                _ => {
                    return Err(err(format!(
                        "\"{text}\" is not a fragment state (expected no, yes, first, later or not_later)"
                    )))
                }
            };
            return Ok((v, m));
        }
        Syntax::TcpFlags => return parse_tcp_flags(text).map_err(err),
        _ => {
            let (vt, mt) = match text.split_once('/') {
                Some((v, m)) => (v, Some(m)),
                None => (text, None),
            };
            if mt.is_some() && !def.maskable {
                return Err(SyntaxError::new(format!(
                    "field {} in \"{ctx}\" does not take a mask",
                    def.name
                )));
            }
            let bits = match def.syntax {
                Syntax::Dec(b) | Syntax::Hex(b) => b,
                Syntax::Mac => 48,
                Syntax::Ipv4 => 32,
                Syntax::Ipv6 => 128,
                _ => 32,
            };
            let full = value::prefix_mask(bits, bits);
            let v = match def.syntax {
                Syntax::Dec(b) | Syntax::Hex(b) => value::parse_uint(vt, b).map_err(err)?,
                Syntax::Mac => value::parse_mac(vt).map_err(err)?,
                Syntax::Ipv4 => value::parse_ipv4(vt).map_err(err)?,
                Syntax::Ipv6 => value::parse_ipv6(vt).map_err(err)?,
                _ => u128::from(value::parse_port(vt).map_err(err)?),
            };
            let m = match mt {
                None => full,
                Some(mt) => match def.syntax {
                    Syntax::Ipv4 | Syntax::Ipv6 if !mt.contains(['.', ':']) => {
                        let n = value::parse_uint(mt, 32)
                            .ok()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|&n| n <= bits)
                            .ok_or_else(|| {
                                err(format!("\"/{mt}\" is not a prefix length of 0 to {bits}"))
                            })?;
                        value::prefix_mask(n, bits)
                    }
                    Syntax::Ipv4 => value::parse_ipv4(mt).map_err(err)?,
                    Syntax::Ipv6 => value::parse_ipv6(mt).map_err(err)?,
                    Syntax::Mac => value::parse_mac(mt).map_err(err)?,
                    _ => value::parse_uint(mt, bits).map_err(err)?,
                },
            };
            (v, m)
        }
    };
    Ok((v & m, m))
}

/// Parses TCP flags: `+syn-ack`-style names, or an integer with an optional
/// mask.
///
/// # Errors
/// A sentence naming an unknown flag or a malformed number.
pub fn parse_tcp_flags(text: &str) -> Result<(u128, u128), String> {
    let flag_bit = |name: &str| -> Result<u128, String> {
        TCP_FLAG_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|b| 1u128 << b)
            .ok_or_else(|| {
                format!(
                    "unknown TCP flag \"{name}\" (expected one of {})",
                    TCP_FLAG_NAMES.join(", ")
                )
            })
    };
    // "syn|ack": exactly these flags set, all others clear.
    if text.contains('|') || text.starts_with(|c: char| c.is_ascii_lowercase()) {
        let mut v = 0u128;
        for name in text.split('|') {
            v |= flag_bit(name)?;
        }
        return Ok((v, 0xfff));
    }
    if text.starts_with(['+', '-']) {
        let (mut v, mut m) = (0u128, 0u128);
        let mut rest = text;
        while !rest.is_empty() {
            let plus = rest.starts_with('+');
            if !plus && !rest.starts_with('-') {
                return Err(format!("expected + or - before \"{rest}\""));
            }
            let body = &rest[1..];
            let end = body.find(['+', '-']).unwrap_or(body.len());
            let name = &body[..end];
            let bit = TCP_FLAG_NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| {
                    format!(
                        "unknown TCP flag \"{name}\" (expected one of {})",
                        TCP_FLAG_NAMES.join(", ")
                    )
                })?;
            let b = 1u128 << bit;
            if m & b != 0 {
                return Err(format!("TCP flag {name} given twice"));
            }
            m |= b;
            if plus {
                v |= b;
            }
            rest = &body[end..];
        }
        return Ok((v, m));
    }
    let (vt, mt) = match text.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (text, None),
    };
    let v = value::parse_uint(vt, 12)?;
    let m = match mt {
        Some(mt) => value::parse_uint(mt, 12)?,
        None => 0xfff,
    };
    Ok((v & m, m))
}

pub(crate) fn unknown_field(key: &str, ctx: &str, extra: &[&'static str]) -> SyntaxError {
    let names = fields::all_names().chain(extra.iter().copied());
    let hint = fields::suggest(key, names)
        .map(|s| format!("; did you mean {s}?"))
        .unwrap_or_default();
    SyntaxError::new(format!("unknown field \"{key}\" in \"{ctx}\"{hint}"))
}

/// Parses a match (`in_port=1,tcp,nw_dst=10.0.0.0/8,tp_dst=80`).
///
/// # Errors
/// An unknown field (with a suggestion), a bad value or mask.
pub fn parse_match(s: &str) -> Result<ParsedMatch, SyntaxError> {
    let mut b = MatchBuilder::new();
    for p in lex::pairs(s) {
        if let Some((t, proto)) = fields::protocol(p.key) {
            if !p.value.is_empty() {
                return Err(SyntaxError::new(format!(
                    "{} in \"{s}\" is a protocol shorthand and takes no value",
                    p.key
                )));
            }
            b.protocol(t, proto);
            continue;
        }
        let def = fields::lookup(p.key).ok_or_else(|| unknown_field(p.key, s, &[]))?;
        if p.value.is_empty() {
            return Err(SyntaxError::new(format!(
                "field {} in \"{s}\" needs a value ({}=VALUE)",
                p.key, p.key
            )));
        }
        b.field(def, p.value, s)?;
    }
    Ok(b.finish())
}

/// Parses the fields of one packet as exact values
/// (`in_port=1,tcp,nw_src=10.0.0.1,tcp_dst=80`). Shorthands set `eth_type`
/// and `ip_proto`; fields left out are zero. Masks are refused (a packet has
/// one value per field), and so are fields the packet's protocols do not
/// have (`tcp_dst` needs `tcp`), in any order.
///
/// # Errors
/// As [`parse_match`], and a message for a mask or a missing protocol.
pub fn parse_packet(s: &str) -> Result<FlowKey, SyntaxError> {
    let mut key = FlowKey::default();
    let mut l4: Vec<(bool, u128, &'static str)> = Vec::new();
    let mut named: Vec<(&'static str, Field)> = Vec::new();
    for p in lex::pairs(s) {
        if let Some((t, proto)) = fields::protocol(p.key) {
            Field::EthType.set(&mut key, t.into());
            if let Some(pr) = proto {
                Field::IpProto.set(&mut key, pr.into());
            }
            continue;
        }
        let def = fields::lookup(p.key).ok_or_else(|| unknown_field(p.key, s, &[]))?;
        if p.value.is_empty() {
            return Err(SyntaxError::new(format!(
                "field {} in \"{s}\" needs a value ({}=VALUE)",
                p.key, p.key
            )));
        }
        if p.value.contains('/') && !matches!(def.syntax, Syntax::TcpFlags) {
            return Err(SyntaxError::new(format!(
                "field {} in \"{s}\" describes a packet and takes no mask",
                p.key
            )));
        }
        let (v, m) = parse_field_value(def, p.value, s)?;
        let mut b = MatchBuilder::new();
        b.apply(def, v, m);
        let one = b.m;
        match def.target {
            Target::TpSrc | Target::TpDst => l4.push((def.target == Target::TpSrc, v, def.name)),
            _ => {
                for f in &b.named {
                    named.push((def.name, *f));
                }
                // Copy the bits this field set into the packet.
                for (k, (w, mw)) in key
                    .as_words_mut()
                    .iter_mut()
                    .zip(one.key.as_words().iter().zip(one.mask.key.as_words()))
                {
                    *k = (*k & !mw) | (w & mw);
                }
            }
        }
    }
    for &(src, v, name) in &l4 {
        let f = match (key.eth_type, key.nw_proto) {
            (0x0800 | 0x86dd, 6) => Some(if src { Field::TcpSrc } else { Field::TcpDst }),
            (0x0800 | 0x86dd, 17) => Some(if src { Field::UdpSrc } else { Field::UdpDst }),
            (0x0800 | 0x86dd, 132) => Some(if src { Field::SctpSrc } else { Field::SctpDst }),
            (0x0800, 1) => Some(if src {
                Field::Icmpv4Type
            } else {
                Field::Icmpv4Code
            }),
            (0x86dd, 58) => Some(if src {
                Field::Icmpv6Type
            } else {
                Field::Icmpv6Code
            }),
            _ => None,
        };
        let Some(f) = f else {
            return Err(SyntaxError::new(format!(
                "field {name} in \"{s}\" needs a transport protocol (tcp, udp, sctp, icmp or icmp6)"
            )));
        };
        named.push((name, f));
        if src {
            key.tp_src = u16::try_from(v).unwrap_or(u16::MAX);
        } else {
            key.tp_dst = u16::try_from(v).unwrap_or(u16::MAX);
        }
    }
    let exact = Match::new(key, datapath::flow::FlowMask::exact());
    for (name, f) in named {
        if !datapath::flow::prerequisites_met(&[f], &exact) {
            return Err(SyntaxError::new(format!(
                "field {name} in \"{s}\" does not exist in this packet (give its protocol, e.g. ip, tcp, arp)"
            )));
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_and_masked_address_build_the_match() {
        let p = parse_match("tcp,nw_dst=10.0.0.0/8,tp_dst=80").unwrap();
        assert_eq!(p.match_.get(Field::EthType), (0x0800, 0xffff));
        assert_eq!(p.match_.get(Field::IpProto), (6, 0xff));
        assert_eq!(p.match_.get(Field::Ipv4Dst), (0x0a00_0000, 0xff00_0000));
        assert_eq!(p.match_.get(Field::TcpDst), (80, 0xffff));
        assert_eq!(
            p.named,
            vec![
                Field::EthType,
                Field::IpProto,
                Field::Ipv4Dst,
                Field::TcpDst
            ]
        );
        assert!(datapath::flow::prerequisites_met(&p.named, &p.match_));
    }

    #[test]
    fn generic_port_names_resolve_by_protocol_in_any_order() {
        let p = parse_match("tp_src=53,udp").unwrap();
        assert!(p.named.contains(&Field::UdpSrc));
        let p = parse_match("icmp,icmp_type=8").unwrap();
        assert!(p.named.contains(&Field::Icmpv4Type));
        assert_eq!(p.match_.get(Field::Icmpv4Type), (8, 0xff));
    }

    #[test]
    fn fields_without_their_protocol_are_dropped_and_reported() {
        let p = parse_match("tp_dst=80,nw_src=1.2.3.4").unwrap();
        assert_eq!(p.match_, Match::catch_all());
        assert_eq!(p.dropped, vec!["ip_src", "tcp_dst"]);
        assert!(p.named.is_empty());
    }

    #[test]
    fn unknown_field_names_the_token_and_suggests() {
        let e = parse_match("priority=10,nw_dts=1.2.3.4").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown field \"priority\" in \"priority=10,nw_dts=1.2.3.4\""
        );
        let e = parse_match("ip,nw_dts=1.2.3.4").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown field \"nw_dts\" in \"ip,nw_dts=1.2.3.4\"; did you mean nw_dst?"
        );
    }

    #[test]
    fn bad_values_and_masks_are_explained() {
        let e = parse_match("ip,nw_dst=1.2.3").unwrap_err();
        assert!(e.message().contains("ip_dst"), "{e}");
        assert!(e.message().contains("IPv4 address"), "{e}");
        let e = parse_match("ip,nw_proto=6/3").unwrap_err();
        assert!(e.message().contains("does not take a mask"), "{e}");
        let e = parse_match("tcp,tp_dst=65536").unwrap_err();
        assert!(e.message().contains("16 bits"), "{e}");
    }

    #[test]
    fn vlan_forms_set_the_present_bit_like_ovs() {
        let p = parse_match("dl_vlan=5,dl_vlan_pcp=3").unwrap();
        assert_eq!(p.match_.get(Field::VlanVid), (0x1005, 0x1fff));
        assert_eq!(p.match_.get(Field::VlanPcp), (3, 7));
        let p = parse_match("dl_vlan=0xffff").unwrap();
        assert_eq!(p.match_.get(Field::VlanVid), (0, 0x1fff));
        let p = parse_match("vlan_tci=0x1000/0x1000").unwrap();
        assert_eq!(p.match_.get(Field::VlanVid), (0x1000, 0x1000));
    }

    #[test]
    fn packet_fields_are_exact_and_shorthands_imply_types() {
        let k = parse_packet("in_port=3,tcp,nw_src=198.18.0.1,tcp_dst=80,dl_vlan=7").unwrap();
        assert_eq!(k.in_port, 3);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(k.nw_proto, 6);
        assert_eq!(k.ipv4_src, 0xc612_0001);
        assert_eq!(k.tp_dst, 80);
        assert_eq!(k.vlan_tci, 0x1007);
        assert!(parse_packet("ip,nw_src=1.0.0.0/8").is_err());
        assert!(parse_packet("tcp_dst=80").is_err());
        assert!(parse_packet("nw_src=1.2.3.4").is_err());
        assert_eq!(parse_packet("tcp_dst=80,tcp").unwrap().tp_dst, 80);
    }

    #[test]
    fn tcp_flags_take_names_or_numbers() {
        assert_eq!(parse_tcp_flags("+syn-ack"), Ok((2, 0x12)));
        assert_eq!(parse_tcp_flags("0x2/0x12"), Ok((2, 0x12)));
        assert!(parse_tcp_flags("+bogus").is_err());
        assert!(parse_tcp_flags("+syn+syn").is_err());
    }
}
