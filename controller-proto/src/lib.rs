//! OpenFlow 1.3 (wire version 0x04) as the 1.3.5 specification writes it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod codec;
pub mod conn;
pub mod controller;
pub mod convert;
pub mod error;
pub mod flow_mod;
pub mod flow_removed;
pub mod framer;
pub mod fuzzing;
pub mod group_mod;
pub mod header;
pub mod hello;
pub mod instruction;
pub mod message;
pub mod meter_mod;
pub mod multipart;
pub mod nicira;
pub mod oxm;
pub mod packet_io;
pub mod port;
pub mod stats_flow;
pub mod switch_config;
pub mod table;
