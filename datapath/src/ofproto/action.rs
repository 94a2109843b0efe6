//! Pipeline actions: the version-independent form of OpenFlow actions, and the
//! action set that write-actions accumulates.
//!
//! [`Action`] is what the codec decodes wire actions into and what translation
//! interprets; arguments are already host-order integers and fields are
//! [`Field`]s. Argument checks that need no switch state live here
//! ([`Action::check`]); those that need the group or port tables are done by
//! the pipeline when a flow or group mod is applied.
//!
//! # The action set (OpenFlow 1.3.5, 5.10)
//!
//! [`ActionSet`] keeps at most one action of each type; set-field counts as a
//! different type per field. Writing an action replaces the one of its type.
//! Iteration yields the actions in the order the specification fixes,
//! whatever the order they were written in:
//!
//! 1. copy TTL inwards;
//! 2. pops (VLAN, then PBB, then MPLS: outermost first);
//! 3. push MPLS; 4. push PBB; 5. push VLAN (innermost first, so the VLAN tag
//!    ends up outermost);
//! 6. copy TTL outwards;
//! 7. TTL decrements (MPLS, then IP);
//! 8. sets: `set_mpls_ttl`, `set_nw_ttl`, then set-field by field number;
//! 9. QoS (`set_queue`);
//! 10. group;
//! 11. output, only when there is no group action (a group overrides output).
//!
//! Invariant: `slots[i]` is either empty or holds an action whose slot is `i`;
//! `set_fields` holds only `SetField` actions, sorted by field and unique per
//! field.

use super::error::OfError;
use super::port::{
    is_physical, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use crate::flow::Field;
use smallvec::SmallVec;

/// One OpenFlow action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Output to a port (physical or reserved).
    Output {
        /// Port number, `OFPP_*` for reserved ports.
        port: u32,
        /// Bytes to send to the controller when `port` is `OFPP_CONTROLLER`.
        max_len: u16,
    },
    /// Copy TTL outwards, from next-to-outermost to outermost header.
    CopyTtlOut,
    /// Copy TTL inwards, from outermost to next-to-outermost header.
    CopyTtlIn,
    /// Set the MPLS TTL.
    SetMplsTtl(u8),
    /// Decrement the MPLS TTL.
    DecMplsTtl,
    /// Push a VLAN tag with this ethertype (0x8100 or 0x88a8).
    PushVlan(u16),
    /// Pop the outer VLAN tag.
    PopVlan,
    /// Push an MPLS label with this ethertype (0x8847 or 0x8848).
    PushMpls(u16),
    /// Pop the outer MPLS label; what follows has this ethertype.
    PopMpls(u16),
    /// Select the output queue.
    SetQueue(u32),
    /// Process the packet through a group.
    Group(u32),
    /// Set the IP TTL.
    SetNwTtl(u8),
    /// Decrement the IP TTL.
    DecNwTtl,
    /// Set a header field. `mask` is only for OpenFlow 1.5-style masked
    /// set-field; an OpenFlow 1.3 set-field has none (all bits are set).
    SetField {
        /// The field to write.
        field: Field,
        /// New value, in the field's width.
        value: u128,
        /// The bits to write, in the field's width; `None` writes them all.
        mask: Option<u128>,
    },
    /// Push a PBB service tag with this ethertype (0x88e7).
    PushPbb(u16),
    /// Pop the outer PBB service tag.
    PopPbb,
}

/// Slot numbers in action-set order (see the module documentation).
mod slot {
    pub const COPY_TTL_IN: usize = 0;
    pub const POP_VLAN: usize = 1;
    pub const POP_PBB: usize = 2;
    pub const POP_MPLS: usize = 3;
    pub const PUSH_MPLS: usize = 4;
    pub const PUSH_PBB: usize = 5;
    pub const PUSH_VLAN: usize = 6;
    pub const COPY_TTL_OUT: usize = 7;
    pub const DEC_MPLS_TTL: usize = 8;
    pub const DEC_NW_TTL: usize = 9;
    pub const SET_MPLS_TTL: usize = 10;
    pub const SET_NW_TTL: usize = 11;
    /// Set-field actions run here, between the slots before and after.
    pub const SET_FIELD: usize = 12;
    pub const SET_QUEUE: usize = 12;
    pub const GROUP: usize = 13;
    pub const OUTPUT: usize = 14;
    pub const COUNT: usize = 15;
}

impl Action {
    /// The output port when this is an `Output`.
    pub fn output_port(&self) -> Option<u32> {
        match self {
            Action::Output { port, .. } => Some(*port),
            _ => None,
        }
    }

    /// The group when this is a `Group`.
    pub fn group_id(&self) -> Option<u32> {
        match self {
            Action::Group(g) => Some(*g),
            _ => None,
        }
    }

    /// The action-set slot of the action (`slot::SET_FIELD` for set-field).
    fn slot(&self) -> usize {
        match self {
            Action::CopyTtlIn => slot::COPY_TTL_IN,
            Action::PopVlan => slot::POP_VLAN,
            Action::PopPbb => slot::POP_PBB,
            Action::PopMpls(_) => slot::POP_MPLS,
            Action::PushMpls(_) => slot::PUSH_MPLS,
            Action::PushPbb(_) => slot::PUSH_PBB,
            Action::PushVlan(_) => slot::PUSH_VLAN,
            Action::CopyTtlOut => slot::COPY_TTL_OUT,
            Action::DecMplsTtl => slot::DEC_MPLS_TTL,
            Action::DecNwTtl => slot::DEC_NW_TTL,
            Action::SetMplsTtl(_) => slot::SET_MPLS_TTL,
            Action::SetNwTtl(_) => slot::SET_NW_TTL,
            Action::SetField { .. } => slot::SET_FIELD,
            Action::SetQueue(_) => slot::SET_QUEUE,
            Action::Group(_) => slot::GROUP,
            Action::Output { .. } => slot::OUTPUT,
        }
    }

    /// Checks the arguments that need no switch state: ethertypes of pushes,
    /// reserved output ports (`OFPP_TABLE` only when `in_packet_out`), and
    /// set-field fields and widths. Group existence is the pipeline's check.
    pub fn check(&self, in_packet_out: bool) -> Result<(), OfError> {
        match *self {
            Action::Output { port, .. } => check_output_port(port, in_packet_out),
            Action::PushVlan(t) if t != 0x8100 && t != 0x88a8 => Err(OfError::BadArgument),
            Action::PushMpls(t) if t != 0x8847 && t != 0x8848 => Err(OfError::BadArgument),
            Action::PushPbb(t) if t != 0x88e7 => Err(OfError::BadArgument),
            Action::SetField { field, value, mask } => {
                if !field_is_settable(field) {
                    return Err(OfError::BadSetType);
                }
                let max = field.max_value();
                if value & !max != 0 || mask.is_some_and(|m| m & !max != 0) {
                    return Err(OfError::BadSetArgument);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Whether `port` may be the port of an output action: a physical port or a
/// reserved port that can be an output, `OFPP_TABLE` only in a packet-out.
/// The port need not exist yet (ports come and go; a missing port drops).
pub fn check_output_port(port: u32, in_packet_out: bool) -> Result<(), OfError> {
    match port {
        p if is_physical(p) => Ok(()),
        OFPP_IN_PORT | OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL | OFPP_CONTROLLER | OFPP_LOCAL => Ok(()),
        OFPP_TABLE if in_packet_out => Ok(()),
        _ => Err(OfError::BadOutPort),
    }
}

/// Whether a set-field action may write `field`: the ingress ports and the
/// fields that describe parsing results rather than headers are read-only.
pub fn field_is_settable(field: Field) -> bool {
    !matches!(
        field,
        Field::InPort | Field::InPhyPort | Field::Ipv6Exthdr | Field::NwFrag | Field::TcpFlags
    )
}

/// The action set of a packet in the pipeline (OpenFlow 1.3.5, 5.10).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionSet {
    slots: [Option<Action>; slot::COUNT],
    set_fields: SmallVec<[Action; 4]>,
}

impl ActionSet {
    /// An empty action set.
    pub fn new() -> ActionSet {
        ActionSet::default()
    }

    /// Whether the set holds no action.
    pub fn is_empty(&self) -> bool {
        self.set_fields.is_empty() && self.slots.iter().all(Option::is_none)
    }

    /// Empties the set (the clear-actions instruction).
    pub fn clear(&mut self) {
        self.slots = Default::default();
        self.set_fields.clear();
    }

    /// Merges `actions` into the set (the write-actions instruction): each
    /// replaces the action of its type already there.
    pub fn write(&mut self, actions: &[Action]) {
        for a in actions {
            self.insert(a.clone());
        }
    }

    /// Puts one action in the set, replacing the one of its type.
    pub fn insert(&mut self, action: Action) {
        if let Action::SetField { field, .. } = action {
            let pos = self.set_fields.binary_search_by_key(&field, |a| match a {
                Action::SetField { field, .. } => *field,
                // Only set-field actions are ever stored here.
                _ => Field::InPort,
            });
            match pos {
                Ok(i) => self.set_fields[i] = action,
                Err(i) => self.set_fields.insert(i, action),
            }
        } else {
            let s = action.slot();
            if let Some(slot) = self.slots.get_mut(s) {
                *slot = Some(action);
            }
        }
    }

    /// The group action, if any.
    pub fn group(&self) -> Option<u32> {
        self.slots[slot::GROUP].as_ref().and_then(Action::group_id)
    }

    /// The output action's port, if any (ignored on execution when a group is set).
    pub fn output(&self) -> Option<u32> {
        self.slots[slot::OUTPUT]
            .as_ref()
            .and_then(Action::output_port)
    }

    /// The actions in execution order; output is left out when a group is set.
    pub fn iter(&self) -> impl Iterator<Item = &Action> + '_ {
        let has_group = self.slots[slot::GROUP].is_some();
        self.slots[..slot::SET_FIELD]
            .iter()
            .flatten()
            .chain(self.set_fields.iter())
            .chain(self.slots[slot::SET_QUEUE..=slot::GROUP].iter().flatten())
            .chain(self.slots[slot::OUTPUT].iter().filter(move |_| !has_group))
    }

    /// Number of actions that would execute.
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::port::{OFPP_ANY, OFPP_MAX};

    fn set(field: Field, value: u128) -> Action {
        Action::SetField {
            field,
            value,
            mask: None,
        }
    }

    #[test]
    fn action_set_executes_in_the_specified_order_whatever_the_write_order() {
        let mut s = ActionSet::new();
        s.write(&[
            Action::Output {
                port: 1,
                max_len: 0,
            },
            Action::SetQueue(3),
            set(Field::Ipv4Dst, 7),
            Action::DecNwTtl,
            Action::CopyTtlOut,
            Action::PushVlan(0x8100),
            Action::PushPbb(0x88e7),
            Action::PushMpls(0x8847),
            Action::PopMpls(0x0800),
            Action::PopVlan,
            Action::CopyTtlIn,
            set(Field::EthDst, 9),
            Action::SetNwTtl(4),
        ]);
        let order: Vec<&Action> = s.iter().collect();
        assert_eq!(
            order,
            vec![
                &Action::CopyTtlIn,
                &Action::PopVlan,
                &Action::PopMpls(0x0800),
                &Action::PushMpls(0x8847),
                &Action::PushPbb(0x88e7),
                &Action::PushVlan(0x8100),
                &Action::CopyTtlOut,
                &Action::DecNwTtl,
                &Action::SetNwTtl(4),
                &set(Field::EthDst, 9),
                &set(Field::Ipv4Dst, 7),
                &Action::SetQueue(3),
                &Action::Output {
                    port: 1,
                    max_len: 0
                },
            ]
        );
    }

    #[test]
    fn writing_an_action_replaces_the_one_of_its_type() {
        let mut s = ActionSet::new();
        s.write(&[
            Action::Output {
                port: 1,
                max_len: 0,
            },
            set(Field::EthDst, 1),
        ]);
        s.write(&[
            Action::Output {
                port: 2,
                max_len: 0,
            },
            set(Field::EthDst, 2),
        ]);
        assert_eq!(s.output(), Some(2));
        assert_eq!(s.len(), 2);
        assert!(s.iter().any(|a| *a == set(Field::EthDst, 2)));
    }

    #[test]
    fn set_field_is_one_action_per_field() {
        let mut s = ActionSet::new();
        s.write(&[
            set(Field::EthDst, 1),
            set(Field::EthSrc, 2),
            set(Field::VlanVid, 0x1005),
        ]);
        assert_eq!(s.len(), 3);
        s.insert(set(Field::EthSrc, 3));
        assert_eq!(s.len(), 3);
        assert!(s.iter().any(|a| *a == set(Field::EthSrc, 3)));
    }

    #[test]
    fn group_overrides_output() {
        let mut s = ActionSet::new();
        s.write(&[
            Action::Output {
                port: 1,
                max_len: 0,
            },
            Action::Group(5),
        ]);
        let v: Vec<&Action> = s.iter().collect();
        assert_eq!(v, vec![&Action::Group(5)]);
        assert_eq!(s.group(), Some(5));
    }

    #[test]
    fn clear_empties_the_set() {
        let mut s = ActionSet::new();
        s.write(&[Action::PopVlan, set(Field::EthDst, 1)]);
        assert!(!s.is_empty());
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.iter().count(), 0);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn action() -> impl Strategy<Value = Action> {
            let fields = [
                Field::EthDst,
                Field::EthSrc,
                Field::VlanVid,
                Field::Ipv4Dst,
                Field::TcpDst,
            ];
            prop_oneof![
                (1..4u32).prop_map(|port| Action::Output { port, max_len: 0 }),
                Just(Action::CopyTtlOut),
                Just(Action::CopyTtlIn),
                any::<u8>().prop_map(Action::SetMplsTtl),
                Just(Action::DecMplsTtl),
                Just(Action::PushVlan(0x8100)),
                Just(Action::PopVlan),
                Just(Action::PushMpls(0x8847)),
                Just(Action::PopMpls(0x0800)),
                (0..3u32).prop_map(Action::SetQueue),
                (0..3u32).prop_map(Action::Group),
                any::<u8>().prop_map(Action::SetNwTtl),
                Just(Action::DecNwTtl),
                (0..5usize, 0..4u128).prop_map(move |(f, value)| Action::SetField {
                    field: fields[f],
                    value,
                    mask: None
                }),
                Just(Action::PushPbb(0x88e7)),
                Just(Action::PopPbb),
            ]
        }

        fn rank(a: &Action) -> (usize, u8) {
            match a {
                Action::SetField { field, .. } => (slot::SET_FIELD, field.number()),
                Action::SetQueue(_) => (slot::SET_QUEUE + 1, 0),
                Action::Group(_) => (slot::GROUP + 1, 0),
                Action::Output { .. } => (slot::OUTPUT + 1, 0),
                other => (other.slot(), 0),
            }
        }

        proptest! {
            #[test]
            fn the_set_runs_in_spec_order_with_the_last_write_of_each_type(
                writes in proptest::collection::vec(proptest::collection::vec(action(), 0..6), 0..5)
            ) {
                let mut s = ActionSet::new();
                for w in &writes {
                    s.write(w);
                }
                let got: Vec<&Action> = s.iter().collect();
                prop_assert!(got.windows(2).all(|w| rank(w[0]) < rank(w[1])), "order {:?}", got);
                let all: Vec<&Action> = writes.iter().flatten().collect();
                for a in &got {
                    let last = all.iter().rev().find(|b| rank(b) == rank(a));
                    prop_assert_eq!(last, Some(a));
                }
                let has_group = all.iter().any(|a| matches!(a, Action::Group(_)));
                prop_assert_eq!(got.iter().any(|a| matches!(a, Action::Output { .. })), !has_group && all.iter().any(|a| matches!(a, Action::Output { .. })));
            }
        }
    }

    #[test]
    fn table_port_is_only_an_output_in_packet_out() {
        let out = |port| Action::Output { port, max_len: 0 };
        assert_eq!(out(OFPP_TABLE).check(false), Err(OfError::BadOutPort));
        assert_eq!(out(OFPP_TABLE).check(true), Ok(()));
        assert_eq!(out(OFPP_ANY).check(true), Err(OfError::BadOutPort));
        assert_eq!(out(0).check(false), Err(OfError::BadOutPort));
        assert_eq!(out(OFPP_MAX + 1).check(false), Err(OfError::BadOutPort));
        assert_eq!(out(OFPP_CONTROLLER).check(false), Ok(()));
        assert_eq!(out(7).check(false), Ok(()));
    }

    #[test]
    fn push_actions_reject_foreign_ethertypes() {
        assert_eq!(
            Action::PushVlan(0x0800).check(false),
            Err(OfError::BadArgument)
        );
        assert_eq!(Action::PushVlan(0x88a8).check(false), Ok(()));
        assert_eq!(
            Action::PushMpls(0x8100).check(false),
            Err(OfError::BadArgument)
        );
        assert_eq!(Action::PushPbb(0x88e7).check(false), Ok(()));
        assert_eq!(
            Action::PushPbb(0x8100).check(false),
            Err(OfError::BadArgument)
        );
    }

    #[test]
    fn set_field_rejects_read_only_fields_and_wide_values() {
        assert_eq!(set(Field::InPort, 1).check(false), Err(OfError::BadSetType));
        assert_eq!(
            set(Field::VlanPcp, 8).check(false),
            Err(OfError::BadSetArgument)
        );
        assert_eq!(set(Field::VlanPcp, 7).check(false), Ok(()));
        let masked = Action::SetField {
            field: Field::IpDscp,
            value: 1,
            mask: Some(0x7f),
        };
        assert_eq!(masked.check(false), Err(OfError::BadSetArgument));
    }
}
