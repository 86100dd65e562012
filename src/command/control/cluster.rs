//! Concord's own administrative commands, in the `CONCORD.` namespace: cluster status,
//! membership changes and leadership transfer.
//!
//! They are named apart from Redis Cluster's `CLUSTER` commands on purpose: a cluster-aware
//! client that saw `CLUSTER` answer would take Concord for a sharded Redis Cluster, which it is
//! not (every node holds every key). None of them enters the log as a client write; the
//! membership changes become Raft membership entries, carried out by the leader whichever node
//! received them.

use super::super::{parse_i64, Args, Command, CommandError, CommandSpec};
use super::Control;
use crate::command::concord_metadata;

/// A `CONCORD.*` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterAdmin {
    /// `CONCORD.STATUS`: every member's role, term, log indexes and lag.
    Status,
    /// `CONCORD.ADDNODE id address`: add a node, as a learner until it caught up, then a voter.
    AddNode {
        /// The new node's Raft id, checked to be positive.
        id: u64,
        /// Its peer (Raft) address, `HOST:PORT` with a port from 1 to 65535.
        address: String,
    },
    /// `CONCORD.REMOVENODE id`.
    RemoveNode {
        /// The Raft id of the member to remove, checked to be positive.
        id: u64,
    },
    /// `CONCORD.TRANSFERLEADER id`.
    TransferLeader {
        /// The Raft id of the voter that should become leader, checked to be positive.
        id: u64,
    },
}

/// The `CONCORD.*` administrative commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&concord_metadata::CONCORD_STATUS, parse_status),
    CommandSpec::new(&concord_metadata::CONCORD_ADDNODE, parse_add_node),
    CommandSpec::new(&concord_metadata::CONCORD_REMOVENODE, parse_remove_node),
    CommandSpec::new(&concord_metadata::CONCORD_TRANSFERLEADER, parse_transfer_leader),
];

fn admin(command: ClusterAdmin) -> Result<Command, CommandError> {
    Ok(Command::Control(Control::Cluster(command)))
}

/// A node id: a positive integer.
fn node_id(args: &mut Args) -> Result<u64, CommandError> {
    let argument = args.next_bytes()?;
    match parse_i64(&argument) {
        Some(id) if id > 0 => Ok(id as u64),
        _ => Err(CommandError::other("ERR node id must be a positive integer")),
    }
}

fn parse_status(_args: &mut Args) -> Result<Command, CommandError> {
    admin(ClusterAdmin::Status)
}

fn parse_add_node(args: &mut Args) -> Result<Command, CommandError> {
    let id = node_id(args)?;
    let address = args.next_bytes()?;
    let address = std::str::from_utf8(&address)
        .ok()
        .filter(|address| {
            address.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0)
            })
        })
        .ok_or_else(|| CommandError::other("ERR peer address must be HOST:PORT"))?;
    admin(ClusterAdmin::AddNode { id, address: address.to_string() })
}

fn parse_remove_node(args: &mut Args) -> Result<Command, CommandError> {
    admin(ClusterAdmin::RemoveNode { id: node_id(args)? })
}

fn parse_transfer_leader(args: &mut Args) -> Result<Command, CommandError> {
    admin(ClusterAdmin::TransferLeader { id: node_id(args)? })
}
