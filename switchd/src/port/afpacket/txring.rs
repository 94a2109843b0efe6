//! A TPACKET_V2 transmit ring (`PACKET_TX_RING`): one per forwarding
//! thread and system port, so that a thread hands a whole batch to the
//! kernel with one `send` and no per-frame message headers, iovec imports
//! or user copies.
//!
//! # Why
//!
//! `sendmmsg` costs, per frame, a message header and iovec import, a
//! hardened copy from user memory and a scheduling point (the kernel calls
//! `cond_resched` between messages). On a veth the transmit call also runs
//! the receiver's softirq and wakes the receiving task, which then
//! preempts the sender at that scheduling point: a context switch every
//! few frames. The ring's `send` walks every requested slot in one pass
//! with none of that, so the receiver is woken once per batch at most.
//!
//! # Protocol
//!
//! Slots are filled in ring order from where the kernel will look next:
//! write the frame after the slot header, its length, then the status
//! `TP_STATUS_SEND_REQUEST` (release); [`TxRing::kick`] makes the kernel
//! send every requested slot from its head on and reads back which went
//! (`SENDING` or `AVAILABLE` again). Only this ring's owner sends on its
//! socket, and the kernel reads requested slots only inside that `send`,
//! so slots the kernel did not take can be handed back (`AVAILABLE`) and
//! refilled. A frame is copied whole into the socket buffer's linear part
//! (the virtio-net header's `hdr_len` says the whole frame for frames
//! without GSO): nothing of the slot stays referenced after the `send`, so
//! the slot is free for reuse however long the receiver keeps the packet.
//! `PACKET_LOSS` makes the kernel skip a malformed slot instead of stopping
//! the ring at it.

use super::{bind, map_ring, packet_socket, setsockopt, TPACKET_V2};
use super::{wait_writable, SendOutcome, H_STATUS, TPACKET2_HDR_SIZE};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
/// Offset of `tp_len` in `struct tpacket2_hdr`.
const H_LEN: usize = 4;
/// Where a slot's data starts: `TPACKET2_HDRLEN - sizeof(sockaddr_ll)`,
/// the aligned header (the kernel's default without `PACKET_TX_HAS_OFF`).
const DATA_OFFSET: usize = TPACKET2_HDR_SIZE;
/// Bytes per slot: the header and a full-size Ethernet frame (with a VLAN
/// tag and the virtio-net header) fit; larger frames go by `sendmmsg`.
pub const TX_FRAME_SIZE: usize = 2048;
/// Slots per ring.
pub const TX_FRAME_NR: usize = 256;
/// Bytes per block the kernel allocates the ring in.
const TX_BLOCK_SIZE: usize = 64 * 1024;
// A slot holds a tagged full-size frame with its virtio-net header, and
// blocks are whole multiples of slots (the kernel's rule for the ring).
const _: () = assert!(TX_FRAME_SIZE - DATA_OFFSET >= 10 + 1518);
const _: () =
    assert!(TX_BLOCK_SIZE.is_multiple_of(TX_FRAME_SIZE) && TX_FRAME_SIZE.is_multiple_of(16));
/// Offset of `hdr_len` in the virtio-net header, and of `gso_type`.
const VNET_HDR_LEN_OFF: usize = 2;
const VNET_GSO_TYPE_OFF: usize = 1;

/// One transmit ring and its socket.
pub struct TxRing {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    frame_nr: usize,
    /// Whether slots begin with a virtio-net header.
    vnet: bool,
    /// Next slot to fill.
    head: usize,
    /// Frame bytes of the slots filled and not yet sent, oldest first (the
    /// oldest is `head - pending.len()`).
    pending: Vec<usize>,
}

// SAFETY: the mapping is owned by this value alone (shared with the kernel,
// but no other userspace reference exists); moving the value moves that
// ownership.
unsafe impl Send for TxRing {}

impl std::fmt::Debug for TxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRing")
            .field("fd", &self.fd.as_raw_fd())
            .field("slots", &self.frame_nr)
            .field("head", &self.head)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are exactly what mmap returned, unmapped
        // only here; no reference into the mapping outlives `self`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

impl TxRing {
    /// Opens a transmit ring of `frame_nr` slots on interface `ifindex`,
    /// with virtio-net headers when `vnet` (as the port's other sockets).
    pub fn open(ifindex: i32, frame_nr: usize, vnet: bool) -> io::Result<TxRing> {
        let per_block = TX_BLOCK_SIZE / TX_FRAME_SIZE;
        let block_nr = frame_nr.max(1).div_ceil(per_block);
        let frame_nr = block_nr * per_block;
        let fd = packet_socket()?;
        let raw = fd.as_raw_fd();
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V2)?;
        if vnet {
            setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1i32)?;
        }
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_LOSS, &1i32)?;
        let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &1i32);
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &(8i32 << 20));
        let (map, map_len) = map_ring(
            raw,
            libc::PACKET_TX_RING,
            TX_BLOCK_SIZE,
            block_nr,
            TX_FRAME_SIZE,
            frame_nr,
        )?;
        let ring = TxRing {
            fd,
            map,
            map_len,
            frame_nr,
            vnet,
            head: 0,
            pending: Vec::with_capacity(frame_nr),
        };
        bind(raw, ifindex, 0)?;
        Ok(ring)
    }

    /// The largest message (virtio-net header included) a slot holds.
    pub fn slot_capacity(&self) -> usize {
        TX_FRAME_SIZE - DATA_OFFSET
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // Blocks are whole multiples of the slot size and contiguous in the
        // mapping, so slot `i` starts at `i * TX_FRAME_SIZE`.
        // SAFETY: `i < frame_nr`, so the slot lies inside the mapping.
        unsafe { self.map.add((i % self.frame_nr) * TX_FRAME_SIZE) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word is the 4-aligned first u32 of a slot of
        // this mapping, which lives as long as `self`; the kernel updates it
        // concurrently, hence the atomic.
        unsafe { &*self.slot(i).add(H_STATUS).cast::<AtomicU32>() }
    }

    fn oldest(&self) -> usize {
        (self.head + self.frame_nr - self.pending.len()) % self.frame_nr
    }

    /// Queues one message made of `parts` (the virtio-net header first when
    /// the ring has them), `frame_bytes` of it the frame. `false` when the
    /// next slot is not free (in flight, or every slot queued) or the
    /// message does not fit a slot: the caller kicks or sends it another way.
    pub fn push(&mut self, parts: &[libc::iovec], frame_bytes: usize) -> bool {
        let total: usize = parts.iter().map(|v| v.iov_len).sum();
        if total > self.slot_capacity()
            || self.pending.len() == self.frame_nr
            || self.status(self.head).load(Ordering::Acquire) != TP_STATUS_AVAILABLE
        {
            return false;
        }
        let slot = self.slot(self.head);
        let mut off = DATA_OFFSET;
        for v in parts {
            // SAFETY: each iovec points to `iov_len` readable bytes (the
            // caller's packets and scratch, alive for this call); the
            // destination lies inside this free slot (`total` fits).
            unsafe {
                std::ptr::copy_nonoverlapping(v.iov_base.cast::<u8>(), slot.add(off), v.iov_len);
            }
            off += v.iov_len;
        }
        if self.vnet {
            // SAFETY: the slot holds at least the 10-byte header written
            // just above.
            unsafe {
                let hdr = slot.add(DATA_OFFSET);
                if hdr.add(VNET_GSO_TYPE_OFF).read() == 0 {
                    // No GSO: the whole frame goes to the linear part.
                    let len = u16::try_from(frame_bytes).unwrap_or(u16::MAX);
                    hdr.add(VNET_HDR_LEN_OFF)
                        .cast::<u16>()
                        .write_unaligned(len.to_le());
                }
            }
        }
        let len = u32::try_from(total).unwrap_or(u32::MAX);
        // SAFETY: `tp_len` is a u32 of this slot's header, not read by the
        // kernel until the status below says so.
        unsafe { slot.add(H_LEN).cast::<u32>().write_unaligned(len) };
        self.status(self.head)
            .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = (self.head + 1) % self.frame_nr;
        self.pending.push(frame_bytes);
        true
    }

    /// Has the kernel send every queued slot, counting into `out` what went;
    /// retries briefly while the socket's buffer is full, then gives the
    /// slots it could not send back (dropped, or errors if the device is
    /// gone).
    pub fn kick(&mut self, out: &mut SendOutcome) {
        let mut tries = 0;
        while !self.pending.is_empty() {
            // SAFETY: a send of no bytes on our socket; the kernel reads the
            // requested slots of the ring it owns with us.
            let r =
                unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
            let err = (r < 0).then(io::Error::last_os_error);
            self.reap(out);
            if self.pending.is_empty() {
                return;
            }
            match err.and_then(|e| e.raw_os_error()) {
                Some(libc::EINTR) => {}
                None | Some(libc::EAGAIN | libc::ENOBUFS) if tries < 3 => {
                    tries += 1;
                    wait_writable(self.fd.as_raw_fd(), 1);
                }
                Some(libc::ENXIO | libc::ENODEV) => {
                    out.gone = true;
                    out.errors += self.pending.len() as u64;
                    self.give_back();
                }
                _ => {
                    out.dropped += self.pending.len() as u64;
                    self.give_back();
                }
            }
        }
    }

    /// Counts the queued slots the kernel took (in order: it stops at the
    /// first it cannot send).
    fn reap(&mut self, out: &mut SendOutcome) {
        let first = self.oldest();
        let mut went = 0;
        while went < self.pending.len()
            && self.status(first + went).load(Ordering::Acquire) != TP_STATUS_SEND_REQUEST
        {
            went += 1;
        }
        for b in self.pending.drain(..went) {
            out.sent += 1;
            out.bytes += b as u64;
        }
    }

    /// Hands the unsent slots back as free; the next push refills the first
    /// of them, which is where the kernel will look next.
    fn give_back(&mut self) {
        let first = self.oldest();
        for k in 0..self.pending.len() {
            self.status(first + k)
                .store(TP_STATUS_AVAILABLE, Ordering::Release);
        }
        self.head = first;
        self.pending.clear();
    }
}
