//! The data directory: a format file, a lock, the log and the snapshots.
//!
//! ```text
//! <data-dir>/FORMAT        "concord-data-format 1\n": which layout this directory has
//! <data-dir>/LOCK          held locked (flock) by the node using the directory
//! <data-dir>/log/          the write-ahead log (docs/format.md)
//! <data-dir>/snapshots/    snapshot-<index>-<term>.snap, and *.tmp while one is written
//! ```
//!
//! A missing directory is created. An empty one (including one an earlier, in-memory build of
//! Concord was pointed at) is given the current layout. A directory with a `FORMAT` file of
//! another version is refused with a message naming both versions; a non-empty directory
//! without one is refused too, because it is not ours to write into.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_FILE: &str = "FORMAT";
const FORMAT_PREFIX: &str = "concord-data-format ";
const LOCK_FILE: &str = "LOCK";

/// An open, locked data directory.
#[derive(Debug)]
pub struct DataDirectory {
    path: PathBuf,
    /// Locked for as long as this value lives.
    _lock: File,
}

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
        match fs::read_to_string(&format_path) {
            Ok(text) => check_format(&text, path)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
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
        Ok(DataDirectory { path: path.to_path_buf(), _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn log_path(&self) -> PathBuf {
        self.path.join("log")
    }

    pub fn snapshots_path(&self) -> PathBuf {
        self.path.join("snapshots")
    }
}

/// An exclusive, non-blocking `flock` on `file`; released when the file is closed, including
/// when the process dies, so a killed node never leaves a stale lock behind.
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

/// Writes FORMAT durably: temporary file, fsync, rename, directory fsync.
fn write_format(path: &Path) -> Result<()> {
    let temporary = path.join("FORMAT.tmp");
    let context = format!("writing {}", temporary.display());
    let mut file = File::create(&temporary).map_err(io_error(context.clone()))?;
    file.write_all(format!("{FORMAT_PREFIX}{FORMAT_VERSION}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(context.clone()))?;
    fs::rename(&temporary, path.join(FORMAT_FILE)).map_err(io_error(context.clone()))?;
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
    fn a_foreign_non_empty_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("dump.rdb"), "REDIS").unwrap();
        let error = DataDirectory::open(root.path()).unwrap_err().to_string();
        assert!(error.contains("not a Concord data directory"), "{error}");
    }
}
