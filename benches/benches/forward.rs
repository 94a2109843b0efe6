//! Forwarding throughput of one datapath thread on batches of 32 64-byte
//! frames, through `DpThread::process_batch` end to end (flow extraction,
//! cache lookups, execution into per-port output batches, and handing the
//! sent buffers back to the pool):
//!
//! - `emc_hit`: every packet found in the exact-match cache;
//! - `megaflow_hit/N`: the EMC disabled and the megaflow cache holding N
//!   subtables (N distinct masks), the batch spread over all of them;
//! - `miss_install`: every packet a new 5-tuple, so each one is translated
//!   through the OpenFlow pipeline and installed (idle entries expire as
//!   time advances, as they would in a running switch).
//!
//! Throughput is reported in packets (elements) per second. After the timed
//! runs, the binary counts allocations per packet on each path with a
//! counting global allocator and asserts that both hit paths allocate
//! nothing.

use std::hint::black_box;

use benches::{count_allocations, udp_frame, CountingAlloc};
use criterion::{BenchmarkId, Criterion, Throughput};
use datapath::buffer::{Packet, BATCH_SIZE, DEFAULT_HEADROOM};
use datapath::dpif::{DpThread, Shared};
use datapath::execute::{PacketIn, TxBatches};
use datapath::flow::{Field, Match};
use datapath::ofproto::{Action, FlowMod, Instructions, Pipeline, Port};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// The port every benchmark rule outputs to.
const OUT_PORT: u32 = 100;
/// Flows fed to the EMC benchmark.
const EMC_FLOWS: u32 = 32;

fn pipeline() -> Pipeline {
    let mut p = Pipeline::new();
    for i in (1..=64).chain([OUT_PORT]) {
        p.add_port(Port::new(i, &format!("p{i}"), [0x0a, 0, 0, 0, 0, 1]));
    }
    p
}

fn output(port: u32) -> Instructions {
    Instructions::apply(vec![Action::Output { port, max_len: 0 }])
}

/// A forwarding thread with its queues and a batch of receive buffers.
struct Bench {
    shared: Shared,
    dp: DpThread,
    out: TxBatches,
    pins: Vec<PacketIn>,
    rx: Vec<Packet>,
    now_ms: u64,
    iter: u64,
}

impl Bench {
    fn new(pipeline: Pipeline, emc_inv_prob: u32) -> Bench {
        let shared = Shared::new(pipeline);
        shared.set_emc_insert_inv_prob(emc_inv_prob);
        let dp = DpThread::new(&shared);
        let rx = (0..BATCH_SIZE)
            .map(|_| Packet::with_capacity(2048, DEFAULT_HEADROOM))
            .collect();
        Bench {
            shared,
            dp,
            out: TxBatches::with_pool(4 * BATCH_SIZE),
            pins: Vec::new(),
            rx,
            now_ms: 0,
            iter: 0,
        }
    }

    /// Receives `frames[i]` on `ports[i]` into the batch buffers (as a port
    /// would), forwards the batch, and hands the sent packets back to the
    /// pool. Time advances 1 ms every `batches_per_ms` batches.
    #[inline]
    fn run(&mut self, frames: &[(u32, Vec<u8>)], batches_per_ms: u64) {
        for (p, (port, f)) in self.rx.iter_mut().zip(frames) {
            let room = p.reset_for_rx(DEFAULT_HEADROOM);
            room[..f.len()].copy_from_slice(f);
            p.set_len(f.len());
            p.meta.in_port = *port;
        }
        let n = frames.len().min(BATCH_SIZE);
        self.dp.process_batch(
            &self.shared,
            &mut self.rx[..n],
            self.now_ms,
            &mut self.out,
            &mut self.pins,
        );
        self.out.flush(|port, pkts| {
            black_box((port, pkts.len()));
        });
        self.pins.clear();
        self.iter += 1;
        if self.iter.is_multiple_of(batches_per_ms) {
            self.now_ms += 1;
        }
    }
}

/// (a) Exact-match hits: 32 flows, all in the EMC.
fn emc_bench() -> (Bench, Vec<(u32, Vec<u8>)>) {
    let mut p = pipeline();
    let mut m = Match::catch_all();
    m.set(Field::InPort, 1);
    p.flow_mod(&FlowMod::add(0, m, 10, output(OUT_PORT)), 0)
        .unwrap();
    let mut b = Bench::new(p, 1);
    let frames: Vec<(u32, Vec<u8>)> = (0..EMC_FLOWS)
        .map(|i| {
            (
                1,
                udp_frame(
                    0x0a00_0001,
                    0x0a00_0002,
                    1000 + u16::try_from(i).unwrap(),
                    53,
                ),
            )
        })
        .collect();
    for _ in 0..4 {
        b.run(&frames, 1_000);
    }
    (b, frames)
}

fn mac(i: u32, last: u8) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, b[1], b[2], b[3], 0, last]
}

/// (b) Megaflow hits over `n` subtables: rule `i` pins in_port `i + 1`
/// (which the classifier checks first, so other rules add only in_port to
/// a packet's mask) and a distinct subset of six other fields, so each
/// rule's packets get a megaflow mask of their own.
fn megaflow_bench(n: u32) -> (Bench, Vec<(u32, Vec<u8>)>) {
    assert!((1..64).contains(&n));
    let mut p = pipeline();
    let mut flows = Vec::new();
    for i in 0..n {
        let (src_ip, dst_ip) = (0x0a00_0000 | i, 0x0b00_0000 | i);
        let (sport, dport) = (
            2000 + u16::try_from(i).unwrap(),
            3000 + u16::try_from(i).unwrap(),
        );
        let mut f = udp_frame(src_ip, dst_ip, sport, dport);
        f[0..6].copy_from_slice(&mac(i, 2));
        f[6..12].copy_from_slice(&mac(i, 1));
        let mut m = Match::catch_all();
        m.set(Field::InPort, (i + 1).into());
        m.set(Field::EthType, 0x0800);
        let bits = i + 1;
        let mac_value = |m: [u8; 6]| {
            u128::from_be_bytes(
                [[0u8; 10].as_slice(), m.as_slice()]
                    .concat()
                    .try_into()
                    .unwrap(),
            )
        };
        if bits & 1 != 0 {
            m.set(Field::EthSrc, mac_value(mac(i, 1)));
        }
        if bits & 2 != 0 {
            m.set(Field::EthDst, mac_value(mac(i, 2)));
        }
        if bits & 4 != 0 {
            m.set(Field::Ipv4Src, src_ip.into());
        }
        if bits & 8 != 0 {
            m.set(Field::Ipv4Dst, dst_ip.into());
        }
        if bits & 48 != 0 {
            m.set(Field::IpProto, 17);
        }
        if bits & 16 != 0 {
            m.set(Field::UdpSrc, sport.into());
        }
        if bits & 32 != 0 {
            m.set(Field::UdpDst, dport.into());
        }
        p.flow_mod(&FlowMod::add(0, m, 10, output(OUT_PORT)), 0)
            .unwrap();
        flows.push((i + 1, f));
    }
    let mut b = Bench::new(p, 0);
    let frames: Vec<(u32, Vec<u8>)> = (0..BATCH_SIZE)
        .map(|k| flows[k % flows.len()].clone())
        .collect();
    // Install every flow, then let the subtables be ranked.
    for (port, f) in &flows {
        b.run(&[(*port, f.clone())], 1_000);
    }
    for _ in 0..4 {
        b.run(&frames, 1);
    }
    let s = b.dp.stats();
    assert_eq!(s.subtables, u64::from(n), "megaflow subtables");
    assert_eq!(s.flows, u64::from(n));
    (b, frames)
}

/// (c) Every packet a new 5-tuple: an ACL rule looks at the L4 ports, so
/// every packet's megaflow pins them, and a default rule forwards.
fn miss_bench() -> Bench {
    let mut p = pipeline();
    let mut acl = Match::catch_all();
    acl.set(Field::EthType, 0x0800);
    acl.set(Field::IpProto, 17);
    acl.set(Field::Ipv4Src, 0x0a00_0001);
    acl.set(Field::UdpSrc, 7);
    acl.set(Field::UdpDst, 7);
    p.flow_mod(&FlowMod::add(0, acl, 100, Instructions::drop()), 0)
        .unwrap();
    p.flow_mod(&FlowMod::add(0, Match::catch_all(), 0, output(OUT_PORT)), 0)
        .unwrap();
    let b = Bench::new(p, 100);
    // Entries expire after 50 ms of (simulated) idleness.
    b.shared.set_max_idle_ms(50);
    b
}

/// Fills `frames` with 32 packets of 5-tuples never seen before.
fn fresh_tuples(frames: &mut [(u32, Vec<u8>)], counter: &mut u32) {
    for (_, f) in frames.iter_mut() {
        *counter = counter.wrapping_add(1);
        let c = *counter;
        f[34..36].copy_from_slice(
            &u16::try_from(c >> 16)
                .unwrap()
                .wrapping_add(1024)
                .to_be_bytes(),
        );
        f[36..38].copy_from_slice(&u16::try_from(c & 0xffff).unwrap().to_be_bytes());
    }
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Elements(BATCH_SIZE as u64));

    let (mut b, frames) = emc_bench();
    g.bench_function("emc_hit", |bench| bench.iter(|| b.run(&frames, 10_000)));
    let s = b.dp.stats();
    // One megaflow covers all the flows; after warm-up the EMC answers.
    assert_eq!(s.misses, 1);
    assert_eq!(s.megaflow_hits + s.misses, u64::from(EMC_FLOWS), "{s:?}");

    for n in [1u32, 10, 50] {
        let (mut b, frames) = megaflow_bench(n);
        g.bench_with_input(BenchmarkId::new("megaflow_hit", n), &n, |bench, _| {
            bench.iter(|| b.run(&frames, 10_000))
        });
        assert_eq!(b.dp.stats().emc_hits, 0);
    }

    let mut b = miss_bench();
    let mut frames: Vec<(u32, Vec<u8>)> = (0..BATCH_SIZE)
        .map(|_| (1, udp_frame(0x0a00_0001, 0x0a00_0002, 1, 1)))
        .collect();
    let mut counter = 0u32;
    g.bench_function("miss_install", |bench| {
        bench.iter(|| {
            fresh_tuples(&mut frames, &mut counter);
            b.run(&frames, 1);
        })
    });
    let s = b.dp.stats();
    // (Nothing ran when a filter skipped this benchmark.)
    assert!(s.megaflow_hits == 0, "{s:?}");
    g.finish();
}

/// Allocations per packet on each path, measured over many batches after
/// warm-up; the hit paths must not allocate.
fn allocation_report() {
    const BATCHES: u64 = 2_000;
    let per_packet = |n: u64| n as f64 / (BATCHES * BATCH_SIZE as u64) as f64;

    let (mut b, frames) = emc_bench();
    let ((), n) = count_allocations(|| (0..BATCHES).for_each(|_| b.run(&frames, 10_000)));
    println!(
        "allocations per packet, emc_hit: {:.4} ({n} in all)",
        per_packet(n)
    );
    assert_eq!(n, 0, "the EMC hit path allocated");

    for subtables in [1u32, 10, 50] {
        let (mut b, frames) = megaflow_bench(subtables);
        let ((), n) = count_allocations(|| (0..BATCHES).for_each(|_| b.run(&frames, 10_000)));
        println!(
            "allocations per packet, megaflow_hit/{subtables}: {:.4} ({n} in all)",
            per_packet(n)
        );
        assert_eq!(n, 0, "the megaflow hit path allocated");
    }

    let mut b = miss_bench();
    let mut frames: Vec<(u32, Vec<u8>)> = (0..BATCH_SIZE)
        .map(|_| (1, udp_frame(0x0a00_0001, 0x0a00_0002, 1, 1)))
        .collect();
    let mut counter = 0u32;
    for _ in 0..BATCHES {
        fresh_tuples(&mut frames, &mut counter);
        b.run(&frames, 1);
    }
    let ((), n) = count_allocations(|| {
        for _ in 0..BATCHES {
            fresh_tuples(&mut frames, &mut counter);
            b.run(&frames, 1);
        }
    });
    println!(
        "allocations per packet, miss_install: {:.4} ({n} in all)",
        per_packet(n)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    allocation_report();
}
