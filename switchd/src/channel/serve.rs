//! The channel in the daemon: [`Datapath`] for the daemon's bridges, one
//! [`BridgeChannel`] per bridge (its management socket, configured targets,
//! packet-in and event pumps, fail-mode watcher), and [`serve`], which
//! follows the switch as bridges come and go.
//!
//! # Design
//!
//! Every task a bridge's channel starts is held by an [`AbortOnDrop`], so
//! dropping the [`BridgeChannel`] stops them all; it also closes the hub,
//! which ends connections accepted by passive listeners. Targets are keyed
//! by their text form: when the bridge's controller or listener list
//! changes, targets no longer listed stop and new ones start, and the
//! others keep their connections.

use super::tls::{TlsContext, TlsError, TlsFiles};
use super::{listener, ChannelSettings, ConnKind, Datapath, Hub};
use crate::bridge::{Bridge, BridgeEvent, PortReason, Switch, SwitchEvent};
use crate::config::Target;
use controller_proto::error::ErrorKind;
use controller_proto::port::{PortReason as WireReason, PortStats};
use datapath::dpif::Shared;
use datapath::ofproto::{Action, PortMod, RemovedRule};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

impl Datapath for Bridge {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn datapath_id(&self) -> u64 {
        self.dpid
    }

    fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn now_ms(&self) -> u64 {
        Bridge::now_ms(self)
    }

    fn port_stats(&self) -> Vec<PortStats> {
        self.ports()
            .into_iter()
            .map(|p| {
                let (duration_sec, duration_nsec) = controller_proto::convert::duration(
                    u64::try_from(p.duration.as_millis()).unwrap_or(u64::MAX),
                );
                PortStats {
                    port_no: p.ofport,
                    rx_packets: p.stats.rx_packets,
                    tx_packets: p.stats.tx_packets,
                    rx_bytes: p.stats.rx_bytes,
                    tx_bytes: p.stats.tx_bytes,
                    rx_dropped: p.stats.rx_dropped,
                    tx_dropped: p.stats.tx_dropped,
                    rx_errors: p.stats.rx_errors,
                    tx_errors: p.stats.tx_errors,
                    duration_sec,
                    duration_nsec,
                    ..PortStats::default()
                }
            })
            .collect()
    }

    fn packet_out(&self, in_port: u32, actions: &[Action], frame: &[u8]) -> Result<(), ErrorKind> {
        Bridge::packet_out(self, in_port, actions, frame).map_err(ErrorKind::from)
    }

    fn port_mod(&self, pm: &PortMod) -> Result<(), ErrorKind> {
        Bridge::port_mod(self, pm)
            .map(|_| ())
            .map_err(ErrorKind::from)
    }

    fn flow_removed(&self, removed: Vec<RemovedRule>) {
        self.publish_flow_removed(removed);
    }

    fn set_controller_connected(&self, connected: bool) {
        Bridge::set_controller_connected(self, connected);
    }
}

/// A task that is aborted when this handle is dropped.
#[derive(Debug)]
pub struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the channel of every bridge shares.
#[derive(Clone, Debug, Default)]
pub struct ChannelOptions {
    /// Where `<bridge>.mgmt` sockets go.
    pub run_dir: PathBuf,
    /// TLS files, for `ssl:` and `pssl:` targets.
    pub tls: Option<TlsFiles>,
    /// Tunables.
    pub settings: ChannelSettings,
}

/// The running channel of one bridge; dropping it stops everything.
#[derive(Debug)]
pub struct BridgeChannel {
    hub: Arc<Hub>,
    _tasks: Vec<AbortOnDrop>,
}

impl Drop for BridgeChannel {
    fn drop(&mut self) {
        let c = self.hub.counters();
        tracing::info!(
            bridge = %self.hub.datapath().name(),
            connections = self.hub.connections().len(),
            packet_in_sent = c.packet_in_sent,
            packet_in_rate_drops = c.packet_in_rate_drops,
            packet_in_unwanted = c.packet_in_unwanted,
            queue_drops = c.queue_drops,
            "OpenFlow channel stopped"
        );
        self.hub.close();
    }
}

/// Why a bridge's channel could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The management socket could not be opened.
    #[error(transparent)]
    Listen(#[from] listener::ListenError),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Starts the channel of `bridge`: its management socket
/// `<run_dir>/<bridge>.mgmt`, its controllers and listeners (followed as
/// they change), and the pumps from its packet-in queue and events.
///
/// # Errors
/// The management socket cannot be opened.
pub async fn start_bridge(
    bridge: Arc<Bridge>,
    opts: &ChannelOptions,
    tls: Option<Arc<TlsContext>>,
) -> Result<BridgeChannel, ChannelError> {
    let hub = Hub::new(
        Arc::clone(&bridge) as Arc<dyn Datapath>,
        opts.settings.clone(),
    );
    let mut tasks = Vec::new();
    let mgmt = Target::Punix(opts.run_dir.join(format!("{}.mgmt", bridge.name)));
    tasks.push(AbortOnDrop(
        listener::start(&hub, &mgmt, None, ConnKind::Service).await?,
    ));
    tasks.push(AbortOnDrop(tokio::spawn(follow_targets(
        Arc::clone(&hub),
        Arc::clone(&bridge),
        tls,
    ))));
    if let Some(mut rx) = bridge.take_packet_in_rx() {
        let hub = Arc::clone(&hub);
        tasks.push(AbortOnDrop(tokio::spawn(async move {
            while let Some(pi) = rx.recv().await {
                hub.publish_packet_in(&pi.meta, &pi.data, pi.total_len);
            }
        })));
    }
    let mut events = bridge.subscribe();
    let h = Arc::clone(&hub);
    tasks.push(AbortOnDrop(tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(BridgeEvent::PortStatus { reason, port }) => {
                    let reason = match reason {
                        PortReason::Add => WireReason::OFPPR_ADD,
                        PortReason::Delete => WireReason::OFPPR_DELETE,
                        PortReason::Modify => WireReason::OFPPR_MODIFY,
                    };
                    h.publish_port_status(reason, &port.port);
                }
                Ok(BridgeEvent::FlowRemoved(r)) => h.publish_flow_removed(&r),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let bridge = h.datapath().name();
                    let what = "channel fell behind the bridge's events";
                    tracing::warn!(%bridge, missed = n, "{what}");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })));
    tasks.push(AbortOnDrop(tokio::spawn(super::watch_fail_mode(
        Arc::clone(&hub),
    ))));
    Ok(BridgeChannel { hub, _tasks: tasks })
}

/// Keeps one task per configured controller and listener.
async fn follow_targets(hub: Arc<Hub>, bridge: Arc<Bridge>, tls: Option<Arc<TlsContext>>) {
    let mut controllers = bridge.watch_controllers();
    let mut listeners = bridge.watch_listeners();
    let mut running: HashMap<String, AbortOnDrop> = HashMap::new();
    loop {
        let mut wanted: Vec<(Target, ConnKind)> = controllers
            .borrow_and_update()
            .iter()
            .map(|t| (t.clone(), ConnKind::Controller))
            .collect();
        wanted.extend(
            listeners
                .borrow_and_update()
                .iter()
                .map(|t| (t.clone(), ConnKind::Service)),
        );
        // A target is known by its text and its kind.
        let keys: Vec<String> = wanted.iter().map(|(t, k)| format!("{t} ({k:?})")).collect();
        running.retain(|k, _| keys.contains(k));
        for ((t, kind), k) in wanted.iter().zip(keys) {
            if running.contains_key(&k) {
                continue;
            }
            match listener::start(&hub, t, tls.as_ref(), *kind).await {
                Ok(task) => {
                    tracing::info!(bridge = %bridge.name, target = %k, "OpenFlow target started");
                    running.insert(k, AbortOnDrop(task));
                }
                Err(e) => {
                    let name = &bridge.name;
                    tracing::error!(bridge = %name, error = %e, "OpenFlow target not started")
                }
            }
        }
        tokio::select! {
            r = controllers.changed() => if r.is_err() { return; },
            r = listeners.changed() => if r.is_err() { return; },
        }
    }
}

/// Runs the channel of every bridge of `switch`, following bridges as they
/// are added and deleted, until the switch's event stream ends.
///
/// # Errors
/// The TLS files are given but unusable.
pub async fn serve(switch: Arc<Switch>, opts: ChannelOptions) -> Result<(), ChannelError> {
    let tls = match &opts.tls {
        Some(files) => Some(Arc::new(TlsContext::load(files)?)),
        None => None,
    };
    let mut events = switch.subscribe();
    let mut channels: HashMap<String, BridgeChannel> = HashMap::new();
    for b in switch.bridges() {
        start_one(&mut channels, b, &opts, tls.as_ref()).await;
    }
    loop {
        match events.recv().await {
            Ok(SwitchEvent::BridgeAdded(b)) => {
                start_one(&mut channels, b, &opts, tls.as_ref()).await;
            }
            Ok(SwitchEvent::BridgeDeleted(name)) => {
                channels.remove(&name);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Catch up from the switch itself.
                let names: Vec<String> = switch.bridges().iter().map(|b| b.name.clone()).collect();
                channels.retain(|k, _| names.contains(k));
                for b in switch.bridges() {
                    if !channels.contains_key(&b.name) {
                        start_one(&mut channels, b, &opts, tls.as_ref()).await;
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        }
    }
}

async fn start_one(
    channels: &mut HashMap<String, BridgeChannel>,
    bridge: Arc<Bridge>,
    opts: &ChannelOptions,
    tls: Option<&Arc<TlsContext>>,
) {
    let name = bridge.name.clone();
    if channels.contains_key(&name) {
        // Seen both in the first listing and as an event.
        return;
    }
    match start_bridge(bridge, opts, tls.cloned()).await {
        Ok(c) => {
            channels.insert(name, c);
        }
        Err(e) => tracing::error!(bridge = %name, error = %e, "OpenFlow channel not started"),
    }
}
