//! Helpers shared by the cross-crate tests: a one-thread switch rig around
//! the datapath ([`Rig`]), the "fresh" reference (translate the packet on
//! the current pipeline without side effects and execute the result on a
//! copy, [`fresh`]), and the comparison of what two paths did with packets
//! ([`Observed`]).
//!
//! The coherence tests drive the cached path (`DpThread::process_batch`)
//! and the reference side by side; everything here is deterministic and
//! free of I/O.

use datapath::buffer::Packet;
use datapath::dpaction::{ControllerMeta, DpActions};
use datapath::dpif::{DpThread, Shared};
use datapath::execute::{execute, ExecCtx, ExecStats, NoMeters, PacketIn, TxBatches};
use datapath::extract::flow_extract;
use datapath::flow::FlowKey;
use datapath::ofproto::{Pipeline, Port};
use datapath::xlate::{translate, Translation, XlateCtx};

/// A pipeline with ports `1..=n` and nothing else.
pub fn pipeline_with_ports(n: u32) -> Pipeline {
    let mut p = Pipeline::new();
    for i in 1..=n {
        let last = u8::try_from(i & 0xff).unwrap_or(0);
        p.add_port(Port::new(i, &format!("p{i}"), [0x0a, 0, 0, 0, 0, last]));
    }
    p
}

/// What happened to a set of packets: the frames sent on each port (with
/// their queue) and the packets handed to the controller, in a canonical
/// order so that two paths that grouped packets differently compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// (port, queue, frame), sorted.
    pub outputs: Vec<(u32, u32, Vec<u8>)>,
    /// (frame, metadata), sorted by frame then metadata's debug form.
    pub packet_ins: Vec<(Vec<u8>, ControllerMeta)>,
}

impl Observed {
    /// Collects (and recycles) what `out` holds and drains `pins`.
    pub fn collect(out: &mut TxBatches, pins: &mut Vec<PacketIn>) -> Observed {
        let mut o = Observed::default();
        out.flush(|port, pkts| {
            for p in pkts {
                o.outputs.push((port, p.meta.queue_id, p.data().to_vec()));
            }
        });
        for pi in pins.drain(..) {
            o.packet_ins.push((pi.data, pi.meta));
        }
        o.canonicalize();
        o
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: Observed) {
        self.outputs.extend(other.outputs);
        self.packet_ins.extend(other.packet_ins);
        self.canonicalize();
    }

    fn canonicalize(&mut self) {
        self.outputs.sort();
        self.packet_ins.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
        });
    }
}

/// A packet as a port hands it to the datapath.
pub fn packet(in_port: u32, frame: &[u8]) -> Packet {
    let mut p = Packet::from_frame(frame);
    p.meta.in_port = in_port;
    p
}

/// The flow key of a packet.
pub fn key_of(p: &Packet) -> FlowKey {
    let mut k = FlowKey::default();
    flow_extract(p.data(), &p.meta, &mut k);
    k
}

/// The reference: translates `pkt` on `pipeline` as it is now, without side
/// effects, and executes the result on a copy of the packet (meters pass).
pub fn fresh(pipeline: &Pipeline, pkt: &Packet, now_ms: u64) -> (Translation, Observed) {
    let key = key_of(pkt);
    let t = translate(pipeline, &key, now_ms, &mut XlateCtx::revalidation());
    let obs = run_actions(&t.actions, pkt);
    (t, obs)
}

/// Executes `actions` on a copy of `pkt` and reports what it produced.
pub fn run_actions(actions: &DpActions, pkt: &Packet) -> Observed {
    let mut out = TxBatches::with_pool(4);
    let mut pins = Vec::new();
    let mut stats = ExecStats::default();
    let mut ctx = ExecCtx {
        meters: &mut NoMeters,
        to_controller: &mut pins,
        stats: &mut stats,
    };
    let mut pkts = [pkt.clone()];
    execute(actions, &mut pkts, &mut ctx, &mut out);
    Observed::collect(&mut out, &mut pins)
}

/// One forwarding thread and its queues around a shared pipeline.
pub struct Rig {
    /// The state shared with the control plane.
    pub shared: Shared,
    /// The forwarding thread's datapath.
    pub dp: DpThread,
    /// Output queues.
    pub out: TxBatches,
    /// Controller queue.
    pub pins: Vec<PacketIn>,
}

impl Rig {
    /// A rig around `pipeline`.
    pub fn new(pipeline: Pipeline) -> Rig {
        let shared = Shared::new(pipeline);
        let dp = DpThread::new(&shared);
        Rig {
            shared,
            dp,
            out: TxBatches::with_pool(64),
            pins: Vec::new(),
        }
    }

    /// Runs one batch of `(in_port, frame)` through the cached path at
    /// `now_ms` and reports what it did.
    pub fn send(&mut self, pkts: &[(u32, Vec<u8>)], now_ms: u64) -> Observed {
        let mut batch: Vec<Packet> = pkts.iter().map(|(port, f)| packet(*port, f)).collect();
        self.dp.process_batch(
            &self.shared,
            &mut batch,
            now_ms,
            &mut self.out,
            &mut self.pins,
        );
        Observed::collect(&mut self.out, &mut self.pins)
    }

    /// What the reference does with the same packets, one after another, on
    /// the pipeline as it is now.
    pub fn expected(&self, pkts: &[(u32, Vec<u8>)], now_ms: u64) -> (Vec<Translation>, Observed) {
        let p = self.shared.read();
        let mut all = Observed::default();
        let mut ts = Vec::new();
        for (port, f) in pkts {
            let (t, o) = fresh(&p, &packet(*port, f), now_ms);
            all.merge(o);
            ts.push(t);
        }
        (ts, all)
    }

    /// Checks that every cached megaflow covering `key` has the actions of
    /// `t`, a fresh translation of `key`. (Masks need not be equal: the
    /// classifier may prove a result from different bits for different keys;
    /// a mask too wide to be sound shows up as a key it covers whose fresh
    /// actions differ.) Returns a description of the first disagreement.
    pub fn check_cache_agrees(&self, key: &FlowKey, t: &Translation) -> Result<(), String> {
        for (_, f) in self.dp.megaflows().iter() {
            if key.eq_masked(&f.key, &f.mask) && f.actions != t.actions {
                return Err(format!(
                    "cached actions {:?} != fresh {:?} for {key:?}",
                    f.actions, t.actions
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::dpaction::DpAction;

    #[test]
    fn observed_ignores_the_order_packets_were_grouped_in() {
        let mut a = Observed {
            outputs: vec![(2, 0, vec![1]), (1, 0, vec![2])],
            ..Observed::default()
        };
        a.canonicalize();
        let mut b = Observed {
            outputs: vec![(1, 0, vec![2]), (2, 0, vec![1])],
            ..Observed::default()
        };
        b.canonicalize();
        assert_eq!(a, b);
    }

    #[test]
    fn run_actions_reports_every_output() {
        let p = packet(1, &[0u8; 60]);
        let acts: DpActions = [DpAction::Output(3), DpAction::Output(4)]
            .into_iter()
            .collect();
        let o = run_actions(&acts, &p);
        assert_eq!(o.outputs.len(), 2);
        assert_eq!(o.outputs[0].0, 3);
    }
}
