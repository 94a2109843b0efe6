//! Value notations of the flow syntax: integers (decimal or `0x` hex),
//! Ethernet and IP addresses, their masks (`/prefix`, `/hexmask`, a mask in
//! the value's own notation), and port names.
//!
//! Every parser takes the text of one value and returns the number in the
//! field's host-order `u128` form (MAC and IPv6 addresses as big-endian
//! integers, as `datapath::flow::Field` stores them), or a sentence saying
//! what was expected; the caller adds which field and flow it was for.

use std::net::{Ipv4Addr, Ipv6Addr};

use controller_proto::port::{
    OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX,
    OFPP_NORMAL, OFPP_TABLE,
};

/// The reserved port names, with their OpenFlow 1.3 numbers, in the
/// spelling `ovs-ofctl` prints.
pub const RESERVED_PORTS: &[(&str, u32)] = &[
    ("IN_PORT", OFPP_IN_PORT),
    ("TABLE", OFPP_TABLE),
    ("NORMAL", OFPP_NORMAL),
    ("FLOOD", OFPP_FLOOD),
    ("ALL", OFPP_ALL),
    ("CONTROLLER", OFPP_CONTROLLER),
    ("LOCAL", OFPP_LOCAL),
    ("ANY", OFPP_ANY),
];

/// Parses an unsigned integer: decimal, or hexadecimal after `0x`.
///
/// # Errors
/// A sentence naming what was wrong, for text that is not such a number or
/// does not fit in `bits` bits.
pub fn parse_uint(s: &str, bits: u32) -> Result<u128, String> {
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("\"{s}\" is not a hexadecimal number"));
        }
        let digits = hex.trim_start_matches('0');
        if digits.len() > 32 {
            return Err(format!("{s} does not fit in {bits} bits"));
        }
        u128::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
            .map_err(|_| format!("\"{s}\" is not a hexadecimal number"))?
    } else {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("\"{s}\" is not a number"));
        }
        s.parse::<u128>()
            .map_err(|_| format!("{s} does not fit in {bits} bits"))?
    };
    if bits < 128 && v >> bits != 0 {
        return Err(format!("{s} does not fit in {bits} bits"));
    }
    Ok(v)
}

/// Parses an unsigned integer into a `u64` of at most `bits` bits.
///
/// # Errors
/// As [`parse_uint`].
pub fn parse_u64(s: &str, bits: u32) -> Result<u64, String> {
    parse_uint(s, bits.min(64)).map(|v| u64::try_from(v).unwrap_or(u64::MAX))
}

/// Parses `aa:bb:cc:dd:ee:ff` (one or two hex digits per byte).
///
/// # Errors
/// When the text is not six colon-separated hex bytes.
pub fn parse_mac(s: &str) -> Result<u128, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(format!(
            "\"{s}\" is not an Ethernet address (expected xx:xx:xx:xx:xx:xx)"
        ));
    }
    Ok(parts.iter().fold(0u128, |acc, p| {
        (acc << 8) | u128::from(u8::from_str_radix(p, 16).unwrap_or(0))
    }))
}

/// Parses a dotted-quad IPv4 address.
///
/// # Errors
/// When the text is not one.
pub fn parse_ipv4(s: &str) -> Result<u128, String> {
    s.parse::<Ipv4Addr>()
        .map(|a| u128::from(u32::from(a)))
        .map_err(|_| format!("\"{s}\" is not an IPv4 address"))
}

/// Parses an IPv6 address.
///
/// # Errors
/// When the text is not one.
pub fn parse_ipv6(s: &str) -> Result<u128, String> {
    s.parse::<Ipv6Addr>()
        .map(u128::from)
        .map_err(|_| format!("\"{s}\" is not an IPv6 address"))
}

/// The mask of the `n` high bits of a `bits`-wide value.
pub fn prefix_mask(n: u32, bits: u32) -> u128 {
    let all = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if n == 0 {
        0
    } else if n >= bits {
        all
    } else {
        all & !(all >> n)
    }
}

thread_local! {
    static PORT_NAMES: std::cell::RefCell<Vec<(u32, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Installs the switch's port names for this thread (`--names`): from then
/// on [`port_name`] prints them and [`parse_port`] accepts them. An empty
/// list turns names off.
pub fn set_port_names(names: Vec<(u32, String)>) {
    PORT_NAMES.with(|p| *p.borrow_mut() = names);
}

fn name_is_plain(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        && !n.bytes().all(|c| c.is_ascii_digit())
        && !RESERVED_PORTS
            .iter()
            .any(|(r, _)| r.eq_ignore_ascii_case(n))
}

/// Parses a port: a number, or a reserved name such as `LOCAL` (any case),
/// or a port name installed with [`set_port_names`].
///
/// # Errors
/// When the text is neither; numbers above `OFPP_MAX` other than the
/// reserved ones are refused.
pub fn parse_port(s: &str) -> Result<u32, String> {
    if let Some(n) = PORT_NAMES.with(|p| p.borrow().iter().find(|(_, n)| n == s).map(|(n, _)| *n)) {
        return Ok(n);
    }
    if let Some(&(_, n)) = RESERVED_PORTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
    {
        return Ok(n);
    }
    if s.eq_ignore_ascii_case("NONE") {
        return Ok(OFPP_ANY);
    }
    match parse_uint(s, 32) {
        Ok(v) => {
            let n = u32::try_from(v).unwrap_or(u32::MAX);
            if n < OFPP_MAX || RESERVED_PORTS.iter().any(|&(_, r)| r == n) {
                Ok(n)
            } else {
                Err(format!("port {s} is outside the valid range"))
            }
        }
        Err(_) => Err(format!(
            "\"{s}\" is not a port (expected a number or one of IN_PORT, TABLE, NORMAL, FLOOD, ALL, CONTROLLER, LOCAL, ANY)"
        )),
    }
}

/// The name `ovs-ofctl` prints for a port number: a reserved name, the
/// port's own name when names are installed ([`set_port_names`]), or the
/// number.
pub fn port_name(port: u32) -> String {
    if let Some((name, _)) = RESERVED_PORTS.iter().find(|&&(_, n)| n == port) {
        return (*name).to_string();
    }
    let named = PORT_NAMES.with(|p| {
        p.borrow()
            .iter()
            .find(|(n, _)| *n == port)
            .map(|(_, name)| name.clone())
    });
    match named {
        Some(n) if name_is_plain(&n) => n,
        Some(n) => format!("\"{n}\""),
        None => port.to_string(),
    }
}

/// Formats a 48-bit value as `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(v: u128) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// Formats a 32-bit value as a dotted quad.
pub fn fmt_ipv4(v: u128) -> String {
    Ipv4Addr::from(u32::try_from(v & 0xffff_ffff).unwrap_or(0)).to_string()
}

/// Formats a 128-bit value as an IPv6 address.
pub fn fmt_ipv6(v: u128) -> String {
    Ipv6Addr::from(v).to_string()
}

/// The prefix length of a CIDR mask of `bits` bits, if it is one.
pub fn cidr_len(mask: u128, bits: u32) -> Option<u32> {
    let ones = mask.count_ones();
    (prefix_mask(ones, bits) == mask).then_some(ones)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_decimal_and_hex_and_refuse_overflow() {
        assert_eq!(parse_uint("80", 16), Ok(80));
        assert_eq!(parse_uint("0x50", 16), Ok(80));
        assert_eq!(
            parse_uint("0x0000000000000000000000000000000000050", 16),
            Ok(80)
        );
        assert!(parse_uint("65536", 16).is_err());
        assert!(parse_uint("0x", 16).is_err());
        assert!(parse_uint("-1", 16).is_err());
        assert!(parse_uint("", 16).is_err());
        assert_eq!(parse_uint(&u128::MAX.to_string(), 128), Ok(u128::MAX));
        assert!(parse_uint("340282366920938463463374607431768211456", 128).is_err());
    }

    #[test]
    fn addresses_parse_and_format_back() {
        assert_eq!(
            fmt_mac(parse_mac("0:1:22:33:44:ff").unwrap()),
            "00:01:22:33:44:ff"
        );
        assert!(parse_mac("00:11:22:33:44").is_err());
        assert_eq!(fmt_ipv4(parse_ipv4("198.18.0.1").unwrap()), "198.18.0.1");
        assert_eq!(fmt_ipv6(parse_ipv6("2001:db8::1").unwrap()), "2001:db8::1");
        assert!(parse_ipv4("1.2.3").is_err());
    }

    #[test]
    fn prefixes_and_cidr_lengths_agree() {
        assert_eq!(prefix_mask(24, 32), 0xffff_ff00);
        assert_eq!(prefix_mask(0, 32), 0);
        assert_eq!(prefix_mask(128, 128), u128::MAX);
        assert_eq!(cidr_len(0xffff_ff00, 32), Some(24));
        assert_eq!(cidr_len(0xff00_ff00, 32), None);
    }

    #[test]
    fn ports_accept_reserved_names_in_any_case() {
        assert_eq!(parse_port("local"), Ok(OFPP_LOCAL));
        assert_eq!(parse_port("7"), Ok(7));
        assert_eq!(parse_port("0xfffffffd"), Ok(OFPP_CONTROLLER));
        assert!(parse_port("0xffffff01").is_err());
        assert!(parse_port("eth0").is_err());
        assert_eq!(port_name(OFPP_IN_PORT), "IN_PORT");
        assert_eq!(port_name(3), "3");
    }
}
