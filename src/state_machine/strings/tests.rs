//! The string family through parse → `StateMachine::apply` / `execute_read`, with every reply
//! as redis-server 7.0.15 gave it for the same commands.
//!
//! WRONGTYPE between strings and other types is tested with those types (string commands on a
//! list: `state_machine/lists/tests.rs`).

use bytes::Bytes;

use crate::resp::Frame;
use crate::state_machine::test_harness::{bulk, error, int, Harness, START_MS};

/// What the string tests read besides replies.
trait StringHarness {
    fn encoding(&mut self, key: &str) -> &'static str;
    fn pttl(&mut self, key: &str) -> i64;
    fn stored_keys(&mut self) -> usize;
}

impl StringHarness for Harness {
    /// What `OBJECT ENCODING` reports for `key`.
    #[track_caller]
    fn encoding(&mut self, key: &str) -> &'static str {
        let view = self.machine.view();
        let entry = view.keyspace.db(0).get(&Bytes::copy_from_slice(key.as_bytes()), self.now_ms);
        entry.unwrap_or_else(|| panic!("{key} must exist")).value.encoding()
    }

    /// What `PTTL` reports for `key`: -2 if absent, -1 without a time to live.
    fn pttl(&mut self, key: &str) -> i64 {
        let view = self.machine.view();
        match view.keyspace.db(0).get(&Bytes::copy_from_slice(key.as_bytes()), self.now_ms) {
            None => -2,
            Some(entry) => {
                entry.expires_at_ms().map_or(-1, |deadline| (deadline - self.now_ms) as i64)
            }
        }
    }

    /// The number of stored keys, expired or not (DBSIZE).
    fn stored_keys(&mut self) -> usize {
        self.machine.view().keyspace.db(0).len()
    }
}

fn array(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";

#[test]
fn get_replies_the_value_or_nil() {
    let mut redis = Harness::new();
    redis.check(&["GET", "k"], Frame::Null);
    redis.given(&[&["SET", "k", "hello"]]);
    redis.check(&["GET", "k"], bulk("hello"));
    redis.given(&[&["SET", "n", "-123"]]);
    redis.check(&["GET", "n"], bulk("-123"));
}

#[test]
fn set_conditions_and_get_reply_as_redis() {
    let mut redis = Harness::new();
    redis.check(&["SET", "k", "v", "GET", "XX"], Frame::Null);
    redis.check(&["SET", "k", "v", "XX"], Frame::Null);
    redis.check(&["SET", "k", "v", "GET", "NX"], Frame::Null);
    redis.check(&["GET", "k"], bulk("v"));
    redis.check(&["SET", "k", "w", "NX"], Frame::Null);
    redis.check(&["SET", "k", "w", "NX", "GET"], bulk("v"));
    redis.check(&["GET", "k"], bulk("v"));
    redis.check(&["SET", "k", "w", "XX", "GET"], bulk("v"));
    redis.check(&["SET", "k", "x"], Frame::ok());
    redis.check(&["GET", "k"], bulk("x"));
}

#[test]
fn set_refuses_bad_expire_times_before_looking_at_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v"]]);
    redis.check(
        &["SET", "k", "v", "NX", "EX", "0"],
        error("ERR invalid expire time in 'set' command"),
    );
    // Valid alone, but it overflows once added to the entry's time.
    redis.check(
        &["SET", "k", "v", "NX", "PX", "9223372036854775807"],
        error("ERR invalid expire time in 'set' command"),
    );
    redis.check(&["SET", "k", "v", "EX", "abc"], error(NOT_INTEGER));
    redis.check(&["SET", "k", "v", "EX", "1", "PX", "1"], error(SYNTAX));
}

#[test]
fn set_with_a_deadline_in_the_past_deletes_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "old"]]);
    redis.check(&["SET", "k", "v", "PXAT", "1", "GET"], bulk("old"));
    redis.check(&["GET", "k"], Frame::Null);
    assert_eq!(redis.stored_keys(), 0, "the key must be gone, not merely expired");
    redis.check(&["SET", "k", "v", "EXAT", "9223372036854775"], Frame::ok());
    assert_eq!(redis.pttl("k"), (9_223_372_036_854_775_000 - START_MS) as i64);
}

#[test]
fn set_keeps_or_clears_the_ttl_as_redis() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v", "PX", "100000"]]);
    redis.check(&["SET", "k", "w", "KEEPTTL"], Frame::ok());
    assert_eq!(redis.pttl("k"), 100_000);
    redis.check(&["SET", "k", "w", "NX"], Frame::Null);
    assert_eq!(redis.pttl("k"), 100_000, "a refused SET changes nothing");
    redis.check(&["SET", "k", "x", "XX", "GET"], bulk("w"));
    assert_eq!(redis.pttl("k"), -1);
    redis.check(&["SET", "k", "y", "EX", "10"], Frame::ok());
    assert_eq!(redis.pttl("k"), 10_000);
}

#[test]
fn setnx_replies_one_or_zero_and_never_touches_an_existing_key() {
    let mut redis = Harness::new();
    redis.check(&["SETNX", "k", "v"], int(1));
    assert_eq!(redis.pttl("k"), -1);
    redis.given(&[&["SET", "k", "v", "PX", "5000"]]);
    redis.check(&["SETNX", "k", "w"], int(0));
    redis.check(&["GET", "k"], bulk("v"));
    assert_eq!(redis.pttl("k"), 5000);
}

#[test]
fn setex_and_psetex_set_value_and_ttl() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v", "PX", "100000"]]);
    redis.check(&["SETEX", "k", "50", "v"], Frame::ok());
    assert_eq!(redis.pttl("k"), 50_000);
    redis.check(&["PSETEX", "k", "100", "w"], Frame::ok());
    assert_eq!(redis.pttl("k"), 100);
    redis.check(&["GET", "k"], bulk("w"));
    redis.check(&["SETEX", "k", "0", "v"], error("ERR invalid expire time in 'setex' command"));
    redis.check(&["SETEX", "k", "abc", "v"], error(NOT_INTEGER));
    redis.check(
        &["SETEX", "k", "9223372036854775", "v"],
        error("ERR invalid expire time in 'setex' command"),
    );
    redis.check(&["PSETEX", "k", "0", "v"], error("ERR invalid expire time in 'psetex' command"));
    redis.check(
        &["PSETEX", "k", "9223372036854775807", "v"],
        error("ERR invalid expire time in 'psetex' command"),
    );
}

#[test]
fn getset_replies_the_old_value_and_clears_the_ttl() {
    let mut redis = Harness::new();
    redis.check(&["GETSET", "k", "v"], Frame::Null);
    redis.given(&[&["SET", "k", "v", "PX", "100000"]]);
    redis.check(&["GETSET", "k", "w"], bulk("v"));
    redis.check(&["GET", "k"], bulk("w"));
    assert_eq!(redis.pttl("k"), -1);
}

#[test]
fn getdel_replies_the_value_and_deletes_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v", "PX", "100000"]]);
    redis.check(&["GETDEL", "k"], bulk("v"));
    assert_eq!(redis.pttl("k"), -2);
    redis.check(&["GETDEL", "k"], Frame::Null);
}

#[test]
fn getex_changes_the_ttl_and_replies_the_value() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v", "PX", "100000"]]);
    redis.check(&["GETEX", "k"], bulk("v"));
    assert_eq!(redis.pttl("k"), 100_000, "GETEX without options keeps the ttl");
    redis.check(&["GETEX", "k", "PX", "5000"], bulk("v"));
    assert_eq!(redis.pttl("k"), 5000);
    redis.check(&["GETEX", "k", "EX", "10", "EX", "20"], bulk("v"));
    assert_eq!(redis.pttl("k"), 20_000);
    redis.check(&["GETEX", "k", "PERSIST"], bulk("v"));
    assert_eq!(redis.pttl("k"), -1);
    let at = (START_MS + 7000).to_string();
    redis.check(&["GETEX", "k", "PXAT", &at], bulk("v"));
    assert_eq!(redis.pttl("k"), 7000);
}

#[test]
fn getex_with_a_deadline_in_the_past_deletes_the_key() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v"]]);
    redis.check(&["GETEX", "k", "EXAT", "1"], bulk("v"));
    redis.check(&["GET", "k"], Frame::Null);
    assert_eq!(redis.stored_keys(), 0);
}

#[test]
fn getex_checks_the_expire_time_only_for_an_existing_key() {
    let mut redis = Harness::new();
    redis.check(&["GETEX", "missing", "EX", "0"], Frame::Null);
    redis.check(&["GETEX", "missing", "EX", "abc"], Frame::Null);
    redis.given(&[&["SET", "k", "v"]]);
    redis.check(&["GETEX", "k", "EX", "0"], error("ERR invalid expire time in 'getex' command"));
    redis.check(&["GETEX", "k", "PXAT", "-1"], error("ERR invalid expire time in 'getex' command"));
    redis.check(
        &["GETEX", "k", "PX", "9223372036854775807"],
        error("ERR invalid expire time in 'getex' command"),
    );
    redis.check(
        &["GETEX", "k", "EX", "9223372036854775"],
        error("ERR invalid expire time in 'getex' command"),
    );
    redis.check(&["GETEX", "k", "EX", "abc"], error(NOT_INTEGER));
    redis.check(&["GETEX", "k", "PERSIST", "EX", "5"], error(SYNTAX));
    redis.check(&["GETEX", "k", "KEEPTTL"], error(SYNTAX));
}

#[test]
fn mget_replies_nil_for_missing_keys() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "a", "1"], &["SET", "b", "two"]]);
    redis.check(&["MGET", "a", "missing", "b"], array(vec![bulk("1"), Frame::Null, bulk("two")]));
}

#[test]
fn mset_overwrites_clears_ttls_and_the_last_duplicate_wins() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "a", "old", "PX", "100000"]]);
    redis.check(&["MSET", "a", "1", "b", "2", "b", "3"], Frame::ok());
    redis.check(&["MGET", "a", "b"], array(vec![bulk("1"), bulk("3")]));
    assert_eq!(redis.pttl("a"), -1);
    redis
        .check(&["MSET", "a", "1", "b"], error("ERR wrong number of arguments for 'mset' command"));
}

#[test]
fn msetnx_writes_all_keys_or_none() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "a", "1", "PX", "100000"]]);
    redis.check(&["MSETNX", "a", "2", "x", "3"], int(0));
    redis.check(&["MGET", "a", "x"], array(vec![bulk("1"), Frame::Null]));
    assert_eq!(redis.pttl("a"), 100_000);
    redis.check(&["MSETNX", "x", "1", "y", "2"], int(1));
    redis.check(&["MSETNX", "z", "1", "z", "2"], int(1));
    redis.check(&["GET", "z"], bulk("2"));
    redis.check(
        &["MSETNX", "a", "1", "b"],
        error("ERR wrong number of arguments for 'msetnx' command"),
    );
}

#[test]
fn append_creates_or_extends_and_keeps_the_ttl() {
    let mut redis = Harness::new();
    redis.check(&["APPEND", "k", "5"], int(1));
    redis.check(&["APPEND", "k", "6"], int(2));
    redis.check(&["GET", "k"], bulk("56"));
    redis.check(&["APPEND", "empty", ""], int(0));
    redis.check(&["GET", "empty"], bulk(""));
    redis.given(&[&["PSETEX", "t", "100000", "5"]]);
    redis.check(&["APPEND", "t", "1"], int(2));
    assert_eq!(redis.pttl("t"), 100_000);
}

#[test]
fn append_refuses_to_grow_past_512_mebibytes() {
    let mut redis = Harness::new();
    // The zeroed buffer is allocated lazily, so this costs a few pages, not 512 MiB.
    redis.check(&["SETRANGE", "k", "536870911", "x"], int(536_870_912));
    redis.check(&["APPEND", "k", "y"], error(TOO_LONG));
    redis.check(&["STRLEN", "k"], int(536_870_912));
}

#[test]
fn strlen_counts_bytes_of_any_encoding() {
    let mut redis = Harness::new();
    redis.check(&["STRLEN", "missing"], int(0));
    redis.given(&[&["SET", "n", "-123"], &["SET", "s", "hello"]]);
    redis.check(&["STRLEN", "n"], int(4));
    redis.check(&["STRLEN", "s"], int(5));
}

#[test]
fn getrange_and_substr_clamp_as_redis() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "hello"], &["SET", "n", "-123"], &["SET", "e", ""]]);
    for (start, end, expected) in [
        ("0", "-1", "hello"),
        ("-3", "-1", "llo"),
        ("-100", "-100", "h"),
        ("3", "1", ""),
        ("5", "10", ""),
        ("-1", "-2", ""),
        ("4", "9223372036854775807", "o"),
        ("-9223372036854775808", "9223372036854775807", "hello"),
    ] {
        redis.check(&["GETRANGE", "s", start, end], bulk(expected));
    }
    redis.check(&["SUBSTR", "s", "1", "3"], bulk("ell"));
    redis.check(&["GETRANGE", "n", "1", "2"], bulk("12"));
    redis.check(&["GETRANGE", "e", "0", "0"], bulk(""));
    redis.check(&["GETRANGE", "missing", "0", "-1"], bulk(""));
    redis.check(&["GETRANGE", "s", "a", "1"], error(NOT_INTEGER));
}

#[test]
fn setrange_patches_pads_and_keeps_the_ttl() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "s", "hello", "PX", "100000"]]);
    redis.check(&["SETRANGE", "s", "1", "abc"], int(5));
    redis.check(&["GET", "s"], bulk("habco"));
    assert_eq!(redis.pttl("s"), 100_000);
    redis.check(&["SETRANGE", "s", "7", "!"], int(8));
    redis.check(&["GET", "s"], Frame::bulk(b"habco\0\0!"));
    redis.check(&["SETRANGE", "new", "3", "ab"], int(5));
    redis.check(&["GET", "new"], Frame::bulk(b"\0\0\0ab"));
}

#[test]
fn setrange_with_an_empty_value_creates_nothing() {
    let mut redis = Harness::new();
    redis.check(&["SETRANGE", "missing", "0", ""], int(0));
    redis.check(&["SETRANGE", "missing", "536870912", ""], int(0));
    assert_eq!(redis.stored_keys(), 0);
    redis.given(&[&["SET", "n", "12"]]);
    redis.check(&["SETRANGE", "n", "536870912", ""], int(2));
    assert_eq!(redis.encoding("n"), "int", "nothing was written");
}

#[test]
fn setrange_errors_have_redis_text() {
    let mut redis = Harness::new();
    redis.check(&["SETRANGE", "k", "-1", "x"], error("ERR offset is out of range"));
    redis.check(&["SETRANGE", "k", "-1", ""], error("ERR offset is out of range"));
    redis.check(&["SETRANGE", "k", "a", "x"], error(NOT_INTEGER));
    redis.check(&["SETRANGE", "k", "536870912", "x"], error(TOO_LONG));
    redis.check(&["SETRANGE", "k", "9223372036854775807", "x"], error(TOO_LONG));
    assert_eq!(redis.stored_keys(), 0);
}

#[test]
fn incr_family_counts_and_keeps_the_ttl() {
    let mut redis = Harness::new();
    redis.check(&["INCR", "k"], int(1));
    redis.check(&["INCRBY", "k", "10"], int(11));
    redis.check(&["DECR", "k"], int(10));
    redis.check(&["DECRBY", "k", "15"], int(-5));
    redis.check(&["GET", "k"], bulk("-5"));
    redis.given(&[&["SET", "t", "5", "PX", "100000"]]);
    redis.check(&["INCR", "t"], int(6));
    redis.check(&["DECRBY", "t", "2"], int(4));
    assert_eq!(redis.pttl("t"), 100_000);
}

#[test]
fn incr_family_errors_have_redis_text() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "max", "9223372036854775807"], &["SET", "min", "-9223372036854775808"]]);
    redis.check(&["INCR", "max"], error("ERR increment or decrement would overflow"));
    redis.check(&["DECR", "min"], error("ERR increment or decrement would overflow"));
    redis.check(&["INCRBY", "min", "-1"], error("ERR increment or decrement would overflow"));
    redis.check(
        &["DECRBY", "missing", "-9223372036854775808"],
        error("ERR decrement would overflow"),
    );
    redis.check(&["INCRBY", "missing", "-9223372036854775808"], int(i64::MIN));
    redis.check(&["INCRBY", "k", "abc"], error(NOT_INTEGER));
    for stored in ["abc", " 1", "1.0", "01", "", "-0", "9223372036854775808"] {
        redis.given(&[&["SET", "s", stored]]);
        redis.check(&["INCR", "s"], error(NOT_INTEGER));
    }
}

#[test]
fn incrbyfloat_matches_redis_long_double_results() {
    let mut redis = Harness::new();
    for (increments, expected) in [
        (&["0.1", "0.2"][..], "0.3"),
        (&["5.0e3"], "5000"),
        (&["-0"], "0"),
        (&["0x10"], "16"),
        (&["-1e-20"], "0"),
        (&["+1.5", ".5"], "2"),
        (&["0.000003814697265625"], "0.00000381469726562"),
        (&["0.000011444091796875"], "0.00001144409179688"),
        (&["9223372036854775807", "1"], "9223372036854775808"),
    ] {
        redis.given(&[&["DEL", "k"]]);
        let mut reply = Frame::Null;
        for increment in increments {
            reply = redis.run(&["INCRBYFLOAT", "k", increment]);
        }
        assert_eq!(reply, bulk(expected), "INCRBYFLOAT of {increments:?}");
        redis.check(&["GET", "k"], bulk(expected));
    }
    redis.given(&[&["SET", "k", "10.5"]]);
    redis.check(&["INCRBYFLOAT", "k", "0.1"], bulk("10.6"));
    redis.given(&[&["SET", "k", "1e308"]]);
    let reply = redis.run(&["INCRBYFLOAT", "k", "1e308"]);
    let expected_prefix = b"199999999999999999993371759311691291321120199694831134415594";
    assert!(
        matches!(&reply, Frame::Bulk(text) if text.len() == 309 && text.starts_with(expected_prefix))
    );
}

#[test]
fn incrbyfloat_errors_have_redis_text() {
    let mut redis = Harness::new();
    for increment in ["abc", " 1", "1 ", "1e", "nan", "1e5000", "1e-5000", "0x1p-16446"] {
        redis.check(&["INCRBYFLOAT", "k", increment], error(NOT_FLOAT));
    }
    redis.check(&["INCRBYFLOAT", "k", "inf"], error(NAN_OR_INFINITY));
    redis.check(&["INCRBYFLOAT", "k", "-infinity"], error(NAN_OR_INFINITY));
    redis.given(&[&["SET", "k", "1e4932"]]);
    redis.check(&["INCRBYFLOAT", "k", "1e4932"], error(NAN_OR_INFINITY));
    redis.given(&[&["SET", "k", "abc"]]);
    redis.check(&["INCRBYFLOAT", "k", "1"], error(NOT_FLOAT));
    redis.given(&[&["SET", "k", "inf"]]);
    redis.check(&["INCRBYFLOAT", "k", "1"], error(NAN_OR_INFINITY));
    assert_eq!(redis.run(&["GET", "k"]), bulk("inf"), "a failed increment changes nothing");
}

#[test]
fn incrbyfloat_keeps_the_ttl() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "t", "5", "PX", "100000"]]);
    redis.check(&["INCRBYFLOAT", "t", "1.5"], bulk("6.5"));
    assert_eq!(redis.pttl("t"), 100_000);
}

#[test]
fn expired_keys_read_as_absent_to_every_command() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "5", "PX", "1000"]]);
    redis.now_ms += 1000;
    redis.check(&["GET", "k"], Frame::Null);
    redis.check(&["INCR", "k"], int(1));
    assert_eq!(redis.pttl("k"), -1, "the new key does not inherit the old ttl");
}

#[test]
fn object_encoding_matches_redis_for_each_command() {
    let mut redis = Harness::new();
    let long = "x".repeat(45);
    let cases: [(&[&str], &str, &str); 16] = [
        (&["SET", "k", "123"], "k", "int"),
        (&["SET", "k", "0123"], "k", "embstr"),
        (&["SET", "k", &long[..44]], "k", "embstr"),
        (&["SET", "k", &long], "k", "raw"),
        (&["SETEX", "k", "100", "5"], "k", "int"),
        (&["MSET", "k", "hello"], "k", "embstr"),
        (&["GETSET", "k", &long], "k", "raw"),
        (&["APPEND", "new", "ab"], "new", "embstr"),
        (&["APPEND", "new", ""], "new", "raw"),
        (&["APPEND", "number", "5"], "number", "int"),
        (&["SETRANGE", "fresh", "0", "5"], "fresh", "raw"),
        (&["SETRANGE", "k", "0", "j"], "k", "raw"),
        (&["INCR", "k2"], "k2", "int"),
        (&["INCRBYFLOAT", "f", "1.5"], "f", "embstr"),
        (&["INCRBYFLOAT", "f", "0.5"], "f", "embstr"),
        (&["INCRBYFLOAT", "huge", "1e300"], "huge", "raw"),
    ];
    for (words, key, expected) in cases {
        redis.given(&[words]);
        assert_eq!(redis.encoding(key), expected, "after {words:?}");
    }
    redis.check(&["GET", "f"], bulk("2"));
}

#[test]
fn lcs_replies_as_redis_in_every_form() {
    let mut redis = Harness::new();
    redis.given(&[&["MSET", "a", "ohmytext", "b", "mynewtext"]]);
    redis.check(&["LCS", "a", "b"], bulk("mytext"));
    redis.check(&["LCS", "a", "b", "LEN"], int(6));
    redis.check(&["LCS", "a", "b", "LEN", "WITHMATCHLEN", "MINMATCHLEN", "3"], int(6));
    let range = |start, end| array(vec![int(start), int(end)]);
    let matches = |items| Frame::Map(vec![(bulk("matches"), array(items)), (bulk("len"), int(6))]);
    redis.check(
        &["LCS", "a", "b", "IDX"],
        matches(vec![array(vec![range(4, 7), range(5, 8)]), array(vec![range(2, 3), range(0, 1)])]),
    );
    redis.check(
        &["LCS", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"],
        matches(vec![array(vec![range(4, 7), range(5, 8), int(4)])]),
    );
    redis.check(&["LCS", "a", "missing"], bulk(""));
    redis.check(
        &["LCS", "x", "y", "IDX"],
        Frame::Map(vec![(bulk("matches"), array(vec![])), (bulk("len"), int(0))]),
    );
}

#[test]
fn lcs_errors_have_redis_text() {
    let mut redis = Harness::new();
    redis.given(&[&["MSET", "a", "ohmytext", "b", "mynewtext"]]);
    redis.check(
        &["LCS", "a", "b", "LEN", "IDX"],
        error("ERR If you want both the length and indexes, please just use IDX."),
    );
    redis.check(&["LCS", "a", "b", "MINMATCHLEN"], error(SYNTAX));
    redis.check(&["LCS", "a", "b", "MINMATCHLEN", "x"], error(NOT_INTEGER));
    redis.check(&["LCS", "a", "b", "BOGUS"], error(SYNTAX));
    let wide = "a".repeat(11_600);
    redis.given(&[&["SET", "wide1", &wide], &["SET", "wide2", &wide]]);
    redis.check(
        &["LCS", "wide1", "wide2", "LEN"],
        error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"),
    );
}

#[test]
fn concord_cas_sets_only_when_the_value_equals_the_expected_one() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "old"]]);
    redis.check(&["CONCORD.CAS", "k", "other", "new"], int(0));
    redis.check(&["GET", "k"], bulk("old"));
    redis.check(&["CONCORD.CAS", "k", "old", "new"], int(1));
    redis.check(&["GET", "k"], bulk("new"));
    // The comparison is on bytes, whatever the stored encoding: an integer compares as text.
    redis.given(&[&["SET", "n", "10"]]);
    redis.check(&["CONCORD.CAS", "n", "10.0", "x"], int(0));
    redis.check(&["CONCORD.CAS", "n", "10", "11"], int(1));
    redis.check(&["GET", "n"], bulk("11"));
}

#[test]
fn concord_cas_on_an_absent_key_replies_nil_and_creates_nothing() {
    let mut redis = Harness::new();
    redis.check(&["CONCORD.CAS", "k", "", "new"], Frame::Null);
    redis.check(&["EXISTS", "k"], int(0));
    // An expired key is absent too.
    redis.given(&[&["SET", "k", "v", "PX", "100"]]);
    redis.now_ms += 100;
    redis.check(&["CONCORD.CAS", "k", "v", "new"], Frame::Null);
    redis.check(&["EXISTS", "k"], int(0));
}

#[test]
fn concord_cas_drops_the_time_to_live_like_set_and_refuses_other_types() {
    let mut redis = Harness::new();
    redis.given(&[&["SET", "k", "v", "EX", "100"]]);
    redis.check(&["CONCORD.CAS", "k", "other", "w"], int(0));
    assert_eq!(redis.pttl("k"), 100_000, "a failed compare leaves the time to live alone");
    redis.check(&["CONCORD.CAS", "k", "v", "w"], int(1));
    assert_eq!(redis.pttl("k"), -1, "a successful set drops the time to live, as SET does");
    redis.given(&[&["RPUSH", "list", "v"]]);
    redis.check(
        &["CONCORD.CAS", "list", "v", "w"],
        error(crate::state_machine::test_harness::WRONGTYPE),
    );
    redis.check(
        &["CONCORD.CAS", "k"],
        error("ERR wrong number of arguments for 'concord.cas' command"),
    );
}

#[test]
fn compare_and_set_with_create_if_absent_creates_a_missing_key() {
    use crate::command::strings::StringWrite;
    use crate::command::Write;
    use crate::state_machine::{Entry, WriteRequest};
    let mut redis = Harness::new();
    let write = |expected: &str| WriteRequest {
        db: 0,
        write: Write::String(StringWrite::CompareAndSet {
            key: Bytes::from_static(b"k"),
            expected: Bytes::copy_from_slice(expected.as_bytes()),
            new: Bytes::from_static(b"created"),
            create_if_absent: true,
        }),
    };
    let entry = Entry { leader_time_ms: START_MS, requests: vec![write("anything"), write("x")] };
    let replies = redis.machine.apply(1, &entry);
    assert_eq!(replies, vec![int(1), int(0)], "created once, then compared against 'created'");
    redis.check(&["GET", "k"], bulk("created"));
}
