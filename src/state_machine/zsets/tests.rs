//! The sorted set family through parse → `StateMachine::apply` / `execute_read`, with every
//! reply as redis-server 7.0.15 gave it for the same commands, and a model test against a
//! `BTreeMap`.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use crate::resp::Frame;
use crate::state_machine::test_harness::{bulk, error, int, Harness};

/// What the sorted-set tests read besides replies.
trait ZsetHarness {
    fn encoding(&mut self, key: &str) -> &'static str;
}

impl ZsetHarness for Harness {
    fn encoding(&mut self, key: &str) -> &'static str {
        let view = self.machine.view();
        let entry = view.keyspace.db(0).get(&Bytes::copy_from_slice(key.as_bytes()), self.now_ms);
        entry.unwrap_or_else(|| panic!("{key} must exist")).value.encoding()
    }
}

fn double(value: f64) -> Frame {
    Frame::Double(value)
}

fn members(names: &[&str]) -> Frame {
    Frame::Array(names.iter().map(|name| bulk(name)).collect())
}

fn pairs(items: &[(&str, f64)]) -> Frame {
    Frame::Pairs(items.iter().map(|(name, score)| (bulk(name), double(*score))).collect())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_FLOAT: &str = "ERR value is not a valid float";

#[test]
fn zadd_options_and_their_conflicts_reply_as_redis() {
    let mut redis = Harness::new();
    redis.check(&["ZADD", "z", "1", "a", "2", "b"], int(2));
    redis.check(
        &["ZADD", "z", "XX", "NX", "1", "a"],
        error("ERR XX and NX options at the same time are not compatible"),
    );
    for conflict in [["GT", "LT"], ["NX", "GT"], ["LT", "NX"]] {
        redis.check(
            &["ZADD", "z", conflict[0], conflict[1], "1", "a"],
            error("ERR GT, LT, and/or NX options at the same time are not compatible"),
        );
    }
    redis.check(
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        error("ERR INCR option supports a single increment-element pair"),
    );
    redis.check(&["ZADD", "z", "1", "a", "2"], error(SYNTAX));
    redis.check(&["ZADD", "z", "foo", "1", "a"], error(SYNTAX));
    redis.check(&["ZADD", "z", "x", "a"], error(NOT_FLOAT));
    redis.check(&["ZADD", "z", "1e400", "a"], error(NOT_FLOAT));
    redis.check(&["ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"], int(2));
    redis.check(&["ZADD", "z", "GT", "CH", "0", "a", "5", "b"], int(1));
    redis.check(&["ZADD", "z", "LT", "CH", "0", "a", "5", "b"], int(1));
    redis.check(&["ZADD", "z", "XX", "9", "new"], int(0));
    redis.check(&["ZADD", "z", "GT", "INCR", "-1", "a"], Frame::Null);
    redis.check(&["ZADD", "z", "NX", "INCR", "1", "a"], Frame::Null);
    redis.check(&["ZADD", "z", "INCR", "1.5", "a"], double(1.5));
    // Each pair counts: d is added, then changed twice.
    redis.check(&["ZADD", "z", "CH", "1", "d", "2", "d", "3", "d"], int(3));
    redis.check(&["ZSCORE", "z", "d"], double(3.0));
    redis.check(&["ZADD", "missing", "XX", "1", "a"], int(0));
    redis.check(&["EXISTS", "missing"], int(0));
}

#[test]
fn nan_results_and_infinities_follow_redis() {
    let mut redis = Harness::new();
    redis.check(&["ZINCRBY", "z", "inf", "a"], double(f64::INFINITY));
    redis.check(&["ZINCRBY", "z", "-inf", "a"], error("ERR resulting score is not a number (NaN)"));
    redis.check(&["ZADD", "z", "nan", "a"], error(NOT_FLOAT));
    redis.check(&["ZINCRBY", "z", "0x10", "b"], double(16.0));
    redis.check(
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        pairs(&[("b", 16.0), ("a", f64::INFINITY)]),
    );
}

#[test]
fn negative_zero_is_zero_in_a_listpack_and_kept_in_a_skiplist() {
    let mut redis = Harness::new();
    redis.check(&["ZINCRBY", "small", "-0", "a"], double(-0.0));
    let Frame::Double(stored) = redis.run(&["ZSCORE", "small", "a"]) else { panic!() };
    assert!(stored.is_sign_positive(), "a listpack stores -0 as 0");
    let long = "x".repeat(70);
    redis.given(&[&["ZADD", "large", "1", &long], &["ZADD", "large", "-0", "a"]]);
    assert_eq!(redis.encoding("large"), "skiplist");
    let Frame::Double(stored) = redis.run(&["ZSCORE", "large", "a"]) else { panic!() };
    assert!(stored.is_sign_negative(), "a skiplist keeps -0");
    // A skiplist's ZSCAN order is its hash order; what matters here is the score's text.
    let Frame::Array(page) = redis.run(&["ZSCAN", "large", "0"]) else { panic!() };
    let Frame::Array(items) = &page[1] else { panic!() };
    let position = items.iter().position(|item| *item == bulk("a")).expect("a is scanned");
    assert_eq!(items[position + 1], bulk("-0"));
}

#[test]
fn ranges_by_rank_score_and_lex_with_limit_and_rev() {
    let mut redis = Harness::new();
    redis.given(&[&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]]);
    redis.check(&["ZRANGE", "z", "-3", "-2"], members(&["b", "c"]));
    redis.check(&["ZRANGE", "z", "5", "2"], members(&[]));
    redis.check(&["ZRANGE", "z", "0", "1", "REV", "WITHSCORES"], pairs(&[("d", 4.0), ("c", 3.0)]));
    redis.check(&["ZRANGE", "z", "(1", "(4", "BYSCORE"], members(&["b", "c"]));
    redis.check(
        &["ZRANGE", "z", "4", "1", "BYSCORE", "REV", "LIMIT", "1", "2"],
        members(&["c", "b"]),
    );
    redis.check(&["ZRANGE", "z", "1", "4", "BYSCORE", "REV"], members(&[]));
    redis.check(
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "-1"],
        members(&["b", "c", "d"]),
    );
    redis.check(&["ZREVRANGEBYSCORE", "z", "4", "1", "LIMIT", "-1", "2"], members(&[]));
    redis.check(&["ZRANGEBYSCORE", "z", "1", "4", "LIMIT", "0", "0"], members(&[]));
    redis.check(&["ZCOUNT", "z", "(1", "+inf"], int(3));
    redis.check(&["ZCOUNT", "z", "(", "2"], int(2));
    redis.given(&[&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"]]);
    redis.check(&["ZRANGEBYLEX", "l", "[b", "(d"], members(&["b", "c"]));
    redis.check(&["ZRANGEBYLEX", "l", "(a", "+", "LIMIT", "1", "2"], members(&["c", "d"]));
    redis.check(&["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "3"], members(&["d", "c", "b"]));
    redis.check(&["ZLEXCOUNT", "l", "-", "+"], int(4));
    redis.check(&["ZLEXCOUNT", "l", "+", "-"], int(0));
}

#[test]
fn range_errors_come_in_redis_order_with_redis_text() {
    let mut redis = Harness::new();
    redis.given(&[&["ZADD", "z", "1", "a"]]);
    redis.check(
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
        error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
    );
    redis.check(
        &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
        error("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
    );
    redis.check(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"], error(SYNTAX));
    redis.check(&["ZRANGE", "z", "0", "1", "REV", "REV"], error(SYNTAX));
    redis.check(&["ZRANGE", "z", "x", "1", "BYSCORE"], error("ERR min or max is not a float"));
    redis.check(
        &["ZRANGE", "z", "[a", "x", "BYLEX"],
        error("ERR min or max not valid string range item"),
    );
    redis.check(&["ZRANGE", "z", "0", "x"], error("ERR value is not an integer or out of range"));
    redis.check(&["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"], error(SYNTAX));
}

#[test]
fn pops_reply_flat_without_count_and_as_pairs_with_one() {
    let mut redis = Harness::new();
    redis.given(&[&["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"]]);
    redis.check(&["ZPOPMIN", "p"], Frame::Array(vec![bulk("a"), double(1.0)]));
    redis.check(&["ZPOPMAX", "p", "1"], pairs(&[("d", 4.0)]));
    redis.check(&["ZPOPMIN", "p", "0"], pairs(&[]));
    redis.check(&["ZPOPMIN", "p", "-1"], error("ERR value is out of range, must be positive"));
    redis.check(
        &["ZMPOP", "2", "nokey", "p", "MAX", "COUNT", "10"],
        Frame::Array(vec![
            bulk("p"),
            Frame::Array(vec![
                Frame::Array(vec![bulk("c"), double(3.0)]),
                Frame::Array(vec![bulk("b"), double(2.0)]),
            ]),
        ]),
    );
    redis.check(&["EXISTS", "p"], int(0));
    redis.check(&["ZMPOP", "1", "p", "MIN"], Frame::NullArray);
    redis.check(&["ZPOPMIN", "p"], Frame::Array(vec![]));
    redis.check(&["ZMPOP", "0", "p", "MIN"], error("ERR numkeys should be greater than 0"));
    redis.check(
        &["ZMPOP", "1", "p", "MIN", "COUNT", "0"],
        error("ERR count should be greater than 0"),
    );
    redis.check(&["ZMPOP", "1", "p", "MIN", "COUNT", "1", "COUNT", "2"], error(SYNTAX));
}

#[test]
fn set_algebra_weights_aggregates_and_stores() {
    let mut redis = Harness::new();
    redis.given(&[
        &["ZADD", "u1", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "u2", "10", "b", "20", "c", "30", "d"],
    ]);
    redis.check(
        &["ZUNION", "2", "u1", "u2", "WEIGHTS", "2", "3", "WITHSCORES"],
        pairs(&[("a", 2.0), ("b", 34.0), ("c", 66.0), ("d", 90.0)]),
    );
    redis.check(
        &["ZINTER", "2", "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES"],
        pairs(&[("b", 2.0), ("c", 3.0)]),
    );
    redis.check(&["ZDIFF", "2", "u1", "u2"], members(&["a"]));
    redis.check(&["ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"], int(1));
    redis.check(&["ZUNIONSTORE", "dst", "2", "u1", "u2"], int(4));
    redis.check(&["ZDIFFSTORE", "dst", "2", "u1", "u1"], int(0));
    redis.check(&["EXISTS", "dst"], int(0));
    redis.given(&[&["ZADD", "i1", "inf", "a"], &["ZADD", "i2", "-inf", "a"]]);
    redis.check(&["ZUNION", "2", "i1", "i2", "WITHSCORES"], pairs(&[("a", 0.0)]));
    redis.check(&["ZUNION", "1", "i1", "WEIGHTS", "0", "WITHSCORES"], pairs(&[("a", 0.0)]));
    redis.check(
        &["ZUNION", "0", "u1"],
        error("ERR at least 1 input key is needed for 'zunion' command"),
    );
    redis.check(&["ZUNION", "1", "u1", "WEIGHTS", "x"], error("ERR weight value is not a float"));
    redis.check(&["ZDIFF", "1", "u1", "WEIGHTS", "1"], error(SYNTAX));
    redis.check(&["ZINTERCARD", "1", "u1", "LIMIT", "-1"], error("ERR LIMIT can't be negative"));
}

#[test]
fn wrong_types_win_over_late_option_errors() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "x"], &["ZADD", "z", "1", "a"]]);
    for words in [
        &["ZADD", "s", "1", "a"][..],
        &["ZSCORE", "s", "a"],
        &["ZCARD", "s"],
        &["ZRANGE", "s", "0", "-1"],
        &["ZREM", "s", "a"],
        &["ZPOPMIN", "s"],
        &["ZRANDMEMBER", "s"],
        &["ZUNION", "2", "s", "z", "WEIGHTS", "x"],
        &["ZINTERCARD", "1", "s", "LIMIT", "-1"],
        &["ZSCAN", "s", "0", "COUNT", "0"],
        &["ZRANGESTORE", "d", "s", "0", "-1"],
    ] {
        redis.check(words, error(WRONGTYPE));
    }
    redis.check(&["ZADD", "s", "x", "a"], error(NOT_FLOAT));
    redis.check(&["GET", "z"], error(WRONGTYPE));
    redis.check(&["ZRANGESTORE", "s", "z", "0", "-1"], int(1));
    redis.check(&["TYPE", "s"], Frame::simple("zset"));
}

#[test]
fn encodings_follow_redis_and_store_results_are_reclassified() {
    let mut redis = Harness::new();
    let long = "x".repeat(65);
    redis.given(&[&["ZADD", "l2", "1", &long, "2", "b"], &["ZREM", "l2", &long]]);
    assert_eq!(redis.encoding("l2"), "skiplist");
    redis.given(&[
        &["ZUNIONSTORE", "u", "1", "l2"],
        &["ZRANGESTORE", "r", "l2", "0", "-1"],
        &["COPY", "l2", "c"],
    ]);
    assert_eq!(
        (redis.encoding("u"), redis.encoding("r"), redis.encoding("c")),
        ("listpack", "listpack", "skiplist")
    );
    redis.check(&["OBJECT", "ENCODING", "l2"], bulk("skiplist"));
}

#[test]
fn zscan_prints_listpack_integers_whole() {
    let mut redis = Harness::new();
    redis.given(&[&["ZADD", "z", "1e17", "a", "0.5", "b", "-9223372036854775808", "c"]]);
    redis.check(
        &["ZSCAN", "z", "0"],
        Frame::Array(vec![
            bulk("0"),
            members(&["c", "-9.2233720368547758e+18", "b", "0.5", "a", "100000000000000000"]),
        ]),
    );
    redis.check(&["ZSCAN", "z", "x"], error("ERR invalid cursor"));
}

#[test]
fn zrandmember_counts_follow_redis() {
    let mut redis = Harness::new();
    redis.given(&[&["ZADD", "z", "1", "a", "2", "b", "3", "c"]]);
    redis.check(&["ZRANDMEMBER", "z", "10"], members(&["c", "b", "a"]));
    redis.check(&["ZRANDMEMBER", "z", "0"], members(&[]));
    redis.check(&["ZRANDMEMBER", "nokey"], Frame::Null);
    redis.check(&["ZRANDMEMBER", "z", "1", "foo"], error(SYNTAX));
    redis.check(
        &["ZRANDMEMBER", "z", "-9223372036854775808"],
        error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    );
    redis.check(&["ZRANDMEMBER", "z", "-4611686018427387904"], error("ERR value is out of range"));
    let Frame::Array(picked) = redis.run(&["ZRANDMEMBER", "z", "-5"]) else { panic!() };
    assert_eq!(picked.len(), 5);
    let Frame::Array(picked) = redis.run(&["ZRANDMEMBER", "z", "2"]) else { panic!() };
    assert!(picked.len() == 2 && picked[0] != picked[1]);
}

#[derive(Clone, Debug)]
enum Step {
    Add(u8, i8),
    IncrBy(u8, i8),
    Rem(u8),
    PopMin(u8),
    RemRangeByScore(i8, i8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Step::Add(m, s)),
        2 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Step::IncrBy(m, s)),
        2 => any::<u8>().prop_map(Step::Rem),
        1 => (0u8..4).prop_map(Step::PopMin),
        1 => (any::<i8>(), any::<i8>()).prop_map(|(a, b)| Step::RemRangeByScore(a, b)),
    ]
}

/// The model's pairs in sorted set order.
fn ordered(model: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut pairs: Vec<(String, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    pairs.sort_by(|(a, sa), (b, sb)| sa.partial_cmp(sb).unwrap().then_with(|| a.cmp(b)));
    pairs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn commands_agree_with_a_btreemap_model(steps in proptest::collection::vec(step(), 1..60)) {
        let mut redis = Harness::new();
        let mut model: BTreeMap<String, f64> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Add(m, s) => {
                    let (member, score) = (format!("m{}", m % 30), f64::from(s / 8));
                    let added = i64::from(!model.contains_key(&member));
                    model.insert(member.clone(), score);
                    redis.check(&["ZADD", "z", &score.to_string(), &member], int(added));
                }
                Step::IncrBy(m, s) => {
                    let (member, increment) = (format!("m{}", m % 30), f64::from(s / 8));
                    let score = model.get(&member).copied().unwrap_or(0.0) + increment;
                    model.insert(member.clone(), score);
                    redis.check(&["ZINCRBY", "z", &increment.to_string(), &member], double(score));
                }
                Step::Rem(m) => {
                    let member = format!("m{}", m % 30);
                    let removed = i64::from(model.remove(&member).is_some());
                    redis.check(&["ZREM", "z", &member], int(removed));
                }
                Step::PopMin(count) => {
                    let popped: Vec<(String, f64)> = ordered(&model).into_iter().take(count as usize).collect();
                    for (member, _) in &popped {
                        model.remove(member);
                    }
                    let expected: Vec<(&str, f64)> = popped.iter().map(|(m, s)| (m.as_str(), *s)).collect();
                    redis.check(&["ZPOPMIN", "z", &count.to_string()], pairs(&expected));
                }
                Step::RemRangeByScore(a, b) => {
                    let (min, max) = (f64::from(a / 8), f64::from(b / 8));
                    let before = model.len();
                    model.retain(|_, score| *score < min || *score > max);
                    let removed = (before - model.len()) as i64;
                    redis.check(&["ZREMRANGEBYSCORE", "z", &min.to_string(), &max.to_string()], int(removed));
                }
            }
            let expected = ordered(&model);
            let expected_pairs: Vec<(&str, f64)> = expected.iter().map(|(m, s)| (m.as_str(), *s)).collect();
            redis.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], pairs(&expected_pairs));
            redis.check(&["ZCARD", "z"], int(model.len() as i64));
            for (rank, (member, _)) in expected.iter().enumerate() {
                redis.check(&["ZRANK", "z", member], int(rank as i64));
                redis.check(&["ZREVRANK", "z", member], int((expected.len() - 1 - rank) as i64));
            }
            let exists = i64::from(!model.is_empty());
            redis.check(&["EXISTS", "z"], int(exists));
        }
    }
}
