//! Cost of one upcall: translating a packet through a 10,000-rule, 3-table
//! OpenFlow pipeline shaped like a small router with an ACL:
//!
//! - table 0 classifies by ingress port, EtherType and VLAN, then goes to 1;
//! - table 1 routes on IPv4 destination prefixes from /16 to /32, writing a
//!   route class into the metadata, then goes to 2;
//! - table 2 matches the class and TCP/UDP destination port and outputs (a
//!   catch-all sends the rest to port 1).
//!
//! Packets are drawn so that most hit a route and about half hit a port rule.
//! The run ends by printing translations per second measured directly.

use std::hint::black_box;
use std::time::Instant;

use benches::CountingAlloc;
use criterion::{Criterion, Throughput};
use datapath::flow::{Field, FlowKey, Match, VLAN_PRESENT};
use datapath::ofproto::{Action, FlowMod, Instructions, Pipeline, Port};
use datapath::xlate::{translate, XlateCtx};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const PORTS: u32 = 64;
const RULES: usize = 10_000;
const PACKETS: usize = 4096;
const L4_PORTS: [u16; 16] = [
    22, 25, 53, 80, 110, 123, 143, 443, 993, 995, 3306, 5432, 6379, 8080, 8443, 9000,
];

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

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

fn low32(v: u64) -> u32 {
    u32::try_from(v & 0xffff_ffff).unwrap_or(0)
}

fn add(p: &mut Pipeline, table: u8, m: Match, priority: u16, ins: Instructions) {
    p.flow_mod(&FlowMod::add(table, m, priority, ins), 0)
        .expect("benchmark rule is valid");
}

/// The pipeline and the routes' prefixes (value, length).
fn build(rng: &mut Rng) -> (Pipeline, Vec<(u32, u32)>) {
    let mut p = Pipeline::new();
    for i in 1..=PORTS {
        p.add_port(Port::new(i, &format!("p{i}"), [2, 0, 0, 0, 0, 1]));
    }
    // Table 0: port x VLAN classification.
    for port in 1..=PORTS {
        for vlan in [None, Some(10u16), Some(20)] {
            let mut m = Match::catch_all();
            m.set(Field::InPort, port.into());
            m.set(Field::EthType, 0x0800);
            m.set(
                Field::VlanVid,
                vlan.map_or(0, |v| u128::from(VLAN_PRESENT | v)),
            );
            add(&mut p, 0, m, 100, Instructions::drop().with_goto(1));
        }
    }
    let table0 = p.rule_count();
    // Table 1: routes.
    let n_routes = (RULES - table0) * 4 / 5;
    let mut routes = Vec::with_capacity(n_routes);
    while routes.len() < n_routes {
        let len = rng.pick(&[16u32, 20, 24, 24, 28, 32]);
        let mask = u32::MAX << (32 - len);
        let value = (0x0a00_0000 | (low32(rng.next()) & 0x00ff_ffff)) & mask;
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set_masked(Field::Ipv4Dst, value.into(), mask.into());
        let mut ins = Instructions::drop().with_goto(2);
        ins.write_metadata = Some((rng.below(16), 0xff));
        let priority = u16::try_from(len).unwrap_or(0) * 10;
        add(&mut p, 1, m, priority, ins);
        routes.push((value, len));
    }
    // Table 2: class x transport port rules, and a default.
    while p.rule_count() < RULES - 1 {
        let mut m = Match::catch_all();
        m.set(Field::Metadata, u128::from(rng.below(16)));
        m.set(Field::EthType, 0x0800);
        let proto = rng.pick(&[6u8, 17]);
        m.set(Field::IpProto, proto.into());
        let field = if proto == 6 {
            Field::TcpDst
        } else {
            Field::UdpDst
        };
        m.set(field, u128::from(rng.pick(&L4_PORTS)));
        m.set_masked(Field::Ipv4Src, u128::from(low32(rng.next())), 0xffff_ff00);
        let out = Action::Output {
            port: 1 + low32(rng.below(u64::from(PORTS))),
            max_len: 0,
        };
        add(&mut p, 2, m, 50, Instructions::apply(vec![out]));
    }
    let out = Action::Output {
        port: 1,
        max_len: 0,
    };
    add(
        &mut p,
        2,
        Match::catch_all(),
        0,
        Instructions::apply(vec![out]),
    );
    (p, routes)
}

fn packets(rng: &mut Rng, routes: &[(u32, u32)]) -> Vec<FlowKey> {
    (0..PACKETS)
        .map(|_| {
            let (value, len) = rng.pick(routes);
            let host = if len == 32 {
                0
            } else {
                low32(rng.next()) & (u32::MAX >> len)
            };
            let in_port = 1 + low32(rng.below(u64::from(PORTS)));
            let vlan = rng.pick(&[0u16, VLAN_PRESENT | 10, VLAN_PRESENT | 20]);
            FlowKey {
                in_port,
                in_phy_port: in_port,
                eth_src: [2, 0, 0, 0, 1, 2],
                eth_dst: [2, 0, 0, 0, 3, 4],
                eth_type: 0x0800,
                vlan_tci: vlan,
                ipv4_src: low32(rng.next()),
                ipv4_dst: value | host,
                nw_proto: rng.pick(&[6u8, 17]),
                nw_ttl: 64,
                tp_src: u16::try_from(rng.below(65536)).unwrap_or(0),
                tp_dst: rng.pick(&L4_PORTS),
                ..FlowKey::default()
            }
        })
        .collect()
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (pipeline, routes) = build(&mut rng);
    let keys = packets(&mut rng, &routes);
    let mut ctx = XlateCtx::new();

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("xlate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("translate_3_tables_10k_rules", |b| {
        let mut next = 0usize;
        b.iter(|| {
            let key = &keys[next];
            next = (next + 1) % keys.len();
            translate(&pipeline, black_box(key), 0, &mut ctx)
        });
    });
    group.finish();
    c.final_summary();

    let (mut lookups, mut forwarded) = (0usize, 0usize);
    for key in &keys {
        let t = translate(&pipeline, key, 0, &mut ctx);
        lookups += t.credits.tables.len();
        forwarded += usize::from(!t.actions.is_empty());
    }
    let mut outputs = 0usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for key in &keys {
            let t = translate(&pipeline, black_box(key), 0, &mut ctx);
            outputs += t.actions.len();
            black_box(&t);
        }
        best = best.min(start.elapsed().as_secs_f64() / keys.len() as f64);
    }
    black_box(outputs);
    println!(
        "xlate: {} rules in 3 tables, {:.2} lookups and {:.0}% forwarded per packet: \
         {:.0} ns per translation, {:.0} translations/s",
        pipeline.rule_count(),
        lookups as f64 / keys.len() as f64,
        100.0 * forwarded as f64 / keys.len() as f64,
        best * 1e9,
        1.0 / best
    );
}
