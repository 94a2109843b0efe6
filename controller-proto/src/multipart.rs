//! OFPT_MULTIPART_REQUEST / OFPT_MULTIPART_REPLY (§7.3.5): the envelope,
//! every body type, splitting a large reply over several messages, and
//! reassembling them.
//!
//! # Design
//!
//! A multipart message is `ofp_header`, then `type`, `flags` and four pad
//! bytes, then a body whose layout depends on `type`. Most reply bodies are
//! arrays of self-delimiting records (flow stats, port stats, table
//! features, ...), and such an array may be longer than the 65,535 bytes a
//! single message can carry. The sender then cuts it into several messages
//! with the same xid, all but the last carrying `OFPMPF_REPLY_MORE`
//! (`OFPMPF_REQ_MORE` for requests, which only TABLE_FEATURES uses).
//!
//! Invariants this module keeps:
//!
//! * A logical reply is one [`MultipartReply`] whose array body holds every
//!   record. [`MultipartReply::split`] cuts it only between records, so
//!   every part decodes on its own, and concatenating the parts' arrays in
//!   order gives back the original array: `merge(split(r)) == r`.
//! * A part never exceeds the requested size unless a single record is
//!   itself larger than a message can hold (impossible for records whose
//!   own length field is 16 bits and fits with the 16-byte envelope; such a
//!   record is sent alone rather than dropped).
//! * Single-structure bodies (DESC, AGGREGATE, GROUP_FEATURES,
//!   METER_FEATURES, EXPERIMENTER) are never split; a continuation of one
//!   is refused by reassembly with `OFPBRC_BAD_MULTIPART`.
//! * Reassembly ([`Reassembler`]) holds parts per xid and refuses, with
//!   `OFPBRC_MULTIPART_BUFFER_OVERFLOW`, to hold more than a fixed number of
//!   bytes in total, so a peer that never clears the MORE flag cannot make
//!   memory grow without bound.

use std::collections::HashMap;

use crate::codec::{DecodeError, Reader, Writer};
use crate::controller::ExperimenterMsg;
use crate::error::{ofp_number, BadRequestCode};
use crate::header::{expect_end, FixedStr, OrBadLen, OFP_HEADER_LEN, OFP_MAX_MSG_LEN};
use crate::meter_mod::{MeterConfig, MeterFeatures, MeterMultipartRequest, MeterStats};
use crate::port::{Port, PortStats, PortStatsRequest};
use crate::stats_flow::{
    AggregateStatsReply, AggregateStatsRequest, FlowStats, FlowStatsRequest, GroupDesc, GroupStats,
    GroupStatsRequest,
};
use crate::table::{TableFeatures, TableStats};

ofp_number! {
    /// `ofp_multipart_type`.
    pub struct MultipartType(u16) {
        OFPMP_DESC = 0,
        OFPMP_FLOW = 1,
        OFPMP_AGGREGATE = 2,
        OFPMP_TABLE = 3,
        OFPMP_PORT_STATS = 4,
        OFPMP_QUEUE = 5,
        OFPMP_GROUP = 6,
        OFPMP_GROUP_DESC = 7,
        OFPMP_GROUP_FEATURES = 8,
        OFPMP_METER = 9,
        OFPMP_METER_CONFIG = 10,
        OFPMP_METER_FEATURES = 11,
        OFPMP_TABLE_FEATURES = 12,
        OFPMP_PORT_DESC = 13,
        OFPMP_EXPERIMENTER = 0xffff,
    }
}

/// `OFPMPF_REQ_MORE`: more requests follow.
pub const OFPMPF_REQ_MORE: u16 = 1;
/// `OFPMPF_REPLY_MORE`: more replies follow.
pub const OFPMPF_REPLY_MORE: u16 = 1;

/// Bytes of a multipart message before its body: `ofp_header` plus type,
/// flags and padding.
pub const MULTIPART_HEADER_LEN: usize = OFP_HEADER_LEN + 8;

/// Default bound on the bytes [`Reassembler`] holds across all xids.
pub const REASSEMBLY_LIMIT: usize = 16 << 20;

/// `DESC_STR_LEN`.
pub const DESC_STR_LEN: usize = 256;
/// `SERIAL_NUM_LEN`.
pub const SERIAL_NUM_LEN: usize = 32;

/// `ofp_desc`: the switch's description.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Desc {
    /// Manufacturer description.
    pub mfr_desc: FixedStr<DESC_STR_LEN>,
    /// Hardware description.
    pub hw_desc: FixedStr<DESC_STR_LEN>,
    /// Software description.
    pub sw_desc: FixedStr<DESC_STR_LEN>,
    /// Serial number.
    pub serial_num: FixedStr<SERIAL_NUM_LEN>,
    /// Human readable description of the datapath.
    pub dp_desc: FixedStr<DESC_STR_LEN>,
}

impl Desc {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r).or_bad_len("desc: truncated")
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            mfr_desc: FixedStr::read(r)?,
            hw_desc: FixedStr::read(r)?,
            sw_desc: FixedStr::read(r)?,
            serial_num: FixedStr::read(r)?,
            dp_desc: FixedStr::read(r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        self.mfr_desc.write(w);
        self.hw_desc.write(w);
        self.sw_desc.write(w);
        self.serial_num.write(w);
        self.dp_desc.write(w);
    }
}

/// `ofp_queue_stats_request`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct QueueStatsRequest {
    /// Port, or `OFPP_ANY` for all ports.
    pub port_no: u32,
    /// Queue, or `OFPQ_ALL` for all queues.
    pub queue_id: u32,
}

/// `OFPQ_ALL`: every queue.
pub const OFPQ_ALL: u32 = 0xffff_ffff;

impl QueueStatsRequest {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            port_no: r.u32().or_bad_len("queue stats request: truncated")?,
            queue_id: r.u32().or_bad_len("queue stats request: truncated")?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_u32(self.queue_id);
    }
}

/// `ofp_queue_stats`: one queue's counters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct QueueStats {
    /// Port.
    pub port_no: u32,
    /// Queue.
    pub queue_id: u32,
    /// Transmitted bytes.
    pub tx_bytes: u64,
    /// Transmitted packets.
    pub tx_packets: u64,
    /// Packets dropped for overrun.
    pub tx_errors: u64,
    /// Time alive, seconds part.
    pub duration_sec: u32,
    /// Time alive beyond `duration_sec`, nanoseconds.
    pub duration_nsec: u32,
}

/// Length of `ofp_queue_stats`.
pub const QUEUE_STATS_LEN: usize = 40;

impl QueueStats {
    /// Decodes one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r).or_bad_len("queue stats: truncated")
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            port_no: r.u32()?,
            queue_id: r.u32()?,
            tx_bytes: r.u64()?,
            tx_packets: r.u64()?,
            tx_errors: r.u64()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }

    /// Appends one entry.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_u32(self.queue_id);
        w.put_u64(self.tx_bytes);
        w.put_u64(self.tx_packets);
        w.put_u64(self.tx_errors);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
    }
}

/// `ofp_group_features`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct GroupFeatures {
    /// Bitmap of supported group types (`1 << OFPGT_*`).
    pub types: u32,
    /// `OFPGFC_*` bits.
    pub capabilities: u32,
    /// Maximum groups of each type (all, select, indirect, fast failover).
    pub max_groups: [u32; 4],
    /// Bitmap of actions supported by each type (`1 << OFPAT_*`).
    pub actions: [u32; 4],
}

/// `OFPGFC_SELECT_WEIGHT`.
pub const OFPGFC_SELECT_WEIGHT: u32 = 1 << 0;
/// `OFPGFC_SELECT_LIVENESS`.
pub const OFPGFC_SELECT_LIVENESS: u32 = 1 << 1;
/// `OFPGFC_CHAINING`.
pub const OFPGFC_CHAINING: u32 = 1 << 2;
/// `OFPGFC_CHAINING_CHECKS`.
pub const OFPGFC_CHAINING_CHECKS: u32 = 1 << 3;

impl GroupFeatures {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut next = || r.u32().or_bad_len("group features: truncated");
        let types = next()?;
        let capabilities = next()?;
        let max_groups = [next()?, next()?, next()?, next()?];
        let actions = [next()?, next()?, next()?, next()?];
        Ok(Self {
            types,
            capabilities,
            max_groups,
            actions,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.types);
        w.put_u32(self.capabilities);
        for v in self.max_groups.iter().chain(&self.actions) {
            w.put_u32(*v);
        }
    }
}

/// The body of a MULTIPART_REQUEST, by type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum MultipartRequestBody {
    /// `OFPMP_DESC` (empty body).
    Desc,
    /// `OFPMP_FLOW`.
    Flow(FlowStatsRequest),
    /// `OFPMP_AGGREGATE`.
    Aggregate(AggregateStatsRequest),
    /// `OFPMP_TABLE` (empty body).
    Table,
    /// `OFPMP_PORT_STATS`.
    PortStats(PortStatsRequest),
    /// `OFPMP_QUEUE`.
    Queue(QueueStatsRequest),
    /// `OFPMP_GROUP`.
    Group(GroupStatsRequest),
    /// `OFPMP_GROUP_DESC` (empty body).
    GroupDesc,
    /// `OFPMP_GROUP_FEATURES` (empty body).
    GroupFeatures,
    /// `OFPMP_METER`.
    Meter(MeterMultipartRequest),
    /// `OFPMP_METER_CONFIG`.
    MeterConfig(MeterMultipartRequest),
    /// `OFPMP_METER_FEATURES` (empty body).
    MeterFeatures,
    /// `OFPMP_TABLE_FEATURES`: empty to query, or the full desired table
    /// configuration.
    TableFeatures(Vec<TableFeatures>),
    /// `OFPMP_PORT_DESC` (empty body).
    PortDesc,
    /// `OFPMP_EXPERIMENTER`.
    Experimenter(ExperimenterMsg),
}

/// The body of a MULTIPART_REPLY, by type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum MultipartReplyBody {
    /// `OFPMP_DESC`.
    Desc(Box<Desc>),
    /// `OFPMP_FLOW`.
    Flow(Vec<FlowStats>),
    /// `OFPMP_AGGREGATE`.
    Aggregate(AggregateStatsReply),
    /// `OFPMP_TABLE`.
    Table(Vec<TableStats>),
    /// `OFPMP_PORT_STATS`.
    PortStats(Vec<PortStats>),
    /// `OFPMP_QUEUE`.
    Queue(Vec<QueueStats>),
    /// `OFPMP_GROUP`.
    Group(Vec<GroupStats>),
    /// `OFPMP_GROUP_DESC`.
    GroupDesc(Vec<GroupDesc>),
    /// `OFPMP_GROUP_FEATURES`.
    GroupFeatures(GroupFeatures),
    /// `OFPMP_METER`.
    Meter(Vec<MeterStats>),
    /// `OFPMP_METER_CONFIG`.
    MeterConfig(Vec<MeterConfig>),
    /// `OFPMP_METER_FEATURES`.
    MeterFeatures(MeterFeatures),
    /// `OFPMP_TABLE_FEATURES`.
    TableFeatures(Vec<TableFeatures>),
    /// `OFPMP_PORT_DESC`.
    PortDesc(Vec<Port>),
    /// `OFPMP_EXPERIMENTER`.
    Experimenter(ExperimenterMsg),
}

/// OFPT_MULTIPART_REQUEST.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MultipartRequest {
    /// `OFPMPF_REQ_*` bits.
    pub flags: u16,
    /// Type and body.
    pub body: MultipartRequestBody,
}

/// OFPT_MULTIPART_REPLY.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MultipartReply {
    /// `OFPMPF_REPLY_*` bits.
    pub flags: u16,
    /// Type and body.
    pub body: MultipartReplyBody,
}

fn decode_all<T>(
    r: &mut Reader<'_>,
    f: impl Fn(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(f(r)?);
    }
    Ok(v)
}

fn empty(r: &Reader<'_>) -> Result<(), DecodeError> {
    expect_end(r, "multipart: body must be empty")
}

impl MultipartRequestBody {
    /// The multipart type.
    pub fn mp_type(&self) -> MultipartType {
        use MultipartType as T;
        match self {
            Self::Desc => T::OFPMP_DESC,
            Self::Flow(_) => T::OFPMP_FLOW,
            Self::Aggregate(_) => T::OFPMP_AGGREGATE,
            Self::Table => T::OFPMP_TABLE,
            Self::PortStats(_) => T::OFPMP_PORT_STATS,
            Self::Queue(_) => T::OFPMP_QUEUE,
            Self::Group(_) => T::OFPMP_GROUP,
            Self::GroupDesc => T::OFPMP_GROUP_DESC,
            Self::GroupFeatures => T::OFPMP_GROUP_FEATURES,
            Self::Meter(_) => T::OFPMP_METER,
            Self::MeterConfig(_) => T::OFPMP_METER_CONFIG,
            Self::MeterFeatures => T::OFPMP_METER_FEATURES,
            Self::TableFeatures(_) => T::OFPMP_TABLE_FEATURES,
            Self::PortDesc => T::OFPMP_PORT_DESC,
            Self::Experimenter(_) => T::OFPMP_EXPERIMENTER,
        }
    }

    fn decode(ty: MultipartType, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use MultipartType as T;
        Ok(match ty {
            T::OFPMP_DESC => empty(r).map(|()| Self::Desc)?,
            T::OFPMP_FLOW => Self::Flow(FlowStatsRequest::decode(r)?),
            T::OFPMP_AGGREGATE => Self::Aggregate(AggregateStatsRequest::decode(r)?),
            T::OFPMP_TABLE => empty(r).map(|()| Self::Table)?,
            T::OFPMP_PORT_STATS => Self::PortStats(PortStatsRequest::decode(r)?),
            T::OFPMP_QUEUE => Self::Queue(QueueStatsRequest::decode(r)?),
            T::OFPMP_GROUP => Self::Group(GroupStatsRequest::decode(r)?),
            T::OFPMP_GROUP_DESC => empty(r).map(|()| Self::GroupDesc)?,
            T::OFPMP_GROUP_FEATURES => empty(r).map(|()| Self::GroupFeatures)?,
            T::OFPMP_METER => Self::Meter(MeterMultipartRequest::decode(r)?),
            T::OFPMP_METER_CONFIG => Self::MeterConfig(MeterMultipartRequest::decode(r)?),
            T::OFPMP_METER_FEATURES => empty(r).map(|()| Self::MeterFeatures)?,
            T::OFPMP_TABLE_FEATURES => Self::TableFeatures(decode_all(r, TableFeatures::decode)?),
            T::OFPMP_PORT_DESC => empty(r).map(|()| Self::PortDesc)?,
            T::OFPMP_EXPERIMENTER => Self::Experimenter(ExperimenterMsg::decode(r)?),
            _ => return Err(DecodeError::bad_multipart("multipart: unknown type")),
        })
    }

    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Desc
            | Self::Table
            | Self::GroupDesc
            | Self::GroupFeatures
            | Self::MeterFeatures
            | Self::PortDesc => {}
            Self::Flow(b) | Self::Aggregate(b) => b.encode(w),
            Self::PortStats(b) => b.encode(w),
            Self::Queue(b) => b.encode(w),
            Self::Group(b) => b.encode(w),
            Self::Meter(b) | Self::MeterConfig(b) => b.encode(w),
            Self::TableFeatures(v) => v.iter().for_each(|t| t.encode(w)),
            Self::Experimenter(b) => b.encode(w),
        }
    }
}

impl MultipartReplyBody {
    /// The multipart type.
    pub fn mp_type(&self) -> MultipartType {
        use MultipartType as T;
        match self {
            Self::Desc(_) => T::OFPMP_DESC,
            Self::Flow(_) => T::OFPMP_FLOW,
            Self::Aggregate(_) => T::OFPMP_AGGREGATE,
            Self::Table(_) => T::OFPMP_TABLE,
            Self::PortStats(_) => T::OFPMP_PORT_STATS,
            Self::Queue(_) => T::OFPMP_QUEUE,
            Self::Group(_) => T::OFPMP_GROUP,
            Self::GroupDesc(_) => T::OFPMP_GROUP_DESC,
            Self::GroupFeatures(_) => T::OFPMP_GROUP_FEATURES,
            Self::Meter(_) => T::OFPMP_METER,
            Self::MeterConfig(_) => T::OFPMP_METER_CONFIG,
            Self::MeterFeatures(_) => T::OFPMP_METER_FEATURES,
            Self::TableFeatures(_) => T::OFPMP_TABLE_FEATURES,
            Self::PortDesc(_) => T::OFPMP_PORT_DESC,
            Self::Experimenter(_) => T::OFPMP_EXPERIMENTER,
        }
    }

    fn decode(ty: MultipartType, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use MultipartType as T;
        Ok(match ty {
            T::OFPMP_DESC => Self::Desc(Box::new(Desc::decode(r)?)),
            T::OFPMP_FLOW => Self::Flow(decode_all(r, FlowStats::decode)?),
            T::OFPMP_AGGREGATE => Self::Aggregate(AggregateStatsReply::decode(r)?),
            T::OFPMP_TABLE => Self::Table(decode_all(r, TableStats::decode)?),
            T::OFPMP_PORT_STATS => Self::PortStats(decode_all(r, PortStats::decode)?),
            T::OFPMP_QUEUE => Self::Queue(decode_all(r, QueueStats::decode)?),
            T::OFPMP_GROUP => Self::Group(decode_all(r, GroupStats::decode)?),
            T::OFPMP_GROUP_DESC => Self::GroupDesc(decode_all(r, GroupDesc::decode)?),
            T::OFPMP_GROUP_FEATURES => Self::GroupFeatures(GroupFeatures::decode(r)?),
            T::OFPMP_METER => Self::Meter(decode_all(r, MeterStats::decode)?),
            T::OFPMP_METER_CONFIG => Self::MeterConfig(decode_all(r, MeterConfig::decode)?),
            T::OFPMP_METER_FEATURES => Self::MeterFeatures(MeterFeatures::decode(r)?),
            T::OFPMP_TABLE_FEATURES => Self::TableFeatures(decode_all(r, TableFeatures::decode)?),
            T::OFPMP_PORT_DESC => Self::PortDesc(decode_all(r, Port::decode)?),
            T::OFPMP_EXPERIMENTER => Self::Experimenter(ExperimenterMsg::decode(r)?),
            _ => return Err(DecodeError::bad_multipart("multipart: unknown type")),
        })
    }

    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Desc(b) => b.encode(w),
            Self::Flow(v) => v.iter().for_each(|e| e.encode(w)),
            Self::Aggregate(b) => b.encode(w),
            Self::Table(v) => v.iter().for_each(|e| e.encode(w)),
            Self::PortStats(v) => v.iter().for_each(|e| e.encode(w)),
            Self::Queue(v) => v.iter().for_each(|e| e.encode(w)),
            Self::Group(v) => v.iter().for_each(|e| e.encode(w)),
            Self::GroupDesc(v) => v.iter().for_each(|e| e.encode(w)),
            Self::GroupFeatures(b) => b.encode(w),
            Self::Meter(v) => v.iter().for_each(|e| e.encode(w)),
            Self::MeterConfig(v) => v.iter().for_each(|e| e.encode(w)),
            Self::MeterFeatures(b) => b.encode(w),
            Self::TableFeatures(v) => v.iter().for_each(|e| e.encode(w)),
            Self::PortDesc(v) => v.iter().for_each(|e| e.encode(w)),
            Self::Experimenter(b) => b.encode(w),
        }
    }

    /// Appends `other`'s records to this body. Fails with
    /// `OFPBRC_BAD_MULTIPART` when the types differ or the body is a single
    /// structure that cannot continue.
    pub fn merge(&mut self, other: Self) -> Result<(), DecodeError> {
        let mismatch = || DecodeError::bad_multipart("multipart: continuation does not match");
        match (self, other) {
            (Self::Flow(a), Self::Flow(b)) => a.extend(b),
            (Self::Table(a), Self::Table(b)) => a.extend(b),
            (Self::Group(a), Self::Group(b)) => a.extend(b),
            (Self::GroupDesc(a), Self::GroupDesc(b)) => a.extend(b),
            (Self::PortStats(a), Self::PortStats(b)) => a.extend(b),
            (Self::Queue(a), Self::Queue(b)) => a.extend(b),
            (Self::Meter(a), Self::Meter(b)) => a.extend(b),
            (Self::MeterConfig(a), Self::MeterConfig(b)) => a.extend(b),
            (Self::TableFeatures(a), Self::TableFeatures(b)) => a.extend(b),
            (Self::PortDesc(a), Self::PortDesc(b)) => a.extend(b),
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    /// Cuts an array body into parts whose encoded bodies fit in `budget`
    /// bytes each (a record larger than `budget` travels alone). A
    /// single-structure body is returned whole.
    fn split(self, budget: usize) -> Vec<Self> {
        match self {
            Self::Flow(v) => chunk(v, budget, FlowStats::encode, Self::Flow),
            Self::Table(v) => chunk(v, budget, TableStats::encode, Self::Table),
            Self::Group(v) => chunk(v, budget, GroupStats::encode, Self::Group),
            Self::GroupDesc(v) => chunk(v, budget, GroupDesc::encode, Self::GroupDesc),
            Self::PortStats(v) => chunk(v, budget, PortStats::encode, Self::PortStats),
            Self::Queue(v) => chunk(v, budget, QueueStats::encode, Self::Queue),
            Self::Meter(v) => chunk(v, budget, MeterStats::encode, Self::Meter),
            Self::MeterConfig(v) => chunk(v, budget, MeterConfig::encode, Self::MeterConfig),
            Self::TableFeatures(v) => chunk(v, budget, TableFeatures::encode, Self::TableFeatures),
            Self::PortDesc(v) => chunk(v, budget, Port::encode, Self::PortDesc),
            single => vec![single],
        }
    }
}

/// Groups `items` greedily, in order, into runs whose encodings fit in
/// `budget` bytes; always yields at least one (possibly empty) run.
fn chunk<T, B>(
    items: Vec<T>,
    budget: usize,
    enc: impl Fn(&T, &mut Writer),
    wrap: impl Fn(Vec<T>) -> B,
) -> Vec<B> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut used = 0usize;
    let mut scratch = Vec::new();
    for item in items {
        scratch.clear();
        let mut w = Writer::from_vec(scratch);
        enc(&item, &mut w);
        let n = w.len();
        scratch = w.into_inner();
        if !cur.is_empty() && used + n > budget {
            out.push(wrap(std::mem::take(&mut cur)));
            used = 0;
        }
        used += n;
        cur.push(item);
    }
    out.push(wrap(cur));
    out
}

impl MultipartRequest {
    /// A request with no flags.
    pub fn new(body: MultipartRequestBody) -> Self {
        Self { flags: 0, body }
    }

    /// Decodes the body of the message (after `ofp_header`).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = MultipartType(r.u16().or_bad_len("multipart: truncated")?);
        let flags = r.u16().or_bad_len("multipart: truncated")?;
        r.skip_padding(4).or_bad_len("multipart: truncated")?;
        let body = MultipartRequestBody::decode(ty, r)?;
        Ok(Self { flags, body })
    }

    /// Appends the message body (after `ofp_header`).
    pub fn encode(&self, w: &mut Writer) {
        w.put_u16(self.body.mp_type().0);
        w.put_u16(self.flags);
        w.put_zeros(4);
        self.body.encode(w);
    }

    /// True when `OFPMPF_REQ_MORE` is set.
    pub fn more(&self) -> bool {
        self.flags & OFPMPF_REQ_MORE != 0
    }

    /// Appends a continuation's table-features records. Only
    /// TABLE_FEATURES requests may be split.
    pub fn merge(&mut self, next: Self) -> Result<(), DecodeError> {
        match (&mut self.body, next.body) {
            (MultipartRequestBody::TableFeatures(a), MultipartRequestBody::TableFeatures(b)) => {
                a.extend(b);
                self.flags = next.flags;
                Ok(())
            }
            _ => Err(DecodeError::bad_multipart(
                "multipart: only table features requests continue",
            )),
        }
    }

    /// Splits a TABLE_FEATURES request into messages of at most `max_len`
    /// bytes each, all but the last flagged `OFPMPF_REQ_MORE`. Other
    /// requests are returned unchanged.
    pub fn split(self, max_len: usize) -> Vec<Self> {
        let budget = max_len.saturating_sub(MULTIPART_HEADER_LEN);
        let flags = self.flags & !OFPMPF_REQ_MORE;
        let parts = match self.body {
            MultipartRequestBody::TableFeatures(v) => chunk(
                v,
                budget,
                TableFeatures::encode,
                MultipartRequestBody::TableFeatures,
            ),
            other => vec![other],
        };
        flag_parts(parts, flags, OFPMPF_REQ_MORE, |flags, body| Self {
            flags,
            body,
        })
    }
}

impl MultipartReply {
    /// A reply with no flags.
    pub fn new(body: MultipartReplyBody) -> Self {
        Self { flags: 0, body }
    }

    /// Decodes the body of the message (after `ofp_header`).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = MultipartType(r.u16().or_bad_len("multipart: truncated")?);
        let flags = r.u16().or_bad_len("multipart: truncated")?;
        r.skip_padding(4).or_bad_len("multipart: truncated")?;
        let body = MultipartReplyBody::decode(ty, r)?;
        Ok(Self { flags, body })
    }

    /// Appends the message body (after `ofp_header`).
    pub fn encode(&self, w: &mut Writer) {
        w.put_u16(self.body.mp_type().0);
        w.put_u16(self.flags);
        w.put_zeros(4);
        self.body.encode(w);
    }

    /// True when `OFPMPF_REPLY_MORE` is set.
    pub fn more(&self) -> bool {
        self.flags & OFPMPF_REPLY_MORE != 0
    }

    /// Appends a continuation's records and takes over its flags.
    pub fn merge(&mut self, next: Self) -> Result<(), DecodeError> {
        self.body.merge(next.body)?;
        self.flags = next.flags;
        Ok(())
    }

    /// Splits the reply into messages of at most `max_len` bytes each
    /// (header included), all but the last flagged `OFPMPF_REPLY_MORE`.
    /// See the module documentation for the guarantees.
    pub fn split(self, max_len: usize) -> Vec<Self> {
        let budget = max_len.saturating_sub(MULTIPART_HEADER_LEN);
        let flags = self.flags & !OFPMPF_REPLY_MORE;
        flag_parts(
            self.body.split(budget),
            flags,
            OFPMPF_REPLY_MORE,
            |flags, body| Self { flags, body },
        )
    }

    /// [`split`](Self::split) at the largest message size.
    pub fn split_max(self) -> Vec<Self> {
        self.split(OFP_MAX_MSG_LEN)
    }
}

fn flag_parts<B, M>(parts: Vec<B>, flags: u16, more: u16, make: impl Fn(u16, B) -> M) -> Vec<M> {
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, body)| make(if i + 1 < n { flags | more } else { flags }, body))
        .collect()
}

/// What [`Reassembler::push`] made of a part.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Reassembled<T> {
    /// More parts are expected for this xid.
    Pending,
    /// The logical message is complete.
    Complete(T),
}

/// A multipart message that can be reassembled from parts.
pub trait Continuable: Sized {
    /// True while more parts follow.
    fn more(&self) -> bool;
    /// Appends a continuation.
    fn merge(&mut self, next: Self) -> Result<(), DecodeError>;
}

impl Continuable for MultipartReply {
    fn more(&self) -> bool {
        MultipartReply::more(self)
    }
    fn merge(&mut self, next: Self) -> Result<(), DecodeError> {
        MultipartReply::merge(self, next)
    }
}

impl Continuable for MultipartRequest {
    fn more(&self) -> bool {
        MultipartRequest::more(self)
    }
    fn merge(&mut self, next: Self) -> Result<(), DecodeError> {
        MultipartRequest::merge(self, next)
    }
}

/// Collects the parts of multipart messages, per xid, into one logical
/// message each. Bounded: see the module documentation.
#[derive(Debug)]
pub struct Reassembler<T> {
    partial: HashMap<u32, (T, usize)>,
    held: usize,
    limit: usize,
}

impl<T: Continuable> Default for Reassembler<T> {
    fn default() -> Self {
        Self::new(REASSEMBLY_LIMIT)
    }
}

impl<T: Continuable> Reassembler<T> {
    /// A reassembler holding at most `limit` bytes of pending parts.
    pub fn new(limit: usize) -> Self {
        Self {
            partial: HashMap::new(),
            held: 0,
            limit,
        }
    }

    /// Adds one decoded part of `wire_len` bytes received with `xid`.
    ///
    /// On error the partial message for `xid` is discarded.
    pub fn push(
        &mut self,
        xid: u32,
        part: T,
        wire_len: usize,
    ) -> Result<Reassembled<T>, DecodeError> {
        let more = part.more();
        let Some((mut acc, held)) = self.partial.remove(&xid) else {
            if !more {
                return Ok(Reassembled::Complete(part));
            }
            return self.hold(xid, part, 0, wire_len);
        };
        self.held -= held;
        acc.merge(part)?;
        if more {
            self.hold(xid, acc, held, wire_len)
        } else {
            Ok(Reassembled::Complete(acc))
        }
    }

    fn hold(
        &mut self,
        xid: u32,
        acc: T,
        held: usize,
        wire_len: usize,
    ) -> Result<Reassembled<T>, DecodeError> {
        let now = held + wire_len;
        if self.held + now > self.limit {
            return Err(DecodeError::of(
                BadRequestCode::OFPBRC_MULTIPART_BUFFER_OVERFLOW,
                "multipart: reassembly limit exceeded",
            ));
        }
        self.held += now;
        self.partial.insert(xid, (acc, now));
        Ok(Reassembled::Pending)
    }

    /// Drops any partial message for `xid`.
    pub fn discard(&mut self, xid: u32) {
        if let Some((_, held)) = self.partial.remove(&xid) {
            self.held -= held;
        }
    }

    /// True when a partial message for `xid` is held.
    pub fn is_pending(&self, xid: u32) -> bool {
        self.partial.contains_key(&xid)
    }

    /// Bytes of parts currently held.
    pub fn held_bytes(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::controller::tests::arb_experimenter;
    use crate::group_mod::strategies::arb_buckets;
    use crate::group_mod::GroupType;
    use crate::instruction::strategies::arb_instructions;
    use crate::meter_mod::tests::{arb_meter_config, arb_meter_features, arb_meter_stats};
    use crate::oxm::strategies::arb_match;
    use crate::port::tests::{arb_name, arb_port, arb_port_stats};
    use crate::stats_flow::BucketCounter;
    use crate::table::tests::{arb_table_features, arb_table_stats};
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn arb_desc() -> impl Strategy<Value = Desc> {
        (arb_name(), arb_name(), arb_name(), arb_name(), arb_name()).prop_map(
            |(mfr_desc, hw_desc, sw_desc, serial_num, dp_desc)| Desc {
                mfr_desc,
                hw_desc,
                sw_desc,
                serial_num,
                dp_desc,
            },
        )
    }

    fn arb_queue_stats() -> impl Strategy<Value = QueueStats> {
        (any::<[u32; 2]>(), any::<[u64; 3]>(), any::<[u32; 2]>()).prop_map(|(id, c, d)| {
            QueueStats {
                port_no: id[0],
                queue_id: id[1],
                tx_bytes: c[0],
                tx_packets: c[1],
                tx_errors: c[2],
                duration_sec: d[0],
                duration_nsec: d[1],
            }
        })
    }

    fn arb_group_features() -> impl Strategy<Value = GroupFeatures> {
        any::<[u32; 10]>().prop_map(|v| GroupFeatures {
            types: v[0],
            capabilities: v[1],
            max_groups: [v[2], v[3], v[4], v[5]],
            actions: [v[6], v[7], v[8], v[9]],
        })
    }

    fn arb_flow_request() -> impl Strategy<Value = FlowStatsRequest> {
        (
            any::<u8>(),
            any::<[u32; 2]>(),
            any::<[u64; 2]>(),
            arb_match(),
        )
            .prop_map(|(table_id, p, c, match_)| FlowStatsRequest {
                table_id,
                out_port: p[0],
                out_group: p[1],
                cookie: c[0],
                cookie_mask: c[1],
                match_,
            })
    }

    fn arb_flow_stats() -> impl Strategy<Value = FlowStats> {
        (
            any::<u8>(),
            any::<[u32; 2]>(),
            any::<[u16; 4]>(),
            any::<[u64; 3]>(),
            arb_match(),
            arb_instructions(),
        )
            .prop_map(|(table_id, d, t, c, match_, instructions)| FlowStats {
                table_id,
                duration_sec: d[0],
                duration_nsec: d[1],
                priority: t[0],
                idle_timeout: t[1],
                hard_timeout: t[2],
                flags: t[3],
                cookie: c[0],
                packet_count: c[1],
                byte_count: c[2],
                match_,
                instructions,
            })
    }

    fn arb_group_stats() -> impl Strategy<Value = GroupStats> {
        (
            any::<[u32; 4]>(),
            any::<[u64; 2]>(),
            vec(any::<[u64; 2]>(), 0..3),
        )
            .prop_map(|(v, c, b)| GroupStats {
                group_id: v[0],
                ref_count: v[1],
                packet_count: c[0],
                byte_count: c[1],
                duration_sec: v[2],
                duration_nsec: v[3],
                bucket_stats: b
                    .into_iter()
                    .map(|b| BucketCounter {
                        packet_count: b[0],
                        byte_count: b[1],
                    })
                    .collect(),
            })
    }

    fn arb_group_desc() -> impl Strategy<Value = GroupDesc> {
        (any::<u8>(), any::<u32>(), arb_buckets()).prop_map(|(t, group_id, buckets)| GroupDesc {
            group_type: GroupType(t),
            group_id,
            buckets,
        })
    }

    pub(crate) fn arb_request() -> impl Strategy<Value = MultipartRequest> {
        let meter_req = || any::<u32>().prop_map(|meter_id| MeterMultipartRequest { meter_id });
        let body = prop_oneof![
            Just(MultipartRequestBody::Desc),
            arb_flow_request().prop_map(MultipartRequestBody::Flow),
            arb_flow_request().prop_map(MultipartRequestBody::Aggregate),
            Just(MultipartRequestBody::Table),
            any::<u32>()
                .prop_map(|group_id| MultipartRequestBody::Group(GroupStatsRequest { group_id })),
            any::<u32>()
                .prop_map(|port_no| MultipartRequestBody::PortStats(PortStatsRequest { port_no })),
            any::<[u32; 2]>().prop_map(|v| MultipartRequestBody::Queue(QueueStatsRequest {
                port_no: v[0],
                queue_id: v[1]
            })),
            Just(MultipartRequestBody::GroupDesc),
            Just(MultipartRequestBody::GroupFeatures),
            meter_req().prop_map(MultipartRequestBody::Meter),
            meter_req().prop_map(MultipartRequestBody::MeterConfig),
            Just(MultipartRequestBody::MeterFeatures),
            vec(arb_table_features(), 0..3).prop_map(MultipartRequestBody::TableFeatures),
            Just(MultipartRequestBody::PortDesc),
            arb_experimenter().prop_map(MultipartRequestBody::Experimenter),
        ];
        (0u16..2, body).prop_map(|(flags, body)| MultipartRequest { flags, body })
    }

    pub(crate) fn arb_reply() -> impl Strategy<Value = MultipartReply> {
        let body = prop_oneof![
            arb_desc().prop_map(|d| MultipartReplyBody::Desc(Box::new(d))),
            vec(arb_flow_stats(), 0..4).prop_map(MultipartReplyBody::Flow),
            (any::<[u64; 2]>(), any::<u32>()).prop_map(|(c, flow_count)| {
                MultipartReplyBody::Aggregate(AggregateStatsReply {
                    packet_count: c[0],
                    byte_count: c[1],
                    flow_count,
                })
            }),
            vec(arb_group_stats(), 0..4).prop_map(MultipartReplyBody::Group),
            vec(arb_group_desc(), 0..3).prop_map(MultipartReplyBody::GroupDesc),
            vec(arb_table_stats(), 0..4).prop_map(MultipartReplyBody::Table),
            vec(arb_port_stats(), 0..4).prop_map(MultipartReplyBody::PortStats),
            vec(arb_queue_stats(), 0..4).prop_map(MultipartReplyBody::Queue),
            arb_group_features().prop_map(MultipartReplyBody::GroupFeatures),
            vec(arb_meter_stats(), 0..4).prop_map(MultipartReplyBody::Meter),
            vec(arb_meter_config(), 0..4).prop_map(MultipartReplyBody::MeterConfig),
            arb_meter_features().prop_map(MultipartReplyBody::MeterFeatures),
            vec(arb_table_features(), 0..3).prop_map(MultipartReplyBody::TableFeatures),
            vec(arb_port(), 0..4).prop_map(MultipartReplyBody::PortDesc),
            arb_experimenter().prop_map(MultipartReplyBody::Experimenter),
        ];
        (0u16..2, body).prop_map(|(flags, body)| MultipartReply { flags, body })
    }

    fn encode_reply(r: &MultipartReply) -> Vec<u8> {
        let mut w = Writer::new();
        r.encode(&mut w);
        w.into_inner()
    }

    #[test]
    fn desc_body_is_1056_bytes() {
        let mut w = Writer::new();
        Desc::default().encode(&mut w);
        assert_eq!(w.len(), 1056);
    }

    #[test]
    fn rejects_unknown_multipart_type_with_bad_multipart() {
        let bytes = [0, 99, 0, 0, 0, 0, 0, 0];
        let e = MultipartRequest::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (1, 2));
        let e = MultipartReply::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (1, 2));
    }

    #[test]
    fn rejects_body_on_empty_request_types() {
        let bytes = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let e = MultipartRequest::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (1, 6));
    }

    #[test]
    fn large_port_desc_reply_splits_into_flagged_parts_that_fit() {
        let ports: Vec<Port> = (0..2000u32)
            .map(|i| Port {
                port_no: i,
                ..Port::default()
            })
            .collect();
        let reply = MultipartReply::new(MultipartReplyBody::PortDesc(ports.clone()));
        let parts = reply.clone().split_max();
        assert_eq!(parts.len(), 2);
        for (i, p) in parts.iter().enumerate() {
            assert!(OFP_HEADER_LEN + encode_reply(p).len() <= OFP_MAX_MSG_LEN);
            assert_eq!(p.more(), i + 1 < parts.len());
        }
        let mut re = Reassembler::default();
        let mut done = None;
        for p in parts {
            let len = encode_reply(&p).len();
            if let Reassembled::Complete(r) = re.push(7, p, len).unwrap() {
                done = Some(r);
            }
        }
        assert_eq!(done, Some(reply));
        assert_eq!(re.held_bytes(), 0);
    }

    #[test]
    fn single_structure_reply_is_never_split() {
        let reply = MultipartReply::new(MultipartReplyBody::Desc(Box::default()));
        assert_eq!(reply.clone().split(100), vec![reply]);
    }

    #[test]
    fn empty_array_reply_is_one_part() {
        let reply = MultipartReply::new(MultipartReplyBody::Table(Vec::new()));
        assert_eq!(reply.clone().split_max(), vec![reply]);
    }

    #[test]
    fn reassembly_refuses_mismatched_continuation() {
        let mut re = Reassembler::default();
        let first = MultipartReply {
            flags: OFPMPF_REPLY_MORE,
            body: MultipartReplyBody::Table(Vec::new()),
        };
        assert_eq!(re.push(1, first, 16), Ok(Reassembled::Pending));
        let wrong = MultipartReply::new(MultipartReplyBody::PortDesc(Vec::new()));
        assert_eq!(re.push(1, wrong, 16).unwrap_err().wire(), (1, 2));
        assert!(!re.is_pending(1));
    }

    #[test]
    fn reassembly_is_bounded() {
        let mut re = Reassembler::new(100);
        let part = || MultipartReply {
            flags: OFPMPF_REPLY_MORE,
            body: MultipartReplyBody::Table(Vec::new()),
        };
        assert_eq!(re.push(1, part(), 60), Ok(Reassembled::Pending));
        let e = re.push(1, part(), 60).unwrap_err();
        assert_eq!(e.wire(), (1, 13));
        assert_eq!(re.held_bytes(), 0);
    }

    #[test]
    fn table_features_request_splits_with_req_more() {
        let t = TableFeatures::default();
        let req = MultipartRequest::new(MultipartRequestBody::TableFeatures(vec![t; 5]));
        let parts = req.clone().split(MULTIPART_HEADER_LEN + 128);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].more() && parts[1].more() && !parts[2].more());
        let mut re = Reassembler::default();
        let mut out = None;
        for p in parts {
            if let Reassembled::Complete(r) = re.push(3, p, 0).unwrap() {
                out = Some(r);
            }
        }
        assert_eq!(out, Some(req));
    }

    proptest! {
        #[test]
        fn multipart_requests_round_trip(m in arb_request()) {
            let mut w = Writer::new();
            m.encode(&mut w);
            let d = MultipartRequest::decode(&mut Reader::new(w.as_slice())).unwrap();
            prop_assert_eq!(d, m);
        }

        #[test]
        fn multipart_replies_round_trip(m in arb_reply()) {
            let bytes = encode_reply(&m);
            let d = MultipartReply::decode(&mut Reader::new(&bytes)).unwrap();
            prop_assert_eq!(&d, &m);
        }

        #[test]
        fn split_then_reassemble_is_identity(m in arb_reply(), max in 64usize..400) {
            let m = MultipartReply { flags: 0, ..m };
            let parts = m.clone().split(max);
            let mut re = Reassembler::default();
            let n = parts.len();
            for (i, p) in parts.into_iter().enumerate() {
                let bytes = encode_reply(&p);
                let single = matches!(p.body, MultipartReplyBody::Desc(_) | MultipartReplyBody::GroupFeatures(_) | MultipartReplyBody::Aggregate(_)
                    | MultipartReplyBody::MeterFeatures(_) | MultipartReplyBody::Experimenter(_));
                let fits = OFP_HEADER_LEN + bytes.len() <= max;
                let has_one = match &p.body {
                    MultipartReplyBody::Flow(v) => v.len() == 1,
                    MultipartReplyBody::Group(v) => v.len() == 1,
                    MultipartReplyBody::GroupDesc(v) => v.len() == 1,
                    MultipartReplyBody::Table(v) => v.len() == 1,
                    MultipartReplyBody::PortStats(v) => v.len() == 1,
                    MultipartReplyBody::Queue(v) => v.len() == 1,
                    MultipartReplyBody::Meter(v) => v.len() == 1,
                    MultipartReplyBody::MeterConfig(v) => v.len() == 1,
                    MultipartReplyBody::TableFeatures(v) => v.len() == 1,
                    MultipartReplyBody::PortDesc(v) => v.len() == 1,
                    _ => false,
                };
                prop_assert!(fits || single || has_one);
                let d = MultipartReply::decode(&mut Reader::new(&bytes)).unwrap();
                match re.push(9, d, bytes.len()).unwrap() {
                    Reassembled::Complete(r) => {
                        prop_assert_eq!(i + 1, n);
                        prop_assert_eq!(&r, &m);
                    }
                    Reassembled::Pending => prop_assert!(i + 1 < n),
                }
            }
        }
    }
}
