//! `compare`: the end-to-end performance comparison of the switch against
//! the devices it competes with, on one machine, in one run.
//!
//! Every device under test sits in the same topology: a sender namespace,
//! a veth pair, the device (in its own namespace), a second veth pair, a
//! receiver namespace. The devices are a direct veth pair (no device at
//! all: the ceiling), a Linux bridge, Open vSwitch's userspace datapath
//! with AF_PACKET ports (with and without userspace TSO), Open vSwitch with
//! AF_XDP ports, and `switchd` in its port and thread modes. Each is
//! measured on
//!
//! - 64-byte UDP frames, offered as fast as one sender can (a transmit
//!   ring written by a child process of this binary in the sender
//!   namespace, [`ringgen`], or with `--socket-gen` socket `sendmmsg`
//!   batches, counted by a polling `recvmmsg` sink in the receiver
//!   namespace): received packets per second and the share lost;
//! - TCP with 1 and 4 streams (iperf3);
//! - round-trip latency p50/p99 (ping, 2 ms apart);
//! - for userspace switches, the daemon's CPU while forwarding the UDP
//!   load, its CPU while idle, and its peak resident memory.
//!
//! Runs are interleaved (repetition 1 of every device, then repetition 2,
//! ...) so that drift in the machine's state spreads over all devices, and
//! each device is set up and torn down per repetition so that one device's
//! idle threads never steal cycles from another's measurement. The table
//! reports medians and ratios against the baselines measured in the same
//! run; the raw runs and the medians are also written as CSV and JSON.
//!
//! Everything the tool creates carries a per-run name prefix and is owned
//! by a guard ([`Topology`]) that kills the processes it started (by PID)
//! and deletes the namespaces on drop, also after Ctrl-C (the handler only
//! raises a flag that every wait loop polls). Every traffic loop is bounded
//! in time.

// The crate root is this file, so its modules live beside it by path.
#[path = "compare/chart.rs"]
mod chart;
#[path = "compare/phases.rs"]
mod phases;
#[path = "compare/ringgen.rs"]
mod ringgen;
#[path = "compare/traffic.rs"]
mod traffic;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Raised by SIGINT/SIGTERM; every wait loop polls it.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// A private copy of this binary that the child modes (generator, sink,
/// ...) run from, so that rebuilding `target/release/compare` during a long
/// run does not pull the file from under it. Removed when the run ends.
static CHILD_EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The binary to run child modes from: the private copy once made, else
/// this process's own file.
fn child_exe() -> Result<PathBuf, String> {
    if let Some(p) = CHILD_EXE.get() {
        return Ok(p.clone());
    }
    std::env::current_exe().map_err(|e| format!("current_exe: {e}"))
}

/// Deletes a private copy of a binary on drop.
struct ChildExeGuard(PathBuf);

impl Drop for ChildExeGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Copies this binary to a private file for the children to run.
fn copy_child_exe() -> Result<ChildExeGuard, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let copy = std::env::temp_dir().join(format!("compare-bin-{}", std::process::id()));
    std::fs::copy(&me, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    let _ = CHILD_EXE.set(copy.clone());
    Ok(ChildExeGuard(copy))
}

/// The sender's address (sender namespace).
const SRC_IP: &str = "198.18.0.1";
/// The receiver's address (receiver namespace).
const DST_IP: &str = "198.18.0.2";
/// UDP port of the sink.
const UDP_PORT: u16 = 9000;
/// UDP payload that makes a 64-byte Ethernet frame (with its FCS).
const PAYLOAD_64: usize = 18;

/// A device under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Device {
    Veth,
    Bridge,
    OvsAfPacket,
    OvsAfPacketTso,
    OvsAfXdp,
    Switchd,
    /// `switchd` with AF_XDP ports (`--afxdp`) instead of its default
    /// AF_PACKET ports; measured in the base phase only.
    SwitchdAfxdp,
    /// `switchd` with its default ports and `--busy-poll` (threads spin
    /// instead of sleeping, as Open vSwitch's PMD threads do); base phase
    /// only.
    SwitchdBusyPoll,
}

impl Device {
    const ALL: [Device; 8] = [
        Device::Veth,
        Device::Bridge,
        Device::OvsAfPacket,
        Device::OvsAfPacketTso,
        Device::OvsAfXdp,
        Device::Switchd,
        Device::SwitchdAfxdp,
        Device::SwitchdBusyPoll,
    ];

    fn name(self) -> &'static str {
        match self {
            Device::Veth => "veth",
            Device::Bridge => "linux-bridge",
            Device::OvsAfPacket => "ovs-afpacket",
            Device::OvsAfPacketTso => "ovs-afpacket-tso",
            Device::OvsAfXdp => "ovs-afxdp",
            Device::Switchd => "switchd",
            Device::SwitchdAfxdp => "switchd-afxdp",
            Device::SwitchdBusyPoll => "switchd-busypoll",
        }
    }

    fn parse(s: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.name() == s)
    }

    /// Whether the rule phases run on the device: every OpenFlow switch
    /// but the other modes of ours, which only the base phase measures
    /// (the rule phases exercise the datapath, not the port I/O).
    fn speaks_openflow(self) -> bool {
        !matches!(
            self,
            Device::Veth | Device::Bridge | Device::SwitchdAfxdp | Device::SwitchdBusyPoll
        )
    }

    /// Whether the device is our switch (in any mode).
    fn is_switchd(self) -> bool {
        matches!(
            self,
            Device::Switchd | Device::SwitchdAfxdp | Device::SwitchdBusyPoll
        )
    }
}

/// The phases a run measures.
#[derive(Clone, Copy, Debug)]
struct Phases {
    base: bool,
    scale: bool,
    flow_setup: bool,
    flow_mod: bool,
    threads: bool,
}

/// What to run.
#[derive(Clone, Debug)]
struct Config {
    reps: u32,
    secs: f64,
    devices: Vec<Device>,
    out: PathBuf,
    switchd: PathBuf,
    ofctl: PathBuf,
    threads: Option<usize>,
    tcp: bool,
    latency: bool,
    /// The UDP sink blocks in `recvmmsg` (woken per datagram) instead of
    /// polling.
    blocking_sink: bool,
    /// The generators send through sockets (`gen`'s UDP socket, `rawgen`'s
    /// raw IP socket) instead of a transmit ring (`ringgen`).
    socket_gen: bool,
    phases: Phases,
    scale_rules: Vec<usize>,
    scale_tuples: Vec<u64>,
    scale_secs: f64,
    setup_secs: f64,
    flowmod_rules: usize,
    scan_threads: Vec<usize>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => child_gen(&args[1..]),
        Some("sink") => child_sink(&args[1..]),
        Some("rawgen") => traffic::child_rawgen(&args[1..]),
        Some("ringgen") => ringgen::child_ringgen(&args[1..]),
        Some("txcsum-off") => child_txcsum_off(&args[1..]),
        _ => parse_config(&args).and_then(|c| compare(&c)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: compare [--reps N] [--secs S] [--devices LIST] [--out DIR] \
[--switchd PATH] [--ofctl PATH] [--threads N] [--no-tcp] [--no-latency] [--blocking-sink] [--socket-gen] \
[--base] [--scale] [--flow-setup] [--flow-mod] [--threads-scan] \
[--scale-rules LIST] [--scale-tuples LIST] [--scale-secs S] [--setup-secs S] \
[--flowmod-rules N] [--scan-threads LIST]";

/// Parses a comma-separated list of whole numbers within `range`.
fn parse_list<T>(flag: &str, v: &str, range: std::ops::RangeInclusive<T>) -> Result<Vec<T>, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let list = v
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    format!(
                        "{flag}: {x:?} is not a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )
                })
        })
        .collect::<Result<Vec<T>, String>>()?;
    if list.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    Ok(list)
}

/// Parses seconds within 0.5..=600.
fn parse_secs(flag: &str, v: &str) -> Result<f64, String> {
    v.parse()
        .ok()
        .filter(|s: &f64| (0.5..=600.0).contains(s))
        .ok_or_else(|| format!("{flag}: expected seconds from 0.5 to 600"))
}

fn parse_config(args: &[String]) -> Result<Config, String> {
    let mut c = Config {
        reps: 3,
        secs: 5.0,
        devices: Device::ALL.to_vec(),
        out: PathBuf::from("benches/results"),
        switchd: PathBuf::from("target/release/switchd"),
        ofctl: PathBuf::from("target/release/ofctl"),
        threads: None,
        tcp: true,
        latency: true,
        blocking_sink: false,
        socket_gen: false,
        phases: Phases {
            base: false,
            scale: false,
            flow_setup: false,
            flow_mod: false,
            threads: false,
        },
        scale_rules: vec![1, 1000, 100_000],
        scale_tuples: vec![1, 1000, 100_000],
        scale_secs: 3.0,
        setup_secs: 3.0,
        flowmod_rules: 100_000,
        scan_threads: vec![1, 2],
    };
    let mut any_phase = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag}: needs a value"))
        };
        match flag.as_str() {
            "--reps" => {
                c.reps = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1 && *n <= 100)
                    .ok_or("--reps: expected a whole number from 1 to 100")?;
            }
            "--secs" => c.secs = parse_secs(flag, &value()?)?,
            "--scale-secs" => c.scale_secs = parse_secs(flag, &value()?)?,
            "--setup-secs" => c.setup_secs = parse_secs(flag, &value()?)?,
            "--scale-rules" => {
                c.scale_rules = parse_list(flag, &value()?, 1..=traffic::MAX_RULES)?;
            }
            "--scale-tuples" => {
                c.scale_tuples = parse_list(flag, &value()?, 1..=traffic::MAX_TUPLES)?;
            }
            "--flowmod-rules" => {
                c.flowmod_rules = parse_list(flag, &value()?, 1..=traffic::MAX_RULES)?[0];
            }
            "--scan-threads" => c.scan_threads = parse_list(flag, &value()?, 1..=256)?,
            "--ofctl" => c.ofctl = PathBuf::from(value()?),
            "--base" => {
                c.phases.base = true;
                any_phase = true;
            }
            "--scale" => {
                c.phases.scale = true;
                any_phase = true;
            }
            "--flow-setup" => {
                c.phases.flow_setup = true;
                any_phase = true;
            }
            "--flow-mod" => {
                c.phases.flow_mod = true;
                any_phase = true;
            }
            "--threads-scan" => {
                c.phases.threads = true;
                any_phase = true;
            }
            "--devices" => {
                let v = value()?;
                c.devices = v
                    .split(',')
                    .map(|d| {
                        Device::parse(d.trim()).ok_or_else(|| {
                            let known: Vec<_> = Device::ALL.iter().map(|d| d.name()).collect();
                            format!(
                                "--devices: unknown device {d:?} (known: {})",
                                known.join(",")
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                c.devices.sort();
                c.devices.dedup();
            }
            "--out" => c.out = PathBuf::from(value()?),
            "--switchd" => c.switchd = PathBuf::from(value()?),
            "--threads" => {
                c.threads = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1 && *n <= 256)
                        .ok_or("--threads: expected a whole number from 1 to 256")?,
                );
            }
            "--no-tcp" => c.tcp = false,
            "--no-latency" => c.latency = false,
            "--blocking-sink" => c.blocking_sink = true,
            "--socket-gen" => c.socket_gen = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("{other}: unknown flag ({USAGE})")),
        }
    }
    if !any_phase {
        c.phases = Phases {
            base: true,
            scale: true,
            flow_setup: true,
            flow_mod: true,
            threads: true,
        };
    }
    if c.devices.iter().any(|d| d.is_switchd()) && !c.switchd.is_file() {
        return Err(format!(
            "--switchd: {} is not a file (build it with `cargo build --release -p switchd`)",
            c.switchd.display()
        ));
    }
    Ok(c)
}

// ---------------------------------------------------------------- traffic

/// Finds `--name VALUE` in a child's arguments.
fn child_arg<T: std::str::FromStr>(args: &[String], name: &str) -> Result<T, String> {
    let pos = args
        .iter()
        .position(|a| a == name)
        .ok_or_else(|| format!("{name}: missing"))?;
    args.get(pos + 1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{name}: bad value"))
}

/// One `sendmmsg`/`recvmmsg` header per iovec, each message that one
/// buffer. The headers point into `iovs`, which must outlive their use.
fn one_iovec_headers(iovs: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iovs.iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is a plain C struct for which all-zero bytes
            // are a valid (empty) value.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect()
}

/// Child mode `gen --dst IP --port P --secs S --size B`: sends UDP
/// datagrams of B bytes in `sendmmsg` batches for S seconds and prints
/// `tx COUNT`.
fn child_gen(args: &[String]) -> Result<(), String> {
    let dst: Ipv4Addr = child_arg(args, "--dst")?;
    let port: u16 = child_arg(args, "--port")?;
    let secs: f64 = child_arg(args, "--secs")?;
    let size: usize = child_arg(args, "--size")?;
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    sock.connect((dst, port))
        .map_err(|e| format!("connect: {e}"))?;
    let fd = sock.as_raw_fd();
    let buf = vec![0x5au8; size.max(1)];
    const BATCH: usize = 256;
    const BATCH_U32: libc::c_uint = 256;
    let mut iovs: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: buf.as_ptr().cast_mut().cast(),
            iov_len: size,
        })
        .collect();
    let mut msgs = one_iovec_headers(&mut iovs);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut sent: u64 = 0;
    while Instant::now() < deadline && !stopped() {
        // SAFETY: `msgs` holds BATCH initialised headers whose iovecs point
        // into `buf`, which outlives the call; the socket is connected.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), BATCH_U32, 0) };
        if n > 0 {
            sent += u64::try_from(n).unwrap_or(0);
        }
    }
    println!("tx {sent}");
    Ok(())
}

/// The `--mode` of the sink child for this run.
fn sink_mode(cfg: &Config) -> &'static str {
    if cfg.blocking_sink {
        "block"
    } else {
        "poll"
    }
}

/// How long the polling sink sleeps once it has drained its socket.
const SINK_NAP: Duration = Duration::from_micros(200);

/// Child mode `sink --port P --secs S --mode poll|block`: counts UDP
/// datagrams with `recvmmsg` until S seconds pass or the traffic stops for
/// a second after it began, and prints `rx COUNT`.
///
/// `poll` (the default of the tool) reads without blocking and naps for
/// [`SINK_NAP`] whenever a read drains the socket, so the receiving socket
/// has no sleeper to wake: the device under test, whose transmit call runs
/// the receiver's softirq on a veth, does not also pay a wakeup and a
/// context switch every few datagrams. `block` waits in `recvmmsg`
/// (`MSG_WAITFORONE`), like an application that blocks in `recv`.
fn child_sink(args: &[String]) -> Result<(), String> {
    let port: u16 = child_arg(args, "--port")?;
    let secs: f64 = child_arg(args, "--secs")?;
    let poll = match child_arg::<String>(args, "--mode")?.as_str() {
        "poll" => true,
        "block" => false,
        m => return Err(format!("--mode: expected poll or block, not {m:?}")),
    };
    let sock = UdpSocket::bind(("0.0.0.0", port)).map_err(|e| format!("bind: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| format!("timeout: {e}"))?;
    let fd = sock.as_raw_fd();
    let rcvbuf: libc::c_int = 16 << 20;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const rcvbuf).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4),
        );
    }
    const BATCH: usize = 256;
    const BATCH_U32: libc::c_uint = 256;
    const SLOT: usize = 2048;
    let mut bufs = vec![0u8; BATCH * SLOT];
    let mut iovs: Vec<libc::iovec> = bufs
        .chunks_mut(SLOT)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: SLOT,
        })
        .collect();
    let mut msgs = one_iovec_headers(&mut iovs);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut received: u64 = 0;
    let mut last = None::<Instant>;
    while Instant::now() < deadline && !stopped() {
        // SAFETY: `msgs` holds BATCH headers whose iovecs point at distinct
        // SLOT-byte windows of `bufs`, which outlives the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH_U32,
                if poll {
                    libc::MSG_DONTWAIT
                } else {
                    libc::MSG_WAITFORONE
                },
                std::ptr::null_mut(),
            )
        };
        if poll && n < BATCH_U32 as libc::c_int {
            std::thread::sleep(SINK_NAP);
        }
        if n > 0 {
            received += u64::try_from(n).unwrap_or(0);
            last = Some(Instant::now());
        } else if last.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
            break;
        }
    }
    println!("rx {received}");
    Ok(())
}

/// Child mode `txcsum-off --dev NAME`: turns transmit checksum offload
/// (and with it TSO and scatter-gather) off on an interface of the current
/// namespace, as `ethtool -K NAME tx off` does. Open vSwitch's userspace
/// datapath without userspace TSO drops the partially checksummed and
/// segmentation-offloaded packets a veth otherwise hands it.
fn child_txcsum_off(args: &[String]) -> Result<(), String> {
    let dev: String = child_arg(args, "--dev")?;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    const ETHTOOL_STXCSUM: u32 = 0x17;
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    if dev.is_empty() || dev.len() >= ifr.ifr_name.len() {
        return Err("--dev: bad interface name".into());
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(dev.bytes()) {
        *d = libc::c_char::from_ne_bytes([s]);
    }
    ifr.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: socket has no memory effects.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: SIOCETHTOOL reads the ifreq, whose data pointer refers to
    // `value`, live for the call; the kernel writes at most that struct.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &raw mut ifr) };
    let err = std::io::Error::last_os_error();
    // SAFETY: fd is a socket this function opened and closes once.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(format!("{dev}: ethtool tx off: {err}"));
    }
    Ok(())
}

// ---------------------------------------------------------------- processes

/// Runs a command to completion within `timeout`, killing it (by PID) when
/// it overruns or the run is interrupted. Returns its standard output.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{desc}: {e}"))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline && !stopped() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = ereader.join().unwrap_or_default();
    match status {
        Some(st) if st.success() => Ok(stdout),
        Some(st) => Err(format!(
            "{desc}: {st}: {}",
            stderr.lines().last().unwrap_or("").trim()
        )),
        None if stopped() => Err("interrupted".into()),
        None => Err(format!("{desc}: timed out after {timeout:?}")),
    }
}

/// Runs a short setup command (10 s bound).
fn sh(args: &[&str]) -> Result<String, String> {
    let (prog, rest) = args.split_first().ok_or("empty command")?;
    run_bounded(Command::new(prog).args(rest), Duration::from_secs(10))
}

/// Ticks of CPU (user + system) a process has used.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

// ---------------------------------------------------------------- topology

/// One device under test and its namespaces; tears everything down on drop.
struct Topology {
    sender: String,
    receiver: String,
    dut: String,
    /// Processes this topology started, killed by PID on drop.
    children: Vec<Child>,
    /// The process whose CPU and memory are measured.
    measured: Option<u32>,
    /// Where an OpenFlow tool reaches the device's switch (`unix:PATH`).
    of_target: Option<String>,
    dir: PathBuf,
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            if let Ok(pid) = libc::pid_t::try_from(c.id()) {
                // SAFETY: kill has no memory effects; the PID is a child we
                // spawned and have not yet reaped, so it cannot be reused.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.sender, &self.receiver, &self.dut] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Topology {
    /// Builds the namespaces and veths and starts `device` between them.
    fn up(device: Device, prefix: &str, cfg: &Config) -> Result<Topology, String> {
        let dir = std::env::temp_dir().join(format!("compare-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut t = Topology {
            sender: format!("{prefix}-s"),
            receiver: format!("{prefix}-r"),
            dut: format!("{prefix}-d"),
            children: Vec::new(),
            measured: None,
            of_target: None,
            dir,
        };
        let (s, r, d) = (t.sender.clone(), t.receiver.clone(), t.dut.clone());
        for ns in [&s, &r, &d] {
            sh(&["ip", "netns", "add", ns])?;
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        let a = format!("{prefix}a");
        let b = format!("{prefix}b");
        let ha = format!("{prefix}ha");
        let hb = format!("{prefix}hb");
        if device == Device::Veth {
            sh(&[
                "ip", "-n", &s, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &r,
            ])?;
        } else {
            sh(&[
                "ip", "-n", &s, "link", "add", &a, "type", "veth", "peer", "name", &ha, "netns", &d,
            ])?;
            sh(&[
                "ip", "-n", &r, "link", "add", &b, "type", "veth", "peer", "name", &hb, "netns", &d,
            ])?;
            for h in [&ha, &hb] {
                sh(&["ip", "-n", &d, "link", "set", h, "up"])?;
            }
        }
        sh(&[
            "ip",
            "-n",
            &s,
            "addr",
            "add",
            &format!("{SRC_IP}/24"),
            "dev",
            &a,
        ])?;
        sh(&[
            "ip",
            "-n",
            &r,
            "addr",
            "add",
            &format!("{DST_IP}/24"),
            "dev",
            &b,
        ])?;
        sh(&["ip", "-n", &s, "link", "set", &a, "up"])?;
        sh(&["ip", "-n", &r, "link", "set", &b, "up"])?;
        // The many-tuple traffic comes from these sources; a route back
        // keeps the receiver's reverse-path filter from dropping it.
        for net in ["198.18.4.0/24", "198.19.0.0/16"] {
            sh(&["ip", "-n", &r, "route", "add", net, "via", SRC_IP])?;
        }
        if matches!(device, Device::OvsAfPacket | Device::OvsAfXdp) {
            let me = child_exe()?;
            let me = me.to_string_lossy();
            for (ns, dev) in [(&s, &a), (&r, &b)] {
                sh(&["ip", "netns", "exec", ns, &me, "txcsum-off", "--dev", dev])?;
            }
        }
        match device {
            Device::Veth => {}
            Device::Bridge => {
                let br = format!("{prefix}br");
                sh(&["ip", "-n", &d, "link", "add", &br, "type", "bridge"])?;
                for h in [&ha, &hb] {
                    sh(&["ip", "-n", &d, "link", "set", h, "master", &br])?;
                }
                sh(&["ip", "-n", &d, "link", "set", &br, "up"])?;
            }
            Device::Switchd => t.start_switchd(cfg, "--port", &ha, &hb, &[])?,
            Device::SwitchdAfxdp => t.start_switchd(cfg, "--afxdp", &ha, &hb, &[])?,
            Device::SwitchdBusyPoll => {
                t.start_switchd(cfg, "--port", &ha, &hb, &["--busy-poll", "--threads", "1"])?;
            }
            Device::OvsAfPacket | Device::OvsAfPacketTso | Device::OvsAfXdp => {
                t.start_ovs(device, &ha, &hb)?;
            }
        }
        t.wait_ready()?;
        Ok(t)
    }

    /// Spawns a long-running process inside the device's namespace.
    fn spawn_in_dut(&mut self, prog: &Path, args: &[&str], log: &str) -> Result<u32, String> {
        let log = std::fs::File::create(self.dir.join(log)).map_err(|e| format!("{log}: {e}"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.dut])
            .arg(prog)
            .args(args)
            // Open vSwitch puts its bridge sockets (br0.mgmt) there.
            .env("OVS_RUNDIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", prog.display()))?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    fn start_switchd(
        &mut self,
        cfg: &Config,
        port_flag: &str,
        ha: &str,
        hb: &str,
        extra: &[&str],
    ) -> Result<(), String> {
        let run = self.dir.join("run");
        let state = self.dir.join("state");
        let (run, state) = (run.to_string_lossy(), state.to_string_lossy());
        let threads = cfg.threads.map(|n| n.to_string());
        let mut args = vec![
            "run",
            port_flag,
            ha,
            port_flag,
            hb,
            "--run-dir",
            &run,
            "--state-dir",
            &state,
        ];
        if let Some(n) = threads.as_ref().filter(|_| !extra.contains(&"--threads")) {
            args.extend(["--threads", n]);
        }
        args.extend(extra);
        let switchd = std::fs::canonicalize(&cfg.switchd).map_err(|e| format!("--switchd: {e}"))?;
        let pid = self.spawn_in_dut(&switchd, &args, "switchd.log")?;
        self.measured = Some(pid);
        self.of_target = Some(format!("unix:{run}/br0.mgmt"));
        Ok(())
    }

    fn start_ovs(&mut self, device: Device, ha: &str, hb: &str) -> Result<(), String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let db = format!("{dir}/conf.db");
        let sock = format!("{dir}/db.sock");
        sh(&[
            "ovsdb-tool",
            "create",
            &db,
            "/usr/share/openvswitch/vswitch.ovsschema",
        ])?;
        self.spawn_in_dut(
            Path::new("ovsdb-server"),
            &[
                &db,
                &format!("--remote=punix:{sock}"),
                &format!("--pidfile={dir}/ovsdb-server.pid"),
                &format!("--unixctl={dir}/ovsdb-server.ctl"),
                &format!("--log-file={dir}/ovsdb-server.log"),
            ],
            "ovsdb-server.out",
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&sock).exists() {
            if Instant::now() > deadline || stopped() {
                return Err("ovsdb-server did not create its socket in 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let dbarg = format!("--db=unix:{sock}");
        sh(&["ovs-vsctl", &dbarg, "--no-wait", "init"])?;
        if device == Device::OvsAfPacketTso {
            sh(&[
                "ovs-vsctl",
                &dbarg,
                "--no-wait",
                "set",
                "Open_vSwitch",
                ".",
                "other_config:userspace-tso-enable=true",
            ])?;
        }
        self.of_target = Some(format!("unix:{dir}/br0.mgmt"));
        let pid = self.spawn_in_dut(
            Path::new("ovs-vswitchd"),
            &[
                &format!("unix:{sock}"),
                &format!("--pidfile={dir}/ovs-vswitchd.pid"),
                &format!("--unixctl={dir}/ovs-vswitchd.ctl"),
                &format!("--log-file={dir}/ovs-vswitchd.log"),
            ],
            "ovs-vswitchd.out",
        )?;
        self.measured = Some(pid);
        let mut args: Vec<String> = [
            "ovs-vsctl",
            &dbarg,
            "--timeout=20",
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for p in [ha, hb] {
            args.extend(["--", "add-port", "br0", p].map(String::from));
            if device == Device::OvsAfXdp {
                args.extend(["--", "set", "interface", p, "type=afxdp"].map(String::from));
            }
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        sh(&argv)?;
        if device == Device::OvsAfXdp {
            // A port OVS could not open reports why in the database.
            let errs = sh(&[
                "ovs-vsctl",
                &dbarg,
                "--bare",
                "--columns=error",
                "list",
                "interface",
            ])?;
            if let Some(e) = errs.lines().map(str::trim).find(|l| !l.is_empty()) {
                return Err(format!("OVS AF_XDP port: {e}"));
            }
        }
        Ok(())
    }

    /// Pings through the device until it forwards (MAC learning and ARP
    /// done in both directions), for at most 20 s.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let fwd = sh(&[
                "ip",
                "netns",
                "exec",
                &self.sender,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                DST_IP,
            ]);
            if fwd.is_ok() {
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    &self.receiver,
                    "ping",
                    "-c",
                    "1",
                    "-W",
                    "1",
                    SRC_IP,
                ])?;
                return Ok(());
            }
            if let Some(pid) = self.measured {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(format!(
                        "the device's daemon exited during start-up (logs in {})",
                        self.dir.display()
                    ));
                }
            }
            if Instant::now() > deadline || stopped() {
                return Err("no forwarding through the device within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn exec(&self, ns: &str, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, prog]);
        c
    }
}

// ---------------------------------------------------------------- measurements

/// One repetition's figures for one device.
#[derive(Clone, Debug, Default)]
struct Run {
    udp_tx_pps: Option<f64>,
    udp_rx_pps: Option<f64>,
    udp_loss_pct: Option<f64>,
    udp_cpu_pct: Option<f64>,
    idle_cpu_pct: Option<f64>,
    tcp1_gbps: Option<f64>,
    tcp4_gbps: Option<f64>,
    lat_p50_us: Option<f64>,
    lat_p99_us: Option<f64>,
    rss_mib: Option<f64>,
    /// 64-byte UDP over [`phases::MANY_FLOWS`] 5-tuples, received pps
    /// (thread scan only).
    udp_many_rx_pps: Option<f64>,
}

const METRICS: [&str; 10] = [
    "udp64_tx_pps",
    "udp64_rx_pps",
    "udp64_loss_pct",
    "udp64_cpu_pct",
    "idle_cpu_pct",
    "tcp1_gbps",
    "tcp4_gbps",
    "lat_p50_us",
    "lat_p99_us",
    "peak_rss_mib",
];

impl Run {
    fn values(&self) -> [Option<f64>; 10] {
        [
            self.udp_tx_pps,
            self.udp_rx_pps,
            self.udp_loss_pct,
            self.udp_cpu_pct,
            self.idle_cpu_pct,
            self.tcp1_gbps,
            self.tcp4_gbps,
            self.lat_p50_us,
            self.lat_p99_us,
            self.rss_mib,
        ]
    }
}

fn measure(t: &Topology, cfg: &Config) -> Result<Run, String> {
    let mut run = Run::default();
    let me = child_exe()?;
    let me = me.to_string_lossy();
    let hz = clock_ticks_per_sec();

    if let Some(pid) = t.measured {
        let c0 = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(2));
        if let (Some(a), Some(b)) = (c0, cpu_ticks(pid)) {
            run.idle_cpu_pct = Some((b - a) as f64 / hz / 2.0 * 100.0);
        }
    }

    // 64-byte UDP.
    let secs = cfg.secs;
    let mut sink = Command::new("ip");
    sink.args(["netns", "exec", &t.receiver, &*me, "sink"])
        .args([
            "--port",
            &UDP_PORT.to_string(),
            "--secs",
            &(secs + 3.0).to_string(),
            "--mode",
            sink_mode(cfg),
        ]);
    let sink_thread =
        std::thread::spawn(move || run_bounded(&mut sink, Duration::from_secs_f64(secs + 8.0)));
    std::thread::sleep(Duration::from_millis(300));
    let c0 = t.measured.and_then(cpu_ticks);
    let started = Instant::now();
    let mut gen = Command::new("ip");
    gen.args(["netns", "exec", &t.sender, &*me]);
    if cfg.socket_gen {
        gen.args([
            "gen",
            "--dst",
            DST_IP,
            "--port",
            &UDP_PORT.to_string(),
            "--secs",
            &secs.to_string(),
            "--size",
            &PAYLOAD_64.to_string(),
        ]);
    } else {
        gen.args(traffic::rawgen_args(
            DST_IP,
            secs,
            traffic::Spread::Cycle(1),
            true,
        ));
    }
    let tx_out = run_bounded(&mut gen, Duration::from_secs_f64(secs + 5.0));
    let elapsed = started.elapsed().as_secs_f64();
    let c1 = t.measured.and_then(cpu_ticks);
    let rx_out = sink_thread
        .join()
        .map_err(|_| "sink thread panicked".to_string())?;
    let tx = tagged_count(&tx_out?, "tx ").ok_or("generator printed no count")?;
    let rx = tagged_count(&rx_out?, "rx ").ok_or("sink printed no count")?;
    run.udp_tx_pps = Some(tx / secs);
    run.udp_rx_pps = Some(rx / secs);
    run.udp_loss_pct = Some(if tx > 0.0 {
        ((tx - rx) / tx * 100.0).max(0.0)
    } else {
        100.0
    });
    if let (Some(a), Some(b)) = (c0, c1) {
        run.udp_cpu_pct = Some((b - a) as f64 / hz / elapsed * 100.0);
    }
    if stopped() {
        return Err("interrupted".into());
    }

    // TCP, 1 and 4 streams.
    if cfg.tcp {
        for (streams, slot) in [(1, &mut run.tcp1_gbps), (4, &mut run.tcp4_gbps)] {
            match iperf(t, secs, streams) {
                Ok(g) => *slot = Some(g),
                Err(e) if stopped() => return Err(e),
                Err(e) => eprintln!("    TCP x{streams} failed: {e}"),
            }
        }
    }

    // Latency.
    if cfg.latency {
        let out = run_bounded(
            t.exec(&t.sender, "ping")
                .args(["-c", "300", "-i", "0.005", "-W", "1", DST_IP]),
            Duration::from_secs(20),
        )?;
        let mut rtts: Vec<f64> = out
            .lines()
            .filter_map(|l| l.split("time=").nth(1))
            .filter_map(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|ms| ms * 1000.0)
            .collect();
        rtts.sort_by(f64::total_cmp);
        run.lat_p50_us = percentile(&rtts, 50.0);
        run.lat_p99_us = percentile(&rtts, 99.0);
    }
    run.rss_mib = t.measured.and_then(peak_rss_mib);
    Ok(run)
}

/// One iperf3 run; received throughput in Gbit/s.
fn iperf(t: &Topology, secs: f64, streams: u32) -> Result<f64, String> {
    let mut server = t.exec(&t.receiver, "iperf3");
    server.args(["-s", "-1", "-p", "5201"]);
    let bound = Duration::from_secs_f64(secs + 15.0);
    let srv = std::thread::spawn(move || run_bounded(&mut server, bound));
    std::thread::sleep(Duration::from_millis(400));
    let out = run_bounded(
        t.exec(&t.sender, "iperf3").args([
            "-c",
            DST_IP,
            "-p",
            "5201",
            "-t",
            &secs.ceil().to_string(),
            "-P",
            &streams.to_string(),
            "-J",
        ]),
        bound,
    );
    let _ = srv.join();
    let v: Value = serde_json::from_str(&out?).map_err(|e| format!("iperf3 output: {e}"))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e9)
        .ok_or_else(|| "iperf3 output: no end.sum_received.bits_per_second".into())
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // The nearest rank, found by counting rather than by a float cast.
    let last = sorted.len() - 1;
    let target = p / 100.0 * last as f64;
    let i = (0..=last)
        .find(|&k| k as f64 >= target - 0.5)
        .unwrap_or(last);
    sorted.get(i).copied()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

// ---------------------------------------------------------------- driver

fn compare(cfg: &Config) -> Result<(), String> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| format!("--out: {}: {e}", cfg.out.display()))?;
    let _exe = copy_child_exe()?;
    // The switch and its tool likewise run from private copies, so that a
    // rebuild during the run cannot mix two versions in one table.
    let mut own = cfg.clone();
    let mut _copies = Vec::new();
    for (path, name) in [(&mut own.switchd, "switchd"), (&mut own.ofctl, "ofctl")] {
        if path.is_file() {
            let copy = std::env::temp_dir().join(format!("compare-{name}-{}", std::process::id()));
            std::fs::copy(&*path, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
            _copies.push(ChildExeGuard(copy.clone()));
            *path = copy;
        }
    }
    let cfg = &own;
    let started = Instant::now();
    let (runs, errors, raw) = if cfg.phases.base {
        base_phase(cfg)?
    } else {
        (BTreeMap::new(), BTreeMap::new(), String::new())
    };
    let mut extra = phases::Extra::default();
    if cfg.phases.scale {
        phases::scale(cfg, &mut extra)?;
    }
    if cfg.phases.flow_setup {
        phases::flow_setup(cfg, &mut extra)?;
    }
    if cfg.phases.flow_mod {
        phases::flow_mod(cfg, &mut extra)?;
    }
    if cfg.phases.threads && cfg.devices.contains(&Device::Switchd) {
        phases::threads_scan(cfg, &mut extra)?;
    }

    // Medians (with min and max) per device and metric.
    let mut med: BTreeMap<Device, [Option<f64>; 10]> = BTreeMap::new();
    let mut span: BTreeMap<Device, [Option<phases::Stat>; 10]> = BTreeMap::new();
    for (d, rs) in &runs {
        let mut m = [None; 10];
        let mut sp = [None; 10];
        for k in 0..10 {
            let v: Vec<f64> = rs.iter().filter_map(|r| r.values()[k]).collect();
            m[k] = median(v.clone());
            sp[k] = phases::Stat::of(&v);
        }
        med.insert(*d, m);
        span.insert(*d, sp);
    }
    let summary_x = phases::summarize(&extra);
    let mut table = render_header(cfg);
    if cfg.phases.base {
        table.push_str(&render_table(cfg, &med, &errors));
    }
    table.push_str(&phases::render(cfg, &summary_x, &extra));
    println!("{table}");

    let mut summary = String::from("device");
    for m in METRICS {
        let _ = write!(summary, ",{m}");
    }
    summary.push('\n');
    for (d, m) in &med {
        summary.push_str(d.name());
        for v in m {
            let _ = write!(
                summary,
                ",{}",
                v.map(|x| format!("{x:.4}")).unwrap_or_default()
            );
        }
        summary.push('\n');
    }
    let json = json!({
        "machine": machine(),
        "reps": cfg.reps,
        "secs": cfg.secs,
        "sink": sink_mode(cfg),
        "generator": if cfg.socket_gen { "sockets" } else { "ring" },
        "medians": med.iter().map(|(d, m)| {
            let obj: serde_json::Map<String, Value> = METRICS.iter().zip(m.iter())
                .map(|(k, v)| (k.to_string(), v.map_or(Value::Null, |x| json!(x))))
                .collect();
            (d.name().to_string(), Value::Object(obj))
        }).collect::<serde_json::Map<_, _>>(),
        "errors": errors.iter().map(|(d, e)| (d.name().to_string(), json!(e))).collect::<serde_json::Map<_, _>>(),
        "phases": phases::to_json(cfg, &summary_x),
        "phase_errors": extra.errors,
        "duration_s": started.elapsed().as_secs_f64(),
    });
    let write = |name: &str, body: &str| {
        let p = cfg.out.join(name);
        std::fs::write(&p, body).map_err(|e| format!("--out: {}: {e}", p.display()))
    };
    let mut written = vec!["results.json", "table.md"];
    if cfg.phases.base {
        write("runs.csv", &raw)?;
        write("summary.csv", &summary)?;
        written.extend(["runs.csv", "summary.csv"]);
    }
    for (name, body) in &extra.csv {
        write(name, body)?;
        written.push(name);
    }
    write(
        "results.json",
        &serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    write("table.md", &table)?;
    let png = cfg.out.join("chart.png");
    let m = machine();
    let title = format!(
        "switchd against its baselines: {} ({} cores), {}; medians of {}, bars min–max",
        m["cpu"].as_str().unwrap_or(""),
        m["cores"],
        m["date"].as_str().unwrap_or(""),
        cfg.reps
    );
    match chart::draw(&png, &title, &chart_panels(cfg, &span, &summary_x)) {
        Ok(()) => written.push("chart.png"),
        Err(e) => eprintln!("chart.png not drawn: {e}"),
    }
    eprintln!(
        "wrote {} in {} ({:.0} s)",
        written.join(", "),
        cfg.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Raw runs of the base phase, failures by device, and the runs as CSV.
type BaseRuns = (BTreeMap<Device, Vec<Run>>, BTreeMap<Device, String>, String);

/// The base figures (UDP64, TCP, latency, CPU, memory) of every device.
fn base_phase(cfg: &Config) -> Result<BaseRuns, String> {
    let tag = std::process::id() % 10000;
    let mut runs: BTreeMap<Device, Vec<Run>> = BTreeMap::new();
    let mut errors: BTreeMap<Device, String> = BTreeMap::new();
    let mut raw = String::from("device,rep");
    for m in METRICS {
        let _ = write!(raw, ",{m}");
    }
    raw.push('\n');
    for rep in 1..=cfg.reps {
        for (i, &device) in cfg.devices.iter().enumerate() {
            if stopped() {
                return Err("interrupted; everything created was removed".into());
            }
            if errors.contains_key(&device) {
                continue;
            }
            let prefix = format!("c{tag}{i}");
            eprintln!("[rep {rep}/{}] {} ...", cfg.reps, device.name());
            let result = Topology::up(device, &prefix, cfg).and_then(|t| measure(&t, cfg));
            match result {
                Ok(run) => {
                    eprintln!(
                        "    udp64 {:.3} Mpps rx, loss {:.1}%",
                        run.udp_rx_pps.unwrap_or(0.0) / 1e6,
                        run.udp_loss_pct.unwrap_or(0.0)
                    );
                    let _ = write!(raw, "{},{rep}", device.name());
                    for v in run.values() {
                        let _ =
                            write!(raw, ",{}", v.map(|x| format!("{x:.4}")).unwrap_or_default());
                    }
                    raw.push('\n');
                    runs.entry(device).or_default().push(run);
                }
                Err(e) if stopped() => return Err(format!("{e}; everything created was removed")),
                Err(e) => {
                    eprintln!("    {} failed: {e}", device.name());
                    errors.insert(device, e);
                }
            }
        }
    }
    Ok((runs, errors, raw))
}

/// The chart's panels: the headline metric of every phase that ran.
fn chart_panels(
    cfg: &Config,
    base: &BTreeMap<Device, [Option<phases::Stat>; 10]>,
    x: &phases::Summary,
) -> Vec<chart::Panel> {
    let bar = |name: &str, s: phases::Stat, div: f64| chart::Bar {
        device: name.to_string(),
        med: s.med / div,
        min: s.min / div,
        max: s.max / div,
    };
    let from_base = |k: usize, div: f64| -> Vec<chart::Bar> {
        base.iter()
            .filter_map(|(d, v)| v[k].map(|s| bar(d.name(), s, div)))
            .collect()
    };
    let mut panels = vec![
        chart::Panel {
            title: "64-byte UDP received (higher is better)".into(),
            unit: "Mpps".into(),
            bars: from_base(1, 1e6),
        },
        chart::Panel {
            title: "TCP, 4 streams (higher is better)".into(),
            unit: "Gbit/s".into(),
            bars: from_base(6, 1.0),
        },
    ];
    if let (Some(&n), Some(&k)) = (cfg.scale_rules.last(), cfg.scale_tuples.last()) {
        panels.push(chart::Panel {
            title: format!("64-byte UDP with {n} rules, {k} 5-tuples (higher is better)"),
            unit: "Mpps".into(),
            bars: x
                .scale
                .iter()
                .filter(|((_, rn, rk), _)| *rn == n && *rk == k)
                .filter_map(|((d, _, _), v)| v[0].map(|s| bar(d.name(), s, 1e6)))
                .collect(),
        });
    }
    panels.push(chart::Panel {
        title: "Flow setup, a new 5-tuple per packet (higher is better)".into(),
        unit: "k new flows/s".into(),
        bars: x
            .setup
            .iter()
            .filter_map(|(d, v)| v[0].map(|s| bar(d.name(), s, 1e3)))
            .collect(),
    });
    for tool in [phases::Tool::OvsOfctl, phases::Tool::Ofctl] {
        panels.push(chart::Panel {
            title: format!(
                "Flow-mod rate, {} flows by {} (higher is better)",
                cfg.flowmod_rules,
                tool.name()
            ),
            unit: "k flows/s".into(),
            bars: x
                .flowmod
                .iter()
                .filter(|((_, t), _)| *t == tool)
                .filter_map(|((d, _), v)| v.map(|s| bar(d.name(), s, 1e3)))
                .collect(),
        });
    }
    panels.push(chart::Panel {
        title: format!(
            "Resident memory with {} rules (lower is better)",
            cfg.flowmod_rules
        ),
        unit: "MiB".into(),
        bars: x
            .rss
            .iter()
            .filter_map(|(d, v)| v.map(|s| bar(d.name(), s, 1.0)))
            .collect(),
    });
    panels.push(chart::Panel {
        title: "switchd forwarding threads: 64-byte UDP (higher is better)".into(),
        unit: "Mpps".into(),
        bars: x
            .threads
            .iter()
            .flat_map(|(n, v)| {
                [
                    v[0].map(|s| bar(&format!("x{n}, 1 flow"), s, 1e6)),
                    v[5].map(|s| bar(&format!("x{n}, {} flows", phases::MANY_FLOWS), s, 1e6)),
                ]
            })
            .flatten()
            .collect(),
    });
    panels
}

/// Machine, kernel and date, for the report header.
fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let date = sh(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let ovs = sh(&["ovs-vswitchd", "--version"])
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_default();
    json!({"cpu": cpu, "cores": cores, "kernel": kernel, "date": date.trim(), "ovs": ovs})
}

/// The table's first line: machine, software, repetitions.
fn render_header(cfg: &Config) -> String {
    let m = machine();
    let secs = if cfg.phases.base {
        format!(" x {} s", cfg.secs)
    } else {
        String::new()
    };
    format!(
        "Machine: {} ({} cores), kernel {}, {}; {}; medians of {} interleaved repetitions{secs}; UDP sink {}; generator {}.\n\n",
        m["cpu"].as_str().unwrap_or(""),
        m["cores"],
        m["kernel"].as_str().unwrap_or(""),
        m["date"].as_str().unwrap_or(""),
        m["ovs"].as_str().unwrap_or(""),
        cfg.reps,
        if cfg.blocking_sink { "blocking" } else { "polling" },
        if cfg.socket_gen { "sockets" } else { "a transmit ring" },
    )
}

fn render_table(
    cfg: &Config,
    med: &BTreeMap<Device, [Option<f64>; 10]>,
    errors: &BTreeMap<Device, String>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| device | UDP64 rx Mpps | offered Mpps | loss % | TCP x1 Gbit/s | TCP x4 Gbit/s | RTT p50 us | RTT p99 us | CPU % (UDP) | CPU % idle | peak RSS MiB |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let f = |v: Option<f64>, scale: f64, prec: usize| {
        v.map_or("-".to_string(), |x| format!("{:.*}", prec, x / scale))
    };
    for d in &cfg.devices {
        if let Some(e) = errors.get(d) {
            if !med.contains_key(d) {
                let _ = writeln!(
                    s,
                    "| {} | failed: {} |||||||||",
                    d.name(),
                    e.replace('|', "/")
                );
                continue;
            }
        }
        let Some(v) = med.get(d) else { continue };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            d.name(),
            f(v[1], 1e6, 3),
            f(v[0], 1e6, 3),
            f(v[2], 1.0, 1),
            f(v[5], 1.0, 2),
            f(v[6], 1.0, 2),
            f(v[7], 1.0, 0),
            f(v[8], 1.0, 0),
            f(v[3], 1.0, 0),
            f(v[4], 1.0, 1),
            f(v[9], 1.0, 1),
        );
    }
    // Ratios of the switch (each port mode) against the baselines of this run.
    for ours in [
        Device::Switchd,
        Device::SwitchdAfxdp,
        Device::SwitchdBusyPoll,
    ] {
        let Some(sw) = med.get(&ours) else { continue };
        let ratio = |ours: Option<f64>, base: Device, k: usize| -> String {
            match (ours, med.get(&base).and_then(|b| b[k])) {
                (Some(o), Some(b)) if b > 0.0 => format!("{:.2}x {}", o / b, base.name()),
                _ => format!("n/a ({} not measured)", base.name()),
            }
        };
        let _ = writeln!(s, "\n{} against the baselines of this run:", ours.name());
        for base in [
            Device::OvsAfPacket,
            Device::OvsAfXdp,
            Device::Bridge,
            Device::Veth,
        ] {
            let _ = writeln!(s, "- UDP64 rx pps: {}", ratio(sw[1], base, 1));
        }
        for base in [Device::OvsAfPacket, Device::OvsAfPacketTso] {
            let _ = writeln!(s, "- TCP x1: {}", ratio(sw[5], base, 5));
            let _ = writeln!(s, "- TCP x4: {}", ratio(sw[6], base, 6));
        }
        for base in [Device::OvsAfPacket, Device::OvsAfXdp] {
            let _ = writeln!(s, "- RTT p50 (lower is better): {}", ratio(sw[7], base, 7));
            let _ = writeln!(s, "- RTT p99 (lower is better): {}", ratio(sw[8], base, 8));
        }
    }
    s
}

/// The count a child printed on its `TAG N` line (`tx 123`, `rx 120`).
fn tagged_count(out: &str, tag: &str) -> Option<f64> {
    out.lines()
        .find_map(|l| l.strip_prefix(tag))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut v: Vec<String> = vec!["--devices".into(), "veth".into()];
        v.extend(args.iter().map(|s| s.to_string()));
        parse_config(&v)
    }

    #[test]
    fn no_phase_flag_runs_every_phase_and_one_flag_runs_only_that_phase() {
        let all = parse(&[]).expect("parse");
        assert!(all.phases.base && all.phases.scale && all.phases.flow_setup);
        assert!(all.phases.flow_mod && all.phases.threads);
        let one = parse(&["--flow-mod"]).expect("parse");
        assert!(one.phases.flow_mod);
        assert!(!one.phases.base && !one.phases.scale && !one.phases.threads);
    }

    #[test]
    fn lists_and_counts_are_parsed_and_bad_ones_name_the_flag() {
        let c = parse(&[
            "--scale-rules",
            "1,50",
            "--scale-tuples",
            "7",
            "--scale-secs",
            "1",
        ])
        .expect("parse");
        assert_eq!(c.scale_rules, vec![1, 50]);
        assert_eq!(c.scale_tuples, vec![7]);
        for (args, flag) in [
            (&["--scale-rules", "0"][..], "--scale-rules"),
            (&["--scale-rules", "1,x"][..], "--scale-rules"),
            (&["--flowmod-rules", "300000"][..], "--flowmod-rules"),
            (&["--scale-tuples", ""][..], "--scale-tuples"),
            (&["--setup-secs", "0"][..], "--setup-secs"),
            (&["--scan-threads"][..], "--scan-threads"),
            (&["--bogus"][..], "--bogus"),
        ] {
            let e = parse(args).expect_err("must fail");
            assert!(e.starts_with(flag), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
