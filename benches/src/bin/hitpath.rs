//! `hitpath`: a small driver that pushes batches of 32 64-byte frames
//! through one forwarding thread (`DpThread::process_batch`, as the
//! `forward` bench does) so that an instruction-level profiler sees the
//! forwarding paths and nothing else.
//!
//! The measured loop is the one function [`measured`], never inlined, so
//! callgrind can collect inside it alone:
//!
//! ```sh
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*hitpath::measured*' \
//!     target/release/hitpath emc 20000
//! ```
//!
//! Modes: `emc` (32 flows, every packet an exact-match hit), `megaflow`
//! (the exact-match cache off, every packet a megaflow hit), `miss` (every
//! packet a new 5-tuple: translation and install). The driver prints the
//! number of packets the loop forwarded, so instructions per packet is the
//! profile's total over that count.

use std::hint::black_box;
use std::process::ExitCode;

use benches::udp_frame;
use datapath::buffer::{Packet, BATCH_SIZE, DEFAULT_HEADROOM};
use datapath::dpif::{DpThread, Shared};
use datapath::execute::{PacketIn, TxBatches};
use datapath::flow::{Field, Match};
use datapath::ofproto::{Action, FlowMod, Instructions, Pipeline, Port};

const OUT_PORT: u32 = 100;

/// A forwarding thread, its output queues and a batch of receive buffers.
struct Driver {
    shared: Shared,
    dp: DpThread,
    out: TxBatches,
    pins: Vec<PacketIn>,
    rx: Vec<Packet>,
    now_ms: u64,
    batches: u64,
}

impl Driver {
    fn new(emc_inv_prob: u32, acl: bool) -> Result<Driver, String> {
        let mut p = Pipeline::new();
        for i in [1, OUT_PORT] {
            p.add_port(Port::new(i, &format!("p{i}"), [0x0a, 0, 0, 0, 0, 1]));
        }
        if acl {
            // A higher-priority rule on the source address and both ports
            // that the traffic never hits: the classifier must look at
            // both ports, so every new 5-tuple is a new megaflow.
            let mut m = Match::catch_all();
            m.set(Field::EthType, 0x0800);
            m.set(Field::IpProto, 17);
            m.set(Field::Ipv4Src, 0x0a00_0001);
            m.set(Field::UdpSrc, 7);
            m.set(Field::UdpDst, 7);
            p.flow_mod(&FlowMod::add(0, m, 100, Instructions::drop()), 0)
                .map_err(|e| format!("flow_mod: {e:?}"))?;
        }
        let mut m = Match::catch_all();
        m.set(Field::InPort, 1);
        let out = Instructions::apply(vec![Action::Output {
            port: OUT_PORT,
            max_len: 0,
        }]);
        p.flow_mod(&FlowMod::add(0, m, 10, out), 0)
            .map_err(|e| format!("flow_mod: {e:?}"))?;
        let shared = Shared::new(p);
        shared.set_emc_insert_inv_prob(emc_inv_prob);
        if acl {
            // Entries expire after 50 ms of (simulated) idleness.
            shared.set_max_idle_ms(50);
        }
        let dp = DpThread::new(&shared);
        Ok(Driver {
            shared,
            dp,
            out: TxBatches::with_pool(4 * BATCH_SIZE),
            pins: Vec::new(),
            rx: (0..BATCH_SIZE)
                .map(|_| Packet::with_capacity(2048, DEFAULT_HEADROOM))
                .collect(),
            now_ms: 0,
            batches: 0,
        })
    }

    /// Receives one batch (as a port would), forwards it and returns the
    /// sent buffers to the pool; time advances 1 ms every 1,000 batches.
    #[inline]
    fn batch(&mut self, frames: &[Vec<u8>]) {
        for (p, f) in self.rx.iter_mut().zip(frames) {
            let room = p.reset_for_rx(DEFAULT_HEADROOM);
            room[..f.len()].copy_from_slice(f);
            p.set_len(f.len());
            p.meta.in_port = 1;
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
        self.batches += 1;
        if self.batches.is_multiple_of(1000) {
            self.now_ms += 1;
        }
    }
}

/// The loop the profile covers: `batches` batches of `frames` (for `miss`,
/// the frames' source ports are rewritten per batch so that every packet is
/// new). Returns the packets forwarded.
#[inline(never)]
fn measured(d: &mut Driver, frames: &mut [Vec<u8>], batches: u64, fresh: bool) -> u64 {
    let mut next: u32 = 0;
    for _ in 0..batches {
        if fresh {
            for f in frames.iter_mut() {
                // UDP source and destination ports.
                let b = next.to_be_bytes();
                let sport = u16::from_be_bytes([b[0], b[1]]).wrapping_add(1024);
                f[34..36].copy_from_slice(&sport.to_be_bytes());
                f[36..38].copy_from_slice(&b[2..4]);
                next = next.wrapping_add(1);
            }
        }
        d.batch(frames);
    }
    batches * frames.len() as u64
}

fn run(args: &[String]) -> Result<(), String> {
    let mode = args.first().map(String::as_str).unwrap_or("emc");
    let batches: u64 = match args.get(1) {
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=10_000_000).contains(n))
            .ok_or("BATCHES: expected a whole number from 1 to 10000000")?,
        None => 20_000,
    };
    let (emc_prob, fresh) = match mode {
        "emc" => (1, false),
        "megaflow" => (0, false),
        "miss" => (100, true),
        other => {
            return Err(format!(
                "MODE: unknown mode {other:?} (known: emc, megaflow, miss)"
            ))
        }
    };
    let mut d = Driver::new(emc_prob, fresh)?;
    let mut frames: Vec<Vec<u8>> = (0..BATCH_SIZE)
        .map(|i| {
            udp_frame(
                0x0a00_0001,
                0x0a00_0002,
                1000 + u16::try_from(i).unwrap_or(0),
                53,
            )
        })
        .collect();
    // Warm-up: caches filled, buffers pooled.
    for _ in 0..64 {
        d.batch(&frames);
    }
    let packets = measured(&mut d, &mut frames, batches, fresh);
    println!("{mode}: {packets} packets");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: hitpath [emc|megaflow|miss] [BATCHES]");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hitpath: {e}");
            ExitCode::from(2)
        }
    }
}
