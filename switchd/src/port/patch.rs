//! Patch ports: a pair of ports in two bridges of the same daemon, each
//! naming the other as `peer`, so that a frame output on one is received
//! on the other. There is no device: the hand-off is a queue inside the
//! process.
//!
//! # Shape
//!
//! Every patch port has an inbox (a bounded queue of frames plus an
//! eventfd), registered under the port's name in a daemon-wide table
//! (port names are unique across the bridges of a daemon). Sending on a
//! port looks its peer's inbox up by name and copies the frames in,
//! offload metadata included (a GSO frame stays one frame); the peer's
//! forwarding thread polls the eventfd like any receive queue. While the
//! peer does not exist, frames sent are counted as dropped. The copy keeps
//! the two bridges' buffers and threads independent.

use super::{SendOutcome, TxScratch};
use datapath::buffer::{OffloadMeta, Packet, DEFAULT_HEADROOM};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Frames an inbox holds before it drops.
const INBOX_MAX: usize = 4096;

/// The settings of a patch port: the name of its peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchConfig {
    /// The peer port's name.
    pub peer: String,
}

impl PatchConfig {
    /// Reads the options of a `patch` port (`peer`, required); the error
    /// names the option and the reason.
    pub fn from_options(
        name: &str,
        opts: &BTreeMap<String, String>,
    ) -> Result<PatchConfig, String> {
        let mut peer = None;
        for (k, v) in opts {
            match k.as_str() {
                "peer" => {
                    crate::config::validate_ifname(v).map_err(|e| format!("peer: {e}"))?;
                    peer = Some(v.clone());
                }
                other => {
                    return Err(format!(
                        "option \"{}\" is not a patch option (peer)",
                        other.escape_debug()
                    ))
                }
            }
        }
        let peer = peer.ok_or("peer: a patch port needs peer")?;
        if peer == name {
            return Err(format!(
                "peer: a patch port cannot be its own peer (\"{peer}\")"
            ));
        }
        Ok(PatchConfig { peer })
    }
}

#[derive(Debug)]
struct Inbox {
    queue: Mutex<VecDeque<(Vec<u8>, OffloadMeta)>>,
    wake: EventFd,
    dropped: AtomicU64,
}

/// Inboxes of the daemon's patch ports, by port name.
static INBOXES: Mutex<Option<HashMap<String, Weak<Inbox>>>> = Mutex::new(None);

fn lookup(name: &str) -> Option<Arc<Inbox>> {
    let g = INBOXES.lock().unwrap_or_else(PoisonError::into_inner);
    g.as_ref()?.get(name)?.upgrade()
}

/// The transmit side of a patch port.
#[derive(Debug)]
pub struct PatchPort {
    name: String,
    peer: String,
    inbox: Arc<Inbox>,
}

/// The receive side of a patch port.
#[derive(Debug)]
pub struct PatchRx {
    inbox: Arc<Inbox>,
}

/// Opens patch port `name` and registers its inbox.
pub fn open(name: &str, cfg: &PatchConfig) -> io::Result<(PatchPort, PatchRx)> {
    let inbox = Arc::new(Inbox {
        queue: Mutex::new(VecDeque::new()),
        wake: EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        dropped: AtomicU64::new(0),
    });
    {
        let mut g = INBOXES.lock().unwrap_or_else(PoisonError::into_inner);
        let m = g.get_or_insert_with(HashMap::new);
        m.retain(|_, w| w.strong_count() > 0);
        m.insert(name.to_owned(), Arc::downgrade(&inbox));
    }
    Ok((
        PatchPort {
            name: name.to_owned(),
            peer: cfg.peer.clone(),
            inbox: Arc::clone(&inbox),
        },
        PatchRx { inbox },
    ))
}

impl Drop for PatchPort {
    fn drop(&mut self) {
        let mut g = INBOXES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = g.as_mut() {
            if m.get(&self.name)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.inbox)))
            {
                m.remove(&self.name);
            }
        }
    }
}

impl PatchPort {
    /// Hands a batch to the peer (dropped while there is none).
    pub fn send_batch(&self, pkts: &[Packet], _scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        let Some(peer) = lookup(&self.peer) else {
            out.dropped = pkts.len() as u64;
            return out;
        };
        let mut q = peer.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = q.is_empty();
        for p in pkts.iter().filter(|p| !p.is_empty()) {
            if q.len() >= INBOX_MAX {
                out.dropped += 1;
                continue;
            }
            q.push_back((p.data().to_vec(), p.meta.offload));
            out.sent += 1;
            out.bytes += p.len() as u64;
        }
        drop(q);
        if was_empty && out.sent > 0 {
            let _ = peer.wake.write(1);
        }
        out
    }
}

impl AsFd for PatchRx {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inbox.wake.as_fd()
    }
}

impl PatchRx {
    /// Moves up to `pkts.len()` frames the peer sent into `pkts`.
    pub fn recv(&mut self, pkts: &mut [Packet]) -> io::Result<usize> {
        let _ = self.inbox.wake.read();
        let mut q = self
            .inbox
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut n = 0;
        while n < pkts.len() {
            let Some((frame, offload)) = q.pop_front() else {
                break;
            };
            let p = &mut pkts[n];
            if p.reset_for_rx(DEFAULT_HEADROOM).len() < frame.len() {
                *p = Packet::with_capacity(DEFAULT_HEADROOM + frame.len(), DEFAULT_HEADROOM);
            }
            let area = p.reset_for_rx(DEFAULT_HEADROOM);
            area[..frame.len()].copy_from_slice(&frame);
            p.set_len(frame.len());
            p.meta.offload = offload;
            n += 1;
        }
        Ok(n)
    }

    /// Frames dropped since the last call (the inbox was full).
    pub fn take_drops(&mut self) -> u64 {
        self.inbox.dropped.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn patch_options_need_a_peer_other_than_the_port() {
        assert_eq!(
            PatchConfig::from_options("pa", &opts(&[("peer", "pb")])).unwrap(),
            PatchConfig { peer: "pb".into() }
        );
        for (o, word) in [
            (opts(&[]), "peer"),
            (opts(&[("peer", "pa")]), "own peer"),
            (opts(&[("peer", "a/b")]), "peer"),
            (opts(&[("peer", "pb"), ("key", "1")]), "key"),
        ] {
            let e = PatchConfig::from_options("pa", &o).unwrap_err();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn a_frame_sent_on_one_end_is_received_on_the_other() {
        let (ta, _ra) = open(
            "tpatcha",
            &PatchConfig {
                peer: "tpatchb".into(),
            },
        )
        .unwrap();
        let mut scratch = TxScratch::default();
        let frame = Packet::from_frame(&[0xab; 60]);
        // No peer yet: dropped.
        assert_eq!(
            ta.send_batch(std::slice::from_ref(&frame), &mut scratch)
                .dropped,
            1
        );
        let (_tb, mut rb) = open(
            "tpatchb",
            &PatchConfig {
                peer: "tpatcha".into(),
            },
        )
        .unwrap();
        let o = ta.send_batch(&[frame.clone(), frame], &mut scratch);
        assert_eq!((o.sent, o.bytes), (2, 120));
        let mut pkts = vec![Packet::with_capacity(256, DEFAULT_HEADROOM); 4];
        assert_eq!(rb.recv(&mut pkts).unwrap(), 2);
        assert_eq!(pkts[0].data(), &[0xab; 60][..]);
        assert_eq!(rb.recv(&mut pkts).unwrap(), 0);
    }
}
