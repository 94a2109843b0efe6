//! AF_XDP ports (`type = "afxdp"`): an existing interface whose frames are
//! taken by an XDP program in the driver and handed to userspace through
//! AF_XDP sockets, instead of through AF_PACKET.
//!
//! # Shape
//!
//! - **Per port**: an `XSKMAP`, the five-instruction redirect program
//!   ([`bpf::PROGRAM`]), and a bpf_link attaching it to the interface,
//!   natively when the driver can (veth can), generically otherwise, with
//!   one log line saying which. The link is held by the receive queues, so
//!   the program leaves the interface as soon as the forwarding threads
//!   drop them (port removal, shutdown), and the kernel takes it away if
//!   the process dies.
//! - **Per interface queue**: one socket ([`xsk`]) with its own UMEM, bound
//!   to that queue (zero-copy when the driver offers it, else copy mode).
//!   Its receive half becomes an [`AfxdpRx`] that one forwarding thread
//!   owns and polls through the same epoll loop as every other queue (an
//!   XSK is readable when its RX ring holds frames). A veth has one queue
//!   unless created with more (`numrxqueues`/`ethtool -L`); with as many
//!   queues as threads each thread serves one, otherwise the queues are
//!   spread over the threads.
//! - **Transmit** from any thread goes through [`AfxdpTx`]: the transmit
//!   halves of the port's sockets, each behind a mutex (a thread takes the
//!   first free one), so frames go out in one `sendto` per batch.
//!
//! # What cannot cross AF_XDP, and what the port does about it
//!
//! - **Frame size.** A frame must fit one UMEM chunk (a page) after the
//!   kernel's 256-byte headroom: [`xsk::MAX_RX_FRAME`] bytes. veth refuses
//!   native XDP when its peer's MTU is larger; the port then runs in
//!   generic mode, where an oversize frame is dropped and counted as a
//!   receive drop.
//! - **GSO.** No 64 KiB TCP segment reaches an XDP program: while the
//!   program is attached, veth takes the software GSO features off its
//!   peer, so the sender's stack cuts TCP into MTU-sized packets (TCP works,
//!   at a lower rate than the AF_PACKET path, which keeps GSO end to end).
//!   On transmit, GSO frames from other ports are segmented in software.
//! - **Partial checksums.** A frame the peer's stack left with
//!   `CHECKSUM_PARTIAL` arrives with only the pseudo-header sum in its
//!   TCP/UDP checksum field, and AF_XDP in copy mode carries no metadata to
//!   say so. A received TCP/UDP frame whose checksum field holds exactly
//!   its pseudo-header sum is marked as needing its checksum finished
//!   ([`mark_partial_checksum`]); the output port then finishes it (in
//!   software, or in the kernel through a virtio-net header). Finishing
//!   recomputes the checksum from scratch, so a frame that happened to
//!   carry a complete checksum of that value leaves unchanged.
//! - **Transmitted frames** go out with complete checksums (the kernel
//!   builds a plain socket buffer from each descriptor in copy mode).
//! - **veth specifics.** Native XDP on a veth runs in the veth's NAPI
//!   poll, which exists once a program is attached; a frame the peer sends
//!   reaches it only while the peer offers no TSO, which the kernel
//!   arranges by withdrawing the peer's software GSO features (above).
//!   The peer's MTU is then capped at what fits a page. Transmission needs
//!   nothing of the peer: in copy mode it is an ordinary transmit on the
//!   port, not an `XDP_REDIRECT` into the veth (only that would need an
//!   XDP program or GRO on the peer).

pub mod bpf;
pub mod xsk;

use super::afpacket::{self, fill_packet};
use super::offload::{self, VirtioNetHdr, F_NEEDS_CSUM};
use super::{netdev, Opened, PortCounters, PortHandle, PortTx, RxQueue, SendOutcome, TxScratch};
use crate::config::PortKind;
use datapath::buffer::{OffloadMeta, Packet};
use datapath::packet::checksum as csum;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Instant;

/// The most interface queues a port opens sockets for.
pub const MAX_QUEUES: u32 = 64;

/// The receive side of one queue of an AF_XDP port.
pub struct AfxdpRx {
    xsk: xsk::XskRx,
    queue: u32,
    /// Holds the program on the interface, and the transmit halves open,
    /// while any queue lives.
    life: Arc<PortLife>,
    drops_seen: u64,
}

/// What the receive queues of a port keep alive together. When the last
/// queue goes (the forwarding threads dropped it: port removal,
/// shutdown), the program is detached and the transmit halves are closed
/// at once, even if a stale [`PortHandle`] lingers somewhere, so the
/// sockets release their queues and the interface can be added again.
struct PortLife {
    attachment: Option<bpf::Attachment>,
    tx: Arc<TxSet>,
}

impl Drop for PortLife {
    fn drop(&mut self) {
        // Detach first, so no frame is redirected to a closing socket.
        drop(self.attachment.take());
        for s in &self.tx.socks {
            s.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
    }
}

/// The transmit halves of a port's sockets (`None` once closed).
struct TxSet {
    socks: Vec<Mutex<Option<xsk::XskTx>>>,
}

impl std::fmt::Debug for AfxdpRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfxdpRx")
            .field("queue", &self.queue)
            .field(
                "mode",
                &self.life.attachment.as_ref().map(bpf::Attachment::mode),
            )
            .finish_non_exhaustive()
    }
}

impl AfxdpRx {
    /// Copies up to `pkts.len()` received frames into `pkts`; returns how many.
    pub fn recv(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let mut n = 0;
        let max = pkts.len();
        self.xsk.recv(max, |frame| {
            if n < max && fill_packet(&mut pkts[n], frame, None, &VirtioNetHdr::default()) {
                mark_partial_checksum(&mut pkts[n]);
                n += 1;
            }
        });
        Ok(n)
    }

    /// Frames the kernel dropped for this socket (RX ring full, no free
    /// chunk, frame too large) since the last call.
    pub fn take_drops(&mut self) -> u64 {
        let Some(st) = self.xsk.core().statistics() else {
            return 0;
        };
        let total = st.rx_dropped + st.rx_ring_full;
        let d = total.saturating_sub(self.drops_seen);
        self.drops_seen = total;
        d
    }
}

impl AsFd for AfxdpRx {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.xsk.as_fd()
    }
}

/// The transmit side of an AF_XDP port.
pub struct AfxdpTx {
    set: Arc<TxSet>,
    next: AtomicUsize,
    /// A packet socket whose membership keeps the interface promiscuous
    /// (so that a NIC's filter passes every frame to the program).
    _promisc: afpacket::TxSocket,
}

impl std::fmt::Debug for AfxdpTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfxdpTx")
            .field("sockets", &self.set.socks.len())
            .finish_non_exhaustive()
    }
}

impl AfxdpTx {
    /// Sends a batch: GSO frames are segmented and partial checksums
    /// finished in software first (see the module notes).
    pub fn send_batch(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        afpacket::plan_batch(pkts, false, scratch, &mut out);
        if scratch.plan.is_empty() || self.set.socks.is_empty() {
            return out;
        }
        let segments = &scratch.segments;
        let frames = scratch.plan.iter().map(|m| match *m {
            afpacket::Msg::Frame { pkt, .. } => pkts[pkt].data(),
            afpacket::Msg::Segment { seg, .. } => segments[seg].as_slice(),
        });
        let mut sock = self.pick();
        let Some(x) = sock.as_mut() else {
            // The port is going away: its sockets are closed.
            out.dropped += scratch.plan.len() as u64;
            return out;
        };
        let r = x.send(frames);
        drop(sock);
        out.sent += r.queued;
        out.bytes += r.bytes;
        out.dropped += r.dropped;
        out.gone |= r.gone;
        out
    }

    /// The first socket no other thread is using (or the next one, waited for).
    fn pick(&self) -> std::sync::MutexGuard<'_, Option<xsk::XskTx>> {
        let socks = &self.set.socks;
        let n = socks.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for k in 0..n {
            match socks[(start + k) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        socks[start]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Marks `p` as carrying a partial checksum when its TCP/UDP checksum field
/// holds exactly the pseudo-header sum (what the kernel's stack leaves for
/// a device to finish). Frames with offload metadata already, frames that
/// are not TCP/UDP over IP, fragments and padded frames are left alone.
pub fn mark_partial_checksum(p: &mut Packet) {
    if !p.meta.offload.is_none() {
        return;
    }
    if let Some(m) = partial_checksum_meta(p.data()) {
        p.meta.offload = m;
    }
}

fn be16(f: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]))
}

/// The offload metadata of a frame whose checksum is partial (see
/// [`mark_partial_checksum`]).
pub fn partial_checksum_meta(f: &[u8]) -> Option<OffloadMeta> {
    let i = offload::parse_l4(f)?;
    // The IP length must cover exactly the rest of the frame (no padding),
    // as the pseudo-header length is taken from the frame.
    let ip_end = if i.ipv6 {
        i.l3 + 40 + usize::from(be16(f, i.l3 + 4)?)
    } else {
        i.l3 + usize::from(be16(f, i.l3 + 2)?)
    };
    if ip_end != f.len() {
        return None;
    }
    let l4_len = f.len().checked_sub(i.l4)?;
    let pseudo = if i.ipv6 {
        let src: [u8; 16] = f.get(i.l3 + 8..i.l3 + 24)?.try_into().ok()?;
        let dst: [u8; 16] = f.get(i.l3 + 24..i.l3 + 40)?.try_into().ok()?;
        csum::pseudo_header_v6(src, dst, i.proto, u32::try_from(l4_len).ok()?)
    } else {
        let src: [u8; 4] = f.get(i.l3 + 12..i.l3 + 16)?.try_into().ok()?;
        let dst: [u8; 4] = f.get(i.l3 + 16..i.l3 + 20)?.try_into().ok()?;
        csum::pseudo_header_v4(src, dst, i.proto, u16::try_from(l4_len).ok()?)
    };
    let check_off: u16 = if i.proto == 6 { 16 } else { 6 };
    let have = be16(f, i.l4 + usize::from(check_off))?;
    if have != pseudo {
        return None;
    }
    Some(OffloadMeta {
        flags: F_NEEDS_CSUM,
        gso_type: 0,
        hdr_len: u16::try_from(i.l4 + i.l4_hdr_len).ok()?,
        gso_size: 0,
        csum_start: u16::try_from(i.l4).ok()?,
        csum_offset: check_off,
    })
}

/// Number of receive queues of interface `name` (from sysfs; 1 when it
/// cannot be read), at most [`MAX_QUEUES`].
pub fn rx_queue_count(name: &str) -> u32 {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return 1;
    }
    let n = std::fs::read_dir(format!("/sys/class/net/{name}/queues"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count()
        })
        .unwrap_or(1);
    u32::try_from(n).unwrap_or(MAX_QUEUES).clamp(1, MAX_QUEUES)
}

fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// How long a queue whose previous socket is still being torn down may
/// answer `EBUSY` before the port gives up.
const QUEUE_BUSY_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the socket of queue `q`, retrying for a bounded time while the
/// queue is busy: the kernel releases a closed socket's hold on its queue
/// in deferred work, so a port removed and added straight back can find
/// the queue still taken for a few milliseconds. A queue another live
/// socket holds stays busy and fails after the grace period.
fn open_queue(ifindex: u32, q: u32) -> io::Result<(xsk::XskRx, xsk::XskTx)> {
    let deadline = std::time::Instant::now() + QUEUE_BUSY_GRACE;
    loop {
        match xsk::open(ifindex, q) {
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Opens interface `name` as AF_XDP port `ofport`: one socket per
/// interface queue, the program attached (natively if possible).
pub fn open(ofport: u32, name: &str) -> io::Result<Opened> {
    let ifindex = netdev::ifindex(name)?;
    let ifx = u32::try_from(ifindex).map_err(|_| io::Error::other("bad ifindex"))?;
    let hw_addr = netdev::hw_addr(name).unwrap_or([0; 6]);
    let queues = rx_queue_count(name);
    let map = bpf::XskMap::create(queues, &format!("xsks_{ofport}")).map_err(|e| {
        context(
            e,
            "cannot create the XSKMAP (needs CAP_BPF and Linux >= 4.18)",
        )
    })?;
    let prog = bpf::Program::load(&map, "switchd_xsk")
        .map_err(|e| context(e, "cannot load the XDP program"))?;
    let mut rxs = Vec::new();
    let mut txs = Vec::new();
    for q in 0..queues {
        let (rx, tx) = open_queue(ifx, q).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EBUSY) {
                " (another AF_XDP socket, maybe another switch, holds that queue)"
            } else {
                ""
            };
            context(
                e,
                &format!("cannot open an AF_XDP socket on queue {q}{hint}"),
            )
        })?;
        map.set(q, rx.core().fd())
            .map_err(|e| context(e, &format!("cannot map queue {q} to its socket")))?;
        rxs.push(rx);
        txs.push(tx);
    }
    let zero_copy = rxs.iter().all(|r| r.core().zero_copy());
    let attachment = bpf::Attachment::attach(map, prog, ifx)?;
    match attachment.native_error() {
        None => tracing::info!(
            port = %name, queues, zero_copy,
            "AF_XDP port: native XDP ({} mode)",
            if zero_copy { "zero-copy" } else { "copy" }
        ),
        Some(e) => {
            let why = if e.raw_os_error() == Some(libc::ERANGE) {
                " (the MTU is too large for native XDP)"
            } else {
                ""
            };
            tracing::warn!(
                port = %name, queues, zero_copy,
                "AF_XDP port: generic (SKB) XDP, slower: native mode refused: {e}{why}"
            );
        }
    }
    let mtu = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    // Ethernet header and one VLAN tag on top of the MTU.
    if mtu + 18 > xsk::MAX_RX_FRAME {
        tracing::warn!(
            port = %name, mtu,
            "AF_XDP frames are at most {} bytes: larger frames are dropped on this port",
            xsk::MAX_RX_FRAME
        );
    }
    let promisc = afpacket::TxSocket::open(ifindex, 0)?;
    netdev::set_promiscuous(Some(promisc.fd()), ifindex)?;
    let set = Arc::new(TxSet {
        socks: txs.into_iter().map(|t| Mutex::new(Some(t))).collect(),
    });
    let life = Arc::new(PortLife {
        attachment: Some(attachment),
        tx: Arc::clone(&set),
    });
    let tx = AfxdpTx {
        set,
        next: AtomicUsize::new(0),
        _promisc: promisc,
    };
    let rx_queues = rxs
        .into_iter()
        .zip(0..)
        .map(|(xsk, queue)| {
            RxQueue::Afxdp(AfxdpRx {
                xsk,
                queue,
                life: Arc::clone(&life),
                drops_seen: 0,
            })
        })
        .collect();
    // From here on only the queues hold the program and the sockets.
    drop(life);
    Ok(Opened {
        handle: Arc::new(PortHandle {
            ofport,
            name: name.to_owned(),
            kind: PortKind::Afxdp,
            ifindex,
            hw_addr,
            counters: PortCounters::default(),
            created: Instant::now(),
            tx: PortTx::Afxdp(tx),
            removed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }),
        queues: rx_queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame with `payload`, its checksum field
    /// set to `check`.
    fn tcp4(payload: &[u8], check: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        let tot = u16::try_from(40 + payload.len()).unwrap();
        f[16..18].copy_from_slice(&tot.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[46] = 0x50;
        f[50..52].copy_from_slice(&check.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn pseudo(len: usize) -> u16 {
        csum::pseudo_header_v4(
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            6,
            u16::try_from(len).unwrap(),
        )
    }

    #[test]
    fn a_frame_holding_only_its_pseudo_header_sum_is_marked_partial_and_finishes_right() {
        let payload = b"hello, switch";
        let mut f = tcp4(payload, pseudo(20 + payload.len()));
        let m = partial_checksum_meta(&f).expect("partial");
        assert_eq!(
            (m.flags, m.csum_start, m.csum_offset),
            (F_NEEDS_CSUM, 34, 16)
        );
        offload::finish_checksum_in_place(&mut f, &m);
        assert!(csum::verify(pseudo(20 + payload.len()), &f[34..]));
    }

    #[test]
    fn complete_checksums_padded_frames_and_non_ip_frames_are_left_alone() {
        let payload = b"hello, switch";
        let mut f = tcp4(payload, 0);
        let c = csum::checksum_with(pseudo(20 + payload.len()), &f[34..]);
        f[50..52].copy_from_slice(&c.to_be_bytes());
        assert_eq!(partial_checksum_meta(&f), None);
        let mut padded = tcp4(b"", pseudo(20));
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(partial_checksum_meta(&padded), None);
        assert_eq!(partial_checksum_meta(&[0u8; 60]), None);
        assert_eq!(partial_checksum_meta(&[]), None);
    }

    #[test]
    fn a_complete_checksum_equal_to_the_pseudo_sum_survives_being_finished() {
        // Whatever the field held, finishing recomputes it from scratch:
        // a valid frame stays valid.
        for n in 0..64u8 {
            let payload: Vec<u8> = (0..n).collect();
            let mut f = tcp4(&payload, 0);
            let c = csum::checksum_with(pseudo(20 + payload.len()), &f[34..]);
            f[50..52].copy_from_slice(&c.to_be_bytes());
            let m = OffloadMeta {
                flags: F_NEEDS_CSUM,
                ..OffloadMeta::default()
            };
            offload::finish_checksum_in_place(&mut f, &m);
            assert_eq!(be16(&f, 50), Some(c));
        }
    }

    #[test]
    fn loopback_has_at_least_one_queue_and_bad_names_count_one() {
        assert!(rx_queue_count("lo") >= 1);
        assert_eq!(rx_queue_count("../etc"), 1);
        assert_eq!(rx_queue_count("no-such-if0"), 1);
    }
}
