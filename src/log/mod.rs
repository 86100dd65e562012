//! The Raft log on disk: a write-ahead log of opaque records that does not lose what it said
//! was durable, and says so loudly when the disk lost it anyway.
//!
//! A record is `(index, term, payload)`; the log knows nothing of commands or openraft types.
//! Records live in segment files (`docs/format.md` describes every byte), each starting with a
//! header that names its first index, followed by frames checksummed with CRC-32C. Two small
//! files sit beside them, each replaced atomically (temporary file, fsync, rename, directory
//! fsync): `vote` (opaque bytes: the adapter's term, voted-for node and committed flag) and
//! `purged` (the id of the last purged record, which must survive a restart even when no
//! record is left). A replaced file rather than a record log of its own, because a vote
//! changes about once per term and a rename is the simplest atomic write to reason about.
//!
//! All file access goes through the [`Disk`] trait: [`FileSystem`] in production,
//! [`SimulatedDisk`] in tests, which models what a power cut keeps and injects failures.
//!
//! Invariants:
//! - The records held are exactly `first_index()..next_index()`, without a hole, their terms
//!   never decreasing.
//! - Every record at or below `durable_index()` survives any crash.
//! - Only the active (last) segment ever holds unsynced bytes.
//! - After a failure of the write path, nothing more is written and nothing more is promised.
//!
//! # Writing
//!
//! [`Log::append`] writes a batch of records to the active segment with one write and returns
//! without syncing; [`Log::sync`] makes every appended record durable with one fdatasync, so
//! a caller that appends many batches and then syncs once gets group commit.
//! [`Log::durable_index`] says how far that promise reaches. [`Log::truncate`],
//! [`Log::purge`] and [`Log::save_vote`] first make every earlier append durable and are
//! durable themselves when they return, so the disk sees write requests in the order they
//! were made (openraft requires it).
//!
//! The active segment is preallocated: an append that reaches past the zeros written ahead
//! writes [`LogOptions::preallocate_bytes`] more with its records, so that most syncs flush
//! data into bytes the file already has and not also a new file length.
//!
//! A segment is closed (synced) when it reaches [`LogOptions::segment_bytes_max`] and a new
//! one is created as a temporary file, given its header, synced and renamed into place, then
//! the directory is synced: a segment's header is therefore always whole on disk, and only
//! the active (last) segment ever has unsynced bytes.
//!
//! # Recovery
//!
//! [`Log::open`] reads every segment in index order and checks every header and checksum. A
//! damaged frame at the very end of the last segment, with nothing valid after it, is a write
//! that a crash tore before it was acknowledged: it is cut off and the file truncated. Any
//! other damage — a bad header, a bad checksum followed by valid records, a non-last segment
//! that does not end cleanly, a gap between segments, a missing first segment — stops
//! recovery with [`LogError::Corrupt`] naming the file and byte offset. Nothing is repaired
//! silently, because a silent repair of the middle of the log loses acknowledged writes.
//! Recovery ends by syncing the last segment and the directory: what it read may have been
//! only in the page cache (the process died, the machine did not), and the reopened log
//! counts every record it holds as durable.
//!
//! # Failure
//!
//! A failed write, truncation, rename, removal or sync poisons the log: that operation and
//! every later one return [`LogError::Poisoned`] carrying the first cause, and
//! [`Log::durable_index`] no longer advances. fsync is never retried: after a failed fsync
//! the kernel may have dropped the dirty pages and marked them clean, so a second fsync that
//! succeeds proves nothing. The node stops; a restart recovers what reached the disk.
//!
//! One failure is recoverable: a full disk (`ENOSPC`, or `EDQUOT` for a quota) reported by a
//! *write* of [`Log::append`] (the records' bytes, or a new segment's creation, header write
//! or rename). No fsync had failed, so nothing durable is in doubt; the bytes the failed
//! write may have left past the end of the active segment (a short write) are cut off again
//! by truncating the file back to where the failed write began, and the file's length is read
//! back to verify it; a new segment that could not be made is removed. The append then
//! returns [`LogError::NoSpace`]: the log holds the records before the failed write (a prefix
//! of the batch, possibly empty; [`Log::next_index`] says how far), its files hold exactly
//! those bytes, and the caller may append the rest again later. If the truncation or the
//! check fails, the log is poisoned after all. Every other failure, a full disk included when
//! it is reported by an fsync, a truncation, a purge or a vote save, still poisons: an fsync
//! error may mean lost pages, and the other operations are rare enough that stopping is the
//! simpler promise.
//!
//! # Mapping openraft's `RaftLogStorage` (0.9 and 0.10)
//!
//! - `append(entries, callback)` (`LogFlushed` in 0.9, `IOFlushed` in 0.10): serialize each
//!   entry to a [`Record`] and [`Log::append`] them (readable on return, as openraft
//!   requires); then, once no further request is queued on the log thread, [`Log::sync`]
//!   once and complete the callback of every batch whose last index is at or below
//!   [`Log::durable_index`]. On an error, complete the pending callbacks with it and stop.
//!   A truncate, purge or vote save syncs first, so callbacks queued before one may be
//!   completed after it returns.
//! - `truncate(log_id)` (0.9, removes `log_id.index` and after) is
//!   `truncate(log_id.index)`; `truncate_after(Some(log_id))` (0.10) is
//!   `truncate(log_id.index + 1)`, and `truncate_after(None)` is `truncate(first_index())`.
//! - `purge(log_id)` is [`Log::purge`] with the same index and term.
//! - `get_log_state()`: `last_purged_log_id` from [`Log::purged_id`], `last_log_id` from
//!   [`Log::last_id`] (which is the purged id when no record is left, as openraft expects).
//! - `save_vote` / `read_vote`: [`Log::save_vote`] / [`Log::vote`] with the vote serialized.
//!   `save_committed` may be folded into the same bytes.
//! - `try_get_log_entries(range)` on the log reader: [`Log::read`]; it returns the records
//!   of the range that exist. The log is owned by one thread, so the reader sends its range
//!   there (or the adapter shares the log behind a mutex): reads take `&self`.
//!
//! Openraft's first entry has index 0, and an empty log expects index 0 next. A log that must
//! start elsewhere (a follower that installed a snapshot) is purged up to the index before.
//!
//! # Caveats
//!
//! - The in-memory index keeps one 8-byte offset per record still on disk.
//! - If a crash persisted a later unsynced page of a batch but not an earlier one, the tail
//!   looks like damage followed by a valid record and recovery refuses it, though no
//!   acknowledged write was involved. This is the price of never repairing silently.
//!   Preallocation makes it likelier after a power cut (not after a process crash):
//!   `docs/format.md`, "Known limits of the rules".
//! - [`Log::read`] returns the whole range asked for; the caller bounds the range.
//! - A missing last segment cannot be told from a truncation: the log recovers shorter.

mod disk;
pub mod format;
mod recovery;
mod segment;
mod simulated;

#[cfg(test)]
mod tests;

pub use disk::{Disk, DiskFile, FileSystem};
pub use recovery::RecoveryReport;
pub use simulated::{Fault, SimulatedDisk};

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use format::{PURGED_FILE, PURGED_MAGIC, TEMPORARY_SUFFIX, VOTE_FILE, VOTE_MAGIC};
use segment::Segment;

/// The position of a record in the log. The first record of a fresh log has index 0.
pub type Index = u64;
/// The Raft term in which a record was created.
pub type Term = u64;

/// The largest index the log accepts. Far beyond any real log, it keeps `index + 1` from
/// overflowing anywhere, including on indexes read from damaged files.
pub const INDEX_MAX: Index = i64::MAX as Index;

/// Names a record: its index and its term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordId {
    /// The record's position in the log, from 0.
    pub index: Index,
    /// The term of the leader that created the record.
    pub term: Term,
}

/// One log record. The payload is opaque to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The record's position in the log, from 0.
    pub index: Index,
    /// The term of the leader that created the record.
    pub term: Term,
    /// The bytes stored, opaque to the log.
    pub payload: Bytes,
}

impl Record {
    /// The record's index and term, without its payload.
    pub fn id(&self) -> RecordId {
        RecordId { index: self.index, term: self.term }
    }
}

/// The bounds of one log, validated by [`Log::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// The size at which the active segment is closed and a new one started, in bytes. A
    /// record larger than this gets a segment of its own. Larger segments mean fewer files
    /// and fsyncs at rollover; smaller ones let a purge free space sooner.
    pub segment_bytes_max: u64,
    /// How many bytes of the most recent records (payload plus frame) are kept in memory to
    /// serve reads without touching the disk. 0 disables the cache.
    ///
    /// The reads it serves are of the newest records: apply, and replication to followers
    /// that keep up. A follower far behind reads older records from the segment files (the
    /// page cache, usually), so the bound only needs to cover the records in flight, as
    /// Redis's replication backlog does with 1 MB by default. Every byte of it is memory the
    /// keyspace does not get: 64 MiB was 67 bytes per key of a million-key database.
    pub cache_bytes_max: u64,
    /// The largest payload [`Log::append`] accepts, in bytes, and the largest vote. At most
    /// `u32::MAX`, the most a frame's length field holds.
    pub record_bytes_max: u64,
    /// How many bytes of zeros the active segment is extended by, past its last record, when
    /// an append reaches the end of the zeros written before. 0 writes none.
    ///
    /// An fdatasync after a write that grows a file must also commit the file's new length
    /// (on ext4, a journal commit), which roughly doubles its cost; a write into bytes that
    /// already exist needs only the data flushed. Writing the zeros ahead, a chunk at a time,
    /// pays for the length change once per chunk instead of once per sync: on this project's
    /// test machine, a small write plus fdatasync fell from about 240 to 120-170 µs. The cost is
    /// writing every byte of the log twice (zeros first) and up to this many bytes of the disk
    /// held ahead of need. Recovery cuts the zeros off again, and a closed segment never has
    /// them (`docs/format.md`).
    pub preallocate_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes_max: 64 * 1024 * 1024,
            cache_bytes_max: 8 * 1024 * 1024,
            record_bytes_max: 16 * 1024 * 1024,
            preallocate_bytes: 1024 * 1024,
        }
    }
}

impl LogOptions {
    fn validate(&self) -> Result<(), LogError> {
        let record_bytes_min = format::SEGMENT_HEADER_BYTES + format::RECORD_HEADER_BYTES;
        if self.segment_bytes_max < record_bytes_min {
            return Err(LogError::InvalidOptions(format!(
                "segment_bytes_max must be at least {record_bytes_min}"
            )));
        }
        if self.record_bytes_max == 0 || self.record_bytes_max > u64::from(u32::MAX) {
            return Err(LogError::InvalidOptions(
                "record_bytes_max must be between 1 and 4294967295".into(),
            ));
        }
        Ok(())
    }
}

/// Why a log operation failed. Only `Poisoned` is permanent: it is returned once a write or sync has failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A write or sync failed, now or earlier; the log accepts nothing more. `context` and
    /// `source` describe the first failure.
    #[error("the log is poisoned and accepts nothing more; the failure was {context}: {source}")]
    Poisoned {
        /// What was being written or synced, and to which file.
        context: String,
        /// The first failure's error, shared by every later call that reports it.
        #[source]
        source: Arc<io::Error>,
    },

    /// A read failed. The log is not poisoned: nothing durable is in doubt.
    #[error("{context}: {source}")]
    Io {
        /// What was being read, and from which file.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The files hold something no sequence of writes and crashes could have left.
    #[error("log corrupted: {file} at byte {offset}: {reason}")]
    Corrupt {
        /// The file's name.
        file: String,
        /// The byte offset in `file` where the damage was found.
        offset: u64,
        /// What was wrong there.
        reason: String,
    },

    /// A file was written by a format version this build does not read.
    #[error("{file} has log format version {version}; this build reads only version {supported}")]
    UnsupportedVersion {
        /// The file's name.
        file: String,
        /// The version its header declares.
        version: u32,
        /// The one version this build reads (`FORMAT_VERSION`).
        supported: u32,
    },

    /// The caller asked for something the log's contract forbids; nothing was changed.
    #[error("invalid log request: {0}")]
    InvalidRequest(String),

    /// A `LogOptions` field is out of range; the text names it and its bound.
    #[error("invalid log options: {0}")]
    InvalidOptions(String),

    /// The disk is full (`ENOSPC` or `EDQUOT`) and an append could not be written. The log is
    /// not poisoned: it holds exactly the records before the failed write, and the rest of
    /// the batch may be appended again once there is space (see the module doc).
    #[error("{context}: {source}")]
    NoSpace {
        /// What was being appended, and to which file.
        context: String,
        /// The operating system's error (`ENOSPC` or `EDQUOT`).
        #[source]
        source: io::Error,
    },
}

/// Whether `error` says the disk (or the user's quota) is full.
pub fn is_no_space(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// How a failed step of an append leaves the log.
enum StepError {
    /// A full disk reported by a write; the step undid what it did (see the module doc).
    NoSpace(io::Error),
    /// Anything else: the log must be poisoned.
    Poison(io::Error),
}

impl StepError {
    /// A failed write: recoverable only if the disk is full.
    fn write(error: io::Error) -> StepError {
        if is_no_space(&error) {
            StepError::NoSpace(error)
        } else {
            StepError::Poison(error)
        }
    }
}

/// The most recent records, contiguous and ending at the log's last record.
#[derive(Debug, Default)]
struct Cache {
    records: VecDeque<Record>,
    bytes: u64,
    bytes_max: u64,
}

impl Cache {
    fn cost(record: &Record) -> u64 {
        format::record_bytes(record.payload.len())
    }

    fn push(&mut self, record: Record) {
        self.bytes += Cache::cost(&record);
        self.records.push_back(record);
        while self.bytes > self.bytes_max {
            let evicted = self.records.pop_front().expect("a cache over its bound is not empty");
            self.bytes -= Cache::cost(&evicted);
        }
    }

    fn first_index(&self) -> Option<Index> {
        self.records.front().map(|record| record.index)
    }

    /// Forgets the records at `index` and after.
    fn truncate(&mut self, index: Index) {
        while self.records.back().is_some_and(|record| record.index >= index) {
            let removed = self.records.pop_back().expect("checked");
            self.bytes -= Cache::cost(&removed);
        }
    }

    /// Forgets the records at `index` and before.
    fn purge(&mut self, index: Index) {
        while self.records.front().is_some_and(|record| record.index <= index) {
            let removed = self.records.pop_front().expect("checked");
            self.bytes -= Cache::cost(&removed);
        }
    }

    fn get(&self, index: Index) -> Option<&Record> {
        let first = self.first_index()?;
        self.records.get(usize::try_from(index.checked_sub(first)?).ok()?)
    }
}

/// The first failure of the write path.
#[derive(Clone, Debug)]
struct Poison {
    context: String,
    source: Arc<io::Error>,
}

/// An open write-ahead log. Writes take `&mut self`; reads take `&self`.
pub struct Log {
    disk: Arc<dyn Disk>,
    options: LogOptions,
    /// In index order; the last one is the active segment that appends go to.
    segments: Vec<Segment>,
    purged: Option<RecordId>,
    next_index: Index,
    /// The term of the record before `next_index` (or of the purged id, or 0).
    last_term: Term,
    /// Every record below this index is durable.
    durable_next: Index,
    cache: Cache,
    vote: Option<Bytes>,
    poison: Option<Poison>,
    recovery: RecoveryReport,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Log")
            .field("segments", &self.segments.len())
            .field("purged", &self.purged)
            .field("next_index", &self.next_index)
            .field("durable_next", &self.durable_next)
            .field("poisoned", &self.poison.is_some())
            .finish()
    }
}

impl Log {
    /// Opens (or creates) the log in `directory` on the real file system.
    pub fn open_directory(directory: &Path, options: LogOptions) -> Result<Log, LogError> {
        let disk = FileSystem::new(directory).map_err(|source| LogError::Io {
            context: format!("creating log directory {}", directory.display()),
            source,
        })?;
        Log::open(Arc::new(disk), options)
    }

    /// Opens the log on `disk`, recovering what is there (see the module doc); an empty
    /// directory is an empty log.
    pub fn open(disk: Arc<dyn Disk>, options: LogOptions) -> Result<Log, LogError> {
        options.validate()?;
        let mut cache = Cache { bytes_max: options.cache_bytes_max, ..Cache::default() };
        let recovered = recovery::recover(disk.as_ref(), &mut cache)?;
        Ok(Log {
            disk,
            options,
            segments: recovered.segments,
            purged: recovered.purged,
            next_index: recovered.next_index,
            last_term: recovered.last_term,
            durable_next: recovered.next_index,
            cache,
            vote: recovered.vote,
            poison: None,
            recovery: recovered.report,
        })
    }

    /// What recovery found when the log was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The index of the first record kept: one past the purged index, or 0.
    pub fn first_index(&self) -> Index {
        self.purged.map_or(0, |purged| purged.index + 1)
    }

    /// The index the next appended record must have.
    pub fn next_index(&self) -> Index {
        self.next_index
    }

    /// The index of the last record, or `None` if the log holds no record.
    pub fn last_index(&self) -> Option<Index> {
        (self.next_index > self.first_index()).then(|| self.next_index - 1)
    }

    /// The id of the last record, or the purged id if no record is left (openraft's
    /// `last_log_id`).
    pub fn last_id(&self) -> Option<RecordId> {
        match self.last_index() {
            Some(index) => Some(RecordId { index, term: self.last_term }),
            None => self.purged,
        }
    }

    /// The id of the last purged record, if any was purged.
    pub fn purged_id(&self) -> Option<RecordId> {
        self.purged
    }

    /// Every record at or below this index is durable; `None` if nothing is. Never past the
    /// last appended index, and frozen once the log is poisoned.
    pub fn durable_index(&self) -> Option<Index> {
        self.durable_next.checked_sub(1)
    }

    /// The last saved vote, as given to [`Log::save_vote`].
    pub fn vote(&self) -> Option<&Bytes> {
        self.vote.as_ref()
    }

    /// Appends `records`, which must have consecutive indexes starting at
    /// [`Log::next_index`] and non-decreasing terms not below the last record's. They are
    /// readable at once and durable after the next [`Log::sync`].
    ///
    /// On [`LogError::NoSpace`] the log holds the records of the batch that were written
    /// before the disk filled up (see [`Log::next_index`]) and nothing of the rest; appending
    /// the rest later continues it.
    pub fn append(&mut self, records: &[Record]) -> Result<(), LogError> {
        self.check_poison()?;
        self.validate_append(records)?;
        let mut buffer = Vec::new();
        let mut buffered_from = 0;
        for (position, record) in records.iter().enumerate() {
            let record_bytes = format::record_bytes(record.payload.len());
            if self.needs_new_segment(buffer.len() as u64, record_bytes) {
                self.write_buffer(&mut buffer, &records[buffered_from..position])?;
                buffered_from = position;
                let result = self.roll_over(record.index);
                self.fail_step(result, || format!("starting segment at {}", record.index))?;
            }
            format::encode_record(&mut buffer, record.index, record.term, &record.payload);
        }
        self.write_buffer(&mut buffer, &records[buffered_from..])
    }

    fn validate_append(&self, records: &[Record]) -> Result<(), LogError> {
        let mut expected = RecordId { index: self.next_index, term: self.last_term };
        for record in records {
            if record.index >= INDEX_MAX {
                return Err(LogError::InvalidRequest(format!(
                    "record index {} is above INDEX_MAX",
                    record.index
                )));
            }
            if record.index != expected.index {
                return Err(LogError::InvalidRequest(format!(
                    "appended record has index {} where {} was expected",
                    record.index, expected.index
                )));
            }
            if record.term < expected.term {
                return Err(LogError::InvalidRequest(format!(
                    "record {} has term {}, below the term {} before it",
                    record.index, record.term, expected.term
                )));
            }
            if record.payload.len() as u64 > self.options.record_bytes_max {
                return Err(LogError::InvalidRequest(format!(
                    "record {} has {} bytes, more than record_bytes_max {}",
                    record.index,
                    record.payload.len(),
                    self.options.record_bytes_max
                )));
            }
            expected = RecordId { index: record.index + 1, term: record.term };
        }
        Ok(())
    }

    /// Whether a record of `record_bytes` needs a segment other than the active one, which
    /// will hold `buffered_bytes` more once the buffer is written.
    fn needs_new_segment(&self, buffered_bytes: u64, record_bytes: u64) -> bool {
        match self.segments.last() {
            None => true,
            Some(active) => {
                let bytes = active.bytes + buffered_bytes;
                // An empty segment takes any record, however large, so that every record fits.
                bytes + record_bytes > self.options.segment_bytes_max
                    && bytes > format::SEGMENT_HEADER_BYTES
            }
        }
    }

    /// Writes the encoded `records` in `buffer` to the end of the active segment, then
    /// empties the buffer.
    fn write_buffer(&mut self, buffer: &mut Vec<u8>, records: &[Record]) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let active = self.segments.last_mut().expect("a segment exists once records are encoded");
        let start = active.bytes;
        let records_end = start + buffer.len() as u64;
        // Zeros reach at most to the size at which the segment is closed, where they stop
        // being useful.
        let zeros = if records_end > active.allocated {
            self.options
                .preallocate_bytes
                .min(self.options.segment_bytes_max.saturating_sub(records_end))
        } else {
            0
        };
        let result = active.write_at_end(buffer, zeros);
        let name = self.disk.describe(&active.name);
        self.fail_step(result, || format!("writing to {name}"))?;
        let active = self.segments.last_mut().expect("checked above");
        let mut offset = start;
        for record in records {
            active.offsets.push(offset);
            offset += format::record_bytes(record.payload.len());
        }
        active.bytes = offset;
        self.next_index = records.last().expect("not empty").index + 1;
        self.last_term = records.last().expect("not empty").term;
        for record in records {
            self.cache.push(record.clone());
        }
        buffer.clear();
        Ok(())
    }

    /// Closes the active segment (cutting its preallocated zeros and syncing it) and starts a
    /// new one at `first_index`. A full disk while the zeros are cut, or while the new segment
    /// is created, given its header or renamed is recoverable: the
    /// temporary file is removed (recovery removes it too, should that fail) and nothing of
    /// the log changed except that the closed segment is now durable.
    fn roll_over(&mut self, first_index: Index) -> Result<(), StepError> {
        if let Some(active) = self.segments.last_mut() {
            // A closed segment ends at its last record (recovery requires it of every segment
            // but the last), so its preallocated zeros go, in the same sync. A full disk
            // reported here changed nothing, so it is recoverable like a write's.
            if active.allocated > active.bytes {
                active.file.truncate(active.bytes).map_err(StepError::write)?;
                active.allocated = active.bytes;
            }
            active.file.sync().map_err(StepError::Poison)?;
            self.durable_next = self.next_index;
        }
        let name = format::segment_name(first_index);
        let temporary = format!("{name}{TEMPORARY_SUFFIX}");
        let remove_temporary = |error: StepError| {
            if matches!(error, StepError::NoSpace(_)) {
                let _ = self.disk.remove(&temporary);
            }
            error
        };
        let mut file =
            self.disk.create(&temporary).map_err(StepError::write).map_err(remove_temporary)?;
        let header = format::encode_segment_header(first_index);
        file.write_at(0, &header).map_err(StepError::write).map_err(remove_temporary)?;
        file.sync().map_err(StepError::Poison)?;
        self.disk.rename(&temporary, &name).map_err(StepError::write).map_err(remove_temporary)?;
        self.disk.sync_directory().map_err(StepError::Poison)?;
        let bytes = format::SEGMENT_HEADER_BYTES;
        let segment =
            Segment { name, first_index, file, offsets: Vec::new(), bytes, allocated: bytes };
        self.segments.push(segment);
        Ok(())
    }

    /// Makes every appended record durable (one fdatasync of the active segment; earlier
    /// segments were synced when they were closed).
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.check_poison()?;
        if self.durable_next == self.next_index {
            return Ok(());
        }
        if let Some(active) = self.segments.last_mut() {
            let result = active.file.sync();
            let name = active.name.clone();
            self.poison_on_error(result, || format!("syncing {name}"))?;
        }
        self.durable_next = self.next_index;
        Ok(())
    }

    /// Removes every record at `index` and after, durably, with every earlier record synced.
    /// An index at or past the end changes nothing; an index below [`Log::first_index`] is
    /// refused, since those records are purged (committed).
    pub fn truncate(&mut self, index: Index) -> Result<(), LogError> {
        self.check_poison()?;
        if index >= self.next_index {
            return Ok(());
        }
        if index < self.first_index() {
            return Err(LogError::InvalidRequest(format!(
                "cannot truncate at {index}: records up to {} are purged",
                self.first_index() - 1
            )));
        }
        let last_term = if index == self.first_index() {
            self.purged.map_or(0, |purged| purged.term)
        } else {
            self.term_at(index - 1)?
        };
        // Later segments go first, each removal made durable before the next, so that a crash
        // part way leaves a shorter log, never one with a hole.
        while self.segments.last().is_some_and(|segment| segment.first_index > index) {
            let segment = self.segments.pop().expect("checked");
            let result = self.remove_durably(&segment.name);
            self.poison_on_error(result, || format!("removing {}", segment.name))?;
        }
        let active = self.segments.last_mut().expect("the segment holding index exists");
        let cut = if index == active.first_index {
            format::SEGMENT_HEADER_BYTES
        } else {
            active.byte_range(index, active.next_index()).start
        };
        active.offsets.truncate((index - active.first_index) as usize);
        active.bytes = cut;
        active.allocated = cut;
        let result = active.file.truncate(cut).and_then(|()| active.file.sync());
        let name = active.name.clone();
        self.poison_on_error(result, || format!("truncating {name} at byte {cut}"))?;
        self.next_index = index;
        self.last_term = last_term;
        self.durable_next = index;
        self.cache.truncate(index);
        Ok(())
    }

    fn remove_durably(&self, name: &str) -> io::Result<()> {
        self.disk.remove(name)?;
        self.disk.sync_directory()
    }

    /// Forgets every record up to and including `upto`, durably, with every earlier append
    /// synced. Whole segments below it are deleted; the id is remembered, and if it is past
    /// the last record, the next append starts right after it. `upto.term` must be the term
    /// of the record at `upto.index` if the log holds it. A purge at or below the purged
    /// index changes nothing.
    pub fn purge(&mut self, upto: RecordId) -> Result<(), LogError> {
        self.check_poison()?;
        if self.purged.is_some_and(|purged| purged.index >= upto.index) {
            return Ok(());
        }
        if upto.index >= INDEX_MAX {
            return Err(LogError::InvalidRequest(format!(
                "purge index {} is above INDEX_MAX",
                upto.index
            )));
        }
        if upto.index < self.next_index {
            let term = self.term_at(upto.index)?;
            if term != upto.term {
                return Err(LogError::InvalidRequest(format!(
                    "purge up to {} in term {}, but the record there has term {term}",
                    upto.index, upto.term
                )));
            }
        }
        self.sync()?;
        let marker =
            format::encode_small_file(PURGED_MAGIC, &format::encode_purged(upto.index, upto.term));
        let result = self.replace_small_file(PURGED_FILE, &marker);
        self.poison_on_error(result, || format!("writing {PURGED_FILE}"))?;
        self.purged = Some(upto);
        if upto.index >= self.next_index {
            self.next_index = upto.index + 1;
            self.last_term = upto.term;
            self.durable_next = self.next_index;
        }
        self.cache.purge(upto.index);
        let result = self.remove_purged_segments(upto.index);
        self.poison_on_error(result, || "removing purged segments".to_string())
    }

    /// Deletes the segments whose records are all at or below `upto`. The purged marker is
    /// already durable, so recovery skips any of them that a crash brings back.
    fn remove_purged_segments(&mut self, upto: Index) -> io::Result<()> {
        let mut removed = 0;
        while let Some(first) = self.segments.first() {
            let next_index = match self.segments.get(1) {
                Some(second) => second.first_index,
                None => first.next_index(),
            };
            if next_index > upto + 1 {
                break;
            }
            let segment = self.segments.remove(0);
            self.disk.remove(&segment.name)?;
            removed += 1;
        }
        if removed > 0 {
            self.disk.sync_directory()?;
        }
        Ok(())
    }

    /// Saves the vote (opaque bytes) durably, after syncing every earlier append, replacing
    /// the previous one atomically.
    pub fn save_vote(&mut self, vote: &[u8]) -> Result<(), LogError> {
        self.check_poison()?;
        if vote.len() as u64 > self.options.record_bytes_max {
            return Err(LogError::InvalidRequest(format!(
                "a vote of {} bytes is more than record_bytes_max",
                vote.len()
            )));
        }
        self.sync()?;
        let bytes = format::encode_small_file(VOTE_MAGIC, vote);
        let result = self.replace_small_file(VOTE_FILE, &bytes);
        self.poison_on_error(result, || format!("writing {VOTE_FILE}"))?;
        self.vote = Some(Bytes::copy_from_slice(vote));
        Ok(())
    }

    /// Writes `bytes` as the new content of `name`: temporary file, sync, rename, directory
    /// sync. A crash leaves the old content or the new, never a mix.
    fn replace_small_file(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let temporary = format!("{name}{TEMPORARY_SUFFIX}");
        let mut file = self.disk.create(&temporary)?;
        file.write_at(0, bytes)?;
        file.sync()?;
        self.disk.rename(&temporary, name)?;
        self.disk.sync_directory()
    }

    /// The records of `range` that the log holds (those from [`Log::first_index`] to the
    /// last record), in order. Recent records come from the cache, older ones from disk,
    /// their checksums verified again.
    pub fn read(&self, range: Range<Index>) -> Result<Vec<Record>, LogError> {
        self.check_poison()?;
        let start = range.start.max(self.first_index());
        let end = range.end.min(self.next_index);
        if start >= end {
            return Ok(Vec::new());
        }
        let cached_from = self.cache.first_index().unwrap_or(self.next_index).clamp(start, end);
        let mut records = Vec::with_capacity((end - start) as usize);
        for segment in &self.segments {
            let from = start.max(segment.first_index);
            let to = cached_from.min(segment.next_index());
            if from < to {
                records.extend(self.read_segment(segment, from, to)?);
            }
        }
        records.extend((cached_from..end).map(|index| {
            self.cache.get(index).expect("the cache holds every index from its first").clone()
        }));
        Ok(records)
    }

    /// Reads the records `from..to` of `segment` from disk.
    fn read_segment(
        &self,
        segment: &Segment,
        from: Index,
        to: Index,
    ) -> Result<Vec<Record>, LogError> {
        let bytes_range = segment.byte_range(from, to);
        let mut buffer = vec![0u8; (bytes_range.end - bytes_range.start) as usize];
        segment.file.read_at(bytes_range.start, &mut buffer).map_err(|source| LogError::Io {
            context: format!("reading {}", self.disk.describe(&segment.name)),
            source,
        })?;
        let buffer = Bytes::from(buffer);
        let mut records = Vec::with_capacity((to - from) as usize);
        let mut offset = 0;
        for index in from..to {
            let corrupt = |reason: String| LogError::Corrupt {
                file: self.disk.describe(&segment.name),
                offset: bytes_range.start + offset as u64,
                reason,
            };
            match format::decode_record(&buffer, offset) {
                format::Frame::Record { index: found, term, payload, end } if found == index => {
                    records.push(Record { index, term, payload: buffer.slice(payload) });
                    offset = end;
                }
                frame => return Err(corrupt(format!("record {index} reads back as {frame:?}"))),
            }
        }
        Ok(records)
    }

    /// The term of the record at `index`, which the log holds.
    fn term_at(&self, index: Index) -> Result<Term, LogError> {
        if let Some(record) = self.cache.get(index) {
            return Ok(record.term);
        }
        let records = self.read(index..index + 1)?;
        Ok(records.first().expect("the log holds the record at index").term)
    }

    fn check_poison(&self) -> Result<(), LogError> {
        match &self.poison {
            Some(poison) => Err(LogError::Poisoned {
                context: poison.context.clone(),
                source: poison.source.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Passes `result` through; a full disk becomes [`LogError::NoSpace`] and leaves the log
    /// healthy, any other failure poisons it.
    fn fail_step<T>(
        &mut self,
        result: Result<T, StepError>,
        context: impl FnOnce() -> String,
    ) -> Result<T, LogError> {
        match result {
            Ok(value) => Ok(value),
            Err(StepError::NoSpace(source)) => {
                Err(LogError::NoSpace { context: context(), source })
            }
            Err(StepError::Poison(error)) => self.poison_on_error(Err(error), context),
        }
    }

    /// Passes `result` through, except that a failure poisons the log.
    fn poison_on_error<T>(
        &mut self,
        result: io::Result<T>,
        context: impl FnOnce() -> String,
    ) -> Result<T, LogError> {
        result.map_err(|error| {
            let poison = Poison { context: context(), source: Arc::new(error) };
            tracing::error!(context = %poison.context, error = %poison.source, "log poisoned");
            self.poison = Some(poison);
            self.check_poison().expect_err("just poisoned")
        })
    }
}

/// Opens a log over in-memory `files` (name, bytes) and reads every record back, checking
/// the log's invariants: the entry point of the `log_recovery` fuzz target. Whatever the
/// bytes, this returns an error or the records; it must never panic.
pub fn recover_from_files(files: &[(&str, &[u8])]) -> Result<Vec<Record>, LogError> {
    let disk = SimulatedDisk::from_files(files.iter().copied());
    let options = LogOptions { cache_bytes_max: 4096, ..LogOptions::default() };
    let log = Log::open(Arc::new(disk), options)?;
    let records = log.read(0..Index::MAX)?;
    assert_eq!(records.len() as u64, log.next_index() - log.first_index(), "a hole in the log");
    for (record, index) in records.iter().zip(log.first_index()..) {
        assert_eq!(record.index, index, "records out of order");
    }
    assert_eq!(log.last_id(), records.last().map(Record::id).or(log.purged_id()));
    Ok(records)
}
