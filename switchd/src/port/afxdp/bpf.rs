//! The eBPF side of an AF_XDP port: an `XSKMAP`, the redirect program and
//! its attachment to the interface, all through the `bpf(2)` system call.
//!
//! # Shape
//!
//! No compiler for eBPF is assumed anywhere the switch is built, so the
//! program is written here as its five instructions ([`PROGRAM`]) and the
//! map's descriptor is patched into the 64-bit immediate load that names
//! it (`BPF_PSEUDO_MAP_FD`) just before loading. The program is the
//! classic one: `bpf_redirect_map(&xsks_map, ctx->rx_queue_index,
//! XDP_PASS)`, so a frame goes to the socket bound to the queue it arrived
//! on, or to the kernel's stack when that queue has no socket.
//!
//! The program is attached with a **bpf_link** (`BPF_LINK_CREATE`,
//! Linux ≥ 5.9) rather than the netlink `IFLA_XDP` attribute: a link lives
//! exactly as long as its last descriptor, so the program leaves the
//! interface when the port is removed, when the daemon exits, and also
//! when it crashes or is killed — nothing is left behind redirecting
//! frames to a socket that no longer exists. Native mode
//! (`XDP_FLAGS_DRV_MODE`) is tried first and generic (SKB) mode second;
//! [`Attachment::mode`] says which one took.
//!
//! Every `unsafe` block here is a `bpf(2)` call on a zero-initialised
//! attribute union of the layout `linux/bpf.h` gives.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
pub(crate) const BPF_PROG_LOAD: libc::c_long = 5;
pub(crate) const BPF_LINK_CREATE: libc::c_long = 28;

const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type` value of XDP on a device.
const BPF_XDP: u32 = 37;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, run on the socket buffer.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, run by the driver.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// One eBPF instruction (`struct bpf_insn`): opcode, destination and
/// source registers (low and high nibble), offset, immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble) and source register (high nibble).
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

pub(crate) const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes (class | size/op | mode/source).
const BPF_LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const BPF_LD_IMM_DW: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
pub(crate) const BPF_ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const BPF_JMP_CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
pub(crate) const BPF_JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
/// Source register value marking an `LD_IMM64` whose immediate is a map fd.
const BPF_PSEUDO_MAP_FD: u8 = 1;
/// Helper number of `bpf_redirect_map`.
const FN_REDIRECT_MAP: i32 = 51;
/// `XDP_PASS`: the action when the queue has no socket.
const XDP_PASS: i32 = 2;
/// Offset of `rx_queue_index` in `struct xdp_md`.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// Index in [`PROGRAM`] of the instruction whose immediate is the map fd.
pub const MAP_FD_INSN: usize = 1;

/// The redirect program, with a map fd of 0 at [`MAP_FD_INSN`]:
///
/// ```text
/// r2 = *(u32 *)(r1 + 16)      ; ctx->rx_queue_index (read before r1 is reused)
/// r1 = map[xsks_map] ll       ; two slots: LD_IMM64 with BPF_PSEUDO_MAP_FD
/// r3 = XDP_PASS               ; what to do when the queue has no socket
/// call bpf_redirect_map       ; r0 = XDP_REDIRECT or XDP_PASS
/// exit                        ; return r0
/// ```
pub const PROGRAM: [Insn; 6] = [
    insn(BPF_LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0),
    insn(BPF_LD_IMM_DW, 1, BPF_PSEUDO_MAP_FD, 0, 0),
    insn(0, 0, 0, 0, 0),
    insn(BPF_ALU64_MOV_K, 3, 0, 0, XDP_PASS),
    insn(BPF_JMP_CALL, 0, 0, 0, FN_REDIRECT_MAP),
    insn(BPF_JMP_EXIT, 0, 0, 0, 0),
];

/// The program with `map_fd` patched in.
pub fn program_for(map_fd: RawFd) -> [Insn; 6] {
    let mut p = PROGRAM;
    p[MAP_FD_INSN].imm = map_fd;
    p
}

/// `union bpf_attr`, as 16 aligned 64-bit words (128 bytes covers every
/// command used here; the kernel wants the unused tail zero).
#[repr(C, align(8))]
pub(crate) struct Attr([u8; 128]);

impl Attr {
    pub(crate) fn new() -> Attr {
        Attr([0; 128])
    }

    pub(crate) fn u32(&mut self, off: usize, v: u32) -> &mut Attr {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }

    pub(crate) fn u64(&mut self, off: usize, v: u64) -> &mut Attr {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }

    pub(crate) fn name(&mut self, off: usize, name: &str) -> &mut Attr {
        // BPF object names: at most 15 bytes of [A-Za-z0-9_.].
        let clean: Vec<u8> = name
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
            .take(15)
            .collect();
        self.0[off..off + clean.len()].copy_from_slice(&clean);
        self
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, writable 128-byte bpf_attr whose size is
    // passed alongside; every pointer inside it refers to memory that the
    // caller keeps alive until this call returns.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub(crate) fn bpf_fd(cmd: libc::c_long, attr: &mut Attr) -> io::Result<OwnedFd> {
    let r = bpf(cmd, attr)?;
    let fd = RawFd::try_from(r).map_err(|_| io::Error::other("bpf returned a bad descriptor"))?;
    // SAFETY: the command returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `XSKMAP`: queue index → AF_XDP socket.
#[derive(Debug)]
pub struct XskMap {
    fd: OwnedFd,
    entries: u32,
}

impl XskMap {
    /// Creates a map for queues `0..entries`.
    pub fn create(entries: u32, name: &str) -> io::Result<XskMap> {
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_XSKMAP)
            .u32(4, 4)
            .u32(8, 4)
            .u32(12, entries.max(1))
            .name(28, name);
        let fd = bpf_fd(BPF_MAP_CREATE, &mut a)?;
        Ok(XskMap {
            fd,
            entries: entries.max(1),
        })
    }

    /// Points queue `queue` at socket `xsk`.
    pub fn set(&self, queue: u32, xsk: RawFd) -> io::Result<()> {
        if queue >= self.entries {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "queue beyond the XSKMAP",
            ));
        }
        let key = queue;
        let value = u32::try_from(xsk).map_err(|_| io::Error::other("bad socket descriptor"))?;
        let mut a = Attr::new();
        a.u32(0, u32::try_from(self.fd.as_raw_fd()).unwrap_or(0))
            .u64(8, std::ptr::from_ref(&key) as u64)
            .u64(16, std::ptr::from_ref(&value) as u64)
            .u64(24, 0);
        bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
    }

    /// The map's descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A loaded redirect program.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

impl Program {
    /// Loads [`PROGRAM`] bound to `map`. On a verifier refusal the error
    /// carries the verifier's log.
    pub fn load(map: &XskMap, name: &str) -> io::Result<Program> {
        let insns = program_for(map.fd());
        let license = c"Apache-2.0";
        let attr = |log: Option<&mut Vec<u8>>| {
            let mut a = Attr::new();
            a.u32(0, BPF_PROG_TYPE_XDP)
                .u32(4, u32::try_from(insns.len()).unwrap_or(0))
                .u64(8, insns.as_ptr() as u64)
                .u64(16, license.as_ptr() as u64)
                .name(48, name)
                .u32(68, BPF_XDP);
            if let Some(log) = log {
                a.u32(24, 1)
                    .u32(28, u32::try_from(log.len()).unwrap_or(0))
                    .u64(32, log.as_mut_ptr() as u64);
            }
            a
        };
        let e = match bpf_fd(BPF_PROG_LOAD, &mut attr(None)) {
            Ok(fd) => return Ok(Program { fd }),
            Err(e) => e,
        };
        // Load again with the verifier's log, to say why.
        let mut log = vec![0u8; 16 * 1024];
        if let Ok(fd) = bpf_fd(BPF_PROG_LOAD, &mut attr(Some(&mut log))) {
            return Ok(Program { fd });
        }
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        let text = text.trim();
        if text.is_empty() {
            Err(e)
        } else {
            Err(io::Error::new(
                e.kind(),
                format!("{e}; verifier: {}", text.replace('\n', " | ")),
            ))
        }
    }

    /// The program's descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// How the program runs on the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver, before a socket buffer exists (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// On the socket buffer, for drivers without XDP (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

impl std::fmt::Display for XdpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        })
    }
}

/// A program attached to an interface through a bpf_link; dropping it
/// (closing the link) detaches the program.
#[derive(Debug)]
pub struct Link {
    /// Closing it (the last reference) detaches the program.
    _fd: OwnedFd,
}

impl Link {
    /// Attaches `prog` to interface `ifindex` with `flags` (one of the
    /// `XDP_FLAGS_*_MODE`).
    pub fn create(prog: &Program, ifindex: u32, flags: u32) -> io::Result<Link> {
        let mut a = Attr::new();
        a.u32(0, u32::try_from(prog.fd()).unwrap_or(0))
            .u32(4, ifindex)
            .u32(8, BPF_XDP)
            .u32(12, flags);
        bpf_fd(BPF_LINK_CREATE, &mut a).map(|fd| Link { _fd: fd })
    }
}

/// Everything that keeps the program on the interface: the map, the
/// program and the link. Dropping it detaches the program.
#[derive(Debug)]
pub struct Attachment {
    // Field order is drop order: the link (detach) first.
    _link: Link,
    _prog: Program,
    _map: XskMap,
    mode: XdpMode,
    native_error: Option<io::Error>,
}

impl Attachment {
    /// Attaches `prog` to `ifindex`, natively if the driver can, else
    /// generically. The error, when neither works, says why each failed.
    pub fn attach(map: XskMap, prog: Program, ifindex: u32) -> io::Result<Attachment> {
        let native = Link::create(&prog, ifindex, XDP_FLAGS_DRV_MODE);
        let (link, mode, native_error) = match native {
            Ok(l) => (l, XdpMode::Native, None),
            Err(ne) => match Link::create(&prog, ifindex, XDP_FLAGS_SKB_MODE) {
                Ok(l) => (l, XdpMode::Generic, Some(ne)),
                Err(ge) => {
                    return Err(io::Error::new(
                        ge.kind(),
                        format!("cannot attach XDP: native mode: {ne}; generic mode: {ge}"),
                    ))
                }
            },
        };
        Ok(Attachment {
            _link: link,
            _prog: prog,
            _map: map,
            mode,
            native_error,
        })
    }

    /// The mode that took.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// Why native mode was refused, when generic mode is in use.
    pub fn native_error(&self) -> Option<&io::Error> {
        self.native_error.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_reads_the_queue_index_before_loading_the_map_and_passes_by_default() {
        let p = program_for(42);
        // r2 = *(u32 *)(r1 + 16)
        assert_eq!((p[0].code, p[0].regs, p[0].off), (0x61, 0x12, 16));
        // r1 = map fd 42 (pseudo map fd in the source register)
        assert_eq!((p[1].code, p[1].regs, p[1].imm), (0x18, 0x11, 42));
        assert_eq!(p[2], insn(0, 0, 0, 0, 0));
        // r3 = XDP_PASS; call 51; exit
        assert_eq!((p[3].code, p[3].regs, p[3].imm), (0xb7, 0x03, 2));
        assert_eq!((p[4].code, p[4].imm), (0x85, 51));
        assert_eq!(p[5].code, 0x95);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    #[test]
    fn the_kernel_verifier_accepts_the_program_when_running_as_root() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
                "loading eBPF needs root, and SWITCH_REQUIRE_PEERS is set"
            );
            eprintln!("skipped: loading eBPF needs root");
            return;
        }
        let map = XskMap::create(4, "t_xsks").expect("create the XSKMAP");
        Program::load(&map, "t_redirect").expect("load the program");
    }
}
