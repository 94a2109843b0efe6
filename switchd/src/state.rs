//! Persisted runtime state: the bridges, ports (with their kind, OpenFlow
//! number, VLAN settings and, for container ports, the container they lead
//! to), controllers, listeners and fail modes that management commands set,
//! written to `<state_dir>/switchd.state.json` after every change and
//! restored when the daemon starts. OpenFlow flows are not persisted (as in
//! Open vSwitch): a controller or the fail mode programs them again.
//!
//! # Shape
//!
//! The file is JSON of plain serde structs ([`State`], [`SavedBridge`],
//! [`SavedPort`]) kept apart from the configuration types, so that the file
//! format is stable and every value read back goes through the same
//! validation as a configuration file ([`SavedBridge::to_config`]): a
//! hand-edited or damaged file yields one line naming the bridge, port and
//! field, never a panic or a half-restored switch.
//!
//! Writes are atomic: the new contents go to a temporary file in the same
//! directory, which is synced, renamed over the old file, and the directory
//! is synced, so a crash leaves either the old or the new state.
//!
//! The state is authoritative for what it names: a bridge it lists is
//! restored with exactly its ports (a port deleted at run time stays
//! deleted even if the configuration lists it) and keeps its port numbers;
//! a bridge deleted at run time is listed in [`State::deleted_bridges`] and
//! removed again after the configuration created it. Bridges of the
//! configuration the state does not mention are left as configured.

use crate::config::{parse_dpid, BridgeConfig, ConfigError, FailMode, PortKind, PortSpec, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the state file inside the state directory.
pub const STATE_FILE: &str = "switchd.state.json";
/// Version of the file format written.
pub const FORMAT: u32 = 1;

/// Everything persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// File format version ([`FORMAT`]).
    pub format: u32,
    /// The bridges, in creation order.
    #[serde(default)]
    pub bridges: Vec<SavedBridge>,
    /// Bridges deleted at run time (removed again when a configuration
    /// creates them).
    #[serde(default)]
    pub deleted_bridges: Vec<String>,
}

/// One bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBridge {
    /// Name.
    pub name: String,
    /// Datapath id as 16 hex digits.
    #[serde(default)]
    pub dpid: Option<String>,
    /// `standalone` or `secure`.
    pub fail_mode: String,
    /// Controller targets.
    #[serde(default)]
    pub controllers: Vec<String>,
    /// Passive listener targets.
    #[serde(default)]
    pub listeners: Vec<String>,
    /// Ports besides LOCAL.
    #[serde(default)]
    pub ports: Vec<SavedPort>,
    /// MAC learning table size.
    pub mac_table_size: usize,
    /// MAC learning idle time, seconds.
    pub mac_aging_secs: u64,
    /// Forwarding threads, when set.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Busy polling.
    #[serde(default)]
    pub busy_poll: bool,
    /// Whether the LOCAL port exists.
    pub local_port: bool,
}

/// One port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPort {
    /// Interface name.
    pub name: String,
    /// OpenFlow port number (kept across restarts).
    pub ofport: u32,
    /// `system`, `tap` or `internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Access VLAN.
    #[serde(default)]
    pub tag: Option<u16>,
    /// Trunk VLANs.
    #[serde(default)]
    pub trunks: Vec<u16>,
    /// The container this port's veth leads into, for container ports.
    #[serde(default)]
    pub container: Option<SavedContainer>,
    /// Type-specific options (of a vxlan port).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// The far end of a container port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedContainer {
    /// The process whose namespace holds the inner end.
    pub pid: u32,
    /// The inner end's name there.
    pub ifname: String,
}

impl SavedPort {
    /// The port as it runs: a spec with its number pinned.
    pub fn from_spec(spec: &PortSpec, ofport: u32, container: Option<SavedContainer>) -> SavedPort {
        SavedPort {
            name: spec.name.clone(),
            ofport,
            kind: spec.kind.to_string(),
            tag: spec.tag,
            trunks: spec.trunks.clone(),
            container,
            options: spec.options.clone(),
        }
    }

    /// The spec to add the port with (its number pinned), validated.
    pub fn to_spec(&self) -> Result<PortSpec, String> {
        let kind: PortKind = self.kind.parse()?;
        let spec = PortSpec {
            name: self.name.clone(),
            ofport: Some(self.ofport),
            kind,
            tag: self.tag,
            trunks: self.trunks.clone(),
            options: self.options.clone(),
        };
        spec.validate()?;
        if let Some(c) = &self.container {
            if c.pid == 0 {
                return Err("container pid 0 is not a process".into());
            }
            crate::config::validate_ifname(&c.ifname).map_err(|e| format!("container {e}"))?;
        }
        Ok(spec)
    }
}

impl SavedBridge {
    /// A bridge as configured (its ports' numbers must all be set).
    pub fn from_config(b: &BridgeConfig, containers: &[(String, SavedContainer)]) -> SavedBridge {
        SavedBridge {
            name: b.name.clone(),
            dpid: b.dpid.map(|d| format!("{d:016x}")),
            fail_mode: b.fail_mode.to_string(),
            controllers: b.controllers.iter().map(Target::to_string).collect(),
            listeners: b.listeners.iter().map(Target::to_string).collect(),
            ports: b
                .ports
                .iter()
                .map(|p| {
                    let c = containers
                        .iter()
                        .find(|(n, _)| *n == p.name)
                        .map(|(_, c)| c.clone());
                    SavedPort::from_spec(p, p.ofport.unwrap_or(0), c)
                })
                .collect(),
            mac_table_size: b.mac_table_size,
            mac_aging_secs: b.mac_aging_secs,
            threads: b.threads,
            busy_poll: b.busy_poll,
            local_port: b.local_port,
        }
    }

    /// The configuration to create or reconcile the bridge with, validated;
    /// the error names the bridge, port and field.
    pub fn to_config(&self) -> Result<BridgeConfig, ConfigError> {
        let place = format!("state bridge \"{}\"", self.name.escape_debug());
        let err = |r: String| ConfigError::new(&place, r);
        let mut b = BridgeConfig::new(&self.name);
        b.dpid = match &self.dpid {
            Some(d) => Some(parse_dpid(d).map_err(|r| err(format!("dpid: {r}")))?),
            None => None,
        };
        b.fail_mode = self
            .fail_mode
            .parse::<FailMode>()
            .map_err(|r| err(format!("fail_mode: {r}")))?;
        for c in &self.controllers {
            b.controllers
                .push(c.parse().map_err(|r| err(format!("controller: {r}")))?);
        }
        for c in &self.listeners {
            b.listeners
                .push(c.parse().map_err(|r| err(format!("listener: {r}")))?);
        }
        for p in &self.ports {
            let spec = p.to_spec().map_err(|r| {
                ConfigError::new(format!("{place} port \"{}\"", p.name.escape_debug()), r)
            })?;
            b.ports.push(spec);
        }
        b.mac_table_size = self.mac_table_size;
        b.mac_aging_secs = self.mac_aging_secs;
        b.threads = self.threads;
        b.busy_poll = self.busy_poll;
        b.local_port = self.local_port;
        b.validate()?;
        Ok(b)
    }

    /// The containers of this bridge's ports: (port name, container).
    pub fn containers(&self) -> Vec<(String, SavedContainer)> {
        self.ports
            .iter()
            .filter_map(|p| p.container.clone().map(|c| (p.name.clone(), c)))
            .collect()
    }
}

/// The state file's path in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads the state from `dir`; `Ok(None)` when there is none yet.
pub fn load(dir: &Path) -> Result<Option<State>, ConfigError> {
    let path = path_in(dir);
    let place = format!("state file {}", path.display());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConfigError::new(place, e.to_string())),
    };
    let state: State = serde_json::from_str(&text)
        .map_err(|e| ConfigError::new(&place, e.to_string().replace('\n', " ")))?;
    if state.format != FORMAT {
        return Err(ConfigError::new(
            &place,
            format!(
                "format {} is not supported (expected {FORMAT})",
                state.format
            ),
        ));
    }
    for b in &state.bridges {
        b.to_config()?;
    }
    Ok(Some(state))
}

/// Writes `state` to `dir` atomically (temporary file, fsync, rename, fsync
/// of the directory), creating the directory (mode 0700) if needed.
pub fn save(dir: &Path, state: &State) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    text.push('\n');
    let tmp = dir.join(format!("{STATE_FILE}.tmp.{}", std::process::id()));
    let r = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path_in(dir))?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut b = BridgeConfig::new("br0");
        b.dpid = Some(0xaa);
        b.fail_mode = FailMode::Secure;
        b.controllers = vec!["tcp:127.0.0.1:6653".parse().unwrap()];
        b.listeners = vec!["ptcp:6634".parse().unwrap()];
        b.ports = vec![
            PortSpec::system("veth1").with_ofport(7),
            PortSpec {
                name: "vc42p0".into(),
                ofport: Some(3),
                kind: PortKind::System,
                tag: Some(10),
                trunks: vec![],
                options: BTreeMap::new(),
            },
        ];
        let c = vec![(
            "vc42p0".to_string(),
            SavedContainer {
                pid: 42,
                ifname: "eth1".into(),
            },
        )];
        State {
            format: FORMAT,
            bridges: vec![SavedBridge::from_config(&b, &c)],
            deleted_bridges: vec!["old".into()],
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("switchd-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn state_round_trips_through_the_file_with_port_numbers_kept() {
        let dir = tempdir("rt");
        assert_eq!(load(&dir).unwrap(), None);
        let s = sample();
        save(&dir, &s).unwrap();
        let back = load(&dir).unwrap().unwrap();
        assert_eq!(back, s);
        let cfg = back.bridges[0].to_config().unwrap();
        assert_eq!(cfg.ports[0].ofport, Some(7));
        assert_eq!(cfg.ports[1].tag, Some(10));
        assert_eq!(cfg.dpid, Some(0xaa));
        assert_eq!(cfg.fail_mode, FailMode::Secure);
        assert_eq!(back.bridges[0].containers()[0].1.pid, 42);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(STATE_FILE)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_state_file_is_one_line_naming_the_field() {
        let dir = tempdir("bad");
        let mut s = sample();
        s.bridges[0].ports[0].tag = Some(5000);
        save(&dir, &s).unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(
            e.starts_with("state bridge \"br0\" port \"veth1\": tag 5000"),
            "{e}"
        );
        std::fs::write(path_in(&dir), "{\"format\":1,\"bridges\":[{").unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.starts_with("state file ") && !e.contains('\n'), "{e}");
        let mut s = sample();
        s.bridges[0].fail_mode = "open".into();
        save(&dir, &s).unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("fail_mode:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
