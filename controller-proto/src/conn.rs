//! An I/O-free OpenFlow 1.3 connection: version negotiation, echo
//! keepalive, transaction ids, request/reply matching and multipart
//! reassembly, for either end of the channel.
//!
//! # Design
//!
//! [`Connection`] is a pure state machine in the style of quinn-proto: it
//! never touches a socket or a clock. The driver feeds it what happened —
//! bytes received ([`Connection::handle_input`]), time passing
//! ([`Connection::handle_timeout`]), messages the application wants sent —
//! always with the current time `now_ms`, and drains what it produced:
//! bytes to write ([`Connection::poll_transmit`]), events for the
//! application ([`Connection::poll_event`]) and the next instant it wants to
//! be woken at ([`Connection::poll_timeout`]). The same code serves the
//! switch (which answers requests) and the controller or `ofctl`-like tool
//! (which issues them); [`Side`] only decides which message types are
//! legal to receive.
//!
//! Lifecycle: on creation the connection queues its HELLO (a version
//! bitmap offering 1.3 only). The peer's HELLO settles the version: with a
//! bitmap, 1.3 must be in it; without one, the peer's header version must
//! be at least 0x04 (both ends then use the lower, 1.3). Otherwise the
//! connection sends `OFPET_HELLO_FAILED`/`OFPHFC_INCOMPATIBLE` and closes.
//! Anything but HELLO as the first message also fails the handshake.
//!
//! Invariants:
//!
//! * Liveness: any received byte counts as activity. After
//!   `probe_interval_ms` of silence an ECHO_REQUEST is sent; if silence
//!   lasts a second interval the connection closes with
//!   [`CloseReason::ProbeTimeout`]. ECHO_REQUESTs from the peer are
//!   answered here and never reach the application.
//! * Every request sent with [`Connection::send_request`] ends in exactly
//!   one [`Event::Reply`]: the matching reply (a multipart reply fully
//!   reassembled), the peer's OFPT_ERROR with that xid, or — for requests
//!   that have no reply, such as FLOW_MOD — [`Outcome::Done`] when a later
//!   BARRIER_REPLY proves the peer processed it without error. Requests
//!   still open when the connection closes end with
//!   [`Outcome::Closed`].
//! * Transaction ids handed out by [`Connection::send_request`] are never
//!   0 and never equal to the xid of a request still open.
//! * A malformed message is answered with the OFPT_ERROR its
//!   [`DecodeError`] names, echoing the start of the message, except that
//!   an error is never answered with an error.
//! * Memory held for the peer is bounded: the framer's single buffer, and
//!   multipart reassembly up to `reassembly_limit` bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::codec::DecodeError;
use crate::error::{BadRequestCode, ErrorKind, ErrorMsg, HelloFailedCode};
use crate::framer::{FrameError, Framer};
use crate::header::{Header, MsgType, OFP_MAX_MSG_LEN, OFP_VERSION};
use crate::hello::Hello;
use crate::message::Message;
use crate::multipart::{MultipartReply, MultipartRequest, Reassembled, Reassembler};

/// Default inactivity probe interval (milliseconds).
pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 5_000;

/// Which end of the OpenFlow channel this connection is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Side {
    /// The switch: receives requests and commands, sends replies and
    /// asynchronous messages.
    Switch,
    /// A controller or management tool: sends requests and commands.
    Controller,
}

/// Connection parameters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Config {
    /// Which end this is.
    pub side: Side,
    /// Silence before an echo probe, and again before disconnecting;
    /// 0 disables keepalive.
    pub probe_interval_ms: u64,
    /// Bytes of multipart parts held at once while reassembling.
    pub reassembly_limit: usize,
}

impl Config {
    /// Defaults for `side`: 5 s probes, 16 MiB of reassembly.
    pub fn new(side: Side) -> Self {
        Self {
            side,
            probe_interval_ms: DEFAULT_PROBE_INTERVAL_MS,
            reassembly_limit: crate::multipart::REASSEMBLY_LIMIT,
        }
    }
}

/// Why a connection closed.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum CloseReason {
    /// [`Connection::close`] was called.
    Local,
    /// The peer does not speak 1.3; an `OFPHFC_INCOMPATIBLE` error was sent.
    Incompatible {
        /// The version in the peer's HELLO header.
        peer_version: u8,
    },
    /// The first message was not a HELLO; an error was sent.
    NoHello(MsgType),
    /// The peer refused the handshake with an OFPT_ERROR.
    PeerRefused(ErrorMsg),
    /// Two probe intervals passed without a byte from the peer.
    ProbeTimeout,
    /// The byte stream could not be framed.
    Framing(FrameError),
}

/// How a tracked request ended.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Outcome {
    /// The reply (multipart replies fully reassembled).
    Reply(Message),
    /// The peer reported an error for this request.
    Error(ErrorMsg),
    /// A request without a reply was followed by a barrier that completed.
    Done,
    /// The connection closed first.
    Closed,
}

/// Something the application should know about.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Event {
    /// The handshake succeeded at this wire version.
    Connected {
        /// Always `OFP_VERSION`.
        version: u8,
    },
    /// A message that is not the reply to a tracked request: on the switch
    /// side requests and commands, on the controller side asynchronous
    /// messages (PACKET_IN, PORT_STATUS, ...) and untracked replies.
    /// Multipart requests split with `OFPMPF_REQ_MORE` arrive reassembled.
    Message {
        /// Its transaction id, to be used in the reply.
        xid: u32,
        /// The message.
        msg: Message,
        /// Its wire bytes (for a reassembled multipart, the last part), for
        /// [`ErrorMsg::for_request`].
        raw: Vec<u8>,
    },
    /// A tracked request ended.
    Reply {
        /// The request's transaction id.
        xid: u32,
        /// How it ended.
        outcome: Outcome,
    },
    /// A malformed message arrived; it was answered with an error (unless
    /// it was itself an error).
    BadMessage {
        /// Its transaction id.
        xid: u32,
        /// What was wrong.
        error: DecodeError,
    },
    /// The connection closed. Queued bytes (such as a HELLO_FAILED error)
    /// should still be flushed before the transport is shut.
    Closed(CloseReason),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    AwaitingHello,
    Established,
    Closed,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: u64,
    reply: Option<MsgType>,
}

/// One end of an OpenFlow channel. See the module documentation.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    framer: Framer,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    next_xid: u32,
    next_seq: u64,
    pending: HashMap<u32, Pending>,
    order: BTreeMap<u64, u32>,
    replies: Reassembler<MultipartReply>,
    requests: Reassembler<MultipartRequest>,
    last_rx_ms: u64,
    /// When the outstanding probe was sent; cleared by any input.
    probe_sent_ms: Option<u64>,
    /// Xid of the last probe, whose ECHO_REPLY is consumed here.
    probe_xid: Option<u32>,
}

impl Connection {
    /// A new connection at time `now_ms`, with its HELLO already queued.
    pub fn new(config: Config, now_ms: u64) -> Self {
        let mut c = Self {
            config,
            state: State::AwaitingHello,
            framer: Framer::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_xid: 1,
            next_seq: 0,
            pending: HashMap::new(),
            order: BTreeMap::new(),
            replies: Reassembler::new(config.reassembly_limit),
            requests: Reassembler::new(config.reassembly_limit),
            last_rx_ms: now_ms,
            probe_sent_ms: None,
            probe_xid: None,
        };
        let xid = c.alloc_xid();
        c.queue(xid, &Message::Hello(Hello::v13()));
        c
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the handshake has succeeded and until close.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// True once closed (queued bytes may remain to flush).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Number of tracked requests still open.
    pub fn open_requests(&self) -> usize {
        self.pending.len()
    }

    fn alloc_xid(&mut self) -> u32 {
        loop {
            let xid = self.next_xid;
            self.next_xid = self.next_xid.wrapping_add(1);
            if xid != 0 && !self.pending.contains_key(&xid) {
                return xid;
            }
        }
    }

    fn queue(&mut self, xid: u32, msg: &Message) {
        self.transmit.push_back(msg.encode(xid));
    }

    /// Queues `msg` with transaction id `xid`, untracked. A multipart reply
    /// too large for one message is split (`OFPMPF_REPLY_MORE`), as is a
    /// large TABLE_FEATURES request. Nothing is sent once closed.
    pub fn send(&mut self, xid: u32, msg: Message) {
        if self.state == State::Closed {
            return;
        }
        match msg {
            Message::MultipartReply(r) => {
                for part in r.split_max() {
                    self.queue(xid, &Message::MultipartReply(part));
                }
            }
            Message::MultipartRequest(r) => {
                for part in r.split(OFP_MAX_MSG_LEN) {
                    self.queue(xid, &Message::MultipartRequest(part));
                }
            }
            other => self.queue(xid, &other),
        }
    }

    /// Sends `msg` with a fresh transaction id and tracks it until it ends
    /// (see [`Outcome`]); returns the xid. Closed connections still return
    /// an xid, and the request ends at once with [`Outcome::Closed`].
    pub fn send_request(&mut self, msg: Message) -> u32 {
        let xid = self.alloc_xid();
        if self.state == State::Closed {
            self.events.push_back(Event::Reply {
                xid,
                outcome: Outcome::Closed,
            });
            return xid;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.insert(
            xid,
            Pending {
                seq,
                reply: msg.msg_type().reply_type(),
            },
        );
        self.order.insert(seq, xid);
        self.send(xid, msg);
        xid
    }

    /// Sends `msg` untracked with a fresh transaction id (for asynchronous
    /// messages); returns the xid.
    pub fn send_async(&mut self, msg: Message) -> u32 {
        let xid = self.alloc_xid();
        self.send(xid, msg);
        xid
    }

    /// Answers a received message with an OFPT_ERROR of `kind`, echoing
    /// the start of `request` (the message's raw bytes).
    pub fn send_error(&mut self, xid: u32, kind: impl Into<ErrorKind>, request: &[u8]) {
        self.send(
            xid,
            Message::Error(ErrorMsg::for_request(kind.into(), request)),
        );
    }

    /// Closes the connection. Open requests end with [`Outcome::Closed`].
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local);
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        let open: Vec<u32> = self.order.values().copied().collect();
        self.order.clear();
        self.pending.clear();
        for xid in open {
            self.events.push_back(Event::Reply {
                xid,
                outcome: Outcome::Closed,
            });
        }
        self.events.push_back(Event::Closed(reason));
    }

    /// The next message's bytes to write to the transport, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called,
    /// or `None` if no timer is running.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.state == State::Closed || self.config.probe_interval_ms == 0 {
            return None;
        }
        let base = self.probe_sent_ms.unwrap_or(self.last_rx_ms);
        Some(base.saturating_add(self.config.probe_interval_ms))
    }

    /// Advances timers to `now_ms`: sends the echo probe or closes for
    /// inactivity when due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now_ms < deadline {
            return;
        }
        if self.probe_sent_ms.is_some() {
            self.close_with(CloseReason::ProbeTimeout);
            return;
        }
        if self.state == State::Established {
            let xid = self.alloc_xid();
            self.queue(xid, &Message::EchoRequest(Vec::new()));
            self.probe_xid = Some(xid);
        }
        self.probe_sent_ms = Some(now_ms);
    }

    /// Feeds bytes received from the peer at `now_ms`.
    pub fn handle_input(&mut self, mut data: &[u8], now_ms: u64) {
        if self.state == State::Closed {
            return;
        }
        if !data.is_empty() {
            self.last_rx_ms = now_ms;
            self.probe_sent_ms = None;
        }
        loop {
            let n = self.framer.fill(data);
            data = data.get(n..).unwrap_or(&[]);
            loop {
                if self.state == State::Closed {
                    return;
                }
                let frame = match self.framer.next_frame() {
                    Ok(Some(frame)) => frame.to_vec(),
                    Ok(None) => break,
                    Err(e) => {
                        self.close_with(CloseReason::Framing(e));
                        return;
                    }
                };
                self.handle_frame(frame);
            }
            if data.is_empty() {
                return;
            }
        }
    }

    fn handle_frame(&mut self, raw: Vec<u8>) {
        let Ok(header) = Header::decode(&raw) else {
            return;
        };
        match self.state {
            State::AwaitingHello => self.handle_handshake(header, raw),
            State::Established => self.handle_message(header, raw),
            State::Closed => {}
        }
    }

    fn handle_handshake(&mut self, header: Header, raw: Vec<u8>) {
        match header.msg_type {
            MsgType::OFPT_HELLO => {
                // A HELLO from another version may not parse as 1.3 elements;
                // its header version alone then decides.
                let hello = match Message::decode(&raw) {
                    Ok((_, Message::Hello(h))) => h,
                    _ => Hello::default(),
                };
                let ok = match hello.version_bitmap() {
                    Some(bitmap) => Hello::bitmap_has(bitmap, OFP_VERSION),
                    None => header.version >= OFP_VERSION,
                };
                if ok {
                    self.state = State::Established;
                    self.events.push_back(Event::Connected {
                        version: OFP_VERSION,
                    });
                } else {
                    let text = format!(
                        "this switch speaks only OpenFlow 1.3 (0x04); peer offered 0x{:02x}",
                        header.version
                    );
                    self.queue(
                        header.xid,
                        &Message::Error(ErrorMsg::with_text(
                            HelloFailedCode::OFPHFC_INCOMPATIBLE,
                            &text,
                        )),
                    );
                    self.close_with(CloseReason::Incompatible {
                        peer_version: header.version,
                    });
                }
            }
            MsgType::OFPT_ERROR => {
                let err = match Message::decode(&raw) {
                    Ok((_, Message::Error(e))) => e,
                    _ => ErrorMsg::for_request(HelloFailedCode::OFPHFC_INCOMPATIBLE, &[]),
                };
                self.close_with(CloseReason::PeerRefused(err));
            }
            other => {
                self.queue(
                    header.xid,
                    &Message::Error(ErrorMsg::with_text(
                        HelloFailedCode::OFPHFC_INCOMPATIBLE,
                        "expected HELLO as the first message",
                    )),
                );
                self.close_with(CloseReason::NoHello(other));
            }
        }
    }

    fn reject(&mut self, header: Header, raw: &[u8], error: DecodeError) {
        if header.msg_type != MsgType::OFPT_ERROR {
            self.send_error(header.xid, error.kind(), raw);
        }
        self.events.push_back(Event::BadMessage {
            xid: header.xid,
            error,
        });
    }

    fn wrong_direction(&self, t: MsgType) -> bool {
        match self.config.side {
            Side::Switch => t.is_switch_to_controller(),
            Side::Controller => t.is_controller_to_switch(),
        }
    }

    fn handle_message(&mut self, header: Header, raw: Vec<u8>) {
        let xid = header.xid;
        let msg = match Message::decode(&raw) {
            Ok((_, msg)) => msg,
            Err(e) => return self.reject(header, &raw, e),
        };
        if self.wrong_direction(header.msg_type) {
            let e = DecodeError::bad_type("message type not accepted on this side");
            return self.reject(header, &raw, e);
        }
        let msg = match msg {
            Message::Hello(_) => return,
            Message::EchoRequest(data) => {
                self.queue(xid, &Message::EchoReply(data));
                return;
            }
            Message::EchoReply(_) if self.probe_xid == Some(xid) => {
                self.probe_xid = None;
                return;
            }
            Message::MultipartReply(part) => {
                let len = raw.len();
                match self.replies.push(xid, part, len) {
                    Ok(Reassembled::Pending) => return,
                    Ok(Reassembled::Complete(r)) => Message::MultipartReply(r),
                    Err(e) => {
                        self.replies.discard(xid);
                        return self.reject(header, &raw, e);
                    }
                }
            }
            Message::MultipartRequest(part) => {
                let len = raw.len();
                match self.requests.push(xid, part, len) {
                    Ok(Reassembled::Pending) => return,
                    Ok(Reassembled::Complete(r)) => Message::MultipartRequest(r),
                    Err(e) => {
                        self.requests.discard(xid);
                        return self.reject(header, &raw, e);
                    }
                }
            }
            other => other,
        };
        self.dispatch(xid, msg, raw);
    }

    fn dispatch(&mut self, xid: u32, msg: Message, raw: Vec<u8>) {
        let Some(p) = self.pending.get(&xid).copied() else {
            self.events.push_back(Event::Message { xid, msg, raw });
            return;
        };
        let outcome = match msg {
            Message::Error(e) => {
                self.replies.discard(xid);
                Outcome::Error(e)
            }
            m if Some(m.msg_type()) == p.reply => {
                if m.msg_type() == MsgType::OFPT_BARRIER_REPLY {
                    self.complete_before(p.seq);
                }
                Outcome::Reply(m)
            }
            m => {
                self.events.push_back(Event::Message { xid, msg: m, raw });
                return;
            }
        };
        self.pending.remove(&xid);
        self.order.remove(&p.seq);
        self.events.push_back(Event::Reply { xid, outcome });
    }

    /// A barrier sent as request `seq` completed: every earlier request
    /// that has no reply was processed without error.
    fn complete_before(&mut self, seq: u64) {
        let done: Vec<(u64, u32)> = self
            .order
            .range(..seq)
            .filter(|(_, xid)| self.pending.get(xid).is_some_and(|p| p.reply.is_none()))
            .map(|(s, x)| (*s, *x))
            .collect();
        for (s, xid) in done {
            self.order.remove(&s);
            self.pending.remove(&xid);
            self.events.push_back(Event::Reply {
                xid,
                outcome: Outcome::Done,
            });
        }
    }
}

/// `OFPBRC_BAD_TYPE`, the error for a message arriving at the wrong end.
pub const WRONG_DIRECTION: ErrorKind = ErrorKind::BadRequest(BadRequestCode::OFPBRC_BAD_TYPE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::multipart::{MultipartReplyBody, MultipartRequestBody, OFPMPF_REPLY_MORE};
    use crate::port::{Port, PortMod};
    use crate::switch_config::FeaturesReply;
    use crate::table::TableMod;

    struct Pair {
        sw: Connection,
        ctl: Connection,
        now: u64,
    }

    impl Pair {
        fn new() -> Self {
            let mut p = Self {
                sw: Connection::new(Config::new(Side::Switch), 0),
                ctl: Connection::new(Config::new(Side::Controller), 0),
                now: 0,
            };
            p.pump();
            assert_eq!(p.sw.poll_event(), Some(Event::Connected { version: 4 }));
            assert_eq!(p.ctl.poll_event(), Some(Event::Connected { version: 4 }));
            p
        }

        /// Moves bytes both ways until both ends are quiet.
        fn pump(&mut self) {
            loop {
                let mut moved = false;
                while let Some(b) = self.sw.poll_transmit() {
                    self.ctl.handle_input(&b, self.now);
                    moved = true;
                }
                while let Some(b) = self.ctl.poll_transmit() {
                    self.sw.handle_input(&b, self.now);
                    moved = true;
                }
                if !moved {
                    return;
                }
            }
        }

        fn events(c: &mut Connection) -> Vec<Event> {
            std::iter::from_fn(|| c.poll_event()).collect()
        }
    }

    fn peer_hello(version: u8, bitmap: Option<u32>) -> Vec<u8> {
        let mut b = vec![version, 0, 0, 8, 0, 0, 0, 1];
        if let Some(bm) = bitmap {
            b.extend_from_slice(&[0, 1, 0, 8]);
            b.extend_from_slice(&bm.to_be_bytes());
        }
        let len = u16::try_from(b.len()).unwrap().to_be_bytes();
        b[2..4].copy_from_slice(&len);
        b
    }

    fn sent(c: &mut Connection) -> Vec<(Header, Message)> {
        std::iter::from_fn(|| c.poll_transmit())
            .map(|b| Message::decode(&b).unwrap())
            .collect()
    }

    #[test]
    fn sends_hello_with_version_bitmap_on_start() {
        let mut c = Connection::new(Config::new(Side::Switch), 0);
        let out = sent(&mut c);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, Message::Hello(Hello::v13()));
        assert!(!c.is_established());
    }

    #[test]
    fn switch_and_controller_negotiate_one_three() {
        let p = Pair::new();
        assert!(p.sw.is_established() && p.ctl.is_established());
    }

    #[test]
    fn peer_offering_only_one_zero_gets_hello_failed_and_close() {
        let mut c = Connection::new(Config::new(Side::Switch), 0);
        let _ = sent(&mut c);
        c.handle_input(&peer_hello(1, None), 1);
        let out = sent(&mut c);
        assert_eq!(out.len(), 1);
        let Message::Error(e) = &out[0].1 else {
            panic!("expected an error, got {:?}", out[0].1);
        };
        assert_eq!(e.kind, HelloFailedCode::OFPHFC_INCOMPATIBLE.into());
        assert!(c.is_closed());
        assert_eq!(
            Pair::events(&mut c),
            vec![Event::Closed(CloseReason::Incompatible { peer_version: 1 })]
        );
    }

    #[test]
    fn bitmap_without_one_three_is_incompatible_even_from_a_newer_peer() {
        let mut c = Connection::new(Config::new(Side::Controller), 0);
        c.handle_input(&peer_hello(6, Some((1 << 5) | (1 << 6) | (1 << 1))), 1);
        assert!(c.is_closed());
    }

    #[test]
    fn bitmap_with_one_three_from_a_newer_peer_negotiates() {
        let mut c = Connection::new(Config::new(Side::Controller), 0);
        c.handle_input(&peer_hello(6, Some((1 << 4) | (1 << 6))), 1);
        assert!(c.is_established());
    }

    #[test]
    fn newer_peer_without_bitmap_negotiates_down_to_one_three() {
        let mut c = Connection::new(Config::new(Side::Switch), 0);
        c.handle_input(&peer_hello(5, None), 1);
        assert!(c.is_established());
    }

    #[test]
    fn first_message_other_than_hello_fails_the_handshake() {
        let mut c = Connection::new(Config::new(Side::Switch), 0);
        let _ = sent(&mut c);
        c.handle_input(&Message::FeaturesRequest.encode(5), 1);
        assert!(c.is_closed());
        assert_eq!(sent(&mut c).len(), 1);
    }

    #[test]
    fn peer_hello_failed_error_closes() {
        let mut c = Connection::new(Config::new(Side::Controller), 0);
        let err = Message::Error(ErrorMsg::with_text(
            HelloFailedCode::OFPHFC_INCOMPATIBLE,
            "no",
        ));
        c.handle_input(&err.encode(1), 1);
        assert!(matches!(
            Pair::events(&mut c).last(),
            Some(Event::Closed(CloseReason::PeerRefused(_)))
        ));
    }

    #[test]
    fn silence_triggers_echo_then_disconnect_after_two_intervals() {
        let mut p = Pair::new();
        assert_eq!(p.sw.poll_timeout(), Some(5_000));
        p.sw.handle_timeout(4_999);
        assert!(p.sw.poll_transmit().is_none());
        p.sw.handle_timeout(5_000);
        let out = sent(&mut p.sw);
        assert!(matches!(out[..], [(_, Message::EchoRequest(_))]));
        assert_eq!(p.sw.poll_timeout(), Some(10_000));
        p.sw.handle_timeout(9_999);
        assert!(!p.sw.is_closed());
        p.sw.handle_timeout(10_000);
        assert!(p.sw.is_closed());
        assert_eq!(
            Pair::events(&mut p.sw),
            vec![Event::Closed(CloseReason::ProbeTimeout)]
        );
        assert_eq!(p.sw.poll_timeout(), None);
    }

    #[test]
    fn echo_probe_answered_keeps_the_connection_alive() {
        let mut p = Pair::new();
        p.now = 5_000;
        p.sw.handle_timeout(p.now);
        p.ctl.handle_timeout(p.now);
        p.pump();
        assert_eq!(p.sw.poll_timeout(), Some(10_000));
        p.now = 9_000;
        p.sw.handle_timeout(p.now);
        assert!(!p.sw.is_closed());
        assert!(Pair::events(&mut p.sw).is_empty());
        assert!(Pair::events(&mut p.ctl).is_empty());
    }

    #[test]
    fn echo_requests_are_answered_automatically() {
        let mut p = Pair::new();
        let xid = p.ctl.send_request(Message::EchoRequest(vec![1, 2, 3]));
        p.pump();
        assert!(Pair::events(&mut p.sw).is_empty());
        assert_eq!(
            Pair::events(&mut p.ctl),
            vec![Event::Reply {
                xid,
                outcome: Outcome::Reply(Message::EchoReply(vec![1, 2, 3]))
            }]
        );
    }

    #[test]
    fn request_and_reply_are_matched_by_xid() {
        let mut p = Pair::new();
        let xid = p.ctl.send_request(Message::FeaturesRequest);
        assert_ne!(xid, 0);
        p.pump();
        let ev = Pair::events(&mut p.sw);
        let [Event::Message {
            xid: got,
            msg: Message::FeaturesRequest,
            ..
        }] = ev[..]
        else {
            panic!("unexpected {ev:?}");
        };
        assert_eq!(got, xid);
        let reply = Message::FeaturesReply(FeaturesReply {
            datapath_id: 42,
            ..FeaturesReply::default()
        });
        p.sw.send(got, reply.clone());
        p.pump();
        assert_eq!(
            Pair::events(&mut p.ctl),
            vec![Event::Reply {
                xid,
                outcome: Outcome::Reply(reply)
            }]
        );
        assert_eq!(p.ctl.open_requests(), 0);
    }

    #[test]
    fn error_reply_ends_the_request() {
        let mut p = Pair::new();
        let xid = p.ctl.send_request(Message::PortMod(PortMod::default()));
        p.pump();
        let Some(Event::Message { xid: got, raw, .. }) = p.sw.poll_event() else {
            panic!("port mod not delivered");
        };
        p.sw.send_error(got, ErrorKind::from_wire(7, 0), &raw);
        p.pump();
        let ev = Pair::events(&mut p.ctl);
        let [Event::Reply {
            xid: x,
            outcome: Outcome::Error(ref e),
        }] = ev[..]
        else {
            panic!("unexpected {ev:?}");
        };
        assert_eq!(x, xid);
        assert_eq!(e.data, raw);
    }

    #[test]
    fn barrier_reply_completes_earlier_requests_without_replies() {
        let mut p = Pair::new();
        let a = p.ctl.send_request(Message::PortMod(PortMod::default()));
        let b = p.ctl.send_request(Message::TableMod(TableMod {
            table_id: 0,
            config: 0,
        }));
        let f = p.ctl.send_request(Message::FeaturesRequest);
        let bar = p.ctl.send_request(Message::BarrierRequest);
        p.pump();
        let ev = Pair::events(&mut p.sw);
        assert_eq!(ev.len(), 4);
        for e in ev {
            if let Event::Message {
                xid,
                msg: Message::BarrierRequest,
                ..
            } = e
            {
                p.sw.send(xid, Message::BarrierReply);
            }
        }
        p.pump();
        assert_eq!(
            Pair::events(&mut p.ctl),
            vec![
                Event::Reply {
                    xid: a,
                    outcome: Outcome::Done
                },
                Event::Reply {
                    xid: b,
                    outcome: Outcome::Done
                },
                Event::Reply {
                    xid: bar,
                    outcome: Outcome::Reply(Message::BarrierReply)
                },
            ]
        );
        assert_eq!(p.ctl.open_requests(), 1);
        p.ctl.close();
        assert_eq!(
            Pair::events(&mut p.ctl),
            vec![
                Event::Reply {
                    xid: f,
                    outcome: Outcome::Closed
                },
                Event::Closed(CloseReason::Local)
            ]
        );
    }

    #[test]
    fn large_multipart_reply_arrives_as_one_logical_reply() {
        let mut p = Pair::new();
        let xid = p
            .ctl
            .send_request(Message::MultipartRequest(MultipartRequest::new(
                MultipartRequestBody::PortDesc,
            )));
        p.pump();
        let _ = Pair::events(&mut p.sw);
        let ports: Vec<Port> = (0..3000)
            .map(|i| Port {
                port_no: i,
                ..Port::default()
            })
            .collect();
        let reply = MultipartReply::new(MultipartReplyBody::PortDesc(ports));
        p.sw.send(xid, Message::MultipartReply(reply.clone()));
        let parts: Vec<Vec<u8>> = std::iter::from_fn(|| p.sw.poll_transmit()).collect();
        assert_eq!(parts.len(), 3);
        for (i, part) in parts.iter().enumerate() {
            let (_, m) = Message::decode(part).unwrap();
            let Message::MultipartReply(r) = m else {
                panic!("not a multipart reply");
            };
            assert_eq!(r.flags & OFPMPF_REPLY_MORE != 0, i < 2);
            p.ctl.handle_input(part, 0);
        }
        assert_eq!(
            Pair::events(&mut p.ctl),
            vec![Event::Reply {
                xid,
                outcome: Outcome::Reply(Message::MultipartReply(reply))
            }]
        );
    }

    #[test]
    fn malformed_message_is_answered_with_its_error() {
        let mut p = Pair::new();
        let bad = [4u8, 99, 0, 8, 0, 0, 0, 77];
        p.sw.handle_input(&bad, 0);
        let out = sent(&mut p.sw);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.xid, 77);
        assert_eq!(
            out[0].1,
            Message::Error(ErrorMsg::for_request(BadRequestCode::OFPBRC_BAD_TYPE, &bad))
        );
        assert!(matches!(
            Pair::events(&mut p.sw)[..],
            [Event::BadMessage { xid: 77, .. }]
        ));
    }

    #[test]
    fn malformed_error_is_not_answered() {
        let mut p = Pair::new();
        p.sw.handle_input(&[4u8, 1, 0, 9, 0, 0, 0, 1, 0], 0);
        assert!(p.sw.poll_transmit().is_none());
    }

    #[test]
    fn message_for_the_other_side_is_refused_with_bad_type() {
        let mut p = Pair::new();
        let m = Message::FeaturesReply(FeaturesReply::default()).encode(3);
        p.sw.handle_input(&m, 0);
        let out = sent(&mut p.sw);
        let Message::Error(e) = &out[0].1 else {
            panic!("expected an error");
        };
        assert_eq!(e.kind, WRONG_DIRECTION);
    }

    #[test]
    fn framing_error_closes_the_connection() {
        let mut p = Pair::new();
        p.sw.handle_input(&[4, 0, 0, 2], 0);
        assert!(p.sw.is_closed());
        assert_eq!(
            Pair::events(&mut p.sw),
            vec![Event::Closed(CloseReason::Framing(FrameError::BadLength(
                2
            )))]
        );
    }

    #[test]
    fn transaction_ids_skip_zero_and_open_requests() {
        let mut c = Connection::new(Config::new(Side::Controller), 0);
        c.next_xid = u32::MAX;
        let a = c.send_request(Message::BarrierRequest);
        let b = c.send_request(Message::BarrierRequest);
        assert_eq!((a, b), (u32::MAX, 1));
        c.next_xid = u32::MAX;
        let d = c.send_request(Message::BarrierRequest);
        assert_eq!(d, 2);
    }

    #[test]
    fn split_table_features_request_is_delivered_whole() {
        use crate::table::TableFeatures;
        let mut p = Pair::new();
        let tables: Vec<TableFeatures> = (0..=254u8)
            .map(|t| TableFeatures {
                table_id: t,
                properties: vec![crate::table::TableFeatureProp::NextTables {
                    miss: false,
                    tables: (0..=254).collect(),
                }],
                ..TableFeatures::default()
            })
            .collect();
        let req = MultipartRequest::new(MultipartRequestBody::TableFeatures(tables));
        let xid = p.ctl.send_request(Message::MultipartRequest(req.clone()));
        p.pump();
        let ev = Pair::events(&mut p.sw);
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, Event::Message { .. }))
                .count(),
            1
        );
        let Event::Message { xid: x, msg, .. } = &ev[0] else {
            panic!("unexpected {ev:?}");
        };
        assert_eq!(*x, xid);
        assert_eq!(msg, &Message::MultipartRequest(req));
    }
}
