//! `switchd ctl`: the management client. It parses and checks its
//! arguments, sends one request to the daemon's management socket
//! (`<run_dir>/switchd.ctl`, see [`crate::mgmt`]) and prints the answer.
//!
//! # Shape
//!
//! Values are taken as strings from clap and parsed here, so that every
//! mistake is reported as one line naming the field (`tag: "5000" is not a
//! VLAN id (1-4094)`) with exit status 1, before the daemon is even asked.
//! The daemon checks every request again (the socket is the real interface;
//! this client is one user of it) and answers with one-line errors of the
//! same form, which are printed the same way. The run directory comes from
//! `--run-dir`, then `SWITCHD_RUN_DIR`, then `/run/switchd`.

use crate::config::{parse_dpid, FailMode, PortKind, Target, DEFAULT_RUN_DIR, RUN_DIR_ENV};
use crate::mgmt::{Request, Response, SOCKET_NAME};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `switchd ctl`.
#[derive(clap::Args, Debug, Clone)]
pub struct CtlArgs {
    /// Directory holding the management socket (default: $SWITCHD_RUN_DIR,
    /// then /run/switchd).
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Seconds to wait for the daemon's answer.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// The command.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// A management command.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CtlCommand {
    /// Bridges, ports, controllers and fail modes (like `ovs-vsctl show`).
    Show,
    /// Creates a bridge.
    AddBridge {
        /// Bridge name.
        name: String,
        /// Datapath id (up to 16 hex digits).
        #[arg(long, value_name = "HEX")]
        dpid: Option<String>,
        /// standalone or secure.
        #[arg(long, value_name = "MODE")]
        fail_mode: Option<String>,
    },
    /// Deletes a bridge and its ports.
    DelBridge {
        /// Bridge name.
        name: String,
    },
    /// Adds a port: `add-port BRIDGE IFNAME [ofport=N] [type=system|afxdp|tap|internal|vxlan|patch] [tag=VLAN] [trunks=V,V]`;
    /// a vxlan port also takes `remote_ip=IP [key=VNI|flow] [local_ip=IP] [dst_port=N]`,
    /// a patch port `peer=NAME`.
    AddPort {
        /// Bridge name.
        bridge: String,
        /// Interface name.
        ifname: String,
        /// Settings as KEY=VALUE (ofport, type, tag, trunks; vxlan: remote_ip, local_ip, key, dst_port; patch: peer).
        settings: Vec<String>,
    },
    /// Deletes a port.
    DelPort {
        /// Bridge name.
        bridge: String,
        /// Interface name.
        ifname: String,
    },
    /// Sets the bridge's controllers (tcp:IP[:PORT], ssl:..., ptcp:..., ...).
    SetController {
        /// Bridge name.
        bridge: String,
        /// Targets.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Removes every controller of the bridge.
    DelController {
        /// Bridge name.
        bridge: String,
    },
    /// Sets the fail mode: standalone or secure.
    SetFailMode {
        /// Bridge name.
        bridge: String,
        /// standalone or secure.
        mode: String,
    },
    /// The MAC learning table (like `ovs-appctl fdb/show`).
    FdbShow {
        /// Bridge name.
        bridge: String,
    },
    /// The megaflows of every forwarding thread (like `ovs-appctl dpctl/dump-flows`).
    DumpDpFlows {
        /// Bridge name (default: every bridge).
        bridge: Option<String>,
    },
    /// Traces a packet through the pipeline without side effects (like `ovs-appctl ofproto/trace`).
    Trace {
        /// Bridge name.
        bridge: String,
        /// Packet fields: in_port=1,dl_src=..,dl_dst=..,tcp,nw_dst=..,tp_dst=80.
        flow: String,
    },
    /// Cache counters per forwarding thread.
    CacheStats {
        /// Bridge name (default: every bridge).
        bridge: Option<String>,
    },
    /// Connects the network namespace of a process to the bridge through a veth pair.
    AttachContainer {
        /// Bridge name.
        bridge: String,
        /// The process.
        #[arg(long, value_name = "PID")]
        pid: String,
        /// Interface name inside the container.
        #[arg(long, value_name = "NAME")]
        ifname: Option<String>,
        /// Address inside the container, ADDR/LEN.
        #[arg(long, value_name = "CIDR")]
        ip: Option<String>,
        /// MAC address inside the container.
        #[arg(long, value_name = "MAC")]
        mac: Option<String>,
        /// Default gateway inside the container.
        #[arg(long, value_name = "IP")]
        gateway: Option<String>,
        /// Access VLAN of the port.
        #[arg(long, value_name = "VLAN")]
        tag: Option<String>,
        /// MTU of both ends.
        #[arg(long, value_name = "N")]
        mtu: Option<String>,
    },
    /// Disconnects a container attached with attach-container.
    DetachContainer {
        /// Bridge name.
        bridge: String,
        /// The process.
        #[arg(long, value_name = "PID")]
        pid: String,
        /// Interface name inside the container.
        #[arg(long, value_name = "NAME")]
        ifname: String,
    },
}

fn num<T: std::str::FromStr>(field: &str, v: &str, what: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{field}: \"{}\" is not {what}", v.escape_debug()))
}

/// Parses a VLAN id for `tag` (1-4094).
pub fn parse_tag(field: &str, v: &str) -> Result<u16, String> {
    let t: u16 = num(field, v, "a VLAN id (1-4094)")?;
    if t == 0 || t > 4094 {
        return Err(format!("{field}: {t} is not a VLAN id (1-4094)"));
    }
    Ok(t)
}

/// Parses `V,V,...` trunk VLANs (0-4095).
pub fn parse_trunks(field: &str, v: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in v.split(',') {
        let t: u16 = num(field, part.trim(), "a VLAN id (0-4095)")?;
        if t > 4095 {
            return Err(format!("{field}: {t} is not a VLAN id (0-4095)"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn check_name(field: &str, v: &str) -> Result<(), String> {
    crate::config::validate_ifname(v).map_err(|e| format!("{field}: {e}"))
}

/// Turns the parsed command line into a request, checking every value.
pub fn build_request(cmd: &CtlCommand) -> Result<Request, String> {
    Ok(match cmd {
        CtlCommand::Show => Request::Show,
        CtlCommand::AddBridge {
            name,
            dpid,
            fail_mode,
        } => {
            check_name("bridge", name)?;
            if let Some(d) = dpid {
                parse_dpid(d).map_err(|e| format!("dpid: {e}"))?;
            }
            if let Some(m) = fail_mode {
                m.parse::<FailMode>()
                    .map_err(|e| format!("fail-mode: {e}"))?;
            }
            Request::AddBridge {
                name: name.clone(),
                dpid: dpid.clone(),
                fail_mode: fail_mode.clone(),
            }
        }
        CtlCommand::DelBridge { name } => {
            check_name("bridge", name)?;
            Request::DelBridge { name: name.clone() }
        }
        CtlCommand::AddPort {
            bridge,
            ifname,
            settings,
        } => {
            check_name("bridge", bridge)?;
            check_name("ifname", ifname)?;
            let (mut ofport, mut kind, mut tag, mut trunks) = (None, None, None, None);
            let mut options = std::collections::BTreeMap::new();
            for s in settings {
                let (k, v) = s.split_once('=').ok_or_else(|| {
                    format!(
                        "setting: \"{}\" is not KEY=VALUE (ofport, type, tag, trunks)",
                        s.escape_debug()
                    )
                })?;
                match k {
                    "ofport" => {
                        let n: u32 = num("ofport", v, "an OpenFlow port number")?;
                        if n == 0 || n > crate::config::OFPORT_MAX {
                            return Err(format!(
                                "ofport: {n} is out of range (1-{})",
                                crate::config::OFPORT_MAX
                            ));
                        }
                        ofport = Some(n);
                    }
                    "type" => {
                        v.parse::<PortKind>().map_err(|e| format!("type: {e}"))?;
                        kind = Some(v.to_string());
                    }
                    "tag" => tag = Some(parse_tag("tag", v)?),
                    "trunks" => trunks = Some(parse_trunks("trunks", v)?),
                    "remote_ip" | "local_ip" | "key" | "dst_port" | "peer" => {
                        options.insert(k.to_owned(), v.to_owned());
                    }
                    other => {
                        return Err(format!(
                            "setting: unknown key \"{}\" (ofport, type, tag, trunks, remote_ip, local_ip, key, dst_port, peer)",
                            other.escape_debug()
                        ))
                    }
                }
            }
            Request::AddPort {
                bridge: bridge.clone(),
                port: ifname.clone(),
                ofport,
                kind,
                tag,
                trunks,
                options: (!options.is_empty()).then_some(options),
            }
        }
        CtlCommand::DelPort { bridge, ifname } => {
            check_name("bridge", bridge)?;
            check_name("ifname", ifname)?;
            Request::DelPort {
                bridge: bridge.clone(),
                port: ifname.clone(),
            }
        }
        CtlCommand::SetController { bridge, targets } => {
            check_name("bridge", bridge)?;
            for t in targets {
                t.parse::<Target>()
                    .map_err(|e| format!("target \"{}\": {e}", t.escape_debug()))?;
            }
            Request::SetController {
                bridge: bridge.clone(),
                targets: targets.clone(),
            }
        }
        CtlCommand::DelController { bridge } => {
            check_name("bridge", bridge)?;
            Request::DelController {
                bridge: bridge.clone(),
            }
        }
        CtlCommand::SetFailMode { bridge, mode } => {
            check_name("bridge", bridge)?;
            mode.parse::<FailMode>()
                .map_err(|e| format!("fail-mode: {e}"))?;
            Request::SetFailMode {
                bridge: bridge.clone(),
                mode: mode.clone(),
            }
        }
        CtlCommand::FdbShow { bridge } => {
            check_name("bridge", bridge)?;
            Request::FdbShow {
                bridge: bridge.clone(),
            }
        }
        CtlCommand::DumpDpFlows { bridge } => {
            if let Some(b) = bridge {
                check_name("bridge", b)?;
            }
            Request::DumpDpFlows {
                bridge: bridge.clone(),
            }
        }
        CtlCommand::Trace { bridge, flow } => {
            check_name("bridge", bridge)?;
            crate::mgmt::flowparse::parse_packet(flow, |_| None)?;
            Request::Trace {
                bridge: bridge.clone(),
                flow: flow.clone(),
            }
        }
        CtlCommand::CacheStats { bridge } => {
            if let Some(b) = bridge {
                check_name("bridge", b)?;
            }
            Request::CacheStats {
                bridge: bridge.clone(),
            }
        }
        CtlCommand::AttachContainer {
            bridge,
            pid,
            ifname,
            ip,
            mac,
            gateway,
            tag,
            mtu,
        } => {
            check_name("bridge", bridge)?;
            let pid: u32 = num("pid", pid, "a process id")?;
            let req = Request::AttachContainer {
                bridge: bridge.clone(),
                pid,
                ifname: ifname.clone(),
                ip: ip.clone(),
                mac: mac.clone(),
                gateway: gateway.clone(),
                tag: tag.as_deref().map(|t| parse_tag("tag", t)).transpose()?,
                mtu: mtu
                    .as_deref()
                    .map(|m| num::<u32>("mtu", m, "an MTU (68-65535)"))
                    .transpose()?,
            };
            crate::mgmt::attach_spec(&req)?;
            req
        }
        CtlCommand::DetachContainer {
            bridge,
            pid,
            ifname,
        } => {
            check_name("bridge", bridge)?;
            check_name("ifname", ifname)?;
            let pid: u32 = num("pid", pid, "a process id")?;
            if pid == 0 {
                return Err("pid: must be a process id greater than 0".into());
            }
            Request::DetachContainer {
                bridge: bridge.clone(),
                pid,
                ifname: ifname.clone(),
            }
        }
    })
}

/// The run directory: the flag, then `SWITCHD_RUN_DIR`, then the default.
pub fn run_dir(flag: Option<&PathBuf>) -> PathBuf {
    flag.cloned()
        .or_else(|| {
            std::env::var_os(RUN_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR))
}

/// Sends one request to the socket in `run_dir` and returns the answer.
pub fn call(
    run_dir: &std::path::Path,
    req: &Request,
    timeout: Duration,
) -> Result<Response, String> {
    let path = run_dir.join(SOCKET_NAME);
    let mut s = UnixStream::connect(&path).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is switchd running with this run directory?)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    let mut line = serde_json::to_string(req).map_err(|e| format!("request: {e}"))?;
    line.push('\n');
    s.write_all(line.as_bytes())
        .map_err(|e| format!("sending to {}: {e}", path.display()))?;
    let mut answer = String::new();
    BufReader::new(&s)
        .read_line(&mut answer)
        .map_err(|e| format!("reading from {}: {e}", path.display()))?;
    if answer.is_empty() {
        return Err(format!(
            "{} closed the connection without answering",
            path.display()
        ));
    }
    serde_json::from_str(&answer).map_err(|e| format!("answer: {e}"))
}

/// Runs `switchd ctl`: prints the answer, or one line of error on stderr
/// with exit status 1.
pub fn run(args: &CtlArgs) -> ExitCode {
    let r = build_request(&args.command).and_then(|req| {
        let dir = run_dir(args.run_dir.as_ref());
        call(&dir, &req, Duration::from_secs(args.timeout.max(1)))
    });
    match r {
        Ok(Response {
            ok: true, output, ..
        }) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(output.as_bytes());
            if !output.is_empty() && !output.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            ExitCode::SUCCESS
        }
        Ok(Response { error, .. }) => {
            let e = error.unwrap_or_else(|| "the daemon refused the command".into());
            eprintln!("switchd ctl: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("switchd ctl: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_port(settings: &[&str]) -> Result<Request, String> {
        build_request(&CtlCommand::AddPort {
            bridge: "br0".into(),
            ifname: "veth1".into(),
            settings: settings.iter().map(|s| (*s).to_string()).collect(),
        })
    }

    #[test]
    fn add_port_settings_parse_into_the_request() {
        let r = add_port(&["ofport=7", "type=tap", "tag=10", "trunks=1,2,2"]).unwrap();
        assert_eq!(
            r,
            Request::AddPort {
                bridge: "br0".into(),
                port: "veth1".into(),
                ofport: Some(7),
                kind: Some("tap".into()),
                tag: Some(10),
                trunks: Some(vec![1, 2]),
                options: None,
            }
        );
    }

    #[test]
    fn vxlan_settings_become_port_options() {
        let r = add_port(&["type=vxlan", "remote_ip=198.19.0.2", "key=flow"]).unwrap();
        let Request::AddPort { kind, options, .. } = r else {
            panic!("not add-port: {r:?}");
        };
        assert_eq!(kind.as_deref(), Some("vxlan"));
        let o = options.unwrap();
        assert_eq!(o.get("remote_ip").map(String::as_str), Some("198.19.0.2"));
        assert_eq!(o.get("key").map(String::as_str), Some("flow"));
    }

    #[test]
    fn bad_values_give_one_line_naming_the_field() {
        let cases: [(&[&str], &str); 6] = [
            (&["ofport=0"], "ofport:"),
            (&["ofport=x"], "ofport:"),
            (&["type=gre"], "type:"),
            (&["tag=5000"], "tag:"),
            (&["trunks=1,x"], "trunks:"),
            (&["color=red"], "setting:"),
        ];
        for (s, field) in cases {
            let e = add_port(s).unwrap_err();
            assert!(e.starts_with(field) && !e.contains('\n'), "{s:?}: {e}");
        }
        let e = build_request(&CtlCommand::SetFailMode {
            bridge: "br0".into(),
            mode: "open".into(),
        })
        .unwrap_err();
        assert!(e.starts_with("fail-mode:"), "{e}");
        let e = build_request(&CtlCommand::AttachContainer {
            bridge: "br0".into(),
            pid: "12x".into(),
            ifname: None,
            ip: None,
            mac: None,
            gateway: None,
            tag: None,
            mtu: None,
        })
        .unwrap_err();
        assert!(e.starts_with("pid:"), "{e}");
        let e = build_request(&CtlCommand::Trace {
            bridge: "br0".into(),
            flow: "in_port=1,nw_dst=300.1.1.1".into(),
        })
        .unwrap_err();
        assert!(e.starts_with("nw_dst:"), "{e}");
    }

    #[test]
    fn the_run_dir_flag_wins_over_the_environment() {
        let p = PathBuf::from("/tmp/x");
        assert_eq!(run_dir(Some(&p)), p);
    }
}
