//! Black-box tests of pub/sub: the real `concord` binary, driven with the `redis` crate and
//! with raw sockets where the exact bytes (RESP3 push frames) are the point. Byte-exact
//! replies of every command are pinned by `tests/differential/pubsub.redis`.

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

fn publish(connection: &mut redis::Connection, channel: &str, message: &str) -> i64 {
    redis::cmd("PUBLISH").arg(channel).arg(message).query(connection).unwrap()
}

#[test]
fn a_publisher_reaches_channel_and_pattern_subscribers_and_counts_them() {
    let node = Node::start_concord();
    let mut first = node.client();
    let mut second = node.client();
    let mut publisher = node.client();
    let mut by_channel = first.as_pubsub();
    by_channel.subscribe("news").unwrap();
    let mut by_pattern = second.as_pubsub();
    by_pattern.psubscribe("n*").unwrap();
    assert_eq!(publish(&mut publisher, "news", "hello"), 2, "two subscribers received it");
    assert_eq!(publish(&mut publisher, "nothing", "x"), 1, "only the pattern matches");
    assert_eq!(publish(&mut publisher, "other", "y"), 0);

    by_channel.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    by_pattern.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let message = by_channel.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "news");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = by_pattern.get_message().unwrap();
    assert_eq!(message.get_pattern::<String>().unwrap(), "n*");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = by_pattern.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "nothing");
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_other_commands() {
    let node = Node::start_concord();
    let mut subscriber = node.raw();
    subscriber.write_all(b"HELLO 3\r\n").unwrap();
    let mut greeting = [0u8; 3];
    subscriber.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"%7\r");
    // Skip the rest of HELLO's map: read until the final `*0\r\n` (modules).
    let mut tail = Vec::new();
    while !tail.ends_with(b"*0\r\n") {
        let mut byte = [0u8; 1];
        subscriber.read_exact(&mut byte).unwrap();
        tail.push(byte[0]);
    }
    subscriber.write_all(b"SUBSCRIBE chat\r\n").unwrap();
    expect_bytes(&mut subscriber, b">3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n");
    let mut publisher = node.client();
    assert_eq!(publish(&mut publisher, "chat", "hi"), 1);
    expect_bytes(&mut subscriber, b">3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n");
    subscriber.write_all(b"SET k v\r\nGET k\r\n").unwrap();
    expect_bytes(&mut subscriber, b"+OK\r\n$1\r\nv\r\n");
}

#[test]
fn a_resp2_subscriber_may_only_manage_subscriptions_and_ping() {
    let node = Node::start_concord();
    let mut subscriber = node.raw();
    subscriber.write_all(b"SUBSCRIBE a\r\nGET x\r\nPING\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    expect_bytes(
        &mut subscriber,
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
          RESET are allowed in this context\r\n",
    );
    expect_bytes(&mut subscriber, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn subscriptions_over_the_bound_get_an_error() {
    let node = Node::start_concord_with(&[], Some("subscriptions-max = 2\n"));
    let mut subscriber = node.raw();
    subscriber.write_all(b"SUBSCRIBE a b c\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    expect_bytes(
        &mut subscriber,
        b"-ERR this connection has reached subscriptions-max (2) channel and pattern \
          subscriptions\r\n",
    );
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_and_others_go_on() {
    let node = Node::start_concord_with(&[], Some("subscriber-queue-messages-max = 4\n"));
    let mut slow = node.raw();
    slow.write_all(b"SUBSCRIBE flood\r\n").unwrap();
    expect_bytes(&mut slow, b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n");
    let mut publisher = node.client();
    // Large messages fill the socket buffers, then the bounded queue, which cuts it off.
    let message = "x".repeat(256 * 1024);
    let deadline = Instant::now() + Duration::from_secs(20);
    while publish(&mut publisher, "flood", &message) == 1 {
        assert!(Instant::now() < deadline, "the slow subscriber was never cut off");
    }
    let mut other = node.client();
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG", "other clients are still served");
    // The slow subscriber's connection ends once it drains what was sent.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match slow.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
}
