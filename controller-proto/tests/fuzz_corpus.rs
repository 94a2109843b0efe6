//! Replays the cargo-fuzz corpora of `ofp_decode` and `ofp_framer`
//! (`fuzz/corpus/*`, seeded from the golden vectors) through the same
//! harnesses the fuzz targets call, so stable `cargo test` keeps every input
//! a fuzzer ever saved passing.

use std::path::PathBuf;

use controller_proto::fuzzing::{decode_roundtrip, framer_roundtrip};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn ofp_decode_corpus_round_trips() {
    let files = corpus("ofp_decode");
    assert!(!files.is_empty(), "empty ofp_decode corpus");
    for (name, data) in files {
        let r = std::panic::catch_unwind(|| decode_roundtrip(&data));
        assert!(r.is_ok(), "ofp_decode corpus input {name} fails");
    }
}

#[test]
fn ofp_framer_corpus_frames_consistently() {
    let files = corpus("ofp_framer");
    assert!(!files.is_empty(), "empty ofp_framer corpus");
    for (name, data) in files {
        let r = std::panic::catch_unwind(|| framer_roundtrip(&data));
        assert!(r.is_ok(), "ofp_framer corpus input {name} fails");
    }
}
