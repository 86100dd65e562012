//! The representation against bytes and counts taken from redis-server 7.0.15.

use super::*;

fn filled(count: usize) -> Vec<u8> {
    let mut hll = new_sparse();
    for index in 0..count {
        add(&mut hll, format!("e{index}").as_bytes()).unwrap();
    }
    hll
}

#[test]
fn three_elements_leave_redis_bytes() {
    let mut hll = new_sparse();
    for element in ["a", "b", "c"] {
        assert!(add(&mut hll, element.as_bytes()).unwrap());
    }
    invalidate_cache(&mut hll);
    let redis =
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ";
    assert_eq!(hll, redis.to_vec());
}

#[test]
fn counts_equal_redis_for_the_same_elements() {
    for (elements, expected, dense) in [
        (1, 1, false),
        (10, 10, false),
        (100, 100, false),
        (1000, 1008, false),
        (100_000, 100_853, true),
    ] {
        let hll = filled(elements);
        assert_eq!(count(&hll), Ok(expected), "{elements} elements");
        assert_eq!(is_dense(&hll), dense, "{elements} elements");
        let mut maximum = vec![0u8; REGISTERS];
        merge_into(&mut maximum, &hll).unwrap();
        assert_eq!(count_registers(&maximum), expected, "{elements} elements, merged");
    }
}

#[test]
fn sparse_and_dense_agree_and_the_switch_happens_past_the_limit() {
    let mut hll = new_sparse();
    let mut index = 0;
    while !is_dense(&hll) {
        assert!(hll.len() <= SPARSE_BYTES_MAX, "sparse HLL of {} bytes", hll.len());
        let mut dense = hll.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(count(&hll), count(&dense));
        add(&mut hll, format!("e{index}").as_bytes()).unwrap();
        index += 1;
    }
    assert_eq!(hll.len(), DENSE_BYTES);
}

#[test]
fn a_truncated_sparse_hll_is_corrupt() {
    let mut hll = new_sparse();
    hll.truncate(HEADER_BYTES + 1);
    assert!(is_valid(&hll));
    assert_eq!(count(&hll), Err(Corrupt));
    assert_eq!(add(&mut hll, b"x"), Err(Corrupt));
    assert_eq!(to_dense(&mut hll), Err(Corrupt));
}

#[test]
fn an_empty_hll_decodes_as_one_extended_zero() {
    assert_eq!(decode_sparse(&new_sparse()), "Z:16384");
    assert_eq!(cached_count(&new_sparse()), Some(0));
}
