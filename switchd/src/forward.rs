//! Forwarding threads: each owns a [`DpThread`] (its exact-match and
//! megaflow caches) and the receive queues of some ports, and runs the loop
//! receive batch → `process_batch` → one send per output port.
//!
//! # Shape
//!
//! - **Ownership.** A system port has one receive ring per thread (a fanout
//!   group spreads flows over them by hash), so every thread serves every
//!   system port; a TAP's single queue goes to one thread, round robin.
//!   Transmission is shared: a thread sends on any port through the port's
//!   [`PortHandle`], found in the bridge's [`PortTable`] (a copy-on-write map
//!   that threads re-read only when its generation moves).
//! - **The loop.** Each round takes up to [`BATCH_SIZE`] frames from every
//!   queue in turn and runs each batch through the datapath, then flushes
//!   the output queues (one `sendmmsg` per port per batch), hands the
//!   packet-ins to the channel's queue (`try_send`: full drops and counts),
//!   and adds to the ports' counters once per batch. A round that finds
//!   nothing marks the thread idle in `Shared` (so a BARRIER does not wait
//!   for it). Sleeping and being woken costs far more than polling a ring
//!   (one load of a slot's status word), so for [`POLL_WINDOW`] after the
//!   last frame a thread keeps polling, yielding the core between rounds to
//!   whatever else is runnable there; only then does it block in `epoll`
//!   for up to [`IDLE_WAIT_MS`] (busy polling spins instead). Queues whose
//!   emptiness only a system call can tell (a TAP's `read`, an inbox's
//!   eventfd) are read while they may hold frames: after `epoll` reported
//!   them, or while reads keep filling whole batches; a polling thread asks
//!   `epoll` about them every [`GATE_CHECK`], so a ring-fed load does not
//!   pay a failing `read` per round. A loaded
//!   thread thus never sleeps between batches, the first frame after a
//!   quiet spell wakes the thread at once (the receive rings signal every
//!   frame), and an idle switch costs nothing. Timeouts run
//!   `DpThread::maintain` (statistics, megaflow expiry, dumps).
//! - **Control.** Port additions and removals reach a thread as commands on
//!   a channel plus an eventfd wakeup; a removal is acknowledged once the
//!   thread has dropped its queues, so the device can go away at once.
//!   A queue whose device vanished marks its port `gone`; housekeeping then
//!   removes the port.

use crate::bridge::{now_ms, queue_packet_in, BridgeCounters};
use crate::port::afpacket::RX_BUF_CAPACITY;
use crate::port::{offload, PortHandle, RxQueue, TxScratch};
use datapath::buffer::{Packet, BATCH_SIZE, DEFAULT_HEADROOM};
use datapath::dpif::{DpThread, Shared};
use datapath::execute::{PacketIn, TxBatches};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle thread blocks before doing housekeeping, ms.
pub const IDLE_WAIT_MS: u16 = 100;
/// How long a thread keeps polling its queues after the last frame it
/// received before it blocks in `epoll`: under load the next batch comes
/// well within it, so a busy thread never sleeps between batches, while an
/// idle switch still blocks.
pub const POLL_WINDOW: Duration = Duration::from_micros(200);
/// How often a polling thread asks `epoll` whether its gated queues
/// (TAPs, inboxes) have frames; an idle thread learns it at once from its
/// blocking wait.
pub const GATE_CHECK: Duration = Duration::from_micros(100);
/// Spare buffers each thread keeps for output copies.
const POOL_BUFFERS: usize = 96;
/// Epoll token of the wakeup eventfd.
const WAKE_TOKEN: u64 = u64::MAX;
/// How often a thread reads its rings' drop counters, ms.
const DROP_POLL_MS: u64 = 1_000;

/// The ports of a bridge as the threads see them: ofport → handle,
/// replaced as a whole on every change.
#[derive(Debug, Default)]
pub struct PortTable {
    generation: AtomicU64,
    map: RwLock<Arc<HashMap<u32, Arc<PortHandle>>>>,
}

impl PortTable {
    fn update(&self, f: impl FnOnce(&mut HashMap<u32, Arc<PortHandle>>)) {
        let mut g = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut m = HashMap::clone(&g);
        f(&mut m);
        *g = Arc::new(m);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Adds or replaces a port.
    pub fn insert(&self, h: Arc<PortHandle>) {
        self.update(|m| {
            m.insert(h.ofport, h);
        });
    }

    /// Removes a port.
    pub fn remove(&self, ofport: u32) {
        self.update(|m| {
            m.remove(&ofport);
        });
    }

    /// Port `ofport`.
    pub fn get(&self, ofport: u32) -> Option<Arc<PortHandle>> {
        self.snapshot().1.get(&ofport).cloned()
    }

    /// The generation and the current map.
    pub fn snapshot(&self) -> (u64, Arc<HashMap<u32, Arc<PortHandle>>>) {
        let g = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.generation.load(Ordering::SeqCst), Arc::clone(&g))
    }

    /// The generation (moves on every change).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// What a bridge gives its forwarding threads.
pub struct ForwarderOptions {
    /// Bridge name (thread names, logs).
    pub bridge: String,
    /// Number of threads.
    pub threads: usize,
    /// Spin instead of blocking when idle.
    pub busy_poll: bool,
    /// The pipeline.
    pub shared: Arc<Shared>,
    /// The ports.
    pub table: Arc<PortTable>,
    /// The packet-in queue.
    pub packet_in: tokio::sync::mpsc::Sender<PacketIn>,
    /// Bridge-wide counters.
    pub counters: Arc<BridgeCounters>,
}

enum Cmd {
    Add { ofport: u32, queue: RxQueue },
    Remove { ofport: u32, ack: mpsc::Sender<()> },
    Stop,
}

struct ThreadCtl {
    cmd: mpsc::Sender<Cmd>,
    wake: Arc<EventFd>,
    join: Option<JoinHandle<()>>,
}

impl ThreadCtl {
    fn send(&self, c: Cmd) {
        if self.cmd.send(c).is_ok() {
            let _ = self.wake.write(1);
        }
    }
}

/// A bridge's forwarding threads.
pub struct Forwarder {
    threads: Vec<ThreadCtl>,
    next_single: AtomicUsize,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Starts the threads (with no queue yet).
    pub fn start(opts: ForwarderOptions) -> io::Result<Forwarder> {
        let n = opts.threads.max(1);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = mpsc::channel();
            let wake = Arc::new(EventFd::from_value_and_flags(
                0,
                EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
            )?);
            let ctx = ThreadCtx {
                index: i,
                busy_poll: opts.busy_poll,
                shared: Arc::clone(&opts.shared),
                table: Arc::clone(&opts.table),
                packet_in: opts.packet_in.clone(),
                counters: Arc::clone(&opts.counters),
                cmd: rx,
                wake: Arc::clone(&wake),
                bridge: opts.bridge.clone(),
            };
            let join = std::thread::Builder::new()
                .name(format!("fwd{i}-{}", opts.bridge))
                .spawn(move || ctx.run())?;
            threads.push(ThreadCtl {
                cmd: tx,
                wake,
                join: Some(join),
            });
        }
        Ok(Forwarder {
            threads,
            next_single: AtomicUsize::new(0),
        })
    }

    /// Number of threads.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Hands a port's queues to the threads: one per thread when there are
    /// as many, otherwise spread round robin.
    pub fn add_queues(&self, ofport: u32, queues: Vec<RxQueue>) {
        let n = self.threads.len();
        if queues.len() == n {
            for (t, q) in self.threads.iter().zip(queues) {
                t.send(Cmd::Add { ofport, queue: q });
            }
        } else {
            for q in queues {
                let i = self.next_single.fetch_add(1, Ordering::Relaxed) % n;
                self.threads[i].send(Cmd::Add { ofport, queue: q });
            }
        }
    }

    /// Makes every thread drop its queues of `ofport`; returns once they
    /// did (or after two seconds).
    pub fn remove_port(&self, ofport: u32) {
        let (ack_tx, ack_rx) = mpsc::channel();
        let mut sent = 0;
        for t in &self.threads {
            if t.cmd
                .send(Cmd::Remove {
                    ofport,
                    ack: ack_tx.clone(),
                })
                .is_ok()
            {
                let _ = t.wake.write(1);
                sent += 1;
            }
        }
        for _ in 0..sent {
            if ack_rx.recv_timeout(Duration::from_secs(2)).is_err() {
                tracing::warn!(ofport, "a forwarding thread did not release a port in time");
                break;
            }
        }
    }

    /// Wakes every thread (to answer a dump request at once).
    pub fn wake_all(&self) {
        for t in &self.threads {
            let _ = t.wake.write(1);
        }
    }

    /// Stops and joins every thread (their queues are closed).
    pub fn stop(mut self) {
        for t in &self.threads {
            t.send(Cmd::Stop);
        }
        for t in &mut self.threads {
            if let Some(j) = t.join.take() {
                let _ = j.join();
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        for t in &self.threads {
            t.send(Cmd::Stop);
        }
        for t in &mut self.threads {
            if let Some(j) = t.join.take() {
                let _ = j.join();
            }
        }
    }
}

/// One queue a thread serves.
struct Served {
    ofport: u32,
    queue: RxQueue,
    /// Whether finding out that the queue is empty costs a system call
    /// (TAP reads, inbox eventfds): such a queue is read only while
    /// `ready`.
    gated: bool,
    /// A gated queue may hold frames: its last read filled a whole batch,
    /// or `epoll` reported it readable since.
    ready: bool,
}

struct ThreadCtx {
    index: usize,
    busy_poll: bool,
    shared: Arc<Shared>,
    table: Arc<PortTable>,
    packet_in: tokio::sync::mpsc::Sender<PacketIn>,
    counters: Arc<BridgeCounters>,
    cmd: mpsc::Receiver<Cmd>,
    wake: Arc<EventFd>,
    bridge: String,
}

impl ThreadCtx {
    fn run(self) {
        if let Err(e) = self.run_inner() {
            tracing::error!(bridge = %self.bridge, thread = self.index, error = %e, "forwarding thread failed");
        }
    }

    fn run_inner(&self) -> io::Result<()> {
        let shared = &*self.shared;
        let mut dp = DpThread::new(shared);
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(
            &*self.wake,
            EpollEvent::new(EpollFlags::EPOLLIN, WAKE_TOKEN),
        )?;
        let mut queues: Vec<Served> = Vec::new();
        let mut rx: Vec<Packet> = (0..BATCH_SIZE)
            .map(|_| Packet::with_capacity(RX_BUF_CAPACITY, DEFAULT_HEADROOM))
            .collect();
        let mut out = TxBatches::new();
        for _ in 0..POOL_BUFFERS {
            out.give(Packet::with_capacity(RX_BUF_CAPACITY, DEFAULT_HEADROOM));
        }
        let mut pins: Vec<PacketIn> = Vec::new();
        let mut scratch = TxScratch::for_lane(self.index);
        let (mut gen, mut ports) = self.table.snapshot();
        let mut events = [EpollEvent::empty(); 32];
        let mut next_drop_poll = 0u64;
        let mut last_rx = Instant::now();
        let mut last_gate_check = last_rx;
        loop {
            if !self.commands(&epoll, &mut queues) {
                return Ok(());
            }
            if self.table.generation() != gen {
                (gen, ports) = self.table.snapshot();
            }
            let now = now_ms();
            let round = Instant::now();
            if round.duration_since(last_gate_check) >= GATE_CHECK
                && queues.iter().any(|s| s.gated && !s.ready)
            {
                last_gate_check = round;
                let n = match epoll.wait(&mut events, 0u16) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR) => 0,
                    Err(e) => return Err(e.into()),
                };
                self.on_events(&epoll, &events[..n], &mut queues, &ports);
            }
            let mut any = false;
            for s in &mut queues {
                if s.gated && !s.ready {
                    continue;
                }
                let Some(h) = ports.get(&s.ofport) else {
                    continue;
                };
                let n = match s.queue.recv(&mut rx) {
                    Ok(n) => n,
                    Err(e) => {
                        if e.kind() == io::ErrorKind::NotConnected {
                            h.gone.store(true, Ordering::SeqCst);
                        } else {
                            h.counters.add_rx_errors(1);
                        }
                        0
                    }
                };
                if s.gated {
                    s.ready = n == rx.len();
                }
                if n == 0 {
                    continue;
                }
                any = true;
                let mut bytes = 0u64;
                for p in &mut rx[..n] {
                    p.meta.in_port = s.ofport;
                    bytes += p.len() as u64;
                }
                h.counters.add_rx(n as u64, bytes);
                dp.process_batch(shared, &mut rx[..n], now, &mut out, &mut pins);
                self.flush(&mut out, &ports, &mut scratch);
                self.deliver(&mut pins);
            }
            if now >= next_drop_poll {
                next_drop_poll = now + DROP_POLL_MS;
                for s in &mut queues {
                    let d = s.queue.take_drops();
                    if let Some(h) = ports.get(&s.ofport) {
                        h.counters.add_rx_dropped(d);
                    }
                }
            }
            if any {
                last_rx = round;
                continue;
            }
            dp.set_idle(shared, true);
            dp.maintain(shared, now);
            if self.busy_poll {
                std::hint::spin_loop();
                continue;
            }
            if round.duration_since(last_rx) < POLL_WINDOW {
                // Traffic was seen a moment ago: more is likely, and polling
                // the rings costs a load each, far less than sleeping and
                // being woken. Yielding lets the other runnable tasks of this
                // core (often the very peers that send or sink the traffic)
                // go first.
                std::thread::yield_now();
                continue;
            }
            let n = match epoll.wait(&mut events, IDLE_WAIT_MS) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => return Err(e.into()),
            };
            last_gate_check = Instant::now();
            self.on_events(&epoll, &events[..n], &mut queues, &ports);
        }
    }

    /// Takes in what `epoll` reported: a wakeup, gated queues that became
    /// readable, queues in error.
    fn on_events(
        &self,
        epoll: &Epoll,
        events: &[EpollEvent],
        queues: &mut Vec<Served>,
        ports: &HashMap<u32, Arc<PortHandle>>,
    ) {
        for ev in events {
            let token = ev.data();
            if token == WAKE_TOKEN {
                let _ = self.wake.read();
                continue;
            }
            for s in queues.iter_mut().filter(|s| u64::from(s.ofport) == token) {
                s.ready = true;
            }
            if ev
                .events()
                .intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
            {
                self.queue_error(epoll, queues, ports, token);
            }
        }
    }

    /// Applies pending commands; `false` on stop.
    fn commands(&self, epoll: &Epoll, queues: &mut Vec<Served>) -> bool {
        while let Ok(c) = self.cmd.try_recv() {
            match c {
                Cmd::Add { ofport, queue } => {
                    let ev = EpollEvent::new(EpollFlags::EPOLLIN, u64::from(ofport));
                    if let Err(e) = epoll.add(&queue, ev) {
                        tracing::error!(bridge = %self.bridge, ofport, error = %e, "cannot poll a port queue");
                        continue;
                    }
                    let gated = queue.is_gated();
                    queues.push(Served {
                        ofport,
                        queue,
                        gated,
                        ready: true,
                    });
                }
                Cmd::Remove { ofport, ack } => {
                    queues.retain(|s| {
                        if s.ofport == ofport {
                            let _ = epoll.delete(&s.queue);
                            false
                        } else {
                            true
                        }
                    });
                    let _ = ack.send(());
                }
                Cmd::Stop => {
                    for s in queues.drain(..) {
                        let _ = epoll.delete(&s.queue);
                    }
                    return false;
                }
            }
        }
        true
    }

    /// A queue reported an error: a vanished device marks its port gone
    /// (housekeeping removes it); the queue stops being polled when its
    /// error cannot be cleared.
    fn queue_error(
        &self,
        epoll: &Epoll,
        queues: &mut Vec<Served>,
        ports: &HashMap<u32, Arc<PortHandle>>,
        token: u64,
    ) {
        let Ok(ofport) = u32::try_from(token) else {
            return;
        };
        let h = ports.get(&ofport);
        let mut drop_queue = false;
        for s in queues.iter().filter(|s| s.ofport == ofport) {
            match &s.queue {
                RxQueue::Ring(r) => {
                    let _ = r.take_error();
                    if let Some(h) = h {
                        if crate::port::netdev::ifindex(&h.name).ok() != Some(h.ifindex) {
                            h.gone.store(true, Ordering::SeqCst);
                        }
                    }
                }
                RxQueue::Tap(_) => {
                    if let Some(h) = h {
                        h.gone.store(true, Ordering::SeqCst);
                    }
                    drop_queue = true;
                }
                RxQueue::Afxdp(_) => {
                    if let Some(h) = h {
                        if crate::port::netdev::ifindex(&h.name).ok() != Some(h.ifindex) {
                            h.gone.store(true, Ordering::SeqCst);
                        }
                    }
                }
                // An eventfd has no error state; nothing to clear.
                RxQueue::Vxlan(_) | RxQueue::Patch(_) => {}
            }
        }
        if drop_queue {
            queues.retain(|s| {
                if s.ofport == ofport {
                    let _ = epoll.delete(&s.queue);
                    false
                } else {
                    true
                }
            });
        }
    }

    fn flush(
        &self,
        out: &mut TxBatches,
        ports: &HashMap<u32, Arc<PortHandle>>,
        scratch: &mut TxScratch,
    ) {
        let counters = &self.counters;
        out.flush(|port, pkts| match ports.get(&port) {
            Some(h) => {
                h.send(pkts, scratch);
            }
            None => {
                counters
                    .tx_no_port
                    .fetch_add(pkts.len() as u64, Ordering::Relaxed);
            }
        });
    }

    fn deliver(&self, pins: &mut Vec<PacketIn>) {
        for pi in pins.drain(..) {
            for pi in offload::packet_in_segments(pi) {
                queue_packet_in(&self.packet_in, &self.counters, pi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PortKind;

    #[test]
    fn the_port_table_moves_its_generation_on_every_change() {
        let t = PortTable::default();
        let g0 = t.generation();
        t.insert(Arc::new(PortHandle::detached(
            3,
            "p3",
            PortKind::System,
            [0; 6],
        )));
        assert!(t.generation() > g0);
        let (g1, snap) = t.snapshot();
        assert_eq!(snap.get(&3).map(|h| h.name.as_str()), Some("p3"));
        t.remove(3);
        assert!(t.generation() > g1);
        assert!(t.get(3).is_none());
        // An old snapshot stays valid for a thread that still holds it.
        assert!(snap.contains_key(&3));
    }
}
