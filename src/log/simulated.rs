//! An in-memory [`Disk`] that models what a power cut keeps, and injects IO failures.
//!
//! Each file (an inode) keeps two images: the bytes written so far, and the bytes made durable
//! by the last successful sync. The directory likewise keeps its current entries and the
//! entries made durable by the last directory sync. [`SimulatedDisk::crash`] throws away
//! everything not durable, except that a file whose written image extends its durable one
//! keeps an arbitrary prefix of the extension: the torn write of a real power cut. Handles
//! opened before a crash fail afterwards, so a log from before the crash cannot touch the disk
//! the recovered log sees.
//!
//! This is deliberately the most hostile reading of POSIX the log must survive: a file created
//! or renamed but not followed by a directory sync vanishes (or reappears, if removed), and an
//! unsynced write may vanish entirely.
//!
//! Faults: [`SimulatedDisk::fail_write`] and [`SimulatedDisk::fail_sync`] make the Nth later
//! mutation (write, truncate, create, rename, remove) or sync (file or directory) fail with
//! `ENOSPC` or `EIO`. A failed write stores half of its bytes first, as a short write would.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::disk::{Disk, DiskFile};

/// The error a fault injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `ENOSPC`: the disk is full.
    NoSpace,
    /// `EIO`: the device reported an error.
    DeviceError,
}

impl Fault {
    fn error(self) -> io::Error {
        // Linux's numbers; the log only ever displays them.
        match self {
            Fault::NoSpace => io::Error::from_raw_os_error(28),
            Fault::DeviceError => io::Error::from_raw_os_error(5),
        }
    }
}

/// A simulated directory. Clones share the same state, so a test keeps one clone to crash
/// and inspect the disk while the log owns another.
#[derive(Clone, Debug, Default)]
pub struct SimulatedDisk {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Bumped by every crash; handles from an older generation are dead.
    generation: u64,
    inodes: HashMap<u64, Inode>,
    inode_next: u64,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
    /// Mutations and syncs still to succeed before the planned fault, if one is planned.
    write_fault: Option<(u64, Fault)>,
    sync_fault: Option<(u64, Fault)>,
}

#[derive(Clone, Debug, Default)]
struct Inode {
    written: Vec<u8>,
    durable: Vec<u8>,
}

impl State {
    fn new_inode(&mut self, bytes: Vec<u8>) -> u64 {
        let id = self.inode_next;
        self.inode_next += 1;
        self.inodes.insert(id, Inode { written: bytes.clone(), durable: bytes });
        id
    }

    fn check_fault(fault: &mut Option<(u64, Fault)>) -> io::Result<()> {
        match fault {
            Some((0, kind)) => {
                let error = kind.error();
                *fault = None;
                Err(error)
            }
            Some((remaining, _)) => {
                *remaining -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn mutation(&mut self) -> io::Result<()> {
        State::check_fault(&mut self.write_fault)
    }

    fn sync(&mut self) -> io::Result<()> {
        State::check_fault(&mut self.sync_fault)
    }

    fn inode(&mut self, handle: &SimulatedFile) -> io::Result<&mut Inode> {
        if handle.generation != self.generation {
            return Err(io::Error::other("simulated disk: file handle from before a crash"));
        }
        Ok(self.inodes.get_mut(&handle.inode).expect("a live handle's inode exists"))
    }
}

impl SimulatedDisk {
    /// An empty disk with no faults armed.
    pub fn new() -> SimulatedDisk {
        SimulatedDisk::default()
    }

    /// A disk holding `files`, all durable: the starting point of a recovery fuzz target.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> SimulatedDisk {
        let disk = SimulatedDisk::new();
        for (name, bytes) in files {
            disk.set_file(name, bytes);
        }
        disk
    }

    /// The current (written) contents of every file, by name.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let state = self.state.lock();
        state
            .names
            .iter()
            .map(|(name, id)| (name.clone(), state.inodes[id].written.clone()))
            .collect()
    }

    /// Replaces (or creates) the file `name` with `bytes`, durably: for corrupting a log.
    pub fn set_file(&self, name: &str, bytes: &[u8]) {
        let mut state = self.state.lock();
        let id = state.new_inode(bytes.to_vec());
        state.names.insert(name.to_string(), id);
        state.durable_names.insert(name.to_string(), id);
    }

    /// Removes the file `name` durably: for losing a segment.
    pub fn delete_file(&self, name: &str) {
        let mut state = self.state.lock();
        state.names.remove(name);
        state.durable_names.remove(name);
    }

    /// Makes the `after`-th mutation from now (0 = the next one) fail with `fault`.
    pub fn fail_write(&self, after: u64, fault: Fault) {
        self.state.lock().write_fault = Some((after, fault));
    }

    /// Makes the `after`-th sync from now (0 = the next one) fail with `fault`.
    pub fn fail_sync(&self, after: u64, fault: Fault) {
        self.state.lock().sync_fault = Some((after, fault));
    }

    /// Disarms any fault set by `fail_write` or `fail_sync` that has not fired yet.
    pub fn clear_faults(&self) {
        let mut state = self.state.lock();
        state.write_fault = None;
        state.sync_fault = None;
    }

    /// Loses power: everything not durable is dropped, except that each file whose written
    /// bytes extend its durable bytes keeps a prefix of the extension, its length drawn from
    /// `seed` (0 keeps none of it). Handles opened before the crash stop working.
    pub fn crash(&self, seed: u64) {
        let mut state = self.state.lock();
        let mut random = seed;
        state.generation += 1;
        state.names = state.durable_names.clone();
        let live: Vec<u64> = state.names.values().copied().collect();
        state.inodes.retain(|id, _| live.contains(id));
        for (id, inode) in state.inodes.iter_mut() {
            let extension = inode.written.len().saturating_sub(inode.durable.len());
            let kept = if seed != 0 && extension > 0 && inode.written.starts_with(&inode.durable) {
                random = splitmix64(random ^ id);
                (random % (extension as u64 + 1)) as usize
            } else {
                0
            };
            let length = inode.durable.len() + kept;
            inode.written.truncate(length);
            if kept == 0 {
                inode.written.clone_from(&inode.durable);
            }
            inode.durable.clone_from(&inode.written);
        }
        state.write_fault = None;
        state.sync_fault = None;
    }
}

/// A small, well-mixed pseudo-random step, so that crashes are reproducible from a seed.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("simulated disk: no file {name}"))
}

impl Disk for SimulatedDisk {
    fn create(&self, name: &str) -> io::Result<Box<dyn DiskFile>> {
        let mut state = self.state.lock();
        state.mutation()?;
        let inode = state.new_inode(Vec::new());
        state.names.insert(name.to_string(), inode);
        let generation = state.generation;
        Ok(Box::new(SimulatedFile { state: self.state.clone(), inode, generation }))
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn DiskFile>> {
        let state = self.state.lock();
        let inode = *state.names.get(name).ok_or_else(|| not_found(name))?;
        let generation = state.generation;
        Ok(Box::new(SimulatedFile { state: self.state.clone(), inode, generation }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.state.lock().names.keys().cloned().collect())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.mutation()?;
        state.names.remove(name).map(drop).ok_or_else(|| not_found(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.mutation()?;
        let inode = state.names.remove(from).ok_or_else(|| not_found(from))?;
        state.names.insert(to.to_string(), inode);
        Ok(())
    }

    fn sync_directory(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.sync()?;
        state.durable_names = state.names.clone();
        Ok(())
    }

    fn describe(&self, name: &str) -> String {
        format!("simulated:{name}")
    }
}

struct SimulatedFile {
    state: Arc<Mutex<State>>,
    inode: u64,
    generation: u64,
}

impl DiskFile for SimulatedFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        let failure = state.mutation().err();
        let inode = state.inode(self)?;
        let offset = usize::try_from(offset).expect("simulated files fit in memory");
        let stored = if failure.is_some() { &bytes[..bytes.len() / 2] } else { bytes };
        if inode.written.len() < offset + stored.len() {
            inode.written.resize(offset + stored.len(), 0);
        }
        inode.written[offset..offset + stored.len()].copy_from_slice(stored);
        failure.map_or(Ok(()), Err)
    }

    fn read_at(&self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        let inode = state.inode(self)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(buffer.len());
        if end > inode.written.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"));
        }
        buffer.copy_from_slice(&inode.written[start..end]);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut state = self.state.lock();
        Ok(state.inode(self)?.written.len() as u64)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.mutation()?;
        let inode = state.inode(self)?;
        inode.written.resize(usize::try_from(len).expect("simulated files fit in memory"), 0);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.sync()?;
        let inode = state.inode(self)?;
        inode.durable.clone_from(&inode.written);
        Ok(())
    }
}
