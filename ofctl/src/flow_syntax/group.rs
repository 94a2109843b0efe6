//! Groups and meters in `ovs-ofctl` syntax, parsed into the codec's
//! GROUP_MOD and METER_MOD.
//!
//! A group is `group_id=N,type=TYPE,bucket=...,bucket=...`; each bucket is
//! `[weight:W,][watch_port:P,][watch_group:G,]actions=ACTIONS` (the
//! `actions=` may be left out). A meter is
//! `meter=N,{kbps|pktps}[,burst][,stats],bands=type=drop,rate=R[,burst_size=B]...`.
//! Checks follow Open vSwitch's: a select group's buckets weigh 1 unless
//! told otherwise, a `dscp_remark` band needs `prec_level`, `burst_size`
//! goes with the `burst` flag.

use controller_proto::action::{OFPG_ALL, OFPG_ANY};
use controller_proto::group_mod::{Bucket, GroupMod, GroupModCommand, GroupType};
use controller_proto::meter_mod::{
    MeterBand, MeterBandKind, MeterMod, MeterModCommand, OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS,
    OFPMF_STATS, OFPM_ALL, OFPM_CONTROLLER, OFPM_MAX, OFPM_SLOWPATH,
};
use controller_proto::port::OFPP_ANY;
use datapath::flow::Match;

use super::actions::parse_action_list;
use super::value::{parse_port, parse_u64};
use super::SyntaxError;

fn err(s: &str, msg: String) -> SyntaxError {
    SyntaxError::new(format!("{msg} in \"{s}\""))
}

/// Reads a group id (`all`, `any` or a number).
///
/// # Errors
/// When it is none of those.
pub fn parse_group_id(v: &str) -> Result<u32, String> {
    match v {
        "all" | "ALL" => Ok(OFPG_ALL),
        "any" | "ANY" => Ok(OFPG_ANY),
        _ => parse_u64(v, 32)
            .map(|g| u32::try_from(g).unwrap_or(OFPG_ANY))
            .map_err(|e| format!("bad group id: {e}")),
    }
}

/// Splits a group text into the part before the first bucket and the
/// buckets' texts.
fn split_buckets(s: &str) -> (&str, Vec<&str>) {
    let mut parts = Vec::new();
    let mut rest = s;
    let mut head: Option<&str> = None;
    loop {
        let found = rest
            .find("bucket=")
            .filter(|&i| i == 0 || rest[..i].ends_with([',', ' ', '\t']));
        match found {
            Some(i) => {
                if head.is_none() {
                    head = Some(&rest[..i]);
                } else {
                    parts.push(rest[..i].trim_end_matches([',', ' ', '\t']));
                }
                rest = &rest[i + "bucket=".len()..];
            }
            None => {
                if head.is_none() {
                    return (s, Vec::new());
                }
                parts.push(rest.trim_end_matches([',', ' ', '\t']));
                return (head.unwrap_or(""), parts);
            }
        }
    }
}

fn parse_bucket(text: &str, select: bool, ctx: &str) -> Result<Bucket, SyntaxError> {
    let mut b = Bucket {
        weight: u16::from(select),
        watch_port: OFPP_ANY,
        watch_group: OFPG_ANY,
        actions: Vec::new(),
    };
    let mut rest = text.trim_start_matches([',', ' ']);
    loop {
        let end = rest.find([',', ' ']).unwrap_or(rest.len());
        let token = &rest[..end];
        let (k, v) = match token.find([':', '=']) {
            Some(i) => (&token[..i], &token[i + 1..]),
            None => (token, ""),
        };
        match k {
            "weight" => {
                b.weight = u16::try_from(
                    parse_u64(v, 16).map_err(|e| err(ctx, format!("bad bucket weight: {e}")))?,
                )
                .unwrap_or(0);
            }
            "watch_port" => {
                b.watch_port =
                    parse_port(v).map_err(|e| err(ctx, format!("bad watch_port: {e}")))?;
            }
            "watch_group" => {
                b.watch_group = parse_group_id(v).map_err(|e| err(ctx, e))?;
            }
            "actions" | "action" => {
                let after = &rest[k.len() + 1..];
                let (acts, _) = parse_action_list(after, &Match::catch_all(), ctx)?;
                b.actions = acts;
                return Ok(b);
            }
            _ => {
                let (acts, _) = parse_action_list(rest, &Match::catch_all(), ctx)?;
                b.actions = acts;
                return Ok(b);
            }
        }
        if end >= rest.len() {
            return Ok(b);
        }
        rest = rest[end..].trim_start_matches([',', ' ']);
        if rest.is_empty() {
            return Ok(b);
        }
    }
}

/// Parses a group for `add-group`, `mod-group` (with buckets) or
/// `del-groups`/`dump-groups` (`group_id` only; default all groups).
///
/// # Errors
/// A [`SyntaxError`] naming the token.
pub fn parse_group(command: GroupModCommand, s: &str) -> Result<GroupMod, SyntaxError> {
    let (head, buckets) = split_buckets(s);
    let mut group_id = None;
    let mut ty = None;
    for p in super::lex::pairs(head) {
        match p.key {
            "group_id" => group_id = Some(parse_group_id(p.value).map_err(|e| err(s, e))?),
            "type" => {
                ty = Some(match p.value {
                    "all" => GroupType::OFPGT_ALL,
                    "select" => GroupType::OFPGT_SELECT,
                    "indirect" => GroupType::OFPGT_INDIRECT,
                    "ff" | "fast_failover" => GroupType::OFPGT_FF,
                    v => {
                        return Err(err(
                            s,
                            format!(
                                "unknown group type \"{v}\" (expected all, select, indirect or ff)"
                            ),
                        ))
                    }
                });
            }
            k => {
                let hint = super::fields::suggest(k, ["group_id", "type", "bucket"].into_iter())
                    .map(|h| format!("; did you mean {h}?"))
                    .unwrap_or_default();
                return Err(SyntaxError::new(format!(
                    "unknown keyword \"{k}\" in \"{s}\"{hint}"
                )));
            }
        }
    }
    let is_delete = command == GroupModCommand::OFPGC_DELETE;
    let group_id = match group_id {
        Some(g) => g,
        None if is_delete => OFPG_ALL,
        None => return Err(SyntaxError::new(format!("\"{s}\" must specify group_id"))),
    };
    let ty = match ty {
        Some(t) => t,
        None if is_delete => GroupType::OFPGT_ALL,
        None => return Err(SyntaxError::new(format!("\"{s}\" must specify type"))),
    };
    if !is_delete && group_id > controller_proto::action::OFPG_MAX {
        return Err(err(s, format!("group_id {group_id} is reserved")));
    }
    let select = ty == GroupType::OFPGT_SELECT;
    let buckets = if is_delete {
        Vec::new()
    } else {
        buckets
            .iter()
            .map(|b| parse_bucket(b, select, s))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(GroupMod {
        command,
        group_type: ty,
        group_id,
        buckets,
    })
}

/// Reads a meter id (`all`, `controller`, `slowpath` or 1..OFPM_MAX).
///
/// # Errors
/// When it is none of those.
pub fn parse_meter_id(v: &str) -> Result<u32, String> {
    match v {
        "all" => Ok(OFPM_ALL),
        "controller" => Ok(OFPM_CONTROLLER),
        "slowpath" => Ok(OFPM_SLOWPATH),
        _ => {
            let id = parse_u64(v, 32).map_err(|e| format!("bad meter id: {e}"))?;
            let id = u32::try_from(id).unwrap_or(0);
            if id == 0 || id > OFPM_MAX {
                return Err(format!("meter id {v} is outside 1 to {OFPM_MAX}"));
            }
            Ok(id)
        }
    }
}

/// Parses a meter for `add-meter`/`mod-meter` (flags and bands required) or
/// `del-meter`/`dump-meters`/`meter-stats` (`meter=N` only; default all).
///
/// # Errors
/// A [`SyntaxError`] naming the token.
pub fn parse_meter(command: MeterModCommand, s: &str) -> Result<MeterMod, SyntaxError> {
    let with_bands = command != MeterModCommand::OFPMC_DELETE;
    let (head, bands_text) = if with_bands {
        let i = s.find("band").ok_or_else(|| {
            SyntaxError::new(format!(
                "\"{s}\" must specify bands (bands=type=drop,rate=R)"
            ))
        })?;
        let eq = s[i..].find('=').ok_or_else(|| {
            SyntaxError::new(format!(
                "\"{s}\" must specify bands (bands=type=drop,rate=R)"
            ))
        })?;
        (&s[..i], Some(&s[i + eq + 1..]))
    } else {
        (s, None)
    };
    let tokens: Vec<&str> = head
        .split(['=', ',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .collect();
    let mut flags = 0u16;
    let mut meter_id = None;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "kbps" if with_bands => flags |= OFPMF_KBPS,
            "pktps" if with_bands => flags |= OFPMF_PKTPS,
            "burst" if with_bands => flags |= OFPMF_BURST,
            "stats" if with_bands => flags |= OFPMF_STATS,
            "meter" => {
                let v = tokens
                    .get(i + 1)
                    .ok_or_else(|| SyntaxError::new(format!("meter in \"{s}\" needs a value (meter=N)")))?;
                meter_id = Some(parse_meter_id(v).map_err(|e| err(s, e))?);
                i += 1;
            }
            k => {
                return Err(SyntaxError::new(format!(
                    "unknown keyword \"{k}\" in \"{s}\" (expected meter, kbps, pktps, burst, stats, bands)"
                )))
            }
        }
        i += 1;
    }
    let meter_id = match meter_id {
        Some(m) => m,
        None if !with_bands => OFPM_ALL,
        None => return Err(SyntaxError::new(format!("\"{s}\" must specify meter=N"))),
    };
    if with_bands && flags & (OFPMF_KBPS | OFPMF_PKTPS) == 0 {
        return Err(SyntaxError::new(format!(
            "meter \"{s}\" must specify either kbps or pktps"
        )));
    }
    let mut bands: Vec<MeterBand> = Vec::new();
    if let Some(bt) = bands_text {
        let tokens: Vec<&str> = bt
            .split(['=', ',', ' ', '\t'])
            .filter(|t| !t.is_empty())
            .collect();
        let mut prec_seen: Vec<bool> = Vec::new();
        let mut j = 0;
        while j < tokens.len() {
            let k = tokens[j];
            let v = tokens.get(j + 1).ok_or_else(|| {
                SyntaxError::new(format!("band field {k} in \"{s}\" needs a value"))
            })?;
            let num = |bits: u32| parse_u64(v, bits).map_err(|e| err(s, format!("bad {k}: {e}")));
            match k {
                "type" => {
                    let kind = match *v {
                        "drop" => MeterBandKind::Drop,
                        "dscp_remark" => MeterBandKind::DscpRemark { prec_level: 0 },
                        _ => {
                            return Err(err(
                                s,
                                format!("unknown band type \"{v}\" (expected drop or dscp_remark)"),
                            ))
                        }
                    };
                    bands.push(MeterBand {
                        rate: 0,
                        burst_size: 0,
                        kind,
                    });
                    prec_seen.push(false);
                }
                _ if bands.is_empty() => {
                    return Err(err(s, "a band must start with type=".to_string()));
                }
                "rate" => {
                    if let Some(b) = bands.last_mut() {
                        b.rate = u32::try_from(num(32)?).unwrap_or(0);
                    }
                }
                "burst_size" => {
                    if let Some(b) = bands.last_mut() {
                        b.burst_size = u32::try_from(num(32)?).unwrap_or(0);
                    }
                }
                "prec_level" => {
                    let p = u8::try_from(num(8)?).unwrap_or(0);
                    if let Some(b) = bands.last_mut() {
                        match &mut b.kind {
                            MeterBandKind::DscpRemark { prec_level } => *prec_level = p,
                            _ => {
                                return Err(err(s, "only dscp_remark bands take prec_level".into()))
                            }
                        }
                    }
                    if let Some(x) = prec_seen.last_mut() {
                        *x = true;
                    }
                }
                _ => {
                    return Err(err(
                        s,
                        format!(
                        "unknown band field \"{k}\" (expected type, rate, burst_size, prec_level)"
                    ),
                    ))
                }
            }
            j += 2;
        }
        if bands.is_empty() {
            return Err(err(s, "a meter needs at least one band".into()));
        }
        for b in &bands {
            if let MeterBandKind::DscpRemark { prec_level: 0 } = b.kind {
                return Err(err(s, "a dscp_remark band needs prec_level".into()));
            }
            if b.rate == 0 {
                return Err(err(s, "every band needs a rate".into()));
            }
            if flags & OFPMF_BURST != 0 && b.burst_size == 0 {
                return Err(err(
                    s,
                    "with the burst flag every band needs burst_size".into(),
                ));
            }
            if flags & OFPMF_BURST == 0 && b.burst_size != 0 {
                return Err(err(s, "burst_size needs the burst flag".into()));
            }
        }
    }
    Ok(MeterMod {
        command,
        flags,
        meter_id,
        bands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use controller_proto::action::Action;

    #[test]
    fn select_group_with_weighted_buckets() {
        let g = parse_group(
            GroupModCommand::OFPGC_ADD,
            "group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2",
        )
        .unwrap();
        assert_eq!(g.group_id, 1);
        assert_eq!(g.group_type, GroupType::OFPGT_SELECT);
        assert_eq!(g.buckets.len(), 2);
        assert_eq!(g.buckets[1].weight, 20);
        assert_eq!(
            g.buckets[1].actions,
            vec![Action::Output {
                port: 2,
                max_len: 0
            }]
        );
    }

    #[test]
    fn bucket_actions_may_be_written_bare() {
        let g = parse_group(
            GroupModCommand::OFPGC_ADD,
            "group_id=2,type=all,bucket=output:1,bucket=output:2",
        )
        .unwrap();
        assert_eq!(g.buckets.len(), 2);
        assert_eq!(g.buckets[0].weight, 0);
        let ff = parse_group(
            GroupModCommand::OFPGC_ADD,
            "group_id=3,type=ff,bucket=watch_port:1,actions=output:1",
        )
        .unwrap();
        assert_eq!(ff.buckets[0].watch_port, 1);
    }

    #[test]
    fn deleting_without_an_id_means_every_group() {
        let g = parse_group(GroupModCommand::OFPGC_DELETE, "").unwrap();
        assert_eq!(g.group_id, OFPG_ALL);
    }

    #[test]
    fn meters_parse_flags_and_bands() {
        let m = parse_meter(
            MeterModCommand::OFPMC_ADD,
            "meter=1,kbps,burst,bands=type=drop,rate=1000,burst_size=100",
        )
        .unwrap();
        assert_eq!(m.meter_id, 1);
        assert_eq!(m.flags, OFPMF_KBPS | OFPMF_BURST);
        assert_eq!(m.bands.len(), 1);
        assert_eq!(m.bands[0].burst_size, 100);
        assert!(parse_meter(MeterModCommand::OFPMC_ADD, "meter=1,bands=type=drop,rate=1").is_err());
        assert!(parse_meter(
            MeterModCommand::OFPMC_ADD,
            "meter=1,kbps,bands=type=dscp_remark,rate=1"
        )
        .is_err());
        assert_eq!(
            parse_meter(MeterModCommand::OFPMC_DELETE, "")
                .unwrap()
                .meter_id,
            OFPM_ALL
        );
    }
}
