//! The switch side of PACKET_IN: the bounded, aged pool of buffered packets
//! that PACKET_OUT and FLOW_MOD may name by `buffer_id`, and the token
//! bucket that limits how many packet-ins per second reach the controllers.
//!
//! # Design
//!
//! Both are small synchronous structures the channel keeps behind a mutex:
//! they are touched once per packet-in (which is already the slow path) and
//! once per PACKET_OUT or FLOW_MOD naming a buffer, never by forwarding.
//! Time comes in as an argument (milliseconds of the channel's clock), so
//! both are deterministic under test.
//!
//! Buffer ids: slot `i` of `n` holds at most one packet; its id is
//! `i | (generation << 8)` where the generation moves every time the slot is
//! refilled, so a stale id never names a newer packet. A slot is reusable
//! once taken or older than the age limit. Looking an id up distinguishes
//! `OFPBRC_BUFFER_UNKNOWN` (never issued, or its slot now holds another
//! packet) from `OFPBRC_BUFFER_EMPTY` (issued, then used or aged out).

use datapath::ofproto::OFP_NO_BUFFER;

/// Default number of packet buffers (reported as `n_buffers`).
pub const DEFAULT_BUFFERS: usize = 256;
/// Default age after which a buffered packet is dropped, ms.
pub const DEFAULT_BUFFER_AGE_MS: u64 = 5_000;
/// Default packet-in rate limit, packets per second.
pub const DEFAULT_PACKET_IN_RATE: u32 = 1_000;
/// Default packet-in burst, packets.
pub const DEFAULT_PACKET_IN_BURST: u32 = 200;

/// A packet held for the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffered {
    /// The frame, whole.
    pub frame: Vec<u8>,
    /// The port it arrived on.
    pub in_port: u32,
}

#[derive(Debug, Default)]
struct Slot {
    /// Id last issued for this slot (None if never used).
    id: Option<u32>,
    packet: Option<Buffered>,
    stored_ms: u64,
    generation: u32,
}

/// Why a buffer id could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// `OFPBRC_BUFFER_UNKNOWN`: not an id this pool issued for what it holds.
    Unknown,
    /// `OFPBRC_BUFFER_EMPTY`: the packet was already used or aged out.
    Empty,
}

/// The pool of buffered packets.
#[derive(Debug)]
pub struct BufferPool {
    slots: Vec<Slot>,
    next: usize,
    max_age_ms: u64,
}

impl BufferPool {
    /// A pool of `n` buffers (at most 256: the slot is the id's low byte)
    /// whose packets age out after `max_age_ms`.
    pub fn new(n: usize, max_age_ms: u64) -> BufferPool {
        BufferPool {
            slots: (0..n.min(256)).map(|_| Slot::default()).collect(),
            next: 0,
            max_age_ms,
        }
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn usable(&self, s: &Slot, now_ms: u64) -> bool {
        s.packet.is_none() || now_ms.saturating_sub(s.stored_ms) >= self.max_age_ms
    }

    /// Stores a packet at `now_ms` and returns its id, or `None` when every
    /// buffer holds a packet younger than the age limit.
    pub fn store(&mut self, packet: Buffered, now_ms: u64) -> Option<u32> {
        let n = self.slots.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let usable = self.slots.get(i).is_some_and(|s| self.usable(s, now_ms));
            if !usable {
                continue;
            }
            let slot = self.slots.get_mut(i)?;
            slot.generation = (slot.generation + 1) & 0x00ff_ffff;
            let low = u32::try_from(i).ok()?;
            let mut id = low | (slot.generation << 8);
            if id == OFP_NO_BUFFER {
                slot.generation = 0;
                id = low;
            }
            slot.id = Some(id);
            slot.packet = Some(packet);
            slot.stored_ms = now_ms;
            self.next = (i + 1) % n;
            return Some(id);
        }
        None
    }

    /// Takes the packet with id `id` at `now_ms`.
    pub fn take(&mut self, id: u32, now_ms: u64) -> Result<Buffered, BufferError> {
        let max_age = self.max_age_ms;
        let slot = self
            .slots
            .get_mut((id & 0xff) as usize)
            .ok_or(BufferError::Unknown)?;
        if slot.id != Some(id) {
            return Err(BufferError::Unknown);
        }
        let fresh = now_ms.saturating_sub(slot.stored_ms) < max_age;
        match slot.packet.take() {
            Some(p) if fresh => Ok(p),
            _ => Err(BufferError::Empty),
        }
    }
}

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens in thousandths, to refill at millisecond resolution.
    milli_tokens: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket. A rate of 0 means unlimited.
    pub fn new(rate: u32, burst: u32, now_ms: u64) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket {
            rate,
            burst,
            milli_tokens: u64::from(burst) * 1000,
            last_ms: now_ms,
        }
    }

    /// Takes one token at `now_ms`; false when the bucket is empty.
    pub fn take(&mut self, now_ms: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        let cap = u64::from(self.burst) * 1000;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(self.rate)))
            .min(cap);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: u8) -> Buffered {
        Buffered {
            frame: vec![b; 60],
            in_port: 1,
        }
    }

    #[test]
    fn a_stored_packet_can_be_taken_once() {
        let mut p = BufferPool::new(4, 5_000);
        let id = p.store(pkt(1), 0).expect("room");
        assert_eq!(p.take(id, 10), Ok(pkt(1)));
        assert_eq!(p.take(id, 20), Err(BufferError::Empty));
    }

    #[test]
    fn ids_never_issued_are_unknown() {
        let mut p = BufferPool::new(4, 5_000);
        assert_eq!(p.take(3, 0), Err(BufferError::Unknown));
        assert_eq!(p.take(0x1234_5600, 0), Err(BufferError::Unknown));
        assert_eq!(p.take(OFP_NO_BUFFER, 0), Err(BufferError::Unknown));
    }

    #[test]
    fn a_full_pool_refuses_until_a_packet_ages_out() {
        let mut p = BufferPool::new(2, 1_000);
        let a = p.store(pkt(1), 0).expect("a");
        let _b = p.store(pkt(2), 0).expect("b");
        assert!(p.store(pkt(3), 500).is_none());
        let c = p.store(pkt(3), 1_000).expect("aged slot reused");
        assert_ne!(a, c);
        assert_eq!(p.take(a, 1_000), Err(BufferError::Unknown));
        assert_eq!(p.take(c, 1_001), Ok(pkt(3)));
    }

    #[test]
    fn an_aged_packet_is_empty_not_delivered() {
        let mut p = BufferPool::new(2, 1_000);
        let a = p.store(pkt(1), 0).expect("a");
        assert_eq!(p.take(a, 1_500), Err(BufferError::Empty));
    }

    #[test]
    fn the_bucket_allows_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(10, 5, 0);
        assert_eq!((0..20).filter(|_| b.take(0)).count(), 5);
        assert!(!b.take(50));
        assert!(b.take(100));
        assert_eq!((0..20).filter(|_| b.take(1_100)).count(), 5);
    }

    #[test]
    fn a_zero_rate_bucket_never_limits() {
        let mut b = TokenBucket::new(0, 0, 0);
        assert!((0..10_000).all(|_| b.take(0)));
    }
}
