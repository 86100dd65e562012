use super::*;

#[test]
fn ids_are_read_as_redis_string2ull_reads_them() {
    assert_eq!(parse_strict_id(b"+5").unwrap(), StreamId { ms: 5, seq: 0 });
    assert_eq!(parse_strict_id(b" 6").unwrap(), StreamId { ms: 6, seq: 0 });
    assert_eq!(parse_strict_id(b"08-01").unwrap(), StreamId { ms: 8, seq: 1 });
    assert!(parse_strict_id(b"9-").is_err());
    assert!(parse_strict_id(b"-9").is_err());
    assert!(parse_strict_id(b"-").is_err());
    assert!(parse_strict_id(b"18446744073709551616").is_err());
    assert_eq!(parse_loose_id(b"+").unwrap(), StreamId::MAX);
}

#[test]
fn interval_bounds_fill_in_the_sequence_and_exclude_with_a_parenthesis() {
    assert_eq!(parse_interval(b"5", true).unwrap(), StreamId { ms: 5, seq: u64::MAX });
    assert_eq!(parse_interval(b"(5", false).unwrap(), StreamId { ms: 5, seq: 1 });
    assert_eq!(parse_interval(b"(5-0", true).unwrap(), StreamId { ms: 4, seq: u64::MAX });
    let error = parse_interval(b"(0-0", true).unwrap_err();
    assert_eq!(error.to_string(), "ERR invalid end ID for the interval");
}
