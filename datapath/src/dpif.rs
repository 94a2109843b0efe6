//! The per-thread datapath: the loop body that takes a batch of received
//! packets through flow extraction, the exact-match and megaflow caches,
//! translation on a miss, and execution; plus the state the forwarding
//! threads share with the control plane ([`Shared`]) and the coherence
//! protocol between them.
//!
//! # Design: cache coherence
//!
//! The control plane changes the pipeline only through [`Shared::modify`],
//! which holds the write lock while the change is applied and then, if the
//! pipeline's version moved, increments the global *epoch* (still under the
//! lock). A forwarding thread ([`DpThread`]) holds the read lock for the
//! whole of a batch (translation, meters and statistics need the pipeline
//! anyway) and, first thing, compares the epoch and the pipeline's own
//! [`Pipeline::epoch`] (its version plus the generation of the NORMAL
//! learning table, which upcalls move under the read lock) with those its
//! caches were validated at. If either moved, it *revalidates* before
//! looking anything up: every megaflow is translated again from the key that
//! created it, without side effects; an entry is kept when the new
//! translation yields the same actions and examines no bit outside the
//! entry's mask (so every key the entry covers still gets those actions),
//! updated in place when the mask is the same but the actions changed, and
//! deleted otherwise (the next packet reinstalls it); the EMC is cleared.
//! The thread then publishes the epoch it read. When an upcall in the middle
//! of a batch moves the learning generation, the packets classified so far
//! are executed, the caches revalidated, and the rest of the batch goes on
//! from there, so a MAC learned from one packet governs the very next one.
//!
//! Invariants:
//! - A thread never forwards a packet with caches validated against a
//!   pipeline other than the one it holds the read lock on: a change made
//!   before a batch starts is reflected in that batch, so no stale megaflow
//!   survives into the next batch.
//! - A thread's published epoch only grows, and it is published only after
//!   its caches reflect it. [`Shared::caches_reflect`] (and the blocking
//!   [`Shared::wait_for_caches`] and its asynchronous form
//!   [`Shared::caches_reflect_async`], used to answer an OpenFlow BARRIER) holds
//!   once every registered thread is idle, retired, or has published at
//!   least the target. An idle thread forwards nothing, and leaving idleness
//!   goes through the epoch check (sequentially consistent: the idle flag is
//!   cleared before the epoch is read, while the control plane bumps the
//!   epoch before reading the flag), so it cannot use stale caches.
//! - Statistics are plain integers in each megaflow, credited on the hit
//!   path with no atomics and no allocation, and pushed (the part not yet
//!   reported) to the rules', tables', groups' and buckets' atomic counters
//!   by [`DpThread::flush_stats`]: every [`FLUSH_INTERVAL_MS`], before
//!   revalidation, and when an entry is removed. So no packet is credited
//!   twice or lost, and OpenFlow statistics, idle timeouts and learning
//!   refreshes lag by at most the flush period.

use crate::buffer::{Packet, BATCH_SIZE};
use crate::cache::emc::{Emc, EMC_DEFAULT_INSERT_INV_PROB};
use crate::cache::megaflow::{Megaflow, MegaflowCache, DEFAULT_FLOW_LIMIT, DEFAULT_MAX_IDLE_MS};
use crate::cache::{DumpedFlow, FlowRef};
use crate::dpaction::{DpAction, DpActions};
use crate::execute::{execute_batch, ExecCtx, ExecStats, MeterVerdict, PacketIn, TxBatches};
use crate::extract::flow_extract;
use crate::flow::FlowKey;
use crate::ofproto::Pipeline;
use crate::xlate::{translate, Credits, Translation, XlateCounters, XlateCtx};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How often (ms of `now`) a thread pushes statistics and does housekeeping.
pub const FLUSH_INTERVAL_MS: u64 = 100;
/// Longest spacing of idle-expiry sweeps, ms: a sweep walks the whole
/// megaflow cache, so it runs every tenth of `max-idle` within
/// [`FLUSH_INTERVAL_MS`] and this (statistics flushes only visit the
/// entries hit since the last one).
pub const EXPIRE_INTERVAL_MAX_MS: u64 = 1_000;
/// How often (ms of `now`) a thread re-ranks its megaflow subtables.
pub const RANK_INTERVAL_MS: u64 = 1_000;
/// Idle time after which entries go when the megaflow cache is full, ms
/// (as Open vSwitch shortens `max-idle` when over its flow limit).
pub const FULL_CACHE_IDLE_MS: u64 = 100;
/// Slots a miss on a full megaflow cache looks at for an entry idle for
/// [`FULL_CACHE_IDLE_MS`] to make room.
pub const FULL_CACHE_SCAN: usize = 64;

/// Counters of one forwarding thread (`cache-stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadStats {
    /// Packets received.
    pub packets: u64,
    /// Packets found in the exact-match cache.
    pub emc_hits: u64,
    /// Packets found in the megaflow cache.
    pub megaflow_hits: u64,
    /// Packets that missed both caches.
    pub misses: u64,
    /// Translations run for missed packets.
    pub upcalls: u64,
    /// Translations whose result could not be cached (cache full even after
    /// evicting idle entries) or packets whose entry vanished; the packets
    /// were still handled with the fresh translation when there was one.
    pub lost: u64,
    /// Cache revalidations (epoch or learning-table changes seen).
    pub revalidations: u64,
    /// Megaflows deleted or replaced by revalidation.
    pub revalidated_out: u64,
    /// Megaflows in the cache (at the last publication).
    pub flows: u64,
    /// Subtables of the megaflow cache (at the last publication).
    pub subtables: u64,
    /// Outcomes of execution.
    pub exec: ExecStats,
    /// Translation counters (upcalls and revalidations).
    pub xlate: XlateCounters,
}

/// A thread's published state, shared with the control plane.
#[derive(Debug, Default)]
struct ThreadSlot {
    /// Epoch the thread's caches reflect.
    epoch: AtomicU64,
    /// Whether the thread is idle (forwards nothing until its next batch).
    idle: AtomicBool,
    /// Whether the thread is gone.
    retired: AtomicBool,
    /// Published counters.
    stats: Mutex<ThreadStats>,
    /// Set by the control plane to ask for a dump of the megaflows.
    dump_requested: AtomicBool,
    /// The answer to the last dump request.
    dump: Mutex<Option<Vec<DumpedFlow>>>,
}

/// Knobs the control plane may change; threads pick them up at their next
/// housekeeping.
#[derive(Debug)]
struct Knobs {
    emc_insert_inv_prob: AtomicU32,
    flow_limit: AtomicUsize,
    max_idle_ms: AtomicU64,
    /// Incremented on every change, so threads notice cheaply.
    generation: AtomicU64,
}

/// State shared between the control plane and the forwarding threads.
#[derive(Debug)]
pub struct Shared {
    pipeline: RwLock<Pipeline>,
    epoch: AtomicU64,
    threads: Mutex<Vec<Arc<ThreadSlot>>>,
    waiters: AtomicUsize,
    barrier_lock: Mutex<()>,
    barrier_cv: Condvar,
    /// Tasks waiting in [`CachesReflect`], woken with the condvar's waiters.
    barrier_wakers: Mutex<Vec<Waker>>,
    knobs: Knobs,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Shares `pipeline` with the forwarding threads. The epoch starts at 1.
    pub fn new(pipeline: Pipeline) -> Shared {
        Shared {
            pipeline: RwLock::new(pipeline),
            epoch: AtomicU64::new(1),
            threads: Mutex::new(Vec::new()),
            waiters: AtomicUsize::new(0),
            barrier_lock: Mutex::new(()),
            barrier_cv: Condvar::new(),
            barrier_wakers: Mutex::new(Vec::new()),
            knobs: Knobs {
                emc_insert_inv_prob: AtomicU32::new(EMC_DEFAULT_INSERT_INV_PROB),
                flow_limit: AtomicUsize::new(DEFAULT_FLOW_LIMIT),
                max_idle_ms: AtomicU64::new(DEFAULT_MAX_IDLE_MS),
                generation: AtomicU64::new(0),
            },
        }
    }

    /// The pipeline, for reading (a poisoned lock is recovered: the
    /// pipeline's own invariants hold between its `&mut self` methods).
    pub fn read(&self) -> RwLockReadGuard<'_, Pipeline> {
        self.pipeline
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Pipeline> {
        self.pipeline
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a control-plane change to the pipeline under the write lock
    /// and, if the pipeline's version moved, bumps the epoch so that every
    /// thread revalidates its caches before its next batch.
    pub fn modify<R>(&self, f: impl FnOnce(&mut Pipeline) -> R) -> R {
        let mut p = self.write();
        let before = p.version();
        let r = f(&mut p);
        if p.version() != before {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
        drop(p);
        r
    }

    /// Bumps the epoch for a change made outside [`Shared::modify`] (say, a
    /// flush of the learning table), returning the new epoch.
    pub fn bump_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The current epoch: the target a barrier waits for.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether every registered thread is idle or has caches reflecting at
    /// least epoch `target`.
    pub fn caches_reflect(&self, target: u64) -> bool {
        lock(&self.threads).iter().all(|t| {
            t.retired.load(Ordering::SeqCst)
                || t.idle.load(Ordering::SeqCst)
                || t.epoch.load(Ordering::SeqCst) >= target
        })
    }

    /// Blocks until [`Shared::caches_reflect`]`(target)` or `timeout`
    /// elapses; returns whether the caches reflect the target.
    pub fn wait_for_caches(&self, target: u64, timeout: Duration) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let g = lock(&self.barrier_lock);
        let r = self
            .barrier_cv
            .wait_timeout_while(g, timeout, |_| !self.caches_reflect(target));
        let ok = match r {
            Ok((_, t)) => !t.timed_out(),
            Err(_) => false,
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        ok || self.caches_reflect(target)
    }

    /// Resolves once [`Shared::caches_reflect`]`(target)`: the waiting of
    /// [`Shared::wait_for_caches`] for an asynchronous task, woken by the
    /// forwarding thread that publishes the last missing epoch or goes idle
    /// (no polling, no blocking thread). Bound it with a timeout.
    pub fn caches_reflect_async(&self, target: u64) -> CachesReflect<'_> {
        CachesReflect {
            shared: self,
            target,
            registered: false,
        }
    }

    fn wake_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let g = lock(&self.barrier_lock);
            self.barrier_cv.notify_all();
            drop(g);
            let wakers = std::mem::take(&mut *lock(&self.barrier_wakers));
            for w in wakers {
                w.wake();
            }
        }
    }

    fn register(&self) -> Arc<ThreadSlot> {
        let slot = Arc::new(ThreadSlot::default());
        slot.epoch.store(self.epoch(), Ordering::SeqCst);
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.retired.load(Ordering::SeqCst));
        threads.push(Arc::clone(&slot));
        slot
    }

    /// Counters of every live thread, as last published.
    pub fn thread_stats(&self) -> Vec<ThreadStats> {
        lock(&self.threads)
            .iter()
            .filter(|t| !t.retired.load(Ordering::SeqCst))
            .map(|t| *lock(&t.stats))
            .collect()
    }

    /// Asks every thread for a dump of its megaflows (answered at the
    /// thread's next batch or housekeeping).
    pub fn request_dumps(&self) {
        for t in lock(&self.threads).iter() {
            *lock(&t.dump) = None;
            t.dump_requested.store(true, Ordering::SeqCst);
        }
    }

    /// The dumps answered so far, one per thread that answered.
    pub fn take_dumps(&self) -> Vec<Vec<DumpedFlow>> {
        lock(&self.threads)
            .iter()
            .filter_map(|t| lock(&t.dump).take())
            .collect()
    }

    /// Sets the EMC insertion inverse probability of every thread (0 disables it).
    pub fn set_emc_insert_inv_prob(&self, inv_prob: u32) {
        self.knobs
            .emc_insert_inv_prob
            .store(inv_prob, Ordering::SeqCst);
        self.knobs.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets the megaflow limit of every thread.
    pub fn set_flow_limit(&self, limit: usize) {
        self.knobs.flow_limit.store(limit, Ordering::SeqCst);
        self.knobs.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets the idle time after which megaflows expire.
    pub fn set_max_idle_ms(&self, ms: u64) {
        self.knobs.max_idle_ms.store(ms, Ordering::SeqCst);
        self.knobs.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// The future of [`Shared::caches_reflect_async`].
///
/// No wake-up is lost: the waiter count is raised and the waker stored
/// before the caches are checked again, while a thread publishes its epoch
/// (or idleness) before it reads the count; so either the check sees the
/// publication or the thread sees the waiter and wakes it.
#[derive(Debug)]
pub struct CachesReflect<'a> {
    shared: &'a Shared,
    target: u64,
    registered: bool,
}

impl Future for CachesReflect<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = self.shared;
        if shared.caches_reflect(self.target) {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            shared.waiters.fetch_add(1, Ordering::SeqCst);
        }
        {
            let mut wakers = lock(&shared.barrier_wakers);
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
        }
        if shared.caches_reflect(self.target) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for CachesReflect<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.shared.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Where a classified packet goes in the execution pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A cached megaflow.
    Flow(FlowRef),
    /// A translation that was not cached, by index in `uncached`.
    Uncached(usize),
}

/// The datapath of one forwarding thread.
pub struct DpThread {
    slot: Arc<ThreadSlot>,
    emc: Emc,
    flows: MegaflowCache<Credits>,
    /// Control-plane epoch the caches reflect (published).
    epoch: u64,
    /// Pipeline epoch (version plus learning generation) the caches were
    /// validated at.
    pipe_epoch: u64,
    knobs_gen: u64,
    max_idle_ms: u64,
    idle: bool,
    stats: ThreadStats,
    upcall_ctx: XlateCtx,
    reval_ctx: XlateCtx,
    next_flush_ms: u64,
    next_expire_ms: u64,
    next_rank_ms: u64,
    /// Entries hit since their statistics were last reported: every entry
    /// with unreported statistics is here (possibly twice, or gone since),
    /// so a flush visits these instead of the whole cache.
    dirty: Vec<FlowRef>,
    // Per-batch scratch, kept to avoid allocating.
    keys: Box<[FlowKey; BATCH_SIZE]>,
    targets: [Target; BATCH_SIZE],
    uncached: Vec<(DpActions, Credits)>,
}

impl core::fmt::Debug for DpThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DpThread")
            .field("epoch", &self.epoch)
            .field("flows", &self.flows.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Drop for DpThread {
    fn drop(&mut self) {
        self.slot.retired.store(true, Ordering::SeqCst);
    }
}

impl DpThread {
    /// A thread's datapath registered with `shared`, with empty caches
    /// (which trivially reflect the current epoch).
    pub fn new(shared: &Shared) -> DpThread {
        let p = shared.read();
        let slot = shared.register();
        let epoch = slot.epoch.load(Ordering::SeqCst);
        let pipe_epoch = p.epoch();
        drop(p);
        let mut t = DpThread {
            slot,
            emc: Emc::new(),
            flows: MegaflowCache::new(),
            epoch,
            pipe_epoch,
            knobs_gen: u64::MAX,
            max_idle_ms: DEFAULT_MAX_IDLE_MS,
            idle: false,
            stats: ThreadStats::default(),
            upcall_ctx: XlateCtx::new(),
            reval_ctx: XlateCtx::revalidation(),
            next_flush_ms: 0,
            next_expire_ms: 0,
            next_rank_ms: 0,
            dirty: Vec::new(),
            keys: Box::new([FlowKey::default(); BATCH_SIZE]),
            targets: [Target::Uncached(0); BATCH_SIZE],
            uncached: Vec::new(),
        };
        t.apply_knobs(shared);
        t
    }

    /// This thread's counters.
    pub fn stats(&self) -> ThreadStats {
        let mut s = self.stats;
        s.flows = self.flows.len() as u64;
        s.subtables = self.flows.subtable_count() as u64;
        let (u, r) = (&self.upcall_ctx.counters, &self.reval_ctx.counters);
        s.xlate = XlateCounters {
            translations: u.translations + r.translations,
            too_deep: u.too_deep + r.too_deep,
            too_many_resubmits: u.too_many_resubmits + r.too_many_resubmits,
            too_many_actions: u.too_many_actions + r.too_many_actions,
            invalid_ttl: u.invalid_ttl + r.invalid_ttl,
            no_recv: u.no_recv + r.no_recv,
            frag_drops: u.frag_drops + r.frag_drops,
        };
        s
    }

    /// The epoch this thread's caches reflect.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The megaflow cache (read-only).
    pub fn megaflows(&self) -> &MegaflowCache<Credits> {
        &self.flows
    }

    /// The exact-match cache (read-only).
    pub fn emc(&self) -> &Emc {
        &self.emc
    }

    /// Every megaflow as `dump-dp-flows` shows it.
    pub fn dump(&self) -> Vec<DumpedFlow> {
        self.flows.dump()
    }

    /// Declares the thread idle (nothing to receive) or busy. An idle thread
    /// does not hold up barriers; its next batch revalidates first if needed.
    pub fn set_idle(&mut self, shared: &Shared, idle: bool) {
        if self.idle != idle {
            self.idle = idle;
            self.slot.idle.store(idle, Ordering::SeqCst);
            if idle {
                shared.wake_waiters();
            }
        }
    }

    fn apply_knobs(&mut self, shared: &Shared) {
        let g = shared.knobs.generation.load(Ordering::SeqCst);
        if g == self.knobs_gen {
            return;
        }
        self.knobs_gen = g;
        let inv = shared.knobs.emc_insert_inv_prob.load(Ordering::SeqCst);
        if inv != self.emc.insert_inv_prob() {
            self.emc.set_insert_inv_prob(inv);
        }
        self.flows
            .set_limit(shared.knobs.flow_limit.load(Ordering::SeqCst));
        self.max_idle_ms = shared.knobs.max_idle_ms.load(Ordering::SeqCst);
        // A changed max-idle applies from this flush on.
        self.next_expire_ms = 0;
    }

    /// Brings the caches up to date with the pipeline (read through `p`, the
    /// read lock the caller holds) if the epoch or the learning table moved,
    /// and publishes the epoch they reflect.
    fn sync_epoch(&mut self, shared: &Shared, p: &Pipeline, now_ms: u64) {
        // Under the read lock no modification is in progress, so the epoch
        // read here is the one of the pipeline `p` shows.
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let pipe_epoch = p.epoch();
        if epoch == self.epoch && pipe_epoch == self.pipe_epoch {
            return;
        }
        self.revalidate_with(p, now_ms);
        self.pipe_epoch = pipe_epoch;
        if epoch != self.epoch {
            self.epoch = epoch;
            self.slot.epoch.store(epoch, Ordering::SeqCst);
            shared.wake_waiters();
        }
    }

    fn mark_busy(&mut self) {
        if self.idle {
            // Cleared before the epoch is read (see the module notes).
            self.idle = false;
            self.slot.idle.store(false, Ordering::SeqCst);
        }
    }

    /// Re-translates every megaflow against the current pipeline, keeping,
    /// updating or deleting it, and clears the EMC.
    pub fn revalidate(&mut self, shared: &Shared, now_ms: u64) {
        let p = shared.read();
        self.revalidate_with(&p, now_ms);
    }

    fn revalidate_with(&mut self, p: &Pipeline, now_ms: u64) {
        self.flush_stats_with(p);
        self.emc.clear();
        self.stats.revalidations += 1;
        let ctx = &mut self.reval_ctx;
        let mut out = 0u64;
        self.flows.retain(
            |f| {
                let t = translate(p, &f.orig_key, now_ms, ctx);
                match verdict(f, &t) {
                    Keep::Same => {
                        f.data = t.credits;
                        true
                    }
                    Keep::Update => {
                        f.actions = t.actions;
                        f.data = t.credits;
                        out += 1;
                        true
                    }
                    Keep::Delete => {
                        out += 1;
                        false
                    }
                }
            },
            // Statistics were flushed just above.
            |_| {},
        );
        self.stats.revalidated_out += out;
    }

    /// Pushes every megaflow's unreported statistics to the rules, tables,
    /// groups and buckets it credits (and refreshes the MAC entries it keeps
    /// alive).
    pub fn flush_stats(&mut self, shared: &Shared) {
        let p = shared.read();
        self.flush_stats_with(&p);
    }

    fn flush_stats_with(&mut self, p: &Pipeline) {
        for r in self.dirty.drain(..) {
            if let Some(f) = self.flows.get_mut(r) {
                flush_one(p, f);
            }
        }
    }

    /// Periodic housekeeping, for a thread with nothing to receive (busy
    /// threads do it from [`DpThread::process_batch`]): statistics flush,
    /// idle expiry, subtable ranking, knob changes, published counters and
    /// dump requests, at most once per [`FLUSH_INTERVAL_MS`] of `now_ms`.
    pub fn maintain(&mut self, shared: &Shared, now_ms: u64) {
        let p = shared.read();
        self.maintain_with(shared, &p, now_ms);
    }

    fn maintain_with(&mut self, shared: &Shared, p: &Pipeline, now_ms: u64) {
        self.serve_dump();
        if now_ms < self.next_flush_ms {
            return;
        }
        self.next_flush_ms = now_ms + FLUSH_INTERVAL_MS;
        self.apply_knobs(shared);
        self.flush_stats_with(p);
        if now_ms >= self.next_expire_ms {
            let idle = self.max_idle_ms;
            self.next_expire_ms =
                now_ms + (idle / 10).clamp(FLUSH_INTERVAL_MS, EXPIRE_INTERVAL_MAX_MS);
            self.flows
                .evict_idle(now_ms, idle, |mut f| flush_one(p, &mut f));
        }
        if now_ms >= self.next_rank_ms {
            self.next_rank_ms = now_ms + RANK_INTERVAL_MS;
            self.flows.rank_subtables();
        }
        *lock(&self.slot.stats) = self.stats();
    }

    fn serve_dump(&mut self) {
        if self.slot.dump_requested.load(Ordering::Relaxed)
            && self.slot.dump_requested.swap(false, Ordering::SeqCst)
        {
            *lock(&self.slot.dump) = Some(self.flows.dump());
        }
    }

    /// Processes received packets: brings the caches up to date with the
    /// pipeline, classifies each packet (EMC, megaflow cache, translation on
    /// a miss), then runs each group of packets sharing a megaflow through
    /// its actions, queueing outputs on `out` and controller packets on
    /// `to_controller`. Packets moved to an output queue are replaced in
    /// `pkts` by buffers from `out`'s pool.
    pub fn process_batch(
        &mut self,
        shared: &Shared,
        pkts: &mut [Packet],
        now_ms: u64,
        out: &mut TxBatches,
        to_controller: &mut Vec<PacketIn>,
    ) {
        self.mark_busy();
        let p = shared.read();
        self.sync_epoch(shared, &p, now_ms);
        for chunk in pkts.chunks_mut(BATCH_SIZE) {
            let mut start = 0;
            while start < chunk.len() {
                let end = self.classify(&p, chunk, start, now_ms);
                self.execute_range(&p, chunk, start, end, now_ms, out, to_controller);
                if end < chunk.len() {
                    // An upcall changed the learning table: what follows in
                    // the batch must see caches that reflect it.
                    self.sync_epoch(shared, &p, now_ms);
                }
                start = end;
            }
        }
        self.maintain_with(shared, &p, now_ms);
    }

    /// Classifies `pkts[start..]` (EMC, megaflow cache, translation on a
    /// miss), crediting each packet to its megaflow, and returns the index
    /// after the last packet classified: the end, or earlier when an upcall
    /// moved the pipeline's epoch (MAC learning), since later packets must
    /// not hit megaflows the change made stale.
    fn classify(&mut self, p: &Pipeline, pkts: &[Packet], start: usize, now_ms: u64) -> usize {
        let n = pkts.len().min(BATCH_SIZE);
        self.uncached.clear();
        let use_emc = self.emc.enabled();
        for (i, pkt) in pkts.iter().enumerate().take(n).skip(start) {
            self.stats.packets += 1;
            let len = pkt.len() as u64;
            let key = &mut self.keys[i];
            flow_extract(pkt.data(), &pkt.meta, key);
            let hash = if use_emc { self.emc.hash(key) } else { 0 };
            if use_emc {
                if let Some(r) = self.emc.lookup(key, hash) {
                    if let Some(f) = self.flows.get_mut(r) {
                        if f.packets == f.flushed_packets {
                            self.dirty.push(r);
                        }
                        f.credit(1, len, now_ms);
                        self.stats.emc_hits += 1;
                        self.targets[i] = Target::Flow(r);
                        continue;
                    }
                    // The megaflow went away: forget the stale entry.
                    self.emc.remove(key, hash);
                }
            }
            if let Some(r) = self.flows.lookup(key) {
                if let Some(f) = self.flows.get_mut(r) {
                    if f.packets == f.flushed_packets {
                        self.dirty.push(r);
                    }
                    f.credit(1, len, now_ms);
                }
                self.stats.megaflow_hits += 1;
                if use_emc {
                    self.emc.maybe_insert(key, hash, r);
                }
                self.targets[i] = Target::Flow(r);
                continue;
            }
            self.stats.misses += 1;
            self.stats.upcalls += 1;
            let key = *key;
            let t = translate(p, &key, now_ms, &mut self.upcall_ctx);
            self.targets[i] = self.install(p, t, &key, hash, len, now_ms, use_emc);
            if p.epoch() != self.pipe_epoch {
                return i + 1;
            }
        }
        n
    }

    /// Runs each group of packets of `pkts[start..end]` sharing a target
    /// through its actions.
    #[allow(clippy::too_many_arguments)] // the batch and its two output queues
    fn execute_range(
        &mut self,
        p: &Pipeline,
        pkts: &mut [Packet],
        start: usize,
        end: usize,
        now_ms: u64,
        out: &mut TxBatches,
        to_controller: &mut Vec<PacketIn>,
    ) {
        let mut meter = |id: u32, len: usize| -> MeterVerdict {
            p.meter_apply(id, u32::try_from(len).unwrap_or(u32::MAX), now_ms)
        };
        let mut ctx = ExecCtx {
            meters: &mut meter,
            to_controller,
            stats: &mut self.stats.exec,
        };
        let end = end.min(BATCH_SIZE).min(pkts.len());
        let mut done = [false; BATCH_SIZE];
        let mut sel = [0usize; BATCH_SIZE];
        for i in start..end {
            if done[i] {
                continue;
            }
            let target = self.targets[i];
            let mut m = 0;
            for (j, (d, t)) in done
                .iter_mut()
                .zip(&self.targets)
                .enumerate()
                .take(end)
                .skip(i)
            {
                if !*d && *t == target {
                    *d = true;
                    sel[m] = j;
                    m += 1;
                }
            }
            let actions: &[DpAction] = match target {
                Target::Flow(r) => match self.flows.get(r) {
                    Some(f) => &f.actions,
                    None => {
                        // Cannot happen within a batch (nothing removes an
                        // entry used in it); counted rather than trusted.
                        self.stats.lost += m as u64;
                        continue;
                    }
                },
                Target::Uncached(u) => match self.uncached.get(u) {
                    Some((a, _)) => a,
                    None => continue,
                },
            };
            execute_batch(actions, pkts, &sel[..m], &mut ctx, out);
        }
    }

    /// Installs the translation of a missed packet (or keeps it for this
    /// batch only when the cache is full) and returns where the packet goes.
    #[allow(clippy::too_many_arguments)] // the hit path's state, passed apart to keep borrows disjoint
    fn install(
        &mut self,
        p: &Pipeline,
        t: Translation,
        key: &FlowKey,
        hash: u32,
        len: u64,
        now_ms: u64,
        use_emc: bool,
    ) -> Target {
        if t.cacheable {
            if self.flows.is_full() {
                // One idle entry makes room, found by a bounded scan: the
                // cost of a full cache is spread over its misses. Entries
                // used in this batch were credited at `now_ms`, so none of
                // them is idle.
                self.flows
                    .evict_one_idle(now_ms, FULL_CACHE_IDLE_MS, FULL_CACHE_SCAN, |mut f| {
                        flush_one(p, &mut f)
                    });
            }
            match self
                .flows
                .insert(key, &t.mask, t.actions, t.credits, now_ms)
            {
                Ok(r) => {
                    if let Some(f) = self.flows.get_mut(r) {
                        self.dirty.push(r);
                        f.credit(1, len, now_ms);
                    }
                    if use_emc {
                        self.emc.maybe_insert(key, hash, r);
                    }
                    return Target::Flow(r);
                }
                Err(full) => {
                    self.stats.lost += 1;
                    return self.run_uncached(p, full.actions, full.data, len, now_ms);
                }
            }
        }
        self.run_uncached(p, t.actions, t.credits, len, now_ms)
    }

    /// Keeps a translation for this batch only, crediting its packet now.
    fn run_uncached(
        &mut self,
        p: &Pipeline,
        actions: DpActions,
        credits: Credits,
        len: u64,
        now_ms: u64,
    ) -> Target {
        credits.credit(p, 1, len, now_ms);
        self.uncached.push((actions, credits));
        Target::Uncached(self.uncached.len() - 1)
    }
}
/// What revalidation does with a megaflow given a fresh translation of
/// its key.
enum Keep {
    /// Same actions, mask covers what the translation examined: keep.
    Same,
    /// Same mask, other actions: update in place.
    Update,
    /// Anything else: delete (the next packet reinstalls it).
    Delete,
}

fn verdict(f: &Megaflow<Credits>, t: &Translation) -> Keep {
    if !t.cacheable {
        Keep::Delete
    } else if t.actions == f.actions && t.mask.is_subset_of(&f.mask) {
        Keep::Same
    } else if t.mask == f.mask {
        Keep::Update
    } else {
        Keep::Delete
    }
}

/// Pushes one megaflow's unreported statistics.
fn flush_one(p: &Pipeline, f: &mut Megaflow<Credits>) {
    let (packets, bytes) = f.unflushed();
    if packets != 0 {
        f.data.credit(p, packets, bytes, f.used_ms);
        f.mark_flushed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Field, Match};
    use crate::ofproto::{Action, FlowMod, Instructions, Port};
    use crate::packet::builder::FrameBuilder;
    use std::sync::Arc;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];

    fn pipeline() -> Pipeline {
        let mut p = Pipeline::new();
        for i in 1..=4 {
            p.add_port(Port::new(i, &format!("p{i}"), [0x0a, 0, 0, 0, 0, 0]));
        }
        p
    }

    fn out(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    fn add(
        shared: &Shared,
        m: Match,
        priority: u16,
        actions: Vec<Action>,
    ) -> Arc<crate::ofproto::Rule> {
        shared.modify(|p| {
            p.flow_mod(
                &FlowMod::add(0, m, priority, Instructions::apply(actions)),
                0,
            )
            .unwrap()
            .added
            .unwrap()
        })
    }

    fn to_port(dport: u16) -> Match {
        let mut m = Match::catch_all();
        m.set(Field::EthType, 0x0800);
        m.set(Field::IpProto, 17);
        m.set(Field::UdpDst, u128::from(dport));
        m
    }

    fn frame(sport: u16, dport: u16) -> Vec<u8> {
        FrameBuilder::udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], sport, dport, b"data").build()
    }

    struct Rig {
        shared: Shared,
        dp: DpThread,
        out: TxBatches,
        pins: Vec<PacketIn>,
    }

    impl Rig {
        fn new() -> Rig {
            let shared = Shared::new(pipeline());
            let dp = DpThread::new(&shared);
            Rig {
                shared,
                dp,
                out: TxBatches::with_pool(64),
                pins: Vec::new(),
            }
        }

        /// Sends frames in on `in_port` at `now_ms`; returns (port, frame) sent.
        fn send(&mut self, in_port: u32, frames: &[Vec<u8>], now_ms: u64) -> Vec<(u32, Vec<u8>)> {
            let mut pkts: Vec<Packet> = frames
                .iter()
                .map(|f| {
                    let mut p = Packet::from_frame(f);
                    p.meta.in_port = in_port;
                    p
                })
                .collect();
            self.dp.process_batch(
                &self.shared,
                &mut pkts,
                now_ms,
                &mut self.out,
                &mut self.pins,
            );
            let mut sent = Vec::new();
            self.out.flush(|port, pkts| {
                for p in pkts {
                    sent.push((port, p.data().to_vec()));
                }
            });
            sent
        }
    }

    #[test]
    fn a_miss_installs_a_megaflow_that_later_packets_hit() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.shared.set_emc_insert_inv_prob(0);
        r.dp.maintain(&r.shared, 0);
        let sent = r.send(1, &[frame(1000, 53)], 1);
        assert_eq!(sent, vec![(2, frame(1000, 53))]);
        let s = r.dp.stats();
        assert_eq!(
            (s.misses, s.upcalls, s.megaflow_hits, s.flows),
            (1, 1, 0, 1)
        );
        // Another source port: same megaflow (the rule does not look at it).
        r.send(1, &[frame(2000, 53), frame(3000, 53)], 2);
        let s = r.dp.stats();
        assert_eq!(
            (s.misses, s.megaflow_hits, s.emc_hits, s.flows),
            (1, 2, 0, 1)
        );
    }

    #[test]
    fn the_emc_answers_repeated_keys() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.shared.set_emc_insert_inv_prob(1);
        r.dp.maintain(&r.shared, 0);
        r.send(1, &[frame(1000, 53)], 1);
        r.send(1, &[frame(1000, 53), frame(1000, 53)], 2);
        let s = r.dp.stats();
        assert_eq!((s.misses, s.megaflow_hits, s.emc_hits), (1, 0, 2));
    }

    #[test]
    fn a_batch_is_grouped_by_megaflow_and_keeps_per_flow_order() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        add(&r.shared, to_port(80), 10, vec![out(3)]);
        let frames = [frame(1, 53), frame(2, 80), frame(3, 53), frame(4, 80)];
        let sent = r.send(1, &frames, 1);
        let to2: Vec<_> = sent
            .iter()
            .filter(|(p, _)| *p == 2)
            .map(|(_, f)| f.clone())
            .collect();
        let to3: Vec<_> = sent
            .iter()
            .filter(|(p, _)| *p == 3)
            .map(|(_, f)| f.clone())
            .collect();
        assert_eq!(to2, vec![frames[0].clone(), frames[2].clone()]);
        assert_eq!(to3, vec![frames[1].clone(), frames[3].clone()]);
        assert_eq!(r.dp.stats().upcalls, 2);
    }

    #[test]
    fn a_change_right_after_forwarding_is_reflected_in_the_next_batch() {
        let mut r = Rig::new();
        r.shared.set_emc_insert_inv_prob(1);
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        for now in 0..3 {
            assert_eq!(r.send(1, &[frame(7, 53)], now)[0].0, 2);
        }
        add(&r.shared, to_port(53), 20, vec![out(3)]);
        assert_eq!(r.send(1, &[frame(7, 53)], 3)[0].0, 3);
        let before = r.dp.stats().revalidations;
        r.shared.modify(|p| {
            p.flow_mod(&FlowMod::delete(0, Match::catch_all()), 4)
                .unwrap()
        });
        assert!(r.send(1, &[frame(7, 53)], 4).is_empty());
        assert_eq!(r.dp.stats().revalidations, before + 1);
    }

    #[test]
    fn revalidation_keeps_megaflows_an_unrelated_change_does_not_touch() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.send(1, &[frame(7, 53)], 0);
        let before = r.dp.stats();
        let mut m = Match::catch_all();
        m.set(Field::InPort, 4);
        add(&r.shared, m, 5, vec![out(1)]);
        r.send(1, &[frame(7, 53)], 1);
        let s = r.dp.stats();
        assert_eq!(s.revalidations, before.revalidations + 1);
        assert_eq!((s.revalidated_out, s.upcalls, s.flows), (0, 1, 1));
    }

    #[test]
    fn a_change_that_does_nothing_does_not_move_the_epoch() {
        let r = Rig::new();
        let e = r.shared.epoch();
        r.shared.modify(|p| {
            p.flow_mod(&FlowMod::delete(0, Match::catch_all()), 0)
                .unwrap()
        });
        assert_eq!(r.shared.epoch(), e);
        add(&r.shared, to_port(1), 1, vec![]);
        assert_eq!(r.shared.epoch(), e + 1);
    }

    #[test]
    fn statistics_reach_the_rule_at_the_next_flush() {
        let mut r = Rig::new();
        let rule = add(&r.shared, to_port(53), 10, vec![out(2)]);
        let f = frame(7, 53);
        r.send(1, &[f.clone(), f.clone()], 0);
        r.send(1, std::slice::from_ref(&f), 10);
        // Not yet flushed: the first flush happened at time 0.
        assert_eq!(rule.packet_count(), 2);
        r.send(1, std::slice::from_ref(&f), FLUSH_INTERVAL_MS + 10);
        assert_eq!(rule.packet_count(), 4);
        assert_eq!(rule.byte_count(), 4 * f.len() as u64);
        assert_eq!(rule.stats.last_used_ms(), FLUSH_INTERVAL_MS + 10);
    }

    #[test]
    fn idle_megaflows_expire_and_flush_their_statistics() {
        let mut r = Rig::new();
        let rule = add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.shared.set_max_idle_ms(1_000);
        r.send(1, &[frame(7, 53)], 0);
        r.send(1, &[frame(7, 53)], 50);
        assert_eq!(r.dp.stats().flows, 1);
        r.dp.maintain(&r.shared, 2_000);
        assert_eq!(r.dp.stats().flows, 0);
        assert_eq!(rule.packet_count(), 2);
    }

    #[test]
    fn idle_expiry_sweeps_come_a_tenth_of_max_idle_apart() {
        let mut r = Rig::new();
        let rule = add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.send(1, &[frame(7, 53)], 0);
        // Default max-idle 10 s: a sweep at 9.5 s keeps the entry, the
        // flush at 10.1 s does not sweep, the sweep at 10.6 s expires it.
        r.dp.maintain(&r.shared, 9_500);
        r.dp.maintain(&r.shared, 10_100);
        assert_eq!(r.dp.stats().flows, 1);
        r.dp.maintain(&r.shared, 10_600);
        assert_eq!(r.dp.stats().flows, 0);
        assert_eq!(rule.packet_count(), 1);
    }

    #[test]
    fn statistics_of_many_entries_all_reach_their_rules() {
        let mut r = Rig::new();
        let a = add(&r.shared, to_port(53), 10, vec![out(2)]);
        let b = add(&r.shared, to_port(80), 10, vec![out(3)]);
        // Distinct sources make distinct megaflows only if the source is
        // examined; these rules do not, so one entry per port.
        for t in 0..5u64 {
            r.send(1, &[frame(1, 53), frame(2, 80), frame(3, 53)], t * 150);
        }
        r.dp.flush_stats(&r.shared);
        assert_eq!((a.packet_count(), b.packet_count()), (10, 5));
    }

    #[test]
    fn a_full_cache_makes_room_from_an_idle_entry() {
        let mut r = Rig::new();
        let a = add(&r.shared, to_port(53), 10, vec![out(2)]);
        add(&r.shared, to_port(80), 10, vec![out(3)]);
        r.shared.set_flow_limit(1);
        r.dp.maintain(&r.shared, 0);
        r.send(1, &[frame(1, 53)], 1);
        // Idle for longer than FULL_CACHE_IDLE_MS: it gives way, and its
        // statistics reach its rule.
        let later = 1 + FULL_CACHE_IDLE_MS;
        let sent = r.send(1, &[frame(1, 80)], later);
        assert_eq!(sent.len(), 1);
        let s = r.dp.stats();
        assert_eq!((s.flows, s.lost), (1, 0));
        assert_eq!(a.packet_count(), 1);
    }

    #[test]
    fn a_full_cache_still_forwards_and_counts_the_loss() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        add(&r.shared, to_port(80), 10, vec![out(3)]);
        r.shared.set_flow_limit(1);
        r.dp.maintain(&r.shared, 0);
        let sent = r.send(1, &[frame(1, 53), frame(1, 80)], 1);
        assert_eq!(sent.len(), 2);
        let s = r.dp.stats();
        assert_eq!((s.flows, s.lost), (1, 1));
    }

    #[test]
    fn a_table_miss_to_the_controller_reaches_the_queue() {
        let mut r = Rig::new();
        let ctl = Action::Output {
            port: crate::ofproto::OFPP_CONTROLLER,
            max_len: 0xffff,
        };
        add(&r.shared, Match::catch_all(), 0, vec![ctl]);
        let f = frame(1, 9);
        assert!(r.send(1, std::slice::from_ref(&f), 0).is_empty());
        assert_eq!(r.pins.len(), 1);
        assert_eq!(r.pins[0].data, f);
        assert_eq!(r.pins[0].packet_meta.in_port, 1);
    }

    #[test]
    fn moved_packets_leave_pool_buffers_in_the_batch() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        let mut pkts = vec![Packet::from_frame(&frame(1, 53)); 4];
        r.dp.process_batch(&r.shared, &mut pkts, 0, &mut r.out, &mut r.pins);
        assert_eq!(r.out.queued(2).len(), 4);
        assert!(pkts.iter().all(Packet::is_empty));
        assert_eq!(r.out.pool_misses(), 0);
    }

    #[test]
    fn a_mac_learned_mid_batch_is_reflected_for_the_rest_of_the_batch() {
        let mut r = Rig::new();
        let normal = out(crate::ofproto::OFPP_NORMAL);
        add(&r.shared, Match::catch_all(), 0, vec![normal]);
        let a_to_b = FrameBuilder::udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"").build();
        let b_to_a = FrameBuilder::udp4(B, A, [10, 0, 0, 2], [10, 0, 0, 1], 2, 1, b"").build();
        // A is learned on port 1; B is unknown, so A->B floods.
        let sent = r.send(1, std::slice::from_ref(&a_to_b), 0);
        assert_eq!(
            sent.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        // One batch: B->A from port 2 (learns B), then A->B from port 1,
        // whose cached flood is stale from that moment on.
        let mut pkts = vec![Packet::from_frame(&b_to_a), Packet::from_frame(&a_to_b)];
        pkts[0].meta.in_port = 2;
        pkts[1].meta.in_port = 1;
        r.dp.process_batch(&r.shared, &mut pkts, 1, &mut r.out, &mut r.pins);
        assert_eq!(r.out.queued(1).len(), 1);
        assert_eq!(r.out.queued(2).len(), 1);
        assert!(r.out.queued(3).is_empty() && r.out.queued(4).is_empty());
    }

    #[test]
    fn meters_run_per_packet_on_cached_flows() {
        use crate::ofproto::{MeterBand, MeterBandType, MeterFlags, MeterMod, MeterModCommand};
        let mut r = Rig::new();
        r.shared.modify(|p| {
            let mm = MeterMod {
                command: MeterModCommand::Add,
                flags: MeterFlags::PKTPS,
                meter_id: 7,
                bands: vec![MeterBand {
                    band_type: MeterBandType::Drop,
                    rate: 10,
                    burst_size: 0,
                }],
            };
            p.meter_mod(&mm, 0).unwrap();
            let ins = Instructions::apply(vec![out(2)]).with_meter(7);
            p.flow_mod(&FlowMod::add(0, to_port(53), 10, ins), 0)
                .unwrap();
        });
        // 100 packets in one millisecond through a 10 packet/s meter: the
        // cached flow still meters each one, so most are dropped.
        let frames: Vec<Vec<u8>> = (0..32).map(|_| frame(1, 53)).collect();
        let mut sent = 0;
        for _ in 0..3 {
            sent += r.send(1, &frames, 1).len();
        }
        let s = r.dp.stats();
        assert_eq!(s.misses, 1);
        assert!(sent < 20, "{sent} packets passed the meter");
        assert_eq!(s.exec.meter_drops, 96 - sent as u64);
    }

    #[test]
    fn wait_for_caches_returns_once_the_thread_processed_a_batch() {
        let shared = Arc::new(Shared::new(pipeline()));
        let mut dp = DpThread::new(&shared);
        add(&shared, to_port(53), 10, vec![out(2)]);
        let target = shared.epoch();
        assert!(!shared.caches_reflect(target));
        assert!(!shared.wait_for_caches(target, Duration::from_millis(20)));
        let waiter = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.wait_for_caches(target, Duration::from_secs(30)))
        };
        // Give the waiter time to block, then process a batch.
        std::thread::sleep(Duration::from_millis(20));
        let mut out = TxBatches::with_pool(4);
        let mut pins = Vec::new();
        dp.process_batch(&shared, &mut [], 1, &mut out, &mut pins);
        assert!(waiter.join().unwrap());
        assert_eq!(dp.epoch(), target);
    }

    #[test]
    fn an_idle_thread_does_not_hold_up_a_barrier() {
        let shared = Arc::new(Shared::new(pipeline()));
        let mut dp = DpThread::new(&shared);
        add(&shared, to_port(53), 10, vec![out(2)]);
        let target = shared.epoch();
        let waiter = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.wait_for_caches(target, Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        dp.set_idle(&shared, true);
        assert!(waiter.join().unwrap());
        // Waking up goes through the epoch check.
        let mut out = TxBatches::with_pool(4);
        let mut pins = Vec::new();
        let mut pkts = vec![Packet::from_frame(&frame(1, 53))];
        pkts[0].meta.in_port = 1;
        dp.process_batch(&shared, &mut pkts, 1, &mut out, &mut pins);
        assert_eq!(dp.epoch(), target);
        assert_eq!(out.queued(2).len(), 1);
        // A retired thread does not either.
        drop(out);
        add(&shared, to_port(80), 10, vec![self::out(3)]);
        drop(dp);
        assert!(shared.caches_reflect(shared.epoch()));
    }

    #[test]
    fn an_asynchronous_barrier_wait_is_woken_by_the_thread_that_catches_up() {
        struct Flag(AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let shared = Arc::new(Shared::new(pipeline()));
        let mut dp = DpThread::new(&shared);
        add(&shared, to_port(53), 10, vec![out(2)]);
        let target = shared.epoch();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        {
            let mut wait = std::pin::pin!(shared.caches_reflect_async(target));
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            assert!(!flag.0.load(Ordering::SeqCst));
            let mut out = TxBatches::with_pool(4);
            let mut pins = Vec::new();
            dp.process_batch(&shared, &mut [], 1, &mut out, &mut pins);
            assert!(
                flag.0.load(Ordering::SeqCst),
                "the publication woke the task"
            );
            assert!(wait.as_mut().poll(&mut cx).is_ready());
        }
        // Already reflected: ready at once.
        let mut again = std::pin::pin!(shared.caches_reflect_async(target));
        assert!(again.as_mut().poll(&mut cx).is_ready());
        assert_eq!(shared.waiters.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn dumps_and_counters_are_published_to_the_control_plane() {
        let mut r = Rig::new();
        add(&r.shared, to_port(53), 10, vec![out(2)]);
        r.send(1, &[frame(1, 53)], 0);
        r.shared.request_dumps();
        r.send(1, &[frame(1, 53)], 1);
        let dumps = r.shared.take_dumps();
        assert_eq!(dumps.len(), 1);
        assert_eq!(dumps[0].len(), 1);
        assert_eq!(dumps[0][0].packets, 2);
        r.send(1, &[], FLUSH_INTERVAL_MS);
        let stats = r.shared.thread_stats();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].packets, 2);
        assert_eq!(stats[0].flows, 1);
    }
}
