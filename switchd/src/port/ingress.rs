//! Keeping the host's network stack out of a system port's traffic: an
//! eBPF program at the interface's tcx ingress hook that drops every frame
//! after the packet sockets have seen it.
//!
//! # Why
//!
//! A frame that arrives on an interface goes first to the packet sockets
//! bound to it (the switch's receive rings, and `tcpdump` if one runs),
//! then to the ingress hook, then to the host's protocol handlers. A
//! switch port is not a host interface: Open vSwitch's kernel datapath
//! takes every frame of a port for itself, so the host's stack never sees
//! them. Through AF_PACKET alone the host would still run every frame
//! through IPv4/IPv6 input (a route lookup that ends in a drop, or worse,
//! a local delivery if someone gave the port an address), in the softirq
//! of whoever sent it. The program `return TC_ACT_SHOT` (two instructions)
//! stops that at the hook, after the taps.
//!
//! It is attached with a bpf_link (`BPF_TCX_INGRESS`, Linux ≥ 6.6), so it
//! leaves the interface when the port is removed and when the daemon exits
//! or dies. On older kernels, or without the privilege, the port works as
//! before and the host's stack keeps seeing its frames.

use super::afxdp::bpf::{
    bpf_fd, insn, Attr, Insn, BPF_ALU64_MOV_K, BPF_JMP_EXIT, BPF_LINK_CREATE, BPF_PROG_LOAD,
};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
/// `enum bpf_attach_type` value of the tcx ingress hook.
const BPF_TCX_INGRESS: u32 = 46;
/// `TC_ACT_SHOT` (`TCX_DROP`): the frame goes no further.
const TC_ACT_SHOT: i32 = 2;

/// `r0 = TC_ACT_SHOT; exit`.
pub const PROGRAM: [Insn; 2] = [
    insn(BPF_ALU64_MOV_K, 0, 0, 0, TC_ACT_SHOT),
    insn(BPF_JMP_EXIT, 0, 0, 0, 0),
];

/// The program attached to one interface's ingress; dropping it detaches it.
#[derive(Debug)]
pub struct IngressDrop {
    // Field order is drop order: the link (detach) first.
    _link: OwnedFd,
    _prog: OwnedFd,
}

impl IngressDrop {
    /// Loads the program and attaches it to interface `ifindex`.
    pub fn attach(ifindex: i32) -> io::Result<IngressDrop> {
        let ifindex = u32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface index"))?;
        let license = c"Apache-2.0";
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_SCHED_CLS)
            .u32(4, u32::try_from(PROGRAM.len()).unwrap_or(0))
            .u64(8, PROGRAM.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .name(48, "switchd_ingress");
        let prog = bpf_fd(BPF_PROG_LOAD, &mut a)?;
        let mut l = Attr::new();
        l.u32(0, u32::try_from(prog.as_raw_fd()).unwrap_or(0))
            .u32(4, ifindex)
            .u32(8, BPF_TCX_INGRESS);
        let link = bpf_fd(BPF_LINK_CREATE, &mut l)?;
        Ok(IngressDrop {
            _link: link,
            _prog: prog,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::afpacket::{RingConfig, RxRing, TxSocket};
    use crate::port::testveth::{can_make_veths, ip, veth};
    use crate::port::{netdev, TxScratch};
    use datapath::buffer::Packet;
    use datapath::packet::builder::FrameBuilder;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    #[test]
    fn the_program_is_two_instructions_that_drop() {
        assert_eq!(PROGRAM.len(), 2);
        assert_eq!(PROGRAM[0].imm, TC_ACT_SHOT);
        assert_eq!(PROGRAM[1].code, BPF_JMP_EXIT);
    }

    /// A UDP datagram to an address of the port's interface reaches a host
    /// socket without the program, and only the port's ring with it.
    #[test]
    fn with_the_program_only_the_ring_sees_a_frame_for_the_host() {
        if !can_make_veths() {
            return;
        }
        let tag = std::process::id() % 10_000;
        let (a, b) = (format!("ig{tag}a"), format!("ig{tag}b"));
        let _guard = veth(&a, &b);
        // A /30 of the benchmarking range, unique to this process.
        let oct = u8::try_from(4 * (tag % 60) + 1).unwrap_or(1);
        let addr = format!("198.19.250.{oct}/30");
        assert!(ip(&["addr", "add", &addr, "dev", &a]));
        for d in [&a, &b] {
            assert!(ip(&["link", "set", d, "up"]));
        }
        let ia = netdev::ifindex(&a).expect("ifindex");
        let ib = netdev::ifindex(&b).expect("ifindex");
        let mac_a = netdev::hw_addr(&a).expect("mac");
        let host = UdpSocket::bind((std::net::Ipv4Addr::new(198, 19, 250, oct), 9)).expect("bind");
        host.set_nonblocking(true).expect("nonblocking");
        let mut rings = RxRing::open_group(ia, 1, &RingConfig::default()).expect("receive ring");
        let tx = TxSocket::open(ib, 0).expect("transmit socket");
        let frame = FrameBuilder::udp4(
            [0x02, 0, 0, 0, 0, 0x77],
            mac_a,
            [198, 19, 250, oct + 1],
            [198, 19, 250, oct],
            4000,
            9,
            b"for the host",
        )
        .build();
        let send = || {
            let out = tx.send_batch(&[Packet::from_frame(&frame)], &mut TxScratch::default());
            assert_eq!(out.sent, 1, "{out:?}");
        };
        // Returns (the host socket got it, the ring got it) within 2 s.
        let seen = |rings: &mut [RxRing]| {
            let deadline = Instant::now() + Duration::from_secs(2);
            let (mut by_host, mut by_ring) = (false, false);
            let mut buf = [0u8; 64];
            let mut pkts: Vec<Packet> = (0..8).map(|_| Packet::with_capacity(256, 64)).collect();
            while Instant::now() < deadline && !(by_host && by_ring) {
                by_host |= host.recv(&mut buf).is_ok();
                let n = rings[0].recv(&mut pkts).expect("recv");
                by_ring |= pkts[..n].iter().any(|p| p.data() == frame.as_slice());
                std::thread::sleep(Duration::from_millis(5));
            }
            (by_host, by_ring)
        };
        send();
        assert_eq!(seen(&mut rings), (true, true), "without the program");
        let attached = IngressDrop::attach(ia).expect("attach the ingress program");
        send();
        assert_eq!(seen(&mut rings), (false, true), "with the program");
        drop(attached);
        send();
        assert_eq!(seen(&mut rings), (true, true), "after the program left");
    }
}
