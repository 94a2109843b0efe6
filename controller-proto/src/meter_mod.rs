//! Meters on the wire: OFPT_METER_MOD with its bands (§7.3.4.4) and the
//! METER, METER_CONFIG and METER_FEATURES multipart bodies (§7.3.5.14-16).
//!
//! A band is a TLV whose first twelve bytes (type, length, rate, burst) are
//! common to every band type; the experimenter band may carry data past its
//! experimenter ID, so bands are decoded from a sub-reader of their own
//! length and any extra bytes are kept.

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::{ofp_number, MeterModFailedCode};
use crate::header::OrBadLen;

ofp_number! {
    /// `ofp_meter_mod_command`.
    pub struct MeterModCommand(u16) {
        OFPMC_ADD = 0,
        OFPMC_MODIFY = 1,
        OFPMC_DELETE = 2,
    }
}

ofp_number! {
    /// `ofp_meter_band_type`.
    pub struct MeterBandType(u16) {
        OFPMBT_DROP = 1,
        OFPMBT_DSCP_REMARK = 2,
        OFPMBT_EXPERIMENTER = 0xffff,
    }
}

/// `OFPMF_KBPS`: rates in kb/s.
pub const OFPMF_KBPS: u16 = 1 << 0;
/// `OFPMF_PKTPS`: rates in packets/s.
pub const OFPMF_PKTPS: u16 = 1 << 1;
/// `OFPMF_BURST`: do burst size.
pub const OFPMF_BURST: u16 = 1 << 2;
/// `OFPMF_STATS`: collect statistics.
pub const OFPMF_STATS: u16 = 1 << 3;

/// `OFPM_MAX`: last usable meter.
pub const OFPM_MAX: u32 = 0xffff_0000;
/// `OFPM_SLOWPATH`: meter for the slow datapath.
pub const OFPM_SLOWPATH: u32 = 0xffff_fffd;
/// `OFPM_CONTROLLER`: meter for the controller connection.
pub const OFPM_CONTROLLER: u32 = 0xffff_fffe;
/// `OFPM_ALL`: all meters (requests and delete).
pub const OFPM_ALL: u32 = 0xffff_ffff;

/// Length of a standard band.
pub const METER_BAND_LEN: usize = 16;
/// Length of the fixed part of `ofp_meter_stats`.
pub const METER_STATS_LEN: usize = 40;
/// Length of `ofp_meter_band_stats`.
pub const METER_BAND_STATS_LEN: usize = 16;
/// Length of the fixed part of `ofp_meter_config`.
pub const METER_CONFIG_LEN: usize = 8;
/// Length of `ofp_meter_features`.
pub const METER_FEATURES_LEN: usize = 16;

/// The kind-specific part of a meter band.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum MeterBandKind {
    /// `OFPMBT_DROP`: drop packets over the rate.
    Drop,
    /// `OFPMBT_DSCP_REMARK`: raise the drop precedence of the DSCP.
    DscpRemark {
        /// Number of precedence levels to add.
        prec_level: u8,
    },
    /// `OFPMBT_EXPERIMENTER`.
    Experimenter {
        /// Experimenter ID.
        experimenter: u32,
        /// Experimenter-defined bytes after the ID.
        data: Vec<u8>,
    },
}

/// One meter band.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MeterBand {
    /// Rate for this band (units per the meter's flags).
    pub rate: u32,
    /// Burst size.
    pub burst_size: u32,
    /// What the band does.
    pub kind: MeterBandKind,
}

impl MeterBand {
    /// The band's wire type.
    pub fn band_type(&self) -> MeterBandType {
        match self.kind {
            MeterBandKind::Drop => MeterBandType::OFPMBT_DROP,
            MeterBandKind::DscpRemark { .. } => MeterBandType::OFPMBT_DSCP_REMARK,
            MeterBandKind::Experimenter { .. } => MeterBandType::OFPMBT_EXPERIMENTER,
        }
    }

    /// Decodes one band.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bad_band = |what| DecodeError::of(MeterModFailedCode::OFPMMFC_BAD_BAND, what);
        let ty = MeterBandType(r.u16().or_bad_len("meter band: header")?);
        let len = usize::from(r.u16().or_bad_len("meter band: header")?);
        if len < METER_BAND_LEN || !len.is_multiple_of(8) {
            return Err(DecodeError::bad_len("meter band: bad length"));
        }
        let mut b = r.sub(len - 4).or_bad_len("meter band: overruns")?;
        let rate = b.u32().or_bad_len("meter band: truncated")?;
        let burst_size = b.u32().or_bad_len("meter band: truncated")?;
        let kind = match ty {
            MeterBandType::OFPMBT_DROP => {
                if len != METER_BAND_LEN {
                    return Err(DecodeError::bad_len("meter band: drop length"));
                }
                MeterBandKind::Drop
            }
            MeterBandType::OFPMBT_DSCP_REMARK => {
                if len != METER_BAND_LEN {
                    return Err(DecodeError::bad_len("meter band: dscp remark length"));
                }
                MeterBandKind::DscpRemark {
                    prec_level: b.u8().or_bad_len("meter band: truncated")?,
                }
            }
            MeterBandType::OFPMBT_EXPERIMENTER => MeterBandKind::Experimenter {
                experimenter: b.u32().or_bad_len("meter band: truncated")?,
                data: b.rest().to_vec(),
            },
            _ => return Err(bad_band("meter band: unknown type")),
        };
        Ok(Self {
            rate,
            burst_size,
            kind,
        })
    }

    /// Appends one band (experimenter data is padded to 8 bytes).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(2);
        w.put_u16(self.band_type().0);
        w.put_u16(0);
        w.put_u32(self.rate);
        w.put_u32(self.burst_size);
        match &self.kind {
            MeterBandKind::Drop => w.put_zeros(4),
            MeterBandKind::DscpRemark { prec_level } => {
                w.put_u8(*prec_level);
                w.put_zeros(3);
            }
            MeterBandKind::Experimenter { experimenter, data } => {
                w.put_u32(*experimenter);
                w.put_bytes(data);
                w.pad_from(start, 8);
            }
        }
        let _ = w.finish_len(mark);
    }
}

fn decode_bands(r: &mut Reader<'_>) -> Result<Vec<MeterBand>, DecodeError> {
    let mut bands = Vec::new();
    while !r.is_empty() {
        bands.push(MeterBand::decode(r)?);
    }
    Ok(bands)
}

/// OFPT_METER_MOD.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MeterMod {
    /// Add, modify or delete.
    pub command: MeterModCommand,
    /// `OFPMF_*` bits.
    pub flags: u16,
    /// Meter instance.
    pub meter_id: u32,
    /// Bands (none for delete).
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    /// Decodes the body (bands run to the end of the message).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let command = MeterModCommand(r.u16().or_bad_len("meter mod: truncated")?);
        let flags = r.u16().or_bad_len("meter mod: truncated")?;
        let meter_id = r.u32().or_bad_len("meter mod: truncated")?;
        Ok(Self {
            command,
            flags,
            meter_id,
            bands: decode_bands(r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u16(self.command.0);
        w.put_u16(self.flags);
        w.put_u32(self.meter_id);
        for b in &self.bands {
            b.encode(w);
        }
    }
}

/// `ofp_meter_multipart_request`: body of METER and METER_CONFIG requests.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MeterMultipartRequest {
    /// Meter to report, or `OFPM_ALL`.
    pub meter_id: u32,
}

impl MeterMultipartRequest {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let meter_id = r.u32().or_bad_len("meter request: truncated")?;
        r.skip_padding(4).or_bad_len("meter request: truncated")?;
        Ok(Self { meter_id })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.meter_id);
        w.put_zeros(4);
    }
}

/// `ofp_meter_band_stats`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MeterBandStats {
    /// Packets in band.
    pub packet_band_count: u64,
    /// Bytes in band.
    pub byte_band_count: u64,
}

/// `ofp_meter_stats`: one meter's counters.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MeterStats {
    /// Meter instance.
    pub meter_id: u32,
    /// Flows bound to the meter.
    pub flow_count: u32,
    /// Packets in input.
    pub packet_in_count: u64,
    /// Bytes in input.
    pub byte_in_count: u64,
    /// Time alive, seconds part.
    pub duration_sec: u32,
    /// Time alive beyond `duration_sec`, nanoseconds.
    pub duration_nsec: u32,
    /// One entry per band.
    pub band_stats: Vec<MeterBandStats>,
}

impl MeterStats {
    /// Decodes one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.peek_u16_at(4).or_bad_len("meter stats: truncated")?);
        if len < METER_STATS_LEN || !(len - METER_STATS_LEN).is_multiple_of(METER_BAND_STATS_LEN) {
            return Err(DecodeError::bad_len("meter stats: bad length"));
        }
        let mut b = r.sub(len).or_bad_len("meter stats: overruns")?;
        let meter_id = b.u32().or_bad_len("meter stats: truncated")?;
        let _ = b.u16();
        b.skip_padding(6).or_bad_len("meter stats: truncated")?;
        let flow_count = b.u32().or_bad_len("meter stats: truncated")?;
        let packet_in_count = b.u64().or_bad_len("meter stats: truncated")?;
        let byte_in_count = b.u64().or_bad_len("meter stats: truncated")?;
        let duration_sec = b.u32().or_bad_len("meter stats: truncated")?;
        let duration_nsec = b.u32().or_bad_len("meter stats: truncated")?;
        let mut band_stats = Vec::new();
        while !b.is_empty() {
            band_stats.push(MeterBandStats {
                packet_band_count: b.u64().or_bad_len("meter stats: band")?,
                byte_band_count: b.u64().or_bad_len("meter stats: band")?,
            });
        }
        Ok(Self {
            meter_id,
            flow_count,
            packet_in_count,
            byte_in_count,
            duration_sec,
            duration_nsec,
            band_stats,
        })
    }

    /// Appends one entry.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let mark = w.start_len_u16(4);
        w.put_u32(self.meter_id);
        w.put_u16(0);
        w.put_zeros(6);
        w.put_u32(self.flow_count);
        w.put_u64(self.packet_in_count);
        w.put_u64(self.byte_in_count);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        for s in &self.band_stats {
            w.put_u64(s.packet_band_count);
            w.put_u64(s.byte_band_count);
        }
        debug_assert_eq!(
            w.len() - start,
            METER_STATS_LEN + 16 * self.band_stats.len()
        );
        let _ = w.finish_len(mark);
    }
}

/// `ofp_meter_config`: one meter's configuration.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MeterConfig {
    /// `OFPMF_*` bits.
    pub flags: u16,
    /// Meter instance.
    pub meter_id: u32,
    /// The meter's bands.
    pub bands: Vec<MeterBand>,
}

impl MeterConfig {
    /// Decodes one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.peek_u16_at(0).or_bad_len("meter config: truncated")?);
        if len < METER_CONFIG_LEN {
            return Err(DecodeError::bad_len("meter config: length below 8"));
        }
        let mut b = r.sub(len).or_bad_len("meter config: overruns")?;
        let _ = b.u16();
        let flags = b.u16().or_bad_len("meter config: truncated")?;
        let meter_id = b.u32().or_bad_len("meter config: truncated")?;
        Ok(Self {
            flags,
            meter_id,
            bands: decode_bands(&mut b)?,
        })
    }

    /// Appends one entry.
    pub fn encode(&self, w: &mut Writer) {
        let mark = w.start_len_u16(0);
        w.put_u16(0);
        w.put_u16(self.flags);
        w.put_u32(self.meter_id);
        for b in &self.bands {
            b.encode(w);
        }
        let _ = w.finish_len(mark);
    }
}

/// `ofp_meter_features`: the switch's metering capabilities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MeterFeatures {
    /// Maximum number of meters.
    pub max_meter: u32,
    /// Bitmap of supported band types (`1 << OFPMBT_*`).
    pub band_types: u32,
    /// Bitmap of supported `OFPMF_*` flags.
    pub capabilities: u32,
    /// Maximum bands per meter.
    pub max_bands: u8,
    /// Maximum color value.
    pub max_color: u8,
}

impl MeterFeatures {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let f = Self {
            max_meter: r.u32().or_bad_len("meter features: truncated")?,
            band_types: r.u32().or_bad_len("meter features: truncated")?,
            capabilities: r.u32().or_bad_len("meter features: truncated")?,
            max_bands: r.u8().or_bad_len("meter features: truncated")?,
            max_color: r.u8().or_bad_len("meter features: truncated")?,
        };
        r.skip_padding(2).or_bad_len("meter features: truncated")?;
        Ok(f)
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.max_meter);
        w.put_u32(self.band_types);
        w.put_u32(self.capabilities);
        w.put_u8(self.max_bands);
        w.put_u8(self.max_color);
        w.put_zeros(2);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_band() -> impl Strategy<Value = MeterBand> {
        let kind = prop_oneof![
            Just(MeterBandKind::Drop),
            any::<u8>().prop_map(|prec_level| MeterBandKind::DscpRemark { prec_level }),
            (any::<u32>(), 0usize..3, any::<u64>()).prop_map(|(experimenter, words, fill)| {
                MeterBandKind::Experimenter {
                    experimenter,
                    data: fill.to_be_bytes().repeat(words),
                }
            }),
        ];
        (any::<u32>(), any::<u32>(), kind).prop_map(|(rate, burst_size, kind)| MeterBand {
            rate,
            burst_size,
            kind,
        })
    }

    pub(crate) fn arb_meter_mod() -> impl Strategy<Value = MeterMod> {
        (
            0u16..4,
            any::<u16>(),
            any::<u32>(),
            proptest::collection::vec(arb_band(), 0..4),
        )
            .prop_map(|(command, flags, meter_id, bands)| MeterMod {
                command: MeterModCommand(command),
                flags,
                meter_id,
                bands,
            })
    }

    pub(crate) fn arb_meter_stats() -> impl Strategy<Value = MeterStats> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<[u64; 2]>(),
            any::<[u32; 2]>(),
            proptest::collection::vec(any::<[u64; 2]>(), 0..4),
        )
            .prop_map(|(meter_id, flow_count, c, d, bands)| MeterStats {
                meter_id,
                flow_count,
                packet_in_count: c[0],
                byte_in_count: c[1],
                duration_sec: d[0],
                duration_nsec: d[1],
                band_stats: bands
                    .into_iter()
                    .map(|b| MeterBandStats {
                        packet_band_count: b[0],
                        byte_band_count: b[1],
                    })
                    .collect(),
            })
    }

    pub(crate) fn arb_meter_config() -> impl Strategy<Value = MeterConfig> {
        (
            any::<u16>(),
            any::<u32>(),
            proptest::collection::vec(arb_band(), 0..4),
        )
            .prop_map(|(flags, meter_id, bands)| MeterConfig {
                flags,
                meter_id,
                bands,
            })
    }

    pub(crate) fn arb_meter_features() -> impl Strategy<Value = MeterFeatures> {
        (any::<[u32; 3]>(), any::<u8>(), any::<u8>()).prop_map(|(v, max_bands, max_color)| {
            MeterFeatures {
                max_meter: v[0],
                band_types: v[1],
                capabilities: v[2],
                max_bands,
                max_color,
            }
        })
    }

    #[test]
    fn drop_band_is_sixteen_bytes() {
        let b = MeterBand {
            rate: 1000,
            burst_size: 100,
            kind: MeterBandKind::Drop,
        };
        let mut w = Writer::new();
        b.encode(&mut w);
        assert_eq!(
            w.as_slice(),
            &[0, 1, 0, 16, 0, 0, 3, 0xe8, 0, 0, 0, 100, 0, 0, 0, 0]
        );
    }

    #[test]
    fn rejects_unknown_band_type_with_bad_band() {
        let bytes = [0, 7, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let e = MeterBand::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(e.wire(), (12, 8));
    }

    #[test]
    fn rejects_band_overrunning_the_message() {
        let bytes = [0, 1, 0, 24, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            MeterBand::decode(&mut Reader::new(&bytes))
                .unwrap_err()
                .wire(),
            (1, 6)
        );
    }

    #[test]
    fn fixed_structures_have_their_specified_sizes() {
        let mut w = Writer::new();
        MeterStats::default().encode(&mut w);
        assert_eq!(w.len(), METER_STATS_LEN);
        let mut w = Writer::new();
        MeterFeatures::default().encode(&mut w);
        assert_eq!(w.len(), METER_FEATURES_LEN);
    }

    proptest! {
        #[test]
        fn meter_structures_round_trip(m in arb_meter_mod(), s in arb_meter_stats(),
                                       c in arb_meter_config(), f in arb_meter_features()) {
            let mut w = Writer::new();
            s.encode(&mut w);
            c.encode(&mut w);
            f.encode(&mut w);
            m.encode(&mut w);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(MeterStats::decode(&mut r).unwrap(), s);
            prop_assert_eq!(MeterConfig::decode(&mut r).unwrap(), c);
            prop_assert_eq!(MeterFeatures::decode(&mut r).unwrap(), f);
            prop_assert_eq!(MeterMod::decode(&mut r).unwrap(), m);
            prop_assert!(r.is_empty());
        }
    }
}
