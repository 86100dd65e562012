//! Recovery: rebuilding the log's in-memory state from its files, and deciding which damage
//! a crash can explain (a torn tail, cut off) and which it cannot (anything else, refused).
//!
//! The rules, in order (`docs/format.md` has them with the byte layout):
//! 1. Temporary files (`*.tmp`) are leftovers of an interrupted rollover or small-file
//!    replacement; they never held anything acknowledged and are deleted.
//! 2. The `purged` marker, if present, says which records are gone. Segments whose records
//!    all lie at or below it (the next segment starts at or below `purged + 1`) are leftovers
//!    of an interrupted purge and are deleted unread.
//! 3. The remaining segments must chain: the first starts at index 0, or at or below
//!    `purged + 1`; each later one starts where the previous one ends.
//! 4. In every segment, every frame must be whole, checksum-valid, and carry the next index
//!    and a term not below the previous one. The one exception is the end of the last
//!    segment: a damaged frame there with no valid frame anywhere after it is a torn write,
//!    and the file is truncated before it. The zeros that preallocation leaves after the
//!    last record are cut the same way (a frame of zeros fails its checksum), but only the
//!    bytes up to the last one that is not zero count as torn.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::disk::{Disk, DiskFile};
use super::format::{self, Frame, HeaderError, SmallFileError};
use super::{Cache, Index, LogError, Record, RecordId, Segment, Term, INDEX_MAX};

/// What recovery found, for progress reporting and the node's start-up log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files read.
    pub segments: usize,
    /// Records read and verified, including purged ones still in the first segment.
    pub records: u64,
    /// Bytes of segment files read.
    pub bytes: u64,
    /// Bytes cut from the end of the last segment as a torn write.
    pub torn_tail_bytes: u64,
    /// Leftover files deleted: temporary files and wholly purged segments.
    pub files_removed: usize,
    /// The wall-clock time recovery took.
    pub elapsed: Duration,
}

/// The state recovery rebuilt.
pub(super) struct Recovered {
    pub segments: Vec<Segment>,
    pub purged: Option<RecordId>,
    pub next_index: Index,
    pub last_term: Term,
    pub vote: Option<Bytes>,
    pub report: RecoveryReport,
}

/// How often a long recovery reports progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// Where the scan stands: the index and term the next record must follow.
struct Chain {
    purged: Option<RecordId>,
    next_index: Option<Index>,
    last_term: Term,
}

pub(super) fn recover(disk: &dyn Disk, cache: &mut Cache) -> Result<Recovered, LogError> {
    let started = Instant::now();
    let mut report = RecoveryReport::default();
    let listing = classify(disk)?;
    let purged = read_purged(disk)?;
    let vote = read_small_file(disk, format::VOTE_FILE, format::VOTE_MAGIC)?.map(Bytes::from);
    let obsolete = obsolete_segments(&listing.segments, purged);
    let mut removals = listing.temporary;
    removals.extend(listing.segments[..obsolete].iter().map(|(_, name)| name.clone()));
    remove_files(disk, &removals)?;
    report.files_removed += removals.len();

    let kept = &listing.segments[obsolete..];
    let mut chain = Chain { purged, next_index: None, last_term: 0 };
    let mut segments = Vec::with_capacity(kept.len());
    let mut last_progress = started;
    let mut last_written_end = 0;
    for (position, (first_index, name)) in kept.iter().enumerate() {
        let is_last = position + 1 == kept.len();
        let (segment, written_end) =
            recover_segment(disk, name, *first_index, is_last, &mut chain, cache)?;
        last_written_end = written_end;
        report.segments += 1;
        report.records += segment.offsets.len() as u64;
        report.bytes += segment.bytes;
        segments.push(segment);
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            last_progress = Instant::now();
            tracing::info!(
                segment = position + 1,
                segments = kept.len(),
                records = report.records,
                bytes = report.bytes,
                "recovering the log"
            );
        }
    }
    report.torn_tail_bytes = finish_last_segment(disk, &mut segments, last_written_end)?;
    // What was read may have been only in the page cache (the process died, the machine did
    // not). Syncing the last segment (the only one with unsynced writes) and the directory
    // makes everything recovered durable, so that `durable_index` can start at the end.
    sync_directory(disk)?;

    let first_index = purged.map_or(0, |purged| purged.index + 1);
    let mut next_index = chain.next_index.unwrap_or(first_index);
    let mut last_term = chain.last_term;
    if next_index <= first_index {
        // Every record left is purged: an interrupted purge past the end. The log is empty
        // and continues after the purged id.
        let names: Vec<String> = segments.drain(..).map(|segment| segment.name).collect();
        remove_files(disk, &names)?;
        report.files_removed += names.len();
        next_index = first_index;
        last_term = purged.map_or(0, |purged| purged.term);
        cache.purge(Index::MAX);
    }
    report.elapsed = started.elapsed();
    tracing::info!(
        segments = report.segments,
        records = report.records,
        bytes = report.bytes,
        torn_tail_bytes = report.torn_tail_bytes,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "log recovered"
    );
    Ok(Recovered { segments, purged, next_index, last_term, vote, report })
}

/// The directory's files, sorted into what recovery does with them.
struct Listing {
    /// Segments by first index, ascending.
    segments: Vec<(Index, String)>,
    temporary: Vec<String>,
}

fn classify(disk: &dyn Disk) -> Result<Listing, LogError> {
    let names = disk.list().map_err(|source| LogError::Io {
        context: format!("listing the log directory {}", disk.describe("")),
        source,
    })?;
    let mut listing = Listing { segments: Vec::new(), temporary: Vec::new() };
    for name in names {
        if name.ends_with(format::TEMPORARY_SUFFIX) {
            listing.temporary.push(name);
        } else if let Some(first_index) = format::parse_segment_name(&name) {
            listing.segments.push((first_index, name));
        } else if name != format::VOTE_FILE && name != format::PURGED_FILE {
            tracing::warn!(file = %disk.describe(&name), "ignoring a file that is not the log's");
        }
    }
    listing.segments.sort();
    listing.temporary.sort();
    Ok(listing)
}

/// How many of the first `segments` hold only purged records (rule 2). The last segment is
/// never judged here: where it ends is known only after reading it.
fn obsolete_segments(segments: &[(Index, String)], purged: Option<RecordId>) -> usize {
    let Some(purged) = purged else { return 0 };
    segments.windows(2).take_while(|pair| pair[1].0 <= purged.index + 1).count()
}

fn remove_files(disk: &dyn Disk, names: &[String]) -> Result<(), LogError> {
    if names.is_empty() {
        return Ok(());
    }
    for name in names {
        tracing::info!(file = %disk.describe(name), "removing a leftover log file");
        disk.remove(name).map_err(|source| LogError::Io {
            context: format!("removing {}", disk.describe(name)),
            source,
        })?;
    }
    sync_directory(disk)
}

fn sync_directory(disk: &dyn Disk) -> Result<(), LogError> {
    disk.sync_directory().map_err(|source| LogError::Io {
        context: format!("syncing the log directory {}", disk.describe("")),
        source,
    })
}

fn read_purged(disk: &dyn Disk) -> Result<Option<RecordId>, LogError> {
    let Some(payload) = read_small_file(disk, format::PURGED_FILE, format::PURGED_MAGIC)? else {
        return Ok(None);
    };
    match format::decode_purged(&payload) {
        Some((index, term)) if index <= INDEX_MAX => Ok(Some(RecordId { index, term })),
        _ => Err(LogError::Corrupt {
            file: disk.describe(format::PURGED_FILE),
            offset: 16,
            reason: "the purged marker does not hold a valid index and term".into(),
        }),
    }
}

/// The payload of the small file `name`, or `None` if there is no such file.
fn read_small_file(
    disk: &dyn Disk,
    name: &str,
    magic: [u8; 8],
) -> Result<Option<Vec<u8>>, LogError> {
    let file = match disk.open(name) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LogError::Io {
                context: format!("opening {}", disk.describe(name)),
                source,
            })
        }
    };
    let bytes = read_whole(disk, name, file.as_ref())?;
    let corrupt = |reason: &str| LogError::Corrupt {
        file: disk.describe(name),
        offset: 0,
        reason: reason.to_string(),
    };
    match format::decode_small_file(magic, &bytes) {
        Ok(payload) => Ok(Some(payload.to_vec())),
        Err(SmallFileError::UnsupportedVersion(version)) => Err(LogError::UnsupportedVersion {
            file: disk.describe(name),
            version,
            supported: format::FORMAT_VERSION,
        }),
        Err(SmallFileError::TooShort) => Err(corrupt("the file is shorter than its frame")),
        Err(SmallFileError::BadMagic) => Err(corrupt("the file does not start with its magic")),
        Err(SmallFileError::BadLength) => Err(corrupt("the length field disagrees with the file")),
        Err(SmallFileError::BadChecksum) => Err(corrupt("the checksum does not match")),
    }
}

fn read_whole(disk: &dyn Disk, name: &str, file: &dyn DiskFile) -> Result<Vec<u8>, LogError> {
    let io_error =
        |source| LogError::Io { context: format!("reading {}", disk.describe(name)), source };
    let length = file.len().map_err(io_error)?;
    let mut bytes = vec![0u8; usize::try_from(length).expect("a log file fits in memory")];
    file.read_at(0, &mut bytes).map_err(io_error)?;
    Ok(bytes)
}

/// Reads and verifies one segment, advancing `chain` and caching its recent records. Returns
/// it with the offset just past its last byte that is not zero, or its last record if no
/// such byte follows that.
fn recover_segment(
    disk: &dyn Disk,
    name: &str,
    first_index: Index,
    is_last: bool,
    chain: &mut Chain,
    cache: &mut Cache,
) -> Result<(Segment, u64), LogError> {
    let file = disk.open(name).map_err(|source| LogError::Io {
        context: format!("opening {}", disk.describe(name)),
        source,
    })?;
    let bytes = read_whole(disk, name, file.as_ref())?;
    let corrupt = |offset: usize, reason: String| LogError::Corrupt {
        file: disk.describe(name),
        offset: offset as u64,
        reason,
    };
    check_header(disk, name, &bytes, first_index)?;
    check_chain_start(chain, first_index).map_err(|reason| corrupt(0, reason))?;
    let purged_index = chain.purged.map(|purged| purged.index);
    let mut offsets = Vec::new();
    let mut offset = format::SEGMENT_HEADER_BYTES as usize;
    let mut index = first_index;
    while offset < bytes.len() {
        let (term, payload, end) = match format::decode_record(&bytes, offset) {
            Frame::Record { index: found, term, payload, end } if found == index => {
                (term, payload, end)
            }
            Frame::Record { index: found, .. } => {
                let reason = format!("record has index {found} where {index} was expected");
                return Err(corrupt(offset, reason));
            }
            frame => {
                if is_last && valid_record_after(&bytes, offset, index).is_none() {
                    // A torn write: cut it off below, once the segment is built.
                    break;
                }
                let reason = format!("damaged record {index} ({frame:?}) with valid ones after it");
                return Err(corrupt(offset, reason));
            }
        };
        if let Some(purged) = chain.purged {
            if index == purged.index && term != purged.term {
                let reason = format!("record {index} has term {term}, purged as {}", purged.term);
                return Err(corrupt(offset, reason));
            }
            if index == purged.index + 1 {
                chain.last_term = chain.last_term.max(purged.term);
            }
        }
        if term < chain.last_term {
            let reason = format!("record {index} has term {term}, below {}", chain.last_term);
            return Err(corrupt(offset, reason));
        }
        if index >= INDEX_MAX {
            return Err(corrupt(offset, format!("record index {index} is out of range")));
        }
        if purged_index.is_none_or(|purged| index > purged) {
            let payload = Bytes::copy_from_slice(&bytes[payload]);
            cache.push(Record { index, term, payload });
        }
        offsets.push(offset as u64);
        chain.last_term = term;
        index += 1;
        offset = end;
    }
    chain.next_index = Some(index);
    let name = name.to_string();
    let allocated = bytes.len() as u64;
    // Only what lies past the last record can be zeros or a torn write.
    let written_end = offset as u64 + end_of_nonzero(&bytes[offset..]);
    Ok((Segment { name, first_index, file, offsets, bytes: offset as u64, allocated }, written_end))
}

fn check_header(
    disk: &dyn Disk,
    name: &str,
    bytes: &[u8],
    first_index: Index,
) -> Result<(), LogError> {
    let corrupt = |offset: u64, reason: &str| LogError::Corrupt {
        file: disk.describe(name),
        offset,
        reason: reason.to_string(),
    };
    match format::decode_segment_header(bytes) {
        Ok(declared) if declared == first_index => Ok(()),
        Ok(declared) => Err(corrupt(16, &format!("the header says first index {declared}"))),
        Err(HeaderError::UnsupportedVersion(version)) => Err(LogError::UnsupportedVersion {
            file: disk.describe(name),
            version,
            supported: format::FORMAT_VERSION,
        }),
        Err(HeaderError::TooShort) => Err(corrupt(0, "the file is shorter than a segment header")),
        Err(HeaderError::BadMagic) => Err(corrupt(0, "the file does not start with the magic")),
        Err(HeaderError::BadChecksum) => Err(corrupt(28, "the header checksum does not match")),
    }
}

/// Checks that a segment starting at `first_index` continues the log (rule 3).
fn check_chain_start(chain: &Chain, first_index: Index) -> Result<(), String> {
    if first_index > INDEX_MAX {
        return Err(format!("first index {first_index} is out of range"));
    }
    match (chain.next_index, chain.purged) {
        (Some(expected), _) if first_index != expected => Err(format!(
            "segment starts at index {first_index} but the previous one ends before {expected}: \
             a segment is missing or damaged"
        )),
        (Some(_), _) => Ok(()),
        (None, Some(purged)) if first_index > purged.index + 1 => Err(format!(
            "the first segment starts at index {first_index} but the log is purged only up to \
             {}: a segment is missing",
            purged.index
        )),
        (None, None) if first_index != 0 => Err(format!(
            "the first segment starts at index {first_index}, not 0, and nothing was purged: \
             a segment is missing"
        )),
        (None, _) => Ok(()),
    }
}

/// The offset of a checksum-valid frame after the damaged one at `damaged_offset`, whose index
/// could follow `expected_index`, if there is one. Every byte offset is tried, since the
/// damaged frame's length field cannot be trusted; the index is checked before the checksum
/// so that the search stays cheap.
fn valid_record_after(bytes: &[u8], damaged_offset: usize, expected_index: Index) -> Option<usize> {
    let header_bytes = format::RECORD_HEADER_BYTES as usize;
    let records_most = ((bytes.len() - damaged_offset) / header_bytes) as u64 + 1;
    let last_start = bytes.len().checked_sub(header_bytes)?;
    (damaged_offset + 1..=last_start).find(|&offset| {
        let index = format::peek_index(bytes, offset);
        index >= expected_index
            && index - expected_index <= records_most
            && matches!(format::decode_record(bytes, offset), Frame::Record { .. })
    })
}

/// Truncates the last segment to its last valid record if a torn write or preallocated zeros
/// follow it, and syncs it. Returns the bytes of the torn write: those cut up to the last
/// byte that is not zero (zeros past it are preallocation, or a write that never began).
fn finish_last_segment(
    disk: &dyn Disk,
    segments: &mut [Segment],
    torn_end: u64,
) -> Result<u64, LogError> {
    let Some(last) = segments.last_mut() else { return Ok(0) };
    let file = disk.describe(&last.name);
    let io_error = |doing: String| move |source| LogError::Io { context: doing, source };
    let torn_bytes = torn_end.saturating_sub(last.bytes);
    if last.allocated != last.bytes {
        if torn_bytes > 0 {
            tracing::warn!(
                file = %file,
                offset = last.bytes,
                bytes = torn_bytes,
                "cutting off a torn write at the end of the log"
            );
        }
        let doing = format!("truncating {file} at byte {}", last.bytes);
        last.file.truncate(last.bytes).map_err(io_error(doing))?;
        last.allocated = last.bytes;
    }
    last.file.sync().map_err(io_error(format!("syncing {file}")))?;
    Ok(torn_bytes)
}

/// The offset just past the last byte of `bytes` that is not zero (0 if every byte is).
fn end_of_nonzero(bytes: &[u8]) -> u64 {
    bytes.iter().rposition(|&byte| byte != 0).map_or(0, |position| position as u64 + 1)
}
