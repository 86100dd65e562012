//! INFO's `# Replication` section: this node's place in the cluster, and one
//! `concord_node<N>:` line per member with its role, term, indexes and how many entries it
//! lags behind the leader's log (from the leader's replication progress), so that anything
//! that scrapes INFO sees the cluster. `CONCORD.STATUS` (see `connection::admin`) reports
//! the same lag.

use std::fmt::Write;

use super::Shared;
use crate::node::{NodeError, NodeStatus};

/// The leader's view of how far each member lags: its last log index minus the member's
/// matched index. Empty when no status came from a leader.
pub(super) fn lags(statuses: &[(u64, Result<NodeStatus, NodeError>)]) -> Vec<(u64, u64)> {
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

/// INFO's `# Replication` section. Every member takes writes (a follower forwards them), so
/// each reports Redis's `role:master`, and the cluster's own figures follow.
pub(super) async fn replication_info(shared: &Shared, text: &mut String) {
    text.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
    let statuses = shared.node.member_statuses().await;
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
