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
//! plumbing and no `unsafe`. The cost is one system call per datagram.
//!
//! - **Receive.** One socket per local endpoint (`local_ip:dst_port`) is
//!   shared by every VXLAN port of the process that uses that endpoint. A
//!   receiver thread reads it and demultiplexes each datagram to a port by
//!   the sender's IP and the VNI: a port with `key=N` takes VNI N from its
//!   `remote_ip`; a port with `key=flow` takes any other VNI from it.
//!   Unmatched datagrams are counted and dropped. Each port has an inbox
//!   (a bounded queue plus an eventfd its forwarding thread polls).
//! - **Transmit.** A small pool of sockets bound to `local_ip` on
//!   ephemeral ports; the inner flow's hash picks one, which is how the
//!   outer UDP source port follows the inner flow (RFC 7348 §5 asks for
//!   that, for ECMP in the underlay). Destination: `remote_ip:dst_port`.
//!   The VNI is the packet's `tunnel_id` for `key=flow` (set by a flow's
//!   `set_field`), the configured one otherwise. Offloaded inner frames
//!   (GSO, partial checksums) are finished in software first.
//!
//! # MTU
//!
//! The outer packet is the inner frame plus 50 bytes. When that exceeds
//! the underlay MTU the kernel fragments the outer UDP datagram and the
//! far end reassembles it (what Linux does for UDP sockets with path-MTU
//! discovery left at its default), so nothing is dropped for size; setting
//! the inner MTU to the underlay MTU − 50 (1450 on a 1500-byte underlay,
//! e.g. `attach-container --mtu 1450`) avoids the fragmentation cost.

use super::afpacket::{plan_batch, Msg};
use super::{SendOutcome, TxScratch};
use datapath::buffer::{Packet, TunnelMeta, DEFAULT_HEADROOM};
use datapath::flow::tun_flags;
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Decapsulated frames waiting for the forwarding thread that serves a port.
#[derive(Debug)]
struct Inbox {
    queue: Mutex<VecDeque<(Vec<u8>, TunnelMeta)>>,
    wake: EventFd,
    dropped: AtomicU64,
    /// Set when the receive side is gone (the port was removed).
    closed: AtomicBool,
}

impl Inbox {
    fn push(&self, frame: Vec<u8>, meta: TunnelMeta) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() >= INBOX_MAX {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = q.is_empty();
        q.push_back((frame, meta));
        drop(q);
        if was_empty {
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
        let _ = nix::sys::socket::shutdown(
            std::os::fd::AsRawFd::as_raw_fd(&self.rx),
            nix::sys::socket::Shutdown::Read,
        );
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

    /// Hands one datagram from `src` to the port it belongs to.
    fn deliver(&self, d: &[u8], src: SocketAddr) {
        let SocketAddr::V4(src) = src else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some((vni, frame)) = parse_vxlan(d) else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let live = |m: &&Member| *src.ip() == m.remote && !m.inbox.closed.load(Ordering::Relaxed);
        let target = members
            .iter()
            .filter(live)
            .find(|m| m.key == VxlanKey::Fixed(vni))
            .or_else(|| {
                members
                    .iter()
                    .filter(live)
                    .find(|m| m.key == VxlanKey::Flow)
            });
        let Some(m) = target else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let meta = TunnelMeta {
            tunnel_id: u64::from(vni),
            ipv4_src: u32::from(*src.ip()),
            ipv4_dst: u32::from(*self.local.ip()),
            tos: 0,
            ttl: 0,
            flags: tun_flags::PRESENT,
            tp_dst: self.local.port(),
        };
        m.inbox.push(frame.to_vec(), meta);
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

fn receive_loop(sock: &UdpSocket, ep: &Weak<Endpoint>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, src)) => {
                let Some(ep) = ep.upgrade() else { return };
                if n > 0 {
                    ep.deliver(&buf[..n], src);
                }
            }
            Err(e) => {
                if ep.strong_count() == 0 {
                    return;
                }
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) {
                    // ICMP errors (port unreachable) surface here; keep going.
                    std::thread::sleep(Duration::from_millis(1));
                }
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
    buf: Mutex<Vec<u8>>,
}

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
    Ok((
        VxlanPort {
            cfg: *cfg,
            remote: SocketAddrV4::new(cfg.remote_ip, cfg.dst_port),
            ep,
            id,
            buf: Mutex::new(Vec::with_capacity(2048)),
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

impl VxlanPort {
    /// Encapsulates and sends a batch (software-finishing any offload).
    pub fn send_batch(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        let mut buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, p) in pkts.iter().enumerate() {
            let vni = match self.cfg.key {
                VxlanKey::Fixed(n) => n,
                VxlanKey::Flow => {
                    u32::try_from(p.meta.tunnel.tunnel_id & u64::from(VNI_MAX)).unwrap_or(0)
                }
            };
            let header = [
                FLAG_I,
                0,
                0,
                0,
                vni.to_be_bytes()[1],
                vni.to_be_bytes()[2],
                vni.to_be_bytes()[3],
                0,
            ];
            plan_batch(&pkts[i..=i], false, scratch, &mut out);
            for m in &scratch.plan {
                buf.clear();
                buf.extend_from_slice(&header);
                match *m {
                    Msg::Frame { patch, .. } => {
                        let f = p.data();
                        match patch {
                            Some((off, ref b)) if off + 2 <= f.len() => {
                                buf.extend_from_slice(&f[..off]);
                                buf.extend_from_slice(b);
                                buf.extend_from_slice(&f[off + 2..]);
                            }
                            _ => buf.extend_from_slice(f),
                        }
                    }
                    Msg::Segment { seg, .. } => buf.extend_from_slice(&scratch.segments[seg]),
                }
                let inner = &buf[VXLAN_HLEN..];
                let sock = &self.ep.tx[flow_hash(inner) as usize % self.ep.tx.len()];
                match sock.send_to(&buf, self.remote) {
                    Ok(_) => {
                        out.sent += 1;
                        out.bytes += inner.len() as u64;
                    }
                    Err(e) => match e.raw_os_error() {
                        Some(
                            libc::EAGAIN
                            | libc::ENOBUFS
                            | libc::EMSGSIZE
                            | libc::ECONNREFUSED
                            | libc::EHOSTUNREACH
                            | libc::ENETUNREACH,
                        ) => out.dropped += 1,
                        _ => out.errors += 1,
                    },
                }
            }
        }
        out
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
            let Some((frame, meta)) = q.pop_front() else {
                break;
            };
            let p = &mut pkts[n];
            let area = p.reset_for_rx(DEFAULT_HEADROOM);
            if frame.len() > area.len() {
                self.inbox.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            area[..frame.len()].copy_from_slice(&frame);
            p.set_len(frame.len());
            p.meta.tunnel = meta;
            n += 1;
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
}
