//! The list family through parse → `StateMachine::apply` / `execute_read`, with every reply as
//! redis-server 7.0.15 gave it for the same commands (RESP2 and RESP3 where they differ), and a
//! model test of random list operations against a `VecDeque`.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::command::{parse, Command};
use crate::resp::{encode, Frame, Protocol};
use crate::state_machine::execute_read;
use crate::state_machine::test_harness::{bulk, bulks, error, int, Harness};

/// What the list tests check besides replies.
trait ListHarness {
    fn check_wire(&mut self, words: &[&str], resp2: &str, resp3: &str);
    fn elements(&mut self, key: &str) -> Vec<String>;
    fn version(&mut self, key: &str) -> Option<u64>;
}

impl ListHarness for Harness {
    /// Runs a command and checks its reply's bytes in RESP2 and in RESP3.
    #[track_caller]
    fn check_wire(&mut self, words: &[&str], resp2: &str, resp3: &str) {
        let reply = self.run(words);
        for (protocol, expected) in [(Protocol::Resp2, resp2), (Protocol::Resp3, resp3)] {
            let mut out = BytesMut::new();
            encode(&reply, protocol, &mut out);
            let wire = String::from_utf8_lossy(&out);
            assert_eq!(wire, expected, "{words:?} in {protocol:?}");
        }
    }

    /// The whole list at `key`, as LRANGE 0 -1 gives it.
    fn elements(&mut self, key: &str) -> Vec<String> {
        match self.run(&["LRANGE", key, "0", "-1"]) {
            Frame::Array(items) => items.iter().map(text).collect(),
            other => panic!("LRANGE {key} gave {other:?}"),
        }
    }

    /// The version WATCH compares for `key`: the index of the entry that last changed it.
    fn version(&mut self, key: &str) -> Option<u64> {
        let view = self.machine.view();
        let key = Bytes::copy_from_slice(key.as_bytes());
        view.keyspace.db(0).get(&key, self.now_ms).map(|entry| entry.version())
    }
}

fn text(frame: &Frame) -> String {
    match frame {
        Frame::Bulk(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn ints(values: &[i64]) -> Frame {
    Frame::Array(values.iter().map(|value| int(*value)).collect())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const RANK_ZERO: &str = concat!(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... ",
    "or use negative to start from the end of the list",
);

#[test]
fn pushes_build_the_list_in_order_and_reply_with_the_length() {
    let mut redis = Harness::new();
    redis.check(&["LPUSH", "l", "a", "b", "c"], int(3));
    redis.check(&["RPUSH", "l", "d", "e"], int(5));
    assert_eq!(redis.elements("l"), ["c", "b", "a", "d", "e"]);
    redis.check(&["LPUSHX", "missing", "a"], int(0));
    redis.check(&["RPUSHX", "missing", "a", "b"], int(0));
    redis.check(&["EXISTS", "missing"], int(0));
    redis.check(&["LPUSHX", "l", "x", "y"], int(7));
    redis.check(&["RPUSHX", "l", "z"], int(8));
    assert_eq!(redis.elements("l"), ["y", "x", "c", "b", "a", "d", "e", "z"]);
    redis.check(&["LPUSH", "l"], error("ERR wrong number of arguments for 'lpush' command"));
}

#[test]
fn pop_without_count_replies_one_element_or_nil() {
    let mut redis = Harness::new();
    redis.check_wire(&["LPOP", "missing"], "$-1\r\n", "_\r\n");
    redis.given(&[&["RPUSH", "l", "a", "b", "c"]]);
    redis.check(&["LPOP", "l"], bulk("a"));
    redis.check(&["RPOP", "l"], bulk("c"));
    redis.check(&["RPOP", "l"], bulk("b"));
    redis.check(&["EXISTS", "l"], int(0));
}

#[test]
fn pop_with_count_follows_redis_null_rules() {
    let mut redis = Harness::new();
    redis.check_wire(&["LPOP", "missing", "2"], "*-1\r\n", "_\r\n");
    redis.check_wire(&["RPOP", "missing", "0"], "*-1\r\n", "_\r\n");
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "d"]]);
    redis.check_wire(&["LPOP", "l", "0"], "*0\r\n", "*0\r\n");
    redis.check(&["LPOP", "l", "1"], bulks(&["a"]));
    redis.check(&["RPOP", "l", "2"], bulks(&["d", "c"]));
    redis.check(&["LPOP", "l", "9223372036854775807"], bulks(&["b"]));
    redis.check(&["EXISTS", "l"], int(0));
    let positive = error("ERR value is out of range, must be positive");
    redis.check(&["LPOP", "l", "-1"], positive.clone());
    redis.check(&["RPOP", "l", "x"], positive.clone());
    redis
        .check(&["LPOP", "l", "1", "2"], error("ERR wrong number of arguments for 'lpop' command"));
}

#[test]
fn lrange_clamps_and_accepts_negative_indexes() {
    let mut redis = Harness::new();
    redis.check(&["LRANGE", "missing", "0", "-1"], bulks(&[]));
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "d", "e"]]);
    redis.check(&["LRANGE", "l", "-100", "100"], bulks(&["a", "b", "c", "d", "e"]));
    redis.check(&["LRANGE", "l", "-2", "-1"], bulks(&["d", "e"]));
    redis.check(&["LRANGE", "l", "1", "-2"], bulks(&["b", "c", "d"]));
    redis.check(&["LRANGE", "l", "5", "2"], bulks(&[]));
    redis.check(&["LRANGE", "l", "-2", "-3"], bulks(&[]));
    redis.check(&["LRANGE", "l", "10", "20"], bulks(&[]));
    redis.check(&["LRANGE", "l", "-9223372036854775808", "-9223372036854775808"], bulks(&[]));
    redis.check(&["LRANGE", "l", "x", "1"], error(NOT_INTEGER));
}

#[test]
fn lindex_and_llen_read_without_changing() {
    let mut redis = Harness::new();
    redis.check(&["LLEN", "missing"], int(0));
    redis.check_wire(&["LINDEX", "missing", "0"], "$-1\r\n", "_\r\n");
    redis.check(&["LINDEX", "missing", "x"], Frame::Null);
    redis.given(&[&["RPUSH", "l", "a", "b", "c"]]);
    redis.check(&["LLEN", "l"], int(3));
    redis.check(&["LINDEX", "l", "0"], bulk("a"));
    redis.check(&["LINDEX", "l", "-1"], bulk("c"));
    redis.check(&["LINDEX", "l", "-3"], bulk("a"));
    redis.check(&["LINDEX", "l", "-4"], Frame::Null);
    redis.check(&["LINDEX", "l", "3"], Frame::Null);
    redis.check(&["LINDEX", "l", "-9223372036854775808"], Frame::Null);
    redis.check(&["LINDEX", "l", "x"], error(NOT_INTEGER));
}

#[test]
fn lset_checks_key_then_type_then_index() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "v"], &["RPUSH", "l", "a", "b", "c"]]);
    redis.check(&["LSET", "missing", "x", "v"], error("ERR no such key"));
    redis.check(&["LSET", "s", "x", "v"], error(WRONGTYPE));
    redis.check(&["LSET", "l", "x", "v"], error(NOT_INTEGER));
    redis.check(&["LSET", "l", "3", "v"], error("ERR index out of range"));
    redis.check(&["LSET", "l", "-9223372036854775808", "v"], error("ERR index out of range"));
    redis.check(&["LSET", "l", "0", "A"], Frame::ok());
    redis.check(&["LSET", "l", "-1", "C"], Frame::ok());
    assert_eq!(redis.elements("l"), ["A", "b", "C"]);
}

#[test]
fn lrem_removes_from_the_head_the_tail_or_everywhere() {
    let mut redis = Harness::new();
    redis.check(&["LREM", "missing", "0", "a"], int(0));
    redis.given(&[&["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"]]);
    redis.check(&["LREM", "l", "2", "a"], int(2));
    assert_eq!(redis.elements("l"), ["b", "c", "a", "b", "a"]);
    redis.check(&["LREM", "l", "-1", "a"], int(1));
    assert_eq!(redis.elements("l"), ["b", "c", "a", "b"]);
    redis.check(&["LREM", "l", "0", "b"], int(2));
    redis.check(&["LREM", "l", "0", "zz"], int(0));
    redis.check(&["LREM", "l", "-9223372036854775808", "a"], int(1));
    redis.check(&["LREM", "l", "1", "c"], int(1));
    redis.check(&["EXISTS", "l"], int(0));
    redis.check(&["LREM", "l", "x", "a"], error(NOT_INTEGER));
}

#[test]
fn ltrim_keeps_a_range_and_deletes_an_emptied_list() {
    let mut redis = Harness::new();
    redis.check(&["LTRIM", "missing", "0", "1"], Frame::ok());
    redis.check(&["EXISTS", "missing"], int(0));
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "d", "e"]]);
    redis.check(&["LTRIM", "l", "-9223372036854775808", "9223372036854775807"], Frame::ok());
    assert_eq!(redis.elements("l"), ["a", "b", "c", "d", "e"]);
    redis.check(&["LTRIM", "l", "1", "-2"], Frame::ok());
    assert_eq!(redis.elements("l"), ["b", "c", "d"]);
    redis.check(&["LTRIM", "l", "5", "10"], Frame::ok());
    redis.check(&["EXISTS", "l"], int(0));
    redis.check(&["LTRIM", "l", "x", "1"], error(NOT_INTEGER));
}

#[test]
fn linsert_finds_the_first_pivot() {
    let mut redis = Harness::new();
    redis.check(&["LINSERT", "missing", "BEFORE", "a", "x"], int(0));
    redis.check(&["EXISTS", "missing"], int(0));
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "b"]]);
    redis.check(&["LINSERT", "l", "before", "b", "X"], int(5));
    redis.check(&["LINSERT", "l", "AFTER", "b", "Y"], int(6));
    assert_eq!(redis.elements("l"), ["a", "X", "b", "Y", "c", "b"]);
    redis.check(&["LINSERT", "l", "AFTER", "b", "Y"], int(7));
    redis.check(&["LINSERT", "l", "BEFORE", "zz", "x"], int(-1));
    redis.check(&["LINSERT", "l", "MIDDLE", "a", "x"], error(SYNTAX));
    redis.check(&["LINSERT", "missing", "MIDDLE", "a", "x"], error(SYNTAX));
}

#[test]
fn lpos_reports_positions_from_the_head_whichever_end_it_searches() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"]]);
    redis.check(&["LPOS", "l", "a"], int(0));
    redis.check(&["LPOS", "l", "a", "RANK", "2"], int(3));
    redis.check(&["LPOS", "l", "a", "RANK", "-1"], int(6));
    redis.check(&["LPOS", "l", "a", "RANK", "-2", "COUNT", "0"], ints(&[3, 0]));
    redis.check(&["LPOS", "l", "a", "COUNT", "0"], ints(&[0, 3, 6]));
    redis.check(&["LPOS", "l", "a", "COUNT", "2"], ints(&[0, 3]));
    redis.check(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"], ints(&[0, 3]));
    redis.check(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "0"], ints(&[0, 3, 6]));
    redis.check(&["LPOS", "l", "a", "RANK", "-1", "COUNT", "2", "MAXLEN", "3"], ints(&[6]));
    redis.check(&["LPOS", "l", "a", "RANK", "-2", "COUNT", "1", "MAXLEN", "2"], ints(&[]));
    redis.check(&["LPOS", "l", "a", "RANK", "1", "rank", "3"], int(6));
    redis.check(&["LPOS", "l", "a", "RANK", "9223372036854775807"], Frame::Null);
    redis.check(&["LPOS", "l", "a", "RANK", "100", "COUNT", "1"], ints(&[]));
    redis.check_wire(&["LPOS", "l", "z"], "$-1\r\n", "_\r\n");
    redis.check(&["LPOS", "l", "z", "COUNT", "1"], ints(&[]));
    redis.check(&["LPOS", "missing", "a"], Frame::Null);
    redis.check(&["LPOS", "missing", "a", "COUNT", "2"], ints(&[]));
}

#[test]
fn lpos_with_the_lowest_rank_behaves_as_redis_does() {
    // Redis cannot negate i64::MIN: the search runs from the tail and COUNT never stops it.
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"]]);
    redis.check(&["LPOS", "l", "a", "RANK", "-9223372036854775808"], int(6));
    redis
        .check(&["LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", "1"], ints(&[6, 3, 0]));
    redis.check(&["LPOS", "l", "a", "RANK", "-9223372036854775807", "COUNT", "1"], ints(&[]));
}

#[test]
fn lpos_option_errors_come_before_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "v"]]);
    redis.check(&["LPOS", "s", "a", "RANK", "0"], error(RANK_ZERO));
    redis.check(&["LPOS", "missing", "a", "RANK", "0"], error(RANK_ZERO));
    redis.check(&["LPOS", "s", "a", "BOGUS"], error(SYNTAX));
    redis.check(&["LPOS", "s", "a", "COUNT", "-1"], error("ERR COUNT can't be negative"));
    redis.check(&["LPOS", "s", "a", "MAXLEN", "x"], error("ERR MAXLEN can't be negative"));
    redis.check(&["LPOS", "s", "a", "RANK", "x"], error(NOT_INTEGER));
    redis.check(&["LPOS", "s", "a", "COUNT"], error(SYNTAX));
    redis.check(&["LPOS", "s", "a"], error(WRONGTYPE));
}

#[test]
fn lmove_rotates_a_list_onto_itself() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b", "c"]]);
    redis.check(&["LMOVE", "l", "l", "LEFT", "RIGHT"], bulk("a"));
    assert_eq!(redis.elements("l"), ["b", "c", "a"]);
    redis.check(&["LMOVE", "l", "l", "RIGHT", "LEFT"], bulk("a"));
    assert_eq!(redis.elements("l"), ["a", "b", "c"]);
    redis.check(&["LMOVE", "l", "l", "left", "left"], bulk("a"));
    assert_eq!(redis.elements("l"), ["a", "b", "c"]);
    redis.given(&[&["RPUSH", "one", "x"]]);
    redis.check(&["RPOPLPUSH", "one", "one"], bulk("x"));
    assert_eq!(redis.elements("one"), ["x"]);
}

#[test]
fn lmove_moves_between_lists_and_deletes_an_emptied_source() {
    let mut redis = Harness::new();
    redis.check_wire(&["LMOVE", "missing", "d", "LEFT", "LEFT"], "$-1\r\n", "_\r\n");
    redis.check(&["EXISTS", "d"], int(0));
    redis.given(&[&["RPUSH", "s", "a", "b"], &["RPUSH", "d", "x"]]);
    redis.check(&["LMOVE", "s", "d", "RIGHT", "RIGHT"], bulk("b"));
    redis.check(&["RPOPLPUSH", "s", "new"], bulk("a"));
    assert_eq!(redis.elements("d"), ["x", "b"]);
    assert_eq!(redis.elements("new"), ["a"]);
    redis.check(&["EXISTS", "s"], int(0));
    redis.check(&["LMOVE", "d", "new", "MIDDLE", "LEFT"], error(SYNTAX));
}

#[test]
fn rpoplpush_onto_a_wrong_type_destination_changes_nothing() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b"], &["SET", "s", "v"]]);
    let version = redis.version("l");
    redis.check(&["RPOPLPUSH", "l", "s"], error(WRONGTYPE));
    redis.check(&["LMOVE", "l", "s", "LEFT", "LEFT"], error(WRONGTYPE));
    assert_eq!(redis.elements("l"), ["a", "b"]);
    assert_eq!(redis.version("l"), version, "a refused move must not look like a change");
    redis.check(&["GET", "s"], bulk("v"));
    // A missing source is nil before the destination's type is looked at.
    redis.check(&["RPOPLPUSH", "missing", "s"], Frame::Null);
    redis.check(&["RPOPLPUSH", "s", "l"], error(WRONGTYPE));
    redis.check(&["LMOVE", "s", "s", "LEFT", "LEFT"], error(WRONGTYPE));
}

#[test]
fn lmpop_pops_from_the_first_list_it_finds() {
    let mut redis = Harness::new();
    redis.check_wire(&["LMPOP", "1", "missing", "LEFT"], "*-1\r\n", "_\r\n");
    redis.given(&[&["RPUSH", "l", "a", "b", "c"], &["SET", "s", "v"]]);
    let popped = Frame::Array(vec![bulk("l"), bulks(&["c", "b"])]);
    redis.check(&["LMPOP", "2", "missing", "l", "RIGHT", "COUNT", "2"], popped);
    // A list before the string wins; the string is never looked at.
    let popped = Frame::Array(vec![bulk("l"), bulks(&["a"])]);
    redis.check(&["LMPOP", "2", "l", "s", "LEFT", "COUNT", "5"], popped);
    redis.check(&["EXISTS", "l"], int(0));
    redis.check(&["LMPOP", "2", "missing", "s", "LEFT"], error(WRONGTYPE));
    redis.check(&["LMPOP", "0", "l", "LEFT"], error("ERR numkeys should be greater than 0"));
    redis.check(&["LMPOP", "2", "l", "LEFT"], error(SYNTAX));
    redis.check(
        &["LMPOP", "1", "l", "LEFT", "COUNT", "0"],
        error("ERR count should be greater than 0"),
    );
    redis.check(&["LMPOP", "1", "l"], error("ERR wrong number of arguments for 'lmpop' command"));
}

#[test]
fn every_list_command_refuses_a_string_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "v"]]);
    let commands: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "0"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "a"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
    ];
    let version = redis.version("s");
    for words in commands {
        redis.check(words, error(WRONGTYPE));
    }
    redis.check(&["GET", "s"], bulk("v"));
    assert_eq!(redis.version("s"), version, "WRONGTYPE must not look like a change to WATCH");
}

#[test]
fn string_commands_refuse_a_list_key() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a"]]);
    for words in [
        &["GET", "l"][..],
        &["APPEND", "l", "x"],
        &["INCR", "l"],
        &["STRLEN", "l"],
        &["GETRANGE", "l", "0", "1"],
        &["SETRANGE", "l", "0", "x"],
        &["GETDEL", "l"],
        &["SET", "l", "x", "GET"],
    ] {
        redis.check(words, error(WRONGTYPE));
    }
    redis.check(&["MGET", "l"], Frame::Array(vec![Frame::Null]));
    redis.check(&["SET", "l", "x"], Frame::ok());
    redis.check(&["TYPE", "l"], Frame::simple("string"));
}

#[test]
fn keyspace_commands_see_lists() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b"], &["SET", "s", "v"]]);
    redis.check(&["TYPE", "l"], Frame::simple("list"));
    redis.check(&["OBJECT", "ENCODING", "l"], bulk("quicklist"));
    let page = redis.run(&["SCAN", "0", "TYPE", "list", "COUNT", "100"]);
    assert_eq!(page, Frame::Array(vec![bulk("0"), bulks(&["l"])]));
    redis.check(&["COPY", "l", "c"], int(1));
    redis.check(&["RPUSH", "c", "z"], int(3));
    assert_eq!(redis.elements("l"), ["a", "b"], "a copy is independent of its source");
    redis.check(&["RENAME", "c", "r"], Frame::ok());
    assert_eq!(redis.elements("r"), ["a", "b", "z"]);
    redis.check(&["DEL", "r", "l"], int(2));
    redis.check(&["EXISTS", "l", "r"], int(0));
}

#[test]
fn lists_keep_their_ttl_when_changed_and_expire_with_it() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b", "c"], &["PEXPIRE", "l", "1000"]]);
    redis.given(&[
        &["LPUSH", "l", "x"],
        &["LSET", "l", "0", "y"],
        &["RPOP", "l"],
        &["LTRIM", "l", "0", "5"],
    ]);
    redis.check(&["PTTL", "l"], int(1000));
    redis.now_ms += 1000;
    redis.check(&["LLEN", "l"], int(0));
    redis.check(&["LPUSHX", "l", "a"], int(0));
    redis.check(&["RPUSH", "l", "fresh"], int(1));
    redis.check(&["PTTL", "l"], int(-1));
}

#[test]
fn only_real_changes_bump_the_version_watch_compares() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b"]]);
    let version = redis.version("l");
    redis.given(&[
        &["LREM", "l", "0", "zz"],
        &["LINSERT", "l", "BEFORE", "zz", "x"],
        &["LPOP", "l", "0"],
        &["LPOS", "l", "a"],
    ]);
    assert_eq!(redis.version("l"), version);
    redis.given(&[&["LSET", "l", "0", "c"]]);
    assert_ne!(redis.version("l"), version);
}

#[test]
fn a_published_view_keeps_the_list_it_saw() {
    let mut redis = Harness::new();
    redis.given(&[&["RPUSH", "l", "a", "b", "c"]]);
    let view = redis.machine.view();
    redis.given(&[&["LPOP", "l"], &["RPUSH", "l", "d"], &["LSET", "l", "0", "x"]]);
    let arguments = ["LRANGE", "l", "0", "-1"].map(|word| Bytes::from_static(word.as_bytes()));
    let Ok(Command::Read(read)) = parse(arguments.to_vec()).unwrap().command else {
        panic!("LRANGE must parse as a read");
    };
    let reply = execute_read(&view.keyspace, 0, redis.now_ms, &read);
    assert_eq!(reply, bulks(&["a", "b", "c"]));
    assert_eq!(redis.elements("l"), ["x", "c", "d"]);
}

/// One operation of the model test, on one of two keys.
#[derive(Clone, Debug)]
enum Operation {
    Push { key: usize, left: bool, only_if_exists: bool, elements: Vec<u8> },
    Pop { key: usize, left: bool, count: Option<u8> },
    Range { key: usize, start: i8, end: i8 },
    Index { key: usize, index: i8 },
    Set { key: usize, index: i8, element: u8 },
    Remove { key: usize, count: i8, element: u8 },
    Trim { key: usize, start: i8, end: i8 },
    Insert { key: usize, before: bool, pivot: u8, element: u8 },
    Position { key: usize, element: u8, rank: i8, count: Option<u8>, compared_max: u8 },
    Move { source: usize, destination: usize, from_left: bool, to_left: bool },
    Len { key: usize },
}

const MODEL_KEYS: [&str; 2] = ["a", "b"];

fn operation() -> impl Strategy<Value = Operation> {
    let key = || 0..MODEL_KEYS.len();
    // Few distinct elements, so that LREM, LINSERT and LPOS find matches.
    let element = || 0u8..4;
    let index = || -8i8..8;
    let push = (key(), any::<bool>(), any::<bool>(), prop::collection::vec(element(), 1..5))
        .prop_map(|(key, left, only_if_exists, elements)| Operation::Push {
            key,
            left,
            only_if_exists,
            elements,
        });
    let pop = (key(), any::<bool>(), prop::option::of(0u8..4))
        .prop_map(|(key, left, count)| Operation::Pop { key, left, count });
    let range = (key(), index(), index()).prop_map(|(key, start, end)| Operation::Range {
        key,
        start,
        end,
    });
    let get = (key(), index()).prop_map(|(key, index)| Operation::Index { key, index });
    let set = (key(), index(), element()).prop_map(|(key, index, element)| Operation::Set {
        key,
        index,
        element,
    });
    let remove = (key(), -3i8..3, element()).prop_map(|(key, count, element)| Operation::Remove {
        key,
        count,
        element,
    });
    let trim =
        (key(), index(), index()).prop_map(|(key, start, end)| Operation::Trim { key, start, end });
    let insert =
        (key(), any::<bool>(), element(), element()).prop_map(|(key, before, pivot, element)| {
            Operation::Insert { key, before, pivot, element }
        });
    let rank = prop_oneof![-3i8..0, 1i8..4];
    let position = (key(), element(), rank, prop::option::of(0u8..3), 0u8..6).prop_map(
        |(key, element, rank, count, compared_max)| Operation::Position {
            key,
            element,
            rank,
            count,
            compared_max,
        },
    );
    let moving = (key(), key(), any::<bool>(), any::<bool>()).prop_map(
        |(source, destination, from_left, to_left)| Operation::Move {
            source,
            destination,
            from_left,
            to_left,
        },
    );
    let length = key().prop_map(|key| Operation::Len { key });
    prop_oneof![
        4 => push,
        2 => pop,
        2 => range,
        1 => get,
        1 => set,
        1 => remove,
        1 => trim,
        1 => insert,
        1 => position,
        2 => moving,
        1 => length,
    ]
}

/// The reference: each key is a `VecDeque`, absent when empty.
#[derive(Default)]
struct Model {
    lists: [VecDeque<String>; 2],
}

/// A Redis index into a list of `length`, if it is inside it.
fn model_position(length: usize, index: i64) -> Option<usize> {
    let position = if index < 0 { length as i64 + index } else { index };
    (0..length as i64).contains(&position).then_some(position as usize)
}

/// A Redis range over a list of `length`, as positions.
fn model_range(length: usize, start: i64, end: i64) -> std::ops::Range<usize> {
    let length = length as i64;
    let start = if start < 0 { length + start } else { start }.max(0);
    let end = if end < 0 { length + end } else { end }.min(length - 1);
    if start > end || start >= length {
        0..0
    } else {
        start as usize..end as usize + 1
    }
}

fn side(left: bool) -> &'static str {
    if left {
        "LEFT"
    } else {
        "RIGHT"
    }
}

impl Model {
    /// The command for `operation` and the reply the model predicts, after applying it.
    fn step(&mut self, operation: &Operation) -> (Vec<String>, Frame) {
        let name = |key: &usize| MODEL_KEYS[*key].to_string();
        match operation {
            Operation::Push { key, left, only_if_exists, elements } => {
                let command = match (left, only_if_exists) {
                    (true, false) => "LPUSH",
                    (false, false) => "RPUSH",
                    (true, true) => "LPUSHX",
                    (false, true) => "RPUSHX",
                };
                let mut words = vec![command.to_string(), name(key)];
                words.extend(elements.iter().map(u8::to_string));
                let list = &mut self.lists[*key];
                if *only_if_exists && list.is_empty() {
                    return (words, int(0));
                }
                for element in elements {
                    if *left {
                        list.push_front(element.to_string());
                    } else {
                        list.push_back(element.to_string());
                    }
                }
                (words, int(list.len() as i64))
            }
            Operation::Pop { key, left, count } => {
                let mut words = vec![if *left { "LPOP" } else { "RPOP" }.to_string(), name(key)];
                words.extend(count.map(|count| count.to_string()));
                let list = &mut self.lists[*key];
                let exists = !list.is_empty();
                let taken = (count.unwrap_or(1) as usize).min(list.len());
                let popped: Vec<Frame> = (0..taken)
                    .map(|_| if *left { list.pop_front() } else { list.pop_back() })
                    .map(|element| bulk(&element.unwrap()))
                    .collect();
                let reply = match (count, exists) {
                    (None, false) => Frame::Null,
                    (None, true) => popped.into_iter().next().unwrap(),
                    (Some(_), false) => Frame::NullArray,
                    (Some(_), true) => Frame::Array(popped),
                };
                (words, reply)
            }
            Operation::Range { key, start, end } => {
                let words = vec!["LRANGE".into(), name(key), start.to_string(), end.to_string()];
                let list = &self.lists[*key];
                let range = model_range(list.len(), i64::from(*start), i64::from(*end));
                (words, Frame::Array(list.range(range).map(|element| bulk(element)).collect()))
            }
            Operation::Index { key, index } => {
                let words = vec!["LINDEX".into(), name(key), index.to_string()];
                let list = &self.lists[*key];
                let found =
                    model_position(list.len(), i64::from(*index)).map(|position| &list[position]);
                (words, found.map_or(Frame::Null, |element| bulk(element)))
            }
            Operation::Set { key, index, element } => {
                let words = vec!["LSET".into(), name(key), index.to_string(), element.to_string()];
                let list = &mut self.lists[*key];
                if list.is_empty() {
                    return (words, error("ERR no such key"));
                }
                let Some(position) = model_position(list.len(), i64::from(*index)) else {
                    return (words, error("ERR index out of range"));
                };
                list[position] = element.to_string();
                (words, Frame::ok())
            }
            Operation::Remove { key, count, element } => {
                let words = vec!["LREM".into(), name(key), count.to_string(), element.to_string()];
                let list = &mut self.lists[*key];
                let element = element.to_string();
                let limit = if *count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                let mut removed = 0;
                let mut kept: VecDeque<String> = VecDeque::new();
                let mut elements: Vec<String> = list.drain(..).collect();
                if *count < 0 {
                    elements.reverse();
                }
                for candidate in elements {
                    if candidate == element && removed < limit {
                        removed += 1;
                    } else if *count < 0 {
                        kept.push_front(candidate);
                    } else {
                        kept.push_back(candidate);
                    }
                }
                *list = kept;
                (words, int(removed as i64))
            }
            Operation::Trim { key, start, end } => {
                let words = vec!["LTRIM".into(), name(key), start.to_string(), end.to_string()];
                let list = &mut self.lists[*key];
                let range = model_range(list.len(), i64::from(*start), i64::from(*end));
                *list = list.range(range).cloned().collect();
                (words, Frame::ok())
            }
            Operation::Insert { key, before, pivot, element } => {
                let place = if *before { "BEFORE" } else { "AFTER" };
                let words = vec![
                    "LINSERT".into(),
                    name(key),
                    place.into(),
                    pivot.to_string(),
                    element.to_string(),
                ];
                let list = &mut self.lists[*key];
                if list.is_empty() {
                    return (words, int(0));
                }
                let Some(position) =
                    list.iter().position(|candidate| *candidate == pivot.to_string())
                else {
                    return (words, int(-1));
                };
                list.insert(if *before { position } else { position + 1 }, element.to_string());
                (words, int(list.len() as i64))
            }
            Operation::Position { key, element, rank, count, compared_max } => {
                let mut words = vec![
                    "LPOS".into(),
                    name(key),
                    element.to_string(),
                    "RANK".into(),
                    rank.to_string(),
                ];
                if let Some(count) = count {
                    words.extend(["COUNT".into(), count.to_string()]);
                }
                words.extend(["MAXLEN".into(), compared_max.to_string()]);
                let list = &self.lists[*key];
                let compared = if *compared_max == 0 {
                    list.len()
                } else {
                    (*compared_max as usize).min(list.len())
                };
                let positions: Vec<usize> = if *rank > 0 {
                    (0..compared).collect()
                } else {
                    (0..list.len()).rev().take(compared).collect()
                };
                let matches =
                    positions.into_iter().filter(|position| list[*position] == element.to_string());
                let mut found = matches.skip(rank.unsigned_abs() as usize - 1);
                let reply = match count {
                    None => found.next().map_or(Frame::Null, |position| int(position as i64)),
                    Some(0) => Frame::Array(found.map(|position| int(position as i64)).collect()),
                    Some(count) => Frame::Array(
                        found.take(*count as usize).map(|position| int(position as i64)).collect(),
                    ),
                };
                (words, reply)
            }
            Operation::Move { source, destination, from_left, to_left } => {
                let words = vec![
                    "LMOVE".into(),
                    name(source),
                    name(destination),
                    side(*from_left).into(),
                    side(*to_left).into(),
                ];
                let popped = if *from_left {
                    self.lists[*source].pop_front()
                } else {
                    self.lists[*source].pop_back()
                };
                let Some(element) = popped else {
                    return (words, Frame::Null);
                };
                let target = &mut self.lists[*destination];
                if *to_left {
                    target.push_front(element.clone());
                } else {
                    target.push_back(element.clone());
                }
                (words, bulk(&element))
            }
            Operation::Len { key } => {
                (vec!["LLEN".into(), name(key)], int(self.lists[*key].len() as i64))
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every reply matches the model, and a key exists exactly when its model list is not
    /// empty (a list that empties is deleted).
    #[test]
    fn random_list_operations_match_a_vecdeque_model(
        operations in prop::collection::vec(operation(), 1..60)
    ) {
        let mut redis = Harness::new();
        let mut model = Model::default();
        for operation in &operations {
            let (words, expected) = model.step(operation);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let reply = redis.run(&words);
            prop_assert_eq!(&reply, &expected, "{:?}", words);
            for (key, list) in MODEL_KEYS.iter().zip(&model.lists) {
                let exists = int(i64::from(!list.is_empty()));
                prop_assert_eq!(redis.run(&["EXISTS", key]), exists, "{}", key);
            }
        }
        for (key, list) in MODEL_KEYS.iter().zip(&model.lists) {
            prop_assert_eq!(redis.elements(key), list.iter().cloned().collect::<Vec<_>>());
        }
    }
}
