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
    Output::Served { waiter: waiter(connection), reply }
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

#[test]
fn a_publish_is_an_output_and_inside_exec_too() {
    let mut machine = Machine::new();
    let transaction = Transaction {
        watched: Vec::new(),
        steps: vec![Step { db: 0, operation: Operation::Write(write(&["PUBLISH", "c", "2"])) }],
    };
    let outputs = machine
        .outputs(vec![write(&["PUBLISH", "c", "1"]), Write::Transaction(Box::new(transaction))]);
    let places: Vec<_> = outputs
        .iter()
        .map(|output| match output {
            Output::Message { message, reply, .. } => (message.clone(), reply.position, reply.step),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(places, vec![(Bytes::from("1"), 0, 0), (Bytes::from("2"), 1, 1)]);
}
