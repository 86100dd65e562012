//! INFO's `# Replication` section and ROLE: this node's place in the cluster, told twice.
//!
//! First as Redis would tell it, so that tools which read a Redis role keep working: the
//! leader is `role:master` with the members that answer as its connected replicas, and every
//! other member is `role:slave` of the leader, named by the leader's host (from its peer
//! address) and Redis port (which members report in their status). Redis counts replication
//! offsets in bytes of its replication stream; Concord counts them in log entries, which are
//! what its replication ships: a leader's `master_repl_offset` is its last log index, a
//! replica's `offset` the index the leader knows it holds, a follower's `slave_repl_offset`
//! its applied index. The backlog is the log tail after the latest snapshot. Unlike a Redis
//! replica, a follower takes writes (it forwards them to the leader), so it reports
//! `slave_read_only:0`.
//!
//! Then in Concord's own words: one `concord_node<N>:` line per member with its role, term,
//! indexes and how many entries it lags behind the leader's log (from the leader's replication
//! progress), so that anything that scrapes INFO sees the cluster. `CONCORD.STATUS` (see
//! `connection::admin`) reports the same lag.

use std::fmt::Write;

use super::Shared;
use crate::node::{NodeError, NodeStatus};
use crate::resp::Frame;

/// Members' statuses as [`crate::node::Node::member_statuses`] gives them: this node's first.
type Statuses = [(u64, Result<NodeStatus, NodeError>)];

/// Redis's `master_replid2` and the like when there is no second history.
const NO_REPLICATION_ID: &str = "0000000000000000000000000000000000000000";

/// The leader's view of how far each member lags: its last log index minus the member's
/// matched index. Empty when no status came from a leader.
pub(super) fn lags(statuses: &Statuses) -> Vec<(u64, u64)> {
    let Some(leader) = leader_status(statuses) else { return Vec::new() };
    let mut lags: Vec<(u64, u64)> = leader
        .matched
        .iter()
        .map(|(id, matched)| (*id, leader.last_log_index.saturating_sub(*matched)))
        .collect();
    lags.push((leader.id, 0));
    lags
}

/// The status of the member that says it leads, if it answered.
fn leader_status(statuses: &Statuses) -> Option<&NodeStatus> {
    statuses.iter().find_map(|(_, status)| match status {
        Ok(status) if status.role == "leader" => Some(status),
        _ => None,
    })
}

/// How many members other than this one (the first of `statuses`) hold the log up to `index`,
/// as the leader's replication progress says; the leader, when it is another member, holds
/// everything committed. This is WAIT's count.
pub(super) fn holders(statuses: &Statuses, index: u64) -> usize {
    let Some((own_id, _)) = statuses.first() else { return 0 };
    let Some(leader) = leader_status(statuses) else { return 0 };
    let followers =
        leader.matched.iter().filter(|(id, matched)| id != own_id && *matched >= index).count();
    let leader_counts = leader.id != *own_id && leader.last_log_index >= index;
    followers + usize::from(leader_counts)
}

/// The index WAIT waits for: the leader's commit index (at least every write any client was
/// answered for), or this node's applied index while no leader answers.
pub(super) fn index_to_hold(statuses: &Statuses) -> u64 {
    let own = match statuses.first() {
        Some((_, Ok(own))) => own.applied_index,
        _ => 0,
    };
    leader_status(statuses).map_or(own, |leader| leader.commit_index.max(own))
}

/// A member as a Redis tool addresses it: the host of its peer address and its Redis port.
struct RedisAddress {
    host: String,
    port: u16,
}

/// The Redis address of member `id`, when this node knows its peer address and the member
/// answered with its port (it has a Redis listener).
fn redis_address(own: &NodeStatus, status: &NodeStatus) -> Option<RedisAddress> {
    let (_, address) = own.members.iter().find(|(id, _)| *id == status.id)?;
    let host = match address.rsplit_once(':') {
        Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => address.as_str(),
    };
    (status.client_port != 0)
        .then(|| RedisAddress { host: host.to_string(), port: status.client_port })
}

/// A member that answered, as the leader lists it among its replicas.
struct Replica {
    address: RedisAddress,
    /// The last index the leader knows the member holds.
    offset: u64,
}

/// This node's role as Redis names it.
enum RedisRole {
    /// This node leads; the other members that answered are its replicas.
    Master { offset: u64, replicas: Vec<Replica> },
    /// Another member leads, or no one does yet (`leader` is `None` while the leader is
    /// unknown or did not answer).
    Slave { leader: Option<RedisAddress>, read_offset: u64, offset: u64 },
}

/// This node's Redis role from the members' statuses, `None` if this node's own status is not
/// there (the node is stopping).
fn redis_role(statuses: &Statuses) -> Option<(&NodeStatus, RedisRole)> {
    let (_, Ok(own)) = statuses.first()? else { return None };
    if own.role == "leader" {
        let replicas = statuses[1..]
            .iter()
            .filter_map(|(id, status)| {
                let status = status.as_ref().ok()?;
                let offset = own.matched.iter().find(|(member, _)| member == id)?.1;
                Some(Replica { address: redis_address(own, status)?, offset })
            })
            .collect();
        return Some((own, RedisRole::Master { offset: own.last_log_index, replicas }));
    }
    let leader = own.leader.and_then(|leader| {
        let status = statuses.iter().find_map(|(id, status)| match status {
            Ok(status) if *id == leader => Some(status),
            _ => None,
        })?;
        redis_address(own, status)
    });
    Some((
        own,
        RedisRole::Slave { leader, read_offset: own.last_log_index, offset: own.applied_index },
    ))
}

/// Redis's replication id, which changes when the master does: here one per leader and term,
/// the same on every member, in Redis's 40 hexadecimal digits.
fn replication_id(own: &NodeStatus) -> String {
    format!("{:020x}{:020x}", own.leader.unwrap_or(0), own.term)
}

/// ROLE's reply: `master`, its offset and its replicas as `[host, port, offset]`; or `slave`,
/// the leader's host and port, the link's state and this node's offset.
pub(super) async fn role(shared: &Shared) -> Frame {
    let statuses = shared.node.member_statuses().await;
    let Some((_, role)) = redis_role(&statuses) else {
        return Frame::error("ERR the node is stopping");
    };
    match role {
        RedisRole::Master { offset, replicas } => Frame::Array(vec![
            Frame::bulk("master"),
            Frame::Integer(offset as i64),
            Frame::Array(
                replicas
                    .iter()
                    .map(|replica| {
                        Frame::Array(vec![
                            Frame::bulk(&replica.address.host),
                            Frame::bulk(replica.address.port.to_string()),
                            Frame::bulk(replica.offset.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        RedisRole::Slave { leader, offset, .. } => {
            let (host, port, state) = match &leader {
                Some(leader) => (leader.host.as_str(), i64::from(leader.port), "connected"),
                None => ("", 0, "connect"),
            };
            Frame::Array(vec![
                Frame::bulk("slave"),
                Frame::bulk(host),
                Frame::Integer(port),
                Frame::bulk(state),
                Frame::Integer(offset as i64),
            ])
        }
    }
}

/// INFO's `# Replication` section: Redis's fields, then Concord's.
pub(super) async fn replication_info(shared: &Shared, text: &mut String) {
    text.push_str("# Replication\r\n");
    let statuses = shared.node.member_statuses().await;
    if let Some((own, role)) = redis_role(&statuses) {
        redis_fields(own, &role, text);
    }
    if let Some((_, Ok(own))) = statuses.first() {
        let _ = write!(
            text,
            "concord_node_id:{}\r\nconcord_role:{}\r\nconcord_term:{}\r\nconcord_leader_id:{}\r\n\
             concord_commit_index:{}\r\nconcord_applied_index:{}\r\nconcord_members:{}\r\n",
            own.id,
            own.role,
            own.term,
            own.leader.map_or(String::new(), |leader| leader.to_string()),
            own.commit_index,
            own.applied_index,
            own.members.len(),
        );
    }
    if let Some((has_secret, refusals)) = shared.node.peer_authentication() {
        let authentication = if has_secret { "secret" } else { "none" };
        let _ = write!(
            text,
            "concord_peer_auth:{authentication}\r\nconcord_peer_auth_refusals:{refusals}\r\n"
        );
    }
    let lags = lags(&statuses);
    for (id, status) in &statuses {
        let lag = lags.iter().find(|(member, _)| member == id).map(|(_, lag)| *lag);
        let lag = lag.map_or(String::from("unknown"), |lag| lag.to_string());
        match status {
            Ok(status) => {
                let _ = write!(
                    text,
                    "concord_node{id}:role={},term={},last_log_index={},commit_index={},\
                     applied_index={},lag={lag}\r\n",
                    status.role,
                    status.term,
                    status.last_log_index,
                    status.commit_index,
                    status.applied_index,
                );
            }
            Err(_) => {
                let _ = write!(text, "concord_node{id}:role=unreachable,lag={lag}\r\n");
            }
        }
    }
}

/// Redis 7.0's replication fields, in its order, for this node's role.
fn redis_fields(own: &NodeStatus, role: &RedisRole, text: &mut String) {
    match role {
        RedisRole::Master { offset: _, replicas } => {
            let _ = write!(text, "role:master\r\nconnected_slaves:{}\r\n", replicas.len());
            for (number, replica) in replicas.iter().enumerate() {
                // `lag` is seconds since the replica was last heard from: it answered just now.
                let _ = write!(
                    text,
                    "slave{number}:ip={},port={},state=online,offset={},lag=0\r\n",
                    replica.address.host, replica.address.port, replica.offset
                );
            }
        }
        RedisRole::Slave { leader, read_offset, offset } => {
            text.push_str("role:slave\r\n");
            if let Some(leader) = leader {
                let _ =
                    write!(text, "master_host:{}\r\nmaster_port:{}\r\n", leader.host, leader.port);
            }
            let (link, last_io) = if leader.is_some() { ("up", 0) } else { ("down", -1) };
            let _ = write!(
                text,
                "master_link_status:{link}\r\nmaster_last_io_seconds_ago:{last_io}\r\n\
                 master_sync_in_progress:0\r\nslave_read_repl_offset:{read_offset}\r\n\
                 slave_repl_offset:{offset}\r\nslave_priority:100\r\nslave_read_only:0\r\n\
                 replica_announced:1\r\nconnected_slaves:0\r\n"
            );
        }
    }
    let offset = match role {
        RedisRole::Master { offset, .. } => *offset,
        RedisRole::Slave { offset, .. } => *offset,
    };
    let backlog = own.last_log_index.saturating_sub(own.snapshot_index);
    let _ = write!(
        text,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\n\
         master_replid2:{NO_REPLICATION_ID}\r\nmaster_repl_offset:{offset}\r\n\
         second_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{backlog}\r\n\
         repl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{backlog}\r\n",
        replication_id(own),
        own.snapshot_index + 1,
    );
}
