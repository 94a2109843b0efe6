//! Actions and instructions of ovs-actions(7), parsed into OpenFlow 1.3 wire
//! instructions (`controller_proto::instruction::Instruction`).
//!
//! Actions written without an instruction go into apply-actions; `meter`,
//! `clear_actions`, `write_actions(...)`, `write_metadata` and `goto_table`
//! are instructions and must come in OpenFlow 1.1's order, as `ovs-ofctl`
//! insists. Legacy actions become what Open vSwitch sends for them in
//! OpenFlow 1.3: `mod_nw_src` a set-field of `ip_src`, `mod_tp_src` a
//! set-field of the L4 protocol the match selects, `mod_vlan_vid` a
//! set-field preceded by `push_vlan` when the packet has no tag yet.
//! Parsing therefore needs the match, and tracks through the list whether a
//! VLAN tag is present.
//!
//! A masked `set_field:VALUE/MASK->FIELD` goes out as Open vSwitch sends
//! it in OpenFlow 1.3, which has no masked set-field: a plain set-field when
//! the mask covers the field, nothing when it selects no bit, and otherwise
//! one Nicira `NXAST_REG_LOAD` per run of mask bits. `load:VALUE->DST[a..b]`
//! (the form those loads print in) is accepted too.
//!
//! The result also narrows the [`Protocols`] that can express the flow, for
//! `parse-flow`'s report.

use controller_proto::action::{Action, OFPCML_NO_BUFFER};
use controller_proto::instruction::Instruction;
use controller_proto::nicira;
use controller_proto::oxm::OxmField;
use controller_proto::port::{OFPP_ANY, OFPP_CONTROLLER, OFPP_MAX};
use datapath::flow::{Field, Match};

use super::fields::{self, field_syntax, Syntax};
use super::lex;
use super::protocols::{self as proto, Protocols};
use super::value::{parse_ipv4, parse_ipv6, parse_mac, parse_port, parse_uint, prefix_mask};
use super::SyntaxError;

/// Parsed instructions, in OpenFlow's execution order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedActions {
    /// The instructions (meter, apply, clear, write, write-metadata, goto).
    pub instructions: Vec<Instruction>,
    /// The protocols that can express them.
    pub usable: Protocols,
}

/// The instruction kinds in the order OpenFlow 1.1+ requires.
const INSTRUCTION_ORDER: &[&str] = &[
    "meter",
    "apply_actions",
    "clear_actions",
    "write_actions",
    "write_metadata",
    "goto_table",
];

/// Every action and instruction keyword, for suggestions.
const KEYWORDS: &[&str] = &[
    "output",
    "controller",
    "drop",
    "in_port",
    "normal",
    "flood",
    "all",
    "local",
    "mod_vlan_vid",
    "mod_vlan_pcp",
    "strip_vlan",
    "pop_vlan",
    "push_vlan",
    "push_mpls",
    "pop_mpls",
    "set_mpls_label",
    "set_mpls_tc",
    "set_mpls_ttl",
    "dec_mpls_ttl",
    "mod_dl_src",
    "mod_dl_dst",
    "mod_nw_src",
    "mod_nw_dst",
    "mod_nw_tos",
    "mod_nw_ecn",
    "mod_nw_ttl",
    "mod_tp_src",
    "mod_tp_dst",
    "dec_ttl",
    "set_queue",
    "group",
    "set_field",
    "load",
    "meter",
    "clear_actions",
    "write_actions",
    "write_metadata",
    "goto_table",
];

struct State<'m> {
    ctx: &'m str,
    m: &'m Match,
    vlan: bool,
    usable: Protocols,
}

impl State<'_> {
    fn err(&self, msg: String) -> SyntaxError {
        SyntaxError::new(format!("{msg} in \"{}\"", self.ctx))
    }

    fn uint(&self, key: &str, v: &str, bits: u32) -> Result<u128, SyntaxError> {
        parse_uint(v, bits).map_err(|e| self.err(format!("bad argument to {key}: {e}")))
    }

    fn ethertype(&self, key: &str, v: &str) -> Result<u16, SyntaxError> {
        Ok(u16::try_from(self.uint(key, v, 16)?).unwrap_or(0))
    }

    fn port(&self, key: &str, v: &str) -> Result<u32, SyntaxError> {
        let p = parse_port(v).map_err(|e| self.err(format!("bad port for {key}: {e}")))?;
        if p == OFPP_ANY {
            return Err(self.err(format!("{key}: cannot output to port ANY")));
        }
        Ok(p)
    }

    fn set_field(&mut self, f: Field, v: u128, out: &mut Vec<Action>) {
        out.push(Action::SetField(OxmField::exact(f, v)));
    }

    fn proto(&self) -> Option<u8> {
        let (v, m) = self.m.get(Field::IpProto);
        (m != 0).then(|| u8::try_from(v).unwrap_or(0))
    }
}

/// Parses the text after `actions=`; `m` is the flow's match (legacy
/// actions depend on it) and `ctx` the whole flow, for messages.
///
/// # Errors
/// An unknown action (with a suggestion), a bad argument, instructions out
/// of order or repeated, or `drop` with other actions.
pub fn parse_actions(text: &str, m: &Match, ctx: &str) -> Result<ParsedActions, SyntaxError> {
    let mut st = State {
        ctx,
        m,
        vlan: m.mask.key.vlan_tci & 0x1000 != 0 && m.key.vlan_tci & 0x1000 != 0,
        usable: Protocols::any(),
    };
    let mut meter = None;
    let mut apply: Vec<Action> = Vec::new();
    let mut clear = false;
    let mut write: Option<Vec<Action>> = None;
    let mut metadata = None;
    let mut goto = None;
    let mut last_kind = 0usize;
    let mut seen = [false; 6];
    let mut drop = false;
    let mut any = false;
    for p in lex::pairs(text) {
        let kind = match p.key {
            "meter" => 0,
            "apply_actions" => {
                return Err(st.err(
                    "apply_actions is the default instruction; write its actions directly".into(),
                ))
            }
            "clear_actions" => 2,
            "write_actions" => 3,
            "write_metadata" => 4,
            "goto_table" => 5,
            "drop" => {
                drop = true;
                continue;
            }
            _ => 1,
        };
        any = true;
        if kind < last_kind {
            return Err(st.err(format!(
                "{} must come before {} (OpenFlow 1.1+ instruction order)",
                INSTRUCTION_ORDER[kind], INSTRUCTION_ORDER[last_kind]
            )));
        }
        if kind != 1 && seen[kind] {
            return Err(st.err(format!("{} may be given only once", p.key)));
        }
        seen[kind] = true;
        last_kind = kind;
        match kind {
            0 => {
                st.usable.restrict(proto::OF13_UP);
                let id = st.uint("meter", p.value, 32)?;
                meter = Some(u32::try_from(id).unwrap_or(0));
            }
            2 => clear = true,
            3 => {
                let mut list = Vec::new();
                for q in lex::pairs(p.value) {
                    if q.key == "drop" {
                        continue;
                    }
                    parse_action(&mut st, q.key, q.value, q.parens, &mut list)?;
                }
                write = Some(list);
            }
            4 => {
                st.usable.restrict(proto::NXM_OF11_UP);
                let (v, mk) = match p.value.split_once('/') {
                    Some((v, mk)) => (v, Some(mk)),
                    None => (p.value, None),
                };
                let v = st.uint("write_metadata", v, 64)?;
                let mk = match mk {
                    Some(mk) => st.uint("write_metadata", mk, 64)?,
                    None => u128::from(u64::MAX),
                };
                metadata = Some((
                    u64::try_from(v).unwrap_or(0),
                    u64::try_from(mk).unwrap_or(0),
                ));
            }
            5 => {
                let t = st.uint("goto_table", p.value, 8)?;
                goto = Some(u8::try_from(t).unwrap_or(0));
            }
            _ => parse_action(&mut st, p.key, p.value, p.parens, &mut apply)?,
        }
    }
    if drop && any {
        return Err(
            st.err("\"drop\" must not be accompanied by any other action or instruction".into())
        );
    }
    let mut instructions = Vec::new();
    if let Some(m) = meter {
        instructions.push(Instruction::Meter(m));
    }
    if !apply.is_empty() {
        instructions.push(Instruction::ApplyActions(apply));
    }
    if clear {
        instructions.push(Instruction::ClearActions);
    }
    if let Some(w) = write {
        if !w.is_empty() {
            instructions.push(Instruction::WriteActions(w));
        }
    }
    if let Some((metadata, mask)) = metadata {
        instructions.push(Instruction::WriteMetadata { metadata, mask });
    }
    if let Some(t) = goto {
        instructions.push(Instruction::GotoTable(t));
    }
    Ok(ParsedActions {
        instructions,
        usable: st.usable,
    })
}

/// Parses a list of plain actions (for group buckets and packet-out).
///
/// # Errors
/// As [`parse_actions`]; instructions are refused.
pub fn parse_action_list(
    text: &str,
    m: &Match,
    ctx: &str,
) -> Result<(Vec<Action>, Protocols), SyntaxError> {
    let mut st = State {
        ctx,
        m,
        vlan: m.mask.key.vlan_tci & 0x1000 != 0 && m.key.vlan_tci & 0x1000 != 0,
        usable: Protocols::any(),
    };
    let mut out = Vec::new();
    let mut drop = false;
    for p in lex::pairs(text) {
        if p.key == "drop" {
            drop = true;
            continue;
        }
        if INSTRUCTION_ORDER.contains(&p.key) {
            return Err(st.err(format!("{} is an instruction, not an action", p.key)));
        }
        parse_action(&mut st, p.key, p.value, p.parens, &mut out)?;
    }
    if drop && !out.is_empty() {
        return Err(st.err("\"drop\" must not be accompanied by any other action".into()));
    }
    Ok((out, st.usable))
}

fn parse_action(
    st: &mut State<'_>,
    key: &str,
    value: &str,
    parens: bool,
    out: &mut Vec<Action>,
) -> Result<(), SyntaxError> {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "output" => {
            let port_text = if parens {
                value
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("port="))
                    .unwrap_or(value)
            } else {
                value
            };
            let port = st.port("output", port_text)?;
            let max_len = if port == OFPP_CONTROLLER {
                OFPCML_NO_BUFFER
            } else {
                0
            };
            out.push(Action::Output { port, max_len });
        }
        "controller" => {
            let mut max_len = OFPCML_NO_BUFFER;
            if !value.is_empty() {
                if parens {
                    for kv in value.split(',') {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        match k {
                            "max_len" => {
                                max_len = u16::try_from(st.uint("controller", v, 16)?).unwrap_or(0);
                            }
                            "reason" if v == "action" => {}
                            "id" if v == "0" => {}
                            _ => {
                                return Err(st.err(format!(
                                    "controller option \"{kv}\" is not supported (only max_len=N)"
                                )))
                            }
                        }
                    }
                } else {
                    max_len = u16::try_from(st.uint("controller", value, 16)?).unwrap_or(0);
                }
            }
            out.push(Action::Output {
                port: OFPP_CONTROLLER,
                max_len,
            });
        }
        "mod_vlan_vid" => {
            let vid = st.uint("mod_vlan_vid", value, 12)?;
            if !st.vlan {
                out.push(Action::PushVlan(0x8100));
                st.vlan = true;
            }
            st.set_field(Field::VlanVid, vid | 0x1000, out);
        }
        "mod_vlan_pcp" => {
            let pcp = st.uint("mod_vlan_pcp", value, 3)?;
            if !st.vlan {
                out.push(Action::PushVlan(0x8100));
                st.vlan = true;
            }
            st.set_field(Field::VlanPcp, pcp, out);
        }
        "strip_vlan" | "pop_vlan" => {
            out.push(Action::PopVlan);
            st.vlan = false;
        }
        "push_vlan" => {
            let e = st.ethertype("push_vlan", value)?;
            if e != 0x8100 && e != 0x88a8 {
                return Err(st.err(format!(
                    "push_vlan: ethertype {value} is not 0x8100 or 0x88a8"
                )));
            }
            st.usable.restrict(proto::OF11_UP);
            out.push(Action::PushVlan(e));
            st.vlan = true;
        }
        "push_mpls" => {
            let e = st.ethertype("push_mpls", value)?;
            if e != 0x8847 && e != 0x8848 {
                return Err(st.err(format!(
                    "push_mpls: ethertype {value} is not 0x8847 or 0x8848"
                )));
            }
            out.push(Action::PushMpls(e));
        }
        "pop_mpls" => {
            let e = st.ethertype("pop_mpls", value)?;
            out.push(Action::PopMpls(e));
        }
        "set_mpls_label" => {
            let v = st.uint("set_mpls_label", value, 20)?;
            st.set_field(Field::MplsLabel, v, out);
        }
        "set_mpls_tc" => {
            let v = st.uint("set_mpls_tc", value, 3)?;
            st.set_field(Field::MplsTc, v, out);
        }
        "set_mpls_ttl" => {
            let v = st.uint("set_mpls_ttl", value, 8)?;
            out.push(Action::SetMplsTtl(u8::try_from(v).unwrap_or(0)));
        }
        "dec_mpls_ttl" => out.push(Action::DecMplsTtl),
        "mod_dl_src" | "mod_dl_dst" => {
            let v = parse_mac(value).map_err(|e| st.err(format!("bad argument to {key}: {e}")))?;
            let f = if lower == "mod_dl_src" {
                Field::EthSrc
            } else {
                Field::EthDst
            };
            st.set_field(f, v, out);
        }
        "mod_nw_src" | "mod_nw_dst" => {
            let v = parse_ipv4(value).map_err(|e| st.err(format!("bad argument to {key}: {e}")))?;
            let f = if lower == "mod_nw_src" {
                Field::Ipv4Src
            } else {
                Field::Ipv4Dst
            };
            st.set_field(f, v, out);
        }
        "mod_nw_tos" => {
            let v = st.uint("mod_nw_tos", value, 8)?;
            if v & 3 != 0 {
                return Err(st.err(format!(
                    "mod_nw_tos: {value} is not a valid TOS (the two low bits must be zero)"
                )));
            }
            st.set_field(Field::IpDscp, v >> 2, out);
        }
        "mod_nw_ecn" => {
            let v = st.uint("mod_nw_ecn", value, 2)?;
            st.set_field(Field::IpEcn, v, out);
        }
        "mod_nw_ttl" => {
            let v = st.uint("mod_nw_ttl", value, 8)?;
            out.push(Action::SetNwTtl(u8::try_from(v).unwrap_or(0)));
        }
        "mod_tp_src" | "mod_tp_dst" => {
            let v = st.uint(key, value, 16)?;
            let src = lower == "mod_tp_src";
            let f = match st.proto() {
                Some(6) => {
                    if src {
                        Field::TcpSrc
                    } else {
                        Field::TcpDst
                    }
                }
                Some(17) => {
                    if src {
                        Field::UdpSrc
                    } else {
                        Field::UdpDst
                    }
                }
                Some(132) => {
                    if src {
                        Field::SctpSrc
                    } else {
                        Field::SctpDst
                    }
                }
                _ => {
                    return Err(st.err(format!(
                        "{key} needs a match on tcp, udp or sctp to know which port to set"
                    )))
                }
            };
            st.set_field(f, v, out);
        }
        "dec_ttl" => {
            if !value.is_empty() {
                return Err(st.err("dec_ttl takes no controller ids in OpenFlow 1.3".into()));
            }
            out.push(Action::DecNwTtl);
        }
        "set_queue" => {
            let q = st.uint("set_queue", value, 32)?;
            out.push(Action::SetQueue(u32::try_from(q).unwrap_or(0)));
        }
        "group" => {
            let g = st.uint("group", value, 32)?;
            out.push(Action::Group(u32::try_from(g).unwrap_or(0)));
        }
        "set_field" => parse_set_field(st, value, out)?,
        "load" => parse_load(st, value, out)?,
        _ => {
            // A port name or number means output to it.
            if let Ok(port) = parse_port(key) {
                if value.is_empty() && port != OFPP_ANY && port != OFPP_MAX {
                    let max_len = if port == OFPP_CONTROLLER {
                        OFPCML_NO_BUFFER
                    } else {
                        0
                    };
                    out.push(Action::Output { port, max_len });
                    return Ok(());
                }
            }
            let hint = fields::suggest(&lower, KEYWORDS.iter().copied())
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            return Err(SyntaxError::new(format!(
                "unknown action \"{key}\" in \"{}\"{hint}",
                st.ctx
            )));
        }
    }
    Ok(())
}

fn parse_set_field(
    st: &mut State<'_>,
    value: &str,
    out: &mut Vec<Action>,
) -> Result<(), SyntaxError> {
    let (v, dst) = value.rsplit_once("->").ok_or_else(|| {
        st.err(format!(
            "set_field \"{value}\" is not of the form VALUE->FIELD"
        ))
    })?;
    let f = fields::settable_field(dst).ok_or_else(|| {
        let hint = fields::suggest(dst, fields::all_names())
            .map(|s| format!("; did you mean {s}?"))
            .unwrap_or_default();
        st.err(format!("set_field: unknown field \"{dst}\"{hint}"))
    })?;
    if !controller_proto::action::settable(f) {
        return Err(st.err(format!("set_field: {dst} cannot be set")));
    }
    if matches!(f, Field::EthType | Field::IpProto | Field::ArpOp) {
        return Err(st.err(format!("set_field: {dst} is read-only")));
    }
    let (v, mask_text) = match v.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (v, None),
    };
    if mask_text.is_some() && !fields::lookup(dst).is_some_and(|d| d.maskable) {
        return Err(st.err(format!(
            "set_field: {v}/{}: invalid mask for field {dst}",
            mask_text.unwrap_or_default()
        )));
    }
    let bad = |e: String| st.err(format!("set_field: bad value for {dst}: {e}"));
    let parse = |text: &str| -> Result<u128, SyntaxError> {
        Ok(match field_syntax(f) {
            Syntax::Mac => parse_mac(text).map_err(bad)?,
            Syntax::Ipv4 => parse_ipv4(text).map_err(bad)?,
            Syntax::Ipv6 => parse_ipv6(text).map_err(bad)?,
            Syntax::Port => u128::from(parse_port(text).map_err(bad)?),
            _ => parse_uint(text, f.bits()).map_err(bad)?,
        })
    };
    let val = parse(v)?;
    let mask = match mask_text {
        None => None,
        // An address mask may also be written as a prefix length.
        Some(m)
            if matches!(field_syntax(f), Syntax::Ipv4 | Syntax::Ipv6)
                && !m.contains(['.', ':']) =>
        {
            let n = parse_uint(m, 8)
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= f.bits())
                .ok_or_else(|| st.err(format!("set_field: bad mask for {dst}: \"{m}\"")))?;
            Some(prefix_mask(n, f.bits()))
        }
        Some(m) => {
            Some(parse(m).map_err(|_| st.err(format!("set_field: bad mask for {dst}: \"{m}\"")))?)
        }
    };
    // Set-field is as portable as an exact match on the field.
    if let Some(def) = fields::FIELDS
        .iter()
        .find(|d| fields::settable_field(d.name) == Some(f))
    {
        st.usable
            .restrict(super::flow::field_protocols(def, false, 0));
    }
    if f == Field::VlanVid {
        st.vlan = true;
    }
    match mask {
        // Open vSwitch sends a plain set-field only for a mask of all ones
        // over the field's wire bytes (never for the 13-bit VLAN id).
        Some(m) if wire_bits_all_ones(f) & !m != 0 => {
            out.extend(
                nicira::reg_loads_for(f, val & m, m)
                    .into_iter()
                    .map(Action::RegLoad),
            );
        }
        _ => st.set_field(f, val, out),
    }
    Ok(())
}

/// All ones over the bytes `f` takes in an OXM.
fn wire_bits_all_ones(f: Field) -> u128 {
    let bits = 8 * controller_proto::oxm::wire_len(f);
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Parses `VALUE->DST[a..b]` (or `DST[n]`, `DST[]`, `DST`): a load of an
/// immediate into a bit range, `DST` an NXM/OXM name (`NXM_OF_IP_DST`) or a
/// field name (`ip_dst`).
fn parse_load(st: &mut State<'_>, value: &str, out: &mut Vec<Action>) -> Result<(), SyntaxError> {
    let (v, dst) = value.split_once("->").ok_or_else(|| {
        st.err(format!(
            "load \"{value}\" is not of the form VALUE->DST[BITS]"
        ))
    })?;
    let (name, range) = match dst.split_once('[') {
        Some((n, r)) => {
            let r = r
                .strip_suffix(']')
                .ok_or_else(|| st.err(format!("load: \"{dst}\" is missing its closing ']'")))?;
            (n, Some(r))
        }
        None => (dst, None),
    };
    let f = nicira::field_of_load_name(name)
        .or_else(|| fields::settable_field(name))
        .filter(|f| nicira::load_header(*f).is_some())
        .ok_or_else(|| st.err(format!("load: unknown destination field \"{name}\"")))?;
    if !controller_proto::action::settable(f) {
        return Err(st.err(format!("load: {name} cannot be written")));
    }
    let width = nicira::load_width(f);
    let bad_range = || {
        st.err(format!(
            "load: bad bit range \"{dst}\" for a {width}-bit field"
        ))
    };
    let (ofs, n) = match range.map(str::trim) {
        None | Some("") => (0, width),
        Some(r) => {
            let (a, b) = r.split_once("..").unwrap_or((r, r));
            let a = a.trim().parse::<u32>().map_err(|_| bad_range())?;
            let b = b.trim().parse::<u32>().map_err(|_| bad_range())?;
            if a > b || b >= width {
                return Err(bad_range());
            }
            (a, b - a + 1)
        }
    };
    let val = parse_uint(v, n).map_err(|e| st.err(format!("load: bad value for {name}: {e}")))?;
    let run = prefix_mask(n, n) << ofs;
    if f == Field::VlanVid {
        st.vlan = true;
    }
    out.extend(
        nicira::reg_loads_for(f, val << ofs, run)
            .into_iter()
            .map(Action::RegLoad),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_syntax::parse_match;

    fn acts(m: &str, a: &str) -> Result<Vec<Instruction>, SyntaxError> {
        let pm = parse_match(m).unwrap();
        parse_actions(a, &pm.match_, a).map(|p| p.instructions)
    }

    #[test]
    fn masked_set_field_becomes_one_nicira_load_per_run_and_prints_as_ovs_ofctl_does() {
        let insts = acts("ip", "set_field:10.0.0.1/255.0.255.0->ip_dst").unwrap();
        let [Instruction::ApplyActions(a)] = &insts[..] else {
            panic!("{insts:?}")
        };
        assert_eq!(
            a,
            &nicira::reg_loads_for(Field::Ipv4Dst, 0x0a00_0000, 0xff00_ff00)
                .into_iter()
                .map(Action::RegLoad)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            crate::format::actions::actions_text(a),
            "load:0->NXM_OF_IP_DST[8..15],load:0xa->NXM_OF_IP_DST[24..31]"
        );
        // A full mask is a plain set-field, an empty one nothing at all.
        let full = acts("", "set_field:00:00:00:00:00:01/ff:ff:ff:ff:ff:ff->eth_dst").unwrap();
        assert_eq!(
            full,
            vec![Instruction::ApplyActions(vec![Action::SetField(
                OxmField::exact(Field::EthDst, 1)
            )])]
        );
        assert_eq!(acts("", "set_field:1/0->metadata").unwrap(), vec![]);
        // The printed form parses back to the same loads.
        let back = acts(
            "ip",
            "load:0->NXM_OF_IP_DST[8..15],load:0xa->NXM_OF_IP_DST[24..31]",
        )
        .unwrap();
        assert_eq!(back, insts);
    }

    #[test]
    fn masks_on_fields_open_vswitch_cannot_mask_and_bad_loads_are_refused() {
        let e = acts("ip", "set_field:0x10/0xf0->ip_dscp").unwrap_err();
        assert!(
            e.to_string().contains("invalid mask for field ip_dscp"),
            "{e}"
        );
        assert!(acts("", "load:1->NXM_OF_IP_DST[0..40]").is_err());
        assert!(acts("", "load:0x100->NXM_OF_ETH_DST[0..7]").is_err());
        assert!(acts("", "load:1->NO_SUCH_FIELD[]").is_err());
        assert!(acts("", "load:1->NXM_OF_IP_DST[3").is_err());
    }

    #[test]
    fn plain_actions_go_into_apply_actions() {
        assert_eq!(
            acts("", "output:2,3,LOCAL").unwrap(),
            vec![Instruction::ApplyActions(vec![
                Action::Output {
                    port: 2,
                    max_len: 0
                },
                Action::Output {
                    port: 3,
                    max_len: 0
                },
                Action::Output {
                    port: controller_proto::port::OFPP_LOCAL,
                    max_len: 0
                },
            ])]
        );
    }

    #[test]
    fn mod_vlan_vid_pushes_a_tag_only_when_there_is_none() {
        let i = acts("", "mod_vlan_vid:5").unwrap();
        assert_eq!(
            i,
            vec![Instruction::ApplyActions(vec![
                Action::PushVlan(0x8100),
                Action::SetField(OxmField::exact(Field::VlanVid, 0x1005)),
            ])]
        );
        let i = acts("dl_vlan=3", "mod_vlan_vid:5").unwrap();
        assert_eq!(
            i,
            vec![Instruction::ApplyActions(vec![Action::SetField(
                OxmField::exact(Field::VlanVid, 0x1005)
            )])]
        );
    }

    #[test]
    fn instructions_out_of_order_are_refused() {
        let e = acts("", "goto_table:2,output:1").unwrap_err();
        assert!(
            e.message()
                .contains("apply_actions must come before goto_table"),
            "{e}"
        );
        let e = acts("", "write_metadata:1,clear_actions").unwrap_err();
        assert!(
            e.message()
                .contains("clear_actions must come before write_metadata"),
            "{e}"
        );
    }

    #[test]
    fn drop_stands_alone() {
        assert_eq!(acts("", "drop").unwrap(), vec![]);
        assert!(acts("", "drop,output:1").is_err());
    }

    #[test]
    fn mod_tp_src_follows_the_protocol() {
        let i = acts("udp", "mod_tp_src:5").unwrap();
        assert_eq!(
            i,
            vec![Instruction::ApplyActions(vec![Action::SetField(
                OxmField::exact(Field::UdpSrc, 5)
            )])]
        );
        assert!(acts("ip", "mod_tp_src:5").is_err());
    }

    #[test]
    fn unknown_action_suggests_a_keyword() {
        let e = acts("", "outptu:1").unwrap_err();
        assert!(e.message().contains("did you mean output?"), "{e}");
    }
}
