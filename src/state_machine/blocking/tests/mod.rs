//! The waiter table inside apply: who is served, in what order, and what an unblock does.

use bytes::Bytes;

use crate::command::blocking::{Block, BlockingWrite, WaiterId};
use crate::command::transactions::{Operation, Step, Transaction};
use crate::command::{parse, Command, Write};
use crate::resp::Frame;
use crate::state_machine::{Entry, Output, StateMachine, WriteRequest};

struct Machine {
    machine: StateMachine,
    index: u64,
}

fn waiter(connection: u64) -> WaiterId {
    WaiterId { node: 1, incarnation: 7, connection }
}

fn write(words: &[&str]) -> Write {
    let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
    match parse(arguments).unwrap().command.unwrap() {
        Command::Write(write) => write,
        other => panic!("{words:?} is not a write: {other:?}"),
    }
}

/// A blocking command as the connection of `connection` proposes it.
fn blocking(connection: u64, words: &[&str]) -> Write {
    match write(words) {
        Write::Blocking(BlockingWrite::Block(block)) => {
            Write::Blocking(BlockingWrite::Block(Block { waiter: waiter(connection), ..block }))
        }
        other => panic!("{words:?} is not blocking: {other:?}"),
    }
}

fn unblock(connection: u64) -> Write {
    Write::Blocking(BlockingWrite::Unblock { waiter: waiter(connection) })
}

fn bulk(text: &str) -> Frame {
    Frame::bulk(text)
}

fn served(connection: u64, reply: Frame) -> Output {
    Output::Served { waiter: waiter(connection), reply, reserved: false }
}

impl Machine {
    fn new() -> Machine {
        Machine { machine: StateMachine::new(), index: 0 }
    }

    /// Applies the writes as one entry; returns the replies and the outputs.
    fn apply(&mut self, writes: Vec<Write>) -> (Vec<Frame>, Vec<Output>) {
        self.index += 1;
        let requests = writes.into_iter().map(|write| WriteRequest { db: 0, write }).collect();
        let entry = Entry { leader_time_ms: 1_000, requests };
        let replies = self.machine.apply(self.index, &entry);
        (replies, self.machine.take_outputs())
    }

    fn outputs(&mut self, writes: Vec<Write>) -> Vec<Output> {
        self.apply(writes).1
    }
}

#[test]
fn data_already_there_is_popped_at_once_as_a_served_reply() {
    let mut machine = Machine::new();
    machine.apply(vec![write(&["RPUSH", "list", "a", "b"])]);
    let outputs = machine.outputs(vec![blocking(1, &["BLPOP", "missing", "list", "0"])]);
    assert_eq!(outputs, vec![served(1, Frame::Array(vec![bulk("list"), bulk("a")]))]);
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn waiters_on_one_key_are_served_first_blocked_first() {
    let mut machine = Machine::new();
    assert!(machine.outputs(vec![blocking(1, &["BLPOP", "queue", "0"])]).is_empty());
    assert!(machine.outputs(vec![blocking(2, &["BRPOP", "other", "queue", "0"])]).is_empty());
    assert!(machine.outputs(vec![blocking(3, &["BLPOP", "queue", "0"])]).is_empty());
    assert_eq!(machine.machine.waiters().len(), 3);
    let outputs = machine.outputs(vec![write(&["RPUSH", "queue", "x", "y"])]);
    assert_eq!(
        outputs,
        vec![
            served(1, Frame::Array(vec![bulk("queue"), bulk("x")])),
            served(2, Frame::Array(vec![bulk("queue"), bulk("y")])),
        ],
        "two elements serve the first two waiters, in the order they blocked"
    );
    let outputs = machine.outputs(vec![write(&["RPUSH", "other", "z"])]);
    assert!(outputs.is_empty(), "waiter 2 was served and left the queue of `other` too");
    let outputs = machine.outputs(vec![write(&["LPUSH", "queue", "w"])]);
    assert_eq!(outputs, vec![served(3, Frame::Array(vec![bulk("queue"), bulk("w")]))]);
}

#[test]
fn a_push_inside_exec_serves_a_waiter_after_the_transaction() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLPOP", "list", "0"])]);
    let transaction = Transaction {
        watched: Vec::new(),
        steps: vec![
            Step { db: 0, operation: Operation::Write(write(&["RPUSH", "list", "a", "b"])) },
            Step { db: 0, operation: Operation::Write(write(&["LPOP", "list"])) },
        ],
    };
    let (replies, outputs) = machine.apply(vec![Write::Transaction(Box::new(transaction))]);
    assert_eq!(replies, vec![Frame::Array(vec![Frame::Integer(2), bulk("a")])]);
    assert_eq!(
        outputs,
        vec![served(1, Frame::Array(vec![bulk("list"), bulk("b")]))],
        "the waiter sees the state after the whole transaction, as in Redis"
    );
}

#[test]
fn blocking_pops_inside_exec_do_not_block() {
    let mut machine = Machine::new();
    let transaction = Transaction {
        watched: Vec::new(),
        steps: vec![
            Step { db: 0, operation: Operation::Write(blocking(1, &["BLPOP", "none", "0"])) },
            Step {
                db: 0,
                operation: Operation::Write(blocking(
                    1,
                    &["BLMOVE", "none", "d", "LEFT", "LEFT", "0"],
                )),
            },
        ],
    };
    let (replies, outputs) = machine.apply(vec![Write::Transaction(Box::new(transaction))]);
    assert_eq!(replies, vec![Frame::Array(vec![Frame::NullArray, Frame::Null])]);
    assert!(outputs.is_empty());
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn an_unblock_times_out_a_waiter_unless_a_push_served_it_first() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLPOP", "list", "0"])]);
    machine.apply(vec![blocking(2, &["BLPOP", "list", "0"])]);
    // Waiter 1's timeout and a push race: the push is applied first, in the same entry.
    let outputs = machine.outputs(vec![write(&["RPUSH", "list", "a"]), unblock(1)]);
    assert_eq!(outputs, vec![served(1, Frame::Array(vec![bulk("list"), bulk("a")]))]);
    // Waiter 2 times out before the next push, which then stays in the list.
    let outputs = machine.outputs(vec![unblock(2), write(&["RPUSH", "list", "b"])]);
    assert_eq!(outputs, vec![served(2, Frame::NullArray)]);
    assert!(machine.machine.waiters().is_empty());
    let (replies, _) = machine.apply(vec![write(&["LPOP", "list"])]);
    assert_eq!(replies, vec![bulk("b")], "no one who left took the element");
}

#[test]
fn blmove_feeds_the_waiter_of_its_destination_and_zadd_serves_sorted_set_waiters() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLMOVE", "source", "middle", "LEFT", "RIGHT", "0"])]);
    machine.apply(vec![blocking(2, &["BLPOP", "middle", "0"])]);
    machine.apply(vec![blocking(3, &["BZPOPMAX", "scores", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "source", "x"])]);
    assert_eq!(
        outputs,
        vec![served(1, bulk("x")), served(2, Frame::Array(vec![bulk("middle"), bulk("x")]))]
    );
    let outputs = machine.outputs(vec![write(&["ZADD", "scores", "1", "a", "2", "b"])]);
    assert_eq!(
        outputs,
        vec![served(3, Frame::Array(vec![bulk("scores"), bulk("b"), Frame::Double(2.0)]))]
    );
}

#[test]
fn a_key_of_another_type_keeps_the_waiter_blocked() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLPOP", "key", "0"])]);
    assert!(machine.outputs(vec![write(&["SET", "key", "string"])]).is_empty());
    machine.apply(vec![write(&["DEL", "key"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "key", "v"])]);
    assert_eq!(outputs, vec![served(1, Frame::Array(vec![bulk("key"), bulk("v")]))]);
}

#[test]
fn a_restarted_node_forgets_the_waiters_of_its_earlier_runs() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLPOP", "list", "0"])]);
    let forget = Write::Blocking(BlockingWrite::ForgetEarlierRuns { node: 1, incarnation: 8 });
    let (replies, _) = machine.apply(vec![forget]);
    assert_eq!(replies, vec![Frame::Integer(1)]);
    assert!(machine.outputs(vec![write(&["RPUSH", "list", "a"])]).is_empty());
}

/// A blocking command as the connection of `connection` proposes it today: what a later
/// write serves is reserved until delivery is confirmed.
fn reserving(connection: u64, words: &[&str]) -> Write {
    match blocking(connection, words) {
        Write::Blocking(BlockingWrite::Block(block)) => {
            Write::Blocking(BlockingWrite::BlockWithReservation(block))
        }
        _ => unreachable!("`blocking` returns a block"),
    }
}

fn delivered(connection: u64) -> Write {
    Write::Blocking(BlockingWrite::Delivered { waiter: waiter(connection) })
}

fn cancel(connection: u64) -> Write {
    Write::Blocking(BlockingWrite::Cancel { waiter: waiter(connection) })
}

fn reserved(connection: u64, reply: Frame) -> Output {
    Output::Served { waiter: waiter(connection), reply, reserved: true }
}

impl Machine {
    /// A read's reply on the view as of the last applied entry.
    fn reply(&mut self, words: &[&str]) -> Frame {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        let Command::Read(read) = parse(arguments).unwrap().command.unwrap() else {
            panic!("{words:?} is not a read");
        };
        let view = self.machine.view();
        crate::state_machine::execute_read(&view.keyspace, 0, view.time_ms, &read)
    }

    fn reply_at(&mut self, time_ms: u64, write: Write) -> (Frame, Vec<Output>) {
        self.index += 1;
        let entry =
            Entry { leader_time_ms: time_ms, requests: vec![WriteRequest { db: 0, write }] };
        let mut replies = self.machine.apply(self.index, &entry);
        (replies.remove(0), self.machine.take_outputs())
    }

    fn range(&mut self, key: &str) -> Frame {
        self.reply(&["LRANGE", key, "0", "-1"])
    }
}

fn bulks(texts: &[&str]) -> Frame {
    Frame::Array(texts.iter().map(|text| bulk(text)).collect())
}

#[test]
fn a_cancel_before_any_push_removes_the_waiter_and_the_push_stays() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
    let (replies, outputs) = machine.apply(vec![cancel(1)]);
    assert_eq!((replies, outputs), (vec![Frame::Integer(1)], vec![]));
    assert!(machine.outputs(vec![write(&["RPUSH", "list", "a"])]).is_empty());
    assert_eq!(machine.range("list"), bulks(&["a"]));
}

#[test]
fn a_cancel_after_a_push_served_the_waiter_puts_the_element_back_where_it_was() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "list", "a", "b"])]);
    assert_eq!(outputs, vec![reserved(1, Frame::Array(vec![bulk("list"), bulk("a")]))]);
    assert_eq!(machine.machine.waiters().reservation_count(), 1);
    assert_eq!(machine.range("list"), bulks(&["b"]));
    let (replies, _) = machine.apply(vec![cancel(1)]);
    assert_eq!(replies, vec![Frame::Integer(1)]);
    assert_eq!(machine.range("list"), bulks(&["a", "b"]), "as if never popped");
    assert_eq!(machine.machine.waiters().reservation_count(), 0);
    let (replies, _) = machine.apply(vec![delivered(1)]);
    assert_eq!(replies, vec![Frame::Integer(0)], "nothing is left to deliver");
}

#[test]
fn a_delivered_element_is_the_clients_and_a_later_cancel_returns_nothing() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BRPOP", "list", "0"])]);
    machine.apply(vec![write(&["RPUSH", "list", "a", "b"])]);
    let (replies, _) = machine.apply(vec![delivered(1)]);
    assert_eq!(replies, vec![Frame::Integer(1)]);
    let (replies, _) = machine.apply(vec![cancel(1)]);
    assert_eq!(replies, vec![Frame::Integer(0)]);
    assert_eq!(machine.range("list"), bulks(&["a"]));
}

#[test]
fn a_cancelled_waiters_element_serves_the_next_waiter() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
    machine.apply(vec![write(&["RPUSH", "list", "a"])]);
    machine.apply(vec![reserving(2, &["BLPOP", "list", "0"])]);
    let outputs = machine.outputs(vec![cancel(1)]);
    assert_eq!(outputs, vec![reserved(2, Frame::Array(vec![bulk("list"), bulk("a")]))]);
}

#[test]
fn every_kind_of_pop_is_put_back_as_it_was() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLMPOP", "0", "1", "many", "LEFT", "COUNT", "2"])]);
    machine.apply(vec![reserving(2, &["BZPOPMIN", "scores", "0"])]);
    machine.apply(vec![reserving(3, &["BZMPOP", "0", "1", "more", "MAX", "COUNT", "2"])]);
    machine.apply(vec![
        write(&["RPUSH", "many", "a", "b", "c"]),
        write(&["ZADD", "scores", "1", "x", "2", "y"]),
        write(&["ZADD", "more", "1", "p", "2", "q", "3", "r"]),
    ]);
    assert_eq!(machine.machine.waiters().reservation_count(), 3);
    machine.apply(vec![cancel(1), cancel(2), cancel(3)]);
    assert_eq!(machine.range("many"), bulks(&["a", "b", "c"]));
    assert_eq!(machine.reply(&["ZRANGE", "scores", "0", "0"]), bulks(&["x"]), "score 1 again");
    assert_eq!(machine.reply(&["ZRANGE", "scores", "0", "-1"]), bulks(&["x", "y"]));
    assert_eq!(machine.reply(&["ZRANGE", "more", "0", "-1"]), bulks(&["p", "q", "r"]));
}

#[test]
fn a_moved_element_is_taken_back_only_from_where_it_was_pushed() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLMOVE", "source", "middle", "LEFT", "RIGHT", "0"])]);
    machine.apply(vec![write(&["RPUSH", "source", "x", "y"])]);
    assert_eq!(machine.range("middle"), bulks(&["x"]));
    machine.apply(vec![cancel(1)]);
    assert_eq!(machine.range("source"), bulks(&["x", "y"]));
    assert_eq!(machine.range("middle"), bulks(&[]));

    // Moved on by a live client before the cancel: it stays with that client.
    machine.apply(vec![reserving(2, &["BRPOPLPUSH", "second", "middle", "0"])]);
    machine.apply(vec![reserving(3, &["BLPOP", "middle", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "second", "z"])]);
    assert_eq!(
        outputs,
        vec![reserved(2, bulk("z")), reserved(3, Frame::Array(vec![bulk("middle"), bulk("z")]))]
    );
    machine.apply(vec![delivered(3), cancel(2)]);
    assert_eq!(machine.range("second"), bulks(&[]), "z is client 3's, not put back");
    assert_eq!(machine.range("middle"), bulks(&[]));
}

#[test]
fn reservations_expire_by_entry_time_and_a_late_confirmation_finds_nothing() {
    let mut machine = Machine::new();
    machine.reply_at(1_000, reserving(1, &["BLPOP", "list", "0"]));
    machine.reply_at(5_000, write(&["RPUSH", "list", "a"]));
    let expire = || Write::Blocking(BlockingWrite::ExpireReservations);
    let last_moment = 5_000 + super::RESERVATION_MS - 1;
    assert!(!machine.machine.has_expired_reservations(last_moment));
    assert_eq!(machine.reply_at(last_moment, expire()).0, Frame::Integer(0));
    assert!(machine.machine.has_expired_reservations(last_moment + 1));
    assert_eq!(machine.reply_at(last_moment + 1, expire()).0, Frame::Integer(1));
    assert_eq!(machine.range("list"), bulks(&["a"]));
    assert_eq!(machine.reply_at(last_moment + 2, delivered(1)).0, Frame::Integer(0));
}

#[test]
fn a_restarted_node_gets_back_what_its_earlier_run_never_delivered() {
    let mut machine = Machine::new();
    machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
    machine.apply(vec![reserving(2, &["BLPOP", "list", "0"])]);
    machine.apply(vec![reserving(3, &["BLPOP", "list", "0"])]);
    machine.apply(vec![write(&["RPUSH", "list", "a", "b"])]);
    machine.apply(vec![delivered(1)]);
    let forget = Write::Blocking(BlockingWrite::ForgetEarlierRuns { node: 1, incarnation: 8 });
    let (replies, outputs) = machine.apply(vec![forget]);
    assert_eq!(replies, vec![Frame::Integer(1)], "waiter 3 was still waiting");
    assert!(outputs.is_empty());
    assert_eq!(machine.range("list"), bulks(&["b"]), "b was never delivered; a was");
    assert_eq!(machine.machine.waiters().reservation_count(), 0);
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn a_removed_member_leaves_no_waiter_and_no_reservation_behind() {
    let mut machine = Machine::new();
    let other_node = WaiterId { node: 2, ..waiter(9) };
    machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
    machine.apply(vec![reserving(2, &["BLPOP", "list", "0"])]);
    machine.apply(vec![reserving(3, &["BLPOP", "other", "0"])]);
    let mut blocked_elsewhere = blocking(9, &["BLPOP", "list", "0"]);
    if let Write::Blocking(BlockingWrite::Block(block)) = &mut blocked_elsewhere {
        block.waiter = other_node;
    }
    machine.apply(vec![blocked_elsewhere]);
    machine.apply(vec![write(&["RPUSH", "list", "a"])]);
    let forget = Write::Blocking(BlockingWrite::ForgetNode { node: 1 });
    let (replies, outputs) = machine.apply(vec![forget]);
    assert_eq!(replies, vec![Frame::Integer(2)], "waiters 2 and 3 were still waiting");
    // Node 1's reservation of `a` went back, and node 2's waiter, next in line, takes it.
    let list = Frame::Bulk(Bytes::from_static(b"list"));
    let element = Frame::Bulk(Bytes::from_static(b"a"));
    let reply = Frame::Array(vec![list, element]);
    assert_eq!(outputs, vec![Output::Served { waiter: other_node, reply, reserved: false }]);
    assert_eq!(machine.machine.waiters().reservation_count(), 0);
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn a_waiter_stays_one_entry_until_its_reservation_ends() {
    let mut machine = Machine::new();
    for round in 0..50 {
        machine.apply(vec![reserving(1, &["BLPOP", "list", "0"])]);
        machine.apply(vec![write(&["RPUSH", "list", "v"])]);
        let outputs = machine.outputs(vec![reserving(1, &["BLPOP", "list", "0"])]);
        assert_eq!(
            outputs,
            vec![served(1, Frame::error("ERR this connection is already blocked"))],
            "round {round}: one reservation per connection at most"
        );
        let ending = if round % 2 == 0 { delivered(1) } else { cancel(1) };
        machine.apply(vec![ending, write(&["DEL", "list"])]);
        assert_eq!(machine.machine.waiters().reservation_count(), 0);
    }
}

#[test]
fn a_plain_block_from_an_older_binarys_log_is_never_reserved() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BLPOP", "list", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "list", "a"])]);
    assert_eq!(outputs, vec![served(1, Frame::Array(vec![bulk("list"), bulk("a")]))]);
    assert_eq!(machine.machine.waiters().reservation_count(), 0);
}

#[test]
fn a_blmove_to_a_destination_of_another_type_is_answered_wrongtype_and_serves_the_next() {
    let mut machine = Machine::new();
    machine.apply(vec![write(&["SET", "destination", "text"])]);
    machine.apply(vec![reserving(1, &["BLMOVE", "source", "destination", "LEFT", "RIGHT", "0"])]);
    machine.apply(vec![reserving(2, &["BLPOP", "source", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "source", "x"])]);
    let wrong_type =
        Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(
        outputs,
        vec![
            served(1, wrong_type.clone()),
            reserved(2, Frame::Array(vec![bulk("source"), bulk("x")]))
        ]
    );
    assert!(machine.machine.waiters().is_empty());
    machine.apply(vec![reserving(3, &["BRPOPLPUSH", "source", "destination", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "source", "y"])]);
    assert_eq!(outputs, vec![served(3, wrong_type)]);
    assert_eq!(machine.range("source"), bulks(&["y"]), "the element stays in the source");
}

#[test]
fn replicas_fed_the_same_entries_agree_on_waiters_reservations_and_keys() {
    let entries: Vec<Vec<Write>> = vec![
        vec![reserving(1, &["BLPOP", "a", "b", "0"]), reserving(2, &["BRPOP", "b", "0"])],
        vec![reserving(3, &["BLMOVE", "a", "b", "RIGHT", "LEFT", "0"])],
        vec![write(&["RPUSH", "b", "1", "2"]), cancel(1)],
        vec![write(&["RPUSH", "a", "3"]), delivered(2), cancel(3)],
        vec![reserving(4, &["BZPOPMAX", "z", "0"]), write(&["ZADD", "z", "1", "m"])],
        vec![Write::Blocking(BlockingWrite::ExpireReservations)],
    ];
    let mut first = Machine::new();
    let mut second = Machine::new();
    for entry in entries {
        assert_eq!(first.apply(entry.clone()), second.apply(entry));
        assert_eq!(first.machine.waiters(), second.machine.waiters());
    }
    for key in ["a", "b"] {
        assert_eq!(first.range(key), second.range(key));
    }
}

/// A snapshot's table of blocked clients (its metadata's `waiters`, `docs/format.md`) keeps
/// its bytes: a waiter, its queue and a reservation. A failure means a field or variant was
/// reordered, which changes the snapshot format (see `crate::tests::golden`).
#[test]
fn the_waiter_table_keeps_its_bytes() {
    use super::{Reservation, Taken, Waiters};
    use crate::command::blocking::BlockingPop;
    use crate::command::lists::ListEnd;
    let mut waiters = Waiters::default();
    let pop = BlockingPop::List { keys: vec![Bytes::from_static(b"k")], end: ListEnd::Left };
    waiters.insert(waiter(3), 2, pop, true);
    let taken = Taken::Zset {
        key: Bytes::from_static(b"z"),
        members: vec![(Bytes::from_static(b"m"), 1.0)],
    };
    waiters.reservations.insert(waiter(4), Reservation { db: 1, served_at_ms: 5, taken });
    let bytes = postcard::to_allocvec(&waiters).unwrap();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        hex, "01010703020001016b00010102016b0101070301010704010502017a01016d000000000000f03f",
        "the waiter table's bytes changed"
    );
}

mod streams;
