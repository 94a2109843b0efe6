//! Instructions of a flow entry, as one record rather than a list.
//!
//! OpenFlow 1.3 allows at most one instruction of each type per flow entry and
//! executes them in a fixed order whatever their order on the wire (5.9):
//! meter, apply-actions, clear-actions, write-actions, write-metadata,
//! goto-table. A struct with one optional member per type states both rules
//! by construction; the codec rejects duplicates when decoding and keeps the
//! wire order separately if it must re-encode byte for byte.

use super::action::Action;

/// The instructions of a flow entry (OpenFlow 1.3.5, 5.9).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Instructions {
    /// Meter to apply first (`OFPIT_METER`).
    pub meter: Option<u32>,
    /// Actions to apply at once, in order (`OFPIT_APPLY_ACTIONS`).
    pub apply_actions: Option<Vec<Action>>,
    /// Clear the action set (`OFPIT_CLEAR_ACTIONS`).
    pub clear_actions: bool,
    /// Actions to merge into the action set (`OFPIT_WRITE_ACTIONS`).
    pub write_actions: Option<Vec<Action>>,
    /// (value, mask) to write into the metadata (`OFPIT_WRITE_METADATA`).
    pub write_metadata: Option<(u64, u64)>,
    /// Next table (`OFPIT_GOTO_TABLE`); must be greater than the current one.
    pub goto_table: Option<u8>,
}

impl Instructions {
    /// No instruction at all: a matching packet is dropped at the end of the
    /// pipeline unless its action set says otherwise.
    pub fn drop() -> Instructions {
        Instructions::default()
    }

    /// Just apply-actions with `actions`.
    pub fn apply(actions: Vec<Action>) -> Instructions {
        Instructions {
            apply_actions: Some(actions),
            ..Instructions::default()
        }
    }

    /// Just write-actions with `actions`.
    pub fn write(actions: Vec<Action>) -> Instructions {
        Instructions {
            write_actions: Some(actions),
            ..Instructions::default()
        }
    }

    /// Adds a goto-table (builder style).
    pub fn with_goto(mut self, table: u8) -> Instructions {
        self.goto_table = Some(table);
        self
    }

    /// Adds a meter (builder style).
    pub fn with_meter(mut self, meter: u32) -> Instructions {
        self.meter = Some(meter);
        self
    }

    /// Every action of apply-actions then write-actions.
    pub fn actions(&self) -> impl Iterator<Item = &Action> + '_ {
        self.apply_actions
            .iter()
            .flatten()
            .chain(self.write_actions.iter().flatten())
    }

    /// Whether an output action to `port` appears in apply- or write-actions
    /// (the `out_port` filter of flow-mod delete and flow stats).
    pub fn outputs_to(&self, port: u32) -> bool {
        self.actions().any(|a| a.output_port() == Some(port))
    }

    /// Whether a group action to `group` appears (the `out_group` filter).
    pub fn forwards_to_group(&self, group: u32) -> bool {
        self.actions().any(|a| a.group_id() == Some(group))
    }

    /// Every group the instructions forward to.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions().filter_map(Action::group_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_port_filter_sees_apply_and_write_actions() {
        let mut i = Instructions::apply(vec![Action::Output {
            port: 1,
            max_len: 0,
        }]);
        i.write_actions = Some(vec![
            Action::Output {
                port: 2,
                max_len: 0,
            },
            Action::Group(9),
        ]);
        assert!(i.outputs_to(1));
        assert!(i.outputs_to(2));
        assert!(!i.outputs_to(3));
        assert!(i.forwards_to_group(9));
        assert!(!i.forwards_to_group(1));
        assert_eq!(i.groups().collect::<Vec<_>>(), vec![9]);
    }

    #[test]
    fn builders_set_one_member_each() {
        let i = Instructions::drop().with_goto(3).with_meter(2);
        assert_eq!(i.goto_table, Some(3));
        assert_eq!(i.meter, Some(2));
        assert!(i.apply_actions.is_none() && i.write_actions.is_none());
        assert_eq!(i.actions().count(), 0);
    }
}
