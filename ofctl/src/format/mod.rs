//! `ovs-ofctl`-style text for OpenFlow 1.3 messages: matches
//! ([`matches`]), actions and instructions ([`actions`]), whole messages as
//! `ofp-print` shows them ([`print`]), and packets as flows ([`packet`]).
//!
//! Everything here is a pure function from decoded messages (the codec's
//! types) to `String`, so the command line, the tests and `switchd` can
//! all print the same way.

pub mod actions;
pub mod matches;
pub mod oxm;
pub mod packet;
pub mod print;
pub mod table_features;

use controller_proto::flow_mod::{
    FlowMod, FlowModCommand, OFPFF_CHECK_OVERLAP, OFPFF_NO_BYT_COUNTS, OFPFF_NO_PKT_COUNTS,
    OFPFF_RESET_COUNTS, OFPFF_SEND_FLOW_REM, OFP_NO_BUFFER,
};
use controller_proto::port::OFPP_ANY;
use controller_proto::stats_flow::FlowStats;

use crate::flow_syntax::value::port_name;

pub use oxm::{match_from_oxm as match_from_wire, match_to_oxm};

/// The flow-mod flags as `ovs-ofctl` lists them (each followed by a space).
pub fn flow_flags_text(flags: u16) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (OFPFF_SEND_FLOW_REM, "send_flow_rem"),
        (OFPFF_CHECK_OVERLAP, "check_overlap"),
        (OFPFF_RESET_COUNTS, "reset_counts"),
        (OFPFF_NO_PKT_COUNTS, "no_packet_counts"),
        (OFPFF_NO_BYT_COUNTS, "no_byte_counts"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
            s.push(' ');
        }
    }
    s
}

/// The body of an OFPT_FLOW_MOD as `ofp-print` shows it (after the colon).
pub fn flow_mod_text(fm: &FlowMod) -> String {
    let mut s = String::from(" ");
    s.push_str(match fm.command {
        FlowModCommand::OFPFC_ADD => "ADD",
        FlowModCommand::OFPFC_MODIFY => "MOD",
        FlowModCommand::OFPFC_MODIFY_STRICT => "MOD_STRICT",
        FlowModCommand::OFPFC_DELETE => "DEL",
        FlowModCommand::OFPFC_DELETE_STRICT => "DEL_STRICT",
        FlowModCommand(c) => return format!(" cmd:{c}"),
    });
    if fm.table_id != 0 {
        s.push_str(&format!(" table:{}", fm.table_id));
    }
    s.push(' ');
    let m = match_from_wire(&fm.match_);
    s.push_str(&matches::format_match(&m, Some(fm.priority)));
    if !s.ends_with(' ') {
        s.push(' ');
    }
    let is_add = fm.command == FlowModCommand::OFPFC_ADD;
    if is_add {
        if fm.cookie != 0 {
            s.push_str(&format!("cookie:{:#x} ", fm.cookie));
        }
    } else if fm.cookie_mask != 0 {
        s.push_str(&format!("cookie:{:#x}/{:#x} ", fm.cookie, fm.cookie_mask));
    }
    if fm.idle_timeout != 0 {
        s.push_str(&format!("idle:{} ", fm.idle_timeout));
    }
    if fm.hard_timeout != 0 {
        s.push_str(&format!("hard:{} ", fm.hard_timeout));
    }
    if fm.buffer_id != OFP_NO_BUFFER {
        s.push_str(&format!("buf:{:#x} ", fm.buffer_id));
    }
    if fm.out_port != OFPP_ANY {
        s.push_str(&format!("out_port:{} ", port_name(fm.out_port)));
    }
    s.push_str(&flow_flags_text(fm.flags));
    s.push_str("actions=");
    s.push_str(&actions::instructions_text(&fm.instructions));
    s
}

/// A duration as `ovs-ofctl` prints it: `61s` without a fraction, three
/// decimals when the fraction is whole milliseconds (`10.250s`), otherwise
/// as many as it takes (`60.0000005s`).
pub fn duration_text(sec: u32, nsec: u32) -> String {
    let mut s = sec.to_string();
    if nsec > 0 {
        if nsec.is_multiple_of(1_000_000) {
            s.push_str(&format!(".{:03}", nsec / 1_000_000));
        } else {
            let frac = format!("{nsec:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
    }
    s.push('s');
    s
}

/// How a flow-statistics entry is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStatsStyle {
    /// Leave out cookie, duration, table, counters (`--no-stats`).
    pub no_stats: bool,
}

/// One `ofp_flow_stats` entry as `dump-flows` prints it (no leading space).
pub fn flow_stats_text(fs: &FlowStats, style: FlowStatsStyle) -> String {
    let mut s = String::new();
    if !style.no_stats {
        s.push_str(&format!("cookie={:#x}, ", fs.cookie));
        s.push_str(&format!(
            "duration={}, ",
            duration_text(fs.duration_sec, fs.duration_nsec)
        ));
        s.push_str(&format!("table={}, ", fs.table_id));
        s.push_str(&format!("n_packets={}, ", fs.packet_count));
        s.push_str(&format!("n_bytes={}, ", fs.byte_count));
    } else {
        if fs.cookie != 0 {
            s.push_str(&format!("cookie={:#x}, ", fs.cookie));
        }
        if fs.table_id != 0 {
            s.push_str(&format!("table={}, ", fs.table_id));
        }
    }
    if fs.idle_timeout != 0 {
        s.push_str(&format!("idle_timeout={}, ", fs.idle_timeout));
    }
    if fs.hard_timeout != 0 {
        s.push_str(&format!("hard_timeout={}, ", fs.hard_timeout));
    }
    s.push_str(&flow_flags_text(fs.flags));
    let m = match_from_wire(&fs.match_);
    let mt = matches::format_match(&m, Some(fs.priority));
    s.push_str(&mt);
    if !mt.is_empty() {
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&actions::instructions_text(&fs.instructions));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_drop_trailing_zeros() {
        assert_eq!(duration_text(10, 250_000_000), "10.250s");
        assert_eq!(duration_text(60, 500), "60.0000005s");
        assert_eq!(duration_text(61, 0), "61s");
        assert_eq!(duration_text(5, 1_000), "5.000001s");
    }
}
