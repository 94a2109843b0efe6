//! Fuzz target: any bytes given to `Message::decode` either fail cleanly or
//! decode to a message that round-trips (see `controller_proto::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    controller_proto::fuzzing::decode_roundtrip(data);
});
