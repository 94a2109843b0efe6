//! One AF_XDP socket (XSK): its UMEM and its four rings, split into the
//! receive half (RX + fill, owned by one forwarding thread) and the
//! transmit half (TX + completion, shared behind a lock).
//!
//! # Shape
//!
//! Each socket has a UMEM of its own: [`RX_FRAMES`] chunks of
//! [`FRAME_SIZE`] bytes that circulate between the fill ring and the RX
//! ring, then [`TX_FRAMES`] chunks that circulate between a free list, the
//! TX ring and the completion ring. The two pools never mix, so the halves
//! need no coordination: a received frame is copied out into a
//! [`Packet`] and its chunk goes straight back to the fill ring; a frame to
//! send is copied into a free chunk that comes back through the completion
//! ring once the kernel is done with it.
//!
//! The rings are single-producer single-consumer queues in memory shared
//! with the kernel: a producer index, a consumer index, a flags word
//! (`XDP_RING_NEED_WAKEUP`) and a power-of-two array of descriptors. The
//! side that produces writes entries and then publishes the producer
//! index with release ordering; the side that consumes reads the producer
//! index with acquire ordering, reads the entries, then publishes its
//! consumer index. With `XDP_USE_NEED_WAKEUP` the kernel says when a
//! system call is needed to make progress; in copy mode transmission
//! itself happens in that call (`sendto`), so it is always made.
//!
//! All `unsafe` of this file is socket options, `mmap`/`munmap`, and
//! accesses to the shared rings and UMEM within the bounds the kernel
//! reported; each block says why it holds.

use super::super::netdev::socklen_of;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Bytes per UMEM chunk: one page, the most a frame can take through XDP
/// without multi-buffer support.
pub const FRAME_SIZE: u32 = 4096;
/// Chunks that circulate through the fill and RX rings.
pub const RX_FRAMES: u32 = 2048;
/// Chunks that circulate through the TX and completion rings.
pub const TX_FRAMES: u32 = 1024;
/// Headroom the kernel keeps in front of a received frame in a chunk
/// (`XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: u32 = 256;
/// The largest frame that can be received: a chunk less the headroom.
pub const MAX_RX_FRAME: u32 = FRAME_SIZE - XDP_PACKET_HEADROOM;
/// The largest frame that can be sent.
pub const MAX_TX_FRAME: u32 = FRAME_SIZE;

const DESC_SIZE: usize = std::mem::size_of::<libc::xdp_desc>();
const ADDR_SIZE: usize = std::mem::size_of::<u64>();

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `fd` is an open socket owned by the caller; `val` points to
    // an initialised `T` whose size is passed alongside.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            name,
            std::ptr::from_ref(val).cast(),
            socklen_of::<T>(),
        )
    })
    .map(drop)
}

/// A memory mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; which thread
// unmaps it does not matter.
unsafe impl Send for Mapping {}
// SAFETY: `Mapping` itself offers no access to the memory; its users
// synchronise their accesses (see `Ring` and the UMEM pools).
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(len: usize, fd: Option<RawFd>, offset: libc::off_t) -> io::Result<Mapping> {
        let (flags, fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd),
            None => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
            ),
        };
        // SAFETY: a fresh mapping at an address the kernel chooses; the
        // result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped only
        // here; no reference into the mapping outlives its owner.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// One of the four rings, as mapped from the socket.
struct Ring {
    /// Keeps the ring mapped; the pointers below point into it.
    _map: Mapping,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
    size: u32,
    /// Our side's index: the producer for fill and TX, the consumer for
    /// RX and completion.
    local: u32,
}

// SAFETY: the ring's memory is owned by its mapping; the raw pointers
// point into it and move with it. Only the one owner touches our side.
unsafe impl Send for Ring {}

impl Ring {
    fn open(
        fd: RawFd,
        off: &libc::xdp_ring_offset,
        size: u32,
        entry: usize,
        pgoff: u64,
        consumer_side: bool,
    ) -> io::Result<Ring> {
        let bad = || io::Error::other("the kernel reported bad ring offsets");
        let desc_off = usize::try_from(off.desc).map_err(|_| bad())?;
        let len = desc_off + size as usize * entry;
        let pgoff = libc::off_t::try_from(pgoff).map_err(|_| bad())?;
        let map = Mapping::new(len, Some(fd), pgoff)?;
        let at = |o: u64| -> io::Result<*mut u8> {
            let o = usize::try_from(o).map_err(|_| bad())?;
            if o + 4 > len || o % 4 != 0 {
                return Err(bad());
            }
            // SAFETY: `o + 4 <= len`: the word lies inside the mapping.
            Ok(unsafe { map.ptr.add(o) })
        };
        let producer = at(off.producer)?.cast::<AtomicU32>().cast_const();
        let consumer = at(off.consumer)?.cast::<AtomicU32>().cast_const();
        let flags = at(off.flags)?.cast::<AtomicU32>().cast_const();
        // SAFETY: `desc_off <= len` by construction of `len`.
        let desc = unsafe { map.ptr.add(desc_off) };
        let mut r = Ring {
            _map: map,
            producer,
            consumer,
            flags,
            desc,
            mask: size - 1,
            size,
            local: 0,
        };
        // Start from where the kernel's indices are (zero on a new socket).
        r.local = if consumer_side {
            r.consumer().load(Ordering::Relaxed)
        } else {
            r.producer().load(Ordering::Relaxed)
        };
        Ok(r)
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: a 4-aligned word inside the live mapping (checked at open),
        // shared with the kernel, which accesses it atomically too.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as for `producer`.
        let f = unsafe { &*self.flags };
        f.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// Entry slot `idx` (masked), `entry` bytes wide.
    fn slot(&self, idx: u32, entry: usize) -> *mut u8 {
        // SAFETY: `(idx & mask) < size`, so the slot lies inside the
        // descriptor array, which lies inside the mapping.
        unsafe { self.desc.add((idx & self.mask) as usize * entry) }
    }

    // --- producer side (fill, TX) ---

    /// Free slots.
    fn free(&self) -> u32 {
        let cons = self.consumer().load(Ordering::Acquire);
        self.size - self.local.wrapping_sub(cons)
    }

    fn publish(&self) {
        self.producer().store(self.local, Ordering::Release);
    }

    // --- consumer side (RX, completion) ---

    /// Entries ready to read.
    fn ready(&self) -> u32 {
        self.producer()
            .load(Ordering::Acquire)
            .wrapping_sub(self.local)
    }

    fn release(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.consumer().store(self.local, Ordering::Release);
    }
}

/// What the socket and both halves share: the descriptor and the UMEM.
pub struct XskCore {
    fd: OwnedFd,
    umem: Mapping,
    zero_copy: bool,
}

impl std::fmt::Debug for XskCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskCore")
            .field("fd", &self.fd.as_raw_fd())
            .field("zero_copy", &self.zero_copy)
            .finish_non_exhaustive()
    }
}

impl XskCore {
    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the driver moves frames in place (else the kernel copies).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Chunk bytes at `addr..addr + len`, when they lie inside one chunk
    /// of the pool `pool` (a range of chunk indices).
    fn chunk_range(&self, addr: u64, len: u32, pool: std::ops::Range<u32>) -> Option<usize> {
        let a = usize::try_from(addr).ok()?;
        let chunk = a / FRAME_SIZE as usize;
        let within = a % FRAME_SIZE as usize;
        let ok = u32::try_from(chunk).is_ok_and(|c| pool.contains(&c))
            && within + len as usize <= FRAME_SIZE as usize
            && a + len as usize <= self.umem.len;
        ok.then_some(a)
    }

    /// Sends what the TX ring holds (`sendto` with no data).
    fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length send on our own socket; no buffer is read.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Lets the kernel refill from the fill ring (`recvfrom` with no data).
    fn kick_rx(&self) {
        // SAFETY: a zero-length receive on our own socket; nothing is written.
        unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }

    /// The socket's statistics.
    pub fn statistics(&self) -> Option<libc::xdp_statistics> {
        // SAFETY: an all-zero xdp_statistics is a valid value of the type.
        let mut st: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        let mut len = socklen_of::<libc::xdp_statistics>();
        // SAFETY: `st`/`len` are valid for writes of the struct and its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                (&raw mut st).cast(),
                &raw mut len,
            )
        };
        (r == 0).then_some(st)
    }
}

/// The receive half: RX and fill rings.
pub struct XskRx {
    core: Arc<XskCore>,
    rx: Ring,
    fill: Ring,
}

impl std::fmt::Debug for XskRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskRx")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// The transmit half: TX and completion rings and the free chunks.
pub struct XskTx {
    core: Arc<XskCore>,
    tx: Ring,
    comp: Ring,
    free: Vec<u64>,
}

impl std::fmt::Debug for XskTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskTx")
            .field("core", &self.core)
            .field("free", &self.free.len())
            .finish_non_exhaustive()
    }
}

/// Opens a socket on queue `queue` of interface `ifindex`, zero-copy when
/// the driver can, else in copy mode.
pub fn open(ifindex: u32, queue: u32) -> io::Result<(XskRx, XskTx)> {
    match open_mode(ifindex, queue, true) {
        Ok(x) => Ok(x),
        Err(_) => open_mode(ifindex, queue, false),
    }
}

fn open_mode(ifindex: u32, queue: u32, zero_copy: bool) -> io::Result<(XskRx, XskTx)> {
    // SAFETY: plain system call; the result is checked before use.
    let raw = cvt(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let frames = RX_FRAMES + TX_FRAMES;
    let umem = Mapping::new((frames * FRAME_SIZE) as usize, None, 0)?;
    let reg = libc::xdp_umem_reg {
        addr: umem.ptr as u64,
        len: umem.len as u64,
        chunk_size: FRAME_SIZE,
        headroom: 0,
        flags: 0,
        tx_metadata_len: 0,
    };
    setsockopt(raw, libc::XDP_UMEM_REG, &reg)?;
    setsockopt(raw, libc::XDP_UMEM_FILL_RING, &RX_FRAMES)?;
    setsockopt(raw, libc::XDP_UMEM_COMPLETION_RING, &TX_FRAMES)?;
    setsockopt(raw, libc::XDP_RX_RING, &RX_FRAMES)?;
    setsockopt(raw, libc::XDP_TX_RING, &TX_FRAMES)?;
    // SAFETY: an all-zero xdp_mmap_offsets is a valid value of the type.
    let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
    let mut len = socklen_of::<libc::xdp_mmap_offsets>();
    // SAFETY: `off`/`len` are valid for writes of the struct and its size.
    cvt(unsafe {
        libc::getsockopt(
            raw,
            libc::SOL_XDP,
            libc::XDP_MMAP_OFFSETS,
            (&raw mut off).cast(),
            &raw mut len,
        )
    })?;
    if len != socklen_of::<libc::xdp_mmap_offsets>() {
        return Err(io::Error::other(
            "the kernel's AF_XDP ring layout has no flags word (Linux < 5.4)",
        ));
    }
    let rx_pg = u64::try_from(libc::XDP_PGOFF_RX_RING).unwrap_or(0);
    let tx_pg = u64::try_from(libc::XDP_PGOFF_TX_RING).unwrap_or(0);
    let rx = Ring::open(raw, &off.rx, RX_FRAMES, DESC_SIZE, rx_pg, true)?;
    let tx = Ring::open(raw, &off.tx, TX_FRAMES, DESC_SIZE, tx_pg, false)?;
    let mut fill = Ring::open(
        raw,
        &off.fr,
        RX_FRAMES,
        ADDR_SIZE,
        libc::XDP_UMEM_PGOFF_FILL_RING,
        false,
    )?;
    let comp = Ring::open(
        raw,
        &off.cr,
        TX_FRAMES,
        ADDR_SIZE,
        libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        true,
    )?;
    // Every receive chunk starts in the fill ring.
    for i in 0..RX_FRAMES {
        let slot = fill.slot(fill.local, ADDR_SIZE).cast::<u64>();
        // SAFETY: an 8-aligned slot of the fill ring (checked by `slot`),
        // which the kernel reads only after the producer index moves.
        unsafe { slot.write(u64::from(i) * u64::from(FRAME_SIZE)) };
        fill.local = fill.local.wrapping_add(1);
    }
    fill.publish();
    let mut flags = libc::XDP_USE_NEED_WAKEUP;
    flags |= if zero_copy {
        libc::XDP_ZEROCOPY
    } else {
        libc::XDP_COPY
    };
    let sa = libc::sockaddr_xdp {
        sxdp_family: u16::try_from(libc::AF_XDP).unwrap_or(44),
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: 0,
    };
    // SAFETY: `sa` is an initialised sockaddr_xdp whose size is passed alongside.
    cvt(unsafe {
        libc::bind(
            raw,
            (&raw const sa).cast(),
            socklen_of::<libc::sockaddr_xdp>(),
        )
    })?;
    let core = Arc::new(XskCore {
        fd,
        umem,
        zero_copy,
    });
    let free = (RX_FRAMES..frames)
        .rev()
        .map(|i| u64::from(i) * u64::from(FRAME_SIZE))
        .collect();
    Ok((
        XskRx {
            core: Arc::clone(&core),
            rx,
            fill,
        },
        XskTx {
            core,
            tx,
            comp,
            free,
        },
    ))
}

impl XskRx {
    /// The shared part.
    pub fn core(&self) -> &Arc<XskCore> {
        &self.core
    }

    /// Takes up to `max` received frames, calling `f` with each one's
    /// bytes, and gives their chunks back to the fill ring. Returns how
    /// many frames were taken (including ones `f` refused).
    pub fn recv(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let ready = self.rx.ready().min(u32::try_from(max).unwrap_or(u32::MAX));
        if ready == 0 {
            if self.fill.needs_wakeup() {
                self.core.kick_rx();
            }
            return 0;
        }
        for k in 0..ready {
            let idx = self.rx.local.wrapping_add(k);
            let slot = self.rx.slot(idx, DESC_SIZE).cast::<libc::xdp_desc>();
            // SAFETY: a slot of the RX ring below the producer index the
            // kernel published (acquire), so fully written and not touched
            // by the kernel until we move the consumer index.
            let d = unsafe { slot.read_unaligned() };
            if let Some(a) = self.core.chunk_range(d.addr, d.len, 0..RX_FRAMES) {
                // SAFETY: `a..a + len` lies inside one receive chunk of the
                // UMEM (checked), which the kernel handed to us with this
                // descriptor and does not write until the chunk is back in
                // the fill ring.
                let frame = unsafe {
                    std::slice::from_raw_parts(self.core.umem.ptr.add(a), d.len as usize)
                };
                f(frame);
            }
            // Give the chunk back at once: the frame has been copied out.
            let base = d.addr - d.addr % u64::from(FRAME_SIZE);
            let fs = self.fill.slot(self.fill.local, ADDR_SIZE).cast::<u64>();
            // SAFETY: an 8-aligned slot of the fill ring; there is room, as
            // every receive chunk is either in the fill ring, in the RX
            // ring, or this one, and the fill ring holds them all.
            unsafe { fs.write(base) };
            self.fill.local = self.fill.local.wrapping_add(1);
        }
        self.rx.release(ready);
        self.fill.publish();
        if self.fill.needs_wakeup() {
            self.core.kick_rx();
        }
        ready as usize
    }
}

impl AsFd for XskRx {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.core.fd.as_fd()
    }
}

/// Result of [`XskTx::send`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxResult {
    /// Frames queued for the kernel.
    pub queued: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames that did not fit (ring or chunks exhausted, too large).
    pub dropped: u64,
    /// The device is gone.
    pub gone: bool,
    /// The device is down: what was queued was discarded.
    pub down: bool,
}

impl XskTx {
    /// Takes back the chunks the kernel has finished sending.
    fn reap(&mut self) {
        let n = self.comp.ready();
        for k in 0..n {
            let slot = self
                .comp
                .slot(self.comp.local.wrapping_add(k), ADDR_SIZE)
                .cast::<u64>();
            // SAFETY: a slot of the completion ring below the published
            // producer index (acquire): written, and ours until released.
            let addr = unsafe { slot.read() };
            let base = addr - addr % u64::from(FRAME_SIZE);
            if self
                .core
                .chunk_range(base, 0, RX_FRAMES..RX_FRAMES + TX_FRAMES)
                .is_some()
                && self.free.len() < TX_FRAMES as usize
            {
                self.free.push(base);
            }
        }
        self.comp.release(n);
    }

    /// Sends each frame `frames` yields: copies it into a free chunk,
    /// queues it on the TX ring, then has the kernel send the ring.
    pub fn send<'a>(&mut self, frames: impl Iterator<Item = &'a [u8]>) -> TxResult {
        let mut out = TxResult::default();
        self.reap();
        let mut pending = 0u32;
        for frame in frames {
            if frame.len() > MAX_TX_FRAME as usize || frame.is_empty() {
                out.dropped += 1;
                continue;
            }
            if self.free.is_empty() || self.tx.free() == 0 {
                // Make room: send what is queued, take back what is done.
                if pending > 0 {
                    self.tx.publish();
                    pending = 0;
                    if let Some(r) = self.flush() {
                        out.gone |= r.gone;
                        out.down |= r.down;
                    }
                }
                self.reap();
                if self.free.is_empty() || self.tx.free() == 0 {
                    out.dropped += 1;
                    continue;
                }
            }
            let Some(addr) = self.free.pop() else {
                out.dropped += 1;
                continue;
            };
            let len = u32::try_from(frame.len()).unwrap_or(0);
            let Some(a) = self
                .core
                .chunk_range(addr, len, RX_FRAMES..RX_FRAMES + TX_FRAMES)
            else {
                out.dropped += 1;
                continue;
            };
            // SAFETY: `a..a + len` lies inside one transmit chunk (checked),
            // taken from the free list, so neither the kernel nor anyone
            // else uses it until it comes back through the completion ring.
            let dst =
                unsafe { std::slice::from_raw_parts_mut(self.core.umem.ptr.add(a), frame.len()) };
            dst.copy_from_slice(frame);
            let slot = self
                .tx
                .slot(self.tx.local, DESC_SIZE)
                .cast::<libc::xdp_desc>();
            // SAFETY: a free slot of the TX ring (checked above), which the
            // kernel reads only after the producer index moves.
            unsafe {
                slot.write_unaligned(libc::xdp_desc {
                    addr,
                    len,
                    options: 0,
                });
            }
            self.tx.local = self.tx.local.wrapping_add(1);
            pending += 1;
            out.queued += 1;
            out.bytes += u64::from(len);
        }
        if pending > 0 {
            self.tx.publish();
        }
        if out.queued > 0 {
            if let Some(r) = self.flush() {
                out.gone |= r.gone;
                out.down |= r.down;
            }
        }
        out
    }

    /// Has the kernel send the ring (a bounded number of system calls:
    /// copy mode sends a limited batch per call and says EAGAIN for the
    /// rest). Returns a result when the device is gone or down.
    fn flush(&mut self) -> Option<TxResult> {
        if self.core.zero_copy && !self.tx.needs_wakeup() {
            return None;
        }
        for _ in 0..64 {
            match self.core.kick_tx() {
                Ok(()) => {}
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::EINTR) => {}
                    Some(libc::ENXIO | libc::ENODEV) => {
                        return Some(TxResult {
                            gone: true,
                            ..TxResult::default()
                        })
                    }
                    Some(libc::ENETDOWN) => {
                        return Some(TxResult {
                            down: true,
                            ..TxResult::default()
                        })
                    }
                    _ => return None,
                },
            }
            // Done once the kernel has consumed every queued descriptor.
            if self.tx.free() == self.tx.size {
                return None;
            }
            self.reap();
        }
        None
    }
}
