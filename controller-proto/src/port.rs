//! Ports on the wire: `ofp_port` (§7.2.1), OFPT_PORT_STATUS (§7.4.3),
//! OFPT_PORT_MOD (§7.3.3), and the PORT_STATS and PORT_DESC multipart
//! bodies (§7.3.5.6, §7.3.5.7).
//!
//! Port numbers, config, state and feature words are plain integers with
//! named constants: the reserved port numbers are values of the same
//! 32-bit space as physical ports, and unknown bits must survive a round
//! trip.

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::ofp_number;
use crate::header::{FixedStr, OrBadLen};

/// `OFPP_MAX`: the last physical port number.
pub const OFPP_MAX: u32 = 0xffff_ff00;
/// `OFPP_IN_PORT`: send the packet out the port it came in on.
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
/// `OFPP_TABLE`: submit the packet to the first flow table (packet-out only).
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// `OFPP_NORMAL`: forward using the traditional L2/L3 pipeline.
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
/// `OFPP_FLOOD`: all ports except input and those with flooding disabled.
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
/// `OFPP_ALL`: all ports except the input port.
pub const OFPP_ALL: u32 = 0xffff_fffc;
/// `OFPP_CONTROLLER`: send to the controller.
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// `OFPP_LOCAL`: the switch's local networking stack.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
/// `OFPP_ANY`: wildcard port in requests.
pub const OFPP_ANY: u32 = 0xffff_ffff;

/// `OFPPC_PORT_DOWN`: port is administratively down.
pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
/// `OFPPC_NO_RECV`: drop all packets received by the port.
pub const OFPPC_NO_RECV: u32 = 1 << 2;
/// `OFPPC_NO_FWD`: drop packets forwarded to the port.
pub const OFPPC_NO_FWD: u32 = 1 << 5;
/// `OFPPC_NO_PACKET_IN`: do not send packet-in messages for the port.
pub const OFPPC_NO_PACKET_IN: u32 = 1 << 6;

/// `OFPPS_LINK_DOWN`: no physical link present.
pub const OFPPS_LINK_DOWN: u32 = 1 << 0;
/// `OFPPS_BLOCKED`: port is blocked.
pub const OFPPS_BLOCKED: u32 = 1 << 1;
/// `OFPPS_LIVE`: live for fast failover groups.
pub const OFPPS_LIVE: u32 = 1 << 2;

/// `OFPPF_10MB_HD`.
pub const OFPPF_10MB_HD: u32 = 1 << 0;
/// `OFPPF_10MB_FD`.
pub const OFPPF_10MB_FD: u32 = 1 << 1;
/// `OFPPF_100MB_HD`.
pub const OFPPF_100MB_HD: u32 = 1 << 2;
/// `OFPPF_100MB_FD`.
pub const OFPPF_100MB_FD: u32 = 1 << 3;
/// `OFPPF_1GB_HD`.
pub const OFPPF_1GB_HD: u32 = 1 << 4;
/// `OFPPF_1GB_FD`.
pub const OFPPF_1GB_FD: u32 = 1 << 5;
/// `OFPPF_10GB_FD`.
pub const OFPPF_10GB_FD: u32 = 1 << 6;
/// `OFPPF_40GB_FD`.
pub const OFPPF_40GB_FD: u32 = 1 << 7;
/// `OFPPF_100GB_FD`.
pub const OFPPF_100GB_FD: u32 = 1 << 8;
/// `OFPPF_1TB_FD`.
pub const OFPPF_1TB_FD: u32 = 1 << 9;
/// `OFPPF_OTHER`.
pub const OFPPF_OTHER: u32 = 1 << 10;
/// `OFPPF_COPPER`.
pub const OFPPF_COPPER: u32 = 1 << 11;
/// `OFPPF_FIBER`.
pub const OFPPF_FIBER: u32 = 1 << 12;
/// `OFPPF_AUTONEG`.
pub const OFPPF_AUTONEG: u32 = 1 << 13;
/// `OFPPF_PAUSE`.
pub const OFPPF_PAUSE: u32 = 1 << 14;
/// `OFPPF_PAUSE_ASYM`.
pub const OFPPF_PAUSE_ASYM: u32 = 1 << 15;

/// Length of `ofp_port`.
pub const PORT_LEN: usize = 64;
/// Length of `ofp_port_stats`.
pub const PORT_STATS_LEN: usize = 112;
/// Body length of OFPT_PORT_MOD.
pub const PORT_MOD_BODY_LEN: usize = 32;
/// Body length of OFPT_PORT_STATUS.
pub const PORT_STATUS_BODY_LEN: usize = 72;

/// `OFP_MAX_PORT_NAME_LEN`.
pub const OFP_MAX_PORT_NAME_LEN: usize = 16;

/// An Ethernet address.
pub type HwAddr = [u8; 6];

/// `ofp_port`: a port's description.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Port {
    /// Port number.
    pub port_no: u32,
    /// Ethernet address.
    pub hw_addr: HwAddr,
    /// Human-readable name.
    pub name: FixedStr<OFP_MAX_PORT_NAME_LEN>,
    /// `OFPPC_*` bits.
    pub config: u32,
    /// `OFPPS_*` bits.
    pub state: u32,
    /// Current features (`OFPPF_*`).
    pub curr: u32,
    /// Features advertised by the port.
    pub advertised: u32,
    /// Features supported by the port.
    pub supported: u32,
    /// Features advertised by the peer.
    pub peer: u32,
    /// Current bitrate in kbps.
    pub curr_speed: u32,
    /// Maximum bitrate in kbps.
    pub max_speed: u32,
}

impl Port {
    /// Decodes one `ofp_port`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r).or_bad_len("port: truncated")
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let port_no = r.u32()?;
        r.skip_padding(4)?;
        let hw_addr = r.array::<6>()?;
        r.skip_padding(2)?;
        Some(Self {
            port_no,
            hw_addr,
            name: FixedStr::read(r)?,
            config: r.u32()?,
            state: r.u32()?,
            curr: r.u32()?,
            advertised: r.u32()?,
            supported: r.u32()?,
            peer: r.u32()?,
            curr_speed: r.u32()?,
            max_speed: r.u32()?,
        })
    }

    /// Appends one `ofp_port`.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        w.put_bytes(&self.hw_addr);
        w.put_zeros(2);
        self.name.write(w);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            w.put_u32(v);
        }
    }
}

ofp_number! {
    /// `ofp_port_reason`: why a PORT_STATUS was sent.
    pub struct PortReason(u8) {
        OFPPR_ADD = 0,
        OFPPR_DELETE = 1,
        OFPPR_MODIFY = 2,
    }
}

/// OFPT_PORT_STATUS.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PortStatus {
    /// Why the port changed.
    pub reason: PortReason,
    /// The port as it now is.
    pub desc: Port,
}

impl PortStatus {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let reason = PortReason(r.u8().or_bad_len("port status: truncated")?);
        r.skip_padding(7).or_bad_len("port status: truncated")?;
        Ok(Self {
            reason,
            desc: Port::decode(r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u8(self.reason.0);
        w.put_zeros(7);
        self.desc.encode(w);
    }
}

/// OFPT_PORT_MOD.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PortMod {
    /// Port to modify.
    pub port_no: u32,
    /// Must match the port's address (a sanity check, not a change).
    pub hw_addr: HwAddr,
    /// New `OFPPC_*` values for the bits set in `mask`.
    pub config: u32,
    /// `OFPPC_*` bits to change.
    pub mask: u32,
    /// `OFPPF_*` features to advertise; zero leaves them unchanged.
    pub advertise: u32,
}

impl PortMod {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r).or_bad_len("port mod: truncated")
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let port_no = r.u32()?;
        r.skip_padding(4)?;
        let hw_addr = r.array::<6>()?;
        r.skip_padding(2)?;
        let config = r.u32()?;
        let mask = r.u32()?;
        let advertise = r.u32()?;
        r.skip_padding(4)?;
        Some(Self {
            port_no,
            hw_addr,
            config,
            mask,
            advertise,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        w.put_bytes(&self.hw_addr);
        w.put_zeros(2);
        w.put_u32(self.config);
        w.put_u32(self.mask);
        w.put_u32(self.advertise);
        w.put_zeros(4);
    }
}

/// `ofp_port_stats_request` (also the shape of the QUEUE_GET_CONFIG
/// request's port field): which port, or `OFPP_ANY`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PortStatsRequest {
    /// Port to report, `OFPP_ANY` for all.
    pub port_no: u32,
}

impl PortStatsRequest {
    /// Decodes the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port_no = r.u32().or_bad_len("port stats request: truncated")?;
        r.skip_padding(4)
            .or_bad_len("port stats request: truncated")?;
        Ok(Self { port_no })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
    }
}

/// `ofp_port_stats`: one port's counters. Unavailable counters are all ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PortStats {
    /// Port number.
    pub port_no: u32,
    /// Received packets.
    pub rx_packets: u64,
    /// Transmitted packets.
    pub tx_packets: u64,
    /// Received bytes.
    pub rx_bytes: u64,
    /// Transmitted bytes.
    pub tx_bytes: u64,
    /// Packets dropped by RX.
    pub rx_dropped: u64,
    /// Packets dropped by TX.
    pub tx_dropped: u64,
    /// Receive errors (superset of the more specific ones).
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Frame alignment errors.
    pub rx_frame_err: u64,
    /// Packets with RX overrun.
    pub rx_over_err: u64,
    /// CRC errors.
    pub rx_crc_err: u64,
    /// Collisions.
    pub collisions: u64,
    /// Time the port has been alive, seconds part.
    pub duration_sec: u32,
    /// Time the port has been alive beyond `duration_sec`, nanoseconds.
    pub duration_nsec: u32,
}

impl PortStats {
    /// Decodes one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r).or_bad_len("port stats: truncated")
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let port_no = r.u32()?;
        r.skip_padding(4)?;
        Some(Self {
            port_no,
            rx_packets: r.u64()?,
            tx_packets: r.u64()?,
            rx_bytes: r.u64()?,
            tx_bytes: r.u64()?,
            rx_dropped: r.u64()?,
            tx_dropped: r.u64()?,
            rx_errors: r.u64()?,
            tx_errors: r.u64()?,
            rx_frame_err: r.u64()?,
            rx_over_err: r.u64()?,
            rx_crc_err: r.u64()?,
            collisions: r.u64()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }

    /// Appends one entry.
    pub fn encode(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        for v in [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ] {
            w.put_u64(v);
        }
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_name<const N: usize>() -> impl Strategy<Value = FixedStr<N>> {
        "[a-z0-9-]{0,12}".prop_map(|s| FixedStr::new(&s))
    }

    pub(crate) fn arb_port() -> impl Strategy<Value = Port> {
        (
            any::<u32>(),
            any::<[u8; 6]>(),
            arb_name(),
            any::<[u32; 8]>(),
        )
            .prop_map(|(port_no, hw_addr, name, v)| Port {
                port_no,
                hw_addr,
                name,
                config: v[0],
                state: v[1],
                curr: v[2],
                advertised: v[3],
                supported: v[4],
                peer: v[5],
                curr_speed: v[6],
                max_speed: v[7],
            })
    }

    pub(crate) fn arb_port_status() -> impl Strategy<Value = PortStatus> {
        (any::<u8>(), arb_port()).prop_map(|(reason, desc)| PortStatus {
            reason: PortReason(reason),
            desc,
        })
    }

    pub(crate) fn arb_port_mod() -> impl Strategy<Value = PortMod> {
        (any::<u32>(), any::<[u8; 6]>(), any::<[u32; 3]>()).prop_map(|(port_no, hw_addr, v)| {
            PortMod {
                port_no,
                hw_addr,
                config: v[0],
                mask: v[1],
                advertise: v[2],
            }
        })
    }

    pub(crate) fn arb_port_stats() -> impl Strategy<Value = PortStats> {
        (any::<u32>(), any::<[u64; 12]>(), any::<u32>(), any::<u32>()).prop_map(
            |(port_no, c, duration_sec, duration_nsec)| PortStats {
                port_no,
                rx_packets: c[0],
                tx_packets: c[1],
                rx_bytes: c[2],
                tx_bytes: c[3],
                rx_dropped: c[4],
                tx_dropped: c[5],
                rx_errors: c[6],
                tx_errors: c[7],
                rx_frame_err: c[8],
                rx_over_err: c[9],
                rx_crc_err: c[10],
                collisions: c[11],
                duration_sec,
                duration_nsec,
            },
        )
    }

    #[test]
    fn structures_have_their_specified_sizes() {
        let mut w = Writer::new();
        Port::default().encode(&mut w);
        assert_eq!(w.len(), PORT_LEN);
        let mut w = Writer::new();
        PortStats::default().encode(&mut w);
        assert_eq!(w.len(), PORT_STATS_LEN);
        let mut w = Writer::new();
        PortMod::default().encode(&mut w);
        assert_eq!(w.len(), PORT_MOD_BODY_LEN);
        let mut w = Writer::new();
        PortStatus {
            reason: PortReason::OFPPR_ADD,
            desc: Port::default(),
        }
        .encode(&mut w);
        assert_eq!(w.len(), PORT_STATUS_BODY_LEN);
    }

    #[test]
    fn port_name_sits_after_the_address() {
        let p = Port {
            port_no: 1,
            hw_addr: [2, 0, 0, 0, 0, 1],
            name: FixedStr::new("eth0"),
            ..Port::default()
        };
        let mut w = Writer::new();
        p.encode(&mut w);
        assert_eq!(&w.as_slice()[8..14], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&w.as_slice()[16..21], b"eth0\0");
    }

    #[test]
    fn rejects_truncated_port() {
        let e = Port::decode(&mut Reader::new(&[0; 63])).unwrap_err();
        assert_eq!(e.wire(), (1, 6));
    }

    proptest! {
        #[test]
        fn port_structures_round_trip(p in arb_port(), s in arb_port_stats(), m in arb_port_mod(), st in arb_port_status()) {
            let mut w = Writer::new();
            p.encode(&mut w);
            s.encode(&mut w);
            m.encode(&mut w);
            st.encode(&mut w);
            let mut r = Reader::new(w.as_slice());
            prop_assert_eq!(Port::decode(&mut r).unwrap(), p);
            prop_assert_eq!(PortStats::decode(&mut r).unwrap(), s);
            prop_assert_eq!(PortMod::decode(&mut r).unwrap(), m);
            prop_assert_eq!(PortStatus::decode(&mut r).unwrap(), st);
            prop_assert!(r.is_empty());
        }
    }
}
