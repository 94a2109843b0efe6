//! The management side end to end: a real `switchd run` with its management
//! socket, driven by `switchd ctl`, with traffic between network namespaces
//! and veths this file creates; persistence across a restart; a container
//! made with `unshare --net --fork sleep 60` attached by PID; `trace` and
//! `dump-dp-flows` output; argument errors; and `switchd demo`.
//!
//! Every test uses its own prefix for namespaces, links, bridges and
//! directories (`mg{pid}{n}`), removed by guards even when the test fails.
//! Pings are ICMP echo requests sent from a raw socket by a thread that
//! entered the namespace, bounded in count and time. The tests need root;
//! without it they skip, unless `SWITCH_REQUIRE_PEERS` is set.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SWITCHD: &str = env!("CARGO_BIN_EXE_switchd");

/// Whether the test can run; panics when it must and cannot.
fn can_run(what: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let tools = ["ip", "unshare"].iter().all(|t| {
        Command::new(t).arg("-V").output().is_ok()
            || Command::new(t).arg("--version").output().is_ok()
    });
    if root && tools {
        return true;
    }
    assert!(
        std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
        "{what}: needs root, ip and unshare"
    );
    eprintln!("skipped {what}: needs root, ip and unshare");
    false
}

/// A prefix unique to this test in this run.
fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("mg{}{n}", std::process::id() % 10_000)
}

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn sh_ok(args: &[&str]) {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Namespaces and links made by a test; removed on drop.
struct Net {
    prefix: String,
    namespaces: Vec<String>,
    links: Vec<String>,
}

impl Net {
    fn new() -> Net {
        Net {
            prefix: prefix(),
            namespaces: Vec::new(),
            links: Vec::new(),
        }
    }

    fn name(&self, suffix: &str) -> String {
        let n = format!("{}{suffix}", self.prefix);
        assert!(n.len() <= 15, "{n} is too long");
        n
    }

    /// A namespace `<prefix>n<i>` joined to the host by a veth whose host
    /// end is `<prefix>h<i>` and whose inner end is `eth0` with `addr/24`.
    fn host(&mut self, i: u32, addr: &str) -> (String, String) {
        let ns = self.name(&format!("n{i}"));
        let host = self.name(&format!("h{i}"));
        let tmp = self.name(&format!("t{i}"));
        sh_ok(&["ip", "netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        sh_ok(&[
            "ip", "link", "add", &host, "type", "veth", "peer", "name", &tmp,
        ]);
        self.links.push(host.clone());
        sh_ok(&["ip", "link", "set", &tmp, "netns", &ns]);
        let inside = |args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", &ns];
            v.extend_from_slice(args);
            sh_ok(&v);
        };
        inside(&["ip", "link", "set", &tmp, "name", "eth0"]);
        inside(&["ip", "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        inside(&["ip", "link", "set", "eth0", "up"]);
        inside(&["ip", "link", "set", "lo", "up"]);
        sh_ok(&["ip", "link", "set", &host, "up"]);
        (ns, host)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = sh(&["ip", "link", "del", l]);
        }
        for n in &self.namespaces {
            let _ = sh(&["ip", "netns", "del", n]);
        }
    }
}

fn link_exists(name: &str) -> bool {
    sh(&["ip", "link", "show", "dev", name]).status.success()
}

fn icmp_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |b| u32::from(*b));
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0)
}

/// One ICMP echo from the namespace file `ns` to `dst`; whether it was answered in `timeout`.
fn ping_once(ns: &Path, dst: Ipv4Addr, seq: u16, timeout: Duration) -> bool {
    use nix::sys::socket::{
        recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag,
        SockProtocol, SockType, SockaddrIn,
    };
    let ns = File::open(ns).expect("namespace");
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let s = socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Icmp,
        )
        .expect("raw socket");
        let id = u16::try_from(std::process::id() % 65_536).unwrap_or(1);
        let mut pkt = vec![8u8, 0, 0, 0];
        pkt.extend_from_slice(&id.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&[0x5a; 32]);
        let c = icmp_checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
        let start = Instant::now();
        if sendto(
            s.as_raw_fd(),
            &pkt,
            &SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0)),
            MsgFlags::empty(),
        )
        .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 1500];
        while start.elapsed() < timeout {
            let tv = nix::sys::time::TimeVal::new(0, 100_000);
            let _ = setsockopt(&s, sockopt::ReceiveTimeout, &tv);
            let Ok((n, from)) = recvfrom::<SockaddrIn>(s.as_raw_fd(), &mut buf) else {
                continue;
            };
            let b = &buf[..n];
            let ihl = usize::from(b.first().copied().unwrap_or(0) & 0xf) * 4;
            if let Some(icmp) = b.get(ihl..ihl + 8) {
                if from.is_some_and(|f| f.ip() == dst)
                    && icmp[0] == 0
                    && icmp[4..6] == id.to_be_bytes()
                    && icmp[6..8] == seq.to_be_bytes()
                {
                    return true;
                }
            }
        }
        false
    })
    .join()
    .unwrap_or(false)
}

/// Pings until one is answered, at most `tries` times (one second each).
fn ping(ns: &Path, dst: &str, tries: u16) -> bool {
    let dst: Ipv4Addr = dst.parse().unwrap();
    (1..=tries).any(|seq| ping_once(ns, dst, seq, Duration::from_secs(1)))
}

fn netns_path(ns: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{ns}"))
}

/// A running `switchd run`; stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Option<Child>,
    run_dir: PathBuf,
}

impl Daemon {
    fn start(run_dir: &Path, state_dir: &Path, extra: &[&str]) -> Daemon {
        let mut args = vec![
            "run".to_string(),
            "--run-dir".into(),
            run_dir.display().to_string(),
            "--state-dir".into(),
            state_dir.display().to_string(),
            "--threads".into(),
            "1".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_string()));
        let child = Command::new(SWITCHD)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("switchd run");
        let mut d = Daemon {
            child: Some(child),
            run_dir: run_dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(c) = d.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("switchd exited early: {st}");
                }
            }
            if run_dir.join("switchd.ctl").exists() && d.ctl(&["show"]).status.success() {
                return d;
            }
            assert!(Instant::now() < deadline, "switchd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        ctl(&self.run_dir, args)
    }

    /// Runs a ctl command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.ctl(args);
        assert!(
            o.status.success(),
            "ctl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(c.id()).unwrap());
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ctl(run_dir: &Path, args: &[&str]) -> Output {
    Command::new(SWITCHD)
        .arg("ctl")
        .arg("--run-dir")
        .arg(run_dir)
        .args(args)
        .output()
        .expect("switchd ctl")
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("switchd-mgmt-{tag}-{}", prefix()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.0.join(sub)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lines of `show` under `Port NAME`, up to the next port or bridge.
fn port_block(show: &str, name: &str) -> Option<Vec<String>> {
    let mut lines = show.lines();
    lines.find(|l| l.trim() == format!("Port {name}"))?;
    Some(
        lines
            .take_while(|l| !l.trim_start().starts_with("Port ") && !l.starts_with("Bridge "))
            .map(|l| l.trim().to_string())
            .collect(),
    )
}

#[test]
fn ctl_show_add_port_and_del_port_change_a_running_bridge() {
    if !can_run("ctl_show_add_port_and_del_port_change_a_running_bridge") {
        return;
    }
    let mut net = Net::new();
    let (ns1, h1) = net.host(1, "198.18.0.1");
    let (_ns2, h2) = net.host(2, "198.18.0.2");
    let br = net.name("b");
    let dir = TempDir::new("show");
    let d = Daemon::start(
        &dir.path("run"),
        &dir.path("state"),
        &["--bridge", &br, "--port", &h1],
    );
    let show = d.ok(&["show"]);
    assert!(show.contains(&format!("Bridge {br}")), "{show}");
    assert!(show.contains("fail_mode: standalone"), "{show}");
    let p1 = port_block(&show, &h1).expect("port 1 shown");
    assert!(p1.contains(&"ofport: 1".to_string()), "{p1:?}");
    assert!(p1.contains(&"type: system".to_string()), "{p1:?}");
    assert!(p1.contains(&"link: up".to_string()), "{p1:?}");
    assert!(port_block(&show, &h2).is_none());
    // Not yet connected: no answer.
    assert!(!ping(&netns_path(&ns1), "198.18.0.2", 1));
    let out = d.ok(&["add-port", &br, &h2, "ofport=5"]);
    assert_eq!(out.trim(), format!("{h2}: ofport 5"));
    let show = d.ok(&["show"]);
    let p2 = port_block(&show, &h2).expect("port 2 shown");
    assert!(p2.contains(&"ofport: 5".to_string()), "{p2:?}");
    assert!(
        ping(&netns_path(&ns1), "198.18.0.2", 5),
        "no ping after add-port"
    );
    d.ok(&["del-port", &br, &h2]);
    let show = d.ok(&["show"]);
    assert!(port_block(&show, &h2).is_none(), "{show}");
    assert!(!ping(&netns_path(&ns1), "198.18.0.2", 1));
    // The interface the switch did not create is still there.
    assert!(link_exists(&h2));
}

#[test]
fn a_restarted_daemon_restores_ports_with_their_numbers_and_bridges() {
    if !can_run("a_restarted_daemon_restores_ports_with_their_numbers_and_bridges") {
        return;
    }
    let mut net = Net::new();
    let (ns1, h1) = net.host(1, "198.18.0.1");
    let (_ns2, h2) = net.host(2, "198.18.0.2");
    let br = net.name("b");
    let br2 = net.name("c");
    let dir = TempDir::new("restart");
    let (run, state) = (dir.path("run"), dir.path("state"));
    let args = ["--bridge", br.as_str(), "--port", h1.as_str()];
    {
        let d = Daemon::start(&run, &state, &args);
        d.ok(&["add-port", &br, &h2, "ofport=9"]);
        d.ok(&[
            "add-bridge",
            &br2,
            "--dpid",
            "00000000000000c2",
            "--fail-mode",
            "secure",
        ]);
        d.ok(&[
            "set-controller",
            &br2,
            "tcp:127.0.0.1:1",
            "ptcp:0:127.0.0.1",
        ]);
        d.ok(&["set-fail-mode", &br, "standalone"]);
    }
    assert!(!run.join("switchd.ctl").exists(), "socket left behind");
    let saved = std::fs::read_to_string(state.join("switchd.state.json")).unwrap();
    assert!(saved.contains("\"ofport\": 9"), "{saved}");
    let d = Daemon::start(&run, &state, &args);
    let show = d.ok(&["show"]);
    let p2 = port_block(&show, &h2).expect("restored port");
    assert!(p2.contains(&"ofport: 9".to_string()), "{p2:?}");
    assert!(port_block(&show, &h1)
        .unwrap()
        .contains(&"ofport: 1".to_string()));
    let second = show
        .split(&format!("Bridge {br2}"))
        .nth(1)
        .expect("second bridge restored");
    assert!(second.contains("dpid: 00000000000000c2"), "{second}");
    assert!(second.contains("fail_mode: secure"), "{second}");
    assert!(
        second.contains("Controller \"tcp:127.0.0.1:1\""),
        "{second}"
    );
    assert!(ping(&netns_path(&ns1), "198.18.0.2", 5));
    // A bridge deleted at run time stays deleted.
    d.ok(&["del-bridge", &br2]);
    drop(d);
    let d = Daemon::start(&run, &state, &args);
    assert!(!d.ok(&["show"]).contains(&format!("Bridge {br2}")));
}

/// `unshare --net --fork sleep 60`, killed (with its child) by PID on drop.
struct Container {
    child: Child,
}

impl Container {
    fn start() -> Container {
        let child = Command::new("unshare")
            .args(["--net", "--fork", "sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let c = Container { child };
        let deadline = Instant::now() + Duration::from_secs(5);
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        while std::fs::read_link(c.ns_path()).ok().as_ref() == Some(&ours) {
            assert!(
                Instant::now() < deadline,
                "unshare did not make a namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        c
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid()))
    }

    fn inside(&self, args: &[&str]) -> String {
        let o = Command::new("nsenter")
            .arg(format!("--net={}", self.ns_path().display()))
            .args(args)
            .output()
            .expect("nsenter");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let pid = self.pid();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_container_attached_by_pid_pings_a_namespace_host_and_detaches() {
    if !can_run("a_container_attached_by_pid_pings_a_namespace_host_and_detaches") {
        return;
    }
    let mut net = Net::new();
    let (ns1, h1) = net.host(1, "198.18.0.1");
    let br = net.name("b");
    let dir = TempDir::new("container");
    let d = Daemon::start(
        &dir.path("run"),
        &dir.path("state"),
        &["--bridge", &br, "--port", &h1],
    );
    let c = Container::start();
    let pid = c.pid().to_string();
    let out = d.ok(&[
        "attach-container",
        &br,
        "--pid",
        &pid,
        "--ip",
        "198.18.0.7/24",
        "--mac",
        "02:00:00:00:00:07",
        "--gateway",
        "198.18.0.1",
        "--mtu",
        "1400",
    ]);
    let host = format!("vc{pid}p0");
    assert!(out.contains(&format!("as port {host}")), "{out}");
    let show = d.ok(&["show"]);
    let block = port_block(&show, &host).expect("container port shown");
    assert!(
        block.contains(&format!("container: pid {pid} eth1")),
        "{block:?}"
    );
    let link = c.inside(&["ip", "-o", "link", "show", "dev", "eth1"]);
    assert!(
        link.contains("mtu 1400") && link.contains("02:00:00:00:00:07"),
        "{link}"
    );
    assert!(c
        .inside(&["ip", "route"])
        .contains("default via 198.18.0.1"));
    assert!(ping(&c.ns_path(), "198.18.0.1", 5), "container -> host");
    assert!(
        ping(&netns_path(&ns1), "198.18.0.7", 3),
        "host -> container"
    );
    // Attaching the same name again is refused and leaves nothing.
    let again = d.ctl(&["attach-container", &br, "--pid", &pid]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("ifname:"), "{err}");
    assert!(!link_exists(&format!("vc{pid}p1")));
    d.ok(&["detach-container", &br, "--pid", &pid, "--ifname", "eth1"]);
    assert!(!link_exists(&host));
    assert!(port_block(&d.ok(&["show"]), &host).is_none());
    assert!(c
        .inside(&["ip", "-o", "link"])
        .lines()
        .all(|l| !l.contains("eth1")));
}

#[test]
fn trace_on_a_standalone_bridge_shows_table_0_normal_and_the_datapath_actions() {
    if !can_run("trace_on_a_standalone_bridge_shows_table_0_normal_and_the_datapath_actions") {
        return;
    }
    let mut net = Net::new();
    let (_ns1, h1) = net.host(1, "198.18.0.1");
    let (_ns2, h2) = net.host(2, "198.18.0.2");
    let br = net.name("b");
    let dir = TempDir::new("trace");
    let d = Daemon::start(
        &dir.path("run"),
        &dir.path("state"),
        &[
            "--bridge",
            &br,
            "--port",
            &format!("{h1}=1"),
            "--port",
            &format!("{h2}=2"),
        ],
    );
    let flow = "in_port=1,dl_src=02:00:00:00:01:01,dl_dst=02:00:00:00:02:02,\
                tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=4000,tp_dst=80";
    let out = d.ok(&["trace", &br, flow]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Flow: tcp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:01:01,dl_dst=02:00:00:00:02:02,\
         nw_src=198.18.0.1,nw_dst=198.18.0.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,\
         tp_src=4000,tp_dst=80,tcp_flags=0x0",
        "{out}"
    );
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], format!("bridge(\"{br}\")"));
    assert_eq!(lines[3], "-".repeat(lines[2].len()));
    assert!(
        lines[4].starts_with(" 0. priority=0"),
        "table 0 line: {}",
        lines[4]
    );
    assert_eq!(lines[5], "    NORMAL");
    assert_eq!(
        lines[6],
        format!("     -> no learned MAC for destination, flooding to 2 ({h2}),LOCAL ({br})")
    );
    let tail: Vec<&str> = lines.iter().rev().take(3).rev().copied().collect();
    assert_eq!(tail[0], "Final flow: unchanged");
    assert_eq!(
        tail[1],
        "Megaflow: recirc_id=0,in_port=1,vlan_tci=0x0000/0x1fff,\
         dl_src=02:00:00:00:01:01,dl_dst=02:00:00:00:02:02"
    );
    assert_eq!(tail[2], "Datapath actions: 2,LOCAL");
    // Tracing learned nothing (the bridge's own LOCAL device may have
    // sent something of its own meanwhile).
    let fdb = d.ok(&["fdb-show", &br]);
    assert_eq!(
        fdb.lines().next(),
        Some(" port  VLAN  MAC                Age")
    );
    assert!(!fdb.contains("02:00:00:00:01:01"), "{fdb}");
    // After secure mode the table is empty: a miss.
    d.ok(&["set-fail-mode", &br, "secure"]);
    let out = d.ok(&["trace", &br, flow]);
    assert!(out.contains(" 0. No match.\n    drop\n"), "{out}");
    assert!(out.ends_with("Datapath actions: drop\n"), "{out}");
}

#[test]
fn dump_dp_flows_after_pings_shows_megaflows_with_masks_and_ports() {
    if !can_run("dump_dp_flows_after_pings_shows_megaflows_with_masks_and_ports") {
        return;
    }
    let mut net = Net::new();
    let (ns1, h1) = net.host(1, "198.18.0.1");
    let (ns2, h2) = net.host(2, "198.18.0.2");
    let br = net.name("b");
    let dir = TempDir::new("dump");
    let d = Daemon::start(
        &dir.path("run"),
        &dir.path("state"),
        &[
            "--bridge",
            &br,
            "--port",
            &format!("{h1}=1"),
            "--port",
            &format!("{h2}=2"),
        ],
    );
    assert!(ping(&netns_path(&ns1), "198.18.0.2", 5));
    assert!(ping(&netns_path(&ns2), "198.18.0.1", 3));
    let mac_of = |ns: &str| {
        let o = sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "cat",
            "/sys/class/net/eth0/address",
        ]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let (m1, m2) = (mac_of(&ns1), mac_of(&ns2));
    let dump = d.ok(&["dump-dp-flows", &br]);
    let one_to_two = format!("recirc_id(0),in_port(1),eth(src={m1},dst={m2}),vlan(none),");
    let line = dump
        .lines()
        .find(|l| l.starts_with(&one_to_two))
        .unwrap_or_else(|| panic!("no megaflow 1 -> 2 in:\n{dump}"));
    assert!(line.ends_with(", actions:2"), "{line}");
    let packets: u64 = line
        .split(", packets:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("packet count");
    assert!(packets >= 1, "{line}");
    assert!(line.contains(", used:"), "{line}");
    let back = format!("recirc_id(0),in_port(2),eth(src={m2},dst={m1}),vlan(none),");
    assert!(
        dump.lines()
            .any(|l| l.starts_with(&back) && l.ends_with(", actions:1")),
        "{dump}"
    );
    let fdb = d.ok(&["fdb-show", &br]);
    assert!(fdb.contains(&m1) && fdb.contains(&m2), "{fdb}");
    let stats = d.ok(&["cache-stats", &br]);
    let row = stats.lines().nth(1).expect("a thread row");
    assert!(row.starts_with(&br), "{stats}");
}

#[test]
fn bad_ctl_arguments_give_one_line_naming_the_field_and_fail() {
    if !can_run("bad_ctl_arguments_give_one_line_naming_the_field_and_fail") {
        return;
    }
    let mut net = Net::new();
    let (_ns1, h1) = net.host(1, "198.18.0.1");
    let br = net.name("b");
    let dir = TempDir::new("bad");
    let d = Daemon::start(
        &dir.path("run"),
        &dir.path("state"),
        &["--bridge", &br, "--port", &h1],
    );
    let before = d.ok(&["show"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "add-port".into(),
                br.clone(),
                "x1".into(),
                "tag=5000".into(),
            ],
            "tag:",
        ),
        (
            vec![
                "add-port".into(),
                br.clone(),
                "x1".into(),
                "ofport=zero".into(),
            ],
            "ofport:",
        ),
        (
            vec![
                "add-port".into(),
                br.clone(),
                "x1".into(),
                "type=gre".into(),
            ],
            "type:",
        ),
        (
            vec!["add-port".into(), "nosuchbr".into(), "x1".into()],
            "bridge:",
        ),
        (vec!["add-port".into(), br.clone(), h1.clone()], "port:"),
        (
            vec![
                "add-port".into(),
                br.clone(),
                h1.clone() + "z",
                "ofport=1".into(),
            ],
            "ofport:",
        ),
        (
            vec!["set-fail-mode".into(), br.clone(), "open".into()],
            "fail-mode:",
        ),
        (
            vec!["set-controller".into(), br.clone(), "udp:1.2.3.4".into()],
            "target",
        ),
        (
            vec![
                "attach-container".into(),
                br.clone(),
                "--pid".into(),
                "12ab".into(),
            ],
            "pid:",
        ),
        (
            vec![
                "attach-container".into(),
                br.clone(),
                "--pid".into(),
                "1".into(),
                "--ip".into(),
                "198.18.0.1/40".into(),
            ],
            "ip:",
        ),
        (
            vec!["trace".into(), br.clone(), "in_port=1,tp_dst=80".into()],
            "tp_dst:",
        ),
        (vec!["fdb-show".into(), "nosuchbr".into()], "bridge:"),
        (
            vec!["del-port".into(), br.clone(), "nosuch".into()],
            "port:",
        ),
    ];
    for (args, field) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = d.ctl(&a);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("switchd ctl: {field}")),
            "{args:?}: {err}"
        );
    }
    // Nothing running was disturbed.
    assert_eq!(d.ok(&["show"]), before);
    // No daemon at all: one line too.
    let o = ctl(&dir.path("nowhere"), &["show"]);
    assert!(!o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

#[test]
fn the_management_socket_is_private_and_removed_on_shutdown() {
    use std::os::unix::fs::PermissionsExt;
    if !can_run("the_management_socket_is_private_and_removed_on_shutdown") {
        return;
    }
    let net = Net::new();
    let br = net.name("b");
    let dir = TempDir::new("sock");
    let mut d = Daemon::start(&dir.path("run"), &dir.path("state"), &["--bridge", &br]);
    let sock = dir.path("run").join("switchd.ctl");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A malformed request gets a one-line error and the daemon stays.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    use std::io::{BufRead, Write};
    s.write_all(b"{\"cmd\":\"explode\"}\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&s).read_line(&mut line).unwrap();
    assert!(
        line.contains("\"ok\":false") && line.contains("request:"),
        "{line}"
    );
    d.ok(&["show"]);
    d.stop();
    assert!(!sock.exists());
}

#[test]
fn the_demo_runs_to_completion_and_leaves_no_namespace_behind() {
    if !can_run("the_demo_runs_to_completion_and_leaves_no_namespace_behind") {
        return;
    }
    let o = Command::new(SWITCHD)
        .args(["demo", "--seconds", "3"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("switchd demo");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let containers: Vec<(u32, String)> = out
        .lines()
        .filter(|l| l.starts_with("container c"))
        .map(|l| {
            let pid = l
                .split("pid ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|p| p.parse().ok())
                .expect("pid");
            let port = l
                .split("port ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("port")
                .to_string();
            (pid, port)
        })
        .collect();
    assert_eq!(containers.len(), 3, "{out}");
    assert!(out.contains("[  3s] ping"), "{out}");
    assert!(out.contains("cache: emc"), "{out}");
    assert!(out.contains(" ok, best"), "no ping answered:\n{out}");
    for (pid, port) in containers {
        assert!(!link_exists(&port), "{port} left behind");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "container process {pid} left behind"
        );
    }
    assert!(out.trim_end().ends_with("nothing left behind"), "{out}");
}
