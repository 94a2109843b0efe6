//! `switchd demo`: the switch at work in a few seconds, as root, touching
//! nothing outside itself. It starts three throw-away containers (processes
//! in network namespaces of their own), runs an in-process switch with the
//! default configuration (one bridge in fail mode standalone, whose
//! fail-open rule `priority=0 actions=NORMAL` makes it a learning switch),
//! attaches the containers to it by PID, and has them ping each other every
//! second while it prints per-port counters and the cache hit rates; after
//! `--seconds` (or Ctrl-C) it removes everything.
//!
//! # Shape
//!
//! Each resource is held by a guard whose `Drop` removes it, so an early
//! error, a panic or Ctrl-C leaves nothing behind: the switch is shut down,
//! the veth pairs deleted, the container processes killed by PID (their
//! namespaces go with them) and the temporary directory removed. The
//! containers are `sleep` processes spawned into a new network namespace
//! (`unshare(CLONE_NEWNET)` between fork and exec) with a parent-death
//! signal, so even a demo killed outright does not leave them running. The
//! pings are ICMP echo requests sent from a raw socket by a short-lived
//! thread that entered the container's namespace, so the demo needs no
//! tool besides `sleep`. Every name carries the demo's or the container's
//! PID.

use crate::bridge::{IoMode, Switch, SwitchOptions};
use crate::config::BridgeConfig;
use crate::container::{self, AttachSpec};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `switchd demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// How long to run, in seconds (1-3600); Ctrl-C stops earlier.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub seconds: u64,
}

/// How many containers.
const CONTAINERS: usize = 3;
/// Echo requests each container sends to the next one every second.
const PINGS_PER_TICK: u64 = 3;

/// A process alone in a new network namespace; killed (by PID) on drop.
struct NsProcess {
    child: Child,
}

impl NsProcess {
    fn spawn(lifetime_secs: u64) -> Result<NsProcess, String> {
        let mut cmd = Command::new("sleep");
        cmd.arg(lifetime_secs.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child before exec and only
        // makes the prctl(2) and unshare(2) system calls, which are
        // async-signal-safe and touch no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::unshare(libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("container: cannot start sleep in a new namespace: {e}"))?;
        let p = NsProcess { child };
        // The namespace is the child's own once it reaches exec.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if ns_differs(p.pid()) {
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "container: process {} did not get its own network namespace",
                    p.pid()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn ns_differs(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    let ours = std::fs::metadata("/proc/self/ns/net");
    matches!((theirs, ours), (Ok(a), Ok(b)) if a.ino() != b.ino() || a.dev() != b.dev())
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A veth pair made by attaching a container; deleted on drop.
struct Veth(String);

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = container::detach(&self.0);
    }
}

/// The in-process switch; shut down on drop, with its directory removed.
struct SwitchGuard {
    switch: Arc<Switch>,
    dir: PathBuf,
}

impl Drop for SwitchGuard {
    fn drop(&mut self) {
        self.switch.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn icmp_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    #[allow(clippy::cast_possible_truncation)] // folded to 16 bits above
    let folded = sum as u16;
    !folded
}

/// Sends one ICMP echo request from inside the network namespace `ns` to
/// `dst` and waits up to `timeout` for the reply; returns the round trip.
/// The calling thread enters the namespace: call it on a thread of its own.
fn ping_here(
    ns: &File,
    dst: std::net::Ipv4Addr,
    seq: u16,
    timeout: Duration,
) -> Result<Duration, String> {
    use nix::sys::socket::{
        recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag,
        SockProtocol, SockType, SockaddrIn,
    };
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("ping: entering the namespace: {e}"))?;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
    .map_err(|e| format!("ping: raw socket: {e}"))?;
    #[allow(clippy::cast_possible_truncation)] // any 16 bits make an identifier
    let id = (std::process::id() as u16) ^ 0x5d00;
    let mut pkt = vec![8u8, 0, 0, 0];
    pkt.extend_from_slice(&id.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(b"switchd demo ping payload 32 by");
    let c = icmp_checksum(&pkt);
    pkt[2..4].copy_from_slice(&c.to_be_bytes());
    let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
    let start = Instant::now();
    sendto(sock.as_raw_fd(), &pkt, &to, MsgFlags::empty())
        .map_err(|e| format!("ping: send: {e}"))?;
    let deadline = start + timeout;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("ping: no answer from {dst}"));
        }
        let tv = nix::sys::time::TimeVal::new(
            i64::try_from(left.as_secs()).unwrap_or(1),
            i64::from(left.subsec_micros()).max(1),
        );
        setsockopt(&sock, sockopt::ReceiveTimeout, &tv).map_err(|e| format!("ping: {e}"))?;
        let (n, from) = match recvfrom::<SockaddrIn>(sock.as_raw_fd(), &mut buf) {
            Ok(r) => r,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("ping: receive: {e}")),
        };
        let b = &buf[..n.min(buf.len())];
        if b.is_empty() {
            continue;
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let Some(icmp) = b.get(ihl..ihl + 8) else {
            continue;
        };
        let from_ok = from.is_some_and(|f| f.ip() == dst);
        if from_ok
            && icmp[0] == 0
            && icmp[4..6] == id.to_be_bytes()
            && icmp[6..8] == seq.to_be_bytes()
        {
            return Ok(start.elapsed());
        }
    }
}

fn addr_of(i: usize) -> String {
    format!("198.18.0.{}", i + 1)
}

/// Runs the demo; prints as it goes; exit status 0 when pings got through.
pub fn run(args: &DemoArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("switchd demo: no ping was answered");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("switchd demo: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: &DemoArgs) -> Result<bool, String> {
    if args.seconds == 0 || args.seconds > 3600 {
        return Err(format!(
            "seconds: {} is out of range (1-3600)",
            args.seconds
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (it creates network namespaces and veth pairs)".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        rt.spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let me = std::process::id();
    let dir = std::env::temp_dir().join(format!("switchd-demo-{me}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let switch = {
        let _enter = rt.enter();
        Switch::new(SwitchOptions {
            run_dir: dir.join("run"),
            state_dir: dir.join("state"),
            io: IoMode::Os,
        })
        .map_err(|e| e.to_string())?
    };
    let guard = SwitchGuard {
        switch: Arc::new(switch),
        dir,
    };
    let bridge_name = format!("demo{me}");
    let mut cfg = BridgeConfig::new(&bridge_name);
    cfg.local_port = false;
    cfg.threads = Some(1);
    let bridge = guard
        .switch
        .add_bridge(cfg)
        .map_err(|e| format!("bridge: {e}"))?;
    println!(
        "bridge {bridge_name}: fail mode {}, flows: priority=0 actions=NORMAL",
        bridge.fail_mode()
    );
    // Containers, their veths and namespace handles. Declared so that drop
    // order is: namespace files, veths, processes, then the switch guard
    // (declared first, dropped last).
    let mut procs: Vec<NsProcess> = Vec::new();
    let mut veths: Vec<Veth> = Vec::new();
    let mut nsfiles: Vec<File> = Vec::new();
    for i in 0..CONTAINERS {
        let p = NsProcess::spawn(args.seconds + 60)?;
        let pid = p.pid();
        procs.push(p);
        let spec = AttachSpec {
            pid,
            ifname: "eth0".into(),
            addr: Some((addr_of(i).parse().map_err(|_| "address".to_string())?, 24)),
            mac: Some([0x02, 0x5d, 0, 0, 0, u8::try_from(i + 1).unwrap_or(0xff)]),
            gateway: None,
            mtu: None,
        };
        let host = container::attach(&spec).map_err(|e| format!("container {}: {e}", i + 1))?;
        veths.push(Veth(host.clone()));
        let ofport = bridge
            .add_port(crate::config::PortSpec::system(&host))
            .map_err(|e| format!("container {}: {e}", i + 1))?;
        nsfiles.push(
            File::open(format!("/proc/{pid}/ns/net"))
                .map_err(|e| format!("container {}: {e}", i + 1))?,
        );
        println!(
            "container c{}: pid {pid}, eth0 {}/24, port {host} (ofport {ofport})",
            i + 1,
            addr_of(i)
        );
    }
    let _ = std::io::stdout().flush();
    let mut answered = 0u32;
    let mut sent = 0u32;
    let start = Instant::now();
    for second in 1..=args.seconds {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let tick = Instant::now();
        let pings: Vec<_> = (0..CONTAINERS)
            .map(|from| {
                let to = (from + 1) % CONTAINERS;
                let ns = nsfiles[from].try_clone();
                let dst: std::net::Ipv4Addr =
                    addr_of(to).parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST);
                let h = std::thread::spawn(move || {
                    let ns = ns.map_err(|e| e.to_string())?;
                    let mut rtts = Vec::new();
                    for k in 0..PINGS_PER_TICK {
                        #[allow(clippy::cast_possible_truncation)] // sequence numbers wrap
                        let seq = (second * PINGS_PER_TICK + k) as u16;
                        match ping_here(&ns, dst, seq, Duration::from_millis(250)) {
                            Ok(rtt) => rtts.push(rtt),
                            Err(e) if e.starts_with("ping: no answer") => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok::<_, String>(rtts)
                });
                (from, to, h)
            })
            .collect();
        let mut results = Vec::new();
        for (from, to, h) in pings {
            let rtts = h
                .join()
                .unwrap_or_else(|_| Err("ping thread panicked".into()))?;
            sent += u32::try_from(PINGS_PER_TICK).unwrap_or(u32::MAX);
            answered += u32::try_from(rtts.len()).unwrap_or(u32::MAX);
            let text = match rtts.iter().min() {
                Some(best) => format!(
                    "{}/{PINGS_PER_TICK} ok, best {:.2}ms",
                    rtts.len(),
                    best.as_secs_f64() * 1000.0
                ),
                None => format!("0/{PINGS_PER_TICK} answered"),
            };
            results.push(format!("c{}->c{} {text}", from + 1, to + 1));
        }
        println!("[{second:>3}s] ping {}", results.join("  "));
        println!(
            "       {:<12} {:>8} {:>8} {:>10} {:>10}",
            "port", "rx_pkts", "tx_pkts", "rx_bytes", "tx_bytes"
        );
        for p in bridge.ports() {
            println!(
                "       {:<12} {:>8} {:>8} {:>10} {:>10}",
                p.name, p.stats.rx_packets, p.stats.tx_packets, p.stats.rx_bytes, p.stats.tx_bytes
            );
        }
        let (mut emc, mut mf, mut miss, mut flows) = (0u64, 0u64, 0u64, 0u64);
        for t in bridge.cache_stats() {
            emc += t.stats.emc_hits;
            mf += t.stats.megaflow_hits;
            miss += t.stats.misses;
            flows += t.stats.flows;
        }
        let total = emc + mf + miss;
        #[allow(clippy::cast_precision_loss)] // percentages to print
        let pct = |n: u64| {
            if total == 0 {
                0.0
            } else {
                n as f64 * 100.0 / total as f64
            }
        };
        println!(
            "       cache: emc {:.1}%  megaflow {:.1}%  miss {:.1}%  ({total} packets, {flows} megaflows)",
            pct(emc),
            pct(mf),
            pct(miss)
        );
        let _ = std::io::stdout().flush();
        if let Some(rest) = Duration::from_secs(1).checked_sub(tick.elapsed()) {
            let until = Instant::now() + rest;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    println!(
        "demo: {answered}/{sent} pings answered in {:.1}s; removing the containers and the switch",
        start.elapsed().as_secs_f64()
    );
    drop(nsfiles);
    drop(veths);
    drop(procs);
    drop(guard);
    drop(rt);
    println!("demo: done, nothing left behind");
    Ok(answered > 0)
}
