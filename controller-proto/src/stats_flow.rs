//! Multipart bodies about flows and groups (§7.3.5.2 – §7.3.5.7): FLOW and
//! AGGREGATE requests and replies, GROUP and GROUP_DESC requests and replies.
//!
//! These are the bodies after the `ofp_multipart_request`/`_reply` header
//! (type, flags, padding), which the message layer handles. A reply body is
//! a sequence of length-prefixed entries; each entry is decoded from a
//! sub-reader of exactly its length, so one entry can never read into the
//! next, and a length that does not fit is `OFPBRC_BAD_LEN`.

use crate::codec::{DecodeError, Reader, Writer};
use crate::group_mod::{buckets_len, decode_buckets, encode_buckets, Bucket, GroupType};
use crate::instruction::{decode_instructions, encode_instructions, instructions_len, Instruction};
use crate::oxm::OfpMatch;

/// `OFPMP_FLOW`.
pub const OFPMP_FLOW: u16 = 1;
/// `OFPMP_AGGREGATE`.
pub const OFPMP_AGGREGATE: u16 = 2;
/// `OFPMP_GROUP`.
pub const OFPMP_GROUP: u16 = 6;
/// `OFPMP_GROUP_DESC`.
pub const OFPMP_GROUP_DESC: u16 = 7;

/// Bytes of a flow stats request before its match.
pub const FLOW_STATS_REQUEST_FIXED_LEN: usize = 32;
/// Bytes of an `ofp_flow_stats` entry before its match.
pub const FLOW_STATS_FIXED_LEN: usize = 48;
/// Bytes of an aggregate stats reply.
pub const AGGREGATE_STATS_REPLY_LEN: usize = 24;
/// Bytes of a group stats request.
pub const GROUP_STATS_REQUEST_LEN: usize = 8;
/// Bytes of an `ofp_group_stats` entry before its bucket counters.
pub const GROUP_STATS_FIXED_LEN: usize = 40;
/// Bytes of one `ofp_bucket_counter`.
pub const BUCKET_COUNTER_LEN: usize = 16;
/// Bytes of an `ofp_group_desc` entry before its buckets.
pub const GROUP_DESC_FIXED_LEN: usize = 8;

fn short(what: &'static str) -> DecodeError {
    DecodeError::bad_len(what)
}

/// Reads a length-prefixed entry: the `u16` length at `at` bytes into the
/// entry, which must be at least `min` and fit in `r`.
fn entry<'a>(
    r: &mut Reader<'a>,
    at: usize,
    min: usize,
    what: &'static str,
) -> Result<Reader<'a>, DecodeError> {
    let len = usize::from(r.peek_u16_at(at).ok_or(short(what))?);
    if len < min {
        return Err(short(what));
    }
    r.sub(len).ok_or(short(what))
}

/// `ofp_flow_stats_request`, also the body of an AGGREGATE request
/// (`ofp_aggregate_stats_request` has the same layout).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowStatsRequest {
    /// Table to read, or `OFPTT_ALL`.
    pub table_id: u8,
    /// Entries must output to this port (`OFPP_ANY`: any).
    pub out_port: u32,
    /// Entries must output to this group (`OFPG_ANY`: any).
    pub out_group: u32,
    /// Cookie value the entries must have under `cookie_mask`.
    pub cookie: u64,
    /// Cookie bits that must match (0: none).
    pub cookie_mask: u64,
    /// Entries must be matched by (be a subset of) this match.
    pub match_: OfpMatch,
}

/// The AGGREGATE request body: the same fields as a flow stats request.
pub type AggregateStatsRequest = FlowStatsRequest;

impl FlowStatsRequest {
    /// Decodes the body from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part; the match's errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fixed = r
            .take(FLOW_STATS_REQUEST_FIXED_LEN)
            .ok_or(short("flow stats request: truncated"))?;
        let mut f = Reader::new(fixed);
        // `fixed` has exactly the bytes read below.
        let table_id = f.u8().unwrap_or(0);
        let _ = f.skip_padding(3);
        let out_port = f.u32().unwrap_or(0);
        let out_group = f.u32().unwrap_or(0);
        let _ = f.skip_padding(4);
        let cookie = f.u64().unwrap_or(0);
        let cookie_mask = f.u64().unwrap_or(0);
        let match_ = OfpMatch::decode(r)?;
        Ok(Self {
            table_id,
            out_port,
            out_group,
            cookie,
            cookie_mask,
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
            Err(short("flow stats request: bytes after the match"))
        }
    }

    /// Length of the encoded body.
    #[must_use]
    pub fn body_len(&self) -> usize {
        FLOW_STATS_REQUEST_FIXED_LEN + self.match_.encoded_len()
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u8(self.table_id);
        w.put_zeros(3);
        w.put_u32(self.out_port);
        w.put_u32(self.out_group);
        w.put_zeros(4);
        w.put_u64(self.cookie);
        w.put_u64(self.cookie_mask);
        self.match_.encode(w);
    }
}

/// `ofp_flow_stats`: one flow entry in a FLOW reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowStats {
    /// The entry's table.
    pub table_id: u8,
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Priority.
    pub priority: u16,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// Cookie.
    pub cookie: u64,
    /// Packets matched.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// The match.
    pub match_: OfpMatch,
    /// The instructions.
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    /// Decodes one entry from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for an entry length shorter than the fixed part or
    /// past the end; the match's and instructions' errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut e = entry(r, 0, FLOW_STATS_FIXED_LEN, "flow stats: bad length")?;
        // At least FLOW_STATS_FIXED_LEN bytes: the fixed reads succeed.
        let _ = e.skip_padding(2);
        let table_id = e.u8().unwrap_or(0);
        let _ = e.skip_padding(1);
        let duration_sec = e.u32().unwrap_or(0);
        let duration_nsec = e.u32().unwrap_or(0);
        let priority = e.u16().unwrap_or(0);
        let idle_timeout = e.u16().unwrap_or(0);
        let hard_timeout = e.u16().unwrap_or(0);
        let flags = e.u16().unwrap_or(0);
        let _ = e.skip_padding(4);
        let cookie = e.u64().unwrap_or(0);
        let packet_count = e.u64().unwrap_or(0);
        let byte_count = e.u64().unwrap_or(0);
        let match_ = OfpMatch::decode(&mut e)?;
        let instructions = decode_instructions(&mut e)?;
        Ok(Self {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie,
            packet_count,
            byte_count,
            match_,
            instructions,
        })
    }

    /// Encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        FLOW_STATS_FIXED_LEN + self.match_.encoded_len() + instructions_len(&self.instructions)
    }

    /// Appends the entry.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_u8(self.table_id);
        w.put_u8(0);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        w.put_u16(self.priority);
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u16(self.flags);
        w.put_zeros(4);
        w.put_u64(self.cookie);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        self.match_.encode(w);
        encode_instructions(&self.instructions, w);
        w.finish_len(mark);
    }
}

/// The decode/encode of a reply body that is a plain list of entries, each
/// with its own `decode`, `encode` and `encoded_len`; `$hint` is a typical
/// entry size for the first allocation (bounded, never trusted).
macro_rules! entry_list_body {
    ($name:ident, $entry:ident, $hint:expr) => {
        impl $name {
            /// Decodes the body from `r`, consuming all of it.
            ///
            /// # Errors
            /// The first entry's error.
            pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let mut entries = Vec::with_capacity((r.remaining() / $hint).clamp(1, 64));
                while !r.is_empty() {
                    entries.push($entry::decode(r)?);
                }
                Ok(Self { entries })
            }

            /// Decodes a whole body.
            ///
            /// # Errors
            /// As [`decode`](Self::decode).
            pub fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
                Self::decode(&mut Reader::new(body))
            }

            /// Length of the encoded body.
            #[must_use]
            pub fn body_len(&self) -> usize {
                self.entries.iter().map($entry::encoded_len).sum()
            }

            /// Appends the body.
            pub fn encode(&self, w: &mut Writer) {
                w.reserve(self.body_len());
                for e in &self.entries {
                    e.encode(w);
                }
            }
        }
    };
}

/// The body of a FLOW reply: flow entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowStatsReply {
    /// The entries, in the order sent.
    pub entries: Vec<FlowStats>,
}

entry_list_body!(FlowStatsReply, FlowStats, 96);

/// `ofp_aggregate_stats_reply`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AggregateStatsReply {
    /// Packets matched by the selected entries.
    pub packet_count: u64,
    /// Bytes matched by the selected entries.
    pub byte_count: u64,
    /// Number of selected entries.
    pub flow_count: u32,
}

impl AggregateStatsReply {
    /// Decodes the body from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` when truncated.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let s = || short("aggregate stats reply: truncated");
        let packet_count = r.u64().ok_or_else(s)?;
        let byte_count = r.u64().ok_or_else(s)?;
        let flow_count = r.u32().ok_or_else(s)?;
        r.skip_padding(4).ok_or_else(s)?;
        Ok(Self {
            packet_count,
            byte_count,
            flow_count,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        w.put_u32(self.flow_count);
        w.put_zeros(4);
    }
}

/// `ofp_group_stats_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupStatsRequest {
    /// Group to read, or `OFPG_ALL`.
    pub group_id: u32,
}

impl GroupStatsRequest {
    /// Decodes the body from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` when truncated.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let s = || short("group stats request: truncated");
        let group_id = r.u32().ok_or_else(s)?;
        r.skip_padding(4).ok_or_else(s)?;
        Ok(Self { group_id })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.group_id);
        w.put_zeros(4);
    }
}

/// `ofp_bucket_counter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BucketCounter {
    /// Packets processed by the bucket.
    pub packet_count: u64,
    /// Bytes processed by the bucket.
    pub byte_count: u64,
}

/// `ofp_group_stats`: one group in a GROUP reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupStats {
    /// The group.
    pub group_id: u32,
    /// Flow entries and groups that forward to it.
    pub ref_count: u32,
    /// Packets processed by the group.
    pub packet_count: u64,
    /// Bytes processed by the group.
    pub byte_count: u64,
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// One counter per bucket, in bucket order.
    pub bucket_stats: Vec<BucketCounter>,
}

impl GroupStats {
    /// Decodes one entry from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for an entry length shorter than the fixed part,
    /// past the end, or not leaving whole bucket counters.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut e = entry(r, 0, GROUP_STATS_FIXED_LEN, "group stats: bad length")?;
        if !(e.remaining() - GROUP_STATS_FIXED_LEN).is_multiple_of(BUCKET_COUNTER_LEN) {
            return Err(short("group stats: partial bucket counter"));
        }
        // The length checks above make every read below succeed.
        let _ = e.skip_padding(4);
        let group_id = e.u32().unwrap_or(0);
        let ref_count = e.u32().unwrap_or(0);
        let _ = e.skip_padding(4);
        let packet_count = e.u64().unwrap_or(0);
        let byte_count = e.u64().unwrap_or(0);
        let duration_sec = e.u32().unwrap_or(0);
        let duration_nsec = e.u32().unwrap_or(0);
        let mut bucket_stats = Vec::with_capacity(e.remaining() / BUCKET_COUNTER_LEN);
        while !e.is_empty() {
            bucket_stats.push(BucketCounter {
                packet_count: e.u64().unwrap_or(0),
                byte_count: e.u64().unwrap_or(0),
            });
        }
        Ok(Self {
            group_id,
            ref_count,
            packet_count,
            byte_count,
            duration_sec,
            duration_nsec,
            bucket_stats,
        })
    }

    /// Encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        GROUP_STATS_FIXED_LEN + BUCKET_COUNTER_LEN * self.bucket_stats.len()
    }

    /// Appends the entry.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_zeros(2);
        w.put_u32(self.group_id);
        w.put_u32(self.ref_count);
        w.put_zeros(4);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        for b in &self.bucket_stats {
            w.put_u64(b.packet_count);
            w.put_u64(b.byte_count);
        }
        w.finish_len(mark);
    }
}

/// The body of a GROUP reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupStatsReply {
    /// The entries, in the order sent.
    pub entries: Vec<GroupStats>,
}

entry_list_body!(GroupStatsReply, GroupStats, 56);

/// `ofp_group_desc`: one group in a GROUP_DESC reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupDesc {
    /// The group's type.
    pub group_type: GroupType,
    /// The group.
    pub group_id: u32,
    /// Its buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupDesc {
    /// Decodes one entry from `r`.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for an entry length shorter than the fixed part or
    /// past the end; the buckets' errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut e = entry(r, 0, GROUP_DESC_FIXED_LEN, "group desc: bad length")?;
        // At least GROUP_DESC_FIXED_LEN bytes: the fixed reads succeed.
        let _ = e.skip_padding(2);
        let group_type = GroupType(e.u8().unwrap_or(0));
        let _ = e.skip_padding(1);
        let group_id = e.u32().unwrap_or(0);
        let buckets = decode_buckets(&mut e)?;
        Ok(Self {
            group_type,
            group_id,
            buckets,
        })
    }

    /// Encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        GROUP_DESC_FIXED_LEN + buckets_len(&self.buckets)
    }

    /// Appends the entry.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_u8(self.group_type.0);
        w.put_u8(0);
        w.put_u32(self.group_id);
        encode_buckets(&self.buckets, w);
        w.finish_len(mark);
    }
}

/// The body of a GROUP_DESC reply (the request body is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupDescReply {
    /// The entries, in the order sent.
    pub entries: Vec<GroupDesc>,
}

entry_list_body!(GroupDescReply, GroupDesc, 48);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::codec::testutil::{check_golden, multipart};
    use crate::group_mod::strategies::arb_buckets;
    use crate::instruction::strategies::arb_instructions;
    use crate::oxm::strategies::arb_match;
    use datapath::flow::Field;
    use proptest::prelude::*;

    fn enc(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.into_inner()
    }

    fn arb_request() -> impl Strategy<Value = FlowStatsRequest> {
        (
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            arb_match(),
        )
            .prop_map(
                |(table_id, out_port, out_group, cookie, cookie_mask, match_)| FlowStatsRequest {
                    table_id,
                    out_port,
                    out_group,
                    cookie,
                    cookie_mask,
                    match_,
                },
            )
    }

    fn arb_flow_stats() -> impl Strategy<Value = FlowStats> {
        (
            (any::<u8>(), any::<u32>(), any::<u32>(), any::<u16>()),
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u64>()),
            (any::<u64>(), any::<u64>()),
            arb_match(),
            arb_instructions(),
        )
            .prop_map(
                |(
                    (table_id, duration_sec, duration_nsec, priority),
                    (idle_timeout, hard_timeout, flags, cookie),
                    (packet_count, byte_count),
                    match_,
                    instructions,
                )| FlowStats {
                    table_id,
                    duration_sec,
                    duration_nsec,
                    priority,
                    idle_timeout,
                    hard_timeout,
                    flags,
                    cookie,
                    packet_count,
                    byte_count,
                    match_,
                    instructions,
                },
            )
    }

    fn arb_group_stats() -> impl Strategy<Value = GroupStats> {
        (
            (any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>()),
            (any::<u32>(), any::<u32>()),
            proptest::collection::vec((any::<u64>(), any::<u64>()), 0..4),
        )
            .prop_map(
                |(
                    (group_id, ref_count, packet_count, byte_count),
                    (duration_sec, duration_nsec),
                    b,
                )| GroupStats {
                    group_id,
                    ref_count,
                    packet_count,
                    byte_count,
                    duration_sec,
                    duration_nsec,
                    bucket_stats: b
                        .into_iter()
                        .map(|(packet_count, byte_count)| BucketCounter {
                            packet_count,
                            byte_count,
                        })
                        .collect(),
                },
            )
    }

    fn arb_group_desc() -> impl Strategy<Value = GroupDesc> {
        (any::<u8>(), any::<u32>(), arb_buckets()).prop_map(|(t, group_id, buckets)| GroupDesc {
            group_type: GroupType(t),
            group_id,
            buckets,
        })
    }

    #[test]
    fn flow_stats_request_is_32_bytes_then_match() {
        let r = FlowStatsRequest {
            table_id: 0xff,
            out_port: crate::port::OFPP_ANY,
            out_group: crate::action::OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: OfpMatch::catch_all(),
        };
        let b = enc(|w| r.encode(w));
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..4], &[0xff, 0, 0, 0]);
        assert_eq!(FlowStatsRequest::decode_body(&b).unwrap(), r);
        assert_eq!(
            FlowStatsRequest::decode_body(&b[..31]).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn flow_stats_entry_length_covers_match_and_instructions() {
        let e = FlowStats {
            table_id: 1,
            duration_sec: 2,
            duration_nsec: 3,
            priority: 4,
            idle_timeout: 5,
            hard_timeout: 6,
            flags: 1,
            cookie: 7,
            packet_count: 8,
            byte_count: 9,
            match_: OfpMatch::catch_all(),
            instructions: vec![Instruction::GotoTable(2)],
        };
        let b = enc(|w| e.encode(w));
        assert_eq!(&b[..2], &[0, 64]);
        assert_eq!(b.len(), 64);
        let reply = FlowStatsReply {
            entries: vec![e.clone(), e],
        };
        let b = enc(|w| reply.encode(w));
        assert_eq!(FlowStatsReply::decode_body(&b).unwrap(), reply);
    }

    #[test]
    fn rejects_entry_lengths_that_do_not_fit_with_bad_len() {
        let e = FlowStats {
            table_id: 0,
            duration_sec: 0,
            duration_nsec: 0,
            priority: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: 0,
            packet_count: 0,
            byte_count: 0,
            match_: OfpMatch::catch_all(),
            instructions: vec![],
        };
        let good = enc(|w| e.encode(w));
        for len in [0u8, 40, 64] {
            let mut b = good.clone();
            b[1] = len;
            assert_eq!(
                FlowStatsReply::decode_body(&b).unwrap_err().kind(),
                crate::error::ErrorKind::BAD_LEN,
                "{len}"
            );
        }
        let g = GroupStats {
            bucket_stats: vec![BucketCounter::default()],
            ..GroupStats::default()
        };
        let mut b = enc(|w| g.encode(w));
        assert_eq!(b.len(), 56);
        b[1] = 48;
        b.truncate(48);
        assert_eq!(
            GroupStatsReply::decode_body(&b).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn aggregate_reply_is_24_bytes() {
        let a = AggregateStatsReply {
            packet_count: 1,
            byte_count: 2,
            flow_count: 3,
        };
        let b = enc(|w| a.encode(w));
        assert_eq!(b.len(), AGGREGATE_STATS_REPLY_LEN);
        assert_eq!(
            AggregateStatsReply::decode(&mut Reader::new(&b)).unwrap(),
            a
        );
        let g = GroupStatsRequest { group_id: 7 };
        let b = enc(|w| g.encode(w));
        assert_eq!(b, [0, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(GroupStatsRequest::decode(&mut Reader::new(&b)).unwrap(), g);
    }

    fn sample_flow_stats() -> FlowStats {
        FlowStats {
            table_id: 0,
            duration_sec: 10,
            duration_nsec: 250_000_000,
            priority: 200,
            idle_timeout: 30,
            hard_timeout: 0,
            flags: crate::flow_mod::OFPFF_SEND_FLOW_REM,
            cookie: 0x42,
            packet_count: 7,
            byte_count: 742,
            match_: OfpMatch::catch_all()
                .exact(Field::InPort, 1)
                .exact(Field::EthDst, 0x0200_0000_0002),
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: 2,
                max_len: 0,
            }])],
        }
    }

    #[test]
    fn golden_flow_stats_request_for_all_tables() {
        let r = FlowStatsRequest {
            table_id: crate::table::OFPTT_ALL,
            out_port: crate::port::OFPP_ANY,
            out_group: crate::action::OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: OfpMatch::catch_all().exact(Field::InPort, 1),
        };
        let b = multipart(18, 0x50, OFPMP_FLOW, 0, |w| r.encode(w));
        check_golden("multipart_flow_request", &b);
        assert_eq!(FlowStatsRequest::decode_body(&b[16..]).unwrap(), r);
    }

    #[test]
    fn golden_flow_stats_reply_with_two_entries() {
        let second = FlowStats {
            table_id: 1,
            priority: 0,
            flags: 0,
            idle_timeout: 0,
            match_: OfpMatch::catch_all(),
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: crate::port::OFPP_CONTROLLER,
                max_len: crate::action::OFPCML_NO_BUFFER,
            }])],
            ..sample_flow_stats()
        };
        let r = FlowStatsReply {
            entries: vec![sample_flow_stats(), second],
        };
        let b = multipart(19, 0x50, OFPMP_FLOW, 0, |w| r.encode(w));
        check_golden("multipart_flow_reply", &b);
        assert_eq!(FlowStatsReply::decode_body(&b[16..]).unwrap(), r);
    }

    #[test]
    fn golden_aggregate_request_and_reply() {
        let r = AggregateStatsRequest {
            table_id: 0,
            out_port: 2,
            out_group: crate::action::OFPG_ANY,
            cookie: 0x42,
            cookie_mask: u64::MAX,
            match_: OfpMatch::catch_all(),
        };
        let b = multipart(18, 0x51, OFPMP_AGGREGATE, 0, |w| r.encode(w));
        check_golden("multipart_aggregate_request", &b);
        let a = AggregateStatsReply {
            packet_count: 100,
            byte_count: 6400,
            flow_count: 3,
        };
        let b = multipart(19, 0x51, OFPMP_AGGREGATE, 0, |w| a.encode(w));
        check_golden("multipart_aggregate_reply", &b);
    }

    #[test]
    fn golden_group_stats_request_and_reply() {
        let r = GroupStatsRequest {
            group_id: crate::action::OFPG_ALL,
        };
        let b = multipart(18, 0x52, OFPMP_GROUP, 0, |w| r.encode(w));
        check_golden("multipart_group_request", &b);
        let reply = GroupStatsReply {
            entries: vec![GroupStats {
                group_id: 7,
                ref_count: 2,
                packet_count: 30,
                byte_count: 3000,
                duration_sec: 5,
                duration_nsec: 1000,
                bucket_stats: vec![
                    BucketCounter {
                        packet_count: 20,
                        byte_count: 2000,
                    },
                    BucketCounter {
                        packet_count: 10,
                        byte_count: 1000,
                    },
                ],
            }],
        };
        let b = multipart(19, 0x52, OFPMP_GROUP, 0, |w| reply.encode(w));
        check_golden("multipart_group_reply", &b);
        assert_eq!(GroupStatsReply::decode_body(&b[16..]).unwrap(), reply);
    }

    #[test]
    fn golden_group_desc_request_and_reply() {
        let b = multipart(18, 0x53, OFPMP_GROUP_DESC, 0, |_| {});
        check_golden("multipart_group_desc_request", &b);
        let reply = GroupDescReply {
            entries: vec![
                GroupDesc {
                    group_type: GroupType::OFPGT_ALL,
                    group_id: 1,
                    buckets: vec![
                        Bucket {
                            actions: vec![Action::Output {
                                port: 1,
                                max_len: 0,
                            }],
                            ..Bucket::default()
                        },
                        Bucket {
                            actions: vec![Action::Output {
                                port: 2,
                                max_len: 0,
                            }],
                            ..Bucket::default()
                        },
                    ],
                },
                GroupDesc {
                    group_type: GroupType::OFPGT_INDIRECT,
                    group_id: 2,
                    buckets: vec![Bucket {
                        actions: vec![Action::Group(1)],
                        ..Bucket::default()
                    }],
                },
            ],
        };
        let b = multipart(19, 0x53, OFPMP_GROUP_DESC, 0, |w| reply.encode(w));
        check_golden("multipart_group_desc_reply", &b);
        assert_eq!(GroupDescReply::decode_body(&b[16..]).unwrap(), reply);
    }

    proptest! {
        #[test]
        fn flow_stats_request_round_trips(r in arb_request()) {
            let b = enc(|w| r.encode(w));
            prop_assert_eq!(b.len(), r.body_len());
            let d = FlowStatsRequest::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &r);
            prop_assert_eq!(enc(|w| d.encode(w)), b);
        }

        #[test]
        fn flow_stats_reply_round_trips(entries in proptest::collection::vec(arb_flow_stats(), 0..4)) {
            let r = FlowStatsReply { entries };
            let b = enc(|w| r.encode(w));
            prop_assert_eq!(b.len(), r.body_len());
            let d = FlowStatsReply::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &r);
            prop_assert_eq!(enc(|w| d.encode(w)), b);
        }

        #[test]
        fn aggregate_reply_round_trips(packet_count: u64, byte_count: u64, flow_count: u32) {
            let a = AggregateStatsReply { packet_count, byte_count, flow_count };
            let b = enc(|w| a.encode(w));
            prop_assert_eq!(AggregateStatsReply::decode(&mut Reader::new(&b)).unwrap(), a);
        }

        #[test]
        fn group_stats_reply_round_trips(entries in proptest::collection::vec(arb_group_stats(), 0..4)) {
            let r = GroupStatsReply { entries };
            let b = enc(|w| r.encode(w));
            prop_assert_eq!(b.len(), r.body_len());
            let d = GroupStatsReply::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &r);
            prop_assert_eq!(enc(|w| d.encode(w)), b);
        }

        #[test]
        fn group_desc_reply_round_trips(entries in proptest::collection::vec(arb_group_desc(), 0..4)) {
            let r = GroupDescReply { entries };
            let b = enc(|w| r.encode(w));
            prop_assert_eq!(b.len(), r.body_len());
            let d = GroupDescReply::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &r);
            prop_assert_eq!(enc(|w| d.encode(w)), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = FlowStatsRequest::decode_body(&b);
            let _ = FlowStatsReply::decode_body(&b);
            let _ = GroupStatsReply::decode_body(&b);
            let _ = GroupDescReply::decode_body(&b);
        }
    }
}
