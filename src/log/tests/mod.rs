//! The log's behaviour, pinned down on the simulated disk (crashes, faults) and on the real
//! file system (corruption). `model.rs` holds the randomized model test.

mod corruption;
mod model;

use std::sync::Arc;

use bytes::Bytes;

use super::*;

/// Small bounds, so that a few records exercise rollover and reads past the cache.
fn small_options() -> LogOptions {
    LogOptions {
        segment_bytes_max: 256,
        cache_bytes_max: 128,
        record_bytes_max: 100,
        preallocate_bytes: 64,
    }
}

fn record(index: Index, term: Term) -> Record {
    let payload = format!("record {index} of term {term}").into_bytes();
    Record { index, term, payload: Bytes::from(payload) }
}

fn records(indexes: Range<Index>, term: Term) -> Vec<Record> {
    indexes.map(|index| record(index, term)).collect()
}

fn open(disk: &SimulatedDisk) -> Log {
    Log::open(Arc::new(disk.clone()), small_options()).expect("the log opens")
}

fn everything(log: &Log) -> Vec<Record> {
    log.read(0..Index::MAX).expect("the log reads")
}

#[test]
fn the_log_can_move_to_its_own_thread() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Log>();
}

#[test]
fn an_empty_directory_is_an_empty_log_that_expects_index_zero() {
    let disk = SimulatedDisk::new();
    let log = open(&disk);
    assert_eq!((log.first_index(), log.next_index(), log.last_index()), (0, 0, None));
    assert_eq!((log.last_id(), log.purged_id(), log.durable_index()), (None, None, None));
    assert_eq!(log.vote(), None);
    assert_eq!(log.recovery().segments, 0);
    assert!(everything(&log).is_empty());
    assert!(disk.files().is_empty(), "opening an empty log creates no file");
}

#[test]
fn appended_records_read_back_from_cache_and_disk_across_segments() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    let written = records(0..40, 1);
    for batch in written.chunks(3) {
        log.append(batch).unwrap();
    }
    assert!(disk.files().len() > 4, "small segments roll over: {:?}", disk.files().keys());
    assert_eq!(everything(&log), written);
    assert_eq!(log.read(5..9).unwrap(), written[5..9]);
    assert_eq!(log.read(38..100).unwrap(), written[38..]);
    assert_eq!(log.last_id(), Some(RecordId { index: 39, term: 1 }));
    log.sync().unwrap();
    drop(log);
    let log = open(&disk);
    assert_eq!(everything(&log), written, "a reopened log reads the same records");
    assert_eq!(log.recovery().records, 40);
}

#[test]
fn sync_makes_appends_durable_and_a_crash_loses_only_unsynced_ones() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..3, 1)).unwrap();
    log.sync().unwrap();
    assert_eq!(log.durable_index(), Some(2));
    log.append(&records(3..5, 1)).unwrap();
    assert_eq!(log.durable_index(), Some(2), "appending alone promises nothing");
    disk.crash(0);
    let log = open(&disk);
    assert_eq!(everything(&log), records(0..3, 1));
    assert_eq!(log.durable_index(), Some(2));
}

#[test]
fn a_torn_last_write_is_cut_off_and_the_log_continues_after_it() {
    for seed in 1..50 {
        let disk = SimulatedDisk::new();
        let mut log = open(&disk);
        log.append(&records(0..2, 1)).unwrap();
        log.sync().unwrap();
        log.append(&records(2..4, 1)).unwrap();
        disk.crash(seed);
        let mut log = open(&disk);
        let recovered = everything(&log);
        assert!(recovered.len() >= 2 && recovered[..] == records(0..4, 1)[..recovered.len()]);
        let next = log.next_index();
        log.append(&records(next..next + 1, 2)).unwrap();
        log.sync().unwrap();
        drop(log);
        assert_eq!(everything(&open(&disk)).len() as u64, next + 1, "seed {seed}");
    }
}

#[test]
fn appends_out_of_order_with_a_lower_term_or_too_large_are_refused_and_change_nothing() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..2, 3)).unwrap();
    let refused = [
        vec![record(3, 3)],
        vec![record(1, 3)],
        vec![record(2, 2)],
        vec![record(2, 3), record(4, 3)],
        vec![Record { index: 2, term: 3, payload: Bytes::from(vec![0; 101]) }],
    ];
    for batch in refused {
        let error = log.append(&batch).expect_err("refused");
        assert!(matches!(error, LogError::InvalidRequest(_)), "{error}");
    }
    assert_eq!(everything(&log), records(0..2, 3));
    log.append(&[record(2, 3)]).unwrap();
}

#[test]
fn truncate_removes_the_suffix_durably_across_segments() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..30, 1)).unwrap();
    log.truncate(12).unwrap();
    assert_eq!(log.durable_index(), Some(11), "truncate syncs what it keeps");
    assert_eq!(log.last_id(), Some(RecordId { index: 11, term: 1 }));
    log.append(&records(12..14, 2)).unwrap();
    log.truncate(13).unwrap();
    disk.crash(0);
    let log = open(&disk);
    let mut expected = records(0..12, 1);
    expected.push(record(12, 2));
    assert_eq!(everything(&log), expected);
}

#[test]
fn truncate_at_or_past_the_end_is_a_no_op_and_below_the_purged_index_is_refused() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..10, 1)).unwrap();
    log.truncate(10).unwrap();
    log.truncate(99).unwrap();
    assert_eq!(log.next_index(), 10);
    log.purge(RecordId { index: 4, term: 1 }).unwrap();
    assert!(matches!(log.truncate(4), Err(LogError::InvalidRequest(_))));
    log.truncate(5).unwrap();
    assert_eq!((log.last_index(), log.last_id()), (None, Some(RecordId { index: 4, term: 1 })));
}

#[test]
fn purge_deletes_whole_segments_and_its_id_survives_a_crash() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..30, 1)).unwrap();
    let segments_before = disk.files().len();
    log.purge(RecordId { index: 20, term: 1 }).unwrap();
    assert!(disk.files().len() < segments_before, "whole purged segments are deleted");
    assert_eq!(log.first_index(), 21);
    assert_eq!(everything(&log), records(21..30, 1));
    disk.crash(0);
    let log = open(&disk);
    assert_eq!(log.purged_id(), Some(RecordId { index: 20, term: 1 }));
    assert_eq!(everything(&log), records(21..30, 1));
}

#[test]
fn purge_past_the_end_empties_the_log_and_the_next_append_follows_it() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..5, 1)).unwrap();
    log.purge(RecordId { index: 100, term: 7 }).unwrap();
    assert_eq!(log.last_id(), Some(RecordId { index: 100, term: 7 }));
    assert!(matches!(log.append(&[record(5, 7)]), Err(LogError::InvalidRequest(_))));
    drop(log);
    let mut log = open(&disk);
    assert_eq!((log.next_index(), log.last_index()), (101, None));
    assert_eq!(log.last_id(), Some(RecordId { index: 100, term: 7 }));
    log.append(&records(101..103, 7)).unwrap();
    log.sync().unwrap();
    drop(log);
    assert_eq!(everything(&open(&disk)), records(101..103, 7));
}

#[test]
fn purge_with_the_wrong_term_is_refused() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..5, 2)).unwrap();
    assert!(matches!(log.purge(RecordId { index: 3, term: 1 }), Err(LogError::InvalidRequest(_))));
    assert_eq!(log.first_index(), 0);
}

#[test]
fn the_vote_is_saved_atomically_and_durably() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.save_vote(b"term 1, voted for 2").unwrap();
    disk.crash(0);
    let mut log = open(&disk);
    assert_eq!(log.vote().map(|vote| &vote[..]), Some(&b"term 1, voted for 2"[..]));
    // A failure anywhere in the replacement leaves the old vote or the new one.
    for failure in 0..4 {
        disk.fail_write(failure, Fault::NoSpace);
        let result = log.save_vote(b"term 2, voted for 3");
        disk.crash(0);
        log = open(&disk);
        let vote = log.vote().expect("a vote survives").clone();
        assert!(result.is_err() || &vote[..] == b"term 2, voted for 3");
        assert!(&vote[..] == b"term 1, voted for 2" || &vote[..] == b"term 2, voted for 3");
    }
}

#[test]
fn saving_a_vote_first_makes_earlier_appends_durable() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..3, 1)).unwrap();
    log.save_vote(b"vote").unwrap();
    assert_eq!(log.durable_index(), Some(2));
    disk.crash(0);
    assert_eq!(everything(&open(&disk)), records(0..3, 1));
}

#[test]
fn a_failed_fsync_poisons_every_later_operation_and_a_reopen_recovers_what_was_synced() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..3, 1)).unwrap();
    log.sync().unwrap();
    log.append(&records(3..5, 1)).unwrap();
    disk.fail_sync(0, Fault::DeviceError);
    let error = log.sync().expect_err("the sync fails");
    assert!(matches!(error, LogError::Poisoned { .. }), "{error}");
    assert_eq!(log.durable_index(), Some(2), "a failed sync promises nothing");
    let error_text = log.append(&records(5..6, 1)).expect_err("poisoned").to_string();
    assert!(error_text.contains("syncing") && error_text.contains("os error 5"), "{error_text}");
    assert!(matches!(log.sync(), Err(LogError::Poisoned { .. })), "fsync is never retried");
    assert!(matches!(log.truncate(1), Err(LogError::Poisoned { .. })));
    assert!(matches!(log.purge(RecordId { index: 1, term: 1 }), Err(LogError::Poisoned { .. })));
    assert!(matches!(log.save_vote(b"v"), Err(LogError::Poisoned { .. })));
    assert!(matches!(log.read(0..1), Err(LogError::Poisoned { .. })));
    assert_eq!(log.durable_index(), Some(2));
    drop(log);
    disk.crash(0);
    let log = open(&disk);
    assert_eq!(everything(&log), records(0..3, 1));
}

#[test]
fn a_full_disk_during_append_leaves_the_files_as_before_and_the_rest_appends_later() {
    // Every write of the appends below (records, new segments, their headers and renames)
    // fails in turn; each time the log stays healthy and the same batch appends in the end.
    // Without preallocation every injected failure reaches the caller. With it, a failure of
    // a write that carried zeros is absorbed (the records are written again alone), and one
    // that is reported may have cut the segment's zeros, which recovery would cut anyway.
    for preallocate_bytes in [0, 64] {
        let options = LogOptions { preallocate_bytes, ..small_options() };
        for failure in 0..12 {
            let disk = SimulatedDisk::new();
            let mut log = Log::open(Arc::new(disk.clone()), options.clone()).unwrap();
            log.append(&records(0..4, 1)).unwrap();
            log.sync().unwrap();
            disk.fail_write(failure, Fault::NoSpace);
            let mut failed = false;
            for batch in records(4..24, 1).chunks(4) {
                let files_before = without_trailing_zeros(disk.files());
                let first = batch[0].index;
                let Err(error) = log.append(batch) else { continue };
                failed = true;
                assert!(matches!(error, LogError::NoSpace { .. }), "failure {failure}: {error}");
                assert!(error.to_string().contains("os error 28"), "{error}");
                let written = (log.next_index() - first) as usize;
                assert!(written < batch.len(), "the failed append cannot have written everything");
                if written == 0 {
                    let files = without_trailing_zeros(disk.files());
                    assert_eq!(files, files_before, "failure {failure} left bytes behind");
                }
                assert_eq!(everything(&log), records(0..first + written as u64, 1));
                log.append(&batch[written..]).expect("the rest appends once there is space");
            }
            assert!(failed || preallocate_bytes > 0, "failure {failure} was injected");
            log.sync().unwrap();
            disk.crash(0);
            let recovered =
                everything(&Log::open(Arc::new(disk.clone()), options.clone()).unwrap());
            assert_eq!(recovered, records(0..24, 1), "after failure {failure}");
        }
    }
}

/// `files` with the zeros at the end of each removed: preallocation's, which carry nothing.
fn without_trailing_zeros(
    mut files: std::collections::BTreeMap<String, Vec<u8>>,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    for bytes in files.values_mut() {
        let end = bytes.iter().rposition(|&byte| byte != 0).map_or(0, |position| position + 1);
        bytes.truncate(end);
    }
    files
}

#[test]
fn preallocated_zeros_are_written_ahead_of_the_records_and_never_outlive_a_segment() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    let written = records(0..40, 1);
    for batch in written.chunks(3) {
        log.append(batch).unwrap();
        log.sync().unwrap();
        let files = disk.files();
        let (active, bytes) = files.iter().next_back().expect("a segment");
        let records_end = bytes.iter().rposition(|&byte| byte != 0).unwrap() + 1;
        assert!(
            bytes.len() > records_end || bytes.len() as u64 >= small_options().segment_bytes_max,
            "{active} has zeros ahead of its records, up to the segment size"
        );
        for (name, bytes) in files.iter().rev().skip(1) {
            assert_ne!(bytes.last(), Some(&0), "closed segment {name} ends at its last record");
        }
    }
    drop(log);
    disk.crash(0);
    let log = open(&disk);
    assert_eq!(everything(&log), written, "the zeros read as the end of the log");
    assert_eq!(log.recovery().torn_tail_bytes, 0, "zeros are not a torn write");
    let files = disk.files();
    let last = files.values().next_back().unwrap();
    assert_ne!(last.last(), Some(&0), "recovery cut the zeros");
}

#[test]
fn a_full_disk_reported_by_fsync_still_poisons_the_log() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..3, 1)).unwrap();
    disk.fail_sync(0, Fault::NoSpace);
    let error = log.sync().expect_err("the sync fails");
    assert!(matches!(error, LogError::Poisoned { .. }), "{error}");
    assert!(matches!(log.append(&records(3..4, 1)), Err(LogError::Poisoned { .. })));
}

#[test]
fn an_unknown_format_version_is_named_in_the_error() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..2, 1)).unwrap();
    log.sync().unwrap();
    drop(log);
    let name = format::segment_name(0);
    let mut bytes = disk.files()[&name].clone();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    disk.set_file(&name, &bytes);
    let error = Log::open(Arc::new(disk.clone()), small_options()).expect_err("refused");
    assert!(matches!(error, LogError::UnsupportedVersion { version: 7, .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("version 7") && text.contains(&name), "{text}");
}

#[test]
fn leftover_temporary_files_are_removed_on_open() {
    let disk = SimulatedDisk::new();
    disk.set_file("vote.tmp", b"half a vote");
    disk.set_file("00000000000000000000.segment.tmp", b"half a header");
    let log = open(&disk);
    assert_eq!(log.recovery().files_removed, 2);
    assert!(disk.files().is_empty());
}

#[test]
fn invalid_options_are_refused() {
    let options = LogOptions { segment_bytes_max: 10, ..LogOptions::default() };
    let error = Log::open(Arc::new(SimulatedDisk::new()), options).expect_err("refused");
    assert!(matches!(error, LogError::InvalidOptions(_)));
    let options = LogOptions { record_bytes_max: 0, ..LogOptions::default() };
    assert!(Log::open(Arc::new(SimulatedDisk::new()), options).is_err());
}

#[test]
fn the_fuzz_entry_point_recovers_a_real_log_and_survives_garbage() {
    let disk = SimulatedDisk::new();
    let mut log = open(&disk);
    log.append(&records(0..10, 1)).unwrap();
    log.sync().unwrap();
    let files = disk.files();
    let borrowed: Vec<(&str, &[u8])> =
        files.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    assert_eq!(recover_from_files(&borrowed).unwrap(), records(0..10, 1));
    let garbage: &[(&str, &[u8])] =
        &[("00000000000000000000.segment", &[0xff; 100]), ("purged", b"CNCDPURG"), ("vote", &[])];
    assert!(recover_from_files(garbage).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Arbitrary bytes under a segment's name, after a valid header, never panic recovery.
    #[test]
    fn recovery_from_arbitrary_segment_bytes_never_panics(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)
    ) {
        let mut bytes = format::encode_segment_header(0).to_vec();
        bytes.extend_from_slice(&body);
        let _ = recover_from_files(&[("00000000000000000000.segment", &bytes)]);
    }
}
