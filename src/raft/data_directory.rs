//! The data directory: a format file, a lock, the log and the snapshots.
//!
//! ```text
//! <data-dir>/FORMAT        "concord-data-format 1\n": which layout this directory has
//! <data-dir>/LOCK          held locked (flock) by the node using the directory
//! <data-dir>/log/          the write-ahead log (docs/format.md)
//! <data-dir>/snapshots/    snapshot-<index>-<term>.snap, and *.tmp while one is written
//! <data-dir>/IDENTITY      who this directory belongs to: cluster id, node id, incarnation
//! <data-dir>/PEERS         the incarnation of each peer this node has talked to
//! ```
//!
//! The incarnation is a random number drawn when the directory gets its `IDENTITY`: it names
//! this copy of the member's state, so a member restarted on a wiped or replaced directory
//! (which forgot its vote and its log) is told apart from the member it was (see
//! [`super::identity`]). A directory written before `IDENTITY` existed is adopted: it gets one
//! at its first open, since it holds the member's own log. `IDENTITY` never changes after
//! that; a node started on it with another node id or cluster id is refused.
//!
//! A missing directory is created. An empty one (including one an earlier, in-memory build of
//! Concord was pointed at) is given the current layout. A directory with a `FORMAT` file of
//! another version is refused with a message naming both versions; a non-empty directory
//! without one is refused too, because it is not ours to write into.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::NodeId;
use crate::error::{Error, Result};

/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_FILE: &str = "FORMAT";
const FORMAT_PREFIX: &str = "concord-data-format ";
const LOCK_FILE: &str = "LOCK";
const IDENTITY_FILE: &str = "IDENTITY";
const IDENTITY_HEADER: &str = "concord-identity 1";
const PEERS_FILE: &str = "PEERS";
const PEERS_HEADER: &str = "concord-peers 1";

/// What a data directory's `IDENTITY` file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIdentity {
    /// The cluster this directory belongs to; a peer naming another is refused.
    pub cluster_id: String,
    /// The node id this directory was created for.
    pub node_id: NodeId,
    /// Drawn when the directory was created; tells a wiped directory from the original.
    pub incarnation: Incarnation,
    /// Whether this open created the directory's `IDENTITY` in an empty directory (a new
    /// member, or a wiped one), rather than finding or adopting it.
    pub created_empty: bool,
}

/// An open, locked data directory.
#[derive(Debug)]
pub struct DataDirectory {
    path: PathBuf,
    /// Whether this open found the directory empty (or missing) and gave it its layout.
    created_empty: bool,
    /// Locked for as long as this value lives.
    _lock: File,
}

/// Names one data directory of one member; drawn at random when the directory is created
/// (see [`super::identity`] for what it is for).
pub type Incarnation = u64;

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

impl DataDirectory {
    /// Opens (creating if needed) and locks the data directory at `path`.
    pub fn open(path: &Path) -> Result<DataDirectory> {
        let shown = path.display();
        fs::create_dir_all(path).map_err(io_error(format!("creating data directory {shown}")))?;
        let format_path = path.join(FORMAT_FILE);
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(format!("opening {}", lock_path.display())))?;
        if !try_lock_exclusive(&lock) {
            return Err(Error::DataDirectory(format!(
                "{shown} is in use by another Concord process (its LOCK file is locked); \
                 give each node its own --data-dir"
            )));
        }
        let mut created_empty = false;
        match fs::read_to_string(&format_path) {
            Ok(text) => check_format(&text, path)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                created_empty = true;
                let others = fs::read_dir(path)
                    .map_err(io_error(format!("listing {shown}")))?
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.file_name() != LOCK_FILE)
                    .count();
                if others > 0 {
                    return Err(Error::DataDirectory(format!(
                        "{shown} is not empty and has no FORMAT file: it is not a Concord data \
                         directory; choose an empty or new directory with --data-dir"
                    )));
                }
                write_format(path)?;
            }
            Err(error) => {
                return Err(io_error(format!("reading {}", format_path.display()))(error))
            }
        }
        for sub in ["log", "snapshots"] {
            let sub_path = path.join(sub);
            fs::create_dir_all(&sub_path)
                .map_err(io_error(format!("creating {}", sub_path.display())))?;
        }
        Ok(DataDirectory { path: path.to_path_buf(), created_empty, _lock: lock })
    }

    /// The directory's identity, checked against the node id and cluster id it is started
    /// with; created (with a new incarnation) if the directory has none yet.
    pub fn identity(&self, cluster_id: &str, node_id: NodeId) -> Result<StoredIdentity> {
        let identity_path = self.path.join(IDENTITY_FILE);
        let shown = identity_path.display();
        let stored = match fs::read_to_string(&identity_path) {
            Ok(text) => parse_identity(&text)
                .ok_or_else(|| Error::DataDirectory(format!("{shown} is not readable")))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let identity = StoredIdentity {
                    cluster_id: cluster_id.to_string(),
                    node_id,
                    incarnation: random_incarnation()?,
                    created_empty: self.created_empty,
                };
                let text = format!(
                    "{IDENTITY_HEADER}\ncluster {cluster_id}\nnode {node_id}\nincarnation {:016x}\n",
                    identity.incarnation
                );
                write_durably(&self.path, IDENTITY_FILE, &text)?;
                return Ok(identity);
            }
            Err(error) => return Err(io_error(format!("reading {shown}"))(error)),
        };
        if stored.node_id != node_id || stored.cluster_id != cluster_id {
            return Err(Error::DataDirectory(format!(
                "{} belongs to node {} of cluster {:?}, but this node is node {node_id} of \
                 cluster {cluster_id:?}; start it with its own --data-dir",
                self.path.display(),
                stored.node_id,
                stored.cluster_id
            )));
        }
        Ok(stored)
    }

    /// The peers' incarnations recorded in `PEERS` (none if the file does not exist yet).
    pub fn read_peers(&self) -> Result<BTreeMap<NodeId, Incarnation>> {
        let peers_path = self.path.join(PEERS_FILE);
        match fs::read_to_string(&peers_path) {
            Ok(text) => parse_peers(&text).ok_or_else(|| {
                Error::DataDirectory(format!("{} is not readable", peers_path.display()))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(error) => Err(io_error(format!("reading {}", peers_path.display()))(error)),
        }
    }

    /// The data directory's root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the Raft log's files live: `log/` under the data directory.
    pub fn log_path(&self) -> PathBuf {
        self.path.join("log")
    }

    /// Where snapshot files live: `snapshots/` under the data directory.
    pub fn snapshots_path(&self) -> PathBuf {
        self.path.join("snapshots")
    }
}

/// Writes `peers` to `<directory>/PEERS` durably; called by [`super::identity::KnownPeers`]
/// whenever it learns an incarnation.
pub fn write_peers(directory: &Path, peers: &BTreeMap<NodeId, Incarnation>) -> Result<()> {
    let mut text = format!("{PEERS_HEADER}\n");
    for (node_id, incarnation) in peers {
        text.push_str(&format!("{node_id} {incarnation:016x}\n"));
    }
    write_durably(directory, PEERS_FILE, &text)
}

fn parse_identity(text: &str) -> Option<StoredIdentity> {
    let mut lines = text.lines();
    if lines.next()? != IDENTITY_HEADER {
        return None;
    }
    let cluster_id = lines.next()?.strip_prefix("cluster ")?.to_string();
    let node_id = lines.next()?.strip_prefix("node ")?.parse().ok()?;
    let incarnation = u64::from_str_radix(lines.next()?.strip_prefix("incarnation ")?, 16).ok()?;
    Some(StoredIdentity { cluster_id, node_id, incarnation, created_empty: false })
}

fn parse_peers(text: &str) -> Option<BTreeMap<NodeId, Incarnation>> {
    let mut lines = text.lines();
    if lines.next()? != PEERS_HEADER {
        return None;
    }
    lines
        .map(|line| {
            let (node_id, incarnation) = line.split_once(' ')?;
            Some((node_id.parse().ok()?, u64::from_str_radix(incarnation, 16).ok()?))
        })
        .collect()
}

/// A random incarnation from the kernel's generator; two directories of one member must
/// never draw the same.
fn random_incarnation() -> Result<Incarnation> {
    let mut bytes = [0u8; 8];
    File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes))
        .map_err(io_error("reading /dev/urandom for an incarnation".into()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// An exclusive, non-blocking `flock` on `file`; released when the file is closed, including
/// when the process dies, so a killed node never leaves a stale lock behind.
#[allow(unsafe_code)]
fn try_lock_exclusive(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open during the call.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn check_format(text: &str, path: &Path) -> Result<()> {
    let version = text.trim_end().strip_prefix(FORMAT_PREFIX).and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(FORMAT_VERSION) => Ok(()),
        Some(version) => Err(Error::DataDirectory(format!(
            "{} has data format version {version}, but this build of Concord reads only \
             version {FORMAT_VERSION}; run the Concord release that wrote it",
            path.display()
        ))),
        None => Err(Error::DataDirectory(format!(
            "{}/FORMAT is not a Concord format file (expected \"{FORMAT_PREFIX}{FORMAT_VERSION}\")",
            path.display()
        ))),
    }
}

fn write_format(path: &Path) -> Result<()> {
    write_durably(path, FORMAT_FILE, &format!("{FORMAT_PREFIX}{FORMAT_VERSION}\n"))
}

/// Writes `<path>/<name>` durably: temporary file, fsync, rename, directory fsync.
fn write_durably(path: &Path, name: &str, text: &str) -> Result<()> {
    let temporary = path.join(format!("{name}.tmp"));
    let context = format!("writing {}", temporary.display());
    let mut file = File::create(&temporary).map_err(io_error(context.clone()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(context.clone()))?;
    fs::rename(&temporary, path.join(name)).map_err(io_error(context.clone()))?;
    File::open(path).and_then(|directory| directory.sync_all()).map_err(io_error(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_directory_gets_the_layout_and_a_second_node_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data");
        let first = DataDirectory::open(&path).unwrap();
        assert_eq!(fs::read_to_string(path.join("FORMAT")).unwrap(), "concord-data-format 1\n");
        assert!(first.log_path().is_dir() && first.snapshots_path().is_dir());
        let error = DataDirectory::open(&path).unwrap_err().to_string();
        assert!(error.contains("in use by another Concord process"), "{error}");
        drop(first);
        DataDirectory::open(&path).unwrap();
    }

    #[test]
    fn an_unknown_format_version_is_refused_by_number() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("FORMAT"), "concord-data-format 7\n").unwrap();
        let error = DataDirectory::open(root.path()).unwrap_err().to_string();
        assert!(
            error.contains("data format version 7") && error.contains("only version 1"),
            "{error}"
        );
    }

    #[test]
    fn a_new_directory_gets_an_identity_that_it_keeps_and_that_names_its_node() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data");
        let directory = DataDirectory::open(&path).unwrap();
        let first = directory.identity("c", 2).unwrap();
        assert!(first.created_empty, "a new directory's identity is not marked as new");
        drop(directory);
        let directory = DataDirectory::open(&path).unwrap();
        let again = directory.identity("c", 2).unwrap();
        assert_eq!((again.incarnation, again.created_empty), (first.incarnation, false));
        let error = directory.identity("c", 3).unwrap_err().to_string();
        assert!(error.contains("belongs to node 2") && error.contains("node 3"), "{error}");
        let error = directory.identity("other", 2).unwrap_err().to_string();
        assert!(error.contains("cluster \"c\""), "{error}");
    }

    #[test]
    fn a_directory_written_before_identities_is_adopted_not_taken_for_a_new_one() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("FORMAT"), "concord-data-format 1\n").unwrap();
        fs::create_dir(root.path().join("log")).unwrap();
        let directory = DataDirectory::open(root.path()).unwrap();
        let adopted = directory.identity("c", 1).unwrap();
        assert!(!adopted.created_empty, "an existing directory was taken for a new one");
        assert!(root.path().join("IDENTITY").is_file());
    }

    #[test]
    fn a_foreign_non_empty_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("dump.rdb"), "REDIS").unwrap();
        let error = DataDirectory::open(root.path()).unwrap_err().to_string();
        assert!(error.contains("not a Concord data directory"), "{error}");
    }
}
