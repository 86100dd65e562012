//! A disk that really fills: a small tmpfs mounted for one test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A small tmpfs mounted for one test and unmounted when dropped: a disk that really fills
/// up, with the errors a real one gives (`ENOSPC`, short writes). Mounting needs root
/// (`CAP_SYS_ADMIN`), which the test environment has; without it the test fails and says so
/// rather than passing without having run.
pub struct SmallDisk {
    /// The mount point; removed after the unmount, when the disk drops.
    directory: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` at a fresh directory named after `label`.
    pub fn mount(label: &str, bytes: u64) -> SmallDisk {
        let directory = super::temp_dir(label);
        let path = directory.path();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("the mount command runs");
        assert!(
            output.status.success(),
            "the full-disk tests mount a {bytes}-byte tmpfs at {}, which needs root \
             (CAP_SYS_ADMIN); mount said: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        SmallDisk { directory }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    /// The file [`SmallDisk::fill`] writes.
    pub fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes a file until the file system has no room left.
    pub fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0xAB_u8; 4096];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => break,
                Err(error) => panic!("filling the disk failed with {error}"),
            }
        }
    }

    /// Removes what [`SmallDisk::fill`] wrote.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
