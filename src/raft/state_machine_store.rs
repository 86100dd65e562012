//! openraft's state machine on ours: apply, snapshot build and install, and the figures INFO
//! persistence and LASTSAVE report.
//!
//! The [`StateMachine`] sits behind a mutex shared with the node. openraft's state machine
//! task holds it while it applies a batch of entries; a reader takes it only to publish a view
//! (O(1)) when the published one is older than its read index, and the snapshot builder only
//! to take a view (O(1)). Nothing slow ever runs under it: a snapshot is written from the view
//! on a blocking thread while apply goes on.
//!
//! Index 0 holds the membership entry `initialize` writes; our state machine counts from 1
//! (0 is "nothing applied"), so entry 0 changes only the membership. Blank and membership
//! entries at later indexes are applied as entries without requests, so that the state
//! machine's applied index is openraft's and a read index always names an applied view.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::command::{DbIndex, Key};
use crate::resp::Frame;

use super::codec::{self, MembershipRecord};
use super::snapshot::{SnapshotDirectory, SnapshotError, SnapshotMetadata};
use super::{DeliverReplies, LogId, NodeId, RaftEntry, Replies, Ticket, TypeConfig};
use crate::state_machine::{Entry, OutputSink, StateMachine, Subscriptions, Views};

/// What the node's readers share with apply.
#[derive(Debug, Default)]
pub struct Progress {
    /// openraft's last applied index; stored after the entry was applied.
    pub applied_index: AtomicU64,
    /// Raised by a reader whose view is stale; apply publishes after its batch and lowers it.
    pub views_wanted: AtomicBool,
    /// The newest leadership term this node applied an entry of, with the time applied
    /// before its first entry (see [`TermStart`]).
    pub term_start: watch::Sender<TermStart>,
}

/// Where a leadership term begins in the applied log: `term`, and the time of the newest
/// entry applied before the term's first one (a new leader's blank entry comes first). Every
/// entry of earlier terms, and so every read time a member could hand out under an earlier
/// leader, is at most this time plus the read-time lead (see `node::time`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TermStart {
    /// The term; 0 before any entry of a term was applied.
    pub term: u64,
    /// The newest entry time applied before the term's first entry (Unix milliseconds).
    pub time_ms: u64,
}

/// The snapshot figures INFO persistence and LASTSAVE report.
#[derive(Debug, Default)]
pub struct Persistence {
    /// Unix seconds of the last successful snapshot; 0 if none was made by this process and
    /// none was loaded.
    pub last_save_unix_seconds: AtomicU64,
    /// The index the last snapshot covers.
    pub snapshot_index: AtomicU64,
    /// Snapshots written by this process.
    pub saves: AtomicU64,
    /// Whether a snapshot is being written now.
    pub in_progress: AtomicBool,
    /// Whether the last snapshot attempt failed.
    pub last_failed: AtomicBool,
    /// Why the last failed snapshot failed (empty if none did).
    pub last_error: Mutex<String>,
    /// Snapshot attempts that failed, so that a waiting SAVE notices a failure.
    pub failures: AtomicU64,
    /// Counts every snapshot attempt that ended (written, failed or installed from the
    /// leader), so that SAVE waits on it instead of polling.
    pub attempts_ended: tokio::sync::watch::Sender<u64>,
    /// How long the last successful snapshot took, in milliseconds.
    pub last_duration_ms: AtomicU64,
    /// How many keys the last successful snapshot wrote.
    pub last_keys: AtomicU64,
    /// The size of the last successful snapshot's file, in bytes.
    pub last_bytes: AtomicU64,
}

/// The state openraft's state machine task changes.
struct Applied {
    state_machine: StateMachine,
    last_applied: Option<LogId>,
    membership: StoredMembership<NodeId, BasicNode>,
}

/// What the adapter, the snapshot builder and the node share.
pub struct SharedState {
    applied: Mutex<Applied>,
    /// The applied index, for readers that wait for apply to reach their read index.
    pub progress: Progress,
    /// The snapshot figures INFO persistence and LASTSAVE report.
    pub persistence: Persistence,
    /// Where readers find the newest published view of the keyspace.
    pub views: Views,
    /// The ACL users as of the last applied entry (see `state_machine::UsersHandle`).
    pub users: crate::state_machine::UsersHandle,
    snapshots: SnapshotDirectory,
    /// Where a snapshot being received from a leader is written.
    receiving: Mutex<Option<std::path::PathBuf>>,
    /// Where each entry's outputs go (the node's deliveries); until it is set, during
    /// recovery, no connection exists to receive them.
    output_sink: OnceLock<Arc<dyn OutputSink>>,
}

impl SharedState {
    /// Sets where entries' outputs are delivered from now on; only the first call counts.
    pub fn set_output_sink(&self, sink: Arc<dyn OutputSink>) {
        let _ = self.output_sink.set(sink);
    }

    /// Publishes a view of everything applied, if the newest one is older.
    pub fn publish(&self) {
        self.applied.lock().state_machine.publish();
    }

    /// Keys whose deadline passed by `now_ms`, at most `limit` per database, read from the live
    /// keyspace's expiry index under the apply lock (a bounded walk, no view published).
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Vec<(DbIndex, Vec<Key>)> {
        self.applied.lock().state_machine.expired_keys(now_ms, limit)
    }

    /// Runs `question` on the subscriber table as of the last applied entry, under the apply
    /// lock (PUBSUB CHANNELS, NUMSUB and NUMPAT: short walks of the table).
    pub fn with_subscriptions<T>(&self, question: impl FnOnce(&Subscriptions) -> T) -> T {
        question(self.applied.lock().state_machine.subscriptions())
    }

    /// Whether a blocked client's reservation is overdue at `now_ms` (see
    /// `state_machine::blocking`), so that the node should propose its expiry.
    pub fn has_expired_reservations(&self, now_ms: u64) -> bool {
        self.applied.lock().state_machine.has_expired_reservations(now_ms)
    }
}

fn snapshot_error(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, &error).into()
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

fn pair(log_id: &LogId) -> (u64, u64) {
    (log_id.index, log_id.leader_id.term)
}

/// openraft's handle on the state machine.
pub struct StateMachineStore {
    shared: Arc<SharedState>,
    deliver: DeliverReplies,
}

impl StateMachineStore {
    /// Loads the newest valid snapshot in `snapshots` (or starts empty) and returns the store
    /// with the index the snapshot covers. A damaged snapshot is skipped with a warning; the
    /// node checks that the log continues where the loaded one ends.
    /// Replies of entries this node proposed go to `deliver` as soon as they are applied.
    pub fn open(
        snapshots: SnapshotDirectory,
        deliver: DeliverReplies,
    ) -> Result<StateMachineStore, SnapshotError> {
        let mut state_machine = StateMachine::new();
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        let persistence = Persistence::default();
        snapshots.remove_temporaries()?;
        for file in snapshots.list()? {
            let started = Instant::now();
            match SnapshotDirectory::read(&file.path) {
                Ok(decoded) => {
                    let metadata = decoded.metadata;
                    last_applied =
                        metadata.last_applied.map(|(index, term)| codec::log_id(term, index));
                    let index = last_applied.map_or(0, |id: LogId| id.index);
                    state_machine.restore(decoded.keyspace, index, metadata.applied_time_ms);
                    state_machine.restore_waiters(metadata.waiters.clone());
                    state_machine.restore_subscriptions(metadata.subscriptions.clone());
                    membership = StoredMembership::new(
                        metadata.membership_log_id.map(|(index, term)| codec::log_id(term, index)),
                        metadata.membership.to_membership(),
                    );
                    persistence.snapshot_index.store(index, Ordering::Relaxed);
                    let modified = std::fs::metadata(&file.path)
                        .and_then(|metadata| metadata.modified())
                        .ok()
                        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |elapsed| elapsed.as_secs());
                    persistence.last_save_unix_seconds.store(modified, Ordering::Relaxed);
                    tracing::info!(
                        file = %file.path.display(), keys = decoded.keys, index,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "loaded snapshot"
                    );
                    break;
                }
                Err(error) => tracing::warn!(%error, "skipping a snapshot that cannot be read"),
            }
        }
        let progress = Progress::default();
        progress.applied_index.store(last_applied.map_or(0, |id| id.index), Ordering::Relaxed);
        let shared = SharedState {
            views: state_machine.views(),
            users: state_machine.users(),
            applied: Mutex::new(Applied { state_machine, last_applied, membership }),
            progress,
            persistence,
            snapshots,
            receiving: Mutex::new(None),
            output_sink: OnceLock::new(),
        };
        Ok(StateMachineStore { shared: Arc::new(shared), deliver })
    }

    /// The state shared with the node and the snapshot builder.
    pub fn shared(&self) -> Arc<SharedState> {
        Arc::clone(&self.shared)
    }

    /// The index the loaded state covers (0 for an empty state).
    pub fn applied_index(&self) -> u64 {
        self.shared.progress.applied_index.load(Ordering::Relaxed)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>> {
        let applied = self.shared.applied.lock();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Replies>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = RaftEntry> + Send,
        I::IntoIter: Send,
    {
        let shared = &self.shared;
        let mut replies = Vec::new();
        // Replies someone on this node waits for: (position in `replies`, ticket, frames).
        let mut waited: Vec<(usize, Ticket, Vec<Frame>)> = Vec::new();
        {
            let mut applied = shared.applied.lock();
            for entry in entries {
                let index = entry.log_id.index;
                let term = entry.log_id.leader_id.term;
                if term > shared.progress.term_start.borrow().term {
                    let time_ms = applied.state_machine.applied_time_ms();
                    shared.progress.term_start.send_replace(TermStart { term, time_ms });
                }
                let frames = match &entry.payload {
                    EntryPayload::Normal(data) => applied.state_machine.apply(index, &data.entry),
                    EntryPayload::Blank | EntryPayload::Membership(_) if index == 0 => Vec::new(),
                    EntryPayload::Blank | EntryPayload::Membership(_) => {
                        let empty = Entry { leader_time_ms: 0, requests: Vec::new() };
                        applied.state_machine.apply(index, &empty)
                    }
                };
                if let EntryPayload::Membership(membership) = &entry.payload {
                    applied.membership =
                        StoredMembership::new(Some(entry.log_id), membership.clone());
                }
                let outputs = applied.state_machine.take_outputs();
                if let (false, Some(sink)) = (outputs.is_empty(), shared.output_sink.get()) {
                    sink.deliver(outputs);
                }
                applied.last_applied = Some(entry.log_id);
                match &entry.payload {
                    EntryPayload::Normal(data) if data.ticket != 0 => {
                        waited.push((replies.len(), data.ticket, frames));
                        replies.push(Replies::default());
                    }
                    _ => replies.push(Replies(frames)),
                }
            }
            if shared.progress.views_wanted.swap(false, Ordering::Relaxed) {
                applied.state_machine.publish();
            }
            if let Some(last) = applied.last_applied {
                shared.progress.applied_index.store(last.index, Ordering::Release);
            }
        }
        // After the applied index is published and the lock released: a client that gets its
        // reply and reads at once must find its write applied, and must not wait for the lock.
        for (position, ticket, frames) in waited {
            if let Some(frames) = (self.deliver)(ticket, frames) {
                replies[position] = Replies(frames);
            }
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder { shared: Arc::clone(&self.shared) }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<tokio::fs::File>, StorageError<NodeId>> {
        let path = self.shared.snapshots.temporary("received");
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(snapshot_error)?;
        *self.shared.receiving.lock() = Some(path);
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError<NodeId>> {
        let path = self.shared.receiving.lock().take().ok_or_else(|| {
            snapshot_error(io::Error::other("install_snapshot without begin_receiving_snapshot"))
        })?;
        let file = snapshot.into_std().await;
        file.sync_all().map_err(snapshot_error)?;
        drop(file);
        let decoded = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || SnapshotDirectory::read(&path))
                .await
                .map_err(snapshot_error)?
                .map_err(snapshot_error)?
        };
        let (index, term) = meta.last_log_id.as_ref().map_or((0, 0), pair);
        self.shared.snapshots.commit(&path, index, term).map_err(snapshot_error)?;
        let mut applied = self.shared.applied.lock();
        applied.state_machine.restore(decoded.keyspace, index, decoded.metadata.applied_time_ms);
        applied.state_machine.restore_waiters(decoded.metadata.waiters);
        applied.state_machine.restore_subscriptions(decoded.metadata.subscriptions);
        applied.last_applied = meta.last_log_id;
        applied.membership = meta.last_membership.clone();
        self.shared.progress.applied_index.store(index, Ordering::Release);
        self.shared.persistence.snapshot_index.store(index, Ordering::Relaxed);
        self.shared.persistence.attempts_ended.send_modify(|ended| *ended += 1);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let Some(file) = self.shared.snapshots.list().map_err(snapshot_error)?.into_iter().next()
        else {
            return Ok(None);
        };
        let path = file.path.clone();
        let metadata = tokio::task::spawn_blocking(move || super::snapshot::read_metadata(&path))
            .await
            .map_err(snapshot_error)?
            .map_err(snapshot_error)?;
        let opened = tokio::fs::File::open(&file.path).await.map_err(snapshot_error)?;
        Ok(Some(Snapshot { meta: snapshot_meta(&metadata), snapshot: Box::new(opened) }))
    }
}

fn snapshot_meta(metadata: &SnapshotMetadata) -> SnapshotMeta<NodeId, BasicNode> {
    let last_log_id = metadata.last_applied.map(|(index, term)| codec::log_id(term, index));
    let membership_log_id =
        metadata.membership_log_id.map(|(index, term)| codec::log_id(term, index));
    let snapshot_id =
        last_log_id.map_or("empty".to_string(), |id| format!("{}-{}", id.index, id.leader_id.term));
    SnapshotMeta {
        last_log_id,
        last_membership: StoredMembership::new(
            membership_log_id,
            metadata.membership.to_membership(),
        ),
        snapshot_id,
    }
}

/// What the builder answers when the snapshot could not be written. openraft 0.9 stops its
/// core for good on an error from `build_snapshot`, so a failure (a full disk, most likely)
/// is answered with a snapshot that covers nothing: openraft ignores a snapshot no newer than
/// the one it has, purges nothing, and goes on. Its data is never read; it is the snapshot
/// directory opened read-only, because the type demands a file and that one exists.
async fn not_built(shared: &SharedState) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
    let directory = tokio::fs::File::open(shared.snapshots.path()).await.map_err(snapshot_error)?;
    let meta = SnapshotMeta {
        last_log_id: None,
        last_membership: StoredMembership::default(),
        snapshot_id: "not-built".to_string(),
    };
    Ok(Snapshot { meta, snapshot: Box::new(directory) })
}

/// Builds a snapshot from a view, off the apply path.
pub struct SnapshotBuilder {
    shared: Arc<SharedState>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let shared = Arc::clone(&self.shared);
        let (view, metadata) = {
            let mut applied = shared.applied.lock();
            let view = applied.state_machine.view();
            let metadata = SnapshotMetadata {
                last_applied: applied.last_applied.as_ref().map(pair),
                membership_log_id: applied.membership.log_id().as_ref().map(pair),
                membership: MembershipRecord::from_membership(applied.membership.membership()),
                applied_time_ms: view.time_ms,
                waiters: applied.state_machine.waiters().clone(),
                subscriptions: applied.state_machine.subscriptions().clone(),
                scripts: view.keyspace.scripts().clone(),
                functions: view.keyspace.functions().clone(),
                users: Vec::new(),
            };
            (view, metadata)
        };
        // Describing users takes a while per user: outside the lock apply needs.
        let metadata =
            SnapshotMetadata { users: view.keyspace.users().to_descriptions(), ..metadata };
        let (index, term) = metadata.last_applied.unwrap_or((0, 0));
        shared.persistence.in_progress.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let snapshots = shared.snapshots.clone();
        let meta = metadata.clone();
        let written =
            tokio::task::spawn_blocking(move || snapshots.write(&view, &meta, index, term)).await;
        shared.persistence.in_progress.store(false, Ordering::Relaxed);
        let persistence = &shared.persistence;
        let failure = match written {
            Ok(Ok(written)) => Ok(written),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let (file, keys) = match failure {
            Ok(written) => written,
            Err(error) => {
                *persistence.last_error.lock() = error.clone();
                persistence.last_failed.store(true, Ordering::Relaxed);
                persistence.failures.fetch_add(1, Ordering::Relaxed);
                persistence.attempts_ended.send_modify(|ended| *ended += 1);
                tracing::error!(%error, "snapshot failed; the node keeps running on its log");
                return not_built(&shared).await;
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let bytes = std::fs::metadata(&file.path).map_or(0, |metadata| metadata.len());
        persistence.last_failed.store(false, Ordering::Relaxed);
        persistence.last_duration_ms.store(elapsed_ms, Ordering::Relaxed);
        persistence.last_keys.store(keys, Ordering::Relaxed);
        persistence.last_bytes.store(bytes, Ordering::Relaxed);
        persistence.snapshot_index.store(index, Ordering::Relaxed);
        persistence.last_save_unix_seconds.store(unix_seconds(), Ordering::Relaxed);
        persistence.saves.fetch_add(1, Ordering::Relaxed);
        persistence.attempts_ended.send_modify(|ended| *ended += 1);
        tracing::info!(index, keys, bytes, elapsed_ms, "snapshot written");
        let opened = tokio::fs::File::open(&file.path).await.map_err(snapshot_error)?;
        Ok(Snapshot { meta: snapshot_meta(&metadata), snapshot: Box::new(opened) })
    }
}
