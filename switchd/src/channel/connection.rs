//! One OpenFlow connection's engine: the tokio task that drives the I/O-free
//! `controller_proto::conn::Connection` over a byte stream (TCP, TLS or
//! Unix), feeds requests to the [`handler`](super::handler) and writes what
//! comes back.
//!
//! # Design
//!
//! Three queues bound what a connection can hold:
//!
//! - the hub's queue of asynchronous messages for this connection (filled
//!   with `try_send`, so a full queue drops, never blocks the publisher);
//! - the state machine's transmit queue, drained after every step;
//! - the writer's queue: a separate task writes to the socket, so a peer
//!   that stops reading blocks only that writer. When its queue is full the
//!   engine waits, stops reading requests (TCP pushes back on the peer),
//!   and the asynchronous queue fills and drops.
//!
//! The engine loop waits on whichever comes first: bytes from the peer, an
//! asynchronous message, or the state machine's timer (echo probe, then
//! disconnection after two silent intervals). Requests are handled in
//! arrival order; a BARRIER waits, on a blocking thread, for
//! `Shared::wait_for_caches` before its reply is queued, and nothing after
//! it is handled meanwhile.

use super::handler::{Response, Session};
use super::{ConnKind, Hub};
use controller_proto::conn::{CloseReason, Config, Connection, Event, Side};
use controller_proto::message::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Messages the writer task may hold.
const WRITE_QUEUE_DEPTH: usize = 256;
/// Longest a BARRIER waits for the forwarding caches.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Whether the handshake had completed.
    pub was_established: bool,
    /// Why it closed (`None` when the peer closed the stream or an I/O
    /// error ended it).
    pub reason: Option<CloseReason>,
}

/// Removes a connection from the hub when dropped.
struct Registration {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(b) = rx.recv().await {
        if wr.write_all(&b).await.is_err() {
            return;
        }
        // Coalesce what is already queued before flushing.
        while let Ok(b) = rx.try_recv() {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        if wr.flush().await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Runs one connection on `stream` until it closes. `peer` names it in
/// logs and listings.
pub async fn run<S>(hub: Arc<Hub>, stream: S, kind: ConnKind, peer: String) -> Ended
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (id, async_rx) = hub.register(kind, peer.clone());
    // Unregisters even when the task is aborted mid-connection.
    let _registration = Registration {
        hub: Arc::clone(&hub),
        id,
    };
    let ended = drive(&hub, id, stream, async_rx, &peer).await;
    tracing::info!(
        bridge = %hub.datapath().name(),
        %peer,
        reason = ?ended.reason,
        "OpenFlow connection closed"
    );
    ended
}

async fn drive<S>(
    hub: &Arc<Hub>,
    id: u64,
    stream: S,
    mut async_rx: mpsc::Receiver<Message>,
    peer: &str,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let (wtx, wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE_DEPTH);
    let writer = tokio::spawn(write_loop(wr, wrx));
    let session = Session::new(Arc::clone(hub), id);
    let config = Config {
        probe_interval_ms: hub.settings().probe_interval_ms,
        ..Config::new(Side::Switch)
    };
    let mut conn = Connection::new(config, hub.clock_ms());
    let mut established = false;
    let mut reason = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut closing = hub.closing();
    if *closing.borrow_and_update() {
        return Ended {
            was_established: false,
            reason: Some(CloseReason::Local),
        };
    }
    'outer: loop {
        // Handle everything the state machine produced, then write it
        // (handling produces messages, never further events).
        {
            while let Some(ev) = conn.poll_event() {
                match ev {
                    Event::Connected { .. } => {
                        established = true;
                        hub.established(id);
                        let bridge = hub.datapath().name();
                        tracing::info!(%bridge, %peer, "OpenFlow connection established");
                    }
                    Event::Message { xid, msg, raw } => {
                        for r in session.handle(msg) {
                            match r {
                                Response::Reply(m) => conn.send(xid, m),
                                Response::Error(k) => conn.send_error(xid, k, &raw),
                                Response::Barrier => {
                                    flush(&mut conn, &wtx).await;
                                    let shared = Arc::clone(hub.shared());
                                    let target = shared.epoch();
                                    let ok = tokio::task::spawn_blocking(move || {
                                        shared.wait_for_caches(target, BARRIER_TIMEOUT)
                                    })
                                    .await
                                    .unwrap_or(false);
                                    if !ok {
                                        let what = "barrier: caches did not confirm in time";
                                        tracing::warn!(%peer, "{what}");
                                    }
                                    conn.send(xid, Message::BarrierReply);
                                }
                            }
                        }
                    }
                    Event::Reply { .. } => {}
                    Event::BadMessage { xid, error } => {
                        tracing::debug!(%peer, xid, ?error, "malformed message refused");
                    }
                    Event::Closed(r) => reason = Some(r),
                }
            }
            if !flush(&mut conn, &wtx).await {
                break 'outer;
            }
        }
        if conn.is_closed() {
            break;
        }
        let deadline = conn.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => {
                    let now = hub.clock_ms();
                    tokio::time::sleep(Duration::from_millis(t.saturating_sub(now))).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => conn.handle_input(buf.get(..n).unwrap_or(&[]), hub.clock_ms()),
            },
            Some(m) = async_rx.recv(), if established => {
                let _ = conn.send_async(m);
            }
            () = sleep => conn.handle_timeout(hub.clock_ms()),
            _ = closing.changed() => conn.close(),
        }
    }
    // Queued bytes (a HELLO_FAILED error, say) still go out before the
    // writer shuts the stream.
    let _ = flush(&mut conn, &wtx).await;
    drop(wtx);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    Ended {
        was_established: established,
        reason,
    }
}

/// Moves the state machine's transmit queue to the writer; false when the
/// writer is gone.
async fn flush(conn: &mut Connection, wtx: &mpsc::Sender<Vec<u8>>) -> bool {
    while let Some(b) = conn.poll_transmit() {
        if wtx.send(b).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::handler::tests::FakeDp;
    use crate::channel::ChannelSettings;
    use controller_proto::conn::Outcome;
    use controller_proto::error::BadRequestCode;
    use controller_proto::error::ErrorKind;

    /// A controller end driven over an in-memory duplex stream.
    struct Ctl {
        conn: Connection,
        io: tokio::io::DuplexStream,
    }

    impl Ctl {
        async fn new(io: tokio::io::DuplexStream) -> Ctl {
            let mut c = Ctl {
                conn: Connection::new(Config::new(Side::Controller), 0),
                io,
            };
            c.until(|e| matches!(e, Event::Connected { .. })).await;
            c
        }

        async fn pump_out(&mut self) {
            while let Some(b) = self.conn.poll_transmit() {
                self.io.write_all(&b).await.unwrap();
            }
        }

        async fn until(&mut self, f: impl Fn(&Event) -> bool) -> Event {
            let mut buf = vec![0u8; 65536];
            loop {
                self.pump_out().await;
                while let Some(e) = self.conn.poll_event() {
                    if f(&e) {
                        return e;
                    }
                }
                let n = tokio::time::timeout(Duration::from_secs(5), self.io.read(&mut buf))
                    .await
                    .expect("timely")
                    .unwrap();
                assert!(n > 0, "switch closed");
                self.conn.handle_input(&buf[..n], 0);
            }
        }

        async fn request(&mut self, m: Message) -> Outcome {
            let xid = self.conn.send_request(m);
            match self
                .until(|e| matches!(e, Event::Reply { xid: x, .. } if *x == xid))
                .await
            {
                Event::Reply { outcome, .. } => outcome,
                _ => unreachable!(),
            }
        }
    }

    fn start() -> (Arc<Hub>, tokio::io::DuplexStream) {
        let dp = FakeDp::new();
        let hub = Hub::new(dp, ChannelSettings::default());
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(run(Arc::clone(&hub), a, ConnKind::Service, "test".into()));
        (hub, b)
    }

    #[tokio::test]
    async fn a_controller_gets_features_and_a_barrier_reply() {
        let (_hub, io) = start();
        let mut c = Ctl::new(io).await;
        let Outcome::Reply(Message::FeaturesReply(f)) = c.request(Message::FeaturesRequest).await
        else {
            panic!("no features");
        };
        assert_eq!(f.datapath_id, 0x42);
        assert_eq!(
            c.request(Message::BarrierRequest).await,
            Outcome::Reply(Message::BarrierReply)
        );
    }

    #[tokio::test]
    async fn an_experimenter_message_gets_an_error_and_the_connection_stays() {
        let (hub, io) = start();
        let mut c = Ctl::new(io).await;
        let m = Message::Experimenter(controller_proto::controller::ExperimenterMsg {
            experimenter: 1,
            exp_type: 2,
            data: Vec::new(),
        });
        let Outcome::Error(e) = c.request(m).await else {
            panic!("no error");
        };
        assert_eq!(
            e.kind,
            ErrorKind::from(BadRequestCode::OFPBRC_BAD_EXPERIMENTER)
        );
        assert!(matches!(
            c.request(Message::FeaturesRequest).await,
            Outcome::Reply(_)
        ));
        assert_eq!(hub.connections().len(), 1);
    }

    #[tokio::test]
    async fn port_status_reaches_an_established_controller() {
        let (hub, io) = start();
        let mut c = Ctl::new(io).await;
        // Make sure the switch saw the handshake complete.
        let _ = c.request(Message::BarrierRequest).await;
        let port = datapath::ofproto::Port::new(9, "p9", [2, 0, 0, 0, 0, 9]);
        hub.publish_port_status(controller_proto::port::PortReason::OFPPR_ADD, &port);
        let ev = c
            .until(|e| {
                matches!(
                    e,
                    Event::Message {
                        msg: Message::PortStatus(_),
                        ..
                    }
                )
            })
            .await;
        let Event::Message {
            msg: Message::PortStatus(ps),
            ..
        } = ev
        else {
            unreachable!()
        };
        assert_eq!(ps.desc.port_no, 9);
    }

    #[tokio::test]
    async fn a_silent_controller_is_probed_with_an_echo_then_disconnected() {
        let dp = FakeDp::new();
        let hub = Hub::new(
            dp,
            ChannelSettings {
                probe_interval_ms: 100,
                ..ChannelSettings::default()
            },
        );
        let (a, b) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(run(
            Arc::clone(&hub),
            a,
            ConnKind::Controller,
            "silent".into(),
        ));
        let mut c = Ctl::new(b).await;
        // From now on the controller answers nothing.
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), c.io.read(&mut buf))
                .await
                .expect("the switch acted within the probe intervals")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        let (_, m) = Message::decode(&seen[..usize::from(u16::from_be_bytes([seen[2], seen[3]]))])
            .expect("a message");
        assert_eq!(m, Message::EchoRequest(Vec::new()));
        let ended = task.await.expect("task");
        assert_eq!(ended.reason, Some(CloseReason::ProbeTimeout));
        assert!(hub.connections().is_empty());
    }
}
