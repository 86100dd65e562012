//! `CONCORD.*` commands: the cluster's status and membership changes, as clients and
//! operators ask for them.
//!
//! `CONCORD.STATUS` replies with one map per member, this node first: its id, role, term, the
//! leader it knows, its last log, commit, applied and snapshot indexes, and, from the leader's
//! replication progress, how many entries it lags behind the leader's log; this node's map also
//! has `storage` (`ok`, `disk-full` or `failed`, as INFO's `concord_storage_status`), which
//! other members do not send (the peer protocol's status is unchanged). A member that does
//! not answer is listed with `error`. The same figures appear in INFO replication, one
//! `concord_node<N>:` line per member, so that anything that scrapes INFO sees the cluster.

use super::Connection;
use crate::command::control::cluster::ClusterAdmin;
use crate::node::{AdminRequest, NodeError, NodeStatus};
use crate::resp::Frame;
use crate::server::replication::lags;

impl Connection {
    /// Runs one `CONCORD.*` command.
    pub(super) async fn execute_admin(&mut self, command: ClusterAdmin) -> Frame {
        let node = &self.shared.node;
        let request = match command {
            ClusterAdmin::Status => {
                let storage = node.storage_status();
                return status_frame(&node.member_statuses().await, storage.name());
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
