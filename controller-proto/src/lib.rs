//! OpenFlow 1.3 (wire version 0x04) as the 1.3.5 specification writes it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod codec;
pub mod error;
pub mod instruction;
pub mod oxm;
pub mod header;
pub mod hello;
pub mod switch_config;
pub mod port;
pub mod table;
pub mod meter_mod;
pub mod controller;
pub mod multipart;
pub mod message;
pub mod flow_mod;
pub mod flow_removed;
pub mod group_mod;
pub mod packet_io;
pub mod stats_flow;
pub mod framer;
pub mod conn;
pub mod convert;
pub mod fuzzing;
