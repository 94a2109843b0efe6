//! The Internet checksum (RFC 1071): full computation over a buffer, the
//! IPv4/IPv6 pseudo-headers of TCP/UDP/ICMPv6, and the incremental update
//! of RFC 1624 that execution uses when a set-field action rewrites an
//! address, port, TTL or TOS without touching the rest of the packet.
//!
//! Sums are kept as folded 16-bit one's-complement values (`u16`, *not*
//! inverted); the checksum field holds the inverted sum. All data is summed
//! as big-endian 16-bit words starting at an even offset; an odd trailing
//! byte counts as the high byte of a last word.

/// Folds a wide accumulator of 16-bit words into a one's-complement `u16`.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 significant bits.
    u16::try_from(acc).unwrap_or(0xffff)
}

/// The one's-complement sum of `data` (not inverted).
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        // 2^16 ≡ 1 (mod 0xffff): a 32-bit big-endian word adds up like its two halves.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold(acc)
}

/// One's-complement addition of two sums.
#[inline]
pub fn combine(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// The checksum field value for `data` whose checksum field is zero:
/// the inverted sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// The checksum field value for `data` plus an already computed partial
/// sum (e.g. a pseudo-header).
#[inline]
pub fn checksum_with(partial: u16, data: &[u8]) -> u16 {
    !combine(partial, sum(data))
}

/// Whether `data`, checksum field included, sums to all ones (verifies).
#[inline]
pub fn verify(partial: u16, data: &[u8]) -> bool {
    combine(partial, sum(data)) == 0xffff
}

/// The sum of the IPv4 pseudo-header of a TCP/UDP segment of `len` bytes.
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], proto: u8, len: u16) -> u16 {
    let acc = u64::from(u32::from_be_bytes(src))
        + u64::from(u32::from_be_bytes(dst))
        + u64::from(proto)
        + u64::from(len);
    fold(acc)
}

/// The sum of the IPv6 pseudo-header of an upper-layer packet of `len` bytes.
#[inline]
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], proto: u8, len: u32) -> u16 {
    let acc = u64::from(sum(&src))
        + u64::from(sum(&dst))
        + u64::from(proto)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff);
    fold(acc)
}

/// The new checksum field after a 16-bit word of the covered data changed
/// from `old` to `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// `old`/`new` must be a word at an even offset of the covered data (for a
/// byte at an odd offset, pass the word that contains it).
#[inline]
pub fn update_u16(check: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!check) + u64::from(!old) + u64::from(new))
}

/// The new checksum field after a 32-bit value at an even offset changed.
#[inline]
pub fn update_u32(check: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!check)
        + u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold(acc)
}

/// The new checksum field after the bytes `old` at an even offset became
/// `new` (e.g. a 16-byte IPv6 address). Slices of different lengths count
/// as zero-extended to the longer one.
#[inline]
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    !fold(u64::from(!check) + u64::from(!sum(old)) + u64::from(sum(new)))
}

/// A UDP checksum of zero means "no checksum" over IPv4, so a computed
/// zero is sent as all ones (RFC 768). Apply to full and incremental results.
#[inline]
pub fn udp_nonzero(check: u16) -> u16 {
    if check == 0 {
        0xffff
    } else {
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 1071 section 3 example bytes.
    const RFC1071: [u8; 8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    #[test]
    fn sums_the_rfc1071_example() {
        assert_eq!(sum(&RFC1071), 0xddf2);
        assert_eq!(checksum(&RFC1071), !0xddf2);
    }

    #[test]
    fn sums_an_odd_trailing_byte_as_a_high_byte() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn verifies_a_real_ipv4_header() {
        // 20-byte header from RFC 1071-style examples with checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(verify(0, &h));
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(checksum(&z), 0xb861);
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut data: Vec<u8> = (0u8..40).map(|i| i.wrapping_mul(37)).collect();
        let c0 = checksum(&data);
        let old16 = u16::from_be_bytes([data[6], data[7]]);
        data[6] = 0xbe;
        data[7] = 0xef;
        let c1 = update_u16(c0, old16, 0xbeef);
        assert_eq!(c1, checksum(&data));
        let old32 = u32::from_be_bytes([data[12], data[13], data[14], data[15]]);
        data[12..16].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        let c2 = update_u32(c1, old32, 0xdead_beef);
        assert_eq!(c2, checksum(&data));
        let old: Vec<u8> = data[20..36].to_vec();
        let new = [0xffu8; 16];
        data[20..36].copy_from_slice(&new);
        assert_eq!(update_bytes(c2, &old, &new), checksum(&data));
    }

    #[test]
    fn pseudo_headers_sum_like_their_bytes() {
        let (s, d) = ([10, 0, 0, 1], [192, 168, 1, 200]);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&s);
        bytes.extend_from_slice(&d);
        bytes.extend_from_slice(&[0, 17, 0x01, 0x02]);
        assert_eq!(pseudo_header_v4(s, d, 17, 0x0102), sum(&bytes));

        let (s6, d6) = ([0x20u8; 16], [0xfeu8; 16]);
        let mut b6 = Vec::new();
        b6.extend_from_slice(&s6);
        b6.extend_from_slice(&d6);
        b6.extend_from_slice(&0x0001_0203u32.to_be_bytes());
        b6.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(pseudo_header_v6(s6, d6, 58, 0x0001_0203), sum(&b6));
    }

    #[test]
    fn udp_zero_checksum_is_sent_as_all_ones() {
        assert_eq!(udp_nonzero(0), 0xffff);
        assert_eq!(udp_nonzero(0x1234), 0x1234);
    }
}
