//! The OpenFlow 1.3 channel of one bridge: its controller connections
//! (active `tcp:`/`ssl:`, passive `ptcp:`/`pssl:`/`punix:` and the bridge's
//! management socket), the messages they exchange with the pipeline, roles,
//! asynchronous messages, packet buffers, and the fail-mode signal.
//!
//! # Design
//!
//! The channel is a set of tokio tasks around one [`Hub`], the state every
//! connection of the bridge shares:
//!
//! - [`listener`] opens connections: active targets reconnect with
//!   exponential backoff, passive ones accept; each connection runs
//!   [`connection::run`], which drives the I/O-free
//!   `controller_proto::conn::Connection` over the stream (hello, version
//!   negotiation, echo probes, framing, multipart reassembly) and hands each
//!   request to [`handler`].
//! - [`handler`] applies requests to the pipeline through
//!   `datapath::dpif::Shared::modify` (the only way the pipeline changes, so
//!   forwarding caches revalidate) and answers from `Shared::read`. Every
//!   request gets its reply or the specification's OFPT_ERROR; nothing is
//!   dropped silently.
//! - Asynchronous messages (PACKET_IN, PORT_STATUS, FLOW_REMOVED) are
//!   *published* to the hub, which offers a copy to every established
//!   connection whose role and async configuration ([`roles`]) want it,
//!   with `try_send` on that connection's bounded queue. A full queue drops
//!   the message and counts it: a slow or dead controller never stalls
//!   forwarding, the publisher, or another controller.
//! - PACKET_INs pass a token bucket first (rate-limited, drops counted) and
//!   may be kept in the bounded, aged buffer pool ([`packet_in`]).
//!
//! Invariants: a connection's requests are handled in order, one at a time,
//! on its own task, which also writes the replies; a BARRIER reply is sent
//! only after every earlier request was applied and every forwarding
//! thread's caches reflect it (`Shared::caches_reflect`, checked at once;
//! when a busy thread is behind, the task awaits
//! `Shared::caches_reflect_async`, which that thread wakes). At most one
//! connection is MASTER. The hub's locks are held only for short,
//! non-blocking sections and never across an `.await`.
//!
//! The channel does not own the bridge: it sees it through [`Datapath`],
//! which the daemon's bridge implements, so the whole channel can be tested
//! against a pipeline alone.

pub mod connection;
pub mod handler;
pub mod listener;
pub mod packet_in;
pub mod roles;
pub mod serve;
pub mod tls;

use controller_proto::convert;
use controller_proto::error::ErrorKind;
use controller_proto::message::Message;
use controller_proto::port::{Port as WirePort, PortReason, PortStats, PortStatus};
use datapath::dpaction::ControllerMeta;
use datapath::dpif::Shared;
use datapath::ofproto::{Action, Port, PortMod, RemovedRule, OFPCML_NO_BUFFER, OFP_NO_BUFFER};
use packet_in::{BufferPool, Buffered, TokenBucket};
use roles::{AsyncKind, RoleState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Tables the switch reports (`n_tables`); table ids run 0..=253.
pub const N_TABLES: u8 = 254;
/// Depth of each connection's queue of asynchronous messages.
pub const ASYNC_QUEUE_DEPTH: usize = 1024;

/// What the channel needs from the bridge it serves.
pub trait Datapath: Send + Sync + 'static {
    /// The bridge's name (the management socket is `<run_dir>/<name>.mgmt`).
    fn name(&self) -> String;
    /// The datapath id reported in FEATURES_REPLY.
    fn datapath_id(&self) -> u64;
    /// The pipeline shared with the forwarding threads.
    fn shared(&self) -> Arc<Shared>;
    /// The pipeline clock, ms (the one forwarding threads credit rules with).
    fn now_ms(&self) -> u64;
    /// Counters of every port, for OFPMP_PORT_STATS.
    fn port_stats(&self) -> Vec<PortStats>;
    /// Runs `actions` on `frame` as if it arrived on `in_port`
    /// (`OFPP_CONTROLLER` for none).
    ///
    /// # Errors
    /// The OpenFlow error to report to the controller.
    fn packet_out(&self, in_port: u32, actions: &[Action], frame: &[u8]) -> Result<(), ErrorKind>;
    /// Applies a port mod; the bridge announces a changed port with a
    /// PORT_STATUS event.
    ///
    /// # Errors
    /// The OpenFlow error to report to the controller.
    fn port_mod(&self, pm: &PortMod) -> Result<(), ErrorKind>;
    /// Announces rules a request removed (FLOW_REMOVED goes to every
    /// connection that wants it, through the bridge's events).
    fn flow_removed(&self, removed: Vec<RemovedRule>);
    /// Tells the bridge whether any controller is connected (after the
    /// fail-mode grace period when the last one goes).
    fn set_controller_connected(&self, connected: bool);
}

/// Tunables of one bridge's channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSettings {
    /// Inactivity probe interval, ms (0 disables probes).
    pub probe_interval_ms: u64,
    /// Packet-ins per second across all controllers (0: unlimited).
    pub packet_in_rate: u32,
    /// Packet-in burst size.
    pub packet_in_burst: u32,
    /// Number of packet buffers.
    pub buffers: usize,
    /// Age after which a buffered packet is dropped, ms.
    pub buffer_age_ms: u64,
    /// Time without any controller before the bridge is told none is
    /// connected, ms.
    pub fail_grace_ms: u64,
}

impl Default for ChannelSettings {
    fn default() -> ChannelSettings {
        ChannelSettings {
            probe_interval_ms: controller_proto::conn::DEFAULT_PROBE_INTERVAL_MS,
            packet_in_rate: packet_in::DEFAULT_PACKET_IN_RATE,
            packet_in_burst: packet_in::DEFAULT_PACKET_IN_BURST,
            buffers: packet_in::DEFAULT_BUFFERS,
            buffer_age_ms: packet_in::DEFAULT_BUFFER_AGE_MS,
            fail_grace_ms: 3 * controller_proto::conn::DEFAULT_PROBE_INTERVAL_MS,
        }
    }
}

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnKind {
    /// A controller: from a `--controller` target, active or passive; it
    /// counts for the fail mode.
    Controller,
    /// A tool on a `--listen` target or the management socket.
    Service,
}

/// Counters of the channel (`packet_in_*`, `queue_drops`).
#[derive(Debug, Default)]
pub struct ChannelCounters {
    /// PACKET_INs queued to at least one connection.
    pub packet_in_sent: AtomicU64,
    /// PACKET_INs refused by the rate limit.
    pub packet_in_rate_drops: AtomicU64,
    /// PACKET_INs no connection wanted.
    pub packet_in_unwanted: AtomicU64,
    /// Asynchronous messages dropped because a connection's queue was full.
    pub queue_drops: AtomicU64,
}

/// A snapshot of [`ChannelCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// See [`ChannelCounters::packet_in_sent`].
    pub packet_in_sent: u64,
    /// See [`ChannelCounters::packet_in_rate_drops`].
    pub packet_in_rate_drops: u64,
    /// See [`ChannelCounters::packet_in_unwanted`].
    pub packet_in_unwanted: u64,
    /// See [`ChannelCounters::queue_drops`].
    pub queue_drops: u64,
}

#[derive(Debug)]
struct ConnEntry {
    tx: mpsc::Sender<Message>,
    kind: ConnKind,
    established: bool,
    peer: String,
}

/// A connection as the hub lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Hub-assigned id.
    pub id: u64,
    /// Peer address.
    pub peer: String,
    /// Controller or tool.
    pub kind: ConnKind,
    /// Whether the handshake completed.
    pub established: bool,
    /// Current role.
    pub role: roles::Role,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The state every connection of one bridge shares. See the module
/// documentation.
pub struct Hub {
    dp: Arc<dyn Datapath>,
    shared: Arc<Shared>,
    settings: ChannelSettings,
    clock: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    roles: Mutex<RoleState>,
    buffers: Mutex<BufferPool>,
    bucket: Mutex<TokenBucket>,
    table_names: Mutex<HashMap<u8, String>>,
    counters: ChannelCounters,
    /// Number of established controller connections.
    active: watch::Sender<usize>,
    /// Set when the bridge's channel stops: every connection closes.
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("bridge", &self.dp.name())
            .field("connections", &lock(&self.conns).len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub serving `dp`.
    pub fn new(dp: Arc<dyn Datapath>, settings: ChannelSettings) -> Arc<Hub> {
        let shared = dp.shared();
        let (active, _) = watch::channel(0);
        let (closing, _) = watch::channel(false);
        Arc::new(Hub {
            shared,
            buffers: Mutex::new(BufferPool::new(settings.buffers, settings.buffer_age_ms)),
            bucket: Mutex::new(TokenBucket::new(
                settings.packet_in_rate,
                settings.packet_in_burst,
                0,
            )),
            settings,
            dp,
            clock: Instant::now(),
            next_id: AtomicU64::new(1),
            conns: Mutex::new(HashMap::new()),
            roles: Mutex::new(RoleState::new()),
            table_names: Mutex::new(HashMap::new()),
            counters: ChannelCounters::default(),
            active,
            closing,
        })
    }

    /// The bridge.
    pub fn datapath(&self) -> &Arc<dyn Datapath> {
        &self.dp
    }

    /// The pipeline.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The settings.
    pub fn settings(&self) -> &ChannelSettings {
        &self.settings
    }

    /// Milliseconds since the hub started (connection timers, buffers,
    /// the packet-in bucket).
    pub fn clock_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Counters.
    pub fn counters(&self) -> CounterSnapshot {
        let c = &self.counters;
        CounterSnapshot {
            packet_in_sent: c.packet_in_sent.load(Ordering::Relaxed),
            packet_in_rate_drops: c.packet_in_rate_drops.load(Ordering::Relaxed),
            packet_in_unwanted: c.packet_in_unwanted.load(Ordering::Relaxed),
            queue_drops: c.queue_drops.load(Ordering::Relaxed),
        }
    }

    /// Every connection.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let roles = lock(&self.roles);
        let mut v: Vec<ConnInfo> = lock(&self.conns)
            .iter()
            .map(|(id, c)| ConnInfo {
                id: *id,
                peer: c.peer.clone(),
                kind: c.kind,
                established: c.established,
                role: roles.get(*id).role,
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Watches the number of established controller connections.
    pub fn active_connections(&self) -> watch::Receiver<usize> {
        self.active.subscribe()
    }

    /// Closes every connection and refuses new ones' requests: the
    /// bridge's channel is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Follows [`Hub::close`].
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Registers a new connection; returns its id and its queue of
    /// asynchronous messages.
    pub(crate) fn register(&self, kind: ConnKind, peer: String) -> (u64, mpsc::Receiver<Message>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(ASYNC_QUEUE_DEPTH);
        let mut roles = lock(&self.roles);
        roles.add(id);
        lock(&self.conns).insert(
            id,
            ConnEntry {
                tx,
                kind,
                established: false,
                peer,
            },
        );
        (id, rx)
    }

    /// Marks connection `id` as having completed the handshake.
    pub(crate) fn established(&self, id: u64) {
        let mut conns = lock(&self.conns);
        if let Some(c) = conns.get_mut(&id) {
            c.established = true;
        }
        self.publish_active(&conns);
    }

    /// Forgets connection `id`.
    pub(crate) fn unregister(&self, id: u64) {
        // Lock order everywhere: roles, then connections.
        let mut roles = lock(&self.roles);
        let mut conns = lock(&self.conns);
        conns.remove(&id);
        roles.remove(id);
        drop(roles);
        self.publish_active(&conns);
    }

    fn publish_active(&self, conns: &HashMap<u64, ConnEntry>) {
        let n = conns
            .values()
            .filter(|c| c.established && c.kind == ConnKind::Controller)
            .count();
        self.active.send_if_modified(|v| {
            let changed = *v != n;
            *v = n;
            changed
        });
    }

    /// The role table, for the handler.
    pub(crate) fn roles(&self) -> MutexGuard<'_, RoleState> {
        lock(&self.roles)
    }

    /// The buffer pool, for the handler.
    pub(crate) fn buffers(&self) -> MutexGuard<'_, BufferPool> {
        lock(&self.buffers)
    }

    /// Table names set by TABLE_FEATURES requests.
    pub(crate) fn table_names(&self) -> MutexGuard<'_, HashMap<u8, String>> {
        lock(&self.table_names)
    }

    /// Offers `msg` to every established connection whose configuration
    /// wants `kind` with `reason`; returns how many took it.
    fn broadcast(&self, kind: AsyncKind, reason: u8, msg: &Message) -> usize {
        let roles = lock(&self.roles);
        let conns = lock(&self.conns);
        let mut n = 0;
        for (id, c) in conns.iter() {
            if !c.established || !roles.get(*id).wants(kind, reason) {
                continue;
            }
            match c.tx.try_send(msg.clone()) {
                Ok(()) => n += 1,
                Err(_) => {
                    self.counters.queue_drops.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        n
    }

    fn wanted_by_any(&self, kind: AsyncKind, reason: u8) -> bool {
        let roles = lock(&self.roles);
        let conns = lock(&self.conns);
        conns
            .iter()
            .any(|(id, c)| c.established && roles.get(*id).wants(kind, reason))
    }

    /// Sends a FLOW_REMOVED for `removed` if its rule asked for one.
    pub fn publish_flow_removed(&self, removed: &RemovedRule) {
        if !removed.notify() {
            return;
        }
        let msg = convert::flow_removed_to_wire(removed, self.dp.now_ms());
        let reason = msg.reason.0;
        self.broadcast(AsyncKind::FlowRemoved, reason, &Message::FlowRemoved(msg));
    }

    /// Sends a PORT_STATUS.
    pub fn publish_port_status(&self, reason: PortReason, port: &Port) {
        let msg = Message::PortStatus(Box::new(PortStatus {
            reason,
            desc: handler::port_to_wire(port),
        }));
        self.broadcast(AsyncKind::PortStatus, reason.0, &msg);
    }

    /// Sends a PACKET_IN for a frame the datapath handed to the controller.
    /// `frame` may already be cut to `meta.max_len`; `total_len` is the
    /// length of the whole packet. A whole frame longer than `max_len` is
    /// buffered (when a buffer is free) and cut.
    pub fn publish_packet_in(&self, meta: &ControllerMeta, frame: &[u8], total_len: usize) {
        let now = self.clock_ms();
        if !lock(&self.bucket).take(now) {
            self.counters
                .packet_in_rate_drops
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let reason = match meta.reason {
            datapath::dpaction::PacketInReason::NoMatch => 0,
            datapath::dpaction::PacketInReason::Action => 1,
            datapath::dpaction::PacketInReason::InvalidTtl => 2,
        };
        if !self.wanted_by_any(AsyncKind::PacketIn, reason) {
            self.counters
                .packet_in_unwanted
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let whole = frame.len() >= total_len;
        let cut = usize::from(meta.max_len) < frame.len();
        let mut buffer_id = OFP_NO_BUFFER;
        if meta.max_len != OFPCML_NO_BUFFER && whole && cut {
            let b = Buffered {
                frame: frame.to_vec(),
                in_port: meta.in_port,
            };
            if let Some(id) = lock(&self.buffers).store(b, now) {
                buffer_id = id;
            }
        }
        let mut pi = convert::packet_in_to_wire(meta, frame, buffer_id);
        pi.total_len = u16::try_from(total_len.max(frame.len())).unwrap_or(u16::MAX);
        if self.broadcast(AsyncKind::PacketIn, reason, &Message::PacketIn(pi)) > 0 {
            self.counters.packet_in_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Converts a list of wire ports for PORT_DESC (kept here so the listing
/// and PORT_STATUS use one conversion).
pub fn ports_to_wire<'a>(ports: impl Iterator<Item = &'a Port>) -> Vec<WirePort> {
    ports.map(handler::port_to_wire).collect()
}

/// Watches the number of established controller connections and tells the
/// bridge: connected as soon as one is up, disconnected once none has been
/// for `fail_grace_ms`. Runs until the hub is dropped.
pub async fn watch_fail_mode(hub: Arc<Hub>) {
    let mut rx = hub.active_connections();
    let grace = Duration::from_millis(hub.settings.fail_grace_ms);
    let dp = Arc::clone(&hub.dp);
    drop(hub);
    let mut reported: Option<bool> = None;
    loop {
        let up = *rx.borrow_and_update() > 0;
        if up {
            if reported != Some(true) {
                dp.set_controller_connected(true);
                reported = Some(true);
            }
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        if reported == Some(false) {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            r = rx.changed() => {
                if r.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(grace) => {
                if *rx.borrow() == 0 {
                    dp.set_controller_connected(false);
                    reported = Some(false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::handler::tests::FakeDp;
    use super::*;
    use datapath::dpaction::PacketInReason;

    fn meta(max_len: u16) -> ControllerMeta {
        ControllerMeta {
            reason: PacketInReason::NoMatch,
            max_len,
            table_id: 0,
            cookie: u64::MAX,
            metadata: 0,
            tunnel_id: 0,
            in_port: 1,
        }
    }

    fn hub(settings: ChannelSettings) -> (Arc<FakeDp>, Arc<Hub>) {
        let dp = FakeDp::new();
        let hub = Hub::new(dp.clone(), settings);
        (dp, hub)
    }

    #[test]
    fn a_controller_that_never_reads_costs_drops_not_stalls() {
        let (_, hub) = hub(ChannelSettings {
            packet_in_rate: 0,
            ..ChannelSettings::default()
        });
        let (slow, _slow_rx) = hub.register(ConnKind::Controller, "slow".into());
        let (fast, mut fast_rx) = hub.register(ConnKind::Controller, "fast".into());
        hub.established(slow);
        hub.established(fast);
        let frame = [0u8; 60];
        let n = ASYNC_QUEUE_DEPTH + 500;
        let mut got = 0;
        for _ in 0..n {
            hub.publish_packet_in(&meta(OFPCML_NO_BUFFER), &frame, frame.len());
            while fast_rx.try_recv().is_ok() {
                got += 1;
            }
        }
        assert_eq!(got, n, "the reading controller got every packet-in");
        let c = hub.counters();
        assert_eq!(
            c.queue_drops, 500,
            "the other's full queue dropped the rest"
        );
        assert_eq!(c.packet_in_sent, u64::try_from(n).unwrap());
    }

    #[test]
    fn packet_ins_beyond_the_rate_are_dropped_and_counted() {
        let (_, hub) = hub(ChannelSettings {
            packet_in_rate: 100,
            packet_in_burst: 10,
            ..ChannelSettings::default()
        });
        let (id, mut rx) = hub.register(ConnKind::Controller, "c".into());
        hub.established(id);
        for _ in 0..50 {
            hub.publish_packet_in(&meta(OFPCML_NO_BUFFER), &[0u8; 60], 60);
        }
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert!((10..=12).contains(&got), "{got} passed the limit");
        assert_eq!(hub.counters().packet_in_rate_drops, 50 - got);
    }

    #[test]
    fn a_whole_frame_longer_than_max_len_is_buffered_and_released_by_packet_out() {
        let (dp, hub) = hub(ChannelSettings::default());
        let (id, mut rx) = hub.register(ConnKind::Controller, "c".into());
        hub.established(id);
        let frame: Vec<u8> = (0..200u8).collect();
        hub.publish_packet_in(&meta(64), &frame, frame.len());
        let Ok(Message::PacketIn(pi)) = rx.try_recv() else {
            panic!("no packet-in");
        };
        assert_ne!(pi.buffer_id, OFP_NO_BUFFER);
        assert_eq!(pi.data.len(), 64);
        assert_eq!(pi.total_len, 200);
        let s = handler::Session::new(Arc::clone(&hub), id);
        let po = controller_proto::packet_io::PacketOut {
            buffer_id: pi.buffer_id,
            in_port: 1,
            actions: vec![controller_proto::action::Action::Output {
                port: 2,
                max_len: 0,
            }],
            data: Vec::new(),
        };
        assert!(s.handle(Message::PacketOut(po.clone())).is_empty());
        let outs = dp
            .outs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].2, frame, "the whole frame went out");
        drop(outs);
        assert_eq!(
            s.handle(Message::PacketOut(po)),
            vec![handler::Response::Error(
                controller_proto::error::BadRequestCode::OFPBRC_BUFFER_EMPTY.into()
            )]
        );
    }

    #[test]
    fn a_cut_frame_goes_unbuffered_with_its_total_length() {
        let (_, hub) = hub(ChannelSettings::default());
        let (id, mut rx) = hub.register(ConnKind::Controller, "c".into());
        hub.established(id);
        hub.publish_packet_in(&meta(64), &[7u8; 64], 500);
        let Ok(Message::PacketIn(pi)) = rx.try_recv() else {
            panic!("no packet-in");
        };
        assert_eq!(pi.buffer_id, OFP_NO_BUFFER);
        assert_eq!(pi.data.len(), 64);
        assert_eq!(pi.total_len, 500);
    }

    #[test]
    fn connections_still_shaking_hands_get_no_asynchronous_messages() {
        let (_, hub) = hub(ChannelSettings::default());
        let (_id, mut rx) = hub.register(ConnKind::Controller, "c".into());
        hub.publish_packet_in(&meta(OFPCML_NO_BUFFER), &[0u8; 60], 60);
        assert!(rx.try_recv().is_err());
        assert_eq!(hub.counters().packet_in_unwanted, 1);
    }

    #[tokio::test]
    async fn the_bridge_hears_of_a_controller_at_once_and_of_its_loss_after_the_grace() {
        let (dp, hub) = hub(ChannelSettings {
            fail_grace_ms: 200,
            ..ChannelSettings::default()
        });
        let watcher = tokio::spawn(watch_fail_mode(Arc::clone(&hub)));
        let connected = || {
            dp.connected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        };
        let (id, _rx) = hub.register(ConnKind::Controller, "c".into());
        hub.established(id);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(connected(), vec![true]);
        hub.unregister(id);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(connected(), vec![true], "not before the grace period");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(connected(), vec![true, false]);
        // A tool's connection does not count as a controller.
        let (p, _rx) = hub.register(ConnKind::Service, "tool".into());
        hub.established(p);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(connected(), vec![true, false]);
        watcher.abort();
    }
}
