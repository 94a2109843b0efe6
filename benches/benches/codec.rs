//! The OpenFlow codec on the two messages a busy controller channel carries
//! most: a FLOW_MOD with five OXM fields and two instructions (apply-actions
//! and goto-table), and a PACKET_IN with 64 bytes of frame data. Each is
//! measured decoding from wire bytes to a `Message` and encoding back, one
//! message per iteration, so criterion's time per element is the cost of
//! one message.

use controller_proto::action::Action;
use controller_proto::flow_mod::{FlowMod, FlowModCommand, OFP_NO_BUFFER};
use controller_proto::instruction::Instruction;
use controller_proto::message::Message;
use controller_proto::oxm::OfpMatch;
use controller_proto::packet_io::{PacketIn, PacketInReason};
use controller_proto::port::{OFPP_ANY, OFPP_CONTROLLER};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::flow::Field;
use std::hint::black_box;

fn flow_mod() -> Message {
    Message::FlowMod(FlowMod {
        cookie: 0x1234,
        cookie_mask: 0,
        table_id: 0,
        command: FlowModCommand::OFPFC_ADD,
        idle_timeout: 30,
        hard_timeout: 0,
        priority: 1000,
        buffer_id: OFP_NO_BUFFER,
        out_port: OFPP_ANY,
        out_group: controller_proto::action::OFPG_ANY,
        flags: 0,
        match_: OfpMatch::catch_all()
            .exact(Field::InPort, 1)
            .exact(Field::EthType, 0x0800)
            .masked(Field::Ipv4Src, 0x0a00_0000, 0xff00_0000)
            .exact(Field::IpProto, 6)
            .exact(Field::TcpDst, 80),
        instructions: vec![
            Instruction::ApplyActions(vec![
                Action::Output {
                    port: 2,
                    max_len: 0,
                },
                Action::Output {
                    port: OFPP_CONTROLLER,
                    max_len: 128,
                },
            ]),
            Instruction::GotoTable(1),
        ],
    })
}

fn packet_in() -> Message {
    Message::PacketIn(PacketIn {
        buffer_id: OFP_NO_BUFFER,
        total_len: 64,
        reason: PacketInReason::OFPR_NO_MATCH,
        table_id: 0,
        cookie: u64::MAX,
        match_: OfpMatch::catch_all().exact(Field::InPort, 3),
        data: (0..64u8).collect(),
    })
}

fn bench_codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    for (name, msg) in [("flow_mod", flow_mod()), ("packet_in", packet_in())] {
        let bytes = msg.encode(7);
        assert_eq!(Message::decode(&bytes).map(|(_, m)| m).as_ref(), Ok(&msg));
        g.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| Message::decode(black_box(&bytes)))
        });
        g.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| black_box(&msg).encode(black_box(7)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
