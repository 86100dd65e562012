//! The hash family through parse → apply / execute_read, with every reply as redis-server
//! 7.0.15 gave it for the same commands (orderless replies compared sorted).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use proptest::prelude::*;

use crate::resp::Frame;
use crate::state_machine::test_harness::{
    bulk, bulks, error, int, sorted_bulks, Harness, WRONGTYPE,
};

#[test]
fn hset_counts_new_fields_and_hmset_replies_ok() {
    let mut redis = Harness::new();
    redis.check(&["HSET", "h", "a", "1", "b", "2", "a", "3"], int(2));
    redis.check(&["HGET", "h", "a"], bulk("3"));
    redis.check(&["HMSET", "h", "b", "9", "c", "4"], Frame::ok());
    redis.check(
        &["HGETALL", "h"],
        Frame::Map(vec![(bulk("a"), bulk("3")), (bulk("b"), bulk("9")), (bulk("c"), bulk("4"))]),
    );
    redis.check(&["HSET", "h", "x"], error("ERR wrong number of arguments for 'hset' command"));
    redis.check(&["HMSET", "h", "x"], error("ERR wrong number of arguments for 'hmset' command"));
}

#[test]
fn small_hashes_reply_in_insertion_order_like_a_listpack() {
    let mut redis = Harness::new();
    redis.given(&[
        &["HSET", "h", "z", "1", "a", "2", "m", "3"],
        &["HDEL", "h", "a"],
        &["HSET", "h", "a", "9"],
    ]);
    redis.check(&["HKEYS", "h"], bulks(&["z", "m", "a"]));
    redis.check(&["HVALS", "h"], bulks(&["1", "3", "9"]));
    redis.check(
        &["HSCAN", "h", "0"],
        Frame::Array(vec![bulk("0"), bulks(&["z", "1", "m", "3", "a", "9"])]),
    );
    redis.check(
        &["HSCAN", "h", "123", "COUNT", "1", "MATCH", "[am]"],
        Frame::Array(vec![bulk("0"), bulks(&["m", "3", "a", "9"])]),
    );
}

#[test]
fn reads_of_missing_keys_and_fields() {
    let mut redis = Harness::new();
    redis.check(&["HGET", "h", "f"], Frame::Null);
    redis.check(&["HMGET", "h", "f", "g"], Frame::Array(vec![Frame::Null, Frame::Null]));
    redis.check(&["HLEN", "h"], int(0));
    redis.check(&["HEXISTS", "h", "f"], int(0));
    redis.check(&["HSTRLEN", "h", "f"], int(0));
    redis.check(&["HKEYS", "h"], bulks(&[]));
    redis.check(&["HGETALL", "h"], Frame::Map(vec![]));
    redis.check(&["HRANDFIELD", "h"], Frame::Null);
    redis.check(&["HRANDFIELD", "h", "3", "WITHVALUES"], bulks(&[]));
    redis.check(&["HSCAN", "h", "0", "COUNT", "0"], Frame::Array(vec![bulk("0"), bulks(&[])]));
    redis.given(&[&["HSET", "h", "f", "hello"]]);
    redis.check(&["HMGET", "h", "f", "g"], Frame::Array(vec![bulk("hello"), Frame::Null]));
    redis.check(&["HSTRLEN", "h", "f"], int(5));
    redis.check(&["HEXISTS", "h", "f"], int(1));
}

#[test]
fn hsetnx_and_hdel_delete_the_key_with_its_last_field() {
    let mut redis = Harness::new();
    redis.check(&["HSETNX", "h", "f", "v"], int(1));
    redis.check(&["HSETNX", "h", "f", "w"], int(0));
    redis.check(&["HGET", "h", "f"], bulk("v"));
    redis.check(&["HDEL", "h", "nope"], int(0));
    redis.check(&["HDEL", "h", "f", "f", "g"], int(1));
    redis.check(&["EXISTS", "h"], int(0));
    redis.check(&["HDEL", "h", "f"], int(0));
}

#[test]
fn hincrby_errors_match_redis() {
    let mut redis = Harness::new();
    redis.check(&["HINCRBY", "h", "f", "9223372036854775807"], int(i64::MAX));
    redis.check(&["HINCRBY", "h", "f", "1"], error("ERR increment or decrement would overflow"));
    redis.check(&["HINCRBY", "h", "f", "x"], error("ERR value is not an integer or out of range"));
    redis.given(&[&["HSET", "h", "s", "abc", "sp", " 1"]]);
    redis.check(&["HINCRBY", "h", "s", "1"], error("ERR hash value is not an integer"));
    redis.check(&["HINCRBY", "h", "sp", "1"], error("ERR hash value is not an integer"));
    redis.check(&["HINCRBY", "h", "n", "-5"], int(-5));
    redis.check(&["HGET", "h", "n"], bulk("-5"));
}

#[test]
fn hincrbyfloat_uses_long_double_arithmetic() {
    let mut redis = Harness::new();
    redis.check(&["HINCRBYFLOAT", "h", "g", "1.5e0"], bulk("1.5"));
    redis.check(&["HINCRBYFLOAT", "h", "g", "0.1"], bulk("1.6"));
    redis.check(&["HSTRLEN", "h", "g"], int(3));
    redis.check(&["HINCRBYFLOAT", "h", "g", "inf"], error("ERR value is NaN or Infinity"));
    redis.check(&["HINCRBYFLOAT", "h", "g", "nan"], error("ERR value is not a valid float"));
    redis.check(&["HINCRBYFLOAT", "h", "g", "-inf"], error("ERR value is NaN or Infinity"));
    redis.given(&[&["SET", "str", "x"]]);
    redis.check(&["HINCRBYFLOAT", "str", "g", "abc"], error("ERR value is not a valid float"));
    redis.check(&["HINCRBYFLOAT", "str", "g", "inf"], error("ERR value is NaN or Infinity"));
    redis.given(&[&["HSET", "h", "s", "abc", "i", "10"]]);
    redis.check(&["HINCRBYFLOAT", "h", "s", "1"], error("ERR hash value is not a float"));
    redis.check(&["HINCRBYFLOAT", "h", "i", "-0.25"], bulk("9.75"));
    redis.given(&[&["HSET", "h", "big", "1e4932"]]);
    redis.check(
        &["HINCRBYFLOAT", "h", "big", "1e4932"],
        error("ERR increment would produce NaN or Infinity"),
    );
}

#[test]
fn encodings_follow_redis_thresholds_and_never_convert_back() {
    let mut redis = Harness::new();
    redis.given(&[&["HSET", "h", "f", "v"]]);
    redis.check(&["OBJECT", "ENCODING", "h"], bulk("listpack"));
    let long_field = "x".repeat(65);
    redis.given(&[&["HINCRBY", "h", &long_field, "1"]]);
    redis.check(&["OBJECT", "ENCODING", "h"], bulk("hashtable"));
    redis.given(&[&["HDEL", "h", &long_field]]);
    redis.check(&["OBJECT", "ENCODING", "h"], bulk("hashtable"));

    let long_value = "1".repeat(70);
    redis.given(&[&["HSET", "f", "n", "1"], &["HINCRBYFLOAT", "f", "n", &long_value]]);
    redis.check(&["OBJECT", "ENCODING", "f"], bulk("hashtable"));

    let mut words: Vec<String> = vec!["HSET".into(), "many".into()];
    for index in 0..512 {
        words.extend([format!("f{index}"), "v".into()]);
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    redis.given(&[&words]);
    redis.check(&["OBJECT", "ENCODING", "many"], bulk("listpack"));
    redis.check(&["HSETNX", "many", "f1", "v"], int(0));
    redis.check(&["OBJECT", "ENCODING", "many"], bulk("listpack"));
    redis.check(&["HSETNX", "many", "one more", "v"], int(1));
    redis.check(&["OBJECT", "ENCODING", "many"], bulk("hashtable"));
}

#[test]
fn hrandfield_shapes() {
    let mut redis = Harness::new();
    redis.given(&[&["HSET", "h", "a", "1", "b", "2", "c", "3"]]);
    redis.check(&["HRANDFIELD", "h", "0"], bulks(&[]));
    let whole = redis.run(&["HRANDFIELD", "h", "5", "WITHVALUES"]);
    let pair = |field: &str, value: &str| (bulk(field), bulk(value));
    assert_eq!(
        whole,
        Frame::Pairs(vec![pair("a", "1"), pair("b", "2"), pair("c", "3")]),
        "a count past the size is the whole hash, as field-value pairs"
    );
    let distinct = redis.run(&["HRANDFIELD", "h", "2"]);
    let fields = sorted_bulks(&distinct);
    assert_eq!(fields.len(), 2);
    assert_ne!(fields[0], fields[1]);
    let Frame::Pairs(repeated) = redis.run(&["HRANDFIELD", "h", "-10", "WITHVALUES"]) else {
        panic!("HRANDFIELD with a count and WITHVALUES replies pairs");
    };
    assert_eq!(repeated.len(), 10);
    for (field, value) in &repeated {
        let expected = match field {
            Frame::Bulk(field) if field.as_ref() == b"a" => "1",
            Frame::Bulk(field) if field.as_ref() == b"b" => "2",
            _ => "3",
        };
        assert_eq!(value, &bulk(expected), "each value goes with its field");
    }
    let one = redis.run(&["HRANDFIELD", "h"]);
    assert!([bulk("a"), bulk("b"), bulk("c")].contains(&one), "{one:?}");
    redis.check(
        &["HRANDFIELD", "h", "-100000000"],
        error("ERR value is out of range, the reply would be too large"),
    );
}

#[test]
fn hscan_option_errors_come_after_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["HSET", "h", "a", "1"], &["SET", "s", "x"]]);
    redis
        .check(&["HSCAN", "missing", "0", "COUNT", "0"], Frame::Array(vec![bulk("0"), bulks(&[])]));
    redis.check(&["HSCAN", "s", "0", "COUNT", "0"], error(WRONGTYPE));
    redis.check(&["HSCAN", "h", "0", "COUNT", "0"], error("ERR syntax error"));
    redis.check(&["HSCAN", "h", "0", "TYPE", "hash"], error("ERR syntax error"));
    redis.check(&["HSCAN", "h", "x"], error("ERR invalid cursor"));
}

#[test]
fn hash_commands_refuse_other_types_and_other_commands_refuse_hashes() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "str", "x"], &["SADD", "set", "m"], &["HSET", "h", "f", "v"]]);
    for key in ["str", "set"] {
        for words in [
            &["HSET", key, "f", "v"][..],
            &["HSETNX", key, "f", "v"],
            &["HGET", key, "f"],
            &["HMGET", key, "f"],
            &["HMSET", key, "f", "v"],
            &["HDEL", key, "f"],
            &["HLEN", key],
            &["HEXISTS", key, "f"],
            &["HKEYS", key],
            &["HVALS", key],
            &["HGETALL", key],
            &["HINCRBY", key, "f", "1"],
            &["HINCRBYFLOAT", key, "f", "1"],
            &["HSTRLEN", key, "f"],
            &["HRANDFIELD", key],
            &["HRANDFIELD", key, "0"],
            &["HSCAN", key, "0"],
        ] {
            redis.check(words, error(WRONGTYPE));
        }
    }
    for words in [
        &["GET", "h"][..],
        &["APPEND", "h", "x"],
        &["INCR", "h"],
        &["SADD", "h", "m"],
        &["SCARD", "h"],
        &["SMEMBERS", "h"],
    ] {
        redis.check(words, error(WRONGTYPE));
    }
    redis.check(&["MGET", "h"], Frame::Array(vec![Frame::Null]));
}

#[test]
fn keyspace_commands_work_on_hashes() {
    let mut redis = Harness::new();
    redis.given(&[&["HSET", "h", "f", "v"]]);
    redis.check(&["TYPE", "h"], Frame::simple("hash"));
    redis.check(&["COPY", "h", "c"], int(1));
    redis.given(&[&["HSET", "c", "g", "w"]]);
    redis.check(&["HLEN", "h"], int(1));
    redis.check(&["HLEN", "c"], int(2));
    redis.check(&["RENAME", "c", "r"], Frame::ok());
    redis.check(&["HGET", "r", "g"], bulk("w"));
    redis.given(&[&["SET", "s", "x"]]);
    let Frame::Array(page) = redis.run(&["SCAN", "0", "TYPE", "hash", "COUNT", "100"]) else {
        panic!("SCAN replies an array");
    };
    assert_eq!(sorted_bulks(&page[1]), ["h", "r"]);
    redis.check(&["OBJECT", "ENCODING", "r"], bulk("listpack"));
    redis.check(&["PEXPIRE", "h", "10"], int(1));
    redis.now_ms += 10;
    redis.check(&["HGET", "h", "f"], Frame::Null);
    redis.check(&["HSET", "h", "x", "y"], int(1));
    redis.check(&["PTTL", "h"], int(-1));
    redis.check(&["DEL", "h", "r"], int(2));
}

#[test]
fn a_full_hscan_returns_every_field_present_throughout() {
    let mut redis = Harness::new();
    for index in 0..1000 {
        redis.given(&[&["HSET", "h", &format!("stable:{index}"), "v"]]);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_owned();
    let mut round = 0;
    loop {
        // Churn between pages: fields come and go while the scan runs.
        redis.given(&[&["HSET", "h", &format!("new:{round}"), "v"]]);
        redis.given(&[&["HDEL", "h", &format!("new:{}", round / 2)]]);
        round += 1;
        let reply = redis.run(&["HSCAN", "h", &cursor, "COUNT", "7"]);
        let Frame::Array(parts) = reply else { panic!("HSCAN replies an array") };
        let Frame::Bulk(next) = &parts[0] else { panic!("the cursor is a bulk string") };
        let Frame::Array(items) = &parts[1] else { panic!("the page is an array") };
        for pair in items.chunks(2) {
            let Frame::Bulk(field) = &pair[0] else { panic!("fields are bulk strings") };
            seen.insert(String::from_utf8(field.to_vec()).unwrap());
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    for index in 0..1000 {
        assert!(seen.contains(&format!("stable:{index}")), "stable:{index} was never returned");
    }
}

#[derive(Clone, Debug)]
enum HashOperation {
    Set(u8, u8),
    SetNx(u8, u8),
    Del(Vec<u8>),
    IncrBy(u8, i8),
}

fn hash_operation() -> impl Strategy<Value = HashOperation> {
    prop_oneof![
        (0..40u8, any::<u8>()).prop_map(|(field, value)| HashOperation::Set(field, value)),
        (0..40u8, any::<u8>()).prop_map(|(field, value)| HashOperation::SetNx(field, value)),
        prop::collection::vec(0..40u8, 1..4).prop_map(HashOperation::Del),
        (0..40u8, any::<i8>())
            .prop_map(|(field, increment)| HashOperation::IncrBy(field, increment)),
    ]
}

proptest! {
    /// Every reply and the final contents agree with a `BTreeMap` model; fields and values are
    /// numbers, so HINCRBY always applies, and the hash crosses from listpack to hashtable
    /// when a field's name is long.
    #[test]
    fn hashes_behave_like_a_map(operations in prop::collection::vec(hash_operation(), 1..200)) {
        let mut redis = Harness::new();
        let mut model: BTreeMap<String, i64> = BTreeMap::new();
        // Long field names push the hash past the listpack bound halfway through some runs.
        let name = |field: u8| {
            if field >= 30 {
                format!("{field}{}", "x".repeat(64))
            } else {
                field.to_string()
            }
        };
        for operation in operations {
            match operation {
                HashOperation::Set(field, value) => {
                    let reply = redis.run(&["HSET", "h", &name(field), &value.to_string()]);
                    let new = model.insert(name(field), i64::from(value)).is_none();
                    prop_assert_eq!(reply, Frame::Integer(i64::from(new)));
                }
                HashOperation::SetNx(field, value) => {
                    let reply = redis.run(&["HSETNX", "h", &name(field), &value.to_string()]);
                    let new = !model.contains_key(&name(field));
                    if new {
                        model.insert(name(field), i64::from(value));
                    }
                    prop_assert_eq!(reply, Frame::Integer(i64::from(new)));
                }
                HashOperation::Del(fields) => {
                    let mut words = vec!["HDEL".to_owned(), "h".to_owned()];
                    words.extend(fields.iter().map(|&field| name(field)));
                    let words: Vec<&str> = words.iter().map(String::as_str).collect();
                    let reply = redis.run(&words);
                    let removed =
                        words[2..].iter().filter(|field| model.remove(**field).is_some()).count();
                    prop_assert_eq!(reply, Frame::Integer(removed as i64));
                }
                HashOperation::IncrBy(field, increment) => {
                    let reply = redis.run(&["HINCRBY", "h", &name(field), &increment.to_string()]);
                    let value = model.entry(name(field)).or_insert(0);
                    *value += i64::from(increment);
                    prop_assert_eq!(reply, Frame::Integer(*value));
                }
            }
            prop_assert_eq!(redis.run(&["HLEN", "h"]), Frame::Integer(model.len() as i64));
        }
        let Frame::Map(pairs) = redis.run(&["HGETALL", "h"]) else {
            panic!("HGETALL replies a map")
        };
        let mut actual: Vec<(Frame, Frame)> = pairs;
        actual.sort_by_key(|(field, _)| format!("{field:?}"));
        let mut expected: Vec<(Frame, Frame)> = model
            .iter()
            .map(|(field, value)| {
                (Frame::Bulk(Bytes::from(field.clone())), Frame::bulk(value.to_string()))
            })
            .collect();
        expected.sort_by_key(|(field, _)| format!("{field:?}"));
        prop_assert_eq!(actual, expected);
        let exists = redis.run(&["EXISTS", "h"]);
        prop_assert_eq!(exists, Frame::Integer(i64::from(!model.is_empty())));
    }
}
