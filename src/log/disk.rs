//! The narrow file-system interface the log uses, and its implementation on the real disk.
//!
//! Every byte the log reads or writes goes through [`Disk`] and [`DiskFile`], so that tests can
//! substitute [`SimulatedDisk`](super::SimulatedDisk), which models what survives a power cut
//! and injects IO failures. A `Disk` is one flat directory; names are plain file names, never
//! paths.
//!
//! The semantics the log relies on, which both implementations provide:
//! - A write or a truncation is durable only after [`DiskFile::sync`] on that file.
//! - A file's existence under a name (after create, rename or remove) is durable only after
//!   [`Disk::sync_directory`].
//! - After a failed sync nothing is known about what reached the disk; callers never retry.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A directory of files.
pub trait Disk: Send + Sync {
    /// Creates the file `name`, empty, replacing any file of that name.
    fn create(&self, name: &str) -> io::Result<Box<dyn DiskFile>>;
    /// Opens the existing file `name` for reading and writing.
    fn open(&self, name: &str) -> io::Result<Box<dyn DiskFile>>;
    /// The names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Deletes the file `name`; it is an error if there is none.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Renames `from` to `to`, atomically replacing any file named `to`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_directory(&self) -> io::Result<()>;
    /// A human-readable location of `name`, for error messages.
    fn describe(&self, name: &str) -> String;
}

/// One open file.
// `len` is an IO query, not a collection's size; an `is_empty` would have no caller.
#[allow(clippy::len_without_is_empty)]
pub trait DiskFile: Send + Sync {
    /// Writes all of `bytes` at `offset`.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Fills `buffer` from `offset`; a file shorter than that is an `UnexpectedEof` error.
    fn read_at(&self, offset: u64, buffer: &mut [u8]) -> io::Result<()>;
    /// The file's length in bytes, as written so far (durable or not).
    fn len(&self) -> io::Result<u64>;
    /// Sets the file's length to `len` bytes, cutting it or padding it with zeros.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file's data and length durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
}

/// The real file system: one directory, accessed with `std::fs`.
#[derive(Debug)]
pub struct FileSystem {
    directory: PathBuf,
}

impl FileSystem {
    /// Uses `directory`, creating it (and its parents) if it does not exist.
    pub fn new(directory: impl Into<PathBuf>) -> io::Result<FileSystem> {
        let directory = directory.into();
        fs::create_dir_all(&directory)?;
        Ok(FileSystem { directory })
    }

    /// The directory this disk's files live in.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Disk for FileSystem {
    fn create(&self, name: &str) -> io::Result<Box<dyn DiskFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.directory.join(name))?;
        Ok(Box::new(RealFile { file }))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn DiskFile>> {
        let file = OpenOptions::new().read(true).write(true).open(self.directory.join(name))?;
        Ok(Box::new(RealFile { file }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.directory)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                // A name that is not UTF-8 cannot be one of ours; it is listed lossily so that
                // recovery can report it rather than skip it unseen.
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.directory.join(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.directory.join(from), self.directory.join(to))
    }

    fn sync_directory(&self) -> io::Result<()> {
        File::open(&self.directory)?.sync_all()
    }

    fn describe(&self, name: &str) -> String {
        self.directory.join(name).display().to_string()
    }
}

#[derive(Debug)]
struct RealFile {
    file: File,
}

impl DiskFile for RealFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, offset)
    }

    fn read_at(&self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buffer, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}
