//! Tests of the tuple-space classifier against the linear reference: the
//! same answers, masks that really cover the answer, strict and loose
//! operations that agree with brute force, and the megaflow-width promises
//! of staged lookup and prefix tracking.

use std::collections::HashMap;

use proptest::prelude::*;

use super::linear::{loose_covers, matches_intersect, LinearClassifier};
use super::subtable::stages_partition_the_key;
use super::trie::field_prefix;
use super::*;
use crate::flow::FLOW_WORDS;

fn mask_of(fields: &[(Field, u128)]) -> FlowMask {
    let mut m = FlowMask::wildcard();
    for &(f, v) in fields {
        m.or_field(f, v);
    }
    m
}

fn p4(len: u8) -> u128 {
    field_prefix(Field::Ipv4Dst, len)
}

fn p6(len: u8) -> u128 {
    field_prefix(Field::Ipv6Dst, len)
}

const ALL: u128 = u128::MAX;

/// Realistic masks: ports, EtherType, VLAN, metadata, CIDR prefixes of both
/// address families (and one non-CIDR mask), L4 ports and flags.
fn mask_pool() -> Vec<FlowMask> {
    use Field::*;
    vec![
        mask_of(&[]),
        mask_of(&[(InPort, ALL)]),
        mask_of(&[(InPort, ALL), (Metadata, ALL)]),
        mask_of(&[(Metadata, 0xff00)]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, p4(8))]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, p4(16))]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, p4(24))]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, p4(32))]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, p4(1))]),
        mask_of(&[(EthType, ALL), (Ipv4Src, p4(16)), (Ipv4Dst, p4(24))]),
        mask_of(&[(EthType, ALL), (Ipv4Dst, 0xff00_ff00)]),
        mask_of(&[(EthType, ALL), (IpProto, ALL), (TcpDst, ALL)]),
        mask_of(&[
            (EthType, ALL),
            (IpProto, ALL),
            (Ipv4Src, p4(8)),
            (TcpSrc, ALL),
        ]),
        mask_of(&[
            (InPort, ALL),
            (EthType, ALL),
            (Ipv4Dst, p4(24)),
            (IpProto, ALL),
            (TcpDst, ALL),
        ]),
        mask_of(&[(EthType, ALL), (Ipv6Dst, p6(64))]),
        mask_of(&[(EthType, ALL), (Ipv6Src, p6(48)), (Ipv6Dst, p6(128))]),
        mask_of(&[(EthType, ALL), (Ipv6Dst, p6(1))]),
        mask_of(&[(EthDst, ALL), (VlanVid, ALL)]),
        mask_of(&[(EthSrc, 0x0100_0000_0000)]),
        mask_of(&[(VlanVid, 0x1000)]),
        mask_of(&[(EthType, ALL), (IpProto, ALL), (TcpFlags, 0x012)]),
        mask_of(&[(TunnelId, ALL), (EthType, ALL)]),
    ]
}

/// Coarser masks for loose queries.
fn query_mask_pool() -> Vec<FlowMask> {
    use Field::*;
    let mut v = mask_pool();
    v.push(mask_of(&[(EthType, ALL)]));
    v.push(mask_of(&[(EthType, ALL), (Ipv4Dst, p4(4))]));
    v.push(mask_of(&[(EthType, ALL), (IpProto, ALL)]));
    v
}

/// Small value pools per field so that keys collide often.
fn value_pools() -> Vec<(Field, Vec<u128>)> {
    use Field::*;
    let v6 = |s: u128| 0x2001_0db8_0000_0000_0000_0000_0000_0000 | s;
    vec![
        (InPort, vec![1, 2, 3]),
        (Metadata, vec![0, 1, 0x100, 0xff00]),
        (TunnelId, vec![0, 5]),
        (EthType, vec![0x0800, 0x0800, 0x86dd, 0x0806]),
        (EthDst, vec![1, 0x0100_0000_0001, 0x0200_0000_0002]),
        (EthSrc, vec![1, 0x0100_0000_0001, 0x0200_0000_0002]),
        (VlanVid, vec![0, 0x1000 | 10, 0x1000 | 20]),
        (IpProto, vec![6, 6, 17, 1]),
        (
            Ipv4Src,
            vec![0x0a00_0001, 0x0a01_0203, 0xc0a8_0101, 0x8a00_0001, 0],
        ),
        (
            Ipv4Dst,
            vec![
                0x0a00_0001,
                0x0a00_0101,
                0x0a01_0203,
                0x0a80_0000,
                0xc0a8_0101,
                0xc0a8_0102,
                0,
                0xffff_ffff,
                0x8a00_0001,
            ],
        ),
        (Ipv6Src, vec![v6(1), v6(2), v6(1 << 64), 0xfe80 << 112, 0]),
        (
            Ipv6Dst,
            vec![v6(1), v6(2), v6(1 << 64), v6(1 << 79), 0xfe80 << 112, ALL],
        ),
        (TcpSrc, vec![80, 443, 22, 0, 0x8000]),
        (TcpDst, vec![80, 443, 22, 0, 0x8000]),
        (TcpFlags, vec![0x002, 0x010, 0x012, 0]),
    ]
}

fn key_from(choice: &[u8]) -> FlowKey {
    let mut k = FlowKey::default();
    for ((f, pool), c) in value_pools().iter().zip(choice) {
        f.set(&mut k, pool[usize::from(*c) % pool.len()]);
    }
    k
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    proptest::collection::vec(any::<u8>(), value_pools().len()).prop_map(|c| key_from(&c))
}

fn arb_priority() -> impl Strategy<Value = u16> {
    prop_oneof![3 => 0u16..4, 1 => any::<u16>()]
}

/// (mask index, key, priority); the match is the key under the mask.
fn arb_rule() -> impl Strategy<Value = (usize, FlowKey, u16)> {
    (0..mask_pool().len(), arb_key(), arb_priority())
}

fn rule_match(mask: usize, key: &FlowKey) -> Match {
    Match::new(*key, mask_pool()[mask])
}

/// A packet: a rule's key with a few fields changed, or a fresh key.
fn arb_packet(n_rules: usize) -> impl Strategy<Value = (Option<usize>, FlowKey, Vec<(usize, u8)>)> {
    (
        proptest::option::weighted(0.8, 0..n_rules.max(1)),
        arb_key(),
        proptest::collection::vec((0..value_pools().len(), any::<u8>()), 0..3),
    )
}

fn make_packet(
    base: Option<usize>,
    fresh: FlowKey,
    muts: &[(usize, u8)],
    rules: &[(usize, FlowKey, u16)],
) -> FlowKey {
    let mut k = match base.and_then(|i| rules.get(i)) {
        Some((_, key, _)) => *key,
        None => fresh,
    };
    let pools = value_pools();
    for &(fi, c) in muts {
        let (f, pool) = &pools[fi];
        f.set(&mut k, pool[usize::from(c) % pool.len()]);
    }
    k
}

fn build(rules: &[(usize, FlowKey, u16)]) -> (Classifier<usize>, LinearClassifier<usize>) {
    let mut c = Classifier::new();
    let mut l = LinearClassifier::new();
    for (i, (mi, key, p)) in rules.iter().enumerate() {
        let m = rule_match(*mi, key);
        let a = c.insert(m, *p, i);
        let b = l.insert(m, *p, i);
        assert_eq!(a, b);
    }
    (c, l)
}

fn xor_outside(k: &FlowKey, flip: &[u64; FLOW_WORDS], wc: &FlowMask) -> FlowKey {
    let mut out = *k;
    for ((o, f), m) in out
        .as_words_mut()
        .iter_mut()
        .zip(flip)
        .zip(wc.key.as_words())
    {
        *o ^= f & !m;
    }
    out
}

/// `k` with the bits outside `wc` that `toward` examines set to its values:
/// the packet inside the megaflow closest to matching `toward`.
fn steer(k: &FlowKey, toward: &Match, wc: &FlowMask) -> FlowKey {
    let mut out = *k;
    let (tk, tm, w) = (
        toward.key.as_words(),
        toward.mask.key.as_words(),
        wc.key.as_words(),
    );
    for (i, o) in out.as_words_mut().iter_mut().enumerate() {
        let free = tm[i] & !w[i];
        *o = (*o & !free) | (tk[i] & free);
    }
    out
}

type Hit = Option<(Match, u16)>;

fn hit(r: Option<(MatchRef<'_>, u16, &usize)>) -> Hit {
    r.map(|(m, p, _)| (m.to_match(), p))
}

/// Checks the classifier's answer against the reference for one packet and
/// returns the answer and its mask.
fn check_lookup(
    c: &Classifier<usize>,
    l: &LinearClassifier<usize>,
    pkt: &FlowKey,
) -> Result<(Hit, FlowMask), TestCaseError> {
    let mut wc = FlowMask::wildcard();
    let got = c.lookup(pkt, &mut wc);
    let want = l.lookup(pkt, &mut FlowMask::wildcard());
    match (got, want) {
        (None, None) => {}
        (Some((gm, gp, gv)), Some((wm, wp, _))) => {
            prop_assert_eq!(gp, wp, "priority differs for {:?}", pkt);
            let gm = gm.to_match();
            prop_assert!(gm.matches(pkt));
            prop_assert_eq!(l.get(&gm, gp), Some(gv));
            let tied = l
                .iter()
                .filter(|(m, p, _)| *p == wp && m.matches(pkt))
                .count();
            if tied == 1 {
                prop_assert_eq!(&gm, wm);
            }
        }
        (g, w) => prop_assert!(
            false,
            "got {:?}, want {:?}",
            hit(g),
            w.map(|(m, p, _)| (*m, p))
        ),
    }
    Ok((hit(got), wc))
}

/// THE mask property: every packet equal to `pkt` on `wc` gets `expect`.
fn check_same(
    c: &Classifier<usize>,
    l: &LinearClassifier<usize>,
    pkt: &FlowKey,
    expect: &Hit,
    wc: &FlowMask,
    what: &str,
) -> Result<(), TestCaseError> {
    let again = hit(c.lookup(pkt, &mut FlowMask::wildcard()));
    prop_assert_eq!(
        &again,
        expect,
        "{}: answer changed inside the mask {:?}",
        what,
        wc
    );
    let reference = l.lookup(pkt, &mut FlowMask::wildcard()).map(|(_, p, _)| p);
    prop_assert_eq!(
        reference,
        expect.map(|(_, p)| p),
        "{}: reference disagrees",
        what
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn lookup_agrees_with_reference_and_its_mask_covers_the_answer(
        rules in proptest::collection::vec(arb_rule(), 0..40),
        packets in proptest::collection::vec(arb_packet(40), 1..12),
        flips in proptest::collection::vec(proptest::array::uniform19(any::<u64>()), 3),
        bits in proptest::collection::vec(0usize..FLOW_WORDS * 64, 4),
    ) {
        let (c, l) = build(&rules);
        prop_assert_eq!(c.len(), l.len());
        for (base, fresh, muts) in &packets {
            let pkt = make_packet(*base, *fresh, muts, &rules);
            let (got, wc) = check_lookup(&c, &l, &pkt)?;
            // Random flips of the bits outside the mask, many at once.
            for f in &flips {
                check_same(&c, &l, &xor_outside(&pkt, f, &wc), &got, &wc, "random flip")?;
                let sparse: [u64; FLOW_WORDS] =
                    core::array::from_fn(|i| f[i] & flips[0][i].rotate_left(7) & flips[1][i]);
                check_same(&c, &l, &xor_outside(&pkt, &sparse, &wc), &got, &wc, "sparse flip")?;
            }
            check_same(&c, &l, &xor_outside(&pkt, &[u64::MAX; FLOW_WORDS], &wc), &got, &wc, "flip all")?;
            // Single-bit flips.
            for &b in &bits {
                let mut one = [0u64; FLOW_WORDS];
                one[b / 64] = 1 << (b % 64);
                check_same(&c, &l, &xor_outside(&pkt, &one, &wc), &got, &wc, "one bit")?;
            }
            // The packet inside the megaflow that comes closest to each rule.
            for (m, _, _) in l.iter() {
                check_same(&c, &l, &steer(&pkt, m, &wc), &got, &wc, "steered")?;
            }
        }
    }

    #[test]
    fn big_prefix_tables_keep_lookups_and_masks_exact(
        routes in proptest::collection::vec(
            (0usize..6, 0u32..16, any::<u32>(), any::<u32>(), 0u16..40),
            64..160,
        ),
        packets in proptest::collection::vec(
            (any::<proptest::sample::Index>(), any::<u32>(), 0u32..33),
            1..10,
        ),
    ) {
        // Enough prefixes for the tries' shortcut tables, nested around a
        // few hot spots.
        let masks = [
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Dst, p4(8))]),
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Dst, p4(16))]),
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Dst, p4(24))]),
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Dst, p4(32))]),
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Src, p4(20)), (Field::Ipv4Dst, p4(12))]),
            mask_of(&[(Field::EthType, ALL), (Field::Ipv4Dst, p4(28)), (Field::TcpDst, ALL)]),
        ];
        let mut c = Classifier::new();
        let mut l = LinearClassifier::new();
        let mut keys = Vec::new();
        for (i, &(mi, hot, dst, src, prio)) in routes.iter().enumerate() {
            let spread = if src & 4 == 0 { 0x00ff_ffff } else { 0x0fff_ffff };
            let mut k = v4_packet((hot << 28) | (dst & spread));
            k.ipv4_src = (hot << 28) | (src & 0x00f0_0000);
            k.tp_dst = u16::try_from(src & 3).unwrap_or(0);
            let m = Match::new(k, masks[mi]);
            prop_assert_eq!(c.insert(m, prio, i), l.insert(m, prio, i));
            keys.push(k);
        }
        for (ix, noise, keep) in &packets {
            // A rule's key with its low bits partly replaced.
            let base = keys[ix.index(keys.len())];
            let mut pkt = base;
            let low = if *keep >= 32 { 0 } else { u32::MAX >> keep };
            pkt.ipv4_dst = (base.ipv4_dst & !low) | (noise & low);
            let (got, wc) = check_lookup(&c, &l, &pkt)?;
            for (m, _, _) in l.iter() {
                check_same(&c, &l, &steer(&pkt, m, &wc), &got, &wc, "steered")?;
            }
            check_same(&c, &l, &xor_outside(&pkt, &[u64::MAX; FLOW_WORDS], &wc), &got, &wc, "flip all")?;
        }
    }

    #[test]
    fn equal_priority_ties_resolve_the_same_whatever_the_insertion_order(
        rules in proptest::collection::vec(arb_rule(), 0..30),
        packets in proptest::collection::vec(arb_packet(30), 1..10),
    ) {
        let (c, _) = build(&rules);
        let mut rev = rules.clone();
        rev.reverse();
        let (d, _) = build(&rev);
        for (base, fresh, muts) in &packets {
            let pkt = make_packet(*base, *fresh, muts, &rules);
            let a = hit(c.lookup(&pkt, &mut FlowMask::wildcard()));
            let b = hit(d.lookup(&pkt, &mut FlowMask::wildcard()));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn insert_remove_and_replace_keep_len_and_strict_get_like_a_map(
        ops in proptest::collection::vec(
            (0u8..10, arb_rule(), any::<proptest::sample::Index>(), any::<u32>()),
            0..80,
        ),
        packets in proptest::collection::vec(arb_packet(1), 1..8),
    ) {
        let mut c: Classifier<u32> = Classifier::new();
        let mut model: HashMap<(Match, u16), u32> = HashMap::new();
        let mut live: Vec<(Match, u16)> = Vec::new();
        for (kind, (mi, key, p), ix, val) in &ops {
            match kind {
                // Remove an existing rule.
                0..=2 if !live.is_empty() => {
                    let (m, p) = live.swap_remove(ix.index(live.len()));
                    prop_assert_eq!(c.remove(&m, p), model.remove(&(m, p)));
                    prop_assert_eq!(c.remove(&m, p), None);
                }
                // Replace the value of an existing rule.
                3 if !live.is_empty() => {
                    let (m, p) = live[ix.index(live.len())];
                    prop_assert_eq!(c.insert(m, p, *val), model.insert((m, p), *val));
                }
                // Modify in place.
                4 if !live.is_empty() => {
                    let (m, p) = live[ix.index(live.len())];
                    *c.get_mut(&m, p).unwrap() = *val;
                    model.insert((m, p), *val);
                }
                // Remove something that may not exist.
                5 => {
                    let m = rule_match(*mi, key);
                    prop_assert_eq!(c.remove(&m, *p), model.remove(&(m, *p)));
                    live.retain(|e| *e != (m, *p));
                }
                _ => {
                    let m = rule_match(*mi, key);
                    let old = model.insert((m, *p), *val);
                    prop_assert_eq!(c.insert(m, *p, *val), old);
                    if old.is_none() {
                        live.push((m, *p));
                    }
                }
            }
            prop_assert_eq!(c.len(), model.len());
            prop_assert_eq!(c.is_empty(), model.is_empty());
        }
        for ((m, p), v) in &model {
            prop_assert_eq!(c.get(m, *p), Some(v));
            // Key bits outside the mask do not matter.
            let mut noisy = *m;
            noisy.key.as_words_mut()[3] |= !m.mask.key.as_words()[3];
            prop_assert_eq!(c.get(&noisy, *p), Some(v));
            prop_assert_eq!(c.get(m, p.wrapping_add(1)), model.get(&(*m, p.wrapping_add(1))));
        }
        let mut all: Vec<_> = c.iter().map(|(m, p, v)| (m.to_match(), p, *v)).collect();
        let mut want: Vec<_> = model.iter().map(|((m, p), v)| (*m, *p, *v)).collect();
        let order = |a: &(Match, u16, u32), b: &(Match, u16, u32)| {
            (a.0.key.as_words(), a.0.mask.key.as_words(), a.1)
                .cmp(&(b.0.key.as_words(), b.0.mask.key.as_words(), b.1))
        };
        all.sort_by(order);
        want.sort_by(order);
        prop_assert_eq!(all, want);
        // Lookups still agree with a reference holding what is left.
        let mut l = LinearClassifier::new();
        for (m, p) in model.keys() {
            l.insert(*m, *p, 0usize);
        }
        let mut cu: Classifier<usize> = Classifier::new();
        for (m, p) in model.keys() {
            cu.insert(*m, *p, 0usize);
        }
        let rules: Vec<(usize, FlowKey, u16)> = Vec::new();
        for (base, fresh, muts) in &packets {
            let pkt = make_packet(*base, *fresh, muts, &rules);
            let mut wc = FlowMask::wildcard();
            let got = c.lookup(&pkt, &mut wc).map(|(m, p, _)| (m.to_match(), p));
            let want = l.lookup(&pkt, &mut FlowMask::wildcard()).map(|(_, p, _)| p);
            prop_assert_eq!(got.map(|(_, p)| p), want);
            // No stale state: the same answer and mask as a fresh build.
            let mut fresh_wc = FlowMask::wildcard();
            let fresh_got = cu.lookup(&pkt, &mut fresh_wc).map(|(m, p, _)| (m.to_match(), p));
            prop_assert_eq!(got, fresh_got);
            prop_assert_eq!(wc, fresh_wc);
        }
        for (m, p) in model.keys() {
            prop_assert!(c.remove(m, *p).is_some());
        }
        prop_assert!(c.is_empty());
        prop_assert_eq!(c.n_subtables(), 0);
        prop_assert!(c.positions.is_empty());
        prop_assert!(c.tries.iter().all(|t| t.n_nodes() == 1));
    }

    #[test]
    fn lookups_stay_exact_after_removals_and_retain(
        rules in proptest::collection::vec(arb_rule(), 0..40),
        removals in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
        keep_mod in 1usize..4,
        packets in proptest::collection::vec(arb_packet(40), 1..10),
    ) {
        let (mut c, mut l) = build(&rules);
        for ix in &removals {
            if l.is_empty() {
                break;
            }
            let (m, p, _) = l.iter().nth(ix.index(l.len())).map(|(m, p, v)| (*m, p, *v)).unwrap();
            prop_assert_eq!(c.remove(&m, p), l.remove(&m, p));
        }
        c.retain(|_, _, v| *v % keep_mod == 0);
        l.retain(|_, _, v| *v % keep_mod == 0);
        prop_assert_eq!(c.len(), l.len());
        for (m, p, v) in l.iter() {
            prop_assert_eq!(c.get(m, p), Some(v));
        }
        let mut rebuilt = Classifier::new();
        for (m, p, v) in l.iter() {
            rebuilt.insert(*m, p, *v);
        }
        for (base, fresh, muts) in &packets {
            let pkt = make_packet(*base, *fresh, muts, &rules);
            let (got, wc) = check_lookup(&c, &l, &pkt)?;
            // No stale state: the same answer and mask as a fresh build.
            let mut fresh_wc = FlowMask::wildcard();
            prop_assert_eq!(&got, &hit(rebuilt.lookup(&pkt, &mut fresh_wc)));
            prop_assert_eq!(wc, fresh_wc);
            for (m, _, _) in l.iter() {
                check_same(&c, &l, &steer(&pkt, m, &wc), &got, &wc, "steered")?;
            }
            check_same(&c, &l, &xor_outside(&pkt, &[u64::MAX; FLOW_WORDS], &wc), &got, &wc, "flip all")?;
        }
    }

    #[test]
    fn iter_loose_and_overlaps_agree_with_brute_force(
        rules in proptest::collection::vec(arb_rule(), 0..40),
        queries in proptest::collection::vec(
            (0..query_mask_pool().len(), arb_key(), arb_priority(), any::<proptest::sample::Index>()),
            1..12,
        ),
    ) {
        let (c, l) = build(&rules);
        let qmasks = query_mask_pool();
        for (qi, key, prio, ix) in &queries {
            // Half the queries start from a rule's key so that they hit.
            let key = if rules.is_empty() || ix.index(2) == 0 { *key } else { rules[ix.index(rules.len())].1 };
            let q = Match::new(key, qmasks[*qi]);
            let mut got: Vec<_> = c.iter_loose(&q).map(|(m, p, v)| (m.to_match(), p, *v)).collect();
            let mut want: Vec<_> = l
                .iter()
                .filter(|(m, _, _)| loose_covers(&q, m))
                .map(|(m, p, v)| (*m, p, *v))
                .collect();
            got.sort_by_key(|e| e.2);
            want.sort_by_key(|e| e.2);
            prop_assert_eq!(got, want);
            // Overlap at a priority that exists when possible.
            let prio = if rules.is_empty() || ix.index(3) == 0 { *prio } else { rules[ix.index(rules.len())].2 };
            let brute = l.iter().any(|(m, p, _)| p == prio && matches_intersect(&q, m));
            prop_assert_eq!(c.overlaps(&q, prio), brute);
            prop_assert_eq!(l.overlaps(&q, prio), brute);
        }
    }
}

fn v4_route(dst: u32, len: u8) -> Match {
    let mut m = Match::catch_all();
    m.set(Field::EthType, 0x0800);
    m.set_masked(Field::Ipv4Dst, u128::from(dst), p4(len));
    m
}

fn v4_packet(dst: u32) -> FlowKey {
    let mut k = FlowKey {
        eth_type: 0x0800,
        nw_proto: 6,
        tp_src: 12345,
        tp_dst: 80,
        in_port: 7,
        ..FlowKey::default()
    };
    k.ipv4_dst = dst;
    k.ipv4_src = 0x0102_0304;
    k
}

#[test]
fn slash8_route_unwildcards_eight_bits_of_ipv4_dst_not_thirty_two() {
    let mut c = Classifier::new();
    c.insert(v4_route(0x0a00_0000, 8), 8, "ten");
    let mut wc = FlowMask::wildcard();
    let got = c.lookup(&v4_packet(0x0a01_0203), &mut wc);
    assert_eq!(got.map(|(_, _, v)| *v), Some("ten"));
    assert_eq!(wc.key.ipv4_dst, 0xff00_0000);
    assert_eq!(wc.key.eth_type, 0xffff);
    assert_eq!(wc.key.tp_dst, 0);
    assert_eq!(wc.key.ipv4_src, 0);
}

#[test]
fn longer_prefixes_that_miss_cost_only_the_bits_that_rule_them_out() {
    let mut c = Classifier::new();
    c.insert(v4_route(0x0a00_0000, 8), 8, "ten");
    c.insert(v4_route(0xc0a8_0100, 24), 24, "lan");
    c.insert(v4_route(0xc0a8_0105, 32), 32, "host");
    let mut wc = FlowMask::wildcard();
    let got = c.lookup(&v4_packet(0x0a01_0203), &mut wc);
    assert_eq!(got.map(|(_, _, v)| *v), Some("ten"));
    // 10.1.2.3 leaves the trie's 10/8 leaf at bit 8: the /24 and /32
    // subtables are ruled out by 9 bits, the /8 match itself needs 8.
    assert_eq!(wc.key.ipv4_dst, 0xff80_0000);
    // Inside that megaflow every packet still takes the /8 route.
    let mut other = v4_packet(0x0a7f_ffff);
    other.tp_dst = 443;
    assert_eq!(
        c.lookup(&other, &mut FlowMask::wildcard())
            .map(|(_, _, v)| *v),
        Some("ten")
    );
    // A packet matching nothing learns only the leading bits that differ.
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&v4_packet(0x8a00_0001), &mut wc).is_none());
    assert_eq!(wc.key.ipv4_dst.count_ones(), wc.key.ipv4_dst.leading_ones());
    assert!(
        wc.key.ipv4_dst.leading_ones() <= 2,
        "{:#x}",
        wc.key.ipv4_dst
    );
}

#[test]
fn higher_priority_hit_skips_lower_priority_subtables() {
    let mut c = Classifier::new();
    let mut by_port = Match::catch_all();
    by_port.set(Field::InPort, 7);
    c.insert(by_port, 100, "port");
    let mut web = Match::catch_all();
    web.set(Field::EthType, 0x0800);
    web.set(Field::IpProto, 6);
    web.set(Field::TcpDst, 80);
    c.insert(web, 10, "web");
    let mut wc = FlowMask::wildcard();
    let got = c.lookup(&v4_packet(1), &mut wc);
    assert_eq!(got.map(|(_, p, v)| (p, *v)), Some((100, "port")));
    assert_eq!(wc.key.in_port, u32::MAX);
    assert_eq!(wc.key.tp_dst, 0, "the lower subtable was consulted");
    assert_eq!(wc.key.eth_type, 0);
    // Another port: the web rule decides and its bits are examined.
    let mut pkt = v4_packet(1);
    pkt.in_port = 8;
    let mut wc = FlowMask::wildcard();
    assert_eq!(c.lookup(&pkt, &mut wc).map(|(_, _, v)| *v), Some("web"));
    assert_eq!(wc.key.tp_dst, 0xffff);
}

#[test]
fn early_stage_miss_unwildcards_only_that_stage() {
    let mut c = Classifier::new();
    let mut m = Match::catch_all();
    m.set(Field::EthType, 0x0800);
    m.set(Field::IpProto, 6);
    m.set(Field::TcpDst, 22);
    c.insert(m, 5, ());
    // An IPv6 packet: the L2 stage already rules the subtable out.
    let mut pkt = v4_packet(1);
    pkt.eth_type = 0x86dd;
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&pkt, &mut wc).is_none());
    assert_eq!(wc.key.eth_type, 0xffff);
    assert_eq!(wc.key.nw_proto, 0);
    assert_eq!(wc.key.tp_dst, 0);
    // UDP: the L3 stage rules it out, the ports stay wild.
    let mut pkt = v4_packet(1);
    pkt.nw_proto = 17;
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&pkt, &mut wc).is_none());
    assert_eq!(wc.key.nw_proto, 0xff);
    assert_eq!(wc.key.tp_dst, 0);
}

#[test]
fn prefix_miss_keeps_l4_ports_wild() {
    let mut c = Classifier::new();
    let mut m = v4_route(0xc0a8_0000, 16);
    m.set(Field::IpProto, 6);
    m.set(Field::TcpDst, 80);
    c.insert(m, 5, ());
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&v4_packet(0x0a00_0001), &mut wc).is_none());
    assert_eq!(wc.key.tp_dst, 0);
    assert_eq!(wc.key.ipv4_dst, 0x8000_0000);
}

#[test]
fn no_rules_means_no_bits_examined() {
    let c: Classifier<()> = Classifier::new();
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&v4_packet(1), &mut wc).is_none());
    assert!(wc.is_wildcard());
}

#[test]
fn catch_all_rule_matches_everything_with_an_empty_mask() {
    let mut c = Classifier::new();
    c.insert(Match::catch_all(), 0, "miss");
    let mut wc = FlowMask::wildcard();
    assert_eq!(
        c.lookup(&v4_packet(1), &mut wc).map(|(_, _, v)| *v),
        Some("miss")
    );
    assert!(wc.is_wildcard());
}

#[test]
fn same_match_at_two_priorities_are_two_rules() {
    let mut c = Classifier::new();
    let m = v4_route(0x0a00_0000, 8);
    assert_eq!(c.insert(m, 1, "low"), None);
    assert_eq!(c.insert(m, 9, "high"), None);
    assert_eq!(c.insert(m, 9, "higher"), Some("high"));
    assert_eq!(c.len(), 2);
    let got = c.lookup(&v4_packet(0x0a00_0001), &mut FlowMask::wildcard());
    assert_eq!(got.map(|(_, p, v)| (p, *v)), Some((9, "higher")));
    assert_eq!(c.remove(&m, 9), Some("higher"));
    let got = c.lookup(&v4_packet(0x0a00_0001), &mut FlowMask::wildcard());
    assert_eq!(got.map(|(_, p, v)| (p, *v)), Some((1, "low")));
    assert_eq!(c.n_subtables(), 1);
    assert_eq!(c.remove(&m, 1), Some("low"));
    assert_eq!(c.n_subtables(), 0);
    assert!(c.is_empty());
}

#[test]
fn prefix_tracking_can_be_turned_off() {
    let mut c = Classifier::with_prefix_fields(&[]);
    c.insert(v4_route(0xc0a8_0000, 16), 5, ());
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&v4_packet(0x0a00_0001), &mut wc).is_none());
    // Without the trie the whole /16 is examined.
    assert_eq!(wc.key.ipv4_dst, 0xffff_0000);
    assert_eq!(c.prefix_fields().count(), 0);
    assert_eq!(Classifier::<()>::new().prefix_fields().count(), 4);
}

#[test]
fn stage_masks_partition_the_key() {
    assert!(stages_partition_the_key());
}

#[test]
fn classifier_is_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Classifier<u64>>();
    both::<LinearClassifier<u64>>();
}

#[test]
fn a_trie_already_walked_rules_a_subtable_out_before_another_is_walked() {
    let mut c = Classifier::new();
    // Higher priority, looked at first: walks the destination trie.
    c.insert(v4_route(0xc0a8_0200, 24), 20, "lan");
    // Source /16 and destination /32: the source check comes first in trie
    // order, but the destination answer is already known and rules out.
    let mut m = v4_route(0xc0a8_0105, 32);
    m.set_masked(Field::Ipv4Src, 0x0102_0000, p4(16));
    c.insert(m, 10, "pinned");
    let mut pkt = v4_packet(0x0a00_0001);
    pkt.ipv4_src = 0x0a00_0001;
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&pkt, &mut wc).is_none());
    assert_eq!(wc.key.ipv4_src, 0, "the source trie was consulted");
    assert_eq!(wc.key.ipv4_dst.count_ones(), wc.key.ipv4_dst.leading_ones());
    assert!(
        wc.key.ipv4_dst.leading_ones() <= 2,
        "{:#x}",
        wc.key.ipv4_dst
    );
    // A packet the destination cannot rule out still gets a source proof.
    let mut pkt = v4_packet(0xc0a8_0105);
    pkt.ipv4_src = 0x0a00_0001;
    let mut wc = FlowMask::wildcard();
    assert!(c.lookup(&pkt, &mut wc).is_none());
    assert_ne!(wc.key.ipv4_src, 0);
    assert!(wc.key.ipv4_src.leading_ones() <= 16);
}
