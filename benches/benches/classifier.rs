//! Lookup cost of the OpenFlow classifier as the rule count grows: 1,000 and
//! 100,000 rules drawn from the same five masks, looked up in batches of 32
//! packets (half built from rule keys so that they match, half random).
//! Tuple space search costs O(masks), so the two sizes should cost about the
//! same per lookup; the run ends by printing the 100k/1k ratio measured
//! directly, and checks that lookups allocate nothing.

use std::hint::black_box;
use std::time::Instant;

use benches::{count_allocations, CountingAlloc};
use criterion::{BenchmarkId, Criterion, Throughput};
use datapath::classifier::Classifier;
use datapath::flow::{Field, FlowKey, FlowMask, Match};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const BATCH: usize = 32;
const PACKETS: usize = 4096;

/// xorshift64*: reproducible keys without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn prefix(field: Field, len: u32) -> u128 {
    let w = field.bits();
    field.max_value() & !(field.max_value() >> len.min(w))
}

/// The five masks: L2 switching, a /24 route, a source /16 + host route,
/// an L4 ACL, an IPv6 /64 route.
fn masks() -> Vec<FlowMask> {
    use Field::*;
    let make = |fields: &[(Field, u128)]| {
        let mut m = FlowMask::wildcard();
        for &(f, v) in fields {
            m.or_field(f, v);
        }
        m
    };
    vec![
        make(&[(InPort, u128::MAX), (EthDst, u128::MAX)]),
        make(&[(EthType, u128::MAX), (Ipv4Dst, prefix(Ipv4Dst, 24))]),
        make(&[
            (EthType, u128::MAX),
            (Ipv4Src, prefix(Ipv4Src, 16)),
            (Ipv4Dst, u128::MAX),
        ]),
        make(&[
            (EthType, u128::MAX),
            (IpProto, u128::MAX),
            (Ipv4Dst, u128::MAX),
            (TcpDst, u128::MAX),
        ]),
        make(&[(EthType, u128::MAX), (Ipv6Dst, prefix(Ipv6Dst, 64))]),
    ]
}

fn random_key(rng: &mut Rng, v6: bool) -> FlowKey {
    let mut k = FlowKey {
        in_port: u32::try_from(rng.below(64)).unwrap_or(0),
        eth_type: if v6 { 0x86dd } else { 0x0800 },
        nw_proto: 6,
        ..FlowKey::default()
    };
    Field::EthDst.set(&mut k, u128::from(rng.next()));
    // As extraction leaves them: only the packet's own address family set.
    if v6 {
        let addr = u128::from(rng.next()) << 64 | u128::from(rng.next());
        Field::Ipv6Src.set(&mut k, addr.rotate_left(32));
        Field::Ipv6Dst.set(&mut k, addr);
    } else {
        Field::Ipv4Src.set(&mut k, u128::from(rng.next()));
        Field::Ipv4Dst.set(&mut k, u128::from(rng.next()));
    }
    Field::TcpDst.set(&mut k, u128::from(rng.next()));
    k
}

/// `n` rules added to `cls`, and a packet mix for them.
fn setup(mut cls: Classifier<u32>, n: usize, seed: u64) -> (Classifier<u32>, Vec<FlowKey>) {
    let masks = masks();
    let mut rng = Rng(seed);
    let mut keys = Vec::with_capacity(n);
    let mut i = 0u32;
    while cls.len() < n {
        let which = usize::try_from(rng.below(masks.len() as u64)).unwrap_or(0);
        let key = random_key(&mut rng, which == 4);
        let priority = u16::try_from(rng.below(1000)).unwrap_or(0);
        cls.insert(Match::new(key, masks[which]), priority, i);
        keys.push(key);
        i += 1;
    }
    let packets = (0..PACKETS)
        .map(|j| {
            if j % 2 == 0 {
                keys[usize::try_from(rng.below(keys.len() as u64)).unwrap_or(0)]
            } else {
                random_key(&mut rng, j % 8 == 1)
            }
        })
        .collect();
    (cls, packets)
}

/// One lookup per key of the batch.
#[inline]
fn lookup_each(cls: &Classifier<u32>, batch: &[FlowKey]) -> u32 {
    let mut acc = 0u32;
    for key in batch {
        let mut wc = FlowMask::wildcard();
        if let Some((_, p, v)) = cls.lookup(key, &mut wc) {
            acc = acc.wrapping_add(u32::from(p) ^ v);
        }
        acc ^= wc.key.ipv4_dst;
    }
    acc
}

/// A way to build an empty classifier.
type MakeClassifier = fn() -> Classifier<u32>;

/// Nanoseconds per lookup, the best of several timed passes.
fn ns_per_lookup(cls: &Classifier<u32>, packets: &[FlowKey]) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..15 {
        let start = Instant::now();
        let mut acc = 0u32;
        for _ in 0..8 {
            for batch in packets.chunks(BATCH) {
                acc ^= lookup_each(cls, black_box(batch));
            }
        }
        black_box(acc);
        let lookups = (packets.len() * 8) as f64;
        best = best.min(start.elapsed().as_nanos() as f64 / lookups);
    }
    best
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let sizes = [1_000usize, 100_000];
    // The OpenFlow tables' configuration (prefix tracking on the IPv4 and
    // IPv6 addresses), and plain tuple space search without tries.
    let configs: [(&str, MakeClassifier); 2] = [
        ("prefix", Classifier::new),
        ("noprefix", || Classifier::with_prefix_fields(&[])),
    ];
    let tables: Vec<_> = configs
        .iter()
        .flat_map(|&(name, make)| {
            sizes
                .iter()
                .map(move |&n| (name, n, setup(make(), n, 0x9e37_79b9_7f4a_7c15)))
        })
        .collect();

    let mut group = c.benchmark_group("classifier_lookup_x32");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, n, (cls, packets)) in &tables {
        group.bench_with_input(BenchmarkId::new(*name, n), cls, |b, cls| {
            let mut next = 0usize;
            b.iter(|| {
                let batch = &packets[next..next + BATCH];
                next = (next + BATCH) % packets.len();
                lookup_each(cls, black_box(batch))
            });
        });
    }
    group.finish();
    c.final_summary();

    for (config, _) in configs {
        let mut per = Vec::new();
        for (name, n, (cls, packets)) in tables.iter().filter(|t| t.0 == config) {
            let (_, allocated) =
                count_allocations(|| black_box(lookup_each(cls, &packets[..BATCH])));
            assert_eq!(allocated, 0, "lookup allocated");
            let ns = ns_per_lookup(cls, packets);
            println!(
                "classifier {name}: {n} rules, {} subtables: {ns:.1} ns per lookup",
                cls.n_subtables()
            );
            per.push(ns);
        }
        if let [small, large] = per[..] {
            println!("classifier {config}: ratio 100k/1k = {:.2}", large / small);
        }
    }
}
