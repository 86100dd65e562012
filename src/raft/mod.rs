//! Consensus: openraft, on our write-ahead log and our state machine.
//!
//! This module owns openraft's type configuration and the three things openraft asks an
//! application for:
//! - log storage ([`log_store`]): the [`crate::log`] write-ahead log, run on one thread that
//!   batches appends and syncs once per batch (group commit), then completes openraft's flush
//!   callbacks;
//! - a state machine ([`state_machine_store`]): [`crate::state_machine::StateMachine`] behind
//!   a mutex, with snapshots written from MVCC views in the background ([`snapshot`]);
//! - a network ([`network`]): none yet, since a node is a one-member cluster; the replication
//!   issue adds peers.
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
//! - A failed write or sync of the log raises the fatal signal; the node stops.
//!
//! Caveats:
//! - openraft 0.9 waits for each flush before it appends again, so batching happens one level
//!   up: the node packs every write that arrived during the previous fsync into one entry
//!   (see `node`), and the log thread's group commit only ever merges an append with a vote
//!   or purge.
//! - The committed index is not persisted: after a restart the node elects itself (at once,
//!   triggered) and commits a blank entry, which commits and applies the whole log tail.

pub mod codec;
pub mod data_directory;
pub mod log_store;
pub mod network;
pub mod snapshot;
pub mod state_machine_store;

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::BasicNode;
use tokio::sync::watch;

pub use data_directory::DataDirectory;
pub use log_store::{LogFigures, LogStore};
pub use state_machine_store::{Persistence, Progress, SharedState, StateMachineStore};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::{Log, LogOptions};
use crate::resp::Frame;
use crate::state_machine::Entry;

/// A node's id in the cluster.
pub type NodeId = u64;

/// The replies to one entry's requests, in order; empty for blank and membership entries.
#[derive(Clone, Debug, Default)]
pub struct Replies(pub Vec<Frame>);

/// Names an entry's waiting proposers on the node that proposed it; 0 means nobody waits here
/// (an entry read back from disk, or one another node proposed). Tickets grow with every entry
/// the node proposes and are never written to disk.
pub type Ticket = u64;

/// An entry as openraft carries it in memory: the batch of client writes, plus the ticket its
/// replies are delivered under (see [`DeliverReplies`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Proposed {
    pub entry: Entry,
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

openraft::declare_raft_types!(
    /// Concord's openraft types: an entry's data is a batch of client writes.
    pub TypeConfig:
        D = Proposed,
        R = Replies,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = tokio::fs::File,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type RaftEntry = openraft::Entry<TypeConfig>;

/// A started consensus engine and what the node reads beside it.
pub struct Opened {
    pub raft: Raft,
    pub shared: Arc<SharedState>,
    pub log_figures: Arc<LogFigures>,
    /// Raised with the reason when storage failed; the node must stop.
    pub fatal: watch::Receiver<Option<String>>,
    /// The last log index when the node started: applied once recovery is done.
    pub recovery_target: u64,
    /// Holds the data directory's lock for the life of the node.
    pub data_directory: DataDirectory,
}

/// Opens the data directory, recovers the snapshot and the log, and starts openraft as a
/// one-member cluster (initialized on first start, elected at once on a restart).
pub async fn open(config: &Config, deliver: DeliverReplies) -> Result<Opened> {
    let data_directory = DataDirectory::open(&config.data_dir)?;
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
    let fresh = log.last_id().is_none() && log.vote().is_none() && snapshot_index == 0;
    let recovery_target = log.last_index().unwrap_or(snapshot_index).max(snapshot_index);
    let log_figures = Arc::new(LogFigures::default());
    let (fatal_sender, fatal) = watch::channel(None);
    let log_store = LogStore::start(log, config.fsync, Arc::clone(&log_figures), fatal_sender)
        .map_err(|error| Error::Storage(error.to_string()))?;
    let shared = state_machine.shared();
    let raft_config = openraft::Config {
        cluster_name: "concord".into(),
        election_timeout_min: config.election_timeout_min_ms,
        election_timeout_max: config.election_timeout_max_ms,
        heartbeat_interval: config.heartbeat_interval_ms,
        // Snapshots are triggered by the node (log size, SAVE, BGSAVE), never by entry count,
        // and once one is durable the whole log below it goes.
        snapshot_policy: openraft::SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|error| Error::Config(format!("consensus options: {error}")))?;
    let raft = Raft::new(
        config.node_id,
        Arc::new(raft_config),
        network::Network,
        log_store,
        state_machine,
    )
    .await
    .map_err(|error| Error::Storage(format!("starting consensus: {error}")))?;
    if fresh {
        let address = format!("{}:{}", config.bind, config.port);
        let members = BTreeMap::from([(config.node_id, BasicNode::new(address))]);
        raft.initialize(members)
            .await
            .map_err(|error| Error::Storage(format!("initializing the cluster: {error}")))?;
    } else {
        raft.trigger()
            .elect()
            .await
            .map_err(|error| Error::Storage(format!("starting an election: {error}")))?;
    }
    Ok(Opened { raft, shared, log_figures, fatal, recovery_target, data_directory })
}
