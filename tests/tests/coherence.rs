//! Cache coherence: the cached forwarding path (EMC, megaflow cache,
//! revalidation on epoch changes) does to every packet exactly what a fresh
//! translation on the current pipeline would do, whatever control-plane
//! changes are interleaved between packets; and the barrier
//! (`Shared::wait_for_caches`) returns only once the forwarding threads
//! reflect the changes made before it.

use datapath::dpif::{DpThread, Shared};
use datapath::execute::TxBatches;
use datapath::flow::{Field, Match};
use datapath::ofproto::{
    Action, Bucket, FlowMod, FlowModCommand, GroupMod, GroupModCommand, GroupType, Instructions,
    Pipeline, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_NORMAL,
};
use datapath::packet::builder::FrameBuilder;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{key_of, packet, pipeline_with_ports, Rig};

const PORTS: u32 = 4;
const MACS: [[u8; 6]; 3] = [
    [0x02, 0, 0, 0, 0, 0x0a],
    [0x02, 0, 0, 0, 0, 0x0b],
    [0x02, 0, 0, 0, 0, 0x0c],
];
const IPS: [[u8; 4]; 3] = [[10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 1, 3]];
const L4_PORTS: [u16; 4] = [53, 80, 443, 1000];

/// A packet of the small universe the properties draw from, so that
/// packets share megaflows and rules overlap.
#[derive(Clone, Debug)]
struct PacketSpec {
    in_port: u32,
    src_mac: usize,
    dst_mac: usize,
    broadcast: bool,
    vlan: Option<u16>,
    src_ip: usize,
    dst_ip: usize,
    tcp: bool,
    sport: usize,
    dport: usize,
}

impl PacketSpec {
    fn frame(&self) -> Vec<u8> {
        let src = MACS[self.src_mac];
        // Never the source itself: a host does not send to itself.
        let dst = if self.broadcast {
            [0xff; 6]
        } else if self.dst_mac == self.src_mac {
            MACS[(self.src_mac + 1) % MACS.len()]
        } else {
            MACS[self.dst_mac]
        };
        let (s, d) = (IPS[self.src_ip], IPS[self.dst_ip]);
        let (sp, dp) = (L4_PORTS[self.sport], L4_PORTS[self.dport]);
        let b = if self.tcp {
            FrameBuilder::tcp4(src, dst, s, d, sp, dp, b"payload")
        } else {
            FrameBuilder::udp4(src, dst, s, d, sp, dp, b"payload")
        };
        match self.vlan {
            Some(vid) => b.vlan(0x8100, vid).build(),
            None => b.build(),
        }
    }
}

fn packet_spec() -> impl Strategy<Value = PacketSpec> {
    (
        1..=PORTS,
        0..MACS.len(),
        0..MACS.len(),
        prop::bool::weighted(0.15),
        prop::option::weighted(0.3, prop_oneof![Just(10u16), Just(20u16)]),
        0..IPS.len(),
        0..IPS.len(),
        any::<bool>(),
        0..L4_PORTS.len(),
        0..L4_PORTS.len(),
    )
        .prop_map(
            |(in_port, src_mac, dst_mac, broadcast, vlan, src_ip, dst_ip, tcp, sport, dport)| {
                PacketSpec {
                    in_port,
                    src_mac,
                    dst_mac,
                    broadcast,
                    vlan,
                    src_ip,
                    dst_ip,
                    tcp,
                    sport,
                    dport,
                }
            },
        )
}

/// A match over some of the fields the universe varies, with its
/// prerequisites.
fn match_strategy() -> impl Strategy<Value = Match> {
    (
        prop::option::of(1..=PORTS),
        prop::option::of(0..MACS.len()),
        prop::option::of((0..IPS.len(), any::<bool>())),
        prop::option::of((any::<bool>(), 0..L4_PORTS.len())),
        prop::option::of(prop_oneof![Just(0u16), Just(10u16), Just(20u16)]),
        prop::bool::weighted(0.7),
    )
        .prop_map(|(in_port, dst_mac, ip, l4, vlan, ipv4)| {
            let mut m = Match::catch_all();
            if ipv4 {
                // Most rules pin IPv4, the prerequisite of the IP set-fields.
                m.set(Field::EthType, 0x0800);
            }
            if let Some(p) = in_port {
                m.set(Field::InPort, p.into());
            }
            if let Some(i) = dst_mac {
                let mac = MACS[i];
                m.set(
                    Field::EthDst,
                    u128::from_be_bytes({
                        let mut b = [0u8; 16];
                        b[10..].copy_from_slice(&mac);
                        b
                    }),
                );
            }
            if let Some((i, prefix)) = ip {
                m.set(Field::EthType, 0x0800);
                let v = u128::from(u32::from_be_bytes(IPS[i]));
                if prefix {
                    m.set_masked(Field::Ipv4Dst, v, 0xffff_ff00);
                } else {
                    m.set(Field::Ipv4Dst, v);
                }
            }
            if let Some((tcp, p)) = l4 {
                m.set(Field::EthType, 0x0800);
                m.set(Field::IpProto, if tcp { 6 } else { 17 });
                let f = if tcp { Field::TcpDst } else { Field::UdpDst };
                m.set(f, L4_PORTS[p].into());
            }
            if let Some(vid) = vlan {
                if vid == 0 {
                    // Untagged only.
                    m.set(Field::VlanVid, 0);
                } else {
                    m.set(Field::VlanVid, u128::from(0x1000 | vid));
                }
            }
            m
        })
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (1..=PORTS).prop_map(|port| Action::Output { port, max_len: 0 }),
        1 => Just(Action::Output { port: OFPP_IN_PORT, max_len: 0 }),
        1 => Just(Action::Output { port: OFPP_FLOOD, max_len: 0 }),
        1 => Just(Action::Output { port: OFPP_CONTROLLER, max_len: 64 }),
        1 => Just(Action::Output { port: OFPP_NORMAL, max_len: 0 }),
        2 => (1u32..=3).prop_map(Action::Group),
        2 => (0..IPS.len()).prop_map(|i| Action::SetField {
            field: Field::Ipv4Dst,
            value: u32::from_be_bytes(IPS[i]).into(),
            mask: None,
        }),
        1 => (0..MACS.len()).prop_map(|i| Action::SetField {
            field: Field::EthSrc,
            value: u128::from_be_bytes({
                let mut b = [0u8; 16];
                b[10..].copy_from_slice(&MACS[i]);
                b
            }),
            mask: None,
        }),
        1 => Just(Action::PushVlan(0x8100)),
        1 => Just(Action::PopVlan),
        1 => prop_oneof![Just(10u128), Just(30u128)].prop_map(|vid| Action::SetField {
            field: Field::VlanVid,
            value: 0x1000 | vid,
            mask: None,
        }),
        1 => Just(Action::DecNwTtl),
        1 => (0u32..3).prop_map(Action::SetQueue),
    ]
}

#[derive(Clone, Debug)]
struct RuleSpec {
    table: u8,
    priority: u16,
    m: Match,
    apply: Vec<Action>,
    write: Option<Vec<Action>>,
    goto: Option<u8>,
}

impl RuleSpec {
    fn instructions(&self) -> Instructions {
        let mut ins = Instructions::apply(self.apply.clone());
        ins.write_actions = self.write.clone();
        if let Some(g) = self.goto {
            if g > self.table {
                ins = ins.with_goto(g);
            }
        }
        ins
    }
}

fn rule_strategy() -> impl Strategy<Value = RuleSpec> {
    (
        0u8..3,
        0u16..4,
        match_strategy(),
        prop::collection::vec(action_strategy(), 0..3),
        prop::option::weighted(0.25, prop::collection::vec(action_strategy(), 1..3)),
        prop::option::weighted(0.4, 1u8..3),
    )
        .prop_map(|(table, priority, m, apply, write, goto)| RuleSpec {
            table,
            priority,
            m,
            apply,
            write,
            goto,
        })
}

fn bucket_strategy() -> impl Strategy<Value = Bucket> {
    (
        prop::collection::vec(action_strategy(), 1..3),
        1u16..4,
        prop::option::of(1..=PORTS),
    )
        .prop_map(|(actions, weight, watch)| {
            // Buckets must not chain groups (no loop to reason about here).
            let actions = actions
                .into_iter()
                .filter(|a| !matches!(a, Action::Group(_)))
                .collect();
            let mut b = Bucket::new(actions);
            b.weight = weight;
            if let Some(p) = watch {
                b.watch_port = p;
            }
            b
        })
}

#[derive(Clone, Debug)]
enum Change {
    AddRule(Box<RuleSpec>),
    ModifyRule {
        table: u8,
        m: Match,
        actions: Vec<Action>,
        strict: bool,
        priority: u16,
    },
    DeleteRule {
        table: u8,
        m: Match,
        strict: bool,
        priority: u16,
    },
    SetGroup {
        id: u32,
        kind: GroupType,
        buckets: Vec<Bucket>,
    },
    DeleteGroup(u32),
    PortState {
        port: u32,
        up: bool,
    },
}

impl Change {
    fn apply(&self, p: &mut Pipeline, now_ms: u64) {
        // A change the pipeline refuses (say, a rule naming a group that
        // does not exist) changes nothing, which is a fine step too.
        match self {
            Change::AddRule(r) => {
                let _ = p.flow_mod(
                    &FlowMod::add(r.table, r.m, r.priority, r.instructions()),
                    now_ms,
                );
            }
            Change::ModifyRule {
                table,
                m,
                actions,
                strict,
                priority,
            } => {
                let cmd = if *strict {
                    FlowModCommand::ModifyStrict
                } else {
                    FlowModCommand::Modify
                };
                let fm = FlowMod::add(*table, *m, *priority, Instructions::apply(actions.clone()))
                    .with_command(cmd);
                let _ = p.flow_mod(&fm, now_ms);
            }
            Change::DeleteRule {
                table,
                m,
                strict,
                priority,
            } => {
                let mut fm = FlowMod::delete(*table, *m);
                if *strict {
                    fm = fm.with_command(FlowModCommand::DeleteStrict);
                    fm.priority = *priority;
                }
                let _ = p.flow_mod(&fm, now_ms);
            }
            Change::SetGroup { id, kind, buckets } => {
                let mut buckets = buckets.clone();
                if *kind == GroupType::Indirect {
                    buckets.truncate(1);
                }
                for b in &mut buckets {
                    if *kind != GroupType::Select {
                        b.weight = 0;
                    }
                    if *kind != GroupType::FastFailover {
                        b.watch_port = datapath::ofproto::OFPP_ANY;
                    }
                }
                let exists = p.group(*id).is_some();
                let gm = GroupMod {
                    command: if exists {
                        GroupModCommand::Modify
                    } else {
                        GroupModCommand::Add
                    },
                    group_type: *kind,
                    group_id: *id,
                    buckets,
                };
                let _ = p.group_mod(&gm, now_ms);
            }
            Change::DeleteGroup(id) => {
                let gm = GroupMod {
                    command: GroupModCommand::Delete,
                    group_type: GroupType::All,
                    group_id: *id,
                    buckets: Vec::new(),
                };
                let _ = p.group_mod(&gm, now_ms);
            }
            Change::PortState { port, up } => {
                p.set_port_state(*port, *up);
            }
        }
    }
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => rule_strategy().prop_map(|r| Change::AddRule(Box::new(r))),
        2 => (0u8..3, match_strategy(), prop::collection::vec(action_strategy(), 0..3), any::<bool>(), 0u16..4)
            .prop_map(|(table, m, actions, strict, priority)| Change::ModifyRule { table, m, actions, strict, priority }),
        2 => (0u8..3, match_strategy(), any::<bool>(), 0u16..4)
            .prop_map(|(table, m, strict, priority)| Change::DeleteRule { table, m, strict, priority }),
        2 => (
            1u32..=3,
            prop_oneof![
                Just(GroupType::All),
                Just(GroupType::Select),
                Just(GroupType::Indirect),
                Just(GroupType::FastFailover)
            ],
            prop::collection::vec(bucket_strategy(), 1..3),
        )
            .prop_map(|(id, kind, buckets)| Change::SetGroup { id, kind, buckets }),
        1 => (1u32..=3).prop_map(Change::DeleteGroup),
        1 => (1..=PORTS, any::<bool>()).prop_map(|(port, up)| Change::PortState { port, up }),
    ]
}

#[derive(Clone, Debug)]
enum Step {
    /// Packets, by index into the case's pool of packets.
    Packets(Vec<usize>),
    Change(Box<Change>),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::collection::vec(any::<usize>(), 1..4).prop_map(Step::Packets),
        2 => change_strategy().prop_map(|c| Step::Change(Box::new(c))),
    ]
}

/// Whether any rule or group of the pipeline outputs to NORMAL (whose MAC
/// learning makes a packet's translation depend on the packets before it
/// in the same batch).
fn uses_normal(steps: &[Step], initial: &[Change]) -> bool {
    let has = |a: &Action| matches!(a, Action::Output { port, .. } if *port == OFPP_NORMAL);
    let in_change = |c: &Change| match c {
        Change::AddRule(r) => r.apply.iter().chain(r.write.iter().flatten()).any(has),
        Change::ModifyRule { actions, .. } => actions.iter().any(has),
        Change::SetGroup { buckets, .. } => buckets.iter().flat_map(|b| &b.actions).any(has),
        _ => false,
    };
    initial.iter().any(in_change)
        || steps
            .iter()
            .any(|s| matches!(s, Step::Change(c) if in_change(c)))
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// At every step, what the cached path did with each packet equals what
    /// a fresh translation on the current pipeline does, and every megaflow
    /// covering the packet agrees with that translation.
    #[test]
    fn the_cached_path_always_agrees_with_fresh_translation(
        initial in prop::collection::vec(
            prop_oneof![
                3 => rule_strategy().prop_map(|r| Change::AddRule(Box::new(r))),
                1 => (1u32..=3, Just(GroupType::All), prop::collection::vec(bucket_strategy(), 1..3))
                    .prop_map(|(id, kind, buckets)| Change::SetGroup { id, kind, buckets }),
            ],
            0..12,
        ),
        steps in prop::collection::vec(step_strategy(), 1..40),
        pool in prop::collection::vec(packet_spec(), 1..8),
        emc_always in any::<bool>(),
        base_ports in prop::array::uniform3(1..=PORTS),
    ) {
        let mut rig = Rig::new(pipeline_with_ports(PORTS));
        rig.shared.set_emc_insert_inv_prob(if emc_always { 1 } else { 0 });
        rig.dp.maintain(&rig.shared, 0);
        // A base rule per table so that most packets do something.
        for (table, port) in base_ports.iter().enumerate() {
            let table = u8::try_from(table).unwrap();
            let actions = vec![Action::Output { port: *port, max_len: 0 }];
            let fm = FlowMod::add(table, Match::catch_all(), 0, Instructions::apply(actions));
            rig.shared.modify(|p| p.flow_mod(&fm, 0).unwrap());
        }
        for c in &initial {
            rig.shared.modify(|p| c.apply(p, 0));
        }
        // With MAC learning in play, a packet's expected result depends on
        // the packets before it in its batch: send those one at a time.
        let single = uses_normal(&steps, &initial);
        let mut now = 1u64;
        for step in &steps {
            now += 7;
            match step {
                Step::Change(c) => rig.shared.modify(|p| c.apply(p, now)),
                Step::Packets(picks) => {
                    let picks = if single { &picks[..1] } else { &picks[..] };
                    let specs: Vec<&PacketSpec> = picks.iter().map(|i| &pool[i % pool.len()]).collect();
                    let pkts: Vec<(u32, Vec<u8>)> =
                        specs.iter().map(|s| (s.in_port, s.frame())).collect();
                    let got = rig.send(&pkts, now);
                    let (fresh, want) = rig.expected(&pkts, now);
                    prop_assert_eq!(&got, &want, "packets {:?}", specs);
                    for ((port, f), t) in pkts.iter().zip(&fresh) {
                        let key = key_of(&packet(*port, f));
                        if let Err(e) = rig.check_cache_agrees(&key, t) {
                            prop_assert!(false, "{}", e);
                        }
                    }
                }
            }
        }
    }
}

fn udp(dport: u16) -> Vec<u8> {
    FrameBuilder::udp4(MACS[0], MACS[1], IPS[0], IPS[1], 1000, dport, b"x").build()
}

fn to_udp_port(dport: u16) -> Match {
    let mut m = Match::catch_all();
    m.set(Field::EthType, 0x0800);
    m.set(Field::IpProto, 17);
    m.set(Field::UdpDst, dport.into());
    m
}

fn output_rule(priority: u16, port: u32) -> FlowMod {
    FlowMod::add(
        0,
        to_udp_port(53),
        priority,
        Instructions::apply(vec![Action::Output { port, max_len: 0 }]),
    )
}

#[test]
fn a_change_right_after_forwarding_is_reflected_in_the_very_next_batch() {
    let mut rig = Rig::new(pipeline_with_ports(PORTS));
    rig.shared.set_emc_insert_inv_prob(1);
    rig.shared
        .modify(|p| p.flow_mod(&output_rule(10, 2), 0).unwrap());
    let pkt = vec![(1, udp(53))];
    for now in 0..5 {
        let o = rig.send(&pkt, now);
        assert_eq!(o.outputs.len(), 1);
        assert_eq!(o.outputs[0].0, 2);
    }
    // Both caches hold the flow now; the change must still win at once.
    assert!(rig.dp.stats().emc_hits > 0);
    rig.shared
        .modify(|p| p.flow_mod(&output_rule(20, 3), 5).unwrap());
    let o = rig.send(&pkt, 5);
    assert_eq!(o.outputs.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3]);
    rig.shared.modify(|p| p.set_port_state(3, false));
    let o = rig.send(&pkt, 6);
    let (_, want) = rig.expected(&pkt, 6);
    assert_eq!(o, want);
}

#[test]
fn wait_for_caches_returns_only_after_the_thread_processed_a_batch_or_is_idle() {
    let shared = Arc::new(Shared::new(pipeline_with_ports(PORTS)));
    let mut dp = DpThread::new(&shared);
    shared.modify(|p| p.flow_mod(&output_rule(10, 2), 0).unwrap());
    let target = shared.epoch();
    // The thread has neither run a batch since the change nor gone idle.
    assert!(!shared.caches_reflect(target));
    assert!(!shared.wait_for_caches(target, Duration::from_millis(30)));

    let done = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (shared, done) = (Arc::clone(&shared), Arc::clone(&done));
        std::thread::spawn(move || {
            let ok = shared.wait_for_caches(target, Duration::from_secs(60));
            done.store(true, Ordering::SeqCst);
            ok
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        !done.load(Ordering::SeqCst),
        "the barrier returned before the thread caught up"
    );
    let mut out = TxBatches::with_pool(8);
    let mut pins = Vec::new();
    dp.process_batch(&shared, &mut [], 1, &mut out, &mut pins);
    assert!(waiter.join().unwrap());
    assert_eq!(dp.epoch(), target);

    // Idle threads do not hold a barrier up, and catch up when they wake.
    shared.modify(|p| p.flow_mod(&output_rule(20, 3), 2).unwrap());
    let target = shared.epoch();
    assert!(!shared.caches_reflect(target));
    dp.set_idle(&shared, true);
    assert!(shared.wait_for_caches(target, Duration::from_secs(60)));
    let mut pkts = vec![packet(1, &udp(53))];
    dp.process_batch(&shared, &mut pkts, 3, &mut out, &mut pins);
    assert_eq!(dp.epoch(), target);
    assert_eq!(out.queued(3).len(), 1);
}

/// A forwarding thread runs batches continuously while the control plane
/// changes the output port and waits at a barrier after each change. Every
/// batch the thread runs with caches at some epoch sends packets exactly
/// where the rules of that epoch say, and each barrier returns with the
/// thread caught up.
#[test]
fn a_busy_forwarding_thread_follows_every_change_and_every_barrier() {
    let shared = Arc::new(Shared::new(pipeline_with_ports(PORTS)));
    shared.modify(|p| p.flow_mod(&output_rule(10, 2), 0).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Epoch -> the port the rules of that epoch send to.
    let ports_by_epoch = Arc::new(Mutex::new(BTreeMap::from([(shared.epoch(), 2u32)])));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let fwd = {
        let (shared, stop, ports_by_epoch, violations) = (
            Arc::clone(&shared),
            Arc::clone(&stop),
            Arc::clone(&ports_by_epoch),
            Arc::clone(&violations),
        );
        std::thread::spawn(move || {
            let mut dp = DpThread::new(&shared);
            let mut out = TxBatches::with_pool(64);
            let mut pins = Vec::new();
            let frame = udp(53);
            let mut now = 0;
            let mut batches = 0u64;
            while !stop.load(Ordering::SeqCst) {
                now += 1;
                let mut pkts: Vec<_> = (0..8).map(|_| packet(1, &frame)).collect();
                dp.process_batch(&shared, &mut pkts, now, &mut out, &mut pins);
                batches += 1;
                // The epoch the batch ran at; the control plane recorded its
                // port while still holding the map, so it is there.
                let epoch = dp.epoch();
                let want = ports_by_epoch.lock().unwrap().get(&epoch).copied();
                out.flush(|port, sent| {
                    if want != Some(port) {
                        violations
                            .lock()
                            .unwrap()
                            .push((epoch, want, port, sent.len()));
                    }
                });
            }
            batches
        })
    };
    for (i, port) in [3u32, 4, 2, 3, 4, 1, 2].into_iter().enumerate() {
        let prio = 11 + u16::try_from(i).unwrap();
        let target = {
            let mut map = ports_by_epoch.lock().unwrap();
            shared.modify(|p| p.flow_mod(&output_rule(prio, port), 0).unwrap());
            map.insert(shared.epoch(), port);
            shared.epoch()
        };
        assert!(shared.wait_for_caches(target, Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(3));
    }
    stop.store(true, Ordering::SeqCst);
    let batches = fwd.join().unwrap();
    assert!(batches > 0);
    let v = violations.lock().unwrap();
    assert!(
        v.is_empty(),
        "packets went against their epoch's rules: {v:?}"
    );
}
