//! Damage on the real file system: a flipped bit at every third byte, a cut at every length,
//! a deleted segment. Each case must either recover a prefix of the log (damage a crash can
//! explain: the tail of the last segment) or fail naming the file and offset, and must never
//! return a record that differs from the one written.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;

fn options() -> LogOptions {
    LogOptions {
        segment_bytes_max: 300,
        cache_bytes_max: 0,
        record_bytes_max: 100,
        preallocate_bytes: 40,
    }
}

/// A small log as written, file by file.
struct Pristine {
    files: BTreeMap<String, Vec<u8>>,
    /// The records the log holds (after its purge).
    records: Vec<Record>,
    /// Segment file names in index order.
    segments: Vec<String>,
}

impl Pristine {
    fn build(directory: &Path) -> Pristine {
        let mut log = Log::open_directory(directory, options()).unwrap();
        let written: Vec<Record> = (0..24)
            .map(|index| Record {
                index,
                term: 1 + index / 10,
                payload: Bytes::from(vec![index as u8; 8 + (index as usize * 7) % 30]),
            })
            .collect();
        log.append(&written).unwrap();
        log.purge(RecordId { index: 2, term: 1 }).unwrap();
        log.save_vote(b"term 3, voted for node 1").unwrap();
        drop(log);
        let mut files = BTreeMap::new();
        for entry in fs::read_dir(directory).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            files.insert(name, fs::read(entry.path()).unwrap());
        }
        let segments: Vec<String> =
            files.keys().filter(|name| name.ends_with(".segment")).cloned().collect();
        assert!(segments.len() >= 3, "the log spans several segments: {segments:?}");
        Pristine { files, records: written[3..].to_vec(), segments }
    }

    fn restore(&self, directory: &Path) {
        for entry in fs::read_dir(directory).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, bytes) in &self.files {
            fs::write(directory.join(name), bytes).unwrap();
        }
    }

    fn last_segment(&self) -> &str {
        self.segments.last().expect("segments exist")
    }

    /// The segment after `name`, if `name` is a segment and not the last one.
    fn next_segment(&self, name: &str) -> Option<&str> {
        let position = self.segments.iter().position(|segment| segment == name)?;
        self.segments.get(position + 1).map(String::as_str)
    }

    /// How many of the log's records lie wholly before byte `offset` of the last segment,
    /// counting every record of the earlier segments.
    fn records_before(&self, offset: usize) -> usize {
        let bytes = &self.files[self.last_segment()];
        let mut position = format::SEGMENT_HEADER_BYTES as usize;
        let mut index = format::parse_segment_name(self.last_segment()).unwrap();
        while let format::Frame::Record { end, .. } = format::decode_record(bytes, position) {
            if end > offset {
                break;
            }
            position = end;
            index += 1;
        }
        (index - self.records[0].index) as usize
    }
}

/// Opens the damaged log and checks the outcome; `damaged` is the file, `offset` where.
fn check(directory: &Path, pristine: &Pristine, damaged: &str, offset: usize, what: &str) {
    let outcome = Log::open_directory(directory, options()).and_then(|log| log.read(0..100));
    match outcome {
        Ok(records) => {
            assert_eq!(
                records[..],
                pristine.records[..records.len()],
                "{what}: recovered records that differ from the ones written"
            );
            assert_eq!(damaged, pristine.last_segment(), "{what}: damage recovered silently");
            assert!(
                records.len() >= pristine.records_before(offset),
                "{what}: lost {} records written before the damage",
                pristine.records_before(offset) - records.len()
            );
        }
        Err(LogError::Corrupt { file, offset: reported, reason }) => {
            let named = Path::new(&file).file_name().unwrap().to_str().unwrap().to_string();
            let allowed = [Some(damaged), pristine.next_segment(damaged)];
            assert!(allowed.contains(&Some(named.as_str())), "{what}: blamed {named}: {reason}");
            let length = pristine.files.get(&named).map_or(0, Vec::len);
            assert!(reported as usize <= length, "{what}: offset {reported} past the end");
        }
        Err(LogError::UnsupportedVersion { file, .. }) => {
            assert!(file.ends_with(damaged), "{what}: version error names {file}");
        }
        Err(error) => panic!("{what}: unexpected error {error}"),
    }
}

/// Every third byte: each recovery that succeeds syncs the log, and fsync latency on a busy
/// machine would otherwise dominate the test suite. The stride is prime to 8, so every bit
/// position within a byte is still exercised.
const FLIP_STRIDE: usize = 3;

#[test]
fn a_flipped_bit_anywhere_recovers_a_prefix_or_is_reported_with_file_and_offset() {
    let directory = tempfile::tempdir().unwrap();
    let pristine = Pristine::build(directory.path());
    for (name, bytes) in &pristine.files {
        for position in (0..bytes.len()).step_by(FLIP_STRIDE) {
            pristine.restore(directory.path());
            let mut damaged = bytes.clone();
            damaged[position] ^= 1 << (position % 8);
            fs::write(directory.path().join(name), &damaged).unwrap();
            check(
                directory.path(),
                &pristine,
                name,
                position,
                &format!("{name} bit at {position}"),
            );
        }
    }
}

#[test]
fn a_file_cut_at_any_length_recovers_a_prefix_or_is_reported() {
    let directory = tempfile::tempdir().unwrap();
    let pristine = Pristine::build(directory.path());
    for (name, bytes) in &pristine.files {
        for length in 0..bytes.len() {
            pristine.restore(directory.path());
            fs::write(directory.path().join(name), &bytes[..length]).unwrap();
            check(directory.path(), &pristine, name, length, &format!("{name} cut at {length}"));
        }
    }
}

#[test]
fn a_missing_middle_or_first_segment_is_reported_and_a_missing_last_one_is_a_shorter_log() {
    let directory = tempfile::tempdir().unwrap();
    let pristine = Pristine::build(directory.path());
    for (position, name) in pristine.segments.iter().enumerate() {
        pristine.restore(directory.path());
        fs::remove_file(directory.path().join(name)).unwrap();
        let outcome = Log::open_directory(directory.path(), options());
        if position + 1 == pristine.segments.len() {
            let log = outcome.expect("without its last segment the log is shorter");
            let records = log.read(0..100).unwrap();
            assert_eq!(records[..], pristine.records[..records.len()]);
            continue;
        }
        match outcome {
            Err(LogError::Corrupt { file, offset: 0, reason }) => {
                let next = pristine.segments[position + 1].as_str();
                assert!(file.ends_with(next), "deleting {name} blamed {file}");
                assert!(reason.contains("missing"), "{reason}");
            }
            other => panic!("deleting {name} gave {other:?}"),
        }
    }
}

#[test]
fn the_real_file_system_log_survives_reopen_with_everything_synced() {
    let directory = tempfile::tempdir().unwrap();
    let pristine = Pristine::build(directory.path());
    let log = Log::open_directory(directory.path(), options()).unwrap();
    assert_eq!(log.read(0..100).unwrap(), pristine.records);
    assert_eq!(log.purged_id(), Some(RecordId { index: 2, term: 1 }));
    assert_eq!(log.vote().map(|vote| &vote[..]), Some(&b"term 3, voted for node 1"[..]));
    assert_eq!(log.recovery().segments, pristine.segments.len());
}
