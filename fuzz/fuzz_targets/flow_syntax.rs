//! Fuzz target: any text given to the flow-syntax parsers of `ofctl`
//! (matches, packets, flows, actions, groups, meters) either fails cleanly
//! or parses to something that prints back to itself (see
//! `ofctl::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ofctl::fuzzing::flow_syntax(data);
});
