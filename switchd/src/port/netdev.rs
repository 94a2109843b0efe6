//! Facts about kernel network interfaces: index, hardware address, MTU,
//! carrier, speed; and promiscuous mode.
//!
//! Read from sysfs (`/sys/class/net/IF/...`) where the kernel publishes
//! them, which needs no socket and no `unsafe`, and is what link-state
//! polling reads every second. The one socket option (promiscuous
//! membership) lives here too, with its `unsafe` block.

use std::io;
use std::os::fd::RawFd;

fn sys(name: &str, attr: &str) -> io::Result<String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid interface name",
        ));
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/{attr}")).map(|s| s.trim().to_owned())
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no interface \"{name}\""))
}

/// The kernel index of interface `name`.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let s = sys(name, "ifindex").map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            not_found(name)
        } else {
            e
        }
    })?;
    s.parse::<i32>()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad ifindex"))
}

/// The hardware address of interface `name`.
pub fn hw_addr(name: &str) -> io::Result<[u8; 6]> {
    let s = sys(name, "address")?;
    parse_mac(&s).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad address"))
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Whether interface `name` has carrier (and is administratively up).
pub fn link_up(name: &str) -> bool {
    sys(name, "carrier").is_ok_and(|s| s == "1")
        && sys(name, "operstate").is_ok_and(|s| s != "down" && s != "lowerlayerdown")
}

/// The link speed of interface `name` in Mb/s, when the driver reports one.
pub fn speed_mbps(name: &str) -> Option<u64> {
    sys(name, "speed")
        .ok()?
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .and_then(|s| u64::try_from(s).ok())
}

/// Puts interface `ifindex` in promiscuous mode for as long as the packet
/// socket `fd` stays open (a membership, so the interface goes back to
/// what it was when the switch lets it go).
pub fn set_promiscuous(fd: Option<RawFd>, ifindex: i32) -> io::Result<()> {
    let Some(fd) = fd else { return Ok(()) };
    let mreq = libc::packet_mreq {
        mr_ifindex: ifindex,
        mr_type: u16::try_from(libc::PACKET_MR_PROMISC).unwrap_or(1),
        mr_alen: 0,
        mr_address: [0; 8],
    };
    // SAFETY: `fd` is an open packet socket owned by the caller; `mreq` is a
    // valid, initialised `packet_mreq` whose size is passed alongside.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            (&raw const mreq).cast(),
            socklen_of::<libc::packet_mreq>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `size_of::<T>()` as a `socklen_t`.
pub fn socklen_of<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_and_missing_interfaces_are_not() {
        assert!(ifindex("lo").unwrap() > 0);
        assert!(ifindex("no-such-if0").is_err());
        assert!(ifindex("../x").is_err());
        assert_eq!(hw_addr("lo").unwrap(), [0; 6]);
    }

    #[test]
    fn mac_addresses_parse() {
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00:0a:ff:00"), None);
        assert_eq!(parse_mac("02:00:0a:ff:00:01:02"), None);
        assert_eq!(parse_mac("zz:00:0a:ff:00:01"), None);
    }
}
