//! Printing OpenFlow 1.3 actions and instructions the way `ovs-ofctl`
//! prints them (`actions=meter:5,output:2,write_actions(group:4),goto_table:9`).
//!
//! Instructions print in OpenFlow's execution order whatever order the
//! message carried them in, as Open vSwitch does: meter, apply-actions (its
//! actions bare), `clear_actions`, `write_actions(...)`, `write_metadata`,
//! `goto_table`. No instruction at all prints `drop`.

use controller_proto::action::Action;
use controller_proto::instruction::Instruction;
use controller_proto::nicira::{self, RegLoad};
use controller_proto::oxm::{OxmField, OxmId};
use controller_proto::port::{OFPP_CONTROLLER, OFPP_MAX};
use datapath::flow::Field;

use super::matches::c_alt_hex;
use crate::flow_syntax::fields::{field_syntax, set_field_name, Syntax};
use crate::flow_syntax::value::{fmt_ipv4, fmt_ipv6, fmt_mac, port_name};

/// A field value in the notation `set_field` prints it in.
pub fn field_value_text(f: Field, v: u128) -> String {
    match field_syntax(f) {
        Syntax::Mac => fmt_mac(v),
        Syntax::Ipv4 => fmt_ipv4(v),
        Syntax::Ipv6 => fmt_ipv6(v),
        Syntax::Port => port_name(u32::try_from(v).unwrap_or(u32::MAX)),
        Syntax::Hex(_) => c_alt_hex(v),
        _ => v.to_string(),
    }
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn set_field_text(f: &OxmField) -> String {
    match f.basic() {
        Some((field, v, None)) => {
            format!(
                "set_field:{}->{}",
                field_value_text(field, v),
                set_field_name(field)
            )
        }
        Some((field, v, Some(m))) => format!(
            "set_field:{}/{}->{}",
            field_value_text(field, v),
            field_value_text(field, m),
            set_field_name(field)
        ),
        None => match f.field {
            OxmId::Experimenter {
                field,
                experimenter,
                ..
            } => format!(
                "set_field:0x{}->experimenter({experimenter:#x},{field})",
                hex_bytes(&f.value)
            ),
            OxmId::Other { class, field, .. } => {
                format!(
                    "set_field:0x{}->oxm({class:#06x},{field})",
                    hex_bytes(&f.value)
                )
            }
            OxmId::Basic(_) => String::from("set_field:?"),
        },
    }
}

/// A Nicira load as `ovs-ofctl` prints it: `load:0xa->NXM_OF_IP_DST[24..31]`
/// (`[]` for the whole field, `[N]` for one bit, the value `0` bare).
fn reg_load_text(l: &RegLoad) -> String {
    let value = if l.value == 0 {
        "0".to_string()
    } else {
        format!("{:#x}", l.value)
    };
    let (ofs, n) = (l.ofs(), l.n_bits());
    let Some(f) = nicira::field_of_header(l.dst) else {
        return format!("load:{value}->{:#010x}[{ofs}..{}]", l.dst, ofs + n - 1);
    };
    let name = nicira::load_name(f).unwrap_or_else(|| set_field_name(f));
    let range = if ofs == 0 && n == nicira::load_width(f) {
        String::new()
    } else if n == 1 {
        ofs.to_string()
    } else {
        format!("{ofs}..{}", ofs + n - 1)
    };
    format!("load:{value}->{name}[{range}]")
}

/// One action as `ovs-ofctl` prints it.
pub fn action_text(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } => {
            if *port < OFPP_MAX {
                format!("output:{}", port_name(*port))
            } else if *port == OFPP_CONTROLLER {
                format!("CONTROLLER:{max_len}")
            } else {
                port_name(*port)
            }
        }
        Action::CopyTtlOut => "copy_ttl_out".into(),
        Action::CopyTtlIn => "copy_ttl_in".into(),
        Action::SetMplsTtl(t) => format!("set_mpls_ttl({t})"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(e) => format!("push_vlan:{e:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(e) => format!("push_mpls:{e:#06x}"),
        Action::PopMpls(e) => format!("pop_mpls:{e:#06x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("mod_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField(f) => set_field_text(f),
        Action::PushPbb(e) => format!("push_pbb:{e:#06x}"),
        Action::PopPbb => "pop_pbb".into(),
        Action::RegLoad(l) => reg_load_text(l),
        Action::Experimenter { experimenter, data } => {
            format!("experimenter({experimenter:#x},0x{})", hex_bytes(data))
        }
        Action::Unknown { action_type, body } => {
            format!("unknown_action({action_type},0x{})", hex_bytes(body))
        }
    }
}

/// A list of actions, comma-separated (`drop` when empty).
pub fn actions_text(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions
        .iter()
        .map(action_text)
        .collect::<Vec<_>>()
        .join(",")
}

fn rank(i: &Instruction) -> u8 {
    match i {
        Instruction::Meter(_) => 0,
        Instruction::ApplyActions(_) => 1,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        Instruction::Experimenter { .. } | Instruction::Unknown { .. } => 6,
    }
}

/// Instructions as `ovs-ofctl` prints them after `actions=`.
pub fn instructions_text(insts: &[Instruction]) -> String {
    let mut sorted: Vec<&Instruction> = insts.iter().collect();
    sorted.sort_by_key(|i| rank(i));
    let mut parts: Vec<String> = Vec::new();
    for i in sorted {
        match i {
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::ApplyActions(a) => parts.extend(a.iter().map(action_text)),
            Instruction::ClearActions => parts.push("clear_actions".into()),
            Instruction::WriteActions(a) => {
                if !a.is_empty() {
                    parts.push(format!("write_actions({})", actions_text(a)));
                }
            }
            Instruction::WriteMetadata { metadata, mask } => {
                if *mask == u64::MAX {
                    parts.push(format!("write_metadata:{}", c_alt_hex((*metadata).into())));
                } else {
                    parts.push(format!(
                        "write_metadata:{}/{}",
                        c_alt_hex((*metadata).into()),
                        c_alt_hex((*mask).into())
                    ));
                }
            }
            Instruction::GotoTable(t) => parts.push(format!("goto_table:{t}")),
            Instruction::Experimenter { experimenter, data } => {
                parts.push(format!(
                    "experimenter({experimenter:#x},0x{})",
                    hex_bytes(data)
                ));
            }
            Instruction::Unknown {
                instruction_type,
                body,
            } => parts.push(format!(
                "unknown_instruction({instruction_type},0x{})",
                hex_bytes(body)
            )),
        }
    }
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use controller_proto::port::{OFPP_IN_PORT, OFPP_NORMAL};

    #[test]
    fn instructions_print_in_execution_order() {
        let i = vec![
            Instruction::GotoTable(9),
            Instruction::WriteActions(vec![
                Action::Group(4),
                Action::Output {
                    port: OFPP_IN_PORT,
                    max_len: 0,
                },
            ]),
            Instruction::ApplyActions(vec![Action::Output {
                port: 2,
                max_len: 0,
            }]),
            Instruction::Meter(5),
        ];
        assert_eq!(
            instructions_text(&i),
            "meter:5,output:2,write_actions(group:4,IN_PORT),goto_table:9"
        );
        assert_eq!(instructions_text(&[]), "drop");
    }

    #[test]
    fn set_field_prints_the_value_in_the_fields_notation() {
        let a = Action::SetField(OxmField::exact(Field::VlanVid, 0x1000 | 42));
        assert_eq!(action_text(&a), "set_field:4138->vlan_vid");
        let a = Action::SetField(OxmField::exact(Field::EthDst, 0x0200_0000_0001));
        assert_eq!(action_text(&a), "set_field:02:00:00:00:00:01->eth_dst");
        let a = Action::SetField(OxmField::exact(Field::Metadata, 5));
        assert_eq!(action_text(&a), "set_field:0x5->metadata");
        assert_eq!(
            action_text(&Action::Output {
                port: OFPP_NORMAL,
                max_len: 0
            }),
            "NORMAL"
        );
        assert_eq!(
            action_text(&Action::Output {
                port: OFPP_CONTROLLER,
                max_len: 128
            }),
            "CONTROLLER:128"
        );
    }
}
