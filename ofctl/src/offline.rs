//! The commands that need no switch: `parse-flow`, `parse-flows` and
//! `ofp-print`, producing exactly the text `ovs-ofctl -O OpenFlow13` prints.

use controller_proto::message::Message;

use crate::flow_syntax::{parse_flow, FlowCommand, FlowSpec, Protocols, SyntaxError};
use crate::format::print::ofp_print;

/// A flow file's lines: comments (`#`) and blank lines dropped, with the
/// 1-based line number of each flow.
pub fn flow_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Parses every flow of a file for `add-flows`-like commands. A line may
/// start with `add`, `modify`, `modify_strict`, `delete` or `delete_strict`
/// to choose its command (default: `default`).
///
/// # Errors
/// The first bad line, as `NAME:LINE: message`.
pub fn parse_flow_file(
    name: &str,
    text: &str,
    default: FlowCommand,
) -> Result<Vec<FlowSpec>, SyntaxError> {
    let mut out = Vec::new();
    for (n, line) in flow_lines(text) {
        let (cmd, rest) = split_command(line, default);
        let spec = parse_flow(cmd, rest)
            .map_err(|e| SyntaxError::new(format!("{name}:{n}: {}", e.message())))?;
        out.push(spec);
    }
    Ok(out)
}

/// Splits a leading command word off a flow line.
pub fn split_command(line: &str, default: FlowCommand) -> (FlowCommand, &str) {
    let word_end = line
        .find(|c: char| c == ',' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let cmd = match &line[..word_end] {
        "add" => FlowCommand::Add,
        "modify" => FlowCommand::Modify,
        "modify_strict" => FlowCommand::ModifyStrict,
        "delete" => FlowCommand::Delete,
        "delete_strict" => FlowCommand::DeleteStrict,
        _ => return (default, line),
    };
    (cmd, &line[word_end..])
}

/// The output of `parse-flow`/`parse-flows` for parsed flows: the usable
/// protocols, the chosen one, and each FLOW_MOD as `ofp-print` shows it
/// (transaction ids counting from 1).
///
/// # Errors
/// When OpenFlow 1.3 cannot express the flows ("no usable protocol").
pub fn parse_flow_report(flows: &[FlowSpec]) -> Result<String, SyntaxError> {
    let mut usable = Protocols::any();
    for f in flows {
        usable.restrict(f.usable.0);
    }
    if !usable.has_of13() {
        return Err(SyntaxError::new(format!(
            "no usable protocol: the flows need {usable}, not OpenFlow 1.3"
        )));
    }
    let mut s = format!("usable protocols: {usable}\nchosen protocol: OXM-OpenFlow13\n");
    for (i, f) in flows.iter().enumerate() {
        let xid = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let bytes = Message::FlowMod(f.to_flow_mod()).encode(xid);
        s.push_str(&ofp_print(&bytes));
    }
    Ok(s)
}

/// `ofp-print HEX`: the hex may contain white space.
///
/// # Errors
/// A message naming the first character that is not a hex digit, or an
/// odd number of digits.
pub fn ofp_print_hex(hex: &str) -> Result<String, SyntaxError> {
    let bytes = parse_hex(hex)?;
    Ok(ofp_print(&bytes))
}

/// `ofp-print HEX VERBOSITY`.
///
/// # Errors
/// As [`ofp_print_hex`], and for a verbosity that is not a small number.
pub fn ofp_print_hex_verbosity(hex: &str, verbosity: &str) -> Result<String, SyntaxError> {
    let v: u8 = verbosity.parse().map_err(|_| {
        SyntaxError::new(format!(
            "verbosity \"{verbosity}\" is not a number from 0 to 255"
        ))
    })?;
    let bytes = parse_hex(hex)?;
    Ok(crate::format::print::ofp_print_verbosity(&bytes, v))
}

/// Hex digits (white space ignored) to bytes.
///
/// # Errors
/// As [`ofp_print_hex`].
pub fn parse_hex(hex: &str) -> Result<Vec<u8>, SyntaxError> {
    let mut digits = Vec::with_capacity(hex.len());
    for c in hex.chars() {
        if c.is_whitespace() {
            continue;
        }
        let d = c.to_digit(16).ok_or_else(|| {
            SyntaxError::new(format!("\"{c}\" in the hex string is not a hex digit"))
        })?;
        digits.push(u8::try_from(d).unwrap_or(0));
    }
    if digits.len() % 2 != 0 {
        return Err(SyntaxError::new(
            "the hex string has an odd number of digits",
        ));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}
