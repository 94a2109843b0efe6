//! The prefix trie of one field: which prefix lengths the rules use on that
//! field, and where, so that a lookup can prove "no rule of prefix length L
//! can match this packet" from the first few bits of the packet's field
//! instead of all of them.
//!
//! Values are handled left-aligned in a `u128` (the field's most significant
//! bit is bit 127), whatever the field's width, so that one trie serves IPv4
//! and IPv6 alike.
//!
//! Shape: a path-compressed binary trie kept in an arena (`Vec<Node>` with
//! `u32` links, freed slots recycled). Every node stands for the prefix
//! `bits[0..end]`; a child hangs under the bit at position `end` of its own
//! prefix, and its prefix extends its parent's.
//!
//! Invariants:
//! - node 0 is the root, the empty prefix; it never counts rules;
//! - every other node counts at least one rule or has two children (a node
//!   with no rules and one child is merged into that child, one with no rules
//!   and no child is removed);
//! - `n_rules` of a node is the number of rules whose prefix on the field is
//!   exactly the node's prefix.
//!
//! A lookup walks the packet's value down the trie and returns the set of
//! prefix lengths present on that path together with the number of leading
//! bits it had to read. Any value equal to the packet's on those leading
//! bits takes the same walk and gets the same set, which is what makes it
//! safe to report only those bits in the megaflow mask.
//!
//! **Shortcut.** A walk is a chain of dependent memory reads, about log2(n)
//! long, which would make lookups in big tables slower than in small ones.
//! Once a trie holds enough prefixes it also keeps a table indexed by the
//! first `k` bits (`k` is log2 of the number of prefixes plus two, at most
//! 17: 1 MiB of 8-byte entries) giving where the walk stands after them:
//! already finished, or the one or two rule prefixes under those first bits
//! inlined in the entry, or (when there are more) the node to continue
//! from. A packet built from a rule's key lands on an entry holding its own
//! prefix, and often a neighbour's; inlining two answers those with one
//! read where a node chain would cost several cache misses each, which was
//! measured to be what makes big tables slow, more than the table's size.
//! Every change to the trie refreshes the entries of the walks it can
//! affect (those sharing the first bits of the changed prefix up to the
//! changed node's parent); the table is rebuilt from scratch when the
//! number of prefixes has grown or shrunk enough to want another `k`.
//! Invariant: a lookup through the table answers exactly as the walk from
//! the root (tested).

use crate::flow::{Field, FlowKey, FlowMask};

const NIL: u32 = u32::MAX;

/// A change depth deeper than any shortcut: only one entry to refresh.
const NO_WALK: u8 = u8::MAX;

#[derive(Clone, Debug)]
struct Node {
    /// The prefix, left-aligned, zero past `end`.
    bits: u128,
    /// The prefix length.
    end: u8,
    /// Rules whose prefix is exactly this one.
    n_rules: u32,
    /// Children under bit `end` = 0 and 1.
    child: [u32; 2],
}

impl Node {
    fn new(bits: u128, end: u8, n_rules: u32) -> Node {
        Node {
            bits: bits & prefix_mask(end),
            end,
            n_rules,
            child: [NIL; 2],
        }
    }
}

/// What a lookup of one value learnt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TrieMatch {
    /// Bit `L - 1` is set when a rule prefix of length `L` matches the value.
    pub plens: u128,
    /// The number of leading bits of the value the walk read.
    pub maskbits: u8,
}

impl TrieMatch {
    /// Whether some rule prefix of length `plen` (1..=128) matches.
    pub fn has_plen(&self, plen: u8) -> bool {
        plen > 0 && (self.plens >> (plen - 1)) & 1 == 1
    }
}

/// Direct access to the common prefix fields, so that the lookup path does
/// not go through the general [`Field::get`] and [`FlowMask::or_field`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    Other,
}

impl Access {
    fn of(field: Field) -> Access {
        match field {
            Field::Ipv4Src | Field::ArpSpa => Access::Ipv4Src,
            Field::Ipv4Dst | Field::ArpTpa => Access::Ipv4Dst,
            Field::Ipv6Src => Access::Ipv6Src,
            Field::Ipv6Dst => Access::Ipv6Dst,
            _ => Access::Other,
        }
    }

    /// The field's value, as [`Field::get`].
    #[inline]
    fn get(self, field: Field, key: &FlowKey) -> u128 {
        match self {
            Access::Ipv4Src => u128::from(key.ipv4_src),
            Access::Ipv4Dst => u128::from(key.ipv4_dst),
            Access::Ipv6Src => u128::from_be_bytes(key.ipv6_src),
            Access::Ipv6Dst => u128::from_be_bytes(key.ipv6_dst),
            Access::Other => field.get(key),
        }
    }

    /// ORs `mask` (in the field's width) into the field in `wc`, as
    /// [`FlowMask::or_field`].
    #[inline]
    fn or_mask(self, field: Field, wc: &mut FlowMask, mask: u128) {
        let k = &mut wc.key;
        let m32 = u32::try_from(mask & u128::from(u32::MAX)).unwrap_or(u32::MAX);
        match self {
            Access::Ipv4Src => k.ipv4_src |= m32,
            Access::Ipv4Dst => k.ipv4_dst |= m32,
            Access::Ipv6Src => k.ipv6_src = (u128::from_be_bytes(k.ipv6_src) | mask).to_be_bytes(),
            Access::Ipv6Dst => k.ipv6_dst = (u128::from_be_bytes(k.ipv6_dst) | mask).to_be_bytes(),
            Access::Other => wc.or_field(field, mask),
        }
    }
}

/// One trie's part of one lookup: the key's value, its shortcut entry
/// loaded when the lookup starts (so that its cache miss overlaps the first
/// subtables' work, and the misses of different tries overlap each other),
/// and the walk's answer once some subtable asked (each trie is walked at
/// most once per lookup).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrieCtx {
    value: u128,
    /// The shortcut entry, `NO_ENTRY` without a shortcut.
    first: u64,
    answer: TrieMatch,
    walked: bool,
}

impl Default for TrieCtx {
    fn default() -> Self {
        TrieCtx {
            value: 0,
            first: NO_ENTRY,
            answer: TrieMatch::default(),
            walked: false,
        }
    }
}

/// The entry that sends the walk to the root (no shortcut).
const NO_ENTRY: u64 = TAG_WALK << TAG_SHIFT;

impl TrieCtx {
    /// Starts `trie`'s part of the lookup of `key`: loads the key's
    /// shortcut entry, which nothing waits for until a subtable asks.
    #[inline]
    pub fn start(trie: &PrefixTrie, key: &FlowKey) -> TrieCtx {
        let value = trie.key_value(key);
        TrieCtx {
            value,
            first: trie.first_step(value),
            answer: TrieMatch::default(),
            walked: false,
        }
    }

    /// Whether this lookup has walked the trie already.
    #[inline]
    pub fn walked(&self) -> bool {
        self.walked
    }

    /// The walk's answer, finishing the walk on first use.
    #[inline]
    pub fn answer(&mut self, trie: &PrefixTrie) -> TrieMatch {
        if !self.walked {
            self.answer = trie.lookup_from(self.value, self.first);
            self.walked = true;
        }
        self.answer
    }
}

/// The all-ones mask of the first `len` bits of a left-aligned value.
#[inline]
pub(crate) fn prefix_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// The `n` bits of a left-aligned value after its first `k`, as the low
/// bits of a `u64` (`n` from 1 to 63).
#[inline]
fn bits_after(v: u128, k: u8, n: u8) -> u64 {
    let shifted = (v << u32::from(k.min(127))) >> (128 - u32::from(n.clamp(1, 63)));
    u64::try_from(shifted).unwrap_or(0)
}

/// The bit at position `pos` (0 = most significant) of a left-aligned value.
#[inline]
fn bit_at(v: u128, pos: u8) -> usize {
    usize::from((v >> (127 - u32::from(pos.min(127)))) & 1 == 1)
}

/// The first-`k`-bits shortcut of a big trie: for every value of a key's
/// first `k` bits, where the walk stands after reading them.
///
/// What a walk answers depends only on the set of rule prefixes: a
/// prefix length is reported when that prefix matches, and the walk reads
/// one bit past the longest run of leading bits the value shares with any
/// prefix (a shared run counting no further than that prefix's length),
/// all of them when that reaches the width. Once the first `k` bits are
/// fixed, the prefixes that matter are the shorter ones that match (their
/// lengths) and the ones of at least `k` bits under the same first `k`
/// bits. When there are at most two of the latter, the entry holds them
/// and the lookup computes the answer from the entry alone; packets built
/// from a rule's key land on such entries, so this covers them with one
/// read even when a neighbour shares the entry.
///
/// Entry encoding (`u64`): the tag in bits 61..64, the lengths (below `k`)
/// of the matching shorter prefixes in bits 45..61 (bit `L - 1` for length
/// `L`), and by tag:
/// - `TAG_DONE`: no prefix of `k` bits or more under these first bits;
///   bits 0..8 hold the bits the walk read;
/// - `TAG_ONE`: one: its bits after the first `k` in bits 0..39, its
///   length minus `k` in bits 39..45;
/// - `TAG_TWO`: two, each as its bits after the first `k` (`PAIR_BITS`
///   bits) and its length minus `k` (5 bits), at bits 0 and 22;
/// - `TAG_ONE_BARE`: one, and no shorter prefix matches: its bits after
///   the first `k` in bits 0..54, its length minus `k` in bits 54..61 (an
///   IPv6 /64 fits whole);
/// - `TAG_RESUME`: more: the walk goes on along the edge into the node in
///   bits 0..32;
/// - `TAG_WALK`: walk from the root.
#[derive(Clone, Debug)]
struct Jump {
    /// `k`: how many leading bits index `entries` (below the field width).
    bits: u8,
    entries: Vec<u64>,
}

/// Where a walk stands after the first `k` bits, before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The walk ended within the first `k` bits.
    Done { plens: u64, maskbits: u8 },
    /// Under the first `k` bits: the prefixes (value, length) of `k` bits
    /// or more, when there are at most two.
    Few {
        plens: u64,
        n: usize,
        prefixes: [(u128, u8); 2],
        node: u32,
    },
    /// More prefixes under the first `k` bits: go on at this node.
    Resume { plens: u64, node: u32 },
    /// Walk from the root (a broken link, which the arena's invariants
    /// rule out).
    Walk,
}

const TAG_SHIFT: u32 = 61;
const TAG_DONE: u64 = 0;
const TAG_ONE: u64 = 1;
const TAG_TWO: u64 = 2;
const TAG_RESUME: u64 = 3;
const TAG_WALK: u64 = 4;
const TAG_ONE_BARE: u64 = 5;
/// Where the lengths of the matching shorter prefixes sit.
const PLENS_SHIFT: u32 = TAG_SHIFT - PLENS_BITS as u32;
/// The lengths below `k` an entry records.
const PLENS_BITS: u8 = JUMP_MAX_BITS - 1;
/// How many bits past `k` a `TAG_ONE` prefix may hold.
const ONE_BITS: u8 = 61 - PLENS_BITS - 6;
/// How many bits past `k` a `TAG_ONE_BARE` prefix may hold.
const BARE_BITS: u8 = 54;
/// How many bits past `k` each `TAG_TWO` prefix may hold.
const PAIR_BITS: u8 = (61 - PLENS_BITS) / 2 - 5;
/// Where the second prefix of a `TAG_TWO` entry sits.
const PAIR_SHIFT: u32 = PAIR_BITS as u32 + 5;

/// Tries with fewer prefixes than this are walked from the root.
const JUMP_MIN_PREFIXES: u32 = 64;
/// The largest `k`: 2^17 entries of 8 bytes, 1 MiB.
const JUMP_MAX_BITS: u8 = 17;
/// `k` is log2 of the number of prefixes plus this.
const JUMP_EXTRA_BITS: u8 = 2;
const _: () = assert!(JUMP_MAX_BITS <= 24 && PAIR_SHIFT == PAIR_BITS as u32 + 5);
const _: () = assert!(ONE_BITS as u32 + 6 == PLENS_SHIFT && 2 * PAIR_SHIFT <= PLENS_SHIFT);
const _: () = assert!(BARE_BITS as u32 + 7 == TAG_SHIFT && TAG_SHIFT == 61);

impl Jump {
    /// The entry for `step`.
    fn encode(k: u8, step: Step) -> u64 {
        let (plens, body) = match step {
            Step::Done { plens, maskbits } => (plens, TAG_DONE << TAG_SHIFT | u64::from(maskbits)),
            Step::Few {
                plens: 0,
                n: 1,
                prefixes: [(bits, len), _],
                ..
            } if len - k <= BARE_BITS => {
                return TAG_ONE_BARE << TAG_SHIFT
                    | u64::from(len - k) << BARE_BITS
                    | bits_after(bits, k, BARE_BITS);
            }
            Step::Few {
                plens,
                n: 1,
                prefixes: [(bits, len), _],
                ..
            } if len - k <= ONE_BITS => (
                plens,
                TAG_ONE << TAG_SHIFT
                    | u64::from(len - k) << ONE_BITS
                    | bits_after(bits, k, ONE_BITS),
            ),
            Step::Few {
                plens,
                n: 2,
                prefixes: [(b0, l0), (b1, l1)],
                ..
            } if l0 - k <= PAIR_BITS && l1 - k <= PAIR_BITS => {
                let one = |bits: u128, len: u8| {
                    u64::from(len - k) << PAIR_BITS | bits_after(bits, k, PAIR_BITS)
                };
                (
                    plens,
                    TAG_TWO << TAG_SHIFT | one(b1, l1) << PAIR_SHIFT | one(b0, l0),
                )
            }
            // Prefixes too long to inline: the node.
            Step::Resume { plens, node } | Step::Few { plens, node, .. } => {
                (plens, TAG_RESUME << TAG_SHIFT | u64::from(node))
            }
            Step::Walk => return NO_ENTRY,
        };
        body | plens << PLENS_SHIFT
    }
}

/// One prefix of `TAG_ONE` or `TAG_TWO` entry against the bits of a value
/// after the first `k` (`n` of them, in `v`): whether it matches, and the
/// leading bits (from the start) the value shares with it, no more than its
/// length.
#[inline]
fn against(v: u64, bits: u64, rem: u8, k: u8, n: u8) -> (bool, u8) {
    let all = (1u64 << n) - 1;
    let mask = all & !(all >> rem.min(n));
    let diff = (v ^ bits) & mask;
    if diff == 0 {
        (true, k + rem)
    } else {
        let within = u8::try_from(diff.leading_zeros() - (64 - u32::from(n))).unwrap_or(0);
        (false, k + within)
    }
}

/// The trie of the prefixes the rules use on one field.
#[derive(Clone, Debug)]
pub(crate) struct PrefixTrie {
    field: Field,
    access: Access,
    width: u8,
    nodes: Vec<Node>,
    free: Vec<u32>,
    n_prefixes: u32,
    jump: Option<Jump>,
}

impl PrefixTrie {
    /// An empty trie for `field`.
    pub fn new(field: Field) -> PrefixTrie {
        PrefixTrie {
            field,
            access: Access::of(field),
            width: u8::try_from(field.bits()).unwrap_or(128).clamp(1, 128),
            nodes: vec![Node::new(0, 0, 0)],
            free: Vec::new(),
            n_prefixes: 0,
            jump: None,
        }
    }

    /// The field the trie tracks.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The field's width in bits (at most 128).
    #[inline]
    fn width(&self) -> u8 {
        self.width
    }

    /// The field of `key`, left-aligned.
    #[inline]
    pub fn key_value(&self, key: &FlowKey) -> u128 {
        let v = self.access.get(self.field, key);
        v << (128 - u32::from(self.width))
    }

    /// Marks the first `bits` bits of the field in `wc`.
    #[inline]
    pub fn or_prefix(&self, wc: &mut FlowMask, bits: u8) {
        let mask = prefix_mask(bits.min(self.width)) >> (128 - u32::from(self.width));
        self.access.or_mask(self.field, wc, mask);
    }

    fn alloc(&mut self, node: Node) -> u32 {
        if let Some(i) = self.free.pop() {
            self.nodes[i as usize] = node;
            i
        } else {
            let i = u32::try_from(self.nodes.len()).expect("fewer than 2^32 trie nodes");
            self.nodes.push(node);
            i
        }
    }

    fn release(&mut self, i: u32) {
        self.nodes[i as usize].child = [NIL; 2];
        self.nodes[i as usize].n_rules = 0;
        self.free.push(i);
    }

    /// Counts one rule whose prefix is the first `plen` bits of the
    /// left-aligned `value`; `plen` is 1..=width.
    pub fn insert(&mut self, value: u128, plen: u8) {
        let plen = plen.clamp(1, self.width());
        let v = value & prefix_mask(plen);
        let touched = self.insert_node(v, plen);
        self.n_prefixes += 1;
        self.after_change(v, touched);
    }

    /// Inserts into the node structure; returns how many leading bits of
    /// `v` identify every walk the change can affect.
    fn insert_node(&mut self, v: u128, plen: u8) -> u8 {
        let mut cur = 0u32;
        loop {
            let node = &self.nodes[cur as usize];
            if node.end == plen {
                let first = node.n_rules == 0;
                self.nodes[cur as usize].n_rules += 1;
                // A second rule with a known prefix changes no walk.
                return if first { plen } else { NO_WALK };
            }
            let b = bit_at(v, node.end);
            let touched = node.end + 1;
            let c = node.child[b];
            if c == NIL {
                let leaf = self.alloc(Node::new(v, plen, 1));
                self.nodes[cur as usize].child[b] = leaf;
                return touched;
            }
            let cn = &self.nodes[c as usize];
            let common = u8::try_from((v ^ cn.bits).leading_zeros().min(128)).unwrap_or(128);
            let cp = common.min(plen).min(cn.end);
            if cp == cn.end {
                cur = c;
                continue;
            }
            // Split the child's edge at `cp`: a new node for the common part.
            let old_bit = bit_at(cn.bits, cp);
            let mid = self.alloc(Node::new(v, cp, 0));
            self.nodes[mid as usize].child[old_bit] = c;
            if cp == plen {
                self.nodes[mid as usize].n_rules = 1;
            } else {
                // The values differ at bit `cp`, so the new leaf takes the
                // other side.
                let leaf = self.alloc(Node::new(v, plen, 1));
                self.nodes[mid as usize].child[1 - old_bit] = leaf;
            }
            self.nodes[cur as usize].child[b] = mid;
            return touched;
        }
    }

    /// Uncounts one rule with that prefix; false when there was none.
    pub fn remove(&mut self, value: u128, plen: u8) -> bool {
        let plen = plen.clamp(1, self.width());
        let v = value & prefix_mask(plen);
        let Some(touched) = self.remove_node(v, plen) else {
            return false;
        };
        self.n_prefixes -= 1;
        self.after_change(v, touched);
        true
    }

    fn remove_node(&mut self, v: u128, plen: u8) -> Option<u8> {
        let mut path: Vec<(u32, usize)> = Vec::new();
        let mut cur = 0u32;
        loop {
            let node = &self.nodes[cur as usize];
            if node.end == plen {
                if node.n_rules == 0 {
                    return None;
                }
                break;
            }
            let b = bit_at(v, node.end);
            let c = node.child[b];
            if c == NIL {
                return None;
            }
            let cn = &self.nodes[c as usize];
            if cn.end > plen || (cn.bits ^ v) & prefix_mask(cn.end) != 0 {
                return None;
            }
            path.push((cur, b));
            cur = c;
        }
        self.nodes[cur as usize].n_rules -= 1;
        let mut touched = if self.nodes[cur as usize].n_rules == 0 {
            plen
        } else {
            NO_WALK
        };
        // Restore the shape invariant upwards.
        while let Some((parent, b)) = path.pop() {
            let node = &self.nodes[cur as usize];
            if node.n_rules > 0 {
                break;
            }
            touched = self.nodes[parent as usize].end + 1;
            match node.child {
                [NIL, NIL] => {
                    self.nodes[parent as usize].child[b] = NIL;
                    self.release(cur);
                    cur = parent;
                }
                [only, NIL] | [NIL, only] => {
                    self.nodes[parent as usize].child[b] = only;
                    self.release(cur);
                    break;
                }
                _ => break,
            }
        }
        Some(touched)
    }

    /// The shortcut width that suits the current number of prefixes.
    fn wanted_jump_bits(&self) -> Option<u8> {
        if self.n_prefixes < JUMP_MIN_PREFIXES {
            return None;
        }
        let log = u8::try_from(32 - self.n_prefixes.leading_zeros()).unwrap_or(JUMP_MAX_BITS);
        let k = (log + JUMP_EXTRA_BITS)
            .min(JUMP_MAX_BITS)
            .min(self.width().saturating_sub(1));
        (k >= 4).then_some(k)
    }

    /// Keeps the shortcut in step with a change whose affected walks all
    /// share the first `touched` bits of `v`.
    fn after_change(&mut self, v: u128, touched: u8) {
        let wanted = self.wanted_jump_bits();
        let current = self.jump.as_ref().map(|j| j.bits);
        // Rebuild when the wanted width moved by two or more (hysteresis).
        let rebuild = match (current, wanted) {
            (None, None) => return,
            (Some(_), None) => {
                // Drop only well below the threshold.
                if self.n_prefixes < JUMP_MIN_PREFIXES / 2 {
                    self.jump = None;
                    return;
                }
                false
            }
            (None, Some(_)) => true,
            (Some(c), Some(w)) => c.abs_diff(w) >= 2,
        };
        if rebuild {
            self.build_jump(wanted.unwrap_or(JUMP_MAX_BITS));
            return;
        }
        let Some(jump) = self.jump.as_mut() else {
            return;
        };
        let k = jump.bits;
        let r = touched.min(k);
        let first = (v & prefix_mask(r)) >> (128 - u32::from(k));
        let count = 1u128 << (k - r);
        for i in first..first + count {
            let step = jump_step(&self.nodes, i << (128 - u32::from(k)), k);
            if let Some(slot) = usize::try_from(i)
                .ok()
                .and_then(|i| jump.entries.get_mut(i))
            {
                *slot = Jump::encode(k, step);
            }
        }
    }

    /// Builds the shortcut of `k` bits from scratch.
    fn build_jump(&mut self, k: u8) {
        let entries = (0..1u64 << k)
            .map(|i| {
                Jump::encode(
                    k,
                    jump_step(&self.nodes, u128::from(i) << (128 - u32::from(k)), k),
                )
            })
            .collect();
        self.jump = Some(Jump { bits: k, entries });
    }

    /// Walks the left-aligned `value` down the trie.
    #[cfg(test)]
    pub fn lookup(&self, value: u128) -> TrieMatch {
        self.lookup_from(value, self.first_step(value))
    }

    /// The shortcut entry for `value` (`NO_ENTRY` without a shortcut).
    #[inline]
    pub fn first_step(&self, value: u128) -> u64 {
        let Some(jump) = self.jump.as_ref() else {
            return NO_ENTRY;
        };
        let index = usize::try_from(value >> (128 - u32::from(jump.bits))).unwrap_or(usize::MAX);
        jump.entries.get(index).copied().unwrap_or(NO_ENTRY)
    }

    /// Finishes the walk of `value` from its [`Self::first_step`].
    #[inline]
    pub fn lookup_from(&self, value: u128, e: u64) -> TrieMatch {
        let tag = e >> TAG_SHIFT;
        let jump = match &self.jump {
            Some(jump) if tag != TAG_WALK => jump,
            _ => return self.walk(0, value, 0),
        };
        let k = jump.bits;
        let width = self.width();
        let mut plens = if tag == TAG_ONE_BARE {
            0
        } else {
            u128::from((e >> PLENS_SHIFT) & ((1 << PLENS_BITS) - 1))
        };
        // The entry's fields, each masked to its width before narrowing.
        #[allow(clippy::cast_possible_truncation)]
        let shared = match tag {
            TAG_DONE => {
                return TrieMatch {
                    plens,
                    maskbits: (e & 0xff) as u8,
                }
            }
            TAG_ONE => {
                let rem = ((e >> ONE_BITS) & 0x3f) as u8;
                let v = bits_after(value, k, ONE_BITS);
                let (hit, shared) = against(v, e & ((1 << ONE_BITS) - 1), rem, k, ONE_BITS);
                if hit {
                    plens |= 1 << (shared - 1);
                }
                shared
            }
            TAG_ONE_BARE => {
                let rem = ((e >> BARE_BITS) & 0x7f) as u8;
                let v = bits_after(value, k, BARE_BITS);
                let (hit, shared) = against(v, e & ((1 << BARE_BITS) - 1), rem, k, BARE_BITS);
                if hit {
                    plens |= 1 << (shared - 1);
                }
                shared
            }
            TAG_TWO => {
                let v = bits_after(value, k, PAIR_BITS);
                let mut best = 0;
                for half in [e, e >> PAIR_SHIFT] {
                    let rem = ((half >> PAIR_BITS) & 0x1f) as u8;
                    let bits = half & ((1 << PAIR_BITS) - 1);
                    let (hit, shared) = against(v, bits, rem, k, PAIR_BITS);
                    if hit {
                        plens |= 1 << (shared - 1);
                    }
                    best = best.max(shared);
                }
                best
            }
            _ => {
                let node = (e & 0xffff_ffff) as u32;
                let Some(cn) = self.nodes.get(node as usize) else {
                    return self.walk(0, value, 0);
                };
                let diff = (value ^ cn.bits) & prefix_mask(cn.end);
                if diff != 0 {
                    let first = u8::try_from(diff.leading_zeros()).unwrap_or(127);
                    return TrieMatch {
                        plens,
                        maskbits: first + 1,
                    };
                }
                return self.walk(node as usize, value, plens);
            }
        };
        TrieMatch {
            plens,
            maskbits: if shared >= width { width } else { shared + 1 },
        }
    }

    /// The walk from node `cur`, whose prefix `value` is known to have.
    #[inline]
    fn walk(&self, mut cur: usize, value: u128, mut plens: u128) -> TrieMatch {
        let width = self.width();
        loop {
            let Some(node) = self.nodes.get(cur) else {
                // Unreachable by the arena invariant; reading every bit is
                // always a safe answer.
                return TrieMatch {
                    plens,
                    maskbits: width,
                };
            };
            if node.n_rules > 0 && node.end > 0 {
                plens |= 1u128 << (node.end - 1);
            }
            if node.end >= width {
                return TrieMatch {
                    plens,
                    maskbits: width,
                };
            }
            let c = node.child[bit_at(value, node.end)];
            if c == NIL {
                return TrieMatch {
                    plens,
                    maskbits: node.end + 1,
                };
            }
            let Some(cn) = self.nodes.get(c as usize) else {
                return TrieMatch {
                    plens,
                    maskbits: width,
                };
            };
            let diff = (value ^ cn.bits) & prefix_mask(cn.end);
            if diff != 0 {
                let first = u8::try_from(diff.leading_zeros()).unwrap_or(127);
                return TrieMatch {
                    plens,
                    maskbits: first + 1,
                };
            }
            cur = c as usize;
        }
    }

    /// Number of live nodes, the root included.
    #[cfg(test)]
    pub fn n_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// The walk from the root, ignoring the shortcut.
    #[cfg(test)]
    pub fn lookup_slow(&self, value: u128) -> TrieMatch {
        self.walk(0, value, 0)
    }

    /// Rebuilds the shortcut with `k` bits, whatever the size.
    #[cfg(test)]
    pub fn force_jump(&mut self, k: u8) {
        self.build_jump(k);
    }

    /// Whether the shortcut is in use.
    #[cfg(test)]
    pub fn has_jump(&self) -> bool {
        self.jump.is_some()
    }
}

/// Where the walk of a value whose first `k` bits are those of `x` stands
/// once it needs a bit past the first `k` (`k` below the width, at most 17).
fn jump_step(nodes: &[Node], x: u128, k: u8) -> Step {
    let mut plens = 0u64;
    let mut cur = 0usize;
    loop {
        let Some(node) = nodes.get(cur) else {
            return Step::Walk;
        };
        if node.n_rules > 0 && node.end > 0 {
            // `node.end < k` here.
            plens |= 1 << (node.end - 1);
        }
        let c = node.child[bit_at(x, node.end)];
        if c == NIL {
            return Step::Done {
                plens,
                maskbits: node.end + 1,
            };
        }
        let Some(cn) = nodes.get(c as usize) else {
            return Step::Walk;
        };
        let diff = (x ^ cn.bits) & prefix_mask(cn.end.min(k));
        if diff != 0 {
            let first = u8::try_from(diff.leading_zeros()).unwrap_or(127);
            return Step::Done {
                plens,
                maskbits: first + 1,
            };
        }
        if cn.end >= k {
            // The rule prefixes under `cn`, if at most two.
            let mut prefixes = [(0u128, 0u8); 2];
            let mut n = 0usize;
            let mut stack = [c; 3];
            let mut depth = 1usize;
            while depth > 0 && n <= 2 {
                depth -= 1;
                let Some(sub) = nodes.get(stack[depth] as usize) else {
                    n = 3;
                    break;
                };
                if sub.n_rules > 0 {
                    if let Some(p) = prefixes.get_mut(n) {
                        *p = (sub.bits, sub.end);
                    }
                    n += 1;
                }
                for &ch in &sub.child {
                    if ch != NIL {
                        if depth == stack.len() {
                            n = 3;
                            break;
                        }
                        stack[depth] = ch;
                        depth += 1;
                    }
                }
            }
            if n <= 2 {
                return Step::Few {
                    plens,
                    n,
                    prefixes,
                    node: c,
                };
            }
            return Step::Resume { plens, node: c };
        }
        cur = c as usize;
    }
}

/// `value` of `field` (in the field's own width) left-aligned in a `u128`.
#[inline]
pub(crate) fn align(field: Field, value: u128) -> u128 {
    let w = field.bits().min(128);
    if w == 0 {
        0
    } else {
        (value & field.max_value()) << (128 - w)
    }
}

/// The field-width mask of the first `len` bits of `field`.
#[cfg(test)]
pub(crate) fn field_prefix(field: Field, len: u8) -> u128 {
    let w = field.bits().min(128);
    if w == 0 {
        0
    } else {
        prefix_mask(len) >> (128 - w)
    }
}

/// The prefix length of `mask` (in `field`'s own width) when it is a
/// nonzero CIDR-style prefix mask.
pub(crate) fn cidr_len(field: Field, mask: u128) -> Option<u8> {
    let aligned = align(field, mask & field.max_value());
    let len = u8::try_from(aligned.leading_ones()).ok()?;
    (len > 0 && aligned == prefix_mask(len)).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: u32) -> u128 {
        align(Field::Ipv4Dst, u128::from(a))
    }

    #[test]
    fn lookup_reports_matching_lengths_and_bits_read() {
        let mut t = PrefixTrie::new(Field::Ipv4Dst);
        t.insert(v4(0x0a00_0000), 8);
        t.insert(v4(0x0a01_0000), 16);
        t.insert(v4(0xc0a8_0100), 24);
        let r = t.lookup(v4(0x0a01_0203));
        assert!(r.has_plen(8) && r.has_plen(16) && !r.has_plen(24));
        let r = t.lookup(v4(0x0a02_0000));
        assert!(r.has_plen(8) && !r.has_plen(16));
        // 10.2/16 leaves 10.1/16 at bit 14.
        assert_eq!(r.maskbits, 15);
        let r = t.lookup(v4(0x0b00_0000));
        assert_eq!(r.plens, 0);
        // 11.x leaves 10/8 at bit 7.
        assert_eq!(r.maskbits, 8);
    }

    #[test]
    fn removal_restores_the_compressed_shape() {
        let mut t = PrefixTrie::new(Field::Ipv4Dst);
        t.insert(v4(0x0a00_0000), 8);
        t.insert(v4(0x0a01_0000), 16);
        t.insert(v4(0x0a80_0000), 16);
        t.insert(v4(0x0a80_0000), 16);
        assert!(t.remove(v4(0x0a00_0000), 8));
        assert!(!t.remove(v4(0x0a00_0000), 8));
        assert!(t.remove(v4(0x0a80_0000), 16));
        assert!(t.remove(v4(0x0a80_0000), 16));
        assert!(t.remove(v4(0x0a01_0000), 16));
        assert_eq!(t.n_nodes(), 1);
        assert_eq!(t.lookup(v4(0x0a01_0000)).plens, 0);
    }

    #[test]
    fn shortcut_of_any_width_answers_like_the_plain_walk() {
        let mut t = PrefixTrie::new(Field::Ipv4Dst);
        let mut x = 0x9e37_79b9u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for i in 0..300u32 {
            // Nested prefixes of every length, around a few hot spots.
            let len = u8::try_from(i % 32 + 1).unwrap_or(32);
            let v = v4((next() & 0x0f0f_ffff) | 0xa000_0000);
            t.insert(v & prefix_mask(len), len);
        }
        for k in [4, 11, JUMP_MAX_BITS] {
            t.force_jump(k);
            for _ in 0..4000 {
                let probe = v4((next() & 0x0f0f_ffff) | 0xa000_0000);
                assert_eq!(t.lookup(probe), t.lookup_slow(probe), "k={k} {probe:#x}");
            }
        }
    }

    /// How many shortcut entries of each tag the trie has.
    fn entry_kinds(t: &PrefixTrie) -> [usize; 6] {
        let mut n = [0; 6];
        for e in &t.jump.as_ref().expect("a shortcut").entries {
            n[usize::try_from(e >> TAG_SHIFT).unwrap_or(0)] += 1;
        }
        n
    }

    #[test]
    fn every_kind_of_shortcut_entry_answers_like_the_plain_walk() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // IPv4: lone /32s, pairs and crowds under one entry, /24s with
        // /32s inside, and short prefixes above the shortcut's bits.
        let mut t = PrefixTrie::new(Field::Ipv4Dst);
        let mut live = Vec::new();
        for i in 0..3000u32 {
            let base = u32::try_from(next() >> 32).unwrap_or(0);
            let (v, len) = match i % 6 {
                0 | 1 => (base, 32),
                2 => (base & 0xffff_ff00, 24),
                3 => (base & 0x00ff_ffff | 0x0a00_0000, 32),
                4 => (0x0a00_0000 | (i << 8), 24),
                _ => (base & 0xff00_0000, 8),
            };
            t.insert(v4(v), len);
            live.push((v4(v), len));
        }
        // IPv6 /64s alone under their entry: inlined whole.
        let mut t6 = PrefixTrie::new(Field::Ipv6Dst);
        let mut live6 = Vec::new();
        for _ in 0..2000 {
            let v = u128::from(next()) << 64;
            t6.insert(v, 64);
            live6.push((v, 64u8));
        }
        let kinds = entry_kinds(&t);
        for tag in [TAG_DONE, TAG_ONE, TAG_TWO, TAG_RESUME, TAG_ONE_BARE] {
            let n = kinds[usize::try_from(tag).unwrap_or(0)];
            assert!(n > 0, "no IPv4 entry of tag {tag}: {kinds:?}");
        }
        assert!(entry_kinds(&t6)[usize::try_from(TAG_ONE_BARE).unwrap_or(0)] > 0);
        for (t, live) in [(&t, &live), (&t6, &live6)] {
            for i in 0..20_000usize {
                let (v, _) = live[i % live.len()];
                // Near a prefix (sharing a random number of leading bits),
                // or anywhere.
                let keep = u8::try_from(next() % 129).unwrap_or(0);
                let noise = u128::from(next()) << 64 | u128::from(next());
                let probe = if i % 4 == 0 {
                    noise
                } else {
                    (v & prefix_mask(keep)) | (noise & !prefix_mask(keep))
                };
                let probe = probe & prefix_mask(t.width());
                assert_eq!(t.lookup(probe), t.lookup_slow(probe), "{probe:#x}");
            }
        }
    }

    #[test]
    fn direct_field_access_agrees_with_the_flow_module() {
        let mut key = FlowKey::default();
        for (i, w) in key.as_words_mut().iter_mut().enumerate() {
            *w = 0x0123_4567_89ab_cdefu64.rotate_left(u32::try_from(i).unwrap_or(0) * 7);
        }
        for &f in Field::ALL {
            let t = PrefixTrie::new(f);
            assert_eq!(t.key_value(&key), align(f, f.get(&key)), "{f:?}");
            for bits in [1, 7, 8, 20, 128] {
                let mut a = FlowMask::wildcard();
                let mut b = FlowMask::wildcard();
                a.key.ipv4_dst = 1;
                b.key.ipv4_dst = 1;
                t.or_prefix(&mut a, bits);
                b.or_field(f, field_prefix(f, bits));
                assert_eq!(a, b, "{f:?} /{bits}");
            }
        }
    }

    #[test]
    fn cidr_len_accepts_only_prefix_masks() {
        assert_eq!(cidr_len(Field::Ipv4Dst, 0xff00_0000), Some(8));
        assert_eq!(cidr_len(Field::Ipv4Dst, 0xffff_ffff), Some(32));
        assert_eq!(cidr_len(Field::Ipv4Dst, 0), None);
        assert_eq!(cidr_len(Field::Ipv4Dst, 0xff00_ff00), None);
        assert_eq!(cidr_len(Field::Ipv6Src, u128::MAX), Some(128));
        assert_eq!(field_prefix(Field::Ipv4Dst, 8), 0xff00_0000);
        assert_eq!(field_prefix(Field::Ipv6Dst, 128), u128::MAX);
    }

    proptest! {
        #[test]
        fn lookup_agrees_with_brute_force_and_its_bits_suffice(
            prefixes in proptest::collection::vec(
                (0u32..64, prop_oneof![Just(0u32), any::<u32>()], 1u8..=32),
                0..200,
            ),
            removals in proptest::collection::vec(any::<proptest::sample::Index>(), 0..200),
            probes in proptest::collection::vec(
                (any::<proptest::sample::Index>(), any::<u32>(), 0u8..=32),
                1..24,
            ),
        ) {
            // High bits drawn from a small set so that prefixes nest.
            let spread = |hi: u32, lo: u32| hi.rotate_right(6) ^ (lo & 0x03ff_ffff);
            let mut t = PrefixTrie::new(Field::Ipv4Dst);
            let mut live: Vec<(u128, u8)> = Vec::new();
            let check = |t: &PrefixTrie, live: &[(u128, u8)], x: u128| -> Result<(), TestCaseError> {
                let r = t.lookup(x);
                prop_assert_eq!(r, t.lookup_slow(x));
                let mut want = 0u128;
                for &(v, len) in live {
                    if (x ^ v) & prefix_mask(len) == 0 {
                        want |= 1 << (len - 1);
                    }
                }
                prop_assert_eq!(r.plens, want);
                // Every value sharing the bits read gets the same answer.
                let other = (x & prefix_mask(r.maskbits)) | (!x & !prefix_mask(r.maskbits));
                prop_assert_eq!(t.lookup(other).plens, r.plens);
                Ok(())
            };
            let probe = |live: &[(u128, u8)], ix: &proptest::sample::Index, noise: u32, keep: u8| {
                let base = if live.is_empty() { 0 } else { live[ix.index(live.len())].0 };
                (base & prefix_mask(keep)) | (v4(noise) & !prefix_mask(keep))
            };
            for &(hi, lo, len) in &prefixes {
                let v = v4(spread(hi, lo)) & prefix_mask(len);
                t.insert(v, len);
                live.push((v, len));
            }
            prop_assert_eq!(t.has_jump(), live.len() >= 64);
            for (ix, noise, keep) in &probes {
                check(&t, &live, probe(&live, ix, *noise, *keep))?;
            }
            for (n, ix) in removals.iter().enumerate() {
                if live.is_empty() { break; }
                let (v, len) = live.swap_remove(ix.index(live.len()));
                prop_assert!(t.remove(v, len));
                if let Some((pix, noise, keep)) = probes.get(n % probes.len()) {
                    check(&t, &live, probe(&live, pix, *noise, *keep))?;
                }
            }
            for (ix, noise, keep) in &probes {
                check(&t, &live, probe(&live, ix, *noise, *keep))?;
            }
            if live.is_empty() {
                prop_assert_eq!(t.n_nodes(), 1);
                prop_assert!(!t.has_jump());
            }
        }
    }
}
