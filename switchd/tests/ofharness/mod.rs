//! Test support for the OpenFlow channel tests: a `switchd` process per
//! test, a small blocking OpenFlow controller on `controller-proto`,
//! network namespaces joined to the switch by veths, and `ovs-ofctl`.
//!
//! Everything a test creates carries a per-test, per-process prefix and is
//! removed on drop (so also when the test fails); processes are killed by
//! their own PID only. Traffic stays inside the namespaces, on 198.18.0.0/15.

#![allow(dead_code)]

use controller_proto::conn::{Config, Connection, Event, Outcome, Side};
use controller_proto::controller::AsyncConfig;
use controller_proto::error::ErrorMsg;
use controller_proto::message::Message;
use controller_proto::multipart::{
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use controller_proto::oxm::OfpMatch;
use controller_proto::packet_io::PacketIn;
use controller_proto::stats_flow::FlowStatsRequest;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether tests must run their external peers rather than skip.
pub fn peers_required() -> bool {
    std::env::var_os("SWITCH_REQUIRE_PEERS").is_some()
}

/// Skips (false) or fails when `what` is missing.
pub fn missing(what: &str) -> bool {
    assert!(
        !peers_required(),
        "{what} is required (SWITCH_REQUIRE_PEERS is set)"
    );
    eprintln!("skipping: {what} is not available");
    false
}

/// A free TCP port on the loopback address.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn pid_tag() -> u32 {
    std::process::id() % 10_000
}

/// A `switchd run` process with its own directories and `ptcp:` listener.
pub struct Switchd {
    child: Child,
    dir: PathBuf,
    port: u16,
    bridge: String,
}

impl Switchd {
    /// Starts a bridge named after the test with `ports`, listening on a free loopback port,
    /// fail mode secure, and waits until it accepts OpenFlow connections.
    pub fn start(name: &str, ports: &[String]) -> Switchd {
        Switchd::start_with(name, ports, &[])
    }

    /// As [`Switchd::start`], with more `switchd run` arguments.
    pub fn start_with(name: &str, ports: &[String], extra: &[String]) -> Switchd {
        let dir = std::env::temp_dir().join(format!("swof-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        let port = free_port();
        // The bridge's LOCAL port is a kernel interface: its name must not
        // collide with another test's.
        let bridge = format!("{}{}", &name[..name.len().min(6)], pid_tag());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchd"));
        cmd.arg("run")
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--bridge")
            .arg(&bridge)
            .arg("--threads")
            .arg("1")
            .arg("--listen")
            .arg(format!("ptcp:{port}:127.0.0.1"));
        if !extra.iter().any(|a| a == "--fail-mode") {
            cmd.arg("--fail-mode").arg("secure");
        }
        for p in ports {
            cmd.arg("--port").arg(p);
        }
        cmd.args(extra);
        let log = std::fs::File::create(dir.join("switchd.log")).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = cmd.spawn().expect("switchd starts");
        let mut sw = Switchd {
            child,
            dir,
            port,
            bridge,
        };
        sw.wait_ready();
        sw
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.mgmt().exists() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("switchd exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "switchd did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("switchd.log")).unwrap_or_default()
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `ptcp:` listener's address.
    pub fn ptcp(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The listener as an `ovs-ofctl` target.
    pub fn ptcp_ofctl(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    /// The bridge's management socket.
    pub fn mgmt(&self) -> PathBuf {
        self.dir.join("run").join(format!("{}.mgmt", self.bridge))
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Switchd {
    fn drop(&mut self) {
        // SIGTERM first, so the daemon removes what it created.
        let pid = nix_pid(&self.child);
        // SAFETY: kill(2) on the PID of a child this test spawned and has
        // not reaped yet, so the PID cannot name another process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("switchd log:\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nix_pid(c: &Child) -> i32 {
    i32::try_from(c.id()).unwrap_or(0)
}

/// Runs `ovs-ofctl -O OpenFlow13` with `args`; its stdout, or its stderr
/// as the error.
pub fn ofctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ovs-ofctl")
        .arg("-O")
        .arg("OpenFlow13")
        .arg("--timeout=10")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ovs-ofctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// Whether `ovs-ofctl` is installed (fails the test when it must be).
pub fn have_ovs_ofctl() -> bool {
    Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || missing("ovs-ofctl (openvswitch-common)")
}

// ---------------------------------------------------------------------------
// A blocking OpenFlow controller.

/// A controller connection for tests.
pub struct TestCtl {
    conn: Connection,
    sock: TcpStream,
    events: VecDeque<Event>,
    raw_xid: u32,
}

impl TestCtl {
    /// Connects to `addr` and completes the handshake.
    pub fn connect(addr: &str) -> TestCtl {
        let sock = TcpStream::connect(addr).expect("connect to the switch");
        TestCtl::over(sock)
    }

    /// Completes the handshake on an accepted or dialled socket.
    pub fn over(sock: TcpStream) -> TestCtl {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let _ = sock.set_nodelay(true);
        let mut c = TestCtl {
            conn: Connection::new(
                Config {
                    probe_interval_ms: 0,
                    ..Config::new(Side::Controller)
                },
                0,
            ),
            sock,
            events: VecDeque::new(),
            raw_xid: 0xee00_0000,
        };
        c.wait(Duration::from_secs(10), |e| {
            matches!(e, Event::Connected { .. })
        })
        .expect("handshake");
        c
    }

    fn pump(&mut self) -> bool {
        while let Some(b) = self.conn.poll_transmit() {
            if self.sock.write_all(&b).is_err() {
                return false;
            }
        }
        let mut buf = [0u8; 65536];
        match self.sock.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.conn.handle_input(&buf[..n], 0);
                while let Some(e) = self.conn.poll_event() {
                    self.events.push_back(e);
                }
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                true
            }
            Err(_) => false,
        }
    }

    /// Waits up to `timeout` for an event `f` accepts (earlier events that
    /// it does not accept are kept for later waits).
    pub fn wait(&mut self, timeout: Duration, f: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.events.iter().position(&f) {
                return self.events.remove(i);
            }
            if Instant::now() >= deadline {
                return None;
            }
            if !self.pump() {
                // Closed: one last look at what arrived.
                return self
                    .events
                    .iter()
                    .position(&f)
                    .and_then(|i| self.events.remove(i));
            }
        }
    }

    /// Sends a request and waits for how it ends (Done for requests
    /// without a reply is proven by a following barrier).
    pub fn request(&mut self, m: Message) -> Outcome {
        let needs_barrier = m.msg_type().reply_type().is_none();
        let xid = self.conn.send_request(m);
        if needs_barrier {
            self.conn.send_request(Message::BarrierRequest);
        }
        match self.wait(
            Duration::from_secs(10),
            |e| matches!(e, Event::Reply { xid: x, .. } if *x == xid),
        ) {
            Some(Event::Reply { outcome, .. }) => outcome,
            other => panic!("no reply to xid {xid}: {other:?}"),
        }
    }

    /// Sends a message untracked.
    pub fn send(&mut self, m: Message) -> u32 {
        let xid = self.conn.send_async(m);
        let _ = self.pump();
        xid
    }

    /// Sends raw bytes as a message (the xid is overwritten with a fresh
    /// one) and returns the error the switch answers with.
    pub fn raw_error(&mut self, bytes: &[u8]) -> ErrorMsg {
        self.raw_xid += 1;
        let xid = self.raw_xid;
        let mut b = bytes.to_vec();
        if b.len() >= 8 {
            b[4..8].copy_from_slice(&xid.to_be_bytes());
        }
        self.sock.write_all(&b).expect("write");
        match self.wait(
            Duration::from_secs(10),
            |e| matches!(e, Event::Message { xid: x, msg: Message::Error(_), .. } if *x == xid),
        ) {
            Some(Event::Message {
                msg: Message::Error(e),
                ..
            }) => e,
            other => panic!("no error for xid {xid}: {other:?}"),
        }
    }

    /// The next PACKET_IN within `timeout`.
    pub fn packet_in(&mut self, timeout: Duration) -> Option<PacketIn> {
        match self.wait(timeout, |e| {
            matches!(
                e,
                Event::Message {
                    msg: Message::PacketIn(_),
                    ..
                }
            )
        }) {
            Some(Event::Message {
                msg: Message::PacketIn(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    /// Drops asynchronous messages received so far.
    pub fn clear(&mut self) {
        let _ = self.pump();
        self.events.clear();
    }

    /// Asks for every asynchronous message in every role.
    pub fn set_async_all(&mut self) {
        let all = AsyncConfig {
            packet_in_mask: [0b111, 0b111],
            port_status_mask: [0b111, 0b111],
            flow_removed_mask: [0b1111, 0b1111],
        };
        assert_eq!(self.request(Message::SetAsync(all)), Outcome::Done);
    }

    /// A multipart reply's body.
    pub fn multipart(&mut self, body: MultipartRequestBody) -> MultipartReplyBody {
        match self.request(Message::MultipartRequest(MultipartRequest::new(body))) {
            Outcome::Reply(Message::MultipartReply(MultipartReply { body, .. })) => body,
            other => panic!("multipart: {other:?}"),
        }
    }

    /// Number of flow entries in every table.
    pub fn flow_count(&mut self) -> u32 {
        let req = FlowStatsRequest {
            table_id: 0xff,
            out_port: 0xffff_ffff,
            out_group: 0xffff_ffff,
            cookie: 0,
            cookie_mask: 0,
            match_: OfpMatch::catch_all(),
        };
        match self.multipart(MultipartRequestBody::Aggregate(req)) {
            MultipartReplyBody::Aggregate(a) => a.flow_count,
            other => panic!("aggregate: {other:?}"),
        }
    }

    /// Sends `hello` as the first message of a fresh raw connection and
    /// returns the error the switch answers with.
    pub fn hello_only(addr: &str, hello: &[u8]) -> ErrorMsg {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(hello).expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "closed without an error");
            got.extend_from_slice(&buf[..n]);
            // Skip the switch's HELLO; return the first error.
            while got.len() >= 8 {
                let len = usize::from(u16::from_be_bytes([got[2], got[3]]));
                if got.len() < len {
                    break;
                }
                let msg: Vec<u8> = got.drain(..len).collect();
                if let Ok((_, Message::Error(e))) = Message::decode(&msg) {
                    return e;
                }
            }
        }
    }
}

/// Listens for a switch's active connection on a free loopback port.
pub struct CtlListener {
    listener: TcpListener,
}

impl CtlListener {
    /// A listener on a free port.
    pub fn new() -> CtlListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        CtlListener { listener }
    }

    /// The `tcp:` target the switch should dial.
    pub fn target(&self) -> String {
        format!(
            "tcp:127.0.0.1:{}",
            self.listener.local_addr().expect("addr").port()
        )
    }

    /// Accepts the switch within `timeout`.
    pub fn accept(&self, timeout: Duration) -> Option<TestCtl> {
        self.listener.set_nonblocking(true).expect("nonblocking");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("blocking");
                    return Some(TestCtl::over(s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        None
    }
}

impl Default for CtlListener {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------
// Network namespaces.

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The address of host `i`.
pub fn host_addr(i: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(198, 18, 0, u8::try_from(i + 1).unwrap_or(u8::MAX))
}

/// Hosts in their own namespaces, each joined to the switch by a veth.
/// Host `i` has address 198.18.0.(i+1)/24 and a fixed MAC; every host has
/// static neighbour entries for the others, so no ARP is needed.
pub struct Net {
    prefix: String,
    n: usize,
}

impl Net {
    /// Creates `n` hosts with static neighbour entries, or `None`
    /// (skipping) when namespaces are not available and not required.
    pub fn create(name: &str, n: usize) -> Option<Net> {
        Net::build(name, n, true)
    }

    /// Creates `n` hosts that resolve each other with ARP.
    pub fn create_dynamic(name: &str, n: usize) -> Option<Net> {
        Net::build(name, n, false)
    }

    fn build(name: &str, n: usize, static_arp: bool) -> Option<Net> {
        let ok = sh(&["ip", "netns", "list"]).is_ok()
            // SAFETY: geteuid(2) has no preconditions.
            && unsafe { libc::geteuid() } == 0;
        if !ok {
            missing("root and ip netns");
            return None;
        }
        let prefix = format!("{}{}", &name[..name.len().min(6)], pid_tag());
        let net = Net { prefix, n };
        for i in 0..n {
            net.add_host(i).expect("host");
        }
        for i in 0..n {
            for j in 0..n {
                if i != j && static_arp {
                    let ip = format!("198.18.0.{}", j + 1);
                    let mac = net.mac_str(j);
                    sh(&[
                        "ip",
                        "-n",
                        &net.ns(i),
                        "neigh",
                        "replace",
                        &ip,
                        "lladdr",
                        &mac,
                        "dev",
                        &net.host_if(i),
                        "nud",
                        "permanent",
                    ])
                    .expect("neighbour");
                }
            }
        }
        Some(net)
    }

    /// Namespace of host `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    /// The switch-side interface of host `i`.
    pub fn switch_if(&self, i: usize) -> String {
        format!("{}s{i}", self.prefix)
    }

    /// The host-side interface of host `i`.
    pub fn host_if(&self, i: usize) -> String {
        format!("{}h{i}", self.prefix)
    }

    /// `--port` arguments: host `i` on OpenFlow port `i + 1`.
    pub fn switch_ports(&self) -> Vec<String> {
        (0..self.n)
            .map(|i| format!("{}={}", self.switch_if(i), i + 1))
            .collect()
    }

    /// MAC of host `i`.
    pub fn mac(&self, i: usize) -> [u8; 6] {
        let t = pid_tag();
        [
            0x02,
            0x5e,
            u8::try_from(t >> 8).unwrap_or(0),
            u8::try_from(t & 0xff).unwrap_or(0),
            u8::try_from(self.prefix.len()).unwrap_or(0),
            u8::try_from(i + 1).unwrap_or(0xff),
        ]
    }

    fn mac_str(&self, i: usize) -> String {
        self.mac(i)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// IPv4 address of host `i`, as a number.
    pub fn host_ip(&self, i: usize) -> u32 {
        u32::from(host_addr(i))
    }

    fn add_host(&self, i: usize) -> Result<(), String> {
        let ns = self.ns(i);
        let (s, h) = (self.switch_if(i), self.host_if(i));
        let _ = sh(&["ip", "netns", "del", &ns]);
        let _ = sh(&["ip", "link", "del", &s]);
        sh(&["ip", "netns", "add", &ns])?;
        sh(&[
            "ip", "link", "add", &s, "type", "veth", "peer", "name", &h, "netns", &ns,
        ])?;
        let _ = sh(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{s}.disable_ipv6=1"),
        ]);
        sh(&["ip", "link", "set", &s, "up"])?;
        let _ = sh(&[
            "ip",
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "set",
            &h,
            "address",
            &self.mac_str(i),
        ])?;
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("198.18.0.{}/24", i + 1),
            "dev",
            &h,
        ])?;
        sh(&["ip", "-n", &ns, "link", "set", &h, "up"])?;
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Waits until the switch lists every port (via a controller connection).
    pub fn wait_ports_up(&self, sw: &Switchd) {
        let mut c = TestCtl::connect(&sw.ptcp());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let MultipartReplyBody::PortDesc(p) = c.multipart(MultipartRequestBody::PortDesc) {
                let live = p
                    .iter()
                    .filter(|p| {
                        usize::try_from(p.port_no).is_ok_and(|n| (1..=self.n).contains(&n))
                            && p.state & 1 == 0
                    })
                    .count();
                if live == self.n {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "ports did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one UDP datagram from host `from` to host `to`.
    pub fn send_udp(&self, from: usize, to: usize, port: u16) {
        let code = format!(
            concat!(
                "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);",
                "s.sendto(b'x'*32,('198.18.0.{}',{}))"
            ),
            to + 1,
            port
        );
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns(from),
            "python3",
            "-c",
            &code,
        ])
        .expect("send udp");
    }

    /// Pings from host `from` to host `to` (one packet, one second).
    pub fn ping(&self, from: usize, to: usize) -> bool {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns(from),
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            &format!("198.18.0.{}", to + 1),
        ])
        .is_ok()
    }

    /// A UDP frame from host `from` to host `to`.
    pub fn udp_frame(&self, from: usize, to: usize, port: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2(self.mac(from), self.mac(to))
            .ipv4(host_addr(from).octets(), host_addr(to).octets(), 64)
            .udp(40000, port);
        let payload = [0x55u8; 32];
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, &payload).expect("frame");
        v
    }

    /// Frames host `i` received.
    pub fn rx_packets(&self, i: usize) -> u64 {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns(i),
            "cat",
            &format!("/sys/class/net/{}/statistics/rx_packets", self.host_if(i)),
        ])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
    }

    /// Waits until host `i` received more than `before` frames.
    pub fn wait_rx_more(&self, i: usize, before: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.rx_packets(i) <= before {
            assert!(Instant::now() < deadline, "host {i} received nothing");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.n {
            let _ = sh(&["ip", "link", "del", &self.switch_if(i)]);
            let _ = sh(&["ip", "netns", "del", &self.ns(i)]);
        }
    }
}
