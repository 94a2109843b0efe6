//! OFPT_PACKET_IN (§7.4.1) and OFPT_PACKET_OUT (§7.3.7): packets between
//! the switch and the controller.
//!
//! PACKET_IN carries the packet's pipeline fields as an OXM match (in_port
//! always, then metadata and tunnel id when set), two bytes of padding so
//! that the Ethernet frame's IP header lands 4-byte aligned, and the frame
//! (or its first `max_len` bytes). PACKET_OUT carries its actions with an
//! explicit length so the frame can follow them.

use crate::action::{actions_len, decode_actions, encode_actions, Action};
use crate::codec::{DecodeError, Reader, Writer};
use crate::error::ofp_number;
use crate::oxm::OfpMatch;

/// Bytes of PACKET_IN before the match.
pub const PACKET_IN_FIXED_LEN: usize = 16;
/// Bytes of PACKET_OUT before the actions.
pub const PACKET_OUT_FIXED_LEN: usize = 16;

ofp_number! {
    /// `ofp_packet_in_reason`.
    pub struct PacketInReason(u8) {
        OFPR_NO_MATCH = 0,
        OFPR_ACTION = 1,
        OFPR_INVALID_TTL = 2,
    }
}

/// OFPT_PACKET_IN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketIn {
    /// Buffer holding the whole packet, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// Length of the whole frame.
    pub total_len: u16,
    /// Why the packet is sent.
    pub reason: PacketInReason,
    /// Table of the flow entry that sent it.
    pub table_id: u8,
    /// Cookie of that entry (all ones when none applies).
    pub cookie: u64,
    /// Pipeline fields (`in_port`, `metadata`, `tunnel_id`...).
    pub match_: OfpMatch,
    /// The frame, or its first bytes.
    pub data: Vec<u8>,
}

impl PacketIn {
    /// Decodes the body from `r`, consuming all of it.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part or padding; the match's
    /// decoding errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let short = || DecodeError::bad_len("packet_in: truncated");
        let buffer_id = r.u32().ok_or_else(short)?;
        let total_len = r.u16().ok_or_else(short)?;
        let reason = PacketInReason(r.u8().ok_or_else(short)?);
        let table_id = r.u8().ok_or_else(short)?;
        let cookie = r.u64().ok_or_else(short)?;
        let match_ = OfpMatch::decode(r)?;
        r.skip_padding(2).ok_or_else(short)?;
        Ok(Self {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            match_,
            data: r.rest().to_vec(),
        })
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
        PACKET_IN_FIXED_LEN + self.match_.encoded_len() + 2 + self.data.len()
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.reserve(self.body_len());
        w.put_u32(self.buffer_id);
        w.put_u16(self.total_len);
        w.put_u8(self.reason.0);
        w.put_u8(self.table_id);
        w.put_u64(self.cookie);
        self.match_.encode(w);
        w.put_zeros(2);
        w.put_bytes(&self.data);
    }
}

/// OFPT_PACKET_OUT.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketOut {
    /// Buffer to send, or `OFP_NO_BUFFER` (then `data` is the frame).
    pub buffer_id: u32,
    /// Ingress port the packet is treated as coming from (or
    /// `OFPP_CONTROLLER`).
    pub in_port: u32,
    /// Actions to run on the packet.
    pub actions: Vec<Action>,
    /// The frame when unbuffered.
    pub data: Vec<u8>,
}

impl PacketOut {
    /// Decodes the body from `r`, consuming all of it.
    ///
    /// # Errors
    /// `OFPBRC_BAD_LEN` for a truncated fixed part or an `actions_len`
    /// past the end; the actions' decoding errors.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let short = || DecodeError::bad_len("packet_out: truncated");
        let buffer_id = r.u32().ok_or_else(short)?;
        let in_port = r.u32().ok_or_else(short)?;
        let actions_len = usize::from(r.u16().ok_or_else(short)?);
        r.skip_padding(6).ok_or_else(short)?;
        let mut acts = r.sub(actions_len).ok_or(DecodeError::bad_len(
            "packet_out: actions_len past the end of the message",
        ))?;
        let actions = decode_actions(&mut acts)?;
        Ok(Self {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
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
        PACKET_OUT_FIXED_LEN + actions_len(&self.actions) + self.data.len()
    }

    /// Appends the body.
    ///
    /// The actions must fit the 16-bit `actions_len` (a message is at most
    /// 64 KiB, so any encodable message does).
    pub fn encode(&self, w: &mut Writer) {
        w.reserve(self.body_len());
        w.put_u32(self.buffer_id);
        w.put_u32(self.in_port);
        w.put_u16(u16::try_from(actions_len(&self.actions)).unwrap_or(u16::MAX));
        w.put_zeros(6);
        encode_actions(&self.actions, w);
        w.put_bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::strategies::arb_action;
    use crate::codec::testutil::{check_golden, message};
    use crate::oxm::strategies::arb_match;
    use datapath::flow::Field;
    use proptest::prelude::*;

    fn enc_in(p: &PacketIn) -> Vec<u8> {
        let mut w = Writer::new();
        p.encode(&mut w);
        w.into_inner()
    }

    fn enc_out(p: &PacketOut) -> Vec<u8> {
        let mut w = Writer::new();
        p.encode(&mut w);
        w.into_inner()
    }

    fn arb_packet_in() -> impl Strategy<Value = PacketIn> {
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u64>(),
            arb_match(),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(
                |(buffer_id, total_len, reason, table_id, cookie, match_, data)| PacketIn {
                    buffer_id,
                    total_len,
                    reason: PacketInReason(reason),
                    table_id,
                    cookie,
                    match_,
                    data,
                },
            )
    }

    fn arb_packet_out() -> impl Strategy<Value = PacketOut> {
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_action(), 0..5),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(buffer_id, in_port, actions, data)| PacketOut {
                buffer_id,
                in_port,
                actions,
                data,
            })
    }

    #[test]
    fn packet_in_pads_two_bytes_after_the_match() {
        let p = PacketIn {
            buffer_id: crate::flow_mod::OFP_NO_BUFFER,
            total_len: 3,
            reason: PacketInReason::OFPR_ACTION,
            table_id: 2,
            cookie: u64::MAX,
            match_: OfpMatch::catch_all().exact(Field::InPort, 7),
            data: vec![0xaa, 0xbb, 0xcc],
        };
        let b = enc_in(&p);
        assert_eq!(b.len(), 16 + 16 + 2 + 3);
        assert_eq!(&b[32..], &[0, 0, 0xaa, 0xbb, 0xcc]);
        assert_eq!(PacketIn::decode_body(&b).unwrap(), p);
    }

    #[test]
    fn packet_out_actions_len_separates_actions_from_data() {
        let p = PacketOut {
            buffer_id: crate::flow_mod::OFP_NO_BUFFER,
            in_port: crate::port::OFPP_CONTROLLER,
            actions: vec![Action::Output {
                port: crate::port::OFPP_FLOOD,
                max_len: 0,
            }],
            data: vec![1, 2, 3, 4],
        };
        let b = enc_out(&p);
        assert_eq!(&b[8..10], &[0, 16]);
        assert_eq!(b.len(), 16 + 16 + 4);
        assert_eq!(PacketOut::decode_body(&b).unwrap(), p);
    }

    #[test]
    fn rejects_actions_len_past_the_end_with_bad_len() {
        let mut b = enc_out(&PacketOut {
            buffer_id: 0,
            in_port: 1,
            actions: vec![Action::PopVlan],
            data: vec![],
        });
        b[9] = 16;
        assert_eq!(
            PacketOut::decode_body(&b).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
        assert_eq!(
            PacketOut::decode_body(&b[..10]).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn rejects_packet_in_without_padding_with_bad_len() {
        let p = PacketIn {
            buffer_id: 0,
            total_len: 0,
            reason: PacketInReason::OFPR_NO_MATCH,
            table_id: 0,
            cookie: 0,
            match_: OfpMatch::catch_all(),
            data: vec![],
        };
        let b = enc_in(&p);
        assert_eq!(
            PacketIn::decode_body(&b[..b.len() - 1]).unwrap_err().kind(),
            crate::error::ErrorKind::BAD_LEN
        );
    }

    #[test]
    fn golden_packet_in_with_pipeline_fields() {
        let p = PacketIn {
            buffer_id: crate::flow_mod::OFP_NO_BUFFER,
            total_len: 60,
            reason: PacketInReason::OFPR_ACTION,
            table_id: 1,
            cookie: 0xabcd,
            match_: OfpMatch::catch_all()
                .exact(Field::InPort, 3)
                .exact(Field::Metadata, 0x55)
                .exact(Field::TunnelId, 0x1000),
            data: frame(),
        };
        let b = message(10, 0x20, |w| p.encode(w));
        check_golden("packet_in", &b);
        assert_eq!(PacketIn::decode_body(&b[8..]).unwrap(), p);
    }

    #[test]
    fn golden_packet_out_unbuffered() {
        let p = PacketOut {
            buffer_id: crate::flow_mod::OFP_NO_BUFFER,
            in_port: crate::port::OFPP_CONTROLLER,
            actions: vec![
                Action::PushVlan(0x8100),
                Action::SetField(crate::oxm::OxmField::exact(Field::VlanVid, 0x1000 | 10)),
                Action::Output {
                    port: 1,
                    max_len: 0,
                },
                Action::Output {
                    port: crate::port::OFPP_TABLE,
                    max_len: 0,
                },
            ],
            data: frame(),
        };
        let b = message(13, 0x21, |w| p.encode(w));
        check_golden("packet_out", &b);
        assert_eq!(PacketOut::decode_body(&b[8..]).unwrap(), p);
    }

    /// A 60-byte ARP request frame.
    fn frame() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        f.resize(60, 0);
        f
    }

    proptest! {
        #[test]
        fn packet_in_decode_inverts_encode(p in arb_packet_in()) {
            let b = enc_in(&p);
            prop_assert_eq!(b.len(), p.body_len());
            let d = PacketIn::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &p);
            prop_assert_eq!(enc_in(&d), b);
        }

        #[test]
        fn packet_out_decode_inverts_encode(p in arb_packet_out()) {
            let b = enc_out(&p);
            prop_assert_eq!(b.len(), p.body_len());
            let d = PacketOut::decode_body(&b).unwrap();
            prop_assert_eq!(&d, &p);
            prop_assert_eq!(enc_out(&d), b);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = PacketIn::decode_body(&b);
            let _ = PacketOut::decode_body(&b);
        }
    }
}
