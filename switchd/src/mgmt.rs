//! The daemon side of the management socket `<run_dir>/switchd.ctl`: a Unix
//! stream socket (mode 0600, removed on shutdown) that takes one JSON
//! request per line and answers one JSON response per line, served on the
//! daemon's tokio runtime. `switchd ctl` ([`crate::ctl`]) is its client.
//!
//! # Shape
//!
//! [`Request`] is a serde enum tagged by `cmd` (`{"cmd":"add-port",
//! "bridge":"br0","port":"veth1","tag":10}`); [`Response`] carries either the
//! command's text output or a one-line error naming the field at fault.
//! Every request is checked before anything changes, so a bad command
//! disturbs nothing that runs. Commands run one at a time (a tokio mutex);
//! their switch calls, which may block on devices, run on the blocking pool,
//! and container plumbing runs on its own netlink threads
//! ([`crate::container`]), so no runtime worker ever blocks or changes
//! namespace. After every change the runtime state is written to the state
//! directory ([`crate::state`]); [`start`] first restores that state.
//!
//! The text forms (megaflows, traces, matches) live in [`dpfmt`]; the
//! packet syntax of `trace` in [`flowparse`].

pub mod dpfmt;
pub mod flowparse;

use crate::bridge::{now_ms, Bridge, Switch, SwitchError};
use crate::config::{parse_dpid, BridgeConfig, FailMode, PortKind, PortSpec, Target};
use crate::container::{self, AttachSpec};
use crate::state::{self, SavedBridge, SavedContainer, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Name of the socket in the run directory.
pub const SOCKET_NAME: &str = "switchd.ctl";
/// Longest request line accepted.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// One management command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Bridges, ports, controllers, fail modes.
    Show,
    /// Creates a bridge.
    AddBridge {
        /// Name.
        name: String,
        /// Datapath id (hex).
        #[serde(default)]
        dpid: Option<String>,
        /// `standalone` or `secure`.
        #[serde(default)]
        fail_mode: Option<String>,
    },
    /// Deletes a bridge.
    DelBridge {
        /// Name.
        name: String,
    },
    /// Adds a port.
    AddPort {
        /// Bridge.
        bridge: String,
        /// Interface name.
        port: String,
        /// OpenFlow number.
        #[serde(default)]
        ofport: Option<u32>,
        /// `system`, `tap` or `internal`.
        #[serde(default, rename = "type")]
        kind: Option<String>,
        /// Access VLAN.
        #[serde(default)]
        tag: Option<u16>,
        /// Trunk VLANs.
        #[serde(default)]
        trunks: Option<Vec<u16>>,
        /// Type-specific options (`remote_ip`, `key`, ... of a vxlan port).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        options: Option<std::collections::BTreeMap<String, String>>,
    },
    /// Deletes a port.
    DelPort {
        /// Bridge.
        bridge: String,
        /// Interface name.
        port: String,
    },
    /// Replaces the controllers.
    SetController {
        /// Bridge.
        bridge: String,
        /// Targets.
        targets: Vec<String>,
    },
    /// Removes every controller.
    DelController {
        /// Bridge.
        bridge: String,
    },
    /// Sets the fail mode.
    SetFailMode {
        /// Bridge.
        bridge: String,
        /// `standalone` or `secure`.
        mode: String,
    },
    /// The MAC learning table.
    FdbShow {
        /// Bridge.
        bridge: String,
    },
    /// The megaflows of every thread.
    DumpDpFlows {
        /// Bridge (all when absent).
        #[serde(default)]
        bridge: Option<String>,
    },
    /// Traces a packet through the pipeline.
    Trace {
        /// Bridge.
        bridge: String,
        /// Packet fields.
        flow: String,
    },
    /// Per-thread cache counters.
    CacheStats {
        /// Bridge (all when absent).
        #[serde(default)]
        bridge: Option<String>,
    },
    /// Attaches the network namespace of a process.
    AttachContainer {
        /// Bridge.
        bridge: String,
        /// Process.
        pid: u32,
        /// Interface name inside (default `eth1`).
        #[serde(default)]
        ifname: Option<String>,
        /// ADDR/LEN inside.
        #[serde(default)]
        ip: Option<String>,
        /// MAC inside.
        #[serde(default)]
        mac: Option<String>,
        /// Default gateway inside.
        #[serde(default)]
        gateway: Option<String>,
        /// Access VLAN of the port.
        #[serde(default)]
        tag: Option<u16>,
        /// MTU of both ends.
        #[serde(default)]
        mtu: Option<u32>,
    },
    /// Detaches a container.
    DetachContainer {
        /// Bridge.
        bridge: String,
        /// Process.
        pid: u32,
        /// Interface name inside.
        ifname: String,
    },
}

impl Request {
    /// Whether the command changes the runtime state (and so is persisted).
    fn mutates(&self) -> bool {
        !matches!(
            self,
            Request::Show
                | Request::FdbShow { .. }
                | Request::DumpDpFlows { .. }
                | Request::Trace { .. }
                | Request::CacheStats { .. }
        )
    }
}

/// The answer to one request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the command succeeded.
    pub ok: bool,
    /// Its output (text, possibly empty).
    #[serde(default)]
    pub output: String,
    /// Why it failed: one line naming the field.
    #[serde(default)]
    pub error: Option<String>,
}

impl Response {
    fn from_result(r: Result<String, String>) -> Response {
        match r {
            Ok(output) => Response {
                ok: true,
                output,
                error: None,
            },
            Err(e) => Response {
                ok: false,
                output: String::new(),
                error: Some(e.replace('\n', " ")),
            },
        }
    }
}

/// The attach spec a request describes, checked (field-named errors).
pub fn attach_spec(req: &Request) -> Result<AttachSpec, String> {
    let Request::AttachContainer {
        pid,
        ifname,
        ip,
        mac,
        gateway,
        mtu,
        tag,
        ..
    } = req
    else {
        return Err("request: not an attach-container request".into());
    };
    if let Some(t) = tag {
        if *t == 0 || *t > 4094 {
            return Err(format!("tag: {t} is not a VLAN id (1-4094)"));
        }
    }
    let spec = AttachSpec {
        pid: *pid,
        ifname: ifname
            .clone()
            .unwrap_or_else(|| container::DEFAULT_IFNAME.to_string()),
        addr: ip
            .as_deref()
            .map(container::parse_cidr)
            .transpose()
            .map_err(|e| format!("ip: {e}"))?,
        mac: mac
            .as_deref()
            .map(container::parse_mac)
            .transpose()
            .map_err(|e| format!("mac: {e}"))?,
        gateway: gateway
            .as_deref()
            .map(|g| {
                g.parse::<std::net::IpAddr>()
                    .map_err(|_| format!("gateway: \"{}\" is not an IP address", g.escape_debug()))
            })
            .transpose()?,
        mtu: *mtu,
    };
    spec.validate().map_err(|e| e.0)?;
    Ok(spec)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the management side keeps besides the switch itself.
#[derive(Debug)]
pub struct Ctx {
    switch: Arc<Switch>,
    /// Container ports: (bridge, port name) → container.
    containers: Mutex<BTreeMap<(String, String), SavedContainer>>,
    /// Bridges deleted at run time.
    deleted: Mutex<Vec<String>>,
    /// One command at a time.
    serial: tokio::sync::Mutex<()>,
}

impl Ctx {
    /// A context for `switch` with nothing recorded yet.
    pub fn new(switch: Arc<Switch>) -> Arc<Ctx> {
        Arc::new(Ctx {
            switch,
            containers: Mutex::new(BTreeMap::new()),
            deleted: Mutex::new(Vec::new()),
            serial: tokio::sync::Mutex::new(()),
        })
    }

    fn bridge(&self, name: &str) -> Result<Arc<Bridge>, String> {
        self.switch
            .bridge(name)
            .ok_or_else(|| format!("bridge: no bridge \"{}\"", name.escape_debug()))
    }

    /// The runtime state as it is now.
    pub fn snapshot(&self) -> State {
        let containers = lock(&self.containers);
        let bridges = self
            .switch
            .bridges()
            .iter()
            .map(|b| {
                let cs: Vec<(String, SavedContainer)> = containers
                    .iter()
                    .filter(|((br, _), _)| *br == b.name)
                    .map(|((_, p), c)| (p.clone(), c.clone()))
                    .collect();
                SavedBridge::from_config(&b.config(), &cs)
            })
            .collect();
        State {
            format: state::FORMAT,
            bridges,
            deleted_bridges: lock(&self.deleted).clone(),
        }
    }

    /// Writes the runtime state; returns a warning line on failure.
    fn persist(&self) -> Option<String> {
        let dir = self.switch.state_dir();
        match state::save(dir, &self.snapshot()) {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot save the state");
                Some(format!(
                    "warning: the change is made but the state could not be saved in {}: {e}",
                    dir.display()
                ))
            }
        }
    }

    /// Runs one request.
    pub async fn execute(self: &Arc<Self>, req: Request) -> Response {
        let _serial = self.serial.lock().await;
        let mutates = req.mutates();
        let r = match req {
            Request::AttachContainer { .. } => self.attach(&req).await,
            Request::DetachContainer {
                ref bridge,
                pid,
                ref ifname,
            } => self.detach(bridge, pid, ifname).await,
            req => {
                let me = Arc::clone(self);
                match tokio::task::spawn_blocking(move || me.execute_blocking(&req)).await {
                    Ok(r) => r,
                    Err(e) => Err(format!("internal: the command failed: {e}")),
                }
            }
        };
        let r = match r {
            Ok(mut out) if mutates => {
                let me = Arc::clone(self);
                let warn = tokio::task::spawn_blocking(move || me.persist())
                    .await
                    .unwrap_or_else(|e| Some(format!("warning: saving the state failed: {e}")));
                if let Some(w) = warn {
                    out.push_str(&w);
                    out.push('\n');
                }
                Ok(out)
            }
            other => other,
        };
        Response::from_result(r)
    }

    fn execute_blocking(&self, req: &Request) -> Result<String, String> {
        match req {
            Request::Show => Ok(self.show()),
            Request::AddBridge {
                name,
                dpid,
                fail_mode,
            } => {
                crate::config::validate_ifname(name).map_err(|e| format!("bridge: {e}"))?;
                let mut cfg = BridgeConfig::new(name);
                if let Some(d) = dpid {
                    cfg.dpid = Some(parse_dpid(d).map_err(|e| format!("dpid: {e}"))?);
                }
                if let Some(m) = fail_mode {
                    cfg.fail_mode = m
                        .parse::<FailMode>()
                        .map_err(|e| format!("fail-mode: {e}"))?;
                }
                if self.switch.bridge(name).is_some() {
                    return Err(format!(
                        "bridge: bridge \"{}\" already exists",
                        name.escape_debug()
                    ));
                }
                self.switch
                    .add_bridge(cfg)
                    .map_err(|e| switch_error("bridge", &e))?;
                lock(&self.deleted).retain(|d| d != name);
                Ok(String::new())
            }
            Request::DelBridge { name } => {
                self.bridge(name)?;
                self.switch
                    .del_bridge(name)
                    .map_err(|e| switch_error("bridge", &e))?;
                // Container veths are system ports, which a bridge leaves
                // alone when it goes; they are this daemon's, so delete them.
                let hosts: Vec<String> = {
                    let mut cs = lock(&self.containers);
                    let keys: Vec<_> = cs.keys().filter(|(b, _)| b == name).cloned().collect();
                    for k in &keys {
                        cs.remove(k);
                    }
                    keys.into_iter().map(|(_, p)| p).collect()
                };
                let mut out = String::new();
                for h in hosts {
                    if let Err(e) = container::detach(&h) {
                        let _ = writeln!(out, "warning: container port {h} stays: {e}");
                    }
                }
                let mut d = lock(&self.deleted);
                if !d.contains(name) {
                    d.push(name.clone());
                }
                Ok(out)
            }
            Request::AddPort {
                bridge,
                port,
                ofport,
                kind,
                tag,
                trunks,
                options,
            } => {
                let b = self.bridge(bridge)?;
                crate::config::validate_ifname(port).map_err(|e| format!("port: {e}"))?;
                let kind = match kind {
                    Some(k) => k.parse::<PortKind>().map_err(|e| format!("type: {e}"))?,
                    None => PortKind::System,
                };
                let spec = PortSpec {
                    name: port.clone(),
                    ofport: *ofport,
                    kind,
                    tag: *tag,
                    trunks: trunks.clone().unwrap_or_default(),
                    options: options.clone().unwrap_or_default(),
                };
                check_port_spec(&spec)?;
                let n = b.add_port(spec).map_err(|e| switch_error("port", &e))?;
                Ok(format!("{port}: ofport {n}\n"))
            }
            Request::DelPort { bridge, port } => {
                let b = self.bridge(bridge)?;
                if b.port_by_name(port).is_none() {
                    return Err(format!(
                        "port: bridge \"{}\" has no port \"{}\"",
                        bridge.escape_debug(),
                        port.escape_debug()
                    ));
                }
                b.del_port(port).map_err(|e| switch_error("port", &e))?;
                let c = lock(&self.containers).remove(&(bridge.clone(), port.clone()));
                if let Some(c) = c {
                    container::detach(port).map_err(|e| {
                        format!(
                            "port: removed, but its veth of process {} stays: {e}",
                            c.pid
                        )
                    })?;
                }
                Ok(String::new())
            }
            Request::SetController { bridge, targets } => {
                let b = self.bridge(bridge)?;
                if targets.is_empty() {
                    return Err(
                        "targets: at least one target is needed (del-controller removes them all)"
                            .into(),
                    );
                }
                let mut ts = Vec::new();
                for t in targets {
                    ts.push(
                        t.parse::<Target>()
                            .map_err(|e| format!("target \"{}\": {e}", t.escape_debug()))?,
                    );
                }
                b.set_controllers(ts);
                Ok(String::new())
            }
            Request::DelController { bridge } => {
                self.bridge(bridge)?.set_controllers(Vec::new());
                Ok(String::new())
            }
            Request::SetFailMode { bridge, mode } => {
                let b = self.bridge(bridge)?;
                let m = mode
                    .parse::<FailMode>()
                    .map_err(|e| format!("fail-mode: {e}"))?;
                b.set_fail_mode(m);
                Ok(String::new())
            }
            Request::FdbShow { bridge } => Ok(fdb_show(&*self.bridge(bridge)?)),
            Request::DumpDpFlows { bridge } => {
                let bridges = self.selected(bridge.as_deref())?;
                let many = bridges.len() > 1;
                let mut out = String::new();
                for b in bridges {
                    if many {
                        let _ = writeln!(out, "bridge {}:", b.name);
                    }
                    out.push_str(&dump_dp_flows(&b));
                }
                Ok(out)
            }
            Request::Trace { bridge, flow } => {
                let b = self.bridge(bridge)?;
                trace(&b, flow)
            }
            Request::CacheStats { bridge } => {
                let bridges = self.selected(bridge.as_deref())?;
                Ok(cache_stats(&bridges))
            }
            Request::AttachContainer { .. } | Request::DetachContainer { .. } => {
                Err("internal: container commands run asynchronously".into())
            }
        }
    }

    fn selected(&self, bridge: Option<&str>) -> Result<Vec<Arc<Bridge>>, String> {
        match bridge {
            Some(n) => Ok(vec![self.bridge(n)?]),
            None => Ok(self.switch.bridges()),
        }
    }

    async fn attach(self: &Arc<Self>, req: &Request) -> Result<String, String> {
        let Request::AttachContainer { bridge, tag, .. } = req else {
            return Err("request: not an attach-container request".into());
        };
        let spec = attach_spec(req)?;
        let b = self.bridge(bridge)?;
        let host = container::attach_async(&spec).await.map_err(|e| e.0)?;
        let port = PortSpec {
            name: host.clone(),
            ofport: None,
            kind: PortKind::System,
            tag: *tag,
            trunks: Vec::new(),
            options: std::collections::BTreeMap::new(),
        };
        let b2 = Arc::clone(&b);
        let added = tokio::task::spawn_blocking(move || b2.add_port(port))
            .await
            .map_err(|e| format!("internal: {e}"))
            .and_then(|r| r.map_err(|e| switch_error("port", &e)));
        match added {
            Ok(n) => {
                lock(&self.containers).insert(
                    (bridge.clone(), host.clone()),
                    SavedContainer {
                        pid: spec.pid,
                        ifname: spec.ifname.clone(),
                    },
                );
                Ok(format!(
                    "attached process {} {} as port {host} (ofport {n})\n",
                    spec.pid, spec.ifname
                ))
            }
            Err(e) => {
                let _ = container::detach_async(&host).await;
                Err(e)
            }
        }
    }

    async fn detach(
        self: &Arc<Self>,
        bridge: &str,
        pid: u32,
        ifname: &str,
    ) -> Result<String, String> {
        if pid == 0 {
            return Err("pid: must be a process id greater than 0".into());
        }
        crate::config::validate_ifname(ifname).map_err(|e| format!("ifname: {e}"))?;
        let b = self.bridge(bridge)?;
        let recorded = lock(&self.containers)
            .iter()
            .find(|((br, _), c)| br == bridge && c.pid == pid && c.ifname == ifname)
            .map(|((_, p), _)| p.clone());
        let host = match recorded {
            Some(h) => h,
            None => {
                let h = container::find_host_peer_async(pid, ifname)
                    .await
                    .map_err(|e| e.0)?;
                if b.port_by_name(&h).is_none() {
                    return Err(format!(
                        "ifname: {ifname} of process {pid} is not attached to bridge \"{}\"",
                        bridge.escape_debug()
                    ));
                }
                h
            }
        };
        let b2 = Arc::clone(&b);
        let h2 = host.clone();
        let removed = tokio::task::spawn_blocking(move || b2.del_port(&h2))
            .await
            .map_err(|e| format!("internal: {e}"))?;
        match removed {
            Ok(()) | Err(SwitchError::NoSuchPort(_)) => {}
            Err(e) => return Err(switch_error("port", &e)),
        }
        lock(&self.containers).remove(&(bridge.to_string(), host.clone()));
        container::detach_async(&host).await.map_err(|e| e.0)?;
        Ok(format!("detached process {pid} {ifname} (port {host})\n"))
    }

    fn show(&self) -> String {
        let mut s = String::new();
        let containers = lock(&self.containers).clone();
        for b in self.switch.bridges() {
            let _ = writeln!(s, "Bridge {}", b.name);
            let _ = writeln!(s, "    dpid: {:016x}", b.dpid);
            let _ = writeln!(s, "    fail_mode: {}", b.fail_mode());
            let connected = b.controller_connected();
            for c in b.controllers() {
                let _ = writeln!(s, "    Controller \"{c}\"");
                let _ = writeln!(s, "        is_connected: {connected}");
            }
            for l in b.listeners() {
                let _ = writeln!(s, "    Listener \"{l}\"");
            }
            let mut ports = b.ports();
            // LOCAL first, as the bridge's own port.
            ports.sort_by_key(|p| (p.ofport != datapath::ofproto::OFPP_LOCAL, p.ofport));
            for p in ports {
                let _ = writeln!(s, "    Port {}", p.name);
                let _ = writeln!(s, "        ofport: {}", dpfmt::port_name(p.ofport));
                let _ = writeln!(s, "        type: {}", p.kind);
                if let Some(t) = p.tag {
                    let _ = writeln!(s, "        tag: {t}");
                }
                if !p.trunks.is_empty() {
                    let t: Vec<String> = p.trunks.iter().map(u16::to_string).collect();
                    let _ = writeln!(s, "        trunks: [{}]", t.join(", "));
                }
                let _ = writeln!(
                    s,
                    "        link: {}",
                    if p.port.link_up() { "up" } else { "down" }
                );
                let _ = writeln!(s, "        mac: {}", dpfmt::mac(&p.hw_addr));
                if let Some(c) = containers.get(&(b.name.clone(), p.name.clone())) {
                    let _ = writeln!(s, "        container: pid {} {}", c.pid, c.ifname);
                }
            }
        }
        s
    }
}

/// Checks a port spec with field-named errors.
fn check_port_spec(spec: &PortSpec) -> Result<(), String> {
    if let Some(n) = spec.ofport {
        if n == 0 || n > crate::config::OFPORT_MAX {
            return Err(format!(
                "ofport: {n} is out of range (1-{})",
                crate::config::OFPORT_MAX
            ));
        }
    }
    if let Some(t) = spec.tag {
        if t == 0 || t > 4094 {
            return Err(format!("tag: {t} is not a VLAN id (1-4094)"));
        }
    }
    if let Some(t) = spec.trunks.iter().find(|t| **t > 4095) {
        return Err(format!("trunks: {t} is not a VLAN id (0-4095)"));
    }
    spec.validate().map_err(|e| format!("port: {e}"))
}

/// A switch error as one line naming the field.
fn switch_error(field: &str, e: &SwitchError) -> String {
    match e {
        SwitchError::NoSuchBridge(_) => format!("bridge: {e}"),
        SwitchError::BridgeExists(_) => format!("bridge: {e}"),
        SwitchError::OfportInUse(_) | SwitchError::NoFreeOfport => format!("ofport: {e}"),
        SwitchError::PortExists { .. } | SwitchError::NoSuchPort(_) => format!("port: {e}"),
        _ => format!("{field}: {e}"),
    }
}

/// `fdb-show`: ` port  VLAN  MAC                Age` and one line per entry.
pub fn fdb_show(b: &Bridge) -> String {
    let mut s = String::from(" port  VLAN  MAC                Age\n");
    let mut entries = b.fdb();
    entries.sort_by_key(|e| (e.port, e.vlan, e.mac));
    for e in entries {
        let port = if e.port == datapath::ofproto::OFPP_LOCAL {
            "LOCAL".to_string()
        } else {
            e.port.to_string()
        };
        let _ = writeln!(
            s,
            "{port:>5}  {:>4}  {}  {:>3}",
            e.vlan,
            dpfmt::mac(&e.mac),
            e.age_secs()
        );
    }
    s
}

/// `dump-dp-flows` for one bridge: every thread's megaflows.
pub fn dump_dp_flows(b: &Bridge) -> String {
    let flows = b.dump_dp_flows();
    let now = now_ms();
    let threads = b.cache_stats().len();
    let mut s = String::new();
    let mut last_thread = None;
    for f in flows {
        if threads > 1 && last_thread != Some(f.thread) {
            let _ = writeln!(s, "flow-dump from thread {}:", f.thread);
            last_thread = Some(f.thread);
        }
        let d = &f.flow;
        let used = if d.packets == 0 {
            "never".to_string()
        } else {
            let age = now.saturating_sub(d.used_ms);
            format!("{}.{:03}s", age / 1000, age % 1000)
        };
        let _ = writeln!(
            s,
            "{}, packets:{}, bytes:{}, used:{used}, actions:{}",
            dpfmt::odp_flow(&d.key, &d.mask),
            d.packets,
            d.bytes,
            dpfmt::dp_actions(&d.actions)
        );
    }
    s
}

/// `trace`: the walk of a described packet, without side effects.
pub fn trace(b: &Bridge, flow: &str) -> Result<String, String> {
    let key = flowparse::parse_packet(flow, |n| b.port_by_name(n).map(|p| p.ofport))?;
    let names: BTreeMap<u32, String> = b.ports().into_iter().map(|p| (p.ofport, p.name)).collect();
    let p = b.shared.read();
    let mut ctx = datapath::xlate::XlateCtx::tracing();
    let t = datapath::xlate::translate(&p, &key, now_ms(), &mut ctx);
    drop(p);
    let port = |n: u32| match names.get(&n) {
        Some(name) => format!("{} ({name})", dpfmt::port_name(n)),
        None => dpfmt::port_name(n),
    };
    Ok(dpfmt::trace_text(&b.name, &key, &t, &port))
}

/// `cache-stats`: one line per forwarding thread.
pub fn cache_stats(bridges: &[Arc<Bridge>]) -> String {
    let mut s = format!(
        "{:<15} {:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>8} {:>13} {:>9} {:>8}\n",
        "bridge",
        "thread",
        "packets",
        "emc_hits",
        "mf_hits",
        "misses",
        "upcalls",
        "lost",
        "revalidations",
        "megaflows",
        "hit_rate"
    );
    for b in bridges {
        for t in b.cache_stats() {
            let st = t.stats;
            let hits = st.emc_hits + st.megaflow_hits;
            let total = hits + st.misses;
            let rate = if total == 0 {
                "-".to_string()
            } else {
                #[allow(clippy::cast_precision_loss)] // a percentage to print
                let r = hits as f64 * 100.0 / total as f64;
                format!("{r:.1}%")
            };
            let _ = writeln!(
                s,
                "{:<15} {:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>8} {:>13} {:>9} {:>8}",
                b.name,
                t.thread,
                st.packets,
                st.emc_hits,
                st.megaflow_hits,
                st.misses,
                st.upcalls,
                st.lost,
                st.revalidations,
                st.flows,
                rate
            );
        }
    }
    s
}

/// The running management socket; dropping it stops serving and removes
/// the socket file.
#[derive(Debug)]
pub struct MgmtServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MgmtServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Restores the persisted state into `switch` (see [`crate::state`]) and
/// serves the management socket. Call inside the daemon's runtime, after
/// the configured bridges are created.
pub fn start(switch: Arc<Switch>) -> Result<MgmtServer, String> {
    let ctx = Ctx::new(switch);
    let notes = restore(&ctx).map_err(|e| e.to_string())?;
    for n in notes {
        tracing::warn!("{n}");
    }
    if let Some(w) = ctx.persist() {
        tracing::warn!("{w}");
    }
    serve(ctx)
}

/// Serves the management socket in the switch's run directory.
pub fn serve(ctx: Arc<Ctx>) -> Result<MgmtServer, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = ctx.switch.run_dir().to_path_buf();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| format!("run dir {}: {e}", dir.display()))?;
    }
    let path = dir.join(SOCKET_NAME);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(format!(
                "management socket {}: another switchd answers there",
                path.display()
            ));
        }
        std::fs::remove_file(&path)
            .map_err(|e| format!("management socket {}: {e}", path.display()))?;
    }
    let listener = {
        let _guard = ctx.switch.runtime().enter();
        tokio::net::UnixListener::bind(&path)
            .map_err(|e| format!("management socket {}: {e}", path.display()))?
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("management socket {}: {e}", path.display()))?;
    let c = Arc::clone(&ctx);
    let task = ctx.switch.runtime().spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let c = Arc::clone(&c);
                    tokio::spawn(async move { connection(c, stream).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "management socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    tracing::info!(path = %path.display(), "management socket ready");
    Ok(MgmtServer { path, task })
}

async fn connection(ctx: Arc<Ctx>, stream: tokio::net::UnixStream) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let n = match (&mut rd)
            .take(MAX_REQUEST + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        let resp = if line.len() as u64 > MAX_REQUEST {
            Response::from_result(Err(format!("request: longer than {MAX_REQUEST} bytes")))
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => ctx.execute(req).await,
                Err(e) => Response::from_result(Err(format!("request: {e}"))),
            }
        };
        let mut out = serde_json::to_vec(&resp).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
        out.push(b'\n');
        if wr.write_all(&out).await.is_err() {
            return;
        }
        if line.len() as u64 > MAX_REQUEST {
            return;
        }
    }
}

/// Applies the persisted state to the switch; returns warnings (ports that
/// could not be brought back, such as a container that is gone).
pub fn restore(ctx: &Ctx) -> Result<Vec<String>, crate::config::ConfigError> {
    let sw = &ctx.switch;
    let Some(st) = state::load(sw.state_dir())? else {
        return Ok(Vec::new());
    };
    let mut notes = Vec::new();
    for name in &st.deleted_bridges {
        if sw.bridge(name).is_some() {
            if let Err(e) = sw.del_bridge(name) {
                notes.push(format!("state: cannot delete bridge \"{name}\" again: {e}"));
            }
        }
    }
    *lock(&ctx.deleted) = st.deleted_bridges.clone();
    for sb in &st.bridges {
        let cfg = sb.to_config()?;
        let containers = sb.containers();
        let b = match sw.bridge(&sb.name) {
            Some(b) if cfg.dpid.is_none() || cfg.dpid == Some(b.dpid) => b,
            existing => {
                if existing.is_some() {
                    let _ = sw.del_bridge(&sb.name);
                }
                let mut bare = cfg.clone();
                bare.ports.clear();
                match sw.add_bridge(bare) {
                    Ok(b) => b,
                    Err(e) => {
                        notes.push(format!("state: cannot restore bridge \"{}\": {e}", sb.name));
                        continue;
                    }
                }
            }
        };
        if b.fail_mode() != cfg.fail_mode {
            b.set_fail_mode(cfg.fail_mode);
        }
        if b.controllers() != cfg.controllers {
            b.set_controllers(cfg.controllers.clone());
        }
        if b.listeners() != cfg.listeners {
            b.set_listeners(cfg.listeners.clone());
        }
        // Ports: those of the state, with their numbers, plus the ports the
        // command line or config file named that the state does not know
        // (a restart with a new `--port` adds it). A configured port whose
        // name or number clashes with a saved one yields to the saved one.
        let want: BTreeMap<&str, &PortSpec> =
            cfg.ports.iter().map(|p| (p.name.as_str(), p)).collect();
        let saved_numbers: Vec<u32> = cfg.ports.iter().filter_map(|p| p.ofport).collect();
        for p in b.ports() {
            if p.ofport == datapath::ofproto::OFPP_LOCAL {
                continue;
            }
            let keep = match want.get(p.name.as_str()) {
                Some(w) => w.ofport == Some(p.ofport) && w.kind == p.kind,
                None => !saved_numbers.contains(&p.ofport),
            };
            if !keep {
                let _ = b.del_port(&p.name);
            }
        }
        for spec in &cfg.ports {
            if let Some(c) = containers
                .iter()
                .find(|(n, _)| *n == spec.name)
                .map(|(_, c)| c)
            {
                if !Path::new(&format!("/proc/{}", c.pid)).exists() {
                    notes.push(format!(
                        "state: container port \"{}\" of bridge \"{}\" dropped: process {} is gone",
                        spec.name, sb.name, c.pid
                    ));
                    continue;
                }
            }
            match b.port_by_name(&spec.name) {
                Some(p) => {
                    if p.tag != spec.tag || p.trunks != spec.trunks {
                        if let Err(e) = b.set_port_vlan(&spec.name, spec.tag, spec.trunks.clone()) {
                            notes.push(format!("state: port \"{}\": {e}", spec.name));
                        }
                    }
                }
                None => {
                    if let Err(e) = b.add_port(spec.clone()) {
                        notes.push(format!(
                            "state: cannot restore port \"{}\" of bridge \"{}\": {e}",
                            spec.name, sb.name
                        ));
                        continue;
                    }
                }
            }
            if let Some((_, c)) = containers.iter().find(|(n, _)| *n == spec.name) {
                lock(&ctx.containers).insert((sb.name.clone(), spec.name.clone()), c.clone());
            }
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_keeps_saved_port_numbers_and_adds_newly_configured_ports() {
        use crate::config::{BridgeConfig, PortKind, PortSpec};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let dir = std::env::temp_dir().join(format!("swmgmt-restore-{}", std::process::id()));
        let (run, state_dir) = (dir.join("run"), dir.join("state"));
        std::fs::create_dir_all(&state_dir).unwrap();
        let bridge = |ports: &[(&str, Option<u32>)]| {
            let mut cfg = BridgeConfig::new("mrb0");
            cfg.local_port = false;
            for (name, ofport) in ports {
                let mut p = PortSpec::new(name, PortKind::System);
                p.ofport = *ofport;
                cfg.ports.push(p);
            }
            cfg
        };
        let first = Arc::new(Switch::detached(&run, &state_dir).unwrap());
        first.add_bridge(bridge(&[("p1", Some(9))])).unwrap();
        assert!(Ctx::new(first.clone()).persist().is_none());
        drop(first);

        let second = Arc::new(Switch::detached(&run, &state_dir).unwrap());
        second
            .add_bridge(bridge(&[("p1", None), ("p2", None)]))
            .unwrap();
        restore(&Ctx::new(second.clone())).unwrap();
        let mut ports: Vec<(String, u32)> = second
            .bridge("mrb0")
            .unwrap()
            .ports()
            .into_iter()
            .map(|p| (p.name, p.ofport))
            .collect();
        ports.sort();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(ports.len(), 2, "{ports:?}");
        assert_eq!(ports[0], ("p1".to_string(), 9));
        assert_eq!(ports[1].0, "p2");
    }

    #[test]
    fn requests_are_json_tagged_by_command() {
        let r = Request::AddPort {
            bridge: "br0".into(),
            port: "veth1".into(),
            ofport: Some(3),
            kind: None,
            tag: Some(10),
            trunks: None,
            options: None,
        };
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.starts_with("{\"cmd\":\"add-port\""), "{j}");
        assert_eq!(serde_json::from_str::<Request>(&j).unwrap(), r);
        let show: Request = serde_json::from_str("{\"cmd\":\"show\"}").unwrap();
        assert_eq!(show, Request::Show);
        let e = serde_json::from_str::<Request>(
            "{\"cmd\":\"add-port\",\"bridge\":\"b\",\"port\":\"p\",\"color\":1}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("color"), "{e}");
        assert!(serde_json::from_str::<Request>("{\"cmd\":\"explode\"}").is_err());
    }
}
