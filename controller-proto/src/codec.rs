//! Byte-level primitives every OpenFlow structure is read and written with.
//!
//! OpenFlow is big-endian, length-prefixed and padded to 8 bytes. Decoding
//! runs over a [`Reader`], a cursor over a borrowed slice whose every read
//! returns `None` instead of panicking when the input is short, so hostile
//! bytes can never index out of bounds. A structure with its own length field
//! is decoded by cutting a [`Reader::sub`] of exactly that length and handing
//! it to the structure's decoder: a field can then never read into its
//! neighbour, and "bytes left over" is just `!sub.is_empty()`.
//!
//! Encoding appends to a [`Writer`] over a `Vec<u8>`. Length fields that
//! precede their content are written as zero, remembered with
//! [`Writer::start_len_u16`], and patched by [`Writer::finish_len`] once the
//! content is written, so encoders never compute a length twice.
//!
//! Every decoding failure is a [`DecodeError`] that already names the
//! OpenFlow error `(type, code)` to send back, so the connection layer answers
//! a malformed message without translating error kinds.

use crate::error::{BadRequestCode, ErrorType};

/// The OpenFlow error a decoding failure maps to, ready to go on the wire.
///
/// `err_type` is an `OFPET_*` value and `code` the matching `OFP*C_*` code.
/// `what` is a short static description for logs; it is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{what} (OpenFlow error type {err_type}, code {code})")]
pub struct DecodeError {
    /// The `OFPET_*` error type.
    pub err_type: u16,
    /// The code within `err_type`.
    pub code: u16,
    /// What went wrong, for logs.
    pub what: &'static str,
}

impl DecodeError {
    /// An error of `OpenFlow` type `err_type` with `code`.
    #[must_use]
    pub const fn new(err_type: u16, code: u16, what: &'static str) -> Self {
        Self {
            err_type,
            code,
            what,
        }
    }

    /// `OFPET_BAD_REQUEST` / `OFPBRC_BAD_LEN`: a length field or the bytes
    /// available disagree with the structure.
    #[must_use]
    pub const fn bad_len(what: &'static str) -> Self {
        Self::new(
            ErrorType::OFPET_BAD_REQUEST.0,
            BadRequestCode::OFPBRC_BAD_LEN.0,
            what,
        )
    }

    /// The `(type, code)` pair as it goes into an `ofp_error_msg`.
    #[must_use]
    pub const fn wire(&self) -> (u16, u16) {
        (self.err_type, self.code)
    }
}

/// A cursor over a byte slice; every read is bounds-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    #[must_use]
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Takes the next `n` bytes, or `None` (consuming nothing) if fewer remain.
    #[inline]
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// Takes the next `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Some(a)
    }

    /// A reader over the next `n` bytes, consumed from this one.
    #[inline]
    pub fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// Reads a big-endian `u16`.
    #[inline]
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `u32`.
    #[inline]
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `u64`.
    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// Skips `n` padding bytes (their content is ignored, as the spec says).
    #[inline]
    pub fn skip_padding(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// The next `n` bytes without consuming them.
    #[inline]
    #[must_use]
    pub fn peek(&self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        self.buf.get(self.pos..end)
    }

    /// The big-endian `u16` at `off` bytes ahead, without consuming.
    #[inline]
    #[must_use]
    pub fn peek_u16_at(&self, off: usize) -> Option<u16> {
        let start = self.pos.checked_add(off)?;
        let b = self.buf.get(start..start.checked_add(2)?)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Number of bytes not yet read.
    #[inline]
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Number of bytes already read.
    #[inline]
    #[must_use]
    pub fn used(&self) -> usize {
        self.pos
    }

    /// Consumes and returns everything not yet read.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    /// True when every byte has been read.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// A pending `u16` length field, patched by [`Writer::finish_len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a length mark must be finished"]
pub struct LenMark {
    /// Where the structure (whose length is counted) starts.
    start: usize,
    /// Where the two length bytes are.
    at: usize,
}

/// An appending big-endian writer over a `Vec<u8>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    #[must_use]
    pub const fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// A writer appending to `buf` (whose existing bytes are kept).
    #[must_use]
    pub const fn from_vec(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// Appends one byte.
    #[inline]
    pub fn put_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a big-endian `u16`.
    #[inline]
    pub fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends a big-endian `u32`.
    #[inline]
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends a big-endian `u64`.
    #[inline]
    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends raw bytes.
    #[inline]
    pub fn put_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Appends `n` zero bytes.
    #[inline]
    pub fn put_zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Bytes written so far (including any the writer started with).
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing has been written.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reserves room for `n` more bytes.
    #[inline]
    pub fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    /// Marks a structure starting here whose `u16` length field lies
    /// `offset` bytes into it. The field must be written (as anything,
    /// conventionally zero) before [`finish_len`](Self::finish_len).
    #[inline]
    pub fn start_len_u16(&mut self, offset: usize) -> LenMark {
        let start = self.buf.len();
        LenMark {
            start,
            at: start + offset,
        }
    }

    /// Patches the length field of `mark` with the bytes written since the
    /// structure started, and returns that length.
    ///
    /// Lengths above `u16::MAX` are written as `u16::MAX` saturated; encoders
    /// that can produce such sizes check [`len`](Self::len) beforehand (the
    /// spec's messages are bounded by the 16-bit header length anyway).
    pub fn finish_len(&mut self, mark: LenMark) -> usize {
        let len = self.buf.len() - mark.start;
        let v = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(slot) = self.buf.get_mut(mark.at..mark.at + 2) {
            slot.copy_from_slice(&v);
        }
        len
    }

    /// Appends zeros until the length written since `start` is a multiple
    /// of `align` (a power of two, 8 for OpenFlow).
    #[inline]
    pub fn pad_from(&mut self, start: usize, align: usize) {
        let n = self.buf.len() - start;
        self.put_zeros(n.next_multiple_of(align) - n);
    }

    /// Appends zeros until the whole buffer's length is a multiple of `align`.
    #[inline]
    pub fn pad_to(&mut self, align: usize) {
        self.pad_from(0, align);
    }

    /// The bytes written.
    #[inline]
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Mutable access to the bytes written (for patching fixed offsets).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Consumes the writer, returning its buffer.
    #[inline]
    #[must_use]
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Rounds `n` up to the next multiple of 8, the OpenFlow alignment.
#[inline]
#[must_use]
pub const fn pad8(n: usize) -> usize {
    n.next_multiple_of(8)
}

/// Helpers for tests of the message modules: framing a body as a whole
/// OpenFlow 1.3 message and checking it against the golden corpus.
#[cfg(test)]
pub(crate) mod testutil {
    use super::Writer;
    use std::path::PathBuf;

    /// A whole message: the 8-byte header (version 0x04, `msg_type`,
    /// length, `xid`) followed by the body `body` writes.
    pub fn message(msg_type: u8, xid: u32, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        let mark = w.start_len_u16(2);
        w.put_u8(0x04);
        w.put_u8(msg_type);
        w.put_u16(0);
        w.put_u32(xid);
        body(&mut w);
        w.finish_len(mark);
        w.into_inner()
    }

    /// A multipart request (`msg_type` 18) or reply (19) of `mp_type`.
    pub fn multipart(
        msg_type: u8,
        xid: u32,
        mp_type: u16,
        flags: u16,
        body: impl FnOnce(&mut Writer),
    ) -> Vec<u8> {
        message(msg_type, xid, |w| {
            w.put_u16(mp_type);
            w.put_u16(flags);
            w.put_zeros(4);
            body(w);
        })
    }

    /// Lowercase hex without separators.
    pub fn hex(b: &[u8]) -> String {
        use std::fmt::Write as _;
        b.iter()
            .fold(String::with_capacity(2 * b.len()), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            })
    }

    /// Bytes of a hex string (whitespace ignored).
    pub fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("not a hex digit: {c}"),
            })
            .collect();
        digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
    }

    fn corpus() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
    }

    const OVS_OFCTL: &str = "/usr/bin/ovs-ofctl";

    /// Checks `bytes` against the golden vector `name`: the corpus holds
    /// `name.hex` (the message in hex, one line) and `name.txt` (what
    /// `ovs-ofctl ofp-print` prints for it). The hex must equal `bytes`;
    /// when `ovs-ofctl` is installed its output must equal the text.
    ///
    /// With `UPDATE_GOLDEN=1` in the environment both files are written
    /// instead (the text from `ovs-ofctl`), to be reviewed by hand.
    pub fn check_golden(name: &str, bytes: &[u8]) {
        let dir = corpus();
        let hex_path = dir.join(format!("{name}.hex"));
        let txt_path = dir.join(format!("{name}.txt"));
        let have_ofctl = std::path::Path::new(OVS_OFCTL).exists();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&hex_path, format!("{}\n", hex(bytes))).unwrap();
            if have_ofctl {
                std::fs::write(&txt_path, ofp_print(bytes)).unwrap();
            }
            return;
        }
        let want = std::fs::read_to_string(&hex_path)
            .unwrap_or_else(|e| panic!("{}: {e}", hex_path.display()));
        assert_eq!(
            unhex(&want),
            bytes,
            "{name}: encoding differs from the corpus"
        );
        if have_ofctl {
            let text = std::fs::read_to_string(&txt_path)
                .unwrap_or_else(|e| panic!("{}: {e}", txt_path.display()));
            assert_eq!(ofp_print(bytes), text, "{name}: ovs-ofctl prints otherwise");
        }
    }

    /// What `ovs-ofctl ofp-print` prints for `bytes`.
    pub fn ofp_print(bytes: &[u8]) -> String {
        let out = std::process::Command::new(OVS_OFCTL)
            .arg("ofp-print")
            .arg(hex(bytes))
            .output()
            .unwrap();
        assert!(out.status.success(), "ovs-ofctl failed");
        String::from_utf8(out.stdout).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_big_endian_integers_in_order() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(0x0203));
        assert_eq!(r.u32(), Some(0x0405_0607));
        assert_eq!(r.u64(), Some(0x0809_0a0b_0c0d_0e0f));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
    }

    #[test]
    fn short_reads_fail_without_consuming() {
        let bytes = [1, 2, 3];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u32(), None);
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.take(4), None);
        assert_eq!(r.sub(usize::MAX), None);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.rest(), &[3]);
        assert!(r.is_empty());
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn sub_reader_is_confined_to_its_length() {
        let bytes = [0, 1, 2, 3, 4];
        let mut r = Reader::new(&bytes);
        let mut s = r.sub(2).unwrap();
        assert_eq!(s.u16(), Some(1));
        assert_eq!(s.u8(), None);
        assert_eq!(r.used(), 2);
        assert_eq!(r.peek_u16_at(1), Some(0x0304));
        assert_eq!(r.peek_u16_at(2), None);
        assert!(r.skip_padding(3).is_some());
        assert!(r.is_empty());
    }

    #[test]
    fn length_mark_patches_the_structure_length() {
        let mut w = Writer::new();
        w.put_u32(0xdead_beef);
        let m = w.start_len_u16(2);
        w.put_u16(1);
        w.put_u16(0);
        w.put_bytes(&[9, 9, 9]);
        assert_eq!(w.finish_len(m), 7);
        w.pad_from(4, 8);
        assert_eq!(
            w.as_slice(),
            &[0xde, 0xad, 0xbe, 0xef, 0, 1, 0, 7, 9, 9, 9, 0]
        );
        w.pad_to(8);
        assert_eq!(w.len(), 16);
    }

    #[test]
    fn bad_len_maps_to_bad_request_bad_len() {
        assert_eq!(DecodeError::bad_len("x").wire(), (1, 6));
    }

    proptest! {
        #[test]
        fn written_integers_read_back(a: u8, b: u16, c: u32, d: u64) {
            let mut w = Writer::new();
            w.put_u8(a);
            w.put_u16(b);
            w.put_u32(c);
            w.put_u64(d);
            let bytes = w.into_inner();
            let mut r = Reader::new(&bytes);
            prop_assert_eq!(r.u8(), Some(a));
            prop_assert_eq!(r.u16(), Some(b));
            prop_assert_eq!(r.u32(), Some(c));
            prop_assert_eq!(r.u64(), Some(d));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn reader_never_panics_on_any_sequence(bytes in proptest::collection::vec(any::<u8>(), 0..32),
                                               ops in proptest::collection::vec(0u8..8, 0..32)) {
            let mut r = Reader::new(&bytes);
            for op in ops {
                match op {
                    0 => { let _ = r.u8(); }
                    1 => { let _ = r.u16(); }
                    2 => { let _ = r.u32(); }
                    3 => { let _ = r.u64(); }
                    4 => { let _ = r.take(3); }
                    5 => { let _ = r.sub(5); }
                    6 => { let _ = r.peek_u16_at(7); }
                    _ => { let _ = r.skip_padding(2); }
                }
                prop_assert!(r.used() <= bytes.len());
            }
        }
    }
}
