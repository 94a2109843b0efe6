//! Flow-mod round trips through the management socket, as `ovs-ofctl
//! add-flows` makes them: every flow mod is followed by a BARRIER and the
//! tool waits for its reply before sending the next, so the rate is one
//! over the round trip. The test installs a table of the shape the
//! comparison benchmark uses, checks that every flow is in, and bounds the
//! round trip loosely (a barrier that slept or polled would cost a
//! millisecond or more each); the ignored one measures 100,000 flows.
//!
//! With `SWITCH_REQUIRE_PEERS` set, a missing `ovs-ofctl` fails the test;
//! otherwise the test is skipped with a message.

mod ofharness;

use ofharness::{ofctl, Switchd};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// `n` rules of four match shapes (UDP port, IPv4 destination, both, IPv4
/// source), all dropping, then the table-miss NORMAL.
fn scale_rules(n: usize) -> String {
    let mut s = String::new();
    for j in 0..n.saturating_sub(1) {
        let idx = j / 4;
        let (hi, lo) = ((idx >> 8) & 0xff, idx & 0xff);
        let _ = match j % 4 {
            0 => writeln!(s, "priority=100,udp,tp_dst={},actions=drop", 1024 + idx),
            1 => writeln!(s, "priority=110,ip,nw_dst=198.19.{hi}.{lo},actions=drop"),
            2 => writeln!(
                s,
                "priority=120,udp,nw_dst=198.19.{hi}.{lo},tp_dst=7,actions=drop"
            ),
            _ => writeln!(s, "priority=130,ip,nw_src=198.19.{hi}.{lo},actions=drop"),
        };
    }
    s.push_str("priority=0,actions=NORMAL\n");
    s
}

/// Installs `n` rules with `ovs-ofctl add-flows` over the management
/// socket; returns the time per flow mod and barrier round trip.
fn install(name: &str, n: usize) -> Option<Duration> {
    if !ofharness::have_ovs_ofctl() {
        return None;
    }
    let sw = Switchd::start(name, &[]);
    let file = sw.dir().join("rules.txt");
    std::fs::write(&file, scale_rules(n)).expect("rules file");
    let target = format!("unix:{}", sw.mgmt().display());
    let started = Instant::now();
    ofctl(&["add-flows", &target, file.to_str().expect("utf-8")]).expect("add-flows");
    let took = started.elapsed();
    let agg = ofctl(&["dump-aggregate", &target]).expect("dump-aggregate");
    assert!(agg.contains(&format!("flow_count={n}")), "{agg}");
    let per = took / u32::try_from(n).unwrap_or(u32::MAX);
    eprintln!(
        "ovs-ofctl add-flows {n}: {:.2} s, {:.0} flows/s, {:.1} us per round trip",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        per.as_secs_f64() * 1e6
    );
    Some(per)
}

#[test]
fn ovs_ofctl_add_flows_gets_every_barrier_answered_without_delay() {
    let Some(per) = install("fmrate", 5_000) else {
        return;
    };
    assert!(
        per < Duration::from_micros(1_500),
        "{per:?} per flow mod and barrier"
    );
}

#[test]
#[ignore = "a measurement: 100,000 flows (use a release build)"]
fn the_rate_of_ovs_ofctl_add_flows_with_a_hundred_thousand_flows_is_measured() {
    install("fmbig", 100_000);
}
