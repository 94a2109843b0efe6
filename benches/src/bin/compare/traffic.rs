//! Traffic with many 5-tuples and the OpenFlow rule sets it is classified
//! against, for the scale and flow-setup phases.
//!
//! The generator (child mode `rawgen`) writes whole IPv4/UDP headers on a
//! raw socket (`IPPROTO_RAW`, so the kernel takes the header as written and
//! only fills in the checksum and length), which is what lets one process
//! spread its packets over any number of source addresses and ports without
//! binding a socket per 5-tuple. Every packet goes to the sink's address and
//! port, so the sink counts them all; only the source varies.
//!
//! Two ways to pick the source of packet `i`:
//!
//! - [`Spread::Cycle`] with `K` tuples: `i mod K` names a source in
//!   198.18.4.0/24 and a port from 1024 up, so the traffic revisits the same
//!   `K` flows (the exact-match cache holds them when `K` is small, the
//!   megaflow cache carries them when it is not).
//! - [`Spread::New`]: every packet is a new source, an even address of
//!   198.19.0.0/21 and an even port of 10000..18190 (4,194,304 of them
//!   before the first repeats). The flow-setup rule set holds a rule for the
//!   odd neighbour of every such address and port, so a classifier with
//!   prefix tracking must still look at all 32 address bits and all 16 port
//!   bits to rule those out: every packet's megaflow is exact on both, and
//!   each packet is a cache miss that goes through translation.
//!
//! The scale rule set has `N` rules, `N - 1` of them on values the traffic
//! never carries, spread round-robin over four masks (UDP destination port;
//! IPv4 destination; IPv4 destination with UDP destination port; IPv4
//! source) at distinct priorities, and the forwarding rule `NORMAL` at
//! priority 0 below them all, so every packet is classified against every
//! subtable before it reaches the rule that forwards it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// IPv4 header + UDP header + the payload of a 64-byte frame.
pub(crate) const PACKET: usize = 20 + 8 + super::PAYLOAD_64;
/// Largest rule count the scale rule set can express with distinct values.
pub(crate) const MAX_RULES: usize = 200_000;
/// Largest tuple count [`Spread::Cycle`] can express.
pub(crate) const MAX_TUPLES: u64 = 10_000_000;
/// Port of the flow-setup traffic's first source.
const SETUP_PORT0: u16 = 10_000;
/// Sources of the flow-setup traffic: addresses x ports.
const SETUP_ADDRS: u64 = 1024;
const SETUP_PORTS: u64 = 4096;

/// How the generator spreads packets over 5-tuples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spread {
    /// Round-robin over this many 5-tuples.
    Cycle(u64),
    /// A new 5-tuple for every packet.
    New,
}

impl Spread {
    /// The source address and port of packet `i`.
    pub(crate) fn source(self, i: u64) -> ([u8; 4], u16) {
        match self {
            Spread::Cycle(k) => {
                let j = i % k.max(1);
                let port = 1024 + j % 60_000;
                let host = 1 + j / 60_000;
                (
                    [198, 18, 4, u8::try_from(host).unwrap_or(255)],
                    u16::try_from(port).unwrap_or(1024),
                )
            }
            Spread::New => {
                let a = i % SETUP_ADDRS;
                let p = (i / SETUP_ADDRS) % SETUP_PORTS;
                (
                    [
                        198,
                        19,
                        u8::try_from(a >> 7).unwrap_or(0),
                        u8::try_from((a & 127) * 2).unwrap_or(0),
                    ],
                    SETUP_PORT0 + u16::try_from(p * 2).unwrap_or(0),
                )
            }
        }
    }

    fn arg(self) -> String {
        match self {
            Spread::Cycle(k) => k.to_string(),
            Spread::New => "new".into(),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Spread> {
        if s == "new" {
            return Some(Spread::New);
        }
        s.parse()
            .ok()
            .filter(|k| (1..=MAX_TUPLES).contains(k))
            .map(Spread::Cycle)
    }
}

/// The arguments of child mode `rawgen` (or `ringgen` when `ring`).
pub(crate) fn rawgen_args(dst: &str, secs: f64, spread: Spread, ring: bool) -> Vec<String> {
    vec![
        if ring { "ringgen" } else { "rawgen" }.into(),
        "--dst".into(),
        dst.into(),
        "--port".into(),
        super::UDP_PORT.to_string(),
        "--secs".into(),
        secs.to_string(),
        "--tuples".into(),
        spread.arg(),
    ]
}

/// Writes the IPv4 and UDP headers of a 64-byte frame from `src` to `dst`.
pub(crate) fn fill(pkt: &mut [u8], src: ([u8; 4], u16), dst: Ipv4Addr, dport: u16) {
    let total = u16::try_from(PACKET).unwrap_or(0);
    let udp_len = u16::try_from(PACKET - 20).unwrap_or(0);
    pkt[0] = 0x45;
    pkt[1] = 0;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[4..6].copy_from_slice(&[0, 0]); // the kernel picks an id
    pkt[6..8].copy_from_slice(&[0x40, 0]); // don't fragment
    pkt[8] = 64;
    pkt[9] = 17;
    pkt[10..12].copy_from_slice(&[0, 0]); // the kernel fills the checksum
    pkt[12..16].copy_from_slice(&src.0);
    pkt[16..20].copy_from_slice(&dst.octets());
    pkt[20..22].copy_from_slice(&src.1.to_be_bytes());
    pkt[22..24].copy_from_slice(&dport.to_be_bytes());
    pkt[24..26].copy_from_slice(&udp_len.to_be_bytes());
    pkt[26..28].copy_from_slice(&[0, 0]); // no UDP checksum (allowed on IPv4)
    for b in &mut pkt[28..] {
        *b = 0x5a;
    }
}

/// Child mode `rawgen --dst IP --port P --secs S --tuples K|new`: sends
/// 64-byte UDP frames from many sources (see [`Spread`]) in `sendmmsg`
/// batches for S seconds and prints `tx COUNT`.
pub(crate) fn child_rawgen(args: &[String]) -> Result<(), String> {
    let dst: Ipv4Addr = super::child_arg(args, "--dst")?;
    let dport: u16 = super::child_arg(args, "--port")?;
    let secs: f64 = super::child_arg(args, "--secs")?;
    let tuples: String = super::child_arg(args, "--tuples")?;
    let spread = Spread::parse(&tuples).ok_or("--tuples: expected 1 to 10000000 or `new`")?;
    // SAFETY: socket has no memory effects.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
    }
    let sa = libc::sockaddr_in {
        sin_family: libc::sa_family_t::try_from(libc::AF_INET).unwrap_or(2),
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    let sa_len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>()).unwrap_or(16);
    // SAFETY: connect reads `sa_len` bytes from a live sockaddr_in.
    let rc = unsafe { libc::connect(fd, (&raw const sa).cast(), sa_len) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: fd is the socket opened above, closed once.
        unsafe { libc::close(fd) };
        return Err(format!("connect: {e}"));
    }
    const BATCH: usize = 256;
    const BATCH_U32: libc::c_uint = 256;
    let mut bufs = vec![0u8; BATCH * PACKET];
    let mut iovs: Vec<libc::iovec> = bufs
        .chunks_mut(PACKET)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: PACKET,
        })
        .collect();
    let mut msgs = super::one_iovec_headers(&mut iovs);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut next: u64 = 0;
    let mut sent: u64 = 0;
    while Instant::now() < deadline && !super::stopped() {
        for (k, pkt) in bufs.chunks_mut(PACKET).enumerate() {
            fill(pkt, spread.source(next + k as u64), dst, dport);
        }
        // SAFETY: `msgs` holds BATCH headers whose iovecs point at distinct
        // PACKET-byte windows of `bufs`, which outlives the call (the
        // windows were written above through the same allocation); the
        // socket is connected.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), BATCH_U32, 0) };
        if let Ok(n) = u64::try_from(n) {
            sent += n;
            // Sources not sent are sent next time round, so that with
            // `Spread::New` no source is skipped.
            next += n;
        }
    }
    // SAFETY: fd is the socket opened above, closed once.
    unsafe { libc::close(fd) };
    println!("tx {sent}");
    Ok(())
}

/// The scale rule set with `n` rules (see the module doc), in
/// `ovs-ofctl add-flows` syntax.
pub(crate) fn scale_rules(n: usize) -> String {
    let mut s = String::with_capacity(n * 48);
    for j in 0..n.saturating_sub(1) {
        let idx = j / 4;
        let hi = (idx >> 8) & 0xff;
        let lo = idx & 0xff;
        let _ = match j % 4 {
            0 => {
                // UDP destination ports from 1024 up, skipping the sink's.
                let mut port = 1024 + idx;
                if port >= usize::from(super::UDP_PORT) {
                    port += 1;
                }
                writeln!(s, "priority=100,udp,tp_dst={port},actions=drop")
            }
            1 => writeln!(s, "priority=110,ip,nw_dst=198.19.{hi}.{lo},actions=drop"),
            2 => writeln!(
                s,
                "priority=120,udp,nw_dst=198.19.{hi}.{lo},tp_dst=7,actions=drop"
            ),
            _ => writeln!(s, "priority=130,ip,nw_src=198.19.{hi}.{lo},actions=drop"),
        };
    }
    s.push_str("priority=0,actions=NORMAL\n");
    s
}

/// The flow-setup rule set (see the module doc): the odd neighbour of every
/// source address and port [`Spread::New`] uses, then `NORMAL`.
pub(crate) fn setup_rules() -> String {
    let mut s = String::new();
    for a in 0..SETUP_ADDRS {
        let _ = writeln!(
            s,
            "priority=200,ip,nw_src=198.19.{}.{},actions=drop",
            a >> 7,
            (a & 127) * 2 + 1
        );
    }
    for p in 0..SETUP_PORTS {
        let _ = writeln!(
            s,
            "priority=210,udp,tp_src={},actions=drop",
            u64::from(SETUP_PORT0) + p * 2 + 1
        );
    }
    s.push_str("priority=0,actions=NORMAL\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cycling_sources_are_distinct_within_k_and_repeat_after_it() {
        let k = 100_000;
        let s = Spread::Cycle(k);
        let set: HashSet<_> = (0..k).map(|i| s.source(i)).collect();
        assert_eq!(set.len(), 100_000);
        assert_eq!(s.source(0), s.source(k));
        assert_eq!(Spread::Cycle(1).source(5), Spread::Cycle(1).source(0));
    }

    #[test]
    fn new_sources_never_meet_a_rule_of_the_setup_set() {
        let rules = setup_rules();
        let s = Spread::New;
        let seen: HashSet<_> = (0..1_000_000).map(|i| s.source(i)).collect();
        assert_eq!(seen.len(), 1_000_000);
        for i in [0, 1, 1023, 1024, 999_999] {
            let (ip, port) = s.source(i);
            assert_eq!(ip[3] % 2, 0);
            assert_eq!(port % 2, 0);
            let ip = Ipv4Addr::from(ip);
            assert!(!rules.contains(&format!("nw_src={ip},")));
            assert!(!rules.contains(&format!("tp_src={port},")));
            // The odd neighbours are there.
            let n = Ipv4Addr::from(u32::from(ip) + 1);
            assert!(rules.contains(&format!("nw_src={n},")));
            assert!(rules.contains(&format!("tp_src={},", port + 1)));
        }
    }

    #[test]
    fn the_scale_rule_set_has_n_distinct_rules_none_for_the_test_traffic() {
        for n in [1, 1000, MAX_RULES] {
            let r = scale_rules(n);
            let lines: HashSet<_> = r.lines().collect();
            assert_eq!(lines.len(), n);
            assert!(!r.contains(&format!("tp_dst={},", super::super::UDP_PORT)));
            assert!(!r.contains("198.18."));
        }
    }

    #[test]
    fn packets_carry_the_source_and_sizes_of_a_64_byte_frame() {
        let mut p = [0u8; PACKET];
        fill(
            &mut p,
            ([198, 18, 4, 1], 1024),
            Ipv4Addr::new(198, 18, 0, 2),
            9000,
        );
        assert_eq!(p.len() + 14 + 4, 64);
        assert_eq!(&p[12..16], &[198, 18, 4, 1]);
        assert_eq!(u16::from_be_bytes([p[20], p[21]]), 1024);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 9000);
        assert_eq!(usize::from(u16::from_be_bytes([p[24], p[25]])), PACKET - 20);
    }
}
