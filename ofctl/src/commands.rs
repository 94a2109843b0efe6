//! The commands of `ofctl`, each printing what `ovs-ofctl -O OpenFlow13`
//! prints for it.
//!
//! [`run`] takes the parsed [`Options`], the command name and its
//! arguments and writes to the given output; errors come back as a
//! [`CliError`] for `main` to print on stderr. Commands that talk to a
//! switch open one [`Client`] connection, send their requests and print
//! the replies with [`crate::format`]; a reply that is an OFPT_ERROR is
//! printed the way `ovs-ofctl` prints it (the error, then the offending
//! request decoded) and makes the command fail.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use controller_proto::conn::{Event, Outcome};
use controller_proto::error::ErrorMsg;
use controller_proto::flow_mod::FlowMod;
use controller_proto::group_mod::GroupModCommand;
use controller_proto::header::OFP_VERSION;
use controller_proto::instruction::Instruction;
use controller_proto::message::Message;
use controller_proto::meter_mod::{MeterModCommand, MeterMultipartRequest, OFPM_ALL};
use controller_proto::multipart::{
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody, QueueStatsRequest,
    OFPQ_ALL,
};
use controller_proto::packet_io::PacketOut;
use controller_proto::port::{
    Port, PortMod, PortStatsRequest, OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV,
    OFPPC_PORT_DOWN, OFPP_ANY,
};
use controller_proto::stats_flow::{FlowStats, GroupStatsRequest};
use controller_proto::switch_config::SwitchConfig;
use datapath::flow::{Field, FlowMask, Match};

use crate::client::{BatchError, Client, ClientError, Reply, TlsFiles};
use crate::flow_syntax::group::{parse_group, parse_group_id, parse_meter, parse_meter_id};
use crate::flow_syntax::value::parse_port;
use crate::flow_syntax::{
    fields, parse_action_list, parse_flow, FlowCommand, FlowSpec, SyntaxError,
};
use crate::format::print::{body_text, header_text, message_name, mp_reply_text, ofp_print};
use crate::format::{flow_stats_text, match_from_wire, matches::format_match, FlowStatsStyle};
use crate::offline::{ofp_print_hex, parse_flow_file, parse_flow_report, parse_hex};

/// Command-line options (those of `ovs-ofctl` that apply).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--strict`: modify and delete only exact matches.
    pub strict: bool,
    /// `--sort[=FIELD]` / `--rsort[=FIELD]`, in the order given: (descending,
    /// field). Later criteria break ties of earlier ones; flows that tie on
    /// all of them keep the switch's order.
    pub sort: Vec<(bool, Option<String>)>,
    /// `--no-stats`: leave counters out of flow dumps.
    pub no_stats: bool,
    /// `--timeout SECS`: bound on waiting (and on `monitor`'s run).
    pub timeout: Option<Duration>,
    /// TLS files for `ssl:` targets.
    pub tls: TlsFiles,
    /// Messages between barriers when streaming flows.
    pub barrier_every: usize,
    /// `--names` / `--no-names` (default: names when stdout is a terminal).
    pub names: Option<bool>,
}

impl Options {
    /// Whether ports are shown (and accepted) by name.
    pub fn show_names(&self) -> bool {
        self.names
            .unwrap_or_else(|| std::io::stdout().is_terminal())
    }
}

/// A failed command.
#[derive(Debug)]
pub enum CliError {
    /// One line for `ofctl: ...` (usage, syntax, connection problems).
    Message(String),
    /// Text already formatted (the switch's OFPT_ERROR and the request).
    Printed(String),
}

impl From<SyntaxError> for CliError {
    fn from(e: SyntaxError) -> Self {
        CliError::Message(e.0)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Message(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Message(crate::client::io_reason(&e))
    }
}

type Res = Result<i32, CliError>;

/// The usage text.
pub const USAGE: &str = "\
ofctl: OpenFlow 1.3 switch management utility
usage: ofctl [OPTIONS] COMMAND [ARG...]

Switch commands (TARGET is tcp:IP:PORT, ssl:IP:PORT, unix:PATH or a bridge name):
  show TARGET                       features, ports and configuration
  dump-desc TARGET                  switch description
  dump-tables TARGET                table statistics
  dump-table-features TARGET        table features
  dump-ports TARGET [PORT]          port statistics
  dump-ports-desc TARGET [PORT]     port descriptions
  mod-port TARGET PORT ACTION       up|down|receive|no-receive|forward|no-forward|packet-in|no-packet-in
  dump-flows TARGET [FLOW]          flows
  dump-aggregate TARGET [FLOW]      flow totals
  queue-stats TARGET [PORT [QUEUE]] queue statistics
  add-flow TARGET FLOW              add a flow
  add-flows TARGET FILE             add the flows of FILE (- for stdin)
  mod-flows TARGET FLOW             modify the actions of matching flows
  del-flows TARGET [FLOW]           delete matching flows
  replace-flows TARGET FILE         make the switch's flows those of FILE
  diff-flows SOURCE1 SOURCE2        compare flows of files or switches
  add-group TARGET GROUP            add a group (add-groups TARGET FILE)
  mod-group TARGET GROUP            modify a group
  del-groups TARGET [GROUP]         delete groups
  dump-groups TARGET [GROUP]        group descriptions
  dump-group-stats TARGET [GROUP]   group statistics
  dump-group-features TARGET        group features
  add-meter TARGET METER            add a meter (mod-meter likewise)
  del-meter TARGET [METER]          delete a meter (del-meters: all)
  dump-meters TARGET [METER]        meter configurations
  meter-stats TARGET [METER]        meter statistics
  meter-features TARGET             meter features
  packet-out TARGET in_port=P packet=HEX actions=A   (or IN_PORT ACTIONS HEX)
  monitor TARGET [MISS-LEN]         print asynchronous messages as they arrive

Offline commands:
  ofp-print HEX                     decode an OpenFlow message
  parse-flow FLOW                   print a flow as the switch would receive it
  parse-flows FILE                  likewise for every flow of FILE

Options:
  -O OpenFlow13        the only protocol spoken (accepted for compatibility)
  --strict             exact matching for mod-flows and del-flows
  --sort[=FIELD]       sort dumped flows by FIELD (default priority)
  --rsort[=FIELD]      likewise, descending
  --no-stats           leave statistics out of flow dumps
  --timeout SECS       give up waiting after SECS (monitor: run this long)
  --private-key FILE, --certificate FILE, --ca-cert FILE   for ssl: targets
";

/// Parses the command line (options may appear anywhere).
///
/// # Errors
/// An unknown option or a bad option value, as one sentence.
pub fn parse_args(args: &[String]) -> Result<(Options, Vec<String>), CliError> {
    let mut o = Options {
        barrier_every: 1000,
        ..Options::default()
    };
    let mut rest = Vec::new();
    let mut i = 0;
    let value = |i: &mut usize, name: &str, inline: Option<&str>| -> Result<String, CliError> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| CliError::Message(format!("option {name} needs a value")))
    };
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            rest.push(a.to_string());
            i += 1;
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a, None),
        };
        match name {
            "-O" | "--protocols" => {
                let v = value(&mut i, name, inline)?;
                if !v.split(',').any(|p| p.eq_ignore_ascii_case("OpenFlow13")) {
                    return Err(CliError::Message(format!(
                        "option {name}: \"{v}\" is not supported (this tool speaks only OpenFlow13)"
                    )));
                }
            }
            n if n.starts_with("-O") && n.len() > 2 => {
                if !n[2..].eq_ignore_ascii_case("OpenFlow13") {
                    return Err(CliError::Message(format!(
                        "option -O: \"{}\" is not supported (this tool speaks only OpenFlow13)",
                        &n[2..]
                    )));
                }
            }
            "--strict" => o.strict = true,
            "--names" => o.names = Some(true),
            "--no-names" => o.names = Some(false),
            "--read-only" | "--color" | "--no-color" => {}
            "--no-stats" => o.no_stats = true,
            "--sort" => o.sort.push((false, inline.map(str::to_string))),
            "--rsort" => o.sort.push((true, inline.map(str::to_string))),
            "--timeout" | "-t" => {
                let v = value(&mut i, name, inline)?;
                let secs: u64 = v.parse().map_err(|_| {
                    CliError::Message(format!(
                        "option --timeout: \"{v}\" is not a number of seconds"
                    ))
                })?;
                o.timeout = Some(Duration::from_secs(secs));
            }
            "--private-key" | "-p" => o.tls.private_key = Some(value(&mut i, name, inline)?.into()),
            "--certificate" | "-c" => o.tls.certificate = Some(value(&mut i, name, inline)?.into()),
            "--ca-cert" | "-C" => o.tls.ca_cert = Some(value(&mut i, name, inline)?.into()),
            "--barrier-every" => {
                let v = value(&mut i, name, inline)?;
                o.barrier_every = v.parse().map_err(|_| {
                    CliError::Message(format!("option --barrier-every: \"{v}\" is not a number"))
                })?;
            }
            "-h" | "--help" => rest.insert(0, "help".to_string()),
            "-V" | "--version" => rest.insert(0, "version".to_string()),
            _ => {
                return Err(CliError::Message(format!(
                    "unknown option \"{a}\" (try --help)"
                )))
            }
        }
        i += 1;
    }
    Ok((o, rest))
}

fn need_args(cmd: &str, args: &[String], min: usize, max: usize) -> Result<(), CliError> {
    if args.len() < min {
        return Err(CliError::Message(format!(
            "'{cmd}' command requires at least {min} arguments"
        )));
    }
    if args.len() > max {
        return Err(CliError::Message(format!(
            "'{cmd}' command takes at most {max} arguments"
        )));
    }
    Ok(())
}

fn connect(o: &Options, target: &str) -> Result<Client, CliError> {
    let mut c = Client::connect(target, &o.tls, o.timeout)?;
    if o.show_names() {
        let names = port_list(&mut c)?
            .iter()
            .map(|p| (p.port_no, p.name.to_string_lossy()))
            .collect();
        crate::flow_syntax::value::set_port_names(names);
    }
    Ok(c)
}

/// Prints a reply message as `ofp-print` would, with its xid. A multipart
/// reply too long for one message prints as the parts a switch sends it
/// in (each at most 65,535 bytes, all but the last flagged `[more]`), as
/// `ovs-ofctl` prints the parts it receives.
fn print_reply(out: &mut dyn Write, xid: u32, msg: &Message) -> std::io::Result<()> {
    if let Message::MultipartReply(r) = msg {
        let parts = r.clone().split_max();
        if parts.len() > 1 {
            for p in parts {
                print_one(out, xid, &Message::MultipartReply(p))?;
            }
            return Ok(());
        }
    }
    print_one(out, xid, msg)
}

fn print_one(out: &mut dyn Write, xid: u32, msg: &Message) -> std::io::Result<()> {
    let mut s = header_text(&message_name(msg), OFP_VERSION, xid);
    s.push_str(&body_text(msg, 2));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    out.write_all(s.as_bytes())
}

/// The text of an OFPT_ERROR reply as `ovs-ofctl` prints it.
pub fn error_text(xid: u32, e: &ErrorMsg) -> String {
    ofp_print(&Message::Error(e.clone()).encode(xid))
}

/// Sends a request that has a reply and returns the reply, or fails with
/// the switch's error printed.
fn request(c: &mut Client, msg: Message) -> Result<(u32, Message), CliError> {
    let Reply { xid, outcome } = c.transact(msg)?;
    match outcome {
        Outcome::Reply(m) => Ok((xid, m)),
        Outcome::Error(e) => Err(CliError::Printed(error_text(xid, &e))),
        Outcome::Done => Err(CliError::Message(format!("{}: no reply", c.target()))),
        Outcome::Closed => Err(CliError::Message(format!(
            "{}: connection closed before the reply",
            c.target()
        ))),
    }
}

fn mp(body: MultipartRequestBody) -> Message {
    Message::MultipartRequest(MultipartRequest::new(body))
}

/// Runs one request/reply command, printing the reply.
fn dump(o: &Options, target: &str, msg: Message, out: &mut dyn Write) -> Res {
    let mut c = connect(o, target)?;
    let (xid, reply) = request(&mut c, msg)?;
    print_reply(out, xid, &reply)?;
    Ok(0)
}

/// Reads a port argument: a number, a reserved name or a port's name
/// (looked up in the switch's port list).
fn resolve_port(c: &mut Client, s: &str) -> Result<u32, CliError> {
    if let Ok(p) = parse_port(s) {
        return Ok(p);
    }
    let ports = port_list(c)?;
    ports
        .iter()
        .find(|p| p.name.to_string_lossy() == s)
        .map(|p| p.port_no)
        .ok_or_else(|| CliError::Message(format!("{}: couldn't find port `{s}'", c.target())))
}

fn port_list(c: &mut Client) -> Result<Vec<Port>, CliError> {
    let (_, reply) = request(c, mp(MultipartRequestBody::PortDesc))?;
    match reply {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::PortDesc(p),
            ..
        }) => Ok(p),
        _ => Err(CliError::Message(format!(
            "{}: unexpected reply to a port description request",
            c.target()
        ))),
    }
}

fn read_source(name: &str) -> Result<String, CliError> {
    if name == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(name).map_err(|e| {
        CliError::Message(format!(
            "{name}: open failed ({})",
            crate::client::io_reason(&e)
        ))
    })
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    total: usize,
    enabled: bool,
    last: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            enabled: total >= 10_000 && std::io::stderr().is_terminal(),
            last: Instant::now(),
        }
    }

    fn update(&mut self, done: usize) {
        if !self.enabled || (self.last.elapsed() < Duration::from_millis(100) && done < self.total)
        {
            return;
        }
        self.last = Instant::now();
        let pct = done * 100 / self.total.max(1);
        let filled = pct * 40 / 100;
        let bar: String = "=".repeat(filled) + &" ".repeat(40 - filled);
        eprint!("\r[{bar}] {pct:3}% {done}/{} flows", self.total);
        if done >= self.total {
            eprintln!();
        }
    }
}

/// Sends reply-less messages pipelined and reports errors like
/// `ovs-ofctl` (each error with its request); returns the exit status.
fn send_batch(
    o: &Options,
    c: &mut Client,
    msgs: impl IntoIterator<Item = Message>,
    what: usize,
) -> Res {
    let mut progress = Progress::new(what);
    let errors: Vec<BatchError> =
        c.send_pipelined(msgs, o.barrier_every, 4, |n| progress.update(n))?;
    if errors.is_empty() {
        return Ok(0);
    }
    let text: String = errors.iter().map(|e| error_text(e.xid, &e.error)).collect();
    Err(CliError::Printed(text))
}

/// Parses every flow of a file without keeping them; returns how many.
fn validate_flow_file(name: &str, text: &str, default: FlowCommand) -> Result<usize, CliError> {
    let mut n = 0;
    for (line_no, line) in crate::offline::flow_lines(text) {
        let (cmd, rest) = crate::offline::split_command(line, default);
        parse_flow(cmd, rest)
            .map_err(|e| CliError::Message(format!("{name}:{line_no}: {}", e.message())))?;
        n += 1;
    }
    Ok(n)
}

fn flow_mods(specs: &[FlowSpec]) -> Vec<Message> {
    specs
        .iter()
        .map(|f| Message::FlowMod(f.to_flow_mod()))
        .collect()
}

/// Flow statistics of every flow selected by `spec`.
fn dump_flow_stats(c: &mut Client, spec: &FlowSpec) -> Result<(u32, Vec<FlowStats>), CliError> {
    let (xid, reply) = request(c, mp(MultipartRequestBody::Flow(spec.to_stats_request())))?;
    match reply {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Flow(f),
            ..
        }) => Ok((xid, f)),
        _ => Err(CliError::Message(format!(
            "{}: unexpected reply to a flow statistics request",
            c.target()
        ))),
    }
}

/// A sort criterion's view of one flow: whether the flow matches on the
/// field (with its prerequisites met: `arp_tpa` is not `nw_dst`), and the
/// field's value in the flow's match (zero when wildcarded).
/// Like `ovs-ofctl`, flows that both lack the field still compare by that
/// value as stored, where `arp_op` shares its storage with `nw_proto`.
fn sort_value(m: &Match, def: &fields::FieldDef) -> (bool, u128) {
    let field = match def.target {
        fields::Target::Plain(x) => x,
        fields::Target::TpSrc => Field::TcpSrc,
        fields::Target::TpDst => Field::TcpDst,
        fields::Target::NwTos => Field::IpDscp,
        fields::Target::DlVlan | fields::Target::VlanTci => Field::VlanVid,
        fields::Target::VlanPcp => Field::VlanPcp,
    };
    let (v, mk) = m.get(field);
    if mk != 0 && datapath::flow::prerequisites_met(&[field], m) {
        return (true, v);
    }
    let stored = if field == Field::ArpOp {
        Field::IpProto
    } else {
        field
    };
    (false, m.get(stored).0)
}

/// Sorts like `ovs-ofctl --sort/--rsort`: the criteria in order (one
/// without a field means the priority), then always a final descending
/// priority pass, in a stable sort so that flows equal under every
/// criterion stay in the order the switch sent them. A flow that matches on
/// a criterion's field sorts before one that does not, in either direction.
fn sort_flows(
    flows: &mut [FlowStats],
    criteria: &[(bool, Option<String>)],
) -> Result<(), CliError> {
    let mut keys = Vec::new();
    for (desc, field) in criteria {
        let def = match field.as_deref() {
            None => None,
            Some(name) if name.eq_ignore_ascii_case("priority") => None,
            Some(name) => Some(
                fields::lookup(name)
                    .ok_or_else(|| CliError::Message(format!("{name}: unknown field name")))?,
            ),
        };
        keys.push((*desc, def));
    }
    keys.push((true, None));
    let matches: Vec<Match> = flows.iter().map(|f| match_from_wire(&f.match_)).collect();
    let mut order: Vec<usize> = (0..flows.len()).collect();
    order.sort_by(|&a, &b| {
        for (desc, def) in &keys {
            let ord = match def {
                None => flows[a].priority.cmp(&flows[b].priority),
                Some(d) => {
                    let (ina, va) = sort_value(&matches[a], d);
                    let (inb, vb) = sort_value(&matches[b], d);
                    if ina != inb {
                        return if ina {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Greater
                        };
                    }
                    va.cmp(&vb)
                }
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    let sorted: Vec<FlowStats> = order.iter().map(|&i| flows[i].clone()).collect();
    for (slot, f) in flows.iter_mut().zip(sorted) {
        *slot = f;
    }
    Ok(())
}

fn dump_flows(o: &Options, args: &[String], out: &mut dyn Write) -> Res {
    let target = &args[0];
    let text = args.get(1).map_or("", String::as_str);
    parse_flow(FlowCommand::Query, text)?;
    let mut c = connect(o, target)?;
    let spec = parse_flow(FlowCommand::Query, text)?;
    let (xid, mut flows) = dump_flow_stats(&mut c, &spec)?;
    let style = FlowStatsStyle {
        no_stats: o.no_stats,
    };
    if o.sort.is_empty() && !o.no_stats && !o.show_names() {
        let reply = MultipartReply::new(MultipartReplyBody::Flow(flows));
        for part in reply.split_max() {
            let mut s = header_text("OFPST_FLOW reply", OFP_VERSION, xid);
            s.push_str(&mp_reply_text(&part, style));
            s.push('\n');
            out.write_all(s.as_bytes())?;
        }
        return Ok(0);
    }
    if !o.sort.is_empty() {
        sort_flows(&mut flows, &o.sort)?;
    }
    let mut s = String::new();
    for f in &flows {
        s.push(' ');
        s.push_str(&flow_stats_text(f, style));
        s.push('\n');
    }
    out.write_all(s.as_bytes())?;
    Ok(0)
}

/// The identity of a flow for replace-flows and diff-flows.
type FlowKeyText = (u8, u16, String);

/// One version of a flow: what replace-flows and diff-flows compare.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FlowVersion {
    table_id: u8,
    priority: u16,
    match_: Match,
    cookie: u64,
    idle_timeout: u16,
    hard_timeout: u16,
    importance: u16,
    instructions: String,
    raw_instructions: Vec<Instruction>,
}

impl FlowVersion {
    fn key(&self) -> FlowKeyText {
        (
            self.table_id,
            self.priority,
            format_match(&self.match_, None),
        )
    }

    fn same(&self, other: &FlowVersion) -> bool {
        self.cookie == other.cookie
            && self.idle_timeout == other.idle_timeout
            && self.hard_timeout == other.hard_timeout
            && self.importance == other.importance
            && self.instructions == other.instructions
    }

    fn text(&self) -> String {
        let mut s = String::new();
        if self.table_id != 0 {
            s.push_str(&format!("table={} ", self.table_id));
        }
        s.push_str(&format_match(&self.match_, Some(self.priority)));
        if self.cookie != 0 {
            s.push_str(&format!(" cookie={:#x}", self.cookie));
        }
        if self.idle_timeout != 0 {
            s.push_str(&format!(" idle_timeout={}", self.idle_timeout));
        }
        if self.hard_timeout != 0 {
            s.push_str(&format!(" hard_timeout={}", self.hard_timeout));
        }
        if self.importance != 0 {
            s.push_str(&format!(" importance={}", self.importance));
        }
        s.push_str(" actions=");
        s.push_str(&self.instructions);
        s
    }

    fn from_spec(f: &FlowSpec) -> Self {
        FlowVersion {
            table_id: if f.table_id == 0xff { 0 } else { f.table_id },
            priority: f.priority,
            match_: f.match_.match_,
            cookie: f.cookie,
            idle_timeout: f.idle_timeout,
            hard_timeout: f.hard_timeout,
            importance: f.importance,
            instructions: crate::format::actions::instructions_text(&f.instructions),
            raw_instructions: f.instructions.clone(),
        }
    }

    fn from_stats(f: &FlowStats) -> Self {
        FlowVersion {
            table_id: f.table_id,
            priority: f.priority,
            match_: match_from_wire(&f.match_),
            cookie: f.cookie,
            idle_timeout: f.idle_timeout,
            hard_timeout: f.hard_timeout,
            importance: 0,
            instructions: crate::format::actions::instructions_text(&f.instructions),
            raw_instructions: f.instructions.clone(),
        }
    }
}

/// A flow entry with up to two versions (one per source), as diff-flows
/// and replace-flows see it.
#[derive(Default)]
struct FlowEntry {
    /// When the entry was first seen, over both sources in order.
    seen: usize,
    versions: [Option<FlowVersion>; 2],
}

/// Pairs up the flows of two sources and returns them in `ovs-ofctl`'s
/// walking order: table by table; within a table, the groups of flows that
/// share one mask, by the highest priority in the group (descending, then
/// the order the groups were first seen); within a group, in the order the
/// flows were first seen (a flow present in both sources keeps the place of
/// its first sighting).
fn flow_entries(sources: [Vec<FlowVersion>; 2]) -> Vec<FlowEntry> {
    let mut index: HashMap<FlowKeyText, usize> = HashMap::new();
    let mut entries: Vec<FlowEntry> = Vec::new();
    for (i, flows) in sources.into_iter().enumerate() {
        for f in flows {
            let k = f.key();
            let at = *index.entry(k).or_insert_with(|| {
                entries.push(FlowEntry {
                    seen: entries.len(),
                    versions: [None, None],
                });
                entries.len() - 1
            });
            entries[at].versions[i] = Some(f);
        }
    }
    let probe = |e: &FlowEntry| -> (u8, u16, FlowMask) {
        let v = e.versions[0]
            .as_ref()
            .or(e.versions[1].as_ref())
            .map(|v| (v.table_id, v.priority, v.match_.mask));
        v.unwrap_or((0, 0, FlowMask::wildcard()))
    };
    // Per (table, mask): the group's highest priority and first sighting.
    let mut groups: HashMap<(u8, FlowMask), (u16, usize)> = HashMap::new();
    for e in &entries {
        let (table, prio, mask) = probe(e);
        let g = groups.entry((table, mask)).or_insert((prio, e.seen));
        g.0 = g.0.max(prio);
    }
    entries.sort_by_key(|e| {
        let (table, _, mask) = probe(e);
        let (max_prio, first) = groups[&(table, mask)];
        (table, std::cmp::Reverse(max_prio), first, e.seen)
    });
    entries
}

fn all_flows_of_switch(c: &mut Client) -> Result<Vec<FlowVersion>, CliError> {
    let spec = parse_flow(FlowCommand::Query, "")?;
    let (_, flows) = dump_flow_stats(c, &spec)?;
    Ok(flows.iter().map(FlowVersion::from_stats).collect())
}

fn flows_of_source(o: &Options, source: &str) -> Result<Vec<FlowVersion>, CliError> {
    if std::path::Path::new(source).exists() || source == "-" {
        let text = read_source(source)?;
        let specs = parse_flow_file(source, &text, FlowCommand::Add)?;
        return Ok(specs.iter().map(FlowVersion::from_spec).collect());
    }
    let mut c = connect(o, source)?;
    all_flows_of_switch(&mut c)
}

fn diff_flows(o: &Options, args: &[String], out: &mut dyn Write) -> Res {
    let a = flows_of_source(o, &args[0])?;
    let b = flows_of_source(o, &args[1])?;
    let mut s = String::new();
    for e in flow_entries([a, b]) {
        let [old, new] = &e.versions;
        if matches!((old, new), (Some(x), Some(y)) if x.same(y)) {
            continue;
        }
        let old = old.as_ref().map(FlowVersion::text);
        let new = new.as_ref().map(FlowVersion::text);
        if old == new {
            continue;
        }
        if let Some(x) = old {
            s.push_str(&format!("-{x}\n"));
        }
        if let Some(y) = new {
            s.push_str(&format!("+{y}\n"));
        }
    }
    out.write_all(s.as_bytes())?;
    Ok(if s.is_empty() { 0 } else { 2 })
}

fn replace_flows(o: &Options, args: &[String]) -> Res {
    let text = read_source(&args[1])?;
    let specs = parse_flow_file(&args[1], &text, FlowCommand::Add)?;
    let mut c = connect(o, &args[0])?;
    let current = all_flows_of_switch(&mut c)?;
    let mut wanted: HashMap<FlowKeyText, (&FlowSpec, FlowVersion)> = HashMap::new();
    for s in &specs {
        let v = FlowVersion::from_spec(s);
        wanted.insert(v.key(), (s, v));
    }
    let mut msgs = Vec::new();
    let mut have: HashMap<FlowKeyText, FlowVersion> = HashMap::new();
    for f in current {
        have.insert(f.key(), f);
    }
    for (k, f) in &have {
        if !wanted.contains_key(k) {
            let fm = FlowMod {
                table_id: f.table_id,
                command: controller_proto::flow_mod::FlowModCommand::OFPFC_DELETE_STRICT,
                priority: f.priority,
                buffer_id: controller_proto::flow_mod::OFP_NO_BUFFER,
                out_port: OFPP_ANY,
                out_group: controller_proto::action::OFPG_ANY,
                match_: crate::format::match_to_oxm(&f.match_),
                ..FlowMod::default()
            };
            msgs.push(Message::FlowMod(fm));
        }
    }
    for s in &specs {
        let v = FlowVersion::from_spec(s);
        let changed = have.get(&v.key()).is_none_or(|h| !h.same(&v));
        if changed {
            msgs.push(Message::FlowMod(s.to_flow_mod()));
        }
    }
    let n = msgs.len();
    send_batch(o, &mut c, msgs, n)
}

fn mod_port(o: &Options, args: &[String]) -> Res {
    let mut c = connect(o, &args[0])?;
    let port_no = resolve_port(&mut c, &args[1])?;
    let ports = port_list(&mut c)?;
    let port = ports.iter().find(|p| p.port_no == port_no).ok_or_else(|| {
        CliError::Message(format!("{}: couldn't find port `{}'", args[0], args[1]))
    })?;
    let (bit, set) = match args[2].to_ascii_lowercase().as_str() {
        "up" => (OFPPC_PORT_DOWN, false),
        "down" => (OFPPC_PORT_DOWN, true),
        "receive" => (OFPPC_NO_RECV, false),
        "no-receive" => (OFPPC_NO_RECV, true),
        "forward" => (OFPPC_NO_FWD, false),
        "no-forward" => (OFPPC_NO_FWD, true),
        "packet-in" => (OFPPC_NO_PACKET_IN, false),
        "no-packet-in" => (OFPPC_NO_PACKET_IN, true),
        "flood" | "no-flood" => {
            return Err(CliError::Message(
                "flood/no-flood is an OpenFlow 1.0 port setting that OpenFlow 1.3 does not have"
                    .into(),
            ))
        }
        a => {
            return Err(CliError::Message(format!(
                "unknown mod-port action \"{a}\" (expected up, down, receive, no-receive, forward, no-forward, packet-in or no-packet-in)"
            )))
        }
    };
    let pm = PortMod {
        port_no,
        hw_addr: port.hw_addr,
        config: if set { bit } else { 0 },
        mask: bit,
        advertise: 0,
    };
    let Reply { xid, outcome } = c.transact(Message::PortMod(pm))?;
    match outcome {
        Outcome::Error(e) => Err(CliError::Printed(error_text(xid, &e))),
        _ => Ok(0),
    }
}

fn packet_out(o: &Options, args: &[String]) -> Res {
    let target = &args[0];
    let rest = &args[1..];
    let (in_port_text, actions_text, packet_hex): (String, String, String) = if rest
        .first()
        .is_some_and(|a| a.contains('='))
    {
        let joined = rest.join(" ");
        let mut in_port = None;
        let mut packet = None;
        let (head, actions) = match joined.find("actions=") {
            Some(i) => (
                &joined[..i],
                Some(joined[i + "actions=".len()..].to_string()),
            ),
            None => (joined.as_str(), None),
        };
        for p in crate::flow_syntax::lex::pairs(head) {
            match p.key {
                "in_port" => in_port = Some(p.value.to_string()),
                "packet" => packet = Some(p.value.to_string()),
                k => {
                    return Err(CliError::Message(format!(
                        "unknown packet-out keyword \"{k}\" (expected in_port, packet, actions)"
                    )))
                }
            }
        }
        (
            in_port.unwrap_or_else(|| "CONTROLLER".into()),
            actions.unwrap_or_default(),
            packet.ok_or_else(|| CliError::Message("packet-out must specify packet=HEX".into()))?,
        )
    } else {
        if rest.len() < 3 {
            return Err(CliError::Message(
                "'packet-out' command requires IN_PORT ACTIONS PACKET".into(),
            ));
        }
        (rest[0].clone(), rest[1].clone(), rest[2..].join(""))
    };
    let in_port = parse_port(&in_port_text)
        .map_err(|e| CliError::Message(format!("packet-out in_port: {e}")))?;
    let (actions, _) = parse_action_list(&actions_text, &Match::catch_all(), &actions_text)?;
    let data = parse_hex(&packet_hex)?;
    if data.is_empty() {
        return Err(CliError::Message("packet-out must specify a packet".into()));
    }
    let po = PacketOut {
        buffer_id: u32::MAX,
        in_port,
        actions,
        data,
    };
    let mut c = connect(o, target)?;
    let Reply { xid, outcome } = c.transact(Message::PacketOut(po))?;
    match outcome {
        Outcome::Error(e) => Err(CliError::Printed(error_text(xid, &e))),
        _ => Ok(0),
    }
}

fn monitor(o: &Options, args: &[String], out: &mut dyn Write) -> Res {
    let mut c = connect(o, &args[0])?;
    if let Some(len) = args.get(1) {
        let miss: u16 = len
            .parse()
            .map_err(|_| CliError::Message(format!("monitor: \"{len}\" is not a miss length")))?;
        let Reply { xid, outcome } = c.transact(Message::SetConfig(SwitchConfig {
            flags: 0,
            miss_send_len: miss,
        }))?;
        if let Outcome::Error(e) = outcome {
            return Err(CliError::Printed(error_text(xid, &e)));
        }
    }
    let end = o.timeout.map(|t| Instant::now() + t);
    loop {
        let deadline = end.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        match c.poll_event_until(deadline)? {
            Some(Event::Message { xid, msg, .. }) => {
                print_reply(out, xid, &msg)?;
                out.flush()?;
            }
            Some(Event::Closed(_)) => return Ok(0),
            Some(_) => {}
            None => {
                if end.is_some() {
                    return Ok(0);
                }
            }
        }
    }
}

/// Runs `cmd` with `args`, writing its output to `out`; returns the exit
/// status (0, or 2 for `diff-flows` that found differences).
///
/// # Errors
/// A [`CliError`] for `main` to print.
pub fn run(o: &Options, cmd: &str, args: &[String], out: &mut dyn Write) -> Res {
    let strict = o.strict;
    match cmd {
        "help" => {
            out.write_all(USAGE.as_bytes())?;
            Ok(0)
        }
        "version" => {
            writeln!(out, "ofctl {} (OpenFlow 1.3)", env!("CARGO_PKG_VERSION"))?;
            Ok(0)
        }
        "ofp-print" => {
            need_args(cmd, args, 1, 2)?;
            let text = match args.get(1) {
                Some(v) => crate::offline::ofp_print_hex_verbosity(&args[0], v)?,
                None => ofp_print_hex(&args[0])?,
            };
            out.write_all(text.as_bytes())?;
            Ok(0)
        }
        "parse-flow" => {
            need_args(cmd, args, 1, 1)?;
            let f = parse_flow(FlowCommand::Add, &args[0])?;
            out.write_all(parse_flow_report(&[f])?.as_bytes())?;
            Ok(0)
        }
        "parse-flows" => {
            need_args(cmd, args, 1, 1)?;
            let text = read_source(&args[0])?;
            let flows = parse_flow_file(&args[0], &text, FlowCommand::Add)?;
            out.write_all(parse_flow_report(&flows)?.as_bytes())?;
            Ok(0)
        }
        "show" => {
            need_args(cmd, args, 1, 1)?;
            let mut c = connect(o, &args[0])?;
            let (xid, r) = request(&mut c, Message::FeaturesRequest)?;
            print_reply(out, xid, &r)?;
            let (xid, r) = request(&mut c, mp(MultipartRequestBody::PortDesc))?;
            print_reply(out, xid, &r)?;
            let (xid, r) = request(&mut c, Message::GetConfigRequest)?;
            print_reply(out, xid, &r)?;
            Ok(0)
        }
        "dump-desc" => {
            need_args(cmd, args, 1, 1)?;
            dump(o, &args[0], mp(MultipartRequestBody::Desc), out)
        }
        "dump-tables" => {
            need_args(cmd, args, 1, 1)?;
            dump(o, &args[0], mp(MultipartRequestBody::Table), out)
        }
        "dump-table-features" => {
            need_args(cmd, args, 1, 1)?;
            let mut c = connect(o, &args[0])?;
            let (xid, reply) =
                request(&mut c, mp(MultipartRequestBody::TableFeatures(Vec::new())))?;
            match &reply {
                Message::MultipartReply(MultipartReply {
                    body: MultipartReplyBody::TableFeatures(t),
                    ..
                }) => out.write_all(crate::format::table_features::dump_text(t).as_bytes())?,
                other => print_reply(out, xid, other)?,
            }
            Ok(0)
        }
        "dump-ports" => {
            need_args(cmd, args, 1, 2)?;
            let mut c = connect(o, &args[0])?;
            let port_no = match args.get(1) {
                Some(p) => resolve_port(&mut c, p)?,
                None => OFPP_ANY,
            };
            let (xid, r) = request(
                &mut c,
                mp(MultipartRequestBody::PortStats(PortStatsRequest {
                    port_no,
                })),
            )?;
            print_reply(out, xid, &r)?;
            Ok(0)
        }
        "dump-ports-desc" => {
            need_args(cmd, args, 1, 2)?;
            // OpenFlow 1.3 describes every port; like ovs-ofctl, a PORT
            // argument is checked but the whole list is printed.
            let mut c = connect(o, &args[0])?;
            if let Some(p) = args.get(1) {
                resolve_port(&mut c, p)?;
            }
            let (xid, r) = request(&mut c, mp(MultipartRequestBody::PortDesc))?;
            print_reply(out, xid, &r)?;
            Ok(0)
        }
        "mod-port" => {
            need_args(cmd, args, 3, 3)?;
            mod_port(o, args)
        }
        "dump-flows" => {
            need_args(cmd, args, 1, 2)?;
            dump_flows(o, args, out)
        }
        "dump-aggregate" => {
            need_args(cmd, args, 1, 2)?;
            let spec = parse_flow(FlowCommand::Query, args.get(1).map_or("", String::as_str))?;
            dump(
                o,
                &args[0],
                mp(MultipartRequestBody::Aggregate(spec.to_stats_request())),
                out,
            )
        }
        "queue-stats" => {
            need_args(cmd, args, 1, 3)?;
            let mut c = connect(o, &args[0])?;
            let port_no = match args.get(1) {
                Some(p) if p != "ALL" && p != "all" => resolve_port(&mut c, p)?,
                _ => OFPP_ANY,
            };
            let queue_id = match args.get(2) {
                Some(q) if q != "ALL" && q != "all" => q.parse().map_err(|_| {
                    CliError::Message(format!("queue-stats: \"{q}\" is not a queue id"))
                })?,
                _ => OFPQ_ALL,
            };
            let (xid, r) = request(
                &mut c,
                mp(MultipartRequestBody::Queue(QueueStatsRequest {
                    port_no,
                    queue_id,
                })),
            )?;
            print_reply(out, xid, &r)?;
            Ok(0)
        }
        "add-flow" | "add-flows" | "mod-flows" | "del-flows" => {
            let (min, max) = if cmd == "del-flows" { (1, 2) } else { (2, 2) };
            need_args(cmd, args, min, max)?;
            let command = match (cmd, strict) {
                ("add-flow" | "add-flows", _) => FlowCommand::Add,
                ("mod-flows", false) => FlowCommand::Modify,
                ("mod-flows", true) => FlowCommand::ModifyStrict,
                (_, false) => FlowCommand::Delete,
                (_, true) => FlowCommand::DeleteStrict,
            };
            // Port names can only be read once the switch's ports are known.
            let mut early = if o.show_names() {
                Some(connect(o, &args[0])?)
            } else {
                None
            };
            if cmd == "add-flows" {
                let text = read_source(&args[1])?;
                // Check every line first (nothing is sent for a bad file),
                // then stream: the flows are parsed again as they are sent.
                let n = validate_flow_file(&args[1], &text, command)?;
                let mut c = match early.take() {
                    Some(c) => c,
                    None => connect(o, &args[0])?,
                };
                let msgs = crate::offline::flow_lines(&text)
                    .into_iter()
                    .filter_map(|(_, line)| {
                        let (cmd, rest) = crate::offline::split_command(line, command);
                        parse_flow(cmd, rest)
                            .ok()
                            .map(|f| Message::FlowMod(f.to_flow_mod()))
                    });
                return send_batch(o, &mut c, msgs, n);
            }
            let specs = vec![parse_flow(command, args.get(1).map_or("", String::as_str))?];
            let mut c = match early.take() {
                Some(c) => c,
                None => connect(o, &args[0])?,
            };
            let n = specs.len();
            send_batch(o, &mut c, flow_mods(&specs), n)
        }
        "replace-flows" => {
            need_args(cmd, args, 2, 2)?;
            replace_flows(o, args)
        }
        "diff-flows" => {
            need_args(cmd, args, 2, 2)?;
            diff_flows(o, args, out)
        }
        "add-group" | "mod-group" | "add-groups" | "del-groups" => {
            let (min, max) = if cmd == "del-groups" { (1, 2) } else { (2, 2) };
            need_args(cmd, args, min, max)?;
            let command = match cmd {
                "mod-group" => GroupModCommand::OFPGC_MODIFY,
                "del-groups" => GroupModCommand::OFPGC_DELETE,
                _ => GroupModCommand::OFPGC_ADD,
            };
            let texts: Vec<String> = if cmd == "add-groups" {
                let text = read_source(&args[1])?;
                crate::offline::flow_lines(&text)
                    .into_iter()
                    .map(|(_, l)| l.to_string())
                    .collect()
            } else {
                vec![args.get(1).cloned().unwrap_or_default()]
            };
            let msgs = texts
                .iter()
                .map(|t| parse_group(command, t).map(Message::GroupMod))
                .collect::<Result<Vec<_>, _>>()?;
            let mut c = connect(o, &args[0])?;
            let n = msgs.len();
            send_batch(o, &mut c, msgs, n)
        }
        "dump-groups" => {
            need_args(cmd, args, 1, 2)?;
            dump(o, &args[0], mp(MultipartRequestBody::GroupDesc), out)
        }
        "dump-group-stats" => {
            need_args(cmd, args, 1, 2)?;
            let group_id = match args.get(1) {
                Some(g) => {
                    let v = g.strip_prefix("group_id=").unwrap_or(g);
                    parse_group_id(v).map_err(CliError::Message)?
                }
                None => controller_proto::action::OFPG_ALL,
            };
            dump(
                o,
                &args[0],
                mp(MultipartRequestBody::Group(GroupStatsRequest { group_id })),
                out,
            )
        }
        "dump-group-features" => {
            need_args(cmd, args, 1, 1)?;
            dump(o, &args[0], mp(MultipartRequestBody::GroupFeatures), out)
        }
        "add-meter" | "mod-meter" | "del-meter" | "del-meters" => {
            let (min, max) = match cmd {
                "del-meter" => (1, 2),
                "del-meters" => (1, 1),
                _ => (2, 2),
            };
            need_args(cmd, args, min, max)?;
            let command = match cmd {
                "add-meter" => MeterModCommand::OFPMC_ADD,
                "mod-meter" => MeterModCommand::OFPMC_MODIFY,
                _ => MeterModCommand::OFPMC_DELETE,
            };
            let mm = parse_meter(command, args.get(1).map_or("", String::as_str))?;
            let mut c = connect(o, &args[0])?;
            send_batch(o, &mut c, vec![Message::MeterMod(mm)], 1)
        }
        "dump-meters" | "meter-stats" => {
            need_args(cmd, args, 1, 2)?;
            let meter_id = match args.get(1) {
                Some(m) => {
                    let v = m.strip_prefix("meter=").unwrap_or(m);
                    parse_meter_id(v).map_err(CliError::Message)?
                }
                None => OFPM_ALL,
            };
            let req = MeterMultipartRequest { meter_id };
            let body = if cmd == "dump-meters" {
                MultipartRequestBody::MeterConfig(req)
            } else {
                MultipartRequestBody::Meter(req)
            };
            dump(o, &args[0], mp(body), out)
        }
        "meter-features" => {
            need_args(cmd, args, 1, 1)?;
            dump(o, &args[0], mp(MultipartRequestBody::MeterFeatures), out)
        }
        "packet-out" => {
            need_args(cmd, args, 2, usize::MAX)?;
            packet_out(o, args)
        }
        "monitor" => {
            need_args(cmd, args, 1, 2)?;
            monitor(o, args, out)
        }
        _ => {
            let known = [
                "show",
                "dump-desc",
                "dump-tables",
                "dump-table-features",
                "dump-ports",
                "dump-ports-desc",
                "mod-port",
                "dump-flows",
                "dump-aggregate",
                "queue-stats",
                "add-flow",
                "add-flows",
                "mod-flows",
                "del-flows",
                "replace-flows",
                "diff-flows",
                "add-group",
                "add-groups",
                "mod-group",
                "del-groups",
                "dump-groups",
                "dump-group-stats",
                "dump-group-features",
                "add-meter",
                "mod-meter",
                "del-meter",
                "del-meters",
                "dump-meters",
                "meter-stats",
                "meter-features",
                "packet-out",
                "monitor",
                "ofp-print",
                "parse-flow",
                "parse-flows",
            ];
            let hint = fields::suggest(cmd, known.into_iter())
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            Err(CliError::Message(format!(
                "unknown command '{cmd}'{hint}; use --help for help"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn options_may_come_anywhere() {
        let (o, rest) = parse_args(&args(&[
            "-O",
            "OpenFlow13",
            "del-flows",
            "--strict",
            "br0",
            "ip",
            "--timeout=5",
        ]))
        .unwrap();
        assert!(o.strict);
        assert_eq!(o.timeout, Some(Duration::from_secs(5)));
        assert_eq!(rest, args(&["del-flows", "br0", "ip"]));
        let (o, _) = parse_args(&args(&[
            "--rsort=priority",
            "--no-stats",
            "dump-flows",
            "x",
        ]))
        .unwrap();
        assert_eq!(o.sort, vec![(true, Some("priority".into()))]);
        assert!(o.no_stats);
    }

    #[test]
    fn other_protocols_and_unknown_options_are_refused() {
        assert!(parse_args(&args(&["-O", "OpenFlow10", "show", "x"])).is_err());
        assert!(parse_args(&args(&["--frobnicate", "show", "x"])).is_err());
        assert!(parse_args(&args(&["--timeout", "soon", "show", "x"])).is_err());
    }

    #[test]
    fn unknown_commands_get_a_suggestion() {
        let o = Options::default();
        let mut out = Vec::new();
        match run(&o, "dump-flow", &args(&["x"]), &mut out) {
            Err(CliError::Message(m)) => assert!(m.contains("did you mean dump-flows?"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_flow_prints_like_ovs_ofctl() {
        let o = Options::default();
        let mut out = Vec::new();
        run(
            &o,
            "parse-flow",
            &args(&["priority=100,ip,nw_dst=198.18.0.1,actions=output:2"]),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "usable protocols: any\nchosen protocol: OXM-OpenFlow13\nOFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD priority=100,ip,nw_dst=198.18.0.1 actions=output:2\n"
        );
    }
}
