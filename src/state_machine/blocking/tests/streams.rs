//! Blocking stream reads in the waiter table: what XREAD and XREADGROUP wait for, what they
//! are served, and the errors Redis 7.0 answers a group reader whose stream or group went.

use bytes::Bytes;

use super::{blocking, bulk, served, unblock, waiter, write, Machine};
use crate::command::transactions::{Operation, Step, Transaction};
use crate::command::{parse, Command, Write};
use crate::resp::Frame;

/// `[[key, [[id, [field, value]], ...]]]`, an XREAD or XREADGROUP reply of one stream whose
/// entries each hold one field `f`.
fn entries(key: &str, entries: &[(&str, &str)]) -> Frame {
    let entries = entries.iter().map(|(id, value)| {
        Frame::Array(vec![bulk(id), Frame::Array(vec![bulk("f"), bulk(value)])])
    });
    Frame::KeyedArrays(vec![(bulk(key), Frame::Array(entries.collect()))])
}

fn xadd(key: &str, id: &str, value: &str) -> Write {
    write(&["XADD", key, id, "f", value])
}

/// A read, answered from the live keyspace inside a transaction of its own.
fn read(machine: &mut Machine, words: &[&str]) -> Frame {
    let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
    let Ok(Command::Read(read)) = parse(arguments).unwrap().command else {
        panic!("{words:?} is not a read");
    };
    let step = Step { db: 0, operation: Operation::Read(read) };
    let transaction = Transaction { watched: Vec::new(), steps: vec![step] };
    let (replies, _) = machine.apply(vec![Write::Transaction(Box::new(transaction))]);
    let [Frame::Array(mut replies)] = <[Frame; 1]>::try_from(replies).unwrap() else {
        panic!("EXEC answers an array");
    };
    replies.remove(0)
}

fn transaction(writes: Vec<Write>) -> Write {
    let steps = writes.into_iter().map(|write| Step { db: 0, operation: Operation::Write(write) });
    Write::Transaction(Box::new(Transaction { watched: Vec::new(), steps: steps.collect() }))
}

#[test]
fn xread_with_data_after_its_id_answers_at_once() {
    let mut machine = Machine::new();
    machine.apply(vec![xadd("s", "1-0", "a")]);
    let outputs = machine.outputs(vec![blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "0"])]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("1-0", "a")]))]);
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn dollar_is_the_last_id_when_the_reader_blocks() {
    let mut machine = Machine::new();
    machine.apply(vec![xadd("s", "1-0", "a")]);
    let block = blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "missing", "$", "$"]);
    assert!(machine.outputs(vec![block]).is_empty());
    let outputs = machine.outputs(vec![xadd("s", "2-0", "b")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("2-0", "b")]))], "1-0 was there before");
    machine.apply(vec![blocking(2, &["XREAD", "BLOCK", "0", "STREAMS", "missing", "$"])]);
    let outputs = machine.outputs(vec![xadd("missing", "0-1", "c")]);
    assert_eq!(
        outputs,
        vec![served(2, entries("missing", &[("0-1", "c")]))],
        "$ of no stream is 0-0"
    );
}

#[test]
fn each_reader_waits_for_its_own_id_and_one_behind_is_not_held_up() {
    let mut machine = Machine::new();
    machine.apply(vec![xadd("s", "1-0", "a")]);
    machine.apply(vec![blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "100-0"])]);
    machine.apply(vec![blocking(2, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])]);
    let outputs = machine.outputs(vec![xadd("s", "7-0", "b")]);
    assert_eq!(outputs, vec![served(2, entries("s", &[("7-0", "b")]))]);
    let outputs = machine.outputs(vec![xadd("s", "101-0", "c")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("101-0", "c")]))]);
}

#[test]
fn a_reader_served_after_blocking_without_count_gets_at_most_a_thousand_entries() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])]);
    let adds = (1..=1001).map(|ms| xadd("s", &format!("{ms}-0"), "v")).collect();
    let outputs = machine.outputs(vec![transaction(adds)]);
    let [output] = &outputs[..] else { panic!("one reader is served: {outputs:?}") };
    let crate::state_machine::Output::Served { reply: Frame::KeyedArrays(streams), .. } = output
    else {
        panic!("an XREAD reply: {output:?}");
    };
    let Frame::Array(served) = &streams[0].1 else { panic!("entries: {streams:?}") };
    assert_eq!(served.len(), 1000, "Redis's XREAD_BLOCK_DEFAULT_COUNT");
}

#[test]
fn a_reader_of_a_deleted_or_retyped_stream_stays_blocked() {
    let mut machine = Machine::new();
    machine.apply(vec![xadd("s", "5-0", "a")]);
    machine.apply(vec![blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])]);
    assert!(machine.outputs(vec![write(&["SET", "s", "x"])]).is_empty());
    assert!(machine.outputs(vec![write(&["DEL", "s"])]).is_empty());
    assert!(machine.outputs(vec![xadd("s", "3-0", "b")]).is_empty(), "3-0 is not after 5-0");
    let outputs = machine.outputs(vec![xadd("s", "6-0", "c")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("6-0", "c")]))], "only what is after 5-0");
}

#[test]
fn group_readers_are_served_in_the_order_they_blocked_with_the_pel_kept_in_apply() {
    let mut machine = Machine::new();
    machine.apply(vec![write(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])]);
    machine.apply(vec![blocking(
        1,
        &["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"],
    )]);
    machine.apply(vec![blocking(
        2,
        &["XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">"],
    )]);
    let consumers = read(&mut machine, &["XINFO", "CONSUMERS", "s", "g"]);
    assert_eq!(consumers, Frame::Array(vec![]), "a consumer is created when it is served");
    let outputs = machine.outputs(vec![xadd("s", "1-0", "a")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("1-0", "a")]))]);
    let outputs = machine.outputs(vec![xadd("s", "2-0", "b")]);
    assert_eq!(outputs, vec![served(2, entries("s", &[("2-0", "b")]))]);
    let consumers = Frame::Array(vec![
        Frame::Array(vec![bulk("c1"), bulk("1")]),
        Frame::Array(vec![bulk("c2"), bulk("1")]),
    ]);
    assert_eq!(
        read(&mut machine, &["XPENDING", "s", "g"]),
        Frame::Array(vec![Frame::Integer(2), bulk("1-0"), bulk("2-0"), consumers])
    );
}

#[test]
fn noack_delivers_without_a_pending_entry() {
    let mut machine = Machine::new();
    machine.apply(vec![write(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])]);
    let noack = ["XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"];
    machine.apply(vec![blocking(1, &noack)]);
    let outputs = machine.outputs(vec![xadd("s", "1-0", "a")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("1-0", "a")]))]);
    let empty = vec![Frame::Integer(0), Frame::Null, Frame::Null, Frame::NullArray];
    assert_eq!(read(&mut machine, &["XPENDING", "s", "g"]), Frame::Array(empty));
}

#[test]
fn a_group_reader_waits_for_a_new_entry_not_for_setid_moving_the_group_back() {
    let mut machine = Machine::new();
    machine.apply(vec![xadd("s", "1-0", "a"), write(&["XGROUP", "CREATE", "s", "g", "$"])]);
    machine.apply(vec![blocking(
        1,
        &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
    )]);
    assert!(machine.outputs(vec![write(&["XGROUP", "SETID", "s", "g", "0"])]).is_empty());
    let outputs = machine.outputs(vec![xadd("s", "2-0", "b")]);
    assert_eq!(outputs, vec![served(1, entries("s", &[("1-0", "a"), ("2-0", "b")]))]);
}

#[test]
fn a_group_reader_whose_stream_or_group_goes_gets_redis_errors() {
    let gone = Frame::error("UNBLOCKED the stream key no longer exists");
    let no_group =
        Frame::error("NOGROUP the consumer group this client was blocked on no longer exists");
    let read = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"];
    let cases: [(Vec<Write>, &Frame); 5] = [
        (vec![write(&["DEL", "s"])], &gone),
        (vec![write(&["SET", "s", "x"])], &gone),
        (vec![write(&["FLUSHALL"])], &gone),
        (vec![write(&["XGROUP", "DESTROY", "s", "g"])], &no_group),
        (vec![transaction(vec![write(&["DEL", "s"]), xadd("s", "9-0", "a")])], &no_group),
    ];
    for (writes, error) in cases {
        let mut machine = Machine::new();
        machine.apply(vec![write(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])]);
        machine.apply(vec![blocking(1, &read), blocking(2, &read)]);
        let outputs = machine.outputs(writes.clone());
        assert_eq!(
            outputs,
            vec![served(1, error.clone()), served(2, error.clone())],
            "after {writes:?}"
        );
        assert!(machine.machine.waiters().is_empty());
    }
}

#[test]
fn blocking_stream_reads_inside_exec_do_not_block() {
    let mut machine = Machine::new();
    machine.apply(vec![write(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])]);
    let reads = transaction(vec![
        blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        blocking(1, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]),
    ]);
    let (replies, outputs) = machine.apply(vec![reads]);
    assert_eq!(replies, vec![Frame::Array(vec![Frame::NullArray, Frame::NullArray])]);
    assert!(outputs.is_empty());
    assert!(machine.machine.waiters().is_empty());
}

#[test]
fn an_unblocked_stream_reader_gets_the_null_array() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])]);
    let outputs = machine.outputs(vec![unblock(1), xadd("s", "1-0", "a")]);
    assert_eq!(outputs, vec![served(1, Frame::NullArray)]);
}

#[test]
fn a_waiter_of_another_kind_does_not_hold_up_those_behind_it() {
    let mut machine = Machine::new();
    machine.apply(vec![blocking(1, &["BZPOPMIN", "k", "0"])]);
    machine.apply(vec![blocking(2, &["XREAD", "BLOCK", "0", "STREAMS", "k", "$"])]);
    machine.apply(vec![blocking(3, &["BLPOP", "k", "0"])]);
    let outputs = machine.outputs(vec![write(&["RPUSH", "k", "a"])]);
    assert_eq!(outputs, vec![served(3, Frame::Array(vec![bulk("k"), bulk("a")]))]);
    machine.apply(vec![write(&["DEL", "k"])]);
    let outputs = machine.outputs(vec![xadd("k", "1-0", "a")]);
    assert_eq!(outputs, vec![served(2, entries("k", &[("1-0", "a")]))]);
    assert_eq!(machine.machine.waiters().len(), 1, "the BZPOPMIN waiter still waits");
}

#[test]
fn a_stream_reader_in_the_waiter_table_keeps_its_bytes() {
    use super::super::Waiters;
    use crate::command::blocking::BlockingPop;
    use crate::command::streams::{ReadFrom, StreamId};
    let mut waiters = Waiters::default();
    let read = BlockingPop::Streams {
        count: 2,
        streams: vec![(Bytes::from_static(b"s"), Ok(ReadFrom::After(StreamId { ms: 5, seq: 1 })))],
    };
    waiters.insert(waiter(3), 0, read, true);
    let group = BlockingPop::StreamGroup {
        group: Bytes::from_static(b"g"),
        consumer: Bytes::from_static(b"c"),
        count: 0,
        no_ack: true,
        streams: vec![(Bytes::from_static(b"s"), ReadFrom::After(StreamId { ms: 7, seq: 0 }))],
    };
    waiters.insert(waiter(4), 0, group, false);
    let bytes = postcard::to_allocvec(&waiters).unwrap();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        hex,
        "020107030005020101730001050101010704000601670163000101017301070000010001730201070301070400",
        "the waiter table's bytes changed");
}
