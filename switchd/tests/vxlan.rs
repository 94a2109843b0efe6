//! VXLAN overlays end to end: two "hosts" (network namespaces) each run
//! their own `switchd`, joined by an underlay veth (198.19.0.0/24); tenant
//! namespaces (198.18.0.0/24) hang off each switch. Tenants A and B use the
//! same addresses on both hosts and are kept apart by their VNI (A is 100,
//! B is 200): access VLAN tags inside a switch, one fixed-key VXLAN port per
//! VNI between the switches.
//!
//! Also: interop with a Linux `vxlan` device, and a lossy, slow underlay
//! (netem). The throughput comparison is an ignored test
//! (`cargo test -p switchd --test vxlan -- --ignored --nocapture`).

mod common;

use common::{can_run, prefix, tcp_transfer, udp_flood, veth, Link, Netns, Switchd, TempDir};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A host: its namespace (where the switch and the underlay end live), its
/// underlay address, and the tenant namespaces attached to its switch.
struct Host {
    ns: Netns,
    tenants: Vec<(String, Netns)>,
}

/// Two hosts joined by an underlay veth `{p}u1`—`{p}u2`.
struct Site {
    p: String,
    hosts: Vec<Host>,
    _dirs: Vec<TempDir>,
}

fn underlay_ip(h: usize) -> String {
    format!("198.19.0.{}", h + 1)
}

impl Site {
    /// Hosts 0 and 1, each with the tenants `names` (one letter each),
    /// tenant interface `{p}{name}{h}` at 198.18.0.(h+1)/24 in namespace
    /// `{p}{name}{h}`, switch-side peer `{p}s{name}{h}`.
    fn new(names: &[&str]) -> Site {
        let p = prefix();
        let mut hosts = Vec::new();
        for h in 0..2 {
            let ns = Netns::new(&format!("{p}h{h}"));
            let mut tenants = Vec::new();
            for n in names {
                let t = Netns::new(&format!("{p}{n}{h}"));
                let _: Link = veth(
                    &format!("{p}s{n}{h}"),
                    Some(&ns),
                    &format!("{p}{n}{h}"),
                    Some(&t),
                );
                t.addr(&format!("{p}{n}{h}"), &format!("198.18.0.{}/24", h + 1));
                tenants.push(((*n).to_owned(), t));
            }
            hosts.push(Host { ns, tenants });
        }
        let _: Link = veth(
            &format!("{p}u1"),
            Some(&hosts[0].ns),
            &format!("{p}u2"),
            Some(&hosts[1].ns),
        );
        hosts[0].ns.addr(&format!("{p}u1"), "198.19.0.1/24");
        hosts[1].ns.addr(&format!("{p}u2"), "198.19.0.2/24");
        Site {
            p,
            hosts,
            _dirs: Vec::new(),
        }
    }

    fn tenant(&self, h: usize, name: &str) -> &Netns {
        &self.hosts[h]
            .tenants
            .iter()
            .find(|(n, _)| n == name)
            .expect("a tenant")
            .1
    }

    fn tenant_if(&self, h: usize, name: &str) -> String {
        format!("{}{name}{h}", self.p)
    }

    /// Starts the switch of host `h` from a TOML file: every tenant port
    /// an access port of `tags[name]`, and one fixed-key VXLAN port per
    /// (tag, vni) in `tunnels` towards the other host.
    fn start_fixed(&mut self, h: usize, plan: &[(&str, u16, u32)]) -> Switchd {
        let p = &self.p;
        let other = 1 - h;
        let mut toml = format!("[[bridge]]\nname = \"{p}br\"\nlocal_port = false\n");
        for (name, tag, vni) in plan {
            toml.push_str(&format!(
                "[[bridge.ports]]\nname = \"{p}s{name}{h}\"\ntag = {tag}\n\
                 [[bridge.ports]]\nname = \"{p}v{name}\"\ntype = \"vxlan\"\ntag = {tag}\n\
                 options = {{ remote_ip = \"{}\", local_ip = \"{}\", key = {vni} }}\n",
                underlay_ip(other),
                underlay_ip(h),
            ));
        }
        let dir = TempDir::new("vxcfg");
        let path = dir.path.join("switchd.toml");
        std::fs::write(&path, toml).unwrap();
        let sw = Switchd::start(
            Some(&self.hosts[h].ns),
            &["--config", path.to_str().unwrap()],
        );
        self._dirs.push(dir);
        sw
    }
}

impl Site {
    /// Starts the switch of host 0 with ONE `key=flow` VXLAN port (ofport
    /// 10) for every tenant, in secure mode, and installs flows through
    /// `ovs-ofctl` that set the VNI on the way out and pick the tenant by
    /// `tun_id` on the way in. Tenant `plan[i]` is ofport `i + 1`.
    fn start_flow_keyed(&mut self, plan: &[(&str, u32)]) -> Switchd {
        let p = &self.p;
        let mut toml = format!(
            "[[bridge]]\nname = \"{p}br\"\nlocal_port = false\nfail_mode = \"secure\"\n\
             [[bridge.ports]]\nname = \"{p}vx\"\ntype = \"vxlan\"\nofport = 10\n\
             options = {{ remote_ip = \"{}\", local_ip = \"{}\", key = \"flow\" }}\n",
            underlay_ip(1),
            underlay_ip(0),
        );
        for (i, (name, _)) in plan.iter().enumerate() {
            toml.push_str(&format!(
                "[[bridge.ports]]\nname = \"{p}s{name}0\"\nofport = {}\n",
                i + 1
            ));
        }
        let dir = TempDir::new("vxcfg");
        let path = dir.path.join("switchd.toml");
        std::fs::write(&path, toml).unwrap();
        let sw = Switchd::start(
            Some(&self.hosts[0].ns),
            &["--config", path.to_str().unwrap()],
        );
        self._dirs.push(dir);
        let target = format!("unix:{}", sw.of_socket(&format!("{p}br")).display());
        for (i, (_, vni)) in plan.iter().enumerate() {
            let port = i + 1;
            for flow in [
                format!("priority=100,in_port={port},actions=set_field:{vni}->tun_id,output:10"),
                format!("priority=100,in_port=10,tun_id={vni},actions=output:{port}"),
            ] {
                let out = std::process::Command::new("ovs-ofctl")
                    .args([
                        "-O",
                        "OpenFlow13",
                        "--timeout=10",
                        "add-flow",
                        &target,
                        &flow,
                    ])
                    .output()
                    .expect("run ovs-ofctl");
                assert!(
                    out.status.success(),
                    "ovs-ofctl add-flow {flow}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        sw
    }
}

/// Whether `ovs-ofctl` is there; without it the test fails when peers are
/// required and skips otherwise.
fn have_ovs_ofctl(test: &str) -> bool {
    let ok = std::process::Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
            "{test}: ovs-ofctl is required (SWITCH_REQUIRE_PEERS is set)"
        );
        eprintln!("{test}: skipped, ovs-ofctl is not installed");
    }
    ok
}

/// Frames received by interface `dev` in `ns`.
fn rx(ns: &Netns, dev: &str) -> u64 {
    ns.counter(dev, "rx_packets")
}

/// Sends `n` UDP datagrams from `ns` to `dst` (bounded, best effort).
fn send_udp(ns: &Netns, dst: &str, n: u32) {
    let dst: SocketAddr = format!("{dst}:9").parse().unwrap();
    ns.spawn(move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        for _ in 0..n {
            let _ = s.send_to(b"unknown unicast probe", dst);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn tenants_with_the_same_addresses_reach_only_their_own_vni_across_hosts() {
    if !can_run("tenants_with_the_same_addresses_reach_only_their_own_vni_across_hosts") {
        return;
    }
    let mut site = Site::new(&["a", "b"]);
    let plan = [("a", 100u16, 100u32), ("b", 200, 200)];
    let _s0 = site.start_fixed(0, &plan);
    let _s1 = site.start_fixed(1, &plan);
    let (b0, b1) = (site.tenant_if(0, "b"), site.tenant_if(1, "b"));
    let b_before = (rx(site.tenant(0, "b"), &b0), rx(site.tenant(1, "b"), &b1));

    // A to A: ARP broadcast, then unicast, both through VNI 100.
    assert!(
        site.tenant(0, "a")
            .ping_until("198.18.0.2", Duration::from_secs(15)),
        "tenant A on host 0 cannot reach tenant A on host 1"
    );
    assert!(site.tenant(0, "a").ping("198.18.0.2", 3));
    assert!(site.tenant(1, "a").ping("198.18.0.1", 3));
    // Unknown unicast from A: a neighbour entry for a MAC nobody has.
    let a0 = site.tenant_if(0, "a");
    site.tenant(0, "a").must(&[
        "ip",
        "neigh",
        "replace",
        "198.18.0.99",
        "lladdr",
        "02:00:5e:99:99:99",
        "dev",
        &a0,
    ]);
    let a1_before = rx(site.tenant(1, "a"), &site.tenant_if(1, "a"));
    send_udp(site.tenant(0, "a"), "198.18.0.99", 20);
    std::thread::sleep(Duration::from_millis(300));
    let a1_after = rx(site.tenant(1, "a"), &site.tenant_if(1, "a"));
    assert!(
        a1_after >= a1_before + 20,
        "unknown unicast of VNI 100 was not flooded across ({a1_before} -> {a1_after})"
    );
    let b_after = (rx(site.tenant(0, "b"), &b0), rx(site.tenant(1, "b"), &b1));
    assert_eq!(
        b_before, b_after,
        "frames of tenant A appeared on tenant B's interfaces"
    );

    // B to B, the same addresses, through VNI 200.
    assert!(
        site.tenant(1, "b")
            .ping_until("198.18.0.1", Duration::from_secs(15)),
        "tenant B on host 1 cannot reach tenant B on host 0"
    );
    assert!(site.tenant(0, "b").ping("198.18.0.2", 3));

    // Full-size frames (tenant MTU 1500): the kernel fragments the outer
    // datagrams on the 1500-byte underlay and the far end reassembles them.
    let frags = frag_creates(&site.hosts[0].ns);
    let total = 2 << 20;
    let (sent, got, secs) = tcp_transfer(
        site.tenant(0, "a"),
        site.tenant(1, "a"),
        "198.18.0.2:5205".parse().unwrap(),
        total,
        Duration::from_secs(30),
    );
    assert_eq!((sent, got), (total, total), "TCP at MTU 1500 ({secs:.1} s)");
    assert!(
        frag_creates(&site.hosts[0].ns) > frags,
        "full-size frames should have been carried in fragmented outer packets"
    );
}

#[test]
fn one_flow_keyed_tunnel_carries_both_tenants_by_the_vni_flows_set_and_match() {
    let test = "one_flow_keyed_tunnel_carries_both_tenants_by_the_vni_flows_set_and_match";
    if !can_run(test) || !have_ovs_ofctl(test) {
        return;
    }
    let mut site = Site::new(&["a", "b"]);
    // Host 0: one key=flow port, flows choose the VNI; host 1: fixed keys.
    let _s0 = site.start_flow_keyed(&[("a", 100), ("b", 200)]);
    let _s1 = site.start_fixed(1, &[("a", 100, 100), ("b", 200, 200)]);
    let (b0, b1) = (site.tenant_if(0, "b"), site.tenant_if(1, "b"));
    let b_before = (rx(site.tenant(0, "b"), &b0), rx(site.tenant(1, "b"), &b1));
    assert!(
        site.tenant(0, "a")
            .ping_until("198.18.0.2", Duration::from_secs(15)),
        "tenant A cannot cross the flow-keyed tunnel"
    );
    assert!(site.tenant(1, "a").ping("198.18.0.1", 3));
    let b_after = (rx(site.tenant(0, "b"), &b0), rx(site.tenant(1, "b"), &b1));
    assert_eq!(
        b_before, b_after,
        "frames of tenant A appeared on tenant B's interfaces"
    );
    assert!(
        site.tenant(0, "b")
            .ping_until("198.18.0.2", Duration::from_secs(15)),
        "tenant B cannot cross the flow-keyed tunnel"
    );
    assert!(site.tenant(1, "b").ping("198.18.0.1", 3));
}

#[test]
fn a_switch_tunnel_interoperates_with_a_linux_vxlan_device() {
    if !can_run("a_switch_tunnel_interoperates_with_a_linux_vxlan_device") {
        return;
    }
    let site = Site::new(&["a"]);
    let p = site.p.clone();
    // Host 0: our switch, tenant A, and a VXLAN port for VNI 100 added at
    // run time with `switchd ctl add-port`.
    let s0 = Switchd::start(
        Some(&site.hosts[0].ns),
        &["--bridge", &format!("{p}br"), "--port", &format!("{p}sa0")],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchd"))
        .arg("ctl")
        .arg("--run-dir")
        .arg(s0.run_dir())
        .args([
            "add-port",
            &format!("{p}br"),
            &format!("{p}va"),
            "type=vxlan",
            "remote_ip=198.19.0.2",
            "local_ip=198.19.0.1",
            "key=100",
        ])
        .output()
        .expect("run switchd ctl");
    assert!(
        out.status.success(),
        "ctl add-port: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Host 1: a Linux vxlan device in the tenant's place: the tenant's
    // address goes on the kernel VXLAN interface itself.
    let h1 = &site.hosts[1].ns;
    let dev = format!("{p}kvx");
    h1.must(&[
        "ip",
        "link",
        "add",
        &dev,
        "type",
        "vxlan",
        "id",
        "100",
        "remote",
        "198.19.0.1",
        "local",
        "198.19.0.2",
        "dstport",
        "4789",
    ]);
    h1.addr(&dev, "198.18.0.2/24");
    assert!(
        site.tenant(0, "a")
            .ping_until("198.18.0.2", Duration::from_secs(15)),
        "the switch's tenant cannot reach the Linux vxlan device"
    );
    assert!(site.tenant(0, "a").ping("198.18.0.2", 3));
    assert!(
        h1.ping("198.18.0.1", 3),
        "the Linux vxlan device cannot reach the switch's tenant"
    );
}

#[test]
fn a_tunnel_over_a_slow_lossy_underlay_still_carries_ping_and_tcp() {
    if !can_run("a_tunnel_over_a_slow_lossy_underlay_still_carries_ping_and_tcp") {
        return;
    }
    let test = "a_tunnel_over_a_slow_lossy_underlay_still_carries_ping_and_tcp";
    let mut site = Site::new(&["a"]);
    let p = site.p.clone();
    for (h, u) in [(0, "u1"), (1, "u2")] {
        let out = site.hosts[h].ns.run(&[
            "tc",
            "qdisc",
            "add",
            "dev",
            &format!("{p}{u}"),
            "root",
            "netem",
            "delay",
            "30ms",
            "loss",
            "1%",
        ]);
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            // netem is a kernel module (sch_netem), not a peer the test
            // set-up can install: a kernel built without it skips the test,
            // any other failure of `tc` fails it.
            assert!(
                why.contains("unknown") || why.contains("No such file"),
                "{test}: tc netem failed: {why}"
            );
            eprintln!("{test}: skipped, this kernel has no netem: {why}");
            return;
        }
    }
    let plan = [("a", 100u16, 100u32)];
    let _s0 = site.start_fixed(0, &plan);
    let _s1 = site.start_fixed(1, &plan);
    let (a0, a1) = (site.tenant(0, "a"), site.tenant(1, "a"));
    assert!(a0.ping_until("198.18.0.2", Duration::from_secs(20)));
    // 1% loss each way: most of a few pings come back.
    let ok = (0..5).filter(|_| a0.ping("198.18.0.2", 1)).count();
    assert!(ok >= 3, "only {ok} of 5 pings over the lossy underlay");
    let total = 2 << 20;
    let (sent, got, secs) = tcp_transfer(
        a0,
        a1,
        "198.18.0.2:5201".parse().unwrap(),
        total,
        Duration::from_secs(60),
    );
    assert_eq!(sent, total, "the sender did not finish ({secs:.1} s)");
    assert_eq!(got, total, "the receiver got {got} of {total} bytes intact");
}

/// Figures, not a check: 64-byte UDP packets per second and TCP
/// throughput between two tenants, once through the VXLAN tunnel between
/// two switches and once through the same two switches joined directly
/// (the underlay veth as a plain port). Tenant MTU 1450 on both.
#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn encapsulated_and_plain_paths_are_measured_side_by_side() {
    if !can_run("encapsulated_and_plain_paths_are_measured_side_by_side") {
        return;
    }
    let mut results = Vec::new();
    for tunnel in [true, false] {
        let mut site = Site::new(&["a"]);
        let p = site.p.clone();
        let (_s0, _s1) = if tunnel {
            let plan = [("a", 100u16, 100u32)];
            (site.start_fixed(0, &plan), site.start_fixed(1, &plan))
        } else {
            let mk = |h: usize, u: &str| {
                Switchd::start(
                    Some(&site.hosts[h].ns),
                    &[
                        "--bridge",
                        &format!("{p}br"),
                        "--port",
                        &format!("{p}sa{h}"),
                        "--port",
                        &format!("{p}{u}"),
                    ],
                )
            };
            (mk(0, "u1"), mk(1, "u2"))
        };
        let (a0, a1) = (site.tenant(0, "a"), site.tenant(1, "a"));
        // The inner MTU a 1500-byte underlay carries without fragments,
        // on both paths so that they move the same frames.
        for (h, t) in [(0, a0), (1, a1)] {
            t.must(&["ip", "link", "set", &format!("{p}a{h}"), "mtu", "1450"]);
        }
        assert!(a0.ping_until("198.18.0.2", Duration::from_secs(15)));
        let (sent, got) = udp_flood(
            a0,
            a1,
            "198.18.0.1:7000".parse().unwrap(),
            "198.18.0.2:7001".parse().unwrap(),
            3.0,
        );
        let (_, bytes, secs) = tcp_transfer(
            a0,
            a1,
            "198.18.0.2:5202".parse().unwrap(),
            1 << 30,
            Duration::from_secs(5),
        );
        results.push((tunnel, sent, got, bytes, secs));
    }
    for (tunnel, sent, got, bytes, secs) in results {
        #[allow(clippy::cast_precision_loss)]
        let (pps, gbps) = (got as f64 / 3.0, bytes as f64 * 8.0 / secs / 1e9);
        println!(
            "{}: 64-byte UDP {pps:.0} pps received ({sent} sent), TCP {gbps:.2} Gb/s",
            if tunnel { "vxlan" } else { "plain" }
        );
    }
}

#[test]
fn a_patch_port_pair_joins_two_bridges_of_one_daemon() {
    if !can_run("a_patch_port_pair_joins_two_bridges_of_one_daemon") {
        return;
    }
    let p = prefix();
    let sw = Netns::new(&format!("{p}sw"));
    let mut tenants = Vec::new();
    for i in 0..2 {
        let t = Netns::new(&format!("{p}t{i}"));
        let _: Link = veth(
            &format!("{p}st{i}"),
            Some(&sw),
            &format!("{p}t{i}"),
            Some(&t),
        );
        t.addr(&format!("{p}t{i}"), &format!("198.18.0.{}/24", i + 1));
        tenants.push(t);
    }
    let toml = format!(
        "[[bridge]]\nname = \"{p}b1\"\nlocal_port = false\n\
         [[bridge.ports]]\nname = \"{p}st0\"\n\
         [[bridge.ports]]\nname = \"{p}pa\"\ntype = \"patch\"\noptions = {{ peer = \"{p}pb\" }}\n\
         [[bridge]]\nname = \"{p}b2\"\nlocal_port = false\n\
         [[bridge.ports]]\nname = \"{p}st1\"\n\
         [[bridge.ports]]\nname = \"{p}pb\"\ntype = \"patch\"\noptions = {{ peer = \"{p}pa\" }}\n"
    );
    let dir = TempDir::new("patchcfg");
    let path = dir.path.join("switchd.toml");
    std::fs::write(&path, toml).unwrap();
    let _sw = Switchd::start(Some(&sw), &["--config", path.to_str().unwrap()]);
    assert!(
        tenants[0].ping_until("198.18.0.2", Duration::from_secs(15)),
        "no path through the patch ports"
    );
    assert!(tenants[1].ping("198.18.0.1", 3));
    let (sent, got, secs) = tcp_transfer(
        &tenants[0],
        &tenants[1],
        "198.18.0.2:5203".parse().unwrap(),
        4 << 20,
        Duration::from_secs(30),
    );
    assert_eq!(
        (sent, got),
        (4 << 20, 4 << 20),
        "TCP through the patch ({secs:.1} s)"
    );
}

/// `unshare --net --fork sleep 60` (a stand-in container), its namespace
/// named with `ip netns attach`; killed with its child by PID on drop.
struct Container {
    child: std::process::Child,
    ns: Option<Netns>,
}

impl Container {
    fn start(name: &str) -> Container {
        let child = std::process::Command::new("unshare")
            .args(["--net", "--fork", "sleep", "60"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("unshare");
        let mut c = Container { child, ns: None };
        let pid = c.child.id();
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .ok()
            .as_ref()
            == Some(&ours)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare made no namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        common::must(&["ip", "netns", "attach", name, &pid.to_string()]);
        c.ns = Some(Netns {
            name: name.to_owned(),
        });
        c
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.ns = None;
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            // SAFETY: signals a child of the process this guard started, by PID.
            unsafe {
                libc::kill(c, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `FragCreates` counter of `ns`'s IPv4 stack.
fn frag_creates(ns: &Netns) -> u64 {
    let snmp = ns.must(&["cat", "/proc/net/snmp"]);
    let mut lines = snmp.lines().filter(|l| l.starts_with("Ip:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "FragCreates")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_container_attached_with_mtu_1450_crosses_the_tunnel_without_fragments() {
    let test = "a_container_attached_with_mtu_1450_crosses_the_tunnel_without_fragments";
    if !can_run(test) {
        return;
    }
    let mut site = Site::new(&["a"]);
    let p = site.p.clone();
    // Host 0: only the tunnel (VNI 100, all VLANs); the container comes
    // with attach-container. Host 1: tenant A behind a fixed-key port.
    let toml = format!(
        "[[bridge]]\nname = \"{p}br\"\nlocal_port = false\n\
         [[bridge.ports]]\nname = \"{p}va\"\ntype = \"vxlan\"\n\
         options = {{ remote_ip = \"198.19.0.2\", local_ip = \"198.19.0.1\", key = 100 }}\n"
    );
    let dir = TempDir::new("vxmtu");
    let path = dir.path.join("switchd.toml");
    std::fs::write(&path, toml).unwrap();
    let s0 = Switchd::start(
        Some(&site.hosts[0].ns),
        &["--config", path.to_str().unwrap()],
    );
    let _s1 = site.start_fixed(1, &[("a", 100, 100)]);
    let a1 = site.tenant(1, "a");
    a1.must(&["ip", "link", "set", &format!("{p}a1"), "mtu", "1450"]);
    let c = Container::start(&format!("{p}ct"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchd"))
        .arg("ctl")
        .arg("--run-dir")
        .arg(s0.run_dir())
        .args([
            "attach-container",
            &format!("{p}br"),
            "--pid",
            &c.child.id().to_string(),
            "--ifname",
            "eth1",
            "--ip",
            "198.18.0.1/24",
            "--mtu",
            "1450",
        ])
        .output()
        .expect("run switchd ctl");
    assert!(
        out.status.success(),
        "attach-container: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cns = c.ns.as_ref().unwrap();
    let link = cns.must(&["ip", "-o", "link", "show", "dev", "eth1"]);
    assert!(link.contains("mtu 1450"), "{link}");
    assert!(cns.ping_until("198.18.0.2", Duration::from_secs(15)));
    let before = frag_creates(&site.hosts[0].ns) + frag_creates(&site.hosts[1].ns);
    let total = 4 << 20;
    let (sent, got, secs) = tcp_transfer(
        cns,
        a1,
        "198.18.0.2:5204".parse().unwrap(),
        total,
        Duration::from_secs(30),
    );
    assert_eq!((sent, got), (total, total), "TCP at MTU 1450 ({secs:.1} s)");
    let after = frag_creates(&site.hosts[0].ns) + frag_creates(&site.hosts[1].ns);
    assert_eq!(before, after, "the underlay fragmented outer packets");
}
