//! An impaired "WAN" between two namespaces: a middle namespace with one
//! veth to each side that delays every frame by a fixed time and drops a
//! fixed share of them, so that tests can show what a slow, lossy underlay
//! does to an overlay.
//!
//! Two ways to impair, chosen at set-up:
//!
//! - **netem**, when the kernel has `sch_netem`: the middle namespace
//!   bridges its two veths and each gets a `netem delay … loss …` root
//!   qdisc (one per direction). Drop counts come from `tc -s qdisc`.
//! - **A relay in the test process** otherwise (kernels built without
//!   netem, as CI's is). One thread per direction, entered into the middle
//!   namespace with `setns`, reads every frame from one veth with an
//!   AF_PACKET socket, drops it with probability `loss_ppm` / 10⁶ (a
//!   seeded xorshift, so a run is repeatable), else puts it on a timed
//!   queue and writes it to the other veth once `delay` has passed. A
//!   thread waits in `poll` until the next frame is due or one arrives, so
//!   there is no sleep per frame. Each frame is also shown to a caller's
//!   `watch` function; frames it picks are counted apart (forwarded and
//!   dropped), which is how a test accounts for every frame of one stream.
//!
//!   The relay moves wire frames, so the outer sides stop handing the veth
//!   unfinished checksums and GSO super-frames: their transmit checksum
//!   offload is turned off (`SIOCETHTOOL`), which makes the kernel finish
//!   checksums and segment in software before the frame reaches the relay.
//!
//! The relay is bounded: it stops by itself after [`MAX_LIFE`] or
//! [`MAX_FRAMES`] frames, and [`Wan`]'s `Drop` stops and joins it before the
//! middle namespace (and with it both veth pairs) is deleted.

use super::{veth, Link, Netns};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a relay runs.
pub const MAX_LIFE: Duration = Duration::from_secs(600);
/// The most frames one relay direction reads before it stops.
pub const MAX_FRAMES: u64 = 20_000_000;
/// Frames a direction holds in its delay queue before it drops (counted
/// as overflow).
const QUEUE_MAX: usize = 200_000;
/// The longest a relay thread waits before it checks whether to stop.
const IDLE: Duration = Duration::from_millis(20);
/// `ETHTOOL_STXCSUM` (linux/ethtool.h): set transmit checksum offload.
const ETHTOOL_STXCSUM: u32 = 0x17;

/// How the WAN treats frames.
#[derive(Clone, Copy, Debug)]
pub struct WanConfig {
    /// One-way delay of every frame.
    pub delay: Duration,
    /// Frames dropped, in parts per million (10 000 is 1 %).
    pub loss_ppm: u32,
    /// Seed of the relay's loss decisions.
    pub seed: u64,
}

/// A direction through the WAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the left namespace to the right one.
    LeftToRight,
    /// From the right namespace to the left one.
    RightToLeft,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::LeftToRight => 0,
            Dir::RightToLeft => 1,
        }
    }
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Frames that entered the WAN.
    pub received: u64,
    /// Frames the WAN dropped on purpose (the loss rate).
    pub dropped: u64,
    /// Frames written to the far side.
    pub forwarded: u64,
    /// Frames that could not be written (or found the delay queue full).
    pub errors: u64,
    /// Frames picked by `watch` that were forwarded (relay only).
    pub watched_forwarded: u64,
    /// Frames picked by `watch` that were dropped (relay only).
    pub watched_dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    forwarded: AtomicU64,
    errors: AtomicU64,
    watched_forwarded: AtomicU64,
    watched_dropped: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> DirStats {
        DirStats {
            received: self.received.load(Ordering::SeqCst),
            dropped: self.dropped.load(Ordering::SeqCst),
            forwarded: self.forwarded.load(Ordering::SeqCst),
            errors: self.errors.load(Ordering::SeqCst),
            watched_forwarded: self.watched_forwarded.load(Ordering::SeqCst),
            watched_dropped: self.watched_dropped.load(Ordering::SeqCst),
        }
    }
}

/// The relay threads of a WAN without netem.
#[derive(Debug)]
struct Relay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<[Counters; 2]>,
}

/// A WAN between two namespaces; see the module documentation. Dropping
/// it stops the relay and deletes the middle namespace and the veths.
#[derive(Debug)]
pub struct Wan {
    relay: Option<Relay>,
    /// The middle namespace's ends: towards the left, towards the right.
    ends: [String; 2],
    /// The middle namespace (deleted last).
    pub ns: Netns,
}

impl Wan {
    /// Joins `left_if` in `left` and `right_if` in `right` through a new
    /// middle namespace `{p}wan` (its ends `{p}wl` and `{p}wr`) that
    /// applies `cfg`; `watch` picks the frames to count apart.
    pub fn new(
        p: &str,
        (left, left_if): (&Netns, &str),
        (right, right_if): (&Netns, &str),
        cfg: WanConfig,
        watch: fn(&[u8]) -> bool,
    ) -> Wan {
        let ns = Netns::new(&format!("{p}wan"));
        let ends = [format!("{p}wl"), format!("{p}wr")];
        let _: Link = veth(left_if, Some(left), &ends[0], Some(&ns));
        let _: Link = veth(right_if, Some(right), &ends[1], Some(&ns));
        let mut wan = Wan {
            relay: None,
            ends,
            ns,
        };
        if wan.try_netem(p, cfg) {
            return wan;
        }
        transmit_checksum_off(left, left_if);
        transmit_checksum_off(right, right_if);
        let stop = Arc::new(AtomicBool::new(false));
        let counters: Arc<[Counters; 2]> = Arc::new(Default::default());
        let mut threads = Vec::new();
        for dir in [Dir::LeftToRight, Dir::RightToLeft] {
            let (from, to) = match dir {
                Dir::LeftToRight => (wan.ends[0].clone(), wan.ends[1].clone()),
                Dir::RightToLeft => (wan.ends[1].clone(), wan.ends[0].clone()),
            };
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
            let seed = cfg.seed ^ (0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(dir.index() as u64 + 1));
            threads.push(wan.ns.spawn(move || match RelaySockets::open(&from, &to) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    relay_loop(&s, cfg, seed, watch, &counters[dir.index()], &stop);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                }
            }));
            match ready_rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("WAN relay {dir:?}: {e}"),
                Err(e) => panic!("WAN relay {dir:?} did not start: {e}"),
            }
        }
        wan.relay = Some(Relay {
            stop,
            threads,
            counters,
        });
        wan
    }

    /// Bridges the two ends with netem on each; `false` when the kernel
    /// has no netem (any other failure of `tc` panics).
    fn try_netem(&self, p: &str, cfg: WanConfig) -> bool {
        let delay = format!("{}ms", cfg.delay.as_millis());
        let loss = format!("{}%", f64::from(cfg.loss_ppm) / 10_000.0);
        for (i, end) in self.ends.iter().enumerate() {
            let out = self.ns.run(&[
                "tc", "qdisc", "add", "dev", end, "root", "netem", "delay", &delay, "loss", &loss,
            ]);
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                assert!(
                    i == 0 && (why.contains("unknown") || why.contains("No such file")),
                    "tc netem on {end}: {why}"
                );
                eprintln!("WAN: this kernel has no netem ({why}); relaying in the test");
                return false;
            }
        }
        let br = format!("{p}wbr");
        self.ns.must(&["ip", "link", "add", &br, "type", "bridge"]);
        for end in &self.ends {
            self.ns.must(&["ip", "link", "set", end, "master", &br]);
        }
        self.ns.must(&["ip", "link", "set", &br, "up"]);
        true
    }

    /// Whether the test process relays (no netem in this kernel).
    pub fn is_relay(&self) -> bool {
        self.relay.is_some()
    }

    /// The counters of `dir` so far. With netem, only `forwarded` and
    /// `dropped` are known (from the qdisc of the far end's veth).
    pub fn stats(&self, dir: Dir) -> DirStats {
        if let Some(r) = &self.relay {
            return r.counters[dir.index()].snapshot();
        }
        // Frames towards the right leave the middle namespace on its
        // right end, whose qdisc delays and drops them.
        let end = &self.ends[1 - dir.index()];
        let text = self.ns.must(&["tc", "-s", "qdisc", "show", "dev", end]);
        let (sent, dropped) = parse_qdisc_stats(&text);
        DirStats {
            received: sent + dropped,
            dropped,
            forwarded: sent,
            ..DirStats::default()
        }
    }
}

impl Drop for Wan {
    fn drop(&mut self) {
        if let Some(r) = self.relay.take() {
            r.stop.store(true, Ordering::SeqCst);
            for t in r.threads {
                let _ = t.join();
            }
        }
    }
}

/// `(packets sent, dropped)` of the first qdisc in `tc -s qdisc` output
/// (" Sent B bytes P pkt (dropped D, ...").
fn parse_qdisc_stats(text: &str) -> (u64, u64) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut sent = 0;
    let mut dropped = 0;
    for (i, w) in words.iter().enumerate() {
        if *w == "pkt" && i > 0 {
            sent = words[i - 1].parse().unwrap_or(0);
        }
        if *w == "(dropped" {
            if let Some(d) = words.get(i + 1) {
                dropped = d.trim_end_matches(',').parse().unwrap_or(0);
            }
            break;
        }
    }
    (sent, dropped)
}

/// Turns off transmit checksum offload of `dev` in `ns` (and with it the
/// GSO the device would pass on): frames leave it finished and
/// wire-sized.
fn transmit_checksum_off(ns: &Netns, dev: &str) {
    let name = dev.to_owned();
    let r = ns
        .spawn(move || -> std::io::Result<()> {
            // SAFETY: plain system call; the descriptor is checked and owned below.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `fd` was just opened and is owned by this value alone.
            let sock = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut value = [ETHTOOL_STXCSUM, 0u32];
            // SAFETY: an all-zero ifreq is a valid value of the type.
            let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes().take(15)) {
                *d = libc::c_char::from_ne_bytes([s]);
            }
            ifr.ifr_ifru.ifru_data = value.as_mut_ptr().cast();
            // SAFETY: SIOCETHTOOL reads the interface name and the
            // ethtool_value that `ifru_data` points to; both outlive the call.
            let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &raw mut ifr) };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
        .join()
        .expect("ethtool thread");
    if let Err(e) = r {
        panic!("turning off transmit checksum offload of {dev}: {e}");
    }
}

/// A seeded xorshift64 generator (repeatable loss decisions).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Whether an event of probability `ppm` / 10⁶ happens.
    pub fn chance(&mut self, ppm: u32) -> bool {
        self.next_u64() % 1_000_000 < u64::from(ppm)
    }
}

/// A relay direction's sockets: one receiving every frame of the entry
/// end, one sending (and receiving nothing) on the exit end.
struct RelaySockets {
    rx: OwnedFd,
    tx: OwnedFd,
    tx_ifindex: i32,
}

fn ifindex(dev: &str) -> std::io::Result<i32> {
    let name = std::ffi::CString::new(dev).map_err(std::io::Error::other)?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if i == 0 {
        return Err(std::io::Error::last_os_error());
    }
    i32::try_from(i).map_err(std::io::Error::other)
}

fn packet_socket(ifindex: i32, protocol: u16) -> std::io::Result<OwnedFd> {
    // SAFETY: plain system call; the descriptor is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(protocol.to_be()),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by this value alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(0);
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: `sll` is a valid sockaddr_ll of the length given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast(),
            u32::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(0),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

impl RelaySockets {
    fn open(from: &str, to: &str) -> std::io::Result<RelaySockets> {
        let eth_p_all = u16::try_from(libc::ETH_P_ALL).unwrap_or(3);
        let rx = packet_socket(ifindex(from)?, eth_p_all)?;
        let one: libc::c_int = 1;
        // SAFETY: sets an int socket option on an open socket (best effort:
        // outgoing frames are also skipped by their packet type below).
        unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&raw const one).cast(),
                4,
            );
        }
        let big: libc::c_int = 8 << 20;
        // SAFETY: sets an int socket option on an open socket.
        unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const big).cast(),
                4,
            );
        }
        let tx_ifindex = ifindex(to)?;
        let tx = packet_socket(tx_ifindex, 0)?;
        Ok(RelaySockets { rx, tx, tx_ifindex })
    }

    /// The next frame of the entry end (skipping the relay's own output),
    /// or `None` when there is none now.
    fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = u32::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(0);
            // SAFETY: `buf` and `sll` are valid for writes of the lengths given.
            let n = unsafe {
                libc::recvfrom(
                    self.rx.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&raw mut sll).cast(),
                    &raw mut len,
                )
            };
            let n = usize::try_from(n).ok()?;
            if sll.sll_pkttype == libc::PACKET_OUTGOING || n > buf.len() || n < 14 {
                continue;
            }
            return Some(n);
        }
    }

    fn send(&self, frame: &[u8]) -> bool {
        // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(0);
        sll.sll_ifindex = self.tx_ifindex;
        sll.sll_protocol = u16::from_ne_bytes([frame[12], frame[13]]);
        // SAFETY: `frame` and `sll` are valid for reads of the lengths given.
        let n = unsafe {
            libc::sendto(
                self.tx.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                u32::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(0),
            )
        };
        usize::try_from(n).is_ok_and(|n| n == frame.len())
    }
}

/// One direction: read, decide, hold for `cfg.delay`, write; until told
/// to stop, [`MAX_LIFE`] passes or [`MAX_FRAMES`] frames were read.
fn relay_loop(
    s: &RelaySockets,
    cfg: WanConfig,
    seed: u64,
    watch: fn(&[u8]) -> bool,
    c: &Counters,
    stop: &AtomicBool,
) {
    let mut rng = Rng::new(seed);
    let mut queue: VecDeque<(Instant, Vec<u8>, bool)> = VecDeque::new();
    let mut buf = vec![0u8; 65_536];
    let end = Instant::now() + MAX_LIFE;
    let mut frames = 0u64;
    while !stop.load(Ordering::SeqCst) && Instant::now() < end && frames < MAX_FRAMES {
        let now = Instant::now();
        let wait = queue
            .front()
            .map_or(IDLE, |(due, _, _)| due.saturating_duration_since(now))
            .min(IDLE);
        let ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(20);
        let mut p = libc::pollfd {
            fd: s.rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&raw mut p, 1, ms) };
        while let Some(n) = s.recv(&mut buf) {
            frames += 1;
            let frame = &buf[..n];
            let watched = watch(frame);
            c.received.fetch_add(1, Ordering::SeqCst);
            if rng.chance(cfg.loss_ppm) {
                c.dropped.fetch_add(1, Ordering::SeqCst);
                if watched {
                    c.watched_dropped.fetch_add(1, Ordering::SeqCst);
                }
                continue;
            }
            if queue.len() >= QUEUE_MAX {
                c.errors.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            queue.push_back((Instant::now() + cfg.delay, frame.to_vec(), watched));
            if frames >= MAX_FRAMES {
                break;
            }
        }
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _, _)| *due <= now) {
            let Some((_, frame, watched)) = queue.pop_front() else {
                break;
            };
            if s.send(&frame) {
                c.forwarded.fetch_add(1, Ordering::SeqCst);
                if watched {
                    c.watched_forwarded.fetch_add(1, Ordering::SeqCst);
                }
            } else {
                c.errors.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
