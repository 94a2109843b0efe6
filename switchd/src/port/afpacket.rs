//! System ports through AF_PACKET: a TPACKET_V2 mmap receive ring per
//! forwarding thread (in one `PACKET_FANOUT` hash group when there are
//! several) and one transmit socket shared by every thread.
//!
//! # Design
//!
//! - **Receive.** TPACKET_V2 hands the ring over frame by frame: each slot
//!   has its own status word, so a frame is visible to userspace (and
//!   wakes a thread blocked in `poll`) the moment the kernel has written
//!   it. (TPACKET_V3 packs frames into blocks and only hands over a block
//!   once it is full or its timer of at least 1 ms expires: fewer wakeups,
//!   but up to a millisecond of delay per frame on a lightly loaded link.)
//!   [`RxRing::recv`] reads ready slots in order, copies each frame into a
//!   [`Packet`] (restoring an 802.1Q tag the kernel took out into
//!   `tp_vlan_tci`) together with its virtio-net header, and gives the
//!   slot back at once. Slots are sized for a full Ethernet frame; a larger
//!   one (a 64 KiB GSO frame, a jumbo frame) is also queued whole on the
//!   socket (`PACKET_COPY_THRESH`), its slot marked `TP_STATUS_COPY`, and
//!   is read from there with `recvmsg` at its place in the sequence. This
//!   keeps the ring small (resident memory) without cutting GSO frames.
//!   `PACKET_IGNORE_OUTGOING` keeps frames transmitted on the interface
//!   (ours included) out of the ring.
//! - **Transmit.** Sockets bound with protocol 0 receive nothing, so they
//!   only send, bypassing the qdisc layer (`PACKET_QDISC_BYPASS`) as the
//!   switch does its own queueing. Each forwarding thread has its own
//!   transmit ring per port ([`TxRing`], `PACKET_TX_RING`): a batch is
//!   copied into slots and handed over with one `send`, which on a veth
//!   also spares the thread a context switch every few frames (see the
//!   ring's notes). Frames too big for a slot (GSO, jumbo) and senders
//!   without a lane (the control plane) use the shared socket: one
//!   `sendmmsg` per batch, each message the frame's virtio-net header
//!   followed by the frame. Offsets
//!   of a partial checksum are recomputed from the frame as it is now
//!   ([`super::offload::prepare_tx`]); a frame the header cannot describe
//!   is segmented in software.
//! - Both sockets carry `PACKET_VNET_HDR`, which is what lets TCP through
//!   a veth keep its 64 KiB GSO segments end to end.
//!
//! All `unsafe` of this file is socket options, `mmap`/`munmap`, reads of
//! the ring's kernel-shared headers and `sendmmsg`; each block says why it
//! holds.

mod txring;

use super::offload::{self, VirtioNetHdr, VNET_HDR_LEN};
use super::{netdev::socklen_of, SendOutcome, TxScratch};
use datapath::buffer::{Packet, DEFAULT_HEADROOM};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::Mutex;
pub use txring::TxRing;

/// Capacity of a receive buffer: headroom, a 64 KiB GSO frame, a VLAN tag
/// and some slack.
pub const RX_BUF_CAPACITY: usize = DEFAULT_HEADROOM + 65_536 + 512;

const ETH_P_ALL: u16 = 0x0003;
const TPACKET_V2: libc::c_int = 1;
const PACKET_FANOUT_HASH: u32 = 0;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_COPY: u32 = 1 << 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

// Offsets in `struct tpacket2_hdr`.
const H_STATUS: usize = 0;
const H_LEN: usize = 4;
const H_SNAPLEN: usize = 8;
const H_MAC: usize = 12;
const H_VLAN_TCI: usize = 24;
const H_VLAN_TPID: usize = 26;
const TPACKET2_HDR_SIZE: usize = 32;

/// Ring geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per frame slot (a multiple of 16): room for the ring's own
    /// headers and a full-size Ethernet frame. Larger frames (GSO, jumbo)
    /// come through the socket's queue instead (`TP_STATUS_COPY`).
    pub frame_size: u32,
    /// Number of frame slots.
    pub frame_nr: u32,
    /// Bytes per block, the unit the kernel allocates the ring in (a power
    /// of two, a multiple of the page size and of `frame_size`).
    pub block_size: u32,
}

impl Default for RingConfig {
    fn default() -> RingConfig {
        RingConfig {
            frame_size: 2048,
            frame_nr: 2048,
            block_size: 64 * 1024,
        }
    }
}

/// Receive buffer space of a ring socket: what oversized frames
/// (`TP_STATUS_COPY`) may queue before the kernel truncates them instead.
const RX_SOCKET_BUFFER: i32 = 4 << 20;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `fd` is an open socket owned by the caller; `val` points to
    // an initialised `T` whose size is passed alongside.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::from_ref(val).cast(),
            socklen_of::<T>(),
        )
    })
    .map(drop)
}

fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before use.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: RawFd, ifindex: i32, protocol: u16) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(17);
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: `fd` is an open packet socket; `sll` is initialised and its
    // size is passed alongside.
    cvt(unsafe {
        libc::bind(
            fd,
            (&raw const sll).cast(),
            socklen_of::<libc::sockaddr_ll>(),
        )
    })
    .map(drop)
}

/// The transmit side of a system port: a socket any sender may use, and a
/// transmit ring per forwarding thread ("lane").
#[derive(Debug)]
pub struct TxSocket {
    fd: OwnedFd,
    vnet: bool,
    /// One ring per lane; a sender whose [`TxScratch`] names a lane uses
    /// that ring (the lock is never contended: a lane is one thread).
    rings: Vec<Mutex<TxRing>>,
    /// The program that keeps the host's stack out of the port's frames,
    /// attached as long as the port lives.
    ingress: Option<super::ingress::IngressDrop>,
}

impl TxSocket {
    /// Opens a send-only packet socket on interface `ifindex`, and a
    /// transmit ring for each of `lanes` forwarding threads (none where
    /// the kernel refuses one: those threads use the socket).
    pub fn open(ifindex: i32, lanes: usize) -> io::Result<TxSocket> {
        let fd = packet_socket()?;
        let raw = fd.as_raw_fd();
        let vnet = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1i32).is_ok();
        // Best effort: without it frames go through the qdisc layer.
        let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &1i32);
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &(8i32 << 20));
        bind(raw, ifindex, 0)?;
        let mut rings = Vec::with_capacity(lanes);
        for _ in 0..lanes {
            match TxRing::open(ifindex, txring::TX_FRAME_NR, vnet) {
                Ok(r) => rings.push(Mutex::new(r)),
                Err(e) => {
                    tracing::debug!(ifindex, error = %e, "no transmit ring: sending with sendmmsg");
                    rings.clear();
                    break;
                }
            }
        }
        Ok(TxSocket {
            fd,
            vnet,
            rings,
            ingress: None,
        })
    }

    /// Keeps `d` attached for as long as the port lives.
    pub fn keep(&mut self, d: super::ingress::IngressDrop) {
        self.ingress = Some(d);
    }

    /// The descriptor (for the promiscuous membership).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends a batch: through the sender's lane's transmit ring when it has
    /// one (frames too big for a slot go by `sendmmsg` at their place in
    /// the order), else with one `sendmmsg` (more if the kernel takes only
    /// part of it).
    pub fn send_batch(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        plan_batch(pkts, self.vnet, scratch, &mut out);
        self.build_messages(pkts, scratch);
        let ring = scratch
            .lane
            .filter(|_| !self.rings.is_empty())
            .and_then(|l| self.rings[l % self.rings.len()].try_lock().ok());
        let TxScratch {
            iovs, lens, msgs, ..
        } = scratch;
        let hdr_len = if self.vnet { VNET_HDR_LEN } else { 0 };
        match ring {
            Some(mut ring) => {
                let n = lens.len();
                let mut i = 0;
                while i < n {
                    let (k, bytes) = lens[i];
                    if ring.push(&iovs[i][..k], bytes) {
                        i += 1;
                        continue;
                    }
                    ring.kick(&mut out);
                    if ring.push(&iovs[i][..k], bytes) {
                        i += 1;
                        continue;
                    }
                    // The ring cannot take it (too big for a slot, or every
                    // slot in flight): it and the following ones too big
                    // for a slot go by sendmmsg, after what the ring sent.
                    let start = i;
                    i += 1;
                    while i < n && hdr_len + lens[i].1 > ring.slot_capacity() {
                        i += 1;
                    }
                    self.sendmmsg(&mut iovs[start..i], &lens[start..i], msgs, &mut out);
                }
                ring.kick(&mut out);
            }
            None => self.sendmmsg(iovs, lens, msgs, &mut out),
        }
        out
    }

    /// Fills `scratch.iovs` and `scratch.lens` from the plan.
    fn build_messages(&self, pkts: &[Packet], scratch: &mut TxScratch) {
        let TxScratch {
            vnet,
            segments,
            plan,
            iovs,
            lens,
            ..
        } = scratch;
        iovs.clear();
        lens.clear();
        for m in plan.iter() {
            let mut v = [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; 4];
            let mut n = 0;
            let mut push = |b: &[u8]| {
                v[n] = libc::iovec {
                    iov_base: b.as_ptr().cast_mut().cast(),
                    iov_len: b.len(),
                };
                n += 1;
            };
            let bytes;
            match *m {
                Msg::Frame { pkt, hdr, patch } => {
                    let f = pkts[pkt].data();
                    bytes = f.len();
                    if self.vnet {
                        push(&vnet[hdr]);
                    }
                    match patch {
                        Some((off, ref b)) if off + 2 <= f.len() => {
                            push(&f[..off]);
                            push(b);
                            push(&f[off + 2..]);
                        }
                        _ => push(f),
                    }
                }
                Msg::Segment { seg, hdr } => {
                    let f = &segments[seg];
                    bytes = f.len();
                    if self.vnet {
                        push(&vnet[hdr]);
                    }
                    push(f);
                }
            }
            iovs.push(v);
            lens.push((n, bytes));
        }
    }

    /// Sends the messages `iovs` describes (their iovec counts and frame
    /// sizes in `lens`) with `sendmmsg`, building their headers in `msgs`.
    fn sendmmsg(
        &self,
        iovs: &mut [[libc::iovec; 4]],
        lens: &[(usize, usize)],
        msgs: &mut Vec<libc::mmsghdr>,
        out: &mut SendOutcome,
    ) {
        msgs.clear();
        for (v, (n, _)) in iovs.iter_mut().zip(lens) {
            // SAFETY: an all-zero mmsghdr is a valid value of the type.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v.as_mut_ptr();
            m.msg_hdr.msg_iovlen = *n;
            msgs.push(m);
        }
        let mut i = 0;
        let mut retries = 0;
        while i < msgs.len() {
            let rest = &mut msgs[i..];
            let count = libc::c_uint::try_from(rest.len()).unwrap_or(libc::c_uint::MAX);
            // SAFETY: `rest` holds `count` initialised mmsghdrs whose iovecs
            // point into the caller's packets and scratch (the patch bytes of
            // its plan among them), all alive and unmoved until this call
            // returns.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    rest.as_mut_ptr(),
                    count,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                let r = usize::try_from(r).unwrap_or(0);
                for (_, b) in &lens[i..i + r] {
                    out.sent += 1;
                    out.bytes += *b as u64;
                }
                i += r;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) if retries < 3 => {
                    retries += 1;
                    wait_writable(self.fd.as_raw_fd(), 1);
                }
                Some(libc::EAGAIN | libc::ENOBUFS) => {
                    out.dropped += (msgs.len() - i) as u64;
                    break;
                }
                Some(libc::EINTR) => {}
                Some(libc::ENXIO | libc::ENODEV) => {
                    out.gone = true;
                    out.errors += (msgs.len() - i) as u64;
                    break;
                }
                Some(libc::ENETDOWN) => {
                    out.dropped += (msgs.len() - i) as u64;
                    break;
                }
                _ => {
                    // This message is refused (too big, malformed): skip it.
                    out.errors += 1;
                    i += 1;
                }
            }
        }
    }
}

/// Sets up a TPACKET ring (`which`: `PACKET_RX_RING` or `PACKET_TX_RING`)
/// of `block_nr` blocks of `block_size` bytes, `frame_nr` slots of
/// `frame_size`, on packet socket `raw`, and maps it: (start, length).
fn map_ring(
    raw: RawFd,
    which: libc::c_int,
    block_size: usize,
    block_nr: usize,
    frame_size: usize,
    frame_nr: usize,
) -> io::Result<(*mut u8, usize)> {
    let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let req = libc::tpacket_req {
        tp_block_size: u(block_size),
        tp_block_nr: u(block_nr),
        tp_frame_size: u(frame_size),
        tp_frame_nr: u(frame_nr),
    };
    setsockopt(raw, libc::SOL_PACKET, which, &req)?;
    let map_len = block_size * block_nr;
    // SAFETY: maps the ring the kernel just allocated for this socket, with
    // the exact size it was configured with.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            raw,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok((map.cast(), map_len))
}

/// Waits up to `ms` for `fd` to become writable.
fn wait_writable(fd: RawFd, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    unsafe {
        libc::poll(&raw mut p, 1, ms);
    }
}

/// One message of a planned batch.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Msg {
    /// A packet of the batch as it is, with header `hdr` and an optional
    /// checksum-field patch.
    Frame {
        pkt: usize,
        hdr: usize,
        patch: Option<(usize, [u8; 2])>,
    },
    /// A software segment in `scratch.segments`.
    Segment { seg: usize, hdr: usize },
}

/// Decides, for each packet, what goes on the wire: the frame with its
/// header, or software segments. Fills `scratch.plan` (and the headers and
/// segments it refers to).
pub(crate) fn plan_batch(
    pkts: &[Packet],
    vnet: bool,
    scratch: &mut TxScratch,
    out: &mut SendOutcome,
) {
    let plan = &mut scratch.plan;
    plan.clear();
    scratch.vnet.clear();
    let mut used_segs = 0;
    for (i, p) in pkts.iter().enumerate() {
        let m = &p.meta.offload;
        if p.is_empty() {
            continue;
        }
        if m.is_none() {
            scratch.vnet.push([0; VNET_HDR_LEN]);
            plan.push(Msg::Frame {
                pkt: i,
                hdr: scratch.vnet.len() - 1,
                patch: None,
            });
            continue;
        }
        if vnet {
            if let Some(prep) = offload::prepare_tx(p.data(), m) {
                scratch.vnet.push(prep.hdr.to_bytes());
                plan.push(Msg::Frame {
                    pkt: i,
                    hdr: scratch.vnet.len() - 1,
                    patch: prep.patch,
                });
                continue;
            }
        }
        let before = used_segs;
        match offload::segment(p.data(), m, &mut scratch.segments, &mut used_segs) {
            Some(_) => {
                for seg in before..used_segs {
                    scratch.vnet.push([0; VNET_HDR_LEN]);
                    plan.push(Msg::Segment {
                        seg,
                        hdr: scratch.vnet.len() - 1,
                    });
                }
            }
            None => out.dropped += 1,
        }
    }
}

/// One receive ring (one member of the port's fanout group).
pub struct RxRing {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    frame_size: usize,
    frames_per_block: usize,
    block_size: usize,
    frame_nr: usize,
    /// Next frame slot to read.
    head: usize,
    /// Frames dropped here (truncated with no full copy queued), not yet
    /// reported by [`RxRing::take_drops`].
    local_drops: u64,
}

// SAFETY: the ring mapping is owned by this value alone (the kernel shares
// it, but no other userspace reference exists); moving it to another thread
// moves that ownership.
unsafe impl Send for RxRing {}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxRing")
            .field("fd", &self.fd.as_raw_fd())
            .field("frames", &self.frame_nr)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are exactly what mmap returned, unmapped
        // only here; no reference into the mapping outlives `self`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

/// A process-wide counter for fanout group ids.
static FANOUT_SEQ: AtomicU16 = AtomicU16::new(0);

impl RxRing {
    /// Opens `n` rings on interface `ifindex`, in one fanout group when
    /// `n > 1`.
    pub fn open_group(ifindex: i32, n: usize, cfg: &RingConfig) -> io::Result<Vec<RxRing>> {
        let n = n.max(1);
        let mut rings = Vec::with_capacity(n);
        if n == 1 {
            rings.push(RxRing::open(ifindex, cfg, None)?);
            return Ok(rings);
        }
        // Group ids are per network namespace: pick one nobody uses.
        let base = u16::try_from(std::process::id() & 0x7fff).unwrap_or(0);
        for attempt in 0..64u16 {
            let id = base
                .wrapping_mul(31)
                .wrapping_add(FANOUT_SEQ.fetch_add(1, Ordering::Relaxed))
                .wrapping_add(attempt);
            rings.clear();
            let mut ok = true;
            for _ in 0..n {
                match RxRing::open(ifindex, cfg, Some(id)) {
                    Ok(r) => rings.push(r),
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EINVAL | libc::EALREADY | libc::EEXIST)
                        ) =>
                    {
                        ok = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if ok {
                return Ok(rings);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free PACKET_FANOUT group id",
        ))
    }

    fn open(ifindex: i32, cfg: &RingConfig, fanout: Option<u16>) -> io::Result<RxRing> {
        let frame_size = usize::try_from(cfg.frame_size).unwrap_or(0);
        let block_size = usize::try_from(cfg.block_size).unwrap_or(0);
        let frame_nr = usize::try_from(cfg.frame_nr).unwrap_or(0);
        if frame_size < TPACKET2_HDR_SIZE + 128
            || frame_size % 16 != 0
            || block_size < frame_size
            || block_size % frame_size != 0
            || frame_nr == 0
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ring geometry: frame size must be a multiple of 16 of at least 160 that divides the block size",
            ));
        }
        let frames_per_block = block_size / frame_size;
        let block_nr = frame_nr.div_ceil(frames_per_block);
        let frame_nr = block_nr * frames_per_block;
        let fd = packet_socket()?;
        let raw = fd.as_raw_fd();
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V2)?;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1i32)?;
        // Frames too big for a slot are queued whole on the socket as well
        // (the slot says so with TP_STATUS_COPY) instead of being cut.
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_COPY_THRESH, &1i32)?;
        let _ = setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &RX_SOCKET_BUFFER,
        );
        // Best effort (Linux >= 4.20): without it our own transmissions
        // would come back, and the NORMAL action would drop them as frames
        // from the port they go out of.
        let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1i32);
        let (map, map_len) = map_ring(
            raw,
            libc::PACKET_RX_RING,
            block_size,
            block_nr,
            frame_size,
            frame_nr,
        )?;
        let ring = RxRing {
            fd,
            map,
            map_len,
            frame_size,
            frames_per_block,
            block_size,
            frame_nr,
            head: 0,
            local_drops: 0,
        };
        bind(raw, ifindex, ETH_P_ALL)?;
        if let Some(id) = fanout {
            // Hash only, no rollover: a flow stays on one ring, so its packets
            // keep their order.
            let arg: u32 = u32::from(id) | (PACKET_FANOUT_HASH << 16);
            setsockopt(raw, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)?;
        }
        Ok(ring)
    }

    /// The pending socket error, cleared (set when the device went down or away).
    pub fn take_error(&self) -> Option<io::Error> {
        let mut err: libc::c_int = 0;
        let mut len = socklen_of::<libc::c_int>();
        // SAFETY: `err`/`len` are valid for writes of an int and its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &raw mut len,
            )
        };
        (r == 0 && err != 0).then(|| io::Error::from_raw_os_error(err))
    }

    /// Frames dropped (ring full, or too big to be received whole)
    /// since the last call.
    pub fn take_drops(&mut self) -> u64 {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = socklen_of::<libc::tpacket_stats>();
        // SAFETY: `st`/`len` are valid for writes of the statistics struct
        // and its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut st).cast(),
                &raw mut len,
            )
        };
        let kernel = if r == 0 { u64::from(st.tp_drops) } else { 0 };
        kernel + std::mem::take(&mut self.local_drops)
    }

    fn frame(&self, i: usize) -> *mut u8 {
        let off = (i / self.frames_per_block) * self.block_size
            + (i % self.frames_per_block) * self.frame_size;
        // SAFETY: `i < frame_nr`, so the slot lies inside the mapping.
        unsafe { self.map.add(off) }
    }

    fn frame_status(&self, f: *mut u8) -> &AtomicU32 {
        // SAFETY: `f` is a frame slot of this ring's mapping, which lives as
        // long as `self`; its status word is the 4-aligned first u32, shared
        // with the kernel, which publishes it after the frame's bytes.
        unsafe { &*f.add(H_STATUS).cast::<AtomicU32>() }
    }

    fn read_u32(b: *const u8, off: usize) -> u32 {
        // SAFETY: callers pass offsets inside a user-owned frame slot, which
        // the kernel does not write until the slot is given back.
        unsafe { b.add(off).cast::<u32>().read_unaligned() }
    }

    fn read_u16(b: *const u8, off: usize) -> u16 {
        // SAFETY: as for `read_u32`.
        unsafe { b.add(off).cast::<u16>().read_unaligned() }
    }

    /// Copies up to `pkts.len()` received frames into `pkts`; returns how
    /// many. Each frame slot is given back to the kernel as soon as it is
    /// copied.
    pub fn recv(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let mut n = 0;
        while n < pkts.len() {
            let h = self.frame(self.head);
            let status = self.frame_status(h).load(Ordering::Acquire);
            if status & TP_STATUS_USER == 0 {
                break;
            }
            let len = Self::read_u32(h, H_LEN) as usize;
            let snaplen = Self::read_u32(h, H_SNAPLEN) as usize;
            let mac = usize::from(Self::read_u16(h, H_MAC));
            let vlan = (status & TP_STATUS_VLAN_VALID != 0).then(|| {
                let tci = Self::read_u16(h, H_VLAN_TCI);
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    Self::read_u16(h, H_VLAN_TPID)
                } else {
                    0x8100
                };
                (tpid, tci)
            });
            let got = if status & TP_STATUS_COPY != 0 {
                // The slot holds the frame's head; the whole frame waits on
                // the socket, in slot order.
                self.recv_copy(&mut pkts[n], vlan)
            } else if snaplen == len && mac >= VNET_HDR_LEN && mac + snaplen <= self.frame_size {
                // SAFETY: the frame and the virtio-net header in front of it
                // lie inside the user-owned slot (checked just above).
                let (vh, frame) = unsafe {
                    (
                        std::slice::from_raw_parts(h.add(mac - VNET_HDR_LEN), VNET_HDR_LEN),
                        std::slice::from_raw_parts(h.add(mac), snaplen),
                    )
                };
                let mut hdr = [0u8; VNET_HDR_LEN];
                hdr.copy_from_slice(vh);
                fill_packet(&mut pkts[n], frame, vlan, &VirtioNetHdr::from_bytes(&hdr))
            } else {
                // Cut short with no whole copy (the socket's buffer was full).
                self.local_drops += 1;
                false
            };
            self.frame_status(h)
                .store(TP_STATUS_KERNEL, Ordering::Release);
            self.head = (self.head + 1) % self.frame_nr;
            if got {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Reads the whole copy of an oversized frame from the socket into `p`.
    fn recv_copy(&mut self, p: &mut Packet, vlan: Option<(u16, u16)>) -> bool {
        if p.reset_for_rx(DEFAULT_HEADROOM).len() < RX_BUF_CAPACITY - DEFAULT_HEADROOM {
            *p = Packet::with_capacity(RX_BUF_CAPACITY, DEFAULT_HEADROOM);
        }
        let area = p.reset_for_rx(DEFAULT_HEADROOM);
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: VNET_HDR_LEN,
            },
            libc::iovec {
                iov_base: area.as_mut_ptr().cast(),
                iov_len: area.len(),
            },
        ];
        // SAFETY: an all-zero msghdr is a valid value of the type.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        let r = loop {
            // SAFETY: `msg` points to two iovecs over live, writable buffers
            // of the given lengths.
            let r = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
            if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break r;
            }
        };
        let len = usize::try_from(r).unwrap_or(0).saturating_sub(VNET_HDR_LEN);
        if r < 0 || msg.msg_flags & libc::MSG_TRUNC != 0 || len < 14 {
            self.local_drops += 1;
            return false;
        }
        p.set_len(len);
        if let Some((tpid, tci)) = vlan {
            let Some(f) = p.insert_at(12, 4) else {
                self.local_drops += 1;
                return false;
            };
            f[12..14].copy_from_slice(&tpid.to_be_bytes());
            f[14..16].copy_from_slice(&tci.to_be_bytes());
        }
        p.meta.offload = VirtioNetHdr::from_bytes(&hdr).to_meta();
        true
    }
}

impl AsFd for RxRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Copies a received frame into `p` (growing it when too small), putting
/// back an 802.1Q tag the kernel had taken out, and records the offloads.
/// Returns `false` for an empty frame.
pub fn fill_packet(
    p: &mut Packet,
    frame: &[u8],
    vlan: Option<(u16, u16)>,
    hdr: &VirtioNetHdr,
) -> bool {
    if frame.len() < 12 {
        return false;
    }
    let need = frame.len() + if vlan.is_some() { 4 } else { 0 };
    if p.reset_for_rx(DEFAULT_HEADROOM).len() < need {
        *p = Packet::with_capacity(
            RX_BUF_CAPACITY.max(DEFAULT_HEADROOM + need),
            DEFAULT_HEADROOM,
        );
    }
    let area = p.reset_for_rx(DEFAULT_HEADROOM);
    match vlan {
        Some((tpid, tci)) => {
            area[..12].copy_from_slice(&frame[..12]);
            area[12..14].copy_from_slice(&tpid.to_be_bytes());
            area[14..16].copy_from_slice(&tci.to_be_bytes());
            area[16..need].copy_from_slice(&frame[12..]);
        }
        None => area[..need].copy_from_slice(frame),
    }
    p.set_len(need);
    p.meta.offload = hdr.to_meta();
    true
}

#[cfg(test)]
mod tests {
    use super::super::testveth::{can_make_veths, ip, veth, Veth};
    use super::*;
    use std::time::{Duration, Instant};

    /// Creates `{prefix}a` and `{prefix}b` joined as a veth pair, up, with
    /// room for jumbo frames; `None` (the test skips) without root, unless
    /// `SWITCH_REQUIRE_PEERS` is set.
    fn veth_pair(tag: &str) -> Option<(Veth, String, String)> {
        if !can_make_veths() {
            return None;
        }
        let p = format!("ap{}{tag}", std::process::id() % 10_000);
        let (a, b) = (format!("{p}a"), format!("{p}b"));
        let guard = veth(&a, &b);
        for d in [&a, &b] {
            assert!(ip(&["link", "set", d, "mtu", "9000", "up"]));
        }
        Some((guard, a, b))
    }

    fn frame(len: usize, ethertype: u16, fill: u8) -> Vec<u8> {
        let mut f = vec![fill; len];
        f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        f
    }

    #[test]
    fn small_tagged_and_oversized_frames_arrive_whole_and_in_order() {
        frames_arrive_whole_and_in_order("o", TxScratch::default());
    }

    #[test]
    fn through_the_transmit_ring_frames_arrive_whole_and_in_order() {
        frames_arrive_whole_and_in_order("t", TxScratch::for_lane(0));
    }

    #[test]
    fn a_full_transmit_ring_sends_once_kicked_and_frees_its_slots() {
        let Some((_guard, a, b)) = veth_pair("k") else {
            return;
        };
        let mut ring = TxRing::open(netdev_index(&a), 32, true).expect("transmit ring");
        let cfg = RingConfig {
            frame_nr: 256,
            ..RingConfig::default()
        };
        let mut rx = RxRing::open_group(netdev_index(&b), 1, &cfg).expect("receive ring");
        let hdr = [0u8; VNET_HDR_LEN];
        let f = frame(60, 0x88b5, 7);
        let parts = [
            libc::iovec {
                iov_base: hdr.as_ptr().cast_mut().cast(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: f.as_ptr().cast_mut().cast(),
                iov_len: f.len(),
            },
        ];
        let mut out = SendOutcome::default();
        for round in 0..3 {
            let mut queued = 0;
            while ring.push(&parts, f.len()) {
                queued += 1;
            }
            // Every slot was queued and none sent: the ring refuses more.
            assert_eq!(queued, 32, "round {round}");
            ring.kick(&mut out);
            assert_eq!(out.sent, 32 * (round + 1), "{out:?}");
        }
        let big = frame(2100, 0x88b5, 8);
        let too_big = [
            parts[0],
            libc::iovec {
                iov_base: big.as_ptr().cast_mut().cast(),
                iov_len: big.len(),
            },
        ];
        assert!(!ring.push(&too_big, big.len()));
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf: Vec<Packet> = (0..32).map(|_| Packet::with_capacity(256, 64)).collect();
        while got < 96 && Instant::now() < deadline {
            let n = rx[0].recv(&mut buf).expect("recv");
            got += buf[..n].iter().filter(|p| p.data() == f.as_slice()).count();
            if n == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(got, 96);
    }

    fn frames_arrive_whole_and_in_order(tag: &str, mut scratch: TxScratch) {
        let Some((_guard, a, b)) = veth_pair(tag) else {
            return;
        };
        let tx = TxSocket::open(netdev_index(&a), 1).expect("transmit socket");
        let cfg = RingConfig {
            frame_nr: 64,
            ..RingConfig::default()
        };
        let mut rings = RxRing::open_group(netdev_index(&b), 1, &cfg).expect("receive ring");
        let ring = &mut rings[0];
        // An experimental ethertype keeps the host's own stacks out of it.
        let small = frame(60, 0x88b5, 1);
        let mut tagged = frame(120, 0x8100, 2);
        tagged[14..16].copy_from_slice(&0x0123u16.to_be_bytes());
        tagged[16..18].copy_from_slice(&0x88b5u16.to_be_bytes());
        // Bigger than a ring slot: comes through the socket's queue.
        let big = frame(5000, 0x88b5, 3);
        let sent = [small.clone(), big.clone(), tagged.clone(), big, small];
        // More than the ring holds, to go round it.
        let mut want = Vec::new();
        for _ in 0..30 {
            let pkts: Vec<Packet> = sent.iter().map(|f| Packet::from_frame(f)).collect();
            let out = tx.send_batch(&pkts, &mut scratch);
            assert_eq!(out.sent, 5, "{out:?}");
            want.extend(sent.iter().cloned());
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut got = Vec::new();
            let mut buf: Vec<Packet> = (0..8).map(|_| Packet::with_capacity(256, 64)).collect();
            while got.len() < 5 && Instant::now() < deadline {
                let n = ring.recv(&mut buf).expect("recv");
                // Keep ours (the host may send IPv6 solicitations too).
                got.extend(
                    buf[..n]
                        .iter()
                        .map(|p| p.data().to_vec())
                        .filter(|f| f.len() >= 18 && f[..6] == [0x02, 0, 0, 0, 0, 2]),
                );
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let expected = std::mem::take(&mut want);
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g.len(), e.len());
                assert!(g == e, "a frame of {} bytes changed on the way", e.len());
            }
        }
        assert_eq!(ring.take_drops(), 0);
    }

    fn netdev_index(name: &str) -> i32 {
        super::super::netdev::ifindex(name).expect("ifindex")
    }
}
