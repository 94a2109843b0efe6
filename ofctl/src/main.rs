//! `ofctl`: the ovs-ofctl-compatible command line. This file is only the
//! process boundary: arguments in, [`ofctl::commands::run`] output to
//! stdout, errors to stderr as `ofctl: ...` (or the switch's error as
//! `ovs-ofctl` prints it) with a non-zero exit status.

use std::io::Write;
use std::process::ExitCode;

use ofctl::commands::{parse_args, run, CliError, USAGE};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, rest) = match parse_args(&args) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let Some((cmd, cmd_args)) = rest.split_first() else {
        eprintln!("ofctl: missing command name; use --help for help");
        eprint!("{USAGE}");
        return ExitCode::from(1);
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = run(&opts, cmd, cmd_args, &mut out);
    let flushed = out.flush();
    match result {
        Ok(code) => {
            if let Err(e) = flushed {
                eprintln!("ofctl: writing output: {e}");
                return ExitCode::from(1);
            }
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    match e {
        CliError::Message(m) => eprintln!("ofctl: {m}"),
        CliError::Printed(text) => eprint!("{text}"),
    }
    ExitCode::from(1)
}
