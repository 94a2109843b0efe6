//! Switch identity and configuration: OFPT_FEATURES_REPLY (§7.3.1) and the
//! `ofp_switch_config` body shared by OFPT_GET_CONFIG_REPLY and
//! OFPT_SET_CONFIG (§7.3.2). FEATURES_REQUEST and GET_CONFIG_REQUEST have
//! empty bodies and need no type of their own.
//!
//! Flag words are kept as plain integers with named bit constants: the
//! switch must echo back bits it does not understand, and a bitflags type
//! that drops unknown bits would not.

use crate::codec::{DecodeError, Reader, Writer};
use crate::header::OrBadLen;

/// `OFPC_FLOW_STATS`: flow statistics.
pub const OFPC_FLOW_STATS: u32 = 1 << 0;
/// `OFPC_TABLE_STATS`: table statistics.
pub const OFPC_TABLE_STATS: u32 = 1 << 1;
/// `OFPC_PORT_STATS`: port statistics.
pub const OFPC_PORT_STATS: u32 = 1 << 2;
/// `OFPC_GROUP_STATS`: group statistics.
pub const OFPC_GROUP_STATS: u32 = 1 << 3;
/// `OFPC_IP_REASM`: can reassemble IP fragments.
pub const OFPC_IP_REASM: u32 = 1 << 5;
/// `OFPC_QUEUE_STATS`: queue statistics.
pub const OFPC_QUEUE_STATS: u32 = 1 << 6;
/// `OFPC_PORT_BLOCKED`: switch will block looping ports.
pub const OFPC_PORT_BLOCKED: u32 = 1 << 8;

/// `OFPC_FRAG_NORMAL`: no special handling of IP fragments.
pub const OFPC_FRAG_NORMAL: u16 = 0;
/// `OFPC_FRAG_DROP`: drop IP fragments.
pub const OFPC_FRAG_DROP: u16 = 1;
/// `OFPC_FRAG_REASM`: reassemble IP fragments.
pub const OFPC_FRAG_REASM: u16 = 2;
/// `OFPC_FRAG_MASK`: the bits of `flags` holding the fragment mode.
pub const OFPC_FRAG_MASK: u16 = 3;

/// `OFPCML_MAX`: largest `miss_send_len` that asks for buffering.
pub const OFPCML_MAX: u16 = 0xffe5;
/// `OFPCML_NO_BUFFER`: send the whole packet, do not buffer it.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// Body length of FEATURES_REPLY.
pub const FEATURES_REPLY_BODY_LEN: usize = 24;
/// Body length of `ofp_switch_config`.
pub const SWITCH_CONFIG_BODY_LEN: usize = 4;

/// OFPT_FEATURES_REPLY (`ofp_switch_features`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FeaturesReply {
    /// Datapath unique ID: low 48 bits a MAC address, top 16 implementer
    /// defined.
    pub datapath_id: u64,
    /// Maximum packets buffered at once.
    pub n_buffers: u32,
    /// Number of tables supported by the datapath.
    pub n_tables: u8,
    /// Identifies an auxiliary connection (0 for the main one).
    pub auxiliary_id: u8,
    /// `OFPC_*` bits.
    pub capabilities: u32,
    /// The reserved word (zero when sent by a 1.3.5 switch; kept so every
    /// reply re-encodes unchanged).
    pub reserved: u32,
}

impl FeaturesReply {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let datapath_id = r.u64().or_bad_len("features: truncated")?;
        let n_buffers = r.u32().or_bad_len("features: truncated")?;
        let n_tables = r.u8().or_bad_len("features: truncated")?;
        let auxiliary_id = r.u8().or_bad_len("features: truncated")?;
        r.skip_padding(2).or_bad_len("features: truncated")?;
        let capabilities = r.u32().or_bad_len("features: truncated")?;
        let reserved = r.u32().or_bad_len("features: truncated")?;
        Ok(Self {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities,
            reserved,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u64(self.datapath_id);
        w.put_u32(self.n_buffers);
        w.put_u8(self.n_tables);
        w.put_u8(self.auxiliary_id);
        w.put_zeros(2);
        w.put_u32(self.capabilities);
        w.put_u32(self.reserved);
    }
}

/// `ofp_switch_config`: body of GET_CONFIG_REPLY and SET_CONFIG.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SwitchConfig {
    /// `OFPC_FRAG_*` in the low bits.
    pub flags: u16,
    /// Bytes of a table-miss packet sent to the controller
    /// (`OFPCML_NO_BUFFER` for all of it).
    pub miss_send_len: u16,
}

impl Default for SwitchConfig {
    /// The specification's default: normal fragment handling, 128 bytes.
    fn default() -> Self {
        Self {
            flags: OFPC_FRAG_NORMAL,
            miss_send_len: 128,
        }
    }
}

impl SwitchConfig {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            flags: r.u16().or_bad_len("switch config: truncated")?,
            miss_send_len: r.u16().or_bad_len("switch config: truncated")?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u16(self.flags);
        w.put_u16(self.miss_send_len);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_features() -> impl Strategy<Value = FeaturesReply> {
        (
            any::<u64>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
        )
            .prop_map(
                |(datapath_id, n_buffers, n_tables, auxiliary_id, capabilities)| FeaturesReply {
                    datapath_id,
                    n_buffers,
                    n_tables,
                    auxiliary_id,
                    capabilities,
                    reserved: 0,
                },
            )
    }

    pub(crate) fn arb_config() -> impl Strategy<Value = SwitchConfig> {
        (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| SwitchConfig {
            flags,
            miss_send_len,
        })
    }

    #[test]
    fn features_reply_layout_matches_the_specification() {
        let f = FeaturesReply {
            datapath_id: 0x0102_0304_0506_0708,
            n_buffers: 256,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: OFPC_FLOW_STATS | OFPC_PORT_STATS,
            reserved: 0,
        };
        let mut w = Writer::new();
        f.encode(&mut w);
        assert_eq!(w.len(), FEATURES_REPLY_BODY_LEN);
        assert_eq!(
            w.as_slice(),
            &[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 0, 254, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]
        );
    }

    #[test]
    fn rejects_truncated_features_reply() {
        let e = FeaturesReply::decode(&mut Reader::new(&[0; 23])).unwrap_err();
        assert_eq!(e.wire(), (1, 6));
    }

    proptest! {
        #[test]
        fn features_and_config_round_trip(f in arb_features(), c in arb_config()) {
            let mut w = Writer::new();
            f.encode(&mut w);
            c.encode(&mut w);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(FeaturesReply::decode(&mut r).unwrap(), f);
            prop_assert_eq!(SwitchConfig::decode(&mut r).unwrap(), c);
            prop_assert!(r.is_empty());
        }
    }
}
