//! The OpenFlow channel against peers: `ovs-ofctl -O OpenFlow13` (Debian's
//! openvswitch-common) for every management command it has, and a small
//! Rust controller built on `controller-proto` that sends malformed and
//! invalid requests and checks the error type and code of each, the roles,
//! and the BARRIER guarantee with real traffic through network namespaces.
//!
//! Every test starts its own `switchd` on its own run directory and
//! loopback port, and namespaces and veths with a per-test prefix that a
//! guard removes even when the test fails. With `SWITCH_REQUIRE_PEERS`
//! set, a missing peer fails the test instead of skipping it.

mod ofharness;

use controller_proto::action::Action;
use controller_proto::conn::Outcome;
use controller_proto::controller::{ControllerRole, RoleMsg};
use controller_proto::error::{
    BadActionCode, BadMatchCode, BadRequestCode, ErrorKind, FlowModFailedCode, GroupModFailedCode,
    MeterModFailedCode, RoleRequestFailedCode,
};
use controller_proto::flow_mod::{FlowMod, FlowModCommand, OFP_NO_BUFFER};
use controller_proto::group_mod::{GroupMod, GroupModCommand, GroupType};
use controller_proto::instruction::Instruction;
use controller_proto::message::Message;
use controller_proto::multipart::{MultipartRequest, MultipartRequestBody};
use controller_proto::oxm::OfpMatch;
use controller_proto::packet_io::PacketOut;
use controller_proto::stats_flow::FlowStatsRequest;
use datapath::flow::Field;
use ofharness::{ofctl, Net, Switchd, TestCtl};

const OFPP_CONTROLLER: u32 = 0xffff_fffd;
const OFPP_ANY: u32 = 0xffff_ffff;
const OFPG_ANY: u32 = 0xffff_ffff;

fn out(port: u32) -> Action {
    Action::Output {
        port,
        max_len: 0xffff,
    }
}

fn udp_to(dst: u32, port: u16) -> OfpMatch {
    OfpMatch::catch_all()
        .exact(Field::EthType, 0x0800)
        .exact(Field::IpProto, 17)
        .exact(Field::Ipv4Dst, u128::from(dst))
        .exact(Field::UdpDst, u128::from(port))
}

fn add(m: OfpMatch, priority: u16, cookie: u64, actions: Vec<Action>) -> FlowMod {
    FlowMod {
        priority,
        cookie,
        match_: m,
        instructions: vec![Instruction::ApplyActions(actions)],
        ..FlowMod::default()
    }
}

fn expect_error(o: &Outcome, kind: impl Into<ErrorKind>) {
    let kind = kind.into();
    match o {
        Outcome::Error(e) => assert_eq!(e.kind, kind, "wrong error"),
        other => panic!("expected {kind}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Conformance: errors for malformed and invalid messages.

#[test]
fn malformed_headers_get_bad_version_bad_type_and_bad_len() {
    let sw = Switchd::start("ofbad", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    // A FEATURES_REQUEST in OpenFlow 1.0.
    let e = c.raw_error(&[1, 5, 0, 8, 0, 0, 0, 0]);
    assert_eq!(e.kind, BadRequestCode::OFPBRC_BAD_VERSION.into());
    // An unknown message type.
    let e = c.raw_error(&[4, 99, 0, 8, 0, 0, 0, 0]);
    assert_eq!(e.kind, BadRequestCode::OFPBRC_BAD_TYPE.into());
    // A FEATURES_REQUEST with a body.
    let e = c.raw_error(&[4, 5, 0, 12, 0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(e.kind, BadRequestCode::OFPBRC_BAD_LEN.into());
    // A multipart request of an unknown type.
    let e = c.raw_error(&[4, 18, 0, 16, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0]);
    assert_eq!(e.kind, BadRequestCode::OFPBRC_BAD_MULTIPART.into());
    // A switch-to-controller message sent to the switch.
    let e = c.raw_error(&[4, 21, 0, 8, 0, 0, 0, 0]);
    assert_eq!(e.kind, BadRequestCode::OFPBRC_BAD_TYPE.into());
    // The connection is still usable after all of that.
    assert!(matches!(
        c.request(Message::FeaturesRequest),
        Outcome::Reply(Message::FeaturesReply(_))
    ));
}

#[test]
fn an_error_echoes_at_least_the_first_64_bytes_of_the_offending_message() {
    let sw = Switchd::start("ofecho", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    let mut fm = add(
        OfpMatch::catch_all().exact(Field::TcpDst, 80),
        1,
        0,
        vec![out(1)],
    );
    fm.instructions
        .push(Instruction::WriteActions(vec![out(2); 8]));
    let raw = Message::FlowMod(fm).encode(0);
    assert!(raw.len() > 64);
    let e = c.raw_error(&raw);
    assert_eq!(e.kind, BadMatchCode::OFPBMC_BAD_PREREQ.into());
    // At least the first 64 bytes (this switch echoes the whole request
    // up to 1 KiB); the xid was rewritten by the sender.
    assert!(e.data.len() >= 64, "{} bytes echoed", e.data.len());
    assert_eq!(&e.data[..4], &raw[..4]);
    assert_eq!(&e.data[8..64], &raw[8..64]);
}

#[test]
fn invalid_flow_mods_get_the_specified_error_codes() {
    let sw = Switchd::start("ofinv", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    // A field whose prerequisite is missing.
    let o = c.request(Message::FlowMod(add(
        OfpMatch::catch_all().exact(Field::TcpDst, 80),
        1,
        0,
        vec![out(1)],
    )));
    expect_error(&o, BadMatchCode::OFPBMC_BAD_PREREQ);
    // The same field twice.
    let o = c.request(Message::FlowMod(add(
        OfpMatch::catch_all()
            .exact(Field::InPort, 1)
            .exact(Field::InPort, 2),
        1,
        0,
        vec![out(1)],
    )));
    expect_error(&o, BadMatchCode::OFPBMC_DUP_FIELD);
    // A table that does not exist.
    let mut fm = add(OfpMatch::catch_all(), 1, 0, vec![out(1)]);
    fm.table_id = 254;
    expect_error(
        &c.request(Message::FlowMod(fm)),
        FlowModFailedCode::OFPFMFC_BAD_TABLE_ID,
    );
    // An output to port 0.
    let o = c.request(Message::FlowMod(add(
        OfpMatch::catch_all(),
        1,
        0,
        vec![Action::Output {
            port: 0,
            max_len: 0,
        }],
    )));
    expect_error(&o, BadActionCode::OFPBAC_BAD_OUT_PORT);
    // A group that does not exist.
    let o = c.request(Message::FlowMod(add(
        OfpMatch::catch_all(),
        1,
        0,
        vec![Action::Group(7)],
    )));
    expect_error(&o, BadActionCode::OFPBAC_BAD_OUT_GROUP);
    // A meter that does not exist.
    let mut fm = add(OfpMatch::catch_all(), 1, 0, vec![out(1)]);
    fm.instructions.insert(0, Instruction::Meter(9));
    expect_error(
        &c.request(Message::FlowMod(fm)),
        MeterModFailedCode::OFPMMFC_UNKNOWN_METER,
    );
    // An unknown command.
    let mut fm = add(OfpMatch::catch_all(), 1, 0, vec![out(1)]);
    fm.command = FlowModCommand(9);
    expect_error(
        &c.request(Message::FlowMod(fm)),
        FlowModFailedCode::OFPFMFC_BAD_COMMAND,
    );
    // Flow statistics of a table that does not exist.
    let o = c.request(Message::MultipartRequest(MultipartRequest::new(
        MultipartRequestBody::Flow(FlowStatsRequest {
            table_id: 254,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: OfpMatch::catch_all(),
        }),
    )));
    expect_error(&o, BadRequestCode::OFPBRC_BAD_TABLE_ID);
    // Nothing of the above was installed.
    assert_eq!(c.flow_count(), 0);
}

#[test]
fn group_and_packet_out_errors_name_the_problem() {
    let sw = Switchd::start("ofgrp", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    let gm = GroupMod {
        command: GroupModCommand::OFPGC_MODIFY,
        group_type: GroupType::OFPGT_ALL,
        group_id: 5,
        buckets: Vec::new(),
    };
    expect_error(
        &c.request(Message::GroupMod(gm.clone())),
        GroupModFailedCode::OFPGMFC_UNKNOWN_GROUP,
    );
    let add_gm = GroupMod {
        command: GroupModCommand::OFPGC_ADD,
        ..gm
    };
    assert_eq!(c.request(Message::GroupMod(add_gm.clone())), Outcome::Done);
    expect_error(
        &c.request(Message::GroupMod(add_gm)),
        GroupModFailedCode::OFPGMFC_GROUP_EXISTS,
    );
    // A packet-out naming a buffer that was never issued.
    let po = PacketOut {
        buffer_id: 1234,
        in_port: OFPP_CONTROLLER,
        actions: vec![out(1)],
        data: Vec::new(),
    };
    expect_error(
        &c.request(Message::PacketOut(po)),
        BadRequestCode::OFPBRC_BUFFER_UNKNOWN,
    );
    // A packet-out from a port number that cannot exist.
    let po = PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port: 0,
        actions: vec![out(1)],
        data: vec![0xff; 60],
    };
    expect_error(
        &c.request(Message::PacketOut(po)),
        BadRequestCode::OFPBRC_BAD_PORT,
    );
    // An experimenter message.
    let m = Message::Experimenter(controller_proto::controller::ExperimenterMsg {
        experimenter: 0x2320,
        exp_type: 1,
        data: Vec::new(),
    });
    expect_error(&c.request(m), BadRequestCode::OFPBRC_BAD_EXPERIMENTER);
}

#[test]
fn a_slave_is_refused_state_changes_and_stale_generations_are_refused() {
    let sw = Switchd::start("ofrole", &[]);
    let mut a = TestCtl::connect(&sw.ptcp());
    let mut b = TestCtl::connect(&sw.ptcp());
    let role = |role, generation_id| {
        Message::RoleRequest(RoleMsg {
            role,
            generation_id,
        })
    };
    let Outcome::Reply(Message::RoleReply(r)) =
        a.request(role(ControllerRole::OFPCR_ROLE_MASTER, 10))
    else {
        panic!("no role reply");
    };
    assert_eq!(r.role, ControllerRole::OFPCR_ROLE_MASTER);
    assert_eq!(r.generation_id, 10);
    // B becomes master: A is demoted to slave.
    assert!(matches!(
        b.request(role(ControllerRole::OFPCR_ROLE_MASTER, 11)),
        Outcome::Reply(Message::RoleReply(_))
    ));
    let Outcome::Reply(Message::RoleReply(r)) =
        a.request(role(ControllerRole::OFPCR_ROLE_NOCHANGE, 0))
    else {
        panic!("no role reply");
    };
    assert_eq!(r.role, ControllerRole::OFPCR_ROLE_SLAVE);
    // The slave may read but not write.
    let o = a.request(Message::FlowMod(add(
        OfpMatch::catch_all(),
        1,
        0,
        vec![out(1)],
    )));
    expect_error(&o, BadRequestCode::OFPBRC_IS_SLAVE);
    assert!(matches!(
        a.request(Message::FeaturesRequest),
        Outcome::Reply(_)
    ));
    // An older generation id is stale.
    expect_error(
        &a.request(role(ControllerRole::OFPCR_ROLE_MASTER, 9)),
        RoleRequestFailedCode::OFPRRFC_STALE,
    );
    expect_error(
        &a.request(role(ControllerRole(9), 12)),
        RoleRequestFailedCode::OFPRRFC_BAD_ROLE,
    );
    // The master still writes.
    assert_eq!(
        b.request(Message::FlowMod(add(
            OfpMatch::catch_all(),
            1,
            0,
            vec![out(1)]
        ))),
        Outcome::Done
    );
}

#[test]
fn the_switch_answers_hello_failed_to_a_peer_without_one_three() {
    let sw = Switchd::start("ofhello", &[]);
    let e = TestCtl::hello_only(&sw.ptcp(), &[1, 0, 0, 8, 0, 0, 0, 1]);
    assert_eq!(
        e.kind,
        controller_proto::error::HelloFailedCode::OFPHFC_INCOMPATIBLE.into()
    );
}

// ---------------------------------------------------------------------------
// The BARRIER guarantee with real traffic.

#[test]
fn after_a_barrier_reply_the_next_packet_follows_the_new_rule() {
    let Some(net) = Net::create("ofbar", 2) else {
        return;
    };
    let sw = Switchd::start("ofbar", &net.switch_ports());
    let mut c = TestCtl::connect(&sw.ptcp());
    c.set_async_all();
    net.wait_ports_up(&sw);
    let dst = net.host_ip(1);
    let m = udp_to(dst, 9999);
    for round in 0..12u64 {
        let cookie = 0x100 + round;
        // Replace the rule: same match and priority, new cookie.
        let fm = add(m.clone(), 10, cookie, vec![out(OFPP_CONTROLLER)]);
        assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
        assert_eq!(
            c.request(Message::BarrierRequest),
            Outcome::Reply(Message::BarrierReply)
        );
        net.send_udp(0, 1, 9999);
        let pi = c
            .packet_in(std::time::Duration::from_secs(5))
            .expect("packet-in");
        assert_eq!(pi.cookie, cookie, "round {round}: a stale rule forwarded");
    }
}

// ---------------------------------------------------------------------------
// ovs-ofctl.

#[test]
fn ovs_ofctl_shows_the_switch_and_its_tables_and_ports() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("ofshow", &[]);
    let t = sw.ptcp_ofctl();
    let show = ofctl(&["show", &t]).expect("show");
    assert!(show.contains("OFPT_FEATURES_REPLY"), "{show}");
    assert!(show.contains("n_tables:254"), "{show}");
    assert!(
        show.contains("LOCAL") || show.contains("n_buffers"),
        "{show}"
    );
    let desc = ofctl(&["dump-desc", &t]).expect("dump-desc");
    assert!(desc.contains("switchd"), "{desc}");
    let tables = ofctl(&["dump-tables", &t]).expect("dump-tables");
    assert!(tables.contains("table 0"), "{tables}");
    let tf = ofctl(&["dump-table-features", &t]).expect("dump-table-features");
    assert!(tf.contains("table 0"), "{tf}");
    assert!(
        tf.contains("apply_actions") || tf.contains("instructions"),
        "{tf}"
    );
    let ports = ofctl(&["dump-ports", &t]).expect("dump-ports");
    assert!(ports.contains("OFPST_PORT reply"), "{ports}");
    let pd = ofctl(&["dump-ports-desc", &t]).expect("dump-ports-desc");
    assert!(pd.contains("OFPST_PORT_DESC reply"), "{pd}");
    let cfg = ofctl(&["get-frags", &t]).expect("get-frags");
    assert!(cfg.contains("normal"), "{cfg}");
}

#[test]
fn ovs_ofctl_adds_modifies_dumps_and_deletes_flows() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("offlows", &[]);
    let t = sw.ptcp_ofctl();
    ofctl(&[
        "add-flow",
        &t,
        "priority=100,ip,nw_dst=198.18.0.1,actions=output:1",
    ])
    .expect("add");
    ofctl(&[
        "add-flow",
        &t,
        "table=1,priority=5,cookie=0x7,tcp,tp_dst=80,actions=set_field:81->tcp_dst,output:2",
    ])
    .expect("add");
    let flows_file = sw.dir().join("flows.txt");
    std::fs::write(
        &flows_file,
        "priority=10,in_port=1,actions=output:2\npriority=10,in_port=2,actions=output:1\n",
    )
    .expect("flows file");
    ofctl(&["add-flows", &t, flows_file.to_str().expect("utf-8")]).expect("add-flows");
    let dump = ofctl(&["dump-flows", &t]).expect("dump-flows");
    assert_eq!(dump.matches("actions=").count(), 4, "{dump}");
    assert!(dump.contains("nw_dst=198.18.0.1"), "{dump}");
    assert!(dump.contains("set_field:81->tcp_dst"), "{dump}");
    // Filters.
    let d = ofctl(&["dump-flows", &t, "table=1"]).expect("filter");
    assert_eq!(d.matches("actions=").count(), 1, "{d}");
    let d = ofctl(&["dump-flows", &t, "in_port=1"]).expect("filter");
    assert_eq!(d.matches("actions=").count(), 1, "{d}");
    let d = ofctl(&["dump-flows", &t, "cookie=0x7/-1"]).expect("filter");
    assert_eq!(d.matches("actions=").count(), 1, "{d}");
    let agg = ofctl(&["dump-aggregate", &t]).expect("aggregate");
    assert!(agg.contains("flow_count=4"), "{agg}");
    // Modify.
    ofctl(&["mod-flows", &t, "in_port=1,actions=output:3"]).expect("mod");
    let d = ofctl(&["dump-flows", &t, "in_port=1"]).expect("dump");
    assert!(d.contains("actions=output:3"), "{d}");
    // Strict delete needs the priority.
    ofctl(&["--strict", "del-flows", &t, "priority=9,in_port=2"]).expect("del strict");
    assert_eq!(
        ofctl(&["dump-flows", &t])
            .expect("dump")
            .matches("actions=")
            .count(),
        4
    );
    ofctl(&["--strict", "del-flows", &t, "priority=10,in_port=2"]).expect("del strict");
    assert_eq!(
        ofctl(&["dump-flows", &t])
            .expect("dump")
            .matches("actions=")
            .count(),
        3
    );
    // Non-strict delete by a looser match.
    ofctl(&["del-flows", &t, "ip"]).expect("del");
    let d = ofctl(&["dump-flows", &t]).expect("dump");
    assert_eq!(d.matches("actions=").count(), 1, "{d}");
    ofctl(&["del-flows", &t]).expect("del all");
    assert_eq!(
        ofctl(&["dump-flows", &t])
            .expect("dump")
            .matches("actions=")
            .count(),
        0
    );
}

#[test]
fn ovs_ofctl_manages_groups_and_meters() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("ofgm", &[]);
    let t = sw.ptcp_ofctl();
    ofctl(&[
        "add-group",
        &t,
        "group_id=1,type=all,bucket=output:1,bucket=output:2",
    ])
    .expect("add-group");
    ofctl(&[
        "add-group",
        &t,
        "group_id=2,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2",
    ])
    .expect("add-group");
    let g = ofctl(&["dump-groups", &t]).expect("dump-groups");
    assert!(g.contains("group_id=1,type=all"), "{g}");
    assert!(g.contains("group_id=2,type=select"), "{g}");
    ofctl(&["mod-group", &t, "group_id=1,type=all,bucket=output:3"]).expect("mod-group");
    let g = ofctl(&["dump-groups", &t]).expect("dump-groups");
    assert!(g.contains("bucket=actions=output:3"), "{g}");
    ofctl(&["add-flow", &t, "priority=1,actions=group:1"]).expect("flow to group");
    let gs = ofctl(&["dump-group-stats", &t]).expect("group stats");
    assert!(gs.contains("group_id=1"), "{gs}");
    let gf = ofctl(&["dump-group-features", &t]).expect("group features");
    assert!(gf.contains("select"), "{gf}");
    // Deleting the group removes the flow that used it.
    ofctl(&["del-groups", &t, "group_id=1"]).expect("del-groups");
    let g = ofctl(&["dump-groups", &t]).expect("dump-groups");
    assert!(!g.contains("group_id=1,"), "{g}");
    assert_eq!(
        ofctl(&["dump-flows", &t])
            .expect("dump")
            .matches("actions=")
            .count(),
        0
    );
    // Meters.
    ofctl(&[
        "add-meter",
        &t,
        "meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100",
    ])
    .expect("add-meter");
    ofctl(&["add-meter", &t, "meter=2,pktps,band=type=drop,rate=10"]).expect("add-meter");
    let m = ofctl(&["dump-meters", &t]).expect("dump-meters");
    assert!(m.contains("meter=1"), "{m}");
    assert!(m.contains("meter=2"), "{m}");
    assert!(m.contains("rate=1000"), "{m}");
    let ms = ofctl(&["meter-stats", &t]).expect("meter-stats");
    assert!(ms.contains("meter:1") || ms.contains("meter=1"), "{ms}");
    let mf = ofctl(&["meter-features", &t]).expect("meter-features");
    assert!(mf.contains("max_meter"), "{mf}");
    ofctl(&["del-meter", &t, "meter=1"]).expect("del-meter");
    let m = ofctl(&["dump-meters", &t]).expect("dump-meters");
    assert!(!m.contains("meter=1 "), "{m}");
    assert!(m.contains("meter=2"), "{m}");
}

#[test]
fn ovs_ofctl_packet_out_and_mod_port_reach_the_datapath() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let Some(net) = Net::create("ofpo", 2) else {
        return;
    };
    let sw = Switchd::start("ofpo", &net.switch_ports());
    net.wait_ports_up(&sw);
    let t = sw.ptcp_ofctl();
    let pd = ofctl(&["dump-ports-desc", &t]).expect("ports");
    assert!(pd.contains(&net.switch_if(0)), "{pd}");
    // A packet-out to port 2 arrives in the second namespace.
    let frame = net.udp_frame(0, 1, 7777);
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let before = net.rx_packets(1);
    ofctl(&["packet-out", &t, "CONTROLLER", "output:2", &hex]).expect("packet-out");
    net.wait_rx_more(1, before);
    // mod-port: bring port 1 down administratively, and up again.
    ofctl(&["mod-port", &t, "1", "down"]).expect("mod-port");
    let pd = ofctl(&["dump-ports-desc", &t]).expect("ports");
    assert!(pd.contains("PORT_DOWN"), "{pd}");
    ofctl(&["mod-port", &t, "1", "up"]).expect("mod-port");
    let pd = ofctl(&["dump-ports-desc", &t]).expect("ports");
    assert!(!pd.contains("PORT_DOWN"), "{pd}");
    let ports = ofctl(&["dump-ports", &t, "2"]).expect("dump-ports");
    assert!(
        ports.contains("port  2") || ports.contains("port 2"),
        "{ports}"
    );
}

#[test]
fn ovs_ofctl_reaches_the_bridge_through_its_management_socket() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("ofmgmt", &[]);
    let t = format!("unix:{}", sw.mgmt().display());
    ofctl(&["add-flow", &t, "priority=3,actions=drop"]).expect("add via unix");
    let d = ofctl(&["dump-flows", &t]).expect("dump via unix");
    assert!(d.contains("priority=3"), "{d}");
}

// ---------------------------------------------------------------------------
// Asynchronous messages, table capacity, configuration.

fn flow_removed(c: &mut TestCtl) -> controller_proto::flow_removed::FlowRemoved {
    match c.wait(std::time::Duration::from_secs(5), |e| {
        matches!(
            e,
            controller_proto::conn::Event::Message {
                msg: Message::FlowRemoved(_),
                ..
            }
        )
    }) {
        Some(controller_proto::conn::Event::Message {
            msg: Message::FlowRemoved(f),
            ..
        }) => f,
        other => panic!("no flow removed: {other:?}"),
    }
}

#[test]
fn flow_removed_reports_timeouts_deletes_and_group_deletes() {
    use controller_proto::flow_mod::OFPFF_SEND_FLOW_REM;
    use controller_proto::flow_removed::FlowRemovedReason;
    let sw = Switchd::start("offrm", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    // A hard timeout.
    let mut fm = add(udp_to(1, 1), 5, 0xa, vec![out(1)]);
    fm.flags = OFPFF_SEND_FLOW_REM;
    fm.hard_timeout = 1;
    assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
    let fr = flow_removed(&mut c);
    assert_eq!(fr.reason, FlowRemovedReason::OFPRR_HARD_TIMEOUT);
    assert_eq!(fr.cookie, 0xa);
    assert_eq!(fr.priority, 5);
    // A delete.
    let mut fm = add(udp_to(2, 2), 5, 0xb, vec![out(1)]);
    fm.flags = OFPFF_SEND_FLOW_REM;
    assert_eq!(c.request(Message::FlowMod(fm.clone())), Outcome::Done);
    fm.command = FlowModCommand::OFPFC_DELETE_STRICT;
    assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
    let fr = flow_removed(&mut c);
    assert_eq!(fr.reason, FlowRemovedReason::OFPRR_DELETE);
    assert_eq!(fr.cookie, 0xb);
    // A group delete takes the flows that use the group.
    let gm = GroupMod {
        command: GroupModCommand::OFPGC_ADD,
        group_type: GroupType::OFPGT_INDIRECT,
        group_id: 3,
        buckets: vec![controller_proto::group_mod::Bucket {
            weight: 0,
            watch_port: OFPP_ANY,
            watch_group: OFPG_ANY,
            actions: vec![out(1)],
        }],
    };
    assert_eq!(c.request(Message::GroupMod(gm.clone())), Outcome::Done);
    let mut fm = add(udp_to(3, 3), 5, 0xc, vec![Action::Group(3)]);
    fm.flags = OFPFF_SEND_FLOW_REM;
    assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
    let del = GroupMod {
        command: GroupModCommand::OFPGC_DELETE,
        buckets: Vec::new(),
        ..gm
    };
    assert_eq!(c.request(Message::GroupMod(del)), Outcome::Done);
    let fr = flow_removed(&mut c);
    assert_eq!(fr.reason, FlowRemovedReason::OFPRR_GROUP_DELETE);
    assert_eq!(fr.cookie, 0xc);
}

#[test]
fn a_table_sized_by_table_features_refuses_entries_beyond_it() {
    use controller_proto::multipart::MultipartReplyBody;
    let sw = Switchd::start("oftfull", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    let MultipartReplyBody::TableFeatures(mut tables) =
        c.multipart(MultipartRequestBody::TableFeatures(Vec::new()))
    else {
        panic!("no table features");
    };
    assert_eq!(tables.len(), 254);
    let mut t1 = tables.swap_remove(1);
    t1.max_entries = 2;
    t1.name = controller_proto::header::FixedStr::new("small");
    let MultipartReplyBody::TableFeatures(after) =
        c.multipart(MultipartRequestBody::TableFeatures(vec![t1]))
    else {
        panic!("no table features");
    };
    assert_eq!(after[1].max_entries, 2);
    assert_eq!(after[1].name.to_string(), "small");
    for port in 1..=2u16 {
        let mut fm = add(udp_to(1, port), 1, 0, vec![out(1)]);
        fm.table_id = 1;
        assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
    }
    let mut fm = add(udp_to(1, 3), 1, 0, vec![out(1)]);
    fm.table_id = 1;
    expect_error(
        &c.request(Message::FlowMod(fm)),
        FlowModFailedCode::OFPFMFC_TABLE_FULL,
    );
    // Replacing an existing entry is not an addition.
    let mut fm = add(udp_to(1, 2), 1, 9, vec![out(2)]);
    fm.table_id = 1;
    assert_eq!(c.request(Message::FlowMod(fm)), Outcome::Done);
}

#[test]
fn async_config_defaults_follow_the_specification_and_can_be_set() {
    use controller_proto::controller::AsyncConfig;
    let sw = Switchd::start("ofasync", &[]);
    let mut c = TestCtl::connect(&sw.ptcp());
    let Outcome::Reply(Message::GetAsyncReply(a)) = c.request(Message::GetAsyncRequest) else {
        panic!("no async reply");
    };
    assert_eq!(a, AsyncConfig::spec_default());
    let mine = AsyncConfig {
        packet_in_mask: [0b1, 0b1],
        port_status_mask: [0b100, 0],
        flow_removed_mask: [0b10, 0],
    };
    assert_eq!(c.request(Message::SetAsync(mine)), Outcome::Done);
    let Outcome::Reply(Message::GetAsyncReply(a)) = c.request(Message::GetAsyncRequest) else {
        panic!("no async reply");
    };
    assert_eq!(a, mine);
    // A queue configuration request for a port that does not exist.
    let o = c.request(Message::QueueGetConfigRequest(
        controller_proto::controller::QueueGetConfigRequest { port: 77 },
    ));
    expect_error(
        &o,
        controller_proto::error::QueueOpFailedCode::OFPQOFC_BAD_PORT,
    );
}

#[test]
fn ovs_ofctl_sets_fragment_handling_and_dumps_thousands_of_flows_in_parts() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("ofmany", &[]);
    let t = sw.ptcp_ofctl();
    ofctl(&["set-frags", &t, "drop"]).expect("set-frags");
    assert!(ofctl(&["get-frags", &t])
        .expect("get-frags")
        .contains("drop"));
    let flows: String = (0..3000)
        .map(|i| format!("priority=7,udp,tp_dst={},actions=output:1\n", 1000 + i))
        .collect();
    let f = sw.dir().join("many.txt");
    std::fs::write(&f, flows).expect("flows");
    ofctl(&["add-flows", &t, f.to_str().expect("utf-8")]).expect("add-flows");
    let d = ofctl(&["dump-flows", &t]).expect("dump");
    assert_eq!(d.matches("actions=").count(), 3000);
    let agg = ofctl(&["dump-aggregate", &t]).expect("aggregate");
    assert!(agg.contains("flow_count=3000"), "{agg}");
}

#[test]
fn ovs_ofctl_finds_the_bridge_by_name_in_the_run_directory() {
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let sw = Switchd::start("ofname", &[]);
    let out = std::process::Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "--timeout=10", "show", sw.bridge()])
        .env("OVS_RUNDIR", sw.mgmt().parent().expect("run dir"))
        .output()
        .expect("ovs-ofctl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("OFPT_FEATURES_REPLY"), "{text}");
}
