//! Tests of translation: one per rule of OpenFlow 1.3.5 section 5 that
//! translation implements, NORMAL through the pipeline, and the megaflow
//! property (a translation holds for every key that agrees on its mask).

use super::*;
use crate::flow::{Match, VLAN_PRESENT};
use crate::normal::{PortVlanMode, VlanSet};
use crate::ofproto::pipeline::OFPC_INVALID_TTL_TO_CONTROLLER;
use crate::ofproto::{
    Bucket, FlowMod, GroupMod, GroupModCommand, Instructions, MeterBand, MeterBandType, MeterFlags,
    MeterMod, MeterModCommand, Port, PortFeatures, PortMod, SwitchConfig, OFPG_ANY,
};

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
const BCAST: [u8; 6] = [0xff; 6];

fn pipeline(ports: u32) -> Pipeline {
    let mut p = Pipeline::new();
    for i in 1..=ports {
        let mac = [0x0a, 0, 0, 0, 0, u8::try_from(i & 0xff).unwrap_or(0)];
        p.add_port(Port::new(i, &format!("p{i}"), mac));
    }
    p
}

fn add(p: &mut Pipeline, table: u8, m: Match, priority: u16, ins: Instructions) -> Arc<Rule> {
    add_with_cookie(p, table, m, priority, ins, 0)
}

fn add_with_cookie(
    p: &mut Pipeline,
    table: u8,
    m: Match,
    priority: u16,
    ins: Instructions,
    cookie: u64,
) -> Arc<Rule> {
    let mut fm = FlowMod::add(table, m, priority, ins);
    fm.cookie = cookie;
    p.flow_mod(&fm, 0).unwrap().added.unwrap()
}

fn add_group(p: &mut Pipeline, id: u32, group_type: GroupType, buckets: Vec<Bucket>) {
    let gm = GroupMod {
        command: GroupModCommand::Add,
        group_type,
        group_id: id,
        buckets,
    };
    p.group_mod(&gm, 0).unwrap();
}

fn matching(fields: &[(Field, u128)]) -> Match {
    let mut m = Match::catch_all();
    for &(f, v) in fields {
        m.set(f, v);
    }
    m
}

fn out(port: u32) -> Action {
    Action::Output { port, max_len: 0 }
}

fn set(field: Field, value: u128) -> Action {
    Action::SetField {
        field,
        value,
        mask: None,
    }
}

fn tcp4(in_port: u32, src: u32, dst: u32, sport: u16, dport: u16) -> FlowKey {
    FlowKey {
        in_port,
        in_phy_port: in_port,
        eth_src: MAC_A,
        eth_dst: MAC_B,
        eth_type: 0x0800,
        ipv4_src: src,
        ipv4_dst: dst,
        nw_proto: 6,
        nw_ttl: 64,
        tp_src: sport,
        tp_dst: dport,
        ..FlowKey::default()
    }
}

fn eth(in_port: u32, src: [u8; 6], dst: [u8; 6], vlan_tci: u16) -> FlowKey {
    FlowKey {
        in_port,
        in_phy_port: in_port,
        eth_src: src,
        eth_dst: dst,
        eth_type: 0x0800,
        vlan_tci,
        vlan_tpid: if vlan_tci & VLAN_PRESENT != 0 {
            0x8100
        } else {
            0
        },
        nw_ttl: 64,
        ..FlowKey::default()
    }
}

fn run(p: &Pipeline, key: &FlowKey) -> Translation {
    translate(p, key, 0, &mut XlateCtx::new())
}

fn acts(t: &Translation) -> Vec<DpAction> {
    t.actions.to_vec()
}

fn sf(field: Field, value: u128) -> DpAction {
    DpAction::SetField {
        field,
        value,
        mask: field.max_value(),
    }
}

fn port_config(p: &mut Pipeline, port_no: u32, config: PortConfig) {
    let hw_addr = p.port(port_no).unwrap().hw_addr;
    p.port_mod(&PortMod {
        port_no,
        hw_addr,
        config,
        mask: PortConfig::ALL,
        advertise: PortFeatures::empty(),
    })
    .unwrap();
}

// --------------------------------------------------------------------------
// Tables and instructions.

#[test]
fn goto_with_write_metadata_is_matched_in_the_next_table() {
    let mut p = pipeline(3);
    let mut ins = Instructions::drop().with_goto(1);
    ins.write_metadata = Some((0xab, 0xff));
    add(&mut p, 0, Match::catch_all(), 1, ins);
    add(
        &mut p,
        1,
        matching(&[(Field::Metadata, 0xab)]),
        10,
        Instructions::apply(vec![out(2)]),
    );
    add(
        &mut p,
        1,
        Match::catch_all(),
        1,
        Instructions::apply(vec![out(3)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![DpAction::Output(2)]);
    assert_eq!(t.credits.tables.as_slice(), &[(0, true), (1, true)]);
    assert_eq!(t.credits.rules.len(), 2);
}

#[test]
fn write_metadata_keeps_the_bits_outside_its_mask() {
    let mut p = pipeline(3);
    let mut ins = Instructions::drop().with_goto(1);
    ins.write_metadata = Some((0xff00, 0xf000));
    add(&mut p, 0, Match::catch_all(), 1, ins);
    add(
        &mut p,
        1,
        matching(&[(Field::Metadata, 0xf0ab)]),
        10,
        Instructions::apply(vec![out(2)]),
    );
    let mut key = tcp4(1, 1, 2, 3, 4);
    key.metadata = 0x00ab;
    assert_eq!(acts(&run(&p, &key)), vec![DpAction::Output(2)]);
}

#[test]
fn action_set_runs_at_the_end_in_specification_order() {
    let mut p = pipeline(3);
    let ins = Instructions::write(vec![
        out(2),
        set(Field::Ipv4Dst, 0x0a00_0009),
        Action::DecNwTtl,
        Action::PushVlan(0x8100),
    ])
    .with_goto(1);
    add(&mut p, 0, Match::catch_all(), 1, ins);
    add(
        &mut p,
        1,
        Match::catch_all(),
        1,
        Instructions::write(vec![set(Field::EthDst, 0x0203_0405_0607)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: VLAN_PRESENT
            },
            sf(Field::EthDst, 0x0203_0405_0607),
            sf(Field::Ipv4Dst, 0x0a00_0009),
            sf(Field::NwTtl, 63),
            DpAction::Output(2),
        ]
    );
    assert_eq!(t.mask.key.nw_ttl, 0xff, "the decrement read the TTL");
    assert_eq!(t.mask.key.ipv4_dst, 0, "a set-field reads nothing");
}

#[test]
fn apply_actions_run_at_once_and_later_tables_see_the_modified_packet() {
    let mut p = pipeline(3);
    let ins = Instructions::apply(vec![set(Field::Ipv4Dst, 0x0a00_0009)]).with_goto(1);
    add(&mut p, 0, Match::catch_all(), 1, ins);
    let m = matching(&[(Field::EthType, 0x0800), (Field::Ipv4Dst, 0x0a00_0009)]);
    add(&mut p, 1, m, 10, Instructions::apply(vec![out(2)]));
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![sf(Field::Ipv4Dst, 0x0a00_0009), DpAction::Output(2)]
    );
}

#[test]
fn outputs_in_apply_actions_see_the_packet_as_modified_so_far() {
    let mut p = pipeline(3);
    let ins = Instructions::apply(vec![
        out(2),
        set(Field::TcpDst, 8080),
        out(3),
        set(Field::TcpDst, 9090),
    ]);
    add(&mut p, 0, Match::catch_all(), 1, ins);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::Output(2),
            sf(Field::TcpDst, 8080),
            DpAction::Output(3)
        ],
        "a trailing write that nothing observes is not emitted"
    );
}

#[test]
fn clear_actions_empties_the_action_set() {
    let mut p = pipeline(3);
    add(
        &mut p,
        0,
        Match::catch_all(),
        1,
        Instructions::write(vec![out(2)]).with_goto(1),
    );
    let mut ins = Instructions::write(vec![set(Field::TcpDst, 1)]);
    ins.clear_actions = true;
    add(&mut p, 1, matching(&[(Field::InPort, 1)]), 5, ins);
    let mut ins = Instructions::write(vec![out(3)]);
    ins.clear_actions = true;
    add(&mut p, 1, matching(&[(Field::InPort, 2)]), 5, ins);
    assert!(run(&p, &tcp4(1, 1, 2, 3, 4)).actions.is_empty());
    assert_eq!(
        acts(&run(&p, &tcp4(2, 1, 2, 3, 4))),
        vec![DpAction::Output(3)]
    );
}

#[test]
fn table_miss_without_a_rule_drops_the_packet_and_its_action_set() {
    let mut p = pipeline(3);
    add(
        &mut p,
        0,
        Match::catch_all(),
        1,
        Instructions::write(vec![out(2)]).with_goto(1),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert!(t.actions.is_empty());
    assert!(t.cacheable);
    assert_eq!(t.credits.tables.as_slice(), &[(0, true), (1, false)]);
    assert!(run(&pipeline(1), &tcp4(1, 1, 2, 3, 4)).actions.is_empty());
}

#[test]
fn meter_runs_at_the_instructions_place() {
    let mut p = pipeline(3);
    p.meter_mod(
        &MeterMod {
            command: MeterModCommand::Add,
            flags: MeterFlags::PKTPS,
            meter_id: 7,
            bands: vec![MeterBand {
                band_type: MeterBandType::Drop,
                rate: 10,
                burst_size: 0,
            }],
        },
        0,
    )
    .unwrap();
    let ins = Instructions::apply(vec![out(2)]).with_meter(7);
    add(&mut p, 0, Match::catch_all(), 1, ins);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![DpAction::Meter(7), DpAction::Output(2)]);
    assert!(t.cacheable);
}

// --------------------------------------------------------------------------
// Outputs.

#[test]
fn output_to_the_ingress_port_needs_in_port() {
    let mut p = pipeline(3);
    add(
        &mut p,
        0,
        Match::catch_all(),
        1,
        Instructions::apply(vec![out(1), out(OFPP_IN_PORT)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![DpAction::Output(1)]);
    assert_eq!(t.mask.key.in_port, u32::MAX);
    let t = run(&p, &tcp4(2, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![DpAction::Output(1), DpAction::Output(2)]);
}

#[test]
fn outputs_to_missing_or_non_forwarding_ports_are_dropped() {
    let mut p = pipeline(3);
    port_config(&mut p, 3, PortConfig::NO_FWD);
    add(
        &mut p,
        0,
        Match::catch_all(),
        1,
        Instructions::apply(vec![out(9), out(3), out(2)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(2)]
    );
    p.set_port_state(2, false);
    assert!(run(&p, &tcp4(1, 1, 2, 3, 4)).actions.is_empty());
}

#[test]
fn all_and_flood_skip_the_ingress_port_and_flood_also_skips_no_flood_ports() {
    let mut p = pipeline(5);
    p.normal_mut().set_no_flood(3, true);
    port_config(&mut p, 4, PortConfig::NO_FWD);
    add(
        &mut p,
        0,
        matching(&[(Field::TcpDst, 1)]),
        5,
        Instructions::apply(vec![out(OFPP_ALL)]),
    );
    add(
        &mut p,
        0,
        matching(&[(Field::TcpDst, 2)]),
        5,
        Instructions::apply(vec![out(OFPP_FLOOD)]),
    );
    let all = run(&p, &tcp4(1, 1, 2, 3, 1));
    assert_eq!(
        acts(&all),
        vec![
            DpAction::Output(2),
            DpAction::Output(3),
            DpAction::Output(5)
        ]
    );
    let flood = run(&p, &tcp4(1, 1, 2, 3, 2));
    assert_eq!(acts(&flood), vec![DpAction::Output(2), DpAction::Output(5)]);
    p.set_port_blocked(5, true);
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 2))),
        vec![DpAction::Output(2)]
    );
}

#[test]
fn local_port_is_an_output() {
    let mut p = pipeline(2);
    add(
        &mut p,
        0,
        Match::catch_all(),
        1,
        Instructions::apply(vec![out(OFPP_LOCAL)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(OFPP_LOCAL)]
    );
    assert!(run(&p, &tcp4(OFPP_LOCAL, 1, 2, 3, 4)).actions.is_empty());
}

#[test]
fn controller_output_carries_rule_and_packet_metadata() {
    let mut p = pipeline(2);
    let mut ins = Instructions::apply(vec![Action::Output {
        port: OFPP_CONTROLLER,
        max_len: 128,
    }]);
    ins.write_metadata = Some((5, 0xff));
    add_with_cookie(
        &mut p,
        0,
        matching(&[(Field::TcpDst, 80)]),
        9,
        ins.clone().with_goto(2),
        0x77,
    );
    add_with_cookie(&mut p, 2, Match::catch_all(), 0, ins, 0x55);
    let mut key = tcp4(1, 1, 2, 3, 80);
    key.tunnel_id = 42;
    let t = run(&p, &key);
    let expect = |reason, table_id, cookie, metadata| {
        DpAction::ToController(ControllerMeta {
            reason,
            max_len: 128,
            table_id,
            cookie,
            metadata,
            tunnel_id: 42,
            in_port: 1,
        })
    };
    assert_eq!(
        acts(&t),
        vec![
            expect(PacketInReason::Action, 0, 0x77, 0),
            expect(PacketInReason::NoMatch, 2, 0x55, 5),
        ]
    );
    assert_eq!(t.mask.key.in_port, u32::MAX);
    assert_eq!(t.mask.key.tunnel_id, u64::MAX);
    assert!(t.cacheable, "packet-ins run per packet from the cache");
}

#[test]
fn no_packet_in_port_suppresses_controller_outputs() {
    let mut p = pipeline(2);
    port_config(&mut p, 1, PortConfig::NO_PACKET_IN);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(OFPP_CONTROLLER), out(2)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(2)]
    );
    assert_eq!(run(&p, &tcp4(2, 1, 2, 3, 4)).actions.len(), 1);
}

#[test]
fn packets_from_a_no_recv_port_are_dropped() {
    let mut p = pipeline(2);
    port_config(&mut p, 1, PortConfig::NO_RECV);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(OFPP_ALL)]),
    );
    let mut ctx = XlateCtx::new();
    let t = translate(&p, &tcp4(1, 1, 2, 3, 4), 0, &mut ctx);
    assert!(t.actions.is_empty());
    assert!(t.credits.rules.is_empty());
    assert_eq!(ctx.counters.no_recv, 1);
    assert_eq!(
        acts(&run(&p, &tcp4(2, 1, 2, 3, 4))),
        vec![DpAction::Output(1)]
    );
}

#[test]
fn fragments_are_dropped_when_the_switch_drops_them() {
    let mut p = pipeline(2);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(2)]),
    );
    let mut frag = tcp4(1, 1, 2, 3, 4);
    frag.nw_frag = crate::flow::frag::ANY;
    assert_eq!(run(&p, &frag).actions.len(), 1);
    p.set_config(SwitchConfig {
        flags: crate::ofproto::pipeline::OFPC_FRAG_DROP,
        miss_send_len: 128,
    })
    .unwrap();
    let t = run(&p, &frag);
    assert!(t.actions.is_empty());
    assert_ne!(t.mask.key.nw_frag, 0);
    assert_eq!(run(&p, &tcp4(1, 1, 2, 3, 4)).actions.len(), 1);
}

// --------------------------------------------------------------------------
// Field and header actions.

#[test]
fn set_field_without_its_prerequisites_is_ignored() {
    let mut p = pipeline(2);
    let ins = Instructions::apply(vec![
        set(Field::VlanVid, 0x1000 | 7),
        set(Field::UdpSrc, 53),
        set(Field::TcpSrc, 99),
        out(2),
    ]);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![sf(Field::TcpSrc, 99), DpAction::Output(2)]);
    assert_eq!(t.mask.key.nw_proto, 0xff, "the prerequisite was read");
    assert_eq!(t.mask.key.tp_src, 0, "the field itself was not");
    let tagged = eth(1, MAC_A, MAC_B, VLAN_PRESENT | 3);
    let t = run(&p, &tagged);
    assert_eq!(
        acts(&t),
        vec![
            DpAction::SetField {
                field: Field::VlanVid,
                value: 7,
                mask: 0x0fff
            },
            DpAction::Output(2)
        ]
    );
}

#[test]
fn masked_set_field_writes_only_its_bits() {
    let mut p = pipeline(2);
    let ins = Instructions::apply(vec![
        Action::SetField {
            field: Field::Ipv4Src,
            value: 0x0a00_0000,
            mask: Some(0xff00_0000),
        },
        out(2),
    ]);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    let t = run(&p, &tcp4(1, 0xc0a8_0101, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::SetField {
                field: Field::Ipv4Src,
                value: 0x0a00_0000,
                mask: 0xff00_0000
            },
            DpAction::Output(2)
        ]
    );
    assert_eq!(t.mask.key.ipv4_src, 0);
}

#[test]
fn two_masked_writes_of_one_field_commit_as_one_write_of_both_runs() {
    // How a non-contiguous masked set-field arrives: one load per run.
    let mut p = pipeline(2);
    let ins = Instructions::apply(vec![
        Action::SetField {
            field: Field::Ipv4Dst,
            value: 0x4d,
            mask: Some(0xff),
        },
        Action::SetField {
            field: Field::Ipv4Dst,
            value: 0x0a00_0000,
            mask: Some(0xff00_0000),
        },
        out(2),
    ]);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    let t = run(&p, &tcp4(1, 0xc0a8_0101, 0xc612_0002, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::SetField {
                field: Field::Ipv4Dst,
                value: 0x0a00_004d,
                mask: 0xff00_00ff
            },
            DpAction::Output(2)
        ]
    );
    // The result does not depend on the destination the packet had.
    assert_eq!(t.mask.key.ipv4_dst, 0);
}

#[test]
fn push_vlan_then_set_vid_folds_into_one_tag() {
    let mut p = pipeline(2);
    let ins = Instructions::apply(vec![
        Action::PushVlan(0x8100),
        set(Field::VlanVid, 0x1000 | 42),
        set(Field::VlanPcp, 5),
        out(2),
        Action::PopVlan,
        out(OFPP_IN_PORT),
    ]);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: VLAN_PRESENT | 0xa000 | 42
            },
            DpAction::Output(2),
            DpAction::PopVlan,
            DpAction::Output(1),
        ]
    );
}

#[test]
fn push_vlan_on_a_tagged_packet_copies_the_outer_tag() {
    let mut p = pipeline(2);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::PushVlan(0x88a8), out(2)]),
    );
    let t = run(&p, &eth(1, MAC_A, MAC_B, VLAN_PRESENT | 0x2000 | 12));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushVlan {
                tpid: 0x88a8,
                tci: VLAN_PRESENT | 0x2000 | 12
            },
            DpAction::Output(2)
        ]
    );
    assert_eq!(t.mask.key.vlan_tci, 0xffff);
}

#[test]
fn mpls_push_takes_the_ip_ttl_and_pop_restores_the_ethertype() {
    let mut p = pipeline(3);
    let ins = Instructions::apply(vec![
        Action::PushMpls(0x8847),
        set(Field::MplsLabel, 100),
        out(2),
        Action::DecMplsTtl,
        Action::PopMpls(0x0800),
        out(3),
    ]);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushMpls {
                ethertype: 0x8847,
                lse: 0x100 | 64
            },
            sf(Field::MplsLabel, 100),
            DpAction::Output(2),
            sf(Field::MplsTtl, 63),
            DpAction::PopMpls { ethertype: 0x0800 },
            DpAction::Output(3),
        ]
    );
    // Popping a non-MPLS packet does nothing.
    let mut q = pipeline(2);
    add(
        &mut q,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::PopMpls(0x0800), out(2)]),
    );
    assert_eq!(
        acts(&run(&q, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(2)]
    );
}

#[test]
fn dec_ttl_at_one_stops_the_packet_and_may_tell_the_controller() {
    let mut p = pipeline(3);
    let ins = Instructions::apply(vec![out(2), Action::DecNwTtl, out(3)]).with_goto(1);
    add(&mut p, 0, Match::catch_all(), 0, ins);
    add(
        &mut p,
        1,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(OFPP_IN_PORT)]),
    );
    let mut key = tcp4(1, 1, 2, 3, 4);
    key.nw_ttl = 1;
    let mut ctx = XlateCtx::new();
    let t = translate(&p, &key, 0, &mut ctx);
    assert_eq!(
        acts(&t),
        vec![DpAction::Output(2)],
        "outputs before the decrement stay"
    );
    assert_eq!(ctx.counters.invalid_ttl, 1);
    key.nw_ttl = 0;
    assert_eq!(acts(&run(&p, &key)), vec![DpAction::Output(2)]);

    p.set_config(SwitchConfig {
        flags: OFPC_INVALID_TTL_TO_CONTROLLER,
        miss_send_len: 100,
    })
    .unwrap();
    let t = run(&p, &key);
    assert_eq!(t.actions.len(), 2);
    match &t.actions[1] {
        DpAction::ToController(m) => {
            assert_eq!(m.reason, PacketInReason::InvalidTtl);
            assert_eq!(m.max_len, 100);
        }
        other => panic!("expected a packet-in, got {other:?}"),
    }

    key.nw_ttl = 2;
    let t = run(&p, &key);
    assert_eq!(
        acts(&t),
        vec![
            DpAction::Output(2),
            sf(Field::NwTtl, 1),
            DpAction::Output(3),
            DpAction::Output(1)
        ]
    );
    assert_eq!(t.mask.key.nw_ttl, 0xff);
}

#[test]
fn dec_mpls_ttl_expiry_stops_the_packet() {
    let mut p = pipeline(2);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::DecMplsTtl, out(2)]),
    );
    let mut key = eth(1, MAC_A, MAC_B, 0);
    key.eth_type = 0x8847;
    key.mpls_lse = (16 << 12) | 0x100 | 1;
    assert!(run(&p, &key).actions.is_empty());
    key.mpls_lse = (16 << 12) | 0x100 | 9;
    assert_eq!(
        acts(&run(&p, &key)),
        vec![sf(Field::MplsTtl, 8), DpAction::Output(2)]
    );
}

// --------------------------------------------------------------------------
// Groups.

#[test]
fn all_group_runs_each_bucket_on_its_own_copy() {
    let mut p = pipeline(4);
    add_group(
        &mut p,
        1,
        GroupType::All,
        vec![
            Bucket::new(vec![
                set(Field::EthDst, 0x0000_0000_0099),
                Action::PushVlan(0x8100),
                out(2),
            ]),
            Bucket::new(vec![out(3)]),
        ],
    );
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1), out(4)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    let orig_dst = u128::from_be_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0xb]);
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: VLAN_PRESENT
            },
            sf(Field::EthDst, 0x99),
            DpAction::Output(2),
            DpAction::PopVlan,
            sf(Field::EthDst, orig_dst),
            DpAction::Output(3),
            DpAction::Output(4),
        ]
    );
    assert_eq!(
        t.mask.key.eth_dst, [0xff; 6],
        "restoring emitted the packet's own value"
    );
    assert_eq!(t.credits.groups.len(), 1);
    assert_eq!(t.credits.buckets.len(), 2);
}

#[test]
fn bucket_actions_run_as_an_action_set() {
    let mut p = pipeline(3);
    add_group(
        &mut p,
        1,
        GroupType::Indirect,
        vec![Bucket::new(vec![out(2), set(Field::TcpDst, 7)])],
    );
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![sf(Field::TcpDst, 7), DpAction::Output(2)]
    );
}

#[test]
fn group_in_the_action_set_overrides_output() {
    let mut p = pipeline(3);
    add_group(
        &mut p,
        1,
        GroupType::Indirect,
        vec![Bucket::new(vec![out(3)])],
    );
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::write(vec![out(2), Action::Group(1)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(3)]
    );
}

fn select_pipeline(weights: &[u16]) -> Pipeline {
    let mut p = pipeline(4);
    let buckets = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let mut b = Bucket::new(vec![out(u32::try_from(i).unwrap() + 2)]);
            b.weight = w;
            b
        })
        .collect();
    add_group(&mut p, 1, GroupType::Select, buckets);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1)]),
    );
    p
}

#[test]
fn select_group_hashes_the_flow_and_masks_what_it_hashed() {
    let p = select_pipeline(&[1, 1]);
    let mut seen = std::collections::HashSet::new();
    for sport in 1000..1064 {
        let t = run(&p, &tcp4(1, 0x0a00_0001, 0x0a00_0002, sport, 80));
        assert_eq!(t.actions.len(), 1);
        seen.insert(t.actions[0].clone());
        assert_eq!(t.mask.key.tp_src, 0xffff);
        assert_eq!(t.mask.key.tp_dst, 0xffff);
        assert_eq!(t.mask.key.ipv4_src, u32::MAX);
        assert_eq!(t.mask.key.ipv4_dst, u32::MAX);
        // Symmetric: the reverse direction takes the same bucket.
        let mut back = tcp4(1, 0x0a00_0002, 0x0a00_0001, 80, sport);
        back.eth_src = MAC_B;
        back.eth_dst = MAC_A;
        assert_eq!(run(&p, &back).actions, t.actions);
    }
    assert_eq!(seen.len(), 2, "flows spread over both buckets");
}

#[test]
fn select_group_follows_weights_and_skips_dead_buckets() {
    let p = select_pipeline(&[1, 0, 3]);
    let mut counts = [0u32; 5];
    for sport in 0..400 {
        let t = run(&p, &tcp4(1, 1, 2, sport, 80));
        if let Some(DpAction::Output(o)) = t.actions.first() {
            counts[usize::try_from(*o).unwrap()] += 1;
        }
    }
    assert_eq!(counts[3], 0, "weight 0 is never chosen");
    assert!(counts[4] > counts[2] * 2, "{counts:?}");
    assert_eq!(counts[2] + counts[4], 400);
}

#[test]
fn select_group_with_one_live_bucket_reads_nothing() {
    let p = select_pipeline(&[5]);
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert_eq!(acts(&t), vec![DpAction::Output(2)]);
    assert_eq!(t.mask.key.tp_src, 0);
    assert_eq!(t.mask.key.ipv4_src, 0);
}

#[test]
fn fast_failover_uses_the_next_live_bucket_after_a_port_goes_down() {
    let mut p = pipeline(4);
    let watch = |port| Bucket {
        weight: 0,
        watch_port: port,
        watch_group: OFPG_ANY,
        actions: vec![out(port)],
    };
    add_group(&mut p, 1, GroupType::FastFailover, vec![watch(2), watch(3)]);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1)]),
    );
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(2)]
    );
    let v = p.epoch();
    p.set_port_state(2, false);
    assert!(p.epoch() > v, "liveness is part of the epoch");
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(3)]
    );
    p.set_port_state(3, false);
    assert!(run(&p, &tcp4(1, 1, 2, 3, 4)).actions.is_empty());
    p.set_port_state(2, true);
    assert_eq!(
        acts(&run(&p, &tcp4(1, 1, 2, 3, 4))),
        vec![DpAction::Output(2)]
    );
}

#[test]
fn too_deep_group_chain_drops_and_counts() {
    let mut p = pipeline(2);
    let n = MAX_DEPTH + 6;
    add_group(
        &mut p,
        n,
        GroupType::Indirect,
        vec![Bucket::new(vec![out(2)])],
    );
    for g in (1..n).rev() {
        add_group(
            &mut p,
            g,
            GroupType::Indirect,
            vec![Bucket::new(vec![Action::Group(g + 1)])],
        );
    }
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(2), Action::Group(1)]),
    );
    let mut ctx = XlateCtx::new();
    let t = translate(&p, &tcp4(1, 1, 2, 3, 4), 0, &mut ctx);
    assert_eq!(t.error, Some(XlateError::TooDeep));
    assert!(t.actions.is_empty());
    assert_eq!(ctx.counters.too_deep, 1);
}

#[test]
fn exponential_group_fan_out_is_bounded() {
    let mut p = pipeline(2);
    let fan = 16;
    add_group(&mut p, 10, GroupType::All, vec![Bucket::new(vec![out(2)])]);
    for g in (1..10).rev() {
        let buckets = (0..fan)
            .map(|_| Bucket::new(vec![Action::Group(g + 1)]))
            .collect();
        add_group(&mut p, g, GroupType::All, buckets);
    }
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    assert!(t.error.is_some());
    assert!(t.actions.is_empty());
}

// --------------------------------------------------------------------------
// NORMAL.

fn normal_pipeline(ports: u32) -> Pipeline {
    let mut p = pipeline(ports);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(OFPP_NORMAL)]),
    );
    p
}

#[test]
fn normal_floods_unknown_destinations_then_forwards_to_the_learned_port() {
    let p = normal_pipeline(3);
    let t = run(&p, &eth(1, MAC_A, MAC_B, 0));
    assert_eq!(acts(&t), vec![DpAction::Output(2), DpAction::Output(3)]);
    assert_eq!(t.mask.key.in_port, u32::MAX);
    assert_eq!(t.mask.key.eth_src, [0xff; 6]);
    assert_eq!(t.mask.key.eth_dst, [0xff; 6]);
    assert_eq!(
        t.mask.key.vlan_tci & (VLAN_PRESENT | 0xfff),
        VLAN_PRESENT | 0xfff
    );
    assert_eq!(t.mask.key.ipv4_dst, 0);
    assert!(t.cacheable);
    assert_eq!(t.credits.learned.len(), 1);
    let g = p.epoch();
    let t = run(&p, &eth(2, MAC_B, MAC_A, 0));
    assert_eq!(acts(&t), vec![DpAction::Output(1)]);
    assert!(p.epoch() > g, "learning moves the epoch");
    assert_eq!(
        acts(&run(&p, &eth(1, MAC_A, MAC_B, 0))),
        vec![DpAction::Output(2)]
    );
    assert_eq!(
        acts(&run(&p, &eth(1, MAC_A, BCAST, 0))),
        vec![DpAction::Output(2), DpAction::Output(3)]
    );
}

#[test]
fn revalidation_does_not_learn() {
    let p = normal_pipeline(3);
    let t = translate(
        &p,
        &eth(1, MAC_A, MAC_B, 0),
        0,
        &mut XlateCtx::revalidation(),
    );
    assert_eq!(t.actions.len(), 2);
    assert!(p.normal().macs().is_empty());
    // The flow's packets keep a learned entry fresh.
    run(&p, &eth(1, MAC_A, MAC_B, 0));
    let t = run(&p, &eth(1, MAC_A, MAC_B, 0));
    t.credits.credit(&p, 1, 60, 250_000);
    assert_eq!(p.normal().macs().lookup(0, MAC_A, 400_000), Some(1));
}

#[test]
fn normal_tags_and_untags_per_egress_port() {
    let mut p = normal_pipeline(5);
    let trunk = PortVlanMode::Trunk {
        allowed: VlanSet::of([10]),
        native: None,
    };
    p.normal_mut().set_vlan_mode(1, PortVlanMode::Access(10));
    p.normal_mut().set_vlan_mode(2, trunk.clone());
    p.normal_mut().set_vlan_mode(3, PortVlanMode::Access(20));
    p.normal_mut().set_vlan_mode(4, PortVlanMode::Access(10));
    p.normal_mut().set_vlan_mode(5, trunk);
    let tag10 = VLAN_PRESENT | 10;
    // Untagged from an access port: untagged to the access port first,
    // then one push for both trunks.
    let t = run(&p, &eth(1, MAC_A, BCAST, 0));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::Output(4),
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: tag10
            },
            DpAction::Output(2),
            DpAction::Output(5),
        ]
    );
    // Tagged from a trunk: popped for the access ports.
    let t = run(&p, &eth(2, MAC_B, BCAST, tag10));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PopVlan,
            DpAction::Output(1),
            DpAction::Output(4),
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: tag10
            },
            DpAction::Output(5),
        ]
    );
    // Known destinations: the learned access port, untagged.
    let t = run(&p, &eth(5, MAC_B, MAC_A, tag10));
    assert_eq!(acts(&t), vec![DpAction::PopVlan, DpAction::Output(1)]);
    // A tagged frame on an access port is not admitted.
    assert!(run(&p, &eth(3, MAC_A, BCAST, tag10)).actions.is_empty());
}

#[test]
fn output_after_normal_sees_the_packet_as_before_normal() {
    let mut p = pipeline(3);
    p.normal_mut().set_vlan_mode(2, PortVlanMode::Access(10));
    p.normal_mut().set_vlan_mode(1, PortVlanMode::Access(10));
    p.normal_mut().set_vlan_mode(3, PortVlanMode::Access(20));
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(OFPP_NORMAL), out(3)]),
    );
    let t = run(&p, &eth(2, MAC_A, BCAST, 0));
    assert_eq!(acts(&t), vec![DpAction::Output(1), DpAction::Output(3)]);
    p.normal_mut().set_vlan_mode(1, PortVlanMode::All);
    let t = run(&p, &eth(2, MAC_A, BCAST, 0));
    assert_eq!(
        acts(&t),
        vec![
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: VLAN_PRESENT | 10
            },
            DpAction::Output(1),
            DpAction::PopVlan,
            DpAction::Output(3),
        ]
    );
}

#[test]
fn normal_from_a_packet_out_without_input_port_drops() {
    let p = normal_pipeline(2);
    let key = eth(OFPP_CONTROLLER, MAC_A, BCAST, 0);
    let t = translate_actions(&p, &key, &[out(OFPP_NORMAL)], 0, &mut XlateCtx::new());
    assert!(t.actions.is_empty());
}

// --------------------------------------------------------------------------
// Masks.

#[test]
fn exact_ip_destination_pipeline_masks_ipv4_dst_but_not_ports() {
    let mut p = pipeline(3);
    let m = matching(&[(Field::EthType, 0x0800), (Field::Ipv4Dst, 0x0a00_0002)]);
    add(&mut p, 0, m, 10, Instructions::apply(vec![out(2)]));
    let t = run(&p, &tcp4(1, 1, 0x0a00_0002, 1234, 80));
    assert_eq!(acts(&t), vec![DpAction::Output(2)]);
    assert_eq!(t.mask.key.ipv4_dst, u32::MAX);
    assert_eq!(t.mask.key.tp_src, 0);
    assert_eq!(t.mask.key.tp_dst, 0);
    assert_eq!(t.mask.key.ipv4_src, 0);
}

#[test]
fn slash_8_route_unwildcards_8_bits() {
    let mut p = pipeline(3);
    let mut m = Match::catch_all();
    m.set(Field::EthType, 0x0800);
    m.set_masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000);
    add(&mut p, 0, m, 8, Instructions::apply(vec![out(2)]));
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(3)]),
    );
    let t = run(&p, &tcp4(1, 1, 0x0a01_0203, 1234, 80));
    assert_eq!(acts(&t), vec![DpAction::Output(2)]);
    assert_eq!(t.mask.key.ipv4_dst, 0xff00_0000);
    let t = run(&p, &tcp4(1, 1, 0x0b01_0203, 1234, 80));
    assert_eq!(acts(&t), vec![DpAction::Output(3)]);
    assert_eq!(
        t.mask.key.ipv4_dst & !0xff00_0000,
        0,
        "at most the /8 was read"
    );
}

// --------------------------------------------------------------------------
// Packet-out, credits, trace.

#[test]
fn packet_out_runs_its_actions_and_table_runs_the_pipeline() {
    let mut p = pipeline(3);
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out(3)]),
    );
    let key = tcp4(OFPP_CONTROLLER, 1, 2, 3, 4);
    let mut ctx = XlateCtx::new();
    let t = translate_actions(
        &p,
        &key,
        &[set(Field::TcpDst, 5), out(2), out(OFPP_TABLE)],
        0,
        &mut ctx,
    );
    assert_eq!(
        acts(&t),
        vec![
            sf(Field::TcpDst, 5),
            DpAction::Output(2),
            DpAction::Output(3)
        ]
    );
    assert!(!t.cacheable);
    assert_eq!(t.credits.rules.len(), 1);
}

#[test]
fn packet_out_to_controller_has_no_table_or_cookie() {
    let p = pipeline(1);
    let key = tcp4(OFPP_CONTROLLER, 1, 2, 3, 4);
    let t = translate_actions(&p, &key, &[out(OFPP_CONTROLLER)], 0, &mut XlateCtx::new());
    match t.actions.first() {
        Some(DpAction::ToController(m)) => {
            assert_eq!(
                (m.table_id, m.cookie, m.reason),
                (NO_TABLE, u64::MAX, PacketInReason::Action)
            );
        }
        other => panic!("expected a packet-in, got {other:?}"),
    }
}

#[test]
fn credits_reach_rules_tables_groups_and_buckets() {
    let mut p = pipeline(3);
    add_group(
        &mut p,
        1,
        GroupType::All,
        vec![Bucket::new(vec![out(2)]), Bucket::new(vec![out(3)])],
    );
    let r0 = add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::drop().with_goto(1),
    );
    let r1 = add(
        &mut p,
        1,
        Match::catch_all(),
        0,
        Instructions::apply(vec![Action::Group(1)]),
    );
    let t = run(&p, &tcp4(1, 1, 2, 3, 4));
    t.credits.credit(&p, 3, 300, 1_000);
    assert_eq!((r0.packet_count(), r0.byte_count()), (3, 300));
    assert_eq!(r1.packet_count(), 3);
    assert_eq!(r1.stats.last_used_ms(), 1_000);
    let g = p.group(1).unwrap();
    assert_eq!(g.stats.packets(), 3);
    assert_eq!(g.bucket_stats[0].packets(), 3);
    assert_eq!(g.bucket_stats[1].bytes(), 300);
    assert_eq!(p.table(0).unwrap().lookup_count(), 3);
    assert_eq!(p.table(1).unwrap().matched_count(), 3);
    t.credits.credit(&p, 0, 0, 2_000);
    assert_eq!(r0.packet_count(), 3);
}

#[test]
fn trace_records_each_lookup_and_group() {
    let mut p = pipeline(3);
    add_group(
        &mut p,
        1,
        GroupType::Indirect,
        vec![Bucket::new(vec![out(2)])],
    );
    add(
        &mut p,
        0,
        Match::catch_all(),
        0,
        Instructions::drop().with_goto(3),
    );
    add(
        &mut p,
        3,
        Match::catch_all(),
        0,
        Instructions::write(vec![Action::Group(1)]),
    );
    let mut ctx = XlateCtx::tracing();
    let t = translate(&p, &tcp4(1, 1, 2, 3, 4), 0, &mut ctx);
    let tables: Vec<u8> = t
        .trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Lookup { table_id, rule, .. } => {
                assert!(rule.is_some());
                Some(*table_id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(tables, vec![0, 3]);
    assert!(t.trace.iter().any(|e| matches!(
        e,
        TraceEvent::Group {
            group_id: 1,
            bucket: Some(0),
            ..
        }
    )));
    assert!(run(&p, &tcp4(1, 1, 2, 3, 4)).trace.is_empty());
}

// --------------------------------------------------------------------------
// The megaflow property.

mod megaflow {
    use super::*;
    use proptest::prelude::*;

    const IPS: [u32; 4] = [0x0a00_0001, 0x0a00_0102, 0x0a01_0001, 0xc0a8_0101];
    const PORTS: [u16; 3] = [80, 443, 1000];
    const MACS: [[u8; 6]; 4] = [MAC_A, MAC_B, [0x02, 0, 0, 0, 0, 0xc], BCAST];

    fn mac_value(m: [u8; 6]) -> u128 {
        m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
    }

    fn arb_match() -> impl Strategy<Value = Match> {
        use proptest::option::weighted;
        (
            weighted(0.2, 1u32..4),
            weighted(0.15, 0usize..4),
            weighted(
                0.3,
                (
                    0usize..4,
                    prop_oneof![Just(8u32), Just(16), Just(24), Just(32)],
                ),
            ),
            weighted(0.2, 0usize..3),
            weighted(
                0.2,
                prop_oneof![Just(0u16), Just(VLAN_PRESENT | 10), Just(VLAN_PRESENT | 20)],
            ),
            weighted(0.15, 0u64..3),
            any::<bool>(),
        )
            .prop_map(|(in_port, dst_mac, ip, tp, vlan, metadata, l3)| {
                let mut m = Match::catch_all();
                if let Some(p) = in_port {
                    m.set(Field::InPort, p.into());
                }
                if let Some(i) = dst_mac {
                    m.set(Field::EthDst, mac_value(MACS[i]));
                }
                if let Some(v) = vlan {
                    m.set(Field::VlanVid, v.into());
                }
                if let Some(md) = metadata {
                    m.set(Field::Metadata, md.into());
                }
                if l3 || ip.is_some() || tp.is_some() {
                    m.set(Field::EthType, 0x0800);
                }
                if let Some((i, len)) = ip {
                    let mask = u128::from(u32::MAX << (32 - len));
                    m.set_masked(Field::Ipv4Dst, IPS[i].into(), mask);
                }
                if let Some(t) = tp {
                    m.set(Field::IpProto, 6);
                    m.set(Field::TcpDst, PORTS[t].into());
                }
                m
            })
    }

    fn arb_action(groups: u32) -> impl Strategy<Value = Action> {
        let port = prop_oneof![
            1u32..5,
            Just(OFPP_IN_PORT),
            Just(OFPP_ALL),
            Just(OFPP_FLOOD),
            Just(OFPP_CONTROLLER),
            Just(OFPP_NORMAL),
            Just(OFPP_LOCAL),
        ];
        prop_oneof![
            4 => port.prop_map(|port| Action::Output { port, max_len: 64 }),
            1 => (0usize..4).prop_map(|i| set(Field::Ipv4Dst, IPS[i].into())),
            1 => (0usize..3).prop_map(|i| set(Field::TcpDst, PORTS[i].into())),
            1 => (0usize..4).prop_map(|i| set(Field::EthDst, mac_value(MACS[i]))),
            1 => Just(set(Field::VlanVid, u128::from(VLAN_PRESENT | 20))),
            1 => Just(Action::PushVlan(0x8100)),
            1 => Just(Action::PopVlan),
            1 => Just(Action::DecNwTtl),
            1 => Just(Action::PushMpls(0x8847)),
            1 => Just(Action::PopMpls(0x0800)),
            1 => (0u32..3).prop_map(Action::SetQueue),
            1 => prop_oneof![
                Just(Action::PushPbb(0x88e7)),
                Just(Action::PopPbb),
                Just(Action::CopyTtlIn),
                Just(Action::CopyTtlOut),
                Just(Action::DecMplsTtl),
                Just(Action::SetNwTtl(9)),
                Just(Action::SetMplsTtl(7)),
                Just(set(Field::VlanPcp, 3)),
                Just(set(Field::IpDscp, 10)),
                Just(Action::SetField { field: Field::Ipv4Src, value: 0x0a00_0000, mask: Some(0xff00_0000) }),
            ],
            2 => (1..=groups.max(1)).prop_map(move |g| if groups == 0 { Action::PopVlan } else { Action::Group(g) }),
        ]
    }

    #[derive(Clone, Debug)]
    struct RuleSpec {
        table: u8,
        m: Match,
        priority: u16,
        apply: Vec<Action>,
        write: Vec<Action>,
        clear: bool,
        metadata: Option<u64>,
        goto: bool,
    }

    fn arb_rule(groups: u32) -> impl Strategy<Value = RuleSpec> {
        (
            0u8..3,
            arb_match(),
            0u16..4,
            proptest::collection::vec(arb_action(groups), 0..4),
            proptest::collection::vec(arb_action(groups), 0..3),
            any::<bool>(),
            proptest::option::of(0u64..3),
            any::<bool>(),
        )
            .prop_map(
                |(table, m, priority, apply, write, clear, metadata, goto)| RuleSpec {
                    table,
                    m,
                    priority,
                    apply,
                    write,
                    clear,
                    metadata,
                    goto,
                },
            )
    }

    #[derive(Clone, Debug)]
    struct GroupSpec {
        group_type: GroupType,
        buckets: Vec<(u16, u32, Vec<Action>)>,
    }

    fn arb_group() -> impl Strategy<Value = GroupSpec> {
        let ty = prop_oneof![
            Just(GroupType::All),
            Just(GroupType::Select),
            Just(GroupType::Indirect),
            Just(GroupType::FastFailover),
        ];
        (
            ty,
            proptest::collection::vec(
                (
                    0u16..3,
                    1u32..5,
                    proptest::collection::vec(arb_action(0), 0..3),
                ),
                1..4,
            ),
        )
            .prop_map(|(group_type, buckets)| GroupSpec {
                group_type,
                buckets,
            })
    }

    fn arb_key() -> impl Strategy<Value = FlowKey> {
        (
            1u32..5,
            0usize..4,
            0usize..4,
            prop_oneof![6 => Just(0x0800u16), 1 => Just(0x86dd), 1 => Just(0x0806), 1 => Just(0x8847)],
            prop_oneof![Just(0u16), Just(VLAN_PRESENT | 10), Just(VLAN_PRESENT | 20)],
            (0usize..4, 0usize..4),
            prop_oneof![Just(6u8), Just(17)],
            (0usize..3, 0usize..3),
            prop_oneof![Just(0u8), Just(1), Just(2), Just(64)],
        )
            .prop_map(|(in_port, s, d, eth_type, vlan_tci, (is, id), proto, (ps, pd), ttl)| FlowKey {
                in_port,
                in_phy_port: in_port,
                eth_src: MACS[s],
                eth_dst: MACS[d],
                eth_type,
                vlan_tci,
                vlan_tpid: if vlan_tci != 0 { 0x8100 } else { 0 },
                ipv4_src: IPS[is],
                ipv4_dst: IPS[id],
                nw_proto: proto,
                nw_ttl: ttl,
                tp_src: PORTS[ps],
                tp_dst: PORTS[pd],
                mpls_lse: (5 << 12) | 0x100 | u32::from(ttl),
                ..FlowKey::default()
            })
    }

    fn build(
        groups: &[GroupSpec],
        rules: &[RuleSpec],
        down: Option<u32>,
        vlan_modes: &[(u32, PortVlanMode)],
    ) -> Pipeline {
        let mut p = pipeline(4);
        for (i, g) in groups.iter().enumerate() {
            let id = u32::try_from(i).unwrap() + 1;
            let buckets = g
                .buckets
                .iter()
                .map(|(w, watch, actions)| {
                    let mut b = Bucket::new(actions.clone());
                    match g.group_type {
                        GroupType::Select => b.weight = *w,
                        GroupType::FastFailover => b.watch_port = *watch,
                        _ => {}
                    }
                    b
                })
                .collect();
            let buckets = if g.group_type == GroupType::Indirect {
                let mut v: Vec<Bucket> = buckets;
                v.truncate(1);
                v
            } else {
                buckets
            };
            add_group(&mut p, id, g.group_type, buckets);
        }
        for r in rules {
            let mut ins = Instructions::drop();
            ins.apply_actions = (!r.apply.is_empty()).then(|| r.apply.clone());
            ins.write_actions = (!r.write.is_empty()).then(|| r.write.clone());
            ins.clear_actions = r.clear;
            ins.write_metadata = r.metadata.map(|v| (v, 0xff));
            ins.goto_table = (r.goto && r.table < 2).then_some(r.table + 1);
            let _ = p.flow_mod(&FlowMod::add(r.table, r.m, r.priority, ins), 0);
        }
        if let Some(d) = down {
            p.set_port_state(d, false);
        }
        for (port, mode) in vlan_modes {
            p.normal_mut().set_vlan_mode(*port, mode.clone());
        }
        p.normal().macs().learn(0, MAC_A, 1, 0);
        p.normal().macs().learn(10, MAC_B, 2, 0);
        p
    }

    fn arb_vlan_modes() -> impl Strategy<Value = Vec<(u32, PortVlanMode)>> {
        proptest::collection::vec(
            (
                1u32..5,
                prop_oneof![
                    Just(PortVlanMode::All),
                    Just(PortVlanMode::Access(10)),
                    Just(PortVlanMode::Trunk {
                        allowed: VlanSet::of([10, 20]),
                        native: Some(20)
                    }),
                ],
            ),
            0..3,
        )
    }

    /// Runs datapath actions on a model of the packet's headers (the key),
    /// and returns the headers at each output, for comparison with what
    /// translation meant to send.
    fn simulate(key: &FlowKey, actions: &[DpAction]) -> Vec<(u32, FlowKey)> {
        let mut k = *key;
        // The whole tag stack, outermost last.
        let mut tags: Vec<u16> = [key.vlan_tci_inner, key.vlan_tci]
            .into_iter()
            .filter(|t| t & VLAN_PRESENT != 0)
            .collect();
        let mut mpls: Vec<u32> = Vec::new();
        let mut pbb: Vec<(u16, Vec<u16>)> = Vec::new();
        let mut outs = Vec::new();
        for a in actions {
            let n = tags.len();
            k.vlan_tci = tags.last().copied().unwrap_or(0);
            k.vlan_tci_inner = if n >= 2 { tags[n - 2] } else { 0 };
            match a {
                DpAction::Output(p) => outs.push((*p, k)),
                DpAction::ToController(_) => outs.push((OFPP_CONTROLLER, k)),
                DpAction::SetField { field, value, mask } => {
                    let old = field.get(&k);
                    field.set(&mut k, (old & !mask) | (value & mask));
                    if let Some(top) = tags.last_mut() {
                        *top = k.vlan_tci;
                    }
                }
                DpAction::PushVlan { tci, .. } => tags.push(tci | VLAN_PRESENT),
                DpAction::PopVlan => {
                    tags.pop();
                }
                DpAction::PushMpls { ethertype, lse } => {
                    if matches!(k.eth_type, 0x8847 | 0x8848) {
                        mpls.push(k.mpls_lse);
                    }
                    k.mpls_lse = *lse;
                    k.eth_type = *ethertype;
                }
                DpAction::PopMpls { ethertype } => {
                    k.mpls_lse = if k.mpls_lse & 0x100 == 0 {
                        mpls.pop().unwrap_or(0)
                    } else {
                        0
                    };
                    k.eth_type = *ethertype;
                }
                DpAction::PushPbb { isid } => {
                    pbb.push((k.eth_type, std::mem::take(&mut tags)));
                    k.eth_type = 0x88e7;
                    k.pbb_isid = *isid;
                }
                DpAction::PopPbb => {
                    let (t, v) = pbb.pop().unwrap_or_default();
                    k.eth_type = t;
                    tags = v;
                    k.pbb_isid = 0;
                }
                DpAction::CopyTtlIn | DpAction::CopyTtlOut
                    if matches!(k.eth_type, 0x8847 | 0x8848) =>
                {
                    let inwards = matches!(a, DpAction::CopyTtlIn);
                    let bos = k.mpls_lse & 0x100 != 0;
                    match (inwards, bos, mpls.last_mut()) {
                        (true, true, _) => k.nw_ttl = u8::try_from(k.mpls_lse & 0xff).unwrap(),
                        (true, false, Some(b)) => *b = (*b & !0xff) | (k.mpls_lse & 0xff),
                        (false, true, _) => k.mpls_lse = (k.mpls_lse & !0xff) | u32::from(k.nw_ttl),
                        (false, false, Some(b)) => k.mpls_lse = (k.mpls_lse & !0xff) | (*b & 0xff),
                        _ => {}
                    }
                }
                DpAction::CopyTtlIn | DpAction::CopyTtlOut => {}
                DpAction::SetQueue(_) | DpAction::Meter(_) => {}
                other => panic!("unexpected action {other:?}"),
            }
        }
        outs
    }

    /// The header fields the datapath carries on the wire (not pipeline metadata).
    fn headers(k: &FlowKey) -> FlowKey {
        FlowKey {
            eth_src: k.eth_src,
            eth_dst: k.eth_dst,
            eth_type: k.eth_type,
            vlan_tci: k.vlan_tci,
            vlan_tci_inner: k.vlan_tci_inner,
            // The label exists only on an MPLS packet.
            mpls_lse: if matches!(k.eth_type, 0x8847 | 0x8848) {
                k.mpls_lse
            } else {
                0
            },
            ipv4_src: k.ipv4_src,
            ipv4_dst: k.ipv4_dst,
            nw_ttl: k.nw_ttl,
            nw_tos: k.nw_tos,
            tp_src: k.tp_src,
            tp_dst: k.tp_dst,
            ..FlowKey::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Executing the datapath actions sends at each output exactly the
        /// headers the pipeline meant to send there: the commit and the
        /// restoring of packet copies (group buckets, NORMAL's VLAN
        /// rewrites) leave nothing stale.
        #[test]
        fn emitted_actions_send_the_packet_the_pipeline_meant(
            groups in proptest::collection::vec(arb_group(), 0..3),
            rules_seed in proptest::collection::vec(arb_rule(3), 1..14),
            vlan_modes in arb_vlan_modes(),
            key in arb_key(),
        ) {
            let n_groups = u32::try_from(groups.len()).unwrap();
            let rules: Vec<RuleSpec> = rules_seed
                .into_iter()
                .map(|mut r| {
                    let fix = |a: &mut Action| {
                        if let Action::Group(g) = a {
                            if *g > n_groups {
                                *a = Action::PopVlan;
                            }
                        }
                    };
                    r.apply.iter_mut().for_each(fix);
                    r.write.iter_mut().for_each(fix);
                    r
                })
                .collect();
            let p = build(&groups, &rules, None, &vlan_modes);
            let t = translate(&p, &key, 0, &mut XlateCtx::tracing());
            let meant: Vec<(u32, FlowKey)> = t
                .trace
                .iter()
                .filter_map(|e| match e {
                    TraceEvent::Output { port, packet } => Some((*port, headers(packet))),
                    _ => None,
                })
                .collect();
            let sent: Vec<(u32, FlowKey)> = simulate(&key, &t.actions)
                .into_iter()
                .map(|(p, k)| (p, headers(&k)))
                .collect();
            if t.error.is_none() {
                prop_assert_eq!(sent, meant, "actions {:?}", t.actions);
            }
        }

        /// For any pipeline and packet `p`, every key `q` that agrees with
        /// `p` on the translation's mask gets the same translation.
        #[test]
        fn translation_holds_for_every_key_agreeing_on_its_mask(
            groups in proptest::collection::vec(arb_group(), 0..3),
            rules_seed in proptest::collection::vec(arb_rule(3), 1..14),
            down in proptest::option::of(1u32..5),
            vlan_modes in arb_vlan_modes(),
            key in arb_key(),
            noise in proptest::collection::vec(any::<u64>(), crate::flow::FLOW_WORDS),
            other in arb_key(),
            pick in any::<u32>(),
        ) {
            let n_groups = u32::try_from(groups.len()).unwrap();
            // Group actions may only name installed groups.
            let rules: Vec<RuleSpec> = rules_seed
                .into_iter()
                .map(|mut r| {
                    let fix = |a: &mut Action| {
                        if let Action::Group(g) = a {
                            if *g > n_groups {
                                *a = Action::PopVlan;
                            }
                        }
                    };
                    r.apply.iter_mut().for_each(fix);
                    r.write.iter_mut().for_each(fix);
                    r
                })
                .collect();
            let p = build(&groups, &rules, down, &vlan_modes);
            let mut ctx = XlateCtx::revalidation();
            let t = translate(&p, &key, 0, &mut ctx);
            let m = t.mask.key.as_words();
            // q1: arbitrary bits outside the mask; q2: another plausible
            // packet's bits outside the mask.
            let mut q1 = [0u64; crate::flow::FLOW_WORDS];
            let mut q2 = [0u64; crate::flow::FLOW_WORDS];
            for i in 0..crate::flow::FLOW_WORDS {
                let r = if pick & (1 << (i % 32)) != 0 { noise[i] } else { 0 };
                q1[i] = (key.as_words()[i] & m[i]) | (r & !m[i]);
                q2[i] = (key.as_words()[i] & m[i]) | (other.as_words()[i] & !m[i]);
            }
            for q in [FlowKey::from_words(q1), FlowKey::from_words(q2)] {
                let tq = translate(&p, &q, 0, &mut ctx);
                prop_assert!(
                    t.same_result(&tq),
                    "key {:?}\nq {:?}\nmask {:?}\np actions {:?}\nq actions {:?}",
                    key, q, t.mask, t.actions, tq.actions
                );
            }
        }
    }
}
