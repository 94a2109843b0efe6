//! Splitting a TCP byte stream into OpenFlow messages.
//!
//! # Design
//!
//! Every OpenFlow message announces its own length in bytes 2..4 of its
//! header, header included, so framing needs no knowledge of the body: a
//! frame is complete once `length` bytes are buffered. In tokio-util's
//! `LengthDelimitedCodec` terms that is a big-endian 2-byte length field at
//! offset 2, adjusted by −4 (it counts the whole frame), with nothing
//! skipped and a maximum frame of 65,535 bytes; [`LENGTH_FIELD_OFFSET`] and
//! friends state those parameters, and [`frame_len`] is the same rule as a
//! function, usable from any decoder.
//!
//! Invariants:
//!
//! * Buffering is bounded: the [`Framer`] owns one fixed buffer of
//!   [`FRAMER_CAPACITY`] bytes (the largest message), allocated once, and
//!   accepts input only into its free space. A peer cannot make it grow.
//! * A length below 8 can never become a valid frame, and the stream has
//!   lost its framing once one is seen; the framer then reports
//!   [`FrameError::BadLength`] on every later call instead of waiting
//!   (which would hang) or guessing where the next message starts.
//! * No I/O: bytes go in with [`Framer::fill`] (or are read directly into
//!   [`Framer::spare`] and [`Framer::commit`]ted) and frames come out of
//!   [`Framer::next_frame`] as borrowed slices.

use crate::header::{OFP_HEADER_LEN, OFP_MAX_MSG_LEN};

/// Offset of the length field in the header.
pub const LENGTH_FIELD_OFFSET: usize = 2;
/// Size of the length field.
pub const LENGTH_FIELD_LEN: usize = 2;
/// What to add to the length field to get the bytes after it.
pub const LENGTH_ADJUSTMENT: isize = -4;
/// The framer's buffer: exactly one maximal message.
pub const FRAMER_CAPACITY: usize = OFP_MAX_MSG_LEN;

/// The stream cannot be framed any further.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum FrameError {
    /// A header announced a length below the 8-byte header itself.
    #[error("message length {0} is below the 8-byte header")]
    BadLength(u16),
}

/// The length of the frame starting at `buf[0]`, once enough of its header
/// is present: `Ok(None)` while fewer than 4 bytes are available,
/// `Ok(Some(n))` with `8 <= n <= 65535` otherwise, or an error for a length
/// below 8.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(field) = buf.get(LENGTH_FIELD_OFFSET..LENGTH_FIELD_OFFSET + LENGTH_FIELD_LEN) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([field[0], field[1]]);
    if usize::from(len) < OFP_HEADER_LEN {
        return Err(FrameError::BadLength(len));
    }
    Ok(Some(usize::from(len)))
}

/// A bounded stream framer. See the module documentation.
#[derive(Debug)]
pub struct Framer {
    buf: Box<[u8]>,
    /// Start of unconsumed data.
    start: usize,
    /// End of valid data.
    end: usize,
    failed: Option<FrameError>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// An empty framer with its one fixed buffer.
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; FRAMER_CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
            failed: None,
        }
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Moves unconsumed bytes to the front so the free space is contiguous.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// The free space input can be written into directly; follow with
    /// [`commit`](Self::commit). Empty only when a whole maximal message is
    /// buffered, which [`next_frame`](Self::next_frame) will then return.
    pub fn spare(&mut self) -> &mut [u8] {
        self.compact();
        self.buf.get_mut(self.end..).unwrap_or(&mut [])
    }

    /// Marks `n` bytes written into [`spare`](Self::spare) as input.
    /// `n` is clamped to the free space.
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies as much of `data` as fits into the buffer and returns how many
    /// bytes were taken; the caller keeps the rest for after the buffered
    /// frames have been taken with [`next_frame`](Self::next_frame).
    pub fn fill(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(data.len());
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.commit(n);
        n
    }

    /// The next complete frame, if one is buffered. Once the stream has lost
    /// its framing every call returns the error.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let avail = self.buf.get(self.start..self.end).unwrap_or(&[]);
        let len = match frame_len(avail) {
            Ok(Some(len)) if len <= avail.len() => len,
            Ok(_) => return Ok(None),
            Err(e) => {
                self.failed = Some(e);
                return Err(e);
            }
        };
        let at = self.start;
        self.start += len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(self.buf.get(at..at + len))
    }

    /// Feeds all of `data`, calling `on_frame` with every frame completed.
    /// Stops at the first framing error.
    pub fn push(
        &mut self,
        mut data: &[u8],
        mut on_frame: impl FnMut(&[u8]),
    ) -> Result<(), FrameError> {
        loop {
            let n = self.fill(data);
            data = data.get(n..).unwrap_or(&[]);
            while let Some(frame) = self.next_frame()? {
                on_frame(frame);
            }
            if data.is_empty() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(len: u16, fill: u8) -> Vec<u8> {
        let mut v = vec![fill; usize::from(len)];
        v[0] = 4;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v
    }

    fn frames(f: &mut Framer, data: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut out = Vec::new();
        f.push(data, |fr| out.push(fr.to_vec()))?;
        Ok(out)
    }

    #[test]
    fn splits_back_to_back_messages() {
        let mut f = Framer::new();
        let a = msg(8, 1);
        let b = msg(20, 2);
        let stream = [a.clone(), b.clone()].concat();
        assert_eq!(frames(&mut f, &stream), Ok(vec![a, b]));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn waits_for_the_rest_of_a_partial_message() {
        let mut f = Framer::new();
        let a = msg(100, 7);
        assert_eq!(frames(&mut f, &a[..3]), Ok(vec![]));
        assert_eq!(frames(&mut f, &a[3..60]), Ok(vec![]));
        assert_eq!(frames(&mut f, &a[60..]), Ok(vec![a]));
    }

    #[test]
    fn length_below_header_is_an_error_not_a_hang() {
        let mut f = Framer::new();
        assert_eq!(
            frames(&mut f, &[4, 0, 0, 3, 0, 0, 0, 0]),
            Err(FrameError::BadLength(3))
        );
        assert_eq!(f.next_frame(), Err(FrameError::BadLength(3)));
        assert_eq!(frames(&mut f, &msg(8, 0)), Err(FrameError::BadLength(3)));
    }

    #[test]
    fn maximal_message_fits_and_buffer_never_grows() {
        let mut f = Framer::new();
        let big = msg(0xffff, 9);
        let stream = [big.clone(), msg(8, 1), big.clone()].concat();
        let got = frames(&mut f, &stream).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], big);
        assert_eq!(got[2], big);
        assert_eq!(f.buf.len(), FRAMER_CAPACITY);
    }

    #[test]
    fn fill_takes_only_free_space() {
        let mut f = Framer::new();
        let data = vec![0u8; FRAMER_CAPACITY + 10];
        assert_eq!(f.fill(&data), FRAMER_CAPACITY);
        assert_eq!(f.fill(&data), 0);
    }

    #[test]
    fn spare_and_commit_feed_the_framer_directly() {
        let mut f = Framer::new();
        let a = msg(12, 5);
        f.spare()[..12].copy_from_slice(&a);
        f.commit(12);
        assert_eq!(f.next_frame(), Ok(Some(&a[..])));
        assert_eq!(f.next_frame(), Ok(None));
    }

    #[test]
    fn frame_len_needs_four_bytes() {
        assert_eq!(frame_len(&[4, 0, 0]), Ok(None));
        assert_eq!(frame_len(&[4, 0, 1, 0]), Ok(Some(256)));
        assert_eq!(frame_len(&[4, 0, 0, 0]), Err(FrameError::BadLength(0)));
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_frames(lens in proptest::collection::vec(8u16..300, 1..20),
                                               cuts in proptest::collection::vec(1usize..500, 1..40)) {
            let msgs: Vec<Vec<u8>> = lens.iter().enumerate()
                .map(|(i, &l)| msg(l, u8::try_from(i % 256).unwrap())).collect();
            let stream = msgs.concat();
            let mut f = Framer::new();
            let mut out = Vec::new();
            let mut rest = &stream[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                f.push(&rest[..n], |fr| out.push(fr.to_vec())).unwrap();
                rest = &rest[n..];
                i += 1;
            }
            prop_assert_eq!(out, msgs);
        }
    }
}
