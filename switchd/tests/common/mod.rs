//! The namespace test harness: network namespaces standing for hosts or
//! containers, veth pairs between them, a `switchd run` process with a
//! private run and state directory, and traffic helpers that run inside a
//! namespace (a thread that `setns`es, so no external tool is needed).
//!
//! Everything cleans up on `Drop`, also when a test fails: namespaces are
//! deleted (which deletes the veths in them), links created in the root
//! namespace are deleted, and the daemon is killed by its PID. Names carry
//! a per-test prefix ([`prefix`]) so that tests run in parallel, and
//! addresses come from 198.18.0.0/15.
//!
//! Tests that need root and `ip` skip with a message when they are missing,
//! unless `SWITCH_REQUIRE_PEERS` is set (CI), in which case they fail.
#![allow(dead_code)] // Each test file uses a different part of the harness.

pub mod wan;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether the environment can run namespace tests; when it cannot, either
/// panics (`SWITCH_REQUIRE_PEERS` set) or prints why and returns `false`.
pub fn can_run(test: &str) -> bool {
    let why = if !is_root() {
        Some("not running as root")
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("the `ip` command is missing")
    } else {
        None
    };
    match why {
        None => true,
        Some(w) if std::env::var_os("SWITCH_REQUIRE_PEERS").is_some() => {
            panic!("{test}: {w}, and SWITCH_REQUIRE_PEERS is set")
        }
        Some(w) => {
            eprintln!("{test}: skipped: {w}");
            false
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A unique prefix for this test's names: `s{pid%10000}{n}` (at most 8
/// bytes, leaving 7 for a suffix within Linux's 15-byte interface names).
pub fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!(
        "s{}{}",
        std::process::id() % 10_000,
        char::from(b'a' + low8(n % 26))
    )
}

/// The low 16 bits.
pub fn low16(v: u32) -> u16 {
    u16::try_from(v & 0xffff).unwrap_or(0)
}

fn low8(v: u32) -> u8 {
    u8::try_from(v & 0xff).unwrap_or(0)
}

/// Runs a command, returning its output; panics if it cannot start.
pub fn run(cmd: &[&str]) -> Output {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Runs a command that must succeed.
pub fn must(cmd: &[&str]) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// Its name (`ip netns` name).
    pub name: String,
}

impl Netns {
    /// Creates namespace `name` with loopback up and IPv6 off (so that no
    /// unsolicited traffic muddies counters).
    pub fn new(name: &str) -> Netns {
        let _ = run(&["ip", "netns", "del", name]);
        must(&["ip", "netns", "add", name]);
        let ns = Netns {
            name: name.to_owned(),
        };
        ns.must(&["ip", "link", "set", "lo", "up"]);
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        ns
    }

    /// Runs a command inside the namespace.
    pub fn run(&self, cmd: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(cmd);
        run(&full)
    }

    /// Runs a command inside the namespace that must succeed; returns stdout.
    pub fn must(&self, cmd: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(cmd);
        must(&full)
    }

    /// A `Command` that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Sets a sysctl inside the namespace (best effort).
    pub fn sysctl(&self, key: &str, value: &str) {
        let _ = self.run(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// Gives `dev` an address and brings it up.
    pub fn addr(&self, dev: &str, cidr: &str) {
        self.must(&["ip", "addr", "add", cidr, "dev", dev]);
        self.must(&["ip", "link", "set", dev, "up"]);
    }

    /// Pings `ip` `count` times (an ICMP echo every 0.2 s, each answered
    /// within 1 s); whether every reply came. Needs no `ping` binary.
    pub fn ping(&self, ip: &str, count: u32) -> bool {
        let dst: std::net::Ipv4Addr = ip.parse().expect("an IPv4 address");
        self.spawn(move || icmp_echo(dst, count, Duration::from_secs(1)))
            .join()
            .unwrap_or(false)
    }

    /// Pings until one reply comes or `timeout` passes.
    pub fn ping_until(&self, ip: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.ping(ip, 1) {
                return true;
            }
        }
        false
    }

    /// A counter of interface `dev` (`rx_packets`, `tx_bytes`, ...).
    pub fn counter(&self, dev: &str, name: &str) -> u64 {
        self.must(&["cat", &format!("/sys/class/net/{dev}/statistics/{name}")])
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Runs `f` on a thread that has entered this namespace (sockets it
    /// opens live there).
    pub fn spawn<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> std::thread::JoinHandle<R> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: `file` is an open namespace file; setns only changes
            // this thread's network namespace.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// Sends `count` ICMP echo requests to `dst` from the calling thread's
/// namespace, 0.2 s apart; whether each got its reply within `wait`.
pub fn icmp_echo(dst: std::net::Ipv4Addr, count: u32, wait: Duration) -> bool {
    static ID: AtomicU32 = AtomicU32::new(0);
    let id = low16((std::process::id() << 4) ^ ID.fetch_add(1, Ordering::SeqCst));
    // SAFETY: plain system call; the descriptor is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just opened and is owned by this value alone.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: an all-zero sockaddr_in is a valid value of the type.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::sa_family_t::try_from(libc::AF_INET).unwrap();
    sa.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
    for seq in 0..count {
        let mut pkt = [0u8; 24];
        pkt[0] = 8;
        pkt[4..6].copy_from_slice(&id.to_be_bytes());
        pkt[6..8].copy_from_slice(&low16(seq).to_be_bytes());
        pkt[8..].copy_from_slice(b"switchd-harness!");
        let mut sum = 0u32;
        for c in pkt.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        pkt[2..4].copy_from_slice(&(!low16(sum)).to_be_bytes());
        // SAFETY: `pkt` and `sa` are valid for the lengths given.
        let r = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                (&raw const sa).cast(),
                libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>()).unwrap(),
            )
        };
        if r < 0 {
            return false;
        }
        let end = Instant::now() + wait;
        let mut ok = false;
        while !ok {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut p = libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&raw mut p, 1, ms) } <= 0 {
                return false;
            }
            let mut buf = [0u8; 256];
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe {
                libc::recv(
                    sock.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 28 {
                continue;
            }
            let ihl = usize::from(buf[0] & 0xf) * 4;
            let icmp = &buf[ihl.min(256)..usize::try_from(n).unwrap_or(0).max(ihl.min(256))];
            ok = buf[12..16] == dst.octets()
                && icmp.len() >= 8
                && icmp[0] == 0
                && icmp[4..6] == id.to_be_bytes()
                && icmp[6..8] == low16(seq).to_be_bytes();
        }
        if seq + 1 < count {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    true
}

/// Creates a veth pair `a`—`b`, each end moved into a namespace (or left
/// in the root namespace for `None`) and brought up. Ends in the root
/// namespace are deleted by the returned guard; ends in a namespace go with it.
pub fn veth(a: &str, a_ns: Option<&Netns>, b: &str, b_ns: Option<&Netns>) -> Link {
    let _ = run(&["ip", "link", "del", a]);
    must(&["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
    let link = Link {
        names: [a, b]
            .iter()
            .zip([a_ns, b_ns])
            .filter(|(_, ns)| ns.is_none())
            .map(|(n, _)| (*n).to_owned())
            .collect(),
    };
    for (name, ns) in [(a, a_ns), (b, b_ns)] {
        match ns {
            Some(ns) => {
                must(&["ip", "link", "set", name, "netns", &ns.name]);
                ns.must(&["ip", "link", "set", name, "up"]);
            }
            None => {
                must(&["ip", "link", "set", name, "up"]);
            }
        }
    }
    link
}

/// Links in the root namespace, deleted on drop.
#[derive(Debug)]
pub struct Link {
    names: Vec<String>,
}

impl Drop for Link {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = run(&["ip", "link", "del", n]);
        }
    }
}

/// A private directory, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    /// The path.
    pub path: PathBuf,
}

impl TempDir {
    /// A fresh directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "switchd-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running `switchd run`, killed (by PID) on drop.
#[derive(Debug)]
pub struct Switchd {
    child: Option<Child>,
    /// Its directories (`run`, `state`) and log (`switchd.log`).
    pub dir: TempDir,
}

impl Switchd {
    /// Starts `switchd run ARGS` inside `ns` (or the root namespace), with
    /// private run and state directories, and waits until it logs that it
    /// is ready. Panics with the log if it exits or is not ready in 20 s.
    pub fn start(ns: Option<&Netns>, args: &[&str]) -> Switchd {
        Switchd::spawn(ns, args).wait_ready()
    }

    /// Starts without waiting.
    pub fn spawn(ns: Option<&Netns>, args: &[&str]) -> Switchd {
        let dir = TempDir::new("d");
        let run_dir = dir.path.join("run");
        let state_dir = dir.path.join("state");
        let log = File::create(dir.path.join("switchd.log")).unwrap();
        let bin = env!("CARGO_BIN_EXE_switchd");
        let mut cmd = match ns {
            Some(ns) => ns.command(bin),
            None => Command::new(bin),
        };
        cmd.arg("run")
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--state-dir")
            .arg(&state_dir)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("SWITCHD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let child = cmd.spawn().expect("spawn switchd");
        Switchd {
            child: Some(child),
            dir,
        }
    }

    /// The run directory.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.path.join("run")
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path.join("state")
    }

    /// The management socket (`<run_dir>/switchd.ctl`).
    pub fn ctl_socket(&self) -> PathBuf {
        self.run_dir().join("switchd.ctl")
    }

    /// The OpenFlow socket of `bridge` (`<run_dir>/<bridge>.mgmt`).
    pub fn of_socket(&self, bridge: &str) -> PathBuf {
        self.run_dir().join(format!("{bridge}.mgmt"))
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("switchd.log")).unwrap_or_default()
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Waits for `needle` in the log.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().contains(needle) {
                return true;
            }
            if !self.alive() {
                return self.log().contains(needle);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn wait_ready(mut self) -> Switchd {
        if !self.wait_log("switchd ready", Duration::from_secs(20)) {
            let alive = self.alive();
            panic!("switchd not ready (alive: {alive}); log:\n{}", self.log());
        }
        self
    }

    /// Sends SIGTERM and waits up to 10 s for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: signals the child this guard started, by PID.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Switchd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- switchd log ---\n{}", self.log());
        }
    }
}

/// A deterministic byte stream (xorshift), so that a receiver can check
/// what a sender sent without either keeping it.
#[derive(Clone, Debug)]
pub struct Pattern(u64);

impl Pattern {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Pattern {
        Pattern(seed | 1)
    }

    /// Fills `buf` with the next bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Sends up to `total` pattern bytes over TCP from namespace `from` to a
/// listener in namespace `to` at `addr` and returns (bytes sent, bytes
/// received intact, seconds). The receiver checks every byte; the transfer
/// is bounded by `timeout`.
pub fn tcp_transfer(
    from: &Netns,
    to: &Netns,
    addr: SocketAddr,
    total: u64,
    timeout: Duration,
) -> (u64, u64, f64) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = to.spawn(move || {
        let l = TcpListener::bind(addr).expect("bind");
        ready_tx.send(()).unwrap();
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(timeout)).unwrap();
        let mut pat = Pattern::new(7);
        let mut buf = vec![0u8; 1 << 16];
        let mut want = vec![0u8; 1 << 16];
        let mut want_pos = want.len();
        let mut got = 0u64;
        let start = Instant::now();
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut off = 0;
            while off < n {
                if want_pos == want.len() {
                    pat.fill(&mut want);
                    want_pos = 0;
                }
                let take = (n - off).min(want.len() - want_pos);
                if buf[off..off + take] != want[want_pos..want_pos + take] {
                    return (got, start.elapsed().as_secs_f64());
                }
                want_pos += take;
                off += take;
                got += take as u64;
            }
            if start.elapsed() > timeout {
                break;
            }
        }
        (got, start.elapsed().as_secs_f64())
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");
    let client = from.spawn(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
        s.set_write_timeout(Some(timeout)).unwrap();
        let mut pat = Pattern::new(7);
        let mut buf = vec![0u8; 1 << 16];
        let mut sent = 0u64;
        let start = Instant::now();
        while sent < total && start.elapsed() < timeout {
            let n = usize::try_from((total - sent).min(buf.len() as u64)).unwrap();
            pat.fill(&mut buf[..n]);
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n as u64;
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        sent
    });
    let sent = client.join().expect("client");
    let (got, secs) = server.join().expect("server");
    (sent, got, secs)
}

/// Sends 64-byte frames (18-byte UDP payloads) from `from` to `addr` in
/// `to` for `secs` seconds as fast as `sendmmsg` allows; returns (sent,
/// received) packet counts.
pub fn udp_flood(
    from: &Netns,
    to: &Netns,
    src: SocketAddr,
    addr: SocketAddr,
    secs: f64,
) -> (u64, u64) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_rx = std::sync::Arc::clone(&stop);
    let server = to.spawn(move || {
        let s = UdpSocket::bind(addr).expect("bind");
        let fd = s.as_raw_fd();
        let big: libc::c_int = 32 << 20;
        // SAFETY: sets an int socket option on an open socket.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const big).cast(),
                4,
            );
        }
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut got = 0u64;
        let mut bufs = vec![[0u8; 64]; 64];
        loop {
            let mut iov: Vec<libc::iovec> = bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.as_mut_ptr().cast(),
                    iov_len: 64,
                })
                .collect();
            // SAFETY: zeroed mmsghdr is valid.
            let mut msgs: Vec<libc::mmsghdr> =
                (0..64).map(|_| unsafe { std::mem::zeroed() }).collect();
            for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: msgs/iov point to live buffers.
            let r = unsafe {
                libc::recvmmsg(
                    fd,
                    msgs.as_mut_ptr(),
                    64,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if r > 0 {
                got += r as u64;
            } else if stop_rx.load(Ordering::SeqCst) {
                break;
            }
        }
        got
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");
    let client = from.spawn(move || {
        let s = UdpSocket::bind(src).expect("bind");
        s.connect(addr).unwrap();
        let fd = s.as_raw_fd();
        let payload = [0x5au8; 18];
        let mut sent = 0u64;
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < secs {
            let mut iov: Vec<libc::iovec> = (0..64)
                .map(|_| libc::iovec {
                    iov_base: payload.as_ptr().cast_mut().cast(),
                    iov_len: payload.len(),
                })
                .collect();
            // SAFETY: zeroed mmsghdr is valid.
            let mut msgs: Vec<libc::mmsghdr> =
                (0..64).map(|_| unsafe { std::mem::zeroed() }).collect();
            for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: msgs/iov point to live buffers.
            let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), 64, 0) };
            if r > 0 {
                sent += r as u64;
            }
        }
        sent
    });
    let sent = client.join().expect("client");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let got = server.join().expect("server");
    (sent, got)
}

/// Waits until `path` exists.
pub fn wait_path(path: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
