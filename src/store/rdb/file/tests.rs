//! RDB files built record by record as redis-server writes them, and damaged copies of them.

use super::*;
use crate::store::rdb::{crc64, string, value};
use crate::store::Value;

const TYPE_STRING: u8 = 0;

fn string_record(output: &mut Vec<u8>, key: &str, value: &str) {
    output.push(TYPE_STRING);
    string::write(output, key.as_bytes());
    string::write(output, value.as_bytes());
}

/// Two databases, an auxiliary field, sizes, an expiry in each unit, a library.
fn example_file() -> Vec<u8> {
    let mut file = b"REDIS0010".to_vec();
    file.push(OPCODE_AUX);
    string::write(&mut file, b"redis-ver");
    string::write(&mut file, b"7.0.15");
    file.extend_from_slice(&[OPCODE_SELECTDB, 0, OPCODE_RESIZEDB, 2, 1]);
    string_record(&mut file, "plain", "12");
    file.push(OPCODE_EXPIRETIME_MS);
    file.extend_from_slice(&4_102_444_800_123u64.to_le_bytes());
    string_record(&mut file, "expiring", "hello");
    file.extend_from_slice(&[OPCODE_SELECTDB, 3, OPCODE_FREQ, 5]);
    file.push(OPCODE_EXPIRETIME);
    file.extend_from_slice(&4_102_444_800u32.to_le_bytes());
    string_record(&mut file, "seconds", "x");
    file.push(OPCODE_FUNCTION2);
    string::write(&mut file, b"#!lua name=lib\nredis.register_function('f', function() end)");
    file.push(OPCODE_EOF);
    let checksum = crc64(0, &file);
    file.extend_from_slice(&checksum.to_le_bytes());
    file
}

/// A key as a test reads it back: database, name, expiry and restored string value.
type KeyRead<'a> = (u64, &'a [u8], Option<u64>, Vec<u8>);

fn restored_string(item: &Item) -> Vec<u8> {
    match value::restore(&item.payload()) {
        Ok(Value::String(string)) => string.to_bytes().to_vec(),
        other => panic!("a string payload was expected, not {other:?}"),
    }
}

#[test]
fn keys_come_with_their_database_expiry_and_restorable_payload() {
    let file = example_file();
    let items = read(&file).expect("the example file is valid");
    let keys: Vec<KeyRead> = items
        .iter()
        .filter_map(|item| match item {
            Item::Key(key) => {
                Some((key.database, &key.key[..], key.expires_at_ms, restored_string(item)))
            }
            Item::Library { .. } => None,
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            (0, &b"plain"[..], None, b"12".to_vec()),
            (0, &b"expiring"[..], Some(4_102_444_800_123), b"hello".to_vec()),
            (3, &b"seconds"[..], Some(4_102_444_800_000), b"x".to_vec()),
        ]
    );
    let library = items.last().expect("the library is the last item");
    let libraries = crate::store::rdb::restore_libraries(&library.payload());
    assert_eq!(libraries.map(|codes| codes.len()), Ok(1), "a FUNCTION RESTORE payload");
}

#[test]
fn a_truncated_file_is_refused_with_an_offset_at_every_cut() {
    let file = example_file();
    for cut in 0..file.len() {
        let error = read(&file[..cut]).expect_err("a truncated file is refused");
        assert!(error.offset <= cut, "cut at {cut}: the error points past the end: {error}");
    }
}

#[test]
fn a_damaged_byte_is_refused_by_the_records_or_the_checksum() {
    let file = example_file();
    for at in 0..file.len() {
        let mut damaged = file.clone();
        damaged[at] ^= 0x20;
        assert!(read(&damaged).is_err(), "a flipped bit at byte {at} was accepted");
    }
}

#[test]
fn a_zero_checksum_means_redis_did_not_compute_one() {
    let mut file = example_file();
    let end = file.len() - 8;
    file[end..].fill(0);
    assert_eq!(read(&file).map(|items| items.len()), Ok(4));
}

#[test]
fn headers_name_what_is_wrong() {
    let reason = |file: &[u8]| read(file).expect_err("refused").to_string();
    assert_eq!(reason(b"REDIS"), "at byte 0: too short to be an RDB file");
    assert_eq!(reason(b"PK\x03\x04zipfile"), "at byte 0: not an RDB file (no REDIS header)");
    assert_eq!(
        reason(b"REDIS0011\xff"),
        "at byte 5: RDB version 11 is newer than 10, the newest Concord reads"
    );
    let mut module = b"REDIS0010".to_vec();
    module.push(OPCODE_MODULE_AUX);
    assert_eq!(reason(&module), "at byte 9: module data cannot be imported");
}
