//! Controller-session messages: ROLE_REQUEST/REPLY (§7.3.9), GET_ASYNC /
//! SET_ASYNC (§7.3.10), QUEUE_GET_CONFIG (§7.3.6) with its queue
//! properties (§7.2.2), and the EXPERIMENTER message (§7.5.4). ECHO
//! carries raw bytes and BARRIER is empty, so neither needs a type here.
//!
//! These are the messages that configure the conversation rather than the
//! pipeline; they are small fixed layouts except the queue configuration,
//! which nests TLV properties inside length-prefixed queue records.

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::ofp_number;
use crate::header::OrBadLen;

ofp_number! {
    /// `ofp_controller_role`.
    pub struct ControllerRole(u32) {
        OFPCR_ROLE_NOCHANGE = 0,
        OFPCR_ROLE_EQUAL = 1,
        OFPCR_ROLE_MASTER = 2,
        OFPCR_ROLE_SLAVE = 3,
    }
}

/// Body of ROLE_REQUEST and ROLE_REPLY (`ofp_role_request`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RoleMsg {
    /// Requested (or granted) role.
    pub role: ControllerRole,
    /// Master election generation id.
    pub generation_id: u64,
}

impl RoleMsg {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let role = ControllerRole(r.u32().or_bad_len("role: truncated")?);
        r.skip_padding(4).or_bad_len("role: truncated")?;
        let generation_id = r.u64().or_bad_len("role: truncated")?;
        Ok(Self {
            role,
            generation_id,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.role.0);
        w.put_zeros(4);
        w.put_u64(self.generation_id);
    }
}

/// Body of GET_ASYNC_REPLY and SET_ASYNC (`ofp_async_config`).
///
/// Index 0 of each pair applies when the controller is master or equal,
/// index 1 when it is slave. Each mask has bit `1 << reason` set for every
/// reason the controller wants to receive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct AsyncConfig {
    /// `OFPR_*` reasons of PACKET_IN.
    pub packet_in_mask: [u32; 2],
    /// `OFPPR_*` reasons of PORT_STATUS.
    pub port_status_mask: [u32; 2],
    /// `OFPRR_*` reasons of FLOW_REMOVED.
    pub flow_removed_mask: [u32; 2],
}

impl AsyncConfig {
    /// The specification's default for a master/equal (index 0) and slave
    /// (index 1) controller: everything but `OFPR_INVALID_TTL` packet-ins
    /// for masters, only port status for slaves.
    pub fn spec_default() -> Self {
        Self {
            packet_in_mask: [0b011, 0],
            port_status_mask: [0b111, 0b111],
            flow_removed_mask: [0b1111, 0],
        }
    }

    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut pair = || -> Result<[u32; 2], DecodeError> {
            Ok([
                r.u32().or_bad_len("async config: truncated")?,
                r.u32().or_bad_len("async config: truncated")?,
            ])
        };
        Ok(Self {
            packet_in_mask: pair()?,
            port_status_mask: pair()?,
            flow_removed_mask: pair()?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        for v in self
            .packet_in_mask
            .iter()
            .chain(&self.port_status_mask)
            .chain(&self.flow_removed_mask)
        {
            w.put_u32(*v);
        }
    }
}

/// Body of QUEUE_GET_CONFIG_REQUEST.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct QueueGetConfigRequest {
    /// Port to query (`OFPP_ANY` for all ports).
    pub port: u32,
}

impl QueueGetConfigRequest {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port = r.u32().or_bad_len("queue get config: truncated")?;
        r.skip_padding(4)
            .or_bad_len("queue get config: truncated")?;
        Ok(Self { port })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port);
        w.put_zeros(4);
    }
}

ofp_number! {
    /// `ofp_queue_properties`.
    pub struct QueuePropType(u16) {
        OFPQT_MIN_RATE = 1,
        OFPQT_MAX_RATE = 2,
        OFPQT_EXPERIMENTER = 0xffff,
    }
}

/// One queue property.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum QueueProp {
    /// `OFPQT_MIN_RATE`, in 1/10 of a percent; above 1000 disabled.
    MinRate(u16),
    /// `OFPQT_MAX_RATE`, in 1/10 of a percent; above 1000 disabled.
    MaxRate(u16),
    /// `OFPQT_EXPERIMENTER`.
    Experimenter {
        /// Experimenter ID.
        experimenter: u32,
        /// Experimenter-defined data.
        data: Vec<u8>,
    },
    /// A property type 1.3 does not define, carried unchanged.
    Unknown {
        /// Property type.
        ty: QueuePropType,
        /// Bytes after the 8-byte property header.
        data: Vec<u8>,
    },
}

impl QueueProp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ty = QueuePropType(r.u16().or_bad_len("queue prop: header")?);
        let len = usize::from(r.u16().or_bad_len("queue prop: header")?);
        let body_len = len
            .checked_sub(8)
            .or_bad_len("queue prop: length below 8")?;
        r.skip_padding(4).or_bad_len("queue prop: header")?;
        let mut b = r.sub(body_len).or_bad_len("queue prop: overruns")?;
        Ok(match ty {
            QueuePropType::OFPQT_MIN_RATE | QueuePropType::OFPQT_MAX_RATE => {
                if body_len != 8 {
                    return Err(DecodeError::bad_len("queue prop: rate length"));
                }
                let rate = b.u16().or_bad_len("queue prop: truncated")?;
                if ty == QueuePropType::OFPQT_MIN_RATE {
                    Self::MinRate(rate)
                } else {
                    Self::MaxRate(rate)
                }
            }
            QueuePropType::OFPQT_EXPERIMENTER => {
                let experimenter = b.u32().or_bad_len("queue prop: truncated")?;
                b.skip_padding(4).or_bad_len("queue prop: truncated")?;
                Self::Experimenter {
                    experimenter,
                    data: b.rest().to_vec(),
                }
            }
            ty => Self::Unknown {
                ty,
                data: b.rest().to_vec(),
            },
        })
    }

    fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(2);
        let (ty, rate) = match self {
            Self::MinRate(r) => (QueuePropType::OFPQT_MIN_RATE, Some(*r)),
            Self::MaxRate(r) => (QueuePropType::OFPQT_MAX_RATE, Some(*r)),
            Self::Experimenter { .. } => (QueuePropType::OFPQT_EXPERIMENTER, None),
            Self::Unknown { ty, .. } => (*ty, None),
        };
        w.put_u16(ty.0);
        w.put_u16(0);
        w.put_zeros(4);
        if let Some(rate) = rate {
            w.put_u16(rate);
            w.put_zeros(6);
        }
        match self {
            Self::Experimenter { experimenter, data } => {
                w.put_u32(*experimenter);
                w.put_zeros(4);
                w.put_bytes(data);
            }
            Self::Unknown { data, .. } => w.put_bytes(data),
            Self::MinRate(_) | Self::MaxRate(_) => {}
        }
        let _ = w.finish_len(mark);
    }
}

/// `ofp_packet_queue`: one queue and its properties.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PacketQueue {
    /// Queue id.
    pub queue_id: u32,
    /// Port the queue is attached to.
    pub port: u32,
    /// Properties in wire order.
    pub properties: Vec<QueueProp>,
}

impl PacketQueue {
    /// Decodes one queue record.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.peek_u16_at(8).or_bad_len("queue: truncated")?);
        if len < 16 {
            return Err(DecodeError::bad_len("queue: length below 16"));
        }
        let mut b = r.sub(len).or_bad_len("queue: overruns")?;
        let queue_id = b.u32().or_bad_len("queue: truncated")?;
        let port = b.u32().or_bad_len("queue: truncated")?;
        let _ = b.u16();
        b.skip_padding(6).or_bad_len("queue: truncated")?;
        let mut properties = Vec::new();
        while !b.is_empty() {
            properties.push(QueueProp::decode(&mut b)?);
        }
        Ok(Self {
            queue_id,
            port,
            properties,
        })
    }

    /// Appends one queue record.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(8);
        w.put_u32(self.queue_id);
        w.put_u32(self.port);
        w.put_u16(0);
        w.put_zeros(6);
        for p in &self.properties {
            p.encode(w);
        }
        debug_assert!(w.len() - start >= 16);
        let _ = w.finish_len(mark);
    }
}

/// Body of QUEUE_GET_CONFIG_REPLY.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct QueueGetConfigReply {
    /// Port that was queried.
    pub port: u32,
    /// Its queues.
    pub queues: Vec<PacketQueue>,
}

impl QueueGetConfigReply {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port = r.u32().or_bad_len("queue config reply: truncated")?;
        r.skip_padding(4)
            .or_bad_len("queue config reply: truncated")?;
        let mut queues = Vec::new();
        while !r.is_empty() {
            queues.push(PacketQueue::decode(r)?);
        }
        Ok(Self { port, queues })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port);
        w.put_zeros(4);
        for q in &self.queues {
            q.encode(w);
        }
    }
}

/// OFPT_EXPERIMENTER (`ofp_experimenter_header` and its data); the same
/// layout is the body of an EXPERIMENTER multipart request or reply.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ExperimenterMsg {
    /// Experimenter ID (an IEEE OUI in the low 24 bits, or an ONF-assigned
    /// value).
    pub experimenter: u32,
    /// Experimenter-defined type.
    pub exp_type: u32,
    /// Experimenter-defined data.
    pub data: Vec<u8>,
}

impl ExperimenterMsg {
    /// Decodes the body (data runs to the end).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            experimenter: r.u32().or_bad_len("experimenter: truncated")?,
            exp_type: r.u32().or_bad_len("experimenter: truncated")?,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.experimenter);
        w.put_u32(self.exp_type);
        w.put_bytes(&self.data);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_role() -> impl Strategy<Value = RoleMsg> {
        (0u32..5, any::<u64>()).prop_map(|(role, generation_id)| RoleMsg {
            role: ControllerRole(role),
            generation_id,
        })
    }

    pub(crate) fn arb_async() -> impl Strategy<Value = AsyncConfig> {
        any::<[u32; 6]>().prop_map(|v| AsyncConfig {
            packet_in_mask: [v[0], v[1]],
            port_status_mask: [v[2], v[3]],
            flow_removed_mask: [v[4], v[5]],
        })
    }

    fn arb_queue_prop() -> impl Strategy<Value = QueueProp> {
        prop_oneof![
            any::<u16>().prop_map(QueueProp::MinRate),
            any::<u16>().prop_map(QueueProp::MaxRate),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..9))
                .prop_map(|(experimenter, data)| QueueProp::Experimenter { experimenter, data }),
            (3u16..0xffff, proptest::collection::vec(any::<u8>(), 0..9)).prop_map(|(ty, data)| {
                QueueProp::Unknown {
                    ty: QueuePropType(ty),
                    data,
                }
            }),
        ]
    }

    pub(crate) fn arb_queue_reply() -> impl Strategy<Value = QueueGetConfigReply> {
        let queue = (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_queue_prop(), 0..3),
        )
            .prop_map(|(queue_id, port, properties)| PacketQueue {
                queue_id,
                port,
                properties,
            });
        (any::<u32>(), proptest::collection::vec(queue, 0..3))
            .prop_map(|(port, queues)| QueueGetConfigReply { port, queues })
    }

    pub(crate) fn arb_experimenter() -> impl Strategy<Value = ExperimenterMsg> {
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..16),
        )
            .prop_map(|(experimenter, exp_type, data)| ExperimenterMsg {
                experimenter,
                exp_type,
                data,
            })
    }

    #[test]
    fn min_rate_property_is_sixteen_bytes() {
        let q = PacketQueue {
            queue_id: 1,
            port: 2,
            properties: vec![QueueProp::MinRate(500)],
        };
        let mut w = Writer::new();
        q.encode(&mut w);
        assert_eq!(
            w.as_slice(),
            &[
                0, 0, 0, 1, 0, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, //
                0, 1, 0, 16, 0, 0, 0, 0, 1, 0xf4, 0, 0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn rejects_queue_property_shorter_than_its_header() {
        let bytes = [0, 1, 0, 4, 0, 0, 0, 0];
        assert!(QueueProp::decode(&mut Reader::new(&bytes)).is_err());
    }

    proptest! {
        #[test]
        fn controller_bodies_round_trip(role in arb_role(), a in arb_async(),
                                        q in arb_queue_reply(), e in arb_experimenter()) {
            let mut w = Writer::new();
            role.encode(&mut w);
            a.encode(&mut w);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(RoleMsg::decode(&mut r).unwrap(), role);
            prop_assert_eq!(AsyncConfig::decode(&mut r).unwrap(), a);
            let mut w = Writer::new();
            q.encode(&mut w);
            prop_assert_eq!(QueueGetConfigReply::decode(&mut Reader::new(w.as_slice())).unwrap(), q);
            let mut w = Writer::new();
            e.encode(&mut w);
            prop_assert_eq!(ExperimenterMsg::decode(&mut Reader::new(w.as_slice())).unwrap(), e);
        }
    }
}
