//! One OpenFlow connection's engine: the tokio task that drives the I/O-free
//! `controller_proto::conn::Connection` over a byte stream (TCP, TLS or
//! Unix), feeds requests to the [`handler`](super::handler) and writes what
//! comes back.
//!
//! # Design
//!
//! One task per connection reads, handles and writes: a reply is written
//! by the task that made it, the moment it is made, with no hand-off to
//! another task or thread (a round trip of a flow mod and a barrier, what
//! `ovs-ofctl add-flows` does for every flow, costs at most one wake-up of
//! this task, and none while it polls; see below). Two bounds limit what a
//! connection can hold:
//!
//! - the hub's queue of asynchronous messages for this connection (filled
//!   with `try_send`, so a full queue drops, never blocks the publisher);
//! - the unwritten output ([`OUTPUT_HIGH_WATER`]): above it the engine
//!   stops reading requests (TCP pushes back on the peer) and stops taking
//!   asynchronous messages (their queue fills and drops), and only writes.
//!
//! The engine loop waits on whichever comes first: the socket taking
//! output (preferred), bytes from the peer, an asynchronous message, or the
//! state machine's timer (echo probe, then disconnection after two silent
//! intervals). A whole read's worth of requests is handled in one pass, in
//! arrival order. A BARRIER is answered at once when every forwarding
//! thread's caches already reflect the pipeline (always so while they are
//! idle); otherwise the engine awaits `Shared::caches_reflect_async`
//! (woken by the forwarding thread that catches up last, no polling),
//! writing earlier output meanwhile, and handles nothing after the barrier
//! until it is answered.
//!
//! A request usually comes in a burst or as the answer to a reply just
//! written (`ovs-ofctl add-flows` waits for each barrier reply before it
//! sends the next flow). Parking the task and being woken by the runtime
//! costs more than that whole exchange: on a virtual machine, waking a
//! task on a halted core is an inter-processor interrupt, tens of
//! microseconds. So for [`POLL_WINDOW`] after the last bytes came in, a
//! connection with everything written polls its socket, yielding the core
//! between tries, before it waits on the runtime
//! ([`ChannelStream::polling`]):
//!
//! - a plain TCP or Unix stream is read directly without blocking, and
//!   what comes is handled at once;
//! - under TLS, records must go through the TLS layer, so the connection
//!   only asks the socket (`poll` with no timeout) whether bytes wait, then
//!   reads through the stream; the runtime's next look at its event queue
//!   finds the socket ready instead of sleeping. This costs a few per cent
//!   more per request than reading directly. A read that filled the whole
//!   buffer may have left plaintext in the TLS layer, so the next read goes
//!   ahead without asking.
//!
//! A connection that goes quiet costs one window of polling; an idle one
//! costs nothing.

use super::handler::{Response, Session};
use super::{ConnKind, Hub};
use controller_proto::conn::{CloseReason, Config, Connection, Event, Side};
use controller_proto::message::Message;
use nix::errno::Errno;
use nix::sys::socket::MsgFlags;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Unwritten output above which the connection stops taking requests and
/// asynchronous messages in.
const OUTPUT_HIGH_WATER: usize = 1 << 20;
/// Output buffer capacity kept between bursts.
const OUTPUT_KEEP: usize = 256 * 1024;
/// How long after the last bytes came in a connection keeps polling its
/// socket before it waits on the runtime: longer than a controller takes
/// to answer a reply with its next request.
pub const POLL_WINDOW: Duration = Duration::from_micros(50);
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

/// A byte stream a connection runs on.
pub trait ChannelStream: AsyncRead + AsyncWrite + Send + 'static {
    /// How the connection may poll the stream between requests.
    fn polling(&self) -> Polling;
}

/// How a connection polls its stream between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polling {
    /// Read this socket directly: nothing above it holds bytes.
    Read(RawFd),
    /// Ask this socket whether bytes wait, then read through the stream
    /// (a TLS layer sits above the socket).
    Ask(RawFd),
    /// Not at all: there is no socket.
    Never,
}

impl ChannelStream for tokio::net::TcpStream {
    fn polling(&self) -> Polling {
        Polling::Read(self.as_raw_fd())
    }
}

impl ChannelStream for tokio::net::UnixStream {
    fn polling(&self) -> Polling {
        Polling::Read(self.as_raw_fd())
    }
}

impl ChannelStream for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {
    fn polling(&self) -> Polling {
        Polling::Ask(self.get_ref().0.as_raw_fd())
    }
}

impl ChannelStream for tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    fn polling(&self) -> Polling {
        Polling::Ask(self.get_ref().0.as_raw_fd())
    }
}

impl ChannelStream for tokio::io::DuplexStream {
    fn polling(&self) -> Polling {
        Polling::Never
    }
}

/// What polling a socket for a while found.
#[derive(Debug, PartialEq, Eq)]
enum Polled {
    /// This many bytes were read into the buffer.
    Bytes(usize),
    /// Bytes wait (asked, not read), or the peer closed, or the socket
    /// failed: the stream's read tells which.
    Readable,
    /// `stop` said so: something else needs the task.
    Stopped,
    /// Nothing came before the deadline.
    Quiet,
}

/// Polls `fd` until it has something, `until` passes or `stop` says so,
/// yielding the core between tries to whatever else is runnable on it.
/// With `buf` the socket is read without blocking; without, only asked
/// (`poll` with no timeout).
fn poll_socket(
    fd: RawFd,
    mut buf: Option<&mut [u8]>,
    until: Instant,
    stop: impl Fn() -> bool,
) -> Polled {
    loop {
        if let Some(b) = buf.as_deref_mut() {
            match nix::sys::socket::recv(fd, b, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => return Polled::Readable,
                Ok(n) => return Polled::Bytes(n),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return Polled::Readable,
            }
        } else {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `poll` reads and writes the one `pollfd` it is
            // given, which lives on this stack for the call; a zero
            // timeout never blocks.
            if unsafe { libc::poll(&raw mut pfd, 1, 0) } > 0 {
                return Polled::Readable;
            }
        }
        if stop() {
            return Polled::Stopped;
        }
        if Instant::now() >= until {
            return Polled::Quiet;
        }
        std::thread::yield_now();
    }
}

/// Runs one connection on `stream` until it closes. `peer` names it in
/// logs and listings.
pub async fn run<S: ChannelStream>(
    hub: Arc<Hub>,
    stream: S,
    kind: ConnKind,
    peer: String,
) -> Ended {
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

async fn drive<S: ChannelStream>(
    hub: &Arc<Hub>,
    id: u64,
    stream: S,
    mut async_rx: mpsc::Receiver<Message>,
    peer: &str,
) -> Ended {
    // The socket stays open as long as the stream's halves, which outlive
    // the loop.
    let polling = stream.polling();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut out = Output::default();
    let session = Session::new(Arc::clone(hub), id);
    let config = Config {
        probe_interval_ms: hub.settings().probe_interval_ms,
        ..Config::new(Side::Switch)
    };
    let mut conn = Connection::new(config, hub.clock_ms());
    let mut established = false;
    let mut reason = None;
    let mut buf = vec![0u8; 64 * 1024];
    // When bytes last came in, while within a polling window.
    let mut last_input: Option<Instant> = None;
    // Whether the last read filled `buf`, leaving more to read at once.
    let mut read_full = false;
    let mut closing = hub.closing();
    if *closing.borrow_and_update() {
        return Ended {
            was_established: false,
            reason: Some(CloseReason::Local),
        };
    }
    'outer: loop {
        // Handle everything the state machine produced (handling produces
        // messages, never further events), then queue it for writing.
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
                                out.take(&mut conn);
                                match barrier(hub, &mut wr, &mut out).await {
                                    Ok(true) => {}
                                    Ok(false) => {
                                        let what = "barrier: caches did not confirm in time";
                                        tracing::warn!(%peer, "{what}");
                                    }
                                    Err(()) => break 'outer,
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
        out.take(&mut conn);
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
        let room = out.has_room();
        if let Some(t) = last_input.filter(|_| room && !out.busy()) {
            let stop =
                || (established && !async_rx.is_empty()) || closing.has_changed().unwrap_or(true);
            let polled = match polling {
                Polling::Read(fd) => poll_socket(fd, Some(&mut buf), t + POLL_WINDOW, stop),
                Polling::Ask(fd) if !read_full => poll_socket(fd, None, t + POLL_WINDOW, stop),
                Polling::Ask(_) | Polling::Never => Polled::Stopped,
            };
            match polled {
                Polled::Bytes(n) => {
                    conn.handle_input(buf.get(..n).unwrap_or(&[]), hub.clock_ms());
                    last_input = Some(Instant::now());
                    // A peer that keeps sending keeps this loop from
                    // awaiting; the task's budget lets the runtime's other
                    // tasks in now and then.
                    tokio::task::coop::consume_budget().await;
                    continue;
                }
                Polled::Quiet => last_input = None,
                Polled::Readable | Polled::Stopped => {}
            }
        }
        tokio::select! {
            // Output first: a reply goes out from this task the moment it
            // is made, with no hand-off to another thread.
            biased;
            r = step(&mut wr, &out), if out.busy() => match r {
                Ok(n) => out.advance(n),
                Err(()) => break,
            },
            r = rd.read(&mut buf), if room => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    conn.handle_input(buf.get(..n).unwrap_or(&[]), hub.clock_ms());
                    last_input = Some(Instant::now());
                    read_full = n == buf.len();
                }
            },
            Some(m) = async_rx.recv(), if established && room => {
                let _ = conn.send_async(m);
            }
            () = sleep => conn.handle_timeout(hub.clock_ms()),
            _ = closing.changed() => conn.close(),
        }
    }
    // Queued bytes (a HELLO_FAILED error, say) still go out before the
    // stream is shut.
    out.take(&mut conn);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        if wr.write_all(out.pending()).await.is_ok() {
            let _ = wr.shutdown().await;
        }
    })
    .await;
    Ended {
        was_established: established,
        reason,
    }
}

/// Waits until every forwarding thread's caches reflect every change made
/// so far: at once when they already do (always so while the threads are
/// idle), else until the thread that catches up last wakes this task,
/// writing the pending output meanwhile. `Ok(false)` when the caches did
/// not confirm within [`BARRIER_TIMEOUT`], `Err` when the stream failed.
async fn barrier<W: AsyncWrite + Unpin>(
    hub: &Arc<Hub>,
    wr: &mut W,
    out: &mut Output,
) -> Result<bool, ()> {
    let shared = hub.shared();
    let target = shared.epoch();
    if shared.caches_reflect(target) {
        return Ok(true);
    }
    let wait = tokio::time::timeout(BARRIER_TIMEOUT, shared.caches_reflect_async(target));
    tokio::pin!(wait);
    loop {
        tokio::select! {
            r = &mut wait => return Ok(r.is_ok() || shared.caches_reflect(target)),
            r = step(wr, out), if out.busy() => out.advance(r?),
        }
    }
}

/// One write of pending output, or the flush that follows the last one
/// (a TLS stream sends its records on flush); returns the bytes written
/// (0 for the flush). One operation only, so it may be cancelled by a
/// `select!` without losing track of what went out.
async fn step<W: AsyncWrite + Unpin>(wr: &mut W, out: &Output) -> Result<usize, ()> {
    if out.is_empty() {
        return wr.flush().await.map(|()| 0).map_err(drop);
    }
    match wr.write(out.pending()).await {
        Ok(0) | Err(_) => Err(()),
        Ok(n) => Ok(n),
    }
}

/// Bytes waiting to be written to the peer, in order.
#[derive(Debug, Default)]
struct Output {
    buf: Vec<u8>,
    /// How much of `buf` was written.
    pos: usize,
    /// Whether bytes were written since the last flush (a TLS stream
    /// sends its records on flush).
    unflushed: bool,
}

impl Output {
    /// Moves the state machine's transmit queue here.
    fn take(&mut self, conn: &mut Connection) {
        while let Some(b) = conn.poll_transmit() {
            if self.buf.is_empty() {
                self.buf = b;
            } else {
                self.buf.extend_from_slice(&b);
            }
        }
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Whether requests and asynchronous messages may be taken in: below
    /// the high-water mark, else the peer is pushed back (TCP) and the
    /// asynchronous queue fills and drops.
    fn has_room(&self) -> bool {
        self.buf.len() - self.pos.min(self.buf.len()) < OUTPUT_HIGH_WATER
    }

    /// Whether there is something to write or flush.
    fn busy(&self) -> bool {
        self.unflushed || !self.is_empty()
    }

    /// Records a [`step`]: `n` bytes written, or the flush when 0.
    fn advance(&mut self, n: usize) {
        if n == 0 {
            self.unflushed = false;
            return;
        }
        self.pos += n;
        self.unflushed = true;
        if self.is_empty() {
            self.pos = 0;
            self.buf.clear();
            if self.buf.capacity() > OUTPUT_KEEP {
                self.buf = Vec::new();
            }
        } else if self.pos >= OUTPUT_KEEP && self.pos * 2 >= self.buf.len() {
            // Written bytes go once they outnumber the rest: each byte is
            // moved at most once on average.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::handler::tests::FakeDp;
    use crate::channel::ChannelSettings;
    use controller_proto::conn::Outcome;
    use controller_proto::error::BadRequestCode;
    use controller_proto::error::ErrorKind;

    /// A controller end driven over a stream (in-memory duplex unless a
    /// test needs a socket).
    struct Ctl<T = tokio::io::DuplexStream> {
        conn: Connection,
        io: T,
    }

    impl<T: AsyncRead + AsyncWrite + Unpin> Ctl<T> {
        async fn new(io: T) -> Ctl<T> {
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

    // Two workers, so the controller end answers while the connection
    // polls.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flow_mods_in_lock_step_with_barriers_over_a_unix_socket_are_all_applied() {
        let dp = FakeDp::new();
        let hub = Hub::new(Arc::clone(&dp) as _, ChannelSettings::default());
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        assert!(
            matches!(a.polling(), Polling::Read(_)),
            "a Unix stream is read"
        );
        let task = tokio::spawn(run(Arc::clone(&hub), a, ConnKind::Service, "t".into()));
        let mut c = Ctl::new(b).await;
        // What `ovs-ofctl add-flows` does: each flow, then a barrier whose
        // reply the next flow waits for, so every request after the first
        // comes within the connection's polling window.
        for port in 0..300u16 {
            let fm = crate::channel::handler::tests::add_flow(u128::from(port), Vec::new());
            let xid = c.conn.send_request(Message::FlowMod(fm));
            assert_eq!(
                c.request(Message::BarrierRequest).await,
                Outcome::Reply(Message::BarrierReply)
            );
            assert!(
                c.conn.poll_event().is_none(),
                "flow mod {xid} got an answer"
            );
        }
        assert_eq!(dp.shared.read().rule_count(), 300);
        // A peer that closes right after a request ends the connection.
        let _ = c.conn.send_request(Message::BarrierRequest);
        c.pump_out().await;
        drop(c);
        let ended = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the connection ends")
            .unwrap();
        assert!(ended.was_established);
    }

    #[test]
    fn polling_a_socket_reads_or_reports_the_bytes_already_waiting() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut a, b"hello").unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        // Asking reads nothing: the bytes stay for the stream.
        assert_eq!(
            poll_socket(b.as_raw_fd(), None, far, || false),
            Polled::Readable
        );
        let mut buf = [0u8; 16];
        assert_eq!(
            poll_socket(b.as_raw_fd(), Some(&mut buf), far, || false),
            Polled::Bytes(5)
        );
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn bytes_that_come_while_a_socket_is_polled_are_found() {
        for read in [false, true] {
            let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                std::io::Write::write_all(&mut a, b"late").unwrap();
                a
            });
            let mut buf = [0u8; 16];
            let far = Instant::now() + Duration::from_secs(30);
            let got = poll_socket(b.as_raw_fd(), read.then_some(&mut buf[..]), far, || false);
            let want = if read {
                Polled::Bytes(4)
            } else {
                Polled::Readable
            };
            assert_eq!(got, want);
            drop(writer.join().unwrap());
        }
    }

    #[test]
    fn polling_a_quiet_socket_ends_at_its_deadline_or_when_told_to_stop() {
        let (_a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut buf = [0u8; 16];
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(
            poll_socket(b.as_raw_fd(), Some(&mut buf), soon, || false),
            Polled::Quiet
        );
        assert!(Instant::now() >= soon);
        // With a deadline far away only `stop` can end it.
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(
            poll_socket(b.as_raw_fd(), None, far, || true),
            Polled::Stopped
        );
        assert_eq!(
            poll_socket(b.as_raw_fd(), Some(&mut buf), far, || true),
            Polled::Stopped
        );
    }

    #[test]
    fn a_socket_whose_peer_closed_is_left_for_the_stream_to_report() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(a);
        let mut buf = [0u8; 16];
        let far = Instant::now() + Duration::from_secs(30);
        assert_eq!(
            poll_socket(b.as_raw_fd(), None, far, || false),
            Polled::Readable
        );
        assert_eq!(
            poll_socket(b.as_raw_fd(), Some(&mut buf), far, || false),
            Polled::Readable
        );
    }

    #[test]
    fn an_in_memory_stream_is_never_polled() {
        let (a, _b) = tokio::io::duplex(64);
        assert_eq!(a.polling(), Polling::Never);
    }

    #[test]
    fn output_written_in_pieces_while_more_is_queued_comes_out_whole_and_in_order() {
        let byte = |i: usize| u8::try_from(i % 251).unwrap_or(0);
        let total = 5 * OUTPUT_KEEP + 12_345;
        let mut out = Output::default();
        let (mut queued, mut sink) = (0usize, Vec::new());
        while sink.len() < total {
            // Queue up to 70 kB more, as a pass of the engine would.
            let more = (total - queued).min(70_000);
            out.buf.extend((queued..queued + more).map(byte));
            queued += more;
            assert!(out.busy());
            // The socket takes 50 kB at a time.
            let n = out.pending().len().min(50_000);
            sink.extend_from_slice(&out.pending()[..n]);
            out.advance(n);
            assert!(out.buf.len() - out.pos <= total);
        }
        assert!(out.is_empty());
        assert!(out.busy(), "a flush is still due");
        out.advance(0);
        assert!(!out.busy());
        assert!(sink.iter().enumerate().all(|(i, b)| *b == byte(i)));
    }

    #[tokio::test]
    async fn requests_written_at_once_are_answered_in_order_with_their_xids() {
        let (_hub, io) = start();
        let mut c = Ctl::new(io).await;
        let mut xids = Vec::new();
        for i in 0..300u32 {
            let m = match i % 3 {
                0 => Message::FeaturesRequest,
                1 => Message::GetConfigRequest,
                _ => Message::BarrierRequest,
            };
            xids.push(c.conn.send_request(m));
        }
        let mut answered = Vec::new();
        while answered.len() < xids.len() {
            if let Event::Reply { xid, outcome } =
                c.until(|e| matches!(e, Event::Reply { .. })).await
            {
                assert!(matches!(outcome, Outcome::Reply(_)), "{outcome:?}");
                answered.push(xid);
            }
        }
        assert_eq!(answered, xids);
    }

    #[tokio::test]
    async fn a_barrier_behind_a_busy_forwarding_thread_is_answered_once_it_is_idle() {
        let (hub, io) = start();
        let mut c = Ctl::new(io).await;
        let shared = Arc::clone(hub.shared());
        // A thread that forwards and has not seen the next change.
        let mut thread = datapath::dpif::DpThread::new(&shared);
        shared.bump_epoch();
        let xid = c.conn.send_request(Message::BarrierRequest);
        c.pump_out().await;
        let mut buf = vec![0u8; 4096];
        let early = tokio::time::timeout(Duration::from_millis(300), c.io.read(&mut buf)).await;
        assert!(early.is_err(), "no reply while the thread is behind");
        thread.set_idle(&shared, true);
        let ev = c
            .until(|e| matches!(e, Event::Reply { xid: x, .. } if *x == xid))
            .await;
        assert!(matches!(
            ev,
            Event::Reply {
                outcome: Outcome::Reply(Message::BarrierReply),
                ..
            }
        ));
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
