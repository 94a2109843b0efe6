//! Ports as the pipeline sees them: reserved port numbers, the configuration
//! and state bits of OpenFlow 1.3, and the port-mod request.
//!
//! The pipeline keeps only what forwarding decisions read (whether a port
//! exists, is live, forwards, accepts packets, sends packet-ins) and what the
//! controller reads back in a port description. Counters belong to the port
//! layer in `switchd`, which owns the sockets and rings.
//!
//! Liveness (`OFPPS_LIVE`, which fast-failover groups watch) is derived, never
//! set directly: a port is live exactly when its link is up and it is not
//! administratively down. `Port::refresh_live` restores that invariant after
//! any change to `config` or `state`.

/// The highest number of a physical or logical port (`OFPP_MAX`).
pub const OFPP_MAX: u32 = 0xffff_ff00;
/// Send the packet out of the port it came in on (`OFPP_IN_PORT`).
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
/// Submit the packet to the first table; packet-out only (`OFPP_TABLE`).
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// Forward as a traditional L2 switch would (`OFPP_NORMAL`).
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
/// Flood along the spanning tree, excluding the ingress port (`OFPP_FLOOD`).
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
/// Every port but the ingress port (`OFPP_ALL`).
pub const OFPP_ALL: u32 = 0xffff_fffc;
/// Send to the controller (`OFPP_CONTROLLER`).
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// The switch's local networking stack (`OFPP_LOCAL`).
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
/// No port; a wildcard in requests (`OFPP_ANY`).
pub const OFPP_ANY: u32 = 0xffff_ffff;

/// The buffer id meaning "the packet is not buffered" (`OFP_NO_BUFFER`).
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;
/// The largest `max_len` that asks for buffering (`OFPCML_MAX`).
pub const OFPCML_MAX: u16 = 0xffe5;
/// `max_len` asking for the whole packet, unbuffered (`OFPCML_NO_BUFFER`).
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// Whether `port` names a physical or logical port (1..=`OFPP_MAX`).
pub const fn is_physical(port: u32) -> bool {
    port != 0 && port <= OFPP_MAX
}

flag_set! {
    /// Administrative configuration of a port (`ofp_port_config`).
    PortConfig: u32 {
        /// The port is administratively down (`OFPPC_PORT_DOWN`).
        PORT_DOWN = 1 << 0;
        /// Drop every packet received on the port (`OFPPC_NO_RECV`).
        NO_RECV = 1 << 2;
        /// Drop packets forwarded to the port (`OFPPC_NO_FWD`).
        NO_FWD = 1 << 5;
        /// Do not send packet-ins for the port (`OFPPC_NO_PACKET_IN`).
        NO_PACKET_IN = 1 << 6;
    }
}

flag_set! {
    /// Current state of a port (`ofp_port_state`).
    PortState: u32 {
        /// No physical link (`OFPPS_LINK_DOWN`).
        LINK_DOWN = 1 << 0;
        /// Blocked by a loop-prevention protocol (`OFPPS_BLOCKED`).
        BLOCKED = 1 << 1;
        /// Live for fast-failover groups (`OFPPS_LIVE`).
        LIVE = 1 << 2;
    }
}

flag_set! {
    /// Port features: speeds, medium, autonegotiation (`ofp_port_features`).
    PortFeatures: u32 {
        /// 10 Mb half-duplex.
        RATE_10MB_HD = 1 << 0;
        /// 10 Mb full-duplex.
        RATE_10MB_FD = 1 << 1;
        /// 100 Mb half-duplex.
        RATE_100MB_HD = 1 << 2;
        /// 100 Mb full-duplex.
        RATE_100MB_FD = 1 << 3;
        /// 1 Gb half-duplex.
        RATE_1GB_HD = 1 << 4;
        /// 1 Gb full-duplex.
        RATE_1GB_FD = 1 << 5;
        /// 10 Gb full-duplex.
        RATE_10GB_FD = 1 << 6;
        /// 40 Gb full-duplex.
        RATE_40GB_FD = 1 << 7;
        /// 100 Gb full-duplex.
        RATE_100GB_FD = 1 << 8;
        /// 1 Tb full-duplex.
        RATE_1TB_FD = 1 << 9;
        /// Another rate, not in the list.
        OTHER = 1 << 10;
        /// Copper medium.
        COPPER = 1 << 11;
        /// Fiber medium.
        FIBER = 1 << 12;
        /// Autonegotiation.
        AUTONEG = 1 << 13;
        /// Pause.
        PAUSE = 1 << 14;
        /// Asymmetric pause.
        PAUSE_ASYM = 1 << 15;
    }
}

/// One port of the switch as the pipeline and the controller see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// OpenFlow port number (1..=`OFPP_MAX`, or `OFPP_LOCAL`).
    pub port_no: u32,
    /// Hardware address.
    pub hw_addr: [u8; 6],
    /// Name (at most 15 bytes on the wire; the codec truncates).
    pub name: String,
    /// Administrative configuration.
    pub config: PortConfig,
    /// Current state; `LIVE` is derived (see [`Port::refresh_live`]).
    pub state: PortState,
    /// Current features.
    pub curr: PortFeatures,
    /// Features being advertised.
    pub advertised: PortFeatures,
    /// Features supported.
    pub supported: PortFeatures,
    /// Features advertised by the peer.
    pub peer: PortFeatures,
    /// Current bit rate in kb/s.
    pub curr_speed: u32,
    /// Maximum bit rate in kb/s.
    pub max_speed: u32,
}

impl Port {
    /// A port with its link up, no special configuration and no features.
    pub fn new(port_no: u32, name: &str, hw_addr: [u8; 6]) -> Port {
        let mut p = Port {
            port_no,
            hw_addr,
            name: name.to_owned(),
            config: PortConfig::empty(),
            state: PortState::empty(),
            curr: PortFeatures::empty(),
            advertised: PortFeatures::empty(),
            supported: PortFeatures::empty(),
            peer: PortFeatures::empty(),
            curr_speed: 0,
            max_speed: 0,
        };
        p.refresh_live();
        p
    }

    /// Whether fast-failover may use the port (`OFPPS_LIVE`).
    pub fn is_live(&self) -> bool {
        self.state.contains(PortState::LIVE)
    }

    /// Whether the link is up.
    pub fn link_up(&self) -> bool {
        !self.state.contains(PortState::LINK_DOWN)
    }

    /// Whether packets may be forwarded out of the port.
    pub fn can_forward(&self) -> bool {
        !self
            .config
            .intersects(PortConfig::PORT_DOWN | PortConfig::NO_FWD)
            && !self.state.contains(PortState::LINK_DOWN)
    }

    /// Whether packets received on the port enter the pipeline.
    pub fn can_receive(&self) -> bool {
        !self
            .config
            .intersects(PortConfig::PORT_DOWN | PortConfig::NO_RECV)
    }

    /// Recomputes `LIVE` from the link state and `PORT_DOWN`.
    pub fn refresh_live(&mut self) {
        let live = self.link_up() && !self.config.contains(PortConfig::PORT_DOWN);
        self.state.set(PortState::LIVE, live);
    }
}

/// A port-mod request (`OFPT_PORT_MOD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMod {
    /// The port to change.
    pub port_no: u32,
    /// Must equal the port's hardware address (a sanity check, not a change).
    pub hw_addr: [u8; 6],
    /// New values of the configuration bits selected by `mask`.
    pub config: PortConfig,
    /// The configuration bits to change.
    pub mask: PortConfig,
    /// Features to advertise; empty leaves the advertisement unchanged.
    pub advertise: PortFeatures,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_port_is_live() {
        let p = Port::new(1, "p1", [0, 1, 2, 3, 4, 5]);
        assert!(p.is_live());
        assert!(p.can_forward());
        assert!(p.can_receive());
    }

    #[test]
    fn liveness_follows_link_and_administrative_state() {
        let mut p = Port::new(1, "p1", [0; 6]);
        p.state.insert(PortState::LINK_DOWN);
        p.refresh_live();
        assert!(!p.is_live());
        p.state.remove(PortState::LINK_DOWN);
        p.config.insert(PortConfig::PORT_DOWN);
        p.refresh_live();
        assert!(!p.is_live());
        p.config.remove(PortConfig::PORT_DOWN);
        p.refresh_live();
        assert!(p.is_live());
    }

    #[test]
    fn reserved_ports_are_not_physical() {
        assert!(is_physical(1));
        assert!(is_physical(OFPP_MAX));
        assert!(!is_physical(0));
        for p in [
            OFPP_IN_PORT,
            OFPP_TABLE,
            OFPP_NORMAL,
            OFPP_FLOOD,
            OFPP_ALL,
            OFPP_CONTROLLER,
            OFPP_LOCAL,
            OFPP_ANY,
        ] {
            assert!(!is_physical(p));
        }
    }

    #[test]
    fn flag_sets_reject_undefined_bits() {
        assert_eq!(
            PortConfig::from_bits(0x61),
            Some(PortConfig::PORT_DOWN | PortConfig::NO_FWD | PortConfig::NO_PACKET_IN)
        );
        assert_eq!(PortConfig::from_bits(0x2), None);
        assert_eq!(PortConfig::from_bits_truncate(0x3), PortConfig::PORT_DOWN);
        assert_eq!(
            format!("{:?}", PortState::LIVE | PortState::BLOCKED),
            "PortState(BLOCKED | LIVE)"
        );
    }
}
