//! Fuzz target: the stream framer and the connection state machine over an
//! arbitrary byte stream (see `controller_proto::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    controller_proto::fuzzing::framer_roundtrip(data);
});
