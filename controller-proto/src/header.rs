//! `ofp_header`, the OFPT_* message type numbers, and the small wire
//! helpers shared by the message modules (fixed-size NUL-padded strings).
//!
//! Every OpenFlow message starts with the same eight bytes: version, type,
//! total length (header included) and transaction id. The header is the
//! only thing the framer and the connection look at before a message is
//! decoded, so it is parsed on its own here, without knowing the body.

use std::fmt;

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::ofp_number;

/// The wire version of OpenFlow 1.3.
pub const OFP_VERSION: u8 = 0x04;

/// Length of `ofp_header`.
pub const OFP_HEADER_LEN: usize = 8;

/// The largest message the 16-bit length field can describe.
pub const OFP_MAX_MSG_LEN: usize = 0xffff;

ofp_number! {
    /// `ofp_type`: the message type in `ofp_header`.
    pub struct MsgType(u8) {
        OFPT_HELLO = 0,
        OFPT_ERROR = 1,
        OFPT_ECHO_REQUEST = 2,
        OFPT_ECHO_REPLY = 3,
        OFPT_EXPERIMENTER = 4,
        OFPT_FEATURES_REQUEST = 5,
        OFPT_FEATURES_REPLY = 6,
        OFPT_GET_CONFIG_REQUEST = 7,
        OFPT_GET_CONFIG_REPLY = 8,
        OFPT_SET_CONFIG = 9,
        OFPT_PACKET_IN = 10,
        OFPT_FLOW_REMOVED = 11,
        OFPT_PORT_STATUS = 12,
        OFPT_PACKET_OUT = 13,
        OFPT_FLOW_MOD = 14,
        OFPT_GROUP_MOD = 15,
        OFPT_PORT_MOD = 16,
        OFPT_TABLE_MOD = 17,
        OFPT_MULTIPART_REQUEST = 18,
        OFPT_MULTIPART_REPLY = 19,
        OFPT_BARRIER_REQUEST = 20,
        OFPT_BARRIER_REPLY = 21,
        OFPT_QUEUE_GET_CONFIG_REQUEST = 22,
        OFPT_QUEUE_GET_CONFIG_REPLY = 23,
        OFPT_ROLE_REQUEST = 24,
        OFPT_ROLE_REPLY = 25,
        OFPT_GET_ASYNC_REQUEST = 26,
        OFPT_GET_ASYNC_REPLY = 27,
        OFPT_SET_ASYNC = 28,
        OFPT_METER_MOD = 29,
    }
}

impl MsgType {
    /// The reply type a request of this type is answered with, if any.
    ///
    /// Requests without a reply (FLOW_MOD, ...) are only ever answered by an
    /// OFPT_ERROR, or implicitly by a later BARRIER_REPLY.
    pub fn reply_type(self) -> Option<MsgType> {
        Some(match self {
            Self::OFPT_ECHO_REQUEST => Self::OFPT_ECHO_REPLY,
            Self::OFPT_FEATURES_REQUEST => Self::OFPT_FEATURES_REPLY,
            Self::OFPT_GET_CONFIG_REQUEST => Self::OFPT_GET_CONFIG_REPLY,
            Self::OFPT_MULTIPART_REQUEST => Self::OFPT_MULTIPART_REPLY,
            Self::OFPT_BARRIER_REQUEST => Self::OFPT_BARRIER_REPLY,
            Self::OFPT_QUEUE_GET_CONFIG_REQUEST => Self::OFPT_QUEUE_GET_CONFIG_REPLY,
            Self::OFPT_ROLE_REQUEST => Self::OFPT_ROLE_REPLY,
            Self::OFPT_GET_ASYNC_REQUEST => Self::OFPT_GET_ASYNC_REPLY,
            _ => return None,
        })
    }

    /// True for the messages only a controller sends to a switch
    /// (controller-to-switch requests and commands).
    pub fn is_controller_to_switch(self) -> bool {
        matches!(
            self,
            Self::OFPT_FEATURES_REQUEST
                | Self::OFPT_GET_CONFIG_REQUEST
                | Self::OFPT_SET_CONFIG
                | Self::OFPT_PACKET_OUT
                | Self::OFPT_FLOW_MOD
                | Self::OFPT_GROUP_MOD
                | Self::OFPT_PORT_MOD
                | Self::OFPT_TABLE_MOD
                | Self::OFPT_MULTIPART_REQUEST
                | Self::OFPT_BARRIER_REQUEST
                | Self::OFPT_QUEUE_GET_CONFIG_REQUEST
                | Self::OFPT_ROLE_REQUEST
                | Self::OFPT_GET_ASYNC_REQUEST
                | Self::OFPT_SET_ASYNC
                | Self::OFPT_METER_MOD
        )
    }

    /// True for the messages only a switch sends to a controller (replies
    /// and asynchronous messages).
    pub fn is_switch_to_controller(self) -> bool {
        matches!(
            self,
            Self::OFPT_FEATURES_REPLY
                | Self::OFPT_GET_CONFIG_REPLY
                | Self::OFPT_PACKET_IN
                | Self::OFPT_FLOW_REMOVED
                | Self::OFPT_PORT_STATUS
                | Self::OFPT_MULTIPART_REPLY
                | Self::OFPT_BARRIER_REPLY
                | Self::OFPT_QUEUE_GET_CONFIG_REPLY
                | Self::OFPT_ROLE_REPLY
                | Self::OFPT_GET_ASYNC_REPLY
        )
    }
}

/// `ofp_header`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Header {
    /// Wire version (`OFP_VERSION` for every message this crate builds).
    pub version: u8,
    /// Message type.
    pub msg_type: MsgType,
    /// Total message length including this header.
    pub length: u16,
    /// Transaction id.
    pub xid: u32,
}

impl Header {
    /// A version-1.3 header.
    pub fn new(msg_type: MsgType, length: u16, xid: u32) -> Self {
        Self {
            version: OFP_VERSION,
            msg_type,
            length,
            xid,
        }
    }

    /// Reads a header from the first eight bytes of `bytes` (the rest is
    /// ignored). Fails with `OFPBRC_BAD_LEN` when fewer than eight bytes are
    /// present or the length field is below eight.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let h = Self::read(&mut r).ok_or(DecodeError::bad_len("header: truncated"))?;
        if usize::from(h.length) < OFP_HEADER_LEN {
            return Err(DecodeError::bad_len("header: length below 8"));
        }
        Ok(h)
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            version: r.u8()?,
            msg_type: MsgType(r.u8()?),
            length: r.u16()?,
            xid: r.u32()?,
        })
    }

    /// Appends the eight header bytes.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u8(self.version);
        w.put_u8(self.msg_type.0);
        w.put_u16(self.length);
        w.put_u32(self.xid);
    }
}

/// A fixed-size, NUL-padded string field (`char name[N]`), kept as its
/// exact bytes so that every decoded field re-encodes identically.
///
/// The text is the bytes up to the first NUL; [`FixedStr::new`] truncates to
/// `N - 1` bytes so a NUL terminator always remains, as the specification
/// requires of the strings it sends, while a peer's unterminated field is
/// still carried unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedStr<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedStr<N> {
    /// A field holding `s` (truncated to `N - 1` bytes), NUL-padded.
    pub fn new(s: &str) -> Self {
        let mut b = [0u8; N];
        let n = s.len().min(N.saturating_sub(1));
        if let (Some(dst), Some(src)) = (b.get_mut(..n), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
        }
        Self(b)
    }

    /// The bytes before the first NUL.
    pub fn bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&c| c == 0).unwrap_or(N);
        self.0.get(..end).unwrap_or(&[])
    }

    /// The text before the first NUL, with invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Reads `N` bytes.
    pub fn read(r: &mut Reader<'_>) -> Option<Self> {
        r.array::<N>().map(Self)
    }

    /// Writes the `N` bytes.
    pub fn write(&self, w: &mut Writer) {
        w.put_bytes(&self.0);
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// Maps "the reader ran out" to `OFPBRC_BAD_LEN` with a note.
pub(crate) trait OrBadLen<T> {
    /// `Ok(v)` or `OFPBRC_BAD_LEN` described by `what`.
    fn or_bad_len(self, what: &'static str) -> Result<T, DecodeError>;
}

impl<T> OrBadLen<T> for Option<T> {
    #[inline]
    fn or_bad_len(self, what: &'static str) -> Result<T, DecodeError> {
        self.ok_or(DecodeError::bad_len(what))
    }
}

/// Fails with `OFPBRC_BAD_LEN` unless `r` was read to its end.
pub(crate) fn expect_end(r: &Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::bad_len(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_reads_big_endian_fields() {
        let h = Header::decode(&[4, 14, 0, 56, 0x12, 0x34, 0x56, 0x78]).unwrap();
        assert_eq!(h, Header::new(MsgType::OFPT_FLOW_MOD, 56, 0x1234_5678));
        let mut w = Writer::new();
        h.encode(&mut w);
        assert_eq!(w.as_slice(), &[4, 14, 0, 56, 0x12, 0x34, 0x56, 0x78]);
    }

    #[test]
    fn rejects_truncated_header() {
        let e = Header::decode(&[4, 0, 0, 8, 0, 0, 0]).unwrap_err();
        assert_eq!(e.wire(), (1, 6));
    }

    #[test]
    fn rejects_header_length_below_eight() {
        assert!(Header::decode(&[4, 0, 0, 7, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn message_type_names_follow_the_specification() {
        assert_eq!(MsgType::OFPT_METER_MOD.to_string(), "OFPT_METER_MOD");
        assert_eq!(MsgType(30).to_string(), "0x1e");
        assert_eq!(MsgType::KNOWN.len(), 30);
        for (i, t) in MsgType::KNOWN.iter().enumerate() {
            assert_eq!(usize::from(t.0), i);
        }
    }

    #[test]
    fn every_reply_type_is_switch_to_controller_except_echo() {
        for t in MsgType::KNOWN {
            if let Some(r) = t.reply_type() {
                assert!(r.is_switch_to_controller() || r == MsgType::OFPT_ECHO_REPLY);
                assert!(!(t.is_controller_to_switch() && t.is_switch_to_controller()));
            }
        }
    }

    #[test]
    fn fixed_strings_keep_a_terminator_and_round_trip() {
        let s = FixedStr::<4>::new("abcdef");
        assert_eq!(s.0, *b"abc\0");
        assert_eq!(s.to_string_lossy(), "abc");
        let raw = FixedStr::<4>(*b"wxyz");
        assert_eq!(raw.bytes(), b"wxyz");
        assert_eq!(format!("{:?}", FixedStr::<8>::new("eth0")), "\"eth0\"");
    }

    proptest! {
        #[test]
        fn headers_round_trip(version: u8, ty: u8, length in 8u16.., xid: u32) {
            let h = Header { version, msg_type: MsgType(ty), length, xid };
            let mut w = Writer::new();
            h.encode(&mut w);
            prop_assert_eq!(Header::decode(w.as_slice()), Ok(h));
        }
    }
}
