//! The keyspace family as a client sees it: requests go through `command::parse`, writes
//! through `StateMachine::apply` and reads through `execute_read`, and replies are compared
//! frame by frame with what redis-server 7.0 answers.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use proptest::prelude::*;

use crate::command::{parse, Command, DbIndex};
use crate::resp::Frame;
use crate::state_machine::{execute_read, Entry, StateMachine, WriteRequest};

/// A Unix time in milliseconds to start from; far from zero, as real entry times are.
const START_MS: u64 = 1_700_000_000_000;

/// A state machine with a clock the test moves and a selected database.
struct Harness {
    machine: StateMachine,
    index: u64,
    now_ms: u64,
    db: DbIndex,
}

impl Harness {
    fn new() -> Harness {
        Harness { machine: StateMachine::new(), index: 0, now_ms: START_MS, db: 0 }
    }

    fn run(&mut self, words: &[&str]) -> Frame {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        let parsed = match parse(arguments) {
            Ok(parsed) => parsed,
            Err(error) => return error.to_frame(),
        };
        match parsed.command {
            Err(error) => error.to_frame(),
            Ok(Command::Write(write)) => {
                self.index += 1;
                let entry = Entry {
                    leader_time_ms: self.now_ms,
                    requests: vec![WriteRequest { db: self.db, write }],
                };
                self.machine.apply(self.index, &entry).remove(0)
            }
            Ok(Command::Read(read)) => {
                let view = self.machine.view();
                execute_read(&view.keyspace, self.db, self.now_ms, &read)
            }
            Ok(Command::Control(control)) => panic!("{control:?} is not a keyspace command"),
        }
    }

    /// Runs a request and checks its reply, naming the request when it differs.
    fn expect(&mut self, words: &[&str], expected: Frame) {
        let reply = self.run(words);
        assert_eq!(reply, expected, "{words:?}: expected {expected:?}, got {reply:?}");
    }

    fn advance_ms(&mut self, milliseconds: u64) {
        self.now_ms += milliseconds;
    }
}

fn int(value: i64) -> Frame {
    Frame::Integer(value)
}

fn bulk(text: &str) -> Frame {
    Frame::bulk(text)
}

fn error(text: &'static str) -> Frame {
    Frame::error(text)
}

fn ok() -> Frame {
    Frame::ok()
}

/// The keys of a KEYS reply, sorted (their order is the hash order).
fn sorted_keys(reply: Frame) -> Vec<String> {
    let Frame::Array(items) = reply else { panic!("expected an array, got {reply:?}") };
    let mut keys: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            Frame::Bulk(key) => String::from_utf8(key.to_vec()).expect("test keys are UTF-8"),
            other => panic!("expected a bulk key, got {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

/// Splits a SCAN reply into its cursor and keys.
fn scan_page(reply: Frame) -> (u64, Vec<String>) {
    let Frame::Array(mut parts) = reply else { panic!("expected a SCAN reply, got {reply:?}") };
    assert_eq!(parts.len(), 2, "SCAN replies [cursor, keys]");
    let keys = sorted_keys(parts.pop().expect("two parts"));
    let Some(Frame::Bulk(cursor)) = parts.pop() else { panic!("the cursor is a bulk string") };
    let cursor = std::str::from_utf8(&cursor).expect("ASCII").parse().expect("a number");
    (cursor, keys)
}

#[test]
fn del_unlink_and_exists_count_each_argument() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["EXISTS", "a", "a", "b"], int(2));
    redis.expect(&["DEL", "a", "a"], int(1));
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["UNLINK", "a", "b"], int(1));
    redis.expect(&["EXISTS", "a"], int(0));
}

#[test]
fn type_names_the_value_or_none() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["TYPE", "k"], Frame::simple("string"));
    redis.expect(&["TYPE", "missing"], Frame::simple("none"));
}

#[test]
fn rename_moves_the_value_with_its_expiry() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["EXPIRE", "a", "100"], int(1));
    redis.expect(&["SET", "c", "old"], ok());
    redis.expect(&["RENAME", "a", "c"], ok());
    redis.expect(&["EXISTS", "a"], int(0));
    redis.expect(&["GET", "c"], bulk("1"));
    redis.expect(&["TTL", "c"], int(100));
}

#[test]
fn rename_of_a_missing_key_is_an_error_even_onto_itself() {
    let mut redis = Harness::new();
    redis.expect(&["RENAME", "missing", "x"], error("ERR no such key"));
    redis.expect(&["RENAME", "missing", "missing"], error("ERR no such key"));
    redis.expect(&["RENAMENX", "missing", "x"], error("ERR no such key"));
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["RENAME", "k", "k"], ok());
    redis.expect(&["RENAMENX", "k", "k"], int(0));
    redis.expect(&["GET", "k"], bulk("v"));
}

#[test]
fn renamenx_refuses_a_taken_name() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["SET", "b", "2"], ok());
    redis.expect(&["RENAMENX", "a", "b"], int(0));
    redis.expect(&["RENAMENX", "a", "c"], int(1));
    redis.expect(&["GET", "c"], bulk("1"));
}

#[test]
fn copy_keeps_the_expiry_and_needs_replace_to_overwrite() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "c", "v"], ok());
    redis.expect(&["PEXPIRE", "c", "100000"], int(1));
    redis.expect(&["COPY", "c", "d"], int(1));
    redis.expect(&["PTTL", "d"], int(100_000));
    redis.expect(&["COPY", "c", "d"], int(0));
    redis.expect(&["COPY", "c", "d", "REPLACE"], int(1));
    redis.expect(&["COPY", "missing", "d"], int(0));
    redis.expect(&["COPY", "c", "c"], error("ERR source and destination objects are the same"));
}

#[test]
fn copy_to_another_database() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["COPY", "k", "k", "DB", "0"], {
        error("ERR source and destination objects are the same")
    });
    redis.expect(&["COPY", "k", "k", "DB", "1"], int(1));
    redis.db = 1;
    redis.expect(&["GET", "k"], bulk("v"));
    redis.expect(&["COPY", "k", "k", "DB", "1"], {
        error("ERR source and destination objects are the same")
    });
    redis.expect(&["COPY", "k", "other", "db", "0", "replace"], int(1));
    redis.db = 0;
    redis.expect(&["GET", "other"], bulk("v"));
}

#[test]
fn move_needs_the_key_here_and_not_there() {
    let mut redis = Harness::new();
    redis.expect(&["MOVE", "missing", "0"], {
        error("ERR source and destination objects are the same")
    });
    redis.expect(&["MOVE", "missing", "1"], int(0));
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["EXPIRE", "k", "100"], int(1));
    redis.expect(&["MOVE", "k", "1"], int(1));
    redis.expect(&["EXISTS", "k"], int(0));
    redis.expect(&["SET", "k", "here"], ok());
    redis.expect(&["MOVE", "k", "1"], int(0));
    redis.db = 1;
    redis.expect(&["GET", "k"], bulk("v"));
    redis.expect(&["TTL", "k"], int(100));
}

#[test]
fn keys_matches_globs_and_star_matches_the_empty_key() {
    let mut redis = Harness::new();
    for key in ["", "a", "hello", "hallo", "hxllo"] {
        redis.expect(&["SET", key, "v"], ok());
    }
    assert_eq!(sorted_keys(redis.run(&["KEYS", "*"])), ["", "a", "hallo", "hello", "hxllo"]);
    assert_eq!(sorted_keys(redis.run(&["KEYS", "**"])), ["a", "hallo", "hello", "hxllo"]);
    assert_eq!(sorted_keys(redis.run(&["KEYS", "h[ae]llo"])), ["hallo", "hello"]);
    assert_eq!(sorted_keys(redis.run(&["KEYS", ""])), [""]);
    assert_eq!(sorted_keys(redis.run(&["KEYS", "?"])), ["a"]);
}

#[test]
fn keys_and_scan_skip_expired_keys() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "short", "v", "PX", "10"], ok());
    redis.expect(&["SET", "long", "v"], ok());
    redis.advance_ms(10);
    assert_eq!(sorted_keys(redis.run(&["KEYS", "*"])), ["long"]);
    assert_eq!(scan_page(redis.run(&["SCAN", "0", "COUNT", "100"])), (0, vec!["long".into()]));
    redis.expect(&["DBSIZE"], int(2));
}

#[test]
fn scan_filters_by_match_and_case_insensitive_type() {
    let mut redis = Harness::new();
    for key in ["", "a", "b", "pa"] {
        redis.expect(&["SET", key, "v"], ok());
    }
    let everything = scan_page(redis.run(&["SCAN", "0", "COUNT", "100"]));
    assert_eq!(everything, (0, vec!["".into(), "a".into(), "b".into(), "pa".into()]));
    let matching = redis.run(&["SCAN", "0", "MATCH", "*a", "COUNT", "100", "TYPE", "STRING"]);
    assert_eq!(scan_page(matching), (0, vec!["a".into(), "pa".into()]));
    let no_such_type = redis.run(&["SCAN", "0", "COUNT", "100", "TYPE", "nosuch"]);
    assert_eq!(scan_page(no_such_type), (0, vec![]));
    assert_eq!(scan_page(redis.run(&["SCAN", "", "COUNT", "100"])).1.len(), 4);
}

#[test]
fn scan_replies_with_the_cursor_as_a_bulk_string() {
    let mut redis = Harness::new();
    redis.expect(&["SCAN", "0"], Frame::Array(vec![bulk("0"), Frame::Array(vec![])]));
    redis.expect(&["SCAN", "x"], error("ERR invalid cursor"));
    redis.expect(&["SCAN", "0", "COUNT", "0"], error("ERR syntax error"));
}

#[test]
fn scan_returns_every_key_present_for_the_whole_iteration() {
    let mut redis = Harness::new();
    let stable: BTreeSet<String> = (0..300).map(|index| format!("stable:{index}")).collect();
    for key in &stable {
        redis.expect(&["SET", key, "v"], ok());
    }
    for index in 0..100 {
        redis.expect(&["SET", &format!("doomed:{index}"), "v"], ok());
    }
    let mut seen = BTreeSet::new();
    let (mut cursor, mut page) = (0u64, 0);
    loop {
        let (next, keys) = scan_page(redis.run(&["SCAN", &cursor.to_string(), "COUNT", "7"]));
        seen.extend(keys);
        // Between pages, add new keys and remove some that were there at the start.
        redis.expect(&["SET", &format!("new:{page}"), "v"], ok());
        redis.expect(&["DEL", &format!("doomed:{page}")], int(1));
        page += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let missed: Vec<&String> = stable.difference(&seen).collect();
    assert!(missed.is_empty(), "SCAN missed keys present throughout: {missed:?}");
}

#[test]
fn randomkey_returns_a_live_key_or_null() {
    let mut redis = Harness::new();
    redis.expect(&["RANDOMKEY"], Frame::Null);
    redis.expect(&["SET", "gone", "v", "PX", "5"], ok());
    redis.expect(&["SET", "only", "v"], ok());
    redis.advance_ms(5);
    for _ in 0..20 {
        redis.expect(&["RANDOMKEY"], bulk("only"));
    }
}

#[test]
fn randomkey_reaches_every_key() {
    let mut redis = Harness::new();
    for key in ["a", "b", "c", "d"] {
        redis.expect(&["SET", key, "v"], ok());
    }
    let drawn: BTreeSet<String> = (0..400)
        .map(|_| match redis.run(&["RANDOMKEY"]) {
            Frame::Bulk(key) => String::from_utf8(key.to_vec()).expect("UTF-8"),
            other => panic!("expected a key, got {other:?}"),
        })
        .collect();
    assert_eq!(drawn.len(), 4, "drawn: {drawn:?}");
}

#[test]
fn touch_counts_existing_keys_and_resets_idle_time() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.advance_ms(5_000);
    redis.expect(&["OBJECT", "IDLETIME", "k"], int(5));
    redis.expect(&["GET", "k"], bulk("v"));
    redis.expect(&["OBJECT", "IDLETIME", "k"], int(5));
    redis.expect(&["TOUCH", "k", "k", "missing"], int(2));
    redis.expect(&["OBJECT", "IDLETIME", "k"], int(0));
}

#[test]
fn touch_is_not_a_change_for_watch() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    let before = redis.machine.view().keyspace.db(0).get(&Bytes::from("k"), 0).cloned();
    redis.expect(&["TOUCH", "k"], int(1));
    let after = redis.machine.view().keyspace.db(0).get(&Bytes::from("k"), 0).cloned();
    assert_eq!(before.map(|entry| entry.version()), after.map(|entry| entry.version()));
}

#[test]
fn expire_sets_ttl_and_a_past_time_deletes() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["EXPIRE", "k", "100"], int(1));
    redis.expect(&["TTL", "k"], int(100));
    redis.expect(&["PTTL", "k"], int(100_000));
    redis.expect(&["EXPIRE", "k", "0"], int(1));
    redis.expect(&["EXISTS", "k"], int(0));
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["PEXPIREAT", "k", "1"], int(1));
    redis.expect(&["EXISTS", "k"], int(0));
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["PEXPIRE", "k", "-9223372036854775808"], int(1));
    redis.expect(&["EXISTS", "k"], int(0));
    redis.expect(&["EXPIRE", "missing", "100"], int(0));
}

#[test]
fn expire_at_uses_unix_time() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    let deadline_seconds = (START_MS / 1000 + 50).to_string();
    redis.expect(&["EXPIREAT", "k", &deadline_seconds], int(1));
    redis.expect(&["TTL", "k"], int(50));
    redis.expect(&["EXPIRETIME", "k"], int((START_MS / 1000 + 50) as i64));
    redis.expect(&["PEXPIRETIME", "k"], int((START_MS + 50_000) as i64));
    redis.advance_ms(50_000);
    redis.expect(&["EXISTS", "k"], int(0));
}

#[test]
fn expire_overflow_is_an_invalid_time_naming_the_command() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["EXPIRE", "k", "9223372036854775807"], {
        error("ERR invalid expire time in 'expire' command")
    });
    redis.expect(&["EXPIRE", "k", "9223372036854770"], {
        error("ERR invalid expire time in 'expire' command")
    });
    redis.expect(&["PEXPIRE", "k", "9223372036854775807"], {
        error("ERR invalid expire time in 'pexpire' command")
    });
    redis.expect(&["EXPIREAT", "k", "9223372036854775807"], {
        error("ERR invalid expire time in 'expireat' command")
    });
    redis.expect(&["PEXPIRE", "missing", "9223372036854775807"], {
        error("ERR invalid expire time in 'pexpire' command")
    });
    redis.expect(&["PEXPIREAT", "k", "9223372036854775807"], int(1));
    redis.expect(&["PEXPIRETIME", "k"], int(i64::MAX));
}

#[test]
fn expire_conditions_follow_redis_with_no_ttl_as_infinite() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["EXPIRE", "k", "100", "XX"], int(0));
    redis.expect(&["EXPIRE", "k", "100", "GT"], int(0));
    redis.expect(&["EXPIRE", "k", "100", "XX", "GT"], int(0));
    redis.expect(&["EXPIRE", "k", "100", "LT"], int(1));
    redis.expect(&["EXPIRE", "k", "200", "NX"], int(0));
    redis.expect(&["EXPIRE", "k", "50", "GT"], int(0));
    redis.expect(&["EXPIRE", "k", "100", "GT"], int(0));
    redis.expect(&["EXPIRE", "k", "200", "GT"], int(1));
    redis.expect(&["EXPIRE", "k", "300", "LT"], int(0));
    redis.expect(&["EXPIRE", "k", "300", "XX"], int(1));
    redis.expect(&["TTL", "k"], int(300));
    redis.expect(&["EXPIRE", "k", "-1", "GT"], int(0));
    redis.expect(&["EXPIRE", "k", "-1", "LT"], int(1));
    redis.expect(&["EXISTS", "k"], int(0));
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["EXPIRE", "k", "100", "NX"], int(1));
}

#[test]
fn expire_option_errors_get_redis_text() {
    let mut redis = Harness::new();
    redis.expect(&["EXPIRE", "k", "1", "NX", "XX"], {
        error("ERR NX and XX, GT or LT options at the same time are not compatible")
    });
    redis.expect(&["EXPIRE", "k", "1", "GT", "LT"], {
        error("ERR GT and LT options at the same time are not compatible")
    });
    redis.expect(&["EXPIRE", "k", "1", "foo"], error("ERR Unsupported option foo"));
}

#[test]
fn ttl_rounds_to_the_nearest_second() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    for (remaining_ms, seconds) in [(1499, 1), (1500, 2), (500, 1), (499, 0)] {
        redis.expect(&["PEXPIRE", "k", &remaining_ms.to_string()], int(1));
        redis.expect(&["TTL", "k"], int(seconds));
    }
    redis.expect(&["PEXPIREAT", "k", "99999999999499"], int(1));
    redis.expect(&["EXPIRETIME", "k"], int(99_999_999_999));
    redis.expect(&["PEXPIREAT", "k", "99999999999500"], int(1));
    redis.expect(&["EXPIRETIME", "k"], int(100_000_000_000));
}

#[test]
fn ttl_family_reports_missing_and_persistent_keys() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "p", "v"], ok());
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        redis.expect(&[command, "missing"], int(-2));
        redis.expect(&[command, "p"], int(-1));
    }
}

#[test]
fn persist_removes_only_an_existing_expiry() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["PERSIST", "k"], int(0));
    redis.expect(&["PERSIST", "missing"], int(0));
    redis.expect(&["EXPIRE", "k", "10"], int(1));
    redis.expect(&["PERSIST", "k"], int(1));
    redis.expect(&["TTL", "k"], int(-1));
    redis.advance_ms(20_000);
    redis.expect(&["EXISTS", "k"], int(1));
}

#[test]
fn object_reports_encoding_refcount_and_idle_time() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "int", "5"], ok());
    redis.expect(&["SET", "big", "10000"], ok());
    redis.expect(&["SET", "short", "v"], ok());
    redis.expect(&["SET", "long", &"a".repeat(45)], ok());
    redis.expect(&["OBJECT", "ENCODING", "int"], bulk("int"));
    redis.expect(&["OBJECT", "ENCODING", "short"], bulk("embstr"));
    redis.expect(&["OBJECT", "ENCODING", "long"], bulk("raw"));
    redis.expect(&["OBJECT", "REFCOUNT", "int"], int(2_147_483_647));
    redis.expect(&["OBJECT", "REFCOUNT", "big"], int(1));
    redis.expect(&["OBJECT", "REFCOUNT", "short"], int(1));
    redis.advance_ms(2_999);
    redis.expect(&["OBJECT", "IDLETIME", "short"], int(2));
    for question in ["ENCODING", "REFCOUNT", "IDLETIME", "FREQ"] {
        redis.expect(&["OBJECT", question, "missing"], Frame::Null);
    }
}

#[test]
fn object_freq_refuses_without_an_lfu_policy() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    redis.expect(&["OBJECT", "FREQ", "k"], {
        error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.",
        )
    });
}

#[test]
fn object_help_lists_the_subcommands_as_status_lines() {
    let mut redis = Harness::new();
    let Frame::Array(lines) = redis.run(&["OBJECT", "HELP"]) else { panic!("an array") };
    assert_eq!(lines.len(), 15);
    assert_eq!(
        lines[0],
        Frame::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(lines[14], Frame::simple("    Prints this help."));
}

#[test]
fn flushdb_empties_only_the_selected_database() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "a", "1"], ok());
    redis.db = 1;
    redis.expect(&["SET", "b", "1", "EX", "100"], ok());
    redis.expect(&["FLUSHDB", "ASYNC"], ok());
    redis.expect(&["DBSIZE"], int(0));
    redis.db = 0;
    redis.expect(&["DBSIZE"], int(1));
    redis.expect(&["FLUSHALL", "SYNC"], ok());
    redis.expect(&["DBSIZE"], int(0));
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["DBSIZE"], int(1));
}

#[test]
fn flush_keeps_stamping_versions_on_later_writes() {
    let mut redis = Harness::new();
    redis.expect(&["FLUSHALL"], ok());
    redis.expect(&["SET", "k", "v"], ok());
    let view = redis.machine.view();
    let entry = view.keyspace.db(0).get(&Bytes::from("k"), 0).expect("k was set");
    assert_eq!(entry.version(), redis.index);
}

#[test]
fn a_flush_leaves_older_views_intact() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v"], ok());
    let before = redis.machine.view();
    redis.expect(&["FLUSHALL"], ok());
    assert_eq!(before.keyspace.db(0).len(), 1, "a reader's view is a version, not a window");
}

#[test]
fn swapdb_exchanges_contents() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "a", "1"], ok());
    redis.expect(&["SWAPDB", "0", "1"], ok());
    redis.expect(&["DBSIZE"], int(0));
    redis.db = 1;
    redis.expect(&["GET", "a"], bulk("1"));
    redis.expect(&["SWAPDB", "1", "1"], ok());
    redis.expect(&["SWAPDB", "0", "16"], error("ERR DB index is out of range"));
    redis.expect(&["SWAPDB", "x", "1"], error("ERR invalid first DB index"));
    redis.expect(&["SWAPDB", "1", "x"], error("ERR invalid second DB index"));
}

#[test]
fn writes_delete_expired_keys_before_acting() {
    let mut redis = Harness::new();
    redis.expect(&["SET", "k", "v", "PX", "10"], ok());
    redis.advance_ms(10);
    redis.expect(&["RENAME", "k", "x"], error("ERR no such key"));
    redis.expect(&["MOVE", "k", "1"], int(0));
    redis.expect(&["COPY", "k", "x"], int(0));
    redis.expect(&["EXPIRE", "k", "100"], int(0));
    redis.expect(&["PERSIST", "k"], int(0));
    redis.expect(&["TOUCH", "k"], int(0));
    redis.expect(&["DEL", "k"], int(0));
}

/// One step of the model test: a write on a small set of keys, or the passing of time.
#[derive(Clone, Debug)]
enum Step {
    Set { key: u8, value: u8 },
    SetWithExpiry { key: u8, value: u8, ms: u16 },
    Del { key: u8 },
    Expire { key: u8, ms: i32 },
    Persist { key: u8 },
    Rename { source: u8, destination: u8 },
    Advance { ms: u16 },
}

fn step() -> impl Strategy<Value = Step> {
    let key = 0u8..6;
    prop_oneof![
        (key.clone(), any::<u8>()).prop_map(|(key, value)| Step::Set { key, value }),
        (key.clone(), any::<u8>(), 1u16..2000).prop_map(|(key, value, ms)| Step::SetWithExpiry {
            key,
            value,
            ms
        }),
        key.clone().prop_map(|key| Step::Del { key }),
        (key.clone(), -100i32..3000).prop_map(|(key, ms)| Step::Expire { key, ms }),
        key.clone().prop_map(|key| Step::Persist { key }),
        (key.clone(), key).prop_map(|(source, destination)| Step::Rename { source, destination }),
        (0u16..1500).prop_map(|ms| Step::Advance { ms }),
    ]
}

/// What the keyspace should hold: value and deadline per key, expired ones included until
/// the model removes them.
#[derive(Default)]
struct Model {
    entries: BTreeMap<String, (String, Option<u64>)>,
}

impl Model {
    fn live(&self, key: &str, now_ms: u64) -> Option<&(String, Option<u64>)> {
        self.entries.get(key).filter(|(_, deadline)| deadline.is_none_or(|at| at > now_ms))
    }

    /// Applies a step and returns the reply Redis would give.
    fn apply(&mut self, step: &Step, now_ms: u64) -> Option<Frame> {
        let name = |key: u8| format!("key:{key}");
        let exists = |model: &Model, key: u8| model.live(&name(key), now_ms).is_some();
        Some(match step {
            Step::Set { key, value } => {
                self.entries.insert(name(*key), (value.to_string(), None));
                ok()
            }
            Step::SetWithExpiry { key, value, ms } => {
                self.entries.insert(name(*key), (value.to_string(), Some(now_ms + *ms as u64)));
                ok()
            }
            Step::Del { key } => {
                let existed = exists(self, *key);
                self.entries.remove(&name(*key));
                int(i64::from(existed))
            }
            Step::Expire { key, ms } if exists(self, *key) => {
                let deadline = now_ms as i64 + *ms as i64;
                if deadline <= now_ms as i64 {
                    self.entries.remove(&name(*key));
                } else {
                    self.entries.get_mut(&name(*key)).expect("live").1 = Some(deadline as u64);
                }
                int(1)
            }
            Step::Expire { .. } => int(0),
            Step::Persist { key } => {
                let entry = self.entries.get_mut(&name(*key));
                match entry {
                    Some((_, deadline @ Some(_))) if exists_at(deadline, now_ms) => {
                        *deadline = None;
                        int(1)
                    }
                    _ => int(0),
                }
            }
            Step::Rename { source, .. } if !exists(self, *source) => error("ERR no such key"),
            Step::Rename { source, destination } => {
                let entry = self.entries.remove(&name(*source)).expect("live");
                self.entries.insert(name(*destination), entry);
                ok()
            }
            Step::Advance { .. } => return None,
        })
    }
}

fn exists_at(deadline: &Option<u64>, now_ms: u64) -> bool {
    deadline.is_none_or(|at| at > now_ms)
}

fn words(step: &Step) -> Vec<String> {
    let name = |key: u8| format!("key:{key}");
    match step {
        Step::Set { key, value } => vec!["SET".into(), name(*key), value.to_string()],
        Step::SetWithExpiry { key, value, ms } => {
            vec!["SET".into(), name(*key), value.to_string(), "PX".into(), ms.to_string()]
        }
        Step::Del { key } => vec!["DEL".into(), name(*key)],
        Step::Expire { key, ms } => vec!["PEXPIRE".into(), name(*key), ms.to_string()],
        Step::Persist { key } => vec!["PERSIST".into(), name(*key)],
        Step::Rename { source, destination } => {
            vec!["RENAME".into(), name(*source), name(*destination)]
        }
        Step::Advance { .. } => vec![],
    }
}

proptest! {
    #[test]
    fn keyspace_agrees_with_a_map_model(steps in prop::collection::vec(step(), 1..80)) {
        let mut redis = Harness::new();
        let mut model = Model::default();
        for step in &steps {
            if let Step::Advance { ms } = step {
                redis.advance_ms(u64::from(*ms));
            }
            let expected = model.apply(step, redis.now_ms);
            if let Some(expected) = expected {
                let words = words(step);
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                prop_assert_eq!(redis.run(&words), expected, "{:?}", step);
            }
            let view = redis.machine.view();
            let db = view.keyspace.db(0);
            for key in 0..6u8 {
                let name = format!("key:{key}");
                let actual = db.get(&Bytes::from(name.clone()), redis.now_ms).map(|entry| {
                    let Frame::Bulk(value) = redis.run(&["GET", &name]) else {
                        panic!("a live key has a string value");
                    };
                    (String::from_utf8(value.to_vec()).expect("UTF-8"), entry.expires_at_ms())
                });
                prop_assert_eq!(
                    actual.as_ref(), model.live(&name, redis.now_ms), "key {} after {:?}", name, step
                );
            }
        }
    }
}
