//! `CONCORD.*` commands and INFO's replication section: the cluster as clients and operators
//! see it.
//!
//! `CONCORD.STATUS` replies with one map per member, this node first: its id, role, term, the
//! leader it knows, its last log, commit, applied and snapshot indexes, and, from the leader's
//! replication progress, how many entries it lags behind the leader's log; this node's map also
//! has `storage` (`ok`, `disk-full` or `failed`, as INFO's `concord_storage_status`), which
//! other members do not send (the peer protocol's status is unchanged). A member that does
//! not answer is listed with `error`. The same figures appear in INFO replication, one
//! `concord_node<N>:` line per member, so that anything that scrapes INFO sees the cluster.

use std::fmt::Write;

use super::connection::Connection;
use super::Shared;
use crate::command::control::cluster::ClusterAdmin;
use crate::node::{AdminRequest, NodeError, NodeStatus};
use crate::resp::Frame;

/// Runs one `CONCORD.*` command.
pub(super) async fn execute(connection: &mut Connection, command: ClusterAdmin) -> Frame {
    let node = &connection.shared.node;
    let request = match command {
        ClusterAdmin::Status => {
            let storage = node.storage_status();
            return status_frame(&node.cluster_status().await, storage.name());
        }
        ClusterAdmin::AddNode { id, address } => AdminRequest::AddNode { id, address },
        ClusterAdmin::RemoveNode { id } => AdminRequest::RemoveNode { id },
        ClusterAdmin::TransferLeader { id } => AdminRequest::TransferLeader { to: id },
    };
    match node.admin(request.clone()).await {
        Ok(outcome) => {
            tracing::info!(?request, %outcome, "cluster change");
            Frame::ok()
        }
        Err(error) => {
            tracing::warn!(?request, %error, "cluster change failed");
            error.to_frame()
        }
    }
}

/// The leader's view of how far each member lags: its last log index minus the member's
/// matched index. Empty when no status came from a leader.
fn lags(statuses: &[(u64, Result<NodeStatus, NodeError>)]) -> Vec<(u64, u64)> {
    let leader = statuses.iter().find_map(|(_, status)| match status {
        Ok(status) if status.role == "leader" => Some(status),
        _ => None,
    });
    let Some(leader) = leader else { return Vec::new() };
    let mut lags: Vec<(u64, u64)> = leader
        .matched
        .iter()
        .map(|(id, matched)| (*id, leader.last_log_index.saturating_sub(*matched)))
        .collect();
    lags.push((leader.id, 0));
    lags
}

/// The reply of `CONCORD.STATUS`; `own_storage` is this node's (the first member's) storage.
fn status_frame(statuses: &[(u64, Result<NodeStatus, NodeError>)], own_storage: &str) -> Frame {
    let lags = lags(statuses);
    let entries = statuses
        .iter()
        .enumerate()
        .map(|(position, (id, status))| {
            let mut fields = vec![(Frame::bulk("id"), Frame::Integer(*id as i64))];
            if position == 0 {
                fields.push((Frame::bulk("storage"), Frame::bulk(own_storage)));
            }
            match status {
                Ok(status) => {
                    let number = |value: u64| Frame::Integer(value as i64);
                    fields.extend([
                        (Frame::bulk("role"), Frame::bulk(&status.role)),
                        (Frame::bulk("term"), number(status.term)),
                        (Frame::bulk("leader"), status.leader.map_or(Frame::Null, number)),
                        (Frame::bulk("last_log_index"), number(status.last_log_index)),
                        (Frame::bulk("commit_index"), number(status.commit_index)),
                        (Frame::bulk("applied_index"), number(status.applied_index)),
                        (Frame::bulk("snapshot_index"), number(status.snapshot_index)),
                    ]);
                }
                Err(error) => fields.push((Frame::bulk("error"), Frame::bulk(error.to_string()))),
            }
            let lag = lags.iter().find(|(member, _)| member == id);
            fields.push((
                Frame::bulk("lag"),
                lag.map_or(Frame::Null, |(_, lag)| Frame::Integer(*lag as i64)),
            ));
            Frame::Map(fields)
        })
        .collect();
    Frame::Array(entries)
}

/// INFO's `# Replication` section. Every member takes writes (a follower forwards them), so
/// each reports Redis's `role:master`, and the cluster's own figures follow.
pub(super) async fn replication_info(shared: &Shared, text: &mut String) {
    text.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
    let statuses = shared.node.cluster_status().await;
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
