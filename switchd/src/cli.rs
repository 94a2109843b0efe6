//! The command line of `switchd run`: clap's view of the flags, turned
//! into [`crate::config::Flags`] so that flags and the TOML file go through
//! one validator.
//!
//! Flags describe one bridge (default `br0`); `--config` may describe
//! several, and flags then add to the bridge `--bridge` names (or the
//! file's first). Values are checked by the validator, not here, so that
//! every mistake is reported the same way: one line, the flag, the reason.

use crate::config::Flags;
use std::path::PathBuf;

/// `switchd run`: start the switch.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {
    /// TOML configuration file (bridges, ports, controllers, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Persistent state directory [default: /var/lib/switchd].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Socket directory [default: $SWITCHD_RUN_DIR or /run/switchd].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Name of the bridge the flags describe [default: br0].
    #[arg(long, value_name = "NAME")]
    pub bridge: Option<String>,
    /// Datapath id in hex [default: derived from the bridge name].
    #[arg(long, value_name = "HEX")]
    pub dpid: Option<String>,
    /// An existing interface to add as a port, optionally with its OpenFlow number.
    #[arg(long = "port", value_name = "IFNAME[=OFPORT]")]
    pub ports: Vec<String>,
    /// An existing interface to add as an AF_XDP port (an XDP program
    /// redirects its frames to AF_XDP sockets), optionally with its OpenFlow number.
    #[arg(long = "afxdp", value_name = "IFNAME[=OFPORT]")]
    pub afxdps: Vec<String>,
    /// A TAP device to create as a port, optionally with its OpenFlow number.
    #[arg(long = "tap", value_name = "NAME[=OFPORT]")]
    pub taps: Vec<String>,
    /// A VXLAN tunnel port: options remote_ip (required), key (a VNI, or
    /// `flow` to take the packet's tunnel_id), local_ip, dst_port (default
    /// 4789), and ofport, tag; e.g. `vx0=remote_ip=198.19.0.2,key=100`.
    #[arg(
        long = "vxlan",
        value_name = "NAME=remote_ip=IP[,key=VNI|flow][,local_ip=IP][,dst_port=N][,ofport=N][,tag=VLAN]"
    )]
    pub vxlans: Vec<String>,
    /// A controller: tcp:IP[:PORT], ssl:IP[:PORT], ptcp:[PORT][:IP], pssl:[PORT][:IP], punix:PATH.
    #[arg(long = "controller", value_name = "TARGET")]
    pub controllers: Vec<String>,
    /// An extra passive OpenFlow listener: ptcp:[PORT][:IP], pssl:[PORT][:IP], punix:PATH.
    #[arg(long = "listen", value_name = "TARGET")]
    pub listeners: Vec<String>,
    /// Behaviour while no controller is connected: standalone or secure.
    #[arg(long, value_name = "MODE")]
    pub fail_mode: Option<String>,
    /// Forwarding threads per bridge [default: half the cores, at least 1].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Forwarding threads spin instead of sleeping when idle.
    #[arg(long)]
    pub busy_poll: bool,
    /// Private key (PEM) for ssl: and pssl: targets.
    #[arg(long, alias = "private-key", value_name = "FILE", requires_all = ["ssl_certificate", "ssl_ca_cert"])]
    pub ssl_private_key: Option<PathBuf>,
    /// Certificate (PEM) for ssl: and pssl: targets.
    #[arg(long, alias = "certificate", value_name = "FILE", requires_all = ["ssl_private_key", "ssl_ca_cert"])]
    pub ssl_certificate: Option<PathBuf>,
    /// CA certificate (PEM) that controllers must chain to.
    #[arg(long, alias = "ca-cert", value_name = "FILE", requires_all = ["ssl_private_key", "ssl_certificate"])]
    pub ssl_ca_cert: Option<PathBuf>,
    /// Packet-ins per second to the controllers, all connections together
    /// (0: unlimited) [default: 1000].
    #[arg(long, value_name = "N")]
    pub packet_in_rate: Option<u32>,
    /// Packet-ins that may go out at once above the rate [default: 200].
    #[arg(long, value_name = "N")]
    pub packet_in_burst: Option<u32>,
}

impl RunArgs {
    /// The flags as the configuration loader takes them.
    pub fn flags(&self) -> Flags {
        Flags {
            config: self.config.clone(),
            state_dir: self.state_dir.clone(),
            run_dir: self.run_dir.clone(),
            bridge: self.bridge.clone(),
            dpid: self.dpid.clone(),
            ports: self.ports.clone(),
            afxdps: self.afxdps.clone(),
            taps: self.taps.clone(),
            vxlans: self.vxlans.clone(),
            controllers: self.controllers.clone(),
            listeners: self.listeners.clone(),
            fail_mode: self.fail_mode.clone(),
            threads: self.threads,
            busy_poll: self.busy_poll,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn packet_in_limits_and_ovs_style_tls_flags_are_accepted() {
        let t = T::try_parse_from([
            "t",
            "--packet-in-rate",
            "50",
            "--packet-in-burst",
            "5",
            "--private-key",
            "k.pem",
            "--certificate",
            "c.pem",
            "--ca-cert",
            "ca.pem",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.run.packet_in_rate, Some(50));
        assert_eq!(t.run.packet_in_burst, Some(5));
        assert_eq!(
            t.run.ssl_ca_cert.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
    }

    #[test]
    fn repeated_flags_accumulate() {
        let t = T::try_parse_from([
            "switchd",
            "--port",
            "a",
            "--port",
            "b=3",
            "--tap",
            "t0",
            "--controller",
            "tcp:127.0.0.1:6653",
            "--fail-mode",
            "secure",
            "--threads",
            "2",
            "--busy-poll",
        ])
        .unwrap();
        let f = t.run.flags();
        assert_eq!(f.ports, vec!["a", "b=3"]);
        assert_eq!(f.taps, vec!["t0"]);
        assert_eq!(f.threads, Some(2));
        assert!(f.busy_poll);
    }

    #[test]
    fn tls_files_come_together() {
        assert!(T::try_parse_from(["switchd", "--ssl-private-key", "k"]).is_err());
    }
}
