//! `ofctl` against a real Open vSwitch, command for command beside
//! `ovs-ofctl -O OpenFlow13`.
//!
//! Each test starts its own `ovsdb-server` and `ovs-vswitchd` (userspace
//! `netdev` datapath) with private run, log and database directories,
//! inside a network namespace of its own (the userspace datapath creates a
//! tap device), with one bridge whose OpenFlow 1.3 listener is
//! `ptcp:PORT:127.0.0.1` in that namespace. Both tools run in the
//! namespace against the same bridge, and their outputs are compared after
//! normalising what legitimately differs (transaction ids, durations).
//! The guard stops the daemons by PID and removes the namespace on drop,
//! also when a test fails.
//!
//! Without Open vSwitch installed the tests skip, unless
//! `SWITCH_REQUIRE_PEERS` is set, in which case they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

const OFCTL: &str = env!("CARGO_BIN_EXE_ofctl");

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the peers are present; panics when they are required but absent.
fn peers_available() -> bool {
    let ok = [
        "ovs-vswitchd",
        "ovsdb-server",
        "ovsdb-tool",
        "ovs-vsctl",
        "ovs-ofctl",
        "ip",
    ]
    .iter()
    .all(|c| have(c))
        && Path::new("/usr/share/openvswitch/vswitch.ovsschema").exists();
    if !ok {
        assert!(
            std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
            "Open vSwitch (apt package openvswitch-switch) is required: SWITCH_REQUIRE_PEERS is set"
        );
        eprintln!("skipping: Open vSwitch (openvswitch-switch) is not installed");
    }
    ok
}

/// A private Open vSwitch in its own namespace; stopped on drop.
struct Ovs {
    ns: String,
    dir: PathBuf,
    port: u16,
}

impl Ovs {
    fn start() -> Ovs {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let ns = format!("ofc{}{n}", std::process::id() % 10000);
        let dir = std::env::temp_dir().join(format!("ofctl-ovs-{ns}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the OVS directory");
        let ovs = Ovs {
            ns,
            dir,
            port: 6653,
        };
        ovs.sh(&["ip", "netns", "add", &ovs.ns], false);
        ovs.ns_run(&["ip", "link", "set", "lo", "up"]);
        let d = ovs.dir.display().to_string();
        ovs.run_env(&[
            "ovsdb-tool",
            "create",
            &format!("{d}/conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]);
        ovs.ns_run(&[
            "ovsdb-server",
            &format!("{d}/conf.db"),
            &format!("--remote=punix:{d}/db.sock"),
            &format!("--pidfile={d}/ovsdb-server.pid"),
            &format!("--unixctl={d}/ovsdb-server.ctl"),
            &format!("--log-file={d}/ovsdb-server.log"),
            "--detach",
        ]);
        ovs.ns_run(&[
            "ovs-vsctl",
            &format!("--db=unix:{d}/db.sock"),
            "--no-wait",
            "init",
        ]);
        ovs.ns_run(&[
            "ovs-vswitchd",
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/ovs-vswitchd.pid"),
            &format!("--unixctl={d}/ovs-vswitchd.ctl"),
            &format!("--log-file={d}/ovs-vswitchd.log"),
            "--detach",
        ]);
        ovs.ns_run(&[
            "ovs-vsctl",
            &format!("--db=unix:{d}/db.sock"),
            "--timeout=30",
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "protocols=OpenFlow13",
            "--",
            "set-controller",
            "br0",
            &format!("ptcp:{}:127.0.0.1", ovs.port),
        ]);
        // Wait for the listener.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = ovs.ovs_ofctl(&["show", &ovs.target()]);
            if o.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ovs-vswitchd did not listen: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ovs
    }

    fn target(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(args);
        let d = &self.dir;
        c.env("OVS_RUNDIR", d)
            .env("OVS_DBDIR", d)
            .env("OVS_LOGDIR", d)
            .env("OVS_SYSCONFDIR", d)
            .env("OVS_PKGDATADIR", "/usr/share/openvswitch");
        c
    }

    fn sh(&self, args: &[&str], env: bool) -> Output {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        if env {
            c.env("OVS_RUNDIR", &self.dir).env("OVS_DBDIR", &self.dir);
        }
        let o = c.output().expect("run a command");
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    fn run_env(&self, args: &[&str]) -> Output {
        self.sh(args, true)
    }

    fn ns_run(&self, args: &[&str]) -> Output {
        let o = self.cmd(args).output().expect("run in the namespace");
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    fn ovs_ofctl(&self, args: &[&str]) -> Output {
        let mut full = vec!["ovs-ofctl", "-O", "OpenFlow13"];
        full.extend_from_slice(args);
        self.cmd(&full)
            .stdin(Stdio::null())
            .output()
            .expect("run ovs-ofctl")
    }

    fn ofctl(&self, args: &[&str]) -> Output {
        let mut full = vec![OFCTL, "-O", "OpenFlow13"];
        full.extend_from_slice(args);
        self.cmd(&full)
            .stdin(Stdio::null())
            .output()
            .expect("run ofctl")
    }

    fn pid(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.dir.join(format!("{name}.pid")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for daemon in ["ovs-vswitchd", "ovsdb-server"] {
            if let Some(pid) = self.pid(daemon) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(5);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Replaces what legitimately differs between two runs.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let mut l = line.to_string();
        for (key, end) in [("xid=0x", ')'), ("duration=", ','), ("duration:", ' ')] {
            let mut from = 0;
            while let Some(i) = l[from..].find(key) {
                let start = from + i + key.len();
                let stop = l[start..]
                    .find([end, ' ', ','])
                    .map_or(l.len(), |j| start + j);
                l.replace_range(start..stop, "N");
                from = start + 1;
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn text(o: &Output) -> (String, String, i32) {
    (
        normalise(&String::from_utf8_lossy(&o.stdout)),
        normalise(&String::from_utf8_lossy(&o.stderr)),
        o.status.code().unwrap_or(-1),
    )
}

/// Runs a command with both tools and asserts the same stdout and status.
fn same(ovs: &Ovs, args: &[&str]) {
    let ours = text(&ovs.ofctl(args));
    let theirs = text(&ovs.ovs_ofctl(args));
    assert_eq!(ours.0, theirs.0, "stdout of {args:?}");
    assert_eq!(
        ours.2, theirs.2,
        "exit status of {args:?}: ours said {}",
        ours.1
    );
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn read_only_commands_print_what_ovs_ofctl_prints() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    ok(&ovs.ovs_ofctl(&[
        "add-flow",
        &t,
        "priority=100,ip,nw_dst=198.18.0.1,actions=output:2",
    ]));
    ok(&ovs.ovs_ofctl(&[
        "add-flow",
        &t,
        "table=1,cookie=0x5,idle_timeout=60,send_flow_rem,tcp,tp_dst=80,actions=drop",
    ]));
    ok(&ovs.ovs_ofctl(&[
        "add-flow",
        &t,
        "table=3,priority=7,arp,arp_tpa=198.18.0.0/24,actions=CONTROLLER:128,NORMAL",
    ]));
    ok(&ovs.ovs_ofctl(&["add-group", &t, "group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2"]));
    ok(&ovs.ovs_ofctl(&[
        "add-meter",
        &t,
        "meter=1,kbps,burst,bands=type=drop,rate=1000,burst_size=100",
    ]));
    for cmd in [
        vec!["show", &t],
        vec!["dump-desc", &t],
        vec!["dump-tables", &t],
        vec!["dump-ports", &t],
        vec!["dump-ports", &t, "LOCAL"],
        vec!["dump-ports-desc", &t],
        vec!["dump-flows", &t],
        vec!["dump-flows", &t, "table=1"],
        vec!["dump-flows", &t, "ip"],
        vec!["dump-flows", "--no-stats", &t],
        vec!["dump-flows", "--rsort", &t],
        vec!["dump-flows", "--sort=nw_dst", "--rsort=in_port", &t],
        vec!["dump-flows", "--rsort=tcp_dst", &t],
        vec!["dump-flows", "--sort=arp_op", &t],
        vec!["dump-table-features", &t],
        vec!["dump-aggregate", &t],
        vec!["dump-aggregate", &t, "table=1"],
        vec!["queue-stats", &t],
        vec!["dump-groups", &t],
        vec!["dump-group-stats", &t],
        vec!["dump-group-features", &t],
        vec!["dump-meters", &t],
        vec!["meter-stats", &t],
        vec!["meter-features", &t],
    ] {
        same(&ovs, &cmd);
    }
}

#[test]
fn programming_commands_leave_the_switch_as_ovs_ofctl_would() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    let dump = |o: &Ovs| ok(&o.ovs_ofctl(&["dump-flows", "--no-stats", &t]));
    // Each step with our tool, then the same step with ovs-ofctl on a
    // cleared switch; the flow tables must come out identical.
    let steps: Vec<Vec<&str>> = vec![
        vec![
            "add-flow",
            "priority=100,ip,nw_dst=198.18.0.1,actions=output:2",
        ],
        vec![
            "add-flow",
            "table=2,priority=5,cookie=0x10,tcp,tp_dst=80,actions=mod_nw_dst:198.18.0.9,output:3",
        ],
        vec![
            "add-flow",
            "priority=9,dl_vlan=7,actions=strip_vlan,write_actions(output:4),goto_table:2",
        ],
        vec![
            "add-flow",
            "icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,actions=NORMAL",
        ],
        vec![
            "add-flow",
            "tcp,nw_ttl=5,tcp_flags=+syn-ack,actions=controller(max_len=64)",
        ],
        vec!["mod-flows", "ip,actions=output:5"],
        vec![
            "mod-flows",
            "--strict",
            "table=2,priority=5,tcp,tp_dst=80,actions=drop",
        ],
        vec!["del-flows", "--strict", "priority=9,dl_vlan=7"],
        vec!["del-flows", "cookie=0x10/0xff"],
    ];
    let mut ours_after = Vec::new();
    ok(&ovs.ofctl(&["del-flows", &t]));
    for s in &steps {
        let mut args = vec![s[0]];
        if s.len() > 2 {
            args.push(s[1]);
        }
        args.push(&t);
        args.push(s[s.len() - 1]);
        ok(&ovs.ofctl(&args));
        ours_after.push(dump(&ovs));
    }
    ok(&ovs.ovs_ofctl(&["del-flows", &t]));
    for (i, s) in steps.iter().enumerate() {
        let mut args = vec![s[0]];
        if s.len() > 2 {
            args.push(s[1]);
        }
        args.push(&t);
        args.push(s[s.len() - 1]);
        ok(&ovs.ovs_ofctl(&args));
        assert_eq!(ours_after[i], dump(&ovs), "after {s:?}");
    }
    // Groups and meters.
    ok(&ovs.ofctl(&[
        "add-group",
        &t,
        "group_id=2,type=all,bucket=actions=output:1,bucket=actions=output:2",
    ]));
    ok(&ovs.ofctl(&[
        "mod-group",
        &t,
        "group_id=2,type=indirect,bucket=actions=output:3",
    ]));
    ok(&ovs.ofctl(&["add-meter", &t, "meter=3,pktps,bands=type=drop,rate=100"]));
    same(&ovs, &["dump-groups", &t]);
    same(&ovs, &["dump-meters", &t]);
    ok(&ovs.ofctl(&["del-groups", &t]));
    ok(&ovs.ofctl(&["del-meter", &t, "meter=3"]));
    assert_eq!(ok(&ovs.ovs_ofctl(&["dump-groups", &t])).lines().count(), 1);
    assert_eq!(ok(&ovs.ovs_ofctl(&["dump-meters", &t])).lines().count(), 1);
}

#[test]
fn switch_errors_print_like_ovs_ofctl_and_fail() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    let ours = text(&ovs.ofctl(&["add-flow", &t, "actions=group:5"]));
    let theirs = text(&ovs.ovs_ofctl(&["add-flow", &t, "actions=group:5"]));
    assert_eq!(ours.1, theirs.1, "the error and the request, decoded");
    assert_eq!((ours.2, theirs.2), (1, 1));
    assert!(
        ours.1
            .starts_with("OFPT_ERROR (OF1.3) (xid=0xN): OFPBAC_BAD_OUT_GROUP\n"),
        "{}",
        ours.1
    );
    let refused = text(&ovs.ofctl(&["show", "tcp:127.0.0.1:1"]));
    assert_eq!(
        refused.1,
        "ofctl: connecting to tcp:127.0.0.1:1 (Connection refused)\n"
    );
    assert_eq!(refused.2, 1);
    let syntax = text(&ovs.ofctl(&["add-flow", &t, "priority=10,nw_dts=1.2.3.4,actions=drop"]));
    assert_eq!(
        syntax.1,
        "ofctl: unknown field \"nw_dts\" in \"priority=10,nw_dts=1.2.3.4,actions=drop\"; did you mean nw_dst?\n"
    );
    assert_eq!(syntax.2, 1);
}

fn flows_file(dir: &Path, name: &str, n: usize, action: &str) -> PathBuf {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "priority={},ip,nw_dst=10.{}.{}.{},actions={action}\n",
            100 + i % 7,
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, s).expect("write flows");
    p
}

#[test]
fn bulk_files_replace_and_diff_agree_with_the_switch() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    let a = flows_file(&ovs.dir, "a.flows", 5000, "output:1");
    let b = flows_file(&ovs.dir, "b.flows", 4000, "output:2");
    let a = a.display().to_string();
    let b = b.display().to_string();
    ok(&ovs.ofctl(&["add-flows", &t, &a]));
    let agg = ok(&ovs.ovs_ofctl(&["dump-aggregate", &t]));
    assert!(agg.contains("flow_count=5001"), "{agg}");
    // The switch now holds a's flows (plus the default NORMAL flow).
    let d = ovs.ofctl(&["diff-flows", &a, &t]);
    assert_eq!(d.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&d.stdout),
        "+priority=0 actions=NORMAL\n"
    );
    ok(&ovs.ofctl(&["replace-flows", &t, &b]));
    let d = ovs.ofctl(&["diff-flows", &t, &b]);
    assert_eq!(String::from_utf8_lossy(&d.stdout), "");
    assert_eq!(d.status.code(), Some(0));
    same(&ovs, &["diff-flows", &a, &b]);
}

#[test]
fn diff_flows_prints_what_ovs_ofctl_prints_in_its_order() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    let write = |name: &str, lines: &[&str]| {
        let p = ovs.dir.join(name);
        std::fs::write(&p, lines.join("\n") + "\n").expect("write flows");
        p.display().to_string()
    };
    // Several masks, several priorities per mask, flows in both files that
    // differ in actions, cookie, timeouts, importance and table.
    let a = write(
        "a.flows",
        &[
            "priority=100,ip,nw_dst=198.18.0.1,actions=output:1",
            "priority=100,ip,nw_dst=198.18.0.2,actions=output:1",
            "priority=200,ip,nw_dst=198.18.0.3,actions=output:1",
            "table=1,priority=5,tcp,tp_dst=80,actions=drop",
            "priority=5,arp,actions=NORMAL",
            "cookie=0x5,idle_timeout=10,priority=7,udp,actions=output:3",
            "in_port=1,actions=output:2",
            "in_port=2,actions=output:1",
            "priority=100,ip,nw_src=198.18.0.9,actions=output:1",
            "priority=10,ip,actions=drop",
            "priority=20,ip,nw_src=198.18.1.1,actions=drop",
        ],
    );
    let b = write(
        "b.flows",
        &[
            "priority=100,ip,nw_dst=198.18.0.1,actions=output:2",
            "priority=200,ip,nw_dst=198.18.0.3,actions=output:1",
            "table=2,priority=5,tcp,tp_dst=80,actions=drop",
            "importance=3,priority=5,arp,actions=NORMAL",
            "priority=7,udp,actions=output:3",
            "in_port=2,actions=output:3",
            "in_port=3,actions=output:1",
            "priority=300,ip,nw_src=198.18.0.9,actions=output:1",
            "priority=20,arp,actions=drop",
            "priority=20,ip,nw_src=198.18.1.7,actions=drop",
        ],
    );
    let empty = write("empty.flows", &[]);
    for (x, y) in [(&a, &b), (&b, &a), (&a, &empty), (&empty, &b), (&a, &a)] {
        same(&ovs, &["diff-flows", x, y]);
    }
    // Against the switch, on either side.
    ok(&ovs.ovs_ofctl(&["add-flows", &t, &a]));
    for (x, y) in [(&t, &b), (&b, &t), (&t, &a)] {
        same(&ovs, &["diff-flows", x, y]);
    }
}

#[test]
fn monitor_prints_packet_ins_like_ovs_ofctl() {
    if !peers_available() {
        return;
    }
    let ovs = Ovs::start();
    let t = ovs.target();
    ok(&ovs.ofctl(&[
        "add-flow",
        &t,
        "priority=10,arp,actions=controller(max_len=128)",
    ]));
    let spawn = |tool: &str| {
        let mut full: Vec<&str> = if tool == "ours" {
            vec![OFCTL, "-O", "OpenFlow13", "--timeout", "4", "monitor", &t]
        } else {
            vec![
                "timeout",
                "4",
                "stdbuf",
                "-oL",
                "ovs-ofctl",
                "-O",
                "OpenFlow13",
                "monitor",
                &t,
            ]
        };
        full.push("65535");
        ovs.cmd(&full)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a monitor")
    };
    let ours = spawn("ours");
    let theirs = spawn("theirs");
    std::thread::sleep(Duration::from_millis(1000));
    let arp =
        "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002";
    ok(&ovs.ofctl(&[
        "packet-out",
        &t,
        "in_port=LOCAL",
        &format!("packet={arp}"),
        "actions=table",
    ]));
    let ours = ours.wait_with_output().expect("our monitor ends");
    let theirs = theirs.wait_with_output().expect("ovs-ofctl monitor ends");
    // ovs-ofctl asks Open vSwitch for its Nicira packet-in format, so its
    // header names NXT_PACKET_IN2, and it prints to stderr when stdout is
    // not a terminal; everything after the name must agree.
    let pick = |o: &Output| -> String {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let s = normalise(&all).replace("NXT_PACKET_IN2", "OFPT_PACKET_IN");
        s.lines()
            .skip_while(|l| !l.starts_with("OFPT_PACKET_IN"))
            .take(2)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b) = (pick(&ours), pick(&theirs));
    assert!(
        a.starts_with("OFPT_PACKET_IN"),
        "our monitor printed: {}",
        String::from_utf8_lossy(&ours.stdout)
    );
    assert_eq!(a, b);
}

#[test]
fn ssl_targets_verify_the_switch_chain_and_print_the_same() {
    if !peers_available() {
        return;
    }
    if !have("ovs-pki") || !have("openssl") {
        assert!(
            std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
            "ovs-pki and openssl are required: SWITCH_REQUIRE_PEERS is set"
        );
        eprintln!("skipping: ovs-pki or openssl missing");
        return;
    }
    let ovs = Ovs::start();
    let d = ovs.dir.display().to_string();
    let pki = format!("{d}/pki");
    let pki_run = |args: &[&str]| {
        let o = Command::new("ovs-pki")
            .arg(format!("--dir={pki}"))
            .args(args)
            .arg("--force")
            .current_dir(&ovs.dir)
            .output()
            .expect("run ovs-pki");
        assert!(
            o.status.success(),
            "ovs-pki {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    pki_run(&["init"]);
    pki_run(&["req+sign", "sw", "switch"]);
    pki_run(&["req+sign", "ctl", "controller"]);
    let db = format!("--db=unix:{d}/db.sock");
    ovs.ns_run(&[
        "ovs-vsctl",
        &db,
        "set-ssl",
        &format!("{d}/sw-privkey.pem"),
        &format!("{d}/sw-cert.pem"),
        &format!("{pki}/controllerca/cacert.pem"),
    ]);
    ovs.ns_run(&[
        "ovs-vsctl",
        &db,
        "set-controller",
        "br0",
        &format!("ptcp:{}:127.0.0.1", ovs.port),
        "pssl:6654:127.0.0.1",
    ]);
    let key = format!("--private-key={d}/ctl-privkey.pem");
    let cert = format!("--certificate={d}/ctl-cert.pem");
    let ca = format!("--ca-cert={pki}/switchca/cacert.pem");
    let target = "ssl:127.0.0.1:6654";
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ovs
        .ovs_ofctl(&[&key, &cert, &ca, "show", target])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "the SSL listener did not come up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    same(&ovs, &[&key, &cert, &ca, "show", target]);
    same(&ovs, &[&key, &cert, &ca, "dump-flows", target]);
    // A CA that did not sign the switch's certificate is refused.
    let wrong = format!("--ca-cert={pki}/controllerca/cacert.pem");
    let refused = text(&ovs.ofctl(&[&key, &cert, &wrong, "show", target]));
    assert_eq!(refused.2, 1);
    assert!(refused.1.contains("UnknownIssuer"), "{}", refused.1);
}
