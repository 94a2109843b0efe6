//! The packet buffer the datapath works on: one frame with headroom in front,
//! so that pushing VLAN or MPLS headers and VXLAN encapsulation never move the
//! payload or allocate, plus the per-packet metadata that is not in the frame
//! (ingress port, tunnel metadata of a decapsulated packet).
//!
//! Buffers are allocated once by the port layer and reused batch after batch;
//! nothing on the hit path allocates.

/// Bytes reserved in front of a received frame for header pushes.
pub const DEFAULT_HEADROOM: usize = 128;
/// Default capacity of a buffer (headroom plus the largest non-GSO frame).
pub const DEFAULT_CAPACITY: usize = DEFAULT_HEADROOM + 9216;
/// The largest batch the datapath processes at once.
pub const BATCH_SIZE: usize = 32;

/// Metadata of a packet that travels beside the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// OpenFlow ingress port.
    pub in_port: u32,
    /// Tunnel metadata of a decapsulated packet (`tun_flags` has
    /// `tun_flags::PRESENT` when valid).
    pub tunnel: TunnelMeta,
    /// Queue id chosen by `set_queue`.
    pub queue_id: u32,
    /// Offload state of the frame as the port received it (segmentation
    /// still to do, checksum still to finish); the port layer reads it back
    /// when sending.
    pub offload: OffloadMeta,
}

/// What a virtio-net header says about a frame: a large segment the kernel
/// (or the port layer) still has to cut (`gso_type`, `gso_size`) and a
/// checksum still to finish (`flags` with `NEEDS_CSUM`, from `csum_start`,
/// stored at `csum_start + csum_offset`). All zero for an ordinary frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadMeta {
    /// `VIRTIO_NET_HDR_F_*` flags.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` type; 0 for none.
    pub gso_type: u8,
    /// Bytes of headers (a hint).
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts, from the start of the frame.
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl OffloadMeta {
    /// Whether there is nothing left to do for the frame.
    #[inline]
    pub fn is_none(&self) -> bool {
        self.flags & 1 == 0 && self.gso_type == 0
    }
}

/// Outer-header facts of a packet received through a tunnel, or to use when
/// encapsulating one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelMeta {
    /// VNI / tunnel id.
    pub tunnel_id: u64,
    /// Outer IPv4 source.
    pub ipv4_src: u32,
    /// Outer IPv4 destination.
    pub ipv4_dst: u32,
    /// Outer TOS.
    pub tos: u8,
    /// Outer TTL.
    pub ttl: u8,
    /// `crate::flow::tun_flags` bits.
    pub flags: u16,
    /// Outer UDP destination port.
    pub tp_dst: u16,
}

/// One frame in a reusable buffer with headroom.
#[derive(Clone, Debug)]
pub struct Packet {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Metadata beside the frame.
    pub meta: PacketMeta,
}

impl Packet {
    /// An empty packet with `capacity` bytes of which `headroom` come first.
    pub fn with_capacity(capacity: usize, headroom: usize) -> Packet {
        let headroom = headroom.min(capacity);
        Packet {
            buf: vec![0u8; capacity].into_boxed_slice(),
            start: headroom,
            end: headroom,
            meta: PacketMeta::default(),
        }
    }

    /// A packet holding a copy of `frame`, with the default headroom.
    pub fn from_frame(frame: &[u8]) -> Packet {
        let mut p = Packet::with_capacity(DEFAULT_HEADROOM + frame.len().max(64), DEFAULT_HEADROOM);
        p.set_frame(frame);
        p
    }

    /// Replaces the contents with `frame` (truncated to what fits after the
    /// default headroom) and resets the metadata.
    pub fn set_frame(&mut self, frame: &[u8]) {
        let headroom = DEFAULT_HEADROOM.min(self.buf.len());
        let n = frame.len().min(self.buf.len() - headroom);
        self.buf[headroom..headroom + n].copy_from_slice(&frame[..n]);
        self.start = headroom;
        self.end = headroom + n;
        self.meta = PacketMeta::default();
    }

    /// Resets to an empty frame at `headroom`, keeping the allocation, and
    /// returns the writable area behind it (for a port to receive into).
    pub fn reset_for_rx(&mut self, headroom: usize) -> &mut [u8] {
        let headroom = headroom.min(self.buf.len());
        self.start = headroom;
        self.end = headroom;
        self.meta = PacketMeta::default();
        &mut self.buf[headroom..]
    }

    /// Sets the frame length after a port wrote into `reset_for_rx`'s area.
    pub fn set_len(&mut self, len: usize) {
        self.end = (self.start + len).min(self.buf.len());
    }

    /// The frame.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The frame, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Frame length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the frame is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// Free bytes in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Grows the frame by `n` bytes at the front and returns the frame, or
    /// `None` when the headroom is too small.
    #[inline]
    pub fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        Some(&mut self.buf[self.start..self.end])
    }

    /// Removes `n` bytes from the front; `false` when the frame is shorter.
    #[inline]
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n;
        true
    }

    /// Inserts `n` bytes at `offset` (moving the bytes before it to the
    /// front) and returns the frame; `None` when headroom or `offset` do not allow it.
    pub fn insert_at(&mut self, offset: usize, n: usize) -> Option<&mut [u8]> {
        if n > self.start || offset > self.len() {
            return None;
        }
        let old = self.start;
        self.start -= n;
        self.buf.copy_within(old..old + offset, self.start);
        Some(&mut self.buf[self.start..self.end])
    }

    /// Removes `n` bytes at `offset` (moving the bytes before it backwards);
    /// `false` when out of range.
    pub fn remove_at(&mut self, offset: usize, n: usize) -> bool {
        if offset.checked_add(n).is_none_or(|e| e > self.len()) {
            return false;
        }
        self.buf
            .copy_within(self.start..self.start + offset, self.start + n);
        self.start += n;
        true
    }

    /// Shortens the frame to `len` bytes (no-op when already shorter).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_remove_keep_the_bytes_around_them() {
        let mut p = Packet::from_frame(&[1, 2, 3, 4, 5, 6]);
        let f = p.insert_at(2, 2).unwrap();
        f[2] = 9;
        f[3] = 9;
        assert_eq!(p.data(), &[1, 2, 9, 9, 3, 4, 5, 6]);
        assert!(p.remove_at(2, 2));
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert!(!p.remove_at(5, 2));
    }

    #[test]
    fn push_front_fails_without_headroom() {
        let mut p = Packet::with_capacity(70, 4);
        p.set_len(10);
        assert!(p.push_front(4).is_some());
        assert!(p.push_front(1).is_none());
        assert!(p.pull_front(4));
    }
}
