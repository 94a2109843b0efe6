//! The fuzzing harness of the flow syntax, shared by the cargo-fuzz target
//! `flow_syntax` (`fuzz/`) and by a unit test that replays its corpus.
//!
//! [`flow_syntax`] feeds arbitrary bytes (as text) to every parser —
//! matches, packets, flows of every command, groups, meters, action lists —
//! and panics exactly when an invariant breaks: a parser panics, or a flow
//! that parses does not print back to text that parses to the same flow
//! (printing is a fixed point after one round), or its FLOW_MOD does not
//! survive the codec.

use controller_proto::group_mod::GroupModCommand;
use controller_proto::message::Message;
use controller_proto::meter_mod::MeterModCommand;

use crate::flow_syntax::group::{parse_group, parse_meter};
use crate::flow_syntax::{parse_action_list, parse_flow, parse_match, parse_packet, FlowCommand};

/// Checks one input; see the module documentation.
pub fn flow_syntax(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s = text.as_ref();
    let _ = parse_match(s);
    let _ = parse_packet(s);
    let _ = parse_action_list(s, &datapath::flow::Match::catch_all(), s);
    for c in [
        GroupModCommand::OFPGC_ADD,
        GroupModCommand::OFPGC_MODIFY,
        GroupModCommand::OFPGC_DELETE,
    ] {
        if let Ok(g) = parse_group(c, s) {
            let bytes = Message::GroupMod(g).encode(1);
            assert!(
                Message::decode(&bytes).is_ok(),
                "group of {s:?} does not decode"
            );
        }
    }
    for c in [
        MeterModCommand::OFPMC_ADD,
        MeterModCommand::OFPMC_MODIFY,
        MeterModCommand::OFPMC_DELETE,
    ] {
        if let Ok(m) = parse_meter(c, s) {
            let bytes = Message::MeterMod(m).encode(1);
            assert!(
                Message::decode(&bytes).is_ok(),
                "meter of {s:?} does not decode"
            );
        }
    }
    for cmd in [
        FlowCommand::Add,
        FlowCommand::Modify,
        FlowCommand::ModifyStrict,
        FlowCommand::Delete,
        FlowCommand::DeleteStrict,
        FlowCommand::Query,
    ] {
        let Ok(flow) = parse_flow(cmd, s) else {
            continue;
        };
        let printed = flow.to_text();
        let again = parse_flow(cmd, &printed)
            .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(
            again.to_text(),
            printed,
            "printing {s:?} is not a fixed point"
        );
        assert_eq!(
            again.match_.match_, flow.match_.match_,
            "match of {s:?} changed"
        );
        let bytes = Message::FlowMod(flow.to_flow_mod()).encode(1);
        let decoded = Message::decode(&bytes);
        assert!(decoded.is_ok(), "FLOW_MOD of {s:?} does not decode");
        let _ = crate::format::print::ofp_print(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_fuzz_corpus_passes_the_harness() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/flow_syntax");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_file() {
                flow_syntax(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        assert!(n > 0, "empty corpus at {}", dir.display());
    }

    #[test]
    fn every_corpus_flow_passes_the_harness() {
        let flows = include_str!("../tests/corpus/flows.txt");
        for line in flows.lines() {
            flow_syntax(line.as_bytes());
        }
    }
}
