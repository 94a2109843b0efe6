//! Translation (the upcall): runs a packet's flow key through the OpenFlow
//! pipeline and produces what the caches install and execution runs — flat
//! datapath actions with final field values, the mask of every key bit the
//! result depends on, whether the result may be cached, and the rules and
//! group buckets whose counters the packets must be credited to.
//!
//! Entry points: [`translate`] for a packet from a port (starting at table 0)
//! and [`translate_actions`] for a PACKET_OUT's action list.
//!
//! # Design note
//!
//! **Semantics.** OpenFlow 1.3.5 section 5: a packet starts at table 0 with an
//! empty action set. Each table's classifier lookup ORs the bits it examined
//! into the mask. A matching rule's instructions run in the fixed order meter,
//! apply-actions (executed at once, in order, on the working flow),
//! clear-actions, write-actions (merged into the action set), write-metadata,
//! goto-table (forward only). Without a goto the action set runs in the order
//! of section 5.10 and the walk ends. A miss without a table-miss rule drops
//! the packet and its action set. Group buckets run as action sets; an `ALL`
//! group runs every bucket on its own copy of the packet; `SELECT` hashes the
//! flow's addresses and ports (which go into the mask) to pick a live bucket
//! by weight; `FAST_FAILOVER` takes the first live bucket (liveness is port
//! state, part of the pipeline version, not of the mask).
//!
//! **The working flow and the commit.** Translation keeps a working copy of
//! the key that set-field, push/pop, TTL and metadata actions modify, so
//! later tables see the packet as modified. Field writes are not emitted when
//! they happen: they are recorded as *dirty* bits per field and, like Open
//! vSwitch's `commit_odp_actions`, emitted as `SetField`s carrying the working
//! flow's final values just before something observes the packet (an output,
//! a packet-in, a push or pop). Structural actions (push/pop of VLAN, MPLS
//! and PBB headers, TTL copies, queue selection) are emitted in place after
//! such a commit. Invariants:
//!
//! 1. Outside the dirty bits and the owed inverse actions (see Clones), the
//!    packet as the emitted actions leave it equals the working flow on
//!    every header the key describes.
//! 2. Every emitted value is a constant of the pipeline or a function of key
//!    bits already in the mask. A set-field does not read its field, so it
//!    does not mask it (only its prerequisites); a TTL decrement reads the
//!    TTL and masks it; emitting a value taken from the packet itself masks it.
//!
//! Invariant 2 is what makes megaflows correct: two keys that agree on the
//! mask take the same path through every lookup and decision and get the
//! same actions.
//!
//! **Clones.** A group bucket works on its own copy of the packet, but the
//! emitted actions run one after another on one packet. So a bucket runs
//! between `save` and `restore`: restoring puts the working flow back,
//! queues the inverse of every structural action the bucket emitted (emitted
//! only if something observes the packet later) and marks every field the
//! bucket both wrote and committed as dirty again (its value to emit is then
//! the packet's own, so it is masked), so the next commit re-establishes the
//! pre-bucket values. NORMAL's per-port VLAN rewrites use the same mechanism.
//!
//! **Bounds.** A walk can nest (group chains, `OFPP_TABLE` from a packet-out)
//! at most [`MAX_DEPTH`] deep and perform at most [`MAX_RESUBMITS`] table
//! lookups and bucket executions in total, and emit at most
//! [`MAX_ACTIONS`] datapath actions. Past a bound the translation becomes a
//! drop with the error recorded and counted: never a stack overflow, never an
//! unbounded action list.
//!
//! **Cacheability.** Every result of [`translate`] is cacheable: packet-ins,
//! meters and NORMAL's outputs are datapath actions that execution performs
//! per packet, and what NORMAL decided from the MAC table is covered by the
//! table's generation, which is part of the pipeline's epoch
//! ([`crate::ofproto::Pipeline::epoch`]). Errors are cached too (as drops):
//! they are as deterministic as any other result, and not caching them
//! would let a looping pipeline turn every packet into an upcall. A
//! packet-out's translation is never cached.
//!
//! **Side effects.** MAC learning is the only side effect. It happens when
//! [`XlateCtx::side_effects`] is set (upcalls) and not when a cache
//! revalidates an entry: re-translating a cached flow must not move a MAC
//! that a newer packet moved elsewhere. Cached flows keep their source's
//! entry fresh through [`Credits::credit`].
//!
//! **Known limits.** The key holds one MPLS label, two VLAN tags and no
//! payload of an MPLS packet that arrived labelled. Headers this translation
//! pushed are remembered beyond that, but those a packet arrived with are
//! not: after popping an arrived label the payload's fields (and the next
//! label) read as zero to later tables, and after popping two arrived tags
//! a third is not seen. TTL copies follow the working flow's view of the
//! inner TTL.
//!
//! **Tests** (in `xlate/tests.rs`) check each rule above on small pipelines,
//! and two properties on random pipelines and packets: every key that agrees
//! with a packet on its translation's mask gets the same translation (what
//! makes a megaflow correct), and running the emitted actions on a model of
//! the headers sends, at every output, exactly the packet the pipeline
//! meant to send there.

use crate::dpaction::{ControllerMeta, DpAction, DpActions, PacketInReason};
use crate::flow::{Field, FlowKey, FlowMask, VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use crate::normal::{self, Learned, NormalDecision, NormalPort};
use crate::ofproto::{
    Action, ActionSet, FragHandling, Group, GroupType, Pipeline, PortConfig, PortState, Rule,
    OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use smallvec::SmallVec;
use std::sync::Arc;

/// The deepest nesting of group chains and `OFPP_TABLE` walks.
pub const MAX_DEPTH: u32 = 64;
/// The most table lookups plus bucket executions in one translation.
pub const MAX_RESUBMITS: u32 = 4096;
/// The most datapath actions one translation may emit.
pub const MAX_ACTIONS: usize = 4096;
/// The table id reported for packet-ins that no table produced (packet-out).
pub const NO_TABLE: u8 = 0xff;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PBB: u16 = 0x88e7;
const ETH_VLAN: u16 = 0x8100;

/// Why a translation was cut short (the result is a drop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XlateError {
    /// Group chains or table walks nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More than [`MAX_RESUBMITS`] lookups and bucket executions.
    TooManyResubmits,
    /// More than [`MAX_ACTIONS`] datapath actions.
    TooManyActions,
}

/// Counters a forwarding thread keeps over its translations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XlateCounters {
    /// Translations performed.
    pub translations: u64,
    /// Translations cut short by [`XlateError::TooDeep`].
    pub too_deep: u64,
    /// Translations cut short by [`XlateError::TooManyResubmits`].
    pub too_many_resubmits: u64,
    /// Translations cut short by [`XlateError::TooManyActions`].
    pub too_many_actions: u64,
    /// TTL decrements that found an invalid TTL.
    pub invalid_ttl: u64,
    /// Packets dropped because their ingress port does not receive.
    pub no_recv: u64,
    /// Packets dropped as IP fragments (`OFPC_FRAG_DROP`).
    pub frag_drops: u64,
}

/// Per-thread translation context: options and counters.
#[derive(Clone, Debug)]
pub struct XlateCtx {
    /// Perform side effects (MAC learning). True for upcalls, false when
    /// revalidating a cached flow.
    pub side_effects: bool,
    /// Record [`Translation::trace`] (for `ofproto/trace`).
    pub trace: bool,
    /// Counters.
    pub counters: XlateCounters,
}

impl Default for XlateCtx {
    fn default() -> XlateCtx {
        XlateCtx::new()
    }
}

impl XlateCtx {
    /// Context for upcalls: side effects on, no trace.
    pub fn new() -> XlateCtx {
        XlateCtx {
            side_effects: true,
            trace: false,
            counters: XlateCounters::default(),
        }
    }

    /// Context for revalidation: no side effects, no trace.
    pub fn revalidation() -> XlateCtx {
        XlateCtx {
            side_effects: false,
            ..XlateCtx::new()
        }
    }

    /// Context for tracing: no side effects, trace recorded.
    pub fn tracing() -> XlateCtx {
        XlateCtx {
            side_effects: false,
            trace: true,
            counters: XlateCounters::default(),
        }
    }
}

/// What the packets of a translated flow are credited to.
#[derive(Clone, Debug, Default)]
pub struct Credits {
    /// Every rule the walk matched (a rule matched twice is listed twice).
    pub rules: SmallVec<[Arc<Rule>; 4]>,
    /// Every table looked up, with whether a rule matched.
    pub tables: SmallVec<[(u8, bool); 4]>,
    /// Every group the packet went through.
    pub groups: SmallVec<[Arc<Group>; 1]>,
    /// Every bucket executed: the group and the bucket's index.
    pub buckets: SmallVec<[(Arc<Group>, usize); 1]>,
    /// Source addresses NORMAL learned, refreshed by the flow's packets.
    pub learned: SmallVec<[Learned; 1]>,
}

impl Credits {
    /// Credits `packets` packets of `bytes` bytes seen at `now_ms` to every
    /// rule, table, group and bucket of the translation, and refreshes the
    /// MAC entries NORMAL learned from them. Does nothing for zero packets.
    pub fn credit(&self, pipeline: &Pipeline, packets: u64, bytes: u64, now_ms: u64) {
        if packets == 0 {
            return;
        }
        for r in &self.rules {
            r.credit(packets, bytes, now_ms);
        }
        for &(t, matched) in &self.tables {
            if let Some(table) = pipeline.table(t) {
                table.credit_lookups(packets, if matched { packets } else { 0 });
            }
        }
        for g in &self.groups {
            g.credit(packets, bytes);
        }
        for (g, i) in &self.buckets {
            g.credit_bucket(*i, packets, bytes);
        }
        for l in &self.learned {
            pipeline.normal().macs().refresh(l, now_ms);
        }
    }

    /// Whether both credit the same rules, groups and buckets (by identity)
    /// and the same tables.
    pub fn same_targets(&self, other: &Credits) -> bool {
        self.tables == other.tables
            && self.learned == other.learned
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && self.groups.len() == other.groups.len()
            && self
                .groups
                .iter()
                .zip(&other.groups)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && self.buckets.len() == other.buckets.len()
            && self
                .buckets
                .iter()
                .zip(&other.buckets)
                .all(|((a, i), (b, j))| Arc::ptr_eq(a, b) && i == j)
    }
}

/// One step of a translation, recorded when [`XlateCtx::trace`] is set.
#[derive(Clone, Debug)]
pub enum TraceEvent {
    /// A table lookup and the rule it found (`None`: miss, packet dropped).
    Lookup {
        /// The table.
        table_id: u8,
        /// The working flow as looked up.
        flow: FlowKey,
        /// The matching rule.
        rule: Option<Arc<Rule>>,
    },
    /// The action set is executed.
    ActionSet,
    /// A group, and the bucket chosen (`None` for all buckets of an `ALL`
    /// group, or no live bucket).
    Group {
        /// The group.
        group_id: u32,
        /// Its type.
        group_type: GroupType,
        /// The bucket used.
        bucket: Option<usize>,
    },
    /// A NORMAL decision.
    Normal(NormalDecision),
    /// A TTL decrement found an invalid TTL; the packet stops.
    InvalidTtl,
    /// The ingress port does not receive; the packet is dropped.
    NoRecv,
    /// The packet is an IP fragment and fragments are dropped.
    FragmentDropped,
    /// A copy of the packet leaves (to a port or the controller), as the
    /// working flow describes it.
    Output {
        /// The port (`OFPP_CONTROLLER` for a packet-in).
        port: u32,
        /// The packet's headers as sent.
        packet: FlowKey,
    },
    /// An output was skipped (port missing, not forwarding, the ingress port, ...).
    OutputSkipped {
        /// The port asked for.
        port: u32,
    },
    /// The translation was cut short.
    Error(XlateError),
}

/// The result of a translation.
#[derive(Clone, Debug)]
pub struct Translation {
    /// Datapath actions, flat and final; empty means drop.
    pub actions: DpActions,
    /// Every key bit the result depends on.
    pub mask: FlowMask,
    /// Whether the result may be installed in the caches.
    pub cacheable: bool,
    /// What the packets are credited to.
    pub credits: Credits,
    /// The walk, step by step (empty unless [`XlateCtx::trace`]).
    pub trace: Vec<TraceEvent>,
    /// Why the translation was cut short, if it was.
    pub error: Option<XlateError>,
}

impl Translation {
    /// Whether `self` and `other` decide the same for a packet: same
    /// actions, cacheability, error and credit targets. Masks may differ
    /// (two keys of one megaflow can be proved to miss a rule by different
    /// bits); compare them separately where the keys are equal.
    pub fn same_result(&self, other: &Translation) -> bool {
        self.actions == other.actions
            && self.cacheable == other.cacheable
            && self.error == other.error
            && self.credits.same_targets(&other.credits)
    }
}

/// Translates a packet received with flow key `key` at `now_ms` through
/// `pipeline`, starting at table 0.
///
/// The caller holds the pipeline's read lock; MAC learning (when
/// `ctx.side_effects`) goes through the MAC table's own lock.
pub fn translate(
    pipeline: &Pipeline,
    key: &FlowKey,
    now_ms: u64,
    ctx: &mut XlateCtx,
) -> Translation {
    let mut x = Xlate::new(pipeline, key, now_ms, ctx, false);
    if x.admit() {
        x.run_pipeline(0);
    }
    x.finish()
}

/// Translates the action list of a PACKET_OUT whose packet has flow key `key`
/// (its `in_port` may be a port, `OFPP_CONTROLLER` or `OFPP_ANY`). The
/// actions run as an apply-actions list; an output to `OFPP_TABLE` runs the
/// packet through the pipeline from table 0. The result is not cacheable.
pub fn translate_actions(
    pipeline: &Pipeline,
    key: &FlowKey,
    actions: &[Action],
    now_ms: u64,
    ctx: &mut XlateCtx,
) -> Translation {
    let mut x = Xlate::new(pipeline, key, now_ms, ctx, true);
    x.do_actions(actions);
    let mut t = x.finish();
    t.cacheable = false;
    t
}

/// Whether processing of the packet (or of its copy in a group bucket) goes
/// on after an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Continue,
    /// Stop processing this copy of the packet (invalid TTL, or an error,
    /// which `Xlate::error` records and which stops everything).
    Halt,
}

/// The rule whose actions are running, for packet-in metadata.
#[derive(Clone, Copy, Debug)]
struct RuleCtx {
    table_id: u8,
    cookie: u64,
    table_miss: bool,
}

const NO_RULE: RuleCtx = RuleCtx {
    table_id: NO_TABLE,
    cookie: u64::MAX,
    table_miss: false,
};

/// Field bits written since the last commit: (field, bits, whether emitting
/// the value must mask the field because the value came from the packet).
#[derive(Clone, Debug, Default)]
struct Dirty(SmallVec<[(Field, u128, bool); 8]>);

impl Dirty {
    fn add(&mut self, field: Field, bits: u128, needs_mask: bool) {
        if let Some(e) = self.0.iter_mut().find(|e| e.0 == field) {
            e.1 |= bits;
            e.2 |= needs_mask;
        } else {
            self.0.push((field, bits, needs_mask));
        }
    }
}

/// What a PBB header pushed by this translation covers, for a later pop to
/// bring back (the key has no room for it while the backbone header is on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PbbInner {
    eth_type: u16,
    vlan_tci: u16,
    vlan_tci_inner: u16,
    vlan_tpid: u16,
    vlan_below: SmallVec<[u16; 2]>,
}

/// A snapshot taken before a packet copy (group bucket, NORMAL output) runs.
#[derive(Clone, Debug)]
struct Saved {
    flow: FlowKey,
    dirty: Dirty,
    undo_len: usize,
    commit_len: usize,
    write_len: usize,
    queue: u32,
    mpls_below: SmallVec<[u32; 2]>,
    vlan_below: SmallVec<[u16; 2]>,
    pbb_inner: SmallVec<[PbbInner; 1]>,
}

/// The state of one translation.
struct Xlate<'p, 'c> {
    p: &'p Pipeline,
    ctx: &'c mut XlateCtx,
    now_ms: u64,
    packet_out: bool,
    /// The working flow.
    flow: FlowKey,
    dirty: Dirty,
    mask: FlowMask,
    out: DpActions,
    /// Inverses of the structural actions emitted, newest last.
    undo_log: SmallVec<[DpAction; 4]>,
    /// Fields committed (emitted), in order; never truncated.
    commit_log: SmallVec<[Field; 8]>,
    /// Fields written in the working flow, in order; never truncated.
    write_log: SmallVec<[Field; 8]>,
    /// Inverse actions owed before the next observation of the packet.
    pending: SmallVec<[DpAction; 2]>,
    queue: u32,
    /// Labels pushed under the top one by this translation, innermost first.
    mpls_below: SmallVec<[u32; 2]>,
    /// Tags pushed below the inner one, innermost first.
    vlan_below: SmallVec<[u16; 2]>,
    pbb_inner: SmallVec<[PbbInner; 1]>,
    rule: RuleCtx,
    credits: Credits,
    trace: Vec<TraceEvent>,
    depth: u32,
    resubmits: u32,
    error: Option<XlateError>,
}

impl<'p, 'c> Xlate<'p, 'c> {
    fn new(
        p: &'p Pipeline,
        key: &FlowKey,
        now_ms: u64,
        ctx: &'c mut XlateCtx,
        packet_out: bool,
    ) -> Xlate<'p, 'c> {
        ctx.counters.translations += 1;
        Xlate {
            p,
            ctx,
            now_ms,
            packet_out,
            flow: *key,
            dirty: Dirty::default(),
            mask: FlowMask::wildcard(),
            out: DpActions::new(),
            undo_log: SmallVec::new(),
            commit_log: SmallVec::new(),
            write_log: SmallVec::new(),
            pending: SmallVec::new(),
            queue: 0,
            mpls_below: SmallVec::new(),
            vlan_below: SmallVec::new(),
            pbb_inner: SmallVec::new(),
            rule: NO_RULE,
            credits: Credits::default(),
            trace: Vec::new(),
            depth: 0,
            resubmits: 0,
            error: None,
        }
    }

    fn trace(&mut self, ev: impl FnOnce(&Self) -> TraceEvent) {
        if self.ctx.trace {
            let e = ev(self);
            self.trace.push(e);
        }
    }

    fn fail(&mut self, e: XlateError) -> Step {
        if self.error.is_none() {
            self.error = Some(e);
            let c = &mut self.ctx.counters;
            match e {
                XlateError::TooDeep => c.too_deep += 1,
                XlateError::TooManyResubmits => c.too_many_resubmits += 1,
                XlateError::TooManyActions => c.too_many_actions += 1,
            }
            self.trace(|_| TraceEvent::Error(e));
        }
        Step::Halt
    }

    fn finish(mut self) -> Translation {
        if self.error.is_some() {
            self.out.clear();
        }
        // Nothing observes the packet after the last output: drop the tail.
        let keep = self
            .out
            .iter()
            .rposition(|a| a.is_output() || matches!(a, DpAction::Meter(_)))
            .map_or(0, |i| i + 1);
        self.out.truncate(keep);
        Translation {
            actions: self.out,
            mask: self.mask,
            cacheable: true,
            credits: self.credits,
            trace: self.trace,
            error: self.error,
        }
    }

    // ----------------------------------------------------------------------
    // Ingress.

    /// Ingress checks before table 0: a port that does not receive, and IP
    /// fragments when the switch drops them. Returns whether to go on.
    fn admit(&mut self) -> bool {
        if self.p.ports().any(|p| !p.can_receive()) {
            self.mask.set_exact(Field::InPort);
            if self
                .p
                .port(self.flow.in_port)
                .is_some_and(|p| !p.can_receive())
            {
                self.ctx.counters.no_recv += 1;
                self.trace(|_| TraceEvent::NoRecv);
                return false;
            }
        }
        if self.p.config().frag_handling() == FragHandling::Drop {
            self.mask
                .or_field(Field::NwFrag, u128::from(crate::flow::frag::ANY));
            if self.flow.nw_frag & crate::flow::frag::ANY != 0 {
                self.ctx.counters.frag_drops += 1;
                self.trace(|_| TraceEvent::FragmentDropped);
                return false;
            }
        }
        true
    }

    // ----------------------------------------------------------------------
    // The pipeline walk.

    /// Walks the tables from `table_id` with a fresh action set.
    fn run_pipeline(&mut self, table_id: u8) -> Step {
        let p = self.p;
        let mut aset = ActionSet::new();
        let mut table = table_id;
        loop {
            self.resubmits += 1;
            if self.resubmits > MAX_RESUBMITS {
                return self.fail(XlateError::TooManyResubmits);
            }
            let Some(t) = p.table(table) else {
                return Step::Continue;
            };
            let found = t.lookup(&self.flow, &mut self.mask);
            self.credits.tables.push((table, found.is_some()));
            self.trace(|x| TraceEvent::Lookup {
                table_id: table,
                flow: x.flow,
                rule: found.cloned(),
            });
            let Some(rule) = found else {
                // Table miss without a table-miss rule: drop, action set included.
                return Step::Continue;
            };
            self.credits.rules.push(Arc::clone(rule));
            self.rule = RuleCtx {
                table_id: table,
                cookie: rule.cookie,
                table_miss: rule.is_table_miss(),
            };
            let ins = &rule.instructions;
            if let Some(m) = ins.meter {
                self.emit(DpAction::Meter(m));
            }
            if let Some(actions) = &ins.apply_actions {
                if self.do_actions(actions) == Step::Halt {
                    return Step::Halt;
                }
            }
            if ins.clear_actions {
                aset.clear();
            }
            if let Some(w) = &ins.write_actions {
                aset.write(w);
            }
            if let Some((value, mask)) = ins.write_metadata {
                self.flow.metadata = (self.flow.metadata & !mask) | (value & mask);
            }
            match ins.goto_table {
                Some(next) if next > table => table = next,
                _ => break,
            }
        }
        if aset.is_empty() {
            return Step::Continue;
        }
        self.trace(|_| TraceEvent::ActionSet);
        for a in aset.iter() {
            if self.do_action(a) == Step::Halt {
                return Step::Halt;
            }
        }
        Step::Continue
    }

    fn do_actions(&mut self, actions: &[Action]) -> Step {
        for a in actions {
            if self.do_action(a) == Step::Halt {
                return Step::Halt;
            }
        }
        Step::Continue
    }

    fn do_action(&mut self, a: &Action) -> Step {
        if self.error.is_some() {
            return Step::Halt;
        }
        match *a {
            Action::Output { port, max_len } => self.output(port, max_len),
            Action::Group(g) => return self.group(g),
            Action::SetField { field, value, mask } => self.set_field(field, value, mask),
            Action::DecNwTtl => return self.dec_nw_ttl(),
            Action::DecMplsTtl => return self.dec_mpls_ttl(),
            Action::SetNwTtl(ttl) => {
                if self.is_ip() {
                    self.flow.nw_ttl = ttl;
                    self.mark(Field::NwTtl, 0xff);
                }
            }
            Action::SetMplsTtl(ttl) => {
                if self.is_mpls() {
                    Field::MplsTtl.set(&mut self.flow, u128::from(ttl));
                    self.mark(Field::MplsTtl, 0xff);
                }
            }
            Action::PushVlan(tpid) => self.push_vlan(tpid),
            Action::PopVlan => self.pop_vlan(),
            Action::PushMpls(ethertype) => self.push_mpls(ethertype),
            Action::PopMpls(ethertype) => self.pop_mpls(ethertype),
            Action::PushPbb(_) => self.push_pbb(),
            Action::PopPbb => self.pop_pbb(),
            Action::CopyTtlOut => self.copy_ttl(false),
            Action::CopyTtlIn => self.copy_ttl(true),
            Action::SetQueue(q) => self.set_queue(q),
        }
        if self.error.is_some() {
            Step::Halt
        } else {
            Step::Continue
        }
    }

    // ----------------------------------------------------------------------
    // Reading the working flow (and masking what is read).

    fn read_eth_type(&mut self) -> u16 {
        self.mask.set_exact(Field::EthType);
        self.flow.eth_type
    }

    fn is_ip(&mut self) -> bool {
        matches!(self.read_eth_type(), ETH_IPV4 | ETH_IPV6)
    }

    fn is_mpls(&mut self) -> bool {
        matches!(self.read_eth_type(), ETH_MPLS | ETH_MPLS_MC)
    }

    fn has_vlan(&mut self) -> bool {
        self.mask.or_field(Field::VlanVid, u128::from(VLAN_PRESENT));
        self.flow.vlan_tci & VLAN_PRESENT != 0
    }

    fn read_in_port(&mut self) -> u32 {
        self.mask.set_exact(Field::InPort);
        self.flow.in_port
    }

    /// Whether `field`'s prerequisites hold on the working flow (reading,
    /// hence masking, the fields they name).
    fn prerequisites_hold(&mut self, field: Field) -> bool {
        if matches!(field, Field::VlanVid | Field::VlanPcp) {
            return self.has_vlan();
        }
        for &(pf, allowed) in field.prerequisites() {
            if pf == Field::VlanVid && allowed.is_empty() {
                if !self.has_vlan() {
                    return false;
                }
                continue;
            }
            self.mask.set_exact(pf);
            if !allowed.contains(&pf.get(&self.flow)) {
                return false;
            }
        }
        true
    }

    // ----------------------------------------------------------------------
    // Emission and the commit.

    fn emit(&mut self, a: DpAction) {
        if self.out.len() >= MAX_ACTIONS {
            self.fail(XlateError::TooManyActions);
            return;
        }
        self.out.push(a);
    }

    /// Emits the inverse actions owed by restored packet copies, masking the
    /// packet values they carry.
    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for a in pending {
            match &a {
                DpAction::PushVlan { .. } => {
                    self.mask.key.vlan_tci = u16::MAX;
                    self.mask.key.vlan_tpid = u16::MAX;
                }
                DpAction::PushMpls { .. } => {
                    self.mask.key.mpls_lse = u32::MAX;
                    self.mask.set_exact(Field::EthType);
                }
                DpAction::PopMpls { .. } => self.mask.set_exact(Field::EthType),
                DpAction::PushPbb { .. } => self.mask.set_exact(Field::PbbIsid),
                _ => {}
            }
            self.emit(a);
        }
    }

    /// Brings the packet up to date with the working flow: owed inverses,
    /// then one `SetField` per dirty field with its final value.
    fn commit(&mut self) {
        self.flush_pending();
        if self.dirty.0.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty).0;
        dirty.sort_unstable_by_key(|e| e.0);
        for (field, bits, needs_mask) in dirty {
            if needs_mask {
                self.mask.or_field(field, bits);
            }
            self.commit_log.push(field);
            // A tag pushed since the last commit takes its final TCI directly.
            if matches!(field, Field::VlanVid | Field::VlanPcp) {
                if let Some(DpAction::PushVlan { tci, .. }) = self.out.last_mut() {
                    *tci = self.flow.vlan_tci | VLAN_PRESENT;
                    continue;
                }
            }
            let value = field.get(&self.flow) & bits;
            self.emit(DpAction::SetField {
                field,
                value,
                mask: bits,
            });
        }
    }

    /// Emits an output to `port` (the caller committed).
    fn emit_output(&mut self, port: u32) {
        self.emit(DpAction::Output(port));
        self.trace(|x| TraceEvent::Output {
            port,
            packet: x.flow,
        });
    }

    /// Records a write of `bits` of `field` in the working flow.
    fn mark(&mut self, field: Field, bits: u128) {
        self.dirty.add(field, bits, false);
        self.write_log.push(field);
    }

    /// Emits a structural action, logging its inverse. The caller committed
    /// before changing the working flow.
    fn emit_structural(&mut self, a: DpAction, undo: DpAction) {
        self.emit(a);
        self.undo_log.push(undo);
    }

    /// Records that an emitted action changed `field` in the packet in a way
    /// no inverse action undoes, so that restoring a copy rewrites it.
    fn clobbered(&mut self, field: Field) {
        self.commit_log.push(field);
        self.write_log.push(field);
    }

    fn save(&self) -> Saved {
        Saved {
            flow: self.flow,
            dirty: self.dirty.clone(),
            undo_len: self.undo_log.len(),
            commit_len: self.commit_log.len(),
            write_len: self.write_log.len(),
            queue: self.queue,
            mpls_below: self.mpls_below.clone(),
            vlan_below: self.vlan_below.clone(),
            pbb_inner: self.pbb_inner.clone(),
        }
    }

    /// Returns to the packet as it was at `s` (see the design note).
    fn restore(&mut self, s: Saved) {
        while self.undo_log.len() > s.undo_len {
            if let Some(u) = self.undo_log.pop() {
                self.pending.push(u);
            }
        }
        // A field the copy committed is back to the saved value unless the
        // copy also wrote it; a field it wrote and committed deviates.
        let committed = self.commit_log.get(s.commit_len..).unwrap_or(&[]);
        let written = self.write_log.get(s.write_len..).unwrap_or(&[]);
        let mut dirty = Dirty(
            s.dirty
                .0
                .into_iter()
                .filter(|e| !committed.contains(&e.0))
                .collect(),
        );
        for &f in committed {
            if written.contains(&f) {
                dirty.add(f, f.max_value(), true);
            }
        }
        self.dirty = dirty;
        self.flow = s.flow;
        self.queue = s.queue;
        self.mpls_below = s.mpls_below;
        self.vlan_below = s.vlan_below;
        self.pbb_inner = s.pbb_inner;
    }

    // ----------------------------------------------------------------------
    // Field actions.

    fn set_field(&mut self, field: Field, value: u128, mask: Option<u128>) {
        let mut bits = mask.unwrap_or(u128::MAX) & field.max_value();
        match field {
            Field::InPort | Field::InPhyPort => return,
            Field::Metadata => {
                let m = u64::try_from(bits).unwrap_or(u64::MAX);
                let v = u64::try_from(value & bits).unwrap_or(0);
                self.flow.metadata = (self.flow.metadata & !m) | v;
                return;
            }
            // The presence bit is the tag's existence, not a header bit.
            Field::VlanVid => bits &= u128::from(VLAN_VID_MASK),
            _ => {}
        }
        if bits == 0 || !self.prerequisites_hold(field) {
            return;
        }
        let old = field.get(&self.flow);
        field.set(&mut self.flow, (old & !bits) | (value & bits));
        self.mark(field, bits);
    }

    /// Handles a TTL that a decrement finds at 0 or 1: the packet stops, and
    /// goes to the controller if the switch is configured so.
    fn invalid_ttl(&mut self) -> Step {
        self.ctx.counters.invalid_ttl += 1;
        self.trace(|_| TraceEvent::InvalidTtl);
        if self.p.config().invalid_ttl_to_controller() {
            let max_len = self.p.config().miss_send_len;
            self.send_to_controller(PacketInReason::InvalidTtl, max_len);
        }
        Step::Halt
    }

    fn dec_nw_ttl(&mut self) -> Step {
        if !self.is_ip() {
            return Step::Continue;
        }
        self.mask.set_exact(Field::NwTtl);
        if self.flow.nw_ttl <= 1 {
            return self.invalid_ttl();
        }
        self.flow.nw_ttl -= 1;
        self.mark(Field::NwTtl, 0xff);
        Step::Continue
    }

    fn dec_mpls_ttl(&mut self) -> Step {
        if !self.is_mpls() {
            return Step::Continue;
        }
        self.mask.set_exact(Field::MplsTtl);
        let ttl = self.flow.mpls_lse & 0xff;
        if ttl <= 1 {
            return self.invalid_ttl();
        }
        self.flow.mpls_lse = (self.flow.mpls_lse & !0xff) | (ttl - 1);
        self.mark(Field::MplsTtl, 0xff);
        Step::Continue
    }

    fn set_queue(&mut self, q: u32) {
        let prev = self.queue;
        self.queue = q;
        self.commit();
        self.emit_structural(DpAction::SetQueue(q), DpAction::SetQueue(prev));
    }

    // ----------------------------------------------------------------------
    // Structural actions. Each commits before it changes the working flow,
    // so that pending writes land on the header they were made to.

    fn push_vlan(&mut self, tpid: u16) {
        let tci = if self.has_vlan() {
            self.mask.set_exact(Field::VlanVid);
            self.mask.set_exact(Field::VlanPcp);
            self.flow.vlan_tci
        } else {
            VLAN_PRESENT
        };
        self.commit();
        self.shift_vlan_in();
        self.flow.vlan_tci = tci;
        self.flow.vlan_tpid = tpid;
        self.emit_structural(DpAction::PushVlan { tpid, tci }, DpAction::PopVlan);
    }

    /// Makes room for a new outer tag: the outer becomes the inner one and a
    /// present inner tag goes below, where the key cannot hold it.
    fn shift_vlan_in(&mut self) {
        let f = &mut self.flow;
        if f.vlan_tci_inner & VLAN_PRESENT != 0 {
            self.vlan_below.push(f.vlan_tci_inner);
        }
        f.vlan_tci_inner = if f.vlan_tci & VLAN_PRESENT != 0 {
            f.vlan_tci
        } else {
            0
        };
    }

    /// Pushes, pops or rewrites so that the outer tag becomes `want`
    /// (`None`: untagged), as NORMAL's egress to a port needs.
    fn set_outer_vlan(&mut self, want: Option<u16>) {
        let has = self.has_vlan();
        match (has, want) {
            (false, None) => {}
            (true, None) => self.pop_vlan(),
            (false, Some(tci)) => {
                self.commit();
                let tci = tci | VLAN_PRESENT;
                self.shift_vlan_in();
                self.flow.vlan_tci = tci;
                self.flow.vlan_tpid = ETH_VLAN;
                self.emit_structural(
                    DpAction::PushVlan {
                        tpid: ETH_VLAN,
                        tci,
                    },
                    DpAction::PopVlan,
                );
            }
            (true, Some(tci)) => {
                let cur = self.flow.vlan_tci;
                if (cur ^ tci) & VLAN_VID_MASK != 0 {
                    self.flow.vlan_tci = (cur & !VLAN_VID_MASK) | (tci & VLAN_VID_MASK);
                    self.mark(Field::VlanVid, u128::from(VLAN_VID_MASK));
                }
                if (cur ^ tci) & VLAN_PCP_MASK != 0 {
                    self.flow.vlan_tci =
                        (self.flow.vlan_tci & !VLAN_PCP_MASK) | (tci & VLAN_PCP_MASK);
                    self.mark(Field::VlanPcp, 7);
                }
            }
        }
    }

    fn pop_vlan(&mut self) {
        if !self.has_vlan() {
            return;
        }
        // The inner tag (or its absence) becomes the outer one, where later
        // lookups read it: it is read now.
        self.mask.key.vlan_tci_inner = u16::MAX;
        self.commit();
        // The inverse re-pushes this very tag (its values masked if emitted).
        let undo = DpAction::PushVlan {
            tpid: self.flow.vlan_tpid,
            tci: self.flow.vlan_tci,
        };
        let below = self.vlan_below.pop().unwrap_or(0);
        let f = &mut self.flow;
        f.vlan_tci = f.vlan_tci_inner;
        f.vlan_tci_inner = below;
        f.vlan_tpid = if f.vlan_tci & VLAN_PRESENT != 0 {
            ETH_VLAN
        } else {
            0
        };
        self.emit_structural(DpAction::PopVlan, undo);
    }

    fn push_mpls(&mut self, ethertype: u16) {
        let old_type = self.read_eth_type();
        let lse = if matches!(old_type, ETH_MPLS | ETH_MPLS_MC) {
            // Copy label, TC and TTL of the current top; not bottom of stack.
            self.mask.key.mpls_lse = u32::MAX;
            self.flow.mpls_lse & !0x100
        } else {
            let ttl = if matches!(old_type, ETH_IPV4 | ETH_IPV6) {
                self.mask.set_exact(Field::NwTtl);
                u32::from(self.flow.nw_ttl)
            } else {
                64
            };
            0x100 | ttl
        };
        self.commit();
        if matches!(old_type, ETH_MPLS | ETH_MPLS_MC) {
            self.mpls_below.push(self.flow.mpls_lse);
        }
        self.flow.mpls_lse = lse;
        self.flow.eth_type = ethertype;
        self.emit_structural(
            DpAction::PushMpls { ethertype, lse },
            DpAction::PopMpls {
                ethertype: old_type,
            },
        );
    }

    fn pop_mpls(&mut self, ethertype: u16) {
        let old_type = self.read_eth_type();
        if !matches!(old_type, ETH_MPLS | ETH_MPLS_MC) {
            return;
        }
        self.mask.or_field(Field::MplsBos, 1);
        self.commit();
        let old_lse = self.flow.mpls_lse;
        self.flow.mpls_lse = if old_lse & 0x100 == 0 {
            self.mpls_below.pop().unwrap_or(0)
        } else {
            0
        };
        self.flow.eth_type = ethertype;
        self.emit_structural(
            DpAction::PopMpls { ethertype },
            DpAction::PushMpls {
                ethertype: old_type,
                lse: old_lse,
            },
        );
    }

    fn push_pbb(&mut self) {
        let old_type = self.read_eth_type();
        let isid = if old_type == ETH_PBB {
            self.mask.set_exact(Field::PbbIsid);
            self.flow.pbb_isid & 0xff_ffff
        } else {
            0
        };
        self.commit();
        let f = &mut self.flow;
        self.pbb_inner.push(PbbInner {
            eth_type: f.eth_type,
            vlan_tci: f.vlan_tci,
            vlan_tci_inner: f.vlan_tci_inner,
            vlan_tpid: f.vlan_tpid,
            vlan_below: std::mem::take(&mut self.vlan_below),
        });
        f.eth_type = ETH_PBB;
        f.pbb_isid = isid;
        f.vlan_tci = 0;
        f.vlan_tci_inner = 0;
        f.vlan_tpid = 0;
        self.emit_structural(DpAction::PushPbb { isid }, DpAction::PopPbb);
    }

    fn pop_pbb(&mut self) {
        if self.read_eth_type() != ETH_PBB {
            return;
        }
        self.commit();
        let isid = self.flow.pbb_isid & 0xff_ffff;
        let inner = self.pbb_inner.pop().unwrap_or_default();
        let f = &mut self.flow;
        f.eth_type = inner.eth_type;
        f.vlan_tci = inner.vlan_tci;
        f.vlan_tci_inner = inner.vlan_tci_inner;
        f.vlan_tpid = inner.vlan_tpid;
        f.pbb_isid = 0;
        self.vlan_below = inner.vlan_below;
        self.emit_structural(DpAction::PopPbb, DpAction::PushPbb { isid });
        // Re-pushing takes the customer addresses as backbone addresses.
        self.clobbered(Field::EthSrc);
        self.clobbered(Field::EthDst);
    }

    fn copy_ttl(&mut self, inwards: bool) {
        if !self.is_mpls() {
            return;
        }
        self.mask.key.mpls_lse |= 0x1ff;
        self.commit();
        let bos = self.flow.mpls_lse & 0x100 != 0;
        if inwards {
            let ttl = self.flow.mpls_lse & 0xff;
            if bos {
                self.flow.nw_ttl = u8::try_from(ttl).unwrap_or(u8::MAX);
            } else if let Some(below) = self.mpls_below.last_mut() {
                *below = (*below & !0xff) | ttl;
            }
        } else {
            let ttl = if bos {
                self.mask.set_exact(Field::NwTtl);
                Some(u32::from(self.flow.nw_ttl))
            } else {
                self.mpls_below.last().map(|b| b & 0xff)
            };
            if let Some(ttl) = ttl {
                self.flow.mpls_lse = (self.flow.mpls_lse & !0xff) | ttl;
            }
        }
        self.emit(if inwards {
            DpAction::CopyTtlIn
        } else {
            DpAction::CopyTtlOut
        });
        // A copy has no inverse action: restoring rewrites both TTLs.
        self.clobbered(Field::NwTtl);
        self.clobbered(Field::MplsTtl);
    }

    // ----------------------------------------------------------------------
    // Outputs.

    fn output(&mut self, port: u32, max_len: u16) {
        match port {
            OFPP_IN_PORT => {
                let in_port = self.read_in_port();
                self.output_to(in_port);
            }
            OFPP_TABLE => {
                if self.packet_out {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        self.fail(XlateError::TooDeep);
                        return;
                    }
                    let saved_rule = self.rule;
                    self.run_pipeline(0);
                    self.rule = saved_rule;
                    self.depth -= 1;
                } else {
                    self.trace(|_| TraceEvent::OutputSkipped { port });
                }
            }
            OFPP_NORMAL => self.normal(),
            OFPP_FLOOD | OFPP_ALL => self.flood(port == OFPP_ALL),
            OFPP_CONTROLLER => {
                let reason = if self.rule.table_miss {
                    PacketInReason::NoMatch
                } else {
                    PacketInReason::Action
                };
                self.send_to_controller(reason, max_len);
            }
            OFPP_ANY => self.trace(|_| TraceEvent::OutputSkipped { port }),
            _ => {
                // A port number (or LOCAL): never the ingress port itself.
                if self.read_in_port() == port {
                    self.trace(|_| TraceEvent::OutputSkipped { port });
                } else {
                    self.output_to(port);
                }
            }
        }
    }

    /// Outputs to `port` if it exists and forwards (`OFPP_LOCAL` without a
    /// port entry is the local port of the bridge and always forwards).
    fn output_to(&mut self, port: u32) {
        let ok = match self.p.port(port) {
            Some(p) => p.can_forward(),
            None => port == OFPP_LOCAL,
        };
        if !ok {
            self.trace(|_| TraceEvent::OutputSkipped { port });
            return;
        }
        self.commit();
        self.emit_output(port);
    }

    /// `OFPP_ALL` (every forwarding port but the ingress one) or
    /// `OFPP_FLOOD` (also skipping `no_flood` and blocked ports).
    fn flood(&mut self, all: bool) {
        let in_port = self.read_in_port();
        let p = self.p;
        let normal = p.normal();
        for port in p.ports() {
            if port.port_no == in_port || !port.can_forward() {
                continue;
            }
            if !all
                && (normal.port_config(port.port_no).no_flood
                    || port.state.contains(PortState::BLOCKED))
            {
                continue;
            }
            self.commit();
            self.emit_output(port.port_no);
            if self.error.is_some() {
                return;
            }
        }
    }

    fn send_to_controller(&mut self, reason: PacketInReason, max_len: u16) {
        let in_port = self.read_in_port();
        if self
            .p
            .port(in_port)
            .is_some_and(|p| p.config.contains(PortConfig::NO_PACKET_IN))
        {
            self.trace(|_| TraceEvent::OutputSkipped {
                port: OFPP_CONTROLLER,
            });
            return;
        }
        self.mask.set_exact(Field::Metadata);
        self.mask.set_exact(Field::TunnelId);
        self.commit();
        let meta = ControllerMeta {
            reason,
            max_len,
            table_id: self.rule.table_id,
            cookie: self.rule.cookie,
            metadata: self.flow.metadata,
            tunnel_id: self.flow.tunnel_id,
            in_port,
        };
        self.emit(DpAction::ToController(meta));
        self.trace(|x| TraceEvent::Output {
            port: OFPP_CONTROLLER,
            packet: x.flow,
        });
    }

    fn normal(&mut self) {
        let p = self.p;
        let normal = p.normal();
        let ports: SmallVec<[NormalPort<'_>; 16]> = p
            .ports()
            .map(|port| {
                let cfg = normal.port_config(port.port_no);
                let blocked = port.state.contains(PortState::BLOCKED);
                NormalPort {
                    port_no: port.port_no,
                    vlan_mode: &cfg.vlan_mode,
                    flood: !cfg.no_flood && !blocked,
                    forward: port.can_forward() && !blocked,
                }
            })
            .collect();
        let opts = normal.options(self.ctx.side_effects);
        let decision = normal::decide(
            normal.macs(),
            &self.flow,
            ports.iter().copied(),
            opts,
            self.now_ms,
            &mut self.mask,
        );
        if let Some(l) = decision.learned {
            if !self.credits.learned.contains(&l) {
                self.credits.learned.push(l);
            }
        }
        let mut outputs = decision.outputs.clone();
        self.trace(|_| TraceEvent::Normal(decision));
        if outputs.is_empty() {
            return;
        }
        // Untagged egress first, then by tag, so tags change least often.
        outputs.sort_by_key(|o| (o.tci.is_some(), o.tci, o.port));
        let saved = self.save();
        for o in outputs {
            self.set_outer_vlan(o.tci);
            self.commit();
            self.emit_output(o.port);
            if self.error.is_some() {
                return;
            }
        }
        self.restore(saved);
    }

    // ----------------------------------------------------------------------
    // Groups.

    fn group(&mut self, group_id: u32) -> Step {
        let p = self.p;
        let Some(g) = p.group(group_id) else {
            return Step::Continue;
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(XlateError::TooDeep);
        }
        self.credits.groups.push(Arc::clone(g));
        match g.group_type {
            GroupType::All => {
                self.trace(|_| TraceEvent::Group {
                    group_id,
                    group_type: g.group_type,
                    bucket: None,
                });
                for i in 0..g.buckets.len() {
                    self.bucket(g, i);
                    if self.error.is_some() {
                        break;
                    }
                }
            }
            GroupType::Indirect => self.single_bucket(g, (!g.buckets.is_empty()).then_some(0)),
            GroupType::FastFailover => self.single_bucket(g, p.first_live_bucket(g)),
            GroupType::Select => {
                let live: SmallVec<[usize; 8]> = g
                    .buckets
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.weight != 0 && p.bucket_live(b))
                    .map(|(i, _)| i)
                    .collect();
                let chosen = match live.as_slice() {
                    [] => None,
                    // One candidate: the choice reads nothing of the packet.
                    [only] => Some(*only),
                    _ => {
                        let hash = self.select_hash();
                        p.select_bucket(g, hash)
                    }
                };
                self.single_bucket(g, chosen);
            }
        }
        self.depth -= 1;
        if self.error.is_some() {
            Step::Halt
        } else {
            Step::Continue
        }
    }

    fn single_bucket(&mut self, g: &Arc<Group>, index: Option<usize>) {
        self.trace(|_| TraceEvent::Group {
            group_id: g.group_id,
            group_type: g.group_type,
            bucket: index,
        });
        if let Some(i) = index {
            self.bucket(g, i);
        }
    }

    /// Runs bucket `index` of `g` on its own copy of the packet.
    fn bucket(&mut self, g: &Arc<Group>, index: usize) {
        let Some(b) = g.buckets.get(index) else {
            return;
        };
        self.resubmits += 1;
        if self.resubmits > MAX_RESUBMITS {
            self.fail(XlateError::TooManyResubmits);
            return;
        }
        self.credits.buckets.push((Arc::clone(g), index));
        let mut set = ActionSet::new();
        set.write(&b.actions);
        let saved = self.save();
        for a in set.iter() {
            if self.do_action(a) == Step::Halt {
                break;
            }
        }
        self.restore(saved);
    }

    /// The hash a select group picks its bucket by: symmetric over the
    /// Ethernet addresses, the IP addresses and the transport ports, plus the
    /// EtherType, VLAN and IP protocol. Every field hashed goes into the mask.
    fn select_hash(&mut self) -> u32 {
        let mut h = FlowHash::default();
        for f in [Field::EthSrc, Field::EthDst, Field::EthType, Field::VlanVid] {
            self.mask.set_exact(f);
        }
        let f = self.flow;
        h.sym(&f.eth_src, &f.eth_dst);
        h.add(u64::from(f.eth_type));
        h.add(u64::from(f.vlan_tci & (VLAN_PRESENT | VLAN_VID_MASK)));
        let l4 = match f.eth_type {
            ETH_IPV4 => {
                for fl in [Field::Ipv4Src, Field::Ipv4Dst, Field::IpProto] {
                    self.mask.set_exact(fl);
                }
                h.sym(&f.ipv4_src.to_be_bytes(), &f.ipv4_dst.to_be_bytes());
                true
            }
            ETH_IPV6 => {
                for fl in [Field::Ipv6Src, Field::Ipv6Dst, Field::IpProto] {
                    self.mask.set_exact(fl);
                }
                h.sym(&f.ipv6_src, &f.ipv6_dst);
                true
            }
            _ => false,
        };
        if l4 {
            h.add(u64::from(f.nw_proto));
            if matches!(f.nw_proto, 6 | 17 | 132) {
                self.mask.set_exact(Field::TcpSrc);
                self.mask.set_exact(Field::TcpDst);
                h.sym(&f.tp_src.to_be_bytes(), &f.tp_dst.to_be_bytes());
            }
        }
        h.finish()
    }
}

/// A small deterministic hash (the same on every run and every thread, so a
/// flow keeps its bucket across revalidations and restarts).
#[derive(Default)]
struct FlowHash(u64);

impl FlowHash {
    fn add(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn bytes_value(b: &[u8]) -> u64 {
        b.iter()
            .fold(0u64, |acc, &x| acc.rotate_left(8) ^ u64::from(x))
    }

    /// Adds a pair so that swapping its members gives the same hash.
    fn sym(&mut self, a: &[u8], b: &[u8]) {
        let (x, y) = (FlowHash::bytes_value(a), FlowHash::bytes_value(b));
        self.add(x ^ y);
        self.add(x.wrapping_add(y));
    }

    fn finish(&self) -> u32 {
        let x = self.0 ^ (self.0 >> 31);
        let x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        u32::try_from((x ^ (x >> 32)) & 0xffff_ffff).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
