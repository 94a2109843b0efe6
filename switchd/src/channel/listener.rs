//! Where connections come from: active targets (`tcp:`, `ssl:`) that the
//! switch dials and redials, and passive ones (`ptcp:`, `pssl:`, `punix:`)
//! that accept.
//!
//! # Design
//!
//! Each target is one tokio task; dropping or aborting it closes its
//! listener and every connection it started is left to finish on its own
//! task (passive) or is dropped with it (active). Passive targets bind
//! before their task starts, so a port in use or a bad path is reported to
//! the caller at once rather than logged later.
//!
//! Active targets reconnect forever with exponential backoff: 1 s after a
//! failure, doubling up to 8 s; a connection that completed its handshake
//! resets the backoff, so a controller restart is followed within about a
//! second. A `punix:` socket file is removed when its listener goes.

use super::connection;
use super::tls::TlsContext;
use super::{ConnKind, Hub};
use crate::config::Target;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::task::JoinHandle;

/// First reconnection delay.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest reconnection delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// Longest a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a target could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A TLS target without `--private-key/--certificate/--ca-cert`.
    #[error("{0}: TLS targets need --private-key, --certificate and --ca-cert")]
    NoTls(String),
    /// Binding failed.
    #[error("{target}: cannot listen: {reason}")]
    Bind {
        /// The target.
        target: String,
        /// The OS's reason.
        reason: String,
    },
}

/// The delay after `current`: doubled, at most [`BACKOFF_MAX`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).clamp(BACKOFF_MIN, BACKOFF_MAX)
}

/// Starts `target` for `hub`, its connections of `kind`; returns its task.
///
/// # Errors
/// A TLS target without TLS files, or a passive target that cannot bind.
pub async fn start(
    hub: &Arc<Hub>,
    target: &Target,
    tls: Option<&Arc<TlsContext>>,
    kind: ConnKind,
) -> Result<JoinHandle<()>, ListenError> {
    let name = target.to_string();
    let tls = tls.cloned();
    if target.is_tls() && tls.is_none() {
        return Err(ListenError::NoTls(name));
    }
    let bind_err = |e: std::io::Error| ListenError::Bind {
        target: name.clone(),
        reason: e.to_string(),
    };
    let hub = Arc::clone(hub);
    Ok(match target {
        Target::Tcp(addr) => tokio::spawn(run_active(hub, *addr, None, kind)),
        Target::Ssl(addr) => tokio::spawn(run_active(hub, *addr, tls, kind)),
        Target::Ptcp(addr) => {
            let l = TcpListener::bind(addr).await.map_err(bind_err)?;
            tokio::spawn(run_passive_tcp(hub, l, None, kind))
        }
        Target::Pssl(addr) => {
            let l = TcpListener::bind(addr).await.map_err(bind_err)?;
            tokio::spawn(run_passive_tcp(hub, l, tls, kind))
        }
        Target::Punix(path) => {
            let guard = bind_unix(path).map_err(bind_err)?;
            tokio::spawn(run_punix(hub, guard, kind))
        }
    })
}

async fn run_active(hub: Arc<Hub>, addr: SocketAddr, tls: Option<Arc<TlsContext>>, kind: ConnKind) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let established = match dial(&hub, addr, tls.as_ref(), kind).await {
            Ok(e) => e,
            Err(e) => {
                let bridge = hub.datapath().name();
                tracing::debug!(%bridge, %addr, error = %e, "controller connection failed");
                false
            }
        };
        if established {
            backoff = BACKOFF_MIN;
            tokio::time::sleep(backoff).await;
        } else {
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff);
        }
    }
}

/// One connection attempt; returns whether it got past the handshake.
async fn dial(
    hub: &Arc<Hub>,
    addr: SocketAddr,
    tls: Option<&Arc<TlsContext>>,
    kind: ConnKind,
) -> std::io::Result<bool> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = tcp.set_nodelay(true);
    let peer = addr.to_string();
    let ended = match tls {
        None => connection::run(Arc::clone(hub), tcp, kind, peer).await,
        Some(t) => {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&t.client));
            let name = ServerName::IpAddress(addr.ip().into());
            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            connection::run(Arc::clone(hub), stream, kind, peer).await
        }
    };
    Ok(ended.was_established)
}

async fn run_passive_tcp(
    hub: Arc<Hub>,
    listener: TcpListener,
    tls: Option<Arc<TlsContext>>,
    kind: ConnKind,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let hub = Arc::clone(&hub);
        let tls = tls.clone();
        tokio::spawn(async move {
            let peer = peer.to_string();
            match tls {
                None => {
                    connection::run(hub, tcp, kind, peer).await;
                }
                Some(t) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&t.server));
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => {
                            connection::run(hub, s, kind, peer).await;
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// A bound Unix listener whose socket file goes with it.
#[derive(Debug)]
struct UnixGuard {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for UnixGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn bind_unix(path: &Path) -> std::io::Result<UnixGuard> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    // A socket file left by an earlier run is stale: nothing listens on it
    // once its owner is gone. Refuse to remove anything else.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
    }
    let listener = UnixListener::bind(path)?;
    Ok(UnixGuard {
        listener,
        path: path.to_path_buf(),
    })
}

async fn run_punix(hub: Arc<Hub>, guard: UnixGuard, kind: ConnKind) {
    loop {
        match guard.listener.accept().await {
            Ok((s, _)) => {
                let hub = Arc::clone(&hub);
                let peer = format!("unix:{}", guard.path.display());
                tokio::spawn(async move {
                    connection::run(hub, s, kind, peer).await;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_eight() {
        let mut d = BACKOFF_MIN;
        let mut seen = vec![d];
        for _ in 0..5 {
            d = next_backoff(d);
            seen.push(d);
        }
        let secs: Vec<u64> = seen.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_removed_with_its_listener() {
        let dir = std::env::temp_dir().join(format!("swchan{}", std::process::id()));
        let path = dir.join("br0.mgmt");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let g = bind_unix(&path).expect("bind");
            // Leave the file behind as a crashed daemon would.
            std::mem::forget(g);
            let g = bind_unix(&path).expect("rebind over a stale socket");
            assert!(path.exists());
            drop(g);
            assert!(!path.exists());
        });
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn a_regular_file_in_the_way_is_not_removed() {
        let dir = std::env::temp_dir().join(format!("swchanf{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("x.mgmt");
        std::fs::write(&path, b"keep").expect("file");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            assert!(bind_unix(&path).is_err());
        });
        assert_eq!(std::fs::read(&path).expect("still there"), b"keep");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
