//! The phases of `compare` beyond the base figures: scale (rules x
//! 5-tuples), flow setup, flow-mod rate with resident memory, and the
//! forwarding-thread scan of `switchd`.
//!
//! Each phase follows the base phase's discipline: repetitions are
//! interleaved over the devices, every device is set up and torn down per
//! repetition (its [`Topology`] guard kills what it started and deletes its
//! namespaces), every command runs with a time bound, and the report shows
//! the median with the minimum and maximum of the repetitions. Only the
//! devices that speak OpenFlow take part in the rule phases, and they all
//! get the same rule files.

use super::traffic::{self, Spread};
use super::{median, run_bounded, stopped, Config, Device, Run, Topology, DST_IP, UDP_PORT};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Median, minimum and maximum of some repetitions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub med: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub(crate) fn of(v: &[f64]) -> Option<Stat> {
        let med = median(v.to_vec())?;
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Stat { med, min, max })
    }

    /// `med (min–max)` scaled down by `div`.
    fn show(self, div: f64, prec: usize) -> String {
        format!(
            "{:.*} ({:.*}–{:.*})",
            prec,
            self.med / div,
            prec,
            self.min / div,
            prec,
            self.max / div
        )
    }

    fn json(self) -> Value {
        json!({"median": self.med, "min": self.min, "max": self.max})
    }
}

fn show(s: Option<Stat>, div: f64, prec: usize) -> String {
    s.map_or("-".into(), |s| s.show(div, prec))
}

/// Which tool installed a flow table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tool {
    OvsOfctl,
    Ofctl,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::OvsOfctl => "ovs-ofctl",
            Tool::Ofctl => "ofctl",
        }
    }
}

/// What the extra phases measured, every repetition kept.
#[derive(Default)]
pub(crate) struct Extra {
    /// (device, rules, tuples) → (rx pps, offered pps, loss %) per repetition.
    pub scale: BTreeMap<(Device, usize, u64), Vec<[f64; 3]>>,
    /// device → (new flows/s received, offered/s, loss %) per repetition.
    pub setup: BTreeMap<Device, Vec<[f64; 3]>>,
    /// device → share of packets that missed the caches (%), per repetition.
    pub setup_miss: BTreeMap<Device, Vec<f64>>,
    /// (device, tool) → flows per second per repetition.
    pub flowmod: BTreeMap<(Device, Tool), Vec<f64>>,
    /// device → resident MiB with the large table installed, per repetition.
    pub rss: BTreeMap<Device, Vec<f64>>,
    /// switchd forwarding threads → base figures per repetition.
    pub threads: BTreeMap<usize, Vec<Run>>,
    /// Failures, one line each, by phase and device.
    pub errors: Vec<String>,
    /// Raw rows of every repetition, as CSV lines per file.
    pub csv: BTreeMap<&'static str, String>,
}

impl Extra {
    fn row(&mut self, file: &'static str, header: &str, line: String) {
        let body = self
            .csv
            .entry(file)
            .or_insert_with(|| format!("{header}\n"));
        body.push_str(&line);
        body.push('\n');
    }
}

/// The devices of `cfg` that take OpenFlow rules.
fn openflow_devices(cfg: &Config) -> Vec<Device> {
    cfg.devices
        .iter()
        .copied()
        .filter(|d| d.speaks_openflow())
        .collect()
}

/// Writes a rule file into the output directory once and returns its path.
fn rule_file(cfg: &Config, name: &str, body: impl FnOnce() -> String) -> Result<PathBuf, String> {
    let p = cfg.out.join(name);
    if !p.is_file() {
        std::fs::write(&p, body()).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    std::fs::canonicalize(&p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Runs an OpenFlow management tool against the device's switch.
fn of_tool(cfg: &Config, tool: Tool, args: &[&str], bound: Duration) -> Result<String, String> {
    let mut c = match tool {
        Tool::OvsOfctl => Command::new("ovs-ofctl"),
        Tool::Ofctl => Command::new(&cfg.ofctl),
    };
    c.args(["-O", "OpenFlow13"]).args(args);
    run_bounded(&mut c, bound)
}

/// The number of flows in the switch's tables (`dump-aggregate`).
fn flow_count(cfg: &Config, target: &str) -> Result<u64, String> {
    let out = of_tool(
        cfg,
        Tool::OvsOfctl,
        &["dump-aggregate", target],
        Duration::from_secs(60),
    )?;
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("flow_count="))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .ok_or_else(|| format!("dump-aggregate printed no flow_count: {}", out.trim()))
}

/// Replaces the switch's flow table with `file` using `tool` and checks that
/// `expect` flows are in; returns the time `add-flows` took (it ends with a
/// barrier, so every flow is in the table when it returns).
fn install(
    cfg: &Config,
    t: &Topology,
    tool: Tool,
    file: &Path,
    expect: u64,
) -> Result<Duration, String> {
    let target = t
        .of_target
        .as_deref()
        .ok_or("the device has no OpenFlow target")?;
    of_tool(cfg, tool, &["del-flows", target], Duration::from_secs(60))?;
    let file = file.to_string_lossy();
    let started = Instant::now();
    of_tool(
        cfg,
        tool,
        &["add-flows", target, &file],
        Duration::from_secs(300),
    )?;
    let took = started.elapsed();
    let n = flow_count(cfg, target)?;
    // Open vSwitch keeps no hidden flows in table 0 with these files; allow
    // a switch a few of its own besides.
    if n < expect || n > expect + 4 {
        return Err(format!(
            "{} add-flows: {n} flows in the switch, expected {expect}",
            tool.name()
        ));
    }
    Ok(took)
}

/// Offers `rawgen` traffic for `secs` and counts it at the sink:
/// (received pps, offered pps, loss %).
fn raw_udp(cfg: &Config, t: &Topology, secs: f64, spread: Spread) -> Result<[f64; 3], String> {
    let me = super::child_exe()?;
    let me = me.to_string_lossy().into_owned();
    let mut sink = t.exec(&t.receiver, &me);
    sink.args([
        "sink",
        "--port",
        &UDP_PORT.to_string(),
        "--secs",
        &(secs + 3.0).to_string(),
        "--mode",
        super::sink_mode(cfg),
    ]);
    let sink_thread =
        std::thread::spawn(move || run_bounded(&mut sink, Duration::from_secs_f64(secs + 8.0)));
    std::thread::sleep(Duration::from_millis(300));
    let mut gen = t.exec(&t.sender, &me);
    gen.args(traffic::rawgen_args(DST_IP, secs, spread, !cfg.socket_gen));
    let tx_out = run_bounded(&mut gen, Duration::from_secs_f64(secs + 5.0));
    let rx_out = sink_thread
        .join()
        .map_err(|_| "sink thread panicked".to_string())?;
    let tx = super::tagged_count(&tx_out?, "tx ").ok_or("generator printed no count")?;
    let rx = super::tagged_count(&rx_out?, "rx ").ok_or("sink printed no count")?;
    let loss = if tx > 0.0 {
        ((tx - rx) / tx * 100.0).max(0.0)
    } else {
        100.0
    };
    Ok([rx / secs, tx / secs, loss])
}

/// The device's datapath counters: (packets looked up, cache misses).
/// `switchd ctl cache-stats` for switchd (summed over its threads), and
/// `dpctl/show` for Open vSwitch.
fn lookups(cfg: &Config, t: &Topology, device: Device) -> Option<(f64, f64)> {
    let num = |s: &str| s.trim().parse::<f64>().ok();
    if device == Device::Switchd {
        let run = t.dir.join("run");
        let out = run_bounded(
            Command::new(&cfg.switchd)
                .args(["ctl", "--run-dir"])
                .arg(&run)
                .arg("cache-stats"),
            Duration::from_secs(20),
        )
        .ok()?;
        let (mut packets, mut misses) = (0.0, 0.0);
        for l in out.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            packets += num(f.get(2)?)?;
            misses += num(f.get(5)?)?;
        }
        return Some((packets, misses));
    }
    let ctl = t.dir.join("ovs-vswitchd.ctl");
    let out = run_bounded(
        Command::new("ovs-appctl")
            .arg("-t")
            .arg(&ctl)
            .arg("dpctl/show"),
        Duration::from_secs(20),
    )
    .ok()?;
    let line = out.lines().find(|l| l.contains("lookups:"))?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(num)
    };
    let (hit, missed, lost) = (field("hit:")?, field("missed:")?, field("lost:")?);
    Some((hit + missed + lost, missed + lost))
}

/// Current resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Sets up every OpenFlow device once per repetition, interleaved, and
/// hands the topology to `work`; a device that fails is skipped afterwards.
fn each_device(
    cfg: &Config,
    phase: &str,
    devices: &[Device],
    extra: &mut Extra,
    mut work: impl FnMut(&Topology, Device, u32, &mut Extra) -> Result<(), String>,
) -> Result<(), String> {
    let tag = std::process::id() % 10000;
    let mut failed: Vec<Device> = Vec::new();
    for rep in 1..=cfg.reps {
        for (i, &device) in devices.iter().enumerate() {
            if stopped() {
                return Err("interrupted; everything created was removed".into());
            }
            if failed.contains(&device) {
                continue;
            }
            eprintln!("[{phase} {rep}/{}] {} ...", cfg.reps, device.name());
            let prefix = format!("c{tag}{i}");
            let result =
                Topology::up(device, &prefix, cfg).and_then(|t| work(&t, device, rep, extra));
            match result {
                Ok(()) => {}
                Err(e) if stopped() => return Err(format!("{e}; everything created was removed")),
                Err(e) => {
                    eprintln!("    {} failed: {e}", device.name());
                    extra
                        .errors
                        .push(format!("{phase}: {}: {e}", device.name()));
                    failed.push(device);
                }
            }
        }
    }
    Ok(())
}

/// Scale: for every rule count, install the scale rule set, then offer
/// traffic over every tuple count.
pub(crate) fn scale(cfg: &Config, extra: &mut Extra) -> Result<(), String> {
    let devices = openflow_devices(cfg);
    let mut files = Vec::new();
    for &n in &cfg.scale_rules {
        files.push((
            n,
            rule_file(cfg, &format!("rules-scale-{n}.txt"), || {
                traffic::scale_rules(n)
            })?,
        ));
    }
    each_device(cfg, "scale", &devices, extra, |t, device, rep, extra| {
        for (n, file) in &files {
            install(cfg, t, Tool::OvsOfctl, file, *n as u64)?;
            for &k in &cfg.scale_tuples {
                let r = raw_udp(cfg, t, cfg.scale_secs, Spread::Cycle(k))?;
                eprintln!(
                    "    {n} rules, {k} tuples: {:.3} Mpps rx, loss {:.1}%",
                    r[0] / 1e6,
                    r[2]
                );
                extra.row(
                    "scale.csv",
                    "device,rep,rules,tuples,rx_pps,tx_pps,loss_pct",
                    format!(
                        "{},{rep},{n},{k},{:.1},{:.1},{:.2}",
                        device.name(),
                        r[0],
                        r[1],
                        r[2]
                    ),
                );
                extra.scale.entry((device, *n, k)).or_default().push(r);
            }
        }
        Ok(())
    })
}

/// Flow setup: every packet a new 5-tuple whose megaflow is exact on its
/// source address and port.
pub(crate) fn flow_setup(cfg: &Config, extra: &mut Extra) -> Result<(), String> {
    let devices = openflow_devices(cfg);
    let file = rule_file(cfg, "rules-flow-setup.txt", traffic::setup_rules)?;
    let expect = u64::try_from(traffic::setup_rules().lines().count()).unwrap_or(0);
    each_device(
        cfg,
        "flow-setup",
        &devices,
        extra,
        |t, device, rep, extra| {
            install(cfg, t, Tool::OvsOfctl, &file, expect)?;
            let before = lookups(cfg, t, device);
            let r = raw_udp(cfg, t, cfg.setup_secs, Spread::New)?;
            // The share of the packets the switch saw that missed its caches:
            // the check that every new 5-tuple really was a new flow.
            let miss_pct = match (before, lookups(cfg, t, device)) {
                (Some(a), Some(b)) if b.0 > a.0 => Some((b.1 - a.1) / (b.0 - a.0) * 100.0),
                _ => None,
            };
            eprintln!(
                "    {:.0} new flows/s received, offered {:.0}/s, loss {:.1}%, cache misses {}",
                r[0],
                r[1],
                r[2],
                miss_pct.map_or("unknown".into(), |m| format!("{m:.1}%"))
            );
            extra.row(
                "flow_setup.csv",
                "device,rep,new_flows_rx_per_s,offered_per_s,loss_pct,miss_pct",
                format!(
                    "{},{rep},{:.1},{:.1},{:.2},{}",
                    device.name(),
                    r[0],
                    r[1],
                    r[2],
                    miss_pct.map(|m| format!("{m:.2}")).unwrap_or_default()
                ),
            );
            extra.setup.entry(device).or_default().push(r);
            if let Some(m) = miss_pct {
                extra.setup_miss.entry(device).or_default().push(m);
            }
            Ok(())
        },
    )
}

/// Flow-mod rate: the large rule set by `ovs-ofctl add-flows` and by our
/// `ofctl add-flows`; resident memory with it installed.
pub(crate) fn flow_mod(cfg: &Config, extra: &mut Extra) -> Result<(), String> {
    let devices = openflow_devices(cfg);
    let n = cfg.flowmod_rules;
    let file = rule_file(cfg, &format!("rules-scale-{n}.txt"), || {
        traffic::scale_rules(n)
    })?;
    let mut tools = vec![Tool::OvsOfctl];
    if cfg.ofctl.is_file() {
        tools.push(Tool::Ofctl);
    } else {
        extra.errors.push(format!(
            "flow-mod: ofctl: {} is not a file (build it with `cargo build --release -p ofctl`)",
            cfg.ofctl.display()
        ));
    }
    each_device(cfg, "flow-mod", &devices, extra, |t, device, rep, extra| {
        for &tool in &tools {
            let took = install(cfg, t, tool, &file, n as u64)?.as_secs_f64();
            let rate = n as f64 / took.max(1e-9);
            eprintln!(
                "    {} add-flows {n}: {took:.2} s, {rate:.0} flows/s",
                tool.name()
            );
            let rss = t.measured.and_then(rss_mib);
            extra.row(
                "flow_mod.csv",
                "device,rep,tool,flows,seconds,flows_per_s,rss_mib",
                format!(
                    "{},{rep},{},{n},{took:.3},{rate:.0},{}",
                    device.name(),
                    tool.name(),
                    rss.map(|r| format!("{r:.1}")).unwrap_or_default()
                ),
            );
            extra.flowmod.entry((device, tool)).or_default().push(rate);
            // The table is the same whichever tool put it there; one
            // reading per repetition, after the last install.
            if tool == *tools.last().unwrap_or(&Tool::OvsOfctl) {
                if let Some(r) = rss {
                    extra.rss.entry(device).or_default().push(r);
                }
            }
        }
        Ok(())
    })
}

/// 5-tuples of the thread scan's many-flow UDP: enough for the fanout
/// hash to spread them over the threads, few enough for the exact-match
/// caches.
pub(crate) const MANY_FLOWS: u64 = 1000;

/// `switchd` with 1 and 2 forwarding threads: UDP64 with one flow and with
/// [`MANY_FLOWS`], and TCP.
pub(crate) fn threads_scan(cfg: &Config, extra: &mut Extra) -> Result<(), String> {
    let tag = std::process::id() % 10000;
    for rep in 1..=cfg.reps {
        for &n in &cfg.scan_threads {
            if stopped() {
                return Err("interrupted; everything created was removed".into());
            }
            eprintln!("[threads {rep}/{}] switchd --threads {n} ...", cfg.reps);
            let mut c = cfg.clone();
            c.threads = Some(n);
            c.latency = false;
            let prefix = format!("c{tag}t{n}");
            let result = Topology::up(Device::Switchd, &prefix, &c).and_then(|t| {
                let mut run = super::measure(&t, &c)?;
                let [rx, _, _] = raw_udp(&c, &t, c.secs, Spread::Cycle(MANY_FLOWS))?;
                run.udp_many_rx_pps = Some(rx);
                Ok(run)
            });
            match result {
                Ok(run) => {
                    eprintln!(
                        "    udp64 {:.3} Mpps rx, loss {:.1}%; {MANY_FLOWS} flows {:.3} Mpps rx",
                        run.udp_rx_pps.unwrap_or(0.0) / 1e6,
                        run.udp_loss_pct.unwrap_or(0.0),
                        run.udp_many_rx_pps.unwrap_or(0.0) / 1e6
                    );
                    let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
                    extra.row(
                        "threads.csv",
                        "threads,rep,udp64_rx_pps,udp64_tx_pps,udp64_loss_pct,udp64_cpu_pct,tcp1_gbps,tcp4_gbps,udp64_many_rx_pps",
                        format!(
                            "{n},{rep},{},{},{},{},{},{},{}",
                            f(run.udp_rx_pps),
                            f(run.udp_tx_pps),
                            f(run.udp_loss_pct),
                            f(run.udp_cpu_pct),
                            f(run.tcp1_gbps),
                            f(run.tcp4_gbps),
                            f(run.udp_many_rx_pps)
                        ),
                    );
                    extra.threads.entry(n).or_default().push(run);
                }
                Err(e) if stopped() => return Err(format!("{e}; everything created was removed")),
                Err(e) => {
                    eprintln!("    failed: {e}");
                    extra
                        .errors
                        .push(format!("threads: switchd --threads {n}: {e}"));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- report

/// Medians (with min/max) of the extra phases, for the table, the JSON and
/// the chart.
pub(crate) struct Summary {
    pub scale: BTreeMap<(Device, usize, u64), [Option<Stat>; 3]>,
    pub setup: BTreeMap<Device, [Option<Stat>; 3]>,
    pub setup_miss: BTreeMap<Device, Option<Stat>>,
    pub flowmod: BTreeMap<(Device, Tool), Option<Stat>>,
    pub rss: BTreeMap<Device, Option<Stat>>,
    pub threads: BTreeMap<usize, [Option<Stat>; 6]>,
}

fn stats3(v: &[[f64; 3]]) -> [Option<Stat>; 3] {
    [0, 1, 2].map(|k| Stat::of(&v.iter().map(|r| r[k]).collect::<Vec<_>>()))
}

pub(crate) fn summarize(extra: &Extra) -> Summary {
    Summary {
        scale: extra.scale.iter().map(|(k, v)| (*k, stats3(v))).collect(),
        setup: extra.setup.iter().map(|(k, v)| (*k, stats3(v))).collect(),
        setup_miss: extra
            .setup_miss
            .iter()
            .map(|(k, v)| (*k, Stat::of(v)))
            .collect(),
        flowmod: extra
            .flowmod
            .iter()
            .map(|(k, v)| (*k, Stat::of(v)))
            .collect(),
        rss: extra.rss.iter().map(|(k, v)| (*k, Stat::of(v))).collect(),
        threads: extra
            .threads
            .iter()
            .map(|(n, runs)| {
                let pick = |f: fn(&Run) -> Option<f64>| {
                    Stat::of(&runs.iter().filter_map(f).collect::<Vec<_>>())
                };
                (
                    *n,
                    [
                        pick(|r| r.udp_rx_pps),
                        pick(|r| r.udp_loss_pct),
                        pick(|r| r.udp_cpu_pct),
                        pick(|r| r.tcp1_gbps),
                        pick(|r| r.tcp4_gbps),
                        pick(|r| r.udp_many_rx_pps),
                    ],
                )
            })
            .collect(),
    }
}

/// The extra phases' part of the printed table.
pub(crate) fn render(cfg: &Config, s: &Summary, extra: &Extra) -> String {
    let mut out = String::new();
    let devices: Vec<Device> = openflow_devices(cfg);
    if !s.scale.is_empty() {
        let _ = writeln!(
            out,
            "\nScale: UDP64 received Mpps, median (min–max) of {} x {} s, by rules installed (rows) and 5-tuples (columns).\n",
            cfg.reps, cfg.scale_secs
        );
        let mut head = String::from("| device | rules |");
        let mut rule = String::from("|---|---:|");
        for k in &cfg.scale_tuples {
            let _ = write!(head, " {k} tuples |");
            rule.push_str("---:|");
        }
        head.push_str(" loss % at most tuples | largest/smallest |");
        rule.push_str("---:|---:|");
        let _ = writeln!(out, "{head}\n{rule}");
        for d in &devices {
            for &n in &cfg.scale_rules {
                if !cfg
                    .scale_tuples
                    .iter()
                    .any(|k| s.scale.contains_key(&(*d, n, *k)))
                {
                    continue;
                }
                let _ = write!(out, "| {} | {n} |", d.name());
                for &k in &cfg.scale_tuples {
                    let v = s.scale.get(&(*d, n, k)).and_then(|v| v[0]);
                    let _ = write!(out, " {} |", show(v, 1e6, 3));
                }
                let last = cfg.scale_tuples.last().copied().unwrap_or(1);
                let loss = s.scale.get(&(*d, n, last)).and_then(|v| v[2]);
                let ratio = scale_ratio(cfg, s, *d)
                    .filter(|_| Some(&n) == cfg.scale_rules.last())
                    .map_or("".into(), |r| format!("{r:.2}x"));
                let _ = writeln!(
                    out,
                    " {} | {ratio} |",
                    loss.map_or("-".into(), |l| format!("{:.1}", l.med))
                );
            }
        }
        let _ = writeln!(
            out,
            "\n`largest/smallest`: the rate with the most rules and tuples over the rate with the fewest (target ≥ 0.8x)."
        );
    }
    if !s.setup.is_empty() {
        let _ = writeln!(
            out,
            "\nFlow setup: every packet a new 5-tuple and a cache miss, {} x {} s.\n",
            cfg.reps, cfg.setup_secs
        );
        let _ = writeln!(
            out,
            "| device | new flows/s received (k) | offered (k/s) | loss % | cache misses % |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for (d, v) in &s.setup {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                d.name(),
                show(v[0], 1e3, 1),
                show(v[1], 1e3, 1),
                show(v[2], 1.0, 1),
                show(s.setup_miss.get(d).copied().flatten(), 1.0, 1)
            );
        }
    }
    if !s.flowmod.is_empty() {
        let _ = writeln!(
            out,
            "\nFlow-mod rate: `add-flows` of {} flows (ends with a barrier; count checked by dump-aggregate), flows/s in thousands; resident memory with the table installed.\n",
            cfg.flowmod_rules
        );
        let _ = writeln!(out, "| device | ovs-ofctl (k/s) | ofctl (k/s) | RSS MiB |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for d in &devices {
            let a = s.flowmod.get(&(*d, Tool::OvsOfctl)).copied().flatten();
            let b = s.flowmod.get(&(*d, Tool::Ofctl)).copied().flatten();
            let r = s.rss.get(d).copied().flatten();
            if a.is_none() && b.is_none() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                d.name(),
                show(a, 1e3, 1),
                show(b, 1e3, 1),
                show(r, 1.0, 1)
            );
        }
    }
    if !s.threads.is_empty() {
        let _ = writeln!(
            out,
            "\nswitchd forwarding threads ({} x {} s).\n",
            cfg.reps, cfg.secs
        );
        let _ = writeln!(
            out,
            "| threads | UDP64 rx Mpps | loss % | CPU % (UDP) | UDP64 {MANY_FLOWS} flows rx Mpps | TCP x1 Gbit/s | TCP x4 Gbit/s |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
        for (n, v) in &s.threads {
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                show(v[0], 1e6, 3),
                show(v[1], 1.0, 1),
                show(v[2], 1.0, 0),
                show(v[5], 1e6, 3),
                show(v[3], 1.0, 2),
                show(v[4], 1.0, 2)
            );
        }
    }
    // switchd against each baseline on the phases' headline figures.
    let mut lines = Vec::new();
    for base in devices.iter().filter(|d| !d.is_switchd()) {
        let cmp =
            |what: &str, ours: Option<Stat>, theirs: Option<Stat>, lines: &mut Vec<String>| {
                if let (Some(o), Some(b)) = (ours, theirs) {
                    if b.med > 0.0 {
                        lines.push(format!("- {what}: {:.2}x {}", o.med / b.med, base.name()));
                    }
                }
            };
        let big = |d: Device| {
            let n = *cfg.scale_rules.last()?;
            let k = *cfg.scale_tuples.last()?;
            s.scale.get(&(d, n, k)).and_then(|v| v[0])
        };
        cmp(
            "scale, most rules and tuples, rx pps",
            big(Device::Switchd),
            big(*base),
            &mut lines,
        );
        cmp(
            "flow setup, new flows/s",
            s.setup.get(&Device::Switchd).and_then(|v| v[0]),
            s.setup.get(base).and_then(|v| v[0]),
            &mut lines,
        );
        for tool in [Tool::OvsOfctl, Tool::Ofctl] {
            cmp(
                &format!("flow-mod rate by {}", tool.name()),
                s.flowmod.get(&(Device::Switchd, tool)).copied().flatten(),
                s.flowmod.get(&(*base, tool)).copied().flatten(),
                &mut lines,
            );
        }
        cmp(
            "resident memory with the large table (lower is better)",
            s.rss.get(&Device::Switchd).copied().flatten(),
            s.rss.get(base).copied().flatten(),
            &mut lines,
        );
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\nswitchd against the baselines on these phases:");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    if !extra.errors.is_empty() {
        let _ = writeln!(out, "\nFailures:");
        for e in &extra.errors {
            let _ = writeln!(out, "- {e}");
        }
    }
    out
}

/// Rate with the most rules and tuples over the rate with the fewest.
pub(crate) fn scale_ratio(cfg: &Config, s: &Summary, d: Device) -> Option<f64> {
    let (n0, n1) = (*cfg.scale_rules.first()?, *cfg.scale_rules.last()?);
    let (k0, k1) = (*cfg.scale_tuples.first()?, *cfg.scale_tuples.last()?);
    let small = s.scale.get(&(d, n0, k0))?[0]?.med;
    let big = s.scale.get(&(d, n1, k1))?[0]?.med;
    (small > 0.0).then(|| big / small)
}

/// The extra phases for `results.json`.
pub(crate) fn to_json(cfg: &Config, s: &Summary) -> Value {
    let opt = |v: Option<Stat>| v.map_or(Value::Null, Stat::json);
    json!({
        "scale": s.scale.iter().map(|((d, n, k), v)| json!({
            "device": d.name(), "rules": n, "tuples": k,
            "rx_pps": opt(v[0]), "tx_pps": opt(v[1]), "loss_pct": opt(v[2]),
        })).collect::<Vec<_>>(),
        "scale_ratio": openflow_devices(cfg).iter()
            .filter_map(|d| scale_ratio(cfg, s, *d).map(|r| (d.name().to_string(), json!(r))))
            .collect::<serde_json::Map<_, _>>(),
        "flow_setup": s.setup.iter().map(|(d, v)| (d.name().to_string(), json!({
            "new_flows_rx_per_s": opt(v[0]), "offered_per_s": opt(v[1]), "loss_pct": opt(v[2]),
            "cache_miss_pct": opt(s.setup_miss.get(d).copied().flatten()),
        }))).collect::<serde_json::Map<_, _>>(),
        "flow_mod": s.flowmod.iter().map(|((d, t), v)| json!({
            "device": d.name(), "tool": t.name(), "flows": cfg.flowmod_rules, "flows_per_s": opt(*v),
        })).collect::<Vec<_>>(),
        "rss_large_table_mib": s.rss.iter()
            .map(|(d, v)| (d.name().to_string(), opt(*v)))
            .collect::<serde_json::Map<_, _>>(),
        "threads": s.threads.iter().map(|(n, v)| json!({
            "threads": n, "udp64_rx_pps": opt(v[0]), "udp64_loss_pct": opt(v[1]),
            "udp64_cpu_pct": opt(v[2]), "tcp1_gbps": opt(v[3]), "tcp4_gbps": opt(v[4]),
            "udp64_many_flows_rx_pps": opt(v[5]),
        })).collect::<Vec<_>>(),
    })
}
