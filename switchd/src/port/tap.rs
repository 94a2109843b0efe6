//! TAP devices: the switch's tap ports and internal ports (the LOCAL port
//! among them), created when the port is added and gone when the last
//! reference to the device is dropped (the devices are not persistent).
//!
//! # Design
//!
//! The device is created layer 2 with `IFF_VNET_HDR` and TCP/UDP offloads
//! (through `tun-rs`), brought up, and given the switch's address for it.
//! Every read returns one frame behind its virtio-net header and every
//! write sends one, so receive is a loop of non-blocking `readv` and
//! transmit one `writev` per frame; the offload handling is the one of
//! system ports ([`super::afpacket::plan_batch`]). A TAP is served by one
//! forwarding thread and written by any.

use super::afpacket::{plan_batch, Msg, RX_BUF_CAPACITY};
use super::offload::{VirtioNetHdr, VNET_HDR_LEN};
use super::{SendOutcome, TxScratch};
use datapath::buffer::{Packet, DEFAULT_HEADROOM};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A TAP device the switch created.
pub struct TapDevice {
    dev: tun_rs::SyncDevice,
    name: String,
    vnet: bool,
}

impl std::fmt::Debug for TapDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapDevice")
            .field("name", &self.name)
            .field("fd", &self.dev.as_raw_fd())
            .finish_non_exhaustive()
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: `fd` is an open descriptor owned by the device; F_GETFL and
    // F_SETFL take and return plain integers.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is owned by `self.dev`, which outlives the
        // returned borrow (tied to `&self`).
        unsafe { BorrowedFd::borrow_raw(self.dev.as_raw_fd()) }
    }
}

impl TapDevice {
    /// Creates TAP `name` (with address `mac` when given) and brings it up.
    pub fn create(name: &str, mac: Option<[u8; 6]>) -> io::Result<TapDevice> {
        let mut b = tun_rs::DeviceBuilder::new()
            .name(name)
            .layer(tun_rs::Layer::L2)
            .offload(true)
            .enable(true);
        if let Some(mac) = mac {
            b = b.mac_addr(mac);
        }
        let dev = b.build_sync()?;
        set_nonblocking(dev.as_raw_fd())?;
        let vnet = dev.tcp_gso();
        Ok(TapDevice {
            dev,
            name: name.to_owned(),
            vnet,
        })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }

    /// Reads up to `pkts.len()` frames straight into `pkts` (growing a
    /// packet too small for a 64 KiB frame); an error of kind
    /// `NotConnected` means the device is gone.
    pub fn recv(&self, pkts: &mut [Packet]) -> io::Result<usize> {
        let mut n = 0;
        while n < pkts.len() {
            let p = &mut pkts[n];
            if p.reset_for_rx(DEFAULT_HEADROOM).len() < RX_BUF_CAPACITY - DEFAULT_HEADROOM {
                *p = Packet::with_capacity(RX_BUF_CAPACITY, DEFAULT_HEADROOM);
            }
            let area = p.reset_for_rx(DEFAULT_HEADROOM);
            let mut hdr = [0u8; VNET_HDR_LEN];
            let hdr_len = if self.vnet { VNET_HDR_LEN } else { 0 };
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: hdr_len,
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            // SAFETY: both iovecs point to live, writable buffers of the
            // given lengths.
            let r = unsafe { libc::readv(self.fd(), iov.as_ptr(), 2) };
            if r < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(n),
                    Some(libc::EINTR) => continue,
                    Some(libc::EBADFD | libc::ENXIO | libc::ENODEV) => {
                        Err(io::Error::new(io::ErrorKind::NotConnected, e))
                    }
                    _ => Err(e),
                };
            }
            let len = usize::try_from(r).unwrap_or(0).saturating_sub(hdr_len);
            if len < 14 {
                continue;
            }
            p.set_len(len);
            if self.vnet {
                p.meta.offload = VirtioNetHdr::from_bytes(&hdr).to_meta();
            }
            n += 1;
        }
        Ok(n)
    }

    /// Writes a batch, one `writev` per frame.
    pub fn send_batch(&self, pkts: &[Packet], scratch: &mut TxScratch) -> SendOutcome {
        let mut out = SendOutcome::default();
        plan_batch(pkts, self.vnet, scratch, &mut out);
        for m in &scratch.plan {
            let mut iov = [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; 4];
            let mut k = 0;
            let mut push = |b: &[u8]| {
                iov[k] = libc::iovec {
                    iov_base: b.as_ptr().cast_mut().cast(),
                    iov_len: b.len(),
                };
                k += 1;
            };
            let bytes;
            match *m {
                Msg::Frame { pkt, hdr, patch } => {
                    let f = pkts[pkt].data();
                    bytes = f.len();
                    if self.vnet {
                        push(&scratch.vnet[hdr]);
                    }
                    match patch {
                        Some((off, ref b)) if off + 2 <= f.len() => {
                            push(&f[..off]);
                            push(b);
                            push(&f[off + 2..]);
                        }
                        _ => push(f),
                    }
                }
                Msg::Segment { seg, hdr } => {
                    let f = &scratch.segments[seg];
                    bytes = f.len();
                    if self.vnet {
                        push(&scratch.vnet[hdr]);
                    }
                    push(f);
                }
            }
            let iovcnt = libc::c_int::try_from(k).unwrap_or(0);
            // SAFETY: the first `k` iovecs point into `pkts`, `scratch` and
            // `plan`, all alive until the call returns.
            let r = unsafe { libc::writev(self.fd(), iov.as_ptr(), iovcnt) };
            if r >= 0 {
                out.sent += 1;
                out.bytes += bytes as u64;
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS | libc::EIO) => out.dropped += 1,
                Some(libc::EBADFD | libc::ENXIO | libc::ENODEV) => {
                    out.gone = true;
                    out.errors += 1;
                    break;
                }
                _ => out.errors += 1,
            }
        }
        out
    }
}
