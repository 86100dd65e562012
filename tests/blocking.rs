//! Black-box tests of the blocking pops: the real `concord` binary, driven with the `redis`
//! crate and raw sockets. Byte-exact replies are pinned by `tests/differential/blocking.redis`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::servers::ServerProcess as Node;

/// Reads until `expected` bytes arrived, and checks they are exactly these.
#[track_caller]
fn expect_bytes(stream: &mut TcpStream, expected: &[u8]) {
    let mut received = vec![0; expected.len()];
    stream.read_exact(&mut received).unwrap_or_else(|error| {
        panic!("expected {:?}, read failed: {error}", String::from_utf8_lossy(expected))
    });
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(expected),
        "expected the left bytes, got the right"
    );
}

/// Sends a command without waiting for its reply, then gives the node time to apply it.
fn send_and_settle(stream: &mut TcpStream, request: &[u8]) {
    stream.write_all(request).unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn blpop_is_woken_by_an_lpush_from_another_connection() {
    let node = Node::start_concord();
    let mut waiting = node.raw();
    send_and_settle(&mut waiting, b"BLPOP jobs 0\r\n");
    let mut pusher = node.client();
    let length: i64 = redis::cmd("LPUSH").arg("jobs").arg("job-1").query(&mut pusher).unwrap();
    assert_eq!(length, 1, "LPUSH replies with the length before the waiter is served");
    expect_bytes(&mut waiting, b"*2\r\n$4\r\njobs\r\n$5\r\njob-1\r\n");
    let left: i64 = redis::cmd("LLEN").arg("jobs").query(&mut pusher).unwrap();
    assert_eq!(left, 0, "the waiter took the element");
}

#[test]
fn blpop_times_out_with_the_null_array() {
    let node = Node::start_concord();
    let mut client = node.client();
    let started = Instant::now();
    let reply: redis::Value =
        redis::cmd("BLPOP").arg("nothing").arg("0.2").query(&mut client).unwrap();
    assert_eq!(reply, redis::Value::Nil);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "returned after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "returned only after {elapsed:?}");
    let mut raw = node.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let mut tail = Vec::new();
    while !tail.ends_with(b"*0\r\n") {
        let mut byte = [0u8; 1];
        raw.read_exact(&mut byte).unwrap();
        tail.push(byte[0]);
    }
    raw.write_all(b"BZPOPMIN nothing 0.05\r\n").unwrap();
    expect_bytes(&mut raw, b"_\r\n");
}

#[test]
fn two_waiters_are_served_in_the_order_they_blocked() {
    let node = Node::start_concord();
    let mut first = node.raw();
    send_and_settle(&mut first, b"BLPOP line 0\r\n");
    let mut second = node.raw();
    send_and_settle(&mut second, b"BLPOP line 0\r\n");
    let mut pusher = node.client();
    let _: i64 = redis::cmd("RPUSH").arg("line").arg("a").query(&mut pusher).unwrap();
    expect_bytes(&mut first, b"*2\r\n$4\r\nline\r\n$1\r\na\r\n");
    let _: i64 = redis::cmd("RPUSH").arg("line").arg("b").query(&mut pusher).unwrap();
    expect_bytes(&mut second, b"*2\r\n$4\r\nline\r\n$1\r\nb\r\n");
}

#[test]
fn a_client_that_disconnects_while_blocked_does_not_steal_an_element() {
    let node = Node::start_concord();
    let mut gone = node.raw();
    send_and_settle(&mut gone, b"BLPOP box 0\r\n");
    drop(gone);
    std::thread::sleep(Duration::from_millis(200));
    let mut client = node.client();
    let _: i64 = redis::cmd("RPUSH").arg("box").arg("kept").query(&mut client).unwrap();
    let element: Option<String> = redis::cmd("LPOP").arg("box").query(&mut client).unwrap();
    assert_eq!(element.as_deref(), Some("kept"), "the element stayed in the list");
}

#[test]
fn requests_pipelined_after_a_blocking_pop_wait_for_it() {
    let node = Node::start_concord();
    let mut waiting = node.raw();
    send_and_settle(&mut waiting, b"BLPOP later 0\r\nPING\r\n");
    let mut pusher = node.client();
    let _: i64 = redis::cmd("RPUSH").arg("later").arg("v").query(&mut pusher).unwrap();
    expect_bytes(&mut waiting, b"*2\r\n$5\r\nlater\r\n$1\r\nv\r\n+PONG\r\n");
}
