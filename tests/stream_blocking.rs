//! Black-box tests of blocking stream reads (XREAD and XREADGROUP with BLOCK): the real
//! `concord` binary beside redis-server 7.0, driven over raw sockets, so that each reply is
//! compared byte for byte with Redis's. They mirror these cases of Redis's
//! `tests/unit/type/stream.tcl` and `stream-cgroups.tcl`: "Blocking XREAD waiting new data",
//! "Blocking XREAD waiting old data", "Blocking XREAD will not reply with an empty array",
//! "XREAD: XADD + DEL should not awake client", "XREAD with same stream name multiple times
//! should work", "XREAD + multiple XADD inside transaction", "Blocking XREADGROUP will not
//! reply with an empty array", "Blocking XREADGROUP: key deleted", "Blocking XREADGROUP: key
//! type changed with SET", "Blocking XREADGROUP: flushed DB", "Blocking XREADGROUP for
//! stream that ran dry (issue #5299)", "XREADGROUP will not report data on empty history",
//! "Blocking XREADGROUP: ... XGROUP DESTROY" and "XREAD/XREADGROUP BLOCK from a script".
//!
//! A waiter is known to be blocked when `INFO clients` says so; no test asserts a duration.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::servers::ServerProcess as Node;

const HANG_GUARD: Duration = Duration::from_secs(20);

fn request(words: &[&str]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        bytes.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    bytes
}

/// Reads one whole reply (any RESP2 or RESP3 shape) and returns its bytes.
fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    read_value(stream, &mut bytes);
    bytes
}

fn read_line(stream: &mut TcpStream, bytes: &mut Vec<u8>) -> String {
    let start = bytes.len();
    while !bytes[start..].ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).expect("the server answers");
        bytes.push(byte[0]);
    }
    String::from_utf8_lossy(&bytes[start + 1..bytes.len() - 2]).into_owned()
}

fn read_value(stream: &mut TcpStream, bytes: &mut Vec<u8>) {
    let start = bytes.len();
    let line = read_line(stream, bytes);
    let length: i64 = line.parse().unwrap_or(-1);
    match bytes[start] {
        b'$' | b'=' | b'!' if length >= 0 => {
            let mut body = vec![0; length as usize + 2];
            stream.read_exact(&mut body).expect("the server answers");
            bytes.extend_from_slice(&body);
        }
        b'*' | b'~' | b'>' => (0..length.max(0)).for_each(|_| read_value(stream, bytes)),
        b'%' => (0..length.max(0) * 2).for_each(|_| read_value(stream, bytes)),
        _ => {}
    }
}

/// Sends one request and returns its reply.
fn call(stream: &mut TcpStream, words: &[&str]) -> String {
    stream.write_all(&request(words)).unwrap();
    String::from_utf8_lossy(&read_reply(stream)).into_owned()
}

fn blocked_clients(stream: &mut TcpStream) -> u64 {
    let info = call(stream, &["INFO", "clients"]);
    info.lines()
        .find_map(|line| line.strip_prefix("blocked_clients:")?.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Waits until `count` clients are blocked.
fn wait_for_blocked(control: &mut TcpStream, count: u64) {
    let started = Instant::now();
    while blocked_clients(control) != count {
        assert!(started.elapsed() < HANG_GUARD, "blocked_clients never became {count}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One step of a scenario, on the numbered connection: a call and its reply; a blocking
/// command sent, waited on until the server counts it blocked; or the reply a blocked
/// connection was given, read.
enum Step<'a> {
    Call(usize, &'a [&'a str]),
    /// A call whose reply differs between servers by design (HELLO's client id): not kept.
    Quiet(usize, &'a [&'a str]),
    Block(usize, &'a [&'a str]),
    Reply(usize),
}

/// Runs a scenario on one server from an empty keyspace and returns the transcript of its
/// replies.
fn run(node: &Node, steps: &[Step]) -> Vec<String> {
    let mut control = node.raw();
    control.set_read_timeout(Some(HANG_GUARD)).unwrap();
    call(&mut control, &["FLUSHALL"]);
    let mut connections: Vec<TcpStream> = Vec::new();
    let mut blocked = 0;
    let mut transcript = Vec::new();
    for step in steps {
        let index = match step {
            Step::Call(index, _)
            | Step::Quiet(index, _)
            | Step::Block(index, _)
            | Step::Reply(index) => *index,
        };
        while connections.len() <= index {
            let connection = node.raw();
            connection.set_read_timeout(Some(HANG_GUARD)).unwrap();
            connections.push(connection);
        }
        match step {
            Step::Call(_, words) => {
                let reply = call(&mut connections[index], words);
                transcript.push(format!("{} -> {reply:?}", words.join(" ")));
            }
            Step::Quiet(_, words) => {
                call(&mut connections[index], words);
            }
            Step::Block(_, words) => {
                connections[index].write_all(&request(words)).unwrap();
                blocked += 1;
                wait_for_blocked(&mut control, blocked);
            }
            Step::Reply(_) => {
                let reply =
                    String::from_utf8_lossy(&read_reply(&mut connections[index])).into_owned();
                blocked -= 1;
                transcript.push(format!("client {index} was answered {reply:?}"));
            }
        }
    }
    transcript
}

/// Runs the scenario on redis-server and on Concord and checks the transcripts are equal.
#[track_caller]
fn same_as_redis(steps: &[Step]) {
    let redis = Node::start_redis();
    let concord = Node::start_concord();
    let expected = run(&redis, steps);
    let got = run(&concord, steps);
    assert_eq!(got, expected, "Concord (left) and redis-server (right) differ");
}

#[test]
fn xread_blocks_until_an_xadd_after_its_id_and_dollar_is_the_last_id_when_it_blocked() {
    use Step::*;
    same_as_redis(&[
        Call(0, &["XADD", "s", "1-0", "old", "x"]),
        Block(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Block(2, &["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "other", "s", "$", "100-0"]),
        Call(0, &["XADD", "s", "2-0", "new", "y"]),
        Reply(1),
        Call(0, &["XADD", "other", "5-0", "a", "b"]),
        Reply(2),
        Quiet(0, &["HELLO", "3"]),
        Block(0, &["XREAD", "BLOCK", "0", "STREAMS", "s", "s", "$", "$"]),
        Call(3, &["MULTI"]),
        Call(3, &["XADD", "s", "3-0", "a", "1"]),
        Call(3, &["XADD", "s", "4-0", "a", "2"]),
        Call(3, &["EXEC"]),
        Reply(0),
    ]);
}

#[test]
fn xread_is_not_woken_by_a_delete_nor_a_type_change_and_times_out_with_null() {
    use Step::*;
    same_as_redis(&[
        Call(0, &["XADD", "s", "5-0", "a", "b"]),
        Block(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Call(0, &["DEL", "s"]),
        Call(0, &["SET", "s", "string"]),
        Call(0, &["DEL", "s"]),
        Call(0, &["XADD", "s", "3-0", "a", "b"]),
        Call(0, &["XADD", "s", "6-0", "c", "d"]),
        Reply(1),
        Call(2, &["XREAD", "BLOCK", "1", "STREAMS", "s", "$"]),
        Quiet(2, &["HELLO", "3"]),
        Call(2, &["XREAD", "BLOCK", "1", "STREAMS", "s", "$"]),
        Call(2, &["MULTI"]),
        Call(2, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Call(2, &["EXEC"]),
        Call(2, &["EVAL", "return redis.call('xread','BLOCK','0','STREAMS','s','0')", "0"]),
        Call(2, &["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"]),
        Call(2, &["XREAD", "BLOCK", "0", "STREAMS", "s", "bad"]),
    ]);
}

#[test]
fn xreadgroup_readers_are_served_in_order_with_the_pel_kept() {
    use Step::*;
    same_as_redis(&[
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, &["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">"]),
        Block(2, &["XREADGROUP", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">"]),
        Block(
            3,
            &["XREADGROUP", "GROUP", "g", "carol", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"],
        ),
        Call(0, &["XINFO", "CONSUMERS", "s", "g"]),
        Call(0, &["XADD", "s", "1-0", "a", "1"]),
        Reply(1),
        Call(0, &["XADD", "s", "2-0", "a", "2"]),
        Reply(2),
        Call(0, &["XADD", "s", "3-0", "a", "3"]),
        Reply(3),
        Call(0, &["XPENDING", "s", "g"]),
        Call(0, &["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", "0"]),
        Block(
            1,
            &["XREADGROUP", "GROUP", "g", "dave", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", ">"],
        ),
        // Moving the group back wakes no one: the reader waits for an entry added since it
        // blocked, then gets what the group has not delivered, from 1-0.
        Call(0, &["XGROUP", "SETID", "s", "g", "0"]),
        Call(0, &["XADD", "s", "4-0", "a", "4"]),
        Reply(1),
        Call(
            0,
            &[
                "EVAL",
                "return redis.call('XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS','s','>')",
                "0",
            ],
        ),
    ]);
}

#[test]
fn xreadgroup_readers_are_woken_with_an_error_when_the_stream_or_group_goes() {
    use Step::*;
    let read = &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"][..];
    same_as_redis(&[
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, read),
        Call(0, &["DEL", "s"]),
        Reply(1),
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, read),
        Call(0, &["SET", "s", "x"]),
        Reply(1),
        Call(0, &["DEL", "s"]),
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, read),
        Call(0, &["FLUSHALL"]),
        Reply(1),
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, read),
        Call(0, &["XGROUP", "DESTROY", "s", "g"]),
        Reply(1),
        Call(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, read),
        Call(0, &["MULTI"]),
        Call(0, &["DEL", "s"]),
        Call(0, &["XADD", "s", "1-0", "a", "b"]),
        Call(0, &["EXEC"]),
        Reply(1),
    ]);
}

#[test]
fn client_unblock_ends_a_blocked_stream_read_as_a_timeout_or_an_error() {
    for node in [Node::start_redis(), Node::start_concord()] {
        let mut control = node.raw();
        let mut answers = Vec::new();
        for how in ["TIMEOUT", "ERROR"] {
            let mut reader = node.raw();
            reader.set_read_timeout(Some(HANG_GUARD)).unwrap();
            let id = call(&mut reader, &["CLIENT", "ID"]);
            let id = id.trim_start_matches(':').trim_end().to_string();
            reader.write_all(&request(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])).unwrap();
            wait_for_blocked(&mut control, 1);
            assert_eq!(call(&mut control, &["CLIENT", "UNBLOCK", &id, how]), ":1\r\n");
            answers.push(String::from_utf8_lossy(&read_reply(&mut reader)).into_owned());
        }
        assert_eq!(
            answers,
            ["*-1\r\n", "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"],
            "on {:?}",
            node.kind()
        );
    }
}

#[test]
fn a_reader_that_disconnects_while_blocked_leaves_no_waiter_and_takes_no_entry() {
    let node = Node::start_concord();
    let mut control = node.raw();
    call(&mut control, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let read = ["XREADGROUP", "GROUP", "g", "gone", "BLOCK", "0", "STREAMS", "s", ">"];
    let mut reader = node.raw();
    reader.write_all(&request(&read)).unwrap();
    wait_for_blocked(&mut control, 1);
    drop(reader);
    wait_for_blocked(&mut control, 0);
    call(&mut control, &["XADD", "s", "1-0", "a", "b"]);
    assert_eq!(
        call(&mut control, &["XPENDING", "s", "g"]),
        "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
        "no entry went to the reader that left"
    );
    assert_eq!(call(&mut control, &["XINFO", "CONSUMERS", "s", "g"]), "*0\r\n");
    let mut next = node.raw();
    let served = call(&mut next, &["XREADGROUP", "GROUP", "g", "here", "STREAMS", "s", ">"]);
    assert!(served.contains("1-0"), "the next reader gets the entry: {served:?}");
}
