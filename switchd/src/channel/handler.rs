//! The switch's answer to every controller-to-switch message: each request
//! is judged, applied to the pipeline or answered from it, and turned into
//! the replies, errors or notifications OpenFlow 1.3.5 asks for.
//!
//! # Design
//!
//! [`Session::handle`] is synchronous and returns [`Response`]s; the
//! connection task sends them in order. A request is checked in this
//! order: role (a SLAVE may not change state: `OFPBRC_IS_SLAVE`), then the
//! wire-to-model conversion of `controller_proto::convert` (which gives the
//! specification's error for anything malformed), then the pipeline itself
//! under `Shared::modify` (which refuses what needs state to refuse:
//! unknown groups and meters, full tables, overlaps). A refused request
//! changes nothing. Side effects that other controllers must hear of
//! (FLOW_REMOVED for deletes, PORT_STATUS for a port mod) are published to
//! the hub after the change is applied.
//!
//! BARRIER is the one request that is not answered here: the handler
//! returns [`Response::Barrier`] and the connection waits (without
//! blocking the runtime) for every forwarding thread's caches to reflect
//! the pipeline before it replies.

use super::roles::Role;
use super::{Hub, N_TABLES};
use controller_proto::controller::{QueueGetConfigReply, QueueGetConfigRequest};
use controller_proto::convert::{self, Limits};
use controller_proto::error::{
    BadRequestCode, ErrorKind, PortModFailedCode, QueueOpFailedCode, SwitchConfigFailedCode,
    TableFeaturesFailedCode, TableModFailedCode,
};
use controller_proto::flow_mod::FlowMod as WireFlowMod;
use controller_proto::header::FixedStr;
use controller_proto::message::Message;
use controller_proto::meter_mod::{
    MeterFeatures, OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS,
};
use controller_proto::multipart::{
    Desc, GroupFeatures, MultipartReply, MultipartReplyBody, MultipartRequest,
    MultipartRequestBody, QueueStatsRequest, OFPGFC_CHAINING, OFPGFC_SELECT_LIVENESS,
    OFPGFC_SELECT_WEIGHT, OFPQ_ALL,
};
use controller_proto::oxm::OxmField;
use controller_proto::packet_io::PacketOut;
use controller_proto::port::{Port as WirePort, PortMod as WirePortMod};
use controller_proto::switch_config::{
    FeaturesReply, SwitchConfig as WireSwitchConfig, OFPC_FLOW_STATS, OFPC_GROUP_STATS,
    OFPC_PORT_STATS, OFPC_QUEUE_STATS, OFPC_TABLE_STATS,
};
use controller_proto::table::{
    TableFeatureProp, TableFeatures, TableMod, TableOxmId, TableStats as WireTableStats, TypeLenId,
};
use datapath::flow::Field;
use datapath::ofproto::{
    self as model, Pipeline, Port, PortConfig, PortFeatures, OFPCML_MAX, OFPCML_NO_BUFFER,
    OFPP_ANY, OFPP_CONTROLLER, OFPP_TABLE, OFP_NO_BUFFER,
};
use std::sync::Arc;

/// What the connection should do after a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Send this message with the request's xid.
    Reply(Message),
    /// Send an OFPT_ERROR of this kind echoing the request.
    Error(ErrorKind),
    /// Reply to a BARRIER once the caches reflect every earlier change.
    Barrier,
}

fn err(kind: impl Into<ErrorKind>) -> Vec<Response> {
    vec![Response::Error(kind.into())]
}

fn reply(msg: Message) -> Vec<Response> {
    vec![Response::Reply(msg)]
}

/// The limits wire requests are checked against.
pub fn limits() -> Limits {
    Limits {
        n_tables: N_TABLES,
        metadata_write: u64::MAX,
    }
}

/// The wire description of a port.
pub fn port_to_wire(p: &Port) -> WirePort {
    WirePort {
        port_no: p.port_no,
        hw_addr: p.hw_addr,
        name: FixedStr::new(&p.name),
        config: p.config.bits(),
        state: p.state.bits(),
        curr: p.curr.bits(),
        advertised: p.advertised.bits(),
        supported: p.supported.bits(),
        peer: p.peer.bits(),
        curr_speed: p.curr_speed,
        max_speed: p.max_speed,
    }
}

/// One connection's view of the hub: its id, for roles and async config.
#[derive(Clone, Debug)]
pub struct Session {
    hub: Arc<Hub>,
    id: u64,
}

impl Session {
    /// The session of connection `id`.
    pub fn new(hub: Arc<Hub>, id: u64) -> Session {
        Session { hub, id }
    }

    fn role(&self) -> Role {
        self.hub.roles().get(self.id).role
    }

    fn now(&self) -> u64 {
        self.hub.datapath().now_ms()
    }

    /// Handles one message from the controller.
    pub fn handle(&self, msg: Message) -> Vec<Response> {
        let modifies = matches!(
            msg,
            Message::FlowMod(_)
                | Message::GroupMod(_)
                | Message::PortMod(_)
                | Message::TableMod(_)
                | Message::MeterMod(_)
                | Message::PacketOut(_)
                | Message::SetConfig(_)
        ) || matches!(
            &msg,
            Message::MultipartRequest(MultipartRequest {
                body: MultipartRequestBody::TableFeatures(t),
                ..
            }) if !t.is_empty()
        );
        if modifies && !self.role().may_modify() {
            return err(BadRequestCode::OFPBRC_IS_SLAVE);
        }
        match msg {
            Message::FeaturesRequest => reply(Message::FeaturesReply(self.features())),
            Message::GetConfigRequest => {
                let c = *self.hub.shared().read().config();
                reply(Message::GetConfigReply(WireSwitchConfig {
                    flags: c.flags,
                    miss_send_len: c.miss_send_len,
                }))
            }
            Message::SetConfig(c) => self.set_config(c),
            Message::FlowMod(fm) => self.flow_mod(&fm),
            Message::GroupMod(gm) => self.group_mod(&gm),
            Message::MeterMod(mm) => self.meter_mod(&mm),
            Message::PortMod(pm) => self.port_mod(&pm),
            Message::TableMod(tm) => self.table_mod(tm),
            Message::PacketOut(po) => self.packet_out(&po),
            Message::MultipartRequest(req) => self.multipart(req),
            Message::BarrierRequest => vec![Response::Barrier],
            Message::QueueGetConfigRequest(q) => self.queue_get_config(q),
            Message::RoleRequest(r) => match self.hub.roles().request(self.id, &r) {
                Ok(m) => reply(Message::RoleReply(m)),
                Err(e) => err(e),
            },
            Message::GetAsyncRequest => reply(Message::GetAsyncReply(
                self.hub.roles().get(self.id).async_config,
            )),
            Message::SetAsync(c) => {
                self.hub.roles().set_async(self.id, c);
                Vec::new()
            }
            Message::Experimenter(_) => err(BadRequestCode::OFPBRC_BAD_EXPERIMENTER),
            // Replies to nothing and errors the controller reports: nothing
            // to answer (answering an error with an error could loop).
            Message::EchoReply(_) | Message::Error(_) | Message::Hello(_) => Vec::new(),
            Message::EchoRequest(d) => reply(Message::EchoReply(d)),
            // Switch-to-controller messages: the connection refuses them
            // before they get here; refuse them again if they do.
            Message::FeaturesReply(_)
            | Message::GetConfigReply(_)
            | Message::PacketIn(_)
            | Message::FlowRemoved(_)
            | Message::PortStatus(_)
            | Message::MultipartReply(_)
            | Message::BarrierReply
            | Message::QueueGetConfigReply(_)
            | Message::RoleReply(_)
            | Message::GetAsyncReply(_) => err(BadRequestCode::OFPBRC_BAD_TYPE),
        }
    }

    fn features(&self) -> FeaturesReply {
        FeaturesReply {
            datapath_id: self.hub.datapath().datapath_id(),
            n_buffers: u32::try_from(self.hub.buffers().capacity()).unwrap_or(0),
            n_tables: N_TABLES,
            auxiliary_id: 0,
            capabilities: OFPC_FLOW_STATS
                | OFPC_TABLE_STATS
                | OFPC_PORT_STATS
                | OFPC_GROUP_STATS
                | OFPC_QUEUE_STATS,
            reserved: 0,
        }
    }

    fn set_config(&self, c: WireSwitchConfig) -> Vec<Response> {
        if c.miss_send_len > OFPCML_MAX && c.miss_send_len != OFPCML_NO_BUFFER {
            return err(SwitchConfigFailedCode::OFPSCFC_BAD_LEN);
        }
        let cfg = model::SwitchConfig {
            flags: c.flags,
            miss_send_len: c.miss_send_len,
        };
        match self.hub.shared().modify(|p| p.set_config(cfg)) {
            Ok(()) => Vec::new(),
            Err(e) => err(e),
        }
    }

    /// Runs a buffered packet through the pipeline from table 0.
    fn release_buffer(&self, buffer_id: u32) -> Vec<Response> {
        let now = self.hub.clock_ms();
        let taken = self.hub.buffers().take(buffer_id, now);
        match taken {
            Ok(b) => {
                let out = [model::Action::Output {
                    port: OFPP_TABLE,
                    max_len: 0,
                }];
                match self.hub.datapath().packet_out(b.in_port, &out, &b.frame) {
                    Ok(()) => Vec::new(),
                    Err(e) => err(e),
                }
            }
            Err(super::packet_in::BufferError::Unknown) => {
                err(BadRequestCode::OFPBRC_BUFFER_UNKNOWN)
            }
            Err(super::packet_in::BufferError::Empty) => err(BadRequestCode::OFPBRC_BUFFER_EMPTY),
        }
    }

    fn flow_mod(&self, fm: &WireFlowMod) -> Vec<Response> {
        let req = match convert::flow_mod_from_wire(fm, &limits()) {
            Ok(r) => r,
            Err(e) => return err(e),
        };
        let now = self.now();
        let outcome = match self.hub.shared().modify(|p| p.flow_mod(&req, now)) {
            Ok(o) => o,
            Err(e) => return err(e),
        };
        if !outcome.removed.is_empty() {
            self.hub.datapath().flow_removed(outcome.removed);
        }
        let adds = matches!(
            req.command,
            model::FlowModCommand::Add
                | model::FlowModCommand::Modify
                | model::FlowModCommand::ModifyStrict
        );
        if adds && req.buffer_id != OFP_NO_BUFFER {
            return self.release_buffer(req.buffer_id);
        }
        Vec::new()
    }

    fn group_mod(&self, gm: &controller_proto::group_mod::GroupMod) -> Vec<Response> {
        let req = match convert::group_mod_from_wire(gm) {
            Ok(r) => r,
            Err(e) => return err(e),
        };
        let now = self.now();
        match self.hub.shared().modify(|p| p.group_mod(&req, now)) {
            Ok(o) => {
                if !o.removed.is_empty() {
                    self.hub.datapath().flow_removed(o.removed);
                }
                Vec::new()
            }
            Err(e) => err(e),
        }
    }

    fn meter_mod(&self, mm: &controller_proto::meter_mod::MeterMod) -> Vec<Response> {
        let req = match convert::meter_mod_from_wire(mm) {
            Ok(r) => r,
            Err(e) => return err(e),
        };
        let now = self.now();
        match self.hub.shared().modify(|p| p.meter_mod(&req, now)) {
            Ok(o) => {
                if !o.removed.is_empty() {
                    self.hub.datapath().flow_removed(o.removed);
                }
                Vec::new()
            }
            Err(e) => err(e),
        }
    }

    fn port_mod(&self, pm: &WirePortMod) -> Vec<Response> {
        let (Some(config), Some(mask)) = (
            PortConfig::from_bits(pm.config),
            PortConfig::from_bits(pm.mask),
        ) else {
            return err(PortModFailedCode::OFPPMFC_BAD_CONFIG);
        };
        let Some(advertise) = PortFeatures::from_bits(pm.advertise) else {
            return err(PortModFailedCode::OFPPMFC_BAD_ADVERTISE);
        };
        let req = model::PortMod {
            port_no: pm.port_no,
            hw_addr: pm.hw_addr,
            config,
            mask,
            advertise,
        };
        match self.hub.datapath().port_mod(&req) {
            Ok(()) => Vec::new(),
            Err(e) => err(e),
        }
    }

    fn table_mod(&self, tm: TableMod) -> Vec<Response> {
        if tm.table_id >= N_TABLES && tm.table_id != model::OFPTT_ALL {
            return err(TableModFailedCode::OFPTMFC_BAD_TABLE);
        }
        match self
            .hub
            .shared()
            .modify(|p| p.table_mod(tm.table_id, tm.config))
        {
            Ok(()) => Vec::new(),
            Err(e) => err(e),
        }
    }

    fn packet_out(&self, po: &PacketOut) -> Vec<Response> {
        // OFPP_ANY stands for "no port", as OFPP_CONTROLLER does.
        let in_port = if po.in_port == OFPP_ANY {
            OFPP_CONTROLLER
        } else {
            po.in_port
        };
        let checked_po;
        let po_ref = if in_port == po.in_port && po.buffer_id == OFP_NO_BUFFER {
            po
        } else {
            checked_po = PacketOut {
                in_port,
                buffer_id: po.buffer_id,
                actions: po.actions.clone(),
                // A buffered packet-out's data is ignored; give the check
                // something so that it judges the rest.
                data: if po.buffer_id == OFP_NO_BUFFER {
                    po.data.clone()
                } else {
                    Vec::new()
                },
            };
            &checked_po
        };
        let req = match convert::packet_out_from_wire(po_ref) {
            Ok(r) => r,
            Err(e) => return err(e),
        };
        if let Err(e) = self
            .hub
            .shared()
            .read()
            .check_packet_out_actions(&req.actions)
        {
            return err(e);
        }
        let frame = if po.buffer_id == OFP_NO_BUFFER {
            po.data.clone()
        } else {
            let now = self.hub.clock_ms();
            let taken = self.hub.buffers().take(po.buffer_id, now);
            match taken {
                Ok(b) => b.frame,
                Err(super::packet_in::BufferError::Unknown) => {
                    return err(BadRequestCode::OFPBRC_BUFFER_UNKNOWN)
                }
                Err(super::packet_in::BufferError::Empty) => {
                    return err(BadRequestCode::OFPBRC_BUFFER_EMPTY)
                }
            }
        };
        match self
            .hub
            .datapath()
            .packet_out(po.in_port, &req.actions, &frame)
        {
            Ok(()) => Vec::new(),
            Err(e) => err(e),
        }
    }

    fn queue_get_config(&self, q: QueueGetConfigRequest) -> Vec<Response> {
        if q.port != OFPP_ANY && self.hub.shared().read().port(q.port).is_none() {
            return err(QueueOpFailedCode::OFPQOFC_BAD_PORT);
        }
        reply(Message::QueueGetConfigReply(QueueGetConfigReply {
            port: q.port,
            queues: Vec::new(),
        }))
    }

    fn multipart(&self, req: MultipartRequest) -> Vec<Response> {
        let body = match self.multipart_body(req.body) {
            Ok(b) => b,
            Err(e) => return err(e),
        };
        reply(Message::MultipartReply(MultipartReply::new(body)))
    }

    fn multipart_body(&self, body: MultipartRequestBody) -> Result<MultipartReplyBody, ErrorKind> {
        use MultipartReplyBody as R;
        use MultipartRequestBody as Q;
        let shared = Arc::clone(self.hub.shared());
        let now = self.now();
        Ok(match body {
            Q::Desc => R::Desc(Box::new(self.desc())),
            Q::Flow(f) => {
                let sel = convert::flow_stats_request_from_wire(&f, &limits())?;
                let p = shared.read();
                R::Flow(
                    p.flow_stats(&sel)
                        .iter()
                        .map(|r| convert::flow_stats_to_wire(r, now))
                        .collect(),
                )
            }
            Q::Aggregate(f) => {
                let sel = convert::flow_stats_request_from_wire(&f, &limits())?;
                R::Aggregate(convert::aggregate_to_wire(
                    &shared.read().aggregate_stats(&sel),
                ))
            }
            Q::Table => R::Table(
                shared
                    .read()
                    .table_stats()
                    .into_iter()
                    .filter(|t| t.table_id < N_TABLES)
                    .map(|t| WireTableStats {
                        table_id: t.table_id,
                        active_count: t.active_count,
                        lookup_count: t.lookup_count,
                        matched_count: t.matched_count,
                    })
                    .collect(),
            ),
            Q::PortStats(r) => R::PortStats(
                self.hub
                    .datapath()
                    .port_stats()
                    .into_iter()
                    .filter(|s| r.port_no == OFPP_ANY || s.port_no == r.port_no)
                    .collect(),
            ),
            Q::Queue(q) => R::Queue(self.queue_stats(q)?),
            Q::Group(g) => R::Group(
                shared
                    .read()
                    .group_stats(g.group_id, now)
                    .iter()
                    .map(convert::group_stats_to_wire)
                    .collect(),
            ),
            Q::GroupDesc => R::GroupDesc(
                shared
                    .read()
                    .group_desc()
                    .iter()
                    .map(|g| convert::group_desc_to_wire(g))
                    .collect(),
            ),
            Q::GroupFeatures => R::GroupFeatures(group_features(&shared.read())),
            Q::Meter(m) => R::Meter(
                shared
                    .read()
                    .meter_stats(m.meter_id, now)
                    .iter()
                    .map(convert::meter_stats_to_wire)
                    .collect(),
            ),
            Q::MeterConfig(m) => R::MeterConfig(
                shared
                    .read()
                    .meter_config(m.meter_id)
                    .iter()
                    .map(|m| convert::meter_config_to_wire(m))
                    .collect(),
            ),
            Q::MeterFeatures => R::MeterFeatures(MeterFeatures {
                max_meter: u32::try_from(shared.read().max_meters()).unwrap_or(u32::MAX),
                band_types: (1 << 1) | (1 << 2),
                capabilities: u32::from(OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS),
                max_bands: u8::try_from(model::meter::MAX_BANDS).unwrap_or(u8::MAX),
                max_color: 0,
            }),
            Q::TableFeatures(t) => {
                if !t.is_empty() {
                    self.set_table_features(&t)?;
                }
                R::TableFeatures(self.table_features())
            }
            Q::PortDesc => R::PortDesc(super::ports_to_wire(shared.read().ports())),
            Q::Experimenter(_) => return Err(BadRequestCode::OFPBRC_BAD_EXPERIMENTER.into()),
        })
    }

    fn desc(&self) -> Desc {
        Desc {
            mfr_desc: FixedStr::new("switchd project"),
            hw_desc: FixedStr::new("userspace datapath"),
            sw_desc: FixedStr::new(concat!("switchd ", env!("CARGO_PKG_VERSION"))),
            serial_num: FixedStr::new("none"),
            dp_desc: FixedStr::new(&self.hub.datapath().name()),
        }
    }

    fn queue_stats(
        &self,
        q: QueueStatsRequest,
    ) -> Result<Vec<controller_proto::multipart::QueueStats>, ErrorKind> {
        // No port has queues configured: every selection is empty, but the
        // ports and queues named must exist.
        if q.port_no != OFPP_ANY && self.hub.shared().read().port(q.port_no).is_none() {
            return Err(QueueOpFailedCode::OFPQOFC_BAD_PORT.into());
        }
        if q.queue_id != OFPQ_ALL {
            return Err(QueueOpFailedCode::OFPQOFC_BAD_QUEUE.into());
        }
        Ok(Vec::new())
    }

    /// What every table supports (they are all alike).
    fn table_features(&self) -> Vec<TableFeatures> {
        let names = self.hub.table_names().clone();
        let p = self.hub.shared().read();
        (0..N_TABLES)
            .map(|id| {
                let (name, max_entries, config) = p.table(id).map_or_else(
                    || (format!("table{id}"), 0, 0),
                    |t| (t.name.clone(), t.max_entries, t.config),
                );
                let name = names.get(&id).cloned().unwrap_or(name);
                TableFeatures {
                    table_id: id,
                    name: FixedStr::new(&name),
                    metadata_match: u64::MAX,
                    metadata_write: u64::MAX,
                    config,
                    max_entries: u32::try_from(max_entries).unwrap_or(u32::MAX),
                    properties: table_properties(id),
                }
            })
            .collect()
    }

    /// Applies a TABLE_FEATURES request: every table it lists must exist
    /// and ask for no more than the table supports; its name and size are
    /// then taken. Every table of this switch supports every instruction,
    /// action and field, so a narrower request is met without change to
    /// what the table accepts; tables the request does not list keep their
    /// configuration.
    fn set_table_features(&self, tables: &[TableFeatures]) -> Result<(), ErrorKind> {
        for t in tables {
            if t.table_id >= N_TABLES {
                return Err(TableFeaturesFailedCode::OFPTFFC_BAD_TABLE.into());
            }
            // Every metadata bit is supported, so any mask is a subset.
            let supported = table_properties(t.table_id);
            for prop in &t.properties {
                if !prop_supported(prop, &supported) {
                    return Err(match prop {
                        TableFeatureProp::Experimenter { .. } => {
                            TableFeaturesFailedCode::OFPTFFC_BAD_TYPE
                        }
                        _ => TableFeaturesFailedCode::OFPTFFC_BAD_ARGUMENT,
                    }
                    .into());
                }
            }
        }
        self.hub.shared().modify(|p| {
            for t in tables {
                let n = usize::try_from(t.max_entries).unwrap_or(usize::MAX);
                let _ = p.set_table_max_entries(t.table_id, n);
            }
        });
        let mut names = self.hub.table_names();
        for t in tables {
            names.insert(t.table_id, t.name.to_string());
        }
        Ok(())
    }
}

/// `OFPAT_*` numbers of every action the pipeline runs.
const ACTION_TYPES: &[u16] = &[
    0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
];
/// `OFPIT_*` numbers of every instruction (goto, write-metadata,
/// write-actions, apply-actions, clear-actions, meter).
const INSTRUCTION_TYPES: &[u16] = &[1, 2, 3, 4, 5, 6];

fn oxm_id(f: Field) -> TableOxmId {
    let of = OxmField::exact(f, 0);
    let (class, field, _) = of.header_parts();
    let len = u32::try_from(of.payload_len()).unwrap_or(0) & 0xff;
    TableOxmId::new((u32::from(class) << 16) | (u32::from(field) << 9) | len)
}

fn basic_fields() -> impl Iterator<Item = Field> {
    Field::ALL.iter().copied().filter(|f| f.is_oxm_basic())
}

/// The properties of table `id`.
fn table_properties(id: u8) -> Vec<TableFeatureProp> {
    let ids = |v: &[u16]| v.iter().map(|t| TypeLenId::new(*t)).collect::<Vec<_>>();
    let next: Vec<u8> = (id.saturating_add(1)..N_TABLES).collect();
    let matchable: Vec<TableOxmId> = basic_fields().map(oxm_id).collect();
    let settable: Vec<TableOxmId> = basic_fields()
        .filter(|f| model::action::field_is_settable(*f))
        .map(oxm_id)
        .collect();
    let mut props = Vec::with_capacity(14);
    for miss in [false, true] {
        props.push(TableFeatureProp::Instructions {
            miss,
            ids: ids(INSTRUCTION_TYPES),
        });
        props.push(TableFeatureProp::NextTables {
            miss,
            tables: next.clone(),
        });
        props.push(TableFeatureProp::WriteActions {
            miss,
            ids: ids(ACTION_TYPES),
        });
        props.push(TableFeatureProp::ApplyActions {
            miss,
            ids: ids(ACTION_TYPES),
        });
    }
    props.push(TableFeatureProp::Match(matchable.clone()));
    props.push(TableFeatureProp::Wildcards(matchable));
    for miss in [false, true] {
        props.push(TableFeatureProp::WriteSetfield {
            miss,
            ids: settable.clone(),
        });
        props.push(TableFeatureProp::ApplySetfield {
            miss,
            ids: settable.clone(),
        });
    }
    props
}

/// Whether a requested property asks for no more than `supported` offers.
fn prop_supported(req: &TableFeatureProp, supported: &[TableFeatureProp]) -> bool {
    use TableFeatureProp as P;
    fn subset<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.iter().all(|x| b.contains(x))
    }
    fn oxm_subset(a: &[TableOxmId], b: &[TableOxmId]) -> bool {
        // A masked id (hasmask bit) names the same field as the unmasked one.
        a.iter().all(|x| {
            let plain = x.header & !(1 << 8);
            let plain = if x.header & (1 << 8) != 0 {
                // hasmask doubles the payload length.
                (plain & !0xff) | ((plain & 0xff) / 2)
            } else {
                plain
            };
            x.experimenter.is_none() && b.iter().any(|y| y.header == plain)
        })
    }
    supported.iter().any(|s| match (req, s) {
        (P::Instructions { miss: a, ids: x }, P::Instructions { miss: b, ids: y })
        | (P::WriteActions { miss: a, ids: x }, P::WriteActions { miss: b, ids: y })
        | (P::ApplyActions { miss: a, ids: x }, P::ApplyActions { miss: b, ids: y }) => {
            a == b && subset(x, y)
        }
        (P::NextTables { miss: a, tables: x }, P::NextTables { miss: b, tables: y }) => {
            a == b && subset(x, y)
        }
        (P::Match(x), P::Match(y)) | (P::Wildcards(x), P::Wildcards(y)) => oxm_subset(x, y),
        (P::WriteSetfield { miss: a, ids: x }, P::WriteSetfield { miss: b, ids: y })
        | (P::ApplySetfield { miss: a, ids: x }, P::ApplySetfield { miss: b, ids: y }) => {
            a == b && oxm_subset(x, y)
        }
        _ => false,
    })
}

fn group_features(p: &Pipeline) -> GroupFeatures {
    let max = u32::try_from(p.max_groups()).unwrap_or(u32::MAX);
    let actions = ACTION_TYPES
        .iter()
        .fold(0u32, |acc, t| acc | (1u32 << (*t & 31)));
    GroupFeatures {
        types: 0b1111,
        capabilities: OFPGFC_SELECT_WEIGHT | OFPGFC_SELECT_LIVENESS | OFPGFC_CHAINING,
        max_groups: [max; 4],
        actions: [actions; 4],
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::channel::{ChannelSettings, Datapath};
    use controller_proto::action::Action as WireAction;
    use controller_proto::controller::{ControllerRole, RoleMsg};
    use controller_proto::error::{BadMatchCode, FlowModFailedCode, RoleRequestFailedCode};
    use controller_proto::flow_mod::{FlowModCommand, OFPFF_SEND_FLOW_REM};
    use controller_proto::instruction::Instruction;
    use controller_proto::oxm::OfpMatch;
    use controller_proto::port::PortStats;
    use datapath::dpif::Shared;
    use std::sync::Mutex;

    /// A recorded packet-out: in port, actions, frame.
    pub(crate) type Out = (u32, Vec<model::Action>, Vec<u8>);

    /// A bridge with a pipeline and nothing else: packet-outs are recorded.
    pub(crate) struct FakeDp {
        pub shared: Arc<Shared>,
        pub outs: Mutex<Vec<Out>>,
        pub connected: Mutex<Vec<bool>>,
        pub removed: Mutex<Vec<model::RemovedRule>>,
    }

    impl FakeDp {
        pub(crate) fn new() -> Arc<FakeDp> {
            let mut p = Pipeline::new();
            for n in 1..=3u8 {
                p.add_port(Port::new(
                    u32::from(n),
                    &format!("p{n}"),
                    [2, 0, 0, 0, 0, 0x10 + n],
                ));
            }
            Arc::new(FakeDp {
                shared: Arc::new(Shared::new(p)),
                outs: Mutex::new(Vec::new()),
                connected: Mutex::new(Vec::new()),
                removed: Mutex::new(Vec::new()),
            })
        }
    }

    impl Datapath for FakeDp {
        fn name(&self) -> String {
            "br0".into()
        }
        fn datapath_id(&self) -> u64 {
            0x42
        }
        fn shared(&self) -> Arc<Shared> {
            Arc::clone(&self.shared)
        }
        fn now_ms(&self) -> u64 {
            1_000
        }
        fn port_stats(&self) -> Vec<PortStats> {
            vec![PortStats {
                port_no: 1,
                rx_packets: 5,
                ..PortStats::default()
            }]
        }
        fn packet_out(
            &self,
            in_port: u32,
            actions: &[model::Action],
            frame: &[u8],
        ) -> Result<(), ErrorKind> {
            self.outs
                .lock()
                .unwrap()
                .push((in_port, actions.to_vec(), frame.to_vec()));
            Ok(())
        }
        fn set_controller_connected(&self, connected: bool) {
            self.connected.lock().unwrap().push(connected);
        }
        fn port_mod(&self, pm: &model::PortMod) -> Result<(), ErrorKind> {
            self.shared
                .modify(|p| p.port_mod(pm))
                .map(|_| ())
                .map_err(ErrorKind::from)
        }
        fn flow_removed(&self, removed: Vec<model::RemovedRule>) {
            self.removed.lock().unwrap().extend(removed);
        }
    }

    fn session() -> (Arc<FakeDp>, Arc<Hub>, Session, Session) {
        let dp = FakeDp::new();
        let hub = Hub::new(dp.clone(), ChannelSettings::default());
        let (a, _) = hub.register(super::super::ConnKind::Controller, "a".into());
        let (b, _) = hub.register(super::super::ConnKind::Controller, "b".into());
        let sa = Session::new(Arc::clone(&hub), a);
        let sb = Session::new(Arc::clone(&hub), b);
        (dp, hub, sa, sb)
    }

    pub(crate) fn add_flow(tcp_dst: u128, actions: Vec<WireAction>) -> WireFlowMod {
        WireFlowMod {
            priority: 10,
            flags: OFPFF_SEND_FLOW_REM,
            match_: OfpMatch::catch_all()
                .exact(Field::EthType, 0x0800)
                .exact(Field::IpProto, 6)
                .exact(Field::TcpDst, tcp_dst),
            instructions: vec![Instruction::ApplyActions(actions)],
            ..WireFlowMod::default()
        }
    }

    fn out(port: u32) -> WireAction {
        WireAction::Output { port, max_len: 0 }
    }

    #[test]
    fn features_report_the_datapath_and_254_tables() {
        let (_, _, s, _) = session();
        let r = s.handle(Message::FeaturesRequest);
        let [Response::Reply(Message::FeaturesReply(f))] = &r[..] else {
            panic!("{r:?}");
        };
        assert_eq!(f.datapath_id, 0x42);
        assert_eq!(f.n_tables, 254);
        assert_eq!(f.n_buffers, 256);
    }

    #[test]
    fn flow_mods_install_and_show_in_flow_stats() {
        let (dp, _, s, _) = session();
        assert!(s
            .handle(Message::FlowMod(add_flow(80, vec![out(2)])))
            .is_empty());
        assert_eq!(dp.shared.read().rule_count(), 1);
        let r = s.handle(Message::MultipartRequest(MultipartRequest::new(
            MultipartRequestBody::Flow(controller_proto::stats_flow::FlowStatsRequest {
                table_id: model::OFPTT_ALL,
                out_port: OFPP_ANY,
                out_group: model::OFPG_ANY,
                cookie: 0,
                cookie_mask: 0,
                match_: OfpMatch::catch_all(),
            }),
        )));
        let [Response::Reply(Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Flow(f),
            ..
        }))] = &r[..]
        else {
            panic!("{r:?}");
        };
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].priority, 10);
    }

    #[test]
    fn a_bad_prerequisite_is_a_bad_match_error_and_changes_nothing() {
        let (dp, _, s, _) = session();
        let mut fm = add_flow(80, vec![out(2)]);
        fm.match_ = OfpMatch::catch_all().exact(Field::TcpDst, 80);
        assert_eq!(
            s.handle(Message::FlowMod(fm)),
            err(BadMatchCode::OFPBMC_BAD_PREREQ)
        );
        assert_eq!(dp.shared.read().rule_count(), 0);
    }

    #[test]
    fn a_flow_mod_to_table_254_is_a_bad_table_id() {
        let (_, _, s, _) = session();
        let mut fm = add_flow(80, vec![out(2)]);
        fm.table_id = 254;
        assert_eq!(
            s.handle(Message::FlowMod(fm)),
            err(FlowModFailedCode::OFPFMFC_BAD_TABLE_ID)
        );
    }

    #[test]
    fn a_slave_may_read_but_not_modify() {
        let (_, _, a, b) = session();
        let m = |role, generation_id| {
            Message::RoleRequest(RoleMsg {
                role,
                generation_id,
            })
        };
        assert!(matches!(
            a.handle(m(ControllerRole::OFPCR_ROLE_MASTER, 1))[..],
            [Response::Reply(Message::RoleReply(_))]
        ));
        b.handle(m(ControllerRole::OFPCR_ROLE_SLAVE, 1));
        assert_eq!(
            b.handle(Message::FlowMod(add_flow(80, vec![out(2)]))),
            err(BadRequestCode::OFPBRC_IS_SLAVE)
        );
        assert!(matches!(
            b.handle(Message::FeaturesRequest)[..],
            [Response::Reply(_)]
        ));
        assert_eq!(
            b.handle(m(ControllerRole::OFPCR_ROLE_MASTER, 0)),
            err(RoleRequestFailedCode::OFPRRFC_STALE)
        );
    }

    #[test]
    fn a_delete_announces_the_removed_rule_and_the_hub_sends_flow_removed() {
        let dp = FakeDp::new();
        let hub = Hub::new(dp.clone(), ChannelSettings::default());
        let (id, mut rx) = hub.register(super::super::ConnKind::Controller, "a".into());
        hub.established(id);
        let s = Session::new(Arc::clone(&hub), id);
        s.handle(Message::FlowMod(add_flow(80, vec![out(2)])));
        let mut del = add_flow(80, Vec::new());
        del.command = FlowModCommand::OFPFC_DELETE;
        del.table_id = model::OFPTT_ALL;
        assert!(s.handle(Message::FlowMod(del)).is_empty());
        let removed = std::mem::take(&mut *dp.removed.lock().unwrap());
        assert_eq!(removed.len(), 1);
        hub.publish_flow_removed(&removed[0]);
        let Ok(Message::FlowRemoved(fr)) = rx.try_recv() else {
            panic!("no flow removed");
        };
        assert_eq!(fr.reason.0, 2);
        assert_eq!(fr.priority, 10);
    }

    #[test]
    fn packet_out_with_an_unknown_buffer_is_buffer_unknown() {
        let (_, _, s, _) = session();
        let po = PacketOut {
            buffer_id: 77,
            in_port: OFPP_CONTROLLER,
            actions: vec![out(1)],
            data: Vec::new(),
        };
        assert_eq!(
            s.handle(Message::PacketOut(po)),
            err(BadRequestCode::OFPBRC_BUFFER_UNKNOWN)
        );
    }

    #[test]
    fn packet_out_from_any_runs_the_actions() {
        let (dp, _, s, _) = session();
        let po = PacketOut {
            buffer_id: OFP_NO_BUFFER,
            in_port: OFPP_ANY,
            actions: vec![out(OFPP_TABLE)],
            data: vec![0; 60],
        };
        assert!(s.handle(Message::PacketOut(po)).is_empty());
        let outs = dp.outs.lock().unwrap();
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].0, OFPP_ANY);
    }

    #[test]
    fn table_features_list_254_tables_and_accept_a_narrower_request() {
        let (_, _, s, _) = session();
        let get = || {
            s.handle(Message::MultipartRequest(MultipartRequest::new(
                MultipartRequestBody::TableFeatures(Vec::new()),
            )))
        };
        let r = get();
        let [Response::Reply(Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::TableFeatures(t),
            ..
        }))] = &r[..]
        else {
            panic!("{r:?}");
        };
        assert_eq!(t.len(), 254);
        let mut req = t[3].clone();
        req.name = FixedStr::new("acl");
        req.max_entries = 10;
        req.properties.truncate(2);
        let r = s.handle(Message::MultipartRequest(MultipartRequest::new(
            MultipartRequestBody::TableFeatures(vec![req.clone()]),
        )));
        assert!(matches!(r[..], [Response::Reply(_)]));
        let r = get();
        let [Response::Reply(Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::TableFeatures(t),
            ..
        }))] = &r[..]
        else {
            panic!("{r:?}");
        };
        assert_eq!(t[3].name.to_string(), "acl");
        assert_eq!(t[3].max_entries, 10);
        req.table_id = 254;
        assert_eq!(
            s.handle(Message::MultipartRequest(MultipartRequest::new(
                MultipartRequestBody::TableFeatures(vec![req]),
            ))),
            err(TableFeaturesFailedCode::OFPTFFC_BAD_TABLE)
        );
    }

    #[test]
    fn queue_config_of_an_unknown_port_is_bad_port() {
        let (_, _, s, _) = session();
        assert_eq!(
            s.handle(Message::QueueGetConfigRequest(QueueGetConfigRequest {
                port: 99
            })),
            err(QueueOpFailedCode::OFPQOFC_BAD_PORT)
        );
    }
}
