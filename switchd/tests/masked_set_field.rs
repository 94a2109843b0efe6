//! Masked set-field end to end: a flow with `set_field:VALUE/MASK->FIELD`
//! pushed to a running `switchd` by our `ofctl` and by `ovs-ofctl` (which
//! both send it as Nicira `NXAST_REG_LOAD` actions) rewrites only the
//! masked bits of the frames it forwards, with checksums still right, and
//! `dump-flows` prints it back as `ovs-ofctl` does (`load:...`).
//!
//! Topology: a switch namespace with two ports, each a veth to its own host
//! namespace. Frames are hand-made UDP/IPv4 sent from host 0 through a raw
//! socket (a bounded number, a fixed time) and caught on host 1. Without
//! root or `ovs-ofctl` the test skips, unless `SWITCH_REQUIRE_PEERS` is
//! set, in which case it fails.

mod common;

use common::{can_run, prefix, veth, Link, Netns, Switchd};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `ofctl` binary beside `switchd`, built once when missing.
fn ofctl_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_switchd")).with_file_name("ofctl");
    if !p.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let profile = match p.parent().and_then(Path::file_name) {
            Some(d) if d != "debug" => d.to_string_lossy().into_owned(),
            _ => "dev".to_string(),
        };
        let st = Command::new(cargo)
            .args(["build", "-p", "ofctl", "--profile", &profile])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p ofctl");
        assert!(st.success(), "cargo build -p ofctl failed");
    }
    p
}

fn have_ovs_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("SWITCH_REQUIRE_PEERS").is_some() {
        panic!("ovs-ofctl is missing, and SWITCH_REQUIRE_PEERS is set");
    }
    if !ok {
        eprintln!("masked_set_field: skipped: ovs-ofctl is missing");
    }
    ok
}

/// Runs `tool -O OpenFlow13 ARGS` and returns stdout; panics on failure.
fn ofctl(tool: &Path, args: &[&str]) -> String {
    let out = Command::new(tool)
        .arg("-O")
        .arg("OpenFlow13")
        .args(args)
        .output()
        .expect("run ofctl");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        tool.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn csum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
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
    !u16::try_from(sum).unwrap_or(0)
}

/// The UDP checksum of `ip` (an IPv4 packet with a UDP payload) as it
/// should be: 0 when the one carried is right.
fn udp_check(ip: &[u8]) -> u16 {
    let udp = &ip[20..];
    let mut pseudo = Vec::from(&ip[12..20]);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&u16::try_from(udp.len()).unwrap().to_be_bytes());
    pseudo.extend_from_slice(udp);
    csum(&pseudo, 0)
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0x6b, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0x6b, 0, 2];
const MARK: &[u8] = b"masked-set-field";

/// An Ethernet/IPv4/UDP frame from 198.18.0.1 to 198.18.0.2 with `MARK`.
fn frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = u16::try_from(20 + 8 + MARK.len()).unwrap();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&4000u16.to_be_bytes());
    ip.extend_from_slice(&5000u16.to_be_bytes());
    ip.extend_from_slice(&u16::try_from(8 + MARK.len()).unwrap().to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(MARK);
    let u = udp_check(&ip);
    ip[26..28].copy_from_slice(&u.to_be_bytes());
    f.extend_from_slice(&ip);
    f
}

/// A raw socket bound to `dev` in the calling thread's namespace.
fn raw_socket(dev: &str) -> OwnedFd {
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: `name` is a valid C string.
    let ifindex = i32::try_from(unsafe { libc::if_nametoindex(name.as_ptr()) }).unwrap();
    assert!(ifindex > 0, "{dev} not found");
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
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap();
    // SAFETY: `sll` is initialised and its size passed.
    let r = unsafe { libc::bind(sock.as_raw_fd(), (&raw const sll).cast(), len) };
    assert_eq!(r, 0);
    sock
}

/// Sends the test frame from `src` (at most 30 times, every 100 ms) until
/// `dst` receives a frame carrying `MARK` (3 s at most); returns it.
fn exchange(src: &Netns, src_dev: String, dst: &Netns, dst_dev: String) -> Option<Vec<u8>> {
    let rx = dst.spawn(move || {
        let sock = raw_socket(&dst_dev);
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
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
            // SAFETY: `buf` is valid for its length.
            let n = unsafe {
                libc::recv(
                    sock.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            let Ok(n) = usize::try_from(n) else { continue };
            if buf[..n].windows(MARK.len()).any(|w| w == MARK) {
                return Some(buf[..n].to_vec());
            }
        }
        None
    });
    std::thread::sleep(Duration::from_millis(200));
    let tx = src.spawn(move || {
        let sock = raw_socket(&src_dev);
        let f = frame();
        for _ in 0..30 {
            // SAFETY: `f` is valid for its length.
            unsafe { libc::send(sock.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let got = rx.join().unwrap_or(None);
    let _ = tx.join();
    got
}

#[test]
fn masked_set_field_from_both_ofctls_rewrites_only_the_masked_bits_and_dumps_as_loads() {
    if !can_run("masked_set_field") || !have_ovs_ofctl() {
        return;
    }
    let p = prefix();
    let sw = Netns::new(&format!("{p}sw"));
    let h0 = Netns::new(&format!("{p}h0"));
    let h1 = Netns::new(&format!("{p}h1"));
    let _l0: Link = veth(&format!("{p}p0"), Some(&sw), &format!("{p}e0"), Some(&h0));
    let _l1: Link = veth(&format!("{p}p1"), Some(&sw), &format!("{p}e1"), Some(&h1));
    for (h, dev) in [(&h0, format!("{p}e0")), (&h1, format!("{p}e1"))] {
        h.must(&["ip", "link", "set", &dev, "up"]);
    }
    let br = format!("{p}br");
    let p0 = format!("{p}p0");
    let p1 = format!("{p}p1");
    let sw_proc = Switchd::start(Some(&sw), &["--port", &p0, "--port", &p1, "--bridge", &br]);
    let target = format!("unix:{}", sw_proc.of_socket(&br).display());
    let ours = ofctl_bin();
    let theirs = PathBuf::from("ovs-ofctl");

    // Our ofctl: the low byte of ip_dst and of eth_dst.
    ofctl(&ours, &["del-flows", &target]);
    ofctl(
        &ours,
        &[
            "add-flow",
            &target,
            "priority=100,in_port=1,udp,actions=set_field:0.0.0.77/0.0.0.255->ip_dst,\
             set_field:00:00:00:00:00:aa/00:00:00:00:00:ff->eth_dst,output:2",
        ],
    );
    let f = exchange(&h0, format!("{p}e0"), &h1, format!("{p}e1"))
        .expect("no frame came out of port 2 after our ofctl's flow");
    assert_eq!(f[..6], [0x02, 0, 0, 0x6b, 0, 0xaa], "eth_dst");
    assert_eq!(f[6..12], SRC_MAC, "eth_src untouched");
    let ip = &f[14..14 + 20 + 8 + MARK.len()];
    assert_eq!(ip[12..16], [198, 18, 0, 1], "ip_src untouched");
    assert_eq!(
        ip[16..20],
        [198, 18, 0, 77],
        "only ip_dst's low byte changes"
    );
    assert_eq!(csum(&ip[..20], 0), 0, "IPv4 header checksum");
    assert_eq!(udp_check(ip), 0, "UDP checksum");

    let want = "load:0x4d->NXM_OF_IP_DST[0..7],load:0xaa->NXM_OF_ETH_DST[0..7],output:2";
    for tool in [&ours, &theirs] {
        let dump = ofctl(tool, &["dump-flows", &target]);
        assert!(
            dump.contains(want),
            "{} dump-flows:\n{dump}",
            tool.display()
        );
    }

    // ovs-ofctl: the high byte of ip_src and two bits of the UDP port.
    ofctl(&theirs, &["del-flows", &target]);
    ofctl(
        &theirs,
        &[
            "add-flow",
            &target,
            "priority=100,in_port=1,udp,actions=set_field:10.0.0.0/255.0.0.0->ip_src,\
             set_field:0x3/0x3->udp_dst,output:2",
        ],
    );
    let f = exchange(&h0, format!("{p}e0"), &h1, format!("{p}e1"))
        .expect("no frame came out of port 2 after ovs-ofctl's flow");
    assert_eq!(f[..6], DST_MAC, "eth_dst untouched");
    let ip = &f[14..14 + 20 + 8 + MARK.len()];
    assert_eq!(
        ip[12..16],
        [10, 18, 0, 1],
        "only ip_src's high byte changes"
    );
    assert_eq!(ip[16..20], [198, 18, 0, 2], "ip_dst untouched");
    assert_eq!(
        u16::from_be_bytes([ip[22], ip[23]]),
        5000 | 3,
        "only the low two bits of udp_dst change"
    );
    assert_eq!(
        u16::from_be_bytes([ip[20], ip[21]]),
        4000,
        "udp_src untouched"
    );
    assert_eq!(csum(&ip[..20], 0), 0, "IPv4 header checksum");
    assert_eq!(udp_check(ip), 0, "UDP checksum");

    let want = "load:0xa->NXM_OF_IP_SRC[24..31],load:0x3->NXM_OF_UDP_DST[0..1],output:2";
    let ours_dump = ofctl(&ours, &["dump-flows", &target]);
    let theirs_dump = ofctl(&theirs, &["dump-flows", &target]);
    assert!(ours_dump.contains(want), "ofctl dump-flows:\n{ours_dump}");
    assert!(
        theirs_dump.contains(want),
        "ovs-ofctl dump-flows:\n{theirs_dump}"
    );
}
