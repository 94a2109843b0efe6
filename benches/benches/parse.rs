//! Flow key extraction on batches of 32 frames, the datapath's batch size:
//! TCP/IPv4, UDP/IPv6 and VLAN-tagged TCP/IPv4, all 64 bytes long. The
//! throughput is reported per frame, so criterion's time per element is the
//! cost of parsing one frame and filling its key.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::buffer::{PacketMeta, BATCH_SIZE};
use datapath::extract::{flow_extract, Layout};
use datapath::flow::FlowKey;
use datapath::packet::FrameBuilder;
use std::hint::black_box;

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

fn v6(last: u16) -> [u8; 16] {
    let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    a[14..16].copy_from_slice(&last.to_be_bytes());
    a
}

/// A batch of 64-byte frames of one kind, with varying addresses and ports.
fn batch(kind: &str) -> Vec<Vec<u8>> {
    (0..BATCH_SIZE)
        .map(|i| {
            let i16 = u16::try_from(i).unwrap_or(0);
            let i8 = u8::try_from(i).unwrap_or(0);
            let frame = match kind {
                "tcp4" => FrameBuilder::tcp4(
                    SRC_MAC,
                    DST_MAC,
                    [10, 0, 0, i8],
                    [10, 0, 1, 1],
                    10000 + i16,
                    80,
                    &[0; 10],
                )
                .build(),
                "udp6" => FrameBuilder::udp6(
                    SRC_MAC,
                    DST_MAC,
                    v6(i16),
                    v6(0xffff),
                    20000 + i16,
                    53,
                    &[0; 2],
                )
                .build(),
                _ => FrameBuilder::tcp4(
                    SRC_MAC,
                    DST_MAC,
                    [10, 0, 0, i8],
                    [10, 0, 1, 1],
                    10000 + i16,
                    443,
                    &[0; 6],
                )
                .vlan(0x8100, 100 + i16 % 4)
                .build(),
            };
            assert_eq!(frame.len(), 64, "{kind}");
            frame
        })
        .collect()
}

fn extraction(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_extract");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    let meta = PacketMeta {
        in_port: 1,
        ..PacketMeta::default()
    };
    for kind in ["tcp4", "udp6", "vlan_tcp4"] {
        let frames = batch(kind);
        let mut keys = [FlowKey::default(); BATCH_SIZE];
        let mut layouts = [Layout::EMPTY; BATCH_SIZE];
        group.bench_function(format!("{kind}_64B_batch32"), |b| {
            b.iter(|| {
                for ((frame, key), layout) in frames.iter().zip(&mut keys).zip(&mut layouts) {
                    *layout = flow_extract(black_box(frame), &meta, key);
                }
                black_box((&keys, &layouts));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, extraction);
criterion_main!(benches);
