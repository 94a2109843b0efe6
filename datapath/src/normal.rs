//! The `NORMAL` action: a VLAN-aware MAC learning switch, as Open vSwitch's
//! `NORMAL` (its `xlate_normal` and MAC learning table) behaves.
//!
//! This module owns the learning table ([`MacTable`]), the per-port VLAN
//! configuration ([`PortVlanMode`], Open vSwitch's `tag`/`trunks`/`vlan_mode`,
//! plus `no_flood`, in [`PortL2Config`]), the bridge-wide state the pipeline
//! holds ([`Normal`]) and the forwarding decision ([`decide`]). It knows
//! nothing of OpenFlow tables: translation hands it the working flow and a view
//! of the ports ([`NormalPort`]) and turns the decision ([`NormalDecision`])
//! into datapath actions, so the logic here is tested on its own.
//!
//! # Design note
//!
//! **The decision.** A packet entering port `p` is first classified into a
//! VLAN by `p`'s mode (an access port puts untagged frames into its tag, a
//! trunk takes the VLAN from the 802.1Q header or its native VLAN); a frame the
//! port does not admit is dropped. The source MAC is then learned on
//! (VLAN, `p`) unless it is a multicast (or broadcast) address. A unicast
//! destination learned on another usable port of the VLAN goes there only; one
//! learned on `p` itself is dropped (the destination is on the segment the
//! packet came from); every other packet (broadcast, multicast, unknown
//! unicast, or a destination learned on a port that can no longer carry it) is
//! flooded to every port of the VLAN except `p`, skipping ports configured
//! `no_flood` or unable to forward (`no_fwd`, down). Each output carries the
//! egress form of the VLAN for its port: untagged on access ports and on a
//! trunk's native VLAN, tagged (keeping the frame's priority) elsewhere.
//! Frames to the reserved 802.1D group addresses (`01:80:c2:00:00:0x`, STP,
//! LACP, 802.1X) are dropped unless `forward_bpdu` is set.
//!
//! **The mask.** A decision reads the ingress port, both MAC addresses and the
//! VLAN tag (identifier and presence; the priority too when it is copied into
//! an egress tag), so those bits are added to the megaflow mask. Two packets
//! that agree on them get the same decision from the same table state.
//!
//! **The table and its generation.** [`MacTable`] maps (VLAN, MAC) to a port,
//! with idle aging (an entry not refreshed for `idle_ms` is gone; 300 s by
//! default) and a size limit that evicts the least recently seen entry (8192
//! by default). Its `generation` counter moves whenever a forwarding decision
//! could change: a new entry, a MAC moving to another port, an expiry, an
//! eviction or a flush. A refresh of an existing entry does not move it. Cached
//! translations that went through NORMAL depend on the table only through
//! this counter, so the owner of the pipeline folds it into the epoch that
//! triggers cache revalidation; and since expiry happens only when someone
//! looks, the owner calls [`MacTable::run`] periodically (its
//! [`MacTable::next_expiry_ms`] says when the next entry is due).
//!
//! **Concurrency.** Forwarding threads learn during upcalls while holding only
//! a read lock on the pipeline, so the table has interior mutability: one
//! mutex around the map (this is the slow path; the megaflow cache keeps
//! NORMAL off the per-packet path) and an atomic generation that readers can
//! poll without the lock. A poisoned mutex is recovered, never propagated.

use crate::flow::{Field, FlowKey, FlowMask, VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use hashbrown::HashMap;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A MAC address as its six wire bytes.
pub type Mac = [u8; 6];

/// Default idle time of a learned entry, in milliseconds (Open vSwitch's 300 s).
pub const DEFAULT_IDLE_MS: u64 = 300_000;
/// Default maximum number of learned entries.
pub const DEFAULT_MAX_ENTRIES: usize = 8192;
/// The highest VLAN id.
pub const MAX_VLAN: u16 = 4095;

/// Whether `mac` is a multicast (group) address; broadcast included.
#[inline]
pub fn is_multicast(mac: &Mac) -> bool {
    mac[0] & 1 != 0
}

/// Whether `mac` is one of the IEEE 802.1D reserved group addresses
/// `01:80:c2:00:00:00` through `01:80:c2:00:00:0f` (STP, LACP, 802.1X, ...),
/// which a bridge does not forward.
#[inline]
pub fn is_reserved_group(mac: &Mac) -> bool {
    mac[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && mac[5] & 0xf0 == 0
}

/// A set of VLAN ids (0 to 4095), a 4096-bit bitmap (boxed: a port's VLAN
/// mode stays small).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VlanSet {
    bits: Box<[u64; 64]>,
}

impl VlanSet {
    /// The empty set.
    pub fn none() -> VlanSet {
        VlanSet {
            bits: Box::new([0; 64]),
        }
    }

    /// Every VLAN, 0 to 4095.
    pub fn all() -> VlanSet {
        VlanSet {
            bits: Box::new([u64::MAX; 64]),
        }
    }

    /// The set of the given VLANs; ids above 4095 are ignored.
    pub fn of(vlans: impl IntoIterator<Item = u16>) -> VlanSet {
        let mut s = VlanSet::none();
        for v in vlans {
            s.insert(v);
        }
        s
    }

    /// Adds `vlan` (ignored above 4095).
    pub fn insert(&mut self, vlan: u16) {
        if vlan <= MAX_VLAN {
            self.bits[usize::from(vlan >> 6)] |= 1 << (vlan & 63);
        }
    }

    /// Removes `vlan`.
    pub fn remove(&mut self, vlan: u16) {
        if vlan <= MAX_VLAN {
            self.bits[usize::from(vlan >> 6)] &= !(1 << (vlan & 63));
        }
    }

    /// Whether `vlan` is in the set.
    #[inline]
    pub fn contains(&self, vlan: u16) -> bool {
        vlan <= MAX_VLAN && self.bits[usize::from(vlan >> 6)] & (1 << (vlan & 63)) != 0
    }

    /// Whether every VLAN is in the set.
    pub fn is_all(&self) -> bool {
        self.bits.iter().all(|w| *w == u64::MAX)
    }

    /// The VLANs in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=MAX_VLAN).filter(|v| self.contains(*v))
    }
}

impl Default for VlanSet {
    /// Every VLAN (the trunk default).
    fn default() -> VlanSet {
        VlanSet::all()
    }
}

impl std::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_all() {
            return f.write_str("VlanSet(all)");
        }
        f.debug_set().entries(self.iter()).finish()
    }
}

/// How a port takes part in VLANs for NORMAL switching (Open vSwitch's
/// `tag`, `trunks` and `vlan_mode` of a port).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum PortVlanMode {
    /// Every VLAN, as tagged on the wire: an untagged frame belongs to
    /// VLAN 0 and leaves untagged (Open vSwitch's default, a trunk of all
    /// VLANs).
    #[default]
    All,
    /// An access port of one VLAN: untagged (or priority-tagged, VLAN id 0)
    /// frames belong to the VLAN, other tagged frames are dropped; frames
    /// leave untagged (the tag is popped).
    Access(u16),
    /// A trunk of the listed VLANs: a tagged frame belongs to the VLAN of its
    /// tag, which must be allowed. An untagged frame belongs to `native` when
    /// set (and the native VLAN leaves untagged, Open vSwitch's
    /// `native-untagged`), otherwise to VLAN 0, which must then be allowed.
    Trunk {
        /// The VLANs carried tagged.
        allowed: VlanSet,
        /// The VLAN of untagged frames, sent untagged.
        native: Option<u16>,
    },
}

impl PortVlanMode {
    /// The VLAN a frame with outer TCI `vlan_tci` (`VLAN_PRESENT` set when
    /// tagged) belongs to on entering this port, or `None` when the port
    /// does not admit it.
    pub fn input_vlan(&self, vlan_tci: u16) -> Option<u16> {
        let vid = if vlan_tci & VLAN_PRESENT != 0 {
            vlan_tci & VLAN_VID_MASK
        } else {
            0
        };
        match self {
            PortVlanMode::All => Some(vid),
            PortVlanMode::Access(tag) => (vid == 0).then_some(*tag & VLAN_VID_MASK),
            PortVlanMode::Trunk { allowed, native } => match (vid, native) {
                (0, Some(n)) => Some(*n & VLAN_VID_MASK),
                (v, _) => allowed.contains(v).then_some(v),
            },
        }
    }

    /// Whether the port carries `vlan`.
    pub fn includes(&self, vlan: u16) -> bool {
        match self {
            PortVlanMode::All => true,
            PortVlanMode::Access(tag) => *tag & VLAN_VID_MASK == vlan,
            PortVlanMode::Trunk { allowed, native } => {
                native.is_some_and(|n| n & VLAN_VID_MASK == vlan) || allowed.contains(vlan)
            }
        }
    }

    /// Whether frames of `vlan` leave this port untagged.
    pub fn egress_untagged(&self, vlan: u16) -> bool {
        match self {
            PortVlanMode::All => vlan == 0,
            PortVlanMode::Access(_) => true,
            PortVlanMode::Trunk { native, .. } => match native {
                Some(n) => *n & VLAN_VID_MASK == vlan,
                None => vlan == 0,
            },
        }
    }
}

/// One port as NORMAL sees it.
#[derive(Clone, Copy, Debug)]
pub struct NormalPort<'a> {
    /// OpenFlow port number.
    pub port_no: u32,
    /// The port's VLAN configuration.
    pub vlan_mode: &'a PortVlanMode,
    /// Whether flooding may use the port (not `OFPPC_NO_FLOOD`).
    pub flood: bool,
    /// Whether the port can send at all (not `OFPPC_NO_FWD`, not down).
    pub forward: bool,
}

/// How [`decide`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormalOptions {
    /// Learn the source address (false when re-translating a cached flow,
    /// which must have no side effects).
    pub learn: bool,
    /// Forward frames to the reserved 802.1D group addresses.
    pub forward_bpdu: bool,
}

impl Default for NormalOptions {
    fn default() -> NormalOptions {
        NormalOptions {
            learn: true,
            forward_bpdu: false,
        }
    }
}

/// One output of a NORMAL decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NormalOutput {
    /// The port.
    pub port: u32,
    /// The outer tag the frame must carry there: `None` for untagged, or a
    /// TCI (`VLAN_PRESENT` set, the VLAN id and the frame's priority).
    pub tci: Option<u16>,
}

/// Why NORMAL sent a packet nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormalDrop {
    /// The ingress port is not a switch port (e.g. a packet-out from the
    /// controller).
    NoInputPort,
    /// The ingress port does not admit the frame's VLAN.
    VlanNotAdmitted,
    /// The destination is a reserved 802.1D group address.
    ReservedMulticast,
    /// The source address is multicast (invalid as a source).
    MulticastSource,
    /// The destination was learned on the ingress port.
    LearnedOnInputPort,
    /// Flooding found no other port of the VLAN.
    NoOtherPort,
}

/// What happened to the MAC table during a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LearnOutcome {
    /// Nothing was learned (multicast source, learning off, or a zero-size table).
    NotLearned,
    /// A new entry.
    New,
    /// An existing entry on the same port was refreshed.
    Refreshed,
    /// The address moved from the given port.
    Moved(u32),
}

impl LearnOutcome {
    /// Whether the table's forwarding decisions changed.
    pub fn changed(self) -> bool {
        matches!(self, LearnOutcome::New | LearnOutcome::Moved(_))
    }
}

/// A source address a decision learned, so that the packets of a cached
/// flow can keep the entry fresh ([`MacTable::refresh`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Learned {
    /// VLAN.
    pub vlan: u16,
    /// Source address.
    pub mac: Mac,
    /// Ingress port.
    pub port: u32,
}

/// The result of [`decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalDecision {
    /// Where the frame goes, in ascending port order; empty means dropped.
    pub outputs: SmallVec<[NormalOutput; 8]>,
    /// The VLAN the frame was classified into.
    pub vlan: Option<u16>,
    /// The source the decision learned (or would have learned with
    /// learning off), for refreshing.
    pub learned: Option<Learned>,
    /// The table change made while learning.
    pub learn_outcome: LearnOutcome,
    /// Whether the frame was flooded (as opposed to sent to a learned port).
    pub flooded: bool,
    /// Why nothing was output, when so.
    pub drop: Option<NormalDrop>,
}

impl NormalDecision {
    fn dropped(reason: NormalDrop, vlan: Option<u16>) -> NormalDecision {
        NormalDecision {
            outputs: SmallVec::new(),
            vlan,
            learned: None,
            learn_outcome: LearnOutcome::NotLearned,
            flooded: false,
            drop: Some(reason),
        }
    }
}

/// Adds to `mask` the bits a NORMAL decision reads: ingress port, both MAC
/// addresses, the VLAN id and presence bit.
pub fn normal_mask(mask: &mut FlowMask) {
    mask.set_exact(Field::InPort);
    mask.set_exact(Field::EthSrc);
    mask.set_exact(Field::EthDst);
    mask.set_exact(Field::VlanVid);
}

/// Decides where NORMAL sends the frame described by `key` (the working
/// flow), learning its source into `table` when `opts.learn`.
///
/// `ports` lists every port of the switch (order does not matter; outputs come
/// back sorted by port number). Every bit read goes into `mask`.
pub fn decide<'a, I>(
    table: &MacTable,
    key: &FlowKey,
    ports: I,
    opts: NormalOptions,
    now_ms: u64,
    mask: &mut FlowMask,
) -> NormalDecision
where
    I: IntoIterator<Item = NormalPort<'a>>,
    I::IntoIter: Clone,
{
    normal_mask(mask);
    let ports = ports.into_iter();
    let Some(in_port) = ports.clone().find(|p| p.port_no == key.in_port) else {
        return NormalDecision::dropped(NormalDrop::NoInputPort, None);
    };
    let Some(vlan) = in_port.vlan_mode.input_vlan(key.vlan_tci) else {
        return NormalDecision::dropped(NormalDrop::VlanNotAdmitted, None);
    };
    if is_multicast(&key.eth_src) {
        return NormalDecision::dropped(NormalDrop::MulticastSource, Some(vlan));
    }
    if !opts.forward_bpdu && is_reserved_group(&key.eth_dst) {
        return NormalDecision::dropped(NormalDrop::ReservedMulticast, Some(vlan));
    }

    let learned = Learned {
        vlan,
        mac: key.eth_src,
        port: in_port.port_no,
    };
    let learn_outcome = if opts.learn {
        table.learn(vlan, key.eth_src, in_port.port_no, now_ms)
    } else {
        LearnOutcome::NotLearned
    };

    // The priority travels into egress tags; read it only when tagged.
    let pcp = if key.vlan_tci & VLAN_PRESENT != 0 {
        key.vlan_tci & VLAN_PCP_MASK
    } else {
        0
    };
    let egress = |p: &NormalPort<'_>, mask: &mut FlowMask| -> NormalOutput {
        let tci = if p.vlan_mode.egress_untagged(vlan) {
            None
        } else {
            if key.vlan_tci & VLAN_PRESENT != 0 {
                mask.set_exact(Field::VlanPcp);
            }
            Some(VLAN_PRESENT | vlan | pcp)
        };
        NormalOutput {
            port: p.port_no,
            tci,
        }
    };
    let usable = |p: &NormalPort<'_>| p.forward && p.vlan_mode.includes(vlan);

    let mut decision = NormalDecision {
        outputs: SmallVec::new(),
        vlan: Some(vlan),
        learned: Some(learned),
        learn_outcome,
        flooded: false,
        drop: None,
    };

    if !is_multicast(&key.eth_dst) {
        if let Some(dst_port) = table.lookup(vlan, key.eth_dst, now_ms) {
            if dst_port == in_port.port_no {
                decision.drop = Some(NormalDrop::LearnedOnInputPort);
                return decision;
            }
            if let Some(p) = ports.clone().find(|p| p.port_no == dst_port && usable(p)) {
                decision.outputs.push(egress(&p, mask));
                return decision;
            }
            // Learned on a port that cannot carry it any more: treat as unknown.
        }
    }

    decision.flooded = true;
    for p in ports {
        if p.port_no != in_port.port_no && p.flood && usable(&p) {
            decision.outputs.push(egress(&p, mask));
        }
    }
    decision.outputs.sort_unstable_by_key(|o| o.port);
    decision.outputs.dedup_by_key(|o| o.port);
    if decision.outputs.is_empty() {
        decision.drop = Some(NormalDrop::NoOtherPort);
    }
    decision
}

/// A port's NORMAL configuration: its VLAN mode and whether flooding (NORMAL's
/// and the `FLOOD` reserved port's) skips it (Open vSwitch's `no-flood`,
/// which OpenFlow 1.3 dropped from the port configuration bits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct PortL2Config {
    /// VLAN mode.
    pub vlan_mode: PortVlanMode,
    /// Flooding skips the port.
    pub no_flood: bool,
}

static DEFAULT_PORT_L2: PortL2Config = PortL2Config {
    vlan_mode: PortVlanMode::All,
    no_flood: false,
};

/// The NORMAL switching state of one bridge: the MAC table, the ports' VLAN
/// and flooding configuration, and whether BPDUs are forwarded. The pipeline
/// owns one.
///
/// Configuration changes take `&mut self` (the pipeline's write lock) and
/// move the MAC table's generation, flushing the entries learned on a port
/// whose VLAN mode changed; learning goes through `&self`.
#[derive(Clone, Debug, Default)]
pub struct Normal {
    macs: MacTable,
    ports: BTreeMap<u32, PortL2Config>,
    forward_bpdu: bool,
}

impl Normal {
    /// Default configuration: every port trunks every VLAN and floods, a
    /// default MAC table, BPDUs not forwarded.
    pub fn new() -> Normal {
        Normal::default()
    }

    /// The MAC learning table.
    #[inline]
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }

    /// The change counter of everything NORMAL decides from (MAC table and
    /// configuration); fold it into the cache epoch.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.macs.generation()
    }

    /// The configuration of `port` (the default for unconfigured ports).
    pub fn port_config(&self, port: u32) -> &PortL2Config {
        self.ports.get(&port).unwrap_or(&DEFAULT_PORT_L2)
    }

    /// Sets the configuration of `port`. Entries learned on the port are
    /// flushed when its VLAN mode changes.
    pub fn set_port_config(&mut self, port: u32, config: PortL2Config) {
        if *self.port_config(port) == config {
            return;
        }
        if self.port_config(port).vlan_mode != config.vlan_mode {
            self.macs.flush_port(port);
        }
        if config == DEFAULT_PORT_L2 {
            self.ports.remove(&port);
        } else {
            self.ports.insert(port, config);
        }
        self.macs.bump();
    }

    /// Sets the VLAN mode of `port` (keeping its flooding setting).
    pub fn set_vlan_mode(&mut self, port: u32, vlan_mode: PortVlanMode) {
        let no_flood = self.port_config(port).no_flood;
        self.set_port_config(
            port,
            PortL2Config {
                vlan_mode,
                no_flood,
            },
        );
    }

    /// Sets whether flooding skips `port`.
    pub fn set_no_flood(&mut self, port: u32, no_flood: bool) {
        let vlan_mode = self.port_config(port).vlan_mode.clone();
        self.set_port_config(
            port,
            PortL2Config {
                vlan_mode,
                no_flood,
            },
        );
    }

    /// Forgets a removed port: its configuration and the entries learned on it.
    pub fn remove_port(&mut self, port: u32) {
        self.ports.remove(&port);
        self.macs.flush_port(port);
        self.macs.bump();
    }

    /// Whether frames to the reserved 802.1D group addresses are forwarded.
    pub fn forward_bpdu(&self) -> bool {
        self.forward_bpdu
    }

    /// Sets whether frames to the reserved 802.1D group addresses are forwarded.
    pub fn set_forward_bpdu(&mut self, on: bool) {
        if self.forward_bpdu != on {
            self.forward_bpdu = on;
            self.macs.bump();
        }
    }

    /// The options [`decide`] runs with, learning or not.
    pub fn options(&self, learn: bool) -> NormalOptions {
        NormalOptions {
            learn,
            forward_bpdu: self.forward_bpdu,
        }
    }
}

/// One learned entry as `fdb-show` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FdbEntry {
    /// VLAN.
    pub vlan: u16,
    /// Address.
    pub mac: Mac,
    /// Port it was last seen on.
    pub port: u32,
    /// Milliseconds since it was last seen.
    pub age_ms: u64,
}

impl FdbEntry {
    /// The age in whole seconds, as `fdb-show` prints it.
    pub fn age_secs(&self) -> u64 {
        self.age_ms / 1000
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    port: u32,
    last_seen_ms: u64,
    seq: u64,
}

/// The table proper; lives behind the mutex.
///
/// Invariant: `lru` holds exactly one `(last_seen_ms, seq)` key per entry of
/// `map`, equal to that entry's fields, so its first element is the least
/// recently seen entry.
#[derive(Clone, Debug)]
struct Inner {
    map: HashMap<(u16, Mac), Entry>,
    lru: BTreeMap<(u64, u64), (u16, Mac)>,
    seq: u64,
    idle_ms: u64,
    max_entries: usize,
}

impl Inner {
    fn remove(&mut self, key: (u16, Mac)) -> Option<Entry> {
        let e = self.map.remove(&key)?;
        self.lru.remove(&(e.last_seen_ms, e.seq));
        Some(e)
    }

    fn expired(&self, e: &Entry, now_ms: u64) -> bool {
        now_ms >= e.last_seen_ms.saturating_add(self.idle_ms)
    }

    /// Removes every expired entry; returns how many.
    fn expire(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Some((&(seen, seq), &key)) = self.lru.first_key_value() {
            if now_ms < seen.saturating_add(self.idle_ms) {
                break;
            }
            self.lru.remove(&(seen, seq));
            self.map.remove(&key);
            n += 1;
        }
        n
    }

    /// Evicts least recently seen entries until at most `limit` remain.
    fn shrink_to(&mut self, limit: usize) -> usize {
        let mut n = 0;
        while self.map.len() > limit {
            let Some((_, key)) = self.lru.pop_first() else {
                break;
            };
            self.map.remove(&key);
            n += 1;
        }
        n
    }
}

/// The MAC learning table of NORMAL switching: (VLAN, MAC) → port, with idle
/// aging, a size limit and a change counter (see the module's design note).
pub struct MacTable {
    inner: Mutex<Inner>,
    generation: AtomicU64,
}

impl Default for MacTable {
    fn default() -> MacTable {
        MacTable::new()
    }
}

impl Clone for MacTable {
    fn clone(&self) -> MacTable {
        MacTable {
            inner: Mutex::new(self.lock().clone()),
            generation: AtomicU64::new(self.generation()),
        }
    }
}

impl std::fmt::Debug for MacTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MacTable")
            .field("entries", &inner.map.len())
            .field("idle_ms", &inner.idle_ms)
            .field("max_entries", &inner.max_entries)
            .field("generation", &self.generation())
            .finish()
    }
}

impl MacTable {
    /// An empty table with the default idle time and size limit.
    pub fn new() -> MacTable {
        MacTable::with_config(DEFAULT_IDLE_MS, DEFAULT_MAX_ENTRIES)
    }

    /// An empty table whose entries live `idle_ms` after they were last seen
    /// and that holds at most `max_entries`.
    pub fn with_config(idle_ms: u64, max_entries: usize) -> MacTable {
        MacTable {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                lru: BTreeMap::new(),
                seq: 0,
                idle_ms,
                max_entries,
            }),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The change counter: it moves whenever a forwarding decision may have
    /// changed (new entry, move, expiry, eviction, flush).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The idle time in milliseconds.
    pub fn idle_ms(&self) -> u64 {
        self.lock().idle_ms
    }

    /// Sets the idle time; entries already past it expire at the next
    /// [`MacTable::run`] or lookup.
    pub fn set_idle_ms(&self, idle_ms: u64) {
        self.lock().idle_ms = idle_ms;
    }

    /// The size limit.
    pub fn max_entries(&self) -> usize {
        self.lock().max_entries
    }

    /// Sets the size limit, evicting the least recently seen entries beyond it.
    pub fn set_max_entries(&self, max_entries: usize) {
        let evicted = {
            let mut inner = self.lock();
            inner.max_entries = max_entries;
            inner.shrink_to(max_entries)
        };
        if evicted > 0 {
            self.bump();
        }
    }

    /// Number of entries (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Learns that `mac` on `vlan` was seen on `port` at `now_ms`. Multicast
    /// sources are never learned. A full table evicts its least recently seen
    /// entry first.
    pub fn learn(&self, vlan: u16, mac: Mac, port: u32, now_ms: u64) -> LearnOutcome {
        if is_multicast(&mac) || vlan > MAX_VLAN {
            return LearnOutcome::NotLearned;
        }
        let outcome = {
            let mut inner = self.lock();
            if inner.max_entries == 0 {
                return LearnOutcome::NotLearned;
            }
            inner.seq += 1;
            let seq = inner.seq;
            let key = (vlan, mac);
            let old = inner.remove(key);
            let outcome = match old {
                Some(e) if inner.expired(&e, now_ms) => LearnOutcome::New,
                Some(e) if e.port == port => LearnOutcome::Refreshed,
                Some(e) => LearnOutcome::Moved(e.port),
                None => LearnOutcome::New,
            };
            if old.is_none() {
                let limit = inner.max_entries - 1;
                inner.shrink_to(limit);
            }
            inner.map.insert(
                key,
                Entry {
                    port,
                    last_seen_ms: now_ms,
                    seq,
                },
            );
            inner.lru.insert((now_ms, seq), key);
            outcome
        };
        if outcome.changed() {
            self.bump();
        }
        outcome
    }

    /// Refreshes the entry of a cached flow's source if it still points to
    /// the same port (does nothing otherwise: a move is an upcall's business).
    /// Returns whether an entry was refreshed.
    pub fn refresh(&self, learned: &Learned, now_ms: u64) -> bool {
        let mut inner = self.lock();
        let key = (learned.vlan, learned.mac);
        let Some(e) = inner.map.get(&key).copied() else {
            return false;
        };
        if e.port != learned.port || inner.expired(&e, now_ms) || now_ms <= e.last_seen_ms {
            return false;
        }
        inner.lru.remove(&(e.last_seen_ms, e.seq));
        inner.seq += 1;
        let seq = inner.seq;
        inner.lru.insert((now_ms, seq), key);
        inner.map.insert(
            key,
            Entry {
                port: e.port,
                last_seen_ms: now_ms,
                seq,
            },
        );
        true
    }

    /// The port `mac` was learned on in `vlan`, if the entry is live at
    /// `now_ms` (an expired entry found here is removed).
    pub fn lookup(&self, vlan: u16, mac: Mac, now_ms: u64) -> Option<u32> {
        let removed = {
            let mut inner = self.lock();
            let e = *inner.map.get(&(vlan, mac))?;
            if !inner.expired(&e, now_ms) {
                return Some(e.port);
            }
            inner.remove((vlan, mac));
            true
        };
        if removed {
            self.bump();
        }
        None
    }

    /// Removes the entries idle for the idle time; returns how many.
    pub fn run(&self, now_ms: u64) -> usize {
        let n = self.lock().expire(now_ms);
        if n > 0 {
            self.bump();
        }
        n
    }

    /// When the next entry expires, if any.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        let inner = self.lock();
        inner
            .lru
            .first_key_value()
            .map(|(&(seen, _), _)| seen.saturating_add(inner.idle_ms))
    }

    fn remove_where(&self, pred: impl Fn(u16, &Mac, &Entry) -> bool) -> usize {
        let n = {
            let mut inner = self.lock();
            let doomed: Vec<(u16, Mac)> = inner
                .map
                .iter()
                .filter(|(k, e)| pred(k.0, &k.1, e))
                .map(|(k, _)| *k)
                .collect();
            for k in &doomed {
                inner.remove(*k);
            }
            doomed.len()
        };
        if n > 0 {
            self.bump();
        }
        n
    }

    /// Removes every entry; returns how many there were.
    pub fn flush(&self) -> usize {
        self.remove_where(|_, _, _| true)
    }

    /// Removes the entries learned on `port` (a port removed or reconfigured).
    pub fn flush_port(&self, port: u32) -> usize {
        self.remove_where(|_, _, e| e.port == port)
    }

    /// Removes the entries of `vlan`.
    pub fn flush_vlan(&self, vlan: u16) -> usize {
        self.remove_where(|v, _, _| v == vlan)
    }

    /// The live entries at `now_ms`, sorted by VLAN then address.
    pub fn entries(&self, now_ms: u64) -> Vec<FdbEntry> {
        let inner = self.lock();
        let mut out: Vec<FdbEntry> = inner
            .map
            .iter()
            .filter(|(_, e)| !inner.expired(e, now_ms))
            .map(|(&(vlan, mac), e)| FdbEntry {
                vlan,
                mac,
                port: e.port,
                age_ms: now_ms.saturating_sub(e.last_seen_ms),
            })
            .collect();
        out.sort_unstable_by_key(|e| (e.vlan, e.mac));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = [0x02, 0, 0, 0, 0, 0xa];
    const B: Mac = [0x02, 0, 0, 0, 0, 0xb];
    const C: Mac = [0x02, 0, 0, 0, 0, 0xc];
    const BCAST: Mac = [0xff; 6];
    const MCAST: Mac = [0x01, 0x00, 0x5e, 0, 0, 1];

    fn frame(in_port: u32, src: Mac, dst: Mac, vlan_tci: u16) -> FlowKey {
        FlowKey {
            in_port,
            in_phy_port: in_port,
            eth_src: src,
            eth_dst: dst,
            eth_type: 0x0800,
            vlan_tci,
            ..FlowKey::default()
        }
    }

    struct Ports(Vec<(u32, PortVlanMode, bool, bool)>);

    impl Ports {
        fn plain(n: u32) -> Ports {
            Ports(
                (1..=n)
                    .map(|p| (p, PortVlanMode::All, true, true))
                    .collect(),
            )
        }
        fn view(&self) -> Vec<NormalPort<'_>> {
            self.0
                .iter()
                .map(|(p, m, flood, forward)| NormalPort {
                    port_no: *p,
                    vlan_mode: m,
                    flood: *flood,
                    forward: *forward,
                })
                .collect()
        }
    }

    fn run(t: &MacTable, ports: &Ports, key: &FlowKey, now: u64) -> NormalDecision {
        let mut mask = FlowMask::wildcard();
        decide(
            t,
            key,
            ports.view(),
            NormalOptions::default(),
            now,
            &mut mask,
        )
    }

    fn out_ports(d: &NormalDecision) -> Vec<u32> {
        d.outputs.iter().map(|o| o.port).collect()
    }

    #[test]
    fn unknown_unicast_floods_to_every_other_port_then_learned_reply_goes_direct() {
        let t = MacTable::new();
        let ports = Ports::plain(4);
        let d = run(&t, &ports, &frame(1, A, B, 0), 0);
        assert!(d.flooded);
        assert_eq!(out_ports(&d), vec![2, 3, 4]);
        assert_eq!(d.learn_outcome, LearnOutcome::New);
        let d = run(&t, &ports, &frame(3, B, A, 0), 10);
        assert!(!d.flooded);
        assert_eq!(out_ports(&d), vec![1]);
        assert_eq!(d.outputs[0].tci, None);
        let d = run(&t, &ports, &frame(1, A, B, 20), 20);
        assert_eq!(out_ports(&d), vec![3]);
    }

    #[test]
    fn broadcast_and_multicast_destinations_flood_even_when_known() {
        let t = MacTable::new();
        let ports = Ports::plain(3);
        t.learn(0, B, 2, 0);
        assert_eq!(
            out_ports(&run(&t, &ports, &frame(1, A, BCAST, 0), 0)),
            vec![2, 3]
        );
        assert_eq!(
            out_ports(&run(&t, &ports, &frame(1, A, MCAST, 0), 0)),
            vec![2, 3]
        );
    }

    #[test]
    fn multicast_sources_are_never_learned_and_their_frames_dropped() {
        let t = MacTable::new();
        assert_eq!(t.learn(0, MCAST, 1, 0), LearnOutcome::NotLearned);
        assert_eq!(t.learn(0, BCAST, 1, 0), LearnOutcome::NotLearned);
        assert!(t.is_empty());
        let d = run(&t, &Ports::plain(3), &frame(1, MCAST, A, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::MulticastSource));
        assert!(d.outputs.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn destination_learned_on_the_input_port_is_dropped() {
        let t = MacTable::new();
        t.learn(0, B, 1, 0);
        let d = run(&t, &Ports::plain(3), &frame(1, A, B, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::LearnedOnInputPort));
        assert!(d.outputs.is_empty());
    }

    #[test]
    fn mac_seen_on_another_port_moves_and_bumps_the_generation() {
        let t = MacTable::new();
        assert_eq!(t.learn(0, A, 1, 0), LearnOutcome::New);
        let g = t.generation();
        assert_eq!(t.learn(0, A, 1, 5), LearnOutcome::Refreshed);
        assert_eq!(t.generation(), g, "a refresh changes no decision");
        assert_eq!(t.learn(0, A, 2, 6), LearnOutcome::Moved(1));
        assert!(t.generation() > g);
        assert_eq!(t.lookup(0, A, 7), Some(2));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn entries_age_out_after_the_idle_time_and_refresh_extends_them() {
        let t = MacTable::with_config(1000, 16);
        t.learn(0, A, 1, 0);
        t.learn(0, B, 2, 500);
        assert_eq!(t.next_expiry_ms(), Some(1000));
        assert_eq!(t.lookup(0, A, 999), Some(1));
        let g = t.generation();
        assert_eq!(t.run(1000), 1);
        assert!(t.generation() > g);
        assert_eq!(t.lookup(0, A, 1000), None);
        assert!(t.refresh(
            &Learned {
                vlan: 0,
                mac: B,
                port: 2
            },
            1400
        ));
        assert_eq!(t.run(1600), 0);
        assert_eq!(t.lookup(0, B, 2399), Some(2));
        assert_eq!(t.lookup(0, B, 2400), None, "lazy expiry at lookup");
        assert!(t.is_empty());
    }

    #[test]
    fn idle_time_is_configurable_and_applies_to_existing_entries() {
        let t = MacTable::new();
        assert_eq!(t.idle_ms(), DEFAULT_IDLE_MS);
        t.learn(0, A, 1, 0);
        assert_eq!(t.lookup(0, A, DEFAULT_IDLE_MS - 1), Some(1));
        t.set_idle_ms(10);
        assert_eq!(t.run(10), 1);
    }

    #[test]
    fn full_table_evicts_the_least_recently_seen_entry() {
        let t = MacTable::with_config(DEFAULT_IDLE_MS, 2);
        t.learn(0, A, 1, 0);
        t.learn(0, B, 2, 1);
        t.learn(0, A, 1, 2); // A is now more recent than B
        let g = t.generation();
        assert_eq!(t.learn(0, C, 3, 3), LearnOutcome::New);
        assert!(t.generation() > g);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(0, B, 4), None);
        assert_eq!(t.lookup(0, A, 4), Some(1));
        assert_eq!(t.lookup(0, C, 4), Some(3));
        t.set_max_entries(1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(0, C, 5), Some(3));
        assert_eq!(MacTable::new().max_entries(), DEFAULT_MAX_ENTRIES);
    }

    #[test]
    fn zero_size_table_learns_nothing() {
        let t = MacTable::with_config(DEFAULT_IDLE_MS, 0);
        assert_eq!(t.learn(0, A, 1, 0), LearnOutcome::NotLearned);
        assert!(t.is_empty());
    }

    #[test]
    fn flushes_remove_entries_and_bump_only_when_something_went() {
        let t = MacTable::new();
        let g0 = t.generation();
        assert_eq!(t.flush(), 0);
        assert_eq!(t.generation(), g0);
        t.learn(0, A, 1, 0);
        t.learn(10, A, 2, 0);
        t.learn(10, B, 2, 0);
        t.learn(20, C, 3, 0);
        let g = t.generation();
        assert_eq!(t.flush_port(2), 2);
        assert!(t.generation() > g);
        assert_eq!(t.flush_vlan(20), 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.flush(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn same_mac_is_learned_separately_per_vlan() {
        let t = MacTable::new();
        t.learn(10, A, 1, 0);
        t.learn(20, A, 2, 0);
        assert_eq!(t.lookup(10, A, 1), Some(1));
        assert_eq!(t.lookup(20, A, 1), Some(2));
        assert_eq!(t.lookup(30, A, 1), None);
    }

    #[test]
    fn fdb_listing_shows_vlan_mac_port_and_age() {
        let t = MacTable::new();
        t.learn(20, B, 2, 1_000);
        t.learn(10, A, 1, 3_000);
        let e = t.entries(5_500);
        assert_eq!(
            e,
            vec![
                FdbEntry {
                    vlan: 10,
                    mac: A,
                    port: 1,
                    age_ms: 2_500
                },
                FdbEntry {
                    vlan: 20,
                    mac: B,
                    port: 2,
                    age_ms: 4_500
                },
            ]
        );
        assert_eq!(e[1].age_secs(), 4);
    }

    #[test]
    fn flood_respects_no_flood_no_fwd_and_down_ports() {
        let t = MacTable::new();
        let ports = Ports(vec![
            (1, PortVlanMode::All, true, true),
            (2, PortVlanMode::All, false, true), // no_flood
            (3, PortVlanMode::All, true, false), // no_fwd or down
            (4, PortVlanMode::All, true, true),
        ]);
        let d = run(&t, &ports, &frame(1, A, BCAST, 0), 0);
        assert_eq!(out_ports(&d), vec![4]);
        // A learned destination on a no_flood port is still reachable.
        t.learn(0, B, 2, 0);
        assert_eq!(out_ports(&run(&t, &ports, &frame(1, A, B, 0), 0)), vec![2]);
        // One learned on a port that cannot forward is flooded instead.
        t.learn(0, C, 3, 0);
        let d = run(&t, &ports, &frame(1, A, C, 0), 0);
        assert!(d.flooded);
        assert_eq!(out_ports(&d), vec![4]);
    }

    #[test]
    fn flood_with_no_other_port_drops() {
        let t = MacTable::new();
        let d = run(&t, &Ports::plain(1), &frame(1, A, BCAST, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::NoOtherPort));
    }

    #[test]
    fn unknown_input_port_drops_without_learning() {
        let t = MacTable::new();
        let d = run(&t, &Ports::plain(2), &frame(9, A, B, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::NoInputPort));
        assert!(t.is_empty());
    }

    #[test]
    fn reserved_group_destinations_are_dropped_unless_bpdus_forward() {
        let t = MacTable::new();
        let stp: Mac = [0x01, 0x80, 0xc2, 0, 0, 0];
        assert!(is_reserved_group(&stp));
        assert!(!is_reserved_group(&[0x01, 0x80, 0xc2, 0, 0, 0x10]));
        let ports = Ports::plain(3);
        let d = run(&t, &ports, &frame(1, A, stp, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::ReservedMulticast));
        let mut mask = FlowMask::wildcard();
        let opts = NormalOptions {
            learn: true,
            forward_bpdu: true,
        };
        let d = decide(&t, &frame(1, A, stp, 0), ports.view(), opts, 0, &mut mask);
        assert_eq!(out_ports(&d), vec![2, 3]);
    }

    fn vlan_ports() -> Ports {
        Ports(vec![
            (1, PortVlanMode::Access(10), true, true),
            (2, PortVlanMode::Access(10), true, true),
            (3, PortVlanMode::Access(20), true, true),
            (
                4,
                PortVlanMode::Trunk {
                    allowed: VlanSet::of([10, 20]),
                    native: None,
                },
                true,
                true,
            ),
            (
                5,
                PortVlanMode::Trunk {
                    allowed: VlanSet::of([20]),
                    native: Some(10),
                },
                true,
                true,
            ),
            (6, PortVlanMode::All, true, true),
        ])
    }

    #[test]
    fn access_port_floods_only_its_vlan_with_per_port_egress_tags() {
        let t = MacTable::new();
        let d = run(&t, &vlan_ports(), &frame(1, A, BCAST, 0), 0);
        assert_eq!(d.vlan, Some(10));
        let got: Vec<(u32, Option<u16>)> = d.outputs.iter().map(|o| (o.port, o.tci)).collect();
        assert_eq!(
            got,
            vec![
                (2, None),                    // same access VLAN: untagged
                (4, Some(VLAN_PRESENT | 10)), // trunk: tagged
                (5, None),                    // native VLAN 10: untagged
                (6, Some(VLAN_PRESENT | 10)), // all VLANs: tagged
            ]
        );
        assert_eq!(t.lookup(10, A, 0), Some(1));
        assert_eq!(t.lookup(0, A, 0), None);
    }

    #[test]
    fn access_port_drops_tagged_frames_but_admits_priority_tags() {
        let t = MacTable::new();
        let d = run(&t, &vlan_ports(), &frame(1, A, BCAST, VLAN_PRESENT | 20), 0);
        assert_eq!(d.drop, Some(NormalDrop::VlanNotAdmitted));
        let d = run(
            &t,
            &vlan_ports(),
            &frame(1, A, BCAST, VLAN_PRESENT | 0xa000),
            0,
        );
        assert_eq!(d.vlan, Some(10));
        // The priority of the frame survives into egress tags.
        let tagged = d.outputs.iter().find(|o| o.port == 4).unwrap();
        assert_eq!(tagged.tci, Some(VLAN_PRESENT | 0xa000 | 10));
    }

    #[test]
    fn trunk_takes_vlan_from_tag_and_rejects_vlans_it_does_not_carry() {
        let t = MacTable::new();
        let ports = vlan_ports();
        let d = run(&t, &ports, &frame(4, A, BCAST, VLAN_PRESENT | 20), 0);
        assert_eq!(d.vlan, Some(20));
        let got: Vec<(u32, Option<u16>)> = d.outputs.iter().map(|o| (o.port, o.tci)).collect();
        assert_eq!(
            got,
            vec![
                (3, None),
                (5, Some(VLAN_PRESENT | 20)),
                (6, Some(VLAN_PRESENT | 20))
            ]
        );
        let d = run(&t, &ports, &frame(4, A, BCAST, VLAN_PRESENT | 30), 0);
        assert_eq!(d.drop, Some(NormalDrop::VlanNotAdmitted));
        // Untagged on a trunk without native VLAN is VLAN 0, not carried here.
        let d = run(&t, &ports, &frame(4, A, BCAST, 0), 0);
        assert_eq!(d.drop, Some(NormalDrop::VlanNotAdmitted));
    }

    #[test]
    fn native_vlan_trunk_classifies_untagged_frames_into_the_native_vlan() {
        let t = MacTable::new();
        let d = run(&t, &vlan_ports(), &frame(5, A, BCAST, 0), 0);
        assert_eq!(d.vlan, Some(10));
        assert_eq!(out_ports(&d), vec![1, 2, 4, 6]);
        // A learned destination behind an access port gets the frame untagged.
        t.learn(10, B, 2, 0);
        let d = run(&t, &vlan_ports(), &frame(4, A, B, VLAN_PRESENT | 10), 0);
        assert_eq!(d.outputs.as_slice(), &[NormalOutput { port: 2, tci: None }]);
    }

    #[test]
    fn learned_port_outside_the_vlan_is_treated_as_unknown() {
        let t = MacTable::new();
        t.learn(20, B, 2, 0); // port 2 is an access port of VLAN 10
        let d = run(&t, &vlan_ports(), &frame(3, A, B, 0), 0);
        assert!(d.flooded);
        assert_eq!(out_ports(&d), vec![4, 5, 6]);
    }

    #[test]
    fn decision_masks_ports_addresses_and_vlan() {
        let t = MacTable::new();
        let mut mask = FlowMask::wildcard();
        let ports = Ports::plain(2);
        decide(
            &t,
            &frame(1, A, B, 0),
            ports.view(),
            NormalOptions::default(),
            0,
            &mut mask,
        );
        assert_eq!(mask.key.in_port, u32::MAX);
        assert_eq!(mask.key.eth_src, [0xff; 6]);
        assert_eq!(mask.key.eth_dst, [0xff; 6]);
        assert_eq!(mask.key.vlan_tci, VLAN_PRESENT | VLAN_VID_MASK);
        assert_eq!(mask.key.ipv4_dst, 0);
        assert_eq!(mask.key.tp_src, 0);
    }

    #[test]
    fn learning_off_leaves_the_table_alone() {
        let t = MacTable::new();
        let mut mask = FlowMask::wildcard();
        let opts = NormalOptions {
            learn: false,
            forward_bpdu: false,
        };
        let ports = Ports::plain(2);
        let d = decide(&t, &frame(1, A, B, 0), ports.view(), opts, 0, &mut mask);
        assert!(t.is_empty());
        assert_eq!(d.learned.map(|l| l.mac), Some(A));
        assert_eq!(d.learn_outcome, LearnOutcome::NotLearned);
    }

    #[test]
    fn normal_config_changes_move_the_generation_and_flush_reconfigured_ports() {
        let mut n = Normal::new();
        assert_eq!(n.port_config(7), &PortL2Config::default());
        n.macs().learn(0, A, 7, 0);
        n.macs().learn(0, B, 8, 0);
        let g = n.generation();
        n.set_no_flood(7, true);
        assert!(n.generation() > g);
        assert_eq!(n.macs().len(), 2, "flooding changes keep learned entries");
        let g = n.generation();
        n.set_vlan_mode(7, PortVlanMode::Access(5));
        assert!(n.generation() > g);
        assert_eq!(n.macs().lookup(0, A, 1), None);
        assert_eq!(n.port_config(7).vlan_mode, PortVlanMode::Access(5));
        assert!(n.port_config(7).no_flood);
        let g = n.generation();
        n.set_vlan_mode(7, PortVlanMode::Access(5));
        assert_eq!(n.generation(), g, "no change, no bump");
        n.set_forward_bpdu(true);
        assert!(n.options(true).forward_bpdu);
        n.remove_port(8);
        assert!(n.macs().is_empty());
        assert_eq!(n.port_config(8), &PortL2Config::default());
    }

    #[test]
    fn vlan_set_holds_exactly_what_was_inserted() {
        let mut s = VlanSet::of([0, 63, 64, 4095, 5000]);
        assert!(s.contains(0) && s.contains(63) && s.contains(64) && s.contains(4095));
        assert!(!s.contains(1) && !s.contains(5000));
        s.remove(63);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 64, 4095]);
        assert!(VlanSet::all().is_all() && !s.is_all());
    }

    #[test]
    fn learning_is_safe_from_many_threads() {
        let t = std::sync::Arc::new(MacTable::with_config(DEFAULT_IDLE_MS, 64));
        let handles: Vec<_> = (0..4u8)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for j in 0..200u8 {
                        t.learn(0, [2, 0, 0, 0, i, j], u32::from(i), u64::from(j));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(t.len(), 64);
    }
}
