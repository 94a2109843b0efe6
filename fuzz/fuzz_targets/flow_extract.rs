//! Fuzzes flow key extraction and every header view over arbitrary bytes:
//! nothing may panic, and the extracted key must agree with the views
//! (`datapath::extract::fuzz_flow_extract` holds the checks, so that the
//! stable unit tests run them over the seed corpus too).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    datapath::extract::fuzz_flow_extract(data);
});
