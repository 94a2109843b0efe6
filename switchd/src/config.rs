//! The daemon's configuration: what `switchd run` flags and a TOML file say,
//! validated into typed values ([`Config`], [`BridgeConfig`], [`PortSpec`],
//! [`Target`]) before anything is created.
//!
//! # Shape
//!
//! Parsing and validation are separate from the objects they configure so
//! that every mistake is reported before the first socket is opened, as one
//! line naming the place and the reason ([`ConfigError`]'s `Display`, e.g.
//! `config bridge "br0" port "veth1": ofport 0 is reserved`). The TOML form
//! is read into private raw structs (unknown keys refused) and then checked
//! field by field; the flag form builds the same raw structs, so both go
//! through one validator. [`Target`] is the OpenFlow connection target
//! syntax of Open vSwitch (`tcp:IP[:PORT]`, `ptcp:[PORT][:IP]`, ...) that the
//! channel connects to or listens on.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The IANA OpenFlow port, used when a target names none.
pub const OFP_TCP_PORT: u16 = 6653;
/// Default run directory (sockets).
pub const DEFAULT_RUN_DIR: &str = "/run/switchd";
/// Default state directory (persistent state).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/switchd";
/// Environment variable that overrides the default run directory.
pub const RUN_DIR_ENV: &str = "SWITCHD_RUN_DIR";
/// Default bridge name when the flags name none.
pub const DEFAULT_BRIDGE: &str = "br0";
/// Default MAC learning table size.
pub const DEFAULT_MAC_TABLE_SIZE: usize = datapath::normal::DEFAULT_MAX_ENTRIES;
/// Default MAC aging time in seconds.
pub const DEFAULT_MAC_AGING_SECS: u64 = datapath::normal::DEFAULT_IDLE_MS / 1000;
/// Longest Linux interface name.
pub const IFNAMSIZ_MAX: usize = 15;
/// Why an active target cannot be a listener.
const NOT_PASSIVE: &str = "a listener must be passive (ptcp:, pssl:, punix:)";
/// Highest OpenFlow port number a configuration may give (`OFPP_MAX`).
pub const OFPORT_MAX: u32 = datapath::ofproto::OFPP_MAX;

/// A configuration mistake: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct ConfigError {
    /// Where: `config bridge "br0" port "veth1"`, `--dpid`, `config file x.toml`.
    pub place: String,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    /// An error at `place` for `reason`.
    pub fn new(place: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            place: place.into(),
            reason: reason.into(),
        }
    }
}

/// An OpenFlow connection target: active (the switch connects) or passive
/// (the switch listens).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `tcp:IP[:PORT]`: connect over TCP.
    Tcp(SocketAddr),
    /// `ssl:IP[:PORT]`: connect over TLS.
    Ssl(SocketAddr),
    /// `ptcp:[PORT][:IP]`: listen on TCP (default address 127.0.0.1).
    Ptcp(SocketAddr),
    /// `pssl:[PORT][:IP]`: listen on TLS (default address 127.0.0.1).
    Pssl(SocketAddr),
    /// `punix:PATH`: listen on a Unix socket.
    Punix(PathBuf),
}

impl Target {
    /// Whether the switch listens (rather than connects).
    pub fn is_passive(&self) -> bool {
        matches!(self, Target::Ptcp(_) | Target::Pssl(_) | Target::Punix(_))
    }

    /// Whether the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Target::Ssl(_) | Target::Pssl(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn host(a: &SocketAddr) -> String {
            match a.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            }
        }
        match self {
            Target::Tcp(a) => write!(f, "tcp:{}:{}", host(a), a.port()),
            Target::Ssl(a) => write!(f, "ssl:{}:{}", host(a), a.port()),
            Target::Ptcp(a) => write!(f, "ptcp:{}:{}", a.port(), host(a)),
            Target::Pssl(a) => write!(f, "pssl:{}:{}", a.port(), host(a)),
            Target::Punix(p) => write!(f, "punix:{}", p.display()),
        }
    }
}

/// Parses `IP` or `[IPv6]`.
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let t = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    t.parse::<IpAddr>()
        .map_err(|_| format!("\"{s}\" is not an IP address"))
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("\"{s}\" is not a TCP port number"))
}

/// Splits `HOST[:PORT]` where HOST may be a bracketed IPv6 address.
fn split_host_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("\"{s}\" has an unclosed '['"))?;
        let ip = parse_ip(ip)?;
        return match after {
            "" => Ok((ip, None)),
            p => {
                let p = p
                    .strip_prefix(':')
                    .ok_or_else(|| format!("\"{s}\": expected ':' after ']'"))?;
                Ok((ip, Some(parse_port(p)?)))
            }
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, _)) if h.contains(':') => Ok((parse_ip(s)?, None)),
        Some((h, p)) => Ok((parse_ip(h)?, Some(parse_port(p)?))),
        None => Ok((parse_ip(s)?, None)),
    }
}

/// Parses the `[PORT][:IP]` of a passive target.
fn passive_addr(s: &str) -> Result<SocketAddr, String> {
    let (port, ip) = match s.split_once(':') {
        Some((p, ip)) => (p, Some(ip)),
        None => (s, None),
    };
    let port = if port.is_empty() {
        OFP_TCP_PORT
    } else {
        parse_port(port)?
    };
    let ip = match ip {
        Some(ip) => parse_ip(ip)?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    Ok(SocketAddr::new(ip, port))
}

impl FromStr for Target {
    type Err = String;

    /// Parses a target; the error is the reason, without the place.
    fn from_str(s: &str) -> Result<Target, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("\"{s}\" is not a target (tcp:, ssl:, ptcp:, pssl:, punix:)"))?;
        match kind {
            "tcp" | "ssl" => {
                let (ip, port) = split_host_port(rest)?;
                let a = SocketAddr::new(ip, port.unwrap_or(OFP_TCP_PORT));
                Ok(if kind == "tcp" {
                    Target::Tcp(a)
                } else {
                    Target::Ssl(a)
                })
            }
            "ptcp" => Ok(Target::Ptcp(passive_addr(rest)?)),
            "pssl" => Ok(Target::Pssl(passive_addr(rest)?)),
            "punix" => {
                if rest.is_empty() {
                    Err("punix: needs a path".to_owned())
                } else {
                    Ok(Target::Punix(PathBuf::from(rest)))
                }
            }
            other => Err(format!(
                "unknown target type \"{other}\" (tcp, ssl, ptcp, pssl, punix)"
            )),
        }
    }
}

/// What happens to forwarding while no controller is connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailMode {
    /// Act as a learning switch (table 0 holds `priority=0 actions=NORMAL`)
    /// while no controller is connected.
    #[default]
    Standalone,
    /// Leave the flow tables to the controller, connected or not.
    Secure,
}

impl FromStr for FailMode {
    type Err = String;

    fn from_str(s: &str) -> Result<FailMode, String> {
        match s {
            "standalone" => Ok(FailMode::Standalone),
            "secure" => Ok(FailMode::Secure),
            o => Err(format!("\"{o}\" is not a fail mode (standalone, secure)")),
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        })
    }
}

/// What kind of port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// An existing interface, opened with AF_PACKET.
    #[default]
    System,
    /// An existing interface, opened with AF_XDP sockets fed by an XDP
    /// program (see [`crate::port::afxdp`]).
    Afxdp,
    /// A TAP device the switch creates (and removes).
    Tap,
    /// A TAP device standing for the switch's own stack; the one named like
    /// the bridge is the `LOCAL` port.
    Internal,
    /// A VXLAN tunnel to a remote endpoint (see [`crate::port::vxlan`]);
    /// no device, its settings are the port's options.
    Vxlan,
    /// One end of a patch between two bridges of this daemon (see
    /// [`crate::port::patch`]); option `peer` names the other end.
    Patch,
}

impl FromStr for PortKind {
    type Err = String;

    fn from_str(s: &str) -> Result<PortKind, String> {
        match s {
            "system" => Ok(PortKind::System),
            "afxdp" => Ok(PortKind::Afxdp),
            "tap" => Ok(PortKind::Tap),
            "internal" => Ok(PortKind::Internal),
            "vxlan" => Ok(PortKind::Vxlan),
            "patch" => Ok(PortKind::Patch),
            o => Err(format!(
                "\"{o}\" is not a port type (system, afxdp, tap, internal, vxlan, patch)"
            )),
        }
    }
}

impl fmt::Display for PortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PortKind::System => "system",
            PortKind::Afxdp => "afxdp",
            PortKind::Tap => "tap",
            PortKind::Internal => "internal",
            PortKind::Vxlan => "vxlan",
            PortKind::Patch => "patch",
        })
    }
}

/// One port to add to a bridge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSpec {
    /// Interface name.
    pub name: String,
    /// OpenFlow port number; `None` assigns the lowest free one.
    pub ofport: Option<u32>,
    /// Kind of port.
    pub kind: PortKind,
    /// Access VLAN (NORMAL switching).
    pub tag: Option<u16>,
    /// Trunk VLANs (NORMAL switching); empty with no tag means all VLANs.
    pub trunks: Vec<u16>,
    /// Type-specific settings (`remote_ip`, `key`, ... of a vxlan port).
    pub options: BTreeMap<String, String>,
}

impl PortSpec {
    /// A system port named `name` with an assigned number.
    pub fn system(name: &str) -> PortSpec {
        PortSpec {
            name: name.to_owned(),
            ..PortSpec::default()
        }
    }

    /// A port of `kind` named `name`.
    #[allow(dead_code)] // For the management layer and tests.
    pub fn new(name: &str, kind: PortKind) -> PortSpec {
        PortSpec {
            name: name.to_owned(),
            kind,
            ..PortSpec::default()
        }
    }

    /// Builder: sets the OpenFlow port number.
    #[allow(dead_code)] // For the management layer and tests.
    pub fn with_ofport(mut self, ofport: u32) -> PortSpec {
        self.ofport = Some(ofport);
        self
    }

    /// Builder: makes it an access port of `tag`.
    #[allow(dead_code)] // For the management layer and tests.
    pub fn with_tag(mut self, tag: u16) -> PortSpec {
        self.tag = Some(tag);
        self
    }

    /// Checks the name, number and VLANs; the error is the reason.
    pub fn validate(&self) -> Result<(), String> {
        validate_ifname(&self.name)?;
        if let Some(n) = self.ofport {
            if n == 0 {
                return Err("ofport 0 is reserved".to_owned());
            }
            if n > OFPORT_MAX {
                return Err(format!(
                    "ofport {n} is above the highest port number {OFPORT_MAX}"
                ));
            }
        }
        if let Some(t) = self.tag {
            if t == 0 || t > 4094 {
                return Err(format!("tag {t} is not a VLAN id (1-4094)"));
            }
        }
        if let Some(v) = self.trunks.iter().find(|v| **v > 4095) {
            return Err(format!("trunk {v} is not a VLAN id (0-4095)"));
        }
        if self.kind == PortKind::Vxlan {
            crate::port::vxlan::VxlanConfig::from_options(&self.options)?;
        } else if self.kind == PortKind::Patch {
            crate::port::patch::PatchConfig::from_options(&self.name, &self.options)?;
        } else if let Some(k) = self.options.keys().next() {
            return Err(format!(
                "option \"{}\": a {} port takes no options",
                k.escape_debug(),
                self.kind
            ));
        }
        Ok(())
    }

    /// The NORMAL VLAN mode these settings describe (Open vSwitch's rules:
    /// a tag alone is an access port, trunks alone a trunk, both a trunk
    /// whose native VLAN is the tag, neither every VLAN).
    pub fn vlan_mode(&self) -> datapath::normal::PortVlanMode {
        use datapath::normal::{PortVlanMode, VlanSet};
        match (self.tag, self.trunks.is_empty()) {
            (None, true) => PortVlanMode::All,
            (Some(t), true) => PortVlanMode::Access(t),
            (native, false) => PortVlanMode::Trunk {
                allowed: VlanSet::of(self.trunks.iter().copied()),
                native,
            },
        }
    }
}

/// Checks a Linux interface name; the error is the reason.
pub fn validate_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the interface name is empty".to_owned());
    }
    if name.len() > IFNAMSIZ_MAX {
        return Err(format!(
            "interface name \"{name}\" is longer than {IFNAMSIZ_MAX} bytes"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("\"{name}\" is not an interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || *c == '/' || *c == ':' || c.is_control())
    {
        return Err(format!(
            "interface name \"{}\" contains {:?}",
            name.escape_debug(),
            c
        ));
    }
    Ok(())
}

/// One bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Name (also the name of its LOCAL port and of its socket files).
    pub name: String,
    /// Datapath id; `None` derives a stable one from the name.
    pub dpid: Option<u64>,
    /// Ports besides LOCAL.
    pub ports: Vec<PortSpec>,
    /// Controllers (active or passive targets).
    pub controllers: Vec<Target>,
    /// Extra passive listeners (management connections such as `ofctl`).
    pub listeners: Vec<Target>,
    /// Behaviour while no controller is connected.
    pub fail_mode: FailMode,
    /// MAC learning table size.
    pub mac_table_size: usize,
    /// MAC learning idle time, seconds.
    pub mac_aging_secs: u64,
    /// Forwarding threads; `None` for the default.
    pub threads: Option<usize>,
    /// Whether forwarding threads spin instead of blocking when idle.
    pub busy_poll: bool,
    /// Whether to create the LOCAL port (a TAP named like the bridge).
    pub local_port: bool,
}

impl BridgeConfig {
    /// A bridge named `name` with defaults and no port.
    pub fn new(name: &str) -> BridgeConfig {
        BridgeConfig {
            name: name.to_owned(),
            dpid: None,
            ports: Vec::new(),
            controllers: Vec::new(),
            listeners: Vec::new(),
            fail_mode: FailMode::Standalone,
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            mac_aging_secs: DEFAULT_MAC_AGING_SECS,
            threads: None,
            busy_poll: false,
            local_port: true,
        }
    }

    /// Checks everything; the error names the place.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let place = format!("config bridge \"{}\"", self.name.escape_debug());
        validate_ifname(&self.name).map_err(|r| ConfigError::new(&place, r))?;
        if self.dpid == Some(0) {
            return Err(ConfigError::new(&place, "dpid 0 is not allowed"));
        }
        if self.mac_table_size == 0 {
            return Err(ConfigError::new(
                &place,
                "mac_table_size must be at least 1",
            ));
        }
        if self.mac_aging_secs == 0 || self.mac_aging_secs > 1_000_000 {
            return Err(ConfigError::new(
                &place,
                format!(
                    "mac_aging_secs {} is out of range (1-1000000)",
                    self.mac_aging_secs
                ),
            ));
        }
        if let Some(t) = self.threads {
            if t == 0 || t > 256 {
                return Err(ConfigError::new(
                    &place,
                    format!("threads {t} is out of range (1-256)"),
                ));
            }
        }
        let mut names = BTreeSet::new();
        let mut numbers = BTreeSet::new();
        if self.local_port {
            names.insert(self.name.clone());
        }
        for p in &self.ports {
            let pplace = format!("{place} port \"{}\"", p.name.escape_debug());
            p.validate().map_err(|r| ConfigError::new(&pplace, r))?;
            if !names.insert(p.name.clone()) {
                let why = if p.name == self.name {
                    "the bridge's own LOCAL port has this name".to_owned()
                } else {
                    "the port is listed twice".to_owned()
                };
                return Err(ConfigError::new(&pplace, why));
            }
            if let Some(n) = p.ofport {
                if !numbers.insert(n) {
                    return Err(ConfigError::new(
                        &pplace,
                        format!("ofport {n} is already used by another port"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The whole daemon configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Persistent state directory.
    pub state_dir: PathBuf,
    /// Socket directory.
    pub run_dir: PathBuf,
    /// Bridges.
    pub bridges: Vec<BridgeConfig>,
}

impl Config {
    /// Checks every bridge and that names are unique.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        let mut ifnames: BTreeSet<&str> = BTreeSet::new();
        for b in &self.bridges {
            b.validate()?;
            if !names.insert(b.name.as_str()) {
                return Err(ConfigError::new(
                    format!("config bridge \"{}\"", b.name.escape_debug()),
                    "the bridge is defined twice",
                ));
            }
            for p in &b.ports {
                if !ifnames.insert(p.name.as_str()) {
                    return Err(ConfigError::new(
                        format!(
                            "config bridge \"{}\" port \"{}\"",
                            b.name.escape_debug(),
                            p.name.escape_debug()
                        ),
                        "the interface is already a port of another bridge",
                    ));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The TOML form.

/// A bridge as the TOML file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBridge {
    name: String,
    #[serde(default)]
    dpid: Option<RawDpid>,
    #[serde(default, alias = "port")]
    ports: Vec<RawPort>,
    #[serde(default, alias = "controller")]
    controllers: Vec<String>,
    #[serde(default, alias = "listener", alias = "listen")]
    listeners: Vec<String>,
    #[serde(default)]
    fail_mode: Option<String>,
    #[serde(default)]
    mac_table_size: Option<usize>,
    #[serde(default)]
    mac_aging_secs: Option<u64>,
    #[serde(default)]
    threads: Option<usize>,
    #[serde(default)]
    busy_poll: Option<bool>,
    #[serde(default)]
    local_port: Option<bool>,
}

/// A dpid written as a number or as a hex string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDpid {
    Num(u64),
    Str(String),
}

/// A port as the TOML file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    ofport: Option<i64>,
    #[serde(default)]
    tag: Option<i64>,
    #[serde(default)]
    trunks: Vec<i64>,
    #[serde(default)]
    options: BTreeMap<String, RawOption>,
}

/// A port option value: written as a string or a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawOption {
    Num(i64),
    Str(String),
}

/// The file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    run_dir: Option<PathBuf>,
    #[serde(default)]
    threads: Option<usize>,
    #[serde(default)]
    busy_poll: Option<bool>,
    #[serde(default, alias = "bridges")]
    bridge: Vec<RawBridge>,
}

/// Parses a datapath id: 16 hex digits at most, with or without `0x`.
pub fn parse_dpid(s: &str) -> Result<u64, String> {
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let h: String = h.chars().filter(|c| *c != ':').collect();
    if h.is_empty() || h.len() > 16 {
        return Err(format!("\"{s}\" is not a datapath id (1 to 16 hex digits)"));
    }
    let v = u64::from_str_radix(&h, 16)
        .map_err(|_| format!("\"{s}\" is not a datapath id (1 to 16 hex digits)"))?;
    if v == 0 {
        return Err("dpid 0 is not allowed".to_owned());
    }
    Ok(v)
}

fn convert_port(bplace: &str, raw: &RawPort) -> Result<PortSpec, ConfigError> {
    let place = format!("{bplace} port \"{}\"", raw.name.escape_debug());
    let err = |r: String| ConfigError::new(&place, r);
    let kind = match &raw.kind {
        Some(k) => k.parse::<PortKind>().map_err(err)?,
        None => PortKind::System,
    };
    let ofport = match raw.ofport {
        None => None,
        Some(0) => return Err(err("ofport 0 is reserved".to_owned())),
        Some(n) => Some(
            u32::try_from(n)
                .ok()
                .filter(|n| *n <= OFPORT_MAX)
                .ok_or_else(|| err(format!("ofport {n} is out of range (1-{OFPORT_MAX})")))?,
        ),
    };
    let tag = match raw.tag {
        None => None,
        Some(t) => Some(
            u16::try_from(t)
                .ok()
                .filter(|t| (1..=4094).contains(t))
                .ok_or_else(|| err(format!("tag {t} is not a VLAN id (1-4094)")))?,
        ),
    };
    let mut trunks = Vec::with_capacity(raw.trunks.len());
    for &t in &raw.trunks {
        trunks.push(
            u16::try_from(t)
                .ok()
                .filter(|t| *t <= 4095)
                .ok_or_else(|| err(format!("trunk {t} is not a VLAN id (0-4095)")))?,
        );
    }
    let options = raw
        .options
        .iter()
        .map(|(k, v)| {
            let v = match v {
                RawOption::Num(n) => n.to_string(),
                RawOption::Str(s) => s.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    let spec = PortSpec {
        name: raw.name.clone(),
        ofport,
        kind,
        tag,
        trunks,
        options,
    };
    spec.validate().map_err(err)?;
    Ok(spec)
}

fn convert_bridge(raw: &RawBridge, defaults: &Defaults) -> Result<BridgeConfig, ConfigError> {
    let place = format!("config bridge \"{}\"", raw.name.escape_debug());
    let err = |r: String| ConfigError::new(&place, r);
    let mut b = BridgeConfig::new(&raw.name);
    b.dpid = match &raw.dpid {
        None => None,
        Some(RawDpid::Num(0)) => return Err(err("dpid 0 is not allowed".to_owned())),
        Some(RawDpid::Num(n)) => Some(*n),
        Some(RawDpid::Str(s)) => Some(parse_dpid(s).map_err(|r| err(format!("dpid: {r}")))?),
    };
    for p in &raw.ports {
        b.ports.push(convert_port(&place, p)?);
    }
    for c in &raw.controllers {
        b.controllers
            .push(c.parse().map_err(|r| err(format!("controller: {r}")))?);
    }
    for c in &raw.listeners {
        let t: Target = c.parse().map_err(|r| err(format!("listener: {r}")))?;
        if !t.is_passive() {
            return Err(err(format!("listener: {NOT_PASSIVE}")));
        }
        b.listeners.push(t);
    }
    if let Some(f) = &raw.fail_mode {
        b.fail_mode = f.parse().map_err(|r| err(format!("fail_mode: {r}")))?;
    }
    if let Some(n) = raw.mac_table_size {
        b.mac_table_size = n;
    }
    if let Some(n) = raw.mac_aging_secs {
        b.mac_aging_secs = n;
    }
    b.threads = raw.threads.or(defaults.threads);
    b.busy_poll = raw.busy_poll.or(defaults.busy_poll).unwrap_or(false);
    b.local_port = raw.local_port.unwrap_or(true);
    b.validate()?;
    Ok(b)
}

#[derive(Clone, Copy, Debug, Default)]
struct Defaults {
    threads: Option<usize>,
    busy_poll: Option<bool>,
}

/// The flags of `switchd run` that describe one bridge and the daemon,
/// already split by clap; see [`crate::cli::RunArgs`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--state-dir DIR`.
    pub state_dir: Option<PathBuf>,
    /// `--run-dir DIR`.
    pub run_dir: Option<PathBuf>,
    /// `--bridge NAME`.
    pub bridge: Option<String>,
    /// `--dpid HEX`.
    pub dpid: Option<String>,
    /// `--port IFNAME[=OFPORT]`.
    pub ports: Vec<String>,
    /// `--afxdp IFNAME[=OFPORT]`.
    pub afxdps: Vec<String>,
    /// `--tap NAME[=OFPORT]`.
    pub taps: Vec<String>,
    /// `--vxlan NAME=KEY=VALUE[,KEY=VALUE...]`.
    pub vxlans: Vec<String>,
    /// `--controller TARGET`.
    pub controllers: Vec<String>,
    /// `--listen TARGET`.
    pub listeners: Vec<String>,
    /// `--fail-mode standalone|secure`.
    pub fail_mode: Option<String>,
    /// `--threads N`.
    pub threads: Option<usize>,
    /// `--busy-poll`.
    pub busy_poll: bool,
}

impl Flags {
    /// Whether any flag describes a bridge (beyond naming it).
    fn describes_bridge(&self) -> bool {
        self.dpid.is_some()
            || !self.ports.is_empty()
            || !self.afxdps.is_empty()
            || !self.taps.is_empty()
            || !self.vxlans.is_empty()
            || !self.controllers.is_empty()
            || !self.listeners.is_empty()
            || self.fail_mode.is_some()
    }
}

/// Parses `NAME[=OFPORT]` of `--port`/`--tap`.
fn parse_port_flag(flag: &str, v: &str, kind: PortKind) -> Result<PortSpec, ConfigError> {
    let place = format!("{flag} {v}");
    let (name, ofport) = match v.split_once('=') {
        Some((n, p)) => {
            let n32 = p.parse::<u32>().map_err(|_| {
                ConfigError::new(&place, format!("\"{p}\" is not an OpenFlow port number"))
            })?;
            (n, Some(n32))
        }
        None => (v, None),
    };
    let spec = PortSpec {
        name: name.to_owned(),
        ofport,
        kind,
        tag: None,
        trunks: Vec::new(),
        options: BTreeMap::new(),
    };
    spec.validate().map_err(|r| ConfigError::new(&place, r))?;
    Ok(spec)
}

/// Parses `NAME=KEY=VALUE[,KEY=VALUE...]` of `--vxlan`: the vxlan options
/// plus `ofport` and `tag`.
fn parse_vxlan_flag(v: &str) -> Result<PortSpec, ConfigError> {
    let place = format!("--vxlan {v}");
    let err = |r: String| ConfigError::new(&place, r);
    let (name, rest) = v
        .split_once('=')
        .ok_or_else(|| err("expected NAME=remote_ip=IP[,key=VNI|flow,...]".to_owned()))?;
    let mut spec = PortSpec::new(name, PortKind::Vxlan);
    for kv in rest.split(',').filter(|s| !s.is_empty()) {
        let (k, val) = kv
            .split_once('=')
            .ok_or_else(|| err(format!("\"{}\" is not KEY=VALUE", kv.escape_debug())))?;
        match k {
            "ofport" => {
                spec.ofport = Some(val.parse::<u32>().map_err(|_| {
                    err(format!("ofport: \"{val}\" is not an OpenFlow port number"))
                })?);
            }
            "tag" => {
                spec.tag = Some(
                    val.parse::<u16>()
                        .map_err(|_| err(format!("tag: \"{val}\" is not a VLAN id (1-4094)")))?,
                );
            }
            _ => {
                spec.options.insert(k.to_owned(), val.to_owned());
            }
        }
    }
    spec.validate().map_err(err)?;
    Ok(spec)
}

/// Reads and validates the configuration the flags (and the file they may
/// name) describe. `env_run_dir` is the value of `SWITCHD_RUN_DIR`, if set.
pub fn load(flags: &Flags, env_run_dir: Option<&str>) -> Result<Config, ConfigError> {
    let raw = match &flags.config {
        Some(path) => read_file(path)?,
        None => RawFile::default(),
    };
    let defaults = Defaults {
        threads: flags.threads.or(raw.threads),
        busy_poll: if flags.busy_poll {
            Some(true)
        } else {
            raw.busy_poll
        },
    };
    let mut bridges = Vec::new();
    for b in &raw.bridge {
        bridges.push(convert_bridge(b, &defaults)?);
    }
    let name = flags.bridge.clone().unwrap_or_else(|| {
        bridges.first().map_or_else(
            || DEFAULT_BRIDGE.to_owned(),
            |b: &BridgeConfig| b.name.clone(),
        )
    });
    let wants_flag_bridge =
        bridges.is_empty() || flags.describes_bridge() || flags.bridge.is_some();
    if wants_flag_bridge {
        let idx = match bridges.iter().position(|b| b.name == name) {
            Some(i) => i,
            None => {
                let mut b = BridgeConfig::new(&name);
                b.threads = defaults.threads;
                b.busy_poll = defaults.busy_poll.unwrap_or(false);
                bridges.push(b);
                bridges.len() - 1
            }
        };
        apply_flags(&mut bridges[idx], flags)?;
    }
    for b in &mut bridges {
        if flags.threads.is_some() {
            b.threads = flags.threads;
        }
        if flags.busy_poll {
            b.busy_poll = true;
        }
    }
    let run_dir = flags
        .run_dir
        .clone()
        .or(raw.run_dir)
        .or_else(|| env_run_dir.filter(|s| !s.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR));
    let state_dir = flags
        .state_dir
        .clone()
        .or(raw.state_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    let cfg = Config {
        state_dir,
        run_dir,
        bridges,
    };
    cfg.validate()?;
    Ok(cfg)
}

fn apply_flags(b: &mut BridgeConfig, flags: &Flags) -> Result<(), ConfigError> {
    if let Some(d) = &flags.dpid {
        b.dpid = Some(parse_dpid(d).map_err(|r| ConfigError::new("--dpid", r))?);
    }
    for p in &flags.ports {
        b.ports
            .push(parse_port_flag("--port", p, PortKind::System)?);
    }
    for p in &flags.afxdps {
        b.ports
            .push(parse_port_flag("--afxdp", p, PortKind::Afxdp)?);
    }
    for p in &flags.taps {
        b.ports.push(parse_port_flag("--tap", p, PortKind::Tap)?);
    }
    for p in &flags.vxlans {
        b.ports.push(parse_vxlan_flag(p)?);
    }
    for c in &flags.controllers {
        b.controllers.push(
            c.parse()
                .map_err(|r| ConfigError::new(format!("--controller {c}"), r))?,
        );
    }
    for c in &flags.listeners {
        let t: Target = c
            .parse()
            .map_err(|r| ConfigError::new(format!("--listen {c}"), r))?;
        if !t.is_passive() {
            return Err(ConfigError::new(format!("--listen {c}"), NOT_PASSIVE));
        }
        b.listeners.push(t);
    }
    if let Some(f) = &flags.fail_mode {
        b.fail_mode = f.parse().map_err(|r| ConfigError::new("--fail-mode", r))?;
    }
    if let Some(t) = flags.threads {
        if t == 0 || t > 256 {
            return Err(ConfigError::new(
                "--threads",
                format!("{t} is out of range (1-256)"),
            ));
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<RawFile, ConfigError> {
    let place = format!("config file {}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::new(&place, e.to_string()))?;
    parse_toml(&text).map_err(|r| ConfigError::new(&place, r))
}

/// Parses TOML text; the error is one line.
fn parse_toml(text: &str) -> Result<RawFile, String> {
    toml::from_str::<RawFile>(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', "; ");
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {msg}")
            }
            None => msg,
        }
    })
}

/// Parses a TOML configuration text alone (no flags), for tests and tools.
#[allow(dead_code)] // For tests and tools.
pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
    let raw = parse_toml(text).map_err(|r| ConfigError::new("config", r))?;
    let defaults = Defaults {
        threads: raw.threads,
        busy_poll: raw.busy_poll,
    };
    let mut bridges = Vec::new();
    for b in &raw.bridge {
        bridges.push(convert_bridge(b, &defaults)?);
    }
    let cfg = Config {
        state_dir: raw
            .state_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
        run_dir: raw
            .run_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR)),
        bridges,
    };
    cfg.validate()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(ports: &[&str]) -> Flags {
        Flags {
            ports: ports.iter().map(|s| (*s).to_owned()).collect(),
            ..Flags::default()
        }
    }

    #[test]
    fn targets_parse_in_every_form_and_print_back() {
        let cases = [
            ("tcp:127.0.0.1:6653", "tcp:127.0.0.1:6653"),
            ("tcp:10.0.0.1", "tcp:10.0.0.1:6653"),
            ("ssl:[::1]:6654", "ssl:[::1]:6654"),
            ("ptcp:6653", "ptcp:6653:127.0.0.1"),
            ("ptcp:", "ptcp:6653:127.0.0.1"),
            ("ptcp:6000:0.0.0.0", "ptcp:6000:0.0.0.0"),
            ("pssl:6001:[::]", "pssl:6001:[::]"),
            ("punix:/run/x.sock", "punix:/run/x.sock"),
        ];
        for (s, want) in cases {
            let t: Target = s.parse().unwrap();
            assert_eq!(t.to_string(), want, "{s}");
            assert_eq!(t.to_string().parse::<Target>().unwrap(), t);
        }
        assert!("ptcp:6653".parse::<Target>().unwrap().is_passive());
        assert!(!"tcp:1.2.3.4".parse::<Target>().unwrap().is_passive());
    }

    #[test]
    fn bad_targets_say_why() {
        for s in [
            "tcp",
            "udp:1.2.3.4:5",
            "tcp:host:1",
            "tcp:1.2.3.4:99999",
            "punix:",
            "ptcp:x",
        ] {
            let e = s.parse::<Target>().unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{s}: {e}");
        }
    }

    #[test]
    fn flags_alone_describe_one_bridge_named_br0() {
        let c = load(&flags(&["veth1", "veth2=7"]), None).unwrap();
        assert_eq!(c.bridges.len(), 1);
        let b = &c.bridges[0];
        assert_eq!(b.name, "br0");
        assert_eq!(b.ports[0], PortSpec::system("veth1"));
        assert_eq!(b.ports[1], PortSpec::system("veth2").with_ofport(7));
        assert_eq!(c.run_dir, PathBuf::from(DEFAULT_RUN_DIR));
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    }

    #[test]
    fn the_run_dir_comes_from_the_flag_then_the_environment() {
        let mut f = flags(&[]);
        assert_eq!(
            load(&f, Some("/tmp/r")).unwrap().run_dir,
            PathBuf::from("/tmp/r")
        );
        f.run_dir = Some(PathBuf::from("/tmp/f"));
        assert_eq!(
            load(&f, Some("/tmp/r")).unwrap().run_dir,
            PathBuf::from("/tmp/f")
        );
    }

    #[test]
    fn bad_flags_name_the_flag_and_the_reason() {
        let e = load(&flags(&["veth1=0"]), None).unwrap_err();
        assert_eq!(e.to_string(), "--port veth1=0: ofport 0 is reserved");
        let e = load(&flags(&["a-very-long-interface-name"]), None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("--port a-very-long-interface-name: "));
        let mut f = flags(&["a", "a"]);
        let e = load(&f, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config bridge \"br0\" port \"a\": the port is listed twice"
        );
        f.ports = vec!["a=3".into(), "b=3".into()];
        let e = load(&f, None).unwrap_err();
        assert!(e.to_string().contains("ofport 3 is already used"), "{e}");
        f.ports.clear();
        f.dpid = Some("xyz".into());
        assert!(load(&f, None)
            .unwrap_err()
            .to_string()
            .starts_with("--dpid: "));
        f.dpid = None;
        f.listeners = vec!["tcp:127.0.0.1:1".into()];
        let e = load(&f, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--listen tcp:127.0.0.1:1: {NOT_PASSIVE}")
        );
        f.listeners.clear();
        f.fail_mode = Some("open".into());
        assert!(load(&f, None)
            .unwrap_err()
            .to_string()
            .starts_with("--fail-mode: "));
    }

    #[test]
    fn a_toml_file_describes_several_bridges() {
        let c = from_toml(
            r#"
            threads = 2
            [[bridge]]
            name = "br0"
            dpid = "0x00000000000000aa"
            fail_mode = "secure"
            controllers = ["tcp:127.0.0.1:6653"]
            listeners = ["ptcp:6634"]
            mac_table_size = 100
            mac_aging_secs = 30
            [[bridge.port]]
            name = "veth1"
            ofport = 1
            tag = 100
            [[bridge.port]]
            name = "veth2"
            type = "tap"
            trunks = [100, 200]
            [[bridge]]
            name = "br1"
            dpid = 17
            "#,
        )
        .unwrap();
        assert_eq!(c.bridges.len(), 2);
        let b = &c.bridges[0];
        assert_eq!(b.dpid, Some(0xaa));
        assert_eq!(b.fail_mode, FailMode::Secure);
        assert_eq!(b.threads, Some(2));
        assert_eq!((b.mac_table_size, b.mac_aging_secs), (100, 30));
        assert_eq!(b.ports[0].tag, Some(100));
        assert_eq!(b.ports[1].kind, PortKind::Tap);
        assert_eq!(b.ports[1].trunks, vec![100, 200]);
        assert_eq!(c.bridges[1].dpid, Some(17));
    }

    #[test]
    fn toml_mistakes_are_one_line_naming_the_field() {
        let e = from_toml(
            "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"veth1\"\nofport = 0\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config bridge \"br0\" port \"veth1\": ofport 0 is reserved"
        );
        let e = from_toml("[[bridge]]\nname = \"br0\"\ncolour = 1\n").unwrap_err();
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("colour"), "{e}");
        let e =
            from_toml("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p\"\ntag = 5000\n")
                .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("tag 5000 is not a VLAN id (1-4094)"),
            "{e}"
        );
        let e = from_toml("[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br0\"\n").unwrap_err();
        assert!(e.to_string().contains("defined twice"));
        assert!(from_toml("[[bridge]\n").is_err());
    }

    #[test]
    fn flags_add_to_the_bridge_of_the_file() {
        let dir = std::env::temp_dir().join(format!("switchd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[[bridge]]\nname = \"br9\"\n[[bridge.port]]\nname = \"a\"\n",
        )
        .unwrap();
        let mut f = flags(&["b"]);
        f.config = Some(path);
        let c = load(&f, None).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(c.bridges.len(), 1);
        assert_eq!(c.bridges[0].name, "br9");
        assert_eq!(c.bridges[0].ports.len(), 2);
    }

    #[test]
    fn vlan_settings_map_to_normal_modes() {
        use datapath::normal::PortVlanMode;
        assert_eq!(PortSpec::system("a").vlan_mode(), PortVlanMode::All);
        assert_eq!(
            PortSpec::system("a").with_tag(5).vlan_mode(),
            PortVlanMode::Access(5)
        );
        let mut t = PortSpec::system("a");
        t.trunks = vec![1, 2];
        assert!(matches!(
            t.vlan_mode(),
            PortVlanMode::Trunk { native: None, .. }
        ));
    }

    #[test]
    fn dpids_parse_as_hex() {
        assert_eq!(parse_dpid("0x1f").unwrap(), 0x1f);
        assert_eq!(parse_dpid("00:00:00:00:00:00:00:02").unwrap(), 2);
        assert!(parse_dpid("0").is_err());
        assert!(parse_dpid("12345678901234567").is_err());
    }

    #[test]
    fn vxlan_ports_come_from_toml_and_from_flags() {
        let c = from_toml(
            "[[bridge]]\nname = \"br0\"\n[[bridge.ports]]\nname = \"vx0\"\ntype = \"vxlan\"\n\
             tag = 100\noptions = { remote_ip = \"198.19.0.2\", key = 100 }\n",
        )
        .unwrap();
        let p = &c.bridges[0].ports[0];
        assert_eq!(p.kind, PortKind::Vxlan);
        assert_eq!(p.options.get("key").map(String::as_str), Some("100"));
        let f = Flags {
            vxlans: vec!["vx1=remote_ip=198.19.0.3,key=flow,ofport=9".into()],
            ..Flags::default()
        };
        let c = load(&f, None).unwrap();
        let p = &c.bridges[0].ports[0];
        assert_eq!((p.kind, p.ofport), (PortKind::Vxlan, Some(9)));
        assert_eq!(p.options.get("key").map(String::as_str), Some("flow"));
    }

    #[test]
    fn vxlan_mistakes_name_the_option() {
        let e = from_toml(
            "[[bridge]]\nname = \"br0\"\n[[bridge.ports]]\nname = \"vx0\"\ntype = \"vxlan\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("remote_ip"), "{e}");
        let e = from_toml(
            "[[bridge]]\nname = \"br0\"\n[[bridge.ports]]\nname = \"p0\"\n\
             options = { remote_ip = \"198.19.0.2\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("takes no options"), "{e}");
        for bad in [
            "vx0",
            "vx0=remote_ip=1.2.3.4,key=x",
            "vx0=remote_ip=1.2.3.4,nonsense",
        ] {
            let f = Flags {
                vxlans: vec![bad.into()],
                ..Flags::default()
            };
            let e = load(&f, None).unwrap_err().to_string();
            assert!(e.starts_with("--vxlan"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
