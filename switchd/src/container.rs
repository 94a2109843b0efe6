//! Attaching a container (any process with its own network namespace) to a
//! bridge by PID: a veth pair whose inner end is moved into the process's
//! namespace, renamed, addressed and brought up, and whose host end becomes
//! a system port of the bridge. Detaching deletes the pair.
//!
//! # Shape
//!
//! Every netlink conversation runs on a dedicated OS thread with its own
//! current-thread tokio runtime, never on a worker of the daemon's runtime:
//! the thread enters the container's namespace with `setns(2)`, which changes
//! the namespace of the calling thread only, and a worker thread that did so
//! would carry every later task into the container. The thread first does
//! the host-side work (create the pair, move the inner end by a descriptor
//! of `/proc/PID/ns/net`, bring the host end up), then enters the namespace
//! and opens a *new* netlink socket there (a socket belongs to the namespace
//! it was created in), configures the inner end and `lo`, and exits. The
//! async entry points hand the work to such a thread and await its answer on
//! a oneshot channel, so the daemon's runtime never blocks.
//!
//! If configuring the inner end fails, the inner end is deleted from inside
//! the namespace, which deletes its host peer too: a failed attach leaves
//! nothing behind. When the container's namespace goes away (its last
//! process exits) the kernel deletes the pair by itself.
//!
//! Host-side names are derived from the PID: `vc{pid}p{n}` for the port and
//! `vt{pid}p{n}` for the inner end while it is still on the host (at most 14
//! characters for the largest PID Linux allows), `n` being the first number
//! whose name is free.

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;

/// Default name of the interface inside the container.
pub const DEFAULT_IFNAME: &str = "eth1";
/// How many host-side names per PID are tried.
const MAX_ATTACHMENTS_PER_PID: u32 = 100;

/// An error of an attach or detach, one line naming what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContainerError(pub String);

fn err(msg: impl Into<String>) -> ContainerError {
    ContainerError(msg.into())
}

/// What `attach-container` sets up inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachSpec {
    /// The process whose network namespace receives the interface.
    pub pid: u32,
    /// Name of the interface inside the container.
    pub ifname: String,
    /// Address and prefix length to assign, if any.
    pub addr: Option<(IpAddr, u8)>,
    /// MAC address of the inner end (the kernel picks one otherwise).
    pub mac: Option<[u8; 6]>,
    /// Default gateway to route through, if any.
    pub gateway: Option<IpAddr>,
    /// MTU of both ends, if not the default.
    pub mtu: Option<u32>,
}

impl AttachSpec {
    /// Checks the spec's values, naming the first bad field.
    pub fn validate(&self) -> Result<(), ContainerError> {
        if self.pid == 0 {
            return Err(err("pid: must be a process id greater than 0"));
        }
        crate::config::validate_ifname(&self.ifname).map_err(|e| err(format!("ifname: {e}")))?;
        if let Some((ip, len)) = self.addr {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(err(format!("ip: prefix length {len} exceeds {max}")));
            }
        }
        if let (Some((ip, _)), Some(gw)) = (self.addr, self.gateway) {
            if ip.is_ipv4() != gw.is_ipv4() {
                return Err(err("gateway: address family differs from --ip"));
            }
        }
        if let Some(mac) = self.mac {
            if mac[0] & 1 != 0 {
                return Err(err("mac: must be a unicast address"));
            }
            if mac == [0; 6] {
                return Err(err("mac: must not be all zeros"));
            }
        }
        if let Some(mtu) = self.mtu {
            if !(68..=65_535).contains(&mtu) {
                return Err(err(format!("mtu: {mtu} is outside 68..=65535")));
            }
        }
        Ok(())
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts
            .next()
            .ok_or_else(|| format!("'{s}' is not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
        if p.is_empty() || p.len() > 2 {
            return Err(format!("'{s}' is not a MAC address (aa:bb:cc:dd:ee:ff)"));
        }
        *b = u8::from_str_radix(p, 16)
            .map_err(|_| format!("'{s}' is not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
    }
    if parts.next().is_some() {
        return Err(format!("'{s}' is not a MAC address (aa:bb:cc:dd:ee:ff)"));
    }
    Ok(mac)
}

/// Parses `ADDR/LEN` (IPv4 or IPv6); a bare address gets the full length.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = a
        .parse()
        .map_err(|_| format!("'{s}' is not an address with prefix length (ADDR/LEN)"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("prefix length '{l}' is not a number in 0..={max}"))?,
        None => max,
    };
    Ok((ip, len))
}

/// The host-side port name of attachment `n` of `pid`.
pub fn host_ifname(pid: u32, n: u32) -> String {
    format!("vc{pid}p{n}")
}

/// The temporary host-side name of the inner end.
fn temp_ifname(pid: u32, n: u32) -> String {
    format!("vt{pid}p{n}")
}

fn nl_error(what: &str, e: rtnetlink::Error) -> ContainerError {
    match e {
        rtnetlink::Error::NetlinkError(m) => err(format!("{what}: {}", m.to_io())),
        other => err(format!("{what}: {other}")),
    }
}

fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

/// The body of a netlink thread: a current-thread runtime running `f`.
fn run_on_own_runtime<T, Fut>(f: impl FnOnce() -> Fut) -> Result<T, ContainerError>
where
    Fut: std::future::Future<Output = Result<T, ContainerError>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err(format!("netlink runtime: {e}")))
        .and_then(|rt| rt.block_on(f()))
}

/// Runs `f` on a new OS thread with a current-thread runtime and returns
/// its result (blocking the caller, which must not be a runtime worker).
fn on_netlink_thread<T, F, Fut>(name: &str, f: F) -> Result<T, ContainerError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ContainerError>>,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || run_on_own_runtime(f))
        .map_err(|e| err(format!("netlink thread: {e}")))?
        .join()
        .map_err(|_| err("netlink thread panicked"))?
}

/// Runs `f` on a dedicated netlink thread and awaits its result without
/// blocking the calling runtime.
async fn on_netlink_thread_async<T, F, Fut>(name: &str, f: F) -> Result<T, ContainerError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ContainerError>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(run_on_own_runtime(f));
        })
        .map_err(|e| err(format!("netlink thread: {e}")))?;
    rx.await.map_err(|_| err("netlink thread panicked"))?
}

/// A netlink connection in the calling thread's current namespace, its
/// driver spawned on the thread's runtime.
fn connect() -> Result<Handle, ContainerError> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| err(format!("netlink socket: {e}")))?;
    tokio::spawn(conn);
    Ok(handle)
}

/// The link called `name`, if it exists.
async fn link_by_name(h: &Handle, name: &str) -> Result<Option<LinkMessage>, ContainerError> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(m) => Ok(m),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl_error(&format!("looking up {name}"), e)),
    }
}

/// The link with index `index`, if it exists.
async fn link_by_index(h: &Handle, index: u32) -> Result<Option<LinkMessage>, ContainerError> {
    let mut s = h.link().get().match_index(index).execute();
    match s.try_next().await {
        Ok(m) => Ok(m),
        Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl_error(&format!("looking up link {index}"), e)),
    }
}

fn link_name(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn is_veth(m: &LinkMessage) -> bool {
    m.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth))),
        _ => false,
    })
}

fn peer_index(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(i) => Some(*i),
        _ => None,
    })
}

/// Opens the network namespace of `pid`, refusing the switch's own.
fn open_netns(pid: u32) -> Result<File, ContainerError> {
    let path = format!("/proc/{pid}/ns/net");
    let f = File::open(&path).map_err(|e| {
        err(format!(
            "pid: cannot open the network namespace of process {pid}: {e}"
        ))
    })?;
    let theirs = f.metadata().map_err(|e| err(format!("pid: {path}: {e}")))?;
    let ours = std::fs::metadata("/proc/thread-self/ns/net")
        .or_else(|_| std::fs::metadata("/proc/self/ns/net"))
        .map_err(|e| err(format!("own network namespace: {e}")))?;
    if theirs.ino() == ours.ino() && theirs.dev() == ours.dev() {
        return Err(err(format!(
            "pid: process {pid} shares the switch's network namespace"
        )));
    }
    Ok(f)
}

fn enter_netns(ns: &File, pid: u32) -> Result<(), ContainerError> {
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        err(format!(
            "pid: cannot enter the network namespace of process {pid}: {e}"
        ))
    })
}

/// Attaches: creates the pair, configures the inner end in the namespace of
/// `spec.pid`, brings the host end up and returns its name. Blocks the
/// calling thread (use [`attach_async`] from a runtime).
pub fn attach(spec: &AttachSpec) -> Result<String, ContainerError> {
    spec.validate()?;
    let spec = spec.clone();
    on_netlink_thread("container-attach", move || attach_on_thread(spec))
}

/// [`attach`] for async callers: the work runs on a dedicated thread.
pub async fn attach_async(spec: &AttachSpec) -> Result<String, ContainerError> {
    spec.validate()?;
    let spec = spec.clone();
    on_netlink_thread_async("container-attach", move || attach_on_thread(spec)).await
}

async fn attach_on_thread(spec: AttachSpec) -> Result<String, ContainerError> {
    let pid = spec.pid;
    let ns = open_netns(pid)?;
    let host = connect()?;
    // Pick the first free pair of names.
    let mut chosen = None;
    for n in 0..MAX_ATTACHMENTS_PER_PID {
        let (a, b) = (host_ifname(pid, n), temp_ifname(pid, n));
        if link_by_name(&host, &a).await?.is_none() && link_by_name(&host, &b).await?.is_none() {
            chosen = Some((a, b));
            break;
        }
    }
    let (host_name, temp_name) = chosen.ok_or_else(|| {
        err(format!(
            "pid: process {pid} already has {MAX_ATTACHMENTS_PER_PID} attachments"
        ))
    })?;
    let mut veth = LinkVeth::new(&host_name, &temp_name);
    if let Some(mtu) = spec.mtu {
        veth = veth.mtu(mtu);
    }
    host.link()
        .add(veth.build())
        .execute()
        .await
        .map_err(|e| nl_error(&format!("creating veth pair {host_name}/{temp_name}"), e))?;
    let r = host_side(&host, &spec, &ns, &host_name, &temp_name).await;
    if let Err(e) = r {
        delete_by_name(&host, &host_name).await.ok();
        return Err(e);
    }
    drop(host);
    // From here on this thread lives in the container's namespace.
    enter_netns(&ns, pid)?;
    let inner = connect()?;
    if let Err(e) = container_side(&inner, &spec, &temp_name).await {
        // Deleting either end deletes the pair.
        if delete_by_name(&inner, &temp_name).await.is_err() {
            delete_by_name(&inner, &spec.ifname).await.ok();
        }
        return Err(e);
    }
    Ok(host_name)
}

async fn host_side(
    h: &Handle,
    spec: &AttachSpec,
    ns: &File,
    host_name: &str,
    temp_name: &str,
) -> Result<(), ContainerError> {
    use std::os::fd::AsRawFd;
    let peer = link_by_name(h, temp_name)
        .await?
        .ok_or_else(|| err(format!("veth peer {temp_name} vanished")))?;
    h.link()
        .set(
            LinkUnspec::new_with_index(peer.header.index)
                .setns_by_fd(ns.as_raw_fd())
                .build(),
        )
        .execute()
        .await
        .map_err(|e| {
            nl_error(
                &format!("pid: moving {temp_name} into process {}", spec.pid),
                e,
            )
        })?;
    let me = link_by_name(h, host_name)
        .await?
        .ok_or_else(|| err(format!("veth {host_name} vanished")))?;
    h.link()
        .set(LinkUnspec::new_with_index(me.header.index).up().build())
        .execute()
        .await
        .map_err(|e| nl_error(&format!("bringing {host_name} up"), e))?;
    Ok(())
}

async fn container_side(
    h: &Handle,
    spec: &AttachSpec,
    temp_name: &str,
) -> Result<(), ContainerError> {
    let link = link_by_name(h, temp_name)
        .await?
        .ok_or_else(|| err(format!("{temp_name} did not arrive in the container")))?;
    let idx = link.header.index;
    if link_by_name(h, &spec.ifname).await?.is_some() {
        return Err(err(format!(
            "ifname: {} already exists in the network namespace of process {}",
            spec.ifname, spec.pid
        )));
    }
    let mut b = LinkUnspec::new_with_index(idx).name(spec.ifname.clone());
    if let Some(mac) = spec.mac {
        b = b.address(mac.to_vec());
    }
    if let Some(mtu) = spec.mtu {
        b = b.mtu(mtu);
    }
    h.link()
        .set(b.build())
        .execute()
        .await
        .map_err(|e| nl_error(&format!("ifname: configuring {}", spec.ifname), e))?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).up().build())
        .execute()
        .await
        .map_err(|e| nl_error(&format!("bringing {} up", spec.ifname), e))?;
    if let Some(lo) = link_by_name(h, "lo").await? {
        h.link()
            .set(LinkUnspec::new_with_index(lo.header.index).up().build())
            .execute()
            .await
            .map_err(|e| nl_error("bringing lo up", e))?;
    }
    if let Some((ip, len)) = spec.addr {
        h.address()
            .add(idx, ip, len)
            .execute()
            .await
            .map_err(|e| nl_error(&format!("ip: adding {ip}/{len}"), e))?;
    }
    if let Some(gw) = spec.gateway {
        let msg = match gw {
            IpAddr::V4(g) => RouteMessageBuilder::<Ipv4Addr>::new()
                .output_interface(idx)
                .gateway(g)
                .build(),
            IpAddr::V6(g) => RouteMessageBuilder::<Ipv6Addr>::new()
                .output_interface(idx)
                .gateway(g)
                .build(),
        };
        h.route()
            .add(msg)
            .execute()
            .await
            .map_err(|e| nl_error(&format!("gateway: adding a default route via {gw}"), e))?;
    }
    Ok(())
}

async fn delete_by_name(h: &Handle, name: &str) -> Result<bool, ContainerError> {
    match link_by_name(h, name).await? {
        Some(m) => match h.link().del(m.header.index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_error(&format!("deleting {name}"), e)),
        },
        None => Ok(false),
    }
}

/// Deletes the host end `host_name` (and so the pair). Returns whether it
/// existed: it is already gone when the container's namespace went away.
pub fn detach(host_name: &str) -> Result<bool, ContainerError> {
    let name = host_name.to_string();
    on_netlink_thread("container-detach", move || async move {
        let h = connect()?;
        delete_by_name(&h, &name).await
    })
}

/// [`detach`] for async callers.
pub async fn detach_async(host_name: &str) -> Result<bool, ContainerError> {
    let name = host_name.to_string();
    on_netlink_thread_async("container-detach", move || async move {
        let h = connect()?;
        delete_by_name(&h, &name).await
    })
    .await
}

/// The host-side name of the veth whose inner end is `ifname` in the
/// namespace of `pid`, found through the inner end's peer index.
pub async fn find_host_peer_async(pid: u32, ifname: &str) -> Result<String, ContainerError> {
    let ifname = ifname.to_string();
    let peer = on_netlink_thread_async("container-lookup", move || async move {
        let ns = open_netns(pid)?;
        enter_netns(&ns, pid)?;
        let h = connect()?;
        let link = link_by_name(&h, &ifname).await?.ok_or_else(|| {
            err(format!(
                "ifname: no interface {ifname} in the network namespace of process {pid}"
            ))
        })?;
        if !is_veth(&link) {
            return Err(err(format!(
                "ifname: {ifname} in process {pid} is not a veth"
            )));
        }
        peer_index(&link).ok_or_else(|| err(format!("ifname: {ifname} has no peer")))
    })
    .await?;
    on_netlink_thread_async("container-lookup", move || async move {
        let h = connect()?;
        let m = link_by_index(&h, peer)
            .await?
            .ok_or_else(|| err(format!("the host end of {pid}'s interface is gone")))?;
        link_name(&m)
            .map(str::to_string)
            .ok_or_else(|| err("the host end has no name"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_fit_the_kernel_limit_for_the_largest_pid() {
        let n = host_ifname(4_194_304, MAX_ATTACHMENTS_PER_PID - 1);
        assert!(n.len() <= crate::config::IFNAMSIZ_MAX, "{n}");
        assert!(temp_ifname(4_194_304, 99).len() <= crate::config::IFNAMSIZ_MAX);
    }

    #[test]
    fn cidrs_and_macs_parse_and_reject_garbage() {
        assert_eq!(
            parse_cidr("198.18.0.1/24").unwrap(),
            ("198.18.0.1".parse().unwrap(), 24)
        );
        assert_eq!(parse_cidr("2001:db8::1").unwrap().1, 128);
        assert!(parse_cidr("198.18.0.1/33").is_err());
        assert!(parse_cidr("nonsense/8").is_err());
        assert_eq!(
            parse_mac("02:00:00:00:00:0a").unwrap(),
            [2, 0, 0, 0, 0, 0xa]
        );
        assert!(parse_mac("02:00:00:00:00").is_err());
        assert!(parse_mac("02:00:00:00:00:0a:0b").is_err());
        assert!(parse_mac("02:00:00:00:00:zz").is_err());
    }

    #[test]
    fn a_spec_with_a_bad_field_names_it() {
        let ok = AttachSpec {
            pid: 1,
            ifname: "eth1".into(),
            addr: Some(("198.18.0.1".parse().unwrap(), 24)),
            mac: Some([2, 0, 0, 0, 0, 1]),
            gateway: Some("198.18.0.254".parse().unwrap()),
            mtu: Some(1500),
        };
        assert!(ok.validate().is_ok());
        let cases: [(AttachSpec, &str); 5] = [
            (
                AttachSpec {
                    pid: 0,
                    ..ok.clone()
                },
                "pid:",
            ),
            (
                AttachSpec {
                    ifname: "a-very-long-interface".into(),
                    ..ok.clone()
                },
                "ifname:",
            ),
            (
                AttachSpec {
                    mac: Some([1, 0, 0, 0, 0, 1]),
                    ..ok.clone()
                },
                "mac:",
            ),
            (
                AttachSpec {
                    mtu: Some(10),
                    ..ok.clone()
                },
                "mtu:",
            ),
            (
                AttachSpec {
                    gateway: Some("2001:db8::1".parse().unwrap()),
                    ..ok.clone()
                },
                "gateway:",
            ),
        ];
        for (spec, field) in cases {
            let e = spec.validate().unwrap_err().0;
            assert!(e.starts_with(field), "{e}");
        }
    }
}

#[cfg(test)]
mod netns_tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// A process in its own network namespace, killed (with its child) on drop.
    struct Unshared {
        child: Child,
    }

    impl Unshared {
        fn start() -> Option<Unshared> {
            let child = Command::new("unshare")
                .args(["--net", "--fork", "sleep", "60"])
                .stdin(Stdio::null())
                .spawn()
                .ok()?;
            let u = Unshared { child };
            // Wait until the namespace differs from ours.
            for _ in 0..200 {
                if open_netns(u.pid()).is_ok() {
                    return Some(u);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            None
        }

        fn pid(&self) -> u32 {
            self.child.id()
        }

        fn run_inside(&self, args: &[&str]) -> String {
            let out = Command::new("nsenter")
                .arg(format!("--net=/proc/{}/ns/net", self.pid()))
                .args(args)
                .output()
                .expect("nsenter");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    }

    impl Drop for Unshared {
        fn drop(&mut self) {
            let pid = self.pid();
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            for c in children.split_whitespace() {
                if let Ok(c) = c.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(c),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn host_link_exists(name: &str) -> bool {
        Command::new("ip")
            .args(["link", "show", "dev", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    #[test]
    fn attaching_to_an_unshared_process_configures_its_interface_and_detach_removes_it() {
        if !nix::unistd::geteuid().is_root() {
            assert!(
                std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
                "root is required"
            );
            eprintln!("skipped: needs root");
            return;
        }
        let Some(c) = Unshared::start() else {
            assert!(
                std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
                "unshare is required"
            );
            eprintln!("skipped: unshare is missing");
            return;
        };
        let spec = AttachSpec {
            pid: c.pid(),
            ifname: "eth1".into(),
            addr: Some(("198.18.7.2".parse().unwrap(), 24)),
            mac: Some([0x02, 0, 0, 0, 7, 2]),
            gateway: Some("198.18.7.1".parse().unwrap()),
            mtu: Some(1400),
        };
        let host = attach(&spec).expect("attach");
        assert!(host_link_exists(&host));
        let link = c.run_inside(&["ip", "-o", "link", "show", "dev", "eth1"]);
        assert!(link.contains("mtu 1400"), "{link}");
        assert!(link.contains("02:00:00:00:07:02"), "{link}");
        assert!(link.contains("UP"), "{link}");
        let addr = c.run_inside(&["ip", "-o", "addr", "show", "dev", "eth1"]);
        assert!(addr.contains("198.18.7.2/24"), "{addr}");
        let route = c.run_inside(&["ip", "route", "show", "default"]);
        assert!(route.contains("via 198.18.7.1 dev eth1"), "{route}");
        let lo = c.run_inside(&["ip", "-o", "link", "show", "dev", "lo"]);
        assert!(lo.contains("UP"), "{lo}");
        // A second attach with the same name inside fails and leaves nothing.
        let e = attach(&spec).unwrap_err().0;
        assert!(e.starts_with("ifname:"), "{e}");
        assert!(!host_link_exists(&host_ifname(c.pid(), 1)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let found = rt
            .block_on(find_host_peer_async(c.pid(), "eth1"))
            .expect("peer");
        assert_eq!(found, host);
        assert!(detach(&host).expect("detach"));
        assert!(!host_link_exists(&host));
        assert!(!detach(&host).expect("second detach"));
    }
}
