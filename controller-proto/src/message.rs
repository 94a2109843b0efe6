//! [`Message`]: every OpenFlow 1.3 message as one typed value, with
//! [`Message::decode`] from a complete message's bytes and
//! [`Message::encode`] back to them.
//!
//! # Design
//!
//! Decoding is total over its input: any byte string yields either a message
//! or a [`DecodeError`] naming the OpenFlow error the receiver must answer
//! with. The checks run outside-in, so the error is the one the
//! specification asks for:
//!
//! 1. fewer than 8 bytes, or a header length that disagrees with the bytes
//!    given: `OFPBRC_BAD_LEN`;
//! 2. a version other than 0x04: `OFPBRC_BAD_VERSION` (HELLO and ERROR are
//!    accepted at any version, since they are how versions are negotiated
//!    and refused);
//! 3. an unknown type: `OFPBRC_BAD_TYPE`; an unknown multipart type:
//!    `OFPBRC_BAD_MULTIPART`;
//! 4. the body's own structure, which each type's decoder checks, and
//!    finally that the body was consumed exactly (`OFPBRC_BAD_LEN`).
//!
//! Decoders never size an allocation from a count on the wire: every list
//! grows as its elements are read from a reader bounded by the message, so
//! a decode allocates at most a small multiple of the message's length and
//! never panics.
//!
//! Encoding writes the header with a zero length, the body, and patches the
//! length. For every message whose bytes are canonical (zero padding,
//! lengths as this crate writes them), `encode(decode(b)) == b`; for every
//! message value `m` that fits in 65,535 bytes, `decode(encode(m)) == m`.

use crate::codec::{DecodeError, Reader, Writer};
use crate::controller::{
    AsyncConfig, ExperimenterMsg, QueueGetConfigReply, QueueGetConfigRequest, RoleMsg,
};
use crate::error::ErrorMsg;
use crate::flow_mod::FlowMod;
use crate::flow_removed::FlowRemoved;
use crate::group_mod::GroupMod;
use crate::header::{expect_end, Header, MsgType, OFP_HEADER_LEN, OFP_MAX_MSG_LEN, OFP_VERSION};
use crate::hello::Hello;
use crate::meter_mod::MeterMod;
use crate::multipart::{MultipartReply, MultipartRequest};
use crate::packet_io::{PacketIn, PacketOut};
use crate::port::{PortMod, PortStatus};
use crate::switch_config::{FeaturesReply, SwitchConfig};
use crate::table::TableMod;

/// One OpenFlow 1.3 message (header aside).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Message {
    /// OFPT_HELLO.
    Hello(Hello),
    /// OFPT_ERROR.
    Error(ErrorMsg),
    /// OFPT_ECHO_REQUEST with its arbitrary data.
    EchoRequest(Vec<u8>),
    /// OFPT_ECHO_REPLY with the request's data.
    EchoReply(Vec<u8>),
    /// OFPT_EXPERIMENTER.
    Experimenter(ExperimenterMsg),
    /// OFPT_FEATURES_REQUEST.
    FeaturesRequest,
    /// OFPT_FEATURES_REPLY.
    FeaturesReply(FeaturesReply),
    /// OFPT_GET_CONFIG_REQUEST.
    GetConfigRequest,
    /// OFPT_GET_CONFIG_REPLY.
    GetConfigReply(SwitchConfig),
    /// OFPT_SET_CONFIG.
    SetConfig(SwitchConfig),
    /// OFPT_PACKET_IN.
    PacketIn(PacketIn),
    /// OFPT_FLOW_REMOVED.
    FlowRemoved(FlowRemoved),
    /// OFPT_PORT_STATUS.
    PortStatus(Box<PortStatus>),
    /// OFPT_PACKET_OUT.
    PacketOut(PacketOut),
    /// OFPT_FLOW_MOD.
    FlowMod(FlowMod),
    /// OFPT_GROUP_MOD.
    GroupMod(GroupMod),
    /// OFPT_PORT_MOD.
    PortMod(PortMod),
    /// OFPT_TABLE_MOD.
    TableMod(TableMod),
    /// OFPT_MULTIPART_REQUEST.
    MultipartRequest(MultipartRequest),
    /// OFPT_MULTIPART_REPLY.
    MultipartReply(MultipartReply),
    /// OFPT_BARRIER_REQUEST.
    BarrierRequest,
    /// OFPT_BARRIER_REPLY.
    BarrierReply,
    /// OFPT_QUEUE_GET_CONFIG_REQUEST.
    QueueGetConfigRequest(QueueGetConfigRequest),
    /// OFPT_QUEUE_GET_CONFIG_REPLY.
    QueueGetConfigReply(QueueGetConfigReply),
    /// OFPT_ROLE_REQUEST.
    RoleRequest(RoleMsg),
    /// OFPT_ROLE_REPLY.
    RoleReply(RoleMsg),
    /// OFPT_GET_ASYNC_REQUEST.
    GetAsyncRequest,
    /// OFPT_GET_ASYNC_REPLY.
    GetAsyncReply(AsyncConfig),
    /// OFPT_SET_ASYNC.
    SetAsync(AsyncConfig),
    /// OFPT_METER_MOD.
    MeterMod(MeterMod),
}

/// A message too long for the 16-bit length field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[error("message of {0} bytes exceeds the 65535-byte OpenFlow limit")]
pub struct TooLong(pub usize);

impl Message {
    /// The header type of this message.
    pub fn msg_type(&self) -> MsgType {
        use MsgType as T;
        match self {
            Self::Hello(_) => T::OFPT_HELLO,
            Self::Error(_) => T::OFPT_ERROR,
            Self::EchoRequest(_) => T::OFPT_ECHO_REQUEST,
            Self::EchoReply(_) => T::OFPT_ECHO_REPLY,
            Self::Experimenter(_) => T::OFPT_EXPERIMENTER,
            Self::FeaturesRequest => T::OFPT_FEATURES_REQUEST,
            Self::FeaturesReply(_) => T::OFPT_FEATURES_REPLY,
            Self::GetConfigRequest => T::OFPT_GET_CONFIG_REQUEST,
            Self::GetConfigReply(_) => T::OFPT_GET_CONFIG_REPLY,
            Self::SetConfig(_) => T::OFPT_SET_CONFIG,
            Self::PacketIn(_) => T::OFPT_PACKET_IN,
            Self::FlowRemoved(_) => T::OFPT_FLOW_REMOVED,
            Self::PortStatus(_) => T::OFPT_PORT_STATUS,
            Self::PacketOut(_) => T::OFPT_PACKET_OUT,
            Self::FlowMod(_) => T::OFPT_FLOW_MOD,
            Self::GroupMod(_) => T::OFPT_GROUP_MOD,
            Self::PortMod(_) => T::OFPT_PORT_MOD,
            Self::TableMod(_) => T::OFPT_TABLE_MOD,
            Self::MultipartRequest(_) => T::OFPT_MULTIPART_REQUEST,
            Self::MultipartReply(_) => T::OFPT_MULTIPART_REPLY,
            Self::BarrierRequest => T::OFPT_BARRIER_REQUEST,
            Self::BarrierReply => T::OFPT_BARRIER_REPLY,
            Self::QueueGetConfigRequest(_) => T::OFPT_QUEUE_GET_CONFIG_REQUEST,
            Self::QueueGetConfigReply(_) => T::OFPT_QUEUE_GET_CONFIG_REPLY,
            Self::RoleRequest(_) => T::OFPT_ROLE_REQUEST,
            Self::RoleReply(_) => T::OFPT_ROLE_REPLY,
            Self::GetAsyncRequest => T::OFPT_GET_ASYNC_REQUEST,
            Self::GetAsyncReply(_) => T::OFPT_GET_ASYNC_REPLY,
            Self::SetAsync(_) => T::OFPT_SET_ASYNC,
            Self::MeterMod(_) => T::OFPT_METER_MOD,
        }
    }

    /// Decodes one complete message (`bytes` is exactly the message, header
    /// included). See the module documentation for the order of checks.
    pub fn decode(bytes: &[u8]) -> Result<(Header, Self), DecodeError> {
        let header = Header::decode(bytes)?;
        if usize::from(header.length) != bytes.len() {
            return Err(DecodeError::bad_len("header length disagrees with message"));
        }
        if header.version != OFP_VERSION
            && header.msg_type != MsgType::OFPT_HELLO
            && header.msg_type != MsgType::OFPT_ERROR
        {
            return Err(DecodeError::bad_version("version is not 0x04"));
        }
        let mut r = Reader::new(bytes.get(OFP_HEADER_LEN..).unwrap_or(&[]));
        let msg = Self::decode_body(header.msg_type, &mut r)?;
        expect_end(&r, "trailing bytes after message body")?;
        Ok((header, msg))
    }

    /// Decodes a body of type `ty` from `r` (the bytes after the header).
    pub fn decode_body(ty: MsgType, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use MsgType as T;
        Ok(match ty {
            T::OFPT_HELLO => Self::Hello(Hello::decode(r)?),
            T::OFPT_ERROR => Self::Error(ErrorMsg::decode(r)?),
            T::OFPT_ECHO_REQUEST => Self::EchoRequest(r.rest().to_vec()),
            T::OFPT_ECHO_REPLY => Self::EchoReply(r.rest().to_vec()),
            T::OFPT_EXPERIMENTER => Self::Experimenter(ExperimenterMsg::decode(r)?),
            T::OFPT_FEATURES_REQUEST => Self::FeaturesRequest,
            T::OFPT_FEATURES_REPLY => Self::FeaturesReply(FeaturesReply::decode(r)?),
            T::OFPT_GET_CONFIG_REQUEST => Self::GetConfigRequest,
            T::OFPT_GET_CONFIG_REPLY => Self::GetConfigReply(SwitchConfig::decode(r)?),
            T::OFPT_SET_CONFIG => Self::SetConfig(SwitchConfig::decode(r)?),
            T::OFPT_PACKET_IN => Self::PacketIn(PacketIn::decode(r)?),
            T::OFPT_FLOW_REMOVED => Self::FlowRemoved(FlowRemoved::decode(r)?),
            T::OFPT_PORT_STATUS => Self::PortStatus(Box::new(PortStatus::decode(r)?)),
            T::OFPT_PACKET_OUT => Self::PacketOut(PacketOut::decode(r)?),
            T::OFPT_FLOW_MOD => Self::FlowMod(FlowMod::decode(r)?),
            T::OFPT_GROUP_MOD => Self::GroupMod(GroupMod::decode(r)?),
            T::OFPT_PORT_MOD => Self::PortMod(PortMod::decode(r)?),
            T::OFPT_TABLE_MOD => Self::TableMod(TableMod::decode(r)?),
            T::OFPT_MULTIPART_REQUEST => Self::MultipartRequest(MultipartRequest::decode(r)?),
            T::OFPT_MULTIPART_REPLY => Self::MultipartReply(MultipartReply::decode(r)?),
            T::OFPT_BARRIER_REQUEST => Self::BarrierRequest,
            T::OFPT_BARRIER_REPLY => Self::BarrierReply,
            T::OFPT_QUEUE_GET_CONFIG_REQUEST => {
                Self::QueueGetConfigRequest(QueueGetConfigRequest::decode(r)?)
            }
            T::OFPT_QUEUE_GET_CONFIG_REPLY => {
                Self::QueueGetConfigReply(QueueGetConfigReply::decode(r)?)
            }
            T::OFPT_ROLE_REQUEST => Self::RoleRequest(RoleMsg::decode(r)?),
            T::OFPT_ROLE_REPLY => Self::RoleReply(RoleMsg::decode(r)?),
            T::OFPT_GET_ASYNC_REQUEST => Self::GetAsyncRequest,
            T::OFPT_GET_ASYNC_REPLY => Self::GetAsyncReply(AsyncConfig::decode(r)?),
            T::OFPT_SET_ASYNC => Self::SetAsync(AsyncConfig::decode(r)?),
            T::OFPT_METER_MOD => Self::MeterMod(MeterMod::decode(r)?),
            _ => return Err(DecodeError::bad_type("unknown message type")),
        })
    }

    /// Appends the body (everything after the header).
    pub fn encode_body(&self, w: &mut Writer) {
        match self {
            Self::Hello(m) => m.encode(w),
            Self::Error(m) => m.encode(w),
            Self::EchoRequest(d) | Self::EchoReply(d) => w.put_bytes(d),
            Self::Experimenter(m) => m.encode(w),
            Self::FeaturesRequest
            | Self::GetConfigRequest
            | Self::BarrierRequest
            | Self::BarrierReply
            | Self::GetAsyncRequest => {}
            Self::FeaturesReply(m) => m.encode(w),
            Self::GetConfigReply(m) | Self::SetConfig(m) => m.encode(w),
            Self::PacketIn(m) => m.encode(w),
            Self::FlowRemoved(m) => m.encode(w),
            Self::PortStatus(m) => m.encode(w),
            Self::PacketOut(m) => m.encode(w),
            Self::FlowMod(m) => m.encode(w),
            Self::GroupMod(m) => m.encode(w),
            Self::PortMod(m) => m.encode(w),
            Self::TableMod(m) => m.encode(w),
            Self::MultipartRequest(m) => m.encode(w),
            Self::MultipartReply(m) => m.encode(w),
            Self::QueueGetConfigRequest(m) => m.encode(w),
            Self::QueueGetConfigReply(m) => m.encode(w),
            Self::RoleRequest(m) | Self::RoleReply(m) => m.encode(w),
            Self::GetAsyncReply(m) | Self::SetAsync(m) => m.encode(w),
            Self::MeterMod(m) => m.encode(w),
        }
    }

    /// Appends the whole message with transaction id `xid` to `w`, and
    /// returns its length. A message longer than 65,535 bytes is still
    /// written, with its length field saturated; use
    /// [`try_encode`](Self::try_encode) to refuse it instead.
    pub fn encode_into(&self, xid: u32, w: &mut Writer) -> usize {
        let mark = w.start_len_u16(2);
        Header::new(self.msg_type(), 0, xid).encode(w);
        self.encode_body(w);
        w.finish_len(mark)
    }

    /// The whole message with transaction id `xid`.
    pub fn encode(&self, xid: u32) -> Vec<u8> {
        let mut w = Writer::new();
        let _ = self.encode_into(xid, &mut w);
        w.into_inner()
    }

    /// The whole message, or `TooLong` if it exceeds 65,535 bytes.
    pub fn try_encode(&self, xid: u32) -> Result<Vec<u8>, TooLong> {
        let v = self.encode(xid);
        if v.len() > OFP_MAX_MSG_LEN {
            Err(TooLong(v.len()))
        } else {
            Ok(v)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::action::strategies::arb_action;
    use crate::controller::tests::{arb_async, arb_experimenter, arb_queue_reply, arb_role};
    use crate::error::{BadRequestCode, ErrorKind};
    use crate::flow_mod::strategies::arb_flow_mod;
    use crate::flow_removed::FlowRemovedReason;
    use crate::group_mod::strategies::arb_buckets;
    use crate::group_mod::{GroupModCommand, GroupType};
    use crate::hello::tests::arb_hello;
    use crate::meter_mod::tests::arb_meter_mod;
    use crate::multipart::tests::{arb_reply, arb_request};
    use crate::oxm::strategies::arb_match;
    use crate::packet_io::PacketInReason;
    use crate::port::tests::{arb_port_mod, arb_port_status};
    use crate::switch_config::tests::{arb_config, arb_features};
    use crate::table::tests::arb_table_mod;
    use proptest::prelude::*;

    fn arb_packet_in() -> impl Strategy<Value = PacketIn> {
        (
            any::<u32>(),
            any::<u16>(),
            any::<[u8; 2]>(),
            any::<u64>(),
            arb_match(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(buffer_id, total_len, b, cookie, match_, data)| PacketIn {
                buffer_id,
                total_len,
                reason: PacketInReason(b[0]),
                table_id: b[1],
                cookie,
                match_,
                data,
            })
    }

    fn arb_packet_out() -> impl Strategy<Value = PacketOut> {
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_action(), 0..4),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(buffer_id, in_port, actions, data)| PacketOut {
                buffer_id,
                in_port,
                actions,
                data,
            })
    }

    fn arb_flow_removed() -> impl Strategy<Value = FlowRemoved> {
        (
            any::<u64>(),
            any::<u16>(),
            any::<[u8; 2]>(),
            any::<[u32; 2]>(),
            any::<[u16; 2]>(),
            any::<[u64; 2]>(),
            arb_match(),
        )
            .prop_map(|(cookie, priority, b, d, t, c, match_)| FlowRemoved {
                cookie,
                priority,
                reason: FlowRemovedReason(b[0]),
                table_id: b[1],
                duration_sec: d[0],
                duration_nsec: d[1],
                idle_timeout: t[0],
                hard_timeout: t[1],
                packet_count: c[0],
                byte_count: c[1],
                match_,
            })
    }

    fn arb_group_mod() -> impl Strategy<Value = GroupMod> {
        (0u16..4, 0u8..5, any::<u32>(), arb_buckets()).prop_map(
            |(command, group_type, group_id, buckets)| GroupMod {
                command: GroupModCommand(command),
                group_type: GroupType(group_type),
                group_id,
                buckets,
            },
        )
    }

    pub(crate) fn arb_message() -> impl Strategy<Value = Message> {
        let data = || proptest::collection::vec(any::<u8>(), 0..24);
        prop_oneof![
            arb_packet_in().prop_map(Message::PacketIn),
            arb_flow_removed().prop_map(Message::FlowRemoved),
            arb_packet_out().prop_map(Message::PacketOut),
            arb_flow_mod().prop_map(Message::FlowMod),
            arb_group_mod().prop_map(Message::GroupMod),
            arb_hello().prop_map(Message::Hello),
            (0u16..16, any::<u16>(), data()).prop_map(|(t, c, d)| Message::Error(ErrorMsg {
                kind: ErrorKind::from_wire(t, c),
                data: d
            })),
            data().prop_map(Message::EchoRequest),
            data().prop_map(Message::EchoReply),
            arb_experimenter().prop_map(Message::Experimenter),
            Just(Message::FeaturesRequest),
            arb_features().prop_map(Message::FeaturesReply),
            Just(Message::GetConfigRequest),
            arb_config().prop_map(Message::GetConfigReply),
            arb_config().prop_map(Message::SetConfig),
            arb_port_status().prop_map(|p| Message::PortStatus(Box::new(p))),
            arb_port_mod().prop_map(Message::PortMod),
            arb_table_mod().prop_map(Message::TableMod),
            arb_request().prop_map(Message::MultipartRequest),
            arb_reply().prop_map(Message::MultipartReply),
            Just(Message::BarrierRequest),
            Just(Message::BarrierReply),
            any::<u32>()
                .prop_map(|port| Message::QueueGetConfigRequest(QueueGetConfigRequest { port })),
            arb_queue_reply().prop_map(Message::QueueGetConfigReply),
            arb_role().prop_map(Message::RoleRequest),
            arb_role().prop_map(Message::RoleReply),
            Just(Message::GetAsyncRequest),
            arb_async().prop_map(Message::GetAsyncReply),
            arb_async().prop_map(Message::SetAsync),
            arb_meter_mod().prop_map(Message::MeterMod),
        ]
    }

    fn err_of(bytes: &[u8]) -> ErrorKind {
        Message::decode(bytes).unwrap_err().kind()
    }

    #[test]
    fn barrier_request_is_a_bare_header() {
        assert_eq!(
            Message::BarrierRequest.encode(0x0102_0304),
            [4, 20, 0, 8, 1, 2, 3, 4]
        );
    }

    #[test]
    fn rejects_length_mismatch_with_bad_len() {
        let mut b = Message::EchoRequest(vec![1, 2, 3]).encode(1);
        b.push(0);
        assert_eq!(err_of(&b), BadRequestCode::OFPBRC_BAD_LEN.into());
        assert_eq!(err_of(&b[..5]), BadRequestCode::OFPBRC_BAD_LEN.into());
    }

    #[test]
    fn rejects_other_versions_with_bad_version() {
        let mut b = Message::FeaturesRequest.encode(1);
        b[0] = 1;
        assert_eq!(err_of(&b), BadRequestCode::OFPBRC_BAD_VERSION.into());
    }

    #[test]
    fn accepts_hello_of_any_version() {
        let (h, m) = Message::decode(&[1, 0, 0, 8, 0, 0, 0, 9]).unwrap();
        assert_eq!(h.version, 1);
        assert_eq!(m, Message::Hello(Hello::default()));
    }

    #[test]
    fn rejects_unknown_type_with_bad_type() {
        assert_eq!(
            err_of(&[4, 30, 0, 8, 0, 0, 0, 1]),
            BadRequestCode::OFPBRC_BAD_TYPE.into()
        );
    }

    #[test]
    fn rejects_trailing_bytes_with_bad_len() {
        assert_eq!(
            err_of(&[4, 5, 0, 9, 0, 0, 0, 1, 0]),
            BadRequestCode::OFPBRC_BAD_LEN.into()
        );
    }

    #[test]
    fn oversized_message_is_refused_by_try_encode() {
        let m = Message::EchoRequest(vec![0; OFP_MAX_MSG_LEN]);
        assert_eq!(m.try_encode(1), Err(TooLong(OFP_MAX_MSG_LEN + 8)));
    }

    proptest! {
        #[test]
        fn messages_round_trip(m in arb_message(), xid: u32) {
            let b = m.encode(xid);
            let (h, d) = Message::decode(&b).unwrap();
            prop_assert_eq!(h, Header::new(m.msg_type(), u16::try_from(b.len()).unwrap(), xid));
            prop_assert_eq!(&d, &m);
            prop_assert_eq!(d.encode(xid), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(mut b in proptest::collection::vec(any::<u8>(), 8..200), ty in 0u8..32) {
            b[0] = 4;
            b[1] = ty;
            let len = u16::try_from(b.len()).unwrap().to_be_bytes();
            b[2] = len[0];
            b[3] = len[1];
            if let Ok((_, m)) = Message::decode(&b) {
                let again = m.encode(0);
                prop_assert_eq!(Message::decode(&again).map(|(_, m)| m), Ok(m));
            }
        }
    }
}
