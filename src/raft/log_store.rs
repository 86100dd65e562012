//! openraft's log storage on our write-ahead log, with group commit.
//!
//! One thread owns the [`Log`]. Every request (append, truncate, purge, vote, read) is a
//! message to it, so requests are executed in the order they were made, as openraft requires,
//! and a read sent after an append sees it. The thread's loop, in numbered steps:
//!
//! 1. Wait for a request, then take every request already queued (never waiting for more).
//! 2. Execute them in order. An append writes its records without syncing and keeps its
//!    flush callback; a truncate, purge or vote save syncs first (the log does), so it never
//!    overtakes an earlier append on the disk.
//! 3. With the queue empty, sync once (`fsync = always`) and complete every kept callback:
//!    one fdatasync serves every append that arrived while the previous one ran, which is
//!    group commit at the storage layer.
//!
//! With `fsync = every-second` the callbacks are completed right after the write and the
//! thread syncs at most a second later: a crash may lose the last second of acknowledged
//! writes, which is why that mode is opt-in and reported by INFO.
//!
//! openraft 0.9 reads every committed entry back before applying it. The handle keeps the
//! entries it was given to append (a few, bounded) and hands them to that read by value: no
//! round trip to the log thread, no decoding, and the in-memory ticket (see
//! [`super::DeliverReplies`]) survives. Any other read, or one the cache cannot serve, goes to
//! the log thread and decodes what is on disk.
//!
//! The thread also publishes the highest ticket whose entry openraft was told is flushed
//! ([`LogFigures::flushed_ticket`]), so that the node forms the next entry exactly when the
//! previous one is durable and openraft is free to append again.
//!
//! A failed write or sync poisons the log ([`crate::log`]): the thread completes every kept
//! callback with the error, answers every later request with it, and raises the node's fatal
//! signal, because a node whose log cannot be trusted must stop rather than serve.
//!
//! A full disk is not a failure of the log ([`LogError::NoSpace`]: nothing was written, or
//! what was written was cut off again) and is handled here, below openraft, because openraft
//! 0.9 treats any error of an append, returned or passed to the flush callback, as fatal: its
//! core stops for good. So the thread keeps the append, with its callback, and:
//!
//! 4. Syncs and completes the appends before it (they were written), raises
//!    [`LogFigures::disk_full`] and logs the episode once (WARN), then retries the rest of
//!    the append every `SPACE_RETRY_INTERVAL` (200 ms). Requests that arrive meanwhile
//!    wait behind it, in order, exactly as they would behind a slow disk.
//! 5. Once a retry writes and a sync makes it durable, completes its callback, lowers the
//!    signal, logs the end of the episode with how long it lasted, and goes on with the
//!    requests that waited.
//!
//! Meanwhile openraft's core waits for that one flush, as for a very slow disk; the node,
//! watching the signal, refuses new writes before they reach openraft and serves reads
//! without it (see `node`).

use std::collections::VecDeque;
use std::ops::{Bound, Range, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{EntryPayload, RaftLogReader, StorageError, StorageIOError, Vote};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use super::codec;
use super::{LogId, NodeId, RaftEntry, Ticket, TypeConfig};
use crate::config::FsyncMode;
use crate::log::{Index, Log, LogError, Record, RecordId};
use crate::logging::{Episode, Report};

/// How often the log thread syncs in `every-second` mode.
const RELAXED_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// How often an append that found the disk full is tried again.
const SPACE_RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// How many appended entries the handle keeps for openraft's read before apply. In a
/// one-member cluster one or two are waiting at any time; the bound only matters if reads stop.
const RECENT_ENTRIES_MAX: usize = 64;

/// openraft's storage error; large, but it is what openraft's traits return.
type StorageResult<T> = Result<T, Box<StorageError<NodeId>>>;

/// What the log thread is asked to do.
enum LogRequest {
    Append { records: Vec<Record>, ticket: Ticket, flushed: LogFlushed<TypeConfig> },
    Truncate { index: Index, reply: oneshot::Sender<Result<(), LogError>> },
    Purge { upto: RecordId, reply: oneshot::Sender<Result<(), LogError>> },
    SaveVote { bytes: Vec<u8>, reply: oneshot::Sender<Result<(), LogError>> },
    Read { range: Range<Index>, reply: oneshot::Sender<Result<Vec<Record>, LogError>> },
    State { reply: oneshot::Sender<(Option<RecordId>, Option<RecordId>)> },
}

/// Figures about the log that INFO and the snapshot trigger read without asking the thread.
#[derive(Debug, Default)]
pub struct LogFigures {
    /// Bytes of records appended since the log was last purged (or opened).
    pub bytes_since_purge: AtomicU64,
    /// The highest durable index plus one (0: nothing).
    pub durable_next: AtomicU64,
    /// The highest ticket of an entry openraft was told is flushed (durable, in `always` mode).
    pub flushed_ticket: watch::Sender<Ticket>,
    /// While an append waits for space (steps 4 and 5 of the module doc): the error that
    /// stopped it, naming the file.
    pub disk_full: watch::Sender<Option<String>>,
}

/// openraft's handle on the log: cheap to clone, all work happens on the log thread.
#[derive(Clone)]
pub struct LogStore {
    requests: Sender<LogRequest>,
    vote: Option<Vote<NodeId>>,
    /// Entries appended and not yet read back, in index order (see the module doc).
    recent: Arc<Mutex<VecDeque<RaftEntry>>>,
}

impl LogStore {
    /// Starts the log thread on an opened log. `fatal` is raised with the reason if the log
    /// fails.
    pub fn start(
        log: Log,
        fsync: FsyncMode,
        figures: Arc<LogFigures>,
        fatal: watch::Sender<Option<String>>,
    ) -> StorageResult<LogStore> {
        let vote = match log.vote() {
            Some(bytes) => Some(codec::decode_vote(bytes).map_err(|e| Box::new(read_error(e)))?),
            None => None,
        };
        let (requests, receiver) = mpsc::channel();
        let worker = LogThread {
            log,
            fsync,
            figures,
            fatal,
            pending: Vec::new(),
            stalled: None,
            waiting_behind: VecDeque::new(),
        };
        std::thread::Builder::new()
            .name("concord-log".into())
            .spawn(move || worker.run(receiver))
            .map_err(|error| Box::new(StorageIOError::write_logs(&error).into()))?;
        Ok(LogStore { requests, vote, recent: Arc::default() })
    }

    async fn call<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> LogRequest,
    ) -> Result<T, StorageError<NodeId>> {
        let (reply, receiver) = oneshot::channel();
        self.requests.send(request(reply)).map_err(|_| stopped())?;
        receiver.await.map_err(|_| stopped())
    }
}

impl LogStore {
    /// The entries of `range` if the cache holds all of them, taken out of it. Entries below
    /// the range are dropped: openraft reads for apply in order, so nobody wants them here.
    fn take_recent(&self, range: &Range<Index>) -> Option<Vec<RaftEntry>> {
        let mut recent = self.recent.lock();
        while recent.front().is_some_and(|entry| entry.log_id.index < range.start) {
            recent.pop_front();
        }
        let first = recent.front()?.log_id.index;
        let last = recent.back()?.log_id.index;
        if range.is_empty() || first != range.start || last < range.end - 1 {
            return None;
        }
        let count = (range.end - range.start) as usize;
        Some(recent.drain(..count).collect())
    }

    /// Keeps appended entries for the read before apply, within the bound.
    fn remember(&self, entries: Vec<RaftEntry>) {
        let mut recent = self.recent.lock();
        for entry in entries {
            if recent.back().is_some_and(|last| last.log_id.index + 1 != entry.log_id.index) {
                // Not contiguous (a truncation happened without our knowledge): start over.
                recent.clear();
            }
            recent.push_back(entry);
        }
        while recent.len() > RECENT_ENTRIES_MAX {
            recent.pop_front();
        }
    }

    /// Forgets cached entries in `indexes`, after a truncate or purge.
    fn forget(&self, indexes: Range<Index>) {
        self.recent.lock().retain(|entry| !indexes.contains(&entry.log_id.index));
    }
}

fn stopped() -> StorageError<NodeId> {
    StorageIOError::write_logs(&std::io::Error::other("the log thread has stopped")).into()
}

fn read_error(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_logs(&error).into()
}

fn write_error(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_logs(&error).into()
}

fn record_id(log_id: &LogId) -> RecordId {
    RecordId { index: log_id.index, term: log_id.leader_id.term }
}

fn to_log_id(id: RecordId) -> LogId {
    codec::log_id(id.term, id.index)
}

/// A `RangeBounds` as a half-open range of indexes.
fn index_range(range: impl RangeBounds<u64>) -> Range<Index> {
    let start = match range.start_bound() {
        Bound::Included(&start) => start,
        Bound::Excluded(&start) => start.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&end) => end.saturating_add(1),
        Bound::Excluded(&end) => end,
        Bound::Unbounded => Index::MAX,
    };
    start..end
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, StorageError<NodeId>> {
        let range = index_range(range);
        if let Some(entries) = self.take_recent(&range) {
            return Ok(entries);
        }
        let records = self.call(|reply| LogRequest::Read { range, reply }).await?;
        let records = records.map_err(read_error)?;
        let mut entries = Vec::with_capacity(records.len());
        for record in &records {
            entries.push(codec::decode_entry(record).map_err(read_error)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let (purged, last) = self.call(|reply| LogRequest::State { reply }).await?;
        Ok(LogState { last_purged_log_id: purged.map(to_log_id), last_log_id: last.map(to_log_id) })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let bytes = codec::encode_vote(vote);
        self.call(|reply| LogRequest::SaveVote { bytes, reply }).await?.map_err(write_error)?;
        self.vote = Some(*vote);
        Ok(())
    }

    /// The vote as saved, but never committed: openraft reads it once, at start-up, and
    /// restores a node whose committed vote names itself as the leader of that same term.
    /// That is unsafe here, as in Raft generally: the leader replicates an entry while it
    /// syncs it locally, so a leader killed before its own sync can have sent followers an
    /// entry it no longer holds, and restored in the same term it would propose a different
    /// entry under the same log id `(term, index)`. Followers keep theirs (the log ids match),
    /// and the members' states diverge. An uncommitted vote keeps everything Raft needs (the
    /// term, and whom this node voted for in it, so it never votes twice), and the node must
    /// win an election in a later term, which only a member holding every committed entry can.
    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.vote.map(|vote| Vote { committed: false, ..vote }))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = RaftEntry> + Send,
        I::IntoIter: Send,
    {
        // Encoding happens here, on openraft's task, so the log thread only writes and syncs.
        let entries: Vec<RaftEntry> = entries.into_iter().collect();
        let records: Vec<Record> = entries.iter().map(codec::encode_entry).collect();
        let ticket = entries
            .iter()
            .filter_map(|entry| match &entry.payload {
                EntryPayload::Normal(data) => Some(data.ticket),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        self.remember(entries);
        let request = LogRequest::Append { records, ticket, flushed: callback };
        self.requests.send(request).map_err(|_| stopped())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        let index = log_id.index;
        self.forget(index..Index::MAX);
        self.call(|reply| LogRequest::Truncate { index, reply }).await?.map_err(write_error)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        let upto = record_id(&log_id);
        self.forget(0..upto.index.saturating_add(1));
        self.call(|reply| LogRequest::Purge { upto, reply }).await?.map_err(write_error)
    }
}

/// The thread that owns the log.
struct LogThread {
    log: Log,
    fsync: FsyncMode,
    figures: Arc<LogFigures>,
    fatal: watch::Sender<Option<String>>,
    /// Flush callbacks (and highest tickets) of appends written but not yet synced.
    pending: Vec<(LogFlushed<TypeConfig>, Ticket)>,
    /// The append that found the disk full, if one did (step 4).
    stalled: Option<Stalled>,
    /// Requests that arrived while an append waited for space, in order.
    waiting_behind: VecDeque<LogRequest>,
}

/// An append that found the disk full: retried until there is space.
struct Stalled {
    /// The whole batch; the log holds a prefix of it (see [`Log::append`]).
    records: Vec<Record>,
    ticket: Ticket,
    flushed: LogFlushed<TypeConfig>,
    error: String,
}

impl LogThread {
    fn run(mut self, receiver: Receiver<LogRequest>) {
        let mut last_sync = Instant::now();
        loop {
            // Step 1: one request, waiting; in relaxed mode, no longer than the sync interval.
            // Requests that waited behind a full disk come first.
            let first = match self.waiting_behind.pop_front() {
                Some(request) => Ok(request),
                None => match self.fsync {
                    FsyncMode::Always => {
                        receiver.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    }
                    FsyncMode::EverySecond => receiver
                        .recv_timeout(RELAXED_SYNC_INTERVAL.saturating_sub(last_sync.elapsed())),
                },
            };
            match first {
                Ok(request) => {
                    self.execute(request);
                    // Then everything already queued, without waiting, unless an append
                    // found the disk full: what follows it waits for it.
                    while self.stalled.is_none() {
                        match self.waiting_behind.pop_front().or_else(|| receiver.try_recv().ok()) {
                            Some(request) => self.execute(request),
                            None => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Shutdown: whatever was written is made durable before the thread ends.
                    self.sync();
                    return;
                }
            }
            // Step 3: one sync for every append of this round.
            if self.fsync == FsyncMode::Always
                || last_sync.elapsed() >= RELAXED_SYNC_INTERVAL
                || self.stalled.is_some()
            {
                self.sync();
                last_sync = Instant::now();
            }
            // Steps 4 and 5.
            if self.stalled.is_some() && !self.wait_for_space(&receiver) {
                return;
            }
        }
    }

    /// Steps 4 and 5: retries the stalled append until it is written and synced, or the log
    /// fails. Returns `false` if the node shut down meanwhile.
    fn wait_for_space(&mut self, receiver: &Receiver<LogRequest>) -> bool {
        let Some(error) = self.stalled.as_ref().map(|stalled| stalled.error.clone()) else {
            return true;
        };
        let mut episode = Episode::default();
        episode.fault(Instant::now());
        tracing::warn!(
            %error,
            "the disk is full: the log cannot be written, so writes are refused until space \
             is freed; reads still work"
        );
        self.figures.disk_full.send_replace(Some(error));
        while let Some(stalled) = self.stalled.take() {
            // Waiting on the queue rather than sleeping notices a shutdown; what arrives
            // waits behind the stalled append.
            match receiver.recv_timeout(SPACE_RETRY_INTERVAL) {
                Ok(request) => self.waiting_behind.push_back(request),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
            let written = (self.log.next_index() - stalled.records[0].index) as usize;
            match self.log.append(&stalled.records[written..]) {
                Ok(()) => {
                    self.appended(&stalled.records[written..], stalled.flushed, stalled.ticket)
                }
                Err(LogError::NoSpace { context, source }) => {
                    let error = format!("{context}: {source}");
                    if let Some(report @ Report::Lasting { .. }) = episode.fault(Instant::now()) {
                        let summary = report.summary();
                        tracing::warn!(%error, "the disk is still full: {summary}");
                    }
                    self.stalled = Some(Stalled { error, ..stalled });
                    continue;
                }
                Err(error) => {
                    stalled.flushed.log_io_completed(Err(std::io::Error::other(error.to_string())));
                    self.fail(&error);
                    return true;
                }
            }
            // The retried append is written; it counts once a sync made it durable.
            self.sync();
            if self.fatal.borrow().is_none() {
                let summary = episode.recovered(Instant::now()).map(|report| report.summary());
                let summary = summary.unwrap_or_default();
                tracing::warn!(
                    "space is back: the log is written again, writes are accepted ({summary})"
                );
                self.figures.disk_full.send_replace(None);
            }
        }
        true
    }

    /// Step 2 for one request.
    fn execute(&mut self, request: LogRequest) {
        match request {
            LogRequest::Append { records, ticket, flushed } => match self.log.append(&records) {
                Ok(()) => self.appended(&records, flushed, ticket),
                Err(LogError::NoSpace { context, source }) => {
                    let error = format!("{context}: {source}");
                    self.stalled = Some(Stalled { records, ticket, flushed, error });
                }
                Err(error) => {
                    self.fail(&error);
                    flushed.log_io_completed(Err(std::io::Error::other(error.to_string())));
                }
            },
            LogRequest::Truncate { index, reply } => {
                let result = self.log.truncate(index);
                self.after_write(&result);
                let _ = reply.send(result);
            }
            LogRequest::Purge { upto, reply } => {
                let result = self.log.purge(upto);
                if result.is_ok() {
                    self.figures.bytes_since_purge.store(0, Ordering::Relaxed);
                }
                self.after_write(&result);
                let _ = reply.send(result);
            }
            LogRequest::SaveVote { bytes, reply } => {
                let result = self.log.save_vote(&bytes);
                self.after_write(&result);
                let _ = reply.send(result);
            }
            LogRequest::Read { range, reply } => {
                let _ = reply.send(self.log.read(range));
            }
            LogRequest::State { reply } => {
                let _ = reply.send((self.log.purged_id(), self.log.last_id()));
            }
        }
    }

    /// `records` were written: their callback completes after the next sync (`always`) or now.
    fn appended(&mut self, records: &[Record], flushed: LogFlushed<TypeConfig>, ticket: Ticket) {
        let bytes: u64 = records.iter().map(|record| record.payload.len() as u64 + 24).sum();
        self.figures.bytes_since_purge.fetch_add(bytes, Ordering::Relaxed);
        match self.fsync {
            FsyncMode::Always => self.pending.push((flushed, ticket)),
            FsyncMode::EverySecond => {
                flushed.log_io_completed(Ok(()));
                self.publish_flushed(ticket);
            }
        }
    }

    /// After a truncate, purge or vote save: those synced every earlier append, so their
    /// callbacks may complete now; a failure is fatal.
    fn after_write(&mut self, result: &Result<(), LogError>) {
        match result {
            Ok(()) => self.complete_pending(),
            Err(error @ LogError::Poisoned { .. }) => self.fail(error),
            Err(_) => {}
        }
    }

    fn sync(&mut self) {
        match self.log.sync() {
            Ok(()) => self.complete_pending(),
            Err(error) => self.fail(&error),
        }
    }

    fn complete_pending(&mut self) {
        let durable_next = self.log.durable_index().map_or(0, |index| index + 1);
        self.figures.durable_next.store(durable_next, Ordering::Relaxed);
        let mut highest = 0;
        for (flushed, ticket) in self.pending.drain(..) {
            flushed.log_io_completed(Ok(()));
            highest = highest.max(ticket);
        }
        self.publish_flushed(highest);
    }

    fn publish_flushed(&self, ticket: Ticket) {
        if ticket != 0 {
            self.figures.flushed_ticket.send_if_modified(|flushed| {
                let newer = ticket > *flushed;
                *flushed = (*flushed).max(ticket);
                newer
            });
        }
    }

    /// The log failed: every waiting append gets the error and the node is told to stop.
    fn fail(&mut self, error: &LogError) {
        for (flushed, _) in self.pending.drain(..) {
            flushed.log_io_completed(Err(std::io::Error::other(error.to_string())));
        }
        if let Some(stalled) = self.stalled.take() {
            stalled.flushed.log_io_completed(Err(std::io::Error::other(error.to_string())));
        }
        let reason = error.to_string();
        self.fatal.send_if_modified(|fatal| {
            let first = fatal.is_none();
            if first {
                *fatal = Some(reason.clone());
            }
            first
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::Entry;

    fn store() -> LogStore {
        LogStore { requests: mpsc::channel().0, vote: None, recent: Arc::default() }
    }

    fn normal(index: u64) -> RaftEntry {
        let entry = Entry { leader_time_ms: index, requests: Vec::new() };
        let data = super::super::Proposed { entry, ticket: index * 10 };
        openraft::Entry { log_id: codec::log_id(1, index), payload: EntryPayload::Normal(data) }
    }

    fn indexes(entries: &[RaftEntry]) -> Vec<u64> {
        entries.iter().map(|entry| entry.log_id.index).collect()
    }

    #[test]
    fn the_read_before_apply_takes_appended_entries_with_their_tickets() {
        let store = store();
        store.remember((5..10).map(normal).collect());
        let taken = store.take_recent(&(5..7)).expect("5 and 6 are cached");
        assert_eq!(indexes(&taken), [5, 6]);
        assert!(matches!(&taken[1].payload, EntryPayload::Normal(data) if data.ticket == 60));
        // Entries below a read are dropped; the rest is served.
        assert_eq!(indexes(&store.take_recent(&(8..10)).expect("cached")), [8, 9]);
        assert!(store.take_recent(&(10..11)).is_none(), "nothing is cached any more");
    }

    #[test]
    fn a_read_the_cache_cannot_serve_whole_goes_to_the_log() {
        let store = store();
        store.remember((5..8).map(normal).collect());
        assert!(store.take_recent(&(4..6)).is_none(), "index 4 is not cached");
        assert!(store.take_recent(&(5..9)).is_none(), "index 8 is not cached");
        assert!(store.take_recent(&(5..Index::MAX)).is_none(), "an open range is not cached");
        store.forget(6..Index::MAX);
        assert!(store.take_recent(&(5..7)).is_none(), "a truncated entry is gone");
        assert_eq!(indexes(&store.take_recent(&(5..6)).expect("cached")), [5]);
    }

    #[test]
    fn the_cache_is_bounded_and_restarts_after_a_gap() {
        let store = store();
        store.remember((0..RECENT_ENTRIES_MAX as u64 + 10).map(normal).collect());
        assert_eq!(store.recent.lock().len(), RECENT_ENTRIES_MAX);
        store.remember(vec![normal(500)]);
        assert_eq!(indexes(&store.take_recent(&(500..501)).expect("cached")), [500]);
    }
}
