//! Consensus: openraft, on our write-ahead log and our state machine.
//!
//! This module owns openraft's type configuration and the three things openraft asks an
//! application for:
//! - log storage ([`log_store`]): the [`crate::log`] write-ahead log, run on one thread that
//!   batches appends and syncs once per batch (group commit), then completes openraft's flush
//!   callbacks;
//! - a state machine ([`state_machine_store`]): [`crate::state_machine::StateMachine`] behind
//!   a mutex, with snapshots written from MVCC views in the background ([`snapshot`]);
//! - a network ([`network`]): openraft's RPCs as [`peer::PeerRequest`]s on a
//!   [`peer::Transport`]: TCP between processes ([`tcp`]), Maelstrom messages, or the test
//!   network; [`peer::PeerHandler`] answers what arrives.
//!
//! It also owns the data directory ([`data_directory`]): its format file, its lock, and where
//! the log and the snapshots live. [`open`] puts it all together and starts openraft; the
//! node is its only caller, and front ends never see openraft.
//!
//! Invariants:
//! - An entry's log id is the log record's `(index, term)` (openraft's `single-term-leader`
//!   feature: one leader per term, so the term names the leader).
//! - openraft is told an append is flushed only after `Log::sync` covered it (in the default
//!   `fsync = always` mode); a reply leaves only after the entry was committed and applied.
//! - A failed write or sync of the log raises the fatal signal; the node stops. A full disk is
//!   not a failure: the log thread retries the append below openraft and raises
//!   [`LogFigures::disk_full`] meanwhile ([`log_store`]).
//! - A snapshot that cannot be written is never reported to openraft as an error, which
//!   would stop its core: the builder answers with an empty snapshot openraft ignores
//!   ([`state_machine_store`]), and counts the failure for SAVE and INFO.
//!
//! Caveats:
//! - openraft 0.9 waits for each flush before it appends again, so batching happens one level
//!   up: the node packs every write that arrived during the previous fsync into one entry
//!   (see `node`), and the log thread's group commit only ever merges an append with a vote
//!   or purge.
//! - The committed index is not persisted: after a restart a lone node elects itself (at once,
//!   triggered) and commits a blank entry, which commits and applies the whole log tail; a
//!   cluster member learns it from the leader's next append.
//! - Bootstrap: every member of a fresh cluster initializes openraft with the same voters, as
//!   openraft allows (the membership entry at index 0 is identical on all of them), so the
//!   cluster forms whichever node starts first. A node started with `join` never initializes:
//!   it waits to be added. A wiped data directory makes a member forget its vote, so such a
//!   node must be removed and added again, never simply restarted: its peers refuse its new
//!   incarnation ([`identity`]), and a node on a new directory that a peer refuses so does
//!   not initialize either; it waits to be added, as a joining node does.

pub mod codec;
pub mod data_directory;
pub mod identity;
pub mod peer_auth;
pub mod log_store;
pub mod network;
pub mod peer;
pub mod snapshot;
pub mod state_machine_store;
pub mod tcp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use data_directory::{DataDirectory, StoredIdentity};
pub use log_store::{LogFigures, LogStore};
pub use state_machine_store::TermStart;
pub use state_machine_store::{Persistence, Progress, SharedState, StateMachineStore};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::{Log, LogOptions};
use crate::resp::Frame;
use crate::state_machine::Entry;

/// A node's id in the cluster.
pub type NodeId = u64;

/// The replies to one entry's requests, in order; empty for blank and membership entries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Replies(pub Vec<Frame>);

/// Names an entry's waiting proposers on the node that proposed it; 0 means nobody waits here
/// (an entry read back from disk, or one another node proposed). Tickets grow with every entry
/// the node proposes and are never written to disk.
pub type Ticket = u64;

/// An entry as openraft carries it in memory: the batch of client writes, plus the ticket its
/// replies are delivered under (see [`DeliverReplies`]).
///
/// The ticket never leaves the node: an entry a follower receives carries ticket 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposed {
    /// The client writes the entry carries.
    pub entry: Entry,
    /// Names the waiting clients whose replies the entry's outputs go to; 0 on a follower.
    #[serde(skip)]
    pub ticket: Ticket,
}

impl std::fmt::Display for Proposed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} writes (ticket {})", self.entry.requests.len(), self.ticket)
    }
}

/// Called by apply, outside the state machine's lock, with an entry's ticket and replies; it
/// hands them to whoever waits under that ticket and returns them back if nobody does, so that
/// openraft carries them to `client_write`'s caller instead.
///
/// Why not only openraft's reply path: openraft 0.9's core routes apply results back to the
/// caller itself, and it is blocked in the next entry's flush while it does so, which delays
/// every reply by one fsync. Delivering from apply answers clients as soon as their entry is
/// applied.
pub type DeliverReplies = Arc<dyn Fn(Ticket, Vec<Frame>) -> Option<Vec<Frame>> + Send + Sync>;

/// Why the node could not serve a request.
///
/// It crosses the network: a follower that forwarded a write gets the leader's error back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum NodeError {
    /// The node is stopping; the request was not proposed.
    #[error("the node is shutting down")]
    Stopped,
    /// This node cannot take writes or serve linearizable reads now (it is not the leader);
    /// a write was not applied.
    #[error("this node is not the leader")]
    NotLeader,
    /// No leader could be reached in time, or this node could not catch up in time; the
    /// command was not applied.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An administrative change the cluster refused (a bad membership change); nothing changed.
    #[error("refused: {0}")]
    Refused(String),
    /// The write was proposed but the node cannot tell whether it was committed.
    #[error("the outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// The log could not be written or synced; the node is stopping. A write in flight may or
    /// may not be durable.
    #[error("storage failed: {0}")]
    StorageFailed(String),
    /// The disk under the data directory is full: this node's log cannot be written, so it
    /// refuses writes before proposing them (the write was not applied) until space is freed.
    /// `cause` is "no space left on device" or "disk quota exceeded".
    #[error("cannot write the log in {data_directory}: {cause}")]
    DiskFull {
        /// The data directory's path.
        data_directory: String,
        /// The operating system's reason.
        cause: String,
    },
    /// A snapshot (SAVE, BGSAVE, or one the log's size triggered) could not be written; the
    /// node goes on, its log holds everything, and nothing was applied or lost.
    #[error("the snapshot could not be written: {0}")]
    SnapshotFailed(String),
}

impl NodeError {
    /// Whether the error proves the command did not happen (Maelstrom's "definite" error): a
    /// client may safely retry it. `false` means the outcome is unknown: it may have been
    /// committed and applied, so a retry could apply it twice.
    pub fn is_definite(&self) -> bool {
        match self {
            NodeError::Stopped
            | NodeError::NotLeader
            | NodeError::Unavailable(_)
            | NodeError::Refused(_)
            | NodeError::DiskFull { .. }
            | NodeError::SnapshotFailed(_) => true,
            NodeError::OutcomeUnknown(_) | NodeError::StorageFailed(_) => false,
        }
    }

    /// The error line a client gets.
    pub fn to_frame(&self) -> Frame {
        Frame::Error(std::borrow::Cow::Owned(match self {
            NodeError::Stopped => "ERR the node is shutting down".to_string(),
            NodeError::NotLeader => {
                "ERR this node is not the leader now; the command was not applied".to_string()
            }
            NodeError::Unavailable(reason) => {
                format!("ERR the cluster is unavailable: {reason}; the command was not applied")
            }
            NodeError::Refused(reason) => format!("ERR {reason}"),
            NodeError::OutcomeUnknown(reason) => format!(
                "ERR the write may or may not have happened (the node lost track of it: {reason})"
            ),
            NodeError::StorageFailed(reason) => format!(
                "ERR storage failed and the node is stopping; the write may or may not have \
                 happened ({reason})"
            ),
            // Redis's MISCONF (refused because persistence is failing) is the closest
            // meaning, and clients already know the prefix.
            NodeError::DiskFull { data_directory, cause } => format!(
                "MISCONF Concord cannot write its log in {data_directory}: {cause}; writes are \
                 refused until space is freed, reads still work"
            ),
            NodeError::SnapshotFailed(reason) => format!(
                "ERR the snapshot could not be written ({reason}); the node keeps running and \
                 its log holds every write"
            ),
        }))
    }
}

openraft::declare_raft_types!(
    /// Concord's openraft types: an entry's data is a batch of client writes.
    pub TypeConfig:
        D = Proposed,
        R = Replies,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = tokio::fs::File,
);

/// The consensus engine, with Concord's type choices.
pub type Raft = openraft::Raft<TypeConfig>;
/// An entry's id in openraft: term, leader and index.
pub type LogId = openraft::LogId<NodeId>;
/// A log entry as openraft carries it: id plus payload (blank, normal or membership).
pub type RaftEntry = openraft::Entry<TypeConfig>;

/// A started consensus engine and what the node reads beside it.
pub struct Opened {
    /// The engine, for proposing writes, reads and membership changes.
    pub raft: Raft,
    /// The applied state and its figures, shared with the state machine task.
    pub shared: Arc<SharedState>,
    /// The log's figures, for INFO and the snapshot trigger.
    pub log_figures: Arc<LogFigures>,
    /// Raised with the reason when storage failed; the node must stop.
    pub fatal: watch::Receiver<Option<String>>,
    /// The last log index when the node started: applied once recovery is done.
    pub recovery_target: u64,
    /// Whether this node is the only voter: it leads alone and recovers without peers.
    pub sole_voter: bool,
    /// Holds the data directory's lock for the life of the node.
    pub data_directory: DataDirectory,
}

/// Opens and locks the data directory `config` names, and reads (or creates) its identity,
/// which must name this node and its cluster.
pub fn open_data_directory(config: &Config) -> Result<(DataDirectory, StoredIdentity)> {
    let data_directory = DataDirectory::open(&config.data_dir)?;
    let identity = data_directory.identity(&config.cluster_id, config.node_id)?;
    Ok((data_directory, identity))
}

/// Recovers the snapshot and the log of `data_directory`, and starts openraft with
/// `transport` as its network. A fresh node bootstraps the cluster `config.peers` names (or a
/// one-member cluster), unless it was told to join one; a lone node is elected at once on a
/// restart.
pub async fn open(
    config: &Config,
    data_directory: DataDirectory,
    deliver: DeliverReplies,
    transport: Arc<dyn peer::Transport>,
) -> Result<Opened> {
    let (log, state_machine) = recover(config, &data_directory, deliver).await?;
    let snapshot_index = state_machine.applied_index();
    let fresh = log.last_id().is_none() && log.vote().is_none() && snapshot_index == 0;
    let recovery_target = log.last_index().unwrap_or(snapshot_index).max(snapshot_index);
    let log_figures = Arc::new(LogFigures::default());
    let (fatal_sender, fatal) = watch::channel(None);
    let log_store = LogStore::start(log, config.fsync, Arc::clone(&log_figures), fatal_sender)
        .map_err(|error| Error::Storage(error.to_string()))?;
    let shared = state_machine.shared();
    let raft = Raft::new(
        config.node_id,
        Arc::new(consensus_options(config)?),
        network::Network::new(Arc::clone(&transport)),
        log_store,
        state_machine,
    )
    .await
    .map_err(|error| Error::Storage(format!("starting consensus: {error}")))?;
    if fresh && !config.join {
        bootstrap(config, &raft, transport.as_ref()).await?;
    }
    let sole_voter = sole_voter(&raft, config.node_id).await?;
    if !fresh && sole_voter {
        raft.trigger()
            .elect()
            .await
            .map_err(|error| Error::Storage(format!("starting an election: {error}")))?;
    }
    Ok(Opened { raft, shared, log_figures, fatal, recovery_target, sole_voter, data_directory })
}

/// Reads the log and the newest snapshot of `data_directory`, and checks that together they
/// hold every entry: a log that starts after the snapshot ends has lost some.
async fn recover(
    config: &Config,
    data_directory: &DataDirectory,
    deliver: DeliverReplies,
) -> Result<(Log, StateMachineStore)> {
    let options =
        LogOptions { segment_bytes_max: config.log_segment_bytes, ..LogOptions::default() };
    let log_path = data_directory.log_path();
    let log = tokio::task::spawn_blocking(move || Log::open_directory(&log_path, options))
        .await
        .map_err(|error| Error::Storage(format!("recovering the log: {error}")))?
        .map_err(|error| Error::Storage(format!("recovering the log: {error}")))?;
    let snapshots = snapshot::SnapshotDirectory::new(data_directory.snapshots_path());
    let state_machine =
        tokio::task::spawn_blocking(move || StateMachineStore::open(snapshots, deliver))
            .await
            .map_err(|error| Error::Storage(format!("loading the snapshot: {error}")))?
            .map_err(|error| Error::Storage(format!("loading the snapshot: {error}")))?;
    let snapshot_index = state_machine.applied_index();
    if let Some(purged) = log.purged_id() {
        if purged.index > snapshot_index {
            return Err(Error::Storage(format!(
                "the log starts after entry {} but the newest readable snapshot ends at entry \
                 {snapshot_index}: entries in between are missing, refusing to start",
                purged.index
            )));
        }
    }
    Ok((log, state_machine))
}

/// openraft's options: the timing `config` asks for, and Concord's own snapshot and batching
/// policy.
fn consensus_options(config: &Config) -> Result<openraft::Config> {
    openraft::Config {
        cluster_name: "concord".into(),
        election_timeout_min: config.election_timeout_min_ms,
        election_timeout_max: config.election_timeout_max_ms,
        heartbeat_interval: config.heartbeat_interval_ms,
        // Snapshots are triggered by the node (log size, SAVE, BGSAVE), never by entry count,
        // and once one is durable the whole log below it goes.
        snapshot_policy: openraft::SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        // Entries are batches of client writes already; fewer per append keeps a frame small.
        max_payload_entries: 64,
        install_snapshot_timeout: 5_000,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|error| Error::Config(format!("consensus options: {error}")))
}

/// Makes a fresh node that was not told to join the first member of the cluster
/// `config.peers` names (or of a one-member cluster), unless a peer says this node id had
/// another data directory: then this one forgot that member's vote and log, and must be added
/// again instead.
async fn bootstrap(config: &Config, raft: &Raft, transport: &dyn peer::Transport) -> Result<()> {
    if replaced_according_to_peers(config, transport).await {
        tracing::error!(
            "not starting as a voter: a peer knows node {} with another data directory, so \
             this one forgot the member's vote and log; this node waits to be added again \
             (CONCORD.REMOVENODE {} then CONCORD.ADDNODE on the cluster)",
            config.node_id,
            config.node_id
        );
        return Ok(());
    }
    let members: BTreeMap<NodeId, BasicNode> = if config.peers.is_empty() {
        let address = format!("{}:{}", config.bind, config.port);
        BTreeMap::from([(config.node_id, BasicNode::new(address))])
    } else {
        config.peers.iter().map(|(id, address)| (*id, BasicNode::new(address))).collect()
    };
    raft.initialize(members)
        .await
        .map_err(|error| Error::Storage(format!("initializing the cluster: {error}")))
}

/// How long a node on a new data directory waits for its peers' handshakes before it
/// bootstraps (peers of a new cluster may not run yet; they cannot refuse it then).
const BOOTSTRAP_CHECK_TIMEOUT: Duration = Duration::from_millis(1000);

/// Whether a peer in `config.peers` refused this node's handshake because it knows this
/// node id with another data directory (`identity`): then this new directory belongs to a
/// wiped or replaced member, which must not bootstrap as a voter. Peers that do not answer
/// in time say nothing, as in the bootstrap of a new cluster whose other members are not up.
async fn replaced_according_to_peers(config: &Config, transport: &dyn peer::Transport) -> bool {
    let mut calls = tokio::task::JoinSet::new();
    for peer in config.peers.keys().copied().filter(|peer| *peer != config.node_id) {
        calls.spawn(transport.call(peer, peer::PeerRequest::Incarnation, BOOTSTRAP_CHECK_TIMEOUT));
    }
    while calls.join_next().await.is_some() {
        if transport.refused_as_replaced() {
            return true;
        }
    }
    transport.refused_as_replaced()
}

/// Whether `node_id` is the only voter of the membership openraft recovered: then nobody else
/// can lead, and an election at once spares a restart the election timeout.
async fn sole_voter(raft: &Raft, node_id: NodeId) -> Result<bool> {
    raft.with_raft_state(move |state| {
        state.membership_state.effective().membership().voter_ids().eq([node_id])
    })
    .await
    .map_err(|error| Error::Storage(format!("reading the membership: {error}")))
}

#[cfg(test)]
mod tests {
    use super::NodeError;

    #[test]
    fn only_errors_that_prove_nothing_happened_are_definite() {
        let definite = [
            NodeError::Stopped,
            NodeError::NotLeader,
            NodeError::Unavailable("no leader".into()),
            NodeError::Refused("bad change".into()),
            NodeError::DiskFull { data_directory: "d".into(), cause: "full".into() },
            NodeError::SnapshotFailed("full".into()),
        ];
        for error in definite {
            assert!(error.is_definite(), "{error:?} should prove the write did not happen");
        }
        for error in
            [NodeError::OutcomeUnknown("lost".into()), NodeError::StorageFailed("io".into())]
        {
            assert!(!error.is_definite(), "{error:?} should leave the outcome unknown");
        }
    }
}
