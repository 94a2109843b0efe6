//! The OpenFlow pipeline model, independent of any wire version: what the
//! controller programs (flow tables, groups, meters, ports, switch
//! configuration) and what translation reads.
//!
//! # Shape
//!
//! This is the second of the three forms of actions (wire, pipeline,
//! datapath). The codec converts wire messages into these types and decides
//! nothing; the rules of OpenFlow 1.3.5 (what an add replaces, what a delete
//! selects, which error a bad request earns) are decided here, once, where
//! they can be tested without bytes.
//!
//! - [`action`]: [`Action`], [`ActionSet`] (5.10 ordering);
//! - [`instruction`]: [`Instructions`], one member per instruction type;
//! - [`rule`]: [`Rule`] shared as `Arc<Rule>`, its atomic counters, removal reasons;
//! - [`table`]: [`Table`], a classifier of rules plus counters;
//! - [`flow_mod`]: [`FlowMod`] and [`Pipeline::flow_mod`] (6.4);
//! - [`group`]: the group table and [`Pipeline::group_mod`] (5.6, 6.5);
//! - [`meter`]: the meter table, [`Pipeline::meter_mod`] and token buckets (5.7);
//! - [`pipeline`]: [`Pipeline`] itself, ports, switch configuration, expiry;
//! - [`port`]: reserved port numbers, [`Port`], [`PortMod`];
//! - [`counters`]: the packet/byte counter pair shared by groups, meters, bands;
//! - [`stats`]: the multipart statistics queries;
//! - [`error`]: [`OfError`], one variant per (type, code).
//!
//! # Concurrency and coherence
//!
//! The control plane holds the [`Pipeline`] behind a read-write lock and
//! mutates it through `&mut self`; each mutation that changes what a
//! translation could produce increments [`Pipeline::version`], which the
//! datapath publishes as the caches' epoch. Forwarding threads translate and
//! count under the read lock only: rules, groups, meters and tables carry
//! their counters as atomics, and meters keep their token buckets behind a
//! per-meter mutex. Rules and groups are immutable once installed (a change
//! installs a new `Arc`), so a reference held by a translation result stays a
//! consistent snapshot.

/// Defines a set of flag bits as a `Copy` newtype with named constants,
/// set operations and a readable `Debug`.
macro_rules! flag_set {
    (
        $(#[$doc:meta])*
        $name:ident : $repr:ty {
            $( $(#[$fdoc:meta])* $flag:ident = $val:expr; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($repr);

        impl $name {
            $( $(#[$fdoc])* pub const $flag: $name = $name($val); )*

            /// Every defined bit.
            pub const ALL: $name = $name(0 $(| $val)*);

            const NAMES: &'static [(&'static str, $repr)] = &[$((stringify!($flag), $val),)*];

            /// No bit set.
            pub const fn empty() -> $name {
                $name(0)
            }

            /// The raw bits.
            pub const fn bits(self) -> $repr {
                self.0
            }

            /// The set with these bits; `None` if an undefined bit is set.
            pub const fn from_bits(bits: $repr) -> Option<$name> {
                if bits & !Self::ALL.0 == 0 {
                    Some($name(bits))
                } else {
                    None
                }
            }

            /// The set with these bits, undefined ones dropped.
            pub const fn from_bits_truncate(bits: $repr) -> $name {
                $name(bits & Self::ALL.0)
            }

            /// Whether no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any bit of `other` is set.
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }

            /// Sets the bits of `other`.
            pub fn insert(&mut self, other: $name) {
                self.0 |= other.0;
            }

            /// Clears the bits of `other`.
            pub fn remove(&mut self, other: $name) {
                self.0 &= !other.0;
            }

            /// Sets or clears the bits of `other`.
            pub fn set(&mut self, other: $name, on: bool) {
                if on {
                    self.insert(other)
                } else {
                    self.remove(other)
                }
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name {
                $name(self.0 & rhs.0)
            }
        }

        impl core::ops::Not for $name {
            type Output = $name;
            /// The complement within the defined bits.
            fn not(self) -> $name {
                $name(!self.0 & Self::ALL.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                let mut first = true;
                for (n, v) in Self::NAMES {
                    if self.0 & v == *v && *v != 0 {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str(n)?;
                        first = false;
                    }
                }
                let rest = self.0 & !Self::ALL.0;
                if rest != 0 {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{rest:#x}")?;
                }
                f.write_str(")")
            }
        }
    };
}

pub mod action;
pub mod counters;
pub mod error;
pub mod flow_mod;
pub mod group;
pub mod instruction;
pub mod meter;
pub mod pipeline;
pub mod port;
pub mod rule;
pub mod stats;
pub mod table;

pub use action::{Action, ActionSet};
pub use counters::Counters;
pub use error::OfError;
pub use flow_mod::{AggregateStats, FlowMod, FlowModCommand, FlowModOutcome, FlowStatsRequest};
pub use group::{
    Bucket, Group, GroupMod, GroupModCommand, GroupModOutcome, GroupType, OFPG_ALL, OFPG_ANY,
    OFPG_MAX,
};
pub use instruction::Instructions;
pub use meter::{
    Meter, MeterBand, MeterBandType, MeterFlags, MeterMod, MeterModCommand, MeterModOutcome,
    MeterVerdict, OFPM_ALL, OFPM_CONTROLLER, OFPM_MAX, OFPM_SLOWPATH,
};
pub use pipeline::{FragHandling, Pipeline, SwitchConfig};
pub use port::{
    Port, PortConfig, PortFeatures, PortMod, PortState, OFPCML_MAX, OFPCML_NO_BUFFER, OFPP_ALL,
    OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX, OFPP_NORMAL,
    OFPP_TABLE, OFP_NO_BUFFER,
};
pub use rule::{FlowModFlags, RemovalReason, RemovedRule, Rule, RuleStats};
pub use stats::{GroupStats, MeterStats, TableStats};
pub use table::{Table, N_TABLES, OFPTT_ALL, OFPTT_MAX};
