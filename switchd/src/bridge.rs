//! Bridges and the switch that holds them: the object every other part of
//! the daemon (the OpenFlow channel, the management socket, persistence)
//! works through.
//!
//! # Shape
//!
//! A [`Switch`] is a set of named [`Bridge`]s plus the daemon's directories
//! and tokio runtime handle. A bridge owns one OpenFlow pipeline, shared
//! with its forwarding threads as a [`datapath::dpif::Shared`]; its ports
//! (a registry of [`PortHandle`]s by OpenFlow number, mirrored into the
//! pipeline's port table and NORMAL's VLAN configuration); its forwarding
//! threads ([`crate::forward`]); a housekeeping thread (rule expiry, MAC
//! aging, link state, vanished interfaces); and the queues through which
//! it talks to the control plane:
//!
//! - packet-ins: a bounded tokio `mpsc` that forwarding threads feed with
//!   `try_send` (a full queue drops and counts; a switch must never block
//!   its datapath on a slow controller), taken once by the channel;
//! - events ([`BridgeEvent`]: port status, flow removed) on a tokio
//!   `broadcast`, one receiver per interested connection;
//! - the configured controller and listener targets on tokio `watch`
//!   channels, which the channel follows.
//!
//! Every change to the pipeline goes through `Shared::modify`, so the
//! forwarding threads' caches stay coherent (see `docs/ARCHITECTURE.md`).
//!
//! # Fail-open
//!
//! As Open vSwitch does, a bridge in fail mode *standalone* holds the rule
//! `priority=0 actions=NORMAL` in table 0 (with the cookie
//! [`FAIL_OPEN_COOKIE`]) whenever no controller is configured or none is
//! connected, so that it forwards as a learning switch; the rule goes away
//! when a controller connects and comes back when the last one leaves. In
//! fail mode *secure* it is never installed.
//!
//! # Detached bridges
//!
//! A switch created with [`IoMode::Detached`] opens no device and starts no
//! thread: ports exist only in the registry and the pipeline, frames sent
//! to them are kept for inspection ([`Bridge::take_transmitted`]), and
//! [`Bridge::inject`] plays a received frame. Everything else (pipeline,
//! events, packet-ins, fail-open) behaves as in a running daemon, which is
//! what the tests of the layers above need.

use crate::config::{BridgeConfig, ConfigError, FailMode, PortKind, PortSpec, Target};
use crate::forward::{Forwarder, ForwarderOptions, PortTable};
use crate::port::{self, PortHandle, PortStatsSnapshot, TxScratch};
use datapath::buffer::Packet;
use datapath::dpif::{Shared, ThreadStats};
use datapath::execute::{execute, ExecCtx, ExecStats, PacketIn, TxBatches};
use datapath::extract::flow_extract;
use datapath::flow::{FlowKey, Match};
use datapath::normal::{FdbEntry, PortL2Config};
use datapath::ofproto::{
    Action, FlowMod, FlowModCommand, Instructions, OfError, Pipeline, Port, PortFeatures, PortMod,
    RemovedRule, OFPP_ANY, OFPP_CONTROLLER, OFPP_LOCAL, OFPP_MAX, OFPP_NORMAL,
};
use datapath::xlate::{translate, translate_actions, XlateCtx};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};

/// Cookie of the fail-open rule (`priority=0 actions=NORMAL`).
pub const FAIL_OPEN_COOKIE: u64 = 0x5357_4641_494c_4f50;
/// Capacity of a bridge's packet-in queue.
pub const PACKET_IN_QUEUE: usize = 1024;
/// Capacity of a bridge's event channel.
pub const EVENT_QUEUE: usize = 1024;
/// How often housekeeping runs.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(100);
/// How often link state is polled.
pub const LINK_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Milliseconds on the daemon's monotonic clock: the `now_ms` every
/// pipeline call of every bridge uses (rule durations, timeouts, MAC aging,
/// megaflow idle time).
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What went wrong with a switch, bridge or port request.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// A bridge with this name exists.
    #[error("bridge \"{0}\" already exists")]
    BridgeExists(String),
    /// No bridge with this name.
    #[error("no bridge \"{0}\"")]
    NoSuchBridge(String),
    /// A port with this name exists (on this or another bridge).
    #[error("port \"{name}\" already exists on bridge \"{bridge}\"")]
    PortExists {
        /// The port.
        name: String,
        /// The bridge that has it.
        bridge: String,
    },
    /// No port with this name.
    #[error("no port \"{0}\"")]
    NoSuchPort(String),
    /// The OpenFlow port number is taken.
    #[error("ofport {0} is already in use")]
    OfportInUse(u32),
    /// Every OpenFlow port number is taken.
    #[error("no free OpenFlow port number")]
    NoFreeOfport,
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Opening or driving a port's device failed.
    #[error("port \"{name}\": {source}")]
    Port {
        /// The port.
        name: String,
        /// The error.
        source: std::io::Error,
    },
    /// Another system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The switch was created outside a tokio runtime.
    #[error("the switch must be created inside a tokio runtime")]
    NoRuntime,
}

/// Whether bridges drive real devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoMode {
    /// Open interfaces and TAPs, run forwarding threads.
    #[default]
    Os,
    /// No device and no thread (see the module notes).
    Detached,
}

/// How to create a [`Switch`].
#[derive(Clone, Debug)]
pub struct SwitchOptions {
    /// Socket directory.
    pub run_dir: PathBuf,
    /// Persistent state directory.
    pub state_dir: PathBuf,
    /// Devices or not.
    pub io: IoMode,
}

/// A switch-wide change.
#[derive(Clone, Debug)]
pub enum SwitchEvent {
    /// A bridge was added.
    BridgeAdded(Arc<Bridge>),
    /// A bridge was deleted (its threads are stopped).
    BridgeDeleted(String),
}

/// The daemon's state: bridges by name, directories, runtime.
#[derive(Debug)]
pub struct Switch {
    bridges: RwLock<BTreeMap<String, Arc<Bridge>>>,
    run_dir: PathBuf,
    state_dir: PathBuf,
    io: IoMode,
    runtime: tokio::runtime::Handle,
    /// Interface name → bridge, across bridges.
    claims: Arc<Mutex<HashMap<String, String>>>,
    events: broadcast::Sender<SwitchEvent>,
}

impl Switch {
    /// A switch with no bridge. Must be called inside a tokio runtime.
    pub fn new(opts: SwitchOptions) -> Result<Switch, SwitchError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SwitchError::NoRuntime)?;
        let (events, _) = broadcast::channel(64);
        Ok(Switch {
            bridges: RwLock::new(BTreeMap::new()),
            run_dir: opts.run_dir,
            state_dir: opts.state_dir,
            io: opts.io,
            runtime,
            claims: Arc::new(Mutex::new(HashMap::new())),
            events,
        })
    }

    /// A detached switch (no devices, no threads) for tests.
    #[allow(dead_code)] // For tests of every layer.
    pub fn detached(run_dir: &Path, state_dir: &Path) -> Result<Switch, SwitchError> {
        Switch::new(SwitchOptions {
            run_dir: run_dir.to_owned(),
            state_dir: state_dir.to_owned(),
            io: IoMode::Detached,
        })
    }

    /// Creates a bridge with its LOCAL port (unless configured off), its
    /// ports, threads and housekeeping. On error nothing is left behind.
    pub fn add_bridge(&self, cfg: BridgeConfig) -> Result<Arc<Bridge>, SwitchError> {
        cfg.validate()?;
        let mut bridges = self
            .bridges
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bridges.contains_key(&cfg.name) {
            return Err(SwitchError::BridgeExists(cfg.name.clone()));
        }
        let bridge = Bridge::create(cfg, self.io, Arc::clone(&self.claims))?;
        bridges.insert(bridge.name.clone(), Arc::clone(&bridge));
        drop(bridges);
        let _ = self
            .events
            .send(SwitchEvent::BridgeAdded(Arc::clone(&bridge)));
        Ok(bridge)
    }

    /// Deletes a bridge: stops its threads and removes the devices it created.
    pub fn del_bridge(&self, name: &str) -> Result<(), SwitchError> {
        let b = self
            .bridges
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name)
            .ok_or_else(|| SwitchError::NoSuchBridge(name.to_owned()))?;
        b.shutdown();
        let _ = self
            .events
            .send(SwitchEvent::BridgeDeleted(name.to_owned()));
        Ok(())
    }

    /// The bridge named `name`.
    pub fn bridge(&self, name: &str) -> Option<Arc<Bridge>> {
        self.bridges
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Every bridge, by name.
    pub fn bridges(&self) -> Vec<Arc<Bridge>> {
        self.bridges
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The socket directory.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The persistent state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The tokio runtime the daemon runs on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Whether bridges drive devices.
    #[allow(dead_code)] // For the management layer.
    pub fn io_mode(&self) -> IoMode {
        self.io
    }

    /// Bridge additions and deletions.
    pub fn subscribe(&self) -> broadcast::Receiver<SwitchEvent> {
        self.events.subscribe()
    }

    /// Stops every bridge (devices the switch created are removed,
    /// interfaces it did not create are left as they were).
    pub fn shutdown(&self) {
        let all: Vec<Arc<Bridge>> = std::mem::take(
            &mut *self
                .bridges
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_values()
        .collect();
        for b in all {
            b.shutdown();
        }
    }
}

/// Why a port status changed (`ofp_port_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortReason {
    /// The port was added.
    Add,
    /// The port was removed.
    Delete,
    /// Some attribute of the port changed.
    Modify,
}

/// Something the controller connections may want to hear about.
// Events are rare (port changes, rule removals): boxing the larger
// variant would only complicate matching on it.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum BridgeEvent {
    /// A port was added, removed or changed.
    PortStatus {
        /// Why.
        reason: PortReason,
        /// The port as it is now (as it was, for a deletion).
        port: PortSnapshot,
    },
    /// A rule was removed (expiry, or a delete published with
    /// [`Bridge::publish_flow_removed`]); whether to tell a controller is
    /// [`RemovedRule::notify`].
    FlowRemoved(RemovedRule),
}

/// One port as the control plane reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSnapshot {
    /// OpenFlow port number.
    pub ofport: u32,
    /// Interface name.
    pub name: String,
    /// Kind of port.
    pub kind: PortKind,
    /// Hardware address.
    pub hw_addr: [u8; 6],
    /// The port as the pipeline holds it: configuration and state bits,
    /// features, current and maximum speed.
    pub port: Port,
    /// Counters.
    pub stats: PortStatsSnapshot,
    /// Time since the port was added.
    pub duration: Duration,
    /// Access VLAN.
    pub tag: Option<u16>,
    /// Trunk VLANs.
    pub trunks: Vec<u16>,
    /// Kernel interface index (0 for a detached port).
    pub ifindex: i32,
    /// Type-specific options (of a vxlan port).
    pub options: std::collections::BTreeMap<String, String>,
}

/// Counters of one forwarding thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadCacheStats {
    /// Thread index.
    pub thread: usize,
    /// Its datapath counters (caches, upcalls, revalidations, execution).
    pub stats: ThreadStats,
}

/// One megaflow of one thread, as `dump-dp-flows` shows it.
#[derive(Clone, Debug)]
pub struct DpFlow {
    /// Thread index.
    pub thread: usize,
    /// The megaflow.
    pub flow: datapath::cache::DumpedFlow,
}

/// Bridge-wide counters that belong to no port.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    /// Packet-ins dropped because the queue to the channel was full.
    pub packet_in_dropped: AtomicU64,
    /// Packet-ins queued.
    pub packet_in_sent: AtomicU64,
    /// Frames queued for a port that no longer exists.
    pub tx_no_port: AtomicU64,
}

/// A port's registry entry: the shared handle plus its VLAN settings.
#[derive(Debug, Clone)]
struct PortEntry {
    handle: Arc<PortHandle>,
    tag: Option<u16>,
    trunks: Vec<u16>,
    /// Type-specific options.
    options: std::collections::BTreeMap<String, String>,
    /// Link state last seen by housekeeping.
    link_up: bool,
}

/// One OpenFlow switch instance.
#[derive(Debug)]
pub struct Bridge {
    /// Name (also the LOCAL port's).
    pub name: String,
    /// Datapath id.
    pub dpid: u64,
    /// The pipeline, shared with the forwarding threads.
    pub shared: Arc<Shared>,
    hw_addr: [u8; 6],
    io: IoMode,
    ports: Mutex<BTreeMap<u32, PortEntry>>,
    table: Arc<PortTable>,
    claims: Arc<Mutex<HashMap<String, String>>>,
    events: broadcast::Sender<BridgeEvent>,
    pin_tx: mpsc::Sender<PacketIn>,
    pin_rx: Mutex<Option<mpsc::Receiver<PacketIn>>>,
    fail_mode: Mutex<FailMode>,
    connected: AtomicBool,
    /// Whether the fail-open rule should be there (last decision).
    fail_open: Mutex<bool>,
    controllers: watch::Sender<Vec<Target>>,
    listeners: watch::Sender<Vec<Target>>,
    counters: Arc<BridgeCounters>,
    fwd: Mutex<Option<Forwarder>>,
    housekeeper: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
    config: Mutex<BridgeConfig>,
    stopped: AtomicBool,
}

/// A stable locally administered MAC address derived from `name`
/// (FNV-1a), so that a bridge keeps its address and datapath id across
/// restarts.
pub fn derived_mac(name: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [0x02 | (b[2] & 0xfc), b[3], b[4], b[5], b[6], b[7]]
}

/// The datapath id Open vSwitch would use for a bridge with this address:
/// the address as the low 48 bits.
pub fn dpid_from_mac(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

impl Bridge {
    fn create(
        cfg: BridgeConfig,
        io: IoMode,
        claims: Arc<Mutex<HashMap<String, String>>>,
    ) -> Result<Arc<Bridge>, SwitchError> {
        let hw_addr = derived_mac(&cfg.name);
        let dpid = cfg.dpid.unwrap_or_else(|| dpid_from_mac(hw_addr));
        let pipeline = Pipeline::new();
        {
            let macs = pipeline.normal().macs();
            macs.set_max_entries(cfg.mac_table_size);
            macs.set_idle_ms(cfg.mac_aging_secs.saturating_mul(1000));
        }
        let shared = Arc::new(Shared::new(pipeline));
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (pin_tx, pin_rx) = mpsc::channel(PACKET_IN_QUEUE);
        let (controllers, _) = watch::channel(cfg.controllers.clone());
        let (listeners, _) = watch::channel(cfg.listeners.clone());
        let counters = Arc::new(BridgeCounters::default());
        let table = Arc::new(PortTable::default());
        let fwd = match io {
            IoMode::Os => Some(
                Forwarder::start(ForwarderOptions {
                    bridge: cfg.name.clone(),
                    threads: cfg.threads.unwrap_or_else(default_threads),
                    busy_poll: cfg.busy_poll,
                    shared: Arc::clone(&shared),
                    table: Arc::clone(&table),
                    packet_in: pin_tx.clone(),
                    counters: Arc::clone(&counters),
                })
                .map_err(|e| SwitchError::Io {
                    context: format!("bridge \"{}\": starting forwarding threads", cfg.name),
                    source: e,
                })?,
            ),
            IoMode::Detached => None,
        };
        let bridge = Arc::new(Bridge {
            name: cfg.name.clone(),
            dpid,
            shared,
            hw_addr,
            io,
            ports: Mutex::new(BTreeMap::new()),
            table,
            claims,
            events,
            pin_tx,
            pin_rx: Mutex::new(Some(pin_rx)),
            fail_mode: Mutex::new(cfg.fail_mode),
            connected: AtomicBool::new(false),
            fail_open: Mutex::new(false),
            controllers,
            listeners,
            counters,
            fwd: Mutex::new(fwd),
            housekeeper: Mutex::new(None),
            config: Mutex::new(cfg.clone()),
            stopped: AtomicBool::new(false),
        });
        if let Err(e) = bridge.populate(&cfg) {
            bridge.shutdown();
            return Err(e);
        }
        bridge.update_fail_open();
        if io == IoMode::Os {
            bridge.start_housekeeping();
        }
        Ok(bridge)
    }

    fn populate(&self, cfg: &BridgeConfig) -> Result<(), SwitchError> {
        if cfg.local_port {
            self.add_port_inner(
                PortSpec {
                    name: cfg.name.clone(),
                    ofport: Some(OFPP_LOCAL),
                    kind: PortKind::Internal,
                    tag: None,
                    trunks: Vec::new(),
                    options: std::collections::BTreeMap::new(),
                },
                true,
            )?;
        }
        for p in &cfg.ports {
            self.add_port(p.clone())?;
        }
        Ok(())
    }

    /// The bridge's hardware address (its LOCAL port's).
    #[allow(dead_code)] // API for the channel and management layers.
    pub fn hw_addr(&self) -> [u8; 6] {
        self.hw_addr
    }

    /// The daemon clock, as every pipeline call of this bridge uses it.
    pub fn now_ms(&self) -> u64 {
        now_ms()
    }

    /// The configuration the bridge was created with, with its current
    /// ports, controllers, listeners and fail mode.
    pub fn config(&self) -> BridgeConfig {
        let mut c = lock(&self.config).clone();
        c.ports = self
            .ports()
            .into_iter()
            .filter(|p| p.ofport != OFPP_LOCAL)
            .map(|p| PortSpec {
                name: p.name,
                ofport: Some(p.ofport),
                kind: p.kind,
                tag: p.tag,
                trunks: p.trunks,
                options: p.options,
            })
            .collect();
        c.controllers = self.controllers();
        c.listeners = self.listeners();
        c.fail_mode = self.fail_mode();
        c
    }

    /// Adds a port and returns its OpenFlow number (the one asked for, or
    /// the lowest free one from 1). Emits `PortStatus { Add }`.
    pub fn add_port(&self, spec: PortSpec) -> Result<u32, SwitchError> {
        self.add_port_inner(spec, false)
    }

    fn add_port_inner(&self, spec: PortSpec, local: bool) -> Result<u32, SwitchError> {
        let place = format!(
            "bridge \"{}\" port \"{}\"",
            self.name.escape_debug(),
            spec.name.escape_debug()
        );
        if !local {
            spec.validate().map_err(|r| ConfigError::new(&place, r))?;
            if spec.ofport == Some(OFPP_LOCAL) || spec.name == self.name {
                return Err(ConfigError::new(
                    &place,
                    "the name and number of LOCAL are the bridge's own",
                )
                .into());
            }
        }
        if self.stopped.load(Ordering::SeqCst) {
            return Err(SwitchError::NoSuchBridge(self.name.clone()));
        }
        let mut ports = lock(&self.ports);
        {
            let mut claims = lock(&self.claims);
            if let Some(owner) = claims.get(&spec.name) {
                return Err(SwitchError::PortExists {
                    name: spec.name.clone(),
                    bridge: owner.clone(),
                });
            }
            claims.insert(spec.name.clone(), self.name.clone());
        }
        let release = |claims: &Mutex<HashMap<String, String>>| {
            lock(claims).remove(&spec.name);
        };
        let ofport = match spec.ofport {
            Some(n) if ports.contains_key(&n) => {
                release(&self.claims);
                return Err(SwitchError::OfportInUse(n));
            }
            Some(n) => n,
            None => match (1..=OFPP_MAX).find(|n| !ports.contains_key(n)) {
                Some(n) => n,
                None => {
                    release(&self.claims);
                    return Err(SwitchError::NoFreeOfport);
                }
            },
        };
        let opened = match self.open_device(ofport, &spec, local) {
            Ok(o) => o,
            Err(e) => {
                release(&self.claims);
                return Err(e);
            }
        };
        let handle = Arc::clone(&opened.handle);
        // A tunnel has no device whose carrier could be read: it is up.
        let link_up = self.io == IoMode::Detached
            || matches!(spec.kind, PortKind::Vxlan | PortKind::Patch)
            || port::netdev::link_up(&spec.name);
        let mut of_port = Port::new(ofport, &spec.name, handle.hw_addr);
        if let Some(speed) = (self.io == IoMode::Os)
            .then(|| port::netdev::speed_mbps(&spec.name))
            .flatten()
        {
            let (feat, kbps) = speed_features(speed);
            of_port.curr = feat;
            of_port.curr_speed = kbps;
            of_port.max_speed = kbps;
        }
        let vlan_mode = spec.vlan_mode();
        self.shared.modify(|p| {
            p.add_port(of_port);
            p.set_port_state(ofport, link_up);
            p.normal_mut().set_port_config(
                ofport,
                PortL2Config {
                    vlan_mode,
                    no_flood: false,
                },
            );
        });
        ports.insert(
            ofport,
            PortEntry {
                handle: Arc::clone(&handle),
                tag: spec.tag,
                trunks: spec.trunks.clone(),
                options: spec.options.clone(),
                link_up,
            },
        );
        self.table.insert(Arc::clone(&handle));
        if let Some(fwd) = lock(&self.fwd).as_ref() {
            fwd.add_queues(ofport, opened.queues);
        }
        let snap = self.snapshot_of(ports.get(&ofport));
        drop(ports);
        if let Some(port) = snap {
            tracing::info!(bridge = %self.name, port = %spec.name, ofport, kind = %spec.kind, "port added");
            let _ = self.events.send(BridgeEvent::PortStatus {
                reason: PortReason::Add,
                port,
            });
        }
        Ok(ofport)
    }

    fn open_device(
        &self,
        ofport: u32,
        spec: &PortSpec,
        local: bool,
    ) -> Result<port::Opened, SwitchError> {
        let mac = if local {
            self.hw_addr
        } else {
            derived_mac(&format!("{}/{}", self.name, spec.name))
        };
        match self.io {
            IoMode::Detached => Ok(port::Opened {
                handle: Arc::new(PortHandle::detached(ofport, &spec.name, spec.kind, mac)),
                queues: Vec::new(),
            }),
            IoMode::Os => {
                let queues = lock(&self.fwd).as_ref().map_or(1, Forwarder::threads);
                let opts = port::OpenOptions {
                    queues,
                    ..port::OpenOptions::default()
                };
                if spec.kind == PortKind::Vxlan {
                    let cfg =
                        port::vxlan::VxlanConfig::from_options(&spec.options).map_err(|r| {
                            SwitchError::Port {
                                name: spec.name.clone(),
                                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, r),
                            }
                        })?;
                    return port::open_vxlan(ofport, &spec.name, mac, &cfg).map_err(|e| {
                        SwitchError::Port {
                            name: spec.name.clone(),
                            source: e,
                        }
                    });
                }
                if spec.kind == PortKind::Patch {
                    let cfg = port::patch::PatchConfig::from_options(&spec.name, &spec.options)
                        .map_err(|r| SwitchError::Port {
                            name: spec.name.clone(),
                            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, r),
                        })?;
                    return port::open_patch(ofport, &spec.name, mac, &cfg).map_err(|e| {
                        SwitchError::Port {
                            name: spec.name.clone(),
                            source: e,
                        }
                    });
                }
                let mac_to_set = (spec.kind != PortKind::System).then_some(mac);
                port::open(ofport, &spec.name, spec.kind, mac_to_set, &opts).map_err(|e| {
                    SwitchError::Port {
                        name: spec.name.clone(),
                        source: e,
                    }
                })
            }
        }
    }

    /// Removes a port (the LOCAL port cannot be removed). Devices the
    /// switch created are deleted; interfaces it did not create are left.
    /// Emits `PortStatus { Delete }`.
    pub fn del_port(&self, name: &str) -> Result<(), SwitchError> {
        if name == self.name {
            return Err(ConfigError::new(
                format!(
                    "bridge \"{}\" port \"{}\"",
                    self.name.escape_debug(),
                    name.escape_debug()
                ),
                "the LOCAL port cannot be removed",
            )
            .into());
        }
        let ofport = lock(&self.ports)
            .iter()
            .find(|(_, e)| e.handle.name == name)
            .map(|(n, _)| *n)
            .ok_or_else(|| SwitchError::NoSuchPort(name.to_owned()))?;
        self.remove_port_no(ofport);
        Ok(())
    }

    /// Removes port `ofport` if it is still there.
    fn remove_port_no(&self, ofport: u32) {
        let mut ports = lock(&self.ports);
        let Some(entry) = ports.get(&ofport).cloned() else {
            return;
        };
        let snap = self.snapshot_of(Some(&entry));
        entry.handle.removed.store(true, Ordering::SeqCst);
        ports.remove(&ofport);
        self.table.remove(ofport);
        if let Some(fwd) = lock(&self.fwd).as_ref() {
            fwd.remove_port(ofport);
        }
        self.shared.modify(|p| {
            p.remove_port(ofport);
            p.normal_mut().remove_port(ofport);
        });
        lock(&self.claims).remove(&entry.handle.name);
        drop(ports);
        tracing::info!(bridge = %self.name, port = %entry.handle.name, ofport, "port removed");
        if let Some(port) = snap {
            let _ = self.events.send(BridgeEvent::PortStatus {
                reason: PortReason::Delete,
                port,
            });
        }
    }

    /// Changes a port's NORMAL VLAN settings (entries learned on it are
    /// flushed when its mode changes). Emits nothing: VLANs are not part of
    /// an OpenFlow port description.
    pub fn set_port_vlan(
        &self,
        name: &str,
        tag: Option<u16>,
        trunks: Vec<u16>,
    ) -> Result<(), SwitchError> {
        let mut ports = lock(&self.ports);
        let (ofport, entry) = ports
            .iter_mut()
            .find(|(_, e)| e.handle.name == name)
            .ok_or_else(|| SwitchError::NoSuchPort(name.to_owned()))?;
        let spec = PortSpec {
            name: name.to_owned(),
            ofport: None,
            kind: entry.handle.kind,
            tag,
            trunks,
            options: entry.options.clone(),
        };
        spec.validate().map_err(|r| {
            ConfigError::new(
                format!(
                    "bridge \"{}\" port \"{}\"",
                    self.name.escape_debug(),
                    name.escape_debug()
                ),
                r,
            )
        })?;
        let ofport = *ofport;
        let vlan_mode = spec.vlan_mode();
        self.shared
            .modify(|p| p.normal_mut().set_vlan_mode(ofport, vlan_mode));
        entry.tag = spec.tag;
        entry.trunks = spec.trunks;
        Ok(())
    }

    fn snapshot_of(&self, entry: Option<&PortEntry>) -> Option<PortSnapshot> {
        let e = entry?;
        let h = &e.handle;
        let port = self.shared.read().port(h.ofport).cloned()?;
        Some(PortSnapshot {
            ofport: h.ofport,
            name: h.name.clone(),
            kind: h.kind,
            hw_addr: h.hw_addr,
            port,
            stats: h.counters.snapshot(),
            duration: h.created.elapsed(),
            tag: e.tag,
            trunks: e.trunks.clone(),
            ifindex: h.ifindex,
            options: e.options.clone(),
        })
    }

    /// Every port, by OpenFlow number (LOCAL last).
    pub fn ports(&self) -> Vec<PortSnapshot> {
        let ports = lock(&self.ports);
        ports
            .values()
            .filter_map(|e| self.snapshot_of(Some(e)))
            .collect()
    }

    /// Port `ofport`.
    pub fn port(&self, ofport: u32) -> Option<PortSnapshot> {
        let ports = lock(&self.ports);
        self.snapshot_of(ports.get(&ofport))
    }

    /// The port named `name`.
    pub fn port_by_name(&self, name: &str) -> Option<PortSnapshot> {
        let ports = lock(&self.ports);
        self.snapshot_of(ports.values().find(|e| e.handle.name == name))
    }

    /// Applies an OpenFlow port-mod; when the port changed, emits
    /// `PortStatus { Modify }`.
    pub fn port_mod(&self, pm: &PortMod) -> Result<bool, OfError> {
        let changed = self.shared.modify(|p| p.port_mod(pm))?;
        if changed {
            self.emit_port_modify(pm.port_no);
        }
        Ok(changed)
    }

    fn emit_port_modify(&self, ofport: u32) {
        if let Some(port) = self.port(ofport) {
            let _ = self.events.send(BridgeEvent::PortStatus {
                reason: PortReason::Modify,
                port,
            });
        }
    }

    /// Runs a controller's packet-out: translates `actions` for `frame`
    /// received on `in_port` (a port, `OFPP_LOCAL`, `OFPP_CONTROLLER` or
    /// `OFPP_ANY`), executes them and transmits the result. Outputs to
    /// `OFPP_TABLE` run the pipeline; packet-ins it produces are queued
    /// like any other.
    pub fn packet_out(
        &self,
        in_port: u32,
        actions: &[Action],
        frame: &[u8],
    ) -> Result<(), OfError> {
        if !(in_port == OFPP_CONTROLLER || in_port == OFPP_ANY || in_port == OFPP_LOCAL)
            && (in_port == 0 || in_port > OFPP_MAX)
        {
            return Err(OfError::BadRequestPort);
        }
        if frame.len() < 14 {
            return Err(OfError::BadPacket);
        }
        let now = now_ms();
        let mut pkt = Packet::from_frame(frame);
        pkt.meta.in_port = in_port;
        let mut key = FlowKey::default();
        flow_extract(pkt.data(), &pkt.meta, &mut key);
        let mut out = TxBatches::new();
        let mut pins = Vec::new();
        {
            let p = self.shared.read();
            p.check_packet_out_actions(actions)?;
            let t = translate_actions(&p, &key, actions, now, &mut XlateCtx::new());
            run_actions(&p, &t.actions, &mut pkt, now, &mut out, &mut pins);
        }
        self.transmit(&mut out);
        self.queue_packet_ins(pins);
        Ok(())
    }

    /// Plays `frame` as if received on `in_port`: runs it through the
    /// pipeline (without the caches) and transmits the result. For tests
    /// and for detached bridges.
    #[allow(dead_code)] // For tests of every layer.
    pub fn inject(&self, in_port: u32, frame: &[u8]) {
        let now = now_ms();
        let mut pkt = Packet::from_frame(frame);
        pkt.meta.in_port = in_port;
        let mut key = FlowKey::default();
        flow_extract(pkt.data(), &pkt.meta, &mut key);
        let mut out = TxBatches::new();
        let mut pins = Vec::new();
        if let Some(e) = lock(&self.ports).get(&in_port) {
            e.handle.counters.add_rx(1, frame.len() as u64);
        }
        {
            let p = self.shared.read();
            let t = translate(&p, &key, now, &mut XlateCtx::new());
            run_actions(&p, &t.actions, &mut pkt, now, &mut out, &mut pins);
        }
        self.transmit(&mut out);
        self.queue_packet_ins(pins);
    }

    fn transmit(&self, out: &mut TxBatches) {
        let mut scratch = TxScratch::default();
        out.flush(|port, pkts| match self.table.get(port) {
            Some(h) => {
                h.send(pkts, &mut scratch);
            }
            None => {
                self.counters
                    .tx_no_port
                    .fetch_add(pkts.len() as u64, Ordering::Relaxed);
            }
        });
    }

    fn queue_packet_ins(&self, pins: Vec<PacketIn>) {
        for pi in pins {
            for pi in port::offload::packet_in_segments(pi) {
                queue_packet_in(&self.pin_tx, &self.counters, pi);
            }
        }
    }

    /// The frames a detached port would have sent since the last call.
    #[allow(dead_code)] // For tests of every layer.
    pub fn take_transmitted(&self, ofport: u32) -> Vec<Vec<u8>> {
        self.table
            .get(ofport)
            .map(|h| h.take_detached_tx())
            .unwrap_or_default()
    }

    /// The receiving end of the packet-in queue; `Some` only the first time.
    pub fn take_packet_in_rx(&self) -> Option<mpsc::Receiver<PacketIn>> {
        lock(&self.pin_rx).take()
    }

    /// Bridge-wide counters (packet-ins queued and dropped, ...).
    #[allow(dead_code)] // API for the channel and management layers.
    pub fn counters(&self) -> &BridgeCounters {
        &self.counters
    }

    /// Port status and flow-removed events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BridgeEvent> {
        self.events.subscribe()
    }

    /// Publishes rules a flow-mod delete removed, so that every connection
    /// hears of them.
    pub fn publish_flow_removed(&self, removed: Vec<RemovedRule>) {
        for r in removed {
            let _ = self.events.send(BridgeEvent::FlowRemoved(r));
        }
    }

    /// The fail mode.
    pub fn fail_mode(&self) -> FailMode {
        *lock(&self.fail_mode)
    }

    /// Sets the fail mode (installs or removes the fail-open rule as needed).
    pub fn set_fail_mode(&self, mode: FailMode) {
        *lock(&self.fail_mode) = mode;
        self.update_fail_open();
    }

    /// Tells the bridge whether any controller is connected (the channel
    /// calls it on every change); drives fail-open in standalone mode.
    pub fn set_controller_connected(&self, any_connected: bool) {
        self.connected.store(any_connected, Ordering::SeqCst);
        self.update_fail_open();
    }

    /// Whether a controller is connected, as last reported.
    pub fn controller_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// The configured controllers.
    pub fn controllers(&self) -> Vec<Target> {
        self.controllers.borrow().clone()
    }

    /// Replaces the configured controllers; watchers of
    /// [`Bridge::watch_controllers`] see the change.
    pub fn set_controllers(&self, targets: Vec<Target>) {
        self.controllers.send_replace(targets);
        self.update_fail_open();
    }

    /// Follows the configured controllers.
    pub fn watch_controllers(&self) -> watch::Receiver<Vec<Target>> {
        self.controllers.subscribe()
    }

    /// The configured passive listeners (besides `<run_dir>/<bridge>.mgmt`).
    pub fn listeners(&self) -> Vec<Target> {
        self.listeners.borrow().clone()
    }

    /// Replaces the configured listeners.
    pub fn set_listeners(&self, targets: Vec<Target>) {
        self.listeners.send_replace(targets);
    }

    /// Follows the configured listeners.
    pub fn watch_listeners(&self) -> watch::Receiver<Vec<Target>> {
        self.listeners.subscribe()
    }

    /// Whether the fail-open rule should be in table 0 now.
    fn wants_fail_open(&self) -> bool {
        self.fail_mode() == FailMode::Standalone
            && (self.controllers.borrow().is_empty() || !self.connected.load(Ordering::SeqCst))
    }

    /// Installs or removes the fail-open rule when the decision changed.
    fn update_fail_open(&self) {
        let mut state = lock(&self.fail_open);
        let want = self.wants_fail_open();
        if want == *state {
            return;
        }
        *state = want;
        let now = now_ms();
        if want {
            let mut fm = FlowMod::add(
                0,
                Match::catch_all(),
                0,
                Instructions::apply(vec![Action::Output {
                    port: OFPP_NORMAL,
                    max_len: 0,
                }]),
            );
            fm.cookie = FAIL_OPEN_COOKIE;
            if let Err(e) = self.shared.modify(|p| p.flow_mod(&fm, now)) {
                tracing::warn!(bridge = %self.name, error = %e, "cannot install the fail-open rule");
            } else {
                tracing::info!(bridge = %self.name, "fail-open: forwarding as a learning switch");
            }
        } else {
            let mut fm =
                FlowMod::delete(0, Match::catch_all()).with_command(FlowModCommand::DeleteStrict);
            fm.priority = 0;
            fm.cookie = FAIL_OPEN_COOKIE;
            fm.cookie_mask = u64::MAX;
            let _ = self.shared.modify(|p| p.flow_mod(&fm, now));
            tracing::info!(bridge = %self.name, "fail-open rule removed");
        }
    }

    /// Per-thread cache and datapath counters (as last published, at most
    /// a housekeeping period old).
    pub fn cache_stats(&self) -> Vec<ThreadCacheStats> {
        self.shared
            .thread_stats()
            .into_iter()
            .enumerate()
            .map(|(thread, stats)| ThreadCacheStats { thread, stats })
            .collect()
    }

    /// Every thread's megaflows. Blocks for up to a second while the
    /// threads answer (call it from a blocking context).
    pub fn dump_dp_flows(&self) -> Vec<DpFlow> {
        let n = self.shared.thread_stats().len();
        if n == 0 {
            return Vec::new();
        }
        self.shared.request_dumps();
        if let Some(f) = lock(&self.fwd).as_ref() {
            f.wake_all();
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut dumps = Vec::new();
        while dumps.len() < n && Instant::now() < deadline {
            dumps.extend(self.shared.take_dumps());
            if dumps.len() < n {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        dumps
            .into_iter()
            .enumerate()
            .flat_map(|(thread, flows)| flows.into_iter().map(move |flow| DpFlow { thread, flow }))
            .collect()
    }

    /// The MAC learning table.
    pub fn fdb(&self) -> Vec<FdbEntry> {
        self.shared.read().normal().macs().entries(now_ms())
    }

    /// Empties the MAC learning table; returns how many entries it had.
    #[allow(dead_code)] // API for the management layer.
    pub fn fdb_flush(&self) -> usize {
        self.shared.read().normal().macs().flush()
    }

    /// Waits until every forwarding thread's caches reflect every pipeline
    /// change made so far (an OpenFlow BARRIER). Blocking.
    #[allow(dead_code)] // API for the channel.
    pub fn barrier(&self, timeout: Duration) -> bool {
        self.shared.wait_for_caches(self.shared.epoch(), timeout)
    }

    /// Number of forwarding threads.
    pub fn threads(&self) -> usize {
        lock(&self.fwd).as_ref().map_or(0, Forwarder::threads)
    }

    fn start_housekeeping(self: &Arc<Self>) {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(self);
        let stop2 = Arc::clone(&stop);
        let name = format!("hk-{}", self.name);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let mut next_link = Instant::now();
            while !stop2.load(Ordering::SeqCst) {
                std::thread::park_timeout(HOUSEKEEPING_INTERVAL);
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Some(b) = weak.upgrade() else { break };
                let poll_links = Instant::now() >= next_link;
                if poll_links {
                    next_link = Instant::now() + LINK_POLL_INTERVAL;
                }
                b.housekeep(poll_links);
            }
        });
        match spawned {
            Ok(h) => *lock(&self.housekeeper) = Some((stop, h)),
            Err(e) => tracing::error!(bridge = %self.name, error = %e, "cannot start housekeeping"),
        }
    }

    /// One housekeeping round: rule expiry, MAC aging, vanished ports, and
    /// (when `poll_links`) link state.
    pub fn housekeep(&self, poll_links: bool) {
        let now = now_ms();
        let due = self
            .shared
            .read()
            .next_expiry_ms()
            .is_some_and(|t| t <= now);
        if due {
            let removed = self.shared.modify(|p| p.expire(now));
            self.publish_flow_removed(removed);
        }
        self.shared.read().normal().macs().run(now);
        let gone: Vec<u32> = lock(&self.ports)
            .iter()
            .filter(|(_, e)| e.handle.gone.load(Ordering::SeqCst))
            .map(|(n, _)| *n)
            .collect();
        for ofport in gone {
            tracing::warn!(bridge = %self.name, ofport, "interface vanished; removing the port");
            self.remove_port_no(ofport);
        }
        if poll_links && self.io == IoMode::Os {
            self.poll_links();
        }
    }

    fn poll_links(&self) {
        let entries: Vec<(u32, Arc<PortHandle>, bool)> = lock(&self.ports)
            .iter()
            .map(|(n, e)| (*n, Arc::clone(&e.handle), e.link_up))
            .collect();
        for (ofport, h, was_up) in entries {
            match port::netdev::ifindex(&h.name) {
                Ok(ix) if ix == h.ifindex => {}
                // A TAP the switch created may have been moved to another
                // namespace; its descriptor still works and says when the
                // device is deleted.
                _ if !matches!(h.kind, PortKind::System | PortKind::Afxdp) => continue,
                _ => {
                    tracing::warn!(bridge = %self.name, port = %h.name, "interface vanished; removing the port");
                    self.remove_port_no(ofport);
                    continue;
                }
            }
            let up = port::netdev::link_up(&h.name);
            if up != was_up {
                if let Some(e) = lock(&self.ports).get_mut(&ofport) {
                    e.link_up = up;
                }
                let changed = self.shared.modify(|p| p.set_port_state(ofport, up));
                if changed {
                    tracing::info!(bridge = %self.name, port = %h.name, up, "link state changed");
                    self.emit_port_modify(ofport);
                }
            }
        }
    }

    /// Stops threads and housekeeping and closes every port (TAP and
    /// internal devices disappear). Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some((stop, h)) = lock(&self.housekeeper).take() {
            stop.store(true, Ordering::SeqCst);
            h.thread().unpark();
            let _ = h.join();
        }
        if let Some(f) = lock(&self.fwd).take() {
            f.stop();
        }
        let mut ports = lock(&self.ports);
        let mut claims = lock(&self.claims);
        for (_, e) in std::mem::take(&mut *ports) {
            e.handle.removed.store(true, Ordering::SeqCst);
            self.table.remove(e.handle.ofport);
            claims.remove(&e.handle.name);
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs datapath actions on one packet outside the forwarding threads.
fn run_actions(
    p: &Pipeline,
    actions: &[datapath::dpaction::DpAction],
    pkt: &mut Packet,
    now: u64,
    out: &mut TxBatches,
    pins: &mut Vec<PacketIn>,
) {
    let mut meter =
        |id: u32, len: usize| p.meter_apply(id, u32::try_from(len).unwrap_or(u32::MAX), now);
    let mut stats = ExecStats::default();
    let mut ctx = ExecCtx {
        meters: &mut meter,
        to_controller: pins,
        stats: &mut stats,
    };
    execute(actions, std::slice::from_mut(pkt), &mut ctx, out);
}

/// Queues a packet-in without blocking; a full queue drops and counts.
pub(crate) fn queue_packet_in(
    tx: &mpsc::Sender<PacketIn>,
    counters: &BridgeCounters,
    pi: PacketIn,
) {
    match tx.try_send(pi) {
        Ok(()) => {
            counters.packet_in_sent.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            counters.packet_in_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The default number of forwarding threads: half the cores, at least one.
/// Every frame a thread forwards costs the kernel about as much again
/// outside it (the sender's system call and, on a veth, the receiver's
/// softirq run on other cores or steal this one), so a thread per two
/// cores is what the cores can feed; more threads only contend with the
/// traffic's own endpoints.
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores / 2).max(1)
}

/// OpenFlow features and kb/s for a link speed in Mb/s.
fn speed_features(mbps: u64) -> (PortFeatures, u32) {
    let rate = match mbps {
        10 => PortFeatures::RATE_10MB_FD,
        100 => PortFeatures::RATE_100MB_FD,
        1_000 => PortFeatures::RATE_1GB_FD,
        10_000 => PortFeatures::RATE_10GB_FD,
        40_000 => PortFeatures::RATE_40GB_FD,
        100_000 => PortFeatures::RATE_100GB_FD,
        1_000_000 => PortFeatures::RATE_1TB_FD,
        _ => PortFeatures::OTHER,
    };
    (
        rate | PortFeatures::COPPER,
        u32::try_from(mbps.saturating_mul(1000)).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::packet::builder::FrameBuilder;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];

    fn switch() -> Switch {
        let d = std::env::temp_dir();
        Switch::detached(&d, &d).unwrap()
    }

    fn bridge(sw: &Switch, ports: &[&str]) -> Arc<Bridge> {
        let mut cfg = BridgeConfig::new("brt");
        cfg.ports = ports.iter().map(|n| PortSpec::system(n)).collect();
        sw.add_bridge(cfg).unwrap()
    }

    fn udp(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
        FrameBuilder::udp4(src, dst, [198, 18, 0, 1], [198, 18, 0, 2], 1, 2, b"x").build()
    }

    #[tokio::test]
    async fn ports_get_the_lowest_free_numbers_and_local() {
        let sw = switch();
        let b = bridge(&sw, &["a", "b"]);
        let nums: Vec<u32> = b.ports().iter().map(|p| p.ofport).collect();
        assert_eq!(nums, vec![1, 2, OFPP_LOCAL]);
        assert_eq!(b.add_port(PortSpec::system("c").with_ofport(7)).unwrap(), 7);
        assert_eq!(b.add_port(PortSpec::system("d")).unwrap(), 3);
        assert!(matches!(
            b.add_port(PortSpec::system("e").with_ofport(7)),
            Err(SwitchError::OfportInUse(7))
        ));
        assert!(matches!(
            b.add_port(PortSpec::system("a")),
            Err(SwitchError::PortExists { .. })
        ));
        b.del_port("a").unwrap();
        assert_eq!(b.add_port(PortSpec::system("f")).unwrap(), 1);
        assert!(b.del_port("brt").is_err());
        assert!(matches!(b.del_port("zz"), Err(SwitchError::NoSuchPort(_))));
        assert_eq!(b.shared.read().ports().count(), 5);
    }

    #[tokio::test]
    async fn port_changes_are_announced() {
        let sw = switch();
        let b = bridge(&sw, &[]);
        let mut ev = b.subscribe();
        b.add_port(PortSpec::system("a")).unwrap();
        b.del_port("a").unwrap();
        match ev.try_recv().unwrap() {
            BridgeEvent::PortStatus { reason, port } => {
                assert_eq!((reason, port.name.as_str()), (PortReason::Add, "a"));
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            ev.try_recv().unwrap(),
            BridgeEvent::PortStatus {
                reason: PortReason::Delete,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_standalone_bridge_without_controller_switches_normally() {
        let sw = switch();
        let b = bridge(&sw, &["a", "b", "c"]);
        b.inject(1, &udp(A, B));
        // B unknown: flooded to b, c and LOCAL.
        assert_eq!(b.take_transmitted(2).len(), 1);
        assert_eq!(b.take_transmitted(3).len(), 1);
        assert_eq!(b.take_transmitted(OFPP_LOCAL).len(), 1);
        b.inject(2, &udp(B, A));
        assert_eq!(b.take_transmitted(1), vec![udp(B, A)]);
        assert!(b.take_transmitted(3).is_empty());
        let fdb = b.fdb();
        assert_eq!(fdb.len(), 2);
        assert_eq!(b.ports()[0].stats.rx_packets, 1);
        assert_eq!(b.ports()[0].stats.tx_packets, 1);
    }

    #[tokio::test]
    async fn a_connected_controller_removes_the_fail_open_rule_and_secure_never_has_it() {
        let sw = switch();
        let b = bridge(&sw, &["a", "b"]);
        let count = |b: &Bridge| b.shared.read().table(0).unwrap().len();
        assert_eq!(count(&b), 1);
        b.set_controllers(vec!["tcp:127.0.0.1:6653".parse().unwrap()]);
        assert_eq!(count(&b), 1);
        b.set_controller_connected(true);
        assert_eq!(count(&b), 0);
        b.inject(1, &udp(A, B));
        assert!(b.take_transmitted(2).is_empty());
        b.set_controller_connected(false);
        assert_eq!(count(&b), 1);
        b.set_fail_mode(FailMode::Secure);
        assert_eq!(count(&b), 0);
        assert_eq!(b.config().fail_mode, FailMode::Secure);
    }

    #[tokio::test]
    async fn packet_out_transmits_and_table_misses_reach_the_packet_in_queue() {
        let sw = switch();
        let b = bridge(&sw, &["a", "b"]);
        let mut rx = b.take_packet_in_rx().unwrap();
        assert!(b.take_packet_in_rx().is_none());
        b.packet_out(
            OFPP_CONTROLLER,
            &[Action::Output {
                port: 2,
                max_len: 0,
            }],
            &udp(A, B),
        )
        .unwrap();
        assert_eq!(b.take_transmitted(2), vec![udp(A, B)]);
        assert_eq!(
            b.packet_out(0, &[], &udp(A, B)),
            Err(OfError::BadRequestPort)
        );
        b.set_fail_mode(FailMode::Secure);
        b.shared.modify(|p| {
            p.flow_mod(
                &FlowMod::add(
                    0,
                    Match::catch_all(),
                    0,
                    Instructions::apply(vec![Action::Output {
                        port: OFPP_CONTROLLER,
                        max_len: 0xffff,
                    }]),
                ),
                0,
            )
            .unwrap()
        });
        b.inject(1, &udp(A, B));
        let pi = rx.try_recv().unwrap();
        assert_eq!(pi.data, udp(A, B));
        assert_eq!(pi.packet_meta.in_port, 1);
    }

    #[tokio::test]
    async fn vlan_settings_isolate_access_ports() {
        let sw = switch();
        let mut cfg = BridgeConfig::new("brv");
        cfg.ports = vec![
            PortSpec::system("a").with_tag(100),
            PortSpec::system("b").with_tag(100),
            PortSpec::system("c").with_tag(200),
        ];
        cfg.local_port = false;
        let b = sw.add_bridge(cfg).unwrap();
        b.inject(1, &udp(A, B));
        assert_eq!(b.take_transmitted(2).len(), 1);
        assert!(b.take_transmitted(3).is_empty());
        b.set_port_vlan("c", Some(100), vec![]).unwrap();
        b.inject(1, &udp(A, B));
        assert_eq!(b.take_transmitted(3).len(), 1);
        assert_eq!(b.port_by_name("c").unwrap().tag, Some(100));
    }

    #[tokio::test]
    async fn bridges_are_named_once_and_interfaces_belong_to_one_bridge() {
        let sw = switch();
        let b = bridge(&sw, &["a"]);
        assert!(matches!(
            sw.add_bridge(BridgeConfig::new("brt")),
            Err(SwitchError::BridgeExists(_))
        ));
        let other = sw.add_bridge(BridgeConfig::new("bro")).unwrap();
        assert!(matches!(
            other.add_port(PortSpec::system("a")),
            Err(SwitchError::PortExists { .. })
        ));
        assert_eq!(sw.bridges().len(), 2);
        sw.del_bridge("brt").unwrap();
        assert!(sw.bridge("brt").is_none());
        other.add_port(PortSpec::system("a")).unwrap();
        drop(b);
    }

    #[test]
    fn the_derived_address_is_stable_and_local() {
        let m = derived_mac("br0");
        assert_eq!(m, derived_mac("br0"));
        assert_ne!(m, derived_mac("br1"));
        assert_eq!(m[0] & 3, 2);
        assert_eq!(dpid_from_mac([0, 0, 0, 0, 1, 2]), 0x102);
    }

    #[test]
    fn creating_a_switch_outside_a_runtime_is_an_error() {
        let d = std::env::temp_dir();
        assert!(matches!(
            Switch::detached(&d, &d),
            Err(SwitchError::NoRuntime)
        ));
    }
}
