//! Allocation counting and frame helpers shared by the benchmarks.
//!
//! A benchmark binary installs [`CountingAlloc`] as its global allocator and
//! reads [`allocations`] around the code it measures, so the hit paths can be
//! shown (and asserted) to allocate nothing per packet. The counter is one
//! relaxed atomic increment per allocation: cheap enough to leave in while
//! timing, and it counts every thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

/// A global allocator that forwards to the system allocator and counts
/// allocations (reallocations included) and their bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are kept; the counters have no effect
// on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for
        // `layout`, which is what `System::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`,
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr`/`layout` come from this allocator (so from `System`)
        // and `new_size` is valid, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations so far (all threads), when [`CountingAlloc`] is the global
/// allocator.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Bytes allocated so far (all threads).
pub fn allocated_bytes() -> u64 {
    ALLOCATED_BYTES.load(Ordering::Relaxed)
}

/// Runs `f` and returns its result with the number of allocations it made.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations();
    let r = f();
    (r, allocations() - before)
}

/// The Internet checksum of `data` (odd tail padded with zero).
fn inet_checksum(initial: u32, data: &[u8]) -> u16 {
    let mut s = initial;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        s += u32::from(*b) << 8;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !u16::try_from(s).unwrap_or(0)
}

/// A 64-byte Ethernet/IPv4/UDP frame with valid checksums (42 bytes of
/// headers, 22 of zero payload).
pub fn udp_frame(src_ip: u32, dst_ip: u32, src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len: u16 = 64 - 14;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&src_ip.to_be_bytes());
    f[30..34].copy_from_slice(&dst_ip.to_be_bytes());
    let c = inet_checksum(0, &f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let udp_len = ip_len - 20;
    f[34..36].copy_from_slice(&src_port.to_be_bytes());
    f[36..38].copy_from_slice(&dst_port.to_be_bytes());
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    let pseudo = [&f[26..34], &[0, 17], &udp_len.to_be_bytes()[..]].concat();
    let mut sum = 0u32;
    for c in pseudo.chunks_exact(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    let mut c = inet_checksum(sum, &f[34..64]);
    if c == 0 {
        c = 0xffff;
    }
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_frame_is_64_bytes_with_valid_checksums() {
        let f = udp_frame(0x0a00_0001, 0x0a00_0002, 1000, 2000);
        assert_eq!(f.len(), 64);
        assert_eq!(inet_checksum(0, &f[14..34]), 0);
        let pseudo = [&f[26..34], &[0, 17], &[0, 30][..]].concat();
        let mut sum = 0u32;
        for c in pseudo.chunks_exact(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        assert_eq!(inet_checksum(sum, &f[34..64]), 0);
    }

    #[test]
    fn count_allocations_sees_nothing_without_the_global_allocator() {
        // This test binary uses the system allocator directly, so the
        // counter stays put even though the closure allocates.
        let (v, n) = count_allocations(|| vec![1u8; 16]);
        assert_eq!(v.len(), 16);
        assert_eq!(n, 0);
    }
}
