//! Action execution: runs a list of [`DpAction`]s on a group of packets that
//! share it, rewriting headers in place and collecting the packets to send
//! per output port in [`TxBatches`].
//!
//! # Design
//!
//! Execution is the last stage of the hit path, so it is shaped to do no
//! allocation and no redundant work there:
//!
//! - Header offsets are found by a light re-parse (`Hdrs`) only when an
//!   action needs them (a plain `Output` never parses) and the result is kept
//!   until an action changes the frame's structure (push/pop of a tag,
//!   encapsulation), which invalidates it.
//! - Field rewrites update every checksum covering the rewritten bytes
//!   incrementally (RFC 1624, `HC' = ~(~HC + ~m + m')`) over the aligned
//!   16-bit words that changed: the IPv4 header checksum for its own fields,
//!   the TCP/UDP/ICMPv6 checksums for pseudo-header addresses and for their
//!   own header fields. An IPv4 UDP checksum of zero means "none" and stays
//!   zero; a computed zero is sent as `0xffff`. SCTP's CRC32c is not
//!   incremental and is recomputed over the chunk data.
//! - Output batching: the last `Output` of a packet's action list (when
//!   nothing observable follows it) *moves* the packet into its port queue,
//!   putting a buffer from the free pool in its place; every earlier output
//!   copies into a pool buffer. The pool is refilled by [`TxBatches::flush`],
//!   which hands sent packets back to it, so in steady state buffers circulate
//!   and nothing is allocated. Only an empty pool allocates (counted in
//!   [`TxBatches::pool_misses`]).
//!
//! Invariants: execution never panics on any frame (every header access is
//! bounds-checked; an action whose header is absent or truncated does
//! nothing), and a packet that cannot be modified as asked (no headroom for a
//! push, a decap of a non-VXLAN frame) is dropped and counted rather than
//! forwarded half-modified.

use crate::buffer::{Packet, PacketMeta, TunnelMeta, DEFAULT_CAPACITY, DEFAULT_HEADROOM};
use crate::dpaction::{ControllerMeta, DpAction};
use crate::flow::{tun_flags, Field};
use crate::packet::checksum as csum;

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PBB: u16 = 0x88e7;
const IP_TCP: u8 = 6;
const IP_UDP: u8 = 17;
const IP_ICMP: u8 = 1;
const IP_ICMPV6: u8 = 58;
const IP_SCTP: u8 = 132;
/// IANA VXLAN port, used when the tunnel metadata names none.
pub const VXLAN_PORT: u16 = 4789;
/// Bytes an encapsulation adds: Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8.
pub const VXLAN_OVERHEAD: usize = 50;
/// PBB encapsulation: B-DA, B-SA, I-TAG ethertype and I-TAG.
const PBB_OVERHEAD: usize = 18;

pub use crate::ofproto::MeterVerdict;

/// Applies meters for execution; the caller owns the meter state.
pub trait MeterHook {
    /// Runs meter `meter_id` on a packet of `len` bytes.
    fn apply(&mut self, meter_id: u32, len: usize) -> MeterVerdict;
}

impl<F: FnMut(u32, usize) -> MeterVerdict> MeterHook for F {
    fn apply(&mut self, meter_id: u32, len: usize) -> MeterVerdict {
        self(meter_id, len)
    }
}

/// A meter hook that lets everything pass (no meters configured).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMeters;

impl MeterHook for NoMeters {
    fn apply(&mut self, _meter_id: u32, _len: usize) -> MeterVerdict {
        MeterVerdict::Pass
    }
}

/// A packet for the controller channel (becomes an OpenFlow PACKET_IN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    /// The whole packet as modified so far. The channel, not execution,
    /// cuts it to `meta.max_len`, so that it can keep the whole frame in a
    /// packet buffer and send only the first bytes.
    pub data: Vec<u8>,
    /// The full length of the packet.
    pub total_len: usize,
    /// What the action said about it.
    pub meta: ControllerMeta,
    /// Metadata beside the frame (in port, tunnel).
    pub packet_meta: PacketMeta,
}

/// Counters of execution outcomes other than output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Packets dropped by a meter band.
    pub meter_drops: u64,
    /// Packets dropped because an action could not be applied (no headroom,
    /// decapsulation of a frame that is not VXLAN, oversize encapsulation).
    pub action_errors: u64,
    /// Packets handed to the controller queue.
    pub to_controller: u64,
}

/// What execution needs from its caller besides the packets.
pub struct ExecCtx<'a> {
    /// Meter state.
    pub meters: &'a mut dyn MeterHook,
    /// Queue of packets for the controller.
    pub to_controller: &'a mut Vec<PacketIn>,
    /// Outcome counters.
    pub stats: &'a mut ExecStats,
}

/// One output port's queue.
#[derive(Debug)]
struct TxQueue {
    port: u32,
    pkts: Vec<Packet>,
}

/// Packets collected per output port, plus the pool of free buffers that
/// copies and moves draw from.
#[derive(Debug, Default)]
pub struct TxBatches {
    queues: Vec<TxQueue>,
    free: Vec<Packet>,
    last: usize,
    pool_misses: u64,
}

impl TxBatches {
    /// Empty batches with an empty pool.
    pub fn new() -> TxBatches {
        TxBatches::default()
    }

    /// Empty batches with `n` free buffers of the default size.
    pub fn with_pool(n: usize) -> TxBatches {
        let mut t = TxBatches::new();
        t.free.reserve(n);
        for _ in 0..n {
            t.free
                .push(Packet::with_capacity(DEFAULT_CAPACITY, DEFAULT_HEADROOM));
        }
        t
    }

    /// Gives a buffer to the free pool.
    pub fn give(&mut self, p: Packet) {
        self.free.push(p);
    }

    /// Number of buffers in the free pool.
    pub fn free_len(&self) -> usize {
        self.free.len()
    }

    /// How many times a buffer had to be allocated because the pool was empty.
    pub fn pool_misses(&self) -> u64 {
        self.pool_misses
    }

    /// Packets queued for `port`.
    pub fn queued(&self, port: u32) -> &[Packet] {
        self.queues
            .iter()
            .find(|q| q.port == port)
            .map_or(&[][..], |q| &q.pkts[..])
    }

    /// Total packets queued on all ports.
    pub fn total_queued(&self) -> usize {
        self.queues.iter().map(|q| q.pkts.len()).sum()
    }

    /// The ports with packets queued, with their packets.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[Packet])> {
        self.queues
            .iter()
            .filter(|q| !q.pkts.is_empty())
            .map(|q| (q.port, &q.pkts[..]))
    }

    /// Hands every non-empty queue to `send`, then returns all queued buffers
    /// to the free pool.
    pub fn flush(&mut self, mut send: impl FnMut(u32, &[Packet])) {
        for q in &mut self.queues {
            if !q.pkts.is_empty() {
                send(q.port, &q.pkts);
                self.free.append(&mut q.pkts);
            }
        }
    }

    /// Returns every queued buffer to the free pool without sending.
    pub fn recycle(&mut self) {
        for q in &mut self.queues {
            self.free.append(&mut q.pkts);
        }
    }

    #[inline]
    fn queue(&mut self, port: u32) -> &mut Vec<Packet> {
        let idx = match self.queues.get(self.last) {
            Some(q) if q.port == port => self.last,
            _ => match self.queues.iter().position(|q| q.port == port) {
                Some(i) => i,
                None => {
                    self.queues.push(TxQueue {
                        port,
                        pkts: Vec::with_capacity(crate::buffer::BATCH_SIZE),
                    });
                    self.queues.len() - 1
                }
            },
        };
        self.last = idx;
        &mut self.queues[idx].pkts
    }

    #[inline]
    fn take_free(&mut self, need: usize) -> Packet {
        while let Some(mut p) = self.free.pop() {
            if p.reset_for_rx(DEFAULT_HEADROOM).len() >= need {
                return p;
            }
            // Too small for this frame: let it go rather than truncate.
        }
        self.pool_misses += 1;
        Packet::with_capacity(
            DEFAULT_HEADROOM + need.max(DEFAULT_CAPACITY - DEFAULT_HEADROOM),
            DEFAULT_HEADROOM,
        )
    }

    /// Queues a copy of `p` on `port`.
    #[inline]
    pub fn push_copy(&mut self, port: u32, p: &Packet) {
        let mut c = self.take_free(p.len());
        c.set_frame(p.data());
        c.meta = p.meta;
        self.queue(port).push(c);
    }

    /// Queues `p` itself on `port`, leaving a pool buffer in its place.
    #[inline]
    pub fn push_move(&mut self, port: u32, slot: &mut Packet) {
        let fresh = self.take_free(0);
        let p = core::mem::replace(slot, fresh);
        self.queue(port).push(p);
    }
}

/// Index of the `Output` at which a packet can be moved rather than copied:
/// the last output when nothing observable (a controller copy, a meter)
/// follows it.
#[inline]
pub fn move_index(actions: &[DpAction]) -> Option<usize> {
    for (i, a) in actions.iter().enumerate().rev() {
        match a {
            DpAction::Output(_) => return Some(i),
            DpAction::ToController(_) | DpAction::Meter(_) => return None,
            _ => {}
        }
    }
    None
}

/// Runs `actions` on every packet of `pkts`.
pub fn execute(
    actions: &[DpAction],
    pkts: &mut [Packet],
    ctx: &mut ExecCtx<'_>,
    out: &mut TxBatches,
) {
    let mv = move_index(actions);
    for p in pkts.iter_mut() {
        run_packet(actions, mv, p, ctx, out);
    }
}

/// Runs `actions` on the packets of `pkts` whose indices are in `sel`
/// (indices out of range are ignored).
#[inline]
pub fn execute_batch(
    actions: &[DpAction],
    pkts: &mut [Packet],
    sel: &[usize],
    ctx: &mut ExecCtx<'_>,
    out: &mut TxBatches,
) {
    let mv = move_index(actions);
    for &i in sel {
        if let Some(p) = pkts.get_mut(i) {
            run_packet(actions, mv, p, ctx, out);
        }
    }
}

/// Runs `actions` on one packet; `mv` is `move_index(actions)`.
#[inline]
pub fn run_packet(
    actions: &[DpAction],
    mv: Option<usize>,
    p: &mut Packet,
    ctx: &mut ExecCtx<'_>,
    out: &mut TxBatches,
) {
    let mut hdrs: Option<Hdrs> = None;
    for (i, a) in actions.iter().enumerate() {
        match a {
            DpAction::Output(port) => {
                if mv == Some(i) {
                    out.push_move(*port, p);
                    return;
                }
                out.push_copy(*port, p);
            }
            DpAction::ToController(meta) => {
                ctx.to_controller.push(PacketIn {
                    data: p.data().to_vec(),
                    total_len: p.len(),
                    meta: *meta,
                    packet_meta: p.meta,
                });
                ctx.stats.to_controller += 1;
            }
            DpAction::SetField { field, value, mask } => {
                let h = *hdrs.get_or_insert_with(|| Hdrs::parse(p.data()));
                set_field(p, &h, *field, *value, *mask);
            }
            DpAction::PushVlan { tpid, tci } => {
                hdrs = None;
                if !push_vlan(p, *tpid, *tci) {
                    ctx.stats.action_errors += 1;
                    return;
                }
            }
            DpAction::PopVlan => {
                hdrs = None;
                pop_vlan(p);
            }
            DpAction::PushMpls { ethertype, lse } => {
                let h = hdrs.take().unwrap_or_else(|| Hdrs::parse(p.data()));
                if !push_mpls(p, &h, *ethertype, *lse) {
                    ctx.stats.action_errors += 1;
                    return;
                }
            }
            DpAction::PopMpls { ethertype } => {
                let h = hdrs.take().unwrap_or_else(|| Hdrs::parse(p.data()));
                pop_mpls(p, &h, *ethertype);
            }
            DpAction::PushPbb { isid } => {
                hdrs = None;
                if !push_pbb(p, *isid) {
                    ctx.stats.action_errors += 1;
                    return;
                }
            }
            DpAction::PopPbb => {
                let h = hdrs.take().unwrap_or_else(|| Hdrs::parse(p.data()));
                pop_pbb(p, &h);
            }
            DpAction::CopyTtlOut => {
                let h = *hdrs.get_or_insert_with(|| Hdrs::parse(p.data()));
                copy_ttl(p.data_mut(), &h, false);
            }
            DpAction::CopyTtlIn => {
                let h = *hdrs.get_or_insert_with(|| Hdrs::parse(p.data()));
                copy_ttl(p.data_mut(), &h, true);
            }
            DpAction::SetQueue(q) => p.meta.queue_id = *q,
            DpAction::Meter(id) => match ctx.meters.apply(*id, p.len()) {
                MeterVerdict::Pass => {}
                MeterVerdict::Drop => {
                    ctx.stats.meter_drops += 1;
                    return;
                }
                MeterVerdict::RemarkDscp(prec_level) => {
                    let h = *hdrs.get_or_insert_with(|| Hdrs::parse(p.data()));
                    remark_dscp(p, &h, prec_level);
                }
            },
            DpAction::VxlanEncap {
                tunnel,
                eth_src,
                eth_dst,
                udp_csum,
            } => {
                hdrs = None;
                if !vxlan_encap(p, tunnel, eth_src, eth_dst, *udp_csum) {
                    ctx.stats.action_errors += 1;
                    return;
                }
            }
            DpAction::VxlanDecap => {
                hdrs = None;
                if !vxlan_decap(p) {
                    ctx.stats.action_errors += 1;
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Light header parse.

/// What sits after the Ethernet header (and VLAN tags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum L3 {
    /// Not an Ethernet frame (too short).
    #[default]
    None,
    /// IPv4 at `l3`.
    Ipv4,
    /// IPv6 at `l3`.
    Ipv6,
    /// Ethernet/IPv4 ARP at `l3`.
    Arp,
    /// MPLS label stack at `l3`.
    Mpls,
    /// PBB I-TAG at `l3`.
    Pbb,
    /// Some other ethertype (or a truncated header of a known one).
    Other,
}

/// Header offsets of a frame, found by a light parse.
#[derive(Clone, Copy, Debug, Default)]
struct Hdrs {
    /// VLAN tags found (the outer one's TPID at 12).
    tags: u8,
    /// Offset of the ethertype after the tags.
    eth_type_off: usize,
    /// What follows the ethertype.
    kind: L3,
    /// Offset of the L3 header (IP, ARP, the MPLS stack, the I-TAG).
    l3: usize,
    /// End of the IP datagram (its total length, bounded by the frame).
    l3_end: usize,
    /// L4 protocol (IP protocol / last IPv6 next header).
    proto: u8,
    /// Offset of the L4 header; 0 when there is none (later fragment,
    /// truncated header, not IP).
    l4: usize,
}

#[inline]
fn rd16(f: &[u8], off: usize) -> Option<u16> {
    let b = f.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
fn rd32(f: &[u8], off: usize) -> Option<u32> {
    let b = f.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[inline]
fn wr16(f: &mut [u8], off: usize, v: u16) -> bool {
    match off.checked_add(2).and_then(|e| f.get_mut(off..e)) {
        Some(b) => {
            b.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

#[inline]
fn wr32(f: &mut [u8], off: usize, v: u32) -> bool {
    match off.checked_add(4).and_then(|e| f.get_mut(off..e)) {
        Some(b) => {
            b.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

#[inline]
fn byte(f: &[u8], off: usize) -> u8 {
    f.get(off).copied().unwrap_or(0)
}

impl Hdrs {
    fn parse(f: &[u8]) -> Hdrs {
        let mut h = Hdrs::default();
        if f.len() < 14 {
            return h;
        }
        let mut off = 12;
        let mut ty = rd16(f, off).unwrap_or(0);
        while (ty == ETH_VLAN || ty == ETH_QINQ) && h.tags < 2 {
            match rd16(f, off + 4) {
                Some(t) => {
                    h.tags += 1;
                    off += 4;
                    ty = t;
                }
                None => break,
            }
        }
        h.eth_type_off = off;
        h.l3 = off + 2;
        h.l3_end = f.len();
        h.kind = L3::Other;
        let l3 = h.l3;
        match ty {
            ETH_IPV4 => h.parse_ipv4(f),
            ETH_IPV6 => h.parse_ipv6(f),
            ETH_ARP
                if f.len() >= l3 + 28
                    && rd16(f, l3) == Some(1)
                    && rd16(f, l3 + 2) == Some(ETH_IPV4)
                    && byte(f, l3 + 4) == 6
                    && byte(f, l3 + 5) == 4 =>
            {
                h.kind = L3::Arp;
            }
            ETH_MPLS | ETH_MPLS_MC if f.len() >= l3 + 4 => h.kind = L3::Mpls,
            ETH_PBB if f.len() >= l3 + 4 => h.kind = L3::Pbb,
            _ => {}
        }
        h
    }

    fn parse_ipv4(&mut self, f: &[u8]) {
        let l3 = self.l3;
        let Some(hdr) = f.get(l3..l3 + 20) else {
            return;
        };
        let ihl = usize::from(hdr[0] & 0x0f) * 4;
        if hdr[0] >> 4 != 4 || ihl < 20 || f.len() < l3 + ihl {
            return;
        }
        self.kind = L3::Ipv4;
        let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        self.l3_end = (l3 + total.max(ihl)).min(f.len());
        self.proto = hdr[9];
        let frag_off = u16::from_be_bytes([hdr[6], hdr[7]]) & 0x1fff;
        if frag_off == 0 {
            self.l4 = l3 + ihl;
        }
    }

    fn parse_ipv6(&mut self, f: &[u8]) {
        let l3 = self.l3;
        let Some(hdr) = f.get(l3..l3 + 40) else {
            return;
        };
        if hdr[0] >> 4 != 6 {
            return;
        }
        self.kind = L3::Ipv6;
        let plen = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
        if plen != 0 {
            self.l3_end = (l3 + 40 + plen).min(f.len());
        }
        let mut nh = hdr[6];
        let mut off = l3 + 40;
        // Walk the extension headers to the upper-layer header.
        for _ in 0..8 {
            match nh {
                0 | 43 | 60 => {
                    let (Some(&next), Some(&len)) = (f.get(off), f.get(off + 1)) else {
                        return;
                    };
                    nh = next;
                    off += (usize::from(len) + 1) * 8;
                }
                51 => {
                    let (Some(&next), Some(&len)) = (f.get(off), f.get(off + 1)) else {
                        return;
                    };
                    nh = next;
                    off += (usize::from(len) + 2) * 4;
                }
                44 => {
                    let (Some(&next), Some(fo)) = (f.get(off), rd16(f, off + 2)) else {
                        return;
                    };
                    if fo & 0xfff8 != 0 {
                        // A later fragment carries no upper-layer header.
                        self.proto = next;
                        return;
                    }
                    nh = next;
                    off += 8;
                }
                _ => break,
            }
        }
        self.proto = nh;
        if off <= f.len() && !matches!(nh, 0 | 43 | 60 | 51 | 44 | 50 | 59) {
            self.l4 = off;
        }
    }

    /// Offset of the L4 header when it holds at least `need` bytes.
    #[inline]
    fn l4_with(&self, f: &[u8], proto: u8, need: usize) -> Option<usize> {
        (self.l4 != 0 && self.proto == proto && self.l4 + need <= f.len()).then_some(self.l4)
    }
}

// ---------------------------------------------------------------------------
// Checksums.

/// The aligned 16-bit words a field write touched, as they were before it.
struct Touched {
    start: usize,
    n: usize,
    old: [u8; 20],
}

/// Updates the checksum stored at `off` for the words `t` touched (RFC 1624
/// eqn. 3 over each word). With `zero_is_none` (UDP over IPv4), a stored
/// zero means "no checksum" and stays, and a result of zero is sent as
/// `0xffff`.
fn apply_csum(f: &mut [u8], off: usize, t: &Touched, zero_is_none: bool) {
    let Some(old) = rd16(f, off) else {
        return;
    };
    if zero_is_none && old == 0 {
        return;
    }
    let Some(now) = f.get(t.start..t.start + t.n) else {
        return;
    };
    let mut new = csum::update_bytes(old, &t.old[..t.n], now);
    if zero_is_none {
        new = csum::udp_nonzero(new);
    }
    wr16(f, off, new);
}

/// Writes `bytes` at `off` and returns the 16-bit words (aligned relative to
/// `base`, the start of the checksummed data) that the write touched, as
/// they were; `None` (and nothing written) when the bytes do not fit.
fn patch(f: &mut [u8], base: usize, off: usize, bytes: &[u8]) -> Option<Touched> {
    let end = off.checked_add(bytes.len())?;
    if end > f.len() || off < base {
        return None;
    }
    let start = off - ((off - base) & 1);
    let wend = (end + ((end - base) & 1)).min(f.len());
    let n = wend - start;
    let mut old = [0u8; 20];
    old.get_mut(..n)?.copy_from_slice(&f[start..wend]);
    f[off..end].copy_from_slice(bytes);
    Some(Touched { start, n, old })
}

/// `old` (big-endian, `old.len()` bytes) with the bits of `mask` taken from
/// `value` (both right-aligned in a u128), written to `out`.
fn merge_be(old: &[u8], value: u128, mask: u128, out: &mut [u8]) {
    let v = value.to_be_bytes();
    let m = mask.to_be_bytes();
    let n = old.len().min(16).min(out.len());
    for i in 0..n {
        let j = 16 - n + i;
        out[i] = (old[i] & !m[j]) | (v[j] & m[j]);
    }
}

/// Rewrites the `width`-byte big-endian field at `off` under `mask` and
/// returns the checksum delta (aligned relative to `base`).
fn rewrite(
    f: &mut [u8],
    base: usize,
    off: usize,
    width: usize,
    value: u128,
    mask: u128,
) -> Option<Touched> {
    let end = off.checked_add(width)?;
    let old = f.get(off..end)?;
    let mut buf = [0u8; 16];
    let w = width.min(16);
    merge_be(old, value, mask, &mut buf[..w]);
    patch(f, base, off, &buf[..w])
}

/// Recomputes the SCTP checksum of the packet at `l4..end`.
fn sctp_recompute(f: &mut [u8], l4: usize, end: usize) {
    if end < l4 + 12 || end > f.len() {
        return;
    }
    f[l4 + 8..l4 + 12].copy_from_slice(&[0; 4]);
    let c = crate::packet::sctp::crc32c(&f[l4..end]);
    f[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
}

/// Where the L4 checksum of the packet lives, and whether zero means none.
fn l4_csum(f: &[u8], h: &Hdrs) -> Option<(usize, bool)> {
    match h.proto {
        IP_TCP => h.l4_with(f, IP_TCP, 18).map(|o| (o + 16, false)),
        IP_UDP => h.l4_with(f, IP_UDP, 8).map(|o| (o + 6, h.kind == L3::Ipv4)),
        IP_ICMPV6 if h.kind == L3::Ipv6 => h.l4_with(f, IP_ICMPV6, 4).map(|o| (o + 2, false)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Field rewrites.

fn set_ip_addr(f: &mut [u8], h: &Hdrs, off: usize, width: usize, value: u128, mask: u128) {
    let Some(d) = rewrite(f, h.l3, off, width, value, mask) else {
        return;
    };
    if h.kind == L3::Ipv4 {
        apply_csum(f, h.l3 + 10, &d, false);
    }
    if let Some((c, z)) = l4_csum(f, h) {
        apply_csum(f, c, &d, z);
    }
}

fn set_ports(f: &mut [u8], h: &Hdrs, field: Field, value: u128, mask: u128) {
    let (proto, idx) = match field {
        Field::TcpSrc => (IP_TCP, 0),
        Field::TcpDst => (IP_TCP, 2),
        Field::UdpSrc => (IP_UDP, 0),
        Field::UdpDst => (IP_UDP, 2),
        Field::SctpSrc => (IP_SCTP, 0),
        _ => (IP_SCTP, 2),
    };
    let need = match proto {
        IP_TCP => 20,
        IP_UDP => 8,
        _ => 12,
    };
    let Some(l4) = h.l4_with(f, proto, need) else {
        return;
    };
    let Some(d) = rewrite(f, l4, l4 + idx, 2, value, mask) else {
        return;
    };
    match proto {
        IP_TCP => apply_csum(f, l4 + 16, &d, false),
        IP_UDP => apply_csum(f, l4 + 6, &d, h.kind == L3::Ipv4),
        _ => sctp_recompute(f, l4, h.l3_end),
    }
}

/// Rewrites the IPv4 TOS / IPv6 traffic class under a mask on the TOS byte.
fn set_tos(f: &mut [u8], h: &Hdrs, tos: u8, tos_mask: u8) {
    match h.kind {
        L3::Ipv4 => {
            if let Some(d) = rewrite(f, h.l3, h.l3 + 1, 1, tos.into(), tos_mask.into()) {
                apply_csum(f, h.l3 + 10, &d, false);
            }
        }
        L3::Ipv6 => {
            let _ = rewrite(
                f,
                h.l3,
                h.l3,
                4,
                u128::from(tos) << 20,
                u128::from(tos_mask) << 20,
            );
        }
        _ => {}
    }
}

fn set_ttl(f: &mut [u8], h: &Hdrs, ttl: u8, mask: u8) {
    match h.kind {
        L3::Ipv4 => {
            if let Some(d) = rewrite(f, h.l3, h.l3 + 8, 1, ttl.into(), mask.into()) {
                apply_csum(f, h.l3 + 10, &d, false);
            }
        }
        L3::Ipv6 => {
            let _ = rewrite(f, h.l3, h.l3 + 7, 1, ttl.into(), mask.into());
        }
        _ => {}
    }
}

/// Offset of an ND option of `kind` (1 = source, 2 = target link-layer
/// address) with room for a MAC, in the ND message at `l4`.
fn nd_option(f: &[u8], h: &Hdrs, kind: u8) -> Option<usize> {
    let l4 = h.l4_with(f, IP_ICMPV6, 24)?;
    let ty = byte(f, l4);
    if (kind == 1 && ty != 135) || (kind == 2 && ty != 136) {
        return None;
    }
    let end = h.l3_end.min(f.len());
    let mut off = l4 + 24;
    while off + 8 <= end {
        let len = usize::from(byte(f, off + 1)) * 8;
        if len == 0 {
            return None;
        }
        if byte(f, off) == kind && len >= 8 {
            return Some(off + 2);
        }
        off += len;
    }
    None
}

/// Applies one `SetField` to the frame (or the metadata).
fn set_field(p: &mut Packet, h: &Hdrs, field: Field, value: u128, mask: u128) {
    let mask = mask & field.max_value();
    let value = value & mask;
    if mask == 0 {
        return;
    }
    match field {
        Field::InPort => {
            if let Ok(v) = u32::try_from(value | (u128::from(p.meta.in_port) & !mask)) {
                p.meta.in_port = v;
            }
            return;
        }
        Field::TunnelId => {
            let t = &mut p.meta.tunnel;
            if let Ok(v) = u64::try_from(value | (u128::from(t.tunnel_id) & !mask)) {
                t.tunnel_id = v;
            }
            return;
        }
        Field::TunIpv4Src | Field::TunIpv4Dst => {
            let t = &mut p.meta.tunnel;
            let slot = if field == Field::TunIpv4Src {
                &mut t.ipv4_src
            } else {
                &mut t.ipv4_dst
            };
            if let Ok(v) = u32::try_from(value | (u128::from(*slot) & !mask)) {
                *slot = v;
            }
            return;
        }
        // Pipeline-only or derived fields: nothing on the wire to rewrite.
        Field::InPhyPort | Field::Metadata | Field::Ipv6Exthdr | Field::NwFrag => return,
        _ => {}
    }
    let f = p.data_mut();
    if f.len() < 14 {
        return;
    }
    let low8 = |v: u128| u8::try_from(v & 0xff).unwrap_or(0);
    match field {
        Field::EthDst => {
            let _ = rewrite(f, 0, 0, 6, value, mask);
        }
        Field::EthSrc => {
            let _ = rewrite(f, 0, 6, 6, value, mask);
        }
        Field::EthType => {
            let _ = rewrite(f, 0, h.eth_type_off, 2, value, mask);
        }
        Field::VlanVid if h.tags > 0 => {
            let m = mask & 0x0fff;
            let _ = rewrite(f, 0, 14, 2, value, m);
        }
        Field::VlanPcp if h.tags > 0 => {
            let _ = rewrite(f, 0, 14, 2, value << 13, mask << 13);
        }
        Field::IpDscp => set_tos(f, h, low8(value << 2), low8(mask << 2)),
        Field::IpEcn => set_tos(f, h, low8(value), low8(mask)),
        Field::IpProto if h.kind == L3::Ipv4 => {
            if let Some(d) = rewrite(f, h.l3, h.l3 + 9, 1, value, mask) {
                apply_csum(f, h.l3 + 10, &d, false);
            }
        }
        Field::IpProto if h.kind == L3::Ipv6 => {
            let _ = rewrite(f, h.l3, h.l3 + 6, 1, value, mask);
        }
        Field::NwTtl => set_ttl(f, h, low8(value), low8(mask)),
        Field::Ipv4Src if h.kind == L3::Ipv4 => set_ip_addr(f, h, h.l3 + 12, 4, value, mask),
        Field::Ipv4Dst if h.kind == L3::Ipv4 => set_ip_addr(f, h, h.l3 + 16, 4, value, mask),
        Field::Ipv6Src if h.kind == L3::Ipv6 => set_ip_addr(f, h, h.l3 + 8, 16, value, mask),
        Field::Ipv6Dst if h.kind == L3::Ipv6 => set_ip_addr(f, h, h.l3 + 24, 16, value, mask),
        Field::Ipv6Flabel if h.kind == L3::Ipv6 => {
            let _ = rewrite(f, h.l3, h.l3, 4, value, mask & 0xf_ffff);
        }
        Field::TcpSrc
        | Field::TcpDst
        | Field::UdpSrc
        | Field::UdpDst
        | Field::SctpSrc
        | Field::SctpDst => set_ports(f, h, field, value, mask),
        Field::TcpFlags => {
            if let Some(l4) = h.l4_with(f, IP_TCP, 20) {
                if let Some(d) = rewrite(f, l4, l4 + 12, 2, value, mask & 0xfff) {
                    apply_csum(f, l4 + 16, &d, false);
                }
            }
        }
        Field::Icmpv4Type | Field::Icmpv4Code if h.kind == L3::Ipv4 => {
            if let Some(l4) = h.l4_with(f, IP_ICMP, 4) {
                let off = if field == Field::Icmpv4Type {
                    l4
                } else {
                    l4 + 1
                };
                if let Some(d) = rewrite(f, l4, off, 1, value, mask) {
                    apply_csum(f, l4 + 2, &d, false);
                }
            }
        }
        Field::Icmpv6Type | Field::Icmpv6Code if h.kind == L3::Ipv6 => {
            if let Some(l4) = h.l4_with(f, IP_ICMPV6, 4) {
                let off = if field == Field::Icmpv6Type {
                    l4
                } else {
                    l4 + 1
                };
                if let Some(d) = rewrite(f, l4, off, 1, value, mask) {
                    apply_csum(f, l4 + 2, &d, false);
                }
            }
        }
        Field::Ipv6NdTarget if h.kind == L3::Ipv6 => {
            if let Some(l4) = h.l4_with(f, IP_ICMPV6, 24) {
                if matches!(byte(f, l4), 135 | 136) {
                    if let Some(d) = rewrite(f, l4, l4 + 8, 16, value, mask) {
                        apply_csum(f, l4 + 2, &d, false);
                    }
                }
            }
        }
        Field::Ipv6NdSll | Field::Ipv6NdTll if h.kind == L3::Ipv6 => {
            let kind = if field == Field::Ipv6NdSll { 1 } else { 2 };
            if let (Some(off), Some(l4)) = (nd_option(f, h, kind), h.l4_with(f, IP_ICMPV6, 4)) {
                if let Some(d) = rewrite(f, l4, off, 6, value, mask) {
                    apply_csum(f, l4 + 2, &d, false);
                }
            }
        }
        Field::ArpOp if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 6, 2, value, mask);
        }
        Field::ArpSha if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 8, 6, value, mask);
        }
        Field::ArpSpa if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 14, 4, value, mask);
        }
        Field::ArpTha if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 18, 6, value, mask);
        }
        Field::ArpTpa if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 24, 4, value, mask);
        }
        // An ARP key stores its SPA/TPA in the IPv4 address fields.
        Field::Ipv4Src if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 14, 4, value, mask);
        }
        Field::Ipv4Dst if h.kind == L3::Arp => {
            let _ = rewrite(f, h.l3, h.l3 + 24, 4, value, mask);
        }
        Field::MplsLabel if h.kind == L3::Mpls => {
            let _ = rewrite(f, h.l3, h.l3, 4, value << 12, mask << 12);
        }
        Field::MplsTc if h.kind == L3::Mpls => {
            let _ = rewrite(f, h.l3, h.l3, 4, value << 9, mask << 9);
        }
        Field::MplsBos if h.kind == L3::Mpls => {
            let _ = rewrite(f, h.l3, h.l3, 4, value << 8, mask << 8);
        }
        Field::MplsTtl if h.kind == L3::Mpls => {
            let _ = rewrite(f, h.l3, h.l3, 4, value, mask);
        }
        Field::PbbIsid if h.kind == L3::Pbb => {
            let _ = rewrite(f, h.l3, h.l3, 4, value, mask & 0xff_ffff);
        }
        _ => {}
    }
}

/// Raises the drop precedence of an assured-forwarding DSCP (class 1-4,
/// precedence 1-3) by `prec_level`, capped at 3.
fn remark_dscp(p: &mut Packet, h: &Hdrs, prec_level: u8) {
    let f = p.data_mut();
    let tos = match h.kind {
        L3::Ipv4 => byte(f, h.l3 + 1),
        L3::Ipv6 => {
            let w = rd16(f, h.l3).unwrap_or(0);
            u8::try_from((w >> 4) & 0xff).unwrap_or(0)
        }
        _ => return,
    };
    let dscp = tos >> 2;
    let class = dscp >> 3;
    let prec = (dscp >> 1) & 3;
    if !(1..=4).contains(&class) || prec == 0 || dscp & 1 != 0 {
        return;
    }
    let new_prec = prec.saturating_add(prec_level).min(3);
    let new_dscp = (class << 3) | (new_prec << 1);
    set_tos(f, h, new_dscp << 2, 0xfc);
}

// ---------------------------------------------------------------------------
// Structural actions.

fn push_vlan(p: &mut Packet, tpid: u16, tci: u16) -> bool {
    if p.len() < 14 {
        return true;
    }
    let Some(f) = p.insert_at(12, 4) else {
        return false;
    };
    wr16(f, 12, tpid);
    wr16(f, 14, tci & !crate::flow::VLAN_PRESENT);
    true
}

fn pop_vlan(p: &mut Packet) {
    let ty = rd16(p.data(), 12).unwrap_or(0);
    if (ty == ETH_VLAN || ty == ETH_QINQ) && p.len() >= 18 {
        p.remove_at(12, 4);
    }
}

fn push_mpls(p: &mut Packet, h: &Hdrs, ethertype: u16, lse: u32) -> bool {
    if h.kind == L3::None {
        return true;
    }
    let at = h.eth_type_off + 2;
    let Some(f) = p.insert_at(at, 4) else {
        return false;
    };
    wr32(f, at, lse);
    wr16(f, h.eth_type_off, ethertype);
    true
}

fn pop_mpls(p: &mut Packet, h: &Hdrs, ethertype: u16) {
    if h.kind != L3::Mpls {
        return;
    }
    if p.remove_at(h.l3, 4) {
        // The bytes before the label moved back by four: the ethertype is
        // still at `eth_type_off` from the new start.
        wr16(p.data_mut(), h.eth_type_off, ethertype);
    }
}

fn push_pbb(p: &mut Packet, isid: u32) -> bool {
    if p.len() < 14 {
        return true;
    }
    let Some(f) = p.push_front(PBB_OVERHEAD) else {
        return false;
    };
    f.copy_within(PBB_OVERHEAD..PBB_OVERHEAD + 12, 0);
    wr16(f, 12, ETH_PBB);
    wr32(f, 14, isid & 0xff_ffff);
    true
}

fn pop_pbb(p: &mut Packet, h: &Hdrs) {
    // The customer frame starts after the I-TAG: C-DA, C-SA, ...
    let inner = h.l3 + 4;
    if h.kind == L3::Pbb && p.len() >= inner + 14 {
        p.pull_front(inner);
    }
}

/// Copies a TTL between the outermost header and the next one: inwards
/// (outermost to next-to-outermost) or outwards (the reverse). The outermost
/// header is the top MPLS label; what is under a bottom-of-stack label is
/// recognised as IPv4 or IPv6 by its version nibble.
fn copy_ttl(f: &mut [u8], h: &Hdrs, inwards: bool) {
    if h.kind != L3::Mpls {
        return;
    }
    let top = h.l3;
    let Some(lse) = rd32(f, top) else {
        return;
    };
    let outer_ttl = u8::try_from(lse & 0xff).unwrap_or(0);
    let next = top + 4;
    if lse & 0x100 == 0 {
        // Another label below.
        let Some(lse2) = rd32(f, next) else {
            return;
        };
        if inwards {
            wr32(f, next, (lse2 & !0xff) | u32::from(outer_ttl));
        } else {
            wr32(f, top, (lse & !0xff) | (lse2 & 0xff));
        }
        return;
    }
    match byte(f, next) >> 4 {
        4 if f.len() >= next + 20 => {
            if inwards {
                if let Some(d) = patch(f, next, next + 8, &[outer_ttl]) {
                    apply_csum(f, next + 10, &d, false);
                }
            } else {
                let ttl = byte(f, next + 8);
                wr32(f, top, (lse & !0xff) | u32::from(ttl));
            }
        }
        6 if f.len() >= next + 40 => {
            if inwards {
                f[next + 7] = outer_ttl;
            } else {
                let ttl = byte(f, next + 7);
                wr32(f, top, (lse & !0xff) | u32::from(ttl));
            }
        }
        _ => {}
    }
}

/// A hash of the inner flow (addresses and ports), for the outer UDP source
/// port of an encapsulation so that the underlay can spread flows.
fn inner_flow_hash(f: &[u8]) -> u32 {
    let h = Hdrs::parse(f);
    let mut x: u32 = 0x811c_9dc5;
    let mut mix = |bytes: &[u8]| {
        for &b in bytes {
            x = (x ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    };
    mix(f.get(..14).unwrap_or(f));
    match h.kind {
        L3::Ipv4 => {
            mix(f.get(h.l3 + 9..h.l3 + 10).unwrap_or(&[]));
            mix(f.get(h.l3 + 12..h.l3 + 20).unwrap_or(&[]));
        }
        L3::Ipv6 => mix(f.get(h.l3 + 8..h.l3 + 40).unwrap_or(&[])),
        _ => {}
    }
    if h.l4 != 0 && matches!(h.proto, IP_TCP | IP_UDP | IP_SCTP) {
        mix(f.get(h.l4..h.l4 + 4).unwrap_or(&[]));
    }
    x ^ (x >> 16)
}

fn vxlan_encap(
    p: &mut Packet,
    t: &TunnelMeta,
    src: &[u8; 6],
    dst: &[u8; 6],
    udp_csum: bool,
) -> bool {
    let inner_len = p.len();
    let Ok(ip_len) = u16::try_from(inner_len + VXLAN_OVERHEAD - 14) else {
        return false;
    };
    let udp_len = ip_len - 20;
    let hash = inner_flow_hash(p.data());
    let Some(f) = p.push_front(VXLAN_OVERHEAD) else {
        return false;
    };
    f[0..6].copy_from_slice(dst);
    f[6..12].copy_from_slice(src);
    wr16(f, 12, ETH_IPV4);
    // IPv4.
    let ip = 14;
    f[ip] = 0x45;
    f[ip + 1] = t.tos;
    wr16(f, ip + 2, ip_len);
    wr16(f, ip + 4, 0);
    let df = if t.flags & tun_flags::DONT_FRAGMENT != 0 {
        0x4000
    } else {
        0
    };
    wr16(f, ip + 6, df);
    f[ip + 8] = if t.ttl == 0 { 64 } else { t.ttl };
    f[ip + 9] = IP_UDP;
    wr16(f, ip + 10, 0);
    wr32(f, ip + 12, t.ipv4_src);
    wr32(f, ip + 16, t.ipv4_dst);
    let c = csum::checksum(&f[ip..ip + 20]);
    wr16(f, ip + 10, c);
    // UDP.
    let udp = ip + 20;
    let sport = 49152 | u16::try_from(hash & 0x3fff).unwrap_or(0);
    wr16(f, udp, sport);
    wr16(
        f,
        udp + 2,
        if t.tp_dst == 0 { VXLAN_PORT } else { t.tp_dst },
    );
    wr16(f, udp + 4, udp_len);
    wr16(f, udp + 6, 0);
    // VXLAN: flags with the I bit, 24-bit VNI.
    let vx = udp + 8;
    wr32(f, vx, 0x0800_0000);
    wr32(
        f,
        vx + 4,
        (u32::try_from(t.tunnel_id & 0xff_ffff).unwrap_or(0)) << 8,
    );
    if udp_csum || t.flags & tun_flags::CSUM != 0 {
        let pseudo = csum::pseudo_header_v4(
            t.ipv4_src.to_be_bytes(),
            t.ipv4_dst.to_be_bytes(),
            IP_UDP,
            udp_len,
        );
        let c = csum::udp_nonzero(csum::checksum_with(pseudo, &f[udp..]));
        wr16(f, udp + 6, c);
    }
    p.meta.tunnel = TunnelMeta::default();
    true
}

fn vxlan_decap(p: &mut Packet) -> bool {
    let f = p.data();
    let h = Hdrs::parse(f);
    if h.kind != L3::Ipv4 {
        return false;
    }
    let Some(udp) = h.l4_with(f, IP_UDP, 16) else {
        return false;
    };
    if byte(f, udp + 8) & 0x08 == 0 {
        return false;
    }
    let ip = h.l3;
    let mut flags = tun_flags::PRESENT;
    if rd16(f, udp + 6).unwrap_or(0) != 0 {
        flags |= tun_flags::CSUM;
    }
    if rd16(f, ip + 6).unwrap_or(0) & 0x4000 != 0 {
        flags |= tun_flags::DONT_FRAGMENT;
    }
    let tunnel = TunnelMeta {
        tunnel_id: u64::from(rd32(f, udp + 12).unwrap_or(0) >> 8),
        ipv4_src: rd32(f, ip + 12).unwrap_or(0),
        ipv4_dst: rd32(f, ip + 16).unwrap_or(0),
        tos: byte(f, ip + 1),
        ttl: byte(f, ip + 8),
        flags,
        tp_dst: rd16(f, udp + 2).unwrap_or(0),
    };
    if !p.pull_front(udp + 16) {
        return false;
    }
    p.meta.tunnel = tunnel;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpaction::PacketInReason;
    use etherparse::{NetHeaders, PacketBuilder, PacketHeaders, TransportHeader};
    use proptest::prelude::*;

    use crate::packet::sctp::crc32c;

    const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

    /// A full checksum of `data` on top of a partial sum `initial`.
    fn checksum(initial: u64, data: &[u8]) -> u16 {
        let mut s = initial + u64::from(csum::sum(data));
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !u16::try_from(s).unwrap()
    }

    fn sum_words(data: &[u8]) -> u64 {
        u64::from(csum::sum(data))
    }
    const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

    fn tcp4(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 7, 1000)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 17)
            .udp(5000, 53)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn udp6(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let mut a = [0u8; 16];
        a[0] = 0xfe;
        a[15] = 1;
        let mut b = a;
        b[15] = 2;
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(a, b, 9)
            .udp(5000, 53)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    /// Checks every checksum of an Ethernet frame against a full
    /// recomputation; `Err` names the first that differs.
    fn verify(frame: &[u8]) -> Result<(), String> {
        let h = PacketHeaders::from_ethernet_slice(frame).map_err(|e| format!("{e:?}"))?;
        let payload = h.payload.slice();
        match &h.net {
            Some(NetHeaders::Ipv4(ip, _)) => {
                if ip.header_checksum != ip.calc_header_checksum() {
                    return Err(format!("ipv4 header checksum {:#x}", ip.header_checksum));
                }
                match &h.transport {
                    Some(TransportHeader::Tcp(t)) => {
                        let c = t.calc_checksum_ipv4(ip, payload).unwrap();
                        (t.checksum == c)
                            .then_some(())
                            .ok_or(format!("tcp {:#x} != {c:#x}", t.checksum))
                    }
                    Some(TransportHeader::Udp(u)) => {
                        let c = u.calc_checksum_ipv4(ip, payload).unwrap();
                        (u.checksum == 0 || u.checksum == c)
                            .then_some(())
                            .ok_or(format!("udp {:#x} != {c:#x}", u.checksum))
                    }
                    Some(TransportHeader::Icmpv4(_)) => {
                        // Summed over the whole message: the type decides how
                        // etherparse would split header and body.
                        let l4 = frame.len() - (usize::from(ip.total_len) - ip.header_len());
                        (checksum(0, &frame[l4..]) == 0)
                            .then_some(())
                            .ok_or("icmp".to_string())
                    }
                    _ => Ok(()),
                }
            }
            Some(NetHeaders::Ipv6(ip, _)) => match &h.transport {
                Some(TransportHeader::Tcp(t)) => {
                    let c = t.calc_checksum_ipv6(ip, payload).unwrap();
                    (t.checksum == c)
                        .then_some(())
                        .ok_or(format!("tcp6 {:#x} != {c:#x}", t.checksum))
                }
                Some(TransportHeader::Udp(u)) => {
                    let c = u.calc_checksum_ipv6(ip, payload).unwrap();
                    (u.checksum == c)
                        .then_some(())
                        .ok_or(format!("udp6 {:#x} != {c:#x}", u.checksum))
                }
                Some(TransportHeader::Icmpv6(_)) => {
                    let l4 = frame.len() - usize::from(ip.payload_length);
                    let len = u64::from(ip.payload_length);
                    let pseudo = sum_words(&ip.source) + sum_words(&ip.destination) + 58 + len;
                    (checksum(pseudo, &frame[l4..]) == 0)
                        .then_some(())
                        .ok_or("icmp6".to_string())
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    struct Harness {
        out: TxBatches,
        pins: Vec<PacketIn>,
        stats: ExecStats,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                out: TxBatches::with_pool(8),
                pins: Vec::new(),
                stats: ExecStats::default(),
            }
        }

        fn run_with(
            &mut self,
            actions: &[DpAction],
            frame: &[u8],
            meters: &mut dyn MeterHook,
        ) -> Packet {
            let mut pkts = [Packet::from_frame(frame)];
            let mut ctx = ExecCtx {
                meters,
                to_controller: &mut self.pins,
                stats: &mut self.stats,
            };
            execute(actions, &mut pkts, &mut ctx, &mut self.out);
            let [p] = pkts;
            p
        }

        /// Runs `actions` followed by an output to port 9 and returns the
        /// frame that port got.
        fn run(&mut self, actions: &[DpAction], frame: &[u8]) -> Option<Vec<u8>> {
            let mut acts = actions.to_vec();
            acts.push(DpAction::Output(9));
            self.out.recycle();
            self.run_with(&acts, frame, &mut NoMeters);
            self.out.queued(9).first().map(|p| p.data().to_vec())
        }
    }

    fn set(field: Field, value: u128) -> DpAction {
        DpAction::SetField {
            field,
            value,
            mask: field.max_value(),
        }
    }

    #[test]
    fn last_output_moves_and_earlier_outputs_copy() {
        let mut h = Harness::new();
        let frame = tcp4(b"hello");
        let acts = [DpAction::Output(1), DpAction::Output(2)];
        let left = h.run_with(&acts, &frame, &mut NoMeters);
        assert_eq!(h.out.queued(1)[0].data(), &frame[..]);
        assert_eq!(h.out.queued(2)[0].data(), &frame[..]);
        assert!(
            left.is_empty(),
            "the moved packet's slot holds a fresh buffer"
        );
        assert_eq!(h.out.pool_misses(), 0);
        assert_eq!(h.out.free_len(), 6);
        let mut sent = Vec::new();
        h.out.flush(|port, pkts| sent.push((port, pkts.len())));
        assert_eq!(sent, vec![(1, 1), (2, 1)]);
        assert_eq!(h.out.free_len(), 8);
        assert_eq!(h.out.total_queued(), 0);
    }

    #[test]
    fn a_meter_after_the_last_output_prevents_the_move() {
        assert_eq!(move_index(&[DpAction::Output(1), DpAction::Meter(1)]), None);
        assert_eq!(
            move_index(&[DpAction::Output(1), DpAction::SetQueue(1)]),
            Some(0)
        );
        assert_eq!(move_index(&[DpAction::PopVlan]), None);
    }

    #[test]
    fn an_empty_pool_allocates_and_counts_it() {
        let mut out = TxBatches::new();
        let mut pins = Vec::new();
        let mut stats = ExecStats::default();
        let mut ctx = ExecCtx {
            meters: &mut NoMeters,
            to_controller: &mut pins,
            stats: &mut stats,
        };
        let mut pkts = [Packet::from_frame(&tcp4(b""))];
        execute(
            &[DpAction::Output(1), DpAction::Output(1)],
            &mut pkts,
            &mut ctx,
            &mut out,
        );
        assert_eq!(out.queued(1).len(), 2);
        assert_eq!(out.pool_misses(), 2);
        out.recycle();
        assert_eq!(out.free_len(), 2);
    }

    #[test]
    fn execute_batch_runs_only_the_selected_packets() {
        let mut out = TxBatches::with_pool(4);
        let mut pins = Vec::new();
        let mut stats = ExecStats::default();
        let mut ctx = ExecCtx {
            meters: &mut NoMeters,
            to_controller: &mut pins,
            stats: &mut stats,
        };
        let mut pkts: Vec<Packet> = (0..3u8).map(|i| Packet::from_frame(&tcp4(&[i]))).collect();
        execute_batch(
            &[DpAction::Output(3)],
            &mut pkts,
            &[0, 2, 7],
            &mut ctx,
            &mut out,
        );
        let q = out.queued(3);
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].data().last(), Some(&0));
        assert_eq!(q[1].data().last(), Some(&2));
        assert_eq!(pkts[1].data().last(), Some(&1));
    }

    #[test]
    fn ipv4_address_rewrite_keeps_ip_and_tcp_checksums_valid() {
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    set(Field::Ipv4Src, 0x0102_0304),
                    set(Field::Ipv4Dst, 0xc0a8_0001),
                ],
                &tcp4(b"abc"),
            )
            .unwrap();
        assert_eq!(&out[26..34], &[1, 2, 3, 4, 192, 168, 0, 1]);
        verify(&out).unwrap();
    }

    #[test]
    fn udp_zero_checksum_stays_zero_over_ipv4() {
        let mut frame = udp4(b"payload");
        frame[40] = 0;
        frame[41] = 0;
        let mut h = Harness::new();
        let out = h
            .run(
                &[set(Field::Ipv4Dst, 0x0a0a_0a0a), set(Field::UdpSrc, 1)],
                &frame,
            )
            .unwrap();
        assert_eq!(&out[40..42], &[0, 0]);
        verify(&out).unwrap();
    }

    #[test]
    fn ipv6_address_and_port_rewrite_keep_udp_checksum_valid() {
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    set(Field::Ipv6Src, 0x2001_0db8 << 96 | 7),
                    set(Field::UdpDst, 4242),
                    set(Field::NwTtl, 3),
                ],
                &udp6(b"xyz"),
            )
            .unwrap();
        assert_eq!(out[21], 3);
        verify(&out).unwrap();
    }

    #[test]
    fn masked_set_field_rewrites_only_masked_bits() {
        let mut h = Harness::new();
        let acts = [DpAction::SetField {
            field: Field::Ipv4Dst,
            value: 0xffff_0000,
            mask: 0xff00_0000,
        }];
        let out = h.run(&acts, &tcp4(b"")).unwrap();
        assert_eq!(&out[30..34], &[0xff, 0, 0, 2]);
        verify(&out).unwrap();
    }

    #[test]
    fn masked_mac_and_port_writes_keep_the_other_bits_and_the_checksums() {
        let mut h = Harness::new();
        let before = tcp4(b"data");
        let acts = [
            DpAction::SetField {
                field: Field::EthDst,
                value: 0xaa,
                mask: 0xff,
            },
            DpAction::SetField {
                field: Field::TcpDst,
                value: 0x0003,
                mask: 0x0003,
            },
        ];
        let out = h.run(&acts, &before).unwrap();
        assert_eq!(out[..5], before[..5]);
        assert_eq!(out[5], 0xaa);
        let port = |f: &[u8]| u16::from_be_bytes([f[36], f[37]]);
        assert_eq!(port(&out), port(&before) | 3);
        verify(&out).unwrap();
    }

    #[test]
    fn dscp_and_ecn_rewrite_share_the_tos_byte() {
        let mut h = Harness::new();
        let out = h
            .run(&[set(Field::IpDscp, 46), set(Field::IpEcn, 1)], &tcp4(b""))
            .unwrap();
        assert_eq!(out[15], (46 << 2) | 1);
        verify(&out).unwrap();
        let out = h.run(&[set(Field::IpDscp, 10)], &udp6(b"")).unwrap();
        let tc = (u16::from_be_bytes([out[14], out[15]]) >> 4) & 0xff;
        assert_eq!(tc, 10 << 2);
    }

    #[test]
    fn sctp_port_rewrite_recomputes_crc32c() {
        // Ethernet + IPv4 (proto 132) + SCTP common header + 4 bytes of chunk.
        let mut f = vec![0u8; 14 + 20 + 16];
        f[12..14].copy_from_slice(&ETH_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&36u16.to_be_bytes());
        f[22] = 64;
        f[23] = IP_SCTP;
        let c = checksum(0, &f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f[34..36].copy_from_slice(&7u16.to_be_bytes());
        f[46..50].copy_from_slice(&[1, 2, 3, 4]);
        let mut h = Harness::new();
        let out = h.run(&[set(Field::SctpDst, 9999)], &f).unwrap();
        assert_eq!(&out[36..38], &9999u16.to_be_bytes());
        let stored = u32::from_le_bytes([out[42], out[43], out[44], out[45]]);
        let mut z = out[34..].to_vec();
        z[8..12].copy_from_slice(&[0; 4]);
        assert_eq!(stored, crc32c(&z));
    }

    #[test]
    fn icmpv4_type_rewrite_updates_icmp_checksum() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5)
            .icmpv4_echo_request(1, 2)
            .write(&mut v, b"ping")
            .unwrap();
        let mut h = Harness::new();
        let out = h
            .run(&[set(Field::Icmpv4Type, 0), set(Field::Ipv4Src, 9)], &v)
            .unwrap();
        assert_eq!(out[34], 0);
        verify(&out).unwrap();
    }

    #[test]
    fn ipv6_address_rewrite_updates_icmpv6_checksum() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6([1; 16], [2; 16], 5)
            .icmpv6_echo_request(1, 2)
            .write(&mut v, b"ping")
            .unwrap();
        let mut h = Harness::new();
        let out = h
            .run(&[set(Field::Ipv6Dst, 77), set(Field::Icmpv6Code, 3)], &v)
            .unwrap();
        verify(&out).unwrap();
    }

    fn nd_advert() -> Vec<u8> {
        // Ethernet + IPv6 + ICMPv6 NA (24 bytes) + target link-layer option (8 bytes).
        let mut f = vec![0u8; 14 + 40 + 32];
        f[12..14].copy_from_slice(&ETH_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[18..20].copy_from_slice(&32u16.to_be_bytes());
        f[20] = IP_ICMPV6;
        f[21] = 255;
        f[22..38].copy_from_slice(&[0xfe; 16]);
        f[38..54].copy_from_slice(&[0xff; 16]);
        let l4 = 54;
        f[l4] = 136;
        f[l4 + 8..l4 + 24].copy_from_slice(&[0xaa; 16]);
        f[l4 + 24] = 2;
        f[l4 + 25] = 1;
        f[l4 + 26..l4 + 32].copy_from_slice(&MAC_A);
        let h = Hdrs::parse(&f);
        let pseudo = sum_words(&f[22..54]) + u64::from(IP_ICMPV6) + 32;
        let c = checksum(pseudo, &f[l4..]);
        f[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(h.l4, l4);
        f
    }

    #[test]
    fn nd_target_and_link_layer_rewrites_keep_icmpv6_checksum_valid() {
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    set(Field::Ipv6NdTarget, 5),
                    set(Field::Ipv6NdTll, 0x0203_0405_0607),
                ],
                &nd_advert(),
            )
            .unwrap();
        assert_eq!(&out[80..86], &[2, 3, 4, 5, 6, 7]);
        assert_eq!(out[77], 5);
        let pseudo = sum_words(&out[22..54]) + u64::from(IP_ICMPV6) + 32;
        assert_eq!(checksum(pseudo, &out[54..]), 0);
        // No source link-layer option in an advertisement: nothing changes.
        let again = h.run(&[set(Field::Ipv6NdSll, 1)], &out).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn arp_fields_are_rewritten_in_place() {
        let mut f = vec![0u8; 42];
        f[12..14].copy_from_slice(&ETH_ARP.to_be_bytes());
        f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    set(Field::ArpOp, 2),
                    set(Field::ArpSpa, 0x0a00_0001),
                    set(Field::ArpTha, 0x0102_0304_0506),
                ],
                &f,
            )
            .unwrap();
        assert_eq!(&out[20..22], &[0, 2]);
        assert_eq!(&out[28..32], &[10, 0, 0, 1]);
        assert_eq!(&out[32..38], &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn vlan_push_set_and_pop_round_trip() {
        let frame = tcp4(b"v");
        let mut h = Harness::new();
        let tagged = h
            .run(
                &[DpAction::PushVlan {
                    tpid: ETH_VLAN,
                    tci: 0x1000 | 100,
                }],
                &frame,
            )
            .unwrap();
        assert_eq!(tagged.len(), frame.len() + 4);
        assert_eq!(&tagged[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(&tagged[16..18], &[0x08, 0x00]);
        let retagged = h
            .run(
                &[set(Field::VlanVid, 0x1000 | 7), set(Field::VlanPcp, 5)],
                &tagged,
            )
            .unwrap();
        assert_eq!(&retagged[14..16], &((5u16 << 13) | 7).to_be_bytes());
        verify(&retagged).unwrap();
        let untagged = h.run(&[DpAction::PopVlan], &retagged).unwrap();
        assert_eq!(untagged, frame);
    }

    #[test]
    fn qinq_push_goes_outside_the_existing_tag() {
        let frame = tcp4(b"q");
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    DpAction::PushVlan {
                        tpid: ETH_VLAN,
                        tci: 10,
                    },
                    DpAction::PushVlan {
                        tpid: ETH_QINQ,
                        tci: 20,
                    },
                    set(Field::Ipv4Dst, 1),
                ],
                &frame,
            )
            .unwrap();
        assert_eq!(&out[12..20], &[0x88, 0xa8, 0, 20, 0x81, 0, 0, 10]);
        verify(&out).unwrap();
        assert_eq!(&out[38..42], &[0, 0, 0, 1]);
    }

    #[test]
    fn mpls_push_set_copy_ttl_and_pop_round_trip() {
        let frame = tcp4(b"m");
        let mut h = Harness::new();
        let lse = (1000 << 12) | (1 << 8) | 64;
        let labelled = h
            .run(
                &[
                    DpAction::PushMpls {
                        ethertype: ETH_MPLS,
                        lse,
                    },
                    set(Field::MplsLabel, 77),
                    set(Field::MplsTc, 5),
                    set(Field::MplsTtl, 9),
                ],
                &frame,
            )
            .unwrap();
        assert_eq!(&labelled[12..14], &ETH_MPLS.to_be_bytes());
        let got = u32::from_be_bytes([labelled[14], labelled[15], labelled[16], labelled[17]]);
        assert_eq!(got, (77 << 12) | (5 << 9) | (1 << 8) | 9);
        // Copy TTL inwards: the IPv4 TTL becomes 9 with a valid checksum.
        let inward = h.run(&[DpAction::CopyTtlIn], &labelled).unwrap();
        assert_eq!(inward[18 + 8], 9);
        assert_eq!(checksum(0, &inward[18..38]), 0);
        // Copy TTL outwards from a fresh IP TTL of 64.
        let lowered = h.run(&[set(Field::MplsTtl, 1)], &labelled).unwrap();
        let outward = h.run(&[DpAction::CopyTtlOut], &lowered).unwrap();
        assert_eq!(outward[17], 64);
        let popped = h
            .run(
                &[DpAction::PopMpls {
                    ethertype: ETH_IPV4,
                }],
                &inward,
            )
            .unwrap();
        assert_eq!(popped.len(), frame.len());
        assert_eq!(&popped[12..14], &[8, 0]);
        verify(&popped).unwrap();
    }

    #[test]
    fn mpls_copy_ttl_between_two_labels() {
        let frame = tcp4(b"");
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    DpAction::PushMpls {
                        ethertype: ETH_MPLS,
                        lse: (1 << 12) | (1 << 8) | 30,
                    },
                    DpAction::PushMpls {
                        ethertype: ETH_MPLS,
                        lse: (2 << 12) | 40,
                    },
                    DpAction::CopyTtlIn,
                ],
                &frame,
            )
            .unwrap();
        assert_eq!(out[17], 40);
        assert_eq!(out[21], 40);
    }

    #[test]
    fn pbb_push_set_and_pop_round_trip() {
        let frame = tcp4(b"p");
        let mut h = Harness::new();
        let out = h
            .run(
                &[
                    DpAction::PushPbb { isid: 0x12_3456 },
                    set(Field::PbbIsid, 0xab_cdef),
                ],
                &frame,
            )
            .unwrap();
        assert_eq!(out.len(), frame.len() + PBB_OVERHEAD);
        assert_eq!(&out[0..12], &frame[0..12]);
        assert_eq!(&out[12..18], &[0x88, 0xe7, 0, 0xab, 0xcd, 0xef]);
        let back = h.run(&[DpAction::PopPbb], &out).unwrap();
        assert_eq!(back, frame);
    }

    #[test]
    fn vxlan_encap_builds_valid_outer_headers_and_decap_restores_the_frame() {
        let inner = tcp4(b"tunnel me");
        let tunnel = TunnelMeta {
            tunnel_id: 5001,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0002,
            tos: 0,
            ttl: 0,
            flags: tun_flags::DONT_FRAGMENT,
            tp_dst: 0,
        };
        let mut h = Harness::new();
        let out = h
            .run(
                &[DpAction::VxlanEncap {
                    tunnel,
                    eth_src: MAC_A,
                    eth_dst: MAC_B,
                    udp_csum: true,
                }],
                &inner,
            )
            .unwrap();
        assert_eq!(out.len(), inner.len() + VXLAN_OVERHEAD);
        verify(&out).unwrap();
        let hdr = PacketHeaders::from_ethernet_slice(&out).unwrap();
        let Some(NetHeaders::Ipv4(ip, _)) = hdr.net else {
            panic!("no ipv4");
        };
        assert!(ip.dont_fragment);
        assert_eq!(ip.time_to_live, 64);
        let Some(TransportHeader::Udp(udp)) = hdr.transport else {
            panic!("no udp");
        };
        assert_eq!(udp.destination_port, VXLAN_PORT);
        assert!(udp.source_port >= 49152);
        assert_ne!(udp.checksum, 0);
        assert_eq!(&out[46..49], &[0x00, 0x13, 0x89]);

        let mut p = h.run_with(&[DpAction::VxlanDecap], &out, &mut NoMeters);
        assert_eq!(p.data(), &inner[..]);
        assert_eq!(p.meta.tunnel.tunnel_id, 5001);
        assert_eq!(p.meta.tunnel.ipv4_src, 0x0a00_0001);
        assert_eq!(p.meta.tunnel.tp_dst, VXLAN_PORT);
        assert_eq!(
            p.meta.tunnel.flags,
            tun_flags::PRESENT | tun_flags::CSUM | tun_flags::DONT_FRAGMENT
        );
        // Decapsulating a frame that is not VXLAN drops it.
        p.set_frame(&inner);
        let before = h.stats.action_errors;
        let _ = h.run(&[DpAction::VxlanDecap], &inner);
        assert_eq!(h.stats.action_errors, before + 1);
    }

    #[test]
    fn vxlan_source_port_depends_on_the_inner_flow_only() {
        let a = inner_flow_hash(&tcp4(b"one"));
        let b = inner_flow_hash(&tcp4(b"two, longer"));
        let c = inner_flow_hash(&udp4(b"one"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn to_controller_hands_over_the_whole_frame_and_its_max_len() {
        let frame = tcp4(&[7; 100]);
        let meta = ControllerMeta {
            reason: PacketInReason::Action,
            max_len: 20,
            table_id: 3,
            cookie: 1,
            metadata: 0,
            tunnel_id: 0,
            in_port: 4,
        };
        let mut h = Harness::new();
        let full = ControllerMeta {
            max_len: 0xffff,
            ..meta
        };
        h.run_with(
            &[DpAction::ToController(meta), DpAction::ToController(full)],
            &frame,
            &mut NoMeters,
        );
        assert_eq!(h.pins.len(), 2);
        assert_eq!(h.pins[0].data, frame);
        assert_eq!(h.pins[0].meta.max_len, 20);
        assert_eq!(h.pins[0].total_len, frame.len());
        assert_eq!(h.pins[1].data, frame);
        assert_eq!(h.stats.to_controller, 2);
    }

    #[test]
    fn a_meter_drop_stops_the_packet_and_a_remark_raises_drop_precedence() {
        let mut frame = tcp4(b"");
        // DSCP AF11 (10).
        frame[15] = 10 << 2;
        let c = checksum(0, &{
            let mut hdr = frame[14..34].to_vec();
            hdr[10] = 0;
            hdr[11] = 0;
            hdr
        });
        frame[24..26].copy_from_slice(&c.to_be_bytes());
        let mut h = Harness::new();
        let mut seen = Vec::new();
        let mut drop_all = |id: u32, len: usize| {
            seen.push((id, len));
            MeterVerdict::Drop
        };
        h.run_with(
            &[DpAction::Meter(5), DpAction::Output(1)],
            &frame,
            &mut drop_all,
        );
        assert_eq!(seen, vec![(5, frame.len())]);
        assert!(h.out.queued(1).is_empty());
        assert_eq!(h.stats.meter_drops, 1);
        let mut remark = |_: u32, _: usize| MeterVerdict::RemarkDscp(1);
        h.run_with(
            &[DpAction::Meter(5), DpAction::Output(1)],
            &frame,
            &mut remark,
        );
        let out = h.out.queued(1)[0].data().to_vec();
        assert_eq!(out[15] >> 2, 12, "AF11 becomes AF12");
        verify(&out).unwrap();
    }

    #[test]
    fn set_queue_and_tunnel_fields_land_in_the_metadata() {
        let mut h = Harness::new();
        h.run_with(
            &[
                DpAction::SetQueue(3),
                set(Field::TunnelId, 99),
                set(Field::TunIpv4Dst, 5),
                DpAction::Output(1),
            ],
            &tcp4(b""),
            &mut NoMeters,
        );
        let p = &h.out.queued(1)[0];
        assert_eq!(p.meta.queue_id, 3);
        assert_eq!(p.meta.tunnel.tunnel_id, 99);
        assert_eq!(p.meta.tunnel.ipv4_dst, 5);
    }

    #[test]
    fn rewrites_of_a_later_fragment_leave_the_payload_alone() {
        let mut frame = tcp4(&[0x55; 24]);
        // Fragment offset 8 (64 bytes): the bytes after the header are payload.
        frame[20..22].copy_from_slice(&8u16.to_be_bytes());
        let c = checksum(0, &{
            let mut hdr = frame[14..34].to_vec();
            hdr[10] = 0;
            hdr[11] = 0;
            hdr
        });
        frame[24..26].copy_from_slice(&c.to_be_bytes());
        let mut h = Harness::new();
        let out = h
            .run(&[set(Field::TcpDst, 1), set(Field::Ipv4Src, 1)], &frame)
            .unwrap();
        assert_eq!(&out[34..], &frame[34..]);
        assert_eq!(checksum(0, &out[14..34]), 0);
    }

    #[test]
    fn a_push_without_headroom_drops_and_counts() {
        let frame = tcp4(b"");
        let mut p = Packet::with_capacity(frame.len() + 2, 2);
        p.reset_for_rx(2)[..frame.len()].copy_from_slice(&frame);
        p.set_len(frame.len());
        let mut out = TxBatches::with_pool(2);
        let mut pins = Vec::new();
        let mut stats = ExecStats::default();
        let mut ctx = ExecCtx {
            meters: &mut NoMeters,
            to_controller: &mut pins,
            stats: &mut stats,
        };
        let mut pkts = [p];
        execute(
            &[
                DpAction::PushVlan {
                    tpid: ETH_VLAN,
                    tci: 1,
                },
                DpAction::Output(1),
            ],
            &mut pkts,
            &mut ctx,
            &mut out,
        );
        assert_eq!(stats.action_errors, 1);
        assert_eq!(out.total_queued(), 0);
    }

    #[derive(Clone, Debug)]
    enum Kind {
        Tcp4,
        Udp4,
        Udp4NoCsum,
        Icmp4,
        Tcp6,
        Udp6,
        Icmp6,
    }

    fn build(
        kind: &Kind,
        src4: [u8; 4],
        src6: [u8; 16],
        tos: u8,
        vlan: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::new();
        let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
        let dst6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        match kind {
            Kind::Tcp4 => eth
                .ipv4(src4, [10, 0, 0, 9], 9)
                .tcp(1, 2, 3, 4)
                .write(&mut v, payload),
            Kind::Udp4 | Kind::Udp4NoCsum => eth
                .ipv4(src4, [10, 0, 0, 9], 9)
                .udp(1, 2)
                .write(&mut v, payload),
            Kind::Icmp4 => eth
                .ipv4(src4, [10, 0, 0, 9], 9)
                .icmpv4_echo_request(1, 2)
                .write(&mut v, payload),
            Kind::Tcp6 => eth
                .ipv6(src6, dst6, 9)
                .tcp(1, 2, 3, 4)
                .write(&mut v, payload),
            Kind::Udp6 => eth.ipv6(src6, dst6, 9).udp(1, 2).write(&mut v, payload),
            Kind::Icmp6 => eth
                .ipv6(src6, dst6, 9)
                .icmpv6_echo_request(1, 2)
                .write(&mut v, payload),
        }
        .unwrap();
        if matches!(kind, Kind::Udp4NoCsum) {
            v[40] = 0;
            v[41] = 0;
        }
        if matches!(
            kind,
            Kind::Tcp4 | Kind::Udp4 | Kind::Udp4NoCsum | Kind::Icmp4
        ) {
            v[15] = tos;
            v[24] = 0;
            v[25] = 0;
            let c = checksum(0, &v[14..34]);
            v[24..26].copy_from_slice(&c.to_be_bytes());
        }
        if vlan {
            v.splice(12..12, [0x81, 0x00, 0x20, 0x05]);
        }
        v
    }

    /// Full recomputation of every checksum of a frame made by `build`,
    /// by its known layout (no options, no extension headers).
    fn verify_known(f: &[u8], kind: &Kind, vlan: bool) -> Result<(), String> {
        let l3 = if vlan { 18 } else { 14 };
        let v6 = matches!(kind, Kind::Tcp6 | Kind::Udp6 | Kind::Icmp6);
        let l4 = l3 + if v6 { 40 } else { 20 };
        let len = u64::try_from(f.len() - l4).unwrap();
        let pseudo = |proto: u8| {
            let addrs = if v6 {
                &f[l3 + 8..l3 + 40]
            } else {
                &f[l3 + 12..l3 + 20]
            };
            sum_words(addrs) + u64::from(proto) + len
        };
        if !v6 && checksum(0, &f[l3..l4]) != 0 {
            return Err("ipv4 header".into());
        }
        let ok = match kind {
            Kind::Tcp4 | Kind::Tcp6 => checksum(pseudo(IP_TCP), &f[l4..]) == 0,
            Kind::Udp4NoCsum => f[l4 + 6..l4 + 8] == [0, 0],
            Kind::Udp4 | Kind::Udp6 => checksum(pseudo(IP_UDP), &f[l4..]) == 0,
            Kind::Icmp4 => checksum(0, &f[l4..]) == 0,
            Kind::Icmp6 => checksum(pseudo(IP_ICMPV6), &f[l4..]) == 0,
        };
        ok.then_some(()).ok_or(format!("{kind:?} l4 checksum"))
    }

    fn fields_for(kind: &Kind) -> Vec<Field> {
        let mut f = vec![
            Field::EthSrc,
            Field::EthDst,
            Field::IpDscp,
            Field::IpEcn,
            Field::NwTtl,
        ];
        match kind {
            Kind::Tcp4 | Kind::Udp4 | Kind::Udp4NoCsum | Kind::Icmp4 => {
                f.extend([Field::Ipv4Src, Field::Ipv4Dst])
            }
            _ => f.extend([Field::Ipv6Src, Field::Ipv6Dst, Field::Ipv6Flabel]),
        }
        match kind {
            Kind::Tcp4 | Kind::Tcp6 => f.extend([Field::TcpSrc, Field::TcpDst, Field::TcpFlags]),
            Kind::Udp4 | Kind::Udp4NoCsum | Kind::Udp6 => f.extend([Field::UdpSrc, Field::UdpDst]),
            Kind::Icmp4 => f.extend([Field::Icmpv4Type, Field::Icmpv4Code]),
            Kind::Icmp6 => f.extend([Field::Icmpv6Type, Field::Icmpv6Code]),
        }
        f
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Tcp4),
            Just(Kind::Udp4),
            Just(Kind::Udp4NoCsum),
            Just(Kind::Icmp4),
            Just(Kind::Tcp6),
            Just(Kind::Udp6),
            Just(Kind::Icmp6),
        ]
    }

    proptest! {
        #[test]
        fn incremental_checksums_equal_full_recomputation(
            kind in kind(),
            src4 in any::<[u8; 4]>(),
            src6 in any::<[u8; 16]>(),
            tos in any::<u8>(),
            vlan in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            rewrites in proptest::collection::vec((any::<usize>(), any::<u128>(), any::<u128>(), any::<bool>()), 1..6),
        ) {
            let frame = build(&kind, src4, src6, tos, vlan, &payload);
            prop_assert!(verify(&frame).is_ok());
            let fields = fields_for(&kind);
            let acts: Vec<DpAction> = rewrites
                .iter()
                .map(|&(i, value, mask, full)| {
                    let field = fields[i % fields.len()];
                    let mut mask = if full { field.max_value() } else { mask };
                    if field == Field::TcpFlags {
                        // The verifier does not model TCP's three reserved bits.
                        mask &= 0x1ff;
                    }
                    DpAction::SetField { field, value, mask }
                })
                .collect();
            let mut h = Harness::new();
            let out = h.run(&acts, &frame).unwrap();
            prop_assert_eq!(out.len(), frame.len());
            if let Err(e) = verify_known(&out, &kind, vlan) {
                prop_assert!(false, "{} after {:?}", e, acts);
            }
            if !matches!(kind, Kind::Icmp4 | Kind::Icmp6) {
                if let Err(e) = verify(&out) {
                    prop_assert!(false, "etherparse: {} after {:?}", e, acts);
                }
            }
            if matches!(kind, Kind::Udp4NoCsum) {
                let at = if vlan { 44 } else { 40 };
                prop_assert_eq!(&out[at..at + 2], &[0u8, 0][..]);
            }
        }

        #[test]
        fn hostile_frames_never_panic(
            frame in proptest::collection::vec(any::<u8>(), 0..120),
            ops in proptest::collection::vec((0usize..16, any::<u128>(), any::<u128>(), 0usize..64), 0..8),
        ) {
            let acts: Vec<DpAction> = ops
                .iter()
                .map(|&(op, value, mask, fi)| match op {
                    0 => DpAction::PushVlan { tpid: ETH_VLAN, tci: 5 },
                    1 => DpAction::PopVlan,
                    2 => DpAction::PushMpls { ethertype: ETH_MPLS, lse: 0x1234_5140 },
                    3 => DpAction::PopMpls { ethertype: ETH_IPV4 },
                    4 => DpAction::PushPbb { isid: 7 },
                    5 => DpAction::PopPbb,
                    6 => DpAction::CopyTtlIn,
                    7 => DpAction::CopyTtlOut,
                    8 => DpAction::VxlanDecap,
                    9 => DpAction::VxlanEncap {
                        tunnel: TunnelMeta::default(),
                        eth_src: MAC_A,
                        eth_dst: MAC_B,
                        udp_csum: true,
                    },
                    10 => DpAction::Output(1),
                    _ => {
                        let field = Field::ALL[fi % Field::ALL.len()];
                        DpAction::SetField { field, value, mask }
                    }
                })
                .collect();
            let mut h = Harness::new();
            let _ = h.run(&acts, &frame);
        }
    }
}
