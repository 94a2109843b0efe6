//! The switch's packet processing, free of I/O and of the clock.
//!
//! A packet's way through this crate: a port hands a batch of [`buffer::Packet`]s
//! to [`dpif`], which extracts a [`flow::FlowKey`] from each ([`extract`]),
//! looks it up in the per-thread exact-match cache and megaflow cache
//! ([`cache`]), and on a miss runs the OpenFlow pipeline ([`ofproto`]) through
//! translation ([`xlate`]), which yields flat datapath actions ([`dpaction`])
//! and the mask of every bit it examined; the megaflow is installed and the
//! actions run on the batch ([`execute`]). Time is always an argument.
//!
//! See `docs/ARCHITECTURE.md` for the design and the cache-coherence story.
#![warn(missing_docs)]

pub mod buffer;
pub mod cache;
pub mod classifier;
pub mod dpaction;
pub mod dpif;
pub mod execute;
pub mod extract;
pub mod flow;
pub mod normal;
pub mod ofproto;
pub mod packet;
pub mod xlate;
