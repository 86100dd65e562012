//! SORT and SORT_RO through parse → apply / execute_read, with replies as redis-server 7.0.15
//! gave them for the same commands.

use bytes::Bytes;

use crate::resp::Frame;
use crate::state_machine::test_harness::{bulk, error, int, Harness};

fn bulks(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|item| bulk(item)).collect())
}

#[test]
fn numbers_sort_numerically_with_ties_broken_by_bytes() {
    let mut harness = Harness::new();
    harness.given(&[&["RPUSH", "l", "10", "9", "1e1", "-1", " 2", "010", ""]]);
    harness.check(&["SORT", "l"], bulks(&["-1", "", " 2", "9", "010", "10", "1e1"]));
    harness.check(&["SORT", "l", "DESC"], bulks(&["1e1", "10", "010", "9", " 2", "", "-1"]));
    harness.check(&["SORT_RO", "l", "LIMIT", "1", "2"], bulks(&["", " 2"]));
    harness.given(&[&["RPUSH", "l", "x"]]);
    harness.check(&["SORT", "l"], error("ERR One or more scores can't be converted into double"));
    harness.check(&["SORT", "l", "ALPHA"], bulks(&["", " 2", "-1", "010", "10", "1e1", "9", "x"]));
}

#[test]
fn weights_and_gets_come_from_strings_and_hash_fields() {
    let mut harness = Harness::new();
    harness.given(&[
        &["SADD", "s", "a", "b", "c"],
        &["SET", "w_a", "3"],
        &["SET", "w_b", "1"],
        &["HSET", "h_a", "f", "z"],
        &["HSET", "h_c", "f", "y"],
    ]);
    harness.check(&["SORT", "s", "BY", "w_*"], bulks(&["c", "b", "a"]));
    harness.check(&["SORT", "s", "BY", "h_*->f", "ALPHA"], bulks(&["b", "c", "a"]));
    let reply = harness.run(&["SORT", "s", "BY", "w_*", "GET", "#", "GET", "h_*->f", "GET", "k"]);
    let expected = vec![
        bulk("c"),
        bulk("y"),
        Frame::Null,
        bulk("b"),
        Frame::Null,
        Frame::Null,
        bulk("a"),
        bulk("z"),
        Frame::Null,
    ];
    assert_eq!(reply, Frame::Array(expected));
    harness.check(&["SORT", "s", "BY", "w_*", "GET", "h_*->f", "STORE", "d"], int(3));
    harness.check(&["LRANGE", "d", "0", "-1"], bulks(&["y", "", "z"]));
}

#[test]
fn unsorted_lists_and_sorted_sets_keep_their_order() {
    let mut harness = Harness::new();
    harness.given(&[&["RPUSH", "l", "c", "a", "b"], &["ZADD", "z", "1", "c", "2", "a", "3", "b"]]);
    for key in ["l", "z"] {
        harness.check(&["SORT", key, "BY", "nosort"], bulks(&["c", "a", "b"]));
        harness
            .check(&["SORT", key, "BY", "nosort", "DESC", "LIMIT", "1", "5"], bulks(&["a", "c"]));
        harness.check(&["SORT", key, "BY", "nosort", "LIMIT", "3", "1"], bulks(&[]));
    }
}

#[test]
fn store_replaces_the_destination_and_an_empty_result_deletes_it() {
    let mut harness = Harness::new();
    harness.given(&[&["SADD", "s", "b", "a"], &["SET", "d", "x", "EX", "100"]]);
    harness.check(&["SORT", "s", "BY", "nosort", "STORE", "d"], int(2));
    harness.check(&["LRANGE", "d", "0", "-1"], bulks(&["a", "b"]));
    harness.check(&["TTL", "d"], int(-1));
    harness.check(&["SORT", "missing", "STORE", "d"], int(0));
    harness.check(&["EXISTS", "d"], int(0));
}

#[test]
fn other_types_are_wrongtype_after_the_options_are_checked() {
    let mut harness = Harness::new();
    harness.given(&[&["SET", "s", "1"]]);
    harness.check(
        &["SORT", "s"],
        error("WRONGTYPE Operation against a key holding the wrong kind of value"),
    );
    harness.check(&["SORT", "s", "LIMIT", "1"], error("ERR syntax error"));
}

#[test]
fn patterns_are_read_as_c_strings() {
    let mut harness = Harness::new();
    harness.given(&[&["RPUSH", "l", "a"], &["SET", "k_a->", "v"], &["HSET", "k_a", "f\0g", "w"]]);
    harness.check(&["SORT", "l", "BY", "x", "GET", "k_*->"], bulks(&["v"]));
    let pattern = Bytes::from_static(b"k_*->f\0g");
    let arguments =
        ["SORT", "l", "BY", "x", "GET"].iter().map(|word| Bytes::from_static(word.as_bytes()));
    let reply = harness.run_bytes(arguments.chain([pattern]).collect());
    assert_eq!(reply, bulks(&["w"]));
}
