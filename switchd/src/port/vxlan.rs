//! VXLAN tunnel ports (RFC 7348): a port whose "wire" is UDP to a remote
//! tunnel endpoint. Frames output to the port are encapsulated (VXLAN
//! header + inner Ethernet frame as the UDP payload); datagrams received
//! from the remote are decapsulated and enter the bridge on the port with
//! their tunnel metadata (`tunnel_id`, `tun_ipv4_src`/`dst`, `tun_tp_dst`)
//! set, so flows can match them.
//!
//! # Underlay: kernel UDP sockets
//!
//! The switch does not build outer Ethernet/IPv4 headers itself: it sends
//! and receives the VXLAN payload through ordinary kernel UDP sockets. The
//! kernel picks the route and the next hop, resolves ARP, applies qdiscs
//! (netem included), and fragments and reassembles the outer packet, so a
//! tunnel works over any underlay the host can reach, with no raw-socket
//! plumbing. What would make that slow — a system call and a trip through
//! the UDP stack per datagram — is batched away:
//!
//! - **Receive.** One socket per local endpoint (`local_ip:dst_port`) is
//!   shared by every VXLAN port of the process that uses that endpoint. A
//!   receiver thread reads it with `recvmmsg`, up to [`RX_BATCH`]
//!   datagrams a call, with `UDP_GRO` on: a train of datagrams the sender
//!   passed as one GSO buffer (or the kernel coalesced) arrives as one
//!   buffer plus its segment size, and is cut here. Each datagram goes to a
//!   port by the sender's IP and the VNI: a port with `key=N` takes VNI N
//!   from its `remote_ip`; a port with `key=flow` takes any other VNI from
//!   it. Unmatched datagrams are counted and dropped. Each port has an
//!   inbox (a bounded queue plus an eventfd its forwarding thread polls);
//!   the datagrams of one call that go to one port enter it under one lock
//!   and one wake-up. Consecutive inner TCP segments of one flow are
//!   coalesced on the way into one GSO frame (receive-side GRO, with the
//!   kernel's rules: contiguous, alike, checksums verified; see `Train`),
//!   so the pipeline sees one packet and a port with offloads sends one
//!   TSO frame, as on a plain port.
//! - **Transmit.** A small pool of sockets bound to `local_ip` on
//!   ephemeral ports; the inner flow's hash picks one, which is how the
//!   outer UDP source port follows the inner flow (RFC 7348 §5 asks for
//!   that, for ECMP in the underlay). Destination: `remote_ip:dst_port`.
//!   The VNI is the packet's `tunnel_id` for `key=flow` (set by a flow's
//!   `set_field`), the configured one otherwise. Offloaded inner frames
//!   (GSO, partial checksums) are finished in software first. A batch is
//!   sent with one `sendmmsg` per socket it uses, the VXLAN header and the
//!   inner frame gathered from where they lie (no copy of the frame). Runs
//!   of equal-sized datagrams of one flow — the segments of a TCP
//!   super-frame, a stream of same-sized UDP — go as one message with
//!   `UDP_SEGMENT` (UDP GSO, at most 64 a message): the kernel cuts it
//!   into datagrams at the device, or passes it whole to a receiver with
//!   `UDP_GRO`. A GSO train is only formed when each datagram fits the
//!   underlay MTU (the route's, read when the port opens); should the
//!   kernel refuse one anyway (a smaller path MTU, a device that cannot
//!   checksum), its datagrams are sent one by one and the port stops
//!   forming trains of that size (any size for EIO).
//!
//! # MTU
//!
//! The outer packet is the inner frame plus 50 bytes. When that exceeds
//! the underlay MTU the kernel fragments the outer UDP datagram and the
//! far end reassembles it (what Linux does for UDP sockets with path-MTU
//! discovery left at its default), so nothing is dropped for size; setting
//! the inner MTU to the underlay MTU − 50 (1450 on a 1500-byte underlay,
//! e.g. `attach-container --mtu 1450`) avoids the fragmentation cost.

use super::{offload, SendOutcome, TxScratch};
use datapath::buffer::{OffloadMeta, Packet, TunnelMeta, DEFAULT_HEADROOM};
use datapath::flow::tun_flags;
use datapath::packet::checksum as csum;
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// The IANA VXLAN UDP port.
pub const DEFAULT_DST_PORT: u16 = 4789;
/// Length of the VXLAN header.
const VXLAN_HLEN: usize = 8;
/// The "VNI is valid" flag of the VXLAN header's first byte.
const FLAG_I: u8 = 0x08;
/// Transmit sockets per endpoint (distinct outer source ports).
const TX_SOCKETS: usize = 8;
/// Frames an inbox holds before it drops.
const INBOX_MAX: usize = 4096;
/// How long a receiver waits before checking whether it is still needed.
const RX_POLL: Duration = Duration::from_millis(200);
/// Datagrams one receive call takes.
pub const RX_BATCH: usize = 32;
/// The receive buffer of one datagram (or of one GRO train).
const RX_BUF: usize = 65_536;
/// Receive socket buffer asked for (bursts of a fast sender).
const RX_SOCKET_BUFFER: libc::c_int = 8 << 20;
/// The most datagrams of one `UDP_SEGMENT` message (the kernel's
/// `UDP_MAX_SEGMENTS`).
const GSO_MAX_SEGS: usize = 64;
/// The most UDP payload bytes of one message (65535 − IPv4 − UDP).
const GSO_MAX_BYTES: usize = 65_507;
/// Outer IPv4 + UDP header bytes.
const OUTER_IP_UDP: usize = 28;
/// The underlay MTU assumed when the route's cannot be read.
const DEFAULT_UNDERLAY_MTU: usize = 1500;
/// The largest VNI.
const VNI_MAX: u32 = 0x00ff_ffff;

/// Where a port's VNI comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VxlanKey {
    /// Always this VNI, both ways.
    Fixed(u32),
    /// The packet's `tunnel_id` on output; any VNI on input.
    Flow,
}

/// The settings of one VXLAN port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VxlanConfig {
    /// The far tunnel endpoint.
    pub remote_ip: Ipv4Addr,
    /// The local address to bind (any address when unset).
    pub local_ip: Option<Ipv4Addr>,
    /// The VNI.
    pub key: VxlanKey,
    /// UDP destination port (and the local port received on).
    pub dst_port: u16,
}

/// The option names a VXLAN port takes.
pub const OPTION_NAMES: &str = "remote_ip, local_ip, key, dst_port";

impl VxlanConfig {
    /// Reads the options of a `vxlan` port (`remote_ip` required; `key`
    /// a VNI or `flow`, default 0; `local_ip`; `dst_port`, default 4789);
    /// the error names the option and the reason.
    pub fn from_options(opts: &BTreeMap<String, String>) -> Result<VxlanConfig, String> {
        let mut remote_ip = None;
        let mut local_ip = None;
        let mut key = VxlanKey::Fixed(0);
        let mut dst_port = DEFAULT_DST_PORT;
        for (k, v) in opts {
            match k.as_str() {
                "remote_ip" => remote_ip = Some(parse_ipv4("remote_ip", v)?),
                "local_ip" => local_ip = Some(parse_ipv4("local_ip", v)?),
                "key" => {
                    key =
                        if v == "flow" {
                            VxlanKey::Flow
                        } else {
                            let n = v.parse::<u32>().ok().filter(|n| *n <= VNI_MAX).ok_or_else(
                                || {
                                    format!(
                                        "key: \"{}\" is not a VNI (0-{VNI_MAX}) or \"flow\"",
                                        v.escape_debug()
                                    )
                                },
                            )?;
                            VxlanKey::Fixed(n)
                        }
                }
                "dst_port" => {
                    dst_port = v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                        format!("dst_port: \"{}\" is not a UDP port", v.escape_debug())
                    })?;
                }
                other => {
                    return Err(format!(
                        "option \"{}\" is not a vxlan option ({OPTION_NAMES})",
                        other.escape_debug()
                    ))
                }
            }
        }
        let remote_ip = remote_ip.ok_or("remote_ip: a vxlan port needs remote_ip")?;
        if remote_ip.is_unspecified() || remote_ip.is_multicast() || remote_ip.is_broadcast() {
            return Err(format!("remote_ip: {remote_ip} is not a unicast address"));
        }
        Ok(VxlanConfig {
            remote_ip,
            local_ip,
            key,
            dst_port,
        })
    }

    fn local_endpoint(&self) -> SocketAddrV4 {
        SocketAddrV4::new(
            self.local_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            self.dst_port,
        )
    }
}

fn parse_ipv4(name: &str, v: &str) -> Result<Ipv4Addr, String> {
    v.parse::<Ipv4Addr>()
        .map_err(|_| format!("{name}: \"{}\" is not an IPv4 address", v.escape_debug()))
}

/// A decapsulated frame: the inner frame, the tunnel it came through, and
/// its offloads (a coalesced TCP train is one GSO frame).
#[derive(Debug)]
struct Decapped {
    frame: Vec<u8>,
    tunnel: TunnelMeta,
    offload: OffloadMeta,
}

/// Decapsulated frames waiting for the forwarding thread that serves a port.
#[derive(Debug)]
struct Inbox {
    queue: Mutex<VecDeque<Decapped>>,
    wake: EventFd,
    dropped: AtomicU64,
    /// Set when the receive side is gone (the port was removed).
    closed: AtomicBool,
}

impl Inbox {
    /// Appends `frames` (emptying it) under one lock; wakes the reader
    /// once if the queue was empty.
    fn push_all(&self, frames: &mut Vec<Decapped>) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = q.is_empty();
        for f in frames.drain(..) {
            if q.len() >= INBOX_MAX {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                q.push_back(f);
            }
        }
        let now_empty = q.is_empty();
        drop(q);
        if was_empty && !now_empty {
            let _ = self.wake.write(1);
        }
    }
}

/// One port registered on an endpoint.
#[derive(Debug)]
struct Member {
    id: u64,
    remote: Ipv4Addr,
    key: VxlanKey,
    inbox: Arc<Inbox>,
}

/// A local endpoint (`local_ip:dst_port`): its sockets and its ports.
#[derive(Debug)]
struct Endpoint {
    local: SocketAddrV4,
    rx: UdpSocket,
    tx: Vec<UdpSocket>,
    members: Mutex<Vec<Member>>,
    /// Datagrams no port took (unknown sender or VNI, not VXLAN).
    unmatched: AtomicU64,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // Wakes the receiver, which then finds the endpoint gone and exits.
        let _ = nix::sys::socket::shutdown(self.rx.as_raw_fd(), nix::sys::socket::Shutdown::Read);
    }
}

/// The endpoints of this process, so ports sharing one share its socket.
static ENDPOINTS: Mutex<Vec<(SocketAddrV4, Weak<Endpoint>)>> = Mutex::new(Vec::new());
static NEXT_MEMBER: AtomicU64 = AtomicU64::new(1);

fn bind_retrying(addr: SocketAddrV4) -> io::Result<UdpSocket> {
    // A receiver of an endpoint that just went away may hold the port for
    // a moment (until it wakes and closes its socket).
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match UdpSocket::bind(addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

/// Sets an `int` socket option; whether the kernel took it.
fn set_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> bool {
    // SAFETY: `v` is a live int of the length given; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const v).cast(),
            socklen_of::<libc::c_int>(),
        )
    };
    r == 0
}

fn socklen_of<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

impl Endpoint {
    fn get(local: SocketAddrV4) -> io::Result<Arc<Endpoint>> {
        let mut all = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|(_, w)| w.strong_count() > 0);
        if let Some(ep) = all
            .iter()
            .find(|(a, _)| *a == local)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(ep);
        }
        let rx = bind_retrying(local)?;
        rx.set_read_timeout(Some(RX_POLL))?;
        let fd = rx.as_raw_fd();
        // Both best effort: a smaller buffer drops more in bursts, and a
        // kernel without UDP_GRO hands over datagrams one by one.
        if !set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RX_SOCKET_BUFFER) {
            set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RX_SOCKET_BUFFER);
        }
        set_int_option(fd, libc::SOL_UDP, libc::UDP_GRO, 1);
        let mut tx = Vec::with_capacity(TX_SOCKETS);
        for _ in 0..TX_SOCKETS {
            tx.push(UdpSocket::bind(SocketAddrV4::new(*local.ip(), 0))?);
        }
        let reader = rx.try_clone()?;
        let ep = Arc::new(Endpoint {
            local,
            rx,
            tx,
            members: Mutex::new(Vec::new()),
            unmatched: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&ep);
        std::thread::Builder::new()
            .name(format!("vxlan-{}", local.port()))
            .spawn(move || receive_loop(&reader, &weak))?;
        all.push((local, Arc::downgrade(&ep)));
        Ok(ep)
    }
}

/// Hands the datagrams of one receive call to their ports, holding the
/// member list once and filling each port's inbox in runs. Consecutive
/// TCP segments of one inner flow from one tunnel are coalesced into one
/// GSO frame on the way (see [`Train`]).
struct Demux<'a> {
    ep: &'a Endpoint,
    members: std::sync::MutexGuard<'a, Vec<Member>>,
    /// The member the frames in `pending` go to.
    target: Option<usize>,
    pending: &'a mut Vec<Decapped>,
    /// The train the last pending frame holds, if it is one that may grow.
    train: Option<Train>,
}

impl<'a> Demux<'a> {
    fn new(ep: &'a Endpoint, pending: &'a mut Vec<Decapped>) -> Demux<'a> {
        pending.clear();
        Demux {
            ep,
            members: ep.members.lock().unwrap_or_else(PoisonError::into_inner),
            target: None,
            pending,
            train: None,
        }
    }

    /// One datagram `d` from `src`.
    fn push(&mut self, src: Ipv4Addr, d: &[u8]) {
        let Some((vni, frame)) = parse_vxlan(d) else {
            self.ep.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let live = |m: &Member| src == m.remote && !m.inbox.closed.load(Ordering::Relaxed);
        let members = &*self.members;
        let target = members
            .iter()
            .position(|m| live(m) && m.key == VxlanKey::Fixed(vni))
            .or_else(|| {
                members
                    .iter()
                    .position(|m| live(m) && m.key == VxlanKey::Flow)
            });
        let Some(t) = target else {
            self.ep.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.target != Some(t) {
            self.flush();
            self.target = Some(t);
        }
        let tunnel = TunnelMeta {
            tunnel_id: u64::from(vni),
            ipv4_src: u32::from(src),
            ipv4_dst: u32::from(*self.ep.local.ip()),
            tos: 0,
            ttl: 0,
            flags: tun_flags::PRESENT,
            tp_dst: self.ep.local.port(),
        };
        if let (Some(train), Some(last)) = (self.train.as_mut(), self.pending.last_mut()) {
            if last.tunnel == tunnel && train.append(&mut last.frame, frame) {
                return;
            }
        }
        self.close_train();
        let mut frame = frame.to_vec();
        self.train = Train::start(&mut frame);
        self.pending.push(Decapped {
            frame,
            tunnel,
            offload: OffloadMeta::default(),
        });
    }

    /// Finishes the train the last pending frame holds.
    fn close_train(&mut self) {
        if let (Some(t), Some(last)) = (self.train.take(), self.pending.last_mut()) {
            last.offload = t.finish(&mut last.frame);
        }
    }

    fn flush(&mut self) {
        self.close_train();
        if let Some(m) = self.target.and_then(|t| self.members.get(t)) {
            m.inbox.push_all(self.pending);
        }
        self.pending.clear();
    }
}

impl Drop for Demux<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The largest frame a coalesced train grows to.
const TRAIN_MAX: usize = 64_000;

/// A run of TCP segments being coalesced into one frame (receive-side
/// GRO): IPv4 without options or fragmentation, untagged, every header
/// field equal but the sequence number (contiguous), IP identification
/// and checksums, flags ACK (PSH ends a train), each segment's checksum
/// verified, every payload `mss` bytes but the last. The frame is the
/// first segment's headers and all the payloads; [`Train::finish`] fixes
/// its lengths and marks it GSO (`mss`) with a partial TCP checksum, as
/// the kernel hands a GRO frame over, so a port with offloads sends it as
/// one TSO frame and any other port re-segments it.
#[derive(Clone, Copy, Debug)]
struct Train {
    l4: usize,
    hdr_end: usize,
    mss: usize,
    next_seq: u32,
    count: usize,
    /// No more segments may join (a short one or PSH came).
    closed: bool,
}

const L3: usize = 14;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// The headers and payload of a mergeable TCP segment: (L4 offset, header
/// end, payload end, sequence number, flags), after checking its layout
/// and checksum.
fn tcp_segment(f: &[u8]) -> Option<(usize, usize, usize, u32, u8)> {
    if f.get(12..14)? != [0x08, 0x00] || *f.get(L3)? != 0x45 || *f.get(L3 + 9)? != 6 {
        return None;
    }
    let frag = u16::from_be_bytes([f[L3 + 6], f[L3 + 7]]);
    if frag & !0x4000 != 0 {
        return None;
    }
    let tot = usize::from(u16::from_be_bytes([f[L3 + 2], f[L3 + 3]]));
    let end = L3 + tot;
    let l4 = L3 + 20;
    let doff = usize::from(*f.get(l4 + 12)? >> 4) * 4;
    let hdr_end = l4 + doff;
    if doff < 20 || end > f.len() || hdr_end >= end {
        return None;
    }
    let flags = f[l4 + 13];
    if flags != TCP_ACK && flags != TCP_ACK | TCP_PSH {
        return None;
    }
    let ip: [u8; 8] = f[L3 + 12..L3 + 20].try_into().ok()?;
    let ps = csum::pseudo_header_v4(
        ip[..4].try_into().ok()?,
        ip[4..].try_into().ok()?,
        6,
        u16::try_from(end - l4).ok()?,
    );
    if !csum::verify(ps, &f[l4..end]) {
        return None;
    }
    let seq = u32::from_be_bytes(f[l4 + 4..l4 + 8].try_into().ok()?);
    Some((l4, hdr_end, end, seq, flags))
}

impl Train {
    /// A train that starts with `f` (cut to its IP length), or `None` when
    /// `f` cannot start one.
    fn start(f: &mut Vec<u8>) -> Option<Train> {
        let (l4, hdr_end, end, seq, flags) = tcp_segment(f)?;
        if flags & TCP_PSH != 0 {
            return None;
        }
        f.truncate(end);
        let mss = end - hdr_end;
        Some(Train {
            l4,
            hdr_end,
            mss,
            next_seq: seq.wrapping_add(u32::try_from(mss).ok()?),
            count: 1,
            closed: false,
        })
    }

    /// Appends segment `seg` to the train's frame `acc`; whether it could.
    fn append(&mut self, acc: &mut Vec<u8>, seg: &[u8]) -> bool {
        if self.closed {
            return false;
        }
        let Some((l4, hdr_end, end, seq, flags)) = tcp_segment(seg) else {
            return false;
        };
        let len = end - hdr_end;
        let same = |a: std::ops::Range<usize>| acc.get(a.clone()) == seg.get(a);
        if l4 != self.l4
            || hdr_end != self.hdr_end
            || seq != self.next_seq
            || len > self.mss
            || acc.len() + len > TRAIN_MAX
            // MACs and type; TOS; DF; TTL and protocol; addresses.
            || !same(0..14)
            || !same(L3 + 1..L3 + 2)
            || !same(L3 + 6..L3 + 10)
            || !same(L3 + 12..L3 + 20)
            // Ports; acknowledgment, data offset; window; urgent pointer
            // and options.
            || !same(l4..l4 + 4)
            || !same(l4 + 8..l4 + 13)
            || !same(l4 + 14..l4 + 16)
            || !same(l4 + 18..hdr_end)
        {
            return false;
        }
        if self.count == 1 {
            // Grown once to the largest a train gets, not doubling by steps.
            acc.reserve_exact(TRAIN_MAX.saturating_sub(acc.len()));
        }
        acc.extend_from_slice(&seg[hdr_end..end]);
        self.next_seq = seq.wrapping_add(u32::try_from(len).unwrap_or(0));
        self.count += 1;
        if flags & TCP_PSH != 0 {
            acc[l4 + 13] |= TCP_PSH;
            self.closed = true;
        }
        if len < self.mss {
            self.closed = true;
        }
        true
    }

    /// Fixes the frame of a train of two or more segments (IP length and
    /// checksum, pseudo-header TCP checksum) and gives its offloads.
    fn finish(self, f: &mut [u8]) -> OffloadMeta {
        if self.count < 2 {
            return OffloadMeta::default();
        }
        let (Ok(tot), Ok(l4_len), Ok(mss), Ok(csum_start), Ok(hdr_len)) = (
            u16::try_from(f.len() - L3),
            u16::try_from(f.len() - self.l4),
            u16::try_from(self.mss),
            u16::try_from(self.l4),
            u16::try_from(self.hdr_end),
        ) else {
            return OffloadMeta::default();
        };
        f[L3 + 2..L3 + 4].copy_from_slice(&tot.to_be_bytes());
        f[L3 + 10..L3 + 12].copy_from_slice(&[0, 0]);
        let c = csum::checksum(&f[L3..self.l4]);
        f[L3 + 10..L3 + 12].copy_from_slice(&c.to_be_bytes());
        let ip: [u8; 8] = f[L3 + 12..L3 + 20].try_into().unwrap_or([0; 8]);
        let ps = csum::pseudo_header_v4(
            [ip[0], ip[1], ip[2], ip[3]],
            [ip[4], ip[5], ip[6], ip[7]],
            6,
            l4_len,
        );
        f[self.l4 + 16..self.l4 + 18].copy_from_slice(&ps.to_be_bytes());
        OffloadMeta {
            flags: offload::F_NEEDS_CSUM,
            gso_type: offload::GSO_TCPV4,
            hdr_len,
            gso_size: mss,
            csum_start,
            csum_offset: 16,
        }
    }
}

/// The VNI and inner frame of a VXLAN datagram (the I flag set and a whole
/// Ethernet header inside), or `None`.
pub fn parse_vxlan(d: &[u8]) -> Option<(u32, &[u8])> {
    if d.len() < VXLAN_HLEN + 14 || d[0] & FLAG_I == 0 {
        return None;
    }
    let vni = u32::from_be_bytes([0, d[4], d[5], d[6]]);
    Some((vni, &d[VXLAN_HLEN..]))
}

/// The datagrams in a received buffer of `len` bytes: one, or a GRO train
/// cut every `gso_size` bytes (the last may be shorter).
pub fn gro_segments(buf: &[u8], gso_size: usize) -> std::slice::Chunks<'_, u8> {
    buf.chunks(if gso_size == 0 {
        buf.len().max(1)
    } else {
        gso_size
    })
}

/// The `UDP_GRO` segment size in a received message's control data (0
/// when there is none).
fn gro_size(hdr: &libc::msghdr) -> usize {
    // SAFETY: `hdr` was filled by recvmmsg: its control pointer and length
    // describe a live buffer the kernel wrote, which the CMSG walk stays in.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(v).unwrap_or(0);
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    0
}

fn receive_loop(sock: &UdpSocket, ep: &Weak<Endpoint>) {
    let fd = sock.as_raw_fd();
    let mut data = vec![0u8; RX_BATCH * RX_BUF];
    // SAFETY: all-zero sockaddr_in and mmsghdr are valid values of the types.
    let mut names: Vec<libc::sockaddr_in> = (0..RX_BATCH)
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    let mut control = vec![[0u64; 8]; RX_BATCH];
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(RX_BATCH);
    // SAFETY: as above.
    let mut msgs: Vec<libc::mmsghdr> = (0..RX_BATCH)
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    let mut pending = Vec::with_capacity(RX_BATCH);
    loop {
        iovs.clear();
        let base = data.as_mut_ptr();
        for i in 0..RX_BATCH {
            iovs.push(libc::iovec {
                // SAFETY: `i * RX_BUF` is inside `data` (RX_BATCH * RX_BUF bytes).
                iov_base: unsafe { base.add(i * RX_BUF) }.cast(),
                iov_len: RX_BUF,
            });
        }
        for (i, m) in msgs.iter_mut().enumerate() {
            let h = &mut m.msg_hdr;
            h.msg_name = (&raw mut names[i]).cast();
            h.msg_namelen = socklen_of::<libc::sockaddr_in>();
            h.msg_iov = &raw mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = control[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of_val(&control[i]);
            h.msg_flags = 0;
            m.msg_len = 0;
        }
        // SAFETY: every message points at live, distinct buffers of the
        // lengths given (names, one iovec into `data`, control).
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                u32::try_from(RX_BATCH).unwrap_or(1),
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let Ok(n @ 1..) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            if ep.strong_count() == 0 {
                return;
            }
            if n < 0
                && !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                )
            {
                // ICMP errors (port unreachable) surface here; keep going.
                std::thread::sleep(Duration::from_millis(1));
            }
            continue;
        };
        let Some(ep) = ep.upgrade() else { return };
        let mut demux = Demux::new(&ep, &mut pending);
        for (i, m) in msgs[..n].iter().enumerate() {
            let name = &names[i];
            let len = usize::try_from(m.msg_len).unwrap_or(0).min(RX_BUF);
            if len == 0
                || i32::from(name.sin_family) != libc::AF_INET
                || m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0
            {
                ep.unmatched.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let src = Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr));
            let buf = &data[i * RX_BUF..i * RX_BUF + len];
            for d in gro_segments(buf, gro_size(&m.msg_hdr)) {
                demux.push(src, d);
            }
        }
    }
}

/// The transmit side of a VXLAN port (held by its [`super::PortHandle`]).
#[derive(Debug)]
pub struct VxlanPort {
    cfg: VxlanConfig,
    ep: Arc<Endpoint>,
    id: u64,
    remote: SocketAddrV4,
    /// The largest datagram (VXLAN header + inner frame) sent in GSO
    /// trains: the underlay MTU less the outer headers, lowered when the
    /// kernel refuses a train; 0 when it refuses GSO altogether.
    gso_max: AtomicUsize,
    state: Mutex<TxState>,
}

/// One datagram of a batch: where its inner frame is, its VNI and the
/// socket (outer source port) it leaves by.
#[derive(Clone, Copy, Debug)]
struct Rec {
    /// Index into the batch, or (`seg`) into the software segments.
    at: usize,
    seg: bool,
    vni: u32,
    len: usize,
    sock: usize,
}

/// One message of a `sendmmsg`: `count` datagrams of `order[first..]`,
/// each `seg` bytes but the last (a GSO train when `count > 1`).
#[derive(Clone, Copy, Debug)]
struct Group {
    first: usize,
    count: usize,
    seg: usize,
}

/// The reusable transmit state of a port: the plan of a batch, the
/// VXLAN headers and the system call vectors.
#[derive(Debug, Default)]
struct TxState {
    recs: Vec<Rec>,
    order: Vec<usize>,
    hdrs: Vec<[u8; VXLAN_HLEN]>,
    groups: Vec<Group>,
    iovs: Vec<libc::iovec>,
    control: Vec<[u64; 4]>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs` and `msgs` are rewritten at the start
// of every send, under the port's mutex, and are not used after it
// returns; between sends they dangle harmlessly and are never read.
unsafe impl Send for TxState {}

/// The receive side of a VXLAN port (one queue, served by one thread).
#[derive(Debug)]
pub struct VxlanRx {
    inbox: Arc<Inbox>,
}

impl Drop for VxlanPort {
    fn drop(&mut self) {
        self.ep
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|m| m.id != self.id);
    }
}

impl Drop for VxlanRx {
    fn drop(&mut self) {
        self.inbox.closed.store(true, Ordering::Relaxed);
    }
}

/// The MTU of the route from `local` to `remote` (a connected probe
/// socket's `IP_MTU`), or the Ethernet default.
fn route_mtu(local: Ipv4Addr, remote: SocketAddrV4) -> usize {
    let probe = || -> io::Result<usize> {
        let s = UdpSocket::bind(SocketAddrV4::new(local, 0))?;
        s.connect(remote)?;
        let mut mtu: libc::c_int = 0;
        let mut len = socklen_of::<libc::c_int>();
        // SAFETY: `mtu` and `len` are live and of the length given.
        let r = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_MTU,
                (&raw mut mtu).cast(),
                &raw mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        usize::try_from(mtu).map_err(io::Error::other)
    };
    probe().unwrap_or(DEFAULT_UNDERLAY_MTU)
}

/// Opens a VXLAN port: joins (or creates) its local endpoint and registers
/// for its remote and key.
pub fn open(cfg: &VxlanConfig) -> io::Result<(VxlanPort, VxlanRx)> {
    let ep = Endpoint::get(cfg.local_endpoint())?;
    let inbox = Arc::new(Inbox {
        queue: Mutex::new(VecDeque::new()),
        wake: EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        dropped: AtomicU64::new(0),
        closed: AtomicBool::new(false),
    });
    let id = NEXT_MEMBER.fetch_add(1, Ordering::Relaxed);
    {
        let mut members = ep.members.lock().unwrap_or_else(PoisonError::into_inner);
        if members.iter().any(|m| {
            m.remote == cfg.remote_ip && m.key == cfg.key && !m.inbox.closed.load(Ordering::Relaxed)
        }) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "another vxlan port already receives from {} with this key",
                    cfg.remote_ip
                ),
            ));
        }
        members.push(Member {
            id,
            remote: cfg.remote_ip,
            key: cfg.key,
            inbox: Arc::clone(&inbox),
        });
    }
    let remote = SocketAddrV4::new(cfg.remote_ip, cfg.dst_port);
    let mtu = route_mtu(*ep.local.ip(), remote);
    Ok((
        VxlanPort {
            cfg: *cfg,
            remote,
            ep,
            id,
            gso_max: AtomicUsize::new(mtu.saturating_sub(OUTER_IP_UDP)),
            state: Mutex::new(TxState::default()),
        },
        VxlanRx { inbox },
    ))
}

/// A hash of the inner flow (addresses, protocol, ports of IPv4; the MAC
/// addresses otherwise), to spread flows over outer source ports.
pub fn flow_hash(f: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |b: &[u8]| {
        for x in b {
            h ^= u32::from(*x);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    if f.len() >= 34 && f[12] == 0x08 && f[13] == 0x00 {
        let ihl = usize::from(f[14] & 0x0f) * 4;
        mix(&f[23..24]);
        mix(&f[26..34]);
        let l4 = 14 + ihl;
        if matches!(f[23], 6 | 17) && f.len() >= l4 + 4 {
            mix(&f[l4..l4 + 4]);
        }
    } else {
        mix(&f[..f.len().min(12)]);
    }
    h
}

/// Cuts `order[first..end]` (datagram sizes `size(i)`) into messages: a
/// run of equal sizes, plus one shorter last one, of at most
/// [`GSO_MAX_SEGS`] datagrams and [`GSO_MAX_BYTES`] bytes becomes one GSO
/// message when its size is at most `gso_max`; anything else goes alone.
fn group_messages(
    first: usize,
    end: usize,
    size: impl Fn(usize) -> usize,
    gso_max: usize,
    groups: &mut Vec<Group>,
) {
    let mut k = first;
    while k < end {
        let seg = size(k);
        let (mut count, mut total) = (1, seg);
        if seg <= gso_max {
            while k + count < end && count < GSO_MAX_SEGS {
                let s = size(k + count);
                if s > seg || s == 0 || total + s > GSO_MAX_BYTES {
                    break;
                }
                count += 1;
                total += s;
                if s < seg {
                    break;
                }
            }
        }
        groups.push(Group {
            first: k,
            count,
            seg,
        });
        k += count;
    }
}

/// Whether a failed send only lost its datagrams (counted as drops) rather
/// than hitting an error.
fn is_drop(errno: i32) -> bool {
    matches!(
        errno,
        libc::EAGAIN
            | libc::ENOBUFS
            | libc::EMSGSIZE
            | libc::ECONNREFUSED
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
    )
}

impl VxlanPort {
    fn vni_of(&self, p: &Packet) -> u32 {
        match self.cfg.key {
            VxlanKey::Fixed(n) => n,
            VxlanKey::Flow => {
                u32::try_from(p.meta.tunnel.tunnel_id & u64::from(VNI_MAX)).unwrap_or(0)
            }
        }
    }

    /// Encapsulates and sends a batch (software-finishing any offload): one
    /// `sendmmsg` per socket used, equal-sized runs as GSO trains.
    pub fn send_batch(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *st;
        // The plan: one record per datagram, software segments made.
        st.recs.clear();
        let mut used = 0;
        for (i, p) in pkts.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            let vni = self.vni_of(p);
            let sock = flow_hash(p.data()) as usize % self.ep.tx.len();
            if p.meta.offload.is_none() {
                st.recs.push(Rec {
                    at: i,
                    seg: false,
                    vni,
                    len: p.len(),
                    sock,
                });
                continue;
            }
            let before = used;
            match offload::segment(p.data(), &p.meta.offload, &mut scratch.segments, &mut used) {
                Some(_) => {
                    for j in before..used {
                        st.recs.push(Rec {
                            at: j,
                            seg: true,
                            vni,
                            len: scratch.segments[j].len(),
                            sock,
                        });
                    }
                }
                None => out.dropped += 1,
            }
        }
        if st.recs.is_empty() {
            return out;
        }
        // Grouped by socket (stable: a flow keeps its order), then cut
        // into messages.
        st.order.clear();
        st.order.extend(0..st.recs.len());
        let recs = &st.recs;
        st.order.sort_by_key(|&r| recs[r].sock);
        st.hdrs.clear();
        for &r in &st.order {
            let v = recs[r].vni.to_be_bytes();
            st.hdrs.push([FLAG_I, 0, 0, 0, v[1], v[2], v[3], 0]);
        }
        st.groups.clear();
        let gso_max = self.gso_max.load(Ordering::Relaxed);
        let mut runs: smallvec::SmallVec<[(usize, usize, usize); TX_SOCKETS]> =
            smallvec::SmallVec::new();
        let mut k = 0;
        while k < st.order.len() {
            let sock = recs[st.order[k]].sock;
            let end = k + st.order[k..]
                .iter()
                .take_while(|&&r| recs[r].sock == sock)
                .count();
            let g0 = st.groups.len();
            let order = &st.order;
            group_messages(
                k,
                end,
                |i| VXLAN_HLEN + recs[order[i]].len,
                gso_max,
                &mut st.groups,
            );
            runs.push((sock, g0, st.groups.len()));
            k = end;
        }
        // The vectors: two iovecs a datagram (header, inner frame).
        let frame = |r: &Rec| -> &[u8] {
            if r.seg {
                &scratch.segments[r.at]
            } else {
                pkts[r.at].data()
            }
        };
        st.iovs.clear();
        for (k, &r) in st.order.iter().enumerate() {
            let f = frame(&recs[r]);
            st.iovs.push(libc::iovec {
                iov_base: st.hdrs[k].as_ptr().cast_mut().cast(),
                iov_len: VXLAN_HLEN,
            });
            st.iovs.push(libc::iovec {
                iov_base: f.as_ptr().cast_mut().cast(),
                iov_len: f.len(),
            });
        }
        let mut name = libc::sockaddr_in {
            sin_family: libc::sa_family_t::try_from(libc::AF_INET).unwrap_or(2),
            sin_port: self.remote.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*self.remote.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        st.control.clear();
        st.control.resize(st.groups.len(), [0; 4]);
        st.msgs.clear();
        for (gi, g) in st.groups.iter().enumerate() {
            // SAFETY: an all-zero mmsghdr is a valid value of the type.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = (&raw mut name).cast();
            m.msg_hdr.msg_namelen = socklen_of::<libc::sockaddr_in>();
            m.msg_hdr.msg_iov = &raw mut st.iovs[2 * g.first];
            m.msg_hdr.msg_iovlen = 2 * g.count;
            if g.count > 1 {
                let c = &mut st.control[gi];
                m.msg_hdr.msg_control = c.as_mut_ptr().cast();
                // SAFETY: CMSG_SPACE only computes a size.
                m.msg_hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
                // SAFETY: the control buffer (32 bytes, 8-aligned) holds one
                // cmsghdr with a 2-byte payload (CMSG_SPACE(2) = 24 bytes).
                unsafe {
                    let h = libc::CMSG_FIRSTHDR(&m.msg_hdr);
                    (*h).cmsg_level = libc::SOL_UDP;
                    (*h).cmsg_type = libc::UDP_SEGMENT;
                    (*h).cmsg_len = libc::CMSG_LEN(2) as usize;
                    let seg = u16::try_from(g.seg).unwrap_or(u16::MAX);
                    std::ptr::write_unaligned(libc::CMSG_DATA(h).cast::<u16>(), seg);
                }
            }
            st.msgs.push(m);
        }
        for (sock, g0, g1) in runs {
            self.send_run(st, sock, g0, g1, &mut out);
        }
        out
    }

    /// Sends messages `g0..g1` (all of socket `sock`), falling back to one
    /// datagram a call for a GSO train the kernel refuses.
    fn send_run(&self, st: &mut TxState, sock: usize, g0: usize, g1: usize, out: &mut SendOutcome) {
        let fd = self.ep.tx[sock].as_raw_fd();
        let inner_bytes = |st: &TxState, g: &Group| -> u64 {
            (0..g.count)
                .map(|j| st.iovs[2 * (g.first + j) + 1].iov_len as u64)
                .sum()
        };
        let mut g = g0;
        while g < g1 {
            let left = u32::try_from(g1 - g).unwrap_or(u32::MAX);
            // SAFETY: messages g..g1 point at live iovecs, headers, frames,
            // control data and the destination, all valid for this call.
            let r = unsafe { libc::sendmmsg(fd, st.msgs[g..].as_mut_ptr(), left, 0) };
            if let Ok(n @ 1..) = usize::try_from(r) {
                for grp in &st.groups[g..g + n] {
                    out.sent += grp.count as u64;
                    out.bytes += inner_bytes(st, grp);
                }
                g += n;
                continue;
            }
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if errno == libc::EINTR {
                continue;
            }
            let grp = st.groups[g];
            if grp.count > 1
                && matches!(
                    errno,
                    libc::EINVAL
                        | libc::EMSGSIZE
                        | libc::EIO
                        | libc::ENOPROTOOPT
                        | libc::EOPNOTSUPP
                )
            {
                // The kernel will not cut this train: send its datagrams
                // one by one, and form no such trains again.
                let limit = if errno == libc::EIO { 0 } else { grp.seg - 1 };
                self.gso_max.fetch_min(limit, Ordering::Relaxed);
                for j in 0..grp.count {
                    let mut hdr = st.msgs[g].msg_hdr;
                    hdr.msg_iov = &raw mut st.iovs[2 * (grp.first + j)];
                    hdr.msg_iovlen = 2;
                    hdr.msg_control = std::ptr::null_mut();
                    hdr.msg_controllen = 0;
                    let len = st.iovs[2 * (grp.first + j) + 1].iov_len;
                    // SAFETY: `hdr` points at the live destination and two
                    // live iovecs of this datagram.
                    let r = unsafe { libc::sendmsg(fd, &raw const hdr, 0) };
                    if r >= 0 {
                        out.sent += 1;
                        out.bytes += len as u64;
                    } else if is_drop(io::Error::last_os_error().raw_os_error().unwrap_or(0)) {
                        out.dropped += 1;
                    } else {
                        out.errors += 1;
                    }
                }
            } else if is_drop(errno) {
                out.dropped += grp.count as u64;
            } else {
                out.errors += grp.count as u64;
            }
            g += 1;
        }
    }
}

impl AsFd for VxlanRx {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inbox.wake.as_fd()
    }
}

impl VxlanRx {
    /// Moves up to `pkts.len()` decapsulated frames into `pkts`, with
    /// their tunnel metadata.
    pub fn recv(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let _ = self.inbox.wake.read();
        let mut q = self
            .inbox
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut n = 0;
        while n < pkts.len() {
            let Some(d) = q.pop_front() else {
                break;
            };
            let p = &mut pkts[n];
            let area = p.reset_for_rx(DEFAULT_HEADROOM);
            if d.frame.len() > area.len() {
                self.inbox.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            area[..d.frame.len()].copy_from_slice(&d.frame);
            p.set_len(d.frame.len());
            p.meta.tunnel = d.tunnel;
            p.meta.offload = d.offload;
            n += 1;
        }
        let more = !q.is_empty();
        drop(q);
        if more {
            // Frames are left: keep the queue readable (a push only wakes
            // an empty queue).
            let _ = self.inbox.wake.write(1);
        }
        Ok(n)
    }

    /// Frames dropped since the last call (inbox full, oversize).
    pub fn take_drops(&mut self) -> u64 {
        self.inbox.dropped.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn options_parse_with_defaults_and_errors_name_the_option() {
        let c = VxlanConfig::from_options(&opts(&[("remote_ip", "198.19.0.2"), ("key", "100")]))
            .unwrap();
        assert_eq!(c.key, VxlanKey::Fixed(100));
        assert_eq!(c.dst_port, DEFAULT_DST_PORT);
        assert_eq!(c.local_ip, None);
        let c = VxlanConfig::from_options(&opts(&[
            ("remote_ip", "198.19.0.2"),
            ("key", "flow"),
            ("local_ip", "198.19.0.1"),
            ("dst_port", "4790"),
        ]))
        .unwrap();
        assert_eq!(c.key, VxlanKey::Flow);
        assert_eq!(c.dst_port, 4790);
        for (bad, word) in [
            (opts(&[("key", "1")]), "remote_ip"),
            (opts(&[("remote_ip", "x")]), "remote_ip"),
            (opts(&[("remote_ip", "0.0.0.0")]), "remote_ip"),
            (
                opts(&[("remote_ip", "1.2.3.4"), ("key", "16777216")]),
                "key",
            ),
            (
                opts(&[("remote_ip", "1.2.3.4"), ("dst_port", "0")]),
                "dst_port",
            ),
            (
                opts(&[("remote_ip", "1.2.3.4"), ("colour", "red")]),
                "colour",
            ),
        ] {
            let e = VxlanConfig::from_options(&bad).unwrap_err();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn vxlan_datagrams_need_the_i_flag_and_a_whole_inner_header() {
        let mut d = vec![0u8; VXLAN_HLEN + 14];
        assert!(parse_vxlan(&d).is_none());
        d[0] = FLAG_I;
        d[4..7].copy_from_slice(&[0x01, 0x02, 0x03]);
        assert_eq!(
            parse_vxlan(&d).map(|(v, f)| (v, f.len())),
            Some((0x01_0203, 14))
        );
        assert!(parse_vxlan(&d[..VXLAN_HLEN + 13]).is_none());
        assert!(parse_vxlan(&[]).is_none());
    }

    #[test]
    fn the_flow_hash_follows_addresses_and_ports_only() {
        let mut a = vec![0u8; 60];
        a[12] = 0x08;
        a[14] = 0x45;
        a[23] = 17;
        a[26..34].copy_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        a[34..38].copy_from_slice(&[0x30, 0x39, 0x00, 0x35]);
        let mut b = a.clone();
        b[50] = 0xff; // payload differs
        assert_eq!(flow_hash(&a), flow_hash(&b));
        b[35] = 0x3a; // source port differs
        assert_ne!(flow_hash(&a), flow_hash(&b));
        assert_eq!(flow_hash(&[1, 2, 3]), flow_hash(&[1, 2, 3]));
    }

    #[test]
    fn equal_datagrams_form_gso_trains_that_a_shorter_one_ends() {
        let cut = |sizes: &[usize], gso_max: usize| {
            let mut g = Vec::new();
            group_messages(0, sizes.len(), |i| sizes[i], gso_max, &mut g);
            g.iter().map(|g| (g.first, g.count)).collect::<Vec<_>>()
        };
        assert_eq!(cut(&[100, 100, 100, 60, 100], 1472), [(0, 4), (4, 1)]);
        assert_eq!(cut(&[100, 200, 200], 1472), [(0, 1), (1, 2)]);
        assert_eq!(cut(&[100, 100, 100], 99), [(0, 1), (1, 1), (2, 1)]);
        assert_eq!(cut(&[100; 70], 1472), [(0, 64), (64, 6)]);
        // At most 65507 bytes a message.
        assert_eq!(cut(&[1400; 50], 1472), [(0, 46), (46, 4)]);
        assert!(cut(&[], 1472).is_empty());
    }

    #[test]
    fn a_gro_buffer_is_cut_at_its_segment_size() {
        let b = [0u8; 250];
        let lens = |g: usize| gro_segments(&b, g).map(<[u8]>::len).collect::<Vec<_>>();
        assert_eq!(lens(0), [250]);
        assert_eq!(lens(100), [100, 100, 50]);
        assert_eq!(lens(250), [250]);
    }

    /// A UDP port free on every address (the kernel's pick) for a
    /// loopback test.
    fn test_port() -> u16 {
        UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap()
    }

    fn frame(seq: u16, len: usize, sport: u8) -> Packet {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12] = 0x08;
        f[14] = 0x45;
        f[23] = 17;
        f[26..34].copy_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        f[34] = sport;
        f[40..42].copy_from_slice(&seq.to_be_bytes());
        Packet::from_frame(&f)
    }

    /// Receives on `rx` until `want` inner bytes came or 5 s passed.
    fn receive(rx: &mut VxlanRx, want: usize) -> Vec<(Vec<u8>, TunnelMeta, OffloadMeta)> {
        let mut got = Vec::new();
        let mut bytes = 0;
        let mut pkts: Vec<Packet> = (0..32)
            .map(|_| Packet::with_capacity(65_536 + 1024, DEFAULT_HEADROOM))
            .collect();
        let end = Instant::now() + Duration::from_secs(5);
        while bytes < want && Instant::now() < end {
            let n = rx.recv(&mut pkts).unwrap();
            for p in &pkts[..n] {
                bytes += p.len();
                got.push((p.data().to_vec(), p.meta.tunnel, p.meta.offload));
            }
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        got
    }

    fn pair(port: u16, key: VxlanKey) -> ((VxlanPort, VxlanRx), (VxlanPort, VxlanRx)) {
        let cfg = |l: [u8; 4], r: [u8; 4]| VxlanConfig {
            remote_ip: Ipv4Addr::from(r),
            local_ip: Some(Ipv4Addr::from(l)),
            key,
            dst_port: port,
        };
        (
            open(&cfg([127, 0, 0, 1], [127, 0, 0, 2])).unwrap(),
            open(&cfg([127, 0, 0, 2], [127, 0, 0, 1])).unwrap(),
        )
    }

    #[test]
    fn a_batch_of_two_flows_crosses_loopback_whole_and_in_order_per_flow() {
        let port = test_port();
        let ((a, _a_rx), (_b, mut b_rx)) = pair(port, VxlanKey::Fixed(77));
        // Flow 1: 40 equal frames then a shorter one (a GSO train); flow 2
        // interleaved, of another size.
        let mut pkts = Vec::new();
        for i in 0..40u16 {
            pkts.push(frame(i, 120, 1));
            if i % 10 == 0 {
                pkts.push(frame(1000 + i, 90, 2));
            }
        }
        pkts.push(frame(40, 70, 1));
        let mut scratch = TxScratch::default();
        let out = a.send_batch(&pkts, &mut scratch);
        assert_eq!((out.sent, out.dropped, out.errors), (45, 0, 0));
        assert_eq!(out.bytes, 40 * 120 + 4 * 90 + 70);
        let got = receive(&mut b_rx, usize::try_from(out.bytes).unwrap());
        assert_eq!(got.len(), 45);
        let seqs = |sport: u8| -> Vec<u16> {
            got.iter()
                .filter(|(f, _, _)| f[34] == sport)
                .map(|(f, _, _)| u16::from_be_bytes([f[40], f[41]]))
                .collect()
        };
        assert_eq!(seqs(1), (0..=40).collect::<Vec<_>>());
        assert_eq!(seqs(2), [1000, 1010, 1020, 1030]);
        for (f, meta, off) in &got {
            assert!(off.is_none());
            let want = pkts
                .iter()
                .find(|p| p.data()[34] == f[34] && p.data()[40..42] == f[40..42])
                .unwrap();
            assert_eq!(f.as_slice(), want.data());
            assert_eq!(meta.tunnel_id, 77);
            assert_eq!(meta.ipv4_src, u32::from(Ipv4Addr::new(127, 0, 0, 1)));
            assert_eq!(meta.tp_dst, port);
        }
    }

    /// A GSO TCP frame of `payload` bytes (MSS `mss`) with `flags`.
    fn tcp_super_frame(payload: usize, mss: u16, flags: u8) -> Packet {
        let data: Vec<u8> = (0..payload)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let f = datapath::packet::builder::FrameBuilder::tcp4(
            [2, 0, 0, 0, 0, 2],
            [2, 0, 0, 0, 0, 1],
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            1000,
            2000,
            &data,
        )
        .build();
        let mut p = Packet::from_frame(&f);
        p.data_mut()[34 + 13] = flags;
        p.meta.offload = OffloadMeta {
            flags: offload::F_NEEDS_CSUM,
            gso_type: offload::GSO_TCPV4,
            hdr_len: 54,
            gso_size: mss,
            csum_start: 34,
            csum_offset: 16,
        };
        p
    }

    /// The software segments of `p`.
    fn segments_of(p: &Packet) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut used = 0;
        offload::segment(p.data(), &p.meta.offload, &mut out, &mut used).unwrap();
        out.truncate(used);
        out
    }

    #[test]
    fn a_tcp_super_frame_crosses_as_segments_and_arrives_coalesced_with_the_flows_vni() {
        let ((a, _a_rx), (_b, mut b_rx)) = pair(test_port(), VxlanKey::Flow);
        let mut p = tcp_super_frame(10_000, 1000, TCP_ACK | TCP_PSH);
        p.meta.tunnel.tunnel_id = 0x12_3456;
        let mut scratch = TxScratch::default();
        let out = a.send_batch(std::slice::from_ref(&p), &mut scratch);
        assert_eq!((out.sent, out.dropped, out.errors), (10, 0, 0));
        let got = receive(&mut b_rx, 10 * 54 + 10_000 - 9 * 54);
        assert_eq!(got.len(), 1, "the ten segments should arrive as one frame");
        let (f, tunnel, off) = &got[0];
        assert_eq!(tunnel.tunnel_id, 0x12_3456);
        assert_eq!(off.gso_type, offload::GSO_TCPV4);
        assert_eq!(off.gso_size, 1000);
        // Cut again, it gives back exactly the segments that were sent.
        let mut back = Packet::from_frame(f);
        back.meta.offload = *off;
        assert_eq!(segments_of(&back), segments_of(&p));
    }

    #[test]
    fn segments_join_a_train_only_when_contiguous_alike_and_intact() {
        let segs = segments_of(&tcp_super_frame(5000, 1000, TCP_ACK | TCP_PSH));
        let train = |segs: &[Vec<u8>]| -> (Vec<u8>, Option<Train>, usize) {
            let mut acc = segs[0].clone();
            let mut t = Train::start(&mut acc);
            let mut joined = 1;
            for s in &segs[1..] {
                if t.as_mut().is_some_and(|t| t.append(&mut acc, s)) {
                    joined += 1;
                }
            }
            (acc, t, joined)
        };
        // All five, PSH carried to the whole.
        let (acc, t, joined) = train(&segs);
        assert_eq!(joined, 5);
        assert!(t.unwrap().closed);
        assert_eq!(acc[34 + 13], TCP_ACK | TCP_PSH);
        // A gap: the third is missing.
        let gap = [segs[0].clone(), segs[1].clone(), segs[3].clone()];
        assert_eq!(train(&gap).2, 2);
        // A damaged payload.
        let mut bad = segs.clone();
        bad[2][60] ^= 1;
        assert_eq!(train(&bad).2, 2);
        // Another window.
        let mut other = segs.clone();
        other[1][34 + 14] ^= 1;
        assert_eq!(train(&other).2, 1);
        // A short segment ends the train.
        let short = segments_of(&tcp_super_frame(2500, 1000, TCP_ACK));
        let (_, t, joined) = train(&short);
        assert_eq!(joined, 3);
        assert!(t.unwrap().closed);
        // Not TCP, or PSH on the first: no train.
        let mut udp = frame(1, 100, 1).data().to_vec();
        assert!(Train::start(&mut udp).is_none());
        let mut psh = segs[4].clone();
        assert!(Train::start(&mut psh).is_none());
        // One segment alone is left as it is.
        let mut one = segs[0].clone();
        let t = Train::start(&mut one).unwrap();
        assert!(t.finish(&mut one).is_none());
        assert_eq!(one, segs[0]);
    }

    #[test]
    fn garbage_datagrams_are_counted_and_the_tunnel_keeps_working() {
        let port = test_port();
        let ((a, _a_rx), (b, mut b_rx)) = pair(port, VxlanKey::Fixed(5));
        let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut garbage: Vec<Vec<u8>> = vec![vec![], vec![FLAG_I], vec![0; 64], vec![0xff; 1500]];
        // A VXLAN header with the wrong VNI, and a TCP-looking inner frame
        // whose lengths lie.
        let mut wrong_vni = vec![FLAG_I, 0, 0, 0, 0, 0, 6, 0];
        wrong_vni.extend_from_slice(frame(1, 60, 1).data());
        garbage.push(wrong_vni);
        let mut liar = vec![FLAG_I, 0, 0, 0, 0, 0, 5, 0];
        let mut t = segments_of(&tcp_super_frame(3000, 1000, TCP_ACK))[0].clone();
        t[16..18].copy_from_slice(&[0xff, 0xff]);
        liar.extend_from_slice(&t);
        garbage.push(liar);
        for g in &garbage {
            raw.send_to(g, ("127.0.0.2", port)).unwrap();
        }
        let mut scratch = TxScratch::default();
        let out = a.send_batch(&[frame(9, 80, 1)], &mut scratch);
        assert_eq!(out.sent, 1);
        let got = receive(&mut b_rx, 80 + t.len());
        let seqs: Vec<u16> = got
            .iter()
            .map(|(f, _, _)| u16::from_be_bytes([f[40], f[41]]))
            .collect();
        assert!(seqs.contains(&9), "the good frame did not arrive");
        // Empty, short, flagless, all-ones and wrong-VNI datagrams found
        // no port; the liar has the right VNI and goes in as it is.
        assert_eq!(b.ep.unmatched.load(Ordering::Relaxed), 5);
    }

    proptest::proptest! {
        #[test]
        fn hostile_datagrams_never_panic_the_receive_path(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            valid_start in proptest::prelude::any::<bool>(),
        ) {
            // A real segment followed by garbage, or garbage throughout.
            let segs = segments_of(&tcp_super_frame(3000, 1000, TCP_ACK));
            let mut acc = if valid_start { segs[0].clone() } else { a.clone() };
            if let Some(mut t) = Train::start(&mut acc) {
                for seg in [&a, &b, &segs[1]] {
                    t.append(&mut acc, seg);
                }
                t.finish(&mut acc);
            }
            let _ = parse_vxlan(&a);
            let _ = gro_segments(&b, usize::from(a.first().copied().unwrap_or(0))).count();
        }
    }
}
