//! OFPT_FLOW_REMOVED (§7.4.2): a flow entry with `OFPFF_SEND_FLOW_REM`
//! left its table; the message carries its final counters and its match.

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::ofp_number;
use crate::oxm::OfpMatch;

/// Bytes of the body before the match.
pub const FLOW_REMOVED_FIXED_LEN: usize = 40;

ofp_number! {
    /// `ofp_flow_removed_reason`.
    pub struct FlowRemovedReason(u8) {
        OFPRR_IDLE_TIMEOUT = 0,
        OFPRR_HARD_TIMEOUT = 1,
        OFPRR_DELETE = 2,
        OFPRR_GROUP_DELETE = 3,
    }
}

/// OFPT_FLOW_REMOVED.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowRemoved {
    /// The entry's cookie.
    pub cookie: u64,
    /// The entry's priority.
    pub priority: u16,
    /// Why it was removed.
    pub reason: FlowRemovedReason,
    /// Its table.
    pub table_id: u8,
    /// Seconds it was alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Its idle timeout.
    pub idle_timeout: u16,
    /// Its hard timeout.
    pub hard_timeout: u16,
    /// Packets it matched.
    pub packet_count: u64,
    /// Bytes it matched.
    pub byte_count: u64,
    /// Its match.
    pub match_: OfpMatch,
}

impl FlowRemoved {
    /// Decodes the body from `r`, consuming the fixed part and the match.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part; the match's decoding
    /// errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fixed = r
            .take(FLOW_REMOVED_FIXED_LEN)
            .ok_or(DecodeError::bad_len("flow_removed: truncated"))?;
        let mut f = Reader::new(fixed);
        // `fixed` has exactly the bytes read below.
        let cookie = f.u64().unwrap_or(0);
        let priority = f.u16().unwrap_or(0);
        let reason = FlowRemovedReason(f.u8().unwrap_or(0));
        let table_id = f.u8().unwrap_or(0);
        let duration_sec = f.u32().unwrap_or(0);
        let duration_nsec = f.u32().unwrap_or(0);
        let idle_timeout = f.u16().unwrap_or(0);
        let hard_timeout = f.u16().unwrap_or(0);
        let packet_count = f.u64().unwrap_or(0);
        let byte_count = f.u64().unwrap_or(0);
        let match_ = OfpMatch::decode(r)?;
        Ok(Self {
            cookie,
            priority,
            reason,
            table_id,
            duration_sec,
            duration_nsec,
            idle_timeout,
            hard_timeout,
            packet_count,
            byte_count,
            match_,
        })
    }

    /// Decodes a whole body; bytes after the match are an error.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), and `OFPBRC_BAD_LEN` for trailing bytes.
    pub fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let m = Self::decode(&mut r)?;
        if r.is_empty() {
            Ok(m)
        } else {
            Err(DecodeError::bad_len("flow_removed: bytes after the match"))
        }
    }

    /// Length of the encoded body.
    #[must_use]
    pub fn body_len(&self) -> usize {
        FLOW_REMOVED_FIXED_LEN + self.match_.encoded_len()
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.reserve(self.body_len());
        w.put_u64(self.cookie);
        w.put_u16(self.priority);
        w.put_u8(self.reason.0);
        w.put_u8(self.table_id);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        self.match_.encode(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::{check_golden, message};
    use crate::oxm::strategies::arb_match;
    use datapath::flow::Field;
    use proptest::prelude::*;

    fn enc(m: &FlowRemoved) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_inner()
    }

    fn arb_flow_removed() -> impl Strategy<Value = FlowRemoved> {
        (
            (any::<u64>(), any::<u16>(), any::<u8>(), any::<u8>()),
            (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()),
            (any::<u64>(), any::<u64>()),
            arb_match(),
        )
            .prop_map(
                |(
                    (cookie, priority, reason, table_id),
                    (duration_sec, duration_nsec, idle_timeout, hard_timeout),
                    (packet_count, byte_count),
                    match_,
                )| FlowRemoved {
                    cookie,
                    priority,
                    reason: FlowRemovedReason(reason),
                    table_id,
                    duration_sec,
                    duration_nsec,
                    idle_timeout,
                    hard_timeout,
                    packet_count,
                    byte_count,
                    match_,
                },
            )
    }

    #[test]
    fn layout_puts_counters_before_the_match() {
        let m = FlowRemoved {
            cookie: 1,
            priority: 2,
            reason: FlowRemovedReason::OFPRR_DELETE,
            table_id: 3,
            duration_sec: 4,
            duration_nsec: 5,
            idle_timeout: 6,
            hard_timeout: 7,
            packet_count: 8,
            byte_count: 9,
            match_: OfpMatch::catch_all(),
        };
        let b = enc(&m);
        assert_eq!(b.len(), 48);
        assert_eq!(&b[8..12], &[0, 2, 2, 3]);
        assert_eq!(&b[20..24], &[0, 6, 0, 7]);
        assert_eq!(&b[24..32], &[0, 0, 0, 0, 0, 0, 0, 8]);
        assert_eq!(FlowRemoved::decode_body(&b).unwrap(), m);
        assert_eq!(
            FlowRemoved::decode_body(&b[..30]).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn golden_flow_removed_on_idle_timeout() {
        let m = FlowRemoved {
            cookie: 0x99,
            priority: 1000,
            reason: FlowRemovedReason::OFPRR_IDLE_TIMEOUT,
            table_id: 4,
            duration_sec: 61,
            duration_nsec: 500_000_000,
            idle_timeout: 60,
            hard_timeout: 0,
            packet_count: 12,
            byte_count: 1200,
            match_: OfpMatch::catch_all()
                .exact(Field::EthType, 0x0800)
                .exact(Field::IpProto, 17)
                .exact(Field::UdpDst, 53),
        };
        let b = message(11, 0x30, |w| m.encode(w));
        check_golden("flow_removed", &b);
        assert_eq!(FlowRemoved::decode_body(&b[8..]).unwrap(), m);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(m in arb_flow_removed()) {
            let b = enc(&m);
            prop_assert_eq!(b.len(), m.body_len());
            let d = FlowRemoved::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &m);
            prop_assert_eq!(enc(&d), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = FlowRemoved::decode_body(&b);
        }
    }
}
