//! End-to-end forwarding through `switchd run`: namespaces stand for
//! hosts, veth pairs connect them to the switch, which runs in a namespace
//! of its own (so its LOCAL port and fanout groups cannot collide with
//! other tests). With no controller the bridge is a learning switch
//! (fail-open NORMAL).

mod common;

use common::{can_run, prefix, tcp_transfer, udp_flood, veth, Link, Netns, Switchd, TempDir};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A switch namespace and `n` host namespaces, host `i` at 198.18.0.(i+1)
/// on interface `{p}e{i}`, whose peer `{p}p{i}` is in the switch namespace.
struct Topo {
    p: String,
    hosts: Vec<Netns>,
    sw: Netns,
}

impl Topo {
    fn new(n: usize) -> Topo {
        let p = prefix();
        let sw = Netns::new(&format!("{p}sw"));
        let mut hosts = Vec::new();
        for i in 0..n {
            let h = Netns::new(&format!("{p}h{i}"));
            let _: Link = veth(
                &format!("{p}p{i}"),
                Some(&sw),
                &format!("{p}e{i}"),
                Some(&h),
            );
            h.addr(&format!("{p}e{i}"), &format!("198.18.0.{}/24", i + 1));
            hosts.push(h);
        }
        Topo { p, hosts, sw }
    }

    fn port(&self, i: usize) -> String {
        format!("{}p{i}", self.p)
    }

    fn port_args(&self) -> Vec<String> {
        (0..self.hosts.len())
            .flat_map(|i| ["--port".to_owned(), self.port(i)])
            .collect()
    }

    fn start(&self, extra: &[&str]) -> Switchd {
        let mut args: Vec<String> = self.port_args();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(["--bridge".to_owned(), format!("{}br", self.p)]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Switchd::start(Some(&self.sw), &refs)
    }
}

fn ip(i: usize) -> String {
    format!("198.18.0.{}", i + 1)
}

#[test]
fn three_namespaces_ping_each_other_through_the_switch() {
    if !can_run("three_namespaces_ping_each_other_through_the_switch") {
        return;
    }
    let t = Topo::new(3);
    let _sw = t.start(&[]);
    assert!(
        t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)),
        "first ping"
    );
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                assert!(t.hosts[a].ping(&ip(b), 3), "{a} -> {b}");
            }
        }
    }
}

#[test]
fn a_100_megabyte_tcp_stream_arrives_intact_with_default_offloads() {
    if !can_run("a_100_megabyte_tcp_stream_arrives_intact_with_default_offloads") {
        return;
    }
    let t = Topo::new(2);
    let _sw = t.start(&[]);
    assert!(t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)));
    let total = 100 << 20;
    let addr: SocketAddr = format!("{}:5001", ip(1)).parse().unwrap();
    let (sent, got, secs) = tcp_transfer(
        &t.hosts[0],
        &t.hosts[1],
        addr,
        total,
        Duration::from_secs(120),
    );
    assert_eq!(sent, total, "the sender could not send everything");
    assert_eq!(
        got, total,
        "received {got} of {total} bytes intact in {secs:.1} s"
    );
}

#[test]
fn access_ports_of_one_vlan_reach_each_other_and_never_another_vlan() {
    if !can_run("access_ports_of_one_vlan_reach_each_other_and_never_another_vlan") {
        return;
    }
    let t = Topo::new(3);
    let dir = TempDir::new("vlan");
    let cfg = dir.path.join("switch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[bridge]]\nname = \"{p}br\"\n\
             [[bridge.port]]\nname = \"{a}\"\ntag = 100\n\
             [[bridge.port]]\nname = \"{b}\"\ntag = 100\n\
             [[bridge.port]]\nname = \"{c}\"\ntag = 200\n",
            p = t.p,
            a = t.port(0),
            b = t.port(1),
            c = t.port(2)
        ),
    )
    .unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let _sw = Switchd::start(Some(&t.sw), &["--config", &cfg]);
    assert!(t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)));
    let c_dev = format!("{}e2", t.p);
    let before = t.hosts[2].counter(&c_dev, "rx_packets");
    assert!(t.hosts[1].ping(&ip(0), 2));
    assert!(!t.hosts[0].ping(&ip(2), 2), "tag 100 reached tag 200");
    assert!(!t.hosts[2].ping(&ip(1), 2), "tag 200 reached tag 100");
    // Not one frame of VLAN 100 (broadcast ARP included) reached the tag 200 host.
    assert_eq!(t.hosts[2].counter(&c_dev, "rx_packets"), before);
}

#[test]
fn a_trunk_port_carries_tagged_frames_to_and_from_an_access_port() {
    if !can_run("a_trunk_port_carries_tagged_frames_to_and_from_an_access_port") {
        return;
    }
    let t = Topo::new(2);
    let dir = TempDir::new("trunk");
    let cfg = dir.path.join("switch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[bridge]]\nname = \"{p}br\"\n\
             [[bridge.port]]\nname = \"{a}\"\ntrunks = [100]\n\
             [[bridge.port]]\nname = \"{b}\"\ntag = 100\n",
            p = t.p,
            a = t.port(0),
            b = t.port(1),
        ),
    )
    .unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let _sw = Switchd::start(Some(&t.sw), &["--config", &cfg]);
    t.hosts[1].must(&[
        "ip",
        "addr",
        "add",
        "198.18.1.2/24",
        "dev",
        &format!("{}e1", t.p),
    ]);
    // Host 0 asks for 198.18.1.2 in VLAN 100 with a tagged ARP request; the
    // kernel hands the tag to the switch's ring out of band, and the switch
    // must put it back for the request to belong to VLAN 100. The reply
    // must come back tagged.
    let e0 = format!("{}e0", t.p);
    let tci = t.hosts[0]
        .spawn(move || tagged_arp_exchange(&e0, 100, [198, 18, 1, 1], [198, 18, 1, 2]))
        .join()
        .unwrap();
    assert_eq!(tci, Some(100), "no tagged ARP reply");
    // Untagged frames of the trunk (VLAN 0) are not carried to VLAN 100.
    assert!(!t.hosts[0].ping(&ip(1), 2));
}

/// Sends a VLAN-tagged ARP request on `dev` (from the calling thread's
/// namespace) until a reply for `target` arrives (3 s at most); returns the
/// VLAN id the reply carried, if one came.
fn tagged_arp_exchange(dev: &str, vlan: u16, sender: [u8; 4], target: [u8; 4]) -> Option<u16> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mac = [0x02, 0, 0, 0x5a, 0x5a, 0x01];
    let ifindex = nix_ifindex(dev);
    // SAFETY: plain system call; the result is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(0x0003u16.to_be()),
        )
    };
    assert!(fd >= 0);
    // SAFETY: `fd` was just opened and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap();
    sll.sll_protocol = 0x0003u16.to_be();
    sll.sll_ifindex = ifindex;
    let sll_len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap();
    // SAFETY: `sll` is initialised and its size passed.
    let r = unsafe { libc::bind(sock.as_raw_fd(), (&raw const sll).cast(), sll_len) };
    assert_eq!(r, 0);
    let one: libc::c_int = 1;
    // SAFETY: an int option on an open socket.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_AUXDATA,
            (&raw const one).cast(),
            4,
        );
    }
    let mut req = vec![0xffu8; 6];
    req.extend_from_slice(&mac);
    req.extend_from_slice(&[0x81, 0x00]);
    req.extend_from_slice(&vlan.to_be_bytes());
    req.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    req.extend_from_slice(&mac);
    req.extend_from_slice(&sender);
    req.extend_from_slice(&[0; 6]);
    req.extend_from_slice(&target);
    let end = Instant::now() + Duration::from_secs(3);
    let mut next_send = Instant::now();
    while Instant::now() < end {
        if Instant::now() >= next_send {
            // SAFETY: `req` is valid for its length.
            unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
            next_send = Instant::now() + Duration::from_millis(300);
        }
        let mut p = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&raw mut p, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 2048];
        let mut cbuf = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: an all-zero msghdr is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        // SAFETY: `msg` points to live buffers of the given sizes.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
        let Ok(n) = usize::try_from(n) else { continue };
        let f = &buf[..n];
        // The kernel took the tag out: an untagged ARP reply for us.
        let is_reply = n >= 42
            && f[..6] == mac
            && f[12..14] == [0x08, 0x06]
            && f[20..22] == [0, 2]
            && f[28..32] == target;
        if !is_reply {
            continue;
        }
        // SAFETY: walks the control messages the kernel wrote into `cbuf`.
        let mut c = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
        while !c.is_null() {
            // SAFETY: `c` is a control message header inside `cbuf`.
            let h = unsafe { &*c };
            if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == libc::PACKET_AUXDATA {
                // SAFETY: PACKET_AUXDATA carries a tpacket_auxdata.
                let aux: libc::tpacket_auxdata =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
                let valid = aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0;
                return valid.then_some(aux.tp_vlan_tci & 0x0fff);
            }
            // SAFETY: as above.
            c = unsafe { libc::CMSG_NXTHDR(&raw const msg, c) };
        }
        return None;
    }
    None
}

/// The interface index of `dev` in the calling thread's namespace.
fn nix_ifindex(dev: &str) -> i32 {
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: `name` is a valid C string.
    let ix = unsafe { libc::if_nametoindex(name.as_ptr()) };
    i32::try_from(ix).unwrap()
}

#[test]
fn a_host_behind_a_tap_port_is_reachable() {
    if !can_run("a_host_behind_a_tap_port_is_reachable") {
        return;
    }
    let t = Topo::new(1);
    let tap = format!("{}t0", t.p);
    let _sw = t.start(&["--tap", &tap]);
    // The switch created the TAP in its namespace; the host behind it
    // lives in a namespace of its own.
    let host = Netns::new(&format!("{}tp", t.p));
    t.sw.must(&["ip", "link", "set", &tap, "netns", &host.name]);
    host.addr(&tap, "198.18.0.9/24");
    assert!(t.hosts[0].ping_until("198.18.0.9", Duration::from_secs(10)));
    assert!(host.ping(&ip(0), 3));
}

#[test]
fn deleting_an_interface_while_traffic_flows_removes_only_that_port() {
    if !can_run("deleting_an_interface_while_traffic_flows_removes_only_that_port") {
        return;
    }
    let t = Topo::new(3);
    let mut sw = t.start(&[]);
    assert!(t.hosts[0].ping_until(&ip(2), Duration::from_secs(10)));
    assert!(t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)));
    // Traffic towards host 2 while its interface goes away.
    let flood = {
        let src: SocketAddr = format!("{}:0", ip(0)).parse().unwrap();
        let dst: SocketAddr = format!("{}:9", ip(2)).parse().unwrap();
        let from = &t.hosts[0];
        let path = format!("/var/run/netns/{}", from.name);
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            use std::os::fd::AsRawFd;
            // SAFETY: enters the host namespace on this thread only.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            let s = std::net::UdpSocket::bind(src).unwrap();
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_secs(3) {
                if s.send_to(&[0u8; 64], dst).is_ok() {
                    n += 1;
                }
                if n.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    t.hosts[2].must(&["ip", "link", "del", &format!("{}e2", t.p)]);
    let needle = format!("port={}", t.port(2));
    let end = Instant::now() + Duration::from_secs(5);
    let mut removed = false;
    while !removed && Instant::now() < end {
        removed = sw
            .log()
            .lines()
            .any(|l| l.contains("port removed") && l.contains(&needle));
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = flood.join().unwrap();
    assert!(sent > 0);
    assert!(removed, "the port was not removed:\n{}", sw.log());
    assert!(sw.alive(), "the switch died");
    assert!(
        t.hosts[0].ping(&ip(1), 3),
        "the other ports stopped forwarding"
    );
    assert!(t.hosts[1].ping(&ip(0), 3));
}

#[test]
fn a_peer_link_going_down_and_up_is_noticed() {
    if !can_run("a_peer_link_going_down_and_up_is_noticed") {
        return;
    }
    let t = Topo::new(2);
    let mut sw = t.start(&[]);
    let e1 = format!("{}e1", t.p);
    t.hosts[1].must(&["ip", "link", "set", &e1, "down"]);
    let needle = format!("port={}", t.port(1));
    let seen = |sw: &Switchd, up: &str| {
        sw.log()
            .lines()
            .any(|l| l.contains("link state changed") && l.contains(&needle) && l.contains(up))
    };
    let end = Instant::now() + Duration::from_secs(5);
    while !seen(&sw, "up=false") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        seen(&sw, "up=false"),
        "link down not noticed:\n{}",
        sw.log()
    );
    t.hosts[1].must(&["ip", "link", "set", &e1, "up"]);
    let end = Instant::now() + Duration::from_secs(5);
    while !seen(&sw, "up=true") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen(&sw, "up=true"), "link up not noticed:\n{}", sw.log());
    assert!(sw.alive());
    assert!(t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)));
}

#[test]
fn sigterm_removes_the_devices_the_switch_created_and_only_those() {
    if !can_run("sigterm_removes_the_devices_the_switch_created_and_only_those") {
        return;
    }
    let t = Topo::new(1);
    let tap = format!("{}t1", t.p);
    let bridge = format!("{}br", t.p);
    let mut sw = t.start(&["--tap", &tap]);
    let links = t.sw.must(&["ip", "-o", "link", "show"]);
    assert!(links.contains(&tap) && links.contains(&bridge), "{links}");
    let status = sw.terminate().expect("switchd did not exit on SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let links = t.sw.must(&["ip", "-o", "link", "show"]);
    assert!(!links.contains(&tap), "the TAP is still there: {links}");
    assert!(
        !links.contains(&format!(" {bridge}:")),
        "the LOCAL port is still there: {links}"
    );
    assert!(
        links.contains(&t.port(0)),
        "the system port was removed: {links}"
    );
    assert!(
        !links.contains("PROMISC"),
        "promiscuous mode was left on: {links}"
    );
}

#[test]
fn bad_flags_exit_with_status_2_and_one_line() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_switchd"))
        .args(["run", "--port", "veth1=0", "--run-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim(), "switchd: --port veth1=0: ofport 0 is reserved");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_switchd"))
        .args(["run", "--fail-mode", "open"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

/// Throughput through the switch against a direct veth pair. Not a timed
/// test: run with `cargo test --release -p switchd --test forwarding --
/// --ignored --nocapture measure`.
#[test]
#[ignore = "measurement, run by hand"]
fn measure_udp_pps_and_tcp_throughput_against_a_direct_veth_pair() {
    if !can_run("measure") {
        return;
    }
    let threads = std::env::var("SWITCHD_THREADS").unwrap_or_else(|_| "2".into());
    let t = Topo::new(2);
    let _sw = t.start(&["--threads", &threads]);
    assert!(t.hosts[0].ping_until(&ip(1), Duration::from_secs(10)));
    let src: SocketAddr = format!("{}:4000", ip(0)).parse().unwrap();
    let dst: SocketAddr = format!("{}:4001", ip(1)).parse().unwrap();
    let (sent, got) = udp_flood(&t.hosts[0], &t.hosts[1], src, dst, 5.0);
    println!(
        "switch: UDP 64-byte frames: sent {:.0} pps, received {:.0} pps",
        sent as f64 / 5.0,
        got as f64 / 5.0
    );
    let total = 4u64 << 30;
    let addr: SocketAddr = format!("{}:5002", ip(1)).parse().unwrap();
    let (_, bytes, secs) = tcp_transfer(
        &t.hosts[0],
        &t.hosts[1],
        addr,
        total,
        Duration::from_secs(20),
    );
    println!(
        "switch: TCP {:.2} Gbit/s ({} MB in {secs:.1} s)",
        bytes as f64 * 8.0 / secs / 1e9,
        bytes >> 20
    );

    let p = prefix();
    let a = Netns::new(&format!("{p}da"));
    let b = Netns::new(&format!("{p}db"));
    let _l = veth(&format!("{p}xa"), Some(&a), &format!("{p}xb"), Some(&b));
    a.addr(&format!("{p}xa"), "198.18.1.1/24");
    b.addr(&format!("{p}xb"), "198.18.1.2/24");
    assert!(a.ping_until("198.18.1.2", Duration::from_secs(5)));
    let (sent, got) = udp_flood(
        &a,
        &b,
        "198.18.1.1:4000".parse().unwrap(),
        "198.18.1.2:4001".parse().unwrap(),
        5.0,
    );
    println!(
        "direct: UDP 64-byte frames: sent {:.0} pps, received {:.0} pps",
        sent as f64 / 5.0,
        got as f64 / 5.0
    );
    let (_, bytes, secs) = tcp_transfer(
        &a,
        &b,
        "198.18.1.2:5002".parse().unwrap(),
        total,
        Duration::from_secs(20),
    );
    println!(
        "direct: TCP {:.2} Gbit/s ({} MB in {secs:.1} s)",
        bytes as f64 * 8.0 / secs / 1e9,
        bytes >> 20
    );
}
