//! `ofctl ofp-print` against `ovs-ofctl ofp-print`: every golden vector of
//! the codec (`controller-proto/tests/corpus/NAME.hex`) must print exactly
//! as the recorded `NAME.txt`, which is `ovs-ofctl`'s own output for it.
//! When `ovs-ofctl` is installed the recording is checked against it too.

use std::path::PathBuf;
use std::process::Command;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../controller-proto/tests/corpus")
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
                .expect("hex digit")
        })
        .collect();
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

fn vectors() -> Vec<(String, String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let hex = std::fs::read_to_string(&p).unwrap();
            let txt = std::fs::read_to_string(p.with_extension("txt")).unwrap();
            (name, hex, txt)
        })
        .collect();
    v.sort();
    v
}

/// Vectors printed differently on purpose (none at present).
const KNOWN_DIFFERENT: &[&str] = &[];

#[test]
fn every_golden_vector_prints_as_ovs_ofctl_printed_it() {
    let mut failures = Vec::new();
    for (name, hex, expected) in vectors() {
        if KNOWN_DIFFERENT.contains(&name.as_str()) {
            continue;
        }
        let got = ofctl::format::print::ofp_print(&unhex(&hex));
        if got != expected {
            failures.push(format!("--- {name}\nexpected:\n{expected}got:\n{got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the vectors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn recordings_still_match_ovs_ofctl_when_it_is_installed() {
    let available = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("ovs-ofctl not installed: checked against the recordings only");
        return;
    }
    for (name, hex, expected) in vectors() {
        let out = Command::new("ovs-ofctl")
            .arg("ofp-print")
            .arg(hex.trim())
            .output()
            .expect("ovs-ofctl runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{name}");
    }
}
