//! `switchd`: a userspace OpenFlow 1.3 switch.
//!
//! Subcommands: `run` starts the daemon ([`daemon`]); `ctl` talks to a
//! running daemon over its management socket ([`ctl`]); `demo` sets up a
//! demonstration ([`demo`]). The daemon's parts: [`config`] and [`cli`]
//! (what to build), [`bridge`] (bridges and their pipelines, the API the
//! other parts use), [`port`] (devices), [`forward`] (forwarding threads),
//! [`channel`] (OpenFlow connections), [`mgmt`], [`state`] and
//! [`container`] (management, persistence, container ports).

mod bridge;
mod channel;
mod cli;
mod config;
mod container;
mod ctl;
mod daemon;
mod demo;
mod forward;
mod mgmt;
mod port;
mod state;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A userspace OpenFlow 1.3 virtual switch.
#[derive(Parser)]
#[command(name = "switchd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch daemon.
    Run(cli::RunArgs),
    /// Query or change a running daemon.
    Ctl(ctl::CtlArgs),
    /// Set up a demonstration with containers.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cli.command {
        Command::Run(a) => daemon::run(&a),
        Command::Ctl(a) => ctl::run(&a),
        Command::Demo(a) => demo::run(&a),
    }
}

/// Prints a command-line error as one line (help and version as clap
/// renders them) and gives the exit status.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    eprintln!("switchd: {}", one_line(&e.render().to_string()));
    ExitCode::from(2)
}

/// The message part of a rendered clap error on one line: the text before
/// the usage section, without the leading `error: ` and with inner line
/// breaks folded.
fn one_line(rendered: &str) -> String {
    let text: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
        .map(str::trim)
        .collect();
    text.join(" ").trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod usage_tests {
    use super::*;

    #[test]
    fn a_missing_argument_is_reported_on_one_line_naming_it() {
        let Err(e) = Cli::try_parse_from(["switchd", "ctl", "del-port"]) else {
            panic!("a missing argument was accepted");
        };
        let line = one_line(&e.render().to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("BRIDGE") || line.contains("bridge"), "{line}");
    }
}
