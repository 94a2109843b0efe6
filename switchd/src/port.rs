//! The port layer: one [`PortHandle`] per switch port, holding what the
//! control plane and every forwarding thread share (name, number, hardware
//! address, counters, the transmit side), and the receive queues
//! ([`RxQueue`]) that each forwarding thread owns.
//!
//! # Shape
//!
//! Transmission is shared and receive is owned. Any thread (a forwarding
//! thread flushing its output batches, the control plane running a
//! packet-out) may send on a port at the same time: the kernel serialises
//! `sendmmsg` on a socket and `write` on a TAP, so [`PortHandle::send`]
//! takes `&self`. Receive state (an mmap ring, a read position) belongs to
//! exactly one thread, which gets it moved in as an [`RxQueue`]. A system
//! port opened for N threads has one receive socket and ring per thread in
//! one `PACKET_FANOUT` group, so every thread can serve every system port; a
//! TAP has one queue.
//!
//! The OS-facing code (and all of its `unsafe`) lives in the submodules:
//! [`afpacket`] (AF_PACKET + TPACKET_V2), [`afxdp`] (AF_XDP sockets fed
//! by an XDP program), [`tap`] (TAP devices, which also
//! back internal ports), [`netdev`] (interface facts: ifindex, MTU, address,
//! carrier) and [`offload`] (virtio-net headers: GSO and partial checksums
//! carried beside each packet, finished in software where a port cannot
//! take them).
//!
//! A port in a *detached* bridge (no I/O, for tests of the layers above)
//! keeps what it would have sent in a bounded queue instead.

pub mod afpacket;
pub mod afxdp;
pub mod ingress;
pub mod netdev;
pub mod offload;
pub mod patch;
pub mod tap;
#[cfg(test)]
pub(crate) mod testveth;
pub mod vxlan;

use crate::config::PortKind;
use datapath::buffer::Packet;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many transmitted frames a detached port remembers.
pub const DETACHED_TX_KEEP: usize = 1024;

/// Counters of one port, updated once per batch by the thread that moved
/// the packets.
#[derive(Debug, Default)]
pub struct PortCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

/// A copy of a port's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStatsSnapshot {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames dropped on receive (ring overruns, a port configured not to receive).
    pub rx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames dropped on transmit (full queue, oversize).
    pub tx_dropped: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

impl PortCounters {
    /// Adds received frames.
    pub fn add_rx(&self, packets: u64, bytes: u64) {
        if packets != 0 {
            self.rx_packets.fetch_add(packets, Ordering::Relaxed);
            self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Adds frames dropped on receive.
    pub fn add_rx_dropped(&self, n: u64) {
        if n != 0 {
            self.rx_dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds receive errors.
    pub fn add_rx_errors(&self, n: u64) {
        if n != 0 {
            self.rx_errors.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds sent frames.
    pub fn add_tx(&self, packets: u64, bytes: u64) {
        if packets != 0 {
            self.tx_packets.fetch_add(packets, Ordering::Relaxed);
            self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Adds frames dropped on transmit.
    pub fn add_tx_dropped(&self, n: u64) {
        if n != 0 {
            self.tx_dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds transmit errors.
    pub fn add_tx_errors(&self, n: u64) {
        if n != 0 {
            self.tx_errors.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> PortStatsSnapshot {
        PortStatsSnapshot {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_dropped: self.rx_dropped.load(Ordering::Relaxed),
            rx_errors: self.rx_errors.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
            tx_errors: self.tx_errors.load(Ordering::Relaxed),
        }
    }
}

/// Outcome of sending a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Frames the kernel took.
    pub sent: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Frames dropped (queue full, too large, could not be segmented).
    pub dropped: u64,
    /// Frames that failed with an error.
    pub errors: u64,
    /// The device is gone (ENODEV, ENXIO): the port should be removed.
    pub gone: bool,
}

/// The transmit side of a port.
#[derive(Debug)]
pub enum PortTx {
    /// An AF_PACKET socket bound to a system interface.
    Packet(afpacket::TxSocket),
    /// The AF_XDP sockets of an interface (see [`afxdp`]).
    Afxdp(afxdp::AfxdpTx),
    /// A TAP device (tap and internal ports).
    Tap(Arc<tap::TapDevice>),
    /// A VXLAN tunnel: UDP to the remote endpoint.
    Vxlan(vxlan::VxlanPort),
    /// A patch to a port of another bridge of this daemon.
    Patch(patch::PatchPort),
    /// No device: frames are kept for inspection (detached bridges).
    Detached(Mutex<VecDeque<(u32, Vec<u8>)>>),
}

/// One port as the control plane and the forwarding threads share it.
#[derive(Debug)]
pub struct PortHandle {
    /// OpenFlow port number.
    pub ofport: u32,
    /// Interface name.
    pub name: String,
    /// Kind of port.
    pub kind: PortKind,
    /// Kernel interface index (0 when detached).
    pub ifindex: i32,
    /// Hardware address when opened.
    pub hw_addr: [u8; 6],
    /// Counters.
    pub counters: PortCounters,
    /// When the port was added.
    pub created: Instant,
    /// Transmit side.
    pub tx: PortTx,
    /// Set once the port is being removed (threads stop using it).
    pub removed: AtomicBool,
    /// Set by a thread that saw the device vanish.
    pub gone: AtomicBool,
}

impl PortHandle {
    /// A port with no device (detached bridges).
    pub fn detached(ofport: u32, name: &str, kind: PortKind, hw_addr: [u8; 6]) -> PortHandle {
        PortHandle {
            ofport,
            name: name.to_owned(),
            kind,
            ifindex: 0,
            hw_addr,
            counters: PortCounters::default(),
            created: Instant::now(),
            tx: PortTx::Detached(Mutex::new(VecDeque::new())),
            removed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }
    }

    /// Sends `pkts` (each may carry offload metadata) and updates the
    /// counters. `scratch` is the caller's reusable send state.
    pub fn send(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        if pkts.is_empty() || self.removed.load(Ordering::Relaxed) {
            return SendOutcome::default();
        }
        let out = match &self.tx {
            PortTx::Packet(s) => s.send_batch(pkts, scratch),
            PortTx::Afxdp(s) => s.send_batch(pkts, scratch),
            PortTx::Tap(t) => t.send_batch(pkts, scratch),
            PortTx::Vxlan(v) => v.send_batch(pkts, scratch),
            PortTx::Patch(v) => v.send_batch(pkts, scratch),
            PortTx::Detached(q) => {
                let mut q = q.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut o = SendOutcome::default();
                for p in pkts {
                    if q.len() >= DETACHED_TX_KEEP {
                        q.pop_front();
                    }
                    let mut frame = p.data().to_vec();
                    offload::finish_checksum_in_place(&mut frame, &p.meta.offload);
                    q.push_back((self.ofport, frame));
                    o.sent += 1;
                    o.bytes += p.len() as u64;
                }
                o
            }
        };
        self.counters.add_tx(out.sent, out.bytes);
        self.counters.add_tx_dropped(out.dropped);
        self.counters.add_tx_errors(out.errors);
        if out.gone {
            self.gone.store(true, Ordering::SeqCst);
        }
        out
    }

    /// The frames a detached port would have sent, oldest first (empty for
    /// ports with a device).
    #[allow(dead_code)] // Detached bridges serve tests.
    pub fn take_detached_tx(&self) -> Vec<Vec<u8>> {
        match &self.tx {
            PortTx::Detached(q) => q
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .drain(..)
                .map(|(_, f)| f)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Reusable buffers of a sender (the plan of a batch, headers, software
/// segments, iovecs and message headers), one per thread, so that sending
/// allocates nothing in steady state. It holds raw pointers between uses
/// (so it stays on its thread); they are rewritten before every send.
#[derive(Default)]
pub struct TxScratch {
    /// The forwarding thread this scratch belongs to, which picks its own
    /// transmit ring on ports that have one per thread (`None`: the control
    /// plane and tests, which use the ports' shared sockets).
    pub(crate) lane: Option<usize>,
    /// virtio-net headers, one per message of the batch.
    pub(crate) vnet: Vec<[u8; offload::VNET_HDR_LEN]>,
    /// Segments produced by software GSO.
    pub(crate) segments: Vec<Vec<u8>>,
    /// What each message of the batch is.
    pub(crate) plan: Vec<afpacket::Msg>,
    /// Up to four iovecs per message (header, frame, or frame split around
    /// a checksum patch).
    pub(crate) iovs: Vec<[libc::iovec; 4]>,
    /// Per message: iovecs used, frame bytes.
    pub(crate) lens: Vec<(usize, usize)>,
    /// The `sendmmsg` vector.
    pub(crate) msgs: Vec<libc::mmsghdr>,
}

impl TxScratch {
    /// The scratch of forwarding thread `lane`.
    pub fn for_lane(lane: usize) -> TxScratch {
        TxScratch {
            lane: Some(lane),
            ..TxScratch::default()
        }
    }
}

impl std::fmt::Debug for TxScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxScratch")
            .field("messages", &self.plan.len())
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

/// A receive queue owned by one forwarding thread.
#[derive(Debug)]
pub enum RxQueue {
    /// One AF_PACKET socket with its ring (one member of the port's fanout group).
    Ring(afpacket::RxRing),
    /// One AF_XDP socket (one queue of the interface).
    Afxdp(afxdp::AfxdpRx),
    /// A TAP device's file descriptor.
    Tap(Arc<tap::TapDevice>),
    /// The inbox of a VXLAN port.
    Vxlan(vxlan::VxlanRx),
    /// The inbox of a patch port.
    Patch(patch::PatchRx),
}

impl std::os::fd::AsFd for RxQueue {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            RxQueue::Ring(r) => r.as_fd(),
            RxQueue::Afxdp(r) => r.as_fd(),
            RxQueue::Tap(t) => t.as_fd(),
            RxQueue::Vxlan(v) => v.as_fd(),
            RxQueue::Patch(v) => v.as_fd(),
        }
    }
}

impl RxQueue {
    /// Receives up to `pkts.len()` frames into `pkts` (each resized as
    /// needed), returning how many; an error of kind `NotConnected` means
    /// the device is gone.
    pub fn recv(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        match self {
            RxQueue::Ring(r) => r.recv(pkts),
            RxQueue::Afxdp(r) => r.recv(pkts),
            RxQueue::Tap(t) => t.recv(pkts),
            RxQueue::Vxlan(v) => v.recv(pkts),
            RxQueue::Patch(v) => v.recv(pkts),
        }
    }

    /// Whether learning that this queue is empty takes a system call (a
    /// TAP's `read`, an inbox's eventfd) rather than a load from shared
    /// memory (a ring): the forwarding loop reads such a queue only when
    /// `epoll` says it is readable or its last read filled a batch.
    pub fn is_gated(&self) -> bool {
        matches!(
            self,
            RxQueue::Tap(_) | RxQueue::Vxlan(_) | RxQueue::Patch(_)
        )
    }

    /// Frames the kernel dropped since the last call (ring full).
    pub fn take_drops(&mut self) -> u64 {
        match self {
            RxQueue::Ring(r) => r.take_drops(),
            RxQueue::Afxdp(r) => r.take_drops(),
            RxQueue::Tap(_) => 0,
            RxQueue::Vxlan(v) => v.take_drops(),
            RxQueue::Patch(v) => v.take_drops(),
        }
    }
}

/// How to open a port's device.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// Number of receive queues (forwarding threads) for system ports.
    pub queues: usize,
    /// Ring geometry of each system port queue.
    pub ring: afpacket::RingConfig,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            queues: 1,
            ring: afpacket::RingConfig::default(),
        }
    }
}

/// An opened port: the shared handle and the receive queues to hand to threads.
#[derive(Debug)]
pub struct Opened {
    /// The shared part.
    pub handle: Arc<PortHandle>,
    /// Receive queues, at most one per thread.
    pub queues: Vec<RxQueue>,
}

/// Opens the device of a port: an existing interface for
/// [`PortKind::System`], a new TAP for [`PortKind::Tap`] and
/// [`PortKind::Internal`]. VXLAN and patch ports are opened by
/// [`open_vxlan`] and [`open_patch`], as they need their options.
pub fn open(
    ofport: u32,
    name: &str,
    kind: PortKind,
    mac: Option<[u8; 6]>,
    opts: &OpenOptions,
) -> io::Result<Opened> {
    match kind {
        PortKind::System => {
            let ifindex = netdev::ifindex(name)?;
            let hw_addr = netdev::hw_addr(name).unwrap_or([0; 6]);
            let mut tx = afpacket::TxSocket::open(ifindex, opts.queues.max(1))?;
            let queues = opts.queues.max(1);
            let rings = afpacket::RxRing::open_group(ifindex, queues, &opts.ring)?;
            // The rings are bound: from here on the host's stack can stop
            // seeing the port's frames.
            match ingress::IngressDrop::attach(ifindex) {
                Ok(d) => tx.keep(d),
                Err(e) => {
                    tracing::debug!(port = name, error = %e, "the host's stack keeps seeing this port's frames");
                }
            }
            netdev::set_promiscuous(Some(tx.fd()), ifindex)?;
            Ok(Opened {
                handle: Arc::new(PortHandle {
                    ofport,
                    name: name.to_owned(),
                    kind,
                    ifindex,
                    hw_addr,
                    counters: PortCounters::default(),
                    created: Instant::now(),
                    tx: PortTx::Packet(tx),
                    removed: AtomicBool::new(false),
                    gone: AtomicBool::new(false),
                }),
                queues: rings.into_iter().map(RxQueue::Ring).collect(),
            })
        }
        PortKind::Afxdp => afxdp::open(ofport, name),
        PortKind::Tap | PortKind::Internal => {
            let dev = Arc::new(tap::TapDevice::create(name, mac)?);
            let ifindex = netdev::ifindex(name)?;
            let hw_addr = netdev::hw_addr(name).unwrap_or([0; 6]);
            Ok(Opened {
                handle: Arc::new(PortHandle {
                    ofport,
                    name: name.to_owned(),
                    kind,
                    ifindex,
                    hw_addr,
                    counters: PortCounters::default(),
                    created: Instant::now(),
                    tx: PortTx::Tap(Arc::clone(&dev)),
                    removed: AtomicBool::new(false),
                    gone: AtomicBool::new(false),
                }),
                queues: vec![RxQueue::Tap(dev)],
            })
        }
        PortKind::Vxlan | PortKind::Patch => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "vxlan and patch ports are opened with their options",
        )),
    }
}

/// Opens a VXLAN port (see [`vxlan`]): no device, a hardware address of
/// `mac`, one receive queue.
pub fn open_vxlan(
    ofport: u32,
    name: &str,
    mac: [u8; 6],
    cfg: &vxlan::VxlanConfig,
) -> io::Result<Opened> {
    let (tx, rx) = vxlan::open(cfg)?;
    Ok(Opened {
        handle: Arc::new(PortHandle {
            ofport,
            name: name.to_owned(),
            kind: PortKind::Vxlan,
            ifindex: 0,
            hw_addr: mac,
            counters: PortCounters::default(),
            created: Instant::now(),
            tx: PortTx::Vxlan(tx),
            removed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }),
        queues: vec![RxQueue::Vxlan(rx)],
    })
}

/// Opens a patch port (see [`patch`]): no device, a hardware address of
/// `mac`, one receive queue.
pub fn open_patch(
    ofport: u32,
    name: &str,
    mac: [u8; 6],
    cfg: &patch::PatchConfig,
) -> io::Result<Opened> {
    let (tx, rx) = patch::open(name, cfg)?;
    Ok(Opened {
        handle: Arc::new(PortHandle {
            ofport,
            name: name.to_owned(),
            kind: PortKind::Patch,
            ifindex: 0,
            hw_addr: mac,
            counters: PortCounters::default(),
            created: Instant::now(),
            tx: PortTx::Patch(tx),
            removed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }),
        queues: vec![RxQueue::Patch(rx)],
    })
}
