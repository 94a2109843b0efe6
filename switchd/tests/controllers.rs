//! The switch under real controllers nobody here wrote: os-ken's
//! `simple_switch_13` (plain TCP and TLS with `ovs-pki` certificates) and
//! Faucet, plus a small Rust controller for reconnection, fail modes and
//! roles. Hosts live in network namespaces joined to the switch by veths.
//!
//! The controllers come from the virtual environment that
//! `scripts/test-all.sh` builds at `<repo>/.venv` (os-ken, Faucet, and the
//! os-ken 1.4.1 wheel that carries `simple_switch_13.py`, extracted into
//! each test's directory). With `SWITCH_REQUIRE_PEERS` set a missing peer
//! fails the test; otherwise the test is skipped with a message.

mod ofharness;

use controller_proto::action::Action;
use controller_proto::conn::{Event, Outcome};
use controller_proto::controller::{ControllerRole, RoleMsg};
use controller_proto::error::BadRequestCode;
use controller_proto::flow_mod::FlowMod;
use controller_proto::instruction::Instruction;
use controller_proto::message::Message;
use controller_proto::oxm::OfpMatch;
use datapath::flow::Field;
use ofharness::{free_port, missing, ofctl, CtlListener, Net, Switchd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OFPP_CONTROLLER: u32 = 0xffff_fffd;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The virtual environment's `bin`, if it has the controllers.
fn venv_bin() -> Option<PathBuf> {
    let bin = repo().join(".venv").join("bin");
    if bin.join("osken-manager").exists() && bin.join("faucet").exists() {
        Some(bin)
    } else {
        missing("the controllers' virtual environment (.venv: run scripts/test-all.sh)");
        None
    }
}

/// `simple_switch_13.py`, extracted from the os-ken 1.4.1 wheel into `dir`.
fn simple_switch(dir: &Path) -> Option<PathBuf> {
    let wheels = repo().join(".venv").join("wheels");
    let wheel = std::fs::read_dir(&wheels).ok().and_then(|d| {
        d.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("os_ken-1.4.1") && n.ends_with(".whl"))
        })
    });
    let Some(wheel) = wheel else {
        missing("the os-ken 1.4.1 wheel (.venv/wheels: run scripts/test-all.sh)");
        return None;
    };
    let out = dir.join("simple_switch_13.py");
    let code = concat!(
        "import zipfile,sys;",
        "open(sys.argv[2],'wb').write(",
        "zipfile.ZipFile(sys.argv[1]).read('os_ken/app/simple_switch_13.py'))"
    );
    let ok = Command::new("python3")
        .args(["-c", code])
        .arg(&wheel)
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot extract simple_switch_13.py from {}",
        wheel.display()
    );
    Some(out)
}

/// A process this test started, killed by its PID when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
        let f = std::fs::File::create(&log).expect("log");
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().expect("log"))
            .stderr(f);
        let child = cmd.spawn().expect("controller starts");
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("controller log:\n{}", self.log());
        }
    }
}

fn osken(bin: &Path, dir: &Path, app: &Path, port: u16, extra: &[String]) -> Proc {
    let mut cmd = Command::new(bin.join("osken-manager"));
    cmd.arg("--ofp-listen-host")
        .arg("127.0.0.1")
        .arg("--ofp-tcp-listen-port")
        .arg(port.to_string())
        .args(extra)
        .arg(app)
        .current_dir(dir);
    Proc::spawn(cmd, dir.join(format!("osken-{port}.log")))
}

/// Pings until every listed pair answers or `timeout` passes.
fn ping_until(net: &Net, pairs: &[(usize, usize)], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pairs.iter().all(|&(a, b)| net.ping(a, b)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn all_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (0..n).filter(move |b| *b != a).map(move |b| (a, b)))
        .collect()
}

fn flow(m: OfpMatch, priority: u16, actions: Vec<Action>) -> FlowMod {
    FlowMod {
        priority,
        match_: m,
        instructions: vec![Instruction::ApplyActions(actions)],
        ..FlowMod::default()
    }
}

fn out(port: u32) -> Action {
    Action::Output {
        port,
        max_len: 0xffff,
    }
}

#[test]
fn os_ken_simple_switch_connects_three_hosts_and_its_flows_show_in_ovs_ofctl() {
    let Some(bin) = venv_bin() else { return };
    if !ofharness::have_ovs_ofctl() {
        return;
    }
    let Some(net) = Net::create_dynamic("osk", 3) else {
        return;
    };
    let port = free_port();
    let sw = Switchd::start_with(
        "osk",
        &net.switch_ports(),
        &["--controller".into(), format!("tcp:127.0.0.1:{port}")],
    );
    let Some(app) = simple_switch(sw.dir()) else {
        return;
    };
    let _ctl = osken(&bin, sw.dir(), &app, port, &[]);
    net.wait_ports_up(&sw);
    assert!(
        ping_until(&net, &all_pairs(3), Duration::from_secs(30)),
        "hosts did not reach each other through simple_switch_13"
    );
    let flows = ofctl(&["dump-flows", &format!("unix:{}", sw.mgmt().display())]).expect("dump");
    // The table-miss entry and learned MAC entries (dl_dst, in_port).
    assert!(flows.contains("actions=CONTROLLER:65535"), "{flows}");
    let learned = flows.matches("dl_dst=").count();
    assert!(learned >= 3, "{flows}");
}

#[test]
fn a_tls_controller_with_ovs_pki_certificates_drives_the_switch() {
    let Some(bin) = venv_bin() else { return };
    if Command::new("ovs-pki").arg("--version").output().is_err() {
        missing("ovs-pki (openvswitch-common)");
        return;
    }
    let Some(net) = Net::create_dynamic("otls", 2) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("swpki-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let pki = dir.join("pki");
    let run = |args: &[&str]| {
        let ok = Command::new("ovs-pki")
            .args(args)
            .arg(format!("--dir={}", pki.display()))
            .arg("--force")
            .current_dir(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "ovs-pki {args:?} failed");
    };
    run(&["init"]);
    let sw_base = dir.join("sw");
    let ctl_base = dir.join("ctl");
    run(&["req+sign", sw_base.to_str().expect("utf-8"), "switch"]);
    run(&["req+sign", ctl_base.to_str().expect("utf-8"), "controller"]);
    let p = |s: &str| dir.join(s).display().to_string();
    let port = free_port();
    let pssl = free_port();
    let sw = Switchd::start_with(
        "otls",
        &net.switch_ports(),
        &[
            "--controller".into(),
            format!("ssl:127.0.0.1:{port}"),
            "--listen".into(),
            format!("pssl:{pssl}:127.0.0.1"),
            "--ssl-private-key".into(),
            p("sw-privkey.pem"),
            "--ssl-certificate".into(),
            p("sw-cert.pem"),
            "--ssl-ca-cert".into(),
            pki.join("controllerca/cacert.pem").display().to_string(),
        ],
    );
    let Some(app) = simple_switch(sw.dir()) else {
        return;
    };
    let _ctl = osken(
        &bin,
        sw.dir(),
        &app,
        free_port(),
        &[
            "--ofp-ssl-listen-port".into(),
            port.to_string(),
            "--ctl-privkey".into(),
            p("ctl-privkey.pem"),
            "--ctl-cert".into(),
            p("ctl-cert.pem"),
            "--ca-certs".into(),
            pki.join("switchca/cacert.pem").display().to_string(),
        ],
    );
    net.wait_ports_up(&sw);
    assert!(
        ping_until(&net, &all_pairs(2), Duration::from_secs(30)),
        "no forwarding under the TLS controller"
    );
    // A tool with a controller certificate reaches the pssl: listener.
    if ofharness::have_ovs_ofctl() {
        let target = format!("ssl:127.0.0.1:{pssl}");
        let tls_tool = |command: &str, rest: &[&str]| {
            let out = Command::new("ovs-ofctl")
                .args(["-O", "OpenFlow13", "--timeout=20"])
                .arg(format!("--private-key={}", p("ctl-privkey.pem")))
                .arg(format!("--certificate={}", p("ctl-cert.pem")))
                .arg(format!(
                    "--ca-cert={}",
                    pki.join("switchca/cacert.pem").display()
                ))
                .args([command, &target])
                .args(rest)
                .output()
                .expect("ovs-ofctl");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "ovs-ofctl {command}: {err}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let text = tls_tool("dump-flows", &[]);
        assert!(text.contains("actions=CONTROLLER:65535"), "{text}");
        // add-flows waits for a barrier reply after every flow: each next
        // request comes over TLS while the connection polls its socket.
        let flows = dir.join("flows.txt");
        let text: String = (0..200)
            .map(|i| format!("table=3,priority=5,tcp,tp_dst={},actions=drop\n", 1000 + i))
            .collect();
        std::fs::write(&flows, text).expect("flows");
        tls_tool("add-flows", &[flows.to_str().expect("utf-8")]);
        let agg = tls_tool("dump-aggregate", &["table=3"]);
        assert!(agg.contains("flow_count=200"), "{agg}");
        // Without a certificate the switch refuses the tool.
        let out = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "--timeout=5", "show"])
            .arg(format!("tcp:127.0.0.1:{pssl}"))
            .output()
            .expect("ovs-ofctl");
        assert!(!out.status.success(), "plain TCP accepted on pssl:");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn faucet_keeps_two_vlans_apart_on_four_ports() {
    let Some(bin) = venv_bin() else { return };
    let Some(net) = Net::create_dynamic("fct", 4) else {
        return;
    };
    let port = free_port();
    let sw = Switchd::start_with(
        "fct",
        &net.switch_ports(),
        &[
            "--controller".into(),
            format!("tcp:127.0.0.1:{port}"),
            "--dpid".into(),
            "1".into(),
        ],
    );
    let cfg = sw.dir().join("faucet.yaml");
    std::fs::write(
        &cfg,
        "vlans:\n  office:\n    vid: 100\n  guest:\n    vid: 200\n\
         dps:\n  sw1:\n    dp_id: 0x1\n    hardware: \"Open vSwitch\"\n    interfaces:\n\
         \x20     1:\n        native_vlan: office\n      2:\n        native_vlan: office\n\
         \x20     3:\n        native_vlan: guest\n      4:\n        native_vlan: guest\n",
    )
    .expect("faucet.yaml");
    let mut cmd = Command::new(bin.join("faucet"));
    cmd.arg("--ryu-ofp-listen-host=127.0.0.1")
        .arg(format!("--ryu-ofp-tcp-listen-port={port}"))
        // faucet execs osken-manager from the same environment.
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("FAUCET_CONFIG", &cfg)
        .env("FAUCET_LOG", sw.dir().join("faucet.log"))
        .env(
            "FAUCET_EXCEPTION_LOG",
            sw.dir().join("faucet_exception.log"),
        )
        .env("FAUCET_PROMETHEUS_ADDR", "127.0.0.1")
        .env("FAUCET_PROMETHEUS_PORT", free_port().to_string())
        .current_dir(sw.dir());
    let faucet = Proc::spawn(cmd, sw.dir().join("faucet.out"));
    net.wait_ports_up(&sw);
    let same = [(0, 1), (1, 0), (2, 3), (3, 2)];
    let ok = ping_until(&net, &same, Duration::from_secs(40));
    if !ok {
        eprintln!(
            "faucet log:\n{}",
            std::fs::read_to_string(sw.dir().join("faucet.log")).unwrap_or_default()
        );
        eprintln!(
            "faucet exceptions:\n{}",
            std::fs::read_to_string(sw.dir().join("faucet_exception.log")).unwrap_or_default()
        );
    }
    assert!(ok, "hosts of one VLAN did not reach each other");
    for (a, b) in [(0, 2), (0, 3), (1, 2), (3, 1)] {
        assert!(!net.ping(a, b), "host {a} reached host {b} across VLANs");
    }
    let flows = ofctl(&["dump-flows", &format!("unix:{}", sw.mgmt().display())]).expect("dump");
    assert!(flows.contains("table=1"), "{flows}");
    assert!(flows.contains("goto_table"), "{flows}");
    drop(faucet);
}

#[test]
fn a_killed_controller_is_reconnected_when_it_restarts() {
    let Some(bin) = venv_bin() else { return };
    let Some(net) = Net::create_dynamic("orc", 2) else {
        return;
    };
    let port = free_port();
    let sw = Switchd::start_with(
        "orc",
        &net.switch_ports(),
        &["--controller".into(), format!("tcp:127.0.0.1:{port}")],
    );
    let Some(app) = simple_switch(sw.dir()) else {
        return;
    };
    net.wait_ports_up(&sw);
    let ctl = osken(&bin, sw.dir(), &app, port, &[]);
    assert!(ping_until(&net, &all_pairs(2), Duration::from_secs(30)));
    drop(ctl);
    // The switch forgets nothing: delete the flows so that forwarding
    // needs the controller again, then restart it on the same port.
    ofctl(&["del-flows", &format!("unix:{}", sw.mgmt().display())]).expect("del-flows");
    assert!(!net.ping(0, 1), "forwarded with no flow and no controller");
    let _ctl = osken(&bin, sw.dir(), &app, port, &[]);
    // Backoff is at most 8 s between attempts.
    assert!(
        ping_until(&net, &all_pairs(2), Duration::from_secs(30)),
        "the switch did not reconnect to the restarted controller"
    );
}

#[test]
fn fail_secure_keeps_flows_and_forwards_nothing_else_without_a_controller() {
    let Some(net) = Net::create("ofsec", 2) else {
        return;
    };
    let l = CtlListener::new();
    let sw = Switchd::start_with(
        "ofsec",
        &net.switch_ports(),
        &["--controller".into(), l.target()],
    );
    net.wait_ports_up(&sw);
    // No controller yet: secure forwards nothing.
    assert!(!net.ping(0, 1));
    let mut c = l.accept(Duration::from_secs(15)).expect("switch connects");
    for (i, o) in [(1u32, 2u32), (2, 1)] {
        let m = OfpMatch::catch_all().exact(Field::InPort, u128::from(i));
        assert_eq!(
            c.request(Message::FlowMod(flow(m, 10, vec![out(o)]))),
            Outcome::Done
        );
    }
    assert!(net.ping(0, 1));
    drop(c);
    drop(l);
    // The controller is gone; the flows it installed stay and still forward.
    std::thread::sleep(Duration::from_secs(1));
    assert!(net.ping(0, 1));
    ofctl_available_then(|| {
        let d = ofctl(&["dump-flows", &format!("unix:{}", sw.mgmt().display())]).expect("dump");
        assert_eq!(d.matches("actions=").count(), 2, "{d}");
    });
}

fn ofctl_available_then(f: impl FnOnce()) {
    if ofharness::have_ovs_ofctl() {
        f();
    }
}

#[test]
fn fail_standalone_forwards_as_a_learning_switch_when_the_controller_is_gone() {
    let Some(net) = Net::create("ofsta", 2) else {
        return;
    };
    let l = CtlListener::new();
    let sw = Switchd::start_with(
        "ofsta",
        &net.switch_ports(),
        &[
            "--controller".into(),
            l.target(),
            "--fail-mode".into(),
            "standalone".into(),
        ],
    );
    net.wait_ports_up(&sw);
    // Never connected: standalone forwards on its own.
    assert!(ping_until(&net, &[(0, 1)], Duration::from_secs(10)));
    // A controller that installs nothing takes over: nothing forwards.
    let c = l.accept(Duration::from_secs(15)).expect("switch connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    while net.ping(0, 1) {
        assert!(
            Instant::now() < deadline,
            "still forwarding under a controller"
        );
    }
    // The controller goes: after a few probe intervals the switch falls
    // back to learning-switch forwarding.
    drop(c);
    drop(l);
    assert!(
        ping_until(&net, &[(0, 1), (1, 0)], Duration::from_secs(40)),
        "no fallback after losing the controller"
    );
    drop(sw);
}

#[test]
fn two_controllers_share_the_switch_as_master_and_slave() {
    let Some(net) = Net::create("ofms", 2) else {
        return;
    };
    let la = CtlListener::new();
    let lb = CtlListener::new();
    let sw = Switchd::start_with(
        "ofms",
        &net.switch_ports(),
        &[
            "--controller".into(),
            la.target(),
            "--controller".into(),
            lb.target(),
        ],
    );
    let mut a = la.accept(Duration::from_secs(15)).expect("a");
    let mut b = lb.accept(Duration::from_secs(15)).expect("b");
    net.wait_ports_up(&sw);
    let role = |role, generation_id| {
        Message::RoleRequest(RoleMsg {
            role,
            generation_id,
        })
    };
    assert!(matches!(
        a.request(role(ControllerRole::OFPCR_ROLE_MASTER, 1)),
        Outcome::Reply(Message::RoleReply(_))
    ));
    assert!(matches!(
        b.request(role(ControllerRole::OFPCR_ROLE_SLAVE, 1)),
        Outcome::Reply(Message::RoleReply(_))
    ));
    // The slave cannot change the table; the master can.
    let miss = flow(OfpMatch::catch_all(), 0, vec![out(OFPP_CONTROLLER)]);
    match b.request(Message::FlowMod(miss.clone())) {
        Outcome::Error(e) => assert_eq!(e.kind, BadRequestCode::OFPBRC_IS_SLAVE.into()),
        other => panic!("slave flow mod: {other:?}"),
    }
    assert_eq!(a.request(Message::FlowMod(miss)), Outcome::Done);
    // Packet-ins go to the master only (the slave's default async config).
    a.clear();
    b.clear();
    net.send_udp(0, 1, 5555);
    assert!(
        a.packet_in(Duration::from_secs(5)).is_some(),
        "master got no packet-in"
    );
    assert!(
        b.packet_in(Duration::from_millis(500)).is_none(),
        "slave got a packet-in"
    );
    // Port status reaches both (the slave's default keeps it).
    if ofharness::have_ovs_ofctl() {
        ofctl(&[
            "mod-port",
            &format!("unix:{}", sw.mgmt().display()),
            "1",
            "down",
        ])
        .expect("mod-port");
        for c in [&mut a, &mut b] {
            let ev = c.wait(Duration::from_secs(5), |e| {
                matches!(
                    e,
                    Event::Message {
                        msg: Message::PortStatus(_),
                        ..
                    }
                )
            });
            assert!(ev.is_some(), "no port status");
        }
    }
}
