//! A blocking OpenFlow 1.3 client: connects to a switch over TCP, TLS or a
//! Unix socket and drives the codec's I/O-free [`Connection`] with
//! ordinary `std` sockets.
//!
//! # Shape
//!
//! Everything protocol-related (HELLO, echo keepalive, transaction ids,
//! matching replies to requests, multipart reassembly, completing
//! reply-less requests at a barrier) is the [`Connection`]'s; this module
//! only moves bytes and waits. Waiting is bounded: every blocking read has
//! the deadline of the operation (the `--timeout` given, or a generous
//! default), so a silent switch yields [`ClientError::Timeout`], never a
//! hang.
//!
//! Bulk flow programming ([`Client::send_pipelined`]) writes requests
//! without waiting for each, inserts a BARRIER every `barrier_every`
//! messages and keeps at most a few barriers outstanding, reading whatever
//! the switch sends in between, so errors are reported against the request
//! that caused them and the socket never deadlocks on full buffers.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use controller_proto::conn::{CloseReason, Config, Connection, Event, Outcome, Side};
use controller_proto::error::ErrorMsg;
use controller_proto::message::Message;

/// Where a switch listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `tcp:HOST:PORT`.
    Tcp(String),
    /// `ssl:HOST:PORT`.
    Ssl(String),
    /// `unix:PATH`, or a bridge name resolved to its management socket.
    Unix(PathBuf),
}

/// The default OpenFlow port.
pub const DEFAULT_PORT: u16 = 6653;

/// The directory the switch daemon keeps its sockets in.
pub fn run_dir() -> PathBuf {
    std::env::var_os("SWITCHD_RUN_DIR").map_or_else(|| PathBuf::from("/run/switchd"), PathBuf::from)
}

impl Target {
    /// Reads a TARGET argument: `tcp:IP:PORT` (port defaults to 6653),
    /// `ssl:IP:PORT`, `unix:PATH`, or a bridge name, which means the
    /// bridge's management socket `<run_dir>/<bridge>.mgmt`.
    ///
    /// # Errors
    /// A sentence for an empty or malformed target.
    pub fn parse(s: &str) -> Result<Target, String> {
        let hostport = |rest: &str| -> Result<String, String> {
            if rest.is_empty() {
                return Err(format!(
                    "target \"{s}\" has no address (expected HOST:PORT)"
                ));
            }
            // "[v6]:port", "host:port", or "host" alone.
            if let Some(stripped) = rest.strip_prefix('[') {
                let (host, port) = stripped
                    .split_once(']')
                    .ok_or_else(|| format!("target \"{s}\": unterminated [IPv6 address]"))?;
                let port = port.strip_prefix(':').unwrap_or("");
                let port = if port.is_empty() {
                    DEFAULT_PORT.to_string()
                } else {
                    port.to_string()
                };
                return Ok(format!("[{host}]:{port}"));
            }
            match rest.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() => {
                    p.parse::<u16>()
                        .map_err(|_| format!("target \"{s}\": \"{p}\" is not a port number"))?;
                    Ok(format!("{h}:{p}"))
                }
                Some((h, _)) => Ok(format!("{h}:{DEFAULT_PORT}")),
                None => Ok(format!("{rest}:{DEFAULT_PORT}")),
            }
        };
        if let Some(rest) = s.strip_prefix("tcp:") {
            return hostport(rest).map(Target::Tcp);
        }
        if let Some(rest) = s.strip_prefix("ssl:") {
            return hostport(rest).map(Target::Ssl);
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            if rest.is_empty() {
                return Err(format!("target \"{s}\" has no socket path"));
            }
            return Ok(Target::Unix(PathBuf::from(rest)));
        }
        if s.is_empty() || s.contains(['/', ':']) {
            return Err(format!(
                "\"{s}\" is not a target (expected tcp:IP:PORT, ssl:IP:PORT, unix:PATH or a bridge name)"
            ));
        }
        Ok(Target::Unix(run_dir().join(format!("{s}.mgmt"))))
    }
}

/// Files for an `ssl:` target, as `ovs-ofctl`'s `--private-key`,
/// `--certificate` and `--ca-cert`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM private key of this client.
    pub private_key: Option<PathBuf>,
    /// PEM certificate of this client.
    pub certificate: Option<PathBuf>,
    /// PEM CA certificate the switch's certificate must chain to.
    pub ca_cert: Option<PathBuf>,
}

/// Why talking to the switch failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection could not be made.
    #[error("connecting to {target} ({reason})")]
    Connect {
        /// The target as written.
        target: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{target}: {reason}")]
    Io {
        /// The target as written.
        target: String,
        /// Why.
        reason: String,
    },
    /// The switch did not answer in time.
    #[error("{target}: no reply within {secs} s")]
    Timeout {
        /// The target as written.
        target: String,
        /// The time waited.
        secs: u64,
    },
    /// The connection closed.
    #[error("{target}: connection closed ({reason})")]
    Closed {
        /// The target as written.
        target: String,
        /// Why.
        reason: String,
    },
    /// TLS configuration problem.
    #[error("{0}")]
    Tls(String),
}

trait Stream: Read + Write + Send {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()>;
}

impl Stream for TcpStream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, d)
    }
}

impl Stream for UnixStream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, d)
    }
}

impl Stream for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(d)
    }
}

/// A request's reply (or error) together with what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The request's transaction id.
    pub xid: u32,
    /// How it ended.
    pub outcome: Outcome,
}

/// A failed request of a pipelined batch: its index in the batch, its
/// transaction id and the switch's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// Index of the request in the batch.
    pub index: usize,
    /// Its transaction id.
    pub xid: u32,
    /// The error.
    pub error: ErrorMsg,
}

/// A connected, handshaken OpenFlow 1.3 client.
pub struct Client {
    target: String,
    stream: Box<dyn Stream>,
    conn: Connection,
    epoch: Instant,
    timeout: Duration,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Events received but not yet claimed.
    backlog: VecDeque<Event>,
}

/// The wait used when no `--timeout` is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl Client {
    /// Connects to `target_text` (see [`Target::parse`]) and completes the
    /// OpenFlow handshake.
    ///
    /// # Errors
    /// [`ClientError`] naming the target and the reason.
    pub fn connect(
        target_text: &str,
        tls: &TlsFiles,
        timeout: Option<Duration>,
    ) -> Result<Client, ClientError> {
        let target = Target::parse(target_text).map_err(|reason| ClientError::Connect {
            target: target_text.to_string(),
            reason,
        })?;
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let connect_err = |e: io::Error| ClientError::Connect {
            target: target_text.to_string(),
            reason: io_reason(&e),
        };
        let stream: Box<dyn Stream> = match &target {
            Target::Tcp(addr) => {
                let s = tcp_connect(addr, timeout).map_err(connect_err)?;
                Box::new(s)
            }
            Target::Unix(path) => Box::new(UnixStream::connect(path).map_err(connect_err)?),
            Target::Ssl(addr) => {
                let config = tls_config(tls)?;
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| ClientError::Tls(format!("{target_text}: {e}")))?;
                let sock = tcp_connect(addr, timeout).map_err(connect_err)?;
                let conn = rustls::ClientConnection::new(Arc::new(config), name)
                    .map_err(|e| ClientError::Tls(format!("{target_text}: {e}")))?;
                Box::new(rustls::StreamOwned::new(conn, sock))
            }
        };
        let mut config = Config::new(Side::Controller);
        config.probe_interval_ms = 0;
        let epoch = Instant::now();
        let mut c = Client {
            target: target_text.to_string(),
            stream,
            conn: Connection::new(config, 0),
            epoch,
            timeout,
            rbuf: vec![0; 64 * 1024],
            wbuf: Vec::with_capacity(256 * 1024),
            backlog: VecDeque::new(),
        };
        c.flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            match c.next_event(deadline)? {
                Event::Connected { .. } => return Ok(c),
                Event::Closed(reason) => return Err(c.closed(&reason)),
                other => c.backlog.push_back(other),
            }
        }
    }

    /// The target as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The operation timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn io_err(&self, e: &io::Error) -> ClientError {
        ClientError::Io {
            target: self.target.clone(),
            reason: io_reason(e),
        }
    }

    fn closed(&self, reason: &CloseReason) -> ClientError {
        let reason = match reason {
            CloseReason::Local => "closed locally".to_string(),
            CloseReason::Incompatible { peer_version } => {
                format!("the switch speaks OpenFlow version 0x{peer_version:02x}, not 1.3")
            }
            CloseReason::NoHello(t) => format!("the switch sent {t} before HELLO"),
            CloseReason::PeerRefused(e) => format!(
                "the switch refused the handshake: {}",
                crate::format::print::error_name(e.kind)
            ),
            CloseReason::ProbeTimeout => "the switch stopped answering".to_string(),
            CloseReason::Framing(e) => e.to_string(),
        };
        ClientError::Closed {
            target: self.target.clone(),
            reason,
        }
    }

    /// Writes everything the connection has queued.
    fn flush(&mut self) -> Result<(), ClientError> {
        self.wbuf.clear();
        while let Some(b) = self.conn.poll_transmit() {
            self.wbuf.extend_from_slice(&b);
        }
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.wbuf);
        let r = self
            .stream
            .write_all(&buf)
            .and_then(|()| self.stream.flush());
        self.wbuf = buf;
        r.map_err(|e| self.io_err(&e))
    }

    /// Reads once (up to `deadline`) and feeds the connection.
    /// Returns false on timeout.
    fn read_once(&mut self, deadline: Instant) -> Result<bool, ClientError> {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(|e| self.io_err(&e))?;
        match self.stream.read(&mut self.rbuf) {
            Ok(0) => {
                self.conn.close();
                Err(ClientError::Closed {
                    target: self.target.clone(),
                    reason: "the switch closed the connection".to_string(),
                })
            }
            Ok(n) => {
                let now = self.now_ms();
                let (conn, buf) = (&mut self.conn, &self.rbuf);
                conn.handle_input(&buf[..n], now);
                self.flush()?;
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(self.io_err(&e)),
        }
    }

    /// The next event, waiting until `deadline`.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when the deadline passes first, or an I/O
    /// error.
    pub fn next_event(&mut self, deadline: Instant) -> Result<Event, ClientError> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                return Ok(e);
            }
            if let Some(e) = self.conn.poll_event() {
                return Ok(e);
            }
            if !self.read_once(deadline)? && Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    target: self.target.clone(),
                    secs: self.timeout.as_secs(),
                });
            }
        }
    }

    /// The next event, or `None` when `deadline` passes first.
    ///
    /// # Errors
    /// I/O errors and a closed connection.
    pub fn poll_event_until(&mut self, deadline: Instant) -> Result<Option<Event>, ClientError> {
        match self.next_event(deadline) {
            Ok(e) => Ok(Some(e)),
            Err(ClientError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends `msg` as a tracked request without waiting; returns its xid.
    ///
    /// # Errors
    /// An I/O error.
    pub fn send(&mut self, msg: Message) -> Result<u32, ClientError> {
        let xid = self.conn.send_request(msg);
        self.flush()?;
        Ok(xid)
    }

    /// Sends `msg` and waits for how it ends (a reply, the switch's error,
    /// or — for messages without a reply — completion at the next
    /// barrier, which is sent for it). Asynchronous messages arriving
    /// meanwhile are kept for [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// Timeout, I/O errors, a closed connection.
    pub fn transact(&mut self, msg: Message) -> Result<Reply, ClientError> {
        let needs_barrier = msg.msg_type().reply_type().is_none();
        let xid = self.conn.send_request(msg);
        if needs_barrier {
            self.conn.send_request(Message::BarrierRequest);
        }
        self.flush()?;
        let deadline = Instant::now() + self.timeout;
        let mut result = None;
        loop {
            let e = self.next_event_no_backlog(deadline)?;
            match e {
                Event::Reply { xid: x, outcome } if x == xid => {
                    result = Some(Reply { xid, outcome });
                    if !needs_barrier {
                        break;
                    }
                }
                Event::Reply {
                    outcome: Outcome::Reply(Message::BarrierReply),
                    ..
                } if needs_barrier => {
                    if result.is_some() {
                        break;
                    }
                }
                Event::Closed(reason) => return Err(self.closed(&reason)),
                other => self.backlog.push_back(other),
            }
        }
        result.ok_or_else(|| ClientError::Io {
            target: self.target.clone(),
            reason: "no reply".into(),
        })
    }

    fn next_event_no_backlog(&mut self, deadline: Instant) -> Result<Event, ClientError> {
        loop {
            if let Some(e) = self.conn.poll_event() {
                return Ok(e);
            }
            if !self.read_once(deadline)? && Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    target: self.target.clone(),
                    secs: self.timeout.as_secs(),
                });
            }
        }
    }

    /// Sends many reply-less requests (FLOW_MODs, GROUP_MODs, ...)
    /// pipelined: a BARRIER after every `barrier_every` messages, at most
    /// `window` barriers outstanding. `progress` is called with the number
    /// of messages the switch has confirmed so far. Returns the requests
    /// the switch refused (the batch goes on past errors, as `ovs-ofctl`
    /// sends everything; the caller decides what an error means).
    ///
    /// # Errors
    /// Timeout, I/O errors, a closed connection.
    pub fn send_pipelined(
        &mut self,
        msgs: impl IntoIterator<Item = Message>,
        barrier_every: usize,
        window: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<BatchError>, ClientError> {
        let barrier_every = barrier_every.max(1);
        let window = window.max(1);
        let mut errors = Vec::new();
        // xid of each request in order, to map errors back to indices.
        let mut xids: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
        let mut barriers: VecDeque<(u32, usize)> = VecDeque::new();
        let mut confirmed = 0usize;
        let mut sent = 0usize;
        let mut since_barrier = 0usize;
        let handle = |c: &mut Client,
                      e: Event,
                      xids: &mut std::collections::HashMap<u32, usize>,
                      barriers: &mut VecDeque<(u32, usize)>,
                      errors: &mut Vec<BatchError>,
                      confirmed: &mut usize|
         -> Result<(), ClientError> {
            match e {
                Event::Reply { xid, outcome } => {
                    if let Some(pos) = barriers.iter().position(|b| b.0 == xid) {
                        let (_, upto) = barriers.remove(pos).unwrap_or((0, 0));
                        *confirmed = (*confirmed).max(upto);
                        return Ok(());
                    }
                    match outcome {
                        Outcome::Error(error) => {
                            if let Some(index) = xids.remove(&xid) {
                                errors.push(BatchError { index, xid, error });
                            }
                        }
                        _ => {
                            xids.remove(&xid);
                        }
                    }
                }
                Event::Closed(reason) => return Err(c.closed(&reason)),
                other => c.backlog.push_back(other),
            }
            Ok(())
        };
        for msg in msgs {
            let xid = self.conn.send_request(msg);
            xids.insert(xid, sent);
            sent += 1;
            since_barrier += 1;
            if since_barrier >= barrier_every {
                since_barrier = 0;
                let b = self.conn.send_request(Message::BarrierRequest);
                barriers.push_back((b, sent));
                self.flush()?;
                // Drain what has arrived without waiting.
                while let Some(e) = self.conn.poll_event() {
                    handle(
                        self,
                        e,
                        &mut xids,
                        &mut barriers,
                        &mut errors,
                        &mut confirmed,
                    )?;
                }
                while barriers.len() > window {
                    let deadline = Instant::now() + self.timeout;
                    let e = self.next_event_no_backlog(deadline)?;
                    handle(
                        self,
                        e,
                        &mut xids,
                        &mut barriers,
                        &mut errors,
                        &mut confirmed,
                    )?;
                }
                progress(confirmed);
            }
        }
        let b = self.conn.send_request(Message::BarrierRequest);
        barriers.push_back((b, sent));
        self.flush()?;
        while !barriers.is_empty() {
            let deadline = Instant::now() + self.timeout;
            let e = self.next_event_no_backlog(deadline)?;
            handle(
                self,
                e,
                &mut xids,
                &mut barriers,
                &mut errors,
                &mut confirmed,
            )?;
        }
        progress(confirmed);
        errors.sort_by_key(|e| e.index);
        Ok(errors)
    }
}

fn tcp_connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address did not resolve");
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A short reason for an I/O error (`Connection refused`).
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn read_file(kind: &str, p: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(p)
        .map_err(|e| ClientError::Tls(format!("{kind} {}: {}", p.display(), io_reason(&e))))
}

/// A server certificate check that verifies the chain up to the CA but not
/// the host name: `ovs-pki` certificates name the switch in their CN only.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Ok(v) => Ok(v),
            // The chain was verified before the name was looked at.
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, ClientError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let need = |o: &Option<PathBuf>, opt: &str| {
        o.clone()
            .ok_or_else(|| ClientError::Tls(format!("ssl: targets need {opt} FILE")))
    };
    let ca = need(&files.ca_cert, "--ca-cert")?;
    let cert = need(&files.certificate, "--certificate")?;
    let key = need(&files.private_key, "--private-key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = read_file("--ca-cert", &ca)?;
    for c in CertificateDer::pem_slice_iter(&ca_pem) {
        let c = c.map_err(|e| ClientError::Tls(format!("--ca-cert {}: {e}", ca.display())))?;
        roots
            .add(c)
            .map_err(|e| ClientError::Tls(format!("--ca-cert {}: {e}", ca.display())))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| ClientError::Tls(format!("--ca-cert {}: {e}", ca.display())))?;
    let cert_pem = read_file("--certificate", &cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| ClientError::Tls(format!("--certificate {}: {e}", cert.display())))?;
    let key_pem = read_file("--private-key", &key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| ClientError::Tls(format!("--private-key {}: {e}", key.display())))?;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
        .with_client_auth_cert(chain, key)
        .map_err(|e| ClientError::Tls(format!("client certificate and key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_ovs_ofctl() {
        assert_eq!(
            Target::parse("tcp:127.0.0.1:6653"),
            Ok(Target::Tcp("127.0.0.1:6653".into()))
        );
        assert_eq!(
            Target::parse("tcp:127.0.0.1"),
            Ok(Target::Tcp("127.0.0.1:6653".into()))
        );
        assert_eq!(
            Target::parse("tcp:[::1]:7"),
            Ok(Target::Tcp("[::1]:7".into()))
        );
        assert_eq!(
            Target::parse("ssl:10.0.0.1:6653"),
            Ok(Target::Ssl("10.0.0.1:6653".into()))
        );
        assert_eq!(
            Target::parse("unix:/tmp/x.sock"),
            Ok(Target::Unix("/tmp/x.sock".into()))
        );
        assert!(Target::parse("tcp:1.2.3.4:notaport").is_err());
        assert!(Target::parse("").is_err());
    }

    #[test]
    fn bridge_names_resolve_under_the_run_dir() {
        let Ok(Target::Unix(p)) = Target::parse("br0") else {
            panic!("bridge name must resolve to a unix socket")
        };
        assert!(p.ends_with("br0.mgmt"), "{}", p.display());
    }

    #[test]
    fn connection_refused_names_the_target_and_reason() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = Client::connect(
            &format!("tcp:127.0.0.1:{port}"),
            &TlsFiles::default(),
            Some(Duration::from_secs(2)),
        )
        .err()
        .unwrap();
        let text = e.to_string();
        assert!(text.contains(&format!("tcp:127.0.0.1:{port}")), "{text}");
        assert!(text.contains("refused"), "{text}");
    }
}
