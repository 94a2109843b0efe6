//! `ofctl parse-flow` against `ovs-ofctl -O OpenFlow13 parse-flow`: for
//! every flow of `tests/corpus/flows.txt` (several hundred, covering the
//! fields, masks, shorthands, flow keywords, actions and instructions of
//! the syntax) our output must equal the recorded output of `ovs-ofctl`
//! in `tests/corpus/flows.expected`. When `ovs-ofctl` is installed, the
//! recording itself is checked against it.

use std::path::PathBuf;
use std::process::Command;

use ofctl::flow_syntax::{parse_flow, FlowCommand};
use ofctl::offline::parse_flow_report;

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read_to_string(p).expect("corpus file exists")
}

/// The flows and, for each, the three lines `ovs-ofctl` printed.
fn cases() -> Vec<(String, String)> {
    let flows: Vec<String> = corpus("flows.txt").lines().map(str::to_string).collect();
    let expected: Vec<String> = corpus("flows.expected")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(expected.len(), flows.len() * 3, "three lines per flow");
    flows
        .into_iter()
        .zip(expected.chunks(3).map(|c| format!("{}\n", c.join("\n"))))
        .collect()
}

#[test]
fn corpus_has_hundreds_of_flows() {
    assert!(cases().len() >= 300);
}

#[test]
fn every_corpus_flow_prints_as_ovs_ofctl_prints_it() {
    let mut failures = Vec::new();
    for (flow, expected) in cases() {
        let got = parse_flow(FlowCommand::Add, &flow)
            .map_err(|e| e.to_string())
            .and_then(|f| parse_flow_report(&[f]).map_err(|e| e.to_string()));
        match got {
            Ok(text) if text == expected => {}
            Ok(text) => {
                let (e, g) = expected
                    .lines()
                    .zip(text.lines())
                    .find(|(e, g)| e != g)
                    .unwrap_or(("(more lines)", "(fewer lines)"));
                failures.push(format!("{flow}\n  expected: {e}\n  got:      {g}"));
            }
            Err(e) => failures.push(format!("{flow}\n  expected: {expected}  error:    {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} flows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn recording_matches_ovs_ofctl_when_installed() {
    let available = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("ovs-ofctl not installed: compared with the recording only");
        return;
    }
    for (flow, expected) in cases() {
        let out = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "parse-flow", &flow])
            .output()
            .expect("ovs-ofctl runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{flow}");
    }
}
