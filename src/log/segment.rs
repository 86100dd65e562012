//! One segment file of the open log: where its records lie, and the append that writes
//! them with the zeros of preallocation ([`LogOptions::preallocate_bytes`]).

use std::io;
use std::ops::Range;

#[cfg(doc)]
use super::LogOptions;
use super::{DiskFile, Index, StepError};

/// One segment file of the open log.
pub(super) struct Segment {
    pub(super) name: String,
    pub(super) first_index: Index,
    pub(super) file: Box<dyn DiskFile>,
    /// The byte offset of each record in the file, by `index - first_index`.
    pub(super) offsets: Vec<u64>,
    /// Where the records end: header plus records.
    pub(super) bytes: u64,
    /// The file's length: `bytes` plus the zeros written ahead of the records (only the
    /// active segment has any; [`LogOptions::preallocate_bytes`]).
    pub(super) allocated: u64,
}

impl Segment {
    pub(super) fn next_index(&self) -> Index {
        self.first_index + self.offsets.len() as u64
    }

    /// The bytes of the records `from..to` (indexes within this segment).
    pub(super) fn byte_range(&self, from: Index, to: Index) -> Range<u64> {
        let start = self.offsets[(from - self.first_index) as usize];
        let end = if to == self.next_index() {
            self.bytes
        } else {
            self.offsets[(to - self.first_index) as usize]
        };
        start..end
    }

    /// Writes the encoded records in `buffer` after the last record of this segment, followed by
    /// `zeros` zero bytes (preallocation; [`LogOptions::preallocate_bytes`]). A full disk that
    /// refuses the records with their zeros is tried once more with the records alone: the
    /// zeros only make later syncs cheaper, and must not stop writes that fit.
    pub(super) fn write_at_end(
        &mut self,
        buffer: &mut Vec<u8>,
        zeros: u64,
    ) -> Result<(), StepError> {
        let start = self.bytes;
        let records_end = start + buffer.len() as u64;
        if zeros > 0 {
            let records_bytes = buffer.len();
            buffer.resize(records_bytes + zeros as usize, 0);
            let result = self.file.write_at(start, buffer);
            buffer.truncate(records_bytes);
            match result.map_err(StepError::write) {
                Ok(()) => {
                    self.allocated = records_end + zeros;
                    return Ok(());
                }
                Err(StepError::NoSpace(error)) => {
                    self.allocated = start;
                    if let StepError::Poison(error) = cut_back(self.file.as_mut(), start, error) {
                        return Err(StepError::Poison(error));
                    }
                }
                Err(poison) => return Err(poison),
            }
        }
        match self.file.write_at(start, buffer).map_err(StepError::write) {
            Ok(()) => {
                self.allocated = self.allocated.max(records_end);
                Ok(())
            }
            Err(StepError::NoSpace(error)) => {
                self.allocated = start;
                Err(cut_back(self.file.as_mut(), start, error))
            }
            Err(poison) => Err(poison),
        }
    }
}

/// After a write at `start` failed for want of space: truncates `file` back to `start`,
/// so that no byte of the failed write stays, and reads the length back to verify it.
fn cut_back(file: &mut dyn DiskFile, start: u64, error: io::Error) -> StepError {
    match file.truncate(start).and_then(|()| file.len()) {
        Ok(length) if length == start => StepError::NoSpace(error),
        Ok(length) => StepError::Poison(io::Error::other(format!(
            "{error}; truncating back to byte {start} left {length} bytes"
        ))),
        Err(truncation) => StepError::Poison(io::Error::other(format!(
            "{error}; truncating back to byte {start} failed: {truncation}"
        ))),
    }
}
