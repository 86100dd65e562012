//! EXEC inside apply: atomicity, per-command errors, and every kind of change WATCH must see
//! (or must not see), each pinned against what redis-server 7.0 does.

use bytes::Bytes;

use crate::command::transactions::{Operation, Step, Transaction, WatchedKey};
use crate::command::{parse, Command, DbIndex, Write};
use crate::resp::Frame;
use crate::state_machine::{watch, Entry, StateMachine, WriteRequest};

/// A Unix time in milliseconds to start from; far from zero, as real entry times are.
const START_MS: u64 = 1_700_000_000_000;

/// A state machine with a clock the test moves.
struct Harness {
    machine: StateMachine,
    index: u64,
    now_ms: u64,
}

fn words_to_operation(words: &[&str]) -> Operation {
    let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
    match parse(arguments).expect("a known command").command.expect("valid arguments") {
        Command::Read(read) => Operation::Read(read),
        Command::Write(write) => Operation::Write(write),
        Command::Control(control) => panic!("{control:?} does not run in apply"),
    }
}

impl Harness {
    fn new() -> Harness {
        Harness { machine: StateMachine::new(), index: 0, now_ms: START_MS }
    }

    fn apply(&mut self, requests: Vec<WriteRequest>) -> Vec<Frame> {
        self.index += 1;
        let entry = Entry { leader_time_ms: self.now_ms, requests };
        self.machine.apply(self.index, &entry)
    }

    /// Applies one write in database `db`, as its own entry, and returns its reply.
    fn write(&mut self, db: DbIndex, words: &[&str]) -> Frame {
        let Operation::Write(write) = words_to_operation(words) else {
            panic!("{words:?} is not a write");
        };
        self.apply(vec![WriteRequest { db, write }]).remove(0)
    }

    /// What WATCH records of a key, from a view of everything applied so far.
    fn watch(&mut self, db: DbIndex, key: &str) -> WatchedKey {
        let view = self.machine.view();
        watch(&view.keyspace, db, Bytes::copy_from_slice(key.as_bytes()), self.now_ms)
    }

    /// Applies an EXEC of `steps` (all in database 0) with the watched keys.
    fn exec(&mut self, watched: Vec<WatchedKey>, steps: &[&[&str]]) -> Frame {
        let steps = steps
            .iter()
            .map(|words| Step { db: 0, operation: words_to_operation(words) })
            .collect();
        let transaction = Transaction { watched, steps };
        let write = Write::Transaction(Box::new(transaction));
        self.apply(vec![WriteRequest { db: 0, write }]).remove(0)
    }

    /// Whether EXEC of a harmless read succeeds with these watched keys.
    fn exec_succeeds(&mut self, watched: Vec<WatchedKey>) -> bool {
        match self.exec(watched, &[&["EXISTS", "probe"]]) {
            Frame::Array(_) => true,
            Frame::NullArray => false,
            other => panic!("EXEC replies with an array or the null array, not {other:?}"),
        }
    }
}

/// A setup (writes in database 0), the key watched after it, and the write made after WATCH.
type WatchCase = (&'static [&'static [&'static str]], &'static str, &'static [&'static str]);

fn bulk(text: &str) -> Frame {
    Frame::bulk(text)
}

#[test]
fn steps_run_in_order_and_see_each_other() {
    let mut redis = Harness::new();
    let reply = redis.exec(
        vec![],
        &[&["SET", "a", "1"], &["INCR", "a"], &["GET", "a"], &["DEL", "a"], &["EXISTS", "a"]],
    );
    assert_eq!(
        reply,
        Frame::Array(vec![
            Frame::ok(),
            Frame::Integer(2),
            bulk("2"),
            Frame::Integer(1),
            Frame::Integer(0)
        ])
    );
}

#[test]
fn a_failing_step_has_its_error_in_the_array_and_the_others_still_run() {
    let mut redis = Harness::new();
    let reply =
        redis.exec(vec![], &[&["SET", "a", "text"], &["INCR", "a"], &["SET", "b", "after"]]);
    assert_eq!(
        reply,
        Frame::Array(vec![
            Frame::ok(),
            Frame::error("ERR value is not an integer or out of range"),
            Frame::ok(),
        ])
    );
    let view = redis.machine.view();
    assert!(view.keyspace.db(0).get(&Bytes::from("b"), redis.now_ms).is_some());
}

#[test]
fn readers_see_all_of_a_transaction_or_none_of_it() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "a", "0"]);
    let before = redis.machine.view();
    redis.exec(vec![], &[&["SET", "a", "1"], &["SET", "b", "1"]]);
    let after = redis.machine.view();
    let key = |name: &'static str| Bytes::from(name);
    assert_eq!(before.keyspace.db(0).len(), 1, "the old view is untouched");
    assert_eq!(after.keyspace.db(0).len(), 2);
    assert_eq!(after.index, before.index + 1, "the whole transaction is one version");
    let version = |name| after.keyspace.db(0).get(&key(name), redis.now_ms).unwrap().version();
    assert_eq!(version("a"), version("b"));
}

#[test]
fn reads_inside_use_the_entry_time() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "k", "v", "PX", "100"]);
    redis.now_ms += 100;
    let reply = redis.exec(vec![], &[&["GET", "k"], &["EXISTS", "k"]]);
    assert_eq!(reply, Frame::Array(vec![Frame::Null, Frame::Integer(0)]));
}

#[test]
fn steps_run_in_their_own_database() {
    let mut redis = Harness::new();
    let steps = vec![
        Step { db: 0, operation: words_to_operation(&["SET", "k", "zero"]) },
        Step { db: 5, operation: words_to_operation(&["SET", "k", "five"]) },
        Step { db: 5, operation: words_to_operation(&["GET", "k"]) },
    ];
    let write = Write::Transaction(Box::new(Transaction { watched: vec![], steps }));
    let reply = redis.apply(vec![WriteRequest { db: 0, write }]).remove(0);
    assert_eq!(reply, Frame::Array(vec![Frame::ok(), Frame::ok(), bulk("five")]));
}

#[test]
fn a_conflict_replies_null_and_applies_nothing() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "watched", "1"]);
    let watched = redis.watch(0, "watched");
    redis.write(0, &["SET", "watched", "2"]);
    let reply = redis.exec(vec![watched], &[&["SET", "other", "x"], &["DEL", "watched"]]);
    assert_eq!(reply, Frame::NullArray);
    let view = redis.machine.view();
    assert!(view.keyspace.db(0).get(&Bytes::from("other"), redis.now_ms).is_none());
    assert!(view.keyspace.db(0).get(&Bytes::from("watched"), redis.now_ms).is_some());
}

#[test]
fn an_unchanged_watched_key_lets_exec_run() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "watched", "1"]);
    let watched = vec![redis.watch(0, "watched"), redis.watch(0, "absent")];
    redis.write(0, &["SET", "unrelated", "1"]);
    assert!(redis.exec_succeeds(watched));
}

/// Each case: a setup, the key watched (in database 0), and the change made after WATCH.
/// Every one of these fails EXEC on redis-server 7.0.
#[test]
fn every_kind_of_change_fails_exec() {
    let cases: &[WatchCase] = &[
        (&[&["SET", "k", "1"]], "k", &["SET", "k", "2"]),
        (&[&["SET", "k", "1"]], "k", &["SET", "k", "1"]),
        (&[&["SET", "k", "1"]], "k", &["DEL", "k"]),
        (&[], "k", &["SET", "k", "1"]),
        (&[&["SET", "k", "1"]], "k", &["INCR", "k"]),
        (&[&["SET", "k", "1"]], "k", &["APPEND", "k", "x"]),
        (&[&["SET", "k", "1"]], "k", &["EXPIRE", "k", "100"]),
        (&[&["SET", "k", "1", "EX", "100"]], "k", &["PERSIST", "k"]),
        (&[&["SET", "k", "1"]], "k", &["RENAME", "k", "other"]),
        (&[&["SET", "source", "1"]], "k", &["RENAME", "source", "k"]),
        (&[&["SET", "source", "1"]], "k", &["COPY", "source", "k"]),
        (&[&["SET", "k", "1"]], "k", &["MOVE", "k", "1"]),
        (&[&["SET", "k", "1"]], "k", &["FLUSHDB"]),
        (&[&["SET", "k", "1"]], "k", &["FLUSHALL"]),
        (&[&["SET", "k", "1"]], "k", &["SWAPDB", "0", "1"]),
    ];
    for (setup, key, change) in cases {
        let mut redis = Harness::new();
        for words in *setup {
            redis.write(0, words);
        }
        let watched = redis.watch(0, key);
        redis.write(0, change);
        assert!(!redis.exec_succeeds(vec![watched]), "{change:?} after {setup:?} must fail EXEC");
    }
}

/// Each case: a setup, the key watched (in database 0), and a command after WATCH that Redis
/// does not count as a change of it.
#[test]
fn what_is_not_a_change_lets_exec_run() {
    let cases: &[WatchCase] = &[
        (&[&["SET", "k", "1"]], "k", &["TOUCH", "k"]),
        (&[&["SET", "k", "text"]], "k", &["INCR", "k"]),
        (&[&["SET", "k", "1"]], "k", &["PERSIST", "k"]),
        (&[&["SET", "k", "1"]], "k", &["SET", "k", "2", "NX"]),
        (&[&["SET", "k", "1"]], "k", &["EXPIRE", "k", "100", "XX"]),
        (&[], "k", &["DEL", "k"]),
        (&[], "k", &["FLUSHDB"]),
        (&[], "k", &["SWAPDB", "0", "1"]),
        (&[&["SET", "k", "1"]], "k", &["SWAPDB", "0", "0"]),
    ];
    for (setup, key, change) in cases {
        let mut redis = Harness::new();
        for words in *setup {
            redis.write(0, words);
        }
        let watched = redis.watch(0, key);
        redis.write(0, change);
        assert!(
            redis.exec_succeeds(vec![watched]),
            "{change:?} after {setup:?} must not fail EXEC"
        );
    }
}

#[test]
fn a_change_in_another_database_is_not_a_change() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "k", "1"]);
    let watched = redis.watch(0, "k");
    redis.write(1, &["SET", "k", "other"]);
    redis.write(1, &["FLUSHDB"]);
    assert!(redis.exec_succeeds(vec![watched]));
}

#[test]
fn a_key_that_expires_after_watch_fails_exec_but_one_expired_before_does_not() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "expires", "1", "PX", "100"]);
    redis.write(0, &["SET", "expired", "1", "PX", "10"]);
    redis.now_ms += 50;
    let live_at_watch = redis.watch(0, "expires");
    let expired_at_watch = redis.watch(0, "expired");
    assert_eq!(expired_at_watch.version, None);
    redis.now_ms += 100;
    assert!(redis.exec_succeeds(vec![expired_at_watch]));
    assert!(!redis.exec_succeeds(vec![live_at_watch]));
}

#[test]
fn swapdb_is_seen_even_when_both_keys_carry_the_same_version() {
    let mut redis = Harness::new();
    // One entry writes the key in both databases: both copies get the same version, so only
    // the contents version tells the swap apart.
    let write = |words: &[&str]| match words_to_operation(words) {
        Operation::Write(write) => write,
        Operation::Read(_) => unreachable!("SET is a write"),
    };
    redis.apply(vec![
        WriteRequest { db: 0, write: write(&["SET", "k", "zero"]) },
        WriteRequest { db: 1, write: write(&["SET", "k", "one"]) },
    ]);
    let watched = redis.watch(0, "k");
    redis.write(0, &["SWAPDB", "0", "1"]);
    let after_swap = redis.watch(0, "k");
    assert_eq!(after_swap.version, watched.version, "the premise of this test");
    assert!(!redis.exec_succeeds(vec![watched]));
}

#[test]
fn a_write_earlier_in_the_same_entry_fails_exec() {
    let mut redis = Harness::new();
    redis.write(0, &["SET", "k", "1"]);
    let watched = redis.watch(0, "k");
    let Operation::Write(change) = words_to_operation(&["SET", "k", "2"]) else {
        unreachable!("SET is a write")
    };
    let steps = vec![Step { db: 0, operation: words_to_operation(&["GET", "k"]) }];
    let exec = Write::Transaction(Box::new(Transaction { watched: vec![watched], steps }));
    let replies = redis
        .apply(vec![WriteRequest { db: 0, write: change }, WriteRequest { db: 0, write: exec }]);
    assert_eq!(replies, vec![Frame::ok(), Frame::NullArray]);
}

/// Caveat of the module docs: the transaction's premise (the key is absent) still holds.
#[test]
fn a_key_created_and_deleted_again_after_watch_does_not_fail_exec() {
    let mut redis = Harness::new();
    let watched = redis.watch(0, "k");
    redis.write(0, &["SET", "k", "1"]);
    redis.write(0, &["DEL", "k"]);
    assert!(redis.exec_succeeds(vec![watched]));
}

#[test]
fn a_transaction_nested_in_a_transaction_is_an_error_not_a_panic() {
    let mut redis = Harness::new();
    let inner = Write::Transaction(Box::new(Transaction { watched: vec![], steps: vec![] }));
    let steps = vec![Step { db: 0, operation: Operation::Write(inner) }];
    let outer = Write::Transaction(Box::new(Transaction { watched: vec![], steps }));
    let reply = redis.apply(vec![WriteRequest { db: 0, write: outer }]).remove(0);
    assert_eq!(reply, Frame::Array(vec![Frame::error("ERR MULTI calls can not be nested")]));
}

#[test]
fn replicas_applying_the_same_transactions_agree() {
    let mut first = Harness::new();
    let mut second = Harness::new();
    for redis in [&mut first, &mut second] {
        redis.write(0, &["SET", "k", "1", "PX", "50"]);
    }
    let watched = first.watch(0, "k");
    for redis in [&mut first, &mut second] {
        redis.now_ms += 60;
    }
    let steps: &[&[&str]] = &[&["GET", "k"], &["INCR", "n"]];
    assert_eq!(first.exec(vec![watched.clone()], steps), second.exec(vec![watched], steps));
}

#[test]
fn steps_of_one_transaction_draw_different_random_numbers() {
    let context = crate::state_machine::ApplyContext {
        index: 7,
        now_ms: 0,
        position: 0,
        step: 0,
        script_user: None,
    };
    let mut plain = context.random();
    let mut first = context.for_step(0).random();
    let mut second = context.for_step(1).random();
    let draws = [plain.next_u64(), first.next_u64(), second.next_u64()];
    assert_ne!(draws[0], draws[1]);
    assert_ne!(draws[1], draws[2]);
}
