//! Child mode `ringgen`: the packet generator that offers the most a
//! single sender core can, by writing whole Ethernet frames into an
//! AF_PACKET transmit ring (`PACKET_TX_RING`, TPACKET_V2) that bypasses the
//! qdisc layer, and handing each batch to the kernel with one `send`.
//!
//! A UDP socket's `sendmmsg` runs the sender's UDP and IP output and a
//! route and neighbour lookup for every datagram; this generator does none
//! of that per frame, so more of the sender's core is left for what the
//! device under test makes it do (on a veth, the sender's system call also
//! runs the device's receive side). The frames are the same 64-byte
//! IPv4/UDP frames as `rawgen`'s, sources spread the same way
//! ([`Spread`]), with the IPv4 checksum written here and no UDP checksum
//! (allowed on IPv4). The next hop's hardware address is learned the
//! ordinary way: one datagram through the kernel to a port nobody listens
//! on, then the neighbour table (`/proc/net/arp`), which also names the
//! interface to send on.

use super::traffic::{fill, Spread, PACKET};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const TPACKET_V2: libc::c_int = 1;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
/// Slot size: the 32-byte TPACKET_V2 header and a 60-byte frame.
const FRAME_SIZE: usize = 128;
const BLOCK_SIZE: usize = 4096;
const FRAME_NR: usize = 4096;
/// Where a slot's frame starts (the aligned header).
const DATA_OFFSET: usize = 32;
/// Ethernet header and the IPv4/UDP packet of a 64-byte frame (FCS aside).
const FRAME: usize = 14 + PACKET;
/// Slots requested per `send` at most.
const BATCH: usize = 256;

/// The next hop towards `dst`: (its hardware address, the interface).
fn resolve(dst: Ipv4Addr, port: u16) -> Result<([u8; 6], String), String> {
    let probe = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| format!("probe socket: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        // To a port next to the sink's: nobody counts it.
        let _ = probe.send_to(b"arp", (dst, port.wrapping_add(1)));
        std::thread::sleep(Duration::from_millis(100));
        let table = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 || f[0] != dst.to_string() || f[2] != "0x2" {
                continue;
            }
            let mut mac = [0u8; 6];
            let parts: Vec<u8> = f[3]
                .split(':')
                .filter_map(|h| u8::from_str_radix(h, 16).ok())
                .collect();
            if parts.len() == 6 {
                mac.copy_from_slice(&parts);
                return Ok((mac, f[5].to_string()));
            }
        }
    }
    Err(format!("no neighbour entry for {dst} after 3 s"))
}

fn sysfs_mac(dev: &str) -> Result<[u8; 6], String> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{dev}/address"))
        .map_err(|e| format!("{dev}: {e}"))?;
    let parts: Vec<u8> = s
        .trim()
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    <[u8; 6]>::try_from(parts.as_slice()).map_err(|_| format!("{dev}: bad address {s:?}"))
}

/// The IPv4 header checksum of `hdr` (20 bytes, checksum field zero).
fn ip_checksum(hdr: &[u8]) -> u16 {
    let mut sum: u32 = hdr
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0)
}

/// Writes the frame of source `src` into `f`.
fn write_frame(f: &mut [u8], eth: &[u8; 14], src: ([u8; 4], u16), dst: Ipv4Addr, dport: u16) {
    f[..14].copy_from_slice(eth);
    fill(&mut f[14..FRAME], src, dst, dport);
    let ck = ip_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
}

/// Slot `i` of the ring at `base` (slots are `FRAME_SIZE` apart: blocks
/// are whole multiples of slots).
fn slot(base: *mut u8, i: usize) -> *mut u8 {
    // SAFETY: `i % FRAME_NR` names a slot inside the mapping at `base`.
    unsafe { base.add((i % FRAME_NR) * FRAME_SIZE) }
}

/// The status word of slot `i`, shared with the kernel.
fn status<'a>(base: *mut u8, i: usize) -> &'a AtomicU32 {
    // SAFETY: the 4-aligned first word of a slot of a mapping that outlives
    // every use (the caller's `Map`).
    unsafe { &*slot(base, i).cast::<AtomicU32>() }
}

/// The frame area of slot `i`, which the caller owns (status AVAILABLE).
fn frame<'a>(base: *mut u8, i: usize) -> &'a mut [u8] {
    // SAFETY: inside the slot; used for one write, not kept.
    unsafe { std::slice::from_raw_parts_mut(slot(base, i).add(DATA_OFFSET), FRAME) }
}

/// Rewrites only what differs between sources in a frame [`write_frame`]
/// wrote: the source address and port, and the IPv4 checksum.
fn set_source(f: &mut [u8], src: ([u8; 4], u16)) {
    f[26..30].copy_from_slice(&src.0);
    f[34..36].copy_from_slice(&src.1.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let ck = ip_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
}

/// An owned mmap of the ring.
struct Map(*mut u8, usize);

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: exactly what mmap returned, unmapped once.
        unsafe { libc::munmap(self.0.cast(), self.1) };
    }
}

fn setopt(fd: libc::c_int, name: libc::c_int, val: &impl Sized) -> Result<(), String> {
    // SAFETY: `val` is a live value whose size is passed alongside.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            std::ptr::from_ref(val).cast(),
            libc::socklen_t::try_from(std::mem::size_of_val(val)).unwrap_or(0),
        )
    };
    if r < 0 {
        Err(format!(
            "packet option {name}: {}",
            std::io::Error::last_os_error()
        ))
    } else {
        Ok(())
    }
}

/// Child mode `ringgen --dst IP --port P --secs S --tuples K|new`: like
/// `rawgen`, through a transmit ring; prints `tx COUNT`.
pub(crate) fn child_ringgen(args: &[String]) -> Result<(), String> {
    let dst: Ipv4Addr = super::child_arg(args, "--dst")?;
    let dport: u16 = super::child_arg(args, "--port")?;
    let secs: f64 = super::child_arg(args, "--secs")?;
    let tuples: String = super::child_arg(args, "--tuples")?;
    let spread = Spread::parse(&tuples).ok_or("--tuples: expected 1 to 10000000 or `new`")?;
    let (dmac, dev) = resolve(dst, dport)?;
    let smac = sysfs_mac(&dev)?;
    let ifindex = std::ffi::CString::new(dev.clone())
        .ok()
        // SAFETY: a NUL-terminated name, read only.
        .map(|c| unsafe { libc::if_nametoindex(c.as_ptr()) })
        .filter(|&i| i != 0)
        .ok_or_else(|| format!("{dev}: no such interface"))?;
    let mut eth = [0u8; 14];
    eth[..6].copy_from_slice(&dmac);
    eth[6..12].copy_from_slice(&smac);
    eth[12..14].copy_from_slice(&0x0800u16.to_be_bytes());

    // SAFETY: plain system call; checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "packet socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is ours; closed when this guard drops.
    let _fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    setopt(fd, libc::PACKET_VERSION, &TPACKET_V2)?;
    setopt(fd, libc::PACKET_QDISC_BYPASS, &1i32)?;
    setopt(fd, libc::PACKET_LOSS, &1i32)?;
    let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let req = libc::tpacket_req {
        tp_block_size: u(BLOCK_SIZE),
        tp_block_nr: u(FRAME_NR * FRAME_SIZE / BLOCK_SIZE),
        tp_frame_size: u(FRAME_SIZE),
        tp_frame_nr: u(FRAME_NR),
    };
    setopt(fd, libc::PACKET_TX_RING, &req)?;
    let len = FRAME_NR * FRAME_SIZE;
    // SAFETY: maps the ring just configured, with its exact size.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    let map = Map(p.cast(), len);
    // SAFETY: an all-zero sockaddr_ll is valid; bind reads its size.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(17);
    sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    // SAFETY: `sll` is initialised and its size passed alongside.
    let r = unsafe {
        libc::bind(
            fd,
            (&raw const sll).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(0),
        )
    };
    if r < 0 {
        return Err(format!("bind {dev}: {}", std::io::Error::last_os_error()));
    }
    let base = map.0;
    let fixed = matches!(spread, Spread::Cycle(1));
    for i in 0..FRAME_NR {
        write_frame(frame(base, i), &eth, spread.source(0), dst, dport);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let (mut head, mut pending, mut next, mut sent) = (0usize, 0usize, 0u64, 0u64);
    while Instant::now() < deadline && !super::stopped() {
        let mut asked = 0;
        while asked < BATCH
            && pending < FRAME_NR
            && status(base, head).load(Ordering::Acquire) == TP_STATUS_AVAILABLE
        {
            if !fixed {
                set_source(frame(base, head), spread.source(next));
            }
            // SAFETY: `tp_len` (u32 at offset 4) of a slot we own.
            unsafe {
                slot(base, head)
                    .add(4)
                    .cast::<u32>()
                    .write_unaligned(u32::try_from(FRAME).unwrap_or(0));
            }
            status(base, head).store(TP_STATUS_SEND_REQUEST, Ordering::Release);
            head += 1;
            pending += 1;
            next += 1;
            asked += 1;
        }
        // SAFETY: a send of no bytes on our socket: the kernel sends the
        // requested slots of the ring it shares with us.
        unsafe { libc::send(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        let oldest = head - pending;
        let mut went = 0;
        while went < pending
            && status(base, oldest + went).load(Ordering::Acquire) != TP_STATUS_SEND_REQUEST
        {
            went += 1;
        }
        pending -= went;
        sent += went as u64;
        if asked == 0 && went == 0 {
            // Every slot in flight: let the receiving side run.
            std::thread::yield_now();
        }
    }
    println!("tx {sent}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_checksum_is_the_ones_complement_sum_of_the_header() {
        // A header whose checksum is known: 0xb861.
        let hdr: [u8; 20] = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ip_checksum(&hdr), 0xb861);
    }

    #[test]
    fn a_frame_is_ethernet_then_a_checksummed_ipv4_udp_packet_of_64_bytes_on_the_wire() {
        let mut eth = [0u8; 14];
        eth[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        eth[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        eth[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut f = vec![0u8; FRAME];
        write_frame(
            &mut f,
            &eth,
            ([198, 18, 4, 1], 1024),
            Ipv4Addr::new(198, 18, 0, 2),
            9000,
        );
        assert_eq!(FRAME + 4, 64);
        assert_eq!(&f[..14], &eth);
        assert_eq!(f[14], 0x45);
        assert_eq!(&f[26..30], &[198, 18, 4, 1]);
        assert_eq!(&f[30..34], &[198, 18, 0, 2]);
        assert_eq!(u16::from_be_bytes([f[36], f[37]]), 9000);
        // A header with its checksum in place sums to zero.
        assert_eq!(ip_checksum(&f[14..34]), 0);
        let mut g = vec![0u8; FRAME];
        write_frame(
            &mut g,
            &eth,
            ([198, 19, 7, 8], 4242),
            Ipv4Addr::new(198, 18, 0, 2),
            9000,
        );
        set_source(&mut f, ([198, 19, 7, 8], 4242));
        assert_eq!(f, g);
    }
}
