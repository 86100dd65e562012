//! Snapshot files: the whole keyspace as of one applied entry, written from an MVCC view.
//!
//! A snapshot is written while writes go on: the writer holds an immutable [`View`] (an O(1)
//! clone of the persistent maps) and streams it to `snapshot-<index>.tmp`, fsyncs the file,
//! renames it to `snapshot-<index>-<term>.snap` and fsyncs the directory. Only then is it the
//! current snapshot and may the log below it be purged. `docs/format.md` gives every byte.
//!
//! Invariants:
//! - A snapshot file is complete and checksummed, or it is not read: decoding verifies the
//!   trailer's CRC-32C over every byte before it, and the caller installs the decoded keyspace
//!   only after that check passed.
//! - Decoding never trusts a length: frames are read with `Read::take`, so a damaged length
//!   costs at most the bytes really present, and any input gives an error, never a panic
//!   (the `snapshot_decode` fuzz target checks this).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::codec::MembershipRecord;
use crate::command::acl::Users;
use crate::command::DATABASES;
use crate::state_machine::{Subscriptions, View, Waiters, WaitersVersion2};
use crate::store::functions::FunctionLibraries;
use crate::store::scripts::ScriptCache;
use crate::store::{Entry as StoredEntry, Keyspace};

/// The first 8 bytes of every snapshot file.
pub const MAGIC: &[u8; 8] = b"CNCDSNAP";
/// The snapshot format version this build writes. Version 2 added the blocked clients to the
/// metadata, version 3 the reservations of served blocked clients (and whether each waiter
/// reserves), version 4 the replicated subscriber table of pub/sub, version 5 the Lua script
/// cache, version 6 the function libraries, version 7 the ACL users; versions 1 to 6 are still
/// read (with no subscribers before 4, no scripts before 5, no function libraries before 6,
/// and only the `default` user, with every permission and no password, before 7).
pub const VERSION: u32 = 7;
/// The frame length that marks the end of the key frames.
const END_MARKER: u32 = u32::MAX;
/// The largest frame accepted: a value may be 512 MiB, plus its key and metadata.
const FRAME_BYTES_MAX: u32 = 1 << 30;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and on which file.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file's bytes are not a whole, valid snapshot.
    #[error("snapshot {file} is damaged: {reason}")]
    Corrupt {
        /// The snapshot file.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// The file was written by a format version this build does not read.
    #[error("snapshot {file} has format version {version}; this build reads versions 1 to 7")]
    UnsupportedVersion {
        /// The snapshot file.
        file: String,
        /// The version its header declares.
        version: u32,
    },
}

/// What a snapshot says about itself, besides the keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMetadata {
    /// The last entry the snapshot covers: `(index, term)`, or `None` for an empty state.
    pub last_applied: Option<(u64, u64)>,
    /// Where the membership below was decided, `(index, term)`.
    pub membership_log_id: Option<(u64, u64)>,
    /// The membership in force at `last_applied`.
    pub membership: MembershipRecord,
    /// The `leader_time_ms` of the last applied entry (time never goes back after restore).
    pub applied_time_ms: u64,
    /// The clients blocked on keys: replicated state machine state, so that a node restored
    /// from this snapshot serves later pushes to the same clients as the others (version 2),
    /// with the reservations of those served and not yet confirmed (version 3).
    pub waiters: Waiters,
    /// Who is subscribed to which channels and patterns, on every node (version 4), so that
    /// PUBLISH counts and delivers the same after the snapshot as before.
    pub subscriptions: Subscriptions,
    /// The Lua scripts EVAL and SCRIPT LOAD cached (version 5), so that EVALSHA finds them
    /// after a restart and on a member that installed this snapshot.
    pub scripts: ScriptCache,
    /// The function libraries FUNCTION LOAD and RESTORE loaded (version 6), so that FCALL
    /// finds them after a restart and on a member that installed this snapshot.
    pub functions: FunctionLibraries,
    /// The ACL users (version 7), each as its name and its description (the rules ACL LIST
    /// prints, which applied to a fresh user give it back), in name order.
    pub users: Vec<(Bytes, Bytes)>,
}

/// Version 6's metadata: everything but the ACL users.
#[derive(Deserialize)]
struct MetadataVersion6 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
    waiters: Waiters,
    subscriptions: Subscriptions,
    scripts: ScriptCache,
    functions: FunctionLibraries,
}

/// Version 6 had only the `default` user, with every permission and no password: the table
/// a fresh node starts with, which an empty list stands for.
impl From<MetadataVersion6> for SnapshotMetadata {
    fn from(old: MetadataVersion6) -> SnapshotMetadata {
        SnapshotMetadata {
            last_applied: old.last_applied,
            membership_log_id: old.membership_log_id,
            membership: old.membership,
            applied_time_ms: old.applied_time_ms,
            waiters: old.waiters,
            subscriptions: old.subscriptions,
            scripts: old.scripts,
            functions: old.functions,
            users: Vec::new(),
        }
    }
}

/// Version 5's metadata: everything but the function libraries.
#[derive(Deserialize)]
struct MetadataVersion5 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
    waiters: Waiters,
    subscriptions: Subscriptions,
    scripts: ScriptCache,
}

/// Version 4's metadata: everything but the script cache.
#[derive(Deserialize)]
struct MetadataVersion4 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
    waiters: Waiters,
    subscriptions: Subscriptions,
}

/// Version 3's metadata: everything but the subscribers.
#[derive(Deserialize)]
struct MetadataVersion3 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
    waiters: Waiters,
}

/// Version 1's metadata: the same, without the blocked clients.
#[derive(Deserialize)]
struct MetadataVersion1 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
}

/// Version 2's metadata: blocked clients without reservations.
#[derive(Deserialize)]
struct MetadataVersion2 {
    last_applied: Option<(u64, u64)>,
    membership_log_id: Option<(u64, u64)>,
    membership: MembershipRecord,
    applied_time_ms: u64,
    waiters: WaitersVersion2,
}

pub(crate) fn decode_metadata(
    version: u32,
    bytes: &[u8],
) -> Result<SnapshotMetadata, postcard::Error> {
    match version {
        1 => {
            let old: MetadataVersion1 = postcard::from_bytes(bytes)?;
            Ok(SnapshotMetadata {
                last_applied: old.last_applied,
                membership_log_id: old.membership_log_id,
                membership: old.membership,
                applied_time_ms: old.applied_time_ms,
                waiters: Waiters::default(),
                subscriptions: Subscriptions::default(),
                scripts: ScriptCache::default(),
                functions: FunctionLibraries::default(),
                users: Vec::new(),
            })
        }
        2 => {
            let old: MetadataVersion2 = postcard::from_bytes(bytes)?;
            Ok(SnapshotMetadata {
                last_applied: old.last_applied,
                membership_log_id: old.membership_log_id,
                membership: old.membership,
                applied_time_ms: old.applied_time_ms,
                waiters: old.waiters.into(),
                subscriptions: Subscriptions::default(),
                scripts: ScriptCache::default(),
                functions: FunctionLibraries::default(),
                users: Vec::new(),
            })
        }
        3 => {
            let old: MetadataVersion3 = postcard::from_bytes(bytes)?;
            Ok(SnapshotMetadata {
                last_applied: old.last_applied,
                membership_log_id: old.membership_log_id,
                membership: old.membership,
                applied_time_ms: old.applied_time_ms,
                waiters: old.waiters,
                subscriptions: Subscriptions::default(),
                scripts: ScriptCache::default(),
                functions: FunctionLibraries::default(),
                users: Vec::new(),
            })
        }
        4 => {
            let old: MetadataVersion4 = postcard::from_bytes(bytes)?;
            Ok(SnapshotMetadata {
                last_applied: old.last_applied,
                membership_log_id: old.membership_log_id,
                membership: old.membership,
                applied_time_ms: old.applied_time_ms,
                waiters: old.waiters,
                subscriptions: old.subscriptions,
                scripts: ScriptCache::default(),
                functions: FunctionLibraries::default(),
                users: Vec::new(),
            })
        }
        5 => {
            let old: MetadataVersion5 = postcard::from_bytes(bytes)?;
            Ok(SnapshotMetadata {
                last_applied: old.last_applied,
                membership_log_id: old.membership_log_id,
                membership: old.membership,
                applied_time_ms: old.applied_time_ms,
                waiters: old.waiters,
                subscriptions: old.subscriptions,
                scripts: old.scripts,
                functions: FunctionLibraries::default(),
                users: Vec::new(),
            })
        }
        6 => Ok(postcard::from_bytes::<MetadataVersion6>(bytes)?.into()),
        _ => postcard::from_bytes(bytes),
    }
}

/// One key frame.
#[derive(Serialize)]
struct KeyFrameRef<'a> {
    db: u8,
    #[serde(serialize_with = "serialize_key")]
    key: &'a [u8],
    entry: &'a StoredEntry,
}

/// A key as serde bytes, as [`KeyFrame`] reads it back (a plain `&[u8]` would be a sequence).
fn serialize_key<S: serde::Serializer>(key: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(key)
}

#[derive(Deserialize)]
struct KeyFrame {
    db: u8,
    key: Bytes,
    entry: StoredEntry,
}

/// A decoded snapshot.
pub struct Decoded {
    /// The snapshot's own description.
    pub metadata: SnapshotMetadata,
    /// Every key and value the snapshot holds.
    pub keyspace: Keyspace,
    /// How many keys were read.
    pub keys: u64,
}

/// A writer that checksums what passes through it.
struct Checksummed<W> {
    inner: W,
    crc: u32,
    bytes: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.crc = crc32c::crc32c_append(self.crc, &buffer[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that checksums what passes through it.
struct ChecksummedReader<R> {
    inner: R,
    crc: u32,
}

impl<R: Read> Read for ChecksummedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.crc = crc32c::crc32c_append(self.crc, &buffer[..read]);
        Ok(read)
    }
}

fn write_frame(output: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let bytes = postcard::to_stdvec(value).map_err(io::Error::other)?;
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|&length| length <= FRAME_BYTES_MAX)
        .ok_or_else(|| io::Error::other("a snapshot frame is over 1 GiB"))?;
    output.write_all(&length.to_le_bytes())?;
    output.write_all(&bytes)
}

/// Streams `view` with `metadata` to `output`; returns the number of keys written.
pub fn encode(view: &View, metadata: &SnapshotMetadata, output: impl Write) -> io::Result<u64> {
    let mut output = Checksummed { inner: output, crc: 0, bytes: 0 };
    output.write_all(MAGIC)?;
    output.write_all(&VERSION.to_le_bytes())?;
    output.write_all(&0u32.to_le_bytes())?;
    write_frame(&mut output, metadata)?;
    let contents_versions: Vec<u64> =
        view.keyspace.databases().map(|(_, database)| database.contents_version()).collect();
    write_frame(&mut output, &contents_versions)?;
    let mut keys = 0u64;
    for (db, database) in view.keyspace.databases() {
        let db = u8::try_from(db).expect("there are 16 databases");
        for (key, entry) in database.iter_including_expired() {
            write_frame(&mut output, &KeyFrameRef { db, key, entry })?;
            keys += 1;
        }
    }
    output.write_all(&END_MARKER.to_le_bytes())?;
    output.write_all(&keys.to_le_bytes())?;
    let crc = output.crc;
    output.inner.write_all(&crc.to_le_bytes())?;
    output.inner.flush()?;
    Ok(keys)
}

/// Decodes a whole snapshot from `input`, verifying its checksum. `file` names it in errors.
pub fn decode(input: impl Read, file: &str) -> Result<Decoded, SnapshotError> {
    let corrupt = |reason: String| SnapshotError::Corrupt { file: file.to_string(), reason };
    let truncated = |error: io::Error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            corrupt("the file ends early".into())
        } else {
            SnapshotError::Io { context: format!("reading snapshot {file}"), source: error }
        }
    };
    let mut input = ChecksummedReader { inner: input, crc: 0 };
    let mut header = [0u8; 16];
    input.read_exact(&mut header).map_err(truncated)?;
    if &header[0..8] != MAGIC {
        return Err(corrupt("it does not start with CNCDSNAP".into()));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if !(1..=VERSION).contains(&version) {
        return Err(SnapshotError::UnsupportedVersion { file: file.to_string(), version });
    }
    let metadata_bytes = read_frame(&mut input).map_err(truncated)?;
    let metadata_bytes =
        metadata_bytes.ok_or_else(|| corrupt("the metadata frame is missing".into()))?;
    let metadata = decode_metadata(version, &metadata_bytes)
        .map_err(|error| corrupt(format!("metadata: {error}")))?;
    let mut keyspace = Keyspace::new();
    *keyspace.scripts_mut() = metadata.scripts.clone();
    *keyspace.functions_mut() = metadata.functions.clone();
    // Before version 7 there are no users to read: the fresh table (only `default`) stands.
    if !metadata.users.is_empty() {
        *keyspace.users_mut() = Users::from_descriptions(&metadata.users)
            .map_err(|error| corrupt(format!("ACL users: {}", error.message())))?;
    }
    let versions_bytes = read_frame(&mut input).map_err(truncated)?;
    let versions_bytes =
        versions_bytes.ok_or_else(|| corrupt("the databases frame is missing".into()))?;
    let contents_versions: Vec<u64> = postcard::from_bytes(&versions_bytes)
        .map_err(|error| corrupt(format!("databases frame: {error}")))?;
    if contents_versions.len() != DATABASES {
        let count = contents_versions.len();
        return Err(corrupt(format!("the databases frame lists {count} databases")));
    }
    for (db, version) in contents_versions.into_iter().enumerate() {
        keyspace.db_mut(db).restore_contents_version(version);
    }
    let mut keys = 0u64;
    while let Some(bytes) = read_frame(&mut input).map_err(truncated)? {
        let frame: KeyFrame = postcard::from_bytes(&bytes)
            .map_err(|error| corrupt(format!("key frame {keys}: {error}")))?;
        if usize::from(frame.db) >= DATABASES {
            return Err(corrupt(format!("key frame {keys} names database {}", frame.db)));
        }
        keyspace.db_mut(usize::from(frame.db)).restore(frame.key, frame.entry);
        keys += 1;
    }
    let mut count = [0u8; 8];
    input.read_exact(&mut count).map_err(truncated)?;
    let expected_crc = input.crc;
    let mut stored_crc = [0u8; 4];
    input.inner.read_exact(&mut stored_crc).map_err(truncated)?;
    if u32::from_le_bytes(stored_crc) != expected_crc {
        return Err(corrupt("the checksum does not match".into()));
    }
    if u64::from_le_bytes(count) != keys {
        return Err(corrupt(format!(
            "{keys} keys, but the trailer says {}",
            u64::from_le_bytes(count)
        )));
    }
    let mut rest = [0u8; 1];
    if input.inner.read(&mut rest).map_err(truncated)? != 0 {
        return Err(corrupt("bytes follow the trailer".into()));
    }
    Ok(Decoded { metadata, keyspace, keys })
}

/// Reads one frame; `None` at the end marker.
fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 4];
    input.read_exact(&mut length)?;
    let length = u32::from_le_bytes(length);
    if length == END_MARKER {
        return Ok(None);
    }
    if length > FRAME_BYTES_MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a frame longer than 1 GiB"));
    }
    let mut bytes = Vec::new();
    input.take(u64::from(length)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != u64::from(length) {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(bytes))
}

/// Reads only the header and metadata of the snapshot in `file` (the keys are verified when
/// the snapshot is loaded or installed).
pub fn read_metadata(file: &Path) -> Result<SnapshotMetadata, SnapshotError> {
    let name = file.display().to_string();
    let corrupt = |reason: String| SnapshotError::Corrupt { file: name.clone(), reason };
    let mut input = BufReader::new(
        File::open(file)
            .map_err(|source| SnapshotError::Io { context: format!("opening {name}"), source })?,
    );
    let mut header = [0u8; 16];
    input.read_exact(&mut header).map_err(|_| corrupt("the header is short".into()))?;
    if &header[0..8] != MAGIC {
        return Err(corrupt("it does not start with CNCDSNAP".into()));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if !(1..=VERSION).contains(&version) {
        return Err(SnapshotError::UnsupportedVersion { file: name.clone(), version });
    }
    let bytes = read_frame(&mut input)
        .map_err(|error| corrupt(error.to_string()))?
        .ok_or_else(|| corrupt("the metadata frame is missing".into()))?;
    decode_metadata(version, &bytes).map_err(|error| corrupt(format!("metadata: {error}")))
}

/// Decodes a snapshot held in memory: the entry point of the `snapshot_decode` fuzz target.
pub fn decode_bytes(bytes: &[u8]) -> Result<Decoded, SnapshotError> {
    decode(bytes, "<memory>")
}

/// The snapshots directory: at most one current snapshot, plus files being written.
#[derive(Clone, Debug)]
pub struct SnapshotDirectory {
    path: PathBuf,
}

/// A snapshot file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    /// The file's full path.
    pub path: PathBuf,
    /// The index of the last entry it covers, from its name.
    pub index: u64,
    /// The term of the last entry it covers, from its name.
    pub term: u64,
}

impl SnapshotDirectory {
    /// The snapshots kept in `path` (the data directory's `snapshots/`).
    pub fn new(path: PathBuf) -> SnapshotDirectory {
        SnapshotDirectory { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(context: String) -> impl FnOnce(io::Error) -> SnapshotError {
        move |source| SnapshotError::Io { context, source }
    }

    /// The snapshot files, newest first. Leftover temporary files are deleted.
    pub fn list(&self) -> Result<Vec<SnapshotFile>, SnapshotError> {
        let context = format!("listing {}", self.path.display());
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(Self::io_error(context.clone()))? {
            let path = entry.map_err(Self::io_error(context.clone()))?.path();
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            // A `.tmp` file is a snapshot being written or received, or one a crash
            // interrupted; never the current snapshot. Only `remove_temporaries`, at start-up,
            // deletes them: here one may belong to a build running right now.
            if let Some((index, term)) = parse_name(name) {
                files.push(SnapshotFile { path, index, term });
            }
        }
        files.sort_by_key(|file| std::cmp::Reverse((file.index, file.term)));
        Ok(files)
    }

    /// Deletes the temporary files an interrupted run left. Only at start-up, before any
    /// snapshot is being built or received.
    pub fn remove_temporaries(&self) -> Result<(), SnapshotError> {
        let context = format!("listing {}", self.path.display());
        for entry in std::fs::read_dir(&self.path).map_err(Self::io_error(context.clone()))? {
            let path = entry.map_err(Self::io_error(context.clone()))?.path();
            if path.extension().is_some_and(|extension| extension == "tmp") {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    /// A new temporary file to write a snapshot into.
    pub fn temporary(&self, label: &str) -> PathBuf {
        self.path.join(format!("snapshot-{label}-{}.tmp", std::process::id()))
    }

    /// Makes the finished, synced temporary file `temporary` the snapshot at `(index, term)`:
    /// rename, directory sync, then removal of every older snapshot.
    pub fn commit(
        &self,
        temporary: &Path,
        index: u64,
        term: u64,
    ) -> Result<SnapshotFile, SnapshotError> {
        let path = self.path.join(format!("snapshot-{index:020}-{term:020}.snap"));
        std::fs::rename(temporary, &path)
            .map_err(Self::io_error(format!("renaming {}", temporary.display())))?;
        sync_directory(&self.path)?;
        for older in self.list()?.into_iter().filter(|file| file.path != path) {
            let _ = std::fs::remove_file(&older.path);
        }
        Ok(SnapshotFile { path, index, term })
    }

    /// Writes `view` as the snapshot at `(index, term)`, durably.
    pub fn write(
        &self,
        view: &View,
        metadata: &SnapshotMetadata,
        index: u64,
        term: u64,
    ) -> Result<(SnapshotFile, u64), SnapshotError> {
        let temporary = self.temporary(&index.to_string());
        let context = format!("writing {}", temporary.display());
        let file = File::create(&temporary).map_err(Self::io_error(context.clone()))?;
        let mut output = BufWriter::with_capacity(1 << 20, file);
        let keys = encode(view, metadata, &mut output).map_err(Self::io_error(context.clone()))?;
        let file = output.into_inner().map_err(|error| SnapshotError::Io {
            context: context.clone(),
            source: error.into_error(),
        })?;
        file.sync_all().map_err(Self::io_error(context))?;
        Ok((self.commit(&temporary, index, term)?, keys))
    }

    /// Reads and verifies the snapshot in `file`.
    pub fn read(file: &Path) -> Result<Decoded, SnapshotError> {
        let name = file.display().to_string();
        let opened =
            File::open(file).map_err(Self::io_error(format!("opening snapshot {name}")))?;
        decode(BufReader::with_capacity(1 << 20, opened), &name)
    }
}

/// `snapshot-<index>-<term>.snap` → `(index, term)`.
fn parse_name(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    let (index, term) = rest.split_once('-')?;
    Some((index.parse().ok()?, term.parse().ok()?))
}

/// Makes `path`'s entries durable (fsync of the directory), so a rename survives a crash.
pub fn sync_directory(path: &Path) -> Result<(), SnapshotError> {
    File::open(path).and_then(|directory| directory.sync_all()).map_err(|source| {
        SnapshotError::Io { context: format!("syncing {}", path.display()), source }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StringValue, Value};

    fn sample_view() -> View {
        let mut keyspace = Keyspace::new();
        keyspace.set_version(9);
        let value = |text: &str| {
            Value::String(StringValue::from_bytes(Bytes::copy_from_slice(text.as_bytes())))
        };
        keyspace.db_mut(0).insert(Bytes::from_static(b"a"), value("1"), None, 100);
        keyspace.db_mut(3).insert(Bytes::from_static(b"b"), value("two"), Some(5_000), 100);
        keyspace.db_mut(15).insert(Bytes::from_static(b"c"), value("12345"), Some(50), 40);
        keyspace.set_version(8);
        keyspace.swap(3, 4);
        View { index: 9, time_ms: 100, keyspace }
    }

    fn metadata() -> SnapshotMetadata {
        SnapshotMetadata {
            last_applied: Some((9, 2)),
            membership_log_id: Some((0, 0)),
            membership: MembershipRecord { configs: vec![vec![1]], nodes: vec![(1, "x".into())] },
            applied_time_ms: 100,
            waiters: Waiters::default(),
            subscriptions: Subscriptions::default(),
            scripts: ScriptCache::default(),
            functions: FunctionLibraries::default(),
            users: Vec::new(),
        }
    }

    fn encoded() -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(&sample_view(), &metadata(), &mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_snapshot_restores_every_key_with_its_expiry_and_encoding() {
        let view = sample_view();
        let decoded = decode_bytes(&encoded()).unwrap();
        assert_eq!(decoded.metadata, metadata());
        assert_eq!(decoded.keys, 3);
        for (db, database) in view.keyspace.databases() {
            let original: Vec<_> = database.iter_including_expired().collect();
            let restored: Vec<_> = decoded.keyspace.db(db).iter_including_expired().collect();
            assert_eq!(original, restored, "database {db}");
            assert_eq!(
                database.contents_version(),
                decoded.keyspace.db(db).contents_version(),
                "database {db}'s contents version, which WATCH compares"
            );
            assert_eq!(database.expires_len(), decoded.keyspace.db(db).expires_len());
        }
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let bytes = encoded();
        for position in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x40;
            assert!(decode_bytes(&damaged).is_err(), "a flip at byte {position} was accepted");
            assert!(decode_bytes(&bytes[..position]).is_err(), "a cut at {position} was accepted");
        }
    }

    #[test]
    fn an_unknown_version_is_named() {
        let mut bytes = encoded();
        bytes[8] = 8;
        let error = decode_bytes(&bytes).err().unwrap().to_string();
        assert!(error.contains("format version 8"), "{error}");
    }

    /// The version 2 layout of the waiter table, written as a build of that version wrote it.
    mod version_2 {
        use std::collections::{BTreeMap, VecDeque};

        use serde::Serialize;

        use crate::command::blocking::{BlockingPop, WaiterId};
        use crate::command::lists::ListEnd;
        use crate::command::{DbIndex, Key};
        use crate::raft::codec::MembershipRecord;

        #[derive(Serialize)]
        pub struct Waiter {
            pub db: DbIndex,
            pub pop: BlockingPop,
        }

        #[derive(Serialize)]
        pub struct Waiters {
            pub waiters: BTreeMap<WaiterId, Waiter>,
            pub queues: BTreeMap<(DbIndex, Key), VecDeque<WaiterId>>,
        }

        #[derive(Serialize)]
        pub struct Metadata {
            pub last_applied: Option<(u64, u64)>,
            pub membership_log_id: Option<(u64, u64)>,
            pub membership: MembershipRecord,
            pub applied_time_ms: u64,
            pub waiters: Waiters,
        }

        pub fn one_waiter() -> Waiters {
            let id = WaiterId { node: 1, incarnation: 5, connection: 9 };
            let key = Key::from_static(b"queue");
            let pop = BlockingPop::List { keys: vec![key.clone()], end: ListEnd::Left };
            Waiters {
                waiters: BTreeMap::from([(id, Waiter { db: 0, pop })]),
                queues: BTreeMap::from([((0, key), VecDeque::from([id]))]),
            }
        }
    }

    #[test]
    fn a_version_2_snapshot_loads_with_its_blocked_clients() {
        let old = version_2::Metadata {
            last_applied: Some((9, 2)),
            membership_log_id: Some((0, 0)),
            membership: MembershipRecord { configs: vec![vec![1]], nodes: vec![(1, "x".into())] },
            applied_time_ms: 100,
            waiters: version_2::one_waiter(),
        };
        let mut bytes = Vec::new();
        let mut output = Checksummed { inner: &mut bytes, crc: 0, bytes: 0 };
        output.write_all(MAGIC).unwrap();
        output.write_all(&2u32.to_le_bytes()).unwrap();
        output.write_all(&0u32.to_le_bytes()).unwrap();
        write_frame(&mut output, &old).unwrap();
        write_frame(&mut output, &vec![0u64; DATABASES]).unwrap();
        output.write_all(&END_MARKER.to_le_bytes()).unwrap();
        output.write_all(&0u64.to_le_bytes()).unwrap();
        let crc = output.crc;
        bytes.extend_from_slice(&crc.to_le_bytes());
        let decoded = decode_bytes(&bytes).unwrap();
        assert_eq!(decoded.metadata.waiters.len(), 1);
        assert_eq!(decoded.metadata.waiters.reservation_count(), 0);
        assert_eq!(decoded.metadata.last_applied, Some((9, 2)));
        // Written again, it is the current version and reads back the same.
        let mut again = Vec::new();
        encode(&View::default(), &decoded.metadata, &mut again).unwrap();
        assert_eq!(u32::from_le_bytes(again[8..12].try_into().unwrap()), VERSION);
        assert_eq!(decode_bytes(&again).unwrap().metadata, decoded.metadata);
    }

    #[test]
    fn files_are_written_durably_and_listed_newest_first() {
        let directory = tempfile::tempdir().unwrap();
        let snapshots = SnapshotDirectory::new(directory.path().to_path_buf());
        snapshots.write(&sample_view(), &metadata(), 5, 1).unwrap();
        let (file, keys) = snapshots.write(&sample_view(), &metadata(), 9, 2).unwrap();
        assert_eq!(keys, 3);
        assert_eq!(snapshots.list().unwrap(), vec![file.clone()]);
        assert_eq!(SnapshotDirectory::read(&file.path).unwrap().keys, 3);
    }
}
