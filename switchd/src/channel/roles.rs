//! Controller roles (OpenFlow 1.3.5, 6.3.5) and the per-connection
//! asynchronous message configuration (7.3.10).
//!
//! # Design
//!
//! Every connection has a [`Role`] and an [`AsyncConfig`]; the switch has
//! one master-election generation id. Both live in [`RoleState`], owned by
//! the channel behind one mutex, so that "at most one master" holds across
//! connections: granting MASTER to one connection demotes every other
//! master to SLAVE in the same critical section.
//!
//! The generation id is a wrapping 64-bit counter: a MASTER or SLAVE
//! request whose id is older than the last one seen (the signed distance
//! is negative) is refused with `OFPRRFC_STALE`. EQUAL and NOCHANGE
//! requests carry no generation and are never stale.
//!
//! The async configuration decides, per role, which PACKET_IN,
//! PORT_STATUS and FLOW_REMOVED reasons a connection receives; index 0 of
//! each mask pair applies to MASTER and EQUAL, index 1 to SLAVE, with the
//! specification's defaults until the controller sends SET_ASYNC.

use controller_proto::controller::{AsyncConfig, ControllerRole, RoleMsg};
use controller_proto::error::{ErrorKind, RoleRequestFailedCode};
use std::collections::HashMap;

/// A connection's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Full access, receives asynchronous messages (the default).
    Equal,
    /// Full access; at most one connection is master.
    Master,
    /// Read-only; receives only the asynchronous messages it asked for.
    Slave,
}

impl Role {
    /// The wire value.
    pub fn to_wire(self) -> ControllerRole {
        match self {
            Role::Equal => ControllerRole::OFPCR_ROLE_EQUAL,
            Role::Master => ControllerRole::OFPCR_ROLE_MASTER,
            Role::Slave => ControllerRole::OFPCR_ROLE_SLAVE,
        }
    }

    /// Whether the role may change switch state.
    pub fn may_modify(self) -> bool {
        self != Role::Slave
    }
}

/// Kinds of asynchronous message, for [`ConnRoles::wants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncKind {
    /// PACKET_IN with an `OFPR_*` reason.
    PacketIn,
    /// PORT_STATUS with an `OFPPR_*` reason.
    PortStatus,
    /// FLOW_REMOVED with an `OFPRR_*` reason.
    FlowRemoved,
}

/// One connection's role and async configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRoles {
    /// Its role.
    pub role: Role,
    /// Its asynchronous message configuration.
    pub async_config: AsyncConfig,
}

impl Default for ConnRoles {
    fn default() -> ConnRoles {
        ConnRoles {
            role: Role::Equal,
            async_config: AsyncConfig::spec_default(),
        }
    }
}

impl ConnRoles {
    /// Whether a message of `kind` with wire reason `reason` goes to this
    /// connection.
    pub fn wants(&self, kind: AsyncKind, reason: u8) -> bool {
        let i = usize::from(self.role == Role::Slave);
        let masks = match kind {
            AsyncKind::PacketIn => self.async_config.packet_in_mask,
            AsyncKind::PortStatus => self.async_config.port_status_mask,
            AsyncKind::FlowRemoved => self.async_config.flow_removed_mask,
        };
        let mask = masks.get(i).copied().unwrap_or(0);
        reason < 32 && mask & (1u32 << reason) != 0
    }
}

/// Roles of every connection of one switch, and the generation id.
#[derive(Debug, Default)]
pub struct RoleState {
    conns: HashMap<u64, ConnRoles>,
    generation: Option<u64>,
}

impl RoleState {
    /// An empty table.
    pub fn new() -> RoleState {
        RoleState::default()
    }

    /// Registers connection `id` as EQUAL with the default async config.
    pub fn add(&mut self, id: u64) {
        self.conns.insert(id, ConnRoles::default());
    }

    /// Forgets connection `id`.
    pub fn remove(&mut self, id: u64) {
        self.conns.remove(&id);
    }

    /// Connection `id`'s role and async config (the default if unknown).
    pub fn get(&self, id: u64) -> ConnRoles {
        self.conns.get(&id).copied().unwrap_or_default()
    }

    /// Sets connection `id`'s async config.
    pub fn set_async(&mut self, id: u64, config: AsyncConfig) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.async_config = config;
        }
    }

    /// Handles a ROLE_REQUEST from connection `id`; returns the reply's
    /// body or the error to send.
    ///
    /// # Errors
    /// `OFPRRFC_BAD_ROLE` for an unknown role, `OFPRRFC_STALE` for an old
    /// generation id.
    pub fn request(&mut self, id: u64, req: &RoleMsg) -> Result<RoleMsg, ErrorKind> {
        let wanted = match req.role {
            ControllerRole::OFPCR_ROLE_NOCHANGE => None,
            ControllerRole::OFPCR_ROLE_EQUAL => Some(Role::Equal),
            ControllerRole::OFPCR_ROLE_MASTER => Some(Role::Master),
            ControllerRole::OFPCR_ROLE_SLAVE => Some(Role::Slave),
            _ => return Err(RoleRequestFailedCode::OFPRRFC_BAD_ROLE.into()),
        };
        if matches!(wanted, Some(Role::Master | Role::Slave)) {
            if let Some(cur) = self.generation {
                // Signed distance over a wrapping counter: the cast keeps
                // all 64 bits and reinterprets them.
                #[allow(clippy::cast_possible_wrap)]
                let distance = req.generation_id.wrapping_sub(cur) as i64;
                if distance < 0 {
                    return Err(RoleRequestFailedCode::OFPRRFC_STALE.into());
                }
            }
            self.generation = Some(req.generation_id);
        }
        if let Some(role) = wanted {
            if role == Role::Master {
                for (other, c) in self.conns.iter_mut() {
                    if *other != id && c.role == Role::Master {
                        c.role = Role::Slave;
                    }
                }
            }
            self.conns.entry(id).or_default().role = role;
        }
        let role = self.get(id).role;
        Ok(RoleMsg {
            role: role.to_wire(),
            generation_id: self.generation.unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: ControllerRole, generation_id: u64) -> RoleMsg {
        RoleMsg {
            role,
            generation_id,
        }
    }

    #[test]
    fn a_new_master_demotes_the_old_one_to_slave() {
        let mut s = RoleState::new();
        s.add(1);
        s.add(2);
        s.request(1, &req(ControllerRole::OFPCR_ROLE_MASTER, 1))
            .expect("master");
        s.request(2, &req(ControllerRole::OFPCR_ROLE_MASTER, 2))
            .expect("master");
        assert_eq!(s.get(1).role, Role::Slave);
        assert_eq!(s.get(2).role, Role::Master);
    }

    #[test]
    fn an_older_generation_id_is_stale() {
        let mut s = RoleState::new();
        s.add(1);
        s.request(1, &req(ControllerRole::OFPCR_ROLE_MASTER, 10))
            .expect("master");
        assert_eq!(
            s.request(1, &req(ControllerRole::OFPCR_ROLE_SLAVE, 9)),
            Err(RoleRequestFailedCode::OFPRRFC_STALE.into())
        );
        assert!(s
            .request(1, &req(ControllerRole::OFPCR_ROLE_SLAVE, 10))
            .is_ok());
    }

    #[test]
    fn generation_ids_compare_across_the_wrap() {
        let mut s = RoleState::new();
        s.add(1);
        s.request(1, &req(ControllerRole::OFPCR_ROLE_MASTER, u64::MAX))
            .expect("master");
        assert!(s
            .request(1, &req(ControllerRole::OFPCR_ROLE_MASTER, 1))
            .is_ok());
    }

    #[test]
    fn nochange_reports_the_current_role_and_equal_ignores_generations() {
        let mut s = RoleState::new();
        s.add(1);
        let r = s
            .request(1, &req(ControllerRole::OFPCR_ROLE_NOCHANGE, 0))
            .expect("nochange");
        assert_eq!(r.role, ControllerRole::OFPCR_ROLE_EQUAL);
        s.request(1, &req(ControllerRole::OFPCR_ROLE_SLAVE, 50))
            .expect("slave");
        let r = s
            .request(1, &req(ControllerRole::OFPCR_ROLE_EQUAL, 1))
            .expect("equal");
        assert_eq!(r.role, ControllerRole::OFPCR_ROLE_EQUAL);
        assert_eq!(r.generation_id, 50);
    }

    #[test]
    fn an_unknown_role_is_bad_role() {
        let mut s = RoleState::new();
        s.add(1);
        assert_eq!(
            s.request(1, &req(ControllerRole(7), 0)),
            Err(RoleRequestFailedCode::OFPRRFC_BAD_ROLE.into())
        );
    }

    #[test]
    fn async_defaults_follow_the_role() {
        let mut c = ConnRoles::default();
        assert!(c.wants(AsyncKind::PacketIn, 0));
        assert!(c.wants(AsyncKind::PacketIn, 1));
        assert!(!c.wants(AsyncKind::PacketIn, 2));
        assert!(c.wants(AsyncKind::FlowRemoved, 3));
        c.role = Role::Slave;
        assert!(!c.wants(AsyncKind::PacketIn, 0));
        assert!(!c.wants(AsyncKind::FlowRemoved, 0));
        assert!(c.wants(AsyncKind::PortStatus, 2));
    }
}
