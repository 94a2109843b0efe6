//! Whole OpenFlow 1.3 messages as `ovs-ofctl ofp-print` shows them: a
//! header line `NAME (OF1.3) (xid=0x..):` followed by the body in Open
//! vSwitch's notation, and `***decode error: CODE***` with a hex dump for
//! what Open vSwitch would not decode.
//!
//! [`ofp_print`] takes raw bytes (it decodes with the codec); the
//! `*_text` functions take decoded messages, so the client can print the
//! replies it already holds without encoding them again.

use controller_proto::controller::{AsyncConfig, ControllerRole, QueueGetConfigReply, QueueProp};
use controller_proto::error::{ErrorKind, ErrorMsg, ErrorType};
use controller_proto::group_mod::{Bucket, GroupModCommand, GroupType};
use controller_proto::header::{Header, MsgType, OFP_HEADER_LEN};
use controller_proto::hello::{Hello, HelloElem};
use controller_proto::message::Message;
use controller_proto::meter_mod::{
    MeterBand, MeterBandKind, MeterConfig, MeterFeatures, MeterMod, MeterModCommand, MeterStats,
    OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS, OFPM_ALL, OFPM_CONTROLLER, OFPM_SLOWPATH,
};
use controller_proto::multipart::{
    Desc, GroupFeatures, MultipartReply, MultipartReplyBody, MultipartRequest,
    MultipartRequestBody, QueueStats, OFPMPF_REPLY_MORE, OFPQ_ALL,
};
use controller_proto::packet_io::{PacketIn, PacketOut};
use controller_proto::port::{Port, PortMod, PortStats, OFPP_ANY, OFPP_MAX};
use controller_proto::stats_flow::{AggregateStatsReply, FlowStatsRequest, GroupDesc, GroupStats};
use controller_proto::switch_config::{FeaturesReply, SwitchConfig};
use controller_proto::table::{TableFeatureProp, TableFeatures, TableStats, OFPTT_ALL};

use super::actions::actions_text;
use super::matches::format_match;
use super::packet::packet_text;
use super::{duration_text, flow_mod_text, flow_stats_text, match_from_wire, FlowStatsStyle};
use crate::flow_syntax::value::{fmt_mac, port_name};

/// `ds_put_hex_dump` with ASCII: 16 bytes a line, offset, `-` after the
/// eighth byte, printable characters between bars.
pub fn hex_dump(data: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in data.chunks(16).enumerate() {
        s.push_str(&format!("{:08x}  ", i * 16));
        for (j, b) in chunk.iter().enumerate() {
            s.push_str(&format!("{b:02x}"));
            s.push(if j == 7 { '-' } else { ' ' });
        }
        for _ in chunk.len()..16 {
            s.push_str("   ");
        }
        s.push('|');
        for b in chunk {
            s.push(if (0x20..0x7f).contains(b) {
                char::from(*b)
            } else {
                '.'
            });
        }
        for _ in chunk.len()..16 {
            s.push(' ');
        }
        s.push_str("|\n");
    }
    s
}

fn type_name(t: MsgType) -> String {
    t.name()
        .map_or_else(|| format!("OFPT_UNKNOWN_{}", t.0), str::to_string)
}

fn version_tag(v: u8) -> String {
    match v {
        1 => String::new(),
        2..=6 => format!(" (OF1.{})", v - 1),
        _ => format!(" (OF 0x{v:02x})"),
    }
}

fn multipart_name(req: bool, body_name: &str) -> String {
    format!(
        "OFPST_{body_name} {}",
        if req { "request" } else { "reply" }
    )
}

fn mp_request_name(b: &MultipartRequestBody) -> &'static str {
    match b {
        MultipartRequestBody::Desc => "DESC",
        MultipartRequestBody::Flow(_) => "FLOW",
        MultipartRequestBody::Aggregate(_) => "AGGREGATE",
        MultipartRequestBody::Table => "TABLE",
        MultipartRequestBody::PortStats(_) => "PORT",
        MultipartRequestBody::Queue(_) => "QUEUE",
        MultipartRequestBody::Group(_) => "GROUP",
        MultipartRequestBody::GroupDesc => "GROUP_DESC",
        MultipartRequestBody::GroupFeatures => "GROUP_FEATURES",
        MultipartRequestBody::Meter(_) => "METER",
        MultipartRequestBody::MeterConfig(_) => "METER_CONFIG",
        MultipartRequestBody::MeterFeatures => "METER_FEATURES",
        MultipartRequestBody::TableFeatures(_) => "TABLE_FEATURES",
        MultipartRequestBody::PortDesc => "PORT_DESC",
        MultipartRequestBody::Experimenter(_) => "EXPERIMENTER",
    }
}

fn mp_reply_name(b: &MultipartReplyBody) -> &'static str {
    match b {
        MultipartReplyBody::Desc(_) => "DESC",
        MultipartReplyBody::Flow(_) => "FLOW",
        MultipartReplyBody::Aggregate(_) => "AGGREGATE",
        MultipartReplyBody::Table(_) => "TABLE",
        MultipartReplyBody::PortStats(_) => "PORT",
        MultipartReplyBody::Queue(_) => "QUEUE",
        MultipartReplyBody::Group(_) => "GROUP",
        MultipartReplyBody::GroupDesc(_) => "GROUP_DESC",
        MultipartReplyBody::GroupFeatures(_) => "GROUP_FEATURES",
        MultipartReplyBody::Meter(_) => "METER",
        MultipartReplyBody::MeterConfig(_) => "METER_CONFIG",
        MultipartReplyBody::MeterFeatures(_) => "METER_FEATURES",
        MultipartReplyBody::TableFeatures(_) => "TABLE_FEATURES",
        MultipartReplyBody::PortDesc(_) => "PORT_DESC",
        MultipartReplyBody::Experimenter(_) => "EXPERIMENTER",
    }
}

/// The name `ovs-ofctl` gives a message (`OFPT_FLOW_MOD`, `OFPST_FLOW reply`).
pub fn message_name(m: &Message) -> String {
    match m {
        Message::MultipartRequest(r) => multipart_name(true, mp_request_name(&r.body)),
        Message::MultipartReply(r) => multipart_name(false, mp_reply_name(&r.body)),
        other => type_name(other.msg_type()),
    }
}

/// The header line prefix: `NAME (OF1.3) (xid=0x5):`.
pub fn header_text(name: &str, version: u8, xid: u32) -> String {
    format!("{name}{} (xid={xid:#x}):", version_tag(version))
}

/// An error's name as `ovs-ofctl` prints it.
pub fn error_name(kind: ErrorKind) -> String {
    if let Some(n) = kind.code_name() {
        return n.to_string();
    }
    match kind {
        ErrorKind::Experimenter {
            exp_type,
            experimenter,
        } => match (experimenter, exp_type) {
            (0x2320, 3) => "NXBRC_NXM_BAD_TYPE".to_string(),
            _ => format!("OFPET_EXPERIMENTER(experimenter={experimenter:#x},exp_type={exp_type})"),
        },
        k => {
            let (ty, code) = k.to_wire();
            match ErrorType(ty).name() {
                Some(t) => format!("{t}(code={code})"),
                None => format!("OFPET_{ty}(code={code})"),
            }
        }
    }
}

/// Prints the raw bytes of one message (or a decode error) as
/// `ovs-ofctl ofp-print` does, verbosity 2; the text ends with a newline.
pub fn ofp_print(bytes: &[u8]) -> String {
    print_at(bytes, 2)
}

/// [`ofp_print`] at another verbosity (`ofp-print HEX VERBOSITY`): below 2,
/// echo payloads are not dumped.
pub fn ofp_print_verbosity(bytes: &[u8], verbosity: u8) -> String {
    print_at(bytes, verbosity)
}

fn decode_error_dump(prefix: &str, kind: &str, bytes: &[u8]) -> String {
    let mut s = String::from(prefix);
    if !s.is_empty() {
        s.push(' ');
    }
    s.push_str(&format!("***decode error: {kind}***\n"));
    s.push_str(&hex_dump(bytes));
    s
}

fn print_at(bytes: &[u8], verbosity: u8) -> String {
    if bytes.len() < OFP_HEADER_LEN {
        return format!(
            "OpenFlow packet too short (only {} bytes):\n{}",
            bytes.len(),
            hex_dump(bytes)
        );
    }
    let Ok(header) = Header::decode(bytes) else {
        return decode_error_dump("", "OFPBRC_BAD_LEN", bytes);
    };
    if usize::from(header.length) != bytes.len() {
        return format!(
            "(***truncated to {} bytes from {}***)\n{}",
            bytes.len(),
            header.length,
            hex_dump(bytes)
        );
    }
    if !header.msg_type.is_known() {
        return decode_error_dump("", "OFPBRC_BAD_TYPE", bytes);
    }
    let head = header_text(&type_name(header.msg_type), header.version, header.xid);
    let msg = match Message::decode(bytes) {
        Ok((_, m)) => m,
        Err(e) => return decode_error_dump(&head, &error_name(e.kind()), bytes),
    };
    // Experimenter messages of vendors Open vSwitch does not know.
    match &msg {
        Message::Experimenter(_) => return decode_error_dump("", "OFPBRC_BAD_VENDOR", bytes),
        Message::MultipartRequest(MultipartRequest {
            body: MultipartRequestBody::Experimenter(_),
            ..
        })
        | Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Experimenter(_),
            ..
        }) => return decode_error_dump("", "OFPBRC_BAD_VENDOR", bytes),
        Message::MeterMod(mm)
            if mm
                .bands
                .iter()
                .any(|b| matches!(b.kind, MeterBandKind::Experimenter { .. })) =>
        {
            return decode_error_dump(&head, "OFPMMFC_BAD_BAND", bytes)
        }
        _ => {}
    }
    let mut s = header_text(&message_name(&msg), header.version, header.xid);
    match &msg {
        Message::Hello(h) => s.push_str(&hello_text(h, bytes)),
        m => s.push_str(&body_text(m, verbosity)),
    }
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The text after the header line's colon for a decoded message.
pub fn body_text(msg: &Message, verbosity: u8) -> String {
    match msg {
        Message::Hello(h) => hello_text(h, &msg.encode(0)),
        Message::Error(e) => error_text(e),
        Message::EchoRequest(d) | Message::EchoReply(d) => {
            let mut s = format!(" {} bytes of payload\n", d.len());
            if verbosity > 1 {
                s.push_str(&hex_dump(d));
            }
            s
        }
        Message::Experimenter(e) => format!(
            " experimenter={:#x} exp_type={} data_len={}",
            e.experimenter,
            e.exp_type,
            e.data.len()
        ),
        Message::FeaturesRequest
        | Message::GetConfigRequest
        | Message::BarrierRequest
        | Message::BarrierReply
        | Message::GetAsyncRequest => String::new(),
        Message::FeaturesReply(f) => features_text(f),
        Message::GetConfigReply(c) | Message::SetConfig(c) => config_text(c),
        Message::PacketIn(p) => packet_in_text(p),
        Message::FlowRemoved(fr) => {
            let m = match_from_wire(&fr.match_);
            let mut s = format!(" {}", format_match(&m, Some(fr.priority)));
            let reason = match fr.reason.0 {
                0 => "idle".to_string(),
                1 => "hard".to_string(),
                2 => "delete".to_string(),
                3 => "group_delete".to_string(),
                4 => "meter_delete".to_string(),
                5 => "eviction".to_string(),
                r => r.to_string(),
            };
            s.push_str(&format!(" reason={reason} table_id={}", fr.table_id));
            if fr.cookie != 0 {
                s.push_str(&format!(" cookie:{:#x}", fr.cookie));
            }
            s.push_str(&format!(
                " duration{} idle{}",
                duration_text(fr.duration_sec, fr.duration_nsec),
                fr.idle_timeout
            ));
            if fr.hard_timeout != 0 {
                s.push_str(&format!(" hard{}", fr.hard_timeout));
            }
            s.push_str(&format!(" pkts{} bytes{}", fr.packet_count, fr.byte_count));
            s
        }
        Message::PortStatus(ps) => {
            let reason = match ps.reason.0 {
                0 => "ADD:".to_string(),
                1 => "DEL:".to_string(),
                2 => "MOD:".to_string(),
                r => format!("reason {r}:"),
            };
            format!(" {reason}{}", port_text(&ps.desc))
        }
        Message::PacketOut(po) => packet_out_text(po),
        Message::FlowMod(fm) => flow_mod_text(fm),
        Message::GroupMod(gm) => {
            let cmd = match gm.command {
                GroupModCommand(0) => "ADD",
                GroupModCommand(1) => "MOD",
                GroupModCommand(2) => "DEL",
                GroupModCommand(_) => "cmd:?",
            };
            format!(
                "\n {cmd} {}",
                group_text(gm.group_id, gm.group_type, &gm.buckets, gm.command.0 == 2)
            )
        }
        Message::PortMod(pm) => port_mod_text(pm),
        Message::TableMod(tm) => {
            if tm.table_id == OFPTT_ALL {
                " table_id: ALL_TABLES".to_string()
            } else {
                format!(" table_id={}", tm.table_id)
            }
        }
        Message::MultipartRequest(r) => mp_request_text(r),
        Message::MultipartReply(r) => mp_reply_text(r, FlowStatsStyle::default()),
        Message::QueueGetConfigRequest(q) => format!(" port={}", port_name(q.port)),
        Message::QueueGetConfigReply(q) => queue_config_text(q),
        Message::RoleRequest(r) | Message::RoleReply(r) => {
            let role = match r.role {
                ControllerRole(0) => "nochange",
                ControllerRole(1) => "equal",
                ControllerRole(2) => "primary",
                ControllerRole(3) => "secondary",
                ControllerRole(_) => "?",
            };
            if r.role.0 == 0 || r.role.0 == 1 {
                format!(" role={role}")
            } else {
                format!(" role={role} generation_id={}", r.generation_id)
            }
        }
        Message::GetAsyncReply(a) | Message::SetAsync(a) => async_text(a),
        Message::MeterMod(mm) => meter_mod_text(mm),
    }
}

fn hello_text(h: &Hello, raw: &[u8]) -> String {
    let mut bitmap: u32 = 0;
    let mut unknown = false;
    let mut have_bitmap = false;
    for e in &h.elements {
        match e {
            HelloElem::VersionBitmap(words) => {
                have_bitmap = true;
                bitmap = words.first().copied().unwrap_or(0);
            }
            HelloElem::Unknown { .. } => unknown = true,
        }
    }
    if !have_bitmap {
        bitmap = 0x1e;
    }
    let versions: Vec<String> = (0..32)
        .filter(|b| bitmap >> b & 1 != 0)
        .map(|b| format!("0x{b:02x}"))
        .collect();
    let mut s = format!("\n version bitmap: {}\n", versions.join(", "));
    if unknown {
        s.push_str(" unknown data in hello:\n");
        s.push_str(&hex_dump(raw));
    }
    s
}

fn error_text(e: &ErrorMsg) -> String {
    let mut s = format!(" {}\n", error_name(e.kind));
    if matches!(e.kind, ErrorKind::HelloFailed(_)) {
        s.push_str(&String::from_utf8_lossy(&e.data));
        return s;
    }
    s.push_str(&print_at(&e.data, 1));
    s
}

fn capabilities_text(c: u32) -> String {
    let names = [
        (1 << 0, "FLOW_STATS"),
        (1 << 1, "TABLE_STATS"),
        (1 << 2, "PORT_STATS"),
        (1 << 3, "GROUP_STATS"),
        (1 << 5, "IP_REASM"),
        (1 << 6, "QUEUE_STATS"),
        (1 << 8, "PORT_BLOCKED"),
    ];
    names
        .iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

fn features_text(f: &FeaturesReply) -> String {
    format!(
        " dpid:{:016x}\nn_tables:{}, n_buffers:{}\ncapabilities: {}\n",
        f.datapath_id,
        f.n_tables,
        f.n_buffers,
        capabilities_text(f.capabilities)
    )
}

fn config_text(c: &SwitchConfig) -> String {
    let frags = match c.flags & 3 {
        0 => "normal",
        1 => "drop",
        2 => "reassemble",
        _ => "nx-match",
    };
    format!(" frags={frags} miss_send_len={}", c.miss_send_len)
}

fn packet_in_text(p: &PacketIn) -> String {
    let mut s = String::from(" ");
    if p.table_id != 0 {
        s.push_str(&format!("table_id={} ", p.table_id));
    }
    if p.cookie != u64::MAX {
        s.push_str(&format!("cookie={:#x} ", p.cookie));
    }
    s.push_str(&format!("total_len={} ", p.total_len));
    s.push_str(&format_match(&match_from_wire(&p.match_), None));
    let reason = match p.reason.0 {
        0 => "no_match".to_string(),
        1 => "action".to_string(),
        2 => "invalid_ttl".to_string(),
        r => r.to_string(),
    };
    s.push_str(&format!(" (via {reason}) data_len={}", p.data.len()));
    if p.buffer_id == u32::MAX {
        s.push_str(" (unbuffered)");
    } else {
        s.push_str(&format!(" buffer={:#010x}", p.buffer_id));
    }
    s.push('\n');
    if !p.data.is_empty() {
        s.push_str(&packet_text(&p.data));
        s.push('\n');
    }
    s
}

fn packet_out_text(po: &PacketOut) -> String {
    let mut s = format!(
        " in_port={} actions={}",
        port_name(po.in_port),
        actions_text(&po.actions)
    );
    if po.buffer_id != u32::MAX {
        s.push_str(&format!(" buffer={:#010x}", po.buffer_id));
    } else {
        s.push_str(&format!(" data_len={}\n", po.data.len()));
        if !po.data.is_empty() {
            s.push_str(&packet_text(&po.data));
            s.push('\n');
        }
    }
    s
}

const PORT_CONFIG_NAMES: &[(u32, &str)] = &[
    (1 << 0, "PORT_DOWN"),
    (1 << 2, "NO_RECV"),
    (1 << 5, "NO_FWD"),
    (1 << 6, "NO_PACKET_IN"),
];

const PORT_STATE_NAMES: &[(u32, &str)] =
    &[(1 << 0, "LINK_DOWN"), (1 << 1, "BLOCKED"), (1 << 2, "LIVE")];

const PORT_FEATURE_NAMES: &[(u32, &str)] = &[
    (1 << 0, "10MB-HD"),
    (1 << 1, "10MB-FD"),
    (1 << 2, "100MB-HD"),
    (1 << 3, "100MB-FD"),
    (1 << 4, "1GB-HD"),
    (1 << 5, "1GB-FD"),
    (1 << 6, "10GB-FD"),
    (1 << 7, "40GB-FD"),
    (1 << 8, "100GB-FD"),
    (1 << 9, "1TB-FD"),
    (1 << 10, "OTHER"),
    (1 << 11, "COPPER"),
    (1 << 12, "FIBER"),
    (1 << 13, "AUTO_NEG"),
    (1 << 14, "AUTO_PAUSE"),
    (1 << 15, "AUTO_PAUSE_ASYM"),
];

fn bits_text(v: u32, names: &[(u32, &str)]) -> String {
    if v == 0 {
        return "0".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut rest = v;
    for (b, n) in names {
        if v & b != 0 {
            parts.push((*n).to_string());
            rest &= !b;
        }
    }
    for bit in 0..32 {
        if rest >> bit & 1 != 0 {
            parts.push(format!("0x{:x}", 1u32 << bit));
        }
    }
    parts.join(" ")
}

/// One port as `show` and `dump-ports-desc` print it (from the port
/// number to the speed line).
pub fn port_text(p: &Port) -> String {
    let number = if p.port_no < OFPP_MAX {
        p.port_no.to_string()
    } else {
        port_name(p.port_no)
    };
    let mut s = format!(
        " {}({}): addr:{}\n",
        number,
        p.name.to_string_lossy(),
        fmt_mac(
            p.hw_addr
                .iter()
                .fold(0u128, |a, b| (a << 8) | u128::from(*b))
        )
    );
    s.push_str(&format!(
        "     config:     {}\n",
        bits_text(p.config, PORT_CONFIG_NAMES)
    ));
    s.push_str(&format!(
        "     state:      {}\n",
        bits_text(p.state, PORT_STATE_NAMES)
    ));
    for (v, label) in [
        (p.curr, "current:   "),
        (p.advertised, "advertised:"),
        (p.supported, "supported: "),
        (p.peer, "peer:      "),
    ] {
        if v != 0 {
            s.push_str(&format!(
                "     {label} {}\n",
                bits_text(v, PORT_FEATURE_NAMES)
            ));
        }
    }
    if p.curr_speed != 0 || p.max_speed != 0 {
        s.push_str(&format!(
            "     speed: {} Mbps now, {} Mbps max\n",
            p.curr_speed / 1000,
            p.max_speed / 1000
        ));
    }
    s
}

fn port_mod_text(pm: &PortMod) -> String {
    let mac = fmt_mac(
        pm.hw_addr
            .iter()
            .fold(0u128, |a, b| (a << 8) | u128::from(*b)),
    );
    let mut s = format!(" port: {}: addr:{mac}\n", port_name(pm.port_no));
    s.push_str(&format!(
        "     config: {}\n",
        bits_text(pm.config, PORT_CONFIG_NAMES)
    ));
    s.push_str(&format!(
        "     mask:   {}\n",
        bits_text(pm.mask, PORT_CONFIG_NAMES)
    ));
    if pm.advertise == 0 {
        s.push_str("     advertise: UNCHANGED\n");
    } else {
        s.push_str(&format!(
            "     advertise: {}\n",
            bits_text(pm.advertise, PORT_FEATURE_NAMES)
        ));
    }
    s
}

/// A group as `dump-groups` prints it: `group_id=1,type=select,bucket=...`.
pub fn group_text(group_id: u32, ty: GroupType, buckets: &[Bucket], is_delete: bool) -> String {
    let tname = match ty.0 {
        0 => "all".to_string(),
        1 => "select".to_string(),
        2 => "indirect".to_string(),
        3 => "ff".to_string(),
        t => format!("{t}"),
    };
    let id = match group_id {
        0xffff_fffc if !is_delete => "ALL".to_string(),
        0xffff_ffff if !is_delete => "ANY".to_string(),
        g => g.to_string(),
    };
    let mut s = format!("group_id={id},type={tname}");
    let select = ty.0 == 1;
    for b in buckets {
        s.push_str(",bucket=");
        if (select && b.weight != 1) || (!select && b.weight != 0) {
            s.push_str(&format!("weight:{},", b.weight));
        }
        if b.watch_port != OFPP_ANY {
            s.push_str(&format!("watch_port:{},", port_name(b.watch_port)));
        }
        if b.watch_group != u32::MAX {
            s.push_str(&format!("watch_group:{},", b.watch_group));
        }
        s.push_str("actions=");
        s.push_str(&actions_text(&b.actions));
    }
    s
}

fn meter_id_text(id: u32) -> String {
    match id {
        OFPM_ALL => "all".to_string(),
        OFPM_CONTROLLER => "controller".to_string(),
        OFPM_SLOWPATH => "slowpath".to_string(),
        i => i.to_string(),
    }
}

fn meter_flags_text(flags: u16) -> String {
    let mut s = String::new();
    for (b, n) in [
        (OFPMF_KBPS, "kbps"),
        (OFPMF_PKTPS, "pktps"),
        (OFPMF_BURST, "burst"),
        (OFPMF_STATS, "stats"),
    ] {
        if flags & b != 0 {
            s.push_str(n);
            s.push(' ');
        }
    }
    s
}

fn band_text(b: &MeterBand, flags: u16) -> String {
    let mut s = match &b.kind {
        MeterBandKind::Drop => "type=drop".to_string(),
        MeterBandKind::DscpRemark { .. } => "type=dscp_remark".to_string(),
        MeterBandKind::Experimenter { experimenter, .. } => {
            format!("type=experimenter({experimenter:#x})")
        }
    };
    s.push_str(&format!(" rate={}", b.rate));
    if flags & OFPMF_BURST != 0 {
        s.push_str(&format!(" burst_size={}", b.burst_size));
    }
    if let MeterBandKind::DscpRemark { prec_level } = b.kind {
        s.push_str(&format!(" prec_level={prec_level}"));
    }
    s
}

/// A meter's configuration as `dump-meters` prints it.
pub fn meter_config_text(m: &MeterConfig) -> String {
    let mut s = format!(
        "meter={} {}bands=\n",
        meter_id_text(m.meter_id),
        meter_flags_text(m.flags)
    );
    for b in &m.bands {
        s.push_str(&band_text(b, m.flags));
        s.push('\n');
    }
    s
}

fn meter_mod_text(mm: &MeterMod) -> String {
    let cmd = match mm.command {
        MeterModCommand(0) => "ADD".to_string(),
        MeterModCommand(1) => "MOD".to_string(),
        MeterModCommand(2) => "DEL".to_string(),
        MeterModCommand(c) => format!("cmd:{c}"),
    };
    let cfg = MeterConfig {
        flags: mm.flags,
        meter_id: mm.meter_id,
        bands: mm.bands.clone(),
    };
    format!(" {cmd} {}", meter_config_text(&cfg))
}

/// A meter's statistics as `meter-stats` prints them.
pub fn meter_stats_text(m: &MeterStats) -> String {
    let mut s = format!(
        "meter:{} flow_count:{} packet_in_count:{} byte_in_count:{} duration:{} bands:\n",
        meter_id_text(m.meter_id),
        m.flow_count,
        m.packet_in_count,
        m.byte_in_count,
        duration_text(m.duration_sec, m.duration_nsec)
    );
    for (i, b) in m.band_stats.iter().enumerate() {
        s.push_str(&format!(
            "{i}: packet_count:{} byte_count:{}\n",
            b.packet_band_count, b.byte_band_count
        ));
    }
    s
}

fn meter_features_text(f: &MeterFeatures) -> String {
    let mut s = format!(
        "\nmax_meter:{} max_bands:{} max_color:{}\n",
        f.max_meter, f.max_bands, f.max_color
    );
    let mut types = Vec::new();
    if f.band_types & (1 << 1) != 0 {
        types.push("drop");
    }
    if f.band_types & (1 << 2) != 0 {
        types.push("dscp_remark");
    }
    s.push_str(&format!("band_types: {}\n", types.join(" ")));
    let flags = meter_flags_text(u16::try_from(f.capabilities & 0xffff).unwrap_or(0));
    s.push_str(&format!("capabilities: {}\n", flags.trim_end()));
    s
}

fn flow_request_text(r: &FlowStatsRequest) -> String {
    let mut s = String::new();
    if r.table_id != OFPTT_ALL {
        s.push_str(&format!(" table={}", r.table_id));
    }
    if r.out_port != OFPP_ANY {
        s.push_str(&format!(" out_port={}", port_name(r.out_port)));
    }
    let m = format_match(&match_from_wire(&r.match_), None);
    if !m.is_empty() {
        s.push(' ');
        s.push_str(&m);
    }
    s
}

fn mp_request_text(r: &MultipartRequest) -> String {
    let mut s = String::new();
    if r.flags != 0 {
        s.push_str(&format!(" ***unknown flags 0x{:04x}***", r.flags));
    }
    match &r.body {
        MultipartRequestBody::Flow(f) | MultipartRequestBody::Aggregate(f) => {
            s.push_str(&flow_request_text(f));
        }
        MultipartRequestBody::PortStats(p) => {
            s.push_str(&format!(" port_no={}", port_name(p.port_no)));
        }
        MultipartRequestBody::PortDesc => s.push_str(" port=ANY"),
        MultipartRequestBody::Queue(q) => {
            let queue = if q.queue_id == OFPQ_ALL {
                "ALL".to_string()
            } else {
                q.queue_id.to_string()
            };
            s.push_str(&format!(" port={} queue={queue}", port_name(q.port_no)));
        }
        MultipartRequestBody::Group(g) => {
            s.push_str(&format!(" group_id={}", group_id_text(g.group_id)));
        }
        MultipartRequestBody::GroupDesc => s.push_str(" group_id=ALL"),
        MultipartRequestBody::Meter(m) | MultipartRequestBody::MeterConfig(m) => {
            s.push_str(&format!(" meter={}", meter_id_text(m.meter_id)));
        }
        MultipartRequestBody::TableFeatures(t) => {
            for tf in t {
                s.push('\n');
                s.push_str(&table_features_text(tf, None));
            }
        }
        _ => {}
    }
    s
}

fn group_id_text(g: u32) -> String {
    match g {
        0xffff_fffc => "ALL".to_string(),
        0xffff_ffff => "ANY".to_string(),
        g => g.to_string(),
    }
}

fn stat(v: u64) -> String {
    if v == u64::MAX {
        "?".to_string()
    } else {
        v.to_string()
    }
}

/// One port's counters as `dump-ports` prints them (three lines).
pub fn port_stats_text(p: &PortStats) -> String {
    let mut s = String::from("  port ");
    let name = port_name(p.port_no);
    if p.port_no < 10 {
        s.push(' ');
    }
    s.push_str(&name);
    s.push_str(&format!(
        ": rx pkts={}, bytes={}, drop={}, errs={}, frame={}, over={}, crc={}\n",
        stat(p.rx_packets),
        stat(p.rx_bytes),
        stat(p.rx_dropped),
        stat(p.rx_errors),
        stat(p.rx_frame_err),
        stat(p.rx_over_err),
        stat(p.rx_crc_err)
    ));
    s.push_str(&format!(
        "           tx pkts={}, bytes={}, drop={}, errs={}, coll={}\n",
        stat(p.tx_packets),
        stat(p.tx_bytes),
        stat(p.tx_dropped),
        stat(p.tx_errors),
        stat(p.collisions)
    ));
    if p.duration_sec != u32::MAX {
        s.push_str(&format!(
            "           duration={}\n",
            duration_text(p.duration_sec, p.duration_nsec)
        ));
    }
    s
}

fn queue_stats_text(q: &QueueStats) -> String {
    let mut s = format!("  port {} queue ", port_name(q.port_no));
    if q.queue_id == OFPQ_ALL {
        s.push_str("ALL");
    } else {
        s.push_str(&q.queue_id.to_string());
    }
    s.push_str(&format!(
        ": bytes={}, pkts={}, errors={}, duration={}\n",
        stat(q.tx_bytes),
        stat(q.tx_packets),
        stat(q.tx_errors),
        duration_text(q.duration_sec, q.duration_nsec)
    ));
    s
}

fn table_stats_text(tables: &[TableStats]) -> String {
    let mut s = String::new();
    let same = |a: &TableStats, b: &TableStats| {
        (a.active_count, a.lookup_count, a.matched_count)
            == (b.active_count, b.lookup_count, b.matched_count)
    };
    let flush = |s: &mut String, run: &mut Option<(u8, u8)>| {
        if let Some((a, b)) = run.take() {
            if a == b {
                s.push_str(&format!("\n  table {a}: ditto\n"));
            } else {
                s.push_str(&format!("\n  tables {a}...{b}: ditto\n"));
            }
        }
    };
    let mut run: Option<(u8, u8)> = None;
    let mut prev: Option<&TableStats> = None;
    for t in tables {
        if prev.is_some_and(|p| same(p, t)) {
            run = Some(run.map_or((t.table_id, t.table_id), |(a, _)| (a, t.table_id)));
        } else {
            flush(&mut s, &mut run);
            s.push_str(&format!(
                "\n  table {}:\n    active={}, lookup={}, matched={}\n",
                t.table_id, t.active_count, t.lookup_count, t.matched_count
            ));
        }
        prev = Some(t);
    }
    flush(&mut s, &mut run);
    s
}

fn group_stats_text(g: &GroupStats) -> String {
    let mut s = format!(
        " group_id={},duration={},ref_count={},packet_count={},byte_count={}",
        g.group_id,
        duration_text(g.duration_sec, g.duration_nsec),
        g.ref_count,
        stat(g.packet_count),
        stat(g.byte_count)
    );
    for (i, b) in g.bucket_stats.iter().enumerate() {
        s.push_str(&format!(
            ",bucket{i}:packet_count={},byte_count={}",
            stat(b.packet_count),
            stat(b.byte_count)
        ));
    }
    s.push('\n');
    s
}

fn group_desc_text(g: &GroupDesc) -> String {
    format!(
        " {}\n",
        group_text(g.group_id, g.group_type, &g.buckets, false)
    )
}

fn action_bits_text(bits: u32) -> String {
    OFPACT_ORDER
        .iter()
        .filter(|(t, _)| bits >> t & 1 != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

fn group_features_text(g: &GroupFeatures) -> String {
    let mut s = format!(
        "\n Group table:\n    Types:  {:#x}\n    Capabilities:  {:#x}\n",
        g.types, g.capabilities
    );
    for (i, name) in ["all", "select", "indirect", "fast failover"]
        .iter()
        .enumerate()
    {
        if g.types >> i & 1 != 0 {
            s.push_str(&format!(
                "    {name} group:\n       max_groups={:#x}\n       actions: {}\n",
                g.max_groups[i],
                action_bits_text(g.actions[i])
            ));
        }
    }
    s
}

fn desc_text(d: &Desc) -> String {
    format!(
        "\nManufacturer: {}\nHardware: {}\nSoftware: {}\nSerial Num: {}\nDP Description: {}\n",
        d.mfr_desc.to_string_lossy(),
        d.hw_desc.to_string_lossy(),
        d.sw_desc.to_string_lossy(),
        d.serial_num.to_string_lossy(),
        d.dp_desc.to_string_lossy()
    )
}

fn aggregate_text(a: &AggregateStatsReply) -> String {
    format!(
        " packet_count={} byte_count={} flow_count={}",
        a.packet_count, a.byte_count, a.flow_count
    )
}

/// The body of a multipart reply as `ofp-print` shows it.
pub fn mp_reply_text(r: &MultipartReply, style: FlowStatsStyle) -> String {
    let mut s = String::new();
    if r.flags != 0 {
        s.push_str(" flags=");
        if r.flags & OFPMPF_REPLY_MORE != 0 {
            s.push_str("[more]");
        }
        let rest = r.flags & !OFPMPF_REPLY_MORE;
        if rest != 0 {
            s.push_str(&format!("[***unknown flags 0x{rest:04x}***]"));
        }
    }
    match &r.body {
        MultipartReplyBody::Desc(d) => s.push_str(&desc_text(d)),
        MultipartReplyBody::Flow(entries) => {
            for e in entries {
                s.push_str("\n ");
                s.push_str(&flow_stats_text(e, style));
            }
        }
        MultipartReplyBody::Aggregate(a) => s.push_str(&aggregate_text(a)),
        MultipartReplyBody::Table(t) => s.push_str(&table_stats_text(t)),
        MultipartReplyBody::PortStats(p) => {
            s.push_str(&format!(" {} ports\n", p.len()));
            for ps in p {
                s.push_str(&port_stats_text(ps));
            }
        }
        MultipartReplyBody::Queue(q) => {
            s.push_str(&format!(" {} queues\n", q.len()));
            for qs in q {
                s.push_str(&queue_stats_text(qs));
            }
        }
        MultipartReplyBody::Group(g) => {
            s.push('\n');
            for gs in g {
                s.push_str(&group_stats_text(gs));
            }
        }
        MultipartReplyBody::GroupDesc(g) => {
            s.push('\n');
            for gd in g {
                s.push_str(&group_desc_text(gd));
            }
        }
        MultipartReplyBody::GroupFeatures(g) => s.push_str(&group_features_text(g)),
        MultipartReplyBody::Meter(m) => {
            s.push('\n');
            for ms in m {
                s.push_str(&meter_stats_text(ms));
            }
        }
        MultipartReplyBody::MeterConfig(m) => {
            s.push('\n');
            for mc in m {
                s.push_str(&meter_config_text(mc));
            }
        }
        MultipartReplyBody::MeterFeatures(f) => s.push_str(&meter_features_text(f)),
        MultipartReplyBody::TableFeatures(t) => {
            s.push_str(&super::table_features::reply_text(t));
        }
        MultipartReplyBody::PortDesc(ports) => {
            s.push('\n');
            let mut sorted: Vec<&Port> = ports.iter().collect();
            sorted.sort_by_key(|p| p.port_no);
            for p in sorted {
                s.push_str(&port_text(p));
            }
        }
        MultipartReplyBody::Experimenter(e) => {
            s.push_str(&format!(" experimenter={:#x}", e.experimenter));
        }
    }
    s
}

fn queue_config_text(q: &QueueGetConfigReply) -> String {
    let mut s = format!(" port={}\n", port_name(q.port));
    for pq in &q.queues {
        s.push_str(&format!("queue {}:", pq.queue_id));
        for p in &pq.properties {
            match p {
                QueueProp::MinRate(r) => s.push_str(&rate_text("min_rate", *r)),
                QueueProp::MaxRate(r) => s.push_str(&rate_text("max_rate", *r)),
                _ => {}
            }
        }
        s.push('\n');
    }
    s
}

fn rate_text(name: &str, r: u16) -> String {
    if r > 1000 {
        format!(" {name}:disabled")
    } else {
        format!(" {name}:{}.{}%", r / 10, r % 10)
    }
}

fn async_text(a: &AsyncConfig) -> String {
    let mut s = String::from("\n");
    for (i, role) in ["primary", "secondary"].iter().enumerate() {
        s.push_str(&format!(" {role}:\n"));
        let pi = a.packet_in_mask[i];
        let ps = a.port_status_mask[i];
        let fr = a.flow_removed_mask[i];
        let list = |v: u32, names: &[&str]| -> String {
            let parts: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(b, _)| v >> b & 1 != 0)
                .map(|(_, n)| *n)
                .collect();
            if parts.is_empty() {
                "(off)".to_string()
            } else {
                parts.join(" ")
            }
        };
        s.push_str(&format!(
            "       PACKET_IN: {}\n",
            list(pi, &["no_match", "action", "invalid_ttl"])
        ));
        s.push_str(&format!(
            "     PORT_STATUS: {}\n",
            list(ps, &["add", "delete", "modify"])
        ));
        s.push_str(&format!(
            "    FLOW_REMOVED: {}\n",
            list(fr, &["idle", "hard", "delete", "group_delete"])
        ));
        s.push_str("     ROLE_STATUS: (off)\n    TABLE_STATUS: (off)\n  REQUESTFORWARD: (off)\n");
        if i == 0 {
            s.push('\n');
        }
    }
    s
}

fn instruction_names(ids: &[controller_proto::table::TypeLenId]) -> String {
    let names: Vec<&str> = ids
        .iter()
        .map(|i| match i.ty {
            1 => "goto_table",
            2 => "write_metadata",
            3 => "write_actions",
            4 => "apply_actions",
            5 => "clear_actions",
            6 => "meter",
            _ => "experimenter",
        })
        .collect();
    // Open vSwitch lists them in its own order.
    let order = [
        "meter",
        "apply_actions",
        "clear_actions",
        "write_actions",
        "write_metadata",
        "goto_table",
        "experimenter",
    ];
    order
        .iter()
        .filter(|n| names.contains(n))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Open vSwitch's names of OpenFlow 1.3 action types, in the order it
/// lists its own actions.
const OFPACT_ORDER: &[(u16, &str)] = &[
    (0, "output"),
    (22, "group"),
    (25, "set_field"),
    (18, "strip_vlan"),
    (17, "push_vlan"),
    (23, "mod_nw_ttl"),
    (24, "dec_ttl"),
    (15, "set_mpls_ttl"),
    (16, "dec_mpls_ttl"),
    (19, "push_mpls"),
    (20, "pop_mpls"),
    (21, "set_queue"),
];

fn action_id_names(ids: &[controller_proto::table::TypeLenId]) -> String {
    OFPACT_ORDER
        .iter()
        .filter(|(t, _)| ids.iter().any(|i| i.ty == *t))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

fn table_features_text(t: &TableFeatures, _prev: Option<&TableFeatures>) -> String {
    let mut s = format!(
        "  table {} (\"{}\"):\n",
        t.table_id,
        t.name.to_string_lossy()
    );
    s.push_str(&format!(
        "    metadata: match={:#x} write={:#x}\n",
        t.metadata_match, t.metadata_write
    ));
    s.push_str(&format!("    max_entries={}\n", t.max_entries));
    for miss in [false, true] {
        s.push_str(if miss {
            "    instructions (table miss):\n"
        } else {
            "    instructions (other than table miss):\n"
        });
        for p in &t.properties {
            if let TableFeatureProp::NextTables { miss: m, tables } = p {
                if *m == miss {
                    s.push_str(&format!("      next tables: {}\n", ranges_text(tables)));
                }
            }
        }
        for p in &t.properties {
            if let TableFeatureProp::Instructions { miss: m, ids } = p {
                if *m == miss {
                    s.push_str(&format!("      instructions: {}\n", instruction_names(ids)));
                }
            }
        }
        let write = t.properties.iter().find_map(|p| match p {
            TableFeatureProp::WriteActions { miss: m, ids } if *m == miss => Some(ids),
            _ => None,
        });
        let apply = t.properties.iter().find_map(|p| match p {
            TableFeatureProp::ApplyActions { miss: m, ids } if *m == miss => Some(ids),
            _ => None,
        });
        match (write, apply) {
            (Some(w), Some(a)) if action_id_names(w) == action_id_names(a) => {
                s.push_str("      Write-Actions and Apply-Actions features:\n");
                s.push_str(&format!("        actions: {}\n", action_id_names(w)));
            }
            (w, a) => {
                if let Some(w) = w {
                    s.push_str("      Write-Actions features:\n");
                    s.push_str(&format!("        actions: {}\n", action_id_names(w)));
                }
                if let Some(a) = a {
                    s.push_str("      Apply-Actions features:\n");
                    s.push_str(&format!("        actions: {}\n", action_id_names(a)));
                }
            }
        }
    }
    s
}

fn ranges_text(tables: &[u8]) -> String {
    let mut sorted = tables.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted[i];
        }
        if start == end {
            parts.push(start.to_string());
        } else {
            parts.push(format!("{start}-{end}"));
        }
        i += 1;
    }
    parts.join(",")
}

/// `OFPP_MAX`, re-exported for callers that format port numbers.
pub const MAX_PORT: u32 = OFPP_MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_matches_ovs_layout() {
        assert_eq!(
            hex_dump(&[4, 0x63, 0, 8, 0, 0, 0, 5]),
            "00000000  04 63 00 08 00 00 00 05-                        |.c......        |\n"
        );
    }

    #[test]
    fn ranges_compress_consecutive_tables() {
        assert_eq!(ranges_text(&[1, 2, 3, 5]), "1-3,5");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn printing_arbitrary_bytes_never_panics(mut b in proptest::collection::vec(any::<u8>(), 0..300), ty in 0u8..32) {
            if b.len() >= 8 {
                b[0] = 4;
                b[1] = ty;
                let len = u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes();
                b[2] = len[0];
                b[3] = len[1];
            }
            let _ = ofp_print(&b);
        }

        #[test]
        fn every_encodable_flow_mod_prints(prio: u16, cookie: u64, table in 0u8..255) {
            let fm = controller_proto::flow_mod::FlowMod {
                priority: prio,
                cookie,
                table_id: table,
                ..Default::default()
            };
            let s = ofp_print(&Message::FlowMod(fm).encode(7));
            prop_assert!(s.starts_with("OFPT_FLOW_MOD (OF1.3) (xid=0x7):"), "{}", s);
        }
    }
}
