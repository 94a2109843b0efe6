//! The reusable pieces of `ofctl`, the ovs-ofctl-compatible command line:
//! the flow syntax (matches, packets, flows, actions, groups, meters), the
//! `ovs-ofctl`-style printing of OpenFlow 1.3 messages, and the blocking
//! client that talks to a switch.
//!
//! The binary (`src/main.rs`) is only argument handling on top of these;
//! `switchd ctl trace` uses [`flow_syntax`] to read the packet it traces.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod commands;
pub mod flow_syntax;
pub mod format;
pub mod fuzzing;
pub mod offline;
